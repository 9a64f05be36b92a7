//! The no-gap guarantee of unattended rollover, property-tested: over random rollover policies,
//! certificate lifetimes, server counts, staging delays and wake-up steps (more than 10⁵
//! simulated days in all, from a fixed seed), a driver that calls `advance`, `plan` and `renew`
//! at least at every `next_plan_due`, with certslot's self-signed issuer renewing, keeps:
//!
//! 1. a current certificate valid at every instant;
//! 2. every certificate published at least `publish_ahead` before it first signs;
//! 3. every token (lifetime up to the type's token lifetime) verifiable until it expires;
//! 4. with staging required, no roll before every server holds the certificate;
//! 5. policies that cannot keep 1–4 refused with a typed error when configured;
//! 6. with partners required (each fetching the keys every few hours, or never), no roll before
//!    every one of them fetched a set announcing the certificate, except at the roll's last
//!    compliant instant (the outgoing certificate's, or the incoming one's renewal deadline if
//!    sooner), where it rolls anyway and says which partners had not (`PartnerGateYielded`), and
//!    1–3 still hold;
//! 7. with a renewal window (random days, start, length and UTC offset), every renewal made and
//!    every roll applied inside a window (a roll at its last compliant instant excepted, where a
//!    gate yields), no renewal shortened, and 1–6 still hold; a window that could leave a gap
//!    refused (`WindowLeavesGap`);
//! 8. with a CA that renews itself and issues leaves that outlive it, each certificate's end is
//!    its chain's (`effective_end`): renewed earlier, never used past it, and 1–7 still hold.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, Event, Policy, PrivateKey, RequestTemplate, RollOptions, RolloverPolicy, Scope, SlotError,
    Store, Thumbprint,
    obtain::{SelfSignedIssuer, SelfSignedOptions},
    policy::{RenewBefore, RenewalWindow, Retention, RolloverError, Weekdays},
    rollover::Action,
};
use getrandom::SysRng;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const OAUTH: CertType = CertType::OAuthTokenIssuer;
const T0: OffsetDateTime = datetime!(2026-11-29 10:00 UTC);
const POOL: &str = "pool01.contoso.com";
const NS: Duration = Duration::nanoseconds(1);
const SEED: [u8; 32] = *b"certslot rollover no-gap seed 01";
const CASES: u32 = 64;
const MIN_TOTAL_DAYS: i64 = 100_000;

fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Four RSA 2048 keys, made once; the issuer draws from them in turn.
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| (0..4).map(|_| PrivateKey::generate_rsa(2048, &mut rng()).expect("key")).collect())
}

/// One simulated deployment.
#[derive(Clone, Debug)]
struct Case {
    lifetime_days: i64,
    lead_hours: i64,
    token_minutes: i64,
    /// Publish-ahead beyond the lead time, in hours.
    publish_extra_hours: i64,
    /// `None`: renew before expiry by the needed window plus this share (per mille) of the rest;
    /// `Some((n, d))`: at that fraction of the lifetime.
    renew: Result<i64, (u16, u16)>,
    /// Per mille of the range from the shortest to the longest allowed critical threshold.
    critical_per_mille: i64,
    /// `None`: until expiry; else hours beyond the token lifetime.
    retain_extra_hours: Option<i64>,
    /// Which field to break, if any: 1 publish-ahead, 2 critical, 3 retention, 4 renewal window.
    break_field: u8,
    /// Each server's pick-up delay, per mille of publish-ahead.
    delays: Vec<i64>,
    require_staged: bool,
    /// Each partner's fetch period in hours, or `None`: it never fetches.
    partners: Vec<Option<i64>>,
    /// Whether rolls wait for the partners.
    require_partners: bool,
    /// Extra wake-ups this often, in hours.
    step_hours: i64,
    days: i64,
    /// A renewal window: days (bit 0 Monday), start and length in minutes, UTC offset in minutes.
    window: Option<(u8, u16, u16, i16)>,
    /// Renewals from a CA that renews itself ([`RollingCa`]), its lifetime beyond what the
    /// policy needs this share (per mille) of the certificate lifetime; `None`: self-signed.
    ca: Option<i64>,
}

