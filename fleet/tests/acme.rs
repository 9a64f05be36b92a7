//! The ACME issuer against Debian's `pebble` (Let's Encrypt's test CA, `-strict`) and
//! `pebble-challtestsrv` (its challenge server, answering http-01 here, and DNS for pebble),
//! both started by the test on loopback with a listener certificate from the tests' CA (made with
//! the OpenSSL CLI): a renewal started by certslot, ordered, answered, finalized with certslot's
//! request, and finished into the store.

mod common;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use base64ct::Encoding as _;
use certslot::obtain::{RequestTemplate, SelfSignedOptions};
use certslot::rand_core::UnwrapErr;
use certslot::rollover::RenewOptions;
use certslot::{CertType, OffsetDateTime, Policy, PrivateKey, RollOptions, Scope, Store};
use certslot_etcd::acme::{AcmeCa, ChallengeAnswer, Responder};
use common::{Daemon, Etcd, Fleet, Pki, TempDir, curl, free_port, set_of, wait_until};
use instant_acme::{ChallengeType, RetryPolicy};

fn wait_for_port(port: u16) {
    wait_until(&format!("something listens on {port}"), Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// pebble and pebble-challtestsrv on loopback, pebble's listener certificate from the tests'
/// CA (`Pki`, `IP:127.0.0.1`). challtestsrv answers pebble's DNS queries (every name is
/// 127.0.0.1) unless BIND does (`dns: Some(port)`), and http-01 unless the fleet's key server
/// does (`http01: Some(port)`).
struct Pebble {
    acme_port: u16,
    management: u16,
    challenge_management: u16,
    pebble: Daemon,
    command: Vec<String>,
    log: std::path::PathBuf,
    _challtestsrv: Daemon,
    _dir: TempDir,
}

impl Pebble {
    fn start(name: &str, http01: Option<u16>, dns: Option<u16>) -> Self {
        Self::start_with(name, http01, dns, false)
    }

    /// As [`Pebble::start`]; with `eab`, accounts need the external account binding
    /// [`EAB_KID`] with [`EAB_KEY`].
    fn start_with(name: &str, http01: Option<u16>, dns: Option<u16>, eab: bool) -> Self {
        let dir = TempDir::new(name);
        let server = Pki::shared().server();
        let (acme_port, management, challtestsrv_dns, challenge_management) =
            (free_port(), free_port(), free_port(), free_port());
        let http_port = http01.unwrap_or_else(free_port);
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": server.cert, "privateKey": server.key,
            "httpPort": http_port, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": eab,
            "externalAccountMACKeys": {EAB_KID: EAB_KEY}
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let a = |p: u16| format!("127.0.0.1:{p}");
        let challtestsrv_http = if http01.is_some() { String::new() } else { a(http_port) };
        let mut challtestsrv = Command::new("pebble-challtestsrv");
        challtestsrv.args([
            "-http01",
            &challtestsrv_http,
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-dns01",
            &a(challtestsrv_dns),
            "-management",
            &a(challenge_management),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]);
        let challtestsrv =
            Daemon::spawn("pebble-challtestsrv", challtestsrv, dir.path().join("challtestsrv.log"));
        let resolver = a(dns.unwrap_or(challtestsrv_dns));
        let command: Vec<String> =
            ["-config", config_file.to_str().unwrap(), "-strict", "-dnsserver", &resolver]
                .map(String::from)
                .into();
        let log = dir.path().join("pebble.log");
        let pebble = Self::spawn_pebble(&command, log.clone());
        wait_for_port(acme_port);
        wait_for_port(challenge_management);
        Self {
            acme_port,
            management,
            challenge_management,
            pebble,
            command,
            log,
            _challtestsrv: challtestsrv,
            _dir: dir,
        }
    }

    fn spawn_pebble(args: &[String], log: std::path::PathBuf) -> Daemon {
        let mut pebble = Command::new("pebble");
        pebble.args(args).envs([("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_AUTHZREUSE", "0")]);
        Daemon::spawn("pebble", pebble, log)
    }

    /// Stops pebble (SIGKILL): the CA is down.
    fn stop(&mut self) {
        self.pebble.kill();
    }

    /// Starts pebble again on the same ports: a fresh CA (pebble keeps nothing), logging to
    /// a file of its own.
    fn restart(&mut self) {
        self.pebble = Self::spawn_pebble(&self.command, self.log.with_extension("2.log"));
        wait_for_port(self.acme_port);
    }

    /// The PEM of pebble's root and intermediate, from its management port (over HTTPS,
    /// trusting the tests' CA).
    fn issuers(&self) -> (String, String) {
        let ca = Pki::shared().ca_file();
        let get = |what: &str| {
            let url = format!("https://127.0.0.1:{}/{what}/0", self.management);
            let answer = curl(&["--cacert", ca.to_str().unwrap(), &url]).expect("pebble's management port");
            assert_eq!(answer.status, 200, "{url}: {}", answer.body);
            answer.body
        };
        (get("roots"), get("intermediates"))
    }

    fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// How many orders pebble holds (its log says so after each new one; a request it refused,
    /// such as `-strict`'s random bad nonces, adds none).
    fn orders(&self) -> usize {
        self.pebble.log().matches("Added order \"").count()
    }

    /// How many ACME requests pebble answered, by its log.
    fn requests(&self) -> usize {
        self.pebble.log().matches(" -> calling handler()").count()
    }

    /// The requests pebble answered in `range` (in its log's order), by method and path (ids
    /// left out).
    fn requests_by_kind(&self, range: std::ops::Range<usize>) -> String {
        let mut kinds = std::collections::BTreeMap::new();
        let lines = self.pebble.log();
        let requests = lines.lines().filter(|l| l.ends_with(" -> calling handler()"));
        for line in requests.skip(range.start).take(range.len()) {
            let (method, path) = {
                let mut words = line.split_whitespace().skip(3);
                (words.next().unwrap_or_default().to_owned(), words.next().unwrap_or_default().to_owned())
            };
            let path = match path.matches('/').count() {
                0 | 1 => path,
                _ => format!("{}/", path.rsplit_once('/').map_or("", |(head, _)| head)),
            };
            *kinds.entry(format!("{method} {path}")).or_insert(0) += 1;
        }
        kinds.iter().map(|(kind, n)| format!("{kind} ×{n}")).collect::<Vec<_>>().join(", ")
    }
}

/// The external account binding pebble takes when it requires one: a key identifier and its
/// HMAC key, base64url as CAs hand it out.
const EAB_KID: &str = "kid-certslot";
const EAB_KEY: &str = "zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W";

/// POSTs `body` to the management API of the challtestsrv at `port`.
fn challtestsrv(port: u16, path: &str, body: &serde_json::Value) -> Result<(), String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let body = body.to_string();
    write!(stream, "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: {}\r\n\r\n{body}", body.len())
        .map_err(|e| e.to_string())?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    match answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
        true => Ok(()),
        false => Err(answer),
    }
}

