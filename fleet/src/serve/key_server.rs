//! The key server: watches the state (a read-only etcd role is enough), takes only a value the
//! writers signed and that was not written back, builds every document once for it, and serves
//! them until stopped; built again at each instant the published keys change (a key announced,
//! a previous key retired) when the state does not change first.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use certslot::publish::MetadataOptions;
use certslot::{CertType, Store, Thumbprint};
use etcd_client::EventType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::clock::Clock;
use crate::etcd::{Cluster, Connection, EtcdError};
use crate::fleet::{Change, FetchRecord, Seen, Watched, live_reports, spawn_watch, write_fetch_record};
use crate::http_server::{self, Limits};
use crate::metrics::{FleetCollector, metrics_router};
use crate::seal::WriterPublicKey;
use crate::serve::acme_challenges;
use crate::serve::documents::{DocumentKind, Published};
use crate::serve::http::{self, Health, Shared};
use crate::serve::tls::{ServerTls, ServerTlsError};
use crate::state::{StateError, decode_published};

/// What a key server does, as it happens.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServeEvent {
    /// It accepts connections.
    Listening {
        /// The address.
        address: SocketAddr,
        /// HTTPS (else plain HTTP on loopback).
        tls: bool,
    },
    /// Documents were built: for a new state, or for the same one at a later instant.
    Published {
        /// The state's etcd revision.
        revision: i64,
        /// The entity tag of the signing type's JWK Set at `global`.
        etag: Option<String>,
        /// When the documents change next unless the state does first.
        next_change: Option<certslot::OffsetDateTime>,
    },
    /// A state value was refused (not signed by the writers, written back, not a state); the
    /// documents built before stay served.
    Refused {
        /// Why.
        error: StateError,
    },
    /// There is no state (never made, or deleted); the documents built before stay served.
    NoState,
    /// etcd cannot be reached or the watch broke; it opens again after a backoff.
    Unavailable {
        /// The error.
        error: EtcdError,
    },
    /// The server's certificate files changed and the new pair is served.
    TlsReloaded,
    /// The server's certificate files changed but do not load; the pair in use stays.
    TlsReloadFailed {
        /// Why.
        error: ServerTlsError,
    },
    /// A partner's fetch was recorded in etcd (a new set of keys, or the last record aged).
    FetchRecorded {
        /// The record.
        record: FetchRecord,
    },
    /// A partner's fetch could not be recorded; the next fetch tries again.
    FetchUnrecorded {
        /// The partner.
        partner: String,
        /// Why.
        error: EtcdError,
    },
    /// It stopped.
    Stopped,
}

impl std::fmt::Display for ServeEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Listening { address, tls: true } => write!(f, "serving HTTPS on {address}"),
            Self::Listening { address, tls: false } => write!(f, "serving plain HTTP on {address}"),
            Self::Published { revision, etag, .. } => write!(
                f,
                "published the documents of the state at etcd revision {revision} (signing key set {})",
                etag.as_deref().unwrap_or("unavailable")
            ),
            Self::Refused { error } => {
                write!(f, "refused the state, still serving the last documents: {error}")
            }
            Self::NoState => f.write_str("there is no state; still serving the last documents, if any"),
            Self::Unavailable { error } => write!(f, "etcd unavailable: {error}"),
            Self::TlsReloaded => f.write_str("loaded the changed certificate files"),
            Self::TlsReloadFailed { error } => {
                write!(f, "the changed certificate files do not load: {error}")
            }
            Self::FetchRecorded { record } => {
                let keys: Vec<String> = record.thumbprints.iter().map(ToString::to_string).collect();
                write!(f, "partner {} fetched [{}]", record.partner, keys.join(", "))
            }
            Self::FetchUnrecorded { partner, error } => {
                write!(f, "the fetch of partner {partner} could not be recorded: {error}")
            }
            Self::Stopped => f.write_str("stopped"),
        }
    }
}

/// Why a key server cannot start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// Plain HTTP was asked on an address other than loopback: keys must reach verifiers
    /// over HTTPS (a reverse proxy on the same host may add it).
    #[error(
        "plain HTTP is served only on loopback (for a reverse proxy on this host), not on {address}; give a certificate and key for HTTPS"
    )]
    PlaintextNotLoopback {
        /// The address asked for.
        address: SocketAddr,
    },
    /// The listener's address cannot be read.
    #[error("the listening socket: {0}")]
    Listener(#[source] std::io::Error),
}

