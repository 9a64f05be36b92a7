//! Renewal: the next certificate obtained through a caller's [`Issuer`], checked, added and rolled
//! in at the planned effective date, all or nothing.

use time::OffsetDateTime;

use crate::obtain::{IssueRequest, Issuer, KeySpec, RequestError, RequestTemplate};
use crate::policy::{CertType, Milestones, Scope};
use crate::store::{Outcome, RollOptions, SlotError, Store};
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

/// Why a renewal was refused. Nothing changes then.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenewError<E: std::error::Error + 'static> {
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
    /// The renewal window has not opened.
    #[error("the renewal window opens at {}", crate::validate::HumanTime(*opens_at))]
    NotDue {
        /// When it opens.
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
    /// The current certificate cannot be described as a request template.
    #[error("the current certificate cannot be a template: {0}")]
    Template(#[source] RequestError),
    /// The issuer failed.
    #[error("the issuer failed: {0}")]
    Issuer(#[source] E),
    /// The issued certificate was refused (policy, key, validity at the effective date), or the
    /// store refused the operation.
    #[error(transparent)]
    Slot(#[from] SlotError),
}

/// Renews the current certificate of `cert_type` at `scope` in `store` (the slot at that
/// scope, not a fallback): asks `issuer` for the next certificate, checks it with the type's
/// policy at its effective date, adds it and schedules its roll at the effective date the
/// planner gives ([`Action::Renew`](crate::rollover::Action::Renew)'s `effective_at`):
/// `publish_ahead` from `at`, shortened to the last compliant roll when less time is left, and
/// `at` itself past the critical threshold. All or nothing: when anything fails, the store is
/// as it was ([`Store::add_and_roll`] is one operation).
///
/// # Errors
/// [`RenewError`]: no current certificate, a roll already pending, the window not open, a
/// key kind certslot cannot ask for, the issuer's error, or the store's refusal of the
/// certificate ([`SlotError`]: policy violations, no private key, not valid long enough).
pub fn renew<I: Issuer>(
    store: &mut Store,
    cert_type: &CertType,
    scope: &Scope,
    issuer: &mut I,
    at: OffsetDateTime,
) -> Result<Renewal, RenewError<I::Error>> {
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
    let certificate = &store
        .inventory()
        .get(&current.thumbprint)
        .ok_or(SlotError::UnknownCertificate { thumbprint: current.thumbprint })?
        .certificate;
    let config = store.type_config(cert_type).into_owned();
    let rollover = config.get_rollover();
    let milestones =
        Milestones::of(&rollover, config.get_lead_time(), certificate.not_before(), certificate.not_after());
    if let Some(m) = milestones.filter(|m| at < m.renew_at) {
        return Err(RenewError::NotDue { opens_at: m.renew_at });
    }
    let public_key = certificate.public_key().map_err(RenewError::UnreadableKey)?;
    let key = KeySpec::of_public_key(&public_key)
        .ok_or(RenewError::UnsupportedKey { algorithm: public_key.algorithm() })?;
    let template = RequestTemplate::renewal_of(certificate).map_err(RenewError::Template)?;
    let effective_at = milestones.map_or(at, |m| m.planned_effective(&rollover, at));
    let shortened = effective_at < at.checked_add(rollover.get_publish_ahead()).unwrap_or(at);
    let request = IssueRequest {
        cert_type,
        scope,
        template: &template,
        key,
        policy: config.get_policy(),
        validity: rollover.get_certificate_lifetime(),
        at,
        effective_at,
    };
    let pfx = issuer.issue(&request).map_err(RenewError::Issuer)?;
    // The planner chose a late date on purpose when it shortened the notice: the roll's notice
    // and latest-date checks would refuse it, so the roll checks the certificate's own validity
    // over the type's hold instead.
    let options = match shortened {
        true => RollOptions::default().short_notice(),
        false => RollOptions::default(),
    };
    let (thumbprint, outcome) =
        store.add_and_roll(pfx, core::slice::from_ref(cert_type), scope, effective_at, at, options)?;
    Ok(Renewal { thumbprint, effective_at, shortened, outcome })
}
