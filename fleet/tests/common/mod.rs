//! The fleet tests' harness: a real etcd of their own (`etcd.rs`), and the `certslot-fleet`
//! binary run as admin commands, agents and coordinators.
#![allow(dead_code, unused_imports)]

mod etcd;

pub use self::etcd::{Etcd, EtcdCluster, Identity, Pki, TempDir, free_port, options_as, wait_until};

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

/// The state password of every test cluster.
pub const PASSWORD: &str = "state-s3cret";
/// The password of the PFX files agents write (their own; agents never get the fleet password).
pub const FILE_PASSWORD: &str = "files-s3cret";
/// The sample PFX files (the root crate's fixtures), their password and thumbprints.
pub const PFX_PASSWORD: &str = "P@ssw0rd";
pub const CERT_A: &str = "3BF702B601477250F70E61E287798983087DA4AB";
pub const CERT_B: &str = "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F";
pub const POOL: &str = "pool01.contoso.com";

pub fn fixture(name: &str) -> String {
    format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"))
}

pub fn file_a() -> String {
    fixture("openssl3-default.pfx")
}

pub fn file_b() -> String {
    fixture("openssl3-rsa2048-next.pfx")
}

/// A running agent or coordinator, killed when dropped.
pub struct Daemon {
    pub name: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Daemon {
    /// Starts `command` with its stdout and stderr in the file `log`.
    pub fn spawn(name: &str, mut command: Command, log: PathBuf) -> Self {
        let file = std::fs::File::create(&log).expect("log");
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("{name} starts (scripts/test-deps.sh installs what tests run): {e}"));
        Self { name: name.into(), child: Some(child), log }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    fn signal(&self, signal: &str) {
        let status =
            Command::new("kill").args([signal, &self.pid().to_string()]).status().expect("kill runs");
        assert!(status.success(), "kill {signal} {}", self.name);
    }

    /// SIGSTOP: the process stops (and stops renewing its lease).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT.
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    /// SIGKILL: dies without revoking its lease.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub fn stop(&mut self) {
        self.signal("-TERM");
        if let Some(mut child) = self.child.take() {
            let status = child.wait().expect("wait");
            assert!(status.success(), "{} exited with {status}", self.name);
        }
    }

    /// SIGTERM, and waits for a clean exit: how long it took.
    pub fn terminate(&mut self) -> Duration {
        let sent = std::time::Instant::now();
        self.signal("-TERM");
        let Some(mut child) = self.child.take() else { return Duration::ZERO };
        let status = child.wait().expect("wait");
        let took = sent.elapsed();
        assert!(status.success(), "{} exited with {status}\n{}", self.name, self.log());
        took
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The etcd users of a test cluster's identities (their client certificates' common names):
/// the admin runs the admin commands, a coordinator's user is its id, an agent's its server.
pub const ADMIN: &str = "admin";
pub const READER: &str = "reader";
pub const ROOT: &str = "root";

/// One certslot cluster on an etcd: the CLI with its environment, a work directory for the
/// agents' certificate directories and the daemons' logs. On a secure etcd (TLS, client
/// certificates, authentication on) `certslot-fleet access setup` gives the cluster its roles
/// first, and every command runs as its identity.
pub struct Fleet {
    pub endpoint: String,
    pub cluster: String,
    pub work: TempDir,
    secure: bool,
    logs: std::sync::Mutex<Vec<PathBuf>>,
    writer_key: std::sync::OnceLock<String>,
    password: String,
}

impl Fleet {
    pub fn new(etcd: &Etcd, cluster: &str) -> Self {
        Self::with_endpoints(&etcd.endpoint(), cluster)
    }

    /// A cluster reached through several etcd endpoints (comma-separated).
    pub fn with_endpoints(endpoints: &str, cluster: &str) -> Self {
        let fleet = Self {
            endpoint: endpoints.into(),
            cluster: cluster.into(),
            work: TempDir::new(cluster),
            secure: endpoints.starts_with("https://"),
            logs: std::sync::Mutex::new(Vec::new()),
            writer_key: std::sync::OnceLock::new(),
            password: PASSWORD.into(),
        };
        fleet.grant(&["--admin", ADMIN, "--reader", READER]);
        fleet
    }

    /// The same cluster name with another fleet password (another cluster's writers).
    pub fn with_password(etcd: &Etcd, cluster: &str, password: &str) -> Self {
        Self { password: password.into(), ..Self::new(etcd, cluster) }
    }

