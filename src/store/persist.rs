//! The store's state as JSON (feature `serde`), for keeping it in etcd, Consul or a database
//! with compare-and-swap on [`Store::revision`].
//!
//! The state holds the certificates' DER, the slots, the schedule's inputs, the topology, the
//! servers' recorded holdings, type settings and the revision. Private keys are left out unless
//! the caller asks for them, and then only inside password-protected PFX files
//! ([`Store::to_json_with_keys`]). Type policies are not state: they are the types' defaults for
//! the SIP domain, so a caller that set a custom policy with [`Store::configure_type`] sets it
//! again after loading.
//!
//! Loading checks everything before it builds anything: no dangling thumbprints, no unknown
//! scopes or pools, no impossible schedules; a bad state file is a typed [`LoadError`], never a
//! partial store.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::pfx::{ExportError, PfxError};
use crate::pfx::{ExportOptions, ImportOptions, Password, Pfx};
use crate::store::SlotError;
use crate::store::cert_type::CertType;
use crate::store::names::SlotId;
use crate::store::scope::{Scope, normalize};
use crate::store::slot::{Assignment, PendingRoll, Slot, Warned};
use crate::store::{Store, StoredCertificate};
use crate::validate::SubjectRule;
use crate::x509::ParseError;
use crate::x509::cert::Certificate;
use crate::x509::pem::{base64_decode, base64_encode};
use crate::x509::thumbprint::Thumbprint;

/// The version of the state format written.
pub const STATE_FORMAT: u32 = 1;

