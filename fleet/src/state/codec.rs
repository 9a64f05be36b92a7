//! The state value: certslot's [`SavedState`] as compact JSON (`serde_json::to_vec`, a third of
//! the size of [`Store::to_json`]'s pretty text; etcd limits a request to 1.5 MiB by default),
//! checked on every read by certslot's loader.
//!
//! Sealing a private key (a PFX with fresh salts, thousands of hash rounds) costs far more than
//! the rest of a state, so a write reuses the sealed keys of the state it changed while the
//! certificates with keys are the same ones: the state without keys, given the previous value's
//! [`SealedKey`]s ([`SavedState::with_keys`]), which were opened with the same password when
//! that value was read.

use std::collections::BTreeSet;
use std::sync::Arc;

use certslot::rand_core::UnwrapErr;
use certslot::{
    ExportOptions, Password, Store, Thumbprint,
    store::{SavedState, SealedKey},
};

use crate::state::error::StateError;

/// The sealed private keys of a state value, in thumbprint order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealedKeys(Arc<[SealedKey]>);

impl SealedKeys {
    /// The certificates the keys belong to.
    fn thumbprints(&self) -> BTreeSet<Thumbprint> {
        self.0.iter().map(SealedKey::thumbprint).collect()
    }
}

/// The certificates of `store` whose private keys it holds.
fn keyed(store: &Store) -> BTreeSet<Thumbprint> {
    store.inventory().iter().filter(|s| s.key.is_some()).map(|s| s.certificate.thumbprint()).collect()
}

/// The value written for `store`, private keys in PFX protected by `password`: the keys of
/// `previous` when they are the keys `store` holds, else sealed afresh. Returns the keys written.
pub(crate) fn encode(
    store: &Store,
    password: &Password,
    previous: Option<&SealedKeys>,
) -> Result<(Vec<u8>, SealedKeys), StateError> {
    let state = store.to_state().map_err(|source| StateError::Save { source })?;
    let sealed = match previous {
        Some(previous) if previous.thumbprints() == keyed(store) => previous.clone(),
        _ => {
            let mut rng = UnwrapErr(getrandom::SysRng);
            let keys = store
                .sealed_keys(password, &ExportOptions::default(), &mut rng)
                .map_err(|source| StateError::Save { source })?;
            SealedKeys(keys.into())
        }
    };
    let state = state.with_keys(sealed.0.iter().cloned());
    let value = serde_json::to_vec(&state).map_err(|source| StateError::Json { source })?;
    Ok((value, sealed))
}

