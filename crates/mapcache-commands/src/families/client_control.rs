//! Commands that act on connections rather than data: CLIENT KILL, PAUSE, UNPAUSE,
//! REPLY, NO-TOUCH (subcommands of CLIENT, whose table is in `connection.rs`), RESET
//! and MONITOR.
//!
//! KILL marks the target [`crate::ClientInfo`] killed and wakes its task through the
//! waker the server installed; PAUSE sets a deadline in [`crate::Clients`] that the
//! connection loop checks before each command (one relaxed load while nobody paused);
//! REPLY sets the session's [`ReplyMode`], which [`crate::execute_traced`] applies by
//! dropping the command's reply from the output buffer.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mapcache_resp::Version;

use crate::args::{self, is};
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    Command {
        name: "monitor", arity: 1, flags: ADMIN | NOSCRIPT | LOADING | STALE, keys: (0, 0, 0),
        group: "server", since: "1.0.0",
        summary: "Listen for all requests received by the server in real time",
        handler: monitor, subcommands: &[],
    },
];

/// MONITOR: from now on this client receives a line for every command any client runs
/// ([`crate::Clients::feed_monitors`]); a second MONITOR answers nothing, as in Redis.
fn monitor(c: &mut Ctx<'_>) -> CmdResult {
    let clients = &c.shared.clients;
    if clients.is_monitor(c.session.client.id) {
        return Ok(());
    }
    clients.add_monitor(c.session.client.clone());
    c.out.ok();
    Ok(())
}

/// CLIENT REPLY's state, as Redis's `CLIENT_REPLY_OFF`, `_SKIP` and `_SKIP_NEXT`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReplyMode {
    pub off: bool,
    /// This command's reply is dropped.
    pub skip: bool,
    /// The next command's reply is dropped (set by CLIENT REPLY SKIP).
    pub skip_next: bool,
}

impl ReplyMode {
    /// Anything to do after a command?
    #[inline]
    pub fn active(self) -> bool {
        self.off || self.skip || self.skip_next
    }

    /// After a command: is its reply dropped? Moves SKIP along as Redis does.
    pub fn after_command(&mut self) -> bool {
        let drop = self.off || self.skip;
        self.skip = false;
        if self.skip_next {
            self.skip = true;
            self.skip_next = false;
        }
        drop
    }
}

