//! What a certificate request asks for: subject, DNS names, key usage, extended key usage, and a
//! friendly name kept beside it; with presets for a certificate type at a pool, as Lync's
//! certificate wizard fills them in.

use core::str::FromStr;

use const_oid::ObjectIdentifier;
use der::asn1::{Ia5String, OctetString};
use x509_cert::ext::Extension;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::name::Name as X509Name;

use crate::obtain::error::RequestError;
use crate::policy::CertType;
use crate::x509::Certificate;
use crate::x509::ext::{self as ext_oid, KeyUsageBit, eku};
use crate::x509::name::Name;

/// What a certificate request (or a self-signed certificate) asks for.
///
/// ```
/// use certslot::{CertType, RequestTemplate, x509::{KeyUsageBit, eku}};
///
/// let template = RequestTemplate::new("CN=sts.contoso.com,O=Contoso,C=US")?
///     .dns_name("sts.contoso.com")?
///     .dns_name("Bücher.contoso.com")?
///     .key_usage(&[KeyUsageBit::DigitalSignature])
///     .extended_key_usage(&[eku::SERVER_AUTH])
///     .friendly_name("Contoso token signing");
/// assert_eq!(template.dns_names(), ["sts.contoso.com", "xn--bcher-kva.contoso.com"]);
///
/// // Lync's certificate wizard for the OAuthTokenIssuer certificate of a pool.
/// let preset = RequestTemplate::for_type(&CertType::OAuthTokenIssuer, "pool01.contoso.com", "contoso.com")?;
/// assert_eq!(preset.subject(), "CN=pool01.contoso.com");
/// assert_eq!(preset.dns_names(), ["pool01.contoso.com", "contoso.com"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTemplate {
    subject: String,
    dns_names: Vec<String>,
    key_usage: Vec<KeyUsageBit>,
    extended_key_usage: Vec<ObjectIdentifier>,
    friendly_name: Option<String>,
}

/// Upper bound of a common name (RFC 5280 appendix A.1, `ub-common-name`).
const MAX_COMMON_NAME: usize = 64;

impl RequestTemplate {
    /// A template for `subject`, an RFC 4514 distinguished name, most specific attribute first
    /// (`CN=pool01.contoso.com,O=Contoso,L=Redmond,ST=WA,C=US`), with no DNS names, key usage
    /// `digitalSignature` and no extended key usage.
    ///
    /// # Errors
    /// [`RequestError::InvalidSubject`] for text that is not a distinguished name, an empty one, or
    /// a common name longer than 64 characters.
    pub fn new(subject: &str) -> Result<Self, RequestError> {
        let invalid = |reason| RequestError::InvalidSubject { subject: subject.to_owned(), reason };
        let name = X509Name::from_str(subject.trim()).map_err(|_| invalid("it is not an RFC 4514 name"))?;
        if name.is_empty() {
            return Err(invalid("it is empty"));
        }
        if name.common_name().ok().flatten().is_some_and(|cn| cn.value().chars().count() > MAX_COMMON_NAME) {
            return Err(invalid("its common name is longer than 64 characters"));
        }
        // Written by certslot's one RFC 4514 formatter (`x509::name`), as certificates' names are.
        let der = der::Encode::to_der(&name).map_err(|_| invalid("it does not encode"))?;
        let subject = Name::from_der(&der).map_err(|_| invalid("it does not encode"))?.to_string();
        Ok(Self {
            subject,
            dns_names: Vec::new(),
            key_usage: vec![KeyUsageBit::DigitalSignature],
            extended_key_usage: Vec::new(),
            friendly_name: None,
        })
    }

