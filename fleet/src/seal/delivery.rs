//! A delivery: what one server must hold (its [`Hold`]s, with each certificate and private key),
//! sealed to its agent's key and signed by a writer, in `/certslot/<cluster>/deliveries/<fqdn>`.
//!
//! Sealed with HPKE (RFC 9180) in base mode: X-Wing, HKDF-SHA256, ChaCha20-Poly1305, info
//! `certslot delivery v1`, the header's JSON as associated data. HPKE's auth mode would bind the
//! sender too, but X-Wing (a KEM without authenticated encapsulation) has none; so the writer
//! signs (ECDSA P-256, its [`WriterKeys`](super::WriterKeys)) the header, the encapsulated key
//! and the ciphertext, and the agent checks the signature with the writer key it pinned at
//! enrolment before anything else.
//!
//! The value, JSON:
//!
//! ```text
//! {"header": {"format": 1, "cluster": "contoso", "server": "fe01.contoso.com", "revision": 42,
//!             "agent_key": "SHA256:…", "writer_key": "SHA256:…"},
//!  "enc": "<Base64, 1120 bytes>", "ciphertext": "<Base64>", "signature": "<Base64, 64 bytes>"}
//! ```
//!
//! The header says whom it is for, sealed to which key, by which writer, at which store
//! revision: an agent refuses a delivery for another cluster or server, sealed to another key,
//! or older than the newest it applied (a replay). The plaintext, JSON, zeroized after use:
//! `{"holds": [Hold…], "keys": [{"certificate": "<Base64 DER>", "private_key": "<Base64 PKCS #8>"}…]}`.

use std::collections::BTreeMap;

use base64ct::{Base64, Encoding as _};
use certslot::rand_core::CryptoRng;
use certslot::store::Hold;
use certslot::{Certificate, PrivateKey, Thumbprint};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::XWing;
use hpke::{Deserializable as _, OpModeR, OpModeS, Serializable as _};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::seal::agent_key::{AgentKey, AgentPublicKey};
use crate::seal::writer_key::{WriterKeys, WriterPublicKey};

/// The delivery format this version writes and reads.
const FORMAT: u32 = 1;
/// HPKE's info string.
const INFO: &[u8] = b"certslot delivery v1";

/// Who a delivery is for, sealed to which key, by which writer, at which store revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryHeader {
    /// The format (1).
    pub format: u32,
    /// The cluster.
    pub cluster: String,
    /// The server it is for.
    pub server: String,
    /// The store revision it was written at.
    pub revision: u64,
    /// The fingerprint of the agent key it is sealed to.
    pub agent_key: String,
    /// The fingerprint of the writer key that signed it.
    pub writer_key: String,
}

/// The value in etcd.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sealed {
    header: DeliveryHeader,
    enc: String,
    ciphertext: String,
    signature: String,
}

/// The plaintext.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Contents {
    holds: Vec<Hold>,
    keys: Vec<KeyPair>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyPair {
    certificate: String,
    private_key: String,
}

impl Drop for KeyPair {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.private_key);
    }
}

/// What a server must hold, opened: its holds, and the certificate and private key of each.
#[derive(Clone, Debug)]
pub struct Delivery {
    header: DeliveryHeader,
    holds: Vec<Hold>,
    keys: BTreeMap<Thumbprint, (Certificate, PrivateKey)>,
}

