//! Rollover policy: when a type's next certificate must be obtained, how long verifiers are told
//! about it before it signs, how long the previous one stays trusted, and when an emergency roll
//! happens anyway. Part of [`TypeConfig`](crate::TypeConfig), saved with the state.
//!
//! The instants a policy implies for one certificate are in `milestones`.

use time::Duration;

use crate::policy::cert_type::CertType;
use crate::policy::error::RolloverError;
use crate::policy::window::RenewalWindow;

/// When the next certificate must be obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RenewBefore {
    /// This long before the current certificate's `notAfter` (Exchange, AD FS, the AD CS
    /// templates' renewal period).
    Expiry(Duration),
    /// Once `numerator / denominator` of the current certificate's lifetime has passed
    /// (cert-manager renews at 2/3 of the lifetime by default).
    LifetimeFraction {
        /// The numerator, at least 1 and below the denominator.
        numerator: u16,
        /// The denominator.
        denominator: u16,
    },
}

/// How long the previous certificate stays trusted after a roll.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Retention {
    /// This long after the roll (Duende's `RetentionDuration`), or until it expires if sooner.
    For(Duration),
    /// Until the certificate expires (Lync keeps the previous certificate until then).
    UntilExpiry,
}

/// A type's rollover policy. See the module documentation, and [`RolloverPolicy::lync`],
/// [`RolloverPolicy::exchange`], [`RolloverPolicy::adfs`] and [`RolloverPolicy::duende`] for
/// the presets and their sources.
///
/// Built with by-value setters; checked against the type's lead time when the type is configured
/// ([`RolloverPolicy::check`]), so that no policy that would leave a gap is ever used.
///
/// ```
/// use certslot::{RolloverPolicy, policy::{RenewBefore, Retention}};
/// use certslot::Duration;
///
/// let policy = RolloverPolicy::duende()
///     .publish_ahead(Duration::days(7))
///     .renew_before(RenewBefore::LifetimeFraction { numerator: 2, denominator: 3 });
/// assert_eq!(policy.get_retain_previous(), Retention::For(Duration::days(14)));
/// policy.check(Duration::hours(24))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RolloverPolicy {
    renew_before: RenewBefore,
    publish_ahead: Duration,
    retain_previous: Retention,
    critical_before: Duration,
    token_lifetime: Duration,
    certificate_lifetime: Duration,
    window: Option<RenewalWindow>,
}

impl Default for RolloverPolicy {
    /// [`RolloverPolicy::lync`].
    fn default() -> Self {
        Self::lync()
    }
}

impl RolloverPolicy {
    /// Lync Server 2013 and Skype for Business, certslot's behaviour before rollover policies:
    /// the previous certificate is trusted until it expires; the next one is announced 24 hours
    /// before it signs (the OAuthTokenIssuer lead time, the time Lync's replication is given to
    /// reach every front-end); tokens live up to 8 hours (Lync's A/V authentication tokens); an
    /// emergency roll happens 24 hours before expiry. Lync documents no renewal window: certslot
    /// renews 6 weeks before expiry, the renewal period of the AD CS Web Server template that
    /// Lync's certificate wizard requests from, for 2-year certificates.
    pub const fn lync() -> Self {
        Self {
            renew_before: RenewBefore::Expiry(Duration::weeks(6)),
            publish_ahead: Duration::hours(24),
            retain_previous: Retention::UntilExpiry,
            critical_before: Duration::hours(24),
            token_lifetime: Duration::hours(8),
            certificate_lifetime: Duration::days(730),
            window: None,
        }
    }

    /// Exchange Server's Auth certificate: a self-signed certificate valid 5 years, renewed 60
    /// days before it expires; the next certificate becomes effective 30 days after it is made
    /// (`Set-AuthConfig -NewCertificateEffectiveDate`; Microsoft asks for at least 48 hours so the
    /// certificate reaches every server), shortened when the current one has less time left; the
    /// previous certificate stays until it expires. Exchange has no critical threshold: certslot
    /// rolls anyway 2 days before expiry. Tokens: 8 hours, as Lync's.
    pub const fn exchange() -> Self {
        Self {
            renew_before: RenewBefore::Expiry(Duration::days(60)),
            publish_ahead: Duration::days(30),
            retain_previous: Retention::UntilExpiry,
            critical_before: Duration::days(2),
            token_lifetime: Duration::hours(8),
            certificate_lifetime: Duration::days(5 * 365 + 1),
            window: None,
        }
    }

