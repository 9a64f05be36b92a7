//! Signature algorithms (RFC 3279, RFC 4055, RFC 5758, RFC 8410).

use core::fmt;

use const_oid::ObjectIdentifier;

use crate::x509::tlv::{self, Tlv, tag};

/// A hash function used by a signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HashAlgorithm {
    /// MD2: broken.
    Md2,
    /// MD5: broken.
    Md5,
    /// SHA-1: collisions are practical; no longer accepted by public CAs.
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// A hash certslot does not know.
    Other(ObjectIdentifier),
}

impl HashAlgorithm {
    /// True for MD2, MD5 and SHA-1, whose collisions make certificate signatures forgeable.
    pub fn is_weak(&self) -> bool {
        matches!(self, Self::Md2 | Self::Md5 | Self::Sha1)
    }
}

impl fmt::Display for HashAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Md2 => "MD2",
            Self::Md5 => "MD5",
            Self::Sha1 => "SHA-1",
            Self::Sha224 => "SHA-224",
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
            Self::Other(oid) => return write!(f, "{oid}"),
        })
    }
}

/// The algorithm a certificate is signed with (`Certificate.signatureAlgorithm`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with a hash (`sha256WithRSAEncryption`, ...).
    RsaPkcs1(HashAlgorithm),
    /// RSASSA-PSS with the hash its parameters name (SHA-1 when they are absent, RFC 4055 3.1).
    RsaPss(HashAlgorithm),
    /// ECDSA with a hash.
    Ecdsa(HashAlgorithm),
    /// DSA with a hash.
    Dsa(HashAlgorithm),
    /// Ed25519.
    Ed25519,
    /// Ed448.
    Ed448,
    /// An algorithm certslot does not know.
    Other(ObjectIdentifier),
}

const fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

const RSA_PSS: ObjectIdentifier = oid("1.2.840.113549.1.1.10");

const TABLE: [(ObjectIdentifier, SignatureAlgorithm); 19] = {
    use HashAlgorithm::*;
    use SignatureAlgorithm::*;
    [
        (oid("1.2.840.113549.1.1.2"), RsaPkcs1(Md2)),
        (oid("1.2.840.113549.1.1.4"), RsaPkcs1(Md5)),
        (oid("1.2.840.113549.1.1.5"), RsaPkcs1(Sha1)),
        (oid("1.3.14.3.2.29"), RsaPkcs1(Sha1)),
        (oid("1.2.840.113549.1.1.14"), RsaPkcs1(Sha224)),
        (oid("1.2.840.113549.1.1.11"), RsaPkcs1(Sha256)),
        (oid("1.2.840.113549.1.1.12"), RsaPkcs1(Sha384)),
        (oid("1.2.840.113549.1.1.13"), RsaPkcs1(Sha512)),
        (oid("1.2.840.10045.4.1"), Ecdsa(Sha1)),
        (oid("1.2.840.10045.4.3.1"), Ecdsa(Sha224)),
        (oid("1.2.840.10045.4.3.2"), Ecdsa(Sha256)),
        (oid("1.2.840.10045.4.3.3"), Ecdsa(Sha384)),
        (oid("1.2.840.10045.4.3.4"), Ecdsa(Sha512)),
        (oid("1.2.840.10040.4.3"), Dsa(Sha1)),
        (oid("2.16.840.1.101.3.4.3.1"), Dsa(Sha224)),
        (oid("2.16.840.1.101.3.4.3.2"), Dsa(Sha256)),
        (oid("1.3.101.112"), Ed25519),
        (oid("1.3.101.113"), Ed448),
        (oid("1.2.840.113549.1.1.10"), RsaPss(Sha1)),
    ]
};

const HASHES: [(ObjectIdentifier, HashAlgorithm); 7] = [
    (oid("1.2.840.113549.2.2"), HashAlgorithm::Md2),
    (oid("1.2.840.113549.2.5"), HashAlgorithm::Md5),
    (oid("1.3.14.3.2.26"), HashAlgorithm::Sha1),
    (oid("2.16.840.1.101.3.4.2.4"), HashAlgorithm::Sha224),
    (oid("2.16.840.1.101.3.4.2.1"), HashAlgorithm::Sha256),
    (oid("2.16.840.1.101.3.4.2.2"), HashAlgorithm::Sha384),
    (oid("2.16.840.1.101.3.4.2.3"), HashAlgorithm::Sha512),
];

