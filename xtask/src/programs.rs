//! The scenarios of map-cache's programs and triggers (docs/programs.md), on a mapcache
//! server of their own (Redis has neither; other targets skip them):
//!
//! - `programs`: the Go repository's deployment pipeline at scale. `pipelines` pipelines
//!   of 5 stages (countdowns 3, 4, 3, 2, 5) are written over RESP in path key mode
//!   (`HSET deployment:N:stages:S name .. status pending`, `HINCRBY ... countdown C`),
//!   with the two triggers of the example either per pipeline (`deployment/N/stages/*/
//!   countdown`, two per pipeline, as tenants creating their own pipelines would) or
//!   once for all (`deployment/*/stages/*/countdown`). Half the pipelines are counted
//!   down with `HINCRBY` over RESP from several connections, the other half by FOR
//!   programs over HTTP (one per pipeline and round). Reported: HINCRBYs and programs
//!   per second, trigger firings per second, the p99 latency of the HINCRBY that
//!   completes a pipeline (its reply comes after the cascade), and the final state:
//!   every stage and every pipeline complete, checked key by key.
//! - `trigger-cost`: SET and HSET to existing keys (so every write is one triggers
//!   would fire for) on a cache without triggers, then with `cost_triggers` triggers on
//!   other paths in the same cache, then with them in another cache: the server's CPU
//!   per request of each run.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use hdrhistogram::Histogram;
use mapcache_resp::{encode, Frame};

use crate::load::{self, new_hist, record, Expect, Quantiles, Spec, Stop, SyncClient, Workload};
use crate::report::RunResult;
use crate::scenarios::Env;
use crate::server::{ProcStats, Server};

/// Each stage's countdown, as in the Go example.
const COUNTDOWNS: [u32; 5] = [3, 4, 3, 2, 5];
const STAGE_NAMES: [&str; 5] = ["build", "test", "staging", "approval", "production"];

