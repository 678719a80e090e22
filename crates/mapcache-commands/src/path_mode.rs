//! The command layer of path key mode (`--key-mode path`, docs/key-modes.md).
//!
//! The store does the addressing ([`mapcache_store::path`]): in path mode every
//! `Db::get`/`update`/... call splits its key into a root and a path, so handlers are
//! unchanged. What is left for this layer, run by `dispatch` only when the store is in
//! path mode and the command has keys:
//! - [`precheck`]: refusals decided from the command alone (RENAME and COPY on nested
//!   paths) and, for multi-key writes, the blocked paths, before the
//!   handler changes anything;
//! - [`fault_error`]: the error a write refused by the store ([`PathFault`]) answers in
//!   place of the handler's reply.

use std::collections::HashSet;

use bytes::Bytes;
use mapcache_expiry::UnixMillis;
use mapcache_store::path::{self, PathFault, MAX_DEPTH};
use mapcache_store::Db;

use crate::error::CmdError;
use crate::table::{flags, Command};

/// RENAME, RENAMENX and COPY of a nested path.
pub const NESTED_MOVE: &str = "ERR RENAME and COPY of a nested path are not supported yet";

/// The argument positions of `cmd`'s keys (Redis's first, last, step; a negative last
/// counts from the end).
pub fn key_positions(cmd: &Command, argc: usize) -> impl Iterator<Item = usize> {
    let (first, last, step) = cmd.keys;
    let argc = argc as isize;
    let last = if last < 0 {
        argc + last as isize
    } else {
        last as isize
    };
    let first = (first as isize).max(1);
    (first..=last.min(argc - 1))
        .step_by(step.max(1) as usize)
        .map(|i| i as usize)
}

fn is_nested(key: &[u8]) -> bool {
    path::split(key, path::SEP).1.is_some()
}

/// `ERR path '<key>' crosses a non-object value at '<prefix>'`
pub fn blocked_error(key: &[u8], at: usize) -> CmdError {
    let prefix = &key[..at.min(key.len())];
    CmdError::raw(&[
        b"ERR path '",
        key,
        b"' crosses a non-object value at '",
        prefix,
        b"'",
    ])
}

/// The error a refused write answers.
pub fn fault_error(fault: PathFault) -> CmdError {
    match fault {
        PathFault::Blocked { key, at } => blocked_error(&key, at),
        PathFault::TooDeep { key } => CmdError::raw(&[
            b"ERR path '",
            &key,
            b"' has more than 128 segments below its root",
        ]),
    }
}

/// Refusals known before the handler runs.
pub fn precheck(db: &Db, cmd: &Command, args: &[Bytes], now: UnixMillis) -> Result<(), CmdError> {
    let refusal = match cmd.name {
        "rename" | "renamenx" | "copy" => Some(NESTED_MOVE),
        _ => None,
    };
    if let Some(text) = refusal {
        if key_positions(cmd, args.len()).any(|i| is_nested(&args[i])) {
            return Err(CmdError::Static(text));
        }
    }
    // A multi-key write must not stop half way at a blocked path: check every key
    // first, against the store and against the keys written before it by the same
    // command (MSET a x a:b y). Best effort under concurrent writers: should another
    // client block a path between this check and the write, the store still refuses
    // that write (changing nothing at that key) and its fault is answered.
    if cmd.has(flags::DENYOOM) && key_positions(cmd, args.len()).nth(1).is_some() {
        let mut earlier: HashSet<&[u8]> = HashSet::new();
        for i in key_positions(cmd, args.len()) {
            let key = &args[i][..];
            if let Some(at) = db.path_blocked_at(key, now) {
                return Err(blocked_error(key, at));
            }
            if path::split(key, path::SEP)
                .1
                .is_some_and(|rest| path::depth(rest, path::SEP) > MAX_DEPTH)
            {
                return Err(fault_error(PathFault::TooDeep {
                    key: args[i].clone(),
                }));
            }
            let prefixes = key.iter().enumerate().filter(|&(_, &b)| b == path::SEP);
            for (at, _) in prefixes {
                if earlier.contains(&key[..at]) {
                    return Err(blocked_error(key, at));
                }
            }
            earlier.insert(key);
        }
    }
    Ok(())
}
