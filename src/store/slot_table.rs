//! The slot table: every slot as the store keeps it (68 bytes: interned type and scope, inventory
//! ids), the names it interns, the rolls blocked by the fleet, and the two schedules derived from
//! the slots: the time-triggered changes [`Store::advance`](crate::Store::advance) applies, and
//! the planner's agenda (each slot under its first rollover milestone).
//!
//! Invariant: the schedules hold exactly the entries the caller said each slot implies when it
//! last wrote the slot ([`SlotTable::write`] takes the entries before and after, and applies the
//! difference). Every change is journaled, so that a refused operation rolls back to a
//! savepoint with the schedules as they were.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::store::error::SlotError;
use crate::store::inventory::CertId;
use crate::store::journal::{Journal, Journaled};
use crate::store::names::{Names, ScopeId, SlotId, TypeId};
use crate::store::requests::RenewalRequest;
use crate::store::schedule::{Schedule, Trigger, Triggers};
use crate::store::slot::Warned;

/// A certificate's place in a slot as the store keeps it: the certificate's inventory id and
/// the instant (when it became current, or for a pending roll when it becomes current).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Cell {
    pub(super) cert: CertId,
    pub(super) at: OffsetDateTime,
}

/// A slot as the store keeps it: type and scope as interned ids, certificates as inventory ids.
/// [`Slot`](crate::store::Slot) is the view callers get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct SlotEntry {
    pub(super) type_id: TypeId,
    pub(super) warned: Warned,
    pub(super) scope_id: ScopeId,
    pub(super) current: Option<Cell>,
    pub(super) previous: Option<Cell>,
    pub(super) pending: Option<Cell>,
}

impl SlotEntry {
    /// True when certificate `id` is current, previous or pending here.
    pub(super) fn references(&self, id: CertId) -> bool {
        [self.current, self.previous, self.pending].iter().flatten().any(|c| c.cert == id)
    }

    /// True when the slot holds nothing.
    pub(super) fn is_empty(&self) -> bool {
        self.current.is_none() && self.previous.is_none() && self.pending.is_none()
    }
}

/// How to undo one change.
#[derive(Clone, Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "nearly every entry is a write; boxing it would cost an allocation per change on advance's path"
)]
pub(super) enum Undo {
    /// A slot was created (the last one).
    Created { id: SlotId },
    /// A slot was written: its entry and schedule entries before, and its schedule entries after.
    Written { id: SlotId, before: SlotEntry, old: Triggers, new: Triggers },
    /// A slot's blocked roll changed.
    Blocked { id: SlotId, before: Option<Blocked> },
    /// A schedule entry was taken off by `advance`.
    Popped { t: OffsetDateTime, trigger: Trigger, id: SlotId },
    /// A slot's renewal request changed.
    Request { id: SlotId, before: Option<Box<RenewalRequest>> },
}

/// The slots, their names, schedules and blocked rolls. See the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct SlotTable {
    names: Names,
    entries: Vec<SlotEntry>,
    schedule: Schedule,
    agenda: Schedule,
    blocked: BTreeMap<SlotId, Blocked>,
    requests: BTreeMap<SlotId, Box<RenewalRequest>>,
    log: Journal<Undo>,
}

/// What a due roll waits for: servers of the scope that do not hold its certificate (the
/// staging gate), and partners that have not fetched a set announcing it (the partner gate).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Blocked {
    pub(super) servers: Vec<String>,
    pub(super) partners: Vec<String>,
    /// Released by the gates outside the type's renewal window: the roll waits for this
    /// opening (or its last compliant instant, if sooner).
    pub(super) window: Option<OffsetDateTime>,
}

impl Blocked {
    /// Whether the roll waits for servers or partners (not only for a window).
    pub(super) fn gated(&self) -> bool {
        !self.servers.is_empty() || !self.partners.is_empty()
    }
}

impl SlotTable {
    /// The number of slots ever created.
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn entry(&self, id: SlotId) -> Option<&SlotEntry> {
        self.entries.get(id as usize)
    }

    /// Every slot with its id, in creation order.
    pub(super) fn entries(&self) -> impl Iterator<Item = (SlotId, &SlotEntry)> {
        self.entries.iter().enumerate().filter_map(|(i, e)| Some((SlotId::try_from(i).ok()?, e)))
    }

    /// The type and scope of a slot entry.
    pub(super) fn names_of(&self, entry: &SlotEntry) -> Option<(&CertType, &Scope)> {
        Some((self.names.cert_type(entry.type_id)?, self.names.scope(entry.scope_id)?))
    }

    pub(super) fn cert_type(&self, type_id: TypeId) -> Option<&CertType> {
        self.names.cert_type(type_id)
    }

    pub(super) fn slot_id(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        self.names.slot_id(cert_type, scope)
    }

