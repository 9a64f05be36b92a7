//! The front-end fleet: sites, pools and servers, what each server must hold, and drift.
//!
//! Lync's replication copies the central certificate configuration to every front-end server.
//! certslot computes what each server should hold ([`Store::desired`]), compares it with what the
//! servers report ([`Store::drift`]) and, for types configured with
//! [`crate::TypeConfig::require_staged`], promotes a roll only once every server of the scope holds
//! the pending certificate, which prevents half-rolled pools.

use std::collections::{BTreeMap, BTreeSet};

use time::OffsetDateTime;

use crate::store::SlotError;
use crate::store::Store;
use crate::store::cert_type::CertType;
use crate::store::scope::{Scope, normalize};
use crate::store::slot::Outcome;
use crate::x509::thumbprint::Thumbprint;

/// Why a server must hold a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Role {
    /// The current certificate: the server signs with it.
    Current,
    /// The previous certificate, which verifiers still accept.
    Previous,
    /// A pending roll's certificate, staged ahead of its effective date.
    Pending,
}

/// One certificate a server must hold.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Desired {
    /// The type.
    pub cert_type: CertType,
    /// The scope the assignment comes from (after falling back).
    pub scope: Scope,
    /// The certificate.
    pub thumbprint: Thumbprint,
    /// Why.
    pub role: Role,
}

/// How one server differs from what it should hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerDrift {
    /// The server.
    pub server: String,
    /// False when the server did not report (everything desired is then missing).
    pub reported: bool,
    /// False when the server is not in the topology (everything it holds is then unexpected).
    pub known: bool,
    /// Certificates it should hold and does not.
    pub missing: Vec<Desired>,
    /// Certificates it holds that the store knows but no longer assigns to it (an old previous).
    pub stale: Vec<Thumbprint>,
    /// Certificates it holds that the store does not know.
    pub unexpected: Vec<Thumbprint>,
}

impl ServerDrift {
    /// True when the server holds exactly what it should.
    pub fn is_clean(&self) -> bool {
        self.reported
            && self.known
            && self.missing.is_empty()
            && self.stale.is_empty()
            && self.unexpected.is_empty()
    }
}

impl Store {
    /// Adds a site.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`] for an unusable name.
    pub fn add_site(&mut self, site: &str) -> Result<Outcome, SlotError> {
        let site = normalize("site", site)?;
        self.topology.sites.insert(site);
        Ok(self.bump())
    }

    /// Adds a pool (by FQDN) to a site.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown site, or
    /// [`SlotError::AlreadyExists`] for a pool already in another site.
    pub fn add_pool(&mut self, pool: &str, site: &str) -> Result<Outcome, SlotError> {
        let pool = normalize("pool", pool)?;
        let site = normalize("site", site)?;
        if !self.topology.sites.contains(&site) {
            return Err(SlotError::UnknownTopology { kind: "site", name: site.into() });
        }
        if self.topology.pools.get(&pool).is_some_and(|s| *s != site) {
            return Err(SlotError::AlreadyExists { kind: "pool", name: pool.into() });
        }
        self.topology.pools.insert(pool, site);
        Ok(self.bump())
    }

    /// Adds a front-end server (by FQDN) to a pool.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown pool, or
    /// [`SlotError::AlreadyExists`] for a server already in another pool.
    pub fn add_server(&mut self, server: &str, pool: &str) -> Result<Outcome, SlotError> {
        let server = normalize("server", server)?;
        let pool = normalize("pool", pool)?;
        if !self.topology.pools.contains_key(&pool) {
            return Err(SlotError::UnknownTopology { kind: "pool", name: pool.into() });
        }
        if self.topology.servers.get(&server).is_some_and(|p| *p != pool) {
            return Err(SlotError::AlreadyExists { kind: "server", name: server.into() });
        }
        self.topology.servers.insert(server, pool);
        Ok(self.bump())
    }

