//! The store's state as a value ([`SavedState`]) and as JSON (feature `serde`), for keeping it
//! in etcd, Consul or a database with compare-and-swap on [`Store::revision`].
//!
//! The state holds the certificates' DER, the slots (with the servers a blocked roll waits for),
//! the topology, what each server last reported holding and when, every type's configuration
//! (policy rules, lead time, accept-previous, require-key, staging gate) and the revision. Private
//! keys are left out unless the caller asks for them, and then only inside password-protected PFX
//! files ([`Store::to_state_with_keys`], [`Store::to_json_with_keys`]); sealing them costs far
//! more than the rest, so [`SavedState::with_keys`] lets a writer put in the keys it sealed for an
//! earlier state while they are the same ([`Store::sealed_keys`]).
//!
//! Format 2 is written. Format 1 (certslot 0.1.0) is still read: it kept no policies (a
//! configured type gets its default policy for the SIP domain back), no instants of the servers'
//! reports (they load as made at the state's clock), and blocked rolls by slot index.
//!
//! Loading checks everything before it builds anything: no dangling thumbprints, no unknown
//! scopes or pools, no impossible slots or policies; a bad state file is a typed [`LoadError`],
//! never a partial store.

use std::collections::BTreeSet;

use crate::pfx::{ExportOptions, ImportOptions, Password, Pfx, PfxError, Pkcs8Options, PrivateKey};
use crate::policy::{CertType, RolloverPolicy, Scope, TypeConfig, normalize};
use crate::store::configs::Configs;
use crate::store::fleet::{Fetch, Holdings};
use crate::store::requests::RenewalRequest;
use crate::store::slot::{Assignment, PendingRoll, Slot, Warned};
use crate::store::slot_table::Blocked;
use crate::store::state::{
    HoldingState, IssuerExpiryState, LoadError, PartnerState, RenewalState, STATE_FORMAT, SaveError,
    SavedState, SealedKey, SlotState, State, TypeState, build_policy, build_rollover, instant, name_error,
    parse_instant, parse_seconds, parse_thumbprint, policy_state, rollover_state, seconds,
};
use crate::store::{IssuerExpiry, Store, StoredCertificate};
use crate::validate::SubjectRule;
use crate::x509::Thumbprint;
use crate::x509::cert::Certificate;
use crate::x509::pem::{base64_decode, base64_encode};

/// The password of a state's sealed keys, and the keys the caller has opened already.
type KeySource<'a> = (&'a Password, &'a mut dyn FnMut(&SealedKey) -> Option<PrivateKey>);

