//! Distinguished names: typed access to their attributes and the RFC 4514 string form.
//!
//! ```text
//! Name ::= CHOICE { rdnSequence  RDNSequence }
//! RDNSequence ::= SEQUENCE OF RelativeDistinguishedName
//! RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
//! AttributeTypeAndValue ::= SEQUENCE { type AttributeType, value AttributeValue }
//! ```
//! ([RFC 5280 4.1.2.4](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.2.4))
//!
//! Read by hand rather than with `x509_cert::name::Name`: real certificates carry multi-valued RDNs
//! whose SET members are not in DER order, and string types (TeletexString, UniversalString) that
//! a strict decoder refuses; certslot reads them all and formats them the way RFC 4514 says.

use core::fmt::{self, Write as _};

use const_oid::ObjectIdentifier;

use crate::x509::ParseError;
use crate::x509::tlv::{Reader, Tlv, tag};

/// A distinguished name (a certificate's subject or issuer), borrowed from the certificate.
///
/// `Display` writes the RFC 4514 string form: the RDNs from last to first, separated by `,`,
/// multi-valued RDNs joined by `+`, the short names of RFC 4514 section 3 (`CN`, `L`, `ST`, `O`,
/// `OU`, `C`, `STREET`, `DC`, `UID`) and dotted OIDs for every other attribute type, values
/// escaped per section 2.4, and `#` with the hex of the DER for values that are not strings.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Name<'a> {
    raw: &'a [u8],
    content: &'a [u8],
}

/// One relative distinguished name: a set of one or more attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rdn<'a> {
    content: &'a [u8],
}

/// One attribute of a name: its type (an OID) and its value.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    oid: &'a [u8],
    value_tag: u8,
    value: &'a [u8],
    value_raw: &'a [u8],
}

/// The ASN.1 string type of an attribute value (X.680 section 41).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StringKind {
    /// UTF8String.
    Utf8,
    /// PrintableString.
    Printable,
    /// IA5String: ASCII by X.680, but real certificates carry raw UTF-8 in it (SAN DNS names,
    /// email addresses, URIs), which certslot reads as UTF-8 as Python `cryptography` does.
    Ia5,
    /// TeletexString (T61String), read as ISO 8859-1 as OpenSSL and Windows do.
    Teletex,
    /// BMPString (UTF-16BE).
    Bmp,
    /// UniversalString (UTF-32BE).
    Universal,
    /// VisibleString.
    Visible,
    /// NumericString.
    Numeric,
}

/// Attribute type OIDs that certslot names (RFC 4519, RFC 5280 appendix A), from const-oid's db.
pub mod attr {
    use const_oid::ObjectIdentifier;
    use const_oid::db::{rfc2985, rfc4519};

    /// `commonName` (2.5.4.3), `CN`.
    pub const COMMON_NAME: ObjectIdentifier = rfc4519::COMMON_NAME;
    /// `surname` (2.5.4.4).
    pub const SURNAME: ObjectIdentifier = rfc4519::SURNAME;
    /// `serialNumber` (2.5.4.5).
    pub const SERIAL_NUMBER: ObjectIdentifier = rfc4519::SERIAL_NUMBER;
    /// `countryName` (2.5.4.6), `C`.
    pub const COUNTRY: ObjectIdentifier = rfc4519::COUNTRY_NAME;
    /// `localityName` (2.5.4.7), `L`.
    pub const LOCALITY: ObjectIdentifier = rfc4519::LOCALITY_NAME;
    /// `stateOrProvinceName` (2.5.4.8), `ST`.
    pub const STATE: ObjectIdentifier = rfc4519::ST;
    /// `streetAddress` (2.5.4.9), `STREET`.
    pub const STREET: ObjectIdentifier = rfc4519::STREET;
    /// `organizationName` (2.5.4.10), `O`.
    pub const ORGANIZATION: ObjectIdentifier = rfc4519::ORGANIZATION_NAME;
    /// `organizationalUnitName` (2.5.4.11), `OU`.
    pub const ORGANIZATIONAL_UNIT: ObjectIdentifier = rfc4519::ORGANIZATIONAL_UNIT_NAME;
    /// `domainComponent` (0.9.2342.19200300.100.1.25), `DC`.
    pub const DOMAIN_COMPONENT: ObjectIdentifier = rfc4519::DOMAIN_COMPONENT;
    /// `userId` (0.9.2342.19200300.100.1.1), `UID`.
    pub const USER_ID: ObjectIdentifier = rfc4519::USER_ID;
    /// PKCS #9 `emailAddress` (1.2.840.113549.1.9.1), deprecated in names by RFC 5280.
    pub const EMAIL_ADDRESS: ObjectIdentifier = rfc2985::PKCS_9_AT_EMAIL_ADDRESS;
}

