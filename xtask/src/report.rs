//! Results of `stress`: the terminal table, `report.json` and `report.md`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::load::{Outcome, Quantiles};
use crate::server::ProcStats;

/// One scenario (or one step of it, such as one pipeline depth) against one target.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub target: String,
    /// Replies received.
    pub ops: u64,
    pub errors: u64,
    pub elapsed_s: f64,
    pub ops_per_s: f64,
    /// Per-request latency, microseconds.
    pub latency_us: Quantiles,
    pub server_before: Option<ProcStats>,
    pub server_after: Option<ProcStats>,
    /// Server utime+stime during the run, seconds.
    pub server_cpu_s: Option<f64>,
    /// Server CPU per reply, microseconds.
    pub server_cpu_us_per_op: Option<f64>,
    /// The load generator's own CPU per reply, microseconds.
    pub client_cpu_us_per_op: Option<f64>,
    /// Scenario-specific figures (ttl-storm: creation rate, storm latency, reclaim times).
    pub extra: BTreeMap<String, f64>,
    pub notes: Vec<String>,
    pub error_samples: Vec<String>,
    pub server_died: bool,
}

impl RunResult {
    pub fn new(scenario: &str, target: &str) -> Self {
        RunResult {
            scenario: scenario.to_string(),
            target: target.to_string(),
            ops: 0,
            errors: 0,
            elapsed_s: 0.0,
            ops_per_s: 0.0,
            latency_us: Quantiles::default(),
            server_before: None,
            server_after: None,
            server_cpu_s: None,
            server_cpu_us_per_op: None,
            client_cpu_us_per_op: None,
            extra: BTreeMap::new(),
            notes: Vec::new(),
            error_samples: Vec::new(),
            server_died: false,
        }
    }

    /// Fills throughput, errors and latency from a load run.
    pub fn set_outcome(&mut self, o: &Outcome) {
        self.ops = o.ops;
        self.errors += o.errors;
        self.elapsed_s = o.elapsed.as_secs_f64();
        self.ops_per_s = o.ops_per_sec();
        self.latency_us = Quantiles::of(&o.hist);
        self.error_samples.extend(o.samples.iter().cloned());
    }

    /// Fills the server and client CPU figures from snapshots around the run.
    pub fn set_cpu(
        &mut self,
        before: Option<ProcStats>,
        after: Option<ProcStats>,
        client_cpu_s: Option<f64>,
    ) {
        self.server_before = before;
        self.server_after = after;
        if let (Some(b), Some(a)) = (before, after) {
            let cpu = a.cpu_s - b.cpu_s;
            self.server_cpu_s = Some(cpu);
            if self.ops > 0 {
                self.server_cpu_us_per_op = Some(cpu * 1e6 / self.ops as f64);
            }
        }
        if let (Some(c), true) = (client_cpu_s, self.ops > 0) {
            self.client_cpu_us_per_op = Some(c * 1e6 / self.ops as f64);
        }
    }

    pub fn failed(&self) -> bool {
        self.errors > 0 || self.server_died
    }
}

/// mapcache's figure over another target's, for one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Ratio {
    pub scenario: String,
    /// mapcache / other
    pub against: String,
    pub ops_per_s: Option<f64>,
    pub p99: Option<f64>,
    pub max: Option<f64>,
    pub server_cpu_per_op: Option<f64>,
    pub extra: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub command: String,
    pub machine: Machine,
    pub results: Vec<RunResult>,
    pub ratios: Vec<Ratio>,
}

#[derive(Debug, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub kernel: String,
    pub client_threads: usize,
    /// /proc/loadavg when the run ended: other work on the machine skews every figure.
    pub loadavg: String,
    pub note: String,
}

impl Machine {
    pub fn detect(client_threads: usize) -> Machine {
        Machine {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            client_threads,
            loadavg: std::fs::read_to_string("/proc/loadavg")
                .unwrap_or_default()
                .trim()
                .to_string(),
            note:
                "the load generator runs on the same machine and competes with the server for CPU"
                    .to_string(),
        }
    }
}

fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// mapcache / other for every scenario both ran.
pub fn ratios(results: &[RunResult]) -> Vec<Ratio> {
    let mut out = Vec::new();
    for m in results.iter().filter(|r| r.target == "mapcache") {
        for o in results
            .iter()
            .filter(|r| r.target != "mapcache" && r.scenario == m.scenario)
        {
            let mut extra = BTreeMap::new();
            for (k, v) in &m.extra {
                if let Some(r) = o.extra.get(k).and_then(|ov| ratio(*v, *ov)) {
                    extra.insert(k.clone(), r);
                }
            }
            out.push(Ratio {
                scenario: m.scenario.clone(),
                against: o.target.clone(),
                ops_per_s: ratio(m.ops_per_s, o.ops_per_s),
                p99: ratio(m.latency_us.p99, o.latency_us.p99),
                max: ratio(m.latency_us.max, o.latency_us.max),
                server_cpu_per_op: match (m.server_cpu_us_per_op, o.server_cpu_us_per_op) {
                    (Some(a), Some(b)) => ratio(a, b),
                    _ => None,
                },
                extra,
            });
        }
    }
    out
}

fn opt(v: Option<f64>, prec: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.prec$}"))
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".to_string(), |k| format!("{:.1}", k as f64 / 1024.0))
}

/// The results table, as Markdown (also what the terminal shows).
pub fn results_table(results: &[RunResult]) -> String {
    let mut t = String::new();
    t.push_str("| scenario | target | ops/s | errors | p50 µs | p99 µs | p99.9 µs | max µs | srv CPU µs/op | client CPU µs/op | RSS MiB before→after | threads |\n");
    t.push_str("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|\n");
    for r in results {
        let q = r.latency_us;
        let _ = writeln!(
            t,
            "| {} | {} | {:.0} | {}{} | {:.0} | {:.0} | {:.0} | {:.0} | {} | {} | {}→{} | {} |",
            r.scenario,
            r.target,
            r.ops_per_s,
            r.errors,
            if r.server_died { " (died)" } else { "" },
            q.p50,
            q.p99,
            q.p999,
            q.max,
            opt(r.server_cpu_us_per_op, 1),
            opt(r.client_cpu_us_per_op, 1),
            mib(r.server_before.map(|s| s.rss_kib)),
            mib(r.server_after.map(|s| s.rss_kib)),
            r.server_after
                .map_or_else(|| "-".to_string(), |s| s.threads.to_string()),
        );
    }
    t
}

pub fn ratios_table(ratios: &[Ratio]) -> String {
    let mut t = String::new();
    if ratios.is_empty() {
        return t;
    }
    t.push_str("| scenario | mapcache / | ops/s | p99 | max | srv CPU/op |\n|---|---|---:|---:|---:|---:|\n");
    for r in ratios {
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {} | {} |",
            r.scenario,
            r.against,
            opt(r.ops_per_s, 2),
            opt(r.p99, 2),
            opt(r.max, 2),
            opt(r.server_cpu_per_op, 2)
        );
    }
    t
}

/// The ttl-storm figures of every target, side by side.
pub fn storm_table(results: &[RunResult]) -> String {
    extras_table(results, "ttl-storm", STORM_ROWS)
}

const PROGRAM_ROWS: Rows = &[
    ("pipelines", "pipelines (5 stages each)", 0),
    ("triggers", "triggers", 0),
    ("firings_per_s", "trigger firings per s", 0),
    (
        "completing_p50_us",
        "HINCRBY completing a pipeline, p50 µs",
        0,
    ),
    (
        "completing_p99_us",
        "HINCRBY completing a pipeline, p99 µs",
        0,
    ),
    (
        "completing_max_us",
        "HINCRBY completing a pipeline, max µs",
        0,
    ),
];

const COST_ROWS: Rows = &[
    ("triggers", "triggers on other paths", 0),
    ("cpu_vs_none", "server CPU per request vs no triggers", 2),
];

/// The programs scenario's figures (ops/s in the results table: HINCRBYs or programs).
pub fn programs_table(results: &[RunResult]) -> String {
    extras_table(results, "programs", PROGRAM_ROWS)
}

/// The trigger-cost scenario's figures.
pub fn cost_table(results: &[RunResult]) -> String {
    extras_table(results, "trigger-cost", COST_ROWS)
}

/// The connections figures of every target, side by side.
pub fn connections_table(results: &[RunResult]) -> String {
    extras_table(results, "connections", CONNECTION_ROWS)
}

