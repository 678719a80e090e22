//! Server commands: BGSAVE COMMAND CONFIG DBSIZE FLUSHALL FLUSHDB INFO LASTSAVE SAVE
//! SLOWLOG TIME.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::args::is;
use crate::error::{truncate_lossy, CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::{self, Command};
use crate::{config, Ctx};

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: (0, 0, 0),
        group: "server",
        since: "1.0.0",
        summary,
        handler,
        subcommands: &[],
    }
}

pub(crate) const COMMANDS: &[Command] = &[
    cmd(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT,
        "Asynchronously save the dataset to disk",
        bgsave,
    ),
    Command {
        subcommands: COMMAND_SUBCOMMANDS,
        ..cmd(
            "command",
            -1,
            LOADING | STALE,
            "Get array of Redis command details",
            command_all,
        )
    },
    Command {
        subcommands: CONFIG_SUBCOMMANDS,
        ..cmd(
            "config",
            -2,
            0,
            "A container for server configuration commands",
            config_container,
        )
    },
    cmd(
        "dbsize",
        1,
        READONLY | FAST,
        "Return the number of keys in the selected database",
        dbsize,
    ),
    cmd(
        "flushall",
        -1,
        WRITE,
        "Remove all keys from all databases",
        flushall,
    ),
    cmd(
        "flushdb",
        -1,
        WRITE,
        "Remove all keys from the current database",
        flushdb,
    ),
    cmd(
        "info",
        -1,
        LOADING | STALE,
        "Get information and statistics about the server",
        info,
    ),
    cmd(
        "lastsave",
        1,
        LOADING | STALE | FAST,
        "Get the UNIX time stamp of the last successful save to disk",
        lastsave,
    ),
    cmd(
        "save",
        1,
        ADMIN | NOSCRIPT,
        "Synchronously save the dataset to disk",
        save,
    ),
    Command {
        since: "2.2.12",
        subcommands: SLOWLOG_SUBCOMMANDS,
        ..cmd(
            "slowlog",
            -2,
            0,
            "A container for slow log commands",
            slowlog_container,
        )
    },
    Command {
        since: "2.6.0",
        ..cmd(
            "time",
            1,
            LOADING | STALE | FAST,
            "Return the current server time",
            time,
        )
    },
];

const COMMAND_SUBCOMMANDS: &[Command] = &[
    Command {
        since: "2.8.13",
        ..cmd(
            "count",
            2,
            LOADING | STALE,
            "Get total number of Redis commands",
            command_count,
        )
    },
    Command {
        since: "7.0.0",
        ..cmd(
            "docs",
            -2,
            LOADING | STALE,
            "Get array of specific Redis command documentation",
            command_docs,
        )
    },
    cmd(
        "info",
        -2,
        LOADING | STALE,
        "Get array of specific Redis command details, or all when no argument is given",
        command_info,
    ),
    Command {
        since: "7.0.0",
        ..cmd(
            "list",
            -2,
            LOADING | STALE,
            "Get an array of Redis command names",
            command_list,
        )
    },
];

const SLOWLOG_SUBCOMMANDS: &[Command] = &[
    Command {
        since: "2.2.12",
        ..cmd(
            "get",
            -2,
            ADMIN | LOADING | STALE,
            "Get the slow log's entries",
            slowlog_get,
        )
    },
    Command {
        since: "6.2.0",
        ..cmd(
            "help",
            2,
            LOADING | STALE,
            "Show helpful text about the different subcommands",
            slowlog_help,
        )
    },
    Command {
        since: "2.2.12",
        ..cmd(
            "len",
            2,
            ADMIN | LOADING | STALE,
            "Get the slow log's length",
            slowlog_len,
        )
    },
    Command {
        since: "2.2.12",
        ..cmd(
            "reset",
            2,
            ADMIN | LOADING | STALE,
            "Clear all entries from the slow log",
            slowlog_reset,
        )
    },
];

const CONFIG_SUBCOMMANDS: &[Command] = &[
    Command {
        since: "2.0.0",
        ..cmd(
            "get",
            -3,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Get the values of configuration parameters",
            config_get,
        )
    },
    Command {
        since: "2.0.0",
        ..cmd(
            "resetstat",
            2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Reset the stats returned by INFO",
            config_resetstat,
        )
    },
    Command {
        since: "2.0.0",
        ..cmd(
            "set",
            -4,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Set configuration parameters to the given values",
            config_set,
        )
    },
];

