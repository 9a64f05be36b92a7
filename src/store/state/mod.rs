//! The saved state (feature `serde`): the state as a value ([`SavedState`], with its
//! [`SealedKey`]s), its format numbers, why a state cannot be written ([`SaveError`]) or loaded
//! ([`LoadError`]), and its shapes: format 2, written and read, and format 1 (certslot 0.1.0),
//! read and upgraded to format 2. One struct per JSON object; policies as their rules'
//! settings, rebuilt through the rules' own checked setters so that an impossible saved policy is
//! a typed error.

use core::fmt;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::pfx::{ExportError, KeyError, PfxError};
use crate::policy::{CertType, RolloverError, Scope};
use crate::validate::PolicyError;
use crate::x509::pem::{base64_decode, base64_encode};
use crate::x509::{ParseError, Thumbprint};

mod convert;
mod v1;

pub(super) use self::convert::{
    build_policy, build_rollover, instant, name_error, parse_instant, parse_seconds, parse_thumbprint,
    policy_state, rollover_state, seconds,
};
use self::v1::StateV1;

/// The version of the state format written.
pub const STATE_FORMAT: u32 = 2;

/// The oldest state format read.
pub(super) const OLDEST_FORMAT: u32 = 1;

/// Why a state file could not be loaded. Nothing is built from a state that fails any check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// Not JSON of the state's shape (the message is serde_json's, with line and column).
    #[error("not a certslot state: {0}")]
    Json(String),
    /// A format version this certslot does not read.
    #[error(
        "state format {format} is not supported (this certslot reads formats {} to {})",
        OLDEST_FORMAT,
        STATE_FORMAT
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
    /// A type's saved configuration fails [`TypeConfig::check`](crate::TypeConfig::check).
    #[error("the configuration of {cert_type}: {source}")]
    BadRollover {
        /// The type.
        cert_type: CertType,
        /// Why.
        #[source]
        source: RolloverError,
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
    /// The key of a renewal in progress does not open with the password given.
    #[error("the key of the renewal of {thumbprint}: {source}")]
    RenewalKey {
        /// The certificate the renewal renews.
        thumbprint: Thumbprint,
        /// Why.
        #[source]
        source: KeyError,
    },
}

/// Why a store's state could not be written. Nothing is written then, not even in part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SaveError {
    /// An instant of the state that RFC 3339 cannot write: a year before 0000 or after 9999,
    /// or a UTC offset with seconds (a local mean time). The store took it from a caller.
    #[error("{field} {at} cannot be written as an RFC 3339 instant")]
    Instant {
        /// The field (`clock`, `current.since`, `pending.effective_at`, ...).
        field: &'static str,
        /// The instant.
        at: OffsetDateTime,
    },
    /// A private key could not be sealed in its PFX.
    #[error("private key of {thumbprint}: {source}")]
    Key {
        /// The certificate it belongs to.
        thumbprint: Thumbprint,
        /// Why.
        #[source]
        source: ExportError,
    },
    /// The key of a renewal in progress could not be sealed.
    #[error("the key of the renewal of {thumbprint}: {source}")]
    RenewalKey {
        /// The certificate the renewal renews.
        thumbprint: Thumbprint,
        /// Why.
        #[source]
        source: KeyError,
    },
    /// serde_json refused to write the state (its message). A state holds only strings, numbers
    /// and booleans once its instants are written, so this is not expected; it is returned
    /// rather than an empty text.
    #[error("the state could not be written as JSON: {0}")]
    Json(String),
}

/// A store's state as a value (feature `serde`): what [`Store::to_state`](crate::Store::to_state)
/// makes and [`Store::from_state`](crate::Store::from_state) loads, in format 2
/// ([`STATE_FORMAT`]), with the private keys sealed in password-protected PFX files when they
/// were asked for ([`SavedState::keys`]).
///
/// JSON: what [`Store::to_json`](crate::Store::to_json) writes (pretty) or
/// `serde_json::to_vec` (compact), the same members either way:
///
/// ```text
/// {"format": 2, "revision": 7, "clock": "2026-11-25T09:00:00Z", "sip_domain": "contoso.com",
///  "types": [...], "certificates": ["<DER in Base64>", ...],
///  "keys": [{"thumbprint": "3BF7...", "pfx": "<PFX in Base64>"}],
///  "slots": [...], "sites": [...], "pools": [...], "servers": [...], "holdings": [...]}
/// ```
///
/// `keys` is left out when there are none. Reading (`Deserialize`, [`SavedState::from_json`])
/// takes format 2 and format 1, which it upgrades; the state's contents (certificates, names,
/// references, policies, key passwords) are checked when a store is loaded from it.
///
/// ```
/// use certslot::{Store, store::SavedState};
///
/// let mut store = Store::for_sip_domain("contoso.com")?;
/// store.add_site("redmond")?;
/// let state = store.to_state()?;
/// assert_eq!(state.revision(), 1);
/// assert!(state.keys().is_empty());
///
/// // Compact JSON, read back as a value and as a store.
/// let bytes = serde_json::to_vec(&state)?;
/// let read: SavedState = serde_json::from_slice(&bytes)?;
/// assert_eq!(read, state);
/// assert_eq!(Store::from_state(&read)?.to_json()?, store.to_json()?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "serde_json::Value")]
pub struct SavedState(pub(super) State);

