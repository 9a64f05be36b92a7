//! Putting a CA's bundle in order: the leaf, then the certificate that issued it, and so on up
//! to a self-signed root, each link checked by name, key identifier and signature.
//!
//! Which of several certificates issued another is decided in one place,
//! [`Certificate::issuer_among`], for every chain certslot assembles: a CA's answer
//! ([`Chain::order`]) and the `x5c` of a published key (the store's inventory offers every
//! certificate with the issuer's name).
//!
//! RFC 5280 6.1 (path validation) asks more of a path than this: a trust anchor, validity at an
//! instant, basic constraints, key usage, name constraints, policies, revocation. None of that
//! is done here. This is the first step of accepting a CA's answer to a request: knowing which
//! certificate signed which, with the signatures checked, so that the chain can be stored and
//! sent in the order TLS and Windows expect (RFC 8446 4.4.2: "each following certificate SHOULD
//! directly certify the one immediately preceding it").

use core::fmt;

use crate::x509::cert::Certificate;
use crate::x509::thumbprint::Thumbprint;
use crate::x509::verify::{SignatureCheck, VerifyError};

/// The longest path [`Chain::order`] builds. Real chains have two to five certificates; the
/// limit bounds the work a hostile bundle can cause.
pub const MAX_CHAIN_LENGTH: usize = 16;

/// A bundle's certificates in path order, leaf first, each signed by the next.
///
/// ```
/// use certslot::{Certificate, x509::{Chain, ChainEnd}};
///
/// // A CA's answer, root first: the leaf is found by the caller (the certificate whose key
/// // is the pending request's).
/// let bundle = Certificate::from_bundle(include_bytes!("../../tests/data/chains/chain-shuffled.pem"))?;
/// let leaf = &bundle[1];
/// let chain = Chain::order(leaf, &bundle)?;
/// let names: Vec<String> = chain.certificates().iter().map(|c| c.subject().to_string()).collect();
/// assert_eq!(
///     names,
///     ["CN=sip.contoso.com,O=Contoso,C=US", "CN=Contoso Chain Test Issuing CA,O=Contoso,C=US",
///      "CN=Contoso Chain Test Root CA,O=Contoso,C=US"]
/// );
/// assert_eq!(chain.end(), ChainEnd::SelfSigned);
/// assert!(chain.unused().is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chain {
    certificates: Vec<Certificate>,
    checks: Vec<SignatureCheck>,
    end: ChainEnd,
    unused: Vec<Certificate>,
}

/// Why a [`Chain`] stops where it does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChainEnd {
    /// The last certificate is self-signed: a root (its self-signature is the last check).
    SelfSigned,
    /// The last certificate names itself as its issuer, but its own signature cannot be checked
    /// (an algorithm or key certslot does not verify, such as the MD2 or MD5 self-signatures of
    /// old roots) and no other certificate of the bundle signed it. A root's self-signature
    /// proves nothing about it (a trust anchor is trusted as configured, RFC 5280 6.1.1), so
    /// the path ends there, without a check for the last certificate.
    SelfIssued,
    /// No certificate of the bundle has the last certificate's issuer as its subject: the CA
    /// did not send the root (common: the root is in the trust store), or an intermediate is
    /// missing.
    IssuerNotFound,
    /// The last certificate's issuer is already on the path, at `index`: cross-signed CAs that
    /// certify each other. The order stops there instead of going round (the last check is
    /// the signature by the certificate at `index`).
    Loop {
        /// The position on the path of the certificate that signed the last one.
        index: usize,
    },
}

impl fmt::Display for ChainEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::SelfSigned => f.write_str("ends at a self-signed root"),
            Self::SelfIssued => f.write_str("ends at a self-issued root whose signature cannot be checked"),
            Self::IssuerNotFound => f.write_str("ends where the bundle holds no issuer"),
            Self::Loop { index } => write!(f, "ends where its issuer is certificate {index} again"),
        }
    }
}

/// Why a bundle could not be put in order.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChainError {
    /// A certificate on the path names an issuer that some certificates of the bundle have as
    /// their subject, but none of them issued it: their subject key identifier is not the
    /// certificate's authority key identifier, or their key does not verify its signature (or
    /// the signature cannot be checked): a broken or forged signature, an algorithm certslot
    /// does not verify, a CA's certificate from before its renewal with a new key alone in the
    /// bundle. The error is the first candidate's.
    #[error("certificate {position} of the chain ({certificate}) is not signed by {issuer}: {source}")]
    Signature {
        /// The certificate's position on the path (0 for the leaf).
        position: usize,
        /// Its thumbprint.
        certificate: Thumbprint,
        /// The thumbprint of the first issuer candidate (the certificate itself for a
        /// self-issued one).
        issuer: Thumbprint,
        /// Why that candidate's key did not verify the signature.
        #[source]
        source: Box<VerifyError>,
    },
    /// The path grew longer than [`MAX_CHAIN_LENGTH`] certificates.
    #[error("the chain is longer than {max} certificates")]
    TooLong {
        /// The limit.
        max: usize,
    },
}

