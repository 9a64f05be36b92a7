//! The hash functions of PFX MACs and key derivations, by OID, and PBKDF2 over them.
//!
//! ```text
//! DigestAlgorithmIdentifier ::= AlgorithmIdentifier  -- the hash's OID, NULL or absent parameters
//! ```
//! Hash OIDs from NIST's CSOR register (RFC 5754 3 for SHA-2, RFC 9688 2 for SHA-3) and from
//! RFC 7693 4 for BLAKE2; HMAC OIDs as PBKDF2's PRF (RFC 8018 B.1.2). The SHA-3 and BLAKE2 MACs
//! are those `openssl pkcs12 -export -macalg` writes beyond SHA-1 and SHA-2 (`sha3-256`,
//! `blake2b512`, ...).

use core::fmt;

use const_oid::ObjectIdentifier;
use hmac::{KeyInit, Mac};

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const SHA512_224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.5");
const SHA512_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.6");
/// `id-sha3-224` (RFC 9688 2).
const SHA3_224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.7");
/// `id-sha3-256` (RFC 9688 2).
const SHA3_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.8");
/// `id-sha3-384` (RFC 9688 2).
const SHA3_384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.9");
/// `id-sha3-512` (RFC 9688 2).
const SHA3_512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.10");
/// `id-blake2b512` (RFC 7693 4), OpenSSL's `blake2b512`.
const BLAKE2B_512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.1722.12.2.1.16");
/// `id-blake2s256` (RFC 7693 4), OpenSSL's `blake2s256`.
const BLAKE2S_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.1722.12.2.2.8");
const HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
const HMAC_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.8");
const HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const HMAC_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.10");
const HMAC_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.11");

/// A hash function of a MAC or a key derivation.
///
/// A PFX MAC (RFC 7292 4, [`MacAlgorithm::Hmac`](crate::MacAlgorithm::Hmac)) may use any of
/// them: the SHA-1 and SHA-2 family that every tool writes, and the SHA-3 and BLAKE2 hashes that
/// `openssl pkcs12 -export -macalg` also accepts. PBKDF2 (PBES2, PBMAC1) is read with the PRFs
/// `hmacWithSHA1`, `-SHA224`, `-SHA256`, `-SHA384` and `-SHA512` of RFC 8018 B.1.2.
///
/// `Display` writes the hash's name: `SHA-256`, `SHA-512/224`, `SHA3-256`, `BLAKE2b-512`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Digest {
    /// SHA-1.
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
}

impl Digest {
    pub(crate) fn from_oid(oid: ObjectIdentifier) -> Option<Self> {
        Some(match oid {
            SHA1 => Self::Sha1,
            SHA224 => Self::Sha224,
            SHA256 => Self::Sha256,
            SHA384 => Self::Sha384,
            SHA512 => Self::Sha512,
            SHA512_224 => Self::Sha512_224,
            SHA512_256 => Self::Sha512_256,
            SHA3_224 => Self::Sha3_224,
            SHA3_256 => Self::Sha3_256,
            SHA3_384 => Self::Sha3_384,
            SHA3_512 => Self::Sha3_512,
            BLAKE2B_512 => Self::Blake2b512,
            BLAKE2S_256 => Self::Blake2s256,
            _ => return None,
        })
    }

    /// The hash of an HMAC algorithm identifier (`hmacWithSHA256`, ...), as PBKDF2 and PBMAC1 name it.
    pub(crate) fn from_hmac_oid(oid: ObjectIdentifier) -> Option<Self> {
        Some(match oid {
            HMAC_SHA1 => Self::Sha1,
            HMAC_SHA224 => Self::Sha224,
            HMAC_SHA256 => Self::Sha256,
            HMAC_SHA384 => Self::Sha384,
            HMAC_SHA512 => Self::Sha512,
            _ => return None,
        })
    }

