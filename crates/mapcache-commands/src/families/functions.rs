//! FCALL, FCALL_RO and FUNCTION (DELETE, DUMP, FLUSH, HELP, KILL, LIST, LOAD, RESTORE,
//! STATS), as Redis 7.0 answers them, over [`crate::scripting::functions`]. FUNCTION
//! DUMP's payload is mapcache's own (it round-trips through RESTORE on mapcache; it is
//! not Redis's RDB blob).

use crate::args::is;
use crate::error::{CmdError, CmdResult};
use crate::scripting::busy::KillRefusal;
use crate::scripting::engine::RunMode;
use crate::scripting::functions::{self, Libraries};
use crate::scripting::{ALLOW_OOM, FLAG_NAMES, NO_WRITES};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

/// A FUNCTION-family command (since 7.0.0, keys given by numkeys, not positions).
const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "scripting",
        name,
        arity,
        flags,
        (0, 0, 0),
        "7.0.0",
        summary,
        handler,
    )
}

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    cmd("fcall", -3, NOSCRIPT | STALE | SKIP_MONITOR, "Invoke a function", fcall),
    cmd("fcall_ro", -3, NOSCRIPT | STALE | SKIP_MONITOR | READONLY, "Invoke a read-only function", fcall_ro),
    Command { subcommands: FUNCTION_SUBCOMMANDS, ..cmd("function", -2, 0, "A container for function commands", container) },
];

#[rustfmt::skip]
const FUNCTION_SUBCOMMANDS: &[Command] = &[
    cmd("delete", 3, NOSCRIPT | WRITE, "Delete a function by name", function_delete),
    cmd("dump", 2, NOSCRIPT, "Dump all functions into a serialized binary payload", function_dump),
    cmd("flush", -2, NOSCRIPT | WRITE, "Deleting all functions", function_flush),
    cmd("help", 2, LOADING | STALE, "Show helpful text about the different subcommands", function_help),
    cmd("kill", 2, NOSCRIPT | ALLOW_BUSY, "Kill the function currently in execution.", function_kill),
    cmd("list", -2, NOSCRIPT, "List information about all the functions", function_list),
    cmd("load", -3, NOSCRIPT | WRITE | DENYOOM, "Create a function with the given arguments (name, code, description)", function_load),
    cmd("restore", -3, NOSCRIPT | WRITE | DENYOOM, "Restore all the functions on the given payload", function_restore),
    cmd("stats", 2, NOSCRIPT | ALLOW_BUSY, "Return information about the function currently running (name, description, duration)", function_stats),
];

fn container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("function".into()))
}

fn fcall(c: &mut Ctx<'_>) -> CmdResult {
    fcall_generic(c, false)
}
fn fcall_ro(c: &mut Ctx<'_>) -> CmdResult {
    fcall_generic(c, true)
}

