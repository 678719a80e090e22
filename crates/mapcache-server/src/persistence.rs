//! Snapshots of caches (docs/snapshot-format.md): the HTTP backup and restore, RESP
//! SAVE / BGSAVE / LASTSAVE (files in `--dir`), `--load-snapshot` at start and
//! `--save-on-shutdown`.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};

use mapcache_commands::Shared;
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

/// The file a cache's snapshot is saved to in `--dir`.
pub(crate) const SUFFIX: &str = ".snapshot.json";

/// Writes every cache with keys to `dir/<cache>.snapshot.json` (each through a
/// temporary file renamed into place, so a reader never sees half a file) and removes
/// the snapshot files of caches that are now empty or gone, so that loading the
/// directory gives back exactly the saved content. Answers the number of files.
pub(crate) fn save_all(store: &Store, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let now = store.now();
    let mut written = Vec::new();
    for info in store.caches() {
        if info.keys == 0 {
            continue;
        }
        let Some(db) = store.cache(&info.name) else {
            continue;
        };
        let file = format!("{}{SUFFIX}", info.name);
        let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
        let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        let mut err = None;
        export(&db, &info.name, now, &mut |chunk: &mut Vec<u8>| {
            let r = f.write_all(chunk);
            chunk.clear();
            match r {
                Ok(()) => true,
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        });
        if let Some(e) = err {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        let f = f.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, dir.join(&file))?;
        written.push(file);
    }
    for e in std::fs::read_dir(dir)? {
        let name = e?.file_name();
        let name = name.to_string_lossy();
        // Temporary files end in `.tmp-PID`, not in SUFFIX.
        if name.ends_with(SUFFIX) && !written.iter().any(|w| *w == name) {
            std::fs::remove_file(dir.join(&*name))?;
        }
    }
    Ok(written.len())
}

/// Restores the snapshot files `paths` name (a directory: every `*.snapshot.json` in
/// it), each into the cache its document names. Answers (files, keys).
pub(crate) fn load(
    store: &Store,
    paths: &[PathBuf],
    max_depth: usize,
) -> Result<(usize, usize), String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| {
                    f.file_name()
                        .is_some_and(|n| n.to_string_lossy().ends_with(SUFFIX))
                })
                .collect();
            in_dir.sort();
            files.extend(in_dir);
        } else {
            files.push(p.clone());
        }
    }
    // Parse everything first: a bad file leaves the store untouched.
    let mut snapshots = Vec::with_capacity(files.len());
    for f in &files {
        let mut text = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let s = mapcache_store::parse_snapshot(&mut text, max_depth)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        snapshots.push(s);
    }
    let mut keys = 0;
    for s in snapshots {
        let name = s.cache.clone();
        keys += restore(store, &name, s).map_err(|e| format!("restoring cache '{name}': {e}"))?;
    }
    Ok((files.len(), keys))
}

/// SAVE / BGSAVE / LASTSAVE for the commands ([`mapcache_commands::Persistence`]).
#[derive(Debug)]
pub(crate) struct Saver {
    shared: Weak<Shared>,
    dir: PathBuf,
    /// Unix seconds of the last successful save.
    last: Arc<AtomicI64>,
    /// True while a save runs (foreground or background).
    busy: Arc<AtomicBool>,
}

impl Saver {
    pub fn new(shared: Weak<Shared>, dir: PathBuf) -> Saver {
        Saver {
            shared,
            dir,
            last: Arc::new(AtomicI64::new(unix_seconds())),
            busy: Arc::new(AtomicBool::new(false)),
        }
    }

    fn run(shared: &Shared, dir: &Path, last: &AtomicI64) -> Result<(), String> {
        let started = std::time::Instant::now();
        match save_all(&shared.store, dir) {
            Ok(files) => {
                last.store(unix_seconds(), Ordering::Relaxed);
                tracing::info!(files, dir = %dir.display(), ms = started.elapsed().as_millis() as u64, "snapshot saved");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(error = %e, dir = %dir.display(), "snapshot failed");
                Err(format!("snapshot to {} failed: {e}", dir.display()))
            }
        }
    }
}

fn unix_seconds() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

const IN_PROGRESS: &str = "Background save already in progress";

/// Marks a save as running until dropped.
#[derive(Debug)]
struct Busy(Arc<AtomicBool>);

impl Busy {
    fn take(flag: &Arc<AtomicBool>) -> Result<Busy, String> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .map(|_| Busy(flag.clone()))
            .map_err(|_| IN_PROGRESS.to_string())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl mapcache_commands::Persistence for Saver {
    fn save(&self) -> Result<(), String> {
        let _busy = Busy::take(&self.busy)?;
        let shared = self.shared.upgrade().ok_or("the server is stopping")?;
        Saver::run(&shared, &self.dir, &self.last)
    }

    fn bgsave(&self) -> Result<(), String> {
        let guard = Busy::take(&self.busy)?;
        let shared = self.shared.upgrade().ok_or("the server is stopping")?;
        let (dir, last) = (self.dir.clone(), self.last.clone());
        std::thread::Builder::new()
            .name("mapcache-bgsave".into())
            .spawn(move || {
                let _guard = guard;
                let _ = Saver::run(&shared, &dir, &last);
            })
            .map_err(|e| format!("cannot start the background save: {e}"))?;
        Ok(())
    }

    fn lastsave(&self) -> i64 {
        self.last.load(Ordering::Relaxed)
    }
}
