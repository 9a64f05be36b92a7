//! Unattended rollover, scenario by scenario with exact instants: rollover policies and their
//! checks, the planner's actions, renewal through an issuer (all or nothing), the published key
//! set through a roll, retention, staging and the critical threshold.

use std::sync::OnceLock;

#[path = "common/tools.rs"]
mod tools;

use certslot::rand_core::UnwrapErr;
use certslot::{
    CertType, Event, Pfx, Policy, PrivateKey, RequestTemplate, RollOptions, RolloverPolicy, Scope, SlotError,
    Store, Thumbprint, TypeConfig,
    obtain::{IssueRequest, Issuer, KeySpec, SelfSignedIssuer, SelfSignedOptions},
    policy::{RenewBefore, Retention, RolloverError},
    publish::KeyStatus,
    rollover::{Action, RenewError, RenewOptions, Renewal},
    store::DropReason,
};
use getrandom::SysRng;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const OAUTH: CertType = CertType::OAuthTokenIssuer;
const T0: OffsetDateTime = datetime!(2026-11-29 10:00 UTC);
const POOL: &str = "pool01.contoso.com";
const NS: Duration = Duration::nanoseconds(1);

fn rng() -> UnwrapErr<SysRng> {
    UnwrapErr(SysRng)
}

/// Two RSA 2048 keys, made once for the whole file.
fn keys() -> &'static [PrivateKey] {
    static KEYS: OnceLock<Vec<PrivateKey>> = OnceLock::new();
    KEYS.get_or_init(|| (0..2).map(|_| PrivateKey::generate_rsa(2048, &mut rng()).expect("key")).collect())
}

/// An issuer that reuses the two keys (key generation is the slow part of a renewal).
fn issuer() -> SelfSignedIssuer<UnwrapErr<SysRng>> {
    SelfSignedIssuer::new(rng()).with_keys(keys().iter().cycle().take(8).cloned())
}

/// Renews the global OAuthTokenIssuer slot of `store` at `at` with [`issuer`], by the plan.
fn renew_global(store: &mut Store, at: OffsetDateTime) -> Result<Renewal, RenewError> {
    certslot::rollover::renew(store, &OAUTH, &Scope::Global, &mut issuer(), at, RenewOptions::default())
}

fn template() -> RequestTemplate {
    RequestTemplate::for_type(&OAUTH, POOL, "contoso.com").expect("preset")
}

/// A self-signed OAuthTokenIssuer certificate made at `at`, valid `validity`.
fn certificate(at: OffsetDateTime, validity: Duration) -> Pfx {
    let policy = Policy::oauth_token_issuer("contoso.com").expect("policy");
    let options = SelfSignedOptions::default().validity(validity).expect("validity");
    template().self_signed(keys()[0].clone(), &policy, at, options, &mut rng()).expect("self-signed")
}

/// A store whose OAuthTokenIssuer type follows `rollover`, with a certificate made at T0 and valid
/// `validity` set as current at `scope`. Returns the store and the certificate's thumbprint.
fn store_with(rollover: RolloverPolicy, validity: Duration, scope: &Scope) -> (Store, Thumbprint) {
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    let config = store.type_config(&OAUTH).into_owned().rollover(rollover);
    store.configure_type(OAUTH, config).expect("valid configuration");
    store.add_site("redmond").expect("site");
    store.add_pool(POOL, "redmond").expect("pool");
    let current = store.add_pfx(certificate(T0, validity)).expect("add");
    store.set(&[OAUTH], scope, &current, T0, RollOptions::default()).expect("set");
    (store, current)
}

fn published(store: &Store, at: OffsetDateTime) -> Vec<(Thumbprint, KeyStatus)> {
    certslot::publish::published_keys(store, &OAUTH, &Scope::Global, at)
        .into_iter()
        .map(|k| (k.certificate.thumbprint(), k.status))
        .collect()
}

const FIVE_YEARS: Duration = Duration::days(1826);

#[test]
fn presets_carry_their_sources_defaults_and_pass_their_checks() {
    let exchange = RolloverPolicy::exchange();
    assert_eq!(exchange.get_renew_before(), RenewBefore::Expiry(Duration::days(60)));
    assert_eq!(exchange.get_publish_ahead(), Duration::days(30));
    assert_eq!(exchange.get_retain_previous(), Retention::UntilExpiry);
    assert_eq!(exchange.get_certificate_lifetime(), FIVE_YEARS);
    let adfs = RolloverPolicy::adfs();
    assert_eq!(adfs.get_renew_before(), RenewBefore::Expiry(Duration::days(20)));
    assert_eq!(adfs.get_publish_ahead(), Duration::days(5));
    assert_eq!(adfs.get_critical_before(), Duration::days(2));
    assert_eq!(adfs.get_certificate_lifetime(), Duration::days(365));
    let duende = RolloverPolicy::duende();
    assert_eq!(duende.get_publish_ahead(), Duration::days(14));
    assert_eq!(duende.get_retain_previous(), Retention::For(Duration::days(14)));
    // 90 days from creation to retirement: 104-day certificates renewed 28 days before expiry.
    assert_eq!(duende.get_certificate_lifetime(), Duration::days(104));
    assert_eq!(duende.get_renew_before(), RenewBefore::Expiry(Duration::days(28)));
    let lync = RolloverPolicy::lync();
    assert_eq!(lync, RolloverPolicy::default());
    assert_eq!(lync.get_publish_ahead(), Duration::hours(24));
    assert_eq!(lync.get_token_lifetime(), Duration::hours(8));
    assert_eq!(lync.get_retain_previous(), Retention::UntilExpiry);
    for preset in [lync, exchange, adfs, duende] {
        // The OAuthTokenIssuer lead time (24 h) and the A/V one (8 h) both fit every preset.
        assert_eq!(preset.check(Duration::hours(24)), Ok(()), "{preset:?}");
        assert_eq!(preset.check(Duration::hours(8)), Ok(()), "{preset:?}");
    }
    assert_eq!(TypeConfig::for_type(&OAUTH, None).get_rollover(), lync);
    // Types whose verifiers drop the previous certificate at the roll carry no token lifetime.
    assert_eq!(
        TypeConfig::for_type(&CertType::Default, None).get_rollover().get_token_lifetime(),
        Duration::ZERO
    );
    for t in CertType::builtin() {
        assert_eq!(TypeConfig::for_type(&t, None).check(), Ok(()), "{t}");
    }
}

