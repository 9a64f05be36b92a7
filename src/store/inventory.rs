//! The inventory: every certificate the store knows, by thumbprint, with its private key when the
//! store holds one. Slots refer to certificates by a 4-byte id into this table.
//!
//! Invariant: `ids` maps exactly the thumbprints of the certificates in `certs`, and `free` lists
//! exactly the empty cells. Every change is journaled, so that a refused operation rolls back to
//! a savepoint with the same ids as before (slots refer to certificates by id).

use time::OffsetDateTime;

use crate::pfx::PrivateKey;
use crate::store::journal::{Journal, Journaled};
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::{DigestMap, Thumbprint};

/// A certificate in the inventory, with its private key when the store holds it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct StoredCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// Its private key, if imported with one.
    pub key: Option<PrivateKey>,
    /// The certificate of the chain it was delivered with that expires first, when that is
    /// before the certificate itself: its effective end ([`StoredCertificate::effective_end`]).
    pub issuer_expiry: Option<IssuerExpiry>,
}

/// A chain certificate that expires before the certificate it issued (directly or through
/// others), so that the chain stops validating first: an issuing CA due for its own renewal.
///
/// JSON (feature `serde`): `{"issuer": "CA5E...", "not_after": "2027-03-01T00:00:00Z"}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IssuerExpiry {
    /// The chain certificate.
    pub issuer: Thumbprint,
    /// Its `notAfter`.
    #[cfg_attr(feature = "serde", serde(with = "time::serde::rfc3339"))]
    pub not_after: OffsetDateTime,
}

impl IssuerExpiry {
    /// The chain certificate of `chain` (the certificates above `leaf`, in any order) that
    /// expires first, when that is before `leaf` does.
    pub fn of_chain<'a>(
        leaf: &Certificate,
        chain: impl IntoIterator<Item = &'a Certificate>,
    ) -> Option<Self> {
        chain
            .into_iter()
            .filter(|c| c.not_after() < leaf.not_after())
            .min_by_key(|c| (c.not_after(), c.thumbprint()))
            .map(|c| Self { issuer: c.thumbprint(), not_after: c.not_after() })
    }
}

impl StoredCertificate {
    /// The last instant the certificate is usable: its `notAfter`, or the earlier `notAfter` of
    /// the chain it was delivered with. Renewal, expiry and retirement are planned from it.
    pub fn effective_end(&self) -> OffsetDateTime {
        self.issuer_expiry
            .map_or(self.certificate.not_after(), |e| e.not_after.min(self.certificate.not_after()))
    }
}

/// Index of a certificate in the [`Inventory`]; reused only after the certificate left it.
pub(super) type CertId = u32;

/// How to undo one change.
#[derive(Clone, Debug)]
pub(super) enum Undo {
    /// A certificate went into cell `id`, which was on the free list when `reused`.
    Inserted { id: CertId, reused: bool },
    /// A key was attached to the certificate of cell `id`, which had none.
    KeyAttached { id: CertId },
    /// An issuer's expiry was attached to the certificate of cell `id`, which had none.
    ExpiryAttached { id: CertId },
    /// The certificate of cell `id` was removed (its id went to the end of the free list).
    Removed { id: CertId, stored: Box<StoredCertificate> },
}

/// Every certificate a [`Store`](crate::Store) knows, with the private keys it holds: the
/// store's inventory, read through [`Store::inventory`](crate::Store::inventory). Certificates
/// enter it with [`Store::add_pfx`](crate::Store::add_pfx) and
/// [`Store::add_certificate`](crate::Store::add_certificate).
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    certs: Vec<Option<StoredCertificate>>,
    free: Vec<CertId>,
    ids: DigestMap<CertId>,
    log: Journal<Undo>,
}

impl Inventory {
    pub(super) fn id(&self, thumbprint: &Thumbprint) -> Option<CertId> {
        self.ids.get(thumbprint).copied()
    }

    pub(super) fn by_id(&self, id: CertId) -> Option<&StoredCertificate> {
        self.certs.get(id as usize).and_then(Option::as_ref)
    }

    /// The certificate with this thumbprint, with its key when the store holds it.
    pub fn get(&self, thumbprint: &Thumbprint) -> Option<&StoredCertificate> {
        self.id(thumbprint).and_then(|id| self.by_id(id))
    }

