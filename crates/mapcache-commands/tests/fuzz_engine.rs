//! A fuzz target for the document engine behind the commands: random RESP commands
//! (through `mapcache_commands::execute`, in flat and in path key mode, RESP2 and
//! RESP3) interleaved with random document batches on the same store (`Db::batch` /
//! `Db::batch_all` with the HTTP separator, as the HTTP API runs them) and clock
//! advances (root and nested deadlines pass). Keys, fields and paths come from a small
//! alphabet (`a`, `a:b`, `a:0`, `l:1`, `*`, ...) so that they collide.
//!
//! Asserted after every step: no panic (proptest reports one as a failure, with the
//! shrunk input); every reply is exactly one well-formed RESP frame; a command that
//! answers an error changed nothing (a refused path-mode MSET: none of its keys); no
//! top-level empty hash or list is stored (`Db::export_shard`); `Db::len` equals the
//! number of exported keys; `KEYS *` lists only keys that exist (in flat mode exactly
//! the exported ones; in path mode leaf paths whose roots are exported).
//!
//! `PROPTEST_CASES` sets the number of cases (default 64); `FUZZ_SECONDS=600` keeps
//! running rounds of fresh cases for ten minutes. The test prints the cases, steps
//! (commands, batches and clock advances executed) and time it ran.

mod common;

