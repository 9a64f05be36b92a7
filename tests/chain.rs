//! `Chain::order`: a CA's bundle put in path order by name, key identifier and signature, on the
//! bundles of `tests/data/chains/gen_chains.py`.

mod common;

use certslot::{
    Certificate, Thumbprint,
    x509::{Chain, ChainEnd, ChainError, HashAlgorithm, SignatureAlgorithm, VerifyError},
};
use common::chains;
use serde_json::Value;

fn sha1(name: &str) -> Thumbprint {
    let expected = chains::expected();
    expected["certificates"][name]["sha1"].as_str().and_then(|s| s.parse().ok()).expect("recorded")
}

fn thumbprints(certs: &[Certificate]) -> Vec<Thumbprint> {
    certs.iter().map(Certificate::thumbprint).collect()
}

fn names(value: &Value) -> Vec<Thumbprint> {
    common::strings(value).iter().map(|n| sha1(n)).collect()
}

/// The certificate of a bundle with the thumbprint of fixture `leaf` (or that thumbprint).
fn find(certs: &[Certificate], leaf: &str) -> Certificate {
    let wanted = leaf.parse().unwrap_or_else(|_| sha1(leaf));
    certs.iter().find(|c| c.thumbprint() == wanted).cloned().expect("the leaf is in the bundle")
}

#[test]
fn every_bundle_orders_as_recorded() {
    let expected = chains::expected();
    let mut ordered = 0;
    for (file, e) in expected["bundles"].as_object().expect("object") {
        let Some(leaf) = e["leaf"].as_str() else { continue };
        let certs =
            Certificate::from_bundle(chains::bundle(file)).unwrap_or_else(|err| panic!("{file}: {err}"));
        let result = Chain::order(&find(&certs, leaf), &certs);
        if let Some(error) = e.get("error") {
            match error["kind"].as_str() {
                Some("bad-signature") => {
                    let (certificate, issuer) = (
                        error["certificate"].as_str().unwrap_or_default(),
                        error["issuer"].as_str().unwrap_or_default(),
                    );
                    assert_eq!(
                        result,
                        Err(ChainError::Signature {
                            position: 1,
                            certificate: sha1(certificate),
                            issuer: sha1(issuer),
                            source: Box::new(VerifyError::BadSignature {
                                algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256),
                                certificate: sha1(certificate),
                                issuer: sha1(issuer),
                            }),
                        }),
                        "{file}"
                    );
                }
                Some("too-long") => assert_eq!(result, Err(ChainError::TooLong { max: 16 }), "{file}"),
                other => panic!("{file}: {other:?}"),
            }
        } else {
            let chain = result.unwrap_or_else(|err| panic!("{file}: {err}"));
            let path = names(&e["chain"]);
            assert_eq!(thumbprints(chain.certificates()), path, "{file}: path, leaf first");
            assert_eq!(thumbprints(chain.unused()), names(&e["unused"]), "{file}: not on the path");
            let end = match &e["end"] {
                Value::String(s) if s == "self-signed" => ChainEnd::SelfSigned,
                Value::String(s) if s == "issuer-not-found" => ChainEnd::IssuerNotFound,
                Value::Object(o) => {
                    let back = sha1(o["loop"].as_str().unwrap_or_default());
                    ChainEnd::Loop { index: path.iter().position(|t| *t == back).expect("on the path") }
                }
                other => panic!("{file}: end {other}"),
            };
            assert_eq!(chain.end(), end, "{file}");
            let checks = if end == ChainEnd::IssuerNotFound { path.len() - 1 } else { path.len() };
            assert_eq!(chain.checks().len(), checks, "{file}");
        }
        ordered += 1;
    }
    assert_eq!(ordered, 15);
}

#[test]
fn any_order_of_the_bundle_gives_the_same_path() {
    let leaf = chains::cert("rsa-leaf");
    let all = ["rsa-root", "rsa-intermediate-rekeyed", "rsa-leaf", "rsa-intermediate", "ec-p256-root"];
    let path = ["rsa-leaf", "rsa-intermediate", "rsa-root"].map(sha1);
    // Every rotation and its reverse.
    for start in 0..all.len() {
        for reverse in [false, true] {
            let mut order: Vec<&str> = all.iter().cycle().skip(start).take(all.len()).copied().collect();
            if reverse {
                order.reverse();
            }
            let certs: Vec<Certificate> = order.iter().map(|n| chains::cert(n)).collect();
            let chain = Chain::order(&leaf, &certs).unwrap_or_else(|e| panic!("{order:?}: {e}"));
            assert_eq!(thumbprints(chain.certificates()), path, "{order:?}");
            let unused: Vec<Thumbprint> = order
                .iter()
                .filter(|n| ["rsa-intermediate-rekeyed", "ec-p256-root"].contains(n))
                .map(|n| sha1(n))
                .collect();
            assert_eq!(thumbprints(chain.unused()), unused, "{order:?}");
            assert_eq!(chain.root().map(Certificate::thumbprint), Some(sha1("rsa-root")));
        }
    }
}

