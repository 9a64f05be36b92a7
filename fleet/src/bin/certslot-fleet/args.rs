//! The command line: global options anywhere, one command, its options. Hand-written, like the
//! examples' parsers: every option is known, an unknown one or one that does not apply to the
//! command is a usage error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use certslot::{CertType, OffsetDateTime, Scope, Thumbprint};
use certslot_etcd::{Cluster, PasswordSource};
use time::format_description::well_known::Rfc3339;

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
pub const USAGE: &str = "\
usage: certslot-fleet [OPTIONS] COMMAND [ARGS]

certslot's certificate store shared through etcd: admin commands (each one compare-and-swap
update of /certslot/<cluster>/state), the front-end agent, and the coordinator.

admin commands:
  init --sip-domain DOMAIN [--staged TYPE]...
                        create the cluster's state; --staged: rolls of TYPE wait until every
                        server of the scope holds the new certificate
  configure --type TYPE --staged yes|no
                        turn a type's staging gate on or off
  topology add-site SITE | add-pool POOL --site SITE | add-server FQDN --pool POOL
  topology remove-site SITE | remove-pool POOL | remove-server FQDN | show
  import FILE --type TYPE [--scope SCOPE] [--ignore-policy]
                        add a PFX (certificate and key) after checking it with the type's
                        policy (Import-CsCertificate); its password: --pfx-password-env VAR or
                        --pfx-password-file FILE, else the state's password
  set --type TYPE[,TYPE...] [--scope SCOPE] --thumbprint X [--force] [--ignore-policy]
  roll --type TYPE[,TYPE...] [--scope SCOPE] --thumbprint X --effective-date RFC3339
       [--force] [--ignore-policy]
  cancel-roll --type TYPE [--scope SCOPE]
  remove-previous --type TYPE [--scope SCOPE]
  rollback --type TYPE [--scope SCOPE]
  advance               record the agents' live reports and apply what is due (one step of the
                        coordinator)
  get [--type TYPE] [--scope SCOPE]
                        the Get-CsCertificate view (every type when --type is not given)
  drift                 each server against its agent's live report (no report: unreported),
                        and the due rolls still waiting, with the servers they wait for
  timeline [--type TYPE] [--scope SCOPE] [--days N]
                        the dry run of the next N days (default 3650) of one slot, or of all
  plan                  what the rollover planner says each slot needs now, and when the plan
                        next changes
  renew --type TYPE [--scope SCOPE]
                        renew the slot's current certificate now with a self-signed one, rolled
                        in at the planned date (refused before the renewal window opens)
  jwks --type TYPE [--scope SCOPE]
                        the JWK Set (RFC 7517) of the keys verifiers must trust now
  metadata --type TYPE [--scope SCOPE] [--service lync|exchange]
                        the same keys as the /metadata/json/1 authorization metadata document
  export                print the state value as stored (its private keys stay encrypted)
  restore FILE          replace the state, even a corrupt one, with a saved state (checked
                        with the password before it is written)

long-running:
  agent --server FQDN --dir DIR [--lease-ttl SECONDS] [--resync SECONDS]
        [--file-password-env VAR | --file-password-file FILE]
                        keep DIR holding what the server must hold (one <THUMBPRINT>.pfx each,
                        mode 0600) and report it under a lease (default 10 s)
  coordinator [--id NAME] [--lease-ttl SECONDS] [--resync SECONDS] [--renew]
                        one at a time (elected): feed the agents' reports into the store and
                        advance it when changes are due; --renew: also renew what the rollover
                        planner says is due, with self-signed certificates

