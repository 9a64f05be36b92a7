//! `autorenew`: unattended rollover, simulated. Three years (by default) of a pool of three
//! front-end servers whose OAuthTokenIssuer certificate follows a rollover preset (Exchange's by
//! default) and renews itself with self-signed certificates. The example drives certslot the
//! way a coordinator would: at every `next_plan_due` it lets servers report what they picked up
//! (each after its own delay), calls `advance`, asks `plan` what must happen and `renew`s when told
//! to. It prints each action, each change of the published key set, a timeline chart with one row
//! per certificate, and the guarantees it checked along the way.
//!
//! ```text
//! cargo run --example autorenew
//! cargo run --example autorenew -- --preset duende --years 2 --state autorenew-state.json
//! ```
//!
//! `-h` or `--help` prints the usage ([`USAGE`]) on stdout, exit code 0; a usage error prints an
//! `error: ...` line and the usage on stderr, exit code 2; a broken guarantee or a failed
//! operation exits with code 1.

#[path = "shared/cli.rs"]
mod cli;

use std::collections::{BTreeMap, BTreeSet};
use std::process::ExitCode;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, Event, Policy, PrivateKey, RequestTemplate, RollOptions, RolloverPolicy, Scope, Store,
    Thumbprint,
    obtain::{SelfSignedIssuer, SelfSignedOptions},
    policy::{RenewBefore, Retention},
    publish::KeyStatus,
    rollover::Action,
};
use getrandom::SysRng;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Duration, OffsetDateTime};

const POOL: &str = "pool01.contoso.com";
const SIP_DOMAIN: &str = "contoso.com";
/// The front-ends and how long each takes to pick a new certificate up.
const SERVERS: [(&str, Duration); 3] = [
    ("fe01.contoso.com", Duration::hours(2)),
    ("fe02.contoso.com", Duration::hours(26)),
    ("fe03.contoso.com", Duration::days(3)),
];
const OAUTH: CertType = CertType::OAuthTokenIssuer;
const COLUMNS: i64 = 72;

/// The usage, printed on stdout for `-h`/`--help` and on stderr after a usage error.
const USAGE: &str = "\
usage: autorenew [--preset exchange|adfs|duende|lync] [--years N] [--start RFC3339] [--state PATH]

Simulates unattended rollover of a pool's OAuthTokenIssuer certificate: three front-ends that
pick certificates up after 2 hours, 26 hours and 3 days, a rollover preset, and self-signed
renewal. Prints every action, every change of the published keys, a timeline chart, and the
guarantees checked.

options:
  --preset NAME     the rollover preset: exchange (default), adfs, duende or lync
  --years N         how many years to simulate, 1 to 10 (default 3)
  --start RFC3339   when the simulation starts (default 2026-11-29T10:00:00Z)
  --state PATH      write the store's final state (JSON, without keys) to PATH
  -h, --help        print this help and exit

exit status: 0 every guarantee held; 1 one broke or an operation failed; 2 a usage error
";

struct Args {
    preset: &'static str,
    rollover: RolloverPolicy,
    years: i64,
    start: OffsetDateTime,
    state: Option<String>,
}