/// http-01 answers served by pebble-challtestsrv.
/// The challtestsrv of one test's pebble (tests run in parallel, each with its own), by its
/// management port.
struct ChallTestSrv(u16);

impl Responder for ChallTestSrv {
    fn kind(&self) -> ChallengeType {
        ChallengeType::Http01
    }

    async fn present(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        challtestsrv(
            self.0,
            "/add-http01",
            &serde_json::json!({"token": answer.token, "content": answer.key_authorization}),
        )
    }

    async fn clean_up(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        challtestsrv(self.0, "/del-http01", &serde_json::json!({"token": answer.token}))
    }
}

/// A store whose OAuthTokenIssuer slot holds a self-signed certificate, its renewal started
/// now (forced): the request an ACME order is for.
fn renewal_started() -> (Store, certslot::rollover::StartedRenewal) {
    let now = OffsetDateTime::now_utc();
    let oauth = CertType::OAuthTokenIssuer;
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    let template = RequestTemplate::for_type(&oauth, "pool01.contoso.com", "contoso.com").unwrap();
    let mut rng = UnwrapErr(getrandom::SysRng);
    let key = PrivateKey::generate_rsa(2048, &mut rng).unwrap();
    let options = SelfSignedOptions::default().validity(certslot::Duration::days(365)).unwrap();
    let policy = Policy::oauth_token_issuer("contoso.com").unwrap();
    let current = store.add_pfx(template.self_signed(key, &policy, now, options, &mut rng).unwrap()).unwrap();
    store.set(std::slice::from_ref(&oauth), &Scope::Global, &current, now, RollOptions::default()).unwrap();
    let key = PrivateKey::generate_rsa(2048, &mut rng).unwrap();
    let options = RenewOptions::default().force();
    let started =
        certslot::rollover::start_renewal(&mut store, &oauth, &Scope::Global, key, now, options, &mut rng)
            .expect("start");
    (store, started)
}

