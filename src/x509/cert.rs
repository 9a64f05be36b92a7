//! The parsed certificate and the facts admins look at.
//!
//! ```text
//! Certificate  ::=  SEQUENCE  {
//!      tbsCertificate       TBSCertificate,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//!
//! TBSCertificate  ::=  SEQUENCE  {
//!      version         [0]  EXPLICIT Version DEFAULT v1,
//!      serialNumber         CertificateSerialNumber,
//!      signature            AlgorithmIdentifier,
//!      issuer               Name,
//!      validity             Validity,
//!      subject              Name,
//!      subjectPublicKeyInfo SubjectPublicKeyInfo,
//!      issuerUniqueID  [1]  IMPLICIT UniqueIdentifier OPTIONAL,
//!      subjectUniqueID [2]  IMPLICIT UniqueIdentifier OPTIONAL,
//!      extensions      [3]  EXPLICIT Extensions OPTIONAL }
//! ```
//! ([RFC 5280 4.1](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1))

use core::fmt;
use core::ops::Range;
use std::sync::Arc;

use const_oid::ObjectIdentifier;
use time::OffsetDateTime;

use crate::x509::algorithm::{NO_OID, SignatureAlgorithm};
use crate::x509::ext::{self, BasicConstraints, Extension, GeneralName, KeyUsage};
use crate::x509::key::{self, PublicKeyInfo};
use crate::x509::name::Name;
use crate::x509::pem;
use crate::x509::serial::SerialNumber;
use crate::x509::thumbprint::{Sha256Fingerprint, Thumbprint};
use crate::x509::time::parse_time;
use crate::x509::tlv::{self, Reader, tag};
use crate::x509::{FactError, ParseError};

/// An X.509 certificate, read from DER or PEM and kept byte for byte as given.
///
/// Parsing checks the outer structure of RFC 5280 section 4.1 and reads the fields every caller
/// needs (serial, names, validity, key, extension list). Facts that depend on one extension or on
/// the key's inner encoding are decoded when asked for: a malformed extension makes only that fact
/// unavailable ([`FactError`]), never the whole certificate.
///
/// Cloning is cheap (the bytes are shared). Two certificates are equal when their DER is.
#[derive(Clone)]
pub struct Certificate {
    inner: Arc<Inner>,
}

struct Inner {
    der: Box<[u8]>,
    thumbprint: Thumbprint,
    version: Version,
    serial: Range<usize>,
    tbs: Range<usize>,
    tbs_signature: Range<usize>,
    issuer: Range<usize>,
    subject: Range<usize>,
    spki: Range<usize>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    extensions: Box<[RawExtension]>,
    signature_algorithm: Range<usize>,
    signature: Range<usize>,
}

struct RawExtension {
    oid: Range<usize>,
    critical: bool,
    value: Range<usize>,
}

/// The certificate's version (RFC 5280 4.1.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// Version 1: no extensions (old CAs and some self-signed certificates).
    V1,
    /// Version 2: unique identifiers, no extensions.
    V2,
    /// Version 3.
    V3,
}

impl Certificate {
    /// Reads one DER-encoded certificate. The input must hold exactly one certificate.
    ///
    /// # Errors
    /// [`ParseError`] when the bytes are empty, truncated, followed by other bytes, or not a
    /// certificate's structure; the error names the field and its offset.
    pub fn from_der(der: &[u8]) -> Result<Self, ParseError> {
        let (cert, rest) = Self::from_der_prefix(der)?;
        if rest.is_empty() {
            Ok(cert)
        } else {
            Err(ParseError::TrailingData {
                offset: der.len() - rest.len(),
                what: "Certificate",
                len: rest.len(),
            })
        }
    }