impl Store {
    /// The state as a value, without private keys: what [`Store::to_json`] writes.
    /// Deterministic: the same store gives the same state.
    ///
    /// # Errors
    /// [`SaveError::Instant`] for an instant (the clock, a slot's dates, a report's) that RFC 3339
    /// cannot write.
    pub fn to_state(&self) -> Result<SavedState, SaveError> {
        let mut certificates: Vec<&StoredCertificate> = self.inventory.iter().collect();
        certificates.sort_by_key(|s| s.certificate.thumbprint());
        let mut slots = Vec::new();
        for (id, entry) in self.slots.entries() {
            let slot = self.view_of(entry);
            // A slot emptied by removals, perhaps at a scope since removed, is not state.
            if slot.is_empty() {
                continue;
            }
            let (cert_type, scope) = self.names_of(id);
            let place = |field, thumbprint: Thumbprint, at| {
                Ok::<_, SaveError>((thumbprint.to_string(), instant(field, at)?))
            };
            slots.push(SlotState {
                cert_type: cert_type.to_string(),
                scope: scope.to_string(),
                current: slot.current.map(|a| place("current.since", a.thumbprint, a.since)).transpose()?,
                previous: slot
                    .previous
                    .map(|a| place("previous.since", a.thumbprint, a.since))
                    .transpose()?,
                pending: slot
                    .pending
                    .map(|p| place("pending.effective_at", p.thumbprint, p.effective_at))
                    .transpose()?,
                warned_lead: slot.warned.lead,
                warned_expired: slot.warned.expired,
                blocked_by: self.slots.blocked(id).map(|b| b.servers.clone()).unwrap_or_default(),
                waiting_for_partners: self.slots.blocked(id).map(|b| b.partners.clone()).unwrap_or_default(),
                waiting_for_window: self
                    .slots
                    .blocked(id)
                    .and_then(|b| b.window)
                    .map(|w| instant("waiting_for_window", w))
                    .transpose()?,
                renewal: self
                    .slots
                    .request(id)
                    .map(|r| {
                        Ok::<_, SaveError>(RenewalState {
                            renews: r.current().to_string(),
                            started_at: instant("renewal.started_at", r.started_at())?,
                            csr: base64_encode(r.csr_der()),
                            order: r.order().map(str::to_owned),
                            key: None,
                        })
                    })
                    .transpose()?,
            });
        }
        let holdings = self
            .topology
            .reports()
            .map(|(s, h)| {
                Ok(HoldingState {
                    server: s.to_string(),
                    reported_at: instant("holdings.reported_at", h.reported_at)?,
                    thumbprints: h.thumbprints.iter().map(ToString::to_string).collect(),
                })
            })
            .collect::<Result<_, SaveError>>()?;
        Ok(SavedState(State {
            format: STATE_FORMAT,
            revision: self.revision,
            clock: self.clock.map(|c| instant("clock", c)).transpose()?,
            sip_domain: self.configs.sip_domain().map(|s| s.sip_domain().to_owned()),
            types: self
                .configs
                .configured()
                .map(|(t, c)| TypeState {
                    cert_type: t.to_string(),
                    lead_time_seconds: seconds(c.get_lead_time()),
                    accept_previous: c.get_accept_previous(),
                    require_private_key: c.get_require_private_key(),
                    require_staged: c.get_require_staged(),
                    policy: policy_state(c.get_policy()),
                    rollover: Some(rollover_state(&c.get_rollover())),
                    require_fetched_by: c.get_require_fetched_by().iter().cloned().collect(),
                })
                .collect(),
            certificates: certificates.iter().map(|s| base64_encode(s.certificate.der())).collect(),
            keys: Vec::new(),
            slots,
            sites: self.topology.sites().map(ToOwned::to_owned).collect(),
            pools: self.topology.pools().map(|(p, s)| (p.to_owned(), s.to_owned())).collect(),
            servers: self.topology.servers().map(|(s, p)| (s.to_owned(), p.to_owned())).collect(),
            holdings,
            partners: self
                .topology
                .partners()
                .map(|(name, fetch)| {
                    Ok(PartnerState {
                        name: name.to_owned(),
                        fetched_at: fetch
                            .map(|f| instant("partners.fetched_at", f.fetched_at))
                            .transpose()?,
                        thumbprints: fetch
                            .map(|f| f.thumbprints.iter().map(ToString::to_string).collect())
                            .unwrap_or_default(),
                    })
                })
                .collect::<Result<_, SaveError>>()?,
            issuer_expiries: certificates
                .iter()
                .filter_map(|s| s.issuer_expiry.map(|e| (s.certificate.thumbprint(), e)))
                .map(|(thumbprint, e)| {
                    Ok(IssuerExpiryState {
                        certificate: thumbprint.to_string(),
                        issuer: e.issuer.to_string(),
                        not_after: instant("issuer_expiries.not_after", e.not_after)?,
                    })
                })
                .collect::<Result<_, SaveError>>()?,
        }))
    }

