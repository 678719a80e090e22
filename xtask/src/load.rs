//! The load generator: an async RESP client on tokio over `mapcache-resp`.
//!
//! `conns` connections each send batches of `depth` requests (one write), then read
//! the `depth` replies. A request's latency is the time from the batch's write to the
//! read that completed its reply, recorded in one HDR histogram. A reply that is an
//! error, or not what the [`Workload`] said it must be, counts as an error; so does
//! every reply a broken connection or a timeout leaves unanswered.
//!
//! Every loop is bounded: by a request count or a duration, and a hard wall-clock cap.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use hdrhistogram::Histogram;
use mapcache_resp::{decode_frame, encode, Frame, Limits};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

/// What a reply must be. An error reply is always an error.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// `+OK`.
    Ok,
    /// `+PONG`.
    Pong,
    /// Exactly this integer.
    Int(i64),
    /// Any integer.
    AnyInt,
    /// A bulk string with exactly these bytes.
    Bulk(Bytes),
    /// A bulk string or nil.
    BulkOrNull,
    /// `+QUEUED` (a command queued inside MULTI).
    Queued,
    /// An array of exactly this many integers (EXEC of that many INCRs).
    IntArray(usize),
}

impl Expect {
    pub fn check(&self, f: &Frame) -> bool {
        match (self, f) {
            (_, Frame::Error(_)) => false,
            (Expect::Ok, Frame::Simple(s)) => &s[..] == b"OK",
            (Expect::Pong, Frame::Simple(s)) => &s[..] == b"PONG",
            (Expect::Int(n), Frame::Integer(m)) => n == m,
            (Expect::AnyInt, Frame::Integer(_)) => true,
            (Expect::Bulk(v), Frame::Bulk(b)) => v == b,
            (Expect::BulkOrNull, Frame::Bulk(_) | Frame::Null) => true,
            (Expect::Queued, Frame::Simple(s)) => &s[..] == b"QUEUED",
            (Expect::IntArray(n), Frame::Array(v)) => {
                v.len() == *n && v.iter().all(|f| matches!(f, Frame::Integer(_)))
            }
            _ => false,
        }
    }
}

/// Generates the requests of a run.
pub trait Workload: Send + Sync + 'static {
    /// Appends request number `seq` of connection `conn` to `buf`; returns what its
    /// reply must be.
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect;
}

/// When each connection stops.
#[derive(Clone, Copy, Debug)]
pub enum Stop {
    /// After this many requests per connection.
    Count(u64),
    /// After this long (the batch in flight completes).
    Time(Duration),
}

#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub conns: usize,
    pub depth: usize,
    pub stop: Stop,
    /// Check replies against [`Expect`] (off against the self-test server, which
    /// answers `+OK` to everything).
    pub verify: bool,
    /// Longest wait for one batch's write or replies.
    pub io_timeout: Duration,
    /// Hard cap on the whole run's duration, whatever `stop` says.
    pub max_wall: Duration,
}

impl Spec {
    pub fn new(conns: usize, depth: usize, stop: Stop) -> Self {
        Spec {
            conns,
            depth: depth.max(1),
            stop,
            verify: true,
            io_timeout: Duration::from_secs(10),
            max_wall: Duration::from_secs(300),
        }
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct Outcome {
    /// Replies received (correct or not).
    pub ops: u64,
    /// Wrong replies, error replies and requests left unanswered.
    pub errors: u64,
    /// From the first request to the last reply.
    pub elapsed: Duration,
    /// Per-request latency in nanoseconds.
    pub hist: Histogram<u64>,
    /// The first few errors, as text.
    pub samples: Vec<String>,
}

impl Outcome {
    pub fn ops_per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// A latency histogram in nanoseconds, 1 µs .. 120 s, 3 significant figures.
pub fn new_hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1_000, 120_000_000_000, 3).expect("valid histogram bounds")
}

/// Records `d` (clamped to the histogram's range).
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = (d.as_nanos() as u64).clamp(1_000, 120_000_000_000);
    h.saturating_record(ns);
}

const MAX_SAMPLES: usize = 5;

#[derive(Debug)]
struct Shared {
    hist: Mutex<Histogram<u64>>,
    samples: Mutex<Vec<String>>,
}

impl Shared {
    fn sample(&self, msg: String) {
        let mut s = self.samples.lock().expect("samples lock");
        if s.len() < MAX_SAMPLES {
            s.push(msg);
        }
    }
}

