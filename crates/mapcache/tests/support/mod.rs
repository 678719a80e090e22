//! Starts the real `mapcache` binary on free loopback ports and talks to it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `mapcache` process, killed (by its PID, via the Child handle) on drop.
pub struct Server {
    pub child: Child,
    pub resp: SocketAddr,
    pub http: SocketAddr,
}

impl Server {
    /// Starts the binary with `--port 0 --http-port 0` plus `extra` flags and waits for
    /// its "ready" log line, which names the ports it bound.
    pub fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mapcache"))
            .args(["--port", "0", "--http-port", "0", "--log-level", "info"])
            .args(extra)
            .env_remove("RUST_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mapcache");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let deadline = Instant::now() + Duration::from_secs(20);
        let (mut resp, mut http) = (None, None);
        while resp.is_none() || http.is_none() {
            assert!(Instant::now() < deadline, "mapcache did not report ready");
            let line = lines
                .next()
                .expect("mapcache exited before ready")
                .expect("read stderr");
            let line = strip_ansi(&line);
            if line.contains("mapcache ready") {
                resp = field(&line, "resp_addr=");
                http = field(&line, "http_addr=");
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        // MAPCACHE_TEST_LOG=1 echoes the server's log into the test's output.
        let echo = std::env::var_os("MAPCACHE_TEST_LOG").is_some();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                if echo {
                    eprintln!("[mapcache] {line}");
                }
            }
        });
        Server {
            child,
            resp: resp.unwrap(),
            http: http.unwrap(),
        }
    }

    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect(self.resp).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    pub fn port(&self) -> u16 {
        self.resp.port()
    }

    /// Sends SIGTERM and waits for the exit status (bounded).
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        // SAFETY-free: `kill` the child we spawned, by its PID.
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(st) = self.child.try_wait().expect("wait") {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "mapcache did not exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let start = line.find(key)? + key.len();
    line[start..].split_whitespace().next()?.parse().ok()
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut esc = false;
    for c in s.chars() {
        match (esc, c) {
            (false, '\u{1b}') => esc = true,
            (true, 'm') => esc = false,
            (true, _) => {}
            (false, c) => out.push(c),
        }
    }
    out
}

/// Sends raw bytes and reads until `expected_len` bytes arrived (or the peer closed).
pub fn roundtrip(s: &mut TcpStream, send: &[u8], expected_len: usize) -> Vec<u8> {
    s.write_all(send).unwrap();
    read_n(s, expected_len)
}

pub fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match s.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(e) => panic!("read after {got} of {n} bytes: {e}"),
        }
    }
    buf.truncate(got);
    buf
}

/// Reads until the peer closes the connection.
pub fn read_to_close(s: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

/// Runs `redis-cli -p PORT args...` and returns its stdout.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("redis-cli is installed (apt-get install redis-tools)");
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// redis-cli with `input` on stdin.
pub fn redis_cli_stdin(port: u16, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("redis-cli is installed");
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).expect("utf8")
}

/// GET `path` from the server's HTTP port; returns (status code, body).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).expect("read http response");
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The integer value of `"field":N` in a flat JSON text.
pub fn json_u64(json: &str, field: &str) -> u64 {
    let key = format!("\"{field}\":");
    let start = json
        .find(&key)
        .unwrap_or_else(|| panic!("no {field} in {json}"))
        + key.len();
    json[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}
