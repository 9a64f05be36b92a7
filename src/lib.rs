#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)
)]

mod issue;
mod pfx;
mod rollover;
mod store;
mod validate;
mod x509;

pub use crate::issue::{
    CertificateRequest, RequestError, RequestTemplate, SelfSignedOptions, complete_request,
};
pub use crate::pfx::{
    Digest, EncryptionAlgorithm, ExportError, ExportOptions, ExportProfile, ImportOptions, KeyError,
    MacAlgorithm, Password, PasswordCheck, Pbes1Cipher, Pbes2Cipher, Pfx, PfxError, Pkcs8Options, PrivateKey,
    Protection, SkippedBag,
};
pub use crate::rollover::{
    Action, AuthMetadata, IssueRequest, Issuer, Jwk, JwkParams, Jwks, JwksOptions, JwsAlgorithm, KeyId,
    KeySpec, KeyStatus, MetadataEndpoint, MetadataError, MetadataForm, MetadataKey, MetadataOptions,
    PublishedKey, RenewError, Renewal, SelfSignedIssuer, SkipReason, SkippedKey,
};
pub use crate::store::{
    Assignment, CancelReason, CertType, CertView, Desired, DriftOptions, DropReason, Event, Holdings,
    Outcome, PendingRoll, RenewBefore, Retention, Role, RollOptions, RolloverError, RolloverPolicy, Scope,
    ServerDrift, Slot, SlotError, SlotView, Store, StoredCertificate, TimelineEntry, TypeConfig,
};
#[cfg(feature = "serde")]
pub use crate::store::{LoadError, STATE_FORMAT};
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
