//! One slot: the current, previous and pending certificate of one type at one scope, and the
//! events its transitions report.

use core::fmt;

use time::{Duration, OffsetDateTime};

use crate::policy::{CertType, Scope};
use crate::x509::thumbprint::Thumbprint;

/// A certificate's place in a slot: which certificate, and since when it holds the place.
///
/// JSON (feature `serde`):
/// `{"thumbprint": "3BF702B601477250F70E61E287798983087DA4AB", "since": "2026-11-25T09:00:00Z"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Assignment {
    /// The certificate.
    pub thumbprint: Thumbprint,
    /// When it became current (for a previous certificate: when it became current, before it
    /// was displaced).
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub since: OffsetDateTime,
}

/// A roll scheduled for later.
///
/// JSON (feature `serde`):
/// `{"thumbprint": "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F", "effective_at": "2027-07-01T00:00:00Z"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PendingRoll {
    /// The certificate that will become current.
    pub thumbprint: Thumbprint,
    /// When it becomes current.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub effective_at: OffsetDateTime,
}

/// The current, previous and pending certificate of one type at one scope. Lync keeps two
/// copies of each type, current and previous; the pending one is the roll scheduled with
/// `Set-CsCertificate -Roll -EffectiveDate`.
///
/// JSON (feature `serde`, written only: a slot comes from a store): each place an
/// [`Assignment`] or a [`PendingRoll`], or `null`:
/// `{"current": {"thumbprint": "3BF7...", "since": "..."}, "previous": null, "pending": null}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Slot {
    pub(super) current: Option<Assignment>,
    pub(super) previous: Option<Assignment>,
    pub(super) pending: Option<PendingRoll>,
    /// Which warnings about the current certificate have been reported (reset when it changes).
    #[cfg_attr(feature = "serde", serde(skip))]
    pub(super) warned: Warned,
}

/// The warnings about a current certificate that have been reported.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(super) struct Warned {
    /// `CurrentExpiresSoon`.
    pub(super) lead: bool,
    /// `CurrentExpired`.
    pub(super) expired: bool,
}

impl Slot {
    /// The current certificate: signers use it.
    pub fn current(&self) -> Option<Assignment> {
        self.current
    }

    /// The previous certificate: verifiers still accept it where the type says so.
    pub fn previous(&self) -> Option<Assignment> {
        self.previous
    }

    /// The scheduled roll, if any.
    pub fn pending(&self) -> Option<PendingRoll> {
        self.pending
    }

    /// True when the slot holds nothing.
    pub fn is_empty(&self) -> bool {
        self.current.is_none() && self.previous.is_none() && self.pending.is_none()
    }

    /// True when `thumbprint` is current, previous or pending here.
    pub fn references(&self, thumbprint: &Thumbprint) -> bool {
        self.current.is_some_and(|a| a.thumbprint == *thumbprint)
            || self.previous.is_some_and(|a| a.thumbprint == *thumbprint)
            || self.pending.is_some_and(|p| p.thumbprint == *thumbprint)
    }
}

/// Why a pending roll was cancelled.
///
/// JSON (feature `serde`): `"set"`, `"replaced"`, `"requested"` or `"rolled_back"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum CancelReason {
    /// A certificate was set immediately.
    Set,
    /// Another roll replaced it.
    Replaced,
    /// The caller cancelled it.
    Requested,
    /// A rollback made its certificate current already.
    RolledBack,
}

/// Why a previous certificate left its slot.
///
/// JSON (feature `serde`): `"replaced"`, `"expired"`, `"retired"`, `"removed"` or
/// `"became_current"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum DropReason {
    /// Another certificate became previous.
    Replaced,
    /// It expired.
    Expired,
    /// Its type's retention after the roll ended ([`Retention::For`](crate::policy::Retention::For)).
    Retired,
    /// The caller removed it (`Remove-CsCertificate -Previous`).
    Removed,
    /// It became the current certificate again (set or rolled in while it was previous).
    BecameCurrent,
}

