//! COMMAND and its subcommands COUNT DOCS INFO LIST: the command table, as clients
//! (redis-cli, redis-py) read it.

use super::cmd;
use crate::args::is;
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::{self, Command};
use crate::Ctx;

pub(crate) const COMMANDS: &[Command] = &[Command {
    subcommands: COMMAND_SUBCOMMANDS,
    ..cmd(
        "command",
        -1,
        LOADING | STALE,
        "Get array of Redis command details",
        command_all,
    )
}];

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
    Command {
        since: "2.8.13",
        ..cmd(
            "getkeys",
            -4,
            LOADING | STALE,
            "Extract keys given a full Redis command",
            command_getkeys,
        )
    },
    Command {
        since: "5.0.0",
        ..cmd(
            "help",
            2,
            LOADING | STALE,
            "Show helpful text about the different subcommands",
            command_help,
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

/// Every command and subcommand by its full name (`get`, `config|get`), with its
/// ACL categories (Redis's, or its group for mapcache's own commands).
fn full_names() -> Vec<(String, Vec<&'static str>)> {
    let mut all = Vec::new();
    for cmd in table::all() {
        all.push((cmd.name.to_string(), categories_of(cmd.name, cmd)));
        for sub in cmd.subcommands {
            let full = format!("{}|{}", cmd.name, sub.name);
            let cats = categories_of(&full, sub);
            all.push((full, cats));
        }
    }
    all
}

fn categories_of(full_name: &str, cmd: &Command) -> Vec<&'static str> {
    super::acl::categories(full_name).map_or_else(|| vec![cmd.group], <[&str]>::to_vec)
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: commands
/// and subcommands, as Redis lists them.
fn command_list(c: &mut Ctx<'_>) -> CmdResult {
    let mut names = full_names();
    match c.args.len() {
        2 => {}
        5 if is(&c.args[2], "filterby") => {
            let arg = &c.args[4];
            if is(&c.args[3], "pattern") {
                names.retain(|(n, _)| mapcache_store::glob_match(arg, n.as_bytes(), true));
            } else if is(&c.args[3], "aclcat") {
                names.retain(|(_, cats)| {
                    cats.iter().any(|k| k.as_bytes().eq_ignore_ascii_case(arg))
                });
            } else if is(&c.args[3], "module") {
                names.clear();
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    }
    c.out.bulks(names.iter().map(|(n, _)| n.as_bytes()));
    Ok(())
}

fn command_info(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 2 {
        return command_all(c);
    }
    c.out.array(c.args.len() - 2);
    for i in 2..c.args.len() {
        // `config|get` names a subcommand.
        match find(&c.args[i]) {
            Some((cmd, parent)) => write_command_info(c, cmd, parent),
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
    let full = match parent {
        Some(p) => format!("{p}|{}", cmd.name),
        None => cmd.name.to_string(),
    };
    let cats = categories_of(&full, cmd);
    out.set(cats.len());
    for k in cats {
        out.simple(format!("@{k}").as_bytes());
    }
    out.set(0); // tips
    out.array(0); // key specs
    out.array(cmd.subcommands.len());
    for sub in cmd.subcommands {
        write_command_info(c, sub, Some(cmd.name));
    }
}

fn command_docs(c: &mut Ctx<'_>) -> CmdResult {
    let wanted: Vec<(&'static Command, Option<&'static str>)> = if c.args.len() == 2 {
        table::all().iter().map(|cmd| (*cmd, None)).collect()
    } else {
        c.args[2..].iter().filter_map(|a| find(a)).collect()
    };
    c.out.map(wanted.len());
    for (cmd, parent) in wanted {
        match parent {
            Some(p) => c.out.bulk(format!("{p}|{}", cmd.name).as_bytes()),
            None => c.out.bulk(cmd.name.as_bytes()),
        }
        write_docs(c, cmd, parent);
    }
    Ok(())
}

/// A command by name, or a subcommand by `parent|sub` (with its parent's name).
fn find(name: &[u8]) -> Option<(&'static Command, Option<&'static str>)> {
    match name.iter().position(|&b| b == b'|') {
        None => table::lookup(name).map(|cmd| (cmd, None)),
        Some(bar) => table::lookup(&name[..bar]).and_then(|parent| {
            table::lookup_sub(parent, &name[bar + 1..]).map(|sub| (sub, Some(parent.name)))
        }),
    }
}

/// One command's documentation: Redis's own where it has the command (its
/// `subcommands` replaced by mapcache's, each Redis's where it has it), else the
/// table's summary, since and group.
fn write_docs(c: &mut Ctx<'_>, cmd: &Command, parent: Option<&str>) {
    let redis = match parent {
        None => super::docs::docs(cmd.name),
        Some(p) => super::docs::docs(p).and_then(|d| sub_docs(d, &format!("{p}|{}", cmd.name))),
    };
    if let Some(super::docs::N::Map(entries)) = redis {
        let has_subs = !cmd.subcommands.is_empty();
        let kept: Vec<&(&str, super::docs::N)> = entries
            .iter()
            .filter(|(k, _)| *k != "subcommands")
            .collect();
        c.out.map(kept.len() + usize::from(has_subs));
        for (k, v) in kept {
            c.out.bulk(k.as_bytes());
            super::docs::write(c.out, v);
        }
        if has_subs {
            write_subcommand_docs(c, cmd);
        }
        return;
    }
    let has_subs = !cmd.subcommands.is_empty();
    c.out.map(3 + usize::from(has_subs));
    c.out.bulk(b"summary");
    c.out.bulk(cmd.summary.as_bytes());
    c.out.bulk(b"since");
    c.out.bulk(cmd.since.as_bytes());
    c.out.bulk(b"group");
    c.out.bulk(cmd.group.as_bytes());
    if has_subs {
        write_subcommand_docs(c, cmd);
    }
}

fn write_subcommand_docs(c: &mut Ctx<'_>, cmd: &Command) {
    c.out.bulk(b"subcommands");
    c.out.map(cmd.subcommands.len());
    for sub in cmd.subcommands {
        c.out.bulk(format!("{}|{}", cmd.name, sub.name).as_bytes());
        write_docs(c, sub, Some(cmd.name));
    }
}

/// The documentation of subcommand `full` (`config|get`) inside its parent's.
fn sub_docs(parent: &'static super::docs::N, full: &str) -> Option<&'static super::docs::N> {
    let super::docs::N::Map(entries) = parent else {
        return None;
    };
    let (_, subs) = entries.iter().find(|(k, _)| *k == "subcommands")?;
    let super::docs::N::Map(subs) = subs else {
        return None;
    };
    subs.iter().find(|(k, _)| *k == full).map(|(_, v)| v)
}

fn command_help(c: &mut Ctx<'_>) -> CmdResult {
    c.out.help(&[
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "HELP",
        "    Prints this help.",
    ]);
    Ok(())
}

/// COMMAND GETKEYS command arg...: the keys of a full command, by the table's key
/// positions (the subcommand's for a container) or, for EVAL and FCALL, their numkeys.
fn command_getkeys(c: &mut Ctx<'_>) -> CmdResult {
    let full = &c.args[2..];
    let Some(mut target) = table::lookup(&full[0]) else {
        return Err(CmdError::Static("ERR Invalid command specified"));
    };
    if !target.subcommands.is_empty() && full.len() > 1 {
        target = table::lookup_sub(target, &full[1])
            .ok_or(CmdError::Static("ERR Invalid command specified"))?;
    }
    if !target.arity_ok(full.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys: Vec<&[u8]> = if matches!(
        target.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "fcall" | "fcall_ro"
    ) {
        let n = crate::args::int(&full[2]).unwrap_or(0);
        match usize::try_from(n) {
            Ok(n) if n <= full.len() - 3 => full[3..3 + n].iter().map(|k| &k[..]).collect(),
            _ => Vec::new(),
        }
    } else {
        let (first, last, step) = target.keys;
        if first <= 0 {
            return Err(CmdError::Static("ERR The command has no key arguments"));
        }
        let last = if last < 0 {
            full.len() as isize + last as isize
        } else {
            last as isize
        };
        (first as isize..=last.min(full.len() as isize - 1))
            .step_by(step.max(1) as usize)
            .map(|i| &full[i as usize][..])
            .collect()
    };
    c.out.bulks(keys);
    Ok(())
}