use std::collections::BTreeSet;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use common::Harness;
use mapcache_commands::{KeyMode, RuntimeConfig};
use mapcache_resp::{decode_frame, Frame, Limits, Version};
use mapcache_store::db::Batch;
use mapcache_store::{path, Hash, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

// ---------------------------------------------------------------------------------
// The alphabet. Every choice is an index, read against the lists when the step runs
// (some lists depend on the key mode).

const KEYS: &[&str] = &[
    "a", "a:b", "a:0", "a:b:c", "a:*", "a:", ":", "l", "l:1", "l:0", "l:0:a", "h", "h:f", "*", "x",
    "n", "n:0",
];
/// Hash fields (in path mode without `:`: a field `f:g` would list as `k:f:g`, a path
/// that names something else).
const FIELDS: &[&str] = &["f", "g", "0", "1", "b", "*", ""];
const VALUES: &[&str] = &[
    "v",
    "1",
    "-1",
    "0",
    "10",
    "x y",
    "",
    "3.5",
    "{\"a\":1}",
    "w",
];
const NUMS: &[&str] = &["-2", "-1", "0", "1", "2", "3", "100"];
const COUNTS: &[&str] = &["-3", "-1", "0", "1", "3"];
const PATTERNS: &[&str] = &["*", "a*", "a:*", "l?", "[al]*", "*:*"];

/// Command templates: `K` key, `F` field, `V` value, `N` number, `C` count, `P`
/// pattern, `T` a deadline in ms around the clock; other words as they are.
const TEMPLATES: &[&str] = &[
    "SET K V",
    "SET K V EX 10",
    "SET K V PX 5",
    "SET K V NX",
    "SET K V XX GET",
    "SET K V KEEPTTL",
    "GET K",
    "GETDEL K",
    "GETEX K PX 5",
    "GETEX K PERSIST",
    "GETSET K V",
    "GETRANGE K N N",
    "SUBSTR K N N",
    "SETRANGE K N V",
    "APPEND K V",
    "STRLEN K",
    "INCR K",
    "DECR K",
    "INCRBY K N",
    "DECRBY K N",
    "INCRBYFLOAT K N",
    "SETNX K V",
    "SETEX K 10 V",
    "PSETEX K 5 V",
    "MSET K V K V",
    "MSET K V K V K V",
    "MSETNX K V K V",
    "MGET K K K",
    "HSET K F V",
    "HSET K F V F V",
    "HMSET K F V",
    "HSETNX K F V",
    "HGET K F",
    "HMGET K F F",
    "HDEL K F",
    "HDEL K F F",
    "HGETALL K",
    "HKEYS K",
    "HVALS K",
    "HLEN K",
    "HEXISTS K F",
    "HSTRLEN K F",
    "HINCRBY K F N",
    "HINCRBYFLOAT K F N",
    "HRANDFIELD K",
    "HRANDFIELD K C",
    "HRANDFIELD K C WITHVALUES",
    "HSCAN K 0",
    "HSCAN K 0 MATCH P COUNT 5",
    "LPUSH K V",
    "LPUSH K V V",
    "RPUSH K V V",
    "LPUSHX K V",
    "RPUSHX K V",
    "LPOP K",
    "LPOP K C",
    "RPOP K",
    "RPOP K C",
    "LRANGE K N N",
    "LINDEX K N",
    "LSET K N V",
    "LREM K N V",
    "LTRIM K N N",
    "LINSERT K BEFORE V V",
    "LINSERT K AFTER V V",
    "LLEN K",
    "LPOS K V",
    "LPOS K V RANK N COUNT 0",
    "DEL K",
    "DEL K K",
    "UNLINK K",
    "EXISTS K K",
    "TOUCH K",
    "TYPE K",
    "TTL K",
    "PTTL K",
    "EXPIRE K N",
    "PEXPIRE K N",
    "PEXPIRE K 5",
    "PEXPIRE K 20",
    "EXPIRE K 10 NX",
    "PEXPIREAT K T",
    "EXPIRETIME K",
    "PEXPIRETIME K",
    "PERSIST K",
    "RENAME K K",
    "RENAMENX K K",
    "COPY K K",
    "COPY K K REPLACE",
    "KEYS P",
    "SCAN 0",
    "SCAN 0 MATCH P COUNT 3",
    "SCAN 0 TYPE hash",
    "RANDOMKEY",
    "DBSIZE",
    "PING",
    "ECHO V",
    "FLUSHDB",
];

/// Document batch keys (HTTP paths); in path mode those with `:` are left out (a root
/// `a:b` written over HTTP lists as a RESP path that names something else).
const DOC_KEYS: &[&str] = &[
    "a", "a/b", "a/0", "a/b/c", "a/*", "l", "l/1", "l/0", "l/0/a", "h", "h/f", "*", "*/b", "x",
    "n/0", "a/", "a:b", "a:b/c", "l:1",
];

fn doc_value(i: u8) -> Value {
    let s = |v: &str| Value::string(v.as_bytes());
    let obj = |fields: &[(&str, Value)]| {
        let mut h = Hash::new();
        for (k, v) in fields {
            h.insert(k.as_bytes(), v.clone());
        }
        Value::hash(h)
    };
    match i % 12 {
        0 => s("v"),
        1 => s("1"),
        2 => Value::Number(2.5),
        3 => Value::Bool(true),
        4 => Value::Null,
        5 => Value::new_hash(),
        6 => Value::new_list(),
        7 => obj(&[("f", s("v"))]),
        8 => Value::List([s("x"), s("y")].into_iter().collect()),
        9 => obj(&[("b", obj(&[("c", s("1"))]))]),
        10 => Value::List(
            [obj(&[("a", s("1"))]), Value::new_list()]
                .into_iter()
                .collect(),
        ),
        _ => obj(&[("e", Value::new_hash()), ("l", Value::new_list())]),
    }
}

#[derive(Debug, Clone)]
enum Step {
    /// A template and the choices that fill it.
    Command(usize, Vec<u8>),
    /// A document batch: `batch_all`?, ops (kind, key, argument), and does the closure
    /// fail at the end?
    Batch(bool, Vec<(u8, u8, u8)>, bool),
    /// Move the manual clock forward (ms).
    Advance(u8),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        12 => (0..TEMPLATES.len(), prop::collection::vec(any::<u8>(), 8))
            .prop_map(|(t, c)| Step::Command(t, c)),
        3 => (any::<bool>(), prop::collection::vec(any::<(u8, u8, u8)>(), 1..6), prop::bool::weighted(0.2))
            .prop_map(|(all, ops, fail)| Step::Batch(all, ops, fail)),
        1 => (0u8..30).prop_map(Step::Advance),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    path_mode: bool,
    resp3: bool,
    steps: Vec<Step>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(step(), 1..40),
    )
        .prop_map(|(path_mode, resp3, steps)| Case {
            path_mode,
            resp3,
            steps,
        })
}

