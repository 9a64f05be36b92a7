//! Parse + thumbprint, and parse + thumbprint + the OAuthTokenIssuer policy, for the 2048-bit
//! sample certificate; with `--features bench-peers`, the same work by `x509-parser` (parse +
//! SHA-1) and OpenSSL through the `openssl` crate (`X509::from_der` + SHA-1), in the same run.
//!
//! ```text
//! cargo bench --bench parse --features bench-peers
//! ```

use std::hint::black_box;

use certslot::{Certificate, Policy, validate::Rule};
use criterion::{Criterion, criterion_group, criterion_main};
use time::macros::datetime;

const DER: &[u8] = include_bytes!("../tests/data/rsa2048.der");

fn parse_and_thumbprint(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse+thumbprint/rsa2048");
    group.bench_function("certslot", |b| {
        b.iter(|| {
            let cert = Certificate::from_der(black_box(DER)).expect("sample parses");
            black_box(cert.thumbprint())
        })
    });
    #[cfg(feature = "bench-peers")]
    {
        use sha1::{Digest, Sha1};
        group.bench_function("x509-parser", |b| {
            b.iter(|| {
                let der = black_box(DER);
                let (_, cert) = x509_parser::parse_x509_certificate(der).expect("sample parses");
                black_box(&cert);
                black_box(<[u8; 20]>::from(Sha1::digest(der)))
            })
        });
        group.bench_function("openssl", |b| {
            b.iter(|| {
                let cert = openssl::x509::X509::from_der(black_box(DER)).expect("sample parses");
                black_box(cert.digest(openssl::hash::MessageDigest::sha1()).expect("digest"))
            })
        });
    }
    group.finish();
}

fn full_policy(c: &mut Criterion) {
    let policy = Policy::oauth_token_issuer("contoso.com").expect("valid domain");
    let at = datetime!(2026-11-25 13:36:02 UTC);
    let mut group = c.benchmark_group("parse+thumbprint+policy/rsa2048");
    group.bench_function("certslot", |b| {
        b.iter(|| {
            let cert = Certificate::from_der(black_box(DER)).expect("sample parses");
            let report = policy.check(&cert, black_box(at));
            assert!(report.is_ok());
            black_box((cert.thumbprint(), report))
        })
    });
    group.finish();
}

criterion_group!(benches, parse_and_thumbprint, full_policy);
criterion_main!(benches);