/// A keep-alive HTTP/1.1 connection sending JSON bodies.
struct Http {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: SocketAddr) -> Result<Http> {
        let stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        Ok(Http {
            stream,
            buf: Vec::with_capacity(16 * 1024),
        })
    }

    /// Sends `method path` with `body`; the status and the body of the answer.
    fn send(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, String)> {
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.write_all(req.as_bytes())?;
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = std::str::from_utf8(&self.buf[..end])
                    .context("head")?
                    .to_string();
                let status: u16 = head
                    .split(' ')
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .context("no status")?;
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.eq_ignore_ascii_case("content-length")
                            .then(|| v.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                let total = end + 4 + len;
                while self.buf.len() < total {
                    let n = self.stream.read(&mut chunk)?;
                    if n == 0 {
                        bail!("connection closed");
                    }
                    self.buf.extend_from_slice(&chunk[..n]);
                }
                let text = String::from_utf8_lossy(&self.buf[end + 4..total]).into_owned();
                self.buf.drain(..total);
                return Ok((status, text));
            }
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("connection closed");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn bulk_text(f: &Frame) -> Option<String> {
    match f {
        Frame::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
        _ => None,
    }
}

/// Where pipeline `n` lives, as a RESP key prefix: below the one root `deployment`
/// (`deployment:N`, the canonical layout), or in a root of its own (`deployment-N`).
fn prefix(n: usize, shared_root: bool) -> String {
    if shared_root {
        format!("deployment:{n}")
    } else {
        format!("deployment-{n}")
    }
}

/// The same prefix as an HTTP path.
fn slash(n: usize, shared_root: bool) -> String {
    prefix(n, shared_root).replace(':', "/")
}

/// The two triggers: for the pipeline at `path` (`deployment/N`), or for all of them
/// below the shared root (`None`).
fn triggers(path: Option<&str>) -> [String; 2] {
    let (pipe, p, cap_stage) = match path {
        Some(path) => (path.to_string(), path.to_string(), "${{1}}"),
        None => (
            "deployment/*".to_string(),
            "deployment/${{1}}".to_string(),
            "${{2}}",
        ),
    };
    [
        format!(
            r#"{{"key":"{pipe}/stages/*/countdown","command":{{"type":"IF","condition":"${{{{{p}/stages/{cap_stage}/countdown}}}} == 0","if_true":{{"type":"REPLACE","key":"{p}/stages/{cap_stage}/status","value":"complete"}},"if_false":{{"type":"NOOP"}}}}}}"#
        ),
        format!(
            r#"{{"key":"{pipe}/stages/*/status","command":{{"type":"IF","condition":"all(${{{{{p}/stages/*/status}}}} == \"complete\")","if_true":{{"type":"REPLACE","key":"{p}/pipeline/status","value":"complete"}},"if_false":{{"type":"NOOP"}}}}}}"#
        ),
    ]
}

/// The FOR program that counts pipeline `n` down by one round.
fn count_down_program(p: &str) -> String {
    format!(
        r#"{{"commands":[{{"type":"FOR","loop_expr":"${{{{{p}/stages/*/countdown}}}}","commands":[{{"type":"IF","condition":"${{{{{p}/stages/${{{{1}}}}/countdown}}}} > 0","if_true":{{"type":"INC","key":"{p}/stages/${{{{1}}}}/countdown","value":-1}},"if_false":{{"type":"NOOP"}}}}]}}]}}"#
    )
}

/// Writes pipelines `0..count` over RESP, pipelined 64 commands at a time.
fn create_pipelines(addr: SocketAddr, count: usize, shared_root: bool) -> Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut commands: Vec<Vec<String>> = Vec::new();
    for n in 0..count {
        commands.push(
            [
                "HSET".into(),
                format!("{}:pipeline", prefix(n, shared_root)),
                "name".into(),
                format!("Deploy {n}"),
                "total_stages".into(),
                "5".into(),
                "status".into(),
                "pending".into(),
            ]
            .to_vec(),
        );
        for (s, (count, name)) in COUNTDOWNS.iter().zip(STAGE_NAMES).enumerate() {
            let key = format!("{}:stages:{}", prefix(n, shared_root), s + 1);
            commands.push(vec![
                "HSET".into(),
                key.clone(),
                "name".into(),
                name.into(),
                "status".into(),
                "pending".into(),
            ]);
            // HINCRBY makes the counter a number, as the trigger's `== 0` needs.
            commands.push(vec![
                "HINCRBY".into(),
                key,
                "countdown".into(),
                count.to_string(),
            ]);
        }
    }
    let limits = mapcache_resp::Limits::default();
    let mut rbuf = BytesMut::new();
    let mut chunk = [0u8; 16 * 1024];
    for batch in commands.chunks(64) {
        let mut out = BytesMut::new();
        for c in batch {
            let args: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
            encode::command(&mut out, &args);
        }
        stream.write_all(&out)?;
        let mut got = 0;
        while got < batch.len() {
            match mapcache_resp::decode_frame(&mut rbuf, &limits)? {
                Some(Frame::Error(e)) => {
                    bail!("creating the pipelines: {}", String::from_utf8_lossy(&e))
                }
                Some(_) => got += 1,
                None => {
                    let n = stream.read(&mut chunk)?;
                    if n == 0 {
                        bail!("connection closed");
                    }
                    rbuf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    }
    Ok(())
}

/// What one worker of a countdown phase saw.
struct Tally {
    ops: u64,
    errors: u64,
    samples: Vec<String>,
    all: Histogram<u64>,
    completing: Histogram<u64>,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            ops: 0,
            errors: 0,
            samples: Vec::new(),
            all: new_hist(),
            completing: new_hist(),
        }
    }

    fn error(&mut self, text: String) {
        self.errors += 1;
        if self.samples.len() < 5 {
            self.samples.push(text);
        }
    }

    fn merge(&mut self, o: Tally) {
        self.ops += o.ops;
        self.errors += o.errors;
        self.samples
            .extend(o.samples.into_iter().take(5 - self.samples.len().min(5)));
        let _ = self.all.add(&o.all);
        let _ = self.completing.add(&o.completing);
    }
}

/// HINCRBY over RESP: worker `w` of `conns` counts down its pipelines of `range`,
/// round by round; the HINCRBY that zeroes stage 5 completes its pipeline, whose
/// status must then already be `complete`.
fn resp_worker(
    addr: SocketAddr,
    range: std::ops::Range<usize>,
    w: usize,
    conns: usize,
    shared_root: bool,
) -> Result<Tally> {
    let mut c = SyncClient::connect(addr)?;
    let mut t = Tally::new();
    let mine: Vec<usize> = range.filter(|n| n % conns == w).collect();
    for round in 0..5u32 {
        for &n in &mine {
            for (s, &count) in COUNTDOWNS.iter().enumerate() {
                if count <= round {
                    continue;
                }
                let key = format!("{}:stages:{}", prefix(n, shared_root), s + 1);
                let sent = Instant::now();
                let reply = c.call(&[b"HINCRBY", key.as_bytes(), b"countdown", b"-1"])?;
                let took = sent.elapsed();
                record(&mut t.all, took);
                t.ops += 1;
                let left = i64::from(count - round - 1);
                if reply != Frame::Integer(left) {
                    t.error(format!(
                        "HINCRBY {key} countdown -1: {reply:?}, expected {left}"
                    ));
                }
                if left == 0 && s == 4 {
                    record(&mut t.completing, took);
                    let status = c.call(&[
                        b"HGET",
                        format!("{}:pipeline", prefix(n, shared_root)).as_bytes(),
                        b"status",
                    ])?;
                    if bulk_text(&status).as_deref() != Some("complete") {
                        t.error(format!(
                            "pipeline {n} right after its last HINCRBY: {status:?}"
                        ));
                    }
                }
            }
        }
    }
    Ok(t)
}

/// FOR programs over HTTP: worker `w` runs one program per pipeline of `range` and
/// round (5 rounds count every stage down).
fn http_worker(
    addr: SocketAddr,
    range: std::ops::Range<usize>,
    w: usize,
    conns: usize,
    shared_root: bool,
) -> Result<Tally> {
    let mut h = Http::connect(addr)?;
    let mut t = Tally::new();
    let mine: Vec<usize> = range.filter(|n| n % conns == w).collect();
    for _round in 0..5 {
        for &n in &mine {
            let body = count_down_program(&slash(n, shared_root));
            let sent = Instant::now();
            let (status, text) = h.send("POST", "/api/v1/commands/execute", &body)?;
            record(&mut t.all, sent.elapsed());
            t.ops += 1;
            if status != 200 {
                t.error(format!("program for pipeline {n}: {status} {text}"));
            }
        }
    }
    Ok(t)
}

/// A countdown phase's worker: address, pipelines, worker number, workers, layout.
type Worker = fn(SocketAddr, std::ops::Range<usize>, usize, usize, bool) -> Result<Tally>;

/// Runs `worker` on `conns` threads over `range`; the merged tally and the elapsed time.
fn phase(
    addr: SocketAddr,
    range: std::ops::Range<usize>,
    conns: usize,
    shared_root: bool,
    worker: Worker,
) -> Result<(Tally, Duration)> {
    let start = Instant::now();
    let handles: Vec<_> = (0..conns)
        .map(|w| {
            let range = range.clone();
            std::thread::spawn(move || worker(addr, range, w, conns, shared_root))
        })
        .collect();
    let mut total = Tally::new();
    for h in handles {
        match h.join() {
            Ok(t) => total.merge(t?),
            Err(_) => bail!("a worker panicked"),
        }
    }
    Ok((total, start.elapsed()))
}

/// Every stage and every pipeline of `range` complete, countdowns 0: the mismatches.
fn check_complete(
    addr: SocketAddr,
    range: std::ops::Range<usize>,
    shared_root: bool,
) -> Result<Vec<String>> {
    let mut c = SyncClient::connect(addr)?;
    let mut bad = Vec::new();
    for n in range {
        let p = c.call(&[
            b"HGET",
            format!("{}:pipeline", prefix(n, shared_root)).as_bytes(),
            b"status",
        ])?;
        if bulk_text(&p).as_deref() != Some("complete") {
            bad.push(format!("pipeline {n}: status {p:?}"));
        }
        for s in 1..=5 {
            let key = format!("{}:stages:{s}", prefix(n, shared_root));
            let status = c.call(&[b"HGET", key.as_bytes(), b"status"])?;
            let count = c.call(&[b"HGET", key.as_bytes(), b"countdown"])?;
            if bulk_text(&status).as_deref() != Some("complete")
                || bulk_text(&count).as_deref() != Some("0")
            {
                bad.push(format!("{key}: status {status:?}, countdown {count:?}"));
            }
        }
    }
    Ok(bad)
}

fn result_of(
    name: &str,
    t: Tally,
    elapsed: Duration,
    before: Option<ProcStats>,
    after: Option<ProcStats>,
) -> RunResult {
    let mut r = RunResult::new(name, "mapcache");
    r.ops = t.ops;
    r.errors = t.errors;
    r.error_samples = t.samples;
    r.elapsed_s = elapsed.as_secs_f64();
    r.ops_per_s = t.ops as f64 / r.elapsed_s.max(1e-9);
    r.latency_us = Quantiles::of(&t.all);
    if !t.completing.is_empty() {
        r.extra.insert(
            "completing_p50_us".into(),
            t.completing.value_at_quantile(0.50) as f64 / 1e3,
        );
        r.extra.insert(
            "completing_p99_us".into(),
            t.completing.value_at_quantile(0.99) as f64 / 1e3,
        );
        r.extra
            .insert("completing_max_us".into(), t.completing.max() as f64 / 1e3);
    }
    r.set_cpu(before, after, None);
    r
}

/// The `programs` scenario's layouts: (name, pipelines below one root, wildcard triggers).
const LAYOUTS: [(&str, bool, bool); 3] = [
    ("per-pipeline", true, false),
    ("wildcard", true, true),
    ("root-per-pipeline", false, false),
];

/// The `programs` scenario: each layout on a fresh server.
pub fn programs(env: &Env<'_>, bin: &Path, pin: Option<u32>) -> Result<Vec<RunResult>> {
    let pipelines = env.sizes.pipelines;
    let conns = env.sizes.program_conns;
    let mut out = Vec::new();
    for (layout, shared_root, wildcard) in LAYOUTS {
        let mut server = Server::start_mapcache_with(bin, pin, &["--key-mode", "path"])?;
        let http = server.http.context("no HTTP port")?;
        // Pipelines 0..P are counted down over RESP, P..2P by programs over HTTP.
        create_pipelines(server.addr, 2 * pipelines, shared_root)?;
        let mut h = Http::connect(http)?;
        let bodies: Vec<String> = if wildcard {
            triggers(None).to_vec()
        } else {
            (0..2 * pipelines)
                .flat_map(|n| triggers(Some(&slash(n, shared_root))))
                .collect()
        };
        for body in &bodies {
            let (status, text) = h.send("POST", "/api/v1/triggers", body)?;
            if status != 200 {
                bail!("creating a trigger: {status} {text}");
            }
        }
        // Each HINCRBY fires its countdown trigger; each stage's completion fires the
        // status trigger once more.
        let firings =
            (pipelines * (COUNTDOWNS.iter().sum::<u32>() as usize + COUNTDOWNS.len())) as f64;
        let keys = if shared_root {
            "deployment:N:stages:S, all below the root `deployment`"
        } else {
            "deployment-N:stages:S, a root per pipeline"
        };

        let before = server.proc_stats();
        let (t, elapsed) = phase(server.addr, 0..pipelines, conns, shared_root, resp_worker)?;
        let mut r = result_of(
            &format!("programs-resp-{layout}"),
            t,
            elapsed,
            before,
            server.proc_stats(),
        );
        r.extra
            .insert("firings_per_s".into(), firings / r.elapsed_s.max(1e-9));
        r.extra.insert("pipelines".into(), pipelines as f64);
        r.extra.insert("triggers".into(), bodies.len() as f64);
        r.notes.push(format!(
            "{pipelines} pipelines of 5 stages ({keys}) counted down by HINCRBY over RESP, {conns} connections; {} triggers",
            bodies.len()
        ));
        out.push(r);

        let before = server.proc_stats();
        let (t, elapsed) = phase(
            http,
            pipelines..2 * pipelines,
            conns,
            shared_root,
            http_worker,
        )?;
        let mut r = result_of(
            &format!("programs-http-{layout}"),
            t,
            elapsed,
            before,
            server.proc_stats(),
        );
        r.extra
            .insert("firings_per_s".into(), firings / r.elapsed_s.max(1e-9));
        r.extra.insert("pipelines".into(), pipelines as f64);
        r.extra.insert("triggers".into(), bodies.len() as f64);
        r.notes.push(format!(
            "{pipelines} pipelines ({keys}) counted down by FOR programs over HTTP (5 per pipeline), {conns} connections; ops are programs"
        ));
        let bad = check_complete(server.addr, 0..2 * pipelines, shared_root)?;
        if !bad.is_empty() {
            r.errors += bad.len() as u64;
            r.error_samples.extend(bad.into_iter().take(5));
        }
        out.push(r);
        if let Some(reason) = server.exited() {
            bail!("the programs server exited: {reason}");
        }
    }
    Ok(out)
}

/// SET and HSET, alternating, to a keyspace written once before the run, so every
/// write replaces an existing node (one triggers would fire for).
#[derive(Debug)]
struct Overwrite;

const OVERWRITE_KEYS: u64 = 10_000;

impl Workload for Overwrite {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let n = (seq / 2 + conn as u64 * 7919) % OVERWRITE_KEYS;
        let mut key = itoa::Buffer::new();
        let key = key.format(n);
        if seq.is_multiple_of(2) {
            encode::command(
                buf,
                &[
                    b"SET",
                    format!("s{key}").as_bytes(),
                    b"value-of-32-bytes-xxxxxxxxxxxxxx",
                ],
            );
            Expect::Ok
        } else {
            encode::command(
                buf,
                &[b"HSET", format!("h{key}").as_bytes(), b"f", b"value"],
            );
            Expect::Int(0)
        }
    }
}

