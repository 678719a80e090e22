//! Memory limit and eviction (`maxmemory`, `maxmemory-policy`): the settings, the
//! memory figure they are checked against, and [`crate::Store::make_room`].
//!
//! # The figure
//! Eviction works on the allocator's own count of allocated bytes, the figure INFO
//! reports as `used_memory`. The store cannot read the allocator (it does no I/O and
//! knows nothing of the binary): the server installs a [`MemoryGauge`]. Reading it
//! (jemalloc: advance the epoch, read `stats.allocated`) costs microseconds, so it is
//! not read per command: [`Limits::used`] re-reads it at most once per
//! [`REFRESH_MS`] and, in between, adds an estimate of what writes added
//! ([`Limits::note_write`]) and takes off an estimate of what evictions freed.
//!
//! # The work
//! A command that finds the store over its limit evicts a few keys itself, in steps
//! bounded in keys and time ([`STEP_KEYS`], [`STEP_TIME`]), as Redis's
//! `performEvictions` does; the sweeper thread goes on in the background while the
//! store stays over and no command has evicted for [`COMMANDS_EVICTING_MS`]
//! ([`crate::Store::evict_background`]: after writes stop, or a limit lowered at run
//! time). Which keys go is decided per shard
//! from a small pool of candidates ([`crate::db`]'s `evict` module).

pub mod access;
pub mod sketch;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use mapcache_expiry::UnixMillis;

/// Redis's eight `maxmemory-policy` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
}

impl Policy {
    /// Every policy with its name, in Redis's order.
    pub const ALL: [(Policy, &'static str); 8] = [
        (Policy::VolatileLru, "volatile-lru"),
        (Policy::VolatileLfu, "volatile-lfu"),
        (Policy::VolatileRandom, "volatile-random"),
        (Policy::VolatileTtl, "volatile-ttl"),
        (Policy::AllKeysLru, "allkeys-lru"),
        (Policy::AllKeysLfu, "allkeys-lfu"),
        (Policy::AllKeysRandom, "allkeys-random"),
        (Policy::NoEviction, "noeviction"),
    ];

    /// The policy named `name` (any case), as CONFIG SET reads it.
    pub fn parse(name: &[u8]) -> Option<Policy> {
        Self::ALL
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(p, _)| *p)
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(p, _)| *p == self)
            .map_or("noeviction", |(_, n)| n)
    }

    /// Do keys' stamps count accesses under this policy (else: the last access)?
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }

    /// Does eviction consult the shards' frequency sketches under this policy (the
    /// LRU and LFU ones; the random and TTL policies are what their names say)?
    pub fn sketched(self) -> bool {
        matches!(
            self,
            Policy::AllKeysLru | Policy::AllKeysLfu | Policy::VolatileLru | Policy::VolatileLfu
        )
    }

    /// Does it only evict keys with a TTL?
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn index(self) -> u8 {
        Self::ALL.iter().position(|(p, _)| *p == self).unwrap_or(7) as u8
    }
}

/// The process's memory figure, as the server reads it from the allocator.
pub trait MemoryGauge: Send + Sync + std::fmt::Debug {
    /// Bytes allocated and not freed now (`None`: the allocator cannot tell).
    fn used_bytes(&self) -> Option<u64>;
}

/// The longest the estimate runs between two readings of the gauge, in milliseconds.
pub const REFRESH_MS: i64 = 10;
/// Most keys one command evicts before it goes on (Redis frees until under the limit
/// or its time is up; the sweeper carries on in the background).
pub const STEP_KEYS: usize = 64;
/// Most time one command spends evicting.
pub const STEP_TIME: Duration = Duration::from_micros(200);
/// How long after a command last evicted for itself the sweeper leaves eviction to
/// the commands ([`Limits::commands_evicting`]).
pub const COMMANDS_EVICTING_MS: i64 = 20;
/// What a write adds beyond its arguments' bytes in the estimate (a new slot, a
/// table bucket, allocator rounding).
pub const WRITE_OVERHEAD: u64 = 96;

/// The memory limit and eviction settings of a store, with the figure's state.
#[derive(Debug)]
pub struct Limits {
    maxmemory: AtomicU64,
    policy: AtomicU8,
    samples: AtomicU64,
    gauge: OnceLock<Arc<dyn MemoryGauge>>,
    /// The gauge's last reading, when it was taken, and the estimated change since.
    sampled: AtomicU64,
    sampled_at: AtomicI64,
    drift: AtomicI64,
    refreshing: AtomicBool,
    /// When a command last found the store over the limit and evicted for itself.
    command_evicted_at: AtomicI64,
    /// Keys evicted since start (INFO `evicted_keys`).
    pub(crate) evicted: AtomicU64,
    /// The next shard the rotation evicts from.
    pub(crate) cursor: AtomicUsize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            maxmemory: AtomicU64::new(0),
            policy: AtomicU8::new(Policy::NoEviction.index()),
            samples: AtomicU64::new(5),
            gauge: OnceLock::new(),
            sampled: AtomicU64::new(0),
            sampled_at: AtomicI64::new(i64::MIN),
            drift: AtomicI64::new(0),
            refreshing: AtomicBool::new(false),
            command_evicted_at: AtomicI64::new(i64::MIN),
            evicted: AtomicU64::new(0),
            cursor: AtomicUsize::new(0),
        }
    }
}

