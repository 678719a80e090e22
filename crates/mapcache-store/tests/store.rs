//! The store's contracts: lazy expiry, SCAN completeness, atomic multi-key writes, sweeping.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use mapcache_expiry::{ManualClock, SweepBudget, Sweeper};
use mapcache_store::{Db, ScanFilter, Store, StoreConfig, Value};

const T0: i64 = 1_767_225_600_000;

fn store(bits: u32) -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    let s = Store::with_clock(
        StoreConfig {
            databases: 2,
            shard_bits: bits,
        },
        Arc::new(clock.clone()),
    );
    (s, clock)
}

fn set(db: &Db, now: i64, key: &[u8], val: &[u8], deadline: Option<i64>) {
    db.update(key, now, |k| k.insert(Value::string(val), deadline))
        .unwrap();
}

fn get(db: &Db, now: i64, key: &[u8]) -> Option<Bytes> {
    db.get(key, now, |e| {
        e.and_then(|e| e.value.as_str().map(|s| s.to_bytes()))
    })
}

#[test]
fn an_expired_key_is_invisible_to_every_accessor_before_any_sweep() {
    let (s, clock) = store(4);
    let db = s.db(0).unwrap();
    set(db, s.now(), b"k", b"v", Some(T0 + 10));
    set(db, s.now(), b"stay", b"v", None);
    assert_eq!(get(db, s.now(), b"k").as_deref(), Some(&b"v"[..]));
    assert_eq!(db.len(s.now()), 2);
    clock.advance(9);
    assert!(db.peek(b"k", s.now(), |e| e.is_some()));
    assert!(
        db.peek(b"k", s.now() + 1, |e| e.is_some()),
        "still there at its deadline, as in Redis"
    );
    clock.advance(2); // one past the deadline: gone
    let now = s.now();
    assert_eq!(get(db, now, b"k"), None);
    assert!(!db.peek(b"k", now, |e| e.is_some()));
    assert_eq!(db.len(now), 1);
    assert_eq!(db.keys(b"*", now), vec![Bytes::from_static(b"stay")]);
    let page = db.scan(0, 100, ScanFilter::default(), now);
    assert_eq!(page.keys, vec![Bytes::from_static(b"stay")]);
    assert_eq!(db.random_key(now, 7), Some(Bytes::from_static(b"stay")));
    // INFO's figures count stored entries, swept or not, as Redis's dictSize does
    // (O(1) per shard, so a scrape during a mass expiry costs nothing).
    let st = db.stats();
    assert_eq!((st.keys, st.expires), (2, 1));
    // A writer sees the key as absent, removes it and counts a lazy expiry.
    assert!(!db.update(b"k", now, |k| k.exists()).unwrap());
    let st = db.stats();
    assert_eq!((st.keys, st.expires, st.expired_lazy), (1, 0, 1));
}

#[test]
fn insert_replaces_the_ttl_and_set_value_keeps_it() {
    let (s, _clock) = store(4);
    let db = s.db(0).unwrap();
    let now = s.now();
    set(db, now, b"k", b"1", Some(now + 1000));
    db.update(b"k", now, |k| k.set_value(Value::string(b"2")))
        .unwrap();
    assert_eq!(
        db.peek(b"k", now, |e| e.unwrap().deadline()),
        Some(now + 1000)
    );
    set(db, now, b"k", b"3", None);
    assert_eq!(db.peek(b"k", now, |e| e.unwrap().deadline()), None);
    assert_eq!(db.stats().expires, 0, "the index forgot the old deadline");
}

#[test]
fn scan_returns_every_stable_key_exactly_once_while_others_churn() {
    for count in [1usize, 7, 1000] {
        let (s, _clock) = store(3);
        let db = s.db(0).unwrap();
        let now = s.now();
        let stable: HashSet<Vec<u8>> = (0..2000)
            .map(|i| format!("stable:{i}").into_bytes())
            .collect();
        for k in &stable {
            set(db, now, k, b"v", None);
        }
        let mut seen: Vec<Vec<u8>> = Vec::new();
        let mut cursor = 0;
        let mut step = 0u64;
        loop {
            // Churn between calls: tables grow and shrink under the cursor.
            for j in 0..20 {
                set(db, now, format!("churn:{step}:{j}").as_bytes(), b"x", None);
            }
            if step >= 5 {
                for j in 0..20 {
                    db.update(format!("churn:{}:{j}", step - 5).as_bytes(), now, |k| {
                        k.remove()
                    })
                    .unwrap();
                }
            }
            step += 1;
            let page = db.scan(cursor, count, ScanFilter::default(), now);
            seen.extend(page.keys.iter().map(|k| k.to_vec()));
            cursor = page.cursor;
            if cursor == 0 {
                break;
            }
            assert!(step < 1_000_000, "scan does not terminate");
        }
        let stable_seen: Vec<&Vec<u8>> =
            seen.iter().filter(|k| k.starts_with(b"stable:")).collect();
        let unique: HashSet<&Vec<u8>> = stable_seen.iter().copied().collect();
        assert_eq!(
            unique.len(),
            stable.len(),
            "COUNT {count}: a stable key was missed"
        );
        assert_eq!(
            stable_seen.len(),
            stable.len(),
            "COUNT {count}: a stable key came twice"
        );
    }
}

