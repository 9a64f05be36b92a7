#![no_main]
//! Thumbprint parsing from pasted text: `FromStr` and `Display` round-trip.

use certslot::{Thumbprint, x509::Sha256Fingerprint};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(t) = text.parse::<Thumbprint>() {
            assert_eq!(t.to_string().parse::<Thumbprint>(), Ok(t));
        }
        if let Ok(f) = text.parse::<Sha256Fingerprint>() {
            assert_eq!(f.to_string().parse::<Sha256Fingerprint>(), Ok(f));
        }
    }
});
