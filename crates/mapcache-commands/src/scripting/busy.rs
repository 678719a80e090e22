//! The running script, as other connections see it: BUSY, SCRIPT KILL, `lua-time-limit`.
//!
//! A script runs inside the store's exclusive section, so another connection's command
//! would otherwise just wait at the store's gate for as long as the script runs, and
//! an endless script would hold every connection (and SCRIPT KILL) forever. Instead,
//! every command first looks here ([`Busy::check`], one relaxed load when no script
//! runs): while a script runs it waits, at most until the script has run for
//! `lua-time-limit` milliseconds; past that it is answered `-BUSY ...` unless it is one
//! of the commands Redis allows then (flag `allow_busy`: SCRIPT KILL, FUNCTION KILL,
//! MULTI, WATCH...). SCRIPT KILL sets a flag the script's Lua hook reads; a script that
//! has written cannot be killed (`-UNKILLABLE`), as in Redis.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

/// Redis's default `lua-time-limit` / `busy-reply-threshold`, in milliseconds.
pub const DEFAULT_TIME_LIMIT_MS: i64 = 5000;

/// `-BUSY` for an EVAL script.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// `-BUSY` for a FUNCTION.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";

/// What is known of the script that runs now.
#[derive(Debug, Clone)]
struct Running {
    since: Instant,
    /// The script's name (SHA or function) and the command that runs it (FUNCTION STATS).
    name: Option<std::sync::Arc<(String, Vec<bytes::Bytes>)>>,
    /// EVAL (true) or FCALL (false): which KILL ends it, which BUSY text.
    eval: bool,
    thread: ThreadId,
}

/// The shared state of the one script that may run at a time.
#[derive(Debug)]
pub struct Busy {
    /// A fast "is anything running" for [`Busy::check`].
    active: AtomicBool,
    running: Mutex<Option<Running>>,
    ended: Condvar,
    /// Set by SCRIPT KILL / FUNCTION KILL, read by the script's hook.
    pub(crate) killed: AtomicBool,
    /// The running script has called a write command: it cannot be killed.
    pub(crate) wrote: AtomicBool,
    /// `lua-time-limit` (alias `busy-reply-threshold`) in milliseconds; 0 or less: never busy.
    time_limit_ms: AtomicI64,
    /// While FUNCTION LOAD runs a library's code: when it must stop (Redis gives it
    /// 500 ms).
    pub(crate) load_deadline: Mutex<Option<Instant>>,
}

impl Default for Busy {
    fn default() -> Self {
        Busy {
            active: AtomicBool::new(false),
            running: Mutex::new(None),
            ended: Condvar::new(),
            killed: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            time_limit_ms: AtomicI64::new(DEFAULT_TIME_LIMIT_MS),
            load_deadline: Mutex::new(None),
        }
    }
}

/// Why SCRIPT KILL / FUNCTION KILL could not kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillRefusal {
    NotBusy,
    Unkillable,
    /// SCRIPT KILL of a function, or FUNCTION KILL of a script: the BUSY text to answer.
    OtherKind(&'static str),
}

/// Marks a script as running until dropped.
#[derive(Debug)]
pub struct RunGuard<'a> {
    busy: &'a Busy,
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        *self.busy.running.lock() = None;
        self.busy.active.store(false, Ordering::Release);
        self.busy.ended.notify_all();
    }
}

impl Busy {
    pub fn time_limit_ms(&self) -> i64 {
        self.time_limit_ms.load(Ordering::Relaxed)
    }

    pub fn set_time_limit_ms(&self, ms: i64) {
        self.time_limit_ms.store(ms, Ordering::Relaxed);
        // Waiters recompute their deadline.
        self.ended.notify_all();
    }

    /// Is a script running now?
    pub fn is_running(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Marks a script (EVAL when `eval`) as running on this thread.
    pub fn start(&self, eval: bool) -> RunGuard<'_> {
        self.start_named(eval, None)
    }

    /// [`Busy::start`], saying which function runs and the command that runs it.
    pub fn start_named(
        &self,
        eval: bool,
        name: Option<(String, Vec<bytes::Bytes>)>,
    ) -> RunGuard<'_> {
        self.killed.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        *self.running.lock() = Some(Running {
            name: name.map(std::sync::Arc::new),
            since: Instant::now(),
            eval,
            thread: std::thread::current().id(),
        });
        self.active.store(true, Ordering::Release);
        RunGuard { busy: self }
    }

    /// Before a command of another connection runs: `None` when it may run now (no
    /// script runs, or it ended while we waited, or the command is allowed while
    /// busy), else the BUSY text to answer. Waits while a script runs that has not yet
    /// reached the time limit (Redis answers nobody meanwhile either).
    pub fn check(&self, allowed_when_busy: impl FnOnce() -> bool) -> Option<&'static str> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut running = self.running.lock();
        let eval = loop {
            let run = running.clone()?;
            if run.thread == std::thread::current().id() {
                // The script's own commands (and an EXEC that runs a script).
                return None;
            }
            let limit = self.time_limit_ms();
            if limit <= 0 {
                self.ended.wait(&mut running);
                continue;
            }
            let limit = Duration::from_millis(limit as u64);
            let elapsed = run.since.elapsed();
            if elapsed >= limit {
                break run.eval;
            }
            self.ended.wait_for(&mut running, limit - elapsed);
        };
        drop(running);
        if allowed_when_busy() {
            None
        } else if eval {
            Some(BUSY_EVAL)
        } else {
            Some(BUSY_FUNCTION)
        }
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: flags the running script to stop.
    pub fn kill(&self, eval: bool) -> Result<(), KillRefusal> {
        let running = self.running.lock();
        let Some(run) = running.as_ref() else {
            return Err(KillRefusal::NotBusy);
        };
        if self.wrote.load(Ordering::Acquire) {
            return Err(KillRefusal::Unkillable);
        }
        if run.eval != eval {
            return Err(KillRefusal::OtherKind(if run.eval {
                BUSY_EVAL
            } else {
                BUSY_FUNCTION
            }));
        }
        self.killed.store(true, Ordering::Release);
        Ok(())
    }

    /// Milliseconds the running script has run, if one runs (INFO, tests).
    pub fn running_for_ms(&self) -> Option<u128> {
        self.running
            .lock()
            .as_ref()
            .map(|r| r.since.elapsed().as_millis())
    }

    /// Whether the running script is an EVAL (`Some(true)`) or a function.
    pub fn running_eval(&self) -> Option<bool> {
        self.running.lock().as_ref().map(|r| r.eval)
    }

    /// The running function's name, command and duration (FUNCTION STATS).
    pub fn running_info(&self) -> Option<(String, Vec<bytes::Bytes>, u128)> {
        let running = self.running.lock();
        let r = running.as_ref()?;
        let named = r.name.as_ref()?;
        Some((
            named.0.clone(),
            named.1.clone(),
            r.since.elapsed().as_millis(),
        ))
    }
}
