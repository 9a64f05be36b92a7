//! The store's state as JSON (feature `serde`), for keeping it in etcd, Consul or a database
//! with compare-and-swap on [`Store::revision`].
//!
//! The state holds the certificates' DER, the slots (with the servers a blocked roll waits for),
//! the topology, what each server last reported holding and when, every type's configuration
//! (policy rules, lead time, accept-previous, require-key, staging gate) and the revision. Private
//! keys are left out unless the caller asks for them, and then only inside password-protected PFX
//! files ([`Store::to_json_with_keys`]).
//!
//! Format 2 is written. Format 1 (certslot 0.1.0) is still read: it kept no policies (a
//! configured type gets its default policy for the SIP domain back), no instants of the servers'
//! reports (they load as made at the state's clock), and blocked rolls by slot index.
//!
//! Loading checks everything before it builds anything: no dangling thumbprints, no unknown
//! scopes or pools, no impossible slots or policies; a bad state file is a typed [`LoadError`],
//! never a partial store.

use std::collections::{BTreeMap, BTreeSet};

use const_oid::ObjectIdentifier;
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::pfx::{ExportError, ExportOptions, ImportOptions, Password, Pfx, PfxError};
use crate::store::cert_type::{CertType, TypeConfig};
use crate::store::error::SlotError;
use crate::store::fleet::Holdings;
use crate::store::names::SlotId;
use crate::store::scope::{Scope, normalize};
use crate::store::slot::{Assignment, PendingRoll, Slot, Warned};
use crate::store::{Store, StoredCertificate};
use crate::validate::{KeyRule, Policy, PolicyError, SubjectRule, UsageRule, ValidityRule, WarningRule};
use crate::x509::cert::Certificate;
use crate::x509::pem::{base64_decode, base64_encode};
use crate::x509::{ParseError, Thumbprint};

/// The version of the state format written.
pub const STATE_FORMAT: u32 = 2;

/// The oldest state format read.
const OLDEST_FORMAT: u32 = 1;

