//! The mapcache command set: Redis 7.0 semantics over [`mapcache_store`], replies
//! encoded straight into a RESP buffer.
//!
//! Invariants:
//! - Synchronous and I/O free: [`execute`] runs one command to completion against the
//!   store and appends exactly one reply to the [`Reply`] buffer.
//! - A command parses and validates every argument before it changes anything; it
//!   either fails without effect or applies completely.
//! - Error texts live in [`error`]; handlers never format wire text themselves.

pub mod args;
pub mod client;
pub mod cmdstats;
pub mod config;
pub mod error;
pub mod families;
pub mod float;
pub mod path_mode;
pub mod process;
pub mod programs;
pub mod reply;
pub mod scripting;
pub mod slowlog;
pub mod table;
pub mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mapcache_expiry::UnixMillis;
use mapcache_store::{Db, Store};

pub use client::{ClientInfo, Clients};
pub use config::{KeyMode, RuntimeConfig};
pub use error::{CmdError, CmdResult};
pub use process::ProcessReport;
pub use reply::Reply;
pub use table::{lookup, Command};

/// Facts about the running server that INFO, HELLO and CLIENT LIST report.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: &'static str,
    pub git_sha: &'static str,
    pub tcp_port: u16,
    pub run_id: String,
    pub executable: String,
}

/// Writing snapshots to disk, for SAVE, BGSAVE and LASTSAVE. The server implements it
/// (commands do no I/O and cannot see the server crate: docs/ARCHITECTURE.md) and
/// installs it in [`Shared::persistence`].
pub trait Persistence: Send + Sync + std::fmt::Debug {
    /// Writes a snapshot of every cache now; an error is the reason, for `-ERR ...`.
    fn save(&self) -> Result<(), String>;
    /// Starts writing a snapshot in the background; `Err` when one is in progress.
    fn bgsave(&self) -> Result<(), String>;
    /// Unix seconds of the last successful save (the start time before any).
    fn lastsave(&self) -> i64;
}

/// The process allocator's own account of memory, for INFO memory's `used_memory` and
/// `mem_allocator` (Redis reports its allocator's figures there, not RSS). The server
/// installs it in [`Shared::memory`] when the binary's allocator can report.
pub trait MemoryReport: Send + Sync + std::fmt::Debug {
    /// The allocator's name (`jemalloc`).
    fn allocator(&self) -> &'static str;
    /// Bytes allocated and not freed, if the allocator can tell now.
    fn allocated_bytes(&self) -> Option<u64>;
}

/// Server-wide counters (INFO stats); the server adds to them once per batch.
#[derive(Debug, Default)]
pub struct Stats {
    pub commands_processed: AtomicU64,
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub error_replies: AtomicU64,
    /// The highest `used_memory` INFO or MEMORY STATS has seen.
    pub peak_memory: AtomicU64,
}

/// Everything the commands share: one per server.
#[derive(Debug)]
pub struct Shared {
    pub store: Store,
    pub config: parking_lot::RwLock<RuntimeConfig>,
    pub clients: Clients,
    pub stats: Stats,
    pub info: ServerInfo,
    pub started: Instant,
    /// Per-command calls, latency, failures (INFO commandstats, `/metrics`).
    pub cmdstats: cmdstats::CommandStats,
    /// Error replies by kind (INFO errorstats).
    pub errorstats: cmdstats::ErrorStats,
    /// INFO's instantaneous_* rates, sampled by the server.
    pub rates: cmdstats::Rates,
    pub slowlog: slowlog::SlowLog,
    /// SAVE / BGSAVE / LASTSAVE's disk side, installed by the server once.
    pub persistence: std::sync::OnceLock<Arc<dyn Persistence>>,
    /// The allocator's figures for INFO memory, installed by the server once.
    pub memory: std::sync::OnceLock<Arc<dyn MemoryReport>>,
    /// map-cache's triggers, per cache, and the running of programs ([`programs`]).
    pub programs: programs::Programs,
    /// The keys sessions WATCH ([`watch`]).
    pub watches: watch::Watches,
    /// Lua scripts and functions, and the script running now ([`scripting`]).
    pub scripting: scripting::Scripting,
}

