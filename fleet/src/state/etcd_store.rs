//! [`EtcdStore`]: the store's state in one etcd key, changed by compare-and-swap.
//!
//! An update reads the state with its `mod_revision`, runs the caller's operation on it, and
//! writes the result in a transaction that compares `mod_revision`: if another writer got there
//! first, the transaction fails and hands back the newer state, and the operation runs again on
//! it at once; after a second conflict and every one after it, the update backs off (a jittered,
//! capped exponential wait) and reads the state afresh, up to [`UpdateOptions::max_attempts`]
//! writes. An operation that refuses, or changes nothing, writes nothing.
//!
//! First come, first served. Racing alone starves writers under contention: the writer that
//! just won starts its next update on the state it wrote, without a read, and wins again while
//! the others back off (measured: eight writers back to back, the slowest of a hundred updates
//! 350 ms and more). So an update that meets a conflict puts a key of its own under
//! `/certslot/<cluster>/queue/` (under a 3-second lease, so a writer that dies leaves it) and
//! waits until no key created before its own remains, asking etcd locally (serializable reads):
//! the update next in line every 0.6 ms or so, those further back about once per turn ahead.
//! Every write compares the queue in the same transaction: an update outside it writes only while the queue is empty, a queued one only
//! when nobody queued before it, and its write deletes its key. An update whose writes keep
//! conflicting checks the queue before writing for a second after, and joins it at once when
//! others wait there. [`UpdateOptions::queue`] turns queueing off (the writer then waits for
//! the queue to empty instead of joining it).
//!
//! Exactly once. The same transaction writes a receipt, `/certslot/<cluster>/ops/<id>`, whose
//! value is the attempt's number, under a lease (so receipts expire). When etcd's answer to a
//! write is lost (a restart, a dropped connection, a timeout), the write may or may not have been
//! applied; the next read looks for the receipt in the same snapshot as the state. With the
//! receipt, the update is done. Without it, and with the state still at the revision that
//! attempt compared, the very same write is sent again (both copies compare the same revision,
//! so at most one applies). Without it and with the state moved on, that attempt can never apply
//! (its compare fails forever), and the operation runs again on the new state. No update is lost
//! and none is applied twice.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use std::sync::Arc;

use certslot::{Password, Store};
use etcd_client::{
    Compare, CompareOp, GetOptions, GetResponse, KeyValue, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse,
};

use crate::clock::Clock;
use crate::etcd::{Cluster, Connection, EtcdError};
use crate::seal::{AgentPublicKey, Delivery, WriterKeys};
use crate::state::backoff::{jitter, on_blocking_thread, random_hex};
use crate::state::codec::{
    Decoded, Encoded, Layout, Roster, SealedKeys, Writer, admin_seal, changes_admin_part, check_admin_seal,
    decode, encode, roster_of, state_json,
};
use crate::state::error::{StateError, StoreError, UpdateError};
use crate::state::metrics::StoreMetrics;

/// How updates retry.
///
/// Default: 50 attempts; an update that meets a conflict waits its turn in the queue (see
/// [`UpdateOptions::queue`]); conflicts outside it back off 2 ms doubling to 200 ms, jittered;
/// etcd may be unreachable for 30 s in a row before an update gives up; a state of at most
/// 1.5 MiB less 4 KiB (etcd's default request limit, less room for the keys); receipts live 10
/// minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UpdateOptions {
    max_attempts: u32,
    backoff_base: Duration,
    backoff_cap: Duration,
    unavailable_timeout: Duration,
    max_value_bytes: usize,
    receipt_ttl: Duration,
    queue: bool,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        Self {
            max_attempts: 50,
            backoff_base: Duration::from_millis(2),
            backoff_cap: Duration::from_millis(200),
            unavailable_timeout: Duration::from_secs(30),
            max_value_bytes: (3 << 19) - 4096,
            receipt_ttl: Duration::from_secs(600),
            queue: true,
        }
    }
}

impl UpdateOptions {
    /// Sets how many writes an update tries before [`UpdateError::Contention`] (at least 1).
    pub fn max_attempts(self, attempts: u32) -> Self {
        Self { max_attempts: attempts.max(1), ..self }
    }

    /// Sets the backoff after a conflict: a uniform wait up to `base * 2^n`, capped at `cap`.
    pub fn backoff(self, base: Duration, cap: Duration) -> Self {
        Self { backoff_base: base, backoff_cap: cap.max(base), ..self }
    }

    /// Sets how long etcd may stay unreachable before an update fails with
    /// [`UpdateError::Etcd`]; at most half the receipts' lifetime (10 minutes), so a receipt
    /// outlives every retry that may look for it.
    pub fn unavailable_timeout(self, timeout: Duration) -> Self {
        Self { unavailable_timeout: timeout.min(self.receipt_ttl / 2), ..self }
    }

    /// Sets the largest state written, in bytes (match etcd's `--max-request-bytes`, less a few
    /// KiB for the rest of the request).
    pub fn max_value_bytes(self, bytes: usize) -> Self {
        Self { max_value_bytes: bytes, ..self }
    }

    /// Whether an update that met a conflict joins the queue of contended updates and waits
    /// its turn (the default), or races on with backoff. Queued, no writer starves: under eight
    /// writers updating back to back, the slowest update of a hundred took 41–57 ms queued
    /// against 350–383 ms racing, while the median rose from about 1 ms to about 35 ms (the
    /// racing median is the writer that just won winning again). Either way an update never
    /// jumps the queue others wait in.
    pub fn queue(self, queue: bool) -> Self {
        Self { queue, ..self }
    }

    /// The attempts limit.
    pub fn attempts_limit(&self) -> u32 {
        self.max_attempts
    }
}

/// The state as read, with the etcd revision that last changed it.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The store.
    pub store: Store,
    /// The key's `mod_revision`: what a compare-and-swap compares.
    pub mod_revision: i64,
    /// Its sealed private keys, opened with the password (`None` when read without it).
    keys: Option<SealedKeys>,
    /// The enrolled agent keys and what each server was handed.
    roster: Roster,
    /// The key's etcd version (`None`: not read from etcd).
    version: Option<i64>,
}

impl Loaded {
    /// The agent key enrolled for `server`, if any.
    pub fn agent_key(&self, server: &str) -> Option<&AgentPublicKey> {
        self.roster.agent(server)
    }

    /// The enrolled servers and their agent keys, by server name.
    pub fn agent_keys(&self) -> impl Iterator<Item = (&str, &AgentPublicKey)> {
        self.roster.agents()
    }

    /// The ACME CA `cert_type`'s renewals go to, if any: its directory URL, the challenge
    /// answered and the external account binding's key identifier.
    pub fn acme(
        &self,
        cert_type: &certslot::CertType,
    ) -> Option<(&str, crate::acme::ChallengeKind, Option<&str>)> {
        let settings = self.roster.acme(&cert_type.to_string())?;
        Some((settings.directory.as_str(), settings.challenge, settings.binding_kid()))
    }

    /// The roster: agent keys, partners, ACME settings and accounts.
    pub(crate) fn roster(&self) -> &Roster {
        &self.roster
    }

    fn from_decoded(decoded: Decoded, mod_revision: i64, version: Option<i64>, with_keys: bool) -> Self {
        let keys = with_keys.then_some(decoded.sealed);
        Self { store: decoded.store, mod_revision, keys, roster: decoded.roster, version }
    }

