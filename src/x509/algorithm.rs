//! Hash and signature algorithms (RFC 3279, RFC 4055, RFC 5758, RFC 8410), named by their OIDs
//! from `const-oid`'s database. The one hash enum of certslot lives here, at the lowest layer:
//! certificate signatures and PFX MACs and key derivations (`pfx`) all name their hash with it.

use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc5912, rfc7693, rfc8410, rfc9688};

use crate::x509::tlv::{self, Tlv, tag};

/// A hash function: of a signature algorithm, a PFX integrity MAC or a key derivation.
///
/// Signatures name MD2 to SHA-512 (RFC 3279, RFC 4055, RFC 5758); a PFX MAC (RFC 7292 4) may use
/// any hash but MD2 and MD5: SHA-1, SHA-2, and the SHA-3 and BLAKE2 hashes that
/// `openssl pkcs12 -export -macalg` also offers. PBKDF2 (PBES2, PBMAC1) names its PRF by HMAC
/// (`hmacWithSHA256`, RFC 8018 B.1.2) over one of them.
///
/// `Display` writes the hash's name: `SHA-256`, `SHA-512/224`, `SHA3-256`, `BLAKE2b-512`, or the
/// dotted OID of a hash certslot does not know.
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
    /// SHA-512/224.
    Sha512_224,
    /// SHA-512/256.
    Sha512_256,
    /// SHA3-224 (FIPS 202).
    Sha3_224,
    /// SHA3-256 (FIPS 202).
    Sha3_256,
    /// SHA3-384 (FIPS 202).
    Sha3_384,
    /// SHA3-512 (FIPS 202).
    Sha3_512,
    /// BLAKE2b with a 64-octet output (RFC 7693).
    Blake2b512,
    /// BLAKE2s with a 32-octet output (RFC 7693).
    Blake2s256,
    /// A hash certslot does not know.
    Other(ObjectIdentifier),
}

/// `id-sha512-224` (NIST's CSOR register): const-oid's db lacks it.
const ID_SHA512_224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.5");
/// `id-sha512-256` (NIST's CSOR register): const-oid's db lacks it.
const ID_SHA512_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.6");

/// Every hash certslot knows, by the OID of its `AlgorithmIdentifier` (RFC 5754 3 for SHA-2,
/// RFC 9688 2 for SHA-3, RFC 7693 4 for BLAKE2), with its output length in octets.
const HASHES: [(ObjectIdentifier, HashAlgorithm, usize); 15] = [
    (rfc5912::ID_MD_2, HashAlgorithm::Md2, 16),
    (rfc5912::ID_MD_5, HashAlgorithm::Md5, 16),
    (rfc5912::ID_SHA_1, HashAlgorithm::Sha1, 20),
    (rfc5912::ID_SHA_224, HashAlgorithm::Sha224, 28),
    (rfc5912::ID_SHA_256, HashAlgorithm::Sha256, 32),
    (rfc5912::ID_SHA_384, HashAlgorithm::Sha384, 48),
    (rfc5912::ID_SHA_512, HashAlgorithm::Sha512, 64),
    (ID_SHA512_224, HashAlgorithm::Sha512_224, 28),
    (ID_SHA512_256, HashAlgorithm::Sha512_256, 32),
    (rfc9688::ID_SHA_3_224, HashAlgorithm::Sha3_224, 28),
    (rfc9688::ID_SHA_3_256, HashAlgorithm::Sha3_256, 32),
    (rfc9688::ID_SHA_3_384, HashAlgorithm::Sha3_384, 48),
    (rfc9688::ID_SHA_3_512, HashAlgorithm::Sha3_512, 64),
    (rfc7693::ID_BLAKE_2_B_512, HashAlgorithm::Blake2b512, 64),
    (rfc7693::ID_BLAKE_2_S_256, HashAlgorithm::Blake2s256, 32),
];

impl HashAlgorithm {
    /// True for MD2, MD5 and SHA-1, whose collisions make certificate signatures forgeable.
    pub fn is_weak(&self) -> bool {
        matches!(self, Self::Md2 | Self::Md5 | Self::Sha1)
    }

    /// The hash an `AlgorithmIdentifier` OID names ([`HashAlgorithm::Other`] for one certslot
    /// does not know).
    pub(crate) fn from_oid(oid: ObjectIdentifier) -> Self {
        HASHES.iter().find(|(o, _, _)| *o == oid).map_or(Self::Other(oid), |(_, h, _)| *h)
    }

