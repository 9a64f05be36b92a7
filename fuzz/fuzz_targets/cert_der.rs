#![no_main]
//! DER certificate parsing and every fact read from it.

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(cert) = certslot::Certificate::from_der(data) {
        assert_eq!(cert.der(), data, "the DER is kept as given");
        common::exercise(&cert);
    }
});