    /// The length of the hash's output in octets.
    pub(crate) fn output_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha224 | Self::Sha512_224 | Self::Sha3_224 => 28,
            Self::Sha256 | Self::Sha512_256 | Self::Sha3_256 | Self::Blake2s256 => 32,
            Self::Sha384 | Self::Sha3_384 => 48,
            Self::Sha512 | Self::Sha3_512 | Self::Blake2b512 => 64,
        }
    }

    /// The hash's OID.
    pub(crate) fn oid(self) -> ObjectIdentifier {
        match self {
            Self::Sha1 => SHA1,
            Self::Sha224 => SHA224,
            Self::Sha256 => SHA256,
            Self::Sha384 => SHA384,
            Self::Sha512 => SHA512,
            Self::Sha512_224 => SHA512_224,
            Self::Sha512_256 => SHA512_256,
            Self::Sha3_224 => SHA3_224,
            Self::Sha3_256 => SHA3_256,
            Self::Sha3_384 => SHA3_384,
            Self::Sha3_512 => SHA3_512,
            Self::Blake2b512 => BLAKE2B_512,
            Self::Blake2s256 => BLAKE2S_256,
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
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
        })
    }
}

/// Calls `$f::<H>(args)` with `H` the hash type of `$digest` (a [`HmacHash`]).
macro_rules! with_digest {
    ($digest:expr, $f:ident ( $($arg:expr),* )) => {
        match $digest {
            Digest::Sha1 => $f::<sha1::Sha1>($($arg),*),
            Digest::Sha224 => $f::<sha2::Sha224>($($arg),*),
            Digest::Sha256 => $f::<sha2::Sha256>($($arg),*),
            Digest::Sha384 => $f::<sha2::Sha384>($($arg),*),
            Digest::Sha512 => $f::<sha2::Sha512>($($arg),*),
            Digest::Sha512_224 => $f::<sha2::Sha512_224>($($arg),*),
            Digest::Sha512_256 => $f::<sha2::Sha512_256>($($arg),*),
            Digest::Sha3_224 => $f::<sha3::Sha3_224>($($arg),*),
            Digest::Sha3_256 => $f::<sha3::Sha3_256>($($arg),*),
            Digest::Sha3_384 => $f::<sha3::Sha3_384>($($arg),*),
            Digest::Sha3_512 => $f::<sha3::Sha3_512>($($arg),*),
            Digest::Blake2b512 => $f::<blake2::Blake2b512>($($arg),*),
            Digest::Blake2s256 => $f::<blake2::Blake2s256>($($arg),*),
        }
    };
}

pub(crate) use with_digest;

/// A hash and its HMAC (RFC 2104, the block of the key pads being the hash's block size, as
/// OpenSSL's HMAC takes it). `hmac::Hmac` for the hashes with an eager block buffer (SHA-1,
/// SHA-2, SHA-3), which keeps the keyed inner and outer states; `hmac::SimpleHmac` for BLAKE2,
/// whose lazy buffer (the last block is compressed with a finalization flag) gives it no
/// `EagerHash` core.
pub(crate) trait HmacHash {
    /// The HMAC over the hash.
    type Hmac: KeyInit + Mac + digest::Update + digest::FixedOutput + Clone;
}

macro_rules! hmac_over {
    ($hmac:ident: $($hash:ty),* $(,)?) => {
        $(impl HmacHash for $hash {
            type Hmac = hmac::$hmac<$hash>;
        })*
    };
}

hmac_over!(Hmac: sha1::Sha1, sha2::Sha224, sha2::Sha256, sha2::Sha384, sha2::Sha512, sha2::Sha512_224,
    sha2::Sha512_256, sha3::Sha3_224, sha3::Sha3_256, sha3::Sha3_384, sha3::Sha3_512);
hmac_over!(SimpleHmac: blake2::Blake2b512, blake2::Blake2s256);

