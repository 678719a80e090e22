//! The per-shard deadline index.

use std::collections::{BTreeMap, BTreeSet};

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
/// Layout: a `BTreeSet<(UnixMillis, K)>`, chosen by measurement (see the crate README,
/// "Why this index"), with the rare second and later copies of a pair counted in a
/// side map (empty unless two keys share a hash and a deadline). Every operation is
/// `O(log n)` worst case whatever the deadlines are (all equal, all distinct, rewritten
/// often), memory is exact (no tombstones), and [`pop_due`](Self::pop_due) yields due
/// keys in deadline order, ties in key order.
///
/// Beside it, a count of entries per window of [`WINDOW_MS`] (a few entries per shard):
/// [`count_due`](Self::count_due) adds up the windows wholly due and, in the window
/// `now` falls in, walks from both ends at once and stops at the shorter side. When a
/// million keys share one deadline the first count after it costs a few steps, not a
/// million.
#[derive(Debug, Clone)]
pub struct DeadlineIndex<K> {
    set: BTreeSet<(UnixMillis, K)>,
    /// Copies of a pair beyond the one in `set`: pair -> extra copies (at least 1).
    /// A count beside every pair would make each B-tree leaf 232 bytes instead of 188.
    dups: BTreeMap<(UnixMillis, K), u32>,
    /// Entries per window: `deadline >> WINDOW_SHIFT` -> count.
    windows: BTreeMap<UnixMillis, usize>,
    len: usize,
}

/// Windows of `2^16` ms (about 65 s): few per shard, whatever the TTLs.
const WINDOW_SHIFT: u32 = 16;
/// The width of a counting window, in milliseconds.
pub const WINDOW_MS: i64 = 1 << WINDOW_SHIFT;

fn window(deadline: UnixMillis) -> UnixMillis {
    deadline >> WINDOW_SHIFT
}

/// An index key with a least value, so that a range can start at "every key with
/// deadline `d`" ([`DeadlineIndex::count_due`] needs it).
pub trait MinKey: Ord + Clone {
    const MIN: Self;
}

