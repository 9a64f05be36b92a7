//! The front-end fleet: what each server must hold, what it reports holding, and drift.
//!
//! Lync's replication copies the central certificate configuration to every front-end server.
//! certslot computes what each server should hold ([`Store::desired`]), keeps what each server
//! last reported holding, with the instant of the report ([`Store::record_holdings`]), and
//! compares the two ([`Store::drift`]): the recorded reports are the one source of truth, for
//! drift and for the staging gate. For types configured with
//! [`TypeConfig::require_staged`](crate::TypeConfig::require_staged), a roll is promoted only
//! once every server of the scope has reported holding the pending certificate, which prevents
//! half-rolled pools.

use std::collections::BTreeSet;

use time::{Duration, OffsetDateTime};

use crate::policy::{CertType, Scope, normalize};
use crate::store::error::SlotError;
use crate::store::slot::Outcome;
use crate::store::{Store, earliest};
use crate::x509::thumbprint::Thumbprint;

/// Why a server must hold a certificate.
///
/// JSON (feature `serde`): `"current"`, `"previous"` or `"pending"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
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
///
/// JSON (feature `serde`):
///
/// ```text
/// {"cert_type": "OAuthTokenIssuer", "scope": "global",
///  "thumbprint": "3BF702B601477250F70E61E287798983087DA4AB", "role": "current"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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

/// One certificate a server must hold, and until when ([`Store::holds`]).
///
/// JSON (feature `serde`): the [`Desired`] fields and `until`, an RFC 3339 instant or `null`:
///
/// ```text
/// {"cert_type": "OAuthTokenIssuer", "scope": "global",
///  "thumbprint": "3BF702B601477250F70E61E287798983087DA4AB", "role": "previous",
///  "until": "2026-12-25T09:00:00Z"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Hold {
    /// The certificate and why.
    #[cfg_attr(feature = "serde", serde(flatten))]
    pub desired: Desired,
    /// The first instant the server no longer holds it, unless the store changes before: for a
    /// previous certificate the earlier of its retirement and the end of its validity; `None`
    /// for a current or pending one (held until the store says otherwise).
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub until: Option<OffsetDateTime>,
}

impl Hold {
    /// Whether the server holds it at `at` (before [`Hold::until`]).
    pub fn applies_at(&self, at: OffsetDateTime) -> bool {
        self.until.is_none_or(|until| at < until)
    }
}

/// What a server last reported holding, and when.
///
/// JSON (feature `serde`): `{"thumbprints": ["3BF7...", "4DDB..."], "reported_at": "2026-11-25T09:00:00Z"}`,
/// the thumbprints in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Holdings {
    /// The thumbprints in its certificate store.
    pub thumbprints: BTreeSet<Thumbprint>,
    /// The instant of the report.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub reported_at: OffsetDateTime,
}

/// What a partner last fetched of the keys: the thumbprints the response announced, and when
/// ([`Store::record_partner_fetch`]).
///
/// JSON (feature `serde`): `{"thumbprints": ["3BF7...", "4DDB..."], "fetched_at": "2026-11-25T09:00:00Z"}`,
/// the thumbprints in order.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Fetch {
    /// The thumbprints of the keys the response held.
    pub thumbprints: BTreeSet<Thumbprint>,
    /// The instant of the fetch.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub fetched_at: OffsetDateTime,
}

/// Options of [`Store::drift`].
///
/// Default: every report counts, however old.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DriftOptions {
    max_report_age: Option<Duration>,
}

impl DriftOptions {
    /// Flags the reports older than `age` at the instant of the drift as outdated
    /// ([`ServerDrift::outdated_report`]): the server's agent has stopped reporting. A zero or
    /// negative `age` flags every report made before that instant.
    pub fn max_report_age(self, age: Duration) -> Self {
        Self { max_report_age: Some(age) }
    }

    /// The age past which a report is outdated, if set.
    pub fn report_age_limit(&self) -> Option<Duration> {
        self.max_report_age
    }
}