/// The memory scenario: server RSS per key of each shape, one column per target, and
/// mapcache's ratio to the first other target.
pub fn memory_table(results: &[RunResult]) -> String {
    let mem: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.scenario.starts_with("memory-"))
        .collect();
    let mut targets: Vec<&str> = Vec::new();
    let mut shapes: Vec<&str> = Vec::new();
    for r in &mem {
        if !targets.contains(&r.target.as_str()) {
            targets.push(&r.target);
        }
        let shape = r.scenario.trim_start_matches("memory-");
        if !shapes.contains(&shape) {
            shapes.push(shape);
        }
    }
    let mut t = String::new();
    if mem.is_empty() {
        return t;
    }
    let per_key = |target: &str, shape: &str| {
        mem.iter()
            .find(|r| r.target == target && r.scenario.trim_start_matches("memory-") == shape)
            .and_then(|r| r.extra.get("rss_per_key_bytes").copied())
    };
    let other = targets.iter().copied().find(|t| *t != "mapcache");
    t.push_str("| shape (server RSS per key, bytes) |");
    for target in &targets {
        let _ = write!(t, " {target} |");
    }
    if other.is_some() {
        t.push_str(" ratio |");
    }
    t.push_str("\n|---|");
    for _ in 0..targets.len() + usize::from(other.is_some()) {
        t.push_str("---:|");
    }
    t.push('\n');
    for shape in &shapes {
        let _ = write!(t, "| {shape} |");
        for target in &targets {
            let _ = write!(t, " {} |", opt(per_key(target, shape), 0));
        }
        if let Some(o) = other {
            let ratio = per_key("mapcache", shape)
                .zip(per_key(o, shape))
                .filter(|(_, b)| *b > 0.0)
                .map(|(a, b)| a / b);
            let _ = write!(t, " {} |", opt(ratio, 2));
        }
        t.push('\n');
    }
    t
}

/// The eviction scenario: one row per trace, policy and target.
pub fn eviction_table(results: &[RunResult]) -> String {
    let rows: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.scenario.starts_with("eviction-"))
        .collect();
    let mut t = String::new();
    if rows.is_empty() {
        return t;
    }
    t.push_str("| trace / policy | target | hit ratio | 2nd half | ops/s | srv CPU µs/req | used_memory peak / maxmemory MiB | max stall µs | idle max µs | evicted | keys held at the end |\n");
    t.push_str("|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
    for r in rows {
        let x = |k: &str| r.extra.get(k).copied();
        let _ = writeln!(
            t,
            "| {} | {} | {} | {} | {:.0} | {} | {} / {} | {} | {} | {} | {} |",
            r.scenario.trim_start_matches("eviction-"),
            r.target,
            opt(x("hit_ratio"), 3),
            opt(x("hit_ratio_second_half"), 3),
            r.ops_per_s,
            opt(r.server_cpu_us_per_op, 2),
            opt(x("used_memory_peak_mib"), 1),
            opt(x("maxmemory_mib"), 1),
            opt(x("max_stall_us"), 0),
            opt(x("idle_max_stall_us"), 0),
            opt(x("evicted_keys"), 0),
            opt(x("keys_at_end"), 0),
        );
    }
    t
}

/// (key in `extra`, label, decimals)
type Rows = &'static [(&'static str, &'static str, usize)];

const CONNECTION_ROWS: Rows = &[
    ("connections", "connections held open", 0),
    ("open_per_s", "opened and first PING answered, per s", 0),
    ("rss_per_conn_kib", "server RSS per connection, KiB", 1),
    ("threads_holding", "server threads while holding them", 0),
];

