//! Runtime configuration: what CONFIG GET reads and CONFIG SET changes.

use bytes::Bytes;

/// How RESP keys map onto the store (see docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyMode {
    /// Keys are opaque byte strings, exactly like Redis.
    #[default]
    Flat,
    /// `a:b:c` addresses the path `b/c` inside the stored key `a` (the Go map-cache's
    /// `translate` mode).
    Path,
    /// The Go map-cache's `preserve` mode: keys are not translated, `/` separates the
    /// segments (`user/100` addresses `100` inside `user`) and `:` is an ordinary byte.
    Preserve,
}

impl KeyMode {
    /// The map-cache key modes (path, preserve): SELECT takes cache names and KEYS
    /// matches whole segments there.
    pub fn is_map_cache(self) -> bool {
        self != KeyMode::Flat
    }

    /// How RESP keys address the store in this mode.
    pub fn addressing(self) -> mapcache_store::Addressing {
        match self {
            KeyMode::Flat => mapcache_store::Addressing::Flat,
            KeyMode::Path => mapcache_store::Addressing::RESP_PATH,
            KeyMode::Preserve => mapcache_store::Addressing::HTTP,
        }
    }
}

/// Settings that can change while the server runs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub requirepass: Option<Bytes>,
    /// The cache a connection starts in and `SELECT 0` selects in the map-cache key
    /// modes (the Go server's `RESP_DEFAULT_CACHE`).
    pub default_cache: String,
    pub maxclients: usize,
    /// Idle seconds before a client is closed; 0 = never.
    pub timeout: u64,
    pub databases: usize,
    pub bind: String,
    pub port: u16,
    pub key_mode: KeyMode,
    /// Accepted and reported for tools that probe it; mapcache does not evict.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    /// Slow log threshold in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub proto_max_bulk_len: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            requirepass: None,
            default_cache: mapcache_store::DEFAULT_CACHE.to_owned(),
            maxclients: 10_000,
            timeout: 0,
            databases: 16,
            bind: "127.0.0.1".into(),
            port: 6379,
            key_mode: KeyMode::Flat,
            maxmemory: 0,
            maxmemory_policy: "noeviction".into(),
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            proto_max_bulk_len: 512 * 1024 * 1024,
        }
    }
}
