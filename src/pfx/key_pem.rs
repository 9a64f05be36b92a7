//! Private keys in PEM and in the pre-PKCS #8 forms OpenSSL still writes.
//!
//! The labels read (RFC 7468 10 and 11, and OpenSSL's "traditional" forms):
//!
//! - `ENCRYPTED PRIVATE KEY`: PKCS #8 `EncryptedPrivateKeyInfo` (RFC 5958 3), needs the password;
//! - `PRIVATE KEY`: PKCS #8 `PrivateKeyInfo` / `OneAsymmetricKey` (RFC 5958 2);
//! - `RSA PRIVATE KEY`: PKCS #1 `RSAPrivateKey`
//!   ([RFC 8017 A.1.2](https://datatracker.ietf.org/doc/html/rfc8017#appendix-A.1.2));
//! - `EC PRIVATE KEY`: SEC1 `ECPrivateKey`
//!   ([RFC 5915 3](https://datatracker.ietf.org/doc/html/rfc5915#section-3)).
//!
//! PKCS #1 and SEC1 keys are wrapped into PKCS #8, the one form certslot keeps. OpenSSL's
//! traditional PEM encryption (`Proc-Type: 4,ENCRYPTED`, an MD5-based key derivation) is refused
//! with a typed error that says how to convert the file.

use const_oid::db::rfc5912;
use zeroize::Zeroizing;

use crate::pfx::encode::{oid, seq, tlv, write_header};
use crate::pfx::kdf::Password;
use crate::pfx::key::PrivateKey;
use crate::pfx::{ImportOptions, KeyError, PfxError};
use crate::x509::pem;
use crate::x509::tlv::{self, tag};

/// The labels of private key blocks, in the order the doc lists them.
const KEY_LABELS: [&str; 4] = ["ENCRYPTED PRIVATE KEY", "PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"];

impl PrivateKey {
    /// Reads a private key from PEM text: `ENCRYPTED PRIVATE KEY` (with `password`),
    /// `PRIVATE KEY`, `RSA PRIVATE KEY` (PKCS #1) or `EC PRIVATE KEY` (SEC1), with the default
    /// iteration limit. Other blocks (certificates, `EC PARAMETERS`) are skipped; the password is
    /// ignored for an unencrypted key.
    ///
    /// ```
    /// use certslot::{PrivateKey, x509::KeyAlgorithm};
    ///
    /// let text = include_bytes!("../../tests/data/keys/openssl-rsa2048-pkcs1.pem");
    /// let key = PrivateKey::from_pem(text, None)?;
    /// assert_eq!((key.algorithm(), key.bits()), (KeyAlgorithm::Rsa, Some(2048)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`PrivateKey::from_pem_with`].
    pub fn from_pem(text: &[u8], password: Option<&Password>) -> Result<Self, KeyError> {
        Self::from_pem_with(text, password, ImportOptions::default())
    }

    /// Reads a private key from PEM text, as [`PrivateKey::from_pem`]; of `options`, only
    /// [`ImportOptions::max_iterations`] applies.
    ///
    /// # Errors
    /// [`KeyError::NoPrivateKey`] when no block has a private key label,
    /// [`KeyError::SeveralPrivateKeys`] when more than one has, [`KeyError::PasswordRequired`]
    /// for an encrypted key without a password, [`KeyError::LegacyPemEncryption`] for OpenSSL's
    /// traditional encryption, [`KeyError::Corrupt`] for bad PEM or DER, and the errors of
    /// [`PrivateKey::from_encrypted_pkcs8_der_with`], [`PrivateKey::from_pkcs1_der`] and
    /// [`PrivateKey::from_sec1_der`].
    pub fn from_pem_with(
        text: &[u8],
        password: Option<&Password>,
        options: ImportOptions,
    ) -> Result<Self, KeyError> {
        let blocks = pem::blocks(text)?;
        let mut keys = blocks.iter().filter(|b| KEY_LABELS.contains(&b.label()));
        let (Some(block), None) = (keys.next(), keys.next()) else {
            let labels: Vec<String> = blocks.iter().map(|b| b.label().to_owned()).collect();
            let key_labels: Vec<String> =
                labels.iter().filter(|l| KEY_LABELS.contains(&l.as_str())).cloned().collect();
            return Err(if key_labels.is_empty() {
                KeyError::NoPrivateKey { labels }
            } else {
                KeyError::SeveralPrivateKeys { labels: key_labels }
            });
        };
        if let Some(dek_info) = legacy_encryption(block.body()) {
            return Err(KeyError::LegacyPemEncryption { label: block.label().to_owned(), dek_info });
        }
        let der = Zeroizing::new(pem::decode_body(block.body())?);
        match block.label() {
            "ENCRYPTED PRIVATE KEY" => {
                let password =
                    password.ok_or_else(|| KeyError::PasswordRequired { label: block.label().to_owned() })?;
                Self::from_encrypted_pkcs8_der_with(&der, password, options)
            }
            "RSA PRIVATE KEY" => Self::from_pkcs1_der(&der),
            "EC PRIVATE KEY" => Self::from_sec1_der(&der),
            _ => Self::from_pkcs8_der(&der).map_err(bad_key),
        }
    }

