//! Transcript tests of the generic key commands. Every expected reply was checked
//! against redis-server 7.0.15.

mod common;
use common::replies::*;
use std::collections::HashSet;

use common::{Harness, T0};
use mapcache_store::{List, Value};

fn put_list(h: &Harness, db: usize, key: &str) {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(db)
        .unwrap()
        .update(key.as_bytes(), now, |km| {
            km.insert(Value::List(List::from(vec![Value::string(b"x")])), None)
        })
        .unwrap();
}

fn put_hash(h: &Harness, db: usize, key: &str) {
    let now = h.shared.store.now();
    h.shared
        .store
        .db(db)
        .unwrap()
        .update(key.as_bytes(), now, |km| {
            let mut v = Value::new_hash();
            v.as_hash_mut().unwrap().insert(b"f", Value::string(b"v"));
            km.insert(v, None)
        })
        .unwrap();
}

/// Parses a RESP2 array of bulk strings (KEYS, or the key list of a SCAN reply).
fn parse_bulks(mut r: &[u8]) -> (Vec<Vec<u8>>, &[u8]) {
    fn line(r: &[u8]) -> (&[u8], &[u8]) {
        let end = r.windows(2).position(|w| w == b"\r\n").unwrap();
        (&r[..end], &r[end + 2..])
    }
    let (head, rest) = line(r);
    assert_eq!(head[0], b'*');
    let n: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
    r = rest;
    let mut items = Vec::new();
    for _ in 0..n {
        let (head, rest) = line(r);
        assert_eq!(head[0], b'$');
        let len: usize = std::str::from_utf8(&head[1..]).unwrap().parse().unwrap();
        items.push(rest[..len].to_vec());
        r = &rest[len + 2..];
    }
    (items, r)
}

