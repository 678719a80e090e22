//! The one sweeper: a dedicated thread that removes expired keys in bounded passes over
//! every shard, and evicts keys in passes of the same length while the store is over
//! `maxmemory`.
//!
//! # Why a thread at background priority, not a tokio task
//! A pass is pure CPU work (at most 2 ms), and a storm of a million keys due at once
//! keeps the sweeper busy for most of a second. As a tokio task it was the kernel's
//! equal of the worker threads that answer clients: on a machine with as many busy
//! threads as cores, a client's thread that woke up waited for the sweeper's time slice
//! to end, and requests that take no lock at all (PING) stalled for 3-7 ms.
//!
//! On its own thread in Linux's `SCHED_IDLE` class, the kernel's scheduler lets any
//! client thread that wakes run first, at once; the sweeper uses whatever CPU is left,
//! which on an idle server is all of one core (a million keys reclaimed in under a
//! second) and under full load very little (lazy expiry keeps expired keys invisible
//! meanwhile; only their memory waits; writers over `maxmemory` evict for themselves).
//! Nice 10 was not enough: `perf sched` on a 10M-key storm showed a client thread that
//! woke runnable for 6 ms behind the nice-10 sweeper (the kernel's EEVDF scheduler keeps
//! a woken thread waiting while it is "owed" less than the running one: a worker that
//! had used more than its share before it slept), where an idle-class thread is
//! preempted by any normal wakeup. Where `SCHED_IDLE` cannot be set, nice
//! [`SWEEPER_NICE`]. It never holds a shard lock for more than one batch of
//! [`SweepBudget::max_keys_per_shard_batch`] keys, so a client that needs the shard the
//! sweeper holds waits for at most one batch.
//!
//! # Returning the memory
//! Freed pages go back to the OS from jemalloc's background threads, which a second
//! thread of this module, the purger (`mapcache-purger`, nice [`SWEEPER_NICE`] but a
//! normal-class thread), starts so that they inherit its priority
//! ([`AllocatorStats::start_background_threads`](crate::AllocatorStats)): at nice 0,
//! `perf sched` showed them purging a 10M-key storm's pages in back-to-back 4 ms slices
//! on both cores for most of a second, the client threads queued behind them. And once
//! a sweep or eviction phase has freed at least [`PURGE_AFTER`], the sweeper asks the
//! purger to purge the rest at once ([`Reclaim`]): a storm frees most pages only at its
//! very end (the slots of one 16 KiB slab expire in every shard, and the last shard
//! swept frees the slab), and jemalloc's decay would keep them for another second or
//! two. The purge is short (a 10M storm's 700 MiB in ~0.1 s of CPU) where the sweep is
//! long (4 s), so it runs at nice 10 rather than idle-class: memory comes back even on
//! a machine that other work keeps busy.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mapcache_expiry::{SweepBudget, Sweeper};

use crate::Inner;

/// Longest sleep between passes when nothing is due soon.
const MAX_IDLE: Duration = Duration::from_millis(100);

/// With a memory limit set, the longest the sweeper goes without checking it.
const EVICT_CHECK: Duration = Duration::from_millis(10);

/// The pause after a pass that panicked.
const PANIC_BACKOFF: Duration = Duration::from_secs(1);

/// One pass's time budget. Between passes the thread yields its CPU to any thread
/// waiting for it, so this bounds how long the sweeper can keep a client's thread
/// waiting on the same core.
const PASS_TIME: Duration = Duration::from_micros(500);

/// The sweeper thread's nice value on Linux where `SCHED_IDLE` cannot be set: weight
/// 110 against a client thread's 1024, about a tenth of what a client thread gets.
pub(crate) const SWEEPER_NICE: i32 = 10;

/// A sweep or eviction phase that freed at least this much ends with a purge.
const PURGE_AFTER: u64 = 64 << 20;

/// The running sweeper thread. Dropping it asks the thread to stop;
/// [`Handle::stop_and_join`] also waits for it.
#[derive(Debug)]
pub(crate) struct Handle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    purger: Option<JoinHandle<()>>,
}

impl Handle {
    /// Asks the threads to stop and waits until they have (at most the rest of one pass,
    /// or of one purge).
    pub(crate) fn stop_and_join(mut self) {
        self.signal_stop();
        for (t, name) in [
            (self.thread.take(), "sweeper"),
            (self.purger.take(), "purger"),
        ] {
            if let Some(t) = t {
                if t.join().is_err() {
                    tracing::error!("the {name} thread panicked");
                }
            }
        }
    }

