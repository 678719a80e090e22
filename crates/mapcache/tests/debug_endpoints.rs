//! The debug endpoints of the real binary (`--debug-endpoints`): CPU profiles in three
//! formats, one at a time, bounded parameters, the password, and jemalloc's figures.

mod support;

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::{http_get_bytes, http_get_with, json_u64, Server};

/// Long enough for a profile of a few seconds plus symbolising on a loaded machine.
const SLOW: Duration = Duration::from_secs(90);

fn get(server: &Server, path: &str) -> (u16, String, Vec<u8>) {
    http_get_bytes(server.http, path, &[], SLOW)
}

/// Keeps the server busy (pipelined SET/GET on one connection) until dropped, so that a
/// profile has samples.
struct Load {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl Load {
    fn start(server: &Server) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let mut conn = server.connect();
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut batch = Vec::new();
            for i in 0..64 {
                let _ = write!(
                    batch,
                    "*3\r\n$3\r\nSET\r\n$2\r\nk{}\r\n$5\r\nvalue\r\n",
                    i % 10
                );
                let _ = write!(batch, "*2\r\n$3\r\nGET\r\n$2\r\nk{}\r\n", i % 10);
            }
            // 64 "+OK\r\n" and 64 "$5\r\nvalue\r\n".
            let reply_len = 64 * 5 + 64 * 11;
            let mut rounds = 0u64;
            let started = std::time::Instant::now();
            while !flag.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
                let got = support::roundtrip(&mut conn, &batch, reply_len);
                assert_eq!(got.len(), reply_len, "short reply");
                rounds += 1;
            }
            rounds
        });
        Load {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let rounds = t.join().expect("load thread");
            assert!(rounds > 0, "the load never ran");
        }
    }
}

/// Walks a protobuf message's top-level fields; returns the strings of field 6 (the
/// pprof Profile's string_table), or an error if the bytes are not well-formed.
fn pprof_strings(mut b: &[u8]) -> Result<Vec<String>, String> {
    fn varint(b: &mut &[u8]) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = b.split_first().ok_or("truncated varint")?;
            *b = rest;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err("varint too long".into())
    }
    let mut strings = Vec::new();
    while !b.is_empty() {
        let key = varint(&mut b)?;
        let (field, wire) = (key >> 3, key & 7);
        match wire {
            0 => {
                varint(&mut b)?;
            }
            1 | 5 => {
                let n = if wire == 1 { 8 } else { 4 };
                if b.len() < n {
                    return Err("truncated fixed field".into());
                }
                b = &b[n..];
            }
            2 => {
                let n = varint(&mut b)? as usize;
                if b.len() < n {
                    return Err(format!(
                        "field {field}: {n} bytes announced, {} left",
                        b.len()
                    ));
                }
                if field == 6 {
                    strings.push(String::from_utf8_lossy(&b[..n]).into_owned());
                }
                b = &b[n..];
            }
            w => return Err(format!("field {field}: wire type {w}")),
        }
    }
    Ok(strings)
}

#[test]
fn debug_endpoints_are_off_by_default() {
    let server = Server::start(&[]);
    for path in [
        "/debug/pprof/profile?seconds=1",
        "/debug/allocator",
        "/debug/anything",
    ] {
        let (status, _, body) = get(&server, path);
        assert_eq!(status, 404, "{path}: {}", String::from_utf8_lossy(&body));
    }
}

