//! The documents the key server serves, built once per state (and again at each instant the
//! published keys change), never per request: for every slot of the store, and for the signing
//! type at `global` even without one, the JWK Set and the `/metadata/json/1` document, with
//! their entity tag and lifetime ([`Freshness`]).

use bytes::Bytes;
use certslot::publish::{AuthMetadata, Freshness, Jwks, MetadataOptions};
use certslot::{CertType, OffsetDateTime, Scope, Store, Thumbprint};

use crate::fleet::credential_of;
use std::collections::{BTreeMap, HashMap};

/// One document as served: its bytes and its freshness.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Document {
    body: Bytes,
    freshness: Freshness,
}

impl Document {
    fn new(mut body: String, store: &Store, cert_type: &CertType) -> Self {
        body.push('\n');
        let freshness = Freshness::of(body.as_bytes(), &store.type_config(cert_type).get_rollover());
        Self { body: Bytes::from(body), freshness }
    }

    /// The bytes (JSON, ending in a newline).
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Its entity tag and lifetime.
    pub fn freshness(&self) -> &Freshness {
        &self.freshness
    }
}

/// The documents of one slot.
#[derive(Clone, Debug)]
struct SlotDocuments {
    /// The JWK Set, or why it cannot be made.
    jwks: Result<Document, String>,
    /// The metadata document, or why it cannot be made (no realm, no key to publish).
    metadata: Result<Document, String>,
    /// The thumbprints of the keys both announce.
    announced: Vec<Thumbprint>,
}

/// Which document of a slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// The JWK Set (RFC 7517), `/.well-known/jwks.json`.
    Jwks,
    /// The authorization metadata document, `/metadata/json/1`.
    Metadata,
}

/// Every document of one state at one instant.
#[derive(Clone, Debug)]
pub struct Published {
    revision: i64,
    at: OffsetDateTime,
    next_change: Option<OffsetDateTime>,
    slots: HashMap<(CertType, Scope), SlotDocuments>,
    /// Partner by credential.
    partners: HashMap<String, String>,
}

impl Published {
    /// The documents of `store` (read at etcd `revision`) at `at`: for each of its slots and for
    /// `signing_type` at `global`, the JWK Set ([`Jwks::publish`]) and the metadata document
    /// ([`AuthMetadata::publish`] with `metadata`).
    pub fn build(
        store: &Store,
        revision: i64,
        at: OffsetDateTime,
        signing_type: &CertType,
        metadata: &MetadataOptions,
    ) -> Self {
        let mut slots = HashMap::new();
        let wanted = store
            .slots()
            .map(|(cert_type, scope, _)| (cert_type.clone(), scope.clone()))
            .chain([(signing_type.clone(), Scope::Global)]);
        let mut next_change: Option<OffsetDateTime> = None;
        for (cert_type, scope) in wanted {
            if slots.contains_key(&(cert_type.clone(), scope.clone())) {
                continue;
            }
            if let Some(first) = store.milestones(&cert_type, &scope).and_then(|m| m.first_after(at)) {
                next_change = Some(next_change.map_or(first, |n| n.min(first)));
            }
            let set = Jwks::publish(store, &cert_type, &scope, at);
            let announced = set.keys.iter().map(|k| k.thumbprint).collect();
            let jwks =
                set.to_json().map_err(|e| e.to_string()).map(|json| Document::new(json, store, &cert_type));
            let metadata = AuthMetadata::publish(store, &cert_type, &scope, at, metadata)
                .map_err(|e| e.to_string())
                .and_then(|m| m.to_json().map_err(|e| e.to_string()))
                .map(|json| Document::new(json, store, &cert_type));
            slots.insert((cert_type, scope), SlotDocuments { jwks, metadata, announced });
        }
        Self { revision, at, next_change, slots, partners: HashMap::new() }
    }

    /// The same documents, served to partners through their URLs: `credentials` maps each
    /// partner to its credential (`token-sha256:...`).
    #[must_use]
    pub fn with_partners(mut self, credentials: &BTreeMap<String, String>) -> Self {
        self.partners = credentials.iter().map(|(name, c)| (c.clone(), name.clone())).collect();
        self
    }

    /// The partner whose URL holds `token`, if any.
    pub fn partner_for(&self, token: &str) -> Option<&str> {
        self.partner_by_credential(&credential_of(token))
    }

    /// The partner known by `credential` (a token's, or a client certificate's
    /// `cert-sha256:...`), if any.
    pub(crate) fn partner_by_credential(&self, credential: &str) -> Option<&str> {
        self.partners.get(credential).map(String::as_str)
    }

    /// The thumbprints of the keys a slot's documents announce.
    pub fn announced(&self, cert_type: &CertType, scope: &Scope) -> Option<&[Thumbprint]> {
        self.slots.get(&(cert_type.clone(), scope.clone())).map(|s| s.announced.as_slice())
    }

