//! OBJECT ENCODING / REFCOUNT / HELP and MEMORY USAGE / STATS / DOCTOR / HELP /
//! MALLOC-STATS / PURGE: what Redis 7.0 would report for the same value.
//!
//! mapcache stores values its own way, so these answer Redis's view of the value, not
//! mapcache's: the encoding Redis would pick for the current content (strings `int`,
//! `embstr`, `raw`; hashes `listpack` or `hashtable` by `hash-max-listpack-*`; lists
//! `quicklist`, 7.0's only list encoding), and MEMORY USAGE as Redis's
//! `objectComputeSize` adds it up: robj, sds headers, listpack bytes, quicklist nodes,
//! dict entries, each rounded to jemalloc's size class. Redis keeps an encoding once a
//! value outgrew it (a hash shrunk below the limits stays `hashtable`); mapcache answers
//! by content (docs/commands-differences.md).

use mapcache_store::Value;

use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::families::common::string_bytes;
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    keys: (i8, i8, i8),
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd("generic", name, arity, flags, keys, since, summary, handler)
}

const KEY2: (i8, i8, i8) = (2, 2, 1);
const NONE: (i8, i8, i8) = (0, 0, 0);

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        group: "server",
        subcommands: MEMORY_SUBCOMMANDS,
        ..cmd("memory", -2, 0, NONE, "4.0.0", "A container for memory diagnostics commands", container)
    },
    Command {
        subcommands: OBJECT_SUBCOMMANDS,
        ..cmd("object", -2, 0, NONE, "2.2.3", "A container for object introspection commands", container)
    },
];

#[rustfmt::skip]
const OBJECT_SUBCOMMANDS: &[Command] = &[
    cmd("encoding", 3, READONLY, KEY2, "2.2.3", "Inspect the internal encoding of a Redis object", object_encoding),
    cmd("freq", 3, READONLY, KEY2, "4.0.0", "Get the logarithmic access frequency counter of a Redis object", super::eviction::object_freq),
    cmd("help", 2, LOADING | STALE, NONE, "6.2.0", "Show helpful text about the different subcommands", object_help),
    cmd("idletime", 3, READONLY, KEY2, "2.2.3", "Get the time since a Redis object was last accessed", super::eviction::object_idletime),
    cmd("refcount", 3, READONLY, KEY2, "2.2.3", "Get the number of references to the value of the key", object_refcount),
];

#[rustfmt::skip]
const MEMORY_SUBCOMMANDS: &[Command] = &[
    Command { group: "server", ..cmd("doctor", 2, 0, NONE, "4.0.0", "Outputs memory problems report", memory_doctor) },
    Command { group: "server", ..cmd("help", 2, LOADING | STALE, NONE, "4.0.0", "Show helpful text about the different subcommands", memory_help) },
    Command { group: "server", ..cmd("malloc-stats", 2, 0, NONE, "4.0.0", "Show allocator internal stats", memory_malloc_stats) },
    Command { group: "server", ..cmd("purge", 2, 0, NONE, "4.0.0", "Ask the allocator to release memory", memory_purge) },
    Command { group: "server", ..cmd("stats", 2, 0, NONE, "4.0.0", "Show memory usage details", memory_stats) },
    Command { group: "server", ..cmd("usage", -3, READONLY, KEY2, "4.0.0", "Estimate the memory usage of a key", memory_usage) },
];

fn container(c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity(
        String::from_utf8_lossy(&c.args[0])
            .to_ascii_lowercase()
            .into(),
    ))
}

