//! `cargo xtask profile`: where mapcache's CPU time and allocations go under a stress
//! scenario, in the shape of the seed report's CPU and memory tables.
//!
//! 1. Starts the profiling binary (`[profile.profiling]`: release code with symbols)
//!    with `--debug-endpoints`, runs a scenario's load against it, and while the load
//!    runs fetches `/debug/pprof/profile?format=collapsed` (then the SVG, a second
//!    window of the same length).
//! 2. Folds the stacks into self and cumulative time per function, and into the seed
//!    report's categories: each sample goes to the category of the first frame, from
//!    the leaf up, that belongs to one (so `memcpy` inside the decoder is parsing).
//! 3. Runs `alloc-profile` (src/bin): the same workload's requests through decode,
//!    execute and encode in process under dhat: bytes and allocations per request and
//!    the top allocation sites.
//!
//! Writes `flamegraph.svg`, `profile.collapsed`, `profile.json`, `alloc.json`,
//! `report.md` under `target/profile/`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use serde::Serialize;
use serde_json::Value;

use crate::load::{self, Quantiles, Spec, Stop};
use crate::server::{self, Server};
use crate::symbols::strip_generics;
use crate::workloads::{Mixed, SetGet, Sustained};

#[derive(Debug)]
pub struct Opts {
    pub scenario: String,
    pub quick: bool,
    pub seconds: Option<u64>,
    pub frequency: u32,
    pub workers: Option<usize>,
    pub bin: Option<PathBuf>,
    pub no_build: bool,
    pub out: PathBuf,
    pub alloc_ops: Option<u64>,
}

/// The seed report's CPU categories, in its order, plus ours.
pub const CATEGORIES: &[(&str, &str)] = &[
    (
        "Network I/O",
        "send/recv/epoll syscalls, std::net, mio, tokio's I/O driver",
    ),
    ("RESP parsing", "mapcache_resp::decode"),
    (
        "Command execution",
        "mapcache_commands, mapcache_store, mapcache_expiry",
    ),
    ("RESP encoding", "mapcache_resp::encode, the reply buffer"),
    (
        "Runtime",
        "tokio's scheduler, thread parking (futex), std::thread",
    ),
    ("Metrics", "mapcache_server::metrics, quanta, metrics"),
    ("Allocator", "jemalloc, __rust_alloc/dealloc"),
    (
        "Connection loop",
        "mapcache_server outside metrics: the read/decode/execute/write loop",
    ),
    (
        "Other",
        "none of the above (e.g. libc memcpy called from runtime code)",
    ),
];

#[derive(Debug, Default, Serialize)]
pub struct Row {
    pub name: String,
    pub samples: u64,
    pub pct: f64,
}

#[derive(Debug, Default, Serialize)]
pub struct Cpu {
    pub samples: u64,
    pub frequency: u32,
    /// samples / frequency: the CPU seconds the samples stand for.
    pub sampled_cpu_s: f64,
    /// The server's utime+stime over the profile window, from /proc.
    pub server_cpu_s: Option<f64>,
    pub categories: Vec<Row>,
    pub top_self: Vec<Row>,
    pub top_cumulative: Vec<Row>,
    /// Cumulative time of the command handlers (mapcache_commands::families::*).
    pub handlers: Vec<Row>,
}