/// The short names RFC 4514 section 3 requires an implementation to recognise.
const SHORT_NAMES: [(ObjectIdentifier, &str); 9] = [
    (attr::COMMON_NAME, "CN"),
    (attr::LOCALITY, "L"),
    (attr::STATE, "ST"),
    (attr::ORGANIZATION, "O"),
    (attr::ORGANIZATIONAL_UNIT, "OU"),
    (attr::COUNTRY, "C"),
    (attr::STREET, "STREET"),
    (attr::DOMAIN_COMPONENT, "DC"),
    (attr::USER_ID, "UID"),
];

impl<'a> Name<'a> {
    /// Checks the structure of a Name and wraps it.
    pub(crate) fn parse(tlv: Tlv<'a>, what: &'static str) -> Result<Self, ParseError> {
        let tlv = tlv.expect(tag::SEQUENCE, what)?;
        let mut rdns = tlv.reader();
        while !rdns.is_empty() {
            let rdn = rdns.read_expected(tag::SET, "RelativeDistinguishedName")?;
            let mut atvs = rdn.reader();
            if atvs.is_empty() {
                return Err(ParseError::Malformed { offset: rdn.offset, what: "RelativeDistinguishedName" });
            }
            while !atvs.is_empty() {
                let atv = atvs.read_expected(tag::SEQUENCE, "AttributeTypeAndValue")?;
                let mut fields = atv.reader();
                let oid = fields.read_expected(tag::OID, "AttributeType")?;
                if !is_valid_oid(oid.value) {
                    return Err(ParseError::Malformed { offset: oid.offset, what: "AttributeType" });
                }
                fields.read("AttributeValue")?;
                fields.finish("AttributeTypeAndValue")?;
            }
        }
        Ok(Self { raw: tlv.raw, content: tlv.value })
    }

    /// Reads a DER `Name` that fills `der` exactly (a name another crate encoded, to be written
    /// in RFC 4514 form by this file's formatter).
    pub(crate) fn from_der(der: &'a [u8]) -> Result<Self, ParseError> {
        let mut reader = Reader::new(der);
        let name = Self::parse(reader.read("Name")?, "Name")?;
        reader.finish("Name")?;
        Ok(name)
    }

    /// Wraps a Name whose structure [`Name::parse`] has already checked; anything else reads as
    /// the empty name.
    pub(crate) fn from_checked(raw: &'a [u8]) -> Self {
        match Reader::new(raw).read("Name") {
            Ok(tlv) => Self { raw: tlv.raw, content: tlv.value },
            Err(_) => Self { raw: &[tag::SEQUENCE, 0], content: &[] },
        }
    }

