//! The debug endpoints, off unless `Config::debug_endpoints` (`--debug-endpoints`):
//!
//! - `GET /debug/pprof/profile?seconds=N&format=svg|pb|collapsed&frequency=HZ`: a CPU
//!   profile of the whole process (every thread) with the `pprof` crate's SIGPROF
//!   sampler, answered as a flamegraph SVG (default), the pprof protobuf (`pb`, what
//!   `go tool pprof` and `pprof` read; not gzipped) or folded stacks (`collapsed`, one
//!   `frame;frame;... count` line per distinct stack, root first, the thread name as the
//!   root frame). One profile at a time (409 otherwise); the request waits `seconds`
//!   asynchronously while the timer samples; symbolising runs on the blocking pool.
//! - `GET /debug/allocator[?format=text]`: the allocator's figures as JSON (or its own
//!   text dump), from the [`AllocatorStats`] the binary passed in `Config::allocator`
//!   (this crate does not know which allocator the binary links).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::{Response, StatusCode};

use crate::api::Resp;
use crate::http::{error, json};
use crate::Inner;

/// The allocator's figures, in bytes (jemalloc's `stats.*` names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorFigures {
    /// Bytes allocated by the application.
    pub allocated: u64,
    /// Bytes in active pages (a multiple of the page size, >= allocated).
    pub active: u64,
    /// Bytes in physically resident data pages mapped by the allocator.
    pub resident: u64,
    /// Bytes in chunks mapped by the allocator.
    pub mapped: u64,
    /// Bytes in virtual memory mappings retained rather than returned to the OS.
    pub retained: u64,
    /// Bytes dedicated to the allocator's own metadata.
    pub metadata: u64,
}

/// What the binary's global allocator can report. The binary implements it (for
/// jemalloc) and passes it in `Config::allocator`; without one `/debug/allocator`
/// answers 404.
pub trait AllocatorStats: Send + Sync + std::fmt::Debug {
    /// The allocator's name, e.g. `jemalloc`.
    fn name(&self) -> &'static str;
    /// Current figures (refreshed first, e.g. jemalloc's epoch advanced).
    fn figures(&self) -> Result<AllocatorFigures, String>;
    /// The allocator's own human-readable statistics, if it has them.
    fn text(&self) -> Option<Result<String, String>> {
        None
    }
    /// Bytes allocated now, refreshed (INFO's `used_memory`, what `maxmemory` is
    /// checked against): override with a cheaper read than all of [`Self::figures`].
    fn allocated(&self) -> Option<u64> {
        self.figures().ok().map(|f| f.allocated)
    }
    /// Starts the allocator's own background threads (jemalloc's page purgers) from the
    /// calling thread. The sweeper calls this from its thread at background priority,
    /// which threads inherit on Linux, so that returning pages to the OS never competes
    /// with the threads that answer clients (`crate::sweeper`).
    fn start_background_threads(&self) -> Result<(), String> {
        Ok(())
    }
    /// Returns every unused dirty page to the OS now, on the calling thread (the
    /// sweeper, after a storm has freed a lot): RSS comes back without waiting for the
    /// allocator's decay timer.
    fn purge(&self) -> Result<(), String> {
        Ok(())
    }
}

/// INFO memory's view of the binary's allocator.
#[derive(Debug)]
pub(crate) struct AllocatorMemory(pub(crate) Arc<dyn AllocatorStats>);

impl mapcache_commands::MemoryReport for AllocatorMemory {
    fn allocator(&self) -> &'static str {
        self.0.name()
    }

    fn allocated_bytes(&self) -> Option<u64> {
        self.0.allocated()
    }
}

/// The memory figure eviction works on: the same allocator reading as INFO's.
impl mapcache_store::evict::MemoryGauge for AllocatorMemory {
    fn used_bytes(&self) -> Option<u64> {
        self.0.allocated()
    }
}

/// The shortest and longest profile, and the default, in seconds.
pub const PROFILE_SECONDS: std::ops::RangeInclusive<u64> = 1..=60;
const DEFAULT_SECONDS: u64 = 10;
/// Sampling frequency, Hz (99 rather than 100: not in lockstep with 10 ms timers).
const DEFAULT_FREQUENCY: i32 = 99;
const FREQUENCIES: std::ops::RangeInclusive<i32> = 1..=1000;

