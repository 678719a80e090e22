//! Server processes under test: mapcache and redis-server started on free loopback
//! ports (killed by PID when dropped, also on error paths), a server already running
//! (`--addr`), or the in-process self-test server; and their /proc figures.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use mapcache_resp::{decode_command, Frame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::load::SyncClient;

/// Which server a target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Mapcache,
    Redis,
    /// The in-process server that answers `+PONG`/`+OK` to everything: the load
    /// generator's own ceiling.
    Selftest,
    /// A server at `--addr` we did not start.
    External,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Mapcache => "mapcache",
            Kind::Redis => "redis",
            Kind::Selftest => "selftest",
            Kind::External => "external",
        }
    }
}

/// A server under test.
#[derive(Debug)]
pub struct Server {
    pub kind: Kind,
    pub addr: SocketAddr,
    /// mapcache's HTTP port, when we started it.
    pub http: Option<SocketAddr>,
    /// The process we started (killed on drop).
    child: Option<Child>,
    /// The PID whose /proc figures are read (ours, or `--pid` for `--addr`).
    pid: Option<u32>,
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Server {
    /// Starts the mapcache binary at `bin` on free loopback ports.
    pub fn start_mapcache(bin: &Path, pin_cpu: Option<u32>) -> Result<Server> {
        Self::start_mapcache_with(bin, pin_cpu, &[])
    }

    /// [`Server::start_mapcache`] with extra flags (e.g. `--debug-endpoints`).
    pub fn start_mapcache_with(bin: &Path, pin_cpu: Option<u32>, extra: &[&str]) -> Result<Server> {
        let (port, http) = (free_port()?, free_port()?);
        let mut cmd = pinned(pin_cpu, bin);
        cmd.args([
            "--bind",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--http-port",
            &http.to_string(),
        ])
        .args(["--log-level", "warn", "--maxclients", "10100"])
        .args(extra);
        let mut s = Self::spawn(Kind::Mapcache, cmd, port)?;
        s.http = Some(SocketAddr::from(([127, 0, 0, 1], http)));
        Ok(s)
    }

    /// Starts `redis-server` without persistence on a free loopback port.
    pub fn start_redis(pin_cpu: Option<u32>) -> Result<Server> {
        let port = free_port()?;
        let mut cmd = pinned(pin_cpu, Path::new("redis-server"));
        cmd.args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .args([
            "--maxclients",
            "10100",
            "--loglevel",
            "warning",
            "--daemonize",
            "no",
        ]);
        Self::spawn(Kind::Redis, cmd, port)
    }

    fn spawn(kind: Kind, mut cmd: Command, port: u16) -> Result<Server> {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}: {cmd:?}", kind.name()))?;
        let pid = child.id();
        let mut s = Server {
            kind,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            http: None,
            child: Some(child),
            pid: Some(pid),
        };
        // Dropping `s` on the error path kills the process.
        s.wait_ready(Duration::from_secs(15))?;
        Ok(s)
    }

    /// A server someone else runs; `pid` (if given) is where /proc figures come from.
    pub fn external(addr: SocketAddr, pid: Option<u32>) -> Result<Server> {
        let mut s = Server {
            kind: Kind::External,
            addr,
            http: None,
            child: None,
            pid,
        };
        s.wait_ready(Duration::from_secs(5))?;
        Ok(s)
    }

    /// The self-test server: this executable's `selftest-server` task.
    pub fn start_selftest(pin_cpu: Option<u32>) -> Result<Server> {
        let port = free_port()?;
        let mut cmd = pinned(pin_cpu, &std::env::current_exe()?);
        cmd.args(["selftest-server", "--port", &port.to_string()]);
        Self::spawn(Kind::Selftest, cmd, port)
    }

    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Waits until `PING` answers `+PONG`.
    fn wait_ready(&mut self, within: Duration) -> Result<()> {
        let start = Instant::now();
        let mut last = String::new();
        while start.elapsed() < within {
            if let Some(reason) = self.exited() {
                bail!("{} exited before it was ready: {reason}", self.name());
            }
            match SyncClient::connect(self.addr).and_then(|mut c| c.call(&[b"PING"])) {
                Ok(Frame::Simple(s)) if &s[..] == b"PONG" => return Ok(()),
                Ok(f) => last = format!("{f:?}"),
                Err(e) => last = e.to_string(),
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{} at {} not ready within {within:?}: {last}",
            self.name(),
            self.addr
        )
    }

    /// `Some(reason)` if the process we started has exited.
    pub fn exited(&mut self) -> Option<String> {
        let child = self.child.as_mut()?;
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(e.to_string()),
        }
    }

