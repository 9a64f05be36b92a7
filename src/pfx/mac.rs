//! The integrity MAC of a PFX.
//!
//! ```text
//! MacData ::= SEQUENCE {
//!     mac        DigestInfo,
//!     macSalt    OCTET STRING,
//!     iterations INTEGER DEFAULT 1 }
//! DigestInfo ::= SEQUENCE { digestAlgorithm DigestAlgorithmIdentifier, digest OCTET STRING }
//! ```
//! ([RFC 7292 4](https://datatracker.ietf.org/doc/html/rfc7292#section-4)); the key is derived
//! with the appendix B KDF over the same hash as the HMAC. PBMAC1
//! ([RFC 9579](https://datatracker.ietf.org/doc/html/rfc9579)) derives it with PBKDF2 instead, from
//! the password's UTF-8 octets, and ignores `macSalt` and `iterations`.

use core::fmt;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use hmac::{KeyInit, Mac};
use zeroize::Zeroizing;

use crate::pfx::PfxError;
use crate::pfx::digest::{HmacHash, hmac_hash, mac_hash, output_len, pbkdf2, with_hash};
use crate::pfx::kdf::{self, Purpose};
use crate::x509::ParseError;
use crate::x509::algorithm::HashAlgorithm;
use crate::x509::tlv::{self, Tlv, tag};

/// `id-PBMAC1` (RFC 8018 A.5): not in const-oid's db nor the `pkcs5` crate.
const PBMAC1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.14");

/// How a PFX's integrity is protected.
///
/// `Display` writes what an admin checks: `SHA-256 MAC, 2048 iterations`,
/// `SHA3-256 MAC, 2048 iterations`, `PBMAC1 HMAC-SHA-256, PBKDF2-HMAC-SHA-256, 2048 iterations`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MacAlgorithm {
    /// HMAC with a key from the RFC 7292 appendix B KDF over the same hash: SHA-1, SHA-2, and
    /// the SHA-3 and BLAKE2 hashes OpenSSL's `-macalg` offers (never MD2, MD5 or
    /// [`HashAlgorithm::Other`]).
    Hmac {
        /// The hash of both.
        digest: HashAlgorithm,
        /// KDF iterations.
        iterations: u32,
    },
    /// PBMAC1 (RFC 9579): HMAC with a key from PBKDF2.
    Pbmac1 {
        /// The HMAC's hash.
        digest: HashAlgorithm,
        /// PBKDF2's HMAC hash.
        prf: HashAlgorithm,
        /// PBKDF2 iterations.
        iterations: u32,
    },
}

impl MacAlgorithm {
    /// The iterations of its key derivation.
    pub fn iterations(&self) -> u32 {
        match self {
            Self::Hmac { iterations, .. } | Self::Pbmac1 { iterations, .. } => *iterations,
        }
    }
}

impl fmt::Display for MacAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hmac { digest, iterations } => write!(f, "{digest} MAC, {iterations} iterations"),
            Self::Pbmac1 { digest, prf, iterations } => {
                write!(f, "PBMAC1 HMAC-{digest}, PBKDF2-HMAC-{prf}, {iterations} iterations")
            }
        }
    }
}

/// A parsed `MacData`, ready to verify.
pub(crate) struct MacData {
    pub(super) algorithm: MacAlgorithm,
    salt: Vec<u8>,
    expected: Vec<u8>,
    /// For PBMAC1: the key length PBKDF2 must produce.
    key_len: usize,
}

fn read_iterations(t: &Tlv<'_>, context: &'static str, max: u32) -> Result<u32, PfxError> {
    let n = tlv::small_uint(t.value()).ok_or(ParseError::Malformed { offset: t.offset(), what: context })?;
    if n == 0 {
        return Err(ParseError::Malformed { offset: t.offset(), what: context }.into());
    }
    u32::try_from(n).ok().filter(|n| *n <= max).ok_or(PfxError::TooManyIterations {
        context,
        iterations: n,
        max,
    })
}

