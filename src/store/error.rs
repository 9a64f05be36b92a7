//! Why a store or slot operation was refused.

use time::{Duration, OffsetDateTime};

use crate::policy::{CertType, NameError, RolloverError, Scope};
use crate::validate::{HumanTime, Violation};
use crate::x509::Thumbprint;

/// Why a store or slot operation was refused. A refused operation changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// A name (type, scope, site, pool, server) that cannot be used.
    #[error("invalid {kind} name {name:?}")]
    InvalidName {
        /// What the name names.
        kind: &'static str,
        /// The name as given.
        name: String,
    },
    /// A type configuration whose rollover policy cannot keep its promises.
    #[error("the configuration of {cert_type}: {source}")]
    InvalidRollover {
        /// The type.
        cert_type: CertType,
        /// Why.
        #[source]
        source: RolloverError,
    },
    /// A roll's effective date leaves verifiers less than the type's publish-ahead time to
    /// learn the certificate ([`RolloverPolicy::publish_ahead`](crate::RolloverPolicy::publish_ahead)).
    #[error(
        "{cert_type}: a roll effective {} scheduled at {} gives verifiers less than the publish-ahead time {publish_ahead}",
        HumanTime(*effective_at),
        HumanTime(*at)
    )]
    TooLittleNotice {
        /// The type.
        cert_type: CertType,
        /// The effective date asked for.
        effective_at: OffsetDateTime,
        /// The instant of the call.
        at: OffsetDateTime,
        /// The type's publish-ahead time.
        publish_ahead: Duration,
    },
    /// The slot has a roll pending already (cancel it, or let it happen, first).
    #[error("{cert_type} at {scope}: a roll of {thumbprint} is pending already (effective {})", HumanTime(*effective_at))]
    RollPending {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// Its effective date.
        effective_at: OffsetDateTime,
    },
    /// A renewal of the slot is in progress already.
    #[error("{cert_type} at {scope}: a renewal is in progress already (begun {})", HumanTime(*started_at))]
    RenewalInProgress {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// When it began.
        started_at: OffsetDateTime,
    },
    /// No renewal of the slot is in progress.
    #[error("{cert_type} at {scope}: no renewal in progress")]
    NoRenewalRequest {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// The renewal renews a certificate that is no longer the slot's current one (another was set
    /// or rolled in meanwhile): cancel it.
    #[error("{cert_type} at {scope}: the renewal renews {renews}, but {current} is current now")]
    RenewalStale {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate the renewal was begun for.
        renews: Thumbprint,
        /// The slot's current certificate.
        current: Thumbprint,
    },
    /// No certificate with this thumbprint is in the store's inventory.
    #[error("no certificate {thumbprint} in the store")]
    UnknownCertificate {
        /// The thumbprint asked for.
        thumbprint: Thumbprint,
    },
    /// The site, pool or server is not in the topology.
    #[error("unknown {kind} {name}")]
    UnknownTopology {
        /// `"site"`, `"pool"` or `"server"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The name is already in the topology with another parent.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// `"site"`, `"pool"` or `"server"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// An operation needs a current certificate and the slot has none.
    #[error("no current {cert_type} certificate at {scope}")]
    NoCurrent {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// An operation needs a previous certificate and the slot has none.
    #[error("no previous {cert_type} certificate at {scope}")]
    NoPrevious {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// No roll is pending.
    #[error("no {cert_type} roll is pending at {scope}")]
    NoPendingRoll {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// The certificate is already the current one.
    #[error("{thumbprint} is already the current {cert_type} certificate at {scope}")]
    AlreadyCurrent {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
    },
    /// The effective date is before the instant of the request.
    #[error("effective date {} is before {}", HumanTime(*effective_at), HumanTime(*at))]
    EffectiveInPast {
        /// The requested effective date.
        effective_at: OffsetDateTime,
        /// The instant of the request.
        at: OffsetDateTime,
    },
    /// The certificate is not valid at the effective date.
    #[error("{thumbprint} is valid {} to {}, not at {}", HumanTime(*not_before), HumanTime(*not_after), HumanTime(*effective_at))]
    NotValidAtEffective {
        /// The certificate.
        thumbprint: Thumbprint,
        /// The effective date.
        effective_at: OffsetDateTime,
        /// Its `notBefore`.
        not_before: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
    },
    /// The certificate expires within the type's lead time after the effective date.
    #[error("{thumbprint} expires at {}, within the lead time of {lead_time} after {}", HumanTime(*not_after), HumanTime(*effective_at))]
    ExpiresWithinLeadTime {
        /// The certificate.
        thumbprint: Thumbprint,
        /// The effective date.
        effective_at: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
        /// The lead time.
        lead_time: Duration,
    },
    /// The current certificate would expire (or enter its lead time) before the roll takes effect.
    #[error(
        "the current certificate {current} expires at {}: a roll must take effect by {}, not {}", HumanTime(*not_after), HumanTime(*latest), HumanTime(*effective_at)
    )]
    CurrentExpiresFirst {
        /// The current certificate.
        current: Thumbprint,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
        /// The latest effective date the lead time allows (`not_after - lead_time`).
        latest: OffsetDateTime,
        /// The requested effective date.
        effective_at: OffsetDateTime,
    },
    /// The certificate breaks the type's policy.
    #[error("{thumbprint} breaks the {cert_type} policy: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PolicyViolations {
        /// The type.
        cert_type: CertType,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// The type needs the private key and the store does not hold it.
    #[error("{cert_type} needs the private key of {thumbprint}, which the store does not hold")]
    NoPrivateKey {
        /// The type.
        cert_type: CertType,
        /// The certificate.
        thumbprint: Thumbprint,
    },
    /// The previous certificate is no longer valid.
    #[error("the previous certificate {thumbprint} is not valid at {} (valid {} to {})", HumanTime(*at), HumanTime(*not_before), HumanTime(*not_after))]
    PreviousNotValid {
        /// The previous certificate.
        thumbprint: Thumbprint,
        /// The instant of the request.
        at: OffsetDateTime,
        /// Its `notBefore`.
        not_before: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
    },
    /// An instant earlier than one the store has already seen.
    #[error("{} is earlier than {}, which the store has already seen", HumanTime(*at), HumanTime(*last))]
    TimeWentBackwards {
        /// The instant given.
        at: OffsetDateTime,
        /// The latest instant the store has seen.
        last: OffsetDateTime,
    },
    /// A certificate still referenced by a slot cannot be removed from the inventory.
    #[error("{thumbprint} is still assigned ({cert_type} at {scope})")]
    StillAssigned {
        /// The certificate.
        thumbprint: Thumbprint,
        /// One type referencing it.
        cert_type: CertType,
        /// Its scope.
        scope: Scope,
    },
    /// No type given to a multi-type call.
    #[error("no certificate type given")]
    NoType,
    /// A PFX given to [`Store::add_pfx`](crate::Store::add_pfx) holds no private key.
    #[error(
        "the PFX holds no private key ({certificates} certificates); add certificates alone with add_certificate"
    )]
    PfxWithoutKey {
        /// How many certificates it holds.
        certificates: usize,
    },
    /// A PFX given to [`Store::add_pfx`](crate::Store::add_pfx) has a private key but no
    /// certificate for it.
    #[error("the PFX's private key has no certificate ({certificates} certificates)")]
    PfxWithoutLeaf {
        /// How many certificates it holds.
        certificates: usize,
    },
    /// The store has as many of something as its ids can count.
    #[error("the store cannot hold more {what} (limit {limit})")]
    CapacityExceeded {
        /// What is full: `"slots"`, `"scopes"`, `"certificate types"`, `"certificates"`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// A site or pool cannot be removed while a slot at its scope holds a certificate.
    #[error("{scope} still has a {cert_type} assignment")]
    ScopeInUse {
        /// A type assigned there.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// A partner cannot be removed while a type's rolls wait for it.
    #[error("partner {partner} cannot be removed: {cert_type} rolls wait for it")]
    PartnerRequired {
        /// The partner.
        partner: String,
        /// A type whose rolls wait for it.
        cert_type: CertType,
    },
    /// A site or pool cannot be removed while pools or servers are in it.
    #[error("{kind} {name} still has members: {}", members.join(", "))]
    HasMembers {
        /// `"site"` or `"pool"`.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The pools (of a site) or servers (of a pool) in it.
        members: Vec<String>,
    },
}

impl From<NameError> for SlotError {
    fn from(e: NameError) -> Self {
        Self::InvalidName { kind: e.kind, name: e.name }
    }
}