#[test]
fn policies_that_would_leave_a_gap_are_refused_with_the_values() {
    let lead = Duration::hours(24);
    let duende = RolloverPolicy::duende();
    assert_eq!(
        duende.publish_ahead(Duration::hours(12)).check(lead),
        Err(RolloverError::PublishAheadBelowLeadTime { publish_ahead: Duration::hours(12), lead_time: lead })
    );
    // 14 days of notice plus a day of lead time do not fit a 10-day window.
    assert_eq!(
        duende.renew_before(RenewBefore::Expiry(Duration::days(10))).check(lead),
        Err(RolloverError::RenewTooLate { renew_window: Duration::days(10), needed: Duration::days(15) })
    );
    // Renewing at 19/20 of a 104-day lifetime leaves 5.2 days.
    assert_eq!(
        duende.renew_before(RenewBefore::LifetimeFraction { numerator: 19, denominator: 20 }).check(lead),
        Err(RolloverError::RenewTooLate {
            renew_window: Duration::seconds(449_280),
            needed: Duration::days(15)
        })
    );
    assert_eq!(
        duende.renew_before(RenewBefore::LifetimeFraction { numerator: 3, denominator: 3 }).check(lead),
        Err(RolloverError::BadFraction { numerator: 3, denominator: 3 })
    );
    assert_eq!(
        duende.certificate_lifetime(Duration::days(20)).check(lead),
        Err(RolloverError::LifetimeTooShort {
            certificate_lifetime: Duration::days(20),
            renew_before: Duration::days(28)
        })
    );
    assert_eq!(
        duende.retain_previous(Retention::For(Duration::minutes(30))).check(lead),
        Err(RolloverError::RetentionBelowTokenLifetime {
            retain: Duration::minutes(30),
            token_lifetime: Duration::hours(1)
        })
    );
    assert_eq!(
        duende.critical_before(Duration::hours(5)).check(lead),
        Err(RolloverError::CriticalOutOfRange {
            critical_before: Duration::hours(5),
            min: Duration::hours(24),
            max: Duration::days(15)
        })
    );
    assert_eq!(
        duende.token_lifetime(-Duration::SECOND).check(lead),
        Err(RolloverError::Negative { field: "token_lifetime", value: -Duration::SECOND })
    );
    // A type whose verifiers drop the previous certificate cannot have living tokens.
    let config = TypeConfig::for_type(&CertType::Default, None).rollover(duende);
    assert_eq!(
        config.check(),
        Err(RolloverError::PreviousNotAccepted { token_lifetime: Duration::hours(1) })
    );
    let mut store = Store::new();
    assert_eq!(
        store.configure_type(CertType::Default, config),
        Err(SlotError::InvalidRollover {
            cert_type: CertType::Default,
            source: RolloverError::PreviousNotAccepted { token_lifetime: Duration::hours(1) }
        })
    );
    assert_eq!(store.revision(), 0);
}

#[test]
fn exchange_renewal_is_planned_announced_rolled_and_retired_on_time() {
    let (mut store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let not_after = T0 + FIVE_YEARS;
    let opens = not_after - Duration::days(60);
    assert_eq!(certslot::rollover::plan(&store, T0), []);
    assert_eq!(certslot::rollover::plan(&store, opens - NS), []);
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(opens));
    store.advance(opens).expect("advance");

    let stored = store.inventory().get(&old).expect("stored").certificate.clone();
    let template = RequestTemplate::renewal_of(&stored).expect("template");
    assert_eq!(template.subject(), "CN=pool01.contoso.com");
    assert_eq!(template.dns_names(), ["pool01.contoso.com", "contoso.com"]);
    let renew = Action::Renew {
        cert_type: OAUTH,
        scope: Scope::Global,
        current: old,
        // Announced 30 days ahead, rolled in a day (the lead time) before expiry at the latest.
        by: not_after - Duration::days(31),
        effective_at: opens + Duration::days(30),
        template: Some(std::sync::Arc::new(template)),
        expires_at: not_after,
        issuer_expiry: None,
        window_opens: None,
    };
    assert_eq!(certslot::rollover::plan(&store, opens), [renew]);

    let renewal = renew_global(&mut store, opens).expect("renew");
    let Renewal { thumbprint: new, effective_at, shortened, outcome } = renewal;
    assert_eq!((effective_at, shortened), (opens + Duration::days(30), false));
    assert_eq!(
        outcome.events,
        [Event::RollScheduled { cert_type: OAUTH, scope: Scope::Global, thumbprint: new, effective_at }]
    );
    let fresh = &store.inventory().get(&new).expect("added").certificate;
    assert_eq!((fresh.not_before(), fresh.not_after()), (opens - Duration::minutes(5), opens + FIVE_YEARS));
    assert_eq!(fresh.subject().to_string(), "CN=pool01.contoso.com");
    // Announced from the renewal on, signing from the roll.
    assert_eq!(published(&store, opens - NS), [(old, KeyStatus::Signing)]);
    assert_eq!(published(&store, opens), [(old, KeyStatus::Signing), (new, KeyStatus::Announced)]);
    assert_eq!(
        certslot::rollover::plan(&store, opens),
        [Action::Roll {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: new,
            effective_at,
            earliest_effective: effective_at,
            waiting_for: vec![],
            waiting_for_partners: vec![],
            partners_yield_at: None,
        }]
    );
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(effective_at));

    let rolled = store.advance(effective_at).expect("advance");
    assert_eq!(
        rolled.events,
        [Event::Rolled {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: new,
            previous: Some(old),
            effective_at,
            applied_at: effective_at,
        }]
    );
    assert_eq!(published(&store, effective_at), [(new, KeyStatus::Signing), (old, KeyStatus::Retained)]);
    assert_eq!(certslot::rollover::plan(&store, effective_at), []);
    // Exchange keeps the previous certificate until it expires.
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(not_after + NS));
    assert_eq!(published(&store, not_after), [(new, KeyStatus::Signing), (old, KeyStatus::Retained)]);
    let dropped = store.advance(not_after + NS).expect("advance");
    assert_eq!(
        dropped.events,
        [Event::PreviousDropped {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: old,
            reason: DropReason::Expired
        }]
    );
    assert_eq!(published(&store, not_after + NS), [(new, KeyStatus::Signing)]);
    // The next renewal window is the new certificate's.
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(opens + FIVE_YEARS - Duration::days(60)));
}

