//! The connection to etcd: a client over one or more endpoints, every request with a deadline,
//! and [`EtcdError`], which says which request failed and how.
//!
//! The client reconnects by itself: a request made while etcd is down fails at once (connection
//! refused) or at its deadline, and the next one after etcd is back succeeds. Callers decide how
//! long to keep trying.

use core::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions as ClientOptions, KvClient, LeaseClient, WatchClient};

use super::tls::{Tls, TlsError};

/// The largest message the clients accept from etcd (gRPC's default is 4 MiB; a state larger
/// than that is refused by etcd's own request limit first unless an operator raised it).
const MAX_MESSAGE: usize = 256 << 20;

/// How to reach etcd.
///
/// Default: 3 s to connect, 5 s for each request, HTTP/2 keep-alive pings every 5 s (a watch on
/// a dead connection fails within 10 s instead of waiting forever); `https://` endpoints only,
/// which need [`ConnectOptions::tls`]. Plain `http://` endpoints are refused unless
/// [`ConnectOptions::insecure_plaintext`] allows them: over plain HTTP anyone on the path reads
/// the sealed state and writes whatever etcd lets an unauthenticated client write.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    connect_timeout: Duration,
    request_timeout: Duration,
    keep_alive: Duration,
    tls: Option<Tls>,
    plaintext: bool,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(3),
            request_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(5),
            tls: None,
            plaintext: false,
        }
    }
}

impl ConnectOptions {
    /// Sets how long connecting to an endpoint may take.
    #[must_use]
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self { connect_timeout: timeout, ..self }
    }

    /// Sets how long one request may take before it fails with [`EtcdError::Timeout`].
    #[must_use]
    pub fn request_timeout(self, timeout: Duration) -> Self {
        Self { request_timeout: timeout, ..self }
    }

    /// Sets the interval of HTTP/2 keep-alive pings (and how long one may go unanswered).
    #[must_use]
    pub fn keep_alive(self, interval: Duration) -> Self {
        Self { keep_alive: interval, ..self }
    }

    /// Secures `https://` endpoints with `tls`: the CA of etcd's certificates and the client
    /// certificate to authenticate with.
    #[must_use]
    pub fn tls(self, tls: Tls) -> Self {
        Self { tls: Some(tls), ..self }
    }

    /// Allows plain `http://` endpoints: no encryption, no authentication of etcd or of this
    /// client. For a test etcd on loopback only.
    #[must_use]
    pub fn insecure_plaintext(self, allow: bool) -> Self {
        Self { plaintext: allow, ..self }
    }

    /// The request deadline.
    pub fn request_timeout_value(&self) -> Duration {
        self.request_timeout
    }

    /// The TLS settings, if any.
    pub fn tls_value(&self) -> Option<&Tls> {
        self.tls.as_ref()
    }
}

/// A connection to an etcd cluster: one client per endpoint, a request sent to the endpoint that
/// last answered and, when that one is unreachable or does not answer in time, to the next, until
/// every endpoint was tried once. Cheap to clone; clones share the
/// clients and the preferred endpoint.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

struct Inner {
    /// The first endpoint's clients (a connection has at least one endpoint).
    first: Clients,
    /// The other endpoints' clients, in the order given.
    others: Vec<Clients>,
    /// The endpoint tried first: the last that answered.
    preferred: AtomicUsize,
    options: ConnectOptions,
}

/// The clients of one endpoint, handed to a request ([`Connection::call`]).
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) client: Client,
    /// KV requests: gets, puts, transactions.
    pub(crate) kv: KvClient,
    /// Watches.
    pub(crate) watch: WatchClient,
    /// Leases.
    pub(crate) lease: LeaseClient,
}

