//! The mapcache keyspace.
//!
//! A [`Store`] holds numbered databases ([`Db`]); each is split into shards, each
//! behind its own lock, holding [`Entry`]s (a [`Value`] tree and an optional deadline)
//! and a deadline index for the sweeper. [`json`] turns values into JSON text and
//! back (the HTTP API); [`snapshot`] is the backup/restore document of one cache.
//!
//! Invariants:
//! - No I/O, no tasks, no async: every operation is a short synchronous critical section.
//! - An expired entry is never observable through any accessor, swept or not.
//! - A multi-key operation holds every shard it touches for its whole duration
//!   ([`Db::update_many`], [`Store::update_two`]): atomic for every other client.
//! - Keys and values are copied in on insert: nothing stored points into a network buffer.

pub mod caches;
pub mod db;
pub mod doc;
pub mod evict;
pub mod feed;
pub mod field;
pub mod gate;
pub mod glob;
pub mod hash;
pub mod json;
mod key;
pub mod list;
pub mod nested;
pub mod num;
pub mod path;
pub mod snapshot;
mod string;
pub mod value;

use std::sync::Arc;

pub use caches::{CacheError, CacheInfo, CacheRef, DEFAULT_CACHE};
pub use db::{
    Addressing, Db, DbStats, Entry, ExportedEntry, KeyMut, Multi, ReadMany, RootImage, ScanFilter,
    ScanPage,
};
use feed::Origin;
pub use feed::{Change, ChangeKind, WriteFeed, WriteListener};
pub use field::Field;
use gate::Gate;
pub use glob::glob_match;
use hashbrown::DefaultHashBuilder;
pub use json::JsonError;
use mapcache_expiry::{Clock, SystemClock, UnixMillis};
pub use path::{Path, PathFault};
pub use snapshot::{
    parse_any, parse_snapshot, GoBackupWriter, Snapshot, SnapshotEntry, SnapshotError,
    SnapshotWriter,
};
pub use value::{Hash, Kind, List, Str, Value};

/// How a [`Store`] is laid out.
#[derive(Debug, Clone, Copy)]
pub struct StoreConfig {
    /// Number of databases (`SELECT 0..databases`); Redis's default is 16.
    pub databases: usize,
    /// log2 of the number of shards per database.
    pub shard_bits: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            databases: 16,
            shard_bits: 8,
        }
    }
}

/// All databases of one server.
#[derive(Debug)]
pub struct Store {
    dbs: Box<[Db]>,
    /// The caches created by name over the HTTP API ([`caches`]).
    caches: caches::Registry,
    shard_bits: u32,
    hasher: DefaultHashBuilder,
    clock: Arc<dyn Clock>,
    /// Every change to every cache is reported here ([`feed`]).
    feed: Arc<WriteFeed>,
    /// Every operation passes it; an exclusive section holds them all back ([`gate`]).
    gate: Arc<Gate>,
    /// `maxmemory` and its policy ([`evict`]).
    limits: evict::Limits,
}