/// Why a state file could not be loaded. Nothing is built from a state that fails any check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not JSON of the state's shape (the message is serde_json's, with line and column).
    #[error("not a certslot state: {0}")]
    Json(String),
    /// A format version this certslot does not read.
    #[error("state format {format} is not supported (this certslot reads format {STATE_FORMAT})")]
    UnsupportedFormat {
        /// The version found.
        format: u32,
    },
    /// An instant that is not RFC 3339.
    #[error("{field} is not an RFC 3339 instant: {value:?}")]
    BadInstant {
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A certificate's DER does not parse (or its Base64 is invalid).
    #[error("certificate {index}: {source}")]
    BadCertificate {
        /// Its index in the state's certificate list.
        index: usize,
        /// Why.
        #[source]
        source: ParseError,
    },
    /// A name (type, scope, site, pool, server, SIP domain) or thumbprint that is not valid.
    #[error("invalid {kind}: {value:?}")]
    BadName {
        /// What it names.
        kind: &'static str,
        /// The value.
        value: String,
    },
    /// A slot or holding refers to a certificate the state does not hold.
    #[error("{context} refers to {thumbprint}, which the state does not hold")]
    DanglingThumbprint {
        /// Where the reference is.
        context: String,
        /// The thumbprint.
        thumbprint: Thumbprint,
    },
    /// A scope, pool or server refers to a site, pool or server the topology lacks.
    #[error("{context} refers to unknown {kind} {name}")]
    UnknownTopology {
        /// Where the reference is.
        context: String,
        /// `"site"`, `"pool"` or `"server"`.
        kind: &'static str,
        /// The missing name.
        name: String,
    },
    /// Two slots for the same type and scope.
    #[error("two slots for {cert_type} at {scope}")]
    DuplicateSlot {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
    },
    /// A slot whose contents cannot have come from any sequence of operations.
    #[error("impossible slot {cert_type} at {scope}: {reason}")]
    ImpossibleSlot {
        /// The type.
        cert_type: CertType,
        /// The scope.
        scope: Scope,
        /// What is impossible.
        reason: &'static str,
    },
    /// A private key PFX of the state does not import with the password given.
    #[error("private key of {thumbprint}: {source}")]
    Key {
        /// The certificate it belongs to.
        thumbprint: Thumbprint,
        /// Why.
        #[source]
        source: PfxError,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    format: u32,
    revision: u64,
    clock: Option<String>,
    sip_domain: Option<String>,
    types: Vec<TypeState>,
    certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    keys: Vec<KeyState>,
    slots: Vec<SlotState>,
    sites: Vec<String>,
    pools: Vec<(String, String)>,
    servers: Vec<(String, String)>,
    holdings: Vec<(String, Vec<String>)>,
    blocked: Vec<(usize, Vec<String>)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeState {
    cert_type: String,
    lead_time_seconds: i64,
    accept_previous: bool,
    require_private_key: bool,
    require_staged: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyState {
    thumbprint: String,
    pfx: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotState {
    cert_type: String,
    scope: String,
    current: Option<(String, String)>,
    previous: Option<(String, String)>,
    pending: Option<(String, String)>,
    warned_lead: bool,
    warned_expired: bool,
}

fn instant(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn parse_instant(field: &'static str, value: &str) -> Result<OffsetDateTime, LoadError> {
    OffsetDateTime::parse(value, &Rfc3339)
        .map_err(|_| LoadError::BadInstant { field, value: value.to_owned() })
}

fn parse_thumbprint(value: &str) -> Result<Thumbprint, LoadError> {
    value.parse().map_err(|_| LoadError::BadName { kind: "thumbprint", value: value.to_owned() })
}

fn name_error(kind: &'static str, value: &str) -> impl FnOnce(SlotError) -> LoadError {
    let value = value.to_owned();
    move |_| LoadError::BadName { kind, value }
}

impl Store {
    fn state(&self) -> State {
        let mut certificates: Vec<&StoredCertificate> = self.inventory.values().collect();
        certificates.sort_by_key(|s| s.certificate.thumbprint());
        State {
            format: STATE_FORMAT,
            revision: self.revision,
            clock: self.clock.map(instant),
            sip_domain: self.sip_domain.as_ref().map(|s| s.sip_domain().to_owned()),
            types: self
                .configs
                .iter()
                .map(|(t, c)| TypeState {
                    cert_type: t.to_string(),
                    lead_time_seconds: c.lead_time.whole_seconds(),
                    accept_previous: c.accept_previous,
                    require_private_key: c.require_private_key,
                    require_staged: c.require_staged,
                })
                .collect(),
            certificates: certificates.iter().map(|s| base64_encode(s.certificate.der())).collect(),
            keys: Vec::new(),
            slots: self
                .slots()
                .map(|(cert_type, scope, slot)| SlotState {
                    cert_type: cert_type.to_string(),
                    scope: scope.to_string(),
                    current: slot.current.map(|a| (a.thumbprint.to_string(), instant(a.since))),
                    previous: slot.previous.map(|a| (a.thumbprint.to_string(), instant(a.since))),
                    pending: slot.pending.map(|p| (p.thumbprint.to_string(), instant(p.effective_at))),
                    warned_lead: slot.warned.lead,
                    warned_expired: slot.warned.expired,
                })
                .collect(),
            sites: self.topology.sites.iter().map(|s| s.to_string()).collect(),
            pools: self.topology.pools.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect(),
            servers: self.topology.servers.iter().map(|(s, p)| (s.to_string(), p.to_string())).collect(),
            holdings: self
                .holdings
                .iter()
                .map(|(s, h)| (s.to_string(), h.iter().map(ToString::to_string).collect()))
                .collect(),
            blocked: self.blocked.iter().map(|(id, servers)| (*id as usize, servers.clone())).collect(),
        }
    }

    /// The state as JSON, without private keys. Deterministic: the same store gives the same text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.state()).unwrap_or_default()
    }

    /// The state as JSON with every private key the store holds, each in a PFX protected by
    /// `password` (salts and IVs from `rng`).
    ///
    /// # Errors
    /// [`ExportError`] when a key cannot be exported.
    pub fn to_json_with_keys(
        &self,
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<String, ExportError> {
        let mut state = self.state();
        let mut stored: Vec<&StoredCertificate> =
            self.inventory.values().filter(|s| s.key.is_some()).collect();
        stored.sort_by_key(|s| s.certificate.thumbprint());
        for s in stored {
            if let Some(key) = &s.key {
                let pfx = Pfx::export(&s.certificate, key, &[], password, options, rng)?;
                state.keys.push(KeyState {
                    thumbprint: s.certificate.thumbprint().to_string(),
                    pfx: base64_encode(&pfx),
                });
            }
        }
        Ok(serde_json::to_string_pretty(&state).unwrap_or_default())
    }

    /// Loads a state written by [`Store::to_json`] (keys in it are ignored).
    ///
    /// # Errors
    /// [`LoadError`]: malformed JSON, an unsupported format, bad certificates or names, dangling
    /// references, impossible slots.
    pub fn from_json(json: &str) -> Result<Self, LoadError> {
        Self::load(json, None)
    }

    /// Loads a state written by [`Store::to_json_with_keys`], importing the keys with `password`.
    ///
    /// # Errors
    /// As [`Store::from_json`], and [`LoadError::Key`] for a key that does not import.
    pub fn from_json_with_keys(json: &str, password: &Password) -> Result<Self, LoadError> {
        Self::load(json, Some(password))
    }

    fn load(json: &str, password: Option<&Password>) -> Result<Self, LoadError> {
        let state: State = serde_json::from_str(json).map_err(|e| LoadError::Json(e.to_string()))?;
        if state.format != STATE_FORMAT {
            return Err(LoadError::UnsupportedFormat { format: state.format });
        }
        let mut store = Store { revision: state.revision, ..Store::default() };
        store.clock = state.clock.as_deref().map(|c| parse_instant("clock", c)).transpose()?;
        if let Some(domain) = &state.sip_domain {
            store.sip_domain = Some(
                SubjectRule::new(domain)
                    .map_err(|_| LoadError::BadName { kind: "SIP domain", value: domain.clone() })?,
            );
        }
        for t in &state.types {
            let cert_type: CertType =
                t.cert_type.parse().map_err(name_error("certificate type", &t.cert_type))?;
            let mut config = cert_type.default_config(store.sip_domain.as_ref());
            // A lead time is between zero and a hundred years.
            if !(0..=100 * 366 * 86_400).contains(&t.lead_time_seconds) {
                return Err(LoadError::BadName { kind: "lead time", value: t.lead_time_seconds.to_string() });
            }
            config.lead_time = Duration::seconds(t.lead_time_seconds);
            config.accept_previous = t.accept_previous;
            config.require_private_key = t.require_private_key;
            config.require_staged = t.require_staged;
            store.configs.insert(cert_type, config);
        }
        for (index, b64) in state.certificates.iter().enumerate() {
            let der = base64_decode(b64).map_err(|source| LoadError::BadCertificate { index, source })?;
            let certificate =
                Certificate::from_der(&der).map_err(|source| LoadError::BadCertificate { index, source })?;
            store.inventory.insert(StoredCertificate { certificate, key: None });
        }
        if let Some(password) = password {
            for k in &state.keys {
                let thumbprint = parse_thumbprint(&k.thumbprint)?;
                let bytes = base64_decode(&k.pfx)
                    .map_err(|e| LoadError::Key { thumbprint, source: PfxError::Corrupt(e) })?;
                let pfx = Pfx::import(&bytes, password, ImportOptions::default())
                    .map_err(|source| LoadError::Key { thumbprint, source })?;
                let (leaf, key, _) = pfx.into_parts();
                let stored = store.inventory.get_mut(&thumbprint).ok_or_else(|| {
                    LoadError::DanglingThumbprint { context: "a private key".into(), thumbprint }
                })?;
                if leaf.as_ref() != Some(&stored.certificate) {
                    return Err(LoadError::Key {
                        thumbprint,
                        source: PfxError::KeyMismatch { thumbprints: vec![thumbprint] },
                    });
                }
                stored.key = key;
            }
        }
        for site in &state.sites {
            store.topology.sites.insert(normalize("site", site).map_err(name_error("site", site))?);
        }
        for (pool, site) in &state.pools {
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            let site_name = normalize("site", site).map_err(name_error("site", site))?;
            if !store.topology.sites.contains(&site_name) {
                return Err(LoadError::UnknownTopology {
                    context: format!("pool {pool}"),
                    kind: "site",
                    name: site.clone(),
                });
            }
            store.topology.pools.insert(pool_name, site_name);
        }
        for (server, pool) in &state.servers {
            let server_name = normalize("server", server).map_err(name_error("server", server))?;
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            if !store.topology.pools.contains_key(&pool_name) {
                return Err(LoadError::UnknownTopology {
                    context: format!("server {server}"),
                    kind: "pool",
                    name: pool.clone(),
                });
            }
            store.topology.servers.insert(server_name, pool_name);
        }
        for (server, held) in &state.holdings {
            let name = normalize("server", server).map_err(name_error("server", server))?;
            if !store.topology.servers.contains_key(&name) {
                return Err(LoadError::UnknownTopology {
                    context: "holdings".into(),
                    kind: "server",
                    name: server.clone(),
                });
            }
            let held: BTreeSet<Thumbprint> =
                held.iter().map(|t| parse_thumbprint(t)).collect::<Result<_, _>>()?;
            store.holdings.insert(name, held);
        }
        let mut seen = BTreeSet::new();
        for s in &state.slots {
            let cert_type: CertType =
                s.cert_type.parse().map_err(name_error("certificate type", &s.cert_type))?;
            let scope: Scope = s.scope.parse().map_err(name_error("scope", &s.scope))?;
            let context = format!("{cert_type} at {scope}");
            match &scope {
                Scope::Site(site) if !store.topology.sites.contains(site) => {
                    return Err(LoadError::UnknownTopology { context, kind: "site", name: site.to_string() });
                }
                Scope::Pool(pool) if !store.topology.pools.contains_key(pool) => {
                    return Err(LoadError::UnknownTopology { context, kind: "pool", name: pool.to_string() });
                }
                _ => {}
            }
            if !seen.insert((cert_type.clone(), scope.clone())) {
                return Err(LoadError::DuplicateSlot { cert_type, scope });
            }
            let assignment = |field: &'static str,
                              v: &Option<(String, String)>|
             -> Result<Option<Assignment>, LoadError> {
                v.as_ref()
                    .map(|(t, since)| {
                        Ok(Assignment {
                            thumbprint: parse_thumbprint(t)?,
                            since: parse_instant(field, since)?,
                        })
                    })
                    .transpose()
            };
            let current = assignment("current.since", &s.current)?;
            let previous = assignment("previous.since", &s.previous)?;
            let pending = s
                .pending
                .as_ref()
                .map(|(t, at)| {
                    Ok::<_, LoadError>(PendingRoll {
                        thumbprint: parse_thumbprint(t)?,
                        effective_at: parse_instant("pending.effective_at", at)?,
                    })
                })
                .transpose()?;
            for t in
                [current.map(|a| a.thumbprint), previous.map(|a| a.thumbprint), pending.map(|p| p.thumbprint)]
                    .into_iter()
                    .flatten()
            {
                if !store.inventory.contains(&t) {
                    return Err(LoadError::DanglingThumbprint { context: context.clone(), thumbprint: t });
                }
            }
            let impossible = |reason| LoadError::ImpossibleSlot {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                reason,
            };
            if let (Some(c), Some(p)) = (current, pending) {
                if c.thumbprint == p.thumbprint {
                    return Err(impossible("the pending certificate is the current one"));
                }
            }
            if let (Some(c), Some(p)) = (current, previous) {
                if c.thumbprint == p.thumbprint {
                    return Err(impossible("the previous certificate is the current one"));
                }
            }
            if let Some(clock) = store.clock {
                if current.is_some_and(|c| c.since > clock) || previous.is_some_and(|p| p.since > clock) {
                    return Err(impossible("a certificate became current after the store's clock"));
                }
            }
            let Some(id) = store.slot_id_or_new(&cert_type, &scope) else {
                return Err(LoadError::BadName { kind: "slot count", value: store.slots.len().to_string() });
            };
            let slot = Slot {
                current,
                previous,
                pending,
                warned: Warned { lead: s.warned_lead, expired: s.warned_expired },
            };
            store.store_slot(id, &slot);
        }
        let mut blocked = BTreeMap::new();
        for (index, servers) in &state.blocked {
            let id = SlotId::try_from(*index).ok().filter(|id| (*id as usize) < store.slots.len());
            let entry = id
                .and_then(|id| store.entry(id))
                .ok_or_else(|| LoadError::BadName { kind: "blocked slot index", value: index.to_string() })?;
            if entry.pending.is_none() {
                let (cert_type, scope) = store.names_of(id.unwrap_or_default());
                return Err(LoadError::ImpossibleSlot {
                    cert_type,
                    scope,
                    reason: "a roll is blocked but none is pending",
                });
            }
            blocked.insert(SlotId::try_from(*index).unwrap_or(SlotId::MAX), servers.clone());
        }
        store.blocked = blocked;
        for id in 0..store.slots.len() {
            let id = SlotId::try_from(id).unwrap_or(SlotId::MAX);
            for (t, trigger) in store.triggers(id).into_iter().flatten() {
                store.schedule.insert(t, trigger, id);
            }
        }
        Ok(store)
    }
}