    /// The slots of a scope.
    pub(super) fn slots_at(&self, scope: &Scope) -> impl Iterator<Item = SlotId> + '_ {
        self.names.slots_at(scope)
    }

    /// Whether slots for `cert_types` at `scope` can still be created, checked before an
    /// operation changes anything.
    pub(super) fn check_room(&self, cert_types: &[CertType], scope: &Scope) -> Result<(), SlotError> {
        self.names.check_room(cert_types, scope)?;
        if self.entries.len() + cert_types.len() > SlotId::MAX as usize {
            return Err(SlotError::CapacityExceeded { what: "slots", limit: SlotId::MAX as usize });
        }
        Ok(())
    }

    /// The slot of a type at a scope, created empty if new. `None` only past the capacity that
    /// [`SlotTable::check_room`] checks first.
    pub(super) fn slot_id_or_new(&mut self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        if let Some(id) = self.slot_id(cert_type, scope) {
            return Some(id);
        }
        let id = SlotId::try_from(self.entries.len()).ok().filter(|id| *id < SlotId::MAX)?;
        let (type_id, scope_id) = self.names.intern(cert_type, scope)?;
        self.entries.push(SlotEntry {
            type_id,
            warned: Warned::default(),
            scope_id,
            current: None,
            previous: None,
            pending: None,
        });
        self.names.add_slot(type_id, scope_id, id);
        self.log.record(Undo::Created { id });
        Some(id)
    }

    /// Writes slot `id`: its new entry, and its schedule entries from `old` (what its previous
    /// entry implied) to `new` (what `entry` implies), touching only those that differ.
    pub(super) fn write(&mut self, id: SlotId, entry: SlotEntry, old: &Triggers, new: &Triggers) {
        let Some(cell) = self.entries.get_mut(id as usize) else { return };
        if *cell == entry && old == new {
            return;
        }
        let before = core::mem::replace(cell, entry);
        self.move_entries(id, old, new);
        self.log.record(Undo::Written { id, before, old: *old, new: *new });
    }

    fn move_entries(&mut self, id: SlotId, old: &Triggers, new: &Triggers) {
        for (before, after) in old.iter().zip(new.iter()) {
            if before != after {
                if let Some((t, trigger)) = before {
                    self.schedule_of(*trigger).remove(*t, *trigger, id);
                }
                if let Some((t, trigger)) = after {
                    self.schedule_of(*trigger).insert(*t, *trigger, id);
                }
            }
        }
    }

    fn schedule_of(&mut self, trigger: Trigger) -> &mut Schedule {
        match trigger {
            Trigger::Agenda => &mut self.agenda,
            _ => &mut self.schedule,
        }
    }

    /// What a slot's due roll waits for, if it is blocked.
    pub(super) fn blocked(&self, id: SlotId) -> Option<&Blocked> {
        self.blocked.get(&id)
    }

    /// The slots whose due roll waits for the fleet.
    pub(super) fn blocked_ids(&self) -> Vec<SlotId> {
        self.blocked.keys().copied().collect()
    }

    /// Sets (or with `None` clears) what a slot's roll waits for. The caller reschedules the
    /// slot: a blocked roll has no `RollDue` entry.
    pub(super) fn set_blocked(&mut self, id: SlotId, blocked: Option<Blocked>) {
        if self.blocked.get(&id) == blocked.as_ref() {
            return;
        }
        let before = match blocked {
            Some(blocked) => self.blocked.insert(id, blocked),
            None => self.blocked.remove(&id),
        };
        self.log.record(Undo::Blocked { id, before });
    }

    /// The renewal request of a slot, if one was begun and not finished.
    pub(super) fn request(&self, id: SlotId) -> Option<&RenewalRequest> {
        self.requests.get(&id).map(Box::as_ref)
    }

    /// Every renewal request, by slot.
    pub(super) fn requests(&self) -> impl Iterator<Item = (SlotId, &RenewalRequest)> {
        self.requests.iter().map(|(id, r)| (*id, r.as_ref()))
    }

    /// Sets (or with `None` clears) a slot's renewal request.
    pub(super) fn set_request(&mut self, id: SlotId, request: Option<RenewalRequest>) {
        if request.is_none() && !self.requests.contains_key(&id) {
            return;
        }
        let before = match request {
            Some(request) => self.requests.insert(id, Box::new(request)),
            None => self.requests.remove(&id),
        };
        self.log.record(Undo::Request { id, before });
    }

    /// The next time-triggered change.
    pub(super) fn first_due(&self) -> Option<(OffsetDateTime, Trigger, SlotId)> {
        self.schedule.first()
    }

    /// Takes the next time-triggered change off the schedule.
    pub(super) fn pop_due(&mut self) {
        if let Some((t, trigger, id)) = self.schedule.first() {
            self.schedule.remove(t, trigger, id);
            self.log.record(Undo::Popped { t, trigger, id });
        }
    }

    /// The slots whose first rollover milestone is at or before `t`, in milestone order.
    pub(super) fn agenda_until(&self, t: OffsetDateTime) -> impl Iterator<Item = SlotId> + '_ {
        self.agenda.ids_until(t)
    }

    /// The first rollover milestone of any slot.
    pub(super) fn agenda_first(&self) -> Option<OffsetDateTime> {
        self.agenda.first().map(|(t, _, _)| t)
    }

    /// The first rollover milestone of any slot strictly after `t`.
    pub(super) fn agenda_first_after(&self, t: OffsetDateTime) -> Option<OffsetDateTime> {
        self.agenda.first_after(t)
    }
}

impl Journaled for SlotTable {
    type Undo = Undo;

    fn journal(&self) -> &Journal<Undo> {
        &self.log
    }

    fn journal_mut(&mut self) -> &mut Journal<Undo> {
        &mut self.log
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Created { id } => {
                if let Some(entry) = self.entries.pop() {
                    self.names.remove_slot(entry.type_id, entry.scope_id, id);
                }
            }
            Undo::Written { id, before, old, new } => {
                if let Some(cell) = self.entries.get_mut(id as usize) {
                    *cell = before;
                }
                self.move_entries(id, &new, &old);
            }
            Undo::Blocked { id, before } => {
                match before {
                    Some(servers) => self.blocked.insert(id, servers),
                    None => self.blocked.remove(&id),
                };
            }
            Undo::Popped { t, trigger, id } => self.schedule_of(trigger).insert(t, trigger, id),
            Undo::Request { id, before } => {
                match before {
                    Some(request) => self.requests.insert(id, request),
                    None => self.requests.remove(&id),
                };
            }
        }
    }
}
