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
