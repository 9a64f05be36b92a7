//! Every PFX fixture imports to exactly what OpenSSL, Java and Python `cryptography` recorded,
//! and every wrong password, truncation and bit flip ends in a typed error.

mod common;

use certslot::{
    ImportOptions, Password, Pfx, PfxError,
    pfx::{EncryptionAlgorithm, MacAlgorithm, PasswordCheck, Pbes1Cipher, Pbes2Cipher},
    x509::{HashAlgorithm, Sha256Fingerprint},
};
use common::pfx::FIXTURES;
use serde_json::Value;

fn expected() -> Value {
    serde_json::from_str(include_str!("data/pfx/expected.json")).expect("expected.json is JSON")
}

fn password(e: &Value) -> Password {
    e["password"].as_str().map_or_else(Password::empty, Password::new)
}

fn lenient() -> ImportOptions {
    ImportOptions::default().require_key(false).require_certificate(false)
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// Our description of an encryption, in the generator's notation.
fn scheme(alg: &EncryptionAlgorithm) -> (String, u64) {
    match alg {
        EncryptionAlgorithm::None => ("none".into(), 0),
        EncryptionAlgorithm::Pbes1 { cipher, iterations } => {
            let name = match cipher {
                Pbes1Cipher::Rc4_128 => "pbeWithSHAAnd128BitRC4",
                Pbes1Cipher::Rc4_40 => "pbeWithSHAAnd40BitRC4",
                Pbes1Cipher::TripleDes3Key => "pbeWithSHAAnd3-KeyTripleDES-CBC",
                Pbes1Cipher::TripleDes2Key => "pbeWithSHAAnd2-KeyTripleDES-CBC",
                Pbes1Cipher::Rc2_128 => "pbeWithSHAAnd128BitRC2-CBC",
                Pbes1Cipher::Rc2_40 => "pbeWithSHAAnd40BitRC2-CBC",
                other => panic!("unexpected {other:?}"),
            };
            (name.into(), u64::from(*iterations))
        }
        EncryptionAlgorithm::Pbes2 { cipher, prf, iterations } => {
            let prf = match prf {
                HashAlgorithm::Sha1 => "SHA1",
                HashAlgorithm::Sha256 => "SHA256",
                HashAlgorithm::Sha512 => "SHA512",
                other => panic!("unexpected {other:?}"),
            };
            let cipher = match cipher {
                Pbes2Cipher::Aes128Cbc => "aes128-CBC",
                Pbes2Cipher::Aes192Cbc => "aes192-CBC",
                Pbes2Cipher::Aes256Cbc => "aes256-CBC",
                Pbes2Cipher::DesEde3Cbc => "des-EDE3-CBC",
                other => panic!("unexpected {other:?}"),
            };
            (format!("PBES2/PBKDF2-hmacWith{prf}/{cipher}"), u64::from(*iterations))
        }
        other => panic!("unexpected {other:?}"),
    }
}

fn digest_name(d: &HashAlgorithm) -> &'static str {
    match d {
        HashAlgorithm::Sha1 => "sha1",
        HashAlgorithm::Sha224 => "sha224",
        HashAlgorithm::Sha256 => "sha256",
        HashAlgorithm::Sha384 => "sha384",
        HashAlgorithm::Sha512 => "sha512",
        HashAlgorithm::Sha512_224 => "sha512-224",
        HashAlgorithm::Sha512_256 => "sha512-256",
        HashAlgorithm::Sha3_224 => "sha3-224",
        HashAlgorithm::Sha3_256 => "sha3-256",
        HashAlgorithm::Sha3_384 => "sha3-384",
        HashAlgorithm::Sha3_512 => "sha3-512",
        HashAlgorithm::Blake2b512 => "blake2b512",
        HashAlgorithm::Blake2s256 => "blake2s256",
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn the_table_lists_every_recorded_file() {
    let e = expected();
    let mut recorded: Vec<&str> = e.as_object().expect("object").keys().map(String::as_str).collect();
    let mut table: Vec<&str> = FIXTURES.iter().map(|(n, _)| *n).collect();
    recorded.sort_unstable();
    table.sort_unstable();
    assert_eq!(table, recorded);
}

#[test]
fn every_file_imports_to_what_the_tools_recorded() {
    let expected = expected();
    for (name, bytes) in FIXTURES {
        let e = &expected[*name];
        let pfx = Pfx::import(bytes, &password(e), lenient()).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(
            pfx.leaf().map(|c| c.thumbprint().to_string()).as_deref(),
            e["leaf_sha1"].as_str(),
            "{name}"
        );
        let all: Vec<String> = pfx.certificates().map(|c| c.thumbprint().to_string()).collect();
        assert_eq!(all, strings(&e["all_cert_sha1"]), "{name}");
        let chain: Vec<String> = pfx.chain().iter().map(|c| c.thumbprint().to_string()).collect();
        let want_chain: Vec<String> =
            all.iter().filter(|t| Some(t.as_str()) != e["leaf_sha1"].as_str()).cloned().collect();
        assert_eq!(chain, want_chain, "{name}");

        assert_eq!(pfx.private_key().is_some(), e["has_key"] == Value::Bool(true), "{name}");
        if let Some(key) = pfx.private_key() {
            assert_eq!(key.algorithm().to_string(), e["key_algorithm"], "{name}");
            assert_eq!(key.bits().map(u64::from), e["key_bits"].as_u64(), "{name}");
            assert!(format!("{key:?}").contains("[redacted]"), "{name}");
            if let Some(leaf) = pfx.leaf() {
                let spki = leaf.public_key().expect("leaf key").spki_der().to_vec();
                assert_eq!(Sha256Fingerprint::of(&spki).to_string(), e["key_spki_sha256"], "{name}");
                assert_eq!(key.matches(leaf), Some(true), "{name}");
            }
        }

        // Friendly names: of each certificate bag, and of the first key bag.
        let bags = e["bags"].as_array().expect("bags");
        for bag in bags.iter().filter(|b| b["type"] == "certBag") {
            let cert = pfx
                .certificates()
                .find(|c| Value::String(c.thumbprint().to_string()) == bag["cert_sha1"])
                .unwrap_or_else(|| panic!("{name}: certificate {}", bag["cert_sha1"]));
            assert_eq!(pfx.friendly_name(cert), bag["friendly_name"].as_str(), "{name}");
        }
        if let Some(key_bag) =
            bags.iter().find(|b| b["type"] == "keyBag" || b["type"] == "pkcs8ShroudedKeyBag")
        {
            assert_eq!(pfx.key_friendly_name(), key_bag["friendly_name"].as_str(), "{name}");
        }

        let protection = pfx.protection();
        match (&protection.mac, e["mac"].as_object()) {
            (None, None) => {}
            (Some(MacAlgorithm::Hmac { digest, iterations }), Some(mac)) => {
                assert_eq!(digest_name(digest), mac["digest"], "{name}");
                assert_eq!(u64::from(*iterations), mac["iterations"].as_u64().unwrap_or(0), "{name}");
            }
            (got, want) => panic!("{name}: MAC {got:?} vs {want:?}"),
        }
        if let Some(cert_enc) = e["cert_encryption"].as_object() {
            let (scheme_name, iterations) = scheme(protection.certificates.first().expect("certificates"));
            assert_eq!(scheme_name, cert_enc["scheme"], "{name}");
            assert_eq!(iterations, cert_enc["iterations"].as_u64().unwrap_or(0), "{name}");
        } else {
            assert_eq!(protection.certificates, vec![], "{name}");
        }
        if let Some(key_enc) = e["key_encryption"].as_object() {
            let (scheme_name, iterations) = scheme(protection.key.as_ref().expect("key"));
            assert_eq!(scheme_name, key_enc["scheme"], "{name}");
            assert_eq!(iterations, key_enc["iterations"].as_u64().unwrap_or(0), "{name}");
        } else {
            assert_eq!(protection.key, None, "{name}");
        }
    }
}

#[test]
fn wrong_passwords_are_reported_as_such() {
    let expected = expected();
    for (name, bytes) in FIXTURES {
        let e = &expected[*name];
        let has_mac = e["mac"].is_object();
        let encrypted = e["cert_encryption"]["scheme"].as_str().is_some_and(|s| s != "none")
            || e["key_encryption"]["scheme"].as_str().is_some_and(|s| s != "none");
        if !has_mac && !encrypted {
            continue;
        }
        let wrong = Password::new("not the password \u{1F511}");
        let err = Pfx::import(bytes, &wrong, lenient()).expect_err(name);
        let check = if has_mac { PasswordCheck::Mac } else { PasswordCheck::Decryption };
        assert_eq!(err, PfxError::WrongPassword { check }, "{name}");
        assert!(!format!("{err} {err:?}").contains("not the password"), "{name}");
    }
}

#[test]
fn truncations_and_bit_flips_end_in_typed_errors() {
    let expected = expected();
    // The 600,000-iteration file costs seconds per attempt and takes the same paths as the rest.
    for (name, bytes) in FIXTURES.iter().filter(|(n, _)| !n.contains("600000")) {
        let e = &expected[*name];
        let pw = password(e);
        let options = lenient().threads(1);
        for cut in [0, 1, 2, 4, 16, bytes.len() / 3, bytes.len() / 2, bytes.len() - 1] {
            let err = Pfx::import(&bytes[..cut], &pw, options).expect_err(name);
            assert!(matches!(err, PfxError::Corrupt(_)), "{name} cut at {cut}: {err:?}");
        }
        // Flip one bit at positions spread over the file: never a panic. With a MAC every flip is
        // a typed error (the MAC covers the contents; the outer structure and the MAC data are
        // checked); without one, a flip inside a certificate may still read.
        let has_mac = e["mac"].is_object();
        for i in 0..24 {
            let pos = (bytes.len() * i) / 24;
            let mut flipped = bytes.to_vec();
            flipped[pos] ^= 0x10;
            let result = Pfx::import(&flipped, &pw, options);
            assert!(!has_mac || result.is_err(), "{name}: flip at {pos} imported");
        }
    }
}

/// The MACs `openssl pkcs12 -export -macalg` writes beyond SHA-1 and SHA-2, by fixture.
const SHA3_AND_BLAKE2_MACS: [(&str, HashAlgorithm, &str); 6] = [
    ("openssl3-mac-sha3-224.pfx", HashAlgorithm::Sha3_224, "SHA3-224"),
    ("openssl3-mac-sha3-256.pfx", HashAlgorithm::Sha3_256, "SHA3-256"),
    ("openssl3-mac-sha3-384.pfx", HashAlgorithm::Sha3_384, "SHA3-384"),
    ("openssl3-mac-sha3-512.pfx", HashAlgorithm::Sha3_512, "SHA3-512"),
    ("openssl3-mac-blake2b512.pfx", HashAlgorithm::Blake2b512, "BLAKE2b-512"),
    ("openssl3-mac-blake2s256.pfx", HashAlgorithm::Blake2s256, "BLAKE2s-256"),
];

#[test]
fn sha3_and_blake2_macs_verify_and_name_their_hash() {
    let expected = expected();
    for (name, digest, display) in SHA3_AND_BLAKE2_MACS {
        let e = &expected[name];
        let pfx = Pfx::import(fixture(name), &Password::new("P@ssw0rd"), ImportOptions::default())
            .unwrap_or_else(|err| panic!("{name}: {err}"));
        // The rsa2048 leaf and key of every openssl3-mac-* file, as Python `cryptography` read it.
        assert_eq!(
            pfx.leaf().map(|c| c.thumbprint().to_string()).as_deref(),
            Some("3BF702B601477250F70E61E287798983087DA4AB"),
            "{name}"
        );
        assert_eq!(e["leaf_sha1"], "3BF702B601477250F70E61E287798983087DA4AB", "{name}");
        assert_eq!(e["python_view"]["given"]["cert"]["sha1"], e["leaf_sha1"], "{name}");
        assert_eq!(
            pfx.private_key().map(|k| (k.algorithm().to_string(), k.bits())),
            Some(("rsa".to_owned(), Some(2048))),
            "{name}"
        );
        assert_eq!(pfx.protection().mac, Some(MacAlgorithm::Hmac { digest, iterations: 2048 }), "{name}");
        assert_eq!(digest.to_string(), display, "{name}");
        assert_eq!(
            pfx.protection().to_string(),
            format!(
                "key: AES-256-CBC, PBKDF2-HMAC-SHA-256, 2048 iterations; certificates: AES-256-CBC, \
                 PBKDF2-HMAC-SHA-256, 2048 iterations; integrity: {display} MAC, 2048 iterations"
            ),
            "{name}"
        );
        assert_eq!(
            Pfx::import(fixture(name), &Password::new("P@ssw0rd!"), ImportOptions::default()).map(|_| ()),
            Err(PfxError::WrongPassword { check: PasswordCheck::Mac }),
            "{name}"
        );
    }
}

fn fixture(name: &str) -> &'static [u8] {
    FIXTURES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b).expect("known fixture")
}