#[derive(Debug, Serialize)]
pub struct LoadFigures {
    pub scenario: String,
    pub conns: usize,
    pub depth: usize,
    pub ops: u64,
    pub errors: u64,
    pub ops_per_s: f64,
    pub latency_us: Quantiles,
    pub server_died: bool,
    pub error_samples: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ProfileReport {
    pub command: String,
    pub binary: String,
    pub seconds: u64,
    pub cpu: Cpu,
    pub load: LoadFigures,
    /// alloc-profile's summary (bytes and allocations per request, top sites).
    pub alloc: Value,
    /// `/debug/allocator` before and after the load.
    pub allocator_before: Value,
    pub allocator_after: Value,
}

/// The category index (into [`CATEGORIES`]) a frame belongs to, if any.
pub fn classify(frame: &str) -> Option<usize> {
    let f = frame;
    let bare = f.rsplit("::").next().unwrap_or(f);
    const JEMALLOC: &[&str] = &[
        "_rjem_",
        "je_",
        "tcache_",
        "arena_",
        "extent_",
        "sz_",
        "imalloc",
        "ifree",
        "isfree",
        "emap_",
        "rtree_",
        "edata_",
        "pac_",
        "pa_",
        "sec_",
        "hpa_",
        "large_",
        "sdallocx",
        "mallocx",
        "rallocx",
        "malloc",
        "free",
        "cfree",
        "realloc",
        "calloc",
        "__rust_alloc",
        "__rust_dealloc",
        "__rust_realloc",
        "__rdl_",
    ];
    const IO: &[&str] = &[
        "__libc_send",
        "__libc_recv",
        "send",
        "recv",
        "sendto",
        "recvfrom",
        "read",
        "write",
        "writev",
        "readv",
        "__libc_write",
        "__libc_read",
        "__libc_writev",
        "epoll_wait",
        "__GI___libc_write",
        "__GI___libc_read",
        "__send",
        "__recv",
    ];
    const RUNTIME_C: &[&str] = &[
        "syscall",
        "sched_yield",
        "__lll_lock_wait",
        "__futex_abstimed_wait_common",
        "pthread_cond_wait",
        "pthread_cond_timedwait",
        "futex_wait",
        "__GI___futex_abstimed_wait",
        "clone3",
        "start_thread",
        "__pthread_cond_wait",
    ];
    if f.contains("jemalloc")
        || f.starts_with("alloc::alloc::")
        || JEMALLOC.iter().any(|p| f.starts_with(p))
    {
        Some(6)
    } else if f.contains("mapcache_server::metrics")
        || f.starts_with("quanta::")
        || f.starts_with("<quanta::")
        || f.starts_with("metrics::")
        || f.starts_with("<metrics::")
        || f.starts_with("metrics_exporter")
    {
        Some(5)
    } else if f.contains("mapcache_resp::decode") || bare == "decode_command" {
        Some(1)
    } else if f.contains("mapcache_resp::encode") || f.contains("mapcache_commands::reply") {
        Some(3)
    } else if f.contains("mapcache_commands")
        || f.contains("mapcache_store")
        || f.contains("mapcache_expiry")
    {
        Some(2)
    } else if IO.contains(&f)
        || f.contains("std::sys::net")
        || f.contains("std::net::")
        || f.starts_with("mio::")
        || f.starts_with("<mio::")
        || f.contains("tokio::net::")
        || f.contains("tokio::io::")
        || f.contains("tokio::runtime::io")
    {
        Some(0)
    } else if f.starts_with("tokio::")
        || f.starts_with("<tokio::")
        || f.starts_with("parking_lot")
        || f.starts_with("std::thread")
        || f.starts_with("std::sys::sync")
        || f.starts_with("std::sys::pal")
        || RUNTIME_C.contains(&f)
    {
        Some(4)
    } else if f.contains("mapcache_server") {
        Some(7)
    } else {
        None
    }
}

/// Folds `thread;root;...;leaf count` lines (the thread name is the root frame).
pub fn analyze(collapsed: &str, frequency: u32) -> Cpu {
    let mut cpu = Cpu {
        frequency,
        ..Cpu::default()
    };
    let mut cats = vec![0u64; CATEGORIES.len()];
    let mut selfs: HashMap<String, u64> = HashMap::new();
    let mut cumul: HashMap<String, u64> = HashMap::new();
    let mut handlers: HashMap<String, u64> = HashMap::new();
    for line in collapsed.lines() {
        let Some((stack, count)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(count) = count.trim().parse::<u64>() else {
            continue;
        };
        let frames: Vec<String> = stack.split(';').skip(1).map(strip_generics).collect();
        cpu.samples += count;
        let cat = frames
            .iter()
            .rev()
            .find_map(|f| classify(f))
            .unwrap_or(CATEGORIES.len() - 1);
        cats[cat] += count;
        if let Some(leaf) = frames.last() {
            *selfs.entry(leaf.clone()).or_default() += count;
        }
        let mut seen = HashSet::new();
        let mut seen_handler = HashSet::new();
        for f in &frames {
            if seen.insert(f.as_str()) {
                *cumul.entry(f.clone()).or_default() += count;
            }
            if let Some(i) = f.find("mapcache_commands::families::") {
                // mapcache_commands::families::strings::get -> strings::get
                let rest = &f[i + "mapcache_commands::families::".len()..];
                let name: Vec<&str> = rest.split("::").take(2).collect();
                let name = name.join("::");
                if seen_handler.insert(name.clone()) {
                    *handlers.entry(name).or_default() += count;
                }
            }
        }
    }
    let total = cpu.samples.max(1) as f64;
    let rows = |m: HashMap<String, u64>, n: usize| -> Vec<Row> {
        let mut v: Vec<Row> = m
            .into_iter()
            .map(|(name, samples)| Row {
                name,
                samples,
                pct: samples as f64 * 100.0 / total,
            })
            .collect();
        v.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.name.cmp(&b.name)));
        v.truncate(n);
        v
    };
    cpu.categories = CATEGORIES
        .iter()
        .zip(&cats)
        .map(|((name, _), &samples)| Row {
            name: name.to_string(),
            samples,
            pct: samples as f64 * 100.0 / total,
        })
        .collect();
    cpu.top_self = rows(selfs, 20);
    // Frames in nearly every sample (thread start, the runtime's loop) say nothing.
    let common = (cpu.samples as f64 * 0.9) as u64;
    cpu.top_cumulative = rows(
        cumul.into_iter().filter(|(_, n)| *n <= common).collect(),
        25,
    );
    cpu.handlers = rows(handlers, 10);
    cpu.sampled_cpu_s = cpu.samples as f64 / f64::from(frequency.max(1));
    cpu
}

