//! The per-shard deadline index.

use std::collections::BTreeMap;

use crate::clock::UnixMillis;

/// A per-shard ordered index of `(deadline, key)`, a multiset.
///
/// The store keeps each entry's deadline in the entry *and* here, and updates both under
/// the shard's write lock, so the index always holds exactly the keys that have a deadline.
/// `K` is whatever identifies an entry cheaply: the store uses the key's 64-bit hash (8
/// bytes instead of a 32-byte `Bytes` handle per TTL), and since two keys may share a
/// hash, the same `(deadline, key)` may be inserted more than once: each insert counts,
/// and needs its own [`remove`](Self::remove).
///
/// Layout: a `BTreeMap<(UnixMillis, K), count>`, chosen by measurement (see the crate
/// README, "Why this index"). Every operation is `O(log n)` worst case whatever the
/// deadlines are (all equal, all distinct, rewritten often), memory is exact (no
/// tombstones), and [`pop_due`](Self::pop_due) yields due keys in deadline order, ties
/// in key order.
#[derive(Debug, Clone)]
pub struct DeadlineIndex<K> {
    set: BTreeMap<(UnixMillis, K), u32>,
    len: usize,
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
            set: BTreeMap::new(),
            len: 0,
        }
    }

    /// Records that `key` expires at `deadline`.
    ///
    /// The caller removes the key's previous deadline first (it is stored in the entry);
    /// inserting the same `(key, deadline)` twice holds it twice.
    pub fn insert(&mut self, key: K, deadline: UnixMillis) {
        *self.set.entry((deadline, key)).or_insert(0) += 1;
        self.len += 1;
    }

    /// Forgets `key` at `deadline`. Returns whether it was there: `false` means the caller
    /// passed a deadline the key was not indexed under (a bug in the caller).
    pub fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        // The map looks up by `&(UnixMillis, K)`: `K` is cloned (cheap for the store's
        // hashes and for reference-counted keys).
        let slot = (deadline, key.clone());
        let Some(n) = self.set.get_mut(&slot) else {
            return false;
        };
        *n -= 1;
        if *n == 0 {
            self.set.remove(&slot);
        }
        self.len -= 1;
        true
    }

    /// Whether `key` is indexed at `deadline`.
    pub fn contains(&self, key: &K, deadline: UnixMillis) -> bool {
        self.set.contains_key(&(deadline, key.clone()))
    }

    /// How many keys are indexed (an entry inserted twice counts twice).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no key is indexed.
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<UnixMillis> {
        self.set.first_key_value().map(|((d, _), _)| *d)
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
            let Some(mut first) = self.set.first_entry() else {
                break;
            };
            if first.key().0 > now {
                break;
            }
            let (d, k) = first.key().clone();
            if *first.get() > 1 {
                *first.get_mut() -= 1;
            } else {
                first.remove();
            }
            out.push((k, d));
            self.len -= 1;
            taken += 1;
        }
        taken
    }

    /// How many entries are due at `now` (DBSIZE subtracts them: a due key is gone for
    /// clients even before the sweeper removes it). `O(due)`.
    pub fn count_due(&self, now: UnixMillis) -> usize {
        self.set
            .iter()
            .take_while(|((d, _), _)| *d <= now)
            .map(|(_, &n)| n as usize)
            .sum()
    }

    /// Forgets every key (for `FLUSHDB`; the store may instead swap the index out with
    /// [`std::mem::take`] and drop it outside the lock).
    pub fn clear(&mut self) {
        self.set.clear();
        self.len = 0;
    }

    /// Iterates `(deadline, key)` in deadline order, a key inserted twice once.
    pub fn iter(&self) -> impl Iterator<Item = (UnixMillis, &K)> + '_ {
        self.set.keys().map(|(d, k)| (*d, k))
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
    fn the_same_key_and_deadline_twice_counts_twice() {
        let mut ix = DeadlineIndex::new();
        ix.insert(7u64, 100);
        ix.insert(7u64, 100);
        ix.insert(8u64, 100);
        assert_eq!(ix.len(), 3);
        assert_eq!(ix.count_due(100), 3);
        assert!(ix.remove(&7, 100));
        assert!(ix.contains(&7, 100), "one left");
        assert_eq!(ix.len(), 2);
        ix.insert(7u64, 100);
        assert_eq!(drain(&mut ix, 100, 2), vec![(7, 100), (7, 100)]);
        assert_eq!(drain(&mut ix, 100, 5), vec![(8, 100)]);
        assert!(ix.is_empty());
        assert_eq!(ix.len(), 0);
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
