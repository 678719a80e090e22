//! Expiry without a timer per key: deadline arithmetic, clocks, a per-shard deadline index
//! and a budgeted round-robin sweeper.
//!
//! mapcache's store keeps each key's deadline (absolute Unix milliseconds, as Redis does)
//! inside the entry **and** in its shard's [`DeadlineIndex`], updating both under the
//! shard's write lock. Every access checks the entry's deadline (lazy expiry), so an
//! expired key is never observable; one [`Sweeper`] reclaims the memory of expired keys
//! that nobody touches, in bounded batches.
//!
//! # Invariants
//!
//! - **No tokio, no store.** This crate depends on `std` and `thiserror` only. The store
//!   plugs in through the [`SweepShard`] trait; the server owns the task that calls
//!   [`Sweeper::pass`] and sleeps for [`Sweeper::next_wake`].
//! - **No timer and no task per key.** A deadline costs one entry in a [`DeadlineIndex`]
//!   (an ordered set). 10,000 — or 1,000,000 — keys expiring in the same millisecond are
//!   just that many index entries, reclaimed over several bounded passes.
//! - **Bounded work per call.** [`DeadlineIndex::pop_due`] takes at most `max` entries and
//!   never scans entries that are not due. [`Sweeper::pass`] removes at most
//!   [`SweepBudget::max_keys_per_pass`] keys, asks any one shard for at most
//!   [`SweepBudget::max_keys_per_shard_batch`] keys per call (one lock hold), and starts
//!   no batch after [`SweepBudget::max_time`].
//! - **Fair.** The sweeper visits shards round-robin, one batch per visit, and resumes at
//!   the saved cursor, so one shard full of due keys cannot starve the others.
//! - **Adaptive.** While due keys remain, [`Sweeper::next_wake`] says "run again now"
//!   (like Redis repeating its active expire cycle), but every pass is bounded, so clients
//!   interleave; when idle it sleeps until the next deadline, capped.
//! - **One rule for "due":** `deadline <= now` ([`is_due`]).
//! - **Redis's arithmetic.** [`deadline`] reports overflow exactly where Redis 7.0 replies
//!   "invalid expire time"; [`remaining_secs`] rounds as `TTL` does.
//!
//! # Example
//!
//! ```
//! use std::sync::Mutex;
//! use std::time::Duration;
//! use mapcache_expiry::*;
//!
//! struct Shard(Mutex<DeadlineIndex<u64>>);
//! impl SweepShard for Shard {
//!     fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
//!         let mut ix = self.0.lock().unwrap();
//!         let mut due = Vec::new();
//!         let removed = ix.pop_due(now, max_keys, &mut due);
//!         // A real store re-checks each entry's deadline and removes it from its table.
//!         ShardSweep { removed, more_due: ix.has_due(now) }
//!     }
//!     fn next_deadline(&self) -> Option<UnixMillis> {
//!         self.0.lock().unwrap().next_deadline()
//!     }
//! }
//!
//! let clock = ManualClock::new(1_000);
//! let shard = Shard(Mutex::new(DeadlineIndex::new()));
//! let when = deadline(clock.now_ms(), 5, TimeUnit::Seconds, Base::Relative).unwrap();
//! shard.0.lock().unwrap().insert(7, when);
//!
//! let mut sweeper = Sweeper::new(SweepBudget::default());
//! let shards: [&dyn SweepShard; 1] = [&shard];
//! let report = sweeper.pass(&shards, clock.now_ms());
//! assert_eq!(report.removed, 0);
//! let wake = sweeper.next_wake(&report, &shards, clock.now_ms(), Duration::from_secs(10));
//! assert_eq!(wake, Duration::from_secs(5));
//!
//! clock.advance(5_000);
//! assert_eq!(sweeper.pass(&shards, clock.now_ms()).removed, 1);
//! ```

mod clock;
mod deadline;
mod index;
mod sweep;

pub use clock::{Clock, ManualClock, SystemClock, UnixMillis};
pub use deadline::{
    deadline, is_due, is_positive, remaining_ms, remaining_secs, Base, DeadlineError, TimeUnit,
};
pub use index::{DeadlineIndex, MinKey, WINDOW_MS};
pub use sweep::{ShardSweep, SweepBudget, SweepReport, SweepShard, Sweeper};
