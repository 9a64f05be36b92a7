//! Error types. Each enum serves one kind of caller decision; each variant carries the values that
//! failed.

use const_oid::ObjectIdentifier;
use time::{Duration, OffsetDateTime};

/// Why bytes could not be read as a certificate (DER, PEM or a PEM bundle).
///
/// Offsets count bytes from the start of the DER certificate (for PEM input: of the decoded block).
/// `what` names the ASN.1 field being read, as in RFC 5280 (`"TBSCertificate.validity"`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input holds no bytes at all.
    #[error("the input is empty")]
    Empty,
    /// An item's length runs past the end of the input.
    #[error("{what} at offset {offset} needs {needed} bytes but only {available} remain")]
    Truncated {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
        /// Bytes the item claims, header included.
        needed: usize,
        /// Bytes left in the enclosing input from the item's start.
        available: usize,
    },
    /// A length field does not fit in the machine's address space.
    #[error("{what} at offset {offset} has a length that overflows")]
    LengthOverflow {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// An indefinite length (BER), which DER forbids (X.690 10.1).
    #[error("{what} at offset {offset} uses an indefinite length, which DER forbids")]
    IndefiniteLength {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A multi-octet tag number, which no X.509 field uses.
    #[error("{what} at offset {offset} uses a high tag number")]
    HighTagNumber {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// An item other than the one the structure requires.
    #[error("{what} at offset {offset}: expected tag 0x{expected:02X}, found 0x{found:02X}")]
    UnexpectedTag {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
        /// The identifier octet the structure requires.
        expected: u8,
        /// The identifier octet found.
        found: u8,
    },
    /// Bytes follow the end of a structure.
    #[error("{len} unexpected bytes after {what} at offset {offset}")]
    TrailingData {
        /// Offset of the first unexpected byte.
        offset: usize,
        /// The structure that should have ended.
        what: &'static str,
        /// How many bytes follow it.
        len: usize,
    },
    /// A field's content is not valid for its type (an empty INTEGER, a bad BOOLEAN, an OID that
    /// does not decode).
    #[error("{what} at offset {offset} is malformed")]
    Malformed {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read.
        what: &'static str,
    },
    /// A version other than v1, v2 or v3 (RFC 5280 4.1.2.1).
    #[error("unsupported certificate version {version} (only v1, v2 and v3 exist)")]
    UnsupportedVersion {
        /// The encoded version number plus one, as certificates are described (v4 = 3).
        version: u64,
    },
    /// A validity time that is neither a UTCTime nor a GeneralizedTime that certslot can read
    /// (RFC 5280 4.1.2.5).
    #[error("{what} at offset {offset} is not a valid time: {text:?}")]
    InvalidTime {
        /// Offset of the item's identifier octet.
        offset: usize,
        /// The field being read (`notBefore` or `notAfter`).
        what: &'static str,
        /// The time's characters, lossily decoded.
        text: String,
    },
    /// Constructed items nest deeper than the reader allows (a hostile input's way to exhaust
    /// the stack).
    #[error("{what} at offset {offset} nests deeper than {max} levels")]
    TooDeep {
        /// Offset of the item that went one level too deep.
        offset: usize,
        /// The structure being read.
        what: &'static str,
        /// The deepest nesting allowed.
        max: usize,
    },
    /// A PEM input holds no certificate block (labels `CERTIFICATE`, `X509 CERTIFICATE`,
    /// `TRUSTED CERTIFICATE`).
    #[error("no PEM certificate block found{}", found_labels(labels))]
    NoPemCertificate {
        /// Labels of the blocks that were found and skipped, in order.
        labels: Vec<String>,
    },
    /// A PEM block whose `-----END` line is missing.
    #[error("PEM block {label:?} that begins on line {line} has no END line")]
    PemUnterminated {
        /// The block's label.
        label: String,
        /// The 1-based line of its BEGIN line.
        line: usize,
    },
    /// A PEM block whose END label differs from its BEGIN label.
    #[error("PEM block begins as {begin:?} but ends as {end:?} on line {line}")]
    PemLabelMismatch {
        /// The label of the BEGIN line.
        begin: String,
        /// The label of the END line.
        end: String,
        /// The 1-based line of the END line.
        line: usize,
    },
    /// A PEM body that is not valid Base64.
    #[error("PEM body is not valid Base64 at line {line}, column {column}")]
    PemBase64 {
        /// The 1-based line of the offending character.
        line: usize,
        /// The 1-based column of the offending character (0 for a missing final quantum).
        column: usize,
    },
    /// A certificate inside a PEM block failed to parse.
    #[error("PEM certificate block {index} (line {line}): {source}")]
    PemBlock {
        /// The 0-based index of the certificate block among the certificate blocks.
        index: usize,
        /// The 1-based line of its BEGIN line.
        line: usize,
        /// Why the block's DER did not parse.
        #[source]
        source: Box<ParseError>,
    },
}

fn found_labels(labels: &[String]) -> String {
    if labels.is_empty() { String::new() } else { format!(" (found: {})", labels.join(", ")) }
}

/// Why one fact of a parsed certificate is unavailable.
///
/// A certificate whose outer structure is sound is always read; a malformed extension or key makes
/// only the fact that depends on it unavailable, and asking for that fact returns this error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FactError {
    /// An extension's value does not decode as its type requires.
    #[error("extension {extension} at offset {offset} is malformed")]
    MalformedExtension {
        /// The extension's OID.
        extension: ObjectIdentifier,
        /// Offset of the extension's value (the OCTET STRING content) in the certificate.
        offset: usize,
    },
    /// An extension appears more than once (RFC 5280 4.2 forbids it), so which one applies is
    /// ambiguous.
    #[error("extension {extension} appears {count} times")]
    DuplicateExtension {
        /// The extension's OID.
        extension: ObjectIdentifier,
        /// How many times it appears.
        count: usize,
    },
    /// The subject public key does not decode as its algorithm requires.
    #[error("the {algorithm} public key is malformed")]
    MalformedPublicKey {
        /// The key's algorithm, as named by `SubjectPublicKeyInfo.algorithm`.
        algorithm: String,
    },
}

/// Why text is not a certificate thumbprint.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ThumbprintError {
    /// A character that is neither a hex digit nor a separator that admins paste.
    #[error("invalid character {character:?} (U+{:04X}) at position {position}", u32::from(*character))]
    InvalidCharacter {
        /// The character.
        character: char,
        /// Its 0-based position, counted in characters.
        position: usize,
    },
    /// The wrong number of hex digits.
    #[error("a thumbprint has {expected} hex digits, found {digits}")]
    WrongLength {
        /// Hex digits found.
        digits: usize,
        /// Hex digits required (40 for SHA-1, 64 for SHA-256).
        expected: usize,
    },
}

