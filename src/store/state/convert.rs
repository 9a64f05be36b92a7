//! Conversions between the state's JSON values and certslot's types: instants, durations,
//! thumbprints, names, and policies as their rules' settings, rebuilt through the rules' own
//! checked setters.

use const_oid::ObjectIdentifier;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::{
    KeyRuleState, LoadError, PolicyState, RolloverState, SaveError, UsageRuleState, ValidityRuleState,
    WarningRuleState,
};
use crate::policy::{CertType, NameError, RenewBefore, Retention, RolloverPolicy};
use crate::validate::{KeyRule, Policy, SubjectRule, UsageRule, ValidityRule, WarningRule};
use crate::x509::Thumbprint;

/// An instant of the state, `field` of it, in RFC 3339.
pub(in crate::store) fn instant(field: &'static str, at: OffsetDateTime) -> Result<String, SaveError> {
    at.format(&Rfc3339).map_err(|_| SaveError::Instant { field, at })
}

pub(in crate::store) fn parse_instant(field: &'static str, value: &str) -> Result<OffsetDateTime, LoadError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| LoadError::BadInstant { field, value: value.to_owned() })
}

pub(in crate::store) fn parse_thumbprint(value: &str) -> Result<Thumbprint, LoadError> {
    value.parse().map_err(|_| LoadError::BadName { kind: "thumbprint", value: value.to_owned() })
}

pub(in crate::store) fn name_error(kind: &'static str, value: &str) -> impl FnOnce(NameError) -> LoadError {
    let value = value.to_owned();
    move |_| LoadError::BadName { kind, value }
}

/// Durations are kept in whole seconds, from zero to a hundred years.
pub(in crate::store) fn seconds(d: Duration) -> i64 {
    d.whole_seconds()
}

pub(in crate::store) fn parse_seconds(kind: &'static str, s: i64) -> Result<Duration, LoadError> {
    if (0..=100 * 366 * 86_400).contains(&s) {
        Ok(Duration::seconds(s))
    } else {
        Err(LoadError::BadName { kind, value: s.to_string() })
    }
}

pub(in crate::store) fn policy_state(policy: &Policy) -> PolicyState {
    PolicyState {
        key: policy.key_rule().map(|k| KeyRuleState {
            min_rsa_bits: k.rsa_min_bits(),
            rsa: k.accepted().rsa,
            rsa_pss: k.accepted().rsa_pss,
            ec_min_bits: k.accepted().ec_min_bits,
            eddsa: k.accepted().eddsa,
        }),
        subject: policy.subject_rule().map(|s| s.sip_domain().to_owned()),
        validity: policy
            .validity_rule()
            .map(|v| ValidityRuleState { min_remaining_seconds: v.remaining().map(seconds) }),
        usage: policy.usage_rule().map(|u| UsageRuleState {
            digital_signature: u.digital_signature_required(),
            required_eku: u.eku().map(|o| o.to_string()),
        }),
        warnings: policy.warning_rule().map(|w| WarningRuleState {
            weak_signature: w.warns_weak_signature(),
            expiring_within_seconds: w.expiry_warning().map(seconds),
            unknown_critical: w.warns_unknown_critical(),
            ca_certificate: w.warns_ca_certificate(),
        }),
    }
}

