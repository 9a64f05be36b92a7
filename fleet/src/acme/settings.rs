//! A certificate type's ACME settings, as an admin gives them ([`AcmeConfig`]) and as the state
//! keeps them ([`StoredAcme`], in the roster beside the store, part of what only admins change):
//! the CA's directory, the account's contact, the roots the CA's HTTPS server is trusted with,
//! the challenge answered, and the external account binding, whose HMAC key is sealed under the
//! writers' secrets key ([`WriterKeys`]) like the account's own credentials.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::{AcmeCa, AcmeError, DnsUpdate, TsigKey};
use crate::seal::WriterKeys;

/// The challenge a type's renewals answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum ChallengeKind {
    /// `http-01`: the key server (`certslot-fleet serve --acme-http-listen`) answers at
    /// `/.well-known/acme-challenge/<token>` with the key authorization the coordinator put in
    /// etcd.
    #[serde(rename = "http-01")]
    Http01,
    /// `dns-01`: the coordinator adds the TXT record through an RFC 2136 update signed with TSIG
    /// ([`DnsUpdate`]).
    #[serde(rename = "dns-01")]
    Dns01,
}

impl core::fmt::Display for ChallengeKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Http01 => "http-01",
            Self::Dns01 => "dns-01",
        })
    }
}

impl core::str::FromStr for ChallengeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "http-01" => Ok(Self::Http01),
            "dns-01" => Ok(Self::Dns01),
            other => Err(format!("unknown challenge {other:?} (expected http-01 or dns-01)")),
        }
    }
}

/// A type's ACME settings as an admin gives them. `Debug` leaves out the binding's key.
#[derive(Clone)]
pub struct AcmeConfig {
    directory: String,
    roots_pem: String,
    contact: Vec<String>,
    dns_update: Option<(std::net::SocketAddr, String, TsigKey)>,
    external_account: Option<(String, Zeroizing<Vec<u8>>)>,
}

impl core::fmt::Debug for AcmeConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AcmeConfig")
            .field("directory", &self.directory)
            .field("contact", &self.contact)
            .field("dns_update", &self.dns_update)
            .field("external_account", &self.external_account.as_ref().map(|(kid, _)| kid))
            .finish_non_exhaustive()
    }
}

impl AcmeConfig {
    /// The CA at `directory` (an `https` URL), its HTTPS server trusted through the PEM
    /// certificates of `roots_pem` only; `http-01`, no contact, no binding.
    ///
    /// # Errors
    /// [`AcmeError::Root`] for roots that do not read, [`AcmeError::Directory`] for a directory
    /// that is not an `https` URL.
    pub fn new(directory: &str, roots_pem: &str) -> Result<Self, AcmeError> {
        // Checked as the coordinator will use them.
        AcmeCa::new(directory, roots_pem.as_bytes())?;
        Ok(Self {
            directory: directory.to_owned(),
            roots_pem: roots_pem.to_owned(),
            contact: Vec::new(),
            dns_update: None,
            external_account: None,
        })
    }

    /// Adds a contact URL for the account (`mailto:certs@contoso.com`).
    #[must_use]
    pub fn contact(mut self, contact: &str) -> Self {
        self.contact.push(contact.to_owned());
        self
    }

    /// Answers dns-01 instead of http-01: TXT records added to `zone` (its apex) by RFC 2136
    /// updates sent to `server` (the zone's primary), signed with `key`.
    ///
    /// # Errors
    /// [`AcmeError::Tsig`] for a zone that is not a DNS name.
    pub fn dns01(self, server: std::net::SocketAddr, zone: &str, key: TsigKey) -> Result<Self, AcmeError> {
        DnsUpdate::new(server, zone, key.clone())?;
        Ok(Self { dns_update: Some((server, zone.to_owned(), key)), ..self })
    }

    /// The challenge answered.
    pub fn challenge(&self) -> ChallengeKind {
        match self.dns_update {
            Some(_) => ChallengeKind::Dns01,
            None => ChallengeKind::Http01,
        }
    }

    /// The external account binding the CA requires (RFC 8555 7.3.4): its key identifier and
    /// HMAC key (raw bytes).
    #[must_use]
    pub fn external_account(self, kid: &str, hmac_key: Zeroizing<Vec<u8>>) -> Self {
        Self { external_account: Some((kid.to_owned(), hmac_key)), ..self }
    }

