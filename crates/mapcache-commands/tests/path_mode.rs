//! Path key mode (`--key-mode path`): one test per rule of docs/key-modes.md.

mod common;

use std::sync::Arc;

use common::{Harness, T0};
use mapcache_commands::{KeyMode, RuntimeConfig};
use mapcache_expiry::ManualClock;
use mapcache_store::path::PathFault;
use mapcache_store::{Store, StoreConfig, Value};

fn path_harness() -> Harness {
    Harness::with_config(RuntimeConfig {
        key_mode: KeyMode::Path,
        ..Default::default()
    })
}

/// A RESP bulk string.
fn bulk(s: &str) -> String {
    format!("${}\r\n{s}\r\n", s.len())
}

/// A RESP array of bulk strings.
fn bulks(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for i in items {
        out += &bulk(i);
    }
    out
}

/// The bulk strings of a flat RESP array reply, sorted (KEYS spans shards: no order).
fn sorted_bulks(reply: &[u8]) -> Vec<String> {
    let text = String::from_utf8_lossy(reply);
    let mut lines = text.split("\r\n");
    let n: usize = lines.next().unwrap()[1..].parse().unwrap();
    let mut items: Vec<String> = (0..n)
        .map(|_| {
            lines.next().unwrap();
            lines.next().unwrap().to_string()
        })
        .collect();
    items.sort();
    items
}

const BLOCKED_A_B: &str = "-ERR path 'a:b' crosses a non-object value at 'a'\r\n";
const NESTED_MOVE: &str = "-ERR RENAME and COPY of a nested path are not supported yet\r\n";

