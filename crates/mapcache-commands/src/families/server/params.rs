//! Every parameter Redis 7.0 has, for CONFIG GET and CONFIG SET: name, alias, whether
//! it can change at run time, its default (as `CONFIG GET` answers on a fresh
//! redis-server 7.0.15, except `save` "" and `daemonize` no: mapcache has no automatic
//! saves and does not fork) and how a value is checked ([`Kind`], from Redis's
//! `src/config.c`). The table `PARAMS` was generated from that file and a fresh
//! server's `CONFIG GET *`; [`check`] applies Redis's rules and error texts.
//!
//! mapcache acts on the parameters of [`ACTED_ON`]; every other one is checked, stored
//! and answered as Redis would, without effect (docs/commands.md lists them).

/// `Kind::Int` flags, as Redis's numeric config flags.
pub(crate) const MEMORY: u8 = 1;
pub(crate) const PERCENT: u8 = 2;
pub(crate) const OCTAL: u8 = 4;

/// How a parameter's value is read.
#[derive(Debug)]
pub(crate) enum Kind {
    /// `yes` or `no`, in any case.
    Bool,
    /// Any text.
    Str,
    /// One of these names, in any case.
    Enum(&'static [&'static str]),
    /// A number in `min..=max` (unsigned: printed as such in the range error), read
    /// with the units and forms `flags` allow.
    Int {
        min: i128,
        max: i128,
        unsigned: bool,
        flags: u8,
    },
    /// A parameter with a syntax of its own (save, bind, client-output-buffer-limit...).
    Special,
}

/// One parameter.
#[derive(Debug)]
pub(crate) struct Param {
    pub name: &'static str,
    pub alias: Option<&'static str>,
    /// CONFIG SET answers "can't set immutable config".
    pub immutable: bool,
    /// CONFIG SET answers "can't set protected config" (enable-protected-configs is no).
    pub protected: bool,
    /// Left out of `CONFIG GET *`, answered by exact name.
    pub hidden: bool,
    pub default: &'static str,
    pub kind: Kind,
}

/// The parameters mapcache acts on; [`crate::RuntimeConfig`] has a field for each (or,
/// for `port` and `databases`, reports the value it started with).
pub const ACTED_ON: &[&str] = &[
    "bind",
    "databases",
    "maxclients",
    "maxmemory",
    "maxmemory-policy",
    "port",
    "proto-max-bulk-len",
    "requirepass",
    "slowlog-log-slower-than",
    "slowlog-max-len",
    "timeout",
];

/// The parameter called `name` (or by its alias), in any case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.as_bytes().eq_ignore_ascii_case(name)
            || p.alias
                .is_some_and(|a| a.as_bytes().eq_ignore_ascii_case(name))
    })
}

/// Checks `value` for `p` as Redis's CONFIG SET does and answers the text CONFIG GET
/// will show, or the reason Redis gives (the part after "... - ").
pub(crate) fn check(p: &Param, value: &[u8], current: &str) -> Result<String, String> {
    let text = String::from_utf8_lossy(value);
    match &p.kind {
        Kind::Bool => {
            if text.eq_ignore_ascii_case("yes") {
                Ok("yes".into())
            } else if text.eq_ignore_ascii_case("no") {
                Ok("no".into())
            } else {
                Err("argument must be 'yes' or 'no'".into())
            }
        }
        Kind::Str => Ok(text.into_owned()),
        Kind::Enum(names) => names
            .iter()
            .find(|n| n.eq_ignore_ascii_case(&text))
            .map(|n| n.to_string())
            .ok_or_else(|| {
                format!(
                    "argument(s) must be one of the following: {}",
                    names.join(", ")
                )
            }),
        Kind::Int {
            min,
            max,
            unsigned,
            flags,
        } => check_int(value, *min, *max, *unsigned, *flags),
        Kind::Special => check_special(p.name, &text, current),
    }
}

