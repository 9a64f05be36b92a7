//! The encryption schemes of PFX contents and shrouded keys.
//!
//! ```text
//! pkcs-12PbeParams ::= SEQUENCE { salt OCTET STRING, iterations INTEGER }
//! ```
//! PKCS #12 PBE ([RFC 7292 appendix C](https://datatracker.ietf.org/doc/html/rfc7292#appendix-C)):
//! key and IV from the appendix B KDF over SHA-1 and the BMPString password, then 3DES, 2-key
//! 3DES, RC2 (128 or 40 effective bits) in CBC mode or RC4. PBES2
//! ([RFC 8018 6.2](https://datatracker.ietf.org/doc/html/rfc8018#section-6.2)) is read and run by
//! the `pkcs5` crate once certslot has checked its iteration count and refused scrypt (whose
//! memory a hostile file could set).

use core::fmt;

use cipher::block_padding::Pkcs7;
use cipher::{BlockModeDecrypt, BlockModeEncrypt as _, InnerIvInit, KeyInit, KeyIvInit, StreamCipher};
use const_oid::ObjectIdentifier;
use const_oid::db::rfc5911;
use der::Decode as _;
// `id-PBES2` (RFC 8018 A.4) is the `pkcs5` crate's: const-oid's db lacks it.
use pkcs5::pbes2::PBES2_OID;
use zeroize::Zeroizing;

use crate::pfx::PfxError;
use crate::pfx::digest::output_len;
use crate::pfx::kdf::{self, Password, Purpose};
use crate::pfx::mac::{self, oid_of};
use crate::x509::ParseError;
use crate::x509::algorithm::HashAlgorithm;
use crate::x509::tlv::{self, Tlv, tag};

/// A PKCS #12 PBE cipher (RFC 7292 appendix C).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pbes1Cipher {
    /// `pbeWithSHAAnd128BitRC4`.
    Rc4_128,
    /// `pbeWithSHAAnd40BitRC4`.
    Rc4_40,
    /// `pbeWithSHAAnd3-KeyTripleDES-CBC`: what Windows and `openssl -legacy` use for keys.
    TripleDes3Key,
    /// `pbeWithSHAAnd2-KeyTripleDES-CBC`.
    TripleDes2Key,
    /// `pbeWithSHAAnd128BitRC2-CBC`.
    Rc2_128,
    /// `pbeWithSHAAnd40BitRC2-CBC`: what Windows and `openssl -legacy` use for certificates.
    Rc2_40,
}

const PBES1_TABLE: [(ObjectIdentifier, Pbes1Cipher, usize, usize); 6] = [
    (pkcs12::PKCS_12_PBE_WITH_SHAAND128_BIT_RC4, Pbes1Cipher::Rc4_128, 16, 0),
    (pkcs12::PKCS_12_PBE_WITH_SHAAND40_BIT_RC4, Pbes1Cipher::Rc4_40, 5, 0),
    (pkcs12::PKCS_12_PBE_WITH_SHAAND3_KEY_TRIPLE_DES_CBC, Pbes1Cipher::TripleDes3Key, 24, 8),
    (pkcs12::PKCS_12_PBE_WITH_SHAAND2_KEY_TRIPLE_DES_CBC, Pbes1Cipher::TripleDes2Key, 16, 8),
    (pkcs12::PKCS_12_PBE_WITH_SHAAND128_BIT_RC2_CBC, Pbes1Cipher::Rc2_128, 16, 8),
    (pkcs12::PKCS_12_PBEWITH_SHAAND40_BIT_RC2_CBC, Pbes1Cipher::Rc2_40, 5, 8),
];

impl Pbes1Cipher {
    fn entry(self) -> (ObjectIdentifier, usize, usize) {
        PBES1_TABLE.iter().find(|e| e.1 == self).map_or((PBES2_OID, 0, 0), |e| (e.0, e.2, e.3))
    }

    /// The algorithm's OID.
    pub fn oid(self) -> ObjectIdentifier {
        self.entry().0
    }
}

