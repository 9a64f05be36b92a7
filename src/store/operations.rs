//! The operations on slots, as Lync's cmdlets name them: set (`Set-CsCertificate`), roll
//! (`-Roll -EffectiveDate`), cancel a roll, remove (`Remove-CsCertificate`), remove the previous
//! certificate, roll back. Each checks everything first (see `checks`) and changes nothing when
//! it fails.

use time::{Duration, OffsetDateTime};

use crate::pfx::Pfx;
use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Slot, Warned};
use crate::x509::thumbprint::Thumbprint;

/// Options of [`Store::roll`] and [`Store::set`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RollOptions {
    force_timing: bool,
    ignore_policy: bool,
    short_notice: bool,
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

    /// For a late roll, as a renewal past its deadline needs: skips the publish-ahead notice and
    /// the current certificate's last compliant date, and checks instead that the new
    /// certificate stays valid for the type's hold after the effective date (the longer of lead
    /// time and token lifetime, [`TypeConfig::hold`](crate::TypeConfig::hold)).
    pub fn short_notice(self) -> Self {
        Self { short_notice: true, ..self }
    }

    /// Whether the timing checks are skipped ([`RollOptions::force`]).
    pub fn get_force(&self) -> bool {
        self.force_timing
    }

    /// Whether the policy is skipped ([`RollOptions::ignore_policy`]).
    pub fn get_ignore_policy(&self) -> bool {
        self.ignore_policy
    }

    /// Whether a late roll is allowed ([`RollOptions::short_notice`]).
    pub fn get_short_notice(&self) -> bool {
        self.short_notice
    }
}

impl Store {
    /// The checks every multi-type call starts with (after the instant): the scope, at least one type
    /// (each kept once, in the order given) and room for new slots.
    fn check_call(&self, cert_types: &[CertType], scope: &Scope) -> Result<Vec<CertType>, SlotError> {
        self.check_scope(scope)?;
        let mut distinct: Vec<CertType> = Vec::with_capacity(cert_types.len());
        for t in cert_types {
            if !distinct.contains(t) {
                distinct.push(t.clone());
            }
        }
        if distinct.is_empty() {
            return Err(SlotError::NoType);
        }
        self.slots.check_room(&distinct, scope)?;
        Ok(distinct)
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
        self.atomically_at(at, |store| {
            let cert_types = &store.check_call(cert_types, scope)?;
            if !options.get_force() {
                store.check_valid_at(thumbprint, at, Duration::ZERO)?;
            }
            for t in cert_types {
                store.check_type(t, thumbprint, at, options)?;
                store.check_not_current(t, scope, thumbprint)?;
            }
            let mut events = Vec::new();
            for cert_type in cert_types {
                let Some(id) = store.slots.slot_id_or_new(cert_type, scope) else { continue };
                let before = store.slot(id).unwrap_or_default();
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
                store.unblock_and_update(id, |slot| {
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
            Ok(events)
        })
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
    /// Refused when `effective_at` is before `at`, or sooner than the type's publish-ahead time
    /// from `at` (verifiers must learn the certificate first); when the certificate is not valid at
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
        self.atomically_at(at, |store| {
            store.roll_events(cert_types, scope, thumbprint, effective_at, at, options)
        })
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
        self.atomically_at(at, |store| {
            let no_pending =
                || SlotError::NoPendingRoll { cert_type: cert_type.clone(), scope: scope.clone() };
            let id = store.slots.slot_id(cert_type, scope).ok_or_else(no_pending)?;
            let pending = store.slot(id).and_then(|s| s.pending).ok_or_else(no_pending)?;
            store.unblock_and_update(id, |slot| slot.pending = None);
            let event = Event::RollCancelled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: pending.thumbprint,
                effective_at: pending.effective_at,
                reason: CancelReason::Requested,
            };
            Ok(vec![event])
        })
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
        self.atomically_at(at, |store| {
            let none = || SlotError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() };
            let id = store.slots.slot_id(cert_type, scope).ok_or_else(none)?;
            let current = store.slot(id).and_then(|s| s.current).ok_or_else(none)?;
            store.update(id, |slot| {
                slot.current = None;
                slot.warned = Warned::default();
            });
            let event = Event::CurrentRemoved {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: current.thumbprint,
            };
            Ok(vec![event])
        })
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
        self.atomically_at(at, |store| {
            let none = || SlotError::NoPrevious { cert_type: cert_type.clone(), scope: scope.clone() };
            let id = store.slots.slot_id(cert_type, scope).ok_or_else(none)?;
            let previous = store.slot(id).and_then(|s| s.previous).ok_or_else(none)?;
            store.update(id, |slot| slot.previous = None);
            let event = Event::PreviousDropped {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: previous.thumbprint,
                reason: DropReason::Removed,
            };
            Ok(vec![event])
        })
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
        self.atomically_at(at, |store| {
            let no_previous = || SlotError::NoPrevious { cert_type: cert_type.clone(), scope: scope.clone() };
            let id = store.slots.slot_id(cert_type, scope).ok_or_else(no_previous)?;
            let slot = store.slot(id).unwrap_or_default();
            let previous = slot.previous.ok_or_else(no_previous)?;
            let current = slot
                .current
                .ok_or_else(|| SlotError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() })?;
            let cert = &store.stored(&previous.thumbprint)?.certificate;
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
            let change = |slot: &mut Slot| {
                slot.current = Some(Assignment { thumbprint: previous.thumbprint, since: at });
                slot.previous = Some(current);
                slot.warned = Warned::default();
                if moot.is_some() {
                    slot.pending = None;
                }
            };
            match moot {
                Some(_) => store.unblock_and_update(id, change),
                None => store.update(id, change),
            }
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
            Ok(events)
        })
    }