    /// The directory URL.
    pub fn directory(&self) -> &str {
        &self.directory
    }

    /// The form the state keeps: the binding's key sealed under `keys`.
    pub(crate) fn seal(&self, keys: &WriterKeys) -> StoredAcme {
        StoredAcme {
            directory: self.directory.clone(),
            contact: self.contact.clone(),
            roots: self.roots_pem.clone(),
            challenge: self.challenge(),
            dns_update: self.dns_update.as_ref().map(|(server, zone, key)| StoredDnsUpdate {
                server: server.to_string(),
                zone: zone.clone(),
                key_name: key.name().to_owned(),
                algorithm: key.algorithm().to_owned(),
                secret: keys.seal_secret(&tsig_label(zone, key.name()), key.secret()),
            }),
            external_account: self.external_account.as_ref().map(|(kid, key)| StoredBinding {
                kid: kid.clone(),
                hmac_key: keys.seal_secret(&binding_label(&self.directory, kid), key),
            }),
        }
    }
}

/// What a type's ACME settings are kept as in the state's roster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StoredAcme {
    pub(crate) directory: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) contact: Vec<String>,
    pub(crate) roots: String,
    pub(crate) challenge: ChallengeKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dns_update: Option<StoredDnsUpdate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    external_account: Option<StoredBinding>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredDnsUpdate {
    server: String,
    zone: String,
    key_name: String,
    algorithm: String,
    /// Sealed ([`WriterKeys::seal_secret`]).
    secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredBinding {
    kid: String,
    /// Sealed ([`WriterKeys::seal_secret`]).
    hmac_key: String,
}

/// What a binding's HMAC key is sealed for.
fn binding_label(directory: &str, kid: &str) -> String {
    format!("acme external account {directory} {kid}")
}

/// What a TSIG key's secret is sealed for.
fn tsig_label(zone: &str, key_name: &str) -> String {
    format!("tsig key {zone} {key_name}")
}

/// What an account's credentials are sealed for.
pub(crate) fn account_label(directory: &str) -> String {
    format!("acme account {directory}")
}

impl StoredAcme {
    /// The CA these settings name, the binding's key opened with `keys`.
    ///
    /// # Errors
    /// [`AcmeError::Root`], [`AcmeError::Directory`]; [`AcmeError::Sealed`] for a binding key
    /// that does not open with `keys`.
    pub(crate) fn ca(&self, keys: &WriterKeys) -> Result<AcmeCa, AcmeError> {
        let mut ca = AcmeCa::new(&self.directory, self.roots.as_bytes())?;
        for contact in &self.contact {
            ca = ca.contact(contact);
        }
        if let Some(binding) = &self.external_account {
            let key = keys
                .open_secret(&binding_label(&self.directory, &binding.kid), &binding.hmac_key)
                .ok_or(AcmeError::Sealed { what: "the external account binding's key" })?;
            ca = ca.external_account(&binding.kid, key.to_vec());
        }
        Ok(ca)
    }

    /// The dns-01 updater these settings name, its key opened with `keys` (`None` for http-01).
    ///
    /// # Errors
    /// [`AcmeError::Sealed`] for a key that does not open, [`AcmeError::Tsig`] for settings
    /// that do not read (changed by hand).
    pub(crate) fn dns_update(&self, keys: &WriterKeys) -> Result<Option<DnsUpdate>, AcmeError> {
        let Some(stored) = &self.dns_update else { return Ok(None) };
        let secret = keys
            .open_secret(&tsig_label(&stored.zone, &stored.key_name), &stored.secret)
            .ok_or(AcmeError::Sealed { what: "the TSIG key" })?;
        let server =
            stored.server.parse().map_err(|_| AcmeError::Tsig(format!("server {:?}", stored.server)))?;
        let key = TsigKey::new(&stored.key_name, &stored.algorithm, secret)?;
        DnsUpdate::new(server, &stored.zone, key).map(Some)
    }

    /// The key identifier of the external account binding, if any.
    pub(crate) fn binding_kid(&self) -> Option<&str> {
        self.external_account.as_ref().map(|b| b.kid.as_str())
    }
}
