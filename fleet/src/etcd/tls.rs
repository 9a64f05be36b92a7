//! TLS to etcd: the CA that signs etcd's server certificates, and the client certificate this
//! process authenticates with (etcd's `--client-cert-auth`: the certificate's common name is the
//! etcd user, so no password or token is kept or expires).
//!
//! The files are read and their PEM parsed when the connection is configured, so a missing file,
//! one that holds no certificate, or a key that does not parse is a [`TlsError`] at once, not an
//! "unavailable" etcd at the first request. The handshake itself is rustls's (through tonic), with
//! its server name and chain checks; a refused handshake is [`crate::EtcdError::TlsRejected`].

use core::fmt;
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

/// How a connection to etcd is secured: the CA certificates that etcd's server certificate must
/// chain to, the client certificate and key (optional: without one, etcd must not require
/// client certificates), and the name checked against etcd's certificate (default: the
/// endpoint's host).
///
/// ```
/// use certslot_etcd::{Tls, TlsError};
///
/// let err = Tls::from_pem(b"not a certificate".to_vec()).unwrap_err();
/// assert!(matches!(err, TlsError::NoCertificate { .. }));
/// ```
#[derive(Clone)]
pub struct Tls {
    pub(crate) ca: Vec<u8>,
    pub(crate) identity: Option<ClientIdentity>,
    pub(crate) server_name: Option<String>,
}

/// A client certificate (PEM, the chain if any) and its private key (PEM), zeroized on drop.
#[derive(Clone)]
pub(crate) struct ClientIdentity {
    pub(crate) cert: Vec<u8>,
    pub(crate) key: Zeroizing<Vec<u8>>,
    /// The certificate's subject common name: the etcd user it authenticates as.
    pub(crate) user: Option<String>,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls")
            .field("ca_bytes", &self.ca.len())
            .field("client_user", &self.identity.as_ref().map(|i| i.user.as_deref().unwrap_or("?")))
            .field("server_name", &self.server_name)
            .finish_non_exhaustive()
    }
}

