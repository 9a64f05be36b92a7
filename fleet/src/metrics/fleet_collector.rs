//! The fleet's state as Prometheus metrics, computed at each scrape from the state and the
//! agents' live reports the process holds and the instant of the scrape, the
//! way cert-manager exports its certificates: instants as `*_timestamp_seconds` gauges, so that
//! alerting rules compare them with `time()`.
//!
//! | Metric | Labels | Value |
//! |---|---|---|
//! | `certslot_certificate_not_before_timestamp_seconds` | `type`, `scope`, `role`, `thumbprint` | the certificate's `notBefore` |
//! | `certslot_certificate_not_after_timestamp_seconds` | `type`, `scope`, `role`, `thumbprint` | its `notAfter` |
//! | `certslot_certificate_effective_timestamp_seconds` | `type`, `scope`, `thumbprint` | the pending certificate's effective date |
//! | `certslot_certificate_renewal_timestamp_seconds` | `type`, `scope`, `thumbprint` | when the current one's renewal is planned (no roll pending) |
//! | `certslot_certificate_critical_timestamp_seconds` | `type`, `scope`, `thumbprint` | when it is rolled out in an emergency (no roll pending) |
//! | `certslot_certificate_ready_status` | `type`, `scope`, `condition` (`True`, `False`) | 1 for the slot's condition: a current certificate valid now and neither critical nor expired |
//! | `certslot_plan_actions` | `kind` | how many actions of the kind the planner gives now |
//! | `certslot_plan_action_due_timestamp_seconds` | `type`, `scope`, `kind` | by when the action must be done |
//! | `certslot_server_reported` | `server` | 1 while its agent's report is live |
//! | `certslot_server_missing_certificates` | `server` | certificates it should hold and does not report |
//! | `certslot_server_unexpected_certificates` | `server` | certificates it reports and should not hold (stale or unknown) |
//! | `certslot_server_report_age_seconds` | `server` | age of its live report |
//! | `certslot_partner_last_fetch_timestamp_seconds` | `partner` | when the partner last fetched the keys (recorded) |
//! | `certslot_roll_waiting_for_partner` | `type`, `scope`, `partner` | 1 while a due roll waits for the partner's fetch |
//! | `certslot_state_revision` | | the etcd revision of the state the metrics describe |
//!
//! Roles are `current`, `previous` and `pending`; plan kinds are `renew`, `stage`, `roll`,
//! `retire-previous`, `critical` and `expired`.

use std::sync::{Arc, PoisonError, RwLock};

use certslot::rollover::{Action, plan};
use certslot::{OffsetDateTime, Store, Thumbprint};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::gauge::ConstGauge;

use crate::clock::Clock;
use crate::fleet::{LiveReport, fleet_status};

/// What the metrics describe: a state and the etcd revision it was read at, and the agents'
/// live reports (`None`: not read).
#[derive(Clone, Debug, Default)]
struct View {
    state: Option<(Arc<Store>, i64)>,
    reports: Option<Arc<Vec<LiveReport>>>,
}

/// What [`FleetCollector::snapshot`] hands out: the state and its etcd revision, the reports.
pub(crate) type Snapshot = (Option<(Arc<Store>, i64)>, Option<Arc<Vec<LiveReport>>>);

/// The [`Collector`] of the fleet's metrics (see the module documentation): register it, and
/// hand it each new state ([`FleetCollector::set_state`]) and the agents' live reports
/// ([`FleetCollector::set_reports`]); clones share them.
#[derive(Clone, Debug)]
pub struct FleetCollector {
    view: Arc<RwLock<View>>,
    clock: Clock,
}

/// The plan's action kinds, as labels.
pub(crate) const ACTION_KINDS: [&str; 6] =
    ["renew", "stage", "roll", "retire-previous", "critical", "expired"];

/// An action's kind label, and by when it is due.
pub(crate) fn action_kind(action: &Action) -> (&'static str, Option<OffsetDateTime>) {
    match action {
        Action::Renew { by, .. } => ("renew", Some(*by)),
        Action::Stage { by, .. } => ("stage", Some(*by)),
        Action::Roll { effective_at, .. } => ("roll", Some(*effective_at)),
        Action::RetirePrevious { at, .. } => ("retire-previous", Some(*at)),
        Action::Critical { expires_at, .. } => ("critical", Some(*expires_at)),
        Action::Expired { expired_at, .. } => ("expired", Some(*expired_at)),
        _ => ("other", None),
    }
}

