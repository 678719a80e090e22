//! Project tooling, run as `cargo xtask <task>`.
//!
//! - `test`: installs the Debian packages the tests run (or says how), then
//!   `cargo test --workspace` with the arguments given: the README's test command.
//! - `tidy`: checks the workspace's shape (the dependency direction docs/ARCHITECTURE.md
//!   fixes) and that every source file has a `//!` doc and no test uses should_panic.
//! - `stress`: the load scenarios against mapcache (and `--vs redis`), with a report.
//! - `bench`: redis-benchmark against mapcache and redis-server, as ratios.
//! - `http-bench`: reads over the HTTP/JSON API against the same reads over RESP.
//! - `profile`: a CPU profile (by component, by function) and an allocation profile
//!   of mapcache under a stress scenario.
//! - `check-report`: fails unless a stress or profile JSON shows operations and no errors.
//!
//! See docs/PERFORMANCE.md.

mod bench;
mod bench_tx;
mod check;
mod eviction;
mod http_bench;
mod load;
mod plot;
mod profile;
mod programs;
mod report;
mod rt;
mod scenarios;
mod server;
mod symbols;
mod test;
mod tidy;
mod workloads;

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use crate::server::{Kind, Server};

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "mapcache project tooling")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Install the Debian packages the tests run (redis-server, redis-tools, prometheus,
    /// nutcracker) when missing, then run `cargo test --workspace ARGS...`.
    #[command(disable_help_flag = true)]
    Test {
        /// Passed on to cargo test (`-p PKG` replaces `--workspace`; after `--`, to the
        /// test binaries).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
    /// Check the workspace's layering and its source files (`//!` docs, no should_panic).
    Tidy,
    /// Run load scenarios against mapcache (and redis-server with --vs redis).
    Stress(StressArgs),
    /// Run redis-benchmark against mapcache and redis-server alternately.
    Bench(BenchArgs),
    /// GET of a leaf and of a 40 KB branch over HTTP against the same reads over RESP.
    HttpBench(HttpBenchArgs),
    /// Profile mapcache's CPU (debug endpoint) and allocations (dhat) under a scenario.
    Profile(ProfileArgs),
    /// Fail unless every result of a stress report.json (or a profile.json) has
    /// operations and no errors (what CI checks).
    CheckReport {
        /// report.json / profile.json files.
        files: Vec<PathBuf>,
    },
    /// Draw a saved stress report's eviction hit ratio over time again (SVG).
    PlotEviction {
        /// A stress report.json with eviction runs.
        report: PathBuf,
        /// Where the SVG goes.
        out: PathBuf,
    },
    /// The self-test server of `stress --self-test` (answers +PONG/+OK to everything).
    #[command(hide = true)]
    SelftestServer {
        #[arg(long)]
        port: u16,
    },
}

/// Which mapcache binary a task runs.
#[derive(Debug, clap::Args)]
struct BinaryArgs {
    /// The mapcache binary (default: build target/release/mapcache, or
    /// target/profiling/mapcache for `profile`, and use it).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Do not run cargo build; use the binary that is there.
    #[arg(long)]
    no_build: bool,
}

#[derive(Debug, clap::Args)]
struct StressArgs {
    /// Scenarios to run (default: all): concurrent, sustained, pipeline, mixed,
    /// ttl-storm, connections, memory, eviction, programs, trigger-cost (the last
    /// two on mapcache only).
    scenarios: Vec<String>,
    /// Every scenario at a small size (about 20 s per server).
    #[arg(long)]
    quick: bool,
    /// Also run every scenario against this server, alternating: `redis`.
    #[arg(long)]
    vs: Option<String>,
    /// Also run against an in-process server that answers +PONG/+OK to everything:
    /// the load generator's own ceiling.
    #[arg(long)]
    self_test: bool,
    /// Only the self-test server (no mapcache build).
    #[arg(long)]
    self_test_only: bool,
    /// Use a server already running here instead of starting mapcache (its data is flushed!).
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// With --addr: the server's PID, for CPU, RSS and thread figures.
    #[arg(long, requires = "addr")]
    pid: Option<u32>,
    #[command(flatten)]
    binary: BinaryArgs,
    /// concurrent: clients.
    #[arg(long)]
    clients: Option<usize>,
    /// concurrent: SET+GET pairs per client.
    #[arg(long)]
    pairs: Option<u64>,
    /// sustained, mixed: workers (connections).
    #[arg(long)]
    workers: Option<usize>,
    /// sustained, mixed: seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// ttl-storm: keys.
    #[arg(long)]
    keys: Option<u64>,
    /// ttl-storm: TTL in seconds (default 3 s + 5 µs per key).
    #[arg(long)]
    ttl: Option<f64>,
    /// pipeline: depths, comma-separated.
    #[arg(long, value_delimiter = ',')]
    depths: Option<Vec<usize>>,
    /// pipeline: seconds per depth.
    #[arg(long)]
    pipeline_time: Option<f64>,
    /// pipeline: connections.
    #[arg(long)]
    pipeline_conns: Option<usize>,
    /// connections: counts to hold open, comma-separated.
    #[arg(long, value_delimiter = ',')]
    connections: Option<Vec<usize>>,
    /// memory: keys of each shape.
    #[arg(long)]
    memory_keys: Option<u64>,
    /// Value size in bytes.
    #[arg(long)]
    value_size: Option<usize>,
    /// programs: pipelines counted down over each protocol.
    #[arg(long)]
    pipelines: Option<usize>,
    /// trigger-cost: triggers on other paths.
    #[arg(long)]
    cost_triggers: Option<usize>,
    /// eviction: distinct keys of the traces (maxmemory holds about a tenth of them).
    #[arg(long)]
    distinct: Option<u64>,
    /// eviction: requests (GETs) per trace.
    #[arg(long)]
    requests: Option<u64>,
    /// eviction: maxmemory policies to run, comma-separated.
    #[arg(long, value_delimiter = ',')]
    policies: Option<Vec<String>>,
    /// Tokio worker threads of the load generator.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Pin servers to CPU 0 and this process to CPU 1.
    #[arg(long)]
    taskset: bool,
    /// Where report.json and report.md go (default: target/stress).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct ProfileArgs {
    /// The load: sustained (default), mixed or pipeline (SET/GET at depth 16).
    #[arg(default_value = "sustained")]
    scenario: String,
    /// Small and short (a 4 s profile, 20 connections, 50,000 counted requests): CI.
    #[arg(long)]
    quick: bool,
    /// Length of each profile window (default 15 s, 4 with --quick; at most 60).
    #[arg(long)]
    seconds: Option<u64>,
    /// Sampling frequency, Hz.
    #[arg(long, default_value_t = 99)]
    frequency: u32,
    /// Connections of the load.
    #[arg(long)]
    workers: Option<usize>,
    /// Requests counted by the allocation profile (default 500,000; 50,000 with --quick).
    #[arg(long)]
    alloc_ops: Option<u64>,
    #[command(flatten)]
    binary: BinaryArgs,
    /// Where the output goes (default: target/profile).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct BenchArgs {
    /// Requests per test (redis-benchmark -n).
    #[arg(long, short = 'n', default_value_t = 100_000)]
    requests: u64,
    /// Clients (redis-benchmark -c).
    #[arg(long, short = 'c', default_value_t = 50)]
    clients: usize,
    /// Rounds; each figure is the median.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// Tests, comma-separated: redis-benchmark -t names, and (only when named)
    /// `evalsha` (EVALSHA of a one-INCR script, redis-benchmark's raw-command mode)
    /// and `multi-incr10` (MULTI, 10 INCRs, EXEC; xtask's own client).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "get,set,incr,lpush,hset,mset"
    )]
    tests: Vec<String>,
    /// Transactions per `multi-incr10` run (over the -c connections).
    #[arg(long, default_value_t = 20_000)]
    transactions: u64,
    /// Pipeline depths (redis-benchmark -P), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pipelines: Vec<usize>,
    /// Pin the servers to CPU 0 and redis-benchmark (and xtask's own client) to CPU 1.
    #[arg(long)]
    taskset: bool,
    #[command(flatten)]
    binary: BinaryArgs,
    /// Where bench.json and bench.md go (default: target/stress).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