impl fmt::Display for Pbes1Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Rc4_128 => "RC4-128",
            Self::Rc4_40 => "RC4-40",
            Self::TripleDes3Key => "3DES",
            Self::TripleDes2Key => "2-key 3DES",
            Self::Rc2_128 => "RC2-128",
            Self::Rc2_40 => "RC2-40",
        })
    }
}

/// A PBES2 cipher.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pbes2Cipher {
    /// AES-128-CBC.
    Aes128Cbc,
    /// AES-192-CBC.
    Aes192Cbc,
    /// AES-256-CBC: OpenSSL 3's default.
    Aes256Cbc,
    /// AES-128-GCM.
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// DES-EDE3-CBC.
    DesEde3Cbc,
}

impl fmt::Display for Pbes2Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Aes128Cbc => "AES-128-CBC",
            Self::Aes192Cbc => "AES-192-CBC",
            Self::Aes256Cbc => "AES-256-CBC",
            Self::Aes128Gcm => "AES-128-GCM",
            Self::Aes256Gcm => "AES-256-GCM",
            Self::DesEde3Cbc => "DES-EDE3-CBC",
        })
    }
}

/// How one part of a PFX (a SafeContents or a shrouded key) is encrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncryptionAlgorithm {
    /// Not encrypted.
    None,
    /// PKCS #12 PBE (RFC 7292 appendix C).
    Pbes1 {
        /// The cipher.
        cipher: Pbes1Cipher,
        /// KDF iterations.
        iterations: u32,
    },
    /// PBES2 with PBKDF2 (RFC 8018).
    Pbes2 {
        /// The cipher.
        cipher: Pbes2Cipher,
        /// PBKDF2's HMAC hash.
        prf: HashAlgorithm,
        /// PBKDF2 iterations.
        iterations: u32,
    },
}

impl fmt::Display for EncryptionAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("not encrypted"),
            Self::Pbes1 { cipher, iterations } => {
                write!(f, "{cipher} (PKCS #12 PBE), {iterations} iterations")
            }
            Self::Pbes2 { cipher, prf, iterations } => {
                write!(f, "{cipher}, PBKDF2-HMAC-{prf}, {iterations} iterations")
            }
        }
    }
}

/// A parsed encryption algorithm with its parameters, ready to decrypt.
#[derive(Clone)]
pub(crate) struct Encryption {
    pub(super) algorithm: EncryptionAlgorithm,
    params: Params,
}

#[derive(Clone)]
enum Params {
    Pbes1 { salt: Vec<u8> },
    Pbes2(Box<pkcs5::pbes2::Parameters>),
}

