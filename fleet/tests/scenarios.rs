//! The fleet against a real etcd (each test starts its own): the six scenarios, each
//! ending in exact states, and every admin command once. Agents and coordinators run as
//! `certslot-fleet` processes (so they can be paused and killed); the concurrency scenarios drive
//! `EtcdStore` from many tasks.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use certslot::{
    CertType, ImportOptions, LoadError, Outcome, Password, Pfx, RollOptions, Scope, SlotError, Store,
    Thumbprint,
};
use certslot_etcd::{
    Cluster, Connection, EtcdStore, Guard, StateError, UpdateError, UpdateOptions, live_reports,
};
use common::*;
use time::OffsetDateTime;
use time::macros::datetime;

const SERVERS: [&str; 3] = ["fe01.contoso.com", "fe02.contoso.com", "fe03.contoso.com"];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn pfx(file: &str) -> Pfx {
    Pfx::import(&std::fs::read(file).unwrap(), &Password::new(PFX_PASSWORD), ImportOptions::default())
        .unwrap()
}

fn thumbprint(text: &str) -> Thumbprint {
    text.parse().unwrap()
}

async fn store_for(etcd_endpoint: &str, cluster: &str) -> EtcdStore {
    let conn = Connection::connect(&[etcd_endpoint.to_owned()], options_as(ROOT)).await.unwrap();
    EtcdStore::new(conn, Cluster::new(cluster).unwrap(), Some(Password::new(PASSWORD)))
}

/// Every server's live report holds exactly `expected`, and every server is clean.
fn all_clean(fleet: &Fleet, expected: &BTreeSet<String>) -> bool {
    let drift = fleet.drift();
    drift["servers"].as_array().unwrap().iter().all(|s| {
        let holding: BTreeSet<String> = s["holding"]
            .as_array()
            .map(|h| h.iter().map(|t| t.as_str().unwrap().to_owned()).collect())
            .unwrap_or_default();
        s["clean"] == true && holding == *expected
    }) && drift["waiting_rolls"].as_array().unwrap().is_empty()
}

/// The due rolls still pending, as (thumbprint, servers waited for).
fn waiting(fleet: &Fleet) -> Vec<(String, Vec<String>)> {
    fleet.drift()["waiting_rolls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            let servers =
                w["waiting_for"].as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
            (w["thumbprint"].as_str().unwrap().to_owned(), servers)
        })
        .collect()
}

/// Scenario 1, the seed's story on three agents: `import` and `set` on one node, every agent's
/// directory holds the certificate within a bound; `roll`; the roll waits until all three
/// agents have staged the new certificate (fe03 is paused past the effective date), then the
/// coordinator promotes it.
#[test]
fn three_agents_hold_a_set_certificate_and_a_roll_waits_for_all_three_to_stage_it() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "story");
    fleet.setup(&SERVERS);
    let agents: Vec<Daemon> = SERVERS.iter().map(|s| fleet.agent(s)).collect();
    let _coordinator = fleet.coordinator("c1");

    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let took = fleet.wait("every agent holds A", Duration::from_secs(10), || {
        SERVERS.iter().all(|s| fleet.held(s) == set_of(&[CERT_A]))
    });
    eprintln!("set: every agent held the certificate after {took:?}");
    fleet.wait("every server reports A and the store is in step", Duration::from_secs(10), || {
        all_clean(&fleet, &set_of(&[CERT_A]))
    });

    // fe03 stops (SIGSTOP) before the roll: it cannot stage the new certificate.
    agents[2].pause();
    assert_eq!(fleet.import(&file_b()), CERT_B);
    fleet.roll_in_a_second(CERT_B);
    fleet.wait("the due roll waits for fe03 alone", Duration::from_secs(15), || {
        waiting(&fleet) == [(CERT_B.to_owned(), vec!["fe03.contoso.com".to_owned()])]
    });
    assert_eq!(fleet.held("fe01.contoso.com"), set_of(&[CERT_A, CERT_B]));
    assert_eq!(fleet.held("fe02.contoso.com"), set_of(&[CERT_A, CERT_B]));
    assert_eq!(fleet.held("fe03.contoso.com"), set_of(&[CERT_A]));
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, Some(CERT_B.into())));

    agents[2].resume();
    let took = fleet.wait("fe03 stages B and the coordinator promotes it", Duration::from_secs(15), || {
        fleet.oauth() == (Some(CERT_B.into()), Some(CERT_A.into()), None)
    });
    eprintln!("roll: promoted {took:?} after fe03 resumed");
    // Verifiers keep accepting A: every server holds both.
    fleet.wait("every server holds A and B, in step", Duration::from_secs(10), || {
        SERVERS.iter().all(|s| fleet.held(s) == set_of(&[CERT_A, CERT_B]))
            && all_clean(&fleet, &set_of(&[CERT_A, CERT_B]))
    });
    let events: Vec<String> =
        fleet.json(&["timeline", "--type", "OAuthTokenIssuer", "--days", "1"])["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"]["event"].as_str().unwrap().to_owned())
            .collect();
    assert_eq!(events, Vec::<String>::new(), "nothing is scheduled within a day");
}

