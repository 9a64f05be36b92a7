//! What the commands print: text for people (instants as certslot writes them, `HumanTime`)
//! and JSON for scripts, and failures with their exit code and a stable kind.
//!
//! The JSON of each command is a struct here, derived, around certslot's own value types
//! (events, actions, slot views, drift, timelines), which serialise as the library documents
//! them: instants in RFC 3339 with full precision, names in snake_case.

use std::collections::BTreeSet;

use certslot::{
    CertType, Event, OffsetDateTime, Scope, Thumbprint,
    rollover::Action,
    store::{SlotView, TimelineEntry},
    validate::HumanTime,
};
use certslot_etcd::{ServerStatus, StateError, UpdateError, WaitingRoll};
use serde::Serialize;

/// A command's result: text for people, JSON for scripts (written when the result is made,
/// pretty-printed, its members in the order of the types that make it).
pub struct Report {
    pub text: String,
    pub json: Option<String>,
}

impl Report {
    /// A result whose JSON is `json`'s.
    pub fn new(text: String, json: &impl Serialize) -> Result<Self, Failure> {
        let json = serde_json::to_string_pretty(json).map_err(|e| Failure::failed("json", e))?;
        Ok(Self { text, json: Some(json) })
    }

    /// A result with nothing to print.
    pub fn empty() -> Self {
        Self { text: String::new(), json: None }
    }

    /// This result's text, then `next`'s; `next`'s JSON.
    pub fn then(self, next: Self) -> Self {
        Self { text: self.text + &next.text, json: next.json }
    }
}

/// A failed command: exit code, a stable kind for scripts, the message.
pub struct Failure {
    pub code: u8,
    pub kind: &'static str,
    pub message: String,
}

/// A failure with `--json`, on stderr: `{"error": {"kind": "...", "message": "..."}}`.
#[derive(Serialize)]
pub struct FailureJson<'a> {
    pub error: FailureBody<'a>,
}

/// The `error` of [`FailureJson`].
#[derive(Serialize)]
pub struct FailureBody<'a> {
    pub kind: &'a str,
    pub message: &'a str,
}

impl Failure {
    pub fn new(code: u8, kind: &'static str, message: impl ToString) -> Self {
        Self { code, kind, message: message.to_string() }
    }

    /// A refused or failed command (exit 1).
    pub fn failed(kind: &'static str, message: impl ToString) -> Self {
        Self::new(1, kind, message)
    }

    pub fn state(e: &StateError) -> Self {
        match e {
            StateError::Missing { .. } => Self::new(3, "state-missing", e),
            StateError::NotUtf8 { .. } | StateError::Load { .. } => Self::new(3, "state-refused", e),
            StateError::Unauthenticated { .. } => Self::new(3, "state-unauthenticated", e),
            StateError::NotSigned { .. } => Self::new(3, "state-not-signed", e),
            StateError::OldLayout { .. } => Self::new(3, "state-old-layout", e),
            StateError::Replayed { .. } => Self::new(3, "state-replayed", e),
            StateError::AdminSeal { .. } => Self::new(3, "state-admin-seal", e),
            StateError::TooLarge { .. } => Self::failed("state-too-large", e),
            StateError::PasswordRequired => Self::failed("password-required", e),
            StateError::AlreadyExists { .. } => Self::failed("state-exists", e),
            _ => Self::failed("state", e),
        }
    }

    pub fn update<E: std::fmt::Display>(e: UpdateError<E>) -> Self {
        match e {
            UpdateError::Operation(e) => Self::failed("refused", e),
            UpdateError::State(e) => Self::state(&e),
            UpdateError::Etcd(e) => Self::etcd(e),
            e @ UpdateError::Unknown { .. } => Self::new(4, "outcome-unknown", e),
            e @ UpdateError::Contention { .. } => Self::failed("contention", e),
            e @ UpdateError::NotLeader { .. } => Self::failed("not-leader", e),
            e => Self::failed("failed", e),
        }
    }

    pub fn store(e: certslot_etcd::StoreError) -> Self {
        match e {
            certslot_etcd::StoreError::State(e) => Self::state(&e),
            certslot_etcd::StoreError::Etcd(e) => Self::etcd(e),
            e => Self::failed("failed", e),
        }
    }