options:
  --endpoints URL[,URL...]  etcd (default $CERTSLOT_ETCD_ENDPOINTS, else http://127.0.0.1:2379)
  --cluster NAME            the cluster (default $CERTSLOT_CLUSTER, else default)
  --password-env VAR        the password of the state's private keys, from VAR
                            (default: CERTSLOT_PASSWORD when it is set)
  --password-file FILE      the password, from the first line of FILE (mode 0600)
  --now RFC3339             the instant of an admin command (default: the system clock); for
                            an agent or a coordinator, the instant its clock starts at
  --json                    machine output (one JSON document; agent and coordinator: one JSON
                            object a line)
  -h, --help                print this help and exit

SCOPE is global (default), site:NAME or pool:FQDN. Instants are RFC 3339.

exit status: 0 done; 1 refused or failed; 2 usage error; 3 the state is missing or refused (it
is left as it is); 4 etcd unreachable (or, for a write, its outcome unknown); 5 etcd denied the
request (the user's roles); 6 etcd did not authenticate the user; 7 the request is too large
for etcd
";

/// Options of every command.
pub struct Global {
    pub endpoints: Vec<String>,
    pub cluster: Cluster,
    pub password: Option<PasswordSource>,
    pub now: Option<OffsetDateTime>,
    pub json: bool,
}

/// The slots of `set` and `roll`: their types (one or more) and scope.
pub struct SlotArgs {
    pub types: Vec<CertType>,
    pub scope: Scope,
}

/// The slot of a one-type command: its type and scope.
pub struct OneSlot {
    pub cert_type: CertType,
    pub scope: Scope,
}

/// What the command line asks for.
pub enum Command {
    Help,
    Init {
        sip_domain: String,
        staged: Vec<CertType>,
    },
    Configure {
        cert_type: CertType,
        staged: bool,
    },
    Topology(Topology),
    Import {
        file: PathBuf,
        cert_type: CertType,
        scope: Scope,
        pfx_password: Option<PasswordSource>,
        ignore_policy: bool,
    },
    Set {
        slot: SlotArgs,
        thumbprint: Thumbprint,
        force: bool,
        ignore_policy: bool,
    },
    Roll {
        slot: SlotArgs,
        thumbprint: Thumbprint,
        effective: OffsetDateTime,
        force: bool,
        ignore_policy: bool,
    },
    CancelRoll(OneSlot),
    RemovePrevious(OneSlot),
    Rollback(OneSlot),
    Advance,
    Get {
        cert_type: Option<CertType>,
        scope: Scope,
    },
    Drift,
    Timeline {
        cert_type: Option<CertType>,
        scope: Scope,
        days: u32,
    },
    Plan,
    Renew(OneSlot),
    Jwks(OneSlot),
    Metadata {
        slot: OneSlot,
        exchange: bool,
    },
    Export,
    Restore {
        file: PathBuf,
    },
    Agent {
        server: String,
        dir: PathBuf,
        lease_ttl: Duration,
        resync: Duration,
        file_password: Option<PasswordSource>,
    },
    Coordinator {
        id: Option<String>,
        lease_ttl: Duration,
        resync: Duration,
        renew: bool,
    },
}

/// The topology subcommands.
pub enum Topology {
    AddSite(String),
    AddPool { pool: String, site: String },
    AddServer { server: String, pool: String },
    RemoveSite(String),
    RemovePool(String),
    RemoveServer(String),
    Show,
}

/// Options that take a value.
const VALUED: [&str; 24] = [
    "--endpoints",
    "--cluster",
    "--password-env",
    "--password-file",
    "--now",
    "--sip-domain",
    "--staged",
    "--type",
    "--scope",
    "--thumbprint",
    "--effective-date",
    "--pfx-password-env",
    "--pfx-password-file",
    "--site",
    "--pool",
    "--server",
    "--dir",
    "--lease-ttl",
    "--resync",
    "--file-password-env",
    "--file-password-file",
    "--id",
    "--days",
    "--service",
];

/// Options without a value.
const SWITCHES: [&str; 4] = ["--json", "--force", "--ignore-policy", "--renew"];

/// What was on the command line, before a command takes what it knows.
struct Parsed {
    words: Vec<String>,
    values: BTreeMap<&'static str, Vec<String>>,
    switches: Vec<&'static str>,
}

impl Parsed {
    /// The single value of an option.
    fn value(&mut self, flag: &str) -> Result<Option<String>, String> {
        match self.values.remove(flag) {
            None => Ok(None),
            Some(mut values) if values.len() == 1 => Ok(values.pop()),
            Some(_) => Err(format!("{flag} given more than once")),
        }
    }

    fn required(&mut self, flag: &str) -> Result<String, String> {
        self.value(flag)?.ok_or_else(|| format!("{flag} is required"))
    }

    fn all(&mut self, flag: &str) -> Vec<String> {
        self.values.remove(flag).unwrap_or_default()
    }

    fn switch(&mut self, flag: &str) -> bool {
        let before = self.switches.len();
        self.switches.retain(|s| *s != flag);
        self.switches.len() != before
    }

    /// The error for whatever the command did not take.
    fn finish(self, command: &str) -> Result<(), String> {
        if let Some(flag) = self.values.keys().next().or(self.switches.first()) {
            return Err(format!("{flag} does not apply to {command}"));
        }
        if let Some(word) = self.words.first() {
            return Err(format!("unexpected argument {word:?} for {command}"));
        }
        Ok(())
    }
}

/// Reads the command line (`args` without the program name) and the environment.
pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<(Global, Command), String> {
    let mut parsed = Parsed { words: Vec::new(), values: BTreeMap::new(), switches: Vec::new() };
    let mut args = args.into_iter();
    let mut help = false;
    while let Some(arg) = args.next() {
        let arg = arg.into_string().map_err(|a| format!("argument {a:?} is not valid Unicode"))?;
        if arg == "-h" || arg == "--help" {
            help = true;
        } else if let Some(flag) = VALUED.iter().find(|f| **f == arg) {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|a| format!("the value of {flag}, {a:?}, is not valid Unicode"))?;
            parsed.values.entry(flag).or_default().push(value);
        } else if let Some(flag) = SWITCHES.iter().find(|f| **f == arg) {
            parsed.switches.push(flag);
        } else if arg.starts_with('-') && arg != "-" {
            return Err(format!("unknown option {arg}"));
        } else {
            parsed.words.push(arg);
        }
    }
    if help {
        return Ok((default_global()?, Command::Help));
    }
    let global = global(&mut parsed)?;
    if parsed.words.is_empty() {
        return Err("no command given".into());
    }
    let name = parsed.words.remove(0);
    let command = command(&name, &mut parsed)?;
    parsed.finish(&name)?;
    Ok((global, command))
}

fn default_global() -> Result<Global, String> {
    let cluster = Cluster::new("default").map_err(|e| e.to_string())?;
    Ok(Global { endpoints: Vec::new(), cluster, password: None, now: None, json: false })
}

fn global(parsed: &mut Parsed) -> Result<Global, String> {
    let endpoints = parsed
        .value("--endpoints")?
        .or_else(|| std::env::var("CERTSLOT_ETCD_ENDPOINTS").ok())
        .unwrap_or_else(|| "http://127.0.0.1:2379".to_owned())
        .split(',')
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .collect();
    let cluster = parsed
        .value("--cluster")?
        .or_else(|| std::env::var("CERTSLOT_CLUSTER").ok())
        .unwrap_or_else(|| "default".into());
    let cluster = Cluster::new(&cluster).map_err(|e| e.to_string())?;
    let password = password_source(parsed, "--password-env", "--password-file")?.or_else(|| {
        std::env::var_os("CERTSLOT_PASSWORD").map(|_| PasswordSource::Env("CERTSLOT_PASSWORD".into()))
    });
    let now = parsed.value("--now")?.map(|t| instant(&t)).transpose()?;
    Ok(Global { endpoints, cluster, password, now, json: parsed.switch("--json") })
}

fn password_source(parsed: &mut Parsed, env: &str, file: &str) -> Result<Option<PasswordSource>, String> {
    match (parsed.value(env)?, parsed.value(file)?) {
        (Some(_), Some(_)) => Err(format!("give {env} or {file}, not both")),
        (Some(var), None) => Ok(Some(PasswordSource::Env(var))),
        (None, Some(path)) => Ok(Some(PasswordSource::File(path.into()))),
        (None, None) => Ok(None),
    }
}

fn instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("{text}: not an RFC 3339 instant ({e})"))
}