fn persistence<'a>(c: &Ctx<'a>) -> Result<&'a dyn crate::Persistence, CmdError> {
    c.shared
        .persistence
        .get()
        .map(|p| &**p)
        .ok_or(CmdError::Static(
            "ERR snapshots are not available in this server",
        ))
}

/// SAVE: every cache to the snapshot files of `--dir` (docs/snapshot-format.md).
fn save(c: &mut Ctx<'_>) -> CmdResult {
    persistence(c)?
        .save()
        .map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    c.out.ok();
    Ok(())
}

/// BGSAVE [SCHEDULE]: as SAVE, on another thread.
fn bgsave(c: &mut Ctx<'_>) -> CmdResult {
    match c.args.len() {
        1 => {}
        2 if is(&c.args[1], "schedule") => {}
        _ => return Err(CmdError::Syntax),
    }
    persistence(c)?
        .bgsave()
        .map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    c.out.simple(b"Background saving started");
    Ok(())
}

fn lastsave(c: &mut Ctx<'_>) -> CmdResult {
    let t = persistence(c)?.lastsave();
    c.out.integer(t);
    Ok(())
}

fn dbsize(c: &mut Ctx<'_>) -> CmdResult {
    let n = c.db().len(c.now);
    c.out.integer(n as i64);
    Ok(())
}

/// FLUSHDB/FLUSHALL take an optional ASYNC or SYNC; both free memory off the shard locks.
fn flush_mode(c: &Ctx<'_>) -> CmdResult {
    match c.args.len() {
        1 => Ok(()),
        2 if is(&c.args[1], "async") || is(&c.args[1], "sync") => Ok(()),
        _ => Err(CmdError::Syntax),
    }
}

fn flushdb(c: &mut Ctx<'_>) -> CmdResult {
    flush_mode(c)?;
    c.db().flush();
    c.out.ok();
    Ok(())
}

fn flushall(c: &mut Ctx<'_>) -> CmdResult {
    flush_mode(c)?;
    for db in c.shared.store.dbs() {
        db.flush();
    }
    c.out.ok();
    Ok(())
}

fn time(c: &mut Ctx<'_>) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    c.out.array(2);
    c.out.bulk_i64(now.as_secs() as i64);
    c.out.bulk_i64(i64::from(now.subsec_micros()));
    Ok(())
}

// ---- COMMAND ----------------------------------------------------------------

fn command_all(c: &mut Ctx<'_>) -> CmdResult {
    let all = table::all();
    c.out.array(all.len());
    for cmd in all {
        write_command_info(c, cmd, None);
    }
    Ok(())
}

fn command_count(c: &mut Ctx<'_>) -> CmdResult {
    c.out.integer(table::all().len() as i64);
    Ok(())
}