impl Shared {
    /// Puts the store in the key mode `config` names ([`KeyMode::Path`] and
    /// [`KeyMode::Preserve`]: path keys).
    pub fn new(mut store: Store, config: RuntimeConfig, info: ServerInfo) -> Self {
        store.set_addressing(config.key_mode.addressing());
        let slowlog = slowlog::SlowLog::new(config.slowlog_log_slower_than, config.slowlog_max_len);
        config::apply_limits(&store, &config);
        Shared {
            store,
            config: parking_lot::RwLock::new(config),
            clients: Clients::default(),
            stats: Stats::default(),
            info,
            started: Instant::now(),
            cmdstats: cmdstats::CommandStats::default(),
            errorstats: cmdstats::ErrorStats::default(),
            rates: cmdstats::Rates::default(),
            slowlog,
            persistence: std::sync::OnceLock::new(),
            memory: std::sync::OnceLock::new(),
            programs: programs::Programs::default(),
            watches: watch::Watches::default(),
            scripting: scripting::Scripting::default(),
        }
    }
}

/// One connection's state.
#[derive(Debug)]
pub struct Session {
    /// This client's entry in the registry (CLIENT LIST, CLIENT ID, names).
    pub client: Arc<ClientInfo>,
    /// The selected database.
    pub db: usize,
    /// The named cache selected with `SELECT name` (map-cache key modes), looked up
    /// by name for each command; `None`: database `db`.
    pub cache: Option<String>,
    /// False until AUTH succeeds, when a password is configured.
    pub authenticated: bool,
    /// Set by QUIT: the server flushes the replies and closes the connection.
    pub close: bool,
    /// State of the generator behind RANDOMKEY, HRANDFIELD...
    pub rng: u64,
    /// Between MULTI and EXEC or DISCARD: the queued commands
    /// ([`families::transactions`]).
    pub transaction: Option<families::transactions::Transaction>,
    /// After WATCH, until EXEC, DISCARD or UNWATCH ([`watch`]).
    pub watch: Option<watch::SessionWatch>,
    /// CLIENT REPLY's state ([`families::client_control`]).
    pub reply: families::client_control::ReplyMode,
    /// While EXEC runs its queue, and in a script's own session: the memory check was
    /// made for the command that runs these (EXEC, EVAL, FCALL), not again per
    /// command (as in Redis, where only `processCommand` makes it).
    pub memory_checked: bool,
    /// Did the last memory check find the store over its limit with no room to make
    /// (Redis's `server.pre_command_oom_state`)? A script reads it: it may not make
    /// its first write when it started out of memory.
    pub oom_at_start: bool,
    /// A script's own session: MONITOR shows its commands as `[db lua]`.
    pub in_script: bool,
}

impl Session {
    pub fn new(client: Arc<ClientInfo>, authenticated: bool) -> Self {
        let rng = client.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D;
        Session {
            client,
            db: 0,
            cache: None,
            authenticated,
            close: false,
            rng,
            transaction: None,
            watch: None,
            reply: Default::default(),
            memory_checked: false,
            oom_at_start: false,
            in_script: false,
        }
    }

    /// Selects the cache a connection starts in: `RESP_DEFAULT_CACHE` in the map-cache
    /// key modes (when it exists), database 0 otherwise.
    pub fn select_default(&mut self, shared: &Shared) {
        let config = shared.config.read();
        if config.key_mode.is_map_cache() {
            match shared.store.cache(&config.default_cache) {
                Some(mapcache_store::CacheRef::Numbered(i, _)) => self.db = i,
                Some(mapcache_store::CacheRef::Named(_)) => {
                    self.cache = Some(config.default_cache.clone());
                }
                None => {}
            }
        }
    }

    /// The next pseudo-random number of this session.
    pub fn random(&mut self) -> u64 {
        mapcache_store::db::splitmix(&mut self.rng)
    }
}

