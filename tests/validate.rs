//! The validators report every violation with the values compared.

mod common;

use certslot::{
    Policy,
    validate::{
        AcceptedKeys, KeyRule, Report, Rule, SubjectRule, UsageRule, ValidityRule, Violation, Warning,
        WarningRule,
    },
    x509::{
        Curve, FactError, HashAlgorithm, KeyAlgorithm, KeyUsage, KeyUsageBit, ObjectIdentifier,
        SignatureAlgorithm, eku,
    },
};
use common::cert;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const AT: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);
const RSA_ONLY: AcceptedKeys = AcceptedKeys { rsa: true, rsa_pss: false, ec_min_bits: None, eddsa: false };

fn token_issuer(domain: &str) -> Policy {
    Policy::oauth_token_issuer(domain).expect("valid domain")
}

fn violations(name: &str, policy: &Policy, at: OffsetDateTime) -> Vec<Violation> {
    policy.check(&cert(name), at).violations
}

#[test]
fn the_sample_passes_the_token_issuer_policy() {
    assert_eq!(token_issuer("contoso.com").check(&cert("rsa2048"), AT), Report::default());
    for name in
        ["rsa3072", "rsa4096", "rsa8704", "no-san", "wildcard", "no-ku-eku", "ku-critical-eku-server", "v1"]
    {
        assert_eq!(violations(name, &token_issuer("contoso.com"), AT), vec![], "{name}");
    }
}

#[test]
fn key_size_and_algorithm() {
    let p = token_issuer("contoso.com");
    let min_bits = 2048;
    assert_eq!(
        violations("rsa1024", &p, AT),
        vec![Violation::KeyTooSmall { algorithm: KeyAlgorithm::Rsa, bits: 1024, min_bits }]
    );
    assert_eq!(
        violations("rsa512", &p, AT),
        vec![Violation::KeyTooSmall { algorithm: KeyAlgorithm::Rsa, bits: 512, min_bits }]
    );
    assert_eq!(
        violations("ec-p256", &p, AT),
        vec![Violation::KeyAlgorithmNotAccepted {
            algorithm: KeyAlgorithm::Ec(Curve::P256),
            accepted: RSA_ONLY
        }]
    );
    assert_eq!(
        violations("rsa-pss", &p, AT),
        vec![Violation::KeyAlgorithmNotAccepted { algorithm: KeyAlgorithm::RsaPss, accepted: RSA_ONLY }]
    );
    let ed = KeyRule::default().check(&cert("ed25519"), AT).violations;
    assert_eq!(
        ed,
        vec![Violation::KeyAlgorithmNotAccepted { algorithm: KeyAlgorithm::Ed25519, accepted: RSA_ONLY }]
    );

    let ec384 = KeyRule::default().accept_ec(384).expect("in range");
    assert_eq!(ec384.check(&cert("ec-p384"), AT), Report::default());
    assert_eq!(ec384.check(&cert("ec-p521"), AT), Report::default());
    assert_eq!(
        ec384.check(&cert("ec-explicit"), AT).violations,
        vec![Violation::KeyTooSmall {
            algorithm: KeyAlgorithm::Ec(Curve::Explicit),
            bits: 256,
            min_bits: 384
        }]
    );
    let strict = KeyRule::default().min_rsa_bits(3072).expect("in range");
    assert_eq!(strict.check(&cert("rsa3072"), AT), Report::default());
    assert_eq!(
        strict.check(&cert("rsa2048"), AT).violations,
        vec![Violation::KeyTooSmall { algorithm: KeyAlgorithm::Rsa, bits: 2048, min_bits: 3072 }]
    );
}

#[test]
fn impossible_key_rules_fail_when_built() {
    use certslot::PolicyError;
    assert_eq!(
        KeyRule::default().min_rsa_bits(100_000),
        Err(PolicyError::KeySizeOutOfRange { algorithm: "RSA", bits: 100_000, min: 512, max: 16384 })
    );
    assert_eq!(
        KeyRule::default().accept_ec(100),
        Err(PolicyError::KeySizeOutOfRange { algorithm: "EC", bits: 100, min: 160, max: 571 })
    );
    assert_eq!(KeyRule::default().accept_rsa(false), Err(PolicyError::NoKeyAlgorithm));
    assert_eq!(
        Policy::oauth_token_issuer("con toso.com"),
        Err(PolicyError::InvalidSipDomain {
            domain: "con toso.com".into(),
            reason: "host names hold only letters, digits and hyphens"
        })
    );
}

