//! Every fixture reads to exactly the values OpenSSL and Python `cryptography` recorded for it.

mod common;

use certslot::{
    Certificate,
    x509::{FactError, GeneralName, KeyUsage, ObjectIdentifier, Version},
};
use common::{FIXTURES, cert, expected, strings};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).expect("formats")
}

fn key_usage_names(ku: KeyUsage) -> Vec<String> {
    ku.bits().map(|b| b.name().to_owned()).collect()
}

#[test]
fn every_fixture_is_in_the_table_and_vice_versa() {
    let expected = expected();
    let mut recorded: Vec<&str> = expected
        .as_object()
        .expect("object")
        .iter()
        .filter(|(_, v)| v.get("der_file").is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut table: Vec<&str> = FIXTURES.iter().map(|(n, _, _)| *n).collect();
    recorded.sort_unstable();
    table.sort_unstable();
    assert_eq!(table, recorded);
}

#[test]
fn facts_match_what_the_tools_recorded() {
    let expected = expected();
    for (name, der, pem) in FIXTURES {
        let e = &expected[*name];
        let c = Certificate::from_der(der).unwrap_or_else(|err| panic!("{name}: {err}"));
        let ctx = *name;
        assert_eq!(c.der(), *der, "{ctx}: DER kept as given");
        assert_eq!(c.thumbprint().to_string(), e["sha1"], "{ctx}");
        assert_eq!(c.sha256_fingerprint().to_string(), e["sha256"], "{ctx}");
        let version = match c.version() {
            Version::V1 => 1,
            Version::V2 => 2,
            Version::V3 => 3,
        };
        assert_eq!(version, e["version"], "{ctx}");
        assert_eq!(c.serial().to_string(), e["serial"], "{ctx}");
        assert_eq!(c.subject().to_string(), e["subject"], "{ctx}");
        assert_eq!(c.issuer().to_string(), e["issuer"], "{ctx}");
        assert_eq!(c.subject().common_names(), strings(&e["common_names"]), "{ctx}");
        assert_eq!(rfc3339(c.not_before()), e["not_before"], "{ctx}");
        assert_eq!(rfc3339(c.not_after()), e["not_after"], "{ctx}");
        assert_eq!(c.not_before().unix_timestamp(), e["not_before_unix"], "{ctx}");
        assert_eq!(c.not_after().unix_timestamp(), e["not_after_unix"], "{ctx}");
        assert_eq!(c.signature_algorithm_oid().to_string(), e["signature_algorithm"], "{ctx}");

        let key = c.public_key().unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(key.algorithm().to_string(), e["key_algorithm"], "{ctx}");
        assert_eq!(key.bits().map(u64::from), e["key_bits"].as_u64(), "{ctx}");
        let curve = key.curve().filter(|c| c.oid().is_some()).map(|c| c.to_string());
        assert_eq!(curve.as_deref(), e["curve"].as_str(), "{ctx}");

        let extensions: Vec<(String, bool)> =
            c.extensions().map(|x| (x.oid().to_string(), x.critical())).collect();
        let recorded: Vec<(String, bool)> = e["extensions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|x| {
                        (x["oid"].as_str().unwrap_or_default().to_owned(), x["critical"] == Value::Bool(true))
                    })
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(extensions, recorded, "{ctx}");

        let malformed = strings(&e["malformed_extensions"]);
        if malformed.iter().any(|m| m == "2.5.29.17") {
            assert!(matches!(c.dns_names(), Err(FactError::MalformedExtension { .. })), "{ctx}");
        } else {
            let sans =
                c.subject_alt_names().unwrap_or_else(|err| panic!("{name}: {err}")).unwrap_or_default();
            let pick = |f: fn(&GeneralName) -> Option<String>| sans.iter().filter_map(f).collect::<Vec<_>>();
            assert_eq!(
                pick(|n| if let GeneralName::Dns(s) = n { Some(s.clone()) } else { None }),
                strings(&e["dns_names"]),
                "{ctx}"
            );
            assert_eq!(
                pick(|n| if let GeneralName::Ip(ip) = n { Some(ip.to_string()) } else { None }),
                strings(&e["ip_addresses"]),
                "{ctx}"
            );
            assert_eq!(
                pick(|n| if let GeneralName::Email(s) = n { Some(s.clone()) } else { None }),
                strings(&e["emails"]),
                "{ctx}"
            );
            assert_eq!(
                pick(|n| if let GeneralName::Uri(s) = n { Some(s.clone()) } else { None }),
                strings(&e["uris"]),
                "{ctx}"
            );
        }
        if malformed.iter().any(|m| m == "2.5.29.15") {
            assert!(matches!(c.key_usage(), Err(FactError::MalformedExtension { .. })), "{ctx}");
        } else {
            let ku = c.key_usage().unwrap_or_else(|err| panic!("{name}: {err}"));
            let names = ku.map(key_usage_names);
            let recorded = e["key_usage"].as_array().map(|_| strings(&e["key_usage"]));
            assert_eq!(names, recorded, "{ctx}");
        }
        let eku = c.extended_key_usage().unwrap_or_else(|err| panic!("{name}: {err}"));
        let eku = eku.map(|v| v.iter().map(ObjectIdentifier::to_string).collect::<Vec<_>>());
        assert_eq!(
            eku,
            e["extended_key_usage"].as_array().map(|_| strings(&e["extended_key_usage"])),
            "{ctx}"
        );
        let bc = c.basic_constraints().unwrap_or_else(|err| panic!("{name}: {err}"));
        match (bc, e["basic_constraints"].as_object()) {
            (None, None) => {}
            (Some(bc), Some(rec)) => {
                assert_eq!(Value::Bool(bc.ca), rec["ca"], "{ctx}");
                assert_eq!(bc.path_len.map(u64::from), rec["path_len"].as_u64(), "{ctx}");
            }
            (got, want) => panic!("{ctx}: basic constraints {got:?} vs {want:?}"),
        }

        let from_pem = Certificate::from_pem(pem).unwrap_or_else(|err| panic!("{name} PEM: {err}"));
        assert_eq!(from_pem, c, "{ctx}: PEM and DER agree");
    }
}

