//! With etcd's access control bypassed (root writes by hand), what certslot itself refuses
//! (issue 17): a state its writers did not authenticate, a private key that does not prove the
//! password, a delivery not signed by the pinned writer key or meant for another server, an
//! older delivery replayed, a report without a lease. Each case ends with nothing installed and
//! nothing deleted.

mod common;

use std::time::Duration;

use base64ct::{Base64, Encoding as _};
use certslot_etcd::{Cluster, Connection};
use common::*;

const FE01: &str = "fe01.contoso.com";
const FE02: &str = "fe02.contoso.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

#[test]
fn a_key_that_opens_under_any_password_is_refused_at_import_and_in_the_state() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "tamper");
    fleet.setup(&[FE01]);
    let revision = || fleet.json(&["get"])["revision"].as_u64().unwrap();
    let before = revision();

    // `import` of a file with neither MAC nor encryption: whatever password is given, refused.
    let unprotected = fixture("openssl3-unencrypted-nomac.pfx");
    let out = fleet.cli(&[
        "import",
        &unprotected,
        "--type",
        "OAuthTokenIssuer",
        "--pfx-password-env",
        "PFX_PASSWORD",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "pfx");
    assert_eq!(
        error["error"]["message"],
        format!("{unprotected}: the file is not protected by its password: it has no integrity MAC")
    );
    let with_mac = fixture("openssl3-unencrypted.pfx");
    let out =
        fleet.cli(&["import", &with_mac, "--type", "OAuthTokenIssuer", "--pfx-password-env", "PFX_PASSWORD"]);
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {with_mac}: the file is not protected by its password: its private key is not encrypted\n"
        )
    );
    assert_eq!(revision(), before, "nothing written");

    // The agent holds A, imported properly.
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let agent = fleet.agent(FE01);
    fleet.wait("fe01 holds A", Duration::from_secs(20), || fleet.held(FE01) == set_of(&[CERT_A]));
    let file = fleet.agent_dir(FE01).join(format!("{CERT_A}.pfx"));
    let held = std::fs::read(&file).unwrap();

    // Root swaps A's sealed key for the same certificate with its key in the clear, no MAC.
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let cluster = Cluster::new("tamper").unwrap();
    let key = cluster.state_key();
    let value = rt.block_on(root.client().get(key.as_str(), None)).unwrap().kvs()[0].value().to_vec();
    let mut envelope: serde_json::Value = serde_json::from_slice(&value).unwrap();
    let state = &mut envelope["body"]["state"];
    let keys = state["keys"].as_array_mut().unwrap();
    let sealed = keys.iter_mut().find(|k| k["thumbprint"] == CERT_A).unwrap();
    sealed["pfx"] = Base64::encode_string(&std::fs::read(&unprotected).unwrap()).into();
    let bare_state = serde_json::to_vec(state).unwrap();
    rt.block_on(root.client().put(key.as_str(), serde_json::to_vec(&envelope).unwrap(), None)).unwrap();

    // Writers refuse the value whole: its MAC does not verify. The agent never reads the state;
    // its delivery and its file are as they were.
    let out = fleet.cli(&["topology", "add-site", "paris", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "state-unauthenticated");
    assert_eq!(
        error["error"]["message"],
        "the state at /certslot/tamper/state is not authenticated by this cluster's writers (its MAC does not verify with this password)"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(std::fs::read(&file).unwrap(), held, "the agent's file is as it was");
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
    assert!(!agent.log().contains("rejected"), "{}", agent.log());

    // The same state as a backup of an earlier release (no MAC to check): `restore` takes only
    // keys that prove the password.
    let backup = fleet.work.path().join("old-layout.json");
    std::fs::write(&backup, &bare_state).unwrap();
    let out = fleet.cli(&["restore", backup.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the file is not protected by its password: it has no integrity MAC"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
}

#[test]
fn a_delivery_from_anyone_but_a_writer_or_for_another_server_is_refused() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "seal");
    fleet.setup(&[FE01, FE02]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let (fe01, fe02) = (fleet.agent(FE01), fleet.agent(FE02));
    fleet.wait("both hold A", Duration::from_secs(20), || {
        fleet.held(FE01) == set_of(&[CERT_A]) && fleet.held(FE02) == set_of(&[CERT_A])
    });
    let cluster = Cluster::new("seal").unwrap();
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let read = |key: String| rt.block_on(root.client().get(key, None)).unwrap().kvs()[0].value().to_vec();
    let put = |key: String, value: Vec<u8>| rt.block_on(root.client().put(key, value, None)).unwrap();
    let fe02_file = std::fs::read(fleet.agent_dir(FE02).join(format!("{CERT_A}.pfx"))).unwrap();

    // fe01's delivery copied into fe02's key: fe02 refuses it by name and keeps its file.
    put(cluster.delivery_key(FE02), read(cluster.delivery_key(FE01)));
    fleet.wait("fe02 refuses fe01's delivery", Duration::from_secs(20), || {
        fe02.log().contains(
            "delivery rejected, keeping every file: the delivery is for fe01.contoso.com in cluster seal, not for this server",
        )
    });
    assert_eq!(std::fs::read(fleet.agent_dir(FE02).join(format!("{CERT_A}.pfx"))).unwrap(), fe02_file);

    // A delivery sealed to fe01's (public) agent key by a writer of another password, with B in
    // it: not signed by the writer key fe01 pinned; B is not installed, A stays.
    let other_etcd = Etcd::start();
    let stranger = Fleet::with_password(&other_etcd, "seal", "not-the-password");
    stranger.setup(&[FE01]);
    assert_eq!(stranger.import(&file_b()), CERT_B);
    stranger.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B]);
    stranger.ok(&["topology", "enrol", FE01, "--agent-key", &fleet.agent_key(FE01)]);
    let other_root = rt.block_on(Connection::connect(&[other_etcd.endpoint()], options_as(ROOT))).unwrap();
    let forged = rt.block_on(other_root.client().get(cluster.delivery_key(FE01), None)).unwrap().kvs()[0]
        .value()
        .to_vec();
    put(cluster.delivery_key(FE01), forged);
    let pinned = fleet.json(&["writer-key"])["fingerprint"].as_str().unwrap().to_owned();
    let claimed = stranger.json(&["writer-key"])["fingerprint"].as_str().unwrap().to_owned();
    fleet.wait("fe01 refuses the forged delivery", Duration::from_secs(20), || {
        fe01.log().contains(&format!(
            "delivery rejected, keeping every file: the delivery is not signed by the pinned writer key {pinned} (it names {claimed})"
        ))
    });
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
    assert_eq!(fleet.held(FE02), set_of(&[CERT_A]));

    // A coordinator sees deliveries changed after the state's last write and hands both servers
    // theirs afresh, one revision on; each agent applies its own.
    let applied = |server: &str| -> u64 {
        let text = std::fs::read_to_string(fleet.agent_dir(server).join(".certslot-applied")).unwrap();
        text.trim().parse().unwrap()
    };
    let before = (applied(FE01), applied(FE02));
    let coordinator = fleet.coordinator("c1");
    fleet.wait("the coordinator repairs both", Duration::from_secs(20), || {
        coordinator.log().contains(&format!("handed afresh the deliveries changed by hand of {FE01}, {FE02}"))
    });
    let revision = fleet.json(&["get"])["revision"].as_u64().unwrap();
    fleet.wait("both apply their repaired delivery", Duration::from_secs(20), || {
        applied(FE01) == revision && applied(FE02) == revision
    });
    assert!(revision > before.0.max(before.1));
    for server in [FE01, FE02] {
        let header = certslot_etcd::Delivery::peek(&read(cluster.delivery_key(server))).unwrap();
        assert_eq!((header.server.as_str(), header.revision), (server, revision));
    }
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
    assert_eq!(std::fs::read(fleet.agent_dir(FE02).join(format!("{CERT_A}.pfx"))).unwrap(), fe02_file);

    // While it leads, a delivery deleted by hand is seen in its watch and put back at once.
    rt.block_on(root.client().delete(cluster.delivery_key(FE01), None)).unwrap();
    fleet.wait("the coordinator repairs fe01's", Duration::from_secs(20), || {
        coordinator.log().contains(&format!("handed afresh the deliveries changed by hand of {FE01} "))
    });
    let header = certslot_etcd::Delivery::peek(&read(cluster.delivery_key(FE01))).unwrap();
    assert_eq!(header.revision, revision + 1);
    fleet.wait("fe01 applies it", Duration::from_secs(20), || applied(FE01) == revision + 1);
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
}

