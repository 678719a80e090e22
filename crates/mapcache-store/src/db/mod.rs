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

mod access;
mod batch;
mod entry;
mod evict;
mod shard;
mod slot;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::Bytes;
use hashbrown::DefaultHashBuilder;
use mapcache_expiry::{SweepShard, UnixMillis};
use parking_lot::{RwLock, RwLockWriteGuard};

pub use access::{KeyMut, Multi, ReadMany};
pub use batch::{Batch, KeyMatch};
use entry::live;
pub use entry::Entry;
use shard::{hashed, key_hash, Shard, ShardCell, SlotBox};

use crate::feed::{ChangeKind, Origin};
use crate::glob::glob_match;
use crate::path::{self, Path, PathFault};
use crate::value::{Kind, Value};

/// Counters of one database, summed over its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub keys: usize,
    pub expires: usize,
    /// Bytes the shard tables allocate for their buckets (not the entries).
    pub table_bytes: usize,
    pub hits: u64,
    pub misses: u64,
    /// Writes: one per key a write command or multi-key write touches, one per batch.
    pub writes: u64,
    pub expired_lazy: u64,
    pub expired_active: u64,
}

/// Entries of a shard sampled by [`Db::estimated_bytes`].
const SIZE_SAMPLE: usize = 8;

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
    pub fn split(self, key: &[u8]) -> (&[u8], Option<Path<'_>>) {
        match self {
            Addressing::Flat => (key, None),
            Addressing::Path(sep) => match path::split(key, sep) {
                (root, Some(rest)) => (root, Some(Path::new(rest, sep))),
                (root, None) => (root, None),
            },
        }
    }
}

/// One database of the keyspace.
#[derive(Debug)]
pub struct Db {
    /// Allocated on first use ([`Db::shards`]): an empty database costs only this
    /// struct, not `1 << bits` shards of ~380 bytes (16 databases × 256 shards were
    /// 1.5 MB of an empty server's `used_memory`, all of it counted against
    /// `maxmemory`).
    shards: OnceLock<Box<[ShardCell]>>,
    /// The cache's name and the store's write feed: where changes are reported.
    origin: Origin,
    bits: u32,
    hasher: DefaultHashBuilder,
    /// How RESP commands' keys address the store: flat, or path key mode.
    addressing: Addressing,
}

impl Db {
    /// A database of `1 << bits` shards hashing keys with `hasher`.
    pub(crate) fn new(bits: u32, hasher: DefaultHashBuilder, origin: Origin) -> Self {
        assert!((1..=16).contains(&bits), "shard bits must be 1..=16");
        Db {
            shards: OnceLock::new(),
            origin,
            bits,
            hasher,
            addressing: Addressing::Flat,
        }
    }

    /// The shards, allocated on the first access to a key of this database.
    #[inline]
    fn shards(&self) -> &[ShardCell] {
        self.shards.get_or_init(|| {
            (0..1usize << self.bits)
                .map(|_| ShardCell {
                    lock: RwLock::new(Shard::new(self.hasher)),
                    origin: self.origin.clone(),
                    hits: AtomicU64::new(0),
                    misses: AtomicU64::new(0),
                    writes: AtomicU64::new(0),
                    expired_lazy: AtomicU64::new(0),
                    expired_active: AtomicU64::new(0),
                })
                .collect()
        })
    }

    /// The shards if a key was ever accessed, else none: for walks over the whole
    /// database (counts, KEYS, SCAN, flushes, the sweeper, eviction), which find
    /// nothing in a database never used and need not allocate it.
    #[inline]
    fn shards_if_any(&self) -> &[ShardCell] {
        self.shards.get().map_or(&[], |s| s)
    }

    /// Switches path key mode on or off (before the database is shared).
    pub(crate) fn set_path_keys(&mut self, on: bool) {
        self.addressing = if on {
            Addressing::RESP_PATH
        } else {
            Addressing::Flat
        };
    }

