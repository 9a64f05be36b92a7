//! What a CA answers to a certificate request: one certificate, a PEM chain, or a PKCS #7
//! "certs-only" bundle (`.p7b`, `.p7c`) in DER, BER or PEM.
//!
//! ```text
//! ContentInfo ::= SEQUENCE {
//!     contentType ContentType,                      -- id-signedData
//!     content [0] EXPLICIT ANY DEFINED BY contentType }
//!
//! SignedData ::= SEQUENCE {
//!     version CMSVersion,
//!     digestAlgorithms DigestAlgorithmIdentifiers,  -- empty in a certs-only bundle
//!     encapContentInfo EncapsulatedContentInfo,     -- id-data without content
//!     certificates [0] IMPLICIT CertificateSet OPTIONAL,
//!     crls [1] IMPLICIT RevocationInfoChoices OPTIONAL,
//!     signerInfos SignerInfos }                     -- empty in a certs-only bundle
//!
//! CertificateSet ::= SET OF CertificateChoices
//! CertificateChoices ::= CHOICE {
//!     certificate Certificate,
//!     extendedCertificate [0] IMPLICIT ExtendedCertificate,  -- Obsolete
//!     v1AttrCert [1] IMPLICIT AttributeCertificateV1,        -- Obsolete
//!     v2AttrCert [2] IMPLICIT AttributeCertificateV2,
//!     other [3] IMPLICIT OtherCertificateFormat }
//! ```
//! ([RFC 5652 3, 5.1, 10.2.2](https://datatracker.ietf.org/doc/html/rfc5652#section-5.1);
//! [RFC 2315 9.1](https://datatracker.ietf.org/doc/html/rfc2315#section-9.1) is the PKCS #7 v1.5
//! form of the same structure.)
//!
//! BER (indefinite lengths, constructed strings, as Windows and streaming encoders write it) is
//! rewritten with definite lengths by [`ber`](crate::x509::ber) first; the certificates keep their
//! bytes. The `cms` crate decodes `ContentInfo` and the SignedData fields certslot checks
//! (version, digest algorithms, encapsulated content info). The certificates, CRLs and signer
//! infos are walked with certslot's own TLV reader instead, because `cms` cannot keep what a
//! bundle reader must: it decodes `CertificateSet` as a DER `SET OF`, which it sorts, so the
//! file's order is lost; it re-encodes each certificate with `x509-cert`, so bytes that are not
//! canonical would change the thumbprint; and `x509-cert` refuses certificates that real CAs
//! issued and certslot reads (a UniversalString name, a pre-1970 UTCTime: `lenient.p7b` of the
//! chain fixtures).

use std::borrow::Cow;

use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::Decode as _;

use crate::x509::ParseError;
use crate::x509::ber;
use crate::x509::cert::Certificate;
use crate::x509::format::FileFormat;
use crate::x509::pem;
use crate::x509::tlv::{self, Tlv, tag};

/// PEM labels of a PKCS #7 / CMS structure: `PKCS7` (OpenSSL, Windows, Python `cryptography`),
/// `CMS` (RFC 7468 9) and `PKCS #7 SIGNED DATA` (RFC 7468 appendix A).
const PKCS7_LABELS: [&str; 3] = ["PKCS7", "CMS", "PKCS #7 SIGNED DATA"];

