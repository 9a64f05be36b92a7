//! Layer 7, unattended rollover and publication: the planner that says what every slot needs and
//! by when ([`plan`]), renewal through a caller's [`Issuer`](crate::obtain::Issuer) ([`renew`]),
//! and the keys verifiers must trust ([`published_keys`]), published as an RFC 7517 JWK Set
//! ([`Jwks::publish`]) and as the authorization metadata document of Lync, Exchange and
//! SharePoint ([`AuthMetadata::publish`]).
//!
//! Uses the layers below it, through their public API only: `x509` (certificates), `policy`
//! (rollover policies and their milestones), `obtain` (request templates, the issuer) and
//! `store` (slots, found through its index of milestones, and the one operation a renewal
//! makes, [`Store::add_and_roll`](crate::Store::add_and_roll)).
//!
//! No I/O and no clock: every call takes its instant; the issuer is the caller's.

mod jwks;
mod keyset;
mod metadata;
mod plan;
mod renew;

pub use self::jwks::{Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId, SkipReason, SkippedKey};
pub use self::keyset::{KeyStatus, PublishedKey, published_keys};
pub use self::metadata::{
    AuthMetadata, MetadataEndpoint, MetadataError, MetadataForm, MetadataKey, MetadataOptions,
};
pub use self::plan::{Action, next_plan_due, plan};
pub use self::renew::{RenewError, Renewal, renew};
