//! Renewals in progress: a slot's renewal request, kept in the store between the two halves of
//! a renewal that waits for a CA (an ACME order takes seconds to minutes), so that a driver
//! killed between them leaves its successor the same key and the same order.
//!
//! The planner's `Renew` action starts one ([`rollover::start_renewal`](crate::rollover::start_renewal)
//! makes the request and calls [`Store::begin_renewal`]); the issuer's reference is recorded
//! with [`Store::set_renewal_order`]; the CA's answer finishes it
//! ([`rollover::finish_renewal`](crate::rollover::finish_renewal): the certificate added and
//! rolled in, the request gone, in one operation); [`Store::cancel_renewal`] drops it.

use core::fmt;

use time::OffsetDateTime;

use crate::pfx::PrivateKey;
use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::slot::Outcome;
use crate::x509::Thumbprint;

/// A renewal begun and not yet finished: the certificate it renews, the key made for it (kept
/// until the CA's answer is paired with it), the PKCS #10 request sent, when it began, and the
/// issuer's reference to the order (an ACME order URL) once there is one.
///
/// The key is never printed by `Debug`; it is zeroized when the request is dropped
/// ([`PrivateKey`]).
#[derive(Clone)]
pub struct RenewalRequest {
    current: Thumbprint,
    key: Option<PrivateKey>,
    csr: Vec<u8>,
    started_at: OffsetDateTime,
    order: Option<String>,
}

impl fmt::Debug for RenewalRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenewalRequest")
            .field("current", &self.current)
            .field("has_key", &self.key.is_some())
            .field("csr_bytes", &self.csr.len())
            .field("started_at", &self.started_at)
            .field("order", &self.order)
            .finish()
    }
}

impl RenewalRequest {
    /// A request renewing `current`, on `key`, with `csr` (the PKCS #10 request's DER, signed by
    /// `key`), begun at `started_at`.
    pub fn new(current: Thumbprint, key: PrivateKey, csr: Vec<u8>, started_at: OffsetDateTime) -> Self {
        Self { current, key: Some(key), csr, started_at, order: None }
    }

    /// A request as loaded from a state, with its key when the state was loaded with keys.
    #[cfg(feature = "serde")]
    pub(crate) fn loaded(
        current: Thumbprint,
        key: Option<PrivateKey>,
        csr: Vec<u8>,
        started_at: OffsetDateTime,
        order: Option<String>,
    ) -> Self {
        Self { current, key, csr, started_at, order }
    }

    /// The certificate being renewed (the slot's current certificate when the renewal began).
    pub fn current(&self) -> Thumbprint {
        self.current
    }

    /// The request's private key; `None` when the store was loaded without keys
    /// ([`Store::from_state`]).
    pub fn key(&self) -> Option<&PrivateKey> {
        self.key.as_ref()
    }

    /// The PKCS #10 request, DER.
    pub fn csr_der(&self) -> &[u8] {
        &self.csr
    }

    /// The PKCS #10 request, PEM (`CERTIFICATE REQUEST`).
    pub fn csr_pem(&self) -> String {
        crate::x509::pem::encode("CERTIFICATE REQUEST", &self.csr)
    }

    /// The DNS names the request asks for (its subjectAltName extension request), in its
    /// order: what an ACME order's identifiers are. Empty for a request without any.
    pub fn dns_names(&self) -> Vec<String> {
        use der::Decode as _;
        use der::oid::AssociatedOid as _;
        use x509_cert::ext::pkix::SubjectAltName;
        use x509_cert::ext::pkix::name::GeneralName;
        use x509_cert::request::{CertReq, ExtensionReq};
        let Ok(request) = CertReq::from_der(&self.csr) else { return Vec::new() };
        let extensions = request
            .info
            .attributes
            .iter()
            .filter(|a| a.oid == ExtensionReq::OID)
            .flat_map(|a| a.values.iter())
            .filter_map(|v| v.decode_as::<ExtensionReq>().ok())
            .flat_map(|r| r.0);
        extensions
            .filter(|e| e.extn_id == SubjectAltName::OID)
            .filter_map(|e| SubjectAltName::from_der(e.extn_value.as_bytes()).ok())
            .flat_map(|san| san.0)
            .filter_map(|name| match name {
                GeneralName::DnsName(dns) => Some(dns.to_string()),
                _ => None,
            })
            .collect()
    }

    /// When the renewal began.
    pub fn started_at(&self) -> OffsetDateTime {
        self.started_at
    }