    /// How RESP keys address this database (before it is shared): flat, path mode
    /// (`:`) or map-cache's preserve mode (`/`).
    pub(crate) fn set_addressing(&mut self, addressing: Addressing) {
        self.addressing = addressing;
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
        key_hash(&self.hasher, key)
    }

    /// The shards of keys of these hashes, each once, in the store's lock order
    /// (ascending index).
    fn lock_order(&self, hashes: impl Iterator<Item = u64>) -> Vec<usize> {
        let mut order: Vec<usize> = hashes.map(|h| self.shard_index(h)).collect();
        order.sort_unstable();
        order.dedup();
        order
    }

    #[inline]
    fn shard_index(&self, hash: u64) -> usize {
        (hash >> (64 - self.bits)) as usize
    }

    pub(crate) fn sweep_shards(&self) -> impl Iterator<Item = &dyn SweepShard> {
        self.shards_if_any().iter().map(|s| s as &dyn SweepShard)
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
        self.lookup(addr, key, now, true, f)
    }

    /// [`Db::get`] without touching the key's access stamp or its request count
    /// (Redis's `LOOKUP_NOTOUCH`: TYPE, TTL, EXISTS): asking about a key is not using
    /// it, and eviction and OBJECT IDLETIME see no access. Hits and misses count.
    pub fn get_no_touch<R>(
        &self,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> R {
        self.lookup(self.addressing, key, now, false, f)
    }

    fn lookup<R>(
        &self,
        addr: Addressing,
        key: &[u8],
        now: UnixMillis,
        touch: bool,
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> R {
        let _pass = self.origin.gate.pass();
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let cell = &self.shards()[self.shard_index(hash)];
        let shard = cell.lock.read();
        let mut purged = None;
        let slot = shard.find(hash, root);
        if touch {
            if let Some(s) = slot {
                crate::evict::access::touch(s.access(), now);
            }
            shard.count_request(hash);
        }
        let stored = slot.map(SlotBox::entry);
        let entry = live(stored.as_deref(), now, &mut purged);
        let nested = rest.and_then(|rest| entry.and_then(|e| e.nested_entry(rest)));
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
        let _pass = self.origin.gate.pass();
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let shard = self.shards()[self.shard_index(hash)].lock.read();
        let mut purged = None;
        let stored = shard.find(hash, root).map(SlotBox::entry);
        let entry = live(stored.as_deref(), now, &mut purged);
        match rest {
            None => f(entry),
            Some(rest) => f(entry.and_then(|e| e.nested_entry(rest)).as_ref()),
        }
    }

    /// Runs `f` with write access to `key` under its shard's lock. An expired entry is
    /// removed first, so `f` never sees it. In path mode the lock is the root's and
    /// `f` writes the node `key` names ([`KeyMut`]); a write the path refuses changes
    /// nothing, and its fault is answered instead of `f`'s result (never in flat mode).
    pub fn update<R>(
        &self,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(&mut KeyMut<'_>) -> R,
    ) -> Result<R, PathFault> {
        self.update_with(self.addressing, key, now, f)
    }

    /// [`Db::update`] with `key` read as `addr` says.
    pub fn update_with<R>(
        &self,
        addr: Addressing,
        key: &[u8],
        now: UnixMillis,
        f: impl FnOnce(&mut KeyMut<'_>) -> R,
    ) -> Result<R, PathFault> {
        let _pass = self.origin.gate.pass();
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let cell = &self.shards()[self.shard_index(hash)];
        let mut shard = cell.lock.write();
        cell.writes.fetch_add(1, Ordering::Relaxed);
        let observe = self.origin.feed.is_active();
        let mut km = KeyMut::new(
            &mut shard,
            &cell.expired_lazy,
            key,
            (root, rest),
            hash,
            now,
            observe.then_some(&self.origin),
        );
        let r = f(&mut km);
        let done = km.finish();
        let garbage = km.garbage.take();
        if observe {
            done.report(&self.origin, root, rest);
        }
        drop(shard);
        drop(garbage);
        match done.fault {
            Some(fault) => Err(fault),
            None => Ok(r),
        }
    }

    /// Runs `f` with write access to all of `keys` at once: every shard involved is
    /// locked (in ascending order) before `f` runs, so no other client observes a
    /// partial result. `Multi::with(i, ..)` writes the i-th key. All or nothing: when
    /// the path refuses any write, every key is put back as it was and the fault is
    /// answered instead of `f`'s result.
    pub fn update_many<R>(
        &self,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&mut Multi<'_, '_>) -> R,
    ) -> Result<R, PathFault> {
        self.update_many_with(self.addressing, keys, now, f)
    }

    /// [`Db::update_many`] with `keys` read as `addr` says.
    pub fn update_many_with<R>(
        &self,
        addr: Addressing,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&mut Multi<'_, '_>) -> R,
    ) -> Result<R, PathFault> {
        let _pass = self.origin.gate.pass();
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(addr.split(k).0)).collect();
        let order = self.lock_order(hashes.iter().copied());
        let guards = order
            .iter()
            .map(|&i| (i, self.shards()[i].lock.write()))
            .collect();
        for &h in &hashes {
            self.shards()[self.shard_index(h)]
                .writes
                .fetch_add(1, Ordering::Relaxed);
        }
        let mut multi = Multi {
            db: self,
            addr,
            keys,
            hashes,
            guards,
            now,
            garbage: Vec::new(),
            fault: None,
            undo: Vec::new(),
            pending: Vec::new(),
        };
        let r = f(&mut multi);
        let outcome = multi.finish();
        let Multi {
            guards,
            garbage,
            undo,
            ..
        } = multi;
        drop(guards);
        drop((garbage, undo));
        outcome.map(|()| r)
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
        self.read_many(addr, keys, now, true, f)
    }

    /// [`Db::get_many`] without touching the keys ([`Db::get_no_touch`]).
    pub fn get_many_no_touch<R>(
        &self,
        keys: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&ReadMany<'_, '_>) -> R,
    ) -> R {
        self.read_many(self.addressing, keys, now, false, f)
    }