/// Why bytes could not be read as a certificate bundle.
///
/// Offsets in a PKCS #7 count bytes from the start of its DER; for BER input, of the DER that
/// certslot rewrote it to (the same bytes up to the first indefinite length).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// The input holds no bytes at all.
    #[error("the input is empty")]
    Empty,
    /// The input is neither a DER certificate, a PKCS #7 nor PEM text.
    #[error("not a certificate bundle: the input is {} (first byte 0x{first:02X})", format_name(*format))]
    NotABundle {
        /// What the bytes look like ([`FileFormat::Pfx`] for a PKCS #12 file, which holds a
        /// private key and is read with `Pfx::import`).
        format: FileFormat,
        /// The first byte of the input.
        first: u8,
    },
    /// A certificate that does not parse: the input itself (index 0, offset 0) or one of a
    /// PKCS #7's certificates.
    #[error("certificate {index} at offset {offset}: {source}")]
    Certificate {
        /// The certificate's 0-based position in the file (in a PKCS #7, among its certificates).
        index: usize,
        /// The offset of its first byte.
        offset: usize,
        /// Why it does not parse (offsets inside count from the certificate's first byte).
        #[source]
        source: ParseError,
    },
    /// The PKCS #7 structure is truncated, nests too deep, has the wrong tags or trailing bytes.
    #[error("malformed PKCS #7: {source}")]
    Malformed {
        /// The structural error, with the field and its offset.
        #[source]
        source: ParseError,
    },
    /// A PKCS #7 field that `cms` refuses: a CMSVersion above 5, a digest algorithm or
    /// encapsulated content info that is not the structure RFC 5652 gives.
    #[error("PKCS #7 {field} at offset {offset} does not decode: {reason}")]
    InvalidField {
        /// The field, as RFC 5652 names it.
        field: &'static str,
        /// The offset of the field's first byte.
        offset: usize,
        /// What `cms` (`der`) reported.
        reason: String,
    },
    /// A PKCS #7 whose content is not SignedData (RFC 5652 5): enveloped or plain data holds no
    /// certificate bundle.
    #[error("the PKCS #7 content type is {content_type}, not signedData ({})", rfc5911::ID_SIGNED_DATA)]
    NotSignedData {
        /// The `contentType` found.
        content_type: ObjectIdentifier,
    },
    /// A `CertificateChoices` other than an X.509 certificate: an attribute certificate or
    /// another format (RFC 5652 10.2.2).
    #[error("certificate {index} at offset {offset} is not an X.509 certificate (tag 0x{tag:02X})")]
    UnsupportedCertificateChoice {
        /// Its 0-based position among the PKCS #7's certificates.
        index: usize,
        /// The offset of its first byte.
        offset: usize,
        /// Its identifier octet (`0xA1` v1 and `0xA2` v2 attribute certificates, `0xA3` other).
        tag: u8,
    },
    /// A PKCS #7 SignedData without certificates: empty, or holding only CRLs or signatures.
    #[error("the PKCS #7 holds no certificate ({crls} CRLs, {signers} signers)")]
    NoCertificates {
        /// How many CRLs (`RevocationInfoChoices`) it holds.
        crls: usize,
        /// How many `SignerInfo`s it holds.
        signers: usize,
    },
    /// PEM text without a certificate or PKCS #7 block.
    #[error("no PEM certificate or PKCS #7 block found{}", found_labels(labels))]
    NoPemCertificate {
        /// Labels of the blocks that were found and skipped, in order.
        labels: Vec<String>,
    },
    /// PEM text whose block structure or Base64 is broken ([`ParseError::PemUnterminated`],
    /// [`ParseError::PemLabelMismatch`], [`ParseError::PemBase64`], each with its line).
    #[error("{source}")]
    Pem {
        /// The PEM error.
        #[source]
        source: ParseError,
    },
    /// A PEM block whose content could not be read.
    #[error("PEM block {index} ({label}, line {line}): {source}")]
    PemBlock {
        /// The 0-based index of the block among the certificate and PKCS #7 blocks.
        index: usize,
        /// Its label.
        label: String,
        /// The 1-based line of its BEGIN line.
        line: usize,
        /// Why its content could not be read.
        #[source]
        source: Box<BundleError>,
    },
}

fn format_name(format: FileFormat) -> &'static str {
    match format {
        FileFormat::Pfx => "a PKCS #12 (PFX) file",
        _ => "neither DER nor PEM",
    }
}

fn found_labels(labels: &[String]) -> String {
    if labels.is_empty() { String::new() } else { format!(" (found: {})", labels.join(", ")) }
}

impl From<ParseError> for BundleError {
    fn from(source: ParseError) -> Self {
        Self::Malformed { source }
    }
}

