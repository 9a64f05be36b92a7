//! The schedule: every time-triggered change of every slot (a due roll, a previous certificate
//! that expires, the lead-time warning and the expiry of a current certificate), in the order
//! [`Store::advance`](crate::Store::advance) applies them. Part of the slot table.
//!
//! Entries are grouped by instant and trigger: the slots that share a certificate share its
//! expiry, so a million slots holding one certificate cost one group of slot ids, a few bytes
//! each, rather than a million tree entries. Each group's key packs the instant and the trigger
//! into one `u128`, so comparisons are single integer compares.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::store::names::SlotId;
use crate::store::slot_set::SlotSet;

/// What a schedule entry triggers. The order is the order of application at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(super) enum Trigger {
    PreviousExpires,
    RollDue,
    LeadWarning,
    CurrentExpires,
    /// A slot's first rollover milestone (the planner's agenda, a schedule of its own).
    Agenda,
}

/// The schedule, ordered by instant, then trigger, then slot id: the slots of one (instant,
/// trigger) in one [`SlotSet`].
#[derive(Clone, Debug, Default)]
pub(super) struct Schedule(BTreeMap<u128, SlotSet>);

/// Seconds added to Unix time so that every representable instant (years -9999 to 9999) is
/// non-negative in 41 bits.
const EPOCH_OFFSET: i64 = 1 << 40;

impl Schedule {
    fn key(t: OffsetDateTime, trigger: Trigger) -> u128 {
        let secs = (t.unix_timestamp() + EPOCH_OFFSET) as u128;
        (secs << 64) | (u128::from(t.nanosecond()) << 34) | ((trigger as u128) << 31)
    }

    fn unkey(key: u128) -> Option<(OffsetDateTime, Trigger)> {
        let secs = i64::try_from(key >> 64).ok()? - EPOCH_OFFSET;
        let nanos = ((key >> 34) & 0x3FFF_FFFF) as u32;
        let trigger = match (key >> 31) & 0b111 {
            0 => Trigger::PreviousExpires,
            1 => Trigger::RollDue,
            2 => Trigger::LeadWarning,
            3 => Trigger::CurrentExpires,
            _ => Trigger::Agenda,
        };
        let t = OffsetDateTime::from_unix_timestamp(secs).ok()?.replace_nanosecond(nanos).ok()?;
        Some((t, trigger))
    }

    pub(super) fn insert(&mut self, t: OffsetDateTime, trigger: Trigger, id: SlotId) {
        let key = Self::key(t, trigger);
        match self.0.get_mut(&key) {
            None => {
                self.0.insert(key, SlotSet::One(id));
            }
            Some(ids) => ids.insert(id),
        }
    }

    pub(super) fn remove(&mut self, t: OffsetDateTime, trigger: Trigger, id: SlotId) {
        let key = Self::key(t, trigger);
        let empty = self.0.get_mut(&key).is_some_and(|ids| ids.remove(id));
        if empty {
            self.0.remove(&key);
        }
    }

    /// The earliest entry.
    pub(super) fn first(&self) -> Option<(OffsetDateTime, Trigger, SlotId)> {
        let (key, ids) = self.0.first_key_value()?;
        let id = ids.first()?;
        Self::unkey(*key).map(|(t, trigger)| (t, trigger, id))
    }

    /// The slots of every entry at or before `t`, in order (O(log n + k)).
    pub(super) fn ids_until(&self, t: OffsetDateTime) -> impl Iterator<Item = SlotId> + '_ {
        let end = Self::key(t, Trigger::Agenda) | 0x7FFF_FFFF;
        self.0.range(..=end).flat_map(|(_, ids)| ids.iter())
    }

    /// The first instant strictly after `t` with an entry (O(log n)).
    pub(super) fn first_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        let start = Self::key(t, Trigger::Agenda) | 0x7FFF_FFFF;
        self.0
            .range((core::ops::Bound::Excluded(start), core::ops::Bound::Unbounded))
            .next()
            .and_then(|(key, _)| Self::unkey(*key))
            .map(|(t, _)| t)
    }

    /// Removes the earliest entry.
    #[cfg(test)]
    pub(super) fn pop_first(&mut self) {
        if let Some((t, trigger, id)) = self.first() {
            self.remove(t, trigger, id);
        }
    }
}

/// The schedule entries one slot implies, by position: previous expiry (or retirement), due
/// roll, lead-time warning, expiry; and last, in the planner's agenda, the slot's first rollover
/// milestone.
pub(super) type Triggers = [Option<(OffsetDateTime, Trigger)>; 5];

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::policy::TICK;

    #[test]
    fn groups_keep_instant_trigger_and_id_order() {
        let mut s = Schedule::default();
        let t = datetime!(2030-01-01 0:00 UTC);
        s.insert(t + TICK, Trigger::CurrentExpires, 7);
        s.insert(t, Trigger::CurrentExpires, 9);
        s.insert(t, Trigger::CurrentExpires, 3);
        s.insert(t, Trigger::RollDue, 5);
        s.insert(t, Trigger::CurrentExpires, 3);
        let mut order = Vec::new();
        while let Some(first) = s.first() {
            order.push(first);
            s.pop_first();
        }
        assert_eq!(
            order,
            [
                (t, Trigger::RollDue, 5),
                (t, Trigger::CurrentExpires, 3),
                (t, Trigger::CurrentExpires, 9),
                (t + TICK, Trigger::CurrentExpires, 7),
            ]
        );
        assert!(s.0.is_empty());
    }

    #[test]
    fn removing_the_last_id_removes_the_group() {
        let mut s = Schedule::default();
        let t = datetime!(1950-06-01 12:00:00.5 UTC);
        s.insert(t, Trigger::LeadWarning, 1);
        s.insert(t, Trigger::LeadWarning, 2);
        s.remove(t, Trigger::LeadWarning, 1);
        assert_eq!(s.first(), Some((t, Trigger::LeadWarning, 2)));
        s.remove(t, Trigger::LeadWarning, 2);
        s.remove(t, Trigger::LeadWarning, 2);
        assert_eq!(s.first(), None);
        assert!(s.0.is_empty());
    }
}