/// Orders, answers, finalizes and finishes the renewal started in `store`.
async fn order_and_finish(
    pebble: &Pebble,
    account: &instant_acme::Account,
    store: &mut Store,
    started: &certslot::rollover::StartedRenewal,
) -> certslot::Thumbprint {
    let oauth = CertType::OAuthTokenIssuer;
    let names = started.request.template().dns_names().to_vec();
    assert_eq!(names, ["pool01.contoso.com", "contoso.com"]);
    let url = certslot_etcd::acme::place_order(account, &names).await.expect("order");
    store.set_renewal_order(&oauth, &Scope::Global, &url, OffsetDateTime::now_utc()).unwrap();
    let policy = RetryPolicy::new().timeout(Duration::from_secs(30));
    let answers = ChallTestSrv(pebble.challenge_management);
    let chain = certslot_etcd::acme::complete_order(account, &url, started.request.der(), &answers, &policy)
        .await
        .expect("certificate");
    let at = OffsetDateTime::now_utc();
    certslot::rollover::finish_renewal(store, &oauth, &Scope::Global, chain.as_bytes(), at)
        .expect("finish")
        .thumbprint
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_is_ordered_answered_finalized_and_rolled_in() {
    let pebble = Pebble::start("http01", None, None);
    let roots = std::fs::read(Pki::shared().ca_file()).unwrap();
    let ca = AcmeCa::new(&pebble.directory(), &roots).unwrap().contact("mailto:certs@contoso.com");
    let (account, credentials) = ca.account(None).await.expect("account");
    let credentials = credentials.expect("a new account's credentials");
    assert!(credentials.contains("\"key_pkcs8\""));
    let (mut store, started) = renewal_started();
    let renewed = order_and_finish(&pebble, &account, &mut store, &started).await;
    let stored = store.inventory().get(&renewed).unwrap();
    assert!(
        stored.certificate.issuer().to_string().starts_with("CN=Pebble Intermediate CA"),
        "{}",
        stored.certificate.issuer()
    );
    assert_eq!(pebble.orders(), 1, "{}", pebble.pebble.log());
    let first = pebble.requests();

    // The account restored from its credentials (what the state keeps): no registration.
    let ca = AcmeCa::new(&pebble.directory(), &roots).unwrap();
    let (account, registered) = ca.account(Some(&credentials)).await.expect("restored account");
    assert!(registered.is_none());
    let (mut store, started) = renewal_started();
    order_and_finish(&pebble, &account, &mut store, &started).await;
    assert_eq!(pebble.orders(), 2);
    eprintln!(
        "figure: ACME requests per renewal of two names (pebble -strict, its bad-nonce retries \
         included): {first} with a new account ({}), {} with a restored one ({})",
        pebble.requests_by_kind(0..first),
        pebble.requests() - first,
        pebble.requests_by_kind(first..pebble.requests())
    );
}

/// BIND (`named`) on loopback, primary for `contoso.com`, which takes updates signed with the
/// TSIG key `certslot` (made by `tsig-keygen`): where the dns-01 answers go and pebble looks.
struct Bind {
    port: u16,
    key_file: std::path::PathBuf,
    named: Daemon,
    _dir: TempDir,
}

impl Bind {
    fn start(name: &str) -> Self {
        let dir = TempDir::new(&format!("{name}-bind"));
        let path = |file: &str| dir.path().join(file).to_str().unwrap().to_owned();
        let keygen = Command::new("tsig-keygen")
            .args(["-a", "hmac-sha256", "certslot"])
            .output()
            .expect("tsig-keygen runs (scripts/test-deps.sh installs bind9)");
        assert!(keygen.status.success(), "{}", String::from_utf8_lossy(&keygen.stderr));
        std::fs::write(path("certslot.key"), &keygen.stdout).unwrap();
        std::fs::write(
            path("contoso.com.zone"),
            "$TTL 60\n@ IN SOA ns1.contoso.com. hostmaster.contoso.com. ( 1 3600 600 86400 60 )\n\
             \x20 IN NS ns1.contoso.com.\nns1 IN A 127.0.0.1\n",
        )
        .unwrap();
        let port = free_port();
        let home = dir.path().to_str().unwrap();
        let conf = format!(
            "include \"{key}\";\n\
             options {{ directory \"{home}\"; pid-file \"{home}/named.pid\"; \
             session-keyfile \"{home}/session.key\"; managed-keys-directory \"{home}\"; \
             listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }}; recursion no; \
             dnssec-validation no; notify no; }};\n\
             controls {{ }};\n\
             zone \"contoso.com\" {{ type primary; file \"{zone}\"; allow-update {{ key \"certslot\"; }}; }};\n",
            key = path("certslot.key"),
            zone = path("contoso.com.zone"),
        );
        std::fs::write(path("named.conf"), conf).unwrap();
        let mut named = Command::new("named");
        named.args(["-g", "-n", "1", "-c", &path("named.conf")]);
        let named = Daemon::spawn("named", named, dir.path().join("named.log"));
        wait_until("named is running", Duration::from_secs(20), || named.log().contains("running"));
        Self { port, key_file: dir.path().join("certslot.key"), named, _dir: dir }
    }
}

// ----- the coordinator renews through pebble ------------------------------------------------------

const SERVERS: [&str; 3] = ["fe01.contoso.com", "fe02.contoso.com", "fe03.contoso.com"];

/// Who answers the challenges: the key server's plain-HTTP listener of its own
/// (`--acme-http-listen`), its main listener, or BIND (dns-01).
#[derive(Clone, Copy)]
enum Answers<'a> {
    KeyServerHttp,
    KeyServerMain,
    Dns(&'a Bind),
}

/// A fleet of three front ends (agents running), a key server answering http-01 on its own
/// plain-HTTP port, pebble validating through it, and OAuthTokenIssuer renewing through pebble:
/// its current certificate self-signed by the OpenSSL CLI with 40 days left, so that Lync's
/// rollover preset (renew six weeks before expiry) says renew now.
struct AcmeFleet {
    fleet: Fleet,
    pebble: Pebble,
    current: String,
    jwks_port: u16,
    _agents: Vec<Daemon>,
    _serve: Daemon,
    _etcd: Etcd,
}

impl AcmeFleet {
    /// The fleet answering the challenges as `answers` says.
    fn start(name: &str, answers: Answers<'_>) -> Self {
        Self::start_with(name, answers, false)
    }

    /// As [`AcmeFleet::start`], pebble requiring an external account binding when `eab`.
    fn start_with(name: &str, answers: Answers<'_>, eab: bool) -> Self {
        let etcd = Etcd::start();
        let jwks_port = free_port();
        let acme_http = match answers {
            Answers::KeyServerMain => jwks_port,
            _ => free_port(),
        };
        let bind = match answers {
            Answers::Dns(bind) => Some(bind),
            _ => None,
        };
        let pebble = match bind {
            None => Pebble::start_with(name, Some(acme_http), None, eab),
            Some(bind) => Pebble::start_with(name, None, Some(bind.port), eab),
        };
        let fleet = Fleet::new(&etcd, name);
        fleet.setup(&SERVERS);
        let dir = fleet.work.path();
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
            assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "current.key",
            "-out",
            "current.pem",
            "-days",
            "40",
            "-subj",
            "/CN=pool01.contoso.com",
            "-addext",
            "subjectAltName=DNS:pool01.contoso.com,DNS:contoso.com",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment",
        ]);
        let password = format!("pass:{}", common::PFX_PASSWORD);
        openssl(&[
            "pkcs12",
            "-export",
            "-in",
            "current.pem",
            "-inkey",
            "current.key",
            "-out",
            "current.pfx",
            "-passout",
            &password,
        ]);
        let current = fleet.import(dir.join("current.pfx").to_str().unwrap());
        fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", &current]);
        let ca = Pki::shared().ca_file();
        let directory = pebble.directory();
        let mut configure = vec![
            "configure",
            "--type",
            "OAuthTokenIssuer",
            "--acme-directory",
            &directory,
            "--acme-root",
            ca.to_str().unwrap(),
            "--acme-contact",
            "mailto:certs@contoso.com",
        ];
        let (dns_server, key_file) = match bind {
            Some(bind) => (format!("127.0.0.1:{}", bind.port), bind.key_file.to_str().unwrap().to_owned()),
            None => Default::default(),
        };
        if bind.is_some() {
            configure.extend([
                "--acme-challenge",
                "dns-01",
                "--dns-server",
                &dns_server,
                "--dns-zone",
                "contoso.com",
                "--tsig-key-file",
                &key_file,
            ]);
        }
        let configured = fleet.ok(&configure);
        let challenge = if bind.is_some() { "dns-01" } else { "http-01" };
        assert!(
            configured.contains(&format!(
                "OAuthTokenIssuer renews through the ACME CA at {directory} ({challenge})"
            )),
            "{configured}"
        );
        let plan = fleet.json(&["plan"]);
        assert_eq!(plan["actions"][0]["action"], "renew", "{plan}");
        let agents = SERVERS.iter().map(|s| fleet.agent(s)).collect();
        let (listen, acme_listen) = (format!("127.0.0.1:{jwks_port}"), format!("127.0.0.1:{acme_http}"));
        let mut serve_args = vec!["--listen", &listen, "--plain-http"];
        if matches!(answers, Answers::KeyServerHttp) {
            serve_args.extend(["--acme-http-listen", &acme_listen]);
        }
        let serve = fleet.serve("serve", &serve_args);
        wait_for_port(jwks_port);
        if matches!(answers, Answers::KeyServerHttp) {
            wait_for_port(acme_http);
        }
        Self { fleet, pebble, current, jwks_port, _agents: agents, _serve: serve, _etcd: etcd }
    }

    /// Waits until the slot has a pending certificate that every agent holds beside the
    /// current one; the pending certificate.
    fn wait_staged(&self, timeout: Duration) -> String {
        let fleet = &self.fleet;
        fleet.wait("the renewal is pending and staged on every agent", timeout, || {
            let Some(pending) = fleet.oauth().2 else { return false };
            SERVERS.iter().all(|s| fleet.held(s) == set_of(&[&self.current, &pending]))
        });
        fleet.oauth().2.expect("pending")
    }

    /// The thumbprints (hex) the key server's JWK Set announces, from each key's x5t.
    fn jwks_thumbprints(&self) -> Vec<String> {
        let answer =
            curl(&[&format!("http://127.0.0.1:{}/.well-known/jwks.json", self.jwks_port)]).expect("JWKS");
        let jwks: serde_json::Value = serde_json::from_str(&answer.body).expect("JSON");
        jwks["keys"]
            .as_array()
            .expect("keys")
            .iter()
            .map(|k| {
                let x5t = base64ct::Base64UrlUnpadded::decode_vec(k["x5t"].as_str().expect("x5t"))
                    .expect("base64url");
                x5t.iter().map(|b| format!("{b:02X}")).collect()
            })
            .collect()
    }

    /// The issuer of `thumbprint`, as `get` shows the pending certificate.
    fn pending_issuer(&self) -> String {
        let got = self.fleet.json(&["get", "--type", "OAuthTokenIssuer"]);
        got["slots"][0]["pending"]["issuer"].as_str().unwrap_or_default().to_owned()
    }
}

