//! Writing a PFX: the certificate, its chain and its private key, for the seed's "export with
//! the private key, import on every other front-end".
//!
//! The layout is OpenSSL's: an EncryptedData holding the certificate bags (leaf first), then a
//! Data holding the shrouded key bag; leaf and key share a `localKeyId` (the leaf's SHA-1
//! thumbprint) and the friendly name; an HMAC over the AuthenticatedSafe with the RFC 7292 KDF.

use const_oid::db::{rfc2985, rfc5911};

use crate::pfx::ExportError;
use crate::pfx::Pfx;
use crate::pfx::decrypt::Encryption;
use crate::pfx::encode::{bmp_string, explicit, int, oct, oid, seq, set_of, tlv};
use crate::pfx::epki;
use crate::pfx::kdf::Password;
use crate::pfx::key::PrivateKey;
use crate::pfx::mac;
use crate::x509::algorithm::HashAlgorithm;
use crate::x509::cert::Certificate;

/// The algorithms of an exported PFX.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ExportProfile {
    /// AES-256-CBC with PBKDF2-HMAC-SHA256 for key and certificates, SHA-256 MAC: OpenSSL 3's
    /// default, read by OpenSSL 1.1.1+, Java 8u301+ and Windows Server 2019+.
    #[default]
    Aes256Sha256,
    /// PKCS #12 PBE with 3-key 3DES for key and certificates, SHA-1 MAC: for older Windows
    /// (Server 2016 and before, where Lync Server 2013 runs).
    Legacy3DesSha1,
}

/// Options of [`Pfx::export`].
///
/// ```
/// use certslot::{ExportOptions, pfx::ExportProfile};
///
/// let options = ExportOptions::default().profile(ExportProfile::Legacy3DesSha1).iterations(2000)?;
/// assert_eq!(options.iteration_count(), 2000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ExportOptions {
    profile: ExportProfile,
    iterations: u32,
    friendly_name: Option<String>,
}

impl Default for ExportOptions {
    fn default() -> Self {
        Self { profile: ExportProfile::default(), iterations: Self::DEFAULT_ITERATIONS, friendly_name: None }
    }
}

impl ExportOptions {
    /// The default iteration count of every key derivation: 2048, as OpenSSL writes.
    pub const DEFAULT_ITERATIONS: u32 = 2048;

    /// Sets the algorithms.
    pub fn profile(self, profile: ExportProfile) -> Self {
        Self { profile, ..self }
    }

    /// Sets the iteration count of every key derivation (the MAC's and each encryption's).
    ///
    /// # Errors
    /// [`ExportError::InvalidIterations`] outside 1..=10,000,000.
    pub fn iterations(self, iterations: u32) -> Result<Self, ExportError> {
        if !(1..=10_000_000).contains(&iterations) {
            return Err(ExportError::InvalidIterations { iterations });
        }
        Ok(Self { iterations, ..self })
    }

    /// Sets the friendly name of the leaf and key bags (Windows shows it in the certificate store).
    pub fn friendly_name(self, name: impl Into<String>) -> Self {
        Self { friendly_name: Some(name.into()), ..self }
    }

    /// The iteration count.
    pub fn iteration_count(&self) -> u32 {
        self.iterations
    }
}

