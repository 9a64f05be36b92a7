//! Instants in text for people (`HumanTime`): whole seconds in UTC, `just after` a second for an
//! instant a fraction of a second past it; the same in every `Display` of violations, warnings
//! and store events.

use certslot::{
    CertType, Event, Scope, Thumbprint,
    validate::{HumanTime, Violation, Warning},
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const NOT_AFTER: OffsetDateTime = datetime!(2036-01-01 0:00 UTC);

fn just_after(t: OffsetDateTime) -> OffsetDateTime {
    t + Duration::NANOSECOND
}

fn thumbprint() -> Thumbprint {
    "3BF702B601477250F70E61E287798983087DA4AB".parse().expect("40 hex digits")
}

#[test]
fn whole_second_one_nanosecond_after_and_mid_second() {
    assert_eq!(HumanTime(NOT_AFTER).to_string(), "2036-01-01T00:00:00Z");
    assert_eq!(HumanTime(just_after(NOT_AFTER)).to_string(), "just after 2036-01-01T00:00:00Z");
    assert_eq!(
        HumanTime(datetime!(2026-11-25 13:36:02.5 UTC)).to_string(),
        "just after 2026-11-25T13:36:02Z"
    );
}

#[test]
fn violations_and_warnings_write_instants_the_human_way() {
    let expired = Violation::Expired { at: just_after(NOT_AFTER), not_after: NOT_AFTER };
    assert_eq!(
        expired.to_string(),
        "expired at 2036-01-01T00:00:00Z (checked at just after 2036-01-01T00:00:00Z)"
    );
    let early = Violation::NotYetValid {
        at: datetime!(2025-12-31 23:59:59.5 UTC),
        not_before: datetime!(2026-01-01 0:00 UTC),
    };
    assert_eq!(
        early.to_string(),
        "not valid until 2026-01-01T00:00:00Z (checked at just after 2025-12-31T23:59:59Z)"
    );
    let soon = Warning::ExpiresSoon {
        at: datetime!(2035-12-01 9:00:00.25 UTC),
        not_after: NOT_AFTER,
        within: Duration::days(60),
    };
    assert_eq!(
        soon.to_string(),
        "expires at 2036-01-01T00:00:00Z, within 60d of just after 2035-12-01T09:00:00Z"
    );
}

#[test]
fn store_events_write_instants_the_human_way() {
    let set = Event::Set {
        cert_type: CertType::OAuthTokenIssuer,
        scope: Scope::Global,
        thumbprint: thumbprint(),
        at: datetime!(2026-11-25 9:00:00.000_000_001 UTC),
    };
    assert_eq!(
        set.to_string(),
        "OAuthTokenIssuer at global: 3BF702B601477250F70E61E287798983087DA4AB set as current at \
         just after 2026-11-25T09:00:00Z"
    );
    let rolls = Event::RollScheduled {
        cert_type: CertType::OAuthTokenIssuer,
        scope: Scope::Global,
        thumbprint: thumbprint(),
        effective_at: datetime!(2027-07-01 0:00 UTC),
    };
    assert_eq!(
        rolls.to_string(),
        "OAuthTokenIssuer at global: 3BF702B601477250F70E61E287798983087DA4AB rolls in at 2027-07-01T00:00:00Z"
    );
    let expired = Event::CurrentExpired {
        cert_type: CertType::OAuthTokenIssuer,
        scope: Scope::Global,
        thumbprint: thumbprint(),
        not_after: NOT_AFTER,
    };
    assert_eq!(
        expired.to_string(),
        "OAuthTokenIssuer at global: current certificate 3BF702B601477250F70E61E287798983087DA4AB expired \
         at 2036-01-01T00:00:00Z"
    );
}
