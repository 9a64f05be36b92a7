//! The subject public key: its algorithm, curve and size.
//!
//! ```text
//! SubjectPublicKeyInfo ::= SEQUENCE {
//!     algorithm         AlgorithmIdentifier,
//!     subjectPublicKey  BIT STRING }
//! ```
//! ([RFC 5280 4.1.2.7](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.2.7))

use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5639, rfc5912, rfc8410};
use der::Decode as _;

use crate::x509::FactError;
use crate::x509::tlv::{self, Reader, tag};

/// `prime-field` (X9.62, RFC 3279 2.3.5), an explicit curve's field type: not in const-oid's db.
const PRIME_FIELD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.1.1");
/// `characteristic-two-field` (X9.62, RFC 3279 2.3.5): not in const-oid's db.
const CHARACTERISTIC_TWO_FIELD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.1.2");

/// An elliptic curve named by OID (RFC 5480 section 2.1.1.1) or given by explicit parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Curve {
    /// NIST P-192 (secp192r1).
    P192,
    /// NIST P-224 (secp224r1).
    P224,
    /// NIST P-256 (secp256r1, prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// secp256k1.
    Secp256k1,
    /// brainpoolP256r1 (RFC 5639).
    BrainpoolP256r1,
    /// brainpoolP384r1 (RFC 5639).
    BrainpoolP384r1,
    /// brainpoolP512r1 (RFC 5639).
    BrainpoolP512r1,
    /// SM2 (GB/T 32918).
    Sm2,
    /// A named curve certslot does not know.
    Named(ObjectIdentifier),
    /// Explicit curve parameters (`specifiedCurve`), which RFC 5480 forbids but old tools wrote.
    /// The key's size is the field size the parameters give.
    Explicit,
    /// `implicitCA`: the parameters are inherited from the issuer and unknown here.
    Implicit,
}

/// `secp192r1` (X9.62 `prime192v1`, RFC 3279 2.3.5): const-oid's db lacks it.
const SECP192R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.1");
/// `secp256k1` (SEC 2 A.2.1): const-oid's db lacks it.
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
/// SM2's curve (GB/T 32918.5): const-oid's db lacks it.
const SM2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.156.10197.1.301");

const CURVES: [(ObjectIdentifier, Curve, u32); 10] = [
    (SECP192R1, Curve::P192, 192),
    (rfc5912::SECP_224_R_1, Curve::P224, 224),
    (rfc5912::SECP_256_R_1, Curve::P256, 256),
    (rfc5912::SECP_384_R_1, Curve::P384, 384),
    (rfc5912::SECP_521_R_1, Curve::P521, 521),
    (SECP256K1, Curve::Secp256k1, 256),
    (rfc5639::BRAINPOOL_P_256_R_1, Curve::BrainpoolP256r1, 256),
    (rfc5639::BRAINPOOL_P_384_R_1, Curve::BrainpoolP384r1, 384),
    (rfc5639::BRAINPOOL_P_512_R_1, Curve::BrainpoolP512r1, 512),
    (SM2, Curve::Sm2, 256),
];

impl Curve {
    /// The curve's size in bits (the size of its field), when it is known from the name alone.
    pub fn bits(&self) -> Option<u32> {
        CURVES.iter().find(|(_, c, _)| c == self).map(|(_, _, bits)| *bits)
    }

    /// The curve's OID, when it is named.
    pub fn oid(&self) -> Option<ObjectIdentifier> {
        match self {
            Self::Named(oid) => Some(*oid),
            _ => CURVES.iter().find(|(_, c, _)| c == self).map(|(oid, _, _)| *oid),
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::P192 => "P-192",
            Self::P224 => "P-224",
            Self::P256 => "P-256",
            Self::P384 => "P-384",
            Self::P521 => "P-521",
            Self::Secp256k1 => "secp256k1",
            Self::BrainpoolP256r1 => "brainpoolP256r1",
            Self::BrainpoolP384r1 => "brainpoolP384r1",
            Self::BrainpoolP512r1 => "brainpoolP512r1",
            Self::Sm2 => "SM2",
            Self::Named(oid) => return write!(f, "{oid}"),
            Self::Explicit => "explicit",
            Self::Implicit => "implicit",
        })
    }
}