/// What a handler works with.
#[derive(Debug)]
pub struct Ctx<'a> {
    pub shared: &'a Shared,
    pub session: &'a mut Session,
    /// The whole command, name first.
    pub args: &'a [Bytes],
    pub out: &'a mut Reply,
    /// The time this command runs at: one clock read per command.
    pub now: UnixMillis,
    /// The named cache the session selected (`Session::cache`), looked up for this
    /// command; `None`: database `session.db`.
    pub named: Option<&'a Db>,
}

impl<'a> Ctx<'a> {
    /// The selected database or named cache, borrowed for the whole command (not
    /// through `self`, so that closures may write to `out` meanwhile).
    pub fn selected(&self) -> &'a Db {
        let shared: &'a Shared = self.shared;
        self.named.unwrap_or_else(|| {
            shared
                .store
                .db(self.session.db)
                .expect("SELECT only accepts existing databases")
        })
    }
}

impl Ctx<'_> {
    /// The selected database.
    pub fn db(&self) -> &Db {
        self.selected()
    }

    /// Argument `i` (0 is the command name).
    pub fn arg(&self, i: usize) -> &[u8] {
        &self.args[i]
    }
}

/// Runs one command (`args[0]` is its name) and appends its reply to `out`.
/// Returns the command's table entry when one was found (for stats and slowlog).
pub fn execute(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) -> Option<&'static Command> {
    execute_traced(shared, session, args, out).cmd
}

/// What [`execute_traced`] tells the server about one command, for its statistics.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    /// The top-level table entry; `None` for an unknown command.
    pub cmd: Option<&'static Command>,
    /// The entry the statistics count under: the subcommand when one was resolved
    /// (`config|set`), else `cmd`; `None` when Redis counts the call under no command.
    pub stat: Option<&'static Command>,
    pub status: cmdstats::Status,
}

/// [`execute`], also saying whether the command ran, failed, or was refused.
pub fn execute_traced(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) -> Outcome {
    let mark = out.buf.len();
    let outcome = run_and_feed(shared, session, args, out);
    // CLIENT REPLY OFF / SKIP: the command ran; its reply is dropped.
    if session.reply.active() && session.reply.after_command() {
        out.buf.truncate(mark);
    }
    outcome
}

/// Runs one command, then shows it to MONITOR clients as Redis's `call()` does: after it
/// ran (inside EXEC, each queued command before EXEC), not when refused or queued,
/// never an admin command. Scripts ([`table::flags::SKIP_MONITOR`]) show themselves
/// before their commands ([`feed_monitors_now`]).
pub(crate) fn run_and_feed(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) -> Outcome {
    let outcome = run_traced(shared, session, args, out);
    // `stat` is the subcommand when there is one (CONFIG GET is admin, CONFIG is not).
    if shared.clients.monitors_active()
        && outcome.status != cmdstats::Status::Rejected
        && outcome
            .stat
            .is_some_and(|c| !c.has(table::flags::ADMIN | table::flags::SKIP_MONITOR))
    {
        feed_monitors_now(shared, session, args);
    }
    outcome
}

/// Shows `args` to MONITOR clients now, as coming from `session` (`lua` for a
/// script's commands, as Redis).
pub(crate) fn feed_monitors_now(shared: &Shared, session: &Session, args: &[Bytes]) {
    if shared.clients.monitors_active() {
        let from = if session.in_script {
            "lua"
        } else {
            &session.client.addr
        };
        shared.clients.feed_monitors(session.db, from, args);
    }
}

