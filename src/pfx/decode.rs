//! The structure of a PFX, layer by layer.
//!
//! ```text
//! PFX ::= SEQUENCE {
//!     version     INTEGER {v3(3)}(v3,...),
//!     authSafe    ContentInfo,
//!     macData     MacData OPTIONAL }
//! AuthenticatedSafe ::= SEQUENCE OF ContentInfo
//!     -- Data if unencrypted, EncryptedData if password-encrypted
//! SafeContents ::= SEQUENCE OF SafeBag
//! SafeBag ::= SEQUENCE {
//!     bagId         BAG-TYPE.&id ({PKCS12BagSet}),
//!     bagValue      [0] EXPLICIT BAG-TYPE.&Type({PKCS12BagSet}{@bagId}),
//!     bagAttributes SET OF PKCS12Attribute OPTIONAL }
//! CertBag ::= SEQUENCE { certId BAG-TYPE.&id, certValue [0] EXPLICIT BAG-TYPE.&Type }
//! EncryptedPrivateKeyInfo ::= SEQUENCE { encryptionAlgorithm AlgorithmIdentifier, encryptedData OCTET STRING }
//! ```
//! ([RFC 7292 4, 4.1, 4.2](https://datatracker.ietf.org/doc/html/rfc7292#section-4)),
//! with ContentInfo and EncryptedData from CMS ([RFC 5652 3, 8](https://datatracker.ietf.org/doc/html/rfc5652#section-8)).
//! Every layer may be BER; see `crate::x509::ber`.

use const_oid::ObjectIdentifier;
use const_oid::db::{rfc2985, rfc5911};
use zeroize::Zeroizing;

use crate::pfx::PfxError;
use crate::pfx::decrypt::Encryption;
use crate::pfx::mac::{MacData, oid_of};
use crate::x509::ParseError;
use crate::x509::ber;
use crate::x509::tlv::{self, Reader, Tlv, tag};

/// How deep `safeContentsBag`s may nest.
const MAX_BAG_DEPTH: usize = 4;

/// The outer PFX: the authenticated-safe octets (what the MAC covers) and the MAC.
pub(crate) struct Outer {
    pub(super) auth_safe: Vec<u8>,
    pub(super) mac: Option<MacData>,
}

/// Reads the outer PFX.
pub(crate) fn outer(input: &[u8], max_iterations: u32) -> Result<Outer, PfxError> {
    let input = ber::definite(input, "PFX")?;
    let pfx = tlv::read_single(&input, tag::SEQUENCE, "PFX")?;
    let mut fields = pfx.reader();
    let version = fields.read_expected(tag::INTEGER, "version")?;
    match tlv::small_uint(version.value()) {
        Some(3) => {}
        Some(version) => return Err(PfxError::UnsupportedVersion { version }),
        None => return Err(ParseError::Malformed { offset: version.offset(), what: "version" }.into()),
    }
    let auth_safe = content_info_data(fields.read_expected(tag::SEQUENCE, "authSafe")?, "integrity mode")?;
    let mac = match fields.read_optional(tag::SEQUENCE, "macData")? {
        Some(m) => Some(MacData::parse(m, max_iterations)?),
        None => None,
    };
    fields.finish("PFX")?;
    Ok(Outer { auth_safe, mac })
}

/// The octets of a `ContentInfo` of type `id-data`.
fn content_info_data(ci: Tlv<'_>, context: &'static str) -> Result<Vec<u8>, PfxError> {
    let mut f = ci.reader();
    let content_type = oid_of(&f.read_expected(tag::OID, "contentType")?)?;
    if content_type != rfc5911::ID_DATA {
        return Err(PfxError::UnsupportedAlgorithm { context, oid: content_type });
    }
    let Some(explicit) = f.read_optional(0xA0, "content")? else { return Ok(Vec::new()) };
    let mut inner = explicit.reader();
    let octets = inner.read("Data")?;
    if octets.tag() != tag::OCTET_STRING && octets.tag() != 0x24 {
        return Err(ParseError::UnexpectedTag {
            offset: octets.offset(),
            what: "Data",
            expected: tag::OCTET_STRING,
            found: octets.tag(),
        }
        .into());
    }
    Ok(ber::octet_string(&octets, "Data")?.into_owned())
}

