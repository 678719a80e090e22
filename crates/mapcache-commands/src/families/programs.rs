//! map-cache's command programs and triggers over RESP (docs/programs.md), on the
//! selected database's cache, named in the style of module commands:
//!
//! - `MC.EXEC <program>`: the same JSON body as `POST /api/v1/commands/execute`
//!   (`{"commands": [...]}`), run as one all-or-nothing batch; the reply is the array
//!   of the top-level commands' values, objects as maps, numbers as doubles, in RESP3,
//!   downgraded for RESP2 clients as Redis does (maps to flat arrays, doubles to bulk
//!   strings, booleans to 1 and 0).
//! - `MC.TRIGGER ADD <pattern> <command>` (the new id), `SET <id> <pattern>
//!   <command>`, `DEL <id>`, `LIST`: the trigger endpoints' operations.

use mapcache_programs::{parse_request, Command as Program, ParseError};
use mapcache_store::{json, Value};

use crate::error::{CmdError, CmdResult};
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "mapcache",
        name,
        arity,
        flags,
        (0, 0, 0),
        "0.1.0",
        summary,
        handler,
    )
}

pub(crate) const COMMANDS: &[Command] = &[
    cmd(
        "mc.exec",
        2,
        WRITE | DENYOOM,
        "Run a map-cache command program, all or nothing",
        exec,
    ),
    Command {
        subcommands: TRIGGER_SUBCOMMANDS,
        ..cmd(
            "mc.trigger",
            -2,
            0,
            "A container for map-cache trigger commands",
            trigger_container,
        )
    },
];

const TRIGGER_SUBCOMMANDS: &[Command] = &[
    cmd(
        "add",
        4,
        WRITE,
        "Create a trigger; answers its id",
        trigger_add,
    ),
    cmd(
        "del",
        3,
        WRITE,
        "Delete a trigger; answers 1, or 0 when unknown",
        trigger_del,
    ),
    cmd(
        "list",
        2,
        0,
        "List the triggers in creation order",
        trigger_list,
    ),
    cmd("set", 5, WRITE, "Replace a trigger", trigger_set),
];

/// How deep a program's JSON may nest.
const MAX_PROGRAM_DEPTH: usize = 192;

fn parse_json(text: &[u8]) -> Result<Value, CmdError> {
    json::parse(&mut text.to_vec(), MAX_PROGRAM_DEPTH)
        .map_err(|e| CmdError::Owned(format!("ERR invalid json payload: {e}")))
}

fn exec(c: &mut Ctx<'_>) -> CmdResult {
    let body = parse_json(&c.args[1])?;
    let program = parse_request(&body).map_err(parse_error)?;
    let db = c.db();
    let answer = c
        .shared
        .programs
        .run(db, &program, c.now)
        .map_err(|e| CmdError::Owned(format!("ERR {}: {}", e.kind().summary(), e.message())))?;
    reply_value(c.out, &answer);
    Ok(())
}

/// A program's answer as RESP: objects are maps, arrays arrays, numbers doubles,
/// booleans booleans, null null, strings bulk strings (the encoder downgrades the
/// RESP3 types for RESP2 clients). Depth is bounded by the program's JSON depth.
fn reply_value(out: &mut Reply, v: &Value) {
    match v {
        Value::Str(s) => out.bulk(s),
        Value::Number(n) => out.double(*n),
        Value::Bool(b) => out.boolean(*b),
        Value::Null => out.null(),
        Value::List(l) => {
            out.array(l.len());
            for item in l {
                reply_value(out, &item.cow());
            }
        }
        Value::Hash(h) => {
            out.map(h.len());
            for (k, item) in h.iter() {
                out.bulk(k);
                reply_value(out, &item.cow());
            }
        }
    }
}

fn trigger_container(_c: &mut Ctx<'_>) -> CmdResult {
    Err(CmdError::WrongArity("mc.trigger".into()))
}

fn text(arg: &[u8]) -> Result<&str, CmdError> {
    std::str::from_utf8(arg)
        .map_err(|_| CmdError::Static("ERR trigger ids and patterns must be UTF-8"))
}

fn command(arg: &[u8]) -> Result<Program, CmdError> {
    Program::from_value(&parse_json(arg)?).map_err(parse_error)
}

fn parse_error(e: ParseError) -> CmdError {
    CmdError::Owned(format!("ERR {}: {e}", e.summary()))
}

fn trigger_error(e: mapcache_programs::TriggerError) -> CmdError {
    CmdError::Owned(format!("ERR {e}"))
}

fn trigger_add(c: &mut Ctx<'_>) -> CmdResult {
    let pattern = text(&c.args[2])?;
    let command = command(&c.args[3])?;
    let id = c
        .shared
        .programs
        .edit(c.db().name(), |t| t.add(pattern, command))
        .map_err(trigger_error)?;
    c.out.bulk(id.as_bytes());
    Ok(())
}

fn trigger_set(c: &mut Ctx<'_>) -> CmdResult {
    let id = text(&c.args[2])?;
    let pattern = text(&c.args[3])?;
    let command = command(&c.args[4])?;
    c.shared
        .programs
        .edit(c.db().name(), |t| t.replace(id, pattern, command))
        .map_err(trigger_error)?;
    c.out.ok();
    Ok(())
}

fn trigger_del(c: &mut Ctx<'_>) -> CmdResult {
    let id = text(&c.args[2])?;
    let removed = c
        .shared
        .programs
        .edit(c.db().name(), |t| t.delete(id).is_ok());
    c.out.integer(i64::from(removed));
    Ok(())
}

fn trigger_list(c: &mut Ctx<'_>) -> CmdResult {
    let triggers = c.shared.programs.triggers(c.db().name());
    let triggers = triggers.read_recursive();
    c.out.array(triggers.len());
    for t in triggers.iter() {
        c.out.map(3);
        c.out.bulk(b"id");
        c.out.bulk(t.id.as_bytes());
        c.out.bulk(b"key");
        c.out.bulk(t.key.as_bytes());
        c.out.bulk(b"command");
        let mut text = Vec::new();
        json::write(&t.command.to_value(), &mut text);
        c.out.bulk(&text);
    }
    Ok(())
}