/// The coordinator with `--renew` renews through pebble over http-01 answered by the key
/// server, the agents stage the successor, the JWK Set announces it, and it rolls in at the
/// planned date.
#[test]
fn the_coordinator_renews_through_acme_over_http01_and_rolls_in_at_the_planned_date() {
    let acme = AcmeFleet::start("acme-http01", Answers::KeyServerHttp);
    let fleet = &acme.fleet;
    let started = std::time::Instant::now();
    let mut renewer = fleet.spawn_coordinator("renewer", &["--renew"]);
    let renewed = acme.wait_staged(Duration::from_secs(60));
    let took = started.elapsed();
    assert_ne!(renewed, acme.current);
    assert!(acme.pending_issuer().contains("Pebble Intermediate CA"), "{}", acme.pending_issuer());
    assert_eq!(acme.pebble.orders(), 1, "{}", acme.pebble.pebble.log());
    let log = renewer.log();
    assert!(log.contains("ACME account registered at"), "{log}");
    assert!(log.contains("renewed through ACME"), "{log}");
    eprintln!(
        "figure: http-01 renewal to 3 agents staged in {:.2} s, {} ACME requests (a new account)",
        took.as_secs_f64(),
        acme.pebble.requests()
    );
    // What fe01 holds verifies with OpenSSL up to pebble's root, fetched from its management
    // port.
    let (root, intermediate) = acme.pebble.issuers();
    let dir = fleet.work.path();
    std::fs::write(dir.join("pebble-root.pem"), root).unwrap();
    std::fs::write(dir.join("pebble-intermediate.pem"), intermediate).unwrap();
    let pfx = fleet.agent_dir(SERVERS[0]).join(format!("{renewed}.pfx"));
    let password = format!("pass:{}", common::FILE_PASSWORD);
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl runs");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let pfx = pfx.to_str().unwrap();
    openssl(&["pkcs12", "-in", pfx, "-nokeys", "-clcerts", "-passin", &password, "-out", "renewed.pem"]);
    let verified = openssl(&[
        "verify",
        "-CAfile",
        "pebble-root.pem",
        "-untrusted",
        "pebble-intermediate.pem",
        "renewed.pem",
    ]);
    assert_eq!(verified, "renewed.pem: OK\n");
    // Verifiers learn the successor before it signs anything.
    let mut announced = acme.jwks_thumbprints();
    announced.sort();
    let mut expected = vec![acme.current.clone(), renewed.clone()];
    expected.sort();
    assert_eq!(announced, expected);
    // At the planned date (a day on: Lync's publish-ahead) the successor rolls in.
    let plan = fleet.json(&["plan"]);
    assert_eq!(plan["actions"][0]["action"], "roll", "{plan}");
    let effective = plan["actions"][0]["effective_at"].as_str().expect("roll date").to_owned();
    renewer.terminate();
    let later = time::OffsetDateTime::parse(&effective, &time::format_description::well_known::Rfc3339)
        .unwrap()
        + time::Duration::minutes(1);
    let later = later.format(&time::format_description::well_known::Rfc3339).unwrap();
    let _after = fleet.spawn_coordinator("renewer-later", &["--renew", "--now", &later]);
    fleet.wait("the successor rolls in", Duration::from_secs(30), || {
        fleet.oauth().0.as_deref() == Some(&renewed)
    });
    assert_eq!(fleet.oauth(), (Some(renewed), Some(acme.current.clone()), None));
    assert_eq!(acme.pebble.orders(), 1);
}