fn cases() -> impl Strategy<Value = Case> {
    (
        (20_i64..=400, 0_i64..=48, 0_i64..=24 * 60, 0_i64..=1000),
        (prop_oneof![(0_i64..=1000).prop_map(Ok), (1_u16..=9, 10_u16..=12).prop_map(Err)], 0_i64..=1000),
        (
            proptest::option::of(prop_oneof![Just(0_i64), 0_i64..=72]),
            prop_oneof![7 => Just(0_u8), 1 => 1_u8..=4],
        ),
        (proptest::collection::vec(0_i64..=1000, 0..=4), any::<bool>(), 1_i64..=120, 2400_i64..=3000),
        (proptest::collection::vec(proptest::option::of(1_i64..=24 * 20), 0..=3), any::<bool>()),
        (
            prop_oneof![
                Just(None),
                (1_u8..=127, 0_u16..24 * 60, 30_u16..=24 * 60, -12 * 60_i16..=14 * 60).prop_map(Some)
            ],
            proptest::option::of(0_i64..=1500),
        ),
    )
        .prop_map(
            |(
                (lifetime_days, lead, token_minutes, publish),
                (renew, critical),
                (retain, brk),
                rest,
                partners,
                (window, ca),
            )| {
                let (delays, require_staged, step_hours, days) = rest;
                let (partners, require_partners) = partners;
                Case {
                    lifetime_days,
                    // The lead time is at most a tenth of the lifetime; publish-ahead beyond it up to
                    // a fifth of the lifetime (per mille of that).
                    lead_hours: lead.min(lifetime_days * 24 / 10),
                    token_minutes,
                    publish_extra_hours: lifetime_days * 24 / 5 * publish / 1000,
                    renew,
                    critical_per_mille: critical,
                    retain_extra_hours: retain,
                    break_field: brk,
                    delays,
                    require_staged,
                    partners,
                    require_partners,
                    step_hours,
                    days,
                    window,
                    ca,
                }
            },
        )
}

impl Case {
    fn policy(&self) -> (RolloverPolicy, Duration) {
        let lead = Duration::hours(self.lead_hours);
        let token = Duration::minutes(self.token_minutes);
        let lifetime = Duration::days(self.lifetime_days);
        let mut publish = lead + Duration::hours(self.publish_extra_hours);
        let hold = lead.max(token);
        let needed = publish + hold;
        let mut renew = match self.renew {
            Ok(per_mille) => RenewBefore::Expiry(
                needed + per_mille_of((lifetime - needed).max(Duration::ZERO), per_mille / 2),
            ),
            Err((numerator, denominator)) => RenewBefore::LifetimeFraction { numerator, denominator },
        };
        let mut critical = hold + per_mille_of(needed - hold, self.critical_per_mille);
        let mut retain = match self.retain_extra_hours {
            Some(h) => Retention::For(token + Duration::hours(h)),
            None => Retention::UntilExpiry,
        };
        match self.break_field {
            1 if lead.is_positive() => publish = lead - Duration::SECOND,
            2 => critical = needed + Duration::SECOND,
            3 if token.is_positive() => retain = Retention::For(token - Duration::SECOND),
            4 => renew = RenewBefore::Expiry(needed - Duration::SECOND),
            _ => {}
        }
        let policy = RolloverPolicy::lync()
            .certificate_lifetime(lifetime)
            .publish_ahead(publish)
            .token_lifetime(token)
            .renew_before(renew)
            .critical_before(critical)
            .retain_previous(retain)
            .renewal_window(self.renewal_window());
        (policy, lead)
    }

    fn renewal_window(&self) -> Option<RenewalWindow> {
        let (days, start, length, offset) = self.window?;
        let days = (0..7)
            .filter(|i| days & 1 << i != 0)
            .fold(Weekdays::empty(), |set, i| set.with(time::Weekday::Monday.nth_next(i)));
        let start = time::Time::from_hms((start / 60) as u8, (start % 60) as u8, 0).expect("time");
        let offset = time::UtcOffset::from_whole_seconds(i32::from(offset) * 60).expect("offset");
        Some(RenewalWindow::new(days, start, Duration::minutes(length.into()), offset).expect("window"))
    }
}

/// `span × per_mille / 1000`, to the nanosecond.
fn per_mille_of(span: Duration, per_mille: i64) -> Duration {
    Duration::nanoseconds((span.whole_nanoseconds() * i128::from(per_mille) / 1000) as i64)
}

