//! PKCS #8 files: a private key in the clear (`PrivateKeyInfo`, RFC 5958 2, PEM label
//! `PRIVATE KEY`) or under a password (`EncryptedPrivateKeyInfo`, RFC 5958 3, PEM label
//! `ENCRYPTED PRIVATE KEY`; RFC 7468 10 and 11).
//!
//! certslot writes PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC
//! ([RFC 8018 6.2](https://datatracker.ietf.org/doc/html/rfc8018#section-6.2)), the password as its
//! UTF-8 octets (as OpenSSL does for PBES2), and reads every scheme PFX import reads (PBES2 with
//! PBKDF2 over SHA-1/SHA-2 and AES or 3DES, and the PKCS #12 PBE schemes that
//! `openssl pkcs8 -v1` writes), with the same bound on iterations.
//!
//! PKCS #8 has no MAC: a wrong password is seen when the cipher's padding does not check after
//! decryption and, when the padding happens to check (about one chance in 256 for a CBC cipher),
//! when the decrypted bytes are not a private key structure, or (RSA, P-256 and P-384 keys) not a
//! consistent key: the RSA primes must multiply to the modulus and the exponents invert each
//! other, the EC scalar must give the point the key carries. A wrong password or a corrupt file is
//! thus accepted only if it leaves valid padding and a valid key, a chance too small to matter but
//! not zero for the keys whose consistency certslot cannot check: confirm a key with
//! [`PrivateKey::matches`] against its certificate where one is at hand.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::pfx::decrypt::Encryption;
use crate::pfx::epki;
use crate::pfx::error::key_error;
use crate::pfx::kdf::Password;
use crate::pfx::key::PrivateKey;
use crate::pfx::{ImportOptions, KeyError, PasswordCheck};
use crate::x509::pem;

/// How [`PrivateKey::to_encrypted_pkcs8_der`] encrypts: PBES2 with PBKDF2-HMAC-SHA256 and
/// AES-256-CBC, a random 16-octet salt and IV, and an iteration count.
///
/// The default count is [`Pkcs8Options::DEFAULT_ITERATIONS`], 600,000: OWASP's and NIST's
/// current recommendation for PBKDF2-HMAC-SHA256, about a quarter of a second on one core.
///
/// ```
/// use certslot::pfx::Pkcs8Options;
///
/// assert_eq!(Pkcs8Options::default().iteration_count(), 600_000);
/// let fast = Pkcs8Options::default().iterations(10_000)?;
/// assert_eq!(fast.iteration_count(), 10_000);
/// assert!(Pkcs8Options::default().iterations(0).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Pkcs8Options {
    iterations: u32,
}

impl Default for Pkcs8Options {
    fn default() -> Self {
        Self { iterations: Self::DEFAULT_ITERATIONS }
    }
}

impl Pkcs8Options {
    /// The default PBKDF2 iteration count: 600,000.
    pub const DEFAULT_ITERATIONS: u32 = 600_000;
    /// The largest iteration count accepted: 10,000,000 (several seconds to read back). Counts
    /// above [`ImportOptions::DEFAULT_MAX_ITERATIONS`] (1,000,000) need a raised
    /// [`ImportOptions::max_iterations`] to be read back by certslot.
    pub const MAX_ITERATIONS: u32 = 10_000_000;

    /// Sets the PBKDF2 iteration count.
    ///
    /// # Errors
    /// [`KeyError::InvalidIterations`] outside 1..=[`Pkcs8Options::MAX_ITERATIONS`].
    pub fn iterations(self, iterations: u32) -> Result<Self, KeyError> {
        if !(1..=Self::MAX_ITERATIONS).contains(&iterations) {
            return Err(KeyError::InvalidIterations { iterations, min: 1, max: Self::MAX_ITERATIONS });
        }
        Ok(Self { iterations })
    }

    /// The PBKDF2 iteration count.
    pub fn iteration_count(&self) -> u32 {
        self.iterations
    }
}

impl PrivateKey {
    /// The key as PKCS #8 `PrivateKeyInfo` DER, unencrypted: the secret itself, zeroized when
    /// the returned buffer is dropped.
    pub fn to_pkcs8_der(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(self.pkcs8_der().to_vec())
    }

    /// The key as unencrypted PKCS #8 PEM (`-----BEGIN PRIVATE KEY-----`, RFC 7468 10), zeroized
    /// when the returned text is dropped.
    pub fn to_pkcs8_pem(&self) -> Zeroizing<String> {
        pem_text("PRIVATE KEY", self.pkcs8_der())
    }