/// Why a validation policy cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The SIP domain is not a domain name that can be matched.
    #[error("invalid SIP domain {domain:?}: {reason}")]
    InvalidSipDomain {
        /// The domain as given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The key rule accepts no algorithm at all.
    #[error("the key rule accepts no key algorithm")]
    NoKeyAlgorithm,
    /// A minimum key size that no key can meet or that makes the rule meaningless.
    #[error("minimum {algorithm} key size {bits} bits is outside {min}..={max}")]
    KeySizeOutOfRange {
        /// `"RSA"` or `"EC"`.
        algorithm: &'static str,
        /// The requested minimum.
        bits: u32,
        /// The smallest accepted minimum.
        min: u32,
        /// The largest accepted minimum.
        max: u32,
    },
    /// The usage rule requires an extended key usage but lists none.
    #[error("the usage rule requires an extended key usage but lists none")]
    NoExtendedKeyUsage,
}

/// Why a PFX (PKCS #12) file could not be imported.
///
/// No variant carries the password or any key material.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PfxError {
    /// The file is not a PKCS #12 structure, or is truncated or corrupt.
    #[error("not a readable PKCS #12 file: {0}")]
    Corrupt(#[from] ParseError),
    /// A PFX version other than 3 (RFC 7292 4).
    #[error("unsupported PFX version {version} (expected 3)")]
    UnsupportedVersion {
        /// The version found.
        version: u64,
    },
    /// The password is wrong: the MAC does not verify, or (without a MAC) no form of the
    /// password decrypts the contents.
    #[error("wrong password ({check})")]
    WrongPassword {
        /// What showed it.
        check: PasswordCheck,
    },
    /// An algorithm certslot does not implement (or refuses, such as scrypt with unbounded
    /// memory), by OID.
    #[error("unsupported {context} algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where it appears: `"MAC"`, `"encryption"`, `"content type"`, `"PBES2 key derivation"`, ...
        context: &'static str,
        /// The algorithm's OID.
        oid: ObjectIdentifier,
    },
    /// The parameters of an algorithm are malformed or out of range (a key length that does
    /// not fit the cipher, an IV of the wrong size).
    #[error("invalid {context} parameters")]
    InvalidParameters {
        /// Where they appear.
        context: &'static str,
    },
    /// A key derivation asks for more iterations than the import allows.
    #[error("{context} asks for {iterations} iterations; at most {max} allowed")]
    TooManyIterations {
        /// Which derivation.
        context: &'static str,
        /// The iterations the file asks for.
        iterations: u64,
        /// The limit ([`crate::ImportOptions::max_iterations`]).
        max: u32,
    },
    /// All key derivations of the file together ask for more iterations than the import allows.
    #[error("the file asks for {iterations} key-derivation iterations in all; at most {max} allowed")]
    TooMuchWork {
        /// The sum of the iterations the file asks for so far.
        iterations: u64,
        /// The limit ([`crate::ImportOptions::max_total_iterations`]).
        max: u64,
    },
    /// The file holds no certificate, and the import requires one.
    #[error("the file holds no certificate")]
    NoCertificate,
    /// The file holds no private key, and the import requires one.
    #[error("the file holds no private key")]
    NoPrivateKey,
    /// The private key matches none of the certificates (RSA modulus and exponent, EC point).
    #[error("the private key matches none of the {} certificates ({})", thumbprints.len(), list(thumbprints))]
    KeyMismatch {
        /// Thumbprints of the certificates in the file.
        thumbprints: Vec<crate::Thumbprint>,
    },
    /// A certificate bag holds bytes that are not a certificate.
    #[error("certificate {index} in the file: {source}")]
    BadCertificate {
        /// 0-based index among the certificate bags.
        index: usize,
        /// Why it did not parse.
        #[source]
        source: ParseError,
    },
    /// A decrypted private key is not a PKCS #8 structure certslot can read.
    #[error("the private key is malformed ({what})")]
    BadPrivateKey {
        /// What could not be read.
        what: &'static str,
    },
}