    /// The store and the sealed keys it opened, for a later decode to take the keys from.
    fn opened(&self) -> Option<(&Store, &SealedKeys)> {
        Some((&self.store, self.keys.as_ref()?))
    }
}

/// What an update did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Updated<T> {
    /// The operation's result.
    pub value: T,
    /// The store's revision after it ([`Store::revision`]).
    pub revision: u64,
    /// The key's `mod_revision` after it.
    pub mod_revision: i64,
    /// How many writes were tried (0 when the operation changed nothing).
    pub attempts: u32,
    /// False when the operation changed nothing, so nothing was written.
    pub written: bool,
    /// True when etcd's answer to the write was lost and its receipt showed it applied.
    pub recovered: bool,
}

/// A condition a guarded update also compares: that an election key is still held at the create
/// revision its holder won it at (see [`crate::Election`]). A deposed coordinator cannot write.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Guard {
    key: String,
    create_revision: i64,
}

impl Guard {
    /// A guard on `key` created at `create_revision`.
    pub fn new(key: impl Into<String>, create_revision: i64) -> Self {
        Self { key: key.into(), create_revision }
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The create revision it must still have.
    pub fn create_revision(&self) -> i64 {
        self.create_revision
    }
}

/// The store's state in etcd. See the module documentation for how updates work.
///
/// Without a password it reads the state without its private keys (enough for `get`, `drift`
/// and timelines) and refuses to write ([`StateError::PasswordRequired`]): a state written
/// without its keys would lose them.
pub struct EtcdStore {
    conn: Connection,
    cluster: Cluster,
    password: Option<Password>,
    /// The writers' keys, derived from the password at first use (on a blocking thread).
    writer: OnceLock<WriterKeys>,
    /// The clock of the deliveries' holds.
    clock: Clock,
    /// Whether its writes are an admin's (they write the admin seal) or a coordinator's (they
    /// may not change the topology or the enrolments).
    admin: bool,
    options: UpdateOptions,
    cache: Mutex<Option<Loaded>>,
    /// The lease receipts are written under: granted once, used for half its lifetime.
    receipts: ReusedLease,
    /// The lease of this store's queue keys: one lease for a while, not one per update.
    queue_lease: ReusedLease,
    /// When an update of this store last met a conflict or the queue.
    contended: Mutex<Option<Instant>>,
    /// Where its updates are counted, if anywhere.
    metrics: Option<StoreMetrics>,
}

impl core::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("cluster", &self.cluster)
            .field("password", &self.password)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// One read: the state and, if asked, a receipt and an election key, and the admin seal, at
/// one revision.
struct Snapshot {
    state: Option<KeyValue>,
    receipt: Option<(u32, i64)>,
    guard: Option<i64>,
    admin: Option<Vec<u8>>,
}

/// One write of an update, kept until its outcome is known.
struct Attempt<T> {
    number: u32,
    compared: i64,
    encoded: Arc<Encoded>,
    value: T,
    store: Store,
    /// Sent before, and its answer lost: it may have applied.
    unsure: bool,
}

/// An update's place in the queue of contended updates.
struct Queued {
    key: String,
    /// The queue key's create revision: updates queued earlier have smaller ones.
    ticket: i64,
}

/// How long after a conflict a store checks the queue before its writes.
const CONTENDED_FOR: Duration = Duration::from_secs(1);
/// How long a queue key outlives a writer that died waiting.
const QUEUE_TTL: Duration = Duration::from_secs(3);
/// How long a store puts its queue keys on the same lease (a key lives at least the rest).
const QUEUE_LEASE_REUSE: Duration = Duration::from_secs(1);
/// How often the update next in the queue asks whether its turn has come.
const QUEUE_POLL: Duration = Duration::from_micros(600);
/// About one turn (a read and a write): how long a queued update waits per update ahead of the
/// next one before it asks again.
const QUEUE_TURN: Duration = Duration::from_millis(3);

enum Next<T> {
    Read,
    Run(Loaded, bool),
    Send(Attempt<T>),
}

/// How many earlier values of the state `replace` reads back to find the newest revision (a
/// replayed value written over newer ones several times).
const HISTORY_LOOKBACK: usize = 16;

impl EtcdStore {
    /// The state of `cluster` over `conn`, with the password of its private keys (`None`:
    /// read-only, without keys).
    pub fn new(conn: Connection, cluster: Cluster, password: Option<Password>) -> Self {
        Self {
            conn,
            cluster,
            password,
            writer: OnceLock::new(),
            clock: Clock::System,
            admin: true,
            options: UpdateOptions::default(),
            cache: Mutex::new(None),
            receipts: ReusedLease::default(),
            queue_lease: ReusedLease::default(),
            contended: Mutex::new(None),
            metrics: None,
        }
    }

    /// Counts its updates, their time and their conflicts in `metrics`.
    pub fn with_metrics(self, metrics: StoreMetrics) -> Self {
        Self { metrics: Some(metrics), ..self }
    }

    /// Sets how updates retry.
    pub fn with_options(self, options: UpdateOptions) -> Self {
        Self { options, ..self }
    }

    /// Makes its writes a coordinator's: they do not write the admins' seal
    /// ([`Cluster::admin_key`], which etcd's coordinator role may not write), and an update
    /// whose operation changes the topology or the enrolled agents is refused
    /// ([`StateError::AdminOnly`]). Every writer refuses a state whose topology and enrolments
    /// are not the ones the seal vouches for ([`StateError::AdminSeal`]). By default a store's
    /// writes are an admin's.
    pub fn for_coordinator(self) -> Self {
        Self { admin: false, ..self }
    }

    /// Sets the clock that dates what each server is handed ([`certslot::Store::holds`]).
    pub fn with_clock(self, clock: Clock) -> Self {
        Self { clock, ..self }
    }

    /// The writers' keys of this cluster, derived from the password (`None` without one): the
    /// state's MAC key and the key that signs deliveries, whose public half agents pin. The
    /// first call derives them ([`WriterKeys::derive`], slow on purpose): call it from a blocking
    /// thread, or use [`EtcdStore::derive_writer_keys`].
    pub fn writer_keys(&self) -> Option<&WriterKeys> {
        let password = self.password.as_ref()?;
        Some(self.writer.get_or_init(|| WriterKeys::derive(password, self.cluster.name())))
    }

    /// Derives the writers' keys on a blocking thread, once (see [`EtcdStore::writer_keys`]).
    ///
    /// # Errors
    /// [`StateError::PasswordRequired`] without a password, [`StateError::Interrupted`].
    pub async fn derive_writer_keys(&self) -> Result<&WriterKeys, StateError> {
        let password = self.password.as_ref().ok_or(StateError::PasswordRequired)?;
        if let Some(keys) = self.writer.get() {
            return Ok(keys);
        }
        let (password, cluster) = (password.clone(), self.cluster.name().to_owned());
        let keys = off_runtime(move || Ok(WriterKeys::derive(&password, &cluster))).await?;
        Ok(self.writer.get_or_init(|| keys))
    }

    /// The connection.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// The password of the private keys, if given.
    pub fn password(&self) -> Option<&Password> {
        self.password.as_ref()
    }

    /// The update options.
    pub fn options(&self) -> UpdateOptions {
        self.options
    }

