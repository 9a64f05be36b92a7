//! Bad input ends in a typed error that names what failed, never a panic.

mod common;

use certslot::{
    Certificate, ParseError, RequestError, RequestTemplate,
    x509::{FactError, ObjectIdentifier},
};
use common::der;

#[test]
fn empty_input() {
    assert_eq!(Certificate::from_der(&[]), Err(ParseError::Empty));
    assert_eq!(Certificate::from_der_or_pem(&[]), Err(ParseError::Empty));
    assert_eq!(Certificate::from_pem(b""), Err(ParseError::NoPemCertificate { labels: vec![] }));
}

#[test]
fn truncated_at_every_length() {
    let full = der("rsa2048");
    assert_eq!(full.len(), 1031);
    assert_eq!(
        Certificate::from_der(&full[..1030]),
        Err(ParseError::Truncated { offset: 0, what: "Certificate", needed: 1031, available: 1030 })
    );
    assert_eq!(
        Certificate::from_der(&full[..1]),
        Err(ParseError::Truncated { offset: 0, what: "Certificate", needed: 2, available: 1 })
    );
    for len in 1..full.len() {
        let err = Certificate::from_der(&full[..len]).expect_err("a truncated certificate is an error");
        assert!(matches!(err, ParseError::Truncated { offset: 0, .. }), "{len}: {err:?}");
    }
}

#[test]
fn trailing_bytes() {
    let mut bytes = der("rsa2048").to_vec();
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(
        Certificate::from_der(&bytes),
        Err(ParseError::TrailingData { offset: 1031, what: "Certificate", len: 2 })
    );
}

#[test]
fn garbage_and_wrong_tags() {
    assert_eq!(
        Certificate::from_der(b"hello"),
        Err(ParseError::UnexpectedTag { offset: 0, what: "Certificate", expected: 0x30, found: b'h' })
    );
    // A SEQUENCE holding an INTEGER where the TBSCertificate belongs.
    assert_eq!(
        Certificate::from_der(&[0x30, 0x03, 0x02, 0x01, 0x00]),
        Err(ParseError::UnexpectedTag { offset: 2, what: "tbsCertificate", expected: 0x30, found: 0x02 })
    );
    // The same bytes as text are read as PEM, and hold no certificate block.
    assert_eq!(Certificate::from_der_or_pem(b"hello"), Err(ParseError::NoPemCertificate { labels: vec![] }));
}

#[test]
fn huge_and_indefinite_lengths() {
    assert_eq!(
        Certificate::from_der(&[0x30, 0x84, 0xFF, 0xFF, 0xFF, 0xFF, 0x30]),
        Err(ParseError::Truncated { offset: 0, what: "Certificate", needed: 6 + 0xFFFF_FFFF, available: 7 })
    );
    assert_eq!(
        Certificate::from_der(&[0x30, 0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0x30]),
        Err(ParseError::LengthOverflow { offset: 0, what: "Certificate" })
    );
    assert_eq!(
        Certificate::from_der(&[0x30, 0x80, 0x30, 0x00, 0x00, 0x00]),
        Err(ParseError::IndefiniteLength { offset: 0, what: "Certificate" })
    );
    // The TBSCertificate claims more bytes than the certificate holds.
    let mut bytes = der("rsa2048").to_vec();
    bytes[6] = 0xFF;
    assert_eq!(
        Certificate::from_der(&bytes),
        Err(ParseError::Truncated { offset: 4, what: "tbsCertificate", needed: 4 + 0xFFEB, available: 1027 })
    );
}

#[test]
fn unsupported_version_and_bad_time() {
    let original = der("rsa2048");
    // [0] EXPLICIT INTEGER 2 at offset 8: A0 03 02 01 02.
    assert_eq!(&original[8..13], &[0xA0, 0x03, 0x02, 0x01, 0x02]);
    let mut v4 = original.to_vec();
    v4[12] = 3;
    assert_eq!(Certificate::from_der(&v4), Err(ParseError::UnsupportedVersion { version: 4 }));

    let at = original.windows(13).position(|w| w == b"260101000000Z").expect("notBefore");
    let mut bad = original.to_vec();
    bad[at + 2] = b'1';
    bad[at + 3] = b'3';
    assert_eq!(
        Certificate::from_der(&bad),
        Err(ParseError::InvalidTime { offset: at - 2, what: "notBefore", text: "261301000000Z".into() })
    );
}

#[test]
fn pem_errors() {
    let key_only = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        Certificate::from_pem(key_only),
        Err(ParseError::NoPemCertificate { labels: vec!["PRIVATE KEY".into()] })
    );
    assert_eq!(
        Certificate::from_pem_bundle(b"-----BEGIN CERTIFICATE-----\nMIIB\n"),
        Err(ParseError::PemUnterminated { label: "CERTIFICATE".into(), line: 1 })
    );
    let bad_base64 = b"x\n-----BEGIN CERTIFICATE-----\nMII!\n-----END CERTIFICATE-----\n";
    assert_eq!(
        Certificate::from_pem(bad_base64),
        Err(ParseError::PemBlock {
            index: 0,
            line: 2,
            source: Box::new(ParseError::PemBase64 { line: 3, column: 4 })
        })
    );
    // The second block of a bundle is cut short: the bundle fails, naming that block.
    let mut bundle = common::FIXTURES[2].2.to_vec();
    bundle.extend_from_slice(b"-----BEGIN CERTIFICATE-----\nMIIEAzCCAuug\n-----END CERTIFICATE-----\n");
    assert_eq!(
        Certificate::from_pem_bundle(&bundle),
        Err(ParseError::PemBlock {
            index: 1,
            line: 25,
            source: Box::new(ParseError::Truncated {
                offset: 0,
                what: "Certificate",
                needed: 1031,
                available: 9
            })
        })
    );
    // The first certificate alone still reads.
    assert_eq!(Certificate::from_pem(&bundle).map(|c| c.der().len()), Ok(1031));
}

#[test]
fn malformed_extensions_make_only_their_fact_unavailable() {
    let ku = common::cert("ext-malformed-ku");
    let ku_oid = ObjectIdentifier::new_unwrap("2.5.29.15");
    assert!(
        matches!(ku.key_usage(), Err(FactError::MalformedExtension { extension, .. }) if extension == ku_oid)
    );
    assert_eq!(ku.dns_names(), Ok(vec!["sip.contoso.com".to_owned(), "contoso.com".to_owned()]));
    assert_eq!(ku.thumbprint().to_string(), common::expected()["ext-malformed-ku"]["sha1"]);

    let san = common::cert("ext-malformed-san");
    let san_oid = ObjectIdentifier::new_unwrap("2.5.29.17");
    assert!(
        matches!(san.dns_names(), Err(FactError::MalformedExtension { extension, .. }) if extension == san_oid)
    );
    assert_eq!(
        san.key_usage().map(|k| k.map(|k| k.to_string())),
        Ok(Some("digitalSignature, keyEncipherment".into()))
    );

    // A renewal would lose what does not read: refused, naming the extension.
    for (cert, oid) in [(&ku, ku_oid), (&san, san_oid)] {
        assert!(matches!(
            RequestTemplate::renewal_of(cert),
            Err(RequestError::UnreadableExtension(FactError::MalformedExtension { extension, .. })) if extension == oid
        ));
    }
}

#[test]
fn unknown_critical_extensions_are_listed() {
    let c = common::cert("ext-unknown");
    assert_eq!(c.unknown_critical_extensions(), vec![ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.2")]);
    assert_eq!(common::cert("rsa2048").unknown_critical_extensions(), vec![]);
}
