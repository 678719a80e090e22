//! The Lua VM: Redis's environment ([`super::sandbox`]), compiled scripts by SHA-1,
//! and running one script against the store with its `redis.call` bound to the
//! caller's connection.

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use mapcache_resp::{encode, Frame, Limits, Version};
use mlua::{
    Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic, VmState,
};

use super::busy::Busy;
use super::convert::{error_table, frame_to_lua, g17, lua_to_reply};
use super::{libs, ScriptFlags};
use crate::table::flags::{NOSCRIPT, WRITE};
use crate::{Reply, Session, Shared};

/// An error a Rust function of the Redis API raises: the text of the `err` field of
/// the table Redis raises (`ERR ...`, `WRONGTYPE ...`). The error handler turns it back
/// into that table.
#[derive(Debug, Clone)]
pub(crate) struct ScriptErr {
    pub text: Vec<u8>,
    /// From a command's own error reply (Redis marks these `ignore_error_stats_update`).
    pub from_command: bool,
}

impl std::fmt::Display for ScriptErr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.text))
    }
}

impl std::error::Error for ScriptErr {}

/// Raises `{err = text}` (text in `luaPushErrorBuff`'s forms: `-CODE msg` or `msg`).
pub(crate) fn raise(text: &[u8]) -> mlua::Error {
    mlua::Error::external(ScriptErr {
        text: normalize_error(text),
        from_command: false,
    })
}

/// `luaPushErrorBuff`'s reading of `-CODE msg` / `msg` into `CODE msg` / `ERR msg`.
pub(crate) fn normalize_error(text: &[u8]) -> Vec<u8> {
    let full: Vec<u8> = if let Some(rest) = text.strip_prefix(b"-") {
        match rest.iter().position(|&c| c == b' ') {
            Some(_) => rest.to_vec(),
            None => [b"ERR ".as_slice(), rest].concat(),
        }
    } else {
        [b"ERR ".as_slice(), text].concat()
    };
    let mut end = full.len();
    while end > 0 && matches!(full[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    full[..end].to_vec()
}

/// The [`ScriptErr`] inside an mlua error, if that is what it is.
fn script_err(e: &mlua::Error) -> Option<&ScriptErr> {
    match e {
        mlua::Error::ExternalError(x) => x.downcast_ref::<ScriptErr>(),
        mlua::Error::CallbackError { cause, .. } => script_err(cause),
        mlua::Error::WithContext { cause, .. } => script_err(cause),
        _ => None,
    }
}

/// Redis's count hook period, in VM instructions.
const HOOK_EVERY: u32 = 100_000;

/// One compiled EVAL script.
#[derive(Debug)]
pub struct Script {
    pub body: Bytes,
    pub flags: ScriptFlags,
    pub(crate) func: Function,
}

/// The VM and what lives in it.
#[derive(Debug)]
pub struct Engine {
    pub(crate) lua: Lua,
    /// The read-only globals scripts run in.
    pub(crate) env: Table,
    pub(crate) invoke: Function,
    pub(crate) handler: Function,
    /// FUNCTION libraries' environment, its load-mode switch, the load API's `redis`.
    pub(crate) fenv: Table,
    pub(crate) set_loading: Function,
    pub(crate) load_redis: Table,
    /// FUNCTION libraries.
    pub libraries: super::functions::Libraries,
    /// The real `redis` table: the running script's `redis.call`, `redis.pcall` and
    /// `redis.setresp` are put in it for the run.
    pub(crate) redis: Table,
    /// EVAL scripts by lowercase hex SHA-1.
    pub scripts: HashMap<String, Script>,
    pub(crate) busy: Arc<Busy>,
}

/// How one run goes: the script's name in errors, read-only, KEYS/ARGV as globals.
#[derive(Debug, Clone, Copy)]
pub struct RunMode<'a> {
    /// The SHA (EVAL) or function name (FCALL) that errors name.
    pub name: &'a str,
    pub read_only: bool,
    /// EVAL: KEYS and ARGV are globals and the function takes no arguments;
    /// FCALL: they are the function's two arguments.
    pub eval: bool,
    /// The script started with the store out of memory and did not declare
    /// `allow-oom`: its first write is refused (Redis's `scriptVerifyOOM`); once it
    /// has written, it runs to its end whatever the memory.
    pub deny_oom: bool,
}

pub(crate) fn install_hook(lua: &Lua, busy: Arc<Busy>, every_line: bool) {
    let triggers = if every_line {
        HookTriggers::new().every_line()
    } else {
        HookTriggers::new().every_nth_instruction(HOOK_EVERY)
    };
    lua.set_hook(triggers, move |lua, _debug| {
        let timed_out = busy
            .load_deadline
            .lock()
            .is_some_and(|d| std::time::Instant::now() > d);
        if timed_out {
            if !every_line {
                install_hook(lua, busy.clone(), true);
            }
            return Err(raise(b"FUNCTION LOAD timeout"));
        }
        if busy.killed.load(Ordering::Acquire) {
            if !every_line {
                // From now on on every line, so that pcall cannot keep the script alive.
                install_hook(lua, busy.clone(), true);
            }
            return Err(mlua::Error::runtime(
                "Script killed by user with SCRIPT KILL...",
            ));
        }
        Ok(VmState::Continue)
    });
}

/// The innermost message of an error raised by Rust code or the VM.
pub(crate) fn error_message(e: &mlua::Error) -> String {
    if let Some(se) = script_err(e) {
        return String::from_utf8_lossy(&se.text).into_owned();
    }
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => error_message(cause),
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::MemoryError(m) => m.clone(),
        other => other.to_string(),
    }
}

