//! Nested deadlines (TTLs on paths inside a tree), named caches, and whole-database
//! export and replacement.

use std::sync::Arc;

use bytes::Bytes;
use mapcache_expiry::{ManualClock, SweepBudget, Sweeper};
use mapcache_store::{Addressing, CacheError, Db, Entry, Store, StoreConfig, Value};

const T0: i64 = 1_767_225_600_000;

fn store() -> (Store, ManualClock) {
    let clock = ManualClock::new(T0);
    let s = Store::with_clock(
        StoreConfig {
            databases: 4,
            shard_bits: 4,
        },
        Arc::new(clock.clone()),
    );
    (s, clock)
}

const HTTP: Addressing = Addressing::HTTP;

fn put(db: &Db, now: i64, path: &str, val: &str, deadline: Option<i64>) {
    db.update_with(HTTP, path.as_bytes(), now, |k| {
        k.insert(Value::string(val.as_bytes()), deadline)
    })
    .unwrap();
}

fn exists(db: &Db, now: i64, path: &str) -> bool {
    db.peek_with(HTTP, path.as_bytes(), now, |e| e.is_some())
}

/// Sweeps until nothing is due; answers the keys removed and checks every pass stays
/// within its budget.
fn sweep_all(s: &Store) -> usize {
    let budget = SweepBudget {
        max_keys_per_pass: 1000,
        ..SweepBudget::default()
    };
    let mut sweeper = Sweeper::new(budget);
    let mut removed = 0;
    for _ in 0..10_000 {
        let report = s.with_sweep_shards(|shards| sweeper.pass(shards, s.now()));
        assert!(report.removed <= budget.max_keys_per_pass, "{report:?}");
        removed += report.removed;
        if !report.more_due && report.removed == 0 {
            return removed;
        }
    }
    panic!("sweeping does not converge");
}

#[test]
fn a_nested_deadline_removes_its_subtree_lazily_and_by_sweeping() {
    let (s, clock) = store();
    let db = s.db(0).unwrap();
    let now = s.now();
    put(db, now, "user/1/name", "a", None);
    put(db, now, "user/1/session", "s", Some(T0 + 100));
    put(db, now, "user/2/name", "b", None);
    db.update_with(HTTP, b"user/2", now, |k| {
        assert!(k.set_deadline(Some(T0 + 50)))
    })
    .unwrap();
    // RESP in path mode would see the same deadlines: the paths are segments.
    db.peek_with(Addressing::RESP_PATH, b"user:1:session", now, |e| {
        assert_eq!(e.unwrap().deadline(), Some(T0 + 100))
    });
    assert_eq!(
        db.stats().expires,
        0,
        "INFO's expires= counts roots' own TTLs"
    );
    clock.advance(51);
    // Lazy: a reader sees the subtree gone before any sweep.
    assert!(!exists(db, s.now(), "user/2"));
    assert!(exists(db, s.now(), "user/1/session"));
    assert_eq!(db.keys(b"*", s.now()).len(), 1, "one root");
    // The sweeper removes it for real.
    assert_eq!(sweep_all(&s), 1);
    clock.advance(50);
    assert!(!exists(db, s.now(), "user/1/session"));
    // A writer removes what is due before it writes.
    db.update_with(HTTP, b"user/1/name", s.now(), |k| {
        assert_eq!(k.value(), Some(&Value::string(b"a")))
    })
    .unwrap();
    assert_eq!(sweep_all(&s), 0, "the writer removed it already");
    db.get_with(HTTP, b"user", s.now(), |e| {
        let user = e.unwrap().value.as_hash().unwrap();
        assert_eq!(user.len(), 1);
        assert_eq!(user.get(&b"1"[..]).unwrap().as_hash().unwrap().len(), 1);
    });
}

#[test]
fn a_root_emptied_by_nested_deadlines_is_gone_from_dbsize_and_sweeps_away() {
    let (s, clock) = store();
    let db = s.db(0).unwrap();
    for i in 0..2000 {
        put(db, s.now(), &format!("r{i}/a/b"), "v", Some(T0 + 10));
    }
    assert_eq!(db.len(s.now()), 2000);
    clock.advance(11);
    assert_eq!(db.len(s.now()), 0);
    assert!(db.keys(b"*", s.now()).is_empty());
    assert_eq!(sweep_all(&s), 2000);
    assert_eq!(db.stats().keys, 0);
}

#[test]
fn rewriting_or_removing_a_node_drops_the_deadlines_at_and_below_it() {
    let (s, clock) = store();
    let db = s.db(0).unwrap();
    let now = s.now();
    put(db, now, "a/b/c", "1", Some(T0 + 10));
    put(db, now, "a/b/d", "2", None);
    // Rewriting a/b replaces the subtree: c's deadline goes with the old value.
    db.update_with(HTTP, b"a/b", now, |k| {
        let mut obj = Value::new_hash();
        obj.as_hash_mut()
            .unwrap()
            .insert(b"c", Value::string(b"new"));
        k.insert(obj, None)
    })
    .unwrap();
    clock.advance(20);
    assert!(exists(db, s.now(), "a/b/c"));
    // Removing a node with a deadline and writing it again: no deadline.
    put(db, s.now(), "a/x", "1", Some(s.now() + 5));
    db.update_with(HTTP, b"a/x", s.now(), |k| assert!(k.remove().is_some()))
        .unwrap();
    put(db, s.now(), "a/x", "2", None);
    clock.advance(10);
    assert!(exists(db, s.now(), "a/x"));
    assert_eq!(sweep_all(&s), 0);
}