    /// etcd's errors by their cause: 4 unreachable (or too slow), 5 permission denied, 6 not
    /// authenticated, 7 too large; another refusal fails the command (1).
    pub fn etcd(e: certslot_etcd::EtcdError) -> Self {
        use certslot_etcd::EtcdError;
        match e {
            EtcdError::PermissionDenied { .. } => Self::new(5, "etcd-permission-denied", e),
            EtcdError::Unauthenticated { .. } => Self::new(6, "etcd-unauthenticated", e),
            EtcdError::TooLarge { .. } => Self::new(7, "etcd-too-large", e),
            EtcdError::TlsRejected { .. } => Self::new(8, "etcd-tls-rejected", e),
            EtcdError::PlaintextRefused { .. } | EtcdError::TlsNotConfigured { .. } | EtcdError::Tls(_) => {
                Self::new(2, "etcd-configuration", e)
            }
            e if e.is_retryable() || matches!(e, EtcdError::NoEndpoints) => {
                Self::new(4, "etcd-unavailable", e)
            }
            e => Self::failed("etcd-refused", e),
        }
    }

    /// The failure as `--json` prints it.
    pub fn json(&self) -> FailureJson<'_> {
        FailureJson { error: FailureBody { kind: self.kind, message: &self.message } }
    }
}

// ----- the commands' JSON ------------------------------------------------------------------------

/// `agent-key`.
#[derive(Serialize)]
pub struct AgentKeyJson<'a> {
    pub public_key: &'a str,
    pub fingerprint: &'a str,
    pub made: bool,
}

/// `writer-key`.
#[derive(Serialize)]
pub struct WriterKeyJson<'a> {
    pub cluster: &'a str,
    pub public_key: &'a str,
    pub fingerprint: &'a str,
}

/// `topology enrol` (and `topology add-server --agent-key`).
#[derive(Serialize)]
pub struct EnrolJson<'a> {
    pub server: &'a str,
    pub fingerprint: &'a str,
    pub enrolled: bool,
    pub revision: u64,
    pub mod_revision: i64,
}

/// `upgrade`.
#[derive(Serialize)]
pub struct UpgradeJson<'a> {
    pub cluster: &'a str,
    pub upgraded: bool,
}

/// `access setup`.
#[derive(Serialize)]
pub struct AccessJson<'a> {
    pub cluster: &'a str,
    pub roles_created: &'a [String],
    pub granted: &'a [String],
    pub revoked: &'a [String],
    pub users_created: &'a [String],
    pub roles_granted: &'a [String],
    pub auth_enabled: bool,
}

/// `init`.
#[derive(Serialize)]
pub struct InitJson<'a> {
    pub cluster: &'a str,
    pub key: String,
    pub revision: u64,
    pub mod_revision: i64,
    pub staged: &'a [CertType],
}

/// A write (`configure`, `topology add-*`/`remove-*`, `set`, `roll`, `cancel-roll`,
/// `remove-previous`, `rollback`): the revisions, whether it wrote, and its events.
#[derive(Serialize)]
pub struct WriteJson<'a> {
    pub revision: u64,
    pub mod_revision: i64,
    pub written: bool,
    pub attempts: u32,
    pub events: &'a [Event],
}

impl<'a> WriteJson<'a> {
    /// The JSON of `updated`, with `events`.
    pub fn of<T>(updated: &certslot_etcd::Updated<T>, events: &'a [Event]) -> Self {
        Self {
            revision: updated.revision,
            mod_revision: updated.mod_revision,
            written: updated.written,
            attempts: updated.attempts,
            events,
        }
    }
}

/// `partners add`: the partner's URL path (holding its token), shown once.
#[derive(Serialize)]
pub struct PartnerJson<'a> {
    pub partner: &'a str,
    pub path: &'a str,
    pub revision: u64,
    pub mod_revision: i64,
}

/// `partners show`.
#[derive(Serialize)]
pub struct PartnersJson {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub partners: Vec<PartnerRowJson>,
}

/// One partner of `partners show`: its last fetch and each pending roll.
#[derive(Serialize)]
pub struct PartnerRowJson {
    pub partner: String,
    #[serde(with = "time::serde::rfc3339::option")]
    pub fetched_at: Option<OffsetDateTime>,
    pub thumbprints: Vec<Thumbprint>,
    pub pending: Vec<certslot_etcd::PendingSeen>,
}

/// `topology show`.
#[derive(Serialize)]
pub struct TopologyJson<'a> {
    pub sites: Vec<&'a str>,
    pub pools: Vec<PoolJson<'a>>,
    pub servers: Vec<ServerJson<'a>>,
}

