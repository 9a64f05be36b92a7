//! The key server's HTTP side: the routes (axum) and the accept loop (hyper-util's HTTP/1.1 and
//! HTTP/2 server, behind rustls or on plain TCP), with a cap on open connections, a deadline on
//! handshakes and request headers, and a graceful stop.
//!
//! Documents are looked up in the [`Published`] set the server built for the current state;
//! no request builds one.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use certslot::{CertType, Scope};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;

use crate::serve::documents::{DocumentKind, Published};
use crate::serve::tls::ServerTls;

/// What `/readyz` says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Health {
    /// No state read yet.
    Starting,
    /// The documents of the state at this etcd revision are served, and the watch is current.
    Ready { revision: i64 },
    /// Not ready, and why (the last documents, if any, are still served).
    NotReady(String),
}

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) published: watch::Receiver<Option<Arc<Published>>>,
    pub(crate) health: watch::Receiver<Health>,
    pub(crate) signing_type: CertType,
}

/// The routes.
pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metadata/json/1", get(metadata))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(shared)
}

/// `?type=` and `?scope=` of a document's URL.
#[derive(Deserialize)]
struct SlotQuery {
    #[serde(rename = "type")]
    cert_type: Option<String>,
    scope: Option<String>,
}

async fn jwks(
    state: State<Shared>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    document(&state, query, &headers, DocumentKind::Jwks)
}

async fn metadata(
    state: State<Shared>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    document(&state, query, &headers, DocumentKind::Metadata)
}

/// A document with its `ETag` and `Cache-Control`, or 304 when `If-None-Match` names it.
fn document(
    shared: &Shared,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: &HeaderMap,
    kind: DocumentKind,
) -> Response {
    let (cert_type, scope) = match slot_of(shared, query) {
        Ok(slot) => slot,
        Err(message) => return text(StatusCode::BAD_REQUEST, message),
    };
    let published = shared.published.borrow().clone();
    let Some(published) = published else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no state read yet\n".into());
    };
    let document = match published.document(&cert_type, &scope, kind) {
        None => return text(StatusCode::NOT_FOUND, format!("no {cert_type} slot at {scope}\n")),
        Some(Err(why)) => return text(StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
        Some(Ok(document)) => document,
    };
    let freshness = document.freshness();
    let mut response = match headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) {
        Some(tags) if freshness.matches(tags) => StatusCode::NOT_MODIFIED.into_response(),
        _ => {
            let mut response = document.body().clone().into_response();
            response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
    };
    let out = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(freshness.etag()) {
        out.insert(header::ETAG, etag);
    }
    if let Ok(cache) = HeaderValue::from_str(&freshness.cache_control()) {
        out.insert(header::CACHE_CONTROL, cache);
    }
    response
}

/// The slot a query names: the signing type at `global` by default.
fn slot_of(
    shared: &Shared,
    query: Result<Query<SlotQuery>, QueryRejection>,
) -> Result<(CertType, Scope), String> {
    let Query(query) = query.map_err(|_| "the query is not type=TYPE&scope=SCOPE\n")?;
    let cert_type = match query.cert_type {
        Some(text) => text.parse().map_err(|e| format!("type: {e}\n"))?,
        None => shared.signing_type.clone(),
    };
    let scope = match query.scope {
        Some(text) => text.parse().map_err(|e| format!("scope: {e}\n"))?,
        None => Scope::Global,
    };
    Ok((cert_type, scope))
}

async fn readyz(State(shared): State<Shared>) -> Response {
    let health = shared.health.borrow().clone();
    match health {
        Health::Ready { revision } => {
            text(StatusCode::OK, format!("ready: the state at etcd revision {revision}\n"))
        }
        Health::Starting => text(StatusCode::SERVICE_UNAVAILABLE, "starting: no state read yet\n".into()),
        Health::NotReady(why) => text(StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

/// Limits of the accept loop.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Connections open at once; more wait to be accepted.
    pub(crate) connections: usize,
    /// How long a TLS handshake, and the headers of a request, may take.
    pub(crate) deadline: Duration,
}

/// Accepts connections on `listener` (TLS when `tls` is given) and serves `router` on each until
/// `stop` is cancelled; then lets open connections finish their requests, for at most
/// `limits.deadline`.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<ServerTls>,
    router: Router,
    limits: Limits,
    stop: CancellationToken,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new()).header_read_timeout(limits.deadline);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.connections.max(1)));
    loop {
        let permit = tokio::select! {
            () = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = stop.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of descriptors, a connection reset before it was accepted: try again
                // shortly rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(router.clone());
        let watcher = graceful.watcher();
        let (builder, tls) = (builder.clone(), tls.as_ref().map(ServerTls::acceptor));
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.deadline, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service).into_owned())
                        .await;
                }
                None => {
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service).into_owned())
                        .await;
                }
            }
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(limits.deadline, graceful.shutdown()).await;
}
