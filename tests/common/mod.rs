//! Fixtures shared by the integration tests: every certificate made by `tests/data/gen_certs.py`,
//! compiled in, and the values the generator recorded with OpenSSL and Python `cryptography`.
#![allow(dead_code)]

pub mod chains;
pub mod pfx;

use certslot::Certificate;
use serde_json::Value;

macro_rules! fixtures {
    ($($name:literal),* $(,)?) => {
        /// (name, DER bytes, PEM bytes) of every single-certificate fixture.
        pub const FIXTURES: &[(&str, &[u8], &[u8])] = &[
            $(($name, include_bytes!(concat!("../data/", $name, ".der")), include_bytes!(concat!("../data/", $name, ".pem")))),*
        ];
    };
}

fixtures!(
    "root-ca",
    "intermediate-ca",
    "rsa2048",
    "rsa1024",
    "rsa3072",
    "rsa4096",
    "rsa512",
    "rsa8704",
    "ec-p256",
    "ec-p384",
    "ec-p521",
    "ed25519",
    "ed448",
    "ec-explicit",
    "rsa-pss",
    "dsa2048",
    "expired",
    "not-yet-valid",
    "pre1970",
    "post2049",
    "year9999",
    "pre1950",
    "no-san",
    "wildcard",
    "idn",
    "multi-rdn",
    "strings",
    "ku-no-digsig",
    "eku-client-only",
    "no-ku-eku",
    "ku-critical-eku-server",
    "sha1-signed",
    "v1",
    "serial-negative",
    "serial-zero",
    "serial-long",
    "ext-unknown",
    "ext-malformed-ku",
    "ext-malformed-san",
    "san-utf8",
    "san-latin1",
);

pub const CHAIN_PEM: &[u8] = include_bytes!("../data/chain.pem");
pub const TRUSTED_PEM: &[u8] = include_bytes!("../data/trusted.pem");
pub const PEM_HEADERS: &[u8] = include_bytes!("../data/pem-headers.pem");

/// The values `gen_certs.py` recorded, keyed by fixture name.
pub fn expected() -> Value {
    serde_json::from_str(include_str!("../data/expected.json")).expect("expected.json is JSON")
}

pub fn der(name: &str) -> &'static [u8] {
    FIXTURES.iter().find(|(n, _, _)| *n == name).map(|(_, der, _)| *der).expect("known fixture")
}

pub fn cert(name: &str) -> Certificate {
    Certificate::from_der(der(name)).expect("fixture parses")
}

pub fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