/// The key server of a cluster: see the module documentation.
///
/// ```no_run
/// use certslot_etcd::{CancellationToken, Cluster, ConnectOptions, Connection, KeyServer, ServerTls};
/// use std::path::Path;
///
/// # async fn example(writer_key: certslot_etcd::WriterPublicKey) -> Result<(), Box<dyn std::error::Error>> {
/// let conn = Connection::connect(&["https://etcd1.contoso.com:2379".into()], ConnectOptions::default()).await?;
/// let tls = ServerTls::from_files(Path::new("/etc/certslot/web.pem"), Path::new("/etc/certslot/web.key"))?;
/// let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
/// KeyServer::new(conn, Cluster::new("contoso")?, writer_key)
///     .run(listener, Some(tls), CancellationToken::new(), |event| println!("{event}"))
///     .await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct KeyServer {
    conn: Connection,
    cluster: Cluster,
    writer: WriterPublicKey,
    clock: Clock,
    signing_type: CertType,
    metadata: MetadataOptions,
    tls_reload_every: Duration,
    fetch_record_every: Duration,
    limits: Limits,
}

/// The state the documents are built from.
#[derive(Clone)]
struct Current {
    store: Arc<Store>,
    revision: i64,
    partners: Arc<BTreeMap<String, String>>,
}

impl KeyServer {
    /// How often the certificate files are checked for a change, by default.
    pub const DEFAULT_TLS_RELOAD: Duration = Duration::from_secs(10);
    /// How often a partner that keeps fetching the same keys is recorded again, by default.
    pub const DEFAULT_FETCH_RECORD: Duration = Duration::from_secs(300);
    /// Connections served at once, by default; more wait to be accepted.
    pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
    /// The longest instant a document is built for ahead of a change it would miss: documents
    /// are built again at least this often.
    const MAX_REBUILD: Duration = Duration::from_secs(24 * 3600);
    /// How often the agents' live reports are read for the metrics.
    const REPORTS_EVERY: Duration = Duration::from_secs(5);

    /// The key server of `cluster`, reading through `conn`, taking only states `writer` signed.
    /// Serves `OAuthTokenIssuer` at `/.well-known/jwks.json` and `/metadata/json/1` (other types
    /// and scopes with `?type=` and `?scope=`), and Lync's metadata document.
    pub fn new(conn: Connection, cluster: Cluster, writer: WriterPublicKey) -> Self {
        Self {
            conn,
            cluster,
            writer,
            clock: Clock::System,
            signing_type: CertType::OAuthTokenIssuer,
            metadata: MetadataOptions::lync(),
            tls_reload_every: Self::DEFAULT_TLS_RELOAD,
            fetch_record_every: Self::DEFAULT_FETCH_RECORD,
            limits: Limits { connections: Self::DEFAULT_MAX_CONNECTIONS, deadline: Duration::from_secs(10) },
        }
    }

    /// Where instants come from.
    #[must_use]
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The type served without `?type=`.
    #[must_use]
    pub fn signing_type(mut self, cert_type: CertType) -> Self {
        self.signing_type = cert_type;
        self
    }

    /// The members of the metadata document (service, form, endpoints).
    #[must_use]
    pub fn metadata(mut self, options: MetadataOptions) -> Self {
        self.metadata = options;
        self
    }

    /// How often the certificate files are checked for a change.
    #[must_use]
    pub fn tls_reload_every(mut self, every: Duration) -> Self {
        self.tls_reload_every = every.max(Duration::from_millis(100));
        self
    }

    /// How often a partner's fetch is recorded in etcd when its document announces the same keys
    /// as the last record (a new set of keys is recorded at once): a busy partner does not write
    /// on every request.
    #[must_use]
    pub fn fetch_record_every(mut self, every: Duration) -> Self {
        self.fetch_record_every = every;
        self
    }