/// The coordinator is killed after placing the order and before finalizing it (its first poll
/// waits a quarter of a second); the standby resumes the same order with the same key. Here the
/// key server answers http-01 on its main listener.
#[test]
fn a_standby_coordinator_finishes_the_order_a_killed_one_placed() {
    let acme = AcmeFleet::start("acme-failover", Answers::KeyServerMain);
    let fleet = &acme.fleet;
    let mut first = fleet.spawn_coordinator("first", &["--renew"]);
    wait_until("the first coordinator places the order", Duration::from_secs(60), || {
        first.log().contains("ACME order placed")
    });
    first.kill();
    let log = first.log();
    assert!(!log.contains("renewed through ACME"), "{log}");
    let url = log
        .split("ACME order placed: ")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .expect("the order's URL")
        .to_owned();
    let plan = fleet.json(&["plan"]);
    assert_eq!(plan["actions"][0]["action"], "finish_renewal", "{plan}");
    assert_eq!(plan["actions"][0]["order"], url.as_str(), "{plan}");
    let standby = fleet.spawn_coordinator("standby", &["--renew"]);
    let renewed = acme.wait_staged(Duration::from_secs(60));
    assert_ne!(renewed, acme.current);
    let log = standby.log();
    assert!(log.contains("renewed through ACME"), "{log}");
    assert!(!log.contains("ACME order placed"), "{log}");
    assert!(!log.contains("ACME account registered"), "the standby uses the account in the state: {log}");
    assert_eq!(acme.pebble.orders(), 1, "{}", acme.pebble.pebble.log());
}

