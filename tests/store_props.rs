//! Property tests of the store: random sequences of operations (set, roll, advance, cancel,
//! remove, rollback, topology), with instants that mostly move forward and sometimes step back,
//! checked after every step against the store's invariants:
//!
//! 1. a refused operation changes nothing (and an instant before the clock is always refused);
//! 2. a slot's current certificate is never lost except by `remove` of that slot;
//! 3. the previous certificate is the last displaced current (as the events report it), and
//!    never the current one;
//! 4. every scheduled roll that is not cancelled is applied exactly once, by `advance`, once due;
//! 5. `advance` is idempotent;
//! 6. the revision moves by one exactly when the saved state (`to_json_with_keys`, the revision
//!    itself aside) changes, and a refused operation leaves both as they were; `next_due` is not
//!    behind the clock after an advance;
//! 7. the state round-trips through JSON, and the reloaded store (whose schedule is rebuilt
//!    from the state) has the same `next_due` (a separate property).
//!
//! Each invariant is its own property (so each failure shrinks on its own), all driven by the
//! same generator and runner. A failure lists the ops up to the failing one, leaving out refused
//! ones (they change nothing while invariant 1 holds, and shrinking cannot always remove them).
//! The plain tests at the end run concrete sequences through the same checks; those named after
//! a defect reproduce what the properties found.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

use certslot::{
    CertType, Certificate, Event, ExportOptions, ImportOptions, Outcome, Password, Pfx, RollOptions, Scope,
    SlotError, Store, Thumbprint, TypeConfig,
    store::{PendingRoll, Slot},
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use time::format_description::well_known::Rfc3339;
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

// ----- fixtures ------------------------------------------------------------------------------

/// The first instant of the fixtures' validity, and their `notAfter` (year9999 aside).
const START: OffsetDateTime = datetime!(2026-01-01 0:00 UTC);
const NOT_AFTER: OffsetDateTime = datetime!(2036-01-01 0:00 UTC);
const END: OffsetDateTime = datetime!(2037-01-01 0:00 UTC);

/// The certificates the operations pick from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cert {
    Rsa2048,
    Rsa2048Next,
    Rsa4096,
    /// Breaks the default policy (key too small).
    Rsa1024,
    /// No private key; valid until 9999. Only AudioVideoAuthentication accepts it.
    NoKey9999,
    /// Not in the inventory.
    Unknown,
}

const CERTS: [Cert; 6] =
    [Cert::Rsa2048, Cert::Rsa2048Next, Cert::Rsa4096, Cert::Rsa1024, Cert::NoKey9999, Cert::Unknown];

struct Fixture {
    store: Store,
    thumbprints: [Thumbprint; 6],
}

impl Fixture {
    fn thumbprint(&self, cert: Cert) -> Thumbprint {
        self.thumbprints[CERTS.iter().position(|c| *c == cert).unwrap()]
    }
}

/// The store every sequence starts from (built once: PFX import runs a KDF): four PFX leaves,
/// the key-less certificate, site `redmond` with pool `pool01.contoso.com`, and
/// AudioVideoAuthentication configured not to require a private key.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        let mut pfx = |bytes: &[u8]| {
            let pfx = Pfx::import(bytes, &Password::new("P@ssw0rd"), ImportOptions::default()).unwrap();
            store.add_pfx(pfx).unwrap()
        };
        let rsa2048 = pfx(include_bytes!("data/pfx/openssl3-default.pfx"));
        let next = pfx(include_bytes!("data/pfx/openssl3-rsa2048-next.pfx"));
        let rsa4096 = pfx(include_bytes!("data/pfx/openssl3-rsa4096.pfx"));
        let rsa1024 = pfx(include_bytes!("data/pfx/openssl3-rsa1024.pfx"));
        let no_key =
            store.add_certificate(Certificate::from_der(include_bytes!("data/year9999.der")).unwrap(), None);
        let unknown = Thumbprint::from_bytes([0x42; 20]);
        store.add_site("redmond").unwrap();
        store.add_pool("pool01.contoso.com", "redmond").unwrap();
        let ava = CertType::AudioVideoAuthentication;
        store
            .configure_type(ava.clone(), TypeConfig::for_type(&ava, None).require_private_key(false))
            .expect("valid configuration");
        Fixture { store, thumbprints: [rsa2048, next, rsa4096, rsa1024, no_key, unknown] }
    })
}

// ----- operations ----------------------------------------------------------------------------

/// An instant, shown as RFC 3339 in the op listings.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct At(OffsetDateTime);

impl fmt::Debug for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.format(&Rfc3339).unwrap())
    }
}

#[derive(Clone, Copy, Debug)]
enum Opts {
    Plain,
    Force,
    IgnorePolicy,
    ForceIgnorePolicy,
}

