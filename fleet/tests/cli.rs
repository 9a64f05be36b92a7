//! `certslot-fleet`'s command line without etcd: help, usage errors (exit 2), a write without
//! the password (exit 1) and etcd unreachable (exit 4), each with its `--json` error kind.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(args)
        .env_remove("CERTSLOT_PASSWORD")
        .env_remove("CERTSLOT_CLUSTER")
        // Nothing listens on port 9 (discard) here: connections are refused at once.
        .env("CERTSLOT_ETCD_ENDPOINTS", "http://127.0.0.1:9")
        .output()
        .expect("runs")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("usage: certslot-fleet [OPTIONS] COMMAND"));
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn usage_errors_exit_2_with_the_usage() {
    for (args, message) in [
        (&["--no-such-option"][..], "error: unknown option --no-such-option"),
        (&[][..], "error: no command given"),
        (&["frobnicate"][..], "error: unknown command \"frobnicate\""),
        (&["get", "--thumbprint", "AB"][..], "error: --thumbprint does not apply to get"),
        (&["roll", "--type", "OAuthTokenIssuer", "--thumbprint", "AB"][..], "error: --thumbprint: "),
        (&["set", "--type", "OAuthTokenIssuer"][..], "error: --thumbprint is required"),
        (
            &[
                "roll",
                "--type",
                "OAuthTokenIssuer",
                "--thumbprint",
                "3BF702B601477250F70E61E287798983087DA4AB",
                "--effective-date",
                "tomorrow",
            ][..],
            "error: tomorrow: not an RFC 3339 instant",
        ),
        (&["agent", "--dir", "/tmp/x"][..], "error: --server is required"),
        (&["rollback", "--type", "OAuthTokenIssuer,Default"][..], "error: --type takes one type here"),
        (&["jwks"][..], "error: --type is required"),
        (&["get", "--cluster", "a/b"][..], "error: invalid cluster name \"a/b\""),
        (&["configure", "--type", "Default", "--staged", "maybe"][..], "error: --staged takes yes or no"),
        (
            &["init", "--sip-domain", "contoso.com", "extra"][..],
            "error: unexpected argument \"extra\" for init",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).starts_with(message), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("\nusage: certslot-fleet "), "{args:?}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_write_without_the_password_is_refused_before_etcd_is_asked() {
    let out = run(&["init", "--sip-domain", "contoso.com", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "password-required");
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["init", "--sip-domain", "contoso.com", "--password-env", "CERTSLOT_TEST_UNSET_VARIABLE"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: environment variable CERTSLOT_TEST_UNSET_VARIABLE is not set\n");
}

#[test]
fn an_unreachable_etcd_exits_4() {
    let out = run(&["get", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "etcd-unavailable");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("etcd read: "), "{error}");
}