/// One private key of a [`SavedState`]: the PFX that seals it (its certificate and key,
/// protected by the state's password), and the thumbprint of its certificate.
///
/// JSON: `{"thumbprint": "3BF702B601477250F70E61E287798983087DA4AB", "pfx": "<PFX in Base64>"}`,
/// the PFX in standard Base64 with padding.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedKey {
    thumbprint: Thumbprint,
    #[serde(with = "pfx_base64")]
    pfx: Vec<u8>,
}

impl SealedKey {
    /// The key of the certificate `thumbprint`, sealed in `pfx` (the bytes of a PFX file).
    /// Whether the PFX opens and holds that certificate is checked when a store loads it.
    pub fn new(thumbprint: Thumbprint, pfx: Vec<u8>) -> Self {
        Self { thumbprint, pfx }
    }

    /// The certificate the key belongs to.
    pub fn thumbprint(&self) -> Thumbprint {
        self.thumbprint
    }

    /// The PFX file's bytes.
    pub fn pfx(&self) -> &[u8] {
        &self.pfx
    }
}

impl fmt::Debug for SealedKey {
    /// The thumbprint and the PFX's size, not its bytes.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedKey")
            .field("thumbprint", &self.thumbprint)
            .field("pfx_bytes", &self.pfx.len())
            .finish()
    }
}

/// A PFX in the state: standard Base64 with padding.
mod pfx_base64 {
    use super::{base64_decode, base64_encode};

    pub(super) fn serialize<S: serde::Serializer>(pfx: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&base64_encode(pfx))
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u8>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        base64_decode(&text).map_err(|e| serde::de::Error::custom(format_args!("pfx: {e}")))
    }
}

impl SavedState {
    /// Reads a state written by [`Store::to_json`](crate::Store::to_json) or
    /// [`Store::to_json_with_keys`](crate::Store::to_json_with_keys), or as `serde_json` writes a
    /// [`SavedState`], in format 2 or 1 (upgraded to 2). Only the JSON's shape is checked here;
    /// [`Store::from_state`](crate::Store::from_state) checks the rest.
    ///
    /// # Errors
    /// [`LoadError::Json`] (with serde_json's line and column) for text that is not a state's
    /// JSON, [`LoadError::UnsupportedFormat`], and what upgrading format 1 finds wrong.
    pub fn from_json(json: &str) -> Result<Self, LoadError> {
        let json_error = |e: serde_json::Error| LoadError::Json(e.to_string());
        let state = match serde_json::from_str::<Format>(json).map_err(json_error)?.format {
            STATE_FORMAT => serde_json::from_str::<State>(json).map_err(json_error)?,
            1 => serde_json::from_str::<StateV1>(json).map_err(json_error)?.upgrade()?,
            format => return Err(LoadError::UnsupportedFormat { format }),
        };
        Ok(Self(state))
    }

    /// The store's revision when the state was made.
    pub fn revision(&self) -> u64 {
        self.0.revision
    }

    /// The sealed private keys, in thumbprint order; empty when the state was made without
    /// them ([`Store::to_state`](crate::Store::to_state)).
    pub fn keys(&self) -> &[SealedKey] {
        &self.0.keys
    }

    /// The same state with `keys` as its sealed private keys (replacing any it had), kept in
    /// thumbprint order, one a certificate (the last given wins): a state made without keys
    /// gets the keys sealed for an earlier state of the same store, so that nothing is sealed
    /// again while the keys stay the same. A key of a certificate the state does not hold, or
    /// one the password does not open, is refused when a store is loaded with keys
    /// ([`Store::from_state_with_keys`](crate::Store::from_state_with_keys)).
    #[must_use]
    pub fn with_keys(self, keys: impl IntoIterator<Item = SealedKey>) -> Self {
        let keys: BTreeMap<Thumbprint, SealedKey> = keys.into_iter().map(|k| (k.thumbprint, k)).collect();
        Self(State { keys: keys.into_values().collect(), ..self.0 })
    }
}

impl TryFrom<serde_json::Value> for SavedState {
    type Error = LoadError;

    /// As [`SavedState::from_json`], from parsed JSON (serde_json's messages then carry no line
    /// and column): what `Deserialize` does.
    fn try_from(value: serde_json::Value) -> Result<Self, LoadError> {
        let json_error = |e: serde_json::Error| LoadError::Json(e.to_string());
        let state = match Format::deserialize(&value).map_err(json_error)?.format {
            STATE_FORMAT => State::deserialize(value).map_err(json_error)?,
            1 => StateV1::deserialize(value).map_err(json_error)?.upgrade()?,
            format => return Err(LoadError::UnsupportedFormat { format }),
        };
        Ok(Self(state))
    }
}

