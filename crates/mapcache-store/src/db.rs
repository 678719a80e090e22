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

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use hashbrown::{DefaultHashBuilder, HashTable};
use mapcache_expiry::{DeadlineIndex, ShardSweep, SweepShard, UnixMillis};
use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::glob::glob_match;
use crate::key::StoredKey;
use crate::nested::NestedTtls;
use crate::path::{self, Node, PathFault};
use crate::value::{Kind, Value};

/// A stored value with its optional deadline (absolute Unix milliseconds) and the
/// deadlines of nodes inside it ([`crate::nested`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    deadline: Deadline,
    /// Deadlines of nested nodes; `None` for almost every entry.
    nested: Option<Box<NestedTtls>>,
}

impl Entry {
    /// An entry without nested deadlines.
    pub fn new(value: Value, deadline: Option<UnixMillis>) -> Self {
        Entry {
            value,
            deadline: Deadline::new(deadline),
            nested: None,
        }
    }

    /// An entry with nested deadlines: `(segments below the root, deadline)`.
    pub fn with_nested(
        value: Value,
        deadline: Option<UnixMillis>,
        nested: impl IntoIterator<Item = (Vec<Bytes>, UnixMillis)>,
    ) -> Self {
        let mut n = NestedTtls::default();
        for (segs, d) in nested {
            n.set_segments(segs.into(), d);
        }
        n.retain_existing(&value);
        Entry {
            value,
            deadline: Deadline::new(deadline),
            nested: (!n.is_empty()).then(|| Box::new(n)),
        }
    }

    /// The root's own deadline.
    pub fn deadline(&self) -> Option<UnixMillis> {
        self.deadline.get()
    }

    /// The deadlines of nested nodes: `(segments below the root, deadline)`.
    pub fn nested_deadlines(&self) -> impl Iterator<Item = (&[Bytes], UnixMillis)> {
        self.nested.iter().flat_map(|n| n.iter())
    }

    /// Redis deems a key expired once `now > deadline` (at its deadline it still exists,
    /// with PTTL 0).
    fn is_expired(&self, now: UnixMillis) -> bool {
        matches!(self.deadline(), Some(d) if d < now)
    }

    /// The earliest nested deadline.
    fn nested_next(&self) -> Option<UnixMillis> {
        self.nested.as_ref().and_then(|n| n.next())
    }

    /// Has some nested node expired at `now` (the sweeper has not removed it yet)?
    #[inline]
    fn has_nested_due(&self, now: UnixMillis) -> bool {
        self.nested.is_some() && matches!(self.nested_next(), Some(d) if d < now)
    }

    /// A copy without the nested nodes expired at `now`, for readers (who cannot
    /// remove them under a shared lock); `None` when nothing is left of the root.
    fn purged(&self, now: UnixMillis) -> Option<Entry> {
        let mut copy = self.clone();
        if let Some(n) = copy.nested.as_mut() {
            n.expire(&mut copy.value, now);
        }
        (!path::is_empty_aggregate(&copy.value)).then_some(copy)
    }

    /// What readers see at `now`: nothing once expired, else the entry itself, or a
    /// copy without its expired nested nodes (nothing when that leaves it empty).
    fn view(&self, now: UnixMillis) -> Option<Cow<'_, Entry>> {
        if self.is_expired(now) {
            None
        } else if self.has_nested_due(now) {
            self.purged(now).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(self))
        }
    }

    /// The node at `rest` as an entry of its own: a copy, with the deadline it expires
    /// at (its own, an ancestor's or the root's, whichever comes first).
    fn nested_entry(&self, rest: Rest<'_>) -> Option<Entry> {
        match path::resolve(&self.value, rest.path, rest.sep) {
            Node::Found(v) => {
                let inner = self.nested.as_ref().and_then(|n| n.effective(rest));
                Some(Entry::new(v.clone(), min_deadline(self.deadline(), inner)))
            }
            Node::Missing | Node::Blocked(_) => None,
        }
    }
}

/// An optional deadline in 8 bytes (an `Option<i64>` takes 16): `i64::MIN` stands for
/// none. A key given the deadline `i64::MIN` gets `i64::MIN + 1`, which has expired at
/// every moment the other has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Deadline(UnixMillis);

impl Deadline {
    const NONE: UnixMillis = UnixMillis::MIN;

    #[inline]
    fn new(deadline: Option<UnixMillis>) -> Self {
        Deadline(deadline.map_or(Self::NONE, |d| d.max(Self::NONE + 1)))
    }

