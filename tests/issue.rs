//! Obtaining certificates: requests and self-signed certificates made by certslot, checked with the
//! real tools (OpenSSL CLI, Python `cryptography`), not with certslot reading itself.

#[path = "common/tools.rs"]
mod tools;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, ExportOptions, ImportOptions, Password, Pfx, Policy, PrivateKey, RequestError, RequestTemplate,
    RollOptions, Scope, Store,
    obtain::{CertificateRequest, SelfSignedOptions},
    validate::{Rule, Violation},
    x509::{Curve, KeyAlgorithm},
};
use getrandom::SysRng;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tools::{TempDir, openssl, python};

const AT: OffsetDateTime = datetime!(2026-11-29 10:00 UTC);

fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

fn oauth_template() -> RequestTemplate {
    RequestTemplate::for_type(&CertType::OAuthTokenIssuer, "pool01.contoso.com", "contoso.com")
        .expect("preset")
}

/// What Python `cryptography` reads from a PEM request: signature validity, subject, DNS names,
/// key usage (critical, digitalSignature, keyEncipherment), extended key usage, hash.
const CSR_FACTS: &str = r#"
import sys
from cryptography import x509
csr = x509.load_pem_x509_csr(sys.stdin.buffer.read())
san = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
ku = csr.extensions.get_extension_for_class(x509.KeyUsage)
eku = csr.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
print(csr.is_signature_valid, csr.subject.rfc4514_string(), ",".join(san), ku.critical,
      ku.value.digital_signature, ku.value.key_encipherment, ",".join(o.dotted_string for o in eku),
      csr.signature_hash_algorithm.name, csr.public_key().key_size)
"#;

#[test]
fn requests_verify_with_openssl_and_python() {
    let dir = TempDir::new("requests");
    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let keys = [
        ("rsa2048", PrivateKey::generate_rsa(2048, &mut rng()).expect("RSA key"), "sha256 2048"),
        ("p256", PrivateKey::generate_ec(Curve::P256, &mut rng()).expect("P-256 key"), "sha256 256"),
        ("p384", PrivateKey::generate_ec(Curve::P384, &mut rng()).expect("P-384 key"), "sha384 384"),
    ];
    // EC keys are not token issuers by default: accept them for this test.
    let ec_policy =
        policy.clone().with_key(certslot::validate::KeyRule::default().accept_ec(256).expect("rule"));
    for (name, key, hash_and_bits) in keys {
        let policy = if key.algorithm() == KeyAlgorithm::Rsa { &policy } else { &ec_policy };
        let request = CertificateRequest::new(&oauth_template(), &key, policy, AT, &mut rng()).expect(name);
        let pem = request.to_pem();
        assert!(pem.starts_with("-----BEGIN CERTIFICATE REQUEST-----\n"), "{pem}");
        let path = dir.write(&format!("{name}.csr"), pem.as_bytes());
        openssl(&["req", "-in", &path, "-verify", "-noout"]);
        let der_path = dir.write(&format!("{name}.der"), request.der());
        openssl(&["req", "-inform", "DER", "-in", &der_path, "-verify", "-noout"]);
        assert_eq!(
            python(CSR_FACTS, &[], pem.as_bytes()),
            format!(
                "True CN=pool01.contoso.com pool01.contoso.com,contoso.com True True True \
                 1.3.6.1.5.5.7.3.1,1.3.6.1.5.5.7.3.2 {hash_and_bits}"
            ),
            "{name}"
        );
    }
}