impl core::fmt::Debug for Connection {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Connection")
            .field("endpoints", &self.count())
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

/// Why a request to etcd failed, by the cause an operator acts on. etcd's gRPC status code says
/// which (see [`EtcdError::from_client`]); an error of the connection itself is
/// [`EtcdError::Unavailable`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EtcdError {
    /// No endpoint was given.
    #[error("no etcd endpoint given")]
    NoEndpoints,
    /// etcd could not be reached, or said it cannot serve now (no leader, shutting down): worth
    /// trying again, on this endpoint or another.
    #[error("etcd {what}: unavailable: {source}")]
    Unavailable {
        /// The request.
        what: &'static str,
        /// The client's error.
        #[source]
        source: etcd_client::Error,
    },
    /// A plain `http://` endpoint while [`ConnectOptions::insecure_plaintext`] is off.
    #[error(
        "etcd endpoint {endpoint} is plain HTTP: traffic unencrypted and unauthenticated; use https:// with a CA file, or allow plaintext explicitly (--insecure-plaintext)"
    )]
    PlaintextRefused {
        /// The endpoint.
        endpoint: String,
    },
    /// An `https://` endpoint without [`ConnectOptions::tls`].
    #[error("etcd endpoint {endpoint} is https:// but no CA certificate is configured (--ca-file)")]
    TlsNotConfigured {
        /// The endpoint.
        endpoint: String,
    },
    /// The TLS settings cannot be used.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The TLS handshake failed: etcd's certificate does not chain to the CA or does not name
    /// the endpoint, or etcd refused this client's certificate (missing, or from another CA).
    /// Not retried: it fails the same way until a certificate changes.
    #[error("etcd {what}: TLS handshake refused ({message})")]
    TlsRejected {
        /// The request.
        what: &'static str,
        /// rustls's error.
        message: String,
    },
    /// etcd did not answer within the request deadline.
    #[error("etcd {what}: no answer within {timeout:?}")]
    Timeout {
        /// The request.
        what: &'static str,
        /// The deadline.
        timeout: Duration,
    },
    /// etcd's authentication is on and the request's user may not do this (gRPC
    /// `PERMISSION_DENIED`): grant the user a role with access to the cluster's keys.
    #[error(
        "etcd {what}: permission denied ({message}); the etcd user needs a role granting read and write on the cluster's keys"
    )]
    PermissionDenied {
        /// The request.
        what: &'static str,
        /// etcd's message.
        message: String,
    },
    /// etcd did not accept the credentials or token (gRPC `UNAUTHENTICATED`): check the user
    /// name and password, or the client certificate.
    #[error(
        "etcd {what}: not authenticated ({message}); check the etcd user and password or the client certificate"
    )]
    Unauthenticated {
        /// The request.
        what: &'static str,
        /// etcd's message.
        message: String,
    },
    /// etcd refused the request as larger than it accepts (its `--max-request-bytes`, or gRPC's
    /// message limit): nothing of it was applied.
    #[error(
        "etcd {what}: request too large ({message}); raise etcd's --max-request-bytes or make the state smaller"
    )]
    TooLarge {
        /// The request.
        what: &'static str,
        /// etcd's message.
        message: String,
    },
    /// A lease the request names does not exist (expired or revoked; gRPC `NOT_FOUND`): nothing
    /// of the request was applied.
    #[error("etcd {what}: lease not found (expired or revoked)")]
    LeaseNotFound {
        /// The request.
        what: &'static str,
    },
    /// etcd refused the request for another reason.
    #[error("etcd {what}: {source}")]
    Request {
        /// The request.
        what: &'static str,
        /// The client's error.
        #[source]
        source: etcd_client::Error,
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

/// etcd's messages for answers it sends with the gRPC code `INVALID_ARGUMENT`, which it also
/// uses for malformed requests, so these are told apart by their text (etcd's
/// `rpctypes.ErrGRPCRequestTooLarge` and `ErrGRPCUserEmpty`, the answer to a request without
/// credentials once authentication is on).
const REQUEST_TOO_LARGE: &str = "etcdserver: request is too large";
const USER_EMPTY: &str = "etcdserver: user name is empty";
/// etcd's `ErrGRPCAuthOldRevision`: the roles changed (`access setup`, say) while the request was
/// on its way, and etcd asks for it again; nothing of it was applied.
const AUTH_OLD_REVISION: &str = "etcdserver: revision of auth store is old";

impl EtcdError {
    /// The error of request `what` from the client's error, by its gRPC status code.
    pub fn from_client(what: &'static str, source: etcd_client::Error) -> Self {
        use tonic::Code;
        let cause: &(dyn std::error::Error + 'static) = match &source {
            etcd_client::Error::GRpcStatus(status) => status,
            etcd_client::Error::TransportError(transport) => transport,
            etcd_client::Error::IoError(io) => io,
            other => other,
        };
        if let Some(message) = tls_refusal(cause) {
            return Self::TlsRejected { what, message };
        }
        let status = match &source {
            etcd_client::Error::GRpcStatus(status) => status,
            etcd_client::Error::TransportError(_) | etcd_client::Error::IoError(_) => {
                return Self::Unavailable { what, source };
            }
            // The keep-alive stream reports a missing lease as text, not as a status.
            etcd_client::Error::LeaseKeepAliveError(message) if message.contains("lease not found") => {
                return Self::LeaseNotFound { what };
            }
            _ => return Self::Request { what, source },
        };
        // A status with an error of its own was made by the client from a failed connection
        // (tonic's "transport error"), not sent by etcd.
        if std::error::Error::source(status).is_some() {
            return Self::Unavailable { what, source };
        }
        let message = status.message().to_owned();
        match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled => {
                Self::Unavailable { what, source }
            }
            Code::PermissionDenied => Self::PermissionDenied { what, message },
            Code::Unauthenticated => Self::Unauthenticated { what, message },
            Code::ResourceExhausted => Self::TooLarge { what, message },
            Code::InvalidArgument if message == REQUEST_TOO_LARGE => Self::TooLarge { what, message },
            Code::InvalidArgument if message == USER_EMPTY => Self::Unauthenticated { what, message },
            Code::InvalidArgument if message == AUTH_OLD_REVISION => Self::Unavailable { what, source },
            // etcd's KV, lease and watch services answer NOT_FOUND for a missing lease only.
            Code::NotFound => Self::LeaseNotFound { what },
            _ => Self::Request { what, source },
        }
    }

    /// True when another endpoint may answer where this one did not: [`EtcdError::is_retryable`],
    /// or a TLS handshake this endpoint refused.
    fn is_endpoint_failure(&self) -> bool {
        self.is_retryable() || matches!(self, Self::TlsRejected { .. })
    }

    /// True when trying again may succeed: etcd was unreachable, unavailable or too slow. A
    /// refusal (permissions, authentication, size, a missing lease) is not retried.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable { .. } | Self::Timeout { .. })
    }

    /// True when etcd refused the request because a lease it names does not exist (expired or
    /// revoked): nothing of the request was applied.
    pub fn is_lease_not_found(&self) -> bool {
        matches!(self, Self::LeaseNotFound { .. })
    }

    /// True when etcd refused the request as too large: nothing of it was applied.
    pub fn is_too_large(&self) -> bool {
        matches!(self, Self::TooLarge { .. })
    }
}