/// The store a value holds, with its private keys when `password` is given (without it the keys
/// are left out: enough to read slots, drift and timelines, not to write), and the value's
/// sealed keys (opened with `password` when it is given). A sealed key byte-equal to one of
/// `opened`'s (a store loaded or written earlier with the same password, and its sealed keys)
/// is taken from that store instead of being opened again: opening is most of the time of a
/// read, and after another writer's change the keys are mostly the same.
pub(crate) fn decode(
    key: &str,
    value: &[u8],
    password: Option<&Password>,
    opened: Option<(&Store, &SealedKeys)>,
) -> Result<(Store, SealedKeys), StateError> {
    let refused = |source| StateError::Load { key: key.to_owned(), source };
    let json = std::str::from_utf8(value)
        .map_err(|e| StateError::NotUtf8 { key: key.to_owned(), valid_up_to: e.valid_up_to() })?;
    let state = SavedState::from_json(json).map_err(refused)?;
    let store = match password {
        Some(password) => Store::from_state_with_known_keys(&state, password, |sealed| {
            let (store, keys) = opened?;
            keys.0.contains(sealed).then(|| store.inventory().get(&sealed.thumbprint())?.key.clone())?
        }),
        None => Store::from_state(&state),
    }
    .map_err(refused)?;
    Ok((store, SealedKeys(state.keys().into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_value_is_compact_json_that_loads_as_the_same_store() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        store.add_site("redmond").unwrap();
        store.add_pool("pool01.contoso.com", "redmond").unwrap();
        let (value, sealed) = encode(&store, &Password::new("s3cret"), None).unwrap();
        assert!(!value.contains(&b'\n'));
        assert!(sealed.0.is_empty());
        // certslot's own JSON, compact.
        let pretty: serde_json::Value = serde_json::from_str(&store.to_json().unwrap()).unwrap();
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&value).unwrap(), pretty);
        let (loaded, _) = decode("k", &value, Some(&Password::new("s3cret")), None).unwrap();
        assert_eq!(loaded.to_json().unwrap(), store.to_json().unwrap());
    }

    fn sample(name: &str) -> certslot::Pfx {
        let path = format!("{}/../tests/data/pfx/{name}", env!("CARGO_MANIFEST_DIR"));
        let bytes = std::fs::read(path).unwrap();
        certslot::Pfx::import(&bytes, &Password::new("P@ssw0rd"), certslot::ImportOptions::default()).unwrap()
    }

    #[test]
    fn sealed_keys_are_reused_while_the_keyed_certificates_are_the_same() {
        let password = Password::new("s3cret");
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        let a = store.add_pfx(sample("openssl3-default.pfx")).unwrap();
        let (first, sealed) = encode(&store, &password, None).unwrap();
        assert_eq!(sealed.thumbprints(), [a].into());
        let (_, read) = decode("k", &first, Some(&password), None).unwrap();
        assert_eq!(read, sealed);
        // The same keys: the same sealed bytes, and the value loads with its key.
        store.add_site("redmond").unwrap();
        let (second, again) = encode(&store, &password, Some(&sealed)).unwrap();
        assert_eq!(again, sealed);
        let (loaded, _) = decode("k", &second, Some(&password), None).unwrap();
        assert_eq!(loaded.to_json().unwrap(), store.to_json().unwrap());
        assert!(loaded.inventory().get(&a).unwrap().key.is_some());
        // A new key: sealed afresh, both keys load.
        let b = store.add_pfx(sample("openssl3-rsa2048-next.pfx")).unwrap();
        let (third, resealed) = encode(&store, &password, Some(&sealed)).unwrap();
        assert_eq!(resealed.thumbprints(), [a, b].into());
        let (loaded, _) = decode("k", &third, Some(&password), None).unwrap();
        assert!(
            loaded.inventory().get(&a).unwrap().key.is_some()
                && loaded.inventory().get(&b).unwrap().key.is_some()
        );
        // Keys opened before are taken as they are, not opened again: with the store that
        // opened them, even a password that opens nothing loads the value (the same sealed
        // bytes); a key sealed afresh is opened.
        let (first_store, first_sealed) = decode("k", &first, Some(&password), None).unwrap();
        let other = Password::new("other");
        let (reused, _) = decode("k", &second, Some(&other), Some((&first_store, &first_sealed))).unwrap();
        let spki = |store: &Store| {
            store.inventory().get(&a).unwrap().key.as_ref().unwrap().public_key_der().unwrap()
        };
        assert_eq!(spki(&reused), spki(&first_store));
        assert!(decode("k", &second, Some(&other), None).is_err());
        assert!(decode("k", &third, Some(&other), Some((&first_store, &first_sealed))).is_err());
        let (both, _) = decode("k", &third, Some(&password), Some((&first_store, &first_sealed))).unwrap();
        assert!(both.inventory().get(&b).unwrap().key.is_some());
        // Another password's keys do not open.
        assert!(matches!(
            decode("k", &third, Some(&Password::new("other")), None),
            Err(StateError::Load { source: certslot::LoadError::Key { .. }, .. })
        ));
    }

    #[test]
    fn a_foreign_value_is_a_typed_error() {
        assert!(matches!(
            decode("k", b"\xff\xfe", None, None),
            Err(StateError::NotUtf8 { valid_up_to: 0, .. })
        ));
        assert!(matches!(
            decode("k", b"{\"format\": 99}", None, None),
            Err(StateError::Load { source: certslot::LoadError::UnsupportedFormat { format: 99 }, .. })
        ));
        assert!(matches!(
            decode("k", b"garbage", None, None),
            Err(StateError::Load { source: certslot::LoadError::Json(_), .. })
        ));
    }
}