/// What an operation or the passing of time did, with the values involved.
///
/// JSON (feature `serde`): an object tagged by `event`, the variant's name in snake_case
/// (`set`, `displaced`, `previous_dropped`, `roll_scheduled`, `roll_cancelled`, `rolled`,
/// `roll_blocked`, `partner_gate_yielded`, `current_removed`, `rolled_back`, `current_expired`,
/// `current_expires_soon`), then the variant's fields by their names; instants as RFC 3339
/// strings, thumbprints, types and scopes as strings, reasons in snake_case, and the lead time
/// as `lead_time_seconds`, whole seconds:
///
/// ```text
/// {"event": "rolled", "cert_type": "OAuthTokenIssuer", "scope": "global",
///  "thumbprint": "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F",
///  "previous": "3BF702B601477250F70E61E287798983087DA4AB",
///  "effective_at": "2027-07-01T00:00:00Z", "applied_at": "2027-07-01T00:00:00Z"}
/// {"event": "current_expires_soon", "cert_type": "OAuthTokenIssuer", "scope": "global",
///  "thumbprint": "3BF7...", "not_after": "2035-12-31T23:59:59Z", "lead_time_seconds": 86400}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(tag = "event", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Event {
    /// A certificate became current at once (`Set-CsCertificate`).
    Set {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The new current certificate.
        thumbprint: Thumbprint,
        /// When.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        at: OffsetDateTime,
    },
    /// The current certificate became the previous one.
    Displaced {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that is now previous.
        thumbprint: Thumbprint,
    },
    /// The previous certificate left the slot.
    PreviousDropped {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Why.
        reason: DropReason,
    },
    /// A roll was scheduled (`Set-CsCertificate -Roll -EffectiveDate`).
    RollScheduled {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that will become current.
        thumbprint: Thumbprint,
        /// When.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
    },
    /// A scheduled roll was cancelled.
    RollCancelled {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that would have become current.
        thumbprint: Thumbprint,
        /// When it would have.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
        /// Why it was cancelled.
        reason: CancelReason,
    },
    /// A scheduled roll took effect: the pending certificate is current, the old current previous.
    Rolled {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The new current certificate.
        thumbprint: Thumbprint,
        /// The certificate that became previous, if there was a current one.
        previous: Option<Thumbprint>,
        /// The roll's effective date.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
        /// The instant `advance` applied it (later than the effective date when blocked).
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        applied_at: OffsetDateTime,
    },
    /// A due roll waits because servers of the scope do not hold the pending certificate yet, or
    /// partners the type requires have not fetched a key set announcing it.
    RollBlocked {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// The roll's effective date.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
        /// The servers that lack it.
        servers: Vec<String>,
        /// The partners that have not fetched it.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Vec::is_empty"))]
        partners: Vec<String>,
        /// Released by the gates outside the type's renewal window: the roll waits for the
        /// window's next opening (or its last compliant instant, if sooner).
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")
        )]
        window_opens: Option<OffsetDateTime>,
    },
    /// A roll waiting for partners was applied at its last compliant instant without them
    /// ([`TypeConfig::require_fetched_by`](crate::TypeConfig::require_fetched_by)): their
    /// verifiers do not know the new key yet and refuse its tokens until they fetch the keys.
    PartnerGateYielded {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that became current.
        thumbprint: Thumbprint,
        /// The partners that had not fetched it.
        partners: Vec<String>,
        /// The instant it was applied.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        at: OffsetDateTime,
    },
    /// The current certificate was removed.
    CurrentRemoved {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The removed certificate.
        thumbprint: Thumbprint,
    },
    /// The previous certificate became current again, and the current one previous.
    RolledBack {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate that is current again.
        thumbprint: Thumbprint,
        /// The certificate that is now previous.
        displaced: Thumbprint,
    },
    /// Warning: the current certificate has expired.
    CurrentExpired {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        not_after: OffsetDateTime,
    },
    /// Warning: the current certificate expires within the type's lead time and no roll is
    /// pending.
    CurrentExpiresSoon {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        not_after: OffsetDateTime,
        /// The lead time (JSON: `lead_time_seconds`).
        #[cfg_attr(
            feature = "serde",
            serde(rename = "lead_time_seconds", with = "crate::x509::time::seconds")
        )]
        lead_time: Duration,
    },
}

