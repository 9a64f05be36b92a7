//! New private keys: RSA with the `rsa` crate, EC on P-256 and P-384 with the `p256` / `p384`
//! crates, randomness from the caller.
//!
//! RSA keys have e = 65537 (RFC 8017 3.1; FIPS 186-5 A.1.1 asks for 2^16 < e < 2^256) and a
//! modulus of exactly the size asked for; sizes below 2048 bits are refused (NIST SP 800-57
//! Part 1 Rev. 5 table 2 gives 2048 bits 112-bit security, the floor of SP 800-131A Rev. 2).

use rand_core::CryptoRng;

use crate::pfx::KeyError;
use crate::pfx::error::key_error;
use crate::pfx::key::PrivateKey;
use crate::x509::key::{Curve, KeyAlgorithm};

impl PrivateKey {
    /// The RSA modulus sizes [`PrivateKey::generate_rsa`] generates.
    pub const RSA_SIZES: [u32; 3] = [2048, 3072, 4096];
    /// The curves [`PrivateKey::generate_ec`] generates keys on.
    pub const EC_CURVES: [Curve; 2] = [Curve::P256, Curve::P384];

    /// Generates an RSA key of `bits` bits (2048, 3072 or 4096) with e = 65537.
    ///
    /// The primes are searched with randomness from `rng`, so the time varies from run to run
    /// (a 2048-bit key takes a fraction of a second in a release build, most of the time).
    ///
    /// ```
    /// use certslot::{PrivateKey, rand_core::UnwrapErr, x509::KeyAlgorithm};
    ///
    /// let key = PrivateKey::generate_rsa(2048, &mut UnwrapErr(getrandom::SysRng))?;
    /// assert_eq!((key.algorithm(), key.bits()), (KeyAlgorithm::Rsa, Some(2048)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::UnsupportedRsaSize`] for any other size, [`KeyError::Generation`] when the
    /// generator fails.
    pub fn generate_rsa(bits: u32, rng: &mut impl CryptoRng) -> Result<Self, KeyError> {
        if !Self::RSA_SIZES.contains(&bits) {
            return Err(KeyError::UnsupportedRsaSize { bits, allowed: &Self::RSA_SIZES });
        }
        let failed = KeyError::Generation { algorithm: KeyAlgorithm::Rsa, bits };
        let size = usize::try_from(bits).map_err(|_| failed.clone())?;
        let key = rsa::PrivateKey::new(rng, size).map_err(|_| failed.clone())?;
        let der = pkcs8::EncodePrivateKey::to_pkcs8_der(&key).map_err(|_| failed)?;
        Self::from_pkcs8_der(der.as_bytes()).map_err(key_error)
    }

    /// Generates an EC key on `curve` (P-256 or P-384). The PKCS #8 structure carries the public
    /// point, so [`PrivateKey::matches`] can pair the key with its certificate.
    ///
    /// ```
    /// use certslot::{PrivateKey, rand_core::UnwrapErr, x509::{Curve, KeyAlgorithm}};
    ///
    /// let key = PrivateKey::generate_ec(Curve::P384, &mut UnwrapErr(getrandom::SysRng))?;
    /// assert_eq!((key.algorithm(), key.bits()), (KeyAlgorithm::Ec(Curve::P384), Some(384)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::UnsupportedCurve`] for any other curve, [`KeyError::Generation`] when the
    /// encoding fails.
    pub fn generate_ec(curve: Curve, rng: &mut impl CryptoRng) -> Result<Self, KeyError> {
        let failed =
            || KeyError::Generation { algorithm: KeyAlgorithm::Ec(curve), bits: curve.bits().unwrap_or(0) };
        use p256::elliptic_curve::Generate as _;
        let der = match curve {
            Curve::P256 => pkcs8::EncodePrivateKey::to_pkcs8_der(&p256::SecretKey::generate_from_rng(rng)),
            Curve::P384 => pkcs8::EncodePrivateKey::to_pkcs8_der(&p384::SecretKey::generate_from_rng(rng)),
            _ => return Err(KeyError::UnsupportedCurve { curve, allowed: &Self::EC_CURVES }),
        }
        .map_err(|_| failed())?;
        Self::from_pkcs8_der(der.as_bytes()).map_err(key_error)
    }
}