    /// Reads the certificate at the start of `der` and returns the bytes after it (used for
    /// OpenSSL's `TRUSTED CERTIFICATE`, where trust settings follow the certificate).
    pub(crate) fn from_der_prefix(der: &[u8]) -> Result<(Self, &[u8]), ParseError> {
        if der.is_empty() {
            return Err(ParseError::Empty);
        }
        let mut top = Reader::new(der);
        let cert = top.read_expected(tag::SEQUENCE, "Certificate")?;
        let len = cert.raw.len();
        let own = cert.raw.to_vec().into_boxed_slice();
        let inner = parse(own)?;
        Ok((Self { inner: Arc::new(inner) }, der.get(len..).unwrap_or_default()))
    }

    /// Reads the first certificate of PEM text.
    ///
    /// The reader is as lenient as the tools admins use: text before and between blocks, RFC 1421
    /// headers, CRLF, any line length, the labels `CERTIFICATE`, `X509 CERTIFICATE` and
    /// `TRUSTED CERTIFICATE`; other blocks (keys, requests) are skipped.
    ///
    /// # Errors
    /// [`ParseError::NoPemCertificate`] when there is no certificate block, and the PEM or DER
    /// errors of the first certificate block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, ParseError> {
        let mut blocks = certificate_blocks(pem)?;
        if blocks.is_empty() {
            return Err(ParseError::NoPemCertificate { labels: pem::labels(pem) });
        }
        blocks.swap_remove(0)
    }

    /// Reads every certificate of PEM text (a chain or bundle), in order.
    ///
    /// # Errors
    /// [`ParseError::NoPemCertificate`] when there is no certificate block; otherwise the first
    /// error met, wrapped in [`ParseError::PemBlock`] with the block's index and line.
    pub fn from_pem_bundle(pem: &[u8]) -> Result<Vec<Self>, ParseError> {
        let blocks = certificate_blocks(pem)?;
        if blocks.is_empty() {
            return Err(ParseError::NoPemCertificate { labels: pem::labels(pem) });
        }
        blocks.into_iter().collect()
    }

    /// Reads DER or PEM, telling them apart by the bytes: DER starts with a SEQUENCE tag, anything
    /// else is read as PEM text. Returns every certificate in input order.
    ///
    /// # Errors
    /// As [`Certificate::from_der`] or [`Certificate::from_pem_bundle`].
    pub fn from_der_or_pem(bytes: &[u8]) -> Result<Vec<Self>, ParseError> {
        match bytes.first() {
            None => Err(ParseError::Empty),
            Some(&tag::SEQUENCE) => Self::from_der(bytes).map(|c| vec![c]),
            Some(_) => Self::from_pem_bundle(bytes),
        }
    }

    /// The DER encoding, exactly as it was read.
    pub fn der(&self) -> &[u8] {
        &self.inner.der
    }

    /// The certificate as PEM (`CERTIFICATE`, RFC 7468 5), in 64-character lines ending in LF.
    ///
    /// ```
    /// use certslot::Certificate;
    ///
    /// let cert = Certificate::from_der(include_bytes!("../../tests/data/rsa2048.der"))?;
    /// let pem = cert.to_pem();
    /// assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    /// assert_eq!(Certificate::from_pem(pem.as_bytes())?, cert);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.inner.der)
    }

    /// The SHA-1 thumbprint of the DER, as Windows and Lync show it.
    pub fn thumbprint(&self) -> Thumbprint {
        self.inner.thumbprint
    }

    /// The SHA-256 fingerprint of the DER.
    pub fn sha256_fingerprint(&self) -> Sha256Fingerprint {
        Sha256Fingerprint::of(self.der())
    }

    /// The version.
    pub fn version(&self) -> Version {
        self.inner.version
    }

    /// The serial number.
    pub fn serial(&self) -> SerialNumber<'_> {
        SerialNumber::new(self.span(&self.inner.serial))
    }

    /// The subject.
    pub fn subject(&self) -> Name<'_> {
        self.name(&self.inner.subject)
    }

    /// The issuer.
    pub fn issuer(&self) -> Name<'_> {
        self.name(&self.inner.issuer)
    }

    /// True when subject and issuer are the same name, byte for byte (a root or self-signed
    /// certificate).
    pub fn is_self_issued(&self) -> bool {
        self.span(&self.inner.subject) == self.span(&self.inner.issuer)
    }

    /// The start of the validity period (`notBefore`), in UTC.
    pub fn not_before(&self) -> OffsetDateTime {
        self.inner.not_before
    }

    /// The end of the validity period (`notAfter`), in UTC. The certificate is valid through this
    /// instant, inclusive (RFC 5280 4.1.2.5).
    pub fn not_after(&self) -> OffsetDateTime {
        self.inner.not_after
    }

    /// True when `at` is within `[not_before, not_after]`.
    pub fn is_valid_at(&self, at: OffsetDateTime) -> bool {
        self.inner.not_before <= at && at <= self.inner.not_after
    }

    /// The subject public key: algorithm, curve, size.
    ///
    /// # Errors
    /// [`FactError::MalformedPublicKey`] when the key does not decode as its algorithm requires
    /// (an RSA key that is not an RSAPublicKey, EC parameters that name no curve).
    pub fn public_key(&self) -> Result<PublicKeyInfo<'_>, FactError> {
        PublicKeyInfo::decode(self.span(&self.inner.spki))
    }

    /// The algorithm the issuer signed this certificate with (`Certificate.signatureAlgorithm`).
    pub fn signature_algorithm(&self) -> SignatureAlgorithm {
        let raw = self.span(&self.inner.signature_algorithm);
        Reader::new(raw)
            .read("signatureAlgorithm")
            .map_or(SignatureAlgorithm::Other(NO_OID), |alg| SignatureAlgorithm::from_identifier(&alg))
    }

    /// The OID of `Certificate.signatureAlgorithm`.
    pub fn signature_algorithm_oid(&self) -> ObjectIdentifier {
        let raw = self.span(&self.inner.signature_algorithm);
        Reader::new(raw)
            .read("signatureAlgorithm")
            .and_then(|alg| alg.reader().read("algorithm"))
            .ok()
            .and_then(|oid| ObjectIdentifier::from_bytes(oid.value).ok())
            .unwrap_or(NO_OID)
    }

    /// True when `TBSCertificate.signature` equals `Certificate.signatureAlgorithm`, as RFC 5280
    /// 4.1.1.2 requires.
    pub fn signature_algorithms_match(&self) -> bool {
        self.span(&self.inner.tbs_signature) == self.span(&self.inner.signature_algorithm)
    }

    /// The DER of `TBSCertificate`: the bytes the issuer signed.
    pub fn tbs_der(&self) -> &[u8] {
        self.span(&self.inner.tbs)
    }

    /// The signature octets (the content of `signatureValue` after its unused-bits octet).
    pub fn signature(&self) -> &[u8] {
        self.span(&self.inner.signature)
    }

    /// The whole `Certificate.signatureAlgorithm` AlgorithmIdentifier, as encoded.
    pub(crate) fn signature_algorithm_der(&self) -> &[u8] {
        self.span(&self.inner.signature_algorithm)
    }

    /// The whole `TBSCertificate.signature` AlgorithmIdentifier, as encoded.
    pub(crate) fn tbs_signature_algorithm_der(&self) -> &[u8] {
        self.span(&self.inner.tbs_signature)
    }

    /// The unused-bits octet of `signatureValue` (0 for every signature algorithm in use).
    pub(crate) fn signature_unused_bits(&self) -> u8 {
        let start = self.inner.signature.start;
        start.checked_sub(1).and_then(|i| self.inner.der.get(i)).copied().unwrap_or(0)
    }

    /// Every extension, in encoded order (empty for v1 and v2 certificates).
    pub fn extensions(&self) -> impl Iterator<Item = Extension<'_>> + '_ {
        self.inner.extensions.iter().map(|raw| Extension {
            oid: self.span(&raw.oid),
            critical: raw.critical,
            value: self.span(&raw.value),
            value_offset: raw.value.start,
        })
    }

    /// The extension with `oid`, if present.
    ///
    /// # Errors
    /// [`FactError::DuplicateExtension`] when it appears more than once.
    pub fn extension(&self, oid: &ObjectIdentifier) -> Result<Option<Extension<'_>>, FactError> {
        let mut found = self.extensions().filter(|e| e.oid == oid.as_bytes());
        let first = found.next();
        let more = found.count();
        if more > 0 {
            return Err(FactError::DuplicateExtension { extension: *oid, count: more + 1 });
        }
        Ok(first)
    }

    /// Critical extensions certslot does not interpret. RFC 5280 4.2 says a relying party must
    /// reject a certificate with a critical extension it does not recognise.
    pub fn unknown_critical_extensions(&self) -> Vec<ObjectIdentifier> {
        self.extensions().filter(|e| e.critical && !e.is_known()).map(|e| e.oid()).collect()
    }

    fn decoded<T>(
        &self,
        oid: &ObjectIdentifier,
        decode: impl FnOnce(&[u8]) -> Option<T>,
    ) -> Result<Option<T>, FactError> {
        match self.extension(oid)? {
            None => Ok(None),
            Some(e) => decode(e.value)
                .map(Some)
                .ok_or(FactError::MalformedExtension { extension: *oid, offset: e.value_offset }),
        }
    }

    /// The key usage extension, `None` when absent (any usage allowed).
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn key_usage(&self) -> Result<Option<KeyUsage>, FactError> {
        self.decoded(&ext::KEY_USAGE, ext::decode_key_usage)
    }

    /// The extended key usage purposes, `None` when the extension is absent.
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn extended_key_usage(&self) -> Result<Option<Vec<ObjectIdentifier>>, FactError> {
        self.decoded(&ext::EXT_KEY_USAGE, ext::decode_eku)
    }

    /// The basic constraints, `None` when absent.
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn basic_constraints(&self) -> Result<Option<BasicConstraints>, FactError> {
        self.decoded(&ext::BASIC_CONSTRAINTS, ext::decode_basic_constraints)
    }

    /// The subject key identifier (RFC 5280 4.2.1.2), `None` when the extension is absent: the
    /// octets CAs put in the `keyIdentifier` of the certificates this one issues (usually the
    /// SHA-1 of the public key, as `openssl x509 -text` shows under "Subject Key Identifier").
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn subject_key_identifier(&self) -> Result<Option<&[u8]>, FactError> {
        let oid = ext::SUBJECT_KEY_IDENTIFIER;
        match self.extension(&oid)? {
            None => Ok(None),
            Some(e) => ext::decode_subject_key_identifier(e.value)
                .map(Some)
                .ok_or(FactError::MalformedExtension { extension: oid, offset: e.value_offset }),
        }
    }

    /// The `keyIdentifier` of the authority key identifier (RFC 5280 4.2.1.1): the subject key
    /// identifier of the CA certificate whose key signed this one. `None` when the extension is
    /// absent or names the issuer by name and serial number only.
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn authority_key_identifier(&self) -> Result<Option<&[u8]>, FactError> {
        let oid = ext::AUTHORITY_KEY_IDENTIFIER;
        match self.extension(&oid)? {
            None => Ok(None),
            Some(e) => ext::decode_authority_key_identifier(e.value)
                .ok_or(FactError::MalformedExtension { extension: oid, offset: e.value_offset }),
        }
    }

    /// The subject alternative names in encoded order, `None` when the extension is absent.
    ///
    /// # Errors
    /// [`FactError`] when the extension is malformed or duplicated.
    pub fn subject_alt_names(&self) -> Result<Option<Vec<GeneralName>>, FactError> {
        self.decoded(&ext::SUBJECT_ALT_NAME, ext::decode_san)
    }

    /// The SAN DNS names in encoded order (empty when there is no SAN extension).
    ///
    /// # Errors
    /// [`FactError`] when the SAN extension is malformed or duplicated.
    pub fn dns_names(&self) -> Result<Vec<String>, FactError> {
        Ok(self
            .subject_alt_names()?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|n| match n {
                GeneralName::Dns(name) => Some(name),
                _ => None,
            })
            .collect())
    }

    fn span(&self, range: &Range<usize>) -> &[u8] {
        self.inner.der.get(range.clone()).unwrap_or_default()
    }

    fn name(&self, range: &Range<usize>) -> Name<'_> {
        // The name's structure was checked when the certificate was parsed.
        Name::from_checked(self.span(range))
    }
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.inner.der == other.inner.der
    }
}

