//! Transcript tests of the list commands. Every expected reply was checked against
//! redis-server 7.0.15.

mod common;
use common::replies::*;
use common::Harness;
use mapcache_store::{List, Value};

const NOT_POSITIVE: &str = "-ERR value is out of range, must be positive\r\n";
const RANK_ZERO: &str = "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list\r\n";

/// An array of bulk strings.
fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&bulk(i));
    }
    s
}

/// An array of integers.
fn ints(items: &[i64]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for &i in items {
        s.push_str(&int(i));
    }
    s
}

fn exists(h: &Harness, key: &str) -> bool {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .peek(key.as_bytes(), now, |e| e.is_some())
}

fn put_string(h: &Harness, key: &str) {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(key.as_bytes(), now, |km| {
            km.insert(Value::string(b"x"), None)
        })
        .unwrap();
}

#[test]
fn push_and_range() {
    let mut h = Harness::new();
    h.check("LPUSHX l a", &int(0));
    h.check("RPUSHX l a b", &int(0));
    assert!(!exists(&h, "l"));
    h.check("LPUSH l a b c", &int(3));
    h.check("LPUSHX l d e", &int(5));
    h.check("RPUSHX l f", &int(6));
    h.check("RPUSH l g h", &int(8));
    h.check(
        "LRANGE l 0 -1",
        &arr(&["e", "d", "c", "b", "a", "f", "g", "h"]),
    );
    h.check("LLEN l", &int(8));
    h.check("LLEN nokey", &int(0));
    for cmd in ["LPUSH", "LPUSH l", "RPUSH l", "LPUSHX l", "RPUSHX l"] {
        let name = cmd.split(' ').next().unwrap().to_ascii_lowercase();
        h.check(
            cmd,
            &format!("-ERR wrong number of arguments for '{name}' command\r\n"),
        );
    }
}

#[test]
fn lrange_index_edges() {
    let mut h = Harness::new();
    h.check("RPUSH l a b c d e", &int(5));
    h.check("LRANGE l -100 100", &arr(&["a", "b", "c", "d", "e"]));
    h.check("LRANGE l 1 -2", &arr(&["b", "c", "d"]));
    h.check("LRANGE l -2 -1", &arr(&["d", "e"]));
    h.check("LRANGE l 4 4", &arr(&["e"]));
    h.check("LRANGE l 5 1", EMPTY);
    h.check("LRANGE l 10 20", EMPTY);
    h.check("LRANGE l -1 -2", EMPTY);
    h.check("LRANGE l 3 1", EMPTY);
    h.check(
        "LRANGE l -9223372036854775808 9223372036854775807",
        &arr(&["a", "b", "c", "d", "e"]),
    );
    h.check("LRANGE l x 1", NOT_INT);
    h.check("LRANGE l 0 y", NOT_INT);
    h.check("LRANGE nokey 0 -1", EMPTY);
    h.check("LRANGE nokey x 1", NOT_INT);
    h.check(
        "LRANGE l 0",
        "-ERR wrong number of arguments for 'lrange' command\r\n",
    );
}

#[test]
fn lindex_edges() {
    let mut h = Harness::new();
    h.check("RPUSH l a b c", &int(3));
    h.check("LINDEX l 0", &bulk("a"));
    h.check("LINDEX l 2", &bulk("c"));
    h.check("LINDEX l -1", &bulk("c"));
    h.check("LINDEX l -3", &bulk("a"));
    h.check("LINDEX l 3", NIL);
    h.check("LINDEX l -4", NIL);
    h.check("LINDEX l 100", NIL);
    h.check("LINDEX l -9223372036854775808", NIL);
    h.check("LINDEX l x", NOT_INT);
    // The key is looked at before the index.
    h.check("LINDEX nokey x", NIL);
    h.check("LINDEX nokey 0", NIL);
}