    /// The hash's OID.
    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Other(oid) => oid,
            known => HASHES.iter().find(|(_, h, _)| *h == known).map_or(NO_OID, |(o, _, _)| *o),
        }
    }

    /// The length of the hash's output in octets; `None` for a hash certslot does not know.
    pub(crate) fn output_len(self) -> Option<usize> {
        HASHES.iter().find(|(_, h, _)| *h == self).map(|(_, _, len)| *len)
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
            Self::Sha512_224 => "SHA-512/224",
            Self::Sha512_256 => "SHA-512/256",
            Self::Sha3_224 => "SHA3-224",
            Self::Sha3_256 => "SHA3-256",
            Self::Sha3_384 => "SHA3-384",
            Self::Sha3_512 => "SHA3-512",
            Self::Blake2b512 => "BLAKE2b-512",
            Self::Blake2s256 => "BLAKE2s-256",
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

/// Stands for an OID that could not be read: `0.0` names no algorithm.
pub(crate) const NO_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.0");

/// `ecdsa-with-SHA1` (RFC 3279 2.2.3): const-oid's db lacks it.
const ECDSA_WITH_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.1");
/// OIW's `sha1WithRSASignature`, which old Windows CAs wrote: const-oid's db lacks it.
const OIW_SHA1_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.29");

const TABLE: [(ObjectIdentifier, SignatureAlgorithm); 19] = {
    use HashAlgorithm::*;
    use SignatureAlgorithm::*;
    [
        (rfc5912::MD_2_WITH_RSA_ENCRYPTION, RsaPkcs1(Md2)),
        (rfc5912::MD_5_WITH_RSA_ENCRYPTION, RsaPkcs1(Md5)),
        (rfc5912::SHA_1_WITH_RSA_ENCRYPTION, RsaPkcs1(Sha1)),
        (OIW_SHA1_WITH_RSA, RsaPkcs1(Sha1)),
        (rfc5912::SHA_224_WITH_RSA_ENCRYPTION, RsaPkcs1(Sha224)),
        (rfc5912::SHA_256_WITH_RSA_ENCRYPTION, RsaPkcs1(Sha256)),
        (rfc5912::SHA_384_WITH_RSA_ENCRYPTION, RsaPkcs1(Sha384)),
        (rfc5912::SHA_512_WITH_RSA_ENCRYPTION, RsaPkcs1(Sha512)),
        (ECDSA_WITH_SHA1, Ecdsa(Sha1)),
        (rfc5912::ECDSA_WITH_SHA_224, Ecdsa(Sha224)),
        (rfc5912::ECDSA_WITH_SHA_256, Ecdsa(Sha256)),
        (rfc5912::ECDSA_WITH_SHA_384, Ecdsa(Sha384)),
        (rfc5912::ECDSA_WITH_SHA_512, Ecdsa(Sha512)),
        (rfc5912::DSA_WITH_SHA_1, Dsa(Sha1)),
        (rfc5912::DSA_WITH_SHA_224, Dsa(Sha224)),
        (rfc5912::DSA_WITH_SHA_256, Dsa(Sha256)),
        (rfc8410::ID_ED_25519, Ed25519),
        (rfc8410::ID_ED_448, Ed448),
        (rfc5912::ID_RSASSA_PSS, RsaPss(Sha1)),
    ]
};

impl SignatureAlgorithm {
    /// Reads an `AlgorithmIdentifier` whose OID the certificate parser has checked.
    pub(crate) fn from_identifier(alg: &Tlv<'_>) -> Self {
        let mut fields = alg.reader();
        let Some(id) = fields.read("algorithm").ok().and_then(|t| ObjectIdentifier::from_bytes(t.value).ok())
        else {
            return Self::Other(NO_OID);
        };
        if id == rfc5912::ID_RSASSA_PSS {
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

/// `id-mgf1` (RFC 8017 B.2.1), the only mask generation function in use.
pub(crate) const MGF1: ObjectIdentifier = rfc5912::ID_MGF_1;

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
    Some(HashAlgorithm::from_oid(id))
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
    HashAlgorithm::from_oid(hash_oid.unwrap_or(NO_OID))
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
