//! Certificate extensions and the typed facts certslot reads from them.
//!
//! ```text
//! Extension ::= SEQUENCE {
//!     extnID      OBJECT IDENTIFIER,
//!     critical    BOOLEAN DEFAULT FALSE,
//!     extnValue   OCTET STRING }
//! ```
//! ([RFC 5280 4.1](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1))
//!
//! Key usage, basic constraints and subject alternative names are read by hand: real
//! certificates encode `cA FALSE` explicitly, pad key-usage bit strings with zero octets, and put
//! x400Address or unsorted directory names in their SANs, which `x509-cert`'s strict DER types
//! refuse. The key identifiers are read by hand too: only the `keyIdentifier` of an authority
//! key identifier is needed, and its `authorityCertIssuer` holds the same general names.
//! Extended key usage is decoded with `x509-cert`.

use core::fmt;
use core::net::IpAddr;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5280;
use der::Decode as _;

use crate::x509::algorithm::NO_OID;
use crate::x509::name::{Name, StringKind, decode_string};
use crate::x509::tlv::{self, Reader, Tlv, tag};

// The extensions this file reads, named after them; their OIDs are const-oid's.
/// `id-ce-subjectKeyIdentifier` (RFC 5280 4.2.1.2).
pub const SUBJECT_KEY_IDENTIFIER: ObjectIdentifier = rfc5280::ID_CE_SUBJECT_KEY_IDENTIFIER;
/// `id-ce-keyUsage` (RFC 5280 4.2.1.3).
pub const KEY_USAGE: ObjectIdentifier = rfc5280::ID_CE_KEY_USAGE;
/// `id-ce-subjectAltName` (RFC 5280 4.2.1.6).
pub const SUBJECT_ALT_NAME: ObjectIdentifier = rfc5280::ID_CE_SUBJECT_ALT_NAME;
/// `id-ce-basicConstraints` (RFC 5280 4.2.1.9).
pub const BASIC_CONSTRAINTS: ObjectIdentifier = rfc5280::ID_CE_BASIC_CONSTRAINTS;
/// `id-ce-authorityKeyIdentifier` (RFC 5280 4.2.1.1).
pub const AUTHORITY_KEY_IDENTIFIER: ObjectIdentifier = rfc5280::ID_CE_AUTHORITY_KEY_IDENTIFIER;
/// `id-ce-extKeyUsage` (RFC 5280 4.2.1.12).
pub const EXT_KEY_USAGE: ObjectIdentifier = rfc5280::ID_CE_EXT_KEY_USAGE;

/// Extended key usage purposes (RFC 5280 4.2.1.12).
pub mod eku {
    use const_oid::ObjectIdentifier;
    use const_oid::db::rfc5280;

    /// `anyExtendedKeyUsage` (2.5.29.37.0).
    pub const ANY: ObjectIdentifier = rfc5280::ANY_EXTENDED_KEY_USAGE;
    /// `id-kp-serverAuth`: TLS server authentication.
    pub const SERVER_AUTH: ObjectIdentifier = rfc5280::ID_KP_SERVER_AUTH;
    /// `id-kp-clientAuth`: TLS client authentication.
    pub const CLIENT_AUTH: ObjectIdentifier = rfc5280::ID_KP_CLIENT_AUTH;
    /// `id-kp-codeSigning`.
    pub const CODE_SIGNING: ObjectIdentifier = rfc5280::ID_KP_CODE_SIGNING;
    /// `id-kp-emailProtection`.
    pub const EMAIL_PROTECTION: ObjectIdentifier = rfc5280::ID_KP_EMAIL_PROTECTION;
    /// `id-kp-timeStamping`.
    pub const TIME_STAMPING: ObjectIdentifier = rfc5280::ID_KP_TIME_STAMPING;
    /// `id-kp-OCSPSigning`.
    pub const OCSP_SIGNING: ObjectIdentifier = rfc5280::ID_KP_OCSP_SIGNING;
}

/// One extension of a certificate, borrowed from it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    pub(super) oid: &'a [u8],
    pub(super) critical: bool,
    pub(super) value: &'a [u8],
    pub(super) value_offset: usize,
}

