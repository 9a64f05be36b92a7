//! The fleet's runtime (issue 16, item 1): a lease is never lost because the process is busy,
//! and SIGTERM stops an agent or a coordinator within a second with its lease revoked.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use certslot_etcd::{Cluster, Connection};
use common::*;

const SERVER: &str = "fe01.contoso.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn connect(etcd: &Etcd) -> Connection {
    Connection::connect(&[etcd.endpoint()], options_as(ROOT)).await.unwrap()
}

/// The value and create revision of `key`, if it exists.
async fn key_of(conn: &Connection, key: &str) -> Option<(String, i64)> {
    let answer = conn.client().get(key, None).await.unwrap();
    answer.kvs().first().map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.create_revision()))
}

/// A TCP proxy in front of etcd that passes every byte on `delay` after it came, both ways:
/// latency, not loss. Its port.
fn delay_proxy(upstream: u16, delay: Duration) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(client) = client else { return };
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
            delayed_pump(client.try_clone().unwrap(), server.try_clone().unwrap(), delay);
            delayed_pump(server, client, delay);
        }
    });
    port
}

fn delayed_pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (chunks, due) = std::sync::mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if chunks.send((Instant::now() + delay, buf[..n].to_vec())).is_err() {
                break;
            }
        }
    });
    std::thread::spawn(move || {
        for (at, chunk) in due {
            std::thread::sleep(at.saturating_duration_since(Instant::now()));
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
    });
}

