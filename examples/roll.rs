//! `roll`: the story of Microsoft's page on assigning the server-to-server certificate, run
//! against certslot's store and a simulated pool of three front-end servers.
//!
//! ```text
//! cargo run --example roll
//! CERTSLOT_PASSWORD=... cargo run --example roll -- CURRENT.pfx NEXT.pfx --password-env CERTSLOT_PASSWORD \
//!     [--sip-domain contoso.com] [--now 2026-11-25T09:00:00Z] [--effective 2027-07-01T00:00:00Z]
//! ```
//!
//! With no arguments it uses the bundled sample PFX files (password `P@ssw0rd`). It imports two
//! certificates, checks them with the OAuthTokenIssuer policy, sets the first as the global
//! OAuthTokenIssuer certificate (`Set-CsCertificate -Identity global -Type OAuthTokenIssuer
//! -Thumbprint ...`), rolls the second in at an effective date (`-EffectiveDate ... -Roll`), shows
//! the timeline, and advances time across it, printing Get-CsCertificate-style views and the
//! fleet's drift at each step. The roll waits until every front-end holds the new certificate
//! (certslot's staging gate), which Lync's replication does not guarantee.
//!
//! `-h` or `--help` prints the usage ([`USAGE`]) on stdout, exit code 0; a usage error (an
//! unknown option, one PFX file, an instant that is not RFC 3339) prints an `error: ...` line and
//! the usage on stderr, exit code 2; any other failure prints one `error: ...` line, exit code 1.

#[path = "shared/cli.rs"]
mod cli;

use std::process::ExitCode;

use certslot::{
    CertType, Event, ImportOptions, Password, Pfx, Policy, RollOptions, Scope, Store, store::DriftOptions,
    validate::Rule,
};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

const SAMPLE_CURRENT: &str = "tests/data/pfx/openssl3-default.pfx";
const SAMPLE_NEXT: &str = "tests/data/pfx/openssl3-rsa2048-next.pfx";
const SAMPLE_PASSWORD: &str = "P@ssw0rd";
const SERVERS: [&str; 3] = ["fe01.contoso.com", "fe02.contoso.com", "fe03.contoso.com"];
const POOL: &str = "pool01.contoso.com";

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
const USAGE: &str = "\
usage: roll [CURRENT.pfx NEXT.pfx --password-env VAR] [--sip-domain DOMAIN] [--now RFC3339]
            [--effective RFC3339]

Runs the story of assigning and rolling the OAuthTokenIssuer certificate against certslot's
store and a simulated pool of three front-end servers. Without files it uses the bundled sample
PFX files (password P@ssw0rd).

options:
  --password-env VAR    read the password of both PFX files from the environment variable VAR
  --sip-domain DOMAIN   the SIP domain (default contoso.com)
  --now RFC3339         when the story starts (default 2026-11-25T09:00:00Z)
  --effective RFC3339   the effective date of the roll (default 2027-07-01T00:00:00Z)
  -h, --help            print this help and exit

exit status: 0 the story ran; 1 a file, the password or an operation failed (with an `error:`
line on stderr); 2 a usage error
";

/// What the command line asks for.
enum Command {
    /// Run the story.
    Run(Args),
    /// `-h` or `--help`.
    Help,
}

/// Why the command line does not run.
enum CliError {
    /// Not a valid command line: reported with [`USAGE`], exit code 2.
    Usage(String),
    /// A valid command line that cannot run (its password variable is not set): exit code 1.
    Failed(String),
}

struct Args {
    current: String,
    next: String,
    password: Password,
    sip_domain: String,
    now: OffsetDateTime,
    effective: OffsetDateTime,
}

fn instant(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("{text}: not an RFC 3339 instant ({e})"))
}

/// An instant for people: whole seconds, `just after` one for an instant past it (the store's
/// "one nanosecond after notAfter"); see [`certslot::validate::HumanTime`].
fn when(t: OffsetDateTime) -> certslot::validate::HumanTime {
    certslot::validate::HumanTime(t)
}

