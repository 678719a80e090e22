//! One shard of a database: its table of slots and its deadline indexes, behind one
//! lock with its counters; the sweeper's view of it ([`SweepShard`]).

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};
use mapcache_expiry::{DeadlineIndex, ShardSweep, SweepShard, UnixMillis};
use parking_lot::RwLock;

use super::entry::{min_deadline, Entry};
use crate::evict::sketch::Sketch;
use crate::feed::{ChangeKind, Origin};
use crate::path::{self, Path};

pub(super) use super::slot::{Slot, SlotBox};

/// The buckets hashbrown gives a table asked for room for `entries` (7/8 of the
/// buckets, a power of two, are usable; 4 or 8 buckets below 8 entries).
fn buckets_for(entries: usize) -> usize {
    match entries {
        0..4 => 4,
        4..8 => 8,
        _ => (entries * 8 / 7).next_power_of_two(),
    }
}

/// The latest deadline that has expired at `now`: the index's "due" means
/// `deadline <= t`, and Redis expires a key only once `now > deadline`.
#[inline]
pub(super) fn last_expired(now: UnixMillis) -> UnixMillis {
    now.saturating_sub(1)
}

/// What the deadline indexes hold for an entry: its key's 64-bit hash (8 bytes, where
/// the key itself would take a 32-byte handle). The sweeper finds the slot by hash and
/// deadline; two keys sharing both are two index entries (the index is a multiset), and
/// each pop removes one of them.
pub(super) type IndexedKey = u64;

#[derive(Debug)]
pub(super) struct Shard {
    pub(super) table: HashTable<SlotBox>,
    /// The database's key hasher (the slots do not keep their keys' hashes).
    pub(super) hasher: DefaultHashBuilder,
    /// Roots' own deadlines (INFO's `expires=` counts these).
    pub(super) expiries: DeadlineIndex<IndexedKey>,
    /// Each root's earliest nested deadline ([`crate::nested`]).
    pub(super) nested_expiries: DeadlineIndex<IndexedKey>,
    /// Eviction's candidates from this shard, best last, and where the next refill
    /// reads the table ([`super::evict`]).
    pub(super) evict_pool: Vec<super::evict::Candidate>,
    pub(super) evict_at: usize,
    /// Recent request frequencies, while eviction consults them
    /// ([`crate::evict::sketch`]; built and resized as keys are inserted).
    pub(super) sketch: Option<Box<Sketch>>,
}

/// A key's 64-bit hash: its top bits pick the shard ([`Db::shard_index`]), the rest
/// place it in the shard's table ([`table_hash`]) and order SCAN.
#[inline]
pub(super) fn key_hash(hasher: &DefaultHashBuilder, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one(key)
}

/// The hash a shard's table places `slot` by, recomputed from its key (tables grow,
/// shrink and are rebuilt with it).
#[inline]
fn slot_table_hash(hasher: &DefaultHashBuilder, slot: &SlotBox) -> u64 {
    table_hash(key_hash(hasher, slot.key()))
}

/// Moves `ik` in `index` from deadline `old` to `new` (either may be none).
fn move_deadline(
    index: &mut DeadlineIndex<IndexedKey>,
    ik: IndexedKey,
    old: Option<UnixMillis>,
    new: Option<UnixMillis>,
) {
    if old == new {
        return;
    }
    if let Some(d) = old {
        index.remove(&ik, d);
    }
    if let Some(d) = new {
        index.insert(ik, d);
    }
}

/// A shard's slots with their keys' hashes (recomputed).
pub(super) fn hashed(shard: &Shard) -> impl Iterator<Item = (u64, &SlotBox)> {
    shard.table.iter().map(|s| (shard.key_hash(s.key()), s))
}

/// The hash a shard's table sees for a key of 64-bit hash `hash` ([`table_hash`]).
///
/// Every key of a shard shares the top `bits` (at most 16) of its hash: they pick the
/// shard. hashbrown places a key by the low bits of the hash it is given and tags it
/// with the top 7, so neither may be the shard bits: rotating left by 40 moves bits
/// 48..63 to 24..39, clear of both (tables up to 2^24 buckets per shard). (Rotating by
/// the shard bits, as a first version did, put them in the low bits: every key of a
/// shard started probing at one of a few buckets, and lookups crawled.)
#[inline]
pub(super) fn table_hash(hash: u64) -> u64 {
    hash.rotate_left(40)
}

impl Shard {
    pub(super) fn new(hasher: DefaultHashBuilder) -> Self {
        Shard {
            table: HashTable::new(),
            hasher,
            expiries: DeadlineIndex::new(),
            nested_expiries: DeadlineIndex::new(),
            evict_pool: Vec::new(),
            evict_at: 0,
            sketch: None,
        }
    }

