//! Layer 4, the store: Lync's central certificate configuration. An inventory of certificates
//! by thumbprint, a slot per certificate type and scope (current, previous, pending), the
//! schedule of every time-triggered change, and the front-end topology with what each server
//! reports holding.
//!
//! Uses the layers below it: `x509` (certificates, thumbprints), `pfx` (private keys, PFX files
//! for [`Store::add_pfx`] and saved keys) and `validate` (each type's policy). Its errors
//! ([`SlotError`], [`LoadError`]) live here, beside the operations that raise them.
//!
//! Every operation takes the instant it happens at; nothing reads a clock. A refused operation
//! changes nothing: each checks everything it needs before it changes anything.
//!
//! The files, by concern: `cert_type` and `scope` name slots; `slot` holds a slot and the events
//! its changes report; `names` interns type and scope names; `inventory` holds the certificates;
//! `schedule` orders every time-triggered change; `checks` and `operations` are the cmdlets
//! (set, roll, cancel, remove, roll back); `advance` applies what is due; `queries` answers
//! `Get-CsCertificate` and who signs or verifies; `timeline` is the dry run; `topology` and
//! `fleet` hold sites, pools, servers, their holdings and drift; `persist` saves the state.
//!
//! Scale: slots keep interned names and 4-byte certificate ids (68 bytes a slot), and
//! time-triggered changes sit in one ordered index grouped by instant, so [`Store::next_due`] is
//! O(log n) and [`Store::advance`] costs O(k log n) for k due changes, whatever the number of
//! slots.

mod advance;
mod cert_type;
mod checks;
mod error;
mod fleet;
mod inventory;
mod names;
mod operations;
#[cfg(feature = "serde")]
mod persist;
mod queries;
mod rollover;
mod schedule;
mod scope;
mod slot;
mod slot_set;
#[cfg(feature = "serde")]
mod state;
mod timeline;
mod topology;

pub use self::cert_type::{CertType, TypeConfig};
pub use self::error::SlotError;
pub use self::fleet::{Desired, DriftOptions, Holdings, Role, ServerDrift};
pub use self::inventory::StoredCertificate;
pub(crate) use self::names::SlotId as SlotIndex;
pub use self::operations::RollOptions;
pub use self::queries::{CertView, SlotView};
pub(crate) use self::rollover::Milestones;
pub use self::rollover::{RenewBefore, Retention, RolloverError, RolloverPolicy};
pub use self::scope::Scope;
pub use self::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Slot};
#[cfg(feature = "serde")]
pub use self::state::{LoadError, STATE_FORMAT};
pub use self::timeline::TimelineEntry;

use std::collections::BTreeMap;

use time::{Duration, OffsetDateTime};

use crate::store::inventory::Inventory;
use crate::store::names::{Names, SlotId, TypeId};
use crate::store::schedule::Schedule;
use crate::store::slot::{Cell, SlotEntry, Warned};
use crate::store::topology::Topology;
use crate::validate::{PolicyError, SubjectRule};
use crate::x509::thumbprint::Thumbprint;

