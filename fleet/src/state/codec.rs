//! The state value: certslot's [`SavedState`] as compact JSON (`serde_json::to_vec`, a third of
//! the size of [`Store::to_json`]'s pretty text; etcd limits a request to 1.5 MiB by default),
//! inside an envelope that the writers' MAC authenticates, with the agent keys an admin enrolled
//! and a keyed digest of what each server was handed:
//!
//! ```text
//! {"layout": "certslot-fleet/2",
//!  "body": {"state": {…SavedState…}, "agents": {"fe01.contoso.com": "xwing:…"},
//!           "handed": {"fe01.contoso.com": {"revision": 42, "digest": "…"}}},
//!  "mac": "<Base64 HMAC-SHA256 of the body's bytes>",
//!  "sig": "<Base64 ECDSA P-256 signature of the body's bytes>"}
//! ```
//!
//! The MAC is what writers check (they hold the password); the signature, by the writers' key
//! ([`WriterKeys`]), is what readers without the password check with the writers' public key:
//! the key server (`certslot-fleet serve`) publishes only keys from a state the writers signed
//! ([`decode_published`]).
//!
//! A value without the envelope is the layout of releases before it (the bare `SavedState`):
//! readers without the password still read it; writers refuse it
//! ([`StateError::OldLayout`]) until `certslot-fleet upgrade` rewrites it.
//!
//! Each write also hands every enrolled server what it must hold ([`Store::holds`]) as a
//! [`Delivery`] sealed to its agent key, in `/certslot/<cluster>/deliveries/<fqdn>`, but only
//! when that changed: the digest of each server's holds and agent key, kept in the body, says
//! which did. Deliveries go in the same transaction as the state.
//!
//! Sealing a private key (a PFX with fresh salts, thousands of hash rounds) costs far more than
//! the rest of a state, so a write reuses the sealed keys of the state it changed while the
//! certificates with keys are the same ones: the state without keys, given the previous value's
//! [`SealedKey`]s ([`SavedState::with_keys`]), which were opened with the same password when
//! that value was read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use base64ct::{Base64, Encoding as _};
use certslot::rand_core::UnwrapErr;
use certslot::{
    ExportOptions, Password, Store, Thumbprint,
    store::{SavedState, SealedKey},
};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use time::OffsetDateTime;

use crate::acme::StoredAcme;
use crate::seal::{AgentPublicKey, Delivery, DeliveryHeader, WriterKeys, WriterPublicKey};
use crate::state::error::StateError;

/// The envelope's layout name.
const LAYOUT: &str = "certslot-fleet/2";

/// The sealed private keys of a state value, in thumbprint order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealedKeys(Arc<[SealedKey]>);

impl SealedKeys {
    /// The certificates the keys belong to.
    fn thumbprints(&self) -> BTreeSet<Thumbprint> {
        self.0.iter().map(SealedKey::thumbprint).collect()
    }
}

/// What a server was last handed: the store revision of its delivery and the keyed digest of
/// its holds and agent key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Handed {
    revision: u64,
    digest: String,
}

/// The fleet's part of the state beside the store: the enrolled agent keys and what each
/// server was handed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Roster {
    agents: BTreeMap<String, AgentPublicKey>,
    handed: BTreeMap<String, Handed>,
    /// Each partner's credential (`token-sha256:<digest>`): what its key-server URL must hold.
    partners: BTreeMap<String, String>,
    /// Each certificate type's ACME settings, by type name (admin-only, like the partners).
    acme: BTreeMap<String, StoredAcme>,
    /// ACME account credentials by directory URL, sealed ([`WriterKeys::seal_secret`]):
    /// registered once by a coordinator, used by every later one.
    acme_accounts: BTreeMap<String, String>,
}

impl Roster {
    /// The agent key enrolled for `server`.
    pub(crate) fn agent(&self, server: &str) -> Option<&AgentPublicKey> {
        self.agents.get(server)
    }

    /// Enrols `key` for `server` (replacing an earlier one); false when it was already enrolled.
    pub(crate) fn enrol(&mut self, server: &str, key: AgentPublicKey) -> bool {
        self.agents.insert(server.to_owned(), key.clone()).is_none_or(|old| old != key)
    }

    /// Forgets what `server` was handed, so the next write hands it its delivery afresh; false
    /// when it was handed nothing.
    pub(crate) fn forget_handed(&mut self, server: &str) -> bool {
        self.handed.remove(server).is_some()
    }

