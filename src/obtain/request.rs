//! PKCS #10 certificate requests (RFC 2986), built from a [`RequestTemplate`] and a private key,
//! checked against a policy before anything is signed.
//!
//! ```text
//! CertificationRequest ::= SEQUENCE {
//!     certificationRequestInfo CertificationRequestInfo,
//!     signatureAlgorithm       AlgorithmIdentifier{{ SignatureAlgorithms }},
//!     signature                BIT STRING }
//! CertificationRequestInfo ::= SEQUENCE {
//!     version       INTEGER { v1(0) } (v1,...),
//!     subject       Name,
//!     subjectPKInfo SubjectPublicKeyInfo{{ PKInfoAlgorithms }},
//!     attributes    [0] Attributes{{ CRIAttributes }} }
//! ```
//! ([RFC 2986 4](https://datatracker.ietf.org/doc/html/rfc2986#section-4)); the template's
//! extensions travel in an `extensionRequest` attribute (RFC 2985 5.4.2). Built and signed with
//! x509-cert's builder: SHA-256 with RSA (PKCS #1 v1.5) or ECDSA.

use der::Encode as _;
use time::{Duration, OffsetDateTime};
use x509_cert::builder::Builder as _;
use x509_cert::request::RequestBuilder;

use crate::obtain::error::RequestError;
use crate::obtain::provisional::{self, encoding};
use crate::obtain::template::RequestTemplate;
use crate::pfx::{PrivateKey, SignatureBytes};
use crate::validate::Policy;

/// A signed certificate request and the template it was made from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertificateRequest {
    der: Vec<u8>,
    template: RequestTemplate,
}

/// The validity assumed when a request is checked: the CA chooses the real one, so the policy's
/// validity rule is not applied to requests, only to certificates.
const ASSUMED_VALIDITY: Duration = Duration::days(365);

impl CertificateRequest {
    /// Checks the certificate `template` asks for, for `key`, against `policy` at `at` (its key,
    /// subject and usage rules: the CA chooses the validity), then builds the request and signs it
    /// with `key`: SHA-256 with RSA PKCS #1 v1.5 for RSA keys, ECDSA with SHA-256 (P-256) or
    /// SHA-384 (P-384).
    ///
    /// # Errors
    /// [`RequestError::PolicyViolations`] with every violation, before anything is signed;
    /// [`RequestError::Key`] for a key that cannot sign here (DSA, EdDSA, other curves);
    /// [`RequestError::Encoding`].
    pub fn new(
        template: &RequestTemplate,
        key: &PrivateKey,
        policy: &Policy,
        at: OffsetDateTime,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Self, RequestError> {
        Self::build(template, key, policy, at, Some(rng))
    }

    /// As [`CertificateRequest::new`], signed without randomness: RSA PKCS #1 v1.5 needs none, and
    /// ECDSA takes its nonce from the key and the request (RFC 6979), so the same request signed
    /// twice gives the same bytes.
    ///
    /// # Errors
    /// As [`CertificateRequest::new`].
    pub fn new_deterministic(
        template: &RequestTemplate,
        key: &PrivateKey,
        policy: &Policy,
        at: OffsetDateTime,
    ) -> Result<Self, RequestError> {
        Self::build(template, key, policy, at, None::<&mut NoRng>)
    }

    fn build(
        template: &RequestTemplate,
        key: &PrivateKey,
        policy: &Policy,
        at: OffsetDateTime,
        rng: Option<&mut impl rand_core::CryptoRng>,
    ) -> Result<Self, RequestError> {
        let spki = key.public_key_der()?;
        let mut rules = Policy::new();
        if let Some(rule) = policy.key_rule() {
            rules = rules.with_key(*rule);
        }
        if let Some(rule) = policy.subject_rule() {
            rules = rules.with_subject(rule.clone());
        }
        if let Some(rule) = policy.usage_rule() {
            rules = rules.with_usage(*rule);
        }
        provisional::check(template, &spki, &rules, at, ASSUMED_VALIDITY)?;
        let mut builder = RequestBuilder::new(template.x509_subject()?).map_err(encoding("request"))?;
        for extension in template.extensions()? {
            builder.add_extension(extension).map_err(encoding("request"))?;
        }
        let signer = key.signing_key()?;
        let request = match rng {
            Some(rng) => builder.build_with_rng::<_, SignatureBytes, _>(&signer, rng),
            None => builder.build::<_, SignatureBytes>(&signer),
        }
        .map_err(encoding("request"))?;
        let der = request.to_der().map_err(encoding("request"))?;
        Ok(Self { der, template: template.clone() })
    }

    /// The request, DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The request, PEM (`CERTIFICATE REQUEST`, RFC 7468 7).
    pub fn to_pem(&self) -> String {
        crate::x509::pem::encode("CERTIFICATE REQUEST", &self.der)
    }

    /// The template it was made from.
    pub fn template(&self) -> &RequestTemplate {
        &self.template
    }
}

/// The type of "no generator" for [`CertificateRequest::new_deterministic`]: never called.
struct NoRng;

impl rand_core::TryRng for NoRng {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        unreachable!("a deterministic request draws no randomness")
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        unreachable!("a deterministic request draws no randomness")
    }

    fn try_fill_bytes(&mut self, _: &mut [u8]) -> Result<(), Self::Error> {
        unreachable!("a deterministic request draws no randomness")
    }
}

impl rand_core::TryCryptoRng for NoRng {}
