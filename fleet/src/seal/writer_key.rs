//! The keys of the state's writers (admins and coordinators), all derived from the fleet
//! password and the cluster's name, so that whoever holds the password computes the same ones
//! and nobody else can:
//!
//! - the state's MAC key: HMAC-SHA256 over the state value, so a value written by anyone
//!   without the password (root in etcd, a restored backup of another cluster) is refused whole;
//! - the writer's signing key (ECDSA P-256, RFC 6979 signatures): it signs every delivery, and
//!   each agent pins its public key ([`WriterPublicKey`]) at enrolment, so an agent accepts
//!   deliveries only from a writer, without ever holding the password;
//! - the digest key: a keyed digest of what each server was handed, kept in the state, so a
//!   writer re-seals only the deliveries whose contents changed without revealing them;
//! - the secrets key: ChaCha20-Poly1305 over the few secrets the state keeps beside its private
//!   keys (an ACME account's key, an external account binding's or a TSIG key), each bound to
//!   its label (what it is the secret of) as associated data, under a random nonce.
//!
//! Derivation: PBKDF2-HMAC-SHA256 (the library's [`Password::derive_key`]) over
//! `certslot fleet keys v1`, a zero octet and the cluster name, [`WriterKeys::ROUNDS`] rounds
//! (OWASP's 2023 figure for PBKDF2-HMAC-SHA256), then HKDF-SHA256 (RFC 5869) expands it into the four keys.
//! The rounds are the price of a guess at the password against a signature or a MAC read from
//! etcd; they are paid once per process, on a blocking thread.

use core::fmt;

use base64ct::{Base64, Base64Unpadded, Encoding as _};
use certslot::Password;
use hmac::{KeyInit as _, Mac as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The public key's text prefix.
const PUBLIC_PREFIX: &str = "p256:";

/// A sealed secret's text prefix.
const SECRET_PREFIX: &str = "c20p1305:";

type HmacSha256 = hmac::Hmac<Sha256>;

/// The writers' keys. Zeroized on drop; `Debug` shows the public key's fingerprint only.
#[derive(Clone)]
pub struct WriterKeys {
    mac: Zeroizing<[u8; 32]>,
    digest: Zeroizing<[u8; 32]>,
    secrets: Zeroizing<[u8; 32]>,
    signing: SigningKey,
    public: WriterPublicKey,
}

impl fmt::Debug for WriterKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriterKeys").field("public", &self.public.fingerprint()).finish_non_exhaustive()
    }
}

/// The writers' public key: what an agent pins to accept deliveries.
///
/// As text, `p256:` and the Base64 of the compressed SEC 1 point (33 bytes).
#[derive(Clone, PartialEq, Eq)]
pub struct WriterPublicKey(VerifyingKey);

impl fmt::Debug for WriterPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WriterPublicKey({})", self.fingerprint())
    }
}

impl fmt::Display for WriterPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", Base64::encode_string(self.0.to_sec1_point(true).as_bytes()))
    }
}

/// A writer public key's text is not `p256:` and the Base64 of a P-256 point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not a writer public key (expected p256: and the Base64 of a compressed P-256 point)")]
pub struct BadWriterKey;

impl core::str::FromStr for WriterPublicKey {
    type Err = BadWriterKey;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let body = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or(BadWriterKey)?;
        let bytes = Base64::decode_vec(body).map_err(|_| BadWriterKey)?;
        VerifyingKey::from_sec1_bytes(&bytes).map(Self).map_err(|_| BadWriterKey)
    }
}

impl WriterPublicKey {
    /// `SHA256:` and the unpadded Base64 of the SHA-256 of the compressed point.
    pub fn fingerprint(&self) -> String {
        format!(
            "SHA256:{}",
            Base64Unpadded::encode_string(&Sha256::digest(self.0.to_sec1_point(true).as_bytes()))
        )
    }

    /// Whether `signature` (64 bytes, r and s) signs `message` with this key.
    pub(crate) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        Signature::from_slice(signature).is_ok_and(|s| self.0.verify(message, &s).is_ok())
    }
}

impl WriterKeys {
    /// PBKDF2 rounds of the fleet keys (OWASP's 2023 figure for PBKDF2-HMAC-SHA256).
    pub const ROUNDS: u32 = 600_000;

    /// The keys of `cluster`'s writers, from the fleet password. Slow on purpose ([`WriterKeys::ROUNDS`]
    /// rounds of PBKDF2): run it once, on a blocking thread.
    pub fn derive(password: &Password, cluster: &str) -> Self {
        let salt = [b"certslot fleet keys v1\0".as_slice(), cluster.as_bytes()].concat();
        let master = password.derive_key(&salt, Self::ROUNDS);
        let hkdf = hkdf::Hkdf::<Sha256>::new(None, master.as_ref());
        let expand = |info: &[u8]| {
            let mut key = Zeroizing::new([0u8; 32]);
            // 32 octets is well under HKDF-SHA256's limit of 255 blocks.
            let _ = hkdf.expand(info, key.as_mut());
            key
        };
        // A scalar of zero or at least the group order (odds about 2^-32) takes the next one.
        let signing = (0u32..)
            .find_map(|n| {
                SigningKey::from_slice(
                    expand(&[b"writer signing key ", &n.to_be_bytes()[..]].concat()).as_ref(),
                )
                .ok()
            })
            .unwrap_or_else(|| unreachable!("some counter gives a valid P-256 scalar"));
        let public = WriterPublicKey(*signing.verifying_key());
        Self {
            mac: expand(b"state mac"),
            digest: expand(b"delivery digest"),
            secrets: expand(b"state secrets"),
            signing,
            public,
        }
    }

