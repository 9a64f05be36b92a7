//! The attack matrix of issue 17 that etcd's access control answers, against an etcd with TLS,
//! `--client-cert-auth` and authentication on (the harness's default), the cluster's roles set
//! up by `certslot-fleet access setup`: each case a refusal with its exact error.

mod common;

use std::time::Duration;

use certslot_etcd::{ConnectOptions, Connection, EtcdError, Tls};
use common::*;

const FE01: &str = "fe01.contoso.com";
const FE02: &str = "fe02.contoso.com";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn connect(etcd: &Etcd, options: ConnectOptions) -> Connection {
    Connection::connect(&[etcd.endpoint()], options.request_timeout(Duration::from_secs(3))).await.unwrap()
}

/// One read of `key` through the connection's failover (`Connection::call`'s errors).
async fn read(conn: &Connection, key: &str) -> Result<(), EtcdError> {
    let mut client = conn.client();
    client.get(key, None).await.map(|_| ()).map_err(|e| EtcdError::from_client("read", e))
}

/// Reads until etcd's refusal arrives as its alert: with TLS 1.3 etcd checks the client's
/// certificate after the client finished its handshake, and its alert races the connection's
/// close, so an attempt may see the connection reset instead (an unreachable etcd, retried).
fn refusal(rt: &tokio::runtime::Runtime, conn: &Connection) -> EtcdError {
    for _ in 0..20 {
        match rt.block_on(read(conn, "/certslot/x/state")) {
            Ok(()) => panic!("etcd answered"),
            Err(e @ EtcdError::TlsRejected { .. }) => return e,
            Err(e) => assert!(e.is_retryable(), "{e:?}"),
        }
    }
    panic!("no TLS refusal in 20 attempts")
}

#[test]
fn clients_without_a_trusted_certificate_are_refused_in_the_handshake() {
    let etcd = Etcd::start();
    let rt = runtime();
    let pki = Pki::shared();
    // No client certificate.
    let anonymous = Tls::from_files(&pki.ca_file(), None, None).unwrap();
    let conn = rt.block_on(connect(&etcd, ConnectOptions::default().tls(anonymous)));
    let e = refusal(&rt, &conn);
    assert_eq!(e.to_string(), "etcd read: TLS handshake refused (received fatal alert: BadCertificate)");
    // A client certificate from another CA, with a common name etcd knows.
    let other = Pki::other().client(ROOT);
    let foreign = Tls::from_files(&pki.ca_file(), Some(&other.cert), Some(&other.key)).unwrap();
    let conn = rt.block_on(connect(&etcd, ConnectOptions::default().tls(foreign)));
    let e = refusal(&rt, &conn);
    assert_eq!(e.to_string(), "etcd read: TLS handshake refused (received fatal alert: BadCertificate)");
    // Plain HTTP: refused by the client unless asked for by name...
    let plain = format!("http://{}", etcd.endpoint().trim_start_matches("https://"));
    let e = rt
        .block_on(Connection::connect(std::slice::from_ref(&plain), ConnectOptions::default()))
        .unwrap_err();
    assert!(matches!(&e, EtcdError::PlaintextRefused { endpoint } if *endpoint == plain), "{e:?}");
    // ... and by etcd when asked for: the TLS port drops it.
    let options = ConnectOptions::default().insecure_plaintext(true).request_timeout(Duration::from_secs(3));
    let conn = rt.block_on(Connection::connect(&[plain], options)).unwrap();
    let e = rt.block_on(read(&conn, "/certslot/x/state")).unwrap_err();
    assert!(matches!(e, EtcdError::Unavailable { what: "read", .. }), "{e:?}");

    // The command line without a certificate: exit 8 with the refusal when etcd's alert arrives;
    // when the connection's reset overtakes the alert it cannot tell, exit 4. Never an answer.
    let fleet = Fleet::new(&etcd, "tls");
    let mut refused = None;
    for _ in 0..20 {
        let out = fleet
            .command_as(ADMIN)
            .env_remove("CERTSLOT_ETCD_CERT_FILE")
            .env_remove("CERTSLOT_ETCD_KEY_FILE")
            .args(["get", "--json"])
            .output()
            .unwrap();
        let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        match out.status.code() {
            Some(8) => {
                refused = Some(error);
                break;
            }
            Some(4) => assert_eq!(error["error"]["kind"], "etcd-unavailable"),
            code => panic!("exit {code:?}: {error}"),
        }
    }
    let error = refused.expect("etcd's alert reached the client once in 20 runs");
    assert_eq!(error["error"]["kind"], "etcd-tls-rejected");
    assert_eq!(
        error["error"]["message"],
        "etcd read: TLS handshake refused (received fatal alert: BadCertificate)"
    );
}

