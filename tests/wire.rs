//! The JSON of certslot's value types (feature `serde`), pinned for fixed values: each type's
//! exact text (members in order), and the round trip of the types that read back. The JWK Set and
//! the authorization metadata document are pinned in `tests/publish.rs`
//! (`the_jwks_json_has_the_registered_members_in_order_and_nothing_else`,
//! `the_metadata_document_in_exchanges_and_sharepoints_forms_for_a_fixed_store`).
#![cfg(feature = "serde")]

use std::collections::BTreeSet;
use std::sync::Arc;

use certslot::{
    CertType, Event, ExportOptions, ImportOptions, LoadError, Outcome, Password, Pfx, RequestTemplate,
    RollOptions, Scope, Store, Thumbprint,
    rollover::Action,
    store::{
        Assignment, CancelReason, CertView, Desired, DriftOptions, DropReason, IssuerExpiry, PendingRoll,
        Role, SaveError, SavedState, SealedKey, ServerDrift,
    },
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use time::Duration;
use time::macros::datetime;

const A: &str = "3BF702B601477250F70E61E287798983087DA4AB";
const B: &str = "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F";
const OAUTH: CertType = CertType::OAuthTokenIssuer;

fn a() -> Thumbprint {
    A.parse().unwrap()
}

fn b() -> Thumbprint {
    B.parse().unwrap()
}

fn pfx(bytes: &[u8]) -> Pfx {
    Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default()).unwrap()
}

/// The compact JSON of `value`.
fn text(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap()
}

/// `value` written and read back.
fn round_trip<T: Serialize + DeserializeOwned>(value: &T) -> T {
    serde_json::from_str(&text(value)).unwrap()
}

/// A store with both sample certificates (A current for OAuthTokenIssuer at global since
/// 2026-11-25 09:00, B rolling in on 2027-07-01) and one pool of two servers.
fn store() -> (Store, Outcome) {
    let mut store = Store::for_sip_domain("contoso.com").unwrap();
    store.add_site("redmond").unwrap();
    store.add_pool("pool01.contoso.com", "redmond").unwrap();
    store.add_server("fe01.contoso.com", "pool01.contoso.com").unwrap();
    store.add_server("fe02.contoso.com", "pool01.contoso.com").unwrap();
    store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-default.pfx"))).unwrap();
    store.add_pfx(pfx(include_bytes!("data/pfx/openssl3-rsa2048-next.pfx"))).unwrap();
    let at = datetime!(2026-11-25 9:00 UTC);
    let set = store.set(&[OAUTH], &Scope::Global, &a(), at, RollOptions::default()).unwrap();
    store
        .roll(&[OAUTH], &Scope::Global, &b(), datetime!(2027-07-01 0:00 UTC), at, RollOptions::default())
        .unwrap();
    (store, set)
}

// ----- names -------------------------------------------------------------------------------------

#[test]
fn a_thumbprint_is_a_string_of_40_uppercase_hex_digits_read_as_leniently_as_pasted() {
    assert_eq!(text(&a()), format!("\"{A}\""));
    assert_eq!(round_trip(&a()), a());
    let pasted: Thumbprint =
        serde_json::from_value(json!("3b:f7:02:b6:01:47:72:50:f7:0e:61:e2:87:79:89:83:08:7d:a4:ab")).unwrap();
    assert_eq!(pasted, a());
    let error = serde_json::from_value::<Thumbprint>(json!("3BF7")).unwrap_err();
    assert_eq!(error.to_string(), "a thumbprint has 40 hex digits, found 4");
    assert!(serde_json::from_value::<Thumbprint>(json!(42)).is_err());
}

