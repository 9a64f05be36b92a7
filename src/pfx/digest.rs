//! The hash functions of PFX MACs and key derivations, by OID, and PBKDF2 over them.
//!
//! ```text
//! DigestAlgorithmIdentifier ::= AlgorithmIdentifier  -- the hash's OID, NULL or absent parameters
//! ```
//! Hash OIDs from NIST's CSOR register (RFC 5754 3, RFC 8702 for SHA-3); HMAC OIDs as PBKDF2's
//! PRF (RFC 8018 B.1.2).

use core::fmt;

use const_oid::ObjectIdentifier;

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const SHA512_224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.5");
const SHA512_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.6");
const HMAC_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.7");
const HMAC_SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.8");
const HMAC_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.9");
const HMAC_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.10");
const HMAC_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.2.11");

/// A hash function of a MAC or a key derivation.
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
            Self::Sha224 | Self::Sha512_224 => 28,
            Self::Sha256 | Self::Sha512_256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
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
        })
    }
}

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
        }
    };
}

pub(crate) use with_digest;

/// PBKDF2 with HMAC over `prf` (RFC 8018 5.2): on the block API for SHA-1 and SHA-256 (see
/// `fast`), with the `pbkdf2` crate for the other hashes.
pub(crate) fn pbkdf2(prf: Digest, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
    use crate::pfx::fast::{Sha1Block, Sha256Block, pbkdf2_hmac};
    fn run<D: hmac::EagerHash>(password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        pbkdf2::pbkdf2_hmac::<D>(password, salt, iterations, out);
    }
    match prf {
        Digest::Sha1 => pbkdf2_hmac::<Sha1Block>(password, salt, iterations, out),
        Digest::Sha256 => pbkdf2_hmac::<Sha256Block>(password, salt, iterations, out),
        other => with_digest!(other, run(password, salt, iterations, out)),
    }
}