#[test]
fn scan_filters_by_pattern_and_type() {
    let (s, _clock) = store(2);
    let db = s.db(0).unwrap();
    let now = s.now();
    set(db, now, b"user:1", b"v", None);
    set(db, now, b"other", b"v", None);
    db.update(b"user:h", now, |k| k.insert(Value::new_hash(), None))
        .unwrap();
    let filter = ScanFilter {
        pattern: Some(b"user:*"),
        kind: Some(mapcache_store::Kind::String),
    };
    let mut keys = Vec::new();
    let mut cursor = 0;
    loop {
        let page = db.scan(cursor, 10, filter, now);
        keys.extend(page.keys);
        cursor = page.cursor;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(keys, vec![Bytes::from_static(b"user:1")]);
}

#[test]
fn multi_key_writes_are_never_seen_half_done() {
    let (s, _clock) = store(4);
    let s = Arc::new(s);
    let keys: Vec<Vec<u8>> = (0..8).map(|i| format!("k{i}").into_bytes()).collect();
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let s = s.clone();
            let keys = keys.clone();
            std::thread::spawn(move || {
                let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
                for round in 0..2000u32 {
                    let v = format!("{w}:{round}");
                    s.db(0)
                        .unwrap()
                        .update_many(&refs, s.now(), |m| {
                            for i in 0..m.len() {
                                m.with(i, |k| k.insert(Value::string(v.as_bytes()), None));
                            }
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    let refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
    for _ in 0..2000 {
        let values: Vec<Option<Value>> = s
            .db(0)
            .unwrap()
            .update_many(&refs, s.now(), |m| {
                (0..m.len())
                    .map(|i| m.with(i, |k| k.value().cloned()))
                    .collect()
            })
            .unwrap();
        assert!(
            values.windows(2).all(|w| w[0] == w[1]),
            "torn multi-key write: {values:?}"
        );
    }
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn a_million_keys_with_one_deadline_are_swept_in_bounded_passes() {
    let (s, clock) = store(8);
    let db = s.db(0).unwrap();
    let now = s.now();
    let deadline = now + 5_000;
    for i in 0..1_000_000u32 {
        db.update(&i.to_be_bytes(), now, |k| {
            k.insert(Value::Null, Some(deadline))
        })
        .unwrap();
    }
    assert_eq!(db.stats().expires, 1_000_000);
    clock.advance(5_001);
    let budget = SweepBudget::default();
    let mut sweeper = Sweeper::new(budget);
    let mut passes = 0;
    let mut removed = 0;
    loop {
        let report = s.with_sweep_shards(|shards| sweeper.pass(shards, s.now()));
        assert!(
            report.removed <= budget.max_keys_per_pass,
            "pass over budget: {report:?}"
        );
        removed += report.removed;
        passes += 1;
        if !report.more_due && report.removed == 0 {
            break;
        }
        assert!(passes < 10_000, "sweeping does not converge");
    }
    assert_eq!(removed, 1_000_000);
    assert_eq!(db.stats().expires, 0);
    assert_eq!(db.len(s.now()), 0);
    assert_eq!(db.stats().expired_active, 1_000_000);
    // The emptied tables were shrunk as they emptied (to under 1 KiB per shard).
    let bytes = db.stats().table_bytes;
    assert!(bytes <= 1024 * 256, "tables kept {bytes} bytes");
}

#[test]
fn the_sweeper_shrinks_tables_emptied_by_deletions() {
    let (s, _clock) = store(8);
    let db = s.db(0).unwrap();
    let now = s.now();
    for i in 0..100_000u32 {
        set(db, now, &i.to_be_bytes(), b"v", None);
    }
    let full = db.stats().table_bytes;
    assert!(full >= 100_000 * 8, "table bytes {full}");
    for i in 0..99_000u32 {
        db.update(&i.to_be_bytes(), now, |k| k.remove()).unwrap();
    }
    assert_eq!(
        db.stats().table_bytes,
        full,
        "deleting alone keeps the tables"
    );
    // No key is due: the pass only shrinks.
    let report =
        s.with_sweep_shards(|shards| Sweeper::new(SweepBudget::default()).pass(shards, s.now()));
    assert_eq!(report.removed, 0);
    let shrunk = db.stats().table_bytes;
    assert!(shrunk * 8 <= full, "table bytes {full} -> {shrunk}");
    for i in 99_000..100_000u32 {
        assert_eq!(get(db, now, &i.to_be_bytes()).as_deref(), Some(&b"v"[..]));
    }
}