    fn signal_stop(&self) {
        self.stop.store(true, Ordering::Release);
        for t in [&self.thread, &self.purger].into_iter().flatten() {
            t.thread().unpark();
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// Starts the purger thread, then the sweeper thread.
pub(crate) fn spawn(inner: Arc<Inner>) -> std::io::Result<Handle> {
    let stop = Arc::new(AtomicBool::new(false));
    let purge = Arc::new(AtomicBool::new(false));
    let (started, priority_set) = std::sync::mpsc::sync_channel(0);
    let purger = {
        let (inner, stop, purge, started) =
            (inner.clone(), stop.clone(), purge.clone(), started.clone());
        std::thread::Builder::new()
            .name("mapcache-purger".into())
            .spawn(move || {
                set_nice();
                if let Some(alloc) = &inner.config.allocator {
                    if let Err(e) = alloc.start_background_threads() {
                        tracing::warn!(error = %e, "cannot start the allocator's background threads");
                    }
                }
                let _ = started.send(());
                purge_on_request(&inner, &stop, &purge);
            })?
    };
    // The purger's background threads exist before the sweeper starts freeing.
    let _ = priority_set.recv();
    let purger_thread = purger.thread().clone();
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("mapcache-sweeper".into())
        .spawn(move || {
            let idle = lower_priority();
            let _ = started.send(());
            let reclaim = Reclaim {
                started_at: None,
                purge,
                purger: purger_thread,
            };
            run(&inner, &flag, reclaim, idle);
        })?;
    // Return once the thread runs at its priority, so that what `start` reports is so.
    let _ = priority_set.recv();
    Ok(Handle {
        stop,
        thread: Some(thread),
        purger: Some(purger),
    })
}

/// The purger thread's loop: on each request, every free page goes back to the OS.
fn purge_on_request(inner: &Inner, stop: &AtomicBool, requested: &AtomicBool) {
    while !stop.load(Ordering::Acquire) {
        if requested.swap(false, Ordering::AcqRel) {
            if let Some(alloc) = &inner.config.allocator {
                let t = std::time::Instant::now();
                match alloc.purge() {
                    Ok(()) => tracing::debug!(
                        elapsed_ms = t.elapsed().as_millis() as u64,
                        "purged the allocator's free pages"
                    ),
                    Err(e) => tracing::warn!(error = %e, "allocator purge failed"),
                }
            }
        }
        std::thread::park();
    }
}

/// Sets this thread's nice value to [`SWEEPER_NICE`] (Linux: per thread, inherited by
/// the threads it creates). A failure is logged and ignored.
#[cfg(target_os = "linux")]
fn set_nice() {
    let tid = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(tid), SWEEPER_NICE) {
        tracing::warn!(error = %e, "cannot lower a background thread's priority");
    }
}

#[cfg(not(target_os = "linux"))]
fn set_nice() {}

/// Puts this thread in the `SCHED_IDLE` class, or failing that sets its nice value to
/// [`SWEEPER_NICE`] (Linux: both are per thread, and threads it creates inherit them).
/// Lowering one's own priority needs no privilege; a failure is logged and ignored.
#[cfg(target_os = "linux")]
fn lower_priority() -> bool {
    set_nice();
    match sched_idle() {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "cannot put the sweeper thread in SCHED_IDLE");
            false
        }
    }
}

/// `sched_setscheduler(0, SCHED_IDLE)`: the calling thread only (pid 0 is the caller's
/// thread on Linux).
#[cfg(target_os = "linux")]
fn sched_idle() -> std::io::Result<()> {
    set_class(libc::SCHED_IDLE)
}

