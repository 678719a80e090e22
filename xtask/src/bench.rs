//! `cargo xtask bench`: redis-benchmark against mapcache and redis-server, alternately.
//!
//! A test is a redis-benchmark `-t` name, or one of two cases of our own:
//! `evalsha` (redis-benchmark's raw-command mode: `EVALSHA <sha> 1 counter:__rand_int__`
//! of [`SCRIPT`], loaded first on each server with SCRIPT LOAD) and `multi-incr10`
//! (MULTI, 10 INCRs, EXEC: xtask's own client, [`crate::bench_tx`]).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::bench_tx;
use crate::load::SyncClient;
use crate::server::{children_cpu_s, Server};
use mapcache_resp::Frame;

/// The `evalsha` test's name in `--tests`.
pub const EVALSHA: &str = "evalsha";
/// The script `evalsha` runs: one INCR of its key.
pub const SCRIPT: &str = "return redis.call('incr', KEYS[1])";

#[derive(Clone, Debug)]
pub struct Opts {
    pub tests: Vec<String>,
    pub requests: u64,
    pub clients: usize,
    pub rounds: usize,
    pub pipelines: Vec<usize>,
    /// Server on CPU 0, redis-benchmark on CPU 1.
    pub taskset: bool,
    /// Transactions per `multi-incr10` run (over `clients` connections).
    pub transactions: u64,
}

/// One redis-benchmark run of one test against one server.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    pub target: String,
    pub test: String,
    pub pipeline: usize,
    pub round: usize,
    pub rps: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub server_cpu_us_per_req: Option<f64>,
    pub client_cpu_us_per_req: Option<f64>,
}

/// Medians of one (test, pipeline) for both servers.
#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    pub test: String,
    pub pipeline: usize,
    pub mapcache_rps: f64,
    pub redis_rps: f64,
    pub rps_ratio: f64,
    pub mapcache_cpu_us: Option<f64>,
    pub redis_cpu_us: Option<f64>,
    pub cpu_ratio: Option<f64>,
    pub client_cpu_us: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct BenchReport {
    pub command: String,
    pub cases: Vec<Case>,
    pub summary: Vec<Summary>,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    Some(if v.len().is_multiple_of(2) {
        (v[m - 1] + v[m]) / 2.0
    } else {
        v[m]
    })
}

/// Parses redis-benchmark's `--csv` output: `"SET","123.45","0.2",...` per test.
///
/// The figures are taken from the right: in raw-command mode the test's name is the
/// command line itself (`"EVALSHA 2bab... 1 counter:__rand_int__"`), printed without
/// escaping, so it may hold commas or quotes of its own.
fn parse_csv(out: &str) -> Vec<(String, f64, Option<f64>, Option<f64>)> {
    let unquote = |c: &str| {
        let c = c.trim();
        c.strip_prefix('"')
            .and_then(|c| c.strip_suffix('"'))
            .unwrap_or(c)
            .to_string()
    };
    let mut rows = Vec::new();
    let mut header: Vec<String> = Vec::new();
    for line in out.lines() {
        if line.trim_start().starts_with("\"test\"") {
            header = line.split(',').map(unquote).collect();
            continue;
        }
        // Without a header (older redis-benchmark): name and rps.
        let width = header.len().max(2);
        let mut cells: Vec<String> = line.rsplitn(width, ',').map(unquote).collect();
        cells.reverse();
        if cells.len() < width {
            continue;
        }
        let Some(rps) = cells.get(1).and_then(|c| c.parse::<f64>().ok()) else {
            continue;
        };
        let col = |name: &str| -> Option<f64> {
            let i = header.iter().position(|h| h == name)?;
            cells.get(i)?.parse().ok()
        };
        rows.push((
            cells[0].clone(),
            rps,
            col("p50_latency_ms"),
            col("p99_latency_ms"),
        ));
    }
    rows
}

/// Loads [`SCRIPT`] on `server`; its SHA1.
fn script_load(server: &Server) -> Result<String> {
    let mut c = SyncClient::connect(server.addr)?;
    match c.call(&[b"SCRIPT", b"LOAD", SCRIPT.as_bytes()])? {
        Frame::Bulk(sha) if sha.len() == 40 && sha.iter().all(u8::is_ascii_hexdigit) => {
            Ok(String::from_utf8_lossy(&sha).into_owned())
        }
        f => bail!("SCRIPT LOAD on {}: unexpected reply {f:?}", server.name()),
    }
}