struct HttpBenchArgs {
    /// Requests per case (split over the connections).
    #[arg(long, short = 'n', default_value_t = 20_000)]
    requests: u64,
    /// Connections (one client thread each), each sending one request at a time.
    #[arg(long, short = 'c', default_value_t = 1)]
    conns: usize,
    /// Rounds (the cases alternate); each figure is the median.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[command(flatten)]
    binary: BinaryArgs,
    /// Where http-bench.md goes (default: target/stress).
    #[arg(long)]
    out: Option<PathBuf>,
}

/// A failure is one line, `cargo xtask: <error chain>`, exit status 1 (no backtrace,
/// whatever `RUST_BACKTRACE` says).
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cargo xtask: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let cli = Cli::parse();
    let command = format!(
        "cargo xtask {}",
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    );
    match cli.task {
        // The words after `test` exactly as given (clap drops a leading `--`).
        Task::Test { .. } => test::run(&std::env::args_os().skip(2).collect::<Vec<_>>()),
        Task::Tidy => tidy::run(),
        Task::PlotEviction { report, out } => plot::redraw(&report, &out),
        Task::Stress(a) => stress(a, &command),
        Task::Bench(a) => bench_task(a, &command),
        Task::HttpBench(a) => http_bench_task(a, &command),
        Task::Profile(a) => profile::run(
            profile::Opts {
                out: a.out.unwrap_or_else(|| target_dir().join("profile")),
                scenario: a.scenario,
                quick: a.quick,
                seconds: a.seconds,
                frequency: a.frequency.clamp(1, 1000),
                workers: a.workers,
                bin: a.binary.bin,
                no_build: a.binary.no_build,
                alloc_ops: a.alloc_ops,
            },
            &command,
        ),
        Task::CheckReport { files } => check::run(&files),
        Task::SelftestServer { port } => server::run_selftest_server(port),
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| tidy::workspace_root().join("target"), PathBuf::from)
}

