//! The stress scenarios: each runs against one server and returns its results.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Result};
use mapcache_resp::Frame;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::runtime::Runtime;

use crate::load::{self, new_hist, record, Quantiles, Spec, Stop, SyncClient, Workload};
use crate::report::RunResult;
use crate::server::{Kind, ProcStats, Server};
use crate::workloads::{self, MemoryKeys, Mixed, Ping, SetGet, Shape, Sustained, TtlKeys};

/// Every scenario, in the order `stress` runs them when none is named.
pub const ALL: &[&str] = &[
    "concurrent",
    "sustained",
    "pipeline",
    "mixed",
    "ttl-storm",
    "connections",
    "memory",
    "eviction",
    "programs",
    "trigger-cost",
];

/// The scenarios only a mapcache server runs (map-cache's programs and triggers), on
/// servers of their own that they start.
pub const MAPCACHE_ONLY: &[&str] = &["programs", "trigger-cost"];

/// Sizes of every scenario.
#[derive(Clone, Debug)]
pub struct Sizes {
    /// concurrent: clients, and SET+GET pairs per client.
    pub clients: usize,
    pub pairs: u64,
    /// sustained and mixed: workers and duration.
    pub workers: usize,
    pub duration: Duration,
    /// ttl-storm: keys, and their TTL (default: 3 s plus 5 µs per key, so creation ends
    /// well before the deadline).
    pub keys: u64,
    pub ttl: Option<Duration>,
    /// pipeline: connections, depths, and time per depth.
    pub pipeline_conns: usize,
    pub depths: Vec<usize>,
    pub pipeline_time: Duration,
    /// connections: how many to hold open, one step per entry.
    pub conn_counts: Vec<usize>,
    /// memory: keys of each shape.
    pub memory_keys: u64,
    pub value_size: usize,
    /// programs: pipelines counted down over each protocol, and connections.
    pub pipelines: usize,
    pub program_conns: usize,
    /// trigger-cost: triggers on other paths, and time per run.
    pub cost_triggers: usize,
    pub cost_time: Duration,
    /// eviction: the traces and the policies ([`crate::eviction`]).
    pub eviction: crate::eviction::Sizes,
}

impl Sizes {
    pub fn full() -> Self {
        Sizes {
            clients: 150,
            pairs: 100,
            workers: 50,
            duration: Duration::from_secs(10),
            keys: 100_000,
            ttl: None,
            pipeline_conns: 50,
            depths: vec![1, 16, 128],
            pipeline_time: Duration::from_secs(3),
            conn_counts: vec![1_000, 10_000],
            memory_keys: 100_000,
            value_size: 32,
            pipelines: 1_000,
            program_conns: 8,
            cost_triggers: 10_000,
            cost_time: Duration::from_secs(5),
            eviction: crate::eviction::Sizes::full(),
        }
    }

    /// Every scenario small: all of them within about 20 s per target.
    pub fn quick() -> Self {
        Sizes {
            clients: 50,
            pairs: 20,
            workers: 20,
            duration: Duration::from_secs(2),
            keys: 20_000,
            ttl: Some(Duration::from_millis(1500)),
            pipeline_conns: 20,
            depths: vec![1, 16, 128],
            pipeline_time: Duration::from_millis(700),
            conn_counts: vec![200, 1_000],
            memory_keys: 20_000,
            value_size: 32,
            pipelines: 100,
            program_conns: 4,
            cost_triggers: 2_000,
            cost_time: Duration::from_secs(1),
            eviction: crate::eviction::Sizes::quick(),
        }
    }
}

/// What the scenarios share.
#[derive(Debug)]
pub struct Env<'a> {
    pub rt: &'a Runtime,
    pub sizes: &'a Sizes,
    /// The mapcache binary, for the scenarios that start servers of their own
    /// ([`MAPCACHE_ONLY`]); `None` with `--addr`.
    pub bin: Option<&'a std::path::Path>,
    /// The CPU servers are pinned to (`--taskset`).
    pub pin: Option<u32>,
}

