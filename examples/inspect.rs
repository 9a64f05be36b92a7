//! `inspect`: print the facts of a certificate file as one JSON object.
//!
//! ```text
//! cargo run --release --example inspect -- FILE [--password-env VAR] [--sip-domain DOMAIN]
//! ```
//!
//! FILE is a DER or PEM certificate, a PEM bundle, or a PFX (PKCS #12) file; the format is told
//! from the bytes, not the file name. On success the JSON object goes to stdout and the exit code is 0; on failure one
//! line `error: ...` goes to stderr and the exit code is 1. `-h` or `--help` prints the usage
//! ([`USAGE`]) on stdout, exit code 0; a usage error (an unknown option, a missing FILE or
//! option value) prints an `error: ...` line and the usage on stderr, exit code 2.
//!
//! The JSON is a contract other tools rely on. Fields (keys are sorted):
//! - `thumbprint`: SHA-1 of the leaf's DER, 40 uppercase hex digits (the leaf is the first
//!   certificate of a bundle, or in a PFX the certificate matching the private key; absent, with
//!   the other facts of the leaf, when there is none);
//! - `all_thumbprints`: every certificate of the file, in file order;
//! - `sha256`, `subject`, `issuer` (RFC 4514), `serial` (hex as `openssl x509 -serial`),
//!   `not_before`, `not_after` (RFC 3339 UTC, e.g. `2026-11-25T13:36:02Z`);
//! - `key_algorithm` (`rsa`, `rsa-pss`, `ec`, `ed25519`, `ed448`, `dsa`, or a dotted OID),
//!   `key_bits` (integer, or null when unknown), `curve` (EC only, else null);
//! - `dns_names` (SAN DNS names), `ip_addresses`, `key_usage`, `extended_key_usage` (dotted OIDs;
//!   null when the extension is absent), `signature_algorithm`, `version`, `format`
//!   (`der`, `pem` or `pfx`), `has_private_key` (bool), `unreadable` (facts that could not be read);
//! - for a PFX: `protection` (how it was encrypted and MACed) and `friendly_name`; for a PFX with
//!   a key but no certificate, `key_algorithm` and `key_bits` of the key;
//! - with `--sip-domain`: `violations` and `warnings` of `Policy::oauth_token_issuer` at the
//!   current time, each `{ "code": ..., "message": ... }`.
//!
//! The password of a PFX comes from the environment variable named by `--password-env`, never
//! from the command line; without it the PFX is tried with no password (both encodings of the
//! empty password).

#[path = "shared/cli.rs"]
mod cli;

use std::process::ExitCode;

use certslot::{
    Certificate, ImportOptions, Password, Pfx, Policy,
    validate::Rule,
    x509::{FileFormat, GeneralName},
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

struct Args {
    file: String,
    password_env: Option<String>,
    sip_domain: Option<String>,
}

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
const USAGE: &str = "\
usage: inspect FILE [--password-env VAR] [--sip-domain DOMAIN]

Prints the facts of a certificate file as one JSON object. FILE is a DER or PEM certificate, a
PEM bundle, or a PFX (PKCS #12) file; the format is told from the bytes.

options:
  --password-env VAR    read the PFX password from the environment variable VAR
                        (without it, a PFX is tried with the empty password)
  --sip-domain DOMAIN   add the violations and warnings of the OAuthTokenIssuer policy for
                        DOMAIN at the current time
  -h, --help            print this help and exit

exit status: 0 success; 1 the file could not be read or used (one `error:` line on stderr);
2 a usage error
";

/// What the command line asks for.
enum Command {
    /// Inspect a file.
    Inspect(Args),
    /// `-h` or `--help`.
    Help,
}

/// Reads the command line; an `Err` is a usage error, reported with [`USAGE`] and exit code 2.
fn parse_args() -> Result<Command, String> {
    let mut args = std::env::args_os().skip(1);
    let mut file = None;
    let mut password_env = None;
    let mut sip_domain = None;
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
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with('-') && flag != "-" => return Err(format!("unknown option {flag}")),
            _ if file.is_some() => return Err("more than one FILE given".to_owned()),
            _ => file = Some(arg),
        }
    }
    let file = file.ok_or("no FILE given")?;
    Ok(Command::Inspect(Args { file, password_env, sip_domain }))
}

fn rfc3339(t: OffsetDateTime) -> Result<String, String> {
    t.format(&Rfc3339).map_err(|e| format!("cannot format {t}: {e}"))
}

