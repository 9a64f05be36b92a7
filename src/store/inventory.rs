//! The inventory: every certificate the store knows, by thumbprint, with its private key when the
//! store holds one. Slots refer to certificates by a 4-byte id into this table.

use crate::pfx::{Pfx, PrivateKey};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::names::SlotId;
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::{DigestMap, Thumbprint};

/// A certificate in the inventory, with its private key when the store holds it.
#[derive(Clone, Debug)]
pub struct StoredCertificate {
    /// The certificate.
    pub certificate: Certificate,
    /// Its private key, if imported with one.
    pub key: Option<PrivateKey>,
}

/// Index of a certificate in the [`Inventory`]; reused only after the certificate left it.
pub(crate) type CertId = u32;

/// The certificates, by id and by thumbprint.
#[derive(Clone, Debug, Default)]
pub(crate) struct Inventory {
    certs: Vec<Option<StoredCertificate>>,
    free: Vec<CertId>,
    ids: DigestMap<CertId>,
}

impl Inventory {
    pub(crate) fn id(&self, thumbprint: &Thumbprint) -> Option<CertId> {
        self.ids.get(thumbprint).copied()
    }

    pub(crate) fn by_id(&self, id: CertId) -> Option<&StoredCertificate> {
        self.certs.get(id as usize).and_then(Option::as_ref)
    }

    pub(crate) fn get(&self, thumbprint: &Thumbprint) -> Option<&StoredCertificate> {
        self.id(thumbprint).and_then(|id| self.by_id(id))
    }

    pub(crate) fn get_mut(&mut self, thumbprint: &Thumbprint) -> Option<&mut StoredCertificate> {
        let id = self.id(thumbprint)?;
        self.certs.get_mut(id as usize).and_then(Option::as_mut)
    }

    pub(crate) fn contains(&self, thumbprint: &Thumbprint) -> bool {
        self.ids.contains_key(thumbprint)
    }

    /// Every certificate whose subject is `name` (DER), in id order (a scan: the inventory holds
    /// a store's few issuers). A CA renewed with a new key has several.
    pub(crate) fn by_subject<'a>(&'a self, name: &[u8]) -> impl Iterator<Item = &'a Certificate> {
        self.certs.iter().flatten().map(|s| &s.certificate).filter(move |c| c.subject().as_der() == name)
    }

    /// Every certificate, in no particular order (for the saved state).
    #[cfg(feature = "serde")]
    pub(crate) fn values(&self) -> impl Iterator<Item = &StoredCertificate> {
        self.certs.iter().flatten()
    }

    /// Whether `n` more certificates fit the ids.
    pub(crate) fn has_room(&self, n: usize) -> bool {
        self.certs.len().saturating_sub(self.free.len()) + n <= CertId::MAX as usize
    }

    /// Adds a certificate not yet in the inventory. `None` when the ids are used up.
    pub(crate) fn insert(&mut self, stored: StoredCertificate) -> Option<CertId> {
        let thumbprint = stored.certificate.thumbprint();
        let id = match self.free.pop() {
            Some(id) => {
                if let Some(cell) = self.certs.get_mut(id as usize) {
                    *cell = Some(stored);
                }
                id
            }
            None => {
                let id = CertId::try_from(self.certs.len()).ok().filter(|id| *id < CertId::MAX)?;
                self.certs.push(Some(stored));
                id
            }
        };
        self.ids.insert(thumbprint, id);
        Some(id)
    }

    pub(crate) fn remove(&mut self, thumbprint: &Thumbprint) -> Option<StoredCertificate> {
        let id = self.ids.remove(thumbprint)?;
        let stored = self.certs.get_mut(id as usize).and_then(Option::take);
        self.free.push(id);
        stored
    }
}

impl Store {
    /// Adds a certificate (and its key) to the inventory; a certificate already there gains the
    /// key if it had none. Returns its thumbprint.
    ///
    /// The inventory holds up to 4,294,967,294 certificates; past that a new one is not added,
    /// and operations that name it report [`SlotError::UnknownCertificate`].
    pub fn add_certificate(&mut self, certificate: Certificate, key: Option<PrivateKey>) -> Thumbprint {
        let thumbprint = certificate.thumbprint();
        self.put(certificate, key);
        self.revision += 1;
        thumbprint
    }

    /// Adds a certificate, or the key to a certificate already there that has none.
    fn put(&mut self, certificate: Certificate, key: Option<PrivateKey>) {
        match self.inventory.get_mut(&certificate.thumbprint()) {
            Some(stored) => {
                if stored.key.is_none() {
                    stored.key = key;
                }
            }
            None => {
                self.inventory.insert(StoredCertificate { certificate, key });
            }
        }
    }

    /// Adds an imported PFX, as `Import-CsCertificate` does: its leaf with the private key, and
    /// its chain. Returns the leaf's thumbprint. Nothing is added when it fails.
    ///
    /// # Errors
    /// [`SlotError::PfxWithoutKey`] for a PFX that holds no private key (add its certificates
    /// with [`Store::add_certificate`]), [`SlotError::PfxWithoutLeaf`] for one whose key has no
    /// certificate, [`SlotError::CapacityExceeded`] when the inventory is full.
    pub fn add_pfx(&mut self, pfx: Pfx) -> Result<Thumbprint, SlotError> {
        let certificates = pfx.certificates().count();
        let (leaf, key, chain) = pfx.into_parts();
        let Some(key) = key else { return Err(SlotError::PfxWithoutKey { certificates }) };
        let Some(leaf) = leaf else { return Err(SlotError::PfxWithoutLeaf { certificates }) };
        let new = chain.iter().chain([&leaf]).filter(|c| !self.inventory.contains(&c.thumbprint())).count();
        if !self.inventory.has_room(new) {
            return Err(SlotError::CapacityExceeded { what: "certificates", limit: CertId::MAX as usize });
        }
        let thumbprint = leaf.thumbprint();
        for cert in chain {
            self.put(cert, None);
        }
        self.put(leaf, Some(key));
        self.revision += 1;
        Ok(thumbprint)
    }

    /// The certificates of the inventory whose subject is the DER name `name`: the candidates
    /// for the issuer of a certificate with that issuer name
    /// ([`Certificate::issuer_among`] picks the one that issued it).
    pub(crate) fn find_by_subject<'a>(&'a self, name: &[u8]) -> impl Iterator<Item = &'a Certificate> {
        self.inventory.by_subject(name)
    }

    /// A certificate of the inventory.
    pub fn certificate(&self, thumbprint: &Thumbprint) -> Option<&StoredCertificate> {
        self.inventory.get(thumbprint)
    }

    /// Removes a certificate from the inventory.
    ///
    /// # Errors
    /// [`SlotError::UnknownCertificate`], or [`SlotError::StillAssigned`] while a slot refers to it.
    pub fn remove_certificate(&mut self, thumbprint: &Thumbprint) -> Result<StoredCertificate, SlotError> {
        let id =
            self.inventory.id(thumbprint).ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })?;
        if let Some(slot) = self.slots.iter().position(|e| e.references(id)) {
            let (cert_type, scope) = self.names_of(SlotId::try_from(slot).unwrap_or(SlotId::MAX));
            return Err(SlotError::StillAssigned { thumbprint: *thumbprint, cert_type, scope });
        }
        let stored = self
            .inventory
            .remove(thumbprint)
            .ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })?;
        self.revision += 1;
        Ok(stored)
    }

    pub(crate) fn stored(&self, thumbprint: &Thumbprint) -> Result<&StoredCertificate, SlotError> {
        self.inventory.get(thumbprint).ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })
    }
}
