//! `figures`: the fleet's numbers against a local etcd it starts itself (Debian's etcd-server,
//! as the tests use it), printed as the README's table.
//!
//! ```text
//! cargo run --release -p certslot-etcd --example figures [-- updates|rolls|agent|size|serve]
//! ```
//!
//! With an argument, only that part runs.
//!
//! 1. Compare-and-swap update latency (`EtcdStore::update`, each a `record_holdings` on a store
//!    with two certificates and their keys), one client alone and eight at once, each its own
//!    connection; a conflict's retries count in its update's time. Over TLS with client
//!    certificates and etcd's authentication on (how the fleet runs), and against a second etcd
//!    in plain HTTP without authentication, in the same run.
//!
//! Every other figure is taken over TLS with authentication on.
//!
//! 2. How long after a `roll` every agent holds the new certificate, with 3 and with 50 agents
//!    running as tasks in this process, each with its own connection: from the admin's update
//!    call to the last agent's file written (the agents' own `Synced` events), over 5 rolls.
//! 3. A store of 10,000 slots (20 types × 500 pools): the state's size as stored, and how long
//!    writing and loading it take (with and without its keys). etcd runs with
//!    `--max-request-bytes 10485760` here; its default (1.5 MiB) is smaller than this state.
//! 4. An agent's work per change (reading and opening its delivery) in a fleet of 10 and of
//!    10,000 slots, against what an agent did before deliveries (reading and loading the whole
//!    state with every key).
//! 5. The key server against nginx (Debian's `nginx-light`) serving the same JWK Set bytes as a
//!    static file, both with two workers on the same cores, measured by `wrk` (Debian's) with
//!    the same connections and duration, over HTTPS (the same certificate) and plain HTTP:
//!    requests per second and p99 latency.

#[path = "../tests/common/etcd.rs"]
mod etcd;
#[allow(dead_code)]
#[path = "../../benches/shared/percentiles.rs"]
mod percentiles;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use certslot::{CertType, ImportOptions, Password, Pfx, RollOptions, Scope, Store, Thumbprint};
use certslot_etcd::{
    Agent, AgentEvent, CancellationToken, Cluster, ConnectOptions, Connection, EtcdStore, UpdateOptions,
};
use etcd::{Etcd, TempDir};
use percentiles::percentile;
use time::OffsetDateTime;
use tokio::sync::mpsc;

const PASSWORD: &str = "figures-s3cret";

fn pfx(name: &str) -> Pfx {
    let path = format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"));
    Pfx::import(&std::fs::read(path).unwrap(), &Password::new("P@ssw0rd"), ImportOptions::default()).unwrap()
}

async fn etcd_store(endpoint: &str, cluster: &str) -> EtcdStore {
    let options = match endpoint.starts_with("https://") {
        true => etcd::options_as("root"),
        false => ConnectOptions::default().insecure_plaintext(true),
    };
    let conn = Connection::connect(&[endpoint.to_owned()], options).await.unwrap();
    let options = UpdateOptions::default().max_value_bytes(10 << 20).max_attempts(1000);
    EtcdStore::new(conn, Cluster::new(cluster).unwrap(), Some(Password::new(PASSWORD))).with_options(options)
}

/// A pool of `servers` front-ends with the OAuthTokenIssuer certificate A set; B in the inventory.
fn fleet_store(servers: usize) -> (Store, Thumbprint, Thumbprint) {
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    store.add_pool("pool01.contoso.com", "redmond").unwrap();
    for i in 0..servers {
        store.add_server(&format!("fe{i:02}.contoso.com"), "pool01.contoso.com").unwrap();
    }
    let a = store.add_pfx(pfx("openssl3-default.pfx")).unwrap();
    let b = store.add_pfx(pfx("openssl3-rsa2048-next.pfx")).unwrap();
    let now = OffsetDateTime::now_utc();
    store.set(&[CertType::OAuthTokenIssuer], &Scope::Global, &a, now, RollOptions::default()).unwrap();
    (store, a, b)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(run());
}

