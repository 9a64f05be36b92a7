//! A private key (from a PFX, a key file, or generated): a PKCS #8 structure, kept secret, with
//! its public part and a check that its numbers agree.
//!
//! ```text
//! OneAsymmetricKey ::= SEQUENCE {
//!     version                   Version,
//!     privateKeyAlgorithm       PrivateKeyAlgorithmIdentifier,
//!     privateKey                PrivateKey,
//!     attributes            [0] Attributes OPTIONAL,
//!     ...,
//!     [[2: publicKey        [1] PublicKey OPTIONAL ]],
//!     ... }
//! ```
//! ([RFC 5958 2](https://datatracker.ietf.org/doc/html/rfc5958#section-2)). Read with certslot's
//! own reader because Windows puts attributes (a key-usage attribute) in the `[0]` field, then
//! the inner key with `pkcs1` (RSA) and `sec1` (EC). The public key and the consistency check
//! use the `rsa`, `p256` and `p384` crates.

use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc8410};
use der::Decode as _;
use zeroize::Zeroizing;

use crate::pfx::encode::{bit_string, seq, uint};
use crate::pfx::mac::oid_of;
use crate::pfx::{KeyError, PfxError};
use crate::x509::cert::Certificate;
use crate::x509::key::{Curve, KeyAlgorithm};
use crate::x509::tlv::{self, tag};

/// A private key, as PKCS #8 DER. Zeroized on drop; `Debug` shows the algorithm and size only.
#[derive(Clone)]
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    algorithm: KeyAlgorithm,
    bits: Option<u32>,
    public: PublicParts,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicParts {
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// An EC point or a raw EdDSA/X public key, when the key carries it.
    Raw(Option<Vec<u8>>),
}

impl PrivateKey {
    /// Reads a PKCS #8 `PrivateKeyInfo` / `OneAsymmetricKey`.
    ///
    /// # Errors
    /// [`PfxError::BadPrivateKey`] when the structure or the inner RSA / EC key does not decode.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PfxError> {
        let bad = |what| PfxError::BadPrivateKey { what };
        let outer =
            tlv::read_single(der, tag::SEQUENCE, "PrivateKeyInfo").map_err(|_| bad("PrivateKeyInfo"))?;
        let mut f = outer.reader();
        f.read_expected(tag::INTEGER, "version").map_err(|_| bad("version"))?;
        let alg =
            f.read_expected(tag::SEQUENCE, "privateKeyAlgorithm").map_err(|_| bad("privateKeyAlgorithm"))?;
        let private = f.read_expected(tag::OCTET_STRING, "privateKey").map_err(|_| bad("privateKey"))?;
        let mut public_key = None;
        while !f.is_empty() {
            let item = f.read("attributes").map_err(|_| bad("attributes"))?;
            if item.tag() == 0x81 || item.tag() == 0xA1 {
                // [1] IMPLICIT BIT STRING: the unused-bits octet, then the key.
                public_key = item.value().split_first().map(|(_, k)| k.to_vec());
            }
        }
        let mut alg_fields = alg.reader();
        let oid = oid_of(&alg_fields.read_expected(tag::OID, "algorithm").map_err(|_| bad("algorithm"))?)
            .map_err(|_| bad("algorithm"))?;
        let params = if alg_fields.is_empty() { None } else { alg_fields.read("parameters").ok() };
        let (algorithm, bits, public) = match oid {
            rfc5912::RSA_ENCRYPTION | rfc5912::ID_RSASSA_PSS => {
                let rsa =
                    pkcs1::RsaPrivateKeyRef::from_der(private.value()).map_err(|_| bad("RSAPrivateKey"))?;
                let n = tlv::unsigned_magnitude(rsa.modulus.as_bytes()).to_vec();
                let e = tlv::unsigned_magnitude(rsa.public_exponent.as_bytes()).to_vec();
                let algorithm =
                    if oid == rfc5912::RSA_ENCRYPTION { KeyAlgorithm::Rsa } else { KeyAlgorithm::RsaPss };
                (algorithm, Some(tlv::bit_length(&n)), PublicParts::Rsa { n, e })
            }
            rfc5912::ID_EC_PUBLIC_KEY | rfc5912::ID_EC_DH => {
                let ec = sec1::EcPrivateKey::from_der(private.value()).map_err(|_| bad("ECPrivateKey"))?;
                let curve_oid = match params {
                    Some(p) if p.tag() == tag::OID => ObjectIdentifier::from_bytes(p.value()).ok(),
                    _ => ec.parameters.and_then(|p| p.named_curve()),
                };
                let (curve, bits) = match curve_oid {
                    Some(oid) => {
                        let known = [
                            Curve::P192,
                            Curve::P224,
                            Curve::P256,
                            Curve::P384,
                            Curve::P521,
                            Curve::Secp256k1,
                        ]
                        .into_iter()
                        .chain([
                            Curve::BrainpoolP256r1,
                            Curve::BrainpoolP384r1,
                            Curve::BrainpoolP512r1,
                            Curve::Sm2,
                        ])
                        .find(|c| c.oid() == Some(oid));
                        match known {
                            Some(c) => (c, c.bits()),
                            None => (Curve::Named(oid), None),
                        }
                    }
                    None => (Curve::Explicit, None),
                };
                let point = ec.public_key.map(<[u8]>::to_vec).or(public_key);
                (KeyAlgorithm::Ec(curve), bits, PublicParts::Raw(point))
            }
            rfc8410::ID_ED_25519 => (KeyAlgorithm::Ed25519, Some(256), PublicParts::Raw(public_key)),
            rfc8410::ID_ED_448 => (KeyAlgorithm::Ed448, Some(456), PublicParts::Raw(public_key)),
            rfc8410::ID_X_25519 => (KeyAlgorithm::X25519, Some(256), PublicParts::Raw(public_key)),
            rfc8410::ID_X_448 => (KeyAlgorithm::X448, Some(448), PublicParts::Raw(public_key)),
            rfc5912::ID_DSA => (KeyAlgorithm::Dsa, None, PublicParts::Raw(None)),
            other => (KeyAlgorithm::Other(other), None, PublicParts::Raw(public_key)),
        };
        Ok(Self { pkcs8: Zeroizing::new(der.to_vec()), algorithm, bits, public })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key's size in bits, as [`crate::x509::PublicKeyInfo::bits`] counts it.
    pub fn bits(&self) -> Option<u32> {
        self.bits
    }