impl Event {
    /// The type and scope of the slot the event happened to.
    pub(super) fn slot_names(&self) -> (&CertType, &Scope) {
        match self {
            Self::Set { cert_type, scope, .. }
            | Self::Displaced { cert_type, scope, .. }
            | Self::PreviousDropped { cert_type, scope, .. }
            | Self::RollScheduled { cert_type, scope, .. }
            | Self::RollCancelled { cert_type, scope, .. }
            | Self::Rolled { cert_type, scope, .. }
            | Self::RollBlocked { cert_type, scope, .. }
            | Self::PartnerGateYielded { cert_type, scope, .. }
            | Self::CurrentRemoved { cert_type, scope, .. }
            | Self::RolledBack { cert_type, scope, .. }
            | Self::CurrentExpired { cert_type, scope, .. }
            | Self::CurrentExpiresSoon { cert_type, scope, .. } => (cert_type, scope),
        }
    }

    /// True for the warnings (current expired, current expiring without a roll, a roll applied
    /// without partners that had to fetch it first).
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            Self::CurrentExpired { .. } | Self::CurrentExpiresSoon { .. } | Self::PartnerGateYielded { .. }
        )
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::validate::HumanTime as T;
        match self {
            Self::Set { cert_type, scope, thumbprint, at } => {
                write!(f, "{cert_type} at {scope}: {thumbprint} set as current at {}", T(*at))
            }
            Self::Displaced { cert_type, scope, thumbprint } => {
                write!(f, "{cert_type} at {scope}: {thumbprint} is now the previous certificate")
            }
            Self::PreviousDropped { cert_type, scope, thumbprint, reason } => {
                write!(f, "{cert_type} at {scope}: previous certificate {thumbprint} dropped ({reason:?})")
            }
            Self::RollScheduled { cert_type, scope, thumbprint, effective_at } => {
                write!(f, "{cert_type} at {scope}: {thumbprint} rolls in at {}", T(*effective_at))
            }
            Self::RollCancelled { cert_type, scope, thumbprint, effective_at, reason } => write!(
                f,
                "{cert_type} at {scope}: roll of {thumbprint} at {} cancelled ({reason:?})",
                T(*effective_at)
            ),
            Self::Rolled { cert_type, scope, thumbprint, previous, effective_at, .. } => {
                write!(f, "{cert_type} at {scope}: {thumbprint} became current at {}", T(*effective_at))?;
                match previous {
                    Some(p) => write!(f, "; {p} is now previous"),
                    None => Ok(()),
                }
            }
            Self::RollBlocked { cert_type, scope, thumbprint, servers, partners, window_opens, .. } => {
                write!(f, "{cert_type} at {scope}: roll of {thumbprint} blocked; ")?;
                match (servers.is_empty(), partners.is_empty()) {
                    (true, true) => match window_opens {
                        Some(t) => write!(f, "waiting for the renewal window at {}", T(*t)),
                        None => f.write_str("waiting"),
                    },
                    (false, true) => write!(f, "not yet on {}", servers.join(", ")),
                    (true, false) => write!(f, "not yet fetched by {}", partners.join(", ")),
                    (false, false) => write!(
                        f,
                        "not yet on {}, not yet fetched by {}",
                        servers.join(", "),
                        partners.join(", ")
                    ),
                }
            }
            Self::PartnerGateYielded { cert_type, scope, thumbprint, partners, at } => write!(
                f,
                "{cert_type} at {scope}: {thumbprint} rolled in at its last compliant instant {} before {} fetched it",
                T(*at),
                partners.join(", ")
            ),
            Self::CurrentRemoved { cert_type, scope, thumbprint } => {
                write!(f, "{cert_type} at {scope}: current certificate {thumbprint} removed")
            }
            Self::RolledBack { cert_type, scope, thumbprint, displaced } => {
                write!(f, "{cert_type} at {scope}: rolled back to {thumbprint}; {displaced} is now previous")
            }
            Self::CurrentExpired { cert_type, scope, thumbprint, not_after } => {
                write!(
                    f,
                    "{cert_type} at {scope}: current certificate {thumbprint} expired at {}",
                    T(*not_after)
                )
            }
            Self::CurrentExpiresSoon { cert_type, scope, thumbprint, not_after, lead_time } => write!(
                f,
                "{cert_type} at {scope}: current certificate {thumbprint} expires at {} (lead time {lead_time}) and no roll is pending",
                T(*not_after)
            ),
        }
    }
}

/// What a successful mutating operation did.
///
/// JSON (feature `serde`): `{"events": [<Event>, ...], "revision": 7}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Outcome {
    /// Every event, in the order it happened.
    pub events: Vec<Event>,
    /// The store's revision after the operation.
    pub revision: u64,
}
