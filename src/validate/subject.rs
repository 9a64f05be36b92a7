//! The SIP domain in the subject or the subject alternative names.

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::validate::PolicyError;
use crate::validate::{Report, Rule, Violation};
use crate::x509::Certificate;

/// Checks that the SIP domain (e.g. `contoso.com`) appears in the subject's common name or in a
/// SAN DNS name, as the domain itself or as a host under it (`sip.contoso.com`).
///
/// Names compare case-insensitively, internationalized names in A-label form (UTS #46 / IDNA2008
/// as the `idna` crate applies it, so `bücher.example` matches `xn--bcher-kva.example`), and a
/// trailing dot is ignored. A wildcard (RFC 6125 6.4.3) counts only as the whole or part of the
/// left-most label, not inside an A-label and not directly under a top-level domain:
/// `*.contoso.com` names hosts under `contoso.com` and so matches `contoso.com` and
/// `sub.contoso.com`; `*.com` matches nothing.
///
/// ```
/// use certslot::validate::SubjectRule;
///
/// let rule = SubjectRule::new("Bücher.Example.")?;
/// assert_eq!(rule.sip_domain(), "xn--bcher-kva.example");
/// assert!(rule.matches_name("sip.xn--bcher-kva.example"));
/// assert!(rule.matches_name("*.BÜCHER.example"));
/// assert!(!rule.matches_name("xn--bcher-kva.example.evil.com"));
/// assert!(SubjectRule::new("*.contoso.com").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SubjectRule {
    domain: String,
}

impl SubjectRule {
    /// A rule for `sip_domain`, given in U-label or A-label form, any case.
    ///
    /// # Errors
    /// [`PolicyError::InvalidSipDomain`] for an empty name, a wildcard, a label that is empty or
    /// longer than 63 octets, a name longer than 253 octets, or characters a host name cannot hold.
    pub fn new(sip_domain: &str) -> Result<Self, PolicyError> {
        let invalid = |reason| PolicyError::InvalidSipDomain { domain: sip_domain.to_owned(), reason };
        let trimmed = sip_domain.trim().strip_suffix('.').unwrap_or(sip_domain.trim());
        if trimmed.is_empty() {
            return Err(invalid("it is empty"));
        }
        if trimmed.contains('*') {
            return Err(invalid("a SIP domain cannot be a wildcard"));
        }
        let domain = to_a_label(trimmed)
            .ok_or_else(|| invalid("it is not a valid internationalized domain name"))?
            .to_ascii_lowercase();
        if domain.len() > 253 {
            return Err(invalid("it is longer than 253 octets"));
        }
        for label in domain.split('.') {
            if label.is_empty() {
                return Err(invalid("it has an empty label"));
            }
            if label.len() > 63 {
                return Err(invalid("it has a label longer than 63 octets"));
            }
            if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Err(invalid("host names hold only letters, digits and hyphens"));
            }
        }
        Ok(Self { domain })
    }

    /// The SIP domain, in lowercase A-label form.
    pub fn sip_domain(&self) -> &str {
        &self.domain
    }

    /// True when the DNS name (as found in a certificate, any case, U- or A-labels) is the SIP
    /// domain, a host under it, or a wildcard over it or a host under it.
    pub fn matches_name(&self, name: &str) -> bool {
        let name = name.strip_suffix('.').unwrap_or(name);
        let (left, rest) = match name.split_once('.') {
            Some((left, rest)) if left.contains('*') => (Some(left), rest),
            _ => (None, name),
        };
        if rest.contains('*') {
            return false;
        }
        let rest = match to_a_label(rest) {
            Some(Cow::Borrowed(ascii)) if left.is_none() => {
                return is_at_or_under_ignore_case(ascii, &self.domain);
            }
            Some(rest) => rest.to_ascii_lowercase(),
            None => return false,
        };
        match left {
            None => is_at_or_under(&rest, &self.domain),
            Some(pattern) => {
                // RFC 6125 6.4.3: one wildcard, in the left-most label, not inside an A-label;
                // and none directly under a top-level domain (`*.com`), which names no one's hosts.
                let pattern = pattern.to_ascii_lowercase();
                if pattern.starts_with("xn--") || pattern.matches('*').count() > 1 || !rest.contains('.') {
                    return false;
                }
                // The wildcard names hosts one label under `rest`: hosts under the SIP domain
                // when `rest` is the domain or under it, or the SIP domain itself when it is
                // one label under `rest` and that label fits the pattern.
                let domain_itself = self.domain.split_once('.').is_some_and(|(label, parent)| {
                    parent == rest
                        && pattern.split_once('*').is_some_and(|(prefix, suffix)| {
                            label.len() >= prefix.len() + suffix.len()
                                && label.starts_with(prefix)
                                && label.ends_with(suffix)
                        })
                });
                domain_itself || is_at_or_under(&rest, &self.domain)
            }
        }
    }
}

