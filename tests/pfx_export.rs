//! Export: what certslot writes is read back by certslot, by `openssl pkcs12` and by Python
//! `cryptography`; PBMAC1 files (RFC 9579) verify; a key that matches no certificate is refused.

use std::io::Write as _;
use std::process::{Command, Stdio};

use certslot::rand_core::UnwrapErr;
use certslot::{
    ExportOptions, ImportOptions, Password, Pfx, PfxError, Thumbprint,
    pfx::{
        EncryptionAlgorithm, ExportError, ExportProfile, MacAlgorithm, PasswordCheck, Pbes1Cipher,
        Pbes2Cipher,
    },
    x509::HashAlgorithm,
};
use getrandom::SysRng;

const DEFAULT: &[u8] = include_bytes!("data/pfx/openssl3-default.pfx");
const CHAIN: &[u8] = include_bytes!("data/pfx/openssl3-chain.pfx");
const MISMATCH: &[u8] = include_bytes!("data/pfx/mismatched-key.pfx");
const NEXT: &[u8] = include_bytes!("data/pfx/openssl3-rsa2048-next.pfx");
const RFC9579_A1: &[u8] = include_bytes!("data/pfx/rfc9579/a1-sha256.p12");

fn password() -> Password {
    Password::new("P@ssw0rd")
}

fn import(bytes: &[u8], password: &Password) -> Pfx {
    Pfx::import(bytes, password, ImportOptions::default()).expect("imports")
}

fn export(source: &Pfx, password: &Password, options: &ExportOptions) -> Vec<u8> {
    let chain: Vec<_> = source.chain().into_iter().cloned().collect();
    Pfx::export(
        source.leaf().expect("leaf"),
        source.private_key().expect("key"),
        &chain,
        password,
        options,
        &mut UnwrapErr(SysRng),
    )
    .expect("exports")
}

fn thumbprints(pfx: &Pfx) -> Vec<Thumbprint> {
    pfx.certificates().map(|c| c.thumbprint()).collect()
}

