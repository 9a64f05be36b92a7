//! [`Agent`]: what Lync's replication does on each front-end server. It watches its server's
//! delivery, `/certslot/<cluster>/deliveries/<fqdn>` (what the server must hold, sealed to the
//! agent's own key and signed by a writer: see [`Delivery`]), writes those certificates with
//! their keys into its directory (see `cert_dir`), removes the files of certificates no longer
//! assigned, and reports what it holds under `/certslot/<cluster>/servers/<fqdn>` with a lease
//! it keeps alive. When the agent dies the lease expires and the report goes: the server shows
//! as unreported. It never reads the state and needs no fleet password: only its own key, the
//! writers' public key it was given at enrolment, and the password of the files it writes.
//!
//! A delivery that does not open (corrupt, foreign, for another server, sealed to another key,
//! not signed by the pinned writer key), one older than the newest applied here (a replay), and
//! a missing one change nothing in the directory: the agent keeps what it holds, keeps
//! reporting it, and waits for a good delivery.

use core::fmt;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{ExportOptions, Password, Pfx, Thumbprint};
use etcd_client::{EventType, PutOptions};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::etcd::{EtcdError, KeptLease};
use crate::fleet::cert_dir::{CertDir, CertDirError};
use crate::fleet::report::{HoldingsReport, ReportError};
use crate::fleet::watcher::{Seen, Watched, spawn_watch};
use crate::seal::{AgentKey, AgentKeyError, Delivery, DeliveryError, WriterPublicKey};
use crate::state::{EtcdStore, on_blocking_thread, retry_wait, sleep_until};

/// A front-end server's agent. See the module documentation.
pub struct Agent {
    store: Arc<EtcdStore>,
    server: String,
    dir: PathBuf,
    file_password: Option<Password>,
    writer: Option<WriterPublicKey>,
    lease_ttl: Duration,
    resync: Duration,
    clock: Clock,
}

