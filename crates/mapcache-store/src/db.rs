//! One database: a keyspace split into independently locked shards.
//!
//! # Lock discipline
//! - A key lives in the shard chosen by the top `shard_bits` bits of its 64-bit hash.
//! - Single-key commands take one shard lock (read for reads, write for writes) for the
//!   duration of one synchronous closure; the closure cannot `.await`, so no lock is ever
//!   held across a suspension point.
//! - Multi-key commands lock every shard they touch, in ascending shard order, before
//!   reading or writing anything ([`Db::update_many`]); cross-database operations lock
//!   databases in ascending index order ([`crate::Store::update_two`]). A total order on
//!   locks means no deadlock, and holding all of them makes the command atomic.
//! - Expired entries are invisible to every accessor (lazy expiry); write accessors also
//!   remove them. Values that leave the store are dropped after the lock is released.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};
use mapcache_expiry::{DeadlineIndex, ShardSweep, SweepShard, UnixMillis};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::glob::glob_match;
use crate::path::{self, Node, PathFault};
use crate::value::{Kind, Value};

/// A stored value with its optional deadline (absolute Unix milliseconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    deadline: Option<UnixMillis>,
}

impl Entry {
    pub fn deadline(&self) -> Option<UnixMillis> {
        self.deadline
    }

    /// Redis deems a key expired once `now > deadline` (at its deadline it still exists,
    /// with PTTL 0).
    fn is_expired(&self, now: UnixMillis) -> bool {
        matches!(self.deadline, Some(d) if d < now)
    }
}

/// One key's slot in a shard table. The full hash is kept so that resizing never
/// rehashes a key and SCAN can order keys by hash without recomputing it.
#[derive(Debug)]
struct Slot {
    hash: u64,
    key: Bytes,
    entry: Entry,
}

/// The latest deadline that has expired at `now`: the index's "due" means
/// `deadline <= t`, and Redis expires a key only once `now > deadline`.
#[inline]
fn last_expired(now: UnixMillis) -> UnixMillis {
    now.saturating_sub(1)
}

/// What the deadline index holds: the key and its hash, so the sweeper finds the slot
/// without rehashing. Ordered by hash first (cheap) then bytes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct IndexedKey {
    hash: u64,
    key: Bytes,
}

impl IndexedKey {
    fn of(slot: &Slot) -> Self {
        IndexedKey {
            hash: slot.hash,
            key: slot.key.clone(),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Shard {
    table: HashTable<Slot>,
    expiries: DeadlineIndex<IndexedKey>,
    /// `table` hashes keys by `hash.rotate_left(bits)`: the shard index is the top bits
    /// of the hash, and hashbrown keys its control bytes on the top bits too.
    bits: u32,
}

impl Shard {
    fn new(bits: u32) -> Self {
        Shard {
            table: HashTable::new(),
            expiries: DeadlineIndex::new(),
            bits,
        }
    }

    #[inline]
    fn table_hash(&self, hash: u64) -> u64 {
        hash.rotate_left(self.bits)
    }

    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> Option<&Slot> {
        self.table
            .find(self.table_hash(hash), |s| s.hash == hash && s.key == key)
    }

    /// Removes a slot and its index entry.
    fn remove(&mut self, hash: u64, key: &[u8]) -> Option<Slot> {
        let th = self.table_hash(hash);
        let slot = self
            .table
            .find_entry(th, |s| s.hash == hash && s.key == key)
            .ok()?
            .remove()
            .0;
        if let Some(d) = slot.entry.deadline {
            self.expiries.remove(&IndexedKey::of(&slot), d);
        }
        Some(slot)
    }

    /// Live entries: the table size less the entries already due but not yet swept.
    fn live_len(&self, now: UnixMillis) -> usize {
        self.table.len() - self.expiries.count_due(last_expired(now))
    }
}

/// A shard lock with its counters, padded to its own cache lines so that two cores
/// working on neighbouring shards do not share a line.
#[derive(Debug)]
#[repr(align(128))]
pub(crate) struct ShardCell {
    lock: RwLock<Shard>,
    hits: AtomicU64,
    misses: AtomicU64,
    expired_lazy: AtomicU64,
    expired_active: AtomicU64,
}

impl SweepShard for ShardCell {
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
        // Most shards have nothing due: find that out under a shared lock.
        if !self.lock.read().expiries.has_due(last_expired(now)) {
            return ShardSweep::default();
        }
        let mut due = Vec::new();
        let mut removed = Vec::new();
        let more_due = {
            let mut shard = self.lock.write();
            shard
                .expiries
                .pop_due(last_expired(now), max_keys, &mut due);
            for (ik, deadline) in due.drain(..) {
                let th = shard.table_hash(ik.hash);
                // The index entry is gone already; the slot goes too unless its deadline
                // changed since (then it has a newer index entry of its own).
                if let Ok(found) = shard.table.find_entry(th, |s| {
                    s.hash == ik.hash && s.key == ik.key && s.entry.deadline == Some(deadline)
                }) {
                    removed.push(found.remove().0);
                }
            }
            shard.expiries.has_due(last_expired(now))
        };
        self.expired_active
            .fetch_add(removed.len() as u64, Ordering::Relaxed);
        let n = removed.len();
        drop(removed); // values are freed here, after the lock is released
        ShardSweep {
            removed: n,
            more_due,
        }
    }

    fn next_deadline(&self) -> Option<UnixMillis> {
        self.lock.read().expiries.next_deadline()
    }
}

/// Counters of one database, summed over its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub keys: usize,
    pub expires: usize,
    pub hits: u64,
    pub misses: u64,
    pub expired_lazy: u64,
    pub expired_active: u64,
}

/// One page of a SCAN: the keys and the cursor to continue from (0 when done).
#[derive(Debug, Default)]
pub struct ScanPage {
    pub cursor: u64,
    pub keys: Vec<Bytes>,
}

/// What SCAN filters on.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScanFilter<'a> {
    pub pattern: Option<&'a [u8]>,
    pub kind: Option<Kind>,
}