impl Encryption {
    /// Reads an encryption `AlgorithmIdentifier` and checks its iteration count.
    pub(crate) fn parse(alg: Tlv<'_>, max_iterations: u32) -> Result<Self, PfxError> {
        let mut fields = alg.expect(tag::SEQUENCE, "AlgorithmIdentifier")?.reader();
        let oid = oid_of(&fields.read_expected(tag::OID, "algorithm")?)?;
        let params = fields.read("parameters")?;
        if let Some((_, cipher, _, _)) = PBES1_TABLE.iter().find(|e| e.0 == oid) {
            let mut p = params.expect(tag::SEQUENCE, "pkcs-12PbeParams")?.reader();
            let salt = p.read_expected(tag::OCTET_STRING, "salt")?;
            let iterations = p.read_expected(tag::INTEGER, "iterations")?;
            let iterations = tlv::small_uint(iterations.value())
                .filter(|n| *n > 0)
                .ok_or(ParseError::Malformed { offset: iterations.offset(), what: "iterations" })?;
            let iterations = u32::try_from(iterations).ok().filter(|n| *n <= max_iterations).ok_or(
                PfxError::TooManyIterations { context: "PKCS #12 PBE", iterations, max: max_iterations },
            )?;
            return Ok(Self {
                algorithm: EncryptionAlgorithm::Pbes1 { cipher: *cipher, iterations },
                params: Params::Pbes1 { salt: salt.value().to_vec() },
            });
        }
        if oid != PBES2_OID {
            return Err(PfxError::UnsupportedAlgorithm { context: "encryption", oid });
        }
        // PBES2-params ::= SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }
        let mut p = params.expect(tag::SEQUENCE, "PBES2-params")?.reader();
        let kdf = p.read_expected(tag::SEQUENCE, "keyDerivationFunc")?;
        let scheme = p.read_expected(tag::SEQUENCE, "encryptionScheme")?;
        let mut kdf_fields = kdf.reader();
        let kdf_oid = oid_of(&kdf_fields.read_expected(tag::OID, "keyDerivationFunc")?)?;
        if kdf_oid != rfc5911::ID_PBKDF_2 {
            return Err(PfxError::UnsupportedAlgorithm { context: "PBES2 key derivation", oid: kdf_oid });
        }
        let (_, iterations, _, prf) = mac::parse_pbkdf2_params(
            kdf_fields.read_expected(tag::SEQUENCE, "PBKDF2-params")?,
            "PBES2",
            max_iterations,
        )?;
        let scheme_oid = oid_of(&scheme.reader().read_expected(tag::OID, "encryptionScheme")?)?;
        let parsed = pkcs5::pbes2::Parameters::from_der(params.raw())
            .map_err(|_| PfxError::UnsupportedAlgorithm { context: "PBES2 encryption", oid: scheme_oid })?;
        use pkcs5::pbes2::EncryptionScheme as S;
        let cipher = match parsed.encryption {
            S::Aes128Cbc { .. } => Pbes2Cipher::Aes128Cbc,
            S::Aes192Cbc { .. } => Pbes2Cipher::Aes192Cbc,
            S::Aes256Cbc { .. } => Pbes2Cipher::Aes256Cbc,
            S::Aes128Gcm { .. } => Pbes2Cipher::Aes128Gcm,
            S::Aes256Gcm { .. } => Pbes2Cipher::Aes256Gcm,
            S::DesEde3Cbc { .. } => Pbes2Cipher::DesEde3Cbc,
            _ => return Err(PfxError::UnsupportedAlgorithm { context: "PBES2 encryption", oid: scheme_oid }),
        };
        Ok(Self {
            algorithm: EncryptionAlgorithm::Pbes2 { cipher, prf, iterations },
            params: Params::Pbes2(Box::new(parsed)),
        })
    }

    /// The iterations this decryption costs, counting each KDF output block (for scheduling and
    /// the import's total-work limit).
    pub(crate) fn work(&self) -> u64 {
        match self.algorithm {
            EncryptionAlgorithm::None => 0,
            EncryptionAlgorithm::Pbes1 { cipher, iterations } => {
                let (_, key_len, iv_len) = cipher.entry();
                // SHA-1 gives 20 octets a block.
                (key_len.div_ceil(20) + iv_len.div_ceil(20)) as u64 * u64::from(iterations)
            }
            EncryptionAlgorithm::Pbes2 { iterations, .. } => u64::from(iterations),
        }
    }

    /// The hash compressions this decryption costs, for balancing work between threads: a PKCS #12
    /// KDF chain costs one a round; PBKDF2 two a round (HMAC's inner and outer hash) for each
    /// output block.
    pub(crate) fn cost(&self) -> u64 {
        match (&self.params, self.algorithm) {
            (Params::Pbes2(params), EncryptionAlgorithm::Pbes2 { prf, iterations, .. }) => {
                let blocks = params.encryption.key_size().div_ceil(output_len(prf)) as u64;
                2 * blocks * u64::from(iterations)
            }
            _ => self.work(),
        }
    }

    /// True when the scheme takes the BMPString password (PBES1), false for UTF-8 (PBES2).
    pub(crate) fn uses_bmp(&self) -> bool {
        matches!(self.params, Params::Pbes1 { .. })
    }