impl Opts {
    fn get(self) -> RollOptions {
        match self {
            Opts::Plain => RollOptions::default(),
            Opts::Force => RollOptions::default().force(),
            Opts::IgnorePolicy => RollOptions::default().ignore_policy(),
            Opts::ForceIgnorePolicy => RollOptions::default().force().ignore_policy(),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Set { types: Vec<CertType>, scope: Scope, cert: Cert, at: At, opts: Opts },
    Roll { types: Vec<CertType>, scope: Scope, cert: Cert, effective: At, at: At, opts: Opts },
    Advance { at: At },
    CancelRoll { ty: CertType, scope: Scope, at: At },
    Remove { ty: CertType, scope: Scope, at: At },
    RemovePrevious { ty: CertType, scope: Scope, at: At },
    Rollback { ty: CertType, scope: Scope, at: At },
    AddSite { site: &'static str },
    AddPool { pool: &'static str, site: &'static str },
    AddServer { server: &'static str, pool: &'static str },
    RecordHoldings { server: &'static str, certs: Vec<Cert>, at: At },
    RemoveServer { server: &'static str },
    RemovePool { pool: &'static str },
    RemoveSite { site: &'static str },
}

impl Op {
    fn at(&self) -> Option<OffsetDateTime> {
        match self {
            Op::Set { at, .. }
            | Op::Roll { at, .. }
            | Op::Advance { at }
            | Op::CancelRoll { at, .. }
            | Op::Remove { at, .. }
            | Op::RemovePrevious { at, .. }
            | Op::Rollback { at, .. }
            | Op::RecordHoldings { at, .. } => Some(at.0),
            Op::AddSite { .. }
            | Op::AddPool { .. }
            | Op::AddServer { .. }
            | Op::RemoveServer { .. }
            | Op::RemovePool { .. }
            | Op::RemoveSite { .. } => None,
        }
    }

    fn apply(&self, store: &mut Store) -> Result<Outcome, SlotError> {
        let fx = fixture();
        match self {
            Op::Set { types, scope, cert, at, opts } => {
                store.set(types, scope, &fx.thumbprint(*cert), at.0, opts.get())
            }
            Op::Roll { types, scope, cert, effective, at, opts } => {
                store.roll(types, scope, &fx.thumbprint(*cert), effective.0, at.0, opts.get())
            }
            Op::Advance { at } => store.advance(at.0),
            Op::CancelRoll { ty, scope, at } => store.cancel_roll(ty, scope, at.0),
            Op::Remove { ty, scope, at } => store.remove(ty, scope, at.0),
            Op::RemovePrevious { ty, scope, at } => store.remove_previous(ty, scope, at.0),
            Op::Rollback { ty, scope, at } => store.rollback(ty, scope, at.0),
            Op::AddSite { site } => store.add_site(site),
            Op::AddPool { pool, site } => store.add_pool(pool, site),
            Op::AddServer { server, pool } => store.add_server(server, pool),
            Op::RecordHoldings { server, certs, at } => {
                store.record_holdings(server, certs.iter().map(|c| fx.thumbprint(*c)), at.0)
            }
            Op::RemoveServer { server } => store.remove_server(server),
            Op::RemovePool { pool } => store.remove_pool(pool),
            Op::RemoveSite { site } => store.remove_site(site),
        }
    }
}

// ----- generators ----------------------------------------------------------------------------

/// Instants where behaviour changes: the lead-time boundaries of the 24 h and 8 h types, the
/// fixtures' `notAfter` and just after it.
fn marks() -> [OffsetDateTime; 8] {
    let s = Duration::SECOND;
    let (d24, d8) = (Duration::hours(24), Duration::hours(8));
    [
        NOT_AFTER - d24 - s,
        NOT_AFTER - d24,
        NOT_AFTER - d8,
        NOT_AFTER - d8 + s,
        NOT_AFTER - s,
        NOT_AFTER,
        NOT_AFTER + s,
        START,
    ]
}

/// How an op's instant follows the previous one: mostly forward, sometimes a jump to a mark
/// (which may be in the past), sometimes back.
#[derive(Clone, Copy, Debug)]
enum Step {
    Same,
    Seconds(i64),
    Days(i64),
    Mark(usize),
    Back(i64),
}

/// When a roll takes effect, relative to the op's instant (negative: in the past) or at a mark.
#[derive(Clone, Copy, Debug)]
enum Effective {
    Offset(i64),
    Mark(usize),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        6 => Just(Step::Same),
        8 => (1..3 * 86_400i64).prop_map(Step::Seconds),
        4 => (1..90i64).prop_map(Step::Days),
        1 => (0..marks().len()).prop_map(Step::Mark),
        2 => (1..30 * 86_400i64).prop_map(Step::Back),
    ]
}

fn effective() -> impl Strategy<Value = Effective> {
    prop_oneof![
        2 => Just(Effective::Offset(0)),
        1 => (-2 * 86_400..0i64).prop_map(Effective::Offset),
        4 => (1..60 * 86_400i64).prop_map(Effective::Offset),
        1 => (60 * 86_400..800 * 86_400i64).prop_map(Effective::Offset),
        2 => (0..marks().len()).prop_map(Effective::Mark),
    ]
}

/// Weighted so that ops often meet in the same slot.
fn cert_type() -> impl Strategy<Value = CertType> {
    prop_oneof![
        6 => Just(CertType::OAuthTokenIssuer),
        2 => Just(CertType::AudioVideoAuthentication),
        1 => Just(CertType::Default),
    ]
}

/// Mostly one type, sometimes two (possibly the same twice), rarely none.
fn cert_types() -> impl Strategy<Value = Vec<CertType>> {
    prop_oneof![
        1 => Just(Vec::new()),
        16 => cert_type().prop_map(|t| vec![t]),
        3 => proptest::collection::vec(cert_type(), 2),
    ]
}

/// Mostly global, else site redmond and pool01 (in the topology), and rarely paris and pool02
/// (only once added by `AddSite`/`AddPool`).
fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        10 => Just(Scope::Global),
        2 => Just(Scope::site("redmond").unwrap()),
        2 => Just(Scope::pool("pool01.contoso.com").unwrap()),
        1 => Just(Scope::site("paris").unwrap()),
        1 => Just(Scope::pool("pool02.contoso.com").unwrap()),
    ]
}

fn cert() -> impl Strategy<Value = Cert> {
    prop_oneof![
        4 => Just(Cert::Rsa2048),
        4 => Just(Cert::Rsa2048Next),
        3 => Just(Cert::Rsa4096),
        1 => Just(Cert::Rsa1024),
        2 => Just(Cert::NoKey9999),
        1 => Just(Cert::Unknown),
    ]
}

fn opts() -> impl Strategy<Value = Opts> {
    prop_oneof![
        8 => Just(Opts::Plain),
        2 => Just(Opts::Force),
        1 => Just(Opts::IgnorePolicy),
        1 => Just(Opts::ForceIgnorePolicy),
    ]
}

/// One op with placeholder instants (filled in by `ops`).
fn op() -> impl Strategy<Value = Op> {
    let at = At(START);
    let site = prop_oneof![Just("redmond"), Just("paris"), Just("atlantis")];
    let pool = prop_oneof![Just("pool01.contoso.com"), Just("pool02.contoso.com")];
    let server = prop_oneof![Just("fe01.contoso.com"), Just("fe02.contoso.com"), Just("ghost.contoso.com")];
    prop_oneof![
        7 => (cert_types(), scope(), cert(), opts())
            .prop_map(move |(types, scope, cert, opts)| Op::Set { types, scope, cert, at, opts }),
        5 => (cert_types(), scope(), cert(), opts())
            .prop_map(move |(types, scope, cert, opts)| {
                Op::Roll { types, scope, cert, effective: at, at, opts }
            }),
        6 => Just(Op::Advance { at }),
        1 => (cert_type(), scope()).prop_map(move |(ty, scope)| Op::CancelRoll { ty, scope, at }),
        2 => (cert_type(), scope()).prop_map(move |(ty, scope)| Op::Remove { ty, scope, at }),
        1 => (cert_type(), scope()).prop_map(move |(ty, scope)| Op::RemovePrevious { ty, scope, at }),
        3 => (cert_type(), scope()).prop_map(move |(ty, scope)| Op::Rollback { ty, scope, at }),
        1 => prop_oneof![Just("paris"), Just("redmond")].prop_map(|site| Op::AddSite { site }),
        1 => (pool.clone(), site).prop_map(|(pool, site)| Op::AddPool { pool, site }),
        1 => (server.clone(), pool).prop_map(|(server, pool)| Op::AddServer { server, pool }),
        1 => (server.clone(), proptest::collection::vec(cert(), 0..3))
            .prop_map(move |(server, certs)| Op::RecordHoldings { server, certs, at }),
        1 => server.prop_map(|server| Op::RemoveServer { server }),
        1 => prop_oneof![Just("pool01.contoso.com"), Just("pool02.contoso.com")]
            .prop_map(|pool| Op::RemovePool { pool }),
        1 => prop_oneof![Just("paris"), Just("redmond")].prop_map(|site| Op::RemoveSite { site }),
    ]
}

/// A sequence of up to `max` ops with concrete instants: a cursor starts at 2026-01-01 and
/// moves by each op's step (never beyond 2037-01-01); a backward step (or a mark in the past)
/// gives that op an earlier instant without moving the cursor back.
fn ops(max: usize) -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec((op(), step(), effective()), 1..=max).prop_map(|raw| {
        let mut cursor = START;
        raw.into_iter()
            .map(|(mut op, step, eff)| {
                let t = match step {
                    Step::Same => cursor,
                    Step::Seconds(n) => cursor + Duration::seconds(n),
                    Step::Days(n) => cursor + Duration::days(n),
                    Step::Mark(i) => marks()[i],
                    Step::Back(n) => cursor - Duration::seconds(n),
                }
                .clamp(START, END);
                if !matches!(step, Step::Back(_)) {
                    cursor = cursor.max(t);
                }
                let effective = match eff {
                    Effective::Offset(n) => t + Duration::seconds(n),
                    Effective::Mark(i) => marks()[i],
                };
                match &mut op {
                    Op::Roll { at, effective: e, .. } => (*at, *e) = (At(t), At(effective)),
                    Op::Set { at, .. }
                    | Op::Advance { at }
                    | Op::CancelRoll { at, .. }
                    | Op::Remove { at, .. }
                    | Op::RemovePrevious { at, .. }
                    | Op::Rollback { at, .. }
                    | Op::RecordHoldings { at, .. } => *at = At(t),
                    Op::AddSite { .. }
                    | Op::AddPool { .. }
                    | Op::AddServer { .. }
                    | Op::RemoveServer { .. }
                    | Op::RemovePool { .. }
                    | Op::RemoveSite { .. } => {}
                }
                op
            })
            .collect()
    })
}

// ----- the runner ----------------------------------------------------------------------------

/// A deterministic source of bytes (SplitMix64), so that sealing the same keys twice gives the
/// same text. For this test only: it is no cryptographic generator.
struct Fixed(u64);

impl certslot::rand_core::TryRng for Fixed {
    type Error = core::convert::Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        self.try_next_u64().map(|v| v as u32)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Ok(z ^ (z >> 31))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for chunk in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
        Ok(())
    }
}

impl certslot::rand_core::TryCryptoRng for Fixed {}

/// The state as saved with its keys (`to_json_with_keys`, with a fixed seed and one KDF round so
/// that the same store always gives the same text), without the revision it records.
fn saved_state(store: &Store) -> String {
    let options = ExportOptions::default().iterations(1).expect("one round");
    let mut rng = Fixed(7);
    let json = store.to_json_with_keys(&Password::new("state"), &options, &mut rng).expect("exports");
    json.lines().filter(|l| !l.trim_start().starts_with("\"revision\":")).collect::<Vec<_>>().join("\n")
}

/// Which invariant a run checks (`All` for the plain tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Inv {
    Refused,
    Current,
    Previous,
    Rolls,
    Idempotent,
    Revision,
    RoundTrip,
    Schedule,
    All,
}

type Key = (CertType, Scope);

fn slots(store: &Store) -> BTreeMap<Key, Slot> {
    store.slots().map(|(t, s, slot)| ((t.clone(), s.clone()), slot)).collect()
}

fn pendings(store: &Store) -> BTreeMap<Key, PendingRoll> {
    store.slots().filter_map(|(t, s, slot)| Some(((t.clone(), s.clone()), slot.pending()?))).collect()
}

/// The slot an event is about.
fn key_of(event: &Event) -> Key {
    match event {
        Event::Set { cert_type, scope, .. }
        | Event::Displaced { cert_type, scope, .. }
        | Event::PreviousDropped { cert_type, scope, .. }
        | Event::RollScheduled { cert_type, scope, .. }
        | Event::RollCancelled { cert_type, scope, .. }
        | Event::Rolled { cert_type, scope, .. }
        | Event::RollBlocked { cert_type, scope, .. }
        | Event::CurrentRemoved { cert_type, scope, .. }
        | Event::RolledBack { cert_type, scope, .. }
        | Event::CurrentExpired { cert_type, scope, .. }
        | Event::CurrentExpiresSoon { cert_type, scope, .. } => (cert_type.clone(), scope.clone()),
        other => panic!("unexpected event {other:?}"),
    }
}

/// The ops up to `last`, one a line, the last one marked; those in `refused` (which changed
/// nothing, as long as invariant 1 holds) are left out, as proptest's shrinking leaves them in.
fn listing(ops: &[Op], refused: &[usize], last: usize) -> String {
    let lines = ops.iter().enumerate().take(last + 1).filter(|(i, _)| *i == last || !refused.contains(i));
    let mut out: Vec<String> =
        lines.map(|(i, op)| format!("{}{i:>3}: {op:?}", if i == last { "=>" } else { "  " })).collect();
    if !refused.is_empty() {
        out.push(format!("({} refused ops left out)", refused.len()));
    }
    out.join("\n")
}

/// Applies `ops` to the fixture store, checking invariant `inv` (or all) after every step.
/// Returns the number of successful ops; the error names the invariant, the step and the ops.
fn run(ops: &[Op], inv: Inv) -> Result<usize, String> {
    let on = |i: Inv| inv == i || inv == Inv::All;
    let mut store = fixture().store.clone();
    // Rolls scheduled and neither cancelled nor applied yet, as the events tell them.
    let mut scheduled: BTreeMap<Key, PendingRoll> = BTreeMap::new();
    let mut refused = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        macro_rules! check {
            ($inv:expr, $cond:expr, $($msg:tt)+) => {
                if on($inv) && !$cond {
                    let msg = format!($($msg)+);
                    return Err(format!("[{:?}] step {i}: {msg}\nops:\n{}", $inv, listing(ops, &refused, i)));
                }
            };
        }
        let (json, revision, clock, next_due) =
            (store.to_json().unwrap(), store.revision(), store.clock(), store.next_due());
        let saved = if on(Inv::Revision) { saved_state(&store) } else { String::new() };
        let before = slots(&store);
        let result = op.apply(&mut store);

        // 1. Refused ops change nothing; an instant before the clock is refused.
        let backwards = matches!((op.at(), clock), (Some(at), Some(c)) if at < c);
        check!(
            Inv::Refused,
            !backwards || matches!(result, Err(SlotError::TimeWentBackwards { .. })),
            "an instant before the clock {clock:?} was not refused as TimeWentBackwards: {result:?}"
        );
        let outcome = match result {
            Err(err) => {
                check!(Inv::Refused, store.revision() == revision, "refused ({err}) but the revision moved");
                check!(
                    Inv::Refused,
                    store.to_json().unwrap() == json,
                    "refused ({err}) but the state changed"
                );
                check!(Inv::Refused, store.next_due() == next_due, "refused ({err}) but next_due changed");
                check!(Inv::Revision, store.revision() == revision, "refused ({err}) but the revision moved");
                check!(
                    Inv::Revision,
                    saved_state(&store) == saved,
                    "refused ({err}) but the saved state changed"
                );
                refused.push(i);
                continue;
            }
            Ok(outcome) => outcome,
        };
        let after = slots(&store);
        let events = &outcome.events;

        // 2. The current is never lost unless removed.
        for (key, slot) in before.iter().filter(|(_, s)| s.current().is_some()) {
            let removed = matches!(op, Op::Remove { ty, scope, .. } if (ty, scope) == (&key.0, &key.1));
            check!(
                Inv::Current,
                removed || after[key].current().is_some(),
                "{key:?} lost its current certificate {:?}; events: {events:#?}",
                slot.current()
            );
        }

        // 3. The previous is the last displaced current (unless dropped after that in the same
        // op, as when an advance rolls and then the displaced certificate expires), and changes
        // only as the events tell; it is never the current.
        let mut previous: BTreeMap<Key, Option<Thumbprint>> =
            before.iter().map(|(k, s)| (k.clone(), s.previous().map(|a| a.thumbprint))).collect();
        for event in events {
            let expected = previous.entry(key_of(event)).or_default();
            match event {
                Event::Displaced { thumbprint, .. }
                | Event::Rolled { previous: Some(thumbprint), .. }
                | Event::RolledBack { displaced: thumbprint, .. } => *expected = Some(*thumbprint),
                Event::PreviousDropped { thumbprint, .. } => {
                    check!(
                        Inv::Previous,
                        *expected == Some(*thumbprint),
                        "{event:?} drops a certificate that is not the previous one ({expected:?})"
                    );
                    *expected = None;
                }
                _ => {}
            }
        }
        for (key, slot) in &after {
            let actual = slot.previous().map(|a| a.thumbprint);
            let expected = previous.get(key).copied().flatten();
            check!(
                Inv::Previous,
                actual == expected,
                "{key:?}: previous is {actual:?}, the events say {expected:?}; events: {events:#?}"
            );
            check!(
                Inv::Previous,
                actual.is_none() || actual != slot.current().map(|a| a.thumbprint),
                "{key:?}: the previous certificate is the current one: {slot:?}"
            );
        }

        // 4. Each scheduled roll is applied exactly once, by advance, once due.
        for event in events {
            let key = key_of(event);
            match event {
                Event::RollScheduled { thumbprint, effective_at, .. } => {
                    let old = scheduled
                        .insert(key, PendingRoll { thumbprint: *thumbprint, effective_at: *effective_at });
                    check!(
                        Inv::Rolls,
                        old.is_none(),
                        "{event:?} replaced {old:?} without reporting it cancelled"
                    );
                }
                Event::RollCancelled { thumbprint, effective_at, .. } => {
                    let old = scheduled.remove(&key);
                    check!(
                        Inv::Rolls,
                        old == Some(PendingRoll { thumbprint: *thumbprint, effective_at: *effective_at }),
                        "{event:?} cancels a roll that was not scheduled (scheduled: {old:?})"
                    );
                }
                Event::Rolled { thumbprint, effective_at, applied_at, .. } => {
                    let old = scheduled.remove(&key);
                    check!(
                        Inv::Rolls,
                        old == Some(PendingRoll { thumbprint: *thumbprint, effective_at: *effective_at }),
                        "{event:?} applies a roll that was not scheduled or was already applied ({old:?})"
                    );
                    check!(
                        Inv::Rolls,
                        matches!(op, Op::Advance { at } if at.0 == *applied_at && *effective_at <= at.0),
                        "{event:?} reported by an op other than an advance at or after its effective date"
                    );
                }
                _ => {}
            }
        }
        let pending = pendings(&store);
        check!(
            Inv::Rolls,
            pending == scheduled,
            "pending rolls {pending:#?} differ from those reported {scheduled:#?}"
        );
        if let Op::Advance { at } = op {
            let due: Vec<_> = pending.iter().filter(|(_, p)| p.effective_at <= at.0).collect();
            check!(Inv::Rolls, due.is_empty(), "due rolls still pending after the advance: {due:#?}");
        }

        // 6. Every successful change increments the revision.
        check!(
            Inv::Revision,
            outcome.revision == store.revision(),
            "outcome revision {} != store",
            outcome.revision
        );
        if let Op::Advance { at } = op {
            {
                let changed = !events.is_empty() || clock.is_none_or(|c| at.0 > c);
                let expected = revision + u64::from(changed);
                check!(
                    Inv::Revision,
                    store.revision() == expected,
                    "advance: revision {} != {expected}",
                    store.revision()
                );
                check!(
                    Inv::Revision,
                    changed || store.to_json().unwrap() == json,
                    "advance changed the state but not the revision"
                );
                let (next, now) = (store.next_due(), store.clock());
                check!(
                    Inv::Revision,
                    next.is_none() || next >= now,
                    "after an advance next_due {next:?} < clock {now:?}"
                );
            }
        }
        if on(Inv::Revision) {
            let changed = saved_state(&store) != saved;
            check!(
                Inv::Revision,
                store.revision() == revision + u64::from(changed),
                "revision {} after {revision}, and the saved state {}",
                store.revision(),
                if changed { "changed" } else { "did not change" }
            );
        }

        // 5. advance is idempotent.
        if let (Op::Advance { at }, true) = (op, on(Inv::Idempotent)) {
            let (json, revision) = (store.to_json().unwrap(), store.revision());
            let again = store.advance(at.0).map_err(|e| format!("second advance refused: {e}"))?;
            check!(Inv::Idempotent, again.events.is_empty(), "a second advance reported {:#?}", again.events);
            check!(Inv::Idempotent, again.revision == revision, "a second advance moved the revision");
            check!(Inv::Idempotent, store.to_json().unwrap() == json, "a second advance changed the state");
        }

        // 7. The state round-trips through JSON (every few steps and at the end), and the
        // reloaded store, whose schedule is rebuilt from the state, has the same next_due.
        if (on(Inv::RoundTrip) || on(Inv::Schedule)) && (i % 4 == 3 || i + 1 == ops.len()) {
            let json = store.to_json().unwrap();
            match Store::from_json(&json) {
                Err(err) => check!(Inv::RoundTrip, false, "from_json refused the state: {err:?}\n{json}"),
                Ok(loaded) => {
                    check!(
                        Inv::RoundTrip,
                        loaded.to_json().unwrap() == json,
                        "the reloaded state differs:\n{}",
                        loaded.to_json().unwrap()
                    );
                    let (theirs, ours) = (loaded.next_due(), store.next_due());
                    check!(
                        Inv::Schedule,
                        theirs == ours,
                        "the reloaded store's next_due {theirs:?} differs from {ours:?}"
                    );
                }
            }
        }
    }
    Ok(ops.len() - refused.len())
}