/// Why a delivery is refused. Nothing it carries is applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// Not a delivery: not JSON of the delivery's shape, or Base64 that does not decode.
    #[error("not a certslot delivery: {detail}")]
    Malformed {
        /// What is wrong.
        detail: String,
    },
    /// A delivery format this version does not know.
    #[error("delivery format {format} is not supported (this version reads format 1)")]
    UnsupportedFormat {
        /// The format found.
        format: u32,
    },
    /// The signature does not verify with the pinned writer key: not written by a writer of
    /// this cluster (or changed since).
    #[error("the delivery is not signed by the pinned writer key {pinned} (it names {claimed})")]
    NotFromWriter {
        /// The pinned key's fingerprint.
        pinned: String,
        /// The writer key fingerprint the header names.
        claimed: String,
    },
    /// Signed by a writer, for another cluster or server (copied into this server's key).
    #[error("the delivery is for {server} in cluster {cluster}, not for this server")]
    ForAnotherServer {
        /// The cluster it names.
        cluster: String,
        /// The server it names.
        server: String,
    },
    /// Signed by a writer for this server, sealed to another agent key (before a re-enrolment).
    #[error("the delivery is sealed to agent key {sealed_to}, not to this agent's {own}")]
    SealedToAnotherKey {
        /// The key it is sealed to.
        sealed_to: String,
        /// This agent's key.
        own: String,
    },
    /// HPKE refused to open it with this agent's key.
    #[error("the delivery does not open with this agent's key")]
    Unopenable,
    /// A certificate or private key does not parse, or a key does not belong to its
    /// certificate.
    #[error("the delivery is inconsistent: {detail}")]
    Inconsistent {
        /// What is wrong.
        detail: String,
    },
    /// The system's random generator failed while sealing.
    #[error("the random generator failed")]
    Random,
}

fn malformed(detail: impl core::fmt::Display) -> DeliveryError {
    DeliveryError::Malformed { detail: detail.to_string() }
}

/// The bytes of a Base64 field, `what` naming it in the error.
fn base64(what: &str, text: &str) -> Result<Vec<u8>, DeliveryError> {
    Base64::decode_vec(text).map_err(|_| malformed(format!("{what} is not Base64")))
}