#[test]
fn subject_must_name_the_sip_domain() {
    assert_eq!(
        violations("rsa2048", &token_issuer("fabrikam.com"), AT),
        vec![Violation::SubjectMismatch {
            sip_domain: "fabrikam.com".into(),
            common_names: vec!["lyncpool01.contoso.com".into()],
            dns_names: vec!["lyncpool01.contoso.com".into(), "sip.contoso.com".into(), "contoso.com".into()],
        }]
    );
    // The IDN fixture: CN is the U-label sip.münchen.de, SANs are A-labels.
    assert_eq!(violations("idn", &token_issuer("münchen.de"), AT), vec![]);
    assert_eq!(violations("idn", &token_issuer("BÜCHER.example"), AT), vec![]);
    assert_eq!(violations("idn", &token_issuer("xn--mnchen-3ya.de"), AT), vec![]);
    let subject_only = Policy::new().with_subject(SubjectRule::new("München.DE").expect("valid"));
    // CN alone (U-label) matches too: drop the SANs from consideration by checking the CN rule directly.
    assert!(SubjectRule::new("münchen.de").expect("valid").matches_name("sip.münchen.de"));
    assert_eq!(subject_only.check(&cert("idn"), AT), Report::default());
    assert_eq!(violations("wildcard", &token_issuer("sub.contoso.com"), AT), vec![]);
}

#[test]
fn raw_utf8_san_names_match_their_domain() {
    // san-utf8 carries `bücher.example` as raw UTF-8 in a dNSName and a CN that names no host:
    // read as UTF-8, the SAN matches the domain in either form.
    let subject_only = |domain| Policy::new().with_subject(SubjectRule::new(domain).expect("valid"));
    assert_eq!(subject_only("bücher.example").check(&cert("san-utf8"), AT), Report::default());
    assert_eq!(subject_only("xn--bcher-kva.example").check(&cert("san-utf8"), AT), Report::default());
    assert_eq!(
        subject_only("fabrikam.com").check(&cert("san-utf8"), AT).violations,
        vec![Violation::SubjectMismatch {
            sip_domain: "fabrikam.com".into(),
            common_names: vec!["Contoso raw UTF-8 SAN".into()],
            dns_names: vec!["bücher.example".into(), "sip.contoso.com".into()],
        }]
    );
}

#[test]
fn validity_at_the_instant() {
    let p = token_issuer("contoso.com");
    assert_eq!(
        violations("expired", &p, AT),
        vec![Violation::Expired { at: AT, not_after: datetime!(2021-01-01 0:00 UTC) }]
    );
    assert_eq!(
        violations("not-yet-valid", &p, AT),
        vec![Violation::NotYetValid { at: AT, not_before: datetime!(2030-01-01 0:00 UTC) }]
    );
    // Both ends of the period are inclusive (RFC 5280 4.1.2.5).
    let c = cert("rsa2048");
    let rule = ValidityRule::default();
    assert_eq!(rule.check(&c, datetime!(2026-01-01 0:00 UTC)), Report::default());
    assert_eq!(rule.check(&c, datetime!(2036-01-01 0:00 UTC)), Report::default());
    assert_eq!(
        rule.check(&c, datetime!(2036-01-01 0:00:01 UTC)).violations,
        vec![Violation::Expired {
            at: datetime!(2036-01-01 0:00:01 UTC),
            not_after: datetime!(2036-01-01 0:00 UTC)
        }]
    );
    let at = datetime!(2035-12-20 0:00 UTC);
    let lead = ValidityRule::default().min_remaining(Duration::days(30));
    assert_eq!(
        lead.check(&c, at).violations,
        vec![Violation::ExpiresTooSoon {
            at,
            not_after: datetime!(2036-01-01 0:00 UTC),
            min_remaining: Duration::days(30)
        }]
    );
    assert_eq!(
        ValidityRule::default().check(&cert("pre1970"), AT).violations,
        vec![Violation::Expired { at: AT, not_after: datetime!(1969-12-31 23:59:59 UTC) }]
    );
    assert_eq!(ValidityRule::default().check(&cert("year9999"), AT), Report::default());
}

