//! The store's certificate operations: adding certificates and PFX files to the inventory
//! (`Import-CsCertificate`), reading and removing them.

use crate::pfx::{Pfx, PrivateKey};
use crate::store::Store;
use crate::store::error::SlotError;
use crate::store::inventory::{CertId, IssuerExpiry, StoredCertificate};
use crate::x509::cert::Certificate;
use crate::x509::thumbprint::Thumbprint;

impl Store {
    /// Adds a certificate (and its key) to the inventory; a certificate already there gains the
    /// key if it had none. Returns its thumbprint.
    ///
    /// The inventory holds up to 4,294,967,294 certificates; past that a new one is not added,
    /// and operations that name it report [`SlotError::UnknownCertificate`].
    pub fn add_certificate(&mut self, certificate: Certificate, key: Option<PrivateKey>) -> Thumbprint {
        let thumbprint = certificate.thumbprint();
        let Ok(((), _)) = self.atomically_with(|store| {
            store.inventory.put(certificate, key, None);
            Ok::<_, core::convert::Infallible>(())
        });
        thumbprint
    }

    /// Adds an imported PFX, as `Import-CsCertificate` does: its leaf with the private key, and
    /// its chain. Returns the leaf's thumbprint. Nothing is added when it fails.
    ///
    /// A chain certificate that expires before the leaf ends the leaf's use there
    /// ([`StoredCertificate::effective_end`]): renewal is planned from that instant.
    ///
    /// # Errors
    /// [`SlotError::PfxWithoutKey`] for a PFX that holds no private key (add its certificates
    /// with [`Store::add_certificate`]), [`SlotError::PfxWithoutLeaf`] for one whose key has no
    /// certificate, [`SlotError::CapacityExceeded`] when the inventory is full.
    pub fn add_pfx(&mut self, pfx: Pfx) -> Result<Thumbprint, SlotError> {
        self.atomically_with(|store| store.put_pfx(pfx)).map(|(thumbprint, _)| thumbprint)
    }

    /// The body of [`Store::add_pfx`].
    pub(super) fn put_pfx(&mut self, pfx: Pfx) -> Result<Thumbprint, SlotError> {
        let certificates = pfx.certificates().count();
        let (leaf, key, chain) = pfx.into_parts();
        let Some(key) = key else { return Err(SlotError::PfxWithoutKey { certificates }) };
        let Some(leaf) = leaf else { return Err(SlotError::PfxWithoutLeaf { certificates }) };
        let new = chain.iter().chain([&leaf]).filter(|c| !self.inventory.contains(&c.thumbprint())).count();
        if !self.inventory.has_room(new) {
            return Err(SlotError::CapacityExceeded { what: "certificates", limit: CertId::MAX as usize });
        }
        let thumbprint = leaf.thumbprint();
        let expiry = IssuerExpiry::of_chain(&leaf, &chain);
        for cert in chain {
            self.inventory.put(cert, None, None);
        }
        self.inventory.put(leaf, Some(key), expiry);
        Ok(thumbprint)
    }

    /// Removes a certificate from the inventory.
    ///
    /// # Errors
    /// [`SlotError::UnknownCertificate`], or [`SlotError::StillAssigned`] while a slot refers to it.
    pub fn remove_certificate(&mut self, thumbprint: &Thumbprint) -> Result<StoredCertificate, SlotError> {
        self.atomically_with(|store| {
            let id = store
                .inventory
                .id(thumbprint)
                .ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })?;
            if let Some((slot, _)) = store.slots.entries().find(|(_, e)| e.references(id)) {
                let (cert_type, scope) = store.names_of(slot);
                return Err(SlotError::StillAssigned { thumbprint: *thumbprint, cert_type, scope });
            }
            store
                .inventory
                .remove(thumbprint)
                .ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })
        })
        .map(|(stored, _)| stored)
    }

    /// A certificate of the inventory, or [`SlotError::UnknownCertificate`].
    pub(super) fn stored(&self, thumbprint: &Thumbprint) -> Result<&StoredCertificate, SlotError> {
        self.inventory.get(thumbprint).ok_or(SlotError::UnknownCertificate { thumbprint: *thumbprint })
    }
}
