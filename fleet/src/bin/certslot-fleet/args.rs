//! The command line, on `clap`'s derive API: global options (before or after the command, with
//! environment fallbacks), one subcommand per command with its own options. Every value is
//! parsed into its typed value here, so a bad one is a usage error naming its option.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use certslot::policy::RenewalWindow;
use certslot::publish::MetadataForm;
use certslot::{CertType, OffsetDateTime, Scope, Thumbprint};
use certslot_etcd::{Cluster, PasswordSource};
use clap::builder::StyledStr;
use clap::error::{ContextKind, ContextValue};
use clap::{ArgAction, Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use time::format_description::well_known::Rfc3339;

/// The help's layout: the usage first (what `.ci/run` checks), then the description.
const HELP_TEMPLATE: &str = "\
{usage-heading} {usage}

{about-with-newline}
{all-args}{after-help}";

/// After the help: value formats and exit codes.
const AFTER_HELP: &str = "\
SCOPE is global (default), site:NAME or pool:FQDN. Instants are RFC 3339.

Exit status: 0 done; 1 refused or failed; 2 usage error; 3 the state is missing or refused (it
is left as it is); 4 etcd unreachable (or, for a write, its outcome unknown); 5 etcd denied the
request (the user's roles); 6 etcd did not authenticate the user; 7 the request is too large for
etcd; 8 the TLS handshake with etcd failed (a certificate refused by either side). A bad etcd
connection setting (plain http:// without --insecure-plaintext, https:// without --ca-file, an
unreadable certificate or key) is a usage error.";

/// certslot's certificate store shared through etcd: admin commands (each one compare-and-swap
/// update of /certslot/<cluster>/state), the front-end agent, and the coordinator.
#[derive(Parser)]
#[command(name = "certslot-fleet", version, help_template = HELP_TEMPLATE, after_help = AFTER_HELP)]
#[command(max_term_width = 100)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// The global options as given.
#[derive(Args)]
struct GlobalArgs {
    /// etcd's endpoints
    #[arg(
        long,
        global = true,
        env = "CERTSLOT_ETCD_ENDPOINTS",
        value_name = "URL,...",
        value_delimiter = ',',
        default_value = "https://127.0.0.1:2379",
        value_parser = endpoint
    )]
    endpoints: Vec<String>,
    /// The CA certificates (PEM) that etcd's server certificate must chain to
    #[arg(long, global = true, env = "CERTSLOT_ETCD_CA_FILE", value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// The client certificate (PEM) to authenticate with; its common name is the etcd user
    #[arg(long, global = true, env = "CERTSLOT_ETCD_CERT_FILE", value_name = "FILE", requires = "key_file")]
    cert_file: Option<PathBuf>,
    /// The client certificate's private key (PEM, mode 0600)
    #[arg(long, global = true, env = "CERTSLOT_ETCD_KEY_FILE", value_name = "FILE", requires = "cert_file")]
    key_file: Option<PathBuf>,
    /// The name etcd's certificate must have (default: the endpoint's host)
    #[arg(long, global = true, env = "CERTSLOT_ETCD_SERVER_NAME", value_name = "NAME")]
    server_name: Option<String>,
    /// Allow plain http:// endpoints: unencrypted and unauthenticated, anyone on the path
    /// reads and writes the fleet's state; for a test etcd on loopback only
    #[arg(long, global = true, env = "CERTSLOT_ETCD_INSECURE_PLAINTEXT")]
    insecure_plaintext: bool,
    /// The cluster
    #[arg(long, global = true, env = "CERTSLOT_CLUSTER", value_name = "NAME", default_value = "default", value_parser = cluster)]
    cluster: Cluster,
    /// The password of the state's private keys, from the environment variable VAR (default:
    /// CERTSLOT_PASSWORD when it is set)
    #[arg(long, global = true, value_name = "VAR", conflicts_with = "password_file")]
    password_env: Option<String>,
    /// The password, from the first line of FILE (mode 0600)
    #[arg(long, global = true, value_name = "FILE")]
    password_file: Option<PathBuf>,
    /// The instant of an admin command (default: the system clock); for an agent or a
    /// coordinator, the instant its clock starts at
    #[arg(long, global = true, value_name = "RFC3339", value_parser = instant)]
    now: Option<OffsetDateTime>,
    /// Machine output: one JSON document; agent and coordinator: JSON lines of logs
    #[arg(long, global = true)]
    json: bool,
}

