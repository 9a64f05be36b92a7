//! Every endpoint, every command: a real three-member etcd cluster on loopback, one member
//! killed, and `certslot-fleet` given all three endpoints. Reads and writes go through the live
//! members whichever member is listed first; the time from killing the leader to the first
//! successful read and write is printed (the figure of issue 16; goal 3 s).

mod common;

use std::time::{Duration, Instant};

use common::*;

#[test]
fn with_one_member_of_three_dead_every_command_succeeds_through_the_others() {
    let mut etcd = EtcdCluster::start();
    let fleet = Fleet::with_endpoints(&etcd.endpoints(), "failover");
    fleet.setup(&["fe01.contoso.com"]);
    let a = fleet.import(&file_a());
    assert_eq!(a, CERT_A);
    // The first endpoint listed dies: every command must find the two others, every time (a
    // client that picks an endpoint at random failed one time in three).
    etcd.members[0].kill();
    for _ in 0..6 {
        for read in [&["get"][..], &["drift"], &["plan"], &["export"], &["topology", "show"]] {
            fleet.ok(read);
        }
    }
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let b = fleet.import(&file_b());
    assert_eq!(b, CERT_B);
    fleet.ok(&["topology", "add-server", "fe02.contoso.com", "--pool", POOL]);
    let state = fleet.json(&["get", "--type", "OAuthTokenIssuer"]);
    assert!(state.to_string().contains(CERT_A), "{state}");
    // restore is an update like the others: through the live members too.
    let saved = fleet.work.path().join("saved.json");
    std::fs::write(&saved, fleet.ok(&["export"])).expect("write");
    fleet.ok(&["restore", saved.to_str().expect("UTF-8 path")]);
}

#[test]
fn after_the_leader_dies_reads_and_writes_resume_within_seconds() {
    let mut etcd = EtcdCluster::start();
    let fleet = Fleet::with_endpoints(&etcd.endpoints(), "leader");
    fleet.setup(&["fe01.contoso.com"]);
    let leader = etcd.leader().expect("a leader");
    let killed = Instant::now();
    etcd.members[leader].kill();
    let until_ok = |args: &[&str]| loop {
        if fleet.cli(args).status.success() {
            return killed.elapsed();
        }
        assert!(killed.elapsed() < Duration::from_secs(30), "certslot-fleet {args:?} never succeeded");
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = until_ok(&["get"]);
    let write = until_ok(&["topology", "add-server", "fe02.contoso.com", "--pool", POOL]);
    eprintln!(
        "leader m{leader} killed: first successful read after {:.2} s, first successful write after {:.2} s",
        read.as_secs_f64(),
        write.as_secs_f64()
    );
    assert!(write < Duration::from_secs(10), "{write:?}");
}