// ---------------------------------------------------------------------------------
// Running a case.

fn pick<'a>(list: &[&'a str], c: u8) -> &'a str {
    list[usize::from(c) % list.len()]
}

/// The command a template and its choices make.
fn command(template: &str, choices: &[u8], path_mode: bool, now: i64) -> Vec<Vec<u8>> {
    let fields: Vec<&str> = FIELDS
        .iter()
        .copied()
        .filter(|f| !path_mode || !f.contains(':'))
        .collect();
    let mut next = choices.iter().cycle().copied().enumerate();
    template
        .split(' ')
        .map(|word| {
            let (i, c) = next.next().unwrap();
            // Vary the choice for repeated tokens of one command (choices cycle).
            let c = c.wrapping_add((i / choices.len()) as u8);
            match word {
                "K" => pick(KEYS, c).into(),
                "F" => pick(&fields, c).into(),
                "V" => pick(VALUES, c).into(),
                "N" => pick(NUMS, c).into(),
                "C" => pick(COUNTS, c).into(),
                "P" => pick(PATTERNS, c).into(),
                "T" => (now + i64::from(c % 40) - 10).to_string().into_bytes(),
                w => w.as_bytes().to_vec(),
            }
        })
        .collect()
}

const DOC_OPS: &[&str] = &[
    "get",
    "set",
    "create",
    "replace",
    "delete",
    "increment",
    "append",
    "resize",
    "set_deadline",
    "matches",
    "exists",
];

/// One document op on a batch; its answer is ignored (only the invariants count).
fn doc_op(b: &mut Batch<'_>, (kind, key, arg): (u8, u8, u8), keys: &[&str]) {
    let k = pick(keys, key).as_bytes();
    let now = b.now();
    let _ = match usize::from(kind) % DOC_OPS.len() {
        0 => b.get(k).map(drop),
        1 => b.set(k, doc_value(arg)).map(drop),
        2 => b.create(k, doc_value(arg)),
        3 => b.replace(k, doc_value(arg)).map(drop),
        4 => b.delete(k).map(drop),
        5 => b.increment(k, f64::from(arg % 5) - 2.0).map(drop),
        6 => b.append(k, doc_value(arg)).map(drop),
        7 => b.resize(k, usize::from(arg % 4)),
        8 => b.set_deadline(k, (arg % 3 != 0).then(|| now + i64::from(arg % 40))),
        9 => b.matches(k).map(drop),
        _ => b.exists(k).map(drop),
    };
}

