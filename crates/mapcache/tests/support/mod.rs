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
    /// The server's log lines after "ready" (the last 10,000), ANSI colours removed.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary with `--port 0 --http-port 0` plus `extra` flags and waits for
    /// its "ready" log line, which names the ports it bound.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_with_log(extra, "info")
    }

    /// [`Server::start`] with another `--log-level` filter (e.g. a module at debug).
    pub fn start_with_log(extra: &[&str], log_level: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mapcache"))
            .args(["--port", "0", "--http-port", "0", "--log-level", log_level])
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
        let mut seen = Vec::new();
        while resp.is_none() || http.is_none() {
            assert!(Instant::now() < deadline, "mapcache did not report ready");
            let Some(line) = lines.next() else {
                panic!("mapcache exited before ready: {}", seen.join(" | "));
            };
            let line = strip_ansi(&line.expect("read stderr"));
            seen.push(line.clone());
            if line.contains("mapcache ready") {
                resp = field(&line, "resp_addr=");
                http = field(&line, "http_addr=");
            }
        }
        // Keep draining stderr so the server never blocks on a full pipe.
        // MAPCACHE_TEST_LOG=1 echoes the server's log into the test's output.
        let echo = std::env::var_os("MAPCACHE_TEST_LOG").is_some();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = log.clone();
        std::thread::spawn(move || {
            for line in lines.by_ref().map_while(Result::ok) {
                if echo {
                    eprintln!("[mapcache] {line}");
                }
                let mut kept = kept.lock().unwrap();
                if kept.len() < 10_000 {
                    kept.push(strip_ansi(&line));
                }
            }
        });
        Server {
            child,
            resp: resp.unwrap(),
            http: http.unwrap(),
            log,
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
#[track_caller]
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let out = Command::new(tool("redis-cli", "redis-tools"))
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(
        out.status.success(),
        "redis-cli failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf8")
}

/// redis-cli with `input` on stdin.
#[track_caller]
pub fn redis_cli_stdin(port: u16, args: &[&str], input: &[u8]) -> String {
    let mut child = Command::new(tool("redis-cli", "redis-tools"))
        .args(["-p", &port.to_string()])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run redis-cli");
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

/// GET `path` with extra request header lines (each `Name: value`); returns (status
/// code, the raw response head, body).
pub fn http_get_with(addr: SocketAddr, path: &str, headers: &[&str]) -> (u16, String, String) {
    let (status, head, body) = http_get_bytes(addr, path, headers, Duration::from_secs(10));
    (
        status,
        head,
        String::from_utf8(body).expect("UTF-8 response body"),
    )
}

/// The samples of a Prometheus text exposition: (name, labels as `k="v",...`, value).
pub fn prometheus_samples(text: &str) -> Vec<(String, String, f64)> {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("bad sample line {l:?}"));
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("bad value in {l:?}")),
            };
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n.to_string(), rest.trim_end_matches('}').to_string()),
                None => (series.to_string(), String::new()),
            };
            (name, labels, value)
        })
        .collect()
}

/// The value of one series (`labels` exactly as rendered, e.g. `cmd="get"`), or 0
/// when it is absent.
pub fn prometheus_value(text: &str, name: &str, labels: &str) -> f64 {
    prometheus_samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && l == labels)
        .map_or(0.0, |s| s.2)
}

/// The `field:value` lines of an INFO reply.
pub fn info_field(info: &str, field: &str) -> Option<String> {
    info.lines().find_map(|l| {
        l.trim_end()
            .strip_prefix(&format!("{field}:"))
            .map(str::to_string)
    })
}

/// Sends each command in `cmds` as inline text on one connection, pipelined, and reads
/// `cmds.len()` replies with `redis-cli`-free raw parsing (one line each: commands
/// whose replies are simple strings, integers, errors or small bulks).
pub fn pipeline_simple(s: &mut TcpStream, cmds: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for c in cmds {
        out.extend_from_slice(c.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    s.write_all(&out).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut replies = Vec::new();
    while replies.len() < cmds.len() {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read reply");
        assert!(!line.is_empty(), "connection closed");
        if let Some(n) = line.strip_prefix('$') {
            let n: i64 = n.trim().parse().unwrap();
            if n >= 0 {
                let mut body = vec![0u8; n as usize + 2];
                reader.read_exact(&mut body).unwrap();
                replies.push(String::from_utf8_lossy(&body[..n as usize]).into_owned());
                continue;
            }
        }
        replies.push(line.trim_end().to_string());
    }
    replies
}

/// Sends commands as RESP multibulk requests (what proxies such as twemproxy accept),
/// pipelined, and reads one reply line per command (bulk replies as their text,
/// `$-1` as "(nil)").
pub fn resp_pipeline(s: &mut TcpStream, cmds: &[Vec<String>]) -> Vec<String> {
    let mut out = Vec::new();
    for c in cmds {
        out.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
        for a in c {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
    }
    s.write_all(&out).unwrap();
    let mut reader = BufReader::new(s.try_clone().unwrap());
    let mut replies = Vec::with_capacity(cmds.len());
    while replies.len() < cmds.len() {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read reply");
        assert!(
            !line.is_empty(),
            "connection closed after {} replies",
            replies.len()
        );
        if let Some(n) = line.strip_prefix('$') {
            let n: i64 = n.trim().parse().unwrap();
            if n < 0 {
                replies.push("(nil)".to_string());
            } else {
                let mut body = vec![0u8; n as usize + 2];
                reader.read_exact(&mut body).unwrap();
                replies.push(String::from_utf8_lossy(&body[..n as usize]).into_owned());
            }
            continue;
        }
        replies.push(line.trim_end().to_string());
    }
    replies
}

/// A free loopback TCP port (bound and released; a short race is acceptable in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The path of an external program a test needs, found on `PATH` (or in /usr/sbin,
/// /sbin, where Debian puts nutcracker): an executable regular file. A missing one
/// fails the test with one line naming the Debian package; it is never skipped, since a
/// comparison that did not run is not a pass. `cargo xtask test` installs every
/// package named here (its list, `xtask/src/test.rs`, is checked against these calls).
#[track_caller]
pub fn tool(name: &str, package: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let paths = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&paths)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        });
    match found {
        Some(p) => p.to_string_lossy().into_owned(),
        None => panic!(
            "{name} not found: install the Debian package {package} (cargo xtask test installs it)"
        ),
    }
}

/// A child process killed and reaped on drop (by its own handle, i.e. by PID).
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh temporary directory, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let p = std::env::temp_dir().join(format!("mapcache-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// GET `path` with extra header lines, reading a binary body (the response must be
/// `Content-Length`-framed or end at close; `Connection: close` is sent). Waits at most
/// `timeout` for each read. Returns (status, head, body bytes).
pub fn http_get_bytes(
    addr: SocketAddr,
    path: &str,
    headers: &[&str],
    timeout: Duration,
) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect http");
    s.set_read_timeout(Some(timeout)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read http response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of HTTP head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, head, raw[split + 4..].to_vec())
}
