//! The store: set, roll, advance, cancel, remove, rollback, queries, scopes and the fleet, each
//! with the exact events and values it must give.

use certslot::{
    CertType, Certificate, Event, ImportOptions, Password, Pfx, RollOptions, Scope, SlotError, Store,
    Thumbprint, TypeConfig,
    policy::NameError,
    store::{CancelReason, DriftOptions, DropReason, Role},
    validate::Violation,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const T0: OffsetDateTime = datetime!(2026-06-01 0:00 UTC);
const ROLL: OffsetDateTime = datetime!(2027-07-01 0:00 UTC);
const OAUTH: CertType = CertType::OAuthTokenIssuer;

fn pfx(bytes: &[u8]) -> Pfx {
    Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default()).expect("fixture imports")
}

/// A store for contoso.com with certificates A and B (RSA 2048, valid 2026-01-01 to 2036-01-01).
fn store() -> (Store, Thumbprint, Thumbprint) {
    let mut store = Store::for_sip_domain("contoso.com").expect("valid domain");
    let a = store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-default.pfx"))).expect("leaf");
    let b = store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-rsa2048-next.pfx"))).expect("leaf");
    (store, a, b)
}

fn current(store: &Store, t: &CertType, scope: &Scope) -> Option<Thumbprint> {
    store.resolve(t, scope).and_then(|(_, s)| s.current()).map(|a| a.thumbprint)
}

#[test]
fn set_then_roll_then_advance_across_the_effective_date() {
    let (mut store, a, b) = store();
    assert_eq!(a.to_string(), "3BF702B601477250F70E61E287798983087DA4AB");
    let set = store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    assert_eq!(
        set.events,
        vec![Event::Set { cert_type: OAUTH, scope: Scope::Global, thumbprint: a, at: T0 }]
    );

    let roll = store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    assert_eq!(
        roll.events,
        vec![Event::RollScheduled {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            effective_at: ROLL
        }]
    );
    assert_eq!(store.next_due(), Some(ROLL));
    let view = store.get(&OAUTH, &Scope::Global).expect("view");
    assert_eq!(view.current.as_ref().map(|c| c.thumbprint), Some(a));
    assert_eq!(view.pending.as_ref().map(|c| (c.thumbprint, c.effective_at)), Some((b, ROLL)));
    assert_eq!(view.current.as_ref().map(|c| c.subject.as_str()), Some("CN=sip.contoso.com,O=Contoso,C=US"));

    let before = store.advance(ROLL - Duration::SECOND).expect("advance");
    assert_eq!(before.events, vec![]);
    assert_eq!(current(&store, &OAUTH, &Scope::Global), Some(a));

    let rolled = store.advance(ROLL).expect("advance");
    assert_eq!(
        rolled.events,
        vec![Event::Rolled {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            previous: Some(a),
            effective_at: ROLL,
            applied_at: ROLL
        }]
    );
    let slot = store.resolve(&OAUTH, &Scope::Global).map(|(_, s)| s).expect("slot");
    assert_eq!(slot.current().map(|c| (c.thumbprint, c.since)), Some((b, ROLL)));
    assert_eq!(slot.previous().map(|c| (c.thumbprint, c.since)), Some((a, T0)));
    assert_eq!(slot.pending(), None);
    // Signers use the current certificate; verifiers accept current, then previous.
    assert_eq!(store.signing_cert(&OAUTH, &Scope::Global, ROLL).map(|s| s.certificate.thumbprint()), Some(b));
    let verifiers: Vec<Thumbprint> =
        store.verification_certs(&OAUTH, &Scope::Global, ROLL).iter().map(|c| c.thumbprint()).collect();
    assert_eq!(verifiers, vec![b, a]);

    // Idempotent for the same instant; an earlier instant is refused and changes nothing.
    let revision = store.revision();
    let again = store.advance(ROLL).expect("advance");
    assert_eq!((again.events, again.revision), (vec![], revision));
    assert_eq!(
        store.advance(T0).map(|o| o.revision),
        Err(SlotError::TimeWentBackwards { at: T0, last: ROLL })
    );
    assert_eq!(store.revision(), revision);
}