    /// The template Lync's certificate wizard ("Request, install or assign certificates") fills in
    /// for `cert_type` on the front-end pool `pool_fqdn` of the SIP domain `sip_domain`:
    /// `CN=<pool FQDN>`, key usage `digitalSignature` and `keyEncipherment`, extended key usage
    /// `serverAuth` and `clientAuth` (Lync's front ends use the same certificates for both sides of
    /// their TLS links), and these DNS names, pool FQDN first:
    ///
    /// - OAuthTokenIssuer: the SIP domain, which Lync requires in the subject or a SAN of the token
    ///   issuer (Microsoft's page on assigning the server-to-server certificate);
    /// - Default: `sip.<domain>` (automatic client sign-in), `lyncdiscoverinternal.<domain>` and
    ///   `lyncdiscover.<domain>` (Autodiscover), and the SIP domain;
    /// - WebServicesInternal: `lyncdiscoverinternal.<domain>`, the simple URLs `meet.<domain>`
    ///   and `dialin.<domain>`, and the SIP domain;
    /// - WebServicesExternal: `lyncdiscover.<domain>`, `meet.<domain>`, `dialin.<domain>`;
    /// - any other type: the pool FQDN alone.
    ///
    /// certslot's default policies require the SIP domain of OAuthTokenIssuer, Default and
    /// WebServicesInternal certificates, so those presets carry it.
    ///
    /// # Errors
    /// [`RequestError::InvalidDnsName`] when the pool FQDN or the SIP domain is not a usable DNS
    /// name; [`RequestError::InvalidSubject`] for a pool FQDN longer than 64 characters.
    pub fn for_type(cert_type: &CertType, pool_fqdn: &str, sip_domain: &str) -> Result<Self, RequestError> {
        let pool = normalize_dns_name(pool_fqdn, false)?;
        let domain = normalize_dns_name(sip_domain, false)?;
        let under = |label: &str| format!("{label}.{domain}");
        let extra: Vec<String> = match cert_type {
            CertType::OAuthTokenIssuer => vec![domain.clone()],
            CertType::Default => {
                vec![under("sip"), under("lyncdiscoverinternal"), under("lyncdiscover"), domain.clone()]
            }
            CertType::WebServicesInternal => {
                vec![under("lyncdiscoverinternal"), under("meet"), under("dialin"), domain.clone()]
            }
            CertType::WebServicesExternal => vec![under("lyncdiscover"), under("meet"), under("dialin")],
            _ => Vec::new(),
        };
        let mut template = Self::new(&format!("CN={pool}"))?
            .key_usage(&[KeyUsageBit::DigitalSignature, KeyUsageBit::KeyEncipherment])
            .extended_key_usage(&[eku::SERVER_AUTH, eku::CLIENT_AUTH])
            .friendly_name(&format!("{cert_type} {pool}"));
        for name in [pool].into_iter().chain(extra) {
            template = template.dns_name(&name)?;
        }
        Ok(template)
    }

    /// The template that renews `certificate`: its subject, DNS names, key usage (always with
    /// `digitalSignature`) and extended key usage, no friendly name.
    ///
    /// # Errors
    /// [`RequestError::InvalidSubject`] for a subject certslot would not sign (an empty one, a
    /// common name over 64 characters), [`RequestError::InvalidDnsName`] for a DNS name that is
    /// not a usable host name, [`RequestError::UnreadableExtension`] when the certificate's
    /// subject alternative names, key usage or extended key usage do not read (the renewal
    /// would lose them).
    pub fn renewal_of(certificate: &Certificate) -> Result<Self, RequestError> {
        let mut template = Self::new(&certificate.subject().to_string())?;
        let unreadable = RequestError::UnreadableExtension;
        for name in certificate.dns_names().map_err(unreadable)? {
            template = template.dns_name(&name)?;
        }
        if let Some(usage) = certificate.key_usage().map_err(unreadable)? {
            let mut bits: Vec<KeyUsageBit> = usage.bits().collect();
            if !bits.contains(&KeyUsageBit::DigitalSignature) {
                bits.insert(0, KeyUsageBit::DigitalSignature);
            }
            template = template.key_usage(&bits);
        }
        if let Some(purposes) = certificate.extended_key_usage().map_err(unreadable)? {
            template = template.extended_key_usage(&purposes);
        }
        Ok(template)
    }

    /// Adds a DNS name to the subject alternative names (once; in A-label form, lowercase,
    /// without a trailing dot). A wildcard is allowed as the whole leftmost label (`*.contoso.com`).
    ///
    /// # Errors
    /// [`RequestError::InvalidDnsName`] for an empty name, a label that is empty or longer than 63
    /// octets, a name longer than 253 octets, a misplaced wildcard, or characters a host name
    /// cannot hold.
    pub fn dns_name(mut self, name: &str) -> Result<Self, RequestError> {
        let name = normalize_dns_name(name, true)?;
        if !self.dns_names.contains(&name) {
            self.dns_names.push(name);
        }
        Ok(self)
    }

    /// Sets the key usage bits asked for (marked critical, as RFC 5280 4.2.1.3 recommends). An
    /// empty list asks for no key usage extension.
    pub fn key_usage(self, bits: &[KeyUsageBit]) -> Self {
        let mut key_usage: Vec<KeyUsageBit> = Vec::with_capacity(bits.len());
        for bit in bits {
            if !key_usage.contains(bit) {
                key_usage.push(*bit);
            }
        }
        Self { key_usage, ..self }
    }

