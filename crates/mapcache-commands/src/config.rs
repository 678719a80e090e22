//! Runtime configuration: what CONFIG GET reads and CONFIG SET changes.

use bytes::Bytes;

/// How RESP keys map onto the store (see docs/commands.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyMode {
    /// Keys are opaque byte strings, exactly like Redis.
    #[default]
    Flat,
    /// `a:b:c` addresses the path `b/c` inside the stored key `a`.
    Path,
}

/// Settings that can change while the server runs.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub requirepass: Option<Bytes>,
    pub maxclients: usize,
    /// Idle seconds before a client is closed; 0 = never.
    pub timeout: u64,
    pub databases: usize,
    pub bind: String,
    pub port: u16,
    pub key_mode: KeyMode,
    /// The memory limit in bytes (0: none) and what happens at it
    /// (`mapcache_store::evict`); the store holds the live values, these are what
    /// CONFIG GET reports and the flags set at start.
    pub maxmemory: u64,
    pub maxmemory_policy: String,
    pub maxmemory_samples: u64,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// Slow log threshold in microseconds (negative disables).
    pub slowlog_log_slower_than: i64,
    pub slowlog_max_len: u64,
    pub proto_max_bulk_len: u64,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            requirepass: None,
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

/// A memory size as Redis reads one (`memtoll`): an integer with an optional unit,
/// case-insensitive: `k` 1000, `kb` 1024, `m` 1000², `mb` 1024², `g` 1000³, `gb` 1024³.
/// `None` for anything else (a sign, a fraction, an unknown unit, an overflow).
pub fn parse_memory(text: &[u8]) -> Option<u64> {
    let split = text
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    if digits.is_empty() {
        return None;
    }
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
    std::str::from_utf8(digits)
        .ok()?
        .parse::<u64>()
        .ok()?
        .checked_mul(mul)
}

#[cfg(test)]
mod tests {
    use super::parse_memory;

    #[test]
    fn memory_sizes_read_as_redis_reads_them() {
        assert_eq!(parse_memory(b"0"), Some(0));
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"100mb"), Some(100 << 20));
        assert_eq!(parse_memory(b"2M"), Some(2_000_000));
        assert_eq!(parse_memory(b"1gB"), Some(1 << 30));
        assert_eq!(parse_memory(b"3g"), Some(3_000_000_000));
        for bad in [
            &b""[..],
            b"-1",
            b"1x",
            b"mb",
            b"1.5mb",
            b" 1",
            b"99999999999999999999",
        ] {
            assert_eq!(
                parse_memory(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
