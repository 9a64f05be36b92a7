//! An agent's own key pair, to which the certificates and keys its server must hold are
//! sealed (HPKE, RFC 9180): X-Wing (ML-KEM-768 with X25519, draft-connolly-cfrg-xwing-kem, KEM
//! id 0x647a) from the `hpke` crate, so a delivery recorded today stays secret for the key's
//! whole life even against a quantum computer later.
//!
//! Made on the agent's first start and kept in its directory, `.certslot-agent-key`, mode 0600:
//! the 32-byte X-Wing seed in Base64 under a header line. An admin enrols the public key with a
//! fingerprint to compare (`SHA256:` and the unpadded Base64 of its SHA-256, as OpenSSH shows
//! keys), never by trusting what first arrives.

use core::fmt;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use base64ct::{Base64, Base64Unpadded, Encoding as _};
use hpke::kem::XWing;
use hpke::{Deserializable as _, Kem as _, Serializable as _};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

/// The key file's name in the agent's directory.
pub(crate) const KEY_FILE: &str = ".certslot-agent-key";
/// The key file's first line.
const HEADER: &str = "certslot agent key v1 (X-Wing seed, Base64)";
/// The public key's text prefix.
const PUBLIC_PREFIX: &str = "xwing:";

type PrivateKey = <XWing as hpke::Kem>::PrivateKey;
type PublicKey = <XWing as hpke::Kem>::PublicKey;

/// An agent's key pair. The private key is zeroized on drop and never printed.
pub struct AgentKey {
    private: PrivateKey,
    public: AgentPublicKey,
}

impl fmt::Debug for AgentKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AgentKey").field("public", &self.public.fingerprint()).finish_non_exhaustive()
    }
}

/// An agent's public key: what an admin enrols.
///
/// As text, `xwing:` and the Base64 of the key's 1,216 bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentPublicKey(Vec<u8>);

impl fmt::Debug for AgentPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AgentPublicKey({})", self.fingerprint())
    }
}

impl fmt::Display for AgentPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PUBLIC_PREFIX}{}", Base64::encode_string(&self.0))
    }
}

/// Why an agent key cannot be read, made or used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentKeyError {
    /// The key file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The key file may be read by other users: whoever reads it can open the deliveries.
    #[error("{}: readable by others (mode {mode:o}); run `chmod 600 {}`", path.display(), path.display())]
    ReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The key file is not one this version wrote.
    #[error("{}: not a certslot agent key", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
    },
    /// A public key's text is not `xwing:` and the Base64 of an X-Wing public key.
    #[error("not an agent public key (expected xwing: and the Base64 of 1216 bytes)")]
    BadPublicKey,
}

