//! Transcript tests of the hash commands. Every expected reply was checked against
//! redis-server 7.0.15.

mod common;
use common::replies::*;
use std::collections::{HashMap, HashSet};

use common::Harness;
use mapcache_store::{Hash, List, Value};

/// An array of bulk strings.
fn arr(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&bulk(i));
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

/// A parsed reply, for the tests that check properties rather than exact bytes.
#[derive(Debug, Clone, PartialEq)]
enum R {
    Bulk(Vec<u8>),
    Int(i64),
    Nil,
    Arr(Vec<R>),
}

impl R {
    fn arr(self) -> Vec<R> {
        match self {
            R::Arr(v) => v,
            other => panic!("not an array: {other:?}"),
        }
    }
    fn bytes(self) -> Vec<u8> {
        match self {
            R::Bulk(b) => b,
            other => panic!("not a bulk: {other:?}"),
        }
    }
}

fn parse(buf: &[u8]) -> R {
    fn line(buf: &[u8], pos: &mut usize) -> String {
        let end = buf[*pos..].windows(2).position(|w| w == b"\r\n").unwrap() + *pos;
        let s = String::from_utf8(buf[*pos + 1..end].to_vec()).unwrap();
        *pos = end + 2;
        s
    }
    fn one(buf: &[u8], pos: &mut usize) -> R {
        let t = buf[*pos];
        let l = line(buf, pos);
        match t {
            b'$' => {
                let n: i64 = l.parse().unwrap();
                if n < 0 {
                    return R::Nil;
                }
                let b = buf[*pos..*pos + n as usize].to_vec();
                *pos += n as usize + 2;
                R::Bulk(b)
            }
            b':' => R::Int(l.parse().unwrap()),
            b'_' => R::Nil,
            b'*' | b'%' => {
                let mut n: usize = l.parse().unwrap();
                if t == b'%' {
                    n *= 2;
                }
                R::Arr((0..n).map(|_| one(buf, pos)).collect())
            }
            _ => panic!("unexpected reply {}", String::from_utf8_lossy(buf)),
        }
    }
    let mut pos = 0;
    let r = one(buf, &mut pos);
    assert_eq!(
        pos,
        buf.len(),
        "trailing bytes in {}",
        String::from_utf8_lossy(buf)
    );
    r
}

fn run(h: &mut Harness, cmd: &str) -> R {
    let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
    parse(&h.run(&args))
}

