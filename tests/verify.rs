//! `Certificate::verify_signed_by`: signatures checked with the issuer's key, on the fixtures of
//! `tests/data/gen_certs.py` and of `tests/data/chains/gen_chains.py`, against what OpenSSL
//! and Python `cryptography` recorded.

mod common;

use certslot::{
    Thumbprint,
    x509::{Curve, HashAlgorithm, KeyAlgorithm, ObjectIdentifier, SignatureAlgorithm, VerifyError},
};
use common::chains;
use serde_json::Value;

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn thumbprint(e: &Value) -> Thumbprint {
    e["sha1"].as_str().and_then(|s| s.parse().ok()).expect("sha1 recorded")
}

fn hash(name: &str) -> HashAlgorithm {
    match name {
        "sha1" => HashAlgorithm::Sha1,
        "sha224" => HashAlgorithm::Sha224,
        "sha256" => HashAlgorithm::Sha256,
        "sha384" => HashAlgorithm::Sha384,
        "sha512" => HashAlgorithm::Sha512,
        other => panic!("hash {other}"),
    }
}

/// The algorithm `gen_chains.py` recorded: the OID's family with cryptography's hash.
fn algorithm(e: &Value) -> SignatureAlgorithm {
    let h = hash(e["signature_hash"].as_str().expect("hash recorded"));
    match e["signature_algorithm"].as_str().expect("oid recorded") {
        "1.2.840.113549.1.1.10" => SignatureAlgorithm::RsaPss(h),
        s if s.starts_with("1.2.840.10045.4.") => SignatureAlgorithm::Ecdsa(h),
        _ => SignatureAlgorithm::RsaPkcs1(h),
    }
}

fn key(e: &Value) -> KeyAlgorithm {
    match (e["key_algorithm"].as_str(), e["curve"].as_str()) {
        (Some("rsa"), _) => KeyAlgorithm::Rsa,
        (Some("rsa-pss"), _) => KeyAlgorithm::RsaPss,
        (Some("ec"), Some("P-256")) => KeyAlgorithm::Ec(Curve::P256),
        (Some("ec"), Some("P-384")) => KeyAlgorithm::Ec(Curve::P384),
        other => panic!("key {other:?}"),
    }
}

#[test]
fn every_certificate_fixture_is_in_the_table_and_vice_versa() {
    let expected = chains::expected();
    for (section, table) in [("certificates", chains::CERTIFICATES), ("bundles", chains::BUNDLES)] {
        let recorded: Vec<&str> =
            expected[section].as_object().expect("object").keys().map(String::as_str).collect();
        let mut table: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
        table.sort_unstable();
        assert_eq!(table, recorded, "{section}");
    }
}

#[test]
fn each_signature_verifies_as_openssl_says() {
    let expected = chains::expected();
    let mut verdicts = Vec::new();
    for (name, e) in expected["certificates"].as_object().expect("object") {
        let issuer_name = e["issuer_fixture"].as_str().expect("issuer recorded");
        let issuer_entry = &expected["certificates"][issuer_name];
        let (c, issuer) = (chains::cert(name), chains::cert(issuer_name));
        assert_eq!(c.thumbprint(), thumbprint(e), "{name}");
        let result = c.verify_signed_by(&issuer);
        let verdict = e["verdict"].as_str().expect("verdict recorded");
        assert_eq!(e["openssl_verifies"], verdict == "ok", "{name}: the recorded verdict is OpenSSL's");
        match verdict {
            "ok" => {
                let check = result.unwrap_or_else(|err| panic!("{name}: {err}"));
                assert_eq!(check.algorithm(), algorithm(e), "{name}");
                assert_eq!(check.hash(), hash(e["signature_hash"].as_str().unwrap_or_default()), "{name}");
                assert_eq!(check.is_weak(), e["signature_hash"] == "sha1", "{name}");
                assert_eq!(check.issuer_key(), key(issuer_entry), "{name}");
                assert_eq!(
                    check.issuer_key_bits().map(u64::from),
                    issuer_entry["key_bits"].as_u64(),
                    "{name}"
                );
                let pss = check.pss().map(|p| {
                    serde_json::json!({
                        "hash": p.hash().to_string().to_lowercase().replace('-', ""),
                        "mgf1_hash": p.mgf_hash().map(|h| h.to_string().to_lowercase().replace('-', "")),
                        "salt_len": p.salt_len(),
                        "trailer_field": p.trailer_field(),
                    })
                });
                assert_eq!(pss.unwrap_or(Value::Null), e["pss"], "{name}");
            }
            "bad-signature" => assert_eq!(
                result,
                Err(VerifyError::BadSignature {
                    algorithm: algorithm(e),
                    certificate: thumbprint(e),
                    issuer: thumbprint(issuer_entry),
                }),
                "{name}"
            ),
            "algorithm-mismatch" => assert_eq!(
                result,
                Err(VerifyError::AlgorithmMismatch {
                    outer: oid(e["signature_algorithm"].as_str().unwrap_or_default()),
                    tbs: oid(e["tbs_signature_algorithm"].as_str().unwrap_or_default()),
                }),
                "{name}"
            ),
            other => panic!("{name}: verdict {other}"),
        }
        verdicts.push(verdict);
    }
    // Every algorithm of the issue is covered, and so are the failures.
    assert_eq!(verdicts.iter().filter(|v| **v == "ok").count(), 28);
    assert_eq!(verdicts.iter().filter(|v| **v == "bad-signature").count(), 3);
    assert_eq!(verdicts.iter().filter(|v| **v == "algorithm-mismatch").count(), 1);
}

