//! The private key of a PFX: a PKCS #8 structure, kept secret.
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
//! the inner key with `pkcs1` (RSA) and `sec1` (EC).

use core::fmt;

use const_oid::ObjectIdentifier;
use der::Decode as _;
use zeroize::Zeroizing;

use crate::pfx::PfxError;
use crate::pfx::mac::oid_of;
use crate::x509::cert::Certificate;
use crate::x509::key::{self, Curve, KeyAlgorithm};
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
            if item.tag == 0x81 || item.tag == 0xA1 {
                // [1] IMPLICIT BIT STRING: the unused-bits octet, then the key.
                public_key = item.value.split_first().map(|(_, k)| k.to_vec());
            }
        }
        let mut alg_fields = alg.reader();
        let oid = oid_of(&alg_fields.read_expected(tag::OID, "algorithm").map_err(|_| bad("algorithm"))?)
            .map_err(|_| bad("algorithm"))?;
        let params = if alg_fields.is_empty() { None } else { alg_fields.read("parameters").ok() };
        let (algorithm, bits, public) = match oid {
            key::RSA_ENCRYPTION | key::RSASSA_PSS => {
                let rsa =
                    pkcs1::RsaPrivateKeyRef::from_der(private.value).map_err(|_| bad("RSAPrivateKey"))?;
                let n = tlv::unsigned_magnitude(rsa.modulus.as_bytes()).to_vec();
                let e = tlv::unsigned_magnitude(rsa.public_exponent.as_bytes()).to_vec();
                let algorithm =
                    if oid == key::RSA_ENCRYPTION { KeyAlgorithm::Rsa } else { KeyAlgorithm::RsaPss };
                (algorithm, Some(tlv::bit_length(&n)), PublicParts::Rsa { n, e })
            }
            key::EC_PUBLIC_KEY | key::EC_DH => {
                let ec = sec1::EcPrivateKey::from_der(private.value).map_err(|_| bad("ECPrivateKey"))?;
                let curve_oid = match params {
                    Some(p) if p.tag == tag::OID => ObjectIdentifier::from_bytes(p.value).ok(),
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
            key::ED25519 => (KeyAlgorithm::Ed25519, Some(256), PublicParts::Raw(public_key)),
            key::ED448 => (KeyAlgorithm::Ed448, Some(456), PublicParts::Raw(public_key)),
            key::X25519 => (KeyAlgorithm::X25519, Some(256), PublicParts::Raw(public_key)),
            key::X448 => (KeyAlgorithm::X448, Some(448), PublicParts::Raw(public_key)),
            key::DSA => (KeyAlgorithm::Dsa, None, PublicParts::Raw(None)),
            other => (KeyAlgorithm::Other(other), None, PublicParts::Raw(public_key)),
        };
        Ok(Self { pkcs8: Zeroizing::new(der.to_vec()), algorithm, bits, public })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key's size in bits, as [`crate::PublicKeyInfo::bits`] counts it.
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

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("algorithm", &self.algorithm)
            .field("bits", &self.bits)
            .field("pkcs8", &"[redacted]")
            .finish()
    }
}
