//! Dry runs: what [`Store::advance`] would do to one slot, or to every slot of the store, over a
//! span of time, without changing the store.

use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::store::names::SlotId;
use crate::store::schedule::Trigger;
use crate::store::slot::{Event, Slot};

/// One change of a dry run ([`Store::timeline`], [`Store::timeline_all`]).
///
/// JSON (feature `serde`, written only): the instant, the [`Event`] (tagged by `event`) and
/// the [`Slot`] after it:
///
/// ```text
/// {"at": "2027-07-01T00:00:00Z",
///  "event": {"event": "rolled", "cert_type": "OAuthTokenIssuer", "scope": "global", ...},
///  "slot": {"current": {"thumbprint": "4DDB...", "since": "2027-07-01T00:00:00Z"},
///           "previous": {"thumbprint": "3BF7...", "since": "2026-11-25T09:00:00Z"}, "pending": null}}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TimelineEntry {
    /// When it happens.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub at: OffsetDateTime,
    /// What happens (the event names the type and scope of its slot).
    pub event: Event,
    /// The event's slot after it.
    pub slot: Slot,
}

impl Store {
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
        match self.slots.slot_id(cert_type, scope) {
            Some(id) => self.simulate([id], from, to),
            None => Vec::new(),
        }
    }

    /// A dry run of the whole store: every change of every slot between `from` (exclusive) and
    /// `to` (inclusive), in the order `advance` would make them (by instant; at one instant,
    /// expiring previous certificates, then due rolls, then warnings), each with its slot after
    /// it. Staging is not simulated. The store does not change.
    ///
    /// ```
    /// use certslot::{CertType, Event, RollOptions, Scope, Store};
    /// use certslot::{ImportOptions, Password, Pfx};
    /// use time::macros::datetime;
    ///
    /// let password = Password::new("P@ssw0rd");
    /// let pfx = |bytes: &[u8]| Pfx::import(bytes, &password, ImportOptions::default());
    /// let mut store = Store::for_sip_domain("contoso.com")?;
    /// let current = store.add_pfx(pfx(include_bytes!("../../tests/data/pfx/openssl3-default.pfx"))?)?;
    /// let next = store.add_pfx(pfx(include_bytes!("../../tests/data/pfx/openssl3-rsa2048-next.pfx"))?)?;
    /// let at = datetime!(2026-11-25 9:00 UTC);
    /// let (oauth, default) = ([CertType::OAuthTokenIssuer], [CertType::Default]);
    /// store.set(&oauth, &Scope::Global, &current, at, RollOptions::default())?;
    /// store.set(&default, &Scope::Global, &current, at, RollOptions::default())?;
    /// store.roll(&oauth, &Scope::Global, &next, datetime!(2027-07-01 0:00 UTC), at, RollOptions::default())?;
    ///
    /// // Both samples expire at the end of 2035.
    /// let plan = store.timeline_all(at, datetime!(2036-01-02 0:00 UTC));
    /// let expired = datetime!(2036-01-01 0:00:00.000_000_001 UTC);
    /// let steps: Vec<_> = plan.iter().map(|e| (e.at, &e.event)).collect();
    /// assert!(matches!(steps.as_slice(), [
    ///     (t0, Event::Rolled { thumbprint: rolled, .. }),
    ///     (t1, Event::CurrentExpiresSoon { cert_type: CertType::OAuthTokenIssuer, .. }),
    ///     (t2, Event::PreviousDropped { thumbprint: dropped, .. }),
    ///     (t3, Event::CurrentExpired { cert_type: CertType::OAuthTokenIssuer, .. }),
    ///     (t4, Event::CurrentExpired { cert_type: CertType::Default, .. }),
    /// ] if *t0 == datetime!(2027-07-01 0:00 UTC) && *rolled == next
    ///     && *t1 == datetime!(2035-12-31 0:00 UTC)
    ///     && *dropped == current && [t2, t3, t4].iter().all(|t| **t == expired)));
    /// assert_eq!(plan[4].slot.current().map(|a| a.thumbprint), Some(current));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeline_all(&self, from: OffsetDateTime, to: OffsetDateTime) -> Vec<TimelineEntry> {
        let ids = self.slots.entries().map(|(id, _)| id);
        self.simulate(ids, from, to)
    }

    /// Runs `advance` over a copy of some slots (their certificates without keys, the type
    /// settings, no topology) from `from` to `to`.
    fn simulate(
        &self,
        ids: impl IntoIterator<Item = SlotId>,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> Vec<TimelineEntry> {
        let mut sim = Self { configs: self.configs.clone(), clock: Some(from), ..Self::default() };
        for id in ids {
            let Some(slot) = self.slot(id).filter(|s| !s.is_empty()) else { continue };
            let thumbprints = [
                slot.current.map(|a| a.thumbprint),
                slot.previous.map(|a| a.thumbprint),
                slot.pending.map(|p| p.thumbprint),
            ];
            for thumbprint in thumbprints.into_iter().flatten() {
                if let Some(stored) = self.inventory.get(&thumbprint) {
                    sim.inventory.put(stored.certificate.clone(), None, stored.issuer_expiry);
                }
            }
            let (cert_type, scope) = self.names_of(id);
            let Some(sim_id) = sim.slots.slot_id_or_new(&cert_type, &scope) else { continue };
            let Some(entry) = sim.entry_of(sim_id, &slot) else { continue };
            // Only what comes after `from`; the planner's agenda plays no part.
            let mut triggers = sim.triggers_for(sim_id, &entry);
            for trigger in &mut triggers {
                if trigger.is_some_and(|(t, kind)| t <= from || kind == Trigger::Agenda) {
                    *trigger = None;
                }
            }
            sim.slots.write(sim_id, entry, &[None; 5], &triggers);
        }
        let mut out = Vec::new();
        while let Some(t) = sim.next_due().filter(|t| *t <= to) {
            let Ok(outcome) = sim.advance(t) else { break };
            for event in outcome.events {
                let (cert_type, scope) = event.slot_names();
                let slot =
                    sim.slots.slot_id(cert_type, scope).and_then(|id| sim.slot(id)).unwrap_or_default();
                out.push(TimelineEntry { at: t, event, slot });
            }
        }
        out
    }
}