/// The operations of the lost-update scenario: all conflicting (one slot, one pool, five
/// servers), each changing the store's revision by exactly one when it succeeds.
#[derive(Clone, Debug)]
enum Op {
    AddServer(usize),
    RemoveServer(usize),
    Record(usize, bool),
    Set(bool),
    Roll(bool),
    CancelRoll,
    Rollback,
    RemovePrevious,
}

const AT: OffsetDateTime = datetime!(2026-12-01 9:00 UTC);

fn apply(op: &Op, store: &mut Store) -> Result<Outcome, SlotError> {
    let server = |k: &usize| format!("fe{k}.contoso.com");
    let cert = |b: &bool| thumbprint(if *b { CERT_B } else { CERT_A });
    let oauth = [CertType::OAuthTokenIssuer];
    let (global, options) = (Scope::Global, RollOptions::default());
    match op {
        Op::AddServer(k) => store.add_server(&server(k), POOL),
        Op::RemoveServer(k) => store.remove_server(&server(k)),
        Op::Record(k, b) => store.record_holdings(&server(k), [cert(b)], AT),
        Op::Set(b) => store.set(&oauth, &global, &cert(b), AT, options),
        Op::Roll(b) => store.roll(&oauth, &global, &cert(b), datetime!(2027-07-01 0:00 UTC), AT, options),
        Op::CancelRoll => store.cancel_roll(&oauth[0], &global, AT),
        Op::Rollback => store.rollback(&oauth[0], &global, AT),
        Op::RemovePrevious => store.remove_previous(&oauth[0], &global, AT),
    }
}

/// A client's 50 operations, from a seeded generator.
fn operations(client: usize) -> Vec<Op> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (client as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03);
    (0..50)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let k = (x >> 8) as usize % 5;
            let b = x & 1 == 1;
            match (x >> 16) % 8 {
                0 => Op::AddServer(k),
                1 => Op::RemoveServer(k),
                2 => Op::Record(k, b),
                3 => Op::Set(b),
                4 => Op::Roll(b),
                5 => Op::CancelRoll,
                6 => Op::Rollback,
                _ => Op::RemovePrevious,
            }
        })
        .collect()
}

fn lost_update_store() -> Store {
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    store.add_pool(POOL, "redmond").unwrap();
    for k in 0..3 {
        store.add_server(&format!("fe{k}.contoso.com"), POOL).unwrap();
    }
    store.add_pfx(pfx(&file_a())).unwrap();
    store.add_pfx(pfx(&file_b())).unwrap();
    store
        .set(&[CertType::OAuthTokenIssuer], &Scope::Global, &thumbprint(CERT_A), AT, RollOptions::default())
        .unwrap();
    store
}