/// Runs scenario `name` against `server`.
pub fn run(env: &Env<'_>, name: &str, server: &mut Server) -> Result<Vec<RunResult>> {
    let selftest = server.kind == Kind::Selftest;
    if selftest && matches!(name, "ttl-storm" | "connections" | "memory" | "eviction") {
        return Ok(Vec::new()); // they need a real server's semantics
    }
    if MAPCACHE_ONLY.contains(&name) {
        if server.kind != Kind::Mapcache {
            return Ok(Vec::new()); // map-cache's programs: mapcache only
        }
        let Some(bin) = env.bin else {
            bail!("{name} starts mapcache servers of its own: it needs a binary, not --addr");
        };
        return match name {
            "programs" => crate::programs::programs(env, bin, env.pin),
            _ => crate::programs::trigger_cost(env, bin, env.pin),
        };
    }
    if !selftest {
        flushall(server)?;
    }
    let s = env.sizes;
    let mut results = match name {
        "concurrent" => {
            let spec = Spec::new(s.clients, 1, Stop::Count(2 * s.pairs));
            let work = SetGet {
                prefix: "c",
                keyspace: None,
                value_size: s.value_size,
            };
            vec![measured(env, server, "concurrent", spec, work)?]
        }
        "sustained" => {
            let spec = Spec::new(s.workers, 1, Stop::Time(s.duration));
            vec![measured(
                env,
                server,
                "sustained",
                spec,
                Sustained {
                    value_size: s.value_size,
                },
            )?]
        }
        "mixed" => {
            let spec = Spec::new(s.workers, 1, Stop::Time(s.duration));
            let work = Mixed {
                keyspace: 100_000,
                value_size: s.value_size,
            };
            vec![measured(env, server, "mixed", spec, work)?]
        }
        "pipeline" => {
            let mut out = Vec::new();
            for &d in &s.depths {
                let spec = Spec::new(s.pipeline_conns, d, Stop::Time(s.pipeline_time));
                let work = SetGet {
                    prefix: "p",
                    keyspace: Some(10_000),
                    value_size: s.value_size,
                };
                out.push(measured(
                    env,
                    server,
                    &format!("pipeline-d{d}"),
                    spec,
                    work,
                )?);
            }
            out
        }
        "ttl-storm" => vec![ttl_storm(env, server)?],
        "connections" => {
            let mut out = Vec::new();
            for &n in &s.conn_counts {
                out.push(connections(env, server, n)?);
            }
            out
        }
        "memory" => memory(env, server)?,
        "eviction" => crate::eviction::run(&s.eviction, server)?,
        other => bail!("unknown scenario {other:?}; scenarios: {}", ALL.join(", ")),
    };
    for r in &mut results {
        r.target = server.name().to_string();
        if let Some(reason) = server.exited() {
            r.server_died = true;
            r.notes.push(format!("server exited: {reason}"));
        }
        if selftest {
            // Against the self-test server replies are not checked: only the rate counts.
            r.notes.push(
                "self-test server: replies not verified; this is the load generator's ceiling"
                    .into(),
            );
        }
    }
    Ok(results)
}

fn flushall(server: &Server) -> Result<()> {
    let mut c = SyncClient::connect(server.addr)?;
    match c.call(&[b"FLUSHALL"])? {
        Frame::Simple(s) if &s[..] == b"OK" => Ok(()),
        f => bail!("FLUSHALL: {f:?}"),
    }
}

fn self_cpu() -> Option<f64> {
    ProcStats::read("/proc/self").map(|s| s.cpu_s)
}