fn fcall_generic(c: &mut Ctx<'_>, ro: bool) -> CmdResult {
    // Before anything else, so that the function's commands follow it (Redis's
    // fcallCommandGeneric).
    crate::feed_monitors_now(c.shared, c.session, c.args);
    let (shared, session, out) = (c.shared, &*c.session, &mut *c.out);
    let args = c.args;
    let name = String::from_utf8_lossy(&args[1]).into_owned();
    shared.store.exclusive(|| {
        shared
            .scripting
            .with_engine(shared.info.version, |engine| {
                let Some((func, flags)) = functions::lookup(engine, &name) else {
                    return Err(CmdError::Static("ERR Function not found"));
                };
                // A function that may write is refused out of memory as a write
                // command is (Redis's `fcallGetCommandFlags`).
                let no_writes = flags & NO_WRITES != 0;
                let allow_oom = flags & ALLOW_OOM != 0;
                if !no_writes && !allow_oom && session.oom_at_start {
                    return Err(CmdError::Static(crate::error::OOM));
                }
                let nk = crate::args::int(&args[2])
                    .map_err(|_| CmdError::Static("ERR Bad number of keys provided"))?;
                if nk > args.len() as i64 - 3 {
                    return Err(CmdError::Static(
                        "ERR Number of keys can't be greater than number of args",
                    ));
                }
                if nk < 0 {
                    return Err(CmdError::Static("ERR Number of keys can't be negative"));
                }
                let nk = nk as usize;
                if ro && !no_writes {
                    return Err(CmdError::Static(
                        "ERR Can not execute a script with write flag using *_ro command.",
                    ));
                }
                let mode = RunMode {
                    name: &name,
                    read_only: ro || no_writes,
                    eval: false,
                    deny_oom: session.oom_at_start && !allow_oom,
                };
                let _running = shared
                    .scripting
                    .busy
                    .start_named(false, Some((name.clone(), args.to_vec())));
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

fn function_load(c: &mut Ctx<'_>) -> CmdResult {
    let mut replace = false;
    let mut pos = 2;
    while pos < c.args.len() - 1 {
        let a = &c.args[pos];
        pos += 1;
        if is(a, "replace") {
            replace = true;
            continue;
        }
        return Err(CmdError::Owned(format!(
            "ERR Unknown option given: {}",
            String::from_utf8_lossy(a)
        )));
    }
    let code = c.args[pos].clone();
    let name = c
        .shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            let lib = engine.create_library(&code, (!replace).then_some(&engine.libraries))?;
            let name = lib.name.clone();
            engine.libraries.link(lib, replace)?;
            Ok::<_, CmdError>(name)
        })??;
    c.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(c: &mut Ctx<'_>) -> CmdResult {
    let name = String::from_utf8_lossy(&c.args[2]).into_owned();
    let found = c
        .shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            engine.libraries.unlink(&name).is_some()
        })?;
    if !found {
        return Err(CmdError::Static("ERR Library not found"));
    }
    c.out.ok();
    Ok(())
}

/// Redis's `addReplySubcommandSyntaxError`.
fn subcommand_syntax(sub: &[u8]) -> CmdError {
    CmdError::raw(&[
        b"ERR unknown subcommand or wrong number of arguments for '",
        sub,
        b"'. Try FUNCTION HELP.",
    ])
}

fn function_flush(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() > 3 {
        return Err(subcommand_syntax(&c.args[1]));
    }
    match c.args.get(2) {
        None => {}
        Some(a) if c.args.len() == 3 && (is(a, "sync") || is(a, "async")) => {}
        Some(_) => {
            return Err(CmdError::Static(
                "ERR FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    c.shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            engine.libraries = Libraries::default();
        })?;
    c.out.ok();
    Ok(())
}

fn function_kill(c: &mut Ctx<'_>) -> CmdResult {
    match c.shared.scripting.busy.kill(false) {
        Ok(()) => {
            c.out.ok();
            Ok(())
        }
        Err(KillRefusal::NotBusy) => Err(CmdError::Static(
            "NOTBUSY No scripts in execution right now.",
        )),
        Err(KillRefusal::Unkillable) => Err(CmdError::Static(super::scripting::UNKILLABLE)),
        Err(KillRefusal::OtherKind(text)) => Err(CmdError::Static(text)),
    }
}

fn function_list(c: &mut Ctx<'_>) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < c.args.len() {
        let a = &c.args[i];
        if !with_code && is(a, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(a, "libraryname") {
            if i >= c.args.len() - 1 {
                return Err(CmdError::Static("ERR library name argument was not given"));
            }
            i += 1;
            pattern = Some(&c.args[i]);
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(a)
            )));
        }
        i += 1;
    }
    let out = &mut *c.out;
    c.shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            let libs: Vec<_> = engine
                .libraries
                .libraries
                .values()
                .filter(|l| {
                    pattern.is_none_or(|p| mapcache_store::glob_match(p, l.name.as_bytes(), true))
                })
                .collect();
            out.array(libs.len());
            for lib in libs {
                out.map(if with_code { 4 } else { 3 });
                out.bulk(b"library_name");
                out.bulk(lib.name.as_bytes());
                out.bulk(b"engine");
                out.bulk(b"LUA");
                out.bulk(b"functions");
                out.array(lib.functions.len());
                for f in lib.functions.values() {
                    out.map(3);
                    out.bulk(b"name");
                    out.bulk(f.name.as_bytes());
                    out.bulk(b"description");
                    match &f.description {
                        Some(d) => out.bulk(d),
                        None => out.null(),
                    }
                    out.bulk(b"flags");
                    let names: Vec<&str> = FLAG_NAMES
                        .iter()
                        .filter(|(bit, _)| f.flags & bit != 0)
                        .map(|(_, n)| *n)
                        .collect();
                    out.set(names.len());
                    for n in names {
                        out.simple(n.as_bytes());
                    }
                }
                if with_code {
                    out.bulk(b"library_code");
                    out.bulk(&lib.code);
                }
            }
        })?;
    Ok(())
}

