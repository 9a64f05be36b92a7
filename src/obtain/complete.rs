//! Completing a request: the pending key and the CA's answer become a PFX.
//!
//! The answer arrives as a DER or PEM certificate, a PEM chain, or a PKCS #7 certificates-only
//! file (`.p7b`/`.p7c`, DER, BER as Windows writes it, or PEM), read by
//! [`Certificate::from_bundle`]. The certificate whose public key is the pending key's is the
//! leaf; the others are put in path order behind it by issuer name and signature
//! ([`Chain::order`]), each signature checked; certificates off the path are left out.

use crate::obtain::error::RequestError;
use crate::pfx::{Pfx, PrivateKey};
use crate::x509::{Certificate, Chain};

/// Completes a request: the certificate of the CA's `response` that belongs to `key`, its chain in
/// path order (each signature checked), and the key, as a [`Pfx`] ready for
/// [`Store::add_pfx`](crate::Store::add_pfx) and [`Pfx::export`]. `friendly_name` is kept for
/// the certificate and key.
///
/// ```
/// use certslot::{ImportOptions, Password, PrivateKey, obtain::complete_request};
///
/// let password = Password::new("P@ssw0rd");
/// let key = PrivateKey::from_pem(include_bytes!("../../tests/data/request/pending.p8"), Some(&password))?;
/// let pfx = complete_request(key, include_bytes!("../../tests/data/request/answer.p7b"), Some("OAuth 2027"))?;
/// assert_eq!(pfx.leaf().map(|c| c.subject().to_string()), Some("CN=pool01.contoso.com".into()));
/// assert_eq!(pfx.chain().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`RequestError::Response`] when the answer does not read as certificates;
/// [`RequestError::NoMatchingCertificate`] when none of them is for `key`;
/// [`RequestError::Chain`] for a chain certificate whose signature does not check (or a path
/// longer than certslot follows).
pub fn complete_request(
    key: PrivateKey,
    response: &[u8],
    friendly_name: Option<&str>,
) -> Result<Pfx, RequestError> {
    complete_with_certificates(key, Certificate::from_bundle(response)?, friendly_name)
}

/// [`complete_request`] for an answer already read as certificates (an [`Issuer`](crate::obtain::Issuer)'s):
/// the certificate for `key`, its chain in path order, and the key, as a [`Pfx`].
///
/// # Errors
/// As [`complete_request`], but for reading the answer.
pub fn complete_with_certificates(
    key: PrivateKey,
    certificates: Vec<Certificate>,
    friendly_name: Option<&str>,
) -> Result<Pfx, RequestError> {
    let Some(position) = certificates.iter().position(|c| key.matches(c) == Some(true)) else {
        return Err(RequestError::NoMatchingCertificate {
            thumbprints: certificates.iter().map(Certificate::thumbprint).collect(),
        });
    };
    let mut others = certificates;
    let leaf = others.remove(position);
    let chain = Chain::order(&leaf, &others)?;
    let path: Vec<Certificate> = chain.into_certificates().into_iter().skip(1).collect();
    Ok(Pfx::from_parts(leaf, key, path, friendly_name)?)
}
