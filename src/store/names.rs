//! Interned type and scope names, and the slots of each scope.
//!
//! A million slots name a handful of types and a few tens of thousands of scopes: each slot keeps
//! a 2-byte type id and a 4-byte scope id, and each name is held once. A scope's slots are listed
//! beside it by type id, so finding the slot of a (type, scope) costs one hash lookup and a scan
//! of the scope's few types.

use std::collections::HashMap;

use crate::policy::{CertType, Scope};
use crate::store::error::SlotError;

/// Index of a slot in the store's slot table.
pub(super) type SlotId = u32;
/// Index of a type in [`Names`].
pub(super) type TypeId = u16;
/// Index of a scope in [`Names`].
pub(super) type ScopeId = u32;

/// A scope and the slots it has, by type.
#[derive(Clone, Debug)]
struct ScopeSlots {
    scope: Scope,
    slots: Vec<(TypeId, SlotId)>,
}

/// The interned names. Ids are never reused: a name keeps its id for the store's life.
#[derive(Clone, Debug, Default)]
pub(super) struct Names {
    types: Vec<CertType>,
    type_ids: HashMap<CertType, TypeId>,
    scopes: Vec<ScopeSlots>,
    scope_ids: HashMap<Scope, ScopeId>,
}

impl Names {
    pub(super) fn cert_type(&self, id: TypeId) -> Option<&CertType> {
        self.types.get(usize::from(id))
    }

    pub(super) fn scope(&self, id: ScopeId) -> Option<&Scope> {
        self.scopes.get(id as usize).map(|s| &s.scope)
    }

    pub(super) fn type_id(&self, cert_type: &CertType) -> Option<TypeId> {
        self.type_ids.get(cert_type).copied()
    }

    /// The slot of a type at a scope, if it was ever created.
    pub(super) fn slot_id(&self, cert_type: &CertType, scope: &Scope) -> Option<SlotId> {
        let type_id = self.type_id(cert_type)?;
        let scope = self.scopes.get(*self.scope_ids.get(scope)? as usize)?;
        scope.slots.iter().find(|(t, _)| *t == type_id).map(|(_, id)| *id)
    }

    /// The slots of a scope, by type id.
    pub(super) fn slots_at(&self, scope: &Scope) -> impl Iterator<Item = SlotId> + '_ {
        let scope = self.scope_ids.get(scope).and_then(|id| self.scopes.get(*id as usize));
        scope.into_iter().flat_map(|s| s.slots.iter().map(|(_, id)| *id))
    }

    /// Whether the names of slots for `cert_types` at `scope` still fit the ids, checked before
    /// an operation changes anything.
    ///
    /// # Errors
    /// [`SlotError::CapacityExceeded`] past 65,535 types or 4,294,967,295 scopes.
    pub(super) fn check_room(&self, cert_types: &[CertType], scope: &Scope) -> Result<(), SlotError> {
        let new_types = cert_types.iter().filter(|t| !self.type_ids.contains_key(t)).count();
        if self.types.len() + new_types > usize::from(TypeId::MAX) {
            return Err(SlotError::CapacityExceeded {
                what: "certificate types",
                limit: usize::from(TypeId::MAX),
            });
        }
        let new_scope = usize::from(!self.scope_ids.contains_key(scope));
        if self.scopes.len() + new_scope > ScopeId::MAX as usize {
            return Err(SlotError::CapacityExceeded { what: "scopes", limit: ScopeId::MAX as usize });
        }
        Ok(())
    }

    /// The ids of a type and a scope, interning them if new. `None` past the capacity, which
    /// [`Names::check_room`] rules out first.
    pub(super) fn intern(&mut self, cert_type: &CertType, scope: &Scope) -> Option<(TypeId, ScopeId)> {
        let type_id = match self.type_ids.get(cert_type) {
            Some(id) => *id,
            None => {
                let id = TypeId::try_from(self.types.len()).ok().filter(|id| *id < TypeId::MAX)?;
                self.types.push(cert_type.clone());
                self.type_ids.insert(cert_type.clone(), id);
                id
            }
        };
        let scope_id = match self.scope_ids.get(scope) {
            Some(id) => *id,
            None => {
                let id = ScopeId::try_from(self.scopes.len()).ok().filter(|id| *id < ScopeId::MAX)?;
                self.scopes.push(ScopeSlots { scope: scope.clone(), slots: Vec::new() });
                self.scope_ids.insert(scope.clone(), id);
                id
            }
        };
        Some((type_id, scope_id))
    }

    /// Records that slot `id` is the slot of `type_id` at `scope_id`.
    pub(super) fn add_slot(&mut self, type_id: TypeId, scope_id: ScopeId, id: SlotId) {
        if let Some(scope) = self.scopes.get_mut(scope_id as usize) {
            // Exact growth: a scope has a handful of slots, and a million slots' spare capacity
            // would cost more than the reallocations.
            scope.slots.reserve_exact(1);
            scope.slots.push((type_id, id));
        }
    }

    /// Undoes [`Names::add_slot`] (a rolled-back creation). The interned names stay.
    pub(super) fn remove_slot(&mut self, type_id: TypeId, scope_id: ScopeId, id: SlotId) {
        if let Some(scope) = self.scopes.get_mut(scope_id as usize) {
            scope.slots.retain(|s| *s != (type_id, id));
        }
    }
}