    /// How many connections are served at once.
    #[must_use]
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.limits.connections = connections.max(1);
        self
    }

    /// Serves on `listener` (HTTPS with `tls`, else plain HTTP, on loopback only) until `stop`
    /// is cancelled.
    ///
    /// # Errors
    /// [`ServeError::PlaintextNotLoopback`]; nothing else stops it: etcd unavailable, a refused
    /// state or certificate files that no longer load are events, and the last good documents
    /// and certificate stay served.
    pub async fn run(
        self,
        listener: TcpListener,
        tls: Option<ServerTls>,
        stop: CancellationToken,
        mut on_event: impl FnMut(ServeEvent),
    ) -> Result<(), ServeError> {
        let address = listener.local_addr().map_err(ServeError::Listener)?;
        if tls.is_none() && !address.ip().is_loopback() {
            return Err(ServeError::PlaintextNotLoopback { address });
        }
        let (published_tx, published_rx) = watch::channel(None::<Arc<Published>>);
        let (health_tx, health_rx) = watch::channel(Health::Starting);
        let (fetches_tx, mut fetches_rx) = mpsc::channel(1024);
        let metrics = ServeMetrics::new(self.clock);
        let shared = Shared {
            published: published_rx,
            health: health_rx,
            signing_type: self.signing_type.clone(),
            fetches: fetches_tx,
            clock: self.clock,
            fleet: metrics.fleet.clone(),
            cluster: self.cluster.name().to_owned(),
        };
        // What each partner's record in etcd says, and when it was written.
        let mut recorded: HashMap<String, (Vec<Thumbprint>, std::time::Instant)> = HashMap::new();
        let router = http::router(shared)
            .merge(metrics_router(metrics.registry.clone()))
            .merge(acme_challenges(self.conn.clone(), self.cluster.clone()));
        let http_stop = stop.child_token();
        let server =
            tokio::spawn(http_server::serve(listener, tls.clone(), router, self.limits, http_stop.clone()));
        on_event(ServeEvent::Listening { address, tls: tls.is_some() });

        let state_key = self.cluster.state_key();
        let mut seen = spawn_watch(self.conn.clone(), state_key.clone(), Watched::Key, stop.clone());
        let mut current: Option<Current> = None;
        let mut next_build: Option<Duration> = None;
        let mut tls_tick = tokio::time::interval(self.tls_reload_every);
        tls_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut reports_tick = tokio::time::interval(Self::REPORTS_EVERY);
        reports_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let rebuild = async {
                match next_build {
                    Some(wait) => tokio::time::sleep(wait).await,
                    None => std::future::pending().await,
                }
            };
            let value = tokio::select! {
                            () = stop.cancelled() => break,
                            () = rebuild => None,
                            Some(seen) = fetches_rx.recv() => {
                    let last = recorded.get(&seen.partner);
                    let fresh = last.is_some_and(|(thumbprints, written)| {
                        *thumbprints == seen.thumbprints && written.elapsed() < self.fetch_record_every
                    });
                    if !fresh {
                        let record = FetchRecord {
                            partner: seen.partner.clone(),
                            thumbprints: seen.thumbprints.iter().copied().collect(),
                            fetched_at: seen.at,
                        };
                        match write_fetch_record(&self.conn, &self.cluster, &record).await {
                            Ok(()) => {
                                recorded.insert(seen.partner.clone(), (seen.thumbprints, std::time::Instant::now()));
                                on_event(ServeEvent::FetchRecorded { record });
                            }
                            Err(error) => on_event(ServeEvent::FetchUnrecorded { partner: seen.partner, error }),
                        }
                    }
                    continue;
                }
                _ = reports_tick.tick() => {
                                // Unreadable (etcd down): the last ones stay, and the watch says so.
                                if let Ok(reports) = live_reports(&self.conn, &self.cluster).await {
                                    metrics.fleet.set_reports(reports);
                                }
                                continue;
                            }
                            _ = tls_tick.tick(), if tls.is_some() => {
                                if let Some(tls) = &tls {
                                    match tls.reload_if_changed() {
                                        Ok(true) => on_event(ServeEvent::TlsReloaded),
                                        Ok(false) => {}
                                        Err(error) => on_event(ServeEvent::TlsReloadFailed { error }),
                                    }
                                }
                                continue;
                            }
                            note = seen.recv() => match note {
                                Some(Seen::Started { value: Some(change) }) => Some(change),
                                Some(Seen::Started { value: None }) => {
                                    metrics.ready.set(0);
            health_tx.send_replace(Health::NotReady("there is no state".into()));
                                    on_event(ServeEvent::NoState);
                                    continue;
                                }
                                Some(Seen::Changed(changes)) => {
                                    let Some(last) = changes.into_iter().rfind(|c| c.key == state_key) else { continue };
                                    if last.kind == EventType::Delete {
                                        metrics.ready.set(0);
            health_tx.send_replace(Health::NotReady("the state was deleted".into()));
                                        on_event(ServeEvent::NoState);
                                        continue;
                                    }
                                    Some(last)
                                }
                                Some(Seen::Unavailable(error)) => {
                                    metrics.ready.set(0);
            health_tx.send_replace(Health::NotReady(format!("etcd unavailable: {error}")));
                                    on_event(ServeEvent::Unavailable { error });
                                    continue;
                                }
                                None => break,
                            },
                        };
            // A new value to check and load, or the same state at a later instant.
            let built = match value {
                Some(change) => match self.load(change).await {
                    Ok(loaded) => {
                        metrics.fleet.set_state(loaded.store.clone(), loaded.revision);
                        current = Some(loaded);
                        self.build(current.as_ref()).await
                    }
                    Err(error) => {
                        metrics.refusals.inc();
                        metrics.ready.set(0);
                        health_tx.send_replace(Health::NotReady(format!("the state was refused: {error}")));
                        on_event(ServeEvent::Refused { error });
                        continue;
                    }
                },
                None => self.build(current.as_ref()).await,
            };
            let Some(published) = built else { continue };
            next_build = Some(self.wait_until(published.next_change()));
            let revision = published.revision();
            let etag = published
                .document(&self.signing_type, &certslot::Scope::Global, DocumentKind::Jwks)
                .and_then(Result::ok)
                .map(|d| d.freshness().etag().to_owned());
            let next_change = published.next_change();
            metrics.published.set(published.at().unix_timestamp());
            metrics.ready.set(1);
            published_tx.send_replace(Some(published));
            health_tx.send_replace(Health::Ready { revision });
            on_event(ServeEvent::Published { revision, etag, next_change });
        }
        http_stop.cancel();
        let _ = server.await;
        on_event(ServeEvent::Stopped);
        Ok(())
    }

    /// Checks a state value (signature, version) and loads it, on a blocking thread: a state
    /// of many slots takes milliseconds.
    async fn load(&self, change: Change) -> Result<Current, StateError> {
        let (key, writer) = (self.cluster.state_key(), self.writer.clone());
        let revision = change.mod_revision;
        tokio::task::spawn_blocking(move || {
            decode_published(&key, &change.value, &writer, Some(change.version)).map(|read| Current {
                store: Arc::new(read.store),
                revision,
                partners: Arc::new(read.partners),
            })
        })
        .await
        .unwrap_or(Err(StateError::Interrupted))
    }

    /// The documents of the state loaded last, now, on a blocking thread.
    async fn build(&self, current: Option<&Current>) -> Option<Arc<Published>> {
        let Current { store, revision, partners } = current.cloned()?;
        let (clock, signing_type, metadata) = (self.clock, self.signing_type.clone(), self.metadata.clone());
        tokio::task::spawn_blocking(move || {
            let at = clock.instant_for(&store);
            Arc::new(
                Published::build(&store, revision, at, &signing_type, &metadata).with_partners(&partners),
            )
        })
        .await
        .ok()
    }

    /// How long until documents are built again: at the next change, at most a day from now.
    fn wait_until(&self, next_change: Option<certslot::OffsetDateTime>) -> Duration {
        let Some(next) = next_change else { return Self::MAX_REBUILD };
        let wait = next - self.clock.now();
        Duration::try_from(wait).unwrap_or(Duration::ZERO).min(Self::MAX_REBUILD)
    }
}

/// The key server's metrics: the fleet's ([`FleetCollector`]) and its own.
struct ServeMetrics {
    registry: Arc<prometheus_client::registry::Registry>,
    fleet: FleetCollector,
    ready: Gauge,
    published: Gauge,
    refusals: Counter,
}

impl ServeMetrics {
    fn new(clock: Clock) -> Self {
        let mut registry = prometheus_client::registry::Registry::default();
        let fleet = FleetCollector::new(clock);
        registry.register_collector(Box::new(fleet.clone()));
        let (ready, published, refusals) = (Gauge::default(), Gauge::default(), Counter::default());
        registry.register(
            "certslot_serve_ready",
            "1 while the key server serves the documents of the latest state and its watch is current",
            ready.clone(),
        );
        registry.register(
            "certslot_serve_published_timestamp_seconds",
            "When the key server last built its documents",
            published.clone(),
        );
        registry.register(
            "certslot_serve_state_refusals",
            "State values the key server refused (not signed by the writers, written back, not a state)",
            refusals.clone(),
        );
        Self { registry: Arc::new(registry), fleet, ready, published, refusals }
    }
}