#[test]
fn an_etcd_certificate_for_another_name_is_refused_by_the_client() {
    let etcd = Etcd::start_named("etcd.fabrikam.com");
    let rt = runtime();
    let conn = rt.block_on(connect(&etcd, options_as(ROOT)));
    let e = rt.block_on(read(&conn, "/certslot/x/state")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "etcd read: TLS handshake refused (invalid peer certificate: certificate not valid for name \"127.0.0.1\"; \
         certificate is only valid for DnsName(\"etcd.fabrikam.com\"))"
    );
    // The same certificate is accepted when the name it holds is the one asked for.
    let pki = Pki::shared();
    let root = pki.client(ROOT);
    let tls = Tls::from_files(&pki.ca_file(), Some(&root.cert), Some(&root.key))
        .unwrap()
        .server_name("etcd.fabrikam.com");
    let conn = rt.block_on(connect(&etcd, ConnectOptions::default().tls(tls)));
    rt.block_on(read(&conn, "/certslot/x/state")).unwrap();
}

fn permission_denied(result: Result<impl std::fmt::Debug, etcd_client::Error>) {
    let e = EtcdError::from_client("request", result.unwrap_err());
    assert!(
        matches!(&e, EtcdError::PermissionDenied { message, .. } if message == "etcdserver: permission denied"),
        "{e:?}"
    );
}

#[test]
fn an_agent_may_touch_only_its_own_report_and_lease() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "acc");
    fleet.setup(&[FE01, FE02]);
    fleet.import(&file_a());
    fleet.ok(&["set", "--type", "OAuthTokenIssuer", "--thumbprint", CERT_A]);
    let _fe02 = fleet.agent(FE02);
    fleet.wait("fe02 holds the certificate", Duration::from_secs(20), || {
        fleet.held(FE02) == set_of(&[CERT_A])
    });
    fleet.grant(&["--agent", FE01]);
    let cluster = certslot_etcd::Cluster::new("acc").unwrap();
    let rt = runtime();
    let root = rt.block_on(connect(&etcd, options_as(ROOT)));
    let fe02_key = cluster.server_key(FE02);
    let report = rt.block_on(root.client().get(fe02_key.as_str(), None)).unwrap();
    let lease = report.kvs()[0].lease();
    assert_ne!(lease, 0, "fe02's report is under its lease");

    let agent = rt.block_on(connect(&etcd, options_as(FE01)));
    let mut client = agent.client();
    rt.block_on(async {
        // Its own report: yes. Its own delivery: read only. The state: neither read nor written.
        client.put(cluster.server_key(FE01), "{}", None).await.unwrap();
        client.get(cluster.delivery_key(FE01), None).await.unwrap();
        permission_denied(client.put(cluster.delivery_key(FE01), "{}", None).await);
        permission_denied(client.get(cluster.state_key(), None).await);
        permission_denied(client.put(cluster.state_key(), "{}", None).await);
        // Another server's delivery: not read.
        permission_denied(client.get(cluster.delivery_key(FE02), None).await);
        // Another server's report: neither read nor written; its lease not revoked.
        permission_denied(client.get(fe02_key.as_str(), None).await);
        permission_denied(client.put(fe02_key.as_str(), "{}", None).await);
        permission_denied(client.lease_revoke(lease).await);
        // Nor the election, the receipts or another cluster.
        permission_denied(client.put(cluster.coordinator_key(), "me", None).await);
        permission_denied(client.put("/certslot/acc/ops/x", "1", None).await);
        permission_denied(client.get("/certslot/other/state", None).await);
    });
    // fe02 still reports: its lease lives.
    let report = rt.block_on(root.client().get(fe02_key.as_str(), None)).unwrap();
    assert_eq!(report.kvs()[0].lease(), lease);
}

