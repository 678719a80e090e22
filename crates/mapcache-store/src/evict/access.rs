//! Per-key access stamps, 24 bits per key as in Redis: an LRU clock or an LFU counter
//! with the minute it was last decayed, read and written by every lookup that touches
//! a key ([`crate::key::Access`] holds them in the slot).
//!
//! LRU keys start on probation: a key written and not read since carries a flag, and
//! eviction sees it older than it is by half the age at which keys are being evicted
//! ([`lru_age`]). A key read again soon after its write loses the flag and lives a
//! full LRU lifetime; one-off keys (a scan, a one-hit wonder of a long tail) go about
//! twice as soon, before keys that are read. This is segmented LRU's probation
//! segment without a second list, and what keeps a scan from flushing the hot keys.
//!
//! Which of the two the stamps mean is one process-wide switch ([`set_lfu`]), like
//! Redis's `maxmemory-policy`: after a switch the old stamps are read the new way until
//! keys are touched again (Redis has the same caveat). The LFU tuning knobs
//! (`lfu-log-factor`, `lfu-decay-time`) are process-wide too.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

use mapcache_expiry::UnixMillis;

use crate::key::Access;

/// The LRU clock's unit. 23 bits of 100 ms wrap after 9.7 days (Redis: 24 bits of
/// 1 s, 194 days); finer than Redis's so that keys touched within the same second
/// still order. The 24th bit is the probation flag.
pub const LRU_RESOLUTION_MS: i64 = 100;
const LRU_MASK: u32 = (1 << 23) - 1;
pub(crate) const PROBATION: u32 = 1 << 23;
/// The age (ms, counting probation) of the keys LRU eviction takes, smoothed.
static EVICTION_AGE_MS: AtomicU64 = AtomicU64::new(0);
/// A new key's LFU counter (Redis's `LFU_INIT_VAL`), so that it is not evicted at once.
pub const LFU_INIT_VAL: u32 = 5;

static LFU: AtomicBool = AtomicBool::new(false);
static SKETCHING: AtomicBool = AtomicBool::new(false);
static LFU_LOG_FACTOR: AtomicU32 = AtomicU32::new(10);
static LFU_DECAY_TIME: AtomicU32 = AtomicU32::new(1);
/// The latest time any store read ([`crate::Store::now`]): new keys are stamped with it.
static NOW_MS: AtomicI64 = AtomicI64::new(0);

/// Do the stamps count accesses (an LFU policy) rather than record the last one?
#[inline]
pub fn lfu() -> bool {
    LFU.load(Ordering::Relaxed)
}

/// Switches the stamps between LRU and LFU (the policy changed).
pub fn set_lfu(on: bool) {
    LFU.store(on, Ordering::Relaxed);
}

/// Do shards keep a frequency sketch ([`super::sketch`]) for eviction to consult? On
/// while a limit is set under an LRU or LFU policy.
#[inline]
pub fn sketching() -> bool {
    SKETCHING.load(Ordering::Relaxed)
}

/// Switches the shards' frequency sketches on or off (limit or policy changed).
pub fn set_sketching(on: bool) {
    SKETCHING.store(on, Ordering::Relaxed);
}

/// Redis's `lfu-log-factor` and `lfu-decay-time` (minutes per halving step).
pub fn set_lfu_tuning(log_factor: u32, decay_time: u32) {
    LFU_LOG_FACTOR.store(log_factor, Ordering::Relaxed);
    LFU_DECAY_TIME.store(decay_time, Ordering::Relaxed);
}

/// Records the current time for stamping new keys.
#[inline]
pub(crate) fn observe_now(now: UnixMillis) {
    if NOW_MS.load(Ordering::Relaxed) != now {
        NOW_MS.store(now, Ordering::Relaxed);
    }
}

/// The latest time any store read ([`observe_now`]).
#[inline]
pub(crate) fn now() -> UnixMillis {
    NOW_MS.load(Ordering::Relaxed)
}

/// The stamp of a key created now.
pub(crate) fn fresh() -> u32 {
    let now = NOW_MS.load(Ordering::Relaxed);
    if lfu() {
        lfu_stamp(now, LFU_INIT_VAL)
    } else {
        lru_clock(now) | PROBATION
    }
}

#[inline]
fn lru_clock(now: UnixMillis) -> u32 {
    (now.div_euclid(LRU_RESOLUTION_MS) as u32) & LRU_MASK
}

#[inline]
fn minutes(now: UnixMillis) -> u32 {
    (now.div_euclid(60_000) as u32) & 0xFFFF
}

#[inline]
fn lfu_stamp(now: UnixMillis, counter: u32) -> u32 {
    minutes(now) << 8 | counter.min(255)
}