    /// Every private key the store holds, each sealed in a PFX of its certificate protected by
    /// `password` (salts and IVs from `rng`), in thumbprint order: the keys of
    /// [`Store::to_state_with_keys`], for [`SavedState::with_keys`].
    ///
    /// # Errors
    /// [`SaveError::Key`] when a key cannot be exported.
    pub fn sealed_keys(
        &self,
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Vec<SealedKey>, SaveError> {
        let mut stored: Vec<&StoredCertificate> = self.inventory.iter().filter(|s| s.key.is_some()).collect();
        stored.sort_by_key(|s| s.certificate.thumbprint());
        let mut keys = Vec::with_capacity(stored.len());
        for s in stored {
            if let Some(key) = &s.key {
                let thumbprint = s.certificate.thumbprint();
                let pfx = Pfx::export(&s.certificate, key, &[], password, options, rng)
                    .map_err(|source| SaveError::Key { thumbprint, source })?;
                keys.push(SealedKey::new(thumbprint, pfx));
            }
        }
        Ok(keys)
    }

    /// The keys of the renewals in progress ([`Store::renewal_requests`]), each as encrypted
    /// PKCS #8 (PBES2: PBKDF2-HMAC-SHA-256 with `options`' iteration count, AES-256-CBC) under
    /// `password`, by slot: what [`SavedState::with_renewal_keys`] puts in a state.
    ///
    /// # Errors
    /// [`SaveError::RenewalKey`] when a key cannot be encrypted.
    pub fn sealed_renewal_keys(
        &self,
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Vec<SealedRenewalKey>, SaveError> {
        let iterations = options.iteration_count().clamp(1, Pkcs8Options::MAX_ITERATIONS);
        let pkcs8 = Pkcs8Options::default().iterations(iterations).unwrap_or_default();
        let mut out = Vec::new();
        for (cert_type, scope, request) in self.renewal_requests() {
            let Some(key) = request.key() else { continue };
            let sealed = key
                .to_encrypted_pkcs8_der(password, pkcs8, rng)
                .map_err(|source| SaveError::RenewalKey { thumbprint: request.current(), source })?;
            out.push(SealedRenewalKey {
                cert_type: cert_type.to_string(),
                scope: scope.to_string(),
                key: sealed,
            });
        }
        Ok(out)
    }

    /// The state as a value with every private key the store holds, each sealed in a PFX
    /// protected by `password` (salts and IVs from `rng`), and the keys of the renewals in
    /// progress ([`Store::sealed_renewal_keys`]): what [`Store::to_json_with_keys`] writes.
    ///
    /// # Errors
    /// As [`Store::to_state`], and [`SaveError::Key`] when a key cannot be exported.
    pub fn to_state_with_keys(
        &self,
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<SavedState, SaveError> {
        let state = self.to_state()?;
        let renewal_keys = self.sealed_renewal_keys(password, options, rng)?;
        Ok(state.with_keys(self.sealed_keys(password, options, rng)?).with_renewal_keys(renewal_keys))
    }

    /// The state as JSON, without private keys ([`Store::to_state`], pretty-printed).
    /// Deterministic: the same store gives the same text.
    ///
    /// # Errors
    /// As [`Store::to_state`].
    pub fn to_json(&self) -> Result<String, SaveError> {
        pretty(&self.to_state()?)
    }

    /// The state as JSON with every private key the store holds, each in a PFX protected by
    /// `password` (salts and IVs from `rng`): [`Store::to_state_with_keys`], pretty-printed.
    ///
    /// # Errors
    /// As [`Store::to_state_with_keys`].
    pub fn to_json_with_keys(
        &self,
        password: &Password,
        options: &ExportOptions,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<String, SaveError> {
        pretty(&self.to_state_with_keys(password, options, rng)?)
    }

    /// Loads a state written by [`Store::to_json`] (keys in it are ignored), in format 2 or 1.
    ///
    /// # Errors
    /// [`LoadError`]: malformed JSON, an unsupported format, bad certificates, names or policies,
    /// dangling references, impossible slots.
    pub fn from_json(json: &str) -> Result<Self, LoadError> {
        Self::build(&SavedState::from_json(json)?.0, None)
    }

    /// Loads a state written by [`Store::to_json_with_keys`], importing the keys with `password`.
    ///
    /// # Errors
    /// As [`Store::from_json`], and [`LoadError::Key`] for a key that does not import.
    pub fn from_json_with_keys(json: &str, password: &Password) -> Result<Self, LoadError> {
        Self::build(&SavedState::from_json(json)?.0, Some((password, &mut |_: &SealedKey| None)))
    }

    /// Loads a state value (keys in it are ignored).
    ///
    /// # Errors
    /// [`LoadError`]: bad certificates, names or policies, dangling references, impossible slots.
    pub fn from_state(state: &SavedState) -> Result<Self, LoadError> {
        Self::build(&state.0, None)
    }

    /// Loads a state value with its sealed private keys, importing them with `password`.
    ///
    /// # Errors
    /// As [`Store::from_state`], and [`LoadError::Key`] for a key that does not import (or does
    /// not hold its certificate), [`LoadError::DanglingThumbprint`] for a key of a certificate the
    /// state does not hold.
    pub fn from_state_with_keys(state: &SavedState, password: &Password) -> Result<Self, LoadError> {
        Self::build(&state.0, Some((password, &mut |_: &SealedKey| None)))
    }

    /// As [`Store::from_state_with_keys`], taking from `known` the keys the caller opened
    /// already: for each sealed key, `known` returns its private key when it has opened these
    /// very bytes before (with `password`), and the key is not opened again; else `None`, and it
    /// is imported with `password`. Opening a sealed key (thousands of hash rounds) is most of a
    /// load's time, and a state read again after another writer's change mostly holds the same
    /// sealed keys. A key from `known` must still belong to its certificate.
    ///
    /// # Errors
    /// As [`Store::from_state_with_keys`].
    pub fn from_state_with_known_keys(
        state: &SavedState,
        password: &Password,
        mut known: impl FnMut(&SealedKey) -> Option<PrivateKey>,
    ) -> Result<Self, LoadError> {
        Self::build(&state.0, Some((password, &mut known)))
    }

    fn build(state: &State, keys: Option<KeySource<'_>>) -> Result<Self, LoadError> {
        let sip_domain = match &state.sip_domain {
            Some(domain) => Some(
                SubjectRule::new(domain)
                    .map_err(|_| LoadError::BadName { kind: "SIP domain", value: domain.clone() })?,
            ),
            None => None,
        };
        let mut store = Store {
            revision: state.revision,
            clock: state.clock.as_deref().map(|c| parse_instant("clock", c)).transpose()?,
            configs: Configs::new(sip_domain),
            ..Store::default()
        };
        for t in &state.types {
            let cert_type: CertType =
                t.cert_type.parse().map_err(name_error("certificate type", &t.cert_type))?;
            let lead_time = parse_seconds("lead time", t.lead_time_seconds)?;
            let rollover = match &t.rollover {
                Some(r) => build_rollover(r)?,
                None => RolloverPolicy::fitted(&cert_type, lead_time, t.accept_previous),
            };
            let config = TypeConfig::for_type(&cert_type, None)
                .policy(build_policy(&cert_type, &t.policy)?)
                .lead_time(lead_time)
                .accept_previous(t.accept_previous)
                .require_private_key(t.require_private_key)
                .require_staged(t.require_staged)
                .require_fetched_by(&t.require_fetched_by)
                .rollover(rollover);
            config
                .check()
                .map_err(|source| LoadError::BadRollover { cert_type: cert_type.clone(), source })?;
            if store.configs.configured().any(|(c, _)| *c == cert_type) {
                return Err(LoadError::BadName {
                    kind: "type configured twice",
                    value: cert_type.to_string(),
                });
            }
            store.configs.set(cert_type, config);
        }
        let password = keys.as_ref().map(|(password, _)| *password);
        store.load_certificates(state, keys)?;
        store.load_topology(state)?;
        store.load_slots(state, password)?;
        // What was built is the state as loaded, not changes to it.
        store.commit();
        Ok(store)
    }

    fn load_certificates(&mut self, state: &State, keys: Option<KeySource<'_>>) -> Result<(), LoadError> {
        for (index, b64) in state.certificates.iter().enumerate() {
            let der = base64_decode(b64).map_err(|source| LoadError::BadCertificate { index, source })?;
            let certificate =
                Certificate::from_der(&der).map_err(|source| LoadError::BadCertificate { index, source })?;
            if !self.inventory.contains(&certificate.thumbprint())
                && self.inventory.put(certificate, None, None).is_none()
            {
                return Err(LoadError::BadName { kind: "certificate count", value: index.to_string() });
            }
        }
        for e in &state.issuer_expiries {
            let thumbprint = parse_thumbprint(&e.certificate)?;
            let issuer = parse_thumbprint(&e.issuer)?;
            let not_after = parse_instant("issuer_expiries.not_after", &e.not_after)?;
            let stored = self.inventory.get(&thumbprint).ok_or_else(|| LoadError::DanglingThumbprint {
                context: "an issuer's expiry".into(),
                thumbprint,
            })?;
            let certificate = stored.certificate.clone();
            self.inventory.put(certificate, None, Some(IssuerExpiry { issuer, not_after }));
        }
        let Some((password, known)) = keys else { return Ok(()) };
        for k in &state.keys {
            let thumbprint = k.thumbprint();
            if let Some(key) = known(k) {
                let stored = self.inventory.get(&thumbprint).ok_or_else(|| {
                    LoadError::DanglingThumbprint { context: "a private key".into(), thumbprint }
                })?;
                if key.matches(&stored.certificate) != Some(true) {
                    return Err(LoadError::Key {
                        thumbprint,
                        source: PfxError::KeyMismatch { thumbprints: vec![thumbprint] },
                    });
                }
                let certificate = stored.certificate.clone();
                self.inventory.put(certificate, Some(key), None);
                continue;
            }
            // certslot seals every key it saves with a MAC and an encrypted key: a key that lacks
            // either was not written by a holder of the password, whatever it opens under.
            let options = ImportOptions::default().require_protection(true);
            let pfx = Pfx::import(k.pfx(), password, options)
                .map_err(|source| LoadError::Key { thumbprint, source })?;
            let (leaf, key, _) = pfx.into_parts();
            let stored = self.inventory.get(&thumbprint).ok_or_else(|| LoadError::DanglingThumbprint {
                context: "a private key".into(),
                thumbprint,
            })?;
            let Some(leaf) = leaf.filter(|leaf| *leaf == stored.certificate) else {
                return Err(LoadError::Key {
                    thumbprint,
                    source: PfxError::KeyMismatch { thumbprints: vec![thumbprint] },
                });
            };
            self.inventory.put(leaf, key, None);
        }
        Ok(())
    }

    fn load_topology(&mut self, state: &State) -> Result<(), LoadError> {
        for site in &state.sites {
            self.topology.add_site(normalize("site", site).map_err(name_error("site", site))?);
        }
        for (pool, site) in &state.pools {
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            let site_name = normalize("site", site).map_err(name_error("site", site))?;
            if !self.topology.has_site(&site_name) {
                return Err(LoadError::UnknownTopology {
                    context: format!("pool {pool}"),
                    kind: "site",
                    name: site.clone(),
                });
            }
            self.topology.add_pool(pool_name, site_name);
        }
        for (server, pool) in &state.servers {
            let server_name = normalize("server", server).map_err(name_error("server", server))?;
            let pool_name = normalize("pool", pool).map_err(name_error("pool", pool))?;
            if self.topology.site_of(&pool_name).is_none() {
                return Err(LoadError::UnknownTopology {
                    context: format!("server {server}"),
                    kind: "pool",
                    name: pool.clone(),
                });
            }
            self.topology.add_server(server_name, pool_name);
        }
        for h in &state.holdings {
            let name = normalize("server", &h.server).map_err(name_error("server", &h.server))?;
            if self.topology.pool_of(&name).is_none() {
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
            self.topology.report(&name, Holdings { thumbprints, reported_at });
        }
        for p in &state.partners {
            let name = normalize("partner", &p.name).map_err(name_error("partner", &p.name))?;
            self.topology.add_partner(name.clone());
            if let Some(at) = &p.fetched_at {
                let thumbprints: BTreeSet<Thumbprint> =
                    p.thumbprints.iter().map(|t| parse_thumbprint(t)).collect::<Result<_, _>>()?;
                let fetched_at = parse_instant("partners.fetched_at", at)?;
                if self.clock.is_none_or(|clock| fetched_at > clock) {
                    return Err(LoadError::BadInstant {
                        field: "partners.fetched_at (after the clock)",
                        value: at.clone(),
                    });
                }
                self.topology.record_fetch(&name, Fetch { thumbprints, fetched_at });
            }
        }
        for (cert_type, config) in self.configs.configured() {
            if let Some(unknown) =
                config.get_require_fetched_by().iter().find(|p| !self.topology.has_partner(p))
            {
                return Err(LoadError::UnknownTopology {
                    context: format!("{cert_type} rolls"),
                    kind: "partner",
                    name: unknown.clone(),
                });
            }
        }
        Ok(())
    }

    fn load_slots(&mut self, state: &State, password: Option<&Password>) -> Result<(), LoadError> {
        let mut seen = BTreeSet::new();
        for s in &state.slots {
            let cert_type: CertType =
                s.cert_type.parse().map_err(name_error("certificate type", &s.cert_type))?;
            let scope: Scope = s.scope.parse().map_err(name_error("scope", &s.scope))?;
            let context = format!("{cert_type} at {scope}");
            match &scope {
                Scope::Site(site) if !self.topology.has_site(site) => {
                    return Err(LoadError::UnknownTopology { context, kind: "site", name: site.to_string() });
                }
                Scope::Pool(pool) if self.topology.site_of(pool).is_none() => {
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
            let window = s
                .waiting_for_window
                .as_deref()
                .map(|w| parse_instant("waiting_for_window", w))
                .transpose()?;
            let blocked = !(s.blocked_by.is_empty() && s.waiting_for_partners.is_empty() && window.is_none());
            if blocked && pending.is_none() {
                return Err(impossible("a roll is blocked but none is pending"));
            }
            let renewal = match &s.renewal {
                None => None,
                Some(r) => {
                    let renews = parse_thumbprint(&r.renews)?;
                    if current.is_none_or(|c| c.thumbprint != renews) {
                        return Err(impossible("a renewal renews a certificate that is not current"));
                    }
                    if pending.is_some() {
                        return Err(impossible("a renewal is in progress while a roll is pending"));
                    }
                    let bytes = |field: &'static str, text: &str| {
                        base64_decode(text)
                            .map_err(|_| LoadError::BadName { kind: field, value: text.to_owned() })
                    };
                    let key = match (password, &r.key) {
                        (Some(password), Some(sealed)) => Some(
                            PrivateKey::from_encrypted_pkcs8_der(&bytes("renewal key", sealed)?, password)
                                .map_err(|source| LoadError::RenewalKey { thumbprint: renews, source })?,
                        ),
                        _ => None,
                    };
                    Some(RenewalRequest::loaded(
                        renews,
                        key,
                        bytes("renewal request", &r.csr)?,
                        parse_instant("renewal.started_at", &r.started_at)?,
                        r.order.clone(),
                    ))
                }
            };
            let Some(id) = self.slots.slot_id_or_new(&cert_type, &scope) else {
                return Err(LoadError::BadName { kind: "slot count", value: self.slots.len().to_string() });
            };
            let slot = Slot {
                current,
                previous,
                pending,
                warned: Warned { lead: s.warned_lead, expired: s.warned_expired },
            };
            if blocked {
                let blocked = Blocked {
                    servers: s.blocked_by.clone(),
                    partners: s.waiting_for_partners.clone(),
                    window,
                };
                self.slots.set_blocked(id, Some(blocked));
            }
            if renewal.is_some() {
                self.slots.set_request(id, renewal);
            }
            self.update_from(id, &[None; 5], |stored| *stored = slot);
        }
        Ok(())
    }
}

/// The state as pretty-printed JSON (two-space indents), the layout [`Store::to_json`] has
/// always written.
fn pretty(state: &SavedState) -> Result<String, SaveError> {
    serde_json::to_string_pretty(state).map_err(|e| SaveError::Json(e.to_string()))
}

/// The key of a renewal in progress, sealed for a state: its slot's type and scope, and the key
/// as encrypted PKCS #8 ([`Store::sealed_renewal_keys`]). `Debug` shows the slot only.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedRenewalKey {
    cert_type: String,
    scope: String,
    key: Vec<u8>,
}

impl core::fmt::Debug for SealedRenewalKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SealedRenewalKey")
            .field("cert_type", &self.cert_type)
            .field("scope", &self.scope)
            .finish()
    }
}

impl SavedState {
    /// The same state with `keys` as the keys of its renewals in progress (by slot; a key for a
    /// slot without a renewal is left out). [`Store::from_state_with_keys`] opens them with the
    /// state's password.
    #[must_use]
    pub fn with_renewal_keys(mut self, keys: impl IntoIterator<Item = SealedRenewalKey>) -> Self {
        for k in keys {
            let slot = self.0.slots.iter_mut().find(|s| s.cert_type == k.cert_type && s.scope == k.scope);
            if let Some(renewal) = slot.and_then(|s| s.renewal.as_mut()) {
                renewal.key = Some(base64_encode(&k.key));
            }
        }
        self
    }
}