/// The coordinator leads with a 2 s lease, talking to etcd through a proxy that adds 50 ms each
/// way, while a writer that never finishes holds the head of the queue of contended updates for
/// 30 s (fifteen TTLs): every update the coordinator tries (it must record the agent's report)
/// waits its turn behind it until it gives up, and starts again, for the whole 30 s. (Writers
/// rewriting the state's own bytes no longer make conflicts: a state written back is refused as
/// a replay.) Keep-alive runs in its own task, so the coordinator keeps its leadership (same
/// election key, no "lost the leadership") and the agent its lease; once the stuck writer is
/// gone, the report is recorded.
#[test]
fn a_coordinator_keeps_its_leadership_while_its_updates_wait_for_thirty_seconds() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "busy");
    fleet.setup(&[SERVER]);
    fleet.import(&file_a());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let upstream = etcd.endpoint().rsplit(':').next().unwrap().parse().unwrap();
    let proxy = delay_proxy(upstream, Duration::from_millis(50));
    let slow = Fleet::with_endpoints(&format!("https://127.0.0.1:{proxy}"), "busy");
    // The agent's role now: a change of etcd's roles makes requests under way fail once with
    // "revision of auth store is old", which the writers below do not retry.
    fleet.grant(&["--agent", SERVER]);
    // Enrolled before the writers run (enrolment is an admin's update like the others).
    fleet.enrol(SERVER);
    let coordinator = slow.coordinator("c1");
    fleet.wait("c1 leads", Duration::from_secs(10), || coordinator.log().contains("c1 leads"));

    let rt = runtime();
    let conn = rt.block_on(connect(&etcd));
    let cluster = Cluster::new("busy").unwrap();
    let election_key = cluster.coordinator_key();
    let (leader, term) = rt.block_on(key_of(&conn, &election_key)).expect("an election key");
    assert_eq!(leader, "c1");

    // A writer queued and stuck: its queue key stays, its lease kept alive, for 30 s.
    let hold_for = Duration::from_secs(30);
    let started = Instant::now();
    let mut client = conn.client();
    let lease = rt.block_on(client.lease_grant(3, None)).unwrap().id();
    let stuck = format!("{}stuck", cluster.prefix() + "queue/");
    rt.block_on(client.put(stuck.as_str(), "", Some(etcd_client::PutOptions::new().with_lease(lease))))
        .unwrap();
    let keeper = rt.spawn({
        let mut client = conn.client();
        async move {
            let (mut keeper, _) = client.lease_keep_alive(lease).await.unwrap();
            while started.elapsed() < hold_for {
                keeper.keep_alive().await.unwrap();
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            client.lease_revoke(lease).await.unwrap();
        }
    });
    // The agent starts once the writer is stuck: the coordinator must record its report.
    std::thread::sleep(Duration::from_millis(500));
    let agent = fleet.agent_unenrolled(SERVER);
    // Meanwhile the coordinator's update waits in the queue behind the stuck writer, and none
    // of its updates goes through.
    let recorded = format!("recorded {SERVER} holding [{CERT_A}]");
    let mut waiting = 0;
    while started.elapsed() < hold_for - Duration::from_secs(1) {
        let queue = cluster.prefix() + "queue/";
        let options = etcd_client::GetOptions::new().with_prefix().with_count_only();
        waiting = waiting.max(rt.block_on(conn.client().get(queue, Some(options))).unwrap().count());
        assert!(!coordinator.log().contains(&recorded), "{}", coordinator.log());
        std::thread::sleep(Duration::from_millis(500));
    }
    rt.block_on(keeper).unwrap();
    eprintln!("the queue was held for {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(waiting, 2, "the stuck writer and the coordinator's update");
    let log = coordinator.log();

    assert_eq!(rt.block_on(key_of(&conn, &election_key)), Some(("c1".to_owned(), term)), "{log}");
    assert!(!log.contains("lost the leadership"), "{log}");
    assert!(!agent.log().contains("expired; granting another"), "{}", agent.log());
    // Once the stuck writer is gone, the report is recorded.
    slow.wait("the coordinator records the agent", Duration::from_secs(30), || {
        coordinator.log().contains(&format!("recorded {SERVER} holding [{CERT_A}]"))
    });
}

/// SIGTERM: the agent and the coordinator exit within a second, and their keys (the agent's
/// report, the election key) are gone the moment they have exited, not a TTL later.
#[test]
fn sigterm_stops_an_agent_and_a_coordinator_within_a_second_with_their_leases_revoked() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "term");
    fleet.setup(&[SERVER]);
    fleet.import(&file_a());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let mut coordinator = fleet.spawn_coordinator("c1", &["--json"]);
    let mut agent = fleet.agent(SERVER);
    let rt = runtime();
    let conn = rt.block_on(connect(&etcd));
    let cluster = Cluster::new("term").unwrap();
    let (election_key, report_key) = (cluster.coordinator_key(), cluster.server_key(SERVER));
    fleet.wait("the agent reports and c1 leads", Duration::from_secs(10), || {
        rt.block_on(key_of(&conn, &report_key)).is_some()
            && rt.block_on(key_of(&conn, &election_key)).is_some()
    });
    fleet.wait("the agent holds A", Duration::from_secs(10), || fleet.held(SERVER).contains(CERT_A));

    let agent_took = agent.terminate();
    assert_eq!(rt.block_on(key_of(&conn, &report_key)), None, "the report outlived the agent");
    let coordinator_took = coordinator.terminate();
    assert_eq!(rt.block_on(key_of(&conn, &election_key)), None, "the election key outlived the coordinator");
    eprintln!(
        "SIGTERM: agent exited after {:.0} ms, coordinator after {:.0} ms",
        agent_took.as_secs_f64() * 1e3,
        coordinator_took.as_secs_f64() * 1e3
    );
    assert!(agent_took < Duration::from_secs(1), "{agent_took:?}");
    assert!(coordinator_took < Duration::from_secs(1), "{coordinator_took:?}");
    assert!(agent.log().contains("stopping on a signal"), "{}", agent.log());
    // With --json, one JSON object per line: the instant, the level, the text and the kind.
    let lines: Vec<serde_json::Value> =
        coordinator.log().lines().map(|l| serde_json::from_str(l).expect("a JSON log line")).collect();
    let kinds: Vec<&str> = lines.iter().map(|l| l["kind"].as_str().expect("kind")).collect();
    assert_eq!(kinds.first(), Some(&"leading"), "{lines:?}");
    assert_eq!(kinds[kinds.len() - 2..], ["signal", "stopped"], "{lines:?}");
    assert!(lines[0]["message"].as_str().expect("message").starts_with("c1 leads (election revision "));
    assert_eq!(lines[0]["level"], "INFO");
    let timestamp = lines[0]["timestamp"].as_str().expect("timestamp");
    assert!(time::OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).is_ok());
    // The files stay: a stopped agent leaves the server holding what it held.
    assert!(fleet.held(SERVER).contains(CERT_A));
}