    /// The issuer's reference to the order, once recorded ([`Store::set_renewal_order`]).
    pub fn order(&self) -> Option<&str> {
        self.order.as_deref()
    }
}

impl Store {
    /// The renewal in progress for the slot of `cert_type` at `scope` (that slot, not a
    /// fallback), if any.
    pub fn renewal_request(&self, cert_type: &CertType, scope: &Scope) -> Option<&RenewalRequest> {
        self.slots.slot_id(cert_type, scope).and_then(|id| self.slots.request(id))
    }

    /// Every renewal in progress, with its slot's type and scope, in slot order: what a driver
    /// resumes after taking over.
    pub fn renewal_requests(&self) -> Vec<(CertType, Scope, &RenewalRequest)> {
        self.slots
            .requests()
            .map(|(id, request)| {
                let (cert_type, scope) = self.names_of(id);
                (cert_type, scope, request)
            })
            .collect()
    }

    /// Records a renewal begun for the slot of `cert_type` at `scope`: the slot's current
    /// certificate must be the request's, and no roll or other renewal be pending. One
    /// operation (the revision moves once).
    ///
    /// # Errors
    /// [`SlotError::NoCurrent`], [`SlotError::RenewalStale`] (the slot's current certificate is
    /// not the one the request renews), [`SlotError::RollPending`],
    /// [`SlotError::RenewalInProgress`], [`SlotError::TimeWentBackwards`].
    pub fn begin_renewal(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        request: RenewalRequest,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.atomically_at(at, |store| {
            let id = store.renewable_slot(cert_type, scope, request.current)?;
            if let Some(other) = store.slots.request(id) {
                return Err(SlotError::RenewalInProgress {
                    cert_type: cert_type.clone(),
                    scope: scope.clone(),
                    started_at: other.started_at,
                });
            }
            store.slots.set_request(id, Some(request));
            Ok(Vec::new())
        })
    }

    /// Records the issuer's reference to the order of the renewal in progress (an ACME order
    /// URL), replacing any earlier one.
    ///
    /// # Errors
    /// [`SlotError::NoRenewalRequest`], [`SlotError::TimeWentBackwards`].
    pub fn set_renewal_order(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        order: &str,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.atomically_at(at, |store| {
            let (id, request) = store.request_of(cert_type, scope)?;
            if request.order.as_deref() != Some(order) {
                let request = RenewalRequest { order: Some(order.to_owned()), ..request.clone() };
                store.slots.set_request(id, Some(request));
            }
            Ok(Vec::new())
        })
    }

    /// Drops the renewal in progress (its key with it): the planner says `Renew` again.
    ///
    /// # Errors
    /// [`SlotError::NoRenewalRequest`], [`SlotError::TimeWentBackwards`].
    pub fn cancel_renewal(
        &mut self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Result<Outcome, SlotError> {
        self.atomically_at(at, |store| {
            let (id, _) = store.request_of(cert_type, scope)?;
            store.slots.set_request(id, None);
            Ok(Vec::new())
        })
    }

    /// The slot's renewal request, or [`SlotError::NoRenewalRequest`].
    pub(super) fn request_of(
        &self,
        cert_type: &CertType,
        scope: &Scope,
    ) -> Result<(crate::store::names::SlotId, &RenewalRequest), SlotError> {
        let none = || SlotError::NoRenewalRequest { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slots.slot_id(cert_type, scope).ok_or_else(none)?;
        Ok((id, self.slots.request(id).ok_or_else(none)?))
    }

    /// The slot of `cert_type` at `scope` when `current` is its current certificate and no roll
    /// is pending.
    pub(super) fn renewable_slot(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        current: Thumbprint,
    ) -> Result<crate::store::names::SlotId, SlotError> {
        let no_current = || SlotError::NoCurrent { cert_type: cert_type.clone(), scope: scope.clone() };
        let id = self.slots.slot_id(cert_type, scope).ok_or_else(no_current)?;
        let slot = self.slot(id).unwrap_or_default();
        let now = slot.current.ok_or_else(no_current)?;
        if now.thumbprint != current {
            return Err(SlotError::RenewalStale {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                renews: current,
                current: now.thumbprint,
            });
        }
        if let Some(pending) = slot.pending {
            return Err(SlotError::RollPending {
                cert_type: cert_type.clone(),
                scope: scope.clone(),
                thumbprint: pending.thumbprint,
                effective_at: pending.effective_at,
            });
        }
        Ok(id)
    }
}
