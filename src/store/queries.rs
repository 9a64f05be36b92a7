//! What the store answers without changing: the slot that applies to a scope (with fallback),
//! the `Get-CsCertificate` view, the certificate signers use and the ones verifiers accept.

use time::OffsetDateTime;

use crate::policy::{CertType, Scope};
use crate::store::Store;
use crate::store::inventory::StoredCertificate;
use crate::store::names::SlotId;
use crate::store::slot::Slot;
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::Thumbprint;

/// A slot that needs something, as [`Store::slots_by_milestone`] lists it: its type, its scope
/// and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DueSlot<'a> {
    /// The slot's type.
    pub cert_type: &'a CertType,
    /// The slot's scope.
    pub scope: &'a Scope,
    /// What it holds.
    pub slot: Slot,
}

/// A slot as `Get-CsCertificate` shows it.
///
/// JSON (feature `serde`): the fields by their names, each certificate a [`CertView`] or `null`:
///
/// ```text
/// {"cert_type": "OAuthTokenIssuer", "scope": "global",
///  "current": {"thumbprint": "3BF7...", ...}, "previous": null, "pending": null}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SlotView {
    /// The type.
    pub cert_type: CertType,
    /// The scope the slot belongs to (after falling back from pool to site to global).
    pub scope: Scope,
    /// The current certificate.
    pub current: Option<CertView>,
    /// The previous certificate.
    pub previous: Option<CertView>,
    /// The pending roll's certificate; its `effective_at` is the roll's effective date.
    pub pending: Option<CertView>,
}

/// One certificate of a [`SlotView`].
///
/// JSON (feature `serde`): the fields by their names, instants as RFC 3339 strings:
///
/// ```text
/// {"thumbprint": "3BF702B601477250F70E61E287798983087DA4AB",
///  "subject": "CN=pool01.contoso.com", "issuer": "CN=Contoso Issuing CA",
///  "not_before": "2025-11-25T00:00:00Z", "not_after": "2027-11-25T00:00:00Z",
///  "effective_at": "2026-11-25T09:00:00Z"}
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CertView {
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The subject (RFC 4514).
    pub subject: String,
    /// The issuer (RFC 4514).
    pub issuer: String,
    /// `notBefore`.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub not_before: OffsetDateTime,
    /// `notAfter`.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub not_after: OffsetDateTime,
    /// When it became (or becomes) current.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub effective_at: OffsetDateTime,
}

impl Store {
    /// The slot that applies to a type at a scope: the scope's own, else (for a pool) its
    /// site's, else the global one. A slot with neither a current nor a pending certificate does
    /// not apply.
    pub fn resolve(&self, cert_type: &CertType, scope: &Scope) -> Option<(Scope, Slot)> {
        let (scope, id) = self.resolve_id(cert_type, scope)?;
        Some((scope, self.slot(id)?))
    }

    /// The slot of a type at a scope itself, without falling back; `None` when it was never
    /// created.
    pub fn slot_at(&self, cert_type: &CertType, scope: &Scope) -> Option<Slot> {
        self.slots.slot_id(cert_type, scope).and_then(|id| self.slot(id))
    }

    /// The slot [`Store::resolve`] finds, by id.
    fn resolve_id(&self, cert_type: &CertType, scope: &Scope) -> Option<(Scope, SlotId)> {
        let site = match scope {
            Scope::Pool(pool) => self.topology.site_of(pool).map(|site| Scope::Site(site.into())),
            _ => None,
        };
        let global = (*scope != Scope::Global).then_some(Scope::Global);
        [Some(scope.clone()), site, global].into_iter().flatten().find_map(|s| {
            let id = self.slots.slot_id(cert_type, &s)?;
            let entry = self.slots.entry(id)?;
            (entry.current.is_some() || entry.pending.is_some()).then_some((s, id))
        })
    }

    fn view(&self, assignment: Option<(Thumbprint, OffsetDateTime)>) -> Option<CertView> {
        let (thumbprint, effective_at) = assignment?;
        let cert = &self.inventory.get(&thumbprint)?.certificate;
        Some(CertView {
            thumbprint,
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            not_before: cert.not_before(),
            not_after: cert.not_after(),
            effective_at,
        })
    }

    /// The `Get-CsCertificate` view of a type at a scope (after falling back).
    pub fn get(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotView> {
        let (scope, slot) = self.resolve(cert_type, scope)?;
        Some(SlotView {
            cert_type: cert_type.clone(),
            scope,
            current: self.view(slot.current.map(|a| (a.thumbprint, a.since))),
            previous: self.view(slot.previous.map(|a| (a.thumbprint, a.since))),
            pending: self.view(slot.pending.map(|p| (p.thumbprint, p.effective_at))),
        })
    }

    /// Every slot with its type and scope, in creation order.
    pub fn slots(&self) -> impl Iterator<Item = (&CertType, &Scope, Slot)> {
        self.slots.entries().filter_map(|(_, e)| {
            let (cert_type, scope) = self.slots.names_of(e)?;
            Some((cert_type, scope, self.view_of(e)))
        })
    }

    /// The certificate signers use: the current one, if it is valid at `at`.
    pub fn signing_cert(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Option<&StoredCertificate> {
        let (_, slot) = self.resolve(cert_type, scope)?;
        let stored = self.inventory.get(&slot.current?.thumbprint)?;
        stored.certificate.is_valid_at(at).then_some(stored)
    }

    /// The certificates verifiers accept: the current one, then the previous one when the type
    /// accepts it and its retention lasts ([`Retention`](crate::policy::Retention)), each only if valid
    /// at `at`.
    pub fn verification_certs(
        &self,
        cert_type: &CertType,
        scope: &Scope,
        at: OffsetDateTime,
    ) -> Vec<&Certificate> {
        let Some((resolved, slot)) = self.resolve(cert_type, scope) else { return Vec::new() };
        let retained = slot.previous.filter(|_| self.previous_trusted_at(cert_type, &resolved, at));
        [slot.current, retained]
            .into_iter()
            .flatten()
            .filter_map(|a| self.inventory.get(&a.thumbprint))
            .map(|s| &s.certificate)
            .filter(|c| c.is_valid_at(at))
            .collect()
    }
}