/// Set while a profile is being taken (the profiler is one per process).
static PROFILING: AtomicBool = AtomicBool::new(false);

/// Holds `PROFILING` for as long as it lives.
struct Busy;

impl Busy {
    fn acquire() -> Option<Busy> {
        // Not `then_some(Busy)`: that would build (and drop, releasing the flag) a
        // `Busy` when the exchange fails.
        match PROFILING.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => Some(Busy),
            Err(_) => None,
        }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        PROFILING.store(false, Ordering::Release);
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Svg,
    Pb,
    Collapsed,
}

/// `a=1&b=2` into a map (no percent-decoding: every value we read is plain).
fn query_pairs(query: Option<&str>) -> HashMap<&str, &str> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect()
}

/// The profile's parameters, or the message of the 400 to answer.
fn profile_params(query: Option<&str>) -> Result<(u64, i32, Format), &'static str> {
    let q = query_pairs(query);
    let seconds = match q.get("seconds") {
        None => DEFAULT_SECONDS,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if PROFILE_SECONDS.contains(&n) => n,
            _ => return Err("seconds must be an integer from 1 to 60"),
        },
    };
    let frequency = match q.get("frequency") {
        None => DEFAULT_FREQUENCY,
        Some(v) => match v.parse::<i32>() {
            Ok(n) if FREQUENCIES.contains(&n) => n,
            _ => return Err("frequency must be an integer from 1 to 1000 (Hz)"),
        },
    };
    let format = match q.get("format").copied() {
        None | Some("svg") | Some("flamegraph") => Format::Svg,
        Some("pb") | Some("proto") | Some("protobuf") => Format::Pb,
        Some("collapsed") | Some("folded") => Format::Collapsed,
        Some(_) => return Err("format must be svg, pb or collapsed"),
    };
    Ok((seconds, frequency, format))
}

/// `GET /debug/pprof/profile`.
pub(crate) async fn profile(inner: &Arc<Inner>, query: Option<&str>) -> Resp {
    let (seconds, frequency, format) = match profile_params(query) {
        Ok(p) => p,
        Err(message) => return error(StatusCode::BAD_REQUEST, message),
    };
    let Some(busy) = Busy::acquire() else {
        return error(
            StatusCode::CONFLICT,
            "a profile is already being taken; try again when it is done",
        );
    };
    // Starting the profiler resolves one backtrace the first time (it loads the
    // binary's symbols): off the runtime's workers.
    let started = tokio::task::spawn_blocking(move || {
        pprof::ProfilerGuardBuilder::default()
            .frequency(frequency)
            .build()
            .map_err(|e| e.to_string())
    })
    .await;
    let guard = match started {
        Ok(Ok(g)) => g,
        Ok(Err(e)) => return internal(&format!("cannot start the profiler: {e}")),
        Err(_) => return internal("the profiler task failed"),
    };
    // Sample for `seconds`, asynchronously; a shutdown ends the profile early.
    let mut shutdown = inner.shutdown.clone();
    tokio::select! {
        _ = tokio::time::sleep(Duration::from_secs(seconds)) => {}
        _ = shutdown.wait_for(|stopping| *stopping) => {}
    }
    let rendered = tokio::task::spawn_blocking(move || {
        let _busy = busy;
        let report = guard.report().build().map_err(|e| e.to_string());
        drop(guard); // stops the timer and the signal handler
        render(&report?, format)
    })
    .await;
    match rendered {
        Ok(Ok((content_type, body))) => {
            let mut resp = Response::new(crate::api::full(Bytes::from(body)));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(content_type),
            );
            resp
        }
        Ok(Err(e)) => internal(&format!("cannot build the profile: {e}")),
        Err(_) => internal("the profiler task failed"),
    }
}

fn internal(message: &str) -> Resp {
    tracing::warn!(message, "debug endpoint failed");
    // Our messages may quote a library's error text: keep the JSON valid.
    let clean: String = message
        .chars()
        .map(|c| {
            if c == '"' || c == '\\' || c.is_control() {
                '\''
            } else {
                c
            }
        })
        .collect();
    error(StatusCode::INTERNAL_SERVER_ERROR, &clean)
}