    /// Decrypts `ciphertext`; `None` when the padding is wrong (a wrong password, most likely).
    pub(crate) fn decrypt(
        &self,
        password: &Password,
        bmp: &[u8],
        ciphertext: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        let mut buf = Zeroizing::new(ciphertext.to_vec());
        let len = match (&self.params, self.algorithm) {
            (Params::Pbes1 { salt }, EncryptionAlgorithm::Pbes1 { cipher, iterations }) => {
                let (_, key_len, iv_len) = cipher.entry();
                let key = kdf::derive_with(HashAlgorithm::Sha1, bmp, salt, Purpose::Key, iterations, key_len);
                let iv = kdf::derive_with(HashAlgorithm::Sha1, bmp, salt, Purpose::Iv, iterations, iv_len);
                pbes1_decrypt(cipher, &key, &iv, &mut buf)?
            }
            (Params::Pbes2(params), EncryptionAlgorithm::Pbes2 { prf, iterations, .. }) => {
                match pbes2_decrypt(params, prf, iterations, password.utf8(), &mut buf) {
                    Some(len) => len?,
                    None => params.decrypt_in_place(password.utf8(), &mut buf).ok()?.len(),
                }
            }
            _ => return None,
        };
        buf.truncate(len);
        Some(buf)
    }

    /// Encrypts `plaintext` (for export).
    pub(crate) fn encrypt(&self, password: &Password, bmp: &[u8], plaintext: &[u8]) -> Option<Vec<u8>> {
        match (&self.params, self.algorithm) {
            (
                Params::Pbes1 { salt },
                EncryptionAlgorithm::Pbes1 { cipher: Pbes1Cipher::TripleDes3Key, iterations },
            ) => {
                let key = kdf::derive_with(HashAlgorithm::Sha1, bmp, salt, Purpose::Key, iterations, 24);
                let iv = kdf::derive_with(HashAlgorithm::Sha1, bmp, salt, Purpose::Iv, iterations, 8);
                let enc = cbc::Encryptor::<des::TdesEde3>::new_from_slices(&key, &iv).ok()?;
                Some(enc.encrypt_padded_vec::<Pkcs7>(plaintext))
            }
            (Params::Pbes2(params), _) => params.encrypt(password.utf8(), plaintext).ok(),
            _ => None,
        }
    }

    /// The DER `AlgorithmIdentifier` of this scheme (for export).
    pub(crate) fn algorithm_identifier(&self) -> Option<Vec<u8>> {
        use crate::pfx::encode::{int, oct, oid, seq};
        match (&self.params, self.algorithm) {
            (Params::Pbes1 { salt }, EncryptionAlgorithm::Pbes1 { cipher, iterations }) => {
                Some(seq(&[oid(&cipher.oid()), seq(&[oct(salt), int(u64::from(iterations))])]))
            }
            (Params::Pbes2(params), _) => {
                let params = der::Encode::to_der(params.as_ref()).ok()?;
                Some(seq(&[oid(&PBES2_OID), params]))
            }
            _ => None,
        }
    }

    /// PBES2 with PBKDF2-HMAC-SHA256 and AES-256-CBC (for export).
    pub(crate) fn pbes2_aes256(salt: &[u8], iv: [u8; 16], iterations: u32) -> Option<Self> {
        let kdf = pkcs5::pbes2::Pbkdf2Params::hmac_sha256(iterations, salt).ok()?;
        let params = pkcs5::pbes2::Parameters {
            kdf: kdf.into(),
            encryption: pkcs5::pbes2::EncryptionScheme::Aes256Cbc { iv },
        };
        Some(Self {
            algorithm: EncryptionAlgorithm::Pbes2 {
                cipher: Pbes2Cipher::Aes256Cbc,
                prf: HashAlgorithm::Sha256,
                iterations,
            },
            params: Params::Pbes2(Box::new(params)),
        })
    }