async fn run() {
    let etcd = Etcd::start_with(&["--max-request-bytes", "10485760", "--quota-backend-bytes", "8589934592"]);
    let endpoint = etcd.endpoint();
    println!("| figure | value |\n|---|---|");

    let only = std::env::args().nth(1);
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);

    // 1. Update latency, over TLS and in plain HTTP.
    let plain = part("updates").then(|| {
        Etcd::start_plain_with(&["--max-request-bytes", "10485760", "--quota-backend-bytes", "8589934592"])
    });
    let (store, _, _) = fleet_store(3);
    let mut runs = vec![("TLS", endpoint.clone())];
    runs.extend(plain.as_ref().map(|p| ("plain HTTP", p.endpoint())));
    for (_, endpoint) in &runs {
        etcd_store(endpoint, "latency").await.create(&store).await.unwrap();
    }
    let runs =
        [1usize, 8].into_iter().flat_map(|clients| runs.iter().map(move |(t, e)| (clients, *t, e.clone())));
    for (clients, transport, endpoint) in runs.filter(|_| part("updates")) {
        let per_client = if clients == 1 { 300 } else { 50 };
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    let store = etcd_store(&endpoint, "latency").await;
                    store.load().await.unwrap();
                    let (mut times, mut attempts) = (Vec::new(), 0u32);
                    for i in 0..per_client {
                        let server = format!("fe{:02}.contoso.com", (c + i) % 3);
                        let start = Instant::now();
                        let updated = store
                            .update(|s| {
                                s.record_holdings(
                                    &server,
                                    [],
                                    OffsetDateTime::now_utc().max(s.clock().unwrap()),
                                )
                            })
                            .await
                            .unwrap();
                        times.push(start.elapsed());
                        attempts += updated.attempts;
                    }
                    (times, attempts)
                })
            })
            .collect();
        let (mut times, mut attempts) = (Vec::new(), 0);
        for task in tasks {
            let (t, a) = task.await.unwrap();
            times.extend(t);
            attempts += a;
        }
        times.sort();
        println!(
            "| CAS update, {transport}, {clients} client{}: p50 / p99 ({} updates, {:.2} writes each) | {} / {} |",
            if clients == 1 { "" } else { "s at once" },
            times.len(),
            f64::from(attempts) / times.len() as f64,
            ms(percentile(&times, 50)),
            ms(percentile(&times, 99)),
        );
    }

    // 2. A roll reaching every agent.
    for agents in [3usize, 50].into_iter().filter(|_| part("rolls")) {
        let cluster = format!("agents{agents}");
        let (store, a, b) = fleet_store(agents);
        let admin = etcd_store(&endpoint, &cluster).await;
        admin.create(&store).await.unwrap();
        let work = TempDir::new(&cluster);
        let stop = CancellationToken::new();
        let (events, mut synced) =
            mpsc::unbounded_channel::<(usize, Instant, Vec<Thumbprint>, Vec<Thumbprint>)>();
        let mut handles = Vec::new();
        let writer = admin.derive_writer_keys().await.unwrap().public().clone();
        for i in 0..agents {
            let store = etcd_store(&endpoint, &cluster).await;
            let (server, dir) = (format!("fe{i:02}.contoso.com"), work.path().join(i.to_string()));
            // Enrolled as an admin does: the agent's key made in its directory, its public half
            // in the state.
            let (key, _) = Agent::load_key(&dir).unwrap();
            admin.enrol(&server, key.public()).await.unwrap();
            let agent = Agent::new(store, &server, dir, writer.clone()).unwrap();
            let events = events.clone();
            handles.push(tokio::spawn(agent.run(stop.clone(), move |event| {
                if let AgentEvent::Synced { written, removed, .. } = event {
                    let _ = events.send((i, Instant::now(), written, removed));
                }
            })));
        }
        // Every agent holds A.
        let mut holding = BTreeSet::new();
        while holding.len() < agents {
            let (i, _, written, _) = synced.recv().await.unwrap();
            if written.contains(&a) {
                holding.insert(i);
            }
        }
        let mut all = Vec::new();
        let mut each = Vec::new();
        for _ in 0..5 {
            let effective = OffsetDateTime::now_utc() + time::Duration::days(2);
            // From the admin's call: agents may see the new state before the admin sees its
            // write's answer.
            let committed = Instant::now();
            admin
                .update(|s| {
                    let at = OffsetDateTime::now_utc().max(s.clock().unwrap());
                    s.roll(
                        &[CertType::OAuthTokenIssuer],
                        &Scope::Global,
                        &b,
                        effective,
                        at,
                        RollOptions::default(),
                    )
                })
                .await
                .unwrap();
            let mut staged = BTreeSet::new();
            let mut last = committed;
            while staged.len() < agents {
                let (i, at, written, _) = synced.recv().await.unwrap();
                if written.contains(&b) && staged.insert(i) {
                    each.push(at.saturating_duration_since(committed));
                    last = at;
                }
            }
            all.push(last.saturating_duration_since(committed));
            admin
                .update(|s| {
                    let at = OffsetDateTime::now_utc().max(s.clock().unwrap());
                    s.cancel_roll(&CertType::OAuthTokenIssuer, &Scope::Global, at)
                })
                .await
                .unwrap();
            let mut removed_from = BTreeSet::new();
            while removed_from.len() < agents {
                let (i, _, _, removed) = synced.recv().await.unwrap();
                if removed.contains(&b) {
                    removed_from.insert(i);
                }
            }
        }
        stop.cancel();
        for handle in handles {
            handle.await.unwrap().unwrap();
        }
        all.sort();
        each.sort();
        println!(
            "| roll → all {agents} agents hold the certificate: median / max of {} rolls (one agent, median) | {} / {} ({}) |",
            all.len(),
            ms(percentile(&all, 50)),
            ms(*all.last().unwrap()),
            ms(percentile(&each, 50)),
        );
    }

    // 5. The key server against nginx.
    if part("serve") {
        serve_figures(&endpoint).await;
    }

    // 3. 10,000 slots.
    // 4. An agent's work per change against the fleet's size.
    for slots in [10usize, 10_000].into_iter().filter(|_| part("agent")) {
        agent_work(&endpoint, slots).await;
    }

    if !part("size") {
        return;
    }
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    let a = store.add_pfx(pfx("openssl3-default.pfx")).unwrap();
    let b = store.add_pfx(pfx("openssl3-rsa2048-next.pfx")).unwrap();
    let now = OffsetDateTime::now_utc();
    let effective = now + time::Duration::days(30);
    let types: Vec<CertType> = CertType::builtin().collect();
    let options = RollOptions::default().ignore_policy();
    for p in 0..500 {
        let pool = format!("pool{p:03}.contoso.com");
        store.add_pool(&pool, "redmond").unwrap();
        let scope = Scope::pool(&pool).unwrap();
        for (i, t) in types.iter().enumerate() {
            store.set(std::slice::from_ref(t), &scope, &a, now, options).unwrap();
            if (p + i) % 2 == 0 {
                store.roll(std::slice::from_ref(t), &scope, &b, effective, now, options.force()).unwrap();
            }
        }
    }
    assert_eq!(store.slot_count(), 10_000);
    let pretty = store.to_json().unwrap().len();
    let big = etcd_store(&endpoint, "big").await;
    let start = Instant::now();
    big.create(&store).await.unwrap();
    let write = start.elapsed();
    let stored = big.read_value().await.unwrap().unwrap().0.len();
    let mut with_keys = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        let loaded = big.load().await.unwrap();
        with_keys.push(start.elapsed());
        assert_eq!(loaded.store.slot_count(), 10_000);
    }
    let reader = EtcdStore::new(
        Connection::connect(std::slice::from_ref(&endpoint), etcd::options_as("root")).await.unwrap(),
        Cluster::new("big").unwrap(),
        None,
    );
    let mut without_keys = Vec::new();
    for _ in 0..10 {
        let start = Instant::now();
        reader.load().await.unwrap();
        without_keys.push(start.elapsed());
    }
    with_keys.sort();
    without_keys.sort();
    let mut update = Vec::new();
    for i in 0..5 {
        let start = Instant::now();
        big.update(|s| s.add_site(&format!("site{i}"))).await.unwrap();
        update.push(start.elapsed());
    }
    update.sort();
    println!(
        "| 10,000 slots: state as stored (certslot's pretty JSON: {:.2} MB) | {:.2} MB |",
        pretty as f64 / 1e6,
        stored as f64 / 1e6
    );
    println!("| 10,000 slots: create (encode, keys into PFX, write) | {} |", ms(write));
    println!(
        "| 10,000 slots: load with keys / without, median of 10 | {} / {} |",
        ms(percentile(&with_keys, 50)),
        ms(percentile(&without_keys, 50))
    );
    println!(
        "| 10,000 slots: one update from the cache (encode, CAS), median of 5 | {} |",
        ms(percentile(&update, 50))
    );
}