#[test]
fn pops() {
    let mut h = Harness::new();
    h.check("RPUSH l a b c d e", &int(5));
    h.check("LPOP l 0", EMPTY);
    h.check("LPOP l -1", NOT_POSITIVE);
    h.check("LPOP l x", NOT_POSITIVE);
    h.check("LPOP nokey 0", "*-1\r\n");
    h.check("LPOP nokey 2", "*-1\r\n");
    h.check("LPOP nokey", NIL);
    h.check("RPOP nokey", NIL);
    h.check("LPOP nokey -1", NOT_POSITIVE);
    h.check("LPOP l 2", &arr(&["a", "b"]));
    h.check("RPOP l 2", &arr(&["e", "d"]));
    h.check("LPOP l 1", &arr(&["c"]));
    assert!(
        !exists(&h, "l"),
        "popping the last element deletes the list"
    );
    h.check("LPOP l", NIL);
    h.check(
        "LPOP l 1 2",
        "-ERR wrong number of arguments for 'lpop' command\r\n",
    );
    h.check(
        "RPOP l 1 2",
        "-ERR wrong number of arguments for 'rpop' command\r\n",
    );
    h.check(
        "LPOP",
        "-ERR wrong number of arguments for 'lpop' command\r\n",
    );
    h.check("RPUSH l a b c", &int(3));
    h.check("RPOP l", &bulk("c"));
    h.check("LPOP l", &bulk("a"));
    h.check("RPOP l 100", &arr(&["b"]));
    assert!(!exists(&h, "l"));
    h.check("RPUSH l a", &int(1));
    h.check("LPOP l 9223372036854775807", &arr(&["a"]));
    assert!(!exists(&h, "l"));
}

#[test]
fn wrongtype_against_a_string() {
    let mut h = Harness::new();
    put_string(&h, "s");
    for cmd in [
        "LPUSH s a",
        "RPUSH s a",
        "LPUSHX s a",
        "RPUSHX s a",
        "LPOP s",
        "LPOP s 0",
        "RPOP s 2",
        "LLEN s",
        "LRANGE s 0 1",
        "LINDEX s 0",
        "LINDEX s x",
        "LSET s 0 x",
        "LSET s x x",
        "LTRIM s 0 1",
        "LINSERT s before a x",
        "LREM s 0 a",
        "LPOS s a",
        "LPOS s a COUNT 0",
    ] {
        h.check(cmd, WRONGTYPE);
    }
    // Argument errors come first where Redis checks them first.
    h.check("LPOP s -1", NOT_POSITIVE);
    h.check("LRANGE s x 1", NOT_INT);
    h.check("LTRIM s x 1", NOT_INT);
    h.check("LINSERT s foo a x", SYNTAX);
    h.check("LREM s x a", NOT_INT);
    h.check("LPOS s a RANK 0", RANK_ZERO);
    h.check("LPOS s a foo", SYNTAX);
    // A hash is the wrong type too.
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(b"h", now, |km| {
            let mut hash = mapcache_store::Hash::new();
            hash.insert(b"f", Value::string(b"v"));
            km.insert(Value::hash(hash), None)
        })
        .unwrap();
    h.check("LPUSH h a", WRONGTYPE);
    h.check("LLEN h", WRONGTYPE);
}

#[test]
fn lset() {
    let mut h = Harness::new();
    h.check("LSET nokey 0 x", "-ERR no such key\r\n");
    h.check("LSET nokey x x", "-ERR no such key\r\n");
    h.check("RPUSH l a b c", &int(3));
    h.check("LSET l x x", NOT_INT);
    h.check("LSET l 3 x", "-ERR index out of range\r\n");
    h.check("LSET l -4 x", "-ERR index out of range\r\n");
    h.check("LSET l 100 x", "-ERR index out of range\r\n");
    h.check("LSET l -1 Z", OK);
    h.check("LSET l 0 A", OK);
    h.check("LSET l 1 B", OK);
    h.check("LRANGE l 0 -1", &arr(&["A", "B", "Z"]));
    h.check(
        "LSET l 1",
        "-ERR wrong number of arguments for 'lset' command\r\n",
    );
}

#[test]
fn ltrim() {
    let mut h = Harness::new();
    h.check("LTRIM nokey 0 1", OK);
    h.check("LTRIM nokey x 1", NOT_INT);
    assert!(!exists(&h, "nokey"));
    h.check("RPUSH l a b c d e f g", &int(7));
    h.check("LTRIM l 1 -2", OK);
    h.check("LRANGE l 0 -1", &arr(&["b", "c", "d", "e", "f"]));
    h.check("LTRIM l -100 100", OK);
    h.check("LRANGE l 0 -1", &arr(&["b", "c", "d", "e", "f"]));
    h.check("LTRIM l -9223372036854775808 9223372036854775807", OK);
    h.check("LLEN l", &int(5));
    h.check("LTRIM l 1 1", OK);
    h.check("LRANGE l 0 -1", &arr(&["c"]));
    h.check("LTRIM l -1 -1", OK);
    h.check("LRANGE l 0 -1", &arr(&["c"]));
    h.check("LTRIM l 5 1", OK);
    assert!(!exists(&h, "l"), "an empty range deletes the list");
    h.check("RPUSH l a b c", &int(3));
    h.check("LTRIM l 3 10", OK);
    assert!(!exists(&h, "l"));
    h.check("RPUSH l a b c", &int(3));
    h.check("LTRIM l -1 -2", OK);
    assert!(!exists(&h, "l"));
}

