//! Snapshots of caches (docs/snapshot-format.md): the HTTP backup and restore, RESP
//! SAVE / BGSAVE / LASTSAVE (files in `--dir`), `--load-snapshot` at start and
//! `--save-on-shutdown`; and the Go map-cache's backup files (`POST /admin/backup` and
//! `/admin/restore` with `{"cache","filename"}`, kept inside `--dir`).
//!
//! Both formats carry a cache's data, key deadlines, its own deadline and its
//! triggers; every reader ([`restore`] of an HTTP body or a file, [`load`]) takes
//! either, told apart by its fields (`mapcache_store::parse_any`).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Weak};

use mapcache_commands::Shared;
use mapcache_expiry::UnixMillis;
use mapcache_programs::{TriggerError, Triggers};
use mapcache_store::{CacheError, Db, GoBackupWriter, Snapshot, SnapshotWriter, Value};

/// Flush the export buffer to the sink past this many bytes.
const CHUNK: usize = 64 * 1024;

/// Which document a backup writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    /// mapcache's snapshot (docs/snapshot-format.md): millisecond deadlines, bytes
    /// that are not UTF-8, non-finite numbers.
    Mapcache,
    /// The Go map-cache's backup file: second deadlines, UTF-8 JSON only.
    Go,
}

/// The cache's own deadline (named caches only).
fn cache_deadline(shared: &Shared, name: &str) -> Option<UnixMillis> {
    shared
        .store
        .caches()
        .into_iter()
        .find(|c| c.name == name)
        .and_then(|c| c.deadline)
}

/// The cache's triggers in Go's backup shape, `None` when it has none.
fn triggers_value(shared: &Shared, name: &str) -> Option<Value> {
    if !shared.programs.has_triggers(name) {
        return None;
    }
    let registry = shared.programs.triggers(name);
    let triggers = registry.read_recursive();
    Some(triggers.to_value())
}

/// Writes the backup of `db` (named `cache`) in `format` shard by shard, handing the
/// text to `sink` in chunks of about [`CHUNK`] bytes; `sink` answers false to stop
/// (the reader went away). Each shard is read at one instant under its read lock; the
/// cache's deadline and triggers come last.
pub(crate) fn export(
    shared: &Shared,
    db: &Db,
    cache: &str,
    format: Format,
    sink: &mut dyn FnMut(&mut Vec<u8>) -> bool,
) -> bool {
    let now = shared.store.now();
    let mut out = Vec::with_capacity(CHUNK * 2);
    enum W {
        Ours(SnapshotWriter),
        Go(GoBackupWriter),
    }
    let mut w = match format {
        Format::Mapcache => W::Ours(SnapshotWriter::begin(cache, now, &mut out)),
        Format::Go => W::Go(GoBackupWriter::begin(cache, &mut out)),
    };
    let mut nested: Vec<(Vec<bytes::Bytes>, i64)> = Vec::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, deadline, n| {
            nested.clear();
            nested.extend_from_slice(n);
            match &mut w {
                W::Ours(w) => w.entry(&mut out, key, value, deadline, &nested),
                W::Go(w) => w.entry(&mut out, key, value, deadline, &nested),
            }
        });
        if out.len() >= CHUNK && !sink(&mut out) {
            return false;
        }
    }
    let expires_at = cache_deadline(shared, cache);
    let triggers = triggers_value(shared, cache);
    match w {
        W::Ours(w) => w.finish_with(&mut out, expires_at, triggers.as_ref()),
        W::Go(w) => w.finish(&mut out, expires_at, triggers.as_ref()),
    }
    sink(&mut out)
}