/// How one server differs from what it should hold.
///
/// JSON (feature `serde`): the fields by their names, `reported_at` an RFC 3339 string or
/// `null`, `missing` a list of [`Desired`], `stale` and `unexpected` lists of thumbprints:
///
/// ```text
/// {"server": "fe01.contoso.com", "pool": "pool01.contoso.com",
///  "reported_at": "2026-11-25T09:00:00Z", "outdated_report": false,
///  "missing": [{"cert_type": "OAuthTokenIssuer", "scope": "global",
///               "thumbprint": "4DDB1B4D452BB8C44A7FE0EEBAFF316DAC4E820F", "role": "pending"}],
///  "stale": [], "unexpected": []}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ServerDrift {
    /// The server.
    pub server: String,
    /// Its pool.
    pub pool: String,
    /// When it last reported; `None` when it never did (everything desired is then missing).
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339::option"))]
    pub reported_at: Option<OffsetDateTime>,
    /// True when its last report is older than [`DriftOptions::max_report_age`].
    pub outdated_report: bool,
    /// Certificates it should hold and does not.
    pub missing: Vec<Desired>,
    /// Certificates it holds that the store knows but no longer assigns to it (an old previous).
    pub stale: Vec<Thumbprint>,
    /// Certificates it holds that the store does not know.
    pub unexpected: Vec<Thumbprint>,
}

impl ServerDrift {
    /// True when the server has reported, recently enough, holding exactly what it should.
    pub fn is_clean(&self) -> bool {
        self.reported_at.is_some()
            && !self.outdated_report
            && self.missing.is_empty()
            && self.stale.is_empty()
            && self.unexpected.is_empty()
    }
}

