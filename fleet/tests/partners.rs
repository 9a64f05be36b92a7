//! The partner gate end to end: a partner fetches the keys through its own URL on the key
//! server (`/p/<token>/...`), the key server records the fetch in etcd as the key-server role,
//! the coordinator copies it into the store, and a roll that waits for the partner goes ahead;
//! a wrong or revoked token fetches nothing and releases nothing; a partner that never fetches
//! holds the roll only until its last compliant instant, where it rolls with an alert.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const KEYS: &str = "keys";

/// A cluster with A current and OAuthTokenIssuer rolls waiting for partner `hybrid`; the path
/// of hybrid's URLs.
fn cluster(etcd: &Etcd, name: &str, now: &[&str]) -> (Fleet, String) {
    let fleet = Fleet::new(etcd, name);
    fleet.grant(&["--key-server", KEYS]);
    fleet.ok(&[&["init", "--sip-domain", "contoso.com"][..], now].concat());
    assert_eq!(
        fleet.json(&[&["import", &file_a(), "--type", "OAuthTokenIssuer", "--pfx-password-env", "PFX_PASSWORD"][..], now].concat())
            ["thumbprint"],
        CERT_A
    );
    fleet.ok(&[&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A][..], now].concat());
    let added = fleet.json(&[&["partners", "add", "Hybrid"][..], now].concat());
    assert_eq!(added["partner"], "hybrid");
    let path = added["path"].as_str().unwrap().to_owned();
    assert!(path.starts_with("/p/") && path.len() == "/p/".len() + 43 + 1, "{path}");
    fleet
        .ok(&[&["configure", "--type", "OAuthTokenIssuer", "--require-partner", "hybrid"][..], now].concat());
    (fleet, path)
}