    /// The PKCS #8 DER of the key. This is the secret: handle it accordingly.
    pub fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Whether this key belongs to `cert`: RSA modulus and exponent, or the EC point (or EdDSA
    /// public key) equal to the certificate's. `None` when the key does not carry its public
    /// part (an EC key without the optional public key, a DSA key) or the certificate's key does
    /// not decode.
    pub fn matches(&self, cert: &Certificate) -> Option<bool> {
        let spki = cert.public_key().ok()?;
        match &self.public {
            PublicParts::Rsa { n, e } => Some(
                spki.rsa_modulus().map(tlv::unsigned_magnitude) == Some(n.as_slice())
                    && spki.rsa_exponent().map(tlv::unsigned_magnitude) == Some(e.as_slice()),
            ),
            PublicParts::Raw(Some(point)) => Some(spki.subject_public_key() == point.as_slice()),
            PublicParts::Raw(None) => None,
        }
    }
}

/// The fields of a PKCS #8 structure that signing and public-key export need.
pub(crate) struct Pkcs8Parts<'a> {
    /// `privateKeyAlgorithm`'s OID.
    pub(super) oid: ObjectIdentifier,
    /// The whole `privateKeyAlgorithm` AlgorithmIdentifier, as encoded.
    pub(super) algorithm: &'a [u8],
    /// `privateKey`'s content: an RSAPrivateKey (RFC 8017 A.1.2), an ECPrivateKey (RFC 5915 3), ...
    pub(super) private_key: &'a [u8],
}