/// PBKDF2 with HMAC over `prf` (RFC 8018 5.2): on the block API for SHA-1 and SHA-256 (see
/// `fast`), with the `pbkdf2` crate for the other hashes.
pub(crate) fn pbkdf2(prf: Digest, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    use crate::pfx::fast::{Sha1Block, Sha256Block, pbkdf2_hmac};
    fn run<D: HmacHash>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        // HMAC takes a key of any length, so this never fails; were it to, the key stays
        // zeroed and the decryption or MAC it feeds fails.
        if pbkdf2::pbkdf2::<D::Hmac>(password, salt, iterations, out).is_err() {
            out.fill(0);
        }
    }
    match prf {
        Digest::Sha1 => pbkdf2_hmac::<Sha1Block>(password, salt, iterations, out),
        Digest::Sha256 => pbkdf2_hmac::<Sha256Block>(password, salt, iterations, out),
        other => with_digest!(other, run(password, salt, iterations, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Digest; 13] = [
        Digest::Sha1,
        Digest::Sha224,
        Digest::Sha256,
        Digest::Sha384,
        Digest::Sha512,
        Digest::Sha512_224,
        Digest::Sha512_256,
        Digest::Sha3_224,
        Digest::Sha3_256,
        Digest::Sha3_384,
        Digest::Sha3_512,
        Digest::Blake2b512,
        Digest::Blake2s256,
    ];

    #[test]
    fn every_digest_round_trips_its_oid_and_knows_its_length() {
        fn output_len<D: digest::Digest>() -> usize {
            <D as digest::Digest>::output_size()
        }
        for d in ALL {
            assert_eq!(Digest::from_oid(d.oid()), Some(d), "{d}");
            assert_eq!(d.output_len(), with_digest!(d, output_len()), "{d}");
        }
        let oids: Vec<String> = ALL.iter().skip(7).map(|d| d.oid().to_string()).collect();
        assert_eq!(
            oids,
            [
                "2.16.840.1.101.3.4.2.7",
                "2.16.840.1.101.3.4.2.8",
                "2.16.840.1.101.3.4.2.9",
                "2.16.840.1.101.3.4.2.10",
                "1.3.6.1.4.1.1722.12.2.1.16",
                "1.3.6.1.4.1.1722.12.2.2.8"
            ]
        );
        let names: Vec<String> = ALL.iter().map(ToString::to_string).collect();
        assert_eq!(
            names,
            [
                "SHA-1",
                "SHA-224",
                "SHA-256",
                "SHA-384",
                "SHA-512",
                "SHA-512/224",
                "SHA-512/256",
                "SHA3-224",
                "SHA3-256",
                "SHA3-384",
                "SHA3-512",
                "BLAKE2b-512",
                "BLAKE2s-256"
            ]
        );
    }

    #[test]
    fn hmac_follows_rfc_4231_and_rfc_2104_for_lazy_hashes() {
        fn mac<D: HmacHash>(key: &[u8], data: &[u8]) -> Vec<u8> {
            let mut m = <D::Hmac as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        // RFC 4231 4.2 test case 1, HMAC-SHA-256.
        let key = [0x0B; 20];
        assert_eq!(
            with_digest!(Digest::Sha256, mac(&key, b"Hi There")).get(..8),
            Some(&[0xB0, 0x34, 0x4C, 0x61, 0xD8, 0xDB, 0x38, 0x53][..])
        );
        // BLAKE2s-256 through SimpleHmac equals HMAC computed by hand from RFC 2104's definition
        // H((K ^ opad) || H((K ^ ipad) || text)) with the 64-octet block.
        let h = |parts: &[&[u8]]| {
            let mut d = <blake2::Blake2s256 as digest::Digest>::new();
            parts.iter().for_each(|p| digest::Digest::update(&mut d, p));
            digest::Digest::finalize(d).to_vec()
        };
        let ipad: Vec<u8> = key.iter().copied().chain([0; 44]).map(|b| b ^ 0x36).collect();
        let opad: Vec<u8> = key.iter().copied().chain([0; 44]).map(|b| b ^ 0x5C).collect();
        let by_hand = h(&[&opad, &h(&[&ipad, b"Hi There"])]);
        assert_eq!(with_digest!(Digest::Blake2s256, mac(&key, b"Hi There")), by_hand);
    }
}