impl SignatureAlgorithm {
    /// Reads an `AlgorithmIdentifier` whose OID the certificate parser has checked.
    pub(crate) fn from_identifier(alg: &Tlv<'_>) -> Self {
        let mut fields = alg.reader();
        let Some(id) = fields.read("algorithm").ok().and_then(|t| ObjectIdentifier::from_bytes(t.value).ok())
        else {
            return Self::Other(oid("0.0"));
        };
        if id == RSA_PSS {
            return Self::RsaPss(fields.read("parameters").ok().map_or(HashAlgorithm::Sha1, pss_hash));
        }
        TABLE.iter().find(|(o, _)| *o == id).map_or(Self::Other(id), |(_, alg)| *alg)
    }

    /// The hash the signature is computed over, if the algorithm uses a separate one.
    pub fn hash(&self) -> Option<HashAlgorithm> {
        match self {
            Self::RsaPkcs1(h) | Self::RsaPss(h) | Self::Ecdsa(h) | Self::Dsa(h) => Some(*h),
            _ => None,
        }
    }

    /// True when the signature relies on a broken hash (MD2, MD5, SHA-1).
    pub fn is_weak(&self) -> bool {
        self.hash().is_some_and(|h| h.is_weak())
    }
}

/// The hash an `AlgorithmIdentifier` OID names ([`HashAlgorithm::Other`] for one certslot does
/// not know).
pub(crate) fn hash_of(id: ObjectIdentifier) -> HashAlgorithm {
    HASHES.iter().find(|(o, _)| *o == id).map_or(HashAlgorithm::Other(id), |(_, h)| *h)
}

/// `id-mgf1` (RFC 8017 B.2.1), the only mask generation function in use.
pub(crate) const MGF1: ObjectIdentifier = oid("1.2.840.113549.1.1.8");

/// The parameters of an RSASSA-PSS signature or key.
///
/// ```text
/// RSASSA-PSS-params  ::=  SEQUENCE  {
///     hashAlgorithm      [0] HashAlgorithm DEFAULT sha1Identifier,
///     maskGenAlgorithm   [1] MaskGenAlgorithm DEFAULT mgf1SHA1Identifier,
///     saltLength         [2] INTEGER DEFAULT 20,
///     trailerField       [3] INTEGER DEFAULT 1  }
/// HashAlgorithm     ::=  AlgorithmIdentifier
/// MaskGenAlgorithm  ::=  AlgorithmIdentifier  -- id-mgf1, parameters: a HashAlgorithm
/// ```
/// ([RFC 4055 3.1](https://datatracker.ietf.org/doc/html/rfc4055#section-3.1))
///
/// Read by hand rather than with `pkcs1::RsaPssParams`, which holds the salt length in a `u8`
/// and refuses a trailer field other than 1 without saying which value it found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PssParameters {
    hash: HashAlgorithm,
    mask_gen: ObjectIdentifier,
    mgf_hash: Option<HashAlgorithm>,
    salt_len: u64,
    trailer_field: u64,
}

impl PssParameters {
    /// The defaults of RFC 4055 3.1: SHA-1, MGF1 with SHA-1, a 20-octet salt, trailer field 1.
    const DEFAULT: Self = Self {
        hash: HashAlgorithm::Sha1,
        mask_gen: MGF1,
        mgf_hash: Some(HashAlgorithm::Sha1),
        salt_len: 20,
        trailer_field: 1,
    };

    /// Reads `RSASSA-PSS-params`; `None` when they do not decode.
    pub(crate) fn decode(params: &Tlv<'_>) -> Option<Self> {
        let mut fields = params.expect(tag::SEQUENCE, "RSASSA-PSS-params").ok()?.reader();
        let mut out = Self::DEFAULT;
        if let Some(hash) = fields.read_optional(0xA0, "hashAlgorithm").ok()? {
            out.hash = hash_algorithm(&hash)?;
        }
        if let Some(mask_gen) = fields.read_optional(0xA1, "maskGenAlgorithm").ok()? {
            let mut wrapper = mask_gen.reader();
            let mut alg = wrapper.read_expected(tag::SEQUENCE, "MaskGenAlgorithm").ok()?.reader();
            wrapper.finish("maskGenAlgorithm").ok()?;
            let id = alg.read_expected(tag::OID, "algorithm").ok()?;
            out.mask_gen = ObjectIdentifier::from_bytes(id.value).ok()?;
            out.mgf_hash = if out.mask_gen == MGF1 {
                let hash = alg.read_expected(tag::SEQUENCE, "parameters").ok()?;
                Some(hash_identifier(&hash)?)
            } else {
                if !alg.is_empty() {
                    alg.read("parameters").ok()?;
                }
                None
            };
            alg.finish("MaskGenAlgorithm").ok()?;
        }
        if let Some(salt) = fields.read_optional(0xA2, "saltLength").ok()? {
            out.salt_len = explicit_uint(&salt)?;
        }
        if let Some(trailer) = fields.read_optional(0xA3, "trailerField").ok()? {
            out.trailer_field = explicit_uint(&trailer)?;
        }
        fields.finish("RSASSA-PSS-params").ok()?;
        Some(out)
    }

