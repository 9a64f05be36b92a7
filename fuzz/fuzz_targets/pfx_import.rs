#![no_main]
//! PFX import with the fixtures' password and with none. The iteration limits are lowered so
//! the fuzzer spends its time on structure, not on key derivations; the limit checks themselves
//! are what keeps real imports bounded.

use certslot::{ImportOptions, Password, Pfx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let options = ImportOptions::default()
        .require_key(false)
        .require_certificate(false)
        .max_iterations(4096)
        .max_total_iterations(40_000)
        .threads(1);
    for password in [Password::new("P@ssw0rd"), Password::empty()] {
        if let Ok(pfx) = Pfx::import(data, &password, options) {
            let _ = pfx.protection().to_string();
            let _ = pfx.leaf().map(|c| c.subject().to_string());
            let _ = pfx.private_key().map(|k| (k.algorithm(), k.bits()));
            for cert in pfx.certificates() {
                let _ = pfx.friendly_name(cert);
            }
        }
    }
});
