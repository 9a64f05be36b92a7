//! With etcd's access control bypassed (root writes by hand), what certslot itself refuses
//! (issue 17): a private key that does not prove the password, at import and in the state.
//! Each case ends with nothing installed and nothing deleted.

mod common;

use std::time::Duration;

use base64ct::{Base64, Encoding as _};
use certslot_etcd::{Cluster, Connection};
use common::*;

const FE01: &str = "fe01.contoso.com";

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
    let key = Cluster::new("tamper").unwrap().state_key();
    let value = rt.block_on(root.client().get(key.as_str(), None)).unwrap().kvs()[0].value().to_vec();
    let mut state: serde_json::Value = serde_json::from_slice(&value).unwrap();
    let keys = state["keys"].as_array_mut().unwrap();
    let sealed = keys.iter_mut().find(|k| k["thumbprint"] == CERT_A).unwrap();
    sealed["pfx"] = Base64::encode_string(&std::fs::read(&unprotected).unwrap()).into();
    rt.block_on(root.client().put(key.as_str(), serde_json::to_vec(&state).unwrap(), None)).unwrap();

    // The agent refuses the state and keeps its file; writers refuse to load it.
    let refusal = "the file is not protected by its password: it has no integrity MAC";
    fleet.wait("the agent refuses the state", Duration::from_secs(20), || agent.log().contains(refusal));
    assert_eq!(std::fs::read(&file).unwrap(), held, "the agent's file is as it was");
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A]));
    let out = fleet.cli(&["topology", "add-site", "paris", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "state-refused");
    assert!(error["error"]["message"].as_str().unwrap().contains(refusal), "{error}");
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
fn an_older_state_replayed_from_history_changes_nothing_and_a_restore_still_applies() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "replay");
    fleet.setup(&[FE01]);
    assert_eq!(fleet.import(&file_a()), CERT_A);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let key = Cluster::new("replay").unwrap().state_key();
    let read = || rt.block_on(root.client().get(key.as_str(), None)).unwrap().kvs()[0].value().to_vec();
    // The state with A only, as etcd's history keeps it (and as `export` saves it).
    let old = read();
    let saved = fleet.work.path().join("saved.json");
    std::fs::write(&saved, fleet.ok(&["export"])).unwrap();

    // B replaces A: A becomes previous, the agent holds both.
    assert_eq!(fleet.import(&file_b()), CERT_B);
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_B]);
    let agent = fleet.agent(FE01);
    fleet.wait("fe01 holds A and B", Duration::from_secs(20), || {
        fleet.held(FE01) == set_of(&[CERT_A, CERT_B])
    });
    let applied = fleet.agent_dir(FE01).join(".certslot-applied");
    let newest: u64 = std::fs::read_to_string(&applied).unwrap().trim().parse().unwrap();
    assert_eq!(newest, fleet.json(&["get"])["revision"].as_u64().unwrap());

    // Root writes the old value back: it is older than what the agent applied; B's file stays.
    rt.block_on(root.client().put(key.as_str(), old, None)).unwrap();
    fleet.wait("the agent refuses the replay", Duration::from_secs(20), || {
        agent.log().contains(&format!("is older than revision {newest} applied here, keeping every file"))
    });
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A, CERT_B]));
    // It stays refused across a restart of the agent (the record is in its directory).
    drop(agent);
    let agent = fleet.agent(FE01);
    fleet.wait("the restarted agent refuses it too", Duration::from_secs(20), || {
        agent.log().contains(&format!("is older than revision {newest} applied here"))
    });
    assert_eq!(fleet.held(FE01), set_of(&[CERT_A, CERT_B]));

    // `restore` of the same saved state is an admin's decision: it is written as the newest
    // revision, and the agent applies it (B's file goes).
    fleet.ok(&["restore", saved.to_str().unwrap()]);
    let restored = fleet.json(&["get"])["revision"].as_u64().unwrap();
    assert_eq!(restored, newest + 1, "one past the newest revision etcd keeps of the state");
    fleet.wait("fe01 holds A only", Duration::from_secs(20), || fleet.held(FE01) == set_of(&[CERT_A]));
}
