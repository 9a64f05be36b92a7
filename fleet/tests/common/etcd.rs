//! A real etcd for the fleet's tests and figures: Debian's `etcd-server` (installed by
//! scripts/test-deps.sh) on 127.0.0.1 with free ports and a temporary data directory, stopped when
//! dropped; bounded waits that poll. Included by `tests/common/mod.rs` and by
//! `examples/figures.rs`.
//!
//! As an operator runs it: TLS on the client port with a certificate from a test CA,
//! `--client-cert-auth` (a client certificate's common name is its etcd user) and
//! authentication on, with the user `root` (client certificate CN=root) holding the root role.
//! The CA and the certificates are made by the OpenSSL CLI ([`Pki`]), once per test process.
//! `/health` and `/metrics` are served in plain HTTP on a port of their own.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use certslot_etcd::{ConnectOptions, Tls};

/// A test CA and the certificates it issues, made by the OpenSSL CLI (P-256 keys) in a directory
/// of this process (directories of processes that are gone are removed when a new one is made).
pub struct Pki {
    dir: PathBuf,
    name: String,
    made: Mutex<BTreeMap<String, Identity>>,
}

/// A certificate and its key (PEM files, the key mode 0600).
#[derive(Clone, Debug)]
pub struct Identity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    /// The CA of every etcd of this process.
    pub fn shared() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| Pki::new("ca"))
    }

    /// Another CA, which etcd does not trust.
    pub fn other() -> &'static Pki {
        static PKI: OnceLock<Pki> = OnceLock::new();
        PKI.get_or_init(|| Pki::new("other-ca"))
    }

    fn new(name: &str) -> Self {
        let base = std::env::temp_dir().join("certslot-etcd-pki");
        // Directories named after processes that have exited.
        if let Ok(entries) = std::fs::read_dir(&base) {
            for entry in entries.flatten() {
                let pid = entry.file_name().to_string_lossy().split('-').next().unwrap_or("").to_owned();
                if !pid.is_empty() && !Path::new("/proc").join(&pid).exists() {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let dir = base.join(format!("{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("PKI dir");
        let pki = Self { dir, name: name.into(), made: Mutex::new(BTreeMap::new()) };
        let (cert, key) = (pki.dir.join("ca.pem"), pki.dir.join("ca.key"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "7",
            "-subj",
            &format!("/CN=certslot test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            path(&key),
            "-out",
            path(&cert),
        ]);
        pki
    }

    /// The CA certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The client certificate of etcd user `user` (made on first use).
    pub fn client(&self, user: &str) -> Identity {
        self.issue(&format!("client-{user}"), user, "clientAuth", None)
    }

    /// A server certificate for etcd on loopback (`IP:127.0.0.1`, `DNS:localhost`).
    pub fn server(&self) -> Identity {
        self.issue("server", "etcd", "serverAuth", Some("IP:127.0.0.1,DNS:localhost"))
    }

    /// A server certificate that names another host only.
    pub fn server_for(&self, host: &str) -> Identity {
        self.issue(&format!("server-{host}"), host, "serverAuth", Some(&format!("DNS:{host}")))
    }

    fn issue(&self, file: &str, cn: &str, usage: &str, san: Option<&str>) -> Identity {
        let mut made = self.made.lock().unwrap();
        if let Some(identity) = made.get(file) {
            return identity.clone();
        }
        let safe: String = file
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '_' })
            .collect();
        let identity = Identity {
            cert: self.dir.join(format!("{safe}.pem")),
            key: self.dir.join(format!("{safe}.key")),
        };
        let (csr, ext) = (self.dir.join(format!("{safe}.csr")), self.dir.join(format!("{safe}.ext")));
        let mut extensions = format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage={usage}\n"
        );
        if let Some(san) = san {
            extensions += &format!("subjectAltName={san}\n");
        }
        std::fs::write(&ext, extensions).expect("ext file");
        openssl(&[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            path(&identity.key),
            "-out",
            path(&csr),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            path(&csr),
            "-CA",
            path(&self.ca_file()),
            "-CAkey",
            path(&self.dir.join("ca.key")),
            "-CAcreateserial",
            "-days",
            "7",
            "-extfile",
            path(&ext),
            "-out",
            path(&identity.cert),
        ]);
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&identity.key, std::fs::Permissions::from_mode(0o600)).expect("chmod key");
        made.insert(file.to_owned(), identity.clone());
        identity
    }

    /// The connection options of etcd user `user`: TLS with this CA and the user's certificate.
    pub fn options(&self, user: &str) -> ConnectOptions {
        let client = self.client(user);
        let tls = Tls::from_files(&self.ca_file(), Some(&client.cert), Some(&client.key)).expect("TLS files");
        ConnectOptions::default().tls(tls)
    }
}

/// The connection options of etcd user `user` with the shared test CA.
pub fn options_as(user: &str) -> ConnectOptions {
    Pki::shared().options(user)
}

fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

fn openssl(args: &[&str]) {
    let out =
        Command::new("openssl").args(args).output().expect("openssl runs (scripts/test-deps.sh installs it)");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Runs `future` to its end on a runtime of its own, on a thread of its own (so it may be called
/// from inside another runtime).
fn block_on_thread<T: Send>(future: impl core::future::Future<Output = T> + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime")
                    .block_on(future)
            })
            .join()
            .expect("thread")
    })
}

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