impl ScanFilter<'_> {
    fn accepts(&self, key: &[u8], value: &Value) -> bool {
        // A lone "*" matches everything, the empty key included (as in Redis's SCAN).
        self.pattern
            .is_none_or(|p| p == b"*" || glob_match(p, key, false))
            && self.kind.is_none_or(|k| value.kind() == k)
    }
}

/// How a key names what it addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addressing {
    /// The whole key is a stored top-level key (flat key mode).
    Flat,
    /// `root<sep>seg<sep>seg...`: the first segment is the stored top-level key (the
    /// root), the rest a path to a node in its tree ([`crate::path`]).
    Path(u8),
}

impl Addressing {
    /// RESP keys in path key mode: `user:100:name`.
    pub const RESP_PATH: Addressing = Addressing::Path(path::SEP);
    /// HTTP API paths, in either key mode: `user/100/name`.
    pub const HTTP: Addressing = Addressing::Path(path::HTTP_SEP);

    /// A key's root and the path below it (`None`: the root itself).
    #[inline]
    pub fn split(self, key: &[u8]) -> (&[u8], Option<Rest<'_>>) {
        match self {
            Addressing::Flat => (key, None),
            Addressing::Path(sep) => match path::split(key, sep) {
                (root, Some(rest)) => (root, Some(Rest { path: rest, sep })),
                (root, None) => (root, None),
            },
        }
    }
}

/// The path of a node below its root, and the separator of its segments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rest<'k> {
    pub path: &'k [u8],
    pub sep: u8,
}

/// One database of the keyspace.
#[derive(Debug)]
pub struct Db {
    shards: Box<[ShardCell]>,
    bits: u32,
    hasher: DefaultHashBuilder,
    /// How RESP commands' keys address the store: flat, or path key mode.
    addressing: Addressing,
}

impl Db {
    /// A database of `1 << bits` shards hashing keys with `hasher`.
    pub(crate) fn new(bits: u32, hasher: DefaultHashBuilder) -> Self {
        assert!((1..=16).contains(&bits), "shard bits must be 1..=16");
        let shards = (0..1usize << bits)
            .map(|_| ShardCell {
                lock: RwLock::new(Shard::new(bits)),
                hits: AtomicU64::new(0),
                misses: AtomicU64::new(0),
                expired_lazy: AtomicU64::new(0),
                expired_active: AtomicU64::new(0),
            })
            .collect();
        Db {
            shards,
            bits,
            hasher,
            addressing: Addressing::Flat,
        }
    }

    /// Switches path key mode on or off (before the database is shared).
    pub(crate) fn set_path_keys(&mut self, on: bool) {
        self.addressing = if on {
            Addressing::RESP_PATH
        } else {
            Addressing::Flat
        };
    }

    /// Is this database in path key mode ([`crate::path`])?
    #[inline]
    pub fn path_keys(&self) -> bool {
        self.addressing != Addressing::Flat
    }

    /// How the methods without an explicit [`Addressing`] read keys (RESP's key mode).
    #[inline]
    pub fn addressing(&self) -> Addressing {
        self.addressing
    }