impl FleetCollector {
    /// A collector with no state yet (it encodes no sample), reading instants from `clock`.
    pub fn new(clock: Clock) -> Self {
        Self { view: Arc::new(RwLock::new(View::default())), clock }
    }

    /// Describes `store`, read at etcd `revision`, from the next scrape on.
    pub fn set_state(&self, store: Arc<Store>, revision: i64) {
        self.view.write().unwrap_or_else(PoisonError::into_inner).state = Some((store, revision));
    }

    /// The state (with its etcd revision) and the live reports in hand.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let view = self.view.read().unwrap_or_else(PoisonError::into_inner);
        (view.state.clone(), view.reports.clone())
    }

    /// Describes the servers by `reports` from the next scrape on.
    pub fn set_reports(&self, reports: Vec<LiveReport>) {
        self.view.write().unwrap_or_else(PoisonError::into_inner).reports = Some(Arc::new(reports));
    }
}

/// One gauge family: its rows of labels and values.
struct Family {
    name: &'static str,
    help: &'static str,
    rows: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, help: &'static str) -> Self {
        Self { name, help, rows: Vec::new() }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.rows.push((labels, value));
    }

    fn encode(&self, encoder: &mut DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let mut metric = encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (labels, value) in &self.rows {
            ConstGauge::new(*value).encode(metric.encode_family(labels)?)?;
        }
        Ok(())
    }
}

fn seconds(t: OffsetDateTime) -> f64 {
    t.unix_timestamp() as f64
}

fn slot_labels(cert_type: &certslot::CertType, scope: &certslot::Scope) -> Vec<(&'static str, String)> {
    vec![("type", cert_type.to_string()), ("scope", scope.to_string())]
}

