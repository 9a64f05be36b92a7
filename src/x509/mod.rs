//! Layer 1, bytes to facts: reads X.509 certificates (DER, PEM, PEM bundles) and reports what
//! admins look at (thumbprint, subject, issuer, SANs, serial, validity, key algorithm and size,
//! extensions); checks a certificate's signature with its issuer's key; reads what a CA answers to
//! a request (a certificate, a PEM chain, a PKCS #7 bundle) and puts the chain in order.
//!
//! Uses no other layer of certslot: every other layer sits on this one.
//!
//! The files follow the data: `tlv` walks DER items with byte offsets,
//! `ber` rewrites BER (indefinite lengths) to DER for it, `pem` turns
//! text into DER blocks and DER into PEM (all Base64 through `base64ct`), `cert` reads the certificate structure (RFC 5280 4.1) and
//! hands its parts to `name`, `ext`, `key`,
//! `serial`, `algorithm` (the one hash enum, and signature
//! algorithms) and `time`; `thumbprint`
//! hashes the DER as Windows shows it; `format` tells a file's format from its
//! first bytes. `verify` checks a signature with an issuer's key,
//! `bundle` reads a CA's answer (PKCS #7 included) into certificates, and
//! `chain` orders them by name and signature. `error` holds the
//! errors the files share; `verify`, `bundle` and `chain` keep theirs beside the code that raises
//! them. Each layer keeps its own error enums, so that a layer's errors never depend on a layer
//! above it.

pub(crate) mod algorithm;
pub(crate) mod ber;
pub(crate) mod bundle;
pub(crate) mod cert;
pub(crate) mod chain;
pub(crate) mod error;
pub(crate) mod ext;
pub(crate) mod format;
pub(crate) mod key;
pub(crate) mod name;
pub(crate) mod pem;
pub(crate) mod serial;
pub(crate) mod thumbprint;
pub(crate) mod time;
pub(crate) mod tlv;
pub(crate) mod verify;

pub use self::algorithm::{HashAlgorithm, PssParameters, SignatureAlgorithm};
pub use self::bundle::BundleError;
pub use self::cert::{Certificate, Version};
pub use self::chain::{Chain, ChainEnd, ChainError, MAX_CHAIN_LENGTH};
pub use self::error::{FactError, ParseError, ThumbprintError};
pub use self::ext::{BasicConstraints, Extension, GeneralName, KeyUsage, KeyUsageBit, eku};
pub use self::format::FileFormat;
pub use self::key::{Curve, KeyAlgorithm, PublicKeyInfo};
pub use self::name::{Attribute, Name, Rdn, StringKind, attr};
pub use self::serial::SerialNumber;
pub use self::thumbprint::{Sha256Fingerprint, Thumbprint};
pub use self::verify::{SignatureCheck, VerifyError};
/// Re-exported so callers can name OIDs without adding `const-oid` themselves.
pub use const_oid::ObjectIdentifier;