    /// The hash of the message (`hashAlgorithm`).
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// The mask generation function's OID (`id-mgf1`, 1.2.840.113549.1.1.8, in every file seen).
    pub fn mask_gen(&self) -> ObjectIdentifier {
        self.mask_gen
    }

    /// The hash MGF1 runs over; `None` when the mask generation function is not MGF1.
    pub fn mgf_hash(&self) -> Option<HashAlgorithm> {
        self.mgf_hash
    }

    /// The salt length in octets.
    pub fn salt_len(&self) -> u64 {
        self.salt_len
    }

    /// The trailer field; RFC 4055 3.1 allows only 1 (the octet 0xBC).
    pub fn trailer_field(&self) -> u64 {
        self.trailer_field
    }
}

impl fmt::Display for PssParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "hash {}, ", self.hash)?;
        match self.mgf_hash {
            Some(h) => write!(f, "MGF1 with {h}")?,
            None => write!(f, "mask generation {}", self.mask_gen)?,
        }
        write!(f, ", salt {} octets, trailer field {}", self.salt_len, self.trailer_field)
    }
}

/// The hash of `[0] EXPLICIT HashAlgorithm`.
fn hash_algorithm(explicit: &Tlv<'_>) -> Option<HashAlgorithm> {
    let mut wrapper = explicit.reader();
    let alg = wrapper.read_expected(tag::SEQUENCE, "HashAlgorithm").ok()?;
    wrapper.finish("hashAlgorithm").ok()?;
    hash_identifier(&alg)
}

/// The hash an `AlgorithmIdentifier` names; its parameters must be absent or NULL (RFC 4055 2.1).
fn hash_identifier(alg: &Tlv<'_>) -> Option<HashAlgorithm> {
    let mut fields = alg.reader();
    let id = fields.read_expected(tag::OID, "algorithm").ok()?;
    let id = ObjectIdentifier::from_bytes(id.value).ok()?;
    if !fields.is_empty() {
        fields.read_expected(tag::NULL, "parameters").ok()?;
    }
    fields.finish("HashAlgorithm").ok()?;
    Some(hash_of(id))
}

/// A non-negative `[n] EXPLICIT INTEGER` that fits in a `u64`.
fn explicit_uint(explicit: &Tlv<'_>) -> Option<u64> {
    let mut wrapper = explicit.reader();
    let int = wrapper.read_expected(tag::INTEGER, "INTEGER").ok()?;
    wrapper.finish("INTEGER").ok()?;
    tlv::small_uint(int.value)
}

/// The hash of `RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] HashAlgorithm DEFAULT sha1, ... }`
/// (RFC 4055 3.1).
fn pss_hash(params: Tlv<'_>) -> HashAlgorithm {
    if params.tag != tag::SEQUENCE {
        return HashAlgorithm::Sha1;
    }
    let mut fields = params.reader();
    let Ok(Some(explicit)) = fields.read_optional(0xA0, "hashAlgorithm") else {
        return HashAlgorithm::Sha1;
    };
    let hash_oid = explicit
        .reader()
        .read_expected(tag::SEQUENCE, "HashAlgorithm")
        .and_then(|alg| alg.reader().read_expected(tag::OID, "algorithm"))
        .ok()
        .and_then(|t| ObjectIdentifier::from_bytes(t.value).ok());
    match hash_oid {
        Some(h) => HASHES.iter().find(|(o, _)| *o == h).map_or(HashAlgorithm::Other(h), |(_, h)| *h),
        None => HashAlgorithm::Other(oid("0.0")),
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RsaPkcs1(h) => write!(f, "RSA PKCS#1 v1.5 with {h}"),
            Self::RsaPss(h) => write!(f, "RSA-PSS with {h}"),
            Self::Ecdsa(h) => write!(f, "ECDSA with {h}"),
            Self::Dsa(h) => write!(f, "DSA with {h}"),
            Self::Ed25519 => f.write_str("Ed25519"),
            Self::Ed448 => f.write_str("Ed448"),
            Self::Other(oid) => write!(f, "{oid}"),
        }
    }
}