    /// `access setup` with `args`, as root (nothing on a plain etcd).
    pub fn grant(&self, args: &[&str]) {
        if self.secure {
            let out = self.cli_as(ROOT, &[&["access", "setup"][..], args].concat());
            assert!(out.status.success(), "access setup {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
    }

    /// The command line of etcd user `user`.
    pub fn command_as(&self, user: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"));
        command
            .env("CERTSLOT_ETCD_ENDPOINTS", &self.endpoint)
            .env("CERTSLOT_CLUSTER", &self.cluster)
            .env("CERTSLOT_PASSWORD", &self.password)
            .env("PFX_PASSWORD", PFX_PASSWORD)
            .stdin(Stdio::null());
        if self.secure {
            let client = Pki::shared().client(user);
            command
                .env("CERTSLOT_ETCD_CA_FILE", Pki::shared().ca_file())
                .env("CERTSLOT_ETCD_CERT_FILE", &client.cert)
                .env("CERTSLOT_ETCD_KEY_FILE", &client.key);
        } else {
            command.env("CERTSLOT_ETCD_INSECURE_PLAINTEXT", "true");
        }
        command
    }

    fn command(&self) -> Command {
        self.command_as(ADMIN)
    }

    /// Runs an admin command.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("certslot-fleet runs")
    }

    /// Runs a command as etcd user `user`.
    pub fn cli_as(&self, user: &str, args: &[&str]) -> Output {
        self.command_as(user).args(args).output().expect("certslot-fleet runs")
    }

    /// Runs an admin command that must succeed; its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "certslot-fleet {args:?}: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("UTF-8")
    }

    /// Runs an admin command with --json that must succeed.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).expect("JSON")
    }

    /// The cluster with a pool of `servers`, OAuthTokenIssuer rolls staged.
    pub fn setup(&self, servers: &[&str]) {
        self.ok(&["init", "--sip-domain", "contoso.com", "--staged", "OAuthTokenIssuer"]);
        self.ok(&["topology", "add-site", "redmond"]);
        self.ok(&["topology", "add-pool", POOL, "--site", "redmond"]);
        for server in servers {
            self.ok(&["topology", "add-server", server, "--pool", POOL]);
        }
    }

    /// `roll --type OAuthTokenIssuer --thumbprint X`, effective a second from now. `--force`
    /// skips the publish-ahead notice (a day for OAuthTokenIssuer), not the staging gate.
    pub fn roll_in_a_second(&self, thumbprint: &str) {
        self.roll_in(thumbprint, 1);
    }

    /// As [`Fleet::roll_in_a_second`], effective `seconds` from now.
    pub fn roll_in(&self, thumbprint: &str, seconds: i64) {
        let effective = from_now(seconds);
        let roll = [
            "roll",
            "--type",
            "OAuthTokenIssuer",
            "--thumbprint",
            thumbprint,
            "--effective-date",
            &effective,
        ];
        self.ok(&[&roll[..], &["--force"]].concat());
    }

    /// `import FILE --type OAuthTokenIssuer`; the thumbprint.
    pub fn import(&self, file: &str) -> String {
        let out =
            self.json(&["import", file, "--type", "OAuthTokenIssuer", "--pfx-password-env", "PFX_PASSWORD"]);
        out["thumbprint"].as_str().expect("thumbprint").to_owned()
    }

    fn spawn(&self, user: &str, name: &str, args: &[&str]) -> Daemon {
        let mut command = self.command_as(user);
        command.args(args);
        self.spawn_command(name, command)
    }

    /// Starts `command`, its output in `<work>/<name>.log`: a daemon killed when dropped.
    fn spawn_command(&self, name: &str, command: Command) -> Daemon {
        let log = self.work.path().join(format!("{name}.log"));
        self.logs.lock().unwrap().push(log.clone());
        Daemon::spawn(name, command, log)
    }

    pub fn agent_dir(&self, server: &str) -> PathBuf {
        self.work.path().join(server)
    }

    /// The writers' public key (`writer-key`), which agents are given.
    pub fn writer_key(&self) -> String {
        self.writer_key
            .get_or_init(|| self.json(&["writer-key"])["public_key"].as_str().expect("key").to_owned())
            .clone()
    }

    /// The agent key of `server`'s directory (`agent-key --dir`, made on first use).
    pub fn agent_key(&self, server: &str) -> String {
        let dir = self.agent_dir(server);
        self.json(&["agent-key", "--dir", dir.to_str().unwrap()])["public_key"]
            .as_str()
            .expect("key")
            .to_owned()
    }

    /// Enrols the agent key of `server`'s directory (`topology enrol`), when the server is in
    /// the topology.
    pub fn enrol(&self, server: &str) {
        let key = self.agent_key(server);
        let out = self.cli(&["topology", "enrol", server, "--agent-key", &key]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() || stderr.contains("unknown server") || stderr.contains("state-missing"),
            "enrol {server}: {stderr}"
        );
    }

    /// Enrols `server`'s agent, then runs `agent --server SERVER --dir <work>/SERVER --lease-ttl 2`
    /// without the fleet password, its files protected by [`FILE_PASSWORD`].
    pub fn agent(&self, server: &str) -> Daemon {
        self.enrol(server);
        self.agent_unenrolled(server)
    }

