//! Private keys: what certslot generates and writes is checked by `openssl` and Python
//! `cryptography`; what they write (tests/data/keys/, made by gen_keys.py) is read by certslot
//! to the values they recorded; wrong passwords, unsupported sizes and odd PEM end in typed errors.

#[path = "common/tools.rs"]
mod tools;

use certslot::rand_core::UnwrapErr;
use certslot::{
    ImportOptions, Password, Pfx, PrivateKey,
    pfx::{KeyError, PasswordCheck, Pkcs8Options},
    x509::{Curve, KeyAlgorithm},
};
use getrandom::SysRng;
use serde_json::Value;
use sha2::Digest as _;
use tools::TempDir;
use zeroize::Zeroizing;

const PASSWORD: &str = "P@ssw0rd";
const PW_NONASCII: &str = "pässwörd🔑";

macro_rules! key_files {
    ($($name:literal),* $(,)?) => {
        /// (file name under tests/data/keys, bytes) of every fixture recorded in expected.json.
        const FILES: &[(&str, &[u8])] = &[$(($name, include_bytes!(concat!("data/keys/", $name)))),*];
    };
}

key_files!(
    "openssl-rsa2048-pkcs8.pem",
    "openssl-rsa2048-pkcs8.der",
    "openssl-rsa2048-pkcs1.pem",
    "openssl-rsa2048-pkcs1.der",
    "openssl-rsa2048-aes256.pem",
    "openssl-rsa2048-aes256.der",
    "openssl-rsa2048-nonascii.pem",
    "openssl-rsa2048-aes128-sha1.pem",
    "openssl-rsa2048-des3-pbes2.pem",
    "openssl-rsa2048-pbe-sha1-3des.pem",
    "openssl-rsa2048-legacy-des3.pem",
    "python-rsa2048-best.pem",
    "openssl-rsa3072-iter-600000.pem",
    "openssl-rsa4096-genpkey-aes256.pem",
    "openssl-ec-p256-pkcs8.pem",
    "openssl-ec-p256-sec1.pem",
    "openssl-ec-p256-sec1.der",
    "openssl-ec-p256-aes256.der",
    "python-ec-p256-best.der",
    "python-ec-p256-traditional.pem",
    "openssl-ec-p384-genpkey-aes256.pem",
    "python-ec-p384-best.pem",
    "openssl-ec-p384-ecparam.pem",
    "openssl-ec-p521-pkcs8.pem",
    "openssl-ed25519-pkcs8.pem",
    "openssl-rsa-pss-pkcs8.pem",
);

fn file(name: &str) -> &'static [u8] {
    FILES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).expect("known fixture")
}

fn expected() -> Value {
    serde_json::from_str(include_str!("data/keys/expected.json")).expect("expected.json is JSON")
}

fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02X}")).collect()
}

/// Runs `openssl` with `args`, returning stdout.
fn openssl(args: &[&str]) -> Vec<u8> {
    tools::run("openssl", args, b"")
}