    /// The servers handed a delivery, with the store revision it was written at.
    pub(crate) fn handed(&self) -> impl Iterator<Item = (&str, u64)> {
        self.handed.iter().map(|(s, h)| (s.as_str(), h.revision))
    }

    /// The enrolled servers and keys.
    pub(crate) fn agents(&self) -> impl Iterator<Item = (&str, &AgentPublicKey)> {
        self.agents.iter().map(|(s, k)| (s.as_str(), k))
    }

    /// The ACME settings of `cert_type`, if its renewals go to an ACME CA.
    pub(crate) fn acme(&self, cert_type: &str) -> Option<&StoredAcme> {
        self.acme.get(cert_type)
    }

    /// Sets (or with `None` removes) the ACME settings of `cert_type`; false when they were so
    /// already.
    pub(crate) fn set_acme(&mut self, cert_type: &str, settings: Option<StoredAcme>) -> bool {
        match settings {
            Some(s) => self.acme.insert(cert_type.to_owned(), s.clone()).is_none_or(|old| old != s),
            None => self.acme.remove(cert_type).is_some(),
        }
    }

    /// The sealed credentials of the account at `directory`.
    pub(crate) fn acme_account(&self, directory: &str) -> Option<&str> {
        self.acme_accounts.get(directory).map(String::as_str)
    }

