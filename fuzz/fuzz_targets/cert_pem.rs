#![no_main]
//! PEM (and DER-or-PEM) certificate bundles and every fact read from them.

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = certslot::Certificate::from_der_or_pem(data) {
        for cert in &certs {
            common::exercise(cert);
        }
    }
    let _ = certslot::x509::FileFormat::detect(data);
});
