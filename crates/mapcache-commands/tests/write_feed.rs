//! The write feed (`mapcache_store::feed`): a scripted mix of RESP commands, document
//! batches (what the HTTP API's writes are), lazy and active expiry and deletes gives
//! exactly the expected change records, in order.

mod common;

use std::sync::Arc;

use common::Harness;
use mapcache_expiry::{SweepBudget, Sweeper};
use mapcache_store::doc::DocError;
use mapcache_store::feed::{OwnedChange, Recorder};
use mapcache_store::{ChangeKind, Value, WriteListener};

fn change(cache: &str, root: &str, path: Option<&str>, kind: ChangeKind) -> OwnedChange {
    OwnedChange {
        cache: cache.into(),
        root: root.as_bytes().to_vec(),
        path: path.map(|p| p.as_bytes().to_vec()),
        kind,
    }
}

fn listen(h: &Harness) -> Arc<Recorder> {
    let rec = Arc::new(Recorder::default());
    let listener: Arc<dyn WriteListener> = rec.clone();
    h.shared.store.feed().subscribe(listener);
    rec
}

use ChangeKind::*;

#[test]
fn resp_writes_report_created_replaced_deleted_and_reads_nothing() {
    let mut h = Harness::new();
    let rec = listen(&h);
    h.check("SET a 1", "+OK\r\n");
    h.check("SET a 2", "+OK\r\n");
    h.check("GET a", "$1\r\n2\r\n");
    h.check("INCR a", ":3\r\n");
    h.check("HSET h f v", ":1\r\n");
    h.check("HSET h g w", ":1\r\n");
    h.check("HDEL h f g", ":2\r\n"); // the hash is emptied: the key goes
    h.check("EXISTS h", ":0\r\n");
    h.check("RPUSH l x", ":1\r\n");
    h.check("LPOP l", "$1\r\nx\r\n");
    h.check("LPOP l", "$-1\r\n"); // nothing there: nothing reported
    h.check("DEL a nope", ":1\r\n");
    h.check("MSET m 1 n 2", "+OK\r\n");
    h.check("SELECT 1", "+OK\r\n");
    h.check("SET a x", "+OK\r\n");
    h.check("FLUSHDB", "+OK\r\n");
    assert_eq!(
        rec.take(),
        [
            change("default", "a", None, Created),
            change("default", "a", None, Replaced),
            change("default", "a", None, Replaced),
            change("default", "h", None, Created),
            change("default", "h", None, Replaced),
            change("default", "h", None, Deleted),
            change("default", "l", None, Created),
            change("default", "l", None, Deleted),
            change("default", "a", None, Deleted),
            change("default", "m", None, Created),
            change("default", "n", None, Created),
            change("1", "a", None, Created),
            change("1", "", None, Cleared),
        ]
    );
}

#[test]
fn batches_report_only_when_they_commit_and_expiry_reports_expired() {
    let mut h = Harness::new();
    let rec = listen(&h);
    let db = h.shared.store.db(0).unwrap();
    let now = h.shared.store.now();
    // What PUT /api/v1/keys does: one batch.
    db.batch(b'/', &[&b"user"[..], b"list"], now, |b| {
        b.set(b"user/100/name", Value::string(b"Alice"))?;
        b.set(b"list", Value::List([Value::Null].into()))?;
        b.replace(b"user/100/name", Value::string(b"Bob"))?;
        b.set_deadline(b"list", Some(now + 1000))
    })
    .unwrap();
    // A batch that fails half way writes nothing and reports nothing.
    let failed = db.batch(b'/', &[&b"user"[..]], now, |b| {
        b.set(b"user/100/age", Value::Number(41.0))?;
        b.increment(b"user/100/name", 1.0)
    });
    assert_eq!(failed, Err(DocError::NotANumber));
    assert_eq!(
        rec.take(),
        [
            change("default", "user", Some("100/name"), Created),
            change("default", "list", None, Created),
            change("default", "user", Some("100/name"), Replaced),
        ]
    );
    // A nested TTL set over HTTP and a root TTL: the sweeper reports both expiries.
    db.batch(b'/', &[&b"user"[..]], now, |b| {
        b.set(b"user/100/session", Value::string(b"s"))?;
        b.set_deadline(b"user/100/session", Some(now + 500))
    })
    .unwrap();
    h.check("SET lazy v PX 100", "+OK\r\n");
    rec.take();
    h.clock.advance(2_000);
    // Lazy expiry: a writer finds `lazy` expired and reports it before its own write.
    h.check("SET lazy w", "+OK\r\n");
    assert_eq!(
        rec.take(),
        [
            change("default", "lazy", None, Expired),
            change("default", "lazy", None, Created),
        ]
    );
    let mut sweeper = Sweeper::new(SweepBudget::default());
    let now = h.shared.store.now();
    h.shared
        .store
        .with_sweep_shards(|shards| sweeper.pass(shards, now));
    let mut swept = rec.take();
    swept.sort_by(|a, b| a.root.cmp(&b.root));
    assert_eq!(
        swept,
        [
            change("default", "list", None, Expired),
            change("default", "user", Some("100/session"), Expired),
        ]
    );
    // The session's expiry took only the nested node.
    h.check("HGET user 100", "$14\r\n{\"name\":\"Bob\"}\r\n");
}

#[test]
fn path_mode_multi_key_writes_report_once_they_succeed() {
    let mut path = Harness::new();
    // Path key mode is a property of the store: switch it before sharing.
    let store = Arc::get_mut(&mut path.shared)
        .map(|s| &mut s.store)
        .expect("the harness's store is not shared yet");
    store.set_path_keys(true);
    let rec = listen(&path);
    path.check("SET a x", "+OK\r\n");
    // MSET whose second key is blocked by `a`: nothing written, nothing reported.
    path.check(
        "MSET k:v 1 a:b 2",
        "-ERR path 'a:b' crosses a non-object value at 'a'\r\n",
    );
    path.check("EXISTS k", ":0\r\n");
    path.check("MSET k:v 1 u:w 2", "+OK\r\n");
    path.check("HINCRBY k v 5", ":6\r\n");
    assert_eq!(
        rec.take(),
        [
            change("default", "a", None, Created),
            change("default", "k", Some("v"), Created),
            change("default", "u", Some("w"), Created),
            change("default", "k", None, Replaced),
        ]
    );
}
