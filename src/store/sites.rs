//! The store's topology operations, as Lync's topology builder has them: sites, pools (by FQDN)
//! in sites, front-end servers (by FQDN) in pools. Scopes name sites and pools; servers hold
//! certificates. Decommissioning removes servers, then pools, then sites; a scope that still has
//! an assignment, or members, cannot be removed.

use crate::policy::{Scope, normalize};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::slot::Outcome;

impl Store {
    /// Adds a site.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`] for an unusable name.
    pub fn add_site(&mut self, site: &str) -> Result<Outcome, SlotError> {
        let site = normalize("site", site)?;
        self.atomically(|store| {
            store.topology.add_site(site);
            Ok(Vec::new())
        })
    }

    /// Adds a pool (by FQDN) to a site.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown site, or
    /// [`SlotError::AlreadyExists`] for a pool already in another site.
    pub fn add_pool(&mut self, pool: &str, site: &str) -> Result<Outcome, SlotError> {
        let pool = normalize("pool", pool)?;
        let site = normalize("site", site)?;
        if !self.topology.has_site(&site) {
            return Err(SlotError::UnknownTopology { kind: "site", name: site.into() });
        }
        if self.topology.site_of(&pool).is_some_and(|s| s != &*site) {
            return Err(SlotError::AlreadyExists { kind: "pool", name: pool.into() });
        }
        self.atomically(|store| {
            store.topology.add_pool(pool, site);
            Ok(Vec::new())
        })
    }

    /// Adds a front-end server (by FQDN) to a pool.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown pool, or
    /// [`SlotError::AlreadyExists`] for a server already in another pool.
    pub fn add_server(&mut self, server: &str, pool: &str) -> Result<Outcome, SlotError> {
        let server = normalize("server", server)?;
        let pool = normalize("pool", pool)?;
        if self.topology.site_of(&pool).is_none() {
            return Err(SlotError::UnknownTopology { kind: "pool", name: pool.into() });
        }
        if self.topology.pool_of(&server).is_some_and(|p| p != &*pool) {
            return Err(SlotError::AlreadyExists { kind: "server", name: server.into() });
        }
        self.atomically(|store| {
            store.topology.add_server(server, pool);
            Ok(Vec::new())
        })
    }

    /// Removes a front-end server (decommissioning): it leaves the topology with what it
    /// reported holding. A roll waiting for it is checked again at the next
    /// [`Store::advance`].
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], or [`SlotError::UnknownTopology`] for an unknown server.
    pub fn remove_server(&mut self, server: &str) -> Result<Outcome, SlotError> {
        let server = normalize("server", server)?;
        self.atomically(|store| match store.topology.remove_server(&server) {
            true => Ok(Vec::new()),
            false => Err(SlotError::UnknownTopology { kind: "server", name: server.into() }),
        })
    }

    /// Removes a pool, once it has no servers and no slot assigned at its scope.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown pool,
    /// [`SlotError::HasMembers`] while servers are in it, [`SlotError::ScopeInUse`] while a
    /// slot at its scope holds a certificate.
    pub fn remove_pool(&mut self, pool: &str) -> Result<Outcome, SlotError> {
        let pool = normalize("pool", pool)?;
        if self.topology.site_of(&pool).is_none() {
            return Err(SlotError::UnknownTopology { kind: "pool", name: pool.into() });
        }
        let members: Vec<String> =
            self.topology.servers().filter(|(_, p)| **p == *pool).map(|(s, _)| s.to_owned()).collect();
        if !members.is_empty() {
            return Err(SlotError::HasMembers { kind: "pool", name: pool.into(), members });
        }
        self.check_unassigned(&Scope::Pool(pool.as_ref().into()))?;
        self.atomically(|store| {
            store.topology.remove_pool(&pool);
            Ok(Vec::new())
        })
    }

    /// Removes a site, once it has no pools and no slot assigned at its scope.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown site,
    /// [`SlotError::HasMembers`] while pools are in it, [`SlotError::ScopeInUse`] while a slot
    /// at its scope holds a certificate.
    pub fn remove_site(&mut self, site: &str) -> Result<Outcome, SlotError> {
        let site = normalize("site", site)?;
        if !self.topology.has_site(&site) {
            return Err(SlotError::UnknownTopology { kind: "site", name: site.into() });
        }
        let members: Vec<String> =
            self.topology.pools().filter(|(_, s)| **s == *site).map(|(p, _)| p.to_owned()).collect();
        if !members.is_empty() {
            return Err(SlotError::HasMembers { kind: "site", name: site.into(), members });
        }
        self.check_unassigned(&Scope::Site(site.as_ref().into()))?;
        self.atomically(|store| {
            store.topology.remove_site(&site);
            Ok(Vec::new())
        })
    }

    /// Refuses a scope where a slot holds a current, previous or pending certificate.
    fn check_unassigned(&self, scope: &Scope) -> Result<(), SlotError> {
        for id in self.slots.slots_at(scope) {
            if self.slots.entry(id).is_some_and(|e| !e.is_empty()) {
                let (cert_type, scope) = self.names_of(id);
                return Err(SlotError::ScopeInUse { cert_type, scope });
            }
        }
        Ok(())
    }
}
