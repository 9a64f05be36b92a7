//! Signature algorithms (RFC 3279, RFC 4055, RFC 5758, RFC 8410).

use core::fmt;

use const_oid::ObjectIdentifier;

use crate::x509::tlv::{Tlv, tag};

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
