//! The fleet as admins see it: each server's drift against its agent's live report, and the
//! rolls that are due but not applied.
//!
//! certslot's own [`Store::drift`] compares against the holdings recorded in the store (what the
//! staging gate reads), which keep a dead server's last report. Here a server counts as reported
//! only while its agent's lease-backed key exists; a server whose key is gone is unreported. The
//! comparison itself is certslot's ([`Store::drift_against`], given the live reports).

use std::collections::BTreeMap;

use certslot::{
    CertType, OffsetDateTime, Scope, Store, Thumbprint,
    store::{DriftOptions, Holdings, ServerDrift},
};
use serde::Serialize;

use crate::fleet::report::{HoldingsReport, LiveReport};

/// One server: how it differs from what it should hold, by its agent's live report.
///
/// JSON: the members of its [`ServerDrift`] (`reported_at` is the live report's instant, `null`
/// without one), then `holding`, the thumbprints of the live report (`null` without one), and
/// `recorded_at`, when the store last recorded its holdings:
///
/// ```text
/// {"server": "fe01.contoso.com", "pool": "pool01.contoso.com",
///  "reported_at": "2026-11-25T09:00:00Z", "outdated_report": false,
///  "missing": [], "stale": [], "unexpected": [],
///  "holding": ["3BF702B601477250F70E61E287798983087DA4AB"], "recorded_at": "2026-11-25T09:00:00Z"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServerStatus {
    /// What it misses, holds stale or holds unexpectedly, against its live report
    /// ([`Store::drift_against`]); with no live report (the agent is not running, or its lease
    /// expired) it is unreported, and everything desired counts as missing.
    #[serde(flatten)]
    pub drift: ServerDrift,
    /// Its agent's live report, if any.
    #[serde(rename = "holding", serialize_with = "holding")]
    pub report: Option<HoldingsReport>,
    /// When the store last recorded its holdings (the records the staging gate reads).
    #[serde(with = "time::serde::rfc3339::option")]
    pub recorded_at: Option<OffsetDateTime>,
}

/// A live report in JSON: its thumbprints.
fn holding<S: serde::Serializer>(report: &Option<HoldingsReport>, serializer: S) -> Result<S::Ok, S::Error> {
    report.as_ref().map(|r| &r.thumbprints).serialize(serializer)
}

impl ServerStatus {
    /// True while its agent's report is live.
    pub fn is_reported(&self) -> bool {
        self.report.is_some()
    }

    /// True when it reports holding exactly what it should.
    pub fn is_clean(&self) -> bool {
        self.is_reported() && self.drift.is_clean()
    }
}

/// A roll whose effective date has passed and that is still pending: either nothing has applied
/// it yet (no coordinator ran), or the staging gate holds it.
///
/// JSON: the fields by their names, the effective date in RFC 3339:
///
/// ```text
/// {"cert_type": "OAuthTokenIssuer", "scope": "global",
///  "thumbprint": "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F",
///  "effective_at": "2027-07-01T00:00:00Z", "waiting_for": ["fe03.contoso.com"]}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WaitingRoll {
    /// The type.
    pub cert_type: CertType,
    /// The scope.
    pub scope: Scope,
    /// The pending certificate.
    pub thumbprint: Thumbprint,
    /// Its effective date.
    #[serde(with = "time::serde::rfc3339")]
    pub effective_at: OffsetDateTime,
    /// The servers whose recorded holdings lack it, when the type requires staging (empty
    /// otherwise).
    pub waiting_for: Vec<String>,
}

/// Every server of the topology, in name order, against its live report (see the module
/// documentation), at `at`.
pub fn fleet_status(store: &Store, reports: &[LiveReport], at: OffsetDateTime) -> Vec<ServerStatus> {
    let live: BTreeMap<&str, &HoldingsReport> =
        reports.iter().filter_map(|r| Some((r.server.as_str(), r.report.as_ref().ok()?))).collect();
    let holdings: BTreeMap<&str, Holdings> = live
        .iter()
        .map(|(server, r)| {
            (*server, Holdings { thumbprints: r.thumbprints.clone(), reported_at: r.reported_at })
        })
        .collect();
    store
        .drift_against(at, DriftOptions::default(), |server| holdings.get(server))
        .into_iter()
        .map(|drift| ServerStatus {
            report: live.get(drift.server.as_str()).map(|r| (*r).clone()),
            recorded_at: store.topology().holdings(&drift.server).map(|h| h.reported_at),
            drift,
        })
        .collect()
}

/// The rolls due by `at` and still pending, in slot order, with the servers the staging gate
/// waits for ([`Store::servers_lacking`]).
pub fn waiting_rolls(store: &Store, at: OffsetDateTime) -> Vec<WaitingRoll> {
    store
        .slots()
        .filter_map(|(cert_type, scope, slot)| {
            let pending = slot.pending().filter(|p| p.effective_at <= at)?;
            let waiting_for = if store.type_config(cert_type).get_require_staged() {
                store.servers_lacking(cert_type, scope, &pending.thumbprint)
            } else {
                Vec::new()
            };
            Some(WaitingRoll {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: pending.thumbprint,
                effective_at: pending.effective_at,
                waiting_for,
            })
        })
        .collect()
}