/// One SCAN call: (next cursor, keys).
fn scan(h: &mut Harness, args: &[&str]) -> (String, Vec<String>) {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let reply = h.run(&args);
    assert!(
        reply.starts_with(b"*2\r\n$"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let body = &reply[4..];
    let end = body.windows(2).position(|w| w == b"\r\n").unwrap();
    let len: usize = std::str::from_utf8(&body[1..end]).unwrap().parse().unwrap();
    let cursor = String::from_utf8(body[end + 2..end + 2 + len].to_vec()).unwrap();
    let (keys, rest) = parse_bulks(&body[end + 2 + len + 2..]);
    assert!(rest.is_empty());
    (
        cursor,
        keys.into_iter()
            .map(|k| String::from_utf8(k).unwrap())
            .collect(),
    )
}

/// A whole SCAN iteration with extra options; every key returned, in order.
fn scan_all(h: &mut Harness, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let (next, keys) = scan(h, &args);
        all.extend(keys);
        calls += 1;
        assert!(calls < 100_000, "SCAN does not terminate");
        if next == "0" {
            return all;
        }
        cursor = next;
    }
}

fn sorted_keys(h: &mut Harness, pattern: &str) -> Vec<String> {
    let reply = h.run(&[b"KEYS", pattern.as_bytes()]);
    let (keys, rest) = parse_bulks(&reply);
    assert!(rest.is_empty());
    let mut keys: Vec<String> = keys
        .into_iter()
        .map(|k| String::from_utf8(k).unwrap())
        .collect();
    keys.sort();
    keys
}

#[test]
fn del_unlink_exists_touch() {
    let mut h = Harness::new();
    h.check("MSET a 1 b 2 c 3", OK);
    h.check("EXISTS a", &int(1));
    h.check("EXISTS nokey", &int(0));
    h.check("EXISTS a a nokey a", &int(3));
    h.check("TOUCH a a nokey", &int(2));
    h.check("TOUCH nokey", &int(0));
    h.check("DEL a a nokey", &int(1));
    h.check("EXISTS a", &int(0));
    h.check("UNLINK b c b", &int(2));
    h.check("DEL b", &int(0));
    h.check("DBSIZE", &int(0));
    put_list(&h, 0, "l");
    put_hash(&h, 0, "hs");
    h.check("EXISTS l hs", &int(2));
    h.check("DEL l hs", &int(2));
    h.check(
        "DEL",
        "-ERR wrong number of arguments for 'del' command\r\n",
    );
    h.check(
        "EXISTS",
        "-ERR wrong number of arguments for 'exists' command\r\n",
    );
}

#[test]
fn type_answers_simple_strings() {
    let mut h = Harness::new();
    h.check("TYPE nokey", "+none\r\n");
    h.check("SET s v", OK);
    put_list(&h, 0, "l");
    put_hash(&h, 0, "hs");
    h.check("TYPE s", "+string\r\n");
    h.check("TYPE l", "+list\r\n");
    h.check("TYPE hs", "+hash\r\n");
    h.resp3();
    h.check("TYPE nokey", "+none\r\n");
}

#[test]
fn rename_and_renamenx() {
    let mut h = Harness::new();
    h.check("RENAME nokey b", "-ERR no such key\r\n");
    h.check("RENAMENX nokey b", "-ERR no such key\r\n");
    h.check("RENAME nokey nokey", "-ERR no such key\r\n");
    h.check("SET a 1", OK);
    h.check("RENAME a a", OK);
    h.check("GET a", &bulk("1"));
    h.check("RENAMENX a a", &int(0));
    h.check("SET b 2 EX 100", OK);
    h.check("RENAME b c", OK);
    h.check("EXISTS b", &int(0));
    h.check("GET c", &bulk("2"));
    h.check("TTL c", &int(100));
    h.check("RENAMENX c a", &int(0));
    h.check("RENAMENX c d", &int(1));
    h.check("TTL d", &int(100));
    // Overwriting: the destination's own TTL goes, the source's (none) comes.
    h.check("SET e 5", OK);
    h.check("RENAME e d", OK);
    h.check("TTL d", &int(-1));
    h.check("GET d", &bulk("5"));
    // Any type moves.
    put_list(&h, 0, "l");
    h.check("RENAME l l2", OK);
    h.check("TYPE l2", "+list\r\n");
    h.check("TYPE l", "+none\r\n");
    h.check("RENAME l2 d", OK);
    h.check("TYPE d", "+list\r\n");
}

#[test]
fn copy_options_and_errors() {
    let mut h = Harness::new();
    h.check("SET d v EX 100", OK);
    h.check(
        "COPY d d",
        "-ERR source and destination objects are the same\r\n",
    );
    h.check(
        "COPY d d DB 0",
        "-ERR source and destination objects are the same\r\n",
    );
    h.check(
        "COPY nokey nokey",
        "-ERR source and destination objects are the same\r\n",
    );
    h.check("COPY nokey e", &int(0));
    h.check("COPY d e", &int(1));
    h.check("GET e", &bulk("v"));
    h.check("TTL e", &int(100));
    h.check("COPY d e", &int(0));
    h.check("SET d w", OK);
    h.check("COPY d e REPLACE", &int(1));
    h.check("GET e", &bulk("w"));
    h.check("TTL e", &int(-1));
    h.check("COPY d e replace REPLACE", &int(1));
    h.check("COPY d e DB 16", "-ERR DB index is out of range\r\n");
    h.check("COPY d e DB -1", "-ERR DB index is out of range\r\n");
    h.check("COPY d e DB abc", NOT_INT);
    h.check("COPY d e DB 99999999999999999999", NOT_INT);
    h.check(
        "COPY d e DB 9999999999",
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
    h.check("COPY d e DB", SYNTAX);
    h.check("COPY d e foo", SYNTAX);
    // The DB is checked while parsing, before a later syntax error.
    h.check("COPY d e DB 16 foo", "-ERR DB index is out of range\r\n");
    h.check("COPY d e foo DB 16", SYNTAX);
    h.check(
        "COPY",
        "-ERR wrong number of arguments for 'copy' command\r\n",
    );
}

#[test]
fn copy_across_databases_and_types() {
    let mut h = Harness::new();
    h.check("SET d v EX 100", OK);
    h.check("COPY d d DB 1", &int(1));
    h.check("COPY d e DB 1 DB 2", &int(1));
    h.check("COPY d d DB 1", &int(0));
    h.check("SELECT 1", OK);
    h.check("GET d", &bulk("v"));
    h.check("TTL d", &int(100));
    h.check("EXISTS e", &int(0));
    h.check("SELECT 2", OK);
    h.check("GET e", &bulk("v"));
    h.check("TTL e", &int(100));
    // Copy back into db 0 over an existing key.
    h.check("SET e w", OK);
    h.check("COPY e d DB 0", &int(0));
    h.check("COPY e d DB 0 REPLACE", &int(1));
    h.check("SELECT 0", OK);
    h.check("GET d", &bulk("w"));
    h.check("TTL d", &int(-1));
    // Lists and hashes copy deeply: the copy is independent.
    put_list(&h, 0, "l");
    put_hash(&h, 0, "hs");
    h.check("COPY l l2", &int(1));
    h.check("COPY hs hs2 DB 3", &int(1));
    h.check("TYPE l2", "+list\r\n");
    h.check("COPY d l REPLACE", &int(1));
    h.check("TYPE l", "+string\r\n");
    h.check("TYPE l2", "+list\r\n");
    h.check("SELECT 3", OK);
    h.check("TYPE hs2", "+hash\r\n");
}

#[test]
fn expire_options() {
    let mut h = Harness::new();
    h.check("SET a 1", OK);
    let nx_err = "-ERR NX and XX, GT or LT options at the same time are not compatible\r\n";
    h.check("EXPIRE a 100 NX XX", nx_err);
    h.check("EXPIRE a 100 nx gt", nx_err);
    h.check("EXPIRE a 100 NX LT", nx_err);
    h.check("EXPIRE nokey 100 NX XX", nx_err);
    h.check(
        "EXPIRE a 100 GT LT",
        "-ERR GT and LT options at the same time are not compatible\r\n",
    );
    h.check("EXPIRE a 100 foo", "-ERR Unsupported option foo\r\n");
    // Options are parsed before the time.
    h.check("EXPIRE a abc foo", "-ERR Unsupported option foo\r\n");
    h.check("EXPIRE a abc", NOT_INT);
    h.check("EXPIRE nokey abc", NOT_INT);
    h.check("EXPIRE nokey 100", &int(0));
    h.check("EXPIRE a 100 XX GT", &int(0));
    h.check("EXPIRE a 100 XX", &int(0));
    h.check("EXPIRE a 100 NX NX", &int(1));
    h.check("EXPIRE a 200 NX", &int(0));
    h.check("TTL a", &int(100));
    h.check("EXPIRE a 100 XX", &int(1));
    h.check("EXPIRE a 50 GT", &int(0));
    h.check("EXPIRE a 100 GT", &int(0));
    h.check("EXPIRE a 500 GT", &int(1));
    h.check("TTL a", &int(500));
    h.check("EXPIRE a 600 LT", &int(0));
    h.check("EXPIRE a 500 LT", &int(0));
    h.check("EXPIRE a 60 LT", &int(1));
    h.check("TTL a", &int(60));
    h.check("EXPIRE a 70 XX GT", &int(1));
    h.check("TTL a", &int(70));
    h.check("PERSIST a", &int(1));
    // No TTL counts as infinite: GT never applies, LT always does.
    h.check("EXPIRE a 60 GT", &int(0));
    h.check("EXPIRE a 60 LT", &int(1));
    h.check("TTL a", &int(60));
    h.check("EXPIRE a -1 GT", &int(0));
    h.check("EXPIRE a -1 LT", &int(1));
    h.check("EXISTS a", &int(0));
}

#[test]
fn expire_times_and_overflow() {
    let mut h = Harness::new();
    h.check("SET a 1", OK);
    for (cmd, name) in [
        ("EXPIRE a 9223372036854775", "expire"),
        ("EXPIRE a 9223372036854775807", "expire"),
        ("EXPIRE a -9223372036854775808", "expire"),
        ("PEXPIRE a 9223372036854775807", "pexpire"),
        ("EXPIREAT a 9223372036854775807", "expireat"),
        ("EXPIREAT a -9223372036854776", "expireat"),
    ] {
        h.check(
            cmd,
            &format!("-ERR invalid expire time in '{name}' command\r\n"),
        );
    }
    h.check("TTL a", &int(-1));
    h.check("PEXPIREAT a 9223372036854775807", &int(1));
    h.check("PEXPIRETIME a", &int(i64::MAX));
    h.check("EXPIRETIME a", &int(9_223_372_036_854_776));
    h.check("PTTL a", &int(i64::MAX - T0));
    h.check(&format!("EXPIREAT a {}", T0 / 1000 + 30), &int(1));
    h.check("TTL a", &int(30));
    h.check("EXPIRETIME a", &int(T0 / 1000 + 30));
    h.check(&format!("PEXPIREAT a {}", T0 + 1234), &int(1));
    h.check("PTTL a", &int(1234));
    h.check("PEXPIRETIME a", &int(T0 + 1234));
    h.check("PEXPIRE a 2500", &int(1));
    h.check("PTTL a", &int(2500));
    h.check("TTL a", &int(3));
    // A time not in the future deletes the key and answers 1.
    h.check("EXPIRE a 0", &int(1));
    h.check("EXISTS a", &int(0));
    h.check("SET a 1", OK);
    h.check("PEXPIREAT a 1", &int(1));
    h.check("EXISTS a", &int(0));
    h.check("SET a 1", OK);
    h.check("EXPIREAT a -5", &int(1));
    h.check("EXISTS a", &int(0));
    h.check("SET a 1", OK);
    h.check(&format!("PEXPIREAT a {T0}"), &int(1));
    h.check("EXISTS a", &int(0));
    h.check("SET a 1", OK);
    h.check(&format!("PEXPIREAT a {}", T0 + 1), &int(1));
    h.check("EXISTS a", &int(1));
    h.advance_ms(2);
    h.check("EXISTS a", &int(0));
}

#[test]
fn ttl_family_and_persist() {
    let mut h = Harness::new();
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        h.check(&format!("{cmd} nokey"), &int(-2));
    }
    h.check("SET q 1", OK);
    for cmd in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        h.check(&format!("{cmd} q"), &int(-1));
    }
    h.check("PERSIST q", &int(0));
    h.check("PERSIST nokey", &int(0));
    // TTL rounds to the nearest second.
    h.check("PEXPIRE q 1499", &int(1));
    h.check("TTL q", &int(1));
    h.check("PEXPIRE q 1500", &int(1));
    h.check("TTL q", &int(2));
    h.check("PEXPIRE q 400", &int(1));
    h.check("TTL q", &int(0));
    h.check("PEXPIRE q 500", &int(1));
    h.check("TTL q", &int(1));
    h.check(&format!("PEXPIREAT q {}", T0 + 99_499), &int(1));
    h.check("EXPIRETIME q", &int(T0 / 1000 + 99));
    h.check(&format!("PEXPIREAT q {}", T0 + 99_500), &int(1));
    h.check("EXPIRETIME q", &int(T0 / 1000 + 100));
    h.check("PERSIST q", &int(1));
    h.check("PERSIST q", &int(0));
    h.check("TTL q", &int(-1));
    // Counting down with the clock.
    h.check("EXPIRE q 10", &int(1));
    h.advance_ms(4_000);
    h.check("TTL q", &int(6));
    h.check("PTTL q", &int(6_000));
    h.check("EXPIRETIME q", &int(T0 / 1000 + 10));
    h.advance_ms(5_999);
    h.check("PTTL q", &int(1));
    h.advance_ms(2);
    h.check("PTTL q", &int(-2));
    h.check("PERSIST q", &int(0));
}