/// A public key algorithm.
///
/// `Display` writes the lowercase names of the `inspect` example's contract: `rsa`, `rsa-pss`,
/// `ec`, `ed25519`, `ed448`, `x25519`, `x448`, `dsa`, or the dotted OID.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyAlgorithm {
    /// RSA (`rsaEncryption`).
    Rsa,
    /// RSA restricted to RSASSA-PSS signatures (`id-RSASSA-PSS`, RFC 4055).
    RsaPss,
    /// Elliptic curve (`id-ecPublicKey` or `id-ecDH`) on a curve.
    Ec(Curve),
    /// Ed25519 (RFC 8410).
    Ed25519,
    /// Ed448 (RFC 8410).
    Ed448,
    /// X25519 (RFC 8410), a key-agreement key.
    X25519,
    /// X448 (RFC 8410), a key-agreement key.
    X448,
    /// DSA (FIPS 186).
    Dsa,
    /// An algorithm certslot does not know, by OID.
    Other(ObjectIdentifier),
}

impl KeyAlgorithm {
    /// True for RSA in either form (`rsaEncryption` or `id-RSASSA-PSS`).
    pub fn is_rsa(&self) -> bool {
        matches!(self, Self::Rsa | Self::RsaPss)
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rsa => "rsa",
            Self::RsaPss => "rsa-pss",
            Self::Ec(_) => "ec",
            Self::Ed25519 => "ed25519",
            Self::Ed448 => "ed448",
            Self::X25519 => "x25519",
            Self::X448 => "x448",
            Self::Dsa => "dsa",
            Self::Other(oid) => return write!(f, "{oid}"),
        })
    }
}

/// A certificate's subject public key, borrowed from the certificate.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKeyInfo<'a> {
    algorithm: KeyAlgorithm,
    bits: Option<u32>,
    spki: &'a [u8],
    key: &'a [u8],
    rsa: Option<(&'a [u8], &'a [u8])>,
}

impl<'a> PublicKeyInfo<'a> {
    /// Reads the key's algorithm and size from a `SubjectPublicKeyInfo` whose outer structure the
    /// certificate parser has checked.
    pub(crate) fn decode(spki: &'a [u8]) -> Result<Self, FactError> {
        let malformed =
            |algorithm: &dyn fmt::Display| FactError::MalformedPublicKey { algorithm: algorithm.to_string() };
        let (oid, params, key) = split_spki(spki).ok_or_else(|| malformed(&"unknown"))?;
        let mut rsa = None;
        let (algorithm, bits) = match oid {
            rfc5912::RSA_ENCRYPTION | rfc5912::ID_RSASSA_PSS => {
                let algorithm =
                    if oid == rfc5912::RSA_ENCRYPTION { KeyAlgorithm::Rsa } else { KeyAlgorithm::RsaPss };
                // RFC 8017 A.1.1: RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }.
                // pkcs1 reads any modulus size; the rsa crate would refuse < 1024 or > 8192 bits.
                let parsed = pkcs1::RsaPublicKeyRef::from_der(key).map_err(|_| malformed(&algorithm))?;
                let modulus = parsed.modulus.as_bytes();
                rsa = Some((modulus, parsed.public_exponent.as_bytes()));
                (algorithm, Some(tlv::bit_length(modulus)))
            }
            rfc5912::ID_EC_PUBLIC_KEY | rfc5912::ID_EC_DH => {
                let (curve, bits) = ec_curve(params).ok_or_else(|| malformed(&"ec"))?;
                (KeyAlgorithm::Ec(curve), bits)
            }
            rfc8410::ID_ED_25519 => (KeyAlgorithm::Ed25519, Some(256)),
            rfc8410::ID_ED_448 => (KeyAlgorithm::Ed448, Some(456)),
            rfc8410::ID_X_25519 => (KeyAlgorithm::X25519, Some(256)),
            rfc8410::ID_X_448 => (KeyAlgorithm::X448, Some(448)),
            rfc5912::ID_DSA => (KeyAlgorithm::Dsa, dsa_bits(params).map_err(|()| malformed(&"dsa"))?),
            other => (KeyAlgorithm::Other(other), None),
        };
        Ok(Self { algorithm, bits, spki, key, rsa })
    }

    /// The key's algorithm (with its curve for EC keys).
    pub fn algorithm(&self) -> KeyAlgorithm {
        self.algorithm
    }

    /// The key's size in bits: the RSA modulus length, the EC field size, the DSA prime length,
    /// 256 for Ed25519 and X25519, 456 for Ed448, 448 for X448. `None` when the size is not in the
    /// certificate (DSA or EC parameters inherited from the issuer) or the algorithm is unknown.
    pub fn bits(&self) -> Option<u32> {
        self.bits
    }

    /// The EC curve, for EC keys.
    pub fn curve(&self) -> Option<Curve> {
        match self.algorithm {
            KeyAlgorithm::Ec(curve) => Some(curve),
            _ => None,
        }
    }

