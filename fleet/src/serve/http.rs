//! The key server's routes (axum), served by the crate's accept loop (`http_server`).
//!
//! Documents are looked up in the [`Published`] set the server built for the current state;
//! no request builds one.

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use certslot::{CertType, OffsetDateTime, Scope, Thumbprint};
use serde::Deserialize;
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::http_server::ClientCertificate;
use crate::metrics::FleetCollector;
use crate::serve::status_page::{StatusView, render};

use crate::serve::documents::{DocumentKind, Published};

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

/// A partner's fetch, for the recorder: who, what its document announced, when.
#[derive(Clone, Debug)]
pub(crate) struct Seen {
    pub(crate) partner: String,
    pub(crate) thumbprints: Vec<Thumbprint>,
    pub(crate) at: OffsetDateTime,
}

/// What the handlers read.
#[derive(Clone)]
pub(crate) struct Shared {
    pub(crate) published: watch::Receiver<Option<Arc<Published>>>,
    pub(crate) health: watch::Receiver<Health>,
    pub(crate) signing_type: CertType,
    /// Where partners' fetches go (a full queue drops one: the next fetch tells the same).
    pub(crate) fetches: mpsc::Sender<Seen>,
    pub(crate) clock: Clock,
    /// The state and reports the status page shows.
    pub(crate) fleet: FleetCollector,
    pub(crate) cluster: String,
}

/// The routes.
pub(crate) fn router(shared: Shared) -> Router {
    Router::new()
        .route("/.well-known/jwks.json", get(jwks))
        .route("/metadata/json/1", get(metadata))
        .route("/p/{token}/jwks.json", get(partner_jwks))
        .route("/p/{token}/metadata/json/1", get(partner_metadata))
        .route("/", get(status))
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
    peer: Option<Extension<ClientCertificate>>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    public_document(&state, peer, query, &headers, DocumentKind::Jwks)
}

async fn metadata(
    state: State<Shared>,
    peer: Option<Extension<ClientCertificate>>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    public_document(&state, peer, query, &headers, DocumentKind::Metadata)
}

/// A document at its public path; fetched with the client certificate of a partner (mutual
/// TLS), recorded as that partner's fetch.
fn public_document(
    shared: &Shared,
    peer: Option<Extension<ClientCertificate>>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: &HeaderMap,
    kind: DocumentKind,
) -> Response {
    let slot = slot_of(shared, query);
    let response = document(shared, slot.clone(), headers, kind);
    if let Some(Extension(peer)) = peer {
        let published = shared.published.borrow().clone();
        if let Some(published) = published {
            if let Some(partner) = published.partner_by_credential(&peer.credential) {
                record(shared, &published, partner, &response, slot);
            }
        }
    }
    response
}

/// Hands a partner's fetch to the recorder when it was answered with the document (200) or
/// its tag (304).
fn record(
    shared: &Shared,
    published: &Published,
    partner: &str,
    response: &Response,
    slot: Result<(CertType, Scope), String>,
) {
    let served = matches!(response.status(), StatusCode::OK | StatusCode::NOT_MODIFIED);
    if let (true, Ok((cert_type, scope))) = (served, slot) {
        if let Some(announced) = published.announced(&cert_type, &scope) {
            let seen =
                Seen { partner: partner.to_owned(), thumbprints: announced.to_vec(), at: shared.clock.now() };
            let _ = shared.fetches.try_send(seen);
        }
    }
}

async fn partner_jwks(
    state: State<Shared>,
    Path(token): Path<String>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    partner_document(&state, &token, query, &headers, DocumentKind::Jwks)
}

async fn partner_metadata(
    state: State<Shared>,
    Path(token): Path<String>,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: HeaderMap,
) -> Response {
    partner_document(&state, &token, query, &headers, DocumentKind::Metadata)
}

/// A document through a partner's URL: as [`document`], and the fetch recorded for the partner.
/// A token no partner holds (wrong, revoked) is 404, as any unknown path.
fn partner_document(
    shared: &Shared,
    token: &str,
    query: Result<Query<SlotQuery>, QueryRejection>,
    headers: &HeaderMap,
    kind: DocumentKind,
) -> Response {
    let published = shared.published.borrow().clone();
    let Some(partner) = published.as_ref().and_then(|p| p.partner_for(token)).map(str::to_owned) else {
        return text(StatusCode::NOT_FOUND, "not found\n".into());
    };
    let slot = slot_of(shared, query);
    let response = document(shared, slot.clone(), headers, kind);
    if let Some(published) = &published {
        record(shared, published, &partner, &response, slot);
    }
    response
}

/// A document with its `ETag` and `Cache-Control`, or 304 when `If-None-Match` names it.
fn document(
    shared: &Shared,
    slot: Result<(CertType, Scope), String>,
    headers: &HeaderMap,
    kind: DocumentKind,
) -> Response {
    let (cert_type, scope) = match slot {
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

/// The status page (see `status_page`).
async fn status(State(shared): State<Shared>) -> Response {
    let (state, reports) = shared.fleet.snapshot();
    let Some((store, revision)) = state else {
        return text(StatusCode::SERVICE_UNAVAILABLE, "no state read yet\n".into());
    };
    let ready = match shared.health.borrow().clone() {
        Health::Ready { .. } => "ready".to_owned(),
        Health::Starting => "starting".to_owned(),
        Health::NotReady(why) => format!("not ready: {why}"),
    };
    let view = StatusView {
        cluster: &shared.cluster,
        store: &store,
        revision,
        reports: reports.as_deref().map(Vec::as_slice),
        ready: &ready,
        at: shared.clock.instant_for(&store),
    };
    let mut response = render(&view).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
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
