//! Write and read access to keys under their shards' locks: [`KeyMut`] for one key,
//! [`Multi`] and [`ReadMany`] for several at one instant.

use std::cell::OnceCell;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use mapcache_expiry::UnixMillis;
use parking_lot::{RwLockReadGuard, RwLockWriteGuard};

use super::entry::{min_deadline, Entry};
use super::shard::{Shard, Slot};
use super::slot::{EntryView, SlotBox};
use super::{Addressing, Db};
use crate::feed::{ChangeKind, Origin};
use crate::nested::NestedTtls;
use crate::path::{self, Node, Path, PathFault};
use crate::value::Value;

/// Write access to one key under its shard's write lock.
///
/// In path mode the key may name a node inside its root's tree (`root` and `rest`):
/// every method then addresses that node. Writes create missing intermediate objects
/// ([`KeyMut::insert`]); a write the path makes impossible (a value without children
/// on the way, an array index past the end, too many segments) changes nothing and is
/// remembered as the handle's [`PathFault`]: [`Db::update`] then answers the fault
/// instead of the closure's result.
///
/// When the closure is done ([`KeyMut::finish`]) a root left holding an empty hash or
/// list is removed (Redis never keeps an empty aggregate, whichever protocol emptied
/// it), and the change is reported to the write feed ([`crate::feed`]).
#[derive(Debug)]
pub struct KeyMut<'a> {
    shard: &'a mut Shard,
    /// The key as the command named it.
    key: &'a [u8],
    /// The stored top-level key: `key` itself in flat mode.
    root: &'a [u8],
    /// Path mode: the path below `root` (`None`: the root itself).
    rest: Option<Path<'a>>,
    hash: u64,
    now: UnixMillis,
    /// Values replaced or removed, freed by the caller after the lock is released.
    pub(super) garbage: Option<Entry>,
    /// Absorbs a handler's writes to a node that cannot be created (path mode only;
    /// the fault is answered instead and these writes are dropped).
    scratch: Value,
    /// The handler got `&mut` access to a tree with nested deadlines: check them in
    /// [`KeyMut::finish`].
    nested_dirty: bool,
    /// The handler was given a root created empty ([`KeyMut::value_or_insert_with`]):
    /// check in [`KeyMut::finish`] that it put something in it. (Handlers that empty
    /// an existing hash or list call [`KeyMut::remove_if_empty`] themselves: checking
    /// every in-place write here would cost a second lookup, 20-35 ns per HSET or
    /// LPUSH in `cargo bench -p mapcache-benches -- execute`.)
    check_empty: bool,
    /// The first write refused by the path.
    fault: Option<PathFault>,
    /// Did the node exist when the handle was made (after lazy expiry)? Only looked
    /// up when the write feed has listeners (`None` otherwise).
    existed: Option<bool>,
    /// Was the node written or removed through this handle?
    wrote: bool,
    /// The entry a compact slot lent to [`KeyMut::entry`] or [`KeyMut::value`] (see
    /// [`SlotBox::lend`]): valid until the handle next writes, which the borrow of
    /// `self` those methods' answers hold rules out; stale after that, and never read
    /// again (only replaced; its `Debug` shows nothing of it).
    lent: Lent,
}

/// An entry a compact slot lent a [`KeyMut`] (see its `lent` field).
struct Lent(Option<Entry>);

impl std::fmt::Debug for Lent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lent")
    }
}

/// The shard slot of `root`, for writing in place (a compact one becomes full:
/// [`SlotBox::full_mut`]).
fn slot_mut<'s>(shard: &'s mut Shard, hash: u64, root: &[u8]) -> Option<&'s mut Slot> {
    slot_box_mut(shard, hash, root).map(SlotBox::full_mut)
}

/// The table element of `root`.
fn slot_box_mut<'s>(shard: &'s mut Shard, hash: u64, root: &[u8]) -> Option<&'s mut SlotBox> {
    let th = shard.table_hash(hash);
    shard.table.find_mut(th, |s| s.key() == root)
}