    #[inline]
    fn get(self) -> Option<UnixMillis> {
        (self.0 != Self::NONE).then_some(self.0)
    }
}

/// The earlier of two optional deadlines.
fn min_deadline(a: Option<UnixMillis>, b: Option<UnixMillis>) -> Option<UnixMillis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A live view of `entry` at `now`: itself, or a purged copy (kept in `scratch`) when
/// a nested node has expired; `None` when the entry is gone.
#[inline]
fn live<'e>(
    entry: Option<&'e Entry>,
    now: UnixMillis,
    scratch: &'e mut Option<Entry>,
) -> Option<&'e Entry> {
    match entry {
        Some(e) if e.is_expired(now) => None,
        Some(e) if e.has_nested_due(now) => {
            *scratch = e.purged(now);
            scratch.as_ref()
        }
        other => other,
    }
}

/// One key's slot: 80 bytes, a jemalloc size class of its own. The key's hash is not
/// kept (it would make the slot 88 bytes, rounded up to 96): a table that grows or
/// shrinks, SCAN and the sweeper recompute it from the key, which is inline for keys up
/// to 22 bytes and takes a few nanoseconds to hash.
///
/// A shard table holds slots boxed ([`BoxedSlot`]): a table runs between 44% and 87%
/// full, and an empty bucket then costs 8 bytes instead of a whole slot's 96 (with 1M
/// keys over 256 shards every table sits just past a doubling: 220 bytes of table per
/// key unboxed, 19 boxed). With the key inline ([`StoredKey`]) a lookup still reads
/// two cache lines, the bucket and the slot, as it did with the key behind a `Bytes`.
#[derive(Debug)]
struct Slot {
    key: StoredKey,
    entry: Entry,
}

type BoxedSlot = Box<Slot>;

// The size class the layout above is chosen for (see `Slot`).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 80);

/// The latest deadline that has expired at `now`: the index's "due" means
/// `deadline <= t`, and Redis expires a key only once `now > deadline`.
#[inline]
fn last_expired(now: UnixMillis) -> UnixMillis {
    now.saturating_sub(1)
}

/// What the deadline indexes hold for an entry: its key's 64-bit hash (8 bytes, where
/// the key itself would take a 32-byte handle). The sweeper finds the slot by hash and
/// deadline; two keys sharing both are two index entries (the index is a multiset), and
/// each pop removes one of them.
type IndexedKey = u64;

#[derive(Debug)]
pub(crate) struct Shard {
    table: HashTable<BoxedSlot>,
    /// The database's key hasher (the slots do not keep their keys' hashes).
    hasher: DefaultHashBuilder,
    /// Roots' own deadlines (INFO's `expires=` counts these).
    expiries: DeadlineIndex<IndexedKey>,
    /// Each root's earliest nested deadline ([`crate::nested`]).
    nested_expiries: DeadlineIndex<IndexedKey>,
}

/// A key's 64-bit hash: its top bits pick the shard ([`Db::shard_index`]), the rest
/// place it in the shard's table ([`table_hash`]) and order SCAN.
#[inline]
fn key_hash(hasher: &DefaultHashBuilder, key: &[u8]) -> u64 {
    use std::hash::BuildHasher;
    hasher.hash_one(key)
}