#[test]
fn linsert() {
    let mut h = Harness::new();
    h.check("LINSERT nokey before a x", &int(0));
    h.check("LINSERT nokey foo a x", SYNTAX);
    assert!(!exists(&h, "nokey"));
    h.check("RPUSH l a b c a b c a", &int(7));
    h.check("LINSERT l foo a x", SYNTAX);
    h.check("LINSERT l before zz x", &int(-1));
    h.check("LINSERT l BEFORE a x", &int(8));
    h.check("LINSERT l After a y", &int(9));
    h.check("LINSERT l after c z", &int(10));
    h.check(
        "LRANGE l 0 -1",
        &arr(&["x", "a", "y", "b", "c", "z", "a", "b", "c", "a"]),
    );
    h.check(
        "LINSERT l before a",
        "-ERR wrong number of arguments for 'linsert' command\r\n",
    );
}

#[test]
fn lrem() {
    let mut h = Harness::new();
    h.check("LREM nokey 0 a", &int(0));
    h.check("LREM nokey x a", NOT_INT);
    h.check("RPUSH l x a y c a b c a", &int(8));
    h.check("LREM l x a", NOT_INT);
    h.check("LREM l 1 b", &int(1));
    h.check("LRANGE l 0 -1", &arr(&["x", "a", "y", "c", "a", "c", "a"]));
    h.check("LREM l -1 c", &int(1));
    h.check("LRANGE l 0 -1", &arr(&["x", "a", "y", "c", "a", "a"]));
    h.check("LREM l 2 a", &int(2));
    h.check("LRANGE l 0 -1", &arr(&["x", "y", "c", "a"]));
    h.check("LREM l 0 zz", &int(0));
    h.check("RPUSH l a a", &int(6));
    h.check("LREM l -2 a", &int(2));
    h.check("LRANGE l 0 -1", &arr(&["x", "y", "c", "a"]));
    h.check("LREM l 0 a", &int(1));
    h.check("LREM l -9223372036854775808 c", &int(1));
    h.check("LREM l 9223372036854775807 x", &int(1));
    h.check("LREM l 0 y", &int(1));
    assert!(
        !exists(&h, "l"),
        "removing the last element deletes the list"
    );
    h.check(
        "LREM l 1",
        "-ERR wrong number of arguments for 'lrem' command\r\n",
    );
}