#[test]
fn roll_refusals_carry_the_values() {
    let (mut store, a, b) = store();
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    let revision = store.revision();
    let roll = |store: &mut Store, t: &Thumbprint, effective: OffsetDateTime, options: RollOptions| {
        store.roll(&[OAUTH], &Scope::Global, t, effective, T0, options).map(|o| o.events)
    };
    assert_eq!(
        roll(&mut store, &b, T0 - Duration::DAY, RollOptions::default()),
        Err(SlotError::EffectiveInPast { effective_at: T0 - Duration::DAY, at: T0 })
    );
    assert_eq!(
        roll(&mut store, &a, ROLL, RollOptions::default()),
        Err(SlotError::AlreadyCurrent { cert_type: OAUTH, scope: Scope::Global, thumbprint: a })
    );
    let late = datetime!(2035-12-31 12:00 UTC);
    assert_eq!(
        roll(&mut store, &b, late, RollOptions::default()),
        Err(SlotError::ExpiresWithinLeadTime {
            thumbprint: b,
            effective_at: late,
            not_after: datetime!(2036-01-01 0:00 UTC),
            lead_time: Duration::hours(24)
        })
    );
    assert_eq!(
        roll(&mut store, &b, datetime!(2037-01-01 0:00 UTC), RollOptions::default()),
        Err(SlotError::NotValidAtEffective {
            thumbprint: b,
            effective_at: datetime!(2037-01-01 0:00 UTC),
            not_before: datetime!(2026-01-01 0:00 UTC),
            not_after: datetime!(2036-01-01 0:00 UTC)
        })
    );
    // A certificate that outlives the current one cannot roll in after the current one's
    // lead time began.
    let config = TypeConfig::for_type(&OAUTH, None).require_private_key(false);
    store.configure_type(OAUTH, config).expect("valid configuration");
    let long = store
        .add_certificate(Certificate::from_der(include_bytes!("data/year9999.der")).expect("parses"), None);
    let revision = revision + 2;
    assert_eq!(store.revision(), revision);
    assert_eq!(
        roll(&mut store, &long, late, RollOptions::default()),
        Err(SlotError::CurrentExpiresFirst {
            current: a,
            not_after: datetime!(2036-01-01 0:00 UTC),
            latest: datetime!(2035-12-31 0:00 UTC),
            effective_at: late
        })
    );
    // `force` overrides timing checks, not the policy.
    let forced = roll(&mut store, &long, late, RollOptions::default().force()).expect("forced");
    assert_eq!(forced.len(), 1);
    assert_eq!(store.revision(), revision + 1);
}

#[test]
fn policy_violations_are_hard_unless_asked() {
    let (mut store, a, _) = store();
    let small = store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-rsa1024.pfx"))).expect("leaf");
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    let before = store.revision();
    let err = store.roll(&[OAUTH], &Scope::Global, &small, ROLL, T0, RollOptions::default().force());
    assert_eq!(
        err.map(|o| o.events),
        Err(SlotError::PolicyViolations {
            cert_type: OAUTH,
            thumbprint: small,
            violations: vec![Violation::KeyTooSmall {
                algorithm: certslot::x509::KeyAlgorithm::Rsa,
                bits: 1024,
                min_bits: 2048
            }]
        })
    );
    assert_eq!(store.revision(), before);
    let ok = store.roll(&[OAUTH], &Scope::Global, &small, ROLL, T0, RollOptions::default().ignore_policy());
    assert!(ok.is_ok());

    // A certificate without its private key cannot serve a type that signs.
    let no_key = store
        .add_certificate(Certificate::from_der(include_bytes!("data/rsa2048.der")).expect("parses"), None);
    assert_eq!(
        store
            .set(&[CertType::Default], &Scope::Global, &no_key, T0, RollOptions::default())
            .map(|o| o.events),
        Err(SlotError::NoPrivateKey { cert_type: CertType::Default, thumbprint: no_key })
    );
}

