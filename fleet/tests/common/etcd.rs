//! A real etcd for the fleet's tests and figures: Debian's `etcd-server` (installed by
//! scripts/test-deps.sh) on 127.0.0.1 with free ports and a temporary data directory, stopped when
//! dropped; bounded waits that poll. Included by `tests/common/mod.rs` and by
//! `examples/figures.rs`.
#![allow(dead_code)]

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// A fresh directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("certslot-etcd-{}-{n}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// An etcd member: alone, a single-member cluster of its own; or one of an [`EtcdCluster`].
pub struct Etcd {
    child: Option<Child>,
    data: TempDir,
    client_port: u16,
    peer_port: u16,
    started: usize,
    flags: Vec<String>,
    /// The member's name and `--initial-cluster` (`name=peer-url,...`).
    name: String,
    initial_cluster: Option<String>,
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts etcd with more flags (`--max-request-bytes`, ...).
    pub fn start_with(flags: &[&str]) -> Self {
        let data = TempDir::new("etcd");
        let flags = flags.iter().map(|f| (*f).to_owned()).collect();
        let mut etcd = Self {
            child: None,
            data,
            client_port: free_port(),
            peer_port: free_port(),
            started: 0,
            flags,
            name: "test".into(),
            initial_cluster: None,
        };
        etcd.spawn();
        etcd
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    fn spawn(&mut self) {
        let (client, peer) = (
            format!("http://127.0.0.1:{}", self.client_port),
            format!("http://127.0.0.1:{}", self.peer_port),
        );
        let log =
            std::fs::File::create(self.data.path().join(format!("etcd-{}.log", self.started))).expect("log");
        let program = std::env::var("ETCD_BIN").unwrap_or_else(|_| "etcd".into());
        let mut command = Command::new(&program);
        command
            .args(["--name", &self.name, "--data-dir"])
            .arg(self.data.path().join("data"))
            .args(["--listen-client-urls", &client, "--advertise-client-urls", &client])
            .args(["--listen-peer-urls", &peer, "--initial-advertise-peer-urls", &peer])
            .args([
                "--initial-cluster",
                &self.initial_cluster.clone().unwrap_or_else(|| format!("{}={peer}", self.name)),
            ])
            .args(["--initial-cluster-token", "certslot-test", "--initial-cluster-state", "new"])
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        // Debian's package may leave ETCD_* settings around; this etcd takes only its flags.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("ETCD_") {
                command.env_remove(key);
            }
        }
        // etcd 3.4 runs on amd64; elsewhere it asks for this.
        match std::env::consts::ARCH {
            "x86_64" => {}
            "aarch64" => {
                command.env("ETCD_UNSUPPORTED_ARCH", "arm64");
            }
            other => {
                command.env("ETCD_UNSUPPORTED_ARCH", other);
            }
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!("{program} does not start ({e}); scripts/test-deps.sh installs etcd-server")
        });
        self.child = Some(child);
        self.started += 1;
        // A member of a cluster is healthy only once a quorum has started: the cluster waits.
        if self.initial_cluster.is_none() {
            wait_until("etcd answers /health", Duration::from_secs(30), || self.healthy());
        }
    }

    fn healthy(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.client_port)) else { return false };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET /health HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.client_port);
        if stream.write_all(request.as_bytes()).is_err() {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("\"health\":\"true\"")
    }

    /// Kills etcd at once (SIGKILL: in-flight requests lose their answers).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills etcd and starts it again on the same data and ports.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

/// A cluster of three etcd members on loopback, each with its own ports and data directory.
pub struct EtcdCluster {
    pub members: Vec<Etcd>,
}

impl EtcdCluster {
    /// Starts three members and waits until every one answers `/health` (a leader is elected).
    pub fn start() -> Self {
        let names = ["m0", "m1", "m2"];
        let ports: Vec<(u16, u16)> = names.iter().map(|_| (free_port(), free_port())).collect();
        let initial = names
            .iter()
            .zip(&ports)
            .map(|(name, (_, peer))| format!("{name}=http://127.0.0.1:{peer}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut members: Vec<Etcd> = names
            .iter()
            .zip(&ports)
            .map(|(name, (client_port, peer_port))| Etcd {
                child: None,
                data: TempDir::new(name),
                client_port: *client_port,
                peer_port: *peer_port,
                started: 0,
                flags: Vec::new(),
                name: (*name).to_owned(),
                initial_cluster: Some(initial.clone()),
            })
            .collect();
        for member in &mut members {
            member.spawn();
        }
        for member in &members {
            wait_until("an etcd member answers /health", Duration::from_secs(30), || member.healthy());
        }
        Self { members }
    }

    /// The client URLs of every member, in order, comma-separated.
    pub fn endpoints(&self) -> String {
        self.members.iter().map(Etcd::endpoint).collect::<Vec<_>>().join(",")
    }

    /// The index of the member that leads now (etcd's `/v3/maintenance/status` through each
    /// member's JSON gateway: the one whose `leader` is its own `member_id`).
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(|m| {
            let Some(status) = m.post("/v3/maintenance/status", "{}") else { return false };
            let field = |name: &str| {
                let at = status.find(&format!("\"{name}\":\""))? + name.len() + 4;
                let end = status.get(at..)?.find('"')?;
                status.get(at..at + end).map(str::to_owned)
            };
            let member = status.find("\"member_id\":\"").and_then(|_| field("member_id"));
            member.is_some() && member == field("leader")
        })
    }
}

impl Etcd {
    /// POSTs `body` to `path` of etcd's JSON gateway; the answer's body.
    pub fn post(&self, path: &str, body: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.client_port)).ok()?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            self.client_port,
            body.len()
        );
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `condition` every 50 ms until it holds; panics after `timeout`.
pub fn wait_until(what: &str, timeout: Duration, mut condition: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if condition() {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}
