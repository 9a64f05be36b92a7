//! An agent's and a coordinator's own metrics, kept from their events
//! ([`AgentMetrics::observe`], [`CoordinatorMetrics::observe`]).
//!
//! | Metric | Labels | Kind |
//! |---|---|---|
//! | `certslot_agent_files_held` | | gauge: certificates its last report held |
//! | `certslot_agent_last_sync_timestamp_seconds` | | gauge: when it last applied its delivery |
//! | `certslot_agent_sync_errors_total` | `kind` (`delivery-rejected`, `cannot-hold`, `file-error`, `report-unwritable`, `unavailable`) | counter |
//! | `certslot_coordinator_leader` | | gauge: 1 while it leads |
//! | `certslot_coordinator_last_step_timestamp_seconds` | | gauge: when its last step ran |
//! | `certslot_coordinator_last_advance_timestamp_seconds` | | gauge: when a step last changed the store |
//! | `certslot_coordinator_renewals_total` | `result` (`renewed`, `refused`) | counter |
//! | `certslot_coordinator_step_failures_total` | | counter |
//! | `certslot_coordinator_alerts` | `alert` | gauge: the alerts of its last step, by kind |

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::clock::Clock;
use crate::fleet::{AgentEvent, Alert, CoordinatorEvent};

type Labels = Vec<(&'static str, &'static str)>;

/// An agent's metrics; clones share the same series.
#[derive(Clone, Debug)]
pub struct AgentMetrics {
    clock: Clock,
    held: Gauge,
    last_sync: Gauge,
    errors: Family<Labels, Counter>,
}

impl AgentMetrics {
    /// The metrics, registered in `registry`, dated by `clock`.
    pub fn register(registry: &mut Registry, clock: Clock) -> Self {
        let metrics =
            Self { clock, held: Gauge::default(), last_sync: Gauge::default(), errors: Family::default() };
        registry.register(
            "certslot_agent_files_held",
            "Certificates the agent's last report held",
            metrics.held.clone(),
        );
        registry.register(
            "certslot_agent_last_sync_timestamp_seconds",
            "When the agent last applied its delivery",
            metrics.last_sync.clone(),
        );
        registry.register(
            "certslot_agent_sync_errors",
            "The agent's failures, by kind",
            metrics.errors.clone(),
        );
        for kind in ["delivery-rejected", "cannot-hold", "file-error", "report-unwritable", "unavailable"] {
            // Every kind from the start, at zero, so rates and alerts see them.
            let _ = metrics.errors.get_or_create(&vec![("kind", kind)]);
        }
        metrics
    }

    /// Takes an event into account.
    pub fn observe(&self, event: &AgentEvent) {
        let error = match event {
            AgentEvent::Reported { thumbprints } => {
                self.held.set(i64::try_from(thumbprints.len()).unwrap_or(i64::MAX));
                return;
            }
            AgentEvent::Started { holding, .. } => {
                self.held.set(i64::try_from(holding.len()).unwrap_or(i64::MAX));
                return;
            }
            AgentEvent::Synced { .. } => {
                self.last_sync.set(self.clock.now().unix_timestamp());
                return;
            }
            AgentEvent::DeliveryRejected { .. } => "delivery-rejected",
            AgentEvent::CannotHold { .. } => "cannot-hold",
            AgentEvent::FileError { .. } => "file-error",
            AgentEvent::ReportUnwritable { .. } => "report-unwritable",
            AgentEvent::Unavailable { .. } => "unavailable",
            _ => return,
        };
        self.errors.get_or_create(&vec![("kind", error)]).inc();
    }
}

/// A coordinator's metrics; clones share the same series.
#[derive(Clone, Debug)]
pub struct CoordinatorMetrics {
    clock: Clock,
    leader: Gauge,
    last_step: Gauge,
    last_advance: Gauge,
    renewals: Family<Labels, Counter>,
    failures: Counter,
    alerts: Family<Labels, Gauge>,
}

impl CoordinatorMetrics {
    /// The alert kinds ([`Alert::kind`]).
    const ALERTS: [&'static str; 4] = ["renewal_refused", "critical", "expired", "partner_gate_yielded"];

    /// The metrics, registered in `registry`, dated by `clock`.
    pub fn register(registry: &mut Registry, clock: Clock) -> Self {
        let metrics = Self {
            clock,
            leader: Gauge::default(),
            last_step: Gauge::default(),
            last_advance: Gauge::default(),
            renewals: Family::default(),
            failures: Counter::default(),
            alerts: Family::default(),
        };
        registry.register(
            "certslot_coordinator_leader",
            "1 while this coordinator leads",
            metrics.leader.clone(),
        );
        registry.register(
            "certslot_coordinator_last_step_timestamp_seconds",
            "When the coordinator's last step ran",
            metrics.last_step.clone(),
        );
        registry.register(
            "certslot_coordinator_last_advance_timestamp_seconds",
            "When a step of the coordinator last changed the store",
            metrics.last_advance.clone(),
        );
        registry.register("certslot_coordinator_renewals", "Renewals, by result", metrics.renewals.clone());
        registry.register(
            "certslot_coordinator_step_failures",
            "Steps that could not be written",
            metrics.failures.clone(),
        );
        registry.register(
            "certslot_coordinator_alerts",
            "The alerts of the coordinator's last step, by kind",
            metrics.alerts.clone(),
        );
        for result in ["renewed", "refused"] {
            let _ = metrics.renewals.get_or_create(&vec![("result", result)]);
        }
        for kind in Self::ALERTS {
            let _ = metrics.alerts.get_or_create(&vec![("alert", kind)]);
        }
        metrics
    }

    /// Takes an event into account.
    pub fn observe(&self, event: &CoordinatorEvent) {
        match event {
            CoordinatorEvent::Leading { .. } => {
                self.leader.set(1);
            }
            CoordinatorEvent::Following { .. }
            | CoordinatorEvent::LostLeadership
            | CoordinatorEvent::Stopped => {
                self.leader.set(0);
            }
            CoordinatorEvent::Stepped(step) => {
                let now = self.clock.now().unix_timestamp();
                self.last_step.set(now);
                if !step.events.is_empty() {
                    self.last_advance.set(now);
                }
                let count = |n: usize| u64::try_from(n).unwrap_or(u64::MAX);
                self.renewals.get_or_create(&vec![("result", "renewed")]).inc_by(count(step.renewed.len()));
                let refused =
                    step.alerts.iter().filter(|a| matches!(a, Alert::RenewalRefused { .. })).count();
                self.renewals.get_or_create(&vec![("result", "refused")]).inc_by(count(refused));
                for kind in Self::ALERTS {
                    let n = step.alerts.iter().filter(|a| a.kind() == kind).count();
                    self.alerts
                        .get_or_create(&vec![("alert", kind)])
                        .set(i64::try_from(n).unwrap_or(i64::MAX));
                }
            }
            CoordinatorEvent::StepFailed { .. } => {
                self.failures.inc();
            }
            _ => {}
        }
    }
}