    /// The name's DER encoding (the whole `Name` SEQUENCE).
    pub fn as_der(&self) -> &'a [u8] {
        self.raw
    }

    /// True for the empty name (no RDN), which v1 self-issued certificates sometimes carry.
    pub fn is_empty(&self) -> bool {
        self.content.is_empty()
    }

    /// The RDNs in encoded order (most general first, usually `C` or `DC`).
    pub fn rdns(&self) -> impl Iterator<Item = Rdn<'a>> + 'a {
        let mut reader = Reader::new(self.content);
        core::iter::from_fn(move || reader.read("RDN").ok().map(|t| Rdn { content: t.value }))
    }

    /// Every attribute in encoded order, multi-valued RDNs flattened.
    pub fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        self.rdns().flat_map(|rdn| rdn.attributes())
    }

    /// The values of every attribute of type `oid` that decode as strings, in encoded order.
    pub fn values_of(&self, oid: &ObjectIdentifier) -> Vec<String> {
        let oid = oid.as_bytes();
        self.attributes().filter(|a| a.oid == oid).filter_map(|a| a.value_string()).collect()
    }

    /// Every common name (`CN`), in encoded order.
    pub fn common_names(&self) -> Vec<String> {
        self.values_of(&attr::COMMON_NAME)
    }

    /// The most specific common name: the last `CN` in encoded order, the first in RFC 4514 form.
    pub fn common_name(&self) -> Option<String> {
        self.common_names().pop()
    }

    /// The first organization (`O`).
    pub fn organization(&self) -> Option<String> {
        self.values_of(&attr::ORGANIZATION).into_iter().next()
    }

    /// The first country (`C`).
    pub fn country(&self) -> Option<String> {
        self.values_of(&attr::COUNTRY).into_iter().next()
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // RFC 4514 2.1: the output consists of the string encodings of each RDN, starting with
        // the last element of the sequence and moving backwards toward the first.
        let rdns: Vec<Rdn<'_>> = self.rdns().collect();
        for (i, rdn) in rdns.iter().rev().enumerate() {
            if i > 0 {
                f.write_char(',')?;
            }
            for (j, attribute) in rdn.attributes().enumerate() {
                if j > 0 {
                    f.write_char('+')?;
                }
                write!(f, "{attribute}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({:?})", self.to_string())
    }
}

impl<'a> Rdn<'a> {
    /// The attributes of this RDN in encoded order.
    pub fn attributes(self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        let mut reader = Reader::new(self.content);
        core::iter::from_fn(move || {
            let atv = reader.read("AttributeTypeAndValue").ok()?;
            let mut fields = atv.reader();
            let oid = fields.read("AttributeType").ok()?;
            let value = fields.read("AttributeValue").ok()?;
            Some(Attribute { oid: oid.value, value_tag: value.tag, value: value.value, value_raw: value.raw })
        })
    }
}

impl<'a> Attribute<'a> {
    /// The attribute type, when it fits `const_oid`'s representation.
    pub fn oid(&self) -> Option<ObjectIdentifier> {
        ObjectIdentifier::from_bytes(self.oid).ok()
    }

    /// The attribute type in dotted-decimal form (`2.5.4.3`).
    pub fn oid_dotted(&self) -> String {
        oid_to_dotted(self.oid).unwrap_or_default()
    }

    /// The RFC 4514 short name of the type (`CN`, `O`, ...), if it has one.
    pub fn short_name(&self) -> Option<&'static str> {
        SHORT_NAMES.iter().find(|(oid, _)| oid.as_bytes() == self.oid).map(|(_, name)| *name)
    }

    /// The string type of the value, or `None` when the value is not a string.
    pub fn string_kind(&self) -> Option<StringKind> {
        Some(match self.value_tag {
            tag::UTF8_STRING => StringKind::Utf8,
            tag::PRINTABLE_STRING => StringKind::Printable,
            tag::IA5_STRING => StringKind::Ia5,
            tag::TELETEX_STRING => StringKind::Teletex,
            tag::BMP_STRING => StringKind::Bmp,
            tag::UNIVERSAL_STRING => StringKind::Universal,
            tag::VISIBLE_STRING => StringKind::Visible,
            tag::NUMERIC_STRING => StringKind::Numeric,
            _ => return None,
        })
    }

    /// The value as text, or `None` when it is not a string or its encoding is invalid
    /// (a UTF8String that is not UTF-8, a BMPString with an odd length or a lone surrogate).
    ///
    /// An IA5String whose octets are valid UTF-8 is read as UTF-8 (the raw UTF-8 real
    /// certificates carry, read as Python `cryptography` reads it). The other one-byte string
    /// types (PrintableString, TeletexString, VisibleString, NumericString), and an IA5String
    /// that is not UTF-8, are read as ISO 8859-1, as OpenSSL does, so no byte is lost.
    pub fn value_string(&self) -> Option<String> {
        decode_string(self.string_kind()?, self.value)
    }

    /// The value's DER encoding (tag, length and content).
    pub fn value_der(&self) -> &'a [u8] {
        self.value_raw
    }
}

impl fmt::Display for Attribute<'_> {
    /// `type=value` as RFC 4514 section 2.3 and 2.4 write it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short_name() {
            Some(name) => f.write_str(name)?,
            None => f.write_str(&self.oid_dotted())?,
        }
        f.write_char('=')?;
        match self.value_string() {
            Some(value) => write_escaped(f, &value),
            None => {
                // RFC 4514 2.4: a value that is not a string is written as '#' and the hex of its
                // BER encoding.
                f.write_char('#')?;
                self.value_raw.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for Attribute<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Attribute({:?})", self.to_string())
    }
}