    /// The public key agents pin.
    pub fn public(&self) -> &WriterPublicKey {
        &self.public
    }

    /// HMAC-SHA256 of a state body.
    pub(crate) fn mac(&self, body: &[u8]) -> [u8; 32] {
        keyed(&self.mac, body)
    }

    /// Whether `tag` is the MAC of `body` (compared in constant time).
    pub(crate) fn mac_verifies(&self, body: &[u8], tag: &[u8]) -> bool {
        let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(self.mac.as_ref())
            .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(body);
        mac.verify_slice(tag).is_ok()
    }

    /// The keyed digest of what a server was handed.
    pub(crate) fn digest(&self, contents: &[u8]) -> [u8; 32] {
        keyed(&self.digest, contents)
    }

    /// `secret` sealed for the state under the secrets key, bound to `label`: text,
    /// `c20p1305:` and the Base64 of the nonce and the ciphertext.
    pub(crate) fn seal_secret(&self, label: &str, secret: &[u8]) -> String {
        use chacha20poly1305::aead::{Aead as _, Payload};
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&(*self.secrets).into());
        let mut nonce = [0u8; 12];
        certslot::rand_core::Rng::fill_bytes(
            &mut certslot::rand_core::UnwrapErr(getrandom::SysRng),
            &mut nonce,
        );
        let sealed = cipher
            .encrypt(&nonce.into(), Payload { msg: secret, aad: label.as_bytes() })
            .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 takes messages up to 256 GiB"));
        format!("{SECRET_PREFIX}{}", Base64::encode_string(&[&nonce[..], &sealed].concat()))
    }

    /// The secret `sealed` (what [`WriterKeys::seal_secret`] gave for `label`); `None` when it
    /// is not one, was sealed under another password or for another label, or was changed.
    pub(crate) fn open_secret(&self, label: &str, sealed: &str) -> Option<Zeroizing<Vec<u8>>> {
        use chacha20poly1305::aead::{Aead as _, Payload};
        let bytes = Base64::decode_vec(sealed.strip_prefix(SECRET_PREFIX)?).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let cipher = chacha20poly1305::ChaCha20Poly1305::new(&(*self.secrets).into());
        cipher.decrypt(&nonce.into(), Payload { msg: sealed, aad: label.as_bytes() }).ok().map(Zeroizing::new)
    }

    /// The signature (64 bytes, r and s) of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature: Signature = self.signing.sign(message);
        signature.to_bytes().to_vec()
    }
}

fn keyed(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut mac =
        HmacSha256::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_keys_and_label() {
        let keys = WriterKeys::derive(&Password::new("s3cret"), "contoso");
        let sealed = keys.seal_secret("acme account https://ca/dir", b"{\"id\":\"x\"}");
        assert!(sealed.starts_with("c20p1305:"));
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(sealed, keys.seal_secret("acme account https://ca/dir", b"{\"id\":\"x\"}"));
        assert_eq!(
            keys.open_secret("acme account https://ca/dir", &sealed).unwrap().as_slice(),
            b"{\"id\":\"x\"}"
        );
        assert!(keys.open_secret("acme account https://other/dir", &sealed).is_none());
        let other = WriterKeys::derive(&Password::new("other"), "contoso");
        assert!(other.open_secret("acme account https://ca/dir", &sealed).is_none());
        let mut changed = sealed.clone().into_bytes();
        let last = changed.len() - 3;
        changed[last] = if changed[last] == b'A' { b'B' } else { b'A' };
        assert!(
            keys.open_secret("acme account https://ca/dir", core::str::from_utf8(&changed).unwrap())
                .is_none()
        );
        assert!(keys.open_secret("acme account https://ca/dir", "c20p1305:AAAA").is_none());
        assert!(keys.open_secret("acme account https://ca/dir", "plain").is_none());
    }

    #[test]
    fn the_same_password_and_cluster_give_the_same_keys_and_nothing_else_does() {
        let keys = WriterKeys::derive(&Password::new("s3cret"), "contoso");
        let again = WriterKeys::derive(&Password::new("s3cret"), "contoso");
        assert_eq!(keys.public(), again.public());
        assert_eq!(keys.mac(b"body"), again.mac(b"body"));
        assert_ne!(WriterKeys::derive(&Password::new("other"), "contoso").public(), keys.public());
        assert_ne!(WriterKeys::derive(&Password::new("s3cret"), "fabrikam").public(), keys.public());
        // The three keys differ from each other.
        assert_ne!(keys.mac(b"x"), keys.digest(b"x"));
        // The MAC verifies, and only for its body.
        let tag = keys.mac(b"body");
        assert!(keys.mac_verifies(b"body", &tag));
        assert!(!keys.mac_verifies(b"Body", &tag));
        assert!(!keys.mac_verifies(b"body", &tag[..31]));
        // A signature verifies with the public key read back from its text, only for its message.
        let signature = keys.sign(b"message");
        assert_eq!(signature.len(), 64);
        let text = keys.public().to_string();
        assert!(text.starts_with("p256:") && text.len() == 5 + 44, "{text}");
        let public: WriterPublicKey = text.parse().unwrap();
        assert!(public.verifies(b"message", &signature));
        assert!(!public.verifies(b"massage", &signature));
        assert!(!public.verifies(b"message", &signature[1..]));
        assert_eq!("p256:AAAA".parse::<WriterPublicKey>(), Err(BadWriterKey));
        assert_eq!(text.replace("p256:", "").parse::<WriterPublicKey>(), Err(BadWriterKey));
        assert!(!format!("{keys:?}").contains(&Base64::encode_string(keys.mac.as_ref())));
        assert!(format!("{keys:?}").contains(&keys.public().fingerprint()));
    }
}