/// Loads a key with Python `cryptography` (`load_pem_private_key` or `load_der_private_key`, with
/// the password as UTF-8), returning the hex of its SubjectPublicKeyInfo DER.
fn python_public_key(bytes: &[u8], pem: bool, password: &str) -> String {
    let script = r#"
import sys
from cryptography.hazmat.primitives import serialization
data = sys.stdin.buffer.read()
load = serialization.load_pem_private_key if sys.argv[1] == "pem" else serialization.load_der_private_key
key = load(data, sys.argv[2].encode())
spki = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
print(spki.hex().upper())
"#;
    tools::python(script, &[if pem { "pem" } else { "der" }, password], bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

#[test]
fn generated_keys_have_their_size_and_openssl_checks_them() {
    let dir = TempDir::new("generated");
    let mut rng = rng();
    let mut keys = Vec::new();
    for bits in PrivateKey::RSA_SIZES {
        keys.push((PrivateKey::generate_rsa(bits, &mut rng).expect("generates"), KeyAlgorithm::Rsa, bits));
    }
    for curve in PrivateKey::EC_CURVES {
        let bits = curve.bits().expect("named curve");
        keys.push((
            PrivateKey::generate_ec(curve, &mut rng).expect("generates"),
            KeyAlgorithm::Ec(curve),
            bits,
        ));
    }
    assert_eq!(keys.len(), 5);
    for (key, algorithm, bits) in keys {
        assert_eq!((key.algorithm(), key.bits()), (algorithm, Some(bits)));
        let pem: Zeroizing<String> = key.to_pkcs8_pem();
        let path = dir.write(&format!("{algorithm}-{bits}.pem"), pem.as_bytes());
        assert_eq!(
            openssl(&["pkey", "-in", &path, "-check", "-noout"]),
            b"Key is valid\n",
            "{algorithm} {bits}"
        );
        let public = openssl(&["pkey", "-in", &path, "-pubout", "-outform", "DER"]);
        assert_eq!(key.public_key_der().expect("public key"), public, "{algorithm} {bits}");
        let text = String::from_utf8(openssl(&["pkey", "-in", &path, "-noout", "-text"])).expect("UTF-8");
        match algorithm {
            KeyAlgorithm::Rsa => {
                assert!(text.starts_with(&format!("Private-Key: ({bits} bit, 2 primes)\n")), "{text}");
                assert!(text.contains("\npublicExponent: 65537 (0x10001)\n"), "{text}");
            }
            _ => {
                assert!(text.starts_with(&format!("Private-Key: ({bits} bit)\n")), "{text}");
                assert!(text.contains(&format!("\nNIST CURVE: P-{bits}\n")), "{text}");
            }
        }
        // OpenSSL writes the same PKCS #8 back, byte for byte; the DER export is the same bytes.
        assert_eq!(openssl(&["pkey", "-in", &path]), pem.as_bytes(), "{algorithm} {bits}");
        let der: Zeroizing<Vec<u8>> = key.to_pkcs8_der();
        assert_eq!(der.as_slice(), key.pkcs8_der());
    }
}

#[test]
fn sizes_and_curves_other_than_the_allowed_ones_are_refused() {
    for bits in [0, 512, 1024, 2047, 2049, 8192] {
        let result = PrivateKey::generate_rsa(bits, &mut rng()).map(|_| ());
        assert_eq!(result, Err(KeyError::UnsupportedRsaSize { bits, allowed: &[2048, 3072, 4096] }));
    }
    assert_eq!(
        PrivateKey::generate_rsa(1024, &mut rng()).map(|_| ()).map_err(|e| e.to_string()),
        Err("RSA keys of 1024 bits are not generated; allowed sizes: 2048, 3072, 4096".to_owned())
    );
    for curve in [Curve::P521, Curve::P224, Curve::Secp256k1, Curve::BrainpoolP256r1, Curve::Explicit] {
        let result = PrivateKey::generate_ec(curve, &mut rng()).map(|_| ());
        assert_eq!(result, Err(KeyError::UnsupportedCurve { curve, allowed: &[Curve::P256, Curve::P384] }));
    }
}

#[test]
fn plain_pkcs8_is_what_openssl_writes_byte_for_byte() {
    for name in ["openssl-rsa2048-pkcs8.pem", "openssl-ec-p256-pkcs8.pem", "openssl-ed25519-pkcs8.pem"] {
        let key = PrivateKey::from_pem(file(name), None).expect("reads");
        assert_eq!(key.to_pkcs8_pem().as_bytes(), file(name), "{name}");
    }
    // PKCS #1 wrapped into PKCS #8 is exactly OpenSSL's PKCS #8 of the same key.
    let pkcs8_der = file("openssl-rsa2048-pkcs8.der");
    let from_pkcs1 = PrivateKey::from_pem(file("openssl-rsa2048-pkcs1.pem"), None).expect("reads");
    assert_eq!(from_pkcs1.to_pkcs8_der().as_slice(), pkcs8_der);
    let from_pkcs1_der = PrivateKey::from_pkcs1_der(file("openssl-rsa2048-pkcs1.der")).expect("reads");
    assert_eq!(from_pkcs1_der.to_pkcs8_der().as_slice(), pkcs8_der);
}

#[test]
fn encrypted_pkcs8_is_read_by_openssl_and_python() {
    let dir = TempDir::new("encrypted");
    let rsa = PrivateKey::from_pem(file("openssl-rsa2048-pkcs8.pem"), None).expect("reads");
    let ec = PrivateKey::generate_ec(Curve::P256, &mut rng()).expect("generates");
    let cases = [
        ("rsa-default", &rsa, PASSWORD, Pkcs8Options::default()),
        ("ec-nonascii", &ec, PW_NONASCII, Pkcs8Options::default().iterations(2048).expect("valid")),
    ];
    for (name, key, password, options) in cases {
        let pw = Password::new(password);
        let pem = key.to_encrypted_pkcs8_pem(&pw, options, &mut rng()).expect("encrypts");
        let der = key.to_encrypted_pkcs8_der(&pw, options, &mut rng()).expect("encrypts");
        assert!(pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"), "{pem}");
        assert!(pem.ends_with("\n-----END ENCRYPTED PRIVATE KEY-----\n"), "{pem}");
        let public = key.public_key_der().expect("public key");
        let pem_path = dir.write(&format!("{name}.pem"), pem.as_bytes());
        let der_path = dir.write(&format!("{name}.der"), &der);
        let passin = format!("pass:{password}");
        for (path, form) in [(&pem_path, "PEM"), (&der_path, "DER")] {
            let args =
                ["pkey", "-inform", form, "-in", path, "-passin", &passin, "-pubout", "-outform", "DER"];
            assert_eq!(openssl(&args), public, "{name} {form}");
            let args = ["pkey", "-inform", form, "-in", path, "-passin", &passin];
            assert_eq!(openssl(&args), key.to_pkcs8_pem().as_bytes(), "{name} {form}");
        }
        assert_eq!(python_public_key(pem.as_bytes(), true, password), hex(&public), "{name}");
        assert_eq!(python_public_key(&der, false, password), hex(&public), "{name}");

        // RFC 8018 PBES2: PBKDF2 with HMAC-SHA256, AES-256-CBC, the iterations asked for, a
        // 16-octet salt and IV.
        let asn1 =
            String::from_utf8(openssl(&["asn1parse", "-inform", "DER", "-in", &der_path])).expect("UTF-8");
        let objects: Vec<&str> =
            asn1.lines().filter_map(|l| l.split("OBJECT            :").nth(1)).map(str::trim).collect();
        assert_eq!(objects, ["PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc"], "{asn1}");
        let integers: Vec<u32> = asn1
            .lines()
            .filter_map(|l| l.split("INTEGER           :").nth(1))
            .map(|v| u32::from_str_radix(v.trim(), 16).expect("hex"))
            .collect();
        assert_eq!(integers, [options.iteration_count()], "{asn1}");
        let octets: Vec<usize> =
            asn1.lines().filter_map(|l| l.split("[HEX DUMP]:").nth(1)).map(|v| v.trim().len() / 2).collect();
        assert_eq!(octets.get(..2), Some(&[16, 16][..]), "salt and IV: {asn1}");

        let back = PrivateKey::from_encrypted_pkcs8_der(&der, &pw).expect("certslot reads it back");
        assert_eq!(back.pkcs8_der(), key.pkcs8_der());
        let back = PrivateKey::from_pem(pem.as_bytes(), Some(&pw)).expect("certslot reads it back");
        assert_eq!(back.pkcs8_der(), key.pkcs8_der());
    }
}

/// Reads a fixture the way its form calls for.
fn read(name: &str, password: Option<&Password>) -> Result<PrivateKey, KeyError> {
    let bytes = file(name);
    if name.ends_with(".pem") {
        return PrivateKey::from_pem(bytes, password);
    }
    match password {
        Some(password) => PrivateKey::from_encrypted_pkcs8_der(bytes, password),
        None if name.contains("pkcs1") => PrivateKey::from_pkcs1_der(bytes),
        None if name.contains("sec1") => PrivateKey::from_sec1_der(bytes),
        None => Ok(PrivateKey::from_pkcs8_der(bytes).expect("reads")),
    }
}

#[test]
fn keys_written_by_openssl_and_python_read_to_the_recorded_values() {
    let expected = expected();
    let entries = expected.as_object().expect("object");
    assert_eq!(entries.len(), FILES.len());
    let mut read_count = 0;
    for (name, e) in entries {
        let password = e["password"].as_str().map(Password::new);
        let result = read(name, password.as_ref());
        if let Some(dek_info) = e["legacy_dek_info"].as_str() {
            let label = e["key_label"].as_str().expect("label").to_owned();
            assert_eq!(
                result.map(|_| ()),
                Err(KeyError::LegacyPemEncryption { label, dek_info: dek_info.into() })
            );
            continue;
        }
        let key = result.unwrap_or_else(|err| panic!("{name}: {err}"));
        read_count += 1;
        assert_eq!(key.algorithm().to_string(), e["algorithm"].as_str().expect("algorithm"), "{name}");
        let curve = match key.algorithm() {
            KeyAlgorithm::Ec(curve) => Some(curve.to_string()),
            _ => None,
        };
        assert_eq!(curve.as_deref(), e["curve"].as_str(), "{name}");
        assert_eq!(key.bits().map(u64::from), e["bits"].as_u64(), "{name}");
        let recorded = e["public_key_sha256"].as_str().expect("sha256");
        match key.public_key_der() {
            Ok(public) => assert_eq!(sha256_hex(&public), recorded, "{name}"),
            // OpenSSL's Ed25519 PKCS #8 does not carry the public key.
            Err(err) => assert_eq!(
                (name.as_str(), err),
                ("openssl-ed25519-pkcs8.pem", KeyError::NoPublicKey { algorithm: KeyAlgorithm::Ed25519 })
            ),
        }
    }
    assert_eq!(read_count, 25);
}

#[test]
fn a_wrong_or_missing_password_is_a_typed_error() {
    let wrong = Password::new("wrong");
    // PKCS #8 has no MAC: the padding shows the password wrong. (A regenerated fixture has a
    // 1-in-256 chance of valid padding under the wrong password; then KeyStructure shows it.)
    for name in [
        "openssl-rsa2048-aes256.pem",
        "openssl-rsa2048-aes256.der",
        "openssl-rsa2048-nonascii.pem",
        "openssl-rsa2048-aes128-sha1.pem",
        "openssl-rsa2048-des3-pbes2.pem",
        "openssl-rsa2048-pbe-sha1-3des.pem",
        "python-rsa2048-best.pem",
        "openssl-ec-p256-aes256.der",
        "python-ec-p256-best.der",
        "openssl-ec-p384-genpkey-aes256.pem",
    ] {
        let result = read(name, Some(&wrong)).map(|_| ());
        assert_eq!(result, Err(KeyError::WrongPassword { check: PasswordCheck::Padding }), "{name}");
    }
    assert_eq!(
        PrivateKey::from_pem(file("openssl-rsa2048-aes256.pem"), None).map(|_| ()),
        Err(KeyError::PasswordRequired { label: "ENCRYPTED PRIVATE KEY".into() })
    );
    // An empty password is a password: tried, and wrong.
    assert_eq!(
        PrivateKey::from_pem(file("openssl-rsa2048-pbe-sha1-3des.pem"), Some(&Password::empty())).map(|_| ()),
        Err(KeyError::WrongPassword { check: PasswordCheck::Padding })
    );
    assert_eq!(
        KeyError::WrongPassword { check: PasswordCheck::Padding }.to_string(),
        "wrong password (the decrypted padding does not check)"
    );
}

#[test]
fn a_corrupted_encrypted_key_is_a_typed_error() {
    let der = file("openssl-rsa2048-aes256.der");
    let password = Password::new(PASSWORD);
    let len = der.len();
    let truncated = der.get(..len - 1).expect("shorter");
    assert_eq!(
        PrivateKey::from_encrypted_pkcs8_der(truncated, &password).map(|_| ()),
        Err(KeyError::Corrupt(certslot::ParseError::Truncated {
            offset: 0,
            what: "EncryptedPrivateKeyInfo",
            needed: len,
            available: len - 1
        }))
    );
    let flipped = |at: usize| {
        let mut bytes = der.to_vec();
        bytes[at] ^= 0x01;
        PrivateKey::from_encrypted_pkcs8_der(&bytes, &password).map(|_| ())
    };
    // CBC: a bit of the second-to-last block flips the same bit of the padding.
    assert_eq!(flipped(len - 17), Err(KeyError::WrongPassword { check: PasswordCheck::Padding }));
    // A bit in the middle garbles a block inside one of the key's numbers (a prime): the padding
    // and the DER still check, the key's consistency does not.
    assert_eq!(flipped(len - 600), Err(KeyError::WrongPassword { check: PasswordCheck::KeyStructure }));
}

#[test]
fn iteration_counts_are_bounded_on_import_and_export() {
    let options = ImportOptions::default().max_iterations(100_000);
    let high = file("openssl-rsa3072-iter-600000.pem");
    assert_eq!(
        PrivateKey::from_pem_with(high, Some(&Password::new(PASSWORD)), options).map(|_| ()),
        Err(KeyError::TooManyIterations { context: "PBES2", iterations: 600_000, max: 100_000 })
    );
    assert_eq!(Pkcs8Options::default().iteration_count(), 600_000);
    for iterations in [0, 10_000_001, u32::MAX] {
        assert_eq!(
            Pkcs8Options::default().iterations(iterations),
            Err(KeyError::InvalidIterations { iterations, min: 1, max: 10_000_000 })
        );
    }
    assert_eq!(Pkcs8Options::default().iterations(10_000_000).map(|o| o.iteration_count()), Ok(10_000_000));
}

#[test]
fn pem_text_without_exactly_one_key_is_a_typed_error() {
    let cert = include_bytes!("data/rsa2048.pem");
    assert_eq!(
        PrivateKey::from_pem(cert, None).map(|_| ()),
        Err(KeyError::NoPrivateKey { labels: vec!["CERTIFICATE".into()] })
    );
    let mut two = file("openssl-rsa2048-pkcs1.pem").to_vec();
    two.extend_from_slice(cert);
    two.extend_from_slice(file("openssl-ec-p256-sec1.pem"));
    assert_eq!(
        PrivateKey::from_pem(&two, None).map(|_| ()),
        Err(KeyError::SeveralPrivateKeys { labels: vec!["RSA PRIVATE KEY".into(), "EC PRIVATE KEY".into()] })
    );
    // A certificate beside the key is skipped.
    let mut with_cert = cert.to_vec();
    with_cert.extend_from_slice(file("openssl-ec-p256-pkcs8.pem"));
    let key = PrivateKey::from_pem(&with_cert, None).expect("reads");
    assert_eq!(key.algorithm(), KeyAlgorithm::Ec(Curve::P256));
    let unterminated = b"-----BEGIN PRIVATE KEY-----\nMIIB\n";
    assert_eq!(
        PrivateKey::from_pem(unterminated, None).map(|_| ()),
        Err(KeyError::Corrupt(certslot::ParseError::PemUnterminated {
            label: "PRIVATE KEY".into(),
            line: 1
        }))
    );
}

#[test]
fn a_pfx_key_round_trips_through_encrypted_pkcs8_and_still_matches_its_certificate() {
    let pfx = Pfx::import(
        include_bytes!("data/pfx/openssl3-ec-p256.pfx"),
        &Password::new(PASSWORD),
        ImportOptions::default(),
    )
    .expect("imports");
    let (leaf, key) = (pfx.leaf().expect("leaf"), pfx.private_key().expect("key"));
    let options = Pkcs8Options::default().iterations(2048).expect("valid");
    let der = key.to_encrypted_pkcs8_der(&Password::new(PASSWORD), options, &mut rng()).expect("encrypts");
    let back = PrivateKey::from_encrypted_pkcs8_der(&der, &Password::new(PASSWORD)).expect("reads");
    assert_eq!(back.matches(leaf), Some(true));
    let spki = leaf.public_key().expect("public key");
    assert_eq!(back.public_key_der().expect("public key"), spki.spki_der());
    let other = PrivateKey::generate_ec(Curve::P256, &mut rng()).expect("generates");
    assert_eq!(other.matches(leaf), Some(false));
}

#[test]
fn debug_output_never_shows_the_key() {
    let key = PrivateKey::from_pem(file("openssl-ec-p256-pkcs8.pem"), None).expect("reads");
    assert_eq!(
        format!("{key:?}"),
        "PrivateKey { algorithm: Ec(P256), bits: Some(256), pkcs8: \"[redacted]\" }"
    );
    let password = Password::new(PASSWORD);
    assert_eq!(format!("{password:?}"), "Password([redacted])");
}
