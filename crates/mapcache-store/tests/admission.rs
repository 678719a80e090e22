//! TinyLFU's admission through a whole store: while shards evict, a new key asked for
//! less often than the next victim goes first, and a key asked for before it was
//! written (its misses counted by the frequency sketch) is kept like the keys that
//! are read. A file of its own: the eviction switches (`maxmemory-policy`, whether
//! shards keep sketches) are process-wide, and other tests set other policies.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use mapcache_expiry::ManualClock;
use mapcache_store::evict::{MemoryGauge, Policy};
use mapcache_store::{Store, StoreConfig, Value};

#[derive(Debug, Default)]
struct Gauge(AtomicU64);

impl MemoryGauge for Gauge {
    fn used_bytes(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Relaxed))
    }
}

const MAX: u64 = 1_000_000;

#[test]
fn a_new_key_asked_for_less_than_the_victims_goes_first_and_misses_are_remembered() {
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let store = Store::with_clock(
        StoreConfig {
            databases: 1,
            shard_bits: 4,
        },
        clock,
    );
    let gauge = Arc::new(Gauge::default());
    store.limits().set_gauge(gauge.clone());
    store.limits().set_policy(Policy::AllKeysLru);
    store.limits().set_maxmemory(MAX);
    let now = store.now();
    let db = store.db(0).unwrap();
    let put = |k: &str| {
        db.update(k.as_bytes(), now, |m| {
            m.insert(Value::Str(b"v".as_slice().into()), None)
        })
        .unwrap()
    };
    let present = |k: &str| db.peek(k.as_bytes(), now, |e| e.is_some());
    for i in 0..2000 {
        put(&format!("k{i}"));
    }
    for _ in 0..3 {
        for i in 0..2000 {
            db.get(format!("k{i}").as_bytes(), now, |e| assert!(e.is_some()));
        }
    }
    // Just over the limit: each make_room evicts one key, shards taking turns; a lap
    // of the 16 shards fills every shard's pool of candidates.
    gauge.0.store(MAX + 1, Ordering::Relaxed);
    let evict_one_lap = || {
        for _ in 0..16 {
            store.limits().set_maxmemory(MAX); // a fresh reading: the gauge's
            store.make_room(now).unwrap();
        }
    };
    evict_one_lap();
    assert_eq!(store.limits().evicted_keys(), 16);
    // "back" was asked for five times before it was written, "new" never.
    for _ in 0..5 {
        db.get(b"back", now, |e| assert!(e.is_none()));
    }
    put("new");
    put("back");
    evict_one_lap();
    assert_eq!(store.limits().evicted_keys(), 32);
    assert!(!present("new"), "the new key, never asked for, went first");
    assert!(present("back"), "the key asked for before its write stays");
    // Without a limit there is no sketch and no admission: a new key stays.
    store.limits().set_maxmemory(0);
    put("later");
    assert!(store.make_room(now).is_ok());
    assert!(present("later"));
}