#[test]
fn usage_allows_signing() {
    let p = token_issuer("contoso.com");
    assert_eq!(
        violations("ku-no-digsig", &p, AT),
        vec![Violation::DigitalSignatureNotAllowed {
            key_usage: KeyUsage::from_mask(1 << KeyUsageBit::KeyEncipherment as u16)
        }]
    );
    assert_eq!(
        violations("eku-client-only", &p, AT),
        vec![Violation::ExtendedKeyUsageMissing {
            required: eku::SERVER_AUTH,
            present: vec![eku::CLIENT_AUTH]
        }]
    );
    let client = UsageRule::default().required_eku(Some(eku::CLIENT_AUTH));
    assert_eq!(client.check(&cert("eku-client-only"), AT), Report::default());
    assert_eq!(
        UsageRule::default().required_eku(None).check(&cert("eku-client-only"), AT),
        Report::default()
    );
}

#[test]
fn unreadable_extensions_are_violations_not_panics() {
    let p = token_issuer("contoso.com");
    let found = violations("ext-malformed-ku", &p, AT);
    assert!(
        matches!(found.as_slice(), [Violation::ExtensionUnreadable { error: FactError::MalformedExtension { extension, .. } }]
            if *extension == ObjectIdentifier::new_unwrap("2.5.29.15")),
        "{found:?}"
    );
    // The SAN is unreadable but the CN still names the domain.
    let found = violations("ext-malformed-san", &p, AT);
    assert!(
        matches!(found.as_slice(), [Violation::ExtensionUnreadable { error: FactError::MalformedExtension { extension, .. } }]
            if *extension == ObjectIdentifier::new_unwrap("2.5.29.17")),
        "{found:?}"
    );
}

#[test]
fn warnings() {
    let p = token_issuer("contoso.com");
    let report = p.check(&cert("sha1-signed"), AT);
    assert_eq!(report.violations, vec![]);
    assert_eq!(
        report.warnings,
        vec![Warning::WeakSignature { algorithm: SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha1) }]
    );

    let at = datetime!(2035-12-20 0:00 UTC);
    assert_eq!(
        p.check(&cert("rsa2048"), at).warnings,
        vec![Warning::ExpiresSoon {
            at,
            not_after: datetime!(2036-01-01 0:00 UTC),
            within: Duration::days(30)
        }]
    );
    assert_eq!(
        p.check(&cert("ext-unknown"), AT).warnings,
        vec![Warning::UnknownCriticalExtension { oid: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.99999.2") }]
    );
    let quiet = p.clone().with_warnings(WarningRule::none());
    assert_eq!(quiet.check(&cert("sha1-signed"), AT), Report::default());
}

#[test]
fn every_violation_is_reported_not_only_the_first() {
    let root = token_issuer("fabrikam.com").check(&cert("root-ca"), datetime!(2040-01-01 0:00 UTC));
    let codes: Vec<&str> = root.violations.iter().map(Violation::code).collect();
    assert_eq!(codes, ["subject-mismatch", "expired", "digital-signature-not-allowed"]);
    assert_eq!(root.warnings, vec![Warning::CaCertificate]);

    let small = token_issuer("fabrikam.com").check(&cert("rsa1024"), datetime!(2040-01-01 0:00 UTC));
    let codes: Vec<&str> = small.violations.iter().map(Violation::code).collect();
    assert_eq!(codes, ["key-too-small", "subject-mismatch", "expired"]);
    assert_eq!(small.violations[0].to_string(), "rsa key is 1024 bits; at least 2048 required");
    assert_eq!(
        small.violations[2].to_string(),
        "expired at 2036-01-01T00:00:00Z (checked at 2040-01-01T00:00:00Z)"
    );
}