/// Why an agent cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent needs a password for the PFX files it writes.
    #[error("the agent needs a password for the PFX files it writes (its own, not the fleet password)")]
    NoPassword,
    /// The agent needs the writers' public key, pinned at enrolment: it accepts deliveries
    /// signed by that key only.
    #[error("the agent needs the writers' public key (certslot-fleet writer-key prints it)")]
    NoWriterKey,
    /// Not a server name the store accepts.
    #[error("invalid server name {name:?}")]
    InvalidServer {
        /// The name.
        name: String,
    },
    /// The certificate directory cannot be opened or read.
    #[error(transparent)]
    Dir(#[from] CertDirError),
    /// The agent's key pair cannot be read or made.
    #[error(transparent)]
    Key(#[from] AgentKeyError),
    /// The runtime shut down while the agent's work ran on its blocking threads.
    #[error("the runtime shut down under the agent's work")]
    Interrupted,
}

/// What an agent did or met, for its log.
#[derive(Debug)]
#[non_exhaustive]
pub enum AgentEvent {
    /// It started, holding these certificates (files that open with the file password).
    Started {
        /// The server.
        server: String,
        /// The directory.
        dir: PathBuf,
        /// What it holds.
        holding: BTreeSet<Thumbprint>,
        /// The fingerprint of its key pair (see [`crate::AgentPublicKey::fingerprint`]).
        key_fingerprint: String,
        /// True when the key pair was made at this start (its first).
        key_made: bool,
    },
    /// A lease was granted for its report.
    LeaseGranted {
        /// The lease.
        lease: i64,
        /// Its TTL.
        ttl: Duration,
    },
    /// Its lease expired (etcd deleted its report); a new one follows.
    LeaseLost {
        /// The lease.
        lease: i64,
    },
    /// It wrote or removed certificate files to match a state.
    Synced {
        /// The state's etcd revision.
        mod_revision: i64,
        /// The store's revision.
        revision: u64,
        /// The certificates written.
        written: Vec<Thumbprint>,
        /// The certificates removed.
        removed: Vec<Thumbprint>,
    },
    /// It reported what it holds.
    Reported {
        /// The thumbprints.
        thumbprints: BTreeSet<Thumbprint>,
    },
    /// The delivery is refused (see [`DeliveryError`]); the files stay as they are.
    DeliveryRejected {
        /// Why.
        error: DeliveryError,
    },
    /// The delivery is older than the newest this agent applied (a replay of an earlier value,
    /// or an etcd restored from an old backup): refused, the files stay as they are.
    StaleDelivery {
        /// The store revision of the delivery found.
        revision: u64,
        /// The newest store revision applied here.
        applied: u64,
    },
    /// There is no delivery for this server (not enrolled yet, or no longer in the topology);
    /// the files stay as they are.
    NoDelivery,
    /// A certificate it must hold could not be written.
    CannotHold {
        /// The certificate.
        thumbprint: Thumbprint,
        /// Why.
        error: CertDirError,
    },
    /// A certificate file could not be removed or read.
    FileError {
        /// Why.
        error: CertDirError,
    },
    /// Its report cannot be written (its clock reads an instant RFC 3339 cannot write); it
    /// tries again at the next change or tick.
    ReportUnwritable {
        /// Why.
        error: ReportError,
    },
    /// etcd could not be reached; it retries.
    Unavailable {
        /// The error.
        error: EtcdError,
    },
    /// It stopped (and revoked its lease: its report is gone).
    Stopped,
}

impl fmt::Display for AgentEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |ts: &mut dyn Iterator<Item = &Thumbprint>| {
            ts.map(ToString::to_string).collect::<Vec<_>>().join(", ")
        };
        match self {
            Self::Started { server, dir, holding, key_fingerprint, key_made } => {
                write!(
                    f,
                    "agent for {server} started in {}, holding [{}], agent key {key_fingerprint}{}",
                    dir.display(),
                    list(&mut holding.iter()),
                    if *key_made { " (made now)" } else { "" }
                )
            }
            Self::LeaseGranted { lease, ttl } => write!(f, "lease {lease:x} granted, ttl {}s", ttl.as_secs()),
            Self::LeaseLost { lease } => write!(f, "lease {lease:x} expired; granting another"),
            Self::Synced { mod_revision, revision, written, removed } => write!(
                f,
                "synced to state revision {revision} (etcd {mod_revision}): wrote [{}] removed [{}]",
                list(&mut written.iter()),
                list(&mut removed.iter())
            ),
            Self::Reported { thumbprints } => {
                write!(f, "reported holding [{}]", list(&mut thumbprints.iter()))
            }
            Self::DeliveryRejected { error } => write!(f, "delivery rejected, keeping every file: {error}"),
            Self::StaleDelivery { revision, applied } => write!(
                f,
                "delivery of revision {revision} is older than revision {applied} applied here, keeping every file"
            ),
            Self::NoDelivery => f.write_str("no delivery for this server in etcd, keeping every file"),
            Self::CannotHold { thumbprint, error } => write!(f, "cannot hold {thumbprint}: {error}"),
            Self::FileError { error } => write!(f, "certificate directory: {error}"),
            Self::ReportUnwritable { error } => write!(f, "cannot write the report, retrying: {error}"),
            Self::Unavailable { error } => write!(f, "etcd unavailable, retrying: {error}"),
            Self::Stopped => f.write_str("stopped; lease revoked"),
        }
    }
}

/// What the agent keeps of its server between events: the directory and what it holds, its
/// keys, the last good delivery. Moved to tokio's blocking threads for each piece of work
/// (opening the delivery, writing and syncing files), and back.
struct Holder {
    cluster: String,
    server: String,
    clock: Clock,
    certs: CertDir,
    file_password: Password,
    key: AgentKey,
    writer: WriterPublicKey,
    holding: BTreeSet<Thumbprint>,
    /// The last good delivery, until a bad one arrives.
    current: Option<(Delivery, i64)>,
    /// The highest etcd revision of the delivery seen (good or bad): older watch events are
    /// skipped.
    seen: i64,
    /// The newest store revision applied, as recorded in the directory: an older delivery is
    /// refused.
    applied: u64,
}