/// Why a restore was refused (nothing changed).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RestoreError {
    #[error(transparent)]
    Cache(#[from] CacheError),
    #[error(transparent)]
    Triggers(#[from] TriggerError),
}

/// Replaces the content of cache `name` with `snapshot`: its keys (atomically: every
/// shard locked while the old content goes and the new comes in), then its triggers
/// and, for a named cache, its own deadline. A named cache that does not exist is
/// created. Entries already expired are skipped. The triggers are checked before
/// anything changes. Answers the number of keys restored.
pub(crate) fn restore(
    shared: &Shared,
    name: &str,
    snapshot: Snapshot,
) -> Result<usize, RestoreError> {
    let store = &shared.store;
    let triggers = match &snapshot.triggers {
        Some(t) => Triggers::from_value(t)?,
        None => Triggers::new(),
    };
    if store.cache(name).is_none() {
        match store.create_cache(name, snapshot.expires_at) {
            // Created meanwhile by another request: restore into it.
            Ok(()) | Err(CacheError::Exists(_)) => {}
            Err(e) => return Err(e.into()),
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
    // Not inside the data's swap: a registry's writer must not wait at the store's
    // gate (mapcache_commands::programs, lock order).
    shared.programs.edit(name, |t| *t = triggers);
    match store.set_cache_deadline(name, snapshot.expires_at) {
        // A numbered database has no deadline (Go ignores it for `default` too).
        Ok(()) | Err(CacheError::Numbered(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(db.len(now))
}

/// Why a file name given by a client was refused (400).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FileError {
    #[error("{0}")]
    Refused(&'static str),
    #[error("{0}")]
    Io(String),
}

/// The file `name` inside `dir`, or why not: empty names, absolute paths, `..` and
/// anything that resolves (through symbolic links) outside `dir` are refused. With
/// `must_exist` (restore) the file must be there; otherwise (backup) its directory
/// must, and `dir` is created when missing.
pub(crate) fn file_in_dir(dir: &Path, name: &str, must_exist: bool) -> Result<PathBuf, FileError> {
    use std::path::Component;
    if name.is_empty() {
        return Err(FileError::Refused("filename is required"));
    }
    if name.contains('\0') {
        return Err(FileError::Refused("filename contains a NUL byte"));
    }
    let relative = Path::new(name);
    for c in relative.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => return Err(FileError::Refused("filename cannot contain '..'")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(FileError::Refused("filename must be a relative path"))
            }
        }
    }
    let Some(file_name) = relative.file_name() else {
        return Err(FileError::Refused("filename names no file"));
    };
    if !must_exist {
        std::fs::create_dir_all(dir)
            .map_err(|e| FileError::Io(format!("cannot create {}: {e}", dir.display())))?;
    }
    let root = dir
        .canonicalize()
        .map_err(|e| FileError::Io(format!("{}: {e}", dir.display())))?;
    let joined = root.join(relative);
    let parent = joined
        .parent()
        .unwrap_or(&root)
        .canonicalize()
        .map_err(|_| FileError::Refused("the file's directory does not exist"))?;
    if !parent.starts_with(&root) {
        return Err(FileError::Refused(
            "filename leads outside the backup directory",
        ));
    }
    let target = parent.join(file_name);
    match std::fs::symlink_metadata(&target) {
        Ok(_) => {
            let real = target
                .canonicalize()
                .map_err(|_| FileError::Refused("filename is a broken link"))?;
            if !real.starts_with(&root) {
                return Err(FileError::Refused(
                    "filename leads outside the backup directory",
                ));
            }
            if real.is_dir() {
                return Err(FileError::Refused("filename names a directory"));
            }
        }
        Err(_) if must_exist => return Err(FileError::Refused("could not stat file")),
        Err(_) => {}
    }
    Ok(target)
}

/// Writes cache `cache` to `path` in `format`, through a temporary file renamed into
/// place (a reader never sees half a file; a link at `path` is replaced, not followed).
pub(crate) fn write_file(
    shared: &Shared,
    db: &Db,
    cache: &str,
    format: Format,
    path: &Path,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{file}.tmp-{}", std::process::id()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    let mut err = None;
    export(shared, db, cache, format, &mut |chunk: &mut Vec<u8>| {
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
    let done = match err {
        Some(e) => Err(e),
        None => f
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all()),
    };
    if let Err(e) = done.and_then(|()| std::fs::rename(&tmp, path)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    Ok(())
}

/// The file a cache's snapshot is saved to in `--dir`.
pub(crate) const SUFFIX: &str = ".snapshot.json";

/// Writes every cache with keys or triggers to `dir/<cache>.snapshot.json` (each through a
/// temporary file renamed into place, so a reader never sees half a file) and removes
/// the snapshot files of caches that are now empty or gone, so that loading the
/// directory gives back exactly the saved content. Answers the number of files.
pub(crate) fn save_all(shared: &Shared, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let store = &shared.store;
    let mut written = Vec::new();
    for info in store.caches() {
        if info.keys == 0 && !shared.programs.has_triggers(&info.name) {
            continue;
        }
        let Some(db) = store.cache(&info.name) else {
            continue;
        };
        let file = format!("{}{SUFFIX}", info.name);
        write_file(shared, &db, &info.name, Format::Mapcache, &dir.join(&file))?;
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
/// it), each into the cache its document names (either format). Answers (files, keys).
pub(crate) fn load(
    shared: &Shared,
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
        let s = mapcache_store::parse_any(&mut text, max_depth)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        // The triggers too: a bad file leaves the store untouched.
        if let Some(t) = &s.triggers {
            Triggers::from_value(t).map_err(|e| format!("{}: {e}", f.display()))?;
        }
        snapshots.push(s);
    }
    let mut keys = 0;
    for s in snapshots {
        let name = if s.cache.is_empty() {
            mapcache_store::DEFAULT_CACHE.to_owned()
        } else {
            s.cache.clone()
        };
        keys += restore(shared, &name, s).map_err(|e| format!("restoring cache '{name}': {e}"))?;
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
        match save_all(shared, dir) {
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
