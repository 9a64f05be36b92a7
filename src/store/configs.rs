//! The types' configurations: what [`Store::configure_type`](crate::Store::configure_type) set,
//! and the SIP domain the default configurations name. A type nobody configured has its default
//! ([`TypeConfig::for_type`]).
//!
//! Invariant: every configuration held passes [`TypeConfig::check`] (the caller checks before
//! [`Configs::set`]). Every change is journaled, so that a refused operation rolls back to a
//! savepoint.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::OnceLock;

use time::Duration;

use crate::policy::{CertType, RolloverPolicy, TypeConfig};
use crate::store::journal::{Journal, Journaled};
use crate::validate::SubjectRule;

/// The configured types and the SIP domain. See the module documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Configs {
    sip_domain: Option<SubjectRule>,
    types: BTreeMap<CertType, TypeConfig>,
    /// The defaults of the built-in types for this SIP domain, made the first time one is asked
    /// for: the planner and publication read a type's configuration for every slot they visit.
    defaults: OnceLock<Vec<(CertType, TypeConfig)>>,
    log: Journal<(CertType, Option<TypeConfig>)>,
}

impl Configs {
    pub(super) fn new(sip_domain: Option<SubjectRule>) -> Self {
        Self { sip_domain, ..Self::default() }
    }

    pub(super) fn sip_domain(&self) -> Option<&SubjectRule> {
        self.sip_domain.as_ref()
    }

    /// The configured types, in type order.
    #[cfg_attr(not(feature = "serde"), expect(dead_code, reason = "read by the saved state only"))]
    pub(super) fn configured(&self) -> impl Iterator<Item = (&CertType, &TypeConfig)> {
        self.types.iter()
    }

    /// The configuration of a type: the one set, else its default.
    pub(super) fn get(&self, cert_type: &CertType) -> Cow<'_, TypeConfig> {
        if let Some(config) = self.types.get(cert_type) {
            return Cow::Borrowed(config);
        }
        let defaults = self.defaults.get_or_init(|| {
            CertType::builtin()
                .map(|t| (t.clone(), TypeConfig::for_type(&t, self.sip_domain.as_ref())))
                .collect()
        });
        match defaults.iter().find(|(t, _)| t == cert_type) {
            Some((_, config)) => Cow::Borrowed(config),
            None => Cow::Owned(TypeConfig::for_type(cert_type, self.sip_domain.as_ref())),
        }
    }

    /// The lead time of a type, without building its default policy (the hot path of `advance`).
    pub(super) fn lead_time(&self, cert_type: &CertType) -> Duration {
        self.types.get(cert_type).map_or_else(|| cert_type.default_lead_time(), TypeConfig::get_lead_time)
    }

    /// The rollover policy of a type, without building its default policy.
    pub(super) fn rollover(&self, cert_type: &CertType) -> RolloverPolicy {
        self.types
            .get(cert_type)
            .map_or_else(|| RolloverPolicy::for_type(cert_type), TypeConfig::get_rollover)
    }

    /// Whether verifiers of a type accept the previous certificate, without building its policy.
    pub(super) fn accepts_previous(&self, cert_type: &CertType) -> bool {
        self.types
            .get(cert_type)
            .map_or_else(|| cert_type.default_accept_previous(), TypeConfig::get_accept_previous)
    }

    /// Whether a type gates its rolls on every server holding the certificate.
    pub(super) fn requires_staged(&self, cert_type: &CertType) -> bool {
        self.types.get(cert_type).is_some_and(TypeConfig::get_require_staged)
    }

    /// The partners a type's rolls wait for.
    pub(super) fn required_partners(
        &self,
        cert_type: &CertType,
    ) -> Option<&std::collections::BTreeSet<String>> {
        self.types.get(cert_type).map(TypeConfig::get_require_fetched_by).filter(|p| !p.is_empty())
    }

    /// Whether a type's rolls wait for `partner`.
    pub(super) fn requires_partner(&self, partner: &str) -> Option<&CertType> {
        self.types.iter().find(|(_, c)| c.get_require_fetched_by().contains(partner)).map(|(t, _)| t)
    }

    /// Sets a type's configuration (checked by the caller). False when it was already so.
    pub(super) fn set(&mut self, cert_type: CertType, config: TypeConfig) -> bool {
        if self.types.get(&cert_type) == Some(&config) {
            return false;
        }
        let before = self.types.insert(cert_type.clone(), config);
        self.log.record((cert_type, before));
        true
    }
}

impl Journaled for Configs {
    type Undo = (CertType, Option<TypeConfig>);

    fn journal(&self) -> &Journal<(CertType, Option<TypeConfig>)> {
        &self.log
    }

    fn journal_mut(&mut self) -> &mut Journal<(CertType, Option<TypeConfig>)> {
        &mut self.log
    }

    fn undo(&mut self, (cert_type, before): (CertType, Option<TypeConfig>)) {
        match before {
            Some(config) => self.types.insert(cert_type, config),
            None => self.types.remove(&cert_type),
        };
    }
}