impl MacData {
    /// Reads `MacData` and checks its iteration count against `max_iterations`.
    pub(crate) fn parse(t: Tlv<'_>, max_iterations: u32) -> Result<Self, PfxError> {
        let mut fields = t.expect(tag::SEQUENCE, "MacData")?.reader();
        let digest_info = fields.read_expected(tag::SEQUENCE, "DigestInfo")?;
        let salt = fields.read_expected(tag::OCTET_STRING, "macSalt")?;
        let iterations = match fields.read_optional(tag::INTEGER, "iterations")? {
            Some(i) => read_iterations(&i, "MAC", max_iterations)?,
            None => 1,
        };
        fields.finish("MacData")?;
        let mut di = digest_info.reader();
        let alg = di.read_expected(tag::SEQUENCE, "digestAlgorithm")?;
        let expected = di.read_expected(tag::OCTET_STRING, "digest")?;
        di.finish("DigestInfo")?;
        let mut alg_fields = alg.reader();
        let oid_tlv = alg_fields.read_expected(tag::OID, "digestAlgorithm")?;
        let oid = ObjectIdentifier::from_bytes(oid_tlv.value())
            .map_err(|_| ParseError::Malformed { offset: oid_tlv.offset(), what: "digestAlgorithm" })?;
        if oid == PBMAC1 {
            let params = alg_fields.read_expected(tag::SEQUENCE, "PBMAC1-params")?;
            return Self::parse_pbmac1(params, expected.value().to_vec(), max_iterations);
        }
        let digest = mac_hash(oid).ok_or(PfxError::UnsupportedAlgorithm { context: "MAC", oid })?;
        Ok(Self {
            algorithm: MacAlgorithm::Hmac { digest, iterations },
            salt: salt.value().to_vec(),
            expected: expected.value().to_vec(),
            key_len: 0,
        })
    }

    /// ```text
    /// PBMAC1-params ::= SEQUENCE {
    ///     keyDerivationFunc AlgorithmIdentifier {{PBMAC1-KDFs}},
    ///     messageAuthScheme AlgorithmIdentifier {{PBMAC1-MACs}} }
    /// PBKDF2-params ::= SEQUENCE {
    ///     salt CHOICE { specified OCTET STRING, otherSource AlgorithmIdentifier },
    ///     iterationCount INTEGER (1..MAX),
    ///     keyLength INTEGER (1..MAX) OPTIONAL,
    ///     prf AlgorithmIdentifier DEFAULT algid-hmacWithSHA1 }
    /// ```
    /// (RFC 8018 A.5, A.2; RFC 9579 requires `keyLength`.)
    fn parse_pbmac1(params: Tlv<'_>, expected: Vec<u8>, max_iterations: u32) -> Result<Self, PfxError> {
        let mut p = params.reader();
        let kdf = p.read_expected(tag::SEQUENCE, "keyDerivationFunc")?;
        let scheme = p.read_expected(tag::SEQUENCE, "messageAuthScheme")?;
        let mut kdf = kdf.reader();
        let kdf_oid = oid_of(&kdf.read_expected(tag::OID, "keyDerivationFunc")?)?;
        if kdf_oid != rfc5911::ID_PBKDF_2 {
            return Err(PfxError::UnsupportedAlgorithm { context: "PBMAC1 key derivation", oid: kdf_oid });
        }
        let pbkdf2 = kdf.read_expected(tag::SEQUENCE, "PBKDF2-params")?;
        let (salt, iterations, key_len, prf) = parse_pbkdf2_params(pbkdf2, "PBMAC1", max_iterations)?;
        let key_len = key_len.ok_or(PfxError::InvalidParameters { context: "PBMAC1 (keyLength missing)" })?;
        let mac_oid = oid_of(&scheme.reader().read_expected(tag::OID, "messageAuthScheme")?)?;
        let digest = hmac_hash(mac_oid)
            .ok_or(PfxError::UnsupportedAlgorithm { context: "PBMAC1 MAC", oid: mac_oid })?;
        if key_len == 0 || key_len > 512 {
            return Err(PfxError::InvalidParameters { context: "PBMAC1 keyLength" });
        }
        Ok(Self { algorithm: MacAlgorithm::Pbmac1 { digest, prf, iterations }, salt, expected, key_len })
    }

    /// The hash compressions verifying costs with `forms` password forms (see
    /// `Encryption::cost`).
    pub(crate) fn cost(&self, forms: usize) -> u64 {
        match self.algorithm {
            MacAlgorithm::Hmac { iterations, .. } => u64::from(iterations) * forms as u64,
            MacAlgorithm::Pbmac1 { prf, iterations, .. } => {
                2 * self.key_len.div_ceil(output_len(prf)) as u64 * u64::from(iterations)
            }
        }
    }