#[test]
fn lpos() {
    let mut h = Harness::new();
    h.check("RPUSH l a b c a b c a", &int(7));
    h.check("LPOS l a", &int(0));
    h.check("LPOS l z", NIL);
    h.check("LPOS l a RANK 2", &int(3));
    h.check("LPOS l a rank -1", &int(6));
    h.check("LPOS l a rank -2", &int(3));
    h.check("LPOS l a rank 0", RANK_ZERO);
    h.check("LPOS l a rank x", NOT_INT);
    h.check("LPOS l a rank 9223372036854775807", NIL);
    h.check("LPOS l a count 0", &ints(&[0, 3, 6]));
    h.check("LPOS l a count 2", &ints(&[0, 3]));
    h.check("LPOS l a count 9223372036854775807", &ints(&[0, 3, 6]));
    h.check("LPOS l a count -1", "-ERR COUNT can't be negative\r\n");
    h.check("LPOS l a count x", "-ERR COUNT can't be negative\r\n");
    h.check("LPOS l z count 0", EMPTY);
    h.check("LPOS l a maxlen 3", &int(0));
    h.check("LPOS l a maxlen 3 count 0", &ints(&[0]));
    h.check("LPOS l a maxlen -1", "-ERR MAXLEN can't be negative\r\n");
    h.check("LPOS l a maxlen x", "-ERR MAXLEN can't be negative\r\n");
    h.check("LPOS l a maxlen 0 count 0", &ints(&[0, 3, 6]));
    h.check("LPOS l a maxlen 1", &int(0));
    h.check("LPOS l b maxlen 1", NIL);
    h.check("LPOS l a rank -1 count 2 maxlen 4", &ints(&[6, 3]));
    h.check("LPOS l a rank -1 count 0", &ints(&[6, 3, 0]));
    h.check("LPOS l a rank -2 maxlen 2", NIL);
    h.check("LPOS l a rank -2 maxlen 5", &int(3));
    h.check("LPOS l a rank 2 count 1", &ints(&[3]));
    h.check("LPOS l a rank 2 count 5", &ints(&[3, 6]));
    h.check("LPOS l a rank -9223372036854775807 count 0", EMPTY);
    h.check("LPOS l a rank 9223372036854775807 count 1", EMPTY);
    h.check("LPOS l c rank 3", NIL);
    h.check("LPOS l c rank 3 count 1", EMPTY);
    h.check("LPOS l a RANK 1 RANK 3", &int(6));
    // LONG_MIN wraps in Redis: the search runs from the tail and COUNT never stops it.
    h.check("LPOS l a rank -9223372036854775808", &int(6));
    h.check("LPOS l b rank -9223372036854775808", &int(4));
    h.check(
        "LPOS l a rank -9223372036854775808 count 1",
        &ints(&[6, 3, 0]),
    );
    h.check(
        "LPOS l a rank -9223372036854775808 count 2 maxlen 5",
        &ints(&[6, 3]),
    );
    h.check("LPOS l a foo", SYNTAX);
    h.check("LPOS l a rank", SYNTAX);
    h.check("LPOS l a rank 1 count", SYNTAX);
    h.check("LPOS nokey a", NIL);
    h.check("LPOS nokey a count 0", EMPTY);
    h.check("LPOS nokey a rank 0", RANK_ZERO);
    h.check("LPOS nokey a foo", SYNTAX);
    h.check(
        "LPOS l",
        "-ERR wrong number of arguments for 'lpos' command\r\n",
    );
}

#[test]
fn resp3_shapes() {
    let mut h = Harness::new();
    h.resp3();
    h.check("LPOP nokey 2", "_\r\n");
    h.check("LPOP nokey", "_\r\n");
    h.check("LINDEX nokey 0", "_\r\n");
    h.check("LRANGE nokey 0 1", EMPTY);
    h.check("LPOS nokey a", "_\r\n");
    h.check("LPOS nokey a COUNT 0", EMPTY);
    h.check("RPUSH l a", ":1\r\n");
    h.check("LPOS l z", "_\r\n");
    h.check("LPOP l 5", &arr(&["a"]));
}

#[test]
fn binary_elements() {
    let mut h = Harness::new();
    let a: &[u8] = b"a b\x00\r\n\xff";
    let b: &[u8] = b"";
    assert_eq!(h.run(&[b"RPUSH", b"l", a, b, a]), b":3\r\n");
    assert_eq!(
        h.run(&[b"LINDEX", b"l", b"0"]),
        [&b"$7\r\n"[..], a, b"\r\n"].concat()
    );
    assert_eq!(h.run(&[b"LINDEX", b"l", b"1"]), b"$0\r\n\r\n");
    assert_eq!(
        h.run(&[b"LPOS", b"l", a, b"COUNT", b"0"]),
        b"*2\r\n:0\r\n:2\r\n"
    );
    assert_eq!(h.run(&[b"LINSERT", b"l", b"AFTER", b, a]), b":4\r\n");
    assert_eq!(h.run(&[b"LREM", b"l", b"0", a]), b":3\r\n");
    assert_eq!(h.run(&[b"LPOP", b"l"]), b"$0\r\n\r\n");
    assert!(!exists(&h, "l"));
}

#[test]
fn elements_written_over_http_show_as_json_text() {
    let mut h = Harness::new();
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(b"doc", now, |km| {
            km.insert(
                Value::List(List::from(vec![
                    Value::Number(3.0),
                    Value::Bool(false),
                    Value::Null,
                    Value::string(b"s"),
                ])),
                None,
            )
        })
        .unwrap();
    h.check("LRANGE doc 0 -1", &arr(&["3", "false", "null", "s"]));
    h.check("LPOS doc false", &int(1));
    h.check("LREM doc 0 3", &int(1));
    h.check("LPOP doc", &bulk("false"));
    h.check("LLEN doc", &int(2));
}
