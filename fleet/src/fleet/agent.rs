//! [`Agent`]: what Lync's replication does on each front-end server. It watches the state key,
//! computes what its server must hold ([`Store::desired`]), writes those certificates with their
//! keys into its directory (see `cert_dir`), removes the files of certificates no longer
//! assigned, and reports what it holds under `/certslot/<cluster>/servers/<fqdn>` with a lease
//! it keeps alive. When the agent dies the lease expires and the report goes: the server shows
//! as unreported.
//!
//! A state that does not load (corrupt, foreign, a wrong password), a missing state and a state
//! whose topology lacks the server change nothing in the directory: the agent keeps what it
//! holds, keeps reporting it, and waits for a good state.

use core::fmt;
use core::future::Future;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{ExportOptions, Password, Pfx, Store, Thumbprint, store::Desired};
use etcd_client::{EventType, PutOptions, WatchOptions, WatchResponse, WatchStream};
use tokio::time::Instant;

use crate::clock::Clock;
use crate::etcd::{EtcdError, Lease};
use crate::fleet::cert_dir::{CertDir, CertDirError};
use crate::fleet::report::{HoldingsReport, ReportError};
use crate::state::{EtcdStore, StateError, jitter};

/// A front-end server's agent. See the module documentation.
pub struct Agent {
    store: EtcdStore,
    server: String,
    dir: PathBuf,
    file_password: Option<Password>,
    lease_ttl: Duration,
    resync: Duration,
    clock: Clock,
}

/// Why an agent cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The agent needs the state's password: the private keys it writes are in the state.
    #[error("the agent needs the password of the state's private keys")]
    NoPassword,
    /// Not a server name the store accepts.
    #[error("invalid server name {name:?}")]
    InvalidServer {
        /// The name.
        name: String,
    },
    /// The certificate directory cannot be opened or read.
    #[error(transparent)]
    Dir(#[from] CertDirError),
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
    /// The state does not load; the files stay as they are.
    StateRejected {
        /// Why.
        error: StateError,
    },
    /// The state key is missing; the files stay as they are.
    StateMissing,
    /// The state's topology does not have this server; the files stay as they are.
    NotInTopology {
        /// The server.
        server: String,
    },
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
            Self::Started { server, dir, holding } => {
                write!(
                    f,
                    "agent for {server} started in {}, holding [{}]",
                    dir.display(),
                    list(&mut holding.iter())
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
            Self::StateRejected { error } => write!(f, "state rejected, keeping every file: {error}"),
            Self::StateMissing => f.write_str("no state in etcd, keeping every file"),
            Self::NotInTopology { server } => {
                write!(f, "{server} is not in the state's topology, keeping every file")
            }
            Self::CannotHold { thumbprint, error } => write!(f, "cannot hold {thumbprint}: {error}"),
            Self::FileError { error } => write!(f, "certificate directory: {error}"),
            Self::ReportUnwritable { error } => write!(f, "cannot write the report, retrying: {error}"),
            Self::Unavailable { error } => write!(f, "etcd unavailable, retrying: {error}"),
            Self::Stopped => f.write_str("stopped; lease revoked"),
        }
    }
}

/// What the loop of [`Agent::run`] keeps between iterations.
struct Running<'a, F> {
    agent: &'a Agent,
    certs: CertDir,
    file_password: Password,
    on_event: F,
    holding: BTreeSet<Thumbprint>,
    /// The last good state, until a bad one arrives.
    current: Option<(Store, i64)>,
    /// The highest state revision seen (good or bad): older watch events are skipped.
    seen: i64,
}

impl Agent {
    /// The default lease TTL: a dead agent shows as unreported within it.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
    /// The default interval of full re-checks (the directory, and the time-dependent part of
    /// what the server must hold).
    pub const DEFAULT_RESYNC: Duration = Duration::from_secs(30);