const STORM_ROWS: Rows = &[
    ("keys", "keys", 0),
    ("create_keys_per_s", "creation, keys/s", 0),
    ("create_cpu_us_per_key", "server CPU per key created, µs", 2),
    ("baseline_p99_us", "probe p99 before the deadline, µs", 0),
    (
        "baseline_max_us",
        "probe max before the deadline (the machine's noise), µs",
        0,
    ),
    ("storm_p50_us", "probe p50 in the storm window, µs", 0),
    ("storm_p99_us", "probe p99 in the storm window, µs", 0),
    ("storm_max_us", "probe max in the storm window, µs", 0),
    ("storm_ping_max_us", "PING max in the storm window, µs", 0),
    ("storm_get_max_us", "GET max in the storm window, µs", 0),
    ("storm_probes", "probes in the storm window", 0),
    ("dbsize_zero_ms", "deadline → DBSIZE 0, ms", 0),
    (
        "reclaimed_ms",
        "deadline → all keys reclaimed (expired_keys), ms",
        0,
    ),
    ("reclaim_cpu_s", "server CPU, deadline → reclaimed, s", 2),
    ("rss_before_mib", "RSS before, MiB", 1),
    ("rss_peak_mib", "RSS with the keys, MiB", 1),
    ("rss_after_mib", "RSS after reclaim, MiB", 1),
];

/// Figures from `extra` of every scenario starting with `prefix`, one column each.
fn extras_table(results: &[RunResult], prefix: &str, rows: Rows) -> String {
    let storms: Vec<&RunResult> = results
        .iter()
        .filter(|r| r.scenario.starts_with(prefix))
        .collect();
    let mut t = String::new();
    if storms.is_empty() {
        return t;
    }
    t.push_str("| figure |");
    for s in &storms {
        let _ = write!(t, " {} ({}) |", s.target, s.scenario);
    }
    t.push_str("\n|---|");
    for _ in &storms {
        t.push_str("---:|");
    }
    t.push('\n');
    for (key, label, prec) in rows {
        let _ = write!(t, "| {label} |");
        for s in &storms {
            let _ = write!(t, " {} |", opt(s.extra.get(*key).copied(), *prec));
        }
        t.push('\n');
    }
    t
}

/// Writes `report.json` and `report.md` into `dir`; returns the Markdown.
pub fn write(dir: &Path, report: &Report) -> Result<String> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let json = serde_json::to_string_pretty(report)?;
    std::fs::write(dir.join("report.json"), json)?;
    let mut md = String::new();
    let _ = writeln!(md, "# mapcache stress report\n\n`{}`\n", report.command);
    let m = &report.machine;
    let _ = writeln!(
        md,
        "Machine: {} CPUs, Linux {}, load average at the end {}; load generator on {} tokio worker thread(s). Caveat: {}.\n",
        m.cpus, m.kernel, m.loadavg, m.client_threads, m.note
    );
    if !report.ratios.is_empty() {
        let _ = writeln!(
            md,
            "## Ratios (mapcache / other; ops/s higher is better, the rest lower)\n\n{}",
            ratios_table(&report.ratios)
        );
    }
    let _ = writeln!(md, "## Results\n\n{}", results_table(&report.results));
    let storm = storm_table(&report.results);
    if !storm.is_empty() {
        let _ = writeln!(md, "## ttl-storm\n\n{storm}");
    }
    let conns = connections_table(&report.results);
    if !conns.is_empty() {
        let _ = writeln!(md, "## connections\n\n{conns}");
    }
    let memory = memory_table(&report.results);
    if !memory.is_empty() {
        let _ = writeln!(md, "## memory\n\n{memory}");
    }
    let programs = programs_table(&report.results);
    if !programs.is_empty() {
        let _ = writeln!(md, "## programs\n\n{programs}");
    }
    let cost = cost_table(&report.results);
    if !cost.is_empty() {
        let _ = writeln!(md, "## trigger-cost\n\n{cost}");
    }
    let eviction = eviction_table(&report.results);
    if !eviction.is_empty() {
        let _ = writeln!(md, "## eviction\n\n{eviction}");
    }
    if let Some(svg) = crate::plot::eviction_svg(&report.results) {
        std::fs::write(dir.join("eviction-hit-ratio.svg"), svg)?;
        let _ = writeln!(
            md,
            "Hit ratio over time: ![hit ratio over time](eviction-hit-ratio.svg)\n"
        );
    }
    let notes: Vec<String> = report
        .results
        .iter()
        .flat_map(|r| {
            r.notes
                .iter()
                .chain(&r.error_samples)
                .map(move |n| format!("- {} / {}: {n}", r.scenario, r.target))
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(md, "## Notes and errors\n\n{}\n", notes.join("\n"));
    }
    std::fs::write(dir.join("report.md"), &md)?;
    Ok(md)
}
