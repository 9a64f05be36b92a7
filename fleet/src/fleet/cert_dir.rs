//! A front-end's certificate directory: one PFX file (certificate and private key) per
//! certificate the server must hold, named `<THUMBPRINT>.pfx`, mode 0600. Files are written to a
//! temporary name, synced and renamed, so a reader never sees half a file; the directory is
//! synced after each rename and removal. Files with other names are never touched.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use certslot::{ImportOptions, Password, Pfx, Thumbprint, pfx::ExportError};

/// Why the certificate directory could not be read or changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CertDirError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate and key could not be written as a PFX.
    #[error("cannot write {thumbprint} as a PFX: {source}")]
    Export {
        /// The certificate.
        thumbprint: Thumbprint,
        /// Why.
        #[source]
        source: ExportError,
    },
    /// The directory may be written by other users than its owner (group or others), who could
    /// then replace the private keys the server uses: refused, as OpenSSH refuses such a
    /// `~/.ssh`.
    #[error("{}: writable by {} (mode {mode:o}); run `chmod go-w {}` or choose a private directory", path.display(), if mode & 0o002 != 0 { "every user" } else { "its group" }, path.display())]
    WritableByOthers {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The state holds the certificate without its private key, so no PFX can be written.
    #[error("the state holds no private key for {thumbprint}")]
    NoKey {
        /// The certificate.
        thumbprint: Thumbprint,
    },
}

/// The directory.
#[derive(Clone, Debug)]
pub(crate) struct CertDir {
    dir: PathBuf,
}

const SUFFIX: &str = ".pfx";
/// The record of the newest state revision the agent applied: a replayed older state is
/// refused against it, across restarts.
const APPLIED: &str = ".certslot-applied";
const TEMP_PREFIX: &str = ".";
const TEMP_SUFFIX: &str = ".pfx.tmp";

impl CertDir {
    /// Opens the directory, creating it (mode 0700) if missing; refuses one that its group or
    /// other users may write.
    pub(crate) fn open(dir: &Path) -> Result<Self, CertDirError> {
        let io = |source| CertDirError::Io { path: dir.to_owned(), source };
        if !dir.is_dir() {
            let mut builder = fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
            builder.create(dir).map_err(io)?;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = fs::metadata(dir).map_err(io)?.permissions().mode() & 0o7777;
            if mode & 0o022 != 0 {
                return Err(CertDirError::WritableByOthers { path: dir.to_owned(), mode });
            }
        }
        Ok(Self { dir: dir.to_owned() })
    }

    /// The path of a certificate's file.
    pub(crate) fn path(&self, thumbprint: &Thumbprint) -> PathBuf {
        self.dir.join(format!("{thumbprint}{SUFFIX}"))
    }

    fn temp_path(&self, thumbprint: &Thumbprint) -> PathBuf {
        self.dir.join(format!("{TEMP_PREFIX}{thumbprint}{TEMP_SUFFIX}"))
    }

    /// The certificates whose files are present (by name), removing temporary files a crash
    /// left behind.
    pub(crate) fn list(&self) -> Result<BTreeSet<Thumbprint>, CertDirError> {
        let io = |source| CertDirError::Io { path: self.dir.clone(), source };
        let mut out = BTreeSet::new();
        for entry in fs::read_dir(&self.dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if let Some(stem) = name.strip_suffix(SUFFIX) {
                if let Some(thumbprint) = parse_name(stem) {
                    out.insert(thumbprint);
                }
            } else if let Some(stem) =
                name.strip_prefix(TEMP_PREFIX).and_then(|n| n.strip_suffix(TEMP_SUFFIX))
            {
                if parse_name(stem).is_some() {
                    let path = entry.path();
                    fs::remove_file(&path).map_err(|source| CertDirError::Io { path, source })?;
                }
            }
        }
        Ok(out)
    }

    /// True when the certificate's file opens with `password` and holds that certificate with a
    /// key.
    pub(crate) fn verify(&self, thumbprint: &Thumbprint, password: &Password) -> bool {
        let Ok(bytes) = fs::read(self.path(thumbprint)) else { return false };
        Pfx::import(&bytes, password, ImportOptions::default()).is_ok_and(|pfx| {
            pfx.private_key().is_some() && pfx.leaf().is_some_and(|leaf| leaf.thumbprint() == *thumbprint)
        })
    }

