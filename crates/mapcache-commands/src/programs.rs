//! map-cache's command programs and triggers on this server's store.
//!
//! Each cache has its trigger registry ([`Programs`]); a program, and a write's
//! triggers, run as one all-or-nothing batch of the document engine over the whole
//! cache (`Db::batch_all`, `/` paths), as the Go server runs them under its cache's one
//! lock. The language itself is `mapcache-programs`; the HTTP API and the RESP
//! commands call in here.
//!
//! A RESP write to a cache with triggers ([`targets`] says which nodes it replaces)
//! runs in an exclusive section of the store (`Store::exclusive`): the command, then
//! its triggers' cascade, and, when a trigger fails, the command's roots put back as
//! they were (`crate::dispatch`). Writes to caches without triggers pay one relaxed
//! atomic load ([`Programs::armed`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use std::time::{Duration, Instant};

use mapcache_programs::{execute, fire, Command, ExecError, Limits, Triggers};
use mapcache_store::db::Batch;
use mapcache_store::{Db, Value};
use parking_lot::{Mutex, RwLock};

/// How long a program (or a write's trigger cascade) may run, as the Go server's
/// `COMMAND_TIMEOUT_MS` default.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The trigger registries of every cache, by cache name.
///
/// Lock order: a registry's lock may be held while passing the store's gate (a
/// program holds its cache's registry while its batch runs), so the readers inside an
/// exclusive section must not queue behind a waiting writer: every read here is
/// `read_recursive`, which never waits for a writer that is only waiting.
#[derive(Debug, Default)]
pub struct Programs {
    caches: Mutex<HashMap<String, Arc<RwLock<Triggers>>>>,
    /// Triggers in all caches: zero lets every write skip the registries.
    total: AtomicUsize,
    /// How long a program or a trigger cascade may run, in milliseconds (0: the
    /// default, [`COMMAND_TIMEOUT`]); the server sets it from its configuration.
    timeout_ms: std::sync::atomic::AtomicU64,
}

