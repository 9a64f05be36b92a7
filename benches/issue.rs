//! Obtaining certificates, by certslot and, with `--features bench-peers`, by OpenSSL through the
//! `openssl` crate, in the same run:
//!
//! - `issue/csr-sign`: a signed PKCS #10 request (DER) for Lync's OAuthTokenIssuer preset
//!   (`CN=pool01.contoso.com`, SAN `pool01.contoso.com` and `contoso.com`, key usage, extended key
//!   usage), SHA-256 with an RSA-2048 key made once: `CertificateRequest::new` (which checks the
//!   policy first) against `X509ReqBuilder`;
//! - `issue/self-signed`: the self-signed certificate alone from an existing RSA-2048 key, 730
//!   days, random 16-octet serial, SKI, AKI, basic constraints, key usage, SAN and EKU:
//!   `RequestTemplate::self_signed` against `X509Builder`;
//! - `issue/pfx-from-nothing`: RSA-2048 key generation, the self-signed certificate and the PFX
//!   (`Pfx::export` with its default AES-256-CBC / PBKDF2-HMAC-SHA256 / SHA-256 MAC, 2048
//!   iterations, against `Pkcs12::builder().build2`, OpenSSL 3's defaults, the same algorithms).
//!
//! Prime search is random, so one complete PFX can take several times another: that group uses
//! flat sampling with 40 samples, and `pfx-from-nothing-percentiles` times
//! `CERTSLOT_ISSUE_SAMPLES` (default 100) complete PFXs of each side one by one and prints their
//! median and 90th percentile to stderr, which criterion's report does not give.
//!
//! Before measuring, the setup checks that OpenSSL's certificate and request carry what
//! certslot's do (the same subject, DNS names, key usage, extended key usage and extension OIDs)
//! and that OpenSSL's certificate passes the same policy, so both sides do the same work.
//!
//! ```text
//! cargo bench --bench issue --features bench-peers
//! ```

#[path = "shared/percentiles.rs"]
mod percentiles;

use std::hint::black_box;
use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, ExportOptions, OffsetDateTime, Password, Pfx, Policy, PrivateKey, RequestTemplate,
    obtain::{CertificateRequest, SelfSignedOptions},
};
use criterion::{Criterion, SamplingMode, criterion_group, criterion_main};
use getrandom::SysRng;
use time::macros::datetime;

const POOL: &str = "pool01.contoso.com";
const SIP_DOMAIN: &str = "contoso.com";
const PASSWORD: &str = "P@ssw0rd";
/// The instant of issue, fixed for both sides.
const AT: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

fn template() -> RequestTemplate {
    RequestTemplate::for_type(&CertType::OAuthTokenIssuer, POOL, SIP_DOMAIN).expect("preset")
}

fn policy() -> Policy {
    Policy::oauth_token_issuer(SIP_DOMAIN).expect("preset")
}

/// A self-signed certificate for `key`, with the key, as certslot makes it.
fn certslot_self_signed(
    template: &RequestTemplate,
    key: PrivateKey,
    policy: &Policy,
    rng: &mut UnwrapErr<SysRng>,
) -> Pfx {
    template.self_signed(key, policy, AT, SelfSignedOptions::default(), rng).expect("self-signs")
}

/// A complete PFX, from key generation to the exported bytes.
fn certslot_pfx(template: &RequestTemplate, policy: &Policy, rng: &mut UnwrapErr<SysRng>) -> Vec<u8> {
    let key = PrivateKey::generate_rsa(2048, rng).expect("generates");
    let pfx = certslot_self_signed(template, key, policy, rng);
    let (leaf, key) = (pfx.leaf().expect("leaf"), pfx.private_key().expect("key"));
    Pfx::export(leaf, key, &[], &Password::new(PASSWORD), &ExportOptions::default(), rng).expect("exports")
}

/// The same work through the `openssl` crate.
#[cfg(feature = "bench-peers")]
mod peer {
    use openssl::asn1::{Asn1Integer, Asn1Time};
    use openssl::bn::{BigNum, MsbOption};
    use openssl::hash::MessageDigest;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::{PKey, Private};
    use openssl::rsa::Rsa;
    use openssl::stack::Stack;
    use openssl::x509::extension::{
        AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
        SubjectKeyIdentifier,
    };
    use openssl::x509::{X509, X509Extension, X509Name, X509ReqBuilder};

