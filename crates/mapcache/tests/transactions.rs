//! MULTI, EXEC and DISCARD against redis-server: the same transcript, two clients
//! interleaved, sent to both servers; every reply must be byte-identical. Then EXEC's
//! atomicity under concurrent writers, on mapcache alone.

mod support;

#[path = "differential/client.rs"]
#[allow(dead_code)]
mod client;

use client::{Conn, RedisServer};
use support::Server;

/// A step: which client (0 or 1) sends which command.
type Step = (usize, &'static [&'static str]);

const SCRIPT: &[Step] = &[
    (0, &["FLUSHALL"]),
    (0, &["MULTI"]),
    (0, &["SET", "a", "1"]),
    (1, &["SET", "a", "other"]), // another client: runs at once
    (0, &["INCR", "a"]),
    (0, &["LPUSH", "a", "x"]), // fails when it runs: WRONGTYPE inside the array
    (0, &["GET", "a"]),
    (1, &["GET", "a"]),
    (0, &["EXEC"]),
    (1, &["GET", "a"]),
    // Queue-time errors abort the whole transaction.
    (0, &["MULTI"]),
    (0, &["SET", "b", "1"]),
    (0, &["NOSUCHCMD", "x"]),
    (0, &["GET"]),
    (0, &["MULTI"]), // nested: an error, but it does not abort by itself
    (0, &["EXEC"]),
    (0, &["EXISTS", "b"]),
    (0, &["MULTI"]),
    (0, &["MULTI"]),
    (0, &["SET", "c", "1"]),
    (0, &["EXEC"]),
    (0, &["GET", "c"]),
    // DISCARD, and EXEC/DISCARD without MULTI.
    (0, &["MULTI"]),
    (0, &["SET", "d", "1"]),
    (0, &["DISCARD"]),
    (0, &["EXISTS", "d"]),
    (0, &["EXEC"]),
    (0, &["DISCARD"]),
    (0, &["MULTI", "x"]),
    // Empty transaction; SELECT inside; a subcommand error at queue time.
    (0, &["MULTI"]),
    (0, &["EXEC"]),
    (1, &["MULTI"]),
    (1, &["SELECT", "1"]),
    (1, &["SET", "e", "1"]),
    (1, &["HSET", "h", "f", "v"]),
    (1, &["HGETALL", "h"]),
    (1, &["EXEC"]),
    (1, &["GET", "e"]),
    (1, &["MULTI"]),
    (1, &["CONFIG", "NOSUCH"]),
    (1, &["EXEC"]),
    (0, &["MULTI"]),
    (0, &["PING"]),
    (0, &["ECHO", "hi"]),
    (0, &["EXEC"]),
    // WATCH: another client's write makes EXEC answer a null array and run nothing.
    (0, &["SET", "w", "1"]),
    (0, &["WATCH", "w", "w2"]),
    (1, &["SET", "w", "2"]),
    (0, &["MULTI"]),
    (0, &["SET", "w", "mine"]),
    (0, &["EXEC"]),
    (0, &["GET", "w"]),
    // No change: EXEC runs. EXEC ended the previous watch.
    (0, &["WATCH", "w"]),
    (1, &["GET", "w"]),
    (0, &["MULTI"]),
    (0, &["INCR", "w"]),
    (0, &["EXEC"]),
    // A watched key that did not exist, then created by another client.
    (0, &["WATCH", "fresh"]),
    (1, &["SET", "fresh", "x"]),
    (0, &["MULTI"]),
    (0, &["GET", "fresh"]),
    (0, &["EXEC"]),
    // UNWATCH forgets; DISCARD ends the watch too.
    (0, &["WATCH", "w"]),
    (1, &["DEL", "w"]),
    (0, &["UNWATCH"]),
    (0, &["MULTI"]),
    (0, &["SET", "w", "again"]),
    (0, &["EXEC"]),
    (0, &["WATCH", "w"]),
    (0, &["MULTI"]),
    (0, &["WATCH", "w"]),
    (0, &["DISCARD"]),
    (1, &["SET", "w", "z"]),
    (0, &["MULTI"]),
    (0, &["GET", "w"]),
    (0, &["EXEC"]),
    // The client's own write after WATCH counts too; so does FLUSHDB of a watched key.
    (0, &["WATCH", "w"]),
    (0, &["SET", "w", "self"]),
    (0, &["MULTI"]),
    (0, &["GET", "w"]),
    (0, &["EXEC"]),
    (0, &["WATCH", "w"]),
    (1, &["FLUSHDB"]),
    (0, &["MULTI"]),
    (0, &["PING"]),
    (0, &["EXEC"]),
    (0, &["WATCH"]),
];

fn run(conns: &mut [Conn; 2]) -> Vec<Vec<u8>> {
    SCRIPT
        .iter()
        .map(|(who, cmd)| {
            let args: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
            match conns[*who].call(&args) {
                Ok(r) => r.raw,
                Err(e) => format!("connection error: {e}").into_bytes(),
            }
        })
        .collect()
}

#[test]
fn transactions_answer_exactly_as_redis() {
    let redis = RedisServer::start();
    let server = Server::start(&[]);
    let mapcache_addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port()));
    let mut r = [
        Conn::connect(redis.addr, "redis"),
        Conn::connect(redis.addr, "redis"),
    ];
    let mut m = [
        Conn::connect(mapcache_addr, "mapcache"),
        Conn::connect(mapcache_addr, "mapcache"),
    ];
    let want = run(&mut r);
    let got = run(&mut m);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "step {i}: {:?}",
            SCRIPT[i]
        );
    }
}

#[test]
fn exec_is_atomic_under_concurrent_writers() {
    let server = Server::start(&[]);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], server.port()));
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        // A writer hammering the keys the transactions read and write.
        s.spawn(|| {
            let mut c = Conn::connect(addr, "writer");
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200_000 {
                let v = n.to_string().into_bytes();
                let _ = c.call(&[b"MSET".to_vec(), b"x".to_vec(), v.clone(), b"y".to_vec(), v]);
                n += 1;
            }
        });
        let mut c = Conn::connect(addr, "tx");
        for _ in 0..2000 {
            for cmd in [&[&b"MULTI"[..]][..], &[b"GET", b"x"], &[b"GET", b"y"]] {
                c.call_strs(cmd).unwrap();
            }
            let r = c.call_strs(&[b"EXEC"]).unwrap();
            // x and y are written together by MSET and read together inside EXEC: no
            // other client's command runs between them.
            let mapcache_resp::Frame::Array(items) = r else {
                panic!("EXEC answered {r:?}");
            };
            assert_eq!(items.len(), 2);
            assert_eq!(items[0], items[1], "x and y read at one instant");
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
}
