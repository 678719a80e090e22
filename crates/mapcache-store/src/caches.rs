//! Named caches: the HTTP API's name for a database.
//!
//! The numbered databases are caches too: `default` (or `0`) is database 0, `1` … `15`
//! are the others, reachable from RESP with SELECT. The HTTP API creates further caches
//! by name; they live beside the numbered ones, have a deadline of their own (a
//! cache-level TTL removes the whole cache when due) and are not reachable from RESP.
//!
//! Invariants:
//! - A numbered cache always exists: deleting one empties it, and it cannot expire.
//! - A named cache past its deadline is never handed out ([`Store::cache`]); the
//!   sweeper removes it ([`Store::expire_caches`]).

use std::sync::Arc;

use indexmap::IndexMap;
use mapcache_expiry::{SweepShard, UnixMillis};
use parking_lot::RwLock;

use crate::{Db, Store};

/// The name of database 0.
pub const DEFAULT_CACHE: &str = "default";

/// The longest cache name accepted.
pub const MAX_CACHE_NAME: usize = 128;

/// A cache created by name over the HTTP API.
#[derive(Debug)]
pub struct NamedCache {
    pub(crate) db: Db,
    /// Absolute Unix milliseconds after which the whole cache is gone.
    deadline: RwLock<Option<UnixMillis>>,
}

impl NamedCache {
    fn expired(&self, now: UnixMillis) -> bool {
        matches!(*self.deadline.read(), Some(d) if d < now)
    }
}

/// The named caches of a store, in creation order.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) named: RwLock<IndexMap<String, Arc<NamedCache>>>,
}

/// A cache handed out by [`Store::cache`]: a numbered database or a named cache.
#[derive(Debug, Clone)]
pub enum CacheRef<'s> {
    Numbered(usize, &'s Db),
    Named(Arc<NamedCache>),
}

impl std::ops::Deref for CacheRef<'_> {
    type Target = Db;

    fn deref(&self) -> &Db {
        match self {
            CacheRef::Numbered(_, db) => db,
            CacheRef::Named(c) => &c.db,
        }
    }
}

/// One line of [`Store::caches`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheInfo {
    pub name: String,
    /// The database number, for the numbered caches.
    pub index: Option<usize>,
    /// Live keys (DBSIZE).
    pub keys: usize,
    pub deadline: Option<UnixMillis>,
}

/// Why a cache operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CacheError {
    #[error("cache '{0}' already exists")]
    Exists(String),
    #[error("cache '{0}' not found")]
    NotFound(String),
    #[error("invalid cache name: {0}")]
    InvalidName(String),
    #[error("cache '{0}' is a numbered database: it cannot expire")]
    Numbered(String),
}

impl Store {
    /// The database number a cache name stands for: `default` is 0, a decimal number
    /// below the number of databases is itself. `Ok(None)`: a named cache.
    fn numbered(&self, name: &str) -> Result<Option<usize>, CacheError> {
        if name == DEFAULT_CACHE {
            return Ok(Some(0));
        }
        if name.is_empty() || name.len() > MAX_CACHE_NAME {
            return Err(CacheError::InvalidName(format!(
                "a name has 1 to {MAX_CACHE_NAME} bytes"
            )));
        }
        if name.contains(['/', '*']) || name.chars().any(char::is_control) {
            return Err(CacheError::InvalidName(format!(
                "'{name}' contains '/', '*' or a control character"
            )));
        }
        if name.bytes().all(|b| b.is_ascii_digit()) {
            return match name.parse::<usize>() {
                Ok(i) if i < self.databases() && (i == 0 || !name.starts_with('0')) => Ok(Some(i)),
                _ => Err(CacheError::InvalidName(format!(
                    "numeric names are the databases 0 to {}",
                    self.databases() - 1
                ))),
            };
        }
        Ok(None)
    }