#[test]
fn hset_hget_and_arity() {
    let mut h = Harness::new();
    h.check(
        "HSET h a 1 b",
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    h.check(
        "HSET h",
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    h.check(
        "HSET h a",
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    h.check(
        "HMSET h a",
        "-ERR wrong number of arguments for 'hmset' command\r\n",
    );
    h.check(
        "HMSET h a 1 b",
        "-ERR wrong number of arguments for 'hmset' command\r\n",
    );
    assert!(!exists(&h, "h"), "a failed HSET creates nothing");
    h.check("HSET h a 1 b 2", &int(2));
    h.check("HSET h a 1", &int(0));
    h.check("HSET h a 2 a 3", ":0\r\n");
    h.check("HGET h a", &bulk("3"));
    h.check("HSET h b 1 c 4", ":1\r\n");
    h.check("HMSET h c 3 d 4", OK);
    h.check("HGETALL h", &arr(&["a", "3", "b", "1", "c", "3", "d", "4"]));
    h.check("HGET h nofield", NIL);
    h.check("HGET nokey f", NIL);
    h.check(
        "HGET h",
        "-ERR wrong number of arguments for 'hget' command\r\n",
    );
    h.check("hget H a", NIL);
}

#[test]
fn hsetnx() {
    let mut h = Harness::new();
    h.check("HSETNX h a 1", ":1\r\n");
    h.check("HSETNX h a 9", ":0\r\n");
    h.check("HSETNX h z 9", ":1\r\n");
    h.check("HGETALL h", &arr(&["a", "1", "z", "9"]));
    h.check(
        "HSETNX h a",
        "-ERR wrong number of arguments for 'hsetnx' command\r\n",
    );
}

#[test]
fn reads_of_missing_keys_and_fields() {
    let mut h = Harness::new();
    h.check("HGETALL nokey", EMPTY);
    h.check("HKEYS nokey", EMPTY);
    h.check("HVALS nokey", EMPTY);
    h.check("HLEN nokey", ":0\r\n");
    h.check("HSTRLEN nokey a", ":0\r\n");
    h.check("HEXISTS nokey a", ":0\r\n");
    h.check("HMGET nokey a b", "*2\r\n$-1\r\n$-1\r\n");
    h.check("HSET h a 1 c 333", ":2\r\n");
    h.check(
        "HMGET h a x c",
        &format!("*3\r\n{}{NIL}{}", bulk("1"), bulk("333")),
    );
    h.check("HKEYS h", &arr(&["a", "c"]));
    h.check("HVALS h", &arr(&["1", "333"]));
    h.check("HLEN h", ":2\r\n");
    h.check("HSTRLEN h c", ":3\r\n");
    h.check("HSTRLEN h nope", ":0\r\n");
    h.check("HEXISTS h a", ":1\r\n");
    h.check("HEXISTS h nope", ":0\r\n");
    h.check(
        "HMGET h",
        "-ERR wrong number of arguments for 'hmget' command\r\n",
    );
}

#[test]
fn hdel_deletes_the_key_with_its_last_field() {
    let mut h = Harness::new();
    h.check("HDEL nokey a", ":0\r\n");
    h.check("HSET h a 1 b 2 c 3", ":3\r\n");
    h.check("HDEL h a a x", ":1\r\n");
    h.check("HKEYS h", &arr(&["b", "c"]));
    h.check("HSET h a 4", ":1\r\n");
    h.check("HKEYS h", &arr(&["b", "c", "a"]));
    h.check("HDEL h c", ":1\r\n");
    h.check("HKEYS h", &arr(&["b", "a"]));
    h.check("HDEL h a b x", ":2\r\n");
    assert!(!exists(&h, "h"));
    h.check("HLEN h", ":0\r\n");
    h.check(
        "HDEL h",
        "-ERR wrong number of arguments for 'hdel' command\r\n",
    );
}

#[test]
fn wrongtype_against_a_string() {
    let mut h = Harness::new();
    put_string(&h, "s");
    for cmd in [
        "HGET s a",
        "HSET s a 1",
        "HMSET s a 1",
        "HSETNX s a 1",
        "HGETALL s",
        "HDEL s a",
        "HEXISTS s a",
        "HLEN s",
        "HKEYS s",
        "HVALS s",
        "HMGET s a",
        "HINCRBY s a 1",
        "HINCRBYFLOAT s a 1",
        "HRANDFIELD s",
        "HRANDFIELD s 1",
        "HRANDFIELD s 0",
        "HRANDFIELD s -1 WITHVALUES",
        "HSTRLEN s a",
        "HSCAN s 0",
        "HSCAN s 0 COUNT 0",
    ] {
        h.check(cmd, WRONGTYPE);
    }
    // Argument errors come first.
    h.check("HINCRBY s a x", NOT_INT);
    h.check("HINCRBYFLOAT s a x", NOT_FLOAT);
    h.check("HRANDFIELD s x", NOT_INT);
    h.check("HSCAN s x", "-ERR invalid cursor\r\n");
    h.check(
        "HSET s a 1 b",
        "-ERR wrong number of arguments for 'hset' command\r\n",
    );
    // A list is the wrong type too.
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(b"l", now, |km| {
            km.insert(Value::List(List::from(vec![Value::string(b"x")])), None)
        })
        .unwrap();
    h.check("HGET l a", WRONGTYPE);
    h.check("HSET l a 1", WRONGTYPE);
}

#[test]
fn binary_fields_and_values() {
    let mut h = Harness::new();
    let field: &[u8] = b"f \x00\r\n\xff";
    let value: &[u8] = b"a b\x00\xfe\r\n";
    assert_eq!(h.run(&[b"HSET", b"h", field, value]), b":1\r\n");
    assert_eq!(
        h.run(&[b"HGET", b"h", field]),
        [&b"$7\r\n"[..], value, b"\r\n"].concat()
    );
    assert_eq!(h.run(&[b"HSTRLEN", b"h", field]), b":7\r\n");
    assert_eq!(h.run(&[b"HEXISTS", b"h", field]), b":1\r\n");
    assert_eq!(
        h.run(&[b"HKEYS", b"h"]),
        [&b"*1\r\n$6\r\n"[..], field, b"\r\n"].concat()
    );
    assert_eq!(h.run(&[b"HSET", b"h", b"", b""]), b":1\r\n");
    assert_eq!(h.run(&[b"HGET", b"h", b""]), b"$0\r\n\r\n");
    assert_eq!(h.run(&[b"HDEL", b"h", field, b""]), b":2\r\n");
    assert!(!exists(&h, "h"));
}

#[test]
fn hincrby() {
    let mut h = Harness::new();
    h.check("HINCRBY h new -5", ":-5\r\n");
    h.check("HINCRBY h new 7", ":2\r\n");
    h.check("HGET h new", &bulk("2"));
    h.check("HINCRBY h c x", NOT_INT);
    h.check("HINCRBY h c 1.5", NOT_INT);
    h.check("HINCRBY h c 9223372036854775808", NOT_INT);
    h.check(
        "HSET h f abc big 9223372036854775807 small -9223372036854775808",
        ":3\r\n",
    );
    h.check("HINCRBY h f 1", "-ERR hash value is not an integer\r\n");
    h.check(
        "HINCRBY h big 1",
        "-ERR increment or decrement would overflow\r\n",
    );
    h.check("HINCRBY h big 0", ":9223372036854775807\r\n");
    h.check(
        "HINCRBY h small -1",
        "-ERR increment or decrement would overflow\r\n",
    );
    h.check("HINCRBY h small 9223372036854775807", ":-1\r\n");
    assert_eq!(h.run(&[b"HSET", b"h", b"sp", b" 12"]), b":1\r\n");
    h.check("HINCRBY h sp 1", "-ERR hash value is not an integer\r\n");
    h.check("HSET h z 012", ":1\r\n");
    h.check("HINCRBY h z 1", "-ERR hash value is not an integer\r\n");
    h.check(
        "HINCRBY h a",
        "-ERR wrong number of arguments for 'hincrby' command\r\n",
    );
    h.check(
        "HINCRBY nokey2 f 1 2",
        "-ERR wrong number of arguments for 'hincrby' command\r\n",
    );
    assert!(!exists(&h, "nokey2"));
}

#[test]
fn hincrbyfloat() {
    let mut h = Harness::new();
    h.check("HSET h c 3", ":1\r\n");
    h.check("HINCRBYFLOAT h c 1.5", &bulk("4.5"));
    h.check("HINCRBYFLOAT h c 0.1", &bulk("4.6"));
    h.check("HINCRBYFLOAT h e 5.0e3", &bulk("5000"));
    h.check("HINCRBYFLOAT h c abc", NOT_FLOAT);
    h.check("HINCRBYFLOAT h c inf", "-ERR value is NaN or Infinity\r\n");
    h.check("HINCRBYFLOAT h c -inf", "-ERR value is NaN or Infinity\r\n");
    h.check("HINCRBYFLOAT h c nan", NOT_FLOAT);
    h.check(
        "HINCRBYFLOAT nokey c inf",
        "-ERR value is NaN or Infinity\r\n",
    );
    h.check("HSET h f abc nn nan i1 inf", ":3\r\n");
    h.check("HINCRBYFLOAT h f 1", "-ERR hash value is not a float\r\n");
    h.check("HINCRBYFLOAT h nn 1", "-ERR hash value is not a float\r\n");
    h.check(
        "HINCRBYFLOAT h i1 1",
        "-ERR increment would produce NaN or Infinity\r\n",
    );
    assert_eq!(h.run(&[b"HSET", b"h", b"sp", b" 1"]), b":1\r\n");
    h.check("HINCRBYFLOAT h sp 1", "-ERR hash value is not a float\r\n");
    assert_eq!(h.run(&[b"HSET", b"h", b"sp2", b"1.5 "]), b":1\r\n");
    h.check("HINCRBYFLOAT h sp2 1", "-ERR hash value is not a float\r\n");
    // Extended precision, as Redis's long double.
    h.check("HINCRBYFLOAT h nf 1e308", &bulk(E308));
    h.check("HINCRBYFLOAT h nf 1e308", &bulk(E308_TWICE));
    h.check("HSET h x 10.50", ":1\r\n");
    h.check("HINCRBYFLOAT h x 0.1", &bulk("10.6"));
    h.check("HGET h x", &bulk("10.6"));
    h.check("HINCRBYFLOAT h x -10.6", &bulk("0"));
}

const E308: &str = "99999999999999999996685879655845645660560099847415567207797047994921734868838061872100126921888539320446747225054013223152134749593960583597420814430196418767959100019603190778663109604507106667939153395788938914560543563061268364901618630217086589253444881623791300855757318142424510452728255046343928578048";
const E308_TWICE: &str = "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905456510092687857156096";

#[test]
fn hrandfield_errors_and_edges() {
    let mut h = Harness::new();
    h.check("HRANDFIELD nokey", NIL);
    h.check("HRANDFIELD nokey 3", EMPTY);
    h.check("HRANDFIELD nokey -3 WITHVALUES", EMPTY);
    h.check("HRANDFIELD nokey x", NOT_INT);
    h.check("HRANDFIELD nokey 1 foo", SYNTAX);
    h.check("HSET h a 1 b 2 c 3", ":3\r\n");
    h.check("HRANDFIELD h 0", EMPTY);
    h.check("HRANDFIELD h 0 WITHVALUES", EMPTY);
    h.check("HRANDFIELD h 1 withvalue", SYNTAX);
    h.check("HRANDFIELD h 1 withvalues x", SYNTAX);
    h.check("HRANDFIELD h x", NOT_INT);
    let range = "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n";
    h.check("HRANDFIELD h -9223372036854775808", range);
    h.check("HRANDFIELD h -9223372036854775808 withvalues", range);
    h.check("HRANDFIELD nokey -9223372036854775808", range);
    h.check(
        "HRANDFIELD h -4611686018427387904 WITHVALUES",
        "-ERR value is out of range\r\n",
    );
    h.check(
        "HRANDFIELD h 4611686018427387904 WITHVALUES",
        "-ERR value is out of range\r\n",
    );
    h.check(
        "HRANDFIELD nokey 4611686018427387904 WITHVALUES",
        "-ERR value is out of range\r\n",
    );
    h.check("HRANDFIELD nokey -4611686018427387903 WITHVALUES", EMPTY);
    // The whole hash, in order, when the count covers it.
    h.check("HRANDFIELD h 3", &arr(&["a", "b", "c"]));
    h.check("HRANDFIELD h 5", &arr(&["a", "b", "c"]));
    h.check("HRANDFIELD h 9223372036854775807", &arr(&["a", "b", "c"]));
    h.check(
        "HRANDFIELD h 5 WITHVALUES",
        &arr(&["a", "1", "b", "2", "c", "3"]),
    );
    h.resp3();
    h.check(
        "HRANDFIELD h 5 WITHVALUES",
        &format!(
            "*3\r\n*2\r\n{}{}*2\r\n{}{}*2\r\n{}{}",
            bulk("a"),
            bulk("1"),
            bulk("b"),
            bulk("2"),
            bulk("c"),
            bulk("3")
        ),
    );
    h.check("HRANDFIELD nokey", "_\r\n");
    h.check("HRANDFIELD nokey 2", EMPTY);
    h.check("HRANDFIELD h 5", &arr(&["a", "b", "c"]));
}

#[test]
fn hrandfield_counts_and_distinctness() {
    let mut h = Harness::new();
    let fields: Vec<String> = (0..20).map(|i| format!("f{i}")).collect();
    let mut cmd = String::from("HSET h");
    for f in &fields {
        cmd.push_str(&format!(" {f} v{f}"));
    }
    h.check(&cmd, ":20\r\n");
    let all: HashSet<Vec<u8>> = fields.iter().map(|f| f.as_bytes().to_vec()).collect();
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let f = run(&mut h, "HRANDFIELD h").bytes();
        assert!(all.contains(&f));
        seen.insert(f);
    }
    assert!(
        seen.len() > 10,
        "a single pick should vary: saw {}",
        seen.len()
    );
    for n in [1usize, 5, 19] {
        let got: Vec<Vec<u8>> = run(&mut h, &format!("HRANDFIELD h {n}"))
            .arr()
            .into_iter()
            .map(R::bytes)
            .collect();
        assert_eq!(got.len(), n);
        let distinct: HashSet<_> = got.iter().cloned().collect();
        assert_eq!(distinct.len(), n, "positive counts give distinct fields");
        assert!(got.iter().all(|f| all.contains(f)));
        // WITHVALUES pairs each field with its own value.
        let flat = run(&mut h, &format!("HRANDFIELD h {n} WITHVALUES")).arr();
        assert_eq!(flat.len(), 2 * n);
        let mut distinct = HashSet::new();
        for pair in flat.chunks(2) {
            let f = pair[0].clone().bytes();
            let v = pair[1].clone().bytes();
            assert_eq!(v, [b"v".as_slice(), &f].concat());
            distinct.insert(f);
        }
        assert_eq!(distinct.len(), n);
    }
    // Negative counts: exactly |count| picks, repeats allowed.
    let got = run(&mut h, "HRANDFIELD h -100").arr();
    assert_eq!(got.len(), 100);
    let distinct: HashSet<Vec<u8>> = got.into_iter().map(R::bytes).collect();
    assert!(distinct.len() < 100 && distinct.iter().all(|f| all.contains(f)));
    let got = run(&mut h, "HRANDFIELD h -7 WITHVALUES").arr();
    assert_eq!(got.len(), 14);
    h.check("HSET one only x", ":1\r\n");
    h.check("HRANDFIELD one -3", &arr(&["only", "only", "only"]));
    h.check(
        "HRANDFIELD one -2 WITHVALUES",
        &arr(&["only", "x", "only", "x"]),
    );
    h.resp3();
    let got = run(&mut h, "HRANDFIELD h -3 WITHVALUES").arr();
    assert_eq!(got.len(), 3);
    for pair in got {
        let pair = pair.arr();
        assert_eq!(pair.len(), 2);
        let f = pair[0].clone().bytes();
        assert_eq!(pair[1].clone().bytes(), [b"v".as_slice(), &f].concat());
    }
    let got = run(&mut h, "HRANDFIELD h 4 WITHVALUES").arr();
    assert_eq!(got.len(), 4);
    assert!(got.into_iter().all(|p| p.arr().len() == 2));
}

#[test]
fn hgetall_is_a_map_in_resp3() {
    let mut h = Harness::new();
    h.resp3();
    h.check("HGETALL nokey", "%0\r\n");
    h.check("HSET h a 1 b 2", ":2\r\n");
    h.check(
        "HGETALL h",
        &format!("%2\r\n{}{}{}{}", bulk("a"), bulk("1"), bulk("b"), bulk("2")),
    );
    h.check("HGET h x", "_\r\n");
    h.check("HMGET h a x", &format!("*2\r\n{}_\r\n", bulk("1")));
    h.check("HKEYS h", &arr(&["a", "b"]));
    h.check(
        "HSCAN h 0",
        &format!("*2\r\n{}{}", bulk("0"), arr(&["a", "1", "b", "2"])),
    );
}

#[test]
fn hscan_small_hashes_answer_at_once() {
    let mut h = Harness::new();
    let empty_scan = format!("*2\r\n{}{EMPTY}", bulk("0"));
    h.check("HSCAN nokey 0", &empty_scan);
    h.check("HSCAN nokey 7", &empty_scan);
    h.check("HSCAN nokey x", "-ERR invalid cursor\r\n");
    // A missing key answers before the options are read.
    h.check("HSCAN nokey 0 COUNT 0", &empty_scan);
    h.check("HSCAN nokey 0 foo", &empty_scan);
    h.check("HSET h a 1 b 2 c 3 ab 4", ":4\r\n");
    let all = format!(
        "*2\r\n{}{}",
        bulk("0"),
        arr(&["a", "1", "b", "2", "c", "3", "ab", "4"])
    );
    for cmd in [
        "HSCAN h 0",
        "HSCAN h 0 COUNT 1",
        "HSCAN h 5",
        "HSCAN h 1",
        "HSCAN h -1",
        "HSCAN h 18446744073709551615",
        "HSCAN h 00",
        "HSCAN h +1",
        "HSCAN h 0 MATCH *",
    ] {
        h.check(cmd, &all);
    }
    h.check(
        "HSCAN h 0 match a*",
        &format!("*2\r\n{}{}", bulk("0"), arr(&["a", "1", "ab", "4"])),
    );
    h.check(
        "HSCAN h 0 MATCH * COUNT 2 match b",
        &format!("*2\r\n{}{}", bulk("0"), arr(&["b", "2"])),
    );
    h.check("HSCAN h 0 MATCH zz", &empty_scan);
    h.check("HSCAN h 0 count 0", SYNTAX);
    h.check("HSCAN h 0 count -1", SYNTAX);
    h.check("HSCAN h 0 count x", NOT_INT);
    h.check("HSCAN h 0 match", SYNTAX);
    h.check("HSCAN h 0 foo bar", SYNTAX);
    h.check("HSCAN h 0 novalues", SYNTAX);
    h.check("HSCAN h 0 type string", SYNTAX);
    h.check("HSCAN h x", "-ERR invalid cursor\r\n");
    h.check("HSCAN h 1.0", "-ERR invalid cursor\r\n");
    h.check("HSCAN h 18446744073709551616", "-ERR invalid cursor\r\n");
    assert_eq!(h.run(&[b"HSCAN", b"h", b" 1"]), b"-ERR invalid cursor\r\n");
    h.check(
        "HSCAN h",
        "-ERR wrong number of arguments for 'hscan' command\r\n",
    );
}

#[test]
fn hscan_full_iteration_of_a_big_hash_returns_every_field_once() {
    let mut h = Harness::new();
    let n = 1000;
    for i in 0..n {
        h.check(&format!("HSET big f{i} v{i}"), ":1\r\n");
    }
    for count in [1, 7, 10, 100, 5000] {
        let mut seen: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        let mut cursor = String::from("0");
        let mut calls = 0;
        loop {
            let mut r = run(&mut h, &format!("HSCAN big {cursor} COUNT {count}")).arr();
            let items = r.pop().unwrap().arr();
            cursor = String::from_utf8(r.pop().unwrap().bytes()).unwrap();
            // A page holds about max(COUNT, len/64) fields (see hscan_page).
            assert!(
                items.len() <= 2 * (count.max(n / 64) + 1),
                "page of {}",
                items.len() / 2
            );
            for pair in items.chunks(2) {
                let f = pair[0].clone().bytes();
                let v = pair[1].clone().bytes();
                assert!(seen.insert(f, v).is_none(), "a field came back twice");
            }
            calls += 1;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), n, "COUNT {count}");
        // Each page holds at least len/64 fields, so a full iteration is bounded.
        assert!(
            calls <= n.div_ceil(count.max(n / 64)) + 1,
            "COUNT {count}: {calls} calls"
        );
        assert_eq!(seen[&b"f42".to_vec()], b"v42");
    }
    // The default COUNT is 10, raised to len/64 = 15 for a 1000-field hash.
    let r = run(&mut h, "HSCAN big 0").arr();
    assert_ne!(r[0], R::Bulk(b"0".to_vec()));
    assert_eq!(r[1].clone().arr().len(), 2 * 15);
    // MATCH filters within the page.
    let r = run(&mut h, "HSCAN big 0 COUNT 100 MATCH f1*").arr();
    let fields = r[1].clone().arr();
    assert!(fields
        .chunks(2)
        .all(|p| p[0].clone().bytes().starts_with(b"f1")));
    // A cursor past every field's hash finishes the iteration.
    h.check(
        "HSCAN big 18446744073709551615",
        &format!("*2\r\n{}{EMPTY}", bulk("0")),
    );
}

#[test]
fn values_written_over_http_show_as_json_text() {
    let mut h = Harness::new();
    let now = h.shared.store.now();
    h.shared
        .store
        .db(0)
        .unwrap()
        .update(b"doc", now, |km| {
            let mut inner = Hash::default();
            inner.insert(b"k", Value::string(b"a\"b"));
            inner.insert(b"n", Value::Null);
            let mut doc = Hash::default();
            doc.insert(b"num", Value::Number(42.0));
            doc.insert(b"t", Value::Bool(true));
            doc.insert(b"obj", Value::hash(inner));
            doc.insert(
                b"arr",
                Value::List(List::from(vec![Value::Number(1.5), Value::Bool(false)])),
            );
            km.insert(Value::hash(doc), None)
        })
        .unwrap();
    h.check("HGET doc num", &bulk("42"));
    h.check("HGET doc t", &bulk("true"));
    h.check("HGET doc obj", &bulk(r#"{"k":"a\"b","n":null}"#));
    h.check("HGET doc arr", &bulk("[1.5,false]"));
    h.check("HSTRLEN doc t", ":4\r\n");
    h.check("HINCRBY doc num 1", ":43\r\n");
    h.check("HINCRBYFLOAT doc num 0.5", &bulk("43.5"));
    h.check("HINCRBY doc t 1", "-ERR hash value is not an integer\r\n");
}

/// A large hash iterated with HSCAN while other fields are deleted and added: every
/// field present throughout comes back exactly once.
#[test]
fn hscan_of_a_large_hash_survives_deletions_during_iteration() {
    let mut h = Harness::new();
    for i in 0..2000 {
        h.run(&[b"HSET", b"big", format!("stable:{i}").as_bytes(), b"v"]);
        h.run(&[b"HSET", b"big", format!("churn:{i}").as_bytes(), b"v"]);
    }
    let mut cursor = b"0".to_vec();
    let mut seen = HashMap::new();
    let mut step = 0;
    loop {
        // Delete some churn fields and add new ones between pages.
        for j in 0..30 {
            let victim = format!("churn:{}", step * 30 + j);
            h.run(&[b"HDEL", b"big", victim.as_bytes()]);
            h.run(&[b"HSET", b"big", format!("new:{step}:{j}").as_bytes(), b"v"]);
        }
        step += 1;
        let reply = h.run(&[b"HSCAN", b"big", &cursor, b"COUNT", b"10"]);
        let mut buf = bytes::BytesMut::from(&reply[..]);
        let frame = mapcache_resp::decode_frame(&mut buf, &mapcache_resp::Limits::default())
            .unwrap()
            .unwrap();
        let mapcache_resp::Frame::Array(parts) = frame else {
            panic!("{frame:?}")
        };
        let mapcache_resp::Frame::Bulk(next) = &parts[0] else {
            panic!()
        };
        let mapcache_resp::Frame::Array(items) = &parts[1] else {
            panic!()
        };
        for pair in items.chunks(2) {
            if let mapcache_resp::Frame::Bulk(f) = &pair[0] {
                *seen.entry(f.to_vec()).or_insert(0) += 1;
            }
        }
        cursor = next.to_vec();
        if cursor == b"0" {
            break;
        }
        assert!(step < 500, "HSCAN does not terminate");
    }
    for i in 0..2000 {
        let f = format!("stable:{i}").into_bytes();
        assert_eq!(
            seen.get(&f),
            Some(&1),
            "field {i} seen {:?} times",
            seen.get(&f)
        );
    }
}
