//! Upgrade in place (issue 17, item 5): a cluster whose state an earlier release wrote (the bare
//! `SavedState`, keys sealed with the password, no MAC, no deliveries) keeps being readable,
//! is refused to writers with a message naming the command, and moves to the authenticated
//! layout with `certslot-fleet upgrade`, after which servers are enrolled and handed their
//! certificates.

mod common;

use std::time::Duration;

use certslot::rand_core::UnwrapErr;
use certslot::{CertType, ExportOptions, ImportOptions, Password, Pfx, RollOptions, Scope, Store};
use certslot_etcd::{Cluster, Connection};
use common::*;
use time::macros::datetime;

const FE01: &str = "fe01.contoso.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The value the release before authenticated states wrote for `store`: its `SavedState` as
/// compact JSON with the private keys sealed in PFX with the password (that release's
/// `state::codec::encode`, line for line).
fn earlier_release_value(store: &Store) -> Vec<u8> {
    let keys = store
        .sealed_keys(&Password::new(PASSWORD), &ExportOptions::default(), &mut UnwrapErr(getrandom::SysRng))
        .unwrap();
    serde_json::to_vec(&store.to_state().unwrap().with_keys(keys)).unwrap()
}

#[test]
fn a_state_of_the_earlier_release_is_read_refused_to_writers_and_upgraded_with_one_command() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "upgrade");
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    store.add_pool(POOL, "redmond").unwrap();
    store.add_server(FE01, POOL).unwrap();
    let pfx = Pfx::import(
        &std::fs::read(file_a()).unwrap(),
        &Password::new(PFX_PASSWORD),
        ImportOptions::default(),
    )
    .unwrap();
    let a = store.add_pfx(pfx).unwrap();
    let at = datetime!(2026-11-25 9:00 UTC);
    store.set(&[CertType::OAuthTokenIssuer], &Scope::Global, &a, at, RollOptions::default()).unwrap();
    let revision = store.revision();
    let old = earlier_release_value(&store);
    let rt = runtime();
    let root = rt.block_on(Connection::connect(&[etcd.endpoint()], options_as(ROOT))).unwrap();
    let key = Cluster::new("upgrade").unwrap().state_key();
    rt.block_on(root.client().put(key.as_str(), old.clone(), None)).unwrap();

    // Readers read it as before.
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, None));
    // Writers refuse it, naming the command; nothing is written.
    let out = fleet.cli(&["topology", "add-site", "paris", "--json"]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "state-old-layout");
    assert_eq!(
        error["error"]["message"],
        "the state at /certslot/upgrade/state has the layout of an earlier release; run `certslot-fleet upgrade` \
         to move it to the authenticated layout"
    );
    // An agent of this release meanwhile: no delivery yet, nothing written or deleted.
    let agent = fleet.agent_unenrolled(FE01);
    fleet.wait("the agent waits for its delivery", Duration::from_secs(20), || {
        agent.log().contains("no delivery for this server in etcd, keeping every file")
    });
    let read = || rt.block_on(root.client().get(key.as_str(), None)).unwrap().kvs()[0].value().to_vec();
    assert_eq!(read(), old);

    // The one command.
    assert_eq!(fleet.ok(&["upgrade"]), "moved the state of cluster upgrade to the authenticated layout\n");
    assert_eq!(fleet.json(&["upgrade"]), serde_json::json!({"cluster": "upgrade", "upgraded": false}));
    let upgraded: serde_json::Value = serde_json::from_slice(&read()).unwrap();
    assert_eq!(upgraded["layout"], "certslot-fleet/2");
    assert_eq!(fleet.json(&["get"])["revision"].as_u64().unwrap(), revision + 1);
    assert_eq!(fleet.oauth(), (Some(CERT_A.into()), None, None));
    // Writers write again; the server is enrolled (the fingerprint the agent shows) and handed
    // its certificate.
    fleet.ok(&["topology", "add-site", "paris"]);
    let key_text = fleet.agent_key(FE01);
    let fingerprint =
        fleet.json(&["agent-key", "--dir", fleet.agent_dir(FE01).to_str().unwrap()])["fingerprint"]
            .as_str()
            .unwrap()
            .to_owned();
    let enrolled = fleet.json(&["topology", "enrol", FE01, "--agent-key", &key_text]);
    assert_eq!(enrolled["fingerprint"], fingerprint.as_str());
    assert_eq!(enrolled["enrolled"], true);
    assert!(agent.log().contains(&fingerprint), "the agent's start line shows the same fingerprint");
    fleet.wait("fe01 holds A", Duration::from_secs(20), || fleet.held(FE01) == set_of(&[CERT_A]));
    // Enrolling the same key again writes nothing.
    let again = fleet.json(&["topology", "enrol", FE01, "--agent-key", &key_text]);
    assert_eq!(again["enrolled"], false);
    assert_eq!(again["revision"], enrolled["revision"]);
    // A server outside the topology cannot be enrolled.
    let out = fleet.cli(&["topology", "enrol", "fe09.contoso.com", "--agent-key", &key_text]);
    assert_eq!(String::from_utf8_lossy(&out.stderr), "error: unknown server fe09.contoso.com\n");
}