    /// Keeps the sealed credentials of the account at `directory`; false when one was kept
    /// already (the first registered stays).
    pub(crate) fn keep_acme_account(&mut self, directory: &str, sealed: String) -> bool {
        match self.acme_accounts.entry(directory.to_owned()) {
            std::collections::btree_map::Entry::Occupied(_) => false,
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(sealed);
                true
            }
        }
    }

    /// Forgets the account at `directory` when its sealed credentials are still `sealed`
    /// (the CA no longer knows it); false otherwise.
    pub(crate) fn forget_acme_account(&mut self, directory: &str, sealed: &str) -> bool {
        match self.acme_accounts.get(directory) {
            Some(kept) if kept == sealed => self.acme_accounts.remove(directory).is_some(),
            _ => false,
        }
    }

    /// Sets a partner's credential (`None`: forgets it); false when it was so already.
    pub(crate) fn set_partner(&mut self, partner: &str, credential: Option<String>) -> bool {
        match credential {
            Some(c) => self.partners.insert(partner.to_owned(), c.clone()).is_none_or(|old| old != c),
            None => self.partners.remove(partner).is_some(),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    layout: &'a str,
    #[serde(borrow)]
    body: &'a RawValue,
    mac: String,
    sig: String,
}

/// How [`open_envelope`] authenticates a value: writers check its MAC (they hold the password),
/// readers without the password its signature; `Nothing` reads it unchecked (`get`, `export`
/// without the password).
#[derive(Clone, Copy)]
enum Check<'k> {
    Nothing,
    Mac(&'k WriterKeys),
    Signature(&'k WriterPublicKey),
}

/// What the writers' signature of a state covers: a fixed label, then the body's bytes.
fn signed_state(body: &[u8]) -> Vec<u8> {
    [b"certslot state signature v1\0".as_slice(), body].concat()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Body<'a> {
    /// The etcd version the key has once this value is written (a write compares the
    /// `mod_revision` it read, so it knows): a value written back later has another version.
    version: i64,
    #[serde(borrow)]
    state: &'a RawValue,
    agents: BTreeMap<String, String>,
    handed: BTreeMap<String, Handed>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    partners: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    acme: BTreeMap<String, StoredAcme>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    acme_accounts: BTreeMap<String, String>,
}

/// A state value encoded: the bytes, the keys it holds sealed, its roster, and the deliveries
/// to write with it (`None`: delete the server's delivery).
pub(crate) struct Encoded {
    pub(crate) value: Vec<u8>,
    pub(crate) sealed: SealedKeys,
    pub(crate) roster: Roster,
    pub(crate) deliveries: Deliveries,
    /// The admin seal to write with it (an admin's write), if any.
    pub(crate) admin_seal: Option<Vec<u8>>,
    /// The key's etcd version once it is written.
    pub(crate) version: i64,
}

/// What a writer needs to encode: the password of the private keys and the writers' keys.
pub(crate) struct Writer<'a> {
    pub(crate) password: &'a Password,
    pub(crate) keys: &'a WriterKeys,
    pub(crate) cluster: &'a str,
}

/// The certificates of `store` whose private keys it holds.
fn keyed(store: &Store) -> BTreeSet<Thumbprint> {
    store.inventory().iter().filter(|s| s.key.is_some()).map(|s| s.certificate.thumbprint()).collect()
}

/// The value written for `store` and `roster`, private keys in PFX protected by the password:
/// the keys of `previous` when they are the keys `store` holds, else sealed afresh; and the
/// deliveries of the servers whose holds at `at` (or agent key) changed since `roster` was
/// written, or of every enrolled server when `all`. `version` is the etcd version the key will
/// have once the value is written.
pub(crate) fn encode(
    store: &Store,
    roster: &Roster,
    writer: &Writer<'_>,
    previous: Option<&SealedKeys>,
    at: OffsetDateTime,
    all: bool,
    version: i64,
) -> Result<Encoded, StateError> {
    let state = store.to_state().map_err(|source| StateError::Save { source })?;
    let mut rng = UnwrapErr(getrandom::SysRng);
    let sealed = match previous {
        Some(previous) if previous.thumbprints() == keyed(store) => previous.clone(),
        _ => {
            let keys = store
                .sealed_keys(writer.password, &ExportOptions::default(), &mut rng)
                .map_err(|source| StateError::Save { source })?;
            SealedKeys(keys.into())
        }
    };
    // A renewal's request key, kept while the CA answers (minutes): sealed afresh at each write,
    // there is at most one per slot and only while a renewal is in progress.
    let renewal_keys = store
        .sealed_renewal_keys(writer.password, &ExportOptions::default(), &mut rng)
        .map_err(|source| StateError::Save { source })?;
    let state = state.with_keys(sealed.0.iter().cloned()).with_renewal_keys(renewal_keys);
    let state = serde_json::to_string(&state).map_err(|source| StateError::Json { source })?;
    let (handed, deliveries) = deliver(store, roster, writer, at, all)?;
    let roster = Roster { handed, ..roster.clone() };
    let agents = roster.agents.iter().map(|(s, k)| (s.clone(), k.to_string())).collect();
    let state = RawValue::from_string(state).map_err(|source| StateError::Json { source })?;
    let body = Body {
        version,
        state: &state,
        agents,
        handed: roster.handed.clone(),
        partners: roster.partners.clone(),
        acme: roster.acme.clone(),
        acme_accounts: roster.acme_accounts.clone(),
    };
    let body =
        RawValue::from_string(serde_json::to_string(&body).map_err(|source| StateError::Json { source })?)
            .map_err(|source| StateError::Json { source })?;
    let mac = Base64::encode_string(&writer.keys.mac(body.get().as_bytes()));
    let sig = Base64::encode_string(&writer.keys.sign(&signed_state(body.get().as_bytes())));
    let value = serde_json::to_vec(&Envelope { layout: LAYOUT, body: &body, mac, sig })
        .map_err(|source| StateError::Json { source })?;
    Ok(Encoded { value, sealed, roster, deliveries, admin_seal: None, version })
}

/// Deliveries to write: a server's value, or `None` to delete it.
type Deliveries = Vec<(String, Option<Vec<u8>>)>;

/// The deliveries to write for `store`: see [`encode`].
fn deliver(
    store: &Store,
    roster: &Roster,
    writer: &Writer<'_>,
    at: OffsetDateTime,
    all: bool,
) -> Result<(BTreeMap<String, Handed>, Deliveries), StateError> {
    let mut handed = BTreeMap::new();
    let mut to_seal = Vec::new();
    for (server, _) in store.topology().servers() {
        let Some(agent) = roster.agents.get(server) else { continue };
        let Ok(holds) = store.holds(server, at) else { continue };
        let contents = [agent.fingerprint().as_bytes(), b"\0", &Delivery::holds_json(&holds)].concat();
        let digest = Base64::encode_string(&writer.keys.digest(&contents));
        match roster.handed.get(server) {
            Some(before) if !all && before.digest == digest => {
                handed.insert(server.to_owned(), before.clone());
            }
            _ => {
                let keys = holds
                    .iter()
                    .filter_map(|h| {
                        let stored = store.inventory().get(&h.desired.thumbprint)?;
                        Some((h.desired.thumbprint, (stored.certificate.clone(), stored.key.clone()?)))
                    })
                    .collect();
                let header = DeliveryHeader {
                    format: 1,
                    cluster: writer.cluster.to_owned(),
                    server: server.to_owned(),
                    revision: store.revision(),
                    agent_key: String::new(),
                    writer_key: String::new(),
                };
                to_seal.push((server.to_owned(), agent, Delivery::new(header, holds, keys)));
                handed.insert(server.to_owned(), Handed { revision: store.revision(), digest });
            }
        }
    }
    let mut deliveries = seal_all(to_seal, writer.keys)?;
    // Servers no longer enrolled or in the topology: their deliveries go.
    for server in roster.handed.keys().filter(|s| !handed.contains_key(*s)) {
        deliveries.push((server.clone(), None));
    }
    Ok((handed, deliveries))
}

/// Seals deliveries (about a millisecond each: an X-Wing encapsulation and a signature), on as
/// many threads as the machine has cores when there are several (measured: a roll handed to 50
/// servers took 47 ms of the writer's time on one thread).
fn seal_all(
    to_seal: Vec<(String, &AgentPublicKey, Delivery)>,
    keys: &WriterKeys,
) -> Result<Deliveries, StateError> {
    let seal = |chunk: &[(String, &AgentPublicKey, Delivery)]| -> Result<Deliveries, StateError> {
        let mut rng = UnwrapErr(getrandom::SysRng);
        chunk
            .iter()
            .map(|(server, agent, delivery)| {
                let value = delivery
                    .seal(agent, keys, &mut rng)
                    .map_err(|source| StateError::Deliver { server: server.clone(), source })?;
                Ok((server.clone(), Some(value)))
            })
            .collect()
    };
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    if to_seal.len() < 4 || threads < 2 {
        return seal(&to_seal);
    }
    let size = to_seal.len().div_ceil(threads);
    let sealed: Vec<Result<Deliveries, StateError>> = std::thread::scope(|scope| {
        let mut chunks = to_seal.chunks(size);
        let first = chunks.next().unwrap_or_default();
        let others: Vec<_> = chunks.map(|chunk| scope.spawn(move || seal(chunk))).collect();
        let mut all = vec![seal(first)];
        all.extend(others.into_iter().map(|h| h.join().unwrap_or(Err(StateError::Interrupted))));
        all
    });
    let mut deliveries = Vec::with_capacity(to_seal.len());
    for chunk in sealed {
        deliveries.extend(chunk?);
    }
    Ok(deliveries)
}

/// How a value was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// The envelope, its MAC checked (when read with the writers' keys).
    Current,
    /// The bare state of releases before the envelope.
    Old,
}