/// The report as (content type, body).
fn render(report: &pprof::Report, format: Format) -> Result<(&'static str, Vec<u8>), String> {
    match format {
        Format::Collapsed => Ok(("text/plain; charset=utf-8", collapsed(report).into_bytes())),
        Format::Svg => {
            let text = collapsed(report);
            let mut svg = Vec::new();
            let mut opts = pprof::flamegraph::Options::default();
            opts.title = "mapcache CPU".to_string();
            if text.is_empty() {
                // inferno refuses an empty profile; an idle server gives one.
                svg.extend_from_slice(
                    br#"<?xml version="1.0" standalone="no"?><svg xmlns="http://www.w3.org/2000/svg" width="600" height="40"><text x="10" y="25">no samples (the server was idle)</text></svg>"#,
                );
            } else {
                pprof::flamegraph::from_lines(&mut opts, text.lines(), &mut svg)
                    .map_err(|e| e.to_string())?;
            }
            Ok(("image/svg+xml", svg))
        }
        Format::Pb => {
            use pprof::protos::Message as _;
            let profile = report.pprof().map_err(|e| e.to_string())?;
            Ok(("application/octet-stream", profile.encode_to_vec()))
        }
    }
}

/// Folded stacks: `thread;root;...;leaf count` per line, heaviest first. Inlined
/// functions are frames of their own, qualified with the module their source file is
/// in (debug info names them without a path); `;` inside a name becomes `,`.
fn collapsed(report: &pprof::Report) -> String {
    let mut lines: Vec<(String, isize)> = report
        .data
        .iter()
        .map(|(frames, &count)| {
            let mut line = clean_frame(&frames.thread_name_or_id());
            for frame in frames.frames.iter().rev() {
                for symbol in frame.iter().rev() {
                    line.push(';');
                    let file = symbol.filename();
                    line.push_str(&clean_frame(&qualified(symbol.name(), &file)));
                }
            }
            (line, count)
        })
        .collect();
    lines.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out = String::new();
    for (line, count) in lines {
        let _ = writeln!(out, "{line} {count}");
    }
    out
}

/// `name` with a module path in front when it has none (an inlined function, whose
/// debug-info name is bare): `decode_command` in `crates/mapcache-resp/src/decode.rs`
/// becomes `mapcache_resp::decode::decode_command`; a function of a registry crate or
/// of the standard library gets that crate's path the same way.
fn qualified(name: String, file: &str) -> String {
    let base = if name.starts_with('<') {
        return name; // `<T as Trait>::f`
    } else {
        name.split('<').next().unwrap_or("")
    };
    if base.contains("::") {
        return name;
    }
    match module_of(file) {
        Some(module) => format!("{module}::{name}"),
        None => name,
    }
}

/// The Rust module a source file holds, from its path (`None` if it does not look like
/// a crate's source, e.g. C).
fn module_of(file: &str) -> Option<String> {
    let file = file.replace('\\', "/");
    let (krate, rest) = if let Some(i) = file.rfind("/library/") {
        // The standard library: `.../library/core/src/ptr/mod.rs`.
        let after = &file[i + "/library/".len()..];
        let (k, r) = after.split_once("/src/")?;
        (k.to_string(), r)
    } else if let Some(i) = file.rfind("/crates/") {
        // Ours: `.../crates/mapcache-resp/src/decode.rs`.
        let after = &file[i + "/crates/".len()..];
        let (k, r) = after.split_once("/src/")?;
        (k.replace('-', "_"), r)
    } else if let Some(i) = file.find("/registry/src/") {
        // A dependency: `.../registry/src/INDEX/tokio-1.47.1/src/runtime/park.rs`.
        let after = &file[i + "/registry/src/".len()..];
        let after = after.split_once('/')?.1;
        let (dir, r) = after.split_once("/src/")?;
        let name = match dir.rfind('-') {
            Some(j) if dir[j + 1..].starts_with(|c: char| c.is_ascii_digit()) => &dir[..j],
            _ => dir,
        };
        (name.replace('-', "_"), r)
    } else {
        return None;
    };
    let rest = rest.strip_suffix(".rs")?;
    let mut parts: Vec<&str> = vec![krate.as_str()];
    parts.extend(
        rest.split('/')
            .filter(|p| !matches!(*p, "lib" | "mod" | "main") && !p.is_empty()),
    );
    Some(parts.join("::"))
}