/// Exactly one well-formed frame.
fn check_frame(reply: &[u8], cmd: &[Vec<u8>]) -> Result<Frame, TestCaseError> {
    let mut buf = BytesMut::from(reply);
    let frame = decode_frame(&mut buf, &Limits::default())
        .map_err(|e| fail(format!("{}: malformed reply {e:?}: {reply:?}", show(cmd))))?
        .ok_or_else(|| fail(format!("{}: incomplete reply {reply:?}", show(cmd))))?;
    if !buf.is_empty() {
        return Err(fail(format!(
            "{}: bytes after the reply: {reply:?}",
            show(cmd)
        )));
    }
    Ok(frame)
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

fn show(cmd: &[Vec<u8>]) -> String {
    cmd.iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The store's invariants after a step.
fn check_store(h: &mut Harness, path_mode: bool, after: &str) -> Result<(), TestCaseError> {
    let shared = h.shared.clone();
    let now = shared.store.now();
    let db = shared.store.db(0).unwrap();
    let mut roots = BTreeSet::new();
    let mut empties = Vec::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, _, _| {
            if path::is_empty_aggregate(value) {
                empties.push(String::from_utf8_lossy(key).into_owned());
            }
            roots.insert(key.to_vec());
        });
    }
    if !empties.is_empty() {
        return Err(fail(format!(
            "after {after}: empty top-level aggregates stored: {empties:?}"
        )));
    }
    let len = db.len(now);
    if len != roots.len() {
        return Err(fail(format!(
            "after {after}: Db::len {len} but {} keys exported",
            roots.len()
        )));
    }
    let cmd = vec![b"KEYS".to_vec(), b"*".to_vec()];
    let reply = h.run(&[b"KEYS", b"*"]);
    let listed: Vec<Bytes> = match check_frame(&reply, &cmd)? {
        Frame::Array(items) | Frame::Set(items) => items
            .into_iter()
            .map(|f| match f {
                Frame::Bulk(b) => Ok(b),
                other => Err(fail(format!("KEYS * item {other:?}"))),
            })
            .collect::<Result<_, _>>()?,
        other => return Err(fail(format!("KEYS * answered {other:?}"))),
    };
    for key in &listed {
        if !db.peek(key, now, |e| e.is_some()) {
            return Err(fail(format!(
                "after {after}: KEYS * lists {:?}, which does not exist",
                String::from_utf8_lossy(key)
            )));
        }
        let root = if path_mode {
            path::split(key, path::SEP).0
        } else {
            key
        };
        if !roots.contains(root) {
            return Err(fail(format!(
                "after {after}: KEYS * lists {:?}, whose root is not stored",
                String::from_utf8_lossy(key)
            )));
        }
    }
    if !path_mode {
        let listed: BTreeSet<Vec<u8>> = listed.iter().map(|k| k.to_vec()).collect();
        if listed != roots {
            return Err(fail(format!(
                "after {after}: KEYS * {listed:?} but stored {roots:?}"
            )));
        }
    }
    Ok(())
}

/// The case as text: the commands and the batches' operations (for a failure).
fn describe(c: &Case) -> String {
    let doc_keys = doc_keys(c.path_mode);
    let mut now = common::T0;
    let mut out = format!(
        "{} key mode, RESP{}\n",
        if c.path_mode { "path" } else { "flat" },
        if c.resp3 { 3 } else { 2 }
    );
    for s in &c.steps {
        let line = match s {
            Step::Command(t, choices) => show(&command(TEMPLATES[*t], choices, c.path_mode, now)),
            Step::Batch(all, ops, fails) => {
                let ops: Vec<String> = ops
                    .iter()
                    .map(|&(kind, key, arg)| {
                        let mut json = Vec::new();
                        mapcache_store::json::write(&doc_value(arg), &mut json);
                        format!(
                            "{} {} (arg {arg}: {})",
                            DOC_OPS[usize::from(kind) % DOC_OPS.len()],
                            pick(&doc_keys, key),
                            String::from_utf8_lossy(&json)
                        )
                    })
                    .collect();
                format!(
                    "{} [{}]{}",
                    if *all { "batch_all" } else { "batch" },
                    ops.join("; "),
                    if *fails { " then Err" } else { "" }
                )
            }
            Step::Advance(ms) => {
                now += i64::from(*ms);
                format!("advance {ms} ms")
            }
        };
        out += &line;
        out += "\n";
    }
    out
}

fn doc_keys(path_mode: bool) -> Vec<&'static str> {
    DOC_KEYS
        .iter()
        .copied()
        .filter(|k| !path_mode || !k.contains(':'))
        .collect()
}

/// Everything a client can see in database 0, sorted by key.
type Snapshot = Vec<(Vec<u8>, Value, Option<i64>, Vec<(Vec<Bytes>, i64)>)>;