/// A value decoded.
pub(crate) struct Decoded {
    pub(crate) store: Store,
    pub(crate) sealed: SealedKeys,
    pub(crate) roster: Roster,
    pub(crate) layout: Layout,
}

/// The store a value holds, with its private keys when `writer` is given (its MAC checked
/// first; without it the keys are left out and nothing is checked: enough to read slots, drift
/// and timelines, not to write), its sealed keys, roster and layout. A value of the old layout
/// read with `writer` is [`StateError::OldLayout`] unless `old_layout` allows it (the upgrade,
/// a restore). With `version` (the key's etcd version as read) and `writer`, a value written
/// for another version (an earlier value written back) is [`StateError::Replayed`]. A sealed
/// key byte-equal to one of `opened`'s (a store loaded or written earlier with the same
/// password, and its sealed keys) is taken from that store instead of being opened again: opening is most of the time of a read, and after another writer's change the
/// keys are mostly the same.
pub(crate) fn decode(
    key: &str,
    value: &[u8],
    writer: Option<(&Password, &WriterKeys)>,
    opened: Option<(&Store, &SealedKeys)>,
    old_layout: bool,
    version: Option<i64>,
) -> Result<Decoded, StateError> {
    let refused = |source| StateError::Load { key: key.to_owned(), source };
    let json = std::str::from_utf8(value)
        .map_err(|e| StateError::NotUtf8 { key: key.to_owned(), valid_up_to: e.valid_up_to() })?;
    let check = writer.map_or(Check::Nothing, |(_, keys)| Check::Mac(keys));
    let (state_json, roster, layout) = match open_envelope(key, json, check)? {
        Some((written_as, state, roster)) => {
            if let (Some(found), Some(_)) = (version, writer) {
                if found != written_as {
                    return Err(StateError::Replayed { key: key.to_owned(), written_as, found });
                }
            }
            (state, roster, Layout::Current)
        }
        None => (json, Roster::default(), Layout::Old),
    };
    if layout == Layout::Old && writer.is_some() && !old_layout {
        // Only a value that loads as an old state is one: anything else is refused as foreign.
        SavedState::from_json(json).map_err(refused)?;
        return Err(StateError::OldLayout { key: key.to_owned() });
    }
    let state = SavedState::from_json(state_json).map_err(refused)?;
    let store = match writer {
        Some((password, _)) => Store::from_state_with_known_keys(&state, password, |sealed| {
            let (store, keys) = opened?;
            keys.0.contains(sealed).then(|| store.inventory().get(&sealed.thumbprint())?.key.clone())?
        }),
        None => Store::from_state(&state),
    }
    .map_err(refused)?;
    Ok(Decoded { store, sealed: SealedKeys(state.keys().into()), roster, layout })
}