    /// Verifies the MAC over `data` with each form of the password in turn; returns the index of
    /// the BMP form that verified (always 0 for PBMAC1, which uses UTF-8).
    pub(crate) fn verify(&self, bmp_forms: &[Zeroizing<Vec<u8>>], utf8: &[u8], data: &[u8]) -> Option<usize> {
        match self.algorithm {
            MacAlgorithm::Hmac { digest, iterations } => bmp_forms
                .iter()
                .position(|form| hmac_pkcs12(digest, form, &self.salt, iterations, data, &self.expected)),
            MacAlgorithm::Pbmac1 { digest, prf, iterations } => {
                let mut key = Zeroizing::new(vec![0u8; self.key_len]);
                pbkdf2(prf, utf8, &self.salt, iterations, &mut key);
                hmac_verify(digest, &key, data, &self.expected).then_some(0)
            }
        }
    }
}

pub(crate) fn oid_of(t: &Tlv<'_>) -> Result<ObjectIdentifier, PfxError> {
    ObjectIdentifier::from_bytes(t.value())
        .map_err(|_| ParseError::Malformed { offset: t.offset(), what: "algorithm" }.into())
}

/// Reads PBKDF2-params: salt, iterations (checked against `max`), keyLength, PRF.
pub(crate) fn parse_pbkdf2_params(
    t: Tlv<'_>,
    context: &'static str,
    max: u32,
) -> Result<(Vec<u8>, u32, Option<usize>, HashAlgorithm), PfxError> {
    let mut f = t.reader();
    let salt = f.read(context)?;
    if salt.tag() != tag::OCTET_STRING {
        return Err(PfxError::InvalidParameters { context: "PBKDF2 salt (otherSource)" });
    }
    let iterations = read_iterations(&f.read_expected(tag::INTEGER, "iterationCount")?, context, max)?;
    let key_len = match f.read_optional(tag::INTEGER, "keyLength")? {
        Some(k) => Some(
            tlv::small_uint(k.value())
                .and_then(|k| usize::try_from(k).ok())
                .ok_or(PfxError::InvalidParameters { context: "PBKDF2 keyLength" })?,
        ),
        None => None,
    };
    let prf = match f.read_optional(tag::SEQUENCE, "prf")? {
        Some(prf) => {
            let oid = oid_of(&prf.reader().read_expected(tag::OID, "prf")?)?;
            hmac_hash(oid).ok_or(PfxError::UnsupportedAlgorithm { context: "PBKDF2 PRF", oid })?
        }
        None => HashAlgorithm::Sha1,
    };
    f.finish("PBKDF2-params")?;
    Ok((salt.value().to_vec(), iterations, key_len, prf))
}

fn hmac_pkcs12(
    digest: HashAlgorithm,
    bmp: &[u8],
    salt: &[u8],
    iterations: u32,
    data: &[u8],
    expected: &[u8],
) -> bool {
    let key = kdf::derive_with(digest, bmp, salt, Purpose::Mac, iterations, output_len(digest));
    hmac_verify(digest, &key, data, expected)
}

/// Computes the RFC 7292 MAC (for export).
pub(crate) fn compute_pkcs12(
    digest: HashAlgorithm,
    bmp: &[u8],
    salt: &[u8],
    iterations: u32,
    data: &[u8],
) -> Vec<u8> {
    fn run<D: HmacHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
        match <D::Hmac as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(data);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    let key = kdf::derive_with(digest, bmp, salt, Purpose::Mac, iterations, output_len(digest));
    with_hash!(digest, run(&key, data), else Vec::new())
}

fn hmac_verify(digest: HashAlgorithm, key: &[u8], data: &[u8], expected: &[u8]) -> bool {
    fn run<D: HmacHash>(key: &[u8], data: &[u8], expected: &[u8]) -> bool {
        let Ok(mut mac) = <D::Hmac as KeyInit>::new_from_slice(key) else { return false };
        mac.update(data);
        mac.verify_slice(expected).is_ok()
    }
    with_hash!(digest, run(key, data, expected), else false)
}
