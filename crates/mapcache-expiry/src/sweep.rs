//! The budgeted round-robin sweeper.

use std::time::{Duration, Instant};

use crate::clock::UnixMillis;

/// What one [`SweepShard::sweep_due`] call did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShardSweep {
    /// Keys removed by this call.
    pub removed: usize,
    /// Whether due keys remain in this shard after the call.
    pub more_due: bool,
}

/// What the sweeper needs from one shard.
///
/// The store implements it: lock the shard, [`pop_due`](crate::DeadlineIndex::pop_due)
/// from its index, re-check each entry's deadline (it may have changed), remove the due
/// ones, unlock, then drop the removed values outside the lock. A shard with nothing due
/// should answer cheaply (e.g. check [`has_due`](crate::DeadlineIndex::has_due) under a
/// read lock first): an idle pass visits every shard once.
pub trait SweepShard {
    /// Removes at most `max_keys` keys due at `now` (`max_keys >= 1`). Returns how many were
    /// removed and whether due keys remain in this shard.
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep;

    /// The earliest deadline in this shard, if any (for the sweeper to know when to wake).
    fn next_deadline(&self) -> Option<UnixMillis>;
}

impl<S: SweepShard + ?Sized> SweepShard for &S {
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
        (**self).sweep_due(now, max_keys)
    }
    fn next_deadline(&self) -> Option<UnixMillis> {
        (**self).next_deadline()
    }
}

impl<S: SweepShard + ?Sized> SweepShard for std::sync::Arc<S> {
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
        (**self).sweep_due(now, max_keys)
    }
    fn next_deadline(&self) -> Option<UnixMillis> {
        (**self).next_deadline()
    }
}

/// How much work one [`Sweeper::pass`] may do.
///
/// A zero `max_keys_per_pass` or `max_keys_per_shard_batch` is treated as 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepBudget {
    /// At most this many keys are removed per pass. Default 20,000.
    pub max_keys_per_pass: usize,
    /// At most this many keys are removed per [`SweepShard::sweep_due`] call, which bounds
    /// one lock hold. Default 256.
    pub max_keys_per_shard_batch: usize,
    /// A pass stops starting new batches once this much time has gone (checked between
    /// batches, so one batch may overrun it). Default 2 ms.
    pub max_time: Duration,
}

impl SweepBudget {
    /// Default for [`max_keys_per_pass`](Self::max_keys_per_pass).
    pub const DEFAULT_MAX_KEYS_PER_PASS: usize = 20_000;
    /// Default for [`max_keys_per_shard_batch`](Self::max_keys_per_shard_batch).
    pub const DEFAULT_MAX_KEYS_PER_SHARD_BATCH: usize = 256;
    /// Default for [`max_time`](Self::max_time).
    pub const DEFAULT_MAX_TIME: Duration = Duration::from_millis(2);
}

impl Default for SweepBudget {
    /// 20,000 keys per pass, 256 keys per lock hold, 2 ms per pass.
    fn default() -> Self {
        Self {
            max_keys_per_pass: Self::DEFAULT_MAX_KEYS_PER_PASS,
            max_keys_per_shard_batch: Self::DEFAULT_MAX_KEYS_PER_SHARD_BATCH,
            max_time: Self::DEFAULT_MAX_TIME,
        }
    }
}

/// What one [`Sweeper::pass`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    /// Keys removed in the pass (never more than `max_keys_per_pass`).
    pub removed: usize,
    /// [`SweepShard::sweep_due`] calls made (one lock hold each).
    pub batches: usize,
    /// Distinct shards visited (at most the number of shards).
    pub shards_visited: usize,
    /// Whether due keys may remain: the pass stopped on a budget before a full round of
    /// shards reported nothing left due. False after a full round that removed nothing.
    pub more_due: bool,
    /// Wall time the pass took.
    pub elapsed: Duration,
    /// The pass stopped because it removed `max_keys_per_pass` keys.
    pub hit_key_budget: bool,
    /// The pass stopped because `max_time` had gone.
    pub hit_time_budget: bool,
}

