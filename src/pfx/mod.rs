//! Layer 2, PFX (PKCS #12) import and export: a private key with its certificate and chain, from
//! and to password-protected bytes.
//!
//! Uses `x509` below it (certificates, thumbprints, DER walking); nothing above. Its errors
//! ([`PfxError`], [`ExportError`]) live here. This file holds what an import gives ([`Pfx`],
//! [`Protection`], [`SkippedBag`]); the files follow the data: `import` runs an import,
//! `decode` reads the PFX, authenticated safe and bags (BER rewritten to DER by `x509::ber`),
//! `mac` checks the integrity MAC, `decrypt` the encrypted parts, over `kdf`, `digest` (HMAC and
//! PBKDF2 over `x509`'s [`HashAlgorithm`](crate::x509::HashAlgorithm)) and `fast` (the key
//! derivations), which `parallel` runs on several threads; `key` reads and pairs the private
//! key, `encode` and `export` write a PFX.
//!
//! [`Pfx::import`] reads what Windows (CryptoAPI, .NET), OpenSSL 1.x and 3, Java keytool, NSS and
//! Python `cryptography` write: HMAC MACs over SHA-1, SHA-2, SHA-3 and BLAKE2 (every hash of
//! `openssl pkcs12 -export -macalg`) and PBMAC1, or none; PKCS #12 PBE
//! (3DES, 2-key 3DES, RC2-128, RC2-40, RC4-128, RC4-40) and PBES2 (PBKDF2 with AES or 3DES);
//! BER anywhere; certificates, keys and shrouded keys, with friendly names and local key IDs.
//! The MAC and every encrypted part derive their keys independently, so the import runs those
//! derivations on two threads ([`ImportOptions::threads`]).
//!
//! Private keys on their own, for obtaining certificates: `keygen` generates RSA and EC keys,
//! `pkcs8` writes them as PKCS #8 (plain or encrypted, through `epki`, the
//! `EncryptedPrivateKeyInfo` that PFX export shares) and reads encrypted PKCS #8, `key_pem` reads
//! the PEM forms (PKCS #8, PKCS #1, SEC1), `sign` turns a key into a signer for the certificate
//! and request builder. Their errors are [`KeyError`].

mod decode;
mod decrypt;
mod digest;
mod encode;
mod epki;
mod error;
mod export;
mod fast;
mod import;
mod kdf;
mod key;
mod key_pem;
mod keygen;
mod mac;
mod parallel;
mod pkcs8;
mod sign;

use core::fmt;

use const_oid::ObjectIdentifier;

pub use self::decrypt::{EncryptionAlgorithm, Pbes1Cipher, Pbes2Cipher};
pub use self::error::{ExportError, KeyError, PasswordCheck, PfxError};
pub use self::export::{ExportOptions, ExportProfile};
pub use self::import::ImportOptions;
pub use self::kdf::Password;
pub use self::key::PrivateKey;
pub use self::mac::MacAlgorithm;
pub use self::pkcs8::Pkcs8Options;
pub(crate) use self::sign::SignatureBytes;

use crate::x509::cert::Certificate;

/// How a PFX was protected: what an admin checks ("3DES, SHA-1 MAC").
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Protection {
    /// The integrity MAC, `None` when the file has none.
    pub mac: Option<MacAlgorithm>,
    /// How each SafeContents holding certificates was encrypted, in file order, without repeats.
    pub certificates: Vec<EncryptionAlgorithm>,
    /// How the private key was encrypted, `None` when there is no key.
    pub key: Option<EncryptionAlgorithm>,
}

impl fmt::Display for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.key {
            Some(key) => write!(f, "key: {key}; ")?,
            None => f.write_str("no key; ")?,
        }
        if self.certificates.is_empty() {
            f.write_str("no certificates; ")?;
        } else {
            let list: Vec<String> = self.certificates.iter().map(ToString::to_string).collect();
            write!(f, "certificates: {}; ", list.join(", "))?;
        }
        match &self.mac {
            Some(mac) => write!(f, "integrity: {mac}"),
            None => f.write_str("integrity: no MAC"),
        }
    }
}

/// Bags the import did not use, counted by type and reason.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SkippedBag {
    /// The bag type (or certificate type) OID.
    pub bag_type: ObjectIdentifier,
    /// Why they were skipped.
    pub reason: &'static str,
    /// How many.
    pub count: usize,
}