    /// An agent for `server` keeping its certificates in `dir`. `store` must have the state's
    /// password (the private keys are in the state).
    ///
    /// # Errors
    /// [`AgentError::NoPassword`], [`AgentError::InvalidServer`].
    pub fn new(store: EtcdStore, server: &str, dir: impl AsRef<Path>) -> Result<Self, AgentError> {
        if store.password().is_none() {
            return Err(AgentError::NoPassword);
        }
        let valid = !server.is_empty()
            && server.len() <= 253
            && server.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(AgentError::InvalidServer { name: server.to_owned() });
        }
        Ok(Self {
            store,
            server: server.to_ascii_lowercase(),
            dir: dir.as_ref().to_owned(),
            file_password: None,
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            resync: Self::DEFAULT_RESYNC,
            clock: Clock::System,
        })
    }

    /// Protects the PFX files with this password instead of the state's.
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

    /// The server.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// Runs until `shutdown` completes, then revokes its lease. etcd being unreachable is not
    /// an error: the agent keeps its files and retries, with backoff, and picks up where it
    /// left off when etcd is back.
    ///
    /// # Errors
    /// [`AgentError::Dir`] when the directory cannot be opened or read at the start.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()>,
        on_event: impl FnMut(AgentEvent),
    ) -> Result<(), AgentError> {
        let certs = CertDir::open(&self.dir)?;
        let file_password = self
            .file_password
            .clone()
            .or_else(|| self.store.password().cloned())
            .ok_or(AgentError::NoPassword)?;
        let holding = certs.list()?.into_iter().filter(|t| certs.verify(t, &file_password)).collect();
        let mut run =
            Running { agent: &self, certs, file_password, on_event, holding, current: None, seen: 0 };
        (run.on_event)(AgentEvent::Started {
            server: self.server.clone(),
            dir: self.dir.clone(),
            holding: run.holding.clone(),
        });
        run.run(shutdown).await;
        Ok(())
    }
}

