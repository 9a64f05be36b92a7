//! The fleet as admins see it: each server's drift against its agent's live report, and the
//! rolls that are due but not applied.
//!
//! certslot's own [`Store::drift`] compares against the holdings recorded in the store (what the
//! staging gate reads), which keep a dead server's last report. Here a server counts as reported
//! only while its agent's lease-backed key exists; a server whose key is gone is unreported.

use std::collections::BTreeSet;

use certslot::{CertType, OffsetDateTime, Scope, Store, Thumbprint, store::Desired};

use crate::fleet::report::{HoldingsReport, LiveReport};

/// One server: what it should hold, what its agent reports, how the two differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerStatus {
    /// The server.
    pub server: String,
    /// Its pool.
    pub pool: String,
    /// Its agent's live report; `None` when it has none (the agent is not running, or its
    /// lease expired): unreported, and everything desired counts as missing.
    pub report: Option<HoldingsReport>,
    /// When the store last recorded its holdings (the records the staging gate reads).
    pub recorded_at: Option<OffsetDateTime>,
    /// Certificates it should hold and does not.
    pub missing: Vec<Desired>,
    /// Certificates it holds that the store knows but no longer assigns to it.
    pub stale: Vec<Thumbprint>,
    /// Certificates it holds that the store does not know.
    pub unexpected: Vec<Thumbprint>,
}

impl ServerStatus {
    /// True while its agent's report is live.
    pub fn is_reported(&self) -> bool {
        self.report.is_some()
    }

    /// True when it reports holding exactly what it should.
    pub fn is_clean(&self) -> bool {
        self.is_reported() && self.missing.is_empty() && self.stale.is_empty() && self.unexpected.is_empty()
    }
}

/// A roll whose effective date has passed and that is still pending: either nothing has applied
/// it yet (no coordinator ran), or the staging gate holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WaitingRoll {
    /// The type.
    pub cert_type: CertType,
    /// The scope.
    pub scope: Scope,
    /// The pending certificate.
    pub thumbprint: Thumbprint,
    /// Its effective date.
    pub effective_at: OffsetDateTime,
    /// The servers whose recorded holdings lack it, when the type requires staging (empty
    /// otherwise).
    pub waiting_for: Vec<String>,
}

/// Every server of the topology, in name order, against its live report (see the module
/// documentation), at `at`.
pub fn fleet_status(store: &Store, reports: &[LiveReport], at: OffsetDateTime) -> Vec<ServerStatus> {
    let empty = BTreeSet::new();
    store
        .topology()
        .servers()
        .map(|(server, pool)| {
            let desired = store.desired(server, at).unwrap_or_default();
            let report =
                reports.iter().find(|r| r.server == server).and_then(|r| r.report.as_ref().ok()).cloned();
            let holding = report.as_ref().map_or(&empty, |r| &r.thumbprints);
            let wanted: BTreeSet<Thumbprint> = desired.iter().map(|d| d.thumbprint).collect();
            let missing = desired.into_iter().filter(|d| !holding.contains(&d.thumbprint)).collect();
            let (stale, unexpected) = holding
                .iter()
                .filter(|t| !wanted.contains(t))
                .partition(|t| store.inventory().get(t).is_some());
            ServerStatus {
                server: server.to_owned(),
                pool: pool.to_owned(),
                report,
                recorded_at: store.topology().holdings(server).map(|h| h.reported_at),
                missing,
                stale,
                unexpected,
            }
        })
        .collect()
}

/// The rolls due by `at` and still pending, in slot order, with the servers the staging gate
/// waits for.
pub fn waiting_rolls(store: &Store, at: OffsetDateTime) -> Vec<WaitingRoll> {
    store
        .slots()
        .filter_map(|(cert_type, scope, slot)| {
            let pending = slot.pending().filter(|p| p.effective_at <= at)?;
            let waiting_for = if store.type_config(cert_type).get_require_staged() {
                store
                    .topology()
                    .servers()
                    .filter(|(_, pool)| {
                        Scope::pool(pool)
                            .ok()
                            .and_then(|p| store.resolve(cert_type, &p))
                            .is_some_and(|(resolved, _)| resolved == *scope)
                    })
                    .filter(|(server, _)| {
                        !store
                            .topology()
                            .holdings(server)
                            .is_some_and(|h| h.thumbprints.contains(&pending.thumbprint))
                    })
                    .map(|(server, _)| server.to_owned())
                    .collect()
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
