//! The keys of one certslot cluster in etcd, all under `/certslot/<cluster>/`:
//!
//! ```text
//! /certslot/<cluster>/state               the store's state (certslot's JSON, keys in PFX), MAC'd
//! /certslot/<cluster>/admin               the admins' seal on the topology and enrolments
//! /certslot/<cluster>/deliveries/<fqdn>   what one server must hold, sealed to its agent
//! /certslot/<cluster>/servers/<fqdn>      a front-end agent's holdings report, under its lease
//! /certslot/<cluster>/coordinator      the elected coordinator, under its lease
//! /certslot/<cluster>/ops/<id>         an update's receipt, written with the state (see EtcdStore)
//! ```

use core::fmt;

/// A cluster name: one certslot store in etcd, and the key prefix of everything about it.
///
/// ```
/// use certslot_etcd::Cluster;
///
/// let cluster = Cluster::new("contoso")?;
/// assert_eq!(cluster.state_key(), "/certslot/contoso/state");
/// assert_eq!(cluster.server_key("FE01.contoso.com"), "/certslot/contoso/servers/fe01.contoso.com");
/// assert!(Cluster::new("a/b").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cluster {
    name: Box<str>,
}

/// Why a cluster name cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// Not 1 to 64 ASCII letters, digits, `-`, `_` or `.` (it becomes part of etcd keys).
    #[error("invalid cluster name {name:?}: use 1 to 64 ASCII letters, digits, '-', '_' or '.'")]
    InvalidName {
        /// The name as given.
        name: String,
    },
}

impl Cluster {
    /// The longest cluster name.
    pub const MAX_LEN: usize = 64;

    /// A cluster by name.
    ///
    /// # Errors
    /// [`ClusterError::InvalidName`] for an empty name, one longer than [`Cluster::MAX_LEN`], or
    /// one with other characters than ASCII letters, digits, `-`, `_` and `.` (`.` and `..`
    /// alone are refused too).
    pub fn new(name: &str) -> Result<Self, ClusterError> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX_LEN
            && name != "."
            && name != ".."
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if !valid {
            return Err(ClusterError::InvalidName { name: name.to_owned() });
        }
        Ok(Self { name: name.into() })
    }

    /// The name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The prefix of every key of the cluster, `/certslot/<cluster>/`.
    pub fn prefix(&self) -> String {
        format!("/certslot/{}/", self.name)
    }

    /// The key of the store's state.
    pub fn state_key(&self) -> String {
        format!("/certslot/{}/state", self.name)
    }

    /// The prefix of the agents' holdings reports.
    pub fn servers_prefix(&self) -> String {
        format!("/certslot/{}/servers/", self.name)
    }

    /// The key of one server's holdings report (the name in lowercase, as the store keeps it).
    pub fn server_key(&self, server: &str) -> String {
        format!("/certslot/{}/servers/{}", self.name, server.to_ascii_lowercase())
    }

    /// The key of the admins' seal: the digest of the topology and enrolled agent keys they
    /// last wrote, which only admins may write, so that a coordinator cannot change them.
    pub fn admin_key(&self) -> String {
        format!("/certslot/{}/admin", self.name)
    }

    /// The key of one server's delivery: what it must hold, sealed to its agent's key (the name
    /// in lowercase).
    pub fn delivery_key(&self, server: &str) -> String {
        format!("/certslot/{}/deliveries/{}", self.name, server.to_ascii_lowercase())
    }

    /// The prefix of the key server's records of partners' fetches.
    pub fn fetches_prefix(&self) -> String {
        format!("/certslot/{}/fetches/", self.name)
    }

    /// The key of one partner's fetch record (the name in lowercase).
    pub fn fetch_key(&self, partner: &str) -> String {
        format!("/certslot/{}/fetches/{}", self.name, partner.to_ascii_lowercase())
    }

    /// The prefix of the http-01 challenge answers a coordinator publishes for the key server:
    /// one key per token, holding its key authorization.
    pub fn acme_challenges_prefix(&self) -> String {
        format!("/certslot/{}/acme-http-01/", self.name)
    }

    /// The key of the http-01 answer to `token` (a base64url token: no `/`).
    pub fn acme_challenge_key(&self, token: &str) -> String {
        format!("/certslot/{}/acme-http-01/{token}", self.name)
    }

    /// The key the coordinators' election is held on.
    pub fn coordinator_key(&self) -> String {
        format!("/certslot/{}/coordinator", self.name)
    }

    /// The prefix of the queue of contended updates: an update that met a conflict waits its
    /// turn under a key of its own here, first come, first served (see `EtcdStore::update`).
    pub(crate) fn queue_prefix(&self) -> String {
        format!("/certslot/{}/queue/", self.name)
    }

    /// The key of an update's receipt.
    pub(crate) fn op_key(&self, id: &str) -> String {
        format!("/certslot/{}/ops/{id}", self.name)
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