    /// AD FS `AutoCertificateRollover` with its defaults (`Get-AdfsProperties`):
    /// `CertificateGenerationThreshold` 20 days before expiry, `CertificatePromotionThreshold` 5
    /// days after generation, `CertificateCriticalThreshold` 2 days, `CertificateDuration` 365
    /// days; the old primary stays a secondary (trusted) certificate until it expires. Tokens:
    /// 60 minutes, AD FS's default `TokenLifetime`.
    pub const fn adfs() -> Self {
        Self {
            renew_before: RenewBefore::Expiry(Duration::days(20)),
            publish_ahead: Duration::days(5),
            retain_previous: Retention::UntilExpiry,
            critical_before: Duration::days(2),
            token_lifetime: Duration::minutes(60),
            certificate_lifetime: Duration::days(365),
            window: None,
        }
    }

    /// Duende IdentityServer's automatic key management defaults: `RotationInterval` 90 days,
    /// `PropagationTime` 14 days (announced before it signs), `RetentionDuration` 14 days (kept
    /// after it stops signing). As certificates: valid 104 days (90 days from creation to
    /// retirement, then 14 of retention), renewed 28 days before expiry, so that each signs from
    /// day 14 to day 90. Duende has no critical threshold: certslot rolls anyway a day before
    /// expiry. Tokens: one hour, Duende's default access token lifetime.
    pub const fn duende() -> Self {
        Self {
            renew_before: RenewBefore::Expiry(Duration::days(28)),
            publish_ahead: Duration::days(14),
            retain_previous: Retention::For(Duration::days(14)),
            critical_before: Duration::days(1),
            token_lifetime: Duration::hours(1),
            certificate_lifetime: Duration::days(104),
            window: None,
        }
    }

    /// The default of a type: [`RolloverPolicy::lync`], with a token lifetime of zero for the
    /// types whose verifiers drop the previous certificate at the roll
    /// ([`CertType::default_accept_previous`]).
    pub fn for_type(cert_type: &CertType) -> Self {
        match cert_type.default_accept_previous() {
            true => Self::lync(),
            false => Self::lync().token_lifetime(Duration::ZERO),
        }
    }

    /// The type's default ([`RolloverPolicy::for_type`])
    /// stretched to fit a lead time and previous-certificate rule it was not made for: the
    /// token lifetime is zero where verifiers drop the previous certificate, publish-ahead is at
    /// least the lead time, the critical threshold at least the lead time and the token
    /// lifetime, the renewal window wide enough for both. What states saved before rollover
    /// policies load with.
    pub fn fitted(cert_type: &CertType, lead_time: Duration, accept_previous: bool) -> Self {
        let mut policy = Self::for_type(cert_type);
        if !accept_previous {
            policy.token_lifetime = Duration::ZERO;
        }
        let lead_time = lead_time.max(Duration::ZERO);
        policy.publish_ahead = policy.publish_ahead.max(lead_time);
        let hold = policy.hold(lead_time);
        policy.critical_before = policy.critical_before.max(hold);
        if let RenewBefore::Expiry(before) = policy.renew_before {
            let before = before.max(policy.publish_ahead + hold);
            policy.renew_before = RenewBefore::Expiry(before);
            policy.certificate_lifetime = policy.certificate_lifetime.max(before * 2);
        }
        policy
    }

    /// When the next certificate must be obtained.
    pub const fn renew_before(self, renew_before: RenewBefore) -> Self {
        Self { renew_before, ..self }
    }

    /// How long verifiers are told about the next certificate before it signs. At least the
    /// type's lead time.
    pub const fn publish_ahead(self, publish_ahead: Duration) -> Self {
        Self { publish_ahead, ..self }
    }

    /// How long the previous certificate stays trusted after a roll.
    pub const fn retain_previous(self, retain_previous: Retention) -> Self {
        Self { retain_previous, ..self }
    }

    /// How long before expiry a roll happens even when verifiers cannot have been told in time.
    pub const fn critical_before(self, critical_before: Duration) -> Self {
        Self { critical_before, ..self }
    }

    /// The lifetime of the longest-lived token signed with the type's key.
    pub const fn token_lifetime(self, token_lifetime: Duration) -> Self {
        Self { token_lifetime, ..self }
    }

    /// The validity asked for renewed certificates.
    pub const fn certificate_lifetime(self, certificate_lifetime: Duration) -> Self {
        Self { certificate_lifetime, ..self }
    }

    /// Unattended renewals and rolls only inside this recurring window (`None`: at any time).
    /// The planner renews at the first instant inside a window once renewal is due, and picks
    /// an effective date inside one; a renewal that comes late (past the renewal deadline) and an
    /// emergency roll do not wait for a window. [`RolloverPolicy::check`] refuses a window whose
    /// longest closed span could leave a gap.
    pub const fn renewal_window(self, window: Option<RenewalWindow>) -> Self {
        Self { window, ..self }
    }