#[test]
fn keys_patterns() {
    let mut h = Harness::new();
    h.check("KEYS *", EMPTY);
    h.check(
        "MSET hello 1 hallo 2 hxllo 3 hllo 4 heeello 5 foo 6 h*llo 7",
        OK,
    );
    assert_eq!(sorted_keys(&mut h, "*").len(), 7);
    assert_eq!(
        sorted_keys(&mut h, "h?llo"),
        ["h*llo", "hallo", "hello", "hxllo"]
    );
    assert_eq!(
        sorted_keys(&mut h, "h*llo"),
        ["h*llo", "hallo", "heeello", "hello", "hllo", "hxllo"]
    );
    assert_eq!(sorted_keys(&mut h, "h[ae]llo"), ["hallo", "hello"]);
    assert_eq!(sorted_keys(&mut h, "h[^e]llo"), ["h*llo", "hallo", "hxllo"]);
    assert_eq!(sorted_keys(&mut h, "h[a-b]llo"), ["hallo"]);
    assert_eq!(sorted_keys(&mut h, "h\\*llo"), ["h*llo"]);
    assert_eq!(sorted_keys(&mut h, "foo"), ["foo"]);
    assert_eq!(sorted_keys(&mut h, "nothing"), Vec::<String>::new());
    h.check(
        "KEYS",
        "-ERR wrong number of arguments for 'keys' command\r\n",
    );
}