#[test]
fn a_certificate_type_is_lyncs_spelling() {
    assert_eq!(text(&OAUTH), r#""OAuthTokenIssuer""#);
    assert_eq!(text(&CertType::IPadApnService), r#""iPadAPNService""#);
    let custom = CertType::custom("Fabrikam-Signing").unwrap();
    assert_eq!(text(&custom), r#""Fabrikam-Signing""#);
    for t in CertType::builtin().chain([custom]) {
        assert_eq!(round_trip(&t), t);
    }
    assert_eq!(serde_json::from_value::<CertType>(json!("oauthtokenissuer")).unwrap(), OAUTH);
    assert!(serde_json::from_value::<CertType>(json!("not a type")).is_err());
}

#[test]
fn a_scope_is_its_text_form() {
    let scopes = [Scope::Global, Scope::site("Redmond").unwrap(), Scope::pool("Pool01.Contoso.com").unwrap()];
    assert_eq!(text(&scopes), r#"["global","site:redmond","pool:pool01.contoso.com"]"#);
    for scope in &scopes {
        assert_eq!(&round_trip(scope), scope);
    }
    let lync: Scope = serde_json::from_value(json!("service:Registrar:pool01.contoso.com")).unwrap();
    assert_eq!(lync, scopes[2]);
    assert!(serde_json::from_value::<Scope>(json!("pool:")).is_err());
}

// ----- events and outcomes -----------------------------------------------------------------------

/// One event of each kind, with the JSON each must give.
fn events() -> Vec<(Event, &'static str)> {
    let (cert_type, scope) = (OAUTH, Scope::Global);
    let pool = Scope::pool("pool01.contoso.com").unwrap();
    let t0 = datetime!(2026-11-25 9:00 UTC);
    let t1 = datetime!(2027-07-01 0:00 UTC);
    let end = datetime!(2036-01-01 0:00 UTC);
    vec![
        (
            Event::Set { cert_type: cert_type.clone(), scope: scope.clone(), thumbprint: a(), at: t0 },
            r#"{"event":"set","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","at":"2026-11-25T09:00:00Z"}"#,
        ),
        (
            Event::Displaced { cert_type: cert_type.clone(), scope: pool.clone(), thumbprint: a() },
            r#"{"event":"displaced","cert_type":"OAuthTokenIssuer","scope":"pool:pool01.contoso.com","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB"}"#,
        ),
        (
            Event::PreviousDropped {
                cert_type: CertType::Default,
                scope: scope.clone(),
                thumbprint: a(),
                reason: DropReason::BecameCurrent,
            },
            r#"{"event":"previous_dropped","cert_type":"Default","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","reason":"became_current"}"#,
        ),
        (
            Event::RollScheduled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                effective_at: t1,
            },
            r#"{"event":"roll_scheduled","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","effective_at":"2027-07-01T00:00:00Z"}"#,
        ),
        (
            Event::RollCancelled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                effective_at: t1,
                reason: CancelReason::RolledBack,
            },
            r#"{"event":"roll_cancelled","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","effective_at":"2027-07-01T00:00:00Z","reason":"rolled_back"}"#,
        ),
        (
            Event::Rolled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                previous: Some(a()),
                effective_at: t1,
                applied_at: t1 + Duration::minutes(5),
            },
            r#"{"event":"rolled","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","previous":"3BF702B601477250F70E61E287798983087DA4AB","effective_at":"2027-07-01T00:00:00Z","applied_at":"2027-07-01T00:05:00Z"}"#,
        ),
        (
            Event::Rolled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                previous: None,
                effective_at: t1,
                applied_at: t1,
            },
            r#"{"event":"rolled","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","previous":null,"effective_at":"2027-07-01T00:00:00Z","applied_at":"2027-07-01T00:00:00Z"}"#,
        ),
        (
            Event::RollBlocked {
                cert_type: cert_type.clone(),
                scope: pool,
                thumbprint: b(),
                effective_at: t1,
                servers: vec!["fe02.contoso.com".into()],
                partners: vec![],
                window_opens: None,
            },
            r#"{"event":"roll_blocked","cert_type":"OAuthTokenIssuer","scope":"pool:pool01.contoso.com","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","effective_at":"2027-07-01T00:00:00Z","servers":["fe02.contoso.com"]}"#,
        ),
        (
            Event::RollBlocked {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                effective_at: t1,
                servers: vec![],
                partners: vec!["hybrid".into()],
                window_opens: None,
            },
            r#"{"event":"roll_blocked","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","effective_at":"2027-07-01T00:00:00Z","servers":[],"partners":["hybrid"]}"#,
        ),
        (
            Event::PartnerGateYielded {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: b(),
                partners: vec!["hybrid".into()],
                at: t1,
            },
            r#"{"event":"partner_gate_yielded","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","partners":["hybrid"],"at":"2027-07-01T00:00:00Z"}"#,
        ),
        (
            Event::CurrentRemoved { cert_type: cert_type.clone(), scope: scope.clone(), thumbprint: a() },
            r#"{"event":"current_removed","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB"}"#,
        ),
        (
            Event::RolledBack {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: a(),
                displaced: b(),
            },
            r#"{"event":"rolled_back","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","displaced":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F"}"#,
        ),
        (
            Event::CurrentExpired {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: a(),
                not_after: end,
            },
            r#"{"event":"current_expired","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","not_after":"2036-01-01T00:00:00Z"}"#,
        ),
        (
            Event::CurrentExpiresSoon {
                cert_type,
                scope,
                thumbprint: a(),
                not_after: end,
                lead_time: Duration::hours(24),
            },
            r#"{"event":"current_expires_soon","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","not_after":"2036-01-01T00:00:00Z","lead_time_seconds":86400}"#,
        ),
    ]
}

