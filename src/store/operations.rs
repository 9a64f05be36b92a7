//! The operations on slots, as Lync's cmdlets name them: set (`Set-CsCertificate`), roll
//! (`-Roll -EffectiveDate`), cancel a roll, remove (`Remove-CsCertificate`), remove the previous
//! certificate, roll back. Each checks everything first (see `checks`) and changes nothing when
//! it fails.

use time::{Duration, OffsetDateTime};

use crate::store::Store;
use crate::store::cert_type::CertType;
use crate::store::error::SlotError;
use crate::store::scope::Scope;
use crate::store::slot::{Assignment, CancelReason, DropReason, Event, Outcome, PendingRoll, Warned};
use crate::x509::thumbprint::Thumbprint;

/// Options of [`Store::roll`] and [`Store::set`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct RollOptions {
    pub(crate) force_timing: bool,
    pub(crate) ignore_policy: bool,
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

impl Store {
    /// The checks every multi-type call starts with: the instant, the scope, at least one type
    /// (each kept once, in the order given) and room for new slots.
    fn check_call(
        &self,
        cert_types: &[CertType],
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Vec<CertType>, SlotError> {
        self.check_clock(at)?;
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
        self.check_room(&distinct, scope)?;
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
        let cert_types = &self.check_call(cert_types, scope, at)?;
        if !options.force_timing {
            self.check_valid_at(thumbprint, at, Duration::ZERO)?;
        }
        for t in cert_types {
            self.check_type(t, thumbprint, at, options)?;
            self.check_not_current(t, scope, thumbprint)?;
        }
        let mut events = Vec::new();
        for cert_type in cert_types {
            let Some(id) = self.slot_id_or_new(cert_type, scope) else { continue };
            let before = self.slot(id).unwrap_or_default();
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
        let cert_types = &self.check_call(cert_types, scope, at)?;
        self.stored(thumbprint)?;
        let lead = cert_types.iter().map(|t| self.type_config(t).lead_time).max().unwrap_or(Duration::ZERO);
        if !options.force_timing {
            if effective_at < at {
                return Err(SlotError::EffectiveInPast { effective_at, at });
            }
            for t in cert_types {
                let publish_ahead = self.rollover_policy(t).publish_ahead_span();
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
                let current = self.slot_id(t, scope).and_then(|id| self.slot(id)).and_then(|s| s.current);
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
            let Some(id) = self.slot_id_or_new(cert_type, scope) else { continue };
            if let Some(p) = self.slot(id).and_then(|s| s.pending) {
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
        let pending = self.slot(id).and_then(|s| s.pending).ok_or_else(no_pending)?;
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
        let current = self.slot(id).and_then(|s| s.current).ok_or_else(none)?;
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
        let previous = self.slot(id).and_then(|s| s.previous).ok_or_else(none)?;
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
        let slot = self.slot(id).unwrap_or_default();
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
}