    /// The etcd revision of the state the documents were built from.
    pub fn revision(&self) -> i64 {
        self.revision
    }

    /// The instant they were built for.
    pub fn at(&self) -> OffsetDateTime {
        self.at
    }

    /// The first instant after [`Published::at`] at which a slot's milestones (a key announced,
    /// a previous key retired, a certificate expired) may change a document: when to build
    /// them again if the state does not change first.
    pub fn next_change(&self) -> Option<OffsetDateTime> {
        self.next_change
    }

    /// A slot's document: `None` for a slot the store does not have; `Some(Err(why))` for a
    /// document that cannot be made (a metadata document without a realm or a key).
    pub fn document(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        kind: DocumentKind,
    ) -> Option<Result<&Document, &str>> {
        let slot = self.slots.get(&(cert_type.clone(), scope.clone()))?;
        Some(match kind {
            DocumentKind::Jwks => slot.jwks.as_ref().map_err(String::as_str),
            DocumentKind::Metadata => slot.metadata.as_ref().map_err(String::as_str),
        })
    }
}

#[cfg(test)]
mod tests {
    use certslot::publish::KeyId;
    use certslot::{Password, Pfx, RollOptions, Thumbprint};
    use time::Duration;

    use super::*;

    fn sample(store: &mut Store, name: &str) -> Thumbprint {
        let path = format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"));
        let pfx = Pfx::import(&std::fs::read(path).unwrap(), &Password::new("P@ssw0rd"), Default::default());
        store.add_pfx(pfx.unwrap()).unwrap()
    }

    fn kids(published: &Published, cert_type: &CertType) -> Vec<String> {
        let document = published.document(cert_type, &Scope::Global, DocumentKind::Jwks).unwrap().unwrap();
        let set: serde_json::Value = serde_json::from_slice(document.body()).unwrap();
        set["keys"].as_array().unwrap().iter().map(|k| k["x5t"].as_str().unwrap().to_owned()).collect()
    }

    #[test]
    fn documents_are_built_per_slot_and_again_when_a_key_is_announced() {
        let signing = CertType::OAuthTokenIssuer;
        let options = MetadataOptions::lync();
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        // No slot yet: the signing type's set is empty, and its metadata cannot be made.
        let at = OffsetDateTime::from_unix_timestamp(1_790_000_000).unwrap();
        let empty = Published::build(&store, 1, at, &signing, &options);
        let document = empty.document(&signing, &Scope::Global, DocumentKind::Jwks).unwrap().unwrap();
        assert_eq!(&document.body()[..], b"{\"keys\":[]}\n");
        assert_eq!(document.freshness().cache_control(), "public, max-age=21600");
        assert_eq!(
            empty.document(&signing, &Scope::Global, DocumentKind::Metadata),
            Some(Err("OAuthTokenIssuer at global has no key to publish at 2026-09-21T14:13:20Z"))
        );
        assert_eq!(empty.document(&CertType::Default, &Scope::Global, DocumentKind::Jwks), None);
        assert_eq!(empty.next_change(), None);

        let a = sample(&mut store, "openssl3-default.pfx");
        let b = sample(&mut store, "openssl3-rsa2048-next.pfx");
        let since = store.inventory().get(&a).unwrap().certificate.not_before() + Duration::days(1);
        store.set(std::slice::from_ref(&signing), &Scope::Global, &a, since, RollOptions::default()).unwrap();
        let effective = since + Duration::days(10);
        store
            .roll(
                std::slice::from_ref(&signing),
                &Scope::Global,
                &b,
                effective,
                since,
                RollOptions::default(),
            )
            .unwrap();
        let x5t = |t: &Thumbprint| KeyId::X5t.of(t);
        let before = Published::build(&store, 7, since, &signing, &options);
        assert_eq!((before.revision(), before.at()), (7, since));
        assert_eq!(kids(&before, &signing), [x5t(&a)]);
        // B is announced a day (Lync's publish-ahead) before it signs: built again then, with B.
        assert_eq!(before.next_change(), Some(effective - Duration::days(1)));
        let after = Published::build(&store, 7, effective - Duration::days(1), &signing, &options);
        assert_eq!(kids(&after, &signing), [x5t(&a), x5t(&b)]);
        let tag = |p: &Published| {
            p.document(&signing, &Scope::Global, DocumentKind::Jwks)
                .unwrap()
                .unwrap()
                .freshness()
                .etag()
                .to_owned()
        };
        assert_ne!(tag(&before), tag(&after));
        // The metadata document of the same keys.
        let metadata = after.document(&signing, &Scope::Global, DocumentKind::Metadata).unwrap().unwrap();
        let metadata: serde_json::Value = serde_json::from_slice(metadata.body()).unwrap();
        assert_eq!(metadata["keys"][1]["keyinfo"]["x5t"], x5t(&b).as_str());
    }
}
