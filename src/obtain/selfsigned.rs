//! Self-signed token-signing certificates: what Exchange makes for its Auth certificate and AD FS
//! for its token-signing certificates, and what a server-to-server token issuer needs when no CA is
//! involved (verifiers trust the certificate itself, published as metadata).
//!
//! The certificate carries the template's subject and extensions, plus a subject key identifier
//! (RFC 5280 4.2.1.2, method 1: SHA-1 of the public key's bits), the same value as authority key
//! identifier (4.2.1.1), basic constraints `CA:FALSE` (critical, 4.2.1.9), and key usage with
//! `digitalSignature` (critical, 4.2.1.3). Its serial is 16 random octets, positive (4.1.2.2).

use der::asn1::OctetString;
use sha1::Digest as _;
use time::{Duration, OffsetDateTime};
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, BasicConstraints, SubjectKeyIdentifier};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

use crate::obtain::error::RequestError;
use crate::obtain::provisional::{self, SelfIssued, encoding, x509_time};
use crate::obtain::template::{RequestTemplate, extension};
use crate::pfx::{Pfx, PrivateKey, SignatureBytes};
use crate::validate::Policy;
use crate::x509::Certificate;
use crate::x509::ext::{self as ext_oid, KeyUsageBit};
use crate::x509::key::PublicKeyInfo;

/// Authority key identifier (RFC 5280 4.2.1.1).
const AUTHORITY_KEY_IDENTIFIER: const_oid::ObjectIdentifier =
    const_oid::db::rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER;
/// Subject key identifier (RFC 5280 4.2.1.2).
const SUBJECT_KEY_IDENTIFIER: const_oid::ObjectIdentifier =
    const_oid::db::rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;

/// How long a self-signed certificate is valid, and how far its start is set back.
///
/// Default: 730 days (what Exchange's `New-ExchangeCertificate` gives its self-signed Auth
/// certificate is five years, AD FS one year; two years sits between and under the 825-day
/// ceiling some verifiers apply), backdated by 5 minutes, so that a verifier whose clock runs a
/// little behind the issuer's does not see a certificate from the future.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SelfSignedOptions {
    validity: Duration,
    backdate: Duration,
}

impl Default for SelfSignedOptions {
    fn default() -> Self {
        Self { validity: Duration::days(730), backdate: Self::DEFAULT_BACKDATE }
    }
}

impl SelfSignedOptions {
    /// The default clock-skew allowance: 5 minutes.
    pub const DEFAULT_BACKDATE: Duration = Duration::minutes(5);

    /// The certificate is valid for `validity` from the instant of issue (`notAfter` is that
    /// instant plus `validity`; the backdating only moves `notBefore`).
    ///
    /// # Errors
    /// [`RequestError::InvalidValidity`] for a zero or negative span.
    pub fn validity(self, validity: Duration) -> Result<Self, RequestError> {
        if !validity.is_positive() {
            return Err(RequestError::InvalidValidity { reason: "the validity must be positive" });
        }
        Ok(Self { validity, ..self })
    }

    /// Sets `notBefore` this far before the instant of issue.
    ///
    /// # Errors
    /// [`RequestError::InvalidValidity`] for a negative allowance or one over a day.
    pub fn backdate(self, backdate: Duration) -> Result<Self, RequestError> {
        if backdate.is_negative() || backdate > Duration::DAY {
            return Err(RequestError::InvalidValidity {
                reason: "the backdating must be between zero and a day",
            });
        }
        Ok(Self { backdate, ..self })
    }

    /// The validity span.
    pub fn validity_span(&self) -> Duration {
        self.validity
    }

    /// The backdating.
    pub fn backdate_span(&self) -> Duration {
        self.backdate
    }
}

