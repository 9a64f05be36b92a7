//! What the examples print about a certificate and a policy check, the way `import` shows it.

use certslot::{
    Certificate,
    validate::{HumanTime, Report},
};

/// The facts an admin looks at, one per line.
pub fn summary(cert: &Certificate) -> String {
    let key = cert.public_key().map_or_else(
        |e| format!("unreadable ({e})"),
        |k| format!("{} {} bits", k.algorithm(), k.bits().map_or("?".into(), |b| b.to_string())),
    );
    let sans = cert.dns_names().map_or_else(|e| format!("unreadable ({e})"), |n| n.join(", "));
    format!(
        "  Thumbprint : {}\n  Subject    : {}\n  Issuer     : {}\n  NotBefore  : {}\n  NotAfter   : {}\n  SerialNumber: {}\n  Key        : {key}\n  DNS names  : {sans}\n",
        cert.thumbprint(),
        cert.subject(),
        cert.issuer(),
        HumanTime(cert.not_before()),
        HumanTime(cert.not_after()),
        cert.serial(),
    )
}

/// Every violation and warning of a policy check, one per line.
pub fn print_report(report: &Report) {
    if report.violations.is_empty() && report.warnings.is_empty() {
        println!("  no violations, no warnings");
    }
    for v in &report.violations {
        println!("  violation [{}]: {v}", v.code());
    }
    for w in &report.warnings {
        println!("  warning   [{}]: {w}", w.code());
    }
}
