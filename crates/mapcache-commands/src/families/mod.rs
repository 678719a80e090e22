//! One file per command family; each exports a `COMMANDS` slice sorted by name.

pub mod connection;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod server;
pub mod strings;

use crate::table::Command;

/// Every family's table; [`crate::table::all`] merges and sorts them once.
pub(crate) const ALL: &[&[Command]] = &[
    connection::COMMANDS,
    hashes::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    server::COMMANDS,
    strings::COMMANDS,
];