/// Runs `openssl pkcs12` on `pfx` with `args`, returning stdout.
fn openssl(pfx: &[u8], args: &[&str]) -> String {
    let mut child = Command::new("openssl")
        .arg("pkcs12")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed (.ci/run installs it)");
    child.stdin.take().expect("stdin").write_all(pfx).expect("write");
    let out = child.wait_with_output().expect("openssl runs");
    assert!(out.status.success(), "openssl pkcs12 {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Loads `pfx` with Python `cryptography`, returning "leaf-sha1 key-bits n-additional".
fn python(pfx: &[u8], password: &str) -> String {
    let script = r#"
import sys
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import pkcs12
data = sys.stdin.buffer.read()
p = pkcs12.load_pkcs12(data, sys.argv[1].encode())
print(p.cert.certificate.fingerprint(hashes.SHA1()).hex().upper(), p.key.key_size, len(p.additional_certs), p.cert.friendly_name.decode())
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, password])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 is installed (.ci/run installs it)");
    child.stdin.take().expect("stdin").write_all(pfx).expect("write");
    let out = child.wait_with_output().expect("python runs");
    assert!(out.status.success(), "python: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn modern_export_round_trips_through_certslot_openssl_and_python() {
    let source = import(CHAIN, &password());
    let options = ExportOptions::default().friendly_name("Contoso OAuth");
    let bytes = export(&source, &password(), &options);

    let back = import(&bytes, &password());
    assert_eq!(back.leaf(), source.leaf());
    assert_eq!(thumbprints(&back), thumbprints(&source));
    assert_eq!(
        back.private_key().map(|k| k.pkcs8_der().to_vec()),
        source.private_key().map(|k| k.pkcs8_der().to_vec())
    );
    let aes = EncryptionAlgorithm::Pbes2 {
        cipher: Pbes2Cipher::Aes256Cbc,
        prf: HashAlgorithm::Sha256,
        iterations: 2048,
    };
    assert_eq!(back.protection().key, Some(aes));
    assert_eq!(back.protection().certificates, vec![aes]);
    assert_eq!(
        back.protection().mac,
        Some(MacAlgorithm::Hmac { digest: HashAlgorithm::Sha256, iterations: 2048 })
    );
    assert_eq!(back.friendly_name(back.leaf().expect("leaf")), Some("Contoso OAuth"));
    assert_eq!(back.key_friendly_name(), Some("Contoso OAuth"));

    let info = openssl(&bytes, &["-info", "-noout", "-passin", "pass:P@ssw0rd"]);
    assert_eq!(info, "");
    let certs = openssl(&bytes, &["-nokeys", "-passin", "pass:P@ssw0rd"]);
    assert_eq!(certs.matches("BEGIN CERTIFICATE").count(), 3);
    let keys = openssl(&bytes, &["-nocerts", "-nodes", "-passin", "pass:P@ssw0rd"]);
    assert_eq!(keys.matches("BEGIN PRIVATE KEY").count(), 1);

    let leaf = source.leaf().expect("leaf").thumbprint();
    assert_eq!(python(&bytes, "P@ssw0rd"), format!("{leaf} 2048 2 Contoso OAuth"));
}

#[test]
fn legacy_export_is_3des_with_a_sha1_mac() {
    let source = import(DEFAULT, &password());
    let options = ExportOptions::default()
        .profile(ExportProfile::Legacy3DesSha1)
        .iterations(2000)
        .expect("valid")
        .friendly_name("Lync");
    let pw = Password::new("pässwörd🔑");
    let bytes = export(&source, &pw, &options);
    let back = import(&bytes, &pw);
    assert_eq!(back.leaf(), source.leaf());
    let tdes = EncryptionAlgorithm::Pbes1 { cipher: Pbes1Cipher::TripleDes3Key, iterations: 2000 };
    assert_eq!(back.protection().key, Some(tdes));
    assert_eq!(back.protection().certificates, vec![tdes]);
    assert_eq!(
        back.protection().mac,
        Some(MacAlgorithm::Hmac { digest: HashAlgorithm::Sha1, iterations: 2000 })
    );
    openssl(&bytes, &["-info", "-noout", "-passin", "pass:pässwörd🔑"]);
    let leaf = source.leaf().expect("leaf").thumbprint();
    assert_eq!(python(&bytes, "pässwörd🔑"), format!("{leaf} 2048 0 Lync"));
    assert_eq!(
        Pfx::import(&bytes, &password(), ImportOptions::default()).map(|_| ()),
        Err(PfxError::WrongPassword { check: PasswordCheck::Mac })
    );
}

#[test]
fn export_refuses_a_key_of_another_certificate() {
    let leaf = import(DEFAULT, &password());
    let other = import(NEXT, &password());
    let result = Pfx::export(
        leaf.leaf().expect("leaf"),
        other.private_key().expect("key"),
        &[],
        &password(),
        &ExportOptions::default(),
        &mut UnwrapErr(SysRng),
    );
    assert_eq!(result, Err(ExportError::KeyMismatch { thumbprint: leaf.leaf().expect("leaf").thumbprint() }));
    assert_eq!(ExportOptions::default().iterations(0), Err(ExportError::InvalidIterations { iterations: 0 }));
}

#[test]
fn import_refuses_a_key_that_matches_no_certificate() {
    let cert = import(DEFAULT, &password()).leaf().expect("leaf").thumbprint();
    assert_eq!(
        Pfx::import(MISMATCH, &password(), ImportOptions::default()).map(|_| ()),
        Err(PfxError::KeyMismatch { thumbprints: vec![cert] })
    );
}

#[test]
fn pbmac1_rfc_9579_vector_verifies() {
    let pfx = Pfx::import(RFC9579_A1, &Password::new("1234"), ImportOptions::default()).expect("A.1 imports");
    assert_eq!(
        pfx.leaf().map(|c| c.thumbprint().to_string()).as_deref(),
        Some("C163B90E8AEF556605DC1594980C34AD411A8D27")
    );
    assert_eq!(
        pfx.protection().mac,
        Some(MacAlgorithm::Pbmac1 {
            digest: HashAlgorithm::Sha256,
            prf: HashAlgorithm::Sha256,
            iterations: 2048
        })
    );
    assert_eq!(
        Pfx::import(RFC9579_A1, &Password::new("12345"), ImportOptions::default()).map(|_| ()),
        Err(PfxError::WrongPassword { check: PasswordCheck::Mac })
    );
    // A.4 of the RFC: the PBKDF2 iteration count changed (2048 -> 2049) makes the MAC fail.
    let mut tampered = RFC9579_A1.to_vec();
    let pbmac1_params = tampered.windows(4).rposition(|w| w == [0x02, 0x02, 0x08, 0x00]).expect("iterations");
    tampered[pbmac1_params + 3] = 0x01;
    assert_eq!(
        Pfx::import(&tampered, &Password::new("1234"), ImportOptions::default()).map(|_| ()),
        Err(PfxError::WrongPassword { check: PasswordCheck::Mac })
    );
}

#[test]
fn secrets_stay_out_of_debug_and_errors() {
    let pw = Password::new("P@ssw0rd");
    assert_eq!(format!("{pw:?}"), "Password([redacted])");
    let pfx = import(DEFAULT, &pw);
    let debug = format!("{pfx:?}");
    assert!(!debug.contains("P@ssw0rd"));
    let key = pfx.private_key().expect("key");
    assert_eq!(format!("{key:?}"), "PrivateKey { algorithm: Rsa, bits: Some(2048), pkcs8: \"[redacted]\" }");
    let err = Pfx::import(DEFAULT, &Password::new("hunter2"), ImportOptions::default()).expect_err("wrong");
    assert!(!format!("{err} {err:?}").contains("hunter2"));
}