// ----- properties ----------------------------------------------------------------------------

/// 512 cases of 1 to 40 ops (20 on average) per property: about 3 s for all eight in a debug
/// build when everything passes.
const CASES: u32 = 512;
const MAX_OPS: usize = 40;

fn config() -> ProptestConfig {
    // No regression files: this suite must not write into the repository.
    ProptestConfig { cases: CASES, failure_persistence: None, ..ProptestConfig::default() }
}

fn check(ops: &[Op], inv: Inv) -> Result<(), TestCaseError> {
    run(ops, inv).map(drop).map_err(TestCaseError::fail)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn refused_operations_change_nothing(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Refused)?;
    }

    #[test]
    fn current_is_never_lost_unless_removed(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Current)?;
    }

    #[test]
    fn previous_is_the_last_displaced_current(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Previous)?;
    }

    #[test]
    fn scheduled_rolls_apply_exactly_once_when_due(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Rolls)?;
    }

    #[test]
    fn advance_is_idempotent(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Idempotent)?;
    }

    #[test]
    fn revision_counts_every_change(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Revision)?;
    }

    #[test]
    fn state_round_trips_through_json(ops in ops(MAX_OPS)) {
        check(&ops, Inv::RoundTrip)?;
    }

    #[test]
    fn reloaded_store_has_the_same_next_due(ops in ops(MAX_OPS)) {
        check(&ops, Inv::Schedule)?;
    }
}