/// One load run with server and client CPU read around it.
fn measured<W: Workload>(
    env: &Env<'_>,
    server: &Server,
    name: &str,
    mut spec: Spec,
    work: W,
) -> Result<RunResult> {
    spec.verify = server.kind != Kind::Selftest;
    let (before, cbefore) = (server.proc_stats(), self_cpu());
    let outcome = env
        .rt
        .block_on(load::run(server.addr, spec, Arc::new(work)));
    let (after, cafter) = (server.proc_stats(), self_cpu());
    let mut r = RunResult::new(name, server.name());
    r.set_outcome(&outcome);
    r.set_cpu(before, after, cafter.zip(cbefore).map(|(a, b)| a - b));
    r.notes.push(format!(
        "{} connections, pipeline depth {}",
        spec.conns, spec.depth
    ));
    Ok(r)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// One latency probe: when it was sent (relative to the deadline, ms) and how long it took.
#[derive(Clone, Copy, Debug)]
struct Probe {
    at_ms: f64,
    rtt: Duration,
    ping: bool,
}

/// What a probe thread saw: its probes, its errors, the first few errors as text.
type ProbeLog = (Vec<Probe>, u64, Vec<String>);

/// A probe thread: PING (or GET of a storm key) every ~2 ms until `stop`, at most `cap`.
fn probe_thread(
    server: &Server,
    ping: bool,
    keys: u64,
    deadline: Instant,
    stop: Arc<AtomicBool>,
    cap: Duration,
) -> Result<std::thread::JoinHandle<ProbeLog>> {
    let mut c = SyncClient::connect(server.addr)?;
    Ok(std::thread::spawn(move || {
        crate::rt::probe_priority();
        let (mut probes, mut errors, mut samples) = (Vec::new(), 0u64, Vec::new());
        let start = Instant::now();
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed) && start.elapsed() < cap {
            let key = TtlKeys::key(workloads::mix64(i) % keys.max(1));
            i += 1;
            let sent = Instant::now();
            let r = if ping {
                c.call(&[b"PING"])
            } else {
                c.call(&[b"GET", &key])
            };
            let rtt = sent.elapsed();
            let at_ms = if sent >= deadline {
                sent.duration_since(deadline).as_secs_f64() * 1e3
            } else {
                -(deadline.duration_since(sent).as_secs_f64() * 1e3)
            };
            let bad = match &r {
                Ok(Frame::Simple(s)) if ping => &s[..] != b"PONG",
                // An expired key must never be observable (2 ms of grace for clock reading).
                Ok(Frame::Bulk(_)) if !ping => at_ms > 2.0,
                Ok(Frame::Null) if !ping => false,
                _ => true,
            };
            if bad {
                errors += 1;
                if samples.len() < 5 {
                    samples.push(format!(
                        "{} probe at {at_ms:.1} ms: {r:?}",
                        if ping { "PING" } else { "GET" }
                    ));
                }
                if r.is_err() {
                    break;
                }
            }
            probes.push(Probe { at_ms, rtt, ping });
            std::thread::sleep(Duration::from_millis(2).saturating_sub(sent.elapsed()));
        }
        (probes, errors, samples)
    }))
}