#[test]
fn the_reader_reads_the_admin_writes_and_only_root_sets_up_access() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "roles");
    fleet.setup(&[FE01]);
    // The reader: every read command, no write.
    for read in [&["get"][..], &["drift"], &["plan"], &["topology", "show"]] {
        let out = fleet.cli_as(READER, read);
        assert!(out.status.success(), "{read:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let out = fleet.cli_as(READER, &["topology", "add-site", "paris", "--json"]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(error["error"]["kind"], "etcd-permission-denied");
    // A user with no role of this cluster.
    let out = fleet.cli_as("mallory", &["get", "--json"]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
    // The admin may not change etcd's roles: that takes etcd's root.
    let out = fleet.cli_as(ADMIN, &["access", "setup", "--admin", "mallory", "--json"]);
    assert_eq!(out.status.code(), Some(5), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn access_setup_makes_exact_roles_and_repairs_a_widened_one() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "setup");
    let out = fleet
        .cli_as(ROOT, &["access", "setup", "--agent", "FE01.contoso.com", "--coordinator", "c1", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(done["roles_created"], serde_json::json!(["certslot:setup:agent:fe01.contoso.com"]));
    assert_eq!(
        done["granted"],
        serde_json::json!([
            "certslot:setup:agent:fe01.contoso.com: read /certslot/setup/deliveries/fe01.contoso.com",
            "certslot:setup:agent:fe01.contoso.com: readwrite /certslot/setup/servers/fe01.contoso.com",
        ])
    );
    assert_eq!(done["users_created"], serde_json::json!(["c1", "FE01.contoso.com"]));
    assert_eq!(
        done["roles_granted"],
        serde_json::json!([
            "c1: certslot:setup:coordinator",
            "FE01.contoso.com: certslot:setup:agent:fe01.contoso.com"
        ])
    );
    // Again: nothing to do.
    let out = fleet.cli_as(ROOT, &["access", "setup", "--agent", "FE01.contoso.com", "--coordinator", "c1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "access already as asked\n");

    // Someone widens the agent's role by hand; the next setup takes it back.
    let rt = runtime();
    let root = rt.block_on(connect(&etcd, options_as(ROOT)));
    let role = "certslot:setup:agent:fe01.contoso.com";
    let widened = etcd_client::Permission::read_write("/certslot/setup/").with_prefix();
    rt.block_on(root.client().auth_client().role_grant_permission(role, widened)).unwrap();
    let agent = rt.block_on(connect(&etcd, options_as("FE01.contoso.com")));
    rt.block_on(agent.client().put("/certslot/setup/state", "{}", None)).unwrap();
    let out = fleet.cli_as(ROOT, &["access", "setup", "--agent", "FE01.contoso.com", "--json"]);
    let done: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        done["revoked"],
        serde_json::json!([
            "certslot:setup:agent:fe01.contoso.com: readwrite [/certslot/setup/, /certslot/setup0)"
        ])
    );
    permission_denied(rt.block_on(agent.client().put("/certslot/setup/state", "{}", None)));
}

/// A coordinator may record reports and advance the store, not change the topology, enrol
/// agents or import: its etcd role cannot write the admins' seal, which every admin write
/// carries, and a state whose topology the seal does not vouch for is refused by every writer.
#[test]
fn a_coordinator_cannot_change_the_topology_enrol_or_import() {
    let etcd = Etcd::start();
    let fleet = Fleet::new(&etcd, "limits");
    fleet.setup(&[FE01]);
    fleet.grant(&["--coordinator", "c1"]);
    let revision = || fleet.json(&["get"])["revision"].as_u64().unwrap();
    let before = revision();
    let key = fleet.agent_key(FE01);
    let import = ["import", &file_a(), "--type", "OAuthTokenIssuer", "--pfx-password-env", "PFX_PASSWORD"];
    let refused: [&[&str]; 3] =
        [&["topology", "add-site", "paris"], &["topology", "enrol", FE01, "--agent-key", &key], &import];
    for args in refused {
        let out = fleet.cli_as("c1", &[args, &["--json"]].concat());
        assert_eq!(out.status.code(), Some(5), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(error["error"]["kind"], "etcd-permission-denied", "{args:?}");
    }
    assert_eq!(revision(), before, "nothing written");

    // Through the library, a coordinator's store refuses such an update before writing.
    let rt = runtime();
    let conn = rt.block_on(connect(&etcd, options_as("c1")));
    let cluster = certslot_etcd::Cluster::new("limits").unwrap();
    let store = certslot_etcd::EtcdStore::new(conn, cluster.clone(), Some(certslot::Password::new(PASSWORD)))
        .for_coordinator();
    let error = rt.block_on(store.update(|s| s.add_site("paris"))).unwrap_err();
    assert!(
        matches!(error, certslot_etcd::UpdateError::State(certslot_etcd::StateError::AdminOnly)),
        "{error:?}"
    );

    // A topology change the seal does not vouch for (the state an admin wrote, the seal put
    // back as it was before, as a coordinator's own write of the state would leave it): every
    // writer refuses the state.
    let root = rt.block_on(connect(&etcd, options_as(ROOT)));
    let old_seal =
        rt.block_on(root.client().get(cluster.admin_key(), None)).unwrap().kvs()[0].value().to_vec();
    fleet.ok(&["topology", "add-site", "paris"]);
    rt.block_on(root.client().put(cluster.admin_key(), old_seal, None)).unwrap();
    let out = fleet.cli(&["topology", "add-site", "dublin", "--json"]);
    let error: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(
        error["error"]["message"],
        "the state's admin seal at /certslot/limits/admin is refused: the state's topology or enrolled agents are \
         not the ones an admin wrote"
    );
    let error = rt.block_on(store.update(|s| s.add_site("lyon"))).unwrap_err();
    assert!(
        matches!(error, certslot_etcd::UpdateError::State(certslot_etcd::StateError::AdminSeal { .. })),
        "{error:?}"
    );
}
