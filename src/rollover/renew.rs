//! Renewal: the next certificate obtained, checked, added and rolled in at the planned effective
//! date, all or nothing.
//!
//! In two halves around the store's compare-and-swap when the CA answers later (ACME, a person
//! approving requests): [`start_renewal`] makes the request on a key the caller made and keeps
//! both in the slot ([`Store::begin_renewal`]); [`finish_renewal`] pairs the CA's answer with that
//! key, checks it and rolls it in, the request gone in the same operation. Between the two the
//! state holds everything a driver needs to resume after a failover: the key (sealed with the
//! state's keys), the request, and the issuer's order ([`Store::set_renewal_order`]).
//!
//! In one call with an [`Issuer`] that answers at once ([`renew`]: certslot's
//! [`SelfSignedIssuer`](crate::obtain::SelfSignedIssuer), an HSM): the same two halves back to
//! back, with nothing kept in between.

use time::OffsetDateTime;

use crate::obtain::{
    CertificateRequest, IssueRequest, Issuer, KeySpec, RequestError, RequestTemplate, complete_request,
    complete_with_certificates,
};
use crate::pfx::{Pfx, PrivateKey};
use crate::policy::{CertType, Milestones, Scope, TypeConfig};
use crate::store::{Outcome, RenewalRequest, RollOptions, SlotError, Store};
use crate::x509::{FactError, KeyAlgorithm, Thumbprint};

/// What a renewal did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renewal {
    /// The new certificate.
    pub thumbprint: Thumbprint,
    /// When it rolls in.
    pub effective_at: OffsetDateTime,
    /// True when it rolls in sooner than `publish_ahead` from the renewal (the renewal came
    /// late, past [`Action::Renew`](crate::rollover::Action::Renew)'s `by`).
    pub shortened: bool,
    /// The roll's events and the store's revision.
    pub outcome: Outcome,
}

/// What [`start_renewal`] did: the request to send the CA, and the store's revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartedRenewal {
    /// The PKCS #10 request, signed with the renewal's key.
    pub request: CertificateRequest,
    /// The effective date a certificate obtained now would get (the date is fixed when the
    /// renewal finishes).
    pub effective_at: OffsetDateTime,
    /// The store's revision (no events).
    pub outcome: Outcome,
}

/// How a renewal treats the planner's schedule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RenewOptions {
    force: bool,
}

impl RenewOptions {
    /// Renew now, before the renewal window opens or outside the type's renewal window (the
    /// CSS-Exchange script's "force" case: a certificate to replace early). The effective date
    /// is still planned (publish-ahead, the last compliant roll, the window).
    pub const fn force(self) -> Self {
        Self { force: true }
    }

    /// Whether the renewal is forced.
    pub const fn get_force(&self) -> bool {
        self.force
    }
}

