//! Layer 6, unattended rollover: the planner that says what every slot needs and by when
//! ([`Store::plan`](crate::Store::plan)), renewal through a caller's [`Issuer`]
//! ([`Store::renew`](crate::Store::renew)), and the keys verifiers must trust
//! ([`Store::published_keys`](crate::Store::published_keys)), published as an RFC 7517 JWK Set
//! ([`Store::jwks`](crate::Store::jwks)) and as the authorization metadata document of Lync,
//! Exchange and SharePoint ([`Store::auth_metadata`](crate::Store::auth_metadata)).
//!
//! Uses the layers below it: `x509` (certificates), `pfx` (keys, PFX files), `validate` (the
//! policies a renewal must pass), `store` (slots, their schedule and rollover policies) and
//! `issue` (request templates, self-signed certificates). The rollover policy itself is data of
//! a type's configuration and lives in `store`, which keeps each slot's rollover milestones in a
//! schedule of their own, so that the planner finds the slots that need something without a
//! scan.
//!
//! No I/O and no clock: every call takes its instant; the issuer is the caller's.

mod jwks;
mod keyset;
mod metadata;
mod plan;
mod renew;

pub use self::jwks::{Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId, SkipReason, SkippedKey};
pub use self::keyset::{KeyStatus, PublishedKey};
pub use self::metadata::{
    AuthMetadata, MetadataEndpoint, MetadataError, MetadataForm, MetadataKey, MetadataOptions,
};
pub use self::plan::Action;
pub use self::renew::{IssueRequest, Issuer, KeySpec, RenewError, Renewal, SelfSignedIssuer};
