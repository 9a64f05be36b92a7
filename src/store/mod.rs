//! The store: an inventory of certificates by thumbprint, slots by certificate type and scope,
//! the schedule of every time-triggered change, and the front-end topology.
//!
//! Every operation takes the instant it happens at; nothing reads a clock. A refused operation
//! changes nothing: each checks everything it needs before it changes anything.
//!
//! Scale: time-triggered changes (due rolls, expiring previous certificates, expiry warnings) sit
//! in one ordered index, so [`Store::next_due`] is O(log n) and [`Store::advance`] costs
//! O(k log n) for k due changes, whatever the number of slots.

mod cert_type;
mod error;
mod fleet;
#[cfg(feature = "serde")]
mod persist;
mod scope;
mod slot;

pub use self::cert_type::{CertType, TypeConfig};
pub use self::error::SlotError;
pub use self::fleet::{Desired, Role, ServerDrift};
#[cfg(feature = "serde")]
pub use self::persist::{LoadError, STATE_FORMAT};
pub use self::scope::Scope;
pub use self::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Slot};

use std::collections::{BTreeMap, BTreeSet, HashMap};

use time::{Duration, OffsetDateTime};

use crate::pfx::{Pfx, PrivateKey};
use crate::store::slot::Warned;
use crate::validate::PolicyError;
use crate::validate::{Rule, SubjectRule};
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::{DigestMap, Thumbprint};

/// A certificate in the inventory, with its private key when the store holds it.
#[derive(Clone, Debug)]
pub struct StoredCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// Its private key, if imported with one.
    pub key: Option<PrivateKey>,
}

/// Options of [`Store::roll`] and [`Store::set`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RollOptions {
    force_timing: bool,
    ignore_policy: bool,
}

impl RollOptions {
    /// Skips the timing checks (effective date in the past, validity at the effective date,
    /// lead times), for an admin who knows better. Never skips the policy.
    pub fn force(self) -> Self {
        Self { force_timing: true, ..self }
    }

    /// Skips the type's policy (key size, SIP domain, usage). Asked for separately from
    /// [`RollOptions::force`] on purpose.
    pub fn ignore_policy(self) -> Self {
        Self { ignore_policy: true, ..self }
    }
}

/// A slot as `Get-CsCertificate` shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotView {
    /// The type.
    pub cert_type: CertType,
    /// The scope the slot belongs to (after falling back from pool to site to global).
    pub scope: Scope,
    /// The current certificate.
    pub current: Option<CertView>,
    /// The previous certificate.
    pub previous: Option<CertView>,
    /// The pending roll's certificate; its `effective_at` is the roll's effective date.
    pub pending: Option<CertView>,
}

/// One certificate of a [`SlotView`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertView {
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The subject (RFC 4514).
    pub subject: String,
    /// The issuer (RFC 4514).
    pub issuer: String,
    /// `notBefore`.
    pub not_before: OffsetDateTime,
    /// `notAfter`.
    pub not_after: OffsetDateTime,
    /// When it became (or becomes) current.
    pub effective_at: OffsetDateTime,
}

/// One change of a [`Store::timeline`] dry run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimelineEntry {
    /// When it happens.
    pub at: OffsetDateTime,
    /// What happens.
    pub event: Event,
    /// The slot after it.
    pub slot: Slot,
}

/// Index of a slot in `Store::slots`.
pub(crate) type SlotId = u32;

/// What a schedule entry triggers. The order is the order of application at one instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub(crate) enum Trigger {
    PreviousExpires,
    RollDue,
    LeadWarning,
    CurrentExpires,
}

#[derive(Clone, Debug)]
pub(crate) struct SlotEntry {
    pub cert_type: CertType,
    pub scope: Scope,
    pub slot: Slot,
}

/// The front-end topology: sites, pools in sites, servers in pools.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Topology {
    pub sites: BTreeSet<Box<str>>,
    pub pools: BTreeMap<Box<str>, Box<str>>,
    pub servers: BTreeMap<Box<str>, Box<str>>,
}

/// Certificates, slots, schedule and topology. See the module documentation.
#[derive(Clone, Debug, Default)]
pub struct Store {
    pub(crate) revision: u64,
    pub(crate) clock: Option<OffsetDateTime>,
    pub(crate) sip_domain: Option<SubjectRule>,
    pub(crate) configs: BTreeMap<CertType, TypeConfig>,
    pub(crate) inventory: DigestMap<StoredCertificate>,
    pub(crate) ids: HashMap<(CertType, Scope), SlotId>,
    pub(crate) slots: Vec<SlotEntry>,
    pub(crate) schedule: Schedule,
    pub(crate) blocked: BTreeMap<SlotId, Vec<String>>,
    pub(crate) topology: Topology,
    pub(crate) holdings: BTreeMap<Box<str>, BTreeSet<Thumbprint>>,
}