/// Decodes the content octets of a string type.
pub(crate) fn decode_string(kind: StringKind, bytes: &[u8]) -> Option<String> {
    match kind {
        StringKind::Utf8 => core::str::from_utf8(bytes).ok().map(str::to_owned),
        // X.680 41: IA5String is ASCII, but issuers put raw UTF-8 into SAN names (dNSName,
        // rfc822Name and URI are IA5String, RFC 5280 4.2.1.6); Python `cryptography` reads them
        // as UTF-8 and refuses anything else. certslot reads UTF-8 when the octets are UTF-8 and
        // falls back to ISO 8859-1 like the other one-byte types, so no byte is lost.
        StringKind::Ia5 => Some(match core::str::from_utf8(bytes) {
            Ok(text) => text.to_owned(),
            Err(_) => latin1(bytes),
        }),
        StringKind::Printable | StringKind::Teletex | StringKind::Visible | StringKind::Numeric => {
            Some(match core::str::from_utf8(bytes) {
                Ok(ascii) if bytes.is_ascii() => ascii.to_owned(),
                _ => latin1(bytes),
            })
        }
        StringKind::Bmp => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units =
                bytes.chunks_exact(2).map(|c| c.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b)));
            char::decode_utf16(units).collect::<Result<String, _>>().ok()
        }
        StringKind::Universal => {
            if !bytes.len().is_multiple_of(4) {
                return None;
            }
            bytes
                .chunks_exact(4)
                .map(|c| char::from_u32(c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b))))
                .collect()
        }
    }
}

/// Octets read as ISO 8859-1: each octet is the code point of the same value.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// Writes an attribute value escaped as RFC 4514 section 2.4 requires.
fn write_escaped(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let last = value.chars().count().saturating_sub(1);
    for (i, c) in value.chars().enumerate() {
        match c {
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            '#' | ' ' if i == 0 => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            ' ' if i == last => f.write_str("\\ ")?,
            '\0' => f.write_str("\\00")?,
            _ => f.write_char(c)?,
        }
    }
    Ok(())
}

/// True when OID content octets are a valid encoding: non-empty, ending an arc, no arc of more
/// than 18 base-128 digits (checked without formatting, for the parser's hot path).
pub(crate) fn is_valid_oid(bytes: &[u8]) -> bool {
    if bytes.last().is_none_or(|b| b & 0x80 != 0) {
        return false;
    }
    let mut arc_len = 0;
    for &b in bytes {
        arc_len += 1;
        // 18 base-128 digits hold 126 bits, which `oid_to_dotted` always formats.
        if arc_len > 18 {
            return false;
        }
        if b & 0x80 == 0 {
            arc_len = 0;
        }
    }
    true
}

