//! The passing of time: [`Store::advance`] applies every schedule entry due by an instant (due
//! rolls, expired previous certificates, expiry warnings) and retries rolls that wait for the
//! fleet.

use time::OffsetDateTime;

use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::names::SlotId;
use crate::store::schedule::Trigger;
use crate::store::slot::{DropReason, Event, Outcome, Warned};
use crate::store::slot_table::{Blocked, Cell, SlotEntry};
use crate::x509::cert::Certificate;

impl Store {
    /// Applies everything due by `at`: due rolls (pending becomes current, current becomes
    /// previous), previous certificates past their `notAfter` or their type's retention
    /// ([`Retention`](crate::policy::Retention)) dropped, and the warnings of
    /// current certificates that expired or entered their lead time with no roll pending.
    /// Idempotent for the same `at`; costs O(k log n) for k due changes.
    ///
    /// # Errors
    /// [`SlotError::TimeWentBackwards`] for an `at` earlier than one the store has seen; nothing
    /// changes then.
    pub fn advance(&mut self, at: OffsetDateTime) -> Result<Outcome, SlotError> {
        self.atomically_at(at, |store| {
            let mut events = Vec::new();
            while let Some((t, trigger, id)) = store.slots.first_due() {
                if t > at {
                    break;
                }
                store.slots.pop_due();
                store.fire(t, trigger, id, at, &mut events);
            }
            // Blocked rolls are checked again on every advance (the fleet may have caught up).
            for id in store.slots.blocked_ids() {
                store.try_promote(id, at, &mut events);
            }
            Ok(events)
        })
    }