/// Options of every command.
pub struct Global {
    pub endpoints: Vec<String>,
    pub etcd_tls: EtcdTls,
    pub cluster: Cluster,
    pub password: Option<PasswordSource>,
    pub now: Option<OffsetDateTime>,
    pub json: bool,
}

/// How to reach etcd securely, as given: read when the connection is made.
pub struct EtcdTls {
    pub ca_file: Option<PathBuf>,
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub server_name: Option<String>,
    pub insecure_plaintext: bool,
}

/// The slots of `set` and `roll`: their types (one or more) and scope.
#[derive(Args)]
pub struct SlotArgs {
    /// The certificate types, comma-separated
    #[arg(long = "type", value_name = "TYPE,...", required = true, value_delimiter = ',', value_parser = cert_type)]
    pub types: Vec<CertType>,
    /// The scope
    #[arg(long, value_name = "SCOPE", default_value = "global", value_parser = scope)]
    pub scope: Scope,
}

/// The slot of a one-type command: its type and scope.
#[derive(Args)]
pub struct OneSlot {
    /// The certificate type
    #[arg(long = "type", value_name = "TYPE", value_parser = cert_type)]
    pub cert_type: CertType,
    /// The scope
    #[arg(long, value_name = "SCOPE", default_value = "global", value_parser = scope)]
    pub scope: Scope,
}

/// A type (optional) and a scope, for the views of one slot or of all.
#[derive(Args)]
pub struct SlotFilter {
    /// The certificate type (default: every type)
    #[arg(long = "type", value_name = "TYPE", value_parser = cert_type)]
    pub cert_type: Option<CertType>,
    /// The scope
    #[arg(long, value_name = "SCOPE", default_value = "global", value_parser = scope)]
    pub scope: Scope,
}

/// The switches of `set` and `roll`.
#[derive(Args)]
pub struct RollSwitches {
    /// Replace a roll already scheduled, or skip the staging gate
    #[arg(long)]
    pub force: bool,
    /// Accept a certificate the type's policy refuses
    #[arg(long)]
    pub ignore_policy: bool,
}

