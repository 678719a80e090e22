//! Memory coming back after a storm, on the real binary: jemalloc's background threads
//! run in the sweeper's `SCHED_IDLE` class, and a sweep that freed a lot ends with a
//! purge, after which the process's RSS is back near an empty server's
//! (`crates/mapcache-server/src/sweeper.rs`, `.cargo/config.toml`).

mod support;

use std::io::Write as _;
use std::time::{Duration, Instant};

use support::{info_field, redis_cli, Server};

/// Keys of the storm: with 100-byte values about 200 bytes of heap each, so the sweep
/// frees well over the sweeper's 64 MiB purge threshold.
const KEYS: usize = 600_000;
const BATCH: usize = 2_000;

/// The process's resident set, KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS")
}

/// Linux's `SCHED_IDLE` policy number.
const SCHED_IDLE: i64 = 5;

/// Name and scheduling policy of each thread of `pid`.
fn threads(pid: u32) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let t = t.expect("task").path();
        let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis start at field 3 (state);
        // the policy is field 41.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let policy = rest.split_whitespace().nth(38).and_then(|n| n.parse().ok());
        if let Some(policy) = policy {
            out.push((comm.trim().to_string(), policy));
        }
    }
    out
}

#[test]
fn allocator_threads_run_in_the_sweepers_idle_class() {
    let server = Server::start(&[]);
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ts = threads(pid);
        let of = |name: &str| -> Vec<i64> {
            ts.iter().filter(|(n, _)| n == name).map(|t| t.1).collect()
        };
        let purgers = of("jemalloc_bg_thd");
        if !purgers.is_empty() {
            assert_eq!(of("mapcache-sweepe"), [SCHED_IDLE], "the sweeper: {ts:?}");
            assert!(
                purgers.iter().all(|&p| p == SCHED_IDLE),
                "jemalloc's background threads must inherit SCHED_IDLE: {ts:?}"
            );
            assert!(
                of("tokio-rt-worker").iter().all(|&p| p == 0),
                "client threads stay SCHED_OTHER: {ts:?}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no jemalloc background thread: {ts:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_storm_ends_with_a_purge_and_rss_comes_back() {
    let server = Server::start_with_log(&[], "info,mapcache_server::sweeper=debug");
    let pid = server.child.id();
    let empty = rss_kib(pid);
    let mut conn = server.connect();
    let value = "v".repeat(100);
    // Every key expires at one moment, a few seconds from now (the writes take ~1-3 s).
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 6_000;
    let at = at.to_string();
    for start in (0..KEYS).step_by(BATCH) {
        let mut batch = Vec::new();
        for i in start..start + BATCH {
            let key = format!("storm:{i:08}");
            let _ = write!(
                batch,
                "*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n$4\r\nPXAT\r\n${}\r\n{at}\r\n",
                key.len(),
                value.len(),
                at.len()
            );
        }
        let got = support::roundtrip(&mut conn, &batch, 5 * BATCH);
        assert_eq!(got, b"+OK\r\n".repeat(BATCH), "SET replies");
    }
    let full = rss_kib(pid);
    let grown = full.saturating_sub(empty);
    assert!(
        grown > 64 * 1024,
        "the keys should take > 64 MiB: RSS {empty} -> {full} KiB"
    );
    // Wait for the sweeper's purge line (the storm, then the purge, on its thread).
    let deadline = Instant::now() + Duration::from_secs(60);
    let purged = loop {
        let log = server.log.lock().unwrap().clone();
        if let Some(l) = log.iter().find(|l| l.contains("allocator purge failed")) {
            panic!("{l}");
        }
        if let Some(l) = log
            .iter()
            .find(|l| l.contains("purged the allocator's free pages"))
        {
            break l.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no purge within 60 s of the writes; log: {log:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let after = rss_kib(pid);
    let info = redis_cli(server.port(), &["INFO", "stats"]);
    let expired: usize = info_field(&info, "expired_keys")
        .and_then(|v| v.parse().ok())
        .expect("expired_keys");
    assert_eq!(expired, KEYS, "every key swept before the purge ({purged})");
    eprintln!("RSS empty {empty} KiB, with the keys {full}, after the purge {after}: {purged}");
    // Back near the empty server's RSS: at most a quarter of what the keys added is
    // still resident right after the purge (jemalloc's metadata and the tables' last
    // pages remain; without the purge most of it stays for the decay's second or two).
    assert!(
        after < empty + grown / 4,
        "RSS empty {empty} KiB, with the keys {full}, after the purge {after} ({purged})"
    );
}