#[test]
fn scan_arguments() {
    let mut h = Harness::new();
    h.check("SET a 1", OK);
    h.check("SCAN 0", "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n");
    let invalid = "-ERR invalid cursor\r\n";
    for bad in ["abc", "18446744073709551616", "1.5", "-", "0x1", "1 ", " 1"] {
        assert_eq!(
            h.run(&[b"SCAN", bad.as_bytes()]),
            invalid.as_bytes(),
            "{bad:?}"
        );
    }
    // strtoul accepts these.
    for ok in ["01", "+0", "-0", ""] {
        assert_eq!(
            h.run(&[b"SCAN", ok.as_bytes()]),
            b"*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",
            "{ok:?}"
        );
    }
    for (args, want) in [
        ("SCAN 0 COUNT 0", SYNTAX),
        ("SCAN 0 COUNT -1", SYNTAX),
        ("SCAN 0 COUNT abc", NOT_INT),
        ("SCAN 0 COUNT", SYNTAX),
        ("SCAN 0 MATCH", SYNTAX),
        ("SCAN 0 TYPE", SYNTAX),
        ("SCAN 0 foo bar", SYNTAX),
        ("SCAN abc COUNT 0", invalid),
    ] {
        h.check(args, want);
    }
    h.check("SCAN 0 TYPE foo", "*2\r\n$1\r\n0\r\n*0\r\n");
    h.check("SCAN 0 TYPE hash", "*2\r\n$1\r\n0\r\n*0\r\n");
    h.check(
        "SCAN 0 TYPE STRING MATCH a COUNT 5",
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",
    );
    h.check("SCAN 0 MATCH b", "*2\r\n$1\r\n0\r\n*0\r\n");
    h.check(
        "SCAN 0 MATCH * COUNT 9223372036854775807",
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\na\r\n",
    );
    h.check(
        "SCAN",
        "-ERR wrong number of arguments for 'scan' command\r\n",
    );
}