/// A piece of the holder's work.
enum Work {
    /// A delivery read (`fresh`: read when the watch started, applied even if seen before) or
    /// watched.
    Apply { value: Vec<u8>, mod_revision: i64, fresh: bool },
    /// The delivery key is missing.
    Missing,
    /// The periodic re-check of the directory and of the time-dependent part of what the
    /// server must hold.
    Resync,
}

impl Agent {
    /// The default lease TTL: a dead agent shows as unreported within it.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
    /// The default interval of full re-checks (the directory, and the time-dependent part of
    /// what the server must hold).
    pub const DEFAULT_RESYNC: Duration = Duration::from_secs(30);

    /// An agent for `server` keeping its certificates in `dir`, accepting deliveries signed by
    /// `writer` (the writers' public key, pinned at enrolment). `store` needs no password: give
    /// the files' password with [`Agent::file_password`] (without it, the store's password
    /// protects the files).
    ///
    /// # Errors
    /// [`AgentError::InvalidServer`].
    pub fn new(
        store: EtcdStore,
        server: &str,
        dir: impl AsRef<Path>,
        writer: WriterPublicKey,
    ) -> Result<Self, AgentError> {
        let valid = !server.is_empty()
            && server.len() <= 253
            && server.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(AgentError::InvalidServer { name: server.to_owned() });
        }
        Ok(Self {
            store: Arc::new(store),
            server: server.to_ascii_lowercase(),
            dir: dir.as_ref().to_owned(),
            file_password: None,
            writer: Some(writer),
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            resync: Self::DEFAULT_RESYNC,
            clock: Clock::System,
        })
    }

    /// Protects the PFX files with this password (the agent's own, not the fleet password).
    pub fn file_password(self, password: Password) -> Self {
        Self { file_password: Some(password), ..self }
    }

    /// Sets the lease TTL (etcd's minimum is about 2 s).
    pub fn lease_ttl(self, ttl: Duration) -> Self {
        Self { lease_ttl: ttl, ..self }
    }

    /// Sets the interval of full re-checks.
    pub fn resync_every(self, interval: Duration) -> Self {
        Self { resync: interval.max(Duration::from_millis(100)), ..self }
    }

    /// Sets the clock.
    pub fn clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The key pair of the agent whose directory is `dir`, as the agent reads it at its start:
    /// the directory made (mode 0700) when missing and refused when its group or others may
    /// write it, the key made on the first call. The second value is true when the key was made
    /// now.
    ///
    /// # Errors
    /// [`AgentError::Dir`], [`AgentError::Key`].
    pub fn load_key(dir: &Path) -> Result<(AgentKey, bool), AgentError> {
        CertDir::open(dir)?;
        Ok(AgentKey::load_or_create(dir)?)
    }

    /// The server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Runs until `stop` is cancelled, then revokes its lease (within half a second; past it,
    /// the lease expires by itself). etcd being unreachable is not an error: the agent keeps its
    /// files and retries, with backoff, and picks up where it left off when etcd is back.
    ///
    /// Its duties run as tasks, each stopped with `stop`: the watch of the state key and the
    /// report lease's keep-alive. Opening the state's keys and writing files run on tokio's
    /// blocking threads; the lease is renewed meanwhile.
    ///
    /// # Errors
    /// [`AgentError::Dir`] when the directory cannot be opened or read at the start,
    /// [`AgentError::Key`] when its key pair cannot be read or made (the first start makes it),
    /// [`AgentError::Interrupted`] when the runtime shuts down under its blocking work.
    pub async fn run(
        self,
        stop: CancellationToken,
        mut on_event: impl FnMut(AgentEvent),
    ) -> Result<(), AgentError> {
        let file_password = self
            .file_password
            .clone()
            .or_else(|| self.store.password().cloned())
            .ok_or(AgentError::NoPassword)?;
        let writer = self.writer.clone().ok_or(AgentError::NoWriterKey)?;
        let (dir, server, clock) = (self.dir.clone(), self.server.clone(), self.clock);
        let cluster = self.store.cluster().name().to_owned();
        let holder = blocking(move || -> Result<(Holder, bool), AgentError> {
            let certs = CertDir::open(&dir)?;
            let (key, key_made) = AgentKey::load_or_create(&dir)?;
            let holding = certs.list()?.into_iter().filter(|t| certs.verify(t, &file_password)).collect();
            let applied = certs.applied()?;
            let holder = Holder {
                cluster,
                server,
                clock,
                certs,
                file_password,
                key,
                writer,
                holding,
                current: None,
                seen: 0,
                applied,
            };
            Ok((holder, key_made))
        })
        .await??;
        let (holder, key_made) = holder;
        on_event(AgentEvent::Started {
            server: self.server.clone(),
            dir: self.dir.clone(),
            holding: holder.holding.clone(),
            key_fingerprint: holder.key.public().fingerprint(),
            key_made,
        });
        // Cancelled when `run` returns, however it returns: no duty outlives the agent.
        let duties = stop.child_token();
        let _stop_duties = duties.clone().drop_guard();
        let lease = self.serve(holder, &duties, &mut on_event).await?;
        if let Some(held) = lease {
            // Best effort: an unreachable etcd lets the lease expire instead.
            let _ = held.revoke().await;
        }
        on_event(AgentEvent::Stopped);
        Ok(())
    }

    /// The agent's loop, until `duties` is cancelled; the lease it holds then.
    async fn serve(
        &self,
        mut holder: Holder,
        duties: &CancellationToken,
        on_event: &mut impl FnMut(AgentEvent),
    ) -> Result<Option<KeptLease>, AgentError> {
        let conn = self.store.connection().clone();
        let delivery_key = self.store.cluster().delivery_key(&self.server);
        let report_key = self.store.cluster().server_key(&self.server);
        let mut seen = spawn_watch(conn.clone(), delivery_key.clone(), Watched::Key, duties.clone());
        let mut lease: Option<KeptLease> = None;
        // The lease's "lost" token (a token never cancelled while there is no lease).
        let mut lost = CancellationToken::new();
        let mut reported: Option<BTreeSet<Thumbprint>> = None;
        let mut todo: Option<Work> = None;
        let mut failures = 0u32;
        let mut retry_at: Option<Instant> = None;
        let mut next_resync = Instant::now() + self.resync;
        loop {
            if let Some(work) = todo.take() {
                let (done, events) = blocking(move || {
                    let mut events = Vec::new();
                    holder.work(work, &mut events);
                    (holder, events)
                })
                .await?;
                holder = done;
                events.into_iter().for_each(&mut *on_event);
            }
            if retry_at.is_none() && lease.is_none() {
                let granted = tokio::select! {
                    () = duties.cancelled() => return Ok(None),
                    granted = KeptLease::grant(&conn, self.lease_ttl, duties) => granted,
                };
                match granted {
                    Ok(granted) => {
                        on_event(AgentEvent::LeaseGranted { lease: granted.id(), ttl: granted.ttl() });
                        lost = granted.lost();
                        lease = Some(granted);
                        reported = None;
                    }
                    Err(error) => {
                        on_event(AgentEvent::Unavailable { error });
                        failures = failures.saturating_add(1);
                        retry_at = Some(Instant::now() + retry_wait(failures));
                    }
                }
            }
            if let (None, Some(held)) = (retry_at, lease.as_ref()) {
                if reported.as_ref() != Some(&holder.holding) {
                    let report = HoldingsReport {
                        server: self.server.clone(),
                        thumbprints: holder.holding.clone(),
                        reported_at: self.clock.now(),
                    };
                    let lease_id = held.id();
                    let put = async {
                        let json = report.to_json().map_err(Refused::Unwritable)?;
                        conn.call("report", |mut c| {
                            let (key, json) = (report_key.clone(), json.clone());
                            async move { c.kv.put(key, json, Some(PutOptions::new().with_lease(lease_id))).await }
                        })
                        .await
                        .map_err(Refused::Etcd)
                    };
                    let put = tokio::select! {
                        () = duties.cancelled() => return Ok(lease),
                        put = put => put,
                    };
                    match put {
                        Ok(_) => {
                            failures = 0;
                            on_event(AgentEvent::Reported { thumbprints: holder.holding.clone() });
                            reported = Some(holder.holding.clone());
                        }
                        Err(Refused::Etcd(e)) if e.is_lease_not_found() => {
                            on_event(AgentEvent::LeaseLost { lease: lease_id });
                            lease = None;
                            continue;
                        }
                        Err(refused) => {
                            on_event(match refused {
                                Refused::Etcd(error) => AgentEvent::Unavailable { error },
                                // Waits and tries again, as after a failed write.
                                Refused::Unwritable(error) => AgentEvent::ReportUnwritable { error },
                            });
                            failures = failures.saturating_add(1);
                            retry_at = Some(Instant::now() + retry_wait(failures));
                        }
                    }
                }
            }
            tokio::select! {
                () = duties.cancelled() => return Ok(lease),
                () = lost.cancelled() => {
                    if let Some(held) = lease.take() {
                        on_event(AgentEvent::LeaseLost { lease: held.id() });
                    }
                    lost = CancellationToken::new();
                }
                Some(error) = trouble(&mut lease) => on_event(AgentEvent::Unavailable { error }),
                note = seen.recv() => match note {
                    Some(Seen::Started { value: Some(started) }) => {
                        todo = Some(Work::Apply {
                            value: started.value,
                            mod_revision: started.mod_revision,
                            fresh: true,
                        });
                    }
                    Some(Seen::Started { value: None }) => todo = Some(Work::Missing),
                    Some(Seen::Changed(changes)) => {
                        if let Some(last) = changes.into_iter().rfind(|c| c.key == delivery_key) {
                            todo = Some(match last.kind {
                                EventType::Delete => Work::Missing,
                                EventType::Put => Work::Apply {
                                    value: last.value,
                                    mod_revision: last.mod_revision,
                                    fresh: false,
                                },
                            });
                        }
                    }
                    Some(Seen::Unavailable(error)) => on_event(AgentEvent::Unavailable { error }),
                    // The watch task stopped: only when `duties` was cancelled.
                    None => return Ok(lease),
                },
                () = tokio::time::sleep_until(next_resync) => {
                    next_resync = Instant::now() + self.resync;
                    todo.get_or_insert(Work::Resync);
                }
                () = sleep_until(retry_at) => retry_at = None,
            }
        }
    }
}