fn run_case(
    server: &Server,
    opts: &Opts,
    test: &str,
    pipeline: usize,
    round: usize,
) -> Result<Case> {
    if test == bench_tx::NAME {
        return bench_tx::run_case(server, opts.transactions, opts.clients, pipeline, round);
    }
    let mut cmd = if opts.taskset {
        let mut c = Command::new("taskset");
        c.args(["-c", "1", "redis-benchmark"]);
        c
    } else {
        Command::new("redis-benchmark")
    };
    cmd.args(["-h", "127.0.0.1", "-p", &server.addr.port().to_string()])
        .args([
            "-c",
            &opts.clients.to_string(),
            "-n",
            &opts.requests.to_string(),
        ])
        .args(["-r", "100000", "-q", "--csv"]);
    if pipeline > 1 {
        cmd.args(["-P", &pipeline.to_string()]);
    }
    if test == EVALSHA {
        // Raw-command mode: the command comes after every option.
        let sha = script_load(server)?;
        cmd.args(["EVALSHA", &sha, "1", "counter:__rand_int__"]);
    } else {
        cmd.args(["-t", test]);
    }
    cmd.stdin(Stdio::null());
    let before = server.proc_stats();
    let cbefore = children_cpu_s();
    let out = cmd.output().with_context(|| format!("running {cmd:?}"))?;
    let after = server.proc_stats();
    let cafter = children_cpu_s();
    if !out.status.success() {
        bail!(
            "{cmd:?} failed: {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let rows = parse_csv(&text);
    let Some((_, rps, p50, p99)) = rows.first().cloned() else {
        bail!(
            "no result in redis-benchmark's output for {test} against {}: {text}",
            server.name()
        );
    };
    let reqs = opts.requests as f64;
    Ok(Case {
        target: server.name().to_string(),
        test: test.to_string(),
        pipeline,
        round,
        rps,
        p50_ms: p50,
        p99_ms: p99,
        server_cpu_us_per_req: before
            .zip(after)
            .map(|(b, a)| (a.cpu_s - b.cpu_s) * 1e6 / reqs),
        client_cpu_us_per_req: cbefore.zip(cafter).map(|(b, a)| (a - b) * 1e6 / reqs),
    })
}

/// Runs every (round, pipeline, test) against both servers, alternating which goes first.
pub fn run(
    mapcache: &Server,
    redis: &Server,
    opts: &Opts,
    command: &str,
    out_dir: &Path,
) -> Result<String> {
    let mut cases = Vec::new();
    for round in 0..opts.rounds {
        for &p in &opts.pipelines {
            for (i, test) in opts.tests.iter().enumerate() {
                let order = if (round + i) % 2 == 0 {
                    [mapcache, redis]
                } else {
                    [redis, mapcache]
                };
                for s in order {
                    let c = run_case(s, opts, test, p, round)?;
                    eprintln!(
                        "round {round} -P {p:<3} {test:<6} {:<8} {:>10.0} req/s  server CPU {} µs/req",
                        c.target,
                        c.rps,
                        c.server_cpu_us_per_req.map_or("-".into(), |v| format!("{v:.2}"))
                    );
                    cases.push(c);
                }
            }
        }
    }
    let mut summary = Vec::new();
    for &p in &opts.pipelines {
        for test in &opts.tests {
            let pick = |target: &str, f: &dyn Fn(&Case) -> Option<f64>| {
                median(
                    cases
                        .iter()
                        .filter(|c| c.target == target && c.pipeline == p && &c.test == test)
                        .filter_map(f)
                        .collect(),
                )
            };
            let (m, r) = (
                pick("mapcache", &|c| Some(c.rps)),
                pick("redis", &|c| Some(c.rps)),
            );
            let (mc, rc) = (
                pick("mapcache", &|c| c.server_cpu_us_per_req),
                pick("redis", &|c| c.server_cpu_us_per_req),
            );
            let (Some(m), Some(r)) = (m, r) else { continue };
            summary.push(Summary {
                test: test.clone(),
                pipeline: p,
                mapcache_rps: m,
                redis_rps: r,
                rps_ratio: m / r,
                mapcache_cpu_us: mc,
                redis_cpu_us: rc,
                cpu_ratio: mc.zip(rc).and_then(|(a, b)| (b > 0.0).then(|| a / b)),
                client_cpu_us: pick("mapcache", &|c| c.client_cpu_us_per_req),
            });
        }
    }
    let md = table(&summary, opts);
    let report = BenchReport {
        command: command.to_string(),
        cases,
        summary,
    };
    std::fs::create_dir_all(out_dir)?;
    std::fs::write(
        out_dir.join("bench.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(
        out_dir.join("bench.md"),
        format!("# mapcache bench\n\n`{command}`\n\n{md}"),
    )?;
    Ok(md)
}

fn table(summary: &[Summary], opts: &Opts) -> String {
    let mut t = format!(
        "redis-benchmark -c {} -n {} -r 100000, median of {} rounds{}; CPU = server utime+stime per request.\n\n",
        opts.clients,
        opts.requests,
        opts.rounds,
        if opts.taskset { ", server on CPU 0, client on CPU 1" } else { "" }
    );
    if opts.tests.iter().any(|t| t == EVALSHA) {
        let _ = writeln!(
            t,
            "evalsha: `EVALSHA <sha> 1 counter:__rand_int__` of `{SCRIPT}` (redis-benchmark's raw-command mode).\n"
        );
    }
    if opts.tests.iter().any(|t| t == bench_tx::NAME) {
        let _ = writeln!(
            t,
            "{}: MULTI, 10 INCRs, EXEC; xtask's client on one thread, -c {} connections, {} transactions, -P transactions per write, every reply checked; rps = transactions/s, CPU per transaction; client CPU is the whole xtask process's.\n",
            bench_tx::NAME,
            opts.clients,
            opts.transactions
        );
    }
    t.push_str("| test | -P | rps ratio (mapcache/redis) | CPU/req ratio | mapcache rps | redis rps | mapcache CPU µs/req | redis CPU µs/req | client CPU µs/req |\n");
    t.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    let f = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.2}"));
    let mut by_p: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for s in summary {
        by_p.entry(s.pipeline).or_default().push(s.rps_ratio);
        let _ = writeln!(
            t,
            "| {} | {} | **{:.2}** | {} | {:.0} | {:.0} | {} | {} | {} |",
            s.test,
            s.pipeline,
            s.rps_ratio,
            f(s.cpu_ratio),
            s.mapcache_rps,
            s.redis_rps,
            f(s.mapcache_cpu_us),
            f(s.redis_cpu_us),
            f(s.client_cpu_us)
        );
    }
    for (p, v) in by_p {
        let geo = (v.iter().map(|x| x.ln()).sum::<f64>() / v.len() as f64).exp();
        let _ = writeln!(t, "\nGeometric mean rps ratio at -P {p}: **{geo:.2}**");
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv() {
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"SET\",\"81037.28\",\"0.331\",\"0.080\",\"0.319\",\"0.471\",\"0.599\",\"1.495\"\n";
        let rows = parse_csv(out);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "SET");
        assert!((rows[0].1 - 81037.28).abs() < 1e-6);
        assert_eq!(rows[0].2, Some(0.319));
        assert_eq!(rows[0].3, Some(0.599));
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn parses_raw_command_csv() {
        // redis-benchmark 7.0 -q --csv in raw-command mode (EVALSHA ...), as printed.
        let out = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"EVALSHA 2bab3b661081db58bd2341920e0ba7cf5dc77b25 1 counter:__rand_int__\",\"37735.85\",\"0.098\",\"0.024\",\"0.079\",\"0.127\",\"0.343\",\"3.103\"\n";
        let rows = parse_csv(out);
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rows[0].0,
            "EVALSHA 2bab3b661081db58bd2341920e0ba7cf5dc77b25 1 counter:__rand_int__"
        );
        assert!((rows[0].1 - 37735.85).abs() < 1e-6);
        assert_eq!(rows[0].2, Some(0.079));
        assert_eq!(rows[0].3, Some(0.343));
        // A raw command whose arguments hold commas and quotes (printed unescaped).
        let out = "\"test\",\"rps\",\"p50_latency_ms\",\"p99_latency_ms\"\n\"EVAL return {1,\"a\"} 0\",\"1000.00\",\"0.5\",\"0.9\"\n";
        let rows = parse_csv(out);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, "EVAL return {1,\"a\"} 0");
        assert_eq!(
            (rows[0].1, rows[0].2, rows[0].3),
            (1000.0, Some(0.5), Some(0.9))
        );
        // No header (older redis-benchmark): name and rps only; junk lines are skipped.
        let rows = parse_csv("Error: x\n\"GET\",\"5.5\"\n");
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].0.as_str(), rows[0].1), ("GET", 5.5));
        assert_eq!(rows[0].2, None);
    }
}
