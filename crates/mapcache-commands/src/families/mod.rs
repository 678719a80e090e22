//! One file per command family; each exports a `COMMANDS` slice sorted by name. The
//! server family keeps COMMAND, CONFIG, INFO and SLOWLOG in a file each under
//! `server/`, with a slice of their own.

pub mod client_control;
pub(crate) mod common;
pub mod connection;
pub mod databases;
pub mod eviction;
pub mod functions;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod object;
pub mod programs;
pub mod scripting;
pub mod server;
pub mod strings;
pub mod transactions;

use crate::table::Command;

/// Every family's table; [`crate::table::all`] merges and sorts them once.
pub(crate) const ALL: &[&[Command]] = &[
    client_control::COMMANDS,
    connection::COMMANDS,
    databases::COMMANDS,
    functions::COMMANDS,
    hashes::COMMANDS,
    keys::COMMANDS,
    lists::COMMANDS,
    object::COMMANDS,
    programs::COMMANDS,
    scripting::COMMANDS,
    server::COMMANDS,
    server::command::COMMANDS,
    server::config::COMMANDS,
    server::info::COMMANDS,
    server::slowlog::COMMANDS,
    strings::COMMANDS,
    transactions::COMMANDS,
];