impl Connection {
    /// Connects to etcd, one client per endpoint. The connections are made lazily: this succeeds
    /// while etcd is down, and requests fail until it is up.
    ///
    /// # Errors
    /// [`EtcdError::NoEndpoints`]; [`EtcdError::PlaintextRefused`] for an `http://` endpoint
    /// (or one without a scheme) unless plaintext is allowed, [`EtcdError::TlsNotConfigured`]
    /// for an `https://` one without TLS settings; [`EtcdError::Request`] for an endpoint that
    /// is not a URL.
    pub async fn connect(endpoints: &[String], options: ConnectOptions) -> Result<Self, EtcdError> {
        if endpoints.is_empty() {
            return Err(EtcdError::NoEndpoints);
        }
        let mut clients = Vec::with_capacity(endpoints.len());
        for endpoint in endpoints {
            let mut client_options = ClientOptions::new()
                .with_connect_timeout(options.connect_timeout)
                .with_keep_alive(options.keep_alive, options.keep_alive)
                .with_keep_alive_while_idle(true);
            if endpoint.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
                let tls = options
                    .tls
                    .as_ref()
                    .ok_or_else(|| EtcdError::TlsNotConfigured { endpoint: endpoint.clone() })?;
                client_options = client_options.with_tls(tls.client_config());
            } else if !options.plaintext {
                return Err(EtcdError::PlaintextRefused { endpoint: endpoint.clone() });
            }
            let client = Client::connect([endpoint], Some(client_options))
                .await
                .map_err(|source| EtcdError::from_client("connect", source))?;
            let kv = client.kv_client().max_decoding_message_size(MAX_MESSAGE);
            let watch = client.watch_client().max_decoding_message_size(MAX_MESSAGE);
            let lease = client.lease_client();
            clients.push(Clients { client, kv, watch, lease });
        }
        let mut clients = clients.into_iter();
        let first = clients.next().ok_or(EtcdError::NoEndpoints)?;
        let inner = Inner { first, others: clients.collect(), preferred: AtomicUsize::new(0), options };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The options it was made with.
    pub fn options(&self) -> &ConnectOptions {
        &self.inner.options
    }

