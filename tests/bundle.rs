//! `Certificate::from_bundle`: what a CA answers to a certificate request, in every form the
//! chain fixtures hold, read to the certificates OpenSSL and Python `cryptography` recorded.

mod common;

use certslot::{
    Certificate, ParseError, Thumbprint,
    x509::{BundleError, FileFormat, ObjectIdentifier},
};
use common::chains;
use der::{Decode as _, Encode as _};
use serde_json::Value;

fn thumbprints(certs: &[Certificate]) -> Vec<String> {
    certs.iter().map(|c| c.thumbprint().to_string()).collect()
}

fn recorded(e: &Value) -> Vec<String> {
    common::strings(&e["sha1"])
}

#[test]
fn every_bundle_reads_to_the_certificates_the_tools_recorded() {
    let expected = chains::expected();
    let mut read = 0;
    for (file, e) in expected["bundles"].as_object().expect("object") {
        if e.get("error").is_some() {
            continue;
        }
        let certs =
            Certificate::from_bundle(chains::bundle(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(thumbprints(&certs), recorded(e), "{file}: certificates in file order");
        if let Some(openssl) = e["openssl_reads"].as_array() {
            assert_eq!(thumbprints(&certs), common::strings(&Value::Array(openssl.clone())), "{file}");
        }
        read += 1;
    }
    assert_eq!(read, 14);
}

#[test]
fn every_form_of_the_chain_holds_the_same_three_certificates() {
    let chain: Vec<Certificate> = ["rsa-leaf", "rsa-intermediate", "rsa-root"].map(chains::cert).into();
    for file in [
        "chain.pem",
        "openssl.p7b",
        "openssl-p7b.pem",
        "python.p7b",
        "python-p7b.pem",
        "ber-indefinite.p7b",
        "ber-constructed.p7b",
        "certificate-label.pem",
    ] {
        let certs =
            Certificate::from_bundle(chains::bundle(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        assert_eq!(certs, chain, "{file}");
        // Byte for byte, so the thumbprints are the CA's.
        assert_eq!(
            certs.iter().map(Certificate::der).collect::<Vec<_>>(),
            chain.iter().map(Certificate::der).collect::<Vec<_>>()
        );
    }
    let der = Certificate::from_bundle(include_bytes!("data/chains/rsa-leaf.der"));
    assert_eq!(der, Ok(vec![chains::cert("rsa-leaf")]));
    let shuffled = Certificate::from_bundle(chains::bundle("chain-shuffled.pem")).expect("reads");
    assert_eq!(shuffled, ["rsa-root", "rsa-leaf", "rsa-intermediate"].map(chains::cert));
}

#[test]
fn the_file_formats_are_told_apart() {
    assert_eq!(FileFormat::detect(chains::bundle("openssl.p7b")), FileFormat::Pkcs7);
    assert_eq!(FileFormat::detect(chains::bundle("ber-indefinite.p7b")), FileFormat::Pkcs7);
    assert_eq!(FileFormat::detect(chains::bundle("openssl-p7b.pem")), FileFormat::Pem);
    assert_eq!(FileFormat::detect(include_bytes!("data/chains/rsa-leaf.der")), FileFormat::Der);
}

#[test]
fn files_that_hold_no_bundle_fail_as_recorded() {
    let expected = chains::expected();
    let mut failed = 0;
    for (file, e) in expected["bundles"].as_object().expect("object") {
        let Some(error) = e.get("error") else { continue };
        let result = Certificate::from_bundle(chains::bundle(file));
        match error["kind"].as_str() {
            Some("not-signed-data") => assert_eq!(
                result,
                Err(BundleError::NotSignedData {
                    content_type: ObjectIdentifier::new_unwrap(
                        error["content_type"].as_str().unwrap_or_default()
                    )
                }),
                "{file}"
            ),
            Some("no-certificates") => assert_eq!(
                result,
                Err(BundleError::NoCertificates {
                    crls: error["crls"].as_u64().unwrap_or(99) as usize,
                    signers: error["signers"].as_u64().unwrap_or(99) as usize,
                }),
                "{file}"
            ),
            // Read, then refused by chain ordering (tests/chain.rs).
            Some("bad-signature" | "too-long") => {
                assert_eq!(result.map(|c| thumbprints(&c)), Ok(recorded(e)), "{file}")
            }
            other => panic!("{file}: {other:?}"),
        }
        failed += 1;
    }
    assert_eq!(failed, 5);
    assert_eq!(
        BundleError::NoCertificates { crls: 1, signers: 0 }.to_string(),
        "the PKCS #7 holds no certificate (1 CRLs, 0 signers)"
    );
    assert_eq!(
        Certificate::from_bundle(chains::bundle("not-signed-data.p7b")).map_err(|e| e.to_string()),
        Err("the PKCS #7 content type is 1.2.840.113549.1.7.1, not signedData (1.2.840.113549.1.7.2)".into())
    );
}

#[test]
fn a_truncated_p7b_is_a_typed_error() {
    let p7b = chains::bundle("openssl.p7b");
    let len = p7b.len();
    assert_eq!(
        Certificate::from_bundle(&p7b[..len - 1]),
        Err(BundleError::Malformed {
            source: ParseError::Truncated { offset: 0, what: "ContentInfo", needed: len, available: len - 1 }
        })
    );
    // Cut before the content type, the bytes may be a certificate's start: typed as such.
    for cut in [2, 4] {
        let result = Certificate::from_bundle(&p7b[..cut]);
        assert!(
            matches!(
                result,
                Err(BundleError::Certificate { index: 0, source: ParseError::Truncated { .. }, .. })
            ),
            "cut at {cut}: {result:?}"
        );
    }
    for cut in [5, 20, 100, len / 2] {
        let result = Certificate::from_bundle(&p7b[..cut]);
        assert!(
            matches!(result, Err(BundleError::Malformed { source: ParseError::Truncated { offset: 0, .. } })),
            "cut at {cut}: {result:?}"
        );
    }
    // BER: the end-of-contents octets are missing.
    let ber = chains::bundle("ber-indefinite.p7b");
    let result = Certificate::from_bundle(&ber[..ber.len() - 2]);
    assert!(
        matches!(result, Err(BundleError::Malformed { source: ParseError::Truncated { .. } })),
        "{result:?}"
    );
    // PEM: the Base64 of a truncated DER.
    let pem = chains::bundle("openssl-p7b.pem");
    let text = std::str::from_utf8(pem).expect("ASCII");
    let mut lines: Vec<&str> = text.lines().collect();
    lines.remove(lines.len() - 2);
    let result = Certificate::from_bundle(lines.join("\n").as_bytes());
    assert!(
        matches!(&result, Err(BundleError::PemBlock { index: 0, line: 1, label, source })
            if label == "PKCS7" && matches!(**source, BundleError::Malformed { .. })),
        "{result:?}"
    );
}

#[test]
fn a_broken_certificate_inside_names_its_index_and_offset() {
    let p7b = chains::bundle("openssl.p7b");
    let inter = chains::cert("rsa-intermediate");
    let at = p7b.windows(inter.der().len()).position(|w| w == inter.der()).expect("inside");
    // tbsCertificate's SEQUENCE tag, 4 bytes into the certificate, becomes a SET.
    let mut bad = p7b.to_vec();
    bad[at + 4] = 0x31;
    assert_eq!(
        Certificate::from_bundle(&bad),
        Err(BundleError::Certificate {
            index: 1,
            offset: at,
            source: ParseError::UnexpectedTag {
                offset: 4,
                what: "tbsCertificate",
                expected: 0x30,
                found: 0x31
            },
        })
    );
    // An attribute certificate ([2] IMPLICIT) is not an X.509 certificate.
    let mut attr = p7b.to_vec();
    attr[at] = 0xA2;
    assert_eq!(
        Certificate::from_bundle(&attr),
        Err(BundleError::UnsupportedCertificateChoice { index: 1, offset: at, tag: 0xA2 })
    );
}

#[test]
fn what_is_no_bundle_says_what_it_is() {
    assert_eq!(Certificate::from_bundle(b""), Err(BundleError::Empty));
    assert_eq!(
        Certificate::from_bundle(b"hello"),
        Err(BundleError::NotABundle { format: FileFormat::Unknown, first: b'h' })
    );
    let pfx = include_bytes!("data/pfx/openssl3-default.pfx");
    assert_eq!(
        Certificate::from_bundle(pfx),
        Err(BundleError::NotABundle { format: FileFormat::Pfx, first: 0x30 })
    );
    let key = b"-----BEGIN PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n";
    assert_eq!(
        Certificate::from_bundle(key),
        Err(BundleError::NoPemCertificate { labels: vec!["PRIVATE KEY".into()] })
    );
    let unterminated = b"-----BEGIN PKCS7-----\nTWFu\n";
    assert_eq!(
        Certificate::from_bundle(unterminated),
        Err(BundleError::Pem { source: ParseError::PemUnterminated { label: "PKCS7".into(), line: 1 } })
    );
}

#[test]
fn certificates_the_cms_crate_refuses_are_read() {
    // lenient.p7b (openssl crl2pkcs7) holds a certificate with a UniversalString name and one
    // dated before 1970: x509-cert, and so cms, refuses the SignedData; certslot reads both, with
    // the thumbprints gen_certs.py recorded for them.
    let bytes = chains::bundle("lenient.p7b");
    let info = cms::content_info::ContentInfo::from_der(bytes).expect("ContentInfo decodes");
    let signed = info.content.to_der().map(|der| cms::signed_data::SignedData::from_der(&der));
    assert!(matches!(signed, Ok(Err(_))), "cms reads it now: {signed:?}");
    let certs = Certificate::from_bundle(bytes).expect("reads");
    let outer = common::expected();
    let expected: Vec<Thumbprint> = ["strings", "pre1970"]
        .map(|n| outer[n]["sha1"].as_str().and_then(|s| s.parse().ok()).expect("recorded"))
        .into();
    assert_eq!(certs.iter().map(Certificate::thumbprint).collect::<Vec<_>>(), expected);
}

#[test]
fn a_signed_message_gives_its_certificates() {
    let certs = Certificate::from_bundle(chains::bundle("cms-signed.p7b")).expect("reads");
    assert_eq!(certs, ["rsa-leaf", "rsa-intermediate"].map(chains::cert));
}

#[test]
fn pem_bundles_mix_certificates_and_pkcs7_blocks() {
    let mut text = b"issued by the CA\n".to_vec();
    text.extend_from_slice(include_bytes!("data/chains/ec-p256-leaf.pem"));
    text.extend_from_slice(chains::bundle("python-p7b.pem"));
    text.extend_from_slice(b"-----BEGIN PRIVATE KEY-----\nTWFu\n-----END PRIVATE KEY-----\n");
    let certs = Certificate::from_bundle(&text).expect("reads");
    assert_eq!(certs, ["ec-p256-leaf", "rsa-leaf", "rsa-intermediate", "rsa-root"].map(chains::cert));
}
