//! The certificate a template would give: the same subject, public key and extensions, valid for
//! the span asked for, self-issued and unsigned. It exists only to be checked against a policy
//! before anything is signed: the policy's rules read certificates, and this is the certificate the
//! CA (or certslot itself) will issue, but for the issuer and the signature.

use der::Decode as _;
use der::Encode as _;
use der::asn1::{BitString, GeneralizedTime, UtcTime};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use time::{Duration, OffsetDateTime};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder as _, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use crate::obtain::error::RequestError;
use crate::obtain::template::RequestTemplate;
use crate::validate::{Policy, Rule};
use crate::x509::Certificate;

/// `sha256WithRSAEncryption`, named as the placeholder signature algorithm (nothing is signed).
const PLACEHOLDER_SIGNATURE: const_oid::ObjectIdentifier =
    const_oid::db::rfc5912::SHA_256_WITH_RSA_ENCRYPTION;

/// An instant as an X.509 `Time`: UTCTime through 2049, GeneralizedTime from 2050 and before 1950
/// (RFC 5280 4.1.2.5), to the whole second.
pub(crate) fn x509_time(t: OffsetDateTime) -> Result<Time, RequestError> {
    let t = t.to_offset(time::UtcOffset::UTC);
    let bad = || RequestError::Encoding { what: "validity" };
    let year = u16::try_from(t.year()).map_err(|_| bad())?;
    let dt = der::DateTime::new(year, t.month().into(), t.day(), t.hour(), t.minute(), t.second())
        .map_err(|_| bad())?;
    if (1950..2050).contains(&year) {
        UtcTime::from_date_time(dt).map(Time::UtcTime).map_err(|_| bad())
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(dt)))
    }
}

/// The profile of the certificates certslot makes itself: self-issued, with exactly the
/// extensions given (x509-cert's builder adds none of its own).
pub(crate) struct SelfIssued {
    pub(super) subject: x509_cert::name::Name,
    pub(super) extensions: Vec<x509_cert::ext::Extension>,
}

impl BuilderProfile for SelfIssued {
    fn get_issuer(&self, subject: &x509_cert::name::Name) -> x509_cert::name::Name {
        subject.clone()
    }

    fn get_subject(&self) -> x509_cert::name::Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _spk: spki::SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: spki::SubjectPublicKeyInfoRef<'_>,
        _tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(self.extensions.clone())
    }
}

/// A "signer" that signs nothing: it names a public key and a placeholder algorithm, so that
/// x509-cert's builder lays out the certificate, whose signature is then left empty.
struct Unsigned(SubjectPublicKeyInfoOwned);

/// The public key of [`Unsigned`].
#[derive(Clone)]
struct UnsignedKey(SubjectPublicKeyInfoOwned);

impl spki::EncodePublicKey for UnsignedKey {
    fn to_public_key_der(&self) -> spki::Result<der::Document> {
        Ok(der::Document::encode_msg(&self.0)?)
    }
}

impl signature::Keypair for Unsigned {
    type VerifyingKey = UnsignedKey;

    fn verifying_key(&self) -> UnsignedKey {
        UnsignedKey(self.0.clone())
    }
}

impl spki::DynSignatureAlgorithmIdentifier for Unsigned {
    fn signature_algorithm_identifier(&self) -> spki::Result<AlgorithmIdentifierOwned> {
        Ok(AlgorithmIdentifierOwned { oid: PLACEHOLDER_SIGNATURE, parameters: None })
    }
}

/// Maps any encoding failure to [`RequestError::Encoding`] naming `what`.
pub(crate) fn encoding<E>(what: &'static str) -> impl FnOnce(E) -> RequestError {
    move |_| RequestError::Encoding { what }
}

/// The certificate `template` would give for the public key `spki_der`, valid from `at` for
/// `validity`.
pub(crate) fn provisional(
    template: &RequestTemplate,
    spki_der: &[u8],
    at: OffsetDateTime,
    validity: Duration,
) -> Result<Certificate, RequestError> {
    let spki = SubjectPublicKeyInfoOwned::from_der(spki_der).map_err(encoding("public key"))?;
    let not_after = at.checked_add(validity).ok_or(RequestError::Encoding { what: "validity" })?;
    let profile = SelfIssued { subject: template.x509_subject()?, extensions: template.extensions()? };
    let serial = SerialNumber::new(&[1]).map_err(encoding("serial"))?;
    let validity = Validity::new(x509_time(at)?, x509_time(not_after)?);
    let signer = Unsigned(spki.clone());
    let mut builder =
        CertificateBuilder::new(profile, serial, validity, spki).map_err(encoding("certificate"))?;
    builder.finalize(&signer).map_err(encoding("certificate"))?;
    let empty = BitString::from_bytes(&[]).map_err(encoding("signature"))?;
    let cert = builder.assemble(empty, &signer).map_err(encoding("certificate"))?;
    let der = cert.to_der().map_err(encoding("certificate"))?;
    Certificate::from_der(&der).map_err(encoding("certificate"))
}