#[test]
fn iteration_limits_bound_the_work() {
    let pw = Password::new("P@ssw0rd");
    let bytes = fixture("openssl3-iter-600000.pfx");
    assert_eq!(
        Pfx::import(bytes, &pw, ImportOptions::default().max_iterations(100_000)).map(|_| ()),
        Err(PfxError::TooManyIterations { context: "MAC", iterations: 600_000, max: 100_000 })
    );
    assert_eq!(
        Pfx::import(bytes, &pw, ImportOptions::default().max_total_iterations(1_000_000)).map(|_| ()),
        Err(PfxError::TooMuchWork { iterations: 1_200_000, max: 1_000_000 })
    );
    let legacy = fixture("keytool-legacy.pfx");
    assert_eq!(
        Pfx::import(legacy, &pw, ImportOptions::default().max_iterations(60_000)).map(|_| ()),
        Err(PfxError::TooManyIterations { context: "MAC", iterations: 100_000, max: 60_000 })
    );
}

#[test]
fn required_parts() {
    let pw = Password::new("P@ssw0rd");
    assert_eq!(
        Pfx::import(fixture("openssl3-certs-only.pfx"), &pw, ImportOptions::default()).map(|_| ()),
        Err(PfxError::NoPrivateKey)
    );
    assert_eq!(
        Pfx::import(fixture("openssl3-key-only.pfx"), &pw, ImportOptions::default()).map(|_| ()),
        Err(PfxError::NoCertificate)
    );
    let key_only = Pfx::import(
        fixture("openssl3-key-only.pfx"),
        &pw,
        ImportOptions::default().require_certificate(false),
    )
    .expect("key only allowed");
    assert!(key_only.leaf().is_none());
}

