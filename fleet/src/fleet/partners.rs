//! Partners: verifiers of the fleet's tokens that fetch its keys from the key server through a
//! URL of their own, `/p/<token>/jwks.json` or `/p/<token>/metadata/json/1`, so that nobody else
//! can fetch in their name. The state keeps only each token's digest ([`PartnerToken`]); the key
//! server records what each partner's fetch announced under `/certslot/<cluster>/fetches/<name>`
//! ([`FetchRecord`]), and the coordinator copies the records into the store
//! ([`certslot::Store::record_partner_fetch`]), where a type's partner gate reads them.

use std::collections::BTreeSet;

use base64ct::{Base64UrlUnpadded, Encoding as _};
use certslot::store::Fetch;
use certslot::{CertType, OffsetDateTime, Scope, Store, Thumbprint};
use etcd_client::GetOptions;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use time::format_description::well_known::Rfc3339;
use zeroize::Zeroizing;

use crate::etcd::{Cluster, Connection, EtcdError};

/// A partner's secret token: 32 random bytes, base64url (43 characters), given to the partner
/// once as part of its URL; the state keeps only its credential, the digest.
pub struct PartnerToken(Zeroizing<String>);

impl std::fmt::Debug for PartnerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PartnerToken(..)")
    }
}

impl PartnerToken {
    /// A new token from the operating system's random generator.
    ///
    /// # Errors
    /// The generator's failure.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(bytes.as_mut())?;
        Ok(Self(Zeroizing::new(Base64UrlUnpadded::encode_string(bytes.as_ref()))))
    }

    /// The token's text, as its URL holds it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the state keeps: `token-sha256:` and the base64url SHA-256 of the token's text.
    pub fn credential(&self) -> String {
        credential_of(&self.0)
    }
}

/// The credential a URL's token text stands for (see [`PartnerToken::credential`]).
pub(crate) fn credential_of(token: &str) -> String {
    format!("token-sha256:{}", Base64UrlUnpadded::encode_string(&Sha256::digest(token.as_bytes())))
}

/// What one partner's fetch from the key server announced: the thumbprints of the keys in the
/// document it was served, and when. JSON:
/// `{"format": 1, "partner": "hybrid", "thumbprints": ["3BF7..."], "fetched_at": "2026-12-03T10:00:00Z"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRecord {
    /// The partner.
    pub partner: String,
    /// The thumbprints the document announced.
    pub thumbprints: BTreeSet<Thumbprint>,
    /// When.
    pub fetched_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct FetchJson {
    format: u32,
    partner: String,
    thumbprints: Vec<String>,
    fetched_at: String,
}

impl FetchRecord {
    /// The record as JSON; `None` for an instant RFC 3339 cannot write.
    pub fn to_json(&self) -> Option<String> {
        let json = FetchJson {
            format: 1,
            partner: self.partner.clone(),
            thumbprints: self.thumbprints.iter().map(ToString::to_string).collect(),
            fetched_at: self.fetched_at.format(&Rfc3339).ok()?,
        };
        serde_json::to_string(&json).ok()
    }

    /// Reads a record; `None` for anything but a record of format 1.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let json: FetchJson = serde_json::from_slice(bytes).ok().filter(|j: &FetchJson| j.format == 1)?;
        Some(Self {
            partner: json.partner.to_ascii_lowercase(),
            thumbprints: json.thumbprints.iter().map(|t| t.parse().ok()).collect::<Option<_>>()?,
            fetched_at: OffsetDateTime::parse(&json.fetched_at, &Rfc3339).ok()?,
        })
    }
}

/// Every readable record under the cluster's `fetches/` prefix whose key names its partner, in
/// partner order.
///
/// # Errors
/// [`EtcdError`] when etcd cannot be reached.
pub async fn fetch_records(conn: &Connection, cluster: &Cluster) -> Result<Vec<FetchRecord>, EtcdError> {
    let prefix = cluster.fetches_prefix();
    let answer = conn
        .call("read fetches", |mut c| {
            let prefix = prefix.clone();
            async move { c.kv.get(prefix, Some(GetOptions::new().with_prefix())).await }
        })
        .await?;
    Ok(answer
        .kvs()
        .iter()
        .filter_map(|kv| {
            let partner = std::str::from_utf8(kv.key().get(prefix.len()..)?).ok()?;
            FetchRecord::from_json(kv.value()).filter(|r| r.partner == partner)
        })
        .collect())
}

/// Writes a partner's record.
///
/// # Errors
/// [`EtcdError`] when etcd refuses or cannot be reached.
pub(crate) async fn write_fetch_record(
    conn: &Connection,
    cluster: &Cluster,
    record: &FetchRecord,
) -> Result<(), EtcdError> {
    let Some(json) = record.to_json() else { return Ok(()) };
    let key = cluster.fetch_key(&record.partner);
    conn.call("record a fetch", |mut c| {
        let (key, json) = (key.clone(), json.clone());
        async move { c.kv.put(key, json, None).await }
    })
    .await
    .map(|_| ())
}

/// A partner as operators see it ([`partner_views`]): its last fetch, and each pending roll.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartnerView<'a> {
    /// The partner.
    pub name: &'a str,
    /// Its last fetch, if it fetched.
    pub fetch: Option<&'a Fetch>,
    /// Each pending roll of the store, in slot order, as this partner's last fetch saw it.
    pub pending: Vec<PendingSeen>,
}

/// A pending roll as one partner's last fetch saw it. JSON: the fields by their names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PendingSeen {
    /// The type.
    pub cert_type: CertType,
    /// The scope.
    pub scope: Scope,
    /// The pending certificate.
    pub thumbprint: Thumbprint,
    /// The partner's last fetch announced it.
    pub seen: bool,
    /// The type's rolls wait for this partner.
    pub required: bool,
}

/// Every partner of `store`, in name order, with whether its last fetch announced each pending
/// certificate (what `partners show` and the status page show).
pub fn partner_views(store: &Store) -> Vec<PartnerView<'_>> {
    let pending: Vec<(&CertType, &Scope, Thumbprint)> =
        store.slots().filter_map(|(t, s, slot)| Some((t, s, slot.pending()?.thumbprint))).collect();
    store
        .topology()
        .partners()
        .map(|(name, fetch)| PartnerView {
            name,
            fetch,
            pending: pending
                .iter()
                .map(|(cert_type, scope, thumbprint)| PendingSeen {
                    cert_type: (*cert_type).clone(),
                    scope: (*scope).clone(),
                    thumbprint: *thumbprint,
                    seen: fetch.is_some_and(|f| f.thumbprints.contains(thumbprint)),
                    required: store.type_config(cert_type).get_require_fetched_by().contains(name),
                })
                .collect(),
        })
        .collect()
}