    use super::{AT, PASSWORD, POOL, SIP_DOMAIN};

    pub fn generate() -> PKey<Private> {
        PKey::from_rsa(Rsa::generate(2048).expect("generates")).expect("wraps")
    }

    fn subject() -> X509Name {
        let mut name = X509Name::builder().expect("name");
        name.append_entry_by_text("CN", POOL).expect("CN");
        name.build()
    }

    fn key_usage() -> X509Extension {
        KeyUsage::new().critical().digital_signature().key_encipherment().build().expect("key usage")
    }

    fn extended_key_usage() -> X509Extension {
        ExtendedKeyUsage::new().server_auth().client_auth().build().expect("eku")
    }

    /// A signed request, DER.
    pub fn request(key: &PKey<Private>) -> Vec<u8> {
        let mut builder = X509ReqBuilder::new().expect("builder");
        builder.set_subject_name(&subject()).expect("subject");
        builder.set_pubkey(key).expect("public key");
        let san = SubjectAlternativeName::new()
            .dns(POOL)
            .dns(SIP_DOMAIN)
            .build(&builder.x509v3_context(None))
            .expect("san");
        let mut extensions = Stack::new().expect("stack");
        extensions.push(san).expect("push");
        extensions.push(key_usage()).expect("push");
        extensions.push(extended_key_usage()).expect("push");
        builder.add_extensions(&extensions).expect("extensions");
        builder.sign(key, MessageDigest::sha256()).expect("signs");
        builder.build().to_der().expect("der")
    }

    /// A self-signed certificate as certslot makes it: 730 days from `AT`, backdated 5 minutes.
    pub fn self_signed(key: &PKey<Private>) -> X509 {
        let at = AT.unix_timestamp();
        let mut builder = X509::builder().expect("builder");
        builder.set_version(2).expect("v3");
        let mut serial = BigNum::new().expect("bn");
        serial.rand(128, MsbOption::MAYBE_ZERO, false).expect("random serial");
        builder.set_serial_number(&Asn1Integer::from_bn(&serial).expect("serial")).expect("serial");
        let name = subject();
        builder.set_subject_name(&name).expect("subject");
        builder.set_issuer_name(&name).expect("issuer");
        builder.set_not_before(&Asn1Time::from_unix(at - 300).expect("time")).expect("not before");
        builder.set_not_after(&Asn1Time::from_unix(at + 730 * 86_400).expect("time")).expect("not after");
        builder.set_pubkey(key).expect("public key");
        let ski = SubjectKeyIdentifier::new().build(&builder.x509v3_context(None, None)).expect("ski");
        builder.append_extension(ski).expect("ski");
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&builder.x509v3_context(None, None))
            .expect("aki");
        builder.append_extension(aki).expect("aki");
        builder.append_extension(BasicConstraints::new().critical().build().expect("bc")).expect("bc");
        builder.append_extension(key_usage()).expect("key usage");
        let san = SubjectAlternativeName::new()
            .dns(POOL)
            .dns(SIP_DOMAIN)
            .build(&builder.x509v3_context(None, None))
            .expect("san");
        builder.append_extension(san).expect("san");
        builder.append_extension(extended_key_usage()).expect("eku");
        builder.sign(key, MessageDigest::sha256()).expect("signs");
        builder.build()
    }

    /// A complete PFX, from key generation to the exported bytes.
    pub fn pfx() -> Vec<u8> {
        let key = generate();
        let cert = self_signed(&key);
        Pkcs12::builder().pkey(&key).cert(&cert).build2(PASSWORD).expect("builds").to_der().expect("der")
    }
}

