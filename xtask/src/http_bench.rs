//! `cargo xtask http-bench`: GET of a leaf and of a 40 KB branch over HTTP
//! (`GET /api/v1/keys/...`) against the same reads over RESP (`GET`, and `HGETALL` of
//! the same branch in path key mode), on one mapcache release binary.
//!
//! Each case runs `conns` keep-alive connections, one thread each, sending requests
//! one at a time (no pipelining: HTTP/1.1 clients rarely pipeline), and reports
//! requests per second, latency quantiles and the server's CPU time per request
//! (utime + stime of all its threads from /proc, before and after).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use mapcache_resp::Frame;

use crate::load::{new_hist, record, Quantiles, SyncClient};
use crate::server::Server;

#[derive(Debug, Clone)]
pub struct Opts {
    pub requests: u64,
    pub conns: usize,
    pub rounds: usize,
}

/// A keep-alive HTTP/1.1 connection that reads `Content-Length` bodies.
struct HttpConn {
    stream: TcpStream,
    buf: Vec<u8>,
    req: Vec<u8>,
}

impl HttpConn {
    fn connect(addr: SocketAddr, path: &str) -> Result<HttpConn> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(HttpConn {
            stream,
            buf: Vec::with_capacity(64 * 1024),
            req: format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").into_bytes(),
        })
    }

    /// Sends the request and reads the whole answer; the body's length.
    fn get(&mut self) -> Result<usize> {
        self.stream.write_all(&self.req)?;
        let mut chunk = [0u8; 64 * 1024];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end]).context("head")?;
                if !head.starts_with("HTTP/1.1 200") {
                    bail!("unexpected answer: {head}");
                }
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .context("no content-length")?;
                let total = end + 4 + len;
                while self.buf.len() < total {
                    let n = self.stream.read(&mut chunk)?;
                    if n == 0 {
                        bail!("connection closed");
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                self.buf.drain(..total);
                return Ok(len);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

/// One measured case.
#[derive(Debug)]
struct Outcome {
    rps: f64,
    lat: Quantiles,
    cpu_us_per_req: f64,
    reply_bytes: usize,
}

/// Runs `per_conn` requests on each of `conns` threads, each with its own client made
/// by `make`, whose `call` answers the reply's size.
fn measure<C: FnMut() -> Result<usize>>(
    server: &Server,
    conns: usize,
    per_conn: u64,
    make: impl Fn() -> Result<C> + Sync,
) -> Result<Outcome> {
    let barrier = Arc::new(Barrier::new(conns + 1));
    let before = server.proc_stats();
    let (hists, sizes, start) = std::thread::scope(|s| -> Result<_> {
        let handles: Vec<_> = (0..conns)
            .map(|_| {
                let barrier = barrier.clone();
                let make = &make;
                s.spawn(move || -> Result<_> {
                    let mut call = make()?;
                    call()?; // warm the connection
                    let mut h = new_hist();
                    let mut size = 0;
                    barrier.wait();
                    for _ in 0..per_conn {
                        let t = Instant::now();
                        size = call()?;
                        record(&mut h, t.elapsed());
                    }
                    Ok((h, size))
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        let mut hists = Vec::new();
        let mut sizes = 0;
        for h in handles {
            let (hist, size) = h
                .join()
                .map_err(|_| anyhow::anyhow!("client thread panicked"))??;
            hists.push(hist);
            sizes = size;
        }
        Ok((hists, sizes, start))
    })?;
    let elapsed = start.elapsed();
    let after = server.proc_stats();
    let mut all = new_hist();
    for h in &hists {
        all.add(h).context("merging histograms")?;
    }
    let total = per_conn * conns as u64;
    let cpu = match (before, after) {
        (Some(b), Some(a)) => (a.cpu_s - b.cpu_s) * 1e6 / total as f64,
        _ => f64::NAN,
    };
    Ok(Outcome {
        rps: total as f64 / elapsed.as_secs_f64(),
        lat: Quantiles::of(&all),
        cpu_us_per_req: cpu,
        reply_bytes: sizes,
    })
}

fn resp_size(f: &Frame) -> usize {
    match f {
        Frame::Bulk(b) => b.len(),
        Frame::Array(items) => items.iter().map(resp_size).sum(),
        _ => 0,
    }
}

/// One request a case repeats: an HTTP GET of a path, or a RESP command.
enum Request {
    Http(&'static str),
    Resp(&'static [&'static [u8]]),
}

impl Request {
    /// A new connection, and the call that sends the request once and answers the
    /// reply's size.
    fn connect(
        &self,
        http: SocketAddr,
        resp: SocketAddr,
    ) -> Result<Box<dyn FnMut() -> Result<usize>>> {
        Ok(match *self {
            Request::Http(path) => {
                let mut h = HttpConn::connect(http, path)?;
                Box::new(move || h.get())
            }
            Request::Resp(args) => {
                let mut c = SyncClient::connect(resp)?;
                Box::new(move || c.call(args).map(|f| resp_size(&f)))
            }
        })
    }

    /// `HTTP GET /path` or `RESP GET key`, for the report.
    fn describe(&self) -> String {
        match self {
            Request::Http(path) => format!("HTTP GET {path}"),
            Request::Resp(args) => {
                let words: Vec<_> = args.iter().map(|a| String::from_utf8_lossy(a)).collect();
                format!("RESP {}", words.join(" "))
            }
        }
    }
}

/// The 40 KB branch: an object of 400 fields of 90-byte strings.
fn branch_fields() -> Vec<(String, String)> {
    (0..400)
        .map(|i| (format!("f{i:03}"), format!("{i:03}-{}", "v".repeat(86))))
        .collect()
}

pub fn run(bin: &std::path::Path, opts: &Opts, command: &str) -> Result<String> {
    let server = Server::start_mapcache_with(bin, None, &["--key-mode", "path"])?;
    let http = server.http.context("no HTTP address")?;
    let resp = server.addr;
    // Data, written over RESP (path mode): a leaf and a branch, the same for both sides.
    let mut c = SyncClient::connect(resp)?;
    c.call(&[b"SET", b"user:100:name", b"Alice"])?;
    let mut args: Vec<Vec<u8>> = vec![b"HSET".to_vec(), b"doc:branch".to_vec()];
    for (k, v) in branch_fields() {
        args.push(k.into_bytes());
        args.push(v.into_bytes());
    }
    let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
    c.call(&refs)?;

    let cases: [(&str, Request); 4] = [
        ("leaf", Request::Http("/api/v1/keys/user/100/name")),
        ("leaf", Request::Resp(&[b"GET", b"user:100:name"])),
        ("40 KB branch", Request::Http("/api/v1/keys/doc/branch")),
        ("40 KB branch", Request::Resp(&[b"HGETALL", b"doc:branch"])),
    ];
    let per_conn = (opts.requests / opts.conns as u64).max(1);
    // Rounds alternate the cases; each figure is the median over rounds.
    let mut results: Vec<Vec<Outcome>> = (0..cases.len()).map(|_| Vec::new()).collect();
    for _ in 0..opts.rounds.max(1) {
        for (i, (_, request)) in cases.iter().enumerate() {
            let make = || request.connect(http, resp);
            results[i].push(measure(&server, opts.conns, per_conn, make)?);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut md = String::new();
    md.push_str(&format!(
        "`{command}`: {} requests per case, {} connections, {} round(s), medians; mapcache in path key mode\n\n",
        per_conn * opts.conns as u64,
        opts.conns,
        opts.rounds.max(1)
    ));
    md.push_str("| read | request | reply bytes | req/s | p50 µs | p99 µs | server CPU µs/req |\n");
    md.push_str("|---|---|---:|---:|---:|---:|---:|\n");
    for ((what, request), rs) in cases.iter().zip(&mut results) {
        let rps = median(&mut rs.iter().map(|o| o.rps).collect());
        let p50 = median(&mut rs.iter().map(|o| o.lat.p50).collect());
        let p99 = median(&mut rs.iter().map(|o| o.lat.p99).collect());
        let cpu = median(&mut rs.iter().map(|o| o.cpu_us_per_req).collect());
        md.push_str(&format!(
            "| {what} | `{}` | {} | {rps:.0} | {p50:.1} | {p99:.1} | {cpu:.2} |\n",
            request.describe(),
            rs[0].reply_bytes
        ));
    }
    Ok(md)
}