/// `tostring(v)` for an error value that is not a table.
fn describe(lua: &Lua, v: &Value) -> Vec<u8> {
    match v {
        Value::Nil => b"nil".to_vec(),
        Value::Boolean(b) => b.to_string().into_bytes(),
        Value::Error(e) => error_message(e).into_bytes(),
        Value::String(_) | Value::Number(_) | Value::Integer(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        other => format!("{}: {:p}", other.type_name(), other.to_pointer()).into_bytes(),
    }
}

/// Redis's `__redis__err__handler`: the error as a table `{err=...}` with the source
/// and line of the script code that raised it (C frames and our own wrappers skipped).
fn handle_error(lua: &Lua, busy: &Busy, err: Value) -> mlua::Result<Table> {
    let t = match err {
        Value::Table(t) => t,
        Value::Error(e) if script_err(&e).is_some() => {
            let se = script_err(&e).cloned().unwrap_or(ScriptErr {
                text: Vec::new(),
                from_command: false,
            });
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(&se.text)?)?;
            if se.from_command {
                t.raw_set("ignore_error_stats_update", true)?;
            }
            t
        }
        other => {
            let msg = if busy.killed.load(Ordering::Acquire) {
                b"Script killed by user with SCRIPT KILL...".to_vec()
            } else {
                describe(lua, &other)
            };
            error_table(lua, &msg)?
        }
    };
    for level in 1..200 {
        let Some(d) = lua.inspect_stack(level) else {
            break;
        };
        let src = d.source();
        let ours = src.source.as_deref() == Some("=mapcache");
        if src.what == "C" || ours {
            continue;
        }
        if let Some(s) = src.source.as_deref() {
            t.raw_set("source", s)?;
        }
        t.raw_set("line", d.curr_line())?;
        break;
    }
    Ok(t)
}

/// Redis's deterministic `math.random` generator (rand.c: drand48's LCG).
#[derive(Debug)]
struct Rand48 {
    x: u64,
}

impl Rand48 {
    const A: u64 = 0x5_DEEC_E66D;
    const MASK: u64 = (1 << 48) - 1;
    fn next(&mut self) -> i32 {
        self.x = (self.x.wrapping_mul(Self::A).wrapping_add(0xB)) & Self::MASK;
        (self.x >> 17) as i32
    }
    fn seed(&mut self, s: i32) {
        self.x = ((s as u32 as u64) << 16) | 0x330E;
    }
}

/// SHA-1 in lowercase hex.
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

