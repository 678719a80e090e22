//! SIGTERM while clients pipeline: every reply written is complete, the process exits 0.

mod support;
use std::io::{Read, Write};
use std::time::Duration;
use support::{roundtrip, Server};

#[test]
fn sigterm_drains_and_exits_zero() {
    let mut server = Server::start(&[]);
    let mut clients: Vec<_> = (0..8).map(|_| server.connect()).collect();
    for c in &mut clients {
        assert_eq!(roundtrip(c, b"PING\r\n", 7), b"+PONG\r\n");
    }
    // Each writer keeps pipelining SET batches until the server goes away; each batch is
    // 100 commands whose replies are all "+OK\r\n".
    let writers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(n, mut c)| {
            std::thread::spawn(move || {
                c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let batch: Vec<u8> = (0..100)
                    .flat_map(|i| format!("SET k{n}:{i} v\r\n").into_bytes())
                    .collect();
                let mut received = Vec::new();
                let mut buf = [0u8; 65536];
                'outer: for _ in 0..10_000 {
                    if c.write_all(&batch).is_err() {
                        break;
                    }
                    let want = received.len() + 500;
                    while received.len() < want {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => break 'outer,
                            Ok(k) => received.extend_from_slice(&buf[..k]),
                        }
                    }
                }
                received
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let status = server.terminate();
    assert!(status.success(), "exit status {status:?}");
    for w in writers {
        let received = w.join().unwrap();
        assert!(!received.is_empty());
        assert_eq!(received.len() % 5, 0, "a reply was cut short");
        assert!(
            received.chunks(5).all(|r| r == b"+OK\r\n"),
            "corrupted reply"
        );
    }
}