/// pebble down while a renewal is in progress: attempts back off, the alert turns critical
/// past the threshold, nothing rolls; once pebble is back the renewal finishes.
#[test]
fn a_ca_that_is_down_is_retried_with_backoff_and_alerted_then_the_renewal_finishes() {
    let mut acme = AcmeFleet::start("acme-down", Answers::KeyServerHttp);
    acme.pebble.stop();
    let fleet = &acme.fleet;
    let coordinator =
        fleet.spawn_coordinator("patient", &["--renew", "--acme-retry-cap", "1", "--acme-alert-after", "3"]);
    fleet.wait("the failing renewal turns critical", Duration::from_secs(30), || {
        coordinator.log().contains("CRITICAL: renewal of")
    });
    let log = coordinator.log();
    assert!(log.contains("through ACME (begun"), "{log}");
    assert!(log.contains("failed 1 time,"), "{log}");
    let plan = fleet.json(&["plan"]);
    assert_eq!(plan["actions"][0]["action"], "finish_renewal", "{plan}");
    assert_eq!(fleet.oauth().2, None, "nothing rolls while the CA is down");
    acme.pebble.restart();
    let renewed = acme.wait_staged(Duration::from_secs(60));
    assert_ne!(renewed, acme.current);
    assert_eq!(acme.pebble.orders(), 1);
}