/// Keys with one deadline, created pipelined; probes across the expiry moment.
fn ttl_storm(env: &Env<'_>, server: &Server) -> Result<RunResult> {
    let s = env.sizes;
    let conns = 8usize;
    let per = s.keys.div_ceil(conns as u64).max(1);
    let keys = per * conns as u64;
    let ttl = s
        .ttl
        .unwrap_or(Duration::from_secs(3) + Duration::from_micros(5 * keys));
    let mut r = RunResult::new("ttl-storm", server.name());
    r.scenario = format!("ttl-storm-{}", human_count(keys));
    let mut ctl = SyncClient::connect(server.addr)?;
    let expired0 = ctl.info_field("stats", "expired_keys")?;
    let before = server.proc_stats();

    // Creation: 8 connections, 256 SETs per write, every key the same PXAT deadline.
    let deadline_ms = unix_ms() + ttl.as_millis() as u64;
    let deadline = Instant::now() + ttl;
    let work = TtlKeys {
        conns,
        deadline_unix_ms: deadline_ms,
        value_size: s.value_size,
    };
    let mut spec = Spec::new(conns, 256, Stop::Count(per));
    spec.max_wall = ttl;
    let cbefore = self_cpu();
    let created = env
        .rt
        .block_on(load::run(server.addr, spec, Arc::new(work)));
    let peak = server.proc_stats();
    r.set_outcome(&created);
    r.set_cpu(before, peak, self_cpu().zip(cbefore).map(|(a, b)| a - b));
    r.extra.insert("keys".into(), keys as f64);
    r.extra
        .insert("create_keys_per_s".into(), created.ops_per_sec());
    if let Some(c) = r.server_cpu_us_per_op {
        r.extra.insert("create_cpu_us_per_key".into(), c);
    }
    let margin = deadline.saturating_duration_since(Instant::now());
    if margin < Duration::from_millis(300) {
        r.notes.push(format!(
            "creation ended {margin:?} before the deadline: raise --ttl for a clean storm window"
        ));
    }
    let n = ctl.int(&[b"DBSIZE"])?;
    if Instant::now() < deadline && n != keys as i64 {
        r.errors += 1;
        r.error_samples
            .push(format!("DBSIZE {n} after creating {keys} keys"));
    }

    // Probes from separate connections across the deadline; DBSIZE and expired_keys polled.
    let stop = Arc::new(AtomicBool::new(false));
    let cap = ttl + Duration::from_secs(70);
    let ping = probe_thread(server, true, keys, deadline, stop.clone(), cap)?;
    let get = probe_thread(server, false, keys, deadline, stop.clone(), cap);
    let get = match get {
        Ok(g) => g,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = ping.join();
            return Err(e);
        }
    };
    std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
    let at_deadline = server.proc_stats();
    let (mut dbsize_zero, mut reclaimed) = (None, None);
    let mut reclaimed_stats = None;
    let poll_cap = Duration::from_secs(60);
    let poll_result = (|| -> Result<()> {
        while deadline.elapsed() < poll_cap {
            let now_ms = deadline.elapsed().as_secs_f64() * 1e3;
            if dbsize_zero.is_none() && ctl.int(&[b"DBSIZE"])? == 0 {
                dbsize_zero = Some(now_ms);
            }
            if reclaimed.is_none() {
                match (expired0, ctl.info_field("stats", "expired_keys")?) {
                    (Some(e0), Some(e)) if e.saturating_sub(e0) >= keys => {
                        reclaimed = Some(now_ms);
                        reclaimed_stats = server.proc_stats();
                    }
                    (None, _) | (_, None) if dbsize_zero.is_some() => reclaimed = dbsize_zero,
                    _ => {}
                }
            }
            if dbsize_zero.is_some() && reclaimed.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    })();
    // The storm window: from the deadline until everything is reclaimed, at least 2 s.
    let window_ms = reclaimed
        .unwrap_or(poll_cap.as_secs_f64() * 1e3)
        .max(2000.0);
    std::thread::sleep(
        Duration::from_secs_f64(window_ms / 1e3).saturating_sub(deadline.elapsed())
            + Duration::from_millis(200),
    );
    stop.store(true, Ordering::Relaxed);
    let mut probes = Vec::new();
    for h in [ping, get] {
        match h.join() {
            Ok((p, e, samples)) => {
                probes.extend(p);
                r.errors += e;
                r.error_samples.extend(samples);
            }
            Err(_) => {
                r.errors += 1;
                r.error_samples.push("probe thread panicked".into());
            }
        }
    }
    poll_result?;
    std::thread::sleep(Duration::from_millis(300));
    let after = server.proc_stats();

    let stats = |f: &dyn Fn(&Probe) -> bool| {
        let mut h = new_hist();
        for p in probes.iter().filter(|p| f(p)) {
            record(&mut h, p.rtt);
        }
        (Quantiles::of(&h), h.len())
    };
    let in_storm = |p: &Probe| p.at_ms >= 0.0 && p.at_ms <= window_ms;
    let (storm, count) = stats(&in_storm);
    let (base, _) = stats(&|p: &Probe| p.at_ms < 0.0);
    let (ping_q, _) = stats(&|p: &Probe| p.ping && in_storm(p));
    let (get_q, _) = stats(&|p: &Probe| !p.ping && in_storm(p));
    r.latency_us = storm;
    let x = &mut r.extra;
    x.insert("storm_p50_us".into(), storm.p50);
    x.insert("storm_p99_us".into(), storm.p99);
    x.insert("storm_max_us".into(), storm.max);
    x.insert("storm_ping_max_us".into(), ping_q.max);
    x.insert("storm_get_max_us".into(), get_q.max);
    x.insert("storm_probes".into(), count as f64);
    x.insert("baseline_p99_us".into(), base.p99);
    x.insert("baseline_max_us".into(), base.max);
    x.insert("window_ms".into(), window_ms);
    let kib = |p: Option<ProcStats>| p.map(|p| p.rss_kib as f64 / 1024.0);
    for (k, v) in [
        ("rss_before_mib", kib(before)),
        ("rss_peak_mib", kib(peak)),
        ("rss_after_mib", kib(after)),
    ] {
        if let Some(v) = v {
            x.insert(k.into(), v);
        }
    }
    if let (Some(a), Some(b)) = (at_deadline, reclaimed_stats) {
        x.insert("reclaim_cpu_s".into(), b.cpu_s - a.cpu_s);
    }
    match dbsize_zero {
        Some(ms) => drop(x.insert("dbsize_zero_ms".into(), ms)),
        None => {
            r.errors += 1;
            r.error_samples
                .push(format!("DBSIZE not 0 within {poll_cap:?} of the deadline"));
        }
    }
    match reclaimed {
        Some(ms) => drop(r.extra.insert("reclaimed_ms".into(), ms)),
        None => {
            r.errors += 1;
            r.error_samples.push(format!(
                "expired_keys did not reach {keys} within {poll_cap:?}"
            ));
        }
    }
    r.server_after = after;
    // Where the stalls were: the slowest probes, by time from the deadline.
    let mut slow: Vec<&Probe> = probes.iter().filter(|p| p.at_ms >= -1000.0).collect();
    slow.sort_by_key(|p| std::cmp::Reverse(p.rtt));
    let slow: Vec<String> = slow
        .iter()
        .take(5)
        .map(|p| {
            format!(
                "{} {:.0} µs at {:+.0} ms",
                if p.ping { "PING" } else { "GET" },
                p.rtt.as_secs_f64() * 1e6,
                p.at_ms
            )
        })
        .collect();
    r.notes.push(format!(
        "slowest probes from 1 s before the deadline on: {}",
        slow.join(", ")
    ));
    r.notes.push(format!(
        "{keys} keys, TTL {ttl:?}, created in {:.2} s over {conns} connections (256 per write); storm window {window_ms:.0} ms from the deadline",
        created.elapsed.as_secs_f64()
    ));
    r.notes.extend(crate::rt::probe_note());
    Ok(r)
}

