//! Layer 6, the store: Lync's central certificate configuration. An aggregate of four parts,
//! each with private fields and its own invariants:
//!
//! - the inventory (`inventory`): certificates by thumbprint, with their private keys;
//! - the slot table (`slot_table`, with `names`, `schedule` and `slot_set`): a slot per
//!   certificate type and scope (current, previous, pending), the rolls blocked by the fleet,
//!   the renewals in progress (`requests`), and the schedules derived from the slots;
//! - the topology (`topology`): sites, pools, front-end servers and what each reported holding;
//! - the configurations (`configs`): each type's [`TypeConfig`] and the SIP domain.
//!
//! Uses the layers below it: `x509` (certificates, thumbprints), `pfx` (private keys, PFX files),
//! `validate` (each type's policy), `policy` (types, scopes, configurations, milestones) and
//! `obtain` (the [`Issuer`](crate::obtain::Issuer) a renewal asks).
//!
//! **One transaction mechanism.** Every operation that changes the store runs in
//! `Store::atomically`: each part journals how to undo each change it makes, and a refused
//! operation rolls every part back to the savepoint taken before it began, whatever it had
//! changed by then. The revision moves when, and only when, an operation changed something.
//!
//! Every operation takes the instant it happens at; nothing reads a clock.
//!
//! The files, by concern: `operations` are the cmdlets (set, roll, cancel, remove, roll back)
//! and `checks` what they check first; `advance` applies what is due; `queries` answers
//! `Get-CsCertificate` and who signs or verifies; `timeline` is the dry run; `fleet` what each
//! server must hold, its reports and drift; `persist` and `state` save and load the state.
//!
//! Scale: slots keep interned names and 4-byte certificate ids (68 bytes a slot), and
//! time-triggered changes sit in one ordered index grouped by instant, so [`Store::next_due`] is
//! O(log n) and [`Store::advance`] costs O(k log n) for k due changes, whatever the number of
//! slots.

mod advance;
mod certificates;
mod checks;
mod configs;
mod error;
mod fleet;
mod inventory;
mod journal;
mod names;
mod operations;
#[cfg(feature = "serde")]
mod persist;
mod queries;
mod requests;
mod schedule;
mod sites;
mod slot;
mod slot_set;
mod slot_table;
#[cfg(feature = "serde")]
mod state;
mod timeline;
mod topology;

pub use self::error::SlotError;
pub use self::fleet::{Desired, DriftOptions, Fetch, Hold, Holdings, Role, ServerDrift};
pub use self::inventory::{Inventory, IssuerExpiry, StoredCertificate};
pub use self::operations::RollOptions;
#[cfg(feature = "serde")]
pub use self::persist::SealedRenewalKey;
pub use self::queries::{CertView, DueSlot, SlotView};
pub use self::requests::RenewalRequest;
pub use self::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Slot};
#[cfg(feature = "serde")]
pub use self::state::{LoadError, STATE_FORMAT, SaveError, SavedState, SealedKey};
pub use self::timeline::TimelineEntry;
pub use self::topology::Topology;

use std::borrow::Cow;

use time::OffsetDateTime;

use crate::policy::{CertType, Scope, SlotMilestones, TICK, TypeConfig};
use crate::store::configs::Configs;
use crate::store::journal::Journaled as _;
use crate::store::names::SlotId;
use crate::store::schedule::{Trigger, Triggers};
use crate::store::slot_table::{Cell, SlotEntry, SlotTable};
use crate::validate::{PolicyError, SubjectRule};
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::Thumbprint;

/// Certificates, slots, schedule, topology and type configurations. See the module
/// documentation.
#[derive(Clone, Debug, Default)]
pub struct Store {
    revision: u64,
    clock: Option<OffsetDateTime>,
    configs: Configs,
    inventory: Inventory,
    slots: SlotTable,
    topology: Topology,
}

/// Where every part's journal stood when an operation began.
#[derive(Clone, Copy, Debug)]
struct Savepoint {
    clock: Option<OffsetDateTime>,
    configs: usize,
    inventory: usize,
    slots: usize,
    topology: usize,
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty store for a SIP domain, whose OAuthTokenIssuer, Default and WebServicesInternal
    /// certificates must name it.
    ///
    /// # Errors
    /// [`PolicyError::InvalidSipDomain`] when the domain is not usable.
    pub fn for_sip_domain(sip_domain: &str) -> Result<Self, PolicyError> {
        Ok(Self { configs: Configs::new(Some(SubjectRule::new(sip_domain)?)), ..Self::default() })
    }