#[test]
fn an_event_is_tagged_by_event_with_snake_case_names_instants_in_rfc_3339_and_seconds() {
    for (event, expected) in events() {
        assert_eq!(text(&event), expected);
        assert_eq!(round_trip(&event), event);
    }
}

#[test]
fn instants_keep_their_precision_and_offset() {
    let event = Event::Set {
        cert_type: OAUTH,
        scope: Scope::Global,
        thumbprint: a(),
        at: datetime!(2026-11-25 10:00:00.000_000_001 +01:00),
    };
    assert_eq!(serde_json::to_value(&event).unwrap()["at"], "2026-11-25T10:00:00.000000001+01:00");
    assert_eq!(round_trip(&event), event);
}

#[test]
fn an_outcome_is_its_events_and_revision() {
    let (_, set) = store();
    assert_eq!(
        text(&set),
        concat!(
            r#"{"events":[{"event":"set","cert_type":"OAuthTokenIssuer","scope":"global","#,
            r#""thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","at":"2026-11-25T09:00:00Z"}],"revision":7}"#
        )
    );
    assert_eq!(round_trip(&set), set);
}

// ----- slots, views, timelines -------------------------------------------------------------------

#[test]
fn a_slot_is_its_three_places() {
    let (store, _) = store();
    let slot = store.slot_at(&OAUTH, &Scope::Global).unwrap();
    assert_eq!(
        text(&slot),
        concat!(
            r#"{"current":{"thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","since":"2026-11-25T09:00:00Z"},"#,
            r#""previous":null,"#,
            r#""pending":{"thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","effective_at":"2027-07-01T00:00:00Z"}}"#
        )
    );
    let current = slot.current().unwrap();
    assert_eq!(round_trip(&current), Assignment { thumbprint: a(), since: datetime!(2026-11-25 9:00 UTC) });
    let pending = slot.pending().unwrap();
    assert_eq!(
        round_trip(&pending),
        PendingRoll { thumbprint: b(), effective_at: datetime!(2027-07-01 0:00 UTC) }
    );
}

