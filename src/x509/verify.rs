//! Checking a certificate's signature with its issuer's public key.
//!
//! ```text
//! Certificate  ::=  SEQUENCE  {
//!      tbsCertificate       TBSCertificate,
//!      signatureAlgorithm   AlgorithmIdentifier,
//!      signatureValue       BIT STRING  }
//! ```
//! ([RFC 5280 4.1.1](https://datatracker.ietf.org/doc/html/rfc5280#section-4.1.1))
//!
//! The signature covers the DER of `tbsCertificate` as it is in the certificate (4.1.1.3), and
//! `signatureAlgorithm` must be the same AlgorithmIdentifier as `TBSCertificate.signature`
//! (4.1.1.2). Algorithms: RSASSA-PKCS1-v1_5 and RSASSA-PSS
//! ([RFC 8017 8](https://datatracker.ietf.org/doc/html/rfc8017#section-8), identifiers of
//! [RFC 4055](https://datatracker.ietf.org/doc/html/rfc4055)) and ECDSA on P-256 and P-384
//! ([RFC 5758 3.2](https://datatracker.ietf.org/doc/html/rfc5758#section-3.2)), each
//! with SHA-1, SHA-224, SHA-256, SHA-384 or SHA-512. The arithmetic is RustCrypto's (`rsa`,
//! `p256`, `p384`, `sha1`, `sha2`); this file picks the algorithm and checks the parameters.

use core::fmt;

use const_oid::ObjectIdentifier;
use digest::{Digest, FixedOutputReset};
use rsa::traits::PublicKeyParts as _;
use rsa::{BoxedUint, Pkcs1v15Sign, Pss};
use signature::hazmat::PrehashVerifier as _;

use crate::x509::FactError;
use crate::x509::algorithm::{HashAlgorithm, NO_OID, PssParameters, SignatureAlgorithm};
use crate::x509::cert::Certificate;
use crate::x509::key::{self, Curve, KeyAlgorithm, PublicKeyInfo};
use crate::x509::thumbprint::Thumbprint;
use crate::x509::tlv::{Reader, Tlv, tag};

/// The RSA modulus sizes certslot verifies with, in bits. Small keys are verified (a policy
/// judges their size, [`SignatureCheck::issuer_key_bits`]); a modulus above 16384 bits is refused
/// so that a hostile certificate cannot make a check slow.
const RSA_BITS: core::ops::RangeInclusive<u32> = 512..=16384;

/// What a verified signature was made with: the algorithm, its hash and the issuer's key.
///
/// ```
/// use certslot::{Certificate, x509::{HashAlgorithm, SignatureAlgorithm}};
///
/// let leaf = Certificate::from_der(include_bytes!("../../tests/data/rsa2048.der"))?;
/// let issuer = Certificate::from_der(include_bytes!("../../tests/data/intermediate-ca.der"))?;
/// let check = leaf.verify_signed_by(&issuer)?;
/// assert_eq!(check.algorithm(), SignatureAlgorithm::RsaPkcs1(HashAlgorithm::Sha256));
/// assert!(!check.is_weak());
/// assert_eq!(check.issuer_key_bits(), Some(2048));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignatureCheck {
    algorithm: SignatureAlgorithm,
    hash: HashAlgorithm,
    pss: Option<PssParameters>,
    issuer_key: KeyAlgorithm,
    issuer_key_bits: Option<u32>,
}

impl SignatureCheck {
    /// The signature algorithm that verified (for RSA-PSS, with the hash of its parameters).
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// The hash the signature covers.
    pub fn hash(&self) -> HashAlgorithm {
        self.hash
    }

    /// True when the hash is SHA-1, whose collisions make a signature forgeable: a policy should
    /// refuse the certificate although its signature verified.
    pub fn is_weak(&self) -> bool {
        self.hash.is_weak()
    }

    /// The RSASSA-PSS parameters, for an RSA-PSS signature.
    pub fn pss(&self) -> Option<PssParameters> {
        self.pss
    }

