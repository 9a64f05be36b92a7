//! Layer 3, typed validators. Each rule checks a [`Certificate`] at an instant and reports every
//! violation it finds, with the values it compared; a [`Policy`] combines them.
//!
//! Uses `x509` below it (the facts it checks); not `pfx`, and nothing above. Its error
//! ([`PolicyError`], a rule that cannot be built) lives here; violations are data in a
//! [`Report`], not errors.

mod error;
mod human_time;
mod key_size;
mod policy;
mod report;
mod subject;
mod usage;
mod validity;

pub use self::error::PolicyError;
pub use self::human_time::HumanTime;
pub use self::key_size::{AcceptedKeys, KeyRule};
pub use self::policy::{Policy, WarningRule};
pub use self::report::{Report, Violation, Warning};
pub use self::subject::SubjectRule;
pub use self::usage::UsageRule;
pub use self::validity::ValidityRule;

use time::OffsetDateTime;

use crate::x509::Certificate;

/// A check of one aspect of a certificate at an instant.
pub trait Rule {
    /// Adds every violation and warning found to `report`.
    fn check_into(&self, cert: &Certificate, at: OffsetDateTime, report: &mut Report);

    /// Checks `cert` at `at` and returns what was found.
    fn check(&self, cert: &Certificate, at: OffsetDateTime) -> Report {
        let mut report = Report::default();
        self.check_into(cert, at, &mut report);
        report
    }
}