    #[inline]
    fn hash(&self, key: &[u8]) -> u64 {
        use std::hash::BuildHasher;
        self.hasher.hash_one(key)
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    pub(crate) fn sweep_shards(&self) -> impl Iterator<Item = &dyn SweepShard> {
        self.shards.iter().map(|s| s as &dyn SweepShard)
    }

    /// Reads `key`, counting a keyspace hit or miss (Redis's `lookupKeyRead`).
    ///
    /// In path mode `key` names a node: `f` sees a copy of it (a nested node is not an
    /// [`Entry`] of its own) with its root's deadline.
    pub fn get<R>(&self, key: &[u8], now: UnixMillis, f: impl FnOnce(Option<&Entry>) -> R) -> R {
        self.get_with(self.addressing, key, now, f)
    }

    /// [`Db::get`] with `key` read as `addr` says.
    pub fn get_with<R>(
        &self,
        addr: Addressing,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> R {
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let cell = &self.shards[self.shard_index(hash)];
        let shard = cell.lock.read();
        let entry = shard
            .find(hash, root)
            .map(|s| &s.entry)
            .filter(|e| !e.is_expired(now));
        let nested = rest.and_then(|rest| entry.and_then(|e| nested_entry(e, rest)));
        let entry = if rest.is_some() {
            nested.as_ref()
        } else {
            entry
        };
        let counter = if entry.is_some() {
            &cell.hits
        } else {
            &cell.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        f(entry)
    }

    /// Reads `key` without touching the hit/miss counters (EXISTS, TYPE, TTL...).
    pub fn peek<R>(&self, key: &[u8], now: UnixMillis, f: impl FnOnce(Option<&Entry>) -> R) -> R {
        self.peek_with(self.addressing, key, now, f)
    }

    /// [`Db::peek`] with `key` read as `addr` says.
    pub fn peek_with<R>(
        &self,
        addr: Addressing,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> R {
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let shard = self.shards[self.shard_index(hash)].lock.read();
        let entry = shard
            .find(hash, root)
            .map(|s| &s.entry)
            .filter(|e| !e.is_expired(now));
        match rest {
            None => f(entry),
            Some(rest) => f(entry.and_then(|e| nested_entry(e, rest)).as_ref()),
        }
    }

    /// Path mode: where a write to `key` would be refused because a value that is not
    /// an object lies on its path. `Some(n)`: `key[..n]` names that value. Always
    /// `None` in flat mode or for a root key.
    pub fn path_blocked_at(&self, key: &[u8], now: UnixMillis) -> Option<usize> {
        let (root, rest) = self.addressing.split(key);
        let rest = rest?;
        let hash = self.hash(root);
        let shard = self.shards[self.shard_index(hash)].lock.read();
        let entry = shard
            .find(hash, root)
            .map(|s| &s.entry)
            .filter(|e| !e.is_expired(now))?;
        path::blocked_at(&entry.value, rest.path, rest.sep).map(|n| root.len() + n)
    }

    /// Runs `f` with write access to `key` under its shard's lock. An expired entry is
    /// removed first, so `f` never sees it. In path mode the lock is the root's and
    /// `f` writes the node `key` names ([`KeyMut`]).
    pub fn update<R>(
        &self,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(&mut KeyMut<'_>) -> R,
    ) -> R {
        self.update_with(self.addressing, key, now, f)
    }

    /// [`Db::update`] with `key` read as `addr` says.
    pub fn update_with<R>(
        &self,
        addr: Addressing,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(&mut KeyMut<'_>) -> R,
    ) -> R {
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let cell = &self.shards[self.shard_index(hash)];
        let mut shard = cell.lock.write();
        let mut km = KeyMut::new(&mut shard, &cell.expired_lazy, key, (root, rest), hash, now);
        let r = f(&mut km);
        let garbage = km.garbage.take();
        drop(shard);
        drop(garbage);
        r
    }

    /// Runs `f` with write access to all of `keys` at once: every shard involved is
    /// locked (in ascending order) before `f` runs, so no other client observes a
    /// partial result. `Multi::key(i)` is the i-th key.
    pub fn update_many<R>(
        &self,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&mut Multi<'_, '_>) -> R,
    ) -> R {
        self.update_many_with(self.addressing, keys, now, f)
    }

    /// [`Db::update_many`] with `keys` read as `addr` says.
    pub fn update_many_with<R>(
        &self,
        addr: Addressing,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&mut Multi<'_, '_>) -> R,
    ) -> R {
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(addr.split(k).0)).collect();
        let mut order: Vec<usize> = hashes.iter().map(|&h| self.shard_index(h)).collect();
        order.sort_unstable();
        order.dedup();
        let guards = order
            .iter()
            .map(|&i| (i, self.shards[i].lock.write()))
            .collect();
        let mut multi = Multi {
            db: self,
            addr,
            keys,
            hashes,
            guards,
            now,
            garbage: Vec::new(),
        };
        let r = f(&mut multi);
        let Multi {
            guards, garbage, ..
        } = multi;
        drop(guards);
        drop(garbage);
        r
    }

    /// Reads all of `keys` at one instant: every shard involved is read-locked (in
    /// ascending order) before `f` runs, so a multi-key write (which holds the write
    /// locks of all its shards) is seen entirely or not at all. Counts a keyspace hit
    /// or miss per key, as Redis's MGET does.
    pub fn get_many<R>(
        &self,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&ReadMany<'_, '_>) -> R,
    ) -> R {
        self.get_many_with(self.addressing, keys, now, f)
    }

    /// [`Db::get_many`] with `keys` read as `addr` says.
    pub fn get_many_with<R>(
        &self,
        addr: Addressing,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&ReadMany<'_, '_>) -> R,
    ) -> R {
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(addr.split(k).0)).collect();
        let mut order: Vec<usize> = hashes.iter().map(|&h| self.shard_index(h)).collect();
        order.sort_unstable();
        order.dedup();
        let guards = order
            .iter()
            .map(|&i| (i, self.shards[i].lock.read()))
            .collect();
        let scratch = if addr == Addressing::Flat {
            Vec::new()
        } else {
            keys.iter().map(|_| OnceCell::new()).collect()
        };
        let many = ReadMany {
            db: self,
            addr,
            keys,
            hashes,
            guards,
            now,
            scratch,
        };
        f(&many)
    }

