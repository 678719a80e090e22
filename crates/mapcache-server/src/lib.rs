//! mapcache's wiring: listeners, connection tasks, the sweeper and shutdown.
//!
//! This crate holds no command logic and no data structures of its own: it moves bytes
//! between sockets and [`mapcache_commands::execute`], runs the one sweeper thread, and
//! answers HTTP. [`start`] binds and spawns everything and returns a [`Running`] handle;
//! [`run`] is the binary's entry point (start, wait for SIGTERM/SIGINT, drain).

mod api;
mod config;
mod connection;
mod debug;
mod health;
mod http;
mod http_layers;
mod http_metrics;
mod metrics;
mod persistence;
mod process;
mod sweeper;

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

use bytes::Bytes;
use mapcache_commands::{RuntimeConfig, ServerInfo, Shared};
use mapcache_store::{Store, StoreConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_util::task::TaskTracker;

pub use api::{openapi_operations, route_operations};
pub use config::Config;
pub use debug::{AllocatorFigures, AllocatorStats};
/// `maxmemory-policy`'s values, for the binary's flag.
pub use mapcache_store::evict::Policy as EvictionPolicy;

/// The version INFO and HELLO report as `redis_version`: the Redis release whose
/// behaviour mapcache reproduces (clients gate features on it).
pub const REDIS_COMPAT_VERSION: &str = "7.0.15";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot install signal handlers: {0}")]
    Signal(std::io::Error),
    #[error("cannot start the sweeper thread: {0}")]
    Sweeper(std::io::Error),
    #[error("cannot load a snapshot: {0}")]
    Snapshot(String),
    #[error("invalid configuration: {0}")]
    Config(String),
}

/// State shared by every task of one server.
#[derive(Debug)]
pub(crate) struct Inner {
    pub shared: Arc<Shared>,
    pub config: Config,
    /// Becomes true when shutdown begins.
    pub shutdown: watch::Receiver<bool>,
    pub connected: AtomicUsize,
    pub tracker: TaskTracker,
    pub ready: std::sync::atomic::AtomicBool,
    pub metrics: metrics::Metrics,
}

/// A started server.
#[derive(Debug)]
pub struct Running {
    /// The RESP listener's address (the configured one, unbound, when RESP is off).
    pub resp_addr: SocketAddr,
    pub http_addr: SocketAddr,
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    sweeper: sweeper::Handle,
}

impl Running {
    /// The commands' shared state (for tests and embedding).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// Stops accepting, lets every connection finish the batch it is in and flush its
    /// replies, and waits (at most `shutdown_grace`) for all of them to close.
    pub async fn shutdown(self) {
        self.inner
            .ready
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = self.stop.send(true);
        self.inner.tracker.close();
        if tokio::time::timeout(self.inner.config.shutdown_grace, self.inner.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!(
                open = self.inner.tracker.len(),
                "shutdown grace period over; closing remaining connections"
            );
        }
        // No pass runs once this returns (a pass lasts at most a few milliseconds).
        let sweeper = self.sweeper;
        if tokio::task::spawn_blocking(move || sweeper.stop_and_join())
            .await
            .is_err()
        {
            tracing::error!("could not wait for the sweeper thread");
        }
    }
}