    /// The algorithm of the issuer's key (with its curve for EC keys).
    pub fn issuer_key(&self) -> KeyAlgorithm {
        self.issuer_key
    }

    /// The size of the issuer's key in bits (RSA modulus, EC field).
    pub fn issuer_key_bits(&self) -> Option<u32> {
        self.issuer_key_bits
    }
}

impl fmt::Display for SignatureCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.algorithm)?;
        if let Some(pss) = self.pss {
            write!(f, " ({pss})")?;
        }
        match (self.issuer_key, self.issuer_key_bits) {
            (KeyAlgorithm::Ec(curve), _) => write!(f, " by an EC {curve} key"),
            (key, Some(bits)) => write!(f, " by a {bits}-bit {key} key"),
            (key, None) => write!(f, " by a {key} key"),
        }
    }
}

/// Why a certificate's signature did not verify with an issuer's key.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// `Certificate.signatureAlgorithm` differs from `TBSCertificate.signature` (RFC 5280 4.1.1.2
    /// requires the same AlgorithmIdentifier): different OIDs, or the same OID with different
    /// parameters.
    #[error("signatureAlgorithm {outer} differs from the TBSCertificate's signature field {tbs}")]
    AlgorithmMismatch {
        /// The OID of `Certificate.signatureAlgorithm`.
        outer: ObjectIdentifier,
        /// The OID of `TBSCertificate.signature`.
        tbs: ObjectIdentifier,
    },
    /// An algorithm or hash certslot does not verify (DSA, EdDSA, MD5, an unknown OID).
    #[error("signature algorithm {algorithm} ({oid}) is not supported")]
    UnsupportedAlgorithm {
        /// The OID of `signatureAlgorithm`.
        oid: ObjectIdentifier,
        /// The algorithm as certslot reads it.
        algorithm: SignatureAlgorithm,
    },
    /// The AlgorithmIdentifier's parameters do not decode or are not allowed: anything but NULL or
    /// nothing for PKCS #1 v1.5 (RFC 4055 5), anything but nothing or NULL for ECDSA (RFC 5758
    /// 3.2), missing or malformed `RSASSA-PSS-params` (RFC 4055 3.1).
    #[error("the parameters of signature algorithm {oid} are invalid")]
    InvalidParameters {
        /// The OID of `signatureAlgorithm`.
        oid: ObjectIdentifier,
    },
    /// RSASSA-PSS parameters that RFC 4055 forbids or certslot does not verify: a trailer field
    /// other than 1 (RFC 4055 3.1), a mask generation function other than MGF1, or MGF1 over a
    /// hash other than the message's (which no CA uses).
    #[error("unsupported RSA-PSS parameters: {parameters}")]
    UnsupportedPssParameters {
        /// The parameters as read.
        parameters: Box<PssParameters>,
    },
    /// The issuer's key is of a type the algorithm cannot use: an EC key for an RSA signature, an
    /// RSA key for ECDSA, an `id-RSASSA-PSS` key for PKCS #1 v1.5 (RFC 4055 1.2).
    #[error("a {key} key cannot verify a {algorithm} signature")]
    KeyMismatch {
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
        /// The issuer key's algorithm.
        key: KeyAlgorithm,
    },
    /// The issuer's `id-RSASSA-PSS` key carries parameters that this signature breaks: another
    /// hash or mask generation, or a shorter salt (RFC 4055 3.1).
    #[error("the issuer's RSA-PSS key allows {key}, the signature uses {signature}")]
    PssKeyMismatch {
        /// The parameters of the issuer's key.
        key: Box<PssParameters>,
        /// The parameters of the signature.
        signature: Box<PssParameters>,
    },
    /// An issuer key certslot cannot verify with: an EC curve other than P-256 and P-384, or an
    /// RSA modulus outside 512 to 16384 bits.
    #[error("the issuer's {key} key{} is not supported", of_bits(*bits))]
    UnsupportedKey {
        /// The issuer key's algorithm.
        key: KeyAlgorithm,
        /// Its size in bits, when known.
        bits: Option<u32>,
    },
    /// The issuer's public key does not decode as its algorithm requires.
    #[error("the issuer's public key: {0}")]
    IssuerKey(#[source] FactError),
    /// The issuer's public key decodes but is not a valid key (an EC point not on the curve, an
    /// even RSA modulus, an RSA exponent below 2 or above 2^33).
    #[error("the issuer's {key} key is not a valid key")]
    MalformedKey {
        /// The issuer key's algorithm.
        key: KeyAlgorithm,
    },
    /// The signature value is not of the form the algorithm requires: an RSA signature whose
    /// length is not the modulus length (RFC 8017 8.2.2), an ECDSA signature that is not a DER
    /// `Ecdsa-Sig-Value` with `r` and `s` in range (RFC 3279 2.2.3), a BIT STRING with unused
    /// bits.
    #[error("the {algorithm} signature of {len} octets is malformed{}", expected_octets(*expected))]
    MalformedSignature {
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
        /// The signature's length in octets.
        len: usize,
        /// The length the algorithm requires, when it fixes one (the RSA modulus length).
        expected: Option<usize>,
    },
    /// The signature does not verify: the certificate was not signed by this issuer's key, or
    /// its bytes were changed after signing.
    #[error(
        "the {algorithm} signature of certificate {certificate} does not verify with the key of {issuer}"
    )]
    BadSignature {
        /// The signature algorithm.
        algorithm: SignatureAlgorithm,
        /// The thumbprint of the certificate whose signature was checked.
        certificate: Thumbprint,
        /// The thumbprint of the issuer whose key was used.
        issuer: Thumbprint,
    },
    /// The certificate's authority key identifier names another key than the candidate
    /// issuer's subject key identifier: the candidate has the issuer's name but not its key, as
    /// the certificate of a CA from before its renewal with a new key. The signature is not
    /// checked. ([RFC 5280 4.2.1.1](https://datatracker.ietf.org/doc/html/rfc5280#section-4.2.1.1):
    /// "The keyIdentifier field of the authorityKeyIdentifier extension MUST be included in all
    /// certificates generated by conforming CAs to facilitate certification path
    /// construction.") Raised when a chain is assembled
    /// ([`Chain::order`](crate::x509::Chain::order)), not by [`Certificate::verify_signed_by`].
    #[error(
        "the authority key identifier {} of certificate {certificate} is not the subject key identifier {} of {issuer}",
        hex(authority_key_identifier),
        hex(subject_key_identifier)
    )]
    KeyIdentifierMismatch {
        /// The thumbprint of the certificate.
        certificate: Thumbprint,
        /// The `keyIdentifier` of its authority key identifier.
        authority_key_identifier: Vec<u8>,
        /// The thumbprint of the candidate issuer.
        issuer: Thumbprint,
        /// The candidate's subject key identifier.
        subject_key_identifier: Vec<u8>,
    },
}