// ----- concrete cases ------------------------------------------------------------------------

fn at(t: OffsetDateTime) -> At {
    At(t)
}

fn oauth() -> Vec<CertType> {
    vec![CertType::OAuthTokenIssuer]
}

fn set(cert: Cert, t: OffsetDateTime) -> Op {
    Op::Set { types: oauth(), scope: Scope::Global, cert, at: at(t), opts: Opts::Plain }
}

fn roll(cert: Cert, effective: OffsetDateTime, t: OffsetDateTime) -> Op {
    Op::Roll {
        types: oauth(),
        scope: Scope::Global,
        cert,
        effective: at(effective),
        at: at(t),
        opts: Opts::Plain,
    }
}

fn advance(t: OffsetDateTime) -> Op {
    Op::Advance { at: at(t) }
}

/// Applies ops that must all succeed (checking every invariant) and returns the store.
fn store_after(ops: &[Op]) -> Store {
    let ok = run(ops, Inv::All).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(ok, ops.len(), "an op was refused:\n{}", listing(ops, &[], ops.len() - 1));
    let mut store = fixture().store.clone();
    for op in ops {
        op.apply(&mut store).unwrap();
    }
    store
}

fn global_slot(store: &Store) -> Slot {
    store.slots().find(|(t, s, _)| **t == CertType::OAuthTokenIssuer && **s == Scope::Global).unwrap().2
}