enum Command {
    Run(Args),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut parsed = Args {
        preset: "exchange",
        rollover: RolloverPolicy::exchange(),
        years: 3,
        start: time::macros::datetime!(2026-11-29 10:00 UTC),
        state: None,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" => return Ok(Command::Help),
            "--preset" => {
                let name = value("--preset")?;
                (parsed.preset, parsed.rollover) = match name.as_str() {
                    "exchange" => ("exchange", RolloverPolicy::exchange()),
                    "adfs" => ("adfs", RolloverPolicy::adfs()),
                    "duende" => ("duende", RolloverPolicy::duende()),
                    "lync" => ("lync", RolloverPolicy::lync()),
                    other => return Err(format!("unknown preset {other:?}")),
                };
            }
            "--years" => {
                let text = value("--years")?;
                parsed.years = text
                    .parse()
                    .ok()
                    .filter(|y| (1..=10).contains(y))
                    .ok_or_else(|| format!("--years takes 1 to 10, not {text:?}"))?;
            }
            "--start" => {
                let text = value("--start")?;
                parsed.start = OffsetDateTime::parse(&text, &Rfc3339)
                    .map_err(|_| format!("--start is not an RFC 3339 instant: {text:?}"))?;
            }
            "--state" => parsed.state = Some(value("--state")?),
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    Ok(Command::Run(parsed))
}

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)) {
        Ok(Command::Help) => cli::help(USAGE),
        Err(message) => cli::usage_error(&message, USAGE),
        Ok(Command::Run(args)) => match run(&args) {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::FAILURE,
            Err(message) => {
                eprintln!("error: {message}");
                ExitCode::FAILURE
            }
        },
    }
}

fn day(t: OffsetDateTime) -> String {
    t.format(format_description!("[year]-[month]-[day] [hour]:[minute]")).unwrap_or_default()
}

fn span(d: Duration) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match (d.whole_days(), d.whole_hours() % 24) {
        (0, h) => plural(h, "hour"),
        (days, 0) => plural(days, "day"),
        (days, h) => format!("{} {}", plural(days, "day"), plural(h, "hour")),
    }
}

/// Short names for certificates, in the order they appear: A, B, C, ...
#[derive(Default)]
struct Labels(Vec<Thumbprint>);

impl Labels {
    fn of(&mut self, thumbprint: Thumbprint) -> String {
        let index = self.0.iter().position(|t| *t == thumbprint).unwrap_or_else(|| {
            self.0.push(thumbprint);
            self.0.len() - 1
        });
        let letter = char::from(b'A' + (index % 26) as u8);
        format!("{letter} {}", &thumbprint.to_string()[..8])
    }
}

/// What the driver watches to check the guarantees.
#[derive(Default)]
struct Checks {
    instants: usize,
    no_current: Vec<OffsetDateTime>,
    /// First instant each certificate was published.
    published: BTreeMap<Thumbprint, OffsetDateTime>,
    /// Shortest notice a roll had, and rolls with less than publish-ahead.
    shortest_notice: Option<Duration>,
    short_notice: Vec<Thumbprint>,
    /// The last token each key signed: its expiry.
    tokens: BTreeMap<Thumbprint, OffsetDateTime>,
    tokens_checked: usize,
    failed_tokens: Vec<(Thumbprint, OffsetDateTime)>,
    unstaged_rolls: Vec<Thumbprint>,
    critical: Vec<String>,
}