pub(in crate::store) fn build_policy(cert_type: &CertType, state: &PolicyState) -> Result<Policy, LoadError> {
    let bad = |source| LoadError::BadPolicy { cert_type: cert_type.clone(), source };
    let mut policy = Policy::new();
    if let Some(k) = &state.key {
        // Accept first, then reject, so that no step leaves the rule accepting nothing.
        let mut rule = KeyRule::default().min_rsa_bits(k.min_rsa_bits).map_err(bad)?;
        if k.rsa_pss {
            rule = rule.accept_rsa_pss(true).map_err(bad)?;
        }
        if let Some(bits) = k.ec_min_bits {
            rule = rule.accept_ec(bits).map_err(bad)?;
        }
        if k.eddsa {
            rule = rule.accept_eddsa(true).map_err(bad)?;
        }
        if !k.rsa {
            rule = rule.accept_rsa(false).map_err(bad)?;
        }
        policy = policy.with_key(rule);
    }
    if let Some(domain) = &state.subject {
        policy = policy.with_subject(SubjectRule::new(domain).map_err(bad)?);
    }
    if let Some(v) = &state.validity {
        let mut rule = ValidityRule::default();
        if let Some(s) = v.min_remaining_seconds {
            rule = rule.min_remaining(parse_seconds("minimum remaining validity", s)?);
        }
        policy = policy.with_validity(rule);
    }
    if let Some(u) = &state.usage {
        let eku = u
            .required_eku
            .as_deref()
            .map(|o| {
                ObjectIdentifier::new(o)
                    .map_err(|_| LoadError::BadName { kind: "extended key usage", value: o.into() })
            })
            .transpose()?;
        policy = policy.with_usage(
            UsageRule::default().require_digital_signature(u.digital_signature).required_eku(eku),
        );
    }
    if let Some(w) = &state.warnings {
        let within = w.expiring_within_seconds.map(|s| parse_seconds("expiry warning", s)).transpose()?;
        policy = policy.with_warnings(
            WarningRule::none()
                .weak_signature(w.weak_signature)
                .expiring_within(within)
                .unknown_critical(w.unknown_critical)
                .ca_certificate(w.ca_certificate),
        );
    }
    Ok(policy)
}

pub(in crate::store) fn rollover_state(policy: &RolloverPolicy) -> RolloverState {
    let (renew_before_seconds, renew_at_fraction) = match policy.get_renew_before() {
        RenewBefore::Expiry(d) => (Some(seconds(d)), None),
        RenewBefore::LifetimeFraction { numerator, denominator } => (None, Some((numerator, denominator))),
    };
    RolloverState {
        renew_before_seconds,
        renew_at_fraction,
        publish_ahead_seconds: seconds(policy.get_publish_ahead()),
        retain_previous_seconds: match policy.get_retain_previous() {
            Retention::For(d) => Some(seconds(d)),
            Retention::UntilExpiry => None,
        },
        critical_before_seconds: seconds(policy.get_critical_before()),
        token_lifetime_seconds: seconds(policy.get_token_lifetime()),
        certificate_lifetime_seconds: seconds(policy.get_certificate_lifetime()),
        renewal_window: policy.get_renewal_window().map(|w| w.to_string()),
    }
}

pub(in crate::store) fn build_rollover(state: &RolloverState) -> Result<RolloverPolicy, LoadError> {
    let renew_before = match (state.renew_before_seconds, state.renew_at_fraction) {
        (Some(s), None) => RenewBefore::Expiry(parse_seconds("renew before", s)?),
        (None, Some((numerator, denominator))) => RenewBefore::LifetimeFraction { numerator, denominator },
        _ => {
            return Err(LoadError::BadName {
                kind: "renewal rule (exactly one of renew_before_seconds and renew_at_fraction)",
                value: format!("{:?} / {:?}", state.renew_before_seconds, state.renew_at_fraction),
            });
        }
    };
    let retain = match state.retain_previous_seconds {
        Some(s) => Retention::For(parse_seconds("retention", s)?),
        None => Retention::UntilExpiry,
    };
    Ok(RolloverPolicy::lync()
        .renew_before(renew_before)
        .publish_ahead(parse_seconds("publish-ahead", state.publish_ahead_seconds)?)
        .retain_previous(retain)
        .critical_before(parse_seconds("critical threshold", state.critical_before_seconds)?)
        .token_lifetime(parse_seconds("token lifetime", state.token_lifetime_seconds)?)
        .certificate_lifetime(parse_seconds("certificate lifetime", state.certificate_lifetime_seconds)?)
        .renewal_window(state.renewal_window.as_deref().map(|w| w.parse()).transpose().map_err(|_| {
            LoadError::BadName {
                kind: "renewal window",
                value: state.renewal_window.clone().unwrap_or_default(),
            }
        })?))
}