    #[inline]
    pub(super) fn table_hash(&self, hash: u64) -> u64 {
        table_hash(hash)
    }

    /// A stored key's 64-bit hash, recomputed.
    #[inline]
    pub(super) fn key_hash(&self, key: &[u8]) -> u64 {
        key_hash(&self.hasher, key)
    }

    #[inline]
    pub(super) fn find(&self, hash: u64, key: &[u8]) -> Option<&SlotBox> {
        self.table.find(self.table_hash(hash), |s| s.key() == key)
    }

    /// Adds a new slot for a key of hash `hash` (absent from the table) and indexes its
    /// deadlines.
    pub(super) fn insert_new(&mut self, hash: u64, slot: SlotBox) {
        let stamp = slot.access().get();
        if let Some(d) = slot.deadline() {
            self.expiries.insert(hash, d);
        }
        if let Some(d) = slot.nested_next() {
            self.nested_expiries.insert(hash, d);
        }
        self.make_room_for_one();
        let hasher = &self.hasher;
        self.table
            .insert_unique(table_hash(hash), slot, |s| slot_table_hash(hasher, s));
        self.admit(hash, stamp);
    }

    /// Called before an insert: when the table has no room left for one more entry,
    /// rebuilds it at the size its entries need plus an eighth, unless that is more
    /// buckets than it has (then hashbrown doubles it on the insert, as it would).
    ///
    /// A removal leaves a tombstone, which counts against the room left until the next
    /// rehash, and hashbrown doubles a table that runs out of room while more than half
    /// full, however many of its buckets are tombstones. Under churn (eviction, SET
    /// over a key, expiry) that kept every table at twice the buckets its keys need:
    /// 24 bytes of table per key instead of about 12, for 385 keys a shard (100k
    /// keys). A rebuild moves the table's 8-byte pointers and rehashes each key once,
    /// about once per eighth of the table's entries inserted.
    fn make_room_for_one(&mut self) {
        let len = self.table.len();
        if self.table.capacity() > len {
            return;
        }
        let want = len + len / 8 + 1;
        if buckets_for(want) > self.buckets() {
            return;
        }
        let hasher = &self.hasher;
        let rehash = |s: &SlotBox| slot_table_hash(hasher, s);
        let mut fresh = HashTable::with_capacity(want);
        for slot in self.table.drain() {
            fresh.insert_unique(rehash(&slot), slot, rehash);
        }
        self.table = fresh;
    }

    /// Counts a request for the key of hash `hash` (a hit or a miss) in the sketch.
    #[inline]
    pub(super) fn count_request(&self, hash: u64) {
        if let Some(sketch) = &self.sketch {
            sketch.count(hash);
        }
    }

    /// Makes `key`'s slot hold `entry` (or removes it for `None`), whatever it held,
    /// indexes kept in step; answers the entry it held, to be freed after the lock
    /// ([`SlotBox::into_garbage`]).
    pub(super) fn put(&mut self, hash: u64, key: &[u8], entry: Option<Entry>) -> Option<Entry> {
        let old = self.remove(hash, key).and_then(SlotBox::into_garbage);
        if let Some(entry) = entry {
            self.insert_new(hash, SlotBox::new(key, entry));
        }
        old
    }

    /// Removes a slot and its index entries.
    pub(super) fn remove(&mut self, hash: u64, key: &[u8]) -> Option<SlotBox> {
        let th = self.table_hash(hash);
        let slot = self
            .table
            .find_entry(th, |s| s.key() == key)
            .ok()?
            .remove()
            .0;
        self.unindex(hash, &slot);
        Some(slot)
    }

    /// Takes a slot just removed from the table out of the deadline indexes.
    pub(super) fn unindex(&mut self, hash: u64, slot: &SlotBox) {
        if let Some(d) = slot.deadline() {
            self.expiries.remove(&hash, d);
        }
        if let Some(d) = slot.nested_next() {
            self.nested_expiries.remove(&hash, d);
        }
    }

    /// Moves a root in the deadline index from deadline `old` to `new`.
    pub(super) fn reindex_root(
        &mut self,
        ik: IndexedKey,
        old: Option<UnixMillis>,
        new: Option<UnixMillis>,
    ) {
        move_deadline(&mut self.expiries, ik, old, new);
    }

    /// Moves a root's entry in the nested index from deadline `old` to `new`.
    pub(super) fn reindex_nested(
        &mut self,
        ik: IndexedKey,
        old: Option<UnixMillis>,
        new: Option<UnixMillis>,
    ) {
        move_deadline(&mut self.nested_expiries, ik, old, new);
    }

