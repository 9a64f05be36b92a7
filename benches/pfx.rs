//! Full PFX import of a 2048-bit RSA certificate and key, in OpenSSL 3's default form (AES-256-CBC,
//! PBKDF2-HMAC-SHA256, SHA-256 MAC, 2048 iterations) and in the 3DES / SHA-1 MAC form, by certslot
//! (two threads and one) and, with `--features bench-peers`, by the `openssl` crate
//! (`Pkcs12::parse2`) and `p12-keystore`, on the same bytes in the same run.
//!
//! Also measures one hash compression of SHA-256 and SHA-1, to relate the import to its floor:
//! the number of compressions the file's key derivations require.
//!
//! ```text
//! cargo bench --bench pfx --features bench-peers
//! ```

use std::hint::black_box;

use certslot::{ImportOptions, Password, Pfx};
use criterion::{Criterion, criterion_group, criterion_main};

const MODERN: &[u8] = include_bytes!("../tests/data/pfx/openssl3-default.pfx");
const LEGACY: &[u8] = include_bytes!("../tests/data/pfx/openssl3-3des.pfx");
const PASSWORD: &str = "P@ssw0rd";

fn import(c: &mut Criterion) {
    for (form, bytes) in [("aes256-sha256", MODERN), ("3des-sha1", LEGACY)] {
        let mut group = c.benchmark_group(format!("pfx-import/{form}"));
        let password = Password::new(PASSWORD);
        for threads in [2, 1] {
            group.bench_function(format!("certslot-{threads}-threads"), |b| {
                b.iter(|| {
                    let pfx =
                        Pfx::import(black_box(bytes), &password, ImportOptions::default().threads(threads))
                            .expect("imports");
                    black_box(pfx.leaf().map(|c| c.thumbprint()))
                })
            });
        }
        #[cfg(feature = "bench-peers")]
        {
            group.bench_function("openssl", |b| {
                b.iter(|| {
                    let pfx = openssl::pkcs12::Pkcs12::from_der(black_box(bytes)).expect("parses");
                    black_box(pfx.parse2(PASSWORD).expect("imports"))
                })
            });
            group.bench_function("p12-keystore", |b| {
                b.iter(|| {
                    black_box(
                        p12_keystore::KeyStore::from_pkcs12(black_box(bytes), PASSWORD, Default::default())
                            .expect("imports"),
                    )
                })
            });
        }
        group.finish();
    }
}

/// One compression function call, measured over 1024 blocks.
fn compression(c: &mut Criterion) {
    use sha1::Digest as _;
    let data = vec![0x5Au8; 64 * 1024];
    let mut group = c.benchmark_group("compression-x1024");
    group.bench_function("sha256", |b| b.iter(|| black_box(sha2::Sha256::digest(black_box(&data)))));
    group.bench_function("sha1", |b| b.iter(|| black_box(sha1::Sha1::digest(black_box(&data)))));
    group.finish();
}

criterion_group!(benches, import, compression);
criterion_main!(benches);