/// The round-robin sweeper: one per server, covering the shards of all databases.
///
/// It holds only a cursor and a budget; the caller (a tokio task in the server) owns the
/// loop: `let r = sweeper.pass(&shards, clock.now_ms()); sleep(sweeper.next_wake(&r, ..))`.
#[derive(Debug, Clone)]
pub struct Sweeper {
    cursor: usize,
    budget: SweepBudget,
}

impl Sweeper {
    /// A sweeper starting at shard 0.
    pub fn new(budget: SweepBudget) -> Self {
        Self { cursor: 0, budget }
    }

    /// The budget each pass runs under.
    pub fn budget(&self) -> SweepBudget {
        self.budget
    }

    /// The shard the next pass starts at (taken modulo the number of shards).
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// One pass: visits shards round-robin from the saved cursor, one batch per visit,
    /// asking each for `min(max_keys_per_shard_batch, keys left in the pass budget)`, until
    /// the key budget is spent, the time budget is spent (checked after every batch), or
    /// `shards.len()` consecutive visits found nothing left due. Saves the cursor at the
    /// shard after the last one visited, so the next pass resumes there.
    ///
    /// A shard with many due keys gets one batch per round like every other shard, so it
    /// cannot starve them.
    pub fn pass(&mut self, shards: &[&dyn SweepShard], now: UnixMillis) -> SweepReport {
        let start = Instant::now();
        let n = shards.len();
        let mut report = SweepReport::default();
        if n == 0 {
            return report;
        }
        let max_pass = self.budget.max_keys_per_pass.max(1);
        let max_batch = self.budget.max_keys_per_shard_batch.max(1);
        let mut idx = self.cursor % n;
        // Consecutive visits whose shard reported nothing left due.
        let mut clean_streak = 0usize;
        // Consecutive visits that removed nothing: guards against a shard that keeps
        // claiming `more_due` without making progress (the pass would otherwise only stop
        // on the time budget).
        let mut idle_streak = 0usize;
        loop {
            let ask = max_batch.min(max_pass - report.removed);
            let res = shards[idx].sweep_due(now, ask);
            // Trust no implementation to honour `ask`: count at most `ask`.
            report.removed += res.removed.min(ask);
            report.batches += 1;
            if report.batches <= n {
                report.shards_visited += 1;
            }
            idx = (idx + 1) % n;
            if res.more_due {
                clean_streak = 0;
            } else {
                clean_streak += 1;
            }
            if res.removed == 0 {
                idle_streak += 1;
            } else {
                idle_streak = 0;
            }
            if clean_streak >= n || idle_streak >= n {
                break;
            }
            if report.removed >= max_pass {
                report.hit_key_budget = true;
                break;
            }
            if start.elapsed() >= self.budget.max_time {
                report.hit_time_budget = true;
                break;
            }
        }
        // A full round without progress reports `more_due: false` so the caller sleeps
        // (at least 1 ms) instead of spinning on a shard that cannot make progress.
        report.more_due = clean_streak < n && idle_streak < n;
        self.cursor = idx;
        report.elapsed = start.elapsed();
        report
    }

    /// How long to sleep before the next pass: zero when `report.more_due` (keep sweeping,
    /// like Redis repeating its cycle while many keys are stale, except each pass is
    /// bounded so clients interleave); otherwise until the earliest deadline of any shard,
    /// capped at `max_idle` and floored at 1 ms (the floor wins over a `max_idle` below
    /// 1 ms). With no deadline at all, `max_idle` (at least 1 ms).
    ///
    /// The caller should also re-run a pass early when a key gets a deadline sooner than
    /// the one it sleeps towards, or keep `max_idle` small (100 ms is fine: lazy expiry
    /// keeps expired keys invisible; the sweeper only reclaims memory).
    pub fn next_wake(
        &self,
        report: &SweepReport,
        shards: &[&dyn SweepShard],
        now: UnixMillis,
        max_idle: Duration,
    ) -> Duration {
        const FLOOR: Duration = Duration::from_millis(1);
        if report.more_due {
            return Duration::ZERO;
        }
        let earliest = shards.iter().filter_map(|s| s.next_deadline()).min();
        let wait = match earliest {
            None => max_idle,
            Some(d) => {
                let ms = u64::try_from(d.saturating_sub(now)).unwrap_or(0);
                Duration::from_millis(ms).min(max_idle)
            }
        };
        wait.max(FLOOR)
    }
}