    /// The number of live keys (DBSIZE): entries already due are not counted, whether
    /// or not the sweeper has removed them yet.
    pub fn len(&self, now: UnixMillis) -> usize {
        self.shards
            .iter()
            .map(|c| c.lock.read().live_len(now))
            .sum()
    }

    pub fn is_empty(&self, now: UnixMillis) -> bool {
        self.len(now) == 0
    }

    /// Counters for INFO and metrics. `keys` and `expires` count stored entries whether
    /// or not they are already due (as Redis's INFO keyspace does): O(1) per shard, so a
    /// scrape during a mass expiry stays cheap. DBSIZE ([`Db::len`]) is the exact count.
    pub fn stats(&self) -> DbStats {
        let mut st = DbStats::default();
        for c in self.shards.iter() {
            {
                let shard = c.lock.read();
                st.keys += shard.table.len();
                st.expires += shard.expiries.len();
            }
            st.hits += c.hits.load(Ordering::Relaxed);
            st.misses += c.misses.load(Ordering::Relaxed);
            st.expired_lazy += c.expired_lazy.load(Ordering::Relaxed);
            st.expired_active += c.expired_active.load(Ordering::Relaxed);
        }
        st
    }

    /// Removes every key. The removed values are freed after each shard's lock is
    /// released, so a large flush never stalls other clients on one lock.
    pub fn flush(&self) {
        for c in self.shards.iter() {
            let old = {
                let mut shard = c.lock.write();
                shard.expiries.clear();
                std::mem::take(&mut shard.table)
            };
            drop(old);
        }
    }

    /// Every live key matching `pattern` (KEYS). Each shard is read atomically.
    /// In path mode: every leaf path (`root:field:...`) matching `pattern`.
    pub fn keys(&self, pattern: &[u8], now: UnixMillis) -> Vec<Bytes> {
        let all = pattern == b"*";
        let mut out = Vec::new();
        for c in self.shards.iter() {
            let shard = c.lock.read();
            if let Addressing::Path(sep) = self.addressing {
                for s in shard.table.iter().filter(|s| !s.entry.is_expired(now)) {
                    path::for_each_leaf(&s.key, sep, &s.entry.value, &mut |p, _| {
                        if all || glob_match(pattern, p, false) {
                            out.push(Bytes::copy_from_slice(p));
                        }
                    });
                }
                continue;
            }
            out.extend(
                shard
                    .table
                    .iter()
                    .filter(|s| {
                        !s.entry.is_expired(now) && (all || glob_match(pattern, &s.key, false))
                    })
                    .map(|s| s.key.clone()),
            );
        }
        out
    }