fn thumbprint(cert: Cert) -> Thumbprint {
    fixture().thumbprint(cert)
}

#[test]
fn refused_operations_leave_the_json_identical() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let mut store = store_after(&[set(Cert::Rsa2048, t)]);
    let no_key_for_oauth = Op::Set {
        // All or nothing: AudioVideoAuthentication accepts the key-less certificate, OAuth does not.
        types: vec![CertType::AudioVideoAuthentication, CertType::OAuthTokenIssuer],
        scope: Scope::Global,
        cert: Cert::NoKey9999,
        at: at(t),
        opts: Opts::Plain,
    };
    let refused = [
        (set(Cert::Rsa2048Next, t - Duration::SECOND), "TimeWentBackwards"),
        (roll(Cert::Rsa2048Next, t - Duration::DAY, t), "EffectiveInPast"),
        (no_key_for_oauth, "NoPrivateKey"),
        (Op::Rollback { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t) }, "NoPrevious"),
    ];
    for (op, expected) in refused {
        let (json, revision) = (store.to_json().unwrap(), store.revision());
        let err = op.apply(&mut store).expect_err(&format!("{op:?} must be refused"));
        assert!(format!("{err:?}").starts_with(expected), "{op:?}: {err:?}, expected {expected}");
        assert_eq!(
            (store.to_json().unwrap(), store.revision()),
            (json, revision),
            "{op:?} changed the store"
        );
    }
    assert_eq!(store.slot_count(), 1, "the refused multi-type set created a slot");
}