#[test]
fn a_report_without_a_lease_does_not_release_a_held_roll() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "forged");
    fleet.setup(&[FE01]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    assert_eq!(fleet.import(&file_b()), CERT_B);
    let _coordinator = fleet.coordinator("c1");
    fleet.roll_in_a_second(CERT_B);
    // fe01's agent is not running; root writes a report in its name, with no lease, claiming B.
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let key = Cluster::new("forged").unwrap().server_key(FE01);
    let forged = format!(
        r#"{{"format":1,"server":"{FE01}","thumbprints":["{CERT_A}","{CERT_B}"],"reported_at":"{}"}}"#,
        from_now(0)
    );
    rt.block_on(root.client().put(key.as_str(), forged, None)).unwrap();
    // Past the effective date and a few of the coordinator's steps: the roll is still held.
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, Some(CERT_B.into())));
    let drift = fleet.drift();
    assert_eq!(drift["waiting_rolls"][0]["waiting_for"], serde_json::json!([FE01]), "{drift}");
    let server = &drift["servers"][0];
    assert_eq!(server["reported"], false, "{drift}");
    // The real agent's report releases it.
    let _agent = fleet.agent(FE01);
    fleet.wait("B rolled in", Duration::from_secs(20), || fleet.oauth().0.as_deref() == Some(CERT_B));
}

