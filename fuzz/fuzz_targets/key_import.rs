#![no_main]
//! Private key import: PEM text (encrypted and plain PKCS #8, PKCS #1, SEC1) and DER (encrypted
//! PKCS #8, PKCS #8, PKCS #1, SEC1), with the fixtures' password. The iteration limit is lowered
//! so the fuzzer spends its time on structure, not on key derivations.

use certslot::{ImportOptions, Password, PrivateKey};
use libfuzzer_sys::fuzz_target;

fn exercise(key: &PrivateKey) {
    let _ = (key.algorithm(), key.bits());
    let _ = key.public_key_der();
    let _ = key.to_pkcs8_pem();
}

fuzz_target!(|data: &[u8]| {
    let options = ImportOptions::default().max_iterations(4096);
    let password = Password::new("P@ssw0rd");
    if let Ok(key) = PrivateKey::from_pem_with(data, Some(&password), options) {
        exercise(&key);
    }
    if let Ok(key) = PrivateKey::from_encrypted_pkcs8_der_with(data, &password, options) {
        exercise(&key);
    }
    for key in
        [PrivateKey::from_pkcs1_der(data).ok(), PrivateKey::from_sec1_der(data).ok()].into_iter().flatten()
    {
        exercise(&key);
    }
    if let Ok(key) = PrivateKey::from_pkcs8_der(data) {
        exercise(&key);
    }
});