impl Limits {
    /// The limit in bytes; 0: none.
    #[inline]
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    pub fn set_maxmemory(&self, bytes: u64) {
        self.maxmemory.store(bytes, Ordering::Relaxed);
        access::set_sketching(bytes != 0 && self.policy().sketched());
        // A new limit is checked against a fresh reading.
        self.sampled_at.store(i64::MIN, Ordering::Relaxed);
    }

    pub fn policy(&self) -> Policy {
        Policy::ALL[usize::from(self.policy.load(Ordering::Relaxed)).min(7)].0
    }

    /// Sets the policy; keys' stamps switch between LRU and LFU with it.
    pub fn set_policy(&self, policy: Policy) {
        self.policy.store(policy.index(), Ordering::Relaxed);
        access::set_lfu(policy.is_lfu());
        access::set_sketching(self.maxmemory() != 0 && policy.sketched());
    }

    /// `maxmemory-samples`: how many candidates of a shard's pool are weighed per
    /// eviction (see the `evict` module of [`crate::db`]).
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }

    pub fn set_samples(&self, n: u64) {
        self.samples.store(n.clamp(1, 64), Ordering::Relaxed);
    }

    /// Installs the gauge (once; later calls are ignored).
    pub fn set_gauge(&self, gauge: Arc<dyn MemoryGauge>) {
        let _ = self.gauge.set(gauge);
    }

    /// Keys evicted so far.
    pub fn evicted_keys(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }

    /// A write of about `bytes` is about to run: add it to the estimate (only when a
    /// limit is set: otherwise nothing reads it).
    #[inline]
    pub fn note_write(&self, bytes: u64) {
        if self.maxmemory() != 0 {
            self.drift
                .fetch_add((bytes + WRITE_OVERHEAD) as i64, Ordering::Relaxed);
        }
    }

    /// A command is evicting for itself at `now` ([`crate::Store::make_room`]).
    pub(crate) fn note_command_eviction(&self, now: UnixMillis) {
        if self.command_evicted_at.load(Ordering::Relaxed) != now {
            self.command_evicted_at.store(now, Ordering::Relaxed);
        }
    }

    /// Have commands evicted for themselves within the last [`COMMANDS_EVICTING_MS`]?
    pub fn commands_evicting(&self, now: UnixMillis) -> bool {
        let at = self.command_evicted_at.load(Ordering::Relaxed);
        now.saturating_sub(at) < COMMANDS_EVICTING_MS
    }

    /// Evictions freed about `bytes`.
    pub(crate) fn note_freed(&self, bytes: u64) {
        self.drift.fetch_sub(bytes as i64, Ordering::Relaxed);
    }

    /// The memory figure at `now`: the gauge's reading, re-read when older than
    /// [`REFRESH_MS`] or when the estimate has moved by more than 1/64 of the limit,
    /// plus the estimate since. `None` without a gauge.
    pub fn used(&self, now: UnixMillis) -> Option<u64> {
        let gauge = self.gauge.get()?;
        let at = self.sampled_at.load(Ordering::Relaxed);
        let drift = self.drift.load(Ordering::Relaxed);
        let stale = now.saturating_sub(at) >= REFRESH_MS
            || drift.unsigned_abs() > (self.maxmemory() / 64).max(64 * 1024);
        if stale
            && self
                .refreshing
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            if let Some(v) = gauge.used_bytes() {
                self.sampled.store(v, Ordering::Relaxed);
                self.drift.store(0, Ordering::Relaxed);
                self.sampled_at.store(now, Ordering::Relaxed);
            }
            self.refreshing.store(false, Ordering::Release);
        }
        let base = self.sampled.load(Ordering::Relaxed);
        Some(base.saturating_add_signed(self.drift.load(Ordering::Relaxed)))
    }

    /// Is a limit set and the figure over it?
    #[inline]
    pub fn over(&self, now: UnixMillis) -> bool {
        let max = self.maxmemory();
        max != 0 && self.used(now).is_some_and(|u| u > max)
    }
}

/// A write refused: the store is over `maxmemory` and nothing can be evicted (or the
/// policy is `noeviction`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_parses_back_from_its_name_in_any_case() {
        for (p, name) in Policy::ALL {
            assert_eq!(Policy::parse(name.as_bytes()), Some(p));
            assert_eq!(Policy::parse(name.to_uppercase().as_bytes()), Some(p));
            assert_eq!(p.name(), name);
        }
        assert_eq!(Policy::parse(b"allkeys"), None);
        assert!(Policy::VolatileTtl.volatile() && !Policy::AllKeysLfu.volatile());
    }
}

#[cfg(test)]
pub(crate) mod store_tests;