/// A pool of `topology show`.
#[derive(Serialize)]
pub struct PoolJson<'a> {
    pub pool: &'a str,
    pub site: &'a str,
}

/// A server of `topology show`.
#[derive(Serialize)]
pub struct ServerJson<'a> {
    pub server: &'a str,
    pub pool: &'a str,
}

/// `import`: the certificate, what its type's policy found, the revisions.
#[derive(Serialize)]
pub struct ImportJson<'a> {
    pub thumbprint: Thumbprint,
    pub subject: String,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    pub cert_type: &'a CertType,
    pub scope: &'a Scope,
    pub violations: Vec<Finding>,
    pub warnings: Vec<Finding>,
    pub revision: u64,
    pub mod_revision: i64,
}

/// A policy violation or warning: its stable code and its text.
#[derive(Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub message: String,
}

/// `advance`.
#[derive(Serialize)]
pub struct AdvanceJson<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub revision: u64,
    pub written: bool,
    pub recorded: Vec<RecordedJson<'a>>,
    pub events: &'a [Event],
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_due: Option<OffsetDateTime>,
}

/// A server whose holdings `advance` recorded.
#[derive(Serialize)]
pub struct RecordedJson<'a> {
    pub server: &'a str,
    pub thumbprints: &'a BTreeSet<Thumbprint>,
}

/// `get`.
#[derive(Serialize)]
pub struct GetJson<'a> {
    pub revision: u64,
    pub slots: &'a [SlotView],
}

/// `drift`.
#[derive(Serialize)]
pub struct DriftJson<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub revision: u64,
    pub servers: Vec<StatusJson<'a>>,
    pub waiting_rolls: &'a [WaitingRoll],
}

/// A server of `drift`: its [`ServerStatus`], whether its agent reports and whether it is clean.
#[derive(Serialize)]
pub struct StatusJson<'a> {
    #[serde(flatten)]
    pub status: &'a ServerStatus,
    pub reported: bool,
    pub clean: bool,
}

impl<'a> StatusJson<'a> {
    pub fn of(status: &'a ServerStatus) -> Self {
        Self { status, reported: status.is_reported(), clean: status.is_clean() }
    }
}

/// `timeline`.
#[derive(Serialize)]
pub struct TimelineJson<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub from: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub to: OffsetDateTime,
    pub entries: &'a [TimelineEntry],
}

/// `plan`.
#[derive(Serialize)]
pub struct PlanJson<'a> {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_plan_due: Option<OffsetDateTime>,
    pub actions: &'a [Action],
}

/// `renew`.
#[derive(Serialize)]
pub struct RenewJson<'a> {
    pub revision: u64,
    pub mod_revision: i64,
    pub thumbprint: Thumbprint,
    #[serde(with = "time::serde::rfc3339")]
    pub effective_at: OffsetDateTime,
    pub shortened: bool,
    pub events: &'a [Event],
}

/// `restore`.
#[derive(Serialize)]
pub struct RestoreJson {
    pub revision: u64,
    pub mod_revision: i64,
}

// ----- text --------------------------------------------------------------------------------------

pub fn human(t: OffsetDateTime) -> String {
    HumanTime(t).to_string()
}

pub fn thumbprint_list<'a>(ts: impl IntoIterator<Item = &'a Thumbprint>) -> String {
    ts.into_iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// Events, one a line, for people.
pub fn events_text(events: &[Event]) -> String {
    events.iter().map(|e| format!("  {}: {e}\n", if e.is_warning() { "WARNING" } else { "event" })).collect()
}

/// A slot as `Get-CsCertificate` lists it.
pub fn slot_text(view: &SlotView) -> String {
    let mut out = format!("Use                : {}\nIdentity           : {}\n", view.cert_type, view.scope);
    if let Some(c) = &view.current {
        out += &format!(
            "Thumbprint         : {}\nSubject            : {}\nIssuer             : {}\nNotBefore          : {}\nNotAfter           : {}\nEffectiveDate      : {}\n",
            c.thumbprint,
            c.subject,
            c.issuer,
            human(c.not_before),
            human(c.not_after),
            human(c.effective_at)
        );
    }
    if let Some(p) = &view.previous {
        out +=
            &format!("PreviousThumbprint : {}\nPreviousNotAfter   : {}\n", p.thumbprint, human(p.not_after));
    }
    if let Some(p) = &view.pending {
        out += &format!(
            "PendingThumbprint  : {}\nPendingEffective   : {}\n",
            p.thumbprint,
            human(p.effective_at)
        );
    }
    out
}