    /// Writes a certificate's PFX: a temporary file (0600), synced, renamed over the name.
    pub(crate) fn write(&self, thumbprint: &Thumbprint, pfx: &[u8]) -> Result<(), CertDirError> {
        let temp = self.temp_path(thumbprint);
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CertDirError::Io { path, source }
        };
        // A leftover may have other permissions; the mode applies only to a new file.
        match fs::remove_file(&temp) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&temp)(e)),
            _ => {}
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temp).map_err(io(&temp))?;
        file.write_all(pfx).and_then(|()| file.sync_all()).map_err(io(&temp))?;
        drop(file);
        let target = self.path(thumbprint);
        fs::rename(&temp, &target).map_err(io(&target))?;
        self.sync()
    }

    /// The newest state revision applied here (0 when none was recorded). A record that does
    /// not read as a number is an error: the agent would otherwise forget what it applied.
    pub(crate) fn applied(&self) -> Result<u64, CertDirError> {
        let path = self.dir.join(APPLIED);
        match fs::read_to_string(&path) {
            Ok(text) => text.trim().parse().map_err(|_| CertDirError::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, "not a revision number"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(source) => Err(CertDirError::Io { path, source }),
        }
    }

    /// Records `revision` as the newest applied: a temporary file, synced, renamed.
    pub(crate) fn record_applied(&self, revision: u64) -> Result<(), CertDirError> {
        let (path, temp) = (self.dir.join(APPLIED), self.dir.join(format!("{APPLIED}.tmp")));
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| CertDirError::Io { path, source }
        };
        let mut file = fs::File::create(&temp).map_err(io(&temp))?;
        file.write_all(format!("{revision}\n").as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io(&temp))?;
        drop(file);
        fs::rename(&temp, &path).map_err(io(&path))?;
        self.sync()
    }

    /// Removes a certificate's file.
    pub(crate) fn remove(&self, thumbprint: &Thumbprint) -> Result<(), CertDirError> {
        let path = self.path(thumbprint);
        match fs::remove_file(&path) {
            Ok(()) => self.sync(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(CertDirError::Io { path, source }),
        }
    }

    /// Makes renames and removals durable.
    fn sync(&self) -> Result<(), CertDirError> {
        #[cfg(unix)]
        fs::File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|source| CertDirError::Io { path: self.dir.clone(), source })?;
        Ok(())
    }
}

/// A file stem that is a thumbprint as certslot writes it: 40 uppercase hex digits.
fn parse_name(stem: &str) -> Option<Thumbprint> {
    let canonical =
        stem.len() == 40 && stem.bytes().all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    canonical.then(|| stem.parse().ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_listed_by_canonical_thumbprint_names_only() {
        let dir = std::env::temp_dir().join(format!("certslot-etcd-certdir-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let certs = CertDir::open(&dir).unwrap();
        let t: Thumbprint = "3BF702B601477250F70E61E287798983087DA4AB".parse().unwrap();
        certs.write(&t, b"not really a pfx").unwrap();
        fs::write(dir.join("3bf702b601477250f70e61e287798983087da4ab.pfx"), b"x").unwrap();
        fs::write(dir.join("notes.txt"), b"x").unwrap();
        fs::write(dir.join(".4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F.pfx.tmp"), b"x").unwrap();
        assert_eq!(certs.list().unwrap(), [t].into());
        assert!(!dir.join(".4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F.pfx.tmp").exists());
        assert!(!certs.verify(&t, &Password::new("x")));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            assert_eq!(fs::metadata(certs.path(&t)).unwrap().permissions().mode() & 0o777, 0o600);
        }
        certs.remove(&t).unwrap();
        certs.remove(&t).unwrap();
        assert!(certs.list().unwrap().is_empty());
        assert!(dir.join("notes.txt").exists());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = std::env::temp_dir().join(format!("certslot-etcd-certdir-open-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir(&dir).unwrap();
        for (mode, who) in [(0o777, "every user"), (0o1777, "every user"), (0o770, "its group")] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            let error = CertDir::open(&dir).unwrap_err();
            assert!(
                matches!(error, CertDirError::WritableByOthers { mode: m, .. } if m == mode),
                "{error:?}"
            );
            assert_eq!(
                error.to_string(),
                format!(
                    "{0}: writable by {who} (mode {mode:o}); run `chmod go-w {0}` or choose a private directory",
                    dir.display()
                )
            );
        }
        for mode in [0o700, 0o755, 0o750] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
            assert!(CertDir::open(&dir).is_ok(), "{mode:o}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