impl<'a> Extension<'a> {
    /// Reads one `Extension` (RFC 5280 4.1), returning it and the offset of its OID's content.
    /// A `critical` field that is not a valid BOOLEAN is a structural error; so is an `extnID`
    /// that is not an OID.
    pub(crate) fn parse(tlv: Tlv<'a>) -> Result<(Self, usize), crate::x509::ParseError> {
        let mut fields = tlv.expect(tag::SEQUENCE, "Extension")?.reader();
        let oid = fields.read_expected(tag::OID, "extnID")?;
        if ObjectIdentifier::from_bytes(oid.value).is_err() {
            return Err(crate::x509::ParseError::Malformed { offset: oid.offset, what: "extnID" });
        }
        // X.690 8.2: BER reads any non-zero octet as TRUE; DER writes 0xFF. DEFAULT FALSE may
        // also be written explicitly by older encoders.
        let critical = match fields.read_optional(tag::BOOLEAN, "critical")? {
            Some(b) => match b.value {
                [v] => *v != 0,
                _ => return Err(crate::x509::ParseError::Malformed { offset: b.offset, what: "critical" }),
            },
            None => false,
        };
        let value = fields.read_expected(tag::OCTET_STRING, "extnValue")?;
        fields.finish("Extension")?;
        let parsed =
            Self { oid: oid.value, critical, value: value.value, value_offset: value.value_offset() };
        Ok((parsed, oid.value_offset()))
    }

    /// The extension's OID.
    pub fn oid(&self) -> ObjectIdentifier {
        // Checked when the certificate was parsed.
        ObjectIdentifier::from_bytes(self.oid).unwrap_or(NO_OID)
    }

    /// The `critical` flag.
    pub fn critical(&self) -> bool {
        self.critical
    }

    /// The extension's value: the content of `extnValue`.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }

    /// Offset of the value in the certificate's DER.
    pub fn value_offset(&self) -> usize {
        self.value_offset
    }

    /// True for the extensions certslot reads into typed facts.
    pub fn is_known(&self) -> bool {
        [KEY_USAGE, SUBJECT_ALT_NAME, BASIC_CONSTRAINTS, EXT_KEY_USAGE]
            .iter()
            .any(|o| o.as_bytes() == self.oid)
    }
}

impl fmt::Debug for Extension<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Extension")
            .field("oid", &self.oid())
            .field("critical", &self.critical)
            .field("len", &self.value.len())
            .finish()
    }
}

/// The key usage bits (RFC 5280 4.2.1.3).
///
/// ```text
/// KeyUsage ::= BIT STRING { digitalSignature (0), nonRepudiation (1), keyEncipherment (2),
///     dataEncipherment (3), keyAgreement (4), keyCertSign (5), cRLSign (6), encipherOnly (7),
///     decipherOnly (8) }
/// ```
///
/// `Display` writes the set bits' names as OpenSSL does, separated by `, `.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct KeyUsage(u16);

/// One key usage bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum KeyUsageBit {
    /// `digitalSignature` (0): verifying signatures other than on certificates and CRLs.
    DigitalSignature = 0,
    /// `nonRepudiation` / `contentCommitment` (1).
    NonRepudiation = 1,
    /// `keyEncipherment` (2).
    KeyEncipherment = 2,
    /// `dataEncipherment` (3).
    DataEncipherment = 3,
    /// `keyAgreement` (4).
    KeyAgreement = 4,
    /// `keyCertSign` (5).
    KeyCertSign = 5,
    /// `cRLSign` (6).
    CrlSign = 6,
    /// `encipherOnly` (7).
    EncipherOnly = 7,
    /// `decipherOnly` (8).
    DecipherOnly = 8,
}

const KEY_USAGE_NAMES: [(KeyUsageBit, &str); 9] = [
    (KeyUsageBit::DigitalSignature, "digitalSignature"),
    (KeyUsageBit::NonRepudiation, "nonRepudiation"),
    (KeyUsageBit::KeyEncipherment, "keyEncipherment"),
    (KeyUsageBit::DataEncipherment, "dataEncipherment"),
    (KeyUsageBit::KeyAgreement, "keyAgreement"),
    (KeyUsageBit::KeyCertSign, "keyCertSign"),
    (KeyUsageBit::CrlSign, "cRLSign"),
    (KeyUsageBit::EncipherOnly, "encipherOnly"),
    (KeyUsageBit::DecipherOnly, "decipherOnly"),
];

