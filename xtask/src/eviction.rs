//! The `eviction` stress scenario: a cache under `maxmemory`, fed a recorded trace.
//!
//! The same trace goes to every server: key ids drawn from a Zipf distribution
//! (s = 0.99) over `distinct` keys, each request a GET and, on a miss, a SET of a
//! 100-byte value (a cache in front of a slower store). The `scan` trace is the same
//! with one-off sequential scans of cold keys (ids never seen before or again) mixed
//! in: after every `requests / 20` Zipf requests, a scan of `distinct / 10` keys (so at
//! full size half the trace's requests are scan keys, which never hit), what makes LRU
//! evict hot keys. Both servers get the same `maxmemory`: room for about 10% of the
//! distinct keys at Redis's cost per key, plus an empty server's memory.
//!
//! Connections work the trace in batches: a batch's GETs pipelined, then the SETs of
//! its misses. A probe connection PINGs every 2 ms (the max stall, as ttl-storm
//! measures it; first for 3 s against the idle server, the machine's own noise) and a
//! sampler reads INFO `used_memory` every 50 ms.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use mapcache_resp::{decode_frame, encode, Frame, Limits};

use crate::load::SyncClient;
use crate::report::RunResult;
use crate::server::Server;
use crate::workloads::mix64;

/// The trace's sizes.
#[derive(Clone, Debug)]
pub struct Sizes {
    pub distinct: u64,
    pub requests: u64,
    pub policies: Vec<String>,
}

impl Sizes {
    pub fn full() -> Self {
        Sizes {
            distinct: 1_000_000,
            requests: 3_000_000,
            policies: ["allkeys-lru", "allkeys-lfu", "allkeys-random"]
                .map(String::from)
                .to_vec(),
        }
    }

    pub fn quick() -> Self {
        Sizes {
            distinct: 50_000,
            requests: 200_000,
            policies: ["allkeys-lru", "allkeys-lfu"].map(String::from).to_vec(),
        }
    }
}

const VALUE: usize = 100;
/// What Redis 7.0 uses per key of this shape (12-byte key, 100-byte value), measured
/// with INFO used_memory over 100,000 keys; the limit is sized from it.
const REDIS_BYTES_PER_KEY: u64 = 180;
const CONNS: usize = 4;
const BATCH: usize = 32;
/// Hit ratio is also reported per twentieth of the trace (its course over time).
const WINDOWS: usize = 20;
/// How long the probe runs against the idle server before each run: the largest
/// round trip there is the machine's own noise (kernel threads, the hypervisor), the
/// floor under the max stall of the run.
const IDLE_PROBE: Duration = Duration::from_secs(3);

/// A recorded trace: key ids in request order (`>= distinct`: a scan's cold key).
fn trace(distinct: u64, requests: u64, scans: bool) -> Vec<u32> {
    // The Zipf CDF over ranks 1..=distinct, sampled by binary search.
    let mut cdf = Vec::with_capacity(distinct as usize);
    let mut sum = 0.0f64;
    for r in 1..=distinct {
        sum += 1.0 / (r as f64).powf(0.99);
        cdf.push(sum);
    }
    let mut out = Vec::with_capacity(requests as usize);
    let mut cold = distinct;
    let scan_every = (requests / 20).max(1);
    let scan_len = distinct / 10;
    let mut i = 0u64;
    while (out.len() as u64) < requests {
        if scans && i > 0 && i.is_multiple_of(scan_every) {
            for _ in 0..scan_len {
                out.push(cold as u32);
                cold += 1;
            }
        }
        let u = (mix64(i ^ 0x5EED) >> 11) as f64 / (1u64 << 53) as f64 * sum;
        let rank = cdf.partition_point(|&c| c < u) as u64;
        // Spread ranks over ids so that hot keys are not neighbours in any order.
        out.push((mix64(rank) % distinct) as u32);
        i += 1;
    }
    out.truncate(requests as usize);
    out
}

fn key(id: u32) -> Vec<u8> {
    format!("key:{id:08}").into_bytes()
}

