//! Why a PFX could not be imported or written.

use const_oid::ObjectIdentifier;

use crate::x509::ParseError;

/// Why a PFX (PKCS #12) file could not be imported.
///
/// No variant carries the password or any key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PfxError {
    /// The file is not a PKCS #12 structure, or is truncated or corrupt.
    #[error("not a readable PKCS #12 file: {0}")]
    Corrupt(#[from] ParseError),
    /// A PFX version other than 3 (RFC 7292 4).
    #[error("unsupported PFX version {version} (expected 3)")]
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// The password is wrong: the MAC does not verify, or (without a MAC) no form of the
    /// password decrypts the contents.
    #[error("wrong password ({check})")]
    WrongPassword {
        /// What showed it.
        check: PasswordCheck,
    },
    /// An algorithm certslot does not implement (or refuses, such as scrypt with unbounded
    /// memory), by OID.
    #[error("unsupported {context} algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where it appears: `"MAC"`, `"encryption"`, `"content type"`, `"PBES2 key derivation"`, ...
        context: &'static str,
        /// The algorithm's OID.
        oid: ObjectIdentifier,
    },
    /// The parameters of an algorithm are malformed or out of range (a key length that does
    /// not fit the cipher, an IV of the wrong size).
    #[error("invalid {context} parameters")]
    InvalidParameters {
        /// Where they appear.
        context: &'static str,
    },
    /// A key derivation asks for more iterations than the import allows.
    #[error("{context} asks for {iterations} iterations; at most {max} allowed")]
    TooManyIterations {
        /// Which derivation.
        context: &'static str,
        /// The iterations the file asks for.
        iterations: u64,
        /// The limit ([`crate::ImportOptions::max_iterations`]).
        max: u32,
    },
    /// All key derivations of the file together ask for more iterations than the import allows.
    #[error("the file asks for {iterations} key-derivation iterations in all; at most {max} allowed")]
    TooMuchWork {
        /// The sum of the iterations the file asks for so far.
        iterations: u64,
        /// The limit ([`crate::ImportOptions::max_total_iterations`]).
        max: u64,
    },
    /// The file holds no certificate, and the import requires one.
    #[error("the file holds no certificate")]
    NoCertificate,
    /// The file holds no private key, and the import requires one.
    #[error("the file holds no private key")]
    NoPrivateKey,
    /// The private key matches none of the certificates (RSA modulus and exponent, EC point).
    #[error("the private key matches none of the {} certificates ({})", thumbprints.len(), list(thumbprints))]
    KeyMismatch {
        /// Thumbprints of the certificates in the file.
        thumbprints: Vec<crate::Thumbprint>,
    },
    /// A certificate bag holds bytes that are not a certificate.
    #[error("certificate {index} in the file: {source}")]
    BadCertificate {
        /// 0-based index among the certificate bags.
        index: usize,
        /// Why it did not parse.
        #[source]
        source: ParseError,
    },
    /// A decrypted private key is not a PKCS #8 structure certslot can read.
    #[error("the private key is malformed ({what})")]
    BadPrivateKey {
        /// What could not be read.
        what: &'static str,
    },
}

fn list(items: &[impl core::fmt::Display]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// What showed a password to be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// The MAC did not verify with any form of the password.
    Mac,
    /// There is no MAC, and no form of the password decrypts the contents.
    Decryption,
}

impl core::fmt::Display for PasswordCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Mac => "the integrity MAC does not verify",
            Self::Decryption => "the contents do not decrypt",
        })
    }
}

/// Why a PFX could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The private key does not match the certificate's public key.
    #[error("the private key does not match certificate {thumbprint}")]
    KeyMismatch {
        /// The certificate's thumbprint.
        thumbprint: crate::Thumbprint,
    },
    /// An iteration count outside 1..=10,000,000.
    #[error("iteration count {iterations} is outside 1..=10000000")]
    InvalidIterations {
        /// The count asked for.
        iterations: u32,
    },
    /// The encryption failed (the cipher refused its key or input).
    #[error("encryption failed")]
    Encryption,
}
