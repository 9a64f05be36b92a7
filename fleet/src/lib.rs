//! certslot-etcd: certslot's store shared by a fleet through etcd.
//!
//! Lync keeps its certificate configuration in the Central Management Store and replicates it
//! to every front-end server. Here etcd plays that part (v3 API: transactions that compare
//! `mod_revision`, watches, leases), and certslot stays I/O-free: this crate does the I/O.
//!
//! - [`EtcdStore`]: the state in one key, `/certslot/<cluster>/state`; every change a
//!   compare-and-swap update, retried on conflict with jittered backoff, applied exactly once
//!   (each write carries a receipt, so a lost answer is settled without applying twice). A
//!   corrupt or foreign value is a typed [`StateError`] and is never overwritten. Private keys
//!   live only inside the password-protected PFX files certslot writes into its state
//!   ([`certslot::Store::to_state_with_keys`]); the password comes from an environment variable
//!   or a file ([`PasswordSource`]).
//! - Deliveries: every write of the state also hands each enrolled server exactly what it must
//!   hold ([`certslot::Store::holds`]) as a [`Delivery`], sealed with HPKE (X-Wing) to that
//!   server's own [`AgentKey`] and signed by the writers' key ([`WriterKeys`], derived from the
//!   fleet password, which also MACs the state), in `/certslot/<cluster>/deliveries/<fqdn>`.
//! - [`Agent`]: one per front-end; opens only its own delivery (no fleet password), writes what
//!   its server must hold into a directory (PFX with key, mode 0600, written atomically), removes
//!   what it no longer must, and reports its holdings under a lease, so a dead agent shows as
//!   unreported ([`fleet_status`]).
//! - [`Coordinator`]: one at a time through an [`Election`]; records the agents' reports into
//!   the store (the staging gate reads them) and advances the store when changes are due.
//!
//! - [`KeyServer`]: serves the keys verifiers must trust (the JWK Set, the `/metadata/json/1`
//!   document) over HTTPS with entity tags and cache lifetimes, from states the writers signed,
//!   and the fleet's Prometheus metrics ([`FleetCollector`]); agents and coordinators keep their
//!   own ([`AgentMetrics`], [`CoordinatorMetrics`], [`StoreMetrics`], [`serve_metrics`]).
//!
//! The `certslot-fleet` binary puts admin commands, the agent, the coordinator and the key
//! server on the command line; see the repository's README.
//!
//! Connections are TLS ([`Tls`]: etcd's CA, and a client certificate whose common name is the
//! etcd user); plain HTTP only when [`ConnectOptions::insecure_plaintext`] asks for it.
//! [`setup_access`] gives a cluster's admins, coordinators, readers and each agent an etcd role
//! with only what it needs.
//!
//! Every request has a deadline and fails over: a [`Connection`] keeps a client per endpoint
//! and tries the others when the one that last answered is unreachable or too slow. An
//! [`EtcdError`] names its cause (unreachable, permission denied, not authenticated, too large),
//! and only an unreachable or slow etcd is retried.
//!
//! An agent's and a coordinator's duties (lease keep-alive, the election, the watches) run as
//! tokio tasks of their own, so a lease is never lost while an update waits out conflicts or a
//! slow endpoint; key derivation, key generation and file writes run on tokio's blocking
//! threads. Both stop when their [`CancellationToken`] is cancelled, revoking their lease on the
//! way out:
//!
//! ```no_run
//! use std::path::Path;
//!
//! use certslot_etcd::{
//!     Agent, CancellationToken, Cluster, ConnectOptions, Connection, EtcdStore, PasswordSource, Tls,
//!     WriterPublicKey,
//! };
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // TLS with this agent's client certificate (its common name is its etcd user).
//! let tls = Tls::from_files(
//!     Path::new("/etc/certslot/etcd-ca.pem"),
//!     Some(Path::new("/etc/certslot/fe01.pem")),
//!     Some(Path::new("/etc/certslot/fe01.key")),
//! )?;
//! let options = ConnectOptions::default().tls(tls);
//! let conn = Connection::connect(&["https://etcd1.contoso.com:2379".into()], options).await?;
//! // No fleet password: the agent opens only its own delivery, sealed to its own key
//! // (`Agent::load_key`), signed by the writers' key it was given at enrolment.
//! let store = EtcdStore::new(conn, Cluster::new("contoso")?, None);
//! let writer: WriterPublicKey = std::fs::read_to_string("/etc/certslot/writer-key")?.parse()?;
//! let files = PasswordSource::File("/etc/certslot/file-password".into()).read()?;
//! let agent = Agent::new(store, "fe01.contoso.com", "/var/lib/certslot", writer)?.file_password(files);
//! let stop = CancellationToken::new();
//! let on_signal = stop.clone();
//! tokio::spawn(async move {
//!     let _ = tokio::signal::ctrl_c().await;
//!     on_signal.cancel();
//! });
//! agent.run(stop, |event| println!("{event}")).await?;
//! # Ok(())
//! # }
//! ```
//!
//! Layers, in the order data flows: `etcd/` (connection, key layout, leases) and `seal/` (agent
//! keys, writer keys, deliveries) → `state/` (the shared store) → `fleet/` (agents, reports,
//! election, coordinator) → `metrics/` and `serve/` (the key server: [`KeyServer`]), both
//! served by `http_server`'s accept loop; `clock` is the one place that reads the clock.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

pub mod acme;
mod clock;
mod etcd;
mod fleet;
mod http_server;
mod metrics;
mod seal;
mod serve;
mod state;

pub use crate::clock::Clock;
pub use crate::etcd::{
    AccessPlan, AccessReport, Cluster, ClusterError, ConnectOptions, Connection, EtcdError, Tls, TlsError,
    enable_auth, role_name, setup_access,
};
pub use crate::fleet::{
    AcmeEvent, AcmeTiming, Agent, AgentError, AgentEvent, Alert, Campaign, CertDirError, Coordinator,
    CoordinatorEvent, Election, FetchRecord, HoldingsReport, Leadership, LiveReport, PartnerToken,
    PartnerView, PendingSeen, Renewals, ReportError, ServerStatus, Step, WaitingRoll, fetch_records,
    fleet_status, keys_for_renewals, live_reports, partner_views, step, waiting_rolls,
};
pub use crate::metrics::{AgentMetrics, CoordinatorMetrics, FleetCollector, Registry, serve_metrics};
pub use crate::seal::{
    AgentKey, AgentKeyError, AgentPublicKey, BadWriterKey, Delivery, DeliveryError, DeliveryHeader,
    WriterKeys, WriterPublicKey,
};
pub use crate::serve::{
    Document, DocumentKind, KeyServer, Published, ServeError, ServeEvent, ServerTls, ServerTlsError,
    client_certificate_credential, serve_acme_http01,
};
pub use crate::state::{
    EtcdStore, Guard, Loaded, PasswordError, PasswordSource, StateError, StoreError, StoreMetrics,
    UpdateError, UpdateOptions, Updated, state_json,
};
/// The token that stops an [`Agent`] or a [`Coordinator`]: cancel it (on SIGTERM, say) and
/// [`Agent::run`] or [`Coordinator::run`] returns within a second, its lease revoked.
pub use tokio_util::sync::CancellationToken;