fn command_list(c: &mut Ctx<'_>) -> CmdResult {
    // COMMAND LIST [FILTERBY MODULE name | ACLCAT cat | PATTERN pattern]
    let mut names: Vec<&str> = table::all().iter().map(|c| c.name).collect();
    match c.args.len() {
        2 => {}
        5 if is(&c.args[2], "filterby") => {
            let arg = &c.args[4];
            if is(&c.args[3], "pattern") {
                names.retain(|n| mapcache_store::glob_match(arg, n.as_bytes(), true));
            } else if is(&c.args[3], "aclcat") {
                names = table::all()
                    .iter()
                    .filter(|cmd| cmd.group.as_bytes().eq_ignore_ascii_case(arg))
                    .map(|c| c.name)
                    .collect();
            } else if is(&c.args[3], "module") {
                names.clear();
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    c.out.bulks(names.iter().map(|n| n.as_bytes()));
    Ok(())
}

fn command_info(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 2 {
        return command_all(c);
    }
    c.out.array(c.args.len() - 2);
    for i in 2..c.args.len() {
        match table::lookup(&c.args[i]) {
            Some(cmd) => write_command_info(c, cmd, None),
            None => c.out.null_array(),
        }
    }
    Ok(())
}

/// One COMMAND INFO entry, Redis 7.0's ten fields.
fn write_command_info(c: &mut Ctx<'_>, cmd: &Command, parent: Option<&str>) {
    let out = &mut *c.out;
    out.array(10);
    match parent {
        Some(p) => out.bulk(format!("{p}|{}", cmd.name).as_bytes()),
        None => out.bulk(cmd.name.as_bytes()),
    }
    out.integer(i64::from(cmd.arity));
    let names: Vec<&str> = table::flags::NAMES
        .iter()
        .filter(|(bit, _)| cmd.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    out.set(names.len());
    for n in names {
        out.simple(n.as_bytes());
    }
    out.integer(i64::from(cmd.keys.0));
    out.integer(i64::from(cmd.keys.1));
    out.integer(i64::from(cmd.keys.2));
    out.set(1);
    out.simple(format!("@{}", cmd.group).as_bytes());
    out.set(0); // tips
    out.array(0); // key specs
    out.array(cmd.subcommands.len());
    for sub in cmd.subcommands {
        write_command_info(c, sub, Some(cmd.name));
    }
}

fn command_docs(c: &mut Ctx<'_>) -> CmdResult {
    let wanted: Vec<&'static Command> = if c.args.len() == 2 {
        table::all().to_vec()
    } else {
        c.args[2..]
            .iter()
            .filter_map(|a| table::lookup(a))
            .collect()
    };
    c.out.map(wanted.len());
    for cmd in wanted {
        c.out.bulk(cmd.name.as_bytes());
        write_docs(c, cmd, None);
    }
    Ok(())
}

fn write_docs(c: &mut Ctx<'_>, cmd: &Command, parent: Option<&str>) {
    let has_subs = !cmd.subcommands.is_empty();
    c.out.map(3 + usize::from(has_subs));
    c.out.bulk(b"summary");
    c.out.bulk(cmd.summary.as_bytes());
    c.out.bulk(b"since");
    c.out.bulk(cmd.since.as_bytes());
    c.out.bulk(b"group");
    c.out.bulk(cmd.group.as_bytes());
    if has_subs {
        c.out.bulk(b"subcommands");
        c.out.map(cmd.subcommands.len());
        for sub in cmd.subcommands {
            c.out
                .bulk(format!("{}|{}", parent.unwrap_or(cmd.name), sub.name).as_bytes());
            write_docs(c, sub, Some(cmd.name));
        }
    }
}

// ---- SLOWLOG ----------------------------------------------------------------

fn slowlog_container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("slowlog".into()))
}

fn slowlog_get(c: &mut Ctx<'_>) -> CmdResult {
    let count = match c.args.len() {
        2 => Some(10),
        3 => match crate::args::int(&c.args[2]) {
            Ok(-1) => None,
            Ok(n) if n >= 0 => Some(usize::try_from(n).unwrap_or(usize::MAX)),
            _ => {
                return Err(CmdError::Static(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        },
        _ => {
            return Err(CmdError::raw(&[
                b"ERR unknown subcommand or wrong number of arguments for '",
                crate::error::truncate(&c.args[1], 128),
                b"'. Try SLOWLOG HELP.",
            ]))
        }
    };
    let entries = c.shared.slowlog.newest(count);
    c.out.array(entries.len());
    for e in entries {
        c.out.array(6);
        c.out.integer(e.id as i64);
        c.out.integer(e.time);
        c.out.integer(e.duration_us as i64);
        c.out.bulks(e.args.iter());
        c.out.bulk(e.addr.as_bytes());
        c.out.bulk(&e.name);
    }
    Ok(())
}

fn slowlog_len(c: &mut Ctx<'_>) -> CmdResult {
    c.out.integer(c.shared.slowlog.len() as i64);
    Ok(())
}

fn slowlog_reset(c: &mut Ctx<'_>) -> CmdResult {
    c.shared.slowlog.reset();
    c.out.ok();
    Ok(())
}

fn slowlog_help(c: &mut Ctx<'_>) -> CmdResult {
    const HELP: &[&str] = &[
        "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET [<count>]",
        "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
        "    Entries are made of:",
        "    id, timestamp, time in microseconds, arguments array, client IP and port,",
        "    client name",
        "LEN",
        "    Return the length of the slowlog.",
        "RESET",
        "    Reset the slowlog.",
        "HELP",
        "    Prints this help.",
    ];
    c.out.array(HELP.len());
    for line in HELP {
        c.out.simple(line.as_bytes());
    }
    Ok(())
}

// ---- CONFIG -----------------------------------------------------------------

fn config_container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("config".into()))
}

/// The parameters CONFIG GET knows, with their current values.
fn config_params(c: &Ctx<'_>) -> Vec<(&'static str, String)> {
    let cfg = c.shared.config.read();
    vec![
        ("appendonly", "no".into()),
        ("bind", cfg.bind.clone()),
        ("databases", cfg.databases.to_string()),
        ("maxclients", cfg.maxclients.to_string()),
        ("maxmemory", cfg.maxmemory.to_string()),
        ("maxmemory-policy", cfg.maxmemory_policy.clone()),
        ("port", cfg.port.to_string()),
        ("proto-max-bulk-len", cfg.proto_max_bulk_len.to_string()),
        (
            "requirepass",
            cfg.requirepass
                .as_ref()
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .unwrap_or_default(),
        ),
        ("save", String::new()),
        (
            "slowlog-log-slower-than",
            cfg.slowlog_log_slower_than.to_string(),
        ),
        ("slowlog-max-len", cfg.slowlog_max_len.to_string()),
        ("timeout", cfg.timeout.to_string()),
    ]
}

fn config_get(c: &mut Ctx<'_>) -> CmdResult {
    let params = config_params(c);
    let mut hits: Vec<&(&str, String)> = Vec::new();
    for pattern in &c.args[2..] {
        for p in &params {
            if mapcache_store::glob_match(pattern, p.0.as_bytes(), true)
                && !hits.iter().any(|h| h.0 == p.0)
            {
                hits.push(p);
            }
        }
    }
    c.out.map(hits.len());
    for (name, value) in hits {
        c.out.bulk(name.as_bytes());
        c.out.bulk(value.as_bytes());
    }
    Ok(())
}

fn config_set(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() % 2 != 0 {
        return Err(CmdError::WrongArity("config|set".into()));
    }
    // Validate every pair first, then apply all: CONFIG SET is all or nothing.
    let mut next = c.shared.config.read().clone();
    for pair in c.args[2..].chunks(2) {
        let (name, value) = (&pair[0], &pair[1]);
        let v = String::from_utf8_lossy(value).into_owned();
        let bad = || {
            CmdError::Owned(format!(
                "ERR CONFIG SET failed (possibly related to argument '{}') - argument couldn't be parsed into an integer",
                truncate_lossy(name, 128)
            ))
        };
        let lname = String::from_utf8_lossy(name).to_ascii_lowercase();
        match lname.as_str() {
            "maxclients" => next.maxclients = v.parse().map_err(|_| bad())?,
            "timeout" => next.timeout = v.parse().map_err(|_| bad())?,
            "maxmemory" => next.maxmemory = v.parse().map_err(|_| bad())?,
            "maxmemory-policy" => next.maxmemory_policy = v,
            "slowlog-log-slower-than" => {
                next.slowlog_log_slower_than = v.parse().map_err(|_| bad())?
            }
            "slowlog-max-len" => next.slowlog_max_len = v.parse().map_err(|_| bad())?,
            "requirepass" => next.requirepass = (!value.is_empty()).then(|| value.clone()),
            "save" | "appendonly" if value.is_empty() || is(value, "no") => {}
            _ => {
                return Err(CmdError::Owned(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                    truncate_lossy(name, 128)
                )))
            }
        }
    }
    c.shared
        .slowlog
        .configure(next.slowlog_log_slower_than, next.slowlog_max_len);
    *c.shared.config.write() = next;
    c.out.ok();
    Ok(())
}

fn config_resetstat(c: &mut Ctx<'_>) -> CmdResult {
    let s = &c.shared.stats;
    for counter in [
        &s.commands_processed,
        &s.connections_received,
        &s.rejected_connections,
        &s.net_input_bytes,
        &s.net_output_bytes,
        &s.error_replies,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    c.shared.cmdstats.reset();
    c.shared.errorstats.reset();
    c.out.ok();
    Ok(())
}

// ---- INFO -------------------------------------------------------------------

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "keyspace",
];

/// Sections INFO prints only when asked by name or with `all`/`everything`.
const NOT_DEFAULT: &[&str] = &["commandstats"];

fn info(c: &mut Ctx<'_>) -> CmdResult {
    let wanted: Vec<String> = c.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut text = String::new();
    for section in SECTIONS {
        if everything
            || (default && !NOT_DEFAULT.contains(section))
            || wanted.iter().any(|w| w == section)
        {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            write_section(c, section, &mut text);
        }
    }
    c.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn write_section(c: &Ctx<'_>, section: &str, t: &mut String) {
    let sh = c.shared;
    let uptime = sh.started.elapsed().as_secs();
    let cfg = sh.config.read().clone();
    let _ = match section {
        "server" => write!(
            t,
            "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:standalone\r\n\
             os:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\n\
             uptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:\r\n\
             mapcache_git_sha1:{}\r\nmapcache_key_mode:{}\r\n",
            sh.info.version,
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            sh.info.run_id,
            sh.info.tcp_port,
            uptime,
            uptime / 86_400,
            sh.info.executable,
            sh.info.git_sha,
            match cfg.key_mode {
                config::KeyMode::Flat => "flat",
                config::KeyMode::Path => "path",
            },
        ),
        "clients" => write!(
            t,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\ntracking_clients:0\r\n",
            sh.clients.len(),
            cfg.maxclients
        ),
        "memory" => {
            let rss = process_rss_bytes();
            // Like Redis: the allocator's figure when it has one, RSS otherwise.
            let report = sh.memory.get();
            let used = report.and_then(|m| m.allocated_bytes()).unwrap_or(rss);
            let allocator = report.map_or("libc", |m| m.allocator());
            write!(
                t,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 maxmemory:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:{allocator}\r\n",
                human_bytes(used),
                cfg.maxmemory,
                cfg.maxmemory_policy
            )
        }
        "persistence" => write!(t, "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\n"),
        "stats" => {
            let s = &sh.stats;
            let (mut hits, mut misses, mut expired) = (0, 0, 0);
            for db in sh.store.dbs() {
                let st = db.stats();
                hits += st.hits;
                misses += st.misses;
                expired += st.expired_lazy + st.expired_active;
            }
            write!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 instantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\n\
                 expired_keys:{expired}\r\nevicted_keys:0\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\n\
                 total_error_replies:{}\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                sh.rates.ops.rate().round() as u64,
                s.net_input_bytes.load(Ordering::Relaxed),
                s.net_output_bytes.load(Ordering::Relaxed),
                sh.rates.input_bytes.rate() / 1024.0,
                sh.rates.output_bytes.rate() / 1024.0,
                s.rejected_connections.load(Ordering::Relaxed),
                s.error_replies.load(Ordering::Relaxed),
            )
        }
        "commandstats" => {
            let _ = write!(t, "# Commandstats\r\n");
            for cs in sh.cmdstats.iter() {
                let (calls, rejected, failed) = (cs.calls(), cs.rejected(), cs.failed());
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let usec = cs.usec();
                let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
                let _ = write!(
                    t,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                    cs.name
                );
            }
            Ok(())
        }
        "errorstats" => {
            let _ = write!(t, "# Errorstats\r\n");
            for (kind, count) in sh.errorstats.snapshot() {
                let _ = write!(t, "errorstat_{kind}:count={count}\r\n");
            }
            Ok(())
        }
        "replication" => write!(t, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
        "cpu" => {
            let (user, sys) = process_cpu_seconds();
            write!(t, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n")
        }
        "keyspace" => {
            let _ = write!(t, "# Keyspace\r\n");
            for (i, db) in sh.store.dbs().iter().enumerate() {
                let st = db.stats();
                if st.keys > 0 {
                    let _ = write!(t, "db{i}:keys={},expires={},avg_ttl=0\r\n", st.keys, st.expires);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

/// Resident set size from /proc (0 where unavailable).
pub fn process_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// User and system CPU seconds of the whole process, from /proc (0 where unavailable).
/// /proc counts in clock ticks; Linux's USER_HZ is 100 on every architecture we build for.
pub fn process_cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) as f64 / 100.0;
    // utime and stime are fields 14 and 15: indexes 11 and 12 after "state".
    (ticks(11), ticks(12))
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2}G", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.2}M", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.2}K", n as f64 / 1024.0),
        n => format!("{n}B"),
    }
}