    /// The renewal window, if any.
    pub const fn get_renewal_window(&self) -> Option<RenewalWindow> {
        self.window
    }

    /// When the next certificate must be obtained.
    pub const fn get_renew_before(&self) -> RenewBefore {
        self.renew_before
    }

    /// How long verifiers are told about the next certificate before it signs.
    pub const fn get_publish_ahead(&self) -> Duration {
        self.publish_ahead
    }

    /// How long the previous certificate stays trusted after a roll.
    pub const fn get_retain_previous(&self) -> Retention {
        self.retain_previous
    }

    /// How long before expiry an emergency roll happens.
    pub const fn get_critical_before(&self) -> Duration {
        self.critical_before
    }

    /// The longest token lifetime.
    pub const fn get_token_lifetime(&self) -> Duration {
        self.token_lifetime
    }

    /// The validity asked for renewed certificates.
    pub const fn get_certificate_lifetime(&self) -> Duration {
        self.certificate_lifetime
    }

    /// How long the outgoing certificate must stay valid, and trusted, after a roll: the type's
    /// lead time or the token lifetime, whichever is longer.
    pub fn hold(&self, lead_time: Duration) -> Duration {
        lead_time.max(self.token_lifetime)
    }

    /// Checks that the policy can keep its promises for a type with `lead_time` and
    /// certificates of [`RolloverPolicy::get_certificate_lifetime`]: a certificate renewed when
    /// its window opens can be announced `publish_ahead` before it signs and roll in while the
    /// current one is still valid for the lead time and the token lifetime; the previous
    /// certificate is kept at least a token lifetime; the emergency roll comes after the last
    /// compliant one and leaves the tokens their lifetime.
    ///
    /// # Errors
    /// The first [`RolloverError`] found.
    pub fn check(&self, lead_time: Duration) -> Result<(), RolloverError> {
        let fields = [
            ("publish_ahead", self.publish_ahead),
            ("critical_before", self.critical_before),
            ("token_lifetime", self.token_lifetime),
            ("lead_time", lead_time),
        ];
        for (field, value) in fields {
            if value.is_negative() {
                return Err(RolloverError::Negative { field, value });
            }
        }
        if !self.certificate_lifetime.is_positive() {
            return Err(RolloverError::Negative {
                field: "certificate_lifetime",
                value: self.certificate_lifetime,
            });
        }
        if self.publish_ahead < lead_time {
            return Err(RolloverError::PublishAheadBelowLeadTime {
                publish_ahead: self.publish_ahead,
                lead_time,
            });
        }
        let hold = self.hold(lead_time);
        let needed = self.publish_ahead + hold;
        let lifetime = self.certificate_lifetime;
        let renew_window = match self.renew_before {
            RenewBefore::Expiry(before) => {
                if before.is_negative() {
                    return Err(RolloverError::Negative { field: "renew_before", value: before });
                }
                if before >= lifetime {
                    return Err(RolloverError::LifetimeTooShort {
                        certificate_lifetime: lifetime,
                        renew_before: before,
                    });
                }
                before
            }
            RenewBefore::LifetimeFraction { numerator, denominator } => {
                if numerator == 0 || numerator >= denominator {
                    return Err(RolloverError::BadFraction { numerator, denominator });
                }
                lifetime - fraction_of(lifetime, numerator, denominator)
            }
        };
        if renew_window < needed {
            return Err(RolloverError::RenewTooLate { renew_window, needed });
        }
        // With a window, the renewal waits up to its longest closed span for an opening, and the
        // roll as long again for one after its notice.
        if let Some(window) = self.window {
            let longest_closed = window.longest_closed();
            if renew_window < needed + longest_closed * 2 {
                return Err(RolloverError::WindowLeavesGap { longest_closed, renew_window, needed });
            }
        }
        if let Retention::For(retain) = self.retain_previous {
            if retain < self.token_lifetime {
                return Err(RolloverError::RetentionBelowTokenLifetime {
                    retain,
                    token_lifetime: self.token_lifetime,
                });
            }
        }
        if self.critical_before < hold || self.critical_before > needed {
            return Err(RolloverError::CriticalOutOfRange {
                critical_before: self.critical_before,
                min: hold,
                max: needed,
            });
        }
        Ok(())
    }
}

/// `span × numerator / denominator`, rounded down to the nanosecond.
pub(crate) fn fraction_of(span: Duration, numerator: u16, denominator: u16) -> Duration {
    let nanos = span.whole_nanoseconds() * i128::from(numerator) / i128::from(denominator.max(1));
    Duration::nanoseconds(i64::try_from(nanos).unwrap_or(i64::MAX))
}