/// `name` equals `domain` or ends with `.domain`; both lowercase.
fn is_at_or_under(name: &str, domain: &str) -> bool {
    name == domain || name.strip_suffix(domain).is_some_and(|head| head.ends_with('.'))
}

/// `name` (any case) equals `domain` or ends with `.domain` (lowercase).
fn is_at_or_under_ignore_case(name: &str, domain: &str) -> bool {
    let Some(split) = name.len().checked_sub(domain.len()) else { return false };
    match (name.get(..split), name.get(split..)) {
        (Some(head), Some(tail)) => {
            tail.eq_ignore_ascii_case(domain) && (head.is_empty() || head.ends_with('.'))
        }
        _ => false,
    }
}

/// The A-label form of a domain name: an ASCII name as it is (any case), any other converted and
/// lowercased by UTS #46.
fn to_a_label(name: &str) -> Option<Cow<'_, str>> {
    if name.is_ascii() { Some(Cow::Borrowed(name)) } else { idna::domain_to_ascii(name).ok().map(Cow::Owned) }
}

impl Rule for SubjectRule {
    fn check_into(&self, cert: &Certificate, _at: OffsetDateTime, report: &mut Report) {
        let common_names = cert.subject().common_names();
        let dns_names = match cert.dns_names() {
            Ok(names) => names,
            Err(error) => {
                report.violations.push(Violation::ExtensionUnreadable { error });
                Vec::new()
            }
        };
        if !common_names.iter().chain(&dns_names).any(|n| self.matches_name(n)) {
            report.violations.push(Violation::SubjectMismatch {
                sip_domain: self.domain.clone(),
                common_names,
                dns_names,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_domain_hosts_and_wildcards() {
        let rule = SubjectRule::new("contoso.com").unwrap_or_else(|e| unreachable!("{e}"));
        for yes in [
            "contoso.com",
            "CONTOSO.COM.",
            "sip.contoso.com",
            "a.b.contoso.com",
            "*.contoso.com",
            "*.pool.contoso.com",
            "s*.contoso.com",
        ] {
            assert!(rule.matches_name(yes), "{yes}");
        }
        for no in [
            "",
            "com",
            "*.com",
            "evilcontoso.com",
            "contoso.com.evil",
            "sip.*.contoso.com",
            "xn--*.contoso.com",
            "*",
            "contoso.co",
        ] {
            assert!(!rule.matches_name(no), "{no}");
        }
    }

    #[test]
    fn rejects_unusable_domains() {
        for (bad, reason) in [
            ("", "it is empty"),
            ("*.contoso.com", "a SIP domain cannot be a wildcard"),
            ("contoso..com", "it has an empty label"),
            ("con toso.com", "host names hold only letters, digits and hyphens"),
        ] {
            assert_eq!(
                SubjectRule::new(bad),
                Err(PolicyError::InvalidSipDomain { domain: bad.to_owned(), reason }),
                "{bad:?}"
            );
        }
        let long = format!("{}.com", "a".repeat(64));
        assert!(matches!(
            SubjectRule::new(&long),
            Err(PolicyError::InvalidSipDomain { reason: "it has a label longer than 63 octets", .. })
        ));
    }
}
