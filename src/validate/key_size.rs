//! Key algorithm and size.

use core::fmt;

use time::OffsetDateTime;

use crate::validate::PolicyError;
use crate::validate::{Report, Rule, Violation};
use crate::x509::Certificate;
use crate::x509::key::KeyAlgorithm;

/// Which key algorithms a [`KeyRule`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AcceptedKeys {
    /// RSA keys (`rsaEncryption`).
    pub rsa: bool,
    /// RSA keys restricted to PSS (`id-RSASSA-PSS`).
    pub rsa_pss: bool,
    /// EC keys, with their minimum field size in bits; `None` rejects EC keys.
    pub ec_min_bits: Option<u32>,
    /// Ed25519 and Ed448 keys.
    pub eddsa: bool,
}

impl fmt::Display for AcceptedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if self.rsa {
            parts.push("rsa".to_owned());
        }
        if self.rsa_pss {
            parts.push("rsa-pss".to_owned());
        }
        if let Some(bits) = self.ec_min_bits {
            parts.push(format!("ec (>= {bits} bits)"));
        }
        if self.eddsa {
            parts.push("ed25519, ed448".to_owned());
        }
        f.write_str(&parts.join(", "))
    }
}

/// Checks the key's algorithm and size.
///
/// The default is the token issuer's rule: RSA (`rsaEncryption`) only, at least 2048 bits, as
/// Lync Server requires of the OAuthTokenIssuer certificate.
///
/// ```
/// use certslot::validate::KeyRule;
///
/// let rule = KeyRule::default().min_rsa_bits(3072)?.accept_ec(256)?;
/// assert_eq!(rule.accepted().ec_min_bits, Some(256));
/// assert!(KeyRule::default().min_rsa_bits(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct KeyRule {
    min_rsa_bits: u32,
    accepted: AcceptedKeys,
}

impl Default for KeyRule {
    fn default() -> Self {
        Self {
            min_rsa_bits: Self::DEFAULT_MIN_RSA_BITS,
            accepted: AcceptedKeys { rsa: true, rsa_pss: false, ec_min_bits: None, eddsa: false },
        }
    }
}

impl KeyRule {
    /// The default minimum RSA modulus size: 2048 bits.
    pub const DEFAULT_MIN_RSA_BITS: u32 = 2048;
    /// The range of minimum RSA sizes a rule may set.
    pub const RSA_BITS_RANGE: (u32, u32) = (512, 16384);
    /// The range of minimum EC sizes a rule may set.
    pub const EC_BITS_RANGE: (u32, u32) = (160, 571);

    /// Sets the minimum RSA modulus size (also for RSA-PSS keys).
    ///
    /// # Errors
    /// [`PolicyError::KeySizeOutOfRange`] outside [`KeyRule::RSA_BITS_RANGE`].
    pub fn min_rsa_bits(self, bits: u32) -> Result<Self, PolicyError> {
        let (min, max) = Self::RSA_BITS_RANGE;
        if !(min..=max).contains(&bits) {
            return Err(PolicyError::KeySizeOutOfRange { algorithm: "RSA", bits, min, max });
        }
        Ok(Self { min_rsa_bits: bits, ..self })
    }

    /// Accepts EC keys on curves of at least `min_bits` (256 accepts P-256, P-384, P-521).
    ///
    /// # Errors
    /// [`PolicyError::KeySizeOutOfRange`] outside [`KeyRule::EC_BITS_RANGE`].
    pub fn accept_ec(self, min_bits: u32) -> Result<Self, PolicyError> {
        let (min, max) = Self::EC_BITS_RANGE;
        if !(min..=max).contains(&min_bits) {
            return Err(PolicyError::KeySizeOutOfRange { algorithm: "EC", bits: min_bits, min, max });
        }
        Ok(Self { accepted: AcceptedKeys { ec_min_bits: Some(min_bits), ..self.accepted }, ..self })
    }

    /// Accepts or rejects RSA keys (`rsaEncryption`).
    ///
    /// # Errors
    /// [`PolicyError::NoKeyAlgorithm`] when this leaves no algorithm accepted.
    pub fn accept_rsa(self, accept: bool) -> Result<Self, PolicyError> {
        Self { accepted: AcceptedKeys { rsa: accept, ..self.accepted }, ..self }.checked()
    }

    /// Accepts or rejects RSA-PSS keys (`id-RSASSA-PSS`), which cannot make PKCS #1 v1.5 (RS256)
    /// signatures.
    ///
    /// # Errors
    /// [`PolicyError::NoKeyAlgorithm`] when this leaves no algorithm accepted.
    pub fn accept_rsa_pss(self, accept: bool) -> Result<Self, PolicyError> {
        Self { accepted: AcceptedKeys { rsa_pss: accept, ..self.accepted }, ..self }.checked()
    }

    /// Accepts or rejects Ed25519 and Ed448 keys.
    ///
    /// # Errors
    /// [`PolicyError::NoKeyAlgorithm`] when this leaves no algorithm accepted.
    pub fn accept_eddsa(self, accept: bool) -> Result<Self, PolicyError> {
        Self { accepted: AcceptedKeys { eddsa: accept, ..self.accepted }, ..self }.checked()
    }

    /// Rejects EC keys.
    ///
    /// # Errors
    /// [`PolicyError::NoKeyAlgorithm`] when this leaves no algorithm accepted.
    pub fn reject_ec(self) -> Result<Self, PolicyError> {
        Self { accepted: AcceptedKeys { ec_min_bits: None, ..self.accepted }, ..self }.checked()
    }

    /// The minimum RSA modulus size.
    pub fn rsa_min_bits(&self) -> u32 {
        self.min_rsa_bits
    }

    /// The accepted algorithms.
    pub fn accepted(&self) -> AcceptedKeys {
        self.accepted
    }

    fn checked(self) -> Result<Self, PolicyError> {
        let a = self.accepted;
        if a.rsa || a.rsa_pss || a.ec_min_bits.is_some() || a.eddsa {
            Ok(self)
        } else {
            Err(PolicyError::NoKeyAlgorithm)
        }
    }
}

impl Rule for KeyRule {
    fn check_into(&self, cert: &Certificate, _at: OffsetDateTime, report: &mut Report) {
        let key = match cert.public_key() {
            Ok(key) => key,
            Err(error) => return report.violations.push(Violation::KeyUnreadable { error }),
        };
        let algorithm = key.algorithm();
        let a = &self.accepted;
        let min_bits = match algorithm {
            KeyAlgorithm::Rsa if a.rsa => Some(self.min_rsa_bits),
            KeyAlgorithm::RsaPss if a.rsa_pss => Some(self.min_rsa_bits),
            KeyAlgorithm::Ec(_) if a.ec_min_bits.is_some() => a.ec_min_bits,
            KeyAlgorithm::Ed25519 | KeyAlgorithm::Ed448 if a.eddsa => None,
            _ => {
                return report
                    .violations
                    .push(Violation::KeyAlgorithmNotAccepted { algorithm, accepted: *a });
            }
        };
        let Some(min_bits) = min_bits else { return };
        match key.bits() {
            None => report.violations.push(Violation::KeySizeUnknown { algorithm }),
            Some(bits) if bits < min_bits => {
                report.violations.push(Violation::KeyTooSmall { algorithm, bits, min_bits });
            }
            Some(_) => {}
        }
    }
}