    /// Reads the state (with its private keys when the store has the password).
    ///
    /// # Errors
    /// [`StoreError::State`] for a missing or refused value, [`StoreError::Etcd`] when etcd
    /// cannot be reached.
    pub async fn load(&self) -> Result<Loaded, StoreError> {
        let snapshot = self.snapshot(None, None, false).await?;
        Ok(self.decode_snapshot(&snapshot).await?)
    }

    /// The state value as stored, with its `mod_revision`, unchecked (`None`: no state).
    ///
    /// # Errors
    /// [`EtcdError`] when etcd cannot be reached.
    pub async fn read_value(&self) -> Result<Option<(Vec<u8>, i64)>, EtcdError> {
        let snapshot = self.snapshot(None, None, false).await?;
        Ok(snapshot.state.map(|kv| (kv.value().to_vec(), kv.mod_revision())))
    }

    /// Decodes a state value read elsewhere (a watch event), with the store's password.
    ///
    /// # Errors
    /// [`StateError`] for a value that is not a certslot state, or keys the password does not
    /// open.
    pub fn decode(&self, value: &[u8], mod_revision: i64) -> Result<Loaded, StateError> {
        self.decode_value(value, mod_revision, false)
    }

    /// As [`EtcdStore::decode`], and a value of the layout before authenticated states too
    /// (`old_layout`): a backup made by an earlier release, restored by an admin.
    fn decode_value(&self, value: &[u8], mod_revision: i64, old_layout: bool) -> Result<Loaded, StateError> {
        let cached = self.cached();
        let opened = cached.as_ref().and_then(Loaded::opened);
        let writer = self.password.as_ref().zip(self.writer_keys());
        let decoded = decode(&self.cluster.state_key(), value, writer, opened, old_layout, None)?;
        Ok(Loaded::from_decoded(decoded, mod_revision, None, self.password.is_some()))
    }

    /// Decodes a saved state (a file `certslot-fleet export` wrote, of this release or an
    /// earlier one) with the store's password: its MAC checked when it has one, its keys opened.
    ///
    /// # Errors
    /// As [`EtcdStore::decode`], but for the old layout.
    pub fn decode_backup(&self, value: &[u8]) -> Result<Loaded, StateError> {
        self.decode_value(value, 0, true)
    }

    /// Creates the state; refused when one exists, whatever it holds.
    ///
    /// # Errors
    /// [`StateError::AlreadyExists`], [`StateError::PasswordRequired`], a state too large, or
    /// etcd unreachable past [`UpdateOptions::unavailable_timeout`].
    pub async fn create(&self, store: &Store) -> Result<Loaded, StoreError> {
        let compare = Compare::create_revision(self.cluster.state_key(), CompareOp::Equal, 0);
        self.put_if(store, compare).await
    }

    /// Replaces the state, whatever the key holds now (a corrupt value too), with `backup`'s
    /// store: the way back from a bad value, from a backup. The agents enrolled in the value it
    /// replaces stay enrolled when that value is authenticated (else the backup's enrolments
    /// count), and every enrolled server is handed what it must hold afresh. An update like the
    /// others: it compares the `mod_revision` it read, and when another writer got there first
    /// it reads again and retries (with the backoff of [`UpdateOptions`]), so a concurrent
    /// change is never lost unseen and never makes it fail.
    ///
    /// # Errors
    /// [`StateError::PasswordRequired`], a state too large, contention past
    /// [`UpdateOptions::max_attempts`] ([`StateError::AlreadyExists`] with the newest revision),
    /// or etcd unreachable.
    pub async fn replace(&self, backup: &Loaded) -> Result<Loaded, StoreError> {
        let mut store = backup.store.clone();
        // Sealed once: the keys' encryption is the slow part; a value with another revision
        // or roster reuses the sealed keys.
        let mut sealed: Option<SealedKeys> = None;
        let mut conflicts = 0u32;
        loop {
            let snapshot = self.snapshot(None, None, false).await?;
            let revision = snapshot.state.as_ref().map_or(0, KeyValue::mod_revision);
            // The restored state reads as newer than every value etcd still keeps of the state,
            // so agents that refuse older deliveries (replays) take it, also when the value it
            // replaces is itself an old one written back.
            let replaced = match &snapshot.state {
                Some(kv) => self.newest_in_history(kv).await,
                None => None,
            };
            if let Some(replaced) = replaced {
                store.continue_after(replaced);
            }
            let keys = self.derive_writer_keys().await?;
            let roster = snapshot
                .state
                .as_ref()
                .and_then(|kv| roster_of(kv.value(), keys))
                .unwrap_or_else(|| backup.roster.clone());
            let version = snapshot.state.as_ref().map_or(0, KeyValue::version) + 1;
            let encoded = self.encode_off_runtime(&store, roster, sealed.clone(), true, version).await?;
            sealed = Some(encoded.sealed.clone());
            let compare = Compare::mod_revision(self.cluster.state_key(), CompareOp::Equal, revision);
            match self.put_encoded(&store, &encoded, compare).await {
                // Changed (or deleted) since it was read: read again.
                Err(StoreError::State(StateError::AlreadyExists { .. } | StateError::Missing { .. }))
                    if conflicts < self.options.max_attempts =>
                {
                    let wait = jitter(self.options.backoff_base, self.options.backoff_cap, conflicts);
                    conflicts += 1;
                    tokio::time::sleep(wait).await;
                }
                done => return done,
            }
        }
    }

    /// Moves a state of the layout before authenticated states (an earlier release's) to the
    /// current one: its keys opened with the password (so they must be protected, as any key
    /// the state takes), the value written back with its MAC, by compare-and-swap. `false` when
    /// it already has the current layout (nothing is written).
    ///
    /// # Errors
    /// [`StateError::PasswordRequired`], a missing or refused value, contention (another writer
    /// changed it meanwhile: [`StateError::AlreadyExists`]), or etcd unreachable.
    pub async fn upgrade(&self) -> Result<bool, StoreError> {
        self.derive_writer_keys().await?;
        let snapshot = self.snapshot(None, None, false).await?;
        let state =
            snapshot.state.as_ref().ok_or_else(|| StateError::Missing { key: self.cluster.state_key() })?;
        let decoded = {
            let (key, value) = (self.cluster.state_key(), state.value().to_vec());
            let password = self.password.clone().ok_or(StateError::PasswordRequired)?;
            let keys = self.writer_keys().cloned().ok_or(StateError::PasswordRequired)?;
            off_runtime(move || decode(&key, &value, Some((&password, &keys)), None, true, None)).await?
        };
        if decoded.layout == Layout::Current {
            return Ok(false);
        }
        let mut store = decoded.store;
        store.continue_after(store.revision());
        let encoded =
            self.encode_off_runtime(&store, Roster::default(), None, true, state.version() + 1).await?;
        let compare = Compare::mod_revision(self.cluster.state_key(), CompareOp::Equal, state.mod_revision());
        self.put_encoded(&store, &encoded, compare).await?;
        Ok(true)
    }

    /// Adds `partner` to the store ([`certslot::Store::add_partner`]) with `credential` (what
    /// its key-server URL must hold, [`crate::PartnerToken::credential`]), replacing an earlier
    /// credential: the partner's old URL stops working. An admin's write.
    ///
    /// # Errors
    /// As [`EtcdStore::update`], with [`certslot::SlotError::InvalidName`] for a bad name.
    pub async fn set_partner(
        &self,
        partner: &str,
        credential: &str,
    ) -> Result<Updated<()>, UpdateError<certslot::SlotError>> {
        let partner = partner.to_ascii_lowercase();
        self.update_inner(None, |store: &mut Store, roster: &mut Roster| {
            store.add_partner(&partner)?;
            if roster.set_partner(&partner, Some(credential.to_owned())) {
                store.continue_after(store.revision());
            }
            Ok(())
        })
        .await
    }