/// Reads the command line (and the password variable it names).
fn parse_args() -> Result<Command, CliError> {
    let mut files = Vec::new();
    let mut password_env = None;
    let mut sip_domain = "contoso.com".to_owned();
    let mut now = instant("2026-11-25T09:00:00Z").map_err(CliError::Failed)?;
    let mut effective = instant("2027-07-01T00:00:00Z").map_err(CliError::Failed)?;
    let mut args = std::env::args_os().skip(1);
    let usage = |message: String| CliError::Usage(message);
    while let Some(arg) = args.next() {
        let arg = arg.into_string().map_err(|a| usage(format!("argument {a:?} is not valid Unicode")))?;
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| usage(format!("{flag} needs a value")))?
                .into_string()
                .map_err(|a| usage(format!("the value of {flag}, {a:?}, is not valid Unicode")))
        };
        match arg.as_str() {
            "--password-env" => password_env = Some(value("--password-env")?),
            "--sip-domain" => sip_domain = value("--sip-domain")?,
            "--now" => now = instant(&value("--now")?).map_err(usage)?,
            "--effective" => effective = instant(&value("--effective")?).map_err(usage)?,
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with('-') && flag != "-" => {
                return Err(usage(format!("unknown option {flag}")));
            }
            _ => files.push(arg),
        }
    }
    let (current, next, password) = match (files.as_slice(), password_env) {
        ([], None) => (SAMPLE_CURRENT.to_owned(), SAMPLE_NEXT.to_owned(), Password::new(SAMPLE_PASSWORD)),
        ([current, next], Some(var)) => {
            let password = std::env::var(&var)
                .map_err(|_| CliError::Failed(format!("environment variable {var} is not set")))?;
            (current.clone(), next.clone(), Password::new(password))
        }
        _ => {
            return Err(usage(
                "give two PFX files and --password-env VAR, or nothing for the bundled samples".into(),
            ));
        }
    };
    Ok(Command::Run(Args { current, next, password, sip_domain, now, effective }))
}

fn heading(text: &str) {
    println!("\n== {text}");
}

fn print_events(events: &[Event]) {
    if events.is_empty() {
        println!("   (no change)");
    }
    for event in events {
        let mark = if event.is_warning() { "WARNING" } else { "event" };
        println!("   {mark}: {event}");
    }
}

/// Get-CsCertificate -Type OAuthTokenIssuer, as a list.
fn get_cs_certificate(store: &Store) {
    let Some(view) = store.get(&CertType::OAuthTokenIssuer, &Scope::Global) else {
        println!("   (no OAuthTokenIssuer certificate: server-to-server authentication is not possible)");
        return;
    };
    println!("   Use                : {}", view.cert_type);
    println!("   Identity           : {}", view.scope);
    if let Some(c) = &view.current {
        println!("   Thumbprint         : {}", c.thumbprint);
        println!("   Subject            : {}", c.subject);
        println!("   Issuer             : {}", c.issuer);
        println!("   NotBefore          : {}", when(c.not_before));
        println!("   NotAfter           : {}", when(c.not_after));
        println!("   EffectiveDate      : {}", when(c.effective_at));
    }
    if let Some(p) = &view.previous {
        println!("   PreviousThumbprint : {}", p.thumbprint);
        println!("   PreviousNotAfter   : {}", when(p.not_after));
    }
    if let Some(p) = &view.pending {
        println!("   PendingThumbprint  : {}", p.thumbprint);
        println!("   PendingEffective   : {}", when(p.effective_at));
    }
}

/// What each front-end reported holding against what it should hold.
fn drift(store: &Store, at: OffsetDateTime) {
    for d in store.drift(at, DriftOptions::default()) {
        if d.is_clean() {
            println!("   {:<18} in step", d.server);
            continue;
        }
        let missing: Vec<String> =
            d.missing.iter().map(|m| format!("{} ({:?})", m.thumbprint, m.role)).collect();
        let stale: Vec<String> = d.stale.iter().map(ToString::to_string).collect();
        println!("   {:<18} missing [{}] stale [{}]", d.server, missing.join(", "), stale.join(", "));
    }
}

