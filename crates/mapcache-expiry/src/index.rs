//! The per-shard deadline index.

use std::collections::BTreeSet;

use crate::clock::UnixMillis;

/// A per-shard ordered index of `(deadline, key)`.
///
/// The store keeps each entry's deadline in the entry *and* here, and updates both under
/// the shard's write lock, so the index always holds exactly the keys that have a deadline.
/// `K` is the store's key type (`bytes::Bytes` in practice: cheap `Clone`, `Ord`).
///
/// Layout: a `BTreeSet<(UnixMillis, K)>`, chosen by measurement (see the crate README,
/// "Why this index"). Every operation is `O(log n)` worst case whatever the deadlines
/// are (all equal, all distinct, rewritten often), memory is exact (no tombstones), and
/// [`pop_due`](Self::pop_due) yields due keys in deadline order, ties in key order.
#[derive(Debug, Clone)]
pub struct DeadlineIndex<K> {
    set: BTreeSet<(UnixMillis, K)>,
}

impl<K: Ord + Clone> Default for DeadlineIndex<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Ord + Clone> DeadlineIndex<K> {
    /// An empty index (allocates nothing).
    pub fn new() -> Self {
        Self {
            set: BTreeSet::new(),
        }
    }

    /// Records that `key` expires at `deadline`.
    ///
    /// The caller removes the key's previous deadline first (it is stored in the entry);
    /// inserting the same `(key, deadline)` twice keeps one.
    pub fn insert(&mut self, key: K, deadline: UnixMillis) {
        self.set.insert((deadline, key));
    }