    /// One SCAN step from `cursor`, visiting about `count` keys.
    ///
    /// The cursor is a position in hash space: a call returns keys whose hash is at
    /// least `cursor`, in hash order, and the next cursor is one past the last hash
    /// visited. Since hashes never change, a full iteration returns every key that is
    /// present for its whole duration exactly once (keys with equal hashes always go
    /// out in the same page), however the table grows or shrinks meanwhile.
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: ScanFilter<'_>,
        now: UnixMillis,
    ) -> ScanPage {
        let count = count.max(1);
        let mut page = ScanPage::default();
        let mut pos = cursor;
        let mut visited = 0usize;
        let mut found: Vec<(u64, Bytes, bool)> = Vec::new();
        let mut shard_idx = self.shard_index(pos);
        loop {
            let shard_end = ((shard_idx as u64) + 1)
                .checked_shl(64 - self.bits)
                .unwrap_or(0);
            found.clear();
            {
                let shard = self.shards[shard_idx].lock.read();
                if let Addressing::Path(sep) = self.addressing {
                    // Path mode: a root stands for its leaf paths, all in the page
                    // that visits the root (they share its hash).
                    for s in shard.table.iter().filter(|s| s.hash >= pos) {
                        if s.entry.is_expired(now) {
                            found.push((s.hash, Bytes::new(), false));
                            continue;
                        }
                        path::for_each_leaf(&s.key, sep, &s.entry.value, &mut |p, v| {
                            found.push((s.hash, Bytes::copy_from_slice(p), filter.accepts(p, v)));
                        });
                    }
                } else {
                    found.extend(shard.table.iter().filter(|s| s.hash >= pos).map(|s| {
                        let live =
                            !s.entry.is_expired(now) && filter.accepts(&s.key, &s.entry.value);
                        (s.hash, s.key.clone(), live)
                    }));
                }
            }
            let want = count - visited.min(count - 1);
            if found.len() > want {
                // Keep the `want` smallest hashes, plus any equal to the last one taken.
                found.select_nth_unstable_by_key(want - 1, |e| e.0);
                let cut = found[..want].iter().map(|e| e.0).max().unwrap_or(pos);
                found.retain(|e| e.0 <= cut);
                page.keys
                    .extend(found.drain(..).filter(|e| e.2).map(|e| e.1));
                page.cursor = cut.wrapping_add(1);
                if page.cursor == 0 {
                    // Wrapped past the end of hash space: the iteration is complete.
                    page.cursor = 0;
                }
                return page;
            }
            visited += found.len();
            page.keys
                .extend(found.drain(..).filter(|e| e.2).map(|e| e.1));
            if shard_end == 0 {
                page.cursor = 0;
                return page;
            }
            pos = shard_end;
            shard_idx += 1;
            if visited >= count {
                page.cursor = pos;
                return page;
            }
        }
    }

    /// A random live key (RANDOMKEY), or `None` when the database is empty.
    pub fn random_key(&self, now: UnixMillis, seed: u64) -> Option<Bytes> {
        let n = self.shards.len();
        let mut rng = seed | 1;
        // Start at a random shard and walk: a non-empty shard is found in one lap.
        let start = (splitmix(&mut rng) as usize) % n;
        for step in 0..n {
            let shard = self.shards[(start + step) % n].lock.read();
            let len = shard.table.len();
            if len == 0 {
                continue;
            }
            let skip = (splitmix(&mut rng) as usize) % len;
            // Prefer a random live entry; fall back to any live entry of this shard.
            let mut live = shard.table.iter().filter(|s| !s.entry.is_expired(now));
            if let Some(s) = live.clone().nth(skip).or_else(|| live.next()) {
                return Some(s.key.clone());
            }
        }
        None
    }
}

/// A small fast generator for RANDOMKEY and friends (not for anything secret).
pub fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Write access to one key under its shard's write lock.
///
/// In path mode the key may name a node inside its root's tree (`root` and `rest`):
/// every method then addresses that node. Writes create missing intermediate objects
/// ([`KeyMut::insert`]); a write the path makes impossible (a non-object value on the
/// way, a deadline of its own, too many segments) changes nothing and leaves a
/// [`PathFault`] ([`path::take_fault`]) for the command layer to answer.
#[derive(Debug)]
pub struct KeyMut<'a> {
    shard: &'a mut Shard,
    /// The key as the command named it.
    key: &'a [u8],
    /// The stored top-level key: `key` itself in flat mode.
    root: &'a [u8],
    /// Path mode: the path below `root` (`None`: the root itself).
    rest: Option<Rest<'a>>,
    hash: u64,
    now: UnixMillis,
    /// Values replaced or removed, freed by the caller after the lock is released.
    garbage: Option<Entry>,
    /// Absorbs a handler's writes to a node that cannot be created (path mode only;
    /// the fault is answered instead and these writes are dropped).
    scratch: Value,
}