    fn read_many<R>(
        &self,
        addr: Addressing,
        keys: &[&[u8]],
        now: UnixMillis,
        touch: bool,
        f: impl FnOnce(&ReadMany<'_, '_>) -> R,
    ) -> R {
        let _pass = self.origin.gate.pass();
        let hashes: Vec<u64> = keys.iter().map(|k| self.hash(addr.split(k).0)).collect();
        let order = self.lock_order(hashes.iter().copied());
        let guards = order
            .iter()
            .map(|&i| (i, self.shards()[i].lock.read()))
            .collect();
        let scratch = keys.iter().map(|_| Default::default()).collect();
        let many = ReadMany {
            db: self,
            addr,
            keys,
            hashes,
            guards,
            now,
            touch,
            scratch,
        };
        f(&many)
    }

    /// The number of live keys (DBSIZE): entries already due are not counted, whether
    /// or not the sweeper has removed them yet.
    pub fn len(&self, now: UnixMillis) -> usize {
        let _pass = self.origin.gate.pass();
        self.shards_if_any()
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
        for c in self.shards_if_any().iter() {
            {
                let shard = c.lock.read();
                st.keys += shard.table.len();
                st.expires += shard.expiries.len();
                st.table_bytes += shard.table.allocation_size();
            }
            st.hits += c.hits.load(Ordering::Relaxed);
            st.misses += c.misses.load(Ordering::Relaxed);
            st.writes += c.writes.load(Ordering::Relaxed);
            st.expired_lazy += c.expired_lazy.load(Ordering::Relaxed);
            st.expired_active += c.expired_active.load(Ordering::Relaxed);
        }
        st
    }

    /// An estimate of the bytes the database holds: the shard tables' buckets, plus per
    /// shard its entry count times the mean size of up to [`SIZE_SAMPLE`] of its
    /// entries (slot, key beyond the slot, value's heap). O(shards), not O(keys), so a
    /// scrape stays cheap; entries already due count until removed, as in [`Db::stats`].
    pub fn estimated_bytes(&self) -> usize {
        let _pass = self.origin.gate.pass();
        let mut total = 0;
        for c in self.shards_if_any().iter() {
            let shard = c.lock.read();
            total += shard.table.allocation_size();
            let len = shard.table.len();
            if len == 0 {
                continue;
            }
            let (mut n, mut sum) = (0usize, 0usize);
            for s in shard.table.iter().take(SIZE_SAMPLE) {
                n += 1;
                sum += s.heap_size();
            }
            total += sum / n.max(1) * len;
        }
        total
    }

