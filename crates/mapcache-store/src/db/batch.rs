//! Batches: many document operations over one database, all or nothing.
//!
//! A [`Batch`] holds the write locks of the shards it may touch (some roots' shards,
//! or all of them) for its whole life. Each operation works on a *working copy* of
//! its root, taken the first time the batch writes that root; reads see the working
//! copies first, so every operation sees the effect of the earlier ones. When the
//! batch's closure returns `Ok`, the working copies replace the stored roots (a root
//! left an empty hash or list is removed) and the changes go to the write feed, all
//! before the locks are released; on `Err` the copies are dropped and nothing was
//! written. PATCH, path-mode multi-key writes and command programs are batches.

use crate::field::Field;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use mapcache_expiry::UnixMillis;
use parking_lot::RwLockWriteGuard;

use super::entry::{Deadline, Entry};
use super::shard::{Shard, SlotBox};
use super::Db;
use crate::doc::{self, DocError};
use crate::feed::ChangeKind;
use crate::path::{self, Path, MAX_DEPTH, WILDCARD};
use crate::value::Value;

/// Document operations over several roots of one database, applied all or nothing
/// ([`Db::batch`], [`Db::batch_all`]). Keys are `root<sep>path` (`user/100/name`
/// with the HTTP separator): the first segment names the stored top-level key.
#[derive(Debug)]
pub struct Batch<'db> {
    db: &'db Db,
    sep: u8,
    now: UnixMillis,
    /// The locked shards, by ascending index.
    guards: Vec<(usize, RwLockWriteGuard<'db, Shard>)>,
    /// Working copies of the roots written so far.
    work: Vec<Work>,
    /// What the operations did, for the write feed.
    changes: Vec<(Bytes, Option<Bytes>, ChangeKind)>,
}

/// A root's working copy: `None` while the root does not exist.
#[derive(Debug)]
struct Work {
    hash: u64,
    root: Bytes,
    entry: Option<Entry>,
}

/// One node matching a pattern ([`Batch::matches`]).
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMatch {
    /// The node's whole key, root first, `sep`-joined.
    pub key: Bytes,
    /// The segments the pattern's `*`s matched, in order (the root's first when the
    /// pattern's root is `*`).
    pub captures: Vec<Bytes>,
    pub value: Value,
}