/// Runs one case; returns the simulated days (0 when the policy is refused, as it must be).
/// How many rolls the partner gate held until it yielded, and how many a partner's fetch
/// released, over all cases (so that property 6 is not vacuous).
static YIELDED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static RELEASED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// How many cases had a renewal window, and how many rolls were checked against one.
static WINDOWED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static WINDOW_ROLLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// How many renewals came with a chain that ends before them.
static CHAINED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Self-signed renewals, or from the rolling CA.
enum TestIssuer {
    SelfSigned(SelfSignedIssuer<UnwrapErr<SysRng>>),
    Ca(RollingCa),
}

impl certslot::obtain::Issuer for TestIssuer {
    type Error = certslot::RequestError;

    fn key(&mut self, spec: certslot::obtain::KeySpec) -> Result<PrivateKey, Self::Error> {
        match self {
            Self::SelfSigned(i) => i.key(spec),
            Self::Ca(i) => i.key(spec),
        }
    }

    fn issue(
        &mut self,
        request: &certslot::obtain::IssueRequest<'_>,
    ) -> Result<Vec<certslot::Certificate>, Self::Error> {
        match self {
            Self::SelfSigned(i) => i.issue(request),
            Self::Ca(i) => i.issue(request),
        }
    }
}

fn simulate(case: &Case) -> Result<i64, TestCaseError> {
    let (rollover, lead) = case.policy();
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    let partners: Vec<String> = (0..case.partners.len()).map(|i| format!("partner{i}")).collect();
    for partner in &partners {
        store.add_partner(partner).expect("partner");
    }
    let required: &[String] = if case.require_partners { &partners } else { &[] };
    let config = store
        .type_config(&OAUTH)
        .into_owned()
        .lead_time(lead)
        .require_staged(case.require_staged)
        .require_fetched_by(required)
        .rollover(rollover);
    // 5. A policy that cannot keep the guarantees is refused, typed, before it is used.
    if let Err(e) = rollover.check(lead) {
        let typed = matches!(
            e,
            RolloverError::PublishAheadBelowLeadTime { .. }
                | RolloverError::CriticalOutOfRange { .. }
                | RolloverError::RetentionBelowTokenLifetime { .. }
                | RolloverError::RenewTooLate { .. }
                | RolloverError::LifetimeTooShort { .. }
                | RolloverError::WindowLeavesGap { .. }
        );
        prop_assert!(typed, "unexpected refusal {:?}", e);
        prop_assert_eq!(
            store.configure_type(OAUTH, config),
            Err(SlotError::InvalidRollover { cert_type: OAUTH, source: e })
        );
        return Ok(0);
    }
    prop_assert!(case.break_field == 0 || !rollover_breaks(case), "a broken policy passed: {rollover:?}");
    let window = rollover.get_renewal_window();
    if window.is_some() {
        WINDOWED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    store.configure_type(OAUTH, config).expect("checked");
    store.add_site("redmond").expect("site");
    store.add_pool(POOL, "redmond").expect("pool");
    let servers: Vec<String> = (0..case.delays.len()).map(|i| format!("fe{i}.contoso.com")).collect();
    for server in &servers {
        store.add_server(server, POOL).expect("server");
    }
    let scope = Scope::pool(POOL).expect("pool");
    let publish_ahead = rollover.get_publish_ahead();
    let token_lifetime = rollover.get_token_lifetime();
    let delays: Vec<Duration> = case.delays.iter().map(|d| per_mille_of(publish_ahead, *d)).collect();

    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let template = RequestTemplate::for_type(&OAUTH, POOL, "contoso.com").expect("template");
    let options =
        SelfSignedOptions::default().validity(rollover.get_certificate_lifetime()).expect("validity");
    let first =
        template.self_signed(keys()[0].clone(), &policy, T0, options, &mut rng()).expect("certificate");
    let first = store.add_pfx(first).expect("add");
    store.set(&[OAUTH], &scope, &first, T0, RollOptions::default()).expect("set");
    let spare = keys().iter().cycle().skip(1).take(4096).cloned();
    let mut issuer = match case.ca {
        None => TestIssuer::SelfSigned(SelfSignedIssuer::new(rng()).with_keys(spare)),
        Some(extra) => {
            // A new CA every half lifetime; each lives long enough that a leaf from the newest
            // is renewed no sooner than it rolls in and still has the notice and hold left.
            let lifetime = rollover.get_certificate_lifetime();
            let needed = rollover.get_publish_ahead() + rollover.hold(lead);
            let window = match rollover.get_renew_before() {
                RenewBefore::Expiry(before) => before,
                RenewBefore::LifetimeFraction { numerator, denominator } => {
                    lifetime - per_mille_of(lifetime, i64::from(numerator) * 1000 / i64::from(denominator))
                }
                _ => lifetime,
            };
            let reach = (needed + needed + publish_ahead).max(window + publish_ahead + needed);
            let period = per_mille_of(lifetime, 500).max(Duration::DAY);
            TestIssuer::Ca(RollingCa::new(period, period + reach + per_mille_of(lifetime, extra)))
        }
    };

    let end = T0 + Duration::days(case.days);
    let step = Duration::hours(case.step_hours);
    let mut first_published: BTreeMap<Thumbprint, OffsetDateTime> = BTreeMap::new();
    let mut first_desired: Vec<BTreeMap<Thumbprint, OffsetDateTime>> = vec![BTreeMap::new(); servers.len()];
    // (key, expiry) of the last token each key signed.
    let mut tokens: BTreeMap<Thumbprint, OffsetDateTime> = BTreeMap::new();
    let signer =
        |store: &Store| store.resolve(&OAUTH, &scope).and_then(|(_, s)| s.current()).map(|c| c.thumbprint);
    let mut last_fetch: Vec<Option<OffsetDateTime>> = vec![None; partners.len()];
    let mut t = T0;
    loop {
        // The signer until now signed a token an instant ago.
        if let Some(key) = signer(&store) {
            tokens.insert(key, t - NS + token_lifetime);
        }
        // Servers report what they picked up (each after its delay).
        for (i, server) in servers.iter().enumerate() {
            let desired = store.desired(server, t).expect("server");
            for d in &desired {
                first_desired[i].entry(d.thumbprint).or_insert(t);
            }
            let held = desired
                .iter()
                .map(|d| d.thumbprint)
                .filter(|th| first_desired[i].get(th).is_some_and(|seen| *seen + delays[i] <= t));
            store.record_holdings(server, held.collect::<Vec<_>>(), t).expect("report");
        }
        // Partners fetch the keys every so often (or never).
        let announced: Vec<Thumbprint> = certslot::publish::published_keys(&store, &OAUTH, &scope, t)
            .iter()
            .map(|k| k.certificate.thumbprint())
            .collect();
        for (i, period) in case.partners.iter().enumerate() {
            let Some(period) = period else { continue };
            if last_fetch[i].is_none_or(|last| t >= last + Duration::hours(*period)) {
                store.record_partner_fetch(&partners[i], announced.clone(), t).expect("fetch");
                last_fetch[i] = Some(t);
            }
        }
        let outcome = store.advance(t).expect("advance");
        for event in &outcome.events {
            if let Event::Rolled { thumbprint, applied_at, previous, .. } = event {
                // 2. Published at least publish-ahead before it signs.
                let published = first_published.get(thumbprint).copied();
                prop_assert!(
                    published.is_some_and(|p| *applied_at - p >= publish_ahead),
                    "{thumbprint} signs at {applied_at} but was published at {published:?}"
                );
                // 6. Fetched by every required partner first, or the gate yielded, saying so.
                let lacking = store.partners_lacking(&OAUTH, thumbprint);
                let yielded = outcome.events.iter().find_map(|e| match e {
                    Event::PartnerGateYielded { thumbprint: t, partners, .. } if t == thumbprint => {
                        Some(partners)
                    }
                    _ => None,
                });
                prop_assert_eq!(
                    yielded.cloned().unwrap_or_default(),
                    lacking.clone(),
                    "{} at {}",
                    thumbprint,
                    applied_at
                );
                if case.require_partners && !partners.is_empty() {
                    let counter = if lacking.is_empty() { &RELEASED } else { &YIELDED };
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                if !lacking.is_empty() {
                    prop_assert!(case.require_partners, "a partner gate without partners required");
                    // It yields only at the last compliant instant: the outgoing certificate's
                    // end less the hold, or the incoming one's renewal deadline if sooner.
                    let end = |t: Option<Thumbprint>| {
                        t.and_then(|t| store.inventory().get(&t)).map(|s| s.effective_end())
                    };
                    let hold = rollover.hold(lead);
                    let gap = window.map_or(Duration::ZERO, |w| w.longest_closed());
                    let last = [
                        end(*previous).map(|n| n - hold),
                        end(Some(*thumbprint)).map(|n| n - hold - publish_ahead - gap - gap),
                    ]
                    .into_iter()
                    .flatten()
                    .min();
                    prop_assert!(
                        last.is_none_or(|l| *applied_at >= l),
                        "the gate yielded at {} before the last compliant instant {:?}",
                        applied_at,
                        last
                    );
                }
                // 7. Inside the renewal window, unless at the last compliant instant.
                if let Some(window) = window {
                    let outgoing =
                        previous.and_then(|p| store.inventory().get(&p)).map(|s| s.effective_end());
                    let last = outgoing.map(|n| n - rollover.hold(lead));
                    prop_assert!(
                        window.contains(*applied_at) || last.is_some_and(|l| *applied_at >= l),
                        "{} rolled in at {} outside {}",
                        thumbprint,
                        applied_at,
                        window
                    );
                    WINDOW_ROLLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                // 4. Staged everywhere first.
                if case.require_staged {
                    for server in &servers {
                        let holds = store
                            .topology()
                            .holdings(server)
                            .is_some_and(|h| h.thumbprints.contains(thumbprint));
                        prop_assert!(holds, "{thumbprint} rolled in before {server} held it");
                    }
                }
            }
            prop_assert!(!matches!(event, Event::CurrentExpired { .. }), "{event}");
        }
        let mut window_opens = None;
        for action in certslot::rollover::plan(&store, t) {
            match action {
                // Outside the window: wait for it.
                Action::Renew { window_opens: Some(opens), .. } => window_opens = Some(opens),
                Action::Renew { cert_type, scope, .. } => {
                    if let Some(window) = window {
                        prop_assert!(window.contains(t), "renewed at {} outside {}", t, window);
                    }
                    let renewal = certslot::rollover::renew(
                        &mut store,
                        &cert_type,
                        &scope,
                        &mut issuer,
                        t,
                        Default::default(),
                    )
                    .expect("renewal");
                    prop_assert!(!renewal.shortened, "a renewal on time was shortened at {t}");
                    if store.inventory().get(&renewal.thumbprint).is_some_and(|s| s.issuer_expiry.is_some()) {
                        CHAINED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                Action::Critical { .. } | Action::Expired { .. } => {
                    prop_assert!(false, "driven on time, yet {action:?}");
                }
                _ => {}
            }
        }
        // 1. A valid current certificate.
        // (8. Valid through its chain's end.)
        let current = signer(&store).and_then(|c| store.inventory().get(&c));
        prop_assert!(
            current.is_some_and(|c| c.certificate.is_valid_at(t) && t <= c.effective_end()),
            "no valid current certificate at {t}"
        );
        let published: BTreeSet<Thumbprint> = certslot::publish::published_keys(&store, &OAUTH, &scope, t)
            .iter()
            .map(|k| k.certificate.thumbprint())
            .collect();
        for key in &published {
            first_published.entry(*key).or_insert(t);
        }
        // 3. Every living token's key is still published.
        for (key, expiry) in &tokens {
            prop_assert!(
                *expiry < t || published.contains(key),
                "a token of {key} alive until {expiry} fails at {t}"
            );
        }
        tokens.retain(|_, expiry| *expiry >= t);
        if let Some(key) = signer(&store) {
            tokens.insert(key, t + token_lifetime);
        }

        let pickups = first_desired
            .iter()
            .zip(&delays)
            .flat_map(|(seen, delay)| seen.values().map(move |s| *s + *delay))
            .filter(|p| *p > t);
        // Wake up at each token's expiry too: its key must still be published then.
        let expiries = tokens.values().copied();
        let fetches = case
            .partners
            .iter()
            .zip(&last_fetch)
            .filter_map(|(period, last)| Some(last.unwrap_or(t) + Duration::hours((*period)?)));
        let next = [certslot::rollover::next_plan_due(&store), Some(t + step), window_opens]
            .into_iter()
            .flatten()
            .chain(pickups)
            .chain(fetches)
            .chain(expiries)
            .filter(|n| *n > t)
            .min()
            .expect("always a next step");
        // 5. What a server is handed now says what it holds until the store next changes.
        for server in &servers {
            let handed = store.holds(server, t).expect("server");
            // At the next step, past it (the store unchanged), and around each bound.
            let bounds = handed.iter().filter_map(|h| h.until).flat_map(|u| [u - NS, u]);
            for later in [next - NS, next, next + Duration::days(30)].into_iter().chain(bounds) {
                let kept: Vec<_> =
                    handed.iter().filter(|h| h.applies_at(later)).map(|h| h.desired.clone()).collect();
                prop_assert_eq!(
                    kept,
                    store.desired(server, later).expect("server"),
                    "{} at {}",
                    server,
                    later
                );
            }
        }
        if next > end {
            break;
        }
        t = next;
    }
    Ok(case.days)
}

/// Whether the case's broken field really breaks it (breaking publish-ahead needs a lead time,
/// breaking retention a token lifetime).
fn rollover_breaks(case: &Case) -> bool {
    match case.break_field {
        1 => case.lead_hours > 0,
        3 => case.token_minutes > 0 && case.retain_extra_hours.is_some(),
        2 | 4 => true,
        _ => false,
    }
}

#[test]
fn no_roll_leaves_a_gap() {
    let config = Config { cases: CASES, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &SEED));
    let total = Cell::new(0_i64);
    let refused = Cell::new(0_u32);
    runner
        .run(&cases(), |case| {
            let days = simulate(&case)?;
            total.set(total.get() + days);
            refused.set(refused.get() + u32::from(days == 0));
            Ok(())
        })
        .expect("the guarantees hold");
    assert!(total.get() >= MIN_TOTAL_DAYS, "only {} simulated days", total.get());
    assert!(refused.get() > 0, "no refused policy was drawn");
    let (yielded, released) = (
        YIELDED.load(std::sync::atomic::Ordering::Relaxed),
        RELEASED.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert!(
        yielded > 0 && released > 0,
        "partner gate: {yielded} rolls yielded, {released} released by a fetch"
    );
    let (windowed, window_rolls) = (
        WINDOWED.load(std::sync::atomic::Ordering::Relaxed),
        WINDOW_ROLLS.load(std::sync::atomic::Ordering::Relaxed),
    );
    assert!(window_rolls > 0, "renewal windows: {windowed} cases, no roll checked");
    let chained = CHAINED.load(std::sync::atomic::Ordering::Relaxed);
    assert!(chained > 0, "no renewal came with a chain ending first");
    eprintln!(
        "{} simulated days, {} of {CASES} policies refused; partner gate: {yielded} rolls yielded, {released} released by a fetch; \
         renewal windows: {windowed} cases, {window_rolls} rolls inside one; {chained} renewals ended by their CA",
        total.get(),
        refused.get()
    );
}

/// A CA that renews itself: a new P-256 CA every `period` (from a day before T0), each valid
/// `lifetime`; leaves come from the newest, valid for what they ask whatever the CA's own end,
/// as a CA that does not cap its leaves issues them. Their chain is the CA.
struct RollingCa {
    period: Duration,
    lifetime: Duration,
    cas: Vec<(p256::ecdsa::SigningKey, x509_cert::name::Name, certslot::Certificate)>,
    keys: std::iter::Cycle<std::slice::Iter<'static, PrivateKey>>,
}

/// The profile of the test CA's certificates: this issuer, subject and extensions.
struct Issued {
    issuer: x509_cert::name::Name,
    subject: x509_cert::name::Name,
    extensions: Vec<x509_cert::ext::Extension>,
}

impl x509_cert::builder::profile::BuilderProfile for Issued {
    fn get_issuer(&self, _: &x509_cert::name::Name) -> x509_cert::name::Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> x509_cert::name::Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        _: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _: x509_cert::spki::SubjectPublicKeyInfoRef<'_>,
        _: &x509_cert::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<x509_cert::ext::Extension>> {
        Ok(self.extensions.clone())
    }
}

fn extension(
    value: &impl x509_cert::der::Encode,
    oid: x509_cert::der::oid::ObjectIdentifier,
) -> x509_cert::ext::Extension {
    let value = x509_cert::der::Encode::to_der(value).expect("extension");
    x509_cert::ext::Extension {
        extn_id: oid,
        critical: false,
        extn_value: x509_cert::der::asn1::OctetString::new(value).expect("octets"),
    }
}

fn x509_time(t: OffsetDateTime) -> x509_cert::time::Time {
    let dt = x509_cert::der::DateTime::new(
        t.year() as u16,
        t.month().into(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
    )
    .expect("date");
    match t.year() < 2050 {
        true => x509_cert::time::Time::UtcTime(
            x509_cert::der::asn1::UtcTime::from_date_time(dt).expect("UTCTime"),
        ),
        false => {
            x509_cert::time::Time::GeneralTime(x509_cert::der::asn1::GeneralizedTime::from_date_time(dt))
        }
    }
}

/// Signs a certificate for `spki` with `key` (the issuer's), `serial` distinct per certificate.
fn sign(
    profile: Issued,
    spki_der: &[u8],
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    serial: u64,
    key: &p256::ecdsa::SigningKey,
) -> certslot::Certificate {
    use x509_cert::builder::Builder as _;
    let validity = x509_cert::time::Validity::new(x509_time(not_before), x509_time(not_after));
    let spki = x509_cert::der::Decode::from_der(spki_der).expect("public key");
    let serial = x509_cert::serial_number::SerialNumber::from(serial);
    let builder =
        x509_cert::builder::CertificateBuilder::new(profile, serial, validity, spki).expect("builder");
    let cert = builder.build::<_, p256::ecdsa::DerSignature>(key).expect("signs");
    certslot::Certificate::from_der(&x509_cert::der::Encode::to_der(&cert).expect("DER")).expect("reads")
}

static SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

impl RollingCa {
    fn new(period: Duration, lifetime: Duration) -> Self {
        Self { period, lifetime, cas: Vec::new(), keys: keys().iter().cycle() }
    }

    /// The newest CA at `at`, made when first needed.
    fn newest(
        &mut self,
        at: OffsetDateTime,
    ) -> &(p256::ecdsa::SigningKey, x509_cert::name::Name, certslot::Certificate) {
        let index =
            ((at - (T0 - Duration::DAY)).whole_seconds() / self.period.whole_seconds().max(1)) as usize;
        while self.cas.len() <= index {
            use p256::pkcs8::DecodePrivateKey as _;
            let k = self.cas.len();
            let key = PrivateKey::generate_ec(certslot::x509::Curve::P256, &mut rng()).expect("CA key");
            let signer = p256::ecdsa::SigningKey::from_pkcs8_der(key.pkcs8_der()).expect("P-256");
            let name: x509_cert::name::Name = format!("CN=Rolling Test CA {k}").parse().expect("name");
            let constraints = x509_cert::ext::pkix::BasicConstraints { ca: true, path_len_constraint: None };
            let usage = x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::KeyCertSign.into());
            let profile = Issued {
                issuer: name.clone(),
                subject: name.clone(),
                extensions: vec![
                    extension(&constraints, x509_cert::ext::pkix::BasicConstraints::OID),
                    extension(&usage, x509_cert::ext::pkix::KeyUsage::OID),
                ],
            };
            let from = T0 - Duration::DAY + per_mille_of(self.period, 1000 * k as i64);
            let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let cert = sign(
                profile,
                &key.public_key_der().expect("spki"),
                from,
                from + self.lifetime,
                serial,
                &signer,
            );
            self.cas.push((signer, name, cert));
        }
        &self.cas[index]
    }
}

use x509_cert::der::oid::AssociatedOid as _;

impl certslot::obtain::Issuer for RollingCa {
    type Error = certslot::RequestError;

    fn key(&mut self, _: certslot::obtain::KeySpec) -> Result<PrivateKey, Self::Error> {
        Ok(self.keys.next().expect("cycles").clone())
    }

    fn issue(
        &mut self,
        request: &certslot::obtain::IssueRequest<'_>,
    ) -> Result<Vec<certslot::Certificate>, Self::Error> {
        let (signer, issuer, ca) = self.newest(request.at).clone();
        let names = request
            .template
            .dns_names()
            .iter()
            .map(|n| {
                x509_cert::ext::pkix::name::GeneralName::DnsName(
                    x509_cert::der::asn1::Ia5String::new(n).expect("IA5"),
                )
            })
            .collect();
        let usage = x509_cert::ext::pkix::KeyUsage(x509_cert::ext::pkix::KeyUsages::DigitalSignature.into());
        let profile = Issued {
            issuer,
            subject: request.template.subject().parse().expect("subject"),
            extensions: vec![
                extension(
                    &x509_cert::ext::pkix::SubjectAltName(names),
                    x509_cert::ext::pkix::SubjectAltName::OID,
                ),
                extension(&usage, x509_cert::ext::pkix::KeyUsage::OID),
            ],
        };
        let serial = SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let spki = request.key.public_key_der().expect("spki");
        let leaf = sign(
            profile,
            &spki,
            request.at - Duration::minutes(5),
            request.at + request.validity,
            serial,
            &signer,
        );
        Ok(vec![leaf, ca])
    }
}