    /// The next instant at which [`Store::advance`] has something to do (O(log n)).
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.slots.first_due().map(|(t, _, _)| t)
    }

    /// Applies one schedule entry (already taken off the schedule). Every branch either changes
    /// the slot so that the entry is no longer implied, or does nothing, so `advance` ends.
    fn fire(
        &mut self,
        t: OffsetDateTime,
        trigger: Trigger,
        id: SlotId,
        at: OffsetDateTime,
        events: &mut Vec<Event>,
    ) {
        if trigger == Trigger::RollDue {
            return self.try_promote(id, at, events);
        }
        let Some(entry) = self.slots.entry(id).copied() else { return };
        // The names are cloned only for the events, and only when one is reported.
        let names = |store: &Self| store.names_of(id);
        match trigger {
            Trigger::PreviousExpires => {
                if let (Some(previous), Some(end)) =
                    (self.cert_of(entry.previous), self.end_of(entry.previous))
                {
                    let expired = t > end;
                    let thumbprint = previous.thumbprint();
                    self.change_entry(id, |e| e.previous = None);
                    let (cert_type, scope) = names(self);
                    events.push(Event::PreviousDropped {
                        cert_type,
                        scope,
                        thumbprint,
                        reason: if expired { DropReason::Expired } else { DropReason::Retired },
                    });
                }
            }
            Trigger::RollDue | Trigger::Agenda => {}
            Trigger::LeadWarning => {
                if let (Some(current), Some(not_after), None) =
                    (self.cert_of(entry.current), self.end_of(entry.current), entry.pending)
                {
                    let thumbprint = current.thumbprint();
                    self.change_entry(id, |e| e.warned.lead = true);
                    let (cert_type, scope) = names(self);
                    let lead_time = self.configs.lead_time(&cert_type);
                    events.push(Event::CurrentExpiresSoon {
                        cert_type,
                        scope,
                        thumbprint,
                        not_after,
                        lead_time,
                    });
                }
            }
            Trigger::CurrentExpires => {
                if let (Some(current), Some(not_after)) =
                    (self.cert_of(entry.current), self.end_of(entry.current))
                {
                    let thumbprint = current.thumbprint();
                    self.change_entry(id, |e| e.warned.expired = true);
                    let (cert_type, scope) = names(self);
                    events.push(Event::CurrentExpired { cert_type, scope, thumbprint, not_after });
                }
            }
        }
    }

    /// Promotes a due pending roll unless the type requires staging and servers lack it, or
    /// requires partners' fetches and some lack it before the roll's last compliant instant.
    fn try_promote(&mut self, id: SlotId, at: OffsetDateTime, events: &mut Vec<Event>) {
        let Some(before) = self.slots.entry(id).copied() else { return };
        let Some(pending) = before.pending else {
            self.slots.set_blocked(id, None);
            return;
        };
        if pending.at > at {
            return;
        }
        let thumbprint = |store: &Self, cell: Option<Cell>| store.cert_of(cell).map(Certificate::thumbprint);
        let Some(incoming) = thumbprint(self, Some(pending)) else { return };
        let (cert_type, scope) = self.names_of(id);
        let servers = match self.configs.requires_staged(&cert_type) {
            true => self.servers_lacking(&cert_type, &scope, &incoming),
            false => Vec::new(),
        };
        let mut partners = self.partners_lacking(&cert_type, &incoming);
        // The partner gate yields at the roll's last compliant instant
        // ([`Store::partner_gate_yields_at`]), so that waiting never lets the current certificate
        // outlive its hold, nor the pending one age past its own renewal deadline.
        let mut yielded = Vec::new();
        let milestones = self.milestones_for(&before);
        let latest = milestones.latest_effective;
        if !partners.is_empty() && self.partner_yield(&before, &milestones).is_none_or(|last| at >= last) {
            yielded = std::mem::take(&mut partners);
        }
        // A roll the gates held, released outside the type's renewal window, waits for the
        // window's next opening, but never past its last compliant instant.
        let mut window = None;
        let held = self.slots.blocked(id).is_some();
        if held && servers.is_empty() && partners.is_empty() && latest.is_some_and(|last| at < last) {
            if let Some(w) = self.configs.rollover(&cert_type).get_renewal_window() {
                if !w.contains(at) {
                    window = w.next_open(at).map(|open| latest.map_or(open, |last| open.min(last)));
                }
            }
        }
        if !servers.is_empty() || !partners.is_empty() || window.is_some() {
            let blocked = Blocked { servers, partners, window };
            let old = self.triggers(id);
            let changed = self.slots.blocked(id) != Some(&blocked);
            self.slots.set_blocked(id, Some(blocked.clone()));
            self.reschedule(id, &old);
            if changed {
                events.push(Event::RollBlocked {
                    cert_type,
                    scope,
                    thumbprint: incoming,
                    effective_at: pending.at,
                    servers: blocked.servers,
                    partners: blocked.partners,
                    window_opens: blocked.window,
                });
            }
            return;
        }
        // A roll that waited for the fleet became current when it was finally applied.
        let since = if self.slots.blocked(id).is_some() { at } else { pending.at };
        let old = self.triggers(id);
        self.slots.set_blocked(id, None);
        // Certificates compare by inventory id: one id per thumbprint.
        self.update_entry(id, &old, |slot| {
            if let Some(current) = slot.current.take() {
                slot.previous = Some(current);
            } else if slot.previous.is_some_and(|p| p.cert == pending.cert) {
                slot.previous = None;
            }
            slot.current = Some(Cell { cert: pending.cert, at: since });
            slot.pending = None;
            slot.warned = Warned::default();
        });
        if let Some(previous) = thumbprint(self, before.previous) {
            let reason = match before.current {
                Some(_) => Some(DropReason::Replaced),
                None if previous == incoming => Some(DropReason::BecameCurrent),
                None => None,
            };
            if let Some(reason) = reason {
                events.push(Event::PreviousDropped {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: previous,
                    reason,
                });
            }
        }
        events.push(Event::Rolled {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: incoming,
            previous: thumbprint(self, before.current),
            effective_at: pending.at,
            applied_at: at,
        });
        if !yielded.is_empty() {
            events.push(Event::PartnerGateYielded {
                cert_type,
                scope,
                thumbprint: incoming,
                partners: yielded,
                at,
            });
        }
    }

    /// [`Store::update_entry`] from the slot's schedule entries as they stand.
    fn change_entry(&mut self, id: SlotId, change: impl FnOnce(&mut SlotEntry)) {
        let old = self.triggers(id);
        self.update_entry(id, &old, change);
    }
}
