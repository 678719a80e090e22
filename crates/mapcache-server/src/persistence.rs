//! Snapshots of caches (docs/snapshot-format.md): the HTTP backup and restore, RESP
//! SAVE / BGSAVE / LASTSAVE (files in `--dir`), `--load-snapshot` at start and
//! `--save-on-shutdown`.

use mapcache_expiry::UnixMillis;
use mapcache_store::{CacheError, Db, Snapshot, SnapshotWriter, Store};

/// Flush the export buffer to the sink past this many bytes.
const CHUNK: usize = 64 * 1024;

/// Writes the snapshot document of `db` (named `cache`) shard by shard, handing the
/// text to `sink` in chunks of about [`CHUNK`] bytes; `sink` answers false to stop
/// (the reader went away). Each shard is read at one instant under its read lock.
pub(crate) fn export(
    db: &Db,
    cache: &str,
    now: UnixMillis,
    sink: &mut dyn FnMut(&mut Vec<u8>) -> bool,
) -> bool {
    let mut out = Vec::with_capacity(CHUNK * 2);
    let mut w = SnapshotWriter::begin(cache, now, &mut out);
    let mut nested: Vec<(Vec<bytes::Bytes>, i64)> = Vec::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, deadline, n| {
            nested.clear();
            nested.extend_from_slice(n);
            w.entry(&mut out, key, value, deadline, &nested);
        });
        if out.len() >= CHUNK && !sink(&mut out) {
            return false;
        }
    }
    w.finish(&mut out);
    sink(&mut out)
}

/// Replaces the content of cache `name` with `snapshot`'s entries, atomically (every
/// shard locked while the old content goes and the new comes in). A named cache that
/// does not exist is created, without a TTL. Entries already expired are skipped.
/// Answers the number of keys restored.
pub(crate) fn restore(store: &Store, name: &str, snapshot: Snapshot) -> Result<usize, CacheError> {
    if store.cache(name).is_none() {
        match store.create_cache(name, None) {
            // Created meanwhile by another request: restore into it.
            Ok(()) | Err(CacheError::Exists(_)) => {}
            Err(e) => return Err(e),
        }
    }
    let db = store
        .cache(name)
        .ok_or_else(|| CacheError::NotFound(name.to_owned()))?;
    let now = store.now();
    let entries: Vec<_> = snapshot
        .entries
        .into_iter()
        .map(|e| (e.key, e.value, e.expires_at, e.nested))
        .collect();
    db.replace_all(entries, now);
    Ok(db.len(now))
}
