//! The ACME issuer (RFC 8555): certificates from a CA that answers over ACME (a public CA,
//! step-ca, EJBCA, Vault/OpenBao, Let's Encrypt's `pebble` in the tests), for renewals the
//! library splits in two halves: certslot makes the key and the request and keeps them in the
//! state ([`certslot::rollover::start_renewal`]); this module gets an account, places the order
//! (whose URL goes into the state, [`certslot::Store::set_renewal_order`]), answers its
//! challenges, finalizes it with certslot's request and downloads the chain, which
//! [`certslot::rollover::finish_renewal`] rolls in. Any step can be resumed from the order's URL
//! by another process: the order, not this process, holds the progress.
//!
//! On `instant-acme` (the maintained pure-Rust ACME client) with its `ring` backend, the
//! provider rustls already uses here; its HTTP client is [`AcmeHttp`].

mod dns;
mod http;
mod settings;

use std::future::Future;

use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, ChallengeType, ExternalAccountKey, NewAccount,
    NewOrder, OrderStatus, RetryPolicy,
};
use zeroize::Zeroizing;

pub use self::dns::{DnsUpdate, TsigKey};
pub use self::http::AcmeHttp;
pub use self::settings::{AcmeConfig, ChallengeKind};
pub(crate) use self::settings::{StoredAcme, account_label};

/// Why an ACME step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AcmeError {
    /// The CA's root certificates (PEM) do not read, or hold none.
    #[error("the ACME CA's root certificates: {0}")]
    Root(String),
    /// A TSIG key or a dns-01 zone that cannot be used.
    #[error("dns-01 updates: {0}")]
    Tsig(String),
    /// The directory is not an `https` URL.
    #[error("the ACME directory {0:?} is not an https URL")]
    Directory(String),
    /// A secret the state keeps sealed does not open with the writers' keys (another password,
    /// or changed).
    #[error("{what} does not open with this password")]
    Sealed {
        /// Which secret.
        what: &'static str,
    },
    /// The saved account credentials do not read.
    #[error("the saved ACME account does not read: {0}")]
    Credentials(#[source] serde_json::Error),
    /// The CA or the way to it failed (a problem document, a timeout, a connection refused).
    #[error("ACME: {0}")]
    Protocol(#[from] instant_acme::Error),
    /// The order ended invalid (a failed challenge, a refused request).
    #[error("the ACME order {url} is invalid{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OrderInvalid {
        /// The order.
        url: String,
        /// The CA's reason, if it gave one.
        detail: Option<String>,
    },
    /// The CA does not know the order (any more), or not for this account.
    #[error("the CA no longer has the ACME order {url}: {detail}")]
    OrderGone {
        /// The order.
        url: String,
        /// The CA's words.
        detail: String,
    },
    /// The CA offers no challenge of the kind this issuer answers for an identifier.
    #[error("the CA offers no {} challenge for {identifier}", challenge_name(kind))]
    NoChallenge {
        /// The kind answered.
        kind: ChallengeType,
        /// The identifier.
        identifier: String,
    },
    /// The challenge responder failed to publish or withdraw an answer.
    #[error("answering the {} challenge for {identifier}: {reason}", challenge_name(kind))]
    Responder {
        /// The kind.
        kind: ChallengeType,
        /// The identifier.
        identifier: String,
        /// Why.
        reason: String,
    },
}

/// A challenge kind as RFC 8555 names it.
fn challenge_name(kind: &ChallengeType) -> String {
    match kind {
        ChallengeType::Http01 => "http-01".into(),
        ChallengeType::Dns01 => "dns-01".into(),
        ChallengeType::TlsAlpn01 => "tls-alpn-01".into(),
        other => format!("{other:?}"),
    }
}

/// One challenge to answer: the identifier, the token, and the two forms of its answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeAnswer {
    /// The identifier (a DNS name).
    pub identifier: String,
    /// The challenge's token (http-01: the last path segment).
    pub token: String,
    /// http-01's body: the key authorization, `token.thumbprint`.
    pub key_authorization: String,
    /// dns-01's TXT value at `_acme-challenge.<identifier>`: base64url SHA-256 of the key
    /// authorization.
    pub dns_value: String,
}

/// Where challenge answers are published: the key server's `/.well-known/acme-challenge/`
/// (http-01) or a DNS zone through RFC 2136 (dns-01).
pub trait Responder: Send + Sync {
    /// The challenge kind it answers.
    fn kind(&self) -> ChallengeType;