#[test]
fn the_checks_say_how_each_link_was_signed() {
    let certs: Vec<Certificate> =
        ["rsa-leaf-pss-sha1", "rsa-intermediate", "rsa-root"].map(chains::cert).into();
    let chain = Chain::order(&certs[0], &certs).expect("orders");
    let checks: Vec<(SignatureAlgorithm, bool)> =
        chain.checks().iter().map(|c| (c.algorithm(), c.is_weak())).collect();
    assert_eq!(
        checks,
        [
            (SignatureAlgorithm::RsaPss(HashAlgorithm::Sha1), true),
            (SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256), false),
            (SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256), false),
        ]
    );
    let ec: Vec<Certificate> = ["ec-p384-root", "ec-p384-leaf-sha256"].map(chains::cert).into();
    let chain = Chain::order(&ec[1], &ec).expect("orders");
    assert_eq!(thumbprints(chain.certificates()), ["ec-p384-leaf-sha256", "ec-p384-root"].map(sha1));
    assert_eq!(chain.end(), ChainEnd::SelfSigned);
}

#[test]
fn a_leaf_alone_or_among_strangers_ends_without_issuer() {
    let leaf = chains::cert("rsa-leaf");
    let chain = Chain::order(&leaf, &[leaf.clone(), leaf.clone()]).expect("orders");
    assert_eq!(
        (chain.certificates().len(), chain.end(), chain.unused().len()),
        (1, ChainEnd::IssuerNotFound, 0)
    );
    assert_eq!(chain.root(), None);
    let strangers: Vec<Certificate> = ["ec-p256-root", "cross-a", "pss-root"].map(chains::cert).into();
    let chain = Chain::order(&leaf, &strangers).expect("orders");
    assert_eq!(chain.end(), ChainEnd::IssuerNotFound);
    assert_eq!(chain.unused(), strangers.as_slice());
    // A self-issued root whose signature certslot cannot check (DSA, explicit EC parameters) ends
    // the path without a check; one whose self-signature is bad is an error.
    for name in ["dsa2048", "ec-explicit"] {
        let root = common::cert(name);
        let chain = Chain::order(&root, &[]).expect("orders");
        assert_eq!(
            (chain.end(), chain.checks().len(), chain.root()),
            (ChainEnd::SelfIssued, 0, Some(&root)),
            "{name}"
        );
    }
    // A self-signed certificate is a chain by itself.
    let root = chains::cert("pss-root");
    let chain = Chain::order(&root, &[]).expect("orders");
    assert_eq!((chain.certificates().len(), chain.end(), chain.checks().len()), (1, ChainEnd::SelfSigned, 1));
}

#[test]
fn a_broken_leaf_signature_names_the_leaf() {
    let certs: Vec<Certificate> =
        ["rsa-root", "rsa-intermediate", "rsa-leaf-bad-signature"].map(chains::cert).into();
    let err = Chain::order(&certs[2], &certs);
    assert_eq!(
        err,
        Err(ChainError::Signature {
            position: 0,
            certificate: sha1("rsa-leaf-bad-signature"),
            issuer: sha1("rsa-intermediate"),
            source: Box::new(VerifyError::BadSignature {
                algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256),
                certificate: sha1("rsa-leaf-bad-signature"),
                issuer: sha1("rsa-intermediate"),
            }),
        })
    );
    let text = err.map_err(|e| e.to_string()).err().unwrap_or_default();
    assert!(
        text.starts_with(&format!(
            "certificate 0 of the chain ({}) is not signed by {}: ",
            sha1("rsa-leaf-bad-signature"),
            sha1("rsa-intermediate")
        )),
        "{text}"
    );
    // Only the re-keyed intermediate: its name matches, its key did not sign the leaf.
    let certs: Vec<Certificate> = ["rsa-intermediate-rekeyed", "rsa-root"].map(chains::cert).into();
    let err = Chain::order(&chains::cert("rsa-leaf"), &certs);
    let rekeyed = sha1("rsa-intermediate-rekeyed");
    assert!(
        matches!(&err, Err(ChainError::Signature { position: 0, issuer, .. }) if *issuer == rekeyed),
        "{err:?}"
    );
}