/// A shard's slots with their keys' hashes (recomputed).
fn hashed(shard: &Shard) -> impl Iterator<Item = (u64, &Slot)> {
    shard.table.iter().map(|s| (shard.key_hash(&s.key), &**s))
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
fn table_hash(hash: u64) -> u64 {
    hash.rotate_left(40)
}

impl Shard {
    fn new(hasher: DefaultHashBuilder) -> Self {
        Shard {
            table: HashTable::new(),
            hasher,
            expiries: DeadlineIndex::new(),
            nested_expiries: DeadlineIndex::new(),
        }
    }

    #[inline]
    fn table_hash(&self, hash: u64) -> u64 {
        table_hash(hash)
    }

    /// A stored key's 64-bit hash, recomputed.
    #[inline]
    fn key_hash(&self, key: &[u8]) -> u64 {
        key_hash(&self.hasher, key)
    }

    #[inline]
    fn find(&self, hash: u64, key: &[u8]) -> Option<&Slot> {
        self.table
            .find(self.table_hash(hash), |s| s.key == key)
            .map(|s| &**s)
    }

    /// Adds a new slot for a key of hash `hash` (absent from the table) and indexes its
    /// deadlines.
    fn insert_new(&mut self, hash: u64, slot: BoxedSlot) {
        if let Some(d) = slot.entry.deadline() {
            self.expiries.insert(hash, d);
        }
        if let Some(d) = slot.entry.nested_next() {
            self.nested_expiries.insert(hash, d);
        }
        let hasher = &self.hasher;
        self.table.insert_unique(table_hash(hash), slot, |s| {
            table_hash(key_hash(hasher, &s.key))
        });
    }

    /// Removes a slot and its index entry.
    fn remove(&mut self, hash: u64, key: &[u8]) -> Option<BoxedSlot> {
        let th = self.table_hash(hash);
        let slot = self.table.find_entry(th, |s| s.key == key).ok()?.remove().0;
        if let Some(d) = slot.entry.deadline() {
            self.expiries.remove(&hash, d);
        }
        if let Some(d) = slot.entry.nested_next() {
            self.nested_expiries.remove(&hash, d);
        }
        Some(slot)
    }

    /// Moves a root's entry in the nested index from deadline `old` to `new`.
    fn reindex_nested(&mut self, ik: IndexedKey, old: Option<UnixMillis>, new: Option<UnixMillis>) {
        if old == new {
            return;
        }
        if let Some(d) = old {
            self.nested_expiries.remove(&ik, d);
        }
        if let Some(d) = new {
            self.nested_expiries.insert(ik, d);
        }
    }

    /// Removes the nested nodes of `root` expired at `now` (the root too, when that
    /// leaves it empty). Answers how many subtrees went and the root's slot if removed.
    fn expire_nested(
        &mut self,
        hash: u64,
        root: &[u8],
        now: UnixMillis,
    ) -> (usize, Option<BoxedSlot>) {
        let th = self.table_hash(hash);
        let Some(slot) = self.table.find_mut(th, |s| s.key == root) else {
            return (0, None);
        };
        let old = slot.entry.nested_next();
        let Some(nested) = slot.entry.nested.as_mut() else {
            return (0, None);
        };
        let n = nested.expire(&mut slot.entry.value, now);
        if nested.is_empty() {
            slot.entry.nested = None;
        }
        let emptied = path::is_empty_aggregate(&slot.entry.value);
        let new = slot.entry.nested_next();
        self.reindex_nested(hash, old, new);
        if emptied {
            return (n, self.remove(hash, root));
        }
        (n, None)
    }

    /// Is the table at most a quarter full (and not tiny)? Tables never shrink by
    /// themselves; the sweeper shrinks sparse ones as Redis's cron resizes its dicts.
    fn is_sparse(&self) -> bool {
        let buckets = self.buckets();
        buckets > 64 && self.table.len() * 4 < buckets
    }

    /// The table's bucket count (its capacity counts deleted entries' tombstones
    /// against it, so it says nothing of how sparse the table is).
    fn buckets(&self) -> usize {
        self.table.allocation_size() / (std::mem::size_of::<BoxedSlot>() + 1)
    }

    /// Shrinks a sparse table to fit its entries (the slots are boxed, so this moves
    /// 8-byte pointers and rehashes each key once).
    fn shrink_if_sparse(&mut self) {
        if self.is_sparse() {
            let hasher = &self.hasher;
            self.table
                .shrink_to(self.table.len(), |s| table_hash(key_hash(hasher, &s.key)));
        }
    }

    /// Is a root or a nested node due at `due_at` ([`last_expired`])?
    fn has_due(&self, due_at: UnixMillis) -> bool {
        self.expiries.has_due(due_at) || self.nested_expiries.has_due(due_at)
    }

    /// Live entries: the table size less the entries already due but not yet swept,
    /// and less the roots that their expired nested nodes leave empty.
    fn live_len(&self, now: UnixMillis) -> usize {
        let due_at = last_expired(now);
        let emptied = self
            .nested_expiries
            .iter()
            .take_while(|(d, _)| *d <= due_at)
            .filter(|&(d, &hash)| {
                self.table
                    .find(self.table_hash(hash), |s| {
                        s.entry.nested_next() == Some(d) && self.key_hash(&s.key) == hash
                    })
                    .is_some_and(|s| !s.entry.is_expired(now) && s.entry.view(now).is_none())
            })
            .count();
        self.table.len() - self.expiries.count_due(due_at) - emptied
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
                    s.entry.deadline() == Some(deadline) && key_hash(hasher, &s.key) == hash
                }) {
                    let slot = found.remove().0;
                    if let Some(d) = slot.entry.nested_next() {
                        shard.nested_expiries.remove(&hash, d);
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
                        s.entry.nested_next() == Some(deadline) && shard.key_hash(&s.key) == hash
                    })
                    .map(|s| s.key.to_bytes())
                else {
                    continue;
                };
                // Put the popped entry back: expire_nested moves it to the next deadline.
                shard.nested_expiries.insert(hash, deadline);
                let (n, slot) = shard.expire_nested(hash, &root, now);
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

/// Counters of one database, summed over its shards.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    pub keys: usize,
    pub expires: usize,
    /// Bytes the shard tables allocate for their buckets (not the entries).
    pub table_bytes: usize,
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
                lock: RwLock::new(Shard::new(hasher)),
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
        key_hash(&self.hasher, key)
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
        let mut purged = None;
        let entry = live(shard.find(hash, root).map(|s| &s.entry), now, &mut purged);
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
        let (root, rest) = addr.split(key);
        let hash = self.hash(root);
        let shard = self.shards[self.shard_index(hash)].lock.read();
        let mut purged = None;
        let entry = live(shard.find(hash, root).map(|s| &s.entry), now, &mut purged);
        match rest {
            None => f(entry),
            Some(rest) => f(entry.and_then(|e| e.nested_entry(rest)).as_ref()),
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
        let mut purged = None;
        let entry = live(shard.find(hash, root).map(|s| &s.entry), now, &mut purged)?;
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
        km.finish();
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
        let scratch = keys.iter().map(|_| OnceCell::new()).collect();
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
                st.table_bytes += shard.table.allocation_size();
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
                shard.nested_expiries.clear();
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
                for s in shard.table.iter() {
                    let Some(e) = s.entry.view(now) else { continue };
                    path::for_each_leaf(&s.key, sep, &e.value, &mut |p, _| {
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
                        (all || glob_match(pattern, &s.key, false)) && s.entry.view(now).is_some()
                    })
                    .map(|s| s.key.to_bytes()),
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
                    for (hash, s) in hashed(&shard).filter(|(h, _)| *h >= pos) {
                        let Some(e) = s.entry.view(now) else {
                            found.push((hash, Bytes::new(), false));
                            continue;
                        };
                        path::for_each_leaf(&s.key, sep, &e.value, &mut |p, v| {
                            found.push((hash, Bytes::copy_from_slice(p), filter.accepts(p, v)));
                        });
                    }
                } else {
                    found.extend(hashed(&shard).filter(|(h, _)| *h >= pos).map(|(hash, s)| {
                        let live = s
                            .entry
                            .view(now)
                            .is_some_and(|e| filter.accepts(&s.key, &e.value));
                        (hash, s.key.to_bytes(), live)
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
            let mut live = shard.table.iter().filter(|s| s.entry.view(now).is_some());
            if let Some(s) = live.clone().nth(skip).or_else(|| live.next()) {
                return Some(s.key.to_bytes());
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
    /// The handler got `&mut` access to a tree with nested deadlines: check them in
    /// [`KeyMut::finish`].
    nested_dirty: bool,
}

/// The shard slot of `root`, for writing.
fn slot_mut<'s>(shard: &'s mut Shard, hash: u64, root: &[u8]) -> Option<&'s mut Slot> {
    let th = shard.table_hash(hash);
    shard
        .table
        .find_mut(th, |s| s.key == root)
        .map(|s| &mut **s)
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
        match shard.find(hash, root) {
            Some(s) if s.entry.is_expired(now) => {
                garbage = shard.remove(hash, root).map(|s| s.entry);
                expired.fetch_add(1, Ordering::Relaxed);
            }
            Some(s) if s.entry.has_nested_due(now) => {
                let (n, slot) = shard.expire_nested(hash, root, now);
                garbage = slot.map(|s| s.entry);
                expired.fetch_add(n as u64, Ordering::Relaxed);
            }
            _ => {}
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
            nested_dirty: false,
        }
    }

    /// Runs `f` on the root's nested deadlines (created empty when `create`) and keeps
    /// the shard's nested index in step. Nothing happens without a root, or without
    /// nested deadlines when not `create`.
    fn edit_nested(&mut self, create: bool, f: impl FnOnce(&mut NestedTtls, &Value)) {
        let Some(slot) = slot_mut(self.shard, self.hash, self.root) else {
            return;
        };
        if slot.entry.nested.is_none() && !create {
            return;
        }
        let old = slot.entry.nested_next();
        let nested = slot.entry.nested.get_or_insert_with(Default::default);
        f(nested, &slot.entry.value);
        if nested.is_empty() {
            slot.entry.nested = None;
        }
        let new = slot.entry.nested_next();
        self.shard.reindex_nested(self.hash, old, new);
    }

    /// Called once the command's closure is done: drops the nested deadlines of nodes
    /// the command removed through [`KeyMut::value_mut`] (HDEL of a field, say).
    fn finish(&mut self) {
        if std::mem::take(&mut self.nested_dirty) {
            self.edit_nested(false, |n, v| n.retain_existing(v));
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

    /// When the node goes: the root's deadline, or for a nested node the earliest of
    /// its own, its ancestors' and its root's (TTL, PTTL, EXPIRETIME answer this).
    pub fn deadline(&self) -> Option<UnixMillis> {
        let e = self.root_entry()?;
        match self.rest {
            None => e.deadline(),
            Some(_) if !self.exists() => None,
            Some(rest) => min_deadline(
                e.deadline(),
                e.nested.as_ref().and_then(|n| n.effective(rest)),
            ),
        }
    }

    /// The deadline set on this node itself (EXPIRE's NX/XX/GT/LT, PERSIST, KEEPTTL
    /// look at this one): the root's for a root.
    pub fn own_deadline(&self) -> Option<UnixMillis> {
        let e = self.root_entry()?;
        match self.rest {
            None => e.deadline(),
            Some(_) if !self.exists() => None,
            Some(rest) => e.nested.as_ref().and_then(|n| n.own(rest)),
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
        self.nested_dirty |= slot.entry.nested.is_some();
        match self.rest {
            None => Some(&mut slot.entry.value),
            Some(rest) => path::resolve_mut(&mut slot.entry.value, rest.path, rest.sep),
        }
    }

    /// Stores `value` with `deadline`, replacing any previous entry and its TTL.
    ///
    /// Nested node: missing intermediate objects (and the root) are created; the
    /// node's own deadline becomes `deadline`, those below it go, and the root's and
    /// the ancestors' stay. When a non-object lies on the path or the path is too
    /// deep, nothing changes and a [`PathFault`] is recorded.
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
            self.insert_root(Entry::new(value, deadline));
            return Ok(());
        };
        let k = self.key;
        let key = move || Bytes::copy_from_slice(k);
        if path::depth(rest.path, rest.sep) > path::MAX_DEPTH {
            return Err((PathFault::TooDeep { key: key() }, value));
        }
        match slot_mut(self.shard, self.hash, self.root) {
            Some(slot) => match path::insert(&mut slot.entry.value, rest.path, rest.sep, value) {
                Ok(old) => {
                    self.garbage = old.map(|value| Entry::new(value, None));
                    self.edit_nested(deadline.is_some(), |n, _| {
                        n.clear_at_or_below(rest);
                        n.set(rest, deadline);
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
                self.insert_root(Entry::new(root, None));
                if deadline.is_some() {
                    self.edit_nested(true, |n, _| {
                        n.set(rest, deadline);
                    });
                }
                Ok(())
            }
        }
    }

    /// Stores `entry` at the root, replacing any previous entry and its deadlines.
    fn insert_root(&mut self, entry: Entry) {
        let th = self.shard.table_hash(self.hash);
        let (hash, key) = (self.hash, self.root);
        let shard = &mut *self.shard;
        let (deadline, nested) = (entry.deadline(), entry.nested_next());
        match shard.table.find_mut(th, |s| s.key == key) {
            Some(slot) => {
                let old = std::mem::replace(&mut slot.entry, entry);
                let ik = hash;
                if old.deadline() != deadline {
                    if let Some(d) = old.deadline() {
                        shard.expiries.remove(&ik, d);
                    }
                    if let Some(d) = deadline {
                        shard.expiries.insert(ik, d);
                    }
                }
                shard.reindex_nested(ik, old.nested_next(), nested);
                self.garbage = Some(old);
            }
            None => {
                let key = StoredKey::new(key);
                shard.insert_new(hash, Box::new(Slot { key, entry }));
            }
        }
    }

    /// Stores a whole entry (RENAME, COPY, a restored snapshot): at a root with its
    /// nested deadlines; at a nested node, its value with the entry's deadline.
    pub fn insert_entry(&mut self, entry: Entry) {
        if self.rest.is_none() {
            self.insert_root(entry);
        } else {
            let deadline = entry.deadline();
            self.insert(entry.value, deadline);
        }
    }

    /// Replaces the value and keeps the TTL (KEEPTTL, SETRANGE, APPEND...); a missing
    /// key is created without a TTL.
    pub fn set_value(&mut self, value: Value) {
        let deadline = self.own_deadline();
        self.insert(value, deadline);
    }

    /// Sets or clears the deadline of an existing key (for a nested node, its own).
    /// Returns false when the key is missing.
    pub fn set_deadline(&mut self, deadline: Option<UnixMillis>) -> bool {
        if let Some(rest) = self.rest {
            if !self.exists() {
                return false;
            }
            self.edit_nested(deadline.is_some(), |n, _| {
                n.set(rest, deadline);
            });
            return true;
        }
        let th = self.shard.table_hash(self.hash);
        let (hash, key) = (self.hash, self.root);
        let shard = &mut *self.shard;
        let Some(slot) = shard.table.find_mut(th, |s| s.key == key) else {
            return false;
        };
        let old = std::mem::replace(&mut slot.entry.deadline, Deadline::new(deadline)).get();
        if old != deadline {
            let ik = hash;
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
        let deadline = self.deadline();
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        let value = path::remove(&mut slot.entry.value, rest.path, rest.sep, only_if_empty)?;
        // The node's deadlines go with it, and those of the objects pruned above it.
        self.edit_nested(false, |n, v| n.retain_existing(v));
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        if path::is_empty_aggregate(&slot.entry.value) {
            self.shard.remove(self.hash, self.root);
        }
        Some(Entry::new(value, deadline))
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
        self.nested_dirty |= slot.entry.nested.is_some();
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
    /// The copies handed out: nested nodes, roots without their expired nested nodes.
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
        let stored = self.guards[pos].1.find(hash, root).map(|s| &s.entry);
        let entry = match stored {
            Some(e) if e.is_expired(self.now) => None,
            // A node, or a root with an expired nested node: a copy, kept for `f`.
            Some(e) if rest.is_some() || e.has_nested_due(self.now) => self.scratch[i]
                .get_or_init(|| {
                    let e = e.view(self.now)?;
                    match rest {
                        None => Some(e.into_owned()),
                        Some(rest) => e.nested_entry(rest),
                    }
                })
                .as_ref(),
            other => other,
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
        km.finish();
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

// --- Whole-database access: snapshots (backup, restore, SAVE). ---

/// One entry of a database as a snapshot carries it: key, value, the root's deadline
/// and the nested nodes' deadlines (segments below the root, deadline).
pub type ExportedEntry = (
    Bytes,
    Value,
    Option<UnixMillis>,
    Vec<(Vec<Bytes>, UnixMillis)>,
);

impl Db {
    /// The number of shards ([`Db::export_shard`] takes `0..shard_count()`).
    pub fn shard_count(&self) -> usize {
        self.shards.len()
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
        let shard = self.shards[i].lock.read();
        let mut nested = Vec::new();
        for s in shard.table.iter() {
            let Some(e) = s.entry.view(now) else { continue };
            nested.clear();
            nested.extend(e.nested_deadlines().map(|(p, d)| (p.to_vec(), d)));
            f(&s.key, &e.value, e.deadline(), &nested);
        }
    }

    /// Replaces the whole content of the database with `entries`, atomically: every
    /// shard is write-locked (in ascending order) while the old content goes and the
    /// new comes in, so no client sees a mix. Entries already expired at `now` and empty
    /// aggregates are skipped; a key given twice keeps the last. The old content is
    /// freed after the locks are released.
    pub fn replace_all(&self, entries: Vec<ExportedEntry>, now: UnixMillis) {
        let mut guards: Vec<RwLockWriteGuard<'_, Shard>> =
            self.shards.iter().map(|c| c.lock.write()).collect();
        let mut old = Vec::with_capacity(guards.len());
        let mut replaced = Vec::new();
        for g in guards.iter_mut() {
            g.expiries.clear();
            g.nested_expiries.clear();
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
            let key = StoredKey::new(&key);
            shard.insert_new(hash, Box::new(Slot { key, entry }));
        }
        drop(guards);
        drop((old, replaced));
    }
}
