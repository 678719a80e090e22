//! Real-time scheduling for the latency probes of `ttl-storm` and `eviction`.
//!
//! A probe measures the largest round trip of a PING sent every 2 ms. On a machine
//! whose cores the load generator keeps busy (two cores: the server pinned to one,
//! the load on the other), a probe thread in the normal class waits for a CPU itself:
//! `perf sched` showed the probe's own scheduling delay at 5-10 ms while the server's
//! worker waited at most 1.4 ms, so the figure measured the client. In `SCHED_FIFO` the
//! probe runs as soon as its reply arrives, and its round trip is the server's. Both
//! servers are probed the same way. It sleeps between probes, so it takes almost no
//! CPU from the load; the kernel's real-time throttling bounds it in any case.

use std::sync::atomic::{AtomicU8, Ordering};

/// What the probes got: 0 not tried yet, 1 `SCHED_FIFO`, 2 refused (normal class).
static PROBE_CLASS: AtomicU8 = AtomicU8::new(0);

/// Puts the calling thread in `SCHED_FIFO` at priority 1 (needs root or
/// `CAP_SYS_NICE`); answers whether it did. A refusal leaves the thread as it was.
pub fn probe_priority() -> bool {
    let ok = set_fifo().is_ok();
    PROBE_CLASS.store(if ok { 1 } else { 2 }, Ordering::Relaxed);
    ok
}

/// A note for the report: how the probes ran.
pub fn probe_note() -> Option<String> {
    match PROBE_CLASS.load(Ordering::Relaxed) {
        1 => Some("max stall: the PING probe ran in SCHED_FIFO (priority 1), so its figure is the server's delay, not the probe's wait for a CPU".into()),
        2 => Some("max stall: the PING probe could not get SCHED_FIFO (needs root or CAP_SYS_NICE) and ran in the normal class: on a busy machine its figure includes its own wait for a CPU".into()),
        _ => None,
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn set_fifo() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 1 };
    // SAFETY: `param` is a valid sched_param that outlives the call, which only reads
    // it; pid 0 is the calling thread.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn set_fifo() -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}
