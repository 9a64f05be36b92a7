//! The instants a rollover policy implies: for one current certificate ([`Milestones`]), and for
//! one slot with its current, previous and pending certificates ([`SlotMilestones`]). Computed
//! here once, for the store's schedule, the planner and renewal alike.

use time::{Duration, OffsetDateTime};

use crate::policy::rollover::{RenewBefore, Retention, RolloverPolicy, fraction_of};

/// One nanosecond: a certificate is valid through its `notAfter`, so it is past it one
/// nanosecond later.
pub(crate) const TICK: Duration = Duration::nanoseconds(1);

/// The instants a current certificate implies under a rollover policy and lead time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Milestones {
    /// The renewal window opens (never later than `renew_by`).
    pub renew_at: OffsetDateTime,
    /// The last instant a renewal can still be announced `publish_ahead` before it rolls in.
    pub renew_by: OffsetDateTime,
    /// The last instant a roll can take effect with the current certificate still valid for the
    /// lead time and the token lifetime.
    pub latest_effective: OffsetDateTime,
    /// The emergency roll: from here a roll happens even without full notice.
    pub critical_at: OffsetDateTime,
}

impl Milestones {
    /// The milestones of a certificate valid from `not_before` to `not_after` under `policy`
    /// with `lead_time`. `None` for instants outside the representable range.
    pub fn of(
        policy: &RolloverPolicy,
        lead_time: Duration,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Option<Self> {
        let latest_effective = not_after.checked_sub(policy.hold(lead_time))?;
        let renew_by = latest_effective.checked_sub(policy.get_publish_ahead())?;
        let renew_at = match policy.get_renew_before() {
            RenewBefore::Expiry(before) => not_after.checked_sub(before)?,
            RenewBefore::LifetimeFraction { numerator, denominator } => {
                let lifetime = (not_after - not_before).max(Duration::ZERO);
                not_before.checked_add(fraction_of(lifetime, numerator, denominator))?
            }
        };
        // With a renewal window, renewal opens at the first instant inside one.
        let renew_at = match policy.get_renewal_window() {
            Some(window) => window.next_open(renew_at).unwrap_or(renew_at),
            None => renew_at,
        };
        Some(Self {
            renew_at: renew_at.min(renew_by),
            renew_by,
            latest_effective,
            critical_at: not_after.checked_sub(policy.get_critical_before())?,
        })
    }

    /// The effective date of a renewal made at `at`: `publish_ahead` later, shortened to the
    /// last compliant roll when less time is left, and `at` itself past the emergency threshold.
    /// With a renewal window, the first instant inside one from then on, or, when none opens
    /// before the last compliant roll, the last instant inside one before it (still after `at`);
    /// when no window fits between `at` and the last compliant roll, the date without one.
    pub fn planned_effective(&self, policy: &RolloverPolicy, at: OffsetDateTime) -> OffsetDateTime {
        if at >= self.critical_at {
            return at;
        }
        let announced = at.checked_add(policy.get_publish_ahead()).unwrap_or(at);
        let effective = announced.min(self.latest_effective).max(at);
        let Some(window) = policy.get_renewal_window() else { return effective };
        if let Some(open) = window.next_open(effective).filter(|t| *t <= self.latest_effective) {
            return open;
        }
        window.last_open(effective).filter(|t| *t >= at).unwrap_or(effective)
    }
}

/// When a previous certificate stops being trusted under `policy`: its retention after the roll
/// that displaced it (`rolled_at`, the current certificate's `since`), or one nanosecond past its
/// `notAfter`, whichever is first.
pub(crate) fn retire_at(
    policy: &RolloverPolicy,
    rolled_at: Option<OffsetDateTime>,
    not_after: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let expiry = not_after.checked_add(TICK);
    match (policy.get_retain_previous(), rolled_at) {
        (Retention::For(retain), Some(rolled)) => match (rolled.checked_add(retain), expiry) {
            (Some(r), Some(e)) => Some(r.min(e)),
            (r, e) => r.or(e),
        },
        _ => expiry,
    }
}

/// Every instant at which the planner's view of a slot changes.
///
/// With a current certificate and no roll pending: the renewal window, the renewal deadline and
/// the emergency roll; with a roll pending: its announcement and the last compliant roll; and
/// always the current certificate's expiry and the previous certificate's retirement.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct SlotMilestones {
    /// The previous certificate stops being trusted (retention over, or expired).
    pub previous_retires: Option<OffsetDateTime>,
    /// The current certificate is past its `notAfter`.
    pub current_expires: Option<OffsetDateTime>,
    /// No roll pending: the renewal window opens.
    pub renew_at: Option<OffsetDateTime>,
    /// No roll pending: the last instant to renew with full notice.
    pub renew_by: Option<OffsetDateTime>,
    /// No roll pending: the emergency roll.
    pub critical_at: Option<OffsetDateTime>,
    /// A roll pending: verifiers are told about its certificate (`publish_ahead` before it).
    pub announce_at: Option<OffsetDateTime>,
    /// A roll pending: the last compliant effective date.
    pub latest_effective: Option<OffsetDateTime>,
}

impl SlotMilestones {
    /// The milestones of a slot under `policy` and `lead_time`, from the dates of its
    /// certificates: the current one's `since`, `notBefore` and `notAfter`, the previous one's
    /// `notAfter`, the pending roll's effective date.
    pub(crate) fn of(
        policy: &RolloverPolicy,
        lead_time: Duration,
        current: Option<(OffsetDateTime, OffsetDateTime, OffsetDateTime)>,
        previous_not_after: Option<OffsetDateTime>,
        pending_effective: Option<OffsetDateTime>,
    ) -> Self {
        let mut out = Self {
            previous_retires: previous_not_after
                .and_then(|not_after| retire_at(policy, current.map(|c| c.0), not_after)),
            ..Self::default()
        };
        let announce_at = pending_effective.and_then(|p| p.checked_sub(policy.get_publish_ahead()));
        match current {
            Some((_, not_before, not_after)) => {
                out.current_expires = not_after.checked_add(TICK);
                let m = Milestones::of(policy, lead_time, not_before, not_after);
                match (pending_effective, m) {
                    (None, Some(m)) => {
                        out.renew_at = Some(m.renew_at);
                        out.renew_by = Some(m.renew_by);
                        out.critical_at = Some(m.critical_at);
                    }
                    (Some(_), m) => {
                        out.announce_at = announce_at;
                        out.latest_effective = m.map(|m| m.latest_effective);
                    }
                    (None, None) => {}
                }
            }
            None => out.announce_at = announce_at,
        }
        out
    }

    /// Every instant at which what the slot needs changes, in no particular order: the
    /// milestones, except that a renewal becomes critical just after `renew_by` (at `renew_by`
    /// a renewal still gets its full notice).
    pub fn iter(&self) -> impl Iterator<Item = OffsetDateTime> {
        [
            self.previous_retires,
            self.current_expires,
            self.renew_at,
            self.renew_by.and_then(|t| t.checked_add(TICK)),
            self.critical_at,
            self.announce_at,
            self.latest_effective,
        ]
        .into_iter()
        .flatten()
    }

    /// The first milestone.
    pub fn first(&self) -> Option<OffsetDateTime> {
        self.iter().min()
    }

    /// The first milestone strictly after `t`.
    pub fn first_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        self.iter().filter(|m| *m > t).min()
    }
}
