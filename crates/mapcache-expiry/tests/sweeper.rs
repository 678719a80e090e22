//! The sweeper against a fake store shard: a `Mutex<DeadlineIndex<u64>>` plus a `HashMap`
//! of key -> deadline, driven by a `ManualClock`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use mapcache_expiry::{
    Clock, DeadlineIndex, ManualClock, ShardSweep, SweepBudget, SweepShard, Sweeper, UnixMillis,
};

#[derive(Debug, Default)]
struct Inner {
    index: DeadlineIndex<u64>,
    table: HashMap<u64, Option<UnixMillis>>,
}

/// Behaves like the store's shard: pops due keys, re-checks the entry's deadline, removes.
#[derive(Debug, Default)]
struct FakeShard {
    inner: Mutex<Inner>,
    /// Largest `max_keys` any call asked for.
    max_asked: AtomicUsize,
    calls: AtomicUsize,
    /// Every (shard id, max_keys) call, when tracing visits.
    id: usize,
    log: Option<std::sync::Arc<Mutex<Vec<usize>>>>,
    /// Extra time a sweep takes.
    delay: Duration,
}

impl FakeShard {
    fn with_id(id: usize) -> Self {
        Self {
            id,
            ..Self::default()
        }
    }

    fn set(&self, key: u64, deadline: Option<UnixMillis>) {
        let mut g = self.inner.lock().unwrap();
        if let Some(Some(old)) = g.table.insert(key, deadline) {
            assert!(g.index.remove(&key, old));
        }
        if let Some(d) = deadline {
            g.index.insert(key, d);
        }
    }

    fn len(&self) -> usize {
        self.inner.lock().unwrap().table.len()
    }

    fn due(&self, now: UnixMillis) -> usize {
        let g = self.inner.lock().unwrap();
        g.table
            .values()
            .filter(|d| d.is_some_and(|d| d <= now))
            .count()
    }
}

impl SweepShard for FakeShard {
    fn sweep_due(&self, now: UnixMillis, max_keys: usize) -> ShardSweep {
        self.max_asked.fetch_max(max_keys, Ordering::Relaxed);
        self.calls.fetch_add(1, Ordering::Relaxed);
        if let Some(log) = &self.log {
            log.lock().unwrap().push(self.id);
        }
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        let mut due = Vec::new();
        let mut removed_values = Vec::new();
        let more_due;
        {
            let mut g = self.inner.lock().unwrap();
            g.index.pop_due(now, max_keys, &mut due);
            for (k, d) in &due {
                // Re-check against the entry: the deadline may have changed.
                if g.table.get(k) == Some(&Some(*d)) {
                    removed_values.push(g.table.remove(k));
                }
            }
            more_due = g.index.has_due(now);
        }
        // Values dropped outside the lock.
        let removed = removed_values.len();
        drop(removed_values);
        ShardSweep { removed, more_due }
    }

    fn next_deadline(&self) -> Option<UnixMillis> {
        self.inner.lock().unwrap().index.next_deadline()
    }
}

fn refs(shards: &[FakeShard]) -> Vec<&dyn SweepShard> {
    shards.iter().map(|s| s as &dyn SweepShard).collect()
}

#[test]
fn a_million_keys_with_one_deadline_are_reclaimed_in_bounded_passes() {
    const SHARDS: usize = 64;
    const KEYS: u64 = 1_000_000;
    let clock = ManualClock::new(1_700_000_000_000);
    let deadline = clock.now_ms() + 10_000;
    let shards: Vec<FakeShard> = (0..SHARDS).map(FakeShard::with_id).collect();
    for k in 0..KEYS {
        shards[(k % SHARDS as u64) as usize].set(k, Some(deadline));
    }
    // A few keys without a deadline and a few later ones survive.
    for k in KEYS..KEYS + 64 {
        shards[(k % SHARDS as u64) as usize].set(k, None);
        shards[(k % SHARDS as u64) as usize].set(k + 64, Some(deadline + 60_000));
    }
    let shard_refs = refs(&shards);
    let budget = SweepBudget {
        max_keys_per_pass: 20_000,
        max_keys_per_shard_batch: 256,
        // Generous: this test is about the key budget (debug builds are slow).
        max_time: Duration::from_secs(60),
    };
    let mut sweeper = Sweeper::new(budget);

    // Nothing due yet.
    let r = sweeper.pass(&shard_refs, clock.now_ms());
    assert_eq!(r.removed, 0);
    assert!(!r.more_due);
    assert_eq!(
        sweeper.next_wake(&r, &shard_refs, clock.now_ms(), Duration::from_secs(60)),
        Duration::from_secs(10)
    );

    clock.set(deadline);
    let mut total = 0;
    let mut passes = 0;
    loop {
        let r = sweeper.pass(&shard_refs, clock.now_ms());
        passes += 1;
        assert!(r.removed <= budget.max_keys_per_pass, "{r:?}");
        total += r.removed;
        if r.more_due {
            assert!(r.hit_key_budget, "{r:?}");
            assert_eq!(r.removed, budget.max_keys_per_pass);
            assert_eq!(
                sweeper.next_wake(&r, &shard_refs, clock.now_ms(), Duration::from_millis(100)),
                Duration::ZERO
            );
        } else {
            break;
        }
        assert!(passes <= 100, "no progress");
    }
    assert_eq!(total, KEYS as usize);
    assert_eq!(passes, 50, "1,000,000 / 20,000 full passes");
    for s in &shards {
        assert!(s.max_asked.load(Ordering::Relaxed) <= budget.max_keys_per_shard_batch);
        assert_eq!(s.due(clock.now_ms()), 0);
        assert_eq!(s.len(), 2, "the persistent key and the later key survive");
    }
    // Idle now: sleep until the later deadline, capped.
    let r = sweeper.pass(&shard_refs, clock.now_ms());
    assert_eq!((r.removed, r.more_due), (0, false));
    assert_eq!(
        sweeper.next_wake(&r, &shard_refs, clock.now_ms(), Duration::from_millis(100)),
        Duration::from_millis(100)
    );
    assert_eq!(
        sweeper.next_wake(&r, &shard_refs, clock.now_ms(), Duration::from_secs(3600)),
        Duration::from_secs(60)
    );
}

