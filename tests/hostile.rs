//! Hostile shapes: each is rejected (or read) within 100 ms and with memory bounded by a small
//! multiple of the input size, measured with a counting global allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use certslot::{Certificate, ImportOptions, ParseError, Password, Pfx, PfxError, Policy, validate::Rule};

/// Counts live and peak heap bytes.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: delegates every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Tests in this file measure memory one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Runs `f`, returning its result, the time it took and the peak extra heap it used.
fn measure<T>(f: impl FnOnce() -> T) -> (T, Duration, usize) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let start = Instant::now();
    let out = f();
    let elapsed = start.elapsed();
    (out, elapsed, PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(items: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &items.concat())
}

const ID_DATA: [u8; 9] = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x01];

/// A PFX around `safe_contents` (a DER SafeContents), with an optional `MacData`.
fn pfx_around(safe_contents: &[u8], mac: Option<Vec<u8>>) -> Vec<u8> {
    let data_ci = |content: &[u8]| seq(&[tlv(0x06, &ID_DATA), tlv(0xA0, &tlv(0x04, content))]);
    let auth_safe = seq(&[data_ci(safe_contents)]);
    let mut fields = vec![tlv(0x02, &[3]), data_ci(&auth_safe)];
    fields.extend(mac);
    seq(&fields)
}

fn lenient() -> ImportOptions {
    ImportOptions::default().require_key(false).require_certificate(false)
}

const LIMIT: Duration = Duration::from_millis(100);

#[test]
fn deeply_nested_ber_is_refused() {
    let _serial = SERIAL.lock();
    let mut input = Vec::new();
    for _ in 0..100_000 {
        input.extend_from_slice(&[0x30, 0x80]);
    }
    let (result, elapsed, peak) = measure(|| Pfx::import(&input, &Password::empty(), lenient()));
    assert!(matches!(result, Err(PfxError::Corrupt(ParseError::TooDeep { max: 32, .. }))), "{result:?}");
    assert!(elapsed < LIMIT, "{elapsed:?}");
    assert!(peak <= 4 * input.len() + 65_536, "peak {peak} for {} input bytes", input.len());
}

#[test]
fn indefinite_lengths_that_never_end_are_refused() {
    let _serial = SERIAL.lock();
    // PFX ::= SEQUENCE (indefinite) { version 3, SEQUENCE (indefinite) { ... and then nothing.
    let mut input = vec![0x30, 0x80, 0x02, 0x01, 0x03, 0x30, 0x80, 0x06, 0x09];
    input.extend_from_slice(&ID_DATA);
    input.extend(std::iter::repeat_n(0x05, 1 << 20).flat_map(|_| [0x05, 0x00]).take(1 << 20));
    let (result, elapsed, peak) = measure(|| Pfx::import(&input, &Password::empty(), lenient()));
    assert!(
        matches!(
            result,
            Err(PfxError::Corrupt(ParseError::Truncated { offset: 5, needed: 2, available: 0, .. }))
        ),
        "{result:?}"
    );
    assert!(elapsed < LIMIT, "{elapsed:?}");
    assert!(peak <= 4 * input.len() + 65_536, "peak {peak} for {} input bytes", input.len());
}

#[test]
fn a_megabyte_of_tiny_bags_is_read() {
    let _serial = SERIAL.lock();
    // SafeBag { bagId 1.2.3.4 (unknown), bagValue [0] { NULL } }: 12 bytes each.
    let bag = seq(&[tlv(0x06, &[0x2A, 0x03, 0x04]), tlv(0xA0, &[0x05, 0x00])]);
    let count = (1 << 20) / bag.len();
    let safe_contents = tlv(0x30, &bag.repeat(count));
    let input = pfx_around(&safe_contents, None);
    let (result, elapsed, peak) = measure(|| Pfx::import(&input, &Password::empty(), lenient()));
    let pfx = result.expect("a PFX of unknown bags reads");
    assert_eq!(
        pfx.skipped(),
        [certslot::pfx::SkippedBag {
            bag_type: certslot::x509::ObjectIdentifier::new_unwrap("1.2.3.4"),
            reason: "unknown bag type",
            count
        }]
    );
    assert_eq!(pfx.certificates().count(), 0);
    assert!(elapsed < LIMIT, "{elapsed:?}");
    assert!(peak <= 8 * input.len(), "peak {peak} for {} input bytes", input.len());
}

#[test]
fn an_iteration_count_of_two_to_the_31_is_refused_at_once() {
    let _serial = SERIAL.lock();
    let sha256 = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
    let mac = seq(&[
        seq(&[seq(&[tlv(0x06, &sha256), vec![0x05, 0x00]]), tlv(0x04, &[0; 32])]),
        tlv(0x04, &[1; 8]),
        tlv(0x02, &[0x00, 0x80, 0x00, 0x00, 0x00]),
    ]);
    let input = pfx_around(&seq(&[]), Some(mac));
    let (result, elapsed, _) = measure(|| Pfx::import(&input, &Password::new("x"), lenient()));
    assert_eq!(
        result.map(|_| ()),
        Err(PfxError::TooManyIterations { context: "MAC", iterations: 1 << 31, max: 1_000_000 })
    );
    assert!(elapsed < LIMIT, "{elapsed:?}");
}

