//! [`Alert`]: what a coordinator's step found that needs a person: a renewal the planner asked
//! for and the store or the issuer refused, a certificate in its critical window, one expired, a
//! roll applied without partners that had to fetch it first.
//! Each names its slot and its instants, for a log line (`Display`), a JSON line (`Serialize`)
//! or a pager.

use core::fmt;

use certslot::validate::HumanTime;
use certslot::{CertType, Event, OffsetDateTime, Scope, Thumbprint, rollover::Action};
use serde::Serialize;

/// Something that needs a person. See the module documentation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "alert", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Alert {
    /// The plan said to renew the slot's certificate, and the renewal was refused; nothing
    /// changed, and the next step tries again.
    RenewalRefused {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that was to be renewed.
        current: Thumbprint,
        /// The instant of the attempt.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// Why (the renewal error's message).
        reason: String,
    },
    /// A renewal through an ACME CA failed and is tried again at `retry_at` (the CA or the
    /// way to it down, a challenge answer not published); `critical` once the renewal has been
    /// in progress for the coordinator's alert threshold. Nothing rolls meanwhile.
    AcmeFailing {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate being renewed.
        current: Thumbprint,
        /// When the renewal began.
        #[serde(with = "time::serde::rfc3339")]
        started_at: OffsetDateTime,
        /// Failed attempts so far.
        attempts: u32,
        /// The instant of the failure.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
        /// When it is tried again.
        #[serde(with = "time::serde::rfc3339")]
        retry_at: OffsetDateTime,
        /// Whether it has failed past the alert threshold.
        critical: bool,
        /// Why.
        reason: String,
    },
    /// The slot's certificate expires before any compliant roll can take effect: from
    /// `emergency_at` on, a renewal rolls in at once.
    Critical {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The current certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`.
        #[serde(with = "time::serde::rfc3339")]
        expires_at: OffsetDateTime,
        /// The critical threshold.
        #[serde(with = "time::serde::rfc3339")]
        emergency_at: OffsetDateTime,
    },
    /// The slot's certificate has expired: verifiers refuse what it signs.
    Expired {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`.
        #[serde(with = "time::serde::rfc3339")]
        expired_at: OffsetDateTime,
    },
    /// A roll that waited for partners was applied at its last compliant instant without them
    /// ([`Event::PartnerGateYielded`]): their verifiers refuse the new key's tokens until they
    /// fetch the keys.
    PartnerGateYielded {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that became current.
        thumbprint: Thumbprint,
        /// The partners that had not fetched it.
        partners: Vec<String>,
        /// When.
        #[serde(with = "time::serde::rfc3339")]
        at: OffsetDateTime,
    },
}

impl Alert {
    /// The alert a planner action raises: `Critical` and `Expired` do, the others do not.
    pub fn of_action(action: &Action) -> Option<Self> {
        match action {
            Action::Critical { cert_type, scope, thumbprint, expires_at, emergency_at, .. } => {
                Some(Self::Critical {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: *thumbprint,
                    expires_at: *expires_at,
                    emergency_at: *emergency_at,
                })
            }
            Action::Expired { cert_type, scope, thumbprint, expired_at, .. } => Some(Self::Expired {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
                expired_at: *expired_at,
            }),
            _ => None,
        }
    }

    /// The alert an event raises: [`Event::PartnerGateYielded`] does, the others do not.
    pub fn of_event(event: &Event) -> Option<Self> {
        match event {
            Event::PartnerGateYielded { cert_type, scope, thumbprint, partners, at } => {
                Some(Self::PartnerGateYielded {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: *thumbprint,
                    partners: partners.clone(),
                    at: *at,
                })
            }
            _ => None,
        }
    }

    /// The slot it is about.
    pub fn slot(&self) -> (&CertType, &Scope) {
        match self {
            Self::RenewalRefused { cert_type, scope, .. }
            | Self::AcmeFailing { cert_type, scope, .. }
            | Self::Critical { cert_type, scope, .. }
            | Self::Expired { cert_type, scope, .. }
            | Self::PartnerGateYielded { cert_type, scope, .. } => (cert_type, scope),
        }
    }