/// Scenario 2, lost updates: 8 clients (each its own connection) × 50 conflicting operations.
/// Every operation either fails or changes nothing on the latest state (nothing written) or
/// succeeds once; the
/// successful ones' revisions are exactly the next 1..n, and applying them in revision order to
/// the initial store gives exactly the state in etcd.
#[test]
fn concurrent_admins_lose_no_update_and_apply_none_twice() {
    let etcd = Etcd::start();
    let rt = runtime();
    let initial = lost_update_store();
    let start = initial.revision();
    rt.block_on(async {
        store_for(&etcd.endpoint(), "lost").await.create(&initial).await.unwrap();
    });
    let endpoint = etcd.endpoint();
    // Per client: the applied operations with their revisions, the refused count, the writes tried.
    type ClientResult = (Vec<(u64, Op)>, usize, u32);
    let results: Vec<ClientResult> = rt.block_on(async {
        let tasks: Vec<_> = (0..8)
            .map(|client| {
                let endpoint = endpoint.clone();
                tokio::spawn(async move {
                    let store = store_for(&endpoint, "lost")
                        .await
                        .with_options(UpdateOptions::default().max_attempts(200));
                    let (mut applied, mut refused, mut attempts) = (Vec::new(), 0, 0);
                    for op in operations(client) {
                        match store.update(|s| apply(&op, s)).await {
                            Ok(updated) if updated.written => {
                                attempts += updated.attempts;
                                applied.push((updated.revision, op));
                            }
                            // An operation that changes nothing (a server added twice) moves no
                            // revision and writes nothing.
                            Ok(_) => refused += 1,
                            Err(UpdateError::Operation(_)) => refused += 1,
                            Err(e) => panic!("client {client}, {op:?}: {e}"),
                        }
                    }
                    (applied, refused, attempts)
                })
            })
            .collect();
        let mut out = Vec::new();
        for task in tasks {
            out.push(task.await.unwrap());
        }
        out
    });
    let refused: usize = results.iter().map(|r| r.1).sum();
    let attempts: u32 = results.iter().map(|r| r.2).sum();
    let mut applied: Vec<(u64, Op)> = results.into_iter().flat_map(|r| r.0).collect();
    applied.sort_by_key(|(revision, _)| *revision);
    assert_eq!(applied.len() + refused, 400);
    let n = applied.len() as u64;
    eprintln!("{n} applied, {refused} refused, {attempts} writes tried");
    assert!(n >= 100, "most operations apply ({n})");
    assert!(u64::from(attempts) > n, "clients conflicted ({attempts} writes for {n} updates)");
    // The revisions of the applied operations are exactly start+1 ..= start+n: none lost, none
    // doubled.
    let revisions: Vec<u64> = applied.iter().map(|(r, _)| *r).collect();
    assert_eq!(revisions, (start + 1..=start + n).collect::<Vec<_>>());
    // Their sequential application is the state in etcd.
    let mut replay = initial.clone();
    for (revision, op) in &applied {
        let outcome = apply(op, &mut replay).unwrap_or_else(|e| panic!("{op:?} at revision {revision}: {e}"));
        assert_eq!(outcome.revision, *revision);
    }
    let stored = rt.block_on(async { store_for(&etcd.endpoint(), "lost").await.load().await.unwrap() });
    assert_eq!(stored.store.revision(), start + n);
    assert_eq!(stored.store.to_json().unwrap(), replay.to_json().unwrap());
}

/// Scenario 3, an agent killed: its lease expires, `drift` shows it unreported, and a staged
/// roll stays blocked until it comes back.
#[test]
fn a_killed_agent_shows_unreported_and_holds_a_staged_roll_until_it_returns() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "killed");
    fleet.setup(&SERVERS);
    let mut agents: Vec<Daemon> = SERVERS.iter().map(|s| fleet.agent(s)).collect();
    let _coordinator = fleet.coordinator("c1");
    fleet.import(&file_a());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.wait("the fleet holds A", Duration::from_secs(10), || all_clean(&fleet, &set_of(&[CERT_A])));

    agents[2].kill();
    let took = fleet.wait("fe03 shows unreported", Duration::from_secs(10), || {
        let drift = fleet.drift();
        let reported: Vec<bool> =
            drift["servers"].as_array().unwrap().iter().map(|s| s["reported"] == true).collect();
        reported == [true, true, false]
    });
    eprintln!("the killed agent's report expired after {took:?}");
    let drift = fleet.drift();
    let fe03 = &drift["servers"][2];
    assert_eq!(fe03["server"], "fe03.contoso.com");
    assert_eq!(fe03["clean"], false);
    assert_eq!(fe03["missing"][0]["thumbprint"], CERT_A);
    assert!(fe03["recorded_at"].is_string(), "the store keeps its last recorded holdings");
    let text = fleet.ok(&["drift"]);
    assert!(text.contains("fe03.contoso.com         pool01.contoso.com       UNREPORTED"), "{text}");

    fleet.import(&file_b());
    fleet.roll_in_a_second(CERT_B);
    fleet.wait("the due roll waits for fe03", Duration::from_secs(15), || {
        waiting(&fleet) == [(CERT_B.to_owned(), vec!["fe03.contoso.com".to_owned()])]
    });
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, Some(CERT_B.into())));
    assert_eq!(fleet.held("fe03.contoso.com"), set_of(&[CERT_A]));

    agents[2] = fleet.agent("fe03.contoso.com");
    fleet.wait("fe03 is back, stages B, and the roll is promoted", Duration::from_secs(15), || {
        fleet.oauth() == (Some(CERT_B.into()), Some(CERT_A.into()), None)
    });
    fleet.wait("every server holds A and B, in step", Duration::from_secs(10), || {
        all_clean(&fleet, &set_of(&[CERT_A, CERT_B]))
    });
    for server in SERVERS {
        assert_eq!(fleet.held(server), set_of(&[CERT_A, CERT_B]), "{server}");
    }
}