impl Collector for FleetCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), std::fmt::Error> {
        let view = self.view.read().unwrap_or_else(PoisonError::into_inner).clone();
        let Some((store, state_revision)) = view.state else { return Ok(()) };
        let store = &store;
        let now = self.clock.instant_for(store);
        let mut not_before = Family::new(
            "certslot_certificate_not_before_timestamp_seconds",
            "The notBefore of each certificate of a slot, by role (current, previous, pending).",
        );
        let mut not_after = Family::new(
            "certslot_certificate_not_after_timestamp_seconds",
            "The notAfter of each certificate of a slot, by role (current, previous, pending).",
        );
        let mut effective = Family::new(
            "certslot_certificate_effective_timestamp_seconds",
            "When the pending certificate of a slot becomes current.",
        );
        let mut renewal = Family::new(
            "certslot_certificate_renewal_timestamp_seconds",
            "When the renewal of a slot's current certificate is planned (no roll pending).",
        );
        let mut critical = Family::new(
            "certslot_certificate_critical_timestamp_seconds",
            "When a slot's current certificate is rolled out in an emergency (no roll pending).",
        );
        let mut ready = Family::new(
            "certslot_certificate_ready_status",
            "1 for the slot's condition: True when its current certificate is valid now and neither critical nor expired.",
        );
        let actions = plan(store, now);
        let troubled: Vec<(&certslot::CertType, &certslot::Scope)> = actions
            .iter()
            .filter(|a| matches!(a, Action::Critical { .. } | Action::Expired { .. }))
            .map(Action::slot)
            .collect();
        for (cert_type, scope, slot) in store.slots() {
            let certificate =
                |thumbprint: &Thumbprint| store.inventory().get(thumbprint).map(|s| &s.certificate);
            let roles = [
                ("current", slot.current().map(|c| c.thumbprint)),
                ("previous", slot.previous().map(|c| c.thumbprint)),
                ("pending", slot.pending().map(|p| p.thumbprint)),
            ];
            for (role, thumbprint) in roles {
                let Some(thumbprint) = thumbprint else { continue };
                let Some(cert) = certificate(&thumbprint) else { continue };
                let mut labels = slot_labels(cert_type, scope);
                labels.extend([("role", role.to_owned()), ("thumbprint", thumbprint.to_string())]);
                not_before.push(labels.clone(), seconds(cert.not_before()));
                not_after.push(labels, seconds(cert.not_after()));
            }
            if let Some(pending) = slot.pending() {
                let mut labels = slot_labels(cert_type, scope);
                labels.push(("thumbprint", pending.thumbprint.to_string()));
                effective.push(labels, seconds(pending.effective_at));
            }
            let current = slot.current().and_then(|c| Some((c.thumbprint, certificate(&c.thumbprint)?)));
            if let (Some((thumbprint, _)), Some(milestones)) = (current, store.milestones(cert_type, scope)) {
                let mut labels = slot_labels(cert_type, scope);
                labels.push(("thumbprint", thumbprint.to_string()));
                if let Some(at) = milestones.renew_at {
                    renewal.push(labels.clone(), seconds(at));
                }
                if let Some(at) = milestones.critical_at {
                    critical.push(labels, seconds(at));
                }
            }
            let valid = current.is_some_and(|(_, c)| c.not_before() <= now && now <= c.not_after());
            let is_ready = valid && !troubled.contains(&(cert_type, scope));
            for (condition, value) in [("True", is_ready), ("False", !is_ready)] {
                let mut labels = slot_labels(cert_type, scope);
                labels.push(("condition", condition.to_owned()));
                ready.push(labels, f64::from(u8::from(value)));
            }
        }
        let mut counts =
            Family::new("certslot_plan_actions", "How many actions of each kind the planner gives now.");
        let mut due = Family::new(
            "certslot_plan_action_due_timestamp_seconds",
            "By when each action the planner gives now must be done.",
        );
        for kind in ACTION_KINDS {
            let n = actions.iter().filter(|a| action_kind(a).0 == kind).count();
            counts.push(vec![("kind", kind.to_owned())], n as f64);
        }
        for action in &actions {
            let (kind, by) = action_kind(action);
            let (cert_type, scope) = action.slot();
            if let Some(by) = by {
                let mut labels = slot_labels(cert_type, scope);
                labels.push(("kind", kind.to_owned()));
                due.push(labels, seconds(by));
            }
        }
        let mut reported =
            Family::new("certslot_server_reported", "1 while the server's agent has a live report.");
        let mut missing = Family::new(
            "certslot_server_missing_certificates",
            "Certificates the server should hold and its live report lacks.",
        );
        let mut unexpected = Family::new(
            "certslot_server_unexpected_certificates",
            "Certificates the server's live report holds and it should not (stale or unknown).",
        );
        let mut age =
            Family::new("certslot_server_report_age_seconds", "The age of the server's live report.");
        if let Some(reports) = &view.reports {
            for status in fleet_status(store, reports, now) {
                let labels = vec![("server", status.drift.server.clone())];
                reported.push(labels.clone(), f64::from(u8::from(status.is_reported())));
                missing.push(labels.clone(), status.drift.missing.len() as f64);
                unexpected
                    .push(labels.clone(), (status.drift.stale.len() + status.drift.unexpected.len()) as f64);
                if let Some(report) = &status.report {
                    age.push(labels, (now - report.reported_at).as_seconds_f64().max(0.0));
                }
            }
        }
        let mut last_fetch = Family::new(
            "certslot_partner_last_fetch_timestamp_seconds",
            "When each partner last fetched the keys, as recorded in the state.",
        );
        for (partner, fetch) in store.topology().partners() {
            if let Some(fetch) = fetch {
                last_fetch.push(vec![("partner", partner.to_owned())], seconds(fetch.fetched_at));
            }
        }
        let mut waiting = Family::new(
            "certslot_roll_waiting_for_partner",
            "1 while a due roll waits for the partner to fetch a key set announcing its certificate.",
        );
        for action in &actions {
            if let Action::Roll { cert_type, scope, effective_at, waiting_for_partners, .. } = action {
                if *effective_at <= now {
                    for partner in waiting_for_partners {
                        let mut labels = slot_labels(cert_type, scope);
                        labels.push(("partner", partner.clone()));
                        waiting.push(labels, 1.0);
                    }
                }
            }
        }
        let mut revision =
            Family::new("certslot_state_revision", "The etcd revision of the state these metrics describe.");
        revision.push(Vec::new(), state_revision as f64);
        for family in [
            &not_before,
            &not_after,
            &effective,
            &renewal,
            &critical,
            &ready,
            &counts,
            &due,
            &reported,
            &missing,
            &unexpected,
            &age,
            &last_fetch,
            &waiting,
            &revision,
        ] {
            family.encode(&mut encoder)?;
        }
        Ok(())
    }
}