fn run_traced(shared: &Shared, session: &mut Session, args: &[Bytes], out: &mut Reply) -> Outcome {
    // While a script runs: wait, or answer BUSY past lua-time-limit (scripting::busy).
    if shared.scripting.busy.is_running() {
        if let Some(text) = shared.scripting.busy.check(|| allowed_when_busy(args)) {
            let f = rejected(lookup(&args[0]), None, CmdError::Static(text));
            shared.stats.error_replies.fetch_add(1, Ordering::Relaxed);
            shared.errorstats.record(f.error.kind());
            mapcache_resp::encode::error(&mut out.buf, &f.error.bytes());
            return Outcome {
                cmd: f.cmd,
                stat: f.stat,
                status: f.status,
            };
        }
    }
    if session.transaction.is_some() {
        if let Some(outcome) = queue_in_transaction(shared, session, args, out) {
            return outcome;
        }
    }
    match dispatch(shared, session, args, out) {
        Ok((cmd, stat)) => Outcome {
            cmd: Some(cmd),
            stat: Some(stat),
            status: cmdstats::Status::Ok,
        },
        Err(f) => {
            shared.stats.error_replies.fetch_add(1, Ordering::Relaxed);
            shared.errorstats.record(f.error.kind());
            mapcache_resp::encode::error(&mut out.buf, &f.error.bytes());
            Outcome {
                cmd: f.cmd,
                stat: f.stat,
                status: f.status,
            }
        }
    }
}

/// May this command run while a script is busy past its time limit? Those flagged
/// `allow_busy` (for a container, its subcommand: SCRIPT KILL, FUNCTION KILL...).
fn allowed_when_busy(args: &[Bytes]) -> bool {
    let Some(cmd) = lookup(&args[0]) else {
        return false;
    };
    if !cmd.subcommands.is_empty() {
        return args
            .get(1)
            .and_then(|a| table::lookup_sub(cmd, a))
            .is_some_and(|sub| sub.has(table::flags::ALLOW_BUSY));
    }
    cmd.has(table::flags::ALLOW_BUSY)
}

/// Inside MULTI: checks `args` as Redis does before queueing (a known command, its
/// arity, authentication), queues it and answers `+QUEUED`, or answers the refusal and
/// marks the transaction aborted. `None` for the commands that act at once inside a
/// transaction (EXEC, DISCARD, MULTI, QUIT, WATCH), which run as usual.
fn queue_in_transaction(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) -> Option<Outcome> {
    let cmd = lookup(&args[0]);
    if cmd.is_some_and(|c| {
        matches!(
            c.name,
            "exec" | "discard" | "multi" | "quit" | "reset" | "watch"
        )
    }) {
        return None;
    }
    let refusal = match cmd {
        None => Some(rejected(None, None, unknown_command(args))),
        Some(cmd) if !cmd.arity_ok(args.len()) => Some(rejected(
            Some(cmd),
            Some(cmd),
            CmdError::WrongArity(cmd.name.into()),
        )),
        Some(cmd) if !session.authenticated && !cmd.has(table::flags::NO_AUTH) => {
            Some(rejected(Some(cmd), Some(cmd), CmdError::NoAuth))
        }
        Some(cmd) if !cmd.subcommands.is_empty() && args.len() > 1 => {
            match table::lookup_sub(cmd, &args[1]) {
                None => Some(rejected(
                    Some(cmd),
                    None,
                    CmdError::unknown_subcommand(&args[1], cmd.name),
                )),
                Some(sub) if !sub.arity_ok(args.len()) => Some(rejected(
                    Some(cmd),
                    Some(sub),
                    CmdError::WrongArity(format!("{}|{}", cmd.name, sub.name).into()),
                )),
                Some(_) => None,
            }
        }
        Some(cmd) if !memory_ok(shared) => {
            Some(rejected(Some(cmd), Some(cmd), CmdError::Static(error::OOM)))
        }
        Some(_) => None,
    };
    let tx = session.transaction.as_mut()?;
    match refusal {
        Some(f) => {
            tx.aborted = true;
            shared.stats.error_replies.fetch_add(1, Ordering::Relaxed);
            shared.errorstats.record(f.error.kind());
            mapcache_resp::encode::error(&mut out.buf, &f.error.bytes());
            Some(Outcome {
                cmd: f.cmd,
                stat: f.stat,
                status: f.status,
            })
        }
        None => {
            tx.queue.push(args.to_vec());
            out.simple(b"QUEUED");
            Some(Outcome {
                cmd,
                stat: None,
                status: cmdstats::Status::Ok,
            })
        }
    }
}