/// Binds both listeners and spawns the accept loops and the sweeper.
pub async fn start(config: Config) -> Result<Running, Error> {
    let resp_addr = SocketAddr::new(config.bind, config.port);
    let http_addr = SocketAddr::new(config.http_bind.unwrap_or(config.bind), config.http_port);
    let bind = |addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })
    };
    // No RESP listener when it is off (the Go server's default: RESP_ENABLED unset).
    let resp = match config.resp_enabled {
        true => Some(bind(resp_addr).await?),
        false => None,
    };
    let http = bind(http_addr).await?;
    let resp_addr = resp
        .as_ref()
        .and_then(|l| l.local_addr().ok())
        .unwrap_or(resp_addr);
    let http_addr = http.local_addr().unwrap_or(http_addr);

    let store = Store::new(StoreConfig {
        databases: config.databases,
        shard_bits: config.shard_bits,
    });
    let runtime = RuntimeConfig {
        requirepass: config
            .requirepass
            .as_ref()
            .map(|p| Bytes::from(p.clone().into_bytes())),
        maxclients: config.maxclients,
        timeout: config.timeout,
        databases: config.databases,
        bind: config.bind.to_string(),
        port: resp_addr.port(),
        key_mode: config.key_mode,
        default_cache: config.default_cache.clone(),
        proto_max_bulk_len: config.proto_max_bulk_len as u64,
        maxmemory: config.maxmemory,
        maxmemory_policy: config.maxmemory_policy.name().into(),
        maxmemory_samples: config.maxmemory_samples,
        lfu_log_factor: config.lfu_log_factor,
        lfu_decay_time: config.lfu_decay_time,
        ..RuntimeConfig::default()
    };
    let info = ServerInfo {
        version: REDIS_COMPAT_VERSION,
        git_sha: option_env!("MAPCACHE_GIT_SHA").unwrap_or("unknown"),
        tcp_port: resp_addr.port(),
        run_id: run_id(),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
    };
    // The process's figures for INFO (one per process; a second server keeps the first).
    mapcache_commands::process::install(Arc::new(process::ProcFs));
    let shared = Arc::new_cyclic(|weak| {
        let shared = Shared::new(store, runtime, info);
        let saver = persistence::Saver::new(weak.clone(), config.dir.clone());
        let _ = shared.persistence.set(Arc::new(saver));
        if let Some(stats) = config.allocator.clone() {
            let _ = shared
                .memory
                .set(Arc::new(debug::AllocatorMemory(stats.clone())));
            shared
                .store
                .limits()
                .set_gauge(Arc::new(debug::AllocatorMemory(stats)));
        }
        // Programs and trigger cascades get the same time as an HTTP request.
        shared.programs.set_timeout(config.command_timeout);
        shared
    });
    if !config.load_snapshot.is_empty() {
        let (files, keys) = persistence::load(&shared, &config.load_snapshot, config.max_depth)
            .map_err(Error::Snapshot)?;
        tracing::info!(files, keys, "snapshots loaded");
    }
    // RESP connections start in the default cache (map-cache key modes): make it.
    if config.key_mode != mapcache_commands::KeyMode::Flat
        && shared.store.cache(&config.default_cache).is_none()
    {
        shared
            .store
            .create_cache(&config.default_cache, None)
            .map_err(|e| Error::Config(format!("RESP default cache: {e}")))?;
    }
    let config_metrics = config.metrics;
    let (stop, shutdown) = watch::channel(false);
    let inner = Arc::new(Inner {
        shared,
        config,
        shutdown,
        connected: AtomicUsize::new(0),
        tracker: TaskTracker::new(),
        ready: std::sync::atomic::AtomicBool::new(true),
        metrics: metrics::Metrics::new(config_metrics),
    });
    if let Some(resp) = resp {
        tokio::spawn(connection::accept_loop(resp, inner.clone()));
    }
    tokio::spawn(http::accept_loop(http, inner.clone()));
    let sweeper = sweeper::spawn(inner.clone()).map_err(Error::Sweeper)?;
    tokio::spawn(metrics::Metrics::sampler(inner.clone()));
    if inner.config.resp_enabled {
        tracing::info!(%resp_addr, %http_addr, "mapcache ready");
    } else {
        tracing::info!(resp_addr = "off", %http_addr, "mapcache ready");
    }
    Ok(Running {
        resp_addr,
        http_addr,
        inner,
        stop,
        sweeper,
    })
}

/// Starts the server and runs it until SIGTERM or SIGINT, then shuts down gracefully.
pub async fn run(config: Config) -> Result<(), Error> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).map_err(Error::Signal)?;
    let mut int = signal(SignalKind::interrupt()).map_err(Error::Signal)?;
    let running = start(config).await?;
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
    let save = running.inner.config.save_on_shutdown;
    let shared = running.inner.shared.clone();
    running.shutdown().await;
    if save {
        // After the connections drained: nothing writes any more.
        let saved =
            tokio::task::spawn_blocking(move || shared.persistence.get().map(|p| p.save())).await;
        match saved {
            Ok(Some(Ok(()))) => {}
            other => tracing::error!(result = ?other, "snapshot on shutdown failed"),
        }
    }
    tracing::info!("bye");
    Ok(())
}

/// 40 hex characters, different on every start (INFO run_id).
fn run_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut out = String::with_capacity(40);
    let state = std::collections::hash_map::RandomState::new();
    while out.len() < 40 {
        let mut h = state.build_hasher();
        h.write_usize(out.len());
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out.truncate(40);
    out
}
