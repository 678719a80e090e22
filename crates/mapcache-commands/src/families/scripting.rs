//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (EXISTS, FLUSH, HELP, KILL, LOAD), as
//! Redis 7.0 answers them, over [`crate::scripting`].

use bytes::Bytes;

use crate::args::is;
use crate::error::{CmdError, CmdResult};
use crate::scripting::busy::KillRefusal;
use crate::scripting::engine::{sha1_hex, RunMode, Script};
use crate::scripting::{self, Engine, ALLOW_OOM, EVAL_COMPAT, NO_WRITES};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

/// A scripting command (keys given by numkeys, not positions).
const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "scripting",
        name,
        arity,
        flags,
        (0, 0, 0),
        since,
        summary,
        handler,
    )
}

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    cmd("eval", -3, NOSCRIPT | STALE | SKIP_MONITOR, "2.6.0", "Execute a Lua script server side", eval),
    cmd("eval_ro", -3, NOSCRIPT | STALE | SKIP_MONITOR | READONLY, "7.0.0", "Execute a read-only Lua script server side", eval_ro),
    cmd("evalsha", -3, NOSCRIPT | STALE | SKIP_MONITOR, "2.6.0", "Execute a Lua script server side", evalsha),
    cmd("evalsha_ro", -3, NOSCRIPT | STALE | SKIP_MONITOR | READONLY, "7.0.0", "Execute a read-only Lua script server side", evalsha_ro),
    Command { subcommands: SCRIPT_SUBCOMMANDS, ..cmd("script", -2, 0, "2.6.0", "A container for Lua scripts management commands", container) },
];

#[rustfmt::skip]
const SCRIPT_SUBCOMMANDS: &[Command] = &[
    cmd("exists", -3, NOSCRIPT, "2.6.0", "Check existence of scripts in the script cache.", script_exists),
    cmd("flush", -2, NOSCRIPT, "2.6.0", "Remove all the scripts from the script cache.", script_flush),
    cmd("help", 2, LOADING | STALE, "5.0.0", "Show helpful text about the different subcommands", script_help),
    cmd("kill", 2, NOSCRIPT | ALLOW_BUSY, "2.6.0", "Kill the script currently in execution.", script_kill),
    cmd("load", 3, NOSCRIPT | STALE, "2.6.0", "Load the specified Lua script into the script cache.", script_load),
];

fn container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("script".into()))
}

const NOSCRIPT_ERR: CmdError = CmdError::Static("NOSCRIPT No matching script. Please use EVAL.");

fn eval(c: &mut Ctx<'_>) -> CmdResult {
    eval_generic(c, false, false)
}
fn eval_ro(c: &mut Ctx<'_>) -> CmdResult {
    eval_generic(c, false, true)
}
fn evalsha(c: &mut Ctx<'_>) -> CmdResult {
    eval_generic(c, true, false)
}
fn evalsha_ro(c: &mut Ctx<'_>) -> CmdResult {
    eval_generic(c, true, true)
}