#[test]
fn the_same_result_on_one_thread_and_two() {
    for name in [
        "openssl3-default.pfx",
        "openssl3-legacy.pfx",
        "keytool-two-entries.pfx",
        "openssl3-legacy-empty-password.pfx",
    ] {
        let e = &expected()[name];
        let one = Pfx::import(fixture(name), &password(e), lenient().threads(1)).expect(name);
        let two = Pfx::import(fixture(name), &password(e), lenient().threads(2)).expect(name);
        assert_eq!(one.leaf(), two.leaf(), "{name}");
        assert_eq!(one.protection(), two.protection(), "{name}");
        assert_eq!(
            one.private_key().map(|k| k.pkcs8_der().to_vec()),
            two.private_key().map(|k| k.pkcs8_der().to_vec()),
            "{name}"
        );
    }
}

#[test]
fn not_a_pfx() {
    let cert = include_bytes!("data/rsa2048.der");
    assert!(matches!(Pfx::import(cert, &Password::empty(), lenient()), Err(PfxError::Corrupt(_))));
    assert_eq!(
        Pfx::import(&[0x30, 0x03, 0x02, 0x01, 0x02], &Password::empty(), lenient()).map(|_| ()),
        Err(PfxError::UnsupportedVersion { version: 2 })
    );
    assert!(matches!(Pfx::import(&[], &Password::empty(), lenient()), Err(PfxError::Corrupt(_))));
}