/// Why a renewal was refused. Nothing changes then.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewError {
    /// The slot has no current certificate to renew (set one first).
    #[error("no current {cert_type} certificate at {scope} to renew")]
    NoCurrent {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// A roll is pending already.
    #[error("a roll of {thumbprint} is pending already (effective {})", crate::validate::HumanTime(*effective_at))]
    AlreadyPending {
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// Its effective date.
        effective_at: OffsetDateTime,
    },
    /// The renewal window has not opened ([`RenewOptions::force`] renews anyway).
    #[error("the renewal window opens at {}", crate::validate::HumanTime(*opens_at))]
    NotDue {
        /// When it opens.
        opens_at: OffsetDateTime,
    },
    /// The type renews only inside its renewal window, which is closed
    /// ([`RenewOptions::force`] renews anyway).
    #[error("outside the type's renewal window; it opens at {}", crate::validate::HumanTime(*opens_at))]
    OutsideWindow {
        /// When it opens next.
        opens_at: OffsetDateTime,
    },
    /// The current certificate's public key cannot be read.
    #[error("the current certificate's public key cannot be read: {0}")]
    UnreadableKey(#[source] FactError),
    /// The current certificate's key is of a kind certslot cannot ask for.
    #[error("the current certificate's key ({algorithm:?}) cannot be renewed by certslot")]
    UnsupportedKey {
        /// Its algorithm.
        algorithm: KeyAlgorithm,
    },
    /// The key given for the request is not of the current certificate's kind.
    #[error("the renewal asks for a key like the current certificate's ({expected:?})")]
    WrongKey {
        /// The kind asked for.
        expected: KeySpec,
    },
    /// The current certificate cannot be described as a request template.
    #[error("the current certificate cannot be a template: {0}")]
    Template(#[source] RequestError),
    /// The request was refused before it was signed (the type's policy, the key).
    #[error("the request was refused: {0}")]
    Request(#[source] RequestError),
    /// The issuer failed.
    #[error("the issuer failed: {0}")]
    Issuer(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    /// The CA's answer holds no certificate for the request's key, does not read, or its chain
    /// does not check.
    #[error("the CA's answer was refused: {0}")]
    Answer(#[source] RequestError),
    /// The renewal in progress has no key: the store was loaded without keys.
    #[error("the renewal in progress has no key (the state was loaded without keys)")]
    RequestKeyMissing,
    /// The issued certificate was refused (policy, key, validity at the effective date), or the
    /// store refused the operation.
    #[error(transparent)]
    Slot(#[from] SlotError),
}

/// What both halves of a renewal need to know about the slot.
struct Prepared {
    current: Thumbprint,
    spec: KeySpec,
    template: RequestTemplate,
    config: TypeConfig,
    effective_at: OffsetDateTime,
    shortened: bool,
}

impl Prepared {
    /// The roll's options: a late renewal's shortened notice was chosen on purpose (the roll's
    /// notice and latest-date checks would refuse it), so the roll checks the certificate's own
    /// validity over the type's hold instead.
    fn roll_options(&self) -> RollOptions {
        match self.shortened {
            true => RollOptions::default().short_notice(),
            false => RollOptions::default(),
        }
    }

    fn friendly_name(&self) -> Option<&str> {
        self.template.friendly_name_text()
    }

    /// What the renewal did, once the store added and scheduled `thumbprint`.
    fn renewal(&self, (thumbprint, outcome): (Thumbprint, Outcome)) -> Renewal {
        Renewal { thumbprint, effective_at: self.effective_at, shortened: self.shortened, outcome }
    }
}

/// The checks both halves make, and the effective date a renewal at `at` gets: the slot has a
/// current certificate of a kind certslot can ask for and no roll pending; with `check_due`, the
/// renewal window has opened and (with a renewal window) one is open, unless forced.
fn prepare(
    store: &Store,
    cert_type: &CertType,
    scope: &Scope,
    at: OffsetDateTime,
    options: RenewOptions,
) -> Result<Prepared, RenewError> {
    if let Some(last) = store.clock().filter(|last| at < *last) {
        return Err(SlotError::TimeWentBackwards { at, last }.into());
    }
    let no_current = || RenewError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() };
    let slot = store.slot_at(cert_type, scope).ok_or_else(no_current)?;
    if let Some(pending) = slot.pending() {
        return Err(RenewError::AlreadyPending {
            thumbprint: pending.thumbprint,
            effective_at: pending.effective_at,
        });
    }
    let current = slot.current().ok_or_else(no_current)?;
    let stored = store
        .inventory()
        .get(&current.thumbprint)
        .ok_or(SlotError::UnknownCertificate { thumbprint: current.thumbprint })?;
    let certificate = &stored.certificate;
    let config = store.type_config(cert_type).into_owned();
    let rollover = config.get_rollover();
    let milestones =
        Milestones::of(&rollover, config.get_lead_time(), certificate.not_before(), stored.effective_end());
    if let (Some(m), false) = (milestones, options.force) {
        if at < m.renew_at {
            return Err(RenewError::NotDue { opens_at: m.renew_at });
        }
        // A renewal past its deadline does not wait for a window.
        if let Some(window) = rollover.get_renewal_window().filter(|w| at <= m.renew_by && !w.contains(at)) {
            return Err(RenewError::OutsideWindow { opens_at: window.next_open(at).unwrap_or(at) });
        }
    }
    let public_key = certificate.public_key().map_err(RenewError::UnreadableKey)?;
    let spec = KeySpec::of_public_key(&public_key)
        .ok_or(RenewError::UnsupportedKey { algorithm: public_key.algorithm() })?;
    let template = RequestTemplate::renewal_of(certificate).map_err(RenewError::Template)?;
    let effective_at = milestones.map_or(at, |m| m.planned_effective(&rollover, at));
    let shortened = effective_at < at.checked_add(rollover.get_publish_ahead()).unwrap_or(at);
    Ok(Prepared { current: current.thumbprint, spec, template, config, effective_at, shortened })
}

/// The first half of a renewal that waits for a CA: checks that the renewal is due (the
/// planner's [`Action::Renew`](crate::rollover::Action::Renew); [`RenewOptions::force`] skips
/// that), makes the PKCS #10 request from the current certificate's template on `key` (which must
/// be of the current certificate's kind, [`KeySpec::of_public_key`]), checks it against the
/// type's policy, signs it, and keeps key and request in the slot ([`Store::begin_renewal`]):
/// one operation. Send [`StartedRenewal::request`] to the CA; record its order with
/// [`Store::set_renewal_order`]; finish with [`finish_renewal`].
///
/// # Errors
/// As [`renew`] up to the request, [`RenewError::WrongKey`], [`RenewError::Request`], and
/// [`SlotError::RenewalInProgress`] when a renewal is in progress already.
pub fn start_renewal(
    store: &mut Store,
    cert_type: &CertType,
    scope: &Scope,
    key: PrivateKey,
    at: OffsetDateTime,
    options: RenewOptions,
    rng: &mut impl rand_core::CryptoRng,
) -> Result<StartedRenewal, RenewError> {
    let prepared = prepare(store, cert_type, scope, at, options)?;
    if let Some(other) = store.renewal_request(cert_type, scope) {
        return Err(SlotError::RenewalInProgress {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            started_at: other.started_at(),
        }
        .into());
    }
    if !prepared.spec.matches(&key) {
        return Err(RenewError::WrongKey { expected: prepared.spec });
    }
    let request = CertificateRequest::new(&prepared.template, &key, prepared.config.get_policy(), at, rng)
        .map_err(RenewError::Request)?;
    let pending = RenewalRequest::new(prepared.current, key, request.der().to_vec(), at);
    let outcome = store.begin_renewal(cert_type, scope, pending, at)?;
    Ok(StartedRenewal { request, effective_at: prepared.effective_at, outcome })
}

/// The second half: pairs the CA's `answer` (DER or PEM certificates, a PEM chain, or a PKCS #7
/// `.p7b`, as [`complete_request`] reads them) with the key of the slot's renewal in progress,
/// puts the chain in path order (each signature checked), checks the certificate against the
/// type's policy at its effective date, adds it and schedules its roll at the date the planner
/// gives now, and drops the request: one operation. When anything fails, the store is as it was
/// and the renewal stays in progress (a wrong answer can be followed by the right one, or the
/// renewal cancelled with [`Store::cancel_renewal`]).
///
/// # Errors
/// [`SlotError::NoRenewalRequest`], [`RenewError::RequestKeyMissing`], [`RenewError::Answer`],
/// [`SlotError::RenewalStale`] (the current certificate changed meanwhile),
/// [`RenewError::AlreadyPending`], and the store's refusal of the certificate ([`SlotError`]:
/// policy violations, not valid long enough).
pub fn finish_renewal(
    store: &mut Store,
    cert_type: &CertType,
    scope: &Scope,
    answer: &[u8],
    at: OffsetDateTime,
) -> Result<Renewal, RenewError> {
    let request = store
        .renewal_request(cert_type, scope)
        .ok_or_else(|| SlotError::NoRenewalRequest { cert_type: cert_type.clone(), scope: scope.clone() })?;
    let key = request.key().cloned().ok_or(RenewError::RequestKeyMissing)?;
    // Begun already: due or forced then; finishing does not wait for a window.
    let prepared = prepare(store, cert_type, scope, at, RenewOptions::default().force())?;
    let pfx = complete_request(key, answer, prepared.friendly_name()).map_err(RenewError::Answer)?;
    let added = store.add_and_roll_renewal(
        pfx,
        cert_type,
        scope,
        prepared.effective_at,
        at,
        prepared.roll_options(),
    )?;
    Ok(prepared.renewal(added))
}

/// Renews the current certificate of `cert_type` at `scope` in `store` (the slot at that
/// scope, not a fallback) in one call: asks `issuer` for a key of the current certificate's
/// kind, makes and signs the request from the current certificate's template (checked against
/// the type's policy), asks `issuer` for the certificate, checks it with the type's policy at
/// its effective date, adds it and schedules its roll at the effective date the planner gives
/// ([`Action::Renew`](crate::rollover::Action::Renew)'s `effective_at`): `publish_ahead` from
/// `at`, shortened to the last compliant roll when less time is left, inside the type's renewal
/// window, and `at` itself past the critical threshold. All or nothing: when anything fails, the
/// store is as it was ([`Store::add_and_roll`] is one operation).
///
/// # Errors
/// [`RenewError`]: no current certificate, a roll already pending, the window not open (unless
/// forced), a key kind certslot cannot ask for, the issuer's error, an answer without the
/// request's certificate, or the store's refusal of the certificate ([`SlotError`]: policy
/// violations, not valid long enough).
pub fn renew<I: Issuer>(
    store: &mut Store,
    cert_type: &CertType,
    scope: &Scope,
    issuer: &mut I,
    at: OffsetDateTime,
    options: RenewOptions,
) -> Result<Renewal, RenewError> {
    let prepared = prepare(store, cert_type, scope, at, options)?;
    let issuer_error = |e: I::Error| RenewError::Issuer(Box::new(e));
    let key = issuer.key(prepared.spec).map_err(issuer_error)?;
    if !prepared.spec.matches(&key) {
        return Err(RenewError::WrongKey { expected: prepared.spec });
    }
    let policy = prepared.config.get_policy();
    let request = CertificateRequest::new_deterministic(&prepared.template, &key, policy, at)
        .map_err(RenewError::Request)?;
    let issue = IssueRequest {
        cert_type,
        scope,
        template: &prepared.template,
        request: &request,
        key: &key,
        policy,
        validity: prepared.config.get_rollover().get_certificate_lifetime(),
        at,
        effective_at: prepared.effective_at,
    };
    let certificates = issuer.issue(&issue).map_err(issuer_error)?;
    let pfx: Pfx = complete_with_certificates(key, certificates, prepared.friendly_name())
        .map_err(RenewError::Answer)?;
    let added = store.add_and_roll(
        pfx,
        core::slice::from_ref(cert_type),
        scope,
        prepared.effective_at,
        at,
        prepared.roll_options(),
    )?;
    Ok(prepared.renewal(added))
}