impl Programs {
    /// Sets how long a program (or a write's trigger cascade) may run before it fails
    /// with a deadline error (the Go server's `COMMAND_TIMEOUT_MS`).
    pub fn set_timeout(&self, timeout: Duration) {
        let ms = u64::try_from(timeout.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    fn limits(&self) -> Limits {
        let ms = self.timeout_ms.load(Ordering::Relaxed);
        let timeout = if ms == 0 {
            COMMAND_TIMEOUT
        } else {
            Duration::from_millis(ms)
        };
        Limits {
            deadline: Instant::now().checked_add(timeout),
            ..Limits::default()
        }
    }

    /// The registry of the cache called `name` (made empty on first use).
    pub fn triggers(&self, name: &str) -> Arc<RwLock<Triggers>> {
        self.caches
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Changes the triggers of the cache called `name` (add, replace, delete),
    /// keeping the count [`Programs::armed`] reads.
    pub fn edit<R>(&self, name: &str, f: impl FnOnce(&mut Triggers) -> R) -> R {
        let registry = self.triggers(name);
        let mut triggers = registry.write();
        let before = triggers.len();
        let r = f(&mut triggers);
        let after = triggers.len();
        if after > before {
            self.total.fetch_add(after - before, Ordering::Relaxed);
        } else {
            self.total.fetch_sub(before - after, Ordering::Relaxed);
        }
        r
    }

    /// Has any cache a trigger? One relaxed load: what a write pays when none has.
    #[inline]
    pub fn armed(&self) -> bool {
        self.total.load(Ordering::Relaxed) > 0
    }

    /// Does the cache called `name` have any trigger? Writes to caches without
    /// triggers skip them entirely.
    pub fn has_triggers(&self, name: &str) -> bool {
        self.caches
            .lock()
            .get(name)
            .is_some_and(|t| !t.read_recursive().is_empty())
    }

    /// The nodes of `targets()` some trigger of the cache called `name` matches (by the
    /// index of their patterns' fixed segments): the only ones a write must fire for.
    /// Empty, without calling `targets`, when the cache has no triggers.
    pub fn watched(&self, name: &str, targets: impl FnOnce() -> Vec<Target>) -> Vec<Target> {
        let Some(registry) = self.caches.lock().get(name).cloned() else {
            return Vec::new();
        };
        let triggers = registry.read_recursive();
        if triggers.is_empty() {
            return Vec::new();
        }
        targets()
            .into_iter()
            .filter(|t| !triggers.matching(&t.path).is_empty())
            .collect()
    }

    /// Forgets a cache's triggers (the cache was deleted).
    pub fn drop_cache(&self, name: &str) {
        if let Some(t) = self.caches.lock().remove(name) {
            self.total
                .fetch_sub(t.read_recursive().len(), Ordering::Relaxed);
        }
    }

    /// Runs the triggers of each replaced node in `paths` (`/` paths, root first), one
    /// cascade after another, as one batch: when any fails, none of their writes
    /// remains.
    pub fn fire_all(&self, db: &Db, paths: &[String], now: i64) -> Result<(), ExecError> {
        self.batch_firing(db, now, |b, fire| paths.iter().try_for_each(|p| fire(b, p)))
    }

    /// Runs `program` on `db` as one batch; answers the array of its top-level
    /// commands' values. Nothing it wrote remains when it fails.
    pub fn run(&self, db: &Db, program: &[Command], now: i64) -> Result<Value, ExecError> {
        let triggers = self.triggers(db.name());
        let triggers = triggers.read_recursive();
        let limits = self.limits();
        db.batch_all(b'/', now, |b| execute(program, b, &triggers, &limits))
    }

    /// Stores `value` at `path` (`/`-separated, root first) in `db` and, when that
    /// replaced an existing node, runs the cache's triggers for it: all in one batch,
    /// so a failing trigger leaves nothing written. `set` does the write and answers
    /// whether it replaced a node.
    pub fn write_and_fire<E: From<ExecError>>(
        &self,
        db: &Db,
        path: &str,
        now: i64,
        set: impl FnOnce(&mut Batch<'_>) -> Result<bool, E>,
    ) -> Result<(), E> {
        self.batch_firing(db, now, |b, fire| {
            if set(b)? {
                fire(b, path)?;
            }
            Ok(())
        })
    }

    /// Runs `f` as one batch over the whole of `db` (`/` paths), giving it a way to run the cache's
    /// triggers for a node it replaced (a `/` path, root first), inside the batch: a
    /// failing trigger, or `f` failing, leaves nothing written. What
    /// [`Programs::fire_all`], [`Programs::write_and_fire`] and HTTP PATCH (after each
    /// REPLACE and INC) share.
    pub fn batch_firing<R, E: From<ExecError>>(
        &self,
        db: &Db,
        now: i64,
        f: impl FnOnce(
            &mut Batch<'_>,
            &mut dyn FnMut(&mut Batch<'_>, &str) -> Result<(), ExecError>,
        ) -> Result<R, E>,
    ) -> Result<R, E> {
        let triggers = self.triggers(db.name());
        let triggers = triggers.read_recursive();
        let limits = self.limits();
        db.batch_all(b'/', now, |b| {
            f(b, &mut |b, path| fire(path, b, &triggers, &limits))
        })
    }
}

/// A node a RESP write may replace, and whether its triggers fire whether or not it
/// existed before (the INCR family and HINCRBY: Go fires them always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The node as a `/` path, root first.
    pub path: String,
    pub always: bool,
}

/// The nodes the RESP write `args` (name first) replaces, as the Go server fires
/// triggers for them: the SET family, APPEND, SETRANGE, the INCR family, pushes and
/// LSET/LINSERT on their key; HSET and HMSET on each field, HINCRBY and
/// HINCRBYFLOAT on theirs. In path key mode `:` separates segments. Creates,
/// deletes, renames and everything else fire nothing.
pub fn targets(name: &str, args: &[Bytes], path_mode: bool) -> Vec<Target> {
    let path = |key: &[u8]| {
        let text = String::from_utf8_lossy(key);
        if path_mode {
            text.replace(':', "/")
        } else {
            text.into_owned()
        }
    };
    let at = |i: usize, always: bool| {
        args.get(i).map(|k| Target {
            path: path(k),
            always,
        })
    };
    let field = |i: usize, f: &[u8], always: bool| {
        args.get(i).map(|k| Target {
            path: format!("{}/{}", path(k), String::from_utf8_lossy(f)),
            always,
        })
    };
    match name {
        "set" | "setex" | "psetex" | "getset" | "setrange" | "append" | "lpush" | "rpush"
        | "lpushx" | "rpushx" | "linsert" | "lset" => at(1, false).into_iter().collect(),
        "incr" | "incrby" | "decr" | "decrby" | "incrbyfloat" => at(1, true).into_iter().collect(),
        "mset" => (1..args.len())
            .step_by(2)
            .filter_map(|i| at(i, false))
            .collect(),
        "hset" | "hmset" => (2..args.len())
            .step_by(2)
            .filter_map(|i| field(1, &args[i], false))
            .collect(),
        "hincrby" | "hincrbyfloat" => args
            .get(2)
            .and_then(|f| field(1, f, true))
            .into_iter()
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapcache_programs::Command as Program;

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|p| Bytes::copy_from_slice(p.as_bytes()))
            .collect()
    }

    #[test]
    fn only_watched_nodes_take_the_trigger_path() {
        let programs = Programs::default();
        programs
            .edit("default", |t| t.add("jobs/*/countdown", Program::Noop))
            .unwrap();
        let hset = args(&["HSET", "jobs:7", "countdown", "1", "name", "x"]);
        let watched = programs.watched("default", || targets("hset", &hset, true));
        assert_eq!(
            watched,
            [Target {
                path: "jobs/7/countdown".into(),
                always: false
            }]
        );
        // Other paths, and caches without triggers (where the nodes are not even named).
        let set = args(&["SET", "other", "1"]);
        assert!(programs
            .watched("default", || targets("set", &set, true))
            .is_empty());
        let watched = programs.watched("1", || panic!("a cache without triggers names no nodes"));
        assert!(watched.is_empty());
        assert!(programs.armed());
    }
}