impl PrivateKey {
    /// The algorithm and inner key of the PKCS #8 structure, read again from the DER that
    /// [`PrivateKey::from_pkcs8_der`] accepted.
    pub(crate) fn pkcs8_parts(&self) -> Option<Pkcs8Parts<'_>> {
        let outer = tlv::read_single(&self.pkcs8, tag::SEQUENCE, "PrivateKeyInfo").ok()?;
        let mut f = outer.reader();
        f.read_expected(tag::INTEGER, "version").ok()?;
        let alg = f.read_expected(tag::SEQUENCE, "privateKeyAlgorithm").ok()?;
        let private = f.read_expected(tag::OCTET_STRING, "privateKey").ok()?;
        let oid = oid_of(&alg.reader().read_expected(tag::OID, "algorithm").ok()?).ok()?;
        Some(Pkcs8Parts { oid, algorithm: alg.raw(), private_key: private.value() })
    }

    /// The key's `SubjectPublicKeyInfo` DER
    /// ([RFC 5280 4.1.2.7](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.2.7)), with
    /// the algorithm identifier of the PKCS #8 structure: what a certificate or a request for this
    /// key holds. An EC key on P-256 or P-384 without the optional public key gets it computed.
    ///
    /// # Errors
    /// [`KeyError::NoPublicKey`] when the key does not carry its public part and certslot cannot
    /// compute it (DSA; EdDSA, X25519 and X448 keys without the optional public key; EC keys on
    /// other curves without it), [`KeyError::BadPrivateKey`] when an EC key's scalar is invalid.
    pub fn public_key_der(&self) -> Result<Vec<u8>, KeyError> {
        let parts = self.pkcs8_parts().ok_or(KeyError::BadPrivateKey { what: "PrivateKeyInfo" })?;
        let key = match &self.public {
            // RFC 8017 A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
            PublicParts::Rsa { n, e } => seq(&[uint(n), uint(e)]),
            PublicParts::Raw(Some(point)) => point.clone(),
            PublicParts::Raw(None) => self.computed_point(parts.private_key)?,
        };
        Ok(seq(&[parts.algorithm.to_vec(), bit_string(&key)]))
    }

    /// Whether the key's numbers agree with each other: the RSA primes multiply to the modulus
    /// and the exponents invert each other (the `rsa` crate's checks, RFC 8017 3.2); a P-256 or
    /// P-384 scalar gives the public point the key carries (SEC 1 3.2.1). `None` when certslot
    /// cannot tell: other algorithms and curves, RSA moduli outside 1024..=8192 bits, multi-prime
    /// RSA, EC keys without their point.
    pub(crate) fn consistent(&self) -> Option<bool> {
        let parts = self.pkcs8_parts()?;
        match self.algorithm() {
            KeyAlgorithm::Rsa | KeyAlgorithm::RsaPss
                if self.bits().is_some_and(|b| (1024..=8192).contains(&b)) =>
            {
                let two_prime = pkcs1::RsaPrivateKeyRef::from_der(parts.private_key)
                    .is_ok_and(|k| k.version() == pkcs1::Version::TwoPrime);
                two_prime.then(|| {
                    <rsa::PrivateKey as pkcs1::DecodeRsaPrivateKey>::from_pkcs1_der(parts.private_key).is_ok()
                })
            }
            KeyAlgorithm::Ec(Curve::P256) => {
                let stored = p256::PublicKey::from_sec1_bytes(self.public_point()?).ok();
                let secret = p256::SecretKey::from_sec1_der(parts.private_key).ok();
                Some(stored.zip(secret).is_some_and(|(point, secret)| secret.public_key() == point))
            }
            KeyAlgorithm::Ec(Curve::P384) => {
                let stored = p384::PublicKey::from_sec1_bytes(self.public_point()?).ok();
                let secret = p384::SecretKey::from_sec1_der(parts.private_key).ok();
                Some(stored.zip(secret).is_some_and(|(point, secret)| secret.public_key() == point))
            }
            _ => None,
        }
    }

    /// The EC point (or EdDSA / X public key) the key carries, if any.
    pub(crate) fn public_point(&self) -> Option<&[u8]> {
        match &self.public {
            PublicParts::Raw(Some(point)) => Some(point),
            _ => None,
        }
    }

    /// The uncompressed point of a P-256 or P-384 key from its scalar (SEC 1 2.3.3).
    fn computed_point(&self, sec1_der: &[u8]) -> Result<Vec<u8>, KeyError> {
        use p256::elliptic_curve::sec1::ToSec1Point as _;
        let bad = KeyError::BadPrivateKey { what: "ECPrivateKey" };
        match self.algorithm {
            KeyAlgorithm::Ec(Curve::P256) => {
                let secret = p256::SecretKey::from_sec1_der(sec1_der).map_err(|_| bad)?;
                Ok(secret.public_key().to_sec1_point(false).as_bytes().to_vec())
            }
            KeyAlgorithm::Ec(Curve::P384) => {
                let secret = p384::SecretKey::from_sec1_der(sec1_der).map_err(|_| bad)?;
                Ok(secret.public_key().to_sec1_point(false).as_bytes().to_vec())
            }
            algorithm => Err(KeyError::NoPublicKey { algorithm }),
        }
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .field("pkcs8", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PrivateKey {
        let path = format!("{}/tests/data/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        PrivateKey::from_pem(&std::fs::read(path).expect("fixture"), None).expect("reads")
    }

    #[test]
    fn consistency_catches_a_changed_bit_that_structure_alone_does_not() {
        let rsa = fixture("openssl-rsa2048-pkcs8.pem");
        let ec = fixture("openssl-ec-p256-pkcs8.pem");
        assert_eq!((rsa.consistent(), ec.consistent()), (Some(true), Some(true)));
        assert_eq!(fixture("openssl-ed25519-pkcs8.pem").consistent(), None);
        // A bit of the RSA modulus (PKCS #8 offset 40) and of the EC scalar (offset 40): still
        // well-formed keys, no longer consistent ones.
        for key in [rsa, ec] {
            let mut der = key.pkcs8_der().to_vec();
            if let Some(byte) = der.get_mut(40) {
                *byte ^= 0x01;
            }
            let changed = PrivateKey::from_pkcs8_der(&der).expect("still well-formed");
            assert_eq!(changed.consistent(), Some(false), "{:?}", key.algorithm());
        }
    }
}