    /// PKCS #12 PBE with SHA-1 and 3-key 3DES (for export).
    pub(crate) fn pbes1_3des(salt: &[u8], iterations: u32) -> Self {
        Self {
            algorithm: EncryptionAlgorithm::Pbes1 { cipher: Pbes1Cipher::TripleDes3Key, iterations },
            params: Params::Pbes1 { salt: salt.to_vec() },
        }
    }
}

/// PBES2 with PBKDF2 over SHA-1 or SHA-256 and a CBC cipher, with the key from `fast`:
/// `Some(Some(len))` decrypted, `Some(None)` wrong padding, `None` when another path must run it.
fn pbes2_decrypt(
    params: &pkcs5::pbes2::Parameters,
    prf: HashAlgorithm,
    iterations: u32,
    password: &[u8],
    buf: &mut [u8],
) -> Option<Option<usize>> {
    use pkcs5::pbes2::EncryptionScheme as S;
    if !matches!(prf, HashAlgorithm::Sha1 | HashAlgorithm::Sha256) {
        return None;
    }
    let salt = params.kdf.pbkdf2()?.salt.as_bytes();
    let mut key = Zeroizing::new(vec![0u8; params.encryption.key_size()]);
    if params.kdf.key_length().is_some_and(|l| usize::from(l) != key.len()) {
        return None;
    }
    let unpad = |r: Result<&[u8], cipher::block_padding::Error>| r.ok().map(<[u8]>::len);
    Some(match params.encryption {
        S::Aes128Cbc { iv } => {
            crate::pfx::digest::pbkdf2(prf, password, salt, iterations, &mut key);
            unpad(
                cbc::Decryptor::<aes::Aes128>::new_from_slices(&key, &iv).ok()?.decrypt_padded::<Pkcs7>(buf),
            )
        }
        S::Aes192Cbc { iv } => {
            crate::pfx::digest::pbkdf2(prf, password, salt, iterations, &mut key);
            unpad(
                cbc::Decryptor::<aes::Aes192>::new_from_slices(&key, &iv).ok()?.decrypt_padded::<Pkcs7>(buf),
            )
        }
        S::Aes256Cbc { iv } => {
            crate::pfx::digest::pbkdf2(prf, password, salt, iterations, &mut key);
            unpad(
                cbc::Decryptor::<aes::Aes256>::new_from_slices(&key, &iv).ok()?.decrypt_padded::<Pkcs7>(buf),
            )
        }
        S::DesEde3Cbc { iv } => {
            crate::pfx::digest::pbkdf2(prf, password, salt, iterations, &mut key);
            unpad(
                cbc::Decryptor::<des::TdesEde3>::new_from_slices(&key, &iv)
                    .ok()?
                    .decrypt_padded::<Pkcs7>(buf),
            )
        }
        _ => return None,
    })
}

/// Runs one PBES1 cipher in place; returns the plaintext length.
fn pbes1_decrypt(cipher: Pbes1Cipher, key: &[u8], iv: &[u8], buf: &mut [u8]) -> Option<usize> {
    match cipher {
        Pbes1Cipher::TripleDes3Key => cbc::Decryptor::<des::TdesEde3>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded::<Pkcs7>(buf)
            .ok()
            .map(<[u8]>::len),
        Pbes1Cipher::TripleDes2Key => cbc::Decryptor::<des::TdesEde2>::new_from_slices(key, iv)
            .ok()?
            .decrypt_padded::<Pkcs7>(buf)
            .ok()
            .map(<[u8]>::len),
        Pbes1Cipher::Rc2_128 | Pbes1Cipher::Rc2_40 => {
            let rc2 = rc2::Rc2::new_with_eff_key_len(key, key.len() * 8);
            cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(rc2, iv)
                .ok()?
                .decrypt_padded::<Pkcs7>(buf)
                .ok()
                .map(<[u8]>::len)
        }
        Pbes1Cipher::Rc4_128 | Pbes1Cipher::Rc4_40 => {
            let mut rc4 = rc4::Rc4::new_from_slice(key).ok()?;
            rc4.apply_keystream(buf);
            Some(buf.len())
        }
    }
}