impl Pfx {
    /// Writes a PFX with `leaf`, its private key and `chain` (in order), protected by `password`.
    ///
    /// Salts and IVs come from `rng`; certslot has no randomness of its own.
    ///
    /// # Errors
    /// [`ExportError::KeyMismatch`] when the key does not belong to the leaf, and
    /// [`ExportError::Encryption`] when a cipher refuses its input.
    pub fn export(
        leaf: &Certificate,
        key: &PrivateKey,
        chain: &[Certificate],
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Vec<u8>, ExportError> {
        if key.matches(leaf) == Some(false) {
            return Err(ExportError::KeyMismatch { thumbprint: leaf.thumbprint() });
        }
        let iterations = options.iterations;
        let bmp = password.bmp_forms().into_iter().next().unwrap_or_default();
        let encryption = |rng: &mut dyn rand_core::CryptoRng| -> Option<Encryption> {
            match options.profile {
                ExportProfile::Aes256Sha256 => epki::pbes2_aes256(iterations, rng),
                ExportProfile::Legacy3DesSha1 => {
                    let mut salt = [0u8; 8];
                    rng.fill_bytes(&mut salt);
                    Some(Encryption::pbes1_3des(&salt, iterations))
                }
            }
        };

        // Attributes shared by the leaf and the key (RFC 7292 4.2: SET OF PKCS12Attribute).
        let local_key_id = leaf.thumbprint().as_bytes().to_vec();
        let mut attrs = vec![seq(&[oid(&rfc2985::PKCS_9_AT_LOCAL_KEY_ID), set_of(&[oct(&local_key_id)])])];
        if let Some(name) = &options.friendly_name {
            attrs.push(seq(&[oid(&rfc2985::PKCS_9_AT_FRIENDLY_NAME), set_of(&[bmp_string(name)])]));
        }
        let attrs = set_of(&attrs);

        // Certificates: an EncryptedData over SafeContents of CertBags.
        let cert_bag = |cert: &Certificate, with_attrs: bool| {
            let bag_value = seq(&[oid(&pkcs12::PKCS_12_X509_CERT_OID), explicit(0, &oct(cert.der()))]);
            let mut fields = vec![oid(&pkcs12::PKCS_12_CERT_BAG_OID), explicit(0, &bag_value)];
            if with_attrs {
                fields.push(attrs.clone());
            }
            seq(&fields)
        };
        let mut cert_bags = vec![cert_bag(leaf, true)];
        cert_bags.extend(chain.iter().map(|c| cert_bag(c, false)));
        let cert_contents = seq(&cert_bags);
        let cert_encryption = encryption(rng).ok_or(ExportError::Encryption)?;
        let ciphertext =
            cert_encryption.encrypt(password, &bmp, &cert_contents).ok_or(ExportError::Encryption)?;
        let cert_alg = cert_encryption.algorithm_identifier().ok_or(ExportError::Encryption)?;
        let encrypted_data = seq(&[int(0), seq(&[oid(&rfc5911::ID_DATA), cert_alg, tlv(0x80, &ciphertext)])]);
        let certs_ci = seq(&[oid(&rfc5911::ID_ENCRYPTED_DATA), explicit(0, &encrypted_data)]);

        // The key: a Data over SafeContents with one pkcs8ShroudedKeyBag.
        let key_encryption = encryption(rng).ok_or(ExportError::Encryption)?;
        let epki =
            epki::write(&key_encryption, password, &bmp, key.pkcs8_der()).ok_or(ExportError::Encryption)?;
        let key_bag = seq(&[oid(&pkcs12::PKCS_12_PKCS8_KEY_BAG_OID), explicit(0, &epki), attrs.clone()]);
        let key_ci = seq(&[oid(&rfc5911::ID_DATA), explicit(0, &oct(&seq(&[key_bag])))]);

        let auth_safe = seq(&[certs_ci, key_ci]);
        let digest = match options.profile {
            ExportProfile::Aes256Sha256 => HashAlgorithm::Sha256,
            ExportProfile::Legacy3DesSha1 => HashAlgorithm::Sha1,
        };
        let mut mac_salt = [0u8; 16];
        rng.fill_bytes(&mut mac_salt);
        let mac_value = mac::compute_pkcs12(digest, &bmp, &mac_salt, iterations, &auth_safe);
        let mac_data = seq(&[
            seq(&[seq(&[oid(&digest.oid()), tlv(0x05, &[])]), oct(&mac_value)]),
            oct(&mac_salt),
            int(u64::from(iterations)),
        ]);
        Ok(seq(&[int(3), seq(&[oid(&rfc5911::ID_DATA), explicit(0, &oct(&auth_safe))]), mac_data]))
    }
}