#[test]
fn several_types_at_once_are_all_or_nothing() {
    let (mut store, a, b) = store();
    // OAuthTokenIssuer requires 3072 bits here; Default does not.
    let strict = TypeConfig::for_type(&OAUTH, None);
    let policy = strict
        .get_policy()
        .clone()
        .with_key(certslot::validate::KeyRule::default().min_rsa_bits(3072).expect("valid"));
    let strict = strict.policy(policy);
    store.configure_type(OAUTH, strict).expect("valid configuration");
    let json_before = store.to_json().unwrap();
    let result = store.set(&[CertType::Default, OAUTH], &Scope::Global, &a, T0, RollOptions::default());
    assert!(matches!(result, Err(SlotError::PolicyViolations { cert_type: CertType::OAuthTokenIssuer, .. })));
    assert_eq!(store.to_json().unwrap(), json_before);
    assert_eq!(store.get(&CertType::Default, &Scope::Global), None);

    // From another type's current certificate (the seed's $x = (Get-CsCertificate -Type Default).Thumbprint).
    store
        .set(
            &[CertType::Default, CertType::WebServicesInternal],
            &Scope::Global,
            &b,
            T0,
            RollOptions::default(),
        )
        .expect("set");
    assert_eq!(current(&store, &CertType::WebServicesInternal, &Scope::Global), Some(b));
    store.configure_type(OAUTH, TypeConfig::for_type(&OAUTH, None)).expect("valid configuration");
    store
        .set_from(&[OAUTH], &Scope::Global, (&CertType::Default, &Scope::Global), T0, RollOptions::default())
        .expect("set from Default");
    assert_eq!(current(&store, &OAUTH, &Scope::Global), Some(b));
    // The largest lead time of the types applies to a multi-type roll.
    let late = datetime!(2035-12-31 16:00 UTC);
    assert!(matches!(
        store.roll(&[CertType::AudioVideoAuthentication, OAUTH], &Scope::Global, &a, late, T0, RollOptions::default()),
        Err(SlotError::ExpiresWithinLeadTime { lead_time, .. }) if lead_time == Duration::hours(24)
    ));
}

#[test]
fn set_cancels_a_pending_roll_and_displaces_the_current() {
    let (mut store, a, b) = store();
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    let t1 = T0 + Duration::DAY;
    let out = store.set(&[OAUTH], &Scope::Global, &b, t1, RollOptions::default()).expect("set");
    assert_eq!(
        out.events,
        vec![
            Event::RollCancelled {
                cert_type: OAUTH,
                scope: Scope::Global,
                thumbprint: b,
                effective_at: ROLL,
                reason: CancelReason::Set
            },
            Event::Displaced { cert_type: OAUTH, scope: Scope::Global, thumbprint: a },
            Event::Set { cert_type: OAUTH, scope: Scope::Global, thumbprint: b, at: t1 },
        ]
    );
    assert_eq!(store.next_due(), Some(datetime!(2035-12-31 0:00 UTC)));
}