fn object_help(c: &mut Ctx<'_>) -> CmdResult {
    c.out.help(&[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "ENCODING <key>",
        "    Return the kind of internal representation used in order to store the value",
        "    associated with a <key>.",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "REFCOUNT <key>",
        "    Return the number of references of the value associated with the specified",
        "    <key>.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

fn memory_help(c: &mut Ctx<'_>) -> CmdResult {
    c.out.help(&[
        "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DOCTOR",
        "    Return memory problems reports.",
        "MALLOC-STATS",
        "    Return internal statistics report from the memory allocator.",
        "PURGE",
        "    Attempt to purge dirty pages for reclamation by the allocator.",
        "STATS",
        "    Return information about the memory usage of the server.",
        "USAGE <key> [SAMPLES <count>]",
        "    Return memory in bytes used by <key> and its value. Nested values are",
        "    sampled up to <count> times (default: 5, 0 means sample all).",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// The limits of Redis's small encodings, from the parameters CONFIG sets.
struct Limits {
    hash_entries: usize,
    hash_value: usize,
}

fn limits(c: &Ctx<'_>) -> Limits {
    let cfg = c.shared.config.read();
    let num = |name: &str| {
        cfg.param(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    Limits {
        hash_entries: num("hash-max-listpack-entries"),
        hash_value: num("hash-max-listpack-value"),
    }
}

/// The encoding Redis would give `v` (OBJECT ENCODING).
fn encoding(v: &Value, l: &Limits) -> &'static str {
    match v {
        Value::Hash(h) => {
            let small = h.len() <= l.hash_entries
                && h.iter()
                    .all(|(k, v)| k.len() <= l.hash_value && element(v).len() <= l.hash_value);
            if small {
                "listpack"
            } else {
                "hashtable"
            }
        }
        Value::List(_) => "quicklist",
        other => {
            let s = string_bytes(other).unwrap_or_default();
            if s.len() <= 20 && string2l(&s).is_some() {
                "int"
            } else if s.len() <= 44 {
                "embstr"
            } else {
                "raw"
            }
        }
    }
}

/// A hash field's value or list element as Redis would hold it (bytes).
fn element<'a>(v: impl Into<mapcache_store::Field<'a>>) -> std::borrow::Cow<'a, [u8]> {
    crate::families::common::field_bytes(v)
}

/// Redis's `string2ll` (no sign but `-`, no leading zeros, no spaces, fits i64).
fn string2l(s: &[u8]) -> Option<i64> {
    let digits = s.strip_prefix(b"-").unwrap_or(s);
    if digits.is_empty()
        || !digits.iter().all(u8::is_ascii_digit)
        || (digits[0] == b'0' && s.len() > 1)
    {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn object_encoding(c: &mut Ctx<'_>) -> CmdResult {
    let l = limits(c);
    let enc = c
        .db()
        .get(&c.args[2], c.now, |e| e.map(|e| encoding(&e.value, &l)));
    match enc {
        Some(e) => c.out.bulk(e.as_bytes()),
        None => c.out.null(),
    }
    Ok(())
}

/// OBJECT REFCOUNT: 1, or Redis's shared-integer count (`INT_MAX`) for the integers
/// 0..9999 it keeps shared (with no maxmemory limit, as Redis shares them then).
fn object_refcount(c: &mut Ctx<'_>) -> CmdResult {
    let shared_ints = c.shared.config.read().maxmemory == 0;
    let refs = c.db().get(&c.args[2], c.now, |e| {
        e.map(|e| match &e.value {
            Value::Hash(_) | Value::List(_) => 1,
            v => {
                let s = string_bytes(v).unwrap_or_default();
                match string2l(&s) {
                    Some(0..=9999) if s.len() <= 20 && shared_ints => i64::from(i32::MAX),
                    _ => 1,
                }
            }
        })
    });
    match refs {
        Some(n) => c.out.integer(n),
        None => c.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// MEMORY USAGE: Redis's objectComputeSize over Redis's layout of the same value
// ---------------------------------------------------------------------------------

/// jemalloc's size class for an allocation of `n` bytes (`zmalloc_size`).
pub(crate) fn jemalloc_size(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        n.div_ceil(16) * 16
    } else {
        let spacing = n.next_power_of_two() / 8;
        n.div_ceil(spacing) * spacing
    }
}

/// `sdsZmallocSize` of an sds string of `len` bytes made by `sdsnewlen`.
fn sds_size(len: usize) -> usize {
    let header = match len {
        0 => 3,
        1..=31 => 1,
        32..=255 => 3,
        256..=65_535 => 5,
        _ => 9,
    };
    jemalloc_size(header + len + 1)
}

/// The bytes one element takes in a listpack: encoding, data, back-length.
fn listpack_entry(s: &[u8]) -> usize {
    let body = match string2l(s) {
        Some(n) if s.len() <= 20 => match n {
            0..=127 => 1,
            -4096..=4095 => 2,
            -32_768..=32_767 => 3,
            -8_388_608..=8_388_607 => 4,
            -2_147_483_648..=2_147_483_647 => 5,
            _ => 9,
        },
        _ => match s.len() {
            0..=63 => 1 + s.len(),
            64..=4095 => 2 + s.len(),
            n => 5 + n,
        },
    };
    let backlen = match body {
        0..=127 => 1,
        128..=16_382 => 2,
        16_383..=2_097_150 => 3,
        2_097_151..=268_435_454 => 4,
        _ => 5,
    };
    body + backlen
}

const ROBJ: usize = 16;
const DICT_ENTRY: usize = 24;
const DICT: usize = 56;
const QUICKLIST: usize = 40;
const QUICKLIST_NODE: usize = 40;
/// `list-max-listpack-size -2`: a quicklist node's listpack holds at most 8 KiB.
const QUICKLIST_NODE_BYTES: usize = 8192;
/// A listpack's header (total bytes, count) and end byte.
const LISTPACK_EMPTY: usize = 7;

/// Redis's `objectComputeSize(o, samples)` for the value `v`.
fn value_size(v: &Value, l: &Limits, samples: usize) -> usize {
    let sample = |n: usize| if samples == 0 { n } else { n.min(samples) };
    match v {
        Value::Hash(h) => {
            if encoding(v, l) == "listpack" {
                let bytes: usize = LISTPACK_EMPTY
                    + h.iter()
                        .map(|(k, v)| listpack_entry(k) + listpack_entry(&element(v)))
                        .sum::<usize>();
                ROBJ + jemalloc_size(bytes)
            } else {
                let slots = h.len().next_power_of_two().max(4);
                let mut size = ROBJ + DICT + 8 * slots;
                let taken = sample(h.len());
                if taken > 0 {
                    let sum: usize = h
                        .iter()
                        .take(taken)
                        .map(|(k, v)| sds_size(k.len()) + sds_size(element(v).len()) + DICT_ENTRY)
                        .sum();
                    size += (sum as f64 / taken as f64 * h.len() as f64) as usize;
                }
                size
            }
        }
        Value::List(list) => {
            // Nodes as RPUSH fills them: each listpack up to 8 KiB.
            let mut nodes: Vec<usize> = Vec::new();
            let mut current = LISTPACK_EMPTY;
            let mut count = 0;
            for item in list.iter() {
                let e = listpack_entry(&element(item));
                if count > 0 && current + e > QUICKLIST_NODE_BYTES {
                    nodes.push(current);
                    current = LISTPACK_EMPTY;
                    count = 0;
                }
                current += e;
                count += 1;
            }
            if count > 0 {
                nodes.push(current);
            }
            let mut size = ROBJ + QUICKLIST;
            let taken = sample(nodes.len()).max(1).min(nodes.len());
            if taken > 0 {
                let sum: usize = nodes
                    .iter()
                    .take(taken)
                    .map(|&b| QUICKLIST_NODE + jemalloc_size(b))
                    .sum();
                size += (sum as f64 / taken as f64 * nodes.len() as f64) as usize;
            }
            size
        }
        other => {
            let s = string_bytes(other).unwrap_or_default();
            match encoding(other, l) {
                "int" => ROBJ,
                "embstr" => jemalloc_size(ROBJ + 3 + s.len() + 1),
                _ => ROBJ + sds_size(s.len()),
            }
        }
    }
}

/// MEMORY USAGE key [SAMPLES count]: the value's size as Redis would count it, plus
/// the key's sds and its dict entry; null for a missing key.
fn memory_usage(c: &mut Ctx<'_>) -> CmdResult {
    let mut samples = 5usize;
    let mut i = 3;
    while i < c.args.len() {
        if args::is(&c.args[i], "samples") && i + 1 < c.args.len() {
            let n = args::int(&c.args[i + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            samples = n as usize;
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let l = limits(c);
    let key = &c.args[2];
    let size = c.db().peek(key, c.now, |e| {
        e.map(|e| value_size(&e.value, &l, samples) + sds_size(key.len()) + DICT_ENTRY)
    });
    match size {
        Some(n) => c.out.integer(n as i64),
        None => c.out.null(),
    }
    Ok(())
}

/// MEMORY DOCTOR: Redis's report; mapcache has none of the conditions Redis's doctor
/// looks for (fork, fragmentation, big client buffers), so it answers as Redis does
/// for an instance with little data, or with no problem found.
fn memory_doctor(c: &mut Ctx<'_>) -> CmdResult {
    let used = crate::families::server::info::used_memory(c.shared);
    let text: &str = if used < 5 * 1024 * 1024 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and I will be back to our programming as soon as I finished rebooting."
    } else {
        "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base."
    };
    c.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn memory_malloc_stats(c: &mut Ctx<'_>) -> CmdResult {
    c.out
        .verbatim(b"txt", b"Stats not supported for the current allocator");
    Ok(())
}

fn memory_purge(c: &mut Ctx<'_>) -> CmdResult {
    c.out.ok();
    Ok(())
}

/// MEMORY STATS: Redis 7.0's fields in its order; the overheads Redis counts for its
/// own structures are 0 here, the totals are the allocator's.
fn memory_stats(c: &mut Ctx<'_>) -> CmdResult {
    let sh = c.shared;
    let used = crate::families::server::info::used_memory(sh) as i64;
    let peak = crate::families::server::info::peak_memory(sh) as i64;
    let rss = crate::process::rss_bytes() as i64;
    let dbs: Vec<(usize, mapcache_store::DbStats)> = sh
        .store
        .dbs()
        .iter()
        .map(|d| d.stats())
        .enumerate()
        .filter(|(_, s)| s.keys > 0)
        .collect();
    let keys: u64 = dbs.iter().map(|(_, s)| s.keys as u64).sum();
    let startup = 0i64;
    let dataset = used.max(0);
    let ints: &[(&str, i64)] = &[
        ("peak.allocated", peak),
        ("total.allocated", used),
        ("startup.allocated", startup),
        ("replication.backlog", 0),
        ("clients.slaves", 0),
        ("clients.normal", 0),
        ("cluster.links", 0),
        ("aof.buffer", 0),
        ("lua.caches", 0),
        ("functions.caches", 0),
    ];
    c.out.map(ints.len() + dbs.len() + 17);
    for (k, v) in ints {
        c.out.bulk(k.as_bytes());
        c.out.integer(*v);
    }
    for (i, _) in &dbs {
        c.out.bulk(format!("db.{i}").as_bytes());
        c.out.map(3);
        for k in [
            "overhead.hashtable.main",
            "overhead.hashtable.expires",
            "overhead.hashtable.slot-to-keys",
        ] {
            c.out.bulk(k.as_bytes());
            c.out.integer(0);
        }
    }
    let pct = |a: i64, b: i64| {
        if b == 0 {
            0.0
        } else {
            a as f64 * 100.0 / b as f64
        }
    };
    let ratio = |a: i64, b: i64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let rest: [(&str, Stat); 17] = [
        ("overhead.total", Stat::Int(startup)),
        ("keys.count", Stat::Int(keys as i64)),
        (
            "keys.bytes-per-key",
            Stat::Int(if keys == 0 {
                0
            } else {
                (used - startup) / keys as i64
            }),
        ),
        ("dataset.bytes", Stat::Int(dataset)),
        (
            "dataset.percentage",
            Stat::Float(pct(dataset, used - startup)),
        ),
        ("peak.percentage", Stat::Float(pct(used, peak))),
        ("allocator.allocated", Stat::Int(used)),
        ("allocator.active", Stat::Int(used)),
        ("allocator.resident", Stat::Int(rss)),
        ("allocator-fragmentation.ratio", Stat::Float(1.0)),
        ("allocator-fragmentation.bytes", Stat::Int(0)),
        ("allocator-rss.ratio", Stat::Float(ratio(rss, used))),
        ("allocator-rss.bytes", Stat::Int(rss - used)),
        ("rss-overhead.ratio", Stat::Float(1.0)),
        ("rss-overhead.bytes", Stat::Int(0)),
        ("fragmentation", Stat::Float(ratio(rss, used))),
        ("fragmentation.bytes", Stat::Int(rss - used)),
    ];
    for (k, v) in rest {
        c.out.bulk(k.as_bytes());
        match v {
            Stat::Int(n) => c.out.integer(n),
            Stat::Float(f) => c.out.double(f),
        }
    }
    Ok(())
}

enum Stat {
    Int(i64),
    Float(f64),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jemalloc_classes() {
        let want = [
            (1, 8),
            (8, 8),
            (9, 16),
            (17, 32),
            (25, 32),
            (49, 64),
            (104, 112),
            (128, 128),
            (129, 160),
            (257, 320),
            (1025, 1280),
        ];
        for (n, size) in want {
            assert_eq!(jemalloc_size(n), size, "{n}");
        }
    }

    #[test]
    fn listpack_entries_as_redis_encodes_them() {
        assert_eq!(listpack_entry(b"a"), 3);
        assert_eq!(listpack_entry(b"1"), 2);
        assert_eq!(listpack_entry(b"1000"), 3);
        assert_eq!(listpack_entry(b"01"), 4);
        assert_eq!(listpack_entry(&[b'x'; 64]), 67);
    }
}