    /// The etcd client of the endpoint that last answered, for requests of the caller's own.
    pub fn client(&self) -> Client {
        self.endpoint(self.inner.preferred.load(Ordering::Relaxed)).client.clone()
    }

    /// The number of endpoints.
    fn count(&self) -> usize {
        1 + self.inner.others.len()
    }

    /// The clients of endpoint `index` (modulo their number; 0 is the first given).
    fn endpoint(&self, index: usize) -> &Clients {
        match index % self.count() {
            0 => &self.inner.first,
            i => self.inner.others.get(i - 1).unwrap_or(&self.inner.first),
        }
    }

    /// Runs one request with the request deadline, made by `request` from an endpoint's
    /// clients: on the endpoint that last answered, and while the answer is
    /// [`EtcdError::is_retryable`] (unreachable, unavailable, too slow), on each other endpoint
    /// in turn. The endpoint that answers is tried first next time. A request may so reach etcd
    /// twice when a first answer was lost: every caller's request is safe to repeat (updates
    /// carry a receipt, creations compare the value, reports and leases are idempotent).
    pub(crate) async fn call<T, F, R>(&self, what: &'static str, mut request: F) -> Result<T, EtcdError>
    where
        F: FnMut(Clients) -> R,
        R: Future<Output = Result<T, etcd_client::Error>>,
    {
        let count = self.count();
        let first = self.inner.preferred.load(Ordering::Relaxed) % count;
        let mut last = EtcdError::NoEndpoints;
        for step in 0..count {
            let index = (first + step) % count;
            match self.within(what, request(self.endpoint(index).clone())).await {
                Ok(value) => {
                    self.inner.preferred.store(index, Ordering::Relaxed);
                    return Ok(value);
                }
                Err(e) if e.is_endpoint_failure() => {
                    // The next request starts at the next endpoint.
                    let _ = self.inner.preferred.compare_exchange(
                        index,
                        (index + 1) % count,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Waits for a request already bound to an endpoint (a message on a stream) with the
    /// request deadline.
    pub(crate) async fn within<T>(
        &self,
        what: &'static str,
        request: impl Future<Output = Result<T, etcd_client::Error>>,
    ) -> Result<T, EtcdError> {
        let timeout = self.inner.options.request_timeout;
        match tokio::time::timeout(timeout, request).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(source)) => Err(EtcdError::from_client(what, source)),
            Err(_) => Err(EtcdError::Timeout { what, timeout }),
        }
    }
}

/// rustls's error, as text, when `error` is a TLS handshake that failed (a certificate refused by
/// either side). tokio-rustls hands rustls's errors up inside `std::io::Error`, whose `source`
/// skips the error it wraps, so the chain is walked through `get_ref` too; an alert etcd sent
/// after the handshake (TLS 1.3 checks the client's certificate then) arrives as rustls's text
/// only, `received fatal alert: ...`, in an `InvalidData` I/O error.
fn tls_refusal(error: &(dyn std::error::Error + 'static)) -> Option<String> {
    const ALERT: &str = "received fatal alert: ";
    let mut next = Some(error);
    let mut depth = 0;
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls.to_string());
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            if let Some(found) = io.get_ref().and_then(|inner| tls_refusal(inner)) {
                return Some(found);
            }
            let text = io.get_ref().map(ToString::to_string).unwrap_or_default();
            if io.kind() == std::io::ErrorKind::InvalidData && text.starts_with(ALERT) {
                return Some(text);
            }
        }
        depth += 1;
        // Error chains are short; a cycle would be a bug elsewhere, not a reason to hang.
        next = if depth < 32 { e.source() } else { None };
    }
    None
}

#[cfg(test)]
mod tests {
    use tonic::{Code, Status};

    use super::*;

    fn status(code: Code, message: &str) -> EtcdError {
        EtcdError::from_client("update", etcd_client::Error::GRpcStatus(Status::new(code, message)))
    }

    #[test]
    fn etcd_refusals_are_typed_by_their_status_code() {
        let e = status(Code::PermissionDenied, "etcdserver: permission denied");
        assert!(
            matches!(&e, EtcdError::PermissionDenied { what: "update", message } if message == "etcdserver: permission denied")
        );
        assert_eq!(
            e.to_string(),
            "etcd update: permission denied (etcdserver: permission denied); the etcd user needs a role \
             granting read and write on the cluster's keys"
        );
        assert!(!e.is_retryable());
        let e = status(Code::Unauthenticated, "etcdserver: invalid auth token");
        assert!(matches!(e, EtcdError::Unauthenticated { .. }) && !e.is_retryable());
        let e = status(Code::InvalidArgument, "etcdserver: user name is empty");
        assert!(matches!(e, EtcdError::Unauthenticated { .. }));
        let e = status(Code::InvalidArgument, "etcdserver: revision of auth store is old");
        assert!(matches!(e, EtcdError::Unavailable { .. }) && e.is_retryable());
        let e = status(Code::InvalidArgument, "etcdserver: request is too large");
        assert!(e.is_too_large() && !e.is_retryable());
        assert!(status(Code::ResourceExhausted, "grpc: received message larger than max").is_too_large());
        let e = status(Code::NotFound, "etcdserver: requested lease not found");
        assert!(e.is_lease_not_found() && !e.is_retryable());
        assert_eq!(e.to_string(), "etcd update: lease not found (expired or revoked)");
        for code in [Code::Unavailable, Code::DeadlineExceeded, Code::Cancelled] {
            assert!(
                matches!(status(code, "etcdserver: no leader"), EtcdError::Unavailable { .. }),
                "{code:?}"
            );
        }
        let e = status(Code::InvalidArgument, "etcdserver: key is not provided");
        assert!(matches!(e, EtcdError::Request { .. }) && !e.is_retryable());
        let e = EtcdError::from_client(
            "keep-alive",
            etcd_client::Error::LeaseKeepAliveError("lease not found".into()),
        );
        assert!(e.is_lease_not_found());
        let broken = std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stream closed");
        let transport = Status::from_error(Box::new(broken));
        assert_eq!(transport.code(), Code::Unknown);
        let e = EtcdError::from_client("update", etcd_client::Error::GRpcStatus(transport));
        assert!(matches!(e, EtcdError::Unavailable { .. }), "{e:?}");
        assert!(EtcdError::Timeout { what: "read", timeout: Duration::from_secs(5) }.is_retryable());
    }
}