/// The bytes a writer signs: a label, the header's JSON, the encapsulated key and the
/// ciphertext, each but the last after its length.
fn signed_message(header: &[u8], enc: &[u8], ciphertext: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(32 + header.len() + enc.len() + ciphertext.len());
    message.extend_from_slice(b"certslot delivery signature v1\0");
    for part in [header, enc] {
        message.extend_from_slice(&u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
        message.extend_from_slice(part);
    }
    message.extend_from_slice(ciphertext);
    message
}

/// A delivery value parsed and its signature checked: the header, the header's JSON (the
/// associated data), the encapsulated key and the ciphertext.
struct Verified {
    header: DeliveryHeader,
    header_json: Vec<u8>,
    enc: Vec<u8>,
    ciphertext: Vec<u8>,
}

impl Verified {
    /// Parses `value`, checks its format, then its signature with `writer`.
    fn of(value: &[u8], writer: &WriterPublicKey) -> Result<Self, DeliveryError> {
        let sealed: Sealed = serde_json::from_slice(value).map_err(malformed)?;
        let header = sealed.header;
        if header.format != FORMAT {
            return Err(DeliveryError::UnsupportedFormat { format: header.format });
        }
        let (enc, ciphertext, signature) = (
            base64("enc", &sealed.enc)?,
            base64("ciphertext", &sealed.ciphertext)?,
            base64("signature", &sealed.signature)?,
        );
        let header_json = serde_json::to_vec(&header).map_err(malformed)?;
        if !writer.verifies(&signed_message(&header_json, &enc, &ciphertext), &signature) {
            return Err(DeliveryError::NotFromWriter {
                pinned: writer.fingerprint(),
                claimed: header.writer_key,
            });
        }
        Ok(Self { header, header_json, enc, ciphertext })
    }
}

impl Delivery {
    /// What a server must hold: its holds and the certificate and key of each certificate they
    /// name (keys without a hold are left out; a hold without a key is delivered without one,
    /// and the agent reports that it cannot hold it).
    pub(crate) fn new(
        header: DeliveryHeader,
        holds: Vec<Hold>,
        mut keys: BTreeMap<Thumbprint, (Certificate, PrivateKey)>,
    ) -> Self {
        let named: std::collections::BTreeSet<Thumbprint> =
            holds.iter().map(|h| h.desired.thumbprint).collect();
        keys.retain(|t, _| named.contains(t));
        Self { header, holds, keys }
    }

    /// The header.
    pub fn header(&self) -> &DeliveryHeader {
        &self.header
    }

    /// The store revision it was written at.
    pub fn revision(&self) -> u64 {
        self.header.revision
    }

    /// What the server must hold, and until when.
    pub fn holds(&self) -> &[Hold] {
        &self.holds
    }

    /// The certificate and private key of a certificate it holds.
    pub fn key_pair(&self, thumbprint: &Thumbprint) -> Option<(&Certificate, &PrivateKey)> {
        self.keys.get(thumbprint).map(|(c, k)| (c, k))
    }

    /// The JSON of its holds: what the keyed digest of a delivery covers (with the agent key).
    pub(crate) fn holds_json(holds: &[Hold]) -> Vec<u8> {
        serde_json::to_vec(holds).unwrap_or_default()
    }

    /// Seals it to `agent` and signs it with `writer`: the value to write.
    ///
    /// # Errors
    /// [`DeliveryError::Random`] when the random generator fails.
    pub(crate) fn seal(
        &self,
        agent: &AgentPublicKey,
        writer: &WriterKeys,
        rng: &mut impl CryptoRng,
    ) -> Result<Vec<u8>, DeliveryError> {
        let header = DeliveryHeader {
            agent_key: agent.fingerprint(),
            writer_key: writer.public().fingerprint(),
            ..self.header.clone()
        };
        let header_json = serde_json::to_vec(&header).map_err(malformed)?;
        let contents = Contents {
            holds: self.holds.clone(),
            keys: self
                .keys
                .values()
                .map(|(certificate, key)| KeyPair {
                    certificate: Base64::encode_string(certificate.der()),
                    private_key: Base64::encode_string(key.pkcs8_der()),
                })
                .collect(),
        };
        let plaintext = Zeroizing::new(serde_json::to_vec(&contents).map_err(malformed)?);
        let public = <XWing as hpke::Kem>::PublicKey::from_bytes(agent.as_bytes())
            .map_err(|_| DeliveryError::Inconsistent { detail: "an unusable agent key".into() })?;
        let (enc, ciphertext) = hpke::single_shot_seal_with_rng::<ChaCha20Poly1305, HkdfSha256, XWing>(
            &OpModeS::Base,
            &public,
            INFO,
            &plaintext,
            &header_json,
            rng,
        )
        .map_err(|_| DeliveryError::Random)?;
        let enc = enc.to_bytes();
        let signature = writer.sign(&signed_message(&header_json, &enc, &ciphertext));
        let sealed = Sealed {
            header,
            enc: Base64::encode_string(&enc),
            ciphertext: Base64::encode_string(&ciphertext),
            signature: Base64::encode_string(&signature),
        };
        serde_json::to_vec(&sealed).map_err(malformed)
    }

    /// The header of a delivery value, unchecked (to show what a refused value claims).
    ///
    /// # Errors
    /// [`DeliveryError::Malformed`].
    pub fn peek(value: &[u8]) -> Result<DeliveryHeader, DeliveryError> {
        Ok(serde_json::from_slice::<Sealed>(value).map_err(malformed)?.header)
    }

    /// The header of a delivery value whose signature verifies with `writer` (what a writer
    /// checks of the deliveries it wrote, without opening them).
    ///
    /// # Errors
    /// [`DeliveryError::Malformed`], [`DeliveryError::UnsupportedFormat`],
    /// [`DeliveryError::NotFromWriter`].
    pub fn verified_header(value: &[u8], writer: &WriterPublicKey) -> Result<DeliveryHeader, DeliveryError> {
        Ok(Verified::of(value, writer)?.header)
    }

    /// Opens a delivery value for `server` of `cluster`: checks the signature with the pinned
    /// `writer` key, then whom it is for and the key it is sealed to, opens it with `agent`, and
    /// checks that each private key belongs to its certificate.
    ///
    /// # Errors
    /// [`DeliveryError`], in the order of those checks.
    pub fn open(
        value: &[u8],
        cluster: &str,
        server: &str,
        agent: &AgentKey,
        writer: &WriterPublicKey,
    ) -> Result<Self, DeliveryError> {
        let Verified { header, header_json, enc, ciphertext } = Verified::of(value, writer)?;
        if header.cluster != cluster || header.server != server {
            return Err(DeliveryError::ForAnotherServer { cluster: header.cluster, server: header.server });
        }
        let own = agent.public().fingerprint();
        if header.agent_key != own {
            return Err(DeliveryError::SealedToAnotherKey { sealed_to: header.agent_key, own });
        }
        let enc =
            <XWing as hpke::Kem>::EncappedKey::from_bytes(&enc).map_err(|_| DeliveryError::Unopenable)?;
        let plaintext = Zeroizing::new(
            hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, XWing>(
                &OpModeR::Base,
                agent.private(),
                &enc,
                INFO,
                &ciphertext,
                &header_json,
            )
            .map_err(|_| DeliveryError::Unopenable)?,
        );
        let contents: Contents = serde_json::from_slice(&plaintext).map_err(malformed)?;
        let mut keys = BTreeMap::new();
        for pair in &contents.keys {
            let inconsistent = |detail: &str| DeliveryError::Inconsistent { detail: detail.into() };
            let certificate = Certificate::from_der(&base64("a certificate", &pair.certificate)?)
                .map_err(|_| inconsistent("a certificate does not parse"))?;
            let der = Zeroizing::new(base64("a private key", &pair.private_key)?);
            let key =
                PrivateKey::from_pkcs8_der(&der).map_err(|_| inconsistent("a private key does not parse"))?;
            if key.matches(&certificate) != Some(true) {
                return Err(DeliveryError::Inconsistent {
                    detail: format!(
                        "the private key of {} is not its certificate's",
                        certificate.thumbprint()
                    ),
                });
            }
            keys.insert(certificate.thumbprint(), (certificate, key));
        }
        let holds = contents.holds.clone();
        Ok(Self::new(header, holds, keys))
    }
}

#[cfg(test)]
mod tests {
    use certslot::rand_core::UnwrapErr;
    use certslot::store::{Desired, Role};
    use certslot::{CertType, Password, Pfx, Scope};

    use super::*;

    fn key_pair(name: &str) -> (Certificate, PrivateKey) {
        let path = format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"));
        let pfx = Pfx::import(&std::fs::read(path).unwrap(), &Password::new("P@ssw0rd"), Default::default())
            .unwrap();
        let (leaf, key, _) = pfx.into_parts();
        (leaf.unwrap(), key.unwrap())
    }

    fn agent(name: &str) -> AgentKey {
        let dir = std::env::temp_dir().join(format!("certslot-delivery-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (key, _) = AgentKey::load_or_create(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        key
    }

    fn header(server: &str, revision: u64) -> DeliveryHeader {
        DeliveryHeader {
            format: 1,
            cluster: "contoso".into(),
            server: server.into(),
            revision,
            agent_key: String::new(),
            writer_key: String::new(),
        }
    }

    fn sample() -> Delivery {
        let (cert, key) = key_pair("openssl3-default.pfx");
        let other = key_pair("openssl3-rsa2048-next.pfx");
        let hold = Hold {
            desired: Desired {
                cert_type: CertType::OAuthTokenIssuer,
                scope: Scope::Global,
                thumbprint: cert.thumbprint(),
                role: Role::Current,
            },
            until: None,
        };
        let keys = [(cert.thumbprint(), (cert, key)), (other.0.thumbprint(), other)].into();
        // The key no hold names is left out.
        Delivery::new(header("fe01.contoso.com", 7), vec![hold], keys)
    }

    #[test]
    fn a_delivery_opens_only_for_its_server_with_its_key_from_the_pinned_writer() {
        let writer = WriterKeys::derive(&Password::new("s3cret"), "contoso");
        let (fe01, fe02) = (agent("fe01"), agent("fe02"));
        let delivery = sample();
        assert_eq!(delivery.keys.len(), 1);
        let rng = &mut UnwrapErr(getrandom::SysRng);
        let value = delivery.seal(fe01.public(), &writer, rng).unwrap();
        let opened = Delivery::open(&value, "contoso", "fe01.contoso.com", &fe01, writer.public()).unwrap();
        assert_eq!(opened.holds(), delivery.holds());
        assert_eq!(opened.revision(), 7);
        let thumbprint = delivery.holds()[0].desired.thumbprint;
        let (cert, key) = opened.key_pair(&thumbprint).unwrap();
        assert_eq!(cert.thumbprint(), thumbprint);
        assert_eq!(key.pkcs8_der(), delivery.key_pair(&thumbprint).unwrap().1.pkcs8_der());
        let header = Delivery::peek(&value).unwrap();
        assert_eq!(header.agent_key, fe01.public().fingerprint());
        assert_eq!(header.writer_key, writer.public().fingerprint());
        // The private key is nowhere in the value.
        let pkcs8 = Base64::encode_string(key.pkcs8_der());
        assert!(!String::from_utf8_lossy(&value).contains(&pkcs8[..40]));

        // fe01's delivery read as fe02's: refused by name, before any key is tried.
        assert!(matches!(
            Delivery::open(&value, "contoso", "fe02.contoso.com", &fe02, writer.public()),
            Err(DeliveryError::ForAnotherServer { server, .. }) if server == "fe01.contoso.com"
        ));
        assert!(matches!(
            Delivery::open(&value, "fabrikam", "fe01.contoso.com", &fe01, writer.public()),
            Err(DeliveryError::ForAnotherServer { cluster, .. }) if cluster == "contoso"
        ));
        // Another agent key (fe01 enrolled again since).
        assert!(matches!(
            Delivery::open(&value, "contoso", "fe01.contoso.com", &fe02, writer.public()),
            Err(DeliveryError::SealedToAnotherKey { sealed_to, .. }) if sealed_to == fe01.public().fingerprint()
        ));
        // Another cluster's writer (another password): not from the pinned writer.
        let stranger = WriterKeys::derive(&Password::new("guess"), "contoso");
        let forged = delivery.seal(fe01.public(), &stranger, rng).unwrap();
        let error =
            Delivery::open(&forged, "contoso", "fe01.contoso.com", &fe01, writer.public()).unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "the delivery is not signed by the pinned writer key {} (it names {})",
                writer.public().fingerprint(),
                stranger.public().fingerprint()
            )
        );
        // A header changed after signing (the revision raised, the server renamed): refused.
        let mut json: serde_json::Value = serde_json::from_slice(&value).unwrap();
        json["header"]["revision"] = 99.into();
        let raised = serde_json::to_vec(&json).unwrap();
        assert!(matches!(
            Delivery::open(&raised, "contoso", "fe01.contoso.com", &fe01, writer.public()),
            Err(DeliveryError::NotFromWriter { .. })
        ));
        // Foreign values: typed errors.
        for foreign in [&b"garbage"[..], b"{}", b"\xff"] {
            assert!(matches!(
                Delivery::open(foreign, "contoso", "fe01.contoso.com", &fe01, writer.public()),
                Err(DeliveryError::Malformed { .. })
            ));
        }
        json["header"]["format"] = 2.into();
        assert!(matches!(
            Delivery::open(
                &serde_json::to_vec(&json).unwrap(),
                "contoso",
                "fe01.contoso.com",
                &fe01,
                writer.public()
            ),
            Err(DeliveryError::UnsupportedFormat { format: 2 })
        ));
    }

    #[test]
    fn a_hold_without_its_key_is_delivered_without_one() {
        let writer = WriterKeys::derive(&Password::new("s3cret"), "contoso");
        let fe01 = agent("fe01-keyless");
        let full = sample();
        let delivery = Delivery::new(full.header.clone(), full.holds.clone(), BTreeMap::new());
        let value = delivery.seal(fe01.public(), &writer, &mut UnwrapErr(getrandom::SysRng)).unwrap();
        let opened = Delivery::open(&value, "contoso", "fe01.contoso.com", &fe01, writer.public()).unwrap();
        assert_eq!(opened.holds(), full.holds());
        assert!(opened.key_pair(&full.holds()[0].desired.thumbprint).is_none());
    }
}
