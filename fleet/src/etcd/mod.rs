//! Layer 1, etcd: the connection (requests with deadlines, typed errors), the cluster's key
//! layout, and leases kept alive.
//!
//! Uses no layer of this crate; the etcd v3 API comes from `etcd-client` (gRPC over tonic).

mod cluster;
mod connection;
mod lease;

pub use self::cluster::{Cluster, ClusterError};
pub use self::connection::{ConnectOptions, Connection, EtcdError};
pub(crate) use self::lease::KeptLease;