    /// Reads a PKCS #1 `RSAPrivateKey`
    /// ([RFC 8017 A.1.2](https://datatracker.ietf.org/doc/html/rfc8017#appendix-A.1.2)), as
    /// `openssl rsa -traditional` writes it, and wraps it into PKCS #8 (`rsaEncryption` with NULL
    /// parameters, RFC 8017 A.1).
    ///
    /// # Errors
    /// [`KeyError::BadPrivateKey`] when the structure does not decode.
    pub fn from_pkcs1_der(der: &[u8]) -> Result<Self, KeyError> {
        tlv::read_single(der, tag::SEQUENCE, "RSAPrivateKey")
            .map_err(|_| KeyError::BadPrivateKey { what: "RSAPrivateKey" })?;
        let algorithm = seq(&[oid(&rfc5912::RSA_ENCRYPTION), tlv(tag::NULL, &[])]);
        Self::from_pkcs8_der(&wrap(&algorithm, der)).map_err(bad_key)
    }

    /// Reads a SEC1 `ECPrivateKey`
    /// ([RFC 5915 3](https://datatracker.ietf.org/doc/html/rfc5915#section-3)), as `openssl ec`
    /// writes it, and wraps it into PKCS #8 (`id-ecPublicKey` with the key's own `parameters`,
    /// RFC 5915 4 and RFC 5480 2.1.1).
    ///
    /// ```text
    /// ECPrivateKey ::= SEQUENCE {
    ///   version        INTEGER { ecPrivkeyVer1(1) } (ecPrivkeyVer1),
    ///   privateKey     OCTET STRING,
    ///   parameters [0] ECParameters {{ NamedCurve }} OPTIONAL,
    ///   publicKey  [1] BIT STRING OPTIONAL }
    /// ```
    ///
    /// # Errors
    /// [`KeyError::BadPrivateKey`] when the structure does not decode or names no curve (the
    /// parameters are optional in SEC1, but without them nothing says which curve the key is on).
    pub fn from_sec1_der(der: &[u8]) -> Result<Self, KeyError> {
        let bad = |what| KeyError::BadPrivateKey { what };
        let outer = tlv::read_single(der, tag::SEQUENCE, "ECPrivateKey").map_err(|_| bad("ECPrivateKey"))?;
        let mut fields = outer.reader();
        fields.read_expected(tag::INTEGER, "version").map_err(|_| bad("version"))?;
        fields.read_expected(tag::OCTET_STRING, "privateKey").map_err(|_| bad("privateKey"))?;
        let parameters = fields.read_optional(0xA0, "parameters").map_err(|_| bad("parameters"))?;
        let parameters = parameters.ok_or(bad("ECParameters"))?;
        let algorithm = seq(&[oid(&rfc5912::ID_EC_PUBLIC_KEY), parameters.value().to_vec()]);
        Self::from_pkcs8_der(&wrap(&algorithm, der)).map_err(bad_key)
    }
}

/// The `DEK-Info` value of a block with RFC 1421 encryption headers (`Proc-Type: 4,ENCRYPTED`),
/// as OpenSSL's traditional encrypted keys have; `None` for a plain block.
fn legacy_encryption(body: &[(usize, &[u8])]) -> Option<String> {
    let header = |name: &str| {
        body.iter().find_map(|(_, line)| {
            let text = String::from_utf8_lossy(line);
            let (key, value) = text.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
        })
    };
    let proc_type = header("Proc-Type")?;
    proc_type.to_ascii_uppercase().contains("ENCRYPTED").then(|| header("DEK-Info").unwrap_or_default())
}

/// A PKCS #8 `PrivateKeyInfo` (version 0) around an inner key, built in one buffer of its final
/// size so no copy of the key is left behind in freed memory.
fn wrap(algorithm: &[u8], private_key: &[u8]) -> Zeroizing<Vec<u8>> {
    let version = [tag::INTEGER, 1, 0];
    let mut octet_header = Vec::with_capacity(6);
    write_header(&mut octet_header, tag::OCTET_STRING, private_key.len());
    let content = version.len() + algorithm.len() + octet_header.len() + private_key.len();
    let mut out = Zeroizing::new(Vec::with_capacity(content + 10));
    write_header(&mut out, tag::SEQUENCE, content);
    out.extend_from_slice(&version);
    out.extend_from_slice(algorithm);
    out.extend_from_slice(&octet_header);
    out.extend_from_slice(private_key);
    out
}

fn bad_key(error: PfxError) -> KeyError {
    crate::pfx::error::key_error(error)
}
