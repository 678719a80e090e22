//! CONFIG and its subcommands GET HELP RESETSTAT REWRITE SET, over
//! [`crate::RuntimeConfig`] and the parameter table [`super::params`].

use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::{cmd, params};
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
        since: "5.0.0",
        ..cmd(
            "help",
            2,
            LOADING | STALE,
            "Show helpful text about the different subcommands",
            config_help,
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
        since: "2.8.0",
        ..cmd(
            "rewrite",
            2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Rewrite the configuration file with the in memory configuration",
            config_rewrite,
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

fn config_help(c: &mut Ctx<'_>) -> CmdResult {
    c.out.help(&[
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "RESETSTAT",
        "    Reset statistics reported by the INFO command.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// CONFIG GET pattern...: every parameter (name or alias) a pattern matches, once; a
/// hidden parameter only by its exact name, as in Redis.
fn config_get(c: &mut Ctx<'_>) -> CmdResult {
    let cfg = c.shared.config.read();
    let mut hits: Vec<(&'static str, String)> = Vec::new();
    for pattern in &c.args[2..] {
        for p in params::PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                let exact = pattern.eq_ignore_ascii_case(name.as_bytes());
                let matched = exact
                    || (!p.hidden && mapcache_store::glob_match(pattern, name.as_bytes(), true));
                if matched && !hits.iter().any(|h| h.0 == name) {
                    hits.push((name, cfg.param(p.name).unwrap_or_default()));
                }
            }
        }
    }
    drop(cfg);
    c.out.map(hits.len());
    for (name, value) in hits {
        c.out.bulk(name.as_bytes());
        c.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET name value [name value ...]: every name is looked up and every value
/// checked before any is applied, so the call is all or nothing; errors as Redis's.
fn config_set(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    let failed = |name: &[u8], why: &str| {
        CmdError::Owned(format!(
            "ERR CONFIG SET failed (possibly related to argument '{}') - {why}",
            truncate_lossy(name, 128)
        ))
    };
    let pairs: Vec<&[Bytes]> = c.args[2..].chunks(2).collect();
    let mut found: Vec<&'static params::Param> = Vec::with_capacity(pairs.len());
    let mut refusal = None;
    for pair in &pairs {
        let Some(p) = params::lookup(&pair[0]) else {
            return Err(CmdError::Owned(format!(
                "ERR Unknown option or number of arguments for CONFIG SET - '{}'",
                truncate_lossy(&pair[0], 128)
            )));
        };
        if refusal.is_none() {
            if p.immutable {
                refusal = Some(failed(&pair[0], "can't set immutable config"));
            } else if p.protected {
                refusal = Some(failed(&pair[0], "can't set protected config"));
            } else if found.iter().any(|q| std::ptr::eq(*q, p)) {
                refusal = Some(failed(&pair[0], "duplicate parameter"));
            }
        }
        found.push(p);
    }
    if let Some(e) = refusal {
        return Err(e);
    }
    let mut next = c.shared.config.read().clone();
    for (p, pair) in found.iter().zip(&pairs) {
        let current = next.param(p.name).unwrap_or_default();
        let value =
            params::check(p, &pair[1], &current).map_err(|why| failed(p.name.as_bytes(), &why))?;
        next.set_param(p.name, value);
    }
    c.shared
        .slowlog
        .configure(next.slowlog_log_slower_than, next.slowlog_max_len);
    crate::config::apply_limits(&c.shared.store, &next);
    // Scripts' BUSY threshold (scripting::busy); lua-time-limit is its alias.
    if let Some(ms) = next
        .param("busy-reply-threshold")
        .and_then(|v| v.parse().ok())
    {
        c.shared.scripting.busy.set_time_limit_ms(ms);
    }
    *c.shared.config.write() = next;
    c.out.ok();
    Ok(())
}

/// CONFIG REWRITE: mapcache takes its settings from flags and the environment, so it
/// answers as Redis does when started without a config file.
fn config_rewrite(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::Static(
        "ERR The server is running without a config file",
    ))
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
        &s.peak_memory,
    ] {
        counter.store(0, Ordering::Relaxed);
    }
    c.shared.cmdstats.reset();
    c.shared.errorstats.reset();
    c.out.ok();
    Ok(())
}
