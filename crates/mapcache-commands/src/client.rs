//! The client registry behind CLIENT LIST / CLIENT INFO / CLIENT ID and INFO clients.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::table::Command;

/// One connected client, shared between its connection task and the registry. The
/// connection task is the only writer of the atomics; they are read by CLIENT LIST.
#[derive(Debug)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created: Instant,
    /// Unix milliseconds of the last command (the command's own clock reading, so
    /// recording it costs no extra clock read).
    last_active_ms: AtomicI64,
    /// The selected database.
    pub db: AtomicUsize,
    /// 2 or 3.
    pub resp: AtomicU8,
    /// The last command's table entry, as an address (0 = none yet).
    last_cmd: AtomicUsize,
    pub names: Mutex<ClientNames>,
    /// CLIENT NO-TOUCH: this client's reads leave keys' access times alone.
    pub no_touch: AtomicBool,
    /// Set by CLIENT KILL: the connection closes (after this command's reply, when
    /// it killed itself).
    killed: AtomicBool,
    /// How CLIENT KILL wakes this client's connection task (installed by the server).
    waker: OnceLock<Waker>,
    /// MONITOR lines waiting to be written to this client (a monitor), taken by its task
    /// when the waker wakes it.
    monitor_out: Mutex<Vec<u8>>,
}

/// A function that wakes a connection task; the server installs one per client.
pub struct Waker(pub Box<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// What CLIENT SETNAME and CLIENT SETINFO set.
#[derive(Debug, Default, Clone)]
pub struct ClientNames {
    pub name: Option<Bytes>,
    pub lib_name: Option<Bytes>,
    pub lib_ver: Option<Bytes>,
}

impl ClientInfo {
    /// Records that `cmd` runs at `now_ms` (Unix ms): two relaxed stores.
    #[inline]
    pub fn touch(&self, cmd: &'static Command, now_ms: i64) {
        self.last_cmd
            .store(cmd as *const Command as usize, Ordering::Relaxed);
        self.last_active_ms.store(now_ms, Ordering::Relaxed);
    }

    /// Installs the function CLIENT KILL calls to wake this client's task (once).
    pub fn set_waker(&self, wake: Box<dyn Fn() + Send + Sync>) {
        let _ = self.waker.set(Waker(wake));
    }

    /// CLIENT KILL: marks the client killed and wakes its task.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        if let Some(w) = self.waker.get() {
            (w.0)();
        }
    }

    /// The MONITOR lines written for this client since the last call.
    pub fn take_monitor_output(&self) -> Vec<u8> {
        std::mem::take(&mut *self.monitor_out.lock())
    }

    /// Has CLIENT KILL closed this client?
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    /// Seconds since the connection was made (CLIENT LIST's `age`, KILL's MAXAGE).
    pub fn age_secs(&self) -> u64 {
        self.created.elapsed().as_secs()
    }

    /// The last command's name as CLIENT LIST shows it (`get`, `client|list`).
    fn last_cmd_name(&self) -> String {
        let p = self.last_cmd.load(Ordering::Relaxed) as *const Command;
        for c in crate::table::all() {
            if std::ptr::eq(*c, p) {
                return c.name.to_string();
            }
            if let Some(sub) = c.subcommands.iter().find(|s| std::ptr::eq(*s, p)) {
                return format!("{}|{}", c.name, sub.name);
            }
        }
        "NULL".to_string()
    }

    /// One line of CLIENT LIST / the reply of CLIENT INFO, in Redis 7.0's field order.
    pub fn describe(&self) -> String {
        self.describe_with(0)
    }

    /// [`ClientInfo::describe`] with `qbuf` bytes in the query buffer (the calling
    /// client's own line shows its running command there, as Redis does).
    pub fn describe_with(&self, qbuf: usize) -> String {
        let names = self.names.lock().clone();
        let age = self.created.elapsed();
        let idle_ms = match self.last_active_ms.load(Ordering::Relaxed) {
            0 => age.as_millis() as i64,
            last => unix_now_ms().saturating_sub(last).max(0),
        };
        let text = |b: &Option<Bytes>| {
            b.as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default()
        };
        let mut s = String::with_capacity(256);
        let _ = write!(
            s,
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags={} db={} sub=0 psub=0 ssub=0 multi=-1 \
             qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            text(&names.name),
            age.as_secs(),
            idle_ms / 1000,
            if self.no_touch.load(Ordering::Relaxed) {
                "T"
            } else {
                "N"
            },
            self.db.load(Ordering::Relaxed),
            qbuf,
            self.last_cmd_name(),
            self.resp.load(Ordering::Relaxed),
            text(&names.lib_name),
            text(&names.lib_ver),
        );
        s
    }
}