impl Eq for Certificate {}

impl core::hash::Hash for Certificate {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        self.inner.der.hash(state);
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("thumbprint", &format_args!("{}", self.thumbprint()))
            .field("subject", &format_args!("{}", self.subject()))
            .field("not_after", &self.not_after())
            .finish()
    }
}

fn range_of(tlv_raw: &[u8], tlv_offset: usize) -> Range<usize> {
    tlv_offset..tlv_offset + tlv_raw.len()
}

/// Parses the certificate structure out of its own DER buffer.
fn parse(der: Box<[u8]>) -> Result<Inner, ParseError> {
    let mut top = Reader::new(&der);
    let cert = top.read_expected(tag::SEQUENCE, "Certificate")?;
    top.finish("Certificate")?;
    let mut fields = cert.reader();

    let tbs = fields.read_expected(tag::SEQUENCE, "tbsCertificate")?;
    let signature_algorithm = fields.read_expected(tag::SEQUENCE, "signatureAlgorithm")?;
    check_algorithm_identifier(&signature_algorithm, "signatureAlgorithm")?;
    let signature = fields.read_expected(tag::BIT_STRING, "signatureValue")?;
    fields.finish("Certificate")?;
    if signature.value.first().is_none_or(|&unused| unused > 7) {
        return Err(ParseError::Malformed { offset: signature.offset, what: "signatureValue" });
    }
    let signature_range = signature.value_offset() + 1..signature.value_offset() + signature.value.len();

    let mut t = tbs.reader();
    // RFC 5280 4.1.2.1: version [0] EXPLICIT Version DEFAULT v1.
    let version = match t.read_optional(0xA0, "version")? {
        None => Version::V1,
        Some(explicit) => {
            let v = tlv::read_single(explicit.value, tag::INTEGER, "version")
                .map_err(|_| ParseError::Malformed { offset: explicit.offset, what: "version" })?;
            match tlv::small_uint(v.value) {
                Some(0) => Version::V1,
                Some(1) => Version::V2,
                Some(2) => Version::V3,
                Some(n) => return Err(ParseError::UnsupportedVersion { version: n.saturating_add(1) }),
                None => return Err(ParseError::Malformed { offset: explicit.offset, what: "version" }),
            }
        }
    };
    // RFC 5280 4.1.2.2: any INTEGER is kept; only an empty one is malformed.
    let serial = t.read_expected(tag::INTEGER, "serialNumber")?;
    if serial.value.is_empty() {
        return Err(ParseError::Malformed { offset: serial.offset, what: "serialNumber" });
    }
    let tbs_signature = t.read_expected(tag::SEQUENCE, "signature")?;
    check_algorithm_identifier(&tbs_signature, "signature")?;
    let issuer = t.read("issuer")?;
    Name::parse(issuer, "issuer")?;
    let validity = t.read_expected(tag::SEQUENCE, "validity")?;
    let mut v = validity.reader();
    let not_before = parse_time(&v.read("notBefore")?, "notBefore")?;
    let not_after = parse_time(&v.read("notAfter")?, "notAfter")?;
    v.finish("validity")?;
    let subject = t.read("subject")?;
    Name::parse(subject, "subject")?;
    let spki = t.read_expected(tag::SEQUENCE, "subjectPublicKeyInfo")?;
    if key::split_spki(spki.raw).is_none() {
        return Err(ParseError::Malformed { offset: spki.offset, what: "subjectPublicKeyInfo" });
    }
    // RFC 5280 4.1.2.8: unique identifiers, [1] and [2] IMPLICIT BIT STRING (primitive or, in
    // BER, constructed).
    for (primitive, constructed, what) in [(0x81, 0xA1, "issuerUniqueID"), (0x82, 0xA2, "subjectUniqueID")] {
        if t.peek_tag() == Some(primitive) || t.peek_tag() == Some(constructed) {
            t.read(what)?;
        }
    }
    let mut extensions = Vec::with_capacity(10);
    if let Some(explicit) = t.read_optional(0xA3, "extensions")? {
        let mut wrapper = explicit.reader();
        let list = wrapper.read_expected(tag::SEQUENCE, "Extensions")?;
        wrapper.finish("extensions")?;
        let mut items = list.reader();
        while !items.is_empty() {
            let (e, oid_offset) = Extension::parse(items.read("Extension")?)?;
            extensions.push(RawExtension {
                oid: oid_offset..oid_offset + e.oid.len(),
                critical: e.critical,
                value: e.value_offset..e.value_offset + e.value.len(),
            });
        }
    }
    t.finish("tbsCertificate")?;

    let thumbprint = Thumbprint::of(&der);
    Ok(Inner {
        thumbprint,
        version,
        serial: serial.value_offset()..serial.value_offset() + serial.value.len(),
        tbs: range_of(tbs.raw, tbs.offset),
        tbs_signature: range_of(tbs_signature.raw, tbs_signature.offset),
        issuer: range_of(issuer.raw, issuer.offset),
        subject: range_of(subject.raw, subject.offset),
        spki: range_of(spki.raw, spki.offset),
        not_before,
        not_after,
        extensions: extensions.into_boxed_slice(),
        signature_algorithm: range_of(signature_algorithm.raw, signature_algorithm.offset),
        signature: signature_range,
        der,
    })
}