fn key_server(fleet: &Fleet, extra: &[&str]) -> (Daemon, String) {
    let identity = Pki::shared().server();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let mut args = vec![
        "--listen",
        &listen,
        "--tls-cert",
        identity.cert.to_str().unwrap(),
        "--tls-key",
        identity.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let daemon = fleet.serve_as(KEYS, "serve", &args);
    let base = format!("https://127.0.0.1:{port}");
    fleet.wait("the key server is ready", Duration::from_secs(20), || {
        get(&base, "/readyz").is_some_and(|a| a.status == 200)
    });
    (daemon, base)
}

fn get(base: &str, path: &str) -> Option<Answer> {
    let ca = Pki::shared().ca_file();
    curl(&["--cacert", ca.to_str().unwrap(), &format!("{base}{path}")])
}

fn kids(answer: &Answer) -> usize {
    let set: Value = serde_json::from_str(&answer.body).unwrap();
    set["keys"].as_array().unwrap().len()
}

#[test]
fn a_roll_waits_until_its_partner_fetched_the_key_through_its_own_url() {
    let etcd = Etcd::start();
    let (fleet, path) = cluster(&etcd, "partners", &[]);
    let (_serve, base) = key_server(&fleet, &[]);
    let _coordinator = fleet.coordinator("c1");
    assert_eq!(fleet.import(&file_b()), CERT_B);
    fleet.roll_in(CERT_B, 2);

    // Due, and held: the partner has not fetched B.
    fleet.wait("the roll is held for hybrid", Duration::from_secs(30), || {
        fleet.logs().contains(&format!("roll of {CERT_B} blocked; not yet fetched by hybrid"))
    });
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, Some(CERT_B.into())));
    let plan = fleet.json(&["plan"]);
    let roll = plan["actions"].as_array().unwrap().iter().find(|a| a["action"] == "roll").expect("a roll");
    assert_eq!(roll["waiting_for_partners"], serde_json::json!(["hybrid"]));
    let shown = fleet.json(&["partners", "show"]);
    assert_eq!(shown["partners"][0]["partner"], "hybrid");
    assert_eq!(shown["partners"][0]["fetched_at"], Value::Null);
    assert_eq!(shown["partners"][0]["pending"][0]["seen"], false);
    assert_eq!(shown["partners"][0]["pending"][0]["required"], true);

    // The key server's metrics say so, for the alert.
    fleet.wait("the metrics show the roll waiting for hybrid", Duration::from_secs(10), || {
        get(&base, "/metrics").is_some_and(|a| {
            a.body.contains(
                "certslot_roll_waiting_for_partner{type=\"OAuthTokenIssuer\",scope=\"global\",partner=\"hybrid\"} 1.0\n",
            )
        })
    });
    // Anyone can read the public set; that releases nothing. A token no partner holds is 404.
    assert_eq!(kids(&get(&base, "/.well-known/jwks.json").unwrap()), 2);
    let wrong = format!("/p/{}/jwks.json", "A".repeat(43));
    let answer = get(&base, &wrong).unwrap();
    assert_eq!((answer.status, answer.body.as_str()), (404, "not found\n"));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fleet.oauth().2.as_deref(), Some(CERT_B), "released without hybrid's fetch");

    // hybrid fetches through its URL: recorded, copied into the store, the roll goes ahead.
    let fetched = Instant::now();
    let answer = get(&base, &format!("{path}jwks.json")).unwrap();
    assert_eq!((answer.status, kids(&answer)), (200, 2));
    let took =
        fleet.wait("B is current", Duration::from_secs(30), || fleet.oauth().0.as_deref() == Some(CERT_B));
    eprintln!("partner fetch → roll applied: {:.0} ms", took.as_secs_f64() * 1e3);
    assert!(fetched.elapsed() < Duration::from_secs(30));
    assert!(fleet.logs().contains("partner hybrid fetched ["), "{}", fleet.logs());
    let shown = fleet.json(&["partners", "show"]);
    let thumbprints = shown["partners"][0]["thumbprints"].as_array().unwrap();
    assert!(thumbprints.contains(&Value::from(CERT_B)), "{shown}");
    fleet.wait("the metrics show hybrid's fetch", Duration::from_secs(10), || {
        get(&base, "/metrics").is_some_and(|a| {
            a.body.contains("certslot_partner_last_fetch_timestamp_seconds{partner=\"hybrid\"} ")
                && !a.body.contains("certslot_roll_waiting_for_partner{")
        })
    });

    // A new URL revokes the old one.
    let renewed = fleet.json(&["partners", "add", "hybrid"])["path"].as_str().unwrap().to_owned();
    assert_ne!(renewed, path);
    fleet.wait("the old URL is revoked", Duration::from_secs(10), || {
        get(&base, &format!("{path}metadata/json/1")).is_some_and(|a| a.status == 404)
    });
    assert_eq!(get(&base, &format!("{renewed}metadata/json/1")).unwrap().status, 200);
    // A partner that rolls wait for cannot be removed.
    let out = fleet.cli(&["partners", "remove", "hybrid"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: partner hybrid cannot be removed: OAuthTokenIssuer rolls wait for it\n"
    );
}