#[test]
fn a_late_renewal_is_critical_and_shortened_and_past_the_threshold_rolls_at_once() {
    let (mut store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let not_after = T0 + FIVE_YEARS;
    let late = not_after - Duration::days(20);
    let actions = certslot::rollover::plan(&store, late);
    assert_eq!(
        actions.first(),
        Some(&Action::Critical {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: old,
            expires_at: not_after,
            issuer_expiry: None,
            left: Duration::days(20),
            emergency_at: not_after - Duration::days(2),
        })
    );
    assert!(
        matches!(actions.get(1), Some(Action::Renew { effective_at, .. }) if *effective_at == not_after - Duration::DAY)
    );
    let renewal = renew_global(&mut store, late).expect("renew");
    assert_eq!((renewal.effective_at, renewal.shortened), (not_after - Duration::DAY, true));

    // Past the critical threshold (2 days), the renewal takes effect at once.
    let (mut store, _) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let emergency = not_after - Duration::hours(12);
    let renewal = renew_global(&mut store, emergency).expect("renew");
    assert_eq!((renewal.effective_at, renewal.shortened), (emergency, true));
    let rolled = store.advance(emergency).expect("advance");
    assert!(
        matches!(rolled.events.as_slice(), [Event::Rolled { thumbprint, .. }] if *thumbprint == renewal.thumbprint)
    );

    // Expired: the plan says so first.
    let (store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    assert_eq!(
        certslot::rollover::plan(&store, not_after + NS).first(),
        Some(&Action::Expired {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: old,
            expired_at: not_after,
            issuer_expiry: None,
        })
    );
}

/// An issuer standing for a CA that is down.
struct Offline;

impl Issuer for Offline {
    type Error = std::io::Error;

    fn key(&mut self, _: KeySpec) -> Result<PrivateKey, std::io::Error> {
        Ok(keys()[1].clone())
    }

    fn issue(&mut self, _: &IssueRequest<'_>) -> Result<Vec<certslot::Certificate>, std::io::Error> {
        Err(std::io::Error::other("CA offline"))
    }
}

/// An issuer that ignores the template: its certificate lacks the SIP domain.
struct Careless;

impl Issuer for Careless {
    type Error = certslot::RequestError;

    fn key(&mut self, _: KeySpec) -> Result<PrivateKey, Self::Error> {
        Ok(keys()[1].clone())
    }

    fn issue(&mut self, request: &IssueRequest<'_>) -> Result<Vec<certslot::Certificate>, Self::Error> {
        let template = RequestTemplate::new("CN=other.example")?.dns_name("other.example")?;
        let options = SelfSignedOptions::default().validity(request.validity)?;
        let pfx =
            template.self_signed(request.key.clone(), &Policy::new(), request.at, options, &mut rng())?;
        Ok(pfx.certificates().cloned().collect())
    }
}

#[test]
fn refused_renewals_change_nothing() {
    let (mut store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let not_after = T0 + FIVE_YEARS;
    let opens = not_after - Duration::days(60);
    let (json, revision) = (store.to_json().unwrap(), store.revision());
    let unchanged = |store: &Store| {
        assert_eq!(store.to_json().unwrap(), json);
        assert_eq!(store.revision(), revision);
    };
    assert!(matches!(
        renew_global(&mut store, T0),
        Err(RenewError::NotDue { opens_at }) if opens_at == opens
    ));
    unchanged(&store);
    assert!(matches!(
        certslot::rollover::renew(
            &mut store,
            &CertType::Default,
            &Scope::Global,
            &mut issuer(),
            opens,
            RenewOptions::default()
        ),
        Err(RenewError::NoCurrent { cert_type: CertType::Default, scope: Scope::Global })
    ));
    let offline = certslot::rollover::renew(
        &mut store,
        &OAUTH,
        &Scope::Global,
        &mut Offline,
        opens,
        RenewOptions::default(),
    );
    assert!(matches!(&offline, Err(RenewError::Issuer(e)) if e.to_string() == "CA offline"), "{offline:?}");
    unchanged(&store);
    let careless = certslot::rollover::renew(
        &mut store,
        &OAUTH,
        &Scope::Global,
        &mut Careless,
        opens,
        RenewOptions::default(),
    );
    let Err(RenewError::Slot(SlotError::PolicyViolations { cert_type, thumbprint, violations })) = careless
    else {
        panic!("{careless:?}")
    };
    assert_eq!(cert_type, OAUTH);
    assert!(store.inventory().get(&thumbprint).is_none(), "the refused certificate stayed");
    assert_eq!(violations.len(), 1, "{violations:?}");
    unchanged(&store);

    let renewal = renew_global(&mut store, opens).expect("renew");
    assert!(matches!(
        renew_global(&mut store, opens),
        Err(RenewError::AlreadyPending { thumbprint, effective_at })
            if thumbprint == renewal.thumbprint && effective_at == renewal.effective_at
    ));
    assert_ne!(renewal.thumbprint, old);
}

/// An issuer that answers with a PFX made beforehand.
struct Fixed(Pfx);

impl Issuer for Fixed {
    type Error = std::io::Error;

    fn key(&mut self, _: KeySpec) -> Result<PrivateKey, std::io::Error> {
        self.0.private_key().cloned().ok_or_else(|| std::io::Error::other("no key"))
    }

    fn issue(&mut self, _: &IssueRequest<'_>) -> Result<Vec<certslot::Certificate>, std::io::Error> {
        Ok(self.0.certificates().cloned().collect())
    }
}

#[test]
fn a_refused_renewal_takes_back_the_key_it_attached_to_a_held_certificate() {
    let (mut store, _) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    // The store holds the issuer's certificate already, without its key; the issuer's answer
    // carries that key, and the roll is refused (the certificate was valid for 30 days from T0,
    // long past at the effective date).
    let short = certificate(T0, Duration::days(30));
    let leaf = short.leaf().expect("leaf").clone();
    let held = store.add_certificate(leaf, None);
    let saved = |store: &Store| {
        let options = certslot::ExportOptions::default();
        let password = certslot::Password::new("state");
        // Which certificates have keys, and the keyless state: the sealed keys' salts differ.
        let keyed: Vec<Thumbprint> = store
            .inventory()
            .iter()
            .filter(|s| s.key.is_some())
            .map(|s| s.certificate.thumbprint())
            .collect();
        let sealed = store.to_json_with_keys(&password, &options, &mut rng()).expect("export");
        (store.to_json().unwrap(), keyed, sealed.matches("\"pfx\"").count())
    };
    let (before, revision) = (saved(&store), store.revision());
    let opens = T0 + FIVE_YEARS - Duration::days(60);
    let refused = certslot::rollover::renew(
        &mut store,
        &OAUTH,
        &Scope::Global,
        &mut Fixed(short),
        opens,
        RenewOptions::default(),
    );
    assert!(
        matches!(refused, Err(RenewError::Slot(SlotError::NotValidAtEffective { thumbprint, .. })) if thumbprint == held),
        "{refused:?}"
    );
    assert!(store.inventory().get(&held).expect("still held").key.is_none(), "the key stayed attached");
    assert_eq!(saved(&store), before);
    assert_eq!(store.revision(), revision);
}

#[test]
fn rolls_need_the_publish_ahead_notice_unless_forced() {
    let (mut store, _) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let next = store.add_pfx(certificate(T0, FIVE_YEARS)).expect("add");
    let soon = T0 + Duration::days(29);
    assert_eq!(
        store.roll(&[OAUTH], &Scope::Global, &next, soon, T0, RollOptions::default()).map(|o| o.revision),
        Err(SlotError::TooLittleNotice {
            cert_type: OAUTH,
            effective_at: soon,
            at: T0,
            publish_ahead: Duration::days(30)
        })
    );
    store.roll(&[OAUTH], &Scope::Global, &next, soon, T0, RollOptions::default().force()).expect("forced");
    store
        .roll(&[OAUTH], &Scope::Global, &next, T0 + Duration::days(30), T0, RollOptions::default())
        .expect("30 days of notice");
}

#[test]
fn duende_retires_the_previous_key_after_its_retention() {
    let rollover = RolloverPolicy::duende().retain_previous(Retention::For(Duration::days(7)));
    let validity = Duration::days(104);
    let (mut store, old) = store_with(rollover, validity, &Scope::Global);
    let not_after = T0 + validity;
    let opens = not_after - Duration::days(28);
    store.advance(opens).expect("advance");
    let renewal = renew_global(&mut store, opens).expect("renew");
    let rolled_at = opens + Duration::days(14);
    assert_eq!(renewal.effective_at, rolled_at);
    store.advance(rolled_at).expect("roll");
    let retire = rolled_at + Duration::days(7);
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(retire));
    // A pure plan ahead of `advance` says the retirement is due.
    assert_eq!(
        certslot::rollover::plan(&store, retire),
        [Action::RetirePrevious { cert_type: OAUTH, scope: Scope::Global, thumbprint: old, at: retire }]
    );
    assert_eq!(
        published(&store, retire - NS),
        [(renewal.thumbprint, KeyStatus::Signing), (old, KeyStatus::Retained)]
    );
    assert_eq!(published(&store, retire), [(renewal.thumbprint, KeyStatus::Signing)]);
    assert_eq!(store.verification_certs(&OAUTH, &Scope::Global, retire).len(), 1);
    let retired = store.advance(retire).expect("advance");
    assert_eq!(
        retired.events,
        [Event::PreviousDropped {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: old,
            reason: DropReason::Retired
        }]
    );
    assert_eq!(certslot::rollover::plan(&store, retire), []);
}

#[test]
fn staging_shows_in_the_plan_and_a_roll_blocked_too_long_turns_critical() {
    let scope = Scope::pool(POOL).expect("pool");
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    let config = store.type_config(&OAUTH).into_owned().rollover(RolloverPolicy::adfs()).require_staged(true);
    store.configure_type(OAUTH, config).expect("valid configuration");
    store.add_site("redmond").expect("site");
    store.add_pool(POOL, "redmond").expect("pool");
    for fe in ["fe1.contoso.com", "fe2.contoso.com"] {
        store.add_server(fe, POOL).expect("server");
    }
    let validity = Duration::days(365);
    let old = store.add_pfx(certificate(T0, validity)).expect("add");
    store.set(&[OAUTH], &scope, &old, T0, RollOptions::default()).expect("set");
    let not_after = T0 + validity;
    let opens = not_after - Duration::days(20);
    let renewal =
        certslot::rollover::renew(&mut store, &OAUTH, &scope, &mut issuer(), opens, RenewOptions::default())
            .expect("renew");
    let (new, effective_at) = (renewal.thumbprint, renewal.effective_at);
    assert_eq!(effective_at, opens + Duration::days(5));
    let both = vec!["fe1.contoso.com".to_owned(), "fe2.contoso.com".to_owned()];
    let stage = |servers: &[String]| Action::Stage {
        cert_type: OAUTH,
        scope: scope.clone(),
        thumbprint: new,
        servers: servers.to_vec(),
        by: effective_at,
    };
    let roll = |waiting: &[String]| Action::Roll {
        cert_type: OAUTH,
        scope: scope.clone(),
        thumbprint: new,
        effective_at,
        earliest_effective: effective_at,
        waiting_for: waiting.to_vec(),
        waiting_for_partners: Vec::new(),
        partners_yield_at: None,
    };
    assert_eq!(certslot::rollover::plan(&store, opens), [stage(&both), roll(&both)]);
    store.record_holdings("fe1.contoso.com", [old, new], opens).expect("report");
    assert_eq!(certslot::rollover::plan(&store, opens), [stage(&both[1..]), roll(&both[1..])]);
    // fe2 never reports: the roll is blocked at its date, and critical once no roll can leave
    // the old certificate its day of lead time.
    let blocked = store.advance(effective_at).expect("advance");
    assert!(
        matches!(blocked.events.as_slice(), [Event::RollBlocked { servers, .. }] if servers == &both[1..])
    );
    let late = not_after - Duration::hours(12);
    assert_eq!(
        certslot::rollover::plan(&store, late),
        [
            Action::Critical {
                cert_type: OAUTH,
                scope: scope.clone(),
                thumbprint: old,
                expires_at: not_after,
                issuer_expiry: None,
                left: Duration::hours(12),
                emergency_at: not_after - Duration::days(2),
            },
            stage(&both[1..]),
            roll(&both[1..]),
        ]
    );
    store.record_holdings("fe2.contoso.com", [old, new], late).expect("report");
    let rolled = store.advance(late).expect("advance");
    assert!(matches!(rolled.events.as_slice(), [Event::Rolled { applied_at, .. }] if *applied_at == late));
}

#[test]
fn a_roll_waits_for_its_partners_and_yields_at_the_last_compliant_instant() {
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    for partner in ["Exchange-Hybrid", "sharepoint"] {
        store.add_partner(partner).expect("partner");
    }
    // Rolls may wait only for partners the store knows.
    let unknown = store.type_config(&OAUTH).into_owned().require_fetched_by(["skype"]);
    assert_eq!(
        store.configure_type(OAUTH, unknown),
        Err(SlotError::UnknownTopology { kind: "partner", name: "skype".into() })
    );
    let config = store
        .type_config(&OAUTH)
        .into_owned()
        .rollover(RolloverPolicy::adfs())
        .require_fetched_by(["exchange-hybrid", "SharePoint"]);
    let hold = config.hold();
    store.configure_type(OAUTH, config).expect("valid configuration");
    assert_eq!(
        store.remove_partner("sharepoint"),
        Err(SlotError::PartnerRequired { partner: "sharepoint".into(), cert_type: OAUTH })
    );
    let validity = Duration::days(365);
    let old = store.add_pfx(certificate(T0, validity)).expect("add");
    store.set(&[OAUTH], &Scope::Global, &old, T0, RollOptions::default()).expect("set");
    let not_after = T0 + validity;
    let last = not_after - hold;
    let opens = not_after - Duration::days(20);
    let renewal = renew_global(&mut store, opens).expect("renew");
    let (new, effective_at) = (renewal.thumbprint, renewal.effective_at);
    let roll = |partners: &[&str]| Action::Roll {
        cert_type: OAUTH,
        scope: Scope::Global,
        thumbprint: new,
        effective_at,
        earliest_effective: effective_at,
        waiting_for: Vec::new(),
        waiting_for_partners: partners.iter().map(|p| (*p).to_owned()).collect(),
        partners_yield_at: (!partners.is_empty()).then_some(last),
    };
    assert_eq!(certslot::rollover::plan(&store, opens), [roll(&["exchange-hybrid", "sharepoint"])]);
    // Exchange fetches the set that announces the successor; SharePoint only the old one.
    store.record_partner_fetch("exchange-hybrid", [old, new], opens).expect("fetch");
    store.record_partner_fetch("sharepoint", [old], opens).expect("fetch");
    assert_eq!(
        store.topology().fetch("SharePoint").map(|f| (f.fetched_at, f.thumbprints.len())),
        Some((opens, 1))
    );
    assert_eq!(certslot::rollover::plan(&store, opens), [roll(&["sharepoint"])]);
    let blocked = store.advance(effective_at).expect("advance");
    assert!(
        matches!(blocked.events.as_slice(), [Event::RollBlocked { servers, partners, .. }]
            if servers.is_empty() && partners == &["sharepoint"]),
        "{:?}",
        blocked.events
    );
    assert_eq!(
        blocked.events[0].to_string(),
        format!("OAuthTokenIssuer at global: roll of {new} blocked; not yet fetched by sharepoint")
    );
    // The state keeps the partners, their fetches, the gate and the waiting roll.
    let saved = store.to_json().expect("json");
    assert_eq!(Store::from_json(&saved).expect("load").to_json().expect("json"), saved);

    // A fetch that announces it releases the roll at the next advance.
    let mut released = store.clone();
    let fetched = effective_at + Duration::hours(1);
    released.record_partner_fetch("sharepoint", [old, new], fetched).expect("fetch");
    let rolled = released.advance(fetched).expect("advance");
    assert!(
        matches!(rolled.events.as_slice(), [.., Event::Rolled { applied_at, .. }] if *applied_at == fetched)
    );
    assert!(!rolled.events.iter().any(|e| matches!(e, Event::PartnerGateYielded { .. })));

    // SharePoint never fetches: held to the last compliant instant, then rolled without it.
    assert!(store.advance(last - NS).expect("advance").events.is_empty());
    assert_eq!(certslot::rollover::plan(&store, last - NS).first(), Some(&roll(&["sharepoint"])));
    let yielded = store.advance(last).expect("advance");
    let [.., Event::Rolled { applied_at, .. }, warning @ Event::PartnerGateYielded { partners, at, .. }] =
        yielded.events.as_slice()
    else {
        panic!("{:?}", yielded.events)
    };
    assert_eq!((*applied_at, *at, partners.as_slice()), (last, last, &["sharepoint".to_owned()][..]));
    assert!(warning.is_warning());
    assert_eq!(
        warning.to_string(),
        format!(
            "OAuthTokenIssuer at global: {new} rolled in at its last compliant instant {} before sharepoint fetched it",
            certslot::validate::HumanTime(last)
        )
    );
    assert!(store.inventory().get(&old).expect("old").certificate.is_valid_at(last + hold - NS));
}

#[test]
fn a_certificate_too_short_for_the_policy_is_critical_at_once() {
    // Lync's policy needs 24 hours of notice plus 24 hours of lead time; this certificate has 36.
    let validity = Duration::hours(36);
    let (store, current) = store_with(RolloverPolicy::lync(), validity, &Scope::Global);
    let not_after = T0 + validity;
    let actions = certslot::rollover::plan(&store, T0);
    assert_eq!(
        actions.first(),
        Some(&Action::Critical {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: current,
            expires_at: not_after,
            issuer_expiry: None,
            left: validity,
            emergency_at: not_after - Duration::hours(24),
        })
    );
    // A renewal now is announced only until the last roll that leaves a day of lead time.
    assert!(matches!(
        actions.get(1),
        Some(Action::Renew { by, effective_at, .. })
            if *by == not_after - Duration::hours(48) && *effective_at == not_after - Duration::hours(24)
    ));
    assert_eq!(actions.len(), 2);
}

// ----- renewal in two halves, renewal windows, the chain's expiry ---------------------------------

const CA_ISSUING: &str = "tests/data/request/ca-issuing.pem";
const CA_ISSUING_KEY: &str = "tests/data/request/ca-issuing.key";
const CA_ROOT: &str = "tests/data/request/ca-root.pem";

/// The test CA (tests/data/request) answers `csr` with a certificate valid from `not_before` to
/// `not_after`, then itself and its root.
fn ca_answer(
    csr: &str,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    subject: Option<&str>,
) -> Vec<u8> {
    let rfc3339 =
        |t: OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).expect("RFC 3339");
    tools::python_ca_sign(
        csr,
        CA_ISSUING,
        CA_ISSUING_KEY,
        &rfc3339(not_before),
        &rfc3339(not_after),
        subject,
        &[CA_ISSUING, CA_ROOT],
    )
}

#[test]
fn a_renewal_in_two_halves_survives_a_reload_and_takes_the_cas_certificate_and_chain() {
    let (mut store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let not_after = T0 + FIVE_YEARS;
    let opens = not_after - Duration::days(60);
    store.advance(opens).expect("advance");
    let start = |store: &mut Store, key: PrivateKey, at| {
        certslot::rollover::start_renewal(
            store,
            &OAUTH,
            &Scope::Global,
            key,
            at,
            RenewOptions::default(),
            &mut rng(),
        )
    };
    // The request is for a key like the current one: RSA 2048.
    let ec = PrivateKey::generate_ec(certslot::x509::Curve::P256, &mut rng()).expect("EC key");
    assert!(matches!(
        start(&mut store, ec, opens),
        Err(RenewError::WrongKey { expected: KeySpec::Rsa { bits: 2048 } })
    ));
    let started = start(&mut store, keys()[1].clone(), opens).expect("start");
    assert_eq!(started.effective_at, opens + Duration::days(30));
    // OpenSSL checks the request's signature and reads the current certificate's names in it.
    let dir = tools::TempDir::new("two-halves");
    let csr = started.request.to_pem();
    let text =
        tools::openssl(&["req", "-in", &dir.write("req.pem", csr.as_bytes()), "-verify", "-noout", "-text"]);
    assert!(text.contains("Subject: CN = pool01.contoso.com"), "{text}");
    assert!(text.contains("DNS:pool01.contoso.com, DNS:contoso.com"), "{text}");
    assert!(matches!(
        start(&mut store, keys()[1].clone(), opens),
        Err(RenewError::Slot(SlotError::RenewalInProgress { started_at, .. })) if started_at == opens
    ));
    let order = "https://127.0.0.1:14000/my-order/Yf3L";
    store.set_renewal_order(&OAUTH, &Scope::Global, order, opens).expect("order");
    let finish_action = |at| Action::FinishRenewal {
        cert_type: OAUTH,
        scope: Scope::Global,
        current: old,
        started_at: opens,
        order: Some(order.into()),
        by: not_after - Duration::days(31),
        effective_at: at + Duration::days(30),
    };
    assert_eq!(certslot::rollover::plan(&store, opens), [finish_action(opens)]);

    // The state keeps the renewal: its key only when saved with keys, sealed with the password.
    let password = certslot::Password::new("state");
    let sealed =
        store.to_json_with_keys(&password, &certslot::ExportOptions::default(), &mut rng()).expect("save");
    let plain: serde_json::Value = serde_json::from_str(&store.to_json().expect("save")).expect("JSON");
    let renewal = &plain["slots"][0]["renewal"];
    assert_eq!(renewal["renews"], old.to_string());
    assert_eq!(renewal["order"], order);
    assert_eq!(renewal["started_at"], "2031-09-30T10:00:00Z");
    assert!(renewal.get("key").is_none(), "{renewal}");
    let keyless = Store::from_json(&store.to_json().expect("save")).expect("load");
    assert!(keyless.renewal_request(&OAUTH, &Scope::Global).expect("renewal").key().is_none());
    let mut store = Store::from_json_with_keys(&sealed, &password).expect("load with keys");
    let request = store.renewal_request(&OAUTH, &Scope::Global).expect("renewal").clone();
    assert_eq!(request.key().map(PrivateKey::pkcs8_der), Some(keys()[1].pkcs8_der()));
    assert_eq!((request.order(), request.csr_der()), (Some(order), started.request.der()));
    assert_eq!(request.csr_pem(), csr);
    // The names an ACME order asks for, read back from the request.
    assert_eq!(request.dns_names(), ["pool01.contoso.com", "contoso.com"]);
    assert!(!format!("{request:?}").contains("pkcs8"), "{request:?}");
    let mut reloaded = keyless;
    assert!(matches!(
        certslot::rollover::finish_renewal(&mut reloaded, &OAUTH, &Scope::Global, b"", opens),
        Err(RenewError::RequestKeyMissing)
    ));

    // A day later the CA answers, with a certificate valid past the CA's own end.
    let later = opens + Duration::DAY;
    let (json, revision) = (store.to_json().unwrap(), store.revision());
    let current_pem = store.inventory().get(&old).expect("current").certificate.to_pem();
    let wrong =
        certslot::rollover::finish_renewal(&mut store, &OAUTH, &Scope::Global, current_pem.as_bytes(), later);
    assert!(
        matches!(&wrong, Err(RenewError::Answer(certslot::RequestError::NoMatchingCertificate { thumbprints })) if thumbprints == &[old]),
        "{wrong:?}"
    );
    assert_eq!((store.to_json().unwrap(), store.revision()), (json, revision));
    let answer = ca_answer(&csr, later - Duration::minutes(5), datetime!(2037-01-01 0:00 UTC), None);
    let renewal = certslot::rollover::finish_renewal(&mut store, &OAUTH, &Scope::Global, &answer, later)
        .expect("finish");
    assert_eq!((renewal.effective_at, renewal.shortened), (later + Duration::days(30), false));
    assert_eq!(renewal.outcome.revision, revision + 1);
    assert!(store.renewal_request(&OAUTH, &Scope::Global).is_none());
    let root = certslot::Certificate::from_bundle(&std::fs::read(CA_ROOT).unwrap()).unwrap()[0].thumbprint();
    let ca_end = datetime!(2036-11-26 07:33:08 UTC);
    let stored = store.inventory().get(&renewal.thumbprint).expect("added");
    // The issuing CA and the root both end at 2036-11-26 07:33:08; the first by thumbprint counts.
    assert_eq!(stored.issuer_expiry, Some(certslot::store::IssuerExpiry { issuer: root, not_after: ca_end }));
    assert_eq!(stored.effective_end(), ca_end);
    assert_eq!(stored.certificate.not_after(), datetime!(2037-01-01 0:00 UTC));
    assert!(
        !certslot::rollover::plan(&store, later)
            .iter()
            .any(|a| matches!(a, Action::FinishRenewal { .. } | Action::Renew { .. }))
    );

    // Rolled in, the CA's certificate is renewed 60 days before its chain ends, and the plan says why.
    store.advance(renewal.effective_at).expect("roll");
    // (Exchange keeps the previous certificate until it expires.)
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(not_after + NS));
    store.advance(not_after + NS).expect("previous retired");
    let renew_at = ca_end - Duration::days(60);
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(renew_at));
    let plan = certslot::rollover::plan(&store, renew_at);
    let [Action::Renew { current, expires_at, issuer_expiry, by, .. }] = plan.as_slice() else {
        panic!("{plan:?}")
    };
    assert_eq!((*current, *expires_at, *by), (renewal.thumbprint, ca_end, ca_end - Duration::days(31)));
    assert_eq!(issuer_expiry.map(|e| e.issuer), Some(root));
    assert!(
        plan[0].to_string().ends_with(&format!("; its issuer {root} expires first, at 2036-11-26T07:33:08Z")),
        "{}",
        plan[0]
    );
    // The chain's end survives a reload.
    let back = Store::from_json(&store.to_json().unwrap()).expect("load");
    assert_eq!(back.inventory().get(&renewal.thumbprint).map(|s| s.effective_end()), Some(ca_end));
}

