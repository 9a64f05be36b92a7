//! A set of slot ids that adapts to its density: one id inline, a B-tree set while sparse, a
//! bitmap over the slot table once dense. The schedule keeps one per (instant, trigger); the
//! slots that share a certificate share its instants, so one set can hold every slot of a store
//! (a million ids), where a B-tree costs a cache miss a level on every insert and 4 to 8 bytes an
//! id, and a bitmap costs one word and an eighth of a byte a slot.

use std::collections::BTreeSet;

use crate::store::names::SlotId;

/// Below this many ids a set stays a B-tree.
const DENSE_MIN: usize = 1024;
/// A B-tree set becomes a bitmap once it holds at least one id in this many of the slot ids
/// up to its largest (the bitmap is then at most 4 bits an id, less than the B-tree).
const DENSE_RATIO: usize = 32;
/// A bitmap becomes a B-tree again once it holds fewer than one id in this many bits (the
/// gap between the two ratios keeps a set from switching back and forth).
const SPARSE_RATIO: usize = 256;

/// A set of slot ids, iterated in increasing order.
#[derive(Clone, Debug)]
pub(super) enum SlotSet {
    One(SlotId),
    Sparse(BTreeSet<SlotId>),
    Dense(Bitmap),
}

/// Bits over slot ids; `low` is a word at or below the first set bit, so that finding the first
/// id does not rescan the words emptied before it.
#[derive(Clone, Debug, Default)]
pub(super) struct Bitmap {
    words: Vec<u64>,
    len: usize,
    low: usize,
}

impl Bitmap {
    fn insert(&mut self, id: SlotId) -> bool {
        let (word, bit) = (id as usize / 64, id % 64);
        if word >= self.words.len() {
            self.words.resize(word + 1, 0);
        }
        let Some(w) = self.words.get_mut(word) else { return false };
        let new = *w & (1 << bit) == 0;
        *w |= 1 << bit;
        if new {
            self.len += 1;
            self.low = self.low.min(word);
        }
        new
    }

    fn remove(&mut self, id: SlotId) -> bool {
        let (word, bit) = (id as usize / 64, id % 64);
        let Some(w) = self.words.get_mut(word) else { return false };
        let present = *w & (1 << bit) != 0;
        *w &= !(1 << bit);
        if present {
            self.len -= 1;
            while self.words.get(self.low).is_some_and(|w| *w == 0) {
                self.low += 1;
            }
        }
        present
    }

    fn first(&self) -> Option<SlotId> {
        let (index, word) = self.words.iter().enumerate().skip(self.low).find(|(_, w)| **w != 0)?;
        SlotId::try_from(index * 64 + word.trailing_zeros() as usize).ok()
    }

    fn iter(&self) -> impl Iterator<Item = SlotId> + '_ {
        self.words.iter().enumerate().skip(self.low).flat_map(|(index, word)| {
            let mut rest = *word;
            core::iter::from_fn(move || {
                if rest == 0 {
                    return None;
                }
                let bit = rest.trailing_zeros() as usize;
                rest &= rest - 1;
                SlotId::try_from(index * 64 + bit).ok()
            })
        })
    }
}

impl SlotSet {
    /// Adds `id`.
    pub(super) fn insert(&mut self, id: SlotId) {
        match self {
            Self::One(other) if *other == id => {}
            Self::One(other) => *self = Self::Sparse(BTreeSet::from([*other, id])),
            Self::Sparse(ids) => {
                ids.insert(id);
                let top = ids.last().map_or(0, |t| *t as usize + 1);
                if ids.len() >= DENSE_MIN && ids.len() * DENSE_RATIO >= top {
                    let mut bits = Bitmap { low: usize::MAX, ..Bitmap::default() };
                    for id in ids.iter() {
                        bits.insert(*id);
                    }
                    *self = Self::Dense(bits);
                }
            }
            Self::Dense(bits) => {
                bits.insert(id);
            }
        }
    }

    /// Removes `id`; true when the set is empty after.
    pub(super) fn remove(&mut self, id: SlotId) -> bool {
        match self {
            Self::One(other) => *other == id,
            Self::Sparse(ids) => {
                ids.remove(&id);
                ids.is_empty()
            }
            Self::Dense(bits) => {
                bits.remove(id);
                if bits.len == 0 {
                    return true;
                }
                if bits.len < DENSE_MIN && bits.len * SPARSE_RATIO < bits.words.len() * 64 {
                    *self = Self::Sparse(bits.iter().collect());
                }
                false
            }
        }
    }

    /// The smallest id.
    pub(super) fn first(&self) -> Option<SlotId> {
        match self {
            Self::One(id) => Some(*id),
            Self::Sparse(ids) => ids.first().copied(),
            Self::Dense(bits) => bits.first(),
        }
    }

    /// Every id, in increasing order.
    pub(super) fn iter(&self) -> Box<dyn Iterator<Item = SlotId> + '_> {
        match self {
            Self::One(id) => Box::new(core::iter::once(*id)),
            Self::Sparse(ids) => Box::new(ids.iter().copied()),
            Self::Dense(bits) => Box::new(bits.iter()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(set: &SlotSet) -> Vec<SlotId> {
        set.iter().collect()
    }

    #[test]
    fn a_dense_set_becomes_a_bitmap_and_a_sparse_one_a_tree_again() {
        let mut set = SlotSet::One(5);
        for id in (0..4096).rev() {
            set.insert(id * 3);
        }
        assert!(matches!(set, SlotSet::Dense(_)));
        assert_eq!(ids(&set).len(), 4097);
        assert_eq!(ids(&set).first(), Some(&0));
        assert_eq!(ids(&set).get(2), Some(&5));
        assert!(ids(&set).windows(2).all(|w| w[0] < w[1]));
        assert_eq!(set.first(), Some(0));
        assert!(!set.remove(0));
        assert_eq!(set.first(), Some(3));
        for id in 0..4096 {
            set.remove(id * 3);
        }
        assert_eq!(ids(&set), [5]);
        assert!(matches!(set, SlotSet::Sparse(_)));
        assert!(set.remove(5));
    }

    #[test]
    fn the_first_id_follows_removals_and_inserts_below() {
        let mut set = SlotSet::One(0);
        for id in 1..2048 {
            set.insert(id);
        }
        assert!(matches!(set, SlotSet::Dense(_)));
        for id in 0..1000 {
            assert_eq!(set.first(), Some(id));
            set.remove(id);
        }
        set.insert(7);
        assert_eq!(set.first(), Some(7));
        assert_eq!(ids(&set).len(), 1049);
        // Removing an id that is not there changes nothing.
        assert!(!set.remove(5000));
        assert_eq!(ids(&set).len(), 1049);
    }
}
