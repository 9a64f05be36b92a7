//! Layer 7, publication: the keys verifiers must trust for a type at a scope, at an instant
//! ([`published_keys`]: the signing key, the announced next one, the retained previous one),
//! as an RFC 7517 JSON Web Key Set ([`Jwks::publish`]) and as the authorization metadata
//! document that Lync, Skype for Business, Exchange and SharePoint partners fetch at
//! `/metadata/json/1` ([`AuthMetadata::publish`]).
//!
//! Uses the layers below it, through their public API only: `x509` (certificates, the issuer of
//! each `x5c` certificate), `policy` (types, scopes, rollover policies) and `store` (the slot
//! that applies, its milestones, the inventory). Serving the documents is the caller's job.

mod exchange_id;
mod freshness;
mod jwks;
mod keyset;
mod metadata;

pub use self::freshness::Freshness;
pub use self::jwks::{Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId, SkipReason, SkippedKey};
pub use self::keyset::{KeyStatus, PublishedKey, published_keys};
pub use self::metadata::{
    AuthMetadata, MetadataEndpoint, MetadataError, MetadataForm, MetadataKey, MetadataOptions,
};
