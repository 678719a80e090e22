//! `/healthz`: the Go server's fields, with mapcache's own beside them.
//!
//! Go's: `status` (`"healthy"`), `timestamp` (UTC, RFC 3339 with nanoseconds, as Go's
//! `time.Time`), `uptime_seconds`, `build` (`version`, `commit`, `date`), `system`
//! and `caches` (`count`, `names`). Go's `system` describes its runtime; mapcache
//! fills each field with the closest figure it has:
//! - `goroutines`: tokio tasks alive (connections, accept loops, timers): the closest
//!   thing to Go's goroutines;
//! - `memory_alloc_mb`: MiB the allocator has handed out and not had back (jemalloc's
//!   `stats.allocated`, Go's `MemStats.Alloc`); the resident set without jemalloc;
//! - `memory_sys_mb`: MiB of the process's resident set (Go's `Sys`, the memory taken
//!   from the operating system);
//! - `gc_count`: always 0 (no garbage collector);
//! - `threads`: operating-system threads (mapcache's addition).
//!
//! mapcache's own: `ready`, `version`, `git_commit`, `connections` (RESP clients),
//! `tasks`, `threads` and `cache_keys` (`[{"name", "keys"}]`: live keys per cache).

use std::sync::atomic::Ordering;
use std::time::{SystemTime, UNIX_EPOCH};

use mapcache_store::json;

use crate::Inner;

/// The `/healthz` document.
pub(crate) fn healthz(inner: &Inner) -> String {
    let shared = &inner.shared;
    let caches = shared.store.caches();
    let mut names = Vec::new();
    json_strings(caches.iter().map(|c| c.name.as_bytes()), &mut names);
    let mut cache_keys = vec![b'['];
    for (i, c) in caches.iter().enumerate() {
        if i > 0 {
            cache_keys.push(b',');
        }
        cache_keys.extend_from_slice(b"{\"name\":");
        json::write_string(c.name.as_bytes(), &mut cache_keys);
        cache_keys.extend_from_slice(format!(",\"keys\":{}}}", c.keys).as_bytes());
    }
    cache_keys.push(b']');
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let threads = crate::process::threads();
    let rss = crate::process::rss_bytes();
    let allocated = inner
        .config
        .allocator
        .as_ref()
        .and_then(|a| a.figures().ok())
        .map_or(rss, |f| f.allocated);
    const MIB: u64 = 1024 * 1024;
    let uptime = shared.started.elapsed();
    let started = SystemTime::now()
        .checked_sub(uptime)
        .unwrap_or_else(SystemTime::now);
    let build_date = option_env!("MAPCACHE_BUILD_DATE")
        .map(str::to_owned)
        .unwrap_or_else(|| rfc3339(started, false));
    let mut version = Vec::new();
    json::write_string(env!("CARGO_PKG_VERSION").as_bytes(), &mut version);
    let mut commit = Vec::new();
    json::write_string(shared.info.git_sha.as_bytes(), &mut commit);
    let mut date = Vec::new();
    json::write_string(build_date.as_bytes(), &mut date);
    let (version, commit, date) = (text(version), text(commit), text(date));
    format!(
        concat!(
            r#"{{"status":"healthy","timestamp":"{timestamp}","uptime_seconds":{uptime},"#,
            r#""build":{{"version":{version},"commit":{commit},"date":{date}}},"#,
            r#""system":{{"goroutines":{tasks},"memory_alloc_mb":{alloc},"memory_sys_mb":{sys},"gc_count":0,"threads":{threads}}},"#,
            r#""caches":{{"count":{count},"names":{names}}},"#,
            r#""ready":{ready},"version":{version},"git_commit":{commit},"connections":{connections},"tasks":{tasks},"threads":{threads},"cache_keys":{cache_keys}}}"#
        ),
        timestamp = rfc3339(SystemTime::now(), true),
        uptime = uptime.as_secs(),
        version = version,
        commit = commit,
        date = date,
        tasks = tasks,
        alloc = allocated / MIB,
        sys = rss / MIB,
        threads = threads,
        count = caches.len(),
        names = text(names),
        ready = inner.ready.load(Ordering::Relaxed),
        connections = inner.connected.load(Ordering::Relaxed),
        cache_keys = text(cache_keys),
    )
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `["a","b"]`.
pub(crate) fn json_strings<'a>(items: impl Iterator<Item = &'a [u8]>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, s) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_string(s, out);
    }
    out.push(b']');
}

/// `t` in UTC as RFC 3339 (`2026-12-05T08:40:00Z`); with `nanos`, Go's RFC3339Nano
/// (the fraction's trailing zeros dropped, as Go's `time.Time` marshals).
pub(crate) fn rfc3339(t: SystemTime, nanos: bool) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, day) = civil_from_days(days as i64);
    let mut out = format!(
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if nanos && d.subsec_nanos() > 0 {
        let frac = format!("{:09}", d.subsec_nanos());
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Howard Hinnant's days-from-civil inverse: (year, month, day) of a day count since
/// 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn timestamps_are_rfc3339_in_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH, true), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_764_923_445, 120_000_000);
        assert_eq!(rfc3339(t, true), "2025-12-05T08:30:45.12Z");
        assert_eq!(rfc3339(t, false), "2025-12-05T08:30:45Z");
        // A leap day.
        let t = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(rfc3339(t, false), "2000-02-29T00:00:00Z");
    }
}
