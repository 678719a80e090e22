//! Many clients at once over the network: multi-key commands are atomic.

mod support;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use support::Server;

/// Sends one inline command and reads one reply line (plus bulk bodies for MGET).
fn mget(conn: &mut BufReader<TcpStream>, keys: &[String]) -> Vec<Option<String>> {
    let cmd = format!("MGET {}\r\n", keys.join(" "));
    conn.get_mut().write_all(cmd.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    let n: usize = line
        .trim_end()
        .strip_prefix('*')
        .expect("array")
        .parse()
        .unwrap();
    (0..n)
        .map(|_| {
            line.clear();
            conn.read_line(&mut line).unwrap();
            if line.starts_with("$-1") {
                None
            } else {
                let mut body = String::new();
                conn.read_line(&mut body).unwrap();
                Some(body.trim_end().to_string())
            }
        })
        .collect()
}

fn expect_line(conn: &mut BufReader<TcpStream>, cmd: &str) -> String {
    conn.get_mut().write_all(cmd.as_bytes()).unwrap();
    let mut line = String::new();
    conn.read_line(&mut line).unwrap();
    line
}

#[test]
fn readers_never_see_a_partial_mset_or_rename() {
    let server = Server::start(&[]);
    let keys: Vec<String> = (0..16).map(|i| format!("k{i}")).collect();
    // From here on exactly one of pair:w / moved:w exists at any instant.
    let mut setup = BufReader::new(server.connect());
    assert_eq!(
        expect_line(&mut setup, "MSET pair:0 x pair:1 x pair:2 x pair:3 x\r\n"),
        "+OK\r\n"
    );
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let keys = keys.clone();
            let mut conn = BufReader::new(server.connect());
            std::thread::spawn(move || {
                for round in 0..400 {
                    let v = format!("w{w}r{round}");
                    let pairs: Vec<String> = keys.iter().map(|k| format!("{k} {v}")).collect();
                    assert_eq!(
                        expect_line(&mut conn, &format!("MSET {}\r\n", pairs.join(" "))),
                        "+OK\r\n"
                    );
                    // Move a key away and back: RENAME is atomic, so a reader always sees
                    // exactly one of the two names (never both, never neither).
                    let a = expect_line(&mut conn, &format!("MSET tmp:{w} {v} pair:{w} {v}\r\n"));
                    assert_eq!(a, "+OK\r\n");
                    let r = expect_line(&mut conn, &format!("RENAME pair:{w} moved:{w}\r\n"));
                    assert_eq!(r, "+OK\r\n");
                    let r = expect_line(&mut conn, &format!("RENAME moved:{w} pair:{w}\r\n"));
                    assert_eq!(r, "+OK\r\n");
                }
            })
        })
        .collect();
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let keys = keys.clone();
            let mut conn = BufReader::new(server.connect());
            std::thread::spawn(move || {
                let mut checks = 0;
                for _ in 0..800 {
                    let values = mget(&mut conn, &keys);
                    assert!(
                        values.windows(2).all(|w| w[0] == w[1]),
                        "MGET saw a partial MSET: {values:?}"
                    );
                    for w in 0..4 {
                        let moved = mget(&mut conn, &[format!("pair:{w}"), format!("moved:{w}")]);
                        assert!(
                            moved.iter().filter(|v| v.is_some()).count() == 1,
                            "a RENAME was seen half done: {moved:?}"
                        );
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    for r in readers {
        assert_eq!(r.join().unwrap(), 800);
    }
}
