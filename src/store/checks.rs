//! The checks every operation makes before it changes anything: the certificate's type policy
//! and private key, its validity at the effective date and lead time, the scope.

use time::{Duration, OffsetDateTime};

use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::operations::RollOptions;
use crate::validate::Rule;
use crate::x509::thumbprint::Thumbprint;

impl Store {
    // ----- checks ----------------------------------------------------------------------------

    pub(super) fn check_type(
        &self,
        cert_type: &CertType,
        thumbprint: &Thumbprint,
        at: OffsetDateTime,
        options: RollOptions,
    ) -> Result<(), SlotError> {
        let stored = self.stored(thumbprint)?;
        let config = self.type_config(cert_type);
        if config.get_require_private_key() && stored.key.is_none() {
            return Err(SlotError::NoPrivateKey { cert_type: cert_type.clone(), thumbprint: *thumbprint });
        }
        if !options.get_ignore_policy() {
            let report = config.get_policy().check(&stored.certificate, at);
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

    pub(super) fn check_valid_at(
        &self,
        thumbprint: &Thumbprint,
        effective_at: OffsetDateTime,
        lead: Duration,
    ) -> Result<(), SlotError> {
        let stored = self.stored(thumbprint)?;
        // The chain's end counts: a certificate whose issuer expires first is not valid for
        // longer than its issuer.
        let (not_before, not_after) = (stored.certificate.not_before(), stored.effective_end());
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

    pub(super) fn check_not_current(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        thumbprint: &Thumbprint,
    ) -> Result<(), SlotError> {
        let current =
            self.slots.slot_id(cert_type, scope).and_then(|id| self.slot(id)).and_then(|s| s.current);
        if current.is_some_and(|c| c.thumbprint == *thumbprint) {
            return Err(SlotError::AlreadyCurrent {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: *thumbprint,
            });
        }
        Ok(())
    }

    pub(super) fn check_scope(&self, scope: &Scope) -> Result<(), SlotError> {
        match scope {
            Scope::Global => Ok(()),
            Scope::Site(s) if self.topology.has_site(s) => Ok(()),
            Scope::Pool(p) if self.topology.site_of(p).is_some() => Ok(()),
            Scope::Site(s) => Err(SlotError::UnknownTopology { kind: "site", name: s.to_string() }),
            Scope::Pool(p) => Err(SlotError::UnknownTopology { kind: "pool", name: p.to_string() }),
        }
    }
}
