//! Layer 1, etcd: the connection (requests with deadlines, typed errors), the cluster's key
//! layout, and leases kept alive.
//!
//! Uses no layer of this crate; the etcd v3 API comes from `etcd-client` (gRPC over tonic).

mod access;
mod cluster;
mod connection;
mod lease;
mod tls;

pub use self::access::{AccessPlan, AccessReport, enable_auth, role_name, setup_access};
pub use self::cluster::{Cluster, ClusterError};
pub use self::connection::{ConnectOptions, Connection, EtcdError};
pub(crate) use self::lease::KeptLease;
pub use self::tls::{Tls, TlsError};