    /// Adds an issued PFX, as [`Store::add_pfx`] does, and schedules its roll, as
    /// [`Store::roll`] does, in one operation: when the roll is refused, the PFX's certificates
    /// and key are not added either. What a renewal does with its issuer's answer.
    ///
    /// # Errors
    /// As [`Store::add_pfx`], then as [`Store::roll`].
    pub fn add_and_roll(
        &mut self,
        pfx: Pfx,
        cert_types: &[CertType],
        scope: &Scope,
        effective_at: OffsetDateTime,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<(Thumbprint, Outcome), SlotError> {
        let ((thumbprint, events), revision) = self.atomically_with_at(at, |store| {
            store.put_and_roll(pfx, cert_types, scope, effective_at, at, options)
        })?;
        Ok((thumbprint, Outcome { events, revision }))
    }

    /// Finishes the slot's renewal in progress ([`Store::begin_renewal`]) with `pfx`, its
    /// certificate on the request's key: as [`Store::add_and_roll`] for the slot, and the request
    /// gone, in one operation. When anything is refused, the request stays as it was.
    pub(crate) fn add_and_roll_renewal(
        &mut self,
        pfx: Pfx,
        cert_type: &CertType,
        scope: &Scope,
        effective_at: OffsetDateTime,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<(Thumbprint, Outcome), SlotError> {
        let ((thumbprint, events), revision) = self.atomically_with_at(at, |store| {
            let (id, request) = store.request_of(cert_type, scope)?;
            store.renewable_slot(cert_type, scope, request.current())?;
            store.slots.set_request(id, None);
            store.put_and_roll(pfx, core::slice::from_ref(cert_type), scope, effective_at, at, options)
        })?;
        Ok((thumbprint, Outcome { events, revision }))
    }

    /// The body of [`Store::add_and_roll`]: the PFX added, then its roll scheduled.
    fn put_and_roll(
        &mut self,
        pfx: Pfx,
        cert_types: &[CertType],
        scope: &Scope,
        effective_at: OffsetDateTime,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<(Thumbprint, Vec<Event>), SlotError> {
        let thumbprint = self.put_pfx(pfx)?;
        let events = self.roll_events(cert_types, scope, &thumbprint, effective_at, at, options)?;
        Ok((thumbprint, events))
    }

    /// The body of [`Store::roll`].
    fn roll_events(
        &mut self,
        cert_types: &[CertType],
        scope: &Scope,
        thumbprint: &Thumbprint,
        effective_at: OffsetDateTime,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<Vec<Event>, SlotError> {
        let cert_types = &self.check_call(cert_types, scope)?;
        self.stored(thumbprint)?;
        let lead = cert_types.iter().map(|t| self.configs.lead_time(t)).max().unwrap_or(Duration::ZERO);
        if options.get_short_notice() && !options.get_force() {
            if effective_at < at {
                return Err(SlotError::EffectiveInPast { effective_at, at });
            }
            let hold = cert_types.iter().map(|t| self.configs.get(t).hold()).max().unwrap_or(Duration::ZERO);
            self.check_valid_at(thumbprint, effective_at, hold)?;
        } else if !options.get_force() {
            if effective_at < at {
                return Err(SlotError::EffectiveInPast { effective_at, at });
            }
            for t in cert_types {
                let publish_ahead = self.configs.rollover(t).get_publish_ahead();
                if effective_at - at < publish_ahead {
                    return Err(SlotError::TooLittleNotice {
                        cert_type: t.clone(),
                        effective_at,
                        at,
                        publish_ahead,
                    });
                }
            }
            self.check_valid_at(thumbprint, effective_at, lead)?;
            for t in cert_types {
                let current =
                    self.slots.slot_id(t, scope).and_then(|id| self.slot(id)).and_then(|s| s.current);
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
            let Some(id) = self.slots.slot_id_or_new(cert_type, scope) else { continue };
            if let Some(p) = self.slot(id).and_then(|s| s.pending) {
                events.push(Event::RollCancelled {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    thumbprint: p.thumbprint,
                    effective_at: p.effective_at,
                    reason: CancelReason::Replaced,
                });
            }
            self.unblock_and_update(id, |slot| {
                slot.pending = Some(PendingRoll { thumbprint: *thumbprint, effective_at })
            });
            events.push(Event::RollScheduled {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
                effective_at,
            });
        }
        Ok(events)
    }
}