#[test]
fn a_certificate_with_ten_thousand_sans_is_read() {
    let _serial = SERIAL.lock();
    let donor = Certificate::from_der(include_bytes!("data/rsa2048.der")).expect("fixture");
    let spki = donor.public_key().expect("key").spki_der().to_vec();
    let sha256_rsa =
        seq(&[tlv(0x06, &[0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x01, 0x0B]), vec![0x05, 0x00]]);
    let name =
        |cn: &str| seq(&[tlv(0x31, &seq(&[tlv(0x06, &[0x55, 0x04, 0x03]), tlv(0x0C, cn.as_bytes())]))]);
    let names: Vec<Vec<u8>> =
        (0..10_000).map(|i| tlv(0x82, format!("host{i}.contoso.com").as_bytes())).collect();
    let san = seq(&[tlv(0x06, &[0x55, 0x1D, 0x11]), tlv(0x04, &seq(&names))]);
    let tbs = seq(&[
        tlv(0xA0, &tlv(0x02, &[2])),
        tlv(0x02, &[1]),
        sha256_rsa.clone(),
        name("issuer"),
        seq(&[tlv(0x17, b"260101000000Z"), tlv(0x17, b"360101000000Z")]),
        name("many.contoso.com"),
        spki,
        tlv(0xA3, &seq(&[san])),
    ]);
    let der = seq(&[tbs, sha256_rsa, tlv(0x03, &[0, 0xAB])]);
    let at = time::macros::datetime!(2026-06-01 0:00 UTC);
    let (result, elapsed, peak) = measure(|| {
        let cert = Certificate::from_der(&der)?;
        let names = cert.dns_names().map(|n| n.len());
        let report = Policy::oauth_token_issuer("contoso.com").expect("domain").check(&cert, at);
        Ok::<_, ParseError>((names, report.violations.len()))
    });
    assert_eq!(result, Ok((Ok(10_000), 0)));
    assert!(elapsed < LIMIT, "{elapsed:?}");
    assert!(peak <= 32 * der.len(), "peak {peak} for {} input bytes", der.len());
}

/// A PKCS #7 certs-only ContentInfo around already-encoded certificates.
fn p7b_around(certificates: &[u8]) -> Vec<u8> {
    let signed_data = [0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    let content = seq(&[
        tlv(0x02, &[1]),
        tlv(0x31, &[]),
        seq(&[tlv(0x06, &ID_DATA)]),
        tlv(0xA0, certificates),
        tlv(0x31, &[]),
    ]);
    seq(&[tlv(0x06, &signed_data), tlv(0xA0, &content)])
}

#[test]
fn a_bundle_of_a_thousand_certificates_is_read_and_ordered() {
    let _serial = SERIAL.lock();
    let leaf: &[u8] = include_bytes!("data/chains/rsa-leaf.der");
    let intermediate: &[u8] = include_bytes!("data/chains/rsa-intermediate.der");
    let mut certificates = leaf.to_vec();
    certificates.extend(intermediate.repeat(999));
    let input = p7b_around(&certificates);
    let (result, elapsed, peak) = measure(|| {
        let certs = Certificate::from_bundle(&input)?;
        let chain = certslot::x509::Chain::order(&certs[0], &certs).map_err(|e| e.to_string());
        Ok::<_, certslot::x509::BundleError>((
            certs.len(),
            chain.map(|c| (c.certificates().len(), c.unused().len())),
        ))
    });
    // 999 copies of one intermediate: one link, checked once; the copies are not "unused".
    assert_eq!(result, Ok((1000, Ok((2, 0)))));
    assert!(elapsed < 5 * LIMIT, "{elapsed:?}");
    assert!(peak <= 4 * input.len(), "peak {peak} for {} input bytes", input.len());
}

#[test]
fn a_p7b_claiming_four_gigabytes_allocates_nothing() {
    let _serial = SERIAL.lock();
    let leaf: &[u8] = include_bytes!("data/chains/rsa-leaf.der");
    let mut input = p7b_around(leaf);
    // The certificates' [0] (A0 82 xx xx before the leaf) claims 0xFFFFFFF0 octets.
    let at = input.windows(leaf.len()).position(|w| w == leaf).expect("inside") - 4;
    assert_eq!(input[at..at + 2], [0xA0, 0x82]);
    input.splice(at + 1..at + 4, [0x84, 0xFF, 0xFF, 0xFF, 0xF0]);
    let (result, elapsed, peak) = measure(|| Certificate::from_bundle(&input));
    assert!(
        matches!(
            result,
            Err(certslot::x509::BundleError::Malformed { source: ParseError::Truncated { .. } })
        ),
        "{result:?}"
    );
    assert!(elapsed < LIMIT, "{elapsed:?}");
    assert!(peak <= 4 * input.len() + 65_536, "peak {peak} for {} input bytes", input.len());
}

#[test]
fn deeply_nested_ber_bundles_are_refused() {
    let _serial = SERIAL.lock();
    let mut input = Vec::new();
    for _ in 0..100_000 {
        input.extend_from_slice(&[0x30, 0x80]);
    }
    let (result, elapsed, peak) = measure(|| Certificate::from_bundle(&input));
    // Two SEQUENCEs in a row look like a certificate, which DER forbids to be indefinite.
    assert_eq!(
        result,
        Err(certslot::x509::BundleError::Certificate {
            index: 0,
            offset: 0,
            source: ParseError::IndefiniteLength { offset: 0, what: "Certificate" }
        })
    );
    let mut input = vec![0x30, 0x80, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 0x01, 0x07, 0x02];
    for _ in 0..100_000 {
        input.extend_from_slice(&[0xA0, 0x80]);
    }
    let (result, more_elapsed, more_peak) = measure(|| Certificate::from_bundle(&input));
    assert!(
        matches!(
            result,
            Err(certslot::x509::BundleError::Malformed { source: ParseError::TooDeep { max: 32, .. } })
        ),
        "{result:?}"
    );
    assert!(elapsed + more_elapsed < LIMIT, "{elapsed:?} {more_elapsed:?}");
    assert!(peak.max(more_peak) <= 4 * input.len() + 65_536, "peak {peak} {more_peak}");
}