/// The keyed digest of the part of a state only admins change: its topology (sites, pools,
/// servers, not their reports) and the enrolled agent keys.
fn admin_digest(store: &Store, roster: &Roster, keys: &WriterKeys) -> String {
    let topology = store.topology();
    let part = (
        topology.sites().collect::<Vec<_>>(),
        topology.pools().collect::<Vec<_>>(),
        topology.servers().collect::<Vec<_>>(),
        roster.agents.iter().map(|(s, k)| (s.as_str(), k.fingerprint())).collect::<Vec<_>>(),
    );
    let mut json = serde_json::to_vec(&part).unwrap_or_default();
    // The partners and their credentials, once there are any (states without them keep their
    // digest).
    if !roster.partners.is_empty() {
        json.extend(serde_json::to_vec(&roster.partners).unwrap_or_default());
    }
    // The ACME settings likewise (not the accounts, which coordinators register).
    if !roster.acme.is_empty() {
        json.extend(b"\0acme\0");
        json.extend(serde_json::to_vec(&roster.acme).unwrap_or_default());
    }
    Base64::encode_string(&keys.digest(&[b"admin part\0".as_slice(), &json].concat()))
}

/// The admin seal, in `/certslot/<cluster>/admin`, which only admins may write: the digest of
/// the admin-only part of the state they last wrote, MAC'd.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminSeal {
    digest: String,
    mac: String,
}

/// The admin seal of `store` and `roster`.
pub(crate) fn admin_seal(store: &Store, roster: &Roster, keys: &WriterKeys) -> Vec<u8> {
    let digest = admin_digest(store, roster, keys);
    let mac = Base64::encode_string(&keys.mac(&[b"admin seal\0".as_slice(), digest.as_bytes()].concat()));
    serde_json::to_vec(&AdminSeal { digest, mac }).unwrap_or_default()
}

/// Whether `after` changes the admin-only part of `before` (topology, enrolments).
pub(crate) fn changes_admin_part(
    before: (&Store, &Roster),
    after: (&Store, &Roster),
    keys: &WriterKeys,
) -> bool {
    admin_digest(before.0, before.1, keys) != admin_digest(after.0, after.1, keys)
}

/// Checks that the admin-only part of `store` and `roster` is the one the admin seal `seal`
/// (the value of `seal_key`) was written for.
///
/// # Errors
/// [`StateError::AdminSeal`] for a missing or foreign seal, or one of another topology.
pub(crate) fn check_admin_seal(
    seal: Option<&[u8]>,
    seal_key: &str,
    store: &Store,
    roster: &Roster,
    keys: &WriterKeys,
) -> Result<(), StateError> {
    let refused = |why: &'static str| StateError::AdminSeal { key: seal_key.to_owned(), why };
    let seal = seal.ok_or(refused("there is none"))?;
    let seal: AdminSeal = serde_json::from_slice(seal).map_err(|_| refused("it is not an admin seal"))?;
    let tag = Base64::decode_vec(&seal.mac).unwrap_or_default();
    if !keys.mac_verifies(&[b"admin seal\0".as_slice(), seal.digest.as_bytes()].concat(), &tag) {
        return Err(refused("its MAC does not verify with this password"));
    }
    if seal.digest != admin_digest(store, roster, keys) {
        return Err(refused("the state's topology or enrolled agents are not the ones an admin wrote"));
    }
    Ok(())
}

/// The roster of a value of the current layout whose MAC verifies with `keys`.
pub(crate) fn roster_of(value: &[u8], keys: &WriterKeys) -> Option<Roster> {
    let json = std::str::from_utf8(value).ok()?;
    open_envelope("", json, Check::Mac(keys)).ok()?.map(|(_, _, roster)| roster)
}

