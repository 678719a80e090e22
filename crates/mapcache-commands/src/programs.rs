//! map-cache's command programs and triggers on this server's store.
//!
//! Each cache has its trigger registry ([`Programs`]); a program, and a write's
//! triggers, run as one all-or-nothing batch of the document engine over the whole
//! cache (`Db::batch_all`, `/` paths), as the Go server runs them under its cache's one
//! lock. The language itself is `mapcache-programs`; the HTTP API and (later) RESP
//! call in here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mapcache_programs::{execute, fire, Command, ExecError, Limits, Triggers};
use mapcache_store::{Db, Value};
use parking_lot::{Mutex, RwLock};

/// How long a program (or a write's trigger cascade) may run, as the Go server's
/// `COMMAND_TIMEOUT_MS` default.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The trigger registries of every cache, by cache name.
#[derive(Debug, Default)]
pub struct Programs {
    caches: Mutex<HashMap<String, Arc<RwLock<Triggers>>>>,
}

impl Programs {
    /// The registry of the cache called `name` (made empty on first use).
    pub fn triggers(&self, name: &str) -> Arc<RwLock<Triggers>> {
        self.caches
            .lock()
            .entry(name.to_string())
            .or_default()
            .clone()
    }

    /// Does the cache called `name` have any trigger? Writes to caches without
    /// triggers skip them entirely.
    pub fn has_triggers(&self, name: &str) -> bool {
        self.caches
            .lock()
            .get(name)
            .is_some_and(|t| !t.read().is_empty())
    }

    /// Forgets a cache's triggers (the cache was deleted).
    pub fn drop_cache(&self, name: &str) {
        self.caches.lock().remove(name);
    }

    /// Runs `program` on `db` as one batch; answers the array of its top-level
    /// commands' values. Nothing it wrote remains when it fails.
    pub fn run(&self, db: &Db, program: &[Command], now: i64) -> Result<Value, ExecError> {
        let triggers = self.triggers(db.name());
        let triggers = triggers.read();
        let limits = limits();
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
        set: impl FnOnce(&mut mapcache_store::db::Batch<'_>) -> Result<bool, E>,
    ) -> Result<(), E> {
        let triggers = self.triggers(db.name());
        let triggers = triggers.read();
        let limits = limits();
        db.batch_all(b'/', now, |b| {
            if set(b)? {
                fire(path, b, &triggers, &limits)?;
            }
            Ok(())
        })
    }
}

fn limits() -> Limits {
    Limits {
        deadline: Some(Instant::now() + COMMAND_TIMEOUT),
        ..Limits::default()
    }
}