fn cert_type(text: &str) -> Result<CertType, String> {
    text.parse().map_err(|e| format!("{e}"))
}

fn types(text: &str) -> Result<Vec<CertType>, String> {
    text.split(',').map(|t| cert_type(t.trim())).collect()
}

fn scope(parsed: &mut Parsed) -> Result<Scope, String> {
    match parsed.value("--scope")? {
        Some(text) => text.parse().map_err(|e| format!("{e}")),
        None => Ok(Scope::Global),
    }
}

fn slot(parsed: &mut Parsed) -> Result<SlotArgs, String> {
    Ok(SlotArgs { types: types(&parsed.required("--type")?)?, scope: scope(parsed)? })
}

fn one_type_slot(parsed: &mut Parsed) -> Result<OneSlot, String> {
    let SlotArgs { types, scope } = slot(parsed)?;
    match <[CertType; 1]>::try_from(types) {
        Ok([cert_type]) => Ok(OneSlot { cert_type, scope }),
        Err(_) => Err("--type takes one type here".into()),
    }
}

fn thumbprint(parsed: &mut Parsed) -> Result<Thumbprint, String> {
    let text = parsed.required("--thumbprint")?;
    text.parse().map_err(|e| format!("--thumbprint: {e}"))
}

fn seconds(parsed: &mut Parsed, flag: &str, default: Duration) -> Result<Duration, String> {
    match parsed.value(flag)? {
        None => Ok(default),
        Some(text) => match text.parse::<u64>() {
            Ok(n) if n > 0 => Ok(Duration::from_secs(n)),
            _ => Err(format!("{flag}: {text:?} is not a positive number of seconds")),
        },
    }
}