    /// Publishes `answer`.
    fn present(&self, answer: &ChallengeAnswer) -> impl Future<Output = Result<(), String>> + Send;

    /// Withdraws `answer` (best effort: the order is done either way).
    fn clean_up(&self, answer: &ChallengeAnswer) -> impl Future<Output = Result<(), String>> + Send;
}

/// A CA reached over ACME: its directory, the contact given for the account, the external
/// account binding it may require, and the roots its HTTPS server is trusted with.
pub struct AcmeCa {
    directory: String,
    contact: Vec<String>,
    eab: Option<(String, Zeroizing<Vec<u8>>)>,
    http: AcmeHttp,
}

impl core::fmt::Debug for AcmeCa {
    /// The directory and contact; never the binding's key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AcmeCa")
            .field("directory", &self.directory)
            .field("contact", &self.contact)
            .field("external_account", &self.eab.as_ref().map(|(kid, _)| kid))
            .finish()
    }
}

impl AcmeCa {
    /// The CA at directory URL `directory` (https), its server trusted through the PEM
    /// certificates of `roots_pem` only.
    ///
    /// # Errors
    /// [`AcmeError::Root`] when `roots_pem` holds no certificate rustls accepts as a root,
    /// [`AcmeError::Directory`] when `directory` is not an `https` URL.
    pub fn new(directory: &str, roots_pem: &[u8]) -> Result<Self, AcmeError> {
        use rustls_pki_types::pem::PemObject as _;
        let host = directory.strip_prefix("https://").unwrap_or_default();
        if host.is_empty() || host.starts_with('/') || directory.chars().any(char::is_whitespace) {
            return Err(AcmeError::Directory(directory.to_owned()));
        }
        let mut roots = rustls::RootCertStore::empty();
        for der in rustls_pki_types::CertificateDer::pem_slice_iter(roots_pem) {
            let der = der.map_err(|e| AcmeError::Root(e.to_string()))?;
            roots.add(der).map_err(|e| AcmeError::Root(e.to_string()))?;
        }
        if roots.is_empty() {
            return Err(AcmeError::Root("no certificate".into()));
        }
        Ok(Self {
            directory: directory.to_owned(),
            contact: Vec::new(),
            eab: None,
            http: AcmeHttp::new(roots),
        })
    }

    /// A contact URL for the account (`mailto:certs@contoso.com`).
    #[must_use]
    pub fn contact(mut self, contact: &str) -> Self {
        self.contact.push(contact.to_owned());
        self
    }

    /// The external account binding the CA requires (RFC 8555 7.3.4): its key identifier and
    /// its HMAC key (raw bytes).
    #[must_use]
    pub fn external_account(mut self, kid: &str, hmac_key: Vec<u8>) -> Self {
        self.eab = Some((kid.to_owned(), Zeroizing::new(hmac_key)));
        self
    }

    /// The directory URL.
    pub fn directory(&self) -> &str {
        &self.directory
    }

    /// The account: restored from `saved` (what an earlier call returned), or registered now
    /// (terms of service agreed, with the contact and binding) and returned with its credentials
    /// to keep, sealed: JSON holding the account URL and its private key.
    ///
    /// # Errors
    /// [`AcmeError::Credentials`], [`AcmeError::Protocol`].
    pub async fn account(
        &self,
        saved: Option<&str>,
    ) -> Result<(Account, Option<Zeroizing<String>>), AcmeError> {
        let builder = Account::builder_with_http(Box::new(self.http.clone()));
        if let Some(saved) = saved {
            let credentials: AccountCredentials =
                serde_json::from_str(saved).map_err(AcmeError::Credentials)?;
            return Ok((builder.from_credentials(credentials).await?, None));
        }
        let contact: Vec<&str> = self.contact.iter().map(String::as_str).collect();
        let new =
            NewAccount { contact: &contact, terms_of_service_agreed: true, only_return_existing: false };
        let eab = self.eab.as_ref().map(|(kid, key)| ExternalAccountKey::new(kid.clone(), &key[..]));
        let (account, credentials) = builder.create(&new, self.directory.clone(), eab.as_ref()).await?;
        let json = serde_json::to_string(&credentials).map_err(AcmeError::Credentials)?;
        Ok((account, Some(Zeroizing::new(json))))
    }
}