    /// The certificate it is about.
    pub fn thumbprint(&self) -> Thumbprint {
        match self {
            Self::RenewalRefused { current, .. } | Self::AcmeFailing { current, .. } => *current,
            Self::Critical { thumbprint, .. }
            | Self::Expired { thumbprint, .. }
            | Self::PartnerGateYielded { thumbprint, .. } => *thumbprint,
        }
    }

    /// Its kind, as in JSON: `renewal_refused`, `acme_failing`, `critical`, `expired` or
    /// `partner_gate_yielded`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::RenewalRefused { .. } => "renewal_refused",
            Self::AcmeFailing { .. } => "acme_failing",
            Self::Critical { .. } => "critical",
            Self::Expired { .. } => "expired",
            Self::PartnerGateYielded { .. } => "partner_gate_yielded",
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RenewalRefused { cert_type, scope, current, at, reason } => write!(
                f,
                "{cert_type} at {scope}: renewal of {current} refused at {}: {reason}",
                HumanTime(*at)
            ),
            Self::AcmeFailing {
                cert_type,
                scope,
                current,
                started_at,
                attempts,
                retry_at,
                critical,
                reason,
                ..
            } => {
                write!(
                    f,
                    "{cert_type} at {scope}: {}renewal of {current} through ACME (begun {}) failed {attempts} time{}, \
                     trying again at {}: {reason}",
                    if *critical { "CRITICAL: " } else { "" },
                    HumanTime(*started_at),
                    if *attempts == 1 { "" } else { "s" },
                    HumanTime(*retry_at)
                )
            }
            Self::Critical { cert_type, scope, thumbprint, expires_at, emergency_at } => write!(
                f,
                "{cert_type} at {scope}: CRITICAL: {thumbprint} expires at {} and no compliant roll can \
                 take effect; emergency roll from {}",
                HumanTime(*expires_at),
                HumanTime(*emergency_at)
            ),
            Self::Expired { cert_type, scope, thumbprint, expired_at } => {
                write!(
                    f,
                    "{cert_type} at {scope}: EXPIRED: {thumbprint} expired at {}",
                    HumanTime(*expired_at)
                )
            }
            Self::PartnerGateYielded { cert_type, scope, thumbprint, partners, at } => write!(
                f,
                "{cert_type} at {scope}: {thumbprint} rolled in at {} without {}, which had not fetched it; \
                 their verifiers refuse its tokens until they fetch the keys",
                HumanTime(*at),
                partners.join(", ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_certificate_reads_as_json_and_as_a_line() {
        let thumbprint: Thumbprint = "0123456789ABCDEF0123456789ABCDEF01234567".parse().unwrap();
        let expired_at = OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap();
        let action = Action::Expired {
            cert_type: CertType::OAuthTokenIssuer,
            scope: Scope::Global,
            thumbprint,
            expired_at,
            issuer_expiry: None,
        };
        let alert = Alert::of_action(&action).unwrap();
        assert_eq!(
            serde_json::to_value(&alert).unwrap(),
            serde_json::json!({
                "alert": "expired",
                "cert_type": "OAuthTokenIssuer",
                "scope": "global",
                "thumbprint": "0123456789ABCDEF0123456789ABCDEF01234567",
                "expired_at": "2026-01-01T00:00:00Z",
            })
        );
        assert_eq!(alert.kind(), "expired");
        assert_eq!(alert.slot(), (&CertType::OAuthTokenIssuer, &Scope::Global));
        assert_eq!(alert.thumbprint(), thumbprint);
        assert_eq!(
            alert.to_string(),
            "OAuthTokenIssuer at global: EXPIRED: 0123456789ABCDEF0123456789ABCDEF01234567 expired at 2026-01-01T00:00:00Z"
        );
    }
}
