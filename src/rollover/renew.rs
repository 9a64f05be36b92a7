//! Renewal: the next certificate obtained through a caller's [`Issuer`], checked, added and rolled
//! in at the planned effective date, all or nothing.

use time::{Duration, OffsetDateTime};

use crate::issue::{RequestError, RequestTemplate, SelfSignedOptions};
use crate::pfx::{Pfx, PrivateKey};
use crate::rollover::plan::planned_effective;
use crate::store::{CertType, Outcome, RollOptions, Scope, SlotError, Store};
use crate::validate::Policy;
use crate::x509::{Curve, KeyAlgorithm, Thumbprint};

/// The key a renewal asks for: the current certificate's algorithm and size.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeySpec {
    /// RSA with this modulus size.
    Rsa {
        /// Bits.
        bits: u32,
    },
    /// ECDSA on this curve.
    Ec(Curve),
}

impl KeySpec {
    /// Whether `key` is of this kind.
    pub fn matches(&self, key: &PrivateKey) -> bool {
        match (self, key.algorithm()) {
            (Self::Rsa { bits }, KeyAlgorithm::Rsa) => key.bits() == Some(*bits),
            (Self::Ec(curve), KeyAlgorithm::Ec(c)) => *curve == c,
            _ => false,
        }
    }
}

/// What a renewal asks an [`Issuer`] for.
#[derive(Clone, Copy, Debug)]
pub struct IssueRequest<'a> {
    /// The type.
    pub cert_type: &'a CertType,
    /// The scope.
    pub scope: &'a Scope,
    /// Subject, DNS names and usages, as the current certificate has them.
    pub template: &'a RequestTemplate,
    /// The key to make (or take) for it.
    pub key: KeySpec,
    /// The type's policy, which the certificate will have to pass at `effective_at`.
    pub policy: &'a Policy,
    /// The validity asked for ([`RolloverPolicy::certificate_lifetime_span`](crate::RolloverPolicy::certificate_lifetime_span)).
    pub validity: Duration,
    /// The instant of the renewal.
    pub at: OffsetDateTime,
    /// When the certificate will roll in.
    pub effective_at: OffsetDateTime,
}

/// Where renewed certificates come from: "here is a request template and the key to make; give
/// me a [`Pfx`] with the certificate and its private key". The caller implements it for its CA
/// (or HSM); [`SelfSignedIssuer`] ships with certslot. A CA that answers later does not fit a
/// synchronous call: take the plan's [`Action::Renew`](crate::Action::Renew), obtain the
/// certificate, and [`Store::roll`] it at the action's `effective_at`.
pub trait Issuer {
    /// Why issuing failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// Issues a certificate for `request`.
    ///
    /// # Errors
    /// The issuer's own.
    fn issue(&mut self, request: &IssueRequest<'_>) -> Result<Pfx, Self::Error>;
}

/// Self-signed renewals, as Exchange and AD FS make for themselves: a fresh key of the asked
/// kind (or a spare one given with [`SelfSignedIssuer::with_keys`]) and
/// [`RequestTemplate::self_signed`] with the asked validity.
pub struct SelfSignedIssuer<R> {
    rng: R,
    spare: Vec<PrivateKey>,
}

impl<R> core::fmt::Debug for SelfSignedIssuer<R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SelfSignedIssuer").field("spare_keys", &self.spare.len()).finish_non_exhaustive()
    }
}

impl<R: rand_core::CryptoRng> SelfSignedIssuer<R> {
    /// An issuer drawing keys and serials from `rng`.
    pub fn new(rng: R) -> Self {
        Self { rng, spare: Vec::new() }
    }

    /// Keys made beforehand (in an HSM's export, or a test's pool), used first, in order, when
    /// they are of the kind asked for.
    pub fn with_keys(mut self, keys: impl IntoIterator<Item = PrivateKey>) -> Self {
        self.spare.extend(keys);
        self
    }

    /// How many spare keys are left.
    pub fn spare_keys(&self) -> usize {
        self.spare.len()
    }
}

impl<R: rand_core::CryptoRng> Issuer for SelfSignedIssuer<R> {
    type Error = RequestError;

    fn issue(&mut self, request: &IssueRequest<'_>) -> Result<Pfx, RequestError> {
        let key = match self.spare.iter().position(|k| request.key.matches(k)) {
            Some(i) => self.spare.remove(i),
            None => match request.key {
                KeySpec::Rsa { bits } => PrivateKey::generate_rsa(bits, &mut self.rng)?,
                KeySpec::Ec(curve) => PrivateKey::generate_ec(curve, &mut self.rng)?,
            },
        };
        let options = SelfSignedOptions::default().validity(request.validity)?;
        request.template.self_signed(key, request.policy, request.at, options, &mut self.rng)
    }
}

