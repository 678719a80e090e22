//! Connection limits: maxclients, idle timeout, pipelining depth.

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