/// The contents of an imported PFX.
#[derive(Clone, Debug)]
pub struct Pfx {
    leaf: Option<Certificate>,
    key: Option<PrivateKey>,
    certificates: Vec<(Certificate, Option<String>)>,
    key_friendly_name: Option<String>,
    protection: Protection,
    skipped: Vec<SkippedBag>,
}

impl Pfx {
    /// Imports a PFX from its bytes.
    ///
    /// The private key is paired with its certificate by `localKeyId`, else by public key, and
    /// must match it (RSA modulus and exponent, EC point). An empty password is tried in both of
    /// its encodings.
    ///
    /// ```
    /// use certslot::{ImportOptions, Password, Pfx};
    ///
    /// let bytes = include_bytes!("../../tests/data/pfx/openssl3-default.pfx");
    /// let pfx = Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default())?;
    /// assert!(pfx.private_key().is_some());
    /// assert_eq!(pfx.protection().to_string(), "key: AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations; \
    ///     certificates: AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations; integrity: SHA-256 MAC, 2048 iterations");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`PfxError`]: a wrong password, a corrupt file, an unsupported algorithm, an iteration count
    /// above the limits, a missing certificate or key (when required), a key that matches no
    /// certificate. No error carries the password or key material.
    pub fn import(bytes: &[u8], password: &Password, options: ImportOptions) -> Result<Self, PfxError> {
        import::import(bytes, password, options)
    }

    /// A PFX made in memory from a certificate, its private key and its chain (what
    /// [`RequestTemplate`](crate::RequestTemplate)'s self-signed certificates and completed
    /// requests give), ready for [`Store::add_pfx`](crate::Store::add_pfx) and [`Pfx::export`].
    /// Its [`Pfx::protection`] is empty: it was read from no file.
    ///
    /// # Errors
    /// [`ExportError::KeyMismatch`] when the key is not the certificate's.
    pub fn from_parts(
        leaf: Certificate,
        key: PrivateKey,
        chain: Vec<Certificate>,
        friendly_name: Option<&str>,
    ) -> Result<Self, ExportError> {
        if key.matches(&leaf) != Some(true) {
            return Err(ExportError::KeyMismatch { thumbprint: leaf.thumbprint() });
        }
        let name = friendly_name.map(str::to_owned);
        let mut certificates = vec![(leaf.clone(), name.clone())];
        certificates.extend(chain.into_iter().filter(|c| *c != leaf).map(|c| (c, None)));
        Ok(Self {
            leaf: Some(leaf),
            key: Some(key),
            certificates,
            key_friendly_name: name,
            protection: Protection { mac: None, certificates: Vec::new(), key: None },
            skipped: Vec::new(),
        })
    }

    /// The certificate that matches the private key; `None` when the file has no key or no
    /// certificate.
    pub fn leaf(&self) -> Option<&Certificate> {
        self.leaf.as_ref()
    }

    /// The private key, if the file has one.
    pub fn private_key(&self) -> Option<&PrivateKey> {
        self.key.as_ref()
    }

    /// Every certificate except the leaf, in file order.
    pub fn chain(&self) -> Vec<&Certificate> {
        self.certificates.iter().map(|(c, _)| c).filter(|c| Some(*c) != self.leaf.as_ref()).collect()
    }

    /// Every certificate, in file order.
    pub fn certificates(&self) -> impl Iterator<Item = &Certificate> {
        self.certificates.iter().map(|(c, _)| c)
    }

    /// The friendly name of a certificate of this file (Windows' "Friendly Name").
    pub fn friendly_name(&self, cert: &Certificate) -> Option<&str> {
        self.certificates.iter().find(|(c, _)| c == cert).and_then(|(_, n)| n.as_deref())
    }

    /// The friendly name of the private key's bag.
    pub fn key_friendly_name(&self) -> Option<&str> {
        self.key_friendly_name.as_deref()
    }

    /// How the file was protected.
    pub fn protection(&self) -> &Protection {
        &self.protection
    }

    /// Bags that were not used (CRLs, secrets, unknown types), counted by type and reason, in
    /// the order first met.
    pub fn skipped(&self) -> &[SkippedBag] {
        &self.skipped
    }

    /// Consumes the import, returning the leaf, the key and the chain.
    pub fn into_parts(self) -> (Option<Certificate>, Option<PrivateKey>, Vec<Certificate>) {
        let leaf = self.leaf;
        let chain =
            self.certificates.into_iter().map(|(c, _)| c).filter(|c| Some(c) != leaf.as_ref()).collect();
        (leaf, self.key, chain)
    }
}
