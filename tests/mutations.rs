//! Deterministic robustness: every fixture (certificates, PEM and PKCS #7 bundles, PFX files),
//! mutated by a fixed, seeded set of mutations (bit flips, truncations at every structural
//! boundary, length fields set to huge values, nesting repeated), ends in a typed error or a
//! correct result, never a panic, and the whole test runs within a time bound.

mod common;

use std::time::{Duration, Instant};

use certslot::{Certificate, ImportOptions, Password, Pfx, PfxError, PrivateKey, pfx::KeyError, x509::Chain};

macro_rules! files {
    ($dir:literal; $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("data/", $dir, $name)) as &[u8])),*]
    };
}

const CERTS: &[(&str, &[u8])] = files!("";
    "root-ca.der", "intermediate-ca.der", "rsa2048.der", "rsa1024.der", "rsa512.der", "rsa8704.der", "ec-p256.der",
    "ec-p521.der", "ed25519.der", "ed448.der", "ec-explicit.der", "rsa-pss.der", "dsa2048.der", "pre1970.der",
    "year9999.der", "pre1950.der", "idn.der", "multi-rdn.der", "strings.der", "v1.der", "serial-negative.der",
    "serial-long.der", "ext-unknown.der", "ext-malformed-ku.der", "ext-malformed-san.der", "san-utf8.der",
    "san-latin1.der", "chain.pem", "trusted.pem", "pem-headers.pem",
);

const KEYS: &[(&str, &[u8])] = files!("keys/";
    "openssl-rsa2048-aes256.der", "openssl-ec-p256-aes256.der", "python-ec-p256-best.der", "openssl-rsa2048-pkcs8.der",
    "openssl-rsa2048-pkcs1.der", "openssl-ec-p256-sec1.der", "openssl-rsa2048-aes256.pem",
    "openssl-rsa2048-pbe-sha1-3des.pem", "openssl-ec-p256-sec1.pem", "openssl-ec-p384-ecparam.pem",
    "openssl-rsa2048-legacy-des3.pem", "openssl-ed25519-pkcs8.pem",
);

/// Every PFX fixture, plus the two that `expected.json` does not list.
fn pfx_files() -> Vec<(&'static str, &'static [u8])> {
    let mut files = common::pfx::FIXTURES.to_vec();
    files.push(("mismatched-key.pfx", include_bytes!("data/pfx/mismatched-key.pfx")));
    files.push(("rfc9579/a1-sha256.p12", include_bytes!("data/pfx/rfc9579/a1-sha256.p12")));
    files
}

/// A small deterministic generator (SplitMix64), so the mutations are the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Start and end offsets of every definite-length item, and the offsets of long-form length
/// octets, found by walking the DER structure (stopping at anything that is not DER).
fn structure(input: &[u8]) -> (Vec<usize>, Vec<(usize, usize)>) {
    let mut boundaries = Vec::new();
    let mut long_lengths = Vec::new();
    let mut stack = vec![(0usize, input.len())];
    while let Some((mut pos, end)) = stack.pop() {
        while pos + 2 <= end {
            let tag = input[pos];
            let first = input[pos + 1];
            let (len, header) = if first < 0x80 {
                (first as usize, 2)
            } else if first == 0x80 || first > 0x84 {
                break;
            } else {
                let n = (first & 0x7F) as usize;
                if pos + 2 + n > end {
                    break;
                }
                long_lengths.push((pos + 2, n));
                (input[pos + 2..pos + 2 + n].iter().fold(0usize, |a, &b| a << 8 | b as usize), 2 + n)
            };
            let item_end = pos + header + len;
            if item_end > end {
                break;
            }
            boundaries.push(pos);
            boundaries.push(pos + header);
            boundaries.push(item_end);
            if tag & 0x20 != 0 {
                stack.push((pos + header, item_end));
            }
            pos = item_end;
        }
    }
    boundaries.sort_unstable();
    boundaries.dedup();
    (boundaries, long_lengths)
}

/// The mutations of one input: truncations at every boundary, huge lengths, seeded bit flips,
/// and the input nested in 64 SEQUENCEs.
fn mutations(input: &[u8], seed: u64) -> Vec<(String, Vec<u8>)> {
    let (boundaries, long_lengths) = structure(input);
    let mut out = Vec::new();
    for &b in boundaries.iter().filter(|&&b| b < input.len()) {
        out.push((format!("truncated at {b}"), input[..b].to_vec()));
    }
    for &(at, n) in &long_lengths {
        let mut m = input.to_vec();
        m[at..at + n].fill(0xFF);
        out.push((format!("huge length at {at}"), m));
    }
    let mut rng = Rng(seed);
    for _ in 0..32 {
        let pos = rng.below(input.len());
        let bit = rng.below(8);
        let mut m = input.to_vec();
        m[pos] ^= 1 << bit;
        out.push((format!("bit {bit} flipped at {pos}"), m));
    }
    let mut nested = input.to_vec();
    for _ in 0..64 {
        let len = nested.len();
        let mut wrapped = vec![0x30, 0x84];
        wrapped.extend_from_slice(&(len as u32).to_be_bytes());
        wrapped.extend_from_slice(&nested);
        nested = wrapped;
    }
    out.push(("nested 64 deep".into(), nested));
    out
}

