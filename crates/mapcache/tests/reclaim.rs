//! Memory coming back after a storm, on the real binary: the sweeper runs in
//! `SCHED_IDLE`, jemalloc's background threads at nice 10 under the purger thread, and
//! a sweep that freed a lot ends with a purge, after which the process's RSS is back near an empty server's
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

/// Linux's `SCHED_IDLE` policy number (`SCHED_OTHER` is 0).
const SCHED_IDLE: i64 = 5;

/// Name, scheduling policy and nice value of each thread of `pid`.
fn threads(pid: u32) -> Vec<(String, i64, i64)> {
    let mut out = Vec::new();
    for t in std::fs::read_dir(format!("/proc/{pid}/task")).expect("task dir") {
        let t = t.expect("task").path();
        let comm = std::fs::read_to_string(t.join("comm")).unwrap_or_default();
        let stat = std::fs::read_to_string(t.join("stat")).unwrap_or_default();
        // Fields after the command's closing parenthesis start at field 3 (state);
        // nice is field 19, the policy field 41.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let field = |n: usize| rest.split_whitespace().nth(n - 3)?.parse().ok();
        if let (Some(policy), Some(nice)) = (field(41), field(19)) {
            out.push((comm.trim().to_string(), policy, nice));
        }
    }
    out
}

#[test]
fn background_threads_run_below_the_clients() {
    let server = Server::start(&[]);
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let ts = threads(pid);
        let of = |name: &str| -> Vec<(i64, i64)> {
            ts.iter()
                .filter(|t| t.0 == name)
                .map(|t| (t.1, t.2))
                .collect()
        };
        let purgers = of("jemalloc_bg_thd");
        let sweeper = of("mapcache-sweepe");
        // The sweeper is at nice 10 always, in the idle class between passes and in
        // the normal class during one (at most 0.5 ms, when it holds shard locks):
        // read again until it is seen between passes, as it is nearly all the time.
        assert!(sweeper.iter().all(|&(_, nice)| nice == 10), "{ts:?}");
        if !purgers.is_empty() && sweeper == [(SCHED_IDLE, 10)] {
            // The purger and jemalloc's threads (its children): normal class at nice
            // 10. The clients' threads: normal class, nice 0.
            assert_eq!(of("mapcache-purger"), [(0, 10)], "{ts:?}");
            assert!(purgers.iter().all(|&p| p == (0, 10)), "{ts:?}");
            let workers = of("tokio-rt-worker");
            assert!(
                !workers.is_empty() && workers.iter().all(|&p| p == (0, 0)),
                "{ts:?}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no jemalloc background thread, or the sweeper never idle-class: {ts:?}"
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
            let asked = log.iter().find(|l| l.contains("asking the purger"));
            break format!("{} / {l}", asked.map_or("", |a| a.as_str()));
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
