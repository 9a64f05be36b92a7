//! The connection to etcd: a client over one or more endpoints, every request with a deadline,
//! and [`EtcdError`], which says which request failed and how.
//!
//! The client reconnects by itself: a request made while etcd is down fails at once (connection
//! refused) or at its deadline, and the next one after etcd is back succeeds. Callers decide how
//! long to keep trying.

use core::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, ConnectOptions as ClientOptions, KvClient, LeaseClient, WatchClient};

/// The largest message the clients accept from etcd (gRPC's default is 4 MiB; a state larger
/// than that is refused by etcd's own request limit first unless an operator raised it).
const MAX_MESSAGE: usize = 256 << 20;

/// How to reach etcd.
///
/// Default: 3 s to connect, 5 s for each request, HTTP/2 keep-alive pings every 5 s (a watch on
/// a dead connection fails within 10 s instead of waiting forever).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnectOptions {
    connect_timeout: Duration,
    request_timeout: Duration,
    keep_alive: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
        }
    }
}

impl ConnectOptions {
    /// Sets how long connecting to an endpoint may take.
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self { connect_timeout: timeout, ..self }
    }

    /// Sets how long one request may take before it fails with [`EtcdError::Timeout`].
    pub fn request_timeout(self, timeout: Duration) -> Self {
        Self { request_timeout: timeout, ..self }
    }

    /// Sets the interval of HTTP/2 keep-alive pings (and how long one may go unanswered).
    pub fn keep_alive(self, interval: Duration) -> Self {
        Self { keep_alive: interval, ..self }
    }

    /// The request deadline.
    pub fn request_timeout_value(&self) -> Duration {
        self.request_timeout
    }
}

/// A connection to an etcd cluster. Cheap to clone; clones share the connection.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    kv: KvClient,
    watch: WatchClient,
    lease: LeaseClient,
    options: ConnectOptions,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection").field("options", &self.inner.options).finish_non_exhaustive()
    }
}

/// Why a request to etcd failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// No endpoint was given.
    #[error("no etcd endpoint given")]
    NoEndpoints,
    /// etcd (or the connection to it) refused or failed the request.
    #[error("etcd {what}: {source}")]
    Request {
        /// The request.
        what: &'static str,
        /// The client's error.
        #[source]
        source: etcd_client::Error,
    },
    /// etcd did not answer within the request deadline.
    #[error("etcd {what}: no answer within {timeout:?}")]
    Timeout {
        /// The request.
        what: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// etcd answered something this crate cannot use.
    #[error("etcd {what}: unexpected answer ({detail})")]
    Unexpected {
        /// The request.
        what: &'static str,
        /// What was wrong with it.
        detail: &'static str,
    },
}

impl EtcdError {
    /// True when etcd refused the request because a lease it names does not exist (expired or
    /// revoked): nothing of the request was applied.
    pub fn is_lease_not_found(&self) -> bool {
        match self {
            Self::Request { source: etcd_client::Error::GRpcStatus(status), .. } => {
                status.message().contains("requested lease not found")
            }
            Self::Request { source: etcd_client::Error::LeaseKeepAliveError(message), .. } => {
                message.contains("lease not found")
            }
            _ => false,
        }
    }

    /// True when etcd refused the request as larger than its `--max-request-bytes`: nothing of
    /// it was applied.
    pub fn is_too_large(&self) -> bool {
        match self {
            Self::Request { source: etcd_client::Error::GRpcStatus(status), .. } => {
                status.message().contains("request is too large")
            }
            _ => false,
        }
    }
}

impl Connection {
    /// Connects to etcd. The connection is made lazily: this succeeds while etcd is down, and
    /// requests fail until it is up.
    ///
    /// # Errors
    /// [`EtcdError::NoEndpoints`], or [`EtcdError::Request`] for an endpoint that is not a URL.
    pub async fn connect(endpoints: &[String], options: ConnectOptions) -> Result<Self, EtcdError> {
        if endpoints.is_empty() {
            return Err(EtcdError::NoEndpoints);
        }
        let client_options = ClientOptions::new()
            .with_connect_timeout(options.connect_timeout)
            .with_keep_alive(options.keep_alive, options.keep_alive)
            .with_keep_alive_while_idle(true);
        let client = Client::connect(endpoints, Some(client_options))
            .await
            .map_err(|source| EtcdError::Request { what: "connect", source })?;
        let kv = client.kv_client().max_decoding_message_size(MAX_MESSAGE);
        let watch = client.watch_client().max_decoding_message_size(MAX_MESSAGE);
        let lease = client.lease_client();
        Ok(Self { inner: Arc::new(Inner { client, kv, watch, lease, options }) })
    }

    /// The options it was made with.
    pub fn options(&self) -> ConnectOptions {
        self.inner.options
    }

    /// The etcd client, for requests of the caller's own.
    pub fn client(&self) -> Client {
        self.inner.client.clone()
    }

    /// A KV client (gets, puts, transactions).
    pub(crate) fn kv(&self) -> KvClient {
        self.inner.kv.clone()
    }

    /// A watch client.
    pub(crate) fn watch(&self) -> WatchClient {
        self.inner.watch.clone()
    }

    /// A lease client.
    pub(crate) fn lease(&self) -> LeaseClient {
        self.inner.lease.clone()
    }

    /// Runs one request with the request deadline.
    pub(crate) async fn call<T>(
        &self,
        what: &'static str,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        let timeout = self.inner.options.request_timeout;
        match tokio::time::timeout(timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(EtcdError::Request { what, source }),
            Err(_) => Err(EtcdError::Timeout { what, timeout }),
        }
    }
}