fn run(args: &Args) -> Result<(), String> {
    let oauth = CertType::OAuthTokenIssuer;
    let mut store = Store::for_sip_domain(&args.sip_domain).map_err(|e| e.to_string())?;
    // certslot's staging gate: promote a roll only when every front-end holds the new certificate.
    let config = store.type_config(&oauth).into_owned().require_staged(true);
    store.configure_type(oauth.clone(), config).map_err(|e| e.to_string())?;
    store.add_site("redmond").map_err(|e| e.to_string())?;
    store.add_pool(POOL, "redmond").map_err(|e| e.to_string())?;
    for server in SERVERS {
        store.add_server(server, POOL).map_err(|e| e.to_string())?;
    }

    heading(&format!("Import-CsCertificate: {} and {}", args.current, args.next));
    let policy = Policy::oauth_token_issuer(&args.sip_domain).map_err(|e| e.to_string())?;
    let mut thumbprints = Vec::new();
    for file in [&args.current, &args.next] {
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let pfx = Pfx::import(&bytes, &args.password, ImportOptions::default())
            .map_err(|e| format!("{file}: {e}"))?;
        let leaf = pfx.leaf().ok_or_else(|| format!("{file}: no certificate for the key"))?;
        let report = policy.check(leaf, args.now);
        println!("   {file}: {} {} ({})", leaf.thumbprint(), leaf.subject(), pfx.protection());
        println!(
            "     OAuthTokenIssuer policy: {}",
            if report.is_ok() { "passes".to_owned() } else { report.to_string() }
        );
        thumbprints.push(store.add_pfx(pfx).map_err(|e| e.to_string())?);
    }
    let (first, second) = match thumbprints.as_slice() {
        [a, b] => (*a, *b),
        _ => return Err("two certificates expected".into()),
    };

    heading("Get-CsCertificate -Type OAuthTokenIssuer (before)");
    get_cs_certificate(&store);

    heading(&format!(
        "{}  Set-CsCertificate -Identity global -Type OAuthTokenIssuer -Thumbprint {first}",
        when(args.now)
    ));
    let out = store
        .set(std::slice::from_ref(&oauth), &Scope::Global, &first, args.now, RollOptions::default())
        .map_err(|e| e.to_string())?;
    print_events(&out.events);
    get_cs_certificate(&store);

    // Lync's replication deploys the certificate to every front-end, whose agents report it.
    for server in SERVERS {
        store.record_holdings(server, [first], args.now).map_err(|e| e.to_string())?;
    }
    heading("Replication: what each front-end holds");
    drift(&store, args.now);

    let at = args.now + Duration::hours(1);
    heading(&format!(
        "{}  Set-CsCertificate -Identity global -Type OAuthTokenIssuer -Thumbprint {second} -EffectiveDate {} -Roll",
        when(at),
        when(args.effective)
    ));
    let out = store
        .roll(
            std::slice::from_ref(&oauth),
            &Scope::Global,
            &second,
            args.effective,
            at,
            RollOptions::default(),
        )
        .map_err(|e| e.to_string())?;
    print_events(&out.events);
    get_cs_certificate(&store);

    heading("Timeline (dry run, ten years)");
    for entry in store.timeline(&oauth, &Scope::Global, at, at + Duration::days(3660)) {
        println!("   {}  {}", when(entry.at), entry.event);
    }

    // Replication stages the new certificate on two of the three servers.
    let staged = at + Duration::days(1);
    for server in &SERVERS[..2] {
        store.record_holdings(server, [first, second], staged).map_err(|e| e.to_string())?;
    }
    store.record_holdings(SERVERS[2], [first], staged).map_err(|e| e.to_string())?;
    heading(&format!("{}  Replication: fe03 has not received the new certificate yet", when(staged)));
    drift(&store, staged);

    let eve = args.effective - Duration::hours(1);
    heading(&format!("{}  advance (the day before the effective date)", when(eve)));
    print_events(&store.advance(eve).map_err(|e| e.to_string())?.events);

    heading(&format!("{}  advance (the effective date)", when(args.effective)));
    print_events(&store.advance(args.effective).map_err(|e| e.to_string())?.events);
    get_cs_certificate(&store);

    let caught_up = args.effective + Duration::hours(2);
    store.record_holdings(SERVERS[2], [first, second], caught_up).map_err(|e| e.to_string())?;
    heading(&format!("{}  fe03 reports the new certificate; advance", when(caught_up)));
    print_events(&store.advance(caught_up).map_err(|e| e.to_string())?.events);
    get_cs_certificate(&store);
    heading("Signing and verification");
    let signer = store.signing_cert(&oauth, &Scope::Global, caught_up).map(|s| s.certificate.thumbprint());
    println!("   signers use     : {}", signer.map_or("none".into(), |t| t.to_string()));
    let verifiers: Vec<String> = store
        .verification_certs(&oauth, &Scope::Global, caught_up)
        .iter()
        .map(|c| c.thumbprint().to_string())
        .collect();
    println!("   verifiers accept: {}", verifiers.join(", "));
    heading("Replication after the roll");
    drift(&store, caught_up);

    if let Some(due) = store.next_due() {
        heading(&format!("{}  advance (next scheduled change)", when(due)));
        print_events(&store.advance(due).map_err(|e| e.to_string())?.events);
    }
    println!("\nstore revision {}", store.revision());
    Ok(())
}

fn main() -> ExitCode {
    let result = match parse_args() {
        Ok(Command::Run(args)) => run(&args),
        Ok(Command::Help) => return cli::help(USAGE),
        Err(CliError::Usage(message)) => return cli::usage_error(&message, USAGE),
        Err(CliError::Failed(message)) => Err(message),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
