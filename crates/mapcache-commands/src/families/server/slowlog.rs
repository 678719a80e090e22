//! SLOWLOG and its subcommands GET HELP LEN RESET, over [`crate::slowlog::SlowLog`].

use super::cmd;
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

pub(crate) const COMMANDS: &[Command] = &[Command {
    since: "2.2.12",
    subcommands: SLOWLOG_SUBCOMMANDS,
    ..cmd(
        "slowlog",
        -2,
        0,
        "A container for slow log commands",
        slowlog_container,
    )
}];

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