/// One element of the AuthenticatedSafe.
pub(crate) enum Part {
    /// SafeContents in the clear.
    Plain(Vec<u8>),
    /// SafeContents encrypted with a password.
    Encrypted { encryption: Encryption, ciphertext: Vec<u8> },
}

/// Reads the AuthenticatedSafe.
pub(crate) fn parts(auth_safe: &[u8], max_iterations: u32) -> Result<Vec<Part>, PfxError> {
    let auth_safe = ber::definite(auth_safe, "AuthenticatedSafe")?;
    let seq = tlv::read_single(&auth_safe, tag::SEQUENCE, "AuthenticatedSafe")?;
    let mut items = seq.reader();
    let mut out = Vec::new();
    while !items.is_empty() {
        let ci = items.read_expected(tag::SEQUENCE, "ContentInfo")?;
        let mut f = ci.reader();
        let content_type = oid_of(&f.read_expected(tag::OID, "contentType")?)?;
        if content_type == rfc5911::ID_DATA {
            out.push(Part::Plain(content_info_data(ci, "content")?));
        } else if content_type == rfc5911::ID_ENCRYPTED_DATA {
            let explicit = f.read_expected(0xA0, "content")?;
            out.push(encrypted_data(
                explicit.reader().read_expected(tag::SEQUENCE, "EncryptedData")?,
                max_iterations,
            )?);
        } else {
            // envelopedData (public-key privacy mode) and anything else.
            return Err(PfxError::UnsupportedAlgorithm { context: "privacy mode", oid: content_type });
        }
    }
    Ok(out)
}

/// ```text
/// EncryptedData ::= SEQUENCE { version CMSVersion, encryptedContentInfo EncryptedContentInfo,
///     unprotectedAttrs [1] IMPLICIT UnprotectedAttributes OPTIONAL }
/// EncryptedContentInfo ::= SEQUENCE { contentType ContentType,
///     contentEncryptionAlgorithm ContentEncryptionAlgorithmIdentifier,
///     encryptedContent [0] IMPLICIT EncryptedContent OPTIONAL }
/// ```
fn encrypted_data(ed: Tlv<'_>, max_iterations: u32) -> Result<Part, PfxError> {
    let mut f = ed.reader();
    f.read_expected(tag::INTEGER, "version")?;
    let eci = f.read_expected(tag::SEQUENCE, "EncryptedContentInfo")?;
    let mut e = eci.reader();
    e.read_expected(tag::OID, "contentType")?;
    let encryption = Encryption::parse(e.read("contentEncryptionAlgorithm")?, max_iterations)?;
    let ciphertext = match e.peek_tag() {
        Some(0x80 | 0xA0) => {
            ber::octet_string(&e.read("encryptedContent")?, "encryptedContent")?.into_owned()
        }
        _ => Vec::new(),
    };
    Ok(Part::Encrypted { encryption, ciphertext })
}

/// The attributes certslot reads from a bag.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(super) friendly_name: Option<String>,
    pub(super) local_key_id: Option<Vec<u8>>,
}

/// One bag, decoded as far as it can be without a key.
pub(crate) enum Bag {
    Cert {
        der: Vec<u8>,
        attrs: Attributes,
    },
    Key {
        pkcs8: Zeroizing<Vec<u8>>,
        attrs: Attributes,
    },
    Shrouded(Box<Shrouded>),
    /// `count` bags in a row of one type, skipped for one reason.
    Skipped {
        bag_type: ObjectIdentifier,
        reason: &'static str,
        count: usize,
    },
}

/// Records a skipped bag, merged with the previous one when it is the same kind (a file of a
/// million unknown bags costs one entry).
fn skip(out: &mut Vec<Bag>, bag_type: ObjectIdentifier, reason: &'static str) {
    if let Some(Bag::Skipped { bag_type: t, reason: r, count }) = out.last_mut() {
        if *t == bag_type && *r == reason {
            *count += 1;
            return;
        }
    }
    out.push(Bag::Skipped { bag_type, reason, count: 1 });
}

/// A shrouded key bag, boxed to keep `Bag` small.
pub(crate) struct Shrouded {
    pub(super) encryption: Encryption,
    pub(super) ciphertext: Vec<u8>,
    pub(super) attrs: Attributes,
}

/// Reads a SafeContents into `out`.
pub(crate) fn safe_contents(bytes: &[u8], max_iterations: u32, out: &mut Vec<Bag>) -> Result<(), PfxError> {
    let bytes = ber::definite(bytes, "SafeContents")?;
    let seq = tlv::read_single(&bytes, tag::SEQUENCE, "SafeContents")?;
    bags(seq.reader(), max_iterations, 0, out)
}

