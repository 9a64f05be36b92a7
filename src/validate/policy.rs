//! A policy: the rules a certificate type requires, combined, plus warnings.

use time::{Duration, OffsetDateTime};

use crate::validate::PolicyError;
use crate::validate::{KeyRule, Report, Rule, SubjectRule, UsageRule, ValidityRule, Warning};
use crate::x509::Certificate;

/// What a [`Policy`] warns about besides its rules.
///
/// Default: weak signature hashes, expiry within 30 days of the instant checked, critical
/// extensions certslot does not interpret, and CA certificates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct WarningRule {
    weak_signature: bool,
    expiring_within: Option<Duration>,
    unknown_critical: bool,
    ca_certificate: bool,
}

impl Default for WarningRule {
    fn default() -> Self {
        Self {
            weak_signature: true,
            expiring_within: Some(Self::DEFAULT_EXPIRING_WITHIN),
            unknown_critical: true,
            ca_certificate: true,
        }
    }
}

impl WarningRule {
    /// The default expiry warning threshold: 30 days.
    pub const DEFAULT_EXPIRING_WITHIN: Duration = Duration::days(30);

    /// No warnings at all.
    pub fn none() -> Self {
        Self { weak_signature: false, expiring_within: None, unknown_critical: false, ca_certificate: false }
    }

    /// Warn when the signature uses MD2, MD5 or SHA-1.
    pub fn weak_signature(self, warn: bool) -> Self {
        Self { weak_signature: warn, ..self }
    }

    /// Warn when the certificate expires within `d` after the instant checked; `None` (or a
    /// zero or negative `d`) turns the warning off.
    pub fn expiring_within(self, d: Option<Duration>) -> Self {
        Self { expiring_within: d.filter(|d| d.is_positive()), ..self }
    }

    /// Warn about critical extensions certslot does not interpret.
    pub fn unknown_critical(self, warn: bool) -> Self {
        Self { unknown_critical: warn, ..self }
    }

    /// Warn when the certificate is a CA certificate.
    pub fn ca_certificate(self, warn: bool) -> Self {
        Self { ca_certificate: warn, ..self }
    }

    /// Whether weak signature hashes are warned about.
    pub fn warns_weak_signature(&self) -> bool {
        self.weak_signature
    }

    /// The expiry warning threshold, if on.
    pub fn expiry_warning(&self) -> Option<Duration> {
        self.expiring_within
    }

    /// Whether critical extensions certslot does not interpret are warned about.
    pub fn warns_unknown_critical(&self) -> bool {
        self.unknown_critical
    }

    /// Whether CA certificates are warned about.
    pub fn warns_ca_certificate(&self) -> bool {
        self.ca_certificate
    }
}

impl Rule for WarningRule {
    fn check_into(&self, cert: &Certificate, at: OffsetDateTime, report: &mut Report) {
        if self.weak_signature && cert.signature_algorithm().is_weak() {
            report.warnings.push(Warning::WeakSignature { algorithm: cert.signature_algorithm() });
        }
        if let Some(within) = self.expiring_within {
            let not_after = cert.not_after();
            if cert.is_valid_at(at) && not_after - at < within {
                report.warnings.push(Warning::ExpiresSoon { at, not_after, within });
            }
        }
        if self.unknown_critical {
            for oid in cert.unknown_critical_extensions() {
                report.warnings.push(Warning::UnknownCriticalExtension { oid });
            }
        }
        if self.ca_certificate && cert.basic_constraints().ok().flatten().is_some_and(|bc| bc.ca) {
            report.warnings.push(Warning::CaCertificate);
        }
    }
}

