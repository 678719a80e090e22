//! The server's configuration, as the binary builds it from flags and environment.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use mapcache_commands::KeyMode;

/// Everything `run` needs. `Default` is what `mapcache` with no flags runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address the RESP listener binds to (and the HTTP one unless `http_bind` is set).
    pub bind: IpAddr,
    /// Address the HTTP listener binds to; `None`: `bind`.
    pub http_bind: Option<IpAddr>,
    /// RESP port; 0 picks a free one (tests).
    pub port: u16,
    /// Whether the RESP listener runs at all (the Go server's `RESP_ENABLED`).
    pub resp_enabled: bool,
    /// HTTP port (health, metrics, JSON API); 0 picks a free one.
    pub http_port: u16,
    pub requirepass: Option<String>,
    pub maxclients: usize,
    /// Idle seconds before a client is closed; 0 = never.
    pub timeout: u64,
    pub databases: usize,
    pub key_mode: KeyMode,
    /// The cache RESP connections start in and `SELECT 0` selects, in the map-cache
    /// key modes (`RESP_DEFAULT_CACHE`); created at start when it does not exist.
    pub default_cache: String,
    /// log2 of shards per database.
    pub shard_bits: u32,
    /// Largest bulk argument accepted (Redis's proto-max-bulk-len).
    pub proto_max_bulk_len: usize,
    /// Largest unparsed input kept for one client (Redis's client-query-buffer-limit).
    pub query_buffer_limit: usize,
    /// How long shutdown waits for connections to finish their batch.
    pub shutdown_grace: Duration,
    /// Per-command statistics (INFO commandstats) and `/metrics`; off only to measure
    /// what they cost.
    pub metrics: bool,
    /// Largest HTTP request body accepted (413 beyond).
    pub max_body: usize,
    /// How long an HTTP API request may take before it is answered 408 (the Go
    /// server's `COMMAND_TIMEOUT_MS`).
    pub command_timeout: Duration,
    /// Deepest nesting of objects and arrays in a value read over HTTP (400 beyond).
    pub max_depth: usize,
    /// Where SAVE, BGSAVE and `save_on_shutdown` write snapshot files.
    pub dir: std::path::PathBuf,
    /// Snapshot files (or directories of them) restored before the listeners open.
    pub load_snapshot: Vec<std::path::PathBuf>,
    /// Write a snapshot of every non-empty cache to `dir` on SIGTERM/SIGINT.
    pub save_on_shutdown: bool,
    /// `/debug/pprof/profile` and `/debug/allocator` (off: they answer 404).
    pub debug_endpoints: bool,
    /// The binary's allocator statistics for `/debug/allocator` (`None`: 404).
    pub allocator: Option<Arc<dyn crate::AllocatorStats>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: IpAddr::from([127, 0, 0, 1]),
            http_bind: None,
            port: 6379,
            resp_enabled: true,
            http_port: 8080,
            requirepass: None,
            maxclients: 10_000,
            timeout: 0,
            databases: 16,
            key_mode: KeyMode::Flat,
            default_cache: mapcache_store::DEFAULT_CACHE.to_owned(),
            shard_bits: 8,
            proto_max_bulk_len: 512 * 1024 * 1024,
            query_buffer_limit: 1024 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(5),
            metrics: true,
            max_body: 64 * 1024 * 1024,
            command_timeout: Duration::from_millis(10_000),
            max_depth: mapcache_store::json::DEFAULT_MAX_DEPTH,
            dir: std::path::PathBuf::from("."),
            load_snapshot: Vec::new(),
            save_on_shutdown: false,
            debug_endpoints: false,
            allocator: None,
        }
    }
}