/// The facts of one certificate, as the contract names them.
fn certificate_facts(leaf: &Certificate, out: &mut Map<String, Value>) -> Result<(), String> {
    let mut unreadable = Vec::new();
    let mut note = |e: certslot::x509::FactError| unreadable.push(Value::String(e.to_string()));
    let (key_algorithm, key_bits, curve) = match leaf.public_key() {
        Ok(k) => (json!(k.algorithm().to_string()), json!(k.bits()), json!(k.curve().map(|c| c.to_string()))),
        Err(e) => {
            note(e);
            (Value::Null, Value::Null, Value::Null)
        }
    };
    let sans = leaf.subject_alt_names().unwrap_or_else(|e| {
        note(e);
        None
    });
    let sans = sans.unwrap_or_default();
    let dns_names: Vec<&str> = sans
        .iter()
        .filter_map(|n| if let GeneralName::Dns(d) = n { Some(d.as_str()) } else { None })
        .collect();
    let ip_addresses: Vec<String> = sans
        .iter()
        .filter_map(|n| if let GeneralName::Ip(ip) = n { Some(ip.to_string()) } else { None })
        .collect();
    let key_usage = match leaf.key_usage() {
        Ok(ku) => json!(ku.map(|k| k.bits().map(|b| b.name()).collect::<Vec<_>>())),
        Err(e) => {
            note(e);
            Value::Null
        }
    };
    let extended_key_usage = match leaf.extended_key_usage() {
        Ok(eku) => json!(eku.map(|v| v.iter().map(ToString::to_string).collect::<Vec<_>>())),
        Err(e) => {
            note(e);
            Value::Null
        }
    };
    let facts = json!({
        "thumbprint": leaf.thumbprint().to_string(),
        "sha256": leaf.sha256_fingerprint().to_string(),
        "subject": leaf.subject().to_string(),
        "issuer": leaf.issuer().to_string(),
        "serial": leaf.serial().to_string(),
        "not_before": rfc3339(leaf.not_before())?,
        "not_after": rfc3339(leaf.not_after())?,
        "version": format!("{:?}", leaf.version()).to_lowercase(),
        "signature_algorithm": leaf.signature_algorithm().to_string(),
        "key_algorithm": key_algorithm,
        "key_bits": key_bits,
        "curve": curve,
        "dns_names": dns_names,
        "ip_addresses": ip_addresses,
        "key_usage": key_usage,
        "extended_key_usage": extended_key_usage,
        "unreadable": unreadable,
    });
    if let Value::Object(facts) = facts {
        out.extend(facts);
    }
    Ok(())
}

fn run(args: &Args) -> Result<Value, String> {
    let password = match &args.password_env {
        // Read now so that a missing variable is reported whatever the file holds.
        Some(var) => Password::new(
            std::env::var(var)
                .map_err(|_| format!("environment variable {var} is not set or not Unicode"))?,
        ),
        None => Password::empty(),
    };
    let policy = match &args.sip_domain {
        Some(domain) => Some(Policy::oauth_token_issuer(domain).map_err(|e| e.to_string())?),
        None => None,
    };
    let bytes = std::fs::read(&args.file).map_err(|e| format!("cannot read {}: {e}", args.file))?;
    let mut out = Map::new();
    let leaf = match FileFormat::detect(&bytes) {
        FileFormat::Pfx => {
            let options = ImportOptions::default().require_key(false).require_certificate(false);
            let pfx = Pfx::import(&bytes, &password, options).map_err(|e| format!("{}: {e}", args.file))?;
            out.insert("format".into(), json!("pfx"));
            out.insert(
                "all_thumbprints".into(),
                json!(pfx.certificates().map(|c| c.thumbprint().to_string()).collect::<Vec<_>>()),
            );
            out.insert("has_private_key".into(), json!(pfx.private_key().is_some()));
            out.insert("protection".into(), json!(pfx.protection().to_string()));
            out.insert(
                "friendly_name".into(),
                json!(pfx.leaf().and_then(|l| pfx.friendly_name(l)).or(pfx.key_friendly_name())),
            );
            if let (None, Some(key)) = (pfx.leaf(), pfx.private_key()) {
                out.insert("key_algorithm".into(), json!(key.algorithm().to_string()));
                out.insert("key_bits".into(), json!(key.bits()));
            }
            pfx.leaf().cloned()
        }
        format => {
            let certs = Certificate::from_der_or_pem(&bytes).map_err(|e| format!("{}: {e}", args.file))?;
            out.insert("format".into(), json!(if format == FileFormat::Der { "der" } else { "pem" }));
            out.insert(
                "all_thumbprints".into(),
                json!(certs.iter().map(|c| c.thumbprint().to_string()).collect::<Vec<_>>()),
            );
            out.insert("has_private_key".into(), json!(false));
            certs.into_iter().next()
        }
    };
    if let Some(leaf) = &leaf {
        certificate_facts(leaf, &mut out)?;
    }
    if let Some(policy) = policy {
        let item = |code: &str, message: String| json!({ "code": code, "message": message });
        let (violations, warnings): (Vec<Value>, Vec<Value>) = match &leaf {
            Some(leaf) => {
                let report = policy.check(leaf, OffsetDateTime::now_utc());
                (
                    report.violations.iter().map(|v| item(v.code(), v.to_string())).collect(),
                    report.warnings.iter().map(|w| item(w.code(), w.to_string())).collect(),
                )
            }
            None => {
                (vec![item("no-certificate", "the file holds no certificate for its key".into())], vec![])
            }
        };
        out.insert("violations".into(), Value::Array(violations));
        out.insert("warnings".into(), Value::Array(warnings));
    }
    Ok(Value::Object(out))
}

fn main() -> ExitCode {
    use std::io::Write as _;
    let args = match parse_args() {
        Ok(Command::Inspect(args)) => args,
        Ok(Command::Help) => return cli::help(USAGE),
        Err(message) => return cli::usage_error(&message, USAGE),
    };
    match run(&args) {
        Ok(value) => {
            let mut stdout = std::io::stdout().lock();
            match writeln!(stdout, "{value}").and_then(|()| stdout.flush()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    // No panic on a closed pipe: report and fail.
                    let _ = writeln!(std::io::stderr(), "error: cannot write output: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Err(message) => {
            let line = message.replace('\n', " ");
            let _ = writeln!(std::io::stderr(), "error: {line}");
            ExitCode::FAILURE
        }
    }
}
