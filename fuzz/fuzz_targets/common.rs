// Shared by the certificate targets: read every fact and run the token-issuer policy, so a fuzz
// input reaches every lazily decoded part of a certificate.
use certslot::{Certificate, Policy, validate::Rule};

pub fn exercise(cert: &Certificate) {
    let _ = cert.subject().to_string();
    let _ = cert.issuer().to_string();
    let _ = cert.subject().common_names();
    let _ = cert.serial().to_string();
    let _ = cert.sha256_fingerprint();
    let _ = cert.public_key().map(|k| (k.algorithm(), k.bits(), k.curve()));
    let _ = cert.key_usage();
    let _ = cert.extended_key_usage();
    let _ = cert.basic_constraints();
    let _ = cert.subject_alt_names().map(|s| s.map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>()));
    let _ = cert.signature_algorithm().to_string();
    let _ = cert.unknown_critical_extensions();
    if let Ok(policy) = Policy::oauth_token_issuer("contoso.com") {
        let report = policy.check(cert, cert.not_before());
        let _ = report.to_string();
    }
}
