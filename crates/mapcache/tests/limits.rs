//! Connection limits: maxclients, idle timeout, pipelining depth, and what an idle client
//! costs.

mod support;
use std::io::Write;
use std::time::{Duration, Instant};
use support::{read_n, read_to_close, roundtrip, Server};

#[test]
fn maxclients_rejects_the_next_connection_with_redis_text() {
    let server = Server::start(&["--maxclients", "3"]);
    let mut held: Vec<_> = (0..3).map(|_| server.connect()).collect();
    for c in &mut held {
        assert_eq!(roundtrip(c, b"PING\r\n", 7), b"+PONG\r\n");
    }
    let mut extra = server.connect();
    assert_eq!(
        String::from_utf8_lossy(&read_to_close(&mut extra)),
        "-ERR max number of clients reached\r\n"
    );
    // Freeing a slot admits a new client.
    drop(held.pop());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = server.connect();
        c.write_all(b"PING\r\n").unwrap();
        let got = read_n(&mut c, 7);
        if got == b"+PONG\r\n" {
            break;
        }
        assert!(Instant::now() < deadline, "slot was never freed: {got:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn idle_clients_are_closed_after_timeout() {
    let server = Server::start(&["--timeout", "1"]);
    let mut c = server.connect();
    assert_eq!(roundtrip(&mut c, b"PING\r\n", 7), b"+PONG\r\n");
    let start = Instant::now();
    assert!(read_to_close(&mut c).is_empty());
    assert!(start.elapsed() >= Duration::from_millis(900));
}

#[test]
fn ten_thousand_pipelined_commands_answer_in_order() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    let mut burst = Vec::new();
    let mut expected = Vec::new();
    for i in 0..10_000 {
        let v = i.to_string();
        burst.extend_from_slice(format!("*2\r\n$4\r\nECHO\r\n${}\r\n{v}\r\n", v.len()).as_bytes());
        expected.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    c.write_all(&burst).unwrap();
    let got = read_n(&mut c, expected.len());
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "replies out of order or corrupted");
}

/// The heap an idle client costs, from INFO's `used_memory` (jemalloc's allocated
/// bytes): an idle connection holds no read or reply buffer (they are taken per batch),
/// only its task and its client entry. With its two 16 KiB buffers it cost over 32 KiB.
#[test]
fn idle_clients_hold_no_buffers() {
    let server = Server::start(&[]);
    let used_memory = || {
        let info = support::redis_cli(server.port(), &["INFO", "memory"]);
        support::info_field(&info, "used_memory")
            .and_then(|v| v.parse::<i64>().ok())
            .expect("used_memory")
    };
    let before = used_memory();
    let n = 400;
    let mut held: Vec<_> = (0..n).map(|_| server.connect()).collect();
    for c in &mut held {
        // A command that needs a large read and a large reply first: both buffers grow.
        let value = "x".repeat(20_000);
        let set = format!(
            "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${}\r\n{value}\r\n",
            value.len()
        );
        assert_eq!(roundtrip(c, set.as_bytes(), 5), b"+OK\r\n");
        assert_eq!(roundtrip(c, b"GET k\r\n", 20_010).len(), 20_010);
    }
    std::thread::sleep(Duration::from_millis(200));
    let per_client = (used_memory() - before) / n as i64;
    assert!(
        per_client < 8 * 1024,
        "{per_client} heap bytes per idle client (before {before})"
    );
    // Every one of them still answers.
    for c in &mut held {
        assert_eq!(roundtrip(c, b"PING\r\n", 7), b"+PONG\r\n");
    }
}
