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
//! With renewal on ([`Coordinator::renew_self_signed`]), the same step then asks the planner
//! ([`Store::plan`]) what is due and renews every slot it says `Renew` for with certslot's
//! self-signed issuer ([`Store::renew`]), inside the same update; it wakes at
//! [`Store::next_plan_due`] rather than [`Store::next_due`]. A refused renewal changes nothing and
//! is reported in the step; `Critical` and `Expired` actions are reported too.

use core::fmt;
use core::future::Future;
use std::collections::BTreeSet;
use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{
    Event, OffsetDateTime, SlotError, Store, Thumbprint, obtain::SelfSignedIssuer, rollover::Action,
};
use etcd_client::{EventType, WatchOptions, WatchResponse, WatchStream};
use getrandom::SysRng;
use tokio::time::Instant;

use crate::clock::Clock;
use crate::etcd::EtcdError;
use crate::fleet::election::{Campaign, Election, Leadership};
use crate::fleet::report::{LiveReport, live_reports};
use crate::state::{EtcdStore, UpdateError, jitter};

/// What one [`step`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// The instant it advanced to.
    pub at: OffsetDateTime,
    /// The servers whose reported holdings it recorded, with what they hold.
    pub recorded: Vec<(String, BTreeSet<Thumbprint>)>,
    /// What `advance` did, then the events of the renewals' rolls.
    pub events: Vec<Event>,
    /// The renewals it made: the new certificate and when it rolls in.
    pub renewed: Vec<(Thumbprint, OffsetDateTime)>,
    /// What needs a person: renewals refused, and the planner's `Critical` and `Expired` actions.
    pub alerts: Vec<String>,
    /// The store's next scheduled change after the step (with renewal on: the plan's next change).
    pub next_due: Option<OffsetDateTime>,
}

/// One coordinator step on `store` (see the module documentation): records the live `reports`
/// that differ from the store's records, then advances to `clock`'s instant when a scheduled
/// change is due, or when a due roll is held and either a report was recorded or
/// `others_changed` (the state changed by someone else since the last step); with `renew`, then
/// renews what the plan says is due with self-signed certificates. No I/O (renewal draws keys
/// and serials from the system's random generator).
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
    clock: &Clock,
    others_changed: bool,
    renew: bool,
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
    let at = clock.instant_for(store);
    let scheduled = store.next_due().is_some_and(|due| due <= at);
    let held = store.slots().any(|(_, _, slot)| slot.pending().is_some_and(|p| p.effective_at <= at));
    let mut events = if scheduled || (held && (others_changed || !recorded.is_empty())) {
        store.advance(at)?.events
    } else {
        Vec::new()
    };
    let (mut renewed, mut alerts) = (Vec::new(), Vec::new());
    if !renew {
        return Ok(Step { at, recorded, events, renewed, alerts, next_due: store.next_due() });
    }
    let mut issuer = SelfSignedIssuer::new(UnwrapErr(SysRng));
    for action in certslot::rollover::plan(store, at) {
        match &action {
            Action::Renew { cert_type, scope, .. } => {
                match certslot::rollover::renew(store, cert_type, scope, &mut issuer, at) {
                    Ok(renewal) => {
                        renewed.push((renewal.thumbprint, renewal.effective_at));
                        events.extend(renewal.outcome.events);
                    }
                    Err(e) => alerts.push(format!("{cert_type} at {scope}: renewal refused: {e}")),
                }
            }
            Action::Critical { .. } | Action::Expired { .. } => alerts.push(action.to_string()),
            _ => {}
        }
    }
    Ok(Step { at, recorded, events, renewed, alerts, next_due: certslot::rollover::next_plan_due(store) })
}

