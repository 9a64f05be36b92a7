//! Publishing the keys verifiers must trust (issue 8): one OAuthTokenIssuer slot in the middle of
//! its second roll, so that three keys are published: the current certificate (signing), the next
//! one inside its publish-ahead window (announced) and the previous one within its retention
//! (retained), three self-signed RSA-2048 certificates made by the setup.
//!
//! - `publish/jwks`: `Store::jwks` (goal ≤ 20 µs): the slot's keys, each key's `n` and `e`,
//!   `x5t`, `x5t#S256` (a SHA-256 of the DER) and `x5c` (the DER in Base64);
//! - `publish/jwks-to-json`: `Jwks::to_json` of that set;
//! - `publish/auth-metadata`: `Store::auth_metadata` with the Lync preset and one endpoint (the
//!   same keys, the options checked, the id derived);
//! - `publish/auth-metadata-to-json`: `AuthMetadata::to_json` of that document.
//!
//! ```text
//! cargo bench --bench publish
//! ```

use std::hint::black_box;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, OffsetDateTime, Policy, PrivateKey, RequestTemplate, RollOptions, Scope, Store,
    obtain::SelfSignedOptions,
    publish::{KeyStatus, MetadataEndpoint, MetadataOptions},
};
use criterion::{Criterion, criterion_group, criterion_main};
use getrandom::SysRng;
use time::Duration;
use time::macros::datetime;

/// When the certificates are made and the first is set.
const T0: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);
/// The first roll's effective date.
const FIRST_ROLL: OffsetDateTime = datetime!(2026-03-05 09:00 UTC);
/// The second roll's effective date.
const SECOND_ROLL: OffsetDateTime = datetime!(2026-03-08 09:00 UTC);
/// The instant asked about: the second roll announced (24 hours ahead), not applied.
const AT: OffsetDateTime = datetime!(2026-03-07 12:00 UTC);

/// The store: previous, current and announced certificates in the global OAuthTokenIssuer slot.
fn store() -> Store {
    let template =
        RequestTemplate::for_type(&CertType::OAuthTokenIssuer, "pool01.contoso.com", "contoso.com")
            .expect("preset");
    let policy = Policy::oauth_token_issuer("contoso.com").expect("preset");
    let mut rng = UnwrapErr(SysRng);
    let mut store = Store::for_sip_domain("contoso.com").expect("store");
    let mut thumbprints = Vec::new();
    for _ in 0..3 {
        let key = PrivateKey::generate_rsa(2048, &mut rng).expect("key");
        let pfx =
            template.self_signed(key, &policy, T0, SelfSignedOptions::default(), &mut rng).expect("made");
        thumbprints.push(store.add_pfx(pfx).expect("added"));
    }
    let (oauth, global, options) = ([CertType::OAuthTokenIssuer], Scope::Global, RollOptions::default());
    store.set(&oauth, &global, &thumbprints[0], T0, options).expect("set");
    store.roll(&oauth, &global, &thumbprints[1], FIRST_ROLL, T0, options).expect("first roll");
    store.advance(FIRST_ROLL).expect("advance");
    let second_at = FIRST_ROLL + Duration::HOUR;
    store.roll(&oauth, &global, &thumbprints[2], SECOND_ROLL, second_at, options).expect("second roll");
    let statuses: Vec<_> = certslot::publish::Jwks::publish(&store, &CertType::OAuthTokenIssuer, &global, AT)
        .keys
        .iter()
        .map(|k| (k.thumbprint, k.status))
        .collect();
    assert_eq!(
        statuses,
        [
            (thumbprints[1], KeyStatus::Signing),
            (thumbprints[2], KeyStatus::Announced),
            (thumbprints[0], KeyStatus::Retained),
        ]
    );
    store
}

fn publish(c: &mut Criterion) {
    let store = store();
    let (oauth, global) = (CertType::OAuthTokenIssuer, Scope::Global);
    let options = MetadataOptions::lync()
        .endpoint(MetadataEndpoint::metadata("https://pool01.contoso.com/metadata/json/1"));
    let jwks = certslot::publish::Jwks::publish(&store, &oauth, &global, AT);
    let document =
        certslot::publish::AuthMetadata::publish(&store, &oauth, &global, AT, &options).expect("document");
    eprintln!(
        "publish: JWKS {} bytes, metadata {} bytes",
        jwks.to_json().expect("JSON").len(),
        document.to_json().expect("JSON").len()
    );

    let mut group = c.benchmark_group("publish");
    group.bench_function("jwks", |b| {
        b.iter(|| {
            certslot::publish::Jwks::publish(&store, black_box(&oauth), black_box(&global), black_box(AT))
        })
    });
    group.bench_function("jwks-to-json", |b| b.iter(|| black_box(&jwks).to_json()));
    group.bench_function("auth-metadata", |b| {
        b.iter(|| {
            certslot::publish::AuthMetadata::publish(
                &store,
                black_box(&oauth),
                black_box(&global),
                black_box(AT),
                black_box(&options),
            )
        })
    });
    group.bench_function("auth-metadata-to-json", |b| b.iter(|| black_box(&document).to_json()));
    group.finish();
}

criterion_group!(benches, publish);
criterion_main!(benches);