/// Why a state file could not be loaded. Nothing is built from a state that fails any check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not JSON of the state's shape (the message is serde_json's, with line and column).
    #[error("not a certslot state: {0}")]
    Json(String),
    /// A format version this certslot does not read.
    #[error(
        "state format {format} is not supported (this certslot reads formats {OLDEST_FORMAT} to {STATE_FORMAT})"
    )]
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
    /// A type's saved policy cannot be built.
    #[error("the policy of {cert_type}: {source}")]
    BadPolicy {
        /// The type.
        cert_type: CertType,
        /// Why.
        #[source]
        source: PolicyError,
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
    /// Two slots, or two type configurations, for the same key.
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

// ----- format 2 ----------------------------------------------------------------------------------

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
    holdings: Vec<HoldingState>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeState {
    cert_type: String,
    lead_time_seconds: i64,
    accept_previous: bool,
    require_private_key: bool,
    require_staged: bool,
    policy: PolicyState,
}

/// A [`Policy`]: each rule, or `null` where the policy has none.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyState {
    key: Option<KeyRuleState>,
    subject: Option<String>,
    validity: Option<ValidityRuleState>,
    usage: Option<UsageRuleState>,
    warnings: Option<WarningRuleState>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyRuleState {
    min_rsa_bits: u32,
    rsa: bool,
    rsa_pss: bool,
    ec_min_bits: Option<u32>,
    eddsa: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ValidityRuleState {
    min_remaining_seconds: Option<i64>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct UsageRuleState {
    digital_signature: bool,
    required_eku: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WarningRuleState {
    weak_signature: bool,
    expiring_within_seconds: Option<i64>,
    unknown_critical: bool,
    ca_certificate: bool,
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
    /// The servers a due roll waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    blocked_by: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldingState {
    server: String,
    reported_at: String,
    thumbprints: Vec<String>,
}

// ----- format 1 (read only) ----------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateV1 {
    format: u32,
    revision: u64,
    clock: Option<String>,
    sip_domain: Option<String>,
    types: Vec<TypeStateV1>,
    certificates: Vec<String>,
    #[serde(default)]
    keys: Vec<KeyState>,
    slots: Vec<SlotStateV1>,
    sites: Vec<String>,
    pools: Vec<(String, String)>,
    servers: Vec<(String, String)>,
    holdings: Vec<(String, Vec<String>)>,
    blocked: Vec<(usize, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeStateV1 {
    cert_type: String,
    lead_time_seconds: i64,
    accept_previous: bool,
    require_private_key: bool,
    require_staged: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlotStateV1 {
    cert_type: String,
    scope: String,
    current: Option<(String, String)>,
    previous: Option<(String, String)>,
    pending: Option<(String, String)>,
    warned_lead: bool,
    warned_expired: bool,
}

/// Just the format number, read first to choose the shape.
#[derive(Deserialize)]
struct Format {
    format: u32,
}

impl StateV1 {
    /// The same state in format 2 (see the module documentation for what format 1 lacked).
    fn upgrade(self) -> Result<State, LoadError> {
        let sip_domain = self
            .sip_domain
            .as_deref()
            .map(|d| {
                SubjectRule::new(d)
                    .map_err(|_| LoadError::BadName { kind: "SIP domain", value: d.to_owned() })
            })
            .transpose()?;
        let types = self
            .types
            .into_iter()
            .map(|t| {
                let cert_type: CertType =
                    t.cert_type.parse().map_err(name_error("certificate type", &t.cert_type))?;
                let policy = policy_state(&cert_type.default_config(sip_domain.as_ref()).policy);
                Ok(TypeState {
                    cert_type: t.cert_type,
                    lead_time_seconds: t.lead_time_seconds,
                    accept_previous: t.accept_previous,
                    require_private_key: t.require_private_key,
                    require_staged: t.require_staged,
                    policy,
                })
            })
            .collect::<Result<_, LoadError>>()?;
        let mut blocked: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (index, servers) in self.blocked {
            if index >= self.slots.len() {
                return Err(LoadError::BadName { kind: "blocked slot index", value: index.to_string() });
            }
            blocked.insert(index, servers);
        }
        let slots = self
            .slots
            .into_iter()
            .enumerate()
            .map(|(i, s)| SlotState {
                cert_type: s.cert_type,
                scope: s.scope,
                current: s.current,
                previous: s.previous,
                pending: s.pending,
                warned_lead: s.warned_lead,
                warned_expired: s.warned_expired,
                blocked_by: blocked.remove(&i).unwrap_or_default(),
            })
            .collect();
        let holdings = match (&self.clock, self.holdings.is_empty()) {
            (_, true) => Vec::new(),
            (None, false) => {
                return Err(LoadError::BadInstant {
                    field: "clock (format 1 holdings)",
                    value: "null".into(),
                });
            }
            (Some(clock), false) => self
                .holdings
                .into_iter()
                .map(|(server, thumbprints)| HoldingState { server, reported_at: clock.clone(), thumbprints })
                .collect(),
        };
        Ok(State {
            format: self.format,
            revision: self.revision,
            clock: self.clock,
            sip_domain: self.sip_domain,
            types,
            certificates: self.certificates,
            keys: self.keys,
            slots,
            sites: self.sites,
            pools: self.pools,
            servers: self.servers,
            holdings,
        })
    }
}

// ----- conversions -------------------------------------------------------------------------------

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

/// Durations are kept in whole seconds, from zero to a hundred years.
fn seconds(d: Duration) -> i64 {
    d.whole_seconds()
}

fn parse_seconds(kind: &'static str, s: i64) -> Result<Duration, LoadError> {
    if (0..=100 * 366 * 86_400).contains(&s) {
        Ok(Duration::seconds(s))
    } else {
        Err(LoadError::BadName { kind, value: s.to_string() })
    }
}

fn policy_state(policy: &Policy) -> PolicyState {
    PolicyState {
        key: policy.key_rule().map(|k| KeyRuleState {
            min_rsa_bits: k.rsa_min_bits(),
            rsa: k.accepted().rsa,
            rsa_pss: k.accepted().rsa_pss,
            ec_min_bits: k.accepted().ec_min_bits,
            eddsa: k.accepted().eddsa,
        }),
        subject: policy.subject_rule().map(|s| s.sip_domain().to_owned()),
        validity: policy
            .validity_rule()
            .map(|v| ValidityRuleState { min_remaining_seconds: v.remaining().map(seconds) }),
        usage: policy.usage_rule().map(|u| UsageRuleState {
            digital_signature: u.digital_signature_required(),
            required_eku: u.eku().map(|o| o.to_string()),
        }),
        warnings: policy.warning_rule().map(|w| WarningRuleState {
            weak_signature: w.warns_weak_signature(),
            expiring_within_seconds: w.expiry_warning().map(seconds),
            unknown_critical: w.warns_unknown_critical(),
            ca_certificate: w.warns_ca_certificate(),
        }),
    }
}

fn build_policy(cert_type: &CertType, state: &PolicyState) -> Result<Policy, LoadError> {
    let bad = |source| LoadError::BadPolicy { cert_type: cert_type.clone(), source };
    let mut policy = Policy::new();
    if let Some(k) = &state.key {
        // Accept first, then reject, so that no step leaves the rule accepting nothing.
        let mut rule = KeyRule::default().min_rsa_bits(k.min_rsa_bits).map_err(bad)?;
        if k.rsa_pss {
            rule = rule.accept_rsa_pss(true).map_err(bad)?;
        }
        if let Some(bits) = k.ec_min_bits {
            rule = rule.accept_ec(bits).map_err(bad)?;
        }
        if k.eddsa {
            rule = rule.accept_eddsa(true).map_err(bad)?;
        }
        if !k.rsa {
            rule = rule.accept_rsa(false).map_err(bad)?;
        }
        policy = policy.with_key(rule);
    }
    if let Some(domain) = &state.subject {
        policy = policy.with_subject(SubjectRule::new(domain).map_err(bad)?);
    }
    if let Some(v) = &state.validity {
        let mut rule = ValidityRule::default();
        if let Some(s) = v.min_remaining_seconds {
            rule = rule.min_remaining(parse_seconds("minimum remaining validity", s)?);
        }
        policy = policy.with_validity(rule);
    }
    if let Some(u) = &state.usage {
        let eku = u
            .required_eku
            .as_deref()
            .map(|o| {
                ObjectIdentifier::new(o)
                    .map_err(|_| LoadError::BadName { kind: "extended key usage", value: o.into() })
            })
            .transpose()?;
        policy = policy.with_usage(
            UsageRule::default().require_digital_signature(u.digital_signature).required_eku(eku),
        );
    }
    if let Some(w) = &state.warnings {
        let within = w.expiring_within_seconds.map(|s| parse_seconds("expiry warning", s)).transpose()?;
        policy = policy.with_warnings(
            WarningRule::none()
                .weak_signature(w.weak_signature)
                .expiring_within(within)
                .unknown_critical(w.unknown_critical)
                .ca_certificate(w.ca_certificate),
        );
    }
    Ok(policy)
}

impl Store {
    fn state(&self) -> State {
        let mut certificates: Vec<&StoredCertificate> = self.inventory.values().collect();
        certificates.sort_by_key(|s| s.certificate.thumbprint());
        let slots = (0..self.slots.len())
            .filter_map(|i| SlotId::try_from(i).ok())
            .filter_map(|id| {
                let slot = self.slot(id)?;
                // A slot emptied by removals, perhaps at a scope since removed, is not state.
                if slot.is_empty() {
                    return None;
                }
                let (cert_type, scope) = self.names_of(id);
                Some(SlotState {
                    cert_type: cert_type.to_string(),
                    scope: scope.to_string(),
                    current: slot.current.map(|a| (a.thumbprint.to_string(), instant(a.since))),
                    previous: slot.previous.map(|a| (a.thumbprint.to_string(), instant(a.since))),
                    pending: slot.pending.map(|p| (p.thumbprint.to_string(), instant(p.effective_at))),
                    warned_lead: slot.warned.lead,
                    warned_expired: slot.warned.expired,
                    blocked_by: self.blocked.get(&id).cloned().unwrap_or_default(),
                })
            })
            .collect();
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
                    lead_time_seconds: seconds(c.lead_time),
                    accept_previous: c.accept_previous,
                    require_private_key: c.require_private_key,
                    require_staged: c.require_staged,
                    policy: policy_state(&c.policy),
                })
                .collect(),
            certificates: certificates.iter().map(|s| base64_encode(s.certificate.der())).collect(),
            keys: Vec::new(),
            slots,
            sites: self.topology.sites.iter().map(|s| s.to_string()).collect(),
            pools: self.topology.pools.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect(),
            servers: self.topology.servers.iter().map(|(s, p)| (s.to_string(), p.to_string())).collect(),
            holdings: self
                .holdings
                .iter()
                .map(|(s, h)| HoldingState {
                    server: s.to_string(),
                    reported_at: instant(h.reported_at),
                    thumbprints: h.thumbprints.iter().map(ToString::to_string).collect(),
                })
                .collect(),
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

    /// Loads a state written by [`Store::to_json`] (keys in it are ignored), in format 2 or 1.
    ///
    /// # Errors
    /// [`LoadError`]: malformed JSON, an unsupported format, bad certificates, names or policies,
    /// dangling references, impossible slots.
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
        let json_error = |e: serde_json::Error| LoadError::Json(e.to_string());
        let state = match serde_json::from_str::<Format>(json).map_err(json_error)?.format {
            STATE_FORMAT => serde_json::from_str::<State>(json).map_err(json_error)?,
            1 => serde_json::from_str::<StateV1>(json).map_err(json_error)?.upgrade()?,
            format => return Err(LoadError::UnsupportedFormat { format }),
        };
        Self::build(state, password)
    }

    fn build(state: State, password: Option<&Password>) -> Result<Self, LoadError> {
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
            let config = TypeConfig {
                policy: build_policy(&cert_type, &t.policy)?,
                lead_time: parse_seconds("lead time", t.lead_time_seconds)?,
                accept_previous: t.accept_previous,
                require_private_key: t.require_private_key,
                require_staged: t.require_staged,
            };
            if store.configs.insert(cert_type.clone(), config).is_some() {
                return Err(LoadError::BadName {
                    kind: "type configured twice",
                    value: cert_type.to_string(),
                });
            }
        }
        store.load_certificates(&state, password)?;
        store.load_topology(&state)?;
        store.load_slots(&state)?;
        for id in 0..store.slots.len() {
            let id = SlotId::try_from(id).unwrap_or(SlotId::MAX);
            for (t, trigger) in store.triggers(id).into_iter().flatten() {
                store.schedule.insert(t, trigger, id);
            }
        }
        Ok(store)
    }

    fn load_certificates(&mut self, state: &State, password: Option<&Password>) -> Result<(), LoadError> {
        for (index, b64) in state.certificates.iter().enumerate() {
            let der = base64_decode(b64).map_err(|source| LoadError::BadCertificate { index, source })?;
            let certificate =
                Certificate::from_der(&der).map_err(|source| LoadError::BadCertificate { index, source })?;
            if !self.inventory.contains(&certificate.thumbprint()) {
                self.inventory.insert(StoredCertificate { certificate, key: None });
            }
        }
        let Some(password) = password else { return Ok(()) };
        for k in &state.keys {
            let thumbprint = parse_thumbprint(&k.thumbprint)?;
            let bytes = base64_decode(&k.pfx)
                .map_err(|e| LoadError::Key { thumbprint, source: PfxError::Corrupt(e) })?;
            let pfx = Pfx::import(&bytes, password, ImportOptions::default())
                .map_err(|source| LoadError::Key { thumbprint, source })?;
            let (leaf, key, _) = pfx.into_parts();
            let stored = self.inventory.get_mut(&thumbprint).ok_or_else(|| {
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
        Ok(())
    }

    fn load_topology(&mut self, state: &State) -> Result<(), LoadError> {
        for site in &state.sites {
            self.topology.sites.insert(normalize("site", site).map_err(name_error("site", site))?);
        }
        for (pool, site) in &state.pools {
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            let site_name = normalize("site", site).map_err(name_error("site", site))?;
            if !self.topology.sites.contains(&site_name) {
                return Err(LoadError::UnknownTopology {
                    context: format!("pool {pool}"),
                    kind: "site",
                    name: site.clone(),
                });
            }
            self.topology.pools.insert(pool_name, site_name);
        }
        for (server, pool) in &state.servers {
            let server_name = normalize("server", server).map_err(name_error("server", server))?;
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            if !self.topology.pools.contains_key(&pool_name) {
                return Err(LoadError::UnknownTopology {
                    context: format!("server {server}"),
                    kind: "pool",
                    name: pool.clone(),
                });
            }
            self.topology.servers.insert(server_name, pool_name);
        }
        for h in &state.holdings {
            let name = normalize("server", &h.server).map_err(name_error("server", &h.server))?;
            if !self.topology.servers.contains_key(&name) {
                return Err(LoadError::UnknownTopology {
                    context: "holdings".into(),
                    kind: "server",
                    name: h.server.clone(),
                });
            }
            let thumbprints: BTreeSet<Thumbprint> =
                h.thumbprints.iter().map(|t| parse_thumbprint(t)).collect::<Result<_, _>>()?;
            let reported_at = parse_instant("holdings.reported_at", &h.reported_at)?;
            if self.clock.is_none_or(|clock| reported_at > clock) {
                return Err(LoadError::BadInstant {
                    field: "holdings.reported_at (after the clock)",
                    value: h.reported_at.clone(),
                });
            }
            self.holdings.insert(name, Holdings { thumbprints, reported_at });
        }
        Ok(())
    }

    fn load_slots(&mut self, state: &State) -> Result<(), LoadError> {
        let mut seen = BTreeSet::new();
        for s in &state.slots {
            let cert_type: CertType =
                s.cert_type.parse().map_err(name_error("certificate type", &s.cert_type))?;
            let scope: Scope = s.scope.parse().map_err(name_error("scope", &s.scope))?;
            let context = format!("{cert_type} at {scope}");
            match &scope {
                Scope::Site(site) if !self.topology.sites.contains(site) => {
                    return Err(LoadError::UnknownTopology { context, kind: "site", name: site.to_string() });
                }
                Scope::Pool(pool) if !self.topology.pools.contains_key(pool) => {
                    return Err(LoadError::UnknownTopology { context, kind: "pool", name: pool.to_string() });
                }
                _ => {}
            }
            if !seen.insert((cert_type.clone(), scope.clone())) {
                return Err(LoadError::DuplicateSlot { cert_type, scope });
            }
            let assignment = |field: &'static str, v: &Option<(String, String)>| {
                v.as_ref()
                    .map(|(t, since)| {
                        Ok::<_, LoadError>(Assignment {
                            thumbprint: parse_thumbprint(t)?,
                            since: parse_instant(field, since)?,
                        })
                    })
                    .transpose()
            };
            let current = assignment("current.since", &s.current)?;
            let previous = assignment("previous.since", &s.previous)?;
            let pending = assignment("pending.effective_at", &s.pending)?
                .map(|a| PendingRoll { thumbprint: a.thumbprint, effective_at: a.since });
            let referenced = [
                current.map(|a| a.thumbprint),
                previous.map(|a| a.thumbprint),
                pending.map(|p| p.thumbprint),
            ];
            for t in referenced.into_iter().flatten() {
                if !self.inventory.contains(&t) {
                    return Err(LoadError::DanglingThumbprint { context: context.clone(), thumbprint: t });
                }
            }
            let impossible = |reason| LoadError::ImpossibleSlot {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                reason,
            };
            if current.zip(pending).is_some_and(|(c, p)| c.thumbprint == p.thumbprint) {
                return Err(impossible("the pending certificate is the current one"));
            }
            if current.zip(previous).is_some_and(|(c, p)| c.thumbprint == p.thumbprint) {
                return Err(impossible("the previous certificate is the current one"));
            }
            if let Some(clock) = self.clock {
                if current.is_some_and(|c| c.since > clock) || previous.is_some_and(|p| p.since > clock) {
                    return Err(impossible("a certificate became current after the store's clock"));
                }
            }
            if !s.blocked_by.is_empty() && pending.is_none() {
                return Err(impossible("a roll is blocked but none is pending"));
            }
            let Some(id) = self.slot_id_or_new(&cert_type, &scope) else {
                return Err(LoadError::BadName { kind: "slot count", value: self.slots.len().to_string() });
            };
            let slot = Slot {
                current,
                previous,
                pending,
                warned: Warned { lead: s.warned_lead, expired: s.warned_expired },
            };
            self.store_slot(id, &slot);
            if !s.blocked_by.is_empty() {
                self.blocked.insert(id, s.blocked_by.clone());
            }
        }
        Ok(())
    }
}