    /// The revision: incremented by every operation that changes the store (and only by those),
    /// so callers can keep the state in a database with compare-and-swap.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Continues the revision count after `revision` when the store's is not past it, and says
    /// whether it moved. For a saved state put back over a newer one (a restore): readers that
    /// refuse a state older than one they applied (a replay) must read the restored state as
    /// the newest. Nothing else changes.
    ///
    /// ```
    /// use certslot::Store;
    ///
    /// let mut store = Store::new();
    /// assert!(store.continue_after(41));
    /// assert_eq!(store.revision(), 42);
    /// assert!(!store.continue_after(7));
    /// assert_eq!(store.revision(), 42);
    /// ```
    pub fn continue_after(&mut self, revision: u64) -> bool {
        if self.revision > revision {
            return false;
        }
        self.revision = revision.saturating_add(1);
        true
    }

    /// The latest instant an operation gave the store.
    pub fn clock(&self) -> Option<OffsetDateTime> {
        self.clock
    }

    /// The certificates the store knows, with the private keys it holds.
    pub fn inventory(&self) -> &Inventory {
        &self.inventory
    }

    /// The front-end topology: sites, pools, servers and what each server last reported.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// The SIP domain the store was made for ([`Store::for_sip_domain`]).
    pub fn sip_domain(&self) -> Option<&str> {
        self.configs.sip_domain().map(SubjectRule::sip_domain)
    }

