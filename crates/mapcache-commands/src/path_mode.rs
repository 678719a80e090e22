//! The command layer of the path key modes (`--key-mode path` and `preserve`,
//! docs/key-modes.md).
//!
//! The store does the addressing ([`mapcache_store::path`]): in path mode every
//! `Db::get`/`update`/... call splits its key into a root and a path, so handlers are
//! unchanged. What is left for this layer, run by `dispatch` only when the store is in
//! path mode and the command has keys:
//! - [`precheck`]: refusals decided from the command alone (RENAME and COPY on nested
//!   paths), before the handler changes anything;
//! - [`fault_error`]: the error a write refused by the store ([`PathFault`]) answers in
//!   place of the handler's reply. The store refuses such a write without changing
//!   anything, and a multi-key write all or nothing (`Db::update_many`), so a
//!   handler simply passes the fault on with `?`.

use bytes::Bytes;
use mapcache_store::path::{self, PathFault};
use mapcache_store::Addressing;

use crate::error::CmdError;
use crate::table::Command;

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

fn is_nested(key: &[u8], sep: u8) -> bool {
    path::split(key, sep).1.is_some()
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
        PathFault::NoSuchIndex { key, at } => CmdError::raw(&[
            b"ERR path '",
            &key,
            b"' addresses an item past the end of the array at '",
            &key[..at.min(key.len())],
            b"'",
        ]),
    }
}

impl From<PathFault> for CmdError {
    fn from(fault: PathFault) -> Self {
        fault_error(fault)
    }
}

/// Refusals known before the handler runs (`addressing`: the key mode's).
pub fn precheck(cmd: &Command, args: &[Bytes], addressing: Addressing) -> Result<(), CmdError> {
    let Addressing::Path(sep) = addressing else {
        return Ok(());
    };
    let refusal = match cmd.name {
        "rename" | "renamenx" | "copy" | "move" => Some(NESTED_MOVE),
        _ => None,
    };
    if let Some(text) = refusal {
        if key_positions(cmd, args.len()).any(|i| is_nested(&args[i], sep)) {
            return Err(CmdError::Static(text));
        }
    }
    Ok(())
}