/// An OID's content octets in dotted-decimal form, or `None` if they are not a valid encoding
/// (empty, ending inside an arc, or an arc wider than 128 bits).
pub(crate) fn oid_to_dotted(bytes: &[u8]) -> Option<String> {
    if bytes.last().is_none_or(|b| b & 0x80 != 0) {
        return None;
    }
    let mut out = String::with_capacity(bytes.len() * 3);
    let mut arc: u128 = 0;
    let mut first = true;
    for &b in bytes {
        arc = arc.checked_mul(128)? | u128::from(b & 0x7F);
        if b & 0x80 == 0 {
            if first {
                let (a, b) = match arc {
                    0..40 => (0, arc),
                    40..80 => (1, arc - 40),
                    _ => (2, arc - 80),
                };
                write!(out, "{a}.{b}").ok()?;
                first = false;
            } else {
                write!(out, ".{arc}").ok()?;
            }
            arc = 0;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        if content.len() < 128 {
            out.push(u8::try_from(content.len()).unwrap_or(0));
        } else {
            out.push(0x82);
            out.extend_from_slice(&u16::try_from(content.len()).unwrap_or(0).to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn atv(oid: &ObjectIdentifier, value_tag: u8, value: &[u8]) -> Vec<u8> {
        let mut c = tlv(tag::OID, oid.as_bytes());
        c.extend(tlv(value_tag, value));
        tlv(tag::SEQUENCE, &c)
    }

    fn rfc4514(rdns: &[Vec<Vec<u8>>]) -> String {
        let content: Vec<u8> = rdns.iter().flat_map(|atvs| tlv(tag::SET, &atvs.concat())).collect();
        let der = tlv(tag::SEQUENCE, &content);
        let parsed = Reader::new(&der).read("Name").and_then(|t| Name::parse(t, "Name"));
        parsed.map(|n| n.to_string()).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn writes_rdns_last_first_with_escapes() {
        let s = rfc4514(&[
            vec![atv(&attr::COUNTRY, tag::PRINTABLE_STRING, b"US")],
            vec![atv(&attr::ORGANIZATION, tag::UTF8_STRING, b"Contoso, Ltd.")],
            vec![
                atv(&attr::COMMON_NAME, tag::UTF8_STRING, b"#sip+1 "),
                atv(&attr::ORGANIZATIONAL_UNIT, tag::UTF8_STRING, b" Lync;<>\"\\"),
            ],
        ]);
        assert_eq!(s, r#"CN=\#sip\+1\ +OU=\ Lync\;\<\>\"\\,O=Contoso\, Ltd.,C=US"#);
    }

    #[test]
    fn decodes_wide_strings_and_hexes_the_rest() {
        let bmp: Vec<u8> = "Zürich".encode_utf16().flat_map(u16::to_be_bytes).collect();
        let universal: Vec<u8> = "ö€".chars().flat_map(|c| u32::from(c).to_be_bytes()).collect();
        let s = rfc4514(&[
            vec![atv(&attr::LOCALITY, tag::BMP_STRING, &bmp)],
            vec![atv(&attr::STATE, tag::UNIVERSAL_STRING, &universal)],
            vec![atv(&attr::ORGANIZATION, tag::TELETEX_STRING, &[0x4D, 0xFC, 0x6C, 0x6C])],
            vec![atv(&attr::EMAIL_ADDRESS, tag::IA5_STRING, b"a@b.c")],
            vec![atv(&attr::SERIAL_NUMBER, tag::OCTET_STRING, &[0xAB])],
            vec![atv(&attr::COMMON_NAME, tag::UTF8_STRING, &[0xFF])],
        ]);
        assert_eq!(s, "CN=#0c01ff,2.5.4.5=#0401ab,1.2.840.113549.1.9.1=a@b.c,O=Müll,ST=ö€,L=Zürich");
    }

    #[test]
    fn ia5_values_read_utf8_when_they_are_utf8() {
        // emailAddress as IA5String with raw UTF-8 (C3 BC = ü), then with ISO 8859-1 (FC = ü);
        // a TeletexString holding the same UTF-8 octets stays ISO 8859-1, one character each.
        let s = rfc4514(&[
            vec![atv(&attr::EMAIL_ADDRESS, tag::IA5_STRING, "jürgen@bücher.example".as_bytes())],
            vec![atv(&attr::EMAIL_ADDRESS, tag::IA5_STRING, b"j\xFCrgen@contoso.com")],
            vec![atv(&attr::ORGANIZATION, tag::TELETEX_STRING, "Mü".as_bytes())],
        ]);
        assert_eq!(
            s,
            "O=MÃ¼,1.2.840.113549.1.9.1=jürgen@contoso.com,1.2.840.113549.1.9.1=jürgen@bücher.example"
        );
    }

    #[test]
    fn rejects_broken_structure() {
        assert_eq!(rfc4514(&[vec![]]), "error: RelativeDistinguishedName at offset 2 is malformed");
        let bad_oid =
            tlv(tag::SEQUENCE, &[tlv(tag::OID, &[0x55, 0x84]), tlv(tag::UTF8_STRING, b"x")].concat());
        assert_eq!(rfc4514(&[vec![bad_oid]]), "error: AttributeType at offset 6 is malformed");
    }

    #[test]
    fn from_der_reads_one_whole_name() {
        let der = tlv(tag::SEQUENCE, &tlv(tag::SET, &atv(&attr::COMMON_NAME, tag::UTF8_STRING, b"a")));
        assert_eq!(Name::from_der(&der).map(|n| n.to_string()), Ok("CN=a".to_owned()));
        let mut trailing = der.clone();
        trailing.push(0);
        assert_eq!(
            Name::from_der(&trailing).map(|n| n.to_string()),
            Err(ParseError::TrailingData { offset: der.len(), what: "Name", len: 1 })
        );
    }

    #[test]
    fn formats_oids() {
        assert_eq!(
            oid_to_dotted(attr::DOMAIN_COMPONENT.as_bytes()).as_deref(),
            Some("0.9.2342.19200300.100.1.25")
        );
        assert_eq!(oid_to_dotted(&[0x88, 0x37, 0x03]).as_deref(), Some("2.999.3"));
        assert_eq!(oid_to_dotted(&[]), None);
        assert_eq!(oid_to_dotted(&[0x2A, 0x86]), None);
    }
}