fn overwrite_run(env: &Env<'_>, server: &Server, name: &str) -> Result<RunResult> {
    let s = env.sizes;
    let spec = Spec::new(s.workers, 1, Stop::Time(s.cost_time));
    let before = server.proc_stats();
    let outcome = env
        .rt
        .block_on(load::run(server.addr, spec, Arc::new(Overwrite)));
    let mut r = RunResult::new(name, "mapcache");
    r.set_outcome(&outcome);
    r.set_cpu(before, server.proc_stats(), None);
    Ok(r)
}

/// The `trigger-cost` scenario.
pub fn trigger_cost(env: &Env<'_>, bin: &Path, pin: Option<u32>) -> Result<Vec<RunResult>> {
    let server = Server::start_mapcache_with(bin, pin, &[])?;
    let mut c = SyncClient::connect(server.addr)?;
    for n in 0..OVERWRITE_KEYS {
        c.call(&[b"SET", format!("s{n}").as_bytes(), b"v"])?;
        c.call(&[b"HSET", format!("h{n}").as_bytes(), b"f", b"v"])?;
    }
    let install = |c: &mut SyncClient, db: &[u8]| -> Result<()> {
        c.call(&[b"SELECT", db])?;
        for i in 0..env.sizes.cost_triggers {
            let pattern = format!("other/{i}/*/x");
            let reply = c.call(&[
                b"MC.TRIGGER",
                b"ADD",
                pattern.as_bytes(),
                br#"{"type":"NOOP"}"#,
            ])?;
            if !matches!(reply, Frame::Bulk(_)) {
                bail!("MC.TRIGGER ADD: {reply:?}");
            }
        }
        Ok(())
    };
    let mut out = Vec::new();
    out.push(overwrite_run(env, &server, "trigger-cost-none")?);
    // In another cache first: this cache has none, but some cache has triggers.
    install(&mut c, b"1")?;
    out.push(overwrite_run(env, &server, "trigger-cost-other-cache")?);
    install(&mut c, b"0")?;
    out.push(overwrite_run(env, &server, "trigger-cost-same-cache")?);
    let base = out[0].server_cpu_us_per_op;
    for r in &mut out {
        r.extra
            .insert("triggers".into(), env.sizes.cost_triggers as f64);
        if let (Some(b), Some(x)) = (base, r.server_cpu_us_per_op) {
            r.extra.insert("cpu_vs_none".into(), x / b);
        }
        r.notes.push(format!(
            "SET/HSET to existing keys; {} triggers on other paths (`other/i/*/x`) in: {}",
            env.sizes.cost_triggers,
            match r.scenario.as_str() {
                "trigger-cost-none" => "no cache",
                "trigger-cost-other-cache" => "database 1 (the load writes database 0)",
                _ => "databases 1 and 0 (the load's own cache)",
            }
        ));
    }
    Ok(out)
}