    /// The key as PKCS #8 `EncryptedPrivateKeyInfo` DER under `password` (see [`Pkcs8Options`]);
    /// the salt and IV come from `rng`, the password is taken as its UTF-8 octets (RFC 8018 3
    /// leaves the encoding open; OpenSSL and Python `cryptography` use the octets as given).
    ///
    /// ```
    /// use certslot::{Password, PrivateKey, pfx::Pkcs8Options, rand_core::UnwrapErr};
    /// # let mut rng = UnwrapErr(getrandom::SysRng);
    ///
    /// let key = PrivateKey::generate_ec(certslot::x509::Curve::P256, &mut rng)?;
    /// let options = Pkcs8Options::default().iterations(2048)?;
    /// let der = key.to_encrypted_pkcs8_der(&Password::new("P@ssw0rd"), options, &mut rng)?;
    /// let back = PrivateKey::from_encrypted_pkcs8_der(&der, &Password::new("P@ssw0rd"))?;
    /// assert_eq!(back.pkcs8_der(), key.pkcs8_der());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`KeyError::Encryption`] when the cipher refuses its input.
    pub fn to_encrypted_pkcs8_der(
        &self,
        password: &Password,
        options: Pkcs8Options,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, KeyError> {
        let encryption: Encryption =
            epki::pbes2_aes256(options.iterations, rng).ok_or(KeyError::Encryption)?;
        // PBES2 takes the UTF-8 password; the BMPString form is for PKCS #12 PBE only.
        epki::write(&encryption, password, &[], self.pkcs8_der()).ok_or(KeyError::Encryption)
    }

    /// The key as encrypted PKCS #8 PEM (`-----BEGIN ENCRYPTED PRIVATE KEY-----`, RFC 7468 11),
    /// as [`PrivateKey::to_encrypted_pkcs8_der`] encrypts it.
    ///
    /// # Errors
    /// [`KeyError::Encryption`] when the cipher refuses its input.
    pub fn to_encrypted_pkcs8_pem(
        &self,
        password: &Password,
        options: Pkcs8Options,
        rng: &mut impl CryptoRng,
    ) -> Result<String, KeyError> {
        let der = self.to_encrypted_pkcs8_der(password, options, rng)?;
        Ok(pem_text("ENCRYPTED PRIVATE KEY", &der).to_string())
    }

    /// Reads a PKCS #8 `EncryptedPrivateKeyInfo` (DER), with the default iteration limit
    /// ([`ImportOptions::DEFAULT_MAX_ITERATIONS`], 1,000,000).
    ///
    /// # Errors
    /// As [`PrivateKey::from_encrypted_pkcs8_der_with`].
    pub fn from_encrypted_pkcs8_der(der: &[u8], password: &Password) -> Result<Self, KeyError> {
        Self::from_encrypted_pkcs8_der_with(der, password, ImportOptions::default())
    }

    /// Reads a PKCS #8 `EncryptedPrivateKeyInfo` (DER); of `options`, only
    /// [`ImportOptions::max_iterations`] applies.
    ///
    /// # Errors
    /// [`KeyError::WrongPassword`] when the padding does not check after decryption
    /// ([`PasswordCheck::Padding`]) or the decrypted bytes are not a private key, or not a
    /// consistent one ([`PasswordCheck::KeyStructure`]): PKCS #8 has no MAC, so corrupt
    /// ciphertext shows the same way. [`KeyError::Corrupt`] when the structure does not decode,
    /// [`KeyError::UnsupportedAlgorithm`] / [`KeyError::InvalidParameters`] for an encryption
    /// certslot does not run, [`KeyError::TooManyIterations`] above the limit.
    pub fn from_encrypted_pkcs8_der_with(
        der: &[u8],
        password: &Password,
        options: ImportOptions,
    ) -> Result<Self, KeyError> {
        let (encryption, ciphertext) = epki::read(der, options.max_iterations_limit()).map_err(key_error)?;
        let plaintext = epki::decrypt(&encryption, password, ciphertext)
            .ok_or(KeyError::WrongPassword { check: PasswordCheck::Padding })?;
        let structure = KeyError::WrongPassword { check: PasswordCheck::KeyStructure };
        let key = PrivateKey::from_pkcs8_der(&plaintext).map_err(|_| structure.clone())?;
        match key.consistent() {
            Some(false) => Err(structure),
            _ => Ok(key),
        }
    }
}

/// PEM text (RFC 7468 2) of a secret: [`pem::encode`]'s string, allocated once at its final
/// size, zeroized on drop.
pub(crate) fn pem_text(label: &str, der: &[u8]) -> Zeroizing<String> {
    Zeroizing::new(pem::encode(label, der))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_text_has_64_character_lines_and_its_exact_size() {
        let der: Vec<u8> = (0..=99).collect();
        let text = pem_text("PRIVATE KEY", &der);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.first(), Some(&"-----BEGIN PRIVATE KEY-----"));
        assert_eq!(lines.last(), Some(&"-----END PRIVATE KEY-----"));
        assert_eq!(lines.iter().map(|l| l.len()).collect::<Vec<_>>(), vec![27, 64, 64, 8, 25]);
        assert_eq!(text.capacity(), text.len());
        let empty = pem_text("X", &[]);
        assert_eq!(empty.as_str(), "-----BEGIN X-----\n-----END X-----\n");
        assert_eq!(empty.capacity(), empty.len());
    }
}
