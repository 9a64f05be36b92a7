//! The front-end topology, as Lync's topology builder defines it: sites, pools (by FQDN) in
//! sites, front-end servers (by FQDN) in pools, and what each server last reported holding.
//!
//! Invariant: every pool's site is a site, every server's pool is a pool, and only servers have
//! holdings. Names are normalised (lowercase) by the caller. Every change is journaled, so that a
//! refused operation rolls back to a savepoint.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::fleet::Holdings;
use crate::store::journal::{Journal, Journaled};

/// How to undo one change.
#[derive(Clone, Debug)]
pub(super) enum Undo {
    SiteAdded(Box<str>),
    SiteRemoved(Box<str>),
    PoolAdded(Box<str>),
    PoolRemoved(Box<str>, Box<str>),
    ServerAdded(Box<str>),
    ServerRemoved(Box<str>, Box<str>, Option<Holdings>),
    Reported(Box<str>, Option<Holdings>),
}

/// Sites, pools in sites, servers in pools, and the servers' reports. See the module
/// documentation.
#[derive(Clone, Debug, Default)]
pub(super) struct Topology {
    sites: BTreeSet<Box<str>>,
    pools: BTreeMap<Box<str>, Box<str>>,
    servers: BTreeMap<Box<str>, Box<str>>,
    holdings: BTreeMap<Box<str>, Holdings>,
    log: Journal<Undo>,
}

impl Topology {
    pub(super) fn has_site(&self, site: &str) -> bool {
        self.sites.contains(site)
    }

    /// The site of a pool.
    pub(super) fn site_of(&self, pool: &str) -> Option<&str> {
        self.pools.get(pool).map(AsRef::as_ref)
    }

    /// The pool of a server.
    pub(super) fn pool_of(&self, server: &str) -> Option<&str> {
        self.servers.get(server).map(AsRef::as_ref)
    }

    pub(super) fn sites(&self) -> impl Iterator<Item = &str> {
        self.sites.iter().map(AsRef::as_ref)
    }

    /// The pools with their sites, in name order.
    pub(super) fn pools(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pools.iter().map(|(p, s)| (p.as_ref(), s.as_ref()))
    }

    /// The servers with their pools, in name order.
    pub(super) fn servers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.servers.iter().map(|(s, p)| (s.as_ref(), p.as_ref()))
    }

    pub(super) fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// What a server last reported.
    pub(super) fn holdings(&self, server: &str) -> Option<&Holdings> {
        self.holdings.get(server)
    }

    /// Every report, by server.
    #[cfg_attr(not(feature = "serde"), expect(dead_code, reason = "read by the saved state only"))]
    pub(super) fn reports(&self) -> impl Iterator<Item = (&str, &Holdings)> {
        self.holdings.iter().map(|(s, h)| (s.as_ref(), h))
    }

    /// Adds a site (nothing when it is there).
    pub(super) fn add_site(&mut self, site: Box<str>) {
        if self.sites.insert(site.clone()) {
            self.log.record(Undo::SiteAdded(site));
        }
    }

    /// Adds a pool to a site that exists (nothing when it is there); the caller checked that
    /// it is in no other site.
    pub(super) fn add_pool(&mut self, pool: Box<str>, site: Box<str>) {
        if self.sites.contains(&site) && !self.pools.contains_key(&pool) {
            self.pools.insert(pool.clone(), site);
            self.log.record(Undo::PoolAdded(pool));
        }
    }

    /// Adds a server to a pool that exists (nothing when it is there); the caller checked that
    /// it is in no other pool.
    pub(super) fn add_server(&mut self, server: Box<str>, pool: Box<str>) {
        if self.pools.contains_key(&pool) && !self.servers.contains_key(&server) {
            self.servers.insert(server.clone(), pool);
            self.log.record(Undo::ServerAdded(server));
        }
    }

    /// Removes a server and its report. False when there is no such server.
    pub(super) fn remove_server(&mut self, server: &str) -> bool {
        let Some((name, pool)) = self.servers.remove_entry(server) else { return false };
        let report = self.holdings.remove(server);
        self.log.record(Undo::ServerRemoved(name, pool, report));
        true
    }

    /// Removes a pool without servers. False when there is no such pool or it has servers.
    pub(super) fn remove_pool(&mut self, pool: &str) -> bool {
        if self.servers.values().any(|p| **p == *pool) {
            return false;
        }
        let Some((name, site)) = self.pools.remove_entry(pool) else { return false };
        self.log.record(Undo::PoolRemoved(name, site));
        true
    }

    /// Removes a site without pools. False when there is no such site or it has pools.
    pub(super) fn remove_site(&mut self, site: &str) -> bool {
        if self.pools.values().any(|s| **s == *site) {
            return false;
        }
        let Some(name) = self.sites.take(site) else { return false };
        self.log.record(Undo::SiteRemoved(name));
        true
    }

    /// Records a server's report, replacing its last one. False for an unknown server.
    pub(super) fn report(&mut self, server: &str, holdings: Holdings) -> bool {
        let Some((name, _)) = self.servers.get_key_value(server) else { return false };
        let name = name.clone();
        if self.holdings.get(server) == Some(&holdings) {
            return true;
        }
        let before = self.holdings.insert(name.clone(), holdings);
        self.log.record(Undo::Reported(name, before));
        true
    }
}

impl Journaled for Topology {
    type Undo = Undo;

    fn journal(&self) -> &Journal<Undo> {
        &self.log
    }

    fn journal_mut(&mut self) -> &mut Journal<Undo> {
        &mut self.log
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::SiteAdded(site) => {
                self.sites.remove(&site);
            }
            Undo::SiteRemoved(site) => {
                self.sites.insert(site);
            }
            Undo::PoolAdded(pool) => {
                self.pools.remove(&pool);
            }
            Undo::PoolRemoved(pool, site) => {
                self.pools.insert(pool, site);
            }
            Undo::ServerAdded(server) => {
                self.servers.remove(&server);
            }
            Undo::ServerRemoved(server, pool, report) => {
                if let Some(report) = report {
                    self.holdings.insert(server.clone(), report);
                }
                self.servers.insert(server, pool);
            }
            Undo::Reported(server, before) => {
                match before {
                    Some(h) => self.holdings.insert(server, h),
                    None => self.holdings.remove(&server),
                };
            }
        }
    }
}