/// Redis's `numericParseString` then `numericBoundaryCheck`.
fn check_int(
    value: &[u8],
    min: i128,
    max: i128,
    unsigned: bool,
    flags: u8,
) -> Result<String, String> {
    let text = std::str::from_utf8(value).unwrap_or("");
    let mut parsed: Option<i128> = None;
    if flags & MEMORY != 0 {
        // memtoull's result goes through a `long long`: past i64::MAX it reads negative.
        parsed = crate::config::parse_memory(value).map(|n| i128::from(n as i64));
    }
    if parsed.is_none() && flags & PERCENT != 0 && text.len() > 1 && text.ends_with('%') {
        if let Some(n) = parse_ll(&text[..text.len() - 1]).filter(|n| *n >= 0) {
            let n = -n;
            if n < min {
                return Err(format!(
                    "percentage argument must be less or equal to {}",
                    -min
                ));
            }
            return Ok(format!("{}%", -n));
        }
    }
    if parsed.is_none() && flags & OCTAL != 0 {
        parsed = i64::from_str_radix(text, 8)
            .ok()
            .filter(|_| !text.starts_with(['+', '-']))
            .map(i128::from);
    }
    if parsed.is_none() && flags == 0 {
        parsed = parse_ll(text);
    }
    let Some(n) = parsed else {
        return Err(if flags & MEMORY != 0 {
            "argument must be a memory value"
        } else if flags & PERCENT != 0 {
            "argument must be a memory or percent value"
        } else if flags & OCTAL != 0 {
            "argument couldn't be parsed as an octal number"
        } else {
            "argument couldn't be parsed into an integer"
        }
        .into());
    };
    // Unsigned parameters compare the `long long` as an unsigned number.
    let cmp = if unsigned && n < 0 {
        n + (1i128 << 64)
    } else {
        n
    };
    if cmp < min || cmp > max {
        return Err(if flags & OCTAL != 0 {
            format!("argument must be between {min:o} and {max:o} inclusive")
        } else {
            format!("argument must be between {min} and {max} inclusive")
        });
    }
    Ok(if flags & OCTAL != 0 {
        format!("{cmp:o}")
    } else {
        cmp.to_string()
    })
}

/// Redis's `string2ll`: an optional `-`, digits, no leading zeros, no spaces or `+`.
fn parse_ll(text: &str) -> Option<i128> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return None;
    }
    text.parse::<i64>().ok().map(i128::from)
}

/// The parameters with a syntax of their own, checked as Redis checks them (values
/// are split on single spaces, as Redis splits them).
fn check_special(name: &str, text: &str, current: &str) -> Result<String, String> {
    let words: Vec<&str> = if text.is_empty() {
        Vec::new()
    } else {
        text.split(' ').collect()
    };
    match name {
        "save" => {
            if words.len() % 2 != 0 || !words.iter().all(|w| parse_ll(w).is_some_and(|n| n >= 0)) {
                return Err("Invalid save parameters".into());
            }
            Ok(words.join(" "))
        }
        "client-output-buffer-limit" => output_buffer_limits(&words, current),
        "oom-score-adj-values" => {
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            if !words
                .iter()
                .all(|w| parse_ll(w).is_some_and(|n| (-2000..=2000).contains(&n)))
            {
                return Err(
                    "Invalid oom-score-adj-values, elements must be between -2000 and 2000.".into(),
                );
            }
            Ok(words.join(" "))
        }
        "notify-keyspace-events" => keyspace_events(text),
        "latency-tracking-info-percentiles" => {
            if !words
                .iter()
                .all(|w| w.parse::<f64>().is_ok_and(|f| (0.0..=100.0).contains(&f)))
            {
                return Err(
                    "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                        .into(),
                );
            }
            Ok(words.join(" "))
        }
        "bind" => {
            if words.len() > 16 {
                return Err("Too many bind addresses specified.".into());
            }
            Ok(words.join(" "))
        }
        _ => Ok(text.to_string()),
    }
}