#[test]
fn a_slot_view_is_get_cscertificate_with_each_certificate_or_null() {
    let (store, _) = store();
    let view = store.get(&OAUTH, &Scope::pool("pool01.contoso.com").unwrap()).unwrap();
    let cert = |thumbprint: &str, effective_at: &str| {
        json!({
            "thumbprint": thumbprint,
            "subject": "CN=sip.contoso.com,O=Contoso,C=US",
            "issuer": "CN=Contoso PFX Test Issuing CA,O=Contoso,C=US",
            "not_before": "2026-01-01T00:00:00Z",
            "not_after": "2036-01-01T00:00:00Z",
            "effective_at": effective_at,
        })
    };
    assert_eq!(
        serde_json::to_value(&view).unwrap(),
        json!({
            "cert_type": "OAuthTokenIssuer",
            "scope": "global",
            "current": cert(A, "2026-11-25T09:00:00Z"),
            "previous": null,
            "pending": cert(B, "2027-07-01T00:00:00Z"),
        })
    );
    assert!(
        text(&view)
            .starts_with(r#"{"cert_type":"OAuthTokenIssuer","scope":"global","current":{"thumbprint":"3BF7"#)
    );
    assert!(text(&view.current).starts_with(
        r#"{"thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","subject":"CN=sip.contoso.com,O=Contoso,C=US","issuer":"#
    ));
    assert_eq!(round_trip(&view), view);
    let cert_view: &CertView = view.pending.as_ref().unwrap();
    assert_eq!(&round_trip(cert_view), cert_view);
}

#[test]
fn a_timeline_entry_is_its_instant_event_and_slot_after() {
    let (store, _) = store();
    let entries = store.timeline(
        &OAUTH,
        &Scope::Global,
        datetime!(2026-11-25 9:00 UTC),
        datetime!(2027-07-02 0:00 UTC),
    );
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        text(&entries[0]),
        concat!(
            r#"{"at":"2027-07-01T00:00:00Z","#,
            r#""event":{"event":"rolled","cert_type":"OAuthTokenIssuer","scope":"global","#,
            r#""thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","previous":"3BF702B601477250F70E61E287798983087DA4AB","#,
            r#""effective_at":"2027-07-01T00:00:00Z","applied_at":"2027-07-01T00:00:00Z"},"#,
            r#""slot":{"current":{"thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","since":"2027-07-01T00:00:00Z"},"#,
            r#""previous":{"thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","since":"2026-11-25T09:00:00Z"},"#,
            r#""pending":null}}"#
        )
    );
}

// ----- the fleet ---------------------------------------------------------------------------------

#[test]
fn drift_lists_each_server_with_what_it_misses_as_desired_certificates() {
    let (mut store, _) = store();
    let at = datetime!(2026-11-25 10:00 UTC);
    store.record_holdings("fe01.contoso.com", [a(), b()], at).unwrap();
    store.record_holdings("fe02.contoso.com", [a()], at).unwrap();
    let drift = store.drift(at, DriftOptions::default());
    assert_eq!(
        text(&drift),
        concat!(
            r#"[{"server":"fe01.contoso.com","pool":"pool01.contoso.com","reported_at":"2026-11-25T10:00:00Z","#,
            r#""outdated_report":false,"missing":[],"stale":[],"unexpected":[]},"#,
            r#"{"server":"fe02.contoso.com","pool":"pool01.contoso.com","reported_at":"2026-11-25T10:00:00Z","#,
            r#""outdated_report":false,"#,
            r#""missing":[{"cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","role":"pending"}],"#,
            r#""stale":[],"unexpected":[]}]"#
        )
    );
    assert_eq!(round_trip(&drift), drift);
    let unreported = ServerDrift {
        server: "fe03.contoso.com".into(),
        pool: "pool01.contoso.com".into(),
        reported_at: None,
        outdated_report: false,
        missing: Vec::new(),
        stale: vec![a()],
        unexpected: vec![b()],
    };
    assert_eq!(
        serde_json::to_value(&unreported).unwrap(),
        json!({"server": "fe03.contoso.com", "pool": "pool01.contoso.com", "reported_at": null,
               "outdated_report": false, "missing": [], "stale": [A], "unexpected": [B]})
    );
    assert_eq!(round_trip(&unreported), unreported);
}