fn function_dump(c: &mut Ctx<'_>) -> CmdResult {
    let payload = c
        .shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            functions::dump(&engine.libraries)
        })?;
    c.out.bulk(&payload);
    Ok(())
}

fn function_restore(c: &mut Ctx<'_>) -> CmdResult {
    #[derive(PartialEq)]
    enum Policy {
        Flush,
        Append,
        Replace,
    }
    if c.args.len() > 4 {
        return Err(subcommand_syntax(&c.args[1]));
    }
    let policy =
        match c.args.get(3) {
            None => Policy::Append,
            Some(a) if c.args.len() == 4 && is(a, "flush") => Policy::Flush,
            Some(a) if c.args.len() == 4 && is(a, "append") => Policy::Append,
            Some(a) if c.args.len() == 4 && is(a, "replace") => Policy::Replace,
            Some(_) => return Err(CmdError::Static(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            )),
        };
    let codes = functions::undump(&c.args[2])?;
    c.shared
        .scripting
        .with_engine(c.shared.info.version, |engine| {
            // Built aside and swapped in: a failure changes nothing.
            let mut next = if policy == Policy::Flush {
                Libraries::default()
            } else {
                engine.libraries.clone()
            };
            for code in &codes {
                let lib = engine.create_library(code, None)?;
                next.join(lib, policy == Policy::Replace)?;
            }
            engine.libraries = next;
            Ok::<_, CmdError>(())
        })??;
    c.out.ok();
    Ok(())
}

fn function_stats(c: &mut Ctx<'_>) -> CmdResult {
    let busy = &c.shared.scripting.busy;
    if busy.running_eval() == Some(true) {
        return Err(CmdError::Static(crate::scripting::busy::BUSY_EVAL));
    }
    let (libs, funcs) = c.shared.scripting.function_counts();
    let out = &mut *c.out;
    out.map(2);
    out.bulk(b"running_script");
    match busy.running_info() {
        Some((name, command, ms)) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.bulks(command.iter());
            out.bulk(b"duration_ms");
            out.integer(ms as i64);
        }
        None => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.integer(libs as i64);
    out.bulk(b"functions_count");
    out.integer(funcs as i64);
    Ok(())
}

fn function_help(c: &mut Ctx<'_>) -> CmdResult {
    const HELP: &[&str] = &[
        "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "LOAD [REPLACE] <FUNCTION CODE>",
        "    Create a new library with the given library name and code.",
        "DELETE <LIBRARY NAME>",
        "    Delete the given library.",
        "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
        "    Return general information on all the libraries:",
        "    * Library name",
        "    * The engine used to run the Library",
        "    * Library description",
        "    * Functions list",
        "    * Library code (if WITHCODE is given)",
        "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
        "STATS",
        "    Return information about the current function running:",
        "    * Function name",
        "    * Command used to run the function",
        "    * Duration in MS that the function is running",
        "    If no function is running, return nil",
        "    In addition, returns a list of available engines.",
        "KILL",
        "    Kill the current running function.",
        "FLUSH [ASYNC|SYNC]",
        "    Delete all the libraries.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the libraries.",
        "    * SYNC: Synchronously flush the libraries.",
        "DUMP",
        "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
        "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
        "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
        "    control how to handle existing libraries (default APPEND):",
        "    * FLUSH: delete all existing libraries.",
        "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
        "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
        "      libraries with the new libraries (notice that even on this option there is a chance of failure",
        "      in case of functions name collision with another library).",
        "HELP",
        "    Prints this help.",
    ];
    c.out.array(HELP.len());
    for line in HELP {
        c.out.simple(line.as_bytes());
    }
    Ok(())
}