/// A pipelining client for the trace's connections.
struct Pipe {
    stream: TcpStream,
    rbuf: BytesMut,
    wbuf: BytesMut,
}

impl Pipe {
    fn connect(addr: SocketAddr) -> Result<Pipe> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Pipe {
            stream,
            rbuf: BytesMut::with_capacity(64 * 1024),
            wbuf: BytesMut::with_capacity(64 * 1024),
        })
    }

    fn push(&mut self, args: &[&[u8]]) {
        encode::command(&mut self.wbuf, args);
    }

    /// Sends what was pushed and reads `n` replies.
    fn flush(&mut self, n: usize, out: &mut Vec<Frame>) -> Result<()> {
        self.stream.write_all(&self.wbuf)?;
        self.wbuf.clear();
        out.clear();
        let limits = Limits::default();
        let mut chunk = [0u8; 64 * 1024];
        while out.len() < n {
            if let Some(f) = decode_frame(&mut self.rbuf, &limits)? {
                out.push(f);
                continue;
            }
            let got = self.stream.read(&mut chunk)?;
            if got == 0 {
                bail!("server closed the connection");
            }
            self.rbuf.extend_from_slice(&chunk[..got]);
        }
        Ok(())
    }
}

/// What the trace's connections counted.
#[derive(Default)]
struct Counts {
    gets: AtomicU64,
    hits: AtomicU64,
    sets: AtomicU64,
    errors: AtomicU64,
    /// Hits and GETs per window of the trace.
    window_hits: Vec<AtomicU64>,
    window_gets: Vec<AtomicU64>,
    /// The first few wrong replies, as text.
    samples: std::sync::Mutex<Vec<String>>,
}

impl Counts {
    fn note(&self, what: String) {
        let mut s = self.samples.lock().unwrap_or_else(|e| e.into_inner());
        if s.len() < 5 {
            s.push(what);
        }
    }
}

