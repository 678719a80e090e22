//! Heap allocations per command on a hot key, counted with dhat's testing mode.
//! The design's performance rule: nothing allocated per GET or SET beyond the stored
//! value, and on a hot key not even that (a short value is stored inline, a long one of
//! the same length written in place; docs/ARCHITECTURE.md, "The store's shape", and
//! docs/PERFORMANCE.md).
//! This file holds exactly one test: dhat allows one profiler per process.

mod common;

use bytes::Bytes;
use common::Harness;
use mapcache_commands::execute;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn args(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}

/// Blocks allocated while running `cmd` `n` times.
fn blocks_for(h: &mut Harness, cmd: &[Bytes], n: u64) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    for _ in 0..n {
        h.out.buf.clear();
        execute(&h.shared, &mut h.session, cmd, &mut h.out);
    }
    dhat::HeapStats::get().total_blocks - before
}

#[test]
fn get_set_and_incr_on_hot_keys_allocate_nothing() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut h = Harness::new();
    // Short strings live inside the entry (`mapcache_store::Str::INLINE` bytes).
    let set = args(&["SET", "hot", "a-value-of-24-bytes-long"]);
    let long = "x".repeat(mapcache_store::Str::INLINE + 1);
    let set_long = args(&["SET", "hot-long", &long]);
    let get = args(&["GET", "hot"]);
    let incr = args(&["INCR", "counter"]);
    // Warm up: create the keys and size every buffer.
    for c in [&set, &set_long, &get, &incr] {
        blocks_for(&mut h, c, 10);
    }
    let n = 1000;
    let get_blocks = blocks_for(&mut h, &get, n);
    let set_blocks = blocks_for(&mut h, &set, n);
    let set_long_blocks = blocks_for(&mut h, &set_long, n);
    let incr_blocks = blocks_for(&mut h, &incr, n);
    eprintln!(
        "blocks per op: GET {} SET {} SET(long) {} INCR {}",
        get_blocks as f64 / n as f64,
        set_blocks as f64 / n as f64,
        set_long_blocks as f64 / n as f64,
        incr_blocks as f64 / n as f64
    );
    assert_eq!(get_blocks, 0, "GET on a hot key allocated");
    assert_eq!(set_blocks, 0, "SET of a short value on a hot key allocated");
    assert_eq!(incr_blocks, 0, "INCR allocated");
    // A long value of the same length is written over the stored one in place
    // (`db/slot.rs`), from the argument's bytes (`KeyMut::insert_str`).
    assert_eq!(
        set_long_blocks, 0,
        "SET of a long value of the same length on a hot key allocated"
    );
}