#[test]
fn an_older_delivery_replayed_from_history_changes_nothing_and_a_restore_still_applies() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "replay");
    fleet.setup(&[FE01]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    fleet.enrol(FE01);
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let key = Cluster::new("replay").unwrap().delivery_key(FE01);
    let state_key = Cluster::new("replay").unwrap().state_key();
    let read = || rt.block_on(root.client().get(key.as_str(), None)).unwrap().kvs()[0].value().to_vec();
    // fe01's delivery with A only and the state, as etcd's history keeps them; the state as
    // `export` saves it.
    let old = read();
    let old_state = rt.block_on(root.client().get(state_key.as_str(), None)).unwrap().kvs()[0].clone();
    let saved = fleet.work.path().join("saved.json");
    std::fs::write(&saved, fleet.ok(&["export"])).unwrap();

    // B replaces A: A becomes previous, the agent holds both.
    assert_eq!(fleet.import(&file_b()), CERT_B);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B]);
    let agent = fleet.agent_unenrolled(FE01);
    fleet.wait("fe01 holds A and B", Duration::from_secs(20), || {
        fleet.held(FE01) == set_of(&[CERT_A, CERT_B])
    });
    let applied = fleet.agent_dir(FE01).join(".certslot-applied");
    let newest: u64 = std::fs::read_to_string(&applied).unwrap().trim().parse().unwrap();
    assert_eq!(newest, fleet.json(&["get"])["revision"].as_u64().unwrap());

    // Root writes the old delivery back: older than what the agent applied; B's file stays.
    rt.block_on(root.client().put(key.as_str(), old, None)).unwrap();
    let refusal = format!("is older than revision {newest} applied here, keeping every file");
    fleet.wait("the agent refuses the replay", Duration::from_secs(20), || agent.log().contains(&refusal));
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A, CERT_B]));
    // It stays refused across a restart of the agent (the record is in its directory).
    drop(agent);
    let agent = fleet.agent_unenrolled(FE01);
    fleet.wait("the restarted agent refuses it too", Duration::from_secs(20), || {
        agent.log().contains(&refusal)
    });
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A, CERT_B]));

    // The old state written back too: writers refuse it, since it was written as an earlier
    // version of the key.
    rt.block_on(root.client().put(state_key.as_str(), old_state.value().to_vec(), None)).unwrap();
    let found = rt.block_on(root.client().get(state_key.as_str(), None)).unwrap().kvs()[0].version();
    let out = fleet.cli(&["topology", "add-site", "paris", "--json"]);
    assert_eq!(out.status.code(), Some(3));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "state-replayed");
    assert_eq!(
        error["error"]["message"],
        format!(
            "the state at /certslot/replay/state is a replay: written as version {} of the key, found as version {found}",
            old_state.version()
        )
    );
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A, CERT_B]));

    // `restore` of the saved state is an admin's decision: it is written as the newest
    // revision, fe01 (still enrolled) is handed it, and the agent applies it (B's file goes).
    fleet.ok(&["restore", saved.to_str().unwrap()]);
    let restored = fleet.json(&["get"])["revision"].as_u64().unwrap();
    assert!(restored > newest, "{restored} > {newest}");
    fleet.wait("fe01 holds A only", Duration::from_secs(20), || fleet.held(FE01) == set_of(&[CERT_A]));
}
