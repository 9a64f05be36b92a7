//! The state value: certslot's own JSON ([`Store::to_json_with_keys`]), with the whitespace
//! outside strings taken out (a third of the size; etcd limits a request to 1.5 MiB by default),
//! checked on every read by certslot's loader.
//!
//! Sealing a private key (a PFX with fresh salts, thousands of hash rounds) costs far more than
//! the rest of a state, so a write reuses the sealed keys of the state it changed while the
//! certificates with keys are the same ones: the value is certslot's JSON without keys, with the
//! `keys` array of the previous value (already opened with the same password when it was read).

use std::collections::BTreeSet;
use std::sync::Arc;

use certslot::rand_core::UnwrapErr;
use certslot::{Certificate, ExportOptions, Password, Store, Thumbprint};
use serde::Deserialize;

use crate::state::error::StateError;

/// The `keys` array of a state value, as JSON text, and the certificates it holds keys for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SealedKeys {
    thumbprints: BTreeSet<Thumbprint>,
    json: Arc<str>,
}

#[derive(Deserialize)]
struct KeysOnly {
    #[serde(default)]
    keys: Vec<KeyEntry>,
}

#[derive(Deserialize, serde::Serialize)]
struct KeyEntry {
    thumbprint: String,
    pfx: String,
}

#[derive(Deserialize)]
struct CertificatesOnly {
    certificates: Vec<String>,
}

impl SealedKeys {
    /// The sealed keys of a value (certslot's JSON); `None` for one that does not read.
    pub(crate) fn of_value(value: &[u8]) -> Option<Self> {
        let keys: KeysOnly = serde_json::from_slice(value).ok()?;
        let thumbprints = keys.keys.iter().map(|k| k.thumbprint.parse().ok()).collect::<Option<_>>()?;
        Some(Self { thumbprints, json: serde_json::to_string(&keys.keys).ok()?.into() })
    }
}

/// The certificates of `store` whose private keys it holds, from its keyless JSON.
fn keyed(store: &Store, json: &str) -> Result<BTreeSet<Thumbprint>, StateError> {
    let unreadable = || StateError::Export { source: certslot::pfx::ExportError::Encryption };
    let certificates: CertificatesOnly = serde_json::from_str(json).map_err(|_| unreadable())?;
    let mut out = BTreeSet::new();
    for b64 in &certificates.certificates {
        let pem = format!("-----BEGIN CERTIFICATE-----\n{b64}\n-----END CERTIFICATE-----\n");
        let thumbprint = Certificate::from_pem(pem.as_bytes()).map_err(|_| unreadable())?.thumbprint();
        if store.inventory().get(&thumbprint).is_some_and(|s| s.key.is_some()) {
            out.insert(thumbprint);
        }
    }
    Ok(out)
}

/// The value written for `store`, private keys in PFX protected by `password`: the keys of
/// `previous` when they are the keys `store` holds, else sealed afresh. Returns the keys written.
pub(crate) fn encode(
    store: &Store,
    password: &Password,
    previous: Option<&SealedKeys>,
) -> Result<(Vec<u8>, SealedKeys), StateError> {
    let json = minify(&store.to_json());
    let keyed = keyed(store, &json)?;
    let sealed = match previous {
        Some(previous) if previous.thumbprints == keyed => previous.clone(),
        _ => seal(store, &keyed, password)?,
    };
    if sealed.thumbprints.is_empty() {
        return Ok((json.into_bytes(), sealed));
    }
    // `to_json` leaves `keys` out when there are none; put them in before the closing brace.
    let body = json
        .strip_suffix('}')
        .ok_or(StateError::Export { source: certslot::pfx::ExportError::Encryption })?;
    let value = format!("{body},\"keys\":{}}}", sealed.json);
    Ok((value.into_bytes(), sealed))
}

