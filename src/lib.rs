#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod algorithm;
mod asn1_time;
mod cert;
mod cert_type;
mod error;
mod ext;
mod fleet;
mod format;
mod key;
mod name;
mod pem;
#[cfg(feature = "serde")]
mod persist;
mod pfx;
mod scope;
mod slot;
mod store;
mod thumbprint;
mod tlv;
mod validate;

pub use crate::algorithm::{HashAlgorithm, SignatureAlgorithm};
pub use crate::cert::{Certificate, SerialNumber, Version};
pub use crate::cert_type::{CertType, TypeConfig};
pub use crate::error::{
    ExportError, FactError, ParseError, PasswordCheck, PfxError, PolicyError, SlotError, ThumbprintError,
};
pub use crate::ext::{BasicConstraints, Extension, GeneralName, KeyUsage, KeyUsageBit, eku};
pub use crate::fleet::{Desired, Role, ServerDrift};
pub use crate::format::FileFormat;
pub use crate::key::{Curve, KeyAlgorithm, PublicKeyInfo};
pub use crate::name::{Attribute, Name, Rdn, StringKind, attr};
#[cfg(feature = "serde")]
pub use crate::persist::{LoadError, STATE_FORMAT};
pub use crate::pfx::{
    Digest, EncryptionAlgorithm, ExportOptions, ExportProfile, ImportOptions, MacAlgorithm, Password,
    Pbes1Cipher, Pbes2Cipher, Pfx, PrivateKey, Protection, SkippedBag,
};
pub use crate::scope::Scope;
pub use crate::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Slot};
pub use crate::store::{CertView, RollOptions, SlotView, Store, StoredCertificate, TimelineEntry};
pub use crate::thumbprint::{Sha256Fingerprint, Thumbprint};
pub use crate::validate::*;

pub use ::time::OffsetDateTime;
/// Re-exported so callers can name OIDs and instants without adding the crates themselves.
pub use const_oid::ObjectIdentifier;
/// Re-exported: [`Pfx::export`] takes a `rand_core::CryptoRng`.
pub use rand_core;
