//! The planner: for every slot, what must happen to keep signing and verifying without a gap,
//! and by when. A pure function of the state and an instant.

use std::collections::BTreeMap;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::obtain::RequestTemplate;
use crate::policy::{CertType, Milestones, Scope, retire_at};
use crate::store::{DueSlot, IssuerExpiry, Store};
use crate::x509::{Certificate, Thumbprint};

/// One thing the planner says must happen.
///
/// JSON (feature `serde`, written only): an object tagged by `action`, the variant's name in
/// snake_case (`renew`, `finish_renewal`, `stage`, `roll`, `retire_previous`, `critical`,
/// `expired`), then the variant's fields by their names; instants as RFC 3339 strings, `left` as `left_seconds`
/// (whole seconds). A renewal's `template` is what a CA is asked for, its subject and DNS names
/// (`null` when the subject cannot be signed); the rest of the template (key usage, extended key
/// usage) is the current certificate's and stays with the [`RequestTemplate`]:
///
/// ```text
/// {"action": "renew", "cert_type": "OAuthTokenIssuer", "scope": "global",
///  "current": "3BF702B601477250F70E61E287798983087DA4AB",
///  "by": "2035-12-27T00:00:00Z", "effective_at": "2035-11-26T00:00:00Z",
///  "template": {"subject": "CN=pool01.contoso.com", "dns_names": ["pool01.contoso.com", "contoso.com"]}}
/// {"action": "critical", "cert_type": "OAuthTokenIssuer", "scope": "global", "thumbprint": "3BF7...",
///  "expires_at": "2036-01-01T00:00:00Z", "left_seconds": 86400, "emergency_at": "2035-12-31T00:00:00Z"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "action", rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Action {
    /// The current certificate is inside its renewal window and no roll is pending: obtain the
    /// next certificate ([`renew`](crate::rollover::renew), or a CA and then [`Store::add_and_roll`] at `effective_at`).
    Renew {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate to replace.
        current: Thumbprint,
        /// The last instant a renewal can still be announced `publish_ahead` before it rolls in
        /// with the current certificate valid for the lead time and the token lifetime after.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        by: OffsetDateTime,
        /// The effective date a renewal made now gets: `publish_ahead` from now, shortened to the
        /// last compliant roll when less time is left, and now itself past the critical
        /// threshold.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
        /// What to ask for: the current certificate's subject, DNS names, key usage and
        /// extended key usage. `None` when its subject cannot be written as an RFC 4514 name
        /// that certslot would sign (an empty subject, say). Shared by the actions of the slots
        /// that hold the same certificate. JSON: its subject and DNS names.
        #[cfg_attr(feature = "serde", serde(serialize_with = "template_json"))]
        template: Option<Arc<RequestTemplate>>,
        /// When the current certificate stops being usable: its `notAfter`, or its chain's
        /// (`issuer_expiry`).
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        expires_at: OffsetDateTime,
        /// The chain certificate that expires before the current certificate, moving the
        /// renewal earlier (`None` when the certificate's own `notAfter` counts).
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
        issuer_expiry: Option<IssuerExpiry>,
        /// The type renews only inside its renewal window and it is closed now: when it opens
        /// ([`rollover::renew`](crate::rollover::renew) refuses until then, unless forced).
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")
        )]
        window_opens: Option<OffsetDateTime>,
    },
    /// A renewal is in progress ([`start_renewal`](crate::rollover::start_renewal)): obtain the
    /// CA's answer for its request (resume its order) and
    /// [`finish_renewal`](crate::rollover::finish_renewal).
    FinishRenewal {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate being renewed.
        current: Thumbprint,
        /// When the renewal began.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        started_at: OffsetDateTime,
        /// The issuer's order, once recorded.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
        order: Option<String>,
        /// The last instant the renewal can finish and still be announced `publish_ahead` before
        /// it rolls in.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        by: OffsetDateTime,
        /// The effective date it gets when it finishes now.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
    },
    /// Servers of the scope lack the pending certificate (announced already): their agents must
    /// pick it up before it rolls in.
    Stage {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// The servers that have not reported holding it.
        servers: Vec<String>,
        /// The roll's effective date.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        by: OffsetDateTime,
    },
    /// A roll is pending and announced: it takes effect at `earliest_effective`, once
    /// `waiting_for` is empty.
    Roll {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The pending certificate.
        thumbprint: Thumbprint,
        /// The effective date it was scheduled for.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        effective_at: OffsetDateTime,
        /// The first instant that satisfies the schedule, publish-ahead and the certificate's
        /// own `notBefore`.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        earliest_effective: OffsetDateTime,
        /// The servers the type's staging gate waits for (empty without the gate).
        waiting_for: Vec<String>,
        /// The partners the type's partner gate waits for: those whose last fetch did not
        /// announce the certificate (empty without the gate). The gate yields at
        /// `partners_yield_at`.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Vec::is_empty"))]
        waiting_for_partners: Vec<String>,
        /// When the partner gate stops waiting: the last compliant effective date (`None` when
        /// no partner is waited for).
        #[cfg_attr(
            feature = "serde",
            serde(default, with = "time::serde::rfc3339::option", skip_serializing_if = "Option::is_none")
        )]
        partners_yield_at: Option<OffsetDateTime>,
    },
    /// The previous certificate's retention ended: [`Store::advance`] drops it.
    RetirePrevious {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The previous certificate.
        thumbprint: Thumbprint,
        /// When its retention ended.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        at: OffsetDateTime,
    },
    /// No compliant roll can take effect any more before the current certificate expires:
    /// either announce a renewal late, or (past `emergency_at`) roll at once.
    Critical {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The current certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`, or its chain's (`issuer_expiry`).
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        expires_at: OffsetDateTime,
        /// The chain certificate that expires first, when it does.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
        issuer_expiry: Option<IssuerExpiry>,
        /// How long it has left (JSON: `left_seconds`).
        #[cfg_attr(feature = "serde", serde(rename = "left_seconds", with = "crate::x509::time::seconds"))]
        left: Duration,
        /// The critical threshold: from then on a renewal rolls in at once.
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        emergency_at: OffsetDateTime,
    },
    /// The current certificate has expired: nothing signs.
    Expired {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// The certificate.
        thumbprint: Thumbprint,
        /// Its `notAfter`, or its chain's (`issuer_expiry`).
        #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
        expired_at: OffsetDateTime,
        /// The chain certificate that expired first, when it did.
        #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
        issuer_expiry: Option<IssuerExpiry>,
    },
}

impl Action {
    /// The type and scope of the slot the action is about.
    pub fn slot(&self) -> (&CertType, &Scope) {
        match self {
            Self::Renew { cert_type, scope, .. }
            | Self::FinishRenewal { cert_type, scope, .. }
            | Self::Stage { cert_type, scope, .. }
            | Self::Roll { cert_type, scope, .. }
            | Self::RetirePrevious { cert_type, scope, .. }
            | Self::Critical { cert_type, scope, .. }
            | Self::Expired { cert_type, scope, .. } => (cert_type, scope),
        }
    }
}

/// A renewal's template in JSON: what a CA is asked for, its subject and DNS names.
#[cfg(feature = "serde")]
fn template_json<S: serde::Serializer>(
    template: &Option<Arc<RequestTemplate>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(serde::Serialize)]
    struct Template<'a> {
        subject: &'a str,
        dns_names: &'a [String],
    }
    let template = template.as_deref().map(|t| Template { subject: t.subject(), dns_names: t.dns_names() });
    serde::Serialize::serialize(&template, serializer)
}

/// What must happen, by when, for every slot of `store` that needs something at `at`, in the
/// order the needs arose. See [`Action`]. Costs O(k log n) for k slots with actions: slots are
/// found through the store's index of rollover milestones ([`Store::slots_by_milestone`]), not
/// by a scan.
///
/// The plan depends on time and on what servers report ([`Store::record_holdings`]); it changes
/// with time next at [`next_plan_due`].
pub fn plan(store: &Store, at: OffsetDateTime) -> Vec<Action> {
    let mut out = Vec::new();
    // Made at the first renewal: a plan with nothing due neither seeds a hasher nor drops a map.
    let mut templates: Option<BTreeMap<Thumbprint, Option<Arc<RequestTemplate>>>> = None;
    for due in store.slots_by_milestone(at) {
        slot_actions(store, &due, at, &mut out, &mut templates);
    }
    out
}

/// When the plan of `store` next changes with time: its next rollover milestone
/// ([`Store::next_milestone`]) or its next time-triggered change ([`Store::next_due`]), whichever
/// comes first. A driver calls [`Store::advance`] and [`plan`] then.
pub fn next_plan_due(store: &Store) -> Option<OffsetDateTime> {
    crate::store::earliest(store.next_due(), store.next_milestone())
}

// Kept out of `plan`: inlined, its frame (actions, milestones, views) would be set up and torn
// down on every call, also the idle ones that find no slot.
#[inline(never)]
fn slot_actions(
    store: &Store,
    due: &DueSlot<'_>,
    at: OffsetDateTime,
    out: &mut Vec<Action>,
    templates: &mut Option<BTreeMap<Thumbprint, Option<Arc<RequestTemplate>>>>,
) {
    let DueSlot { cert_type, scope, slot, .. } = *due;
    let config = store.type_config(cert_type);
    let rollover = config.get_rollover();
    let cert = |t: Thumbprint| store.inventory().get(&t).map(|s| &s.certificate);
    let current = slot.current().and_then(|c| Some((c, store.inventory().get(&c.thumbprint)?)));
    let milestones = current.and_then(|(_, c)| {
        Milestones::of(&rollover, config.get_lead_time(), c.certificate.not_before(), c.effective_end())
    });

    if let (Some((assignment, stored)), Some(m)) = (current, milestones) {
        let current = &stored.certificate;
        let expires_at = stored.effective_end();
        let issuer_expiry = stored.issuer_expiry.filter(|e| e.not_after < current.not_after());
        if at > expires_at {
            out.push(Action::Expired {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: assignment.thumbprint,
                expired_at: expires_at,
                issuer_expiry,
            });
        } else if at > m.latest_effective || (slot.pending().is_none() && at > m.renew_by) {
            out.push(Action::Critical {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: assignment.thumbprint,
                expires_at,
                issuer_expiry,
                left: expires_at - at,
                emergency_at: m.critical_at,
            });
        }
        let request = store.renewal_request(cert_type, scope);
        if let (Some(request), None) = (request, slot.pending()) {
            out.push(Action::FinishRenewal {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                current: request.current(),
                started_at: request.started_at(),
                order: request.order().map(str::to_owned),
                by: m.renew_by,
                effective_at: m.planned_effective(&rollover, at),
            });
        } else if slot.pending().is_none() && at >= m.renew_at {
            let template = templates
                .get_or_insert_with(BTreeMap::new)
                .entry(assignment.thumbprint)
                .or_insert_with(|| RequestTemplate::renewal_of(current).ok().map(Arc::new))
                .clone();
            out.push(Action::Renew {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                current: assignment.thumbprint,
                by: m.renew_by,
                effective_at: m.planned_effective(&rollover, at),
                template,
                expires_at,
                issuer_expiry,
                window_opens: rollover
                    .get_renewal_window()
                    .filter(|w| at <= m.renew_by && !w.contains(at))
                    .and_then(|w| w.next_open(at)),
            });
        }
    }
    if let Some(pending) = slot.pending() {
        let announced = pending.effective_at.checked_sub(rollover.get_publish_ahead());
        if announced.is_none_or(|a| at >= a) {
            let lacking = store.servers_lacking(cert_type, scope, &pending.thumbprint);
            let waiting_for = if config.get_require_staged() { lacking.clone() } else { Vec::new() };
            if !lacking.is_empty() {
                out.push(Action::Stage {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: pending.thumbprint,
                    servers: lacking,
                    by: pending.effective_at,
                });
            }
            let not_before = cert(pending.thumbprint).map(Certificate::not_before);
            let waiting_for_partners = store.partners_lacking(cert_type, &pending.thumbprint);
            let partners_yield_at = match waiting_for_partners.is_empty() {
                true => None,
                false => store.partner_gate_yields_at(cert_type, scope),
            };
            out.push(Action::Roll {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: pending.thumbprint,
                effective_at: pending.effective_at,
                earliest_effective: not_before
                    .map_or(pending.effective_at, |nb| nb.max(pending.effective_at)),
                waiting_for,
                waiting_for_partners,
                partners_yield_at,
            });
        }
    }
    if let Some(previous) = slot.previous() {
        // As `SlotMilestones::previous_retires`, from the certificates in hand.
        let not_after = cert(previous.thumbprint).map(Certificate::not_after);
        let retires = not_after.and_then(|n| retire_at(&rollover, slot.current().map(|c| c.since), n));
        if let Some(retire) = retires.filter(|r| at >= *r) {
            out.push(Action::RetirePrevious {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: previous.thumbprint,
                at: retire,
            });
        }
    }
}

impl core::fmt::Display for Action {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::validate::HumanTime as T;
        match self {
            Self::Renew {
                cert_type, scope, current, by, effective_at, issuer_expiry, window_opens, ..
            } => {
                write!(f, "{cert_type} at {scope}: renew {current} by {}", T(*by))?;
                match window_opens {
                    Some(opens) => write!(f, " (outside the renewal window until {})", T(*opens))?,
                    None => write!(f, " (a renewal now rolls in at {})", T(*effective_at))?,
                }
                if let Some(e) = issuer_expiry {
                    write!(f, "; its issuer {} expires first, at {}", e.issuer, T(e.not_after))?;
                }
                Ok(())
            }
            Self::FinishRenewal { cert_type, scope, current, started_at, order, by, .. } => {
                write!(
                    f,
                    "{cert_type} at {scope}: renewal of {current} in progress since {}",
                    T(*started_at)
                )?;
                if let Some(order) = order {
                    write!(f, " (order {order})")?;
                }
                write!(f, "; finish by {}", T(*by))
            }
            Self::Stage { cert_type, scope, thumbprint, servers, by } => write!(
                f,
                "{cert_type} at {scope}: stage {thumbprint} on {} by {}",
                servers.join(", "),
                T(*by)
            ),
            Self::Roll {
                cert_type,
                scope,
                thumbprint,
                earliest_effective,
                waiting_for,
                waiting_for_partners,
                partners_yield_at,
                ..
            } => {
                write!(f, "{cert_type} at {scope}: {thumbprint} rolls in at {}", T(*earliest_effective))?;
                if !waiting_for.is_empty() {
                    write!(f, " once {} hold it", waiting_for.join(", "))?;
                }
                if !waiting_for_partners.is_empty() {
                    write!(f, " once {} fetched it", waiting_for_partners.join(", "))?;
                    if let Some(at) = partners_yield_at {
                        write!(f, " (or at {} without them)", T(*at))?;
                    }
                }
                Ok(())
            }
            Self::RetirePrevious { cert_type, scope, thumbprint, at } => {
                write!(f, "{cert_type} at {scope}: retire previous {thumbprint} (due {})", T(*at))
            }
            Self::Critical {
                cert_type,
                scope,
                thumbprint,
                expires_at,
                issuer_expiry,
                left,
                emergency_at,
            } => {
                write!(
                    f,
                    "{cert_type} at {scope}: CRITICAL: {thumbprint} expires at {} ({left} left) and no compliant \
                     roll can take effect; emergency roll from {}",
                    T(*expires_at),
                    T(*emergency_at)
                )?;
                match issuer_expiry {
                    Some(e) => write!(f, " (its issuer {} expires first)", e.issuer),
                    None => Ok(()),
                }
            }
            Self::Expired { cert_type, scope, thumbprint, expired_at, issuer_expiry } => {
                write!(f, "{cert_type} at {scope}: EXPIRED: {thumbprint} expired at {}", T(*expired_at))?;
                match issuer_expiry {
                    Some(e) => write!(f, " (its issuer {} expired)", e.issuer),
                    None => Ok(()),
                }
            }
        }
    }
}