/// The schedule: every time-triggered change, ordered by instant, then trigger, then slot.
///
/// Each entry is packed into one `u128` (seconds since 1970 offset to be non-negative, then
/// nanoseconds, trigger and slot id), which keeps a million-entry tree small and its comparisons
/// single integer compares.
#[derive(Clone, Debug, Default)]
pub(crate) struct Schedule(BTreeSet<u128>);

/// Seconds added to Unix time so that every representable instant (years -9999 to 9999) is
/// non-negative in 41 bits.
const EPOCH_OFFSET: i64 = 1 << 40;

impl Schedule {
    fn key(t: OffsetDateTime, trigger: Trigger, id: SlotId) -> u128 {
        let secs = (t.unix_timestamp() + EPOCH_OFFSET) as u128;
        (secs << 64) | (u128::from(t.nanosecond()) << 34) | ((trigger as u128) << 32) | u128::from(id)
    }

    fn unkey(key: u128) -> Option<(OffsetDateTime, Trigger, SlotId)> {
        let secs = i64::try_from(key >> 64).ok()? - EPOCH_OFFSET;
        let nanos = ((key >> 34) & 0x3FFF_FFFF) as u32;
        let trigger = match (key >> 32) & 0b11 {
            0 => Trigger::PreviousExpires,
            1 => Trigger::RollDue,
            2 => Trigger::LeadWarning,
            _ => Trigger::CurrentExpires,
        };
        let t = OffsetDateTime::from_unix_timestamp(secs).ok()?.replace_nanosecond(nanos).ok()?;
        Some((t, trigger, (key & 0xFFFF_FFFF) as SlotId))
    }

    pub(crate) fn insert(&mut self, t: OffsetDateTime, trigger: Trigger, id: SlotId) {
        self.0.insert(Self::key(t, trigger, id));
    }

    pub(crate) fn remove(&mut self, t: OffsetDateTime, trigger: Trigger, id: SlotId) {
        self.0.remove(&Self::key(t, trigger, id));
    }

    pub(crate) fn first(&self) -> Option<(OffsetDateTime, Trigger, SlotId)> {
        self.0.first().and_then(|k| Self::unkey(*k))
    }

    fn pop_first(&mut self) {
        self.0.pop_first();
    }
}

/// The schedule entries one slot implies, by position: previous expiry, due roll, lead-time
/// warning, expiry.
pub(crate) type Triggers = [Option<(OffsetDateTime, Trigger)>; 4];

/// The types of a multi-type call, each once, in the order given.
fn distinct(cert_types: &[CertType]) -> Vec<CertType> {
    let mut out: Vec<CertType> = Vec::with_capacity(cert_types.len());
    for t in cert_types {
        if !out.contains(t) {
            out.push(t.clone());
        }
    }
    out
}

