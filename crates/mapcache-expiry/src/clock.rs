//! Clocks: where "now" comes from.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch. Redis keeps deadlines as absolute milliseconds.
pub type UnixMillis = i64;

/// A source of the current time in Unix milliseconds.
///
/// The store reads it on every access (lazy expiry) and the sweeper once per pass.
pub trait Clock: Send + Sync + std::fmt::Debug + 'static {
    /// The current time, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> UnixMillis;
}

/// The wall clock (`SystemTime::now`), as Redis uses for deadlines.
///
/// A time before the epoch gives a negative value rather than a panic.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> UnixMillis {
        match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map_or(i64::MIN, |ms| -ms),
        }
    }
}

/// A clock that only moves when told to. Clones share the same time, so a test can keep
/// one handle and give another to the store.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
}

impl ManualClock {
    /// A clock reading `start_ms`.
    pub fn new(start_ms: UnixMillis) -> Self {
        Self {
            now: Arc::new(AtomicI64::new(start_ms)),
        }
    }

    /// Sets the time to `ms` (it may go backwards, as a wall clock can).
    pub fn set(&self, ms: UnixMillis) {
        self.now.store(ms, Ordering::SeqCst);
    }

    /// Moves the time by `ms` (saturating at the `i64` edges) and returns the new time.
    pub fn advance(&self, ms: i64) -> UnixMillis {
        let mut cur = self.now.load(Ordering::SeqCst);
        loop {
            let next = cur.saturating_add(ms);
            match self
                .now
                .compare_exchange_weak(cur, next, Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return next,
                Err(actual) => cur = actual,
            }
        }
    }
}

impl Default for ManualClock {
    /// A clock at 0 (the epoch).
    fn default() -> Self {
        Self::new(0)
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> UnixMillis {
        self.now.load(Ordering::SeqCst)
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_ms(&self) -> UnixMillis {
        (**self).now_ms()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_clones_share_time() {
        let a = ManualClock::new(1_000);
        let b = a.clone();
        assert_eq!(b.now_ms(), 1_000);
        a.set(5_000);
        assert_eq!(b.now_ms(), 5_000);
        assert_eq!(b.advance(250), 5_250);
        assert_eq!(a.now_ms(), 5_250);
        let dyn_clock: Arc<dyn Clock> = Arc::new(a.clone());
        a.advance(-250);
        assert_eq!(dyn_clock.now_ms(), 5_000);
    }

    #[test]
    fn manual_clock_advance_saturates() {
        let c = ManualClock::new(i64::MAX - 1);
        assert_eq!(c.advance(10), i64::MAX);
        c.set(i64::MIN + 1);
        assert_eq!(c.advance(-10), i64::MIN);
    }

    #[test]
    fn system_clock_is_after_2020() {
        // 2020-01-01T00:00:00Z
        assert!(SystemClock.now_ms() > 1_577_836_800_000);
    }
}