fn human_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}m", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

/// The soft limit on open files of this process.
fn nofile_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// Holds `n` connections open (each answers one PING), measures RSS and threads with
/// them open, and PING latency from 50 of them meanwhile.
fn connections(env: &Env<'_>, server: &Server, n: usize) -> Result<RunResult> {
    let mut r = RunResult::new(
        &format!("connections-{}", human_count(n as u64)),
        server.name(),
    );
    if let Some(limit) = nofile_limit() {
        if (limit as usize) < n + 200 {
            r.notes.push(format!(
                "skipped: RLIMIT_NOFILE is {limit}, need {} (raise it with ulimit -n)",
                n + 200
            ));
            return Ok(r);
        }
    }
    let before = server.proc_stats();
    let cbefore = self_cpu();
    let t0 = Instant::now();
    let (held, open_errors, samples) = env.rt.block_on(async {
        let streams = load::connect_many(server.addr, n, Duration::from_secs(10)).await;
        let mut held = Vec::with_capacity(n);
        let (mut errors, mut samples) = (0u64, Vec::new());
        let mut set = tokio::task::JoinSet::new();
        for s in streams {
            match s {
                Ok(s) => {
                    set.spawn(async move {
                        let mut s = s;
                        let r = tokio::time::timeout(Duration::from_secs(10), async {
                            s.write_all(b"*1\r\n$4\r\nPING\r\n").await?;
                            let mut buf = [0u8; 7];
                            s.read_exact(&mut buf).await?;
                            Ok::<bool, std::io::Error>(&buf == b"+PONG\r\n")
                        })
                        .await;
                        (s, r)
                    });
                }
                Err(e) => {
                    errors += 1;
                    if samples.len() < 5 {
                        samples.push(format!("connect: {e}"));
                    }
                }
            }
        }
        while let Some(j) = set.join_next().await {
            match j {
                Ok((s, Ok(Ok(true)))) => held.push(s),
                Ok((_, other)) => {
                    errors += 1;
                    if samples.len() < 5 {
                        samples.push(format!("first PING: {other:?}"));
                    }
                }
                Err(e) => {
                    errors += 1;
                    samples.push(format!("task: {e}"));
                }
            }
        }
        (held, errors, samples)
    });
    let opened = t0.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    let holding = server.proc_stats();
    // Latency with all of them open: 50 more connections PING for a while.
    let spec = Spec::new(50, 1, Stop::Time(Duration::from_secs(1)));
    let outcome = env
        .rt
        .block_on(load::run(server.addr, spec, Arc::new(Ping)));
    let cafter = self_cpu();
    let count = held.len();
    drop(held);
    r.set_outcome(&outcome);
    r.set_cpu(before, holding, cafter.zip(cbefore).map(|(a, b)| a - b));
    r.errors += open_errors;
    r.error_samples.extend(samples);
    r.extra.insert("connections".into(), count as f64);
    r.extra.insert(
        "open_per_s".into(),
        count as f64 / opened.as_secs_f64().max(1e-9),
    );
    if let (Some(b), Some(h)) = (before, holding) {
        r.extra.insert(
            "rss_per_conn_kib".into(),
            (h.rss_kib as f64 - b.rss_kib as f64) / n as f64,
        );
        r.extra.insert("threads_holding".into(), h.threads as f64);
    }
    r.notes.push(format!(
        "{count}/{n} connections opened and answered PING in {:.2} s; latency from 50 more PINGing for 1 s",
        opened.as_secs_f64()
    ));
    // The server must still answer once they are gone.
    std::thread::sleep(Duration::from_millis(300));
    if let Err(e) = SyncClient::connect(server.addr).and_then(|mut c| c.call(&[b"PING"])) {
        r.errors += 1;
        r.error_samples.push(format!("PING after closing: {e}"));
    }
    Ok(r)
}

