//! What a validation found: violations (the certificate must not be used) and warnings.

use core::fmt;

use const_oid::ObjectIdentifier;
use time::{Duration, OffsetDateTime};

use crate::validate::human_time::HumanTime;
use crate::validate::key_size::AcceptedKeys;
use crate::x509::FactError;
use crate::x509::algorithm::SignatureAlgorithm;
use crate::x509::ext::KeyUsage;
use crate::x509::key::KeyAlgorithm;

/// A rule the certificate breaks. Each variant carries the values that were compared.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The key is smaller than the rule's minimum.
    KeyTooSmall {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// The key's size.
        bits: u32,
        /// The minimum for that algorithm.
        min_bits: u32,
    },
    /// The key's algorithm is not one the rule accepts.
    KeyAlgorithmNotAccepted {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
        /// What the rule accepts.
        accepted: AcceptedKeys,
    },
    /// The key's size is not in the certificate (parameters inherited from the issuer) or its
    /// curve is unknown, so the minimum cannot be checked.
    KeySizeUnknown {
        /// The key's algorithm.
        algorithm: KeyAlgorithm,
    },
    /// The public key does not decode.
    KeyUnreadable {
        /// Why.
        error: FactError,
    },
    /// Neither the subject's common names nor the SAN DNS names are the SIP domain or a host
    /// under it.
    SubjectMismatch {
        /// The SIP domain, in A-label form.
        sip_domain: String,
        /// The subject's common names.
        common_names: Vec<String>,
        /// The SAN DNS names.
        dns_names: Vec<String>,
    },
    /// `at` is before `notBefore`.
    NotYetValid {
        /// The instant checked.
        at: OffsetDateTime,
        /// The certificate's `notBefore`.
        not_before: OffsetDateTime,
    },
    /// `at` is after `notAfter`.
    Expired {
        /// The instant checked.
        at: OffsetDateTime,
        /// The certificate's `notAfter`.
        not_after: OffsetDateTime,
    },
    /// The certificate is valid at `at` but expires before `at + min_remaining`.
    ExpiresTooSoon {
        /// The instant checked.
        at: OffsetDateTime,
        /// The certificate's `notAfter`.
        not_after: OffsetDateTime,
        /// The validity the rule requires after `at`.
        min_remaining: Duration,
    },
    /// The key usage extension is present and does not allow `digitalSignature`, so the key may
    /// not sign tokens.
    DigitalSignatureNotAllowed {
        /// The key usage the certificate has.
        key_usage: KeyUsage,
    },
    /// The extended key usage extension is present and lacks the required purpose (and
    /// `anyExtendedKeyUsage`).
    ExtendedKeyUsageMissing {
        /// The purpose the rule requires.
        required: ObjectIdentifier,
        /// The purposes the certificate has.
        present: Vec<ObjectIdentifier>,
    },
    /// An extension the rule needs does not decode.
    ExtensionUnreadable {
        /// Why.
        error: FactError,
    },
}

/// Something worth an admin's attention that does not make the certificate unusable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// The certificate is signed with a broken hash (MD2, MD5, SHA-1).
    WeakSignature {
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
    },
    /// The certificate expires within the warning threshold after `at`.
    ExpiresSoon {
        /// The instant checked.
        at: OffsetDateTime,
        /// The certificate's `notAfter`.
        not_after: OffsetDateTime,
        /// The threshold.
        within: Duration,
    },
    /// A critical extension certslot does not interpret (RFC 5280 4.2: relying parties that do
    /// not recognise it must reject the certificate).
    UnknownCriticalExtension {
        /// The extension's OID.
        oid: ObjectIdentifier,
    },
    /// The certificate is a CA certificate (basic constraints `cA` TRUE).
    CaCertificate,
}

impl Violation {
    /// A stable kebab-case identifier of the variant, for tools (the `inspect` example's JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Self::KeyTooSmall { .. } => "key-too-small",
            Self::KeyAlgorithmNotAccepted { .. } => "key-algorithm-not-accepted",
            Self::KeySizeUnknown { .. } => "key-size-unknown",
            Self::KeyUnreadable { .. } => "key-unreadable",
            Self::SubjectMismatch { .. } => "subject-mismatch",
            Self::NotYetValid { .. } => "not-yet-valid",
            Self::Expired { .. } => "expired",
            Self::ExpiresTooSoon { .. } => "expires-too-soon",
            Self::DigitalSignatureNotAllowed { .. } => "digital-signature-not-allowed",
            Self::ExtendedKeyUsageMissing { .. } => "extended-key-usage-missing",
            Self::ExtensionUnreadable { .. } => "extension-unreadable",
        }
    }
}

impl Warning {
    /// A stable kebab-case identifier of the variant.
    pub fn code(&self) -> &'static str {
        match self {
            Self::WeakSignature { .. } => "weak-signature",
            Self::ExpiresSoon { .. } => "expires-soon",
            Self::UnknownCriticalExtension { .. } => "unknown-critical-extension",
            Self::CaCertificate => "ca-certificate",
        }
    }
}

fn list(items: &[impl fmt::Display]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::KeyTooSmall { algorithm, bits, min_bits } => {
                write!(f, "{algorithm} key is {bits} bits; at least {min_bits} required")
            }
            Self::KeyAlgorithmNotAccepted { algorithm, accepted } => {
                write!(f, "{algorithm} keys are not accepted; accepted: {accepted}")
            }
            Self::KeySizeUnknown { algorithm } => write!(f, "the size of the {algorithm} key is unknown"),
            Self::KeyUnreadable { error } => write!(f, "public key unreadable: {error}"),
            Self::SubjectMismatch { sip_domain, common_names, dns_names } => write!(
                f,
                "SIP domain {sip_domain} is in neither the subject (CN: {}) nor the SAN DNS names ({})",
                list(common_names),
                list(dns_names)
            ),
            Self::NotYetValid { at, not_before } => {
                write!(f, "not valid until {} (checked at {})", HumanTime(*not_before), HumanTime(*at))
            }
            Self::Expired { at, not_after } => {
                write!(f, "expired at {} (checked at {})", HumanTime(*not_after), HumanTime(*at))
            }
            Self::ExpiresTooSoon { at, not_after, min_remaining } => write!(
                f,
                "expires at {}, less than {min_remaining} after {}",
                HumanTime(*not_after),
                HumanTime(*at)
            ),
            Self::DigitalSignatureNotAllowed { key_usage } => {
                write!(f, "key usage ({key_usage}) does not allow digitalSignature")
            }
            Self::ExtendedKeyUsageMissing { required, present } => {
                write!(f, "extended key usage ({}) lacks {required}", list(present))
            }
            Self::ExtensionUnreadable { error } => write!(f, "{error}"),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WeakSignature { algorithm } => write!(f, "signed with a weak algorithm: {algorithm}"),
            Self::ExpiresSoon { at, not_after, within } => {
                write!(f, "expires at {}, within {within} of {}", HumanTime(*not_after), HumanTime(*at))
            }
            Self::UnknownCriticalExtension { oid } => write!(f, "unrecognised critical extension {oid}"),
            Self::CaCertificate => f.write_str("this is a CA certificate"),
        }
    }
}

/// Every violation and warning a check found, in the order the rules ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Rules the certificate breaks.
    pub violations: Vec<Violation>,
    /// Things worth attention.
    pub warnings: Vec<Warning>,
}

impl Report {
    /// True when there is no violation (warnings allowed).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.violations.is_empty() && self.warnings.is_empty() {
            return f.write_str("no violations");
        }
        for v in &self.violations {
            writeln!(f, "violation: {v}")?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}