#[test]
fn a_request_that_breaks_the_policy_is_refused_before_signing() {
    let pfx = Pfx::import(
        include_bytes!("data/pfx/openssl3-rsa1024.pfx"),
        &Password::new("P@ssw0rd"),
        ImportOptions::default(),
    )
    .expect("fixture");
    let key = pfx.private_key().expect("key").clone();
    let template = RequestTemplate::new("CN=pool01.fabrikam.com").expect("subject");
    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let err = CertificateRequest::new(&template, &key, &policy, AT, &mut rng()).expect_err("refused");
    let RequestError::PolicyViolations { violations } = &err else { panic!("{err:?}") };
    assert_eq!(
        violations.iter().map(Violation::code).collect::<Vec<_>>(),
        ["key-too-small", "subject-mismatch"]
    );
    assert!(
        matches!(violations[0], Violation::KeyTooSmall { bits: 1024, min_bits: 2048, .. }),
        "{violations:?}"
    );
    // The same refusal for a self-signed certificate.
    let err = template
        .self_signed(key, &policy, AT, SelfSignedOptions::default(), &mut rng())
        .expect_err("refused");
    assert!(matches!(err, RequestError::PolicyViolations { .. }), "{err:?}");
}

/// What Python `cryptography` reads from a PEM certificate: serial length and sign, validity,
/// SKI == AKI, basic constraints (critical, CA), key usage (critical, digitalSignature), signature
/// check against its own key.
const CERT_FACTS: &str = r#"
import sys
from cryptography import x509
c = x509.load_pem_x509_certificate(sys.stdin.buffer.read())
ski = c.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
aki = c.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
bc = c.extensions.get_extension_for_class(x509.BasicConstraints)
ku = c.extensions.get_extension_for_class(x509.KeyUsage)
c.verify_directly_issued_by(c)
print(len(c.serial_number.to_bytes(16, "big")), c.serial_number > 0, c.not_valid_before_utc.isoformat(),
      c.not_valid_after_utc.isoformat(), ski == aki, ski == x509.SubjectKeyIdentifier.from_public_key(c.public_key()).digest,
      bc.critical, bc.value.ca, ku.critical, ku.value.digital_signature, c.subject.rfc4514_string())
"#;

#[test]
fn self_signed_certificates_verify_with_openssl_and_pass_the_policy() {
    let dir = TempDir::new("self-signed");
    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let template = oauth_template();
    let key = PrivateKey::generate_rsa(2048, &mut rng()).expect("key");
    let pfx = template.self_signed(key, &policy, AT, SelfSignedOptions::default(), &mut rng()).expect("made");
    let cert = pfx.leaf().expect("leaf").clone();
    assert_eq!(cert.not_before(), AT - Duration::minutes(5));
    assert_eq!(cert.not_after(), AT + Duration::days(730));
    assert_eq!(cert.serial().as_bytes().len(), 16);
    assert!(!cert.serial().is_negative());
    assert_eq!(cert.subject().to_string(), "CN=pool01.contoso.com");
    assert!(cert.is_self_issued());
    let report = policy.check(&cert, AT);
    assert!(report.is_ok(), "{report}");
    assert_eq!(pfx.key_friendly_name(), Some("OAuthTokenIssuer pool01.contoso.com"));

    let pem = cert.to_pem();
    let path = dir.write("self.pem", pem.as_bytes());
    let attime = (AT + Duration::HOUR).unix_timestamp().to_string();
    assert_eq!(
        openssl(&["verify", "-attime", &attime, "-CAfile", &path, &path]).trim(),
        format!("{path}: OK")
    );
    assert_eq!(
        python(CERT_FACTS, &[], pem.as_bytes()),
        "16 True 2026-11-29T09:55:00+00:00 2028-11-28T10:00:00+00:00 True True True False True True \
         CN=pool01.contoso.com"
    );

    // Ready for the store and for export.
    let exported = Pfx::export(
        &cert,
        pfx.private_key().expect("key"),
        &[],
        &Password::new("s3cret"),
        &ExportOptions::default(),
        &mut rng(),
    )
    .expect("exports");
    let p12 = dir.write("self.pfx", &exported);
    let listed = openssl(&["pkcs12", "-in", &p12, "-passin", "pass:s3cret", "-nokeys", "-clcerts"]);
    assert!(listed.contains("subject=CN = pool01.contoso.com"), "{listed}");
    let mut store = Store::for_sip_domain("contoso.com").expect("store");
    let thumbprint = store.add_pfx(pfx).expect("added");
    store
        .set(&[CertType::OAuthTokenIssuer], &Scope::Global, &thumbprint, AT, RollOptions::default())
        .expect("set");
}