#[test]
fn a_busy_shard_does_not_starve_the_others() {
    const SHARDS: usize = 8;
    let clock = ManualClock::new(0);
    let shards: Vec<FakeShard> = (0..SHARDS).map(FakeShard::with_id).collect();
    // Shard 0: 100,000 due keys. Others: 10 each.
    for k in 0..100_000u64 {
        shards[0].set(k, Some(5));
    }
    for (i, s) in shards.iter().enumerate().skip(1) {
        for k in 0..10u64 {
            s.set(1_000_000 * i as u64 + k, Some(5));
        }
    }
    clock.set(5);
    let shard_refs = refs(&shards);
    let mut sweeper = Sweeper::new(SweepBudget {
        max_keys_per_pass: 1_000,
        max_keys_per_shard_batch: 256,
        max_time: Duration::from_secs(60),
    });
    let r = sweeper.pass(&shard_refs, clock.now_ms());
    assert_eq!(r.removed, 1_000);
    assert!(r.more_due && r.hit_key_budget);
    assert_eq!(r.shards_visited, SHARDS);
    // One pass reached every shard: the small ones are clean, shard 0 still has work.
    for s in &shards[1..] {
        assert_eq!(s.len(), 0, "shard {} starved", s.id);
    }
    assert!(shards[0].len() > 90_000);
    // Shard 0 got one batch per round, not the whole budget.
    assert!(shards[0].calls.load(Ordering::Relaxed) >= 2);

    // Keys that become due later in other shards are reached within the next pass even
    // though shard 0 still has ~99,000 due keys.
    clock.set(10);
    for (i, s) in shards.iter().enumerate().skip(1) {
        s.set(2_000_000 * i as u64, Some(10));
    }
    let r = sweeper.pass(&shard_refs, clock.now_ms());
    assert!(r.more_due);
    for s in &shards[1..] {
        assert_eq!(s.len(), 0, "shard {} starved", s.id);
    }
}

#[test]
fn passes_resume_at_the_saved_cursor() {
    const SHARDS: usize = 5;
    let log = std::sync::Arc::new(Mutex::new(Vec::new()));
    let shards: Vec<FakeShard> = (0..SHARDS)
        .map(|id| FakeShard {
            id,
            log: Some(log.clone()),
            ..FakeShard::default()
        })
        .collect();
    for (i, s) in shards.iter().enumerate() {
        for k in 0..1_000u64 {
            s.set(k + 10_000 * i as u64, Some(1));
        }
    }
    let shard_refs = refs(&shards);
    // Budget of one batch per pass: each pass visits exactly one shard.
    let mut sweeper = Sweeper::new(SweepBudget {
        max_keys_per_pass: 100,
        max_keys_per_shard_batch: 100,
        max_time: Duration::from_secs(60),
    });
    for _ in 0..12 {
        let r = sweeper.pass(&shard_refs, 1);
        assert_eq!((r.removed, r.batches, r.shards_visited), (100, 1, 1));
    }
    assert_eq!(
        *log.lock().unwrap(),
        vec![0, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0, 1]
    );
    assert_eq!(sweeper.cursor(), 2);

    // A budget that is not a multiple of the batch: the last call asks for the remainder.
    log.lock().unwrap().clear();
    let mut sweeper = Sweeper::new(SweepBudget {
        max_keys_per_pass: 250,
        max_keys_per_shard_batch: 100,
        max_time: Duration::from_secs(60),
    });
    let r = sweeper.pass(&shard_refs, 1);
    assert_eq!((r.removed, r.batches), (250, 3));
    assert_eq!(*log.lock().unwrap(), vec![0, 1, 2]);
    assert_eq!(sweeper.cursor(), 3);
}

