//! Issuers: where renewed certificates come from. The [`Issuer`] trait a renewal asks, what it
//! asks for ([`IssueRequest`], [`KeySpec`]), and the issuer certslot ships,
//! [`SelfSignedIssuer`] (what Exchange and AD FS do for their own signing certificates).

use time::{Duration, OffsetDateTime};

use crate::obtain::error::RequestError;
use crate::obtain::request::CertificateRequest;
use crate::obtain::selfsigned::SelfSignedOptions;
use crate::obtain::template::RequestTemplate;
use crate::pfx::{KeyError, PrivateKey};
use crate::policy::{CertType, Scope};
use crate::validate::Policy;
use crate::x509::{Certificate, Curve, KeyAlgorithm, PublicKeyInfo};

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
    /// The kind of key `public_key` is, the kind its certificate's renewal asks for; `None` for
    /// a key certslot cannot make (RSA without a readable size, Ed25519, an unknown algorithm).
    /// A caller that makes keys ahead of a renewal (off its async threads, say) asks this of the
    /// current certificate and hands the keys to [`SelfSignedIssuer::with_keys`].
    pub fn of_public_key(public_key: &PublicKeyInfo<'_>) -> Option<Self> {
        match (public_key.algorithm(), public_key.bits()) {
            (KeyAlgorithm::Rsa, Some(bits)) => Some(Self::Rsa { bits }),
            (KeyAlgorithm::Ec(curve), _) => Some(Self::Ec(curve)),
            _ => None,
        }
    }

    /// Makes a key of this kind.
    ///
    /// # Errors
    /// [`KeyError`] when the size is refused or the generator fails.
    pub fn generate(&self, rng: &mut impl rand_core::CryptoRng) -> Result<PrivateKey, KeyError> {
        match *self {
            Self::Rsa { bits } => PrivateKey::generate_rsa(bits, rng),
            Self::Ec(curve) => PrivateKey::generate_ec(curve, rng),
        }
    }

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
    /// The PKCS #10 request, signed with the renewal's key and checked against the type's policy:
    /// what a CA is sent.
    pub request: &'a CertificateRequest,
    /// The renewal's private key ([`Issuer::key`]): a self-signing issuer signs with it; a CA never
    /// needs it.
    pub key: &'a PrivateKey,
    /// The type's policy, which the certificate will have to pass at `effective_at`.
    pub policy: &'a Policy,
    /// The validity asked for ([`RolloverPolicy::get_certificate_lifetime`](crate::RolloverPolicy::get_certificate_lifetime)).
    pub validity: Duration,
    /// The instant of the renewal.
    pub at: OffsetDateTime,
    /// When the certificate will roll in.
    pub effective_at: OffsetDateTime,
}

/// Where renewed certificates come from, for a renewal done in one call
/// ([`rollover::renew`](crate::rollover::renew)): "make the key of this kind; here is the request
/// signed with it; give me the certificate (and its chain)". The caller implements it for its CA
/// (or HSM); [`SelfSignedIssuer`] ships with certslot. A CA that answers later (ACME, a person
/// approving requests) does not fit a synchronous call: the renewal is then split around the
/// store's compare-and-swap, [`rollover::start_renewal`](crate::rollover::start_renewal) and
/// [`rollover::finish_renewal`](crate::rollover::finish_renewal), which `renew` runs back to back.
pub trait Issuer {
    /// Why issuing failed.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The private key for a renewal asking for a key of kind `spec` (the current certificate's).
    ///
    /// # Errors
    /// The issuer's own.
    fn key(&mut self, spec: KeySpec) -> Result<PrivateKey, Self::Error>;

    /// Issues the certificate `request` asks for: the certificate for the request's key, and
    /// the chain above it, in any order (renewal puts them in path order, each signature checked).
    ///
    /// # Errors
    /// The issuer's own.
    fn issue(&mut self, request: &IssueRequest<'_>) -> Result<Vec<Certificate>, Self::Error>;
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

    fn key(&mut self, spec: KeySpec) -> Result<PrivateKey, RequestError> {
        match self.spare.iter().position(|k| spec.matches(k)) {
            Some(i) => Ok(self.spare.remove(i)),
            None => Ok(spec.generate(&mut self.rng)?),
        }
    }

    fn issue(&mut self, request: &IssueRequest<'_>) -> Result<Vec<Certificate>, RequestError> {
        let options = SelfSignedOptions::default().validity(request.validity)?;
        let pfx = request.template.self_signed(
            request.key.clone(),
            request.policy,
            request.at,
            options,
            &mut self.rng,
        )?;
        Ok(pfx.certificates().cloned().collect())
    }
}