/// `numkeys` of EVAL/FCALL, checked as Redis checks it.
pub(crate) fn numkeys(c: &Ctx<'_>) -> Result<usize, CmdError> {
    let n = crate::args::int(c.arg(2))?;
    if n > c.args.len() as i64 - 3 {
        return Err(CmdError::Static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    if n < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    Ok(n as usize)
}

/// Compiles and caches `body` (SCRIPT LOAD, EVAL of a new script): its SHA.
fn create(engine: &mut Engine, body: &Bytes) -> Result<String, CmdError> {
    let sha = sha1_hex(body);
    if engine.scripts.contains_key(&sha) {
        return Ok(sha);
    }
    let (flags, skip) =
        scripting::parse_shebang(body).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    let func = engine
        .compile(&body[skip..], "@user_script")
        .map_err(|e| CmdError::Owned(format!("ERR Error compiling script (new function): {e}")))?;
    engine.scripts.insert(
        sha.clone(),
        Script {
            body: body.clone(),
            flags,
            func,
        },
    );
    Ok(sha)
}

fn eval_generic(c: &mut Ctx<'_>, by_sha: bool, ro: bool) -> CmdResult {
    // Before anything else, so that the script's commands follow it (Redis's evalCommand).
    crate::feed_monitors_now(c.shared, c.session, c.args);
    let nk = numkeys(c)?;
    let (shared, session, out) = (c.shared, &*c.session, &mut *c.out);
    let args = c.args;
    if by_sha && args[1].len() != 40 {
        return Err(NOSCRIPT_ERR);
    }
    shared.store.exclusive(|| {
        shared
            .scripting
            .with_engine(shared.info.version, |engine| {
                let sha = if by_sha {
                    let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
                    if !engine.scripts.contains_key(&sha) {
                        return Err(NOSCRIPT_ERR);
                    }
                    sha
                } else {
                    create(engine, &args[1])?
                };
                let Some(script) = engine.scripts.get(&sha) else {
                    return Err(NOSCRIPT_ERR);
                };
                let compat = script.flags & EVAL_COMPAT != 0;
                let no_writes = script.flags & NO_WRITES != 0;
                // A script that declares its flags and may write is refused out of
                // memory as a write command is (Redis's `evalGetCommandFlags`).
                let allow_oom = script.flags & ALLOW_OOM != 0;
                if !compat && !no_writes && !allow_oom && session.oom_at_start {
                    return Err(CmdError::Static(crate::error::OOM));
                }
                if ro && !compat && !no_writes {
                    return Err(CmdError::Static(
                        "ERR Can not execute a script with write flag using *_ro command.",
                    ));
                }
                let func = script.func.clone();
                let mode = RunMode {
                    name: &sha,
                    read_only: ro || (!compat && no_writes),
                    eval: true,
                    deny_oom: session.oom_at_start && !allow_oom,
                };
                let _running = shared.scripting.busy.start(true);
                engine.run(
                    shared,
                    session,
                    &func,
                    &args[3..3 + nk],
                    &args[3 + nk..],
                    mode,
                    out,
                );
                Ok(())
            })?
    })
}

fn script_exists(c: &mut Ctx<'_>) -> CmdResult {
    let args = &c.args[2..];
    let found: Vec<bool> = c
        .shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            args.iter()
                .map(|a| {
                    engine
                        .scripts
                        .contains_key(&String::from_utf8_lossy(a).to_ascii_lowercase())
                })
                .collect()
        })?;
    c.out.array(found.len());
    for f in found {
        c.out.integer(f as i64);
    }
    Ok(())
}

fn script_flush(c: &mut Ctx<'_>) -> CmdResult {
    match c.args.get(2) {
        None => {}
        Some(a) if c.args.len() == 3 && (is(a, "sync") || is(a, "async")) => {}
        Some(_) => {
            return Err(CmdError::Static(
                "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
            ))
        }
    }
    c.shared.scripting.flush_scripts();
    c.out.ok();
    Ok(())
}

fn script_kill(c: &mut Ctx<'_>) -> CmdResult {
    match c.shared.scripting.busy.kill(true) {
        Ok(()) => {
            c.out.ok();
            Ok(())
        }
        Err(KillRefusal::NotBusy) => Err(CmdError::Static(
            "NOTBUSY No scripts in execution right now.",
        )),
        Err(KillRefusal::Unkillable) => Err(CmdError::Static(UNKILLABLE)),
        Err(KillRefusal::OtherKind(text)) => Err(CmdError::Static(text)),
    }
}

/// SCRIPT KILL / FUNCTION KILL of a script that has written.
pub(crate) const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";

fn script_load(c: &mut Ctx<'_>) -> CmdResult {
    let body = c.args[2].clone();
    let sha = c
        .shared
        .scripting
        .with_engine(c.shared.info.version, |engine| create(engine, &body))??;
    c.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_help(c: &mut Ctx<'_>) -> CmdResult {
    const HELP: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "DEBUG (YES|SYNC|NO)",
        "    Set the debug mode for subsequent scripts executed.",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "KILL",
        "    Kill the currently executing Lua script.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    c.out.array(HELP.len());
    for line in HELP {
        c.out.simple(line.as_bytes());
    }
    Ok(())
}
