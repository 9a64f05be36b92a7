//! Obtaining certificates: requests and self-signed certificates made by certslot, checked with the
//! real tools (OpenSSL CLI, Python `cryptography`), not with certslot reading itself.

#[path = "common/tools.rs"]
mod tools;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, CertificateRequest, Curve, ExportOptions, ImportOptions, KeyAlgorithm, Password, Pfx, Policy,
    PrivateKey, RequestError, RequestTemplate, RollOptions, Rule, Scope, SelfSignedOptions, Store, Violation,
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
    let ec_policy = policy.clone().with_key(certslot::KeyRule::default().accept_ec(256).expect("rule"));
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

    let pem =
        format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", certslot_base64(cert.der()));
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
    let policy = Policy::new().with_key(certslot::KeyRule::default().accept_ec(256).expect("rule"));
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
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            certslot_base64(cert.der())
        );
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

/// Base64 in 64-character lines, for PEM the tools read.
fn certslot_base64(der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in der.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.as_bytes().chunks(64).map(|l| String::from_utf8_lossy(l).into_owned()).collect::<Vec<_>>().join("\n")
}
