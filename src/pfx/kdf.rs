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
/// SHA-256 (see `fast`), with the `pkcs12` crate's implementation for the other hashes.
pub(crate) fn derive_with(
    digest: crate::pfx::digest::Digest,
    bmp_password: &[u8],
    salt: &[u8],
    purpose: Purpose,
    iterations: u32,
    len: usize,
) -> Zeroizing<Vec<u8>> {
    use crate::pfx::digest::Digest;
    use crate::pfx::fast::{Sha1Block, Sha256Block, pkcs12_kdf};
    let id = match purpose {
        Purpose::Key => 1,
        Purpose::Iv => 2,
        Purpose::Mac => 3,
    };
    match digest {
        Digest::Sha1 => pkcs12_kdf::<Sha1Block>(bmp_password, salt, id, iterations, len),
        Digest::Sha256 => pkcs12_kdf::<Sha256Block>(bmp_password, salt, id, iterations, len),
        Digest::Sha224 => derive::<sha2::Sha224>(bmp_password, salt, purpose, iterations, len),
        Digest::Sha384 => derive::<sha2::Sha384>(bmp_password, salt, purpose, iterations, len),
        Digest::Sha512 => derive::<sha2::Sha512>(bmp_password, salt, purpose, iterations, len),
        Digest::Sha512_224 => derive::<sha2::Sha512_224>(bmp_password, salt, purpose, iterations, len),
        Digest::Sha512_256 => derive::<sha2::Sha512_256>(bmp_password, salt, purpose, iterations, len),
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
}