fn bags(
    mut items: Reader<'_>,
    max_iterations: u32,
    depth: usize,
    out: &mut Vec<Bag>,
) -> Result<(), PfxError> {
    while !items.is_empty() {
        let bag = items.read_expected(tag::SEQUENCE, "SafeBag")?;
        let mut f = bag.reader();
        let bag_id = oid_of(&f.read_expected(tag::OID, "bagId")?)?;
        let explicit = f.read_expected(0xA0, "bagValue")?;
        let mut value_reader = explicit.reader();
        let value = value_reader.read("bagValue")?;
        let attrs = match f.read_optional(tag::SET, "bagAttributes")? {
            Some(set) => attributes(set)?,
            None => Attributes::default(),
        };
        match bag_id {
            pkcs12::PKCS_12_KEY_BAG_OID => {
                out.push(Bag::Key { pkcs8: Zeroizing::new(value.raw().to_vec()), attrs })
            }
            pkcs12::PKCS_12_PKCS8_KEY_BAG_OID => {
                let mut e = value.expect(tag::SEQUENCE, "EncryptedPrivateKeyInfo")?.reader();
                let encryption = Encryption::parse(e.read("encryptionAlgorithm")?, max_iterations)?;
                let data = e.read("encryptedData")?;
                let ciphertext = ber::octet_string(&data, "encryptedData")?.into_owned();
                out.push(Bag::Shrouded(Box::new(Shrouded { encryption, ciphertext, attrs })));
            }
            pkcs12::PKCS_12_CERT_BAG_OID => {
                let mut c = value.expect(tag::SEQUENCE, "CertBag")?.reader();
                let cert_id = oid_of(&c.read_expected(tag::OID, "certId")?)?;
                let cert_value = c.read_expected(0xA0, "certValue")?;
                if cert_id == pkcs12::PKCS_12_X509_CERT_OID {
                    let octets = cert_value.reader().read("certValue")?;
                    let der = ber::octet_string(&octets, "certValue")?.into_owned();
                    out.push(Bag::Cert { der, attrs });
                } else {
                    skip(out, cert_id, "certificate type other than X.509");
                }
            }
            pkcs12::PKCS_12_SAFE_CONTENTS_BAG_OID => {
                if depth >= MAX_BAG_DEPTH {
                    return Err(ParseError::TooDeep {
                        offset: value.offset(),
                        what: "safeContentsBag",
                        max: MAX_BAG_DEPTH,
                    }
                    .into());
                }
                bags(value.expect(tag::SEQUENCE, "SafeContents")?.reader(), max_iterations, depth + 1, out)?;
            }
            pkcs12::PKCS_12_CRL_BAG_OID => skip(out, bag_id, "CRL bag"),
            pkcs12::PKCS_12_SECRET_BAG_OID => skip(out, bag_id, "secret bag"),
            other => skip(out, other, "unknown bag type"),
        }
    }
    Ok(())
}

/// ```text
/// PKCS12Attribute ::= SEQUENCE { attrId ATTRIBUTE.&id, attrValues SET OF ATTRIBUTE.&Type }
/// ```
fn attributes(set: Tlv<'_>) -> Result<Attributes, PfxError> {
    let mut out = Attributes::default();
    let mut items = set.reader();
    while !items.is_empty() {
        let attr = items.read_expected(tag::SEQUENCE, "PKCS12Attribute")?;
        let mut f = attr.reader();
        let id = oid_of(&f.read_expected(tag::OID, "attrId")?)?;
        let values = f.read_expected(tag::SET, "attrValues")?;
        let first = values.reader().read("attrValue").ok();
        match (id, first) {
            (rfc2985::PKCS_9_AT_FRIENDLY_NAME, Some(v)) if v.tag() == tag::BMP_STRING => {
                out.friendly_name =
                    crate::x509::name::decode_string(crate::x509::name::StringKind::Bmp, v.value());
            }
            (rfc2985::PKCS_9_AT_LOCAL_KEY_ID, Some(v)) if v.tag() == tag::OCTET_STRING || v.tag() == 0x24 => {
                out.local_key_id = Some(ber::octet_string(&v, "localKeyId")?.into_owned());
            }
            _ => {}
        }
    }
    Ok(out)
}
