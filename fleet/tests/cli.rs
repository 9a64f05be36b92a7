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

/// [`run`] with plain HTTP allowed (`--insecure-plaintext`): etcd is asked.
fn run_plain(args: &[&str]) -> Output {
    run(&[args, &["--insecure-plaintext"]].concat())
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn help_prints_the_usage_first_on_stdout_and_exits_0() {
    for flag in ["--help", "-h"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(stdout.lines().next(), Some("Usage: certslot-fleet [OPTIONS] <COMMAND>"));
        assert!(stdout.contains("\n  coordinator  "), "{stdout}");
        assert!(stdout.contains("\nExit status: 0 done; 1 refused or failed; 2 usage error;"), "{stdout}");
        assert!(out.stderr.is_empty());
    }
}

#[test]
fn a_subcommand_has_its_own_help() {
    let out = run(&["topology", "add-pool", "--help"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some("Add a pool to a site"));
    assert_eq!(lines.next(), Some(""));
    assert_eq!(lines.next(), Some("Usage: certslot-fleet topology add-pool [OPTIONS] --site <SITE> <POOL>"));
    assert!(stdout.contains("\n      --site <SITE>           The pool's site\n"), "{stdout}");
    assert!(out.stderr.is_empty());
}

#[test]
fn version_prints_the_name_and_version_and_exits_0() {
    for flag in ["--version", "-V"] {
        let out = run(&[flag]);
        assert_eq!(out.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            format!("certslot-fleet {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert!(out.stderr.is_empty());
    }
}

/// Runs `args` and checks a usage error: exit 2, nothing on stdout, `first` as the first line
/// of stderr and `usage` after it.
fn assert_usage_error(out: &Output, args: &[&str], first: &str, usage: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().next(), Some(first), "{args:?}: {err}");
    assert!(
        err.contains(&format!("\n\nUsage: {usage}\n\nFor more information, try '--help'.\n")),
        "{args:?}: {err}"
    );
    assert!(out.stdout.is_empty(), "{args:?}");
}

#[test]
fn usage_errors_exit_2_with_the_usage() {
    const T: &str = "3BF702B601477250F70E61E287798983087DA4AB";
    for (args, first, usage) in [
        (
            &["--no-such-option"][..],
            "error: unexpected argument '--no-such-option' found",
            "certslot-fleet [OPTIONS] <COMMAND>",
        ),
        (
            &[][..],
            "error: 'certslot-fleet' requires a subcommand but one was not provided",
            "certslot-fleet [OPTIONS] <COMMAND>",
        ),
        (
            &["frobnicate"][..],
            "error: unrecognized subcommand 'frobnicate'",
            "certslot-fleet [OPTIONS] <COMMAND>",
        ),
        (
            &["get", "--thumbprint", "AB"][..],
            "error: unexpected argument '--thumbprint' found",
            "certslot-fleet get [OPTIONS]",
        ),
        (
            &["roll", "--type", "OAuthTokenIssuer", "--thumbprint", "AB"][..],
            "error: invalid value 'AB' for '--thumbprint <X>': a thumbprint has 40 hex digits, found 2",
            "certslot-fleet roll [OPTIONS] --type <TYPE,...> --thumbprint <X> --effective-date <RFC3339>",
        ),
        (
            &["set", "--type", "OAuthTokenIssuer"][..],
            "error: the following required arguments were not provided:",
            "certslot-fleet set --type <TYPE,...> --thumbprint <X> --endpoints <URL,...>",
        ),
        (
            &["roll", "--type", "OAuthTokenIssuer", "--thumbprint", T, "--effective-date", "tomorrow"][..],
            "error: invalid value 'tomorrow' for '--effective-date <RFC3339>': not an RFC 3339 instant (the 'year' component could not be parsed)",
            "certslot-fleet roll [OPTIONS] --type <TYPE,...> --thumbprint <X> --effective-date <RFC3339>",
        ),
        (
            &["agent", "--dir", "/tmp/x"][..],
            "error: the following required arguments were not provided:",
            "certslot-fleet agent --server <FQDN> --dir <DIR> --writer-key <KEY> --endpoints <URL,...>",
        ),
        (
            &["rollback", "--type", "OAuthTokenIssuer,Default"][..],
            "error: invalid value 'OAuthTokenIssuer,Default' for '--type <TYPE>': invalid certificate type name \"OAuthTokenIssuer,Default\"",
            "certslot-fleet rollback [OPTIONS] --type <TYPE>",
        ),
        (
            &["jwks"][..],
            "error: the following required arguments were not provided:",
            "certslot-fleet jwks --type <TYPE> --endpoints <URL,...>",
        ),
        (
            &["get", "--cluster", "a/b"][..],
            "error: invalid value 'a/b' for '--cluster <NAME>': invalid cluster name \"a/b\": use 1 to 64 ASCII letters, digits, '-', '_' or '.'",
            "certslot-fleet get [OPTIONS]",
        ),
        (
            &["configure", "--type", "Default", "--staged", "maybe"][..],
            "error: invalid value 'maybe' for '--staged <yes|no>': yes or no",
            "certslot-fleet configure [OPTIONS] --type <TYPE>",
        ),
        (
            &["init", "--sip-domain", "contoso.com", "extra"][..],
            "error: unexpected argument 'extra' found",
            "certslot-fleet init [OPTIONS] --sip-domain <DOMAIN>",
        ),
        (
            &["agent", "--server", "fe01", "--dir", "d", "--lease-ttl=0"][..],
            "error: invalid value '0' for '--lease-ttl <SECONDS>': not a positive number of seconds",
            "certslot-fleet agent [OPTIONS] --server <FQDN> --dir <DIR> --writer-key <KEY>",
        ),
        (
            &["get", "--json", "--scope=pool:"][..],
            "error: invalid value 'pool:' for '--scope <SCOPE>': invalid pool name \"\"",
            "certslot-fleet get [OPTIONS]",
        ),
    ] {
        assert_usage_error(&run(args), args, first, usage);
    }
}

#[test]
fn options_take_their_value_after_an_equals_sign_and_globals_go_anywhere() {
    // The global options before and after the command, in both forms: etcd is asked (exit 4).
    for args in [
        &["--endpoints=http://127.0.0.1:9", "--cluster=prod", "get", "--json"][..],
        &["get", "--type=OAuthTokenIssuer", "--scope=global", "--cluster", "prod", "--json"][..],
    ] {
        let out = run_plain(args);
        assert_eq!(out.status.code(), Some(4), "{args:?}: {}", stderr(&out));
        let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(error["error"]["kind"], "etcd-unavailable");
    }
}

#[test]
fn the_cluster_comes_from_the_environment_and_a_bad_one_is_a_usage_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["get"])
        .env("CERTSLOT_CLUSTER", "a/b")
        .env("CERTSLOT_ETCD_ENDPOINTS", "http://127.0.0.1:9")
        .output()
        .expect("runs");
    assert_usage_error(
        &out,
        &["get"],
        "error: invalid value 'a/b' for '--cluster <NAME>': invalid cluster name \"a/b\": use 1 to 64 ASCII letters, digits, '-', '_' or '.'",
        "certslot-fleet get [OPTIONS]",
    );
}

#[test]
fn a_write_without_the_password_is_refused_before_etcd_is_asked() {
    let out = run_plain(&["init", "--sip-domain", "contoso.com", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "password-required");
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["init", "--sip-domain", "contoso.com", "--password-env", "CERTSLOT_TEST_UNSET_VARIABLE"])
        .args(["--endpoints", "http://127.0.0.1:9", "--insecure-plaintext"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "error: environment variable CERTSLOT_TEST_UNSET_VARIABLE is not set\n");
}

#[test]
fn plain_http_needs_its_flag_and_https_a_ca_file() {
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["get", "--endpoints", "http://127.0.0.1:9"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: etcd endpoint http://127.0.0.1:9 is plain HTTP: traffic unencrypted and unauthenticated; use \
         https:// with a CA file, or allow plaintext explicitly (--insecure-plaintext)\n"
    );
    // The default endpoint is https://, which needs the CA of etcd's certificate.
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["get", "--json"])
        .env_remove("CERTSLOT_ETCD_ENDPOINTS")
        .env_remove("CERTSLOT_ETCD_CA_FILE")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "etcd-configuration");
    assert_eq!(
        error["error"]["message"],
        "etcd endpoint https://127.0.0.1:2379 is https:// but no CA certificate is configured (--ca-file)"
    );
    // A CA file that holds no certificate is refused before etcd is asked.
    let out = Command::new(env!("CARGO_BIN_EXE_certslot-fleet"))
        .args(["get", "--endpoints", "https://127.0.0.1:9", "--ca-file", "Cargo.toml"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(stderr(&out), "error: Cargo.toml: no PEM certificate found\n");
}

#[test]
fn an_unreachable_etcd_exits_4() {
    let out = run_plain(&["get", "--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", stderr(&out));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "etcd-unavailable");
    assert!(error["error"]["message"].as_str().unwrap().starts_with("etcd read: "), "{error}");
}

#[test]
fn agent_key_makes_the_key_pair_once_and_prints_its_fingerprint() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = std::env::temp_dir().join(format!("certslot-cli-agent-key-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_text = dir.to_str().unwrap();
    // No etcd is asked: no endpoint, TLS or password settings are needed.
    let out = run(&["agent-key", "--dir", dir_text, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["made"], true);
    let public = first["public_key"].as_str().unwrap();
    assert!(public.starts_with("xwing:") && public.len() == 6 + 1624, "{public}");
    assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
    let key_file = dir.join(".certslot-agent-key");
    assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    // Again: the same key, not made now; the text form is the key and its fingerprint.
    let out = run(&["agent-key", "--dir", dir_text]);
    let fingerprint = first["fingerprint"].as_str().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), format!("{public}\n{fingerprint}\n"));
    // The fingerprint is OpenSSH's form: SHA-256 of the key's bytes, unpadded Base64.
    let script = "import base64,hashlib,sys; k=base64.b64decode(sys.argv[1][6:]); \
                  print('SHA256:'+base64.b64encode(hashlib.sha256(k).digest()).decode().rstrip('='))";
    let python = Command::new("python3").args(["-c", script, public]).output().expect("python3 runs");
    assert_eq!(String::from_utf8_lossy(&python.stdout).trim(), fingerprint);
    let _ = std::fs::remove_dir_all(&dir);
}