/// Certificates, slots, schedule and topology. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Store {
    pub(crate) revision: u64,
    pub(crate) clock: Option<OffsetDateTime>,
    pub(crate) sip_domain: Option<SubjectRule>,
    pub(crate) configs: BTreeMap<CertType, TypeConfig>,
    pub(crate) inventory: Inventory,
    pub(crate) names: Names,
    pub(crate) slots: Vec<SlotEntry>,
    pub(crate) schedule: Schedule,
    /// The planner's agenda: each slot under its first rollover milestone.
    pub(crate) agenda: Schedule,
    pub(crate) blocked: BTreeMap<SlotId, Vec<String>>,
    pub(crate) topology: Topology,
    pub(crate) holdings: BTreeMap<Box<str>, Holdings>,
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
        Ok(Self { sip_domain: Some(SubjectRule::new(sip_domain)?), ..Self::default() })
    }

    /// The revision: incremented by every operation that changes the store, so callers can keep
    /// the state in a database with compare-and-swap.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// The latest instant an operation gave the store.
    pub fn clock(&self) -> Option<OffsetDateTime> {
        self.clock
    }

    /// The configuration of a type: what [`Store::configure_type`] set, else the type's default.
    pub fn type_config(&self, cert_type: &CertType) -> TypeConfig {
        self.configs
            .get(cert_type)
            .cloned()
            .unwrap_or_else(|| cert_type.default_config(self.sip_domain.as_ref()))
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
        let affected: Vec<SlotId> = (0..self.slots.len())
            .filter_map(|i| SlotId::try_from(i).ok())
            .filter(|&id| self.entry(id).is_some_and(|e| self.names.cert_type(e.type_id) == Some(&cert_type)))
            .collect();
        let old: Vec<_> = affected.iter().map(|&id| (id, self.triggers(id))).collect();
        self.configs.insert(cert_type, config);
        for (id, old) in old {
            self.reschedule(id, &old);
        }
        Ok(self.bump())
    }

    pub(crate) fn bump(&mut self) -> Outcome {
        self.revision += 1;
        Outcome { events: Vec::new(), revision: self.revision }
    }

    pub(crate) fn check_clock(&self, at: OffsetDateTime) -> Result<(), SlotError> {
        match self.clock {
            Some(last) if at < last => Err(SlotError::TimeWentBackwards { at, last }),
            _ => Ok(()),
        }
    }

    pub(crate) fn tick(&mut self, at: OffsetDateTime) {
        if self.clock.is_none_or(|c| at > c) {
            self.clock = Some(at);
        }
    }

    pub(crate) fn finish(&mut self, at: OffsetDateTime, events: Vec<Event>) -> Outcome {
        self.tick(at);
        self.revision += 1;
        Outcome { events, revision: self.revision }
    }

    // ----- the slot table --------------------------------------------------------------------

    pub(crate) fn entry(&self, id: SlotId) -> Option<&SlotEntry> {
        self.slots.get(id as usize)
    }

    /// The type and scope of a slot (cloned, for events and errors).
    pub(crate) fn names_of(&self, id: SlotId) -> (CertType, Scope) {
        let entry = self.entry(id);
        let cert_type = entry.and_then(|e| self.names.cert_type(e.type_id)).cloned();
        let scope = entry.and_then(|e| self.names.scope(e.scope_id)).cloned();
        (cert_type.unwrap_or(CertType::Default), scope.unwrap_or(Scope::Global))
    }

    /// The caller's view of a stored slot.
    pub(crate) fn view_of(&self, entry: &SlotEntry) -> Slot {
        let thumbprint = |c: Cell| self.inventory.by_id(c.cert).map(|s| s.certificate.thumbprint());
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
    pub(crate) fn slot(&self, id: SlotId) -> Option<Slot> {
        self.entry(id).map(|e| self.view_of(e))
    }

    /// Stores a slot's new contents (its certificates must be in the inventory); the caller keeps
    /// the schedule in step (see `update`).
    pub(crate) fn store_slot(&mut self, id: SlotId, slot: &Slot) {
        let cell = |thumbprint: Thumbprint, at: OffsetDateTime| {
            self.inventory.id(&thumbprint).map(|cert| Cell { cert, at })
        };
        let current = slot.current.and_then(|a| cell(a.thumbprint, a.since));
        let previous = slot.previous.and_then(|a| cell(a.thumbprint, a.since));
        let pending = slot.pending.and_then(|p| cell(p.thumbprint, p.effective_at));
        if let Some(entry) = self.slots.get_mut(id as usize) {
            entry.current = current;
            entry.previous = previous;
            entry.pending = pending;
            entry.warned = slot.warned;
        }
    }

    pub(crate) fn slot_id(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        self.names.slot_id(cert_type, scope)
    }

    /// Whether slots for `cert_types` at `scope` can still be created, checked before an
    /// operation changes anything.
    pub(crate) fn check_room(&self, cert_types: &[CertType], scope: &Scope) -> Result<(), SlotError> {
        self.names.check_room(cert_types, scope)?;
        if self.slots.len() + cert_types.len() > SlotId::MAX as usize {
            return Err(SlotError::CapacityExceeded { what: "slots", limit: SlotId::MAX as usize });
        }
        Ok(())
    }

    /// The slot of a type at a scope, created empty if new. `None` only past the capacity that
    /// [`Store::check_room`] checks first.
    pub(crate) fn slot_id_or_new(&mut self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        if let Some(id) = self.slot_id(cert_type, scope) {
            return Some(id);
        }
        let id = SlotId::try_from(self.slots.len()).ok().filter(|id| *id < SlotId::MAX)?;
        let (type_id, scope_id) = self.names.intern(cert_type, scope)?;
        self.slots.push(SlotEntry {
            type_id,
            warned: Warned::default(),
            scope_id,
            current: None,
            previous: None,
            pending: None,
        });
        self.names.add_slot(type_id, scope_id, id);
        Some(id)
    }

    pub(crate) fn not_after(&self, thumbprint: &Thumbprint) -> Option<OffsetDateTime> {
        self.inventory.get(thumbprint).map(|s| s.certificate.not_after())
    }

    /// The lead time of a type, without building its policy (the hot path of `advance`).
    pub(crate) fn lead_time(&self, cert_type: &CertType) -> Duration {
        match self.configs.get(cert_type) {
            Some(config) => config.lead_time,
            None => cert_type.default_lead_time(),
        }
    }

    /// The rollover policy of a type, without building its policy.
    pub(crate) fn rollover_policy(&self, cert_type: &CertType) -> RolloverPolicy {
        self.configs.get(cert_type).map_or_else(|| cert_type.default_rollover(), |c| c.rollover)
    }

    /// When the previous certificate of `slot` (a slot of `cert_type`) stops being trusted: its
    /// type's retention after the roll, or one nanosecond past its `notAfter`
    /// ([`RolloverPolicy::retire_at`]). `None` without a previous certificate.
    pub(crate) fn previous_retires_at(&self, cert_type: &CertType, slot: &Slot) -> Option<OffsetDateTime> {
        let not_after = self.not_after(&slot.previous?.thumbprint)?;
        self.rollover_policy(cert_type).retire_at(slot.current.map(|c| c.since), not_after)
    }

    /// Whether verifiers of `cert_type` still trust the previous certificate of `slot` at `at`:
    /// the type accepts it and its retention lasts.
    pub(crate) fn previous_trusted_at(&self, cert_type: &CertType, slot: &Slot, at: OffsetDateTime) -> bool {
        self.accepts_previous(cert_type) && self.previous_retires_at(cert_type, slot).is_some_and(|r| at < r)
    }

    /// Whether a type gates its rolls on every server holding the certificate.
    pub(crate) fn requires_staging(&self, cert_type: &CertType) -> bool {
        self.configs.get(cert_type).is_some_and(|c| c.require_staged)
    }

    /// Whether verifiers of a type accept the previous certificate, without building its policy.
    pub(crate) fn accepts_previous(&self, cert_type: &CertType) -> bool {
        self.configs.get(cert_type).map_or_else(|| cert_type.default_accept_previous(), |c| c.accept_previous)
    }

    /// The rollover policy of an interned type, without building its policy (hot path).
    pub(crate) fn rollover_of(&self, type_id: TypeId) -> RolloverPolicy {
        match self.names.cert_type(type_id) {
            Some(t) => match self.configs.get(t) {
                Some(config) => config.rollover,
                None => t.default_rollover(),
            },
            None => RolloverPolicy::lync(),
        }
    }

    /// The rollover milestones of slot `id`, each an instant at which the planner's view of
    /// the slot changes: with a current certificate and no roll pending, the renewal window, the
    /// renewal deadline, the emergency roll and the expiry; with a roll pending, its
    /// announcement, the last compliant roll and the expiry; and first, at index 0, the previous
    /// certificate's retirement, which the schedule's `PreviousExpires` entry reads from there.
    pub(crate) fn milestones_of(&self, id: SlotId) -> [Option<OffsetDateTime>; 5] {
        let mut out = [None; 5];
        let Some(entry) = self.entry(id) else { return out };
        let rollover = self.rollover_of(entry.type_id);
        let cert = |c: Option<Cell>| c.and_then(|c| self.inventory.by_id(c.cert)).map(|s| &s.certificate);
        if let Some(previous) = cert(entry.previous) {
            out[0] = rollover.retire_at(entry.current.map(|c| c.at), previous.not_after());
        }
        let announced = entry.pending.and_then(|p| p.at.checked_sub(rollover.publish_ahead_span()));
        if let Some(current) = cert(entry.current) {
            let not_after = current.not_after();
            let lead = self.lead_time_of(entry.type_id);
            let m = rollover.milestones(lead, current.not_before(), not_after);
            out[1] = not_after.checked_add(schedule::TICK);
            match (entry.pending, m) {
                (None, Some(m)) => {
                    out[2] = Some(m.renew_at);
                    out[3] = Some(m.renew_by);
                    out[4] = Some(m.critical_at);
                }
                (Some(_), m) => {
                    out[2] = announced;
                    out[3] = m.map(|m| m.latest_effective);
                }
                (None, None) => {}
            }
        } else {
            out[2] = announced;
        }
        out
    }

    /// The lead time of an interned type.
    pub(crate) fn lead_time_of(&self, type_id: TypeId) -> Duration {
        self.names.cert_type(type_id).map_or(Duration::ZERO, |t| self.lead_time(t))
    }

    /// The number of slots ever created.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }
}
