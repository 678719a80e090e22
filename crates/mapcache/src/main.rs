//! The mapcache binary: command line and environment -> config -> `mapcache_server::run`.
//! The Go map-cache's environment variables are read too (`goenv.rs`).

mod goenv;

use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{CommandFactory as _, FromArgMatches as _, Parser, ValueEnum};
use mapcache_commands::KeyMode;
use mapcache_server::Config;

/// A Redis-compatible in-memory cache server.
///
/// Every flag can also be set through the environment variable named beside it; the Go
/// map-cache's variables (LISTEN_ADDRESS, RESP_ENABLED, RESP_ADDRESS, RESP_KEY_MODE,
/// RESP_DEFAULT_CACHE, RESP_MAX_CONNECTIONS, KEY_DELIMITER, LOG_FORMAT,
/// COMMAND_TIMEOUT_MS) are read with their Go meaning where no flag or MAPCACHE_*
/// variable sets the same thing (docs/migrating-from-map-cache.md).
/// With no flags: RESP on 127.0.0.1:6379, HTTP (health, metrics, JSON API) on 127.0.0.1:8080.
#[derive(Debug, Parser)]
#[command(name = "mapcache", version, about, long_about = None)]
struct Args {
    /// Address to listen on (RESP, and HTTP unless --http-bind is given).
    #[arg(long, env = "MAPCACHE_BIND", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Address the HTTP listener binds to (default: --bind).
    #[arg(long, env = "MAPCACHE_HTTP_BIND")]
    http_bind: Option<IpAddr>,
    /// RESP (Redis protocol) port.
    #[arg(long, env = "MAPCACHE_PORT", default_value_t = 6379)]
    port: u16,
    /// The RESP listener: on, or off for HTTP only (the Go server's RESP_ENABLED).
    #[arg(long, env = "MAPCACHE_RESP", value_enum, default_value_t = Switch::On)]
    resp: Switch,
    /// HTTP port for /healthz, /readyz, /metrics and the JSON API (/api/v1, /admin).
    #[arg(long, env = "MAPCACHE_HTTP_PORT", default_value_t = 8080)]
    http_port: u16,
    /// Password clients must send with AUTH (or HELLO ... AUTH) before other commands.
    #[arg(long, env = "MAPCACHE_REQUIREPASS", hide_env_values = true)]
    requirepass: Option<String>,
    /// Most simultaneous clients; the next one gets "-ERR max number of clients reached".
    #[arg(long, env = "MAPCACHE_MAXCLIENTS", default_value_t = 10_000)]
    maxclients: usize,
    /// Close clients idle for this many seconds (0 = never).
    #[arg(long, env = "MAPCACHE_TIMEOUT", default_value_t = 0)]
    timeout: u64,
    /// Number of databases (SELECT 0..N-1).
    #[arg(long, env = "MAPCACHE_DATABASES", default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=1024))]
    databases: u16,
    /// How RESP keys map onto the store: flat (exactly like Redis), path (a:b:c addresses b/c
    /// inside key a; map-cache's translate) or preserve (map-cache's: a/b/c, ':' literal).
    #[arg(long, env = "MAPCACHE_KEY_MODE", value_enum, default_value_t = Mode::Flat)]
    key_mode: Mode,
    /// The cache RESP connections start in and SELECT 0 selects, in the path and
    /// preserve key modes (created at start if missing).
    #[arg(long, env = "MAPCACHE_DEFAULT_CACHE", default_value = "default")]
    default_cache: String,
    /// Log filter (error, warn, info, debug, trace, or a tracing directive); RUST_LOG overrides.
    #[arg(long, env = "MAPCACHE_LOG_LEVEL", default_value = "info")]
    log_level: String,
    /// Log line format: text (for people) or json (one object per line, for log shippers).
    #[arg(long, env = "MAPCACHE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Per-command statistics (INFO commandstats, /metrics): on, or off to measure their cost.
    #[arg(long, env = "MAPCACHE_METRICS", value_enum, default_value_t = Switch::On)]
    metrics: Switch,
    /// Largest HTTP request body in bytes; a larger one answers 413.
    #[arg(long, env = "MAPCACHE_MAX_BODY", default_value_t = 64 * 1024 * 1024)]
    max_body: usize,
    /// Milliseconds an HTTP API request may take before it is answered 408 (the Go
    /// server's COMMAND_TIMEOUT_MS).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    command_timeout_ms: u64,
    /// Deepest nesting of objects and arrays in a JSON value read over HTTP; deeper answers 400.
    #[arg(long, env = "MAPCACHE_MAX_DEPTH", default_value_t = 128, value_parser = clap::value_parser!(u16).range(1..=1024))]
    max_depth: u16,
    /// Directory where SAVE, BGSAVE and --save-on-shutdown write snapshot files.
    #[arg(long, env = "MAPCACHE_DIR", default_value = ".")]
    dir: std::path::PathBuf,
    /// Snapshot file (or directory of *.snapshot.json files) to restore at start; repeatable.
    #[arg(long, env = "MAPCACHE_LOAD_SNAPSHOT", value_delimiter = ',')]
    load_snapshot: Vec<std::path::PathBuf>,
    /// Write a snapshot of every non-empty cache to --dir on SIGTERM/SIGINT.
    #[arg(long, env = "MAPCACHE_SAVE_ON_SHUTDOWN")]
    save_on_shutdown: bool,
    /// Serve /debug/pprof/profile (CPU profiles) and /debug/allocator on the HTTP port
    /// (they ask for the password like /metrics when requirepass is set).
    #[arg(long, env = "MAPCACHE_DEBUG_ENDPOINTS")]
    debug_endpoints: bool,
    /// Memory limit as Redis writes it (100mb, 2gb, 500k; 0 = none); the allocator's
    /// count of allocated bytes (INFO used_memory) is kept under it by --maxmemory-policy.
    #[arg(long, env = "MAPCACHE_MAXMEMORY", default_value = "0", value_parser = memory_size)]
    maxmemory: u64,
    /// What happens at --maxmemory: noeviction (writes refused), allkeys-lru, allkeys-lfu,
    /// allkeys-random, volatile-lru, volatile-lfu, volatile-random or volatile-ttl.
    #[arg(long, env = "MAPCACHE_MAXMEMORY_POLICY", default_value = "noeviction", value_parser = eviction_policy)]
    maxmemory_policy: mapcache_server::EvictionPolicy,
    /// How much of the keyspace each eviction weighs (Redis's maxmemory-samples; here 16
    /// slots read per sample per refill of a shard's candidate pool).
    #[arg(long, env = "MAPCACHE_MAXMEMORY_SAMPLES", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=2147483647))]
    maxmemory_samples: u64,
    /// LFU policies: how slowly the access counter grows (Redis's lfu-log-factor).
    #[arg(long, env = "MAPCACHE_LFU_LOG_FACTOR", default_value_t = 10)]
    lfu_log_factor: u32,
    /// LFU policies: minutes per decrement of an idle key's counter (Redis's lfu-decay-time).
    #[arg(long, env = "MAPCACHE_LFU_DECAY_TIME", default_value_t = 1)]
    lfu_decay_time: u32,
}

