//! Passwords and the key derivations of PKCS #12.
//!
//! RFC 7292 appendix B.1: the password-based encryption schemes of PKCS #12 (PBES1 and the MAC)
//! take the password as a BMPString: UTF-16 big-endian with two zero octets at the end; OpenSSL
//! writes characters outside the BMP as surrogate pairs and so does certslot. PBES2 and PBMAC1
//! (RFC 8018, RFC 9579) take the password's UTF-8 octets. The empty password has two encodings in
//! the wild, `00 00` (RFC 7292) and no octets at all (what OpenSSL calls a NULL password); an
//! empty password is tried in both.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::x509::algorithm::HashAlgorithm;

/// A PFX password. Zeroized on drop; `Debug` prints `[redacted]`.
///
/// ```
/// use certslot::Password;
///
/// let password = Password::new("P@ssw0rd");
/// assert_eq!(format!("{password:?}"), "Password([redacted])");
/// ```
#[derive(Clone, Default)]
pub struct Password(String);

impl Drop for Password {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for Password {}

impl Password {
    /// A password from text.
    pub fn new(password: impl Into<String>) -> Self {
        Self(password.into())
    }

    /// The empty password, for files exported without one; both encodings of the empty
    /// password are tried.
    pub fn empty() -> Self {
        Self(String::new())
    }

    /// True when the password is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// A 32-byte key derived from the password's UTF-8 octets with PBKDF2-HMAC-SHA256 (RFC 8018
    /// section 5.2) over `salt` and `rounds` (at least 1): to key a MAC or a signature from the
    /// password without handing its text around. Zeroized on drop.
    ///
    /// ```
    /// use certslot::Password;
    ///
    /// // PBKDF2-HMAC-SHA256("password", "salt", 1 round), 32 octets: the known answer.
    /// let key = Password::new("password").derive_key(b"salt", 1);
    /// assert_eq!(key[..4], [0x12, 0x0f, 0xb6, 0xcf]);
    /// assert_eq!(key[28..], [0xb7, 0x0b, 0xe1, 0x7b]);
    /// ```
    pub fn derive_key(&self, salt: &[u8], rounds: u32) -> Zeroizing<[u8; 32]> {
        let mut key = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<sha2::Sha256>(self.0.as_bytes(), salt, rounds.max(1), key.as_mut());
        key
    }

