//! [`Coordinator`]: applies the passing of time to the shared store. One coordinator leads at a
//! time ([`Election`]); the others wait for the key to be free.
//!
//! The leader watches the cluster's keys and wakes when the state or a holdings report changes,
//! when the store's next scheduled change is due ([`Store::next_due`]), and every resync
//! interval. Each time it runs [`step`] in one guarded compare-and-swap update: the live reports
//! that differ from what the store recorded go in through [`Store::record_holdings`] (this is how
//! holdings reach the staging gate), then [`Store::advance`] runs if a scheduled change is due,
//! or if a roll is due but held and something that may release it changed (a report just
//! recorded, or another writer's change such as a server removed). A step with nothing to do
//! writes nothing.
//!
//! With renewal on ([`Coordinator::renew`]), the same step then asks the planner
//! ([`certslot::rollover::plan`]) what is due and renews every slot it says `Renew` for, inside
//! the same update: with certslot's self-signed issuer ([`certslot::rollover::renew`]), or, for a
//! type with ACME settings ([`EtcdStore::set_acme`]), by starting the renewal
//! ([`certslot::rollover::start_renewal`]: key and request kept in the state) for a task of the
//! leader's to take through the CA and finish (see `acme_renewal`: the order's URL goes into the
//! state first, so a new leader resumes the same order). It wakes at
//! [`certslot::rollover::next_plan_due`] rather than [`Store::next_due`]. A refused renewal
//! changes nothing and is reported in the step; `Critical` and `Expired` actions are reported
//! too.

use core::fmt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use certslot::obtain::{Issuer as _, KeySpec, SelfSignedIssuer};
use certslot::pfx::PrivateKey;
use certslot::rand_core::UnwrapErr;
use certslot::{CertType, Event, OffsetDateTime, Scope, SlotError, Store, Thumbprint, rollover::Action};
use etcd_client::EventType;
use getrandom::SysRng;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, DropGuard};

use crate::clock::Clock;
use crate::etcd::EtcdError;
use crate::fleet::acme_renewal::{AcmeEvent, AcmeTiming, drive, in_progress};
use crate::fleet::alert::Alert;
use crate::fleet::election::{Elected, Election, Leadership};
use crate::fleet::partners::{FetchRecord, fetch_records};
use crate::fleet::report::{LiveReport, live_reports};
use crate::fleet::watcher::{Seen, Watched, spawn_watch};
use crate::state::{EtcdStore, Loaded, UpdateError, Updated, on_blocking_thread, retry_wait, sleep_until};

/// What one [`step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The instant it advanced to.
    pub at: OffsetDateTime,
    /// The servers whose reported holdings it recorded, with what they hold.
    pub recorded: Vec<(String, BTreeSet<Thumbprint>)>,
    /// The partners whose fetches it recorded, with what their fetch announced.
    pub fetched: Vec<(String, BTreeSet<Thumbprint>)>,
    /// What `advance` did, then the events of the renewals' rolls.
    pub events: Vec<Event>,
    /// The renewals it made: the new certificate and when it rolls in.
    pub renewed: Vec<(Thumbprint, OffsetDateTime)>,
    /// The renewals it started for an ACME CA to answer: the slot and the certificate renewed.
    pub started: Vec<(CertType, Scope, Thumbprint)>,
    /// What needs a person: renewals refused, and the planner's `Critical` and `Expired` actions.
    pub alerts: Vec<Alert>,
    /// The store's next scheduled change after the step (with renewal on: the plan's next change).
    pub next_due: Option<OffsetDateTime>,
}

/// How a [`step`] renews what the plan says is due: the keys made ahead of it (see
/// [`keys_for_renewals`]; it makes more itself when they run out), and the types whose
/// renewals an ACME CA answers (started by the step, finished by the coordinator's ACME task),
/// the others being renewed with self-signed certificates.
#[derive(Clone, Copy, Debug)]
pub struct Renewals<'a> {
    keys: &'a [PrivateKey],
    acme: Option<&'a BTreeSet<CertType>>,
    held: Option<&'a BTreeSet<(CertType, Scope)>>,
}