/// A port free on loopback now, for TCP and UDP (named and challtestsrv serve DNS on both), and
/// not handed out before in this process (its tests run in parallel). Taken below the kernel's
/// range of ephemeral ports (32768-60999 on Linux), where port 0 would pick it: there, an
/// outgoing connection of any daemon the tests run can take the port between now and the bind
/// of the daemon it is meant for. Each process starts at its own place in the range.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    const LOW: u32 = 10_000;
    const SPAN: u32 = 22_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let start = std::process::id().wrapping_mul(7_919) % SPAN;
    for _ in 0..SPAN {
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        let port = u16::try_from(LOW + offset).expect("below 32768");
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port on loopback between {LOW} and {}", LOW + SPAN)
}

/// An etcd member: alone, a single-member cluster of its own; or one of an [`EtcdCluster`].
pub struct Etcd {
    child: Option<Child>,
    data: TempDir,
    client_port: u16,
    peer_port: u16,
    metrics_port: u16,
    /// TLS with client certificates and authentication on; off: plain HTTP, no authentication.
    secure: bool,
    /// The server certificate (default: one for 127.0.0.1 and localhost), and the one name it
    /// holds when it is not the default.
    server: Option<Identity>,
    server_name: Option<String>,
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
        Self::start_as(flags, true, None)
    }

    /// Starts etcd in plain HTTP, without client certificates or authentication (the
    /// `--insecure-plaintext` tests).
    pub fn start_plain() -> Self {
        Self::start_as(&[], false, None)
    }

    /// [`Etcd::start_plain`] with more flags.
    pub fn start_plain_with(flags: &[&str]) -> Self {
        Self::start_as(flags, false, None)
    }

    /// Starts etcd with a server certificate that names `host` only.
    pub fn start_named(host: &str) -> Self {
        Self::start_as(&[], true, Some((Pki::shared().server_for(host), host.to_owned())))
    }

    fn start_as(flags: &[&str], secure: bool, server: Option<(Identity, String)>) -> Self {
        let (server, server_name) = server.map_or((None, None), |(s, n)| (Some(s), Some(n)));
        let data = TempDir::new("etcd");
        let flags = flags.iter().map(|f| (*f).to_owned()).collect();
        let mut etcd = Self {
            child: None,
            data,
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            secure,
            server,
            server_name,
            started: 0,
            flags,
            name: "test".into(),
            initial_cluster: None,
        };
        // Ports come from `free_port`, free when asked but not reserved: another test's server
        // may take one before etcd binds it, and etcd exits. Then it starts again on others.
        for attempt in 1.. {
            if etcd.try_spawn() {
                break;
            }
            let log = etcd.data.path().join(format!("etcd-{}.log", etcd.started - 1));
            let log = std::fs::read_to_string(log).unwrap_or_default();
            assert!(attempt < 4, "etcd exited at start {attempt} times; the last time:\n{log}");
            (etcd.client_port, etcd.peer_port, etcd.metrics_port) = (free_port(), free_port(), free_port());
            etcd.data = TempDir::new("etcd");
        }
        if secure {
            etcd.enable_auth();
        }
        etcd
    }

    pub fn endpoint(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.client_port)
    }

    /// The connection options of etcd user `user` (plaintext allowed when this etcd is plain;
    /// the name of the server certificate asked for when it names another host).
    pub fn options(&self, user: &str) -> ConnectOptions {
        match (self.secure, &self.server_name) {
            (false, _) => ConnectOptions::default().insecure_plaintext(true),
            (true, None) => options_as(user),
            (true, Some(name)) => {
                let (pki, client) = (Pki::shared(), Pki::shared().client(user));
                let tls = Tls::from_files(&pki.ca_file(), Some(&client.cert), Some(&client.key))
                    .expect("TLS files");
                ConnectOptions::default().tls(tls.server_name(name.clone()))
            }
        }
    }

    /// The user root with the root role, then authentication on (certslot's own command).
    fn enable_auth(&self) {
        let (endpoint, options) = (self.endpoint(), self.options("root"));
        block_on_thread(async move {
            let conn = certslot_etcd::Connection::connect(&[endpoint], options).await.expect("connect");
            certslot_etcd::enable_auth(&conn).await.expect("auth enable");
        });
    }

    /// Starts etcd again on its ports (a restart); panics when it does not come up.
    fn spawn(&mut self) {
        assert!(self.try_spawn(), "etcd exited before it answered /health");
    }

    /// Starts etcd and waits until it answers /health; false when it exited first.
    fn try_spawn(&mut self) -> bool {
        let scheme = if self.secure { "https" } else { "http" };
        let (client, peer, metrics) = (
            format!("{scheme}://127.0.0.1:{}", self.client_port),
            format!("http://127.0.0.1:{}", self.peer_port),
            format!("http://127.0.0.1:{}", self.metrics_port),
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
            .args(["--listen-metrics-urls", &metrics])
            .args(&self.flags)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log);
        if self.secure {
            let pki = Pki::shared();
            let server = self.server.clone().unwrap_or_else(|| pki.server());
            command.args(["--cert-file", path(&server.cert), "--key-file", path(&server.key)]).args([
                "--trusted-ca-file",
                path(&pki.ca_file()),
                "--client-cert-auth",
            ]);
        }
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
            let start = Instant::now();
            while !self.healthy() {
                if self.child.as_mut().is_some_and(|c| c.try_wait().is_ok_and(|status| status.is_some())) {
                    self.child = None;
                    return false;
                }
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "timed out after 30s waiting until etcd answers /health"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        true
    }

    fn healthy(&self) -> bool {
        self.metrics_get("/health").is_some_and(|answer| answer.contains("\"health\":\"true\""))
    }

    /// GET `path` on the plain metrics port (`/health`, `/metrics`).
    fn metrics_get(&self, path: &str) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.metrics_port)).ok()?;
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let request = format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{}\r\n\r\n", self.metrics_port);
        stream.write_all(request.as_bytes()).ok()?;
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        Some(answer)
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
                metrics_port: free_port(),
                secure: true,
                server: None,
                server_name: None,
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
        if let Some(first) = members.first() {
            first.enable_auth();
        }
        Self { members }
    }

    /// The client URLs of every member, in order, comma-separated.
    pub fn endpoints(&self) -> String {
        self.members.iter().map(Etcd::endpoint).collect::<Vec<_>>().join(",")
    }

    /// The index of the member that leads now (`etcd_server_is_leader 1` in its metrics).
    pub fn leader(&self) -> Option<usize> {
        self.members.iter().position(|m| {
            m.metrics_get("/metrics")
                .is_some_and(|metrics| metrics.lines().any(|l| l == "etcd_server_is_leader 1"))
        })
    }
}

impl Etcd {
    /// POSTs `body` to `path` of a plain etcd's JSON gateway; the answer's body.
    pub fn post(&self, path: &str, body: &str) -> Option<String> {
        assert!(!self.secure, "post: a plain etcd only");
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
