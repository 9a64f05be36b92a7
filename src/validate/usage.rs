//! Key usage and extended key usage.

use const_oid::ObjectIdentifier;
use time::OffsetDateTime;

use crate::validate::{Report, Rule, Violation};
use crate::x509::Certificate;
use crate::x509::ext::eku;

/// Checks that the certificate may be used to sign tokens.
///
/// - When the key usage extension is present it must allow `digitalSignature` (RFC 5280
///   4.2.1.3); an absent extension allows every usage.
/// - When the extended key usage extension is present it must include the required purpose
///   (default `serverAuth`, as the web server certificates Lync uses have) or
///   `anyExtendedKeyUsage` (RFC 5280 4.2.1.12); an absent extension allows every purpose.
///
/// ```
/// use certslot::{validate::UsageRule, x509::eku};
///
/// let rule = UsageRule::default().required_eku(Some(eku::CLIENT_AUTH));
/// assert_eq!(rule.eku(), Some(eku::CLIENT_AUTH));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct UsageRule {
    digital_signature: bool,
    required_eku: Option<ObjectIdentifier>,
}

impl Default for UsageRule {
    fn default() -> Self {
        Self { digital_signature: true, required_eku: Some(eku::SERVER_AUTH) }
    }
}

impl UsageRule {
    /// Whether a present key usage must allow `digitalSignature` (default true).
    pub fn require_digital_signature(self, require: bool) -> Self {
        Self { digital_signature: require, ..self }
    }

    /// The purpose a present extended key usage must include; `None` skips the check.
    pub fn required_eku(self, purpose: Option<ObjectIdentifier>) -> Self {
        Self { required_eku: purpose, ..self }
    }

    /// Whether a present key usage must allow `digitalSignature`.
    pub fn digital_signature_required(&self) -> bool {
        self.digital_signature
    }

    /// The required extended key usage purpose, if any.
    pub fn eku(&self) -> Option<ObjectIdentifier> {
        self.required_eku
    }
}

impl Rule for UsageRule {
    fn check_into(&self, cert: &Certificate, _at: OffsetDateTime, report: &mut Report) {
        if self.digital_signature {
            match cert.key_usage() {
                Ok(Some(key_usage)) if !key_usage.digital_signature() => {
                    report.violations.push(Violation::DigitalSignatureNotAllowed { key_usage });
                }
                Ok(_) => {}
                Err(error) => report.violations.push(Violation::ExtensionUnreadable { error }),
            }
        }
        if let Some(required) = self.required_eku {
            match cert.extended_key_usage() {
                Ok(Some(present)) if !present.iter().any(|p| *p == required || *p == eku::ANY) => {
                    report.violations.push(Violation::ExtendedKeyUsageMissing { required, present });
                }
                Ok(_) => {}
                Err(error) => report.violations.push(Violation::ExtensionUnreadable { error }),
            }
        }
    }
}