impl<'a> Renewals<'a> {
    /// Renewals on `keys` first, all self-signed.
    pub fn new(keys: &'a [PrivateKey]) -> Self {
        Self { keys, acme: None, held: None }
    }

    /// The renewals of `types` are started for an ACME CA instead.
    #[must_use]
    pub fn through_acme(self, types: &'a BTreeSet<CertType>) -> Self {
        Self { acme: Some(types), ..self }
    }

    /// The ACME renewals of `slots` are not started this step (a renewal of theirs was just
    /// cancelled, and the next waits).
    #[must_use]
    pub fn holding(self, slots: &'a BTreeSet<(CertType, Scope)>) -> Self {
        Self { held: Some(slots), ..self }
    }

    fn is_held(&self, cert_type: &CertType, scope: &Scope) -> bool {
        self.held.is_some_and(|held| held.contains(&(cert_type.clone(), scope.clone())))
    }

    fn is_acme(&self, cert_type: &CertType) -> bool {
        self.acme.is_some_and(|types| types.contains(cert_type))
    }
}

/// One coordinator step on `store` (see the module documentation): records the live `reports`
/// that differ from the store's records, then advances to `clock`'s instant when a scheduled
/// change is due, or when a due roll is held and either a report was recorded or
/// `others_changed` (the state changed by someone else since the last step); with `renew`
/// (`Some`), then renews what the plan says is due (self-signed, or started for an ACME CA; see
/// [`Renewals`]). No I/O (renewal draws serials, and keys when it must, from the system's
/// random generator).
///
/// A report's instant is recorded as it is, except that it is never later than the clock's
/// instant nor earlier than the store's (agents' clocks differ).
///
/// # Errors
/// [`SlotError`] from `record_holdings` or `advance` (an instant before the store's beyond
/// [`Clock::MAX_SKEW`]).
pub fn step(
    store: &mut Store,
    reports: &[LiveReport],
    fetches: &[FetchRecord],
    clock: &Clock,
    others_changed: bool,
    renew: Option<Renewals<'_>>,
) -> Result<Step, SlotError> {
    let mut live: Vec<_> = reports.iter().filter_map(|r| r.report.as_ref().ok()).collect();
    live.sort_by_key(|r| r.reported_at);
    let mut recorded = Vec::new();
    for report in live {
        let known = store.topology().servers().any(|(server, _)| server == report.server);
        let same =
            store.topology().holdings(&report.server).is_some_and(|h| h.thumbprints == report.thumbprints);
        if !known || same {
            continue;
        }
        let now = clock.instant_for(store);
        let at = report.reported_at.min(now).max(store.clock().unwrap_or(report.reported_at));
        store.record_holdings(&report.server, report.thumbprints.iter().copied(), at)?;
        recorded.push((report.server.clone(), report.thumbprints.clone()));
    }
    // Partners' fetches the key server recorded, newer than the store's.
    let mut fetched = Vec::new();
    for record in fetches {
        if !store.topology().has_partner(&record.partner) {
            continue;
        }
        let last = store.topology().fetch(&record.partner);
        if last.is_some_and(|f| f.fetched_at >= record.fetched_at || f.thumbprints == record.thumbprints) {
            continue;
        }
        let now = clock.instant_for(store);
        let at = record.fetched_at.min(now).max(store.clock().unwrap_or(record.fetched_at));
        store.record_partner_fetch(&record.partner, record.thumbprints.iter().copied(), at)?;
        fetched.push((record.partner.clone(), record.thumbprints.clone()));
    }
    let at = clock.instant_for(store);
    let scheduled = store.next_due().is_some_and(|due| due <= at);
    let held = store.slots().any(|(_, _, slot)| slot.pending().is_some_and(|p| p.effective_at <= at));
    let mut events = if scheduled || (held && (others_changed || !recorded.is_empty() || !fetched.is_empty()))
    {
        store.advance(at)?.events
    } else {
        Vec::new()
    };
    let (mut renewed, mut started) = (Vec::new(), Vec::new());
    let mut alerts: Vec<Alert> = events.iter().filter_map(Alert::of_event).collect();
    // A renewal due outside its type's renewal window waits for the window to open.
    let mut window_opens = None;
    if let Some(renew) = renew {
        let mut issuer = SelfSignedIssuer::new(UnwrapErr(SysRng)).with_keys(renew.keys.iter().cloned());
        for action in certslot::rollover::plan(store, at) {
            match &action {
                Action::Renew { window_opens: Some(opens), .. } => {
                    window_opens = Some(window_opens.map_or(*opens, |w: OffsetDateTime| w.min(*opens)));
                }
                Action::Renew { cert_type, scope, .. }
                    if renew.is_acme(cert_type) && renew.is_held(cert_type, scope) => {}
                Action::Renew { cert_type, scope, current, .. } => {
                    let done = match renew.is_acme(cert_type) {
                        true => start_for_acme(store, cert_type, scope, *current, &mut issuer, at)
                            .map(|()| started.push((cert_type.clone(), scope.clone(), *current))),
                        false => certslot::rollover::renew(
                            store,
                            cert_type,
                            scope,
                            &mut issuer,
                            at,
                            Default::default(),
                        )
                        .map(|renewal| {
                            renewed.push((renewal.thumbprint, renewal.effective_at));
                            events.extend(renewal.outcome.events);
                        })
                        .map_err(|e| e.to_string()),
                    };
                    if let Err(reason) = done {
                        alerts.push(Alert::RenewalRefused {
                            cert_type: cert_type.clone(),
                            scope: scope.clone(),
                            current: *current,
                            at,
                            reason,
                        });
                    }
                }
                other => alerts.extend(Alert::of_action(other)),
            }
        }
    }
    let next_due = match renew {
        None => store.next_due(),
        Some(_) => match (certslot::rollover::next_plan_due(store), window_opens) {
            (Some(due), Some(opens)) => Some(due.min(opens)),
            (due, opens) => due.or(opens),
        },
    };
    Ok(Step { at, recorded, fetched, events, renewed, started, alerts, next_due })
}