/// What a renewal did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Renewal {
    /// The new certificate.
    pub thumbprint: Thumbprint,
    /// When it rolls in.
    pub effective_at: OffsetDateTime,
    /// True when it rolls in sooner than `publish_ahead` from the renewal (the renewal came
    /// late, past [`Action::Renew`](crate::Action::Renew)'s `by`).
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
    #[error("a roll of {thumbprint} is pending already (effective {})", crate::HumanTime(*effective_at))]
    AlreadyPending {
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// Its effective date.
        effective_at: OffsetDateTime,
    },
    /// The renewal window has not opened.
    #[error("the renewal window opens at {}", crate::HumanTime(*opens_at))]
    NotDue {
        /// When it opens.
        opens_at: OffsetDateTime,
    },
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

impl Store {
    /// Renews the current certificate of `cert_type` at `scope` (the slot at that scope, not a
    /// fallback): asks `issuer` for the next certificate, checks it with the type's policy at
    /// its effective date, adds it and schedules its roll at the effective date the planner
    /// gives ([`Action::Renew`](crate::Action::Renew)'s `effective_at`): `publish_ahead` from
    /// `at`, shortened to the last compliant roll when less time is left, and `at` itself past
    /// the critical threshold. All or nothing: when anything fails, the store is as it was.
    ///
    /// # Errors
    /// [`RenewError`]: no current certificate, a roll already pending, the window not open, a
    /// key kind certslot cannot ask for, the issuer's error, or the store's refusal of the
    /// certificate ([`SlotError`]: policy violations, no private key, not valid long enough).
    pub fn renew<I: Issuer>(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        issuer: &mut I,
        at: OffsetDateTime,
    ) -> Result<Renewal, RenewError<I::Error>> {
        self.check_clock(at)?;
        self.check_scope(scope)?;
        let no_current = || RenewError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() };
        let slot = self.slot_id(cert_type, scope).and_then(|id| self.slot(id)).ok_or_else(no_current)?;
        if let Some(pending) = slot.pending() {
            return Err(RenewError::AlreadyPending {
                thumbprint: pending.thumbprint,
                effective_at: pending.effective_at,
            });
        }
        let current = slot.current().ok_or_else(no_current)?;
        let certificate = &self.stored(&current.thumbprint)?.certificate;
        let rollover = self.rollover_policy(cert_type);
        let lead = self.lead_time(cert_type);
        let milestones = rollover.milestones(lead, certificate.not_before(), certificate.not_after());
        if let Some(m) = milestones.filter(|m| at < m.renew_at) {
            return Err(RenewError::NotDue { opens_at: m.renew_at });
        }
        let key = match certificate.public_key().map(|k| (k.algorithm(), k.bits())) {
            Ok((KeyAlgorithm::Rsa, Some(bits))) => KeySpec::Rsa { bits },
            Ok((KeyAlgorithm::Ec(curve), _)) => KeySpec::Ec(curve),
            Ok((algorithm, _)) => return Err(RenewError::UnsupportedKey { algorithm }),
            Err(_) => return Err(RenewError::UnsupportedKey { algorithm: KeyAlgorithm::Rsa }),
        };
        let template = RequestTemplate::renewal_of(certificate).map_err(RenewError::Template)?;
        let effective_at = milestones.map_or(at, |m| planned_effective(&rollover, &m, at));
        let shortened = effective_at < at.checked_add(rollover.publish_ahead_span()).unwrap_or(at);
        let policy = self.type_config(cert_type).policy;
        let request = IssueRequest {
            cert_type,
            scope,
            template: &template,
            key,
            policy: &policy,
            validity: rollover.certificate_lifetime_span(),
            at,
            effective_at,
        };
        let pfx = issuer.issue(&request).map_err(RenewError::Issuer)?;

        // Add, then roll; on a refusal, take out what was added and put the revision back.
        let revision = self.revision();
        let added: Vec<Thumbprint> =
            pfx.certificates().map(|c| c.thumbprint()).filter(|t| self.certificate(t).is_none()).collect();
        let thumbprint = self.add_pfx(pfx)?;
        let mut options = RollOptions::default();
        let checked = if shortened {
            // The planner chose a late date on purpose: the roll's notice and latest-date checks
            // would refuse it, so they are skipped, and the new certificate's own validity is
            // checked here instead.
            options = options.force();
            self.check_valid_at(&thumbprint, effective_at, rollover.hold(lead))
        } else {
            Ok(())
        };
        let rolled = checked.and_then(|()| {
            self.roll(core::slice::from_ref(cert_type), scope, &thumbprint, effective_at, at, options)
        });
        match rolled {
            Ok(outcome) => Ok(Renewal { thumbprint, effective_at, shortened, outcome }),
            Err(e) => {
                for t in &added {
                    let _ = self.remove_certificate(t);
                }
                self.revision = revision;
                Err(e.into())
            }
        }
    }
}