#[test]
fn current_is_replaced_by_set_roll_and_rollback_and_emptied_only_by_remove() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let ops = [
        set(Cert::Rsa2048, t),
        set(Cert::Rsa2048Next, t + Duration::DAY),
        roll(Cert::Rsa4096, t + Duration::days(10), t + Duration::days(2)),
        advance(t + Duration::days(10)),
        Op::Rollback { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t + Duration::days(11)) },
    ];
    let store = store_after(&ops);
    assert_eq!(global_slot(&store).current().unwrap().thumbprint, thumbprint(Cert::Rsa2048Next));
    let mut ops = ops.to_vec();
    ops.push(Op::Remove {
        ty: CertType::OAuthTokenIssuer,
        scope: Scope::Global,
        at: at(t + Duration::days(12)),
    });
    assert_eq!(global_slot(&store_after(&ops)).current(), None);
}

#[test]
fn previous_is_the_certificate_each_change_displaced() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let steps = [
        (set(Cert::Rsa2048, t), None),
        (set(Cert::Rsa2048Next, t), Some(Cert::Rsa2048)),
        (roll(Cert::Rsa4096, t + Duration::DAY, t), Some(Cert::Rsa2048)),
        (advance(t + Duration::DAY), Some(Cert::Rsa2048Next)),
        (
            Op::Rollback { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t + Duration::DAY) },
            Some(Cert::Rsa4096),
        ),
    ];
    for n in 1..=steps.len() {
        let ops: Vec<Op> = steps[..n].iter().map(|(op, _)| op.clone()).collect();
        let previous = global_slot(&store_after(&ops)).previous().map(|a| a.thumbprint);
        assert_eq!(previous, steps[n - 1].1.map(thumbprint), "after:\n{}", listing(&ops, &[], n - 1));
    }
}

