//! Connection commands: PING ECHO QUIT AUTH HELLO SELECT RESET CLIENT (KILL, PAUSE,
//! UNPAUSE, REPLY, NO-TOUCH and RESET's handlers are in `client_control.rs`).

use std::sync::atomic::Ordering;

use bytes::Bytes;
use mapcache_resp::Version;

use crate::args::{self, is};
use crate::error::{truncate, CmdError, CmdResult};
use crate::families::client_control;
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "connection",
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
        "auth",
        -2,
        NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
        "Authenticate to the server",
        auth,
    ),
    Command {
        subcommands: CLIENT_SUBCOMMANDS,
        ..cmd(
            "client",
            -2,
            0,
            "A container for client connection commands",
            client_help,
        )
    },
    Command {
        since: "1.0.0",
        ..cmd("echo", 2, FAST, "Echo the given string", echo)
    },
    Command {
        since: "6.0.0",
        ..cmd(
            "hello",
            -1,
            NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
            "Handshake with Redis",
            hello,
        )
    },
    cmd("ping", -1, FAST, "Ping the server", ping),
    Command {
        since: "6.2.0",
        ..cmd(
            "reset",
            1,
            NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY,
            "Reset the connection",
            client_control::reset,
        )
    },
    cmd(
        "quit",
        -1,
        ALLOW_BUSY | NOSCRIPT | LOADING | STALE | FAST | NO_AUTH,
        "Close the connection",
        quit,
    ),
    cmd(
        "select",
        2,
        LOADING | STALE | FAST,
        "Change the selected database for the current connection",
        select,
    ),
];

const CLIENT_SUBCOMMANDS: &[Command] = &[
    Command {
        since: "2.6.9",
        ..cmd(
            "getname",
            2,
            NOSCRIPT | LOADING | STALE,
            "Get the current connection name",
            client_getname,
        )
    },
    Command {
        since: "5.0.0",
        ..cmd(
            "help",
            2,
            LOADING | STALE,
            "Show helpful text about the different subcommands",
            client_help,
        )
    },
    Command {
        since: "5.0.0",
        ..cmd(
            "id",
            2,
            NOSCRIPT | LOADING | STALE,
            "Returns the client ID for the current connection",
            client_id,
        )
    },
    Command {
        since: "6.2.0",
        ..cmd(
            "info",
            2,
            NOSCRIPT | LOADING | STALE,
            "Returns information about the current client connection.",
            client_info,
        )
    },
    Command {
        since: "2.4.0",
        ..cmd(
            "kill",
            -3,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Kill the connection of a client",
            client_control::client_kill,
        )
    },
    Command {
        since: "2.4.0",
        ..cmd(
            "list",
            -2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Get the list of client connections",
            client_list,
        )
    },
    super::eviction::CLIENT_NO_EVICT,
    Command {
        since: "7.2.0",
        ..cmd(
            "no-touch",
            3,
            NOSCRIPT | LOADING | STALE,
            "Controls whether commands sent by the client will alter the LRU/LFU of the keys they access.",
            client_control::client_no_touch,
        )
    },
    Command {
        since: "2.9.50",
        ..cmd(
            "pause",
            -3,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Stop processing commands from clients for some time",
            client_control::client_pause,
        )
    },
    Command {
        since: "3.2.0",
        ..cmd(
            "reply",
            3,
            NOSCRIPT | LOADING | STALE,
            "Instruct the server whether to reply to commands",
            client_control::client_reply,
        )
    },
    Command {
        since: "7.2.0",
        ..cmd(
            "setinfo",
            4,
            NOSCRIPT | LOADING | STALE,
            "Set client or connection specific info",
            client_setinfo,
        )
    },
    Command {
        since: "2.6.9",
        ..cmd(
            "setname",
            3,
            NOSCRIPT | LOADING | STALE,
            "Set the current connection name",
            client_setname,
        )
    },
    Command {
        since: "6.2.0",
        ..cmd(
            "unpause",
            2,
            ADMIN | NOSCRIPT | LOADING | STALE,
            "Resume processing of clients that were paused",
            client_control::client_unpause,
        )
    },
];

