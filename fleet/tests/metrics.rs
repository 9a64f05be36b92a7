//! Metrics with the real Prometheus (Debian's `prometheus` and `promtool`): the alerting rules
//! of `deploy/prometheus` pass their unit tests; a Prometheus started here scrapes the key server
//! (over HTTPS, trusting the test CA), an agent and the coordinator, evaluates the rules, and
//! answers through its HTTP API with the certificate's expiry and the alerts' states; every
//! `/metrics` passes `promtool check metrics`.

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

fn rules_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/prometheus")
}

#[test]
fn the_alerting_rules_pass_their_unit_tests() {
    let dir = rules_dir();
    for args in
        [&["check", "rules", "certslot-alerts.yml"][..], &["test", "rules", "certslot-alerts.test.yml"]]
    {
        let out = Command::new("promtool").args(args).current_dir(&dir).output().expect("promtool runs");
        assert!(
            out.status.success(),
            "promtool {args:?}:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A Prometheus of the test's own, killed when dropped.
struct Prometheus {
    child: Child,
    base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Prometheus {
    fn start(fleet: &Fleet, jobs: &[(&str, &str, u16)]) -> Self {
        let ca = Pki::shared().ca_file();
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n",
            rules_dir().join("certslot-alerts.yml").display()
        );
        for (job, scheme, port) in jobs {
            config += &format!(
                "  - job_name: {job}\n    scheme: {scheme}\n    tls_config:\n      ca_file: {}\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n",
                ca.display()
            );
        }
        let file = fleet.work.path().join("prometheus.yml");
        std::fs::write(&file, config).unwrap();
        let port = free_port();
        let log = std::fs::File::create(fleet.work.path().join("prometheus.log")).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", file.display()))
            .arg(format!("--storage.tsdb.path={}", fleet.work.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let prometheus = Self { child, base: format!("http://127.0.0.1:{port}") };
        fleet.wait("Prometheus is ready", Duration::from_secs(30), || {
            curl(&[&format!("{}/-/ready", prometheus.base)]).is_some_and(|a| a.status == 200)
        });
        prometheus
    }

    fn api(&self, path: &str, query: Option<&str>) -> Value {
        let url = format!("{}{path}", self.base);
        let answer = match query {
            Some(q) => curl(&["--get", "--data-urlencode", &format!("query={q}"), &url]),
            None => curl(&[&url]),
        }
        .expect("Prometheus answers");
        serde_json::from_str(&answer.body).expect("JSON")
    }

    /// The samples of an instant query: (labels, value).
    fn query(&self, query: &str) -> Vec<(Value, f64)> {
        let answer = self.api("/api/v1/query", Some(query));
        answer["data"]["result"]
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|s| (s["metric"].clone(), s["value"][1].as_str().unwrap().parse().unwrap()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The state of each alert of that name (`pending`, `firing`), by its labels.
    fn alerts(&self, name: &str) -> Vec<(Value, String)> {
        let answer = self.api("/api/v1/alerts", None);
        answer["data"]["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["labels"]["alertname"] == name)
            .map(|a| (a["labels"].clone(), a["state"].as_str().unwrap().to_owned()))
            .collect()
    }
}

/// The `notAfter` of a PFX's certificate, as a Unix time, read by Python `cryptography`.
fn not_after(pfx: &str) -> f64 {
    let script = "import sys; from cryptography.hazmat.primitives.serialization import pkcs12; \
                  c = pkcs12.load_key_and_certificates(open(sys.argv[1], 'rb').read(), sys.argv[2].encode())[1]; \
                  print(int(c.not_valid_after_utc.timestamp()))";
    let out = Command::new("python3").args(["-c", script, pfx, PFX_PASSWORD]).output().expect("python3 runs");
    String::from_utf8(out.stdout).unwrap().trim().parse().expect("a Unix time")
}

/// `promtool check metrics` on what `url` serves.
fn promtool_check(url: &str, ca: &str) {
    // What Prometheus asks for: OpenMetrics.
    let openmetrics =
        curl(&["--cacert", ca, "--header", "Accept: application/openmetrics-text;version=1.0.0", url])
            .unwrap();
    assert_eq!(openmetrics.status, 200, "{url}");
    assert_eq!(
        openmetrics.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(openmetrics.body.ends_with("# EOF\n"));
    // Anything else: the classic text format, which promtool checks.
    let answer = curl(&["--cacert", ca, url]).expect("metrics");
    assert_eq!(answer.status, 200, "{url}");
    assert_eq!(answer.header("content-type"), Some("text/plain; version=0.0.4; charset=utf-8"));
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool runs");
    use std::io::Write as _;
    check.stdin.take().unwrap().write_all(answer.body.as_bytes()).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics {url}:\n{}{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        answer.body
    );
}

#[test]
fn prometheus_scrapes_the_key_server_an_agent_and_the_coordinator() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "metrics");
    fleet.setup(&["fe01.contoso.com", "fe02.contoso.com"]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let identity = Pki::shared().server();
    let (cert, key) = (identity.cert.to_str().unwrap(), identity.key.to_str().unwrap());
    let ca = Pki::shared().ca_file().to_str().unwrap().to_owned();

    let (serve_port, later_port, agent_port, coordinator_port) =
        (free_port(), free_port(), free_port(), free_port());
    let serve_listen = format!("127.0.0.1:{serve_port}");
    let _serve = fleet.serve("serve", &["--listen", &serve_listen, "--tls-cert", cert, "--tls-key", key]);
    // A second key server whose clock runs a day past A's expiry: the expired slot's alert fires.
    let expiry = not_after(&file_a());
    let later = time::OffsetDateTime::from_unix_timestamp(expiry as i64 + 86_400)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let later_listen = format!("127.0.0.1:{later_port}");
    let _later = fleet.serve(
        "serve-later",
        &["--listen", &later_listen, "--tls-cert", cert, "--tls-key", key, "--now", &later],
    );
    fleet.enrol("fe01.contoso.com");
    let agent_listen = format!("127.0.0.1:{agent_port}");
    let _agent = fleet.agent_with("fe01.contoso.com", &["--metrics-listen", &agent_listen]);
    let coordinator_listen = format!("127.0.0.1:{coordinator_port}");
    let _coordinator = fleet.spawn_coordinator("c1", &["--metrics-listen", &coordinator_listen]);
    fleet.wait("fe01 holds A", Duration::from_secs(30), || fleet.held("fe01.contoso.com").contains(CERT_A));

    let prometheus = Prometheus::start(
        &fleet,
        &[
            ("serve", "https", serve_port),
            ("serve-later", "https", later_port),
            ("agent", "http", agent_port),
            ("coordinator", "http", coordinator_port),
        ],
    );
    let one = |query: &str| {
        let mut value = None;
        fleet.wait(&format!("Prometheus has {query}"), Duration::from_secs(30), || {
            value = prometheus.query(query).first().map(|(_, v)| *v);
            value.is_some()
        });
        value.unwrap()
    };
    // The expiry of the current certificate, exactly as Python reads it from the PFX.
    let query = format!(
        "certslot_certificate_not_after_timestamp_seconds{{job=\"serve\",type=\"OAuthTokenIssuer\",scope=\"global\",role=\"current\",thumbprint=\"{CERT_A}\"}}"
    );
    assert_eq!(one(&query), expiry);
    assert_eq!(
        one("certslot_certificate_ready_status{job=\"serve\",type=\"OAuthTokenIssuer\",condition=\"True\"}"),
        1.0
    );
    assert_eq!(one("certslot_serve_ready{job=\"serve\"}"), 1.0);
    assert_eq!(one("certslot_agent_files_held{job=\"agent\"}"), 1.0);
    fleet.wait("the coordinator leads", Duration::from_secs(30), || {
        prometheus.query("certslot_coordinator_leader{job=\"coordinator\"} == 1").len() == 1
    });
    // The coordinator wrote the agent's report into the store: one CAS update at least, timed.
    assert!(one("certslot_state_update_duration_seconds_count{job=\"coordinator\"}") >= 1.0);
    assert!(one("certslot_state_updates_total{job=\"coordinator\",result=\"written\"}") >= 1.0);
    // Drift per server from the live reports: fe02 has no agent.
    fleet.wait("fe02 shows unreported", Duration::from_secs(30), || {
        prometheus.query("certslot_server_reported{job=\"serve\",server=\"fe02.contoso.com\"} == 0").len()
            == 1
            && prometheus
                .query("certslot_server_reported{job=\"serve\",server=\"fe01.contoso.com\"} == 1")
                .len()
                == 1
    });
    assert_eq!(one("certslot_server_missing_certificates{job=\"serve\",server=\"fe02.contoso.com\"}"), 1.0);
    assert_eq!(one("certslot_server_missing_certificates{job=\"serve\",server=\"fe01.contoso.com\"}"), 0.0);

    // Alerts, as Prometheus evaluates the repository's rules: fe02 not reporting is pending (it
    // fires after 5 minutes); the later key server's expired slot fires at once.
    fleet.wait("CertslotAgentNotReporting is pending for fe02", Duration::from_secs(30), || {
        prometheus.alerts("CertslotAgentNotReporting").iter().any(|(labels, state)| {
            labels["server"] == "fe02.contoso.com" && labels["job"] == "serve" && state == "pending"
        })
    });
    fleet.wait("CertslotCertificateExpired fires", Duration::from_secs(30), || {
        prometheus.alerts("CertslotCertificateExpired").iter().any(|(labels, state)| {
            labels["type"] == "OAuthTokenIssuer" && labels["scope"] == "global" && state == "firing"
        })
    });
    assert_eq!(
        one("certslot_plan_action_due_timestamp_seconds{job=\"serve-later\",kind=\"expired\"}"),
        expiry
    );
    assert!(
        prometheus.alerts("CertslotCertificateExpired").iter().all(|(labels, _)| labels["job"] != "serve")
    );

    for url in [
        format!("https://{serve_listen}/metrics"),
        format!("http://{agent_listen}/metrics"),
        format!("http://{coordinator_listen}/metrics"),
    ] {
        promtool_check(&url, &ca);
    }
    assert_eq!(curl(&[&format!("http://{agent_listen}/healthz")]).unwrap().body, "ok\n");
}
