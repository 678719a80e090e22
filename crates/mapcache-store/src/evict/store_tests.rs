//! Eviction through a whole store, with a gauge the test sets.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use mapcache_expiry::ManualClock;

use super::{MemoryGauge, OutOfMemory, Policy};
use crate::feed::{ChangeKind, Recorder, WriteListener};
use crate::{Store, StoreConfig, Value};

#[derive(Debug, Default)]
struct Gauge(AtomicU64);

impl MemoryGauge for Gauge {
    fn used_bytes(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed))
    }
}

/// The tests' clocks start at the real time: new keys are stamped with the latest time
/// any store of the process read (`access::observe_now`), and other tests of this
/// binary run on the system clock beside these.
fn t0() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// The policy's LFU and sketch switches are process-wide (`access.rs`): these tests
/// set policies, so they run one at a time (the other tests of this crate never set
/// one).
pub(crate) fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn store_with(keys: usize, ttl_every: usize) -> (Store, Arc<ManualClock>, Arc<Gauge>) {
    let start = t0();
    let clock = Arc::new(ManualClock::new(start));
    let store = Store::with_clock(
        StoreConfig {
            databases: 2,
            shard_bits: 4,
        },
        clock.clone(),
    );
    let gauge = Arc::new(Gauge::default());
    store.limits().set_gauge(gauge.clone());
    let now = store.now();
    let db = store.db(0).unwrap();
    for i in 0..keys {
        let ttl = (ttl_every != 0 && i % ttl_every == 0).then_some(start + 3_600_000 + i as i64);
        db.update(format!("k{i}").as_bytes(), now, |k| {
            k.insert(Value::Str(b"v".as_slice().into()), ttl)
        })
        .unwrap();
    }
    (store, clock, gauge)
}

fn present(store: &Store, i: usize) -> bool {
    let now = store.now();
    store
        .db(0)
        .unwrap()
        .peek(format!("k{i}").as_bytes(), now, |e| e.is_some())
}

#[test]
fn noeviction_refuses_and_nothing_is_refused_under_the_limit() {
    let _serial = one_at_a_time();
    let (store, _clock, gauge) = store_with(100, 0);
    let now = store.now();
    assert_eq!(store.make_room(now), Ok(()), "no limit set");
    store.limits().set_maxmemory(1_000_000);
    gauge.0.store(999_999, Ordering::Relaxed);
    assert_eq!(store.make_room(now), Ok(()));
    gauge.0.store(1_000_001, Ordering::Relaxed);
    store.limits().set_maxmemory(1_000_000); // forces a fresh reading
    assert_eq!(store.make_room(now), Err(OutOfMemory));
    assert_eq!(store.db(0).unwrap().len(now), 100);
}

#[test]
fn allkeys_lru_evicts_the_keys_not_read_since_and_reports_them() {
    let _serial = one_at_a_time();
    let (store, clock, gauge) = store_with(2000, 0);
    let rec = Arc::new(Recorder::default());
    store
        .feed()
        .subscribe(rec.clone() as Arc<dyn WriteListener>);
    clock.advance(10_000);
    let now = store.now();
    let db = store.db(0).unwrap();
    for i in 0..1000 {
        db.get(format!("k{i}").as_bytes(), now, |e| assert!(e.is_some()));
    }
    store.limits().set_policy(Policy::AllKeysLru);
    store.limits().set_maxmemory(1_000_000);
    // Over by about 100 keys' worth.
    gauge.0.store(1_000_000 + 100 * 90, Ordering::Relaxed);
    store.make_room(now).unwrap();
    let evicted: Vec<usize> = (0..2000).filter(|&i| !present(&store, i)).collect();
    assert!(
        !evicted.is_empty() && evicted.len() <= super::STEP_KEYS,
        "{evicted:?}"
    );
    assert!(
        evicted.iter().all(|&i| i >= 1000),
        "a key read since went: {evicted:?}"
    );
    assert_eq!(store.limits().evicted_keys(), evicted.len() as u64);
    let changes = rec.take();
    assert_eq!(changes.len(), evicted.len());
    assert!(changes.iter().all(|c| c.kind == ChangeKind::Evicted));
}

#[test]
fn volatile_policies_take_only_keys_with_a_ttl_and_then_refuse() {
    let _serial = one_at_a_time();
    for policy in [
        Policy::VolatileLru,
        Policy::VolatileRandom,
        Policy::VolatileTtl,
    ] {
        let (store, _clock, gauge) = store_with(400, 4);
        let now = store.now();
        store.limits().set_policy(policy);
        store.limits().set_maxmemory(1_000_000);
        gauge.0.store(2_000_000, Ordering::Relaxed);
        // The gauge never comes down: keep making room until nothing is left to take.
        let mut rounds = 0;
        while store.make_room(now).is_ok() {
            rounds += 1;
            store.limits().set_maxmemory(1_000_000);
            assert!(rounds < 1000, "{policy:?} never ran out of candidates");
        }
        for i in 0..400 {
            assert_eq!(present(&store, i), i % 4 != 0, "{policy:?} key {i}");
        }
    }
}

