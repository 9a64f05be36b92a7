//! Saved state: format 2 keeps every type setting and the servers' reports with their instants;
//! format 1, written by certslot 0.1.0, still loads to the same slots.

use std::collections::BTreeSet;

use certslot::{
    CertType, Event, ImportOptions, LoadError, Password, Pfx, Policy, PolicyError, RollOptions,
    RolloverPolicy, Scope, SlotError, Store, Thumbprint, TypeConfig,
    policy::{RenewBefore, Retention, RolloverError},
    store::{DriftOptions, STATE_FORMAT},
    validate::{KeyRule, SubjectRule, UsageRule, ValidityRule, WarningRule},
    x509::eku,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const FORMAT1: &str = include_str!("data/state/format1.json");
const A: &str = "3BF702B601477250F70E61E287798983087DA4AB";
const B: &str = "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F";
const OAUTH: CertType = CertType::OAuthTokenIssuer;

/// Type, scope, current (thumbprint, since), pending (thumbprint, effective date).
type SlotRow = (String, String, Option<(Thumbprint, OffsetDateTime)>, Option<(Thumbprint, OffsetDateTime)>);

fn thumbprint(hex: &str) -> Thumbprint {
    hex.parse().expect("hex")
}

fn pfx(bytes: &[u8]) -> Pfx {
    Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default()).expect("fixture imports")
}

