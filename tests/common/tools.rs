//! The real tools the interop tests check certslot's output with: the OpenSSL CLI and Python
//! `cryptography` (both installed by `.ci/run`), and scratch directories for their files.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A fresh directory under the system's temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("certslot-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    /// Writes `bytes` to `name` in the directory and returns the file's path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, bytes).expect("write");
        self.path(name)
    }

    /// The path of `name` in the directory.
    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_str().expect("UTF-8 path").to_owned()
    }

    /// Reads `name` from the directory.
    pub fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).expect("read")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `program` with `args` and `stdin`, asserting success; returns stdout.
pub fn run(program: &str, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program} is installed (.ci/run installs it): {e}"));
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    let out = child.wait_with_output().expect("runs");
    assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Runs `openssl` with `args`; returns stdout as text.
pub fn openssl(args: &[&str]) -> String {
    String::from_utf8_lossy(&run("openssl", args, b"")).into_owned()
}

/// Runs a Python script with `args`, `stdin` on its standard input; returns stdout, trimmed.
pub fn python(script: &str, args: &[&str], stdin: &[u8]) -> String {
    let mut all = vec!["-c", script];
    all.extend_from_slice(args);
    String::from_utf8_lossy(&run("python3", &all, stdin)).trim().to_owned()
}

/// A CA in Python `cryptography`: signs the PEM request `csr` with the CA certificate and key at
/// `ca` and `ca_key` (files), valid from `not_before` to `not_after` (RFC 3339). With `subject`
/// `None` the request's subject and extensions are kept (what a CA that follows the request
/// issues); with `Some(name)` that subject and no extensions (a CA that ignores the request).
/// Returns the certificate, then the files of `chain`, as PEM.
pub fn python_ca_sign(
    csr: &str,
    ca: &str,
    ca_key: &str,
    not_before: &str,
    not_after: &str,
    subject: Option<&str>,
    chain: &[&str],
) -> Vec<u8> {
    const SCRIPT: &str = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
csr = x509.load_pem_x509_csr(sys.stdin.buffer.read())
assert csr.is_signature_valid
ca = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
keep = sys.argv[5] == "-"
builder = (x509.CertificateBuilder()
    .subject_name(csr.subject if keep else x509.Name.from_rfc4514_string(sys.argv[5]))
    .issuer_name(ca.subject)
    .public_key(csr.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(datetime.datetime.fromisoformat(sys.argv[3]))
    .not_valid_after(datetime.datetime.fromisoformat(sys.argv[4])))
if keep:
    for ext in csr.extensions:
        builder = builder.add_extension(ext.value, ext.critical)
builder = builder.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.public_key()), False)
out = builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)
for path in sys.argv[6:]:
    out += open(path, "rb").read()
sys.stdout.buffer.write(out)
"#;
    let mut args = vec!["-c", SCRIPT, ca, ca_key, not_before, not_after, subject.unwrap_or("-")];
    args.extend_from_slice(chain);
    run("python3", &args, csr.as_bytes())
}