#[test]
fn self_signed_ec_certificates_verify_with_openssl() {
    let dir = TempDir::new("self-signed-ec");
    let policy = Policy::new().with_key(certslot::validate::KeyRule::default().accept_ec(256).expect("rule"));
    let template = RequestTemplate::new("CN=sts.contoso.com,O=Contoso")
        .expect("subject")
        .dns_name("sts.contoso.com")
        .expect("name");
    for curve in [Curve::P256, Curve::P384] {
        let key = PrivateKey::generate_ec(curve, &mut rng()).expect("key");
        let options = SelfSignedOptions::default().validity(Duration::days(365)).expect("validity");
        let pfx = template.self_signed(key, &policy, AT, options, &mut rng()).expect("made");
        let cert = pfx.leaf().expect("leaf");
        assert_eq!(cert.public_key().expect("key").curve(), Some(curve));
        assert_eq!(cert.dns_names().expect("SAN"), ["sts.contoso.com"]);
        let pem = cert.to_pem();
        let path = dir.write(&format!("{curve:?}.pem"), pem.as_bytes());
        let attime = (AT + Duration::HOUR).unix_timestamp().to_string();
        assert_eq!(
            openssl(&["verify", "-attime", &attime, "-CAfile", &path, &path]).trim(),
            format!("{path}: OK")
        );
    }
    assert_eq!(
        SelfSignedOptions::default().validity(Duration::ZERO),
        Err(RequestError::InvalidValidity { reason: "the validity must be positive" })
    );
}

#[test]
fn a_template_writes_its_subject_as_the_certificate_made_from_it_reads() {
    // One RFC 4514 formatter (certslot's): attributes without a short name are dotted OIDs in both.
    let template =
        RequestTemplate::new("CN=sts.contoso.com,serialNumber=42,emailAddress=admin@contoso.com,O=Contoso")
            .expect("subject");
    assert_eq!(
        template.subject(),
        "CN=sts.contoso.com,2.5.4.5=42,1.2.840.113549.1.9.1=admin@contoso.com,O=Contoso"
    );
    let policy = Policy::new().with_key(certslot::validate::KeyRule::default().accept_ec(256).expect("rule"));
    let key = PrivateKey::generate_ec(Curve::P256, &mut rng()).expect("key");
    let pfx = template.self_signed(key, &policy, AT, SelfSignedOptions::default(), &mut rng()).expect("made");
    assert_eq!(pfx.leaf().map(|c| c.subject().to_string()).as_deref(), Some(template.subject()));
}

// ----- completing a request ---------------------------------------------------------------------

const CA_ISSUING: &str = "tests/data/request/ca-issuing.pem";
const CA_ISSUING_KEY: &str = "tests/data/request/ca-issuing.key";
const CA_ROOT: &str = "tests/data/request/ca-root.pem";

fn expected() -> serde_json::Value {
    serde_json::from_str(include_str!("data/request/expected.json")).expect("JSON")
}

fn sha1s(value: &serde_json::Value) -> Vec<String> {
    value.as_array().expect("array").iter().map(|v| v.as_str().expect("string").to_owned()).collect()
}

fn thumbprints(pfx: &Pfx) -> Vec<String> {
    pfx.certificates().map(|c| c.thumbprint().to_string()).collect()
}

fn pending_key() -> PrivateKey {
    PrivateKey::from_pem(include_bytes!("data/request/pending.p8"), Some(&Password::new("P@ssw0rd")))
        .expect("key")
}