    /// Sets the ACME settings of `cert_type` (`None`: its renewals are self-signed again, or
    /// done by hand, and its renewals in progress are cancelled): a coordinator with `--renew`
    /// renews the type's slots through that CA. The binding's and TSIG keys are sealed under the
    /// writers' keys. An admin's write; [`Updated::written`] is false when the settings were so
    /// already.
    ///
    /// # Errors
    /// As [`EtcdStore::update`].
    pub async fn set_acme(
        &self,
        cert_type: &certslot::CertType,
        config: Option<&crate::acme::AcmeConfig>,
    ) -> Result<Updated<()>, UpdateError<certslot::SlotError>> {
        let keys = self.derive_writer_keys().await?;
        let settings = config.map(|c| c.seal(keys));
        let name = cert_type.to_string();
        self.update_inner(None, |store: &mut Store, roster: &mut Roster| {
            let changed = roster.set_acme(&name, settings.clone());
            // The type's ACME renewals in progress stop with the settings: nothing would finish
            // them, and the planner would wait for them instead of renewing otherwise.
            if changed && settings.is_none() {
                let at = self.clock.instant_for(store);
                let scopes: Vec<certslot::Scope> = store
                    .renewal_requests()
                    .into_iter()
                    .filter(|(t, _, _)| t == cert_type)
                    .map(|(_, scope, _)| scope)
                    .collect();
                for scope in scopes {
                    store.cancel_renewal(cert_type, &scope, at)?;
                }
            }
            if changed {
                store.continue_after(store.revision());
            }
            Ok(())
        })
        .await
    }

    /// As [`EtcdStore::update_guarded`], the roster at hand too (a coordinator's ACME account).
    pub(crate) async fn update_roster_guarded<T, E>(
        &self,
        guard: &Guard,
        op: impl FnMut(&mut Store, &mut Roster) -> Result<T, E>,
    ) -> Result<Updated<T>, UpdateError<E>> {
        self.update_inner(Some(guard), op).await
    }

    /// The latest state this store knows with its roster: the one its last read or write saw,
    /// else read now.
    pub(crate) async fn latest_loaded(&self) -> Result<Loaded, StoreError> {
        match self.cached() {
            Some(loaded) => Ok(loaded),
            None => self.load().await,
        }
    }

    /// Removes `partner` and its credential ([`certslot::Store::remove_partner`]).
    ///
    /// # Errors
    /// As [`EtcdStore::update`], with [`certslot::SlotError::UnknownTopology`] for an unknown
    /// partner and [`certslot::SlotError::PartnerRequired`] while a type's rolls wait for it.
    pub async fn remove_partner(
        &self,
        partner: &str,
    ) -> Result<Updated<()>, UpdateError<certslot::SlotError>> {
        let partner = partner.to_ascii_lowercase();
        self.update_inner(None, |store: &mut Store, roster: &mut Roster| {
            store.remove_partner(&partner)?;
            roster.set_partner(&partner, None);
            Ok(())
        })
        .await
    }

    /// Enrols `key` as the agent key of `server` (a server of the topology), replacing an
    /// earlier one, and hands the server what it must hold, sealed to that key, in the same
    /// write. [`Updated::written`] is false when that key was already enrolled.
    ///
    /// # Errors
    /// [`UpdateError::Operation`] with [`certslot::SlotError::UnknownTopology`] for a server not
    /// in the topology; otherwise as [`EtcdStore::update`].
    pub async fn enrol(
        &self,
        server: &str,
        key: &AgentPublicKey,
    ) -> Result<Updated<()>, UpdateError<certslot::SlotError>> {
        let server = server.to_ascii_lowercase();
        self.update_inner(None, |store: &mut Store, roster: &mut Roster| {
            if store.topology().pool_of(&server).is_none() {
                return Err(certslot::SlotError::UnknownTopology { kind: "server", name: server.clone() });
            }
            if roster.enrol(&server, key.clone()) {
                store.continue_after(store.revision());
            }
            Ok(())
        })
        .await
    }

    /// Hands afresh the deliveries of `servers` (all handed ones: `None`) that a writer did not
    /// write as they are: missing, not signed by the writers' key, or naming another server,
    /// agent key or revision than the state says it was handed (changed by hand, copied from
    /// another server, written back from history). Its agent refuses such a delivery and keeps
    /// its files; this puts the right one back (an update of its own, one revision on). Returns
    /// the servers handed afresh (none: nothing written). A state that does not authenticate is
    /// left alone.
    ///
    /// # Errors
    /// As [`EtcdStore::update_guarded`] (`guard`: a coordinator's write).
    pub async fn repair_deliveries(
        &self,
        servers: Option<&BTreeSet<String>>,
        guard: Option<&Guard>,
    ) -> Result<Vec<String>, UpdateError<core::convert::Infallible>> {
        let keys = self.derive_writer_keys().await?;
        let prefix = self.cluster.delivery_key("");
        let mut reads = vec![TxnOp::get(self.cluster.state_key(), None)];
        match servers {
            None => reads.push(TxnOp::get(prefix.clone(), Some(GetOptions::new().with_prefix()))),
            Some(servers) => {
                reads.extend(servers.iter().map(|s| TxnOp::get(self.cluster.delivery_key(s), None)))
            }
        }
        let answer = self.send_txn("read deliveries", &Txn::new().and_then(reads)).await?;
        let mut kvs = answer.op_responses().into_iter().filter_map(|r| match r {
            TxnOpResponse::Get(get) => Some(get.kvs().to_vec()),
            _ => None,
        });
        let Some(state) = kvs.next().and_then(|kvs| kvs.into_iter().next()) else { return Ok(Vec::new()) };
        let Some(roster) = roster_of(state.value(), keys) else { return Ok(Vec::new()) };
        let found: BTreeMap<String, Vec<u8>> = kvs
            .flatten()
            .filter_map(|kv| {
                Some((kv.key_str().ok()?.strip_prefix(&prefix)?.to_owned(), kv.value().to_vec()))
            })
            .collect();
        let as_written = |server: &str, revision: u64| {
            let Some(value) = found.get(server) else { return false };
            let Ok(header) = Delivery::verified_header(value, keys.public()) else { return false };
            header.server == server
                && header.revision == revision
                && header.cluster == self.cluster.name()
                && roster.agent(server).is_some_and(|k| k.fingerprint() == header.agent_key)
        };
        let changed: Vec<String> = roster
            .handed()
            .filter(|(server, _)| servers.is_none_or(|s| s.contains(*server)))
            .filter(|(server, revision)| !as_written(server, *revision))
            .map(|(server, _)| server.to_owned())
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        self.update_inner(guard, |store: &mut Store, roster: &mut Roster| {
            let mut any = false;
            for server in &changed {
                any |= roster.forget_handed(server);
            }
            if any {
                store.continue_after(store.revision());
            }
            Ok(())
        })
        .await?;
        Ok(changed)
    }