/// The shapes the `memory` scenario stores, in order.
const MEMORY_SHAPES: &[Shape] = &[
    Shape::String(32),
    Shape::String(200),
    Shape::Hash(10),
    Shape::List(10),
];

/// memory: for each shape, stores `memory_keys` keys (8 connections, 64 per write) and
/// reports the server's RSS growth per key. Shapes accumulate (nothing is freed in
/// between, so no allocator reuse flatters a later shape).
fn memory(env: &Env<'_>, server: &Server) -> Result<Vec<RunResult>> {
    let conns = 8usize;
    let per = env.sizes.memory_keys.div_ceil(conns as u64).max(1);
    let keys = per * conns as u64;
    let mut out = Vec::new();
    // Earlier scenarios' memory may still be on its way back to the OS (jemalloc decays
    // freed pages over a second): wait until RSS holds still, at most 3 s.
    let mut last = server.proc_stats().map(|p| p.rss_kib);
    for _ in 0..12 {
        std::thread::sleep(Duration::from_millis(250));
        let now = server.proc_stats().map(|p| p.rss_kib);
        if now == last {
            break;
        }
        last = now;
    }
    for &shape in MEMORY_SHAPES {
        let mut r = RunResult::new(&format!("memory-{}", shape.name()), server.name());
        let before = server.proc_stats();
        let cbefore = self_cpu();
        let spec = Spec::new(conns, 64, Stop::Count(per));
        let outcome = env.rt.block_on(load::run(
            server.addr,
            spec,
            Arc::new(MemoryKeys::new(conns, shape)),
        ));
        // Let the allocator's background threads settle before reading RSS.
        std::thread::sleep(Duration::from_millis(500));
        let after = server.proc_stats();
        r.set_outcome(&outcome);
        r.set_cpu(before, after, self_cpu().zip(cbefore).map(|(a, b)| a - b));
        r.extra.insert("keys".into(), keys as f64);
        r.extra
            .insert("load_keys_per_s".into(), outcome.ops_per_sec());
        if let (Some(b), Some(a)) = (before, after) {
            r.extra.insert(
                "rss_per_key_bytes".into(),
                (a.rss_kib as f64 - b.rss_kib as f64) * 1024.0 / keys as f64,
            );
        }
        out.push(r);
    }
    Ok(out)
}