#[test]
fn rename_by_entry_carries_nested_deadlines() {
    let (s, clock) = store();
    let db = s.db(0).unwrap();
    let now = s.now();
    put(db, now, "src/k", "v", Some(T0 + 10));
    put(db, now, "src/stay", "v", None);
    db.update_many(&[b"src", b"dst"], now, |m| {
        let e = m.with(0, |k| k.remove()).unwrap();
        m.with(1, |k| k.insert_entry(e));
    })
    .unwrap();
    assert!(exists(db, now, "dst/k"));
    clock.advance(11);
    assert!(!exists(db, s.now(), "dst/k"));
    assert!(exists(db, s.now(), "dst/stay"));
}

#[test]
fn named_caches_live_beside_the_databases_and_expire_whole() {
    let (s, clock) = store();
    assert_eq!(s.caches().len(), 4);
    assert_eq!(s.caches()[0].name, "default");
    assert!(s.cache("default").is_some() && s.cache("3").is_some());
    assert!(s.cache("4").is_none());
    assert!(matches!(
        s.create_cache("default", None),
        Err(CacheError::Exists(_))
    ));
    assert!(matches!(
        s.create_cache("9", None),
        Err(CacheError::InvalidName(_))
    ));
    assert!(matches!(
        s.create_cache("a/b", None),
        Err(CacheError::InvalidName(_))
    ));
    s.create_cache("sessions", Some(T0 + 100)).unwrap();
    s.create_cache("users", None).unwrap();
    assert!(matches!(
        s.create_cache("users", None),
        Err(CacheError::Exists(_))
    ));
    let sessions = s.cache("sessions").unwrap();
    put(&sessions, s.now(), "s1/user", "u", None);
    assert_eq!(sessions.len(s.now()), 1);
    // Keys in a named cache expire and are swept like any other.
    put(&sessions, s.now(), "s2", "u", Some(T0 + 5));
    clock.advance(6);
    assert_eq!(sweep_all(&s), 1);
    drop(sessions);
    let names: Vec<String> = s.caches().into_iter().map(|c| c.name).collect();
    assert_eq!(names[4..], ["sessions", "users"]);
    clock.advance(100);
    assert!(s.cache("sessions").is_none(), "expired: never handed out");
    assert_eq!(s.expire_caches(), 1);
    assert!(matches!(
        s.delete_cache("sessions"),
        Err(CacheError::NotFound(_))
    ));
    // A numbered cache is emptied, not removed, and cannot expire.
    put(s.db(1).unwrap(), s.now(), "k", "v", None);
    s.delete_cache("1").unwrap();
    assert_eq!(s.db(1).unwrap().len(s.now()), 0);
    assert!(matches!(
        s.set_cache_deadline("1", Some(T0)),
        Err(CacheError::Numbered(_))
    ));
    s.set_cache_deadline("users", Some(s.now() + 1)).unwrap();
    s.delete_cache("users").unwrap();
    assert_eq!(s.caches().len(), 4);
}

#[test]
fn export_and_replace_all_round_trip_with_deadlines() {
    let (s, clock) = store();
    let (a, b) = (s.db(0).unwrap(), s.db(1).unwrap());
    let now = s.now();
    for i in 0..100 {
        put(a, now, &format!("k{i}/x"), "v", None);
    }
    put(a, now, "ttl", "v", None);
    a.update(b"ttl", now, |k| assert!(k.set_deadline(Some(T0 + 50))))
        .unwrap();
    put(a, now, "k1/gone", "v", Some(T0 + 30));
    put(b, now, "old", "v", None);
    let mut all = Vec::new();
    for i in 0..a.shard_count() {
        a.export_shard(i, now, |k, v, d, n| {
            all.push((Bytes::copy_from_slice(k), v.clone(), d, n.to_vec()))
        });
    }
    assert_eq!(all.len(), 101);
    b.replace_all(all, now);
    assert_eq!(b.len(now), 101);
    assert!(!exists(b, now, "old"));
    b.peek(b"ttl", now, |e| {
        assert_eq!(e.unwrap().deadline(), Some(T0 + 50))
    });
    let nested: Vec<(Vec<Bytes>, i64)> = b.peek(b"k1", now, |e| {
        e.unwrap()
            .nested_deadlines()
            .map(|(p, d)| (p.to_vec(), d))
            .collect()
    });
    assert_eq!(nested, [(vec![Bytes::from_static(b"gone")], T0 + 30)]);
    clock.advance(31);
    assert!(!exists(b, s.now(), "k1/gone"));
    assert!(exists(b, s.now(), "k1/x"));
    // Expired entries are skipped on the way in.
    let e = Entry::new(Value::string(b"v"), Some(T0));
    let d = e.deadline();
    b.replace_all(
        vec![(Bytes::from_static(b"late"), e.value, d, vec![])],
        s.now(),
    );
    assert_eq!(b.len(s.now()), 0);
}