#[test]
fn the_algorithms_of_the_issue_each_verify() {
    use HashAlgorithm::*;
    use SignatureAlgorithm::*;
    let cases = [
        ("rsa-leaf", RsaPkcs1(Sha256), "rsa-intermediate"),
        ("rsa-leaf-sha1", RsaPkcs1(Sha1), "rsa-intermediate"),
        ("rsa-leaf-sha384", RsaPkcs1(Sha384), "rsa-intermediate"),
        ("rsa-leaf-sha512", RsaPkcs1(Sha512), "rsa-intermediate"),
        ("rsa-leaf-pss", RsaPss(Sha256), "rsa-intermediate"),
        ("rsa-leaf-pss-sha512", RsaPss(Sha512), "rsa-intermediate"),
        ("rsa-leaf-pss-sha1", RsaPss(Sha1), "rsa-intermediate"),
        ("pss-leaf", RsaPss(Sha256), "pss-root"),
        ("ec-p256-leaf", Ecdsa(Sha256), "ec-p256-root"),
        ("ec-p256-leaf-sha1", Ecdsa(Sha1), "ec-p256-root"),
        ("ec-p256-leaf-sha512", Ecdsa(Sha512), "ec-p256-root"),
        ("ec-p384-leaf", Ecdsa(Sha384), "ec-p384-root"),
        ("ec-p384-leaf-sha256", Ecdsa(Sha256), "ec-p384-root"),
    ];
    for (leaf, algorithm, issuer) in cases {
        let check = chains::cert(leaf).verify_signed_by(&chains::cert(issuer));
        assert_eq!(
            check.map(|c| (c.algorithm(), c.is_weak())),
            Ok((algorithm, algorithm.is_weak())),
            "{leaf}"
        );
    }
}

#[test]
fn pss_parameters_and_the_check_read_as_text() {
    let check = chains::cert("rsa-leaf-pss-sha512").verify_signed_by(&chains::cert("rsa-intermediate"));
    assert_eq!(
        check.map(|c| c.to_string()),
        Ok("RSA-PSS with SHA-512 (hash SHA-512, MGF1 with SHA-512, salt 20 octets, trailer field 1) by a \
            2048-bit rsa key"
            .to_owned())
    );
    let check = chains::cert("ec-p384-leaf").verify_signed_by(&chains::cert("ec-p384-root"));
    assert_eq!(check.map(|c| c.to_string()), Ok("ECDSA with SHA-384 by an EC P-384 key".to_owned()));
}

#[test]
fn a_signature_by_another_key_is_bad() {
    let (leaf, rekeyed) = (chains::cert("rsa-leaf"), chains::cert("rsa-intermediate-rekeyed"));
    let expected = chains::expected();
    let err = leaf.verify_signed_by(&rekeyed);
    assert_eq!(
        err,
        Err(VerifyError::BadSignature {
            algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256),
            certificate: thumbprint(&expected["certificates"]["rsa-leaf"]),
            issuer: thumbprint(&expected["certificates"]["rsa-intermediate-rekeyed"]),
        })
    );
    assert_eq!(
        err.map_err(|e| e.to_string()),
        Err(format!(
            "the RSA PKCS#1 v1.5 with SHA-256 signature of certificate {} does not verify with the key of {}",
            leaf.thumbprint(),
            rekeyed.thumbprint()
        ))
    );
    let ec = chains::cert("ec-p256-leaf");
    assert!(matches!(ec.verify_signed_by(&ec), Err(VerifyError::BadSignature { .. })));
}