    /// Whether the inventory holds this certificate.
    pub fn contains(&self, thumbprint: &Thumbprint) -> bool {
        self.ids.contains_key(thumbprint)
    }

    /// The certificates whose subject is the DER name `name`, in the order they entered (a scan:
    /// the inventory holds a store's few issuers beside its leaves): the candidates for the
    /// issuer of a certificate whose issuer is `name`.
    pub fn with_subject<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = &'a Certificate> + 'a {
        self.certs.iter().flatten().map(|s| &s.certificate).filter(move |c| c.subject().as_der() == name)
    }

    /// Every certificate, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &StoredCertificate> {
        self.certs.iter().flatten()
    }

    /// Whether `n` more certificates fit the ids.
    pub(super) fn has_room(&self, n: usize) -> bool {
        self.certs.len().saturating_sub(self.free.len()) + n <= CertId::MAX as usize
    }

    /// Adds a certificate, or the key to a certificate already there that has none. Returns
    /// the certificate's id; `None` when the ids are used up (which [`Inventory::has_room`]
    /// rules out first).
    pub(super) fn put(
        &mut self,
        certificate: Certificate,
        key: Option<PrivateKey>,
        issuer_expiry: Option<IssuerExpiry>,
    ) -> Option<CertId> {
        if let Some(id) = self.id(&certificate.thumbprint()) {
            if let Some(Some(stored)) = self.certs.get_mut(id as usize) {
                if let Some(key) = key.filter(|_| stored.key.is_none()) {
                    stored.key = Some(key);
                    self.log.record(Undo::KeyAttached { id });
                }
                if let Some(expiry) = issuer_expiry.filter(|_| stored.issuer_expiry.is_none()) {
                    stored.issuer_expiry = Some(expiry);
                    self.log.record(Undo::ExpiryAttached { id });
                }
            }
            return Some(id);
        }
        let thumbprint = certificate.thumbprint();
        let stored = StoredCertificate { certificate, key, issuer_expiry };
        let (id, reused) = match self.free.pop() {
            Some(id) => {
                if let Some(cell) = self.certs.get_mut(id as usize) {
                    *cell = Some(stored);
                }
                (id, true)
            }
            None => {
                let id = CertId::try_from(self.certs.len()).ok().filter(|id| *id < CertId::MAX)?;
                self.certs.push(Some(stored));
                (id, false)
            }
        };
        self.ids.insert(thumbprint, id);
        self.log.record(Undo::Inserted { id, reused });
        Some(id)
    }

    /// Removes a certificate; the caller has checked that no slot refers to it.
    pub(super) fn remove(&mut self, thumbprint: &Thumbprint) -> Option<StoredCertificate> {
        let id = self.ids.remove(thumbprint)?;
        let stored = self.certs.get_mut(id as usize).and_then(Option::take)?;
        self.free.push(id);
        self.log.record(Undo::Removed { id, stored: Box::new(stored.clone()) });
        Some(stored)
    }
}

impl Journaled for Inventory {
    type Undo = Undo;

    fn journal(&self) -> &Journal<Undo> {
        &self.log
    }

    fn journal_mut(&mut self) -> &mut Journal<Undo> {
        &mut self.log
    }

    fn undo(&mut self, undo: Undo) {
        match undo {
            Undo::Inserted { id, reused } => {
                let cell = self.certs.get_mut(id as usize).and_then(Option::take);
                if let Some(stored) = cell {
                    self.ids.remove(&stored.certificate.thumbprint());
                }
                if reused {
                    self.free.push(id);
                } else {
                    self.certs.pop();
                }
            }
            Undo::KeyAttached { id } => {
                if let Some(Some(stored)) = self.certs.get_mut(id as usize) {
                    stored.key = None;
                }
            }
            Undo::ExpiryAttached { id } => {
                if let Some(Some(stored)) = self.certs.get_mut(id as usize) {
                    stored.issuer_expiry = None;
                }
            }
            Undo::Removed { id, stored } => {
                self.free.retain(|f| *f != id);
                self.ids.insert(stored.certificate.thumbprint(), id);
                if let Some(cell) = self.certs.get_mut(id as usize) {
                    *cell = Some(*stored);
                }
            }
        }
    }
}
