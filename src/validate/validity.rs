//! The validity period at an instant.

use time::{Duration, OffsetDateTime};

use crate::validate::{Report, Rule, Violation};
use crate::x509::Certificate;

/// Checks that `at` is within `[notBefore, notAfter]` (RFC 5280 4.1.2.5: both ends inclusive)
/// and, optionally, that the certificate stays valid for a minimum time after `at`.
///
/// ```
/// use certslot::validate::ValidityRule;
/// use time::Duration;
///
/// let rule = ValidityRule::default().min_remaining(Duration::days(7));
/// assert_eq!(rule.remaining(), Some(Duration::days(7)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ValidityRule {
    min_remaining: Option<Duration>,
}

impl ValidityRule {
    /// Requires the certificate to stay valid for at least `d` after `at` (a roll needs the new
    /// certificate to outlive its lead time). A zero or negative `d` removes the requirement.
    pub fn min_remaining(self, d: Duration) -> Self {
        Self { min_remaining: d.is_positive().then_some(d) }
    }

    /// The required remaining validity, if any.
    pub fn remaining(&self) -> Option<Duration> {
        self.min_remaining
    }
}

impl Rule for ValidityRule {
    fn check_into(&self, cert: &Certificate, at: OffsetDateTime, report: &mut Report) {
        let (not_before, not_after) = (cert.not_before(), cert.not_after());
        if at < not_before {
            report.violations.push(Violation::NotYetValid { at, not_before });
        } else if at > not_after {
            report.violations.push(Violation::Expired { at, not_after });
        } else if let Some(min_remaining) = self.min_remaining {
            if not_after - at < min_remaining {
                report.violations.push(Violation::ExpiresTooSoon { at, not_after, min_remaining });
            }
        }
    }
}