/// Scenario 4, etcd restarted mid-run: 4 admin clients × 25 updates are under way when etcd is
/// killed and started again; they reconnect and finish, each update applied exactly once (the
/// revision count and the sites prove it). Agents and the coordinator reconnect too: a roll
/// made after the restart reaches every agent and is promoted.
#[test]
fn after_an_etcd_restart_admins_and_agents_converge_and_nothing_applies_twice() {
    let mut etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "restart");
    fleet.setup(&SERVERS);
    let _agents: Vec<Daemon> = SERVERS.iter().map(|s| fleet.agent(s)).collect();
    let _coordinator = fleet.coordinator("c1");
    fleet.import(&file_a());
    fleet.import(&file_b());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.wait("the fleet holds A", Duration::from_secs(10), || all_clean(&fleet, &set_of(&[CERT_A])));

    // The admins' load goes to a cluster of its own on the same etcd, so its revisions count
    // only their updates.
    let rt = runtime();
    let endpoint = etcd.endpoint();
    let start = rt.block_on(async {
        let store = store_for(&endpoint, "admins").await;
        store.create(&Store::new()).await.unwrap().store.revision()
    });
    let done = Arc::new(AtomicUsize::new(0));
    let admins: Vec<_> = (0..4)
        .map(|client| {
            let (endpoint, done) = (endpoint.clone(), Arc::clone(&done));
            rt.spawn(async move {
                let store = store_for(&endpoint, "admins").await;
                let (mut revisions, mut recovered) = (Vec::new(), 0);
                for i in 0..25 {
                    let site = format!("site-{client}-{i}");
                    let updated = store
                        .update(|s| s.add_site(&site))
                        .await
                        .unwrap_or_else(|e| panic!("client {client}, {site}: {e}"));
                    recovered += usize::from(updated.recovered);
                    revisions.push(updated.revision);
                    done.fetch_add(1, Ordering::Relaxed);
                }
                (revisions, recovered)
            })
        })
        .collect();
    wait_until("the admins are under way", Duration::from_secs(30), || done.load(Ordering::Relaxed) >= 20);
    let before_restart = done.load(Ordering::Relaxed);
    etcd.restart();
    let mut revisions = Vec::new();
    let mut recovered = 0;
    for admin in admins {
        let (r, n) = rt.block_on(admin).unwrap();
        revisions.extend(r);
        recovered += n;
    }
    revisions.sort_unstable();
    eprintln!(
        "etcd restarted after {before_restart} of 100 updates; {recovered} lost answers settled by receipt"
    );
    assert_eq!(revisions, (start + 1..=start + 100).collect::<Vec<_>>());
    let admins_state = rt.block_on(async { store_for(&endpoint, "admins").await.load().await.unwrap() });
    assert_eq!(admins_state.store.revision(), start + 100);
    let sites: BTreeSet<String> = admins_state.store.topology().sites().map(str::to_owned).collect();
    let expected: BTreeSet<String> =
        (0..4).flat_map(|c| (0..25).map(move |i| format!("site-{c}-{i}"))).collect();
    assert_eq!(sites, expected);

    // Agents and the coordinator are back too: a roll reaches every server and is promoted.
    fleet.roll_in_a_second(CERT_B);
    fleet.wait("the roll after the restart is promoted", Duration::from_secs(30), || {
        fleet.oauth() == (Some(CERT_B.into()), Some(CERT_A.into()), None)
    });
    fleet.wait("every server holds A and B, in step", Duration::from_secs(20), || {
        all_clean(&fleet, &set_of(&[CERT_A, CERT_B]))
    });
}

