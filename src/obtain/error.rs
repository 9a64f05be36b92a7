//! Why a certificate request, a self-signed certificate or the completion of a request failed.

use crate::pfx::{ExportError, KeyError};
use crate::validate::Violation;
use crate::x509::{BundleError, ChainError, FactError, Thumbprint};

/// Why a certificate could not be asked for, made or completed. Nothing is signed when a check
/// fails.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The subject is not an RFC 4514 distinguished name that certslot can encode.
    #[error("invalid subject {subject:?}: {reason}")]
    InvalidSubject {
        /// The subject as given.
        subject: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A DNS name that cannot go in a subject alternative name.
    #[error("invalid DNS name {name:?}: {reason}")]
    InvalidDnsName {
        /// The name as given.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The certificate asked for would break the type's policy.
    #[error("the certificate would break the policy: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PolicyViolations {
        /// Every violation.
        violations: Vec<Violation>,
    },
    /// A structure could not be encoded (a value out of the range DER allows).
    #[error("cannot encode the {what}")]
    Encoding {
        /// What could not be encoded.
        what: &'static str,
    },
    /// The private key cannot be used (it cannot sign here, or its public key does not encode).
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The certificate and key do not make a PFX (the key is not the certificate's).
    #[error(transparent)]
    Pfx(#[from] ExportError),
    /// A certificate to renew has an extension that does not read (its subject alternative
    /// names, key usage or extended key usage): its renewal would silently lose them.
    #[error("the certificate to renew: {0}")]
    UnreadableExtension(#[source] FactError),
    /// The validity asked for is not positive, or the backdating is negative.
    #[error("invalid validity: {reason}")]
    InvalidValidity {
        /// What is wrong.
        reason: &'static str,
    },
    /// The CA's answer does not read as certificates.
    #[error("the CA's answer: {0}")]
    Response(#[from] BundleError),
    /// No certificate of the CA's answer is for the pending key.
    #[error("no certificate of the answer is for the pending key (it holds {})", thumbprints.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))]
    NoMatchingCertificate {
        /// The thumbprints of the certificates the answer holds.
        thumbprints: Vec<Thumbprint>,
    },
    /// The answer's chain does not check.
    #[error("the CA's chain: {0}")]
    Chain(#[from] ChainError),
}
