//! The fixtures of `tests/data/chains/gen_chains.py` (signatures, bundles, chains), compiled in,
//! and the values the generator recorded with OpenSSL and Python `cryptography`.

use certslot::Certificate;
use serde_json::Value;

macro_rules! files {
    ($suffix:literal; $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("../data/chains/", $name, $suffix)) as &[u8])),*]
    };
}

/// (name, DER) of every certificate of `expected.json`'s `certificates`.
pub const CERTIFICATES: &[(&str, &[u8])] = files!(".der";
    "rsa-root",
    "rsa-intermediate",
    "rsa-leaf",
    "rsa-leaf-sha384",
    "rsa-leaf-sha512",
    "rsa-leaf-sha1",
    "rsa-leaf-pss",
    "rsa-leaf-pss-sha512",
    "rsa-leaf-pss-sha1",
    "pss-root",
    "pss-leaf",
    "ec-p256-root",
    "ec-p256-leaf",
    "ec-p256-leaf-sha512",
    "ec-p384-root",
    "ec-p384-leaf",
    "ec-p384-leaf-sha256",
    "ec-p256-leaf-sha1",
    "rsa-leaf-bad-signature",
    "ec-p256-leaf-bad-signature",
    "rsa-leaf-algorithm-mismatch",
    "rsa-intermediate-bad-signature",
    "rsa-intermediate-rekeyed",
    "cross-a",
    "cross-b",
    "cross-leaf",
    "renewal-root",
    "renewal-ca-old",
    "renewal-ca",
    "renewal-leaf",
    "renewal-leaf-old",
    "renewal-leaf-no-aki",
);

/// (file name, bytes) of every file of `expected.json`'s `bundles`.
pub const BUNDLES: &[(&str, &[u8])] = files!("";
    "chain.pem",
    "chain-shuffled.pem",
    "openssl.p7b",
    "openssl-p7b.pem",
    "python.p7b",
    "python-p7b.pem",
    "ber-indefinite.p7b",
    "ber-constructed.p7b",
    "certificate-label.pem",
    "chain-bad-intermediate.pem",
    "cross.pem",
    "renewed-intermediate.pem",
    "lenient.p7b",
    "not-signed-data.p7b",
    "empty.p7b",
    "crl-only.p7b",
    "cms-signed.p7b",
    "long-chain.pem",
    "renewed-ca.pem",
);

/// The values `gen_chains.py` recorded.
pub fn expected() -> Value {
    serde_json::from_str(include_str!("../data/chains/expected.json")).expect("expected.json is JSON")
}

/// A certificate fixture by name.
pub fn cert(name: &str) -> Certificate {
    let der = CERTIFICATES.iter().find(|(n, _)| *n == name).map(|(_, der)| *der).expect("known fixture");
    Certificate::from_der(der).expect("fixture parses")
}

/// A bundle file by name.
pub fn bundle(file: &str) -> &'static [u8] {
    BUNDLES.iter().find(|(n, _)| *n == file).map(|(_, bytes)| *bytes).expect("known bundle")
}