#[test]
fn cross_signed_cas_end_in_a_loop_whatever_the_leaf() {
    let certs = Certificate::from_bundle(chains::bundle("cross.pem")).expect("reads");
    for (leaf, path, back) in [
        ("cross-leaf", vec!["cross-leaf", "cross-a", "cross-b"], 1),
        ("cross-a", vec!["cross-a", "cross-b"], 0),
        ("cross-b", vec!["cross-b", "cross-a"], 0),
    ] {
        let chain = Chain::order(&chains::cert(leaf), &certs).expect("orders");
        assert_eq!(
            thumbprints(chain.certificates()),
            path.iter().map(|n| sha1(n)).collect::<Vec<_>>(),
            "{leaf}"
        );
        assert_eq!(chain.end(), ChainEnd::Loop { index: back }, "{leaf}");
        assert_eq!(chain.end().to_string(), format!("ends where its issuer is certificate {back} again"));
    }
}

/// Uppercase hex, as `gen_chains.py` records key identifiers.
fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn key_identifiers_read_as_cryptography_recorded() {
    let expected = chains::expected();
    let mut with_authority_key = 0;
    for (name, e) in expected["certificates"].as_object().expect("object") {
        let c = chains::cert(name);
        let read = (
            c.subject_key_identifier().expect(name).map(hex),
            c.authority_key_identifier().expect(name).map(hex),
        );
        let recorded = (
            e["subject_key_identifier"].as_str().map(str::to_owned),
            e["authority_key_identifier"].as_str().map(str::to_owned),
        );
        assert_eq!(read, recorded, "{name}");
        with_authority_key += usize::from(read.1.is_some());
    }
    assert_eq!(with_authority_key, 26, "of 32");
    let (old, new) = (chains::cert("renewal-ca-old"), chains::cert("renewal-ca"));
    assert_eq!(old.subject(), new.subject());
    assert_ne!(old.subject_key_identifier(), new.subject_key_identifier());
    assert_eq!(
        chains::cert("renewal-leaf").authority_key_identifier().expect("reads"),
        new.subject_key_identifier().expect("reads")
    );
}

#[test]
fn a_ca_renewed_with_a_new_key_is_told_from_its_old_certificate() {
    let [root, old, new] = ["renewal-root", "renewal-ca-old", "renewal-ca"].map(chains::cert);
    for (leaf, issuer) in [("renewal-leaf", &new), ("renewal-leaf-old", &old), ("renewal-leaf-no-aki", &new)]
    {
        let other = if issuer == &new { &old } else { &new };
        // The other CA first and last: the order of the bundle does not matter.
        for bundle in [[other, issuer, &root], [&root, issuer, other]] {
            let bundle: Vec<Certificate> = bundle.into_iter().cloned().collect();
            let chain = Chain::order(&chains::cert(leaf), &bundle).unwrap_or_else(|e| panic!("{leaf}: {e}"));
            assert_eq!(
                thumbprints(chain.certificates()),
                [sha1(leaf), issuer.thumbprint(), sha1("renewal-root")],
                "{leaf}"
            );
            assert_eq!(thumbprints(chain.unused()), [other.thumbprint()], "{leaf}");
            assert_eq!(chain.end(), ChainEnd::SelfSigned, "{leaf}");
        }
    }

    // The old CA alone: its key identifier says it is not the issuer, its signature is not
    // checked.
    let leaf = chains::cert("renewal-leaf");
    let err = Chain::order(&leaf, &[old.clone(), root.clone()]);
    let key_identifier = |c: &Certificate, authority: bool| {
        let id = if authority { c.authority_key_identifier() } else { c.subject_key_identifier() };
        id.expect("reads").expect("present").to_vec()
    };
    let mismatch = VerifyError::KeyIdentifierMismatch {
        certificate: leaf.thumbprint(),
        authority_key_identifier: key_identifier(&leaf, true),
        issuer: old.thumbprint(),
        subject_key_identifier: key_identifier(&old, false),
    };
    assert_eq!(
        err,
        Err(ChainError::Signature {
            position: 0,
            certificate: leaf.thumbprint(),
            issuer: old.thumbprint(),
            source: Box::new(mismatch.clone()),
        })
    );
    let expected = chains::expected();
    let recorded = |name: &str, field: &str| {
        expected["certificates"][name][field].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(
        mismatch.to_string(),
        format!(
            "the authority key identifier {} of certificate {} is not the subject key identifier {} of {}",
            recorded("renewal-leaf", "authority_key_identifier"),
            sha1("renewal-leaf"),
            recorded("renewal-ca-old", "subject_key_identifier"),
            sha1("renewal-ca-old")
        )
    );
    // Without an authority key identifier, the old CA's key is tried and fails.
    let no_aki = chains::cert("renewal-leaf-no-aki");
    assert!(
        matches!(
            Chain::order(&no_aki, &[old.clone(), root.clone()]),
            Err(ChainError::Signature { position: 0, source, .. }) if matches!(*source, VerifyError::BadSignature { .. })
        ),
        "the signature decides"
    );
}
