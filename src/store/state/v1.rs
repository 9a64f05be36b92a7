//! Format 1 (certslot 0.1.0), read and upgraded to format 2.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{HoldingState, LoadError, SealedKey, SlotState, State, TypeState, name_error, policy_state};
use crate::policy::{CertType, TypeConfig};
use crate::validate::SubjectRule;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StateV1 {
    pub(super) format: u32,
    pub(super) revision: u64,
    pub(super) clock: Option<String>,
    pub(super) sip_domain: Option<String>,
    pub(super) types: Vec<TypeStateV1>,
    pub(super) certificates: Vec<String>,
    #[serde(default)]
    pub(super) keys: Vec<SealedKey>,
    pub(super) slots: Vec<SlotStateV1>,
    pub(super) sites: Vec<String>,
    pub(super) pools: Vec<(String, String)>,
    pub(super) servers: Vec<(String, String)>,
    pub(super) holdings: Vec<(String, Vec<String>)>,
    pub(super) blocked: Vec<(usize, Vec<String>)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TypeStateV1 {
    pub(super) cert_type: String,
    pub(super) lead_time_seconds: i64,
    pub(super) accept_previous: bool,
    pub(super) require_private_key: bool,
    pub(super) require_staged: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SlotStateV1 {
    pub(super) cert_type: String,
    pub(super) scope: String,
    pub(super) current: Option<(String, String)>,
    pub(super) previous: Option<(String, String)>,
    pub(super) pending: Option<(String, String)>,
    pub(super) warned_lead: bool,
    pub(super) warned_expired: bool,
}

impl StateV1 {
    /// The same state in format 2 (see the module documentation for what format 1 lacked).
    pub(super) fn upgrade(self) -> Result<State, LoadError> {
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
                let policy = policy_state(TypeConfig::for_type(&cert_type, sip_domain.as_ref()).get_policy());
                Ok(TypeState {
                    cert_type: t.cert_type,
                    lead_time_seconds: t.lead_time_seconds,
                    accept_previous: t.accept_previous,
                    require_private_key: t.require_private_key,
                    require_staged: t.require_staged,
                    policy,
                    rollover: None,
                    require_fetched_by: Vec::new(),
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
                waiting_for_partners: Vec::new(),
                waiting_for_window: None,
                renewal: None,
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
            partners: Vec::new(),
            issuer_expiries: Vec::new(),
        })
    }
}
