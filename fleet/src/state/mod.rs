//! Layer 2, the shared state: certslot's [`Store`](certslot::Store) kept in one etcd key and
//! changed only by compare-and-swap ([`EtcdStore`]); the password that protects its private
//! keys ([`PasswordSource`]); the value's checks ([`StateError`]).
//!
//! Uses the `etcd` layer (connection, key layout, leases for update receipts).

mod backoff;
mod codec;
mod error;
mod etcd_store;
mod metrics;
mod secret;

pub(crate) use self::backoff::{on_blocking_thread, retry_wait, sleep_until};
pub(crate) use self::codec::decode_published;
pub use self::codec::state_json;
pub use self::error::{StateError, StoreError, UpdateError};
pub use self::etcd_store::{EtcdStore, Guard, Loaded, UpdateOptions, Updated};
pub use self::metrics::StoreMetrics;
pub use self::secret::{PasswordError, PasswordSource};