/// One nanosecond: a certificate is valid through its `notAfter`, so it is past it one
/// nanosecond later.
const TICK: Duration = Duration::nanoseconds(1);

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
    /// move with the lead time).
    pub fn configure_type(&mut self, cert_type: CertType, config: TypeConfig) -> Outcome {
        let affected: Vec<SlotId> = (0..self.slots.len())
            .filter_map(|i| SlotId::try_from(i).ok())
            .filter(|&id| self.entry(id).is_some_and(|e| e.cert_type == cert_type))
            .collect();
        let old: Vec<_> = affected.iter().map(|&id| (id, self.triggers(id))).collect();
        self.configs.insert(cert_type, config);
        for (id, old) in old {
            self.reschedule(id, &old);
        }
        self.bump()
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

    // ----- inventory -------------------------------------------------------------------------

    /// Adds a certificate (and its key) to the inventory; a certificate already there gains the
    /// key if it had none. Returns its thumbprint.
    pub fn add_certificate(&mut self, certificate: Certificate, key: Option<PrivateKey>) -> Thumbprint {
        let thumbprint = certificate.thumbprint();
        match self.inventory.get_mut(&thumbprint) {
            Some(stored) => {
                if stored.key.is_none() {
                    stored.key = key;
                }
            }
            None => {
                self.inventory.insert(thumbprint, StoredCertificate { certificate, key });
            }
        }
        self.revision += 1;
        thumbprint
    }

    /// Adds an imported PFX: its leaf with the private key, and its chain. Returns the leaf's
    /// thumbprint (`None` for a PFX without one).
    pub fn add_pfx(&mut self, pfx: Pfx) -> Option<Thumbprint> {
        let (leaf, key, chain) = pfx.into_parts();
        for cert in chain {
            self.add_certificate(cert, None);
        }
        leaf.map(|leaf| self.add_certificate(leaf, key))
    }

    /// A certificate of the inventory.
    pub fn certificate(&self, thumbprint: &Thumbprint) -> Option<&StoredCertificate> {
        self.inventory.get(thumbprint)
    }

    /// Removes a certificate from the inventory.
    ///
    /// # Errors
    /// [`SlotError::UnknownCertificate`], or [`SlotError::StillAssigned`] while a slot refers to it.
    pub fn remove_certificate(&mut self, thumbprint: &Thumbprint) -> Result<StoredCertificate, SlotError> {
        if let Some(e) = self.slots.iter().find(|e| e.slot.references(thumbprint)) {
            return Err(SlotError::StillAssigned {
                thumbprint: *thumbprint,
                cert_type: e.cert_type.clone(),
                scope: e.scope.clone(),
            });
        }
        let stored = self
            .inventory
            .remove(thumbprint)
            .ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })?;
        self.revision += 1;
        Ok(stored)
    }

    fn stored(&self, thumbprint: &Thumbprint) -> Result<&StoredCertificate, SlotError> {
        self.inventory.get(thumbprint).ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })
    }

    // ----- slots and schedule ----------------------------------------------------------------

    pub(crate) fn entry(&self, id: SlotId) -> Option<&SlotEntry> {
        self.slots.get(id as usize)
    }

    fn slot_id(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        self.ids.get(&(cert_type.clone(), scope.clone())).copied()
    }

    fn slot_id_or_new(&mut self, cert_type: &CertType, scope: &Scope) -> SlotId {
        if let Some(id) = self.slot_id(cert_type, scope) {
            return id;
        }
        let id = SlotId::try_from(self.slots.len()).unwrap_or(SlotId::MAX);
        self.slots.push(SlotEntry {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            slot: Slot::default(),
        });
        self.ids.insert((cert_type.clone(), scope.clone()), id);
        id
    }

    fn not_after(&self, thumbprint: &Thumbprint) -> Option<OffsetDateTime> {
        self.inventory.get(thumbprint).map(|s| s.certificate.not_after())
    }

    /// The lead time of a type, without building its policy (the hot path of `advance`).
    pub(crate) fn lead_time(&self, cert_type: &CertType) -> Duration {
        match self.configs.get(cert_type) {
            Some(config) => config.lead_time,
            None => cert_type.default_lead_time(),
        }
    }

    /// The schedule entries a slot's state implies.
    pub(crate) fn triggers(&self, id: SlotId) -> Triggers {
        let mut out: Triggers = [None; 4];
        let Some(entry) = self.entry(id) else { return out };
        if let Some(previous) = entry.slot.previous.and_then(|p| self.not_after(&p.thumbprint)) {
            // `checked_*`: a certificate valid to the end of year 9999 never expires here.
            out[0] = previous.checked_add(TICK).map(|t| (t, Trigger::PreviousExpires));
        }
        if let Some(pending) = entry.slot.pending {
            if !self.blocked.contains_key(&id) {
                out[1] = Some((pending.effective_at, Trigger::RollDue));
            }
        }
        if let Some(not_after) = entry.slot.current.and_then(|c| self.not_after(&c.thumbprint)) {
            let lead = self.lead_time(&entry.cert_type);
            // No lead-time warning while a roll is pending; cancelling it brings the warning back.
            if lead.is_positive() && !entry.slot.warned.lead && entry.slot.pending.is_none() {
                out[2] = not_after.checked_sub(lead).map(|t| (t, Trigger::LeadWarning));
            }
            if !entry.slot.warned.expired {
                out[3] = not_after.checked_add(TICK).map(|t| (t, Trigger::CurrentExpires));
            }
        }
        out
    }

    /// Brings a slot's schedule entries from `old` (computed before the change) to its current
    /// ones, touching only the entries that changed.
    fn reschedule(&mut self, id: SlotId, old: &Triggers) {
        let new = self.triggers(id);
        for (before, after) in old.iter().zip(new.iter()) {
            if before != after {
                if let Some((t, trigger)) = before {
                    self.schedule.remove(*t, *trigger, id);
                }
                if let Some((t, trigger)) = after {
                    self.schedule.insert(*t, *trigger, id);
                }
            }
        }
    }

    /// Changes one slot, keeping its schedule in step.
    fn update(&mut self, id: SlotId, change: impl FnOnce(&mut Slot)) {
        let old = self.triggers(id);
        if let Some(entry) = self.slots.get_mut(id as usize) {
            change(&mut entry.slot);
        }
        self.reschedule(id, &old);
    }

    /// The next instant at which [`Store::advance`] has something to do (O(log n)).
    pub fn next_due(&self) -> Option<OffsetDateTime> {
        self.schedule.first().map(|(t, _, _)| t)
    }

    /// The number of slots ever created.
    pub fn slot_count(&self) -> usize {
        self.slots.len()
    }

    // ----- checks ----------------------------------------------------------------------------

    fn check_type(
        &self,
        cert_type: &CertType,
        thumbprint: &Thumbprint,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<(), SlotError> {
        let stored = self.stored(thumbprint)?;
        let config = self.type_config(cert_type);
        if config.require_private_key && stored.key.is_none() {
            return Err(SlotError::NoPrivateKey { cert_type: cert_type.clone(), thumbprint: *thumbprint });
        }
        if !options.ignore_policy {
            let report = config.policy.check(&stored.certificate, at);
            if !report.violations.is_empty() {
                return Err(SlotError::PolicyViolations {
                    cert_type: cert_type.clone(),
                    thumbprint: *thumbprint,
                    violations: report.violations,
                });
            }
        }
        Ok(())
    }

    fn check_valid_at(
        &self,
        thumbprint: &Thumbprint,
        effective_at: OffsetDateTime,
        lead: Duration,
    ) -> Result<(), SlotError> {
        let cert = &self.stored(thumbprint)?.certificate;
        let (not_before, not_after) = (cert.not_before(), cert.not_after());
        if effective_at < not_before || effective_at > not_after {
            return Err(SlotError::NotValidAtEffective {
                thumbprint: *thumbprint,
                effective_at,
                not_before,
                not_after,
            });
        }
        if lead.is_positive() && not_after - effective_at < lead {
            return Err(SlotError::ExpiresWithinLeadTime {
                thumbprint: *thumbprint,
                effective_at,
                not_after,
                lead_time: lead,
            });
        }
        Ok(())
    }

    fn check_not_current(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        thumbprint: &Thumbprint,
    ) -> Result<(), SlotError> {
        let current =
            self.slot_id(cert_type, scope).and_then(|id| self.entry(id)).and_then(|e| e.slot.current);
        if current.is_some_and(|c| c.thumbprint == *thumbprint) {
            return Err(SlotError::AlreadyCurrent {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
            });
        }
        Ok(())
    }

    fn check_scope(&self, scope: &Scope) -> Result<(), SlotError> {
        match scope {
            Scope::Global => Ok(()),
            Scope::Site(s) if self.topology.sites.contains(s) => Ok(()),
            Scope::Pool(p) if self.topology.pools.contains_key(p) => Ok(()),
            Scope::Site(s) => Err(SlotError::UnknownTopology { kind: "site", name: s.to_string() }),
            Scope::Pool(p) => Err(SlotError::UnknownTopology { kind: "pool", name: p.to_string() }),
        }
    }

    // ----- operations ------------------------------------------------------------------------

    /// Makes a certificate current at once for every type of `cert_types` (like
    /// `Set-CsCertificate -Type Default,WebServicesInternal`): all or nothing. The old current
    /// becomes previous; a pending roll is cancelled and reported.
    ///
    /// # Errors
    /// [`SlotError`]: an unknown certificate or scope, a certificate not valid at `at`, without
    /// the private key a type needs, breaking a type's policy (unless
    /// [`RollOptions::ignore_policy`]), already current, or `at` earlier than an instant the store
    /// has seen.
    pub fn set(
        &mut self,
        cert_types: &[CertType],
        scope: &Scope,
        thumbprint: &Thumbprint,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        self.check_scope(scope)?;
        let cert_types = &distinct(cert_types);
        if cert_types.is_empty() {
            return Err(SlotError::NoType);
        }
        if !options.force_timing {
            self.check_valid_at(thumbprint, at, Duration::ZERO)?;
        }
        for t in cert_types {
            self.check_type(t, thumbprint, at, options)?;
            self.check_not_current(t, scope, thumbprint)?;
        }
        let mut events = Vec::new();
        for cert_type in cert_types {
            let id = self.slot_id_or_new(cert_type, scope);
            let before = self.entry(id).map(|e| e.slot).unwrap_or_default();
            if let Some(p) = before.pending {
                events.push(Event::RollCancelled {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: p.thumbprint,
                    effective_at: p.effective_at,
                    reason: CancelReason::Set,
                });
            }
            if let Some(current) = before.current {
                if let Some(previous) = before.previous {
                    events.push(Event::PreviousDropped {
                        cert_type: cert_type.clone(),
                        scope: scope.clone(),
                        thumbprint: previous.thumbprint,
                        reason: DropReason::Replaced,
                    });
                }
                events.push(Event::Displaced {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: current.thumbprint,
                });
            } else if before.previous.is_some_and(|p| p.thumbprint == *thumbprint) {
                events.push(Event::PreviousDropped {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: *thumbprint,
                    reason: DropReason::BecameCurrent,
                });
            }
            self.blocked.remove(&id);
            self.update(id, |slot| {
                if let Some(current) = slot.current.take() {
                    slot.previous = Some(current);
                } else if slot.previous.is_some_and(|p| p.thumbprint == *thumbprint) {
                    slot.previous = None;
                }
                slot.pending = None;
                slot.current = Some(Assignment { thumbprint: *thumbprint, since: at });
                slot.warned = Warned::default();
            });
            events.push(Event::Set {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
                at,
            });
        }
        Ok(self.finish(at, events))
    }

    /// Makes the current certificate of `source` (type and scope) current for `cert_types` too:
    /// `$x = (Get-CsCertificate -Type Default).Thumbprint; Set-CsCertificate -Type OAuthTokenIssuer -Thumbprint $x`.
    ///
    /// # Errors
    /// [`SlotError::NoCurrent`] when the source has no current certificate; otherwise as
    /// [`Store::set`].
    pub fn set_from(
        &mut self,
        cert_types: &[CertType],
        scope: &Scope,
        source: (&CertType, &Scope),
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<Outcome, SlotError> {
        let thumbprint = self
            .resolve(source.0, source.1)
            .and_then(|(_, slot)| slot.current)
            .ok_or_else(|| SlotError::NoCurrent { cert_type: source.0.clone(), scope: source.1.clone() })?
            .thumbprint;
        self.set(cert_types, scope, &thumbprint, at, options)
    }

    /// Schedules `thumbprint` to become current at `effective_at` for every type of
    /// `cert_types`, all or nothing (`Set-CsCertificate -Roll -EffectiveDate`). A roll already
    /// pending is replaced and reported.
    ///
    /// Refused when `effective_at` is before `at`; when the certificate is not valid at
    /// `effective_at` or expires within the lead time after it; when `effective_at` is later than
    /// the current certificate's `notAfter` minus the lead time; when the certificate is already
    /// current; when it breaks the type's policy at `effective_at`. With several types the
    /// largest lead time applies. [`RollOptions::force`] skips the timing checks only.
    ///
    /// # Errors
    /// The [`SlotError`] of the first check that failed.
    pub fn roll(
        &mut self,
        cert_types: &[CertType],
        scope: &Scope,
        thumbprint: &Thumbprint,
        effective_at: OffsetDateTime,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        self.check_scope(scope)?;
        let cert_types = &distinct(cert_types);
        if cert_types.is_empty() {
            return Err(SlotError::NoType);
        }
        self.stored(thumbprint)?;
        let lead = cert_types.iter().map(|t| self.type_config(t).lead_time).max().unwrap_or(Duration::ZERO);
        if !options.force_timing {
            if effective_at < at {
                return Err(SlotError::EffectiveInPast { effective_at, at });
            }
            self.check_valid_at(thumbprint, effective_at, lead)?;
            for t in cert_types {
                let current =
                    self.slot_id(t, scope).and_then(|id| self.entry(id)).and_then(|e| e.slot.current);
                if let Some(current) = current {
                    if let Some(not_after) = self.not_after(&current.thumbprint) {
                        let latest = not_after
                            .checked_sub(lead)
                            .unwrap_or(OffsetDateTime::new_utc(time::Date::MIN, time::Time::MIDNIGHT));
                        if effective_at > latest {
                            return Err(SlotError::CurrentExpiresFirst {
                                current: current.thumbprint,
                                not_after,
                                latest,
                                effective_at,
                            });
                        }
                    }
                }
            }
        }
        for t in cert_types {
            self.check_not_current(t, scope, thumbprint)?;
            self.check_type(t, thumbprint, effective_at, options)?;
        }
        let mut events = Vec::new();
        for cert_type in cert_types {
            let id = self.slot_id_or_new(cert_type, scope);
            if let Some(p) = self.entry(id).and_then(|e| e.slot.pending) {
                events.push(Event::RollCancelled {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: p.thumbprint,
                    effective_at: p.effective_at,
                    reason: CancelReason::Replaced,
                });
            }
            self.blocked.remove(&id);
            self.update(id, |slot| {
                slot.pending = Some(PendingRoll { thumbprint: *thumbprint, effective_at })
            });
            events.push(Event::RollScheduled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
                effective_at,
            });
        }
        Ok(self.finish(at, events))
    }

    /// Cancels the pending roll of a slot.
    ///
    /// # Errors
    /// [`SlotError::NoPendingRoll`], or an `at` earlier than one the store has seen.
    pub fn cancel_roll(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let no_pending = || SlotError::NoPendingRoll { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slot_id(cert_type, scope).ok_or_else(no_pending)?;
        let pending = self.entry(id).and_then(|e| e.slot.pending).ok_or_else(no_pending)?;
        self.blocked.remove(&id);
        self.update(id, |slot| slot.pending = None);
        let event = Event::RollCancelled {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: pending.thumbprint,
            effective_at: pending.effective_at,
            reason: CancelReason::Requested,
        };
        Ok(self.finish(at, vec![event]))
    }

    /// Removes the current certificate of a slot (`Remove-CsCertificate`). The previous
    /// certificate and a pending roll stay.
    ///
    /// # Errors
    /// [`SlotError::NoCurrent`], or an `at` earlier than one the store has seen.
    pub fn remove(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let none = || SlotError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slot_id(cert_type, scope).ok_or_else(none)?;
        let current = self.entry(id).and_then(|e| e.slot.current).ok_or_else(none)?;
        self.update(id, |slot| {
            slot.current = None;
            slot.warned = Warned::default();
        });
        let event = Event::CurrentRemoved {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: current.thumbprint,
        };
        Ok(self.finish(at, vec![event]))
    }

    /// Removes the previous certificate of a slot (`Remove-CsCertificate -Previous`).
    ///
    /// # Errors
    /// [`SlotError::NoPrevious`], or an `at` earlier than one the store has seen.
    pub fn remove_previous(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let none = || SlotError::NoPrevious { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slot_id(cert_type, scope).ok_or_else(none)?;
        let previous = self.entry(id).and_then(|e| e.slot.previous).ok_or_else(none)?;
        self.update(id, |slot| slot.previous = None);
        let event = Event::PreviousDropped {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: previous.thumbprint,
            reason: DropReason::Removed,
        };
        Ok(self.finish(at, vec![event]))
    }

    /// Makes the previous certificate current again while it is still valid, and the current
    /// one previous.
    ///
    /// # Errors
    /// [`SlotError::NoPrevious`], [`SlotError::NoCurrent`], [`SlotError::PreviousNotValid`], or
    /// an `at` earlier than one the store has seen.
    pub fn rollback(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let no_previous = || SlotError::NoPrevious { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slot_id(cert_type, scope).ok_or_else(no_previous)?;
        let slot = self.entry(id).map(|e| e.slot).unwrap_or_default();
        let previous = slot.previous.ok_or_else(no_previous)?;
        let current = slot
            .current
            .ok_or_else(|| SlotError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() })?;
        let cert = &self.stored(&previous.thumbprint)?.certificate;
        if !cert.is_valid_at(at) {
            return Err(SlotError::PreviousNotValid {
                thumbprint: previous.thumbprint,
                at,
                not_before: cert.not_before(),
                not_after: cert.not_after(),
            });
        }
        // A roll pending for the certificate rolled back to has nothing left to do.
        let moot = slot.pending.filter(|p| p.thumbprint == previous.thumbprint);
        if moot.is_some() {
            self.blocked.remove(&id);
        }
        self.update(id, |slot| {
            slot.current = Some(Assignment { thumbprint: previous.thumbprint, since: at });
            slot.previous = Some(current);
            slot.warned = Warned::default();
            if moot.is_some() {
                slot.pending = None;
            }
        });
        let mut events = Vec::new();
        if let Some(p) = moot {
            events.push(Event::RollCancelled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: p.thumbprint,
                effective_at: p.effective_at,
                reason: CancelReason::RolledBack,
            });
        }
        events.push(Event::RolledBack {
            cert_type: cert_type.clone(),
            scope: scope.clone(),
            thumbprint: previous.thumbprint,
            displaced: current.thumbprint,
        });
        Ok(self.finish(at, events))
    }

    fn finish(&mut self, at: OffsetDateTime, events: Vec<Event>) -> Outcome {
        self.tick(at);
        self.revision += 1;
        Outcome { events, revision: self.revision }
    }

    /// Applies everything due by `at`: due rolls (pending becomes current, current becomes
    /// previous), previous certificates past their `notAfter` dropped, and the warnings of
    /// current certificates that expired or entered their lead time with no roll pending.
    /// Idempotent for the same `at`; costs O(k log n) for k due changes.
    ///
    /// # Errors
    /// [`SlotError::TimeWentBackwards`] for an `at` earlier than one the store has seen; nothing
    /// changes then.
    pub fn advance(&mut self, at: OffsetDateTime) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let mut events = Vec::new();
        while let Some((t, trigger, id)) = self.schedule.first() {
            if t > at {
                break;
            }
            self.schedule.pop_first();
            self.fire(t, trigger, id, at, &mut events);
        }
        // Blocked rolls are checked again on every advance (the fleet may have caught up).
        let blocked: Vec<SlotId> = self.blocked.keys().copied().collect();
        for id in blocked {
            self.try_promote(id, at, &mut events);
        }
        let moved = self.clock.is_none_or(|c| at > c);
        self.tick(at);
        if moved || !events.is_empty() {
            self.revision += 1;
        }
        Ok(Outcome { events, revision: self.revision })
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
        let Some(slot) = self.entry(id).map(|e| e.slot) else { return };
        // The names are cloned only for the events, and only when one is reported.
        let names = |store: &Self| {
            store
                .entry(id)
                .map_or((CertType::Default, Scope::Global), |e| (e.cert_type.clone(), e.scope.clone()))
        };
        match trigger {
            Trigger::PreviousExpires => {
                if let Some(previous) = slot.previous {
                    self.update(id, |s| s.previous = None);
                    let (cert_type, scope) = names(self);
                    events.push(Event::PreviousDropped {
                        cert_type,
                        scope,
                        thumbprint: previous.thumbprint,
                        reason: DropReason::Expired,
                    });
                }
            }
            Trigger::RollDue => {}
            Trigger::LeadWarning => {
                if let (Some(current), None) = (slot.current, slot.pending) {
                    self.update(id, |s| s.warned.lead = true);
                    let not_after = self.not_after(&current.thumbprint).unwrap_or(t);
                    let (cert_type, scope) = names(self);
                    let lead_time = self.lead_time(&cert_type);
                    events.push(Event::CurrentExpiresSoon {
                        cert_type,
                        scope,
                        thumbprint: current.thumbprint,
                        not_after,
                        lead_time,
                    });
                }
            }
            Trigger::CurrentExpires => {
                if let Some(current) = slot.current {
                    self.update(id, |s| s.warned.expired = true);
                    let not_after = self.not_after(&current.thumbprint).unwrap_or(t);
                    let (cert_type, scope) = names(self);
                    events.push(Event::CurrentExpired {
                        cert_type,
                        scope,
                        thumbprint: current.thumbprint,
                        not_after,
                    });
                }
            }
        }
    }

    /// Promotes a due pending roll unless the type requires staging and servers lack it.
    fn try_promote(&mut self, id: SlotId, at: OffsetDateTime, events: &mut Vec<Event>) {
        let Some(entry) = self.entry(id).cloned() else { return };
        let Some(pending) = entry.slot.pending else {
            self.blocked.remove(&id);
            return;
        };
        if pending.effective_at > at {
            return;
        }
        if self.configs.get(&entry.cert_type).is_some_and(|c| c.require_staged) {
            let missing = self.servers_lacking(&entry.cert_type, &entry.scope, &pending.thumbprint);
            if !missing.is_empty() {
                let old = self.triggers(id);
                let changed = self.blocked.get(&id) != Some(&missing);
                self.blocked.insert(id, missing.clone());
                self.reschedule(id, &old);
                if changed {
                    events.push(Event::RollBlocked {
                        cert_type: entry.cert_type,
                        scope: entry.scope,
                        thumbprint: pending.thumbprint,
                        effective_at: pending.effective_at,
                        servers: missing,
                    });
                }
                return;
            }
        }
        let old = self.triggers(id);
        // A roll that waited for the fleet became current when it was finally applied.
        let since = if self.blocked.remove(&id).is_some() { at } else { pending.effective_at };
        let before = entry.slot;
        if let Some(slot) = self.slots.get_mut(id as usize).map(|e| &mut e.slot) {
            if let Some(current) = slot.current.take() {
                slot.previous = Some(current);
            } else if slot.previous.is_some_and(|p| p.thumbprint == pending.thumbprint) {
                slot.previous = None;
            }
            slot.current = Some(Assignment { thumbprint: pending.thumbprint, since });
            slot.pending = None;
            slot.warned = Warned::default();
        }
        self.reschedule(id, &old);
        if let Some(previous) = before.previous {
            let reason = match before.current {
                Some(_) => Some(DropReason::Replaced),
                None if previous.thumbprint == pending.thumbprint => Some(DropReason::BecameCurrent),
                None => None,
            };
            if let Some(reason) = reason {
                events.push(Event::PreviousDropped {
                    cert_type: entry.cert_type.clone(),
                    scope: entry.scope.clone(),
                    thumbprint: previous.thumbprint,
                    reason,
                });
            }
        }
        events.push(Event::Rolled {
            cert_type: entry.cert_type,
            scope: entry.scope,
            thumbprint: pending.thumbprint,
            previous: before.current.map(|c| c.thumbprint),
            effective_at: pending.effective_at,
            applied_at: at,
        });
    }

    // ----- queries ---------------------------------------------------------------------------

    /// The slot that applies to a type at a scope: the scope's own, else (for a pool) its
    /// site's, else the global one. A slot with neither a current nor a pending certificate does
    /// not apply.
    pub fn resolve(&self, cert_type: &CertType, scope: &Scope) -> Option<(Scope, &Slot)> {
        let mut chain = vec![scope.clone()];
        if let Scope::Pool(pool) = scope {
            if let Some(site) = self.topology.pools.get(pool) {
                chain.push(Scope::Site(site.clone()));
            }
        }
        if *scope != Scope::Global {
            chain.push(Scope::Global);
        }
        chain.into_iter().find_map(|s| {
            let id = self.slot_id(cert_type, &s)?;
            let slot = &self.entry(id)?.slot;
            (slot.current.is_some() || slot.pending.is_some()).then_some((s, slot))
        })
    }

    fn view(&self, assignment: Option<(Thumbprint, OffsetDateTime)>) -> Option<CertView> {
        let (thumbprint, effective_at) = assignment?;
        let cert = &self.inventory.get(&thumbprint)?.certificate;
        Some(CertView {
            thumbprint,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
            effective_at,
        })
    }

    /// The `Get-CsCertificate` view of a type at a scope (after falling back).
    pub fn get(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotView> {
        let (scope, slot) = self.resolve(cert_type, scope)?;
        Some(SlotView {
            cert_type: cert_type.clone(),
            scope,
            current: self.view(slot.current.map(|a| (a.thumbprint, a.since))),
            previous: self.view(slot.previous.map(|a| (a.thumbprint, a.since))),
            pending: self.view(slot.pending.map(|p| (p.thumbprint, p.effective_at))),
        })
    }

    /// Every slot with its type and scope, in creation order.
    pub fn slots(&self) -> impl Iterator<Item = (&CertType, &Scope, &Slot)> {
        self.slots.iter().map(|e| (&e.cert_type, &e.scope, &e.slot))
    }

    /// The certificate signers use: the current one, if it is valid at `at`.
    pub fn signing_cert(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Option<&StoredCertificate> {
        let (_, slot) = self.resolve(cert_type, scope)?;
        let stored = self.inventory.get(&slot.current?.thumbprint)?;
        stored.certificate.is_valid_at(at).then_some(stored)
    }

    /// The certificates verifiers accept: the current one, then the previous one while it is
    /// valid when the type accepts it, each only if valid at `at`.
    pub fn verification_certs(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Vec<&Certificate> {
        let Some((_, slot)) = self.resolve(cert_type, scope) else { return Vec::new() };
        let accept_previous = self.type_config(cert_type).accept_previous;
        [slot.current, if accept_previous { slot.previous } else { None }]
            .into_iter()
            .flatten()
            .filter_map(|a| self.inventory.get(&a.thumbprint))
            .map(|s| &s.certificate)
            .filter(|c| c.is_valid_at(at))
            .collect()
    }

    /// A dry run: every change of the slot of a type at a scope (its own, not a fallback's)
    /// between `from` (exclusive) and `to` (inclusive), as `advance` would make it, with the slot
    /// after each. Staging is not simulated. The store does not change.
    pub fn timeline(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Vec<TimelineEntry> {
        let Some(id) = self.slot_id(cert_type, scope) else { return Vec::new() };
        let mut sim = Self {
            configs: self.configs.clone(),
            sip_domain: self.sip_domain.clone(),
            clock: Some(from),
            ..Self::default()
        };
        let Some(entry) = self.entry(id) else { return Vec::new() };
        for thumbprint in [
            entry.slot.current.map(|a| a.thumbprint),
            entry.slot.previous.map(|a| a.thumbprint),
            entry.slot.pending.map(|p| p.thumbprint),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(stored) = self.inventory.get(&thumbprint) {
                sim.inventory.insert(
                    thumbprint,
                    StoredCertificate { certificate: stored.certificate.clone(), key: None },
                );
            }
        }
        sim.slots.push(SlotEntry { cert_type: cert_type.clone(), scope: scope.clone(), slot: entry.slot });
        sim.ids.insert((cert_type.clone(), scope.clone()), 0);
        for (t, trigger) in sim.triggers(0).into_iter().flatten() {
            if t > from {
                sim.schedule.insert(t, trigger, 0);
            }
        }
        let mut out = Vec::new();
        while let Some(t) = sim.next_due().filter(|t| *t <= to) {
            let Ok(outcome) = sim.advance(t) else { break };
            let slot = sim.slots.first().map(|e| e.slot).unwrap_or_default();
            out.extend(outcome.events.into_iter().map(|event| TimelineEntry { at: t, event, slot }));
        }
        out
    }
}