impl<F: FnMut(AgentEvent)> Running<'_, F> {
    async fn run(&mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let agent = self.agent;
        let conn = agent.store.connection().clone();
        let state_key = agent.store.cluster().state_key();
        let mut lease: Option<Lease> = None;
        let mut reported: Option<BTreeSet<Thumbprint>> = None;
        let mut watch: Option<WatchStream> = None;
        // After a watch broke: not watching again before this instant (a watch that breaks at
        // once must not spin).
        let mut rewatch_at: Option<Instant> = None;
        let mut failures = 0u32;
        let mut next_renew = Instant::now();
        let mut next_resync = Instant::now() + agent.resync;
        loop {
            let mut healthy = true;
            if lease.is_none() {
                match Lease::grant(&conn, agent.lease_ttl).await {
                    Ok(granted) => {
                        (self.on_event)(AgentEvent::LeaseGranted { lease: granted.id(), ttl: granted.ttl() });
                        next_renew = Instant::now() + granted.renew_every();
                        lease = Some(granted);
                        reported = None;
                    }
                    Err(error) => {
                        (self.on_event)(AgentEvent::Unavailable { error });
                        healthy = false;
                    }
                }
            }
            if healthy && watch.is_none() && rewatch_at.is_none_or(|t| Instant::now() >= t) {
                rewatch_at = None;
                match self.fetch_and_watch(&state_key).await {
                    Ok(stream) => watch = Some(stream),
                    Err(error) => {
                        (self.on_event)(AgentEvent::Unavailable { error });
                        healthy = false;
                    }
                }
            }
            if let (true, Some(held)) = (healthy && reported.as_ref() != Some(&self.holding), lease.as_ref())
            {
                let report = HoldingsReport {
                    server: agent.server.clone(),
                    thumbprints: self.holding.clone(),
                    reported_at: agent.clock.now(),
                };
                match report.to_json() {
                    Ok(json) => {
                        let key = agent.store.cluster().server_key(&agent.server);
                        let lease_id = held.id();
                        let put =
                            conn.call("report", |mut c| {
                                let (key, json) = (key.clone(), json.clone());
                                async move {
                                    c.kv.put(key, json, Some(PutOptions::new().with_lease(lease_id))).await
                                }
                            });
                        match put.await {
                            Ok(_) => {
                                (self.on_event)(AgentEvent::Reported { thumbprints: self.holding.clone() });
                                reported = Some(self.holding.clone());
                            }
                            Err(e) if e.is_lease_not_found() => {
                                (self.on_event)(AgentEvent::LeaseLost { lease: held.id() });
                                lease = None;
                                continue;
                            }
                            Err(error) => {
                                (self.on_event)(AgentEvent::Unavailable { error });
                                healthy = false;
                            }
                        }
                    }
                    // Waits and tries again, as after a failed write.
                    Err(error) => {
                        (self.on_event)(AgentEvent::ReportUnwritable { error });
                        healthy = false;
                    }
                }
            }
            failures = if healthy { 0 } else { failures.saturating_add(1) };
            let retry_at = (!healthy).then(|| {
                Instant::now() + jitter(Duration::from_millis(100), Duration::from_secs(2), failures)
            });
            let renewing = lease.is_some();
            tokio::select! {
                () = &mut shutdown => {
                    if let Some(held) = lease {
                        // Best effort: an unreachable etcd lets the lease expire instead.
                        let _ = held.revoke().await;
                    }
                    (self.on_event)(AgentEvent::Stopped);
                    return;
                }
                message = next_message(&mut watch) => match message {
                    Ok(Some(answer)) => self.on_watch(&answer, &mut watch),
                    Ok(None) => watch = None,
                    Err(source) => {
                        (self.on_event)(AgentEvent::Unavailable { error: EtcdError::from_client("watch", source) });
                        watch = None;
                        // Waited out by the loop's own wake-up, not here: shutdown and lease
                        // renewal go on meanwhile.
                        failures = failures.saturating_add(1);
                        let wait = jitter(Duration::from_millis(100), Duration::from_secs(2), failures);
                        rewatch_at = Some(Instant::now() + wait);
                    }
                },
                () = tokio::time::sleep_until(next_renew), if renewing => {
                    if let Some(held) = lease.as_mut() {
                        match held.renew().await {
                            Ok(true) => next_renew = Instant::now() + held.renew_every(),
                            Ok(false) => {
                                (self.on_event)(AgentEvent::LeaseLost { lease: held.id() });
                                lease = None;
                            }
                            Err(error) => {
                                (self.on_event)(AgentEvent::Unavailable { error });
                                next_renew = Instant::now() + Duration::from_millis(500);
                            }
                        }
                    }
                }
                () = tokio::time::sleep_until(next_resync) => {
                    next_resync = Instant::now() + agent.resync;
                    if let Some((store, mod_revision)) = self.current.take() {
                        self.sync(&store, mod_revision);
                        self.current = Some((store, mod_revision));
                    }
                }
                () = sleep_until(retry_at.into_iter().chain(rewatch_at).min()) => {}
            }
        }
    }

    /// Reads the state, applies it, and watches the key from the revision after the read.
    async fn fetch_and_watch(&mut self, state_key: &str) -> Result<WatchStream, EtcdError> {
        let conn = self.agent.store.connection().clone();
        let answer = conn
            .call("read state", |mut c| {
                let key = state_key.to_owned();
                async move { c.kv.get(key, None).await }
            })
            .await?;
        let revision = answer.header().map(|h| h.revision()).unwrap_or_default();
        match answer.kvs().first() {
            Some(kv) => self.apply(kv.value(), kv.mod_revision()),
            None => {
                self.current = None;
                (self.on_event)(AgentEvent::StateMissing);
            }
        }
        conn.call("watch", |mut c| {
            let key = state_key.to_owned();
            async move { c.watch.watch(key, Some(WatchOptions::new().with_start_revision(revision + 1))).await }
        })
        .await
    }

    fn on_watch(&mut self, answer: &WatchResponse, watch: &mut Option<WatchStream>) {
        if answer.canceled() || answer.compact_revision() > 0 {
            // Compacted past what we saw, or cancelled: read afresh.
            *watch = None;
            return;
        }
        let Some(last) = answer.events().last() else { return };
        match (last.event_type(), last.kv()) {
            (EventType::Put, Some(kv)) if kv.mod_revision() > self.seen => {
                let (value, mod_revision) = (kv.value().to_vec(), kv.mod_revision());
                self.apply(&value, mod_revision);
            }
            (EventType::Delete, _) => {
                self.current = None;
                (self.on_event)(AgentEvent::StateMissing);
            }
            _ => {}
        }
    }

    /// Loads a state value and brings the directory in line with it; a bad value changes
    /// nothing.
    fn apply(&mut self, value: &[u8], mod_revision: i64) {
        self.seen = self.seen.max(mod_revision);
        match self.agent.store.decode(value, mod_revision) {
            Ok(loaded) => {
                self.sync(&loaded.store, mod_revision);
                self.current = Some((loaded.store, mod_revision));
            }
            Err(error) => {
                self.current = None;
                (self.on_event)(AgentEvent::StateRejected { error });
            }
        }
    }

    /// Writes what the server must hold and lacks, removes what it holds and must not.
    fn sync(&mut self, store: &Store, mod_revision: i64) {
        let agent = self.agent;
        let Ok(desired) = store.desired(&agent.server, agent.clock.now()) else {
            (self.on_event)(AgentEvent::NotInTopology { server: agent.server.clone() });
            return;
        };
        let present = match self.certs.list() {
            Ok(present) => present,
            Err(error) => {
                (self.on_event)(AgentEvent::FileError { error });
                return;
            }
        };
        // Files removed behind the agent's back are no longer held (and are written again).
        self.holding.retain(|t| present.contains(t));
        let wanted: BTreeSet<Thumbprint> = desired.iter().map(|d| d.thumbprint).collect();
        let (mut written, mut removed) = (Vec::new(), Vec::new());
        for thumbprint in wanted.difference(&self.holding.clone()) {
            match self.write(store, &desired, thumbprint) {
                Ok(()) => {
                    self.holding.insert(*thumbprint);
                    written.push(*thumbprint);
                }
                Err(error) => (self.on_event)(AgentEvent::CannotHold { thumbprint: *thumbprint, error }),
            }
        }
        for thumbprint in present.difference(&wanted) {
            match self.certs.remove(thumbprint) {
                Ok(()) => {
                    self.holding.remove(thumbprint);
                    removed.push(*thumbprint);
                }
                Err(error) => (self.on_event)(AgentEvent::FileError { error }),
            }
        }
        if !written.is_empty() || !removed.is_empty() {
            (self.on_event)(AgentEvent::Synced {
                mod_revision,
                revision: store.revision(),
                written,
                removed,
            });
        }
    }

    fn write(&self, store: &Store, desired: &[Desired], thumbprint: &Thumbprint) -> Result<(), CertDirError> {
        let stored =
            store.inventory().get(thumbprint).ok_or(CertDirError::NoKey { thumbprint: *thumbprint })?;
        let key = stored.key.as_ref().ok_or(CertDirError::NoKey { thumbprint: *thumbprint })?;
        // The friendly name Windows shows: the types the certificate serves here.
        let uses: Vec<String> = desired
            .iter()
            .filter(|d| d.thumbprint == *thumbprint)
            .map(|d| format!("{} ({:?})", d.cert_type, d.role))
            .collect();
        let options = ExportOptions::default().friendly_name(format!("certslot: {}", uses.join(", ")));
        let pfx = Pfx::export(
            &stored.certificate,
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
