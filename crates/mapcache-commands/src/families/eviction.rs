//! What eviction shows of itself: the handlers of OBJECT FREQ and OBJECT IDLETIME (a
//! key's access stamp, `mapcache_store::evict::access`; the OBJECT table is in
//! `object.rs`) and CLIENT NO-EVICT (accepted: client buffers are never evicted here,
//! so every client is already "no-evict").

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
    crate::table::cmd("generic", name, arity, flags, keys, since, summary, handler)
}

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

/// OBJECT FREQ (listed with OBJECT's other subcommands in `object.rs`).
pub(crate) fn object_freq(c: &mut Ctx<'_>) -> CmdResult {
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

/// OBJECT IDLETIME (listed in `object.rs`).
pub(crate) fn object_idletime(c: &mut Ctx<'_>) -> CmdResult {
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

fn client_no_evict(c: &mut Ctx<'_>) -> CmdResult {
    if !(is(c.arg(2), "on") || is(c.arg(2), "off")) {
        return Err(CmdError::Syntax);
    }
    c.out.ok();
    Ok(())
}