    /// The highest store revision among the state's value `kv` and up to
    /// [`HISTORY_LOOKBACK`] earlier values etcd still keeps (a value's `revision` field, read
    /// leniently so a corrupt value may still show one); `None` when none shows one.
    async fn newest_in_history(&self, kv: &KeyValue) -> Option<u64> {
        let revision_of = |value: &[u8]| -> Option<u64> {
            let value: serde_json::Value = serde_json::from_str(state_json(value)?).ok()?;
            value.get("revision")?.as_u64()
        };
        let mut newest = revision_of(kv.value());
        let (mut before, mut version) = (kv.mod_revision(), kv.version());
        let key = self.cluster.state_key();
        for _ in 0..HISTORY_LOOKBACK {
            if version <= 1 {
                break;
            }
            let at = before - 1;
            let options = GetOptions::new().with_revision(at);
            let answer = self
                .conn
                .call("read history", |mut c| {
                    let (key, options) = (key.clone(), options.clone());
                    async move { c.kv.get(key, Some(options)).await }
                })
                .await;
            // Compacted away, or etcd unreachable: what was read so far.
            let Ok(answer) = answer else { break };
            let Some(previous) = answer.kvs().first() else { break };
            newest = newest.max(revision_of(previous.value()));
            (before, version) = (previous.mod_revision(), previous.version());
        }
        newest
    }

    /// Runs `op` on the latest state and writes the result by compare-and-swap; see the module
    /// documentation. `op` may run several times (once per attempt), each time on a fresh copy;
    /// only the run whose write applied counts.
    ///
    /// # Errors
    /// [`UpdateError`]: the operation's own error (on the latest state), a missing or refused
    /// state, etcd unreachable, or contention past [`UpdateOptions::max_attempts`].
    pub async fn update<T, E>(
        &self,
        mut op: impl FnMut(&mut Store) -> Result<T, E>,
    ) -> Result<Updated<T>, UpdateError<E>> {
        self.update_inner(None, |store: &mut Store, _: &mut Roster| op(store)).await
    }

    /// As [`EtcdStore::update`], and only while `guard` holds: a coordinator's write.
    ///
    /// # Errors
    /// As [`EtcdStore::update`], and [`UpdateError::NotLeader`] once the guard fails.
    pub async fn update_guarded<T, E>(
        &self,
        guard: &Guard,
        mut op: impl FnMut(&mut Store) -> Result<T, E>,
    ) -> Result<Updated<T>, UpdateError<E>> {
        self.update_inner(Some(guard), |store: &mut Store, _: &mut Roster| op(store)).await
    }

    async fn update_inner<T, E>(
        &self,
        guard: Option<&Guard>,
        op: impl FnMut(&mut Store, &mut Roster) -> Result<T, E>,
    ) -> Result<Updated<T>, UpdateError<E>> {
        let id = random_hex(16).map_err(StateError::Random)?;
        let started = Instant::now();
        let mut queued = None;
        let result = self.update_loop(&id, guard, op, &mut queued).await;
        if let Some(queued) = queued {
            self.leave_queue(queued);
        }
        if let Some(metrics) = &self.metrics {
            let ended = match &result {
                Ok(updated) if updated.written => "written",
                Ok(_) => "unchanged",
                Err(UpdateError::Operation(_)) => "refused",
                Err(_) => "failed",
            };
            metrics.update(started.elapsed(), ended);
        }
        result
    }

    async fn update_loop<T, E>(
        &self,
        id: &str,
        guard: Option<&Guard>,
        mut op: impl FnMut(&mut Store, &mut Roster) -> Result<T, E>,
        queued: &mut Option<Queued>,
    ) -> Result<Updated<T>, UpdateError<E>> {
        self.derive_writer_keys().await?;
        let receipt_key = self.cluster.op_key(id);
        let started = Instant::now();
        let (mut outages, mut conflicts, mut attempts) = (0u32, 0u32, 0u32);
        // A sent write whose outcome is unknown (its answer was lost).
        let mut pending: Option<Attempt<T>> = None;
        let mut next = match self.cached() {
            Some(loaded) => Next::Run(loaded, false),
            None => Next::Read,
        };
        // Writers met lately: join the queue now if others wait in it, rather than send a write
        // that the queue refuses.
        if self.options.queue && self.recently_contended() && self.queue_waiting().await {
            self.queue_up(id, queued, started).await;
            if queued.is_some() {
                next = Next::Read;
            }
        }
        loop {
            next = match next {
                // A queued update whose turn came reads locally (serializable): a stale copy is
                // caught by the write's compare, which hands back the newest state.
                Next::Read => match self
                    .snapshot(Some(&receipt_key), guard, queued.is_some() && pending.is_none())
                    .await
                {
                    Err(e) => {
                        self.outage(started, &mut outages, e, pending.as_ref().map(|_| &receipt_key)).await?;
                        Next::Read
                    }
                    Ok(snapshot) => {
                        outages = 0;
                        if let Some((number, mod_revision)) = snapshot.receipt {
                            return self.receipted(pending.take(), number, mod_revision);
                        }
                        match pending.take() {
                            Some(attempt) if state_revision(&snapshot) == attempt.compared => {
                                Next::Send(attempt)
                            }
                            _ => Next::Run(self.decode_snapshot(&snapshot).await?, true),
                        }
                    }
                },
                Next::Run(base, confirmed) => {
                    let mut store = base.store.clone();
                    let mut roster = base.roster.clone();
                    let before = store.revision();
                    match op(&mut store, &mut roster) {
                        Ok(_)
                            if !self.admin && store.revision() != before && {
                                let keys = self.derive_writer_keys().await?;
                                changes_admin_part((&base.store, &base.roster), (&store, &roster), keys)
                            } =>
                        {
                            // Known only on the latest state (a cached copy is read again).
                            if confirmed {
                                return Err(StateError::AdminOnly.into());
                            }
                            Next::Read
                        }
                        Ok(value) if store.revision() != before => {
                            attempts += 1;
                            if attempts > self.options.max_attempts {
                                return Err(UpdateError::Contention { attempts: attempts - 1 });
                            }
                            let Some(version) = base.version else {
                                next = Next::Read;
                                continue;
                            };
                            let encoded = self
                                .encode_off_runtime(&store, roster, base.keys.clone(), false, version + 1)
                                .await?;
                            Next::Send(Attempt {
                                number: attempts,
                                compared: base.mod_revision,
                                encoded: Arc::new(encoded),
                                value,
                                store,
                                unsure: false,
                            })
                        }
                        // A refusal or a no-op on a cached copy counts only once the copy is
                        // known to be the latest.
                        _ if !confirmed => Next::Read,
                        Ok(value) => {
                            return Ok(Updated {
                                value,
                                revision: before,
                                mod_revision: base.mod_revision,
                                attempts: 0,
                                written: false,
                                recovered: false,
                            });
                        }
                        Err(e) => return Err(UpdateError::Operation(e)),
                    }
                }
                Next::Send(attempt) => {
                    let lease = match self.receipt_lease().await {
                        Ok(lease) => lease,
                        Err(e) => {
                            let receipt = attempt.unsure.then_some(&receipt_key);
                            self.outage(started, &mut outages, e, receipt).await?;
                            next = Next::Send(attempt);
                            continue;
                        }
                    };
                    let txn = self.write_txn(&attempt, &receipt_key, lease, guard, queued.as_ref());
                    match self.send_txn("update", &txn).await {
                        Ok(answer) if answer.succeeded() => {
                            let mod_revision = header_revision(&answer)?;
                            // The write took this update's queue key with it.
                            *queued = None;
                            return Ok(self.committed(attempt, mod_revision, false));
                        }
                        Ok(answer) => {
                            outages = 0;
                            let snapshot = Snapshot::read(&answer, true, guard.is_some(), true)?;
                            if let Some((number, mod_revision)) = snapshot.receipt {
                                return self.receipted(Some(attempt), number, mod_revision);
                            }
                            if let Some(guard) = guard {
                                if snapshot.guard != Some(guard.create_revision) {
                                    return Err(UpdateError::NotLeader {
                                        key: guard.key.clone(),
                                        create_revision: guard.create_revision,
                                    });
                                }
                            }
                            *self.contended.lock().unwrap_or_else(PoisonError::into_inner) =
                                Some(Instant::now());
                            if state_revision(&snapshot) != attempt.compared {
                                conflicts += 1;
                                if let Some(metrics) = &self.metrics {
                                    metrics.conflict();
                                }
                            }
                            if self.options.queue {
                                self.queue_up(id, queued, started).await;
                            }
                            if queued.is_some() {
                                // In the queue, this update's turn has come (refused for the
                                // queue, the state as compared, or the state moved on: either
                                // way the turn decides): run again on a fresh read.
                                if started.elapsed() > self.options.unavailable_timeout {
                                    return Err(UpdateError::Contention { attempts });
                                }
                                next = Next::Read;
                                continue;
                            }
                            // Not queued (etcd took no queue key, or queueing is off): race, and
                            // when only the queue refused the write, send it again shortly.
                            if state_revision(&snapshot) == attempt.compared {
                                if started.elapsed() > self.options.unavailable_timeout {
                                    return Err(UpdateError::Contention { attempts });
                                }
                                tokio::time::sleep(jitter(QUEUE_POLL, QUEUE_POLL * 4, 2)).await;
                                next = Next::Send(attempt);
                                continue;
                            }
                            if conflicts <= 1 {
                                // The failed write's answer holds the newest state: run again on
                                // it at once.
                                Next::Run(self.decode_snapshot(&snapshot).await?, true)
                            } else {
                                // Contended: back off, then read afresh (the state in hand would
                                // be stale after the wait).
                                let n = conflicts - 2;
                                tokio::time::sleep(jitter(
                                    self.options.backoff_base,
                                    self.options.backoff_cap,
                                    n,
                                ))
                                .await;
                                Next::Read
                            }
                        }
                        Err(e) if e.is_lease_not_found() => {
                            // Refused whole: the receipt's lease expired. Grant another.
                            self.receipts.forget(lease);
                            Next::Send(attempt)
                        }
                        Err(e) if e.is_too_large() => {
                            return Err(StateError::TooLarge {
                                bytes: attempt.encoded.value.len(),
                                limit: self.options.max_value_bytes,
                            }
                            .into());
                        }
                        // Refused whole (permissions, authentication): this send applied
                        // nothing, though an earlier one of the attempt may have.
                        Err(e) if !e.is_retryable() => {
                            return Err(match attempt.unsure {
                                true => UpdateError::Unknown { receipt: receipt_key, source: e },
                                false => UpdateError::Etcd(e),
                            });
                        }
                        Err(e) => {
                            pending = Some(Attempt { unsure: true, ..attempt });
                            self.outage(started, &mut outages, e, Some(&receipt_key)).await?;
                            Next::Read
                        }
                    }
                }
            };
        }
    }