    /// Removes the nested nodes of `root` expired at `now` (the root too, when that
    /// leaves it empty). Answers how many subtrees went and the root's slot if removed.
    pub(super) fn expire_nested(
        &mut self,
        hash: u64,
        root: &[u8],
        now: UnixMillis,
        origin: Option<&Origin>,
    ) -> (usize, Option<SlotBox>) {
        let th = self.table_hash(hash);
        let Some(slot) = self.table.find_mut(th, |s| s.key() == root) else {
            return (0, None);
        };
        if slot.nested_next().is_none() {
            return (0, None);
        }
        let slot = slot.full_mut();
        let old = slot.entry.nested_next();
        let Some(nested) = slot.entry.nested.as_mut() else {
            return (0, None);
        };
        let n = match origin {
            None => nested.expire(&mut slot.entry.value, now),
            Some(origin) => nested.expire_with(&mut slot.entry.value, now, &mut |segs| {
                let joined = segs.join(&path::HTTP_SEP);
                let at = Path::new(&joined, path::HTTP_SEP);
                origin.report(root, Some(at), ChangeKind::Expired);
            }),
        };
        if nested.is_empty() {
            slot.entry.nested = None;
        }
        let emptied = path::is_empty_aggregate(&slot.entry.value);
        let new = slot.entry.nested_next();
        self.reindex_nested(hash, old, new);
        if emptied {
            if let Some(origin) = origin {
                origin.report(root, None, ChangeKind::Expired);
            }
            return (n, self.remove(hash, root));
        }
        (n, None)
    }

    /// Is the table at most a quarter full (and not tiny)? Tables never shrink by
    /// themselves; the sweeper shrinks sparse ones as Redis's cron resizes its dicts.
    pub(super) fn is_sparse(&self) -> bool {
        let buckets = self.buckets();
        buckets > 64 && self.table.len() * 4 < buckets
    }

    /// The table's bucket count (its capacity counts deleted entries' tombstones
    /// against it, so it says nothing of how sparse the table is).
    pub(super) fn buckets(&self) -> usize {
        // A bucket is a pointer and a control byte; the allocation adds one group's
        // worth of control bytes (8 or 16), less than a bucket count's worth, so the
        // power of two at or below the quotient is the count (0 for no allocation).
        let about = self.table.allocation_size() / (std::mem::size_of::<SlotBox>() + 1);
        about.checked_ilog2().map_or(0, |bits| 1 << bits)
    }

    /// Shrinks a sparse table to fit its entries (the slots are boxed, so this moves
    /// 8-byte pointers and rehashes each key once).
    pub(super) fn shrink_if_sparse(&mut self) {
        if self.is_sparse() {
            let hasher = &self.hasher;
            self.table
                .shrink_to(self.table.len(), |s| slot_table_hash(hasher, s));
        }
    }

    /// Is a root or a nested node due at `due_at` ([`last_expired`])?
    pub(super) fn has_due(&self, due_at: UnixMillis) -> bool {
        self.expiries.has_due(due_at) || self.nested_expiries.has_due(due_at)
    }

    /// Live entries: the table size less the entries already due but not yet swept,
    /// and less the roots that their expired nested nodes leave empty.
    pub(super) fn live_len(&self, now: UnixMillis) -> usize {
        let due_at = last_expired(now);
        let emptied = self
            .nested_expiries
            .iter()
            .take_while(|(d, _)| *d <= due_at)
            .filter(|&(d, &hash)| {
                self.table
                    .find(self.table_hash(hash), |s| {
                        s.nested_next() == Some(d) && self.key_hash(s.key()) == hash
                    })
                    .is_some_and(|s| !s.is_expired(now) && s.entry().view(now).is_none())
            })
            .count();
        self.table.len() - self.expiries.count_due(due_at) - emptied
    }
}

/// A shard lock with its counters, padded to its own cache lines so that two cores
/// working on neighbouring shards do not share a line.
#[derive(Debug)]
#[repr(align(128))]
pub(super) struct ShardCell {
    pub(super) lock: RwLock<Shard>,
    /// Where the sweeper reports what it removes.
    pub(super) origin: Origin,
    pub(super) hits: AtomicU64,
    pub(super) misses: AtomicU64,
    /// Writes through [`super::Db::update`], `update_many` (one per key) and batches
    /// (one per batch): with `hits` and `misses`, a cache's activity.
    pub(super) writes: AtomicU64,
    pub(super) expired_lazy: AtomicU64,
    pub(super) expired_active: AtomicU64,
}