impl Certificate {
    /// Reads every certificate of what a CA answers to a certificate request, in file order:
    ///
    /// - one DER certificate (`.cer`, `.crt`, `.der`);
    /// - PEM text with one or more certificates (the leniency of
    ///   [`Certificate::from_pem_bundle`]: text around blocks, headers, CRLF, other blocks
    ///   skipped);
    /// - a PKCS #7 / CMS SignedData "certs-only" bundle (`.p7b`, `.p7c`; RFC 5652 5.1) in DER,
    ///   in BER (indefinite lengths and constructed strings, as Windows writes it), or in PEM
    ///   labelled `PKCS7`, `CMS` or `PKCS #7 SIGNED DATA`, or `CERTIFICATE` (which some CAs use
    ///   for a PKCS #7). A SignedData with signers (a signed message that carries certificates)
    ///   is read too; its signatures are not checked.
    ///
    /// The certificates come in the order the file holds them, which is not always the chain's:
    /// a DER `SET OF` is sorted by encoding, and CAs send chains root first as often as leaf
    /// first. [`Chain::order`](crate::x509::Chain::order) puts them in order.
    ///
    /// ```
    /// use certslot::Certificate;
    ///
    /// let p7b = Certificate::from_bundle(include_bytes!("../../tests/data/chains/openssl.p7b"))?;
    /// let pem = Certificate::from_bundle(include_bytes!("../../tests/data/chains/chain.pem"))?;
    /// assert_eq!(p7b.len(), 3);
    /// assert_eq!(p7b, pem);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BundleError`]: empty input, bytes that are no bundle (a PFX among them), a truncated or
    /// malformed structure, a PKCS #7 that is not SignedData or holds no certificate, a
    /// certificate that does not parse (with its index and offset), broken PEM. Every length
    /// is checked against the input before anything is allocated, and BER nesting is limited.
    pub fn from_bundle(bytes: &[u8]) -> Result<Vec<Self>, BundleError> {
        let Some(&first) = bytes.first() else {
            return Err(BundleError::Empty);
        };
        if first == tag::SEQUENCE {
            return match FileFormat::detect(bytes) {
                FileFormat::Pfx => Err(BundleError::NotABundle { format: FileFormat::Pfx, first }),
                _ => read_binary(bytes),
            };
        }
        match FileFormat::detect(bytes) {
            FileFormat::Pem => read_pem(bytes),
            format => Err(BundleError::NotABundle { format, first }),
        }
    }
}

/// A DER certificate or a DER/BER PKCS #7, told apart by the first item inside the outer
/// SEQUENCE: a SEQUENCE (`tbsCertificate`) or an OID (`contentType`).
fn read_binary(bytes: &[u8]) -> Result<Vec<Certificate>, BundleError> {
    if FileFormat::detect(bytes) == FileFormat::Pkcs7 {
        return read_pkcs7(bytes);
    }
    Certificate::from_der(bytes).map(|c| vec![c]).map_err(|source| BundleError::Certificate {
        index: 0,
        offset: 0,
        source,
    })
}

/// Every certificate and PKCS #7 block of PEM text, in order.
fn read_pem(text: &[u8]) -> Result<Vec<Certificate>, BundleError> {
    let blocks = pem::blocks(text).map_err(|source| BundleError::Pem { source })?;
    let mut out = Vec::new();
    let mut index = 0;
    for block in &blocks {
        let label = block.label.as_str();
        let is_pkcs7 = PKCS7_LABELS.contains(&label);
        if !is_pkcs7 && !pem::CERTIFICATE_LABELS.contains(&label) {
            continue;
        }
        let der = pem::decode_body(&block.body).map_err(|source| BundleError::Pem { source })?;
        let read = if is_pkcs7 {
            read_pkcs7(&der)
        } else if label == "TRUSTED CERTIFICATE" {
            // OpenSSL appends its trust settings (X509_CERT_AUX) after the certificate.
            Certificate::from_der_prefix(&der)
                .map(|(cert, _aux)| vec![cert])
                .map_err(|source| BundleError::Certificate { index: 0, offset: 0, source })
        } else {
            // A CERTIFICATE block may hold a PKCS #7 (some CAs label their .p7b so).
            read_binary(&der)
        };
        let certs = read.map_err(|source| BundleError::PemBlock {
            index,
            label: block.label.clone(),
            line: block.line,
            source: Box::new(source),
        })?;
        out.extend(certs);
        index += 1;
    }
    if index == 0 {
        return Err(BundleError::NoPemCertificate { labels: blocks.into_iter().map(|b| b.label).collect() });
    }
    Ok(out)
}