/// The same over dns-01: the coordinator adds the TXT records to BIND's zone with TSIG-signed
/// RFC 2136 updates, pebble reads them from BIND, and the records are deleted afterwards.
#[test]
fn the_coordinator_renews_through_acme_over_dns01_with_tsig_signed_updates() {
    let bind = Bind::start("acme-dns01");
    let acme = AcmeFleet::start("acme-dns01", Answers::Dns(&bind));
    let fleet = &acme.fleet;
    let started = std::time::Instant::now();
    let renewer = fleet.spawn_coordinator("renewer", &["--renew"]);
    let renewed = acme.wait_staged(Duration::from_secs(60));
    let took = started.elapsed();
    assert_ne!(renewed, acme.current);
    assert!(acme.pending_issuer().contains("Pebble Intermediate CA"), "{}", acme.pending_issuer());
    assert_eq!(acme.pebble.orders(), 1, "{}", acme.pebble.pebble.log());
    assert!(renewer.log().contains("renewed through ACME"), "{}", renewer.log());
    let mut announced = acme.jwks_thumbprints();
    announced.sort();
    let mut expected = vec![acme.current.clone(), renewed.clone()];
    expected.sort();
    assert_eq!(announced, expected);
    eprintln!(
        "figure: dns-01 renewal to 3 agents staged in {:.2} s, {} ACME requests (a new account)",
        took.as_secs_f64(),
        acme.pebble.requests()
    );
    // BIND approved the key, added both answers and deleted them once pebble had decided.
    let log = bind.named.log();
    assert!(log.contains("signer \"certslot\" approved"), "{log}");
    for name in ["_acme-challenge.pool01.contoso.com", "_acme-challenge.contoso.com"] {
        assert!(log.contains(&format!("adding an RR at '{name}' TXT")), "{name}: {log}");
        assert!(log.contains(&format!("deleting an RR at {name} TXT")), "{name}: {log}");
    }
    let pebble_log = acme.pebble.pebble.log();
    let resolver = format!("Using custom DNS resolver for ACME challenges: 127.0.0.1:{}", bind.port);
    assert!(pebble_log.contains(&resolver), "{pebble_log}");
}

/// A TSIG key the DNS server does not accept: the renewal fails (an alert that says so) and
/// nothing rolls; with the right key configured, the next attempt renews.
#[test]
fn a_refused_tsig_key_is_alerted_and_the_right_one_renews() {
    let bind = Bind::start("acme-badkey");
    let acme = AcmeFleet::start("acme-badkey", Answers::Dns(&bind));
    let fleet = &acme.fleet;
    // Another key of the same name: BIND refuses its signatures (BADSIG).
    let wrong = fleet.work.path().join("wrong.key");
    let keygen = Command::new("tsig-keygen").args(["-a", "hmac-sha256", "certslot"]).output().unwrap();
    std::fs::write(&wrong, keygen.stdout).unwrap();
    let configure = |key: &std::path::Path| {
        let (directory, ca, server) =
            (acme.pebble.directory(), Pki::shared().ca_file(), format!("127.0.0.1:{}", bind.port));
        fleet.ok(&[
            "configure",
            "--type",
            "OAuthTokenIssuer",
            "--acme-directory",
            &directory,
            "--acme-root",
            ca.to_str().unwrap(),
            "--acme-challenge",
            "dns-01",
            "--dns-server",
            &server,
            "--dns-zone",
            "contoso.com",
            "--tsig-key-file",
            key.to_str().unwrap(),
        ]);
    };
    configure(&wrong);
    let coordinator = fleet.spawn_coordinator("renewer", &["--renew", "--acme-retry-cap", "1"]);
    fleet.wait("the refused key is alerted", Duration::from_secs(60), || {
        coordinator.log().contains("refused the TSIG key certslot (BADSIG)")
    });
    assert_eq!(fleet.oauth().2, None, "nothing rolls");
    assert!(bind.named.log().contains("tsig verify failure (BADSIG)"), "{}", bind.named.log());
    configure(&bind.key_file);
    let renewed = acme.wait_staged(Duration::from_secs(60));
    assert_ne!(renewed, acme.current);
    assert_eq!(acme.pebble.orders(), 1);
}