#[test]
fn format_1_state_loads_to_the_same_slots() {
    let store = Store::from_json(FORMAT1).expect("format 1 loads");
    let (a, b) = (thumbprint(A), thumbprint(B));
    let t0 = datetime!(2026-11-25 9:00 UTC);
    let clock = datetime!(2027-07-01 0:00 UTC);
    assert_eq!(store.revision(), 15);
    assert_eq!(store.clock(), Some(clock));
    let slots: Vec<SlotRow> = store
        .slots()
        .map(|(t, s, slot)| {
            (
                t.to_string(),
                s.to_string(),
                slot.current().map(|c| (c.thumbprint, c.since)),
                slot.pending().map(|p| (p.thumbprint, p.effective_at)),
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            ("OAuthTokenIssuer".into(), "global".into(), Some((a, t0)), Some((b, clock))),
            ("Default".into(), "pool:pool02.contoso.com".into(), Some((a, t0)), None),
            ("WebServicesInternal".into(), "pool:pool02.contoso.com".into(), Some((a, t0)), None),
        ]
    );
    // The configured type kept its settings and gets its default policy back.
    let config = store.type_config(&OAUTH);
    assert_eq!(config.get_lead_time(), Duration::hours(48));
    assert!(config.get_require_staged() && config.get_accept_previous() && config.get_require_private_key());
    assert_eq!(
        config.get_policy(),
        TypeConfig::for_type(&OAUTH, Some(&SubjectRule::new("contoso.com").expect("domain"))).get_policy()
    );
    // Holdings load as reported at the state's clock.
    let fe01 = store.topology().holdings("fe01.contoso.com").expect("fe01 reported");
    assert_eq!(fe01.thumbprints, BTreeSet::from([a, b]));
    assert_eq!(fe01.reported_at, clock);
    // The roll is still blocked: nothing is due until the current certificates expire, and the
    // next advance reports nothing new for it.
    assert_eq!(store.next_due(), Some(datetime!(2036-01-01 0:00:00.000_000_001 UTC)));
    let mut store = store;
    assert_eq!(store.advance(clock + Duration::HOUR).map(|o| o.events), Ok(vec![]));
    // Once fe02 and fe03 report the pending certificate, it rolls.
    let later = clock + Duration::hours(2);
    store.record_holdings("fe02.contoso.com", [a, b], later).expect("fe02");
    store.record_holdings("fe03.contoso.com", [a, b], later).expect("fe03");
    let rolled = store.advance(later).expect("advance");
    assert!(
        matches!(rolled.events.as_slice(), [Event::Rolled { thumbprint, applied_at, .. }] if *thumbprint == b && *applied_at == later)
    );
    // Saved again, it is format 2 and says who the roll waited for nowhere (it is done).
    let json = store.to_json().unwrap();
    assert!(json.starts_with("{\n  \"format\": 2,"), "{}", &json[..40]);
    assert_eq!(Store::from_json(&json).expect("format 2 loads").to_json().unwrap(), json);
}

#[test]
fn format_1_blocked_roll_is_saved_inline_in_format_2() {
    let store = Store::from_json(FORMAT1).expect("format 1 loads");
    let json = store.to_json().unwrap();
    let blocked = "\"blocked_by\": [\n        \"fe02.contoso.com\",\n        \"fe03.contoso.com\"\n      ]";
    assert!(json.contains(blocked), "{json}");
    let reloaded = Store::from_json(&json).expect("loads");
    assert_eq!(reloaded.to_json().unwrap(), json);
    assert_eq!(reloaded.next_due(), store.next_due());
}

/// A configuration with every field away from the type's default.
fn custom_config() -> TypeConfig {
    TypeConfig::for_type(&OAUTH, None)
        .policy(
            Policy::new()
                .with_key(
                    KeyRule::default()
                        .min_rsa_bits(3072)
                        .and_then(|k| k.accept_rsa_pss(true))
                        .and_then(|k| k.accept_ec(384))
                        .and_then(|k| k.accept_eddsa(true))
                        .and_then(|k| k.accept_rsa(false))
                        .expect("valid key rule"),
                )
                .with_subject(SubjectRule::new("fabrikam.com").expect("domain"))
                .with_validity(ValidityRule::default().min_remaining(Duration::days(14)))
                .with_usage(
                    UsageRule::default()
                        .require_digital_signature(false)
                        .required_eku(Some(eku::CLIENT_AUTH)),
                )
                .with_warnings(
                    WarningRule::default()
                        .weak_signature(false)
                        .expiring_within(Some(Duration::days(60)))
                        .unknown_critical(false)
                        .ca_certificate(false),
                ),
        )
        .lead_time(Duration::hours(36))
        .accept_previous(true)
        .require_private_key(false)
        .require_staged(true)
        .rollover(
            RolloverPolicy::lync()
                .renew_before(RenewBefore::LifetimeFraction { numerator: 2, denominator: 3 })
                .publish_ahead(Duration::hours(48))
                .retain_previous(Retention::For(Duration::days(3)))
                .critical_before(Duration::hours(40))
                .token_lifetime(Duration::hours(2))
                .certificate_lifetime(Duration::days(400)),
        )
}

#[test]
fn type_configuration_survives_a_round_trip() {
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    let custom = CertType::custom("Fabrikam-Signing").expect("name");
    store.configure_type(custom.clone(), custom_config()).expect("valid configuration");
    // A policy with no rules at all, for another type.
    let bare = TypeConfig::for_type(&OAUTH, None).policy(Policy::new());
    store.configure_type(OAUTH, bare.clone()).expect("valid configuration");
    let defaults = store.type_config(&CertType::Default);

    let json = store.to_json().unwrap();
    let loaded = Store::from_json(&json).expect("loads");
    assert_eq!(*loaded.type_config(&custom), custom_config());
    assert_eq!(*loaded.type_config(&OAUTH), bare);
    assert_eq!(loaded.type_config(&CertType::Default), defaults);
    assert_eq!(loaded.to_json().unwrap(), json);
    // Every field differs from the default, so a field that were not saved would show.
    let default = TypeConfig::for_type(&custom, None);
    let saved = custom_config();
    assert_ne!(saved.get_policy().key_rule(), default.get_policy().key_rule());
    assert_ne!(saved.get_policy().subject_rule(), default.get_policy().subject_rule());
    assert_ne!(saved.get_policy().validity_rule(), default.get_policy().validity_rule());
    assert_ne!(saved.get_policy().usage_rule(), default.get_policy().usage_rule());
    assert_ne!(saved.get_policy().warning_rule(), default.get_policy().warning_rule());
    assert_ne!(saved.get_lead_time(), default.get_lead_time());
    assert_ne!(saved.get_accept_previous(), default.get_accept_previous());
    assert_ne!(saved.get_require_private_key(), default.get_require_private_key());
    assert_ne!(saved.get_require_staged(), default.get_require_staged());
    let (rollover, default_rollover) = (saved.get_rollover(), default.get_rollover());
    assert_ne!(rollover.get_renew_before(), default_rollover.get_renew_before());
    assert_ne!(rollover.get_publish_ahead(), default_rollover.get_publish_ahead());
    assert_ne!(rollover.get_retain_previous(), default_rollover.get_retain_previous());
    assert_ne!(rollover.get_critical_before(), default_rollover.get_critical_before());
    assert_ne!(rollover.get_token_lifetime(), default_rollover.get_token_lifetime());
    assert_ne!(rollover.get_certificate_lifetime(), default_rollover.get_certificate_lifetime());
}

#[test]
fn a_saved_rollover_policy_that_would_leave_a_gap_is_a_typed_error() {
    let mut store = Store::new();
    store.configure_type(OAUTH, custom_config()).expect("valid configuration");
    let json = store.to_json().unwrap();
    // Publish-ahead (48 h) cut below the lead time (36 h).
    assert!(json.contains("\"publish_ahead_seconds\": 172800"));
    assert_eq!(
        Store::from_json(
            &json.replace("\"publish_ahead_seconds\": 172800", "\"publish_ahead_seconds\": 3600")
        )
        .map(|s| s.revision()),
        Err(LoadError::BadRollover {
            cert_type: OAUTH,
            source: RolloverError::PublishAheadBelowLeadTime {
                publish_ahead: Duration::hours(1),
                lead_time: Duration::hours(36),
            },
        })
    );
    // Both renewal rules at once.
    assert!(json.contains("\"renew_at_fraction\""));
    let both =
        json.replace("\"renew_at_fraction\"", "\"renew_before_seconds\": 60,\n        \"renew_at_fraction\"");
    assert!(matches!(Store::from_json(&both), Err(LoadError::BadName { .. })));
}

#[test]
fn states_saved_without_rollover_policies_load_with_the_default_fitted_to_their_lead_time() {
    let mut store = Store::new();
    let config = TypeConfig::for_type(&OAUTH, None).lead_time(Duration::hours(36));
    // Lync's 24-hour publish-ahead is below a 36-hour lead time: refused as such ...
    assert_eq!(
        store.configure_type(OAUTH, config.clone()),
        Err(SlotError::InvalidRollover {
            cert_type: OAUTH,
            source: RolloverError::PublishAheadBelowLeadTime {
                publish_ahead: Duration::hours(24),
                lead_time: Duration::hours(36),
            },
        })
    );
    // ... and fitted when it comes from a state that predates rollover policies.
    let fitted = RolloverPolicy::fitted(&OAUTH, Duration::hours(36), true);
    assert_eq!(fitted.get_publish_ahead(), Duration::hours(36));
    assert_eq!(fitted.get_critical_before(), Duration::hours(36));
    assert_eq!(fitted.get_renew_before(), RenewBefore::Expiry(Duration::weeks(6)));
    store.configure_type(OAUTH, config.rollover(fitted)).expect("fitted");
    let json = store.to_json().unwrap();
    let start = json.find("\"rollover\"").expect("saved");
    let end = start + json[start..].find('}').expect("closes") + 1;
    let without = format!("{}{}", json[..start].trim_end().trim_end_matches(','), &json[end..]);
    assert!(!without.contains("rollover"));
    let loaded = Store::from_json(&without).expect("loads");
    assert_eq!(loaded.type_config(&OAUTH).get_rollover(), fitted);
}

#[test]
fn impossible_saved_policies_and_formats_are_typed_errors() {
    let mut store = Store::new();
    store.configure_type(OAUTH, custom_config()).expect("valid configuration");
    let json = store.to_json().unwrap();
    assert!(json.contains("\"min_rsa_bits\": 3072"));
    assert_eq!(
        Store::from_json(&json.replace("\"min_rsa_bits\": 3072", "\"min_rsa_bits\": 100"))
            .map(|s| s.revision()),
        Err(LoadError::BadPolicy {
            cert_type: OAUTH,
            source: PolicyError::KeySizeOutOfRange { algorithm: "RSA", bits: 100, min: 512, max: 16384 }
        })
    );
    let nothing = json
        .replace("\"rsa_pss\": true", "\"rsa_pss\": false")
        .replace("\"ec_min_bits\": 384", "\"ec_min_bits\": null")
        .replace("\"eddsa\": true", "\"eddsa\": false");
    assert_eq!(
        Store::from_json(&nothing).map(|s| s.revision()),
        Err(LoadError::BadPolicy { cert_type: OAUTH, source: PolicyError::NoKeyAlgorithm })
    );
    let future = json.replacen("\"format\": 2", "\"format\": 3", 1);
    assert_eq!(
        Store::from_json(&future).map(|s| s.revision()),
        Err(LoadError::UnsupportedFormat { format: 3 })
    );
    let ancient = json.replacen("\"format\": 2", "\"format\": 0", 1);
    assert_eq!(
        Store::from_json(&ancient).map(|s| s.revision()),
        Err(LoadError::UnsupportedFormat { format: 0 })
    );
    assert_eq!(STATE_FORMAT, 2);
}

#[test]
fn holdings_keep_their_report_instant() {
    let mut store = Store::for_sip_domain("contoso.com").expect("domain");
    let a = store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-default.pfx"))).expect("leaf");
    store.add_site("redmond").expect("site");
    store.add_pool("pool01.contoso.com", "redmond").expect("pool");
    store.add_server("fe01.contoso.com", "pool01.contoso.com").expect("server");
    let t0 = datetime!(2026-11-25 9:00 UTC);
    store.set(&[OAUTH], &Scope::Global, &a, t0, RollOptions::default()).expect("set");
    let reported = datetime!(2026-11-25 9:05:30.25 UTC);
    store.record_holdings("fe01.contoso.com", [a], reported).expect("record");
    let loaded = Store::from_json(&store.to_json().unwrap()).expect("loads");
    let holdings = loaded.topology().holdings("fe01.contoso.com").expect("reported");
    assert_eq!(holdings.reported_at, reported);
    let drift = loaded
        .drift(reported + Duration::hours(1), DriftOptions::default().max_report_age(Duration::minutes(30)));
    assert!(drift[0].outdated_report && drift[0].missing.is_empty());
}

/// A sealed key must prove the state's password: one that opens under any password (no MAC, the
/// key in the clear) was not written by a holder of it, and the state does not load.
#[test]
fn a_sealed_key_that_does_not_prove_the_password_is_refused() {
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    let a = store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-default.pfx"))).unwrap();
    let password = Password::new("state-s3cret");
    let state = store.to_state().unwrap();
    let unprotected = include_bytes!("data/pfx/openssl3-unencrypted-nomac.pfx").to_vec();
    let forged = state.clone().with_keys([certslot::store::SealedKey::new(a, unprotected)]);
    let e = Store::from_state_with_keys(&forged, &password).unwrap_err();
    assert!(
        matches!(&e, LoadError::Key { thumbprint, source: certslot::PfxError::NotProtected { missing: "it has no integrity MAC" } } if *thumbprint == a),
        "{e:?}"
    );
    // The same certificate's key sealed by certslot with the password loads.
    let mut rng = certslot::rand_core::UnwrapErr(getrandom::SysRng);
    let options = certslot::ExportOptions::default().iterations(1).unwrap();
    let sealed = store.sealed_keys(&password, &options, &mut rng).unwrap();
    let loaded = Store::from_state_with_keys(&state.with_keys(sealed), &password).unwrap();
    assert!(loaded.inventory().iter().any(|s| s.certificate.thumbprint() == a && s.key.is_some()));
}
