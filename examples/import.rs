//! `import`: the Import-CsCertificate walk-through.
//!
//! ```text
//! CERTSLOT_PASSWORD='P@ssw0rd' cargo run --example import -- \
//!     tests/data/pfx/openssl3-chain.pfx --password-env CERTSLOT_PASSWORD --sip-domain contoso.com
//! ```
//!
//! Reads a PFX (password from the named environment variable, never from the command line),
//! checks its certificate with `Policy::oauth_token_issuer` for the SIP domain at the current time
//! (or `--at 2026-11-25T13:36:02Z`), and prints the certificate summary, the chain, how the file
//! was protected, and every violation and warning. Exit code 0 when the certificate may become the
//! OAuthTokenIssuer certificate, 1 otherwise (with `error: ...` on stderr when the file could not
//! be read at all). `-h` or `--help` prints the usage ([`USAGE`]) on stdout, exit code 0; a usage
//! error (an unknown option, a missing argument, an `--at` that is not RFC 3339) prints an
//! `error: ...` line and the usage on stderr, exit code 2.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/facts.rs"]
mod facts;

use std::process::ExitCode;

use certslot::{
    ImportOptions, Password, Pfx, Policy,
    validate::{HumanTime, Rule},
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
const USAGE: &str = "\
usage: import FILE.pfx --password-env VAR --sip-domain DOMAIN [--at RFC3339]

The Import-CsCertificate walk-through: reads a PFX, checks its certificate with the
OAuthTokenIssuer policy for the SIP domain, and prints the certificate, the chain, how the file
was protected, and every violation and warning.

options:
  --password-env VAR    read the PFX password from the environment variable VAR
  --sip-domain DOMAIN   the SIP domain the certificate must name
  --at RFC3339          check at this instant instead of now, e.g. 2026-11-25T13:36:02Z
  -h, --help            print this help and exit

exit status: 0 the certificate may become the OAuthTokenIssuer certificate; 1 it may not, or
the file could not be read (with an `error:` line on stderr); 2 a usage error
";

/// What the command line asks for.
enum Command {
    /// Import and check a file.
    Import(Args),
    /// `-h` or `--help`.
    Help,
}

struct Args {
    file: String,
    password_env: String,
    sip_domain: String,
    at: OffsetDateTime,
}

/// Reads the command line; an `Err` is a usage error, reported with [`USAGE`] and exit code 2.
fn parse_args() -> Result<Command, String> {
    let mut file = None;
    let mut password_env = None;
    let mut sip_domain = None;
    let mut at = None;
    let mut args = std::env::args_os().skip(1);
    while let Some(arg) = args.next() {
        let arg = arg.into_string().map_err(|a| format!("argument {a:?} is not valid Unicode"))?;
        let mut value = |flag: &str| {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|a| format!("the value of {flag}, {a:?}, is not valid Unicode"))
        };
        match arg.as_str() {
            "--password-env" => password_env = Some(value("--password-env")?),
            "--sip-domain" => sip_domain = Some(value("--sip-domain")?),
            "--at" => {
                let text = value("--at")?;
                at = Some(OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| format!("--at {text}: {e}"))?);
            }
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with('-') && flag != "-" => return Err(format!("unknown option {flag}")),
            _ if file.is_some() => return Err("more than one FILE.pfx given".to_owned()),
            _ => file = Some(arg),
        }
    }
    Ok(Command::Import(Args {
        file: file.ok_or("no FILE.pfx given")?,
        password_env: password_env.ok_or("--password-env VAR is required")?,
        sip_domain: sip_domain.ok_or("--sip-domain DOMAIN is required")?,
        at: at.unwrap_or_else(OffsetDateTime::now_utc),
    }))
}

/// An instant for people: whole seconds, `just after` one for an instant past it (the store's
/// "one nanosecond after notAfter"); see [`HumanTime`].
fn when(t: OffsetDateTime) -> HumanTime {
    HumanTime(t)
}

fn run(args: &Args) -> Result<bool, String> {
    let password = std::env::var(&args.password_env)
        .map(Password::new)
        .map_err(|_| format!("environment variable {} is not set", args.password_env))?;
    let policy = Policy::oauth_token_issuer(&args.sip_domain).map_err(|e| e.to_string())?;
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file))?;

    println!("Import-CsCertificate -Type OAuthTokenIssuer -Path {}", args.file);
    let pfx = Pfx::import(&bytes, &password, ImportOptions::default())
        .map_err(|e| format!("{}: {e}", args.file))?;
    let leaf = pfx.leaf().ok_or("the file holds no certificate for its private key")?;
    println!("\nCertificate (with private key):\n{}", facts::summary(leaf));
    if let Some(name) = pfx.friendly_name(leaf) {
        println!("  FriendlyName: {name}");
    }
    for (i, cert) in pfx.chain().iter().enumerate() {
        println!("Chain certificate {}: {} {}", i + 1, cert.thumbprint(), cert.subject());
    }
    println!("\nProtection: {}", pfx.protection());
    for skipped in pfx.skipped() {
        println!("Skipped bag {}: {}", skipped.bag_type, skipped.reason);
    }

    let report = policy.check(leaf, args.at);
    println!("\nOAuthTokenIssuer policy for SIP domain {} at {}:", args.sip_domain, when(args.at));
    facts::print_report(&report);
    if report.is_ok() {
        println!(
            "\nReady: assign with Set-CsCertificate -Type OAuthTokenIssuer -Thumbprint {}",
            leaf.thumbprint()
        );
    } else {
        println!("\nRejected: this certificate cannot be the OAuthTokenIssuer certificate.");
    }
    Ok(report.is_ok())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Command::Import(args)) => args,
        Ok(Command::Help) => return cli::help(USAGE),
        Err(message) => return cli::usage_error(&message, USAGE),
    };
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(message) => {
            eprintln!("error: {}", message.replace('\n', " "));
            ExitCode::FAILURE
        }
    }
}