/// An agent's work per change in a fleet of `slots` slots (one pool each, the OAuthTokenIssuer
/// certificate set at every pool's scope; fe01 in the first pool): what it reads and opens now,
/// its delivery, against what it read and opened before deliveries, the whole state with every
/// key.
async fn agent_work(endpoint: &str, slots: usize) {
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    let a = store.add_pfx(pfx("openssl3-default.pfx")).unwrap();
    let now = OffsetDateTime::now_utc();
    let options = RollOptions::default().ignore_policy();
    for p in 0..slots {
        let pool = format!("pool{p:05}.contoso.com");
        store.add_pool(&pool, "redmond").unwrap();
        store.set(&[CertType::OAuthTokenIssuer], &Scope::pool(&pool).unwrap(), &a, now, options).unwrap();
    }
    store.add_server("fe01.contoso.com", "pool00000.contoso.com").unwrap();
    assert_eq!(store.slot_count(), slots);
    let cluster = format!("agent{slots}");
    let admin = etcd_store(endpoint, &cluster).await;
    admin.create(&store).await.unwrap();
    let work = TempDir::new(&cluster);
    let (key, _) = Agent::load_key(work.path()).unwrap();
    admin.enrol("fe01.contoso.com", key.public()).await.unwrap();
    let writer = admin.derive_writer_keys().await.unwrap().public().clone();
    let conn = admin.connection();
    let delivery_key = admin.cluster().delivery_key("fe01.contoso.com");
    let delivery = conn.client().get(delivery_key, None).await.unwrap().kvs()[0].value().to_vec();
    let mut opened = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let open =
            certslot_etcd::Delivery::open(&delivery, &cluster, "fe01.contoso.com", &key, &writer).unwrap();
        assert_eq!(open.holds().len(), 1);
        opened.push(start.elapsed());
    }
    opened.sort();
    // Before: every agent read and opened the whole state, every key in it.
    let (state, mod_revision) = admin.read_value().await.unwrap().unwrap();
    let fresh = etcd_store(endpoint, &cluster).await;
    let mut whole = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        fresh.decode_backup(&state).unwrap();
        whole.push(start.elapsed());
    }
    whole.sort();
    let _ = mod_revision;
    println!(
        "| agent work per change, {slots} slots: its delivery, bytes / opened (median of 20) | {:.1} KB / {} |",
        delivery.len() as f64 / 1e3,
        ms(percentile(&opened, 50))
    );
    println!(
        "| the same before deliveries: the whole state, bytes / loaded with its keys (median of 5) | {:.1} KB / {} |",
        state.len() as f64 / 1e3,
        ms(percentile(&whole, 50))
    );
}