/// Why the TLS settings cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read {what} {path}: {source}")]
    File {
        /// Which file (CA certificate, client certificate, client key).
        what: &'static str,
        /// Its path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A PEM file or value holds no certificate.
    #[error("{what}: no PEM certificate found")]
    NoCertificate {
        /// Which one (the CA file, the client certificate file, or its path).
        what: String,
    },
    /// The client key holds no private key PEM can decode (PKCS #8, PKCS #1 or SEC 1).
    #[error("{what}: no PEM private key found (PKCS #8, PKCS #1 RSA or SEC 1 EC)")]
    NoKey {
        /// Which one.
        what: String,
    },
    /// The client key file may be read by others.
    #[error("client key {path} is readable by others (mode {mode:o}); run chmod 600 on it")]
    KeyReadableByOthers {
        /// Its path.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A client certificate without its key, or a key without its certificate.
    #[error("a client certificate needs its key and a key its certificate: give both or neither")]
    IdentityIncomplete,
}

impl Tls {
    /// TLS with the CA certificates of `ca_pem` (one or more PEM certificates).
    ///
    /// # Errors
    /// [`TlsError::NoCertificate`] when the PEM holds no certificate.
    pub fn from_pem(ca_pem: Vec<u8>) -> Result<Self, TlsError> {
        check_certificates(&ca_pem, "the CA certificates")?;
        Ok(Self { ca: ca_pem, identity: None, server_name: None })
    }

    /// TLS with the CA certificates of the PEM file `ca`, and the client certificate and key of
    /// the PEM files `cert` and `key` when given (the key file must not be readable by group or
    /// others).
    ///
    /// # Errors
    /// [`TlsError`]: a file that cannot be read, holds no certificate or key, a key file readable
    /// by others, or a certificate without its key.
    pub fn from_files(ca: &Path, cert: Option<&Path>, key: Option<&Path>) -> Result<Self, TlsError> {
        let read = |what: &'static str, path: &Path| {
            std::fs::read(path).map_err(|source| TlsError::File { what, path: path.into(), source })
        };
        let ca_pem = read("the CA certificate file", ca)?;
        check_certificates(&ca_pem, &ca.display().to_string())?;
        let tls = Self { ca: ca_pem, identity: None, server_name: None };
        match (cert, key) {
            (None, None) => Ok(tls),
            (Some(cert), Some(key)) => {
                check_private(key)?;
                let cert_pem = read("the client certificate file", cert)?;
                let key_pem = Zeroizing::new(read("the client key file", key)?);
                tls.with_identity_named(
                    cert_pem,
                    key_pem,
                    &cert.display().to_string(),
                    &key.display().to_string(),
                )
            }
            _ => Err(TlsError::IdentityIncomplete),
        }
    }

    /// Authenticates with the client certificate `cert_pem` (PEM, leaf first) and its key
    /// `key_pem` (PEM: PKCS #8, PKCS #1 or SEC 1).
    ///
    /// # Errors
    /// [`TlsError::NoCertificate`] or [`TlsError::NoKey`].
    pub fn with_identity(self, cert_pem: Vec<u8>, key_pem: Vec<u8>) -> Result<Self, TlsError> {
        let key_pem = Zeroizing::new(key_pem);
        self.with_identity_named(cert_pem, key_pem, "the client certificate", "the client key")
    }

    fn with_identity_named(
        self,
        cert_pem: Vec<u8>,
        key_pem: Zeroizing<Vec<u8>>,
        cert_name: &str,
        key_name: &str,
    ) -> Result<Self, TlsError> {
        let leaf = check_certificates(&cert_pem, cert_name)?;
        if PrivateKeyDer::from_pem_slice(&key_pem).is_err() {
            return Err(TlsError::NoKey { what: key_name.to_owned() });
        }
        let user =
            certslot::Certificate::from_der(leaf.as_ref()).ok().and_then(|c| c.subject().common_name());
        Ok(Self { identity: Some(ClientIdentity { cert: cert_pem, key: key_pem, user }), ..self })
    }

    /// Checks etcd's certificate against `name` instead of the endpoint's host (an etcd reached
    /// through an address its certificate does not name).
    #[must_use]
    pub fn server_name(self, name: impl Into<String>) -> Self {
        Self { server_name: Some(name.into()), ..self }
    }

    /// The etcd user the client certificate authenticates as: its subject's common name.
    pub fn client_user(&self) -> Option<&str> {
        self.identity.as_ref().and_then(|i| i.user.as_deref())
    }

    /// tonic's TLS settings for an endpoint.
    pub(crate) fn client_config(&self) -> etcd_client::TlsOptions {
        let mut config =
            etcd_client::TlsOptions::new().ca_certificate(etcd_client::Certificate::from_pem(&self.ca));
        if let Some(identity) = &self.identity {
            config =
                config.identity(etcd_client::Identity::from_pem(&identity.cert, identity.key.as_slice()));
        }
        if let Some(name) = &self.server_name {
            config = config.domain_name(name.clone());
        }
        config
    }
}

/// The first certificate of a PEM text, or [`TlsError::NoCertificate`] when it has none (or one
/// that is not valid PEM).
fn check_certificates(pem: &[u8], what: &str) -> Result<CertificateDer<'static>, TlsError> {
    let no_certificate = || TlsError::NoCertificate { what: what.to_owned() };
    let mut certificates = CertificateDer::pem_slice_iter(pem);
    let first = certificates.next().ok_or_else(no_certificate)?.map_err(|_| no_certificate())?;
    if certificates.any(|c| c.is_err()) {
        return Err(no_certificate());
    }
    Ok(first)
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), TlsError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|source| TlsError::File {
        what: "the client key file",
        path: path.into(),
        source,
    })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(TlsError::KeyReadableByOthers { path: path.into(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path) -> Result<(), TlsError> {
    Ok(())
}