/// A key was read or written at `now` (Redis's `updateLFU` / LRU clock update). The
/// slot is written only when the stamp changes: a hot key read by every core is
/// written once per clock tick (LRU) or counter step (LFU), not once per read.
#[inline]
pub(crate) fn touch(access: &Access, now: UnixMillis) {
    let old = access.get();
    let new = if lfu() {
        let counter = log_incr(decayed(old, now));
        lfu_stamp(now, counter)
    } else {
        lru_clock(now)
    };
    if new != old {
        access.set(new);
    }
}

/// The LFU counter of `stamp` after its decay up to `now` (Redis's `LFUDecrAndReturn`).
pub(crate) fn decayed(stamp: u32, now: UnixMillis) -> u32 {
    let counter = stamp & 0xFF;
    let last = stamp >> 8;
    let elapsed = minutes(now).wrapping_sub(last) & 0xFFFF;
    let decay = LFU_DECAY_TIME.load(Ordering::Relaxed);
    let periods = elapsed.checked_div(decay).unwrap_or(0);
    counter.saturating_sub(periods)
}

/// Redis's `LFULogIncr`: the counter grows with probability 1/((c-5)·factor + 1).
fn log_incr(counter: u32) -> u32 {
    if counter >= 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * f64::from(LFU_LOG_FACTOR.load(Ordering::Relaxed)) + 1.0);
    if unit_random() < p {
        counter + 1
    } else {
        counter
    }
}

/// Milliseconds since the key was last touched, by its LRU stamp.
pub(crate) fn idle_ms(stamp: u32, now: UnixMillis) -> u64 {
    let ticks = lru_clock(now).wrapping_sub(stamp & LRU_MASK) & LRU_MASK;
    u64::from(ticks) * LRU_RESOLUTION_MS as u64
}

/// The age LRU eviction orders keys by: the idle time, plus half the current eviction
/// age for a key on probation (written, not read since).
pub(crate) fn lru_age(stamp: u32, now: UnixMillis) -> u64 {
    let idle = idle_ms(stamp, now);
    if stamp & PROBATION != 0 {
        idle + EVICTION_AGE_MS.load(Ordering::Relaxed) / 2
    } else {
        idle
    }
}

/// LRU eviction took a key of this age ([`lru_age`]): fold it into the running
/// average (weight 1/64) that sets the probation offset.
pub(crate) fn note_evicted_age(age: u64) {
    let old = EVICTION_AGE_MS.load(Ordering::Relaxed);
    let new = if old == 0 {
        age
    } else {
        old - old / 64 + age / 64
    };
    EVICTION_AGE_MS.store(new, Ordering::Relaxed);
}

/// A number in [0, 1) from a per-thread xorshift generator (not for secrets).
fn unit_random() -> f64 {
    thread_local!(static STATE: Cell<u64> = const { Cell::new(0x9E37_79B9_7F4A_7C15) });
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lru_idle_time_counts_from_the_last_touch_and_wraps() {
        let t0: UnixMillis = 1_700_000_000_000;
        let stamp = lru_clock(t0) | PROBATION;
        assert_eq!(idle_ms(stamp, t0), 0);
        assert_eq!(idle_ms(stamp, t0 + 2_000), 2_000);
        // Past the 23-bit wrap the clock compares modulo its range.
        let wrap = (1i64 << 23) * LRU_RESOLUTION_MS;
        assert_eq!(idle_ms(stamp, t0 + wrap + 500), 500);
    }

    #[test]
    fn a_key_written_and_not_read_since_is_older_to_lru_eviction_until_read() {
        let t0: UnixMillis = 1_700_000_000_000;
        note_evicted_age(60_000);
        let written = lru_clock(t0) | PROBATION;
        assert_eq!(idle_ms(written, t0), 0, "OBJECT IDLETIME ignores probation");
        assert!(lru_age(written, t0) > 0);
        let access = Access::new(written);
        set_lfu(false);
        touch(&access, t0);
        assert_eq!(lru_age(access.get(), t0), 0, "a read ends probation");
    }

    #[test]
    fn lfu_counters_decay_one_per_period_and_grow_ever_more_slowly() {
        let t0: UnixMillis = 1_700_000_000_000;
        let s = lfu_stamp(t0, 10);
        assert_eq!(decayed(s, t0), 10);
        assert_eq!(decayed(s, t0 + 3 * 60_000), 7);
        assert_eq!(decayed(s, t0 + 60 * 60_000), 0);
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = log_incr(c);
        }
        // With factor 10, a thousand hits lift the counter by about 10-20, not 1000.
        assert!(c > LFU_INIT_VAL + 3 && c < 40, "{c}");
    }
}