fn run(args: &Args) -> Result<bool, String> {
    let rollover = args.rollover;
    let start = args.start;
    let end = start + Duration::days(365 * args.years);
    let mut store = Store::for_sip_domain(SIP_DOMAIN).map_err(|e| e.to_string())?;
    let config = store.type_config(&OAUTH).into_owned().rollover(rollover).require_staged(true);
    store.configure_type(OAUTH, config).map_err(|e| e.to_string())?;
    store.add_site("redmond").map_err(|e| e.to_string())?;
    store.add_pool(POOL, "redmond").map_err(|e| e.to_string())?;
    for (server, _) in SERVERS {
        store.add_server(server, POOL).map_err(|e| e.to_string())?;
    }
    let scope = Scope::pool(POOL).map_err(|e| e.to_string())?;

    // The certificate in place when the simulation starts: made long ago, with 40 days left
    // before its renewal window opens.
    let lifetime = rollover.get_certificate_lifetime();
    let window = match rollover.get_renew_before() {
        RenewBefore::Expiry(before) => before,
        RenewBefore::LifetimeFraction { numerator, denominator } => {
            lifetime - lifetime * f64::from(numerator) / f64::from(denominator)
        }
        _ => Duration::days(30),
    };
    let made = start + window + Duration::days(40) - lifetime;
    let mut rng = UnwrapErr(SysRng);
    let template = RequestTemplate::for_type(&OAUTH, POOL, SIP_DOMAIN).map_err(|e| e.to_string())?;
    let policy = Policy::oauth_token_issuer(SIP_DOMAIN).map_err(|e| e.to_string())?;
    let key = PrivateKey::generate_rsa(2048, &mut rng).map_err(|e| e.to_string())?;
    let options = SelfSignedOptions::default().validity(lifetime).map_err(|e| e.to_string())?;
    let first = template.self_signed(key, &policy, made, options, &mut rng).map_err(|e| e.to_string())?;
    let first = store.add_pfx(first).map_err(|e| e.to_string())?;
    store.set(&[OAUTH], &scope, &first, start, RollOptions::default()).map_err(|e| e.to_string())?;
    let mut issuer = SelfSignedIssuer::new(UnwrapErr(SysRng));

    let retain = match rollover.get_retain_previous() {
        Retention::For(d) => format!("previous kept {} after the roll", span(d)),
        _ => "previous kept until it expires".to_owned(),
    };
    println!(
        "autorenew: {} years of {POOL} ({}) with the {} preset",
        args.years,
        SERVERS.map(|(s, _)| s.split('.').next().unwrap_or(s)).join(", "),
        args.preset
    );
    println!(
        "  new certificates valid {}, renewal window {} before expiry, published {} ahead, {retain}, \
         tokens {}",
        span(lifetime),
        span(window),
        span(rollover.get_publish_ahead()),
        span(rollover.get_token_lifetime())
    );
    println!(
        "  servers pick certificates up after {}; rolls wait until all of them hold the certificate\n",
        SERVERS.map(|(_, d)| span(d)).join(", ")
    );

    let mut labels = Labels::default();
    let mut checks = Checks::default();
    let mut snapshots: Vec<(OffsetDateTime, BTreeMap<Thumbprint, KeyStatus>)> = Vec::new();
    let mut seen: Vec<BTreeMap<Thumbprint, OffsetDateTime>> = vec![BTreeMap::new(); SERVERS.len()];
    let stored = store.inventory().get(&first).map(|s| s.certificate.not_after()).unwrap_or(start);
    println!("{}  set      {} as current (expires {})", day(start), labels.of(first), day(stored));
    let signer =
        |store: &Store| store.resolve(&OAUTH, &scope).and_then(|(_, s)| s.current()).map(|c| c.thumbprint);
    let token_lifetime = rollover.get_token_lifetime();
    let mut t = start;
    loop {
        checks.instants += 1;
        if let Some(key) = signer(&store) {
            checks.tokens.insert(key, t - Duration::NANOSECOND + token_lifetime);
        }
        // The agents: each server holds what it was told to hold once its delay has passed.
        for (i, (server, delay)) in SERVERS.iter().enumerate() {
            let desired = store.desired(server, t).map_err(|e| e.to_string())?;
            let mut held = Vec::new();
            for d in &desired {
                let first_seen = *seen[i].entry(d.thumbprint).or_insert(t);
                if first_seen + *delay <= t {
                    if first_seen + *delay == t {
                        println!("{}  staged   {} on {server}", day(t), labels.of(d.thumbprint));
                    }
                    held.push(d.thumbprint);
                }
            }
            store.record_holdings(server, held, t).map_err(|e| e.to_string())?;
        }
        for event in store.advance(t).map_err(|e| e.to_string())?.events {
            match &event {
                Event::Rolled { thumbprint, previous, applied_at, .. } => {
                    let notice = checks.published.get(thumbprint).map(|p| *applied_at - *p);
                    if notice.is_none_or(|n| n < rollover.get_publish_ahead()) {
                        checks.short_notice.push(*thumbprint);
                    }
                    if let Some(n) = notice {
                        checks.shortest_notice = Some(checks.shortest_notice.map_or(n, |s| s.min(n)));
                    }
                    let unstaged = SERVERS.iter().any(|(s, _)| {
                        !store.topology().holdings(s).is_some_and(|h| h.thumbprints.contains(thumbprint))
                    });
                    if unstaged {
                        checks.unstaged_rolls.push(*thumbprint);
                    }
                    let previous =
                        previous.map(|p| format!("; {} is previous", labels.of(p))).unwrap_or_default();
                    println!("{}  rolled   {} is current{previous}", day(t), labels.of(*thumbprint));
                }
                Event::PreviousDropped { thumbprint, reason, .. } => {
                    println!("{}  dropped  {} ({reason:?})", day(t), labels.of(*thumbprint));
                }
                Event::RollBlocked { thumbprint, servers, .. } => {
                    println!(
                        "{}  blocked  {} waits for {}",
                        day(t),
                        labels.of(*thumbprint),
                        servers.join(", ")
                    );
                }
                other => println!("{}  event    {other}", day(t)),
            }
        }
        for action in certslot::rollover::plan(&store, t) {
            match &action {
                Action::Renew { cert_type, scope, .. } => {
                    println!("{}  plan     {action}", day(t));
                    let renewal = certslot::rollover::renew(
                        &mut store,
                        cert_type,
                        scope,
                        &mut issuer,
                        t,
                        Default::default(),
                    )
                    .map_err(|e| e.to_string())?;
                    println!(
                        "{}  renewed  {} made; rolls in at {}{}",
                        day(t),
                        labels.of(renewal.thumbprint),
                        day(renewal.effective_at),
                        if renewal.shortened { " (shortened: the renewal came late)" } else { "" }
                    );
                }
                Action::Critical { .. } | Action::Expired { .. } => {
                    println!("{}  plan     {action}", day(t));
                    checks.critical.push(action.to_string());
                }
                // Staging and due rolls are the agents' and `advance`'s work.
                _ => {}
            }
        }
        if signer(&store)
            .and_then(|c| store.inventory().get(&c))
            .is_none_or(|s| !s.certificate.is_valid_at(t))
        {
            checks.no_current.push(t);
        }
        // The agents see new assignments (a renewal's pending certificate) at once; they pick
        // them up after their delay.
        for (i, (server, _)) in SERVERS.iter().enumerate() {
            for d in store.desired(server, t).map_err(|e| e.to_string())? {
                seen[i].entry(d.thumbprint).or_insert(t);
            }
        }
        let in_order: Vec<(Thumbprint, KeyStatus)> =
            certslot::publish::published_keys(&store, &OAUTH, &scope, t)
                .iter()
                .map(|k| (k.certificate.thumbprint(), k.status))
                .collect();
        let published: BTreeMap<Thumbprint, KeyStatus> = in_order.iter().copied().collect();
        for key in published.keys() {
            checks.published.entry(*key).or_insert(t);
        }
        for (key, expiry) in &checks.tokens {
            if *expiry >= t {
                checks.tokens_checked += 1;
                if !published.contains_key(key) {
                    checks.failed_tokens.push((*key, *expiry));
                }
            }
        }
        checks.tokens.retain(|_, expiry| *expiry >= t);
        if let Some(key) = signer(&store) {
            checks.tokens.insert(key, t + token_lifetime);
        }
        if snapshots.last().is_none_or(|(_, last)| *last != published) {
            let keys: Vec<String> =
                in_order.iter().map(|(k, s)| format!("{} {}", labels.of(*k), status_word(*s))).collect();
            println!("{}  keys     {}", day(t), keys.join(", "));
            snapshots.push((t, published));
        }

        let pickups = seen
            .iter()
            .zip(SERVERS)
            .flat_map(|(firsts, (_, delay))| firsts.values().map(move |s| *s + delay));
        let next = [certslot::rollover::next_plan_due(&store)]
            .into_iter()
            .flatten()
            .chain(pickups)
            .chain(checks.tokens.values().copied())
            .filter(|n| *n > t)
            .min();
        match next {
            Some(n) if n <= end => t = n,
            _ => break,
        }
    }

    chart(&snapshots, &mut labels, start, end);
    if let Some(path) = &args.state {
        let json = store.to_json().map_err(|e| format!("cannot write {path}: {e}"))?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {path}: {e}"))?;
        println!("\nstate written to {path} (revision {})", store.revision());
    }
    Ok(report(&checks, &rollover))
}