#[test]
fn previous_is_never_the_current_after_remove_then_set_of_the_previous() {
    // Remove leaves the previous; setting that certificate again must not leave it both
    // current and previous (a state `from_json` rejects as impossible).
    let t = datetime!(2027-01-01 0:00 UTC);
    let ops = [
        set(Cert::Rsa2048, t),
        set(Cert::Rsa2048Next, t),
        Op::Remove { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t) },
        set(Cert::Rsa2048, t),
    ];
    run(&ops, Inv::All).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_due_roll_is_applied_once_and_not_before_its_effective_date() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let effective = t + Duration::days(30);
    let mut store = store_after(&[set(Cert::Rsa2048, t), roll(Cert::Rsa2048Next, effective, t)]);
    let rolled = |o: &Outcome| o.events.iter().filter(|e| matches!(e, Event::Rolled { .. })).count();
    assert_eq!(rolled(&store.advance(effective - Duration::SECOND).unwrap()), 0, "rolled early");
    assert_eq!(rolled(&store.advance(effective).unwrap()), 1, "not rolled when due");
    assert_eq!(rolled(&store.advance(effective + Duration::DAY).unwrap()), 0, "rolled twice");
    assert_eq!(global_slot(&store).current().unwrap().thumbprint, thumbprint(Cert::Rsa2048Next));
    // A cancelled roll never applies.
    let cancel = Op::CancelRoll { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t) };
    let mut store = store_after(&[set(Cert::Rsa2048, t), roll(Cert::Rsa2048Next, effective, t), cancel]);
    assert_eq!(rolled(&store.advance(effective).unwrap()), 0, "a cancelled roll applied");
}