/// `--maxmemory`: a size in Redis's units (k=1000, kb=1024, m, mb, g, gb).
fn memory_size(text: &str) -> Result<u64, String> {
    mapcache_commands::config::parse_memory(text.as_bytes())
        .ok_or_else(|| format!("'{text}' is not a memory size (e.g. 0, 100mb, 2gb, 500k)"))
}

/// `--maxmemory-policy`: one of Redis's eight names.
fn eviction_policy(text: &str) -> Result<mapcache_server::EvictionPolicy, String> {
    mapcache_server::EvictionPolicy::parse(text.as_bytes()).ok_or_else(|| {
        let names: Vec<&str> = mapcache_server::EvictionPolicy::ALL
            .iter()
            .map(|(_, n)| *n)
            .collect();
        format!("'{text}' is not one of {}", names.join(", "))
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    Flat,
    #[value(alias = "translate")]
    Path,
    Preserve,
}

/// jemalloc, chosen by measurement: see docs/PERFORMANCE.md ("Allocator").
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's statistics for `/debug/allocator` (the server crate does not know which
/// allocator this binary links).
#[cfg(not(target_env = "msvc"))]
#[derive(Debug)]
struct JemallocStats;

#[cfg(not(target_env = "msvc"))]
impl mapcache_server::AllocatorStats for JemallocStats {
    fn name(&self) -> &'static str {
        "jemalloc"
    }

    fn figures(&self) -> Result<mapcache_server::AllocatorFigures, String> {
        use tikv_jemalloc_ctl::{epoch, stats};
        // jemalloc's figures are a snapshot taken when the epoch advances.
        epoch::advance().map_err(|e| e.to_string())?;
        let read =
            |r: tikv_jemalloc_ctl::Result<usize>| r.map(|v| v as u64).map_err(|e| e.to_string());
        Ok(mapcache_server::AllocatorFigures {
            allocated: read(stats::allocated::read())?,
            active: read(stats::active::read())?,
            resident: read(stats::resident::read())?,
            mapped: read(stats::mapped::read())?,
            retained: read(stats::retained::read())?,
            metadata: read(stats::metadata::read())?,
        })
    }

    /// One epoch advance and two reads through MIBs looked up once: eviction reads this
    /// about every 10 ms under writes (`mapcache_store::evict::REFRESH_MS`).
    ///
    /// The figure is jemalloc's `stats.allocated` less what the threads' caches hold
    /// (`stats.arenas.<all>.tcache_bytes`): jemalloc counts a freed region parked in a
    /// thread's cache as allocated, and those caches held 1.46 of an empty server's
    /// 1.88 MB. Redis's `used_memory` counts live allocations only; so does this.
    fn allocated(&self) -> Option<u64> {
        use std::sync::OnceLock;
        use tikv_jemalloc_ctl::{epoch, epoch_mib, stats, Access, AsName, Mib};
        type Mibs = (epoch_mib, stats::allocated_mib, Mib<[usize; 4]>);
        static MIBS: OnceLock<Option<Mibs>> = OnceLock::new();
        let (e, a, cached) = MIBS
            .get_or_init(|| {
                // MALLCTL_ARENAS_ALL (4096): the sum over every arena.
                let cached = b"stats.arenas.4096.tcache_bytes\0".name().mib().ok()?;
                Some((epoch::mib().ok()?, stats::allocated::mib().ok()?, cached))
            })
            .as_ref()?;
        e.advance().ok()?;
        let allocated = a.read().ok()? as u64;
        let cached: usize = cached.read().unwrap_or(0);
        Some(allocated.saturating_sub(cached as u64))
    }

    /// jemalloc's background threads are off at startup (`.cargo/config.toml`): turned
    /// on here, they are created by this thread (the sweeper's purger, at nice 10) and
    /// inherit its priority; jemalloc creates the later ones from the first.
    fn start_background_threads(&self) -> Result<(), String> {
        tikv_jemalloc_ctl::background_thread::write(true).map_err(|e| e.to_string())
    }

    /// `arena.<all>.purge`, repeated while dirty pages are left: every arena's unused
    /// dirty (and muzzy) pages go back to the OS.
    ///
    /// jemalloc skips an arena whose pages one of its background threads is purging at
    /// that moment (`decay->purging`), and those then come back only at the decay's
    /// pace: after a 10M-key storm RSS was still 199-411 MiB 0.3 s after the last key
    /// went, in three runs of six (1,054 -> 564 -> 35 MiB over 0.4 s in another).
    /// So the purge goes on, a few milliseconds apart, until less than
    /// [`PURGE_LEFT`] is dirty or [`PURGE_ROUNDS`] are done.
    fn purge(&self) -> Result<(), String> {
        for round in 1..=PURGE_ROUNDS {
            purge_all_arenas()?;
            match dirty_bytes() {
                Some(left) if left > PURGE_LEFT && round < PURGE_ROUNDS => {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                _ => break,
            }
        }
        Ok(())
    }

    fn text(&self) -> Option<Result<String, String>> {
        let mut out = Vec::new();
        Some(
            tikv_jemalloc_ctl::stats_print::stats_print(&mut out, Default::default())
                .map_err(|e| e.to_string())
                .map(|()| String::from_utf8_lossy(&out).into_owned()),
        )
    }
}

#[cfg(not(target_env = "msvc"))]
fn allocator_stats() -> Option<std::sync::Arc<dyn mapcache_server::AllocatorStats>> {
    Some(std::sync::Arc::new(JemallocStats))
}

#[cfg(target_env = "msvc")]
fn allocator_stats() -> Option<std::sync::Arc<dyn mapcache_server::AllocatorStats>> {
    None
}

/// Startup failures are one line on stderr, never a backtrace (whatever `RUST_BACKTRACE`
/// says): `mapcache: <what failed>`, exit status 2 for a bad flag or environment value
/// (as clap exits), 1 for anything else (a port in use, an unreadable snapshot).
fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => return e,
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mapcache: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The flags, or the exit code after `--help` / `--version` (printed as clap prints
/// them) or after a usage error (printed as one line).
fn parse_args() -> Result<Args, ExitCode> {
    let parsed = Args::command()
        .try_get_matches()
        .and_then(|m| Args::from_arg_matches(&m).map(|a| (a, m)));
    let error = match parsed {
        Ok((mut args, matches)) => match go_environment(&mut args, &matches) {
            Err(e) => {
                eprintln!("mapcache: {e}");
                return Err(ExitCode::from(2));
            }
            Ok(())
                if args.resp == Switch::On
                    && args.port != 0
                    && args.port == args.http_port
                    && args.http_bind.is_none_or(|h| h == args.bind) =>
            {
                Args::command().error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!(
                        "--port and --http-port are both {}: RESP and HTTP need a port each",
                        args.port
                    ),
                )
            }
            Ok(()) => return Ok(args),
        },
        Err(e) => e,
    };
    if !error.use_stderr() {
        // --help, --version: clap's own text on stdout, exit 0.
        let _ = error.print();
        return Err(ExitCode::from(exit_status(error.exit_code())));
    }
    eprintln!(
        "mapcache: {}",
        usage_error_line(&error.render().to_string())
    );
    Err(ExitCode::from(exit_status(error.exit_code())))
}

/// Applies the Go map-cache's environment variables (`goenv.rs`) to `args`.
fn go_environment(args: &mut Args, matches: &clap::ArgMatches) -> Result<(), String> {
    let mut s = goenv::Settings {
        bind: args.bind,
        http_bind: args.http_bind,
        port: args.port,
        http_port: args.http_port,
        resp: args.resp == Switch::On,
        key_mode: match args.key_mode {
            Mode::Flat => goenv::KeyModeName::Flat,
            Mode::Path => goenv::KeyModeName::Path,
            Mode::Preserve => goenv::KeyModeName::Preserve,
        },
        default_cache: args.default_cache.clone(),
        maxclients: args.maxclients,
        log_json: matches!(args.log_format, LogFormat::Json),
        command_timeout_ms: args.command_timeout_ms,
    };
    let explicit = goenv::Explicit::from_matches(matches);
    goenv::apply(&mut s, explicit, &|name| std::env::var(name).ok())?;
    args.bind = s.bind;
    args.http_bind = s.http_bind;
    args.port = s.port;
    args.http_port = s.http_port;
    args.resp = if s.resp { Switch::On } else { Switch::Off };
    args.key_mode = match s.key_mode {
        goenv::KeyModeName::Flat => Mode::Flat,
        goenv::KeyModeName::Path => Mode::Path,
        goenv::KeyModeName::Preserve => Mode::Preserve,
    };
    args.default_cache = s.default_cache;
    args.maxclients = s.maxclients;
    args.log_format = if s.log_json {
        LogFormat::Json
    } else {
        LogFormat::Text
    };
    args.command_timeout_ms = s.command_timeout_ms;
    Ok(())
}

fn exit_status(code: i32) -> u8 {
    u8::try_from(code).unwrap_or(1)
}

/// clap's rendering of a usage error (`error: ...`, tips, usage, "For more
/// information...") as one line: the message and its tips, then where to look.
fn usage_error_line(rendered: &str) -> String {
    let parts: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty() && !l.starts_with("Usage:") && !l.starts_with("For more information")
        })
        .map(|l| l.strip_prefix("error: ").unwrap_or(l))
        .collect();
    format!("{} (mapcache --help lists the flags)", parts.join("; "))
}