/// CLIENT REPLY ON|OFF|SKIP: ON answers OK; OFF and SKIP answer nothing.
pub(crate) fn client_reply(c: &mut Ctx<'_>) -> CmdResult {
    let mode = &mut c.session.reply;
    if is(&c.args[2], "on") {
        mode.off = false;
        mode.skip = false;
        c.out.ok();
    } else if is(&c.args[2], "off") {
        mode.off = true;
    } else if is(&c.args[2], "skip") {
        if !mode.off {
            mode.skip_next = true;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

/// CLIENT NO-TOUCH ON|OFF (Redis 7.2): this client's reads leave access times alone.
pub(crate) fn client_no_touch(c: &mut Ctx<'_>) -> CmdResult {
    let on = if is(&c.args[2], "on") {
        true
    } else if is(&c.args[2], "off") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    c.session.client.no_touch.store(on, Ordering::Relaxed);
    c.out.ok();
    Ok(())
}

/// CLIENT PAUSE timeout [WRITE|ALL].
pub(crate) fn client_pause(c: &mut Ctx<'_>) -> CmdResult {
    let all = match c.args.len() {
        3 => true,
        4 if is(&c.args[3], "all") => true,
        4 if is(&c.args[3], "write") => false,
        4 => {
            return Err(CmdError::Static(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
        _ => return Err(CmdError::Syntax),
    };
    let ms = args::int(&c.args[2])
        .map_err(|_| CmdError::Static("ERR timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CmdError::Static("ERR timeout is negative"));
    }
    // A timeout past what an Instant can hold pauses for a century instead.
    let end = Instant::now()
        .checked_add(Duration::from_millis(ms as u64))
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(100 * 365 * 86_400));
    c.shared.clients.pause(end, all);
    c.out.ok();
    Ok(())
}

pub(crate) fn client_unpause(c: &mut Ctx<'_>) -> CmdResult {
    c.shared.clients.unpause();
    c.out.ok();
    Ok(())
}

/// The filters of CLIENT KILL's new form.
#[derive(Default)]
struct KillFilter {
    id: Option<u64>,
    addr: Option<Vec<u8>>,
    laddr: Option<Vec<u8>>,
    /// `None`: any type; `Some(true)`: normal clients (the only kind here).
    normal: Option<bool>,
    user: bool,
    max_age: Option<u64>,
    skip_me: bool,
}

/// CLIENT KILL ip:port (old form: OK or "No such client") or CLIENT KILL with
/// filters (ID, ADDR, LADDR, TYPE, USER, SKIPME, MAXAGE): the number killed.
pub(crate) fn client_kill(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 3 {
        let target = &c.args[2];
        let victim = c
            .shared
            .clients
            .snapshot()
            .into_iter()
            .find(|cl| cl.addr.as_bytes() == &target[..]);
        let Some(victim) = victim else {
            return Err(CmdError::Static("ERR No such client"));
        };
        victim.kill();
        if victim.id != c.session.client.id {
            c.shared.clients.unregister(victim.id);
        }
        c.out.ok();
        return Ok(());
    }
    if c.args.len() % 2 != 0 {
        return Err(CmdError::Syntax);
    }
    let mut f = KillFilter {
        skip_me: true,
        ..KillFilter::default()
    };
    for pair in c.args[2..].chunks(2) {
        let (opt, v) = (&pair[0], &pair[1]);
        if is(opt, "id") {
            let id = args::int(v)
                .ok()
                .filter(|&n| n > 0)
                .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?;
            f.id = Some(id as u64);
        } else if is(opt, "type") {
            f.normal = Some(if is(v, "normal") {
                true
            } else if is(v, "master") || is(v, "slave") || is(v, "replica") || is(v, "pubsub") {
                false
            } else {
                return Err(CmdError::raw(&[
                    b"ERR Unknown client type '",
                    crate::error::truncate(v, 128),
                    b"'",
                ]));
            });
        } else if is(opt, "addr") {
            f.addr = Some(v.to_vec());
        } else if is(opt, "laddr") {
            f.laddr = Some(v.to_vec());
        } else if is(opt, "user") {
            if &v[..] != b"default" {
                return Err(CmdError::raw(&[
                    b"ERR No such user '",
                    crate::error::truncate(v, 128),
                    b"'",
                ]));
            }
            f.user = true;
        } else if is(opt, "skipme") {
            f.skip_me = if is(v, "yes") {
                true
            } else if is(v, "no") {
                false
            } else {
                return Err(CmdError::Syntax);
            };
        } else if is(opt, "maxage") {
            f.max_age = Some(args::int(v)?.max(0) as u64);
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let me = c.session.client.id;
    let mut killed = 0;
    for cl in c.shared.clients.snapshot() {
        let matches = f.id.is_none_or(|id| cl.id == id)
            && f.addr.as_deref().is_none_or(|a| cl.addr.as_bytes() == a)
            && f.laddr.as_deref().is_none_or(|a| cl.laddr.as_bytes() == a)
            && f.normal.is_none_or(|n| n)
            && f.max_age
                .filter(|&a| a != 0)
                .is_none_or(|age| cl.age_secs() > age)
            && !(f.skip_me && cl.id == me)
            && !cl.is_killed();
        if matches {
            cl.kill();
            // Gone from CLIENT LIST and INFO at once, as Redis frees it at once.
            if cl.id != me {
                c.shared.clients.unregister(cl.id);
            }
            killed += 1;
        }
    }
    let _ = f.user;
    c.out.integer(killed);
    Ok(())
}

/// RESET: the connection as a new one would be, as Redis's `clearClientConnectionState`
/// leaves it: no transaction or watch, database 0 (the default cache in the map-cache
/// key modes), RESP2, replies on, no name, not
/// authenticated when a password is set; answers `+RESET`.
pub(crate) fn reset(c: &mut Ctx<'_>) -> CmdResult {
    let s = &mut *c.session;
    s.transaction = None;
    s.watch = None;
    // Database 0, or RESP_DEFAULT_CACHE in the map-cache key modes, as a new connection.
    s.db = 0;
    s.cache = None;
    s.select_default(c.shared);
    s.client.db.store(s.db, Ordering::Relaxed);
    s.reply = ReplyMode::default();
    s.client.no_touch.store(false, Ordering::Relaxed);
    s.client.names.lock().name = None;
    s.authenticated = c.shared.config.read().requirepass.is_none();
    c.out.version = Version::Resp2;
    s.client.resp.store(2, Ordering::Relaxed);
    c.out.simple(b"RESET");
    Ok(())
}