    /// Removes every key. The removed values are freed after each shard's lock is
    /// released, so a large flush never stalls other clients on one lock.
    pub fn flush(&self) {
        let _pass = self.origin.gate.pass();
        for c in self.shards_if_any().iter() {
            let old = {
                let mut shard = c.lock.write();
                shard.expiries.clear();
                shard.nested_expiries.clear();
                // A flushed database starts again with no request history.
                shard.sketch = None;
                shard.evict_pool = Vec::new();
                std::mem::take(&mut shard.table)
            };
            drop(old);
        }
        self.origin.report(b"", None, ChangeKind::Cleared);
    }

    /// The cache's name (`default`, `1` ... for the numbered databases).
    pub fn name(&self) -> &str {
        &self.origin.cache
    }

    /// Every live key matching `pattern` (KEYS). Each shard is read atomically.
    /// In path mode: every leaf path (`root:field:...`) matching `pattern`.
    pub fn keys(&self, pattern: &[u8], now: UnixMillis) -> Vec<Bytes> {
        let _pass = self.origin.gate.pass();
        let all = pattern == b"*";
        let mut out = Vec::new();
        for c in self.shards_if_any().iter() {
            let shard = c.lock.read();
            if let Addressing::Path(sep) = self.addressing {
                for s in shard.table.iter() {
                    let stored = s.entry();
                    let Some(e) = stored.view(now) else { continue };
                    path::for_each_leaf(s.key(), sep, &e.value, &mut |p, _| {
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
                        (all || glob_match(pattern, s.key(), false))
                            && s.entry().view(now).is_some()
                    })
                    .map(|s| Bytes::copy_from_slice(s.key())),
            );
        }
        out
    }

    /// KEYS as the Go map-cache answers it (path and preserve key modes): `pattern`
    /// is split on the key mode's separator, each segment that is exactly `*` matches
    /// one existing node at that depth (an object's field or an array's index), any
    /// other segment names one; the answer is the existing nodes at the pattern's depth,
    /// joined with the separator. Null nodes match nothing, as in Go. `KEYS *` is the
    /// root keys, `KEYS user:*` the children of `user`. In flat mode: [`Db::keys`].
    pub fn keys_by_segment(&self, pattern: &[u8], now: UnixMillis) -> Vec<Bytes> {
        let Addressing::Path(sep) = self.addressing else {
            return self.keys(pattern, now);
        };
        let _pass = self.origin.gate.pass();
        let segs: Vec<&[u8]> = pattern.split(|&b| b == sep).collect();
        let (first, rest) = (segs[0], &segs[1..]);
        let mut out = Vec::new();
        for c in self.shards_if_any().iter() {
            let shard = c.lock.read();
            for s in shard.table.iter() {
                if first != b"*" && s.key() != first {
                    continue;
                }
                let stored = s.entry();
                let Some(e) = stored.view(now) else { continue };
                let mut prefix = s.key().to_vec();
                walk_segments(&e.value, rest, sep, &mut prefix, &mut out);
            }
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
    ///
    /// The cursor a client sees is that position divided by 2^[`CURSOR_SHIFT`], so it
    /// fits 53 bits: node-redis 4 parses cursors as JavaScript numbers (doubles) and
    /// repeated keys when they were larger. A page therefore ends at a multiple of
    /// 2^11 in hash space (one more key in a million-key database, rarely).
    pub fn scan(
        &self,
        cursor: u64,
        count: usize,
        filter: ScanFilter<'_>,
        now: UnixMillis,
    ) -> ScanPage {
        let _pass = self.origin.gate.pass();
        let count = count.max(1);
        let mut page = ScanPage::default();
        let mut pos = cursor
            .checked_shl(CURSOR_SHIFT)
            .filter(|p| p >> CURSOR_SHIFT == cursor)
            .unwrap_or(u64::MAX);
        let mut visited = 0usize;
        let mut found: Vec<(u64, Bytes, bool)> = Vec::new();
        let mut shard_idx = self.shard_index(pos);
        let shards = self.shards_if_any();
        if shards.is_empty() {
            return page; // never used: empty, and the iteration is complete
        }
        loop {
            let shard_end = ((shard_idx as u64) + 1)
                .checked_shl(64 - self.bits)
                .unwrap_or(0);
            found.clear();
            {
                let shard = shards[shard_idx].lock.read();
                if let Addressing::Path(sep) = self.addressing {
                    // Path mode: a root stands for its leaf paths, all in the page
                    // that visits the root (they share its hash).
                    for (hash, s) in hashed(&shard).filter(|(h, _)| *h >= pos) {
                        let stored = s.entry();
                        let Some(e) = stored.view(now) else {
                            found.push((hash, Bytes::new(), false));
                            continue;
                        };
                        path::for_each_leaf(s.key(), sep, &e.value, &mut |p, v| {
                            found.push((hash, Bytes::copy_from_slice(p), filter.accepts(p, v)));
                        });
                    }
                } else {
                    found.extend(hashed(&shard).filter(|(h, _)| *h >= pos).map(|(hash, s)| {
                        let live = s
                            .entry()
                            .view(now)
                            .is_some_and(|e| filter.accepts(s.key(), &e.value));
                        (hash, Bytes::copy_from_slice(s.key()), live)
                    }));
                }
            }
            let want = count - visited.min(count - 1);
            if found.len() > want {
                // Keep the `want` smallest hashes, plus any equal to the last one taken.
                found.select_nth_unstable_by_key(want - 1, |e| e.0);
                let cut = found[..want].iter().map(|e| e.0).max().unwrap_or(pos)
                    | ((1 << CURSOR_SHIFT) - 1);
                found.retain(|e| e.0 <= cut);
                page.keys
                    .extend(found.drain(..).filter(|e| e.2).map(|e| e.1));
                page.cursor = cut.wrapping_add(1) >> CURSOR_SHIFT;
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
                page.cursor = pos >> CURSOR_SHIFT;
                return page;
            }
        }
    }

    /// A random live key (RANDOMKEY), or `None` when the database is empty.
    pub fn random_key(&self, now: UnixMillis, seed: u64) -> Option<Bytes> {
        let _pass = self.origin.gate.pass();
        let shards = self.shards_if_any();
        let n = shards.len();
        if n == 0 {
            return None;
        }
        let mut rng = seed | 1;
        // Start at a random shard and walk: a non-empty shard is found in one lap.
        let start = (splitmix(&mut rng) as usize) % n;
        for step in 0..n {
            let shard = shards[(start + step) % n].lock.read();
            let len = shard.table.len();
            if len == 0 {
                continue;
            }
            let skip = (splitmix(&mut rng) as usize) % len;
            // Prefer a random live entry; fall back to any live entry of this shard.
            let mut live = shard.table.iter().filter(|s| s.entry().view(now).is_some());
            if let Some(s) = live.clone().nth(skip).or_else(|| live.next()) {
                return Some(Bytes::copy_from_slice(s.key()));
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

// --- Eviction (crate::evict). ---
impl Db {
    /// Evicts one key from shard `i` under `policy`, reporting it to the write feed;
    /// answers about how many bytes that freed, or `None` when the shard had no
    /// candidate.
    pub(crate) fn evict_from_shard(
        &self,
        i: usize,
        policy: crate::evict::Policy,
        now: UnixMillis,
        samples: usize,
    ) -> Option<u64> {
        let _pass = self.origin.gate.pass();
        let cell = self.shards_if_any().get(i)?;
        let slot = {
            let mut shard = cell.lock.write();
            let (_, slot) = shard.evict_one(policy, now, samples)?;
            if matches!(
                policy,
                crate::evict::Policy::AllKeysLru | crate::evict::Policy::VolatileLru
            ) {
                let stamp = slot.access().get();
                crate::evict::access::note_evicted_age(crate::evict::access::lru_age(stamp, now));
            }
            self.origin.report(slot.key(), None, ChangeKind::Evicted);
            slot
        };
        let freed = evict::freed_bytes(&slot);
        drop(slot); // freed after the lock is released
        Some(freed)
    }

    /// The key's access stamp read as Redis's OBJECT IDLETIME (seconds) or OBJECT
    /// FREQ (the decayed LFU counter) answer it; `None` for a missing key.
    pub fn access_of(&self, key: &[u8], now: UnixMillis) -> Option<(u64, u32)> {
        let _pass = self.origin.gate.pass();
        let root = self.addressing.split(key).0;
        let hash = self.hash(root);
        let shard = self.shards()[self.shard_index(hash)].lock.read();
        let slot = shard.find(hash, root)?;
        slot.entry().view(now)?;
        let stamp = slot.access().get();
        Some((
            crate::evict::access::idle_ms(stamp, now) / 1000,
            crate::evict::access::decayed(stamp, now),
        ))
    }
}

// --- Added for the strings/keys commands (append-only). ---
impl Db {
    /// Counts a keyspace hit or miss for `key` without reading it. For the commands that
    /// write but that Redis counts as reads (`lookupKeyRead`): GETDEL, GETSET, GETEX,
    /// SET ... GET, MGET, EXISTS and TOUCH of several keys, COPY's source.
    pub fn count_lookup(&self, key: &[u8], hit: bool) {
        let cell = &self.shards()[self.shard_index(self.hash(self.addressing.split(key).0))];
        let counter = if hit { &cell.hits } else { &cell.misses };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

// --- Images of roots: put back what a command wrote (its triggers failed). ---

/// A root as it was ([`Db::images`]): its entry, or `None` when it did not exist.
#[derive(Debug)]
pub struct RootImage {
    root: Bytes,
    hash: u64,
    entry: Option<Entry>,
}

impl Db {
    /// Copies of `roots` as they are now (each root once), for [`Db::restore`].
    /// Only meaningful inside an exclusive section (`Store::exclusive`): otherwise
    /// another client may write between the copy and the restore.
    pub fn images(&self, roots: &[&[u8]]) -> Vec<RootImage> {
        let _pass = self.origin.gate.pass();
        let mut out: Vec<RootImage> = Vec::with_capacity(roots.len());
        for &root in roots {
            if out.iter().any(|i| i.root == root) {
                continue;
            }
            let hash = self.hash(root);
            let shard = self.shards()[self.shard_index(hash)].lock.read();
            out.push(RootImage {
                root: Bytes::copy_from_slice(root),
                hash,
                entry: shard.find(hash, root).map(|s| s.entry().clone()),
            });
        }
        out
    }

    /// Puts every root back as its image holds it.
    pub fn restore(&self, images: Vec<RootImage>) {
        let _pass = self.origin.gate.pass();
        let mut garbage = Vec::new();
        for img in images {
            let mut shard = self.shards()[self.shard_index(img.hash)].lock.write();
            garbage.extend(shard.put(img.hash, &img.root, img.entry));
        }
        drop(garbage);
    }
}

// --- Whole-database access: snapshots (backup, restore, SAVE). ---

/// One entry of a database as a snapshot carries it: key, value, the root's deadline
/// and the nested nodes' deadlines (segments below the root, deadline).
pub type ExportedEntry = (
    Bytes,
    Value,
    Option<UnixMillis>,
    Vec<(Vec<Bytes>, UnixMillis)>,
);

/// SCAN cursors are positions in hash space shifted right by this much ([`Db::scan`]).
pub const CURSOR_SHIFT: u32 = 11;

impl Db {
    /// The number of shards ([`Db::export_shard`] takes `0..shard_count()`).
    pub fn shard_count(&self) -> usize {
        self.shards_if_any().len()
    }

    /// Calls `f(key, value, deadline, nested deadlines)` for every live entry of shard
    /// `i`, under its read lock: each shard is seen at one instant (the database as a
    /// whole is not, unlike Redis's fork-based BGSAVE). Keep `f` short: it holds the lock.
    pub fn export_shard(
        &self,
        i: usize,
        now: UnixMillis,
        mut f: impl FnMut(&[u8], &Value, Option<UnixMillis>, &[(Vec<Bytes>, UnixMillis)]),
    ) {
        let _pass = self.origin.gate.pass();
        let shard = self.shards_if_any()[i].lock.read();
        let mut nested = Vec::new();
        for s in shard.table.iter() {
            let stored = s.entry();
            let Some(e) = stored.view(now) else { continue };
            nested.clear();
            nested.extend(e.nested_deadlines().map(|(p, d)| (p.to_vec(), d)));
            f(s.key(), &e.value, e.deadline(), &nested);
        }
    }

    /// Replaces the whole content of the database with `entries`, atomically: every
    /// shard is write-locked (in ascending order) while the old content goes and the
    /// new comes in, so no client sees a mix. Entries already expired at `now` and empty
    /// aggregates are skipped; a key given twice keeps the last. The old content is
    /// freed after the locks are released.
    pub fn replace_all(&self, entries: Vec<ExportedEntry>, now: UnixMillis) {
        let _pass = self.origin.gate.pass();
        let mut guards: Vec<RwLockWriteGuard<'_, Shard>> =
            self.shards().iter().map(|c| c.lock.write()).collect();
        let mut old = Vec::with_capacity(guards.len());
        let mut replaced = Vec::new();
        for g in guards.iter_mut() {
            g.expiries.clear();
            g.nested_expiries.clear();
            g.sketch = None;
            g.evict_pool = Vec::new();
            old.push(std::mem::take(&mut g.table));
        }
        for (key, value, deadline, nested) in entries {
            if deadline.is_some_and(|d| d < now) || path::is_empty_aggregate(&value) {
                continue;
            }
            let hash = self.hash(&key);
            let shard = &mut guards[self.shard_index(hash)];
            let entry = Entry::with_nested(value, deadline, nested);
            if let Some(prev) = shard.remove(hash, &key) {
                replaced.push(prev);
            }
            shard.insert_new(hash, SlotBox::new(&key, entry));
        }
        self.origin.report(b"", None, ChangeKind::Cleared);
        drop(guards);
        drop((old, replaced));
    }
}

/// The nodes below `value` that `segs` reach ([`Db::keys_by_segment`]); `prefix` is
/// the path so far (restored on return).
fn walk_segments(
    value: &Value,
    segs: &[&[u8]],
    sep: u8,
    prefix: &mut Vec<u8>,
    out: &mut Vec<Bytes>,
) {
    if matches!(value, Value::Null) {
        return;
    }
    let Some((seg, rest)) = segs.split_first() else {
        out.push(Bytes::copy_from_slice(prefix));
        return;
    };
    let len = prefix.len();
    let mut visit = |name: &[u8], child: &Value, prefix: &mut Vec<u8>| {
        prefix.push(sep);
        prefix.extend_from_slice(name);
        walk_segments(child, rest, sep, prefix, out);
        prefix.truncate(len);
    };
    match value {
        Value::Hash(h) if *seg == b"*" => {
            for (name, child) in h.iter() {
                visit(name, &child.cow(), prefix);
            }
        }
        Value::Hash(h) => {
            if let Some(child) = h.get(seg) {
                visit(seg, &child.cow(), prefix);
            }
        }
        Value::List(l) if *seg == b"*" => {
            for (i, child) in l.iter().enumerate() {
                visit(
                    itoa::Buffer::new().format(i).as_bytes(),
                    &child.cow(),
                    prefix,
                );
            }
        }
        Value::List(l) => {
            let index = std::str::from_utf8(seg)
                .ok()
                .and_then(|t| t.parse::<usize>().ok());
            if let Some(child) = index.and_then(|i| l.get(i)) {
                visit(seg, &child.cow(), prefix);
            }
        }
        _ => {}
    }
}
