//! The command table: name, arity (Redis's sign convention), flags, key positions and
//! handler of every command, one sorted static slice per family, merged once.

use std::sync::OnceLock;

use crate::error::CmdResult;
use crate::{families, Ctx};

/// A command handler: parses every argument before it touches the store.
pub type Handler = fn(&mut Ctx<'_>) -> CmdResult;

/// Command flags, as `COMMAND INFO` names them.
pub mod flags {
    pub const WRITE: u16 = 1 << 0;
    pub const READONLY: u16 = 1 << 1;
    pub const DENYOOM: u16 = 1 << 2;
    pub const ADMIN: u16 = 1 << 3;
    pub const NOSCRIPT: u16 = 1 << 4;
    pub const LOADING: u16 = 1 << 5;
    pub const STALE: u16 = 1 << 6;
    pub const FAST: u16 = 1 << 7;
    /// Allowed before AUTH when a password is set.
    pub const NO_AUTH: u16 = 1 << 8;
    pub const ALLOW_BUSY: u16 = 1 << 9;
    /// Not shown to MONITOR after it ran: scripts show themselves before their
    /// commands (EVAL, FCALL and their variants, as Redis).
    pub const SKIP_MONITOR: u16 = 1 << 10;

    /// Flag bits with the names `COMMAND INFO` prints, in Redis's order.
    pub const NAMES: &[(u16, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// One command (or one subcommand of a container such as CLIENT).
#[derive(Debug)]
pub struct Command {
    /// Lowercase name (`get`; `setname` for a subcommand).
    pub name: &'static str,
    /// Redis's arity: `n > 0` exactly n arguments (name included), `-n` at least n.
    pub arity: i16,
    pub flags: u16,
    /// Key positions: first, last (negative counts from the end), step. 0,0,0: no keys.
    pub keys: (i8, i8, i8),
    /// `string`, `generic`, `hash`, `list`, `connection` or `server`.
    pub group: &'static str,
    pub since: &'static str,
    pub summary: &'static str,
    pub handler: Handler,
    /// For containers (CLIENT, COMMAND, CONFIG): the subcommands, sorted by name.
    pub subcommands: &'static [Command],
}

/// A table entry without subcommands: the one constructor the families' own short
/// `cmd` helpers (each fixing its group and what its commands share) call.
#[allow(clippy::too_many_arguments)]
pub(crate) const fn cmd(
    group: &'static str,
    name: &'static str,
    arity: i16,
    flags: u16,
    keys: (i8, i8, i8),
    since: &'static str,
    summary: &'static str,
    handler: Handler,
) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        group,
        since,
        summary,
        handler,
        subcommands: &[],
    }
}

impl Command {
    pub fn has(&self, flag: u16) -> bool {
        self.flags & flag != 0
    }

    /// Does `argc` (name included) satisfy the arity?
    pub fn arity_ok(&self, argc: usize) -> bool {
        let a = self.arity as isize;
        let argc = argc as isize;
        if a >= 0 {
            argc == a
        } else {
            argc >= -a
        }
    }
}

/// Every top-level command, sorted by name.
pub fn all() -> &'static [&'static Command] {
    static ALL: OnceLock<Vec<&'static Command>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v: Vec<&'static Command> = families::ALL.iter().flat_map(|f| f.iter()).collect();
        v.sort_unstable_by_key(|c| c.name);
        v
    })
}

/// Case-insensitive lookup without allocating.
///
/// Every command name fits 16 bytes: the name is lowercased into a `u128` and
/// binary-searched among the packed names with integer compares (perf showed the
/// byte-slice binary search's memcmp calls at several percent of a GET).
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    static PACKED: OnceLock<Vec<(u128, &'static Command)>> = OnceLock::new();
    let packed = PACKED.get_or_init(|| {
        let mut v: Vec<(u128, &'static Command)> = all()
            .iter()
            .map(|c| {
                (
                    pack(c.name.as_bytes()).expect("command names fit 16 bytes"),
                    *c,
                )
            })
            .collect();
        v.sort_unstable_by_key(|e| e.0);
        v
    });
    let key = pack(name)?;
    packed
        .binary_search_by_key(&key, |e| e.0)
        .ok()
        .map(|i| packed[i].1)
}

/// A name of at most 16 bytes, lowercased, as one integer (`None` when longer). Two
/// names pack equal only when equal: the length goes into the last byte.
#[inline]
fn pack(name: &[u8]) -> Option<u128> {
    if name.len() > 15 {
        return None;
    }
    let mut buf = [0u8; 16];
    for (o, c) in buf.iter_mut().zip(name) {
        *o = c.to_ascii_lowercase();
    }
    buf[15] = name.len() as u8;
    Some(u128::from_le_bytes(buf))
}

/// Case-insensitive lookup of a subcommand of `container`.
pub fn lookup_sub(container: &Command, name: &[u8]) -> Option<&'static Command> {
    let mut buf = [0u8; 32];
    let lower = lowercase(name, &mut buf)?;
    container
        .subcommands
        .binary_search_by(|c| c.name.as_bytes().cmp(lower))
        .ok()
        .map(|i| &container.subcommands[i])
}

fn lowercase<'b>(name: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let out = buf.get_mut(..name.len())?;
    for (o, c) in out.iter_mut().zip(name) {
        *o = c.to_ascii_lowercase();
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_found_in_any_case() {
        let all = all();
        for w in all.windows(2) {
            assert!(w[0].name < w[1].name, "{} before {}", w[0].name, w[1].name);
        }
        for c in all {
            assert_eq!(
                lookup(c.name.to_ascii_uppercase().as_bytes()).map(|x| x.name),
                Some(c.name)
            );
            for w in c.subcommands.windows(2) {
                assert!(
                    w[0].name < w[1].name,
                    "{}: {} before {}",
                    c.name,
                    w[0].name,
                    w[1].name
                );
            }
        }
        assert!(lookup(b"no-such-command").is_none());
        assert!(lookup(&[b'a'; 40]).is_none());
    }
}