fn clean_frame(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ';' => ',',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

/// `GET /debug/allocator`.
pub(crate) fn allocator(inner: &Inner, query: Option<&str>) -> Resp {
    let Some(alloc) = inner.config.allocator.as_ref() else {
        return error(
            StatusCode::NOT_FOUND,
            "this binary reports no allocator statistics",
        );
    };
    let text = match query_pairs(query).get("format").copied() {
        None | Some("json") => false,
        Some("text") => true,
        Some(_) => return error(StatusCode::BAD_REQUEST, "format must be json or text"),
    };
    if text {
        return match alloc.text() {
            Some(Ok(t)) => {
                let mut resp = Response::new(crate::api::full(Bytes::from(t)));
                resp.headers_mut().insert(
                    hyper::header::CONTENT_TYPE,
                    hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                resp
            }
            Some(Err(e)) => internal(&format!("allocator statistics: {e}")),
            None => error(
                StatusCode::NOT_FOUND,
                "this allocator has no text statistics",
            ),
        };
    }
    match alloc.figures() {
        Ok(f) => json(
            StatusCode::OK,
            format!(
                r#"{{"allocator":"{}","allocated":{},"active":{},"resident":{},"mapped":{},"retained":{},"metadata":{},"process_resident":{}}}"#,
                alloc.name(),
                f.allocated,
                f.active,
                f.resident,
                f.mapped,
                f.retained,
                f.metadata,
                crate::process::rss_bytes()
            ),
        ),
        Err(e) => internal(&format!("allocator statistics: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_parameters_are_bounded() {
        assert_eq!(profile_params(None).unwrap(), (10, 99, Format::Svg));
        assert_eq!(
            profile_params(Some("seconds=1&format=pb")).unwrap(),
            (1, 99, Format::Pb)
        );
        assert_eq!(
            profile_params(Some("format=collapsed&seconds=60&frequency=1000")).unwrap(),
            (60, 1000, Format::Collapsed)
        );
        for bad in [
            "seconds=0",
            "seconds=61",
            "seconds=-1",
            "seconds=abc",
            "seconds=",
            "seconds=99999999999999999999999",
            "frequency=0",
            "frequency=5000",
            "format=png",
        ] {
            assert!(profile_params(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_one_profile_at_a_time() {
        let first = Busy::acquire().expect("free at first");
        assert!(Busy::acquire().is_none());
        // A refused attempt must not release the holder's flag.
        assert!(Busy::acquire().is_none());
        drop(first);
        assert!(Busy::acquire().is_some());
    }

    #[test]
    fn inlined_frames_get_their_module() {
        let q = |n: &str, f: &str| qualified(n.to_string(), f);
        assert_eq!(
            q(
                "decode_command",
                "/work/x/crates/mapcache-resp/src/decode.rs"
            ),
            "mapcache_resp::decode::decode_command"
        );
        assert_eq!(
            q("get<u8>", "/work/x/crates/mapcache-store/src/lib.rs"),
            "mapcache_store::get<u8>"
        );
        assert_eq!(
            q(
                "turn",
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.47.1/src/runtime/io/driver.rs"
            ),
            "tokio::runtime::io::driver::turn"
        );
        assert_eq!(
            q(
                "copy_nonoverlapping<u8>",
                "/rustc/abc/library/core/src/intrinsics/mod.rs"
            ),
            "core::intrinsics::copy_nonoverlapping<u8>"
        );
        assert_eq!(
            q("mapcache_resp::x", "/a/crates/b/src/c.rs"),
            "mapcache_resp::x"
        );
        assert_eq!(q("<T as U>::f", "/a/crates/b/src/c.rs"), "<T as U>::f");
        assert_eq!(q("__libc_send", "Unknown"), "__libc_send");
        assert_eq!(
            q("epoll_wait", "../sysdeps/unix/epoll_wait.c"),
            "epoll_wait"
        );
    }

    #[test]
    fn frame_names_cannot_break_the_folded_format() {
        assert_eq!(clean_frame("<[u8; 4] as X>::f"), "<[u8, 4] as X>::f");
        assert_eq!(clean_frame("a\nb"), "a b");
    }
}