/// Refuses a template whose certificate, for the public key `spki_der`, would break `policy` at
/// `at` (its violations; warnings do not refuse).
pub(crate) fn check(
    template: &RequestTemplate,
    spki_der: &[u8],
    policy: &Policy,
    at: OffsetDateTime,
    validity: Duration,
) -> Result<(), RequestError> {
    let cert = provisional(template, spki_der, at, validity)?;
    let report = policy.check(&cert, at);
    if report.violations.is_empty() {
        Ok(())
    } else {
        Err(RequestError::PolicyViolations { violations: report.violations })
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::validate::Violation;
    use crate::x509::KeyAlgorithm;

    const RSA2048: &[u8] = include_bytes!("../../tests/data/rsa2048.der");
    const RSA1024: &[u8] = include_bytes!("../../tests/data/rsa1024.der");

    fn spki(der: &[u8]) -> Vec<u8> {
        Certificate::from_der(der).unwrap().public_key().unwrap().spki_der().to_vec()
    }

    #[test]
    fn the_provisional_certificate_carries_what_the_template_asks_for() {
        let template =
            RequestTemplate::for_type(&crate::policy::CertType::Default, "pool01.contoso.com", "contoso.com")
                .unwrap();
        let at = datetime!(2026-11-29 10:20:30.5 UTC);
        let cert = provisional(&template, &spki(RSA2048), at, Duration::days(730)).unwrap();
        assert_eq!(cert.subject().to_string(), "CN=pool01.contoso.com");
        assert_eq!(cert.not_before(), datetime!(2026-11-29 10:20:30 UTC));
        assert_eq!(cert.not_after(), datetime!(2028-11-28 10:20:30 UTC));
        assert_eq!(cert.dns_names().unwrap(), template.dns_names());
        assert_eq!(cert.public_key().unwrap().algorithm(), KeyAlgorithm::Rsa);
        assert_eq!(cert.public_key().unwrap().bits(), Some(2048));
        let ku = cert.key_usage().unwrap().unwrap();
        assert!(ku.digital_signature());
        assert_eq!(
            cert.extended_key_usage().unwrap().unwrap(),
            [crate::x509::eku::SERVER_AUTH, crate::x509::eku::CLIENT_AUTH]
        );
        // RFC 4514 text lists the most specific attribute first; DER holds it last.
        let named =
            RequestTemplate::new("CN=sts.contoso.com,OU=Identity,O=Contoso,L=Redmond,ST=WA,C=US").unwrap();
        let cert = provisional(&named, &spki(RSA2048), at, Duration::days(1)).unwrap();
        assert_eq!(
            cert.subject().to_string(),
            "CN=sts.contoso.com,OU=Identity,O=Contoso,L=Redmond,ST=WA,C=US"
        );
        assert_eq!(cert.subject().common_names(), ["sts.contoso.com"]);
        // After 2049, GeneralizedTime.
        let late =
            provisional(&template, &spki(RSA2048), datetime!(2049-06-01 0:00 UTC), Duration::days(730))
                .unwrap();
        assert_eq!(late.not_after(), datetime!(2051-06-01 0:00 UTC));
    }

    #[test]
    fn a_small_key_or_a_missing_sip_domain_is_refused_before_signing() {
        let policy = Policy::oauth_token_issuer("contoso.com").unwrap();
        let at = datetime!(2026-11-29 0:00 UTC);
        let template =
            RequestTemplate::new("CN=pool01.fabrikam.com").unwrap().dns_name("pool01.fabrikam.com").unwrap();
        let err = check(&template, &spki(RSA1024), &policy, at, Duration::days(365)).unwrap_err();
        let RequestError::PolicyViolations { violations } = err else { panic!("{err:?}") };
        let codes: Vec<&str> = violations.iter().map(Violation::code).collect();
        assert_eq!(codes, ["key-too-small", "subject-mismatch"]);
        let good = RequestTemplate::for_type(
            &crate::policy::CertType::OAuthTokenIssuer,
            "pool01.contoso.com",
            "contoso.com",
        )
        .unwrap();
        assert_eq!(check(&good, &spki(RSA2048), &policy, at, Duration::days(365)), Ok(()));
    }
}