impl Engine {
    pub fn new(busy: Arc<Busy>, version: &str) -> mlua::Result<Engine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let g = lua.globals();
        let raw = lua.create_table()?;
        raw.raw_set("version", version)?;
        raw.raw_set("version_num", version_num(version))?;
        raw.raw_set(
            "log",
            lua.create_function(|lua, a: Variadic<Value>| {
                if a.len() < 2 {
                    return Err(raise(b"redis.log() requires two arguments or more."));
                }
                let level = match &a[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(n) => *n,
                    Value::String(s) => match std::str::from_utf8(&s.as_bytes())
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                    {
                        Some(n) => n as i64,
                        None => return Err(raise(b"First argument must be a number (log level).")),
                    },
                    _ => return Err(raise(b"First argument must be a number (log level).")),
                };
                if !(0..=3).contains(&level) {
                    return Err(raise(b"Invalid debug level."));
                }
                let _ = lua;
                Ok(())
            })?,
        )?;
        raw.raw_set(
            "sha1hex",
            lua.create_function(|lua, a: Variadic<Value>| {
                if a.len() != 1 {
                    return Err(raise(b"wrong number of arguments"));
                }
                let bytes = match &a[0] {
                    Value::String(s) => s.as_bytes().to_vec(),
                    v @ (Value::Number(_) | Value::Integer(_)) => describe(lua, v),
                    _ => Vec::new(),
                };
                lua.create_string(sha1_hex(&bytes))
            })?,
        )?;
        raw.raw_set(
            "error_reply",
            lua.create_function(|lua, a: Variadic<Value>| {
                let (1, Some(Value::String(s))) = (a.len(), a.first()) else {
                    return error_table(lua, b"wrong number or type of arguments");
                };
                let b = s.as_bytes();
                if b.first() == Some(&b'-') {
                    error_table(lua, &b)
                } else {
                    error_table(lua, &[b"-".as_slice(), &b].concat())
                }
            })?,
        )?;
        raw.raw_set(
            "status_reply",
            lua.create_function(|lua, a: Variadic<Value>| {
                let (1, Some(Value::String(s))) = (a.len(), a.first()) else {
                    return error_table(lua, b"wrong number or type of arguments");
                };
                let t = lua.create_table()?;
                t.raw_set("ok", s.clone())?;
                Ok(t)
            })?,
        )?;
        raw.raw_set(
            "set_repl",
            lua.create_function(|lua, a: Variadic<Value>| {
                if a.len() != 1 {
                    return Err(raise(b"redis.set_repl() requires two arguments."));
                }
                let flags = match &a[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(n) => *n,
                    _ => 0,
                };
                if flags & !3 != 0 {
                    return Err(raise(b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE."));
                }
                let _ = lua;
                Ok(())
            })?,
        )?;
        raw.raw_set(
            "acl_check_cmd",
            lua.create_function(|lua, a: Variadic<Value>| {
                let name = match a.first() {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    _ => {
                        return Err(raise(
                            b"Please specify at least one argument for this redis lib call",
                        ))
                    }
                };
                let _ = lua;
                if crate::lookup(&name).is_none() {
                    return Err(raise(b"Invalid command passed to redis.acl_check_cmd()"));
                }
                Ok(true)
            })?,
        )?;
        let rng = Arc::new(parking_lot::Mutex::new(Rand48 {
            x: 0x1234_ABCD_330E,
        }));
        let r2 = rng.clone();
        raw.raw_set(
            "random",
            libs::func(&lua, move |_, a: Variadic<Value>| {
                let r = (rng.lock().next() % i32::MAX) as f64 / i32::MAX as f64;
                let int = |v: &Value| -> mlua::Result<f64> {
                    match libs::to_number(v) {
                        Some(n) => Ok((n as i32) as f64),
                        None => Err(mlua::Error::runtime(
                            "bad argument to 'random' (number expected)",
                        )),
                    }
                };
                match a.len() {
                    0 => Ok(r),
                    1 => {
                        let u = int(&a[0])?;
                        if u < 1.0 {
                            return Err(mlua::Error::runtime(
                                "bad argument #1 to 'random' (interval is empty)",
                            ));
                        }
                        Ok((r * u).floor() + 1.0)
                    }
                    2 => {
                        let (l, u) = (int(&a[0])?, int(&a[1])?);
                        if l > u {
                            return Err(mlua::Error::runtime(
                                "bad argument #2 to 'random' (interval is empty)",
                            ));
                        }
                        Ok((r * (u - l + 1.0)).floor() + l)
                    }
                    _ => Err(mlua::Error::runtime("wrong number of arguments")),
                }
            })?,
        )?;
        raw.raw_set(
            "randomseed",
            libs::func(&lua, move |_, a: Variadic<Value>| {
                let s = match a.first().and_then(libs::to_number) {
                    Some(n) => n as i32,
                    None => {
                        return Err(mlua::Error::runtime(
                            "bad argument #1 to 'randomseed' (number expected, got no value)",
                        ))
                    }
                };
                r2.lock().seed(s);
                Ok(())
            })?,
        )?;
        raw.raw_set("cjson", libs::cjson::open(&lua)?)?;
        raw.raw_set("bit", libs::bit::open(&lua)?)?;
        raw.raw_set("cmsgpack", libs::cmsgpack::open(&lua)?)?;
        raw.raw_set("struct", libs::structlib::open(&lua)?)?;
        raw.raw_set(
            "error_text",
            lua.create_function(|lua, v: Value| lua.create_string(describe(lua, &v)))?,
        )?;
        let redis = lua.create_table()?;
        raw.raw_set("redis", redis.clone())?;
        let prelude = lua
            .load(super::sandbox::PRELUDE)
            .set_name("=mapcache")
            .into_function()?;
        let (env, invoke, fenv, set_loading, load_redis): (
            Table,
            Function,
            Table,
            Function,
            Table,
        ) = prelude.call((g, raw))?;
        let b2 = busy.clone();
        let handler = lua.create_function(move |lua, err: Value| handle_error(lua, &b2, err))?;
        install_hook(&lua, busy.clone(), false);
        Ok(Engine {
            lua,
            env,
            invoke,
            handler,
            redis,
            fenv,
            set_loading,
            load_redis,
            libraries: Default::default(),
            scripts: HashMap::new(),
            busy,
        })
    }

    /// Compiles `code` (named `@user_script`, in the sandbox) into a function.
    pub fn compile(&self, code: &[u8], name: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(name)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| error_message(&e))
    }

