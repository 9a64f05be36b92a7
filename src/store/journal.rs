//! The transaction mechanism's one piece of bookkeeping: each part of the store keeps a
//! [`Journal`] of how to undo each change it made, and implements [`Journaled`] by saying how to
//! undo one entry. A savepoint is the journal's length; rolling back undoes the entries after
//! it, latest first; committing forgets them.

/// How to undo the changes made since the outermost operation began, oldest first.
#[derive(Clone, Debug)]
pub(super) struct Journal<U>(Vec<U>);

impl<U> Default for Journal<U> {
    fn default() -> Self {
        Self(Vec::new())
    }
}

impl<U> Journal<U> {
    /// Records how to undo a change just made.
    pub(super) fn record(&mut self, undo: U) {
        self.0.push(undo);
    }
}

/// A part of the store whose changes can be rolled back.
pub(super) trait Journaled {
    /// How to undo one change.
    type Undo;

    fn journal(&self) -> &Journal<Self::Undo>;

    fn journal_mut(&mut self) -> &mut Journal<Self::Undo>;

    /// Undoes one change (the latest not yet undone).
    fn undo(&mut self, undo: Self::Undo);

    /// A savepoint: the length of the journal.
    fn mark(&self) -> usize {
        self.journal().0.len()
    }

    /// Forgets the journal (the outermost operation succeeded).
    fn commit(&mut self) {
        self.journal_mut().0.clear();
    }

    /// Undoes every change after savepoint `mark`, latest first.
    fn rollback(&mut self, mark: usize) {
        while self.journal().0.len() > mark {
            let Some(undo) = self.journal_mut().0.pop() else { break };
            self.undo(undo);
        }
    }
}