/// A file that proves nothing about its password (no MAC, or a key in the clear) opens under any
/// password; `require_protection` refuses it, and every default file of the tools passes.
#[test]
fn require_protection_refuses_files_that_do_not_depend_on_the_password() {
    let strict = ImportOptions::default().require_protection(true);
    let any = Password::new("not the password");
    for (name, missing) in [
        ("openssl3-unencrypted-nomac.pfx", "it has no integrity MAC"),
        ("openssl3-nomac.pfx", "it has no integrity MAC"),
        ("openssl3-nomac-encrypted.pfx", "it has no integrity MAC"),
    ] {
        let password =
            if name == "openssl3-unencrypted-nomac.pfx" { any.clone() } else { Password::new("P@ssw0rd") };
        let e = Pfx::import(fixture(name), &password, strict).unwrap_err();
        assert_eq!(e, PfxError::NotProtected { missing }, "{name}");
    }
    // The unprotected file opens under any password without the requirement.
    assert!(Pfx::import(fixture("openssl3-unencrypted-nomac.pfx"), &any, ImportOptions::default()).is_ok());
    // A MAC, but the key in a plain keyBag.
    let e = Pfx::import(fixture("openssl3-unencrypted.pfx"), &Password::new("P@ssw0rd"), strict).unwrap_err();
    assert_eq!(e, PfxError::NotProtected { missing: "its private key is not encrypted" });
    assert_eq!(e.to_string(), "the file is not protected by its password: its private key is not encrypted");
    for name in ["openssl3-default.pfx", "openssl3-legacy.pfx", "python-aes256.pfx", "keytool-default.pfx"] {
        let e = &expected()[name];
        Pfx::import(fixture(name), &password(e), strict).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
}