/// Checks that OpenSSL's certificate and request say what certslot's do, so that both sides of
/// each group do the same work.
#[cfg(feature = "bench-peers")]
fn same_work() {
    use certslot::{Certificate, validate::Rule as _};

    let mut rng = UnwrapErr(SysRng);
    let (template, policy) = (template(), policy());
    let key = PrivateKey::generate_rsa(2048, &mut rng).expect("generates");
    let pfx = certslot_self_signed(&template, key, &policy, &mut rng);
    let ours = pfx.leaf().expect("leaf");
    let theirs = Certificate::from_der(&peer::self_signed(&peer::generate()).to_der().expect("der"))
        .expect("certslot reads OpenSSL's certificate");
    let report = policy.check(&theirs, AT);
    assert!(report.is_ok(), "OpenSSL's certificate breaks the policy: {report:?}");
    let facts = |c: &Certificate| {
        let mut oids: Vec<_> = c.extensions().map(|e| (e.oid(), e.critical())).collect();
        oids.sort();
        (
            c.subject().to_string(),
            c.dns_names().expect("dns names"),
            c.key_usage().expect("key usage"),
            c.extended_key_usage().expect("eku"),
            oids,
            c.not_after() - c.not_before(),
            c.serial().magnitude().len() <= 16,
        )
    };
    assert!(facts(ours) == facts(&theirs), "the two certificates differ");

    // A request is not a certificate; compare its DER sizes as a rough check of the same content.
    let key = PrivateKey::generate_rsa(2048, &mut rng).expect("generates");
    let request = CertificateRequest::new(&template, &key, &policy, AT, &mut rng).expect("request");
    let theirs = peer::request(&peer::generate());
    eprintln!(
        "issue/csr-sign: certslot request {} bytes, OpenSSL {} bytes",
        request.der().len(),
        theirs.len()
    );
}

fn csr_sign(c: &mut Criterion) {
    let mut rng = UnwrapErr(SysRng);
    let (template, policy) = (template(), policy());
    let key = PrivateKey::generate_rsa(2048, &mut rng).expect("generates");
    let mut group = c.benchmark_group("issue/csr-sign");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("certslot", |b| {
        b.iter(|| {
            let request =
                CertificateRequest::new(&template, &key, &policy, black_box(AT), &mut rng).expect("request");
            black_box(request.der().len())
        })
    });
    #[cfg(feature = "bench-peers")]
    {
        let key = peer::generate();
        group.bench_function("openssl", |b| b.iter(|| black_box(peer::request(black_box(&key)))));
    }
    group.finish();
}

fn self_signed(c: &mut Criterion) {
    let mut rng = UnwrapErr(SysRng);
    let (template, policy) = (template(), policy());
    let key = PrivateKey::generate_rsa(2048, &mut rng).expect("generates");
    let mut group = c.benchmark_group("issue/self-signed");
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("certslot", |b| {
        b.iter(|| {
            let pfx = certslot_self_signed(&template, key.clone(), &policy, &mut rng);
            black_box(pfx.leaf().map(|c| c.der().len()))
        })
    });
    #[cfg(feature = "bench-peers")]
    {
        let key = peer::generate();
        group.bench_function("openssl", |b| {
            b.iter(|| black_box(peer::self_signed(black_box(&key)).to_der().expect("der")))
        });
    }
    group.finish();
}

fn pfx_from_nothing(c: &mut Criterion) {
    let mut rng = UnwrapErr(SysRng);
    let (template, policy) = (template(), policy());
    let mut group = c.benchmark_group("issue/pfx-from-nothing");
    group.sampling_mode(SamplingMode::Flat).sample_size(40).measurement_time(Duration::from_secs(20));
    group.bench_function("certslot", |b| b.iter(|| black_box(certslot_pfx(&template, &policy, &mut rng))));
    #[cfg(feature = "bench-peers")]
    group.bench_function("openssl", |b| b.iter(|| black_box(peer::pfx())));
    group.finish();
}

fn pfx_from_nothing_percentiles(_: &mut Criterion) {
    #[cfg(feature = "bench-peers")]
    same_work();
    let n = std::env::var("CERTSLOT_ISSUE_SAMPLES").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let mut rng = UnwrapErr(SysRng);
    let (template, policy) = (template(), policy());
    let certslot = percentiles::timings(n, || {
        black_box(certslot_pfx(&template, &policy, &mut rng));
    });
    percentiles::report("pfx-from-nothing-percentiles", "certslot", &certslot);
    #[cfg(feature = "bench-peers")]
    {
        let openssl = percentiles::timings(n, || {
            black_box(peer::pfx());
        });
        percentiles::report("pfx-from-nothing-percentiles", "openssl", &openssl);
    }
}

criterion_group!(benches, pfx_from_nothing_percentiles, csr_sign, self_signed, pfx_from_nothing);
criterion_main!(benches);