/// The shard slot of `root`, for writing.
fn slot_mut<'s>(shard: &'s mut Shard, hash: u64, root: &[u8]) -> Option<&'s mut Slot> {
    let th = shard.table_hash(hash);
    shard
        .table
        .find_mut(th, |s| s.hash == hash && s.key == root)
}

/// A copy of the node at `rest` below entry `e`, with the root's deadline.
fn nested_entry(e: &Entry, rest: Rest<'_>) -> Option<Entry> {
    match path::resolve(&e.value, rest.path, rest.sep) {
        Node::Found(v) => Some(Entry {
            value: v.clone(),
            deadline: e.deadline,
        }),
        Node::Missing | Node::Blocked(_) => None,
    }
}

impl<'a> KeyMut<'a> {
    fn new(
        shard: &'a mut Shard,
        expired: &AtomicU64,
        key: &'a [u8],
        (root, rest): (&'a [u8], Option<Rest<'a>>),
        hash: u64,
        now: UnixMillis,
    ) -> Self {
        let mut garbage = None;
        if shard
            .find(hash, root)
            .is_some_and(|s| s.entry.is_expired(now))
        {
            garbage = shard.remove(hash, root).map(|s| s.entry);
            expired.fetch_add(1, Ordering::Relaxed);
        }
        KeyMut {
            shard,
            key,
            root,
            rest,
            hash,
            now,
            garbage,
            scratch: Value::Null,
        }
    }

    /// The key this handle writes, as the command named it.
    pub fn key(&self) -> &[u8] {
        self.key
    }

    /// The stored top-level key (`key()` itself in flat mode).
    pub fn root(&self) -> &[u8] {
        self.root
    }

    /// The current time the command runs at.
    pub fn now(&self) -> UnixMillis {
        self.now
    }

    pub fn exists(&self) -> bool {
        self.value().is_some()
    }

    fn root_entry(&self) -> Option<&Entry> {
        self.shard.find(self.hash, self.root).map(|s| &s.entry)
    }

    /// The stored entry. A nested node (path mode) is no entry of its own: `None`
    /// there; use [`KeyMut::value`] and [`KeyMut::deadline`].
    pub fn entry(&self) -> Option<&Entry> {
        match self.rest {
            None => self.root_entry(),
            Some(_) => None,
        }
    }

    pub fn value(&self) -> Option<&Value> {
        let e = self.root_entry()?;
        match self.rest {
            None => Some(&e.value),
            Some(rest) => match path::resolve(&e.value, rest.path, rest.sep) {
                Node::Found(v) => Some(v),
                Node::Missing | Node::Blocked(_) => None,
            },
        }
    }

    /// The deadline; a nested node has its root's.
    pub fn deadline(&self) -> Option<UnixMillis> {
        match self.rest {
            None => self.root_entry().and_then(|e| e.deadline),
            Some(_) if self.exists() => self.root_entry().and_then(|e| e.deadline),
            Some(_) => None,
        }
    }

    /// Path mode: `Some(n)` when a value that is not an object lies on the path, at
    /// `key()[..n]`, so that nothing can be written here.
    pub fn blocked_at(&self) -> Option<usize> {
        let rest = self.rest?;
        let e = self.root_entry()?;
        path::blocked_at(&e.value, rest.path, rest.sep).map(|n| self.root.len() + n)
    }

    pub fn value_mut(&mut self) -> Option<&mut Value> {
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        match self.rest {
            None => Some(&mut slot.entry.value),
            Some(rest) => path::resolve_mut(&mut slot.entry.value, rest.path, rest.sep),
        }
    }

    /// Stores `value` with `deadline`, replacing any previous entry and its TTL.
    ///
    /// Path mode, nested node: missing intermediate objects (and the root) are
    /// created; the root's deadline stays as it is, and `deadline` must be `None` or
    /// the root's. Otherwise nothing changes and a [`PathFault`] is recorded.
    pub fn insert(&mut self, value: Value, deadline: Option<UnixMillis>) {
        if let Err((fault, _)) = self.try_insert(value, deadline) {
            path::set_fault(fault);
        }
    }