/// Octets as uppercase hex, as OpenSSL and Windows show key identifiers (without colons).
fn hex(octets: &[u8]) -> String {
    octets.iter().map(|b| format!("{b:02X}")).collect()
}

fn of_bits(bits: Option<u32>) -> String {
    bits.map(|b| format!(" of {b} bits")).unwrap_or_default()
}

fn expected_octets(expected: Option<usize>) -> String {
    expected.map(|e| format!(" (expected {e} octets)")).unwrap_or_default()
}

/// How the signature is checked once the parameters are read.
#[derive(Clone, Copy)]
enum Scheme {
    Pkcs1,
    Pss(PssParameters),
    Ecdsa,
}

/// Why the arithmetic refused, before it is given the certificates' names.
enum Failure {
    Key,
    Signature(Option<usize>),
    Bad,
}

impl Certificate {
    /// Checks this certificate's signature with `issuer`'s public key: the signature over the
    /// `TBSCertificate` bytes (RFC 5280 4.1.1.3), after checking that `signatureAlgorithm`
    /// equals `TBSCertificate.signature` (4.1.1.2), that the algorithm's parameters are valid and
    /// that the issuer's key fits the algorithm.
    ///
    /// Only the signature is checked: not that `issuer`'s subject is this certificate's issuer
    /// name ([`Chain::order`](crate::x509::Chain::order) matches names and signatures), nor validity,
    /// key usage or basic constraints. A SHA-1 signature verifies and is flagged
    /// ([`SignatureCheck::is_weak`]) for a policy to refuse.
    ///
    /// ```
    /// use certslot::{Certificate, x509::VerifyError};
    ///
    /// let root = Certificate::from_der(include_bytes!("../../tests/data/root-ca.der"))?;
    /// let issuing = Certificate::from_der(include_bytes!("../../tests/data/intermediate-ca.der"))?;
    /// assert!(issuing.verify_signed_by(&root).is_ok());
    /// assert!(matches!(issuing.verify_signed_by(&issuing), Err(VerifyError::BadSignature { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`VerifyError::BadSignature`] when the signature does not verify; the other variants when
    /// it cannot be checked: mismatched or unsupported algorithms, invalid parameters, an issuer
    /// key of the wrong type, size or encoding, a malformed signature value.
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<SignatureCheck, VerifyError> {
        let outer = self.signature_algorithm_der();
        let tbs = self.tbs_signature_algorithm_der();
        let oid = self.signature_algorithm_oid();
        // RFC 5280 4.1.1.2: "This field MUST contain the same algorithm identifier as the
        // signature field in the sequence tbsCertificate."
        if outer != tbs {
            return Err(VerifyError::AlgorithmMismatch { outer: oid, tbs: oid_of(tbs) });
        }
        let algorithm = self.signature_algorithm();
        let params = parameters(outer);
        let invalid = VerifyError::InvalidParameters { oid };
        let (scheme, hash) = match algorithm {
            // RFC 4055 5: the parameters of sha*WithRSAEncryption are NULL; some encoders omit them.
            SignatureAlgorithm::RsaPkcs1(hash) if null_or_absent(params) => (Scheme::Pkcs1, hash),
            // RFC 5758 3.2: the parameters of ecdsa-with-SHA* are absent; old encoders wrote NULL.
            SignatureAlgorithm::Ecdsa(hash) if null_or_absent(params) => (Scheme::Ecdsa, hash),
            SignatureAlgorithm::RsaPkcs1(_) | SignatureAlgorithm::Ecdsa(_) => return Err(invalid),
            // RFC 4055 3.1: the parameters are present (an empty SEQUENCE for all defaults).
            SignatureAlgorithm::RsaPss(_) => {
                let pss = params.as_ref().and_then(PssParameters::decode).ok_or(invalid)?;
                // RFC 4055 3.1: trailerField MUST be 1. The `rsa` crate runs MGF1 over the
                // message hash, as every CA does.
                if pss.trailer_field() != 1 || pss.mgf_hash() != Some(pss.hash()) {
                    return Err(VerifyError::UnsupportedPssParameters { parameters: Box::new(pss) });
                }
                (Scheme::Pss(pss), pss.hash())
            }
            _ => return Err(VerifyError::UnsupportedAlgorithm { oid, algorithm }),
        };
        let Some(digest) = digest(hash, self.tbs_der()) else {
            return Err(VerifyError::UnsupportedAlgorithm { oid, algorithm });
        };

        let key = issuer.public_key().map_err(VerifyError::IssuerKey)?;
        let key_algorithm = key.algorithm();
        let signature = self.signature();
        let malformed =
            |expected| VerifyError::MalformedSignature { algorithm, len: signature.len(), expected };
        // The signature is a whole number of octets for every algorithm here.
        if self.signature_unused_bits() != 0 {
            return Err(malformed(None));
        }
        let outcome = match (scheme, key_algorithm) {
            (Scheme::Pkcs1, KeyAlgorithm::Rsa) => {
                let rsa = rsa_key(&key)?;
                rsa_check(&rsa, signature)
                    .and_then(|()| pkcs1(&rsa, hash, &digest, signature).ok_or(Failure::Bad))
            }
            (Scheme::Pss(pss), KeyAlgorithm::Rsa | KeyAlgorithm::RsaPss) => {
                check_pss_key(&key, &pss)?;
                let rsa = rsa_key(&key)?;
                let salt = usize::try_from(pss.salt_len()).unwrap_or(usize::MAX);
                rsa_check(&rsa, signature)
                    .and_then(|()| self::pss(&rsa, hash, salt, &digest, signature).ok_or(Failure::Bad))
            }
            (Scheme::Ecdsa, KeyAlgorithm::Ec(Curve::P256)) => {
                ecdsa_p256(key.subject_public_key(), signature, &digest)
            }
            (Scheme::Ecdsa, KeyAlgorithm::Ec(Curve::P384)) => {
                ecdsa_p384(key.subject_public_key(), signature, &digest)
            }
            (Scheme::Ecdsa, KeyAlgorithm::Ec(_)) => {
                return Err(VerifyError::UnsupportedKey { key: key_algorithm, bits: key.bits() });
            }
            _ => return Err(VerifyError::KeyMismatch { algorithm, key: key_algorithm }),
        };
        match outcome {
            Ok(()) => Ok(SignatureCheck {
                algorithm,
                hash,
                pss: match scheme {
                    Scheme::Pss(pss) => Some(pss),
                    _ => None,
                },
                issuer_key: key_algorithm,
                issuer_key_bits: key.bits(),
            }),
            Err(Failure::Key) => Err(VerifyError::MalformedKey { key: key_algorithm }),
            Err(Failure::Signature(expected)) => Err(malformed(expected)),
            Err(Failure::Bad) => Err(VerifyError::BadSignature {
                algorithm,
                certificate: self.thumbprint(),
                issuer: issuer.thumbprint(),
            }),
        }
    }

