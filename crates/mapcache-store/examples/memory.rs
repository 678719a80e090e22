//! Memory per stored key: inserts N keys (`ttl:NNNNNNNN`, a 32-byte value, one TTL)
//! into a `Store` and prints the live heap bytes, allocations and RSS per key, then the
//! same after the sweeper-equivalent removes them all.
//!
//! `cargo run --release -p mapcache-store --example memory -- [N]` (default 1,000,000).
//! Heap bytes are the sizes requested from the allocator (a counting wrapper around the
//! system allocator), so they exclude allocator rounding; RSS includes it.

// The counting allocator is the one unsafe block: a `GlobalAlloc` impl cannot be safe.
#![allow(unsafe_code)]
// Printing the figures is what this program is for.
#![allow(clippy::print_stdout)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use mapcache_expiry::{ManualClock, SweepShard};
use mapcache_store::{Store, StoreConfig, Value};

struct Counting;

static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
static LIVE_BLOCKS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_add(1, Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        LIVE_BLOCKS.fetch_sub(1, Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size, Relaxed);
        LIVE_BYTES.fetch_sub(layout.size(), Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.replace('_', "").parse().ok())
        .unwrap_or(1_000_000);
    let clock = ManualClock::new(1_000_000);
    let store = Store::with_clock(StoreConfig::default(), std::sync::Arc::new(clock.clone()));
    let db = store.db(0).expect("db 0");
    let value = [b'v'; 32];
    let (bytes0, blocks0, rss0) = (
        LIVE_BYTES.load(Relaxed),
        LIVE_BLOCKS.load(Relaxed),
        rss_bytes(),
    );
    let deadline = 1_005_000;
    for i in 0..n {
        let key = format!("ttl:{i:08}");
        db.update(key.as_bytes(), store.now(), |k| {
            k.insert(Value::string(&value), Some(deadline))
        })
        .unwrap();
    }
    let per = |now: usize, then: usize| (now.saturating_sub(then)) as f64 / n as f64;
    println!("{n} keys (12-byte key, 32-byte value, one TTL)");
    println!(
        "with keys:  heap {:.1} B/key, {:.2} blocks/key, RSS {:.1} B/key ({:.1} MiB)",
        per(LIVE_BYTES.load(Relaxed), bytes0),
        per(LIVE_BLOCKS.load(Relaxed), blocks0),
        per(rss_bytes(), rss0),
        rss_bytes() as f64 / (1 << 20) as f64,
    );
    clock.set(deadline + 1);
    let swept = std::time::Instant::now();
    let mut removed = 0;
    store.with_sweep_shards(|shards| {
        for s in shards {
            loop {
                let r = s.sweep_due(store.now(), 20_000);
                removed += r.removed;
                if !r.more_due {
                    break;
                }
            }
        }
    });
    let swept = swept.elapsed();
    assert_eq!(removed, n, "every key is swept");
    println!(
        "after sweep ({:.0} ns/key, one thread): heap {:.1} B/key left, RSS {:.1} MiB",
        swept.as_nanos() as f64 / n as f64,
        per(LIVE_BYTES.load(Relaxed), bytes0),
        rss_bytes() as f64 / (1 << 20) as f64,
    );
}