/// Scenario 5, a corrupt value in the state key: admins get a typed error (the library's
/// `StateError::Load`, the CLI's exit code 3 and kind `state-refused`), nothing is written over
/// it, agents keep their files; a missing key likewise; `restore` brings a saved state back.
#[test]
fn a_corrupt_state_is_refused_and_agents_keep_their_files() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "corrupt");
    fleet.setup(&SERVERS[..2]);
    let agents: Vec<Daemon> = SERVERS[..2].iter().map(|s| fleet.agent(s)).collect();
    fleet.import(&file_a());
    fleet.import(&file_b());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.wait("both agents hold A", Duration::from_secs(10), || {
        SERVERS[..2].iter().all(|s| fleet.held(s) == set_of(&[CERT_A]))
    });
    let backup = fleet.work.path().join("backup.json");
    std::fs::write(&backup, fleet.ok(&["export"])).unwrap();

    let rt = runtime();
    let store = rt.block_on(store_for(&etcd.endpoint(), "corrupt"));
    let key = store.cluster().state_key();
    // The same bad value in the state and in each server's delivery.
    let put = |value: &[u8]| {
        rt.block_on(async {
            let mut client = store.connection().client();
            client.put(key.clone(), value.to_vec(), None).await.unwrap();
            for server in &SERVERS[..2] {
                client.put(store.cluster().delivery_key(server), value.to_vec(), None).await.unwrap();
            }
        })
    };
    let rejections = |agent: &Daemon| {
        agent.log().matches("delivery rejected, keeping every file: not a certslot delivery").count()
    };
    for (value, message) in [
        (&b"{\"format\":2,\"revision\":\x00"[..], "not a certslot state"),
        (&b"{\"format\": 99}"[..], "state format 99 is not supported"),
    ] {
        let before: Vec<usize> = agents.iter().map(rejections).collect();
        put(value);
        // Admins: a typed error, and the value stays as it is.
        let set = rt.block_on(store.update(|s| {
            s.set(
                &[CertType::OAuthTokenIssuer],
                &Scope::Global,
                &thumbprint(CERT_B),
                AT,
                RollOptions::default(),
            )
        }));
        match set {
            Err(UpdateError::State(StateError::Load { source, .. })) => {
                assert!(
                    matches!(source, LoadError::Json(_) | LoadError::UnsupportedFormat { format: 99 }),
                    "{source:?}"
                )
            }
            other => panic!("expected a refused state, got {other:?}"),
        }
        let out = fleet.cli(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B, "--json"]);
        assert_eq!(out.status.code(), Some(3));
        let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(error["error"]["kind"], "state-refused");
        assert!(error["error"]["message"].as_str().unwrap().contains(message), "{error}");
        assert_eq!(fleet.cli(&["get"]).status.code(), Some(3));
        let stored = rt.block_on(store.read_value()).unwrap().unwrap().0;
        assert_eq!(stored, value, "nothing was written over the bad value");
        // Agents: they see it, refuse it, and keep their files and their reports.
        fleet.wait("both agents refuse the value", Duration::from_secs(10), || {
            agents.iter().map(rejections).zip(&before).all(|(now, was)| now > *was)
        });
        for server in &SERVERS[..2] {
            assert_eq!(fleet.held(server), set_of(&[CERT_A]), "{server}");
        }
        let reports = rt.block_on(live_reports(store.connection(), store.cluster())).unwrap();
        let held: Vec<_> = reports.iter().map(|r| r.report.as_ref().unwrap().thumbprints.clone()).collect();
        assert_eq!(held, vec![[thumbprint(CERT_A)].into_iter().collect::<BTreeSet<_>>(); 2]);
    }

    // Deleted keys: the same.
    rt.block_on(async {
        let mut client = store.connection().client();
        client.delete(key.clone(), None).await.unwrap();
        for server in &SERVERS[..2] {
            client.delete(store.cluster().delivery_key(server), None).await.unwrap();
        }
    });
    let out = fleet.cli(&["get", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"state-missing\""));
    fleet.wait("both agents see no state", Duration::from_secs(10), || {
        agents.iter().all(|a| a.log().contains("no delivery for this server in etcd, keeping every file"))
    });
    assert!(matches!(
        rt.block_on(store.load()),
        Err(certslot_etcd::StoreError::State(StateError::Missing { .. }))
    ));
    for server in &SERVERS[..2] {
        assert_eq!(fleet.held(server), set_of(&[CERT_A]), "{server}");
    }

    // Recovery: the saved state goes back, and the fleet moves on from it.
    fleet.ok(&["restore", backup.to_str().unwrap()]);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B]);
    fleet.wait("both agents follow the restored state", Duration::from_secs(10), || {
        SERVERS[..2].iter().all(|s| fleet.held(s) == set_of(&[CERT_A, CERT_B]))
    });
    assert_eq!(fleet.oauth(), (Some(CERT_B.into()), Some(CERT_A.into()), None));
}