/// What [`Certificate::issuer_among`] found: the issuer, else why the first candidate with
/// the issuer's name was not it.
#[derive(Debug)]
pub(crate) struct IssuerSearch<'c> {
    /// The candidate that issued the certificate, and the check of its signature.
    issuer: Option<(&'c Certificate, SignatureCheck)>,
    /// The first candidate with the issuer's name that did not issue it, and why (before the
    /// issuer, if one was found).
    first_miss: Option<(&'c Certificate, VerifyError)>,
}

impl<'c> IssuerSearch<'c> {
    /// The candidate that issued the certificate, if one did.
    pub(crate) fn issuer(&self) -> Option<&'c Certificate> {
        self.issuer.as_ref().map(|(issuer, _)| *issuer)
    }
}

impl Certificate {
    /// Which of `candidates` issued this certificate, tried in their order:
    ///
    /// 1. its subject is this certificate's issuer name (the same DER, as CAs copy it; RFC 5280
    ///    6.1.3 (a)(4));
    /// 2. when this certificate has an authority key identifier and the candidate a subject key
    ///    identifier, they are the same octets (RFC 5280 4.2.1.1 and 4.2.1.2; OpenSSL's
    ///    `X509_check_akid` refuses a candidate the same way): a CA renewed with a new key keeps
    ///    its name, and only the identifier of the key tells its two certificates apart;
    /// 3. its key verifies this certificate's signature ([`Certificate::verify_signed_by`]),
    ///    which decides when identifiers are missing or unreadable.
    ///
    /// The first candidate that passes all three is the issuer. When several do (a CA renewed
    /// with the same key), that is the first in `candidates`' order.
    pub(crate) fn issuer_among<'c>(
        &self,
        candidates: impl IntoIterator<Item = &'c Certificate>,
    ) -> IssuerSearch<'c> {
        let issuer_name = self.issuer();
        // An unreadable identifier is no identifier: the signature decides.
        let authority_key = self.authority_key_identifier().ok().flatten();
        let mut first_miss = None;
        for candidate in candidates {
            if candidate.subject().as_der() != issuer_name.as_der() {
                continue;
            }
            let subject_key = candidate.subject_key_identifier().ok().flatten();
            if let (Some(authority_key), Some(subject_key)) = (authority_key, subject_key) {
                if authority_key != subject_key {
                    first_miss.get_or_insert_with(|| {
                        (
                            candidate,
                            VerifyError::KeyIdentifierMismatch {
                                certificate: self.thumbprint(),
                                authority_key_identifier: authority_key.to_vec(),
                                issuer: candidate.thumbprint(),
                                subject_key_identifier: subject_key.to_vec(),
                            },
                        )
                    });
                    continue;
                }
            }
            match self.verify_signed_by(candidate) {
                Ok(check) => return IssuerSearch { issuer: Some((candidate, check)), first_miss },
                Err(e) => {
                    first_miss.get_or_insert((candidate, e));
                }
            }
        }
        IssuerSearch { issuer: None, first_miss }
    }
}

