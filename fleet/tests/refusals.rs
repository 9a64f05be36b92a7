//! Errors that name their cause, against a real etcd: a cluster with authentication on refuses
//! a client without credentials at once (exit 6, not 30 s of retries reported as "unavailable"),
//! `restore` racing other writers is retried like any update, and an agent refuses a
//! certificate directory that other users may write.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use common::*;

#[test]
fn an_etcd_with_authentication_on_refuses_at_once_with_its_own_exit_code() {
    // Password authentication over plain HTTP: a client without credentials.
    let etcd = Etcd::start_plain();
    // etcd's JSON gateway: a root user with the root role, then authentication on.
    for (path, body) in [
        ("/v3/auth/user/add", r#"{"name": "root", "password": "r00t-pass"}"#),
        ("/v3/auth/role/add", r#"{"name": "root"}"#),
        ("/v3/auth/user/grant", r#"{"user": "root", "role": "root"}"#),
        ("/v3/auth/enable", "{}"),
    ] {
        let answer = etcd.post(path, body).expect("etcd answers");
        assert!(answer.contains("\"header\""), "{path}: {answer}");
    }
    let fleet = Fleet::new(&etcd, "auth");
    for args in [&["init", "--sip-domain", "contoso.com", "--json"][..], &["get", "--json"]] {
        let started = Instant::now();
        let out = fleet.cli(args);
        assert_eq!(out.status.code(), Some(6), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(started.elapsed() < Duration::from_secs(5), "{args:?} took {:?}", started.elapsed());
        let error: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON");
        assert_eq!(error["error"]["kind"], "etcd-unauthenticated");
        let message = error["error"]["message"].as_str().expect("message");
        assert!(message.contains("not authenticated (etcdserver: user name is empty)"), "{message}");
    }
}

#[test]
fn restore_during_concurrent_writes_is_retried_like_any_update() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "restore");
    fleet.setup(&["fe01.contoso.com"]);
    let saved = fleet.work.path().join("saved.json");
    std::fs::write(&saved, fleet.ok(&["export"])).expect("write");
    std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for n in 0..12 {
                fleet.ok(&[
                    "topology",
                    "add-server",
                    &format!("fe{:02}.contoso.com", n + 10),
                    "--pool",
                    POOL,
                ]);
            }
        });
        for _ in 0..4 {
            fleet.ok(&["restore", saved.to_str().expect("UTF-8 path")]);
        }
        writer.join().expect("writer");
    });
}

#[test]
fn an_agent_refuses_a_directory_others_may_write() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "dir");
    fleet.setup(&["fe01.contoso.com"]);
    let dir = fleet.agent_dir("fe01.contoso.com");
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let dir_text = dir.to_str().expect("UTF-8 path");
    let writer_key = fleet.writer_key();
    let out = fleet.cli(&[
        "agent",
        "--server",
        "fe01.contoso.com",
        "--dir",
        dir_text,
        "--lease-ttl",
        "2",
        "--writer-key",
        &writer_key,
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "error: {dir_text}: writable by every user (mode 777); run `chmod go-w {dir_text}` or choose a private \
             directory\n"
        )
    );
}