#[test]
fn scan_full_iteration_returns_every_key_once() {
    let mut h = Harness::new();
    let n = 1000;
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let mut cmd = String::from("MSET");
        for i in chunk {
            cmd.push_str(&format!(" key:{i} v"));
        }
        h.check(&cmd, OK);
    }
    put_list(&h, 0, "list:1");
    put_hash(&h, 0, "hash:1");
    let expected: HashSet<String> = (0..n).map(|i| format!("key:{i}")).collect();
    for count in ["1", "7", "1000"] {
        let all = scan_all(&mut h, &["COUNT", count, "MATCH", "key:*"]);
        assert_eq!(all.len(), n, "COUNT {count}");
        let set: HashSet<String> = all.into_iter().collect();
        assert_eq!(set, expected, "COUNT {count}");
        let all = scan_all(&mut h, &["COUNT", count]);
        assert_eq!(all.len(), n + 2, "COUNT {count}");
    }
    assert_eq!(scan_all(&mut h, &["TYPE", "list"]), ["list:1"]);
    assert_eq!(
        scan_all(&mut h, &["TYPE", "HASH", "COUNT", "3"]),
        ["hash:1"]
    );
    assert_eq!(scan_all(&mut h, &["TYPE", "string"]).len(), n);
    assert!(scan_all(&mut h, &["TYPE", "zset"]).is_empty());
    // COUNT 1 pages hold at most a few keys (equal hashes go together).
    let (cursor, keys) = scan(&mut h, &["SCAN", "0", "COUNT", "1"]);
    assert_ne!(cursor, "0");
    assert!(keys.len() <= 2);
}