impl RequestTemplate {
    /// A self-signed certificate for `key`, made at `at`, as a [`Pfx`] (key and certificate) ready
    /// for [`Store::add_pfx`](crate::Store::add_pfx) and [`Pfx::export`]. The certificate is
    /// checked against `policy` at `at` first, with its real validity; nothing is signed when it
    /// would break it.
    ///
    /// # Errors
    /// [`RequestError::PolicyViolations`], [`RequestError::Key`] for a key that cannot sign here,
    /// [`RequestError::Encoding`].
    pub fn self_signed(
        &self,
        key: PrivateKey,
        policy: &Policy,
        at: OffsetDateTime,
        options: SelfSignedOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Pfx, RequestError> {
        let spki_der = key.public_key_der()?;
        let not_before =
            at.checked_sub(options.backdate).ok_or(RequestError::Encoding { what: "validity" })?;
        let not_after =
            at.checked_add(options.validity).ok_or(RequestError::Encoding { what: "validity" })?;
        let with_signing = self.clone().key_usage(&with_digital_signature(self.key_usages()));
        // The policy sees the certificate from `at`: the backdating only shields verifiers.
        provisional::check(&with_signing, &spki_der, policy, at, options.validity)?;

        let key_id = key_identifier(&spki_der)?;
        let mut extensions = vec![
            extension(
                SUBJECT_KEY_IDENTIFIER,
                false,
                &SubjectKeyIdentifier(key_id.clone()),
                "subject key identifier",
            )?,
            extension(
                AUTHORITY_KEY_IDENTIFIER,
                false,
                &AuthorityKeyIdentifier { key_identifier: Some(key_id), ..Default::default() },
                "authority key identifier",
            )?,
            extension(
                ext_oid::BASIC_CONSTRAINTS,
                true,
                &BasicConstraints { ca: false, path_len_constraint: None },
                "basic constraints",
            )?,
        ];
        extensions.extend(with_signing.extensions()?);
        let profile = SelfIssued { subject: with_signing.x509_subject()?, extensions };
        let serial = SerialNumber::new(&random_serial(rng)).map_err(encoding("serial"))?;
        let validity = Validity::new(x509_time(not_before)?, x509_time(not_after)?);
        let spki = der::Decode::from_der(&spki_der).map_err(encoding("public key"))?;
        let signer = key.signing_key()?;
        let builder =
            CertificateBuilder::new(profile, serial, validity, spki).map_err(encoding("certificate"))?;
        let cert =
            builder.build_with_rng::<_, SignatureBytes, _>(&signer, rng).map_err(encoding("certificate"))?;
        let der = der::Encode::to_der(&cert).map_err(encoding("certificate"))?;
        let cert = Certificate::from_der(&der).map_err(encoding("certificate"))?;
        Ok(Pfx::from_parts(cert, key, Vec::new(), self.friendly_name_text())?)
    }
}

/// The key usage bits with `digitalSignature` first.
fn with_digital_signature(bits: &[KeyUsageBit]) -> Vec<KeyUsageBit> {
    let mut out = vec![KeyUsageBit::DigitalSignature];
    out.extend(bits.iter().copied().filter(|b| *b != KeyUsageBit::DigitalSignature));
    out
}

/// SHA-1 of the `subjectPublicKey` BIT STRING's octets (RFC 5280 4.2.1.2, method 1).
fn key_identifier(spki_der: &[u8]) -> Result<OctetString, RequestError> {
    let info = PublicKeyInfo::decode(spki_der).map_err(encoding("public key"))?;
    let digest = sha1::Sha1::digest(info.subject_public_key());
    OctetString::new(digest.to_vec()).map_err(encoding("key identifier"))
}

/// 16 random octets as a positive INTEGER with no leading zero octet: the top bit cleared, the
/// next one set (126 random bits).
fn random_serial(rng: &mut impl rand_core::CryptoRng) -> [u8; 16] {
    let mut serial = [0u8; 16];
    rng.fill_bytes(&mut serial);
    serial[0] = (serial[0] & 0x3F) | 0x40;
    serial
}