impl KeyUsageBit {
    /// The bit's name in RFC 5280 (`digitalSignature`, ...).
    pub fn name(self) -> &'static str {
        KEY_USAGE_NAMES.iter().find(|(b, _)| *b == self).map_or("", |(_, n)| n)
    }
}

impl KeyUsage {
    /// Key usage from bits, bit `n` of the mask being RFC 5280's bit `n`.
    pub const fn from_mask(mask: u16) -> Self {
        Self(mask & 0x01FF)
    }

    /// The bits as a mask, bit `n` of the mask being RFC 5280's bit `n`.
    pub const fn mask(self) -> u16 {
        self.0
    }

    /// True when `bit` is set.
    pub fn contains(self, bit: KeyUsageBit) -> bool {
        self.0 & (1 << bit as u16) != 0
    }

    /// True when `digitalSignature` is set: the key may sign tokens.
    pub fn digital_signature(self) -> bool {
        self.contains(KeyUsageBit::DigitalSignature)
    }

    /// The set bits, in bit order.
    pub fn bits(self) -> impl Iterator<Item = KeyUsageBit> {
        KEY_USAGE_NAMES.into_iter().map(|(b, _)| b).filter(move |b| self.contains(*b))
    }

    /// Reads the BIT STRING. Bits past `decipherOnly` and zero padding octets are ignored.
    fn decode(value: &[u8]) -> Option<Self> {
        let bits = tlv::read_single(value, tag::BIT_STRING, "KeyUsage").ok()?;
        let (&unused, octets) = bits.value.split_first()?;
        if unused > 7 || (octets.is_empty() && unused != 0) {
            return None;
        }
        let first = u16::from(octets.first().copied().unwrap_or(0));
        let second = u16::from(octets.get(1).copied().unwrap_or(0));
        // Bit 0 is the most significant bit of the first octet (X.690 8.6.2).
        let mask = (0..8).filter(|i| first & (0x80 >> i) != 0).fold(0u16, |m, i| m | 1 << i)
            | if second & 0x80 != 0 { 1 << 8 } else { 0 };
        Some(Self(mask))
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, bit) in self.bits().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(bit.name())?;
        }
        Ok(())
    }
}

impl fmt::Debug for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyUsage({self})")
    }
}

/// Basic constraints (RFC 5280 4.2.1.9).
///
/// ```text
/// BasicConstraints ::= SEQUENCE {
///     cA                      BOOLEAN DEFAULT FALSE,
///     pathLenConstraint       INTEGER (0..MAX) OPTIONAL }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BasicConstraints {
    /// True for a CA certificate.
    pub ca: bool,
    /// The maximum number of intermediate CAs below this one, if limited.
    pub path_len: Option<u32>,
}

impl BasicConstraints {
    fn decode(value: &[u8]) -> Option<Self> {
        let seq = tlv::read_single(value, tag::SEQUENCE, "BasicConstraints").ok()?;
        let mut fields = seq.reader();
        let ca = match fields.read_optional(tag::BOOLEAN, "cA").ok()? {
            Some(b) => match b.value {
                [v] => *v != 0,
                _ => return None,
            },
            None => false,
        };
        let path_len = match fields.read_optional(tag::INTEGER, "pathLenConstraint").ok()? {
            Some(i) => Some(u32::try_from(tlv::small_uint(i.value)?).ok()?),
            None => None,
        };
        fields.finish("BasicConstraints").ok()?;
        Some(Self { ca, path_len })
    }
}