#[test]
fn randomkey() {
    let mut h = Harness::new();
    h.check("RANDOMKEY", NIL);
    h.check("SET only 1", OK);
    h.check("RANDOMKEY", &bulk("only"));
    h.check("MSET a 1 b 2 c 3", OK);
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let reply = h.run(&[b"RANDOMKEY"]);
        seen.insert(String::from_utf8(reply).unwrap());
    }
    assert!(seen.len() > 1, "{seen:?}");
    assert!(seen
        .iter()
        .all(|k| ["only", "a", "b", "c"].iter().any(|x| *k == bulk(x))));
    h.resp3();
    h.check("FLUSHDB", OK);
    h.check("RANDOMKEY", "_\r\n");
}

#[test]
fn lazy_expiry_hides_keys_everywhere() {
    let mut h = Harness::new();
    h.check("SET gone v PX 100", OK);
    h.check("SET stays v", OK);
    h.check("DBSIZE", &int(2));
    h.advance_ms(101);
    h.check("EXISTS gone", &int(0));
    h.check("EXISTS gone stays", &int(1));
    h.check("TYPE gone", "+none\r\n");
    h.check("TTL gone", &int(-2));
    h.check("PTTL gone", &int(-2));
    h.check("KEYS *", "*1\r\n$5\r\nstays\r\n");
    h.check("SCAN 0", "*2\r\n$1\r\n0\r\n*1\r\n$5\r\nstays\r\n");
    h.check("DBSIZE", &int(1));
    for _ in 0..20 {
        h.check("RANDOMKEY", &bulk("stays"));
    }
    h.check("RENAME gone x", "-ERR no such key\r\n");
    h.check("COPY gone x", &int(0));
    h.check("EXPIRE gone 100", &int(0));
    h.check("PERSIST gone", &int(0));
    h.check("DEL gone", &int(0));
    // An expired destination is simply replaced.
    h.check("SET dst old PX 10", OK);
    h.advance_ms(11);
    h.check("RENAMENX stays dst", &int(1));
    h.check("GET dst", &bulk("v"));
    h.check("SET t v PX 10", OK);
    h.advance_ms(11);
    h.check("COPY dst t", &int(1));
    h.check("FLUSHDB", OK);
    h.check("SET only-expired v PX 10", OK);
    h.advance_ms(11);
    h.check("RANDOMKEY", NIL);
}

#[test]
fn rename_and_copy_carry_a_ttl_that_keeps_running() {
    let mut h = Harness::new();
    h.check("SET a v PX 1000", OK);
    h.advance_ms(400);
    h.check("RENAME a b", OK);
    h.check("PTTL b", &int(600));
    h.check("COPY b c", &int(1));
    h.check("COPY b d DB 5", &int(1));
    h.advance_ms(599);
    h.check("EXISTS b c", &int(2));
    h.advance_ms(2);
    h.check("EXISTS b c", &int(0));
    h.check("SELECT 5", OK);
    h.check("EXISTS d", &int(0));
}

/// Redis's `keyIsExpired` is `now > when`: at exactly its deadline a key is still
/// there, with a PTTL of 0 (EXPIRE with a time `<= now` deletes at once, though).
#[test]
fn key_is_visible_at_exactly_its_deadline() {
    let mut h = Harness::new();
    h.check("SET k v PX 100", OK);
    h.advance_ms(100);
    h.check("PTTL k", &int(0));
    h.check("GET k", &bulk("v"));
    h.advance_ms(1);
    h.check("GET k", NIL);
}