/// Does `cmd` read or write the selected cache (rather than the connection or the
/// server)? Such commands fail when the named cache selected has gone.
fn uses_cache(cmd: &Command) -> bool {
    cmd.keys.0 != 0
        || matches!(
            cmd.name,
            "keys" | "scan" | "randomkey" | "dbsize" | "flushdb" | "mc.exec" | "mc.trigger"
        )
}

#[derive(Debug)]
struct Failure {
    cmd: Option<&'static Command>,
    stat: Option<&'static Command>,
    status: cmdstats::Status,
    error: CmdError,
}

fn rejected(
    cmd: Option<&'static Command>,
    stat: Option<&'static Command>,
    error: CmdError,
) -> Failure {
    Failure {
        cmd,
        stat,
        status: cmdstats::Status::Rejected,
        error,
    }
}

fn dispatch(
    shared: &Shared,
    session: &mut Session,
    args: &[Bytes],
    out: &mut Reply,
) -> Result<(&'static Command, &'static Command), Failure> {
    let Some(cmd) = lookup(&args[0]) else {
        return Err(rejected(None, None, unknown_command(args)));
    };
    if !cmd.arity_ok(args.len()) {
        return Err(rejected(
            Some(cmd),
            Some(cmd),
            CmdError::WrongArity(cmd.name.into()),
        ));
    }
    if !session.authenticated && !cmd.has(table::flags::NO_AUTH) {
        return Err(rejected(Some(cmd), Some(cmd), CmdError::NoAuth));
    }
    let mut handler = cmd.handler;
    let mut stat = cmd;
    if !cmd.subcommands.is_empty() && args.len() > 1 {
        let sub = table::lookup_sub(cmd, &args[1]).ok_or_else(|| {
            rejected(
                Some(cmd),
                None,
                CmdError::unknown_subcommand(&args[1], cmd.name),
            )
        })?;
        if !sub.arity_ok(args.len()) {
            let name = format!("{}|{}", cmd.name, sub.name);
            return Err(rejected(
                Some(cmd),
                Some(sub),
                CmdError::WrongArity(name.into()),
            ));
        }
        handler = sub.handler;
        stat = sub;
    }
    let now = shared.store.now();
    // Redis's processCommand: with a limit set, every command first lets the store
    // make room; one that may grow memory is refused when it could not.
    if shared.store.limits().maxmemory() == 0 {
        session.oom_at_start = false;
    } else if !session.memory_checked {
        let grows = cmd.has(table::flags::DENYOOM) || stat.has(table::flags::DENYOOM);
        session.oom_at_start = shared.store.make_room(now).is_err();
        if session.oom_at_start && grows {
            return Err(rejected(
                Some(cmd),
                Some(stat),
                CmdError::Static(error::OOM),
            ));
        }
        if grows {
            let bytes: usize = args.iter().map(|a| a.len()).sum();
            shared.store.limits().note_write(bytes as u64);
        }
    }
    session.client.touch(stat, now);
    let failed = |error| Failure {
        cmd: Some(cmd),
        stat: Some(stat),
        status: cmdstats::Status::Failed,
        error,
    };
    // A named cache selected with SELECT (map-cache key modes), looked up by name as
    // the Go server does for each command: gone, it answers its error.
    let named = match &session.cache {
        None => None,
        Some(name) => match shared.store.cache(name) {
            Some(c) => Some(c),
            None if uses_cache(cmd) => {
                return Err(failed(CmdError::Static("ERR cache not found")));
            }
            None => None,
        },
    };
    let named: Option<&Db> = named.as_deref();
    // Path key mode (docs/key-modes.md): one branch here; flat mode pays nothing more.
    if shared.store.path_keys() && cmd.keys.0 != 0 {
        path_mode::precheck(cmd, args, shared.store.dbs()[0].addressing()).map_err(failed)?;
    }
    let mark = out.buf.len();
    // map-cache's triggers (docs/programs.md): one relaxed load when no cache has any.
    if shared.programs.armed() && cmd.has(table::flags::WRITE) {
        // `:` separates segments in path mode only (preserve mode keys are `/` paths).
        let translate = shared.store.dbs()[0].addressing() == mapcache_store::Addressing::RESP_PATH;
        let db = named.or_else(|| shared.store.db(session.db));
        // Only nodes some trigger watches: a write no trigger can match runs as if its
        // cache had none (no exclusive section, no batch), and a write to a cache
        // without triggers does not even name its nodes.
        let watched = match db {
            Some(db) => shared
                .programs
                .watched(db.name(), || programs::targets(cmd.name, args, translate)),
            None => Vec::new(),
        };
        if let (Some(db), false) = (db, watched.is_empty()) {
            let mut ctx = Ctx {
                shared,
                session,
                args,
                out,
                now,
                named,
            };
            let result = shared
                .store
                .exclusive(|| with_triggers(&mut ctx, cmd, handler, db, watched));
            if result.is_err() {
                out.buf.truncate(mark);
            }
            result.map_err(failed)?;
            return Ok((cmd, stat));
        }
    }
    let mut ctx = Ctx {
        shared,
        session,
        args,
        out,
        now,
        named,
    };
    let result = handler(&mut ctx);
    if result.is_err() {
        // A failing command answers its error alone, whatever its handler had begun to
        // write (a write the store refused in path mode, say: it changed nothing).
        out.buf.truncate(mark);
    }
    result.map_err(failed)?;
    Ok((cmd, stat))
}

