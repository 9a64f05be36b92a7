//! RSA-2048 key generation by certslot (`PrivateKey::generate_rsa`, the `rsa` crate) and, with
//! `--features bench-peers`, by OpenSSL (`openssl::rsa::Rsa::generate` through the `openssl`
//! crate), in the same run; EC P-256 generation for scale.
//!
//! Prime search is random, so one generation can take several times another: the criterion
//! groups use flat sampling with 40 samples, and `keygen-percentiles` times
//! `CERTSLOT_KEYGEN_SAMPLES` (default 50) generations of each one by one and prints their median
//! and 90th percentile to stderr, which criterion's report (mean and median of sample means) does
//! not give.
//!
//! ```text
//! cargo bench --bench keys --features bench-peers
//! ```

#[path = "shared/percentiles.rs"]
mod percentiles;

use std::hint::black_box;
use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{PrivateKey, x509::Curve};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use getrandom::SysRng;

fn rsa_2048(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen/rsa-2048");
    group.sampling_mode(SamplingMode::Flat).sample_size(40).measurement_time(Duration::from_secs(20));
    group.bench_function("certslot", |b| {
        let mut rng = UnwrapErr(SysRng);
        b.iter(|| black_box(PrivateKey::generate_rsa(2048, &mut rng).expect("generates")))
    });
    #[cfg(feature = "bench-peers")]
    group.bench_function("openssl", |b| {
        b.iter(|| black_box(openssl::rsa::Rsa::generate(2048).expect("generates")))
    });
    group.finish();
}

fn ec_p256(c: &mut Criterion) {
    let mut group = c.benchmark_group("keygen/ec-p256");
    group.bench_function("certslot", |b| {
        let mut rng = UnwrapErr(SysRng);
        b.iter(|| black_box(PrivateKey::generate_ec(Curve::P256, &mut rng).expect("generates")))
    });
    group.finish();
}

fn keygen_percentiles(_: &mut Criterion) {
    let n = std::env::var("CERTSLOT_KEYGEN_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let mut rng = UnwrapErr(SysRng);
    let certslot = percentiles::timings(n, || {
        black_box(PrivateKey::generate_rsa(2048, &mut rng).expect("generates"));
    });
    percentiles::report("keygen-percentiles/rsa-2048", "certslot", &certslot);
    #[cfg(feature = "bench-peers")]
    {
        let openssl = percentiles::timings(n, || {
            black_box(openssl::rsa::Rsa::generate(2048).expect("generates"));
        });
        percentiles::report("keygen-percentiles/rsa-2048", "openssl", &openssl);
    }
}

criterion_group!(benches, keygen_percentiles, rsa_2048, ec_p256);
criterion_main!(benches);
