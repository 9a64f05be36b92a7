//! Why bytes could not be read as a certificate, why a fact is unavailable, why text is not a thumbprint.

use const_oid::ObjectIdentifier;

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
