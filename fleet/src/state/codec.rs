//! The state value: certslot's own JSON ([`Store::to_json_with_keys`]), with the whitespace
//! outside strings taken out (a third of the size; etcd limits a request to 1.5 MiB by default),
//! checked on every read by certslot's loader.

use certslot::rand_core::UnwrapErr;
use certslot::{ExportOptions, Password, Store};

use crate::state::error::StateError;

/// The value written for `store`, private keys in PFX protected by `password`.
pub(crate) fn encode(store: &Store, password: &Password) -> Result<Vec<u8>, StateError> {
    let json = store
        .to_json_with_keys(password, &ExportOptions::default(), &mut UnwrapErr(getrandom::SysRng))
        .map_err(|source| StateError::Export { source })?;
    Ok(minify(&json).into_bytes())
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
        let value = encode(&store, &Password::new("s3cret")).unwrap();
        assert!(!value.contains(&b'\n'));
        let loaded = decode("k", &value, Some(&Password::new("s3cret"))).unwrap();
        assert_eq!(loaded.to_json(), store.to_json());
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
