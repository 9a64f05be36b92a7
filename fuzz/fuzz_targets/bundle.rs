#![no_main]
//! What a CA answers to a request (a DER certificate, PEM, PKCS #7 in DER, BER or PEM), every
//! fact of the certificates read, their signatures and the chain ordering.

mod common;

use certslot::{Certificate, x509::Chain};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = Certificate::from_bundle(data) {
        for cert in &certs {
            common::exercise(cert);
            let _ = cert.verify_signed_by(cert).map(|check| check.to_string());
        }
        if let Some(leaf) = certs.first() {
            if let Ok(chain) = Chain::order(leaf, &certs) {
                let _ = (chain.end().to_string(), chain.checks().len(), chain.unused().len());
            }
        }
    }
});