#[test]
fn a_cas_answer_that_fails_the_policy_is_refused_and_a_stale_renewal_cannot_finish() {
    let (mut store, old) = store_with(RolloverPolicy::exchange(), FIVE_YEARS, &Scope::Global);
    let opens = T0 + FIVE_YEARS - Duration::days(60);
    store.advance(opens).expect("advance");
    let start = |store: &mut Store| {
        certslot::rollover::start_renewal(
            store,
            &OAUTH,
            &Scope::Global,
            keys()[1].clone(),
            opens,
            RenewOptions::default(),
            &mut rng(),
        )
        .expect("start")
    };
    let csr = start(&mut store).request.to_pem();
    // The CA ignores the request's names: the certificate lacks the SIP domain.
    let answer = ca_answer(&csr, opens - Duration::minutes(5), opens + FIVE_YEARS, Some("CN=other.example"));
    let (json, revision) = (store.to_json().unwrap(), store.revision());
    let refused = certslot::rollover::finish_renewal(&mut store, &OAUTH, &Scope::Global, &answer, opens);
    let Err(RenewError::Slot(SlotError::PolicyViolations { cert_type, violations, .. })) = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(*cert_type, OAUTH);
    assert_eq!(violations.iter().map(|v| v.code()).collect::<Vec<_>>(), ["subject-mismatch"]);
    assert_eq!(
        (store.to_json().unwrap(), store.revision()),
        (json, revision),
        "nothing rolled, the renewal stays"
    );
    // Cancelled, the planner asks for a renewal again.
    store.cancel_renewal(&OAUTH, &Scope::Global, opens).expect("cancel");
    assert!(matches!(certslot::rollover::plan(&store, opens).as_slice(), [Action::Renew { .. }]));
    assert_eq!(
        store.cancel_renewal(&OAUTH, &Scope::Global, opens).map(|o| o.revision),
        Err(SlotError::NoRenewalRequest { cert_type: OAUTH, scope: Scope::Global })
    );
    // Another certificate set meanwhile: the renewal renews one that is no longer current.
    let csr = start(&mut store).request.to_pem();
    let other = store.add_pfx(certificate(T0, FIVE_YEARS)).expect("add");
    store.set(&[OAUTH], &Scope::Global, &other, opens, RollOptions::default()).expect("set");
    let answer = ca_answer(&csr, opens - Duration::minutes(5), opens + FIVE_YEARS, None);
    let stale = certslot::rollover::finish_renewal(&mut store, &OAUTH, &Scope::Global, &answer, opens);
    assert!(
        matches!(&stale, Err(RenewError::Slot(SlotError::RenewalStale { renews, current, .. })) if *renews == old && *current == other),
        "{stale:?}"
    );
}