impl Store {
    /// Records what a server reports holding (the thumbprints in its certificate store) at `at`,
    /// replacing its previous report. Drift and the staging gate read these reports.
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
        let holdings = Holdings { thumbprints: thumbprints.into_iter().collect(), reported_at: at };
        self.atomically_at(at, |store| {
            let server = normalize("server", server)?;
            if !store.topology.report(&server, holdings) {
                return Err(SlotError::UnknownTopology { kind: "server", name: server.into() });
            }
            Ok(Vec::new())
        })
    }

    /// Adds a partner: a verifier of the fleet's tokens, known by name, whose fetches of the
    /// keys are recorded ([`Store::record_partner_fetch`]) and that a type's rolls may wait for
    /// ([`TypeConfig::require_fetched_by`](crate::TypeConfig::require_fetched_by)). Nothing
    /// changes when it exists.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`] for a name that is not letters, digits, `-`, `_` and `.`.
    pub fn add_partner(&mut self, partner: &str) -> Result<Outcome, SlotError> {
        let partner = normalize("partner", partner)?;
        self.atomically(|store| {
            store.topology.add_partner(partner);
            Ok(Vec::new())
        })
    }

    /// Removes a partner and its last fetch.
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown partner,
    /// [`SlotError::PartnerRequired`] while a type's rolls wait for it.
    pub fn remove_partner(&mut self, partner: &str) -> Result<Outcome, SlotError> {
        let partner = normalize("partner", partner)?;
        if let Some(cert_type) = self.configs.requires_partner(&partner) {
            return Err(SlotError::PartnerRequired { partner: partner.into(), cert_type: cert_type.clone() });
        }
        self.atomically(|store| match store.topology.remove_partner(&partner) {
            true => Ok(Vec::new()),
            false => Err(SlotError::UnknownTopology { kind: "partner", name: partner.into() }),
        })
    }

    /// Records what a partner fetched at `at`: the thumbprints of the keys the response
    /// announced (the key server records it), replacing its last fetch. A roll waiting for it is
    /// checked again at the next [`Store::advance`].
    ///
    /// # Errors
    /// [`SlotError::InvalidName`], [`SlotError::UnknownTopology`] for an unknown partner,
    /// [`SlotError::TimeWentBackwards`] for an `at` before the store's clock.
    pub fn record_partner_fetch(
        &mut self,
        partner: &str,
        thumbprints: impl IntoIterator<Item = Thumbprint>,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        let fetch = Fetch { thumbprints: thumbprints.into_iter().collect(), fetched_at: at };
        self.atomically_at(at, |store| {
            let partner = normalize("partner", partner)?;
            if !store.topology.record_fetch(&partner, fetch) {
                return Err(SlotError::UnknownTopology { kind: "partner", name: partner.into() });
            }
            Ok(Vec::new())
        })
    }

    /// The partners a roll of `cert_type` to `thumbprint` waits for
    /// ([`TypeConfig::require_fetched_by`](crate::TypeConfig::require_fetched_by)) whose last
    /// fetch did not announce it, in name order.
    pub fn partners_lacking(&self, cert_type: &CertType, thumbprint: &Thumbprint) -> Vec<String> {
        let Some(required) = self.configs.required_partners(cert_type) else { return Vec::new() };
        required
            .iter()
            .filter(|p| !self.topology.fetch(p).is_some_and(|f| f.thumbprints.contains(thumbprint)))
            .cloned()
            .collect()
    }

    /// Every certificate type with at least one slot.
    fn assigned_types(&self) -> BTreeSet<CertType> {
        self.slots().map(|(t, _, _)| t.clone()).collect()
    }

    /// What a server must hold at `at`: for each type, the current certificate of the slot that
    /// applies to its pool, the previous one while verifiers accept it, it is valid and its
    /// retention lasts ([`Retention`](crate::policy::Retention)), and the
    /// pending one, staged ahead of its effective date. Sorted by type, then role.
    ///
    /// # Errors
    /// [`SlotError::UnknownTopology`] for an unknown server.
    pub fn desired(&self, server: &str, at: OffsetDateTime) -> Result<Vec<Desired>, SlotError> {
        Ok(self.holds(server, at)?.into_iter().map(|h| h.desired).collect())
    }

    /// What the servers of `pool` must hold at `at` (see [`Store::desired`]).
    fn desired_in_pool(&self, pool: &str, at: OffsetDateTime) -> Vec<Desired> {
        self.holds_in_pool(pool, at).into_iter().map(|h| h.desired).collect()
    }

    /// What a server must hold at `at`, as [`Store::desired`], each with the instant it stops
    /// holding it if the store does not change meanwhile ([`Hold::until`]): what a writer
    /// hands to a server that decides for itself, later, what to keep.
    ///
    /// ```
    /// use certslot::{CertType, Scope, Store};
    /// use time::macros::datetime;
    ///
    /// let mut store = Store::new();
    /// store.add_site("redmond")?;
    /// store.add_pool("pool01.contoso.com", "redmond")?;
    /// store.add_server("fe01.contoso.com", "pool01.contoso.com")?;
    /// let at = datetime!(2026-11-25 9:00 UTC);
    /// let held = store.holds("fe01.contoso.com", at)?;
    /// assert!(held.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SlotError::UnknownTopology`] for an unknown server.
    pub fn holds(&self, server: &str, at: OffsetDateTime) -> Result<Vec<Hold>, SlotError> {
        let name = normalize("server", server)?;
        let pool = self
            .topology
            .pool_of(&name)
            .ok_or_else(|| SlotError::UnknownTopology { kind: "server", name: name.to_string() })?;
        Ok(self.holds_in_pool(pool, at))
    }

    /// What the servers of `pool` must hold at `at`, and until when (see [`Store::holds`]).
    fn holds_in_pool(&self, pool: &str, at: OffsetDateTime) -> Vec<Hold> {
        let scope = Scope::Pool(pool.into());
        let mut out = Vec::new();
        for cert_type in self.assigned_types() {
            let Some((scope, slot)) = self.resolve(&cert_type, &scope) else { continue };
            let mut push = |thumbprint: Thumbprint, role: Role, until: Option<OffsetDateTime>| {
                let desired =
                    Desired { cert_type: cert_type.clone(), scope: scope.clone(), thumbprint, role };
                out.push(Hold { desired, until });
            };
            if let Some(current) = slot.current {
                push(current.thumbprint, Role::Current, None);
            }
            if let Some(previous) = slot.previous {
                let stored = self.inventory().get(&previous.thumbprint);
                let valid = stored.is_some_and(|s| s.certificate.is_valid_at(at) && at <= s.effective_end());
                if valid && self.previous_trusted_at(&cert_type, &scope, at) {
                    // Held while valid (through its effective end) and trusted (before it retires).
                    let expires = stored.map(|s| s.effective_end() + Duration::nanoseconds(1));
                    let retires = self.milestones(&cert_type, &scope).and_then(|m| m.previous_retires);
                    push(previous.thumbprint, Role::Previous, earliest(expires, retires));
                }
            }
            if let Some(pending) = slot.pending {
                push(pending.thumbprint, Role::Pending, None);
            }
        }
        out.sort();
        out
    }

    /// How each server of the topology differs, at `at`, from what it should hold, according to
    /// what it last reported ([`Store::record_holdings`]); in server name order. A server that
    /// never reported has everything missing; one whose report is older than
    /// [`DriftOptions::max_report_age`] is flagged as outdated.
    ///
    /// ```
    /// use certslot::{Store, store::DriftOptions};
    /// use time::{Duration, macros::datetime};
    ///
    /// let mut store = Store::new();
    /// store.add_site("redmond")?;
    /// store.add_pool("pool01.contoso.com", "redmond")?;
    /// store.add_server("fe01.contoso.com", "pool01.contoso.com")?;
    /// store.add_server("fe02.contoso.com", "pool01.contoso.com")?;
    /// store.record_holdings("fe01.contoso.com", [], datetime!(2026-11-25 9:00 UTC))?;
    ///
    /// let at = datetime!(2026-11-25 9:30 UTC);
    /// let drift = store.drift(at, DriftOptions::default().max_report_age(Duration::minutes(15)));
    /// assert_eq!(drift[0].reported_at, Some(datetime!(2026-11-25 9:00 UTC)));
    /// assert!(drift[0].outdated_report);
    /// assert_eq!(drift[1].reported_at, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drift(&self, at: OffsetDateTime, options: DriftOptions) -> Vec<ServerDrift> {
        self.drift_against(at, options, |server| self.topology.holdings(server))
    }

    /// [`Store::drift`] against reports kept elsewhere: `reports` says what each server of the
    /// topology (by its lowercase name) holds and since when, `None` for a server that has not
    /// reported. For a view of the fleet that trusts only live reports (an agent's report that
    /// expires with the agent) rather than the last ones recorded in the store.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// use certslot::{Store, store::{DriftOptions, Holdings}};
    /// use time::macros::datetime;
    ///
    /// let mut store = Store::new();
    /// store.add_site("redmond")?;
    /// store.add_pool("pool01.contoso.com", "redmond")?;
    /// store.add_server("fe01.contoso.com", "pool01.contoso.com")?;
    /// store.add_server("fe02.contoso.com", "pool01.contoso.com")?;
    /// // The store recorded fe01's report, but only fe02's agent is alive.
    /// store.record_holdings("fe01.contoso.com", [], datetime!(2026-11-25 9:00 UTC))?;
    /// let live = BTreeMap::from([(
    ///     "fe02.contoso.com",
    ///     Holdings { thumbprints: Default::default(), reported_at: datetime!(2026-11-25 9:10 UTC) },
    /// )]);
    ///
    /// let at = datetime!(2026-11-25 9:30 UTC);
    /// let drift = store.drift_against(at, DriftOptions::default(), |server| live.get(server));
    /// assert_eq!(drift[0].reported_at, None);
    /// assert_eq!(drift[1].reported_at, Some(datetime!(2026-11-25 9:10 UTC)));
    /// assert!(drift[1].is_clean());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn drift_against<'r>(
        &self,
        at: OffsetDateTime,
        options: DriftOptions,
        reports: impl Fn(&str) -> Option<&'r Holdings>,
    ) -> Vec<ServerDrift> {
        let empty = BTreeSet::new();
        let mut out = Vec::with_capacity(self.topology.server_count());
        for (server, pool) in self.topology.servers() {
            let desired = self.desired_in_pool(pool, at);
            let report = reports(server);
            let holding = report.map_or(&empty, |h| &h.thumbprints);
            let wanted: BTreeSet<Thumbprint> = desired.iter().map(|d| d.thumbprint).collect();
            let missing: Vec<Desired> =
                desired.into_iter().filter(|d| !holding.contains(&d.thumbprint)).collect();
            let (stale, unexpected): (Vec<Thumbprint>, Vec<Thumbprint>) = holding
                .iter()
                .filter(|t| !wanted.contains(t))
                .partition(|t| self.inventory().get(t).is_some());
            let reported_at = report.map(|h| h.reported_at);
            let outdated_report = match (reported_at, options.max_report_age) {
                (Some(reported), Some(max)) => at - reported > max,
                _ => false,
            };
            out.push(ServerDrift {
                server: server.to_string(),
                pool: pool.to_string(),
                reported_at,
                outdated_report,
                missing,
                stale,
                unexpected,
            });
        }
        out
    }

    /// The servers whose assignment for `cert_type` comes from the slot at `scope` and whose
    /// last report ([`Store::record_holdings`]) lacks `thumbprint`, in name order: where a
    /// pending certificate still has to be staged.
    pub fn servers_lacking(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        thumbprint: &Thumbprint,
    ) -> Vec<String> {
        self.topology
            .servers()
            .filter(|(_, pool)| {
                self.resolve(cert_type, &Scope::Pool((*pool).into()))
                    .is_some_and(|(resolved, _)| resolved == *scope)
            })
            .filter(|(server, _)| {
                !self.topology.holdings(server).is_some_and(|h| h.thumbprints.contains(thumbprint))
            })
            .map(|(server, _)| server.to_string())
            .collect()
    }
}