#[test]
fn the_fixture_answers_complete_in_every_form() {
    let expected = expected();
    let chain = sha1s(&expected["chain_sha1"]);
    let answers: [(&str, &[u8], usize); 6] = [
        ("answer.der", include_bytes!("data/request/answer.der"), 1),
        ("answer-chain.pem", include_bytes!("data/request/answer-chain.pem"), 3),
        ("answer.p7b", include_bytes!("data/request/answer.p7b"), 3),
        ("answer-p7b.pem", include_bytes!("data/request/answer-p7b.pem"), 3),
        ("answer-python.p7b", include_bytes!("data/request/answer-python.p7b"), 3),
        ("answer-python-p7b.pem", include_bytes!("data/request/answer-python-p7b.pem"), 3),
    ];
    for (name, bytes, count) in answers {
        let pfx = certslot::obtain::complete_request(pending_key(), bytes, Some("OAuth 2027")).expect(name);
        assert_eq!(thumbprints(&pfx), chain[..count], "{name}");
        assert_eq!(pfx.leaf().map(|c| c.thumbprint().to_string()), Some(chain[0].clone()), "{name}");
        assert_eq!(pfx.friendly_name(pfx.leaf().expect("leaf")), Some("OAuth 2027"), "{name}");
        assert_eq!(
            pfx.leaf().map(|c| c.not_after()),
            Some(
                OffsetDateTime::parse(
                    expected["leaf_not_after"].as_str().expect("date"),
                    &time::format_description::well_known::Rfc3339
                )
                .expect("date")
            )
        );
    }
}

#[test]
fn an_answer_for_another_key_a_truncated_p7b_and_a_broken_chain_are_typed_errors() {
    let other = include_bytes!("data/request/answer-other-key.pem");
    assert_eq!(
        certslot::obtain::complete_request(pending_key(), other, None).map(|p| thumbprints(&p)),
        Err(RequestError::NoMatchingCertificate {
            thumbprints: vec![
                expected()["other_key_sha1"].as_str().expect("sha1").parse().expect("thumbprint")
            ]
        })
    );
    let p7b = include_bytes!("data/request/answer.p7b");
    let truncated = certslot::obtain::complete_request(pending_key(), &p7b[..p7b.len() - 100], None);
    assert!(matches!(truncated, Err(RequestError::Response(_))), "{truncated:?}");
    // The issuing CA's signature, its last octet flipped.
    let chain =
        certslot::Certificate::from_bundle(include_bytes!("data/request/answer-chain.pem")).expect("chain");
    let mut broken = chain[1].der().to_vec();
    if let Some(last) = broken.last_mut() {
        *last ^= 0x01;
    }
    let pem: String = [chain[0].der(), &broken, chain[2].der()]
        .iter()
        .map(|der| certslot::Certificate::from_der(der).expect("a flipped signature still parses").to_pem())
        .collect();
    let err = certslot::obtain::complete_request(pending_key(), pem.as_bytes(), None).expect_err("broken");
    let RequestError::Chain(certslot::x509::ChainError::Signature { position, certificate, .. }) = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (*position, certificate.to_string()),
        (1, certslot::Certificate::from_der(&broken).expect("cert").thumbprint().to_string())
    );
}

/// What Python `cryptography` reads from a PFX: leaf SHA-1, key size, whether the key is the
/// leaf's, the other certificates' SHA-1.
const PFX_FACTS: &str = r#"
import sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
p = pkcs12.load_pkcs12(sys.stdin.buffer.read(), sys.argv[1].encode())
spki = lambda k: k.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(p.cert.certificate.fingerprint(hashes.SHA1()).hex().upper(), p.key.key_size,
      spki(p.key.public_key()) == spki(p.cert.certificate.public_key()),
      ",".join(c.certificate.fingerprint(hashes.SHA1()).hex().upper() for c in p.additional_certs))
"#;

