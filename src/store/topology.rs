//! The front-end topology, as Lync's topology builder defines it: sites, pools (by FQDN) in
//! sites, front-end servers (by FQDN) in pools, and what each server last reported holding; and
//! the partners that verify the fleet's tokens, with what each last fetched.
//!
//! Invariant: every pool's site is a site, every server's pool is a pool, and only servers have
//! holdings. Names are normalised (lowercase) by the caller. Every change is journaled, so that a
//! refused operation rolls back to a savepoint.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use crate::store::fleet::{Fetch, Holdings};
use crate::store::journal::{Journal, Journaled};

/// A name in lowercase, as the topology keeps names, without copying one that already is.
fn lower(name: &str) -> Cow<'_, str> {
    match name.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(name.to_ascii_lowercase()),
        false => Cow::Borrowed(name),
    }
}

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
    PartnerAdded(Box<str>),
    PartnerRemoved(Box<str>, Option<Fetch>),
    Fetched(Box<str>, Option<Fetch>),
}

/// The front-end topology of a [`Store`](crate::Store): sites, pools (by FQDN) in sites, servers
/// (by FQDN) in pools, and what each server last reported holding. Read through
/// [`Store::topology`](crate::Store::topology); changed with
/// [`Store::add_site`](crate::Store::add_site) and its siblings and
/// [`Store::record_holdings`](crate::Store::record_holdings). Names are kept in lowercase;
/// lookups take any case.
#[derive(Clone, Debug, Default)]
pub struct Topology {
    sites: BTreeSet<Box<str>>,
    pools: BTreeMap<Box<str>, Box<str>>,
    servers: BTreeMap<Box<str>, Box<str>>,
    holdings: BTreeMap<Box<str>, Holdings>,
    partners: BTreeMap<Box<str>, Option<Fetch>>,
    log: Journal<Undo>,
}

impl Topology {
    /// Whether the site exists.
    pub fn has_site(&self, site: &str) -> bool {
        self.sites.contains(lower(site).as_ref())
    }

    /// The site of a pool, if the pool exists.
    pub fn site_of(&self, pool: &str) -> Option<&str> {
        self.pools.get(lower(pool).as_ref()).map(AsRef::as_ref)
    }

    /// The pool of a server, if the server exists.
    pub fn pool_of(&self, server: &str) -> Option<&str> {
        self.servers.get(lower(server).as_ref()).map(AsRef::as_ref)
    }

    /// The sites, in name order.
    pub fn sites(&self) -> impl Iterator<Item = &str> {
        self.sites.iter().map(AsRef::as_ref)
    }

    /// The pools with their sites, in name order.
    pub fn pools(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pools.iter().map(|(p, s)| (p.as_ref(), s.as_ref()))
    }

    /// The servers with their pools, in name order.
    pub fn servers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.servers.iter().map(|(s, p)| (s.as_ref(), p.as_ref()))
    }

    pub(super) fn server_count(&self) -> usize {
        self.servers.len()
    }

    /// What a server last reported holding, if it did.
    pub fn holdings(&self, server: &str) -> Option<&Holdings> {
        self.holdings.get(lower(server).as_ref())
    }

    /// Every server's last report, in server name order.
    pub fn reports(&self) -> impl Iterator<Item = (&str, &Holdings)> {
        self.holdings.iter().map(|(s, h)| (s.as_ref(), h))
    }

    /// Adds a site (nothing when it is there).
    /// The partners, in name order, with what each last fetched.
    pub fn partners(&self) -> impl Iterator<Item = (&str, Option<&Fetch>)> {
        self.partners.iter().map(|(p, f)| (&**p, f.as_ref()))
    }

    /// Whether the partner exists.
    pub fn has_partner(&self, partner: &str) -> bool {
        self.partners.contains_key(&*lower(partner))
    }

    /// A partner's last fetch, if it fetched.
    pub fn fetch(&self, partner: &str) -> Option<&Fetch> {
        self.partners.get(&*lower(partner)).and_then(Option::as_ref)
    }

    /// Adds a partner (nothing when it is there).
    pub(super) fn add_partner(&mut self, partner: Box<str>) {
        if !self.partners.contains_key(&partner) {
            self.partners.insert(partner.clone(), None);
            self.log.record(Undo::PartnerAdded(partner));
        }
    }

    /// Removes a partner and its fetch. False when there is no such partner.
    pub(super) fn remove_partner(&mut self, partner: &str) -> bool {
        let Some((name, fetch)) = self.partners.remove_entry(partner) else { return false };
        self.log.record(Undo::PartnerRemoved(name, fetch));
        true
    }

    /// Records a partner's fetch, replacing its last one. False for an unknown partner.
    pub(super) fn record_fetch(&mut self, partner: &str, fetch: Fetch) -> bool {
        let Some((name, last)) = self.partners.get_key_value(partner) else { return false };
        if last.as_ref() == Some(&fetch) {
            return true;
        }
        let name = name.clone();
        let before = self.partners.insert(name.clone(), Some(fetch)).flatten();
        self.log.record(Undo::Fetched(name, before));
        true
    }

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
            Undo::PartnerAdded(partner) => {
                self.partners.remove(&partner);
            }
            Undo::PartnerRemoved(partner, fetch) => {
                self.partners.insert(partner, fetch);
            }
            Undo::Fetched(partner, before) => {
                self.partners.insert(partner, before);
            }
        }
    }
}