/// The certificates of a PKCS #7 ContentInfo holding SignedData, in file order.
fn read_pkcs7(input: &[u8]) -> Result<Vec<Certificate>, BundleError> {
    let der = ber::definite(input, "ContentInfo")?;
    // RFC 5652 3: ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }.
    let info = tlv::read_single(&der, tag::SEQUENCE, "ContentInfo")?;
    let decoded = cms::content_info::ContentInfo::from_der(info.raw).map_err(invalid("ContentInfo", 0))?;
    if decoded.content_type != rfc5911::ID_SIGNED_DATA {
        return Err(BundleError::NotSignedData { content_type: decoded.content_type });
    }
    let mut fields = info.reader();
    fields.read_expected(tag::OID, "contentType")?;
    let mut content = fields.read_expected(0xA0, "content")?.reader();
    let signed = content.read_expected(tag::SEQUENCE, "SignedData")?;
    content.finish("content")?;

    // RFC 5652 5.1, field by field.
    let mut fields = signed.reader();
    let version = fields.read_expected(tag::INTEGER, "SignedData.version")?;
    cms::content_info::CmsVersion::from_der(version.raw).map_err(invalid("version", version.offset))?;
    let digests = fields.read_expected(tag::SET, "SignedData.digestAlgorithms")?;
    cms::signed_data::DigestAlgorithmIdentifiers::from_der(digests.raw)
        .map_err(invalid("digestAlgorithms", digests.offset))?;
    let encap = fields.read_expected(tag::SEQUENCE, "SignedData.encapContentInfo")?;
    cms::signed_data::EncapsulatedContentInfo::from_der(&encapsulated_der(&encap)?)
        .map_err(invalid("encapContentInfo", encap.offset))?;
    let certificates = fields.read_optional(0xA0, "SignedData.certificates")?;
    let crls = fields.read_optional(0xA1, "SignedData.crls")?;
    let signers = fields.read_expected(tag::SET, "SignedData.signerInfos")?;
    fields.finish("SignedData")?;

    let mut out = Vec::new();
    if let Some(certificates) = certificates {
        let mut items = certificates.reader();
        while !items.is_empty() {
            let item = items.read("CertificateChoices")?;
            let index = out.len();
            if item.tag != tag::SEQUENCE {
                return Err(BundleError::UnsupportedCertificateChoice {
                    index,
                    offset: item.offset,
                    tag: item.tag,
                });
            }
            let cert = Certificate::from_der(item.raw).map_err(|source| BundleError::Certificate {
                index,
                offset: item.offset,
                source,
            })?;
            out.push(cert);
        }
    }
    if out.is_empty() {
        return Err(BundleError::NoCertificates {
            crls: crls.map_or(Ok(0), |c| count(&c, "RevocationInfoChoice"))?,
            signers: count(&signers, "SignerInfo")?,
        });
    }
    Ok(out)
}

/// How many items a constructed item holds.
fn count(tlv: &Tlv<'_>, what: &'static str) -> Result<usize, BundleError> {
    let mut items = tlv.reader();
    let mut n = 0;
    while !items.is_empty() {
        items.read(what)?;
        n += 1;
    }
    Ok(n)
}

/// `EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING
/// OPTIONAL }` as DER: BER encoders write eContent as a constructed OCTET STRING, which `der`
/// refuses in DER; its chunks are joined (X.690 8.7.3) before `cms` decodes the structure.
fn encapsulated_der<'a>(encap: &Tlv<'a>) -> Result<Cow<'a, [u8]>, BundleError> {
    let mut fields = encap.reader();
    let content_type = fields.read_expected(tag::OID, "eContentType")?;
    let Some(explicit) = fields.read_optional(0xA0, "eContent")? else {
        return Ok(Cow::Borrowed(encap.raw));
    };
    let mut inner = explicit.reader();
    let octets = inner.read("eContent")?;
    inner.finish("eContent")?;
    fields.finish("encapContentInfo")?;
    if octets.tag != 0x24 {
        return Ok(Cow::Borrowed(encap.raw));
    }
    let joined = ber::octet_string(&octets, "eContent")?;
    let mut string = Vec::with_capacity(joined.len() + 6);
    tlv::write_header(&mut string, tag::OCTET_STRING, joined.len());
    string.extend_from_slice(&joined);
    let mut content = Vec::with_capacity(string.len() + content_type.raw.len() + 12);
    content.extend_from_slice(content_type.raw);
    tlv::write_header(&mut content, 0xA0, string.len());
    content.extend_from_slice(&string);
    let mut out = Vec::with_capacity(content.len() + 6);
    tlv::write_header(&mut out, tag::SEQUENCE, content.len());
    out.extend_from_slice(&content);
    Ok(Cow::Owned(out))
}

fn invalid(field: &'static str, offset: usize) -> impl Fn(der::Error) -> BundleError {
    move |e| BundleError::InvalidField { field, offset, reason: e.to_string() }
}