#[test]
fn advancing_twice_to_the_same_instant_changes_nothing() {
    let t = datetime!(2027-01-01 0:00 UTC);
    // Roll, lead-time warning, expiry and the previous expiring all fall before `end`.
    let end = NOT_AFTER + Duration::DAY;
    let mut store =
        store_after(&[set(Cert::Rsa2048, t), roll(Cert::Rsa2048Next, t + Duration::DAY, t), advance(end)]);
    let (json, revision) = (store.to_json().unwrap(), store.revision());
    let again = store.advance(end).unwrap();
    assert_eq!((again.events, again.revision), (vec![], revision));
    assert_eq!(store.to_json().unwrap(), json);
}

#[test]
fn revision_moves_with_every_change_and_next_due_stays_ahead() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let mut store = store_after(&[set(Cert::Rsa2048, t)]);
    let r = store.revision();
    assert_eq!(
        store
            .roll(
                &oauth(),
                &Scope::Global,
                &thumbprint(Cert::Rsa2048Next),
                t,
                t,
                RollOptions::default().force()
            )
            .unwrap()
            .revision,
        r + 1
    );
    // Applies the roll due at `t` (the clock does not move, something happens).
    assert_eq!(store.advance(t).unwrap().revision, r + 2);
    // Nothing happens and the clock does not move: no new revision.
    assert_eq!(store.advance(t).unwrap().revision, r + 2);
    // The clock moves: a new revision.
    assert_eq!(store.advance(t + Duration::SECOND).unwrap().revision, r + 3);
    assert!(store.next_due().unwrap() >= store.clock().unwrap());
}

#[test]
fn state_with_slots_pending_rolls_and_topology_round_trips() {
    let t = datetime!(2027-01-01 0:00 UTC);
    let pool = Scope::pool("pool01.contoso.com").unwrap();
    let store = store_after(&[
        set(Cert::Rsa2048, t),
        set(Cert::Rsa2048Next, t),
        roll(Cert::Rsa4096, t + Duration::days(3), t),
        Op::Set {
            types: vec![CertType::AudioVideoAuthentication],
            scope: pool,
            cert: Cert::NoKey9999,
            at: at(t),
            opts: Opts::Plain,
        },
        Op::AddServer { server: "fe01.contoso.com", pool: "pool01.contoso.com" },
        Op::RecordHoldings { server: "fe01.contoso.com", certs: vec![Cert::Rsa2048], at: at(t) },
    ]);
    let json = store.to_json().unwrap();
    let loaded = Store::from_json(&json).unwrap();
    assert_eq!(loaded.to_json().unwrap(), json);
    assert_eq!(loaded.next_due(), store.next_due());
}

// ----- defects the properties found (minimal sequences as shrunk) -------------------------------

#[test]
fn set_with_a_type_listed_twice_does_not_make_the_current_its_own_previous() {
    // `set` applies each listed type in turn, so the second `OAuthTokenIssuer` displaces the
    // certificate the first one just set: current == previous, a state `from_json` refuses.
    let t = START;
    let op = Op::Set {
        types: vec![CertType::OAuthTokenIssuer, CertType::OAuthTokenIssuer],
        scope: Scope::Global,
        cert: Cert::Rsa2048,
        at: at(t),
        opts: Opts::Plain,
    };
    run(&[op], Inv::All).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn rollback_to_the_certificate_of_the_pending_roll_keeps_the_slot_consistent() {
    // current Rsa2048, previous Rsa4096, Rsa4096 pending: rollback makes Rsa4096 current while
    // it is still pending (a state `from_json` refuses), and the advance then rolls it in over
    // itself, leaving it both current and previous.
    let t = START;
    let ops = [
        set(Cert::Rsa4096, t),
        set(Cert::Rsa2048, t),
        roll(Cert::Rsa4096, t + Duration::SECOND, t),
        Op::Rollback { ty: CertType::OAuthTokenIssuer, scope: Scope::Global, at: at(t) },
        advance(t + Duration::SECOND),
    ];
    run(&ops, Inv::All).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn reloaded_store_has_the_same_next_due_after_a_lead_warning_skipped_for_a_pending_roll() {
    // The lead-time warning of the current certificate comes due while a (forced, later) roll
    // is pending: advance takes it off the schedule without doing anything, but the state still
    // implies it, so a reloaded store schedules it again, in the past (before its own clock).
    let t = NOT_AFTER - Duration::DAY - Duration::SECOND;
    let ava = || vec![CertType::AudioVideoAuthentication];
    let ops = [
        Op::Set { types: ava(), scope: Scope::Global, cert: Cert::Rsa2048Next, at: at(t), opts: Opts::Force },
        Op::Roll {
            types: ava(),
            scope: Scope::Global,
            cert: Cert::Rsa2048,
            effective: at(NOT_AFTER + Duration::days(30)),
            at: at(t),
            opts: Opts::Force,
        },
        advance(NOT_AFTER - Duration::hours(8)),
    ];
    let store = store_after(&ops);
    let loaded = Store::from_json(&store.to_json().unwrap()).unwrap();
    assert_eq!(loaded.next_due(), store.next_due(), "loaded clock {:?}", loaded.clock());
}