    /// [`KeyMut::insert`], answering a refused write's fault and the value back.
    fn try_insert(
        &mut self,
        value: Value,
        deadline: Option<UnixMillis>,
    ) -> Result<(), (PathFault, Value)> {
        let Some(rest) = self.rest else {
            self.insert_root(value, deadline);
            return Ok(());
        };
        let k = self.key;
        let key = move || Bytes::copy_from_slice(k);
        if path::depth(rest.path, rest.sep) > path::MAX_DEPTH {
            return Err((PathFault::TooDeep { key: key() }, value));
        }
        let root_deadline = self.root_entry().and_then(|e| e.deadline);
        if deadline.is_some() && deadline != root_deadline {
            return Err((PathFault::NestedTtl { key: key() }, value));
        }
        match slot_mut(self.shard, self.hash, self.root) {
            Some(slot) => match path::insert(&mut slot.entry.value, rest.path, rest.sep, value) {
                Ok(old) => {
                    self.garbage = old.map(|value| Entry {
                        value,
                        deadline: None,
                    });
                    Ok(())
                }
                Err((n, value)) => Err((
                    PathFault::Blocked {
                        key: key(),
                        at: self.root.len() + n,
                    },
                    value,
                )),
            },
            None => {
                let mut root = Value::new_hash();
                // A fresh object blocks nothing.
                let _ = path::insert(&mut root, rest.path, rest.sep, value);
                self.insert_root(root, None);
                Ok(())
            }
        }
    }

    /// Stores `value` at the root with `deadline`, replacing any previous entry and TTL.
    fn insert_root(&mut self, value: Value, deadline: Option<UnixMillis>) {
        let th = self.shard.table_hash(self.hash);
        let (hash, key) = (self.hash, self.root);
        let shard = &mut *self.shard;
        match shard.table.find_mut(th, |s| s.hash == hash && s.key == key) {
            Some(slot) => {
                let old_deadline = slot.entry.deadline;
                let old = std::mem::replace(&mut slot.entry, Entry { value, deadline });
                if old_deadline != deadline {
                    let ik = IndexedKey::of(slot);
                    if let Some(d) = old_deadline {
                        shard.expiries.remove(&ik, d);
                    }
                    if let Some(d) = deadline {
                        shard.expiries.insert(ik, d);
                    }
                }
                self.garbage = Some(old);
            }
            None => {
                let slot = Slot {
                    hash,
                    key: Bytes::copy_from_slice(key),
                    entry: Entry { value, deadline },
                };
                if let Some(d) = deadline {
                    shard.expiries.insert(IndexedKey::of(&slot), d);
                }
                let bits = shard.bits;
                shard
                    .table
                    .insert_unique(th, slot, |s| s.hash.rotate_left(bits));
            }
        }
    }

    /// Replaces the value and keeps the TTL (KEEPTTL, SETRANGE, APPEND...); a missing
    /// key is created without a TTL.
    pub fn set_value(&mut self, value: Value) {
        let deadline = self.deadline();
        self.insert(value, deadline);
    }

    /// Sets or clears the deadline of an existing key. Returns false when the key is
    /// missing. Path mode, nested node: only its root's deadline is accepted (a no-op);
    /// any other records [`PathFault::NestedTtl`] and answers false.
    pub fn set_deadline(&mut self, deadline: Option<UnixMillis>) -> bool {
        if self.rest.is_some() {
            if !self.exists() {
                return false;
            }
            if deadline == self.deadline() {
                return true;
            }
            path::set_fault(PathFault::NestedTtl {
                key: Bytes::copy_from_slice(self.key),
            });
            return false;
        }
        let th = self.shard.table_hash(self.hash);
        let (hash, key) = (self.hash, self.root);
        let shard = &mut *self.shard;
        let Some(slot) = shard.table.find_mut(th, |s| s.hash == hash && s.key == key) else {
            return false;
        };
        let old = std::mem::replace(&mut slot.entry.deadline, deadline);
        if old != deadline {
            let ik = IndexedKey::of(slot);
            if let Some(d) = old {
                shard.expiries.remove(&ik, d);
            }
            if let Some(d) = deadline {
                shard.expiries.insert(ik, d);
            }
        }
        true
    }

    /// Removes the key, returning its entry. Path mode, nested node: removes the node
    /// and every object that leaves empty, the root included; the entry returned holds
    /// the node and its root's deadline.
    pub fn remove(&mut self) -> Option<Entry> {
        match self.rest {
            None => self.shard.remove(self.hash, self.root).map(|s| s.entry),
            Some(rest) => self.remove_nested(rest, false),
        }
    }

    fn remove_nested(&mut self, rest: Rest<'_>, only_if_empty: bool) -> Option<Entry> {
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        let value = path::remove(&mut slot.entry.value, rest.path, rest.sep, only_if_empty)?;
        let deadline = slot.entry.deadline;
        if path::is_empty_aggregate(&slot.entry.value) {
            self.shard.remove(self.hash, self.root);
        }
        Some(Entry { value, deadline })
    }