fn ping(c: &mut Ctx<'_>) -> CmdResult {
    match c.args.len() {
        1 => c.out.simple(b"PONG"),
        2 => c.out.bulk(&c.args[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(c: &mut Ctx<'_>) -> CmdResult {
    c.out.bulk(&c.args[1]);
    Ok(())
}

fn quit(c: &mut Ctx<'_>) -> CmdResult {
    c.out.ok();
    c.session.close = true;
    Ok(())
}

fn select(c: &mut Ctx<'_>) -> CmdResult {
    if c.shared.config.read().key_mode.is_map_cache() {
        return select_cache(c);
    }
    // Redis parses a C int: non-integers and integers outside i32 fail differently.
    let n = args::int(&c.args[1])?;
    let n = i32::try_from(n).map_err(|_| {
        CmdError::Static("ERR value is out of range, value must between -2147483648 and 2147483647")
    })?;
    let n = usize::try_from(n).map_err(|_| CmdError::DbIndexOutOfRange)?;
    if n >= c.shared.store.databases() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    c.session.db = n;
    c.session.cache = None;
    c.session.client.db.store(n, Ordering::Relaxed);
    c.out.ok();
    Ok(())
}

/// SELECT in the map-cache key modes, as the Go server reads it: `0` is the cache
/// `RESP_DEFAULT_CACHE` names, any other argument the name of a cache (a numbered
/// database's name, `1` ... `15`, or a named cache), which must exist (Go accepts any
/// name and fails the next command with the same error).
fn select_cache(c: &mut Ctx<'_>) -> CmdResult {
    const NOT_FOUND: CmdError = CmdError::Static("ERR cache not found");
    let name = if &c.args[1][..] == b"0" {
        c.shared.config.read().default_cache.clone()
    } else {
        String::from_utf8(c.args[1].to_vec()).map_err(|_| NOT_FOUND)?
    };
    match c.shared.store.cache(&name).ok_or(NOT_FOUND)? {
        mapcache_store::CacheRef::Numbered(i, _) => {
            c.session.db = i;
            c.session.cache = None;
            c.session.client.db.store(i, Ordering::Relaxed);
        }
        mapcache_store::CacheRef::Named(_) => {
            c.session.db = 0;
            c.session.cache = Some(name);
        }
    }
    c.out.ok();
    Ok(())
}

const WRONGPASS: CmdError =
    CmdError::Static("WRONGPASS invalid username-password pair or user is disabled.");

/// Checks a username/password pair against `requirepass` (the only user is `default`).
fn check_password(c: &Ctx<'_>, user: &[u8], pass: &[u8]) -> Result<(), CmdError> {
    let config = c.shared.config.read();
    let ok = user == b"default"
        && match &config.requirepass {
            None => true,
            Some(p) => constant_time_eq(p, pass),
        };
    if ok {
        Ok(())
    } else {
        Err(WRONGPASS)
    }
}

/// Compares without an early exit, so timing does not leak how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn auth(c: &mut Ctx<'_>) -> CmdResult {
    let (user, pass): (&[u8], &[u8]) = match c.args.len() {
        2 => {
            if c.shared.config.read().requirepass.is_none() {
                return Err(CmdError::Static(
                    "ERR AUTH <password> called without any password configured for the default user. \
                     Are you sure your configuration is correct?",
                ));
            }
            (b"default", &c.args[1])
        }
        3 => (&c.args[1], &c.args[2]),
        _ => return Err(CmdError::Syntax),
    };
    check_password(c, user, pass)?;
    c.session.authenticated = true;
    c.out.ok();
    Ok(())
}

fn hello(c: &mut Ctx<'_>) -> CmdResult {
    let mut version = None;
    let mut i = 1;
    if c.args.len() > 1 {
        let v = args::int(&c.args[1]).map_err(|_| {
            CmdError::Static("ERR Protocol version is not an integer or out of range")
        })?;
        version = Some(match v {
            2 => Version::Resp2,
            3 => Version::Resp3,
            _ => return Err(CmdError::Static("NOPROTO unsupported protocol version")),
        });
        i = 2;
    }
    let mut auth: Option<(&Bytes, &Bytes)> = None;
    let mut setname: Option<&Bytes> = None;
    while i < c.args.len() {
        let more = c.args.len() - i - 1;
        if is(&c.args[i], "auth") && more >= 2 {
            auth = Some((&c.args[i + 1], &c.args[i + 2]));
            i += 3;
        } else if is(&c.args[i], "setname") && more >= 1 {
            setname = Some(&c.args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::raw(&[
                b"ERR Syntax error in HELLO option '",
                truncate(&c.args[i], 128),
                b"'",
            ]));
        }
    }
    if let Some((user, pass)) = auth {
        check_password(c, user, pass)?;
        c.session.authenticated = true;
    }
    if !c.session.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> \
             AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol \
             version at the same time",
        ));
    }
    if let Some(name) = setname {
        validate_client_name(name)?;
        c.session.client.names.lock().name = (!name.is_empty()).then(|| name.clone());
    }
    if let Some(v) = version {
        c.out.version = v;
        c.session
            .client
            .resp
            .store(if v == Version::Resp3 { 3 } else { 2 }, Ordering::Relaxed);
    }
    let out = &mut *c.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(c.shared.info.version.as_bytes());
    out.bulk(b"proto");
    out.integer(if out.version == Version::Resp3 { 3 } else { 2 });
    out.bulk(b"id");
    out.integer(c.session.client.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn validate_client_name(name: &[u8]) -> Result<(), CmdError> {
    if name.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::Static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

fn client_id(c: &mut Ctx<'_>) -> CmdResult {
    c.out.integer(c.session.client.id as i64);
    Ok(())
}

fn client_setname(c: &mut Ctx<'_>) -> CmdResult {
    let name = &c.args[2];
    validate_client_name(name)?;
    c.session.client.names.lock().name = (!name.is_empty()).then(|| name.clone());
    c.out.ok();
    Ok(())
}

fn client_getname(c: &mut Ctx<'_>) -> CmdResult {
    match c.session.client.names.lock().name.clone() {
        Some(n) => c.out.bulk(&n),
        None => c.out.null(),
    }
    Ok(())
}

/// CLIENT SETINFO (Redis 7.2; go-redis and redis-py send it in their handshake).
fn client_setinfo(c: &mut Ctx<'_>) -> CmdResult {
    let value = &c.args[3];
    if value.iter().any(|&b| !(b'!'..=b'~').contains(&b)) {
        return Err(CmdError::Owned(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            crate::error::truncate_lossy(&c.args[2], 64)
        )));
    }
    let v = (!value.is_empty()).then(|| value.clone());
    let mut names = c.session.client.names.lock();
    if is(&c.args[2], "lib-name") {
        names.lib_name = v;
    } else if is(&c.args[2], "lib-ver") {
        names.lib_ver = v;
    } else {
        return Err(CmdError::raw(&[
            b"ERR Unrecognized option '",
            truncate(&c.args[2], 128),
            b"'",
        ]));
    }
    drop(names);
    c.out.ok();
    Ok(())
}

/// The bytes of `args` as a RESP multibulk (the running command's `qbuf`).
fn query_len(args: &[Bytes]) -> usize {
    let digits = |n: usize| n.to_string().len();
    3 + digits(args.len())
        + args
            .iter()
            .map(|a| 5 + digits(a.len()) + a.len())
            .sum::<usize>()
}

fn client_info(c: &mut Ctx<'_>) -> CmdResult {
    let mut line = c.session.client.describe_with(query_len(c.args));
    line.push('\n');
    c.out.verbatim(b"txt", line.as_bytes());
    Ok(())
}

fn client_list(c: &mut Ctx<'_>) -> CmdResult {
    // CLIENT LIST [TYPE normal|master|replica|pubsub] [ID id [id ...]]
    let mut ids: Option<Vec<u64>> = None;
    let mut only_normal = true;
    let mut i = 2;
    while i < c.args.len() {
        if is(&c.args[i], "type") && i + 1 < c.args.len() {
            let t = &c.args[i + 1];
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|w| is(t, w))
            {
                return Err(CmdError::raw(&[
                    b"ERR Unknown client type '",
                    truncate(t, 128),
                    b"'",
                ]));
            }
            only_normal = is(t, "normal");
            i += 2;
        } else if is(&c.args[i], "id") && i + 1 < c.args.len() {
            let mut v = Vec::new();
            for a in &c.args[i + 1..] {
                let id = args::int(a)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or(CmdError::Static("ERR Invalid client ID"))?;
                v.push(id as u64);
            }
            ids = Some(v);
            i = c.args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut text = String::new();
    if only_normal {
        let me = c.session.client.id;
        for client in c.shared.clients.snapshot() {
            if ids.as_ref().is_none_or(|v| v.contains(&client.id)) {
                let qbuf = if client.id == me {
                    query_len(c.args)
                } else {
                    0
                };
                text.push_str(&client.describe_with(qbuf));
                text.push('\n');
            }
        }
    }
    c.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn client_help(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 1 {
        return Err(CmdError::WrongArity("client".into()));
    }
    const LINES: &[&str] = &[
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "    * MAXAGE <maxage>",
        "      Kill connections older than the specified age.",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "    * ID <client-id> [<client-id> ...]",
        "      Return clients of specified IDs only.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "SETINFO <option> <value>",
        "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
        "NO-TOUCH (ON|OFF)",
        "    Will not touch LRU/LFU stats when this mode is on.",
        "HELP",
        "    Print this help.",
    ];
    c.out.array(LINES.len());
    for l in LINES {
        c.out.simple(l.as_bytes());
    }
    Ok(())
}
