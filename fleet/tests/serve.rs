//! The key server (`certslot-fleet serve`) against real clients: PyJWT's `PyJWKClient` fetches
//! the JWK Set over HTTPS (trusting the test CA only) and verifies tokens signed with the
//! fixtures' keys across two rolls, with the server restarted in between; `curl` sees the entity
//! tags, the 304 of a conditional GET and the cache lifetime. The server reads etcd as the
//! read-only user, without the fleet password, and serves only states the writers signed.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64ct::{Base64UrlUnpadded, Encoding as _};
use common::*;

/// The third certificate: RSA 4096, same subject.
const CERT_C: &str = "DA673C5B202637A14D1BAC72363AFA2863DFB2B7";
/// The audience of the test tokens.
const AUDIENCE: &str = "00000002-0000-0ff1-ce00-000000000000/mail.contoso.com@contoso.com";

fn python(args: &[&str]) -> String {
    let script = format!("{}/tests/python/jwt_client.py", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3").arg(script).args(args).output().expect("python3 runs");
    assert!(out.status.success(), "jwt_client.py {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("UTF-8").trim().to_owned()
}

/// The JWK `kid` of a certificate: the base64url SHA-1 thumbprint (`x5t`).
fn kid(thumbprint: &str) -> String {
    let bytes: Vec<u8> = (0..thumbprint.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&thumbprint[i..i + 2], 16).unwrap())
        .collect();
    Base64UrlUnpadded::encode_string(&bytes)
}

/// A running key server and how to reach it.
struct KeyServer {
    daemon: Daemon,
    base: String,
    ca: String,
}

impl KeyServer {
    /// `serve` over HTTPS on `port` with `cert` and `key`, and `extra` arguments.
    fn spawn(fleet: &Fleet, name: &str, port: u16, cert: &Path, key: &Path, extra: &[&str]) -> Self {
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec![
            "--listen",
            &listen,
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        Self {
            daemon: fleet.serve(name, &args),
            base: format!("https://127.0.0.1:{port}"),
            ca: Pki::shared().ca_file().to_str().unwrap().to_owned(),
        }
    }

    /// As [`KeyServer::spawn`], once it answers `/healthz`.
    fn start(fleet: &Fleet, name: &str, port: u16, cert: &Path, key: &Path, extra: &[&str]) -> Self {
        let server = Self::spawn(fleet, name, port, cert, key, extra);
        fleet.wait("the key server answers /healthz", Duration::from_secs(20), || {
            server.get("/healthz", &[]).is_some_and(|a| a.status == 200)
        });
        server
    }

    fn get(&self, path: &str, headers: &[&str]) -> Option<Answer> {
        let url = format!("{}{path}", self.base);
        let mut args = vec!["--cacert", &self.ca];
        for header in headers {
            args.extend(["--header", header]);
        }
        args.push(&url);
        curl(&args)
    }

    fn jwks(&self) -> Answer {
        self.get("/.well-known/jwks.json", &[]).expect("the JWK Set")
    }

    fn kids(&self) -> Vec<String> {
        let set: serde_json::Value = serde_json::from_str(&self.jwks().body).expect("JSON");
        set["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
    }

    fn verify(&self, token: &str) -> String {
        python(&["verify", &format!("{}/.well-known/jwks.json", self.base), &self.ca, AUDIENCE, token])
    }
}

/// A cluster without servers whose OAuthTokenIssuer is A.
fn cluster(etcd: &Etcd, name: &str) -> Fleet {
    let fleet = Fleet::new(etcd, name);
    fleet.ok(&["init", "--sip-domain", "contoso.com"]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet
}

#[test]
fn pyjwt_verifies_tokens_across_two_rolls_with_the_server_restarted() {
    let etcd = Etcd::start();
    let fleet = cluster(&etcd, "serve");
    let identity = Pki::shared().server();
    let port = free_port();
    let mut server = KeyServer::start(&fleet, "serve-1", port, &identity.cert, &identity.key, &[]);
    fleet.wait("the key server is ready", Duration::from_secs(20), || {
        server.get("/readyz", &[]).is_some_and(|a| a.status == 200)
    });
    let token_a = python(&["sign", &file_a(), PFX_PASSWORD, AUDIENCE]);
    let token_b = python(&["sign", &file_b(), PFX_PASSWORD, AUDIENCE]);
    assert_eq!(server.verify(&token_a), format!("verified {}", kid(CERT_A)));
    // B is not published yet: PyJWT finds no key for its kid.
    assert_eq!(
        server.verify(&token_b),
        format!("refused PyJWKClientError: Unable to find a signing key that matches: \"{}\"", kid(CERT_B))
    );

    // The set's entity tag and lifetime (a quarter of Lync's day of publish-ahead), and a 304
    // for a conditional GET naming it, weakly or among others.
    let first = server.jwks();
    assert_eq!(first.status, 200);
    assert_eq!(first.header("content-type"), Some("application/json"));
    assert_eq!(first.header("cache-control"), Some("public, max-age=21600"));
    let etag_a = first.header("etag").unwrap().to_owned();
    assert_eq!(etag_a.len(), 45, "{etag_a}"); // 43 Base64url characters of SHA-256, quoted
    for condition in [etag_a.clone(), format!("W/{etag_a}"), format!("\"other\", {etag_a}"), "*".into()] {
        let answer = server.get("/.well-known/jwks.json", &[&format!("If-None-Match: {condition}")]).unwrap();
        assert_eq!(answer.status, 304, "If-None-Match: {condition}");
        assert_eq!(answer.body, "");
        assert_eq!(answer.header("etag"), Some(etag_a.as_str()));
        assert_eq!(answer.header("cache-control"), Some("public, max-age=21600"));
    }
    let other = server.get("/.well-known/jwks.json", &["If-None-Match: \"other\""]).unwrap();
    assert_eq!((other.status, other.body.as_str()), (200, first.body.as_str()));
    // The metadata document: Lync's, keys in Exchange's form, its own tag.
    let metadata = server.get("/metadata/json/1", &[]).unwrap();
    assert_eq!(metadata.status, 200);
    let document: serde_json::Value = serde_json::from_str(&metadata.body).unwrap();
    assert_eq!(document["issuer"], "00000004-0000-0ff1-ce00-000000000000@contoso.com");
    assert_eq!(document["keys"][0]["keyinfo"]["x5t"], kid(CERT_A).as_str());
    assert_ne!(metadata.header("etag"), Some(etag_a.as_str()));

    // B rolls in 8 s (announced at once: --force skips the notice); the server publishes it.
    assert_eq!(fleet.import(&file_b()), CERT_B);
    let rolled = Instant::now();
    fleet.roll_in(CERT_B, 8);
    let took = fleet.wait("the JWK Set announces B", Duration::from_secs(5), || {
        server.jwks().header("etag") != Some(etag_a.as_str())
    });
    eprintln!(
        "roll → new ETag served: {:.0} ms (roll command included: {:.0} ms)",
        took.as_secs_f64() * 1e3,
        rolled.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(server.kids(), [kid(CERT_A), kid(CERT_B)]);
    assert_eq!(server.verify(&token_b), format!("verified {}", kid(CERT_B)));

    // Restarted in the middle of the roll: the same set, the same tag.
    let etag_ab = server.jwks().header("etag").unwrap().to_owned();
    server.daemon.stop();
    let server = KeyServer::start(&fleet, "serve-2", port, &identity.cert, &identity.key, &[]);
    assert_eq!(server.jwks().header("etag"), Some(etag_ab.as_str()));
    assert_eq!(server.verify(&token_a), format!("verified {}", kid(CERT_A)));

    // The coordinator applies the roll: B signs, A is kept while its tokens live.
    let _coordinator = fleet.coordinator("c1");
    fleet.wait("B is current", Duration::from_secs(30), || fleet.oauth().0.as_deref() == Some(CERT_B));
    fleet.wait("the set has B first", Duration::from_secs(5), || server.kids() == [kid(CERT_B), kid(CERT_A)]);
    assert_eq!(server.verify(&token_a), format!("verified {}", kid(CERT_A)));
    assert_eq!(server.verify(&token_b), format!("verified {}", kid(CERT_B)));

    // C rolls in: B becomes the previous key and A is gone; A's tokens fail.
    assert_eq!(fleet.import(&fixture("openssl3-rsa4096.pfx")), CERT_C);
    fleet.roll_in(CERT_C, 1);
    fleet.wait("C is current", Duration::from_secs(30), || fleet.oauth().0.as_deref() == Some(CERT_C));
    fleet.wait("the set is C, B", Duration::from_secs(5), || server.kids() == [kid(CERT_C), kid(CERT_B)]);
    assert_eq!(
        server.verify(&token_a),
        format!("refused PyJWKClientError: Unable to find a signing key that matches: \"{}\"", kid(CERT_A))
    );
    assert_eq!(server.verify(&token_b), format!("verified {}", kid(CERT_B)));
    let token_c = python(&["sign", &fixture("openssl3-rsa4096.pfx"), PFX_PASSWORD, AUDIENCE]);
    assert_eq!(server.verify(&token_c), format!("verified {}", kid(CERT_C)));
}

#[test]
fn only_a_state_the_writers_signed_is_served() {
    let etcd = Etcd::start();
    let fleet = cluster(&etcd, "signed");
    let identity = Pki::shared().server();
    // Another password's writers: their key does not verify this cluster's state.
    let other = Fleet::with_password(&etcd, "signed", "another-s3cret");
    let other_key = other.writer_key();
    let mut server = KeyServer::start(
        &fleet,
        "serve-wrong-key",
        free_port(),
        &identity.cert,
        &identity.key,
        &["--writer-key", &other_key],
    );
    fleet.wait("the refusal is logged", Duration::from_secs(20), || {
        server.daemon.log().contains("kind=\"state-refused\"")
    });
    let ready = server.get("/readyz", &[]).unwrap();
    assert_eq!(ready.status, 503);
    assert!(ready.body.starts_with("not ready: the state was refused: the state at /certslot/signed/state is not signed by this cluster's writers"), "{}", ready.body);
    // Nothing verified was ever read, so nothing is served.
    let jwks = server.jwks();
    assert_eq!((jwks.status, jwks.body.as_str()), (503, "no state read yet\n"));
    server.daemon.stop();

    // Plain HTTP is for loopback only: refused elsewhere, served there.
    let port = free_port();
    let anywhere = format!("0.0.0.0:{port}");
    let out = fleet.cli_as(
        READER,
        &["serve", "--plain-http", "--listen", &anywhere, "--writer-key", &fleet.writer_key()],
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: plain HTTP is served only on loopback (for a reverse proxy on this host), not on {anywhere}; give a certificate and key for HTTPS\n"
        )
    );
    let loopback = format!("127.0.0.1:{port}");
    let _plain = fleet.serve("serve-plain", &["--plain-http", "--listen", &loopback]);
    let url = format!("http://{loopback}/.well-known/jwks.json");
    fleet.wait("plain HTTP serves the set", Duration::from_secs(20), || {
        curl(&[&url]).is_some_and(|a| a.status == 200 && a.body.contains(&kid(CERT_A)))
    });
}

#[test]
fn changed_certificate_files_are_served_without_a_restart() {
    let etcd = Etcd::start();
    let fleet = cluster(&etcd, "reload");
    let (cert, key) = (fleet.work.path().join("web.pem"), fleet.work.path().join("web.key"));
    let loopback = Pki::shared().server();
    std::fs::copy(&loopback.cert, &cert).unwrap();
    std::fs::copy(&loopback.key, &key).unwrap();
    let port = free_port();
    let server = KeyServer::start(&fleet, "serve-reload", port, &cert, &key, &["--tls-reload", "1"]);
    let ca = Pki::shared().ca_file();
    let named = format!("https://keys.contoso.com:{port}/healthz");
    let resolve = format!("keys.contoso.com:{port}:127.0.0.1");
    let by_name = || curl(&["--cacert", ca.to_str().unwrap(), "--resolve", &resolve, &named]);
    // The loopback certificate does not name keys.contoso.com: curl refuses it.
    assert!(by_name().is_none());
    // Half a renewal (a key that is not the certificate's) is refused and logged; the pair in use
    // stays.
    let renewed = Pki::shared().server_for("keys.contoso.com");
    std::fs::copy(&renewed.cert, &cert).unwrap();
    fleet.wait("the mismatch is logged", Duration::from_secs(10), || {
        server.daemon.log().contains("kind=\"tls-reload-failed\"")
    });
    assert!(server.daemon.log().contains(&format!(
        "the changed certificate files do not load: the key in {} is not the key of the certificate in {}",
        key.display(),
        cert.display()
    )), "{}", server.daemon.log());
    assert_eq!(server.get("/healthz", &[]).unwrap().status, 200);
    // The key follows: the new pair is served.
    std::fs::copy(&renewed.key, &key).unwrap();
    fleet.wait("the renewed certificate is served", Duration::from_secs(10), || by_name().is_some());
    assert!(server.daemon.log().contains("loaded the changed certificate files kind=\"tls-reloaded\""));
    assert_eq!(by_name().unwrap().body, "ok\n");
}

/// Headless Chromium (Debian's) with `args` and the URL last: its stdout.
fn chromium(args: &[&str], url: &str) -> Vec<u8> {
    let profile = std::env::temp_dir().join(format!("certslot-chromium-{}", std::process::id()));
    let out = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    assert!(out.status.success(), "chromium {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn the_status_page_shows_a_roll_in_headless_chromium() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "status");
    fleet.setup(&["fe01.contoso.com", "fe02.contoso.com"]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.ok(&["partners", "add", "hybrid"]);
    assert_eq!(fleet.import(&file_b()), CERT_B);
    // A roll in progress: B announced (--force skips the day of notice), due in ten minutes.
    fleet.roll_in(CERT_B, 600);
    let _agent = fleet.agent("fe01.contoso.com");
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _serve = fleet.serve("serve-status", &["--plain-http", "--listen", &listen]);
    let url = format!("http://{listen}/");
    fleet.wait("the page shows fe01 in step", Duration::from_secs(30), || {
        curl(&[&url]).is_some_and(|a| a.status == 200 && a.body.contains("in step"))
    });
    let page = curl(&[&url]).unwrap();
    assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(!page.body.contains("<script"), "a page without scripts");

    // What Chromium renders: the slot with its three roles, the timeline, the servers, the partner.
    let dom = String::from_utf8(chromium(&["--dump-dom"], &url)).unwrap();
    for expected in [
        "<h1>certslot: status</h1>",
        "<h3>OAuthTokenIssuer at global</h3>",
        &format!("<td>current</td><td><code>{CERT_A}</code></td>"),
        &format!("<td>pending</td><td><code>{CERT_B}</code></td>"),
        "aria-label=\"rollover timeline\"",
        ">today</text>",
        "<title>published: ",
        "<td>fe01.contoso.com</td><td>pool01.contoso.com</td><td><span class=\"ok\">in step</span>",
        "<td>fe02.contoso.com</td><td>pool01.contoso.com</td><td><span class=\"bad\">not reporting</span>",
        "<td>hybrid</td><td>never</td><td>OAuthTokenIssuer at global: <span class=\"bad\">has not seen the next key</span>",
    ] {
        assert!(dom.contains(expected), "{expected}\n{dom}");
    }
    // A screenshot for people, kept under the build folder (CI keeps it as an artifact).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let _ = std::fs::remove_file(&shot);
    chromium(&[&format!("--screenshot={}", shot.display()), "--window-size=1100,1400"], &url);
    let png = std::fs::read(&shot).expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000, "{} bytes", png.len());
    eprintln!("status page screenshot: {}", shot.display());
}

#[test]
fn under_load_every_answer_is_a_document_or_a_304() {
    let etcd = Etcd::start();
    let fleet = cluster(&etcd, "load");
    let identity = Pki::shared().server();
    let server = KeyServer::start(&fleet, "serve-load", free_port(), &identity.cert, &identity.key, &[]);
    let etag = server.jwks().header("etag").unwrap().to_owned();
    // wrk (Debian's): 64 connections for 3 s, plain GETs and conditional ones; it counts any
    // answer but 2xx and 3xx, and any socket error.
    let url = format!("{}/.well-known/jwks.json", server.base);
    for extra in [&[][..], &["--header", &format!("If-None-Match: {etag}")][..]] {
        let out = Command::new("wrk")
            .args(["-t2", "-c64", "-d3s"])
            .args(extra)
            .arg(&url)
            .output()
            .expect("wrk runs");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(!text.contains("Non-2xx or 3xx responses") && !text.contains("Socket errors"), "{text}");
        let requests: u64 = text
            .lines()
            .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.trim().parse().unwrap()))
            .unwrap_or_else(|| panic!("{text}"));
        assert!(requests > 1000, "{text}");
    }
    assert!(server.daemon.log().contains("kind=\"published\""));
}
