//! Deterministic robustness: every fixture, mutated by a fixed, seeded set of mutations (bit
//! flips, truncations at every structural boundary, length fields set to huge values, nesting
//! repeated), ends in a typed error or a correct result, never a panic, and the whole test runs
//! within a time bound.

use std::time::{Duration, Instant};

use certslot::{Certificate, ImportOptions, Password, Pfx, PfxError};

macro_rules! files {
    ($dir:literal; $($name:literal),* $(,)?) => {
        &[$(($name, include_bytes!(concat!("data/", $dir, $name)) as &[u8])),*]
    };
}

const CERTS: &[(&str, &[u8])] = files!("";
    "root-ca.der", "intermediate-ca.der", "rsa2048.der", "rsa1024.der", "rsa512.der", "rsa8704.der", "ec-p256.der",
    "ec-p521.der", "ed25519.der", "ed448.der", "ec-explicit.der", "rsa-pss.der", "dsa2048.der", "pre1970.der",
    "year9999.der", "pre1950.der", "idn.der", "multi-rdn.der", "strings.der", "v1.der", "serial-negative.der",
    "serial-long.der", "ext-unknown.der", "ext-malformed-ku.der", "ext-malformed-san.der", "chain.pem",
    "trusted.pem", "pem-headers.pem",
);

const PFXS: &[(&str, &[u8])] = files!("pfx/";
    "openssl3-default.pfx",
    "openssl3-legacy.pfx",
    "openssl3-3des.pfx",
    "openssl3-2des.pfx",
    "openssl3-rc2-128.pfx",
    "openssl3-rc2-40.pfx",
    "openssl3-rc4-128.pfx",
    "openssl3-rc4-40.pfx",
    "openssl3-aes128.pfx",
    "openssl3-aes192.pfx",
    "openssl3-des3-pbes2.pfx",
    "openssl3-descert.pfx",
    "openssl3-mac-sha1.pfx",
    "openssl3-mac-sha224.pfx",
    "openssl3-mac-sha384.pfx",
    "openssl3-mac-sha512.pfx",
    "openssl3-mac-sha512-224.pfx",
    "openssl3-mac-sha512-256.pfx",
    "openssl3-nomac.pfx",
    "openssl3-nomac-encrypted.pfx",
    "openssl3-unencrypted.pfx",
    "openssl3-unencrypted-nomac.pfx",
    "openssl3-noiter.pfx",
    "openssl3-iter-600000.pfx",
    "openssl3-empty-password.pfx",
    "openssl3-legacy-empty-password.pfx",
    "openssl3-nonascii.pfx",
    "openssl3-nonbmp.pfx",
    "openssl3-legacy-nonascii.pfx",
    "openssl3-legacy-nonbmp.pfx",
    "openssl3-chain.pfx",
    "openssl3-chain-canames.pfx",
    "openssl3-certs-only.pfx",
    "openssl3-key-only.pfx",
    "openssl3-ec-p256.pfx",
    "openssl3-ec-p384.pfx",
    "openssl3-rsa1024.pfx",
    "openssl3-rsa4096.pfx",
    "openssl3-rsa2048-next.pfx",
    "openssl3-with-localkeyid-only.pfx",
    "openssl3-no-friendly-name.pfx",
    "openssl3-unicode-name.pfx",
    "openssl3-csp-lmk.pfx",
    "keytool-default.pfx",
    "keytool-legacy.pfx",
    "keytool-two-entries.pfx",
    "keytool-genkeypair.pfx",
    "keytool-truststore.pfx",
    "keytool-truststore-nomac.pfx",
    "java-empty-password.pfx",
    "java-null-password.pfx",
    "python-windows-3des.pfx",
    "python-aes256.pfx",
    "python-chain.pfx",
    "python-no-password.pfx",
    "python-java-truststore.pfx",
    "ber-indefinite.pfx",
    "ber-indefinite-authsafe.pfx",
    "ber-constructed-encrypted.pfx",
    "explicit-mac-iter-1.pfx",
    "custom-pbkdf2-sha1.pfx",
    "custom-pbkdf2-sha512.pfx",
    "explicit-prf-sha1.pfx",
    "explicit-defaults.pfx",
    "custom-key-first.pfx",
    "custom-no-attributes-leaf-last.pfx",
    "custom-key-in-encrypted-data.pfx",
    "custom-nested-safecontents.pfx",
    "vectors/cert-key-aes256cbc.p12",
    "vectors/cert-rc2-key-3des.p12",
    "vectors/cert-none-key-none.p12",
    "vectors/no-password.p12",
    "vectors/java-truststore.p12",
    "vectors/name-unicode-pwd.p12",
    "vectors/no-cert-key-aes256cbc.p12",
    "vectors/cert-aes256cbc-no-key.p12",
    "mismatched-key.pfx",
    "rfc9579/a1-sha256.p12"
);

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
    for (i, (name, bytes)) in PFXS.iter().enumerate() {
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