/// `sched_setscheduler(0, policy)` with priority 0 (`SCHED_IDLE` or `SCHED_OTHER`).
#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_class(policy: libc::c_int) -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param that outlives the call, which only reads
    // it; SCHED_IDLE and SCHED_OTHER take priority 0. Exercised by every server start
    // (the sweeper thread), checked by crates/mapcache/tests/reclaim.rs (the thread's
    // policy).
    let rc = unsafe { libc::sched_setscheduler(0, policy, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// While a pass runs (it takes shard locks, one batch at a time), the sweeper leaves
/// the idle class for nice 10: an idle-class thread preempted while holding a shard
/// lock would keep that shard's clients waiting until the CPU is free again, which on
/// a machine kept busy by other processes can be a long time (priority inversion). At
/// nice 10 it still gets its share; a pass lasts at most [`PASS_TIME`], and back in the
/// idle class after it, any waiting client thread runs first. Dropping the guard
/// returns to the idle class. Only when the idle class could be set at start.
struct PassClass {
    #[cfg(target_os = "linux")]
    raised: bool,
}

impl PassClass {
    fn enter(idle: bool) -> PassClass {
        #[cfg(target_os = "linux")]
        {
            let raised = idle && set_class(libc::SCHED_OTHER).is_ok();
            PassClass { raised }
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = idle;
            PassClass {}
        }
    }
}

impl Drop for PassClass {
    fn drop(&mut self) {
        #[cfg(target_os = "linux")]
        if self.raised {
            let _ = set_class(libc::SCHED_IDLE);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() -> bool {
    false
}

/// The allocated bytes when the current busy phase (keys being swept or evicted)
/// began; at its end, a purge if it freed at least [`PURGE_AFTER`]. The purge runs on
/// the purger thread (nice 10, not idle-class): on a machine kept busy by others an
/// idle-class thread gets its CPU late, and RSS would wait for it (a 10M storm's RSS
/// after reclaim was 72 and 242 MiB with the purge on the sweeper, 26-29 at nice 10).
#[derive(Debug)]
struct Reclaim {
    started_at: Option<u64>,
    purge: Arc<AtomicBool>,
    purger: std::thread::Thread,
}

impl Reclaim {
    /// Called after each pass, `busy` when it removed or evicted keys.
    fn after_pass(&mut self, inner: &Inner, busy: bool) {
        let Some(alloc) = &inner.config.allocator else {
            return;
        };
        match (busy, self.started_at) {
            (true, None) => self.started_at = alloc.allocated(),
            (false, Some(start)) => {
                self.started_at = None;
                let freed = start.saturating_sub(alloc.allocated().unwrap_or(start));
                if freed >= PURGE_AFTER {
                    tracing::debug!(freed, "asking the purger to return the freed pages");
                    self.purge.store(true, Ordering::Release);
                    self.purger.unpark();
                }
            }
            _ => {}
        }
    }
}

fn run(inner: &Inner, stop: &AtomicBool, mut reclaim: Reclaim, idle: bool) {
    let mut sweeper = Sweeper::new(SweepBudget {
        max_time: PASS_TIME,
        ..SweepBudget::default()
    });
    let store = &inner.shared.store;
    while !stop.load(Ordering::Acquire) {
        // Named caches past their own deadline go as a whole, then one pass. The shard
        // list borrows the store; it is rebuilt each pass (a few KiB) so that nothing
        // borrowed lives across the sleep below. A panic (a bug) is logged and the
        // sweeper goes on a second later rather than stopping for good: lazy expiry
        // would still hide expired keys, but their memory would never come back.
        let pass = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _class = PassClass::enter(idle);
            // An expired cache's triggers go with it.
            for name in store.expire_caches_named() {
                inner.shared.programs.drop_cache(&name);
            }
            let (wake, removed) = store.with_sweep_shards(|shards| {
                let now = store.now();
                let report = sweeper.pass(shards, now);
                inner.metrics.sweep(&report);
                if report.removed > 0 {
                    tracing::trace!(
                        removed = report.removed,
                        elapsed_us = report.elapsed.as_micros() as u64,
                        "sweep"
                    );
                }
                let wake = sweeper.next_wake(&report, shards, store.now(), MAX_IDLE);
                (wake, report.removed)
            });
            // Over `maxmemory`: evict for one pass's time too, and come back at once
            // while still over (writers evict in small steps of their own meanwhile).
            let evicting = store.evict_background(PASS_TIME);
            // Busy while keys went or more are due: a pass of an idle-class thread can
            // be preempted for its whole budget and remove nothing mid-storm, and a
            // purge then would come before the storm's last frees empty the slabs.
            reclaim.after_pass(inner, evicting || removed > 0 || wake.is_zero());
            if evicting {
                Duration::ZERO
            } else if store.limits().maxmemory() != 0 {
                wake.min(EVICT_CHECK)
            } else {
                wake
            }
        }));
        let wake = pass.unwrap_or_else(|_| {
            tracing::error!("a sweeper pass panicked; sweeping again in 1 s");
            PANIC_BACKOFF
        });
        if wake.is_zero() {
            // More is due: let a thread waiting for this core run first, then sweep on.
            std::thread::yield_now();
        } else {
            std::thread::park_timeout(wake);
        }
    }
}