/// `client-output-buffer-limit`: groups of class, hard, soft, seconds; the classes
/// not named keep their limits; shown in bytes, classes in Redis's order.
fn output_buffer_limits(words: &[&str], current: &str) -> Result<String, String> {
    if words.len() % 4 != 0 || words.is_empty() {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut limits: Vec<[String; 4]> = current
        .split(' ')
        .collect::<Vec<_>>()
        .chunks(4)
        .filter(|c| c.len() == 4)
        .map(|c| [c[0].into(), c[1].into(), c[2].into(), c[3].into()])
        .collect();
    for group in words.chunks(4) {
        let class = match group[0].to_ascii_lowercase().as_str() {
            "normal" => "normal",
            "slave" | "replica" => "slave",
            "pubsub" => "pubsub",
            _ => {
                return Err("Invalid client class specified in buffer limit configuration.".into())
            }
        };
        let hard = crate::config::parse_memory(group[1].as_bytes());
        let soft = crate::config::parse_memory(group[2].as_bytes());
        let secs = parse_ll(group[3]).filter(|n| *n >= 0);
        let (Some(hard), Some(soft), Some(secs)) = (hard, soft, secs) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        let row = [
            class.into(),
            hard.to_string(),
            soft.to_string(),
            secs.to_string(),
        ];
        match limits.iter_mut().find(|l| l[0] == class) {
            Some(l) => *l = row,
            None => limits.push(row),
        }
    }
    Ok(limits
        .iter()
        .map(|l| l.join(" "))
        .collect::<Vec<_>>()
        .join(" "))
}

/// `notify-keyspace-events`: Redis's class letters, shown in its canonical order.
fn keyspace_events(text: &str) -> Result<String, String> {
    const ALL: &str = "g$lshzxetd";
    let mut on = std::collections::BTreeSet::new();
    for ch in text.chars() {
        match ch {
            'A' => on.extend(ALL.chars()),
            'g' | '$' | 'l' | 's' | 'h' | 'z' | 'x' | 'e' | 't' | 'd' | 'n' | 'K' | 'E' | 'm' => {
                on.insert(ch);
            }
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into()),
        }
    }
    let mut out = String::new();
    if ALL.chars().all(|c| on.contains(&c)) {
        // As Redis: `n` is not shown beside `A`.
        out.push('A');
    } else {
        out.extend("g$lshzxetdn".chars().filter(|c| on.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| on.contains(c)));
    Ok(out)
}

#[rustfmt::skip]
pub(crate) const PARAMS: &[Param] = &[
    Param { name: "acl-pubsub-default", alias: None, immutable: false, protected: false, hidden: false, default: "resetchannels", kind: Kind::Enum(&["allchannels", "resetchannels"]) },
    Param { name: "aclfile", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "acllog-max-len", alias: None, immutable: false, protected: false, hidden: false, default: "128", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "active-defrag-cycle-max", alias: None, immutable: false, protected: false, hidden: false, default: "25", kind: Kind::Int { min: 1, max: 99, unsigned: false, flags: 0 } },
    Param { name: "active-defrag-cycle-min", alias: None, immutable: false, protected: false, hidden: false, default: "1", kind: Kind::Int { min: 1, max: 99, unsigned: false, flags: 0 } },
    Param { name: "active-defrag-ignore-bytes", alias: None, immutable: false, protected: false, hidden: false, default: "104857600", kind: Kind::Int { min: 1, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
    Param { name: "active-defrag-max-scan-fields", alias: None, immutable: false, protected: false, hidden: false, default: "1000", kind: Kind::Int { min: 1, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "active-defrag-threshold-lower", alias: None, immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 1000, unsigned: false, flags: 0 } },
    Param { name: "active-defrag-threshold-upper", alias: None, immutable: false, protected: false, hidden: false, default: "100", kind: Kind::Int { min: 0, max: 1000, unsigned: false, flags: 0 } },
    Param { name: "active-expire-effort", alias: None, immutable: false, protected: false, hidden: false, default: "1", kind: Kind::Int { min: 1, max: 10, unsigned: false, flags: 0 } },
    Param { name: "activedefrag", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "activerehashing", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "always-show-logo", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "aof-disable-auto-gc", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "aof-load-truncated", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "aof-rewrite-incremental-fsync", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "aof-timestamp-enabled", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "aof-use-rdb-preamble", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "aof_rewrite_cpulist", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "appenddirname", alias: None, immutable: true, protected: false, hidden: false, default: "appendonlydir", kind: Kind::Str },
    Param { name: "appendfilename", alias: None, immutable: true, protected: false, hidden: false, default: "appendonly.aof", kind: Kind::Str },
    Param { name: "appendfsync", alias: None, immutable: false, protected: false, hidden: false, default: "everysec", kind: Kind::Enum(&["everysec", "always", "no"]) },
    Param { name: "appendonly", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "auto-aof-rewrite-min-size", alias: None, immutable: false, protected: false, hidden: false, default: "67108864", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: MEMORY } },
    Param { name: "auto-aof-rewrite-percentage", alias: None, immutable: false, protected: false, hidden: false, default: "100", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "bgsave_cpulist", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "bind", alias: None, immutable: false, protected: false, hidden: false, default: "127.0.0.1", kind: Kind::Special },
    Param { name: "bind-source-addr", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "bio_cpulist", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "busy-reply-threshold", alias: Some("lua-time-limit"), immutable: false, protected: false, hidden: false, default: "5000", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "client-output-buffer-limit", alias: None, immutable: false, protected: false, hidden: false, default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60", kind: Kind::Special },
    Param { name: "client-query-buffer-limit", alias: None, immutable: false, protected: false, hidden: false, default: "1073741824", kind: Kind::Int { min: 1048576, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
    Param { name: "cluster-allow-pubsubshard-when-down", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "cluster-allow-reads-when-down", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "cluster-allow-replica-migration", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "cluster-announce-bus-port", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "cluster-announce-hostname", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "cluster-announce-ip", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "cluster-announce-port", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "cluster-announce-tls-port", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "cluster-config-file", alias: None, immutable: true, protected: false, hidden: false, default: "nodes.conf", kind: Kind::Str },
    Param { name: "cluster-enabled", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "cluster-link-sendbuf-limit", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 18446744073709551615, unsigned: true, flags: MEMORY } },
    Param { name: "cluster-migration-barrier", alias: None, immutable: false, protected: false, hidden: false, default: "1", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "cluster-node-timeout", alias: None, immutable: false, protected: false, hidden: false, default: "15000", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "cluster-port", alias: None, immutable: true, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "cluster-preferred-endpoint-type", alias: None, immutable: false, protected: false, hidden: false, default: "ip", kind: Kind::Enum(&["ip", "hostname", "unknown-endpoint"]) },
    Param { name: "cluster-replica-no-failover", alias: Some("cluster-slave-no-failover"), immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "cluster-replica-validity-factor", alias: Some("cluster-slave-validity-factor"), immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "cluster-require-full-coverage", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "crash-log-enabled", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "crash-memcheck-enabled", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "daemonize", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "databases", alias: None, immutable: true, protected: false, hidden: false, default: "16", kind: Kind::Int { min: 1, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "dbfilename", alias: None, immutable: false, protected: true, hidden: false, default: "dump.rdb", kind: Kind::Str },
    Param { name: "dir", alias: None, immutable: false, protected: true, hidden: false, default: "", kind: Kind::Special },
    Param { name: "disable-thp", alias: None, immutable: true, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "dynamic-hz", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "enable-debug-command", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["no", "yes", "local"]) },
    Param { name: "enable-module-command", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["no", "yes", "local"]) },
    Param { name: "enable-protected-configs", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["no", "yes", "local"]) },
    Param { name: "hash-max-listpack-entries", alias: Some("hash-max-ziplist-entries"), immutable: false, protected: false, hidden: false, default: "512", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: 0 } },
    Param { name: "hash-max-listpack-value", alias: Some("hash-max-ziplist-value"), immutable: false, protected: false, hidden: false, default: "64", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
    Param { name: "hll-sparse-max-bytes", alias: None, immutable: false, protected: false, hidden: false, default: "3000", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
    Param { name: "hz", alias: None, immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "ignore-warnings", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "io-threads", alias: None, immutable: true, protected: false, hidden: false, default: "1", kind: Kind::Int { min: 1, max: 128, unsigned: false, flags: 0 } },
    Param { name: "io-threads-do-reads", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "jemalloc-bg-thread", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "key-load-delay", alias: None, immutable: false, protected: false, hidden: true, default: "0", kind: Kind::Int { min: -2147483648, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "latency-monitor-threshold", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "latency-tracking", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "latency-tracking-info-percentiles", alias: None, immutable: false, protected: false, hidden: false, default: "50 99 99.9", kind: Kind::Special },
    Param { name: "lazyfree-lazy-eviction", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "lazyfree-lazy-expire", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "lazyfree-lazy-server-del", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "lazyfree-lazy-user-del", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "lazyfree-lazy-user-flush", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "lfu-decay-time", alias: None, immutable: false, protected: false, hidden: false, default: "1", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "lfu-log-factor", alias: None, immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "list-compress-depth", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "list-max-listpack-size", alias: Some("list-max-ziplist-size"), immutable: false, protected: false, hidden: false, default: "-2", kind: Kind::Int { min: -2147483648, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "loading-process-events-interval-bytes", alias: None, immutable: false, protected: false, hidden: true, default: "2097152", kind: Kind::Int { min: 1024, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "logfile", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "loglevel", alias: None, immutable: false, protected: false, hidden: false, default: "notice", kind: Kind::Enum(&["debug", "verbose", "notice", "warning"]) },
    Param { name: "masterauth", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "masteruser", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "maxclients", alias: None, immutable: false, protected: false, hidden: false, default: "10000", kind: Kind::Int { min: 1, max: 4294967295, unsigned: true, flags: 0 } },
    Param { name: "maxmemory", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 18446744073709551615, unsigned: true, flags: MEMORY } },
    Param { name: "maxmemory-clients", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: -100, max: 9223372036854775807, unsigned: false, flags: MEMORY | PERCENT } },
    Param { name: "maxmemory-eviction-tenacity", alias: None, immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 100, unsigned: false, flags: 0 } },
    Param { name: "maxmemory-policy", alias: None, immutable: false, protected: false, hidden: false, default: "noeviction", kind: Kind::Enum(&["volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl", "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction"]) },
    Param { name: "maxmemory-samples", alias: None, immutable: false, protected: false, hidden: false, default: "5", kind: Kind::Int { min: 1, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "min-replicas-max-lag", alias: Some("min-slaves-max-lag"), immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "min-replicas-to-write", alias: Some("min-slaves-to-write"), immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "no-appendfsync-on-rewrite", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "notify-keyspace-events", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Special },
    Param { name: "oom-score-adj", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["no", "yes", "relative", "absolute"]) },
    Param { name: "oom-score-adj-values", alias: None, immutable: false, protected: false, hidden: false, default: "0 200 800", kind: Kind::Special },
    Param { name: "pidfile", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "port", alias: None, immutable: false, protected: false, hidden: false, default: "6379", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "proc-title-template", alias: None, immutable: false, protected: false, hidden: false, default: "{title} {listen-addr} {server-mode}", kind: Kind::Str },
    Param { name: "propagation-error-behavior", alias: None, immutable: false, protected: false, hidden: false, default: "ignore", kind: Kind::Enum(&["ignore", "panic", "panic-on-replicas"]) },
    Param { name: "protected-mode", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "proto-max-bulk-len", alias: None, immutable: false, protected: false, hidden: false, default: "536870912", kind: Kind::Int { min: 1048576, max: 9223372036854775807, unsigned: false, flags: MEMORY } },
    Param { name: "rdb-del-sync-files", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "rdb-key-save-delay", alias: None, immutable: false, protected: false, hidden: true, default: "0", kind: Kind::Int { min: -2147483648, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "rdb-save-incremental-fsync", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "rdbchecksum", alias: None, immutable: true, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "rdbcompression", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "repl-backlog-size", alias: None, immutable: false, protected: false, hidden: false, default: "1048576", kind: Kind::Int { min: 1, max: 9223372036854775807, unsigned: false, flags: MEMORY } },
    Param { name: "repl-backlog-ttl", alias: None, immutable: false, protected: false, hidden: false, default: "3600", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "repl-disable-tcp-nodelay", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "repl-diskless-load", alias: None, immutable: false, protected: false, hidden: false, default: "disabled", kind: Kind::Enum(&["disabled", "on-empty-db", "swapdb"]) },
    Param { name: "repl-diskless-sync", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "repl-diskless-sync-delay", alias: None, immutable: false, protected: false, hidden: false, default: "5", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "repl-diskless-sync-max-replicas", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "repl-ping-replica-period", alias: Some("repl-ping-slave-period"), immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 1, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "repl-timeout", alias: None, immutable: false, protected: false, hidden: false, default: "60", kind: Kind::Int { min: 1, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "replica-announce-ip", alias: Some("slave-announce-ip"), immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "replica-announce-port", alias: Some("slave-announce-port"), immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "replica-announced", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "replica-ignore-disk-write-errors", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "replica-ignore-maxmemory", alias: Some("slave-ignore-maxmemory"), immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "replica-lazy-flush", alias: Some("slave-lazy-flush"), immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "replica-priority", alias: Some("slave-priority"), immutable: false, protected: false, hidden: false, default: "100", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "replica-read-only", alias: Some("slave-read-only"), immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "replica-serve-stale-data", alias: Some("slave-serve-stale-data"), immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "replicaof", alias: Some("slaveof"), immutable: true, protected: false, hidden: false, default: "", kind: Kind::Special },
    Param { name: "requirepass", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "sanitize-dump-payload", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["no", "yes", "clients"]) },
    Param { name: "save", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Special },
    Param { name: "server_cpulist", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "set-max-intset-entries", alias: None, immutable: false, protected: false, hidden: false, default: "512", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: 0 } },
    Param { name: "set-proc-title", alias: None, immutable: true, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "shutdown-on-sigint", alias: None, immutable: false, protected: false, hidden: false, default: "default", kind: Kind::Enum(&["default", "save", "nosave", "now", "force"]) },
    Param { name: "shutdown-on-sigterm", alias: None, immutable: false, protected: false, hidden: false, default: "default", kind: Kind::Enum(&["default", "save", "nosave", "now", "force"]) },
    Param { name: "shutdown-timeout", alias: None, immutable: false, protected: false, hidden: false, default: "10", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "slowlog-log-slower-than", alias: None, immutable: false, protected: false, hidden: false, default: "10000", kind: Kind::Int { min: -1, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "slowlog-max-len", alias: None, immutable: false, protected: false, hidden: false, default: "128", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "socket-mark-id", alias: None, immutable: true, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 4294967295, unsigned: true, flags: 0 } },
    Param { name: "stop-writes-on-bgsave-error", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "stream-node-max-bytes", alias: None, immutable: false, protected: false, hidden: false, default: "4096", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
    Param { name: "stream-node-max-entries", alias: None, immutable: false, protected: false, hidden: false, default: "100", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: false, flags: 0 } },
    Param { name: "supervised", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Enum(&["upstart", "systemd", "auto", "no"]) },
    Param { name: "syslog-enabled", alias: None, immutable: true, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "syslog-facility", alias: None, immutable: true, protected: false, hidden: false, default: "local0", kind: Kind::Enum(&["user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"]) },
    Param { name: "syslog-ident", alias: None, immutable: true, protected: false, hidden: false, default: "redis", kind: Kind::Str },
    Param { name: "tcp-backlog", alias: None, immutable: true, protected: false, hidden: false, default: "511", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "tcp-keepalive", alias: None, immutable: false, protected: false, hidden: false, default: "300", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "timeout", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "tls-auth-clients", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Enum(&["no", "yes", "optional"]) },
    Param { name: "tls-ca-cert-dir", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-ca-cert-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-cert-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-ciphers", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-ciphersuites", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-client-cert-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-client-key-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-client-key-file-pass", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-cluster", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "tls-dh-params-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-key-file", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-key-file-pass", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-port", alias: None, immutable: false, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 65535, unsigned: false, flags: 0 } },
    Param { name: "tls-prefer-server-ciphers", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "tls-protocols", alias: None, immutable: false, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "tls-replication", alias: None, immutable: false, protected: false, hidden: false, default: "no", kind: Kind::Bool },
    Param { name: "tls-session-cache-size", alias: None, immutable: false, protected: false, hidden: false, default: "20480", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "tls-session-cache-timeout", alias: None, immutable: false, protected: false, hidden: false, default: "300", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "tls-session-caching", alias: None, immutable: false, protected: false, hidden: false, default: "yes", kind: Kind::Bool },
    Param { name: "tracking-table-max-keys", alias: None, immutable: false, protected: false, hidden: false, default: "1000000", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: 0 } },
    Param { name: "unixsocket", alias: None, immutable: true, protected: false, hidden: false, default: "", kind: Kind::Str },
    Param { name: "unixsocketperm", alias: None, immutable: true, protected: false, hidden: false, default: "0", kind: Kind::Int { min: 0, max: 511, unsigned: true, flags: OCTAL } },
    Param { name: "use-exit-on-panic", alias: None, immutable: false, protected: false, hidden: true, default: "no", kind: Kind::Bool },
    Param { name: "watchdog-period", alias: None, immutable: false, protected: false, hidden: true, default: "0", kind: Kind::Int { min: 0, max: 2147483647, unsigned: false, flags: 0 } },
    Param { name: "zset-max-listpack-entries", alias: Some("zset-max-ziplist-entries"), immutable: false, protected: false, hidden: false, default: "128", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: 0 } },
    Param { name: "zset-max-listpack-value", alias: Some("zset-max-ziplist-value"), immutable: false, protected: false, hidden: false, default: "64", kind: Kind::Int { min: 0, max: 9223372036854775807, unsigned: true, flags: MEMORY } },
];