    /// True when this certificate names itself as its issuer and its signature verifies with its
    /// own key: a root, or a self-signed certificate. False also when the signature cannot be
    /// checked (an algorithm certslot does not verify).
    pub fn is_self_signed(&self) -> bool {
        self.is_self_issued() && self.verify_signed_by(self).is_ok()
    }
}

/// The OID of an AlgorithmIdentifier the certificate parser has checked.
fn oid_of(alg: &[u8]) -> ObjectIdentifier {
    Reader::new(alg)
        .read("AlgorithmIdentifier")
        .and_then(|alg| alg.reader().read_expected(tag::OID, "algorithm"))
        .ok()
        .and_then(|oid| ObjectIdentifier::from_bytes(oid.value).ok())
        .unwrap_or(NO_OID)
}

/// The parameters of an AlgorithmIdentifier, if any.
fn parameters(alg: &[u8]) -> Option<Tlv<'_>> {
    let mut fields = Reader::new(alg).read("AlgorithmIdentifier").ok()?.reader();
    fields.read("algorithm").ok()?;
    fields.read("parameters").ok()
}

fn null_or_absent(params: Option<Tlv<'_>>) -> bool {
    params.is_none_or(|p| p.tag == tag::NULL && p.value.is_empty())
}

/// The hash of the signed bytes, for the hashes certslot verifies with.
fn digest(hash: HashAlgorithm, data: &[u8]) -> Option<Vec<u8>> {
    Some(match hash {
        HashAlgorithm::Sha1 => sha1::Sha1::digest(data).to_vec(),
        HashAlgorithm::Sha224 => sha2::Sha224::digest(data).to_vec(),
        HashAlgorithm::Sha256 => sha2::Sha256::digest(data).to_vec(),
        HashAlgorithm::Sha384 => sha2::Sha384::digest(data).to_vec(),
        HashAlgorithm::Sha512 => sha2::Sha512::digest(data).to_vec(),
        _ => return None,
    })
}