/// Keys made ahead (issue 16, item 2): the coordinator asks [`keys_for_renewals`] what the due
/// renewals need, makes those keys off its async threads, and hands them to [`step`], which
/// reruns on every conflict without making a key again: the renewal is on the key given.
#[test]
fn a_step_renews_on_the_keys_made_ahead_of_it() {
    use certslot::obtain::KeySpec;
    use certslot::{CertType, ImportOptions, Password, Pfx, RollOptions, Scope, Store};
    use certslot_etcd::{Clock, Renewals, keys_for_renewals, step};

    let pfx = |file: &str| {
        Pfx::import(&std::fs::read(file).unwrap(), &Password::new(PFX_PASSWORD), ImportOptions::default())
            .unwrap()
    };
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    let set_at = time::macros::datetime!(2026-01-01 00:00 UTC);
    let a = store.add_pfx(pfx(&file_a())).unwrap();
    store.set(&[CertType::OAuthTokenIssuer], &Scope::Global, &a, set_at, RollOptions::default()).unwrap();
    // Six weeks before A expires: Lync's preset says renew.
    let at = time::macros::datetime!(2035-11-25 00:00 UTC);
    assert_eq!(keys_for_renewals(&store, set_at), []);
    assert_eq!(keys_for_renewals(&store, at), [KeySpec::Rsa { bits: 2048 }]);

    let key =
        KeySpec::Rsa { bits: 2048 }.generate(&mut certslot::rand_core::UnwrapErr(getrandom::SysRng)).unwrap();
    let spki = key.public_key_der().unwrap();
    let stepped = step(&mut store, &[], &[], &Clock::Fixed(at), false, Some(Renewals::new(&[key]))).unwrap();
    let [(renewed, _)] = stepped.renewed.as_slice() else { panic!("one renewal: {stepped:?}") };
    let slot = store.slot_at(&CertType::OAuthTokenIssuer, &Scope::Global).unwrap();
    assert_eq!(slot.pending().map(|p| p.thumbprint), Some(*renewed));
    let certificate = &store.inventory().get(renewed).unwrap().certificate;
    assert_eq!(certificate.public_key().unwrap().spki_der(), spki.as_slice());
}

/// The queue of contended updates (see `EtcdStore::update`): an update refused because another
/// waits in the queue joins it and waits its turn. A writer that died in the queue holds the
/// others up only until its key's lease ends (3 s), and the queue is left empty.
#[test]
fn a_writer_that_died_in_the_queue_holds_updates_up_only_until_its_lease_ends() {
    use certslot::{Password, Store};
    use certslot_etcd::{EtcdStore, UpdateOptions};
    use etcd_client::{GetOptions, PutOptions};

    let etcd = Etcd::start();
    let rt = runtime();
    let conn = rt.block_on(connect(&etcd));
    let store = EtcdStore::new(conn.clone(), Cluster::new("queue").unwrap(), Some(Password::new(PASSWORD)));
    let mut client = conn.client();
    let queue = "/certslot/queue/queue/";
    rt.block_on(async {
        store.create(&Store::for_sip_domain("contoso.com").unwrap()).await.unwrap();
        // A writer queued and died: its key stays until its lease ends.
        let lease = client.lease_grant(3, None).await.unwrap().id();
        let dead = format!("{queue}dead");
        client.put(dead, "", Some(PutOptions::new().with_lease(lease))).await.unwrap();
        let started = Instant::now();
        let updated = store.update(|s| s.add_site("redmond")).await.unwrap();
        let waited = started.elapsed();
        eprintln!("waited {:.2} s behind the dead writer's key", waited.as_secs_f64());
        assert!(updated.written);
        assert!(waited > Duration::from_secs(1), "{waited:?}: the queue was not honoured");
        assert!(waited < Duration::from_secs(6), "{waited:?}");
        // The update left the queue with its write.
        let left = client.get(queue, Some(GetOptions::new().with_prefix())).await.unwrap();
        assert_eq!(left.kvs().len(), 0);
        assert!(store.load().await.unwrap().store.topology().has_site("redmond"));

        // Queueing off: the writer does not join, and does not jump the queue either; it writes
        // once the queue is empty.
        let racing =
            EtcdStore::new(conn.clone(), Cluster::new("queue").unwrap(), Some(Password::new(PASSWORD)))
                .with_options(UpdateOptions::default().queue(false));
        let lease = client.lease_grant(3, None).await.unwrap().id();
        client
            .put(format!("{queue}dead-again"), "", Some(PutOptions::new().with_lease(lease)))
            .await
            .unwrap();
        let started = Instant::now();
        let updated = racing.update(|s| s.add_site("dublin")).await.unwrap();
        let waited = started.elapsed();
        assert!(updated.written);
        assert!(waited > Duration::from_secs(1) && waited < Duration::from_secs(6), "{waited:?}");
        let left = client.get(queue, Some(GetOptions::new().with_prefix())).await.unwrap();
        assert_eq!(left.kvs().len(), 0);
    });
}