    /// The RSA modulus as big-endian bytes without leading zeros, for RSA keys.
    pub fn rsa_modulus(&self) -> Option<&'a [u8]> {
        self.rsa.map(|(n, _)| n)
    }

    /// The RSA public exponent as big-endian bytes without leading zeros, for RSA keys.
    pub fn rsa_exponent(&self) -> Option<&'a [u8]> {
        self.rsa.map(|(_, e)| e)
    }

    /// The `subjectPublicKey` bits (for EC keys, the encoded point; for RSA, the RSAPublicKey DER).
    pub fn subject_public_key(&self) -> &'a [u8] {
        self.key
    }

    /// The whole `SubjectPublicKeyInfo` DER.
    pub fn spki_der(&self) -> &'a [u8] {
        self.spki
    }
}

impl fmt::Debug for PublicKeyInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKeyInfo").field("algorithm", &self.algorithm).field("bits", &self.bits).finish()
    }
}

/// Splits a SubjectPublicKeyInfo into algorithm OID, parameters (if any) and the key bits.
pub(crate) fn split_spki(spki: &[u8]) -> Option<(ObjectIdentifier, Option<tlv::Tlv<'_>>, &[u8])> {
    let outer = tlv::read_single(spki, tag::SEQUENCE, "SubjectPublicKeyInfo").ok()?;
    let mut fields = outer.reader();
    let alg = fields.read_expected(tag::SEQUENCE, "AlgorithmIdentifier").ok()?;
    let bits = fields.read_expected(tag::BIT_STRING, "subjectPublicKey").ok()?;
    let mut alg_fields = alg.reader();
    let oid = alg_fields.read_expected(tag::OID, "algorithm").ok()?;
    let oid = ObjectIdentifier::from_bytes(oid.value).ok()?;
    let params = if alg_fields.is_empty() { None } else { alg_fields.read("parameters").ok() };
    // The key is a whole number of octets: the BIT STRING's unused-bits octet must be 0.
    let (&unused, key) = bits.value.split_first()?;
    (unused == 0).then_some((oid, params, key))
}

/// The curve of an EC key and its size, from `ECParameters` (RFC 5480 2.1.1, SEC 1 C.2).
fn ec_curve(params: Option<tlv::Tlv<'_>>) -> Option<(Curve, Option<u32>)> {
    let params = params?;
    match params.tag {
        tag::OID => {
            let oid = ObjectIdentifier::from_bytes(params.value).ok()?;
            Some(match CURVES.iter().find(|(o, _, _)| *o == oid) {
                Some((_, curve, bits)) => (*curve, Some(*bits)),
                None => (Curve::Named(oid), None),
            })
        }
        tag::NULL => Some((Curve::Implicit, None)),
        tag::SEQUENCE => {
            // SpecifiedECDomain ::= SEQUENCE { version, fieldID FieldID, curve, base, order, ... }
            // FieldID ::= SEQUENCE { fieldType OID, parameters ANY DEFINED BY fieldType }
            let mut domain = params.reader();
            domain.read_expected(tag::INTEGER, "version").ok()?;
            let field = domain.read_expected(tag::SEQUENCE, "fieldID").ok()?;
            let mut field = field.reader();
            let field_type = field.read_expected(tag::OID, "fieldType").ok()?;
            let field_type = ObjectIdentifier::from_bytes(field_type.value).ok()?;
            let field_params = field.read("parameters").ok()?;
            let bits = if field_type == PRIME_FIELD {
                // Prime-p ::= INTEGER: the field size is the prime's bit length.
                Some(tlv::bit_length(field_params.expect(tag::INTEGER, "Prime-p").ok()?.value))
            } else if field_type == CHARACTERISTIC_TWO_FIELD {
                // Characteristic-two ::= SEQUENCE { m INTEGER, basis OID, parameters ANY }
                let m = field_params.expect(tag::SEQUENCE, "Characteristic-two").ok()?;
                let m = m.reader().read_expected(tag::INTEGER, "m").ok()?;
                tlv::small_uint(m.value).and_then(|m| u32::try_from(m).ok())
            } else {
                None
            };
            Some((Curve::Explicit, bits))
        }
        _ => None,
    }
}

/// The DSA prime's bit length from `Dss-Parms ::= SEQUENCE { p, q, g }` (RFC 3279 2.3.2), or
/// `None` when the parameters are absent (inherited from the issuer).
fn dsa_bits(params: Option<tlv::Tlv<'_>>) -> Result<Option<u32>, ()> {
    let Some(params) = params.filter(|p| p.tag != tag::NULL) else {
        return Ok(None);
    };
    let mut fields: Reader<'_> = params.expect(tag::SEQUENCE, "Dss-Parms").map_err(|_| ())?.reader();
    let p = fields.read_expected(tag::INTEGER, "p").map_err(|_| ())?;
    Ok(Some(tlv::bit_length(p.value)))
}