/// Opens `n` connections to `addr`, at most 256 connects in flight.
pub async fn connect_many(
    addr: SocketAddr,
    n: usize,
    timeout: Duration,
) -> Vec<std::io::Result<TcpStream>> {
    let mut out = Vec::with_capacity(n);
    let mut left = n;
    while left > 0 {
        let chunk = left.min(256);
        let mut set = JoinSet::new();
        for i in 0..chunk {
            set.spawn(async move {
                let r = match tokio::time::timeout(timeout, TcpStream::connect(addr)).await {
                    Ok(r) => r,
                    Err(_) => Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "connect timed out",
                    )),
                };
                (i, r.and_then(|s| s.set_nodelay(true).map(|()| s)))
            });
        }
        let mut chunk_out: Vec<(usize, std::io::Result<TcpStream>)> = Vec::with_capacity(chunk);
        while let Some(r) = set.join_next().await {
            match r {
                Ok(x) => chunk_out.push(x),
                Err(e) => chunk_out.push((usize::MAX, Err(std::io::Error::other(e.to_string())))),
            }
        }
        chunk_out.sort_by_key(|(i, _)| *i);
        out.extend(chunk_out.into_iter().map(|(_, r)| r));
        left -= chunk;
    }
    out
}

/// Runs `spec` against `addr` with requests from `work`.
pub async fn run<W: Workload>(addr: SocketAddr, spec: Spec, work: Arc<W>) -> Outcome {
    let shared = Arc::new(Shared {
        hist: Mutex::new(new_hist()),
        samples: Mutex::new(Vec::new()),
    });
    let mut errors = 0u64;
    let streams = connect_many(addr, spec.conns, spec.io_timeout).await;
    let start = Instant::now();
    let mut set = JoinSet::new();
    for (conn, s) in streams.into_iter().enumerate() {
        match s {
            Ok(stream) => {
                let (work, shared) = (work.clone(), shared.clone());
                set.spawn(conn_loop(stream, conn, spec, start, work, shared));
            }
            Err(e) => {
                errors += 1;
                shared.sample(format!("connect: {e}"));
            }
        }
    }
    let mut ops = 0u64;
    while let Some(r) = set.join_next().await {
        match r {
            Ok((o, e)) => {
                ops += o;
                errors += e;
            }
            Err(e) => {
                errors += 1;
                shared.sample(format!("connection task: {e}"));
            }
        }
    }
    let elapsed = start.elapsed();
    let shared = Arc::try_unwrap(shared).expect("all tasks joined");
    Outcome {
        ops,
        errors,
        elapsed,
        hist: shared.hist.into_inner().expect("hist lock"),
        samples: shared.samples.into_inner().expect("samples lock"),
    }
}

/// One connection: batches until `spec.stop`; returns (replies, errors).
async fn conn_loop<W: Workload>(
    mut stream: TcpStream,
    conn: usize,
    spec: Spec,
    start: Instant,
    work: Arc<W>,
    shared: Arc<Shared>,
) -> (u64, u64) {
    let limits = Limits::default();
    let mut wbuf = BytesMut::with_capacity(64 * spec.depth);
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut expects: Vec<Expect> = Vec::with_capacity(spec.depth);
    let mut lat: Vec<Duration> = Vec::with_capacity(spec.depth);
    let (mut seq, mut ops, mut errors) = (0u64, 0u64, 0u64);
    loop {
        let n = match spec.stop {
            Stop::Count(total) => (total - seq).min(spec.depth as u64) as usize,
            Stop::Time(d) if start.elapsed() < d => spec.depth,
            Stop::Time(_) => 0,
        };
        if n == 0 {
            break;
        }
        if start.elapsed() > spec.max_wall {
            errors += 1;
            shared.sample(format!(
                "conn {conn}: run exceeded its {:?} cap",
                spec.max_wall
            ));
            break;
        }
        wbuf.clear();
        expects.clear();
        lat.clear();
        for _ in 0..n {
            expects.push(work.request(conn, seq, &mut wbuf));
            seq += 1;
        }
        let t0 = Instant::now();
        let batch = async {
            stream.write_all(&wbuf).await?;
            let mut got = 0;
            while got < n {
                if stream.read_buf(&mut rbuf).await? == 0 {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ));
                }
                let now = t0.elapsed();
                while got < n {
                    match decode_frame(&mut rbuf, &limits) {
                        Ok(Some(f)) => {
                            let exp = &expects[got];
                            if (spec.verify || matches!(f, Frame::Error(_))) && !exp.check(&f) {
                                errors += 1;
                                shared.sample(format!("conn {conn}: expected {exp:?}, got {f:?}"));
                            }
                            lat.push(now);
                            got += 1;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            return Err(std::io::Error::new(
                                std::io::ErrorKind::InvalidData,
                                e.to_string(),
                            ))
                        }
                    }
                }
            }
            Ok::<usize, std::io::Error>(got)
        };
        match tokio::time::timeout(spec.io_timeout, batch).await {
            Ok(Ok(got)) => ops += got as u64,
            Ok(Err(e)) => {
                ops += lat.len() as u64;
                errors += (n - lat.len()) as u64;
                shared.sample(format!("conn {conn}: {e}"));
                break;
            }
            Err(_) => {
                ops += lat.len() as u64;
                errors += (n - lat.len()) as u64;
                shared.sample(format!(
                    "conn {conn}: no reply within {:?}",
                    spec.io_timeout
                ));
                break;
            }
        }
        let mut h = shared.hist.lock().expect("hist lock");
        for d in &lat {
            record(&mut h, *d);
        }
    }
    (ops, errors)
}