    /// Sets the extended key usage purposes asked for. An empty list asks for none.
    pub fn extended_key_usage(self, purposes: &[ObjectIdentifier]) -> Self {
        let mut extended_key_usage: Vec<ObjectIdentifier> = Vec::with_capacity(purposes.len());
        for purpose in purposes {
            if !extended_key_usage.contains(purpose) {
                extended_key_usage.push(*purpose);
            }
        }
        Self { extended_key_usage, ..self }
    }

    /// Sets the friendly name kept beside the request (the name Windows shows for the certificate
    /// and the PFX's `friendlyName`); it is not part of the request itself.
    pub fn friendly_name(self, name: &str) -> Self {
        Self { friendly_name: Some(name.to_owned()), ..self }
    }

    /// The subject, in RFC 4514 form.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The DNS names, in the order added.
    pub fn dns_names(&self) -> &[String] {
        &self.dns_names
    }

    /// The key usage bits.
    pub fn key_usages(&self) -> &[KeyUsageBit] {
        &self.key_usage
    }

    /// The extended key usage purposes.
    pub fn extended_key_usages(&self) -> &[ObjectIdentifier] {
        &self.extended_key_usage
    }

    /// The friendly name, if set.
    pub fn friendly_name_text(&self) -> Option<&str> {
        self.friendly_name.as_deref()
    }

    /// The subject as x509-cert's `Name` (checked when the template was made).
    pub(crate) fn x509_subject(&self) -> Result<X509Name, RequestError> {
        X509Name::from_str(&self.subject).map_err(|_| RequestError::InvalidSubject {
            subject: self.subject.clone(),
            reason: "it does not encode",
        })
    }

    /// The extensions the template asks for: subject alternative names, key usage, extended key
    /// usage (RFC 5280 4.2.1.6, 4.2.1.3, 4.2.1.12).
    pub(crate) fn extensions(&self) -> Result<Vec<Extension>, RequestError> {
        let mut out = Vec::new();
        if !self.dns_names.is_empty() {
            let names = self
                .dns_names
                .iter()
                .map(|n| Ia5String::new(n).map(GeneralName::DnsName))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| RequestError::Encoding { what: "subject alternative names" })?;
            // Critical only when the subject is empty (RFC 5280 4.2.1.6); a template always has one.
            out.push(extension(
                ext_oid::SUBJECT_ALT_NAME,
                false,
                &SubjectAltName(names),
                "subject alternative names",
            )?);
        }
        if !self.key_usage.is_empty() {
            let mut flags = der::flagset::FlagSet::<KeyUsages>::default();
            for bit in &self.key_usage {
                flags |= key_usage_flag(*bit);
            }
            out.push(extension(ext_oid::KEY_USAGE, true, &KeyUsage(flags), "key usage")?);
        }
        if !self.extended_key_usage.is_empty() {
            let eku = ExtendedKeyUsage(self.extended_key_usage.clone());
            out.push(extension(ext_oid::EXT_KEY_USAGE, false, &eku, "extended key usage")?);
        }
        Ok(out)
    }
}

/// An extension holding the DER of `value`.
pub(crate) fn extension(
    oid: ObjectIdentifier,
    critical: bool,
    value: &impl der::Encode,
    what: &'static str,
) -> Result<Extension, RequestError> {
    let der = value.to_der().map_err(|_| RequestError::Encoding { what })?;
    let extn_value = OctetString::new(der).map_err(|_| RequestError::Encoding { what })?;
    Ok(Extension { extn_id: oid, critical, extn_value })
}

fn key_usage_flag(bit: KeyUsageBit) -> KeyUsages {
    match bit {
        KeyUsageBit::DigitalSignature => KeyUsages::DigitalSignature,
        KeyUsageBit::NonRepudiation => KeyUsages::NonRepudiation,
        KeyUsageBit::KeyEncipherment => KeyUsages::KeyEncipherment,
        KeyUsageBit::DataEncipherment => KeyUsages::DataEncipherment,
        KeyUsageBit::KeyAgreement => KeyUsages::KeyAgreement,
        KeyUsageBit::KeyCertSign => KeyUsages::KeyCertSign,
        KeyUsageBit::CrlSign => KeyUsages::CRLSign,
        KeyUsageBit::EncipherOnly => KeyUsages::EncipherOnly,
        KeyUsageBit::DecipherOnly => KeyUsages::DecipherOnly,
    }
}

