//! `request`: the certificate wizard's path ("Request, install or assign certificates"), on files.
//!
//! ```text
//! export CERTSLOT_KEY_PASSWORD='...'
//! cargo run --example request -- new --type OAuthTokenIssuer --pool pool01.contoso.com \
//!     --sip-domain contoso.com --out req.pem --key-out pending.p8 --password-env CERTSLOT_KEY_PASSWORD
//! # ... the CA answers with answer.p7b (or a PEM chain, or a DER certificate) ...
//! cargo run --example request -- complete --key pending.p8 --response answer.p7b --out cert.pfx \
//!     --sip-domain contoso.com --password-env CERTSLOT_KEY_PASSWORD
//! cargo run --example request -- self-signed --type OAuthTokenIssuer --pool pool01.contoso.com \
//!     --sip-domain contoso.com --days 730 --out cert.pfx --password-env CERTSLOT_KEY_PASSWORD
//! ```
//!
//! `new` makes a key and a PKCS #10 request from the type's preset, checked against the type's
//! policy before anything is signed, and keeps the key in an encrypted PKCS #8 file until the CA
//! answers. `complete` pairs the CA's answer with that key, orders and checks the chain, and writes
//! a PFX for `Import-CsCertificate`. `self-signed` makes the key and a self-signed certificate, as
//! Exchange and AD FS do for their token-signing certificates. Passwords come from an environment
//! variable, never the command line. Each prints the certificate's facts and the policy result like
//! `import`. `-h`/`--help` prints the usage ([`USAGE`]), exit code 0; a usage error exits 2; a
//! failure prints `error: ...` and exits 1.

#[path = "shared/cli.rs"]
mod cli;
#[path = "shared/facts.rs"]
mod facts;

use std::process::ExitCode;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, ExportOptions, Password, Pfx, PrivateKey, RequestTemplate, Store, TypeConfig,
    obtain::{CertificateRequest, SelfSignedOptions},
    pfx::Pkcs8Options,
    validate::{HumanTime, Rule},
    x509::Curve,
};
use getrandom::SysRng;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
const USAGE: &str = "\
usage: request new --type TYPE --pool FQDN --sip-domain DOMAIN --out REQ.pem --key-out KEY.p8
                   --password-env VAR [--key rsa2048|rsa3072|rsa4096|p256|p384] [--at RFC3339]
       request complete --key KEY.p8 --response ANSWER --out CERT.pfx --sip-domain DOMAIN
                   --password-env VAR [--type TYPE] [--at RFC3339]
       request self-signed --type TYPE --pool FQDN --sip-domain DOMAIN --out CERT.pfx
                   --password-env VAR [--days N] [--key ...] [--at RFC3339]

The certificate wizard's path: make a key and a certificate request for a certificate type of a
front-end pool (new), complete it with the CA's answer, a DER or PEM certificate, a PEM chain or
a PKCS #7 .p7b (complete), or make a self-signed token-signing certificate (self-signed).
Requests and certificates are checked against the type's policy before anything is signed.

options:
  --type TYPE          certificate type (OAuthTokenIssuer, Default, WebServicesInternal, ...)
  --pool FQDN          the front-end pool the certificate is for
  --sip-domain DOMAIN  the SIP domain
  --key ALGORITHM      the key to make: rsa2048 (default), rsa3072, rsa4096, p256, p384
  --password-env VAR   the password of the key file and of the PFX, from the environment variable VAR
  --days N             validity of a self-signed certificate, in days (default 730)
  --at RFC3339         act at this instant instead of now, e.g. 2026-11-25T13:36:02Z
  -h, --help           print this help and exit

exit status: 0 done; 1 refused or failed (with an `error:` line on stderr); 2 a usage error
";

/// What the command line asks for.
enum Command {
    New(Args),
    Complete(Args),
    SelfSigned(Args),
    Help,
}

#[derive(Default)]
struct Args {
    cert_type: Option<CertType>,
    pool: Option<String>,
    sip_domain: Option<String>,
    out: Option<String>,
    key_out: Option<String>,
    key: Option<String>,
    response: Option<String>,
    algorithm: Option<String>,
    password_env: Option<String>,
    days: Option<i64>,
    at: Option<OffsetDateTime>,
}

