//! The key server's own certificate: a PEM chain and its private key, read at start and again
//! whenever either file changes ([`ServerTls::reload_if_changed`], which the server calls every
//! few seconds), so a renewed certificate is served without a restart. A pair that does not load
//! (half written, the key of another certificate) leaves the one in use in place.
//!
//! rustls (ring) makes the handshakes: TLS 1.3, and TLS 1.2 for the verifiers that have nothing
//! newer (Windows Server 2012 R2's Lync and Exchange); HTTP/2 and HTTP/1.1 by ALPN.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::SystemTime;

use rustls::ServerConfig;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;
use zeroize::Zeroizing;

/// Why the server's certificate cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerTlsError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// Its path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path}: no PEM certificate found")]
    NoCertificate {
        /// Its path.
        path: PathBuf,
    },
    /// The key file holds no PEM private key (PKCS #8, PKCS #1 or SEC 1).
    #[error("{path}: no PEM private key found (PKCS #8, PKCS #1 RSA or SEC 1 EC)")]
    NoKey {
        /// Its path.
        path: PathBuf,
    },
    /// The key is not the certificate's (a renewal half written).
    #[error("the key in {key} is not the key of the certificate in {cert}")]
    KeyMismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
    },
    /// The CA file for client certificates holds no certificate rustls takes as a trust anchor.
    #[error("{path}: no CA certificate for client certificates: {reason}")]
    ClientCa {
        /// Its path.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// rustls refused the pair: a key type it cannot sign with.
    #[error("{cert} with {key}: {source}")]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        #[source]
        source: rustls::Error,
    },
}

/// The files' identity as last loaded: each one's modification time and length.
type Stamp = [(Option<SystemTime>, u64); 2];

/// The server's certificate and key files, and the TLS configuration that serves them.
#[derive(Clone)]
pub struct ServerTls {
    cert_file: PathBuf,
    key_file: PathBuf,
    resolver: Arc<Reloading>,
    config: Arc<ServerConfig>,
    stamp: Arc<Mutex<Stamp>>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls")
            .field("cert_file", &self.cert_file)
            .field("key_file", &self.key_file)
            .finish_non_exhaustive()
    }
}

/// Hands every handshake the pair loaded last.
#[derive(Debug)]
struct Reloading(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
    }
}

impl ServerTls {
    /// Loads the certificate chain (PEM, leaf first) and its private key (PEM).
    ///
    /// # Errors
    /// [`ServerTlsError`]: a file missing or unreadable, no certificate or key in it, or a
    /// key rustls refuses or that is not the certificate's.
    pub fn from_files(cert_file: &Path, key_file: &Path) -> Result<Self, ServerTlsError> {
        Self::with_client_ca(cert_file, key_file, None)
    }