#[test]
fn cancel_remove_and_rollback() {
    let (mut store, a, b) = store();
    let at = T0;
    assert_eq!(
        store.cancel_roll(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Err(SlotError::NoPendingRoll { cert_type: OAUTH, scope: Scope::Global })
    );
    store.set(&[OAUTH], &Scope::Global, &a, at, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, at, RollOptions::default()).expect("roll");
    assert_eq!(
        store.cancel_roll(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Ok(vec![Event::RollCancelled {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            effective_at: ROLL,
            reason: CancelReason::Requested
        }])
    );
    store.set(&[OAUTH], &Scope::Global, &b, at, RollOptions::default()).expect("set");
    assert_eq!(
        store.rollback(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Ok(vec![Event::RolledBack { cert_type: OAUTH, scope: Scope::Global, thumbprint: a, displaced: b }])
    );
    assert_eq!(
        store.remove_previous(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Ok(vec![Event::PreviousDropped {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            reason: DropReason::Removed
        }])
    );
    assert_eq!(
        store.rollback(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Err(SlotError::NoPrevious { cert_type: OAUTH, scope: Scope::Global })
    );
    assert_eq!(
        store.remove(&OAUTH, &Scope::Global, at).map(|o| o.events),
        Ok(vec![Event::CurrentRemoved { cert_type: OAUTH, scope: Scope::Global, thumbprint: a }])
    );
    assert_eq!(store.get(&OAUTH, &Scope::Global), None);
    assert_eq!(store.remove_certificate(&a).map(|s| s.certificate.thumbprint()), Ok(a));
}

#[test]
fn advance_drops_expired_previous_and_warns() {
    let (mut store, a, b) = store();
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.set(&[OAUTH], &Scope::Global, &b, T0, RollOptions::default()).expect("set");
    let lead = datetime!(2035-12-31 0:00 UTC);
    let warned = store.advance(lead).expect("advance");
    assert_eq!(
        warned.events,
        vec![Event::CurrentExpiresSoon {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            not_after: datetime!(2036-01-01 0:00 UTC),
            lead_time: Duration::hours(24)
        }]
    );
    // Valid through notAfter, gone one instant later.
    assert_eq!(store.advance(datetime!(2036-01-01 0:00 UTC)).map(|o| o.events), Ok(vec![]));
    let after = datetime!(2036-01-01 0:00:01 UTC);
    assert_eq!(
        store.advance(after).map(|o| o.events),
        Ok(vec![
            Event::PreviousDropped {
                cert_type: OAUTH,
                scope: Scope::Global,
                thumbprint: a,
                reason: DropReason::Expired
            },
            Event::CurrentExpired {
                cert_type: OAUTH,
                scope: Scope::Global,
                thumbprint: b,
                not_after: datetime!(2036-01-01 0:00 UTC)
            },
        ])
    );
    assert_eq!(store.signing_cert(&OAUTH, &Scope::Global, after).map(|s| s.certificate.thumbprint()), None);
    assert_eq!(store.next_due(), None);
}

#[test]
fn pools_fall_back_to_their_site_then_global() {
    let (mut store, a, b) = store();
    store.add_site("Redmond").expect("site");
    store.add_pool("pool01.contoso.com", "redmond").expect("pool");
    let site = Scope::site("redmond").expect("valid");
    let pool = Scope::pool("pool01.contoso.com").expect("valid");
    assert_eq!(
        store
            .set(&[OAUTH], &Scope::pool("pool99.contoso.com").expect("valid"), &a, T0, RollOptions::default())
            .map(|o| o.revision),
        Err(SlotError::UnknownTopology { kind: "pool", name: "pool99.contoso.com".into() })
    );
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    assert_eq!(store.resolve(&OAUTH, &pool).map(|(s, _)| s), Some(Scope::Global));
    store.set(&[OAUTH], &site, &b, T0, RollOptions::default()).expect("set");
    assert_eq!(store.resolve(&OAUTH, &pool).map(|(s, _)| s), Some(site.clone()));
    assert_eq!(current(&store, &OAUTH, &pool), Some(b));
    assert_eq!(current(&store, &OAUTH, &Scope::Global), Some(a));
}

#[test]
fn timeline_is_a_dry_run() {
    let (mut store, a, b) = store();
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    let json = store.to_json().unwrap();
    let timeline = store.timeline(&OAUTH, &Scope::Global, T0, datetime!(2027-12-31 0:00 UTC));
    assert_eq!(timeline.len(), 1);
    assert_eq!((timeline[0].at, timeline[0].slot.current().map(|c| c.thumbprint)), (ROLL, Some(b)));
    assert!(matches!(&timeline[0].event, Event::Rolled { previous: Some(p), .. } if *p == a));
    // Until 2037: the roll, the lead-time warning of b (no roll after it), then at b's and a's
    // expiry the previous dropped and the current expired.
    let whole = store.timeline(&OAUTH, &Scope::Global, T0, datetime!(2037-01-01 0:00 UTC));
    let expiry = datetime!(2036-01-01 0:00 UTC) + Duration::nanoseconds(1);
    let summary: Vec<(OffsetDateTime, &str)> = whole
        .iter()
        .map(|e| {
            let kind = match &e.event {
                Event::Rolled { .. } => "rolled",
                Event::CurrentExpiresSoon { .. } => "expires-soon",
                Event::PreviousDropped { reason: DropReason::Expired, .. } => "previous-dropped",
                Event::CurrentExpired { .. } => "expired",
                _ => "other",
            };
            (e.at, kind)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (ROLL, "rolled"),
            (datetime!(2035-12-31 0:00 UTC), "expires-soon"),
            (expiry, "previous-dropped"),
            (expiry, "expired"),
        ]
    );
    assert_eq!(store.to_json().unwrap(), json, "a dry run changes nothing");
}

#[test]
fn fleet_desired_drift_and_staged_promotion() {
    let (mut store, a, b) = store();
    store.add_site("redmond").expect("site");
    store.add_pool("pool01.contoso.com", "redmond").expect("pool");
    for fe in ["fe1.contoso.com", "fe2.contoso.com"] {
        store.add_server(fe, "pool01.contoso.com").expect("server");
    }
    let config = TypeConfig::for_type(&OAUTH, None).require_staged(true);
    store.configure_type(OAUTH, config).expect("valid configuration");
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");

    let desired = store.desired("FE1.contoso.com", T0).expect("known server");
    let roles: Vec<(Thumbprint, Role)> = desired.iter().map(|d| (d.thumbprint, d.role)).collect();
    assert_eq!(roles, vec![(a, Role::Current), (b, Role::Pending)]);

    // Nobody has reported yet: everything is missing everywhere.
    let drift = store.drift(T0, DriftOptions::default());
    assert_eq!(
        drift.iter().map(|d| (d.server.as_str(), d.reported_at)).collect::<Vec<_>>(),
        [("fe1.contoso.com", None), ("fe2.contoso.com", None)]
    );
    assert_eq!(drift[0].missing.iter().map(|d| d.thumbprint).collect::<Vec<_>>(), vec![a, b]);
    assert!(!drift[0].is_clean());

    let stranger: Thumbprint = "00".repeat(20).parse().expect("hex");
    store.record_holdings("fe1.contoso.com", [a, b], T0).expect("record");
    store.record_holdings("fe2.contoso.com", [a, stranger], T0).expect("record");
    let drift = store.drift(T0, DriftOptions::default());
    assert!(drift[0].is_clean(), "{drift:?}");
    assert_eq!(drift[0].reported_at, Some(T0));
    assert_eq!(drift[1].missing.iter().map(|d| d.thumbprint).collect::<Vec<_>>(), vec![b]);
    assert_eq!(drift[1].unexpected, vec![stranger]);
    assert_eq!(drift[1].pool, "pool01.contoso.com");

    // fe2 lacks the pending certificate: the roll waits and says who it waits for.
    store.record_holdings("fe2.contoso.com", [a], T0).expect("record");
    let blocked = store.advance(ROLL).expect("advance");
    assert_eq!(
        blocked.events,
        vec![Event::RollBlocked {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            effective_at: ROLL,
            servers: vec!["fe2.contoso.com".into()],
            partners: vec![],
            window_opens: None,
        }]
    );
    assert_eq!(current(&store, &OAUTH, &Scope::Global), Some(a));
    assert_eq!(store.advance(ROLL + Duration::HOUR).map(|o| o.events), Ok(vec![]), "reported once");
    let later = ROLL + Duration::hours(2);
    store.record_holdings("fe2.contoso.com", [a, b], later).expect("record");
    let rolled = store.advance(later).expect("advance");
    assert_eq!(
        rolled.events,
        vec![Event::Rolled {
            cert_type: OAUTH,
            scope: Scope::Global,
            thumbprint: b,
            previous: Some(a),
            effective_at: ROLL,
            applied_at: later
        }]
    );
    // After the roll both servers hold current b and previous a: no drift, as long as fe1's
    // report from T0 is not held against it.
    assert!(store.drift(later, DriftOptions::default()).iter().all(|d| d.is_clean()));
    let strict = store.drift(later, DriftOptions::default().max_report_age(Duration::hours(1)));
    assert_eq!(strict.iter().map(|d| d.outdated_report).collect::<Vec<_>>(), [true, false]);
    assert!(!strict[0].is_clean());
}

#[test]
fn names_parse_case_insensitively() {
    assert_eq!("webservicesinternal".parse::<CertType>(), Ok(CertType::WebServicesInternal));
    assert_eq!(
        "bad name!".parse::<CertType>(),
        Err(NameError { kind: "certificate type", name: "bad name!".into() })
    );
    assert_eq!(CertType::builtin().count(), 20);
    assert_eq!("site:".parse::<Scope>(), Err(NameError { kind: "site", name: String::new() }));
}

#[test]
fn state_round_trips_through_json_and_rejects_tampering() {
    let (mut store, a, b) = store();
    store.add_site("redmond").expect("site");
    store.add_pool("pool01.contoso.com", "redmond").expect("pool");
    store.add_server("fe1.contoso.com", "pool01.contoso.com").expect("server");
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    let json = store.to_json().unwrap();
    let loaded = Store::from_json(&json).expect("loads");
    assert_eq!(loaded.to_json().unwrap(), json);
    assert_eq!(loaded.revision(), store.revision());
    assert_eq!(loaded.next_due(), Some(ROLL));
    assert!(!json.contains("PRIVATE"), "no keys unless asked");
    assert!(loaded.inventory().get(&a).is_some_and(|s| s.key.is_none()));

    // With keys, in password-protected PFX form.
    let password = Password::new("state-secret");
    let with_keys = store
        .to_json_with_keys(
            &password,
            &certslot::ExportOptions::default(),
            &mut certslot::rand_core::UnwrapErr(getrandom::SysRng),
        )
        .expect("exports");
    let loaded = Store::from_json_with_keys(&with_keys, &password).expect("loads with keys");
    assert!(loaded.inventory().get(&a).is_some_and(|s| s.key.is_some()));
    assert!(matches!(
        Store::from_json_with_keys(&with_keys, &Password::new("wrong")),
        Err(certslot::LoadError::Key { source: certslot::PfxError::WrongPassword { .. }, .. })
    ));

    // Tampering: a dangling thumbprint, a truncated file, an unknown format.
    let dangling = json.replace(&b.to_string(), &"AB".repeat(20));
    assert!(matches!(Store::from_json(&dangling), Err(certslot::LoadError::DanglingThumbprint { .. })));
    assert!(matches!(Store::from_json(&json[..json.len() / 2]), Err(certslot::LoadError::Json(_))));
    let future = json.replacen("\"format\": 2", "\"format\": 3", 1);
    assert_eq!(
        Store::from_json(&future).map(|s| s.revision()),
        Err(certslot::LoadError::UnsupportedFormat { format: 3 })
    );
    // The pending certificate made the current one (b's thumbprint first appears as the
    // slot's pending certificate; certificates are Base64 DER).
    let impossible = json.replacen(&b.to_string(), &a.to_string(), 1);
    assert_ne!(impossible, json);
    assert!(matches!(Store::from_json(&impossible), Err(certslot::LoadError::ImpossibleSlot { .. })));
}

#[test]
fn add_pfx_refuses_files_without_key_or_leaf_and_adds_nothing() {
    let mut store = Store::new();
    let before = store.revision();
    let lenient = ImportOptions::default().require_key(false).require_certificate(false);
    let import = |bytes: &[u8]| Pfx::import(bytes, &Password::new("P@ssw0rd"), lenient).expect("imports");
    let certs_only = import(include_bytes!("data/pfx/openssl3-certs-only.pfx"));
    assert_eq!(store.add_pfx(certs_only), Err(SlotError::PfxWithoutKey { certificates: 3 }));
    let key_only = import(include_bytes!("data/pfx/openssl3-key-only.pfx"));
    assert_eq!(store.add_pfx(key_only), Err(SlotError::PfxWithoutLeaf { certificates: 0 }));
    assert_eq!(store.revision(), before);
    assert_eq!(store.to_json().unwrap(), Store::new().to_json().unwrap());
    // A PFX with a chain: the leaf with its key, the CA certificates without.
    let chain = pfx(include_bytes!("data/pfx/openssl3-chain.pfx"));
    let leaf = store.add_pfx(chain).expect("leaf and key");
    assert!(store.inventory().get(&leaf).is_some_and(|s| s.key.is_some()));
}

/// A store with site redmond, pool01 (fe1, fe2) and pool02 (fe3).
fn fleet() -> (Store, Thumbprint, Thumbprint) {
    let (mut store, a, b) = store();
    store.add_site("redmond").expect("site");
    store.add_pool("pool01.contoso.com", "redmond").expect("pool");
    store.add_pool("pool02.contoso.com", "redmond").expect("pool");
    store.add_server("fe1.contoso.com", "pool01.contoso.com").expect("server");
    store.add_server("fe2.contoso.com", "pool01.contoso.com").expect("server");
    store.add_server("fe3.contoso.com", "pool02.contoso.com").expect("server");
    (store, a, b)
}

#[test]
fn decommissioning_removes_servers_then_pools_then_sites() {
    let (mut store, a, _) = fleet();
    let pool02 = Scope::pool("pool02.contoso.com").expect("pool");
    store.set(&[CertType::Default], &pool02, &a, T0, RollOptions::default()).expect("set");
    store.record_holdings("fe3.contoso.com", [a], T0).expect("record");

    assert_eq!(
        store.remove_site("redmond").map(|o| o.events),
        Err(SlotError::HasMembers {
            kind: "site",
            name: "redmond".into(),
            members: vec!["pool01.contoso.com".into(), "pool02.contoso.com".into()]
        })
    );
    assert_eq!(
        store.remove_pool("pool02.contoso.com").map(|o| o.events),
        Err(SlotError::HasMembers {
            kind: "pool",
            name: "pool02.contoso.com".into(),
            members: vec!["fe3.contoso.com".into()]
        })
    );
    let revision = store.revision();
    store.remove_server("FE3.contoso.com").expect("server removed");
    assert_eq!(store.revision(), revision + 1);
    assert!(store.topology().holdings("fe3.contoso.com").is_none(), "its report leaves with it");
    assert_eq!(
        store.topology().servers().map(|(s, _)| s).collect::<Vec<_>>(),
        ["fe1.contoso.com", "fe2.contoso.com"]
    );
    assert_eq!(
        store.remove_server("fe3.contoso.com").map(|o| o.events),
        Err(SlotError::UnknownTopology { kind: "server", name: "fe3.contoso.com".into() })
    );
    // The pool still has an assignment.
    let json = store.to_json().unwrap();
    assert_eq!(
        store.remove_pool("pool02.contoso.com").map(|o| o.events),
        Err(SlotError::ScopeInUse { cert_type: CertType::Default, scope: pool02.clone() })
    );
    assert_eq!(store.to_json().unwrap(), json, "a refused removal changes nothing");
    store.remove(&CertType::Default, &pool02, T0).expect("current removed");
    store.remove_previous(&CertType::Default, &pool02, T0).expect_err("no previous");
    store.remove_pool("pool02.contoso.com").expect("pool removed");
    assert_eq!(store.topology().pools().collect::<Vec<_>>(), [("pool01.contoso.com", "redmond")]);
    // The emptied slot of the removed pool is not state.
    let reloaded = Store::from_json(&store.to_json().unwrap()).expect("loads");
    assert_eq!(reloaded.to_json().unwrap(), store.to_json().unwrap());
    assert!(!store.to_json().unwrap().contains("pool02"));
    for fe in ["fe1.contoso.com", "fe2.contoso.com"] {
        store.remove_server(fe).expect("server");
    }
    store.remove_pool("pool01.contoso.com").expect("pool");
    store.remove_site("redmond").expect("site");
    assert_eq!(store.topology().sites().count(), 0);
    assert_eq!(
        store.remove_site("redmond").map(|o| o.events),
        Err(SlotError::UnknownTopology { kind: "site", name: "redmond".into() })
    );
}

#[test]
fn a_site_with_an_assignment_cannot_be_removed() {
    let (mut store, a, _) = store();
    store.add_site("dublin").expect("site");
    let site = Scope::site("dublin").expect("site");
    store.set(&[CertType::Default], &site, &a, T0, RollOptions::default()).expect("set");
    assert_eq!(
        store.remove_site("dublin").map(|o| o.events),
        Err(SlotError::ScopeInUse { cert_type: CertType::Default, scope: site })
    );
}

#[test]
fn removing_the_server_a_roll_waits_for_lets_it_roll() {
    let (mut store, a, b) = fleet();
    let config = TypeConfig::for_type(&OAUTH, None).require_staged(true);
    store.configure_type(OAUTH, config).expect("valid configuration");
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    for fe in ["fe1.contoso.com", "fe2.contoso.com"] {
        store.record_holdings(fe, [a, b], T0).expect("record");
    }
    let blocked = store.advance(ROLL).expect("advance");
    assert!(
        matches!(blocked.events.as_slice(), [Event::RollBlocked { servers, .. }] if *servers == ["fe3.contoso.com"])
    );
    store.remove_server("fe3.contoso.com").expect("decommissioned");
    let later = ROLL + Duration::MINUTE;
    let rolled = store.advance(later).expect("advance");
    assert!(
        matches!(rolled.events.as_slice(), [Event::Rolled { thumbprint, applied_at, .. }] if *thumbprint == b && *applied_at == later)
    );
}

#[test]
fn timeline_all_orders_every_slot_by_instant() {
    let (mut store, a, b) = fleet();
    let pool01 = Scope::pool("pool01.contoso.com").expect("pool");
    store.set(&[OAUTH], &Scope::Global, &a, T0, RollOptions::default()).expect("set");
    store.set(&[CertType::Default], &pool01, &b, T0, RollOptions::default()).expect("set");
    store.roll(&[OAUTH], &Scope::Global, &b, ROLL, T0, RollOptions::default()).expect("roll");
    let json = store.to_json().unwrap();
    let plan = store.timeline_all(T0, datetime!(2036-01-02 0:00 UTC));
    assert_eq!(store.to_json().unwrap(), json, "a dry run changes nothing");
    let steps: Vec<(OffsetDateTime, String, String)> = plan
        .iter()
        .map(|e| (e.at, format!("{:?}", std::mem::discriminant(&e.event)), e.event.to_string()))
        .collect();
    let expiry = datetime!(2036-01-01 0:00:00.000_000_001 UTC);
    let at: Vec<OffsetDateTime> = steps.iter().map(|s| s.0).collect();
    assert_eq!(at, [ROLL, datetime!(2035-12-31 0:00 UTC), expiry, expiry, expiry]);
    assert!(matches!(plan[0].event, Event::Rolled { .. }));
    assert!(
        matches!(&plan[4].event, Event::CurrentExpired { cert_type: CertType::Default, scope, .. } if *scope == pool01)
    );
    // The per-slot timeline is the store-wide one filtered to that slot.
    let oauth_only: Vec<_> = plan.iter().filter(|e| matches!(&e.event, Event::Rolled { cert_type, .. } | Event::CurrentExpiresSoon { cert_type, .. } | Event::PreviousDropped { cert_type, .. } | Event::CurrentExpired { cert_type, .. } if *cert_type == OAUTH)).cloned().collect();
    assert_eq!(store.timeline(&OAUTH, &Scope::Global, T0, datetime!(2036-01-02 0:00 UTC)), oauth_only);
}

/// Thousands of slots sharing a certificate share its schedule entries (kept as a bitmap once
/// dense): a roll of each, then the expiry of the old certificate, apply to every slot, in slot
/// order, and the schedule empties as the slots move on.
#[test]
fn thousands_of_slots_sharing_a_certificate_roll_and_expire_together() {
    let (mut store, a, b) = store();
    store.add_site("redmond").expect("site");
    let pools: Vec<Scope> = (0..3000)
        .map(|i| {
            let pool = format!("pool{i:04}.contoso.com");
            store.add_pool(&pool, "redmond").expect("pool");
            Scope::pool(&pool).expect("scope")
        })
        .collect();
    for pool in &pools {
        store.set(&[CertType::Default], pool, &a, T0, RollOptions::default()).expect("set");
    }
    // Every other pool rolls to `b`; their `a` becomes previous.
    for pool in pools.iter().step_by(2) {
        store.roll(&[CertType::Default], pool, &b, ROLL, T0, RollOptions::default()).expect("roll");
    }
    assert_eq!(store.next_due(), Some(ROLL));
    let rolled = store.advance(ROLL).expect("advance");
    let scopes: Vec<&Scope> = rolled
        .events
        .iter()
        .filter_map(|e| match e {
            Event::Rolled { scope, .. } => Some(scope),
            _ => None,
        })
        .collect();
    assert_eq!(scopes, pools.iter().step_by(2).collect::<Vec<_>>());
    // `a` and `b` expire together (2036-01-01): 1,500 previous certificates dropped (Default
    // types drop their previous certificate at expiry) and 3,000 current ones reported expired.
    let expiry = store.inventory().get(&a).expect("a").certificate.not_after() + Duration::nanoseconds(1);
    let expired = store.advance(expiry).expect("advance");
    let dropped = expired.events.iter().filter(|e| matches!(e, Event::PreviousDropped { .. })).count();
    let warned = expired.events.iter().filter(|e| matches!(e, Event::CurrentExpired { .. })).count();
    assert_eq!((dropped, warned), (1500, 3000));
    assert_eq!(store.next_due(), None);
}