    /// Runs `func` for the connection `caller`, writing its reply (or error) to `out`.
    #[allow(clippy::too_many_arguments)]
    pub fn run(
        &self,
        shared: &Shared,
        caller: &Session,
        func: &Function,
        keys: &[Bytes],
        args: &[Bytes],
        mode: RunMode<'_>,
        out: &mut Reply,
    ) {
        let result = self.run_inner(shared, caller, func, keys, args, mode);
        if self.busy.killed.load(Ordering::Acquire) {
            install_hook(&self.lua, self.busy.clone(), false);
        }
        match result {
            Ok((reply, resp3)) => match reply {
                Ok(v) => {
                    if let Value::Table(t) = &v {
                        if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
                            count_error(shared, &e.as_bytes());
                        }
                    }
                    lua_to_reply(&v, out, resp3, 0)
                }
                Err(e) => {
                    let text = format_error(&e, mode.name);
                    // Errors of commands the script called were counted when they ran.
                    let counted = matches!(&e, Value::Table(t)
                        if matches!(t.raw_get::<Value>("ignore_error_stats_update"), Ok(Value::Boolean(true))));
                    if !counted {
                        count_error(shared, &text);
                    }
                    encode::error(&mut out.buf, &text)
                }
            },
            Err(e) => {
                let msg = format!(
                    "ERR Error running script {}, {}",
                    mode.name,
                    error_message(&e)
                );
                encode::error(&mut out.buf, msg.as_bytes());
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn run_inner(
        &self,
        shared: &Shared,
        caller: &Session,
        func: &Function,
        keys: &[Bytes],
        args: &[Bytes],
        mode: RunMode<'_>,
    ) -> mlua::Result<(Result<Value, Value>, bool)> {
        let lua = &self.lua;
        let array = |items: &[Bytes]| -> mlua::Result<Table> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, lua.create_string(item)?)?;
            }
            Ok(t)
        };
        let (keys_t, args_t) = (array(keys)?, array(args)?);
        let g = lua.globals();
        if mode.eval {
            g.raw_set("KEYS", keys_t.clone())?;
            g.raw_set("ARGV", args_t.clone())?;
        }
        let mut session = Session::new(caller.client.clone(), true);
        session.db = caller.db;
        // Checked once for the EVAL or FCALL; a script's commands do not evict.
        session.memory_checked = true;
        session.in_script = true;
        let session = std::cell::RefCell::new(session);
        let resp3 = Cell::new(false);
        let busy = &*self.busy;
        let session = &session;
        let outcome = lua.scope(|scope| {
            let call = scope.create_function(|lua, a: Variadic<Value>| {
                let mut session = session.try_borrow_mut().map_err(|_| {
                    raise(b"luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?")
                })?;
                match call_from_script(lua, shared, &mut session, &a, resp3.get(), mode, busy)? {
                    Ok(v) => Ok(v),
                    Err(e) => Err(mlua::Error::external(e)),
                }
            })?;
            self.redis.raw_set("call", call)?;
            let pcall = scope.create_function(|lua, a: Variadic<Value>| {
                let mut session = session.try_borrow_mut().map_err(|_| {
                    raise(b"luaRedisGenericCommand() recursive call detected. Are you doing funny stuff with Lua debug hooks?")
                })?;
                match call_from_script(lua, shared, &mut session, &a, resp3.get(), mode, busy)? {
                    Ok(v) => Ok(v),
                    Err(e) => {
                        let t = lua.create_table()?;
                        t.raw_set("err", lua.create_string(&e.text)?)?;
                        if e.from_command {
                            t.raw_set("ignore_error_stats_update", true)?;
                        }
                        Ok(Value::Table(t))
                    }
                }
            })?;
            self.redis.raw_set("pcall", pcall)?;
            let setresp = scope.create_function(|_, a: Variadic<Value>| {
                if a.len() != 1 {
                    return Err(raise(b"redis.setresp() requires one argument."));
                }
                let v = match &a[0] {
                    Value::Number(n) => *n as i64,
                    Value::Integer(n) => *n,
                    Value::String(s) => std::str::from_utf8(&s.as_bytes())
                        .ok()
                        .and_then(|s| s.trim().parse::<f64>().ok())
                        .map_or(0, |n| n as i64),
                    _ => 0,
                };
                match v {
                    2 => resp3.set(false),
                    3 => resp3.set(true),
                    _ => return Err(raise(b"RESP version must be 2 or 3.")),
                }
                Ok(())
            })?;
            self.redis.raw_set("setresp", setresp)?;
            let r: MultiValue = if mode.eval {
                self.invoke.call((func.clone(), self.handler.clone()))?
            } else {
                self.invoke
                    .call((func.clone(), self.handler.clone(), keys_t, args_t))?
            };
            Ok(r)
        });
        for f in ["call", "pcall", "setresp"] {
            self.redis.raw_set(f, Value::Nil)?;
        }
        let mut values = outcome?.into_iter();
        let ok = matches!(values.next(), Some(Value::Boolean(true)));
        let v = values.next().unwrap_or(Value::Nil);
        Ok((if ok { Ok(v) } else { Err(v) }, resp3.get()))
    }
}