    /// The value, created by `make` (without a TTL) when the key is missing. In path
    /// mode, when the node cannot be created (see [`KeyMut::insert`]), a scratch value
    /// whose changes are dropped.
    pub fn value_or_insert_with(&mut self, make: impl FnOnce() -> Value) -> &mut Value {
        if !self.exists() {
            if let Err((fault, value)) = self.try_insert(make(), None) {
                path::set_fault(fault);
                self.scratch = value;
                return &mut self.scratch;
            }
        }
        let Some(slot) = slot_mut(self.shard, self.hash, self.root) else {
            return &mut self.scratch;
        };
        let node = match self.rest {
            None => Some(&mut slot.entry.value),
            Some(rest) => path::resolve_mut(&mut slot.entry.value, rest.path, rest.sep),
        };
        match node {
            Some(v) => v,
            None => &mut self.scratch,
        }
    }

    /// Removes the key when it holds an empty hash or list: Redis never keeps empty
    /// aggregates (after HDEL, LPOP, LREM, LTRIM...). Path mode, nested node: also
    /// the objects that leaves empty, up to the root.
    pub fn remove_if_empty(&mut self) {
        if let Some(rest) = self.rest {
            let old = self.remove_nested(rest, true);
            if old.is_some() {
                self.garbage = old;
            }
            return;
        }
        let empty = self.value().is_some_and(path::is_empty_aggregate);
        if empty {
            let old = self.remove();
            self.garbage = old;
        }
    }
}

/// Read access to several keys of one database at one instant ([`Db::get_many`]).
#[derive(Debug)]
pub struct ReadMany<'db, 'k> {
    db: &'db Db,
    addr: Addressing,
    keys: &'k [&'k [u8]],
    hashes: Vec<u64>,
    guards: Vec<(usize, RwLockReadGuard<'db, Shard>)>,
    now: UnixMillis,
    /// Path mode: the copies of nested nodes handed out (empty in flat mode).
    scratch: Vec<OnceCell<Option<Entry>>>,
}

impl ReadMany<'_, '_> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The live entry of key `i`, counting a keyspace hit or miss.
    pub fn get(&self, i: usize) -> Option<&Entry> {
        let hash = self.hashes[i];
        let idx = self.db.shard_index(hash);
        let pos = self
            .guards
            .binary_search_by_key(&idx, |g| g.0)
            .expect("every key's shard is locked");
        let (root, rest) = self.addr.split(self.keys[i]);
        let entry = self.guards[pos]
            .1
            .find(hash, root)
            .map(|s| &s.entry)
            .filter(|e| !e.is_expired(self.now));
        let entry = match rest {
            None => entry,
            Some(rest) => self.scratch[i]
                .get_or_init(|| entry.and_then(|e| nested_entry(e, rest)))
                .as_ref(),
        };
        let cell = &self.db.shards[idx];
        let counter = if entry.is_some() {
            &cell.hits
        } else {
            &cell.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        entry
    }
}

/// Write access to several keys of one database, all shards locked.
#[derive(Debug)]
pub struct Multi<'db, 'k> {
    db: &'db Db,
    addr: Addressing,
    keys: &'k [&'k [u8]],
    hashes: Vec<u64>,
    guards: Vec<(usize, RwLockWriteGuard<'db, Shard>)>,
    now: UnixMillis,
    garbage: Vec<Entry>,
}

impl Multi<'_, '_> {
    /// The number of keys this handle covers.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Runs `f` on key `i`. Keys may repeat; each call sees the effect of earlier ones.
    pub fn with<R>(&mut self, i: usize, f: impl FnOnce(&mut KeyMut<'_>) -> R) -> R {
        let hash = self.hashes[i];
        let idx = self.db.shard_index(hash);
        let pos = self
            .guards
            .binary_search_by_key(&idx, |g| g.0)
            .expect("every key's shard is locked");
        let cell = &self.db.shards[idx];
        let key = self.keys[i];
        let parts = self.addr.split(key);
        let mut km = KeyMut::new(
            &mut self.guards[pos].1,
            &cell.expired_lazy,
            key,
            parts,
            hash,
            self.now,
        );
        let r = f(&mut km);
        if let Some(g) = km.garbage.take() {
            self.garbage.push(g);
        }
        r
    }
}

// --- Added for the strings/keys commands (append-only). ---
impl Db {
    /// Counts a keyspace hit or miss for `key` without reading it. For the commands that
    /// write but that Redis counts as reads (`lookupKeyRead`): GETDEL, GETSET, GETEX,
    /// SET ... GET, MGET, EXISTS and TOUCH of several keys, COPY's source.
    pub fn count_lookup(&self, key: &[u8], hit: bool) {
        let cell = &self.shards[self.shard_index(self.hash(self.addressing.split(key).0))];
        let counter = if hit { &cell.hits } else { &cell.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}