/// Why a report was not written.
enum Refused {
    Unwritable(ReportError),
    Etcd(EtcdError),
}

/// The lease's next failed renewal; pending without a lease.
async fn trouble(lease: &mut Option<KeptLease>) -> Option<EtcdError> {
    match lease.as_mut() {
        Some(held) => held.trouble().await,
        None => core::future::pending().await,
    }
}

/// Runs blocking work on tokio's blocking threads. A panic in it goes on unwinding here.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, AgentError> {
    on_blocking_thread(work).await.ok_or(AgentError::Interrupted)
}

impl Holder {
    fn work(&mut self, work: Work, events: &mut Vec<AgentEvent>) {
        match work {
            Work::Apply { value, mod_revision, fresh } => {
                if fresh || mod_revision > self.seen {
                    self.apply(&value, mod_revision, events);
                }
            }
            Work::Missing => {
                self.current = None;
                events.push(AgentEvent::NoDelivery);
            }
            Work::Resync => {
                if let Some((delivery, mod_revision)) = self.current.take() {
                    self.sync(&delivery, mod_revision, events);
                    self.current = Some((delivery, mod_revision));
                }
            }
        }
    }

    /// Opens a delivery and brings the directory in line with it; a bad one changes nothing.
    fn apply(&mut self, value: &[u8], mod_revision: i64, events: &mut Vec<AgentEvent>) {
        self.seen = self.seen.max(mod_revision);
        match Delivery::open(value, &self.cluster, &self.server, &self.key, &self.writer) {
            Ok(delivery) if delivery.revision() < self.applied => {
                self.current = None;
                events
                    .push(AgentEvent::StaleDelivery { revision: delivery.revision(), applied: self.applied });
            }
            Ok(delivery) => {
                self.sync(&delivery, mod_revision, events);
                let revision = delivery.revision();
                if revision > self.applied {
                    match self.certs.record_applied(revision) {
                        Ok(()) => self.applied = revision,
                        Err(error) => events.push(AgentEvent::FileError { error }),
                    }
                }
                self.current = Some((delivery, mod_revision));
            }
            Err(error) => {
                self.current = None;
                events.push(AgentEvent::DeliveryRejected { error });
            }
        }
    }