/// An error and its causes on one line, `outer: inner: ...`, leaving out a cause
/// whose text the line already ends with (`mapcache_server::Error::Bind` shows its
/// source in its own message).
fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn run(args: Args) -> anyhow::Result<()> {
    init_logging(&args.log_level, args.log_format)?;
    let (port, http_port) = (args.port, args.http_port);
    let config = Config {
        bind: args.bind,
        http_bind: args.http_bind,
        port: args.port,
        resp_enabled: args.resp == Switch::On,
        default_cache: args.default_cache,
        http_port: args.http_port,
        requirepass: args.requirepass,
        maxclients: args.maxclients,
        timeout: args.timeout,
        databases: usize::from(args.databases),
        key_mode: match args.key_mode {
            Mode::Flat => KeyMode::Flat,
            Mode::Path => KeyMode::Path,
            Mode::Preserve => KeyMode::Preserve,
        },
        metrics: args.metrics == Switch::On,
        max_body: args.max_body,
        command_timeout: std::time::Duration::from_millis(args.command_timeout_ms),
        max_depth: usize::from(args.max_depth),
        dir: args.dir,
        load_snapshot: args.load_snapshot,
        save_on_shutdown: args.save_on_shutdown,
        debug_endpoints: args.debug_endpoints,
        allocator: allocator_stats(),
        maxmemory: args.maxmemory,
        maxmemory_policy: args.maxmemory_policy,
        maxmemory_samples: args.maxmemory_samples,
        lfu_log_factor: args.lfu_log_factor,
        lfu_decay_time: args.lfu_decay_time,
        ..Config::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    runtime
        .block_on(mapcache_server::run(config))
        .map_err(|e| match &e {
            // Name the flag that chooses the port another process holds.
            mapcache_server::Error::Bind { addr, source }
                if source.kind() == std::io::ErrorKind::AddrInUse =>
            {
                let flag = if addr.port() == port {
                    "--port"
                } else if addr.port() == http_port {
                    "--http-port"
                } else {
                    return anyhow::Error::new(e);
                };
                anyhow::anyhow!("{e}; choose another port with {flag}")
            }
            _ => anyhow::Error::new(e),
        })
}

fn init_logging(level: &str, format: LogFormat) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.is_empty() => EnvFilter::new(v),
        _ => EnvFilter::try_new(level).with_context(|| format!("invalid --log-level {level:?}"))?,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        // Span fields (connection id, peer) flattened into each event's object.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
    Ok(())
}