impl SweepShard for ShardCell {
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
        let _pass = self.origin.gate.pass();
        // Most shards have nothing due: find that out under a shared lock.
        let due_at = last_expired(now);
        {
            let shard = self.lock.read();
            if !shard.has_due(due_at) {
                let sparse = shard.is_sparse();
                drop(shard);
                if sparse {
                    // Emptied by deletions rather than expiry.
                    self.lock.write().shrink_if_sparse();
                }
                return ShardSweep::default();
            }
        }
        let mut due = Vec::new();
        let mut removed = Vec::new();
        let mut nested_removed = 0;
        let roots_removed;
        let more_due = {
            let mut guard = self.lock.write();
            let shard = &mut *guard;
            shard.expiries.pop_due(due_at, max_keys, &mut due);
            let hasher = &shard.hasher;
            for (hash, deadline) in due.drain(..) {
                // The index entry is gone already; the slot goes too (the index always
                // matches the entries: both change under this lock).
                if let Ok(found) = shard.table.find_entry(table_hash(hash), |s| {
                    s.deadline() == Some(deadline) && key_hash(hasher, s.key()) == hash
                }) {
                    let slot = found.remove().0;
                    if let Some(d) = slot.nested_next() {
                        shard.nested_expiries.remove(&hash, d);
                    }
                    if self.origin.feed.is_active() {
                        self.origin.report(slot.key(), None, ChangeKind::Expired);
                    }
                    removed.push(slot);
                }
            }
            // Nested deadlines: remove the expired subtrees inside each root (a root
            // they leave empty goes too, counted as part of that removal).
            let budget = max_keys.saturating_sub(removed.len()).max(1);
            roots_removed = removed.len();
            shard.nested_expiries.pop_due(due_at, budget, &mut due);
            for (hash, deadline) in due.drain(..) {
                let th = shard.table_hash(hash);
                let Some(root) = shard
                    .table
                    .find(th, |s| {
                        s.nested_next() == Some(deadline) && shard.key_hash(s.key()) == hash
                    })
                    .map(|s| Bytes::copy_from_slice(s.key()))
                else {
                    continue;
                };
                // Put the popped entry back: expire_nested moves it to the next deadline.
                shard.nested_expiries.insert(hash, deadline);
                let observe = self.origin.feed.is_active().then_some(&self.origin);
                let (n, slot) = shard.expire_nested(hash, &root, now, observe);
                nested_removed += n;
                removed.extend(slot);
            }
            let more_due = shard.has_due(due_at);
            if !more_due {
                // Once the shard's due keys are all gone: a storm that empties a
                // shard over many batches rehashes nothing until the end.
                shard.shrink_if_sparse();
            }
            more_due
        };
        let n = roots_removed + nested_removed;
        self.expired_active.fetch_add(n as u64, Ordering::Relaxed);
        drop(removed); // values are freed here, after the lock is released
        ShardSweep {
            removed: n,
            more_due,
        }
    }

    fn next_deadline(&self) -> Option<UnixMillis> {
        let shard = self.lock.read();
        min_deadline(
            shard.expiries.next_deadline(),
            shard.nested_expiries.next_deadline(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    /// Churn (a new key in, a random one out) at 385 keys: hashbrown alone doubles the
    /// table to 1,024 buckets on its first run out of room (tombstones count against
    /// it); rebuilt instead, it stays at the 512 its keys need.
    #[test]
    fn a_churned_table_keeps_the_buckets_its_keys_need() {
        let mut shard = Shard::new(DefaultHashBuilder::default());
        let mut next = crate::test_rng(0x5EED);
        let mut live: Vec<Vec<u8>> = Vec::new();
        let mut most = 0;
        for i in 0..20_000u32 {
            let key = format!("key:{i:08}").into_bytes();
            let hash = shard.key_hash(&key);
            let slot = SlotBox::new(&key, Entry::new(Value::string(b"v"), None));
            shard.insert_new(hash, slot);
            live.push(key);
            if live.len() > 385 {
                let gone = live.swap_remove((next() % live.len() as u64) as usize);
                assert!(shard.remove(shard.key_hash(&gone), &gone).is_some());
            }
            most = most.max(shard.buckets());
        }
        assert_eq!(shard.table.len(), 385);
        assert!(most <= 512, "the table grew to {most} buckets");
        for key in &live {
            assert!(shard.find(shard.key_hash(key), key).is_some());
        }
    }

    #[test]
    fn buckets_for_matches_what_hashbrown_allocates() {
        for entries in [1, 3, 4, 7, 8, 13, 14, 15, 100, 385, 448, 449, 10_000] {
            let mut shard = Shard::new(DefaultHashBuilder::default());
            shard.table = HashTable::with_capacity(entries);
            assert_eq!(buckets_for(entries), shard.buckets(), "{entries} entries");
        }
    }
}