#[test]
fn a_partner_that_never_fetches_holds_the_roll_only_until_its_last_compliant_instant() {
    let etcd = Etcd::start();
    // Two days before the last compliant instant of A (valid until 2036-01-01).
    let start = "2035-12-28T00:00:00Z";
    let now = ["--now", start];
    let (fleet, _) = cluster(&etcd, "yield", &now);
    assert_eq!(
        fleet.json(&[
            "import",
            &file_b(),
            "--type",
            "OAuthTokenIssuer",
            "--pfx-password-env",
            "PFX_PASSWORD",
            "--now",
            start
        ])["thumbprint"],
        CERT_B
    );
    fleet.ok(&[
        "roll",
        "--type",
        "OAuthTokenIssuer",
        "--thumbprint",
        CERT_B,
        "--effective-date",
        "2035-12-28T00:00:01Z",
        "--force",
        "--now",
        start,
    ]);
    // The planner says when the gate yields: A's notAfter less the type's hold (2035-12-31), or
    // B's own renewal deadline if sooner: B also ends 2036-01-01, so rolled in any later it could
    // not be renewed with Lync's day of notice and day of hold.
    let plan = fleet.json(&["plan", "--now", "2035-12-28T00:00:02Z"]);
    let roll = plan["actions"].as_array().unwrap().iter().find(|a| a["action"] == "roll").expect("a roll");
    let yield_at = roll["partners_yield_at"].as_str().expect("a yield instant").to_owned();
    let yield_at = OffsetDateTime::parse(&yield_at, &Rfc3339).unwrap();
    assert_eq!(yield_at.format(&Rfc3339).unwrap(), "2035-12-30T00:00:00Z");
    // A coordinator whose clock starts 4 s before it: held, then rolled with an alert.
    let before = (yield_at - time::Duration::seconds(4)).format(&Rfc3339).unwrap();
    let _coordinator = fleet.spawn_coordinator("c1", &["--now", &before]);
    fleet.wait("the roll is held for hybrid", Duration::from_secs(20), || {
        fleet.logs().contains(&format!("roll of {CERT_B} blocked; not yet fetched by hybrid"))
    });
    assert_eq!(fleet.oauth().0.as_deref(), Some(CERT_A));
    fleet.wait("B is current", Duration::from_secs(20), || fleet.oauth().0.as_deref() == Some(CERT_B));
    // The alert, as a structured log line: the partner, and the instant it rolled (the
    // coordinator wakes just after the yield instant).
    let logs = fleet.logs();
    let line =
        logs.lines().find(|l| l.contains("kind=\"alert\"")).unwrap_or_else(|| panic!("no alert\n{logs}"));
    assert!(line.contains(" ERROR ALERT OAuthTokenIssuer at global: "), "{line}");
    assert!(line.contains(&format!("alert=\"partner_gate_yielded\" cert_type=\"OAuthTokenIssuer\" scope=\"global\" thumbprint=\"{CERT_B}\" partners=\"hybrid\"")), "{line}");
    let at = line.split("at=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("at=");
    let at = OffsetDateTime::parse(at, &Rfc3339).unwrap();
    assert!(yield_at <= at && at < yield_at + time::Duration::seconds(5), "rolled at {at}");
}

#[test]
fn a_partner_known_by_its_client_certificate_releases_the_roll_at_the_public_path() {
    let etcd = Etcd::start();
    let (fleet, _) = cluster(&etcd, "mtls", &[]);
    // hybrid is known by its client certificate instead of a URL from now on.
    let partner = Pki::shared().client("hybrid-partner");
    let added = fleet.ok(&["partners", "add", "hybrid", "--client-cert", partner.cert.to_str().unwrap()]);
    assert!(added.starts_with("partner hybrid: known by its client certificate (cert-sha256:"), "{added}");
    let ca = Pki::shared().ca_file();
    let (_serve, base) = key_server(&fleet, &["--client-ca", ca.to_str().unwrap()]);
    let _coordinator = fleet.coordinator("c1");
    assert_eq!(fleet.import(&file_b()), CERT_B);
    fleet.roll_in(CERT_B, 1);
    fleet.wait("the roll is held for hybrid", Duration::from_secs(30), || {
        fleet.logs().contains(&format!("roll of {CERT_B} blocked; not yet fetched by hybrid"))
    });
    let url = format!("{base}/.well-known/jwks.json");
    // Without a certificate (mutual TLS is optional), or with another client's: served, not
    // hybrid's fetch.
    assert_eq!(get(&base, "/.well-known/jwks.json").unwrap().status, 200);
    let other = Pki::shared().client("someone-else");
    let with = |identity: &Identity| {
        curl(&[
            "--cacert",
            ca.to_str().unwrap(),
            "--cert",
            identity.cert.to_str().unwrap(),
            "--key",
            identity.key.to_str().unwrap(),
            &url,
        ])
    };
    assert_eq!(with(&other).unwrap().status, 200);
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(fleet.oauth().2.as_deref(), Some(CERT_B), "released without hybrid's fetch");
    // hybrid's certificate at the public path: its fetch, and the roll goes ahead.
    let answer = with(&partner).unwrap();
    assert_eq!((answer.status, kids(&answer)), (200, 2));
    fleet.wait("B is current", Duration::from_secs(30), || fleet.oauth().0.as_deref() == Some(CERT_B));
    // A certificate from another CA is refused at the handshake.
    let foreign = Pki::other().client("hybrid");
    assert!(with(&foreign).is_none());
}