/// A CA that requires an external account binding refuses the account without one (alerted,
/// nothing rolls); configured with the binding, the coordinator registers and renews.
#[test]
fn a_ca_requiring_an_external_account_binding_gets_it_from_the_settings() {
    let acme = AcmeFleet::start_with("acme-eab", Answers::KeyServerHttp, true);
    let fleet = &acme.fleet;
    let coordinator = fleet.spawn_coordinator("renewer", &["--renew", "--acme-retry-cap", "1"]);
    fleet.wait("the account without a binding is refused", Duration::from_secs(60), || {
        coordinator.log().contains("externalAccountRequired")
    });
    assert_eq!(fleet.oauth().2, None, "nothing rolls");
    let key_file = fleet.work.path().join("eab.key");
    std::fs::write(&key_file, format!("{EAB_KEY}\n")).unwrap();
    let (directory, ca) = (acme.pebble.directory(), Pki::shared().ca_file());
    fleet.ok(&[
        "configure",
        "--type",
        "OAuthTokenIssuer",
        "--acme-directory",
        &directory,
        "--acme-root",
        ca.to_str().unwrap(),
        "--acme-eab-kid",
        EAB_KID,
        "--acme-eab-key-file",
        key_file.to_str().unwrap(),
    ]);
    // The binding's key is sealed in the state, never in clear.
    let export = fleet.ok(&["export"]);
    assert!(export.contains(EAB_KID) && !export.contains(EAB_KEY), "{export}");
    let renewed = acme.wait_staged(Duration::from_secs(60));
    assert_ne!(renewed, acme.current);
    assert!(coordinator.log().contains("ACME account registered"), "{}", coordinator.log());
    // The account's credentials are in the state, sealed: no private key in clear.
    let export = fleet.ok(&["export"]);
    assert!(export.contains("\"acme_accounts\":{\"https://127.0.0.1:"), "{export}");
    assert!(!export.contains("key_pkcs8"), "{export}");
}

/// pebble restarted while a renewal waits on it: the new CA knows neither the account nor the
/// order. The standby registers a new account, cancels the renewal whose order is gone, starts
/// another after the wait, and renews.
#[test]
fn a_ca_that_forgot_the_account_and_the_order_gets_new_ones() {
    let mut acme = AcmeFleet::start("acme-reset", Answers::KeyServerHttp);
    let fleet = &acme.fleet;
    let mut first = fleet.spawn_coordinator("first", &["--renew"]);
    wait_until("the first coordinator places the order", Duration::from_secs(60), || {
        first.log().contains("ACME order placed")
    });
    first.kill();
    acme.pebble.restart();
    let fleet = &acme.fleet;
    let standby = fleet.spawn_coordinator("standby", &["--renew", "--acme-retry-cap", "1"]);
    let renewed = acme.wait_staged(Duration::from_secs(90));
    assert_ne!(renewed, acme.current);
    let log = standby.log();
    assert!(log.contains("accountDoesNotExist"), "{log}");
    assert!(log.contains("the account is registered anew at the next attempt"), "{log}");
    assert!(log.contains("ACME account registered"), "{log}");
    assert!(
        log.contains(
            "renewal cancelled, to start afresh: the order belongs to an account the CA no longer knows"
        ),
        "{log}"
    );
    assert!(log.contains("renewed through ACME"), "{log}");
    assert_eq!(acme.pebble.orders(), 1, "one order on the new CA: {}", acme.pebble.pebble.log());
}

/// `configure --no-acme` cancels the type's ACME renewal in progress: the plan says renew again
/// (self-signed from then on) instead of waiting for an order that nothing would finish.
#[test]
fn turning_acme_off_cancels_the_renewal_in_progress() {
    let mut acme = AcmeFleet::start("acme-off", Answers::KeyServerHttp);
    acme.pebble.stop();
    let fleet = &acme.fleet;
    let mut coordinator = fleet.spawn_coordinator("renewer", &["--renew", "--acme-retry-cap", "1"]);
    fleet.wait("the renewal fails on the CA being down", Duration::from_secs(30), || {
        coordinator.log().contains("alert=\"acme_failing\"")
    });
    coordinator.terminate();
    assert_eq!(fleet.json(&["plan"])["actions"][0]["action"], "finish_renewal");
    let out = fleet.ok(&["configure", "--type", "OAuthTokenIssuer", "--no-acme"]);
    assert!(out.contains("OAuthTokenIssuer renews without ACME"), "{out}");
    let plan = fleet.json(&["plan"]);
    assert_eq!(plan["actions"][0]["action"], "renew", "{plan}");
    assert_eq!(plan["actions"][0]["current"], acme.current.as_str(), "{plan}");
}