fn word(parsed: &mut Parsed, what: &str) -> Result<String, String> {
    if parsed.words.is_empty() {
        return Err(format!("{what} is required"));
    }
    Ok(parsed.words.remove(0))
}

fn command(name: &str, p: &mut Parsed) -> Result<Command, String> {
    Ok(match name {
        "init" => Command::Init {
            sip_domain: p.required("--sip-domain")?,
            staged: p.all("--staged").iter().map(|t| cert_type(t)).collect::<Result<_, _>>()?,
        },
        "configure" => {
            let cert_type = cert_type(&p.required("--type")?)?;
            let staged = match p.required("--staged")?.as_str() {
                "yes" => true,
                "no" => false,
                other => return Err(format!("--staged takes yes or no, not {other:?}")),
            };
            Command::Configure { cert_type, staged }
        }
        "topology" => Command::Topology(match word(p, "a topology command")?.as_str() {
            "add-site" => Topology::AddSite(word(p, "SITE")?),
            "add-pool" => Topology::AddPool { pool: word(p, "POOL")?, site: p.required("--site")? },
            "add-server" => Topology::AddServer { server: word(p, "FQDN")?, pool: p.required("--pool")? },
            "remove-site" => Topology::RemoveSite(word(p, "SITE")?),
            "remove-pool" => Topology::RemovePool(word(p, "POOL")?),
            "remove-server" => Topology::RemoveServer(word(p, "FQDN")?),
            "show" => Topology::Show,
            other => return Err(format!("unknown topology command {other:?}")),
        }),
        "import" => Command::Import {
            file: word(p, "FILE")?.into(),
            cert_type: cert_type(&p.required("--type")?)?,
            scope: scope(p)?,
            pfx_password: password_source(p, "--pfx-password-env", "--pfx-password-file")?,
            ignore_policy: p.switch("--ignore-policy"),
        },
        "set" => Command::Set {
            slot: slot(p)?,
            thumbprint: thumbprint(p)?,
            force: p.switch("--force"),
            ignore_policy: p.switch("--ignore-policy"),
        },
        "roll" => Command::Roll {
            slot: slot(p)?,
            thumbprint: thumbprint(p)?,
            effective: instant(&p.required("--effective-date")?)?,
            force: p.switch("--force"),
            ignore_policy: p.switch("--ignore-policy"),
        },
        "cancel-roll" => Command::CancelRoll(one_type_slot(p)?),
        "remove-previous" => Command::RemovePrevious(one_type_slot(p)?),
        "rollback" => Command::Rollback(one_type_slot(p)?),
        "advance" => Command::Advance,
        "get" => Command::Get {
            cert_type: p.value("--type")?.map(|t| cert_type(&t)).transpose()?,
            scope: scope(p)?,
        },
        "drift" => Command::Drift,
        "timeline" => {
            let cert_type = p.value("--type")?.map(|t| cert_type(&t)).transpose()?;
            let scope = scope(p)?;
            let days = match p.value("--days")? {
                None => 3650,
                Some(text) => {
                    text.parse().map_err(|_| format!("--days: {text:?} is not a number of days"))?
                }
            };
            Command::Timeline { cert_type, scope, days }
        }
        "plan" => Command::Plan,
        "renew" => Command::Renew(one_type_slot(p)?),
        "jwks" => Command::Jwks(one_type_slot(p)?),
        "metadata" => {
            let slot = one_type_slot(p)?;
            let exchange = match p.value("--service")?.as_deref() {
                None | Some("lync") => false,
                Some("exchange") => true,
                Some(other) => return Err(format!("--service takes lync or exchange, not {other:?}")),
            };
            Command::Metadata { slot, exchange }
        }
        "export" => Command::Export,
        "restore" => Command::Restore { file: word(p, "FILE")?.into() },
        "agent" => Command::Agent {
            server: p.required("--server")?,
            dir: p.required("--dir")?.into(),
            lease_ttl: seconds(p, "--lease-ttl", certslot_etcd::Agent::DEFAULT_LEASE_TTL)?,
            resync: seconds(p, "--resync", certslot_etcd::Agent::DEFAULT_RESYNC)?,
            file_password: password_source(p, "--file-password-env", "--file-password-file")?,
        },
        "coordinator" => Command::Coordinator {
            id: p.value("--id")?,
            lease_ttl: seconds(p, "--lease-ttl", certslot_etcd::Coordinator::DEFAULT_LEASE_TTL)?,
            resync: seconds(p, "--resync", certslot_etcd::Coordinator::DEFAULT_RESYNC)?,
            renew: p.switch("--renew"),
        },
        other => return Err(format!("unknown command {other:?}")),
    })
}