    /// The cache called `name`, or `None` when it does not exist (or has expired).
    pub fn cache(&self, name: &str) -> Option<CacheRef<'_>> {
        match self.numbered(name).ok()? {
            Some(i) => Some(CacheRef::Numbered(i, &self.dbs[i])),
            None => {
                let c = self.caches.named.read().get(name).cloned()?;
                (!c.expired(self.now())).then_some(CacheRef::Named(c))
            }
        }
    }

    /// Creates a named cache, empty, expiring at `deadline` if one is given.
    pub fn create_cache(&self, name: &str, deadline: Option<UnixMillis>) -> Result<(), CacheError> {
        if self.numbered(name)?.is_some() {
            return Err(CacheError::Exists(name.to_owned()));
        }
        let now = self.now();
        let mut named = self.caches.named.write();
        if named.get(name).is_some_and(|c| !c.expired(now)) {
            return Err(CacheError::Exists(name.to_owned()));
        }
        let mut db = Db::new(self.shard_bits, self.hasher, self.origin(name));
        db.set_addressing(self.dbs[0].addressing());
        let cache = NamedCache {
            db,
            deadline: RwLock::new(deadline),
        };
        let old = named.insert(name.to_owned(), Arc::new(cache));
        drop(named);
        drop(old); // an expired predecessor is freed outside the lock
        Ok(())
    }

    /// Sets or clears a named cache's deadline.
    pub fn set_cache_deadline(
        &self,
        name: &str,
        deadline: Option<UnixMillis>,
    ) -> Result<(), CacheError> {
        if self.numbered(name)?.is_some() {
            return Err(CacheError::Numbered(name.to_owned()));
        }
        match self.cache(name) {
            Some(CacheRef::Named(c)) => {
                *c.deadline.write() = deadline;
                Ok(())
            }
            _ => Err(CacheError::NotFound(name.to_owned())),
        }
    }

    /// Deletes a cache: a named one is removed, a numbered one emptied (FLUSHDB).
    pub fn delete_cache(&self, name: &str) -> Result<(), CacheError> {
        match self.numbered(name)? {
            Some(i) => {
                self.dbs[i].flush();
                Ok(())
            }
            None => {
                let now = self.now();
                let removed = self.caches.named.write().shift_remove(name);
                match removed {
                    Some(c) if !c.expired(now) => Ok(()),
                    _ => Err(CacheError::NotFound(name.to_owned())),
                }
            }
        }
    }

    /// Every live cache: the numbered ones first, then the named ones in creation order.
    pub fn caches(&self) -> Vec<CacheInfo> {
        let now = self.now();
        let mut out: Vec<CacheInfo> = self
            .dbs
            .iter()
            .enumerate()
            .map(|(i, db)| CacheInfo {
                name: if i == 0 {
                    DEFAULT_CACHE.to_owned()
                } else {
                    i.to_string()
                },
                index: Some(i),
                keys: db.len(now),
                deadline: None,
            })
            .collect();
        let named: Vec<(String, Arc<NamedCache>)> = self
            .caches
            .named
            .read()
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect();
        out.extend(
            named
                .into_iter()
                .filter(|(_, c)| !c.expired(now))
                .map(|(name, c)| CacheInfo {
                    name,
                    index: None,
                    keys: c.db.len(now),
                    deadline: *c.deadline.read(),
                }),
        );
        out
    }

    /// Removes the named caches whose deadline has passed; answers how many. The
    /// sweeper calls it every pass. Their contents are freed outside the registry lock.
    pub fn expire_caches(&self) -> usize {
        self.expire_caches_named().len()
    }

    /// [`Store::expire_caches`], answering the names of the caches it removed (their
    /// triggers go with them).
    pub fn expire_caches_named(&self) -> Vec<String> {
        let now = self.now();
        let gone: Vec<(String, Arc<NamedCache>)> = {
            let named = self.caches.named.read();
            if !named.values().any(|c| c.expired(now)) {
                return Vec::new();
            }
            drop(named);
            let mut named = self.caches.named.write();
            let mut gone = Vec::new();
            named.retain(|name, c| {
                let keep = !c.expired(now);
                if !keep {
                    gone.push((name.clone(), c.clone()));
                }
                keep
            });
            gone
        };
        gone.into_iter().map(|(name, _)| name).collect()
    }

    /// Runs `f` over every shard of every cache, numbered and named, for the sweeper.
    /// The registry is read-locked meanwhile (creating a cache waits for the pass).
    pub fn with_sweep_shards<R>(&self, f: impl FnOnce(&[&dyn SweepShard]) -> R) -> R {
        let named = self.caches.named.read();
        let dbs = || self.dbs.iter().chain(named.values().map(|c| &c.db));
        // Sized up front: the sweeper builds this list every pass (every 0.5 ms in a
        // storm), and collecting from flat_map would regrow it a dozen times.
        let mut shards: Vec<&dyn SweepShard> = Vec::with_capacity(dbs().map(Db::shard_count).sum());
        shards.extend(dbs().flat_map(|db| db.sweep_shards()));
        f(&shards)
    }
}