/// Seals the keys of `keyed`: certslot's own export, through a store holding only them.
fn seal(store: &Store, keyed: &BTreeSet<Thumbprint>, password: &Password) -> Result<SealedKeys, StateError> {
    let mut keys_only = Store::new();
    for thumbprint in keyed {
        if let Some(stored) = store.inventory().get(thumbprint) {
            keys_only.add_certificate(stored.certificate.clone(), stored.key.clone());
        }
    }
    let json = keys_only
        .to_json_with_keys(password, &ExportOptions::default(), &mut UnwrapErr(getrandom::SysRng))
        .map_err(|source| StateError::Export { source })?;
    let keys: KeysOnly = serde_json::from_str(&json)
        .map_err(|_| StateError::Export { source: certslot::pfx::ExportError::Encryption })?;
    let json = serde_json::to_string(&keys.keys)
        .map_err(|_| StateError::Export { source: certslot::pfx::ExportError::Encryption })?;
    Ok(SealedKeys { thumbprints: keyed.clone(), json: json.into() })
}

/// The store a value holds, with its private keys when `password` is given (without it the keys
/// are left out: enough to read slots, drift and timelines, not to write).
pub(crate) fn decode(key: &str, value: &[u8], password: Option<&Password>) -> Result<Store, StateError> {
    let json = std::str::from_utf8(value)
        .map_err(|e| StateError::NotUtf8 { key: key.to_owned(), valid_up_to: e.valid_up_to() })?;
    let loaded = match password {
        Some(password) => Store::from_json_with_keys(json, password),
        None => Store::from_json(json),
    };
    loaded.map_err(|source| StateError::Load { key: key.to_owned(), source })
}

/// JSON without the whitespace between tokens (strings are copied as they are).
pub(crate) fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\n' | '\r' | '\t') {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minify_keeps_strings_and_drops_layout() {
        let pretty = "{\n  \"a b\": [1, 2],\n  \"q\": \"x \\\" y\\\\\",\n  \"t\": \"\\t\"\n}";
        assert_eq!(minify(pretty), r#"{"a b":[1,2],"q":"x \" y\\","t":"\t"}"#);
        let value: serde_json::Value = serde_json::from_str(pretty).unwrap();
        assert_eq!(serde_json::from_str::<serde_json::Value>(&minify(pretty)).unwrap(), value);
    }

    #[test]
    fn a_minified_state_loads_as_the_same_store() {
        let mut store = Store::for_sip_domain("contoso.com").unwrap();
        store.add_site("redmond").unwrap();
        store.add_pool("pool01.contoso.com", "redmond").unwrap();
        let (value, sealed) = encode(&store, &Password::new("s3cret"), None).unwrap();
        assert!(!value.contains(&b'\n'));
        assert!(sealed.thumbprints.is_empty());
        let loaded = decode("k", &value, Some(&Password::new("s3cret"))).unwrap();
        assert_eq!(loaded.to_json(), store.to_json());
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
        assert_eq!(sealed.thumbprints, [a].into());
        assert_eq!(SealedKeys::of_value(&first), Some(sealed.clone()));
        // The same keys: the same sealed bytes, and the value loads with its key.
        store.add_site("redmond").unwrap();
        let (second, again) = encode(&store, &password, Some(&sealed)).unwrap();
        assert_eq!(again, sealed);
        let loaded = decode("k", &second, Some(&password)).unwrap();
        assert_eq!(loaded.to_json(), store.to_json());
        assert!(loaded.inventory().get(&a).unwrap().key.is_some());
        // A new key: sealed afresh, both keys load.
        let b = store.add_pfx(sample("openssl3-rsa2048-next.pfx")).unwrap();
        let (third, resealed) = encode(&store, &password, Some(&sealed)).unwrap();
        assert_eq!(resealed.thumbprints, [a, b].into());
        let loaded = decode("k", &third, Some(&password)).unwrap();
        assert!(
            loaded.inventory().get(&a).unwrap().key.is_some()
                && loaded.inventory().get(&b).unwrap().key.is_some()
        );
        // Another password's keys do not open.
        assert!(matches!(
            decode("k", &third, Some(&Password::new("other"))),
            Err(StateError::Load { source: certslot::LoadError::Key { .. }, .. })
        ));
    }

    #[test]
    fn a_foreign_value_is_a_typed_error() {
        assert!(matches!(decode("k", b"\xff\xfe", None), Err(StateError::NotUtf8 { valid_up_to: 0, .. })));
        assert!(matches!(
            decode("k", b"{\"format\": 99}", None),
            Err(StateError::Load { source: certslot::LoadError::UnsupportedFormat { format: 99 }, .. })
        ));
        assert!(matches!(
            decode("k", b"garbage", None),
            Err(StateError::Load { source: certslot::LoadError::Json(_), .. })
        ));
    }
}