    /// As [`ServerTls::from_files`], and with `client_ca` (PEM) asks clients for a certificate
    /// it issued (optional mutual TLS): a client may present none, and one that presents a
    /// certificate the CA did not issue is refused at the handshake. The key server takes a
    /// presented certificate as its partner's credential.
    ///
    /// # Errors
    /// As [`ServerTls::from_files`], and [`ServerTlsError::ClientCa`].
    pub fn with_client_ca(
        cert_file: &Path,
        key_file: &Path,
        client_ca: Option<&Path>,
    ) -> Result<Self, ServerTlsError> {
        let stamp = stamp_of(cert_file, key_file);
        let pair = load(cert_file, key_file)?;
        let resolver = Arc::new(Reloading(RwLock::new(Arc::new(pair))));
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|source| ServerTlsError::Refused {
                cert: cert_file.to_owned(),
                key: key_file.to_owned(),
                source,
            })?;
        let builder = match client_ca {
            None => builder.with_no_client_auth(),
            Some(path) => {
                let refused = |reason: String| ServerTlsError::ClientCa { path: path.to_owned(), reason };
                let mut roots = rustls::RootCertStore::empty();
                for cert in CertificateDer::pem_slice_iter(&read(path)?).filter_map(Result::ok) {
                    roots.add(cert).map_err(|e| refused(e.to_string()))?;
                }
                let verifier =
                    rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .allow_unauthenticated()
                        .build()
                        .map_err(|e| refused(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder.with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            cert_file: cert_file.to_owned(),
            key_file: key_file.to_owned(),
            resolver,
            config: Arc::new(config),
            stamp: Arc::new(Mutex::new(stamp)),
        })
    }

    /// Loads the files again when either one's modification time or length changed since they
    /// were last loaded: `Ok(true)` when the new pair is now served, `Ok(false)` when nothing
    /// changed.
    ///
    /// # Errors
    /// As [`ServerTls::from_files`]; the pair in use stays, and the same files are tried again
    /// at the next call.
    pub fn reload_if_changed(&self) -> Result<bool, ServerTlsError> {
        let stamp = stamp_of(&self.cert_file, &self.key_file);
        let mut last = self.stamp.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if *last == stamp {
            return Ok(false);
        }
        let pair = load(&self.cert_file, &self.key_file)?;
        *self.resolver.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(pair);
        *last = stamp;
        Ok(true)
    }

    /// The acceptor of TLS connections with the pair loaded last.
    pub fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

/// The credential of a partner known by its client certificate: the first certificate of a PEM
/// file, as `cert-sha256:` and the lowercase hex SHA-256 of its DER (what `partners add
/// --client-cert` keeps in the state).
///
/// # Errors
/// [`ServerTlsError::File`], or [`ServerTlsError::NoCertificate`] for a file without one.
pub fn client_certificate_credential(file: &Path) -> Result<String, ServerTlsError> {
    let pem = read(file)?;
    let cert = CertificateDer::pem_slice_iter(&pem)
        .find_map(Result::ok)
        .ok_or_else(|| ServerTlsError::NoCertificate { path: file.to_owned() })?;
    Ok(crate::http_server::certificate_credential(&cert))
}

fn stamp_of(cert_file: &Path, key_file: &Path) -> Stamp {
    [cert_file, key_file].map(|path| match fs::metadata(path) {
        Ok(meta) => (meta.modified().ok(), meta.len()),
        Err(_) => (None, 0),
    })
}

fn read(path: &Path) -> Result<Zeroizing<Vec<u8>>, ServerTlsError> {
    fs::read(path)
        .map(Zeroizing::new)
        .map_err(|source| ServerTlsError::File { path: path.to_owned(), source })
}

fn load(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, ServerTlsError> {
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(&read(cert_file)?).filter_map(Result::ok).collect();
    if certs.is_empty() {
        return Err(ServerTlsError::NoCertificate { path: cert_file.to_owned() });
    }
    let key = PrivateKeyDer::from_pem_slice(&read(key_file)?)
        .map_err(|_| ServerTlsError::NoKey { path: key_file.to_owned() })?;
    // Loads the key and checks that it is the certificate's.
    CertifiedKey::from_der(certs, key, &rustls::crypto::ring::default_provider()).map_err(|source| {
        let (cert, key) = (cert_file.to_owned(), key_file.to_owned());
        match source {
            rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
                ServerTlsError::KeyMismatch { cert, key }
            }
            source => ServerTlsError::Refused { cert, key, source },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/data/request").join(name)
    }

    #[test]
    fn a_pair_loads_and_a_bad_one_is_a_typed_error() {
        let tls = ServerTls::from_files(&data("ca-issuing.pem"), &data("ca-issuing.key")).unwrap();
        // Unchanged files: nothing to load.
        assert!(!tls.reload_if_changed().unwrap());
        assert!(matches!(
            ServerTls::from_files(&data("ca-root.pem"), &data("ca-issuing.key")),
            Err(ServerTlsError::KeyMismatch { .. })
        ));
        assert!(matches!(
            ServerTls::from_files(&data("request.pem"), &data("ca-issuing.key")),
            Err(ServerTlsError::NoCertificate { .. })
        ));
        assert!(matches!(
            ServerTls::from_files(&data("ca-issuing.pem"), &data("ca-issuing.pem")),
            Err(ServerTlsError::NoKey { .. })
        ));
        let missing = data("missing.pem");
        let error = ServerTls::from_files(&missing, &data("ca-issuing.key")).unwrap_err();
        assert!(matches!(&error, ServerTlsError::File { path, .. } if *path == missing), "{error}");
    }
}
