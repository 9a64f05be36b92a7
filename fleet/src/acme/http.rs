//! The HTTPS client the ACME issuer talks to its CA with: hyper's HTTP/1.1 client over
//! tokio-rustls (ring), trusting exactly the roots configured for the CA (an internal CA's root,
//! pebble's test root), never the system's. One connection per request: an issuance makes about
//! ten, minutes apart at most.
//!
//! Hand-written rather than instant-acme's `hyper-rustls` feature: that feature brings
//! rustls-platform-verifier and the system's native roots, and trusts the first certificate of a
//! PEM file only; this client is the four calls instant-acme's `HttpClient` asks for, on crates
//! already in the tree.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use hyper_util::rt::TokioIo;
use instant_acme::{BodyWrapper, BytesResponse, Error, HttpClient};
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// See the module documentation.
#[derive(Clone)]
pub struct AcmeHttp {
    tls: TlsConnector,
}

impl core::fmt::Debug for AcmeHttp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AcmeHttp").finish_non_exhaustive()
    }
}

impl AcmeHttp {
    /// A client trusting `roots` only.
    pub fn new(roots: rustls::RootCertStore) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap_or_else(|_| unreachable!("ring supports TLS 1.2 and 1.3"))
            .with_root_certificates(roots)
            .with_no_client_auth();
        Self { tls: TlsConnector::from(Arc::new(config)) }
    }

    async fn send(&self, request: http::Request<BodyWrapper<Bytes>>) -> Result<BytesResponse, Error> {
        let other = |e: Box<dyn std::error::Error + Send + Sync>| Error::Other(e);
        let uri = request.uri().clone();
        if uri.scheme_str() != Some("https") {
            return Err(Error::Str("an ACME URL that is not https"));
        }
        let host = uri.host().ok_or(Error::Str("an ACME URL without a host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let tcp = TcpStream::connect((host.as_str(), uri.port_u16().unwrap_or(443)))
            .await
            .map_err(|e| other(Box::new(e)))?;
        let name = ServerName::try_from(host).map_err(|e| other(Box::new(e)))?;
        let tls = self.tls.connect(name, tcp).await.map_err(|e| other(Box::new(e)))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.map_err(|e| other(Box::new(e)))?;
        tokio::spawn(connection);
        let (mut parts, body) = request.into_parts();
        let authority = uri.authority().map(|a| a.as_str().to_owned()).unwrap_or_default();
        parts.uri = uri.path_and_query().map_or("/", |p| p.as_str()).parse()?;
        parts.headers.insert(
            http::header::HOST,
            authority.parse().map_err(|_| Error::Str("an ACME URL with a bad host"))?,
        );
        let response = sender
            .send_request(http::Request::from_parts(parts, body))
            .await
            .map_err(|e| other(Box::new(e)))?;
        Ok(BytesResponse::from(response))
    }
}

impl HttpClient for AcmeHttp {
    fn request(
        &self,
        request: http::Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, Error>> + Send>> {
        let this = self.clone();
        Box::pin(async move { this.send(request).await })
    }
}