/// Scenario 6, two coordinators: one leads and advances, the other waits and never steps; the
/// leader killed, the other takes over and advances. A deposed leader's guarded write is
/// refused.
#[test]
fn two_coordinators_advance_one_at_a_time_and_the_second_takes_over() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "coord");
    fleet.setup(&SERVERS[..1]);
    let _agent = fleet.agent(SERVERS[0]);
    let mut coordinators = [fleet.coordinator("c1"), fleet.coordinator("c2")];
    fleet.wait("one coordinator leads, the other follows", Duration::from_secs(10), || {
        let logs: Vec<String> = coordinators.iter().map(Daemon::log).collect();
        logs.iter().filter(|l| l.contains(" leads (election revision")).count() == 1
            && logs.iter().filter(|l| l.contains("following c")).count() == 1
    });
    let leader = usize::from(!coordinators[0].log().contains("c1 leads"));
    let follower = 1 - leader;
    let (leader_id, follower_id) = (format!("c{}", leader + 1), format!("c{}", follower + 1));
    assert!(coordinators[follower].log().contains(&format!("following {leader_id}")));

    let rt = runtime();
    let store = rt.block_on(store_for(&etcd.endpoint(), "coord"));
    let election_key = store.cluster().coordinator_key();
    let holder = |rt: &tokio::runtime::Runtime| {
        rt.block_on(async {
            let answer = store.connection().client().get(election_key.clone(), None).await.unwrap();
            answer
                .kvs()
                .first()
                .map(|kv| (String::from_utf8_lossy(kv.value()).into_owned(), kv.create_revision()))
        })
    };
    let (id, first_term) = holder(&rt).unwrap();
    assert_eq!(id, leader_id);

    fleet.import(&file_a());
    fleet.import(&file_b());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.roll_in_a_second(CERT_B);
    fleet.wait("the leader promotes B", Duration::from_secs(15), || {
        fleet.oauth() == (Some(CERT_B.into()), Some(CERT_A.into()), None)
    });
    // The state is visible before the leader's log line about it is written.
    fleet.wait("the leader logs the promotion", Duration::from_secs(5), || {
        coordinators[leader].log().contains("4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F became current")
    });
    assert!(!coordinators[follower].log().contains(" step at "), "the follower never steps");

    coordinators[leader].kill();
    let took = fleet.wait("the follower takes over", Duration::from_secs(15), || {
        coordinators[follower].log().contains(&format!("{follower_id} leads"))
    });
    eprintln!("takeover after {took:?}");
    let (id, second_term) = holder(&rt).unwrap();
    assert_eq!(id, follower_id);
    assert!(second_term > first_term);
    fleet.roll_in_a_second(CERT_A);
    fleet.wait("the new leader promotes A again", Duration::from_secs(15), || {
        fleet.oauth() == (Some(CERT_A.into()), Some(CERT_B.into()), None)
    });
    fleet.wait("the new leader logs the promotion", Duration::from_secs(5), || {
        coordinators[follower].log().contains("3BF702B601477250F70E61E287798983087DA4AB became current")
    });

    // The first leader's guard is stale: its writes are refused, whatever they are.
    let stale = Guard::new(election_key.clone(), first_term);
    let refused = rt.block_on(store.update_guarded(&stale, |s| s.add_site("never")));
    assert!(
        matches!(&refused, Err(UpdateError::NotLeader { create_revision, .. }) if *create_revision == first_term),
        "{refused:?}"
    );
    let current = Guard::new(election_key, second_term);
    rt.block_on(store.update_guarded(&current, |s| s.add_site("allowed"))).unwrap();
    let sites: Vec<String> =
        rt.block_on(store.load()).unwrap().store.topology().sites().map(str::to_owned).collect();
    assert_eq!(sites, ["allowed", "redmond"]);
}