/// Is there room for a command (no limit, under it, or room made by evicting)?
pub fn memory_ok(shared: &Shared) -> bool {
    shared.store.limits().maxmemory() == 0 || shared.store.make_room(shared.store.now()).is_ok()
}

/// Runs a write whose cache has triggers, inside the store's exclusive section: the
/// command, then the triggers of every node it replaced (a node that existed before,
/// or always for the INCR family and HINCRBY), as the Go server runs them before the
/// write answers. When a trigger fails, the command's roots are put back as they were
/// and the trigger's error is answered: nothing of the write remains.
fn with_triggers(
    c: &mut Ctx<'_>,
    cmd: &Command,
    handler: table::Handler,
    db: &Db,
    targets: Vec<programs::Target>,
) -> CmdResult {
    let addr = mapcache_store::Addressing::HTTP;
    let fire: Vec<String> = targets
        .into_iter()
        .filter(|t| t.always || db.peek_with(addr, t.path.as_bytes(), c.now, |e| e.is_some()))
        .map(|t| t.path)
        .collect();
    let roots: Vec<&[u8]> = path_mode::key_positions(cmd, c.args.len())
        .map(|i| db.addressing().split(&c.args[i]).0)
        .collect();
    let images = db.images(&roots);
    handler(c)?;
    if fire.is_empty() {
        return Ok(());
    }
    if let Err(e) = c.shared.programs.fire_all(db, &fire, c.now) {
        db.restore(images);
        return Err(CmdError::Owned(format!("ERR {}", e.message())));
    }
    Ok(())
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` exactly as Redis
/// formats it: the name and the arguments cut at 128 bytes, each argument quoted and
/// followed by a space.
pub fn unknown_command(args: &[Bytes]) -> CmdError {
    let mut listed: Vec<u8> = Vec::new();
    for a in &args[1..] {
        if listed.len() >= 128 {
            break;
        }
        let room = 128 - listed.len();
        listed.push(b'\'');
        listed.extend_from_slice(error::truncate(a, room));
        listed.extend_from_slice(b"' ");
    }
    // The encoder turns any CR/LF into spaces, as Redis does, so the error stays one line.
    CmdError::raw(&[
        b"ERR unknown command '",
        error::truncate(&args[0], 128),
        b"', with args beginning with: ",
        &listed,
    ])
}