    /// The servers, with their pools, in name order.
    pub fn servers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.topology.servers.iter().map(|(s, p)| (s.as_ref(), p.as_ref()))
    }

    /// Records what a server reports holding (the thumbprints in its certificate store). Rolls
    /// of types that require staging look at these.
    ///
    /// # Errors
    /// [`SlotError::UnknownTopology`] for an unknown server, or an `at` earlier than one the store
    /// has seen.
    pub fn record_holdings(
        &mut self,
        server: &str,
        thumbprints: impl IntoIterator<Item = Thumbprint>,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.check_clock(at)?;
        let server = normalize("server", server)?;
        if !self.topology.servers.contains_key(&server) {
            return Err(SlotError::UnknownTopology { kind: "server", name: server.into() });
        }
        self.holdings.insert(server, thumbprints.into_iter().collect());
        self.tick(at);
        Ok(self.bump())
    }

    /// Every certificate type with at least one slot.
    fn assigned_types(&self) -> BTreeSet<CertType> {
        self.slots().map(|(t, _, _)| t.clone()).collect()
    }

    /// What a server must hold at `at`: for each type, the current certificate of the slot that
    /// applies to its pool, the previous one while verifiers accept it and it is valid, and the
    /// pending one, staged ahead of its effective date. Sorted by type, then role.
    ///
    /// # Errors
    /// [`SlotError::UnknownTopology`] for an unknown server.
    pub fn desired(&self, server: &str, at: OffsetDateTime) -> Result<Vec<Desired>, SlotError> {
        let name = normalize("server", server)?;
        let pool = self
            .topology
            .servers
            .get(&name)
            .ok_or_else(|| SlotError::UnknownTopology { kind: "server", name: name.to_string() })?;
        let scope = Scope::Pool(pool.clone());
        let mut out = Vec::new();
        for cert_type in self.assigned_types() {
            let Some((scope, slot)) = self.resolve(&cert_type, &scope) else { continue };
            let mut push = |thumbprint: Thumbprint, role: Role| {
                out.push(Desired { cert_type: cert_type.clone(), scope: scope.clone(), thumbprint, role });
            };
            if let Some(current) = slot.current {
                push(current.thumbprint, Role::Current);
            }
            if let Some(previous) = slot.previous {
                let valid =
                    self.certificate(&previous.thumbprint).is_some_and(|s| s.certificate.is_valid_at(at));
                if valid && self.type_config(&cert_type).accept_previous {
                    push(previous.thumbprint, Role::Previous);
                }
            }
            if let Some(pending) = slot.pending {
                push(pending.thumbprint, Role::Pending);
            }
        }
        out.sort();
        Ok(out)
    }

    /// How each server differs from what it should hold at `at`, given what each reports
    /// holding. Every server of the topology is listed (unreported ones with everything missing),
    /// then reporting servers the topology does not know.
    pub fn drift(
        &self,
        observed: &BTreeMap<String, BTreeSet<Thumbprint>>,
        at: OffsetDateTime,
    ) -> Vec<ServerDrift> {
        let empty = BTreeSet::new();
        let mut out = Vec::new();
        for server in self.topology.servers.keys() {
            let desired = self.desired(server, at).unwrap_or_default();
            let held = observed.get(server.as_ref());
            let holding = held.unwrap_or(&empty);
            let wanted: BTreeSet<Thumbprint> = desired.iter().map(|d| d.thumbprint).collect();
            let missing: Vec<Desired> =
                desired.into_iter().filter(|d| !holding.contains(&d.thumbprint)).collect();
            let (stale, unexpected): (Vec<Thumbprint>, Vec<Thumbprint>) =
                holding.iter().filter(|t| !wanted.contains(t)).partition(|t| self.certificate(t).is_some());
            out.push(ServerDrift {
                server: server.to_string(),
                reported: held.is_some(),
                known: true,
                missing,
                stale,
                unexpected,
            });
        }
        for (server, holding) in observed {
            let known = normalize("server", server).is_ok_and(|n| self.topology.servers.contains_key(&n));
            if !known {
                out.push(ServerDrift {
                    server: server.clone(),
                    reported: true,
                    known: false,
                    missing: Vec::new(),
                    stale: Vec::new(),
                    unexpected: holding.iter().copied().collect(),
                });
            }
        }
        out
    }

    /// The servers whose assignment for `cert_type` comes from the slot at `scope` and whose
    /// recorded holdings lack `thumbprint`.
    pub(crate) fn servers_lacking(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        thumbprint: &Thumbprint,
    ) -> Vec<String> {
        self.topology
            .servers
            .iter()
            .filter(|(_, pool)| {
                self.resolve(cert_type, &Scope::Pool((*pool).clone()))
                    .is_some_and(|(resolved, _)| resolved == *scope)
            })
            .filter(|(server, _)| !self.holdings.get(*server).is_some_and(|h| h.contains(thumbprint)))
            .map(|(server, _)| server.to_string())
            .collect()
    }
}
