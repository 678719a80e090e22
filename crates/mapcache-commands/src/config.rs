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
    /// The memory limit in bytes (0: none) and what happens at it
    /// (`mapcache_store::evict`); the store holds the live values ([`apply_limits`]),
    /// these are what CONFIG GET reports and the flags set at start.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// Slow log threshold in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub proto_max_bulk_len: u64,
    /// The values CONFIG SET gave the parameters mapcache stores without acting on
    /// them (canonical text, by name); a parameter not here has Redis's default.
    pub stored: std::collections::BTreeMap<&'static str, String>,
}

impl RuntimeConfig {
    /// The value CONFIG GET answers for `name` (or its alias, any case): a field of
    /// this struct for the parameters mapcache acts on, else the stored value or
    /// Redis's default. `None` for a name Redis 7.0 does not have.
    pub fn param(&self, name: &str) -> Option<String> {
        let p = crate::families::server::params::lookup(name.as_bytes())?;
        Some(self.acted_on(p.name).unwrap_or_else(|| {
            self.stored
                .get(p.name)
                .cloned()
                .unwrap_or_else(|| p.default.to_string())
        }))
    }

    /// The value of a parameter with a field of its own.
    fn acted_on(&self, name: &str) -> Option<String> {
        Some(match name {
            "bind" => self.bind.clone(),
            "databases" => self.databases.to_string(),
            "maxclients" => self.maxclients.to_string(),
            "maxmemory" => self.maxmemory.to_string(),
            "maxmemory-policy" => self.maxmemory_policy.clone(),
            "maxmemory-samples" => self.maxmemory_samples.to_string(),
            "lfu-log-factor" => self.lfu_log_factor.to_string(),
            "lfu-decay-time" => self.lfu_decay_time.to_string(),
            "port" => self.port.to_string(),
            "proto-max-bulk-len" => self.proto_max_bulk_len.to_string(),
            "requirepass" => self
                .requirepass
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
            "slowlog-log-slower-than" => self.slowlog_log_slower_than.to_string(),
            "slowlog-max-len" => self.slowlog_max_len.to_string(),
            "timeout" => self.timeout.to_string(),
            _ => return None,
        })
    }

    /// Sets parameter `name` (canonical) to `value`, text that
    /// `families::server::params::check` accepted.
    pub(crate) fn set_param(&mut self, name: &'static str, value: String) {
        let num = |v: &str| v.parse::<i64>().unwrap_or(0);
        match name {
            "bind" => self.bind = value,
            "maxclients" => self.maxclients = num(&value).max(1) as usize,
            "maxmemory" => self.maxmemory = value.parse().unwrap_or(0),
            "maxmemory-policy" => self.maxmemory_policy = value,
            "maxmemory-samples" => self.maxmemory_samples = num(&value).max(1) as u64,
            "lfu-log-factor" => self.lfu_log_factor = num(&value).max(0) as u32,
            "lfu-decay-time" => self.lfu_decay_time = num(&value).max(0) as u32,
            "port" => self.port = num(&value) as u16,
            "proto-max-bulk-len" => self.proto_max_bulk_len = num(&value) as u64,
            "requirepass" => {
                self.requirepass = (!value.is_empty()).then(|| Bytes::from(value.into_bytes()))
            }
            "slowlog-log-slower-than" => self.slowlog_log_slower_than = num(&value),
            "slowlog-max-len" => self.slowlog_max_len = num(&value) as u64,
            "timeout" => self.timeout = num(&value) as u64,
            _ => {
                self.stored.insert(name, value);
            }
        }
    }
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
            maxmemory_samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
            slowlog_log_slower_than: 10_000,
            slowlog_max_len: 128,
            proto_max_bulk_len: 512 * 1024 * 1024,
            stored: Default::default(),
        }
    }
}

/// Hands the memory settings of `cfg` to the store, which enforces them.
pub fn apply_limits(store: &mapcache_store::Store, cfg: &RuntimeConfig) {
    let limits = store.limits();
    let policy = mapcache_store::evict::Policy::parse(cfg.maxmemory_policy.as_bytes())
        .unwrap_or(mapcache_store::evict::Policy::NoEviction);
    limits.set_policy(policy);
    limits.set_samples(cfg.maxmemory_samples);
    mapcache_store::evict::access::set_lfu_tuning(cfg.lfu_log_factor, cfg.lfu_decay_time);
    if limits.maxmemory() != cfg.maxmemory {
        limits.set_maxmemory(cfg.maxmemory);
    }
}

/// A memory amount as Redis's `memtoull` reads it (CONFIG SET maxmemory, the config
/// file): decimal digits, then an optional unit `b`, `k` (1000), `kb` (1024), `m`,
/// `mb`, `g`, `gb`, in any case. No sign, no spaces, no fraction. As in Redis, an
/// empty number counts as 0 (`""`, `"mb"`), a number past `u64::MAX` saturates, and
/// the multiplication wraps.
pub fn parse_memory(v: &[u8]) -> Option<u64> {
    let digits = v.iter().take_while(|b| b.is_ascii_digit()).count();
    let (num, unit) = v.split_at(digits);
    let mul: u64 = match unit.to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1000,
        b"kb" => 1024,
        b"m" => 1000 * 1000,
        b"mb" => 1024 * 1024,
        b"g" => 1000 * 1000 * 1000,
        b"gb" => 1024 * 1024 * 1024,
        _ => return None,
    };
    let mut n: u64 = 0;
    for d in num {
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .unwrap_or(u64::MAX);
    }
    Some(n.wrapping_mul(mul))
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_units_as_redis_reads_them() {
        // Each pair was checked with CONFIG SET maxmemory / CONFIG GET against redis-server 7.0.
        let cases: &[(&str, Option<u64>)] = &[
            ("100mb", Some(104_857_600)),
            ("1gb", Some(1_073_741_824)),
            ("1k", Some(1000)),
            ("1K", Some(1000)),
            ("1KB", Some(1024)),
            ("10b", Some(10)),
            ("5", Some(5)),
            ("", Some(0)),
            ("mb", Some(0)),
            ("18446744073709551615", Some(u64::MAX)),
            ("18446744073709551616", Some(u64::MAX)),
            ("99999999999gb", Some(15_140_462_030_378_500_096)),
            ("-1", None),
            ("1.5mb", None),
            (" 1mb", None),
            ("1tb", None),
            ("+5", None),
            ("0x10", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_memory(text.as_bytes()), *want, "{text:?}");
        }
    }
}