    /// The configuration of a type: what [`Store::configure_type`] set, else the type's default
    /// ([`TypeConfig::for_type`] with the store's SIP domain).
    pub fn type_config(&self, cert_type: &CertType) -> Cow<'_, TypeConfig> {
        self.configs.get(cert_type)
    }

    /// Sets the configuration of a type. Its slots' schedule is recomputed (lead-time warnings
    /// and rollover milestones move with the configuration).
    ///
    /// # Errors
    /// [`SlotError::InvalidRollover`] when [`TypeConfig::check`] fails; nothing changes then.
    pub fn configure_type(&mut self, cert_type: CertType, config: TypeConfig) -> Result<Outcome, SlotError> {
        config
            .check()
            .map_err(|source| SlotError::InvalidRollover { cert_type: cert_type.clone(), source })?;
        if let Some(unknown) = config.get_require_fetched_by().iter().find(|p| !self.topology.has_partner(p))
        {
            return Err(SlotError::UnknownTopology { kind: "partner", name: unknown.clone() });
        }
        self.atomically(|store| {
            let affected: Vec<SlotId> = store
                .slots
                .entries()
                .filter(|(_, e)| store.slots.cert_type(e.type_id) == Some(&cert_type))
                .map(|(id, _)| id)
                .collect();
            let old: Vec<(SlotId, Triggers)> = affected.iter().map(|&id| (id, store.triggers(id))).collect();
            store.configs.set(cert_type, config);
            for (id, old) in old {
                store.reschedule(id, &old);
            }
            Ok(Vec::new())
        })
    }

    /// The number of slots ever created.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    /// The rollover milestones of the slot of `cert_type` at `scope` (its own, not a fallback's):
    /// each instant at which what the slot needs changes. `None` without such a slot.
    pub fn milestones(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotMilestones> {
        self.slots.slot_id(cert_type, scope).map(|id| self.milestones_of(id))
    }

    /// When a roll of the slot of `cert_type` at `scope` that waits for partners
    /// ([`TypeConfig::require_fetched_by`]) rolls without them: its last compliant instant, the
    /// earlier of the current certificate's (valid for the hold after it) and the pending
    /// certificate's own renewal deadline (so that, once current, it can still be renewed with full
    /// notice; with a renewal window, the last instant inside one that leaves its renewal's roll a
    /// window before that deadline's roll). `None` without a pending roll.
    pub fn partner_gate_yields_at(&self, cert_type: &CertType, scope: &Scope) -> Option<OffsetDateTime> {
        let entry = self.slots.entry(self.slots.slot_id(cert_type, scope)?)?;
        self.partner_yield(entry, &self.milestones_for(entry))
    }

    /// [`Store::partner_gate_yields_at`] of a slot with `entry` as its contents and `milestones`
    /// as its milestones.
    fn partner_yield(&self, entry: &SlotEntry, milestones: &SlotMilestones) -> Option<OffsetDateTime> {
        let pending = entry.pending?;
        let cert_type = self.slots.cert_type(entry.type_id)?;
        let rollover = self.configs.rollover(cert_type);
        let hold = rollover.hold(self.configs.lead_time(cert_type));
        let mut pending_renew_by = self
            .end_of(Some(pending))
            .and_then(|end| end.checked_sub(hold))
            .and_then(|t| t.checked_sub(rollover.get_publish_ahead()));
        // With a renewal window, early enough that its renewal, made inside a window, finds
        // another window for its roll before the deadline's roll.
        if let Some(window) = rollover.get_renewal_window() {
            pending_renew_by = pending_renew_by
                .and_then(|t| t.checked_sub(window.longest_closed()))
                .and_then(|t| window.last_open(t));
        }
        earliest(milestones.latest_effective, pending_renew_by)
    }

    /// The slots whose first rollover milestone ([`Store::milestones`]) is at or before `until`,
    /// in the order of those milestones: the slots that need something at `until`, found in
    /// O(log n + k) through an index of milestones, without a scan.
    pub fn slots_by_milestone(&self, until: OffsetDateTime) -> impl Iterator<Item = DueSlot<'_>> {
        self.slots.agenda_until(until).filter_map(|id| {
            let entry = self.slots.entry(id)?;
            let (cert_type, scope) = self.slots.names_of(entry)?;
            Some(DueSlot { cert_type, scope, slot: self.view_of(entry) })
        })
    }

    /// The first rollover milestone of any slot after the store's clock (the first of all without
    /// a clock): when the slots that need something next change. O(k + log n) for the k slots
    /// whose first milestone has passed.
    pub fn next_milestone(&self) -> Option<OffsetDateTime> {
        let Some(clock) = self.clock else { return self.slots.agenda_first() };
        let mut first = self.slots.agenda_first_after(clock);
        for id in self.slots.agenda_until(clock) {
            first = earliest(first, self.milestones_of(id).first_after(clock));
        }
        first
    }

    // ----- transactions ----------------------------------------------------------------------

    fn savepoint(&self) -> Savepoint {
        Savepoint {
            clock: self.clock,
            configs: self.configs.mark(),
            inventory: self.inventory.mark(),
            slots: self.slots.mark(),
            topology: self.topology.mark(),
        }
    }

    /// Runs one operation all or nothing: when `operation` fails, every part is rolled back to
    /// where it stood before; when it succeeds and changed anything, the revision moves on. The
    /// events it returns come back with the new revision.
    fn atomically<E>(
        &mut self,
        operation: impl FnOnce(&mut Self) -> Result<Vec<Event>, E>,
    ) -> Result<Outcome, E> {
        let (events, revision) = self.atomically_with(operation)?;
        Ok(Outcome { events, revision })
    }

    /// [`Store::atomically`] for an operation with any result.
    fn atomically_with<T, E>(
        &mut self,
        operation: impl FnOnce(&mut Self) -> Result<T, E>,
    ) -> Result<(T, u64), E> {
        let savepoint = self.savepoint();
        match operation(self) {
            Ok(value) => {
                let changed = self.clock != savepoint.clock
                    || self.configs.mark() > savepoint.configs
                    || self.inventory.mark() > savepoint.inventory
                    || self.slots.mark() > savepoint.slots
                    || self.topology.mark() > savepoint.topology;
                if changed {
                    self.revision += 1;
                }
                self.commit();
                Ok((value, self.revision))
            }
            Err(e) => {
                self.clock = savepoint.clock;
                self.configs.rollback(savepoint.configs);
                self.inventory.rollback(savepoint.inventory);
                self.slots.rollback(savepoint.slots);
                self.topology.rollback(savepoint.topology);
                Err(e)
            }
        }
    }

    /// [`Store::atomically`] for an operation at `at`: refused with
    /// [`SlotError::TimeWentBackwards`] for an `at` earlier than one the store has seen, and
    /// moving the clock to `at` when it succeeds.
    fn atomically_at(
        &mut self,
        at: OffsetDateTime,
        operation: impl FnOnce(&mut Self) -> Result<Vec<Event>, SlotError>,
    ) -> Result<Outcome, SlotError> {
        let (events, revision) = self.atomically_with_at(at, operation)?;
        Ok(Outcome { events, revision })
    }

    /// [`Store::atomically_at`] for an operation with any result.
    fn atomically_with_at<T>(
        &mut self,
        at: OffsetDateTime,
        operation: impl FnOnce(&mut Self) -> Result<T, SlotError>,
    ) -> Result<(T, u64), SlotError> {
        self.atomically_with(|store| {
            store.check_clock(at)?;
            let value = operation(store)?;
            store.tick(at);
            Ok(value)
        })
    }

    /// Forgets every part's journal: what they hold now is the state.
    fn commit(&mut self) {
        self.configs.commit();
        self.inventory.commit();
        self.slots.commit();
        self.topology.commit();
    }

    fn check_clock(&self, at: OffsetDateTime) -> Result<(), SlotError> {
        match self.clock {
            Some(last) if at < last => Err(SlotError::TimeWentBackwards { at, last }),
            _ => Ok(()),
        }
    }

    /// Moves the clock to `at` if it is later.
    fn tick(&mut self, at: OffsetDateTime) {
        if self.clock.is_none_or(|c| at > c) {
            self.clock = Some(at);
        }
    }

    // ----- the slot table --------------------------------------------------------------------

    /// The type and scope of a slot (cloned, for events and errors).
    fn names_of(&self, id: SlotId) -> (CertType, Scope) {
        let names = self.slots.entry(id).and_then(|e| self.slots.names_of(e));
        names.map_or((CertType::Default, Scope::Global), |(t, s)| (t.clone(), s.clone()))
    }

    /// The caller's view of a stored slot.
    fn view_of(&self, entry: &SlotEntry) -> Slot {
        let thumbprint = |c: Cell| self.cert_of(Some(c)).map(Certificate::thumbprint);
        Slot {
            current: entry.current.and_then(|c| Some(Assignment { thumbprint: thumbprint(c)?, since: c.at })),
            previous: entry
                .previous
                .and_then(|c| Some(Assignment { thumbprint: thumbprint(c)?, since: c.at })),
            pending: entry
                .pending
                .and_then(|c| Some(PendingRoll { thumbprint: thumbprint(c)?, effective_at: c.at })),
            warned: entry.warned,
        }
    }

    /// The caller's view of slot `id`.
    fn slot(&self, id: SlotId) -> Option<Slot> {
        self.slots.entry(id).map(|e| self.view_of(e))
    }

    /// The stored form of a slot view (its certificates must be in the inventory).
    fn entry_of(&self, id: SlotId, slot: &Slot) -> Option<SlotEntry> {
        let cell = |thumbprint: Thumbprint, at: OffsetDateTime| {
            self.inventory.id(&thumbprint).map(|cert| Cell { cert, at })
        };
        let entry = self.slots.entry(id)?;
        Some(SlotEntry {
            current: slot.current.and_then(|a| cell(a.thumbprint, a.since)),
            previous: slot.previous.and_then(|a| cell(a.thumbprint, a.since)),
            pending: slot.pending.and_then(|p| cell(p.thumbprint, p.effective_at)),
            warned: slot.warned,
            ..*entry
        })
    }

    /// Changes one slot, keeping its schedule in step. The slot's certificates must be in the
    /// inventory (every operation checks that first).
    fn update(&mut self, id: SlotId, change: impl FnOnce(&mut Slot)) {
        let old = self.triggers(id);
        self.update_from(id, &old, change);
    }

    /// Clears a slot's blocked roll, then changes the slot as [`Store::update`] does.
    fn unblock_and_update(&mut self, id: SlotId, change: impl FnOnce(&mut Slot)) {
        let old = self.triggers(id);
        self.slots.set_blocked(id, None);
        self.update_from(id, &old, change);
    }

    /// [`Store::update`], with the schedule entries the slot had before (`old`) computed by the
    /// caller, before it changed what they depend on.
    fn update_from(&mut self, id: SlotId, old: &Triggers, change: impl FnOnce(&mut Slot)) {
        let Some(mut slot) = self.slot(id) else { return };
        change(&mut slot);
        let Some(entry) = self.entry_of(id, &slot) else { return };
        let new = self.triggers_for(id, &entry);
        self.slots.write(id, entry, old, &new);
    }

    /// Changes one slot's stored entry, keeping its schedule in step: [`Store::update`] without
    /// the round trip through thumbprints, for changes that only move or drop certificates the
    /// slot holds (`advance`'s path: a due roll costs no inventory lookup).
    fn update_entry(&mut self, id: SlotId, old: &Triggers, change: impl FnOnce(&mut SlotEntry)) {
        let Some(mut entry) = self.slots.entry(id).copied() else { return };
        change(&mut entry);
        let new = self.triggers_for(id, &entry);
        self.slots.write(id, entry, old, &new);
    }

    /// Brings a slot's schedule entries from `old` (computed before a change of what they depend
    /// on: the configuration, the blocked rolls) to what it implies now.
    fn reschedule(&mut self, id: SlotId, old: &Triggers) {
        let Some(entry) = self.slots.entry(id).copied() else { return };
        let new = self.triggers_for(id, &entry);
        self.slots.write(id, entry, old, &new);
    }

    /// The schedule entries slot `id` implies now.
    fn triggers(&self, id: SlotId) -> Triggers {
        match self.slots.entry(id) {
            Some(entry) => self.triggers_for(id, entry),
            None => [None; 5],
        }
    }

    /// The schedule entries slot `id` implies with `entry` as its contents.
    fn triggers_for(&self, id: SlotId, entry: &SlotEntry) -> Triggers {
        let mut out: Triggers = [None; 5];
        let milestones = self.milestones_for(entry);
        out[0] = milestones.previous_retires.map(|t| (t, Trigger::PreviousExpires));
        if let Some(pending) = entry.pending {
            match self.slots.blocked(id) {
                None => out[1] = Some((pending.at, Trigger::RollDue)),
                // Held for partners: tried again when the partner gate yields.
                Some(blocked) if !blocked.partners.is_empty() => {
                    out[1] = self.partner_yield(entry, &milestones).map(|t| (t, Trigger::RollDue));
                }
                // Held for the renewal window: tried again when it opens.
                Some(blocked) if !blocked.gated() => {
                    out[1] = blocked.window.map(|t| (t, Trigger::RollDue));
                }
                Some(_) => {}
            }
        }
        let not_after = self.end_of(entry.current);
        if let Some(not_after) = not_after {
            let lead = self.lead_time_of(entry);
            // No lead-time warning while a roll is pending; cancelling it brings the warning back.
            if lead.is_positive() && !entry.warned.lead && entry.pending.is_none() {
                out[2] = not_after.checked_sub(lead).map(|t| (t, Trigger::LeadWarning));
            }
            if !entry.warned.expired {
                out[3] = not_after.checked_add(TICK).map(|t| (t, Trigger::CurrentExpires));
            }
        }
        out[4] = milestones.first().map(|t| (t, Trigger::Agenda));
        out
    }

    /// The lead time of a slot's type.
    fn lead_time_of(&self, entry: &SlotEntry) -> time::Duration {
        self.slots.cert_type(entry.type_id).map_or(time::Duration::ZERO, |t| self.configs.lead_time(t))
    }

    /// The rollover milestones of slot `id`.
    fn milestones_of(&self, id: SlotId) -> SlotMilestones {
        self.slots.entry(id).map(|e| self.milestones_for(e)).unwrap_or_default()
    }

    /// The rollover milestones of a slot with `entry` as its contents.
    fn milestones_for(&self, entry: &SlotEntry) -> SlotMilestones {
        let Some(cert_type) = self.slots.cert_type(entry.type_id) else { return SlotMilestones::default() };
        SlotMilestones::of(
            &self.configs.rollover(cert_type),
            self.configs.lead_time(cert_type),
            entry.current.and_then(|c| {
                let stored = self.inventory.by_id(c.cert)?;
                Some((c.at, stored.certificate.not_before(), stored.effective_end()))
            }),
            self.end_of(entry.previous),
            entry.pending.map(|p| p.at),
        )
    }

    /// The certificate a slot's cell names, if any.
    fn cert_of(&self, cell: Option<Cell>) -> Option<&Certificate> {
        cell.and_then(|c| self.inventory.by_id(c.cert)).map(|s| &s.certificate)
    }

    /// The effective end of the certificate a slot's cell names
    /// ([`StoredCertificate::effective_end`]).
    fn end_of(&self, cell: Option<Cell>) -> Option<OffsetDateTime> {
        cell.and_then(|c| self.inventory.by_id(c.cert)).map(StoredCertificate::effective_end)
    }

    fn not_after(&self, thumbprint: &Thumbprint) -> Option<OffsetDateTime> {
        self.inventory.get(thumbprint).map(StoredCertificate::effective_end)
    }

    /// Whether verifiers of `cert_type` still trust the previous certificate of the slot at
    /// `scope` (the slot's own scope, as [`Store::resolve`] returns it) at `at`: the type accepts
    /// the previous certificate ([`TypeConfig::accept_previous`]) and its retention lasts
    /// ([`SlotMilestones::previous_retires`]).
    pub fn previous_trusted_at(&self, cert_type: &CertType, scope: &Scope, at: OffsetDateTime) -> bool {
        self.configs.accepts_previous(cert_type)
            && self.milestones(cert_type, scope).and_then(|m| m.previous_retires).is_some_and(|r| at < r)
    }
}

/// The earlier of two instants, either of which may be missing.
pub(crate) fn earliest(a: Option<OffsetDateTime>, b: Option<OffsetDateTime>) -> Option<OffsetDateTime> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
