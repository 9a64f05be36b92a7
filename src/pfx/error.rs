//! Why a PFX could not be imported or written, and why a private key could not be generated,
//! read, written or used for signing.

use const_oid::ObjectIdentifier;

use crate::x509::ParseError;
use crate::x509::key::{Curve, KeyAlgorithm};

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
    /// The file lacks a protection the import requires ([`crate::ImportOptions::require_protection`]).
    #[error("the file is not protected by its password: {missing}")]
    NotProtected {
        /// What it lacks: "it has no integrity MAC", or "its private key is not encrypted".
        missing: &'static str,
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
    /// An encrypted PKCS #8 key (which has no MAC): the block cipher's padding does not check
    /// after decryption (RFC 8018 6.2.2 step 5, RFC 7292 appendix C).
    Padding,
    /// An encrypted PKCS #8 key: the padding checks, but the decrypted bytes are not a private
    /// key structure, or not a consistent key (a wrong password that happened to leave valid
    /// padding, or corrupt ciphertext).
    KeyStructure,
}

impl core::fmt::Display for PasswordCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Mac => "the integrity MAC does not verify",
            Self::Decryption => "the contents do not decrypt",
            Self::Padding => "the decrypted padding does not check",
            Self::KeyStructure => "the decrypted bytes are not a private key",
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