/// Runs one connection's share of `trace`: batches `c`, `c + CONNS`, ...
fn work(addr: SocketAddr, trace: &[u32], c: usize, counts: &Counts) -> Result<()> {
    let mut p = Pipe::connect(addr)?;
    let value = vec![b'v'; VALUE];
    let mut replies = Vec::with_capacity(BATCH);
    let window = trace.len().div_ceil(WINDOWS);
    for (b, batch) in trace.chunks(BATCH).enumerate() {
        if b % CONNS != c {
            continue;
        }
        let keys: Vec<Vec<u8>> = batch.iter().map(|&id| key(id)).collect();
        for k in &keys {
            p.push(&[b"GET", k]);
        }
        p.flush(keys.len(), &mut replies)?;
        let w = (b * BATCH / window).min(WINDOWS - 1);
        let mut misses = 0;
        for (k, f) in keys.iter().zip(&replies) {
            match f {
                Frame::Bulk(_) => {
                    counts.hits.fetch_add(1, Ordering::Relaxed);
                    counts.window_hits[w].fetch_add(1, Ordering::Relaxed);
                }
                Frame::Null => {
                    p.push(&[b"SET", k, &value]);
                    misses += 1;
                }
                other => {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    counts.note(format!("GET: {other:?}"));
                }
            }
        }
        counts.gets.fetch_add(keys.len() as u64, Ordering::Relaxed);
        counts.window_gets[w].fetch_add(keys.len() as u64, Ordering::Relaxed);
        if misses > 0 {
            p.flush(misses, &mut replies)?;
            for f in &replies {
                if !matches!(f, Frame::Simple(s) if &s[..] == b"OK") {
                    counts.errors.fetch_add(1, Ordering::Relaxed);
                    counts.note(format!("SET: {f:?}"));
                }
            }
            counts.sets.fetch_add(misses as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Runs every policy on both traces against `server`.
pub fn run(sizes: &Sizes, server: &Server) -> Result<Vec<RunResult>> {
    let maxmemory = 4 * 1024 * 1024 + sizes.distinct / 10 * REDIS_BYTES_PER_KEY;
    let mut out = Vec::new();
    for scans in [false, true] {
        let t0 = Instant::now();
        let trace = Arc::new(trace(sizes.distinct, sizes.requests, scans));
        let made = t0.elapsed();
        for policy in &sizes.policies {
            let name = format!("eviction-{}-{policy}", if scans { "scan" } else { "zipf" });
            let mut r = one(server, &trace, policy, maxmemory, &name)?;
            r.notes.push(format!(
                "{} requests over {} distinct keys{}, trace made in {made:.1?}; maxmemory {maxmemory} for every server; {CONNS} connections, GETs {BATCH} per batch then the misses' SETs",
                trace.len(),
                sizes.distinct,
                if scans { " plus one-off scans of cold keys" } else { "" },
            ));
            r.notes.extend(crate::rt::probe_note());
            out.push(r);
        }
    }
    Ok(out)
}

fn one(
    server: &Server,
    trace: &Arc<Vec<u32>>,
    policy: &str,
    maxmemory: u64,
    name: &str,
) -> Result<RunResult> {
    let mut ctl = SyncClient::connect(server.addr)?;
    ctl.call(&[b"FLUSHALL"])?;
    let max = maxmemory.to_string();
    for (k, v) in [
        ("maxmemory", "0"),
        ("maxmemory-policy", policy),
        ("maxmemory", max.as_str()),
    ] {
        match ctl.call(&[b"CONFIG", b"SET", k.as_bytes(), v.as_bytes()])? {
            Frame::Simple(s) if &s[..] == b"OK" => {}
            f => bail!("CONFIG SET {k} {v}: {f:?}"),
        }
    }
    let evicted0 = ctl.info_field("stats", "evicted_keys")?.unwrap_or(0);
    let counts = Arc::new(Counts {
        window_hits: (0..WINDOWS).map(|_| AtomicU64::new(0)).collect(),
        window_gets: (0..WINDOWS).map(|_| AtomicU64::new(0)).collect(),
        ..Counts::default()
    });
    // The machine's own noise: the same probe against the idle server first.
    let idle_stop = Arc::new(AtomicBool::new(false));
    let idle = ping_probe(server.addr, idle_stop.clone())?;
    std::thread::sleep(IDLE_PROBE);
    idle_stop.store(true, Ordering::Relaxed);
    let (idle_stall, _) = idle.join().unwrap_or_default();
    let stop = Arc::new(AtomicBool::new(false));
    // The probe: PING every 2 ms; the sampler: used_memory every 50 ms.
    let probe = ping_probe(server.addr, stop.clone())?;
    let sampler = {
        let mut c = SyncClient::connect(server.addr)?;
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut peak = 0u64;
            let mut last = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(u)) = c.info_field("memory", "used_memory") {
                    peak = peak.max(u);
                    last = u;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            (peak, last)
        })
    };
    let before = server.proc_stats();
    let start = Instant::now();
    let workers: Vec<_> = (0..CONNS)
        .map(|c| {
            let (trace, counts, addr) = (trace.clone(), counts.clone(), server.addr);
            std::thread::spawn(move || work(addr, &trace, c, &counts))
        })
        .collect();
    let mut failures = Vec::new();
    for w in workers {
        match w.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failures.push(format!("{e:#}")),
            Err(_) => failures.push("worker panicked".into()),
        }
    }
    let elapsed = start.elapsed();
    let after = server.proc_stats();
    stop.store(true, Ordering::Relaxed);
    let (stall, probes) = probe.join().unwrap_or_default();
    let (peak, last) = sampler.join().unwrap_or_default();
    let evicted = ctl
        .info_field("stats", "evicted_keys")?
        .unwrap_or(0)
        .saturating_sub(evicted0);
    let used_end = ctl.info_field("memory", "used_memory")?.unwrap_or(0);
    let keys_end = ctl.int(&[b"DBSIZE"]).unwrap_or(0);
    ctl.call(&[b"CONFIG", b"SET", b"maxmemory", b"0"])
        .context("resetting maxmemory")?;

    let mut r = RunResult::new(name, server.name());
    let (gets, hits, sets) = (
        counts.gets.load(Ordering::Relaxed),
        counts.hits.load(Ordering::Relaxed),
        counts.sets.load(Ordering::Relaxed),
    );
    r.ops = gets + sets;
    r.errors = counts.errors.load(Ordering::Relaxed) + failures.len() as u64;
    r.error_samples = failures;
    r.error_samples
        .extend(counts.samples.lock().map(|s| s.clone()).unwrap_or_default());
    r.elapsed_s = elapsed.as_secs_f64();
    r.ops_per_s = r.ops as f64 / r.elapsed_s.max(1e-9);
    r.latency_us.max = stall.as_secs_f64() * 1e6;
    r.set_cpu(before, after, None);
    let x = &mut r.extra;
    x.insert("hit_ratio".into(), hits as f64 / gets.max(1) as f64);
    let half = WINDOWS / 2;
    let (h2, g2) = (half..WINDOWS).fold((0, 0), |(h, g), w| {
        (
            h + counts.window_hits[w].load(Ordering::Relaxed),
            g + counts.window_gets[w].load(Ordering::Relaxed),
        )
    });
    x.insert("hit_ratio_second_half".into(), h2 as f64 / g2.max(1) as f64);
    for w in 0..WINDOWS {
        let g = counts.window_gets[w].load(Ordering::Relaxed);
        let h = counts.window_hits[w].load(Ordering::Relaxed);
        x.insert(format!("hit_ratio_w{w:02}"), h as f64 / g.max(1) as f64);
    }
    x.insert("maxmemory_mib".into(), maxmemory as f64 / 1048576.0);
    x.insert("used_memory_peak_mib".into(), peak as f64 / 1048576.0);
    x.insert(
        "used_memory_end_mib".into(),
        used_end.max(last) as f64 / 1048576.0,
    );
    x.insert(
        "used_over_max_pct".into(),
        (peak as f64 / maxmemory as f64 - 1.0) * 100.0,
    );
    x.insert("max_stall_us".into(), stall.as_secs_f64() * 1e6);
    x.insert("idle_max_stall_us".into(), idle_stall.as_secs_f64() * 1e6);
    x.insert("probes".into(), probes as f64);
    x.insert("evicted_keys".into(), evicted as f64);
    x.insert("keys_at_end".into(), keys_end as f64);
    x.insert("gets".into(), gets as f64);
    Ok(r)
}

/// A probe thread: PING every 2 ms until `stop`, in `SCHED_FIFO` where it may
/// ([`crate::rt`]); answers the largest round trip and the probes sent.
fn ping_probe(
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
) -> Result<std::thread::JoinHandle<(Duration, u64)>> {
    let mut c = SyncClient::connect(addr)?;
    Ok(std::thread::spawn(move || {
        crate::rt::probe_priority();
        let mut max = Duration::ZERO;
        let mut n = 0u64;
        while !stop.load(Ordering::Relaxed) {
            let sent = Instant::now();
            if c.call(&[b"PING"]).is_err() {
                break;
            }
            max = max.max(sent.elapsed());
            n += 1;
            std::thread::sleep(Duration::from_millis(2).saturating_sub(sent.elapsed()));
        }
        (max, n)
    }))
}

#[cfg(test)]
mod tests {
    use super::trace;

    #[test]
    fn traces_are_recorded_once_and_the_same_for_every_server() {
        let a = trace(10_000, 50_000, false);
        assert_eq!(a, trace(10_000, 50_000, false));
        assert_eq!(a.len(), 50_000);
        assert!(a.iter().all(|&k| k < 10_000));
        // Zipf: the hottest key is far above the average.
        let mut n = std::collections::HashMap::new();
        for k in &a {
            *n.entry(k).or_insert(0u32) += 1;
        }
        assert!(*n.values().max().unwrap() > 50_000 / 10_000 * 100);
        let s = trace(10_000, 50_000, true);
        let cold = s.iter().filter(|&&k| k >= 10_000).count();
        assert!((10_000..25_000).contains(&cold), "{cold}");
        // Each cold key comes once.
        let mut seen = std::collections::HashSet::new();
        assert!(s.iter().filter(|&&k| k >= 10_000).all(|k| seen.insert(*k)));
    }
}