impl Chain {
    /// Orders `others` behind `leaf`: the certificate that issued the leaf (the leaf's issuer
    /// name, the same key identifier when both carry one, a key that verifies the leaf's
    /// signature: [`Certificate::verify_signed_by`]), then that certificate's issuer,
    /// and so on. The path stops at a self-signed root, where the bundle holds no issuer, or
    /// where the issuer is already on the path (a loop of cross-signed CAs: it never goes
    /// round); see [`ChainEnd`].
    ///
    /// Names match when their DER is the same, as CAs copy them (RFC 5280 7.1's comparison
    /// rules are not applied). When several certificates have the issuer's name (a CA renewed
    /// with a new key beside its old certificate), the one whose subject key identifier is the
    /// certificate's authority key identifier and whose key verifies the signature is taken.
    /// `others` may hold the leaf itself: copies of certificates on the path are dropped; the
    /// certificates that are not on the path are kept in [`Chain::unused`], in their order in
    /// `others`.
    ///
    /// Only names, key identifiers and signatures are checked: not validity, basic
    /// constraints, key usage, revocation, nor whether the root is trusted.
    ///
    /// # Errors
    /// [`ChainError::Signature`] when certificates with the issuer's name are in the bundle but
    /// none issued the certificate: their key identifier is another
    /// ([`VerifyError::KeyIdentifierMismatch`]) or their key does not verify the signature (a
    /// broken signature names the certificate; a self-issued certificate whose self-signature
    /// is bad is one too);
    /// [`ChainError::TooLong`] past [`MAX_CHAIN_LENGTH`] certificates.
    pub fn order(leaf: &Certificate, others: &[Certificate]) -> Result<Self, ChainError> {
        let mut path = vec![leaf.clone()];
        let mut checks = Vec::new();
        // `others` not on the path, by index; copies of the leaf are never candidates.
        let mut available: Vec<bool> = others.iter().map(|c| c != leaf).collect();
        let end = loop {
            let position = path.len() - 1;
            let Some(current) = path.last().cloned() else { break ChainEnd::IssuerNotFound };
            let mut first_failure: Option<(Thumbprint, VerifyError)> = None;
            let mut fail = |candidate: &Certificate, e: VerifyError| {
                first_failure.get_or_insert((candidate.thumbprint(), e));
            };

            // A self-issued certificate may be a root: its own key signed it.
            let mut unverifiable_self = false;
            if current.is_self_issued() {
                match current.verify_signed_by(&current) {
                    Ok(check) => {
                        checks.push(check);
                        break ChainEnd::SelfSigned;
                    }
                    Err(e) => {
                        unverifiable_self = !matches!(e, VerifyError::BadSignature { .. });
                        fail(&current, e);
                    }
                }
            }
            // An issuer from the bundle extends the path.
            let free = others.iter().zip(&available).filter(|(_, free)| **free).map(|(c, _)| c);
            let next = current.issuer_among(free);
            if let Some((candidate, e)) = next.first_miss {
                fail(candidate, e);
            }
            if let Some((issuer, check)) = next.issuer {
                if path.len() >= MAX_CHAIN_LENGTH {
                    return Err(ChainError::TooLong { max: MAX_CHAIN_LENGTH });
                }
                // Copies of the issuer elsewhere in the bundle are the same certificate.
                for (slot, other) in available.iter_mut().zip(others) {
                    if other == issuer {
                        *slot = false;
                    }
                }
                checks.push(check);
                path.push(issuer.clone());
                continue;
            }
            // An issuer already on the path closes a loop.
            let back = current.issuer_among(path.iter().take(position));
            if let Some((candidate, e)) = back.first_miss {
                fail(candidate, e);
            }
            if let Some((issuer, check)) = back.issuer {
                // The path holds no copies: the issuer's position is its index.
                let index = path.iter().position(|c| c == issuer).unwrap_or(position);
                checks.push(check);
                break ChainEnd::Loop { index };
            }
            // A root whose own signature certslot cannot check (MD2 or MD5 in old roots, DSA):
            // its self-signature proves nothing anyway, a trust anchor is trusted as configured.
            if unverifiable_self {
                break ChainEnd::SelfIssued;
            }
            match first_failure {
                Some((issuer, source)) => {
                    return Err(ChainError::Signature {
                        position,
                        certificate: current.thumbprint(),
                        issuer,
                        source: Box::new(source),
                    });
                }
                None => break ChainEnd::IssuerNotFound,
            }
        };
        let unused = others
            .iter()
            .zip(&available)
            .filter(|(c, free)| **free && !path.contains(c))
            .map(|(c, _)| c.clone())
            .collect();
        Ok(Self { certificates: path, checks, end, unused })
    }

    /// The certificates in path order: the leaf first (never empty).
    pub fn certificates(&self) -> &[Certificate] {
        &self.certificates
    }

    /// The certificates in path order, leaf first, taken out of the chain.
    pub fn into_certificates(self) -> Vec<Certificate> {
        self.certificates
    }

    /// The signature checks along the path: the `i`-th is certificate `i`'s signature checked
    /// with the key of certificate `i + 1`; after a [`ChainEnd::SelfSigned`] end the last is the
    /// root's own, after a [`ChainEnd::Loop`] the last certificate's by the certificate it
    /// points back to; after the other ends the last certificate has none. A policy can refuse
    /// a path with a weak one ([`SignatureCheck::is_weak`]).
    pub fn checks(&self) -> &[SignatureCheck] {
        &self.checks
    }

    /// Why the path stops where it does.
    pub fn end(&self) -> ChainEnd {
        self.end
    }

    /// The root the path ends at ([`ChainEnd::SelfSigned`] or [`ChainEnd::SelfIssued`]), if it
    /// does.
    pub fn root(&self) -> Option<&Certificate> {
        self.certificates.last().filter(|_| matches!(self.end, ChainEnd::SelfSigned | ChainEnd::SelfIssued))
    }

    /// The certificates of the bundle that are not on the path (other CAs' certificates, an
    /// old intermediate), in the order they were given; copies of path certificates are left
    /// out.
    pub fn unused(&self) -> &[Certificate] {
        &self.unused
    }
}