#[test]
fn an_issuer_key_of_the_wrong_type_is_a_key_mismatch() {
    use SignatureAlgorithm::*;
    let cases = [
        ("rsa-leaf", "ec-p256-root", RsaPkcs1(HashAlgorithm::Sha256), KeyAlgorithm::Ec(Curve::P256)),
        ("ec-p256-leaf", "rsa-intermediate", Ecdsa(HashAlgorithm::Sha256), KeyAlgorithm::Rsa),
        // RFC 4055 1.2: an id-RSASSA-PSS key verifies RSASSA-PSS only.
        ("rsa-leaf", "pss-root", RsaPkcs1(HashAlgorithm::Sha256), KeyAlgorithm::RsaPss),
    ];
    for (leaf, issuer, algorithm, key) in cases {
        assert_eq!(
            chains::cert(leaf).verify_signed_by(&chains::cert(issuer)),
            Err(VerifyError::KeyMismatch { algorithm, key }),
            "{leaf} by {issuer}"
        );
    }
}

#[test]
fn a_pss_key_refuses_signatures_outside_its_parameters() {
    // pss-root's key allows SHA-256, MGF1 with SHA-256 and salts of 32 octets or more.
    let root = chains::cert("pss-root");
    let err = chains::cert("rsa-leaf-pss-sha512").verify_signed_by(&root);
    let Err(VerifyError::PssKeyMismatch { key, signature }) = err else { panic!("{err:?}") };
    assert_eq!(
        (key.hash(), key.mgf_hash(), key.salt_len()),
        (HashAlgorithm::Sha256, Some(HashAlgorithm::Sha256), 32)
    );
    assert_eq!((signature.hash(), signature.salt_len()), (HashAlgorithm::Sha512, 20));
    // Within the parameters, a signature by another key is just bad.
    let err = chains::cert("rsa-leaf-pss").verify_signed_by(&root);
    assert!(matches!(err, Err(VerifyError::BadSignature { .. })), "{err:?}");
}

#[test]
fn keys_and_signatures_certslot_cannot_use_are_typed() {
    let leaf = chains::cert("ec-p256-leaf");
    assert_eq!(
        leaf.verify_signed_by(&common::cert("ec-p521")),
        Err(VerifyError::UnsupportedKey { key: KeyAlgorithm::Ec(Curve::P521), bits: Some(521) })
    );
    // RFC 8017 8.2.2: a 2048-bit key's signature is 256 octets, a 1024-bit key's 128.
    assert_eq!(
        chains::cert("rsa-leaf").verify_signed_by(&common::cert("rsa1024")),
        Err(VerifyError::MalformedSignature {
            algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256),
            len: 256,
            expected: Some(128),
        })
    );
    assert_eq!(
        common::cert("ed25519").verify_signed_by(&common::cert("ed25519")),
        Err(VerifyError::KeyMismatch {
            algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256),
            key: KeyAlgorithm::Ed25519
        })
    );
}

#[test]
fn roots_are_self_signed_and_nothing_else_is() {
    let expected = chains::expected();
    for (name, e) in expected["certificates"].as_object().expect("object") {
        assert_eq!(chains::cert(name).is_self_signed(), e["self_signed"] == true, "{name}");
    }
    // Self-issued but not verifiable by certslot (DSA).
    assert!(!common::cert("dsa2048").is_self_signed());
    assert!(common::cert("rsa-pss").is_self_signed());
}

#[test]
fn every_fixture_verifies_with_the_issuer_gen_certs_recorded() {
    let expected = common::expected();
    for (name, _, _) in common::FIXTURES {
        let issuer = expected[*name]["issuer_fixture"].as_str().expect("issuer recorded");
        let (c, i) = (common::cert(name), common::cert(issuer));
        let result = c.verify_signed_by(&i);
        match *name {
            "dsa2048" => assert_eq!(
                result,
                Err(VerifyError::UnsupportedAlgorithm {
                    oid: oid("2.16.840.1.101.3.4.3.2"),
                    algorithm: SignatureAlgorithm::Dsa(HashAlgorithm::Sha256),
                })
            ),
            "ec-explicit" => assert_eq!(
                result,
                Err(VerifyError::UnsupportedKey { key: KeyAlgorithm::Ec(Curve::Explicit), bits: Some(256) })
            ),
            _ => {
                let check = result.unwrap_or_else(|e| panic!("{name}: {e}"));
                assert_eq!(check.algorithm(), c.signature_algorithm(), "{name}");
                assert_eq!(check.is_weak(), *name == "sha1-signed", "{name}");
                assert_eq!(check.issuer_key(), i.public_key().map(|k| k.algorithm()).expect("key"), "{name}");
            }
        }
    }
}