    /// Waits before retrying after etcd failed to answer, or gives up on a refusal or past the
    /// deadline: with
    /// [`UpdateError::Unknown`] when a write may have applied (`receipt`), else
    /// [`UpdateError::Etcd`].
    async fn outage<E>(
        &self,
        started: Instant,
        outages: &mut u32,
        error: EtcdError,
        receipt: Option<&String>,
    ) -> Result<(), UpdateError<E>> {
        let wait = jitter(Duration::from_millis(50), Duration::from_secs(1), *outages);
        // A refusal (permissions, authentication) stays a refusal: it is reported at once.
        if !error.is_retryable() || started.elapsed() + wait > self.options.unavailable_timeout {
            return Err(match receipt {
                Some(receipt) => UpdateError::Unknown { receipt: receipt.clone(), source: error },
                None => UpdateError::Etcd(error),
            });
        }
        *outages += 1;
        tokio::time::sleep(wait).await;
        Ok(())
    }

    fn receipted<T, E>(
        &self,
        attempt: Option<Attempt<T>>,
        number: u32,
        mod_revision: i64,
    ) -> Result<Updated<T>, UpdateError<E>> {
        match attempt.filter(|a| a.number == number) {
            Some(attempt) => Ok(self.committed(attempt, mod_revision, true)),
            None => Err(EtcdError::Unexpected {
                what: "update",
                detail: "a receipt for a write this update does not know",
            }
            .into()),
        }
    }

    fn committed<T>(&self, attempt: Attempt<T>, mod_revision: i64, recovered: bool) -> Updated<T> {
        let revision = attempt.store.revision();
        let (keys, roster) = (Some(attempt.encoded.sealed.clone()), attempt.encoded.roster.clone());
        let version = Some(attempt.encoded.version);
        self.set_cache(Loaded { store: attempt.store, mod_revision, keys, roster, version });
        Updated {
            value: attempt.value,
            revision,
            mod_revision,
            attempts: attempt.number,
            written: true,
            recovered,
        }
    }

    fn write_txn<T>(
        &self,
        attempt: &Attempt<T>,
        receipt_key: &str,
        lease: i64,
        guard: Option<&Guard>,
        queued: Option<&Queued>,
    ) -> Txn {
        let state_key = self.cluster.state_key();
        let mut compares = vec![Compare::mod_revision(state_key.clone(), CompareOp::Equal, attempt.compared)];
        let mut writes = vec![
            TxnOp::put(state_key.clone(), attempt.encoded.value.clone(), None),
            TxnOp::put(receipt_key, attempt.number.to_string(), Some(PutOptions::new().with_lease(lease))),
        ];
        writes.extend(self.delivery_ops(&attempt.encoded));
        // Over a range, a compare holds when it holds for every key in it, and an empty range
        // compares as one absent key (create revision 0).
        let queue = self.cluster.queue_prefix();
        match queued {
            // Nobody queued.
            None => compares.push(Compare::create_revision(queue, CompareOp::Equal, 0).with_prefix()),
            // Nobody queued before this update; it leaves the queue with its write.
            Some(queued) => {
                compares.push(
                    Compare::create_revision(queue, CompareOp::Greater, queued.ticket - 1).with_prefix(),
                );
                writes.push(TxnOp::delete(queued.key.clone(), None));
            }
        }
        let mut reads = vec![TxnOp::get(state_key.clone(), None), TxnOp::get(receipt_key, None)];
        if let Some(guard) = guard {
            compares.push(Compare::create_revision(
                guard.key.clone(),
                CompareOp::Equal,
                guard.create_revision,
            ));
            reads.push(TxnOp::get(guard.key.clone(), None));
        }
        reads.push(TxnOp::get(self.cluster.admin_key(), None));
        Txn::new().when(compares).and_then(writes).or_else(reads)
    }

    fn recently_contended(&self) -> bool {
        self.contended
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < CONTENDED_FOR)
    }

    /// The queue's keys, read locally (serializable: no raft round), `options` narrowing them.
    async fn list_queue(&self, options: GetOptions) -> Result<GetResponse, EtcdError> {
        let options = options.with_prefix().with_keys_only().with_serializable();
        self.conn
            .call("queue", |mut c| {
                let (prefix, options) = (self.cluster.queue_prefix(), options.clone());
                async move { c.kv.get(prefix, Some(options)).await }
            })
            .await
    }