/// One subject alternative name (RFC 5280 4.2.1.6).
///
/// ```text
/// GeneralName ::= CHOICE {
///     otherName [0] OtherName, rfc822Name [1] IA5String, dNSName [2] IA5String,
///     x400Address [3] ORAddress, directoryName [4] Name, ediPartyName [5] EDIPartyName,
///     uniformResourceIdentifier [6] IA5String, iPAddress [7] OCTET STRING,
///     registeredID [8] OBJECT IDENTIFIER }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GeneralName {
    /// `dNSName`, as encoded (certificates carry IDNs in A-label form). Like `Uri` and `Email`
    /// it is an IA5String: octets that are valid UTF-8 (raw UTF-8 such as `bücher.example`,
    /// which RFC 5280 does not allow but issuers write) read as UTF-8, as Python `cryptography`
    /// reads them; any other non-ASCII octets read as ISO 8859-1, one character each.
    Dns(String),
    /// `iPAddress` of 4 or 16 octets.
    Ip(IpAddr),
    /// `uniformResourceIdentifier` (IA5String, read as `Dns` is).
    Uri(String),
    /// `rfc822Name`, an email address (IA5String, read as `Dns` is).
    Email(String),
    /// `directoryName`, in RFC 4514 form.
    DirectoryName(String),
    /// `registeredID`.
    RegisteredId(ObjectIdentifier),
    /// `otherName`, such as a Windows user principal name (1.3.6.1.4.1.311.20.2.3).
    OtherName {
        /// The `type-id` OID.
        type_id: ObjectIdentifier,
        /// The DER of the `[0] EXPLICIT` value.
        value: Vec<u8>,
    },
    /// Any other form (x400Address, ediPartyName, or a name whose content does not decode),
    /// with its context tag number and the DER of the whole item.
    Other {
        /// The context-specific tag number (0 to 8).
        tag: u8,
        /// The DER of the whole item.
        der: Vec<u8>,
    },
}

impl GeneralName {
    fn decode(item: Tlv<'_>) -> Self {
        let other = || Self::Other { tag: item.tag & 0x1F, der: item.raw.to_vec() };
        let text = || decode_string(StringKind::Ia5, item.value).unwrap_or_default();
        match item.tag {
            0x82 => Self::Dns(text()),
            0x81 => Self::Email(text()),
            0x86 => Self::Uri(text()),
            0x87 => match item.value.len() {
                4 => <[u8; 4]>::try_from(item.value).map_or_else(|_| other(), |o| Self::Ip(IpAddr::from(o))),
                16 => {
                    <[u8; 16]>::try_from(item.value).map_or_else(|_| other(), |o| Self::Ip(IpAddr::from(o)))
                }
                _ => other(),
            },
            0x88 => ObjectIdentifier::from_bytes(item.value).map_or_else(|_| other(), Self::RegisteredId),
            0xA4 => Reader::new(item.value)
                .read("directoryName")
                .and_then(|t| Name::parse(t, "directoryName"))
                .map_or_else(|_| other(), |n| Self::DirectoryName(n.to_string())),
            0xA0 => {
                // OtherName ::= SEQUENCE { type-id OBJECT IDENTIFIER, value [0] EXPLICIT ANY }
                let mut fields = item.reader();
                let parsed = fields
                    .read_expected(tag::OID, "type-id")
                    .ok()
                    .and_then(|oid| ObjectIdentifier::from_bytes(oid.value).ok())
                    .zip(fields.read_expected(0xA0, "value").ok());
                match parsed {
                    Some((type_id, value)) => Self::OtherName { type_id, value: value.value.to_vec() },
                    None => other(),
                }
            }
            _ => other(),
        }
    }
}

impl fmt::Display for GeneralName {
    /// The form OpenSSL and Windows show: `DNS:sip.contoso.com`, `IP Address:10.0.0.5`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dns(name) => write!(f, "DNS:{name}"),
            Self::Ip(ip) => write!(f, "IP Address:{ip}"),
            Self::Uri(uri) => write!(f, "URI:{uri}"),
            Self::Email(email) => write!(f, "email:{email}"),
            Self::DirectoryName(name) => write!(f, "DirName:{name}"),
            Self::RegisteredId(oid) => write!(f, "Registered ID:{oid}"),
            Self::OtherName { type_id, .. } => write!(f, "othername:{type_id}"),
            Self::Other { tag, .. } => write!(f, "[{tag}]"),
        }
    }
}

/// Reads `SubjectAltName ::= GeneralNames ::= SEQUENCE SIZE (1..MAX) OF GeneralName`.
/// An empty SEQUENCE (which the SIZE forbids) reads as no names.
pub(crate) fn decode_san(value: &[u8]) -> Option<Vec<GeneralName>> {
    let seq = tlv::read_single(value, tag::SEQUENCE, "GeneralNames").ok()?;
    let mut names = Reader::new(seq.value);
    let mut out = Vec::new();
    while !names.is_empty() {
        let item = names.read("GeneralName").ok()?;
        if item.tag & 0xC0 != 0x80 {
            return None;
        }
        out.push(GeneralName::decode(item));
    }
    Some(out)
}

pub(crate) fn decode_key_usage(value: &[u8]) -> Option<KeyUsage> {
    KeyUsage::decode(value)
}

