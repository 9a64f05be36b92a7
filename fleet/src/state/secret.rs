//! The password of the state's private keys, from an environment variable or a file, never from
//! the command line (where `ps` would show it).

use std::path::PathBuf;

use certslot::Password;
use zeroize::Zeroizing;

/// Where the password comes from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PasswordSource {
    /// An environment variable, by name.
    Env(String),
    /// A file: its first line (a trailing `\n` or `\r\n` is not part of the password). On Unix
    /// the file must not be readable by group or others.
    File(PathBuf),
}

/// Why the password could not be read. Never carries the password.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// The environment variable is not set.
    #[error("environment variable {var} is not set")]
    NotSet {
        /// The variable.
        var: String,
    },
    /// The environment variable is not valid Unicode.
    #[error("environment variable {var} is not valid Unicode")]
    NotUnicode {
        /// The variable.
        var: String,
    },
    /// The file cannot be read.
    #[error("cannot read the password file {}: {source}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not UTF-8.
    #[error("the password file {} is not UTF-8", path.display())]
    FileNotUtf8 {
        /// The file.
        path: PathBuf,
    },
    /// The file can be read by group or others (its mode, as `ls -l` shows it in octal).
    #[error("the password file {} is readable by others (mode {mode:o}); chmod 600 it", path.display())]
    FileReadableByOthers {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The password is empty.
    #[error("the password from {source_name} is empty")]
    Empty {
        /// The variable or file it came from.
        source_name: String,
    },
}

impl PasswordSource {
    /// Reads the password.
    ///
    /// # Errors
    /// [`PasswordError`]: a variable not set or not Unicode, a file that cannot be read, is not
    /// UTF-8 or is readable by others, or an empty password.
    pub fn read(&self) -> Result<Password, PasswordError> {
        let (text, source_name) = match self {
            Self::Env(var) => {
                let value = std::env::var(var).map_err(|e| match e {
                    std::env::VarError::NotPresent => PasswordError::NotSet { var: var.clone() },
                    std::env::VarError::NotUnicode(_) => PasswordError::NotUnicode { var: var.clone() },
                })?;
                (Zeroizing::new(value), var.clone())
            }
            Self::File(path) => {
                let file_error = |source| PasswordError::File { path: path.clone(), source };
                check_private(path)?;
                let bytes = Zeroizing::new(std::fs::read(path).map_err(file_error)?);
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| PasswordError::FileNotUtf8 { path: path.clone() })?;
                let line = text.split('\n').next().unwrap_or_default();
                let line = line.strip_suffix('\r').unwrap_or(line);
                (Zeroizing::new(line.to_owned()), path.display().to_string())
            }
        };
        if text.is_empty() {
            return Err(PasswordError::Empty { source_name });
        }
        Ok(Password::new(text.as_str()))
    }
}

#[cfg(unix)]
fn check_private(path: &std::path::Path) -> Result<(), PasswordError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta = std::fs::metadata(path).map_err(|source| PasswordError::File { path: path.into(), source })?;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(PasswordError::FileReadableByOthers { path: path.into(), mode });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &std::path::Path) -> Result<(), PasswordError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_file_gives_its_first_line_and_must_be_private() {
        let path = std::env::temp_dir().join(format!("certslot-etcd-password-{}", std::process::id()));
        std::fs::write(&path, "s3cret pass\r\nsecond line\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let error = PasswordSource::File(path.clone()).read().unwrap_err();
            assert!(matches!(error, PasswordError::FileReadableByOthers { mode: 0o644, .. }), "{error}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let password = PasswordSource::File(path.clone()).read().unwrap();
        assert_eq!(format!("{password:?}"), "Password([redacted])");
        // The password is the first line without its CRLF: a PFX sealed with it opens with it.
        assert!(opens_with(&password, &Password::new("s3cret pass")));
        assert!(!opens_with(&password, &Password::new("s3cret pass\r")));
        std::fs::write(&path, "\n").unwrap();
        assert!(matches!(PasswordSource::File(path.clone()).read(), Err(PasswordError::Empty { .. })));
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(
            PasswordSource::Env("CERTSLOT_ETCD_TEST_NO_SUCH_VARIABLE".into()).read(),
            Err(PasswordError::NotSet { var }) if var == "CERTSLOT_ETCD_TEST_NO_SUCH_VARIABLE"
        ));
    }

    /// Whether a key sealed with `a` opens with `b`.
    fn opens_with(a: &Password, b: &Password) -> bool {
        use certslot::rand_core::UnwrapErr;
        use certslot::{CertType, ExportOptions, PrivateKey, RequestTemplate, obtain::SelfSignedOptions};
        let key =
            PrivateKey::generate_ec(certslot::x509::Curve::P256, &mut UnwrapErr(getrandom::SysRng)).unwrap();
        let template =
            RequestTemplate::for_type(&CertType::Default, "pool01.contoso.com", "contoso.com").unwrap();
        let policy = certslot::Policy::new();
        let now = certslot::OffsetDateTime::now_utc();
        let pfx = template
            .self_signed(key, &policy, now, SelfSignedOptions::default(), &mut UnwrapErr(getrandom::SysRng))
            .unwrap();
        let (leaf, key, _) = pfx.into_parts();
        let bytes = certslot::Pfx::export(
            &leaf.unwrap(),
            &key.unwrap(),
            &[],
            a,
            &ExportOptions::default(),
            &mut UnwrapErr(getrandom::SysRng),
        )
        .unwrap();
        certslot::Pfx::import(&bytes, b, certslot::ImportOptions::default()).is_ok()
    }
}