    /// Whether an update waits in the queue.
    async fn queue_waiting(&self) -> bool {
        self.list_queue(GetOptions::new().with_limit(1)).await.is_ok_and(|a| !a.kvs().is_empty())
    }

    /// Puts this update at the end of the queue of contended updates. Best effort: when etcd
    /// does not take it, the update races as before.
    async fn join_queue(&self, id: &str) -> Option<Queued> {
        let lease = self.queue_lease.get(&self.conn, QUEUE_TTL, QUEUE_LEASE_REUSE).await.ok()?;
        let key = format!("{}{id}", self.cluster.queue_prefix());
        let put = self
            .conn
            .call("queue", |mut c| {
                let key = key.clone();
                async move { c.kv.put(key, "", Some(PutOptions::new().with_lease(lease))).await }
            })
            .await;
        match put {
            Ok(put) => Some(Queued { ticket: put.header()?.revision(), key }),
            Err(e) => {
                if e.is_lease_not_found() {
                    self.queue_lease.forget(lease);
                }
                None
            }
        }
    }

    /// Waits until no update is queued ahead of this one (or the update's deadline passes),
    /// asking etcd how many are: every [`QUEUE_POLL`] or so when next in line, about one
    /// [`QUEUE_TURN`] per update ahead otherwise. False when this update's own key is gone (its
    /// lease ended while it waited): it must queue again, since a write that compares the queue
    /// fails on an empty one.
    async fn wait_turn(&self, place: &Queued, started: Instant) -> bool {
        while started.elapsed() < self.options.unavailable_timeout {
            // Listed, counted here: etcd's count ignores the create-revision filter. Up to this
            // update's own key, to see that it is still there.
            let listed = self.list_queue(GetOptions::new().with_max_create_revision(place.ticket)).await;
            let n = match listed {
                Ok(answer) => {
                    let kvs = answer.kvs();
                    if !kvs.iter().any(|kv| kv.key() == place.key.as_bytes()) {
                        return false;
                    }
                    match kvs.iter().filter(|kv| kv.create_revision() < place.ticket).count() {
                        0 => return true,
                        n => u32::try_from(n).unwrap_or(u32::MAX),
                    }
                }
                // etcd unreachable: the write's own retries deal with it.
                Err(_) => return true,
            };
            // A turn for each update ahead but the next, then short asks: the update right
            // behind the one writing notices its turn soon, and those further back ask seldom.
            let wait = (QUEUE_TURN.saturating_mul(n - 1) + QUEUE_POLL).min(QUEUE_TURN * 16);
            tokio::time::sleep(wait / 2 + jitter(wait, wait, 0)).await;
        }
        true
    }

    /// Joins the queue if not in it, and waits for this update's turn, queueing again when its
    /// key's lease ended meanwhile. Leaves `queued` empty when etcd took no queue key.
    async fn queue_up(&self, id: &str, queued: &mut Option<Queued>, started: Instant) {
        for _ in 0..3 {
            if queued.is_none() {
                *queued = self.join_queue(id).await;
            }
            let Some(place) = queued.as_ref() else { return };
            if self.wait_turn(place, started).await {
                return;
            }
            *queued = None;
        }
    }

    /// Leaves the queue when the update ends without its write taking the key away: deletes
    /// the key in a task of its own so that the update returns at once (were that lost, the
    /// key's lease ends it within [`QUEUE_TTL`]).
    fn leave_queue(&self, queued: Queued) {
        let conn = self.conn.clone();
        tokio::spawn(async move {
            let _ = conn
                .call("queue", |mut c| {
                    let key = queued.key.clone();
                    async move { c.kv.delete(key, None).await }
                })
                .await;
        });
    }

    fn check_size(&self, bytes: usize) -> Result<(), StateError> {
        if bytes > self.options.max_value_bytes {
            return Err(StateError::TooLarge { bytes, limit: self.options.max_value_bytes });
        }
        Ok(())
    }

    /// Writes `store` (nobody enrolled yet) if `compare` holds; a lost answer is settled by
    /// comparing the value found with the one sent (its PFX salts are random, so only this write
    /// wrote it).
    async fn put_if(&self, store: &Store, compare: Compare) -> Result<Loaded, StoreError> {
        let encoded = self.encode_off_runtime(store, Roster::default(), None, true, 1).await?;
        self.put_encoded(store, &encoded, compare).await
    }

    /// The value written for `store` and `roster` (keys sealed afresh unless `sealed` holds
    /// them), with the deliveries that changed (all of them when `all`), made off the runtime's
    /// threads; refused when larger than [`UpdateOptions::max_value_bytes`].
    async fn encode_off_runtime(
        &self,
        store: &Store,
        roster: Roster,
        sealed: Option<SealedKeys>,
        all: bool,
        version: i64,
    ) -> Result<Encoded, StateError> {
        let password = self.password.clone().ok_or(StateError::PasswordRequired)?;
        let keys = self.derive_writer_keys().await?.clone();
        let (store, cluster, at) = (store.clone(), self.cluster.name().to_owned(), self.clock.now());
        let admin = self.admin;
        let encoded = off_runtime(move || {
            let writer = Writer { password: &password, keys: &keys, cluster: &cluster };
            let mut encoded = encode(&store, &roster, &writer, sealed.as_ref(), at, all, version)?;
            if admin {
                encoded.admin_seal = Some(admin_seal(&store, &encoded.roster, &keys));
            }
            Ok(encoded)
        })
        .await?;
        let size = encoded.value.len()
            + encoded.deliveries.iter().filter_map(|(_, v)| v.as_ref()).map(Vec::len).sum::<usize>();
        self.check_size(size)?;
        Ok(encoded)
    }

    /// The puts and deletes of the deliveries an encoded state carries, and the put of its
    /// admin seal.
    fn delivery_ops(&self, encoded: &Encoded) -> Vec<TxnOp> {
        let seal =
            encoded.admin_seal.iter().map(|seal| TxnOp::put(self.cluster.admin_key(), seal.clone(), None));
        encoded
            .deliveries
            .iter()
            .map(|(server, value)| {
                let key = self.cluster.delivery_key(server);
                match value {
                    Some(value) => TxnOp::put(key, value.clone(), None),
                    None => TxnOp::delete(key, None),
                }
            })
            .chain(seal)
            .collect()
    }

