//! MULTI, EXEC and DISCARD, as Redis 7.0 answers them.
//!
//! After MULTI a connection's commands are checked (known, arity, authentication) and
//! queued, each answered `+QUEUED` ([`crate::queue_in_transaction`]); a command that
//! fails that check is answered its error and marks the transaction, and EXEC then
//! answers `-EXECABORT` and runs nothing. EXEC runs the queue in one exclusive section
//! of the store (`Store::exclusive`): no other client's command, HTTP request or sweep
//! is seen between its commands, whichever keys and databases they touch. A command
//! that fails when it runs answers its error inside EXEC's array; the others still
//! run, as in Redis. WATCH marks keys whose change before EXEC makes EXEC answer a
//! null array and run nothing ([`crate::watch`]); EXEC, DISCARD and UNWATCH end it.

use bytes::Bytes;

use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "transactions",
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
    cmd("discard", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, "2.0.0", "Discard all commands issued after MULTI", discard),
    cmd("exec", 1, NOSCRIPT | LOADING | STALE, "1.2.0", "Execute all commands issued after MULTI", exec),
    cmd("multi", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, "1.2.0", "Mark the start of a transaction block", multi),
    cmd("unwatch", 1, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, "2.2.0", "Forget about all watched keys", unwatch),
    Command { keys: (1, -1, 1), ..cmd("watch", -2, NOSCRIPT | LOADING | STALE | FAST | ALLOW_BUSY, "2.2.0", "Watch the given keys to determine execution of the MULTI/EXEC block", watch) },
];

/// A connection's open transaction.
#[derive(Debug, Default)]
pub struct Transaction {
    /// The queued commands, name first.
    pub queue: Vec<Vec<Bytes>>,
    /// A queued command was refused: EXEC answers EXECABORT.
    pub aborted: bool,
}

fn multi(c: &mut Ctx<'_>) -> CmdResult {
    if c.session.transaction.is_some() {
        return Err(CmdError::Static("ERR MULTI calls can not be nested"));
    }
    c.session.transaction = Some(Transaction::default());
    c.out.ok();
    Ok(())
}

fn discard(c: &mut Ctx<'_>) -> CmdResult {
    if c.session.transaction.take().is_none() {
        return Err(CmdError::Static("ERR DISCARD without MULTI"));
    }
    c.session.watch = None;
    c.out.ok();
    Ok(())
}

fn watch(c: &mut Ctx<'_>) -> CmdResult {
    if c.session.transaction.is_some() {
        return Err(CmdError::Static("ERR WATCH inside MULTI is not allowed"));
    }
    let shared = c.shared;
    let db = c.selected();
    for key in &c.args[1..] {
        let root = db.addressing().split(key).0;
        shared
            .watches
            .watch(shared.store.feed(), &mut c.session.watch, db.name(), root);
    }
    c.out.ok();
    Ok(())
}

fn unwatch(c: &mut Ctx<'_>) -> CmdResult {
    c.session.watch = None;
    c.out.ok();
    Ok(())
}

fn exec(c: &mut Ctx<'_>) -> CmdResult {
    let Some(tx) = c.session.transaction.take() else {
        return Err(CmdError::Static("ERR EXEC without MULTI"));
    };
    // EXEC ends the watch, whatever it answers.
    let watched = c.session.watch.take();
    // Redis refuses EXEC over the memory limit when a queued command may grow memory
    // (the commands themselves are not checked again as they run).
    if tx
        .queue
        .iter()
        .any(|args| crate::lookup(&args[0]).is_some_and(|cmd| cmd.has(DENYOOM)))
        && !crate::memory_ok(c.shared)
    {
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of: OOM command not allowed when used memory > 'maxmemory'.",
        ));
    }
    if tx.aborted {
        return Err(CmdError::Static(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    let (shared, session, out) = (c.shared, &mut *c.session, &mut *c.out);
    shared.store.exclusive(|| {
        // Checked inside the section: no change can come between this and the queue.
        if watched.as_ref().is_some_and(|w| w.flag.is_dirty()) {
            out.null_array();
            return;
        }
        out.array(tx.queue.len());
        session.memory_checked = true;
        for args in &tx.queue {
            crate::run_and_feed(shared, session, args, out);
        }
        session.memory_checked = false;
    });
    Ok(())
}
