//! A certificate type's configuration: the policy its certificates must pass, its lead time,
//! whether verifiers keep the previous certificate, and its rollover policy.

use std::collections::BTreeSet;

use time::Duration;

use crate::policy::cert_type::CertType;
use crate::policy::error::RolloverError;
use crate::policy::rollover::RolloverPolicy;
use crate::validate::{KeyRule, Policy, SubjectRule, UsageRule};

/// What a certificate type requires, and how its rolls behave.
///
/// The defaults ([`TypeConfig::for_type`]): every type needs a private key and passes
/// [`KeyRule::default`] (RSA, at least 2048 bits) and [`UsageRule::default`]; OAuthTokenIssuer,
/// Default and WebServicesInternal also name the store's SIP domain; OAuthTokenIssuer rolls take
/// effect at least 24 hours before the current certificate expires and AudioVideoAuthentication
/// rolls 8 hours before, and for both verifiers keep accepting the previous certificate. The
/// rollover policy is [`RolloverPolicy::lync`]; for the types whose verifiers drop the previous
/// certificate at the roll, its token lifetime is zero.
///
/// Built from a type's defaults and changed with by-value setters; read with the `get_`
/// methods. [`TypeConfig::check`] says whether it can keep its promises (the store checks it
/// when it is configured).
///
/// ```
/// use certslot::{CertType, RolloverPolicy, TypeConfig};
///
/// let config = TypeConfig::for_type(&CertType::OAuthTokenIssuer, None)
///     .require_staged(true)
///     .rollover(RolloverPolicy::exchange());
/// assert!(config.get_require_staged());
/// assert_eq!(config.get_lead_time(), time::Duration::hours(24));
/// assert_eq!(config.check(), Ok(()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TypeConfig {
    policy: Policy,
    lead_time: Duration,
    accept_previous: bool,
    require_private_key: bool,
    require_staged: bool,
    require_fetched_by: BTreeSet<String>,
    rollover: RolloverPolicy,
}

impl TypeConfig {
    /// The defaults of `cert_type` (see the type's documentation), with the SIP domain rule for
    /// the types that must name it when `sip_domain` is given.
    pub fn for_type(cert_type: &CertType, sip_domain: Option<&SubjectRule>) -> Self {
        let mut policy = Policy::new().with_key(KeyRule::default()).with_usage(UsageRule::default());
        if let (
            Some(subject),
            CertType::OAuthTokenIssuer | CertType::Default | CertType::WebServicesInternal,
        ) = (sip_domain, cert_type)
        {
            policy = policy.with_subject(subject.clone());
        }
        Self {
            policy,
            lead_time: cert_type.default_lead_time(),
            accept_previous: cert_type.default_accept_previous(),
            require_private_key: true,
            require_staged: false,
            require_fetched_by: BTreeSet::new(),
            rollover: RolloverPolicy::for_type(cert_type),
        }
    }

    /// The policy a certificate must pass to be set or rolled (checked at the effective date).
    pub fn policy(self, policy: Policy) -> Self {
        Self { policy, ..self }
    }

    /// How long before the current certificate expires a roll must take effect, and how long
    /// the new certificate must stay valid after it.
    pub fn lead_time(self, lead_time: Duration) -> Self {
        Self { lead_time, ..self }
    }

    /// Whether verifiers still accept the previous certificate after a roll.
    pub fn accept_previous(self, accept_previous: bool) -> Self {
        Self { accept_previous, ..self }
    }

    /// Whether the store must hold the certificate's private key (servers sign with it).
    pub fn require_private_key(self, require_private_key: bool) -> Self {
        Self { require_private_key, ..self }
    }

    /// Promote a pending roll only when every server of the scope reports holding the pending
    /// certificate; until then the roll is reported as blocked.
    pub fn require_staged(self, require_staged: bool) -> Self {
        Self { require_staged, ..self }
    }

    /// Promote a due roll only once each of `partners` (names of the store's partners, any case)
    /// has fetched a key set that announces the pending certificate
    /// ([`Store::record_partner_fetch`](crate::Store::record_partner_fetch)); until then the roll
    /// waits, as for staging. At the roll's last compliant instant (the current certificate's
    /// end less the type's hold, or the pending certificate's own renewal deadline if sooner:
    /// [`Store::partner_gate_yields_at`](crate::Store::partner_gate_yields_at)) it rolls whoever
    /// has not fetched ([`Event::PartnerGateYielded`](crate::Event::PartnerGateYielded)), so a
    /// partner that never fetches cannot make a certificate expire or a renewal late. Empty (the
    /// default): no partner gate.
    pub fn require_fetched_by<S: AsRef<str>>(self, partners: impl IntoIterator<Item = S>) -> Self {
        let require_fetched_by = partners.into_iter().map(|p| p.as_ref().to_ascii_lowercase()).collect();
        Self { require_fetched_by, ..self }
    }

    /// When the next certificate is obtained, announced and rolled in, and how long the previous
    /// one stays trusted.
    pub fn rollover(self, rollover: RolloverPolicy) -> Self {
        Self { rollover, ..self }
    }

    /// The policy ([`TypeConfig::policy`]).
    pub fn get_policy(&self) -> &Policy {
        &self.policy
    }

    /// The lead time ([`TypeConfig::lead_time`]).
    pub fn get_lead_time(&self) -> Duration {
        self.lead_time
    }

    /// Whether verifiers accept the previous certificate ([`TypeConfig::accept_previous`]).
    pub fn get_accept_previous(&self) -> bool {
        self.accept_previous
    }

    /// Whether the private key is required ([`TypeConfig::require_private_key`]).
    pub fn get_require_private_key(&self) -> bool {
        self.require_private_key
    }

    /// Whether rolls wait for every server ([`TypeConfig::require_staged`]).
    pub fn get_require_staged(&self) -> bool {
        self.require_staged
    }

    /// The partners rolls wait for ([`TypeConfig::require_fetched_by`]), in name order.
    pub fn get_require_fetched_by(&self) -> &BTreeSet<String> {
        &self.require_fetched_by
    }

    /// The rollover policy ([`TypeConfig::rollover`]).
    pub fn get_rollover(&self) -> RolloverPolicy {
        self.rollover
    }

    /// How long the outgoing certificate must stay valid, and trusted, after a roll: the lead
    /// time or the token lifetime, whichever is longer ([`RolloverPolicy::hold`]).
    pub fn hold(&self) -> Duration {
        self.rollover.hold(self.lead_time)
    }

    /// Checks that the configuration can keep the rollover promises: the rollover policy
    /// against the lead time ([`RolloverPolicy::check`]), and, where verifiers drop the previous
    /// certificate at the roll, no token outlives it.
    ///
    /// # Errors
    /// The first [`RolloverError`] found.
    pub fn check(&self) -> Result<(), RolloverError> {
        self.rollover.check(self.lead_time)?;
        if !self.accept_previous && self.rollover.get_token_lifetime().is_positive() {
            return Err(RolloverError::PreviousNotAccepted {
                token_lifetime: self.rollover.get_token_lifetime(),
            });
        }
        Ok(())
    }
}
