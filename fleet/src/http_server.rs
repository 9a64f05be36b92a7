//! The accept loop of the crate's HTTP servers (the key server, the metrics endpoint):
//! hyper-util's HTTP/1.1 and HTTP/2 server, behind rustls or on plain TCP, with a cap on open
//! connections, a deadline on handshakes and request headers, and a graceful stop.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::serve::ServerTls;

/// The client certificate a TLS connection presented, as a partner's credential:
/// `cert-sha256:` and the lowercase hex SHA-256 of its DER.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ClientCertificate {
    pub(crate) credential: String,
}

impl ClientCertificate {
    pub(crate) fn of(der: &rustls_pki_types::CertificateDer<'_>) -> Self {
        Self { credential: certificate_credential(der) }
    }
}

/// The credential of a partner known by its client certificate (DER).
pub(crate) fn certificate_credential(der: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    let hex: String = Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect();
    format!("cert-sha256:{hex}")
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
        let watcher = graceful.watcher();
        let (builder, tls, router) = (builder.clone(), tls.as_ref().map(ServerTls::acceptor), router.clone());
        tokio::spawn(async move {
            let _permit = permit;
            match tls {
                Some(acceptor) => {
                    let Ok(Ok(stream)) = tokio::time::timeout(limits.deadline, acceptor.accept(stream)).await
                    else {
                        return;
                    };
                    // A client certificate (optional mutual TLS) goes with every request of the
                    // connection.
                    let peer = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|c| c.first())
                        .map(ClientCertificate::of);
                    let service = match peer {
                        Some(peer) => TowerToHyperService::new(router.layer(axum::Extension(peer))),
                        None => TowerToHyperService::new(router),
                    };
                    let _ = watcher
                        .watch(builder.serve_connection(TokioIo::new(stream), service).into_owned())
                        .await;
                }
                None => {
                    let service = TowerToHyperService::new(router);
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
