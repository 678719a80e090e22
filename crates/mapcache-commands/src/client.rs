//! The client registry behind CLIENT LIST / CLIENT INFO / CLIENT ID and INFO clients.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

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

    fn last_cmd_name(&self) -> &'static str {
        let p = self.last_cmd.load(Ordering::Relaxed);
        crate::table::all()
            .iter()
            .find(|c| std::ptr::eq(**c, p as *const Command))
            .map_or("NULL", |c| c.name)
    }

    /// One line of CLIENT LIST / the reply of CLIENT INFO, in Redis 7.0's field order.
    pub fn describe(&self) -> String {
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
            "id={} addr={} laddr={} fd=0 name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 \
             qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r \
             cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
            self.id,
            self.addr,
            self.laddr,
            text(&names.name),
            age.as_secs(),
            idle_ms / 1000,
            self.db.load(Ordering::Relaxed),
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
        });
        self.map.lock().insert(id, info.clone());
        info
    }

    pub fn unregister(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A snapshot of every client, by id.
    pub fn snapshot(&self) -> Vec<Arc<ClientInfo>> {
        self.map.lock().values().cloned().collect()
    }
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