/// RFC 4055 3.1: an `id-RSASSA-PSS` key with parameters may only verify signatures with the
/// same hash and mask generation and a salt at least as long.
fn check_pss_key(key: &PublicKeyInfo<'_>, signature: &PssParameters) -> Result<(), VerifyError> {
    if key.algorithm() != KeyAlgorithm::RsaPss {
        return Ok(());
    }
    let malformed = VerifyError::MalformedKey { key: KeyAlgorithm::RsaPss };
    let (_, params, _) = key::split_spki(key.spki_der()).ok_or(malformed.clone())?;
    let Some(params) = params.filter(|p| p.tag != tag::NULL) else {
        return Ok(());
    };
    let allowed = PssParameters::decode(&params).ok_or(malformed)?;
    if pss_key_allows(&allowed, signature) {
        Ok(())
    } else {
        Err(VerifyError::PssKeyMismatch { key: Box::new(allowed), signature: Box::new(*signature) })
    }
}

fn pss_key_allows(key: &PssParameters, signature: &PssParameters) -> bool {
    key.hash() == signature.hash()
        && key.mask_gen() == signature.mask_gen()
        && key.mgf_hash() == signature.mgf_hash()
        && signature.salt_len() >= key.salt_len()
}

fn rsa_key(key: &PublicKeyInfo<'_>) -> Result<rsa::PublicKey, VerifyError> {
    let algorithm = key.algorithm();
    let (Some(n), Some(e)) = (key.rsa_modulus(), key.rsa_exponent()) else {
        return Err(VerifyError::MalformedKey { key: algorithm });
    };
    if !key.bits().is_some_and(|bits| RSA_BITS.contains(&bits)) {
        return Err(VerifyError::UnsupportedKey { key: algorithm, bits: key.bits() });
    }
    let limits =
        usize::try_from(*RSA_BITS.start()).unwrap_or(0)..=usize::try_from(*RSA_BITS.end()).unwrap_or(0);
    rsa::PublicKey::new_with_size_limits(
        BoxedUint::from_be_slice_vartime(n),
        BoxedUint::from_be_slice_vartime(e),
        limits,
    )
    .map_err(|_| VerifyError::MalformedKey { key: algorithm })
}

