#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod obtain;
mod pfx;
mod policy;
mod rollover;
mod store;
mod validate;
mod x509;

pub use crate::obtain::{
    CertificateRequest, IssueRequest, Issuer, KeySpec, RequestError, RequestTemplate, SelfSignedIssuer,
    SelfSignedOptions, complete_request,
};
pub use crate::pfx::{
    EncryptionAlgorithm, ExportError, ExportOptions, ExportProfile, ImportOptions, KeyError, MacAlgorithm,
    Password, PasswordCheck, Pbes1Cipher, Pbes2Cipher, Pfx, PfxError, Pkcs8Options, PrivateKey, Protection,
    SkippedBag,
};
pub use crate::policy::{
    CertType, Milestones, NameError, RenewBefore, Retention, RolloverError, RolloverPolicy, Scope,
    SlotMilestones, TypeConfig,
};
pub use crate::rollover::{
    Action, AuthMetadata, Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId, KeyStatus,
    MetadataEndpoint, MetadataError, MetadataForm, MetadataKey, MetadataOptions, PublishedKey, RenewError,
    Renewal, SkipReason, SkippedKey, next_plan_due, plan, published_keys, renew,
};
pub use crate::store::{
    Assignment, CancelReason, CertView, Desired, DriftOptions, DropReason, Event, Holdings, Outcome,
    PendingRoll, Role, RollOptions, ServerDrift, Slot, SlotError, SlotView, Store, StoredCertificate,
    TimelineEntry,
};
#[cfg(feature = "serde")]
pub use crate::store::{LoadError, STATE_FORMAT, SaveError, SavedState, SealedKey};
pub use crate::validate::{
    AcceptedKeys, HumanTime, KeyRule, Policy, PolicyError, Report, Rule, SubjectRule, UsageRule,
    ValidityRule, Violation, Warning, WarningRule,
};
pub use crate::x509::{
    Attribute, BasicConstraints, BundleError, Certificate, Chain, ChainEnd, ChainError, Curve, Extension,
    FactError, FileFormat, GeneralName, HashAlgorithm, KeyAlgorithm, KeyUsage, KeyUsageBit, MAX_CHAIN_LENGTH,
    Name, ParseError, PssParameters, PublicKeyInfo, Rdn, SerialNumber, Sha256Fingerprint, SignatureAlgorithm,
    SignatureCheck, StringKind, Thumbprint, ThumbprintError, VerifyError, Version, attr, eku,
};

pub use ::time::{Duration, OffsetDateTime};
/// Re-exported so callers can name OIDs and instants without adding the crates themselves.
pub use const_oid::ObjectIdentifier;
/// Re-exported: [`Pfx::export`], key generation ([`PrivateKey::generate_rsa`]) and encrypted key
/// export ([`PrivateKey::to_encrypted_pkcs8_der`]) take a `rand_core::CryptoRng`.
pub use rand_core;