/// Counts an error reply in INFO's error stats (`errorstat_<CODE>`), as Redis does for
/// a script's error reply.
fn count_error(shared: &Shared, text: &[u8]) {
    let code = text.split(|&c| c == b' ').next().unwrap_or(b"ERR");
    let code = std::str::from_utf8(code).unwrap_or("ERR");
    shared
        .stats
        .error_replies
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    shared.errorstats.record(code);
}

/// `REDIS_VERSION_NUM`: 0x00MMmmpp.
fn version_num(v: &str) -> i64 {
    let mut parts = v.split('.').map(|p| p.parse::<i64>().unwrap_or(0));
    let (a, b, c) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    (a << 16) | (b << 8) | c
}

/// The error reply of a failed script: `<err> script: <name>, on <source>:<line>.`
pub(crate) fn format_error(e: &Value, name: &str) -> Vec<u8> {
    let Value::Table(t) = e else {
        return format!("ERR Error running script {name}, execution failure").into_bytes();
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.as_bytes().to_vec(),
        _ => b"(null)".to_vec(),
    };
    let field = |k: &str| -> Option<Vec<u8>> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            Value::Integer(n) => Some(n.to_string().into_bytes()),
            Value::Number(n) => Some(g17(n)),
            _ => None,
        }
    };
    let mut out = msg;
    if let (Some(source), Some(line)) = (field("source"), field("line")) {
        out.extend_from_slice(b" script: ");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b", on ");
        out.extend_from_slice(&source);
        out.push(b':');
        out.extend_from_slice(&line);
        out.push(b'.');
    }
    out
}