#[test]
fn a_desired_certificate_names_its_slot_and_role() {
    let (store, _) = store();
    let desired = store.desired("fe01.contoso.com", datetime!(2026-11-25 10:00 UTC)).unwrap();
    assert_eq!(
        text(&desired),
        concat!(
            r#"[{"cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","role":"current"},"#,
            r#"{"cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","role":"pending"}]"#
        )
    );
    assert_eq!(round_trip(&desired), desired);
    assert_eq!(text(&[Role::Current, Role::Previous, Role::Pending]), r#"["current","previous","pending"]"#);
    let previous =
        Desired { cert_type: CertType::Default, scope: Scope::Global, thumbprint: a(), role: Role::Previous };
    assert_eq!(round_trip(&previous), previous);
    // What a server is handed: the same fields and, for a previous certificate, when it stops
    // holding it.
    let held = store.holds("fe01.contoso.com", datetime!(2026-11-25 10:00 UTC)).unwrap();
    assert_eq!(held.iter().map(|h| h.desired.clone()).collect::<Vec<_>>(), desired);
    assert_eq!(
        text(&held[0]),
        r#"{"cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","role":"current","until":null}"#
    );
    let retiring = certslot::store::Hold { desired: previous, until: Some(datetime!(2026-12-25 9:00 UTC)) };
    assert_eq!(
        text(&retiring),
        format!(
            r#"{{"cert_type":"Default","scope":"global","thumbprint":"{A}","role":"previous","until":"2026-12-25T09:00:00Z"}}"#
        )
    );
    assert_eq!(round_trip(&retiring), retiring);
    assert!(retiring.applies_at(datetime!(2026-12-25 8:59:59.999999999 UTC)));
    assert!(!retiring.applies_at(datetime!(2026-12-25 9:00 UTC)));
}

#[test]
fn holdings_are_their_thumbprints_in_order_and_the_report_instant() {
    let (mut store, _) = store();
    store.record_holdings("fe01.contoso.com", [b(), a()], datetime!(2026-11-25 10:00 UTC)).unwrap();
    let holdings = store.topology().holdings("fe01.contoso.com").unwrap();
    assert_eq!(
        text(holdings),
        format!(r#"{{"thumbprints":["{A}","{B}"],"reported_at":"2026-11-25T10:00:00Z"}}"#)
    );
    assert_eq!(&round_trip(holdings), holdings);
}

// ----- the planner -------------------------------------------------------------------------------

#[test]
fn an_action_is_tagged_by_action_with_the_template_as_subject_and_dns_names() {
    let (cert_type, scope) = (OAUTH, Scope::Global);
    let template = RequestTemplate::new("CN=pool01.contoso.com")
        .and_then(|t| t.dns_name("pool01.contoso.com"))
        .and_then(|t| t.dns_name("contoso.com"))
        .unwrap();
    let expires = datetime!(2036-01-01 0:00 UTC);
    let actions = [
        Action::Renew {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            current: a(),
            by: datetime!(2035-12-27 0:00 UTC),
            effective_at: datetime!(2035-11-26 0:00 UTC),
            template: Some(Arc::new(template)),
            expires_at: expires,
            issuer_expiry: None,
            window_opens: None,
        },
        Action::Renew {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            current: a(),
            by: datetime!(2035-12-27 0:00 UTC),
            effective_at: datetime!(2035-11-26 0:00 UTC),
            template: None,
            expires_at: datetime!(2035-12-01 0:00 UTC),
            issuer_expiry: Some(IssuerExpiry { issuer: b(), not_after: datetime!(2035-12-01 0:00 UTC) }),
            window_opens: Some(datetime!(2035-11-02 1:00 UTC)),
        },
        Action::FinishRenewal {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            current: a(),
            started_at: datetime!(2035-11-01 2:00 UTC),
            order: Some("https://127.0.0.1:14000/my-order/2gH1".into()),
            by: datetime!(2035-12-27 0:00 UTC),
            effective_at: datetime!(2035-11-26 0:00 UTC),
        },
        Action::Stage {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: b(),
            servers: vec!["fe02.contoso.com".into()],
            by: datetime!(2027-07-01 0:00 UTC),
        },
        Action::Roll {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: b(),
            effective_at: datetime!(2027-07-01 0:00 UTC),
            earliest_effective: datetime!(2027-07-01 0:00 UTC),
            waiting_for: vec![],
            waiting_for_partners: vec![],
            partners_yield_at: None,
        },
        Action::RetirePrevious {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: a(),
            at: datetime!(2027-07-02 0:00 UTC),
        },
        Action::Critical {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: a(),
            expires_at: expires,
            issuer_expiry: None,
            left: Duration::hours(24) + Duration::milliseconds(900),
            emergency_at: datetime!(2035-12-31 0:00 UTC),
        },
        Action::Expired { cert_type, scope, thumbprint: a(), expired_at: expires, issuer_expiry: None },
    ];
    let lines: Vec<String> = actions.iter().map(text).collect();
    assert_eq!(
        lines,
        [
            concat!(
                r#"{"action":"renew","cert_type":"OAuthTokenIssuer","scope":"global","current":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""by":"2035-12-27T00:00:00Z","effective_at":"2035-11-26T00:00:00Z","#,
                r#""template":{"subject":"CN=pool01.contoso.com","dns_names":["pool01.contoso.com","contoso.com"]},"#,
                r#""expires_at":"2036-01-01T00:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"renew","cert_type":"OAuthTokenIssuer","scope":"global","current":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""by":"2035-12-27T00:00:00Z","effective_at":"2035-11-26T00:00:00Z","template":null,"expires_at":"2035-12-01T00:00:00Z","#,
                r#""issuer_expiry":{"issuer":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","not_after":"2035-12-01T00:00:00Z"},"#,
                r#""window_opens":"2035-11-02T01:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"finish_renewal","cert_type":"OAuthTokenIssuer","scope":"global","current":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""started_at":"2035-11-01T02:00:00Z","order":"https://127.0.0.1:14000/my-order/2gH1","by":"2035-12-27T00:00:00Z","#,
                r#""effective_at":"2035-11-26T00:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"stage","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","#,
                r#""servers":["fe02.contoso.com"],"by":"2027-07-01T00:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"roll","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F","#,
                r#""effective_at":"2027-07-01T00:00:00Z","earliest_effective":"2027-07-01T00:00:00Z","waiting_for":[]}"#
            ),
            concat!(
                r#"{"action":"retire_previous","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""at":"2027-07-02T00:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"critical","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""expires_at":"2036-01-01T00:00:00Z","left_seconds":86400,"emergency_at":"2035-12-31T00:00:00Z"}"#
            ),
            concat!(
                r#"{"action":"expired","cert_type":"OAuthTokenIssuer","scope":"global","thumbprint":"3BF702B601477250F70E61E287798983087DA4AB","#,
                r#""expired_at":"2036-01-01T00:00:00Z"}"#
            ),
        ]
    );
}

// ----- the saved state ---------------------------------------------------------------------------

#[test]
fn the_saved_state_is_the_json_store_to_json_writes_and_reads_back() {
    let (store, _) = store();
    let state = store.to_state().unwrap();
    assert_eq!(serde_json::to_string_pretty(&state).unwrap(), store.to_json().unwrap());
    let compact = serde_json::to_vec(&state).unwrap();
    assert!(compact.starts_with(br#"{"format":2,"revision":8,"clock":"2026-11-25T09:00:00Z","sip_domain":"contoso.com","types":[],"certificates":[""#));
    assert!(!text(&state).contains(r#""keys""#), "no keys unless asked");
    let read: SavedState = serde_json::from_slice(&compact).unwrap();
    assert_eq!(read, state);
    assert_eq!(SavedState::from_json(&store.to_json().unwrap()).unwrap(), state);
    assert_eq!(Store::from_state(&read).unwrap().to_json().unwrap(), store.to_json().unwrap());
}

#[test]
fn a_format_1_state_reads_as_the_same_value_through_serde() {
    let format1 = include_str!("data/state/format1.json");
    let read: SavedState = serde_json::from_str(format1).unwrap();
    assert_eq!(read, SavedState::from_json(format1).unwrap());
    assert_eq!(read.revision(), 15);
    assert_eq!(
        Store::from_state(&read).unwrap().to_json().unwrap(),
        Store::from_json(format1).unwrap().to_json().unwrap()
    );
    // Unknown formats and foreign JSON are refused, with the loader's reasons.
    let error = serde_json::from_str::<SavedState>(r#"{"format": 99}"#).unwrap_err();
    assert_eq!(error.to_string(), LoadError::UnsupportedFormat { format: 99 }.to_string());
    assert!(
        serde_json::from_str::<SavedState>(r#"{"keys": []}"#).unwrap_err().to_string().contains("`format`")
    );
    assert!(matches!(SavedState::from_json("{\"format\": 2,"), Err(LoadError::Json(_))));
}

#[test]
fn a_sealed_key_is_its_thumbprint_and_the_pfx_in_base64() {
    let key = SealedKey::new(a(), vec![0x30, 0x82, 0x01]);
    assert_eq!(text(&key), format!(r#"{{"thumbprint":"{A}","pfx":"MIIB"}}"#));
    assert_eq!(round_trip(&key), key);
    assert_eq!(format!("{key:?}"), format!("SealedKey {{ thumbprint: Thumbprint({A}), pfx_bytes: 3 }}"));
    assert!(serde_json::from_value::<SealedKey>(json!({"thumbprint": A, "pfx": "M*IB"})).is_err());
    assert!(
        serde_json::from_value::<SealedKey>(json!({"thumbprint": A, "pfx": "MIIB", "password": "x"}))
            .is_err()
    );
}

#[test]
fn sealed_keys_go_into_a_state_made_without_them_in_thumbprint_order() {
    let (store, _) = store();
    let password = Password::new("state");
    let options = ExportOptions::default().iterations(1).unwrap();
    let mut rng = certslot::rand_core::UnwrapErr(getrandom::SysRng);
    let sealed = store.sealed_keys(&password, &options, &mut rng).unwrap();
    assert_eq!(sealed.iter().map(SealedKey::thumbprint).collect::<Vec<_>>(), [a(), b()]);
    // The keys given in any order, twice for A: one a certificate, in order, the last one kept.
    let reversed = [sealed[1].clone(), SealedKey::new(a(), vec![1]), sealed[0].clone()];
    let state = store.to_state().unwrap().with_keys(reversed);
    assert_eq!(state.keys(), sealed.as_slice());
    let json = serde_json::to_value(&state).unwrap();
    assert_eq!(json["keys"][0]["thumbprint"], A);
    assert_eq!(json["keys"][1]["thumbprint"], B);
    // The same as a state made with its keys, and it loads with them.
    let loaded = Store::from_state_with_keys(&state, &password).unwrap();
    assert!(
        loaded.inventory().get(&a()).unwrap().key.is_some()
            && loaded.inventory().get(&b()).unwrap().key.is_some()
    );
    let with_keys = store.to_state_with_keys(&password, &options, &mut rng).unwrap();
    assert_eq!(
        with_keys.keys().iter().map(SealedKey::thumbprint).collect::<BTreeSet<_>>(),
        [a(), b()].into()
    );
    assert_eq!(with_keys.clone().with_keys([]), store.to_state().unwrap());
    // Without the password the keys are not read.
    assert!(Store::from_state(&state).unwrap().inventory().get(&a()).unwrap().key.is_none());
    // Keys opened before are taken as given: A's from `known` (a password that opens nothing
    // still loads it), B's opened; a known key of another certificate is refused.
    let a_key = loaded.inventory().get(&a()).unwrap().key.clone();
    let b_key = loaded.inventory().get(&b()).unwrap().key.clone();
    let a_sealed = sealed[0].clone();
    let known = |k: &SealedKey| if *k == a_sealed { a_key.clone() } else { None };
    assert!(matches!(
        Store::from_state_with_known_keys(&state, &Password::new("wrong"), known),
        Err(LoadError::Key { thumbprint, .. }) if thumbprint == b()
    ));
    let reloaded = Store::from_state_with_known_keys(&state, &password, known).unwrap();
    let spki = |s: &Store, t| s.inventory().get(&t).unwrap().key.as_ref().unwrap().public_key_der().unwrap();
    assert_eq!(spki(&reloaded, a()), spki(&loaded, a()));
    assert_eq!(spki(&reloaded, b()), spki(&loaded, b()));
    let swapped = Store::from_state_with_known_keys(&state, &password, |k| {
        if k.thumbprint() == a() { b_key.clone() } else { None }
    });
    assert!(matches!(
        swapped,
        Err(LoadError::Key { thumbprint, source: certslot::PfxError::KeyMismatch { .. } }) if thumbprint == a()
    ));
}

#[test]
fn an_instant_rfc_3339_cannot_write_is_a_typed_error_not_an_empty_text() {
    let (mut store, _) = store();
    // A local mean time: an offset with seconds (Amsterdam before 1937 was +00:19:32).
    let at = datetime!(2026-11-25 10:00 +00:19:32);
    store.record_holdings("fe01.contoso.com", [a()], at).unwrap();
    let error = SaveError::Instant { field: "holdings.reported_at", at };
    assert_eq!(store.to_state(), Err(error.clone()));
    assert_eq!(store.to_json(), Err(error.clone()));
    let mut rng = certslot::rand_core::UnwrapErr(getrandom::SysRng);
    assert_eq!(store.to_json_with_keys(&Password::new("p"), &ExportOptions::default(), &mut rng), Err(error));
}