impl Store {
    /// A store reading time from the system clock.
    pub fn new(config: StoreConfig) -> Self {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A store reading time from `clock` (a manual clock in tests).
    pub fn with_clock(config: StoreConfig, clock: Arc<dyn Clock>) -> Self {
        let hasher = DefaultHashBuilder::default();
        let feed = Arc::new(WriteFeed::default());
        let gate = Arc::new(Gate::default());
        let dbs = (0..config.databases.max(1))
            .map(|i| {
                let cache = if i == 0 {
                    DEFAULT_CACHE.into()
                } else {
                    i.to_string().into()
                };
                let origin = Origin {
                    cache,
                    feed: feed.clone(),
                    gate: gate.clone(),
                };
                Db::new(config.shard_bits, hasher, origin)
            })
            .collect();
        Store {
            dbs,
            feed,
            gate,
            caches: caches::Registry::default(),
            shard_bits: config.shard_bits,
            hasher,
            clock,
            limits: evict::Limits::default(),
        }
    }

    /// The write feed every cache of this store reports its changes to.
    pub fn feed(&self) -> &Arc<WriteFeed> {
        &self.feed
    }

    /// Where the cache called `name` reports its changes.
    fn origin(&self, name: &str) -> Origin {
        Origin {
            cache: name.into(),
            feed: self.feed.clone(),
            gate: self.gate.clone(),
        }
    }

    /// Runs `f` alone: while it runs, no other client's command, HTTP request or
    /// sweep touches any cache of this store, and `f` may run any operation itself
    /// ([`gate`]). For what must be atomic across keys and caches that no lock set
    /// can be named for up front: a RESP write with its triggers' cascade (next:
    /// MULTI/EXEC and scripts).
    pub fn exclusive<R>(&self, f: impl FnOnce() -> R) -> R {
        self.gate.exclusive(f)
    }

    /// The current time in Unix milliseconds, as every command of this store sees it.
    pub fn now(&self) -> UnixMillis {
        let now = self.clock.now_ms();
        evict::access::observe_now(now);
        now
    }

    /// The memory limit, its policy and the memory figure ([`evict`]).
    pub fn limits(&self) -> &evict::Limits {
        &self.limits
    }

    /// Before a command runs with a limit set: when the figure is over `maxmemory`,
    /// evicts a bounded number of keys ([`evict::STEP_KEYS`], [`evict::STEP_TIME`]).
    /// `Err` when the store is over and nothing was evicted (`noeviction`, or no key
    /// the policy may take): a command that may grow memory is then refused.
    pub fn make_room(&self, now: UnixMillis) -> Result<(), evict::OutOfMemory> {
        let limits = &self.limits;
        let max = limits.maxmemory();
        if max == 0 {
            return Ok(());
        }
        let Some(used) = limits.used(now) else {
            return Ok(());
        };
        if used <= max {
            return Ok(());
        }
        if limits.policy() == evict::Policy::NoEviction {
            return Err(evict::OutOfMemory);
        }
        limits.note_command_eviction(now);
        match self.evict_for(now, used - max, evict::STEP_KEYS, evict::STEP_TIME) {
            0 => Err(evict::OutOfMemory),
            _ => Ok(()),
        }
    }

    /// The sweeper's share: while over the limit, evicts for up to `time`. Answers
    /// whether the store is still over it.
    ///
    /// Nothing while commands are evicting for themselves ([`evict::Limits::
    /// commands_evicting`]): they keep the store at its limit, and a second evictor
    /// beside them only takes the core and the shard locks from them. (It did: a
    /// sweeper at nice 10 got its fair share of a busy core in slices of several
    /// milliseconds, and one in the idle class, preempted while it held a shard lock,
    /// kept a SET waiting behind other threads for 4-8 ms.)
    pub fn evict_background(&self, time: std::time::Duration) -> bool {
        let now = self.now();
        let max = self.limits.maxmemory();
        if max == 0
            || self.limits.policy() == evict::Policy::NoEviction
            || self.limits.commands_evicting(now)
        {
            return false;
        }
        let Some(used) = self.limits.used(now) else {
            return false;
        };
        if used <= max {
            return false;
        }
        self.evict_for(now, used - max, usize::MAX, time) > 0 && self.limits.over(now)
    }

    /// Evicts keys until about `need` bytes are freed, `max_keys` are gone, `time` is
    /// up or no shard has a candidate; answers how many went. Shards take turns.
    fn evict_for(
        &self,
        now: UnixMillis,
        need: u64,
        max_keys: usize,
        time: std::time::Duration,
    ) -> usize {
        let policy = self.limits.policy();
        let samples = self.limits.samples() as usize;
        let start = std::time::Instant::now();
        let named = self.caches.named.read();
        // Databases never used have no shards (and nothing to evict): the rotation
        // skips them rather than visiting 256 empty shards each.
        let dbs: Vec<&Db> = self
            .dbs
            .iter()
            .chain(named.values().map(|c| &c.db))
            .filter(|db| db.shard_count() != 0)
            .collect();
        let per_db = 1usize << self.shard_bits;
        let total = dbs.len() * per_db;
        if total == 0 {
            return 0;
        }
        let (mut n, mut freed, mut misses) = (0usize, 0u64, 0usize);
        // Two laps of misses before giving up: a shard whose pool ran dry answers
        // `None` once and refills on its next turn.
        while freed < need && n < max_keys && misses < 2 * total {
            let at = self
                .limits
                .cursor
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                % total;
            match dbs[at / per_db].evict_from_shard(at % per_db, policy, now, samples) {
                Some(bytes) => {
                    freed += bytes;
                    n += 1;
                    misses = 0;
                    if n % 8 == 0 && start.elapsed() >= time {
                        break;
                    }
                }
                None => misses += 1,
            }
        }
        drop(named);
        self.limits.note_freed(freed);
        self.limits
            .evicted
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        n
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`, or `None` when out of range.
    pub fn db(&self, index: usize) -> Option<&Db> {
        self.dbs.get(index)
    }

    pub fn dbs(&self) -> &[Db] {
        &self.dbs
    }

    /// Switches every database to path key mode (`--key-mode path`, see [`path`]) or
    /// back to flat keys. Set once, before the store is shared.
    pub fn set_path_keys(&mut self, on: bool) {
        for db in self.dbs.iter_mut() {
            db.set_path_keys(on);
        }
    }

    /// Sets how RESP keys address every database (flat, path mode `:`, preserve mode
    /// `/`). Set once, before the store is shared; named caches created later follow.
    pub fn set_addressing(&mut self, addressing: Addressing) {
        for db in self.dbs.iter_mut() {
            db.set_addressing(addressing);
        }
    }

    /// Is the store in a path key mode (path or preserve)?
    pub fn path_keys(&self) -> bool {
        self.dbs[0].path_keys()
    }

    /// Runs `f` with write access to `key_a` in database `a` and `key_b` in database
    /// `b` (`a != b`) at once; databases are locked in ascending index order.
    pub fn update_two<R>(
        &self,
        (a, key_a): (usize, &[u8]),
        (b, key_b): (usize, &[u8]),
        f: impl FnOnce(&mut KeyMut<'_>, &mut KeyMut<'_>) -> R,
    ) -> Result<R, PathFault> {
        assert_ne!(a, b, "update_two is for two different databases");
        let now = self.now();
        let (first, second) = if a < b {
            ((a, key_a), (b, key_b))
        } else {
            ((b, key_b), (a, key_a))
        };
        self.dbs[first.0]
            .update(first.1, now, |k1| {
                self.dbs[second.0].update(
                    second.1,
                    now,
                    |k2| if a < b { f(k1, k2) } else { f(k2, k1) },
                )
            })
            .and_then(|r| r)
    }
}

/// A seeded xorshift generator for the crate's randomized model tests (not for secrets).
#[cfg(test)]
pub(crate) fn test_rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    }
}