#[test]
fn a_certslot_request_signed_by_an_openssl_ca_completes_into_a_pfx_the_tools_read() {
    let dir = TempDir::new("complete");
    let key = PrivateKey::generate_rsa(2048, &mut rng()).expect("key");
    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let request = CertificateRequest::new(&oauth_template(), &key, &policy, AT, &mut rng()).expect("request");
    let csr = dir.write("req.pem", request.to_pem().as_bytes());
    let leaf = dir.path("leaf.pem");
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        CA_ISSUING,
        "-CAkey",
        CA_ISSUING_KEY,
        "-days",
        "365",
        "-set_serial",
        "0x2001",
        "-copy_extensions",
        "copy",
        "-sha256",
        "-out",
        &leaf,
    ]);
    let leaf_pem = std::fs::read(&leaf).expect("leaf");
    let leaf_der = tools::run("openssl", &["x509", "-in", &leaf, "-outform", "DER"], b"");
    let chain_pem =
        [leaf_pem.clone(), std::fs::read(CA_ISSUING).expect("CA"), std::fs::read(CA_ROOT).expect("root")]
            .concat();
    let chain_file = dir.write("chain.pem", &chain_pem);
    let p7b_der =
        tools::run("openssl", &["crl2pkcs7", "-nocrl", "-certfile", &chain_file, "-outform", "DER"], b"");
    let p7b_pem = tools::run("openssl", &["crl2pkcs7", "-nocrl", "-certfile", &chain_file], b"");
    let python_p7b = |encoding: &str| {
        let script = format!(
            "import sys\nfrom cryptography import x509\nfrom cryptography.hazmat.primitives.serialization import Encoding, pkcs7\n\
             certs = x509.load_pem_x509_certificates(sys.stdin.buffer.read())\n\
             sys.stdout.buffer.write(pkcs7.serialize_certificates(certs, Encoding.{encoding}))"
        );
        tools::run("python3", &["-c", &script], &chain_pem)
    };
    let forms: [(&str, Vec<u8>, usize); 6] = [
        ("DER", leaf_der, 0),
        ("PEM chain", chain_pem.clone(), 2),
        ("openssl .p7b DER", p7b_der, 2),
        ("openssl .p7b PEM", p7b_pem, 2),
        ("python .p7b DER", python_p7b("DER"), 2),
        ("python .p7b PEM", python_p7b("PEM"), 2),
    ];
    let ca = certslot::Certificate::from_bundle(&std::fs::read(CA_ISSUING).expect("CA")).expect("CA");
    let root = certslot::Certificate::from_bundle(&std::fs::read(CA_ROOT).expect("root")).expect("root");
    let path = [ca[0].thumbprint().to_string(), root[0].thumbprint().to_string()];
    for (form, answer, chain_len) in forms {
        let pfx = certslot::obtain::complete_request(key.clone(), &answer, None).expect(form);
        let leaf = pfx.leaf().expect("leaf");
        assert_eq!(leaf.subject().to_string(), "CN=pool01.contoso.com", "{form}");
        assert_eq!(
            pfx.chain().iter().map(|c| c.thumbprint().to_string()).collect::<Vec<_>>(),
            path[..chain_len],
            "{form}"
        );
        // OpenSSL signed the certificate when the test ran: check it within its own validity
        // (at AT only while AT is inside it), so the test does not expire on a fixed day.
        let report = policy.check(leaf, AT.max(leaf.not_before()));
        assert!(report.violations.is_empty(), "{form}: {report}");
        let chain: Vec<certslot::Certificate> = pfx.chain().into_iter().cloned().collect();
        let bytes = Pfx::export(
            leaf,
            pfx.private_key().expect("key"),
            &chain,
            &Password::new("s3cret"),
            &ExportOptions::default(),
            &mut rng(),
        )
        .expect("export");
        let file = dir.write("out.pfx", &bytes);
        // OpenSSL reads it back: the key is the certificate's.
        let cert_key = openssl(&["pkcs12", "-in", &file, "-passin", "pass:s3cret", "-nokeys", "-clcerts"]);
        assert!(cert_key.contains("subject=CN = pool01.contoso.com"), "{form}: {cert_key}");
        let key_pem = openssl(&["pkcs12", "-in", &file, "-passin", "pass:s3cret", "-nocerts", "-nodes"]);
        let key_file = dir.write("key.pem", key_pem.as_bytes());
        let cert_file = dir.write("cert.pem", cert_key.as_bytes());
        assert_eq!(
            openssl(&["pkey", "-in", &key_file, "-pubout"]),
            openssl(&["x509", "-in", &cert_file, "-noout", "-pubkey"]),
            "{form}"
        );
        assert_eq!(
            python(PFX_FACTS, &["s3cret"], &bytes),
            format!("{} 2048 True {}", leaf.thumbprint(), path[..chain_len].join(",")).trim_end(),
            "{form}"
        );
    }
}