#[cfg(test)]
mod tests {
    use super::*;

    fn set(name: &str, value: &str) -> Result<String, String> {
        let p = lookup(name.as_bytes()).expect(name);
        check(p, value.as_bytes(), p.default)
    }

    #[test]
    fn the_table_is_redis_7_0s() {
        let listed = PARAMS.iter().filter(|p| !p.hidden).count()
            + PARAMS
                .iter()
                .filter(|p| !p.hidden && p.alias.is_some())
                .count();
        assert_eq!(listed, 192, "names and aliases CONFIG GET * lists");
        for w in PARAMS.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        // Every default passes its own check, unchanged (CONFIG SET x <default>).
        for p in PARAMS {
            assert_eq!(
                check(p, p.default.as_bytes(), p.default).as_deref(),
                Ok(p.default),
                "{}",
                p.name
            );
        }
        assert!(lookup(b"SLAVEOF").is_some_and(|p| p.name == "replicaof"));
        for name in ACTED_ON {
            assert!(lookup(name.as_bytes()).is_some(), "{name}");
        }
    }

    #[test]
    fn values_are_checked_as_redis_checks_them() {
        // Each expectation was read from redis-server 7.0.15's CONFIG SET replies.
        assert_eq!(set("maxmemory", "100mb").as_deref(), Ok("104857600"));
        assert_eq!(
            set("maxmemory", "1.5mb"),
            Err("argument must be a memory value".into())
        );
        assert_eq!(set("maxmemory-clients", "10%").as_deref(), Ok("10%"));
        assert_eq!(
            set("maxmemory-clients", "200%"),
            Err("percentage argument must be less or equal to 100".into())
        );
        assert_eq!(
            set("hz", "0100"),
            Err("argument couldn't be parsed into an integer".into())
        );
        assert_eq!(
            set("hz", "-1"),
            Err("argument must be between 0 and 2147483647 inclusive".into())
        );
        assert_eq!(set("activerehashing", "YES").as_deref(), Ok("yes"));
        assert_eq!(
            set("activerehashing", "1"),
            Err("argument must be 'yes' or 'no'".into())
        );
        assert_eq!(
            set("maxmemory-policy", "ALLKEYS-LRU").as_deref(),
            Ok("allkeys-lru")
        );
        assert!(set("loglevel", "loud")
            .unwrap_err()
            .starts_with("argument(s) must be one of the following: debug, verbose"));
        assert_eq!(set("notify-keyspace-events", "KEA").as_deref(), Ok("AKE"));
        assert_eq!(set("notify-keyspace-events", "Elx").as_deref(), Ok("lxE"));
        assert_eq!(set("save", "1 2 3"), Err("Invalid save parameters".into()));
        assert_eq!(
            set("client-output-buffer-limit", "normal 1mb 2k 0").as_deref(),
            Ok("normal 1048576 2000 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60")
        );
        assert_eq!(
            set("client-output-buffer-limit", "nobody 0 0 0"),
            Err("Invalid client class specified in buffer limit configuration.".into())
        );
    }
}
