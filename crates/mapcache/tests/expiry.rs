//! Expiry at the server level: the one sweeper reclaims a mass expiry on its own, and
//! no task or thread is created per key.

mod support;
use std::io::Write;
use std::time::{Duration, Instant};
use support::{http_get, json_u64, read_n, redis_cli, Server};

/// The server's tokio tasks (from /healthz) and its threads other than jemalloc's
/// background purging threads: jemalloc starts one per arena the first time an arena
/// is used, a bounded number (at most one per CPU) that has nothing to do with keys.
fn tasks_and_threads(server: &Server) -> (u64, u64) {
    let (status, body) = http_get(server.http, "/healthz");
    assert_eq!(status, 200, "{body}");
    let threads = std::fs::read_dir(format!("/proc/{}/task", server.child.id()))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|comm| comm.trim_end() != "jemalloc_bg_thd")
        .count() as u64;
    (json_u64(&body, "tasks"), threads)
}

#[test]
fn a_hundred_thousand_keys_expire_together_without_a_task_per_key() {
    let server = Server::start(&[]);
    // The writer's connection is one task: have it accepted before counting.
    let mut c = server.connect();
    assert_eq!(support::roundtrip(&mut c, b"PING\r\n", 7), b"+PONG\r\n");
    let before = tasks_and_threads(&server);

    // 100,000 keys with one 2 s TTL, written in pipelined batches.
    let n = 100_000;
    for batch in 0..(n / 1000) {
        let mut buf = Vec::new();
        for i in 0..1000 {
            let key = format!("ttl:{}", batch * 1000 + i);
            buf.extend_from_slice(
                format!(
                    "*5\r\n$3\r\nSET\r\n${}\r\n{key}\r\n$1\r\nv\r\n$2\r\nPX\r\n$4\r\n2000\r\n",
                    key.len()
                )
                .as_bytes(),
            );
        }
        c.write_all(&buf).unwrap();
        assert_eq!(read_n(&mut c, 5000), b"+OK\r\n".repeat(1000));
    }
    let loaded = tasks_and_threads(&server);
    assert_eq!(
        loaded, before,
        "tasks/threads changed with 100k TTL keys (before, after)"
    );
    let keyspace = redis_cli(server.port(), &["INFO", "keyspace"]);
    assert!(keyspace.contains("expires="), "{keyspace}");

    // Nobody touches the keys: only the sweeper can empty the database.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let stats = redis_cli(server.port(), &["INFO", "stats"]);
        let expired: u64 = stats
            .lines()
            .find_map(|l| l.strip_prefix("expired_keys:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap();
        if expired == n as u64 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "sweeper reclaimed only {expired} of {n}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(redis_cli(server.port(), &["DBSIZE"]), "0\n");
    // The last redis-cli's connection task ends once the server reads its EOF, which
    // may come just after the reply: let the count settle (bounded) before comparing.
    let settle = Instant::now() + Duration::from_secs(5);
    let mut after = tasks_and_threads(&server);
    while after != before && Instant::now() < settle {
        std::thread::sleep(Duration::from_millis(50));
        after = tasks_and_threads(&server);
    }
    assert_eq!(after, before, "tasks/threads after the storm");
}

/// The sweeper is one thread, at nice 10 on Linux (and in SCHED_IDLE, which
/// tests/reclaim.rs checks) so that a client's thread that wakes on the same core runs
/// first (docs/ARCHITECTURE.md, "The sweeper").
#[test]
fn the_sweeper_is_one_background_priority_thread() {
    let server = Server::start(&[]);
    let tasks = format!("/proc/{}/task", server.child.id());
    let sweepers: Vec<String> = std::fs::read_dir(&tasks)
        .unwrap()
        .filter_map(|t| {
            let t = t.ok()?.path();
            let comm = std::fs::read_to_string(t.join("comm")).ok()?;
            (comm.trim_end() == "mapcache-sweepe")
                .then(|| std::fs::read_to_string(t.join("stat")).expect("stat"))
        })
        .collect();
    assert_eq!(sweepers.len(), 1, "sweeper threads in {tasks}");
    // /proc/<pid>/task/<tid>/stat: the fields after the parenthesised name; nice is 19th.
    let after_name = &sweepers[0][sweepers[0].rfind(')').unwrap() + 2..];
    let nice: i32 = after_name.split(' ').nth(16).unwrap().parse().unwrap();
    assert_eq!(nice, 10, "sweeper thread stat: {}", sweepers[0]);
}