#[test]
fn mutated_certificates_never_panic() {
    let start = Instant::now();
    let mut cases = 0;
    for (i, (name, bytes)) in CERTS.iter().enumerate() {
        for (what, m) in mutations(bytes, i as u64) {
            cases += 1;
            let result = Certificate::from_der_or_pem(&m);
            if what.starts_with("truncated") && name.ends_with(".der") {
                assert!(result.is_err(), "{name} {what}: a truncated certificate read");
            }
            // A mutation that still reads must give the facts without panicking.
            for cert in result.iter().flatten() {
                let _ = (cert.subject().to_string(), cert.public_key().map(|k| k.bits()), cert.dns_names());
                let _ = (cert.key_usage(), cert.extended_key_usage(), cert.basic_constraints());
            }
        }
    }
    assert!(cases > 2_000, "{cases} cases");
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
}

#[test]
fn mutated_pfx_files_never_panic() {
    let start = Instant::now();
    let options = ImportOptions::default().require_key(false).require_certificate(false).threads(1);
    let mut cases = 0;
    for (i, (name, bytes)) in pfx_files().into_iter().enumerate() {
        // The 600,000-iteration file costs a second an import and takes the same paths.
        if name.contains("600000") {
            continue;
        }
        for password in [Password::new("P@ssw0rd"), Password::empty()] {
            for (what, m) in mutations(bytes, 1000 + i as u64) {
                cases += 1;
                let result = Pfx::import(&m, &password, options);
                if what.starts_with("truncated") || what.starts_with("huge") || what.starts_with("nested") {
                    assert!(
                        matches!(result, Err(PfxError::Corrupt(_) | PfxError::UnsupportedVersion { .. })),
                        "{name} {what}: {result:?}"
                    );
                }
            }
        }
    }
    assert!(cases > 8_000, "{cases} cases");
    assert!(start.elapsed() < Duration::from_secs(60), "{:?}", start.elapsed());
}

/// Reads a key fixture (or its mutation) the way its form calls for.
fn read_key(
    name: &str,
    bytes: &[u8],
    password: &Password,
    options: ImportOptions,
) -> Result<PrivateKey, KeyError> {
    if name.ends_with(".pem") {
        PrivateKey::from_pem_with(bytes, Some(password), options)
    } else if name.contains("aes256") || name.contains("best") {
        PrivateKey::from_encrypted_pkcs8_der_with(bytes, password, options)
    } else if name.contains("pkcs1") {
        PrivateKey::from_pkcs1_der(bytes)
    } else if name.contains("sec1") {
        PrivateKey::from_sec1_der(bytes)
    } else {
        PrivateKey::from_pkcs8_der(bytes).map_err(|_| KeyError::BadPrivateKey { what: "PrivateKeyInfo" })
    }
}

#[test]
fn mutated_private_keys_never_panic() {
    let start = Instant::now();
    let password = Password::new("P@ssw0rd");
    let options = ImportOptions::default().max_iterations(4096);
    let mut cases = 0;
    for (i, (name, bytes)) in KEYS.iter().enumerate() {
        for (what, m) in mutations(bytes, 2000 + i as u64) {
            cases += 1;
            let result = read_key(name, &m, &password, options);
            // A mutation that still reads must give its facts without panicking.
            if let Ok(key) = &result {
                let _ = (key.public_key_der(), key.to_pkcs8_pem(), key.algorithm(), key.bits());
            }
            let structural = ["truncated", "huge", "nested"].iter().any(|s| what.starts_with(s));
            if structural && name.ends_with(".der") {
                let expected = if name.contains("aes256") || name.contains("best") {
                    matches!(result, Err(KeyError::Corrupt(_)))
                } else {
                    matches!(result, Err(KeyError::BadPrivateKey { .. }))
                };
                assert!(expected, "{name} {what}: {result:?}");
            }
        }
    }
    assert!(cases > 500, "{cases} cases");
    assert!(start.elapsed() < Duration::from_secs(20), "{:?}", start.elapsed());
}

#[test]
fn mutated_bundles_never_panic() {
    let start = Instant::now();
    let mut cases = 0;
    let inputs = common::chains::BUNDLES.iter().chain(common::chains::CERTIFICATES);
    for (i, (name, bytes)) in inputs.enumerate() {
        for (what, m) in mutations(bytes, 2000 + i as u64) {
            cases += 1;
            let result = Certificate::from_bundle(&m);
            if what.starts_with("truncated") && !name.ends_with(".pem") {
                assert!(result.is_err(), "{name} {what}: a truncated bundle read");
            }
            // What still reads is checked and ordered without panicking.
            let Ok(certs) = result else { continue };
            for cert in &certs {
                let _ =
                    (cert.subject().to_string(), cert.public_key().map(|k| k.bits()), cert.is_self_signed());
            }
            if let Some(leaf) = certs.first() {
                let _ = Chain::order(leaf, &certs).map(|c| (c.end().to_string(), c.checks().len()));
            }
        }
    }
    assert!(cases > 5_000, "{cases} cases");
    assert!(start.elapsed() < Duration::from_secs(30), "{:?}", start.elapsed());
}
