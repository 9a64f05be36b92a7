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

use certslot::obtain::{RequestTemplate, SelfSignedOptions};
use certslot::rand_core::UnwrapErr;
use certslot::rollover::RenewOptions;
use certslot::{CertType, OffsetDateTime, Policy, PrivateKey, RollOptions, Scope, Store};
use certslot_etcd::acme::{AcmeCa, ChallengeAnswer, Responder};
use common::{Daemon, Pki, TempDir, free_port, wait_until};
use instant_acme::{ChallengeType, RetryPolicy};

fn wait_for_port(port: u16) {
    wait_until(&format!("something listens on {port}"), Duration::from_secs(10), || {
        TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
}

/// pebble and pebble-challtestsrv on loopback, pebble's listener certificate from the tests'
/// CA (`Pki`, `IP:127.0.0.1`).
struct Pebble {
    acme_port: u16,
    pebble: Daemon,
    _challtestsrv: Daemon,
    _dir: TempDir,
}

impl Pebble {
    fn start(name: &str) -> Self {
        let dir = TempDir::new(name);
        let server = Pki::shared().server();
        let (acme_port, management, http01, dns, challenge_management) =
            (free_port(), free_port(), free_port(), free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{acme_port}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": server.cert, "privateKey": server.key,
            "httpPort": http01, "tlsPort": free_port(),
            "ocspResponderURL": "", "externalAccountBindingRequired": false
        }});
        let config_file = dir.path().join("pebble.json");
        std::fs::write(&config_file, config.to_string()).unwrap();
        let a = |p: u16| format!("127.0.0.1:{p}");
        let mut challtestsrv = Command::new("pebble-challtestsrv");
        challtestsrv.args([
            "-http01",
            &a(http01),
            "-https01",
            "",
            "-tlsalpn01",
            "",
            "-dns01",
            &a(dns),
            "-management",
            &a(challenge_management),
            "-defaultIPv4",
            "127.0.0.1",
            "-defaultIPv6",
            "",
        ]);
        let challtestsrv =
            Daemon::spawn("pebble-challtestsrv", challtestsrv, dir.path().join("challtestsrv.log"));
        let mut pebble = Command::new("pebble");
        pebble
            .args(["-config", config_file.to_str().unwrap(), "-strict", "-dnsserver", &a(dns)])
            .envs([("PEBBLE_VA_NOSLEEP", "1"), ("PEBBLE_AUTHZREUSE", "0")]);
        let pebble = Daemon::spawn("pebble", pebble, dir.path().join("pebble.log"));
        wait_for_port(acme_port);
        wait_for_port(challenge_management);
        CHALLENGE_MANAGEMENT.store(challenge_management, std::sync::atomic::Ordering::Relaxed);
        Self { acme_port, pebble, _challtestsrv: challtestsrv, _dir: dir }
    }

    fn directory(&self) -> String {
        format!("https://127.0.0.1:{}/dir", self.acme_port)
    }

    /// How many orders pebble holds (its log says so after each new one).
    fn orders(&self) -> usize {
        self.pebble.log().matches("POST /order-plz -> calling handler()").count()
    }
}

static CHALLENGE_MANAGEMENT: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(0);

/// POSTs `body` to challtestsrv's management API.
fn challtestsrv(path: &str, body: &serde_json::Value) -> Result<(), String> {
    let port = CHALLENGE_MANAGEMENT.load(std::sync::atomic::Ordering::Relaxed);
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
struct ChallTestSrv;

impl Responder for ChallTestSrv {
    fn kind(&self) -> ChallengeType {
        ChallengeType::Http01
    }

    async fn present(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        challtestsrv(
            "/add-http01",
            &serde_json::json!({"token": answer.token, "content": answer.key_authorization}),
        )
    }

    async fn clean_up(&self, answer: &ChallengeAnswer) -> Result<(), String> {
        challtestsrv("/del-http01", &serde_json::json!({"token": answer.token}))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_is_ordered_answered_finalized_and_rolled_in() {
    let pebble = Pebble::start("http01");
    let roots = std::fs::read(Pki::shared().ca_file()).unwrap();
    let ca = AcmeCa::new(&pebble.directory(), &roots).unwrap().contact("mailto:certs@contoso.com");
    let (account, credentials) = ca.account(None).await.expect("account");
    let credentials = credentials.expect("a new account's credentials");
    assert!(credentials.contains("\"key_pkcs8\""));

    // The slot: a self-signed OAuthTokenIssuer certificate, renewed now (forced).
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
    let started = certslot::rollover::start_renewal(
        &mut store,
        &oauth,
        &Scope::Global,
        key,
        now,
        RenewOptions::default().force(),
        &mut rng,
    )
    .expect("start");
    let names = started.request.template().dns_names().to_vec();
    assert_eq!(names, ["pool01.contoso.com", "contoso.com"]);
    let url = certslot_etcd::acme::place_order(&account, &names).await.expect("order");
    store.set_renewal_order(&oauth, &Scope::Global, &url, now).unwrap();
    let policy = RetryPolicy::new().timeout(Duration::from_secs(30));
    let chain =
        certslot_etcd::acme::complete_order(&account, &url, started.request.der(), &ChallTestSrv, &policy)
            .await
            .expect("certificate");
    let at = OffsetDateTime::now_utc();
    let renewal =
        certslot::rollover::finish_renewal(&mut store, &oauth, &Scope::Global, chain.as_bytes(), at)
            .expect("finish");
    let stored = store.inventory().get(&renewal.thumbprint).unwrap();
    assert!(
        stored.certificate.issuer().to_string().starts_with("CN=Pebble Intermediate CA"),
        "{}",
        stored.certificate.issuer()
    );
    assert_eq!(pebble.orders(), 1, "{}", pebble.pebble.log());
}