/// RFC 8017 8.2.2 step 1: the signature is exactly as long as the modulus.
fn rsa_check(key: &rsa::PublicKey, signature: &[u8]) -> Result<(), Failure> {
    if signature.len() == key.size() { Ok(()) } else { Err(Failure::Signature(Some(key.size()))) }
}

fn pkcs1(key: &rsa::PublicKey, hash: HashAlgorithm, digest: &[u8], signature: &[u8]) -> Option<()> {
    let scheme = match hash {
        HashAlgorithm::Sha1 => Pkcs1v15Sign::new::<sha1::Sha1>(),
        HashAlgorithm::Sha224 => Pkcs1v15Sign::new::<sha2::Sha224>(),
        HashAlgorithm::Sha256 => Pkcs1v15Sign::new::<sha2::Sha256>(),
        HashAlgorithm::Sha384 => Pkcs1v15Sign::new::<sha2::Sha384>(),
        HashAlgorithm::Sha512 => Pkcs1v15Sign::new::<sha2::Sha512>(),
        _ => return None,
    };
    key.verify(scheme, digest, signature).ok()
}

fn pss(
    key: &rsa::PublicKey,
    hash: HashAlgorithm,
    salt: usize,
    digest: &[u8],
    signature: &[u8],
) -> Option<()> {
    fn with<D: Digest + FixedOutputReset>(
        key: &rsa::PublicKey,
        salt: usize,
        digest: &[u8],
        signature: &[u8],
    ) -> Option<()> {
        key.verify(Pss::<D>::new_with_salt(salt), digest, signature).ok()
    }
    match hash {
        HashAlgorithm::Sha1 => with::<sha1::Sha1>(key, salt, digest, signature),
        HashAlgorithm::Sha224 => with::<sha2::Sha224>(key, salt, digest, signature),
        HashAlgorithm::Sha256 => with::<sha2::Sha256>(key, salt, digest, signature),
        HashAlgorithm::Sha384 => with::<sha2::Sha384>(key, salt, digest, signature),
        HashAlgorithm::Sha512 => with::<sha2::Sha512>(key, salt, digest, signature),
        _ => None,
    }
}