impl AgentKey {
    /// The key pair of the agent whose directory is `dir` (which must exist; see
    /// [`Agent::load_key`](crate::Agent::load_key), which makes and checks it as the agent
    /// does): read from its key file, or made and written there (mode 0600, a new file: an
    /// existing one is never overwritten) when there is none. The second value is true when the
    /// key was made now.
    ///
    /// # Errors
    /// [`AgentKeyError`]: the file cannot be read or written, may be read by others, or does not
    /// hold a key.
    pub fn load_or_create(dir: &Path) -> Result<(Self, bool), AgentKeyError> {
        let path = dir.join(KEY_FILE);
        let io = |source| AgentKeyError::Io { path: path.clone(), source };
        match fs::metadata(&path) {
            Ok(meta) => {
                check_private(&path, &meta)?;
                let text = Zeroizing::new(fs::read_to_string(&path).map_err(io)?);
                let malformed = || AgentKeyError::Malformed { path: path.clone() };
                let mut lines = text.lines();
                if lines.next() != Some(HEADER) {
                    return Err(malformed());
                }
                let seed = Zeroizing::new(
                    Base64::decode_vec(lines.next().unwrap_or_default().trim()).map_err(|_| malformed())?,
                );
                let private = PrivateKey::from_bytes(&seed).map_err(|_| malformed())?;
                Ok((Self::from_private(private), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut rng = certslot::rand_core::UnwrapErr(getrandom::SysRng);
                let (private, _) = XWing::gen_keypair_with_rng(&mut rng);
                let seed = Zeroizing::new(private.to_bytes().to_vec());
                let text = Zeroizing::new(format!("{HEADER}\n{}\n", Base64::encode_string(&seed)));
                let mut options = fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(&path).map_err(io)?;
                file.write_all(text.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
                Ok((Self::from_private(private), true))
            }
            Err(source) => Err(io(source)),
        }
    }

    fn from_private(private: PrivateKey) -> Self {
        let public = AgentPublicKey(XWing::sk_to_pk(&private).to_bytes().to_vec());
        Self { private, public }
    }

    /// The public key.
    pub fn public(&self) -> &AgentPublicKey {
        &self.public
    }

    /// The private key, for opening deliveries.
    pub(crate) fn private(&self) -> &PrivateKey {
        &self.private
    }
}

impl AgentPublicKey {
    /// The fingerprint an admin compares at enrolment: `SHA256:` and the unpadded Base64 of the
    /// SHA-256 of the key's bytes.
    pub fn fingerprint(&self) -> String {
        format!("SHA256:{}", Base64Unpadded::encode_string(&Sha256::digest(&self.0)))
    }

    /// The key's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl core::str::FromStr for AgentPublicKey {
    type Err = AgentKeyError;

    /// `xwing:` and the Base64 of an X-Wing public key (as [`fmt::Display`] writes it).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let body = text.trim().strip_prefix(PUBLIC_PREFIX).ok_or(AgentKeyError::BadPublicKey)?;
        let bytes = Base64::decode_vec(body).map_err(|_| AgentKeyError::BadPublicKey)?;
        PublicKey::from_bytes(&bytes).map_err(|_| AgentKeyError::BadPublicKey)?;
        Ok(Self(bytes))
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &fs::Metadata) -> Result<(), AgentKeyError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AgentKeyError::ReadableByOthers { path: path.to_owned(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &fs::Metadata) -> Result<(), AgentKeyError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("certslot-agent-key-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_key_is_made_once_kept_private_and_read_back() {
        let dir = temp_dir("made");
        let (key, made) = AgentKey::load_or_create(&dir).unwrap();
        assert!(made);
        let path = dir.join(KEY_FILE);
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let (again, made) = AgentKey::load_or_create(&dir).unwrap();
        assert!(!made);
        assert_eq!(again.public(), key.public());
        assert_eq!(key.public().as_bytes().len(), 1216);
        // The fingerprint: SHA-256 in unpadded Base64 (43 characters).
        let fingerprint = key.public().fingerprint();
        assert!(fingerprint.starts_with("SHA256:") && fingerprint.len() == 7 + 43, "{fingerprint}");
        assert!(!format!("{key:?}").contains(&Base64::encode_string(&key.private.to_bytes())));
        // The public key's text reads back; other text does not.
        let text = key.public().to_string();
        assert_eq!(text.parse::<AgentPublicKey>().unwrap(), *key.public());
        assert!(matches!("xwing:AAAA".parse::<AgentPublicKey>(), Err(AgentKeyError::BadPublicKey)));
        assert!(matches!(
            text.replace("xwing:", "ed25519:").parse::<AgentPublicKey>(),
            Err(AgentKeyError::BadPublicKey)
        ));
        // A file others may read is refused with the fix; a foreign one is refused.
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let e = AgentKey::load_or_create(&dir).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("{}: readable by others (mode 644); run `chmod 600 {}`", path.display(), path.display())
        );
        fs::write(&path, "something else\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert!(matches!(AgentKey::load_or_create(&dir), Err(AgentKeyError::Malformed { .. })));
        let _ = fs::remove_dir_all(&dir);
    }
}
