//! Commands across databases and replicas: MOVE, SWAPDB and WAIT.
//!
//! SWAPDB exchanges the contents of two databases inside the store's exclusive section
//! (no client sees one swapped and the other not) by replacing each with the other's
//! entries; each replacement reports `Cleared` on the write feed, so WATCH on either
//! database is invalidated, as Redis invalidates watched keys of swapped databases.
//! It costs a copy of both databases, where Redis swaps two pointers.

use mapcache_store::ExportedEntry;

use crate::args;
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "move", arity: 3, flags: WRITE | FAST, keys: (1, 1, 1), group: "generic", since: "1.0.0",
        summary: "Move a key to another database", handler: move_, subcommands: &[],
    },
    Command {
        name: "swapdb", arity: 3, flags: WRITE | FAST, keys: (0, 0, 0), group: "server", since: "4.0.0",
        summary: "Swaps two Redis databases", handler: swapdb, subcommands: &[],
    },
    Command {
        name: "wait", arity: 3, flags: NOSCRIPT, keys: (0, 0, 0), group: "generic", since: "3.0.0",
        summary: "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        handler: wait, subcommands: &[],
    },
];

/// A database index as Redis's `getIntFromObjectOrReply` reads it.
fn db_index(arg: &[u8], out_of_int: CmdError, bad: CmdError) -> Result<i64, CmdError> {
    let n = args::int(arg).map_err(|_| bad)?;
    if i32::try_from(n).is_err() {
        return Err(out_of_int);
    }
    Ok(n)
}

fn existing_db(c: &Ctx<'_>, n: i64) -> Option<usize> {
    usize::try_from(n)
        .ok()
        .filter(|&n| n < c.shared.store.databases())
}

/// MOVE key db: 1 when moved (with its TTL), 0 when the key is missing here or exists
/// there.
fn move_(c: &mut Ctx<'_>) -> CmdResult {
    let n = db_index(
        &c.args[2],
        CmdError::Static(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ),
        CmdError::NotInteger,
    )?;
    // A named cache (SELECT name, map-cache key modes) has no database number.
    if c.named.is_some() {
        return Err(CmdError::Static(
            "ERR MOVE is not supported while a named cache is selected",
        ));
    }
    let src = c.session.db;
    let dst = existing_db(c, n).ok_or(CmdError::DbIndexOutOfRange)?;
    if src == dst {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    let key = &c.args[1][..];
    let moved = c
        .shared
        .store
        .update_two((src, key), (dst, key), |from, to| {
            if !from.exists() || to.exists() {
                return false;
            }
            match from.remove() {
                Some(entry) => {
                    to.insert_entry(entry);
                    true
                }
                None => false,
            }
        })?;
    c.out.integer(i64::from(moved));
    Ok(())
}

/// SWAPDB a b: the two databases exchange their keys (see the module's comment).
fn swapdb(c: &mut Ctx<'_>) -> CmdResult {
    let a = db_index(
        &c.args[1],
        CmdError::Static("ERR invalid first DB index"),
        CmdError::Static("ERR invalid first DB index"),
    )?;
    let b = db_index(
        &c.args[2],
        CmdError::Static("ERR invalid second DB index"),
        CmdError::Static("ERR invalid second DB index"),
    )?;
    let (Some(a), Some(b)) = (existing_db(c, a), existing_db(c, b)) else {
        return Err(CmdError::DbIndexOutOfRange);
    };
    if a != b {
        let store = &c.shared.store;
        let now = c.now;
        store.exclusive(|| {
            let (Some(da), Some(db)) = (store.db(a), store.db(b)) else {
                return;
            };
            let ea = export(da, now);
            let eb = export(db, now);
            da.replace_all(eb, now);
            db.replace_all(ea, now);
        });
    }
    c.out.ok();
    Ok(())
}

fn export(db: &mapcache_store::Db, now: mapcache_expiry::UnixMillis) -> Vec<ExportedEntry> {
    let mut all = Vec::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, deadline, nested| {
            all.push((
                bytes::Bytes::copy_from_slice(key),
                value.clone(),
                deadline,
                nested.to_vec(),
            ));
        });
    }
    all
}

/// WAIT numreplicas timeout: there are no replicas, so 0 at once (after Redis's checks
/// of both arguments, timeout first).
fn wait(c: &mut Ctx<'_>) -> CmdResult {
    let timeout = args::int(&c.args[2])
        .map_err(|_| CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    args::int(&c.args[1])?;
    c.out.integer(0);
    Ok(())
}