#[test]
fn volatile_ttl_takes_the_nearest_deadline_first() {
    let _serial = one_at_a_time();
    let (store, _clock, gauge) = store_with(400, 2);
    let now = store.now();
    store.limits().set_policy(Policy::VolatileTtl);
    store.limits().set_maxmemory(1_000_000);
    gauge.0.store(1_000_000 + 20 * 90, Ordering::Relaxed);
    store.make_room(now).unwrap();
    let gone: Vec<usize> = (0..400).filter(|&i| !present(&store, i)).collect();
    assert!(!gone.is_empty());
    // Only TTL keys go. Deadlines grow with i, and each shard gives up the earliest of
    // its sampled candidates (an approximation, as Redis's pool is): most of what went
    // is from the early half, though a shard's sample may hold a later one.
    assert!(gone.iter().all(|&i| i % 2 == 0), "{gone:?}");
    let early = gone.iter().filter(|&&i| i < 200).count();
    assert!(early * 5 >= gone.len() * 4, "{gone:?}");
}

#[test]
fn a_database_allocates_its_shards_on_first_use_and_eviction_skips_the_others() {
    let _serial = one_at_a_time();
    let (store, _clock, gauge) = store_with(0, 0);
    let now = store.now();
    let (db0, db1) = (store.db(0).unwrap(), store.db(1).unwrap());
    assert_eq!(db0.shard_count(), 0, "no key ever touched");
    assert_eq!((db0.len(now), db0.stats().keys), (0, 0));
    assert_eq!(db0.scan(0, 10, Default::default(), now).keys.len(), 0);
    assert_eq!(db0.random_key(now, 7), None);
    assert_eq!(
        db0.shard_count(),
        0,
        "walks over the database allocate nothing"
    );
    db1.update(b"k", now, |k| {
        k.insert(Value::Str(b"v".as_slice().into()), None)
    })
    .unwrap();
    assert_eq!((db0.shard_count(), db1.shard_count()), (0, 16));
    store.limits().set_policy(Policy::AllKeysLru);
    store.limits().set_maxmemory(1000);
    gauge.0.store(2000, Ordering::Relaxed);
    assert_eq!(store.make_room(now), Ok(()), "db 1's key is evicted");
    assert_eq!(db1.len(now), 0);
    assert_eq!(db0.shard_count(), 0);
}

#[test]
fn the_background_leaves_eviction_to_commands_while_they_evict() {
    let _serial = one_at_a_time();
    let (store, clock, gauge) = store_with(2000, 0);
    store.limits().set_policy(Policy::AllKeysRandom);
    store.limits().set_maxmemory(1_000_000);
    // Far over: neither a command's step nor the background can bring it under.
    gauge.0.store(2_000_000, Ordering::Relaxed);
    let now = store.now();
    let time = std::time::Duration::ZERO; // eight keys a call
    assert!(
        store.evict_background(time),
        "nothing evicts for itself: the background evicts and says it is still over"
    );
    let after_background = store.limits().evicted_keys();
    assert!(after_background > 0);
    store.make_room(now).unwrap();
    let after_command = store.limits().evicted_keys();
    assert!(after_command > after_background, "the command evicted");
    clock.advance(super::COMMANDS_EVICTING_MS - 1);
    assert!(!store.evict_background(time));
    assert_eq!(
        store.limits().evicted_keys(),
        after_command,
        "the background evicted beside a command"
    );
    clock.advance(1);
    assert!(store.evict_background(time));
    assert!(store.limits().evicted_keys() > after_command);
}

#[test]
fn insert_str_copies_its_bytes_whatever_the_key_and_the_slot() {
    let (store, _clock, _gauge) = store_with(0, 0);
    let now = store.now();
    let db = store.db(0).unwrap();
    let long_key = vec![b'k'; 300];
    for key in [b"short".to_vec(), long_key] {
        // New key, then over a slot of another length, then over one of the same.
        for len in [100, 50, 50] {
            let mut source = vec![b'a' + (len % 26) as u8; len];
            db.update(&key, now, |k| k.insert_str(&source, Some(now + 60_000)))
                .unwrap();
            source.fill(b'#'); // a string still borrowing `source` would read '#'
            let want = vec![b'a' + (len % 26) as u8; len];
            db.get(&key, now, |e| {
                let e = e.expect("stored");
                assert_eq!(e.value, Value::string(&want), "key of {}", key.len());
                assert_eq!(e.deadline(), Some(now + 60_000));
            });
        }
    }
}
