//! Server commands: BGSAVE DBSIZE FLUSHALL FLUSHDB LASTSAVE SAVE TIME here; COMMAND,
//! CONFIG, INFO and SLOWLOG each in a file of their own under `server/`.

pub mod acl;
pub mod command;
pub mod config;
pub mod docs;
pub mod info;
pub mod params;
pub mod slowlog;

use crate::args::is;
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

/// A command of the `server` group (this file's and its submodules').
const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "server",
        name,
        arity,
        flags,
        (0, 0, 0),
        "1.0.0",
        summary,
        handler,
    )
}

pub(crate) const COMMANDS: &[Command] = &[
    cmd(
        "bgsave",
        -1,
        ADMIN | NOSCRIPT,
        "Asynchronously save the dataset to disk",
        bgsave,
    ),
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