/// How many purges one request may take ([`JemallocStats::purge`]).
const PURGE_ROUNDS: usize = 20;
/// Dirty bytes a purge may leave (the caches' and the decay's small change).
const PURGE_LEFT: u64 = 4 << 20;

/// `arena.<all>.purge` once.
#[allow(unsafe_code)]
fn purge_all_arenas() -> Result<(), String> {
    // 4096 is MALLCTL_ARENAS_ALL.
    const NAME: &[u8] = b"arena.4096.purge\0";
    // SAFETY: NAME is a NUL-terminated mallctl name; `arena.<i>.purge` reads and writes
    // no value, so every pointer is null and both lengths are 0, as jemalloc requires
    // (any other argument answers EPERM). Exercised by tests/reclaim.rs, which checks
    // that RSS comes back after a storm.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    match rc {
        0 => Ok(()),
        e => Err(format!("mallctl arena.4096.purge: error {e}")),
    }
}

/// The dirty pages' bytes over every arena (`stats.arenas.<all>.pdirty`), refreshed.
fn dirty_bytes() -> Option<u64> {
    use tikv_jemalloc_ctl::{epoch, Access, AsName};
    epoch::advance().ok()?;
    let pages: usize = b"stats.arenas.4096.pdirty\0".name().read().ok()?;
    let page: usize = b"arenas.page\0".name().read().ok()?;
    Some((pages * page) as u64)
}