#[test]
fn renewals_and_rolls_keep_to_the_renewal_window() {
    // A window closed for up to a week less an hour leaves Duende's 28-day renewal window too
    // little room: 15 days of notice and hold, and twice the wait.
    let sunday: certslot::policy::RenewalWindow = "Sun 02:00-03:00 UTC".parse().expect("window");
    assert_eq!(
        RolloverPolicy::duende().renewal_window(Some(sunday)).check(Duration::hours(24)),
        Err(RolloverError::WindowLeavesGap {
            longest_closed: Duration::days(7) - Duration::HOUR,
            renew_window: Duration::days(28),
            needed: Duration::days(15),
        })
    );
    let window: certslot::policy::RenewalWindow = "Mon-Fri 02:00-05:00 +01:00".parse().expect("window");
    let rollover = RolloverPolicy::exchange().renewal_window(Some(window));
    let (mut store, old) = store_with(rollover, FIVE_YEARS, &Scope::Global);
    let config = store.type_config(&OAUTH).into_owned().require_staged(true);
    store.configure_type(OAUTH, config).expect("staging gate");
    store.add_server("fe01.contoso.com", POOL).expect("server");
    store.record_holdings("fe01.contoso.com", [old], T0).expect("report");
    // Renewal is due Tuesday 2031-09-30 10:00 UTC, outside the window: it opens Wednesday at
    // 02:00 (+01:00).
    let wednesday = datetime!(2031-10-01 01:00 UTC);
    assert_eq!(certslot::rollover::next_plan_due(&store), Some(wednesday));
    store.advance(wednesday).expect("advance");
    let closing = datetime!(2031-10-01 04:00 UTC);
    let thursday = datetime!(2031-10-02 01:00 UTC);
    let renew = |store: &mut Store, at, options| {
        certslot::rollover::renew(store, &OAUTH, &Scope::Global, &mut issuer(), at, options)
    };
    assert!(matches!(
        renew(&mut store, closing, RenewOptions::default()),
        Err(RenewError::OutsideWindow { opens_at }) if opens_at == thursday
    ));
    let plan = certslot::rollover::plan(&store, closing);
    assert!(
        matches!(plan.as_slice(), [Action::Renew { window_opens: Some(t), .. }] if *t == thursday),
        "{plan:?}"
    );
    // Forced, it renews at once; its effective date still falls inside a window: 30 days on is
    // Friday 05:00 (+01:00), closed, so Monday 2031-11-03 02:00 (+01:00).
    let mut forced = store.clone();
    let renewal = renew(&mut forced, closing, RenewOptions::default().force()).expect("forced");
    assert_eq!(renewal.effective_at, datetime!(2031-11-03 01:00 UTC));
    // Inside the window it renews; 30 days on, Friday 02:00 (+01:00), is inside too.
    let renewal = renew(&mut store, wednesday, RenewOptions::default()).expect("renew");
    let friday = datetime!(2031-10-31 01:00 UTC);
    assert_eq!(renewal.effective_at, friday);
    // fe01 picks the certificate up only after the window closed: the roll waits for Monday.
    store.advance(friday).expect("blocked");
    let held = datetime!(2031-10-31 06:00 UTC);
    store.record_holdings("fe01.contoso.com", [old, renewal.thumbprint], held).expect("report");
    let waited = store.advance(held).expect("waits for the window");
    let monday = datetime!(2031-11-03 01:00 UTC);
    assert_eq!(
        waited.events,
        [Event::RollBlocked {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: renewal.thumbprint,
            effective_at: friday,
            servers: vec![],
            partners: vec![],
            window_opens: Some(monday),
        }]
    );
    assert_eq!(
        waited.events[0].to_string(),
        format!(
            "OAuthTokenIssuer at global: roll of {} blocked; waiting for the renewal window at 2031-11-03T01:00:00Z",
            renewal.thumbprint
        )
    );
    // The wait survives a reload.
    let mut store = Store::from_json(&store.to_json().unwrap()).expect("load");
    assert_eq!(store.next_due(), Some(monday));
    let rolled = store.advance(monday).expect("roll");
    assert!(
        rolled.events.iter().any(|e| matches!(e, Event::Rolled { thumbprint, applied_at, .. } if *thumbprint == renewal.thumbprint && *applied_at == monday)),
        "{:?}",
        rolled.events
    );
}