/// The coordinator. See the module documentation.
pub struct Coordinator {
    store: EtcdStore,
    id: String,
    lease_ttl: Duration,
    resync: Duration,
    clock: Clock,
    renew: bool,
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
                for alert in &step.alerts {
                    write!(f, "; ALERT {alert}")?;
                }
                Ok(())
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
            store,
            id: id.into(),
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            resync: Self::DEFAULT_RESYNC,
            clock: Clock::System,
            renew: false,
        }
    }

    /// Renews what the rollover planner says is due with self-signed certificates (what
    /// Exchange and AD FS do for their token-signing certificates), each step.
    pub fn renew_self_signed(self, renew: bool) -> Self {
        Self { renew, ..self }
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

    /// Campaigns, leads while elected, follows otherwise, until `shutdown` completes; then
    /// resigns if it leads. etcd being unreachable is not an error: it retries with backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()>, mut on_event: impl FnMut(CoordinatorEvent)) {
        tokio::pin!(shutdown);
        let election = Election::new(
            self.store.connection().clone(),
            self.store.cluster(),
            self.id.clone(),
            self.lease_ttl,
        );
        let mut failures = 0u32;
        let mut following: Option<String> = None;
        loop {
            let campaign = tokio::select! {
                () = &mut shutdown => break,
                campaign = election.campaign() => campaign,
            };
            match campaign {
                Ok(Campaign::Won(leadership)) => {
                    failures = 0;
                    following = None;
                    on_event(CoordinatorEvent::Leading {
                        id: self.id.clone(),
                        create_revision: leadership.guard().create_revision(),
                    });
                    match self.lead(leadership, &mut shutdown, &mut on_event).await {
                        Ended::Shutdown => break,
                        Ended::Lost => on_event(CoordinatorEvent::LostLeadership),
                    }
                }
                Ok(Campaign::Lost { leader, revision }) => {
                    failures = 0;
                    if following.as_ref() != Some(&leader) {
                        on_event(CoordinatorEvent::Following { leader: leader.clone() });
                        following = Some(leader);
                    }
                    tokio::select! {
                        () = &mut shutdown => break,
                        vacancy = election.vacancy(revision, self.resync) => {
                            if let Err(error) = vacancy {
                                on_event(CoordinatorEvent::Unavailable { error });
                                tokio::time::sleep(jitter(Duration::from_millis(100), Duration::from_secs(2), 1)).await;
                            }
                        }
                    }
                }
                Err(error) => {
                    on_event(CoordinatorEvent::Unavailable { error });
                    failures = failures.saturating_add(1);
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(jitter(Duration::from_millis(100), Duration::from_secs(2), failures)) => {}
                    }
                }
            }
        }
        on_event(CoordinatorEvent::Stopped);
    }

    async fn lead(
        &self,
        mut leadership: Leadership,
        shutdown: &mut (impl Future<Output = ()> + Unpin),
        on_event: &mut impl FnMut(CoordinatorEvent),
    ) -> Ended {
        let conn = self.store.connection().clone();
        let cluster = self.store.cluster().clone();
        let (state_key, servers_prefix, election_key) =
            (cluster.state_key(), cluster.servers_prefix(), cluster.coordinator_key());
        let mut watch: Option<WatchStream> = None;
        let mut need_step = true;
        // Another writer changed the state since the last step (at first: unknown, so yes).
        let mut others_changed = true;
        let mut own_write: Option<i64> = None;
        let mut wake_at = Instant::now() + self.resync;
        let mut next_renew = Instant::now() + leadership.renew_every();
        let mut failures = 0u32;
        loop {
            let mut healthy = true;
            if watch.is_none() {
                let prefix = cluster.prefix();
                let watched = conn.call("watch", |mut c| {
                    let prefix = prefix.clone();
                    async move { c.watch.watch(prefix, Some(WatchOptions::new().with_prefix())).await }
                });
                match watched.await {
                    Ok(stream) => {
                        watch = Some(stream);
                        // Whatever happened while there was no watch: step.
                        need_step = true;
                    }
                    Err(error) => {
                        on_event(CoordinatorEvent::Unavailable { error });
                        healthy = false;
                    }
                }
            }
            if healthy && need_step {
                match live_reports(&conn, &cluster).await {
                    Err(error) => {
                        on_event(CoordinatorEvent::Unavailable { error });
                        healthy = false;
                    }
                    Ok(reports) => {
                        let changed = others_changed;
                        let result = self
                            .store
                            .update_guarded(leadership.guard(), |store| {
                                step(store, &reports, &self.clock, changed, self.renew)
                            })
                            .await;
                        match result {
                            Ok(updated) => {
                                need_step = false;
                                others_changed = false;
                                let next_due = updated.value.next_due;
                                if updated.written || !updated.value.alerts.is_empty() {
                                    own_write = Some(updated.mod_revision);
                                    on_event(CoordinatorEvent::Stepped(updated.value));
                                }
                                wake_at = self.wake_at(next_due);
                            }
                            Err(UpdateError::NotLeader { .. }) => return Ended::Lost,
                            Err(UpdateError::Etcd(error)) => {
                                on_event(CoordinatorEvent::Unavailable { error });
                                healthy = false;
                            }
                            Err(error) => {
                                // A refused state or a slot error waits for the next change.
                                need_step = false;
                                on_event(CoordinatorEvent::StepFailed { error });
                                wake_at = Instant::now() + self.resync;
                            }
                        }
                    }
                }
            }
            failures = if healthy { 0 } else { failures.saturating_add(1) };
            let retry_at = (!healthy).then(|| {
                Instant::now() + jitter(Duration::from_millis(100), Duration::from_secs(2), failures)
            });
            tokio::select! {
                () = &mut *shutdown => {
                    let _ = leadership.resign().await;
                    return Ended::Shutdown;
                }
                message = next_message(&mut watch) => match message {
                    Ok(Some(answer)) => {
                        if answer.canceled() {
                            watch = None;
                        }
                        for (key, kind, mod_revision) in events(&answer) {
                            if key == state_key && Some(mod_revision) != own_write {
                                others_changed = true;
                                need_step = true;
                            } else if key.starts_with(&servers_prefix) {
                                need_step = true;
                            } else if key == election_key && kind == EventType::Delete {
                                return Ended::Lost;
                            }
                        }
                    }
                    Ok(None) => watch = None,
                    Err(source) => {
                        on_event(CoordinatorEvent::Unavailable { error: EtcdError::from_client("watch", source) });
                        watch = None;
                        // A watch that breaks at once must not spin: wait a little first.
                        failures = failures.saturating_add(1);
                        tokio::time::sleep(jitter(Duration::from_millis(100), Duration::from_secs(2), failures)).await;
                    }
                },
                () = tokio::time::sleep_until(next_renew) => {
                    match leadership.renew().await {
                        Ok(true) => next_renew = Instant::now() + leadership.renew_every(),
                        Ok(false) => return Ended::Lost,
                        Err(error) => {
                            on_event(CoordinatorEvent::Unavailable { error });
                            next_renew = Instant::now() + Duration::from_millis(500);
                        }
                    }
                }
                () = tokio::time::sleep_until(wake_at) => {
                    need_step = true;
                    wake_at = Instant::now() + self.resync;
                }
                () = sleep_until(retry_at) => {}
            }
        }
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

/// The key, kind and revision of every event of a watch answer.
fn events(answer: &WatchResponse) -> Vec<(String, EventType, i64)> {
    answer
        .events()
        .iter()
        .filter_map(|e| {
            let kv = e.kv()?;
            Some((String::from_utf8_lossy(kv.key()).into_owned(), e.event_type(), kv.mod_revision()))
        })
        .collect()
}

async fn next_message(watch: &mut Option<WatchStream>) -> Result<Option<WatchResponse>, etcd_client::Error> {
    match watch.as_mut() {
        Some(stream) => stream.message().await,
        None => core::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => core::future::pending().await,
    }
}
