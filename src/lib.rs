#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

// The layers, lowest first; each is a public module holding its secondary items, and the root
// re-exports what a user starts from.
pub mod obtain;
pub mod pfx;
pub mod policy;
pub mod publish;
pub mod rollover;
pub mod store;
pub mod validate;
pub mod x509;

pub use crate::obtain::{RequestError, RequestTemplate};
pub use crate::pfx::{ExportOptions, ImportOptions, Password, Pfx, PfxError, PrivateKey};
pub use crate::policy::{CertType, RolloverPolicy, Scope, TypeConfig};
#[cfg(feature = "serde")]
pub use crate::store::LoadError;
pub use crate::store::{Event, Outcome, RollOptions, SlotError, Store};
pub use crate::validate::{Policy, PolicyError};
pub use crate::x509::{Certificate, ParseError, Thumbprint};

/// The examples of `docs/guide.md`, run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../docs/guide.md")]
pub struct GuideDoctests;

/// Re-exported: every operation takes its instant as an [`OffsetDateTime`], and spans as
/// [`Duration`]s.
pub use ::time::{Duration, OffsetDateTime};
/// Re-exported: [`Pfx::export`], key generation ([`PrivateKey::generate_rsa`]) and encrypted key
/// export ([`PrivateKey::to_encrypted_pkcs8_der`]) take a `rand_core::CryptoRng`.
pub use rand_core;