/// Whether `token` is a challenge token as CAs make them: base64url (RFC 8555 8.3, at least
/// 128 bits of entropy), of a sane length. What the key server looks up and the coordinator
/// publishes; nothing else.
pub(crate) fn is_token(token: &str) -> bool {
    (16..=256).contains(&token.len())
        && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl AcmeError {
    /// Whether the CA says the account does not exist (deactivated, or a test CA reset): it
    /// must be registered anew.
    pub fn account_unknown(&self) -> bool {
        matches!(self, Self::Protocol(instant_acme::Error::Api(problem))
            if problem.r#type.as_deref() == Some("urn:ietf:params:acme:error:accountDoesNotExist"))
    }
}

/// Places an order for `names` (DNS identifiers); returns its URL, to keep in the state before
/// anything else happens.
///
/// # Errors
/// [`AcmeError::Protocol`].
pub async fn place_order(account: &Account, names: &[String]) -> Result<String, AcmeError> {
    let identifiers: Vec<instant_acme::Identifier> =
        names.iter().map(|n| instant_acme::Identifier::Dns(n.clone())).collect();
    let order = account.new_order(&NewOrder::new(&identifiers)).await?;
    Ok(order.url().to_owned())
}

/// Takes the order at `url` to its certificate from wherever it stands: answers the pending
/// authorizations' challenges through `responder` (and withdraws the answers after), finalizes
/// with `csr_der` (certslot's request) once ready, and downloads the chain (PEM, leaf first).
/// Resumable: a process that took over calls it with the same URL.
///
/// # Errors
/// [`AcmeError::OrderInvalid`] for an order that failed and [`AcmeError::OrderGone`] for one
/// the CA does not have (start a new one),
/// [`AcmeError::NoChallenge`], [`AcmeError::Responder`], [`AcmeError::Protocol`] (retry later).
pub async fn complete_order<R: Responder>(
    account: &Account,
    url: &str,
    csr_der: &[u8],
    responder: &R,
    policy: &RetryPolicy,
) -> Result<String, AcmeError> {
    let mut order = account.order(url.to_owned()).await.map_err(|e| match e {
        // Not found, or not this account's: the CA forgot it (a reset test CA, an expired
        // order) or the account was registered anew. Start another.
        instant_acme::Error::Api(problem) if matches!(problem.status, Some(403 | 404)) => {
            AcmeError::OrderGone { url: url.to_owned(), detail: problem.detail.unwrap_or_default() }
        }
        other => AcmeError::from(other),
    })?;
    let invalid = |order: &mut instant_acme::Order| AcmeError::OrderInvalid {
        url: url.to_owned(),
        detail: order.state().error.as_ref().and_then(|p| p.detail.clone()),
    };
    if order.state().status == OrderStatus::Pending {
        let mut presented = Vec::new();
        let mut authorizations = order.authorizations();
        let mut failure = None;
        while let Some(authorization) = authorizations.next().await {
            let mut authorization = authorization?;
            if authorization.status != AuthorizationStatus::Pending {
                continue;
            }
            let identifier = authorization.identifier().to_string();
            let kind = responder.kind();
            let Some(mut challenge) = authorization.challenge(kind.clone()) else {
                failure = Some(AcmeError::NoChallenge { kind, identifier });
                break;
            };
            let key_authorization = challenge.key_authorization();
            let answer = ChallengeAnswer {
                identifier: identifier.clone(),
                token: challenge.token.clone(),
                key_authorization: key_authorization.as_str().to_owned(),
                dns_value: key_authorization.dns_value(),
            };
            if let Err(reason) = responder.present(&answer).await {
                failure = Some(AcmeError::Responder { kind, identifier, reason });
                break;
            }
            presented.push(answer);
            challenge.set_ready().await?;
        }
        let ready = match failure {
            Some(e) => Err(e),
            None => order.poll_ready(policy).await.map_err(AcmeError::from),
        };
        for answer in &presented {
            // Best effort: a stale answer is harmless once the authorization is decided.
            let _ = responder.clean_up(answer).await;
        }
        if ready? == OrderStatus::Invalid {
            return Err(invalid(&mut order));
        }
    }
    match order.state().status {
        OrderStatus::Invalid => return Err(invalid(&mut order)),
        OrderStatus::Ready => order.finalize_csr(csr_der).await?,
        _ => {}
    }
    Ok(order.poll_certificate(policy).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_base64url_tokens_are_looked_up() {
        assert!(is_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0"));
        assert!(!is_token("short"));
        assert!(!is_token("../../state/xxxxxxxxxxxxxxxxxx"));
        assert!(!is_token("LoqXcYV8q5ONbJQxbmR7SCTNo3tiAXDfowyjxAjEuX0%2F"));
        assert!(!is_token(&"a".repeat(257)));
    }
}