impl<'a> KeyMut<'a> {
    pub(super) fn new(
        shard: &'a mut Shard,
        expired: &AtomicU64,
        key: &'a [u8],
        (root, rest): (&'a [u8], Option<Path<'a>>),
        hash: u64,
        now: UnixMillis,
        origin: Option<&Origin>,
    ) -> Self {
        let mut garbage = None;
        match shard.find(hash, root) {
            Some(s) if s.is_expired(now) => {
                garbage = shard.remove(hash, root).and_then(SlotBox::into_garbage);
                expired.fetch_add(1, Ordering::Relaxed);
                if let Some(origin) = origin {
                    origin.report(root, None, ChangeKind::Expired);
                }
            }
            Some(s) if s.has_nested_due(now) => {
                let (n, slot) = shard.expire_nested(hash, root, now, origin);
                garbage = slot.and_then(SlotBox::into_garbage);
                expired.fetch_add(n as u64, Ordering::Relaxed);
            }
            Some(s) => crate::evict::access::touch(s.access(), now),
            None => {}
        }
        // Looked up before the handle is built, which is then returned as built: a
        // handle changed after its construction was copied out with a memmove (8% of
        // a SET in `cargo bench -p mapcache-benches -- execute/set_hot`).
        let existed = origin.map(|_| {
            shard.find(hash, root).is_some_and(|s| match rest {
                None => true,
                Some(p) => matches!(path::resolve(&s.entry().value, p), Node::Found(_)),
            })
        });
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
            check_empty: false,
            fault: None,
            existed,
            wrote: false,
            lent: Lent(None),
        }
    }

    /// Remembers the first write the path refused.
    fn refuse(&mut self, fault: PathFault) {
        self.fault.get_or_insert(fault);
    }

    /// Runs `f` on the root's nested deadlines (created empty when `create`) and keeps
    /// the shard's nested index in step. Nothing happens without a root, or without
    /// nested deadlines when not `create`.
    fn edit_nested(&mut self, create: bool, f: impl FnOnce(&mut NestedTtls, &Value)) {
        let Some(slot) = slot_box_mut(self.shard, self.hash, self.root) else {
            return;
        };
        if slot.nested_next().is_none() && !create {
            return;
        }
        let slot = slot.full_mut();
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
    /// the command removed through [`KeyMut::value_mut`] (HDEL of a field, say),
    /// removes a root the command left an empty hash or list, and answers the first
    /// refused write and what changed.
    pub(super) fn finish(&mut self) -> Finished {
        if std::mem::take(&mut self.nested_dirty) {
            self.edit_nested(false, |n, v| n.retain_existing(v));
        }
        if std::mem::take(&mut self.check_empty) {
            let emptied = self
                .root_entry()
                .is_some_and(|e| path::is_empty_aggregate(&e.value));
            if emptied {
                let old = self
                    .shard
                    .remove(self.hash, self.root)
                    .and_then(SlotBox::into_garbage);
                self.wrote = true;
                if old.is_some() {
                    self.garbage = old;
                }
            }
        }
        let change = match (self.wrote, self.existed) {
            (true, Some(existed)) => match (existed, self.exists()) {
                (false, true) => Some(ChangeKind::Created),
                (true, true) => Some(ChangeKind::Replaced),
                (true, false) => Some(ChangeKind::Deleted),
                (false, false) => None,
            },
            _ => None,
        };
        Finished {
            fault: self.fault.take(),
            change,
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
        let Some(e) = self.root_entry() else {
            return false;
        };
        match self.rest {
            None => true,
            Some(rest) => matches!(path::resolve(&e.value, rest), Node::Found(_)),
        }
    }

    fn root_entry(&self) -> Option<EntryView<'_>> {
        self.shard.find(self.hash, self.root).map(SlotBox::entry)
    }

    /// The root's entry, lent by a compact slot into `self.lent` (see the field).
    #[allow(unsafe_code)] // SlotBox::lend
    fn lent_root_entry(&mut self) -> Option<&Entry> {
        let slot = self.shard.find(self.hash, self.root)?;
        match slot.as_full() {
            Some(s) => Some(&s.entry),
            None => {
                // SAFETY: kept in `self.lent`, replaced on the next call, and only
                // handed out by reference while `self` is borrowed (no write can
                // change the slot meanwhile).
                self.lent = Lent(unsafe { slot.lend() });
                self.lent.0.as_ref()
            }
        }
    }

    /// The stored entry. A nested node (path mode) is no entry of its own: `None`
    /// there; use [`KeyMut::value`] and [`KeyMut::deadline`].
    pub fn entry(&mut self) -> Option<&Entry> {
        match self.rest {
            None => self.lent_root_entry(),
            Some(_) => None,
        }
    }

    /// The node's value. A nested node's containers on the way are unpacked (see
    /// [`crate::Hash`]): the handle is for writing, and a member of a packed hash is
    /// no `Value` until then.
    pub fn value(&mut self) -> Option<&Value> {
        match self.rest {
            None => self.lent_root_entry().map(|e| &e.value),
            Some(rest) => {
                let slot = slot_mut(self.shard, self.hash, self.root)?;
                path::resolve_mut(&mut slot.entry.value, rest).map(|v| &*v)
            }
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

    /// Path mode: why nothing can be written at this node (a value without children
    /// on the way, an array index past the end, too many segments); `None` when a
    /// write can go through.
    pub fn write_fault(&self) -> Option<PathFault> {
        let rest = self.rest?;
        if rest.depth() > path::MAX_DEPTH {
            return Some(PathFault::TooDeep {
                key: Bytes::copy_from_slice(self.key),
            });
        }
        let e = self.root_entry()?;
        path::write_blocked(&e.value, rest).map(|b| b.fault(self.key, self.root.len(), rest))
    }

    /// The value, for changing it in place. Taking it counts as a write (the write
    /// feed reports the node replaced).
    pub fn value_mut(&mut self) -> Option<&mut Value> {
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        self.nested_dirty |= slot.entry.nested.is_some();
        self.wrote = true;
        match self.rest {
            None => Some(&mut slot.entry.value),
            Some(rest) => path::resolve_mut(&mut slot.entry.value, rest),
        }
    }

    /// Stores `value` with `deadline`, replacing any previous entry and its TTL.
    ///
    /// Nested node: missing intermediate objects (and the root) are created; the
    /// node's own deadline becomes `deadline`, those below it go, and the root's and
    /// the ancestors' stay. When a non-object lies on the path or the path is too
    /// deep, nothing changes and the handle remembers the [`PathFault`].
    pub fn insert(&mut self, value: Value, deadline: Option<UnixMillis>) {
        if let Err((fault, _)) = self.try_insert(value, deadline) {
            self.refuse(fault);
        }
    }

    /// [`KeyMut::insert`] of a string, without first copying `bytes` into a value of
    /// their own: a root's string is copied once, into its compact block (SET of a
    /// new string longer than [`crate::Str::INLINE`] bytes allocated twice before).
    #[allow(unsafe_code)] // Str::borrowed
    pub fn insert_str(&mut self, bytes: &[u8], deadline: Option<UnixMillis>) {
        if self.rest.is_some() {
            return self.insert(Value::string(bytes), deadline);
        }
        // SAFETY: the entry lives only for this call: `insert_root` writes the bytes
        // into the slot in place, or copies a borrowed string before it keeps it
        // (`SlotBox::new`, `slot::own_bytes`).
        let value = Value::Str(unsafe { crate::Str::borrowed(bytes) });
        self.insert_root(Entry::new(value, deadline));
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
        if rest.depth() > path::MAX_DEPTH {
            let key = Bytes::copy_from_slice(self.key);
            return Err((PathFault::TooDeep { key }, value));
        }
        let (key, root_len) = (self.key, self.root.len());
        self.wrote = true;
        match slot_mut(self.shard, self.hash, self.root) {
            Some(slot) => match path::insert(&mut slot.entry.value, rest, value) {
                Ok(old) => {
                    self.garbage = old.map(|value| Entry::new(value, None));
                    self.edit_nested(deadline.is_some(), |n, _| {
                        n.clear_at_or_below(rest);
                        n.set(rest, deadline);
                    });
                    Ok(())
                }
                Err((block, value)) => Err((block.fault(key, root_len, rest), value)),
            },
            None => {
                let mut root = Value::new_hash();
                // A fresh object blocks nothing.
                let _ = path::insert(&mut root, rest, value);
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
    /// An empty hash or list is not stored: the root is removed instead.
    fn insert_root(&mut self, entry: Entry) {
        self.wrote = true;
        if path::is_empty_aggregate(&entry.value) {
            if let Some(old) = self.shard.remove(self.hash, self.root) {
                self.garbage = old.into_garbage();
            }
            return;
        }
        let (hash, key) = (self.hash, self.root);
        let compact = SlotBox::fits_compact(key, &entry);
        let Some(slot) = slot_box_mut(self.shard, hash, key) else {
            self.shard.insert_new(hash, SlotBox::new(key, entry));
            return;
        };
        let deadline = entry.deadline();
        match (slot.is_compact(), compact, &entry.value) {
            // A string over a compact string: in place when of the same length (a SET
            // over a hot key allocates nothing).
            (true, true, Value::Str(s)) => match slot.overwrite(s, deadline) {
                Ok(old) => self.shard.reindex_root(hash, old, deadline),
                Err(()) => self.replace_root(entry),
            },
            // A full slot keeps its box (INCR's counters allocate nothing).
            (false, false, _) => {
                let nested = entry.nested_next();
                let mut entry = entry;
                super::slot::own_bytes(&mut entry);
                let old = std::mem::replace(&mut slot.full_mut().entry, entry);
                self.shard.reindex_root(hash, old.deadline(), deadline);
                self.shard.reindex_nested(hash, old.nested_next(), nested);
                self.garbage = Some(old);
            }
            _ => self.replace_root(entry),
        }
    }

    /// Replaces the root's slot (it exists) with a new one holding `entry`, compact
    /// when it can be, with the old one's access stamp: Redis keeps an overwritten
    /// key's LFU counter.
    fn replace_root(&mut self, entry: Entry) {
        let (hash, key) = (self.hash, self.root);
        let (deadline, nested) = (entry.deadline(), entry.nested_next());
        let new = SlotBox::new(key, entry);
        let Some(slot) = slot_box_mut(self.shard, hash, key) else {
            self.shard.insert_new(hash, new);
            return;
        };
        new.access().set(slot.access().get());
        let old = std::mem::replace(slot, new);
        self.shard.reindex_root(hash, old.deadline(), deadline);
        self.shard.reindex_nested(hash, old.nested_next(), nested);
        self.garbage = old.into_garbage();
    }

    /// Stores `entry` at a root that is missing, even an empty aggregate: only for a
    /// handler about to fill it ([`KeyMut::value_or_insert_with`]; `finish` removes it
    /// should it stay empty).
    fn insert_root_unchecked(&mut self, entry: Entry) {
        self.wrote = true;
        self.check_empty = true;
        self.shard
            .insert_new(self.hash, SlotBox::new(self.root, entry));
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
        let hash = self.hash;
        let Some(slot) = slot_box_mut(self.shard, hash, self.root) else {
            return false;
        };
        let old = slot.set_deadline(deadline);
        self.shard.reindex_root(hash, old, deadline);
        true
    }

    /// Removes the key, returning its entry. Path mode, nested node: removes the node
    /// and every object that leaves empty, the root included; the entry returned holds
    /// the node and its root's deadline.
    pub fn remove(&mut self) -> Option<Entry> {
        let removed = match self.rest {
            None => self
                .shard
                .remove(self.hash, self.root)
                .map(SlotBox::into_entry),
            Some(rest) => self.remove_nested(rest, false),
        };
        self.wrote |= removed.is_some();
        removed
    }

    /// Removes the key as [`KeyMut::remove`] does, without handing its entry back (a
    /// compact string's would be a copy): answers whether it existed.
    pub fn delete(&mut self) -> bool {
        let Some(rest) = self.rest else {
            let Some(slot) = self.shard.remove(self.hash, self.root) else {
                return false;
            };
            self.wrote = true;
            if let Some(old) = slot.into_garbage() {
                self.garbage = Some(old);
            }
            return true;
        };
        let Some(removed) = self.remove_nested(rest, false) else {
            return false;
        };
        self.wrote = true;
        self.garbage = Some(removed);
        true
    }

    fn remove_nested(&mut self, rest: Path<'_>, only_if_empty: bool) -> Option<Entry> {
        let deadline = self.deadline();
        let slot = slot_mut(self.shard, self.hash, self.root)?;
        let value = path::remove(&mut slot.entry.value, rest, true, only_if_empty)?;
        self.wrote = true;
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
            let value = make();
            if path::is_empty_aggregate(&value) && self.rest.is_none() {
                // Stored once the handler has put something in it (else never).
                self.insert_root_unchecked(Entry::new(value, None));
            } else if let Err((fault, value)) = self.try_insert(value, None) {
                self.refuse(fault);
                self.scratch = value;
                return &mut self.scratch;
            }
        }
        let Some(slot) = slot_mut(self.shard, self.hash, self.root) else {
            return &mut self.scratch;
        };
        self.nested_dirty |= slot.entry.nested.is_some();
        self.wrote = true;
        let node = match self.rest {
            None => Some(&mut slot.entry.value),
            Some(rest) => path::resolve_mut(&mut slot.entry.value, rest),
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

/// What a [`KeyMut`] did, once its closure is done ([`KeyMut::finish`]).
#[derive(Debug)]
#[must_use]
pub(super) struct Finished {
    /// The first write the path refused.
    pub fault: Option<PathFault>,
    /// What the handle's writes did to its node (known only when observed).
    pub change: Option<ChangeKind>,
}

impl Finished {
    /// Reports the changes to the write feed (the node is `root` and `rest`).
    pub fn report(&self, origin: &Origin, root: &[u8], rest: Option<Path<'_>>) {
        if let Some(kind) = self.change {
            origin.report(root, rest, kind);
        }
    }
}

/// Read access to several keys of one database at one instant ([`Db::get_many`]).
#[derive(Debug)]
pub struct ReadMany<'db, 'k> {
    pub(super) db: &'db Db,
    pub(super) addr: Addressing,
    pub(super) keys: &'k [&'k [u8]],
    pub(super) hashes: Vec<u64>,
    pub(super) guards: Vec<(usize, RwLockReadGuard<'db, Shard>)>,
    pub(super) now: UnixMillis,
    /// Does reading a key touch its access stamp and request count (MGET: yes;
    /// EXISTS: no, as [`Db::get_no_touch`])?
    pub(super) touch: bool,
    /// Per key, what was handed out besides stored entries (declared after the
    /// guards: dropped after they are released, which reads nothing).
    pub(super) scratch: Vec<Scratch>,
}

impl ReadMany<'_, '_> {
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The live entry of key `i`, counting a keyspace hit or miss (and, unless built
    /// not to, touching it as [`Db::get`] does).
    #[allow(unsafe_code)] // SlotBox::lend
    pub fn get(&self, i: usize) -> Option<&Entry> {
        let hash = self.hashes[i];
        let idx = self.db.shard_index(hash);
        let pos = self
            .guards
            .binary_search_by_key(&idx, |g| g.0)
            .expect("every key's shard is locked");
        let (root, rest) = self.addr.split(self.keys[i]);
        let shard = &self.guards[pos].1;
        let slot = shard.find(hash, root);
        if self.touch {
            if let Some(s) = slot {
                crate::evict::access::touch(s.access(), self.now);
            }
            shard.count_request(hash);
        }
        let stored = slot.and_then(|s| match s.as_full() {
            Some(full) => Some(&full.entry),
            // SAFETY: kept in `scratch` while the guards are held, handed out only by
            // reference.
            None => self.scratch[i]
                .lent
                .get_or_init(|| unsafe { s.lend() })
                .as_ref(),
        });
        let entry = match stored {
            Some(e) if e.is_expired(self.now) => None,
            // A node, or a root with an expired nested node: a copy, kept for `f`.
            Some(e) if rest.is_some() || e.has_nested_due(self.now) => self.scratch[i]
                .copy
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
        let cell = &self.db.shards()[idx];
        let counter = if entry.is_some() {
            &cell.hits
        } else {
            &cell.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        entry
    }
}

/// What [`ReadMany::get`] keeps for one key.
#[derive(Debug, Default)]
pub(super) struct Scratch {
    /// The entry a compact slot lent ([`SlotBox::lend`]), valid while the guards are
    /// held.
    lent: OnceCell<Option<Entry>>,
    /// A copy: a nested node, or a root without its expired nested nodes.
    copy: OnceCell<Option<Entry>>,
}

/// Write access to several keys of one database, all shards locked.
///
/// All or nothing: should the path refuse any write (path key mode), every root the
/// handle touched is put back as it was before [`Db::update_many`] answers the fault.
/// Changes reach the write feed only once the whole operation has succeeded.
#[derive(Debug)]
pub struct Multi<'db, 'k> {
    pub(super) db: &'db Db,
    pub(super) addr: Addressing,
    pub(super) keys: &'k [&'k [u8]],
    pub(super) hashes: Vec<u64>,
    pub(super) guards: Vec<(usize, RwLockWriteGuard<'db, Shard>)>,
    pub(super) now: UnixMillis,
    pub(super) garbage: Vec<Entry>,
    /// The first write refused.
    pub(super) fault: Option<PathFault>,
    /// Each root as it was before its first write here (path mode only: flat keys
    /// cannot be refused).
    pub(super) undo: Vec<Undo>,
    /// Changes to report once the whole operation succeeds (when observed).
    pub(super) pending: Vec<PendingChange>,
}

/// A root as it was before a [`Multi`] first wrote it.
#[derive(Debug)]
pub(super) struct Undo {
    guard: usize,
    hash: u64,
    root: Bytes,
    entry: Option<Entry>,
}

/// A change waiting for its [`Multi`] to succeed.
#[derive(Debug)]
pub(super) struct PendingChange {
    root: Bytes,
    path: Option<(Bytes, u8)>,
    kind: ChangeKind,
}

impl<'db> Multi<'db, '_> {
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
        let cell = &self.db.shards()[idx];
        let key = self.keys[i];
        let (root, rest) = self.addr.split(key);
        let shard = &mut self.guards[pos].1;
        if self.addr != Addressing::Flat
            && !self.undo.iter().any(|u| u.hash == hash && u.root == root)
        {
            self.undo.push(Undo {
                guard: pos,
                hash,
                root: Bytes::copy_from_slice(root),
                entry: shard.find(hash, root).map(|s| s.entry().clone()),
            });
        }
        let observe = self.db.origin.feed.is_active();
        let mut km = KeyMut::new(
            shard,
            &cell.expired_lazy,
            key,
            (root, rest),
            hash,
            self.now,
            observe.then_some(&self.db.origin),
        );
        let r = f(&mut km);
        let done = km.finish();
        if let Some(g) = km.garbage.take() {
            self.garbage.push(g);
        }
        if let Some(fault) = done.fault {
            self.fault.get_or_insert(fault);
        }
        if observe {
            let root = Bytes::copy_from_slice(root);
            if let Some(kind) = done.change {
                let path = rest.map(|p| (Bytes::copy_from_slice(p.bytes), p.sep));
                self.pending.push(PendingChange { root, path, kind });
            }
        }
        r
    }

    /// Ends the operation: answers the first refused write after putting every root
    /// back as it was, or reports the changes made. Called under the locks.
    pub(super) fn finish(&mut self) -> Result<(), PathFault> {
        if let Some(fault) = self.fault.take() {
            for u in self.undo.drain(..).rev() {
                let shard = &mut self.guards[u.guard].1;
                self.garbage.extend(shard.put(u.hash, &u.root, u.entry));
            }
            self.pending.clear();
            return Err(fault);
        }
        for c in self.pending.drain(..) {
            let path = c.path.as_ref().map(|(b, sep)| Path::new(b, *sep));
            self.db.origin.report(&c.root, path, c.kind);
        }
        Ok(())
    }
}
