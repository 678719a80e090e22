//! Transcript tests of the string commands. Every expected reply was checked against
//! redis-server 7.0.15.

mod common;
use common::replies::*;
use common::{Harness, T0};
use mapcache_commands::RuntimeConfig;
use mapcache_store::{List, Value};

/// Stores a list at `key` in db 0 straight through the store (no list commands needed).
fn put_list(h: &Harness, key: &str) {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(key.as_bytes(), now, |km| {
            km.insert(Value::List(List::from(vec![Value::string(b"x")])), None)
        })
        .unwrap();
}

fn put_hash(h: &Harness, key: &str) {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(key.as_bytes(), now, |km| {
            let mut v = Value::new_hash();
            v.as_hash_mut().unwrap().insert(b"f", Value::string(b"v"));
            km.insert(v, None)
        })
        .unwrap();
}

fn hits_misses(h: &Harness) -> (u64, u64) {
    let st = h.shared.store.db(0).unwrap().stats();
    (st.hits, st.misses)
}

#[test]
fn get_and_set() {
    let mut h = Harness::new();
    h.check("GET k", NIL);
    h.check("SET k hello", OK);
    h.check("GET k", &bulk("hello"));
    h.check("set k world", OK);
    h.check("get k", &bulk("world"));
    assert_eq!(h.run(&[b"SET", b"bin", b"a b\r\n\0c"]), b"+OK\r\n");
    assert_eq!(h.run(&[b"GET", b"bin"]), b"$7\r\na b\r\n\0c\r\n");
    h.check("SET e ", OK);
    h.check("GET e", "$0\r\n\r\n");
    put_list(&h, "l");
    put_hash(&h, "hs");
    h.check("GET l", WRONGTYPE);
    h.check("GET hs", WRONGTYPE);
    h.check(
        "GET",
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    h.check(
        "GET a b",
        "-ERR wrong number of arguments for 'get' command\r\n",
    );
    h.check(
        "SET k",
        "-ERR wrong number of arguments for 'set' command\r\n",
    );
    // SET overwrites any type.
    h.check("SET l v", OK);
    h.check("GET l", &bulk("v"));
}

#[test]
fn set_option_syntax() {
    let mut h = Harness::new();
    for bad in [
        "SET k v NX XX",
        "SET k v XX NX",
        "SET k v EX 10 PX 100",
        "SET k v EX 10 EXAT 100",
        "SET k v PX 10 PXAT 100",
        "SET k v EXAT 10 PXAT 100",
        "SET k v EX 10 KEEPTTL",
        "SET k v KEEPTTL EX 10",
        "SET k v KEEPTTL PXAT 10",
        "SET k v EX",
        "SET k v PX",
        "SET k v PERSIST",
        "SET k v foo",
        "SET k v NX foo",
    ] {
        h.check(bad, SYNTAX);
    }
    h.check("EXISTS k", &int(0));
    // Repeats are fine; the last expire wins.
    h.check("SET k v EX 10 EX 20", OK);
    h.check("TTL k", &int(20));
    h.check("SET k v nx NX", NIL);
    h.check("SET k v xx XX", OK);
    h.check("SET k v get GET", &bulk("v"));
    h.check("TTL k", &int(-1));
    h.check("SET k v EX 20", OK);
    h.check("SET k v keepttl KEEPTTL", OK);
    h.check("TTL k", &int(20));
    h.check("set k v Px 5000 pX 3000", OK);
    h.check("PTTL k", &int(3000));
}

#[test]
fn set_expire_values() {
    let mut h = Harness::new();
    let invalid = "-ERR invalid expire time in 'set' command\r\n";
    h.check("SET k v EX 0", invalid);
    h.check("SET k v EX -1", invalid);
    h.check("SET k v PX 0", invalid);
    h.check("SET k v EXAT 0", invalid);
    h.check("SET k v PXAT 0", invalid);
    h.check("SET k v PXAT -5", invalid);
    h.check("SET k v EX abc", NOT_INT);
    h.check("SET k v PX 1.5", NOT_INT);
    // seconds * 1000 overflows / adding now overflows.
    h.check("SET k v EX 9223372036854776", invalid);
    h.check("SET k v EX 9223372036854775", invalid);
    h.check("SET k v PX 9223372036854775807", invalid);
    h.check("EXISTS k", &int(0));
    // Absolute times do not add now.
    h.check("SET k v EXAT 9223372036854775", OK);
    h.check("PEXPIRETIME k", &int(9_223_372_036_854_775_000));
    h.check("SET k v PXAT 9223372036854775807", OK);
    h.check("PEXPIRETIME k", &int(i64::MAX));
    // Syntax errors come before value errors.
    h.check("SET k v EX abc foo", SYNTAX);
}

#[test]
fn set_expire_with_clock() {
    let mut h = Harness::new();
    h.check("SET k v EX 10", OK);
    h.check("TTL k", &int(10));
    h.check("PTTL k", &int(10_000));
    h.advance_ms(9_999);
    h.check("GET k", &bulk("v"));
    h.check("PTTL k", &int(1));
    h.advance_ms(2);
    h.check("GET k", NIL);
    h.check("EXISTS k", &int(0));

    h.check("SET k v PX 1500", OK);
    h.check("PTTL k", &int(1500));
    h.check("TTL k", &int(2));

    h.check(&format!("SET k v PXAT {}", T0 + 60_000), OK);
    h.check("PEXPIRETIME k", &int(T0 + 60_000));
    h.check(&format!("SET k v EXAT {}", T0 / 1000 + 100), OK);
    h.check("EXPIRETIME k", &int(T0 / 1000 + 100));
    h.check("TTL k", &int(90));

    // A deadline already past: OK, and the key is gone.
    h.check(&format!("SET k v PXAT {}", T0 - 1), OK);
    h.check("EXISTS k", &int(0));
    h.check("SET k v", OK);
    h.check(&format!("SET k w EXAT {} GET", T0 / 1000 - 10), &bulk("v"));
    h.check("GET k", NIL);
}

#[test]
fn set_keepttl_and_ttl_reset() {
    let mut h = Harness::new();
    h.check("SET k v EX 100", OK);
    h.check("SET k v2 KEEPTTL", OK);
    h.check("TTL k", &int(100));
    h.check("GET k", &bulk("v2"));
    h.check("SET k v3", OK);
    h.check("TTL k", &int(-1));
    h.check("SET k v EX 100", OK);
    h.check("SET k v4 XX", OK);
    h.check("TTL k", &int(-1));
    // KEEPTTL on a new key: no TTL.
    h.check("SET n v KEEPTTL", OK);
    h.check("TTL n", &int(-1));
}

#[test]
fn set_nx_xx_get() {
    let mut h = Harness::new();
    h.check("SET k v XX", NIL);
    h.check("EXISTS k", &int(0));
    h.check("SET k v NX", OK);
    h.check("SET k w NX", NIL);
    h.check("GET k", &bulk("v"));
    h.check("SET k w XX", OK);
    h.check("GET k", &bulk("w"));
    h.check("SET k x GET", &bulk("w"));
    h.check("SET n x GET", NIL);
    h.check("GET n", &bulk("x"));
    // NX GET: the old value, and nothing set.
    h.check("SET k y NX GET", &bulk("x"));
    h.check("GET k", &bulk("x"));
    h.check("SET k2 v NX GET", NIL);
    h.check("GET k2", &bulk("v"));
    h.check("SET k3 v XX GET", NIL);
    h.check("EXISTS k3", &int(0));
    h.check("SET k z XX GET", &bulk("x"));
    h.check("GET k", &bulk("z"));
    h.check("SET k a GET EX 100", &bulk("z"));
    h.check("TTL k", &int(100));
}

#[test]
fn set_get_against_wrong_type_changes_nothing() {
    let mut h = Harness::new();
    put_list(&h, "l");
    h.check("SET l v GET", WRONGTYPE);
    h.check("SET l v GET NX", WRONGTYPE);
    h.check("SET l v GET XX EX 10", WRONGTYPE);
    h.check("TYPE l", "+list\r\n");
    // The expire time is checked before the type.
    h.check(
        "SET l v GET EX 0",
        "-ERR invalid expire time in 'set' command\r\n",
    );
    h.check("SET l v", OK);
    h.check("TYPE l", "+string\r\n");
}

#[test]
fn setnx_setex_psetex() {
    let mut h = Harness::new();
    h.check("SETNX k v", &int(1));
    h.check("SETNX k w", &int(0));
    h.check("GET k", &bulk("v"));
    put_list(&h, "l");
    h.check("SETNX l w", &int(0));

    h.check("SETEX k 10 v", OK);
    h.check("TTL k", &int(10));
    h.check(
        "SETEX k 0 v",
        "-ERR invalid expire time in 'setex' command\r\n",
    );
    h.check(
        "SETEX k -5 v",
        "-ERR invalid expire time in 'setex' command\r\n",
    );
    h.check(
        "SETEX k 9223372036854775 v",
        "-ERR invalid expire time in 'setex' command\r\n",
    );
    h.check("SETEX k abc v", NOT_INT);
    h.check(
        "PSETEX k 0 v",
        "-ERR invalid expire time in 'psetex' command\r\n",
    );
    h.check("PSETEX k 1500 w", OK);
    h.check("PTTL k", &int(1500));
    h.check("GET k", &bulk("w"));
    h.advance_ms(1501);
    h.check("GET k", NIL);
    h.check("SETEX l 10 v", OK);
    h.check("GET l", &bulk("v"));
    h.check(
        "SETEX k 10",
        "-ERR wrong number of arguments for 'setex' command\r\n",
    );
}

#[test]
fn getset_drops_ttl() {
    let mut h = Harness::new();
    h.check("GETSET k v", NIL);
    h.check("GET k", &bulk("v"));
    h.check("EXPIRE k 100", &int(1));
    h.check("GETSET k w", &bulk("v"));
    h.check("TTL k", &int(-1));
    put_list(&h, "l");
    h.check("GETSET l v", WRONGTYPE);
    h.check("TYPE l", "+list\r\n");
}

#[test]
fn getex_options() {
    let mut h = Harness::new();
    h.check("SET k v", OK);
    for bad in [
        "GETEX k NX",
        "GETEX k XX",
        "GETEX k GET",
        "GETEX k KEEPTTL",
        "GETEX k PERSIST EX 10",
        "GETEX k EX 10 PERSIST",
        "GETEX k EX 10 PX 10",
        "GETEX k EX",
        "GETEX k foo",
        "GETEX nokey foo",
    ] {
        h.check(bad, SYNTAX);
    }
    h.check(
        "GETEX k EX 0",
        "-ERR invalid expire time in 'getex' command\r\n",
    );
    h.check(
        "GETEX k EX 9223372036854775",
        "-ERR invalid expire time in 'getex' command\r\n",
    );
    h.check("GETEX k EX abc", NOT_INT);
    // A missing key answers nil before the time is even looked at.
    h.check("GETEX nokey EX abc", NIL);
    h.check("GETEX nokey EX 0", NIL);
    h.check("GETEX k", &bulk("v"));
    h.check("TTL k", &int(-1));
    h.check("GETEX k EX 10 EX 20", &bulk("v"));
    h.check("TTL k", &int(20));
    h.check("GETEX k PX 5000", &bulk("v"));
    h.check("PTTL k", &int(5000));
    h.check("GETEX k", &bulk("v"));
    h.check("PTTL k", &int(5000));
    h.check("GETEX k PERSIST PERSIST", &bulk("v"));
    h.check("TTL k", &int(-1));
    h.check(&format!("GETEX k PXAT {}", T0 + 7000), &bulk("v"));
    h.check("PTTL k", &int(7000));
    h.check(&format!("GETEX k EXAT {}", T0 / 1000 + 9), &bulk("v"));
    h.check("TTL k", &int(9));
    // An absolute time already past deletes the key after answering.
    h.check("GETEX k EXAT 1", &bulk("v"));
    h.check("EXISTS k", &int(0));
    put_list(&h, "l");
    h.check("GETEX l", WRONGTYPE);
    h.check("GETEX l EX abc", WRONGTYPE);
    h.check("GETEX l foo", SYNTAX);
}

#[test]
fn getdel() {
    let mut h = Harness::new();
    h.check("GETDEL k", NIL);
    h.check("SET k v EX 100", OK);
    h.check("GETDEL k", &bulk("v"));
    h.check("EXISTS k", &int(0));
    put_list(&h, "l");
    h.check("GETDEL l", WRONGTYPE);
    h.check("EXISTS l", &int(1));
}

#[test]
fn mget_mset_msetnx() {
    let mut h = Harness::new();
    h.check(
        "MSET a",
        "-ERR wrong number of arguments for 'mset' command\r\n",
    );
    h.check(
        "MSET a 1 b",
        "-ERR wrong number of arguments for 'mset' command\r\n",
    );
    h.check(
        "MSETNX a 1 b",
        "-ERR wrong number of arguments for 'msetnx' command\r\n",
    );
    h.check(
        "MGET",
        "-ERR wrong number of arguments for 'mget' command\r\n",
    );
    h.check("MSET a 1 b 2", OK);
    put_list(&h, "l");
    h.check(
        "MGET a b nokey l a",
        "*5\r\n$1\r\n1\r\n$1\r\n2\r\n$-1\r\n$-1\r\n$1\r\n1\r\n",
    );
    h.check("MSET a 1 a 2", OK);
    h.check("GET a", &bulk("2"));
    // MSET drops TTLs and overwrites other types.
    h.check("EXPIRE a 100", &int(1));
    h.check("MSET a 3 l x", OK);
    h.check("TTL a", &int(-1));
    h.check("GET l", &bulk("x"));
    h.check("MSETNX a 1 c 2", &int(0));
    h.check("EXISTS c", &int(0));
    h.check("MSETNX c 1 d 2", &int(1));
    h.check("MGET c d", "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    h.check("MSETNX e 1 e 2", &int(1));
    h.check("GET e", &bulk("2"));
    // Many keys across shards, atomically.
    let mut cmd = String::from("MSET");
    for i in 0..100 {
        cmd.push_str(&format!(" key{i} val{i}"));
    }
    h.check(&cmd, OK);
    h.check("DBSIZE", &int(106));
    h.check("MGET key0 key99", "*2\r\n$4\r\nval0\r\n$5\r\nval99\r\n");
}

#[test]
fn append_and_strlen() {
    let mut h = Harness::new();
    h.check("STRLEN k", &int(0));
    h.check("APPEND k abc", &int(3));
    h.check("APPEND k def", &int(6));
    h.check("GET k", &bulk("abcdef"));
    h.check("STRLEN k", &int(6));
    h.check("APPEND k ", &int(6));
    h.check("APPEND e ", &int(0));
    h.check("EXISTS e", &int(1));
    h.check("SET n 10", OK);
    h.check("APPEND n 5", &int(3));
    h.check("INCR n", &int(106));
    // APPEND keeps the TTL.
    h.check("EXPIRE n 100", &int(1));
    h.check("APPEND n 1", &int(4));
    h.check("TTL n", &int(100));
    put_list(&h, "l");
    h.check("APPEND l x", WRONGTYPE);
    h.check("STRLEN l", WRONGTYPE);
    // Many appends grow one buffer.
    for _ in 0..1000 {
        h.run(&[b"APPEND", b"big", b"0123456789"]);
    }
    h.check("STRLEN big", &int(10_000));
    h.check("GETRANGE big 9990 -1", &bulk("0123456789"));
}

#[test]
fn append_and_setrange_respect_proto_max_bulk_len() {
    let mut h = Harness::with_config(RuntimeConfig {
        proto_max_bulk_len: 10,
        ..RuntimeConfig::default()
    });
    let too_big = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n";
    h.check("APPEND k 12345", &int(5));
    h.check("APPEND k 12345", &int(10));
    h.check("APPEND k 1", too_big);
    h.check("SETRANGE n 9 a", &int(10));
    h.check("SETRANGE n 10 a", too_big);
    h.check("SETRANGE m 10 a", too_big);
    h.check("EXISTS m", &int(0));
    h.check("SETRANGE n 9223372036854775807 a", too_big);
    // Nothing to write: the length, no size check.
    h.check("SETRANGE n 100 ", &int(10));
}

#[test]
fn getrange_follows_redis_7_0() {
    let mut h = Harness::new();
    h.check("SET s hello", OK);
    for (range, want) in [
        ("0 -1", "hello"),
        ("0 -100", "h"),
        ("-100 -1", "hello"),
        ("-1 -5", ""),
        ("-3 -1", "llo"),
        ("2 1", ""),
        ("5 10", ""),
        ("4 100", "o"),
        ("-100 -100", "h"),
        ("0 0", "h"),
        ("1 3", "ell"),
        ("9223372036854775807 9223372036854775807", ""),
        ("-9223372036854775808 -1", "hello"),
        ("-9223372036854775808 9223372036854775807", "hello"),
    ] {
        h.check(&format!("GETRANGE s {range}"), &bulk(want));
        h.check(&format!("SUBSTR s {range}"), &bulk(want));
    }
    h.check("GETRANGE s abc 1", NOT_INT);
    h.check("GETRANGE s 1 abc", NOT_INT);
    h.check("GETRANGE nokey 0 -1", &bulk(""));
    h.check("GETRANGE nokey x 1", NOT_INT);
    h.check("SET e ", OK);
    h.check("GETRANGE e 0 -1", &bulk(""));
    h.check("GETRANGE e -1 0", &bulk(""));
    put_list(&h, "l");
    h.check("GETRANGE l 0 1", WRONGTYPE);
    h.check("GETRANGE l x 1", NOT_INT);
}

#[test]
fn setrange() {
    let mut h = Harness::new();
    h.check("SETRANGE k 0 ", &int(0));
    h.check("EXISTS k", &int(0));
    h.check("SETRANGE k 3 ab", &int(5));
    assert_eq!(h.run(&[b"GET", b"k"]), b"$5\r\n\0\0\0ab\r\n");
    h.check("SETRANGE k 1 X", &int(5));
    assert_eq!(h.run(&[b"GET", b"k"]), b"$5\r\n\0X\0ab\r\n");
    h.check("SETRANGE k 4 xyz", &int(7));
    assert_eq!(h.run(&[b"GET", b"k"]), b"$7\r\n\0X\0axyz\r\n");
    h.check("SETRANGE k -1 a", "-ERR offset is out of range\r\n");
    h.check("SETRANGE nokey -1 ", "-ERR offset is out of range\r\n");
    h.check("SETRANGE k abc a", NOT_INT);
    h.check(
        "SETRANGE k 536870912 a",
        "-ERR string exceeds maximum allowed size (proto-max-bulk-len)\r\n",
    );
    h.check("SETRANGE k 536870912 ", &int(7));
    h.check("SET s hello", OK);
    h.check("EXPIRE s 100", &int(1));
    h.check("SETRANGE s 0 J", &int(5));
    h.check("GET s", &bulk("Jello"));
    h.check("TTL s", &int(100));
    put_list(&h, "l");
    h.check("SETRANGE l 0 ", WRONGTYPE);
    h.check("SETRANGE l 0 a", WRONGTYPE);
    h.check("SETRANGE l -1 ", "-ERR offset is out of range\r\n");
}

#[test]
fn incr_decr() {
    let mut h = Harness::new();
    let overflow = "-ERR increment or decrement would overflow\r\n";
    h.check("INCR a", &int(1));
    h.check("DECR a", &int(0));
    h.check("DECR a", &int(-1));
    h.check("INCRBY a 10", &int(9));
    h.check("DECRBY a 5", &int(4));
    h.check("GET a", &bulk("4"));
    h.check("INCRBY a abc", NOT_INT);
    h.check("INCRBY a 1.5", NOT_INT);
    h.check(
        "DECRBY a -9223372036854775808",
        "-ERR decrement would overflow\r\n",
    );
    h.check(
        "DECRBY nokey -9223372036854775808",
        "-ERR decrement would overflow\r\n",
    );
    h.check("SET a 9223372036854775807", OK);
    h.check("INCR a", overflow);
    h.check("SET a -9223372036854775808", OK);
    h.check("DECR a", overflow);
    h.check("DECRBY a 1", overflow);
    h.check("INCRBY a -1", overflow);
    h.check("INCRBY a 9223372036854775807", &int(-1));
    h.check("SET a 9223372036854775806", OK);
    h.check("INCRBY a 1", &int(i64::MAX));
    h.check("INCR a", overflow);
    h.check("GET a", &bulk("9223372036854775807"));
    for bad in [
        "1.5",
        " 1",
        "01",
        "+1",
        "-0",
        "12345678901234567890",
        "",
        "1 ",
    ] {
        assert_eq!(h.run(&[b"SET", b"s", bad.as_bytes()]), b"+OK\r\n");
        h.check("INCR s", NOT_INT);
    }
    put_list(&h, "l");
    h.check("INCR l", WRONGTYPE);
    h.check("INCRBY l abc", NOT_INT);
    h.check(
        "DECRBY l -9223372036854775808",
        "-ERR decrement would overflow\r\n",
    );
    h.check("INCRBY n 9223372036854775807", &int(i64::MAX));
    h.check("INCRBY n 1", overflow);
    // The TTL survives.
    h.check("SET t 5 EX 100", OK);
    h.check("INCR t", &int(6));
    h.check("TTL t", &int(100));
}

#[test]
fn incrbyfloat() {
    let mut h = Harness::new();
    h.check("INCRBYFLOAT f 1.5", &bulk("1.5"));
    h.check("INCRBYFLOAT f 1.5", &bulk("3"));
    h.check("GET f", &bulk("3"));
    for (start, by, want) in [
        ("10.50", "0.1", "10.6"),
        ("3.0e3", "1.5", "3001.5"),
        ("5.0e3", "0", "5000"),
        ("0.1", "0.2", "0.3"),
        ("1", "-1", "0"),
        ("-1e-20", "0", "0"),
        ("0x10", "0", "16"),
        ("+5", "-7.25", "-2.25"),
        ("1.000011444091796875", "0", "1.00001144409179688"),
        ("9223372036854775807", "1", "9223372036854775808"),
    ] {
        h.check(&format!("SET f {start}"), OK);
        h.check(&format!("INCRBYFLOAT f {by}"), &bulk(want));
        h.check("GET f", &bulk(want));
    }
    h.check("SET f 1e308", OK);
    let big = h.run(&[b"INCRBYFLOAT", b"f", b"1e308"]);
    assert!(
        big.starts_with(b"$309\r\n19999999999999999999337"),
        "{}",
        String::from_utf8_lossy(&big)
    );
    let nan_inf = "-ERR increment would produce NaN or Infinity\r\n";
    h.check("SET f 1", OK);
    h.check("INCRBYFLOAT f inf", nan_inf);
    h.check("INCRBYFLOAT f -INF", nan_inf);
    h.check("INCRBYFLOAT f nan", NOT_FLOAT);
    h.check("INCRBYFLOAT f abc", NOT_FLOAT);
    h.check("INCRBYFLOAT f 1e", NOT_FLOAT);
    h.check("INCRBYFLOAT f 1.2e4932", NOT_FLOAT);
    h.check("INCRBYFLOAT f 1e-5000", NOT_FLOAT);
    h.check("GET f", &bulk("1"));
    h.check("SET f abc", OK);
    h.check("INCRBYFLOAT f 1", NOT_FLOAT);
    h.check("SET f inf", OK);
    h.check("INCRBYFLOAT f 1", nan_inf);
    h.check("INCRBYFLOAT f abc", NOT_FLOAT);
    put_list(&h, "l");
    h.check("INCRBYFLOAT l 1", WRONGTYPE);
    h.check("INCRBYFLOAT l abc", WRONGTYPE);
    // The TTL survives.
    h.check("SET t 1.5 EX 100", OK);
    h.check("INCRBYFLOAT t 1", &bulk("2.5"));
    h.check("TTL t", &int(100));
}

#[test]
fn lazy_expiry_hides_keys_from_string_commands() {
    let mut h = Harness::new();
    h.check("SET k 5 PX 100", OK);
    h.check("SET s hello PX 100", OK);
    h.advance_ms(101);
    h.check("GET k", NIL);
    h.check("STRLEN s", &int(0));
    h.check("GETRANGE s 0 -1", &bulk(""));
    h.check("MGET k s", "*2\r\n$-1\r\n$-1\r\n");
    h.check("SET s x XX", NIL);
    h.check("INCR k", &int(1));
    h.check("TTL k", &int(-1));
    h.check("APPEND s ab", &int(2));
    h.check("GET s", &bulk("ab"));
}

#[test]
fn resp3_nulls() {
    let mut h = Harness::new();
    h.resp3();
    h.check("GET k", "_\r\n");
    h.check("MGET k", "*1\r\n_\r\n");
    h.check("GETEX k", "_\r\n");
    h.check("GETDEL k", "_\r\n");
    h.check("GETSET k v", "_\r\n");
    h.check("SET k v NX", "_\r\n");
    h.check("SET n v GET", "_\r\n");
    h.check("SET k w GET", &bulk("v"));
}

#[test]
fn keyspace_hits_and_misses_count_like_redis() {
    let mut h = Harness::new();
    h.check("SET a 1", OK);
    assert_eq!(hits_misses(&h), (0, 0));
    h.check("GET a", &bulk("1"));
    h.check("GET b", NIL);
    assert_eq!(hits_misses(&h), (1, 1));
    h.check("STRLEN a", &int(1));
    h.check("GETRANGE a 0 1", &bulk("1"));
    assert_eq!(hits_misses(&h), (3, 1));
    // Writes do not count...
    h.check("INCR a", &int(2));
    h.check("APPEND a 0", &int(2));
    h.check("SETRANGE a 0 1", &int(2));
    h.check("INCRBYFLOAT a 1", &bulk("11"));
    assert_eq!(hits_misses(&h), (3, 1));
    // ...except those that read the old value.
    h.check("MGET a b", "*2\r\n$2\r\n11\r\n$-1\r\n");
    h.check("GETSET a 1", &bulk("11"));
    h.check("GETEX a", &bulk("1"));
    h.check("SET b 1 GET", NIL);
    h.check("GETDEL b", &bulk("1"));
    assert_eq!(hits_misses(&h), (7, 3));
}
