//! The slow log (SLOWLOG GET/LEN/RESET), as Redis 7.0 keeps it.
//!
//! The connection task times every command and calls [`SlowLog::push`] when one took
//! at least `slowlog-log-slower-than` microseconds. The threshold and the maximum length
//! are mirrored from [`crate::RuntimeConfig`] into atomics (CONFIG SET updates both), so
//! the hot path reads one relaxed atomic, never the config lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use bytes::Bytes;
use parking_lot::Mutex;

use crate::args::is;
use crate::client::ClientInfo;
use crate::table::Command;

/// Redis's `SLOWLOG_ENTRY_MAX_ARGC`: arguments kept per entry, the last slot saying
/// how many more there were.
const MAX_ARGC: usize = 32;
/// Redis's `SLOWLOG_ENTRY_MAX_STRING`: longer arguments are cut and annotated.
const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: u64,
    /// Unix time in seconds when it was logged.
    pub time: i64,
    pub duration_us: u64,
    /// The arguments, truncated and redacted as Redis does.
    pub args: Vec<Bytes>,
    pub addr: String,
    pub name: Bytes,
}

/// The slow log of one server.
#[derive(Debug)]
pub struct SlowLog {
    threshold_us: AtomicI64,
    max_len: AtomicU64,
    next_id: AtomicU64,
    /// Newest first.
    entries: Mutex<VecDeque<Entry>>,
}

impl SlowLog {
    pub fn new(threshold_us: i64, max_len: u64) -> Self {
        SlowLog {
            threshold_us: AtomicI64::new(threshold_us),
            max_len: AtomicU64::new(max_len),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// `slowlog-log-slower-than` in microseconds; negative means the log is off.
    #[inline]
    pub fn threshold_us(&self) -> i64 {
        self.threshold_us.load(Ordering::Relaxed)
    }

    /// Applies `slowlog-log-slower-than` and `slowlog-max-len` (CONFIG SET).
    pub fn configure(&self, threshold_us: i64, max_len: u64) {
        self.threshold_us.store(threshold_us, Ordering::Relaxed);
        self.max_len.store(max_len, Ordering::Relaxed);
        let mut e = self.entries.lock();
        e.truncate(usize::try_from(max_len).unwrap_or(usize::MAX));
    }

    /// Should a command that took `duration_us` be logged?
    #[inline]
    pub fn is_slow(&self, duration_us: u64) -> bool {
        let t = self.threshold_us();
        t >= 0 && duration_us >= t as u64
    }

    /// Logs a command (`cmd` is its top-level entry, `args` the command as sent).
    pub fn push(&self, cmd: &Command, args: &[Bytes], duration_us: u64, client: &ClientInfo) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let entry = Entry {
            id,
            time,
            duration_us,
            args: entry_args(cmd, args),
            addr: client.addr.clone(),
            name: client.names.lock().name.clone().unwrap_or_default(),
        };
        let max = usize::try_from(self.max_len.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let mut e = self.entries.lock();
        e.push_front(entry);
        e.truncate(max);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The newest `count` entries (all when `None`), newest first.
    pub fn newest(&self, count: Option<usize>) -> Vec<Entry> {
        let e = self.entries.lock();
        e.iter()
            .take(count.unwrap_or(usize::MAX))
            .cloned()
            .collect()
    }

    /// The id the next entry gets (Redis's `slowlog_entry_id`; RESET keeps counting).
    pub fn next_id(&self) -> u64 {
        self.next_id.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// Arguments as Redis stores them in an entry: at most 32 (the last saying how many
/// more there were), each at most 128 bytes (longer ones say how many bytes more), and
/// secrets (AUTH and HELLO ... AUTH passwords, CONFIG SET requirepass) as `(redacted)`.
fn entry_args(cmd: &Command, args: &[Bytes]) -> Vec<Bytes> {
    let redacted = redacted_positions(cmd, args);
    let argc = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(argc);
    for (i, a) in args.iter().enumerate().take(argc) {
        if argc != args.len() && i == argc - 1 {
            out.push(Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - argc + 1
            )));
        } else if redacted.contains(&i) {
            out.push(Bytes::from_static(b"(redacted)"));
        } else if a.len() > MAX_STRING {
            let mut s = Vec::with_capacity(MAX_STRING + 32);
            s.extend_from_slice(&a[..MAX_STRING]);
            s.extend_from_slice(format!("... ({} more bytes)", a.len() - MAX_STRING).as_bytes());
            out.push(Bytes::from(s));
        } else {
            // A copy: an entry must not pin the connection's read buffer.
            out.push(Bytes::copy_from_slice(a));
        }
    }
    out
}

fn redacted_positions(cmd: &Command, args: &[Bytes]) -> Vec<usize> {
    match cmd.name {
        "auth" => (1..args.len()).collect(),
        "hello" => {
            let mut v = Vec::new();
            let mut i = 2;
            while i < args.len() {
                if is(&args[i], "auth") && i + 2 < args.len() {
                    v.extend([i + 1, i + 2]);
                    i += 3;
                } else {
                    i += 1;
                }
            }
            v
        }
        "config" if args.len() > 1 && is(&args[1], "set") => (2..args.len())
            .step_by(2)
            .filter(|&i| is(&args[i], "requirepass") && i + 1 < args.len())
            .map(|i| i + 1)
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(v: &[&str]) -> Vec<Bytes> {
        v.iter()
            .map(|s| Bytes::copy_from_slice(s.as_bytes()))
            .collect()
    }

    #[test]
    fn arguments_are_truncated_like_redis() {
        let set = crate::table::lookup(b"set").unwrap();
        let long = "x".repeat(140);
        let got = entry_args(set, &b(&["set", "k", &long]));
        assert_eq!(
            got[2],
            format!("{}... (12 more bytes)", "x".repeat(128)).as_bytes()
        );
        let many: Vec<String> = (0..37).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let got = entry_args(set, &b(&many));
        assert_eq!(got.len(), 32);
        assert_eq!(got[30], "30".as_bytes());
        assert_eq!(got[31], "... (6 more arguments)".as_bytes());
        let exactly: Vec<&str> = many[..32].to_vec();
        assert_eq!(entry_args(set, &b(&exactly)).len(), 32);
        assert_eq!(entry_args(set, &b(&exactly))[31], "31".as_bytes());
    }

    #[test]
    fn secrets_are_redacted() {
        let auth = crate::table::lookup(b"auth").unwrap();
        assert_eq!(
            entry_args(auth, &b(&["AUTH", "u", "p"]))[1..],
            b(&["(redacted)", "(redacted)"])[..]
        );
        let hello = crate::table::lookup(b"hello").unwrap();
        assert_eq!(
            entry_args(hello, &b(&["hello", "3", "AUTH", "u", "p", "setname", "n"])),
            b(&[
                "hello",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "setname",
                "n"
            ])
        );
        let config = crate::table::lookup(b"config").unwrap();
        assert_eq!(
            entry_args(
                config,
                &b(&["config", "set", "timeout", "1", "requirepass", "s"])
            ),
            b(&["config", "set", "timeout", "1", "requirepass", "(redacted)"])
        );
    }
}