/// Starts the renewal of `current` for an ACME CA: a key of its kind from `issuer`'s spares (or
/// made now), the request kept in the store. The error's message on refusal.
fn start_for_acme(
    store: &mut Store,
    cert_type: &CertType,
    scope: &Scope,
    current: Thumbprint,
    issuer: &mut SelfSignedIssuer<UnwrapErr<SysRng>>,
    at: OffsetDateTime,
) -> Result<(), String> {
    let public_key = store.inventory().get(&current).and_then(|s| s.certificate.public_key().ok());
    let spec = public_key
        .as_ref()
        .and_then(KeySpec::of_public_key)
        .ok_or_else(|| "the current certificate's key is of a kind certslot cannot make".to_owned())?;
    let key = issuer.key(spec).map_err(|e| e.to_string())?;
    let options = certslot::rollover::RenewOptions::default();
    certslot::rollover::start_renewal(store, cert_type, scope, key, at, options, &mut UnwrapErr(SysRng))
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The kinds of key the renewals due in `store` at `at` ask for, in the plan's order: what to
/// make ahead of a [`step`] (key generation is slow, and a step may run several times, once per
/// compare-and-swap attempt). A certificate whose key certslot cannot make is left out (its
/// renewal is refused and alerted by the step).
pub fn keys_for_renewals(store: &Store, at: OffsetDateTime) -> Vec<KeySpec> {
    certslot::rollover::plan(store, at)
        .iter()
        .filter_map(|action| match action {
            Action::Renew { current, window_opens: None, .. } => {
                let stored = store.inventory().get(current)?;
                KeySpec::of_public_key(&stored.certificate.public_key().ok()?)
            }
            _ => None,
        })
        .collect()
}

/// A leadership's ACME tasks: by slot, the renewal's start and the task's stop.
type AcmeTasks = BTreeMap<(CertType, Scope), (OffsetDateTime, DropGuard)>;

/// The slots whose ACME renewal waits after a cancellation now (a wait that is over keeps its
/// count until a renewal succeeds).
fn held_now(holds: &BTreeMap<(CertType, Scope), (Instant, u32)>) -> BTreeSet<(CertType, Scope)> {
    let now = Instant::now();
    holds.iter().filter(|(_, (until, _))| *until > now).map(|(slot, _)| slot.clone()).collect()
}

/// The wait before a slot's ACME renewal starts again after `cancelled` cancellations in a row:
/// a minute doubling, no longer than the retry cap `cap` (an order the CA keeps declaring
/// invalid is not placed again at every step).
fn acme_hold(cancelled: u32, cap: Duration) -> Duration {
    let doublings = cancelled.saturating_sub(1).min(20);
    Duration::from_secs(60u64 << doublings).min(cap)
}

/// The types of `loaded`'s slots that have ACME settings.
fn acme_types(loaded: &Loaded) -> BTreeSet<CertType> {
    loaded
        .store
        .slots()
        .map(|(cert_type, _, _)| cert_type)
        .filter(|t| loaded.acme(t).is_some())
        .cloned()
        .collect()
}

/// The coordinator. See the module documentation.
pub struct Coordinator {
    store: Arc<EtcdStore>,
    id: String,
    lease_ttl: Duration,
    resync: Duration,
    clock: Clock,
    renew: bool,
    acme: AcmeTiming,
}

/// What a coordinator did or met, for its log.
#[derive(Debug)]
#[non_exhaustive]
pub enum CoordinatorEvent {
    /// It won the election.
    Leading {
        /// Its id.
        id: String,
        /// The election key's create revision (its guard).
        create_revision: i64,
    },
    /// Another coordinator leads; this one waits.
    Following {
        /// The leader's id.
        leader: String,
    },
    /// A step changed the store.
    Stepped(Step),
    /// The ACME side of a renewal did something, or failed.
    Acme(AcmeEvent),
    /// It handed these servers their deliveries afresh: someone other than a writer had changed
    /// or deleted them (see [`EtcdStore::repair_deliveries`]).
    DeliveriesRepaired {
        /// The servers.
        servers: Vec<String>,
    },
    /// It lost the election (its lease expired, or a write found the key held by another).
    LostLeadership,
    /// A step failed (the state refused, a slot error, contention); it tries again at the next
    /// change or resync.
    StepFailed {
        /// Why.
        error: UpdateError<SlotError>,
    },
    /// etcd could not be reached; it retries.
    Unavailable {
        /// The error.
        error: EtcdError,
    },
    /// It stopped (and resigned, if it led).
    Stopped,
}

impl fmt::Display for CoordinatorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leading { id, create_revision } => {
                write!(f, "{id} leads (election revision {create_revision})")
            }
            Self::Following { leader } => write!(f, "following {leader}"),
            Self::Stepped(step) => {
                write!(f, "step at {}", certslot::validate::HumanTime(step.at))?;
                for (server, held) in &step.recorded {
                    let held: Vec<String> = held.iter().map(ToString::to_string).collect();
                    write!(f, "; recorded {server} holding [{}]", held.join(", "))?;
                }
                for (partner, seen) in &step.fetched {
                    let seen: Vec<String> = seen.iter().map(ToString::to_string).collect();
                    write!(f, "; recorded partner {partner} fetching [{}]", seen.join(", "))?;
                }
                for event in &step.events {
                    write!(f, "; {event}")?;
                }
                for (thumbprint, effective_at) in &step.renewed {
                    write!(
                        f,
                        "; renewed: {thumbprint} rolls in at {}",
                        certslot::validate::HumanTime(*effective_at)
                    )?;
                }
                for (cert_type, scope, current) in &step.started {
                    write!(f, "; renewal of {current} ({cert_type} at {scope}) started for the ACME CA")?;
                }
                for alert in &step.alerts {
                    write!(f, "; ALERT {alert}")?;
                }
                Ok(())
            }
            Self::Acme(event) => event.fmt(f),
            Self::DeliveriesRepaired { servers } => {
                write!(f, "handed afresh the deliveries changed by hand of {}", servers.join(", "))
            }
            Self::LostLeadership => f.write_str("lost the leadership"),
            Self::StepFailed { error } => write!(f, "step failed: {error}"),
            Self::Unavailable { error } => write!(f, "etcd unavailable, retrying: {error}"),
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

enum Ended {
    Shutdown,
    Lost,
}

impl Coordinator {
    /// The default lease TTL: a dead leader is replaced within it.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
    /// The default interval of steps when nothing wakes the coordinator.
    pub const DEFAULT_RESYNC: Duration = Duration::from_secs(30);

    /// A coordinator named `id` (shown to the others while it leads). `store` must have the
    /// state's password.
    pub fn new(store: EtcdStore, id: impl Into<String>) -> Self {
        Self {
            store: Arc::new(store.for_coordinator()),
            id: id.into(),
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            resync: Self::DEFAULT_RESYNC,
            clock: Clock::System,
            renew: false,
            acme: AcmeTiming::default(),
        }
    }

    /// Renews what the rollover planner says is due, each step: through the type's ACME CA
    /// when it has ACME settings ([`EtcdStore::set_acme`]), else with self-signed certificates
    /// (what Exchange and AD FS do for their token-signing certificates).
    pub fn renew(self, renew: bool) -> Self {
        Self { renew, ..self }
    }

    /// Sets the waits and the alert threshold of ACME renewals.
    pub fn acme_timing(self, timing: AcmeTiming) -> Self {
        Self { acme: timing, ..self }
    }

    /// Sets the lease TTL.
    pub fn lease_ttl(self, ttl: Duration) -> Self {
        Self { lease_ttl: ttl, ..self }
    }

    /// Sets the interval of steps when nothing happens.
    pub fn resync_every(self, interval: Duration) -> Self {
        Self { resync: interval.max(Duration::from_millis(100)), ..self }
    }

    /// Sets the clock.
    pub fn clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// Campaigns, leads while elected, follows otherwise, until `stop` is cancelled; then
    /// resigns if it leads (within half a second; past it, its lease expires by itself). etcd
    /// being unreachable is not an error: it retries with backoff.
    ///
    /// Its duties run as tasks, each stopped with `stop`: the election (campaigns, and the watch
    /// for a vacancy), the leadership lease's keep-alive, and the watch of the cluster's keys.
    /// The leader's own loop does the steps; while one waits (conflicts, an endpoint that does
    /// not answer), the lease goes on being renewed, and `stop` still ends it at once.
    pub async fn run(self, stop: CancellationToken, mut on_event: impl FnMut(CoordinatorEvent)) {
        let election = Election::new(
            self.store.connection().clone(),
            self.store.cluster(),
            self.id.clone(),
            self.lease_ttl,
        );
        // Cancelled when `run` returns, however it returns: no duty outlives the coordinator.
        let duties = stop.child_token();
        let _stop_duties = duties.clone().drop_guard();
        let mut elected = election.spawn(self.resync, duties.clone());
        let mut following: Option<String> = None;
        loop {
            let note = tokio::select! {
                () = duties.cancelled() => break,
                note = elected.recv() => note,
            };
            match note {
                Some(Elected::Leading(leadership)) => {
                    following = None;
                    on_event(CoordinatorEvent::Leading {
                        id: self.id.clone(),
                        create_revision: leadership.guard().create_revision(),
                    });
                    match self.lead(leadership, &duties, &mut on_event).await {
                        Ended::Shutdown => break,
                        Ended::Lost => on_event(CoordinatorEvent::LostLeadership),
                    }
                }
                Some(Elected::Following { leader }) => {
                    if following.as_ref() != Some(&leader) {
                        on_event(CoordinatorEvent::Following { leader: leader.clone() });
                        following = Some(leader);
                    }
                }
                Some(Elected::Unavailable(error)) => on_event(CoordinatorEvent::Unavailable { error }),
                None => break,
            }
        }
        on_event(CoordinatorEvent::Stopped);
    }

    async fn lead(
        &self,
        mut leadership: Leadership,
        stop: &CancellationToken,
        on_event: &mut impl FnMut(CoordinatorEvent),
    ) -> Ended {
        let conn = self.store.connection().clone();
        let cluster = self.store.cluster().clone();
        let (state_key, servers_prefix, election_key, deliveries_prefix) = (
            cluster.state_key(),
            cluster.servers_prefix(),
            cluster.coordinator_key(),
            cluster.delivery_key(""),
        );
        let fetches_prefix = cluster.fetches_prefix();
        // Deliveries to check at the next step (written by none of the writers, perhaps): all of
        // them when it starts leading (`None`), then those changed without the state.
        let mut check_deliveries: Option<Option<BTreeSet<String>>> = Some(None);
        // The watch lives while this leadership does.
        let watching = stop.child_token();
        let _stop_watching = watching.clone().drop_guard();
        let mut seen = spawn_watch(conn.clone(), cluster.prefix(), Watched::Prefix, watching);
        // Nothing is known until the watch starts; the first `Started` asks for a step.
        let mut need_step = false;
        // Another writer changed the state since the last step (at first: unknown, so yes).
        let mut others_changed = true;
        let mut own_write: Option<i64> = None;
        let mut wake_at = Instant::now() + self.resync;
        let mut failures = 0u32;
        let mut retry_at: Option<Instant> = None;
        let lost = leadership.lost();
        // The ACME renewals this leadership drives, by slot (stopped when it ends), and their
        // reports.
        let mut acme_tasks: AcmeTasks = BTreeMap::new();
        let (acme_tx, mut acme_rx) = mpsc::unbounded_channel();
        // Slots whose ACME renewal was cancelled: the next one starts no earlier than the
        // instant, after waits that double with each cancellation in a row.
        let mut acme_holds: BTreeMap<(CertType, Scope), (Instant, u32)> = BTreeMap::new();
        loop {
            if need_step && retry_at.is_none() {
                let acme_held = held_now(&acme_holds);
                let stepped = tokio::select! {
                    () = stop.cancelled() => {
                        let _ = leadership.resign().await;
                        return Ended::Shutdown;
                    }
                    () = lost.cancelled() => return Ended::Lost,
                    stepped = self.step_once(&leadership, others_changed, &acme_held) => stepped,
                };
                if let (true, Some(servers)) = (stepped.is_ok(), check_deliveries.take()) {
                    match self.store.repair_deliveries(servers.as_ref(), Some(leadership.guard())).await {
                        Ok(servers) if !servers.is_empty() => {
                            on_event(CoordinatorEvent::DeliveriesRepaired { servers });
                        }
                        Ok(_) => {}
                        Err(UpdateError::NotLeader { .. }) => return Ended::Lost,
                        // Checked again at the next step.
                        Err(_) => check_deliveries = Some(servers),
                    }
                }
                match stepped {
                    Ok(updated) => {
                        failures = 0;
                        need_step = false;
                        others_changed = false;
                        let next_due = updated.value.next_due;
                        if updated.written || !updated.value.alerts.is_empty() {
                            own_write = Some(updated.mod_revision);
                            on_event(CoordinatorEvent::Stepped(updated.value));
                        }
                        wake_at = self.wake_at(next_due);
                        self.sync_acme(&leadership, &mut acme_tasks, &acme_tx).await;
                    }
                    Err(UpdateError::NotLeader { .. }) => return Ended::Lost,
                    Err(UpdateError::Etcd(error)) => {
                        on_event(CoordinatorEvent::Unavailable { error });
                        failures = failures.saturating_add(1);
                        retry_at = Some(Instant::now() + retry_wait(failures));
                    }
                    Err(error) => {
                        // A refused state or a slot error waits for the next change.
                        need_step = false;
                        on_event(CoordinatorEvent::StepFailed { error });
                        wake_at = Instant::now() + self.resync;
                    }
                }
            }
            tokio::select! {
                () = stop.cancelled() => {
                    let _ = leadership.resign().await;
                    return Ended::Shutdown;
                }
                () = lost.cancelled() => return Ended::Lost,
                Some(error) = leadership.trouble() => on_event(CoordinatorEvent::Unavailable { error }),
                Some(event) = acme_rx.recv() => {
                    match &event {
                        AcmeEvent::Cancelled { cert_type, scope, .. } => {
                            let slot = (cert_type.clone(), scope.clone());
                            let count = acme_holds.get(&slot).map_or(0, |(_, n)| *n).saturating_add(1);
                            let until = Instant::now() + acme_hold(count, self.acme.retry_cap);
                            // A step after the wait (the resync at the latest) starts another.
                            acme_holds.insert(slot, (until, count));
                        }
                        AcmeEvent::Renewed { cert_type, scope, .. } => {
                            acme_holds.remove(&(cert_type.clone(), scope.clone()));
                        }
                        _ => {}
                    }
                    on_event(CoordinatorEvent::Acme(event));
                }
                note = seen.recv() => match note {
                    // The watch (re)started: whatever happened before it, step.
                    Some(Seen::Started { .. }) => {
                        need_step = true;
                        others_changed = true;
                        check_deliveries = Some(None);
                    }
                    Some(Seen::Changed(changes)) => {
                        // A writer writes deliveries with the state, at the same revision.
                        let writes: BTreeSet<i64> =
                            changes.iter().filter(|c| c.key == state_key).map(|c| c.mod_revision).collect();
                        for change in changes {
                            if change.key == state_key && Some(change.mod_revision) != own_write {
                                others_changed = true;
                                need_step = true;
                            } else if change.key.starts_with(&servers_prefix) || change.key.starts_with(&fetches_prefix) {
                                need_step = true;
                            } else if let Some(server) = change.key.strip_prefix(&deliveries_prefix) {
                                if !writes.contains(&change.mod_revision) && Some(change.mod_revision) != own_write {
                                    // Changed without the state: not by a writer.
                                    match &mut check_deliveries {
                                        Some(Some(servers)) => {
                                            servers.insert(server.to_owned());
                                        }
                                        Some(None) => {}
                                        None => check_deliveries = Some(Some([server.to_owned()].into())),
                                    }
                                    need_step = true;
                                }
                            } else if change.key == election_key && change.kind == EventType::Delete {
                                return Ended::Lost;
                            }
                        }
                    }
                    Some(Seen::Unavailable(error)) => on_event(CoordinatorEvent::Unavailable { error }),
                    // The watch task stopped: only when `stop` was cancelled.
                    None => {
                        let _ = leadership.resign().await;
                        return Ended::Shutdown;
                    }
                },
                () = tokio::time::sleep_until(wake_at) => {
                    need_step = true;
                    wake_at = Instant::now() + self.resync;
                }
                () = sleep_until(retry_at) => retry_at = None,
            }
        }
    }

    /// Starts a task for each renewal in progress through ACME that has none, and forgets the
    /// tasks of renewals no longer in progress (a task ends by itself once its renewal is done,
    /// cancelled or refused; a refused one is not started again by this leadership).
    async fn sync_acme(
        &self,
        leadership: &Leadership,
        tasks: &mut AcmeTasks,
        events: &mpsc::UnboundedSender<AcmeEvent>,
    ) {
        if !self.renew {
            return;
        }
        let Ok(loaded) = self.store.latest_loaded().await else { return };
        let now = in_progress(&loaded);
        tasks.retain(|(cert_type, scope), (started_at, _)| {
            now.iter().any(|r| (&r.cert_type, &r.scope, r.started_at) == (cert_type, scope, *started_at))
        });
        for renewal in now {
            let slot = (renewal.cert_type.clone(), renewal.scope.clone());
            if tasks.contains_key(&slot) {
                continue;
            }
            let stop = CancellationToken::new();
            tokio::spawn(drive(
                Arc::clone(&self.store),
                leadership.guard().clone(),
                self.clock,
                self.acme,
                renewal.clone(),
                events.clone(),
                stop.clone(),
            ));
            tasks.insert(slot, (renewal.started_at, stop.drop_guard()));
        }
    }

    /// One step in a guarded update, with the renewals' keys made beforehand on the blocking
    /// threads (once, not once per compare-and-swap attempt).
    async fn step_once(
        &self,
        leadership: &Leadership,
        others_changed: bool,
        acme_held: &BTreeSet<(CertType, Scope)>,
    ) -> Result<Updated<Step>, UpdateError<SlotError>> {
        let conn = self.store.connection();
        let reports = live_reports(conn, self.store.cluster()).await.map_err(UpdateError::Etcd)?;
        let fetches = fetch_records(conn, self.store.cluster()).await.map_err(UpdateError::Etcd)?;
        let (keys, acme) = match self.renew {
            false => (None, BTreeSet::new()),
            true => {
                let acme = self.store.latest_loaded().await.map(|l| acme_types(&l)).unwrap_or_default();
                (Some(self.keys_ahead().await), acme)
            }
        };
        self.store
            .update_guarded(leadership.guard(), |store| {
                let renew =
                    keys.as_deref().map(|keys| Renewals::new(keys).through_acme(&acme).holding(acme_held));
                step(store, &reports, &fetches, &self.clock, others_changed, renew)
            })
            .await
    }

    /// The keys the renewals due now need, made on the blocking threads. Best effort: a key
    /// that cannot be made here is made (or its failure alerted) by the step.
    async fn keys_ahead(&self) -> Vec<PrivateKey> {
        let Ok(store) = self.store.latest().await else { return Vec::new() };
        let specs = keys_for_renewals(&store, self.clock.instant_for(&store));
        if specs.is_empty() {
            return Vec::new();
        }
        let made = on_blocking_thread(move || {
            specs.iter().filter_map(|spec| spec.generate(&mut UnwrapErr(SysRng)).ok()).collect()
        });
        made.await.unwrap_or_default()
    }

    /// When to step next: at the store's next scheduled change, at the latest after a resync.
    fn wake_at(&self, next_due: Option<OffsetDateTime>) -> Instant {
        let resync = Instant::now() + self.resync;
        let Some(due) = next_due else { return resync };
        let wait = due - self.clock.now();
        if wait.is_negative() {
            return Instant::now();
        }
        // A little after the instant, so that the store's clock has reached it.
        let wait = Duration::try_from(wait).unwrap_or(self.resync) + Duration::from_millis(5);
        (Instant::now() + wait).min(resync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_acme_renewal_waits_a_minute_doubling_up_to_the_cap() {
        let cap = Duration::from_secs(300);
        let waits: Vec<u64> = (1..=5).map(|n| acme_hold(n, cap).as_secs()).collect();
        assert_eq!(waits, [60, 120, 240, 300, 300]);
        // The retry cap bounds it.
        assert_eq!(acme_hold(1, Duration::from_secs(1)), Duration::from_secs(1));
        let mut holds = BTreeMap::new();
        let slot = (CertType::OAuthTokenIssuer, Scope::Global);
        holds.insert(slot.clone(), (Instant::now() + Duration::from_secs(60), 1));
        holds.insert((CertType::Default, Scope::Global), (Instant::now() - Duration::from_secs(1), 3));
        assert_eq!(held_now(&holds), BTreeSet::from([slot]));
    }
}
