//! Why a name or a rollover policy cannot be used.

use time::Duration;

/// A name (certificate type, site, pool, server) that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} name {name:?}")]
pub struct NameError {
    /// What the name names: `"certificate type"`, `"site"`, `"pool"`, `"server"`.
    pub kind: &'static str,
    /// The name as given.
    pub name: String,
}

/// Why a rollover policy cannot be used for a type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RolloverError {
    /// A span that must not be negative (or, for the certificate lifetime, must be positive).
    #[error("{field} must not be negative (or zero, for a lifetime): {value}")]
    Negative {
        /// The field.
        field: &'static str,
        /// Its value.
        value: Duration,
    },
    /// Verifiers would be told about a certificate later than the lead time before it signs.
    #[error("publish-ahead {publish_ahead} is shorter than the lead time {lead_time}")]
    PublishAheadBelowLeadTime {
        /// The publish-ahead time.
        publish_ahead: Duration,
        /// The type's lead time.
        lead_time: Duration,
    },
    /// Renewed certificates would be inside their renewal window from the start.
    #[error(
        "certificates valid for {certificate_lifetime} would be renewed {renew_before} before expiry, at once"
    )]
    LifetimeTooShort {
        /// The certificate lifetime.
        certificate_lifetime: Duration,
        /// The renewal window.
        renew_before: Duration,
    },
    /// A lifetime fraction that is not strictly between 0 and 1.
    #[error("the renewal fraction {numerator}/{denominator} is not between 0 and 1")]
    BadFraction {
        /// The numerator.
        numerator: u16,
        /// The denominator.
        denominator: u16,
    },
    /// The renewal window opens too late to announce the next certificate and roll it in while
    /// the current one is still valid for the lead time and the token lifetime.
    #[error(
        "the renewal window ({renew_window} before expiry) is shorter than publish-ahead plus the \
         longer of lead time and token lifetime ({needed})"
    )]
    RenewTooLate {
        /// How long before expiry the window opens (for renewed certificates).
        renew_window: Duration,
        /// What the window needs.
        needed: Duration,
    },
    /// The renewal window stays closed so long that a renewal waiting for it, and then its roll
    /// waiting for one after its notice, could miss the last compliant roll.
    #[error(
        "the renewal window is closed for up to {longest_closed}: the renewal window ({renew_window} before expiry) \
         needs publish-ahead plus hold ({needed}) and twice that"
    )]
    WindowLeavesGap {
        /// The longest span outside the window.
        longest_closed: Duration,
        /// How long before expiry renewal opens.
        renew_window: Duration,
        /// Publish-ahead plus the longer of lead time and token lifetime.
        needed: Duration,
    },
    /// The previous certificate would be dropped while tokens it signed are still alive.
    #[error("retention {retain} is shorter than the token lifetime {token_lifetime}")]
    RetentionBelowTokenLifetime {
        /// The retention.
        retain: Duration,
        /// The token lifetime.
        token_lifetime: Duration,
    },
    /// The emergency roll would come before the last compliant roll, or leave tokens or the
    /// lead time without a valid previous certificate.
    #[error("critical threshold {critical_before} is outside {min} to {max} before expiry")]
    CriticalOutOfRange {
        /// The critical threshold.
        critical_before: Duration,
        /// The shortest allowed: the longer of lead time and token lifetime.
        min: Duration,
        /// The longest allowed: publish-ahead plus that.
        max: Duration,
    },
    /// Verifiers drop the previous certificate at once, so tokens signed before a roll would fail.
    #[error("verifiers do not accept the previous certificate, yet tokens live {token_lifetime}")]
    PreviousNotAccepted {
        /// The token lifetime.
        token_lifetime: Duration,
    },
}