pub(crate) fn decode_basic_constraints(value: &[u8]) -> Option<BasicConstraints> {
    BasicConstraints::decode(value)
}

/// Reads a subject key identifier
/// ([RFC 5280 4.2.1.2](https://datatracker.ietf.org/doc/html/rfc5280#section-4.2.1.2)):
///
/// ```text
/// SubjectKeyIdentifier ::= KeyIdentifier
/// KeyIdentifier ::= OCTET STRING
/// ```
pub(crate) fn decode_subject_key_identifier(value: &[u8]) -> Option<&[u8]> {
    tlv::read_single(value, tag::OCTET_STRING, "SubjectKeyIdentifier").ok().map(|ki| ki.value)
}

/// Reads the `keyIdentifier` of an authority key identifier
/// ([RFC 5280 4.2.1.1](https://datatracker.ietf.org/doc/html/rfc5280#section-4.2.1.1)),
/// `Some(None)` when the extension carries only the issuer's name and serial number:
///
/// ```text
/// AuthorityKeyIdentifier ::= SEQUENCE {
///     keyIdentifier             [0] KeyIdentifier           OPTIONAL,
///     authorityCertIssuer       [1] GeneralNames            OPTIONAL,
///     authorityCertSerialNumber [2] CertificateSerialNumber OPTIONAL  }
/// ```
///
/// The fields are IMPLICIT (RFC 5280 Appendix A.2): `[0]` is a primitive OCTET STRING's
/// content, `[1]` the constructed GeneralNames (not read), `[2]` the INTEGER's content.
pub(crate) fn decode_authority_key_identifier(value: &[u8]) -> Option<Option<&[u8]>> {
    let seq = tlv::read_single(value, tag::SEQUENCE, "AuthorityKeyIdentifier").ok()?;
    let mut fields = seq.reader();
    let key_identifier = fields.read_optional(0x80, "keyIdentifier").ok()?;
    fields.read_optional(0xA1, "authorityCertIssuer").ok()?;
    fields.read_optional(0x82, "authorityCertSerialNumber").ok()?;
    fields.finish("AuthorityKeyIdentifier").ok()?;
    Some(key_identifier.map(|ki| ki.value))
}