    /// Writes what the server must hold now and lacks, removes what it holds and must not.
    fn sync(&mut self, delivery: &Delivery, mod_revision: i64, events: &mut Vec<AgentEvent>) {
        let now = self.clock.now();
        let present = match self.certs.list() {
            Ok(present) => present,
            Err(error) => {
                events.push(AgentEvent::FileError { error });
                return;
            }
        };
        // Files removed behind the agent's back are no longer held (and are written again).
        self.holding.retain(|t| present.contains(t));
        let wanted: BTreeSet<Thumbprint> =
            delivery.holds().iter().filter(|h| h.applies_at(now)).map(|h| h.desired.thumbprint).collect();
        let (mut written, mut removed) = (Vec::new(), Vec::new());
        for thumbprint in wanted.difference(&self.holding.clone()) {
            match self.write(delivery, now, thumbprint) {
                Ok(()) => {
                    self.holding.insert(*thumbprint);
                    written.push(*thumbprint);
                }
                Err(error) => events.push(AgentEvent::CannotHold { thumbprint: *thumbprint, error }),
            }
        }
        for thumbprint in present.difference(&wanted) {
            match self.certs.remove(thumbprint) {
                Ok(()) => {
                    self.holding.remove(thumbprint);
                    removed.push(*thumbprint);
                }
                Err(error) => events.push(AgentEvent::FileError { error }),
            }
        }
        if !written.is_empty() || !removed.is_empty() {
            events.push(AgentEvent::Synced { mod_revision, revision: delivery.revision(), written, removed });
        }
    }

    fn write(
        &self,
        delivery: &Delivery,
        now: time::OffsetDateTime,
        thumbprint: &Thumbprint,
    ) -> Result<(), CertDirError> {
        let (certificate, key) =
            delivery.key_pair(thumbprint).ok_or(CertDirError::NoKey { thumbprint: *thumbprint })?;
        // The friendly name Windows shows: the types the certificate serves here.
        let uses: Vec<String> = delivery
            .holds()
            .iter()
            .filter(|h| h.desired.thumbprint == *thumbprint && h.applies_at(now))
            .map(|h| format!("{} ({:?})", h.desired.cert_type, h.desired.role))
            .collect();
        let options = ExportOptions::default().friendly_name(format!("certslot: {}", uses.join(", ")));
        let pfx = Pfx::export(
            certificate,
            key,
            &[],
            &self.file_password,
            &options,
            &mut UnwrapErr(getrandom::SysRng),
        )
        .map_err(|source| CertDirError::Export { thumbprint: *thumbprint, source })?;
        self.certs.write(thumbprint, &pfx)
    }
}