/// `wrk -t2 -c<connections> -d<seconds>s --latency URL`: requests per second and p99 latency.
fn wrk(url: &str, connections: usize, seconds: u32) -> (f64, Duration) {
    let out = std::process::Command::new("wrk")
        .args(["-t2", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", url])
        .output()
        .expect("wrk runs (Debian's wrk)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("Non-2xx") && !text.contains("Socket errors"), "{text}");
    let rate = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rate in\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(|v| {
            let v = v.trim();
            let (number, scale) = match v {
                _ if v.ends_with("us") => (&v[..v.len() - 2], 1e-6),
                _ if v.ends_with("ms") => (&v[..v.len() - 2], 1e-3),
                _ => (v.trim_end_matches('s'), 1.0),
            };
            Duration::from_secs_f64(number.parse::<f64>().unwrap() * scale)
        })
        .unwrap_or_else(|| panic!("no p99 in\n{text}"));
    (rate, p99)
}

async fn serve_figures(endpoint: &str) {
    use certslot_etcd::{KeyServer, ServerTls};
    let admin = etcd_store(endpoint, "keys").await;
    let (store, _, _) = fleet_store(3);
    admin.create(&store).await.unwrap();
    let writer = admin.derive_writer_keys().await.unwrap().public().clone();
    let identity = etcd::Pki::shared().server();
    let stop = CancellationToken::new();
    let mut bases = Vec::new();
    for tls in [true, false] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conn = Connection::connect(&[endpoint.to_owned()], etcd::options_as("root")).await.unwrap();
        let tls = tls.then(|| ServerTls::from_files(&identity.cert, &identity.key).unwrap());
        let scheme = if tls.is_some() { "https" } else { "http" };
        bases.push(format!("{scheme}://127.0.0.1:{port}"));
        let server = KeyServer::new(conn, Cluster::new("keys").unwrap(), writer.clone());
        let stop = stop.clone();
        tokio::spawn(async move { server.run(listener, tls, stop, |_| {}).await });
    }
    let get = |url: String| {
        let ca = etcd::Pki::shared().ca_file();
        let out = std::process::Command::new("curl")
            .args(["--silent", "--fail", "--cacert", ca.to_str().unwrap(), &url])
            .output()
            .unwrap();
        out.status.success().then_some(out.stdout)
    };
    let body = loop {
        if let Some(body) = get(format!("{}/.well-known/jwks.json", bases[1])) {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // nginx serves the same bytes as a static file, with the same certificate.
    let dir = TempDir::new("nginx");
    std::fs::create_dir_all(dir.path().join("www/.well-known")).unwrap();
    std::fs::write(dir.path().join("www/.well-known/jwks.json"), &body).unwrap();
    let (https, http) = (free_port(), free_port());
    let conf = format!(
        "worker_processes 2;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\ndaemon off;\n\
         events {{ worker_connections 1024; }}\n\
         http {{ access_log off; default_type application/json; root {d}/www;\n\
         server {{ listen 127.0.0.1:{https} ssl; ssl_certificate {cert}; ssl_certificate_key {key}; }}\n\
         server {{ listen 127.0.0.1:{http}; }} }}\n",
        d = dir.path().display(),
        cert = identity.cert.display(),
        key = identity.key.display(),
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).unwrap();
    let mut nginx = std::process::Command::new("nginx")
        .args(["-e", "stderr", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .spawn()
        .expect("nginx starts (Debian's nginx-light)");
    let nginx_https = format!("https://127.0.0.1:{https}");
    while get(format!("{nginx_https}/.well-known/jwks.json")).as_deref() != Some(&body[..]) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (connections, seconds) = (32, 10);
    for (transport, serve, nginx_base) in [
        ("HTTPS", &bases[0], nginx_https.clone()),
        ("plain HTTP", &bases[1], format!("http://127.0.0.1:{http}")),
    ] {
        let ours = wrk(&format!("{serve}/.well-known/jwks.json"), connections, seconds);
        let theirs = wrk(&format!("{nginx_base}/.well-known/jwks.json"), connections, seconds);
        println!(
            "| GET /.well-known/jwks.json ({} bytes) over {transport}, wrk 2 threads × {connections} connections × {seconds} s: serve / nginx requests per second | {:.0} / {:.0} ({:.2}×) |",
            body.len(),
            ours.0,
            theirs.0,
            ours.0 / theirs.0
        );
        println!("| the same, p99 latency: serve / nginx | {} / {} |", ms(ours.1), ms(theirs.1));
    }
    // TERM to the master stops its workers too (a KILL would leave them running).
    let _ = std::process::Command::new("kill").args(["-TERM", &nginx.id().to_string()]).status();
    let _ = nginx.wait();
    stop.cancel();
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