/// Reads `ExtKeyUsageSyntax ::= SEQUENCE SIZE (1..MAX) OF KeyPurposeId` with `x509-cert`.
pub(crate) fn decode_eku(value: &[u8]) -> Option<Vec<ObjectIdentifier>> {
    x509_cert::ext::pkix::ExtendedKeyUsage::from_der(value).ok().map(|eku| eku.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_usage_reads_bits_in_x690_order() {
        // digitalSignature + keyEncipherment: 03 02 05 A0
        let ku = KeyUsage::decode(&[0x03, 0x02, 0x05, 0xA0]);
        assert_eq!(ku.map(|k| k.to_string()).as_deref(), Some("digitalSignature, keyEncipherment"));
        // decipherOnly lives in the second octet; a trailing zero octet is tolerated.
        let ku = KeyUsage::decode(&[0x03, 0x04, 0x07, 0x80, 0x80, 0x00]);
        assert_eq!(ku.map(KeyUsage::mask), Some(0x0101));
        assert_eq!(KeyUsage::decode(&[0x03, 0x01, 0x01]), None);
        assert_eq!(KeyUsage::decode(&[0x04, 0x00]), None);
    }

    #[test]
    fn basic_constraints_tolerate_explicit_default() {
        assert_eq!(
            BasicConstraints::decode(&[0x30, 0x00]),
            Some(BasicConstraints { ca: false, path_len: None })
        );
        assert_eq!(
            BasicConstraints::decode(&[0x30, 0x06, 0x01, 0x01, 0x00, 0x02, 0x01, 0x03]),
            Some(BasicConstraints { ca: false, path_len: Some(3) })
        );
        assert_eq!(BasicConstraints::decode(&[0x30, 0x03, 0x02, 0x01, 0xFF]), None);
    }

    #[test]
    fn key_identifiers_read_as_encoded() {
        assert_eq!(decode_subject_key_identifier(&[0x04, 0x02, 0xAB, 0xCD]), Some(&[0xAB, 0xCD][..]));
        assert_eq!(decode_subject_key_identifier(&[0x30, 0x00]), None);
        assert_eq!(decode_subject_key_identifier(&[0x04, 0x01, 0x00, 0x00]), None, "trailing octet");
        // keyIdentifier alone, as CAs write it.
        assert_eq!(decode_authority_key_identifier(&[0x30, 0x03, 0x80, 0x01, 0x07]), Some(Some(&[0x07][..])));
        // All three fields: the issuer's names (here an empty GeneralNames) are skipped unread.
        let all = [0x30, 0x0A, 0x80, 0x02, 0x01, 0x02, 0xA1, 0x00, 0x82, 0x02, 0x0C, 0x02];
        assert_eq!(decode_authority_key_identifier(&all), Some(Some(&[0x01, 0x02][..])));
        // Name and serial only: no key identifier.
        assert_eq!(decode_authority_key_identifier(&[0x30, 0x05, 0xA1, 0x00, 0x82, 0x01, 0x01]), Some(None));
        assert_eq!(decode_authority_key_identifier(&[0x30, 0x00]), Some(None));
        // Out of order, an unknown field, not a SEQUENCE.
        assert_eq!(decode_authority_key_identifier(&[0x30, 0x05, 0x82, 0x01, 0x01, 0x80, 0x00]), None);
        assert_eq!(decode_authority_key_identifier(&[0x30, 0x02, 0x83, 0x00]), None);
        assert_eq!(decode_authority_key_identifier(&[0x04, 0x01, 0x07]), None);
    }

    #[test]
    fn san_keeps_unknown_forms() {
        let san = decode_san(&[0x30, 0x0A, 0x82, 0x01, b'a', 0x87, 0x02, 1, 2, 0xA3, 0x01, 0x00]);
        assert_eq!(
            san,
            Some(vec![
                GeneralName::Dns("a".into()),
                GeneralName::Other { tag: 7, der: vec![0x87, 0x02, 1, 2] },
                GeneralName::Other { tag: 3, der: vec![0xA3, 0x01, 0x00] },
            ])
        );
        assert_eq!(decode_san(&[0x30, 0x03, 0x04, 0x01, 0x00]), None);
    }

    /// SAN entries of `(tag, content)` as the DER of `GeneralNames`.
    fn san_der(items: &[(u8, &[u8])]) -> Vec<u8> {
        let content: Vec<u8> = items
            .iter()
            .flat_map(|(t, v)| [&[*t, u8::try_from(v.len()).unwrap_or(0)][..], *v].concat())
            .collect();
        [&[0x30, u8::try_from(content.len()).unwrap_or(0)][..], &content].concat()
    }

    #[test]
    fn ia5_names_read_raw_utf8_as_utf8() {
        // dNSName `bücher.example`, rfc822Name `jürgen@bücher.example`, URI `https://bücher.example/ä`,
        // all as raw UTF-8 octets (ü = C3 BC, ä = C3 A4).
        let san = decode_san(&san_der(&[
            (0x82, "bücher.example".as_bytes()),
            (0x82, b"sip.contoso.com"),
            (0x81, "jürgen@bücher.example".as_bytes()),
            (0x86, "https://bücher.example/ä".as_bytes()),
        ]));
        assert_eq!(
            san,
            Some(vec![
                GeneralName::Dns("bücher.example".into()),
                GeneralName::Dns("sip.contoso.com".into()),
                GeneralName::Email("jürgen@bücher.example".into()),
                GeneralName::Uri("https://bücher.example/ä".into()),
            ])
        );
    }

    #[test]
    fn ia5_names_that_are_not_utf8_read_as_iso_8859_1() {
        // `straße.example` and `jürgen@contoso.com` in ISO 8859-1 (ß = DF, ü = FC): not UTF-8,
        // so each octet is one character, as before UTF-8 was read. C3 alone (a UTF-8 lead octet
        // with no continuation) reads as `Ã`.
        let san = decode_san(&san_der(&[
            (0x82, b"stra\xDFe.example"),
            (0x81, b"j\xFCrgen@contoso.com"),
            (0x86, b"https://a.example/\xC3"),
        ]));
        assert_eq!(
            san,
            Some(vec![
                GeneralName::Dns("straße.example".into()),
                GeneralName::Email("jürgen@contoso.com".into()),
                GeneralName::Uri("https://a.example/Ã".into()),
            ])
        );
    }
}
