//! What eviction shows of itself: OBJECT FREQ and OBJECT IDLETIME (a key's access
//! stamp, `mapcache_store::evict::access`) and CLIENT NO-EVICT (accepted: client
//! buffers are never evicted here, so every client is already "no-evict").

use crate::args::is;
use crate::error::{CmdError, CmdResult};
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
    Command {
        name,
        arity,
        flags,
        keys,
        group: "generic",
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        subcommands: OBJECT_SUBCOMMANDS,
        ..cmd("object", -2, 0, (0, 0, 0), "2.2.3", "A container for object introspection commands", object_help)
    },
];

#[rustfmt::skip]
const OBJECT_SUBCOMMANDS: &[Command] = &[
    cmd("freq", 3, READONLY, (2, 2, 1), "4.0.0", "Get the logarithmic access frequency counter of a Redis object", object_freq),
    cmd("help", 2, LOADING | STALE, (0, 0, 0), "6.2.0", "Show helpful text about the different subcommands", object_help),
    cmd("idletime", 3, READONLY, (2, 2, 1), "2.2.3", "Get the time since a Redis object was last accessed", object_idletime),
];

/// CLIENT NO-EVICT, listed in CLIENT's subcommands (`connection.rs`).
pub(crate) const CLIENT_NO_EVICT: Command = cmd(
    "no-evict",
    3,
    ADMIN | NOSCRIPT | LOADING | STALE,
    (0, 0, 0),
    "7.0.0",
    "Set client eviction mode for the current connection",
    client_no_evict,
);

const LFU_NOTE: &str = "Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

fn object_freq(c: &mut Ctx<'_>) -> CmdResult {
    if !c.shared.store.limits().policy().is_lfu() {
        return Err(CmdError::Owned(format!(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. {LFU_NOTE}"
        )));
    }
    match c.db().access_of(c.arg(2), c.now) {
        Some((_, freq)) => c.out.integer(i64::from(freq)),
        None => c.out.null(),
    }
    Ok(())
}

fn object_idletime(c: &mut Ctx<'_>) -> CmdResult {
    if c.shared.store.limits().policy().is_lfu() {
        return Err(CmdError::Owned(format!(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. {LFU_NOTE}"
        )));
    }
    match c.db().access_of(c.arg(2), c.now) {
        Some((idle, _)) => c.out.integer(idle as i64),
        None => c.out.null(),
    }
    Ok(())
}

fn object_help(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 1 {
        return Err(CmdError::WrongArity("object".into()));
    }
    const LINES: &[&str] = &[
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "FREQ <key>",
        "    Return the access frequency index of the <key>. The returned integer is",
        "    proportional to the logarithm of the recent access frequency of the key.",
        "IDLETIME <key>",
        "    Return the idle time of the <key>, that is the approximated number of",
        "    seconds elapsed since the last access to the key.",
        "HELP",
        "    Print this help.",
    ];
    c.out.array(LINES.len());
    for l in LINES {
        c.out.simple(l.as_bytes());
    }
    Ok(())
}

fn client_no_evict(c: &mut Ctx<'_>) -> CmdResult {
    if !(is(c.arg(2), "on") || is(c.arg(2), "off")) {
        return Err(CmdError::Syntax);
    }
    c.out.ok();
    Ok(())
}