#[test]
fn pem_bundle_reads_every_certificate_in_order() {
    let e = expected();
    let chain = Certificate::from_pem_bundle(common::CHAIN_PEM).expect("bundle parses");
    let thumbprints: Vec<String> = chain.iter().map(|c| c.thumbprint().to_string()).collect();
    assert_eq!(thumbprints, strings(&e["chain.pem"]["all_sha1"]));
    assert_eq!(Certificate::from_der_or_pem(common::CHAIN_PEM).map(|v| v.len()), Ok(3));
    assert_eq!(
        Certificate::from_pem(common::CHAIN_PEM).map(|c| c.thumbprint().to_string()),
        Ok(thumbprints[0].clone())
    );
}

#[test]
fn trusted_certificate_label_ignores_trust_settings() {
    let e = &expected()["trusted.pem"];
    let c = Certificate::from_pem(common::TRUSTED_PEM).expect("parses");
    assert_eq!(c.thumbprint().to_string(), e["sha1"]);
    assert_eq!(c.der().len() as u64, e["cert_der_len"].as_u64().unwrap_or(0));
    assert_eq!(c, cert("ec-p256"));
}

#[test]
fn pem_headers_and_mixed_line_lengths() {
    let c = Certificate::from_pem(common::PEM_HEADERS).expect("parses");
    assert_eq!(c.thumbprint().to_string(), expected()["pem-headers.pem"]["sha1"]);
}

#[test]
fn raw_utf8_in_san_names_reads_as_utf8() {
    let e = &expected()["san-utf8"];
    let c = cert("san-utf8");
    assert_eq!(c.thumbprint().to_string(), e["sha1"]);
    // dNSName 62 C3 BC 63 68 65 72 ...: UTF-8, as Python `cryptography` reads it.
    assert_eq!(c.dns_names(), Ok(vec!["bücher.example".to_owned(), "sip.contoso.com".to_owned()]));
    assert_eq!(c.dns_names().unwrap_or_default(), strings(&e["dns_names"]));
    let sans: Vec<String> = c
        .subject_alt_names()
        .unwrap_or_default()
        .unwrap_or_default()
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        sans,
        [
            "DNS:bücher.example",
            "DNS:sip.contoso.com",
            "email:jürgen@bücher.example",
            "URI:https://bücher.example/ä"
        ]
    );
}

#[test]
fn san_names_that_are_not_utf8_read_as_iso_8859_1() {
    let e = &expected()["san-latin1"];
    let c = cert("san-latin1");
    assert_eq!(c.thumbprint().to_string(), e["sha1"]);
    // dNSName 73 74 72 61 DF 65 ...: not UTF-8, so one character an octet (DF = ß), as before.
    assert_eq!(c.dns_names(), Ok(vec!["straße.example".to_owned(), "sip.contoso.com".to_owned()]));
    assert_eq!(c.dns_names().unwrap_or_default(), strings(&e["dns_names"]));
    let sans = c.subject_alt_names().unwrap_or_default().unwrap_or_default();
    assert_eq!(sans.get(2), Some(&GeneralName::Email("jürgen@contoso.com".to_owned())));
    assert_eq!(strings(&e["emails"]), ["jürgen@contoso.com"]);
}