    /// [`EtcdStore::put_if`] with the state already encoded.
    async fn put_encoded(
        &self,
        store: &Store,
        encoded: &Encoded,
        compare: Compare,
    ) -> Result<Loaded, StoreError> {
        let key = self.cluster.state_key();
        let mut writes = vec![TxnOp::put(key.clone(), encoded.value.clone(), None)];
        writes.extend(self.delivery_ops(encoded));
        let txn = Txn::new().when([compare]).and_then(writes).or_else([TxnOp::get(key.clone(), None)]);
        let written = |mod_revision| Loaded {
            store: store.clone(),
            mod_revision,
            keys: Some(encoded.sealed.clone()),
            roster: encoded.roster.clone(),
            version: Some(encoded.version),
        };
        let started = Instant::now();
        let mut outages = 0u32;
        loop {
            match self.send_txn("write", &txn).await {
                Ok(answer) if answer.succeeded() => {
                    let loaded = written(header_revision(&answer)?);
                    self.set_cache(loaded.clone());
                    return Ok(loaded);
                }
                Ok(answer) => {
                    let found = Snapshot::read(&answer, false, false, false)?.state;
                    let Some(found) = found else {
                        // Deleted since: the compare named a revision that no longer exists.
                        return Err(StateError::Missing { key }.into());
                    };
                    if found.value() == encoded.value.as_slice() {
                        let loaded = written(found.mod_revision());
                        self.set_cache(loaded.clone());
                        return Ok(loaded);
                    }
                    return Err(StateError::AlreadyExists { key, mod_revision: found.mod_revision() }.into());
                }
                Err(e) => {
                    let wait = jitter(Duration::from_millis(50), Duration::from_secs(1), outages);
                    if !e.is_retryable() || started.elapsed() + wait > self.options.unavailable_timeout {
                        return Err(e.into());
                    }
                    outages += 1;
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Reads the state, and a receipt and a guard key if given, in one transaction.
    async fn snapshot(
        &self,
        receipt_key: Option<&str>,
        guard: Option<&Guard>,
        local: bool,
    ) -> Result<Snapshot, EtcdError> {
        let options = || local.then(|| GetOptions::new().with_serializable());
        let mut reads = vec![TxnOp::get(self.cluster.state_key(), options())];
        if let Some(key) = receipt_key {
            reads.push(TxnOp::get(key, options()));
        }
        if let Some(guard) = guard {
            reads.push(TxnOp::get(guard.key.clone(), options()));
        }
        reads.push(TxnOp::get(self.cluster.admin_key(), options()));
        let answer = self.send_txn("read", &Txn::new().and_then(reads)).await?;
        Snapshot::read(&answer, receipt_key.is_some(), guard.is_some(), true)
    }

    /// Sends one transaction, failing over across the endpoints ([`Connection::call`]).
    async fn send_txn(&self, what: &'static str, txn: &Txn) -> Result<TxnResponse, EtcdError> {
        self.conn
            .call(what, |mut c| {
                let txn = txn.clone();
                async move { c.kv.txn(txn).await }
            })
            .await
    }

    async fn decode_snapshot(&self, snapshot: &Snapshot) -> Result<Loaded, StateError> {
        let state =
            snapshot.state.as_ref().ok_or_else(|| StateError::Missing { key: self.cluster.state_key() })?;
        let (key, value, mod_revision, version) =
            (self.cluster.state_key(), state.value().to_vec(), state.mod_revision(), state.version());
        let password = self.password.clone();
        let keys = match password {
            Some(_) => Some(self.derive_writer_keys().await?.clone()),
            None => None,
        };
        let cached = self.cached();
        let (seal, seal_key) = (snapshot.admin.clone(), self.cluster.admin_key());
        let loaded = off_runtime(move || {
            let writer = password.as_ref().zip(keys.as_ref());
            let decoded =
                decode(&key, &value, writer, cached.as_ref().and_then(Loaded::opened), false, Some(version))?;
            if let Some(keys) = &keys {
                check_admin_seal(seal.as_deref(), &seal_key, &decoded.store, &decoded.roster, keys)?;
            }
            Ok(Loaded::from_decoded(decoded, mod_revision, Some(version), password.is_some()))
        })
        .await?;
        if self.password.is_some() {
            self.set_cache(loaded.clone());
        }
        Ok(loaded)
    }

    /// The latest state this store knows: the one its last read or write saw, else read now.
    pub(crate) async fn latest(&self) -> Result<Store, StoreError> {
        match self.cached() {
            Some(loaded) => Ok(loaded.store),
            None => Ok(self.load().await?.store),
        }
    }

    fn cached(&self) -> Option<Loaded> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_cache(&self, loaded: Loaded) {
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.as_ref().is_none_or(|c| c.mod_revision <= loaded.mod_revision) {
            *cache = Some(loaded);
        }
    }

    /// The lease receipts are written under: granted once, used for half its lifetime.
    async fn receipt_lease(&self) -> Result<i64, EtcdError> {
        let ttl = self.options.receipt_ttl;
        self.receipts.get(&self.conn, ttl, ttl / 2).await
    }
}

/// A lease shared by a store's keys of one kind (receipts, queue keys) for part of its life,
/// so that not every update grants one: granted on first use, reused while younger than the
/// reuse period, granted afresh after it or once etcd says it is gone.
#[derive(Default)]
struct ReusedLease(Mutex<Option<(i64, Instant)>>);

impl ReusedLease {
    async fn get(&self, conn: &Connection, ttl: Duration, reuse: Duration) -> Result<i64, EtcdError> {
        if let Some((id, granted)) = *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            if granted.elapsed() < reuse {
                return Ok(id);
            }
        }
        let seconds = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        let granted =
            conn.call("lease grant", |mut c| async move { c.lease.grant(seconds, None).await }).await?;
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((granted.id(), Instant::now()));
        Ok(granted.id())
    }

    /// Forgets the lease `id` (etcd said it is gone), so the next use grants another.
    fn forget(&self, id: i64) {
        let mut held = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if held.is_some_and(|(current, _)| current == id) {
            *held = None;
        }
    }
}

impl Snapshot {
    /// The reads of a transaction's answer: the state, then the receipt (if read), then the
    /// guard key (if read).
    fn read(answer: &TxnResponse, receipt: bool, guard: bool, admin: bool) -> Result<Self, EtcdError> {
        let unexpected = |detail| EtcdError::Unexpected { what: "read", detail };
        let mut gets = answer.op_responses().into_iter().map(|r| match r {
            TxnOpResponse::Get(get) => Ok(get.kvs().first().cloned()),
            _ => Err(unexpected("a transaction answer that is not a read")),
        });
        let state = gets.next().ok_or_else(|| unexpected("no state in the answer"))??;
        let receipt = if receipt {
            match gets.next().ok_or_else(|| unexpected("no receipt in the answer"))?? {
                Some(kv) => {
                    let number = std::str::from_utf8(kv.value())
                        .ok()
                        .and_then(|s| s.parse::<u32>().ok())
                        .ok_or_else(|| unexpected("a receipt that is not an attempt number"))?;
                    Some((number, kv.mod_revision()))
                }
                None => None,
            }
        } else {
            None
        };
        let guard = if guard {
            gets.next()
                .ok_or_else(|| unexpected("no election key in the answer"))??
                .map(|kv| kv.create_revision())
        } else {
            None
        };
        let admin = if admin {
            gets.next()
                .ok_or_else(|| unexpected("no admin seal in the answer"))??
                .map(|kv| kv.value().to_vec())
        } else {
            None
        };
        Ok(Self { state, receipt, guard, admin })
    }
}

fn state_revision(snapshot: &Snapshot) -> i64 {
    snapshot.state.as_ref().map_or(0, KeyValue::mod_revision)
}

fn header_revision(answer: &TxnResponse) -> Result<i64, EtcdError> {
    answer
        .header()
        .map(|h| h.revision())
        .ok_or(EtcdError::Unexpected { what: "update", detail: "an answer without a header" })
}

/// Runs `work` (sealing or opening private keys: PBKDF2, milliseconds a key) on tokio's blocking
/// threads, so that the runtime's threads go on renewing leases and serving watches meanwhile.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StateError> + Send + 'static,
) -> Result<T, StateError> {
    on_blocking_thread(work).await.unwrap_or(Err(StateError::Interrupted))
}