/// Every admin command once against etcd, with `--now`: each write is one update (the store's
/// revision moves by exactly one), refusals write nothing, reads need no password.
#[test]
fn each_admin_command_is_one_update_and_a_refusal_writes_nothing() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "admin");
    let revision = || fleet.json(&["get"])["revision"].as_u64().unwrap();
    let at = |minutes: u32| format!("2026-12-01T09:{minutes:02}:00Z");
    fleet.ok(&["init", "--sip-domain", "fabrikam.com"]);
    let start = revision();
    let expected = std::cell::Cell::new(start);
    let write = |args: &[&str]| {
        let out = fleet.json(args);
        expected.set(expected.get() + 1);
        assert_eq!(out["revision"].as_u64(), Some(expected.get()), "{args:?}: {out}");
        out
    };
    write(&["configure", "--type", "OAuthTokenIssuer", "--staged", "yes"]);
    write(&["topology", "add-site", "redmond"]);
    write(&["topology", "add-pool", POOL, "--site", "redmond"]);
    write(&["topology", "add-server", "fe01.contoso.com", "--pool", POOL]);
    write(&["topology", "add-server", "fe09.contoso.com", "--pool", POOL]);
    write(&["topology", "remove-server", "fe09.contoso.com"]);
    let topology = fleet.json(&["topology", "show"]);
    assert_eq!(topology["servers"], serde_json::json!([{"server": "fe01.contoso.com", "pool": POOL}]));

    // The samples name contoso.com, not fabrikam.com: refused, then imported on purpose.
    let import =
        ["import", &file_a(), "--type", "OAuthTokenIssuer", "--pfx-password-env", "PFX_PASSWORD", "--json"];
    let out = fleet.cli(&import);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "refused");
    assert!(
        error["error"]["message"].as_str().unwrap().contains("breaks the OAuthTokenIssuer policy"),
        "{error}"
    );
    assert_eq!(revision(), expected.get(), "a refusal writes nothing");
    let mut ignoring = import.to_vec();
    ignoring.insert(6, "--ignore-policy");
    let imported = write(&ignoring[..ignoring.len() - 1]);
    assert_eq!(imported["thumbprint"], CERT_A);
    assert_eq!(imported["violations"][0]["code"], "subject-mismatch");
    let file_b = file_b();
    write(&[
        "import",
        &file_b,
        "--type",
        "OAuthTokenIssuer",
        "--pfx-password-env",
        "PFX_PASSWORD",
        "--ignore-policy",
    ]);

    let set = write(&[
        "set",
        "--type",
        "OAuthTokenIssuer",
        "--thumbprint",
        CERT_A,
        "--ignore-policy",
        "--now",
        &at(0),
    ]);
    // certslot's own Event JSON: tagged by `event`, snake_case, RFC 3339 instants.
    assert_eq!(
        set["events"][0],
        serde_json::json!({"event": "set", "cert_type": "OAuthTokenIssuer", "scope": "global",
                           "thumbprint": CERT_A, "at": at(0)})
    );
    let roll = ["roll", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B, "--ignore-policy"];
    let rolled = write(&[&roll[..], &["--effective-date", "2027-07-01T00:00:00Z", "--now", &at(1)]].concat());
    assert_eq!(rolled["events"][0]["event"], "roll_scheduled");
    let cancelled = write(&["cancel-roll", "--type", "OAuthTokenIssuer", "--now", &at(2)]);
    assert_eq!(cancelled["events"][0]["reason"], "requested");
    let out = fleet.cli(&["cancel-roll", "--type", "OAuthTokenIssuer", "--now", &at(3)]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "error: no OAuthTokenIssuer roll is pending at global\n"
    );
    write(&[&roll[..], &["--effective-date", &at(5), "--now", &at(3), "--force"]].concat());
    // Due, staged, and fe01 has not reported: `advance` leaves it blocked.
    let advanced = write(&["advance", "--now", &at(6)]);
    assert_eq!(advanced["events"][0]["event"], "roll_blocked");
    assert_eq!(advanced["events"][0]["servers"], serde_json::json!(["fe01.contoso.com"]));
    let drift = fleet.json(&["drift", "--now", &at(6)]);
    assert_eq!(drift["servers"][0]["reported"], false);
    assert_eq!(drift["servers"][0]["holding"], serde_json::Value::Null);
    let roles: Vec<&str> = drift["servers"][0]["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["current", "pending"], "unreported: everything it must hold is missing");
    assert_eq!(drift["waiting_rolls"][0]["waiting_for"], serde_json::json!(["fe01.contoso.com"]));
    assert_eq!(drift["waiting_rolls"][0]["cert_type"], "OAuthTokenIssuer");
    write(&["configure", "--type", "OAuthTokenIssuer", "--staged", "no"]);
    let advanced = write(&["advance", "--now", &at(7)]);
    assert_eq!(advanced["events"][0]["event"], "rolled");
    assert_eq!(advanced["events"][0]["applied_at"], at(7));
    assert_eq!(fleet.oauth(), (Some(CERT_B.into()), Some(CERT_A.into()), None));
    write(&["rollback", "--type", "OAuthTokenIssuer", "--now", &at(8)]);
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), Some(CERT_B.into()), None));
    write(&["remove-previous", "--type", "OAuthTokenIssuer", "--now", &at(9)]);
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, None));
    let timeline = fleet.json(&["timeline", "--now", &at(10), "--days", "4000"]);
    let events: Vec<&str> = timeline["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"]["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["current_expires_soon", "current_expired"]);
    assert_eq!(timeline["entries"][0]["event"]["lead_time_seconds"], 86_400);
    assert_eq!(timeline["entries"][1]["slot"]["current"]["thumbprint"], CERT_A);

    // Reads need no password (and no more than the read-only role); writes do.
    let read = fleet.command_as(READER).args(["get"]).env_remove("CERTSLOT_PASSWORD").output().unwrap();
    assert!(read.status.success(), "{}", String::from_utf8_lossy(&read.stderr));
    assert!(
        String::from_utf8_lossy(&read.stdout)
            .contains("Thumbprint         : 3BF702B601477250F70E61E287798983087DA4AB")
    );
    let export = fleet.ok(&["export"]);
    assert!(export.contains("\"keys\":[{\"thumbprint\":\""), "the export keeps the sealed keys");
    assert_eq!(revision(), expected.get());
}