macro_rules! min_key {
    ($($t:ty),*) => { $(impl MinKey for $t { const MIN: Self = <$t>::MIN; })* };
}
min_key!(u8, u16, u32, u64, u128, usize, i32, i64);

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
            dups: BTreeMap::new(),
            windows: BTreeMap::new(),
            len: 0,
        }
    }

    /// Records that `key` expires at `deadline`.
    ///
    /// The caller removes the key's previous deadline first (it is stored in the entry);
    /// inserting the same `(key, deadline)` twice holds it twice.
    pub fn insert(&mut self, key: K, deadline: UnixMillis) {
        if let Some(pair) = self.set.replace((deadline, key)) {
            *self.dups.entry(pair).or_insert(0) += 1;
        }
        *self.windows.entry(window(deadline)).or_insert(0) += 1;
        self.len += 1;
    }

    /// Takes `n` entries of deadline window `w` off its count.
    fn uncount(&mut self, w: UnixMillis, n: usize) {
        if n == 0 {
            return;
        }
        if let std::collections::btree_map::Entry::Occupied(mut e) = self.windows.entry(w) {
            *e.get_mut() -= n;
            if *e.get() == 0 {
                e.remove();
            }
        }
    }

    /// Forgets `key` at `deadline`. Returns whether it was there: `false` means the caller
    /// passed a deadline the key was not indexed under (a bug in the caller).
    pub fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        // The map looks up by `&(UnixMillis, K)`: `K` is cloned (cheap for the store's
        // hashes and for reference-counted keys).
        let pair = (deadline, key.clone());
        if !self.take_dup(&pair) && !self.set.remove(&pair) {
            return false;
        }
        self.uncount(window(deadline), 1);
        self.len -= 1;
        true
    }

    /// Takes one extra copy of `pair` off `dups`; false when it has none.
    fn take_dup(&mut self, pair: &(UnixMillis, K)) -> bool {
        if self.dups.is_empty() {
            return false;
        }
        let std::collections::btree_map::Entry::Occupied(mut e) = self.dups.entry(pair.clone())
        else {
            return false;
        };
        *e.get_mut() -= 1;
        if *e.get() == 0 {
            e.remove();
        }
        true
    }

    /// How many times `pair` is indexed, given that it is in `set`.
    fn copies(&self, pair: &(UnixMillis, K)) -> usize {
        if self.dups.is_empty() {
            1
        } else {
            1 + self.dups.get(pair).map_or(0, |&n| n as usize)
        }
    }

    /// Whether `key` is indexed at `deadline`.
    pub fn contains(&self, key: &K, deadline: UnixMillis) -> bool {
        self.set.contains(&(deadline, key.clone()))
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
        // Window counts are taken down once per window, not once per entry.
        let mut pending: Option<(UnixMillis, usize)> = None;
        while taken < max {
            let Some(first) = self.set.first() else {
                break;
            };
            if first.0 > now {
                break;
            }
            let (d, k) = if self.dups.is_empty() {
                self.set.pop_first()
            } else {
                let first = first.clone();
                if self.take_dup(&first) {
                    Some(first)
                } else {
                    self.set.pop_first()
                }
            }
            .expect("the set has a first pair");
            out.push((k, d));
            match &mut pending {
                Some((w, n)) if *w == window(d) => *n += 1,
                _ => {
                    if let Some((w, n)) = pending.take() {
                        self.uncount(w, n);
                    }
                    pending = Some((window(d), 1));
                }
            }
            self.len -= 1;
            taken += 1;
        }
        if let Some((w, n)) = pending {
            self.uncount(w, n);
        }
        taken
    }

    /// How many entries are due at `now` (DBSIZE subtracts them: a due key is gone for
    /// clients even before the sweeper removes it). `O(windows + min(due, not due))` within
    /// `now`'s window: a few steps when many keys share a deadline.
    pub fn count_due(&self, now: UnixMillis) -> usize
    where
        K: MinKey,
    {
        let w = window(now);
        let whole: usize = self.windows.range(..w).map(|(_, &n)| n).sum();
        let Some(&in_window) = self.windows.get(&w) else {
            return whole;
        };
        // Window `w` holds `in_window` entries, some due (deadline <= now), the rest
        // not. Walk from both ends at once; the side that ends first is counted, the
        // other is the rest of the window.
        let start = (w << WINDOW_SHIFT, K::MIN);
        let mut entries = match w.checked_add(1).and_then(|n| n.checked_mul(WINDOW_MS)) {
            Some(end) => self.set.range(start..(end, K::MIN)),
            None => self.set.range(start..),
        };
        let (mut due, mut later) = (0usize, 0usize);
        loop {
            match entries.next() {
                Some(pair) if pair.0 <= now => due += self.copies(pair),
                _ => return whole + due,
            }
            match entries.next_back() {
                Some(pair) if pair.0 > now => later += self.copies(pair),
                _ => return whole + in_window - later,
            }
        }
    }

    /// Forgets every key (for `FLUSHDB`; the store may instead swap the index out with
    /// [`std::mem::take`] and drop it outside the lock).
    pub fn clear(&mut self) {
        self.set.clear();
        self.dups.clear();
        self.windows.clear();
        self.len = 0;
    }

    /// Iterates `(deadline, key)` in deadline order, a key inserted twice once.
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

    /// What `count_due` must answer, by walking every entry.
    fn naive_due(ix: &DeadlineIndex<u64>, now: i64) -> usize {
        let mut copy = ix.clone();
        let mut out = Vec::new();
        copy.pop_due(now, usize::MAX, &mut out)
    }

    #[test]
    fn count_due_agrees_with_a_walk_under_random_operations() {
        let mut ix = DeadlineIndex::new();
        let mut live: Vec<(u64, i64)> = Vec::new();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let base = 1_767_225_600_000i64;
        for step in 0..20_000 {
            let r = next();
            // Deadlines cluster on a few values (storms) and spread over windows,
            // including negative ones and window edges.
            let deadline = match r % 5 {
                0 => base,
                1 => base + WINDOW_MS,
                2 => base - 1 + (r >> 8) as i64 % (4 * WINDOW_MS),
                3 => -((r >> 8) as i64 % (3 * WINDOW_MS)),
                _ => (base >> 16 << 16) + (r >> 8) as i64 % 3 - 1,
            };
            // Mostly inserts, so that windows fill up on both sides of `now`.
            match (r >> 40) % 8 {
                0..=4 => {
                    let key = (r >> 20) % 64;
                    ix.insert(key, deadline);
                    live.push((key, deadline));
                }
                5 | 6 if !live.is_empty() => {
                    let (key, d) = live.swap_remove((r >> 20) as usize % live.len());
                    assert!(ix.remove(&key, d));
                }
                _ => {
                    let mut out = Vec::new();
                    let now = deadline;
                    ix.pop_due(now, (r >> 20) as usize % 8, &mut out);
                    for popped in out {
                        let at = live
                            .iter()
                            .position(|&e| e == popped)
                            .expect("popped a live entry");
                        live.swap_remove(at);
                    }
                }
            }
            if step % 7 == 0 {
                assert_eq!(ix.len(), live.len(), "step {step}");
                assert_eq!(ix.iter().count(), {
                    let mut pairs = live.clone();
                    pairs.sort_unstable();
                    pairs.dedup();
                    pairs.len()
                });
                for now in [
                    deadline - 1,
                    deadline,
                    deadline + 1,
                    base,
                    base + WINDOW_MS,
                    i64::MAX,
                    i64::MIN,
                ] {
                    let want = live.iter().filter(|&&(_, d)| d <= now).count();
                    assert_eq!(ix.count_due(now), want, "step {step} now {now}");
                    assert_eq!(naive_due(&ix, now), want);
                }
            }
        }
    }

    #[test]
    fn a_storm_is_counted_exactly_around_its_deadline() {
        // The both-ends walk where one side is huge: one deadline shared by 100,000
        // keys, a few others around it in the same window. (Its speed is seen in
        // `cargo xtask stress ttl-storm --keys 1000000`, not asserted here.)
        let mut ix = DeadlineIndex::new();
        let d = 1_767_225_600_123i64;
        for k in 0..100_000u64 {
            ix.insert(k, d);
        }
        ix.insert(1, d + 5);
        ix.insert(2, d - 5);
        assert_eq!(ix.count_due(d - 1), 1);
        assert_eq!(ix.count_due(d), 100_001);
        assert_eq!(ix.count_due(d + 4), 100_001);
        assert_eq!(ix.count_due(d + 5), 100_002);
    }
}