    /// The UTF-8 octets (PBES2, PBMAC1).
    pub(crate) fn utf8(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The BMPString encodings to try for PBES1 and the PKCS #12 MAC, in order.
    pub(crate) fn bmp_forms(&self) -> Vec<Zeroizing<Vec<u8>>> {
        if self.0.is_empty() {
            return vec![Zeroizing::new(vec![0, 0]), Zeroizing::new(Vec::new())];
        }
        let mut bmp = Zeroizing::new(Vec::with_capacity(self.0.len() * 2 + 2));
        for unit in self.0.encode_utf16() {
            bmp.extend_from_slice(&unit.to_be_bytes());
        }
        bmp.extend_from_slice(&[0, 0]);
        vec![bmp]
    }
}

impl From<&str> for Password {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// What a PKCS #12 KDF output is for (RFC 7292 B.3): the diversifier `ID`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// ID = 1: an encryption key.
    Key,
    /// ID = 2: an initialisation vector.
    Iv,
    /// ID = 3: a MAC key.
    Mac,
}

/// The RFC 7292 appendix B.2 key derivation over `digest`: on the block API for SHA-1 and
/// SHA-256 (see `fast`), with the `pkcs12` crate's implementation for the other hashes. Its `v`
/// is the hash's block size, as OpenSSL's `PKCS12_key_gen` takes it (`EVP_MD_block_size`): 64 or
/// 128 octets for SHA-1 and SHA-2, the rate for SHA-3 (144, 136, 104, 72 octets for SHA3-224 to
/// SHA3-512), 128 for BLAKE2b and 64 for BLAKE2s.
pub(crate) fn derive_with(
    digest: HashAlgorithm,
    bmp_password: &[u8],
    salt: &[u8],
    purpose: Purpose,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    use crate::pfx::fast::{Sha1Block, Sha256Block, pkcs12_kdf};
    let id = match purpose {
        Purpose::Key => 1,
        Purpose::Iv => 2,
        Purpose::Mac => 3,
    };
    match digest {
        HashAlgorithm::Sha1 => pkcs12_kdf::<Sha1Block>(bmp_password, salt, id, iterations, len),
        HashAlgorithm::Sha256 => pkcs12_kdf::<Sha256Block>(bmp_password, salt, id, iterations, len),
        HashAlgorithm::Sha224 => derive::<sha2::Sha224>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha384 => derive::<sha2::Sha384>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha512 => derive::<sha2::Sha512>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha512_224 => derive::<sha2::Sha512_224>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha512_256 => derive::<sha2::Sha512_256>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha3_224 => derive::<sha3::Sha3_224>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha3_256 => derive::<sha3::Sha3_256>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha3_384 => derive::<sha3::Sha3_384>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Sha3_512 => derive::<sha3::Sha3_512>(bmp_password, salt, purpose, iterations, len),
        HashAlgorithm::Blake2b512 => {
            derive::<blake2::Blake2b512>(bmp_password, salt, purpose, iterations, len)
        }
        HashAlgorithm::Blake2s256 => {
            derive::<blake2::Blake2s256>(bmp_password, salt, purpose, iterations, len)
        }
        // No PFX algorithm holds a hash pfx does not run (see `digest::with_hash`); a zeroed key
        // makes its decryption or MAC fail.
        HashAlgorithm::Md2 | HashAlgorithm::Md5 | HashAlgorithm::Other(_) => Zeroizing::new(vec![0; len]),
    }
}

/// The RFC 7292 appendix B.2 key derivation, with the `pkcs12` crate's implementation.
/// `iterations` has been checked against the import's limit, which keeps it within `i32`.
pub(crate) fn derive<D>(
    bmp_password: &[u8],
    salt: &[u8],
    purpose: Purpose,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>>
where
    D: digest::Digest + digest::FixedOutputReset + digest::block_api::BlockSizeUser,
{
    let id = match purpose {
        Purpose::Key => pkcs12::kdf::Pkcs12KeyType::EncryptionKey,
        Purpose::Iv => pkcs12::kdf::Pkcs12KeyType::Iv,
        Purpose::Mac => pkcs12::kdf::Pkcs12KeyType::Mac,
    };
    let rounds = i32::try_from(iterations).unwrap_or(i32::MAX);
    Zeroizing::new(pkcs12::kdf::derive_key::<D>(bmp_password, salt, id, rounds, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bmp_forms_follow_rfc_7292_and_openssl() {
        let forms = Password::new("a€🔑").bmp_forms();
        let expected: &[u8] = &[0x00, 0x61, 0x20, 0xAC, 0xD8, 0x3D, 0xDD, 0x11, 0x00, 0x00];
        assert_eq!(forms.iter().map(|f| f.as_slice()).collect::<Vec<_>>(), vec![expected]);
        let empty = Password::empty().bmp_forms();
        assert_eq!(empty.iter().map(|f| f.as_slice()).collect::<Vec<_>>(), vec![&[0u8, 0][..], &[][..]]);
    }

    #[test]
    fn rfc_7292_kdf_known_answer() {
        // OpenSSL test vector (test/pkcs12_format_test.c lineage): SHA-1, password "smeg",
        // salt 0A58CF64530D823F, 1 iteration, key of 24 octets.
        let bmp = Password::new("smeg").bmp_forms();
        let salt = [0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F];
        let key = derive::<sha1::Sha1>(&bmp[0], &salt, Purpose::Key, 1, 24);
        assert_eq!(
            key.as_slice(),
            &[
                0x8A, 0xAA, 0xE6, 0x29, 0x7B, 0x6C, 0xB0, 0x46, 0x42, 0xAB, 0x5B, 0x07, 0x78, 0x51, 0x28,
                0x4E, 0xB7, 0x12, 0x8F, 0x1A, 0x2A, 0x7F, 0xBC, 0xA3
            ]
        );
    }

    #[test]
    fn rfc_7292_kdf_takes_the_rate_of_sha3_and_the_block_of_blake2() {
        // Password "smeg", salt 0A58CF64530D823F, 2 iterations, 72 octets (three hash outputs, so
        // step 6C runs with v octets): from `p12_kdf` in tests/data/pfx/gen_pfx.py, which takes v
        // from Python's hashlib (136 for SHA3-256, 64 for BLAKE2s), as OpenSSL's PKCS12_key_gen
        // takes it from EVP_MD_block_size.
        let bmp = Password::new("smeg").bmp_forms();
        let salt = [0x0A, 0x58, 0xCF, 0x64, 0x53, 0x0D, 0x82, 0x3F];
        let sha3 = derive_with(HashAlgorithm::Sha3_256, &bmp[0], &salt, Purpose::Key, 2, 72);
        assert_eq!(
            sha3.as_slice(),
            &[
                0xCF, 0xFE, 0x17, 0x58, 0xE2, 0xA1, 0xE5, 0x88, 0x63, 0x1D, 0x56, 0xA2, 0x3D, 0xEF, 0xE6,
                0xEA, 0x4F, 0x10, 0x9B, 0xE8, 0xC0, 0xA3, 0x62, 0xC0, 0x10, 0xEF, 0x43, 0x32, 0x78, 0x41,
                0x22, 0xC5, 0x28, 0x83, 0x7E, 0xAF, 0xD9, 0x16, 0xA7, 0xF4, 0x2D, 0x2D, 0xD5, 0x7A, 0xF9,
                0x9F, 0x26, 0x87, 0x02, 0x9F, 0x84, 0x49, 0xCD, 0x1D, 0xB3, 0x66, 0x61, 0x2E, 0x1C, 0x3B,
                0x60, 0xE0, 0x7E, 0xA9, 0x05, 0xF2, 0x46, 0x10, 0x05, 0xBD, 0x37, 0xA7
            ]
        );
        let blake2s = derive_with(HashAlgorithm::Blake2s256, &bmp[0], &salt, Purpose::Key, 2, 72);
        assert_eq!(
            blake2s.as_slice(),
            &[
                0x8E, 0x02, 0x47, 0x87, 0x59, 0x77, 0x39, 0x6E, 0x85, 0xDB, 0x7E, 0xCC, 0x6D, 0x43, 0xE0,
                0x1C, 0xBB, 0x1D, 0x13, 0x66, 0xA8, 0x5C, 0x5F, 0x5C, 0xC5, 0x1F, 0x4E, 0x4B, 0xFA, 0xB6,
                0x14, 0xA0, 0x0C, 0x3C, 0xE9, 0x85, 0x45, 0x44, 0xAD, 0x3E, 0xCA, 0xDA, 0x23, 0x05, 0x0F,
                0xD4, 0xC8, 0xB3, 0x9D, 0x63, 0xC5, 0xC6, 0x94, 0xB1, 0x1A, 0x93, 0xE3, 0x50, 0x14, 0x90,
                0xF3, 0x10, 0x9C, 0x77, 0x92, 0xE7, 0x18, 0xEC, 0x88, 0xE1, 0x23, 0xCE
            ]
        );
    }
}