/// Unattended renewal: six weeks before the certificate expires (Lync's rollover preset), the
/// planner says renew; the coordinator with `--renew` makes a self-signed successor and schedules
/// its roll a day later (the publish-ahead time); the agents stage it, and the JWKS announces it.
#[test]
fn the_coordinator_renews_what_the_plan_says_and_agents_stage_it() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "renew");
    fleet.setup(&SERVERS);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A, "--now", "2035-11-01T00:00:00Z"]);
    let plan = fleet.json(&["plan", "--now", "2035-11-01T00:00:00Z"]);
    assert_eq!(plan["actions"], serde_json::json!([]));
    // CERT_A expires 2036-01-01: its window opens six weeks before.
    assert_eq!(plan["next_plan_due"], "2035-11-20T00:00:00Z");
    let plan = fleet.json(&["plan", "--now", "2035-11-25T00:00:00Z"]);
    assert_eq!(plan["actions"][0]["action"], "renew");
    assert_eq!(plan["actions"][0]["current"], CERT_A);
    assert_eq!(plan["actions"][0]["effective_at"], "2035-11-26T00:00:00Z");

    // With a renewal window (weekdays 02:00-05:00 at UTC+01:00), Sunday's renewal waits for
    // Monday 01:00 UTC, and a renewal now is refused unless forced.
    fleet.ok(&["configure", "--type", "OAuthTokenIssuer", "--renewal-window", "Mon-Fri 02:00-05:00 +01:00"]);
    let plan = fleet.json(&["plan", "--now", "2035-11-25T00:00:00Z"]);
    assert_eq!(plan["actions"][0]["window_opens"], "2035-11-26T01:00:00Z", "{plan}");
    let refused = fleet.cli(&["renew", "--type", "OAuthTokenIssuer", "--now", "2035-11-25T00:00:00Z"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("outside the type's renewal window; it opens at 2035-11-26T01:00:00Z"),
        "{stderr}"
    );
    let bad =
        fleet.cli(&["configure", "--type", "OAuthTokenIssuer", "--renewal-window", "Funday 02:00-03:00"]);
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("unknown day"), "{stderr}");
    fleet.ok(&["configure", "--type", "OAuthTokenIssuer", "--no-renewal-window"]);
    assert_eq!(
        fleet.json(&["plan", "--now", "2035-11-25T00:00:00Z"])["actions"][0].get("window_opens"),
        None
    );

    let agents: Vec<Daemon> = SERVERS.iter().map(|s| fleet.agent(s)).collect();
    let _coordinator = fleet.spawn_coordinator("renewer", &["--renew", "--now", "2035-11-25T00:00:00Z"]);
    fleet.wait("the coordinator schedules a renewal", Duration::from_secs(20), || fleet.oauth().2.is_some());
    let (current, previous, pending) = fleet.oauth();
    let renewed = pending.expect("pending");
    assert_eq!((current.as_deref(), previous), (Some(CERT_A), None));
    assert_ne!(renewed, CERT_A);
    fleet.wait("every agent stages the renewal", Duration::from_secs(20), || {
        SERVERS.iter().all(|s| fleet.held(s) == set_of(&[CERT_A, &renewed]))
    });
    // Verifiers learn both keys: A signing, the renewal announced; `kid` is the x5t.
    let jwks = fleet.json(&["jwks", "--type", "OAuthTokenIssuer", "--now", "2035-11-25T01:00:00Z"]);
    let kids: Vec<&str> =
        jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert_eq!(kids.len(), 2, "{jwks}");
    let plan = fleet.json(&["plan", "--now", "2035-11-25T01:00:00Z"]);
    let kinds: Vec<&str> =
        plan["actions"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["roll"], "{plan}");
    assert_eq!(plan["actions"][0]["thumbprint"], renewed.as_str());
    drop(agents);
}