/// A DNS name as it goes in a SAN: trimmed, without a trailing dot, A-labels, lowercase, each
/// label 1 to 63 letters, digits or hyphens (RFC 1123 2.1), at most 253 octets; a `*` leftmost
/// label when `wildcard` allows it (RFC 6125 6.4.3).
fn normalize_dns_name(name: &str, wildcard: bool) -> Result<String, RequestError> {
    let invalid = |reason| RequestError::InvalidDnsName { name: name.to_owned(), reason };
    let trimmed = name.trim();
    let trimmed = trimmed.strip_suffix('.').unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Err(invalid("it is empty"));
    }
    let (star, rest) = match trimmed.strip_prefix("*.") {
        Some(rest) if wildcard => (true, rest),
        Some(_) => return Err(invalid("a wildcard is not allowed here")),
        None => (false, trimmed),
    };
    let ascii = if rest.is_ascii() {
        rest.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(rest).map_err(|_| invalid("it is not a valid internationalized domain name"))?
    };
    for label in ascii.split('.') {
        if label.is_empty() {
            return Err(invalid("it has an empty label"));
        }
        if label.len() > 63 {
            return Err(invalid("it has a label longer than 63 octets"));
        }
        if label == "*" {
            return Err(invalid("a wildcard can only be the whole leftmost label"));
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err(invalid("host names hold only letters, digits and hyphens"));
        }
    }
    let out = if star { format!("*.{ascii}") } else { ascii };
    if out.len() > 253 {
        return Err(invalid("it is longer than 253 octets"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_normalized_and_checked() {
        let t = RequestTemplate::new("CN=x").unwrap();
        let t = t.dns_name(" Pool01.Contoso.com. ").unwrap().dns_name("*.contoso.com").unwrap();
        assert_eq!(t.dns_names(), ["pool01.contoso.com", "*.contoso.com"]);
        let bad = |name: &str| RequestTemplate::new("CN=x").unwrap().dns_name(name).unwrap_err();
        assert_eq!(bad(""), RequestError::InvalidDnsName { name: String::new(), reason: "it is empty" });
        assert_eq!(
            bad("a..b"),
            RequestError::InvalidDnsName { name: "a..b".into(), reason: "it has an empty label" }
        );
        assert_eq!(
            bad("a.*.b"),
            RequestError::InvalidDnsName {
                name: "a.*.b".into(),
                reason: "a wildcard can only be the whole leftmost label"
            }
        );
        assert_eq!(
            bad("under_score.com"),
            RequestError::InvalidDnsName {
                name: "under_score.com".into(),
                reason: "host names hold only letters, digits and hyphens"
            }
        );
        let long = format!("{}.com", "a".repeat(64));
        assert_eq!(
            bad(&long),
            RequestError::InvalidDnsName {
                name: long.clone(),
                reason: "it has a label longer than 63 octets"
            }
        );
    }

    #[test]
    fn subjects_must_be_rfc_4514_names() {
        assert_eq!(RequestTemplate::new("CN=a,O=Contoso,C=US").unwrap().subject(), "CN=a,O=Contoso,C=US");
        assert!(matches!(
            RequestTemplate::new("not a name"),
            Err(RequestError::InvalidSubject { reason: "it is not an RFC 4514 name", .. })
        ));
        let cn = format!("CN={}", "a".repeat(65));
        assert!(matches!(
            RequestTemplate::new(&cn),
            Err(RequestError::InvalidSubject { reason: "its common name is longer than 64 characters", .. })
        ));
    }

    #[test]
    fn presets_follow_the_wizard() {
        let names = |t: &CertType| {
            RequestTemplate::for_type(t, "Pool01.Contoso.com", "contoso.com").unwrap().dns_names().to_vec()
        };
        assert_eq!(
            names(&CertType::Default),
            [
                "pool01.contoso.com",
                "sip.contoso.com",
                "lyncdiscoverinternal.contoso.com",
                "lyncdiscover.contoso.com",
                "contoso.com"
            ]
        );
        assert_eq!(
            names(&CertType::WebServicesInternal),
            [
                "pool01.contoso.com",
                "lyncdiscoverinternal.contoso.com",
                "meet.contoso.com",
                "dialin.contoso.com",
                "contoso.com"
            ]
        );
        assert_eq!(names(&CertType::XmppServer), ["pool01.contoso.com"]);
        let t = RequestTemplate::for_type(&CertType::OAuthTokenIssuer, "pool01.contoso.com", "contoso.com")
            .unwrap();
        assert_eq!(t.key_usages(), [KeyUsageBit::DigitalSignature, KeyUsageBit::KeyEncipherment]);
        assert_eq!(t.extended_key_usages(), [eku::SERVER_AUTH, eku::CLIENT_AUTH]);
        assert_eq!(t.friendly_name_text(), Some("OAuthTokenIssuer pool01.contoso.com"));
        assert!(matches!(
            RequestTemplate::for_type(&CertType::Default, "pool01.contoso.com", "*.contoso.com"),
            Err(RequestError::InvalidDnsName { reason: "a wildcard is not allowed here", .. })
        ));
    }
}