/// Reads the command line; an `Err` is a usage error, reported with [`USAGE`] and exit code 2.
fn parse_args() -> Result<Command, String> {
    let mut all = std::env::args_os().skip(1);
    let sub = match all.next().map(|a| a.into_string()) {
        None => return Err("no command given (new, complete or self-signed)".into()),
        Some(Err(a)) => return Err(format!("argument {a:?} is not valid Unicode")),
        Some(Ok(sub)) => sub,
    };
    if sub == "-h" || sub == "--help" {
        return Ok(Command::Help);
    }
    if sub.starts_with('-') {
        return Err(format!("unknown option {sub}"));
    }
    let mut args = Args::default();
    while let Some(arg) = all.next() {
        let arg = arg.into_string().map_err(|a| format!("argument {a:?} is not valid Unicode"))?;
        let mut value = |flag: &str| {
            all.next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .into_string()
                .map_err(|a| format!("the value of {flag}, {a:?}, is not valid Unicode"))
        };
        match arg.as_str() {
            "--type" => {
                let text = value("--type")?;
                args.cert_type = Some(text.parse().map_err(|e| format!("--type {text}: {e}"))?);
            }
            "--pool" => args.pool = Some(value("--pool")?),
            "--sip-domain" => args.sip_domain = Some(value("--sip-domain")?),
            "--out" => args.out = Some(value("--out")?),
            "--key-out" => args.key_out = Some(value("--key-out")?),
            "--key" if sub == "complete" => args.key = Some(value("--key")?),
            "--key" => args.algorithm = Some(value("--key")?),
            "--response" => args.response = Some(value("--response")?),
            "--password-env" => args.password_env = Some(value("--password-env")?),
            "--days" => {
                let text = value("--days")?;
                let days = text.parse::<i64>().ok().filter(|d| (1..=36_500).contains(d));
                args.days = Some(days.ok_or(format!("--days {text}: a whole number of days, 1 to 36500"))?);
            }
            "--at" => {
                let text = value("--at")?;
                args.at =
                    Some(OffsetDateTime::parse(&text, &Rfc3339).map_err(|e| format!("--at {text}: {e}"))?);
            }
            "-h" | "--help" => return Ok(Command::Help),
            flag if flag.starts_with('-') => return Err(format!("unknown option {flag}")),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let need = |present: bool, what: &str| if present { Ok(()) } else { Err(format!("{what} is required")) };
    need(args.password_env.is_some(), "--password-env VAR")?;
    need(args.out.is_some(), "--out FILE")?;
    need(args.sip_domain.is_some(), "--sip-domain DOMAIN")?;
    match sub.as_str() {
        "new" | "self-signed" => {
            need(args.cert_type.is_some(), "--type TYPE")?;
            need(args.pool.is_some(), "--pool FQDN")?;
            if sub == "new" {
                need(args.key_out.is_some(), "--key-out FILE")?;
                Ok(Command::New(args))
            } else {
                Ok(Command::SelfSigned(args))
            }
        }
        "complete" => {
            need(args.key.is_some(), "--key FILE")?;
            need(args.response.is_some(), "--response FILE")?;
            Ok(Command::Complete(args))
        }
        other => Err(format!("unknown command {other} (new, complete or self-signed)")),
    }
}

fn password(args: &Args) -> Result<Password, String> {
    let var = args.password_env.as_deref().unwrap_or_default();
    std::env::var(var).map(Password::new).map_err(|_| format!("environment variable {var} is not set"))
}

fn make_key(args: &Args, rng: &mut UnwrapErr<SysRng>) -> Result<PrivateKey, String> {
    let key = match args.algorithm.as_deref().unwrap_or("rsa2048") {
        "rsa2048" => PrivateKey::generate_rsa(2048, rng),
        "rsa3072" => PrivateKey::generate_rsa(3072, rng),
        "rsa4096" => PrivateKey::generate_rsa(4096, rng),
        "p256" => PrivateKey::generate_ec(Curve::P256, rng),
        "p384" => PrivateKey::generate_ec(Curve::P384, rng),
        other => return Err(format!("--key {other}: rsa2048, rsa3072, rsa4096, p256 or p384")),
    };
    key.map_err(|e| e.to_string())
}

/// The type's configuration for the SIP domain, as a store for that domain has it.
fn config(args: &Args) -> Result<(CertType, TypeConfig), String> {
    let cert_type = args.cert_type.clone().unwrap_or(CertType::OAuthTokenIssuer);
    let store =
        Store::for_sip_domain(args.sip_domain.as_deref().unwrap_or_default()).map_err(|e| e.to_string())?;
    let config = store.type_config(&cert_type).into_owned();
    Ok((cert_type, config))
}

fn write(path: &str, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {path}: {e}"))
}

fn new(args: &Args, at: OffsetDateTime) -> Result<(), String> {
    let mut rng = UnwrapErr(SysRng);
    let (cert_type, config) = config(args)?;
    let (pool, domain) =
        (args.pool.as_deref().unwrap_or_default(), args.sip_domain.as_deref().unwrap_or_default());
    let template = RequestTemplate::for_type(&cert_type, pool, domain).map_err(|e| e.to_string())?;
    println!("Request-CsCertificate -New -Type {cert_type} (pool {pool}, SIP domain {domain})");
    let key = make_key(args, &mut rng)?;
    let request = CertificateRequest::new(&template, &key, config.get_policy(), at, &mut rng)
        .map_err(|e| e.to_string())?;
    let sealed = key
        .to_encrypted_pkcs8_pem(&password(args)?, Pkcs8Options::default(), &mut rng)
        .map_err(|e| e.to_string())?;
    let (out, key_out) =
        (args.out.as_deref().unwrap_or_default(), args.key_out.as_deref().unwrap_or_default());
    write(key_out, sealed.as_bytes())?;
    write(out, request.to_pem().as_bytes())?;
    println!("\n  Subject    : {}", template.subject());
    println!("  DNS names  : {}", template.dns_names().join(", "));
    println!("  Key        : {} {} bits", key.algorithm(), key.bits().map_or("?".into(), |b| b.to_string()));
    println!("\n{cert_type} policy at {}: the certificate asked for passes it", HumanTime(at));
    println!("\nRequest written to {out}; the pending key, encrypted, to {key_out}.");
    println!("Send the request to the CA, then run `request complete` with its answer.");
    Ok(())
}

/// Prints the facts and the policy result of a made certificate and writes its PFX.
fn finish(
    args: &Args,
    pfx: &Pfx,
    cert_type: &CertType,
    config: &TypeConfig,
    at: OffsetDateTime,
) -> Result<bool, String> {
    let leaf = pfx.leaf().ok_or("no certificate for the key")?;
    println!("\nCertificate (with private key):\n{}", facts::summary(leaf));
    for (i, cert) in pfx.chain().iter().enumerate() {
        println!("Chain certificate {}: {} {}", i + 1, cert.thumbprint(), cert.subject());
    }
    let report = config.get_policy().check(leaf, at);
    println!("\n{cert_type} policy at {}:", HumanTime(at));
    facts::print_report(&report);
    let key = pfx.private_key().ok_or("no private key")?;
    let chain: Vec<_> = pfx.chain().into_iter().cloned().collect();
    let bytes =
        Pfx::export(leaf, key, &chain, &password(args)?, &ExportOptions::default(), &mut UnwrapErr(SysRng))
            .map_err(|e| e.to_string())?;
    let out = args.out.as_deref().unwrap_or_default();
    write(out, &bytes)?;
    println!("\nPFX written to {out}: Import-CsCertificate -Type {cert_type} -Path {out}");
    Ok(report.is_ok())
}

fn self_signed(args: &Args, at: OffsetDateTime) -> Result<bool, String> {
    let mut rng = UnwrapErr(SysRng);
    let (cert_type, config) = config(args)?;
    let (pool, domain) =
        (args.pool.as_deref().unwrap_or_default(), args.sip_domain.as_deref().unwrap_or_default());
    let template = RequestTemplate::for_type(&cert_type, pool, domain).map_err(|e| e.to_string())?;
    println!("New self-signed {cert_type} certificate (pool {pool}, SIP domain {domain})");
    let key = make_key(args, &mut rng)?;
    let options = SelfSignedOptions::default()
        .validity(Duration::days(args.days.unwrap_or(730)))
        .map_err(|e| e.to_string())?;
    let pfx =
        template.self_signed(key, config.get_policy(), at, options, &mut rng).map_err(|e| e.to_string())?;
    finish(args, &pfx, &cert_type, &config, at)
}

fn complete(args: &Args, at: OffsetDateTime) -> Result<bool, String> {
    let (cert_type, config) = config(args)?;
    let key_path = args.key.as_deref().unwrap_or_default();
    let response_path = args.response.as_deref().unwrap_or_default();
    let key_text = std::fs::read(key_path).map_err(|e| format!("cannot read {key_path}: {e}"))?;
    let response = std::fs::read(response_path).map_err(|e| format!("cannot read {response_path}: {e}"))?;
    let key =
        PrivateKey::from_pem(&key_text, Some(&password(args)?)).map_err(|e| format!("{key_path}: {e}"))?;
    println!("Request-CsCertificate -Complete with {response_path}");
    let pfx = certslot::obtain::complete_request(key, &response, None)
        .map_err(|e| format!("{response_path}: {e}"))?;
    finish(args, &pfx, &cert_type, &config, at)
}

fn main() -> ExitCode {
    let command = match parse_args() {
        Ok(Command::Help) => return cli::help(USAGE),
        Ok(command) => command,
        Err(message) => return cli::usage_error(&message, USAGE),
    };
    let result = match &command {
        Command::New(args) => new(args, args.at.unwrap_or_else(OffsetDateTime::now_utc)).map(|()| true),
        Command::SelfSigned(args) => self_signed(args, args.at.unwrap_or_else(OffsetDateTime::now_utc)),
        Command::Complete(args) => complete(args, args.at.unwrap_or_else(OffsetDateTime::now_utc)),
        Command::Help => Ok(true),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("error: the certificate breaks the type's policy");
            ExitCode::FAILURE
        }
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}
