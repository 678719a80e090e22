//! CONFIG and its subcommands GET RESETSTAT SET, over [`crate::RuntimeConfig`].

use std::sync::atomic::Ordering;

use super::cmd;
use crate::args::is;
use crate::error::{truncate_lossy, CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

pub(crate) const COMMANDS: &[Command] = &[Command {
    subcommands: CONFIG_SUBCOMMANDS,
    ..cmd(
        "config",
        -2,
        0,
        "A container for server configuration commands",
        config_container,
    )
}];

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

fn config_container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("config".into()))
}

/// The parameters CONFIG GET knows, with their current values.
fn config_params(c: &Ctx<'_>) -> Vec<(&'static str, String)> {
    let cfg = c.shared.config.read();
    vec![
        ("appendonly", "no".into()),
        ("bind", cfg.bind.clone()),
        (
            "busy-reply-threshold",
            c.shared.scripting.busy.time_limit_ms().to_string(),
        ),
        ("databases", cfg.databases.to_string()),
        (
            "lua-time-limit",
            c.shared.scripting.busy.time_limit_ms().to_string(),
        ),
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
    let mut busy_threshold: Option<i64> = None;
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
            // Scripts' BUSY threshold (scripting::busy); Redis 7's alias is busy-reply-threshold.
            "lua-time-limit" | "busy-reply-threshold" => {
                busy_threshold = Some(v.parse().map_err(|_| bad())?)
            }
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
    if let Some(ms) = busy_threshold {
        c.shared.scripting.busy.set_time_limit_ms(ms);
    }
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