/// What the command line asks for.
#[derive(Subcommand)]
pub enum Command {
    /// Create the cluster's state
    Init {
        /// The SIP domain
        #[arg(long, value_name = "DOMAIN")]
        sip_domain: String,
        /// Rolls of TYPE wait until every server of the scope holds the new certificate
        /// (repeatable)
        #[arg(long, value_name = "TYPE", value_parser = cert_type)]
        staged: Vec<CertType>,
    },
    /// Turn a type's staging gate on or off
    Configure {
        /// The certificate type
        #[arg(long = "type", value_name = "TYPE", value_parser = cert_type)]
        cert_type: CertType,
        /// yes: rolls wait until every server of the scope holds the new certificate
        #[arg(long, value_name = "yes|no", value_parser = yes_no, action = ArgAction::Set)]
        staged: Option<bool>,
        /// Rolls wait until this partner has fetched a key set announcing the new certificate,
        /// up to the roll's last compliant instant (repeatable; replaces the list)
        #[arg(long = "require-partner", value_name = "NAME")]
        require_partners: Vec<String>,
        /// Rolls wait for no partner
        #[arg(long, conflicts_with = "require_partners")]
        no_partner_gate: bool,
        /// Unattended renewals and rolls only inside this recurring window, e.g.
        /// "Mon-Fri 02:00-05:00 +01:00" (days, start-end, UTC offset); refused when it could
        /// leave a gap
        #[arg(long, value_name = "WINDOW", value_parser = renewal_window)]
        renewal_window: Option<RenewalWindow>,
        /// Renewals and rolls at any time
        #[arg(long, conflicts_with = "renewal_window")]
        no_renewal_window: bool,
        #[command(flatten)]
        acme: AcmeArgs,
    },
    /// Partners: verifiers that fetch the keys through a URL of their own
    #[command(subcommand)]
    Partners(Partners),
    /// Sites, pools and servers
    #[command(subcommand)]
    Topology(Topology),
    /// etcd's access control for the cluster: roles, users (client-certificate common names)
    #[command(subcommand)]
    Access(Access),
    /// Add a PFX (certificate and key) after checking it with the type's policy
    /// (Import-CsCertificate); its password: --pfx-password-env or --pfx-password-file, else
    /// the state's password
    Import {
        /// The PFX file
        #[arg(value_name = "FILE")]
        file: PathBuf,
        #[command(flatten)]
        slot: OneSlot,
        /// The PFX's password, from the environment variable VAR
        #[arg(long, value_name = "VAR", conflicts_with = "pfx_password_file")]
        pfx_password_env: Option<String>,
        /// The PFX's password, from the first line of FILE
        #[arg(long, value_name = "FILE")]
        pfx_password_file: Option<PathBuf>,
        /// Accept a certificate the type's policy refuses
        #[arg(long)]
        ignore_policy: bool,
    },
    /// Make a certificate current now (Set-CsCertificate)
    Set {
        #[command(flatten)]
        slot: SlotArgs,
        /// The certificate's SHA-1 thumbprint
        #[arg(long, value_name = "X", value_parser = thumbprint)]
        thumbprint: Thumbprint,
        #[command(flatten)]
        switches: RollSwitches,
    },
    /// Schedule a certificate to become current at an instant (Set-CsCertificate -Roll)
    Roll {
        #[command(flatten)]
        slot: SlotArgs,
        /// The certificate's SHA-1 thumbprint
        #[arg(long, value_name = "X", value_parser = thumbprint)]
        thumbprint: Thumbprint,
        /// When the certificate becomes current
        #[arg(long = "effective-date", value_name = "RFC3339", value_parser = instant)]
        effective: OffsetDateTime,
        #[command(flatten)]
        switches: RollSwitches,
    },
    /// Cancel the slot's scheduled roll
    CancelRoll(OneSlot),
    /// Forget the slot's previous certificate
    RemovePrevious(OneSlot),
    /// Make the slot's previous certificate current again
    Rollback(OneSlot),
    /// Record the agents' live reports and apply what is due (one step of the coordinator)
    Advance,
    /// The Get-CsCertificate view (every type when --type is not given)
    Get(SlotFilter),
    /// Each server against its agent's live report (no report: unreported), and the due rolls
    /// still waiting, with the servers they wait for
    Drift,
    /// The dry run of the next days of one slot, or of all
    Timeline {
        #[command(flatten)]
        filter: SlotFilter,
        /// How many days
        #[arg(long, value_name = "N", default_value_t = 3650)]
        days: u32,
    },
    /// What the rollover planner says each slot needs now, and when the plan next changes
    Plan,
    /// Renew the slot's current certificate now with a self-signed one, rolled in at the
    /// planned date (refused before renewal is due or outside the type's renewal window, unless
    /// --force); or cancel the renewal in progress (--cancel)
    Renew {
        #[command(flatten)]
        slot: OneSlot,
        /// Renew now whatever the planner says (before renewal is due, outside the renewal
        /// window); the roll's date is still planned
        #[arg(long)]
        force: bool,
        /// Drop the renewal in progress (its key and ACME order): a coordinator with --renew
        /// starts another when the plan says so
        #[arg(long, conflicts_with = "force")]
        cancel: bool,
    },
    /// The JWK Set (RFC 7517) of the keys verifiers must trust now
    Jwks(OneSlot),
    /// The same keys as the /metadata/json/1 authorization metadata document
    Metadata {
        #[command(flatten)]
        slot: OneSlot,
        /// The service whose document it is
        #[arg(long = "service", value_name = "lync|exchange", default_value = "lync", value_parser = service, action = ArgAction::Set)]
        exchange: bool,
    },
    /// Print the state value as stored (its private keys stay encrypted)
    Export,
    /// Move a state written by an earlier release to the authenticated layout (MAC'd state,
    /// per-server deliveries); nothing is written when it has it already
    Upgrade,
    /// Print the writers' public key (derived from the password), which each agent is given
    /// with --writer-key; no etcd is asked
    WriterKey,
    /// Replace the state, even a corrupt one, with a saved state (checked with the password
    /// before it is written)
    Restore {
        /// The saved state
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Keep DIR holding what the server must hold (one <THUMBPRINT>.pfx each, mode 0600) and
    /// report it under a lease; logs on stdout
    Agent {
        /// The server's FQDN
        #[arg(long, value_name = "FQDN")]
        server: String,
        /// The directory of the server's PFX files
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The lease of its report, in seconds (default 10)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        lease_ttl: Option<Duration>,
        /// How often it reads the whole state again, in seconds
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        resync: Option<Duration>,
        /// The password of the files it writes, from the environment variable VAR
        #[arg(long, value_name = "VAR", conflicts_with = "file_password_file")]
        file_password_env: Option<String>,
        /// The password of the files it writes, from the first line of FILE
        #[arg(long, value_name = "FILE")]
        file_password_file: Option<PathBuf>,
        /// The writers' public key, as `certslot-fleet writer-key` prints it: the agent accepts
        /// only deliveries signed with it
        #[arg(long, value_name = "KEY", env = "CERTSLOT_WRITER_KEY")]
        writer_key: String,
        /// Serve /metrics (Prometheus) and /healthz over plain HTTP on this address
        #[arg(long, value_name = "ADDRESS:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
    /// Serve the keys verifiers must trust (/.well-known/jwks.json, /metadata/json/1) and
    /// /healthz, /readyz over HTTPS, from states the writers signed; needs only the read-only
    /// role and no fleet password; logs on stdout
    Serve {
        /// The address to listen on
        #[arg(long, value_name = "ADDRESS:PORT", default_value = "127.0.0.1:8443")]
        listen: std::net::SocketAddr,
        /// The server's certificate chain (PEM, leaf first), reloaded when it changes
        #[arg(long, value_name = "FILE", requires = "tls_key", required_unless_present = "plain_http")]
        tls_cert: Option<PathBuf>,
        /// The server's private key (PEM), reloaded when it changes
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Ask clients for a certificate this CA (PEM) issued (optional mutual TLS): a partner
        /// added with --client-cert is known by its certificate at the public paths
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        client_ca: Option<PathBuf>,
        /// How often the certificate files are checked for a change, in seconds (default 10)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        tls_reload: Option<Duration>,
        /// Plain HTTP instead of HTTPS, for a reverse proxy on this host: only on a loopback
        /// address
        #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
        plain_http: bool,
        /// The writers' public key, as `certslot-fleet writer-key` prints it: only states signed
        /// with it are served
        #[arg(long, value_name = "KEY", env = "CERTSLOT_WRITER_KEY")]
        writer_key: String,
        /// The type served without ?type=
        #[arg(long = "type", value_name = "TYPE", default_value = "OAuthTokenIssuer", value_parser = cert_type)]
        cert_type: CertType,
        /// The service whose /metadata/json/1 document it is
        #[arg(long = "service", value_name = "lync|exchange", default_value = "lync", value_parser = service, action = ArgAction::Set)]
        exchange: bool,
        /// How often a partner that keeps fetching the same keys is recorded again in etcd, in
        /// seconds (default 300; a new set of keys is recorded at once)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        fetch_record_every: Option<Duration>,
        /// How /metadata/json/1 writes its keys: Exchange's form, or SharePoint's and ACS's
        #[arg(long, value_name = "exchange|sharepoint", default_value = "exchange", value_parser = metadata_form)]
        metadata_form: MetadataForm,
        /// Also answer ACME http-01 challenges (/.well-known/acme-challenge/TOKEN) over plain
        /// HTTP on this address (port 80 behind the servers' names), from the answers the
        /// coordinator publishes
        #[arg(long, value_name = "ADDRESS:PORT")]
        acme_http_listen: Option<std::net::SocketAddr>,
    },
    /// Print an agent's public key and its fingerprint, making the key pair first if its
    /// directory has none (as the agent does at its first start); no etcd is asked
    AgentKey {
        /// The agent's directory
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
    /// One at a time (elected): feed the agents' reports into the store and advance it when
    /// changes are due; logs on stdout
    Coordinator {
        /// Its name in the election (default: host name and process id)
        #[arg(long, value_name = "NAME")]
        id: Option<String>,
        /// The lease of its leadership, in seconds
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        lease_ttl: Option<Duration>,
        /// How often it reads the whole state again, in seconds
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        resync: Option<Duration>,
        /// Also renew what the rollover planner says is due: through the type's ACME CA when
        /// it has one (configure --acme-directory), else with self-signed certificates
        #[arg(long)]
        renew: bool,
        /// The longest wait between two attempts of a failing ACME renewal, in seconds
        /// (default 300; the wait doubles from one second)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        acme_retry_cap: Option<Duration>,
        /// A failing ACME renewal in progress for this long raises a critical alert, in
        /// seconds (default 3600)
        #[arg(long, value_name = "SECONDS", value_parser = seconds)]
        acme_alert_after: Option<Duration>,
        /// Serve /metrics (Prometheus) and /healthz over plain HTTP on this address
        #[arg(long, value_name = "ADDRESS:PORT")]
        metrics_listen: Option<std::net::SocketAddr>,
    },
}

/// `configure`'s ACME settings: where the type's unattended renewals get their certificates.
#[derive(clap::Args)]
pub struct AcmeArgs {
    /// Renew through this ACME CA (its directory URL, https)
    #[arg(long, value_name = "URL", requires = "acme_root")]
    pub acme_directory: Option<String>,
    /// The CA's root certificates (PEM): the only roots its HTTPS server is trusted with
    #[arg(long, value_name = "FILE", requires = "acme_directory")]
    pub acme_root: Option<PathBuf>,
    /// A contact for the ACME account, e.g. mailto:certs@contoso.com (repeatable)
    #[arg(long, value_name = "URL", requires = "acme_directory")]
    pub acme_contact: Vec<String>,
    /// The challenge answered: http-01 (by `serve --acme-http-listen`) or dns-01 (RFC 2136
    /// updates: --dns-server, --dns-zone, --tsig-key-file)
    #[arg(long, value_name = "http-01|dns-01", default_value = "http-01", requires = "acme_directory")]
    pub acme_challenge: certslot_etcd::acme::ChallengeKind,
    /// dns-01: the zone's primary server, which takes the updates
    #[arg(long, value_name = "ADDRESS:PORT", requires_all = ["dns_zone", "tsig_key_file"])]
    pub dns_server: Option<std::net::SocketAddr>,
    /// dns-01: the zone updated (its apex), which holds the certificate's names
    #[arg(long, value_name = "ZONE", requires = "dns_server")]
    pub dns_zone: Option<String>,
    /// dns-01: the TSIG key the updates are signed with, as BIND's tsig-keygen writes it
    #[arg(long, value_name = "FILE", requires = "dns_server")]
    pub tsig_key_file: Option<PathBuf>,
    /// The external account binding's key identifier, for CAs that require one
    #[arg(long, value_name = "KID", requires_all = ["acme_directory", "acme_eab_key_file"])]
    pub acme_eab_kid: Option<String>,
    /// The file holding the binding's HMAC key (base64url, as CAs hand it out)
    #[arg(long, value_name = "FILE", requires = "acme_eab_kid")]
    pub acme_eab_key_file: Option<PathBuf>,
    /// Renew without ACME again (self-signed)
    #[arg(long, conflicts_with = "acme_directory")]
    pub no_acme: bool,
}

/// The access subcommands.
#[derive(Subcommand)]
pub enum Access {
    /// Create or repair the cluster's roles (admin, coordinator, reader, one per agent) with
    /// exactly their permissions, create the users (no password: client certificate only) and
    /// grant them their roles; as a user with etcd's root role
    Setup {
        /// A user with the admin role (every command) (repeatable)
        #[arg(long = "admin", value_name = "USER")]
        admins: Vec<String>,
        /// A user with the coordinator role (no topology change, no import) (repeatable)
        #[arg(long = "coordinator", value_name = "USER")]
        coordinators: Vec<String>,
        /// A user with the read-only role (repeatable)
        #[arg(long = "reader", value_name = "USER")]
        readers: Vec<String>,
        /// A user with the key server's role: read-only, and it records partners' fetches
        /// (repeatable)
        #[arg(long = "key-server", value_name = "USER")]
        key_servers: Vec<String>,
        /// A server's agent: its own role; USER defaults to the server's name (repeatable)
        #[arg(long = "agent", value_name = "SERVER[=USER]", value_parser = agent_user)]
        agents: Vec<(String, String)>,
        /// Also create the user root (client certificate with common name root) with the root
        /// role and turn etcd's authentication on
        #[arg(long)]
        enable_auth: bool,
    },
}

/// Partner commands.
#[derive(Subcommand)]
pub enum Partners {
    /// Each partner, when it last fetched the keys, and whether that fetch announced each
    /// pending certificate
    Show,
    /// Add a partner (or give it a new URL, revoking the old one): prints its URL path on the
    /// key server, /p/<token>/jwks.json and /p/<token>/metadata/json/1, once; with
    /// --client-cert, the partner is known by that certificate instead (mutual TLS)
    Add {
        #[arg(value_name = "NAME")]
        name: String,
        /// The partner's client certificate (PEM): its fetches at the public paths count
        #[arg(long, value_name = "FILE")]
        client_cert: Option<PathBuf>,
    },
    /// Remove a partner (refused while a type's rolls wait for it)
    Remove {
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// Topology commands.
#[derive(Subcommand)]
pub enum Topology {
    /// Add a site
    AddSite {
        #[arg(value_name = "SITE")]
        site: String,
    },
    /// Add a pool to a site
    AddPool {
        #[arg(value_name = "POOL")]
        pool: String,
        /// The pool's site
        #[arg(long, value_name = "SITE")]
        site: String,
    },
    /// Add a server to a pool
    AddServer {
        #[arg(value_name = "FQDN")]
        server: String,
        /// The server's pool
        #[arg(long, value_name = "POOL")]
        pool: String,
        /// Also enrol its agent's public key (as `certslot-fleet agent-key` prints it on the
        /// server: compare the fingerprint this command prints with the one shown there)
        #[arg(long, value_name = "KEY")]
        agent_key: Option<String>,
    },
    /// Enrol (or replace) the public key of a server's agent: the server is handed what it must
    /// hold, sealed to that key; compare the fingerprint printed with the one the agent shows
    Enrol {
        #[arg(value_name = "FQDN")]
        server: String,
        /// The agent's public key, as `certslot-fleet agent-key` prints it
        #[arg(long, value_name = "KEY")]
        agent_key: String,
    },
    /// Remove a site
    RemoveSite {
        #[arg(value_name = "SITE")]
        site: String,
    },
    /// Remove a pool
    RemovePool {
        #[arg(value_name = "POOL")]
        pool: String,
    },
    /// Remove a server
    RemoveServer {
        #[arg(value_name = "FQDN")]
        server: String,
    },
    /// Print the sites, pools and servers
    Show,
}

/// Reads the command line and the environment.
///
/// # Errors
///
/// A usage error, or the request for the help or the version (`clap::Error::use_stderr` is false).
pub fn parse() -> Result<(Global, Command), clap::Error> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut command = Cli::command();
    let matches = match command.try_get_matches_from_mut(&args) {
        Ok(matches) => matches,
        Err(mut e) => {
            // clap gives the usage with some usage errors only (not with a bad value): every
            // usage error ends with the usage of the command it is about.
            if e.use_stderr() && e.get(ContextKind::Usage).is_none() {
                command.build();
                let path: Vec<&str> = args.iter().skip(1).filter_map(|a| a.to_str()).collect();
                e.insert(ContextKind::Usage, ContextValue::StyledStr(usage_at(&mut command, &path)));
            }
            return Err(e);
        }
    };
    let cli = Cli::from_arg_matches(&matches).map_err(|e| e.format(&mut command))?;
    let GlobalArgs {
        endpoints,
        ca_file,
        cert_file,
        key_file,
        server_name,
        insecure_plaintext,
        cluster,
        password_env,
        password_file,
        now,
        json,
    } = cli.global;
    let password = password_source(password_env, password_file).or_else(|| {
        std::env::var_os("CERTSLOT_PASSWORD").map(|_| PasswordSource::Env("CERTSLOT_PASSWORD".into()))
    });
    let etcd_tls = EtcdTls { ca_file, cert_file, key_file, server_name, insecure_plaintext };
    Ok((Global { endpoints, etcd_tls, cluster, password, now, json }, cli.command))
}

/// The usage of the (sub)command that the first words of `args` name.
fn usage_at(command: &mut clap::Command, args: &[&str]) -> StyledStr {
    let Some(position) = args.iter().position(|a| command.find_subcommand(a).is_some()) else {
        return command.render_usage();
    };
    let (name, rest) =
        (args.get(position).copied().unwrap_or_default(), args.get(position + 1..).unwrap_or_default());
    match command.find_subcommand_mut(name) {
        Some(sub) => usage_at(sub, rest),
        None => command.render_usage(),
    }
}

/// The password of an `--*-password-env VAR` / `--*-password-file FILE` pair.
pub fn password_source(env: Option<String>, file: Option<PathBuf>) -> Option<PasswordSource> {
    env.map(PasswordSource::Env).or(file.map(PasswordSource::File))
}

fn endpoint(text: &str) -> Result<String, String> {
    match text.trim() {
        "" => Err("an empty endpoint".into()),
        endpoint => Ok(endpoint.to_owned()),
    }
}

/// `SERVER[=USER]`: the server in lowercase, the user as given (the server's name by default).
fn agent_user(text: &str) -> Result<(String, String), String> {
    let (server, user) = text.split_once('=').unwrap_or((text, text));
    let (server, user) = (server.trim().to_ascii_lowercase(), user.trim());
    if server.is_empty() || user.is_empty() {
        return Err("expected SERVER or SERVER=USER".into());
    }
    Ok((server, user.to_owned()))
}

fn cluster(text: &str) -> Result<Cluster, String> {
    Cluster::new(text).map_err(|e| e.to_string())
}

fn instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not an RFC 3339 instant ({e})"))
}

fn cert_type(text: &str) -> Result<CertType, String> {
    text.trim().parse().map_err(|e| format!("{e}"))
}

fn scope(text: &str) -> Result<Scope, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn thumbprint(text: &str) -> Result<Thumbprint, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
        _ => Err("not a positive number of seconds".into()),
    }
}

/// `--renewal-window`: certslot's text form of a renewal window.
fn renewal_window(text: &str) -> Result<RenewalWindow, String> {
    text.parse().map_err(|e: certslot::policy::WindowError| e.to_string())
}

fn yes_no(text: &str) -> Result<bool, String> {
    match text {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("yes or no".into()),
    }
}

/// `--service`: false for lync, true for exchange.
fn metadata_form(text: &str) -> Result<MetadataForm, String> {
    match text {
        "exchange" => Ok(MetadataForm::Exchange),
        "sharepoint" => Ok(MetadataForm::SharePoint),
        _ => Err("exchange or sharepoint".into()),
    }
}

fn service(text: &str) -> Result<bool, String> {
    match text {
        "lync" => Ok(false),
        "exchange" => Ok(true),
        _ => Err("lync or exchange".into()),
    }
}