/// All connected clients.
#[derive(Debug, Default)]
pub struct Clients {
    next_id: AtomicU64,
    map: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// CLIENT PAUSE: until when, and whether every command waits (ALL) or only
    /// writes (WRITE).
    pause: Mutex<Option<(Instant, bool)>>,
    /// Whether `pause` may be set: one relaxed load per command when nobody paused.
    pause_on: AtomicBool,
    /// The clients in MONITOR mode, and whether there are any (one relaxed load per
    /// command when there are none).
    monitors: Mutex<Vec<Arc<ClientInfo>>>,
    monitors_on: AtomicBool,
}

impl Clients {
    /// Registers a new client and returns its shared entry.
    pub fn register(&self, addr: String, laddr: String) -> Arc<ClientInfo> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let info = Arc::new(ClientInfo {
            id,
            addr,
            laddr,
            created: Instant::now(),
            last_active_ms: AtomicI64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            last_cmd: AtomicUsize::new(0),
            names: Mutex::new(ClientNames::default()),
            no_touch: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            waker: OnceLock::new(),
            monitor_out: Mutex::new(Vec::new()),
        });
        self.map.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
        if self.monitors_active() {
            let mut m = self.monitors.lock();
            m.retain(|c| c.id != id);
            self.monitors_on.store(!m.is_empty(), Ordering::Release);
        }
    }

    /// MONITOR: `client` receives every command run from now on.
    pub fn add_monitor(&self, client: Arc<ClientInfo>) {
        let mut m = self.monitors.lock();
        if !m.iter().any(|c| c.id == client.id) {
            m.push(client);
        }
        self.monitors_on.store(true, Ordering::Release);
    }

    /// Is client `id` in MONITOR mode?
    pub fn is_monitor(&self, id: u64) -> bool {
        self.monitors_active() && self.monitors.lock().iter().any(|c| c.id == id)
    }

    /// Are there MONITOR clients?
    #[inline]
    pub fn monitors_active(&self) -> bool {
        self.monitors_on.load(Ordering::Relaxed)
    }

    /// Sends one command to every MONITOR client, in Redis's format:
    /// `+<unix seconds>.<micros> [<db> <addr>] "arg" ...`.
    pub fn feed_monitors(&self, db: usize, addr: &str, args: &[Bytes]) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let mut line = format!(
            "+{}.{:06} [{db} {addr}]",
            now.as_secs(),
            now.subsec_micros()
        )
        .into_bytes();
        for a in args {
            line.push(b' ');
            repr(a, &mut line);
        }
        line.extend_from_slice(b"\r\n");
        for m in self.monitors.lock().iter() {
            m.monitor_out.lock().extend_from_slice(&line);
            if let Some(w) = m.waker.get() {
                (w.0)();
            }
        }
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// CLIENT PAUSE: pauses until `end` (ALL when `all`); a pause in force keeps its
    /// later end and its stronger mode, as Redis merges them.
    pub fn pause(&self, end: Instant, all: bool) {
        let mut p = self.pause.lock();
        *p = Some(match *p {
            Some((e, a)) if e > Instant::now() => (e.max(end), a || all),
            _ => (end, all),
        });
        self.pause_on.store(true, Ordering::Release);
    }

    /// CLIENT UNPAUSE.
    pub fn unpause(&self) {
        *self.pause.lock() = None;
        self.pause_on.store(false, Ordering::Release);
    }

    /// How long a command must still wait under CLIENT PAUSE (`write`: it may write);
    /// `None` when it may run now.
    pub fn paused_for(&self, write: bool) -> Option<Duration> {
        let mut p = self.pause.lock();
        let (end, all) = (*p)?;
        let now = Instant::now();
        if end <= now {
            *p = None;
            self.pause_on.store(false, Ordering::Release);
            return None;
        }
        (all || write).then(|| end - now)
    }

    /// Is a pause in force (cheap check for the connection loop)?
    pub fn any_pause(&self) -> bool {
        self.pause_on.load(Ordering::Relaxed)
    }

    /// A snapshot of every client, by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }
}

/// Redis's `sdscatrepr`: a quoted string with `\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`
/// escaped and other unprintable bytes as `\xHH`.
fn repr(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            b if b.is_ascii_graphic() || b == b' ' => out.push(b),
            b => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
