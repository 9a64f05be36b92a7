//! Writes `format1.json`: a store state in format 1, as certslot 0.1.0 wrote it (commit 90e8a39,
//! before format 2). It is kept to prove that later versions still load format 1.
//!
//! To run it again, check out that commit, copy this file to `examples/make_format1.rs` and run
//! `cargo run --example make_format1 > tests/data/state/format1.json`.
//! Fixed instants; the two certificates are the bundled sample PFX files (password `P@ssw0rd`).

use certslot::{CertType, ImportOptions, Password, Pfx, RollOptions, Scope, Store};
use time::Duration;
use time::macros::datetime;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let password = Password::new("P@ssw0rd");
    let current = Pfx::import(
        include_bytes!("../tests/data/pfx/openssl3-default.pfx"),
        &password,
        ImportOptions::default(),
    )?;
    let next = Pfx::import(
        include_bytes!("../tests/data/pfx/openssl3-rsa2048-next.pfx"),
        &password,
        ImportOptions::default(),
    )?;
    let mut store = Store::for_sip_domain("contoso.com")?;
    let current = store.add_pfx(current).ok_or("no leaf")?;
    let next = store.add_pfx(next).ok_or("no leaf")?;
    store.add_site("redmond")?;
    store.add_pool("pool01.contoso.com", "redmond")?;
    store.add_pool("pool02.contoso.com", "redmond")?;
    for fe in ["fe01.contoso.com", "fe02.contoso.com"] {
        store.add_server(fe, "pool01.contoso.com")?;
    }
    store.add_server("fe03.contoso.com", "pool02.contoso.com")?;
    // A type configured away from its defaults (lead time, staging).
    let mut config = store.type_config(&CertType::OAuthTokenIssuer);
    config.lead_time = Duration::hours(48);
    config.require_staged = true;
    store.configure_type(CertType::OAuthTokenIssuer, config);
    let t0 = datetime!(2026-11-25 09:00 UTC);
    let oauth = [CertType::OAuthTokenIssuer];
    store.set(&oauth, &Scope::Global, &current, t0, RollOptions::default())?;
    store.set(&[CertType::Default, CertType::WebServicesInternal], &Scope::pool("pool02.contoso.com")?, &current, t0, RollOptions::default())?;
    store.roll(&oauth, &Scope::Global, &next, datetime!(2027-07-01 0:00 UTC), t0, RollOptions::default())?;
    let t1 = datetime!(2026-12-01 12:00 UTC);
    store.record_holdings("fe01.contoso.com", [current, next], t1)?;
    store.record_holdings("fe02.contoso.com", [current], t1)?;
    // The roll comes due while fe02 and fe03 lack the certificate: it is blocked.
    store.advance(datetime!(2027-07-01 0:00 UTC))?;
    println!("{}", store.to_json());
    Ok(())
}