    /// The server's /proc figures now (`None` without a PID or once it is gone).
    pub fn proc_stats(&self) -> Option<ProcStats> {
        match self.pid {
            Some(pid) => ProcStats::read(&format!("/proc/{pid}")),
            None => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Our own child, by its handle (its PID): nothing else is touched.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `bin`, run through `taskset -c CPU` when pinned (taskset execs, so the PID is the server's).
fn pinned(cpu: Option<u32>, bin: &Path) -> Command {
    match cpu {
        Some(c) => {
            let mut cmd = Command::new("taskset");
            cmd.arg("-c").arg(c.to_string()).arg(bin);
            cmd
        }
        None => Command::new(bin),
    }
}

/// Figures of a process from /proc.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct ProcStats {
    /// Resident set size, KiB (VmRSS).
    pub rss_kib: u64,
    /// Threads.
    pub threads: u64,
    /// utime + stime of all its threads, seconds.
    pub cpu_s: f64,
}

impl ProcStats {
    /// Reads `dir`/status and `dir`/stat (`dir` is `/proc/PID` or `/proc/self`).
    pub fn read(dir: &str) -> Option<ProcStats> {
        let status = std::fs::read_to_string(format!("{dir}/status")).ok()?;
        let field = |name: &str| -> Option<u64> {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        };
        let stat = std::fs::read_to_string(format!("{dir}/stat")).ok()?;
        // Fields after the command name (which may contain spaces) start at field 3.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
        Some(ProcStats {
            rss_kib: field("VmRSS:").unwrap_or(0),
            threads: field("Threads:").unwrap_or(0),
            cpu_s: (utime + stime) as f64 / clock_ticks() as f64,
        })
    }
}

/// CPU seconds (cutime + cstime) of this process's children that have been waited for.
pub fn children_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (cu, cs): (u64, u64) = (f.get(13)?.parse().ok()?, f.get(14)?.parse().ok()?);
    Some((cu + cs) as f64 / clock_ticks() as f64)
}

/// `sysconf(_SC_CLK_TCK)`, via `getconf` (no unsafe code); 100 if unavailable.
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok()?.trim().parse().ok())
            .unwrap_or(100)
    })
}

/// The release binary: `--bin`, else built with cargo (unless `no_build`) and found
/// in the target directory.
pub fn mapcache_binary(explicit: Option<&Path>, no_build: bool) -> Result<PathBuf> {
    cargo_binary("release", explicit, no_build)
}

/// The binary `profile` runs: `--bin`, else `target/profiling/mapcache` (the release
/// code with symbols, `[profile.profiling]`), built with cargo unless `no_build`.
pub fn profiling_binary(explicit: Option<&Path>, no_build: bool) -> Result<PathBuf> {
    cargo_binary("profiling", explicit, no_build)
}

/// `explicit` if given, else mapcache built in cargo profile `profile` (unless
/// `no_build`) and found in the target directory.
fn cargo_binary(profile: &str, explicit: Option<&Path>, no_build: bool) -> Result<PathBuf> {
    if let Some(p) = explicit {
        if !p.is_file() {
            bail!("--bin {}: no such file", p.display());
        }
        return Ok(p.to_path_buf());
    }
    let root = crate::tidy::workspace_root();
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from);
    let bin = target.join(profile).join("mapcache");
    if !no_build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let build = format!("cargo build --profile {profile} -p mapcache");
        eprintln!("building the {profile} binary ({build}) ...");
        let status = Command::new(cargo)
            .current_dir(&root)
            .args(["build", "--profile", profile, "-p", "mapcache"])
            .status()
            .context("running cargo build")?;
        if !status.success() {
            bail!("{build} failed: {status}");
        }
    }
    if !bin.is_file() {
        bail!("{} not found (build it, or pass --bin PATH)", bin.display());
    }
    Ok(bin)
}

/// The self-test server (`cargo xtask selftest-server --port P`, a process of its own
/// so its CPU is not counted as the client's): answers `+PONG` to PING and `+OK` to
/// everything else, as cheaply as a RESP server can, on a 2-thread runtime like
/// mapcache's, to show how fast the client alone can go. Runs until killed.
pub fn run_selftest_server(port: u16) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        loop {
            let (s, _) = listener.accept().await?;
            tokio::spawn(mock_conn(s));
        }
    })
}

async fn mock_conn(mut s: tokio::net::TcpStream) {
    let _ = s.set_nodelay(true);
    let limits = mapcache_resp::Limits::default();
    let mut rbuf = BytesMut::with_capacity(16 * 1024);
    let mut out = BytesMut::with_capacity(16 * 1024);
    let mut args: Vec<Bytes> = Vec::new();
    loop {
        match s.read_buf(&mut rbuf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        out.clear();
        loop {
            match decode_command(&mut rbuf, &limits, &mut args) {
                Ok(true) if args.is_empty() => {}
                Ok(true) if args[0].eq_ignore_ascii_case(b"PING") => {
                    out.extend_from_slice(b"+PONG\r\n")
                }
                Ok(true) => out.extend_from_slice(b"+OK\r\n"),
                Ok(false) => break,
                Err(_) => return,
            }
        }
        if s.write_all(&out).await.is_err() {
            return;
        }
    }
}