    /// Forgets `key` at `deadline`. Returns whether it was there: `false` means the caller
    /// passed a deadline the key was not indexed under (a bug in the caller).
    pub fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        // `BTreeSet` can only look up by `&(UnixMillis, K)`; cloning a `Bytes` key is a
        // reference-count increment.
        self.set.remove(&(deadline, key.clone()))
    }

    /// Whether `key` is indexed at `deadline`.
    pub fn contains(&self, key: &K, deadline: UnixMillis) -> bool {
        self.set.contains(&(deadline, key.clone()))
    }

    /// How many keys are indexed.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.set.first().map(|(d, _)| *d)
    }

    /// Whether some key is due at `now` (`deadline <= now`).
    pub fn has_due(&self, now: UnixMillis) -> bool {
        self.next_deadline().is_some_and(|d| d <= now)
    }

    /// Removes up to `max` entries whose deadline is `<= now`, earliest first (ties in key
    /// order), pushing `(key, deadline)` onto `out`. Returns how many were taken; use
    /// [`has_due`](Self::has_due) to learn whether due entries remain.
    ///
    /// Work is `O(max · log n)`: a call never scans entries that are not due.
    pub fn pop_due(
        &mut self,
        now: UnixMillis,
        max: usize,
        out: &mut Vec<(K, UnixMillis)>,
    ) -> usize {
        let mut taken = 0;
        while taken < max {
            match self.set.first() {
                Some((d, _)) if *d <= now => {}
                _ => break,
            }
            if let Some((d, k)) = self.set.pop_first() {
                out.push((k, d));
                taken += 1;
            }
        }
        taken
    }

    /// How many entries are due at `now` (DBSIZE subtracts them: a due key is gone for
    /// clients even before the sweeper removes it). `O(due)`.
    pub fn count_due(&self, now: UnixMillis) -> usize {
        self.set.iter().take_while(|(d, _)| *d <= now).count()
    }

    /// Forgets every key (for `FLUSHDB`; the store may instead swap the index out with
    /// [`std::mem::take`] and drop it outside the lock).
    pub fn clear(&mut self) {
        self.set.clear();
    }

    /// Iterates `(deadline, key)` in deadline order (for debugging and `DEBUG` commands).
    pub fn iter(&self) -> impl Iterator<Item = (UnixMillis, &K)> + '_ {
        self.set.iter().map(|(d, k)| (*d, k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(ix: &mut DeadlineIndex<u64>, now: i64, max: usize) -> Vec<(u64, i64)> {
        let mut out = Vec::new();
        let n = ix.pop_due(now, max, &mut out);
        assert_eq!(n, out.len());
        out
    }

    #[test]
    fn pops_in_deadline_order() {
        let mut ix = DeadlineIndex::new();
        for (k, d) in [(1u64, 30), (2, 10), (3, 20), (4, 40), (5, 5)] {
            ix.insert(k, d);
        }
        assert_eq!(ix.len(), 5);
        assert_eq!(ix.next_deadline(), Some(5));
        assert_eq!(
            drain(&mut ix, 30, usize::MAX),
            vec![(5, 5), (2, 10), (3, 20), (1, 30)]
        );
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.next_deadline(), Some(40));
        assert!(!ix.has_due(39));
        assert!(ix.has_due(40));
    }

    #[test]
    fn same_deadline_keys_all_popped() {
        let mut ix = DeadlineIndex::new();
        for k in (0..1000u64).rev() {
            ix.insert(k, 7);
        }
        assert_eq!(ix.len(), 1000);
        assert!(drain(&mut ix, 6, usize::MAX).is_empty());
        let out = drain(&mut ix, 7, usize::MAX);
        assert_eq!(out.len(), 1000);
        assert!(out.iter().all(|&(_, d)| d == 7));
        let mut keys: Vec<u64> = out.iter().map(|&(k, _)| k).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "ties in key order");
        keys.dedup();
        assert_eq!(keys.len(), 1000);
        assert!(ix.is_empty());
        assert_eq!(ix.next_deadline(), None);
    }

    #[test]
    fn remove_needs_the_right_deadline() {
        let mut ix = DeadlineIndex::new();
        ix.insert(1u64, 100);
        ix.insert(2u64, 100);
        assert!(!ix.remove(&1, 99), "wrong deadline");
        assert!(!ix.remove(&3, 100), "unknown key");
        assert_eq!(ix.len(), 2);
        assert!(ix.contains(&1, 100));
        assert!(ix.remove(&1, 100));
        assert!(!ix.contains(&1, 100));
        assert!(!ix.remove(&1, 100), "already removed");
        assert_eq!(ix.len(), 1);
        assert_eq!(drain(&mut ix, 100, 10), vec![(2, 100)]);
    }

    #[test]
    fn rewriting_a_ttl_moves_the_key() {
        let mut ix = DeadlineIndex::new();
        ix.insert(1u64, 100);
        assert!(ix.remove(&1, 100));
        ix.insert(1, 500);
        assert_eq!(ix.len(), 1);
        assert!(!ix.has_due(100));
        assert_eq!(drain(&mut ix, 500, 10), vec![(1, 500)]);
    }

    #[test]
    fn pop_due_respects_max() {
        let mut ix = DeadlineIndex::new();
        for k in 0..10u64 {
            ix.insert(k, k as i64);
        }
        ix.insert(99, 1_000);
        assert_eq!(drain(&mut ix, 100, 0), vec![]);
        assert_eq!(drain(&mut ix, 100, 3), vec![(0, 0), (1, 1), (2, 2)]);
        assert!(ix.has_due(100));
        assert_eq!(drain(&mut ix, 100, 4).len(), 4);
        // Only 3 due left; max 10 takes 3 and leaves the future key.
        let mut out = vec![(42, 42)];
        assert_eq!(ix.pop_due(100, 10, &mut out), 3);
        assert_eq!(out.len(), 4, "appends to out");
        assert!(!ix.has_due(100));
        assert_eq!(ix.len(), 1);
        assert_eq!(ix.next_deadline(), Some(1_000));
    }

    #[test]
    fn negative_and_extreme_deadlines() {
        let mut ix = DeadlineIndex::new();
        ix.insert(1u64, i64::MIN);
        ix.insert(2u64, i64::MAX);
        ix.insert(3u64, -5);
        assert_eq!(ix.next_deadline(), Some(i64::MIN));
        assert_eq!(drain(&mut ix, 0, 10), vec![(1, i64::MIN), (3, -5)]);
        assert!(ix.has_due(i64::MAX));
        ix.clear();
        assert!(ix.is_empty());
        assert!(!ix.has_due(i64::MAX));
    }
}