fn list(items: &[impl core::fmt::Display]) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// What showed a password to be wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PasswordCheck {
    /// The MAC did not verify with any form of the password.
    Mac,
    /// There is no MAC, and no form of the password decrypts the contents.
    Decryption,
}

impl core::fmt::Display for PasswordCheck {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Mac => "the integrity MAC does not verify",
            Self::Decryption => "the contents do not decrypt",
        })
    }
}

/// Why a PFX could not be written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The private key does not match the certificate's public key.
    #[error("the private key does not match certificate {thumbprint}")]
    KeyMismatch {
        /// The certificate's thumbprint.
        thumbprint: crate::Thumbprint,
    },
    /// An iteration count outside 1..=10,000,000.
    #[error("iteration count {iterations} is outside 1..=10000000")]
    InvalidIterations {
        /// The count asked for.
        iterations: u32,
    },
    /// The encryption failed (the cipher refused its key or input).
    #[error("encryption failed")]
    Encryption,
}

/// Why a store or slot operation was refused. A refused operation changes nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SlotError {
    /// A name (type, scope, site, pool, server) that cannot be used.
    #[error("invalid {kind} name {name:?}")]
    InvalidName {
        /// What the name names.
        kind: &'static str,
        /// The name as given.
        name: String,
    },
    /// No certificate with this thumbprint is in the store's inventory.
    #[error("no certificate {thumbprint} in the store")]
    UnknownCertificate {
        /// The thumbprint asked for.
        thumbprint: crate::Thumbprint,
    },
    /// The site, pool or server is not in the topology.
    #[error("unknown {kind} {name}")]
    UnknownTopology {
        /// `"site"`, `"pool"` or `"server"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// The name is already in the topology with another parent.
    #[error("{kind} {name} already exists")]
    AlreadyExists {
        /// `"site"`, `"pool"` or `"server"`.
        kind: &'static str,
        /// Its name.
        name: String,
    },
    /// An operation needs a current certificate and the slot has none.
    #[error("no current {cert_type} certificate at {scope}")]
    NoCurrent {
        /// The type.
        cert_type: crate::CertType,
        /// The scope.
        scope: crate::Scope,
    },
    /// An operation needs a previous certificate and the slot has none.
    #[error("no previous {cert_type} certificate at {scope}")]
    NoPrevious {
        /// The type.
        cert_type: crate::CertType,
        /// The scope.
        scope: crate::Scope,
    },
    /// No roll is pending.
    #[error("no {cert_type} roll is pending at {scope}")]
    NoPendingRoll {
        /// The type.
        cert_type: crate::CertType,
        /// The scope.
        scope: crate::Scope,
    },
    /// The certificate is already the current one.
    #[error("{thumbprint} is already the current {cert_type} certificate at {scope}")]
    AlreadyCurrent {
        /// The type.
        cert_type: crate::CertType,
        /// The scope.
        scope: crate::Scope,
        /// The certificate.
        thumbprint: crate::Thumbprint,
    },
    /// The effective date is before the instant of the request.
    #[error("effective date {effective_at} is before {at}")]
    EffectiveInPast {
        /// The requested effective date.
        effective_at: OffsetDateTime,
        /// The instant of the request.
        at: OffsetDateTime,
    },
    /// The certificate is not valid at the effective date.
    #[error("{thumbprint} is valid {not_before} to {not_after}, not at {effective_at}")]
    NotValidAtEffective {
        /// The certificate.
        thumbprint: crate::Thumbprint,
        /// The effective date.
        effective_at: OffsetDateTime,
        /// Its `notBefore`.
        not_before: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
    },
    /// The certificate expires within the type's lead time after the effective date.
    #[error("{thumbprint} expires at {not_after}, within the lead time of {lead_time} after {effective_at}")]
    ExpiresWithinLeadTime {
        /// The certificate.
        thumbprint: crate::Thumbprint,
        /// The effective date.
        effective_at: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
        /// The lead time.
        lead_time: Duration,
    },
    /// The current certificate would expire (or enter its lead time) before the roll takes effect.
    #[error(
        "the current certificate {current} expires at {not_after}: a roll must take effect by {latest}, not {effective_at}"
    )]
    CurrentExpiresFirst {
        /// The current certificate.
        current: crate::Thumbprint,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
        /// The latest effective date the lead time allows (`not_after - lead_time`).
        latest: OffsetDateTime,
        /// The requested effective date.
        effective_at: OffsetDateTime,
    },
    /// The certificate breaks the type's policy.
    #[error("{thumbprint} breaks the {cert_type} policy: {}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    PolicyViolations {
        /// The type.
        cert_type: crate::CertType,
        /// The certificate.
        thumbprint: crate::Thumbprint,
        /// Every violation.
        violations: Vec<crate::Violation>,
    },
    /// The type needs the private key and the store does not hold it.
    #[error("{cert_type} needs the private key of {thumbprint}, which the store does not hold")]
    NoPrivateKey {
        /// The type.
        cert_type: crate::CertType,
        /// The certificate.
        thumbprint: crate::Thumbprint,
    },
    /// The previous certificate is no longer valid.
    #[error("the previous certificate {thumbprint} is not valid at {at} (valid {not_before} to {not_after})")]
    PreviousNotValid {
        /// The previous certificate.
        thumbprint: crate::Thumbprint,
        /// The instant of the request.
        at: OffsetDateTime,
        /// Its `notBefore`.
        not_before: OffsetDateTime,
        /// Its `notAfter`.
        not_after: OffsetDateTime,
    },
    /// An instant earlier than one the store has already seen.
    #[error("{at} is earlier than {last}, which the store has already seen")]
    TimeWentBackwards {
        /// The instant given.
        at: OffsetDateTime,
        /// The latest instant the store has seen.
        last: OffsetDateTime,
    },
    /// A certificate still referenced by a slot cannot be removed from the inventory.
    #[error("{thumbprint} is still assigned ({cert_type} at {scope})")]
    StillAssigned {
        /// The certificate.
        thumbprint: crate::Thumbprint,
        /// One type referencing it.
        cert_type: crate::CertType,
        /// Its scope.
        scope: crate::Scope,
    },
    /// No type given to a multi-type call.
    #[error("no certificate type given")]
    NoType,
}