fn snapshot(h: &Harness) -> Snapshot {
    let now = h.shared.store.now();
    let db = h.shared.store.db(0).unwrap();
    let mut out = Snapshot::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, deadline, nested| {
            out.push((key.to_vec(), value.clone(), deadline, nested.to_vec()));
        });
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn run_case(c: &Case) -> Result<usize, TestCaseError> {
    let mut h = Harness::with_config(RuntimeConfig {
        key_mode: if c.path_mode {
            KeyMode::Path
        } else {
            KeyMode::Flat
        },
        ..Default::default()
    });
    if c.resp3 {
        h.out.version = Version::Resp3;
    }
    let doc_keys = doc_keys(c.path_mode);
    for (n, s) in c.steps.iter().enumerate() {
        let after = match s {
            Step::Command(t, choices) => {
                let now = h.shared.store.now();
                let cmd = command(TEMPLATES[*t], choices, c.path_mode, now);
                let args: Vec<&[u8]> = cmd.iter().map(Vec::as_slice).collect();
                let before = snapshot(&h);
                let reply = h.run(&args);
                check_frame(&reply, &cmd)?;
                // A command answering an error changed nothing (a refused path-mode
                // MSET included: all or nothing).
                if reply.first() == Some(&b'-') && snapshot(&h) != before {
                    return Err(fail(format!(
                        "step {n}: {} answered {} yet changed the store",
                        show(&cmd),
                        String::from_utf8_lossy(&reply).trim_end()
                    )));
                }
                show(&cmd)
            }
            Step::Batch(all, ops, fails) => {
                let db = h.shared.store.db(0).unwrap();
                let now = h.shared.store.now();
                let body = |b: &mut Batch<'_>| -> Result<(), ()> {
                    for op in ops {
                        doc_op(b, *op, &doc_keys);
                    }
                    if *fails {
                        Err(())
                    } else {
                        Ok(())
                    }
                };
                let _ = if *all {
                    db.batch_all(b'/', now, body)
                } else {
                    let roots: Vec<&[u8]> = ops
                        .iter()
                        .map(|&(_, key, _)| pick(&doc_keys, key).as_bytes())
                        .collect();
                    db.batch(b'/', &roots, now, body)
                };
                format!("batch {s:?}")
            }
            Step::Advance(ms) => {
                h.advance_ms(i64::from(*ms));
                format!("advance {ms}")
            }
        };
        check_store(&mut h, c.path_mode, &format!("step {n}: {after}"))?;
    }
    Ok(c.steps.len())
}

#[test]
fn commands_and_document_batches_keep_the_store_whole() {
    let env = |name: &str| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    // FUZZ_SECONDS: keep running rounds of PROPTEST_CASES (default 10,000) fresh cases
    // until that much time has passed. Without it: one round (default 64 cases).
    let budget = env("FUZZ_SECONDS").map(std::time::Duration::from_secs);
    let cases = env("PROPTEST_CASES").unwrap_or(if budget.is_some() { 10_000 } else { 64 }) as u32;
    let steps = std::cell::Cell::new(0usize);
    let start = Instant::now();
    let mut rounds = 0u64;
    loop {
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        });
        let result = runner.run(&case(), |c| {
            steps.set(steps.get() + run_case(&c)?);
            Ok(())
        });
        rounds += 1;
        match result {
            Ok(()) => {}
            Err(TestError::Fail(why, input)) => {
                panic!("{why}\nminimal input:\n{}", describe(&input))
            }
            Err(e) => panic!("{e}"),
        }
        if budget.is_none_or(|b| start.elapsed() >= b) {
            break;
        }
    }
    eprintln!(
        "fuzz_engine: {} cases ({rounds} rounds of {cases}), {} steps in {:.1} s",
        rounds * u64::from(cases),
        steps.get(),
        start.elapsed().as_secs_f64()
    );
}