/// `AlgorithmIdentifier ::= SEQUENCE { algorithm OBJECT IDENTIFIER, parameters ANY OPTIONAL }`
fn check_algorithm_identifier(alg: &tlv::Tlv<'_>, what: &'static str) -> Result<(), ParseError> {
    let mut fields = alg.reader();
    let oid = fields.read_expected(tag::OID, what)?;
    if ObjectIdentifier::from_bytes(oid.value).is_err() {
        return Err(ParseError::Malformed { offset: oid.offset, what });
    }
    if !fields.is_empty() {
        fields.read(what)?;
    }
    fields.finish(what)
}

/// Every certificate block, decoded; the outer error is for text whose block structure is broken.
fn certificate_blocks(text: &[u8]) -> Result<Vec<Result<Certificate, ParseError>>, ParseError> {
    let blocks = pem::blocks(text)?;
    Ok(blocks
        .into_iter()
        .filter(|b| pem::CERTIFICATE_LABELS.contains(&b.label.as_str()))
        .enumerate()
        .map(|(index, block)| {
            let wrap = |source: ParseError| ParseError::PemBlock {
                index,
                line: block.line,
                source: Box::new(source),
            };
            let der = pem::decode_body(&block.body).map_err(wrap)?;
            if block.label == "TRUSTED CERTIFICATE" {
                // OpenSSL appends its trust settings (X509_CERT_AUX) after the certificate.
                Certificate::from_der_prefix(&der).map(|(cert, _aux)| cert).map_err(wrap)
            } else {
                Certificate::from_der(&der).map_err(wrap)
            }
        })
        .collect())
}
