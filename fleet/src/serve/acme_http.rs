//! ACME http-01 answers: the CA fetches `http://<name>/.well-known/acme-challenge/<token>` on
//! port 80 (RFC 8555 8.3), and the key server answers with the key authorization a coordinator
//! published in etcd for that token (`/certslot/<cluster>/acme-http-01/<token>`), read at each
//! request so a token answers as soon as it is published, from any key server of the fleet
//! behind the names. On a plain-HTTP listener of its own (`certslot-fleet serve
//! --acme-http-listen`, where nothing else is served: everything else is 404), and on the key
//! server's HTTPS listener too, for a port 80 that redirects to it (CAs follow the redirect).
//! Needs only read access (the key server's role).

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::acme::is_token;
use crate::etcd::{Cluster, Connection};
use crate::http_server::{Limits, serve};

#[derive(Clone)]
struct Answers {
    conn: Connection,
    cluster: Cluster,
}

/// The route of the http-01 answers of `cluster`.
pub(crate) fn acme_challenges(conn: Connection, cluster: Cluster) -> Router {
    Router::new()
        .route("/.well-known/acme-challenge/{token}", get(answer))
        .with_state(Answers { conn, cluster })
}

/// Serves the http-01 answers of `cluster` on `listener` (plain HTTP) until `stop` is
/// cancelled.
pub async fn serve_acme_http01(
    listener: TcpListener,
    conn: Connection,
    cluster: Cluster,
    stop: CancellationToken,
) {
    let router = acme_challenges(conn, cluster);
    let limits = Limits { connections: 256, deadline: Duration::from_secs(10) };
    serve(listener, None, router, limits, stop).await;
}

async fn answer(State(answers): State<Answers>, Path(token): Path<String>) -> Response {
    if !is_token(&token) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let key = answers.cluster.acme_challenge_key(&token);
    let got = answers
        .conn
        .call("read an http-01 answer", |mut c| {
            let key = key.clone();
            async move { c.kv.get(key, None).await }
        })
        .await;
    match got {
        Ok(response) => match response.kvs().first() {
            Some(kv) => {
                ([(header::CONTENT_TYPE, "application/octet-stream")], kv.value().to_vec()).into_response()
            }
            None => StatusCode::NOT_FOUND.into_response(),
        },
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "etcd unavailable\n").into_response(),
    }
}