/// What Redis checks before a script's command runs (`scriptCall`); the error text.
fn script_checks(
    args: &[Bytes],
    mode: RunMode<'_>,
    wrote: bool,
) -> Result<&'static crate::Command, Cow<'static, [u8]>> {
    let Some(mut cmd) = crate::lookup(&args[0]) else {
        return Err(Cow::Borrowed(b"Unknown Redis command called from script"));
    };
    if !cmd.subcommands.is_empty() && args.len() > 1 {
        match crate::table::lookup_sub(cmd, &args[1]) {
            Some(sub) => cmd = sub,
            None => return Err(Cow::Borrowed(b"Unknown Redis command called from script")),
        }
    }
    if !cmd.arity_ok(args.len()) {
        return Err(Cow::Borrowed(
            b"Wrong number of args calling Redis command from script",
        ));
    }
    if cmd.has(NOSCRIPT) {
        return Err(Cow::Borrowed(
            b"This Redis command is not allowed from script",
        ));
    }
    if mode.read_only && cmd.has(WRITE) {
        return Err(Cow::Borrowed(
            b"Write commands are not allowed from read-only scripts.",
        ));
    }
    if mode.deny_oom && !wrote && cmd.has(crate::table::flags::DENYOOM) {
        // `-OOM`: the error's own code, not `ERR`.
        return Err([b"-".as_slice(), crate::error::OOM.as_bytes()]
            .concat()
            .into());
    }
    Ok(cmd)
}

/// `redis.call` / `redis.pcall`: the reply as a Lua value, or the error (as Redis
/// would put it in the `err` field of the error table).
fn call_from_script(
    lua: &Lua,
    shared: &Shared,
    session: &mut Session,
    a: &[Value],
    resp3: bool,
    mode: RunMode<'_>,
    busy: &Busy,
) -> mlua::Result<Result<Value, ScriptErr>> {
    let fail = |text: &[u8], from_command: bool| {
        Ok(Err(ScriptErr {
            text: normalize_error(text),
            from_command,
        }))
    };
    if a.is_empty() {
        return fail(
            b"Please specify at least one argument for this redis lib call",
            false,
        );
    }
    let mut argv: Vec<Bytes> = Vec::with_capacity(a.len());
    for v in a {
        argv.push(match v {
            Value::String(s) => Bytes::copy_from_slice(&s.as_bytes()),
            Value::Number(n) => Bytes::from(g17(*n)),
            Value::Integer(n) => Bytes::from(g17(*n as f64)),
            _ => {
                return fail(
                    b"Lua redis lib command arguments must be strings or integers",
                    false,
                )
            }
        });
    }
    let cmd = match script_checks(&argv, mode, busy.wrote.load(Ordering::Acquire)) {
        Ok(cmd) => cmd,
        Err(text) => return fail(&text, true),
    };
    if cmd.has(WRITE) {
        busy.wrote.store(true, Ordering::Release);
    }
    let mut scratch = Reply::new(if resp3 {
        Version::Resp3
    } else {
        Version::Resp2
    });
    crate::execute_traced(shared, session, &argv, &mut scratch);
    let limits = Limits {
        max_bulk_len: usize::MAX / 2,
        max_multibulk_len: usize::MAX / 2,
        max_inline_len: usize::MAX / 2,
    };
    match mapcache_resp::decode_frame(&mut scratch.buf, &limits) {
        Ok(Some(Frame::Error(e))) => fail(&[b"-".as_slice(), &e].concat(), true),
        Ok(Some(f)) => Ok(Ok(frame_to_lua(lua, f, resp3)?)),
        _ => fail(b"internal error: unreadable reply", false),
    }
}