/// Why a private key could not be generated, read (PKCS #8, PKCS #1, SEC1, PEM), written, or used
/// for signing.
///
/// No variant carries the password or any key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// An RSA modulus size certslot does not generate (NIST SP 800-57 Part 1 Rev. 5 table 2
    /// puts 2048 bits at 112-bit strength, the minimum after 2030 included).
    #[error("RSA keys of {bits} bits are not generated; allowed sizes: {}", list(allowed))]
    UnsupportedRsaSize {
        /// The size asked for.
        bits: u32,
        /// The sizes certslot generates.
        allowed: &'static [u32],
    },
    /// A curve certslot does not generate keys on.
    #[error("keys on curve {curve} are not generated; allowed curves: {}", list(allowed))]
    UnsupportedCurve {
        /// The curve asked for.
        curve: Curve,
        /// The curves certslot generates keys on.
        allowed: &'static [Curve],
    },
    /// The key generator failed (the random number generator failed, or the generator refused
    /// its parameters).
    #[error("generating a {algorithm} key failed")]
    Generation {
        /// The algorithm (with its curve) of the key being generated.
        algorithm: KeyAlgorithm,
        /// The key size asked for.
        bits: u32,
    },
    /// A PKCS #8 encryption iteration count outside the range [`crate::pfx::Pkcs8Options`] accepts.
    #[error("iteration count {iterations} is outside {min}..={max}")]
    InvalidIterations {
        /// The count asked for.
        iterations: u32,
        /// The smallest count accepted.
        min: u32,
        /// The largest count accepted.
        max: u32,
    },
    /// The encryption of a PKCS #8 key failed (the cipher refused its key or input).
    #[error("encrypting the private key failed")]
    Encryption,
    /// The text holds no private key PEM block (`ENCRYPTED PRIVATE KEY`, `PRIVATE KEY`,
    /// `RSA PRIVATE KEY`, `EC PRIVATE KEY`).
    #[error("no private key PEM block found{}", found(labels))]
    NoPrivateKey {
        /// Labels of the blocks that were found and skipped, in order.
        labels: Vec<String>,
    },
    /// The text holds more than one private key block, and which one is meant is unclear.
    #[error("{} private key PEM blocks found ({}); expected one", labels.len(), labels.join(", "))]
    SeveralPrivateKeys {
        /// Labels of the private key blocks, in order.
        labels: Vec<String>,
    },
    /// The key is encrypted and no password was given.
    #[error("the {label} block is encrypted and no password was given")]
    PasswordRequired {
        /// The block's label.
        label: String,
    },
    /// An OpenSSL "traditional" encrypted PEM block (`Proc-Type: 4,ENCRYPTED` with `DEK-Info`,
    /// RFC 1421 headers over an MD5-based key derivation), which certslot does not read; convert it
    /// with `openssl pkcs8 -topk8 -v2 aes-256-cbc`.
    #[error(
        "the {label} block uses OpenSSL's traditional PEM encryption ({dek_info}); convert it to PKCS #8 with `openssl pkcs8 -topk8 -v2 aes-256-cbc`"
    )]
    LegacyPemEncryption {
        /// The block's label.
        label: String,
        /// The `DEK-Info` header's value (cipher and IV), empty when the header is missing.
        dek_info: String,
    },
    /// The password is wrong. PKCS #8 has no MAC: a wrong password shows as bad padding, or as
    /// decrypted bytes that are not a key.
    #[error("wrong password ({check})")]
    WrongPassword {
        /// What showed it.
        check: PasswordCheck,
    },
    /// The PEM or DER structure is not readable.
    #[error("not a readable private key: {0}")]
    Corrupt(#[from] ParseError),
    /// An encryption algorithm certslot does not implement (or refuses, such as scrypt), by OID.
    #[error("unsupported {context} algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where it appears: `"encryption"`, `"PBES2 key derivation"`, ...
        context: &'static str,
        /// The algorithm's OID.
        oid: ObjectIdentifier,
    },
    /// The parameters of an encryption algorithm are malformed or out of range.
    #[error("invalid {context} parameters")]
    InvalidParameters {
        /// Where they appear.
        context: &'static str,
    },
    /// The key derivation asks for more iterations than the import allows.
    #[error("{context} asks for {iterations} iterations; at most {max} allowed")]
    TooManyIterations {
        /// Which derivation.
        context: &'static str,
        /// The iterations the key asks for.
        iterations: u64,
        /// The limit ([`crate::ImportOptions::max_iterations`]).
        max: u32,
    },
    /// The key structure (PKCS #8, PKCS #1 or SEC1) or its inner RSA / EC key does not decode.
    #[error("the private key is malformed ({what})")]
    BadPrivateKey {
        /// What could not be read.
        what: &'static str,
    },
    /// The key does not carry its public part and certslot cannot compute it (a DSA key, an
    /// EdDSA or X key without the optional public key).
    #[error("the {algorithm} private key does not carry its public key")]
    NoPublicKey {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
    /// The key cannot sign here: certslot signs with RSA (`rsaEncryption`, moduli of 1024 to
    /// 8192 bits) and SHA-256, ECDSA on P-256 with SHA-256 and on P-384 with SHA-384.
    #[error("certslot does not sign with {algorithm} keys{}", bits.map(|b| format!(" of {b} bits")).unwrap_or_default())]
    CannotSign {
        /// The key's algorithm (with its curve).
        algorithm: KeyAlgorithm,
        /// The key's size.
        bits: Option<u32>,
    },
}

fn found(labels: &[String]) -> String {
    if labels.is_empty() { String::new() } else { format!(" (found: {})", labels.join(", ")) }
}

/// The [`KeyError`] of a failure in the PFX machinery shared with PKCS #8 (reading and running
/// encryption algorithms, reading PKCS #8).
pub(crate) fn key_error(error: PfxError) -> KeyError {
    match error {
        PfxError::Corrupt(e) => KeyError::Corrupt(e),
        PfxError::WrongPassword { check } => KeyError::WrongPassword { check },
        PfxError::UnsupportedAlgorithm { context, oid } => KeyError::UnsupportedAlgorithm { context, oid },
        PfxError::InvalidParameters { context } => KeyError::InvalidParameters { context },
        PfxError::TooManyIterations { context, iterations, max } => {
            KeyError::TooManyIterations { context, iterations, max }
        }
        PfxError::BadPrivateKey { what } => KeyError::BadPrivateKey { what },
        // The PFX-only errors (versions, bags, certificates, MAC work) cannot come from the
        // shared code; should one appear, it is a structure that is not a key.
        _ => KeyError::BadPrivateKey { what: "EncryptedPrivateKeyInfo" },
    }
}