#[test]
fn cpu_profile_in_three_formats() {
    let server = Server::start(&["--debug-endpoints"]);
    let load = Load::start(&server);

    // Folded stacks: `frame;frame;... count`, with samples.
    let (status, head, body) = get(&server, "/debug/pprof/profile?seconds=1&format=collapsed");
    let text = String::from_utf8(body).expect("utf8");
    assert_eq!(status, 200, "{head}\n{text}");
    let mut samples = 0u64;
    for line in text.lines() {
        let (stack, count) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line:?}"));
        let count: u64 = count
            .parse()
            .unwrap_or_else(|_| panic!("count in {line:?}"));
        assert!(count > 0 && !stack.is_empty(), "{line:?}");
        samples += count;
    }
    assert!(samples > 0, "no samples while the server was busy:\n{text}");
    // Our own code is in the stacks, its inlined frames named with their module.
    assert!(text.contains("mapcache_server::"), "{text}");

    // The flamegraph.
    let (status, head, body) = get(&server, "/debug/pprof/profile?seconds=1");
    let svg = String::from_utf8_lossy(&body);
    assert_eq!(status, 200, "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: image/svg+xml"),
        "{head}"
    );
    assert!(
        svg.starts_with("<?xml") || svg.starts_with("<svg"),
        "{}",
        &svg[..svg.len().min(200)]
    );
    assert!(svg.trim_end().ends_with("</svg>"));

    // pprof's protobuf: well-formed, with the sample type pprof-rs writes.
    let (status, head, body) = get(&server, "/debug/pprof/profile?seconds=1&format=pb");
    assert_eq!(status, 200, "{head}");
    assert!(!body.is_empty());
    let strings = pprof_strings(&body).expect("a protobuf message");
    for s in ["samples", "cpu", "nanoseconds"] {
        assert!(strings.iter().any(|x| x == s), "{s} not in {strings:?}");
    }
    assert!(
        strings.iter().any(|x| x.contains("mapcache")),
        "{strings:?}"
    );
    drop(load);
}

#[test]
fn profile_parameters_are_checked_and_one_runs_at_a_time() {
    let server = Server::start(&["--debug-endpoints"]);
    for bad in [
        "seconds=0",
        "seconds=61",
        "seconds=x",
        "format=png",
        "frequency=0",
    ] {
        let (status, _, body) = get(&server, &format!("/debug/pprof/profile?{bad}"));
        let body = String::from_utf8_lossy(&body);
        assert_eq!(status, 400, "{bad}: {body}");
        assert!(body.starts_with(r#"{"message":"#), "{body}");
    }
    // A 5 s profile, and meanwhile back-to-back 1 s ones: whichever starts second while
    // another runs must be refused, and at least one must succeed.
    let addr = server.http;
    let long = std::thread::spawn(move || {
        http_get_bytes(
            addr,
            "/debug/pprof/profile?seconds=5&format=collapsed",
            &[],
            SLOW,
        )
        .0
    });
    let mut statuses = Vec::new();
    while !long.is_finished() && statuses.len() < 30 {
        statuses.push(get(&server, "/debug/pprof/profile?seconds=1&format=collapsed").0);
    }
    statuses.push(long.join().expect("long profile"));
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 409),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&409),
        "no concurrent profile was refused: {statuses:?}"
    );
    assert!(statuses.contains(&200), "{statuses:?}");
    // Free again afterwards.
    assert_eq!(
        get(&server, "/debug/pprof/profile?seconds=1&format=collapsed").0,
        200
    );
}

#[test]
fn allocator_figures() {
    let server = Server::start(&["--debug-endpoints"]);
    let (status, body) = support::http_get(server.http, "/debug/allocator");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#""allocator":"jemalloc""#), "{body}");
    let allocated = json_u64(&body, "allocated");
    assert!(allocated > 0, "{body}");
    assert!(json_u64(&body, "resident") >= allocated, "{body}");
    assert!(json_u64(&body, "active") >= allocated, "{body}");
    assert!(
        json_u64(&body, "mapped") >= json_u64(&body, "active"),
        "{body}"
    );
    assert!(json_u64(&body, "metadata") > 0, "{body}");
    let (status, text) = support::http_get(server.http, "/debug/allocator?format=text");
    assert_eq!(status, 200);
    assert!(
        text.contains("jemalloc statistics"),
        "{}",
        &text[..text.len().min(300)]
    );
}

#[test]
fn debug_endpoints_require_the_password() {
    let server = Server::start(&["--debug-endpoints", "--requirepass", "s3cret"]);
    for path in ["/debug/allocator", "/debug/pprof/profile?seconds=1"] {
        assert_eq!(http_get_with(server.http, path, &[]).0, 401, "{path}");
        assert_eq!(
            http_get_with(server.http, path, &["Authorization: Bearer wrong"]).0,
            401,
            "{path}"
        );
    }
    let (status, _, body) = http_get_with(
        server.http,
        "/debug/allocator",
        &["Authorization: Bearer s3cret"],
    );
    assert_eq!(status, 200, "{body}");
    let (status, _, _) = http_get_bytes(
        server.http,
        "/debug/pprof/profile?seconds=1&format=collapsed",
        &["Authorization: Bearer s3cret"],
        SLOW,
    );
    assert_eq!(status, 200);
}