impl Db {
    /// Runs `f` as one all-or-nothing [`Batch`] over the roots named in `roots` (each
    /// a root or a whole key: only its first segment counts). Their shards are
    /// write-locked in ascending order for the whole batch; touching any other root
    /// is an error ([`DocError::Unlocked`]).
    pub fn batch<R, E>(
        &self,
        sep: u8,
        roots: &[&[u8]],
        now: UnixMillis,
        f: impl FnOnce(&mut Batch<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let order = self.lock_order(roots.iter().map(|k| self.hash(path::split(k, sep).0)));
        self.run_batch(sep, order, now, f)
    }

    /// [`Db::batch`] over the whole database: every shard is locked, so any root may
    /// be touched and a pattern's root may be `*`. Every other client of this
    /// database waits for it: keep such batches short.
    pub fn batch_all<R, E>(
        &self,
        sep: u8,
        now: UnixMillis,
        f: impl FnOnce(&mut Batch<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        self.run_batch(sep, (0..self.shards().len()).collect(), now, f)
    }

    fn run_batch<R, E>(
        &self,
        sep: u8,
        shards: Vec<usize>,
        now: UnixMillis,
        f: impl FnOnce(&mut Batch<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let _pass = self.origin.gate.pass();
        let guards = shards
            .into_iter()
            .map(|i| (i, self.shards()[i].lock.write()))
            .collect::<Vec<_>>();
        if let Some(&(i, _)) = guards.first() {
            self.shards()[i].writes.fetch_add(1, Ordering::Relaxed);
        }
        let mut batch = Batch {
            db: self,
            sep,
            now,
            guards,
            work: Vec::new(),
            changes: Vec::new(),
        };
        let result = f(&mut batch);
        let garbage = match result {
            Ok(_) => batch.commit(),
            Err(_) => Vec::new(),
        };
        let Batch { guards, work, .. } = batch;
        drop(guards);
        drop((garbage, work));
        result
    }
}

impl Batch<'_> {
    /// The time the batch runs at.
    pub fn now(&self) -> UnixMillis {
        self.now
    }

    /// The separator of the batch's keys.
    pub fn sep(&self) -> u8 {
        self.sep
    }

    fn split<'k>(&self, key: &'k [u8]) -> (&'k [u8], Option<Path<'k>>) {
        match path::split(key, self.sep) {
            (root, Some(rest)) => (root, Some(Path::new(rest, self.sep))),
            (root, None) => (root, None),
        }
    }

    /// The position in `guards` of the shard of a root of hash `hash`.
    fn guard_of(&self, hash: u64) -> Result<usize, DocError> {
        let idx = self.db.shard_index(hash);
        self.guards
            .binary_search_by_key(&idx, |g| g.0)
            .map_err(|_| DocError::Unlocked)
    }

    /// The live stored entry of `root`, as readers see it (a copy when nested nodes
    /// have expired).
    fn stored(&self, hash: u64, root: &[u8]) -> Result<Option<Entry>, DocError> {
        let g = self.guard_of(hash)?;
        let shard = &self.guards[g].1;
        Ok(shard
            .find(hash, root)
            .and_then(|s| s.entry().view(self.now).map(|e| e.into_owned())))
    }

    /// Is `root` stored, but expired at the batch's time (not yet swept)?
    fn expired_stored(&self, hash: u64, root: &[u8]) -> Result<bool, DocError> {
        let g = self.guard_of(hash)?;
        let shard = &self.guards[g].1;
        Ok(shard
            .find(hash, root)
            .is_some_and(|s| s.is_expired(self.now)))
    }

    /// Runs `f` on the current entry of `root` (its working copy, else the stored
    /// one) without copying it.
    fn read_root<R>(
        &self,
        root: &[u8],
        f: impl FnOnce(Option<&Entry>) -> R,
    ) -> Result<R, DocError> {
        let hash = self.db.hash(root);
        if let Some(w) = self.work.iter().find(|w| w.hash == hash && w.root == root) {
            return Ok(f(w.entry.as_ref()));
        }
        let g = self.guard_of(hash)?;
        let shard = &self.guards[g].1;
        let stored = shard.find(hash, root).map(SlotBox::entry);
        let entry = stored.as_ref().and_then(|e| e.view(self.now));
        Ok(f(entry.as_deref()))
    }

    /// The working copy of `root`, made on first use.
    fn work(&mut self, root: &[u8]) -> Result<&mut Option<Entry>, DocError> {
        let hash = self.db.hash(root);
        let i = match self
            .work
            .iter()
            .position(|w| w.hash == hash && w.root == root)
        {
            Some(i) => i,
            None => {
                let entry = self.stored(hash, root)?;
                if self.db.origin.feed.is_active() && self.expired_stored(hash, root)? {
                    // The commit removes the expired entry: it is reported as expired,
                    // as a RESP write finding it so would report it.
                    self.changes
                        .push((Bytes::copy_from_slice(root), None, ChangeKind::Expired));
                }
                self.work.push(Work {
                    hash,
                    root: Bytes::copy_from_slice(root),
                    entry,
                });
                self.work.len() - 1
            }
        };
        Ok(&mut self.work[i].entry)
    }

    fn record(&mut self, key: &[u8], kind: ChangeKind) {
        if self.db.origin.feed.is_active() {
            let (root, rest) = path::split(key, self.sep);
            self.changes.push((
                Bytes::copy_from_slice(root),
                rest.map(Bytes::copy_from_slice),
                kind,
            ));
        }
    }

    /// A copy of the node at `key`, or `None` when there is none.
    pub fn get(&self, key: &[u8]) -> Result<Option<Value>, DocError> {
        let (root, rest) = self.split(key);
        self.read_root(root, |e| {
            let e = e?;
            match rest {
                None => Some(e.value.clone()),
                Some(p) => doc::get(&e.value, p).ok().map(Field::to_value),
            }
        })
    }

    /// Does a node exist at `key`?
    pub fn exists(&self, key: &[u8]) -> Result<bool, DocError> {
        let (root, rest) = self.split(key);
        self.read_root(root, |e| {
            e.is_some_and(|e| rest.is_none_or(|p| doc::get(&e.value, p).is_ok()))
        })
    }

    /// Stores `value` at `key`, which must not exist. Missing objects above it (the
    /// root included) are created.
    pub fn create(&mut self, key: &[u8], value: Value) -> Result<(), DocError> {
        let (root, rest) = self.split(key);
        let slot = self.work(root)?;
        match (slot, rest) {
            (Some(_), None) => return Err(DocError::Exists),
            (slot @ None, None) => *slot = Some(Entry::new(value, None)),
            (Some(e), Some(p)) => doc::create(&mut e.value, p, value)?,
            (slot @ None, Some(p)) => {
                let mut fresh = Value::new_hash();
                doc::create(&mut fresh, p, value)?;
                *slot = Some(Entry::new(fresh, None));
            }
        }
        self.record(key, ChangeKind::Created);
        Ok(())
    }

    /// Stores `value` at `key`, which must exist; answers the value replaced. A root
    /// keeps its deadline.
    pub fn replace(&mut self, key: &[u8], value: Value) -> Result<Value, DocError> {
        let (root, rest) = self.split(key);
        let old = match (self.work(root)?, rest) {
            (None, _) => return Err(DocError::Missing),
            (Some(e), None) => std::mem::replace(&mut e.value, value),
            (Some(e), Some(p)) => doc::replace(&mut e.value, p, value)?,
        };
        self.record(key, ChangeKind::Replaced);
        Ok(old)
    }

    /// Stores `value` at `key`, creating it (and missing objects above it) or
    /// replacing what is there; answers the value replaced.
    pub fn set(&mut self, key: &[u8], value: Value) -> Result<Option<Value>, DocError> {
        let (root, rest) = self.split(key);
        let old = match (self.work(root)?, rest) {
            (slot @ None, None) => {
                *slot = Some(Entry::new(value, None));
                None
            }
            (Some(e), None) => Some(std::mem::replace(&mut e.value, value)),
            (Some(e), Some(p)) => doc::set(&mut e.value, p, value)?,
            (slot @ None, Some(p)) => {
                let mut fresh = Value::new_hash();
                doc::set(&mut fresh, p, value)?;
                *slot = Some(Entry::new(fresh, None));
                None
            }
        };
        let kind = match old {
            Some(_) => ChangeKind::Replaced,
            None => ChangeKind::Created,
        };
        self.record(key, kind);
        Ok(old)
    }

    /// Removes the node at `key` and answers it (`None` when there was none). An
    /// array item: the items after it move up. Objects left empty inside a document
    /// stay; a root left an empty hash or list goes when the batch commits.
    pub fn delete(&mut self, key: &[u8]) -> Result<Option<Value>, DocError> {
        let (root, rest) = self.split(key);
        if !self.exists(key)? {
            return Ok(None);
        }
        let old = match (self.work(root)?, rest) {
            (slot, None) => slot.take().map(|e| e.value),
            (Some(e), Some(p)) => doc::delete(&mut e.value, p),
            (None, Some(_)) => None,
        };
        if old.is_some() {
            self.record(key, ChangeKind::Deleted);
        }
        Ok(old)
    }

    /// Runs `f` on the node at `key`, which must exist, for an in-place change.
    fn modify<R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&mut Value) -> Result<R, DocError>,
    ) -> Result<R, DocError> {
        let (root, rest) = self.split(key);
        let r = match (self.work(root)?, rest) {
            (None, _) => return Err(DocError::Missing),
            (Some(e), None) => f(&mut e.value)?,
            (Some(e), Some(p)) => f(doc::get_mut(&mut e.value, p)?)?,
        };
        self.record(key, ChangeKind::Replaced);
        Ok(r)
    }

    /// Adds `by` to the number at `key`; answers the new number.
    pub fn increment(&mut self, key: &[u8], by: f64) -> Result<f64, DocError> {
        self.modify(key, |v| doc::add(v, by))
    }

    /// Appends `value` to the array at `key`; answers its new length.
    pub fn append(&mut self, key: &[u8], value: Value) -> Result<usize, DocError> {
        self.modify(key, |v| doc::push(v, value))
    }

    /// Sets the length of the array at `key` (truncating, or padding with nulls).
    pub fn resize(&mut self, key: &[u8], len: usize) -> Result<(), DocError> {
        self.modify(key, |v| doc::set_len(v, len))
    }

    /// Sets (or with `None` clears) the deadline of the node at `key`, which must
    /// exist: a root's own, or a nested node's ([`crate::nested`]).
    pub fn set_deadline(
        &mut self,
        key: &[u8],
        deadline: Option<UnixMillis>,
    ) -> Result<(), DocError> {
        if !self.exists(key)? {
            return Err(DocError::Missing);
        }
        let (root, rest) = self.split(key);
        let Some(e) = self.work(root)? else {
            return Err(DocError::Missing);
        };
        match rest {
            None => e.deadline = Deadline::new(deadline),
            Some(p) => {
                let nested = e.nested.get_or_insert_with(Default::default);
                nested.set(p, deadline);
                if nested.is_empty() {
                    e.nested = None;
                }
            }
        }
        Ok(())
    }

    /// Every node matching `pattern` (a key whose `*` segments match any one child,
    /// the root's segment included: [`doc::matches`]), copied, in document order
    /// within a root. A `*` root needs [`Db::batch_all`]: otherwise only the roots of
    /// the locked shards are seen.
    pub fn matches(&self, pattern: &[u8]) -> Result<Vec<KeyMatch>, DocError> {
        let (root, rest) = self.split(pattern);
        let mut out = Vec::new();
        if rest.is_some_and(|p| p.depth() > MAX_DEPTH) {
            return Err(DocError::TooDeep);
        }
        if root != WILDCARD {
            self.read_root(root, |e| {
                if let Some(e) = e {
                    self.collect(root, &e.value, rest, false, &mut out);
                }
            })?;
            return Ok(out);
        }
        // Every root: the working copies, then the stored roots not copied.
        for w in &self.work {
            if let Some(e) = &w.entry {
                self.collect(&w.root, &e.value, rest, true, &mut out);
            }
        }
        for (_, shard) in &self.guards {
            for slot in shard.table.iter() {
                let copied = self.work.iter().any(|w| slot.key() == &w.root[..]);
                if copied {
                    continue;
                }
                let stored = slot.entry();
                if let Some(e) = stored.view(self.now) {
                    self.collect(slot.key(), &e.value, rest, true, &mut out);
                }
            }
        }
        Ok(out)
    }

    fn collect(
        &self,
        root: &[u8],
        value: &Value,
        rest: Option<Path<'_>>,
        root_captured: bool,
        out: &mut Vec<KeyMatch>,
    ) {
        let whole = |below: &[u8]| {
            let mut key = root.to_vec();
            if rest.is_some() {
                key.push(self.sep);
                key.extend_from_slice(below);
            }
            Bytes::from(key)
        };
        let root_cap = root_captured.then(|| Bytes::copy_from_slice(root));
        match rest {
            None => out.push(KeyMatch {
                key: whole(b""),
                captures: root_cap.into_iter().collect(),
                value: value.clone(),
            }),
            Some(p) => {
                for m in doc::matches(value, p) {
                    out.push(KeyMatch {
                        key: whole(&m.path),
                        captures: root_cap.iter().cloned().chain(m.captures).collect(),
                        value: m.value.clone().into_owned(),
                    });
                }
            }
        }
    }

    /// Replaces the stored roots by their working copies and reports the changes;
    /// answers what was replaced, to be freed after the locks are released.
    fn commit(&mut self) -> Vec<Entry> {
        let mut garbage = Vec::new();
        let work = std::mem::take(&mut self.work);
        for w in work {
            let Ok(g) = self.guard_of(w.hash) else {
                continue; // work() only copies roots of locked shards
            };
            let mut entry = w.entry;
            if let Some(e) = entry.take_if(|e| path::is_empty_aggregate(&e.value)) {
                if self.db.origin.feed.is_active() {
                    self.changes
                        .push((w.root.clone(), None, ChangeKind::Deleted));
                }
                garbage.push(e);
            }
            if let Some(e) = entry.as_mut() {
                if let Some(n) = e.nested.as_mut() {
                    n.retain_existing(&e.value);
                    if n.is_empty() {
                        e.nested = None;
                    }
                }
            }
            garbage.extend(self.guards[g].1.put(w.hash, &w.root, entry));
        }
        for (root, rest, kind) in self.changes.drain(..) {
            let p = rest.as_deref().map(|r| Path::new(r, self.sep));
            self.db.origin.report(&root, p, kind);
        }
        garbage
    }
}