#[test]
fn a_full_clean_round_ends_the_pass() {
    let shards: Vec<FakeShard> = (0..4).map(FakeShard::with_id).collect();
    shards[2].set(1, Some(10));
    shards[2].set(2, Some(10));
    shards[3].set(3, Some(50));
    let shard_refs = refs(&shards);
    let mut sweeper = Sweeper::new(SweepBudget::default());
    let r = sweeper.pass(&shard_refs, 20);
    assert_eq!(r.removed, 2);
    assert!(!r.more_due && !r.hit_key_budget && !r.hit_time_budget);
    assert_eq!(r.batches, 4, "one round");
    assert_eq!(r.shards_visited, 4);
    assert_eq!(
        sweeper.next_wake(&r, &shard_refs, 20, Duration::from_millis(100)),
        Duration::from_millis(30)
    );
    // Already-due deadline with more_due false (inserted after the pass): floored at 1 ms.
    shards[0].set(9, Some(20));
    assert_eq!(
        sweeper.next_wake(&r, &shard_refs, 20, Duration::from_millis(100)),
        Duration::from_millis(1)
    );
    // No deadline at all: max_idle; a tiny max_idle is floored at 1 ms.
    let empty: Vec<FakeShard> = (0..3).map(FakeShard::with_id).collect();
    let empty_refs = refs(&empty);
    let r = sweeper.pass(&empty_refs, 20);
    assert_eq!((r.removed, r.batches, r.more_due), (0, 3, false));
    assert_eq!(
        sweeper.next_wake(&r, &empty_refs, 20, Duration::from_millis(100)),
        Duration::from_millis(100)
    );
    assert_eq!(
        sweeper.next_wake(&r, &empty_refs, 20, Duration::ZERO),
        Duration::from_millis(1)
    );
    // No shards at all.
    let r = sweeper.pass(&[], 20);
    assert_eq!(
        r,
        mapcache_expiry::SweepReport {
            elapsed: r.elapsed,
            ..Default::default()
        }
    );
    assert_eq!(
        sweeper.next_wake(&r, &[], 20, Duration::from_millis(100)),
        Duration::from_millis(100)
    );
}

#[test]
fn the_time_budget_stops_a_pass_between_batches() {
    let shards: Vec<FakeShard> = (0..4)
        .map(|id| FakeShard {
            id,
            delay: Duration::from_millis(3),
            ..FakeShard::default()
        })
        .collect();
    for (i, s) in shards.iter().enumerate() {
        for k in 0..100u64 {
            s.set(k + 1_000 * i as u64, Some(0));
        }
    }
    let shard_refs = refs(&shards);
    let mut sweeper = Sweeper::new(SweepBudget {
        max_keys_per_pass: 1_000,
        max_keys_per_shard_batch: 10,
        max_time: Duration::from_millis(1),
    });
    let r = sweeper.pass(&shard_refs, 0);
    assert!(
        r.hit_time_budget && !r.hit_key_budget && r.more_due,
        "{r:?}"
    );
    assert_eq!((r.batches, r.removed), (1, 10));
    assert_eq!(sweeper.cursor(), 1);
    assert!(r.elapsed >= Duration::from_millis(3));
}

#[test]
fn rewritten_deadlines_are_not_swept_early() {
    let shard = FakeShard::default();
    shard.set(1, Some(10));
    shard.set(2, Some(10));
    shard.set(1, Some(100)); // EXPIRE again: moves in the index
    shard.set(2, None); // PERSIST
    let shard_refs: [&dyn SweepShard; 1] = [&shard];
    let mut sweeper = Sweeper::new(SweepBudget::default());
    let r = sweeper.pass(&shard_refs, 50);
    assert_eq!((r.removed, r.more_due), (0, false));
    assert_eq!(shard.len(), 2);
    let r = sweeper.pass(&shard_refs, 100);
    assert_eq!(r.removed, 1);
    assert_eq!(shard.len(), 1);
}

/// A shard that claims due keys but never removes any cannot spin a pass forever.
#[test]
fn a_shard_that_makes_no_progress_ends_the_pass() {
    #[derive(Debug)]
    struct Stuck;
    impl SweepShard for Stuck {
        fn sweep_due(&self, _now: UnixMillis, _max: usize) -> ShardSweep {
            ShardSweep {
                removed: 0,
                more_due: true,
            }
        }
        fn next_deadline(&self) -> Option<UnixMillis> {
            Some(0)
        }
    }
    let mut sweeper = Sweeper::new(SweepBudget {
        max_time: Duration::MAX,
        ..SweepBudget::default()
    });
    let r = sweeper.pass(&[&Stuck, &Stuck], 10);
    assert_eq!((r.removed, r.batches, r.more_due), (0, 2, false));
    // So the server sleeps instead of spinning.
    assert_eq!(
        sweeper.next_wake(&r, &[&Stuck], 10, Duration::from_millis(100)),
        Duration::from_millis(1)
    );
}

#[test]
fn budget_defaults_are_documented_values() {
    let b = SweepBudget::default();
    assert_eq!(b.max_keys_per_pass, 20_000);
    assert_eq!(b.max_keys_per_shard_batch, 256);
    assert_eq!(b.max_time, Duration::from_millis(2));
}