/// A value of the current layout opened: the etcd version it was written for, its saved
/// state's JSON and its roster, its MAC checked first when `keys` are given. `None` for a value
/// without the envelope (the earlier layout, or something foreign).
fn open_envelope<'a>(
    key: &str,
    json: &'a str,
    check: Check<'_>,
) -> Result<Option<(i64, &'a str, Roster)>, StateError> {
    let Ok(envelope) = serde_json::from_str::<Envelope<'a>>(json) else { return Ok(None) };
    if envelope.layout != LAYOUT {
        return Err(StateError::UnknownLayout { key: key.to_owned(), layout: envelope.layout.to_owned() });
    }
    let body_bytes = envelope.body.get().as_bytes();
    match check {
        Check::Nothing => {}
        Check::Mac(keys) => {
            let tag = Base64::decode_vec(&envelope.mac).unwrap_or_default();
            if !keys.mac_verifies(body_bytes, &tag) {
                return Err(StateError::Unauthenticated { key: key.to_owned() });
            }
        }
        Check::Signature(writer) => {
            let signature = Base64::decode_vec(&envelope.sig).unwrap_or_default();
            if !writer.verifies(&signed_state(body_bytes), &signature) {
                return Err(StateError::NotSigned { key: key.to_owned(), writer: writer.fingerprint() });
            }
        }
    }
    let body: Body<'a> = serde_json::from_str(envelope.body.get()).map_err(|e| StateError::Load {
        key: key.to_owned(),
        source: certslot::LoadError::Json(e.to_string()),
    })?;
    let mut agents = BTreeMap::new();
    for (server, text) in body.agents {
        let agent = text
            .parse()
            .map_err(|_| StateError::BadAgentKey { key: key.to_owned(), server: server.clone() })?;
        agents.insert(server, agent);
    }
    Ok(Some((
        body.version,
        body.state.get(),
        Roster {
            agents,
            handed: body.handed,
            partners: body.partners,
            acme: body.acme,
            acme_accounts: body.acme_accounts,
        },
    )))
}

/// A state as a reader without the password reads it ([`decode_published`]).
pub(crate) struct ReadState {
    /// The store, without private keys.
    pub(crate) store: Store,
    /// Each partner's credential.
    pub(crate) partners: BTreeMap<String, String>,
}

/// A state value as a reader without the password takes it (the key server): its envelope's
/// signature checked with the writers' public key, its version against the key's etcd
/// `version` (`None`: not checked), the store loaded without private keys, with the partners'
/// credentials.
///
/// # Errors
/// [`StateError::OldLayout`] for a value of the layout before signed states,
/// [`StateError::NotSigned`], [`StateError::Replayed`], or a value that is not a state.
pub(crate) fn decode_published(
    key: &str,
    value: &[u8],
    writer: &WriterPublicKey,
    version: Option<i64>,
) -> Result<ReadState, StateError> {
    let json = std::str::from_utf8(value)
        .map_err(|e| StateError::NotUtf8 { key: key.to_owned(), valid_up_to: e.valid_up_to() })?;
    let Some((written_as, state, roster)) = open_envelope(key, json, Check::Signature(writer))? else {
        return match SavedState::from_json(json) {
            Ok(_) => Err(StateError::OldLayout { key: key.to_owned() }),
            Err(source) => Err(StateError::Load { key: key.to_owned(), source }),
        };
    };
    if let Some(found) = version.filter(|found| *found != written_as) {
        return Err(StateError::Replayed { key: key.to_owned(), written_as, found });
    }
    let refused = |source| StateError::Load { key: key.to_owned(), source };
    let store = Store::from_state(&SavedState::from_json(state).map_err(refused)?).map_err(refused)?;
    Ok(ReadState { store, partners: roster.partners })
}