fn status_word(status: KeyStatus) -> &'static str {
    match status {
        KeyStatus::Signing => "signing",
        KeyStatus::Announced => "announced",
        KeyStatus::Retained => "accepted",
        _ => "published",
    }
}

/// One row per certificate, one column per `(end - start) / COLUMNS`: `·` published before it
/// signs, `█` signing, `▒` accepted only, `×` the column it was retired in.
fn chart(
    snapshots: &[(OffsetDateTime, BTreeMap<Thumbprint, KeyStatus>)],
    labels: &mut Labels,
    start: OffsetDateTime,
    end: OffsetDateTime,
) {
    let width = (end - start) / COLUMNS as f64;
    println!("\ntimeline, {} to {}, one column = {}:", day(start), day(end), span(width));
    let certificates: BTreeSet<Thumbprint> = snapshots.iter().flat_map(|(_, s)| s.keys().copied()).collect();
    let mut rows: Vec<(usize, String)> = Vec::new();
    for cert in certificates {
        let mut row = String::new();
        let mut was_published = false;
        let mut retired = false;
        for column in 0..COLUMNS {
            let at = start + width * column as f64;
            let state = snapshots.iter().rev().find(|(t, _)| *t <= at).and_then(|(_, s)| s.get(&cert));
            row.push(match (state, was_published, retired) {
                (Some(KeyStatus::Announced), ..) => '·',
                (Some(KeyStatus::Signing), ..) => '█',
                (Some(_), ..) => '▒',
                (None, true, false) => {
                    retired = true;
                    '×'
                }
                (None, ..) => ' ',
            });
            was_published |= state.is_some();
        }
        let label = labels.of(cert);
        let order = labels.0.iter().position(|t| *t == cert).unwrap_or(usize::MAX);
        rows.push((order, format!("  {label}  |{}|", row.trim_end())));
    }
    rows.sort();
    for (_, row) in rows {
        println!("{row}");
    }
    println!("  legend: · published, not signing yet   █ signing   ▒ accepted only   × retired");
}

fn report(checks: &Checks, rollover: &RolloverPolicy) -> bool {
    let mut ok = true;
    let mut line = |held: bool, text: String| {
        ok &= held;
        println!("  {} {text}", if held { "✓" } else { "✗" });
    };
    println!("\nguarantees checked at {} instants:", checks.instants);
    line(
        checks.no_current.is_empty(),
        format!("a valid signing certificate at every instant ({} without)", checks.no_current.len()),
    );
    line(
        checks.short_notice.is_empty(),
        format!(
            "every certificate published at least {} before it signed (shortest notice: {})",
            span(rollover.get_publish_ahead()),
            checks.shortest_notice.map_or("no roll happened".to_owned(), span)
        ),
    );
    line(
        checks.failed_tokens.is_empty(),
        format!(
            "every token of up to {} verifiable until it expired ({} checks, {} failed)",
            span(rollover.get_token_lifetime()),
            checks.tokens_checked,
            checks.failed_tokens.len()
        ),
    );
    line(
        checks.unstaged_rolls.is_empty(),
        format!("no roll before all {} servers held the certificate", SERVERS.len()),
    );
    line(
        checks.critical.is_empty(),
        format!("never critical, never expired ({} times)", checks.critical.len()),
    );
    ok
}