// ----- format 2 ----------------------------------------------------------------------------------

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct State {
    pub(super) format: u32,
    pub(super) revision: u64,
    pub(super) clock: Option<String>,
    pub(super) sip_domain: Option<String>,
    pub(super) types: Vec<TypeState>,
    pub(super) certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) keys: Vec<SealedKey>,
    pub(super) slots: Vec<SlotState>,
    pub(super) sites: Vec<String>,
    pub(super) pools: Vec<(String, String)>,
    pub(super) servers: Vec<(String, String)>,
    pub(super) holdings: Vec<HoldingState>,
    /// The partners, with their last fetches (absent before partners).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) partners: Vec<PartnerState>,
    /// The certificates whose chain expires first (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) issuer_expiries: Vec<IssuerExpiryState>,
}

/// A certificate whose delivered chain expires before it: the chain certificate and its
/// `notAfter`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct IssuerExpiryState {
    pub(super) certificate: String,
    pub(super) issuer: String,
    pub(super) not_after: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TypeState {
    pub(super) cert_type: String,
    pub(super) lead_time_seconds: i64,
    pub(super) accept_previous: bool,
    pub(super) require_private_key: bool,
    pub(super) require_staged: bool,
    pub(super) policy: PolicyState,
    /// Absent from states written before rollover policies: the type's default, fitted to its
    /// lead time ([`RolloverPolicy::fitted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) rollover: Option<RolloverState>,
    /// The partners its rolls wait for (absent: none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) require_fetched_by: Vec<String>,
}

/// A [`RolloverPolicy`], spans in whole seconds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RolloverState {
    /// Renew this long before expiry, or (when absent) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) renew_before_seconds: Option<i64>,
    /// ... once this fraction of the lifetime has passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) renew_at_fraction: Option<(u16, u16)>,
    pub(super) publish_ahead_seconds: i64,
    /// `null`: until the previous certificate expires.
    pub(super) retain_previous_seconds: Option<i64>,
    pub(super) critical_before_seconds: i64,
    pub(super) token_lifetime_seconds: i64,
    pub(super) certificate_lifetime_seconds: i64,
    /// Renewals and rolls only inside this window (`RenewalWindow`'s text form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) renewal_window: Option<String>,
}

/// A [`Policy`]: each rule, or `null` where the policy has none.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PolicyState {
    pub(super) key: Option<KeyRuleState>,
    pub(super) subject: Option<String>,
    pub(super) validity: Option<ValidityRuleState>,
    pub(super) usage: Option<UsageRuleState>,
    pub(super) warnings: Option<WarningRuleState>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct KeyRuleState {
    pub(super) min_rsa_bits: u32,
    pub(super) rsa: bool,
    pub(super) rsa_pss: bool,
    pub(super) ec_min_bits: Option<u32>,
    pub(super) eddsa: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ValidityRuleState {
    pub(super) min_remaining_seconds: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct UsageRuleState {
    pub(super) digital_signature: bool,
    pub(super) required_eku: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct WarningRuleState {
    pub(super) weak_signature: bool,
    pub(super) expiring_within_seconds: Option<i64>,
    pub(super) unknown_critical: bool,
    pub(super) ca_certificate: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SlotState {
    pub(super) cert_type: String,
    pub(super) scope: String,
    pub(super) current: Option<(String, String)>,
    pub(super) previous: Option<(String, String)>,
    pub(super) pending: Option<(String, String)>,
    pub(super) warned_lead: bool,
    pub(super) warned_expired: bool,
    /// The servers a due roll waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) blocked_by: Vec<String>,
    /// The partners a due roll waits for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) waiting_for_partners: Vec<String>,
    /// A roll released by its gates outside the renewal window waits for this opening.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) waiting_for_window: Option<String>,
    /// The renewal in progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) renewal: Option<RenewalState>,
}

/// A renewal in progress: the certificate it renews, when it began, the PKCS #10 request
/// (standard Base64), the issuer's order, and the key as encrypted PKCS #8 (standard Base64;
/// only in states saved with keys).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RenewalState {
    pub(super) renews: String,
    pub(super) started_at: String,
    pub(super) csr: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) order: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) key: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct HoldingState {
    pub(super) server: String,
    pub(super) reported_at: String,
    pub(super) thumbprints: Vec<String>,
}

/// A partner and its last fetch, if any.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct PartnerState {
    pub(super) name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) fetched_at: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(super) thumbprints: Vec<String>,
}

// ----- format 1 (read only) ----------------------------------------------------------------------

/// Just the format number, read first to choose the shape.
#[derive(Deserialize)]
struct Format {
    format: u32,
}
