//! Why the shared state could not be read or changed.
//!
//! [`StateError`] is about the value (missing, corrupt, foreign, too large, locked without the
//! password); [`StoreError`] adds etcd being unreachable, for reads; [`UpdateError`] adds the
//! operation's own refusal, contention and lost leadership, for updates.

use certslot::{LoadError, store::SaveError};

use crate::etcd::EtcdError;

/// What is wrong with the state value. Nothing is ever written over a value that fails these
/// checks, and nothing is written in its place.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state key does not exist: the cluster was never initialised (or its key deleted).
    #[error("no certslot state at {key} (create it with `certslot-fleet init`)")]
    Missing {
        /// The key.
        key: String,
    },
    /// The value is not UTF-8, so not certslot's JSON.
    #[error("the value at {key} is not a certslot state: not UTF-8 (invalid octet at {valid_up_to})")]
    NotUtf8 {
        /// The key.
        key: String,
        /// The length of its valid UTF-8 prefix.
        valid_up_to: usize,
    },
    /// The value does not load: not a certslot state, another format, a broken certificate, a
    /// dangling reference, an impossible slot, or keys that the password does not open.
    #[error("the value at {key} is refused: {source}")]
    Load {
        /// The key.
        key: String,
        /// certslot's reason.
        #[source]
        source: LoadError,
    },
    /// The state could not be written: a private key that cannot be sealed, or an instant
    /// RFC 3339 cannot write.
    #[error("cannot write the state: {source}")]
    Save {
        /// certslot's reason.
        #[source]
        source: SaveError,
    },
    /// The state could not be written as JSON.
    #[error("cannot write the state as JSON: {source}")]
    Json {
        /// serde_json's reason.
        #[source]
        source: serde_json::Error,
    },
    /// The state is larger than etcd accepts (`--max-request-bytes`, 1.5 MiB by default).
    #[error(
        "the state is {bytes} bytes, over the {limit}-byte limit of an etcd request (raise etcd's --max-request-bytes and UpdateOptions::max_value_bytes)"
    )]
    TooLarge {
        /// The state's size.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// Writing the state needs the password of its private keys.
    #[error("writing the state needs the password of its private keys (--password-env or --password-file)")]
    PasswordRequired,
    /// The state already exists (creating it again would overwrite it).
    #[error("a certslot state already exists at {key} (etcd revision {mod_revision})")]
    AlreadyExists {
        /// The key.
        key: String,
        /// The etcd revision that last changed it.
        mod_revision: i64,
    },
    /// The operating system's random generator failed (update receipts, key salts).
    #[error("the random generator failed: {0}")]
    Random(getrandom::Error),
    /// The runtime shut down while private keys were being sealed or opened.
    #[error("the runtime shut down while the state's private keys were being sealed or opened")]
    Interrupted,
    /// The value's MAC does not verify with the keys of this password: written by someone
    /// without the fleet password (or changed since), or another cluster's value.
    #[error(
        "the state at {key} is not authenticated by this cluster's writers (its MAC does not verify with this password)"
    )]
    Unauthenticated {
        /// The key.
        key: String,
    },
    /// The value's signature does not verify with the writers' public key a reader was given
    /// (`serve --writer-key`): written by someone without the fleet password, changed since, or
    /// another cluster's value.
    #[error(
        "the state at {key} is not signed by this cluster's writers (its signature does not verify with writer key {writer})"
    )]
    NotSigned {
        /// The key.
        key: String,
        /// The fingerprint of the writers' public key it was checked with.
        writer: String,
    },
    /// The value was written for another etcd version of the key than the one it has: an earlier
    /// value written back (from etcd's history, by hand).
    #[error(
        "the state at {key} is a replay: written as version {written_as} of the key, found as version {found}"
    )]
    Replayed {
        /// The key.
        key: String,
        /// The version it was written as.
        written_as: i64,
        /// The version it was found at.
        found: i64,
    },
    /// The value has the layout of releases before authenticated states and deliveries.
    #[error(
        "the state at {key} has the layout of an earlier release; run `certslot-fleet upgrade` to move it to the authenticated layout"
    )]
    OldLayout {
        /// The key.
        key: String,
    },
    /// The value names a layout this release does not know.
    #[error("the state at {key} has layout {layout:?}, which this release does not know")]
    UnknownLayout {
        /// The key.
        key: String,
        /// The layout it names.
        layout: String,
    },
    /// An enrolled agent key in the value does not read.
    #[error("the state at {key} enrols an unreadable agent key for {server}")]
    BadAgentKey {
        /// The key.
        key: String,
        /// The server.
        server: String,
    },
    /// The admin seal does not vouch for the state's topology and enrolled agents: changed by a
    /// writer that is not an admin (a coordinator may not change them), or the seal is missing
    /// or forged.
    #[error("the state's admin seal at {key} is refused: {why}")]
    AdminSeal {
        /// The seal's key.
        key: String,
        /// Why.
        why: &'static str,
    },
    /// A coordinator's update would change the topology or the enrolled agents: admins only.
    #[error("only an admin may change the topology or enrol agents")]
    AdminOnly,
    /// A server's delivery could not be sealed.
    #[error("cannot seal the delivery of {server}: {source}")]
    Deliver {
        /// The server.
        server: String,
        /// Why.
        #[source]
        source: crate::seal::DeliveryError,
    },
}

/// Why the state could not be read (or created).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The value is missing or refused.
    #[error(transparent)]
    State(#[from] StateError),
    /// etcd could not be reached.
    #[error(transparent)]
    Etcd(#[from] EtcdError),
}

/// Why an update did not happen. An update is applied exactly once or not at all; every variant
/// but [`UpdateError::Unknown`] means not at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError<E> {
    /// The operation refused, on the latest state; nothing was written.
    #[error(transparent)]
    Operation(E),
    /// The state is missing or refused; nothing was written.
    #[error(transparent)]
    State(#[from] StateError),
    /// etcd could not be reached for longer than [`UpdateOptions::unavailable_timeout`]
    /// (the last error).
    ///
    /// [`UpdateOptions::unavailable_timeout`]: crate::UpdateOptions::unavailable_timeout
    #[error("etcd unavailable: {0}")]
    Etcd(#[from] EtcdError),
    /// etcd stopped answering while a write's outcome was unknown, and stayed unreachable past
    /// the deadline: the write may or may not have applied. Its receipt key exists (for 10
    /// minutes) if and only if it did.
    #[error("etcd unavailable; the last write may or may not have applied (receipt {receipt}): {source}")]
    Unknown {
        /// The receipt key of the write.
        receipt: String,
        /// The last error.
        #[source]
        source: EtcdError,
    },
    /// Other writers changed the state between every read and write, `attempts` times.
    #[error("the state changed under {attempts} attempts in a row; giving up")]
    Contention {
        /// How many writes were tried.
        attempts: u32,
    },
    /// A guarded update's guard failed: the caller no longer holds the key it was elected on.
    #[error("not the leader any more: {key} is no longer held at create revision {create_revision}")]
    NotLeader {
        /// The election key.
        key: String,
        /// The create revision the caller was elected at.
        create_revision: i64,
    },
}

impl<E> From<StoreError> for UpdateError<E> {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::State(e) => Self::State(e),
            StoreError::Etcd(e) => Self::Etcd(e),
        }
    }
}