/// The JSON of the [`SavedState`] a state value holds (of this release's layout or an earlier
/// one), unchecked: what `certslot-fleet export` shows as JSON; `None` for a value that is
/// neither.
pub fn state_json(value: &[u8]) -> Option<&str> {
    let json = std::str::from_utf8(value).ok()?;
    match serde_json::from_str::<Envelope<'_>>(json) {
        Ok(envelope) => {
            let body: Body<'_> = serde_json::from_str(envelope.body.get()).ok()?;
            Some(body.state.get())
        }
        Err(_) => Some(json),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The writers' keys of cluster "k" for each password, derived once.
    fn writer_keys(password: &str) -> WriterKeys {
        static KEYS: std::sync::Mutex<BTreeMap<String, WriterKeys>> = std::sync::Mutex::new(BTreeMap::new());
        let mut keys = KEYS.lock().unwrap();
        keys.entry(password.to_owned())
            .or_insert_with(|| WriterKeys::derive(&Password::new(password), "k"))
            .clone()
    }

    fn at() -> OffsetDateTime {
        time::macros::datetime!(2026-11-25 9:00 UTC)
    }

    /// `encode` with no agents enrolled.
    fn encode_with(store: &Store, password: &str, previous: Option<&SealedKeys>) -> (Vec<u8>, SealedKeys) {
        let (password_value, keys) = (Password::new(password), writer_keys(password));
        let writer = Writer { password: &password_value, keys: &keys, cluster: "k" };
        let encoded = encode(store, &Roster::default(), &writer, previous, at(), false, 1).unwrap();
        assert!(encoded.deliveries.is_empty());
        (encoded.value, encoded.sealed)
    }

    /// `decode` with the writers' keys of `password`.
    fn decode_with(
        value: &[u8],
        password: Option<&str>,
        opened: Option<(&Store, &SealedKeys)>,
    ) -> Result<(Store, SealedKeys), StateError> {
        let owned = password.map(|p| (Password::new(p), writer_keys(p)));
        let writer = owned.as_ref().map(|(p, k)| (p, k));
        decode("k", value, writer, opened, false, None).map(|d| (d.store, d.sealed))
    }

    #[test]
    fn a_state_value_is_compact_json_that_loads_as_the_same_store() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        store.add_site("redmond").unwrap();
        store.add_pool("pool01.contoso.com", "redmond").unwrap();
        let (value, sealed) = encode_with(&store, "s3cret", None);
        assert!(!value.contains(&b'\n'));
        assert!(sealed.0.is_empty());
        // certslot's own JSON, compact, in the envelope.
        let pretty: serde_json::Value = serde_json::from_str(&store.to_json().unwrap()).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(state_json(&value).unwrap()).unwrap(), pretty);
        let (loaded, _) = decode_with(&value, Some("s3cret"), None).unwrap();
        assert_eq!(loaded.to_json().unwrap(), store.to_json().unwrap());
    }

    fn sample(name: &str) -> certslot::Pfx {
        let path = format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        certslot::Pfx::import(&bytes, &Password::new("P@ssw0rd"), certslot::ImportOptions::default()).unwrap()
    }

    #[test]
    fn sealed_keys_are_reused_while_the_keyed_certificates_are_the_same() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        let a = store.add_pfx(sample("openssl3-default.pfx")).unwrap();
        let (first, sealed) = encode_with(&store, "s3cret", None);
        assert_eq!(sealed.thumbprints(), [a].into());
        let (_, read) = decode_with(&first, Some("s3cret"), None).unwrap();
        assert_eq!(read, sealed);
        // The same keys: the same sealed bytes, and the value loads with its key.
        store.add_site("redmond").unwrap();
        let (second, again) = encode_with(&store, "s3cret", Some(&sealed));
        assert_eq!(again, sealed);
        let (loaded, _) = decode_with(&second, Some("s3cret"), None).unwrap();
        assert_eq!(loaded.to_json().unwrap(), store.to_json().unwrap());
        assert!(loaded.inventory().get(&a).unwrap().key.is_some());
        // A new key: sealed afresh, both keys load.
        let b = store.add_pfx(sample("openssl3-rsa2048-next.pfx")).unwrap();
        let (third, resealed) = encode_with(&store, "s3cret", Some(&sealed));
        assert_eq!(resealed.thumbprints(), [a, b].into());
        let (loaded, _) = decode_with(&third, Some("s3cret"), None).unwrap();
        assert!(
            loaded.inventory().get(&a).unwrap().key.is_some()
                && loaded.inventory().get(&b).unwrap().key.is_some()
        );
        // Keys opened before are taken from the store that opened them.
        let (first_store, first_sealed) = decode_with(&first, Some("s3cret"), None).unwrap();
        let (reused, _) = decode_with(&second, Some("s3cret"), Some((&first_store, &first_sealed))).unwrap();
        let spki = |store: &Store| {
            store.inventory().get(&a).unwrap().key.as_ref().unwrap().public_key_der().unwrap()
        };
        assert_eq!(spki(&reused), spki(&first_store));
        let (both, _) = decode_with(&third, Some("s3cret"), Some((&first_store, &first_sealed))).unwrap();
        assert!(both.inventory().get(&b).unwrap().key.is_some());
        // Another password: its MAC key refuses the value whole, before any key is opened.
        assert!(matches!(
            decode_with(&third, Some("other"), None),
            Err(StateError::Unauthenticated { key }) if key == "k"
        ));
        // Without a password the value reads, without its keys.
        let (bare, _) = decode_with(&third, None, None).unwrap();
        assert!(bare.inventory().get(&a).unwrap().key.is_none());
    }

    #[test]
    fn a_changed_body_or_an_old_layout_is_refused_to_writers() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        store.add_site("redmond").unwrap();
        let (value, _) = encode_with(&store, "s3cret", None);
        // One byte of the body changed (the site renamed): the MAC no longer verifies.
        let text = String::from_utf8(value.clone()).unwrap().replace("redmond", "redmont");
        assert!(matches!(
            decode_with(text.as_bytes(), Some("s3cret"), None),
            Err(StateError::Unauthenticated { .. })
        ));
        // The bare state of earlier releases: read without a password, refused to writers
        // until upgraded, taken when asked (the upgrade, a restore).
        let old = serde_json::to_vec(&store.to_state().unwrap()).unwrap();
        assert!(decode_with(&old, None, None).is_ok());
        let error = decode_with(&old, Some("s3cret"), None).err().unwrap();
        assert_eq!(
            error.to_string(),
            "the state at k has the layout of an earlier release; run `certslot-fleet upgrade` to move it to the authenticated layout"
        );
        let keys = writer_keys("s3cret");
        let decoded = decode("k", &old, Some((&Password::new("s3cret"), &keys)), None, true, None).unwrap();
        assert_eq!(decoded.layout, Layout::Old);
        assert_eq!(state_json(&old), std::str::from_utf8(&old).ok());
        let inner: serde_json::Value = serde_json::from_str(state_json(&value).unwrap()).unwrap();
        assert_eq!(inner, serde_json::from_slice::<serde_json::Value>(&old).unwrap());
        // A layout from the future.
        let future = String::from_utf8(value).unwrap().replace("certslot-fleet/2", "certslot-fleet/3");
        assert!(matches!(
            decode_with(future.as_bytes(), Some("s3cret"), None),
            Err(StateError::UnknownLayout { layout, .. }) if layout == "certslot-fleet/3"
        ));
    }

    #[test]
    fn readers_without_the_password_take_only_a_state_the_writers_signed() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        store.add_site("redmond").unwrap();
        let (value, _) = encode_with(&store, "s3cret", None);
        let public = writer_keys("s3cret").public().clone();
        // Found at the version it was written as (1).
        let read = decode_published("k", &value, &public, Some(1)).unwrap();
        assert_eq!(read.store.to_json().unwrap(), store.to_json().unwrap());
        // Another cluster's writers, or the body changed: refused, naming the key checked with.
        let other = writer_keys("other").public().clone();
        let error = decode_published("k", &value, &other, None).err().unwrap();
        assert_eq!(
            error.to_string(),
            format!(
                "the state at k is not signed by this cluster's writers (its signature does not verify with writer key {})",
                other.fingerprint()
            )
        );
        let changed = String::from_utf8(value.clone()).unwrap().replace("redmond", "redmont");
        assert!(matches!(
            decode_published("k", changed.as_bytes(), &public, None),
            Err(StateError::NotSigned { .. })
        ));
        // A signed value found at another version of the key: written back.
        assert!(matches!(
            decode_published("k", &value, &public, Some(7)),
            Err(StateError::Replayed { written_as: 1, found: 7, .. })
        ));
        // The earlier layout has no signature to check.
        let old = serde_json::to_vec(&store.to_state().unwrap()).unwrap();
        assert!(matches!(decode_published("k", &old, &public, None), Err(StateError::OldLayout { .. })));
        assert!(matches!(
            decode_published("k", b"garbage", &public, None),
            Err(StateError::Load { source: certslot::LoadError::Json(_), .. })
        ));
    }

    #[test]
    fn a_foreign_value_is_a_typed_error() {
        assert!(matches!(
            decode_with(b"\xff\xfe", None, None),
            Err(StateError::NotUtf8 { valid_up_to: 0, .. })
        ));
        assert!(matches!(
            decode_with(b"{\"format\": 99}", None, None),
            Err(StateError::Load { source: certslot::LoadError::UnsupportedFormat { format: 99 }, .. })
        ));
        assert!(matches!(
            decode_with(b"garbage", None, None),
            Err(StateError::Load { source: certslot::LoadError::Json(_), .. })
        ));
    }
}