fn ecdsa_p256(point: &[u8], signature: &[u8], digest: &[u8]) -> Result<(), Failure> {
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| Failure::Key)?;
    let signature = p256::ecdsa::Signature::from_der(signature).map_err(|_| Failure::Signature(None))?;
    key.verify_prehash(digest, &signature).map_err(|_| Failure::Bad)
}

fn ecdsa_p384(point: &[u8], signature: &[u8], digest: &[u8]) -> Result<(), Failure> {
    let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| Failure::Key)?;
    let signature = p384::ecdsa::Signature::from_der(signature).map_err(|_| Failure::Signature(None))?;
    key.verify_prehash(digest, &signature).map_err(|_| Failure::Bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::algorithm::MGF1;

    fn params(hash: HashAlgorithm, salt: u64) -> PssParameters {
        // RSASSA-PSS-params with the hash as [0] and MGF1 over it as [1], salt as [2].
        let oid = hash.oid();
        let mut alg = vec![0x30, (oid.as_bytes().len() + 2) as u8, 0x06, oid.as_bytes().len() as u8];
        alg.extend_from_slice(oid.as_bytes());
        let mut mgf = vec![0x06, MGF1.as_bytes().len() as u8];
        mgf.extend_from_slice(MGF1.as_bytes());
        mgf.extend_from_slice(&alg);
        let mut mgf_seq = vec![0x30, mgf.len() as u8];
        mgf_seq.extend_from_slice(&mgf);
        let mut body = vec![0xA0, alg.len() as u8];
        body.extend_from_slice(&alg);
        body.extend_from_slice(&[0xA1, mgf_seq.len() as u8]);
        body.extend_from_slice(&mgf_seq);
        body.extend_from_slice(&[0xA2, 0x03, 0x02, 0x01, salt as u8]);
        let mut der = vec![0x30, body.len() as u8];
        der.extend_from_slice(&body);
        let tlv = Reader::new(&der).read("params").expect("well-formed");
        PssParameters::decode(&tlv).expect("decodes")
    }

    #[test]
    fn pss_parameters_read_as_encoded() {
        let p = params(HashAlgorithm::Sha256, 32);
        assert_eq!(
            (p.hash(), p.mask_gen(), p.mgf_hash(), p.salt_len(), p.trailer_field()),
            (HashAlgorithm::Sha256, MGF1, Some(HashAlgorithm::Sha256), 32, 1)
        );
        assert_eq!(p.to_string(), "hash SHA-256, MGF1 with SHA-256, salt 32 octets, trailer field 1");
        let empty = [0x30, 0x00];
        let defaults = Reader::new(&empty).read("params").ok().and_then(|t| PssParameters::decode(&t));
        assert_eq!(
            defaults.map(|p| (p.hash(), p.mgf_hash(), p.salt_len(), p.trailer_field())),
            Some((HashAlgorithm::Sha1, Some(HashAlgorithm::Sha1), 20, 1))
        );
    }

    #[test]
    fn a_pss_key_allows_its_hash_and_longer_salts_only() {
        let key = params(HashAlgorithm::Sha256, 32);
        assert!(pss_key_allows(&key, &params(HashAlgorithm::Sha256, 32)));
        assert!(pss_key_allows(&key, &params(HashAlgorithm::Sha256, 48)));
        assert!(!pss_key_allows(&key, &params(HashAlgorithm::Sha256, 20)));
        assert!(!pss_key_allows(&key, &params(HashAlgorithm::Sha384, 48)));
    }
}