    /// The agent of `server`, as [`Fleet::agent`] without enrolling it first.
    pub fn agent_unenrolled(&self, server: &str) -> Daemon {
        self.agent_with(server, &[])
    }

    /// The agent of `server`, as [`Fleet::agent_unenrolled`] with more arguments.
    pub fn agent_with(&self, server: &str, extra: &[&str]) -> Daemon {
        let dir = self.agent_dir(server);
        self.grant(&["--agent", server]);
        let writer_key = self.writer_key();
        let mut command = self.command_as(server);
        command
            .env_remove("CERTSLOT_PASSWORD")
            .env("AGENT_FILE_PASSWORD", FILE_PASSWORD)
            .args([
                "agent",
                "--server",
                server,
                "--dir",
                dir.to_str().unwrap(),
                "--lease-ttl",
                "2",
                "--resync",
                "5",
                "--file-password-env",
                "AGENT_FILE_PASSWORD",
                "--writer-key",
                &writer_key,
            ])
            .args(extra);
        self.spawn_command(&format!("agent-{server}"), command)
    }

    /// `serve` with `args`, as the read-only etcd user and without the fleet password, given
    /// the writers' public key.
    pub fn serve(&self, name: &str, args: &[&str]) -> Daemon {
        self.serve_as(READER, name, args)
    }

    /// `serve` as etcd user `user` (a reader, or a key server that records partners' fetches).
    pub fn serve_as(&self, user: &str, name: &str, args: &[&str]) -> Daemon {
        let mut command = self.command_as(user);
        command
            .env_remove("CERTSLOT_PASSWORD")
            .env("CERTSLOT_WRITER_KEY", self.writer_key())
            .arg("serve")
            .args(args);
        self.spawn_command(name, command)
    }

    /// `coordinator --id ID --lease-ttl 2`.
    pub fn coordinator(&self, id: &str) -> Daemon {
        self.grant(&["--coordinator", id]);
        self.spawn(
            id,
            &format!("coordinator-{id}"),
            &["coordinator", "--id", id, "--lease-ttl", "2", "--resync", "5"],
        )
    }

    /// `coordinator --id ID --lease-ttl 2 --resync 5` with more arguments.
    pub fn spawn_coordinator(&self, id: &str, extra: &[&str]) -> Daemon {
        let mut args = vec!["coordinator", "--id", id, "--lease-ttl", "2", "--resync", "5"];
        args.extend_from_slice(extra);
        self.grant(&["--coordinator", id]);
        self.spawn(id, &format!("coordinator-{id}"), &args)
    }

    /// The thumbprints of the PFX files in an agent's directory.
    pub fn held(&self, server: &str) -> BTreeSet<String> {
        let Ok(entries) = std::fs::read_dir(self.agent_dir(server)) else { return BTreeSet::new() };
        entries
            .filter_map(|e| e.ok()?.file_name().to_str()?.strip_suffix(".pfx").map(str::to_owned))
            .collect()
    }

    /// Every daemon's log, for a failure message.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap()
            .iter()
            .map(|p| format!("--- {}\n{}", p.display(), std::fs::read_to_string(p).unwrap_or_default()))
            .collect()
    }

    /// [`wait_until`], with every daemon's log in the failure message.
    pub fn wait(&self, what: &str, timeout: Duration, condition: impl FnMut() -> bool) -> Duration {
        let result =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| wait_until(what, timeout, condition)));
        match result {
            Ok(elapsed) => elapsed,
            Err(_) => panic!("timed out after {timeout:?} waiting until {what}\n{}", self.logs()),
        }
    }

    /// `get --json`: the OAuthTokenIssuer slot at global as (current, previous, pending).
    pub fn oauth(&self) -> (Option<String>, Option<String>, Option<String>) {
        let out = self.json(&["get", "--type", "OAuthTokenIssuer"]);
        let slot = &out["slots"][0];
        let t = |role: &str| slot[role]["thumbprint"].as_str().map(str::to_owned);
        (t("current"), t("previous"), t("pending"))
    }

    /// `drift --json`.
    pub fn drift(&self) -> Value {
        self.json(&["drift"])
    }
}

/// An instant `seconds` from now, RFC 3339.
pub fn from_now(seconds: i64) -> String {
    let t = time::OffsetDateTime::now_utc() + time::Duration::seconds(seconds);
    t.format(&time::format_description::well_known::Rfc3339).unwrap()
}

pub fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// An HTTP answer as curl saw it: the status code, the headers (names in lowercase) and the body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// `curl` (the real one) with `args` and the URL last; `None` when it cannot connect.
pub fn curl(args: &[&str]) -> Option<Answer> {
    let out = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--dump-header", "-"])
        .args(args)
        .output()
        .expect("curl runs");
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).expect("UTF-8");
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Some(Answer { status, headers, body: body.to_owned() })
}