/// GET over a fresh connection; (status, body).
fn http_get(addr: SocketAddr, path: &str, timeout: Duration) -> Result<(u16, Vec<u8>)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)
        .with_context(|| format!("reading the answer to GET {path}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("no HTTP head")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    Ok((status, raw[split + 4..].to_vec()))
}

fn get_ok(addr: SocketAddr, path: &str, timeout: Duration) -> Result<Vec<u8>> {
    let (status, body) = http_get(addr, path, timeout)?;
    if status != 200 {
        bail!(
            "GET {path}: {status} {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(body)
}

fn allocator_json(addr: SocketAddr) -> Value {
    get_ok(addr, "/debug/allocator", Duration::from_secs(10))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

pub fn run(o: Opts, command: &str) -> Result<()> {
    let seconds = o
        .seconds
        .unwrap_or(if o.quick { 4 } else { 15 })
        .clamp(1, 60);
    let workers = o.workers.unwrap_or(if o.quick { 20 } else { 50 });
    let (depth, alloc_workload) = match o.scenario.as_str() {
        "sustained" => (1, "sustained"),
        "mixed" => (1, "mixed"),
        "pipeline" => (16, "sustained"),
        other => bail!("profile: scenario {other:?}: sustained, mixed or pipeline"),
    };
    let bin = server::profiling_binary(o.bin.as_deref(), o.no_build)?;
    let mut srv = Server::start_mapcache_with(&bin, None, &["--debug-endpoints"])?;
    let http = srv.http.context("no HTTP address")?;
    let allocator_before = allocator_json(http);

    // The load: the warm-up, two profile windows, a margin.
    let load_time = Duration::from_secs(2 * seconds + 3);
    let mut spec = Spec::new(workers, depth, Stop::Time(load_time));
    spec.max_wall = load_time + Duration::from_secs(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let addr = srv.addr;
    let value_size = 32;
    let handle = match o.scenario.as_str() {
        "sustained" => rt.spawn(load::run(addr, spec, Arc::new(Sustained { value_size }))),
        "mixed" => rt.spawn(load::run(
            addr,
            spec,
            Arc::new(Mixed {
                keyspace: 100_000,
                value_size,
            }),
        )),
        _ => rt.spawn(load::run(
            addr,
            spec,
            Arc::new(SetGet {
                prefix: "p",
                keyspace: Some(10_000),
                value_size,
            }),
        )),
    };
    eprintln!(
        "profile: {} ({workers} connections, depth {depth}) for {load_time:?}; sampling {seconds} s at {} Hz",
        o.scenario, o.frequency
    );
    std::thread::sleep(Duration::from_secs(1));
    let wait = Duration::from_secs(seconds + 120);
    let before = srv.proc_stats();
    let collapsed = get_ok(
        http,
        &format!(
            "/debug/pprof/profile?seconds={seconds}&frequency={}&format=collapsed",
            o.frequency
        ),
        wait,
    );
    let after = srv.proc_stats();
    let svg = get_ok(
        http,
        &format!(
            "/debug/pprof/profile?seconds={seconds}&frequency={}&format=svg",
            o.frequency
        ),
        wait,
    );
    let outcome = rt.block_on(handle).context("the load task")?;
    let allocator_after = allocator_json(http);
    let died = srv.exited();
    drop(srv);
    let collapsed = String::from_utf8(collapsed?).context("collapsed stacks are not UTF-8")?;
    let svg = svg?;

    let mut cpu = analyze(&collapsed, o.frequency);
    cpu.server_cpu_s = before.zip(after).map(|(b, a)| a.cpu_s - b.cpu_s);
    let load = LoadFigures {
        scenario: o.scenario.clone(),
        conns: workers,
        depth,
        ops: outcome.ops,
        errors: outcome.errors,
        ops_per_s: outcome.ops_per_sec(),
        latency_us: Quantiles::of(&outcome.hist),
        server_died: died.is_some(),
        error_samples: outcome.samples.clone(),
    };

    std::fs::create_dir_all(&o.out).with_context(|| format!("creating {}", o.out.display()))?;
    // alloc-profile runs from the workspace root: give it an absolute path.
    let out_dir = std::fs::canonicalize(&o.out).unwrap_or_else(|_| o.out.clone());
    let alloc_ops = o
        .alloc_ops
        .unwrap_or(if o.quick { 50_000 } else { 500_000 });
    let alloc_path = out_dir.join("alloc.json");
    let alloc = alloc_profile(alloc_workload, alloc_ops, workers, depth, &alloc_path)?;

    let rep = ProfileReport {
        command: command.to_string(),
        binary: bin.display().to_string(),
        seconds,
        cpu,
        load,
        alloc,
        allocator_before,
        allocator_after,
    };
    std::fs::write(o.out.join("flamegraph.svg"), &svg)?;
    std::fs::write(o.out.join("profile.collapsed"), &collapsed)?;
    std::fs::write(
        o.out.join("profile.json"),
        serde_json::to_string_pretty(&rep)?,
    )?;
    let md = markdown(&rep);
    std::fs::write(o.out.join("report.md"), &md)?;
    crate::say(&md);
    crate::say(&format!(
        "wrote {0}/flamegraph.svg, profile.json, report.md, alloc.json",
        o.out.display()
    ));
    let problems = crate::check::profile_problems(&serde_json::to_value(&rep)?);
    if !problems.is_empty() {
        bail!("profile: {}", problems.join("; "));
    }
    Ok(())
}

/// Runs `alloc-profile` (this package's second binary, built by cargo if needed).
fn alloc_profile(
    workload: &str,
    ops: u64,
    conns: usize,
    depth: usize,
    out: &Path,
) -> Result<Value> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .current_dir(crate::tidy::workspace_root())
        .args([
            "run",
            "--quiet",
            "-p",
            "xtask",
            "--bin",
            "alloc-profile",
            "--",
        ])
        .args(["--workload", workload, "--ops", &ops.to_string()])
        .args(["--conns", &conns.to_string(), "--depth", &depth.to_string()])
        .arg("--out")
        .arg(out)
        .status()
        .context("running alloc-profile")?;
    if !status.success() {
        bail!("alloc-profile failed: {status}");
    }
    let text =
        std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn f64_of(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The report: the seed report's CPU and memory tables, filled with ours.
pub fn markdown(r: &ProfileReport) -> String {
    let mut md = String::new();
    let c = &r.cpu;
    let l = &r.load;
    let _ = writeln!(md, "# mapcache profile\n\n`{}`\n", r.command);
    let _ = writeln!(
        md,
        "Load: `{}`, {} connections, depth {}: {} requests, {:.0}/s, {} errors, p99 {:.0} µs. Binary: `{}`.\n",
        l.scenario, l.conns, l.depth, l.ops, l.ops_per_s, l.errors, l.latency_us.p99, r.binary
    );
    let _ = writeln!(
        md,
        "## CPU time distribution\n\n{} s profile at {} Hz: {} samples = {:.2} CPU s sampled{}. (SIGPROF sampling misses some ticks when several threads are due at once: the shares are what to read.)\n",
        r.seconds,
        c.frequency,
        c.samples,
        c.sampled_cpu_s,
        c.server_cpu_s.map_or(String::new(), |s| format!(
            " (the server's /proc CPU time over the window: {s:.2} s)"
        ))
    );
    md.push_str("| Component | Time | % | Notes |\n|---|---:|---:|---|\n");
    for (row, (_, note)) in c.categories.iter().zip(CATEGORIES) {
        let _ = writeln!(
            md,
            "| **{}** | {:.2}s | {:.1}% | {} |",
            row.name,
            row.samples as f64 / f64::from(c.frequency.max(1)),
            row.pct,
            note
        );
    }
    md.push_str("\nEach sample counts once, for the first frame from the leaf up that belongs to a component (the seed report's rows overlap; these add up to 100 %).\n");
    if !c.handlers.is_empty() {
        md.push_str(
            "\n### Hot paths in command execution (cumulative)\n\n| handler | % |\n|---|---:|\n",
        );
        for h in &c.handlers {
            let _ = writeln!(md, "| {} | {:.2}% |", h.name, h.pct);
        }
    }
    md.push_str(
        "\n### Top functions by self time\n\n| function | samples | % |\n|---|---:|---:|\n",
    );
    for f in &c.top_self {
        let _ = writeln!(md, "| `{}` | {} | {:.1}% |", f.name, f.samples, f.pct);
    }
    md.push_str("\n### Top functions by cumulative time\n\n(Frames in more than 90 % of the samples, thread start and the runtime's loop, left out.)\n\n| function | samples | % |\n|---|---:|---:|\n");
    for f in &c.top_cumulative {
        let _ = writeln!(md, "| `{}` | {} | {:.1}% |", f.name, f.samples, f.pct);
    }

    let a = &r.alloc;
    let total = f64_of(a, "total_bytes").max(1.0);
    let ops = f64_of(a, "ops").max(1.0);
    let _ = writeln!(
        md,
        "\n## Memory profile\n\n**Type:** allocation space (dhat, in process: the `{}` requests through decode, execute and encode, {} connections, depth {})  \n**Total allocated:** {:.2} MB in {} requests: **{:.1} bytes and {:.3} allocations per request**; peak heap {:.2} MB (what the stored keys hold).\n",
        a.get("workload").and_then(Value::as_str).unwrap_or("?"),
        a.get("conns").and_then(Value::as_u64).unwrap_or(0),
        a.get("depth").and_then(Value::as_u64).unwrap_or(0),
        total / 1e6,
        ops,
        f64_of(a, "bytes_per_op"),
        f64_of(a, "blocks_per_op"),
        f64_of(a, "max_bytes") / 1e6
    );
    md.push_str("| Site | Alloc | % | Allocations per request | Via |\n|---|---:|---:|---:|---|\n");
    for s in a
        .get("sites")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let bytes = f64_of(s, "bytes");
        let _ = writeln!(
            md,
            "| `{}` | {:.2} MB | {:.1}% | {:.3} | `{}` |",
            s.get("site").and_then(Value::as_str).unwrap_or("?"),
            bytes / 1e6,
            bytes * 100.0 / total,
            f64_of(s, "blocks") / ops,
            s.get("via").and_then(Value::as_str).unwrap_or("?"),
        );
    }
    let mem = |v: &Value, k: &str| v.get(k).and_then(Value::as_f64).map(|b| b / 1048576.0);
    let _ = writeln!(
        md,
        "\nServer (`/debug/allocator`) before → after the load: allocated {} → {} MiB, resident {} → {} MiB.",
        fmt_opt(mem(&r.allocator_before, "allocated")),
        fmt_opt(mem(&r.allocator_after, "allocated")),
        fmt_opt(mem(&r.allocator_before, "resident")),
        fmt_opt(mem(&r.allocator_after, "resident")),
    );
    md
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn samples_go_to_the_first_component_from_the_leaf() {
        let collapsed = "\
tokio-rt-worker;tokio::runtime::park;mapcache_server::connection::serve;mapcache_resp::decode::decode_command;memcpy 5
tokio-rt-worker;tokio::runtime::park;mapcache_server::connection::serve;std::sys::net::write;__libc_send 7
tokio-rt-worker;tokio::runtime::park;mapcache_server::connection::serve;mapcache_commands::families::strings::get;mapcache_store::db::Db::get 3
tokio-rt-worker;mapcache_server::connection::serve;mapcache_commands::families::strings::set;_rjem_malloc 2
tokio-rt-worker;tokio::runtime::scheduler::run;syscall 1
tokio-rt-worker;mapcache_server::connection::serve;mapcache_resp::encode::bulk 4
tokio-rt-worker;mapcache_server::metrics::ConnObserver::finish;quanta::Clock::now 1
tokio-rt-worker;mapcache_server::connection::serve 2
unknown;memcpy 1
";
        let cpu = analyze(collapsed, 100);
        assert_eq!(cpu.samples, 26);
        let by: BTreeMap<&str, u64> = cpu
            .categories
            .iter()
            .map(|r| (r.name.as_str(), r.samples))
            .collect();
        assert_eq!(by["RESP parsing"], 5);
        assert_eq!(by["Network I/O"], 7);
        assert_eq!(by["Command execution"], 3);
        assert_eq!(by["Allocator"], 2);
        assert_eq!(by["Runtime"], 1);
        assert_eq!(by["RESP encoding"], 4);
        assert_eq!(by["Metrics"], 1);
        assert_eq!(by["Connection loop"], 2);
        assert_eq!(by["Other"], 1);
        assert_eq!(cpu.top_self[0].name, "__libc_send");
        assert!((cpu.sampled_cpu_s - 0.26).abs() < 1e-9);
        let park = cpu
            .top_cumulative
            .iter()
            .find(|r| r.name == "tokio::runtime::park")
            .unwrap();
        assert_eq!(park.samples, 15);
        let serve = cpu
            .top_cumulative
            .iter()
            .find(|r| r.name == "mapcache_server::connection::serve")
            .unwrap();
        assert_eq!(serve.samples, 23);
        assert_eq!(cpu.handlers.len(), 2);
        // A frame in every sample is left out of the cumulative table.
        let cpu = analyze("t;main;a 5\nt;main;b 5\n", 100);
        let names: Vec<&str> = cpu.top_cumulative.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}