/// Rule 1: every key argument is split on `:`: the first segment is the root, the rest
/// a path into its tree; intermediate objects are created; any type can sit at a path.
#[test]
fn key_arguments_name_a_root_and_a_path() {
    let mut h = path_harness();
    h.check("SET a:b:c:d v", "+OK\r\n");
    h.check("TYPE a", "+hash\r\n");
    h.check("TYPE a:b:c", "+hash\r\n");
    h.check("GET a:b:c:d", &bulk("v"));
    h.check("DBSIZE", ":1\r\n");
    h.check("RPUSH user:100:tags x y", ":2\r\n");
    h.check("LRANGE user:100:tags 0 -1", &bulks(&["x", "y"]));
    h.check("TYPE user:100:tags", "+list\r\n");
    h.check("APPEND a:b:c:d w", ":2\r\n");
    h.check("INCR a:b:n", ":1\r\n");
    h.check("HGETALL a:b", &bulks(&["c", r#"{"d":"vw"}"#, "n", "1"]));
    // The root is an ordinary Redis value: a hash here.
    h.check(
        "GET a",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    // INCR stores a number, as the Go map-cache does.
    h.check("HGET a b", &bulk(r#"{"c":{"d":"vw"},"n":1}"#));
}

/// Rule 2: HSET writes fields of the object at a path; GET reads a leaf; HGETALL shows
/// nested objects and arrays as compact JSON; TYPE names the node's type.
#[test]
fn hset_get_hgetall_type_address_the_same_tree() {
    let mut h = path_harness();
    h.check("HSET user:100 name Alice", ":1\r\n");
    h.check("GET user:100:name", &bulk("Alice"));
    h.check("SET user:100:email x", "+OK\r\n");
    h.check("HGETALL user:100", &bulks(&["name", "Alice", "email", "x"]));
    h.check("HGET user:100 email", &bulk("x"));
    h.check("HLEN user:100", ":2\r\n");
    h.check(
        "HGETALL user",
        &bulks(&["100", r#"{"name":"Alice","email":"x"}"#]),
    );
    h.check("TYPE user:100", "+hash\r\n");
    h.check("TYPE user:100:name", "+string\r\n");
    h.check("TYPE user", "+hash\r\n");
    h.check("TYPE user:999", "+none\r\n");
    h.check("GET user:999:name", "$-1\r\n");
    h.check(
        "HSET user:100:name f v",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    );
    // SET over a branch replaces the branch, as SET replaces any key.
    h.check("SET user:100 gone", "+OK\r\n");
    h.check("TYPE user:100", "+string\r\n");
    h.check("HGETALL user", &bulks(&["100", "gone"]));
}

/// Rule 3: DEL removes a subtree; objects left empty go too, up to the root; EXISTS
/// answers for any node.
#[test]
fn del_removes_subtrees_and_prunes_empty_objects() {
    let mut h = path_harness();
    h.check("HSET user:100 name Alice email x", ":2\r\n");
    h.check("HSET user:200 name Bob", ":1\r\n");
    h.check("EXISTS user:100:name", ":1\r\n");
    h.check("EXISTS user:100 user:200 user:300 user", ":3\r\n");
    h.check("DEL user:100", ":1\r\n");
    h.check("EXISTS user:100:name", ":0\r\n");
    h.check("DEL user:100", ":0\r\n");
    h.check("DEL user:200:name", ":1\r\n");
    // user:200 and then user were left empty: both are gone.
    h.check("EXISTS user", ":0\r\n");
    h.check("DBSIZE", ":0\r\n");
    // HDEL of the last field and a pop of the last element prune the same way.
    h.check("HSET a:b:c f v", ":1\r\n");
    h.check("HDEL a:b:c f", ":1\r\n");
    h.check("EXISTS a", ":0\r\n");
    h.check("RPUSH l:x:list e", ":1\r\n");
    h.check("SET l:keep 1", "+OK\r\n");
    h.check("LPOP l:x:list", &bulk("e"));
    h.check("EXISTS l:x", ":0\r\n");
    h.check("HGETALL l", &bulks(&["keep", "1"]));
    h.check("GETDEL l:keep", &bulk("1"));
    h.check("EXISTS l", ":0\r\n");
}

/// Rule 4: KEYS follows the Go map-cache: each `*` is one whole segment and the answer
/// is the existing nodes at the pattern's depth, in `:` form; DBSIZE counts roots;
/// SCAN pages over roots and answers their leaves.
#[test]
fn keys_lists_leaf_paths_and_dbsize_counts_roots() {
    let mut h = path_harness();
    h.check("HSET user:100 name Alice email x", ":2\r\n");
    h.check("RPUSH user:200:tags t", ":1\r\n");
    h.check("SET plain v", "+OK\r\n");
    h.check("KEYS user:*", &bulks(&["user:100", "user:200"]));
    h.check("KEYS user:*:name", &bulks(&["user:100:name"]));
    h.check(
        "KEYS user:*:*",
        &bulks(&["user:100:name", "user:100:email", "user:200:tags"]),
    );
    h.check("KEYS user:200:tags:*", &bulks(&["user:200:tags:0"]));
    h.check("KEYS user:100", &bulks(&["user:100"]));
    // Only a whole `*` segment is a wildcard; other segments are names.
    h.check("KEYS nothing*", "*0\r\n");
    h.check("KEYS user:1*", "*0\r\n");
    h.check("KEYS plain:*", "*0\r\n");
    let all = h.run(&[b"KEYS", b"*"]);
    assert_eq!(sorted_bulks(&all), ["plain", "user"]);
    h.check("DBSIZE", ":2\r\n");
    let scanned = h.run(&[b"SCAN", b"0", b"MATCH", b"user:1*", b"COUNT", b"1000"]);
    let text = String::from_utf8_lossy(&scanned);
    assert!(text.starts_with("*2\r\n$1\r\n0\r\n*2\r\n"), "{text}");
    assert!(
        text.contains("user:100:name") && text.contains("user:100:email"),
        "{text}"
    );
    let typed = h.run(&[b"SCAN", b"0", b"TYPE", b"list", b"COUNT", b"1000"]);
    assert!(String::from_utf8_lossy(&typed).ends_with(&bulks(&["user:200:tags"])));
}

/// Rule 5: a write under a value that is not an object fails and changes nothing; a
/// read under one answers a missing key.
#[test]
fn writing_under_a_non_object_fails_reading_is_missing() {
    let mut h = path_harness();
    h.check("SET a x", "+OK\r\n");
    h.check("SET a:b y", BLOCKED_A_B);
    h.check("GET a", &bulk("x"));
    h.check("GET a:b", "$-1\r\n");
    h.check("EXISTS a:b", ":0\r\n");
    h.check("TYPE a:b", "+none\r\n");
    h.check("DEL a:b", ":0\r\n");
    h.check("HSET a:b f v", BLOCKED_A_B);
    h.check("RPUSH a:b v", BLOCKED_A_B);
    h.check("INCR a:b", BLOCKED_A_B);
    h.check(
        "HSET a:b:c f v",
        "-ERR path 'a:b:c' crosses a non-object value at 'a'\r\n",
    );
    // Deeper: the blocking node is named by its own path.
    h.check("HSET u:1 name n", ":1\r\n");
    h.check(
        "SET u:1:name:first z",
        "-ERR path 'u:1:name:first' crosses a non-object value at 'u:1:name'\r\n",
    );
    // A list's items are addressed by index; other segments name nothing there.
    h.check("RPUSH l e", ":1\r\n");
    h.check("GET l:0", &bulk("e"));
    h.check("SET l:0 z", "+OK\r\n");
    h.check("LRANGE l 0 -1", "*1\r\n$1\r\nz\r\n");
    h.check(
        "SET l:x z",
        "-ERR path 'l:x' crosses a non-object value at 'l'\r\n",
    );
    h.check(
        "SET l:1 z",
        "-ERR path 'l:1' addresses an item past the end of the array at 'l'\r\n",
    );
    h.check("GET l:1", "$-1\r\n");
    // A multi-key write fails as a whole, before it writes anything.
    h.check("MSET k 1 a:b 2", BLOCKED_A_B);
    h.check("EXISTS k", ":0\r\n");
    h.check(
        "MSET m x m:n y",
        "-ERR path 'm:n' crosses a non-object value at 'm'\r\n",
    );
    h.check("EXISTS m", ":0\r\n");
    h.check("DBSIZE", ":3\r\n");
}

/// Rule 6: an empty segment is an ordinary field name "".
#[test]
fn empty_segments_are_ordinary_names() {
    let mut h = path_harness();
    h.check("SET a::b v", "+OK\r\n");
    h.check("GET a::b", &bulk("v"));
    h.check("HGETALL a", &bulks(&["", r#"{"b":"v"}"#]));
    h.check("SET t: w", "+OK\r\n");
    h.check("HGETALL t", &bulks(&["", "w"]));
    h.check("GET t:", &bulk("w"));
    let both = h.run(&[b"KEYS", b"*:"]);
    assert_eq!(sorted_bulks(&both), ["a:", "t:"]);
    h.check("SET :x y", "+OK\r\n");
    h.run(&[b"HGETALL", b""]);
    assert_eq!(h.out.buf[..], bulks(&["x", "y"]).as_bytes()[..]);
}

/// Rule 7: a TTL on a nested path expires that subtree; a node's TTL is the earliest
/// of its own, its ancestors' and its root's.
#[test]
fn nested_paths_expire_as_subtrees() {
    let mut h = path_harness();
    h.check("HSET user:1 name x age 30", ":2\r\n");
    h.check("SET user:2:name y", "+OK\r\n");
    h.check("EXPIRE user:1 10", ":1\r\n");
    h.check("TTL user:1", ":10\r\n");
    h.check("TTL user:1:name", ":10\r\n");
    h.check("TTL user", ":-1\r\n");
    h.check("TTL user:2:name", ":-1\r\n");
    h.check("EXPIRE user:1:nope 10", ":0\r\n");
    // The node's own TTL rules EXPIRE's flags and PERSIST; the earliest one rules TTL.
    h.check("PEXPIRE user:1:age 5000 NX", ":1\r\n");
    h.check("PEXPIRE user:1:age 8000 NX", ":0\r\n");
    h.check("PTTL user:1:age", ":5000\r\n");
    h.check("EXPIRE user 3", ":1\r\n");
    h.check("TTL user:1:age", ":3\r\n");
    h.check("PERSIST user", ":1\r\n");
    h.check("PERSIST user:2:name", ":0\r\n");
    h.check("PERSIST user:1:age", ":1\r\n");
    h.check("TTL user:1:age", ":10\r\n");
    // SET without KEEPTTL drops the node's own TTL, with KEEPTTL keeps it.
    h.check("SET user:2:name z EX 20", "+OK\r\n");
    h.check("TTL user:2:name", ":20\r\n");
    h.check("SET user:2:name w KEEPTTL", "+OK\r\n");
    h.check("TTL user:2:name", ":20\r\n");
    h.check("SET user:2:name v", "+OK\r\n");
    h.check("TTL user:2:name", ":-1\r\n");
    h.check("SETEX user:2:tmp 5 t", "+OK\r\n");
    h.check("GETEX user:2:tmp PERSIST", &bulk("t"));
    h.check("TTL user:2:tmp", ":-1\r\n");
    h.check("DEL user:2:tmp", ":1\r\n");
    // A removed node's TTL goes with it: the node written again has none.
    h.check("PEXPIRE user:2:name 100", ":1\r\n");
    h.check("HDEL user:2 name", ":1\r\n");
    h.check("SET user:2:name again", "+OK\r\n");
    h.check("TTL user:2:name", ":-1\r\n");
    // At the deadline the subtree still exists; one millisecond later it is gone,
    // the objects it leaves empty too, lazily, whether or not a sweep ran.
    h.advance_ms(10_000);
    h.check("EXISTS user:1", ":1\r\n");
    h.advance_ms(1);
    h.check("EXISTS user:1", ":0\r\n");
    h.check(
        "HGETALL user",
        "*2\r\n$1\r\n2\r\n$16\r\n{\"name\":\"again\"}\r\n",
    );
    h.check("KEYS *", "*1\r\n$4\r\nuser\r\n");
    h.check("KEYS *:*:*", "*1\r\n$11\r\nuser:2:name\r\n");
    h.check("PEXPIRE user:2 1", ":1\r\n");
    h.advance_ms(2);
    h.check("DBSIZE", ":0\r\n");
    h.check("EXISTS user", ":0\r\n");
    // Writing under a root that holds nested TTLs keeps them and the root's own.
    h.check("SET user:1:name x", "+OK\r\n");
    h.check("EXPIRE user 100", ":1\r\n");
    h.check("GET user:1:name", &bulk("x"));
    h.check("EXISTS user:1:other", ":0\r\n");
    // Writing a leaf keeps the root's TTL (KEEPTTL or not).
    h.check("SET user:1:name y", "+OK\r\n");
    h.check("INCR user:1:n", ":1\r\n");
    h.check("TTL user", ":100\r\n");
    h.check("PERSIST user", ":1\r\n");
    h.check("TTL user:1:name", ":-1\r\n");
    h.check("PEXPIRE user 50", ":1\r\n");
    h.advance_ms(51);
    h.check("GET user:1:name", "$-1\r\n");
    h.check("DBSIZE", ":0\r\n");
}

/// Rule 8: multi-key commands lock and address roots; two paths under one root share
/// a lock; RENAME and COPY move roots, not nested paths.
#[test]
fn multi_key_commands_work_on_paths_and_move_roots() {
    let mut h = path_harness();
    h.check("MSET user:1:name a user:2:name b other c", "+OK\r\n");
    h.check(
        "MGET user:1:name user:2:name user:3:name other user:1",
        &format!(
            "*5\r\n{}{}$-1\r\n{}$-1\r\n",
            bulk("a"),
            bulk("b"),
            bulk("c")
        ),
    );
    h.check("MSETNX user:1:name z fresh:x y", ":0\r\n");
    h.check("EXISTS fresh", ":0\r\n");
    h.check("DEL user:1 user:2:name user:1", ":2\r\n");
    h.check("EXISTS user", ":0\r\n");
    h.check("HSET src:a f v", ":1\r\n");
    h.check("RENAME src dst", "+OK\r\n");
    h.check("HGET dst:a f", &bulk("v"));
    h.check("COPY dst cp", ":1\r\n");
    h.check("GET cp:a:f", &bulk("v"));
    h.check("RENAME dst:a x", NESTED_MOVE);
    h.check("RENAMENX dst x:y", NESTED_MOVE);
    h.check("COPY dst:a x", NESTED_MOVE);
    h.check("EXISTS dst:a:f x", ":1\r\n");
}

/// Rule 9: commands without keys are unchanged.
#[test]
fn commands_without_keys_are_unchanged() {
    let mut h = path_harness();
    h.check("PING", "+PONG\r\n");
    h.check("ECHO a:b", &bulk("a:b"));
    h.check("SET a:b 1", "+OK\r\n");
    h.check("SELECT 1", "+OK\r\n");
    h.check("GET a:b", "$-1\r\n");
    h.check("SELECT 0", "+OK\r\n");
    h.check("GET a:b", &bulk("1"));
    h.check("FLUSHDB", "+OK\r\n");
    h.check("DBSIZE", ":0\r\n");
}

/// Flat mode (the default) knows nothing of paths.
#[test]
fn flat_mode_keys_are_opaque() {
    let mut h = Harness::new();
    h.check("SET a x", "+OK\r\n");
    h.check("SET a:b y", "+OK\r\n");
    h.check("GET a:b", &bulk("y"));
    h.check("EXPIRE a:b 10", ":1\r\n");
    let all = h.run(&[b"KEYS", b"*"]);
    assert_eq!(sorted_bulks(&all), ["a", "a:b"]);
    h.check("DBSIZE", ":2\r\n");
}

/// The Go map-cache's data model (seed/MAPCACHE_API.md) expressed as Redis commands:
/// a hash is an object under the key's path, a list an array, a string a string or a
/// number, a key a path into one tree per database.
#[test]
fn data_model_of_the_go_server() {
    let mut h = path_harness();
    // `HSET user:100 name Alice` writes user/100/name.
    h.check("HSET user:100 name Alice", ":1\r\n");
    h.check("GET user:100:name", &bulk("Alice"));
    // `user/name` is the field `name` of the object at `user`.
    h.check("SET user:name root-level", "+OK\r\n");
    h.check("HGET user name", &bulk("root-level"));
    // A list is an array.
    h.check("RPUSH user:100:roles admin dev", ":2\r\n");
    h.check("HGET user:100 roles", &bulk(r#"["admin","dev"]"#));
    // Numbers count.
    h.check("INCRBY user:100:visits 5", ":5\r\n");
    h.check("HINCRBY user:100 visits 2", ":7\r\n");
    h.check("GET user:100:visits", &bulk("7"));
    // The whole branch reads as one document.
    h.check(
        "HGET user 100",
        &bulk(r#"{"name":"Alice","roles":["admin","dev"],"visits":7}"#),
    );
    // SELECT n picks another tree.
    h.check("SELECT 3", "+OK\r\n");
    h.check("EXISTS user", ":0\r\n");
}

/// Paths are bounded: at most 128 segments below a root.
#[test]
fn paths_deeper_than_the_limit_are_refused() {
    let mut h = path_harness();
    let ok = format!("r{}", ":s".repeat(128));
    assert_eq!(h.run(&[b"SET", ok.as_bytes(), b"v"]), b"+OK\r\n");
    let deep = format!("d{}", ":s".repeat(129));
    let reply = h.run(&[b"SET", deep.as_bytes(), b"v"]);
    assert!(
        String::from_utf8_lossy(&reply).ends_with("has more than 128 segments below its root\r\n")
    );
    h.check("EXISTS d", ":0\r\n");
}

/// The store API behind path mode: `Db` addresses nodes once the store is in path
/// mode; `KeyMut` creates, reads, refuses and prunes.
#[test]
fn store_api_in_path_mode() {
    let clock = ManualClock::new(T0);
    let mut store = Store::with_clock(
        StoreConfig {
            databases: 1,
            shard_bits: 2,
        },
        Arc::new(clock),
    );
    store.set_path_keys(true);
    assert!(store.path_keys());
    let db = store.db(0).unwrap();
    let now = store.now();
    db.update(b"user:100:name", now, |km| {
        assert_eq!(km.root(), b"user");
        assert!(!km.exists());
        km.insert(Value::string(b"Alice"), None);
        assert!(km.exists());
        assert!(km.entry().is_none(), "a nested node is no entry of its own");
    })
    .unwrap();
    db.get(b"user:100", now, |e| {
        let h = e.unwrap().value.as_hash().unwrap();
        assert_eq!(
            h.get(&b"name"[..]),
            Some(mapcache_store::Field::Bytes(b"Alice"))
        );
    });
    // An empty object is never stored at the top level (as Redis keeps no empty
    // aggregate); inside a tree it is a node that lists no leaf.
    db.update(b"empty", now, |km| km.insert(Value::new_hash(), None))
        .unwrap();
    assert!(db.peek(b"empty", now, |e| e.is_none()));
    db.update(b"user:e", now, |km| km.insert(Value::new_hash(), None))
        .unwrap();
    let mut keys = db.keys(b"*", now);
    keys.sort();
    assert_eq!(keys, [&b"user:100:name"[..]]);
    assert_eq!(db.len(now), 1);
    db.update(b"user:e", now, |km| km.remove()).unwrap();
    // Blocked writes change nothing and answer the fault.
    let blocked = PathFault::Blocked {
        key: bytes::Bytes::from_static(b"user:100:name:x"),
        at: 13,
    };
    let refused = db.update(b"user:100:name:x", now, |km| {
        assert_eq!(km.write_fault(), Some(blocked.clone()));
        km.insert(Value::string(b"y"), None);
        km.value_or_insert_with(Value::new_list);
        assert!(!km.exists());
    });
    assert_eq!(refused, Err(blocked));
    db.get(b"user:100:name", now, |e| {
        assert_eq!(e.map(|e| e.value.clone()), Some(Value::string(b"Alice")));
    });
    // A nested node takes a deadline of its own; it reads the earliest on its path.
    db.update(
        b"user",
        now,
        |km| assert!(km.set_deadline(Some(now + 1000))),
    )
    .unwrap();
    db.update(b"user:100", now, |km| {
        assert_eq!(km.deadline(), Some(now + 1000));
        assert_eq!(km.own_deadline(), None);
        assert!(km.set_deadline(Some(now + 500)));
        assert_eq!(km.deadline(), Some(now + 500));
        assert!(km.set_deadline(None));
        assert_eq!(km.deadline(), Some(now + 1000));
    })
    .unwrap();
    // Multi-key access: two paths under one root, one lock.
    db.update_many(&[b"user:100:name", b"user:100:age"], now, |m| {
        m.with(1, |km| km.insert(Value::string(b"30"), None));
        m.with(0, |km| km.remove());
    })
    .unwrap();
    db.get_many(&[b"user:100:age", b"user:100:name", b"user"], now, |r| {
        assert_eq!(
            r.get(0).map(|e| e.value.clone()),
            Some(Value::string(b"30"))
        );
        assert!(r.get(1).is_none());
        assert_eq!(r.get(2).and_then(|e| e.deadline()), Some(now + 1000));
    });
    // Removing the last leaf prunes up to the root.
    db.update(b"user:100:age", now, |km| km.remove()).unwrap();
    assert!(db.peek(b"user", now, |e| e.is_none()));
}

/// The Go map-cache's `preserve` key mode: keys are not translated, `/` separates the
/// segments and `:` is an ordinary byte of a name.
#[test]
fn preserve_mode_splits_on_slash_and_keeps_colons() {
    let mut h = Harness::with_config(RuntimeConfig {
        key_mode: KeyMode::Preserve,
        ..Default::default()
    });
    h.check("HSET user/100 name Alice", ":1\r\n");
    h.check("GET user/100/name", &bulk("Alice"));
    h.check("HGET user/100 name", &bulk("Alice"));
    h.check("TYPE user", "+hash\r\n");
    // `:` is literal: `user:100` is a root of its own, not a path into `user`.
    h.check("SET user:100 flat", "+OK\r\n");
    h.check("GET user:100", &bulk("flat"));
    h.check("EXISTS user:100:name", ":0\r\n");
    h.check("HGET user/100 name", &bulk("Alice"));
    let all = h.run(&[b"KEYS", b"*"]);
    assert_eq!(sorted_bulks(&all), ["user", "user:100"]);
    h.check("KEYS user/*", &bulks(&["user/100"]));
    h.check("KEYS user/*/name", &bulks(&["user/100/name"]));
    h.check("RPUSH list/items a b", ":2\r\n");
    h.check(
        "KEYS list/items/*",
        &bulks(&["list/items/0", "list/items/1"]),
    );
    h.check("GET list/items/1", &bulk("b"));
    // The store sees the HTTP API's `/` paths: the same node.
    let db = h.shared.store.db(0).unwrap();
    let name = db.peek_with(
        mapcache_store::Addressing::HTTP,
        b"user/100/name",
        h.shared.store.now(),
        |e| e.map(|e| e.value.clone()),
    );
    assert_eq!(name, Some(Value::string(b"Alice")));
    h.check(
        "RENAME user/100 x",
        "-ERR RENAME and COPY of a nested path are not supported yet\r\n",
    );
}

/// `SELECT name` in the map-cache key modes: `0` is `RESP_DEFAULT_CACHE`, any other
/// argument names a cache that must exist (Go's error text); in flat mode SELECT is
/// Redis's.
#[test]
fn select_names_a_cache_in_the_map_cache_modes() {
    for mode in [KeyMode::Path, KeyMode::Preserve] {
        let sep = if mode == KeyMode::Path { ":" } else { "/" };
        let mut h = Harness::with_config(RuntimeConfig {
            key_mode: mode,
            default_cache: "sessions".into(),
            ..Default::default()
        });
        h.shared.store.create_cache("sessions", None).unwrap();
        h.shared.store.create_cache("users", None).unwrap();
        h.check(&format!("SET in{sep}default 1"), "+OK\r\n");
        h.check("SELECT users", "+OK\r\n");
        h.check(&format!("HSET user{sep}1 name Ann"), ":1\r\n");
        h.check(
            &format!("KEYS user{sep}*"),
            &bulks(&[&format!("user{sep}1")]),
        );
        h.check("DBSIZE", ":1\r\n");
        h.check("SELECT nope", "-ERR cache not found\r\n");
        h.check("DBSIZE", ":1\r\n");
        // `0` is RESP_DEFAULT_CACHE, here a named cache.
        h.check("SELECT 0", "+OK\r\n");
        h.check("DBSIZE", ":0\r\n");
        h.check("SELECT 3", "+OK\r\n");
        h.check("DBSIZE", ":0\r\n");
        h.check("SELECT default", "+OK\r\n");
        h.check(&format!("GET in{sep}default"), &bulk("1"));
        let users = h.shared.store.cache("users").unwrap();
        let now = h.shared.store.now();
        let stored = users.peek_with(mapcache_store::Addressing::HTTP, b"user/1/name", now, |e| {
            e.map(|e| e.value.clone())
        });
        assert_eq!(stored, Some(Value::string(b"Ann")), "{mode:?}");
        // A selected cache that goes away answers Go's error for its commands.
        h.check("SELECT users", "+OK\r\n");
        h.shared.store.delete_cache("users").unwrap();
        h.check("DBSIZE", "-ERR cache not found\r\n");
        h.check(&format!("GET user{sep}1"), "-ERR cache not found\r\n");
        h.check("PING", "+PONG\r\n");
        h.check("SELECT sessions", "+OK\r\n");
    }
    // Flat mode: Redis's SELECT, untouched.
    let mut h = Harness::new();
    h.check(
        "SELECT users",
        "-ERR value is not an integer or out of range\r\n",
    );
    h.check("SELECT 16", "-ERR DB index is out of range\r\n");
    h.check("SELECT 15", "+OK\r\n");
    h.check("KEYS *", "*0\r\n");
    h.check("SET a:b 1", "+OK\r\n");
    h.check("KEYS a:*", &bulks(&["a:b"]));
}

/// COPY ... DB from a named cache would read another database: refused.
#[test]
fn copy_across_databases_is_refused_in_a_named_cache() {
    let mut h = Harness::with_config(RuntimeConfig {
        key_mode: KeyMode::Path,
        ..Default::default()
    });
    h.shared.store.create_cache("users", None).unwrap();
    h.check("SET a 1", "+OK\r\n");
    h.check("SELECT users", "+OK\r\n");
    h.check("SET a 2", "+OK\r\n");
    h.check(
        "COPY a b DB 3",
        "-ERR COPY ... DB is not supported while a named cache is selected\r\n",
    );
    h.check("COPY a b", ":1\r\n");
    h.check("GET b", &bulk("2"));
    h.check("SELECT 0", "+OK\r\n");
    h.check("EXISTS b", ":0\r\n");
}

#[test]
fn move_and_reset_know_a_selected_named_cache() {
    let mut h = Harness::with_config(RuntimeConfig {
        key_mode: KeyMode::Path,
        default_cache: "sessions".into(),
        ..Default::default()
    });
    h.shared.store.create_cache("sessions", None).unwrap();
    h.shared.store.create_cache("users", None).unwrap();
    h.check("SELECT users", "+OK\r\n");
    h.check("SET top 1", "+OK\r\n");
    // A named cache has no database number to move from.
    h.check(
        "MOVE top 1",
        "-ERR MOVE is not supported while a named cache is selected\r\n",
    );
    h.check("EXISTS top", ":1\r\n");
    // RESET selects what a new connection starts in: RESP_DEFAULT_CACHE.
    h.check("RESET", "+RESET\r\n");
    h.check("EXISTS top", ":0\r\n");
    h.check("SET s 1", "+OK\r\n");
    let sessions = h.shared.store.cache("sessions").unwrap();
    assert_eq!(sessions.len(h.shared.store.now()), 1);
}