/// A blocking RESP client for probes and control commands (FLUSHALL, DBSIZE, INFO).
#[derive(Debug)]
pub struct SyncClient {
    stream: std::net::TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl SyncClient {
    pub fn connect(addr: SocketAddr) -> anyhow::Result<Self> {
        let stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_write_timeout(Some(Duration::from_secs(30)))?;
        Ok(SyncClient {
            stream,
            rbuf: BytesMut::with_capacity(4096),
            wbuf: BytesMut::with_capacity(256),
        })
    }

    /// Sends one command and waits for its reply.
    pub fn call(&mut self, args: &[&[u8]]) -> anyhow::Result<Frame> {
        use std::io::{Read, Write};
        self.wbuf.clear();
        encode::command(&mut self.wbuf, args);
        self.stream.write_all(&self.wbuf)?;
        let limits = Limits::default();
        let mut chunk = [0u8; 16 * 1024];
        // Bounded: every read either makes progress or fails by timeout.
        for _ in 0..1_000_000 {
            if let Some(f) = decode_frame(&mut self.rbuf, &limits)? {
                return Ok(f);
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                anyhow::bail!("server closed the connection");
            }
            self.rbuf.extend_from_slice(&chunk[..n]);
        }
        anyhow::bail!("reply too long")
    }

    pub fn int(&mut self, args: &[&[u8]]) -> anyhow::Result<i64> {
        match self.call(args)? {
            Frame::Integer(n) => Ok(n),
            f => anyhow::bail!("expected an integer reply, got {f:?}"),
        }
    }

    /// A field of `INFO section` as a number (`None` if absent).
    pub fn info_field(&mut self, section: &str, field: &str) -> anyhow::Result<Option<u64>> {
        let text = match self.call(&[b"INFO", section.as_bytes()])? {
            Frame::Bulk(b) | Frame::Verbatim { text: b, .. } => b,
            f => anyhow::bail!("INFO: unexpected reply {f:?}"),
        };
        let text = String::from_utf8_lossy(&text);
        Ok(text.lines().find_map(|l| {
            l.strip_prefix(field)?
                .strip_prefix(':')?
                .trim()
                .parse()
                .ok()
        }))
    }
}

/// Latency quantiles in microseconds.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Quantiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Quantiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Quantiles::default();
        }
        let us = |ns: u64| ns as f64 / 1000.0;
        Quantiles {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p999: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        assert!(Expect::Ok.check(&Frame::Simple(Bytes::from_static(b"OK"))));
        assert!(!Expect::Ok.check(&Frame::Simple(Bytes::from_static(b"PONG"))));
        assert!(!Expect::AnyInt.check(&Frame::Error(Bytes::from_static(b"ERR x"))));
        assert!(Expect::Int(3).check(&Frame::Integer(3)));
        assert!(!Expect::Int(3).check(&Frame::Integer(4)));
        assert!(Expect::BulkOrNull.check(&Frame::Null));
        assert!(
            Expect::Bulk(Bytes::from_static(b"v")).check(&Frame::Bulk(Bytes::from_static(b"v")))
        );
        assert!(!Expect::Bulk(Bytes::from_static(b"v")).check(&Frame::Null));
    }
}