fn out_dir(explicit: Option<PathBuf>) -> PathBuf {
    explicit.unwrap_or_else(|| target_dir().join("stress"))
}

fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

/// Pins every thread of this process to `cpu` (threads started later inherit it).
fn pin_self(cpu: u32) -> Result<()> {
    let status = std::process::Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpu.to_string(),
            &std::process::id().to_string(),
        ])
        .stdout(std::process::Stdio::null())
        .status()
        .context("running taskset")?;
    if !status.success() {
        bail!("taskset -p failed: {status}");
    }
    Ok(())
}

fn stress(a: StressArgs, command: &str) -> Result<()> {
    let mut sizes = if a.quick {
        scenarios::Sizes::quick()
    } else {
        scenarios::Sizes::full()
    };
    let secs = Duration::from_secs_f64;
    sizes.clients = a.clients.unwrap_or(sizes.clients);
    sizes.pairs = a.pairs.unwrap_or(sizes.pairs);
    sizes.workers = a.workers.unwrap_or(sizes.workers);
    sizes.duration = a.duration.map_or(sizes.duration, secs);
    sizes.keys = a.keys.unwrap_or(sizes.keys);
    sizes.ttl = a.ttl.map(secs).or(sizes.ttl);
    sizes.depths = a.depths.unwrap_or(sizes.depths);
    sizes.pipeline_time = a.pipeline_time.map_or(sizes.pipeline_time, secs);
    sizes.pipeline_conns = a.pipeline_conns.unwrap_or(sizes.pipeline_conns);
    sizes.conn_counts = a.connections.unwrap_or(sizes.conn_counts);
    sizes.memory_keys = a.memory_keys.unwrap_or(sizes.memory_keys);
    sizes.value_size = a.value_size.unwrap_or(sizes.value_size);
    sizes.pipelines = a.pipelines.unwrap_or(sizes.pipelines);
    sizes.cost_triggers = a.cost_triggers.unwrap_or(sizes.cost_triggers);
    sizes.eviction.distinct = a.distinct.unwrap_or(sizes.eviction.distinct);
    sizes.eviction.requests = a.requests.unwrap_or(sizes.eviction.requests);
    if let Some(p) = a.policies.clone() {
        sizes.eviction.policies = p;
    }
    let names: Vec<String> = if a.scenarios.is_empty() {
        scenarios::ALL.iter().map(|s| s.to_string()).collect()
    } else {
        a.scenarios.clone()
    };
    for n in &names {
        if !scenarios::ALL.contains(&n.as_str()) {
            bail!(
                "unknown scenario {n:?}; scenarios: {}",
                scenarios::ALL.join(", ")
            );
        }
    }
    let pin = a.taskset.then_some(0);
    if a.taskset {
        pin_self(1)?;
    }

    // Servers: dropped (so killed) at the end of this function, also on every error path.
    let mut servers: Vec<Server> = Vec::new();
    let mut bin = None;
    if !a.self_test_only {
        match a.addr {
            Some(addr) => servers.push(Server::external(addr, a.pid)?),
            None => {
                let b = server::mapcache_binary(a.binary.bin.as_deref(), a.binary.no_build)?;
                servers.push(Server::start_mapcache(&b, pin)?);
                bin = Some(b);
            }
        }
        match a.vs.as_deref() {
            None => {}
            Some("redis") => servers.push(Server::start_redis(pin)?),
            Some(other) => bail!("--vs {other:?}: only redis is supported"),
        }
    }
    if a.self_test || a.self_test_only {
        servers.push(Server::start_selftest(pin)?);
    }
    for s in &servers {
        eprintln!("{} at {}", s.name(), s.addr);
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(a.client_threads.max(1))
        .enable_all()
        .build()?;
    let env = scenarios::Env {
        rt: &rt,
        sizes: &sizes,
        bin: bin.as_deref(),
        pin,
    };
    let mut results = Vec::new();
    let mut dead = vec![false; servers.len()];
    for (i, name) in names.iter().enumerate() {
        // Alternate which server goes first.
        let mut order: Vec<usize> = (0..servers.len()).collect();
        if i % 2 == 1 {
            order.reverse();
        }
        for j in order {
            if dead[j] {
                continue;
            }
            let server = &mut servers[j];
            eprintln!("== {name} on {}", server.name());
            match scenarios::run(&env, name, server) {
                Ok(rs) => {
                    for r in &rs {
                        eprintln!(
                            "   {} {}: {:.0} ops/s, {} errors, p99 {:.0} µs, max {:.0} µs",
                            r.scenario,
                            r.target,
                            r.ops_per_s,
                            r.errors,
                            r.latency_us.p99,
                            r.latency_us.max
                        );
                        dead[j] |= r.server_died;
                    }
                    results.extend(rs);
                }
                Err(e) => {
                    eprintln!("   failed: {e:#}");
                    let mut r = report::RunResult::new(name, server.name());
                    r.errors = 1;
                    r.error_samples.push(format!("{e:#}"));
                    if let Some(reason) = server.exited() {
                        r.server_died = true;
                        r.notes.push(format!("server exited: {reason}"));
                        dead[j] = true;
                    }
                    results.push(r);
                }
            }
            // Free the scenario's data before the other server's turn.
            if server.kind != Kind::Selftest && !dead[j] {
                let _ =
                    load::SyncClient::connect(server.addr).and_then(|mut c| c.call(&[b"FLUSHALL"]));
            }
        }
    }
    drop(servers);

    let ratios = report::ratios(&results);
    let failed: Vec<String> = results
        .iter()
        .filter(|r| r.failed())
        .map(|r| format!("{} on {}", r.scenario, r.target))
        .collect();
    let rep = report::Report {
        command: command.to_string(),
        machine: report::Machine::detect(a.client_threads),
        results,
        ratios,
    };
    let dir = out_dir(a.out);
    let md = report::write(&dir, &rep)?;
    say(&md);
    say(&format!(
        "wrote {}/report.json and report.md",
        dir.display()
    ));
    if !failed.is_empty() {
        bail!("errors or a dead server in: {}", failed.join(", "));
    }
    Ok(())
}

fn http_bench_task(a: HttpBenchArgs, command: &str) -> Result<()> {
    let bin = server::mapcache_binary(a.binary.bin.as_deref(), a.binary.no_build)?;
    let opts = http_bench::Opts {
        requests: a.requests,
        conns: a.conns.max(1),
        rounds: a.rounds,
    };
    let md = http_bench::run(&bin, &opts, command)?;
    let dir = out_dir(a.out);
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("http-bench.md"), &md)?;
    say(&md);
    say(&format!("wrote {}/http-bench.md", dir.display()));
    Ok(())
}

fn bench_task(a: BenchArgs, command: &str) -> Result<()> {
    let bin = server::mapcache_binary(a.binary.bin.as_deref(), a.binary.no_build)?;
    let pin = a.taskset.then_some(0);
    if a.taskset {
        // multi-incr10's client runs in this process.
        pin_self(1)?;
    }
    let mapcache = Server::start_mapcache(&bin, pin)?;
    let redis = Server::start_redis(pin)?;
    let opts = bench::Opts {
        tests: a.tests,
        requests: a.requests,
        clients: a.clients,
        rounds: a.rounds.max(1),
        pipelines: a.pipelines,
        taskset: a.taskset,
        transactions: a.transactions,
    };
    let dir = out_dir(a.out);
    let md = bench::run(&mapcache, &redis, &opts, command, &dir)?;
    say(&md);
    say(&format!("wrote {}/bench.json and bench.md", dir.display()));
    Ok(())
}
