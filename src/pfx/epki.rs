//! A private key under a password: the `EncryptedPrivateKeyInfo` of PKCS #8 files and of PFX
//! shrouded key bags.
//!
//! ```text
//! EncryptedPrivateKeyInfo ::= SEQUENCE {
//!     encryptionAlgorithm  EncryptionAlgorithmIdentifier,
//!     encryptedData        EncryptedData }
//! EncryptedData ::= OCTET STRING
//! ```
//! ([RFC 5958 3](https://datatracker.ietf.org/doc/html/rfc5958#section-3)). Written here for both
//! PKCS #8 export and PFX export; read here for PKCS #8 files (DER). PFX import reads the same
//! structure inside its bags in `decode`, with the BER leniency that PFX files need.

use rand_core::CryptoRng;
use zeroize::Zeroizing;

use crate::pfx::PfxError;
use crate::pfx::decrypt::Encryption;
use crate::pfx::encode::{oct, seq};
use crate::pfx::kdf::Password;
use crate::x509::tlv::{self, tag};

/// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC
/// ([RFC 8018 6.2](https://datatracker.ietf.org/doc/html/rfc8018#section-6.2), A.2, B.2.5), with
/// a fresh 16-octet salt and IV from `rng`: what OpenSSL 3 writes by default.
pub(crate) fn pbes2_aes256(iterations: u32, rng: &mut (impl CryptoRng + ?Sized)) -> Option<Encryption> {
    let mut salt = [0u8; 16];
    let mut iv = [0u8; 16];
    rng.fill_bytes(&mut salt);
    rng.fill_bytes(&mut iv);
    Encryption::pbes2_aes256(&salt, iv, iterations)
}

/// Encrypts a PKCS #8 `PrivateKeyInfo` into an `EncryptedPrivateKeyInfo` (DER). `bmp` is the
/// BMPString password that PKCS #12 PBE takes; PBES2 takes the UTF-8 octets of `password`.
pub(crate) fn write(
    encryption: &Encryption,
    password: &Password,
    bmp: &[u8],
    pkcs8: &[u8],
) -> Option<Vec<u8>> {
    let ciphertext = encryption.encrypt(password, bmp, pkcs8)?;
    Some(seq(&[encryption.algorithm_identifier()?, oct(&ciphertext)]))
}

/// Reads an `EncryptedPrivateKeyInfo` (DER) and checks its iteration count against `max_iterations`.
pub(crate) fn read(der: &[u8], max_iterations: u32) -> Result<(Encryption, &[u8]), PfxError> {
    let outer = tlv::read_single(der, tag::SEQUENCE, "EncryptedPrivateKeyInfo")?;
    let mut fields = outer.reader();
    let encryption = Encryption::parse(fields.read("encryptionAlgorithm")?, max_iterations)?;
    let data = fields.read_expected(tag::OCTET_STRING, "encryptedData")?;
    fields.finish("EncryptedPrivateKeyInfo")?;
    Ok((encryption, data.value()))
}

/// Decrypts `ciphertext`, trying each BMPString form of the password for PKCS #12 PBE; `None`
/// when the padding does not check with any of them.
pub(crate) fn decrypt(
    encryption: &Encryption,
    password: &Password,
    ciphertext: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    let forms = password.bmp_forms();
    if !encryption.uses_bmp() {
        let first = forms.first().map_or(&[][..], |f| f.as_slice());
        return encryption.decrypt(password, first, ciphertext);
    }
    forms.iter().find_map(|form| encryption.decrypt(password, form, ciphertext))
}
