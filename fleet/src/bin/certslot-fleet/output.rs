//! What the commands print: text for people (instants as certslot writes them, `HumanTime`)
//! and JSON for scripts (instants in RFC 3339 with full precision), and failures with their exit
//! code and a stable kind.

use certslot::{
    Event, OffsetDateTime, Thumbprint,
    store::{CertView, Desired, SlotView},
    validate::HumanTime,
};
use certslot_etcd::{StateError, UpdateError};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;

/// A command's result: text for people, JSON for scripts.
pub struct Report {
    pub text: String,
    pub json: Value,
}

/// A failed command: exit code, a stable kind for scripts, the message.
pub struct Failure {
    pub code: u8,
    pub kind: &'static str,
    pub message: String,
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
            UpdateError::Etcd(e) => Self::new(4, "etcd-unavailable", e),
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

    pub fn etcd(e: certslot_etcd::EtcdError) -> Self {
        Self::new(4, "etcd-unavailable", e)
    }
}

pub fn instant(t: OffsetDateTime) -> Value {
    Value::String(t.format(&Rfc3339).unwrap_or_default())
}

pub fn human(t: OffsetDateTime) -> String {
    HumanTime(t).to_string()
}

fn thumbprints<'a>(ts: impl IntoIterator<Item = &'a Thumbprint>) -> Value {
    Value::Array(ts.into_iter().map(|t| Value::String(t.to_string())).collect())
}

pub fn thumbprint_list<'a>(ts: impl IntoIterator<Item = &'a Thumbprint>) -> String {
    ts.into_iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

pub fn thumbprints_json<'a>(ts: impl IntoIterator<Item = &'a Thumbprint>) -> Value {
    thumbprints(ts)
}

pub fn desired_json(d: &Desired) -> Value {
    json!({
        "type": d.cert_type.to_string(),
        "scope": d.scope.to_string(),
        "thumbprint": d.thumbprint.to_string(),
        "role": format!("{:?}", d.role),
    })
}

/// An event as JSON: its kind, the slot, the certificate, the instants, and its text.
pub fn event_json(event: &Event) -> Value {
    let (kind, cert_type, scope, thumbprint, extra) = match event {
        Event::Set { cert_type, scope, thumbprint, at } => {
            ("set", cert_type, scope, thumbprint, json!({ "at": instant(*at) }))
        }
        Event::Displaced { cert_type, scope, thumbprint } => {
            ("displaced", cert_type, scope, thumbprint, json!({}))
        }
        Event::PreviousDropped { cert_type, scope, thumbprint, reason } => {
            ("previous-dropped", cert_type, scope, thumbprint, json!({ "reason": format!("{reason:?}") }))
        }
        Event::RollScheduled { cert_type, scope, thumbprint, effective_at } => (
            "roll-scheduled",
            cert_type,
            scope,
            thumbprint,
            json!({ "effective_at": instant(*effective_at) }),
        ),
        Event::RollCancelled { cert_type, scope, thumbprint, effective_at, reason } => (
            "roll-cancelled",
            cert_type,
            scope,
            thumbprint,
            json!({ "effective_at": instant(*effective_at), "reason": format!("{reason:?}") }),
        ),
        Event::Rolled { cert_type, scope, thumbprint, previous, effective_at, applied_at } => (
            "rolled",
            cert_type,
            scope,
            thumbprint,
            json!({
                "previous": previous.map(|p| p.to_string()),
                "effective_at": instant(*effective_at),
                "applied_at": instant(*applied_at),
            }),
        ),
        Event::RollBlocked { cert_type, scope, thumbprint, effective_at, servers } => (
            "roll-blocked",
            cert_type,
            scope,
            thumbprint,
            json!({ "effective_at": instant(*effective_at), "waiting_for": servers }),
        ),
        Event::CurrentRemoved { cert_type, scope, thumbprint } => {
            ("current-removed", cert_type, scope, thumbprint, json!({}))
        }
        Event::RolledBack { cert_type, scope, thumbprint, displaced } => {
            ("rolled-back", cert_type, scope, thumbprint, json!({ "displaced": displaced.to_string() }))
        }
        Event::CurrentExpired { cert_type, scope, thumbprint, not_after } => {
            ("current-expired", cert_type, scope, thumbprint, json!({ "not_after": instant(*not_after) }))
        }
        Event::CurrentExpiresSoon { cert_type, scope, thumbprint, not_after, lead_time } => (
            "current-expires-soon",
            cert_type,
            scope,
            thumbprint,
            json!({ "not_after": instant(*not_after), "lead_time_seconds": lead_time.whole_seconds() }),
        ),
        other => return json!({ "event": "other", "text": other.to_string() }),
    };
    let mut out = json!({
        "event": kind,
        "type": cert_type.to_string(),
        "scope": scope.to_string(),
        "thumbprint": thumbprint.to_string(),
        "text": event.to_string(),
    });
    if let (Some(out), Value::Object(extra)) = (out.as_object_mut(), extra) {
        out.extend(extra);
    }
    out
}

/// Events, one a line, for people.
pub fn events_text(events: &[Event]) -> String {
    events.iter().map(|e| format!("  {}: {e}\n", if e.is_warning() { "WARNING" } else { "event" })).collect()
}

fn cert_json(c: &Option<CertView>) -> Value {
    match c {
        None => Value::Null,
        Some(c) => json!({
            "thumbprint": c.thumbprint.to_string(),
            "subject": c.subject,
            "issuer": c.issuer,
            "not_before": instant(c.not_before),
            "not_after": instant(c.not_after),
            "effective_at": instant(c.effective_at),
        }),
    }
}

pub fn slot_json(view: &SlotView) -> Value {
    json!({
        "type": view.cert_type.to_string(),
        "scope": view.scope.to_string(),
        "current": cert_json(&view.current),
        "previous": cert_json(&view.previous),
        "pending": cert_json(&view.pending),
    })
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