/// Rules combined: every rule runs and every violation is reported, not only the first.
///
/// ```
/// use certslot::{Policy, validate::{KeyRule, ValidityRule}};
/// use time::Duration;
///
/// let token_issuer = Policy::oauth_token_issuer("contoso.com")?;
/// assert_eq!(token_issuer.key_rule().map(|k| k.rsa_min_bits()), Some(2048));
///
/// let custom = Policy::new()
///     .with_key(KeyRule::default().accept_ec(256)?)
///     .with_validity(ValidityRule::default().min_remaining(Duration::days(1)));
/// assert!(custom.subject_rule().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Policy {
    key: Option<KeyRule>,
    subject: Option<SubjectRule>,
    validity: Option<ValidityRule>,
    usage: Option<UsageRule>,
    warnings: Option<WarningRule>,
}

impl Policy {
    /// A policy with no rules and no warnings.
    pub fn new() -> Self {
        Self::default()
    }

    /// The OAuthTokenIssuer rules of Lync Server 2013 and Skype for Business Server, for the SIP
    /// domain `sip_domain`:
    /// - an RSA key of at least 2048 bits ([`KeyRule::default`]);
    /// - the SIP domain in the subject or a SAN DNS name ([`SubjectRule`]);
    /// - valid at the instant checked ([`ValidityRule::default`]);
    /// - usable to sign tokens: key usage, when present, allows `digitalSignature`; extended key
    ///   usage, when present, includes `serverAuth` ([`UsageRule::default`]);
    /// - and the default warnings ([`WarningRule::default`]): SHA-1 signature, expiring within
    ///   30 days, unknown critical extensions, CA certificates.
    ///
    /// # Errors
    /// [`PolicyError::InvalidSipDomain`] when `sip_domain` is not a usable domain name.
    pub fn oauth_token_issuer(sip_domain: &str) -> Result<Self, PolicyError> {
        Ok(Self {
            key: Some(KeyRule::default()),
            subject: Some(SubjectRule::new(sip_domain)?),
            validity: Some(ValidityRule::default()),
            usage: Some(UsageRule::default()),
            warnings: Some(WarningRule::default()),
        })
    }

    /// Adds or replaces the key rule.
    pub fn with_key(self, rule: KeyRule) -> Self {
        Self { key: Some(rule), ..self }
    }

    /// Adds or replaces the subject rule.
    pub fn with_subject(self, rule: SubjectRule) -> Self {
        Self { subject: Some(rule), ..self }
    }

    /// Adds or replaces the validity rule.
    pub fn with_validity(self, rule: ValidityRule) -> Self {
        Self { validity: Some(rule), ..self }
    }

    /// Adds or replaces the usage rule.
    pub fn with_usage(self, rule: UsageRule) -> Self {
        Self { usage: Some(rule), ..self }
    }

    /// Adds or replaces the warnings.
    pub fn with_warnings(self, rule: WarningRule) -> Self {
        Self { warnings: Some(rule), ..self }
    }

    /// The key rule, if any.
    pub fn key_rule(&self) -> Option<&KeyRule> {
        self.key.as_ref()
    }

    /// The subject rule, if any.
    pub fn subject_rule(&self) -> Option<&SubjectRule> {
        self.subject.as_ref()
    }

    /// The validity rule, if any.
    pub fn validity_rule(&self) -> Option<&ValidityRule> {
        self.validity.as_ref()
    }

    /// The usage rule, if any.
    pub fn usage_rule(&self) -> Option<&UsageRule> {
        self.usage.as_ref()
    }

    /// The warnings, if any.
    pub fn warning_rule(&self) -> Option<&WarningRule> {
        self.warnings.as_ref()
    }
}

impl Rule for Policy {
    /// Runs key, subject, validity and usage rules, then the warnings, in that order.
    fn check_into(&self, cert: &Certificate, at: OffsetDateTime, report: &mut Report) {
        let rules: [Option<&dyn Rule>; 5] = [
            self.key.as_ref().map(|r| r as &dyn Rule),
            self.subject.as_ref().map(|r| r as &dyn Rule),
            self.validity.as_ref().map(|r| r as &dyn Rule),
            self.usage.as_ref().map(|r| r as &dyn Rule),
            self.warnings.as_ref().map(|r| r as &dyn Rule),
        ];
        for rule in rules.into_iter().flatten() {
            rule.check_into(cert, at, report);
        }
    }
}
