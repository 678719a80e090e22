//! A model-based property test of the document engine: random sequences of document
//! batches (`Db::batch` / `Db::batch_all`: get, exists, create, replace, set, delete,
//! increment, append, resize, set_deadline, `*` matches with captures, array items,
//! paths that cross non-objects, too-deep paths, batches that fail halfway) and clock
//! advances, applied both to a real `Store` and to a plain reference model written
//! here from the doc comments of `path.rs`, `doc.rs` and `db/batch.rs`. Every answer
//! (values and typed `DocError`s, depths included) and the whole exported state after
//! every step (values in document order, root deadlines, nested deadlines, `Db::len`)
//! must agree. A second property subscribes a recorder to the write feed: it must hear
//! each successful write of a committed batch, in order, then the removal of each root
//! the batch left empty, and nothing of a failed batch.
//!
//! The model keeps its own ordered tree (`J`) rather than `serde_json::Value`: without
//! serde_json's `preserve_order` feature its objects are sorted maps, and document
//! order is part of what is checked (matches answer in document order, replaced fields
//! keep their place, new fields go last, deleted fields close up).
//!
//! `PROPTEST_CASES` raises the case count (default 256).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use mapcache_expiry::UnixMillis;
use mapcache_store::db::{Batch, KeyMatch};
use mapcache_store::doc::DocError;
use mapcache_store::feed::{OwnedChange, Recorder};
use mapcache_store::{ChangeKind, WriteListener};
use mapcache_store::{Hash, List, Store, StoreConfig, Value};
use proptest::prelude::*;

const SEP: u8 = b'/';
const MAX_DEPTH: usize = 128;
/// The clock at the start of every case (2026-01-01T00:00:00Z).
const T0: UnixMillis = 1_767_225_600_000;
/// Nested deadlines are set this far ahead: they never pass during a case (the model
/// does not describe nested expiry, only that deadlines are kept and dropped).
const FAR: UnixMillis = 1_000_000_000;

// ---------------------------------------------------------------------------------
// The model's values: an ordered JSON-like tree.

#[derive(Debug, Clone, PartialEq)]
enum J {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
    /// Fields in document (insertion) order; names are unique.
    Obj(Vec<(String, J)>),
    Arr(Vec<J>),
}

impl J {
    fn is_empty_aggregate(&self) -> bool {
        matches!(self, J::Obj(f) if f.is_empty()) || matches!(self, J::Arr(a) if a.is_empty())
    }

    fn to_value(&self) -> Value {
        match self {
            J::Str(s) => Value::string(s.as_bytes()),
            J::Num(n) => Value::Number(*n),
            J::Bool(b) => Value::Bool(*b),
            J::Null => Value::Null,
            J::Obj(fields) => {
                let mut h = Hash::new();
                for (k, v) in fields {
                    h.insert(k.as_bytes(), v.to_value());
                }
                Value::hash(h)
            }
            J::Arr(items) => Value::List(items.iter().map(J::to_value).collect::<List>()),
        }
    }

    fn from_value(v: &Value) -> J {
        match v {
            Value::Str(s) => J::Str(String::from_utf8(s.as_slice().to_vec()).expect("ASCII")),
            Value::Number(n) => J::Num(*n),
            Value::Bool(b) => J::Bool(*b),
            Value::Null => J::Null,
            Value::Hash(h) => J::Obj(
                h.iter()
                    .map(|(k, v)| {
                        (
                            String::from_utf8(k.to_vec()).expect("ASCII"),
                            J::from_value(&v.cow()),
                        )
                    })
                    .collect(),
            ),
            Value::List(l) => J::Arr(l.iter().map(|v| J::from_value(&v.cow())).collect()),
        }
    }
}

/// A segment read as an array index: canonical decimal only (`0`, `17`; not `01`,
/// `+1`, `-1` or the empty segment).
fn index(seg: &str) -> Option<usize> {
    let canonical = seg == "0"
        || (!seg.is_empty() && !seg.starts_with('0') && seg.bytes().all(|b| b.is_ascii_digit()));
    if canonical {
        seg.parse().ok()
    } else {
        None
    }
}

enum Child<'a> {
    Found(&'a J),
    Missing,
    /// The node has no children at all.
    Leaf,
}

fn child<'a>(node: &'a J, seg: &str) -> Child<'a> {
    match node {
        J::Obj(fields) => fields
            .iter()
            .find(|(k, _)| k == seg)
            .map_or(Child::Missing, |(_, v)| Child::Found(v)),
        J::Arr(items) => index(seg)
            .and_then(|i| items.get(i))
            .map_or(Child::Missing, Child::Found),
        _ => Child::Leaf,
    }
}

fn child_mut<'a>(node: &'a mut J, seg: &str) -> Option<&'a mut J> {
    match node {
        J::Obj(fields) => fields.iter_mut().find(|(k, _)| k == seg).map(|(_, v)| v),
        J::Arr(items) => index(seg).and_then(|i| items.get_mut(i)),
        _ => None,
    }
}

/// The node at `segs` (a blocked path reads as missing).
fn resolve<'a>(root: &'a J, segs: &[String]) -> Option<&'a J> {
    let mut cur = root;
    for s in segs {
        match child(cur, s) {
            Child::Found(v) => cur = v,
            Child::Missing | Child::Leaf => return None,
        }
    }
    Some(cur)
}

fn resolve_mut<'a>(root: &'a mut J, segs: &[String]) -> Option<&'a mut J> {
    let mut cur = root;
    for s in segs {
        cur = child_mut(cur, s)?;
    }
    Some(cur)
}

/// Why a write to `segs` cannot go through: a value without children on the way (or
/// an array and a segment that is no index) is `Blocked` at that node's depth; an
/// array index past the end is `NoSuchIndex` at the item's depth. A missing object
/// field is created, and everything below it.
fn write_blocked(root: &J, segs: &[String]) -> Option<DocError> {
    let mut cur = root;
    for (depth, s) in segs.iter().enumerate() {
        let last = depth + 1 == segs.len();
        match (cur, child(cur, s)) {
            (J::Arr(_), Child::Missing) => {
                return Some(match index(s) {
                    Some(_) => DocError::NoSuchIndex { depth: depth + 1 },
                    None => DocError::Blocked { depth },
                })
            }
            (_, Child::Leaf) => return Some(DocError::Blocked { depth }),
            (_, Child::Missing) => return None,
            (_, Child::Found(_)) if last => return None,
            (_, Child::Found(v)) => cur = v,
        }
    }
    None
}

/// Stores `v` at `segs`, creating missing objects; answers what was replaced.
fn insert(root: &mut J, segs: &[String], v: J) -> Result<Option<J>, DocError> {
    if let Some(e) = write_blocked(root, segs) {
        return Err(e);
    }
    let mut cur = root;
    for (depth, s) in segs.iter().enumerate() {
        let last = depth + 1 == segs.len();
        match cur {
            J::Obj(fields) => {
                let i = match fields.iter().position(|(k, _)| k == s) {
                    Some(i) => i,
                    None if last => {
                        fields.push((s.clone(), v));
                        return Ok(None);
                    }
                    None => {
                        fields.push((s.clone(), J::Obj(Vec::new())));
                        fields.len() - 1
                    }
                };
                if last {
                    return Ok(Some(std::mem::replace(&mut fields[i].1, v)));
                }
                cur = &mut fields[i].1;
            }
            J::Arr(items) => {
                let i = index(s).expect("write_blocked checked");
                if last {
                    return Ok(Some(std::mem::replace(&mut items[i], v)));
                }
                cur = &mut items[i];
            }
            _ => unreachable!("write_blocked checked"),
        }
    }
    unreachable!("a path has at least one segment")
}

/// Removes the node at `segs` (an array item: the later ones move up; an object
/// field: the later ones keep their order). Emptied objects stay.
fn remove(root: &mut J, segs: &[String]) -> Option<J> {
    let (last, parent) = segs.split_last()?;
    let parent = resolve_mut(root, parent)?;
    match parent {
        J::Obj(fields) => {
            let i = fields.iter().position(|(k, _)| k == last)?;
            Some(fields.remove(i).1)
        }
        J::Arr(items) => {
            let i = index(last).filter(|&i| i < items.len())?;
            Some(items.remove(i))
        }
        _ => None,
    }
}

/// Every node matching `segs` below `node`: (path, captures, value), document order.
fn matches_below(node: &J, segs: &[String]) -> Vec<(Vec<String>, Vec<String>, J)> {
    fn walk(
        node: &J,
        segs: &[String],
        at: &mut Vec<String>,
        caps: &mut Vec<String>,
        out: &mut Vec<(Vec<String>, Vec<String>, J)>,
    ) {
        let Some((seg, rest)) = segs.split_first() else {
            out.push((at.clone(), caps.clone(), node.clone()));
            return;
        };
        let mut visit = |name: String, child: &J, captured: bool, out: &mut Vec<_>| {
            at.push(name.clone());
            if captured {
                caps.push(name);
            }
            walk(child, rest, at, caps, out);
            if captured {
                caps.pop();
            }
            at.pop();
        };
        if seg == "*" {
            match node {
                J::Obj(fields) => {
                    for (k, v) in fields {
                        visit(k.clone(), v, true, out);
                    }
                }
                J::Arr(items) => {
                    for (i, v) in items.iter().enumerate() {
                        visit(i.to_string(), v, true, out);
                    }
                }
                _ => {}
            }
        } else if let Child::Found(v) = child(node, seg) {
            visit(seg.clone(), v, false, out);
        }
    }
    let mut out = Vec::new();
    walk(node, segs, &mut Vec::new(), &mut Vec::new(), &mut out);
    out
}

// ---------------------------------------------------------------------------------
// The model's database.

#[derive(Debug, Clone, PartialEq)]
struct Root {
    value: J,
    deadline: Option<UnixMillis>,
    /// Deadlines of nested nodes (segments below the root), sorted for comparison.
    nested: Vec<(Vec<String>, UnixMillis)>,
}

type Model = BTreeMap<String, Root>;

/// A key: its root and the segments below it (`None`: the root itself).
#[derive(Debug, Clone, PartialEq)]
struct Key {
    root: String,
    rest: Option<Vec<String>>,
}

impl Key {
    fn text(&self) -> String {
        match &self.rest {
            None => self.root.clone(),
            Some(segs) => format!("{}/{}", self.root, segs.join("/")),
        }
    }
}

/// What an operation answers, in a form both sides produce.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    Value(Option<J>),
    Bool(bool),
    Unit,
    Replaced(J),
    Old(Option<J>),
    Number(f64),
    Len(usize),
    /// (key, captures, value), in the order answered (sorted for a `*` root).
    Matches(Vec<(String, Vec<String>, J)>),
}

#[derive(Debug, Clone)]
enum Op {
    Get(Key),
    Exists(Key),
    Create(Key, J),
    Replace(Key, J),
    Set(Key, J),
    Delete(Key),
    Increment(Key, f64),
    Append(Key, J),
    Resize(Key, usize),
    /// A root's deadline is `now + offset`; a nested node's `now + FAR + offset`.
    SetDeadline(Key, Option<UnixMillis>),
    Matches(Key),
    /// The closure gives up here: the batch must leave no trace.
    Abort,
}

#[derive(Debug, Clone)]
struct Step {
    /// `batch_all` (every shard locked; `*` roots allowed) or `batch` over the roots
    /// the operations name.
    all: bool,
    ops: Vec<(Op, bool)>,
}

#[derive(Debug, Clone)]
enum Action {
    /// One batch; each op's flag: does the closure return its error (`?`)?
    Batch(Step),
    /// Move the clock forward.
    Advance(UnixMillis),
}

/// Why the closure stopped.
#[derive(Debug, PartialEq)]
enum Stop {
    Abort,
    Failed(DocError),
}

/// The model's answer to one op on the working state `work` at `now`.
fn model_op(work: &mut Model, op: &Op, now: UnixMillis) -> Result<Answer, DocError> {
    let root_of = |k: &Key| k.root.clone();
    match op {
        Op::Get(k) => Ok(Answer::Value(work.get(&k.root).and_then(
            |r| match &k.rest {
                None => Some(r.value.clone()),
                Some(p) => resolve(&r.value, p).cloned(),
            },
        ))),
        Op::Exists(k) => Ok(Answer::Bool(model_exists(work, k))),
        Op::Create(k, v) => {
            match (work.get_mut(&k.root), &k.rest) {
                (Some(_), None) => return Err(DocError::Exists),
                (None, None) => {
                    work.insert(root_of(k), fresh_root(v.clone()));
                }
                (Some(r), Some(p)) => doc_create(&mut r.value, p, v.clone())?,
                (None, Some(p)) => {
                    let mut fresh = J::Obj(Vec::new());
                    doc_create(&mut fresh, p, v.clone())?;
                    work.insert(root_of(k), fresh_root(fresh));
                }
            }
            Ok(Answer::Unit)
        }
        Op::Replace(k, v) => match (work.get_mut(&k.root), &k.rest) {
            (None, _) => Err(DocError::Missing),
            (Some(r), None) => Ok(Answer::Replaced(std::mem::replace(&mut r.value, v.clone()))),
            (Some(r), Some(p)) => match resolve_mut(&mut r.value, p) {
                Some(node) => Ok(Answer::Replaced(std::mem::replace(node, v.clone()))),
                None => Err(DocError::Missing),
            },
        },
        Op::Set(k, v) => match (work.get_mut(&k.root), &k.rest) {
            (None, None) => {
                work.insert(root_of(k), fresh_root(v.clone()));
                Ok(Answer::Old(None))
            }
            (Some(r), None) => Ok(Answer::Old(Some(std::mem::replace(
                &mut r.value,
                v.clone(),
            )))),
            (Some(r), Some(p)) => {
                check_depth(p)?;
                Ok(Answer::Old(insert(&mut r.value, p, v.clone())?))
            }
            (None, Some(p)) => {
                check_depth(p)?;
                let mut fresh = J::Obj(Vec::new());
                insert(&mut fresh, p, v.clone())?;
                work.insert(root_of(k), fresh_root(fresh));
                Ok(Answer::Old(None))
            }
        },
        Op::Delete(k) => {
            if !model_exists(work, k) {
                return Ok(Answer::Old(None));
            }
            Ok(Answer::Old(match &k.rest {
                None => work.remove(&k.root).map(|r| r.value),
                Some(p) => remove(&mut work.get_mut(&k.root).unwrap().value, p),
            }))
        }
        Op::Increment(k, by) => modify(work, k, |node| match node {
            J::Num(n) => {
                let sum = *n + by;
                if !sum.is_finite() {
                    return Err(DocError::Overflow);
                }
                *n = sum;
                Ok(Answer::Number(sum))
            }
            _ => Err(DocError::NotANumber),
        }),
        Op::Append(k, v) => modify(work, k, |node| match node {
            J::Arr(items) => {
                items.push(v.clone());
                Ok(Answer::Len(items.len()))
            }
            _ => Err(DocError::NotAnArray),
        }),
        Op::Resize(k, len) => modify(work, k, |node| match node {
            J::Arr(items) => {
                items.resize(*len, J::Null);
                Ok(Answer::Unit)
            }
            _ => Err(DocError::NotAnArray),
        }),
        Op::SetDeadline(k, offset) => {
            if !model_exists(work, k) {
                return Err(DocError::Missing);
            }
            let r = work.get_mut(&k.root).unwrap();
            match &k.rest {
                None => r.deadline = offset.map(|o| now + o),
                Some(p) => {
                    r.nested.retain(|(q, _)| q != p);
                    if let Some(o) = offset {
                        r.nested.push((p.clone(), now + FAR + o));
                    }
                    r.nested.sort();
                }
            }
            Ok(Answer::Unit)
        }
        Op::Matches(k) => {
            if let Some(p) = &k.rest {
                check_depth(p)?;
            }
            let mut out = Vec::new();
            let wild = k.root == "*";
            for (name, r) in work.iter() {
                if !wild && *name != k.root {
                    continue;
                }
                let caps0: Vec<String> = if wild { vec![name.clone()] } else { vec![] };
                match &k.rest {
                    None => out.push((name.clone(), caps0, r.value.clone())),
                    Some(p) => {
                        for (path, caps, v) in matches_below(&r.value, p) {
                            let mut all = caps0.clone();
                            all.extend(caps);
                            out.push((format!("{name}/{}", path.join("/")), all, v));
                        }
                    }
                }
            }
            if wild {
                out.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Ok(Answer::Matches(out))
        }
        Op::Abort => unreachable!("handled by the caller"),
    }
}

fn fresh_root(value: J) -> Root {
    Root {
        value,
        deadline: None,
        nested: Vec::new(),
    }
}

fn check_depth(p: &[String]) -> Result<(), DocError> {
    if p.len() > MAX_DEPTH {
        return Err(DocError::TooDeep);
    }
    Ok(())
}

fn doc_create(root: &mut J, p: &[String], v: J) -> Result<(), DocError> {
    check_depth(p)?;
    if resolve(root, p).is_some() {
        return Err(DocError::Exists);
    }
    insert(root, p, v).map(|_| ())
}

fn model_exists(work: &Model, k: &Key) -> bool {
    work.get(&k.root).is_some_and(|r| match &k.rest {
        None => true,
        Some(p) => resolve(&r.value, p).is_some(),
    })
}

fn modify(
    work: &mut Model,
    k: &Key,
    f: impl FnOnce(&mut J) -> Result<Answer, DocError>,
) -> Result<Answer, DocError> {
    let Some(r) = work.get_mut(&k.root) else {
        return Err(DocError::Missing);
    };
    let node = match &k.rest {
        None => &mut r.value,
        Some(p) => resolve_mut(&mut r.value, p).ok_or(DocError::Missing)?,
    };
    f(node)
}

/// A batch's commit in the model: an emptied root goes, nested deadlines of nodes that
/// no longer exist go.
fn model_commit(work: &mut Model) {
    work.retain(|_, r| !r.value.is_empty_aggregate());
    for r in work.values_mut() {
        let value = &r.value;
        r.nested.retain(|(p, _)| resolve(value, p).is_some());
    }
}

// ---------------------------------------------------------------------------------
// The store's side.

fn store_op(b: &mut Batch<'_>, op: &Op) -> Result<Answer, DocError> {
    let now = b.now();
    match op {
        Op::Get(k) => Ok(Answer::Value(
            b.get(k.text().as_bytes())?.as_ref().map(J::from_value),
        )),
        Op::Exists(k) => Ok(Answer::Bool(b.exists(k.text().as_bytes())?)),
        Op::Create(k, v) => b
            .create(k.text().as_bytes(), v.to_value())
            .map(|()| Answer::Unit),
        Op::Replace(k, v) => b
            .replace(k.text().as_bytes(), v.to_value())
            .map(|old| Answer::Replaced(J::from_value(&old))),
        Op::Set(k, v) => b
            .set(k.text().as_bytes(), v.to_value())
            .map(|old| Answer::Old(old.as_ref().map(J::from_value))),
        Op::Delete(k) => b
            .delete(k.text().as_bytes())
            .map(|old| Answer::Old(old.as_ref().map(J::from_value))),
        Op::Increment(k, by) => b.increment(k.text().as_bytes(), *by).map(Answer::Number),
        Op::Append(k, v) => b.append(k.text().as_bytes(), v.to_value()).map(Answer::Len),
        Op::Resize(k, len) => b.resize(k.text().as_bytes(), *len).map(|()| Answer::Unit),
        Op::SetDeadline(k, offset) => {
            let at = match k.rest {
                None => offset.map(|o| now + o),
                Some(_) => offset.map(|o| now + FAR + o),
            };
            b.set_deadline(k.text().as_bytes(), at)
                .map(|()| Answer::Unit)
        }
        Op::Matches(k) => {
            let mut found: Vec<(String, Vec<String>, J)> = b
                .matches(k.text().as_bytes())?
                .into_iter()
                .map(
                    |KeyMatch {
                         key,
                         captures,
                         value,
                     }| {
                        (
                            String::from_utf8(key.to_vec()).unwrap(),
                            captures
                                .iter()
                                .map(|c| String::from_utf8(c.to_vec()).unwrap())
                                .collect(),
                            J::from_value(&value),
                        )
                    },
                )
                .collect();
            if k.root == "*" {
                // Across roots the order is the tables' (unspecified).
                found.sort_by(|a, b| a.0.cmp(&b.0));
            }
            Ok(Answer::Matches(found))
        }
        Op::Abort => unreachable!("handled by the caller"),
    }
}

/// The store's whole database as the model holds it.
fn export(store: &Store, now: UnixMillis) -> Model {
    let db = store.db(0).unwrap();
    let mut out = Model::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, deadline, nested| {
            let mut nested: Vec<(Vec<String>, UnixMillis)> = nested
                .iter()
                .map(|(segs, d)| {
                    (
                        segs.iter()
                            .map(|s| String::from_utf8(s.to_vec()).unwrap())
                            .collect(),
                        *d,
                    )
                })
                .collect();
            nested.sort();
            let prev = out.insert(
                String::from_utf8(key.to_vec()).unwrap(),
                Root {
                    value: J::from_value(value),
                    deadline,
                    nested,
                },
            );
            assert!(prev.is_none(), "a key exported twice");
        });
    }
    out
}

// ---------------------------------------------------------------------------------
// Generators: a small alphabet, so that keys collide and paths cross each other.

const ROOTS: &[&str] = &["a", "b", "l", "n", "*", ""];
const SEGS: &[&str] = &["a", "b", "0", "1", "2", "*", "", "01", "x"];
/// Keys drawn often, so that operations meet what earlier ones wrote.
const HOT: &[&str] = &[
    "a", "a/a", "a/b", "a/0", "a/a/b", "l", "l/0", "l/1", "l/0/a", "n", "n/a", "n/0", "*/a", "a/*",
    "*", "*/*", "b/a/0",
];
const NAMES: &[&str] = &["a", "b", "0", "1", "*", "", "x"];

fn leaf() -> impl Strategy<Value = J> {
    prop_oneof![
        1 => prop::sample::select(vec!["", "x", "hello", "1"]).prop_map(|s| J::Str(s.into())),
        2 => prop::sample::select(vec![0.0, 1.0, -2.5, 7.0, 1.5e308]).prop_map(J::Num),
        1 => any::<bool>().prop_map(J::Bool),
        1 => Just(J::Null),
    ]
}

fn value() -> impl Strategy<Value = J> {
    let tree = leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec((prop::sample::select(NAMES), inner.clone()), 0..4).prop_map(
                |pairs| {
                    let mut fields: Vec<(String, J)> = Vec::new();
                    for (k, v) in pairs {
                        if !fields.iter().any(|(f, _)| f == k) {
                            fields.push((k.to_string(), v));
                        }
                    }
                    J::Obj(fields)
                }
            ),
            prop::collection::vec(inner, 0..4).prop_map(J::Arr),
        ]
    });
    prop_oneof![
        4 => leaf(),
        4 => tree,
        1 => Just(J::Obj(Vec::new())),
        1 => Just(J::Arr(Vec::new())),
    ]
}

/// A key: a root and up to three segments, or a path at or past the depth limit.
fn key() -> impl Strategy<Value = Key> {
    let root = prop::sample::select(ROOTS).prop_map(str::to_string);
    let seg = || {
        prop_oneof![
            4 => prop::sample::select(&SEGS[..4]),
            1 => prop::sample::select(SEGS),
        ]
        .prop_map(str::to_string)
    };
    let short = prop::collection::vec(seg(), 1..3);
    let long = prop::collection::vec(seg(), 3..5);
    prop_oneof![
        8 => prop::sample::select(HOT).prop_map(k),
        4 => root.clone().prop_map(|root| Key { root, rest: None }),
        12 => (root.clone(), short).prop_map(|(root, rest)| Key { root, rest: Some(rest) }),
        3 => (root.clone(), long).prop_map(|(root, rest)| Key { root, rest: Some(rest) }),
        // At and past the depth limit.
        1 => (root, prop::sample::select(vec![MAX_DEPTH, MAX_DEPTH + 1]))
            .prop_map(|(root, n)| Key { root, rest: Some(vec!["a".to_string(); n]) }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => key().prop_map(Op::Get),
        1 => key().prop_map(Op::Exists),
        3 => (key(), value()).prop_map(|(k, v)| Op::Create(k, v)),
        2 => (key(), value()).prop_map(|(k, v)| Op::Replace(k, v)),
        5 => (key(), value()).prop_map(|(k, v)| Op::Set(k, v)),
        3 => key().prop_map(Op::Delete),
        2 => (key(), prop::sample::select(vec![1.0, -3.0, 0.5, 1e308])).prop_map(|(k, by)| Op::Increment(k, by)),
        2 => (key(), value()).prop_map(|(k, v)| Op::Append(k, v)),
        1 => (key(), 0usize..4).prop_map(|(k, n)| Op::Resize(k, n)),
        1 => (key(), prop::option::of(0i64..40)).prop_map(|(k, d)| Op::SetDeadline(k, d)),
        3 => key().prop_map(Op::Matches),
        1 => Just(Op::Abort),
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        8 => (any::<bool>(), prop::collection::vec((op(), prop::bool::weighted(0.2)), 1..10))
            .prop_map(|(all, ops)| Action::Batch(Step { all, ops })),
        1 => (0i64..30).prop_map(Action::Advance),
    ]
}

// ---------------------------------------------------------------------------------
// The property.

/// Runs one action on both sides and compares everything.
/// The write feed's side of the model: a recorder subscribed to the store, and the
/// roots that expired but are still stored (no sweeper runs here): a batch that
/// writes one removes it, and the feed should say `Expired`.
#[derive(Debug, Default)]
struct FeedCheck {
    rec: Arc<Recorder>,
    expired: BTreeSet<String>,
}

impl FeedCheck {
    fn subscribe(store: &Store) -> FeedCheck {
        let check = FeedCheck::default();
        let listener: Arc<dyn WriteListener> = check.rec.clone();
        store.feed().subscribe(listener);
        check
    }
}

fn sort_key(c: &OwnedChange) -> (Vec<u8>, Option<Vec<u8>>, String) {
    (c.root.clone(), c.path.clone(), format!("{:?}", c.kind))
}

fn change(root: &str, path: Option<String>, kind: ChangeKind) -> OwnedChange {
    OwnedChange {
        cache: "default".into(),
        root: root.as_bytes().to_vec(),
        path: path.map(String::into_bytes),
        kind,
    }
}

/// What the feed hears of one successful op.
fn op_change(op: &Op, answer: &Answer) -> Option<OwnedChange> {
    let (k, kind) = match (op, answer) {
        (Op::Create(k, _), _) => (k, ChangeKind::Created),
        (Op::Replace(k, _), _) => (k, ChangeKind::Replaced),
        (Op::Set(k, _), Answer::Old(None)) => (k, ChangeKind::Created),
        (Op::Set(k, _), _) => (k, ChangeKind::Replaced),
        (Op::Delete(k), Answer::Old(Some(_))) => (k, ChangeKind::Deleted),
        (Op::Increment(k, _) | Op::Append(k, _) | Op::Resize(k, _), _) => (k, ChangeKind::Replaced),
        _ => return None,
    };
    Some(change(&k.root, k.rest.as_ref().map(|p| p.join("/")), kind))
}

/// Does the op take a working copy of its root (and so, at commit, replace what is
/// stored, an expired entry included)?
fn op_writes_root(work: &Model, op: &Op) -> Option<String> {
    match op {
        Op::Create(k, _)
        | Op::Replace(k, _)
        | Op::Set(k, _)
        | Op::Increment(k, _)
        | Op::Append(k, _)
        | Op::Resize(k, _) => Some(k.root.clone()),
        Op::Delete(k) | Op::SetDeadline(k, _) if model_exists(work, k) => Some(k.root.clone()),
        _ => None,
    }
}

fn run_action(
    store: &Store,
    model: &mut Model,
    now: &mut UnixMillis,
    action: &Action,
) -> Result<(), TestCaseError> {
    run_action_fed(store, model, now, action, None)
}

fn run_action_fed(
    store: &Store,
    model: &mut Model,
    now: &mut UnixMillis,
    action: &Action,
    mut feed: Option<&mut FeedCheck>,
) -> Result<(), TestCaseError> {
    let step = match action {
        Action::Advance(ms) => {
            *now += ms;
            let t = *now;
            model.retain(|root, r| {
                let live = r.deadline.is_none_or(|d| d >= t);
                if !live {
                    if let Some(f) = feed.as_deref_mut() {
                        f.expired.insert(root.clone());
                    }
                }
                live
            });
            return Ok(());
        }
        Action::Batch(step) => step,
    };
    let mut ops = step.ops.clone();
    if !step.all {
        // `*` roots span shards: a pattern with one needs `batch_all`.
        ops.retain(|(op, _)| !matches!(op, Op::Matches(k) if k.root == "*"));
    }
    // The model: a working copy, committed only when the closure succeeds.
    let mut work = model.clone();
    let mut expected = Vec::new();
    let mut model_stop = None;
    let mut op_changes = Vec::new();
    let mut written = BTreeSet::new();
    for (op, propagate) in &ops {
        if let Op::Abort = op {
            model_stop = Some(Stop::Abort);
            break;
        }
        if let Some(root) = op_writes_root(&work, op) {
            // The first write to an expired root reports its expiry, before the write.
            let expired = feed.as_deref().is_some_and(|f| f.expired.contains(&root));
            if expired && !written.contains(&root) {
                op_changes.push(change(&root, None, ChangeKind::Expired));
            }
            written.insert(root);
        }
        let before = work.clone();
        let r = model_op(&mut work, op, *now);
        if r.is_err() {
            prop_assert_eq!(&work, &before, "the model changed on a failed op");
        }
        if let Ok(answer) = &r {
            op_changes.extend(op_change(op, answer));
        }
        expected.push(r.clone());
        if let (Err(e), true) = (&r, propagate) {
            model_stop = Some(Stop::Failed(*e));
            break;
        }
    }
    // The feed hears nothing of a failed batch; of a committed one, each successful
    // write in order (the first write to an expired root preceded by its expiry), then
    // (in no particular order) the removal of each root left empty.
    let mut commit_changes = Vec::new();
    if model_stop.is_none() {
        for (root, r) in &work {
            if r.value.is_empty_aggregate() {
                commit_changes.push(change(root, None, ChangeKind::Deleted));
            }
        }
        if let Some(f) = feed.as_deref_mut() {
            for root in &written {
                f.expired.remove(root);
            }
        }
        model_commit(&mut work);
        *model = work;
    } else {
        op_changes.clear();
    }

    // The store.
    let db = store.db(0).unwrap();
    let mut got = Vec::new();
    let body = |b: &mut Batch<'_>| -> Result<(), Stop> {
        for (op, propagate) in &ops {
            if let Op::Abort = op {
                return Err(Stop::Abort);
            }
            let r = store_op(b, op);
            got.push(r.clone());
            if let (Err(e), true) = (r, propagate) {
                return Err(Stop::Failed(e));
            }
        }
        Ok(())
    };
    let result = if step.all {
        db.batch_all(SEP, *now, body)
    } else {
        let roots: Vec<Vec<u8>> = ops
            .iter()
            .filter_map(|(op, _)| op_key(op))
            .map(|k| k.root.clone().into_bytes())
            .collect();
        let roots: Vec<&[u8]> = roots.iter().map(Vec::as_slice).collect();
        db.batch(SEP, &roots, *now, body)
    };

    prop_assert_eq!(&got, &expected, "answers to {:?}", ops);
    prop_assert_eq!(result.err(), model_stop);
    let state = export(store, *now);
    prop_assert_eq!(&state, &*model, "state after {:?}", ops);
    prop_assert_eq!(db.len(*now), model.len(), "Db::len");
    if let Some(f) = feed {
        let mut heard = f.rec.take();
        let n = op_changes.len().min(heard.len());
        let mut tail = heard.split_off(n);
        tail.sort_by_key(sort_key);
        commit_changes.sort_by_key(sort_key);
        prop_assert_eq!(&heard, &op_changes, "feed of the writes of {:?}", ops);
        prop_assert_eq!(&tail, &commit_changes, "feed at the commit of {:?}", ops);
    }
    Ok(())
}

fn op_key(op: &Op) -> Option<&Key> {
    match op {
        Op::Get(k)
        | Op::Exists(k)
        | Op::Create(k, _)
        | Op::Replace(k, _)
        | Op::Set(k, _)
        | Op::Delete(k)
        | Op::Increment(k, _)
        | Op::Append(k, _)
        | Op::Resize(k, _)
        | Op::SetDeadline(k, _)
        | Op::Matches(k) => Some(k),
        Op::Abort => None,
    }
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Every answer and the whole state agree with the model after every step.
    #[test]
    fn batches_agree_with_the_model(actions in prop::collection::vec(action(), 1..32)) {
        let store = Store::new(StoreConfig { databases: 1, shard_bits: 2 });
        let mut model = Model::new();
        let mut now = T0;
        for a in &actions {
            run_action(&store, &mut model, &mut now, a)?;
        }
    }

    /// The same with a listener on the write feed: it hears exactly what committed
    /// batches did (an expired root's expiry before the first write that replaces
    /// it), and nothing of failed ones.
    #[test]
    fn the_write_feed_reports_what_committed_batches_did(
        actions in prop::collection::vec(action(), 1..32)
    ) {
        let store = Store::new(StoreConfig { databases: 1, shard_bits: 2 });
        let mut feed = FeedCheck::subscribe(&store);
        let mut model = Model::new();
        let mut now = T0;
        for a in &actions {
            run_action_fed(&store, &mut model, &mut now, a, Some(&mut feed))?;
        }
    }
}

// ---------------------------------------------------------------------------------
// A few fixed scenarios, so the model's own reading of the docs is pinned down too.

fn k(text: &str) -> Key {
    match text.split_once('/') {
        None => Key {
            root: text.into(),
            rest: None,
        },
        Some((root, rest)) => Key {
            root: root.into(),
            rest: Some(rest.split('/').map(str::to_string).collect()),
        },
    }
}

fn s(v: &str) -> J {
    J::Str(v.into())
}

#[test]
fn the_model_reads_the_docs_as_written() {
    let store = Store::new(StoreConfig {
        databases: 1,
        shard_bits: 2,
    });
    let db = store.db(0).unwrap();
    let r = db.batch_all(SEP, T0, |b| -> Result<_, DocError> {
        Ok(vec![
            b.set(b"u/100/name", s("Alice").to_value()).map(|_| ()),
            // Writes create missing objects only: an index past the end is an error.
            b.set(b"u/list", J::Arr(vec![s("x")]).to_value())
                .map(|_| ()),
            b.set(b"u/list/1", s("y").to_value()).map(|_| ()),
            b.set(b"u/list/0/k", s("y").to_value()).map(|_| ()),
            b.set(b"u/list/01", s("y").to_value()).map(|_| ()),
            b.create(b"u/100/name", s("Bob").to_value()),
            b.increment(b"u/100/name", 1.0).map(|_| ()),
            b.append(b"u/100", s("z").to_value()).map(|_| ()),
        ])
    });
    assert_eq!(
        r.unwrap(),
        vec![
            Ok(()),
            Ok(()),
            Err(DocError::NoSuchIndex { depth: 2 }),
            Err(DocError::Blocked { depth: 2 }),
            Err(DocError::Blocked { depth: 1 }),
            Err(DocError::Exists),
            Err(DocError::NotANumber),
            Err(DocError::NotAnArray),
        ]
    );
    // The same on the model.
    let mut model = Model::new();
    let mut work = model.clone();
    let answers: Vec<_> = [
        Op::Set(k("u/100/name"), s("Alice")),
        Op::Set(k("u/list"), J::Arr(vec![s("x")])),
        Op::Set(k("u/list/1"), s("y")),
        Op::Set(k("u/list/0/k"), s("y")),
        Op::Set(k("u/list/01"), s("y")),
        Op::Create(k("u/100/name"), s("Bob")),
        Op::Increment(k("u/100/name"), 1.0),
        Op::Append(k("u/100"), s("z")),
    ]
    .iter()
    .map(|op| model_op(&mut work, op, T0).map(|_| ()))
    .collect();
    assert_eq!(
        answers,
        vec![
            Ok(()),
            Ok(()),
            Err(DocError::NoSuchIndex { depth: 2 }),
            Err(DocError::Blocked { depth: 2 }),
            Err(DocError::Blocked { depth: 1 }),
            Err(DocError::Exists),
            Err(DocError::NotANumber),
            Err(DocError::NotAnArray),
        ]
    );
    model_commit(&mut work);
    model = work;
    assert_eq!(export(&store, T0), model);
}

#[test]
fn an_emptied_root_goes_at_commit_an_emptied_nested_object_stays() {
    let store = Store::new(StoreConfig {
        databases: 1,
        shard_bits: 2,
    });
    let mut model = Model::new();
    let mut now = T0;
    let batch = |ops: Vec<Op>| {
        Action::Batch(Step {
            all: false,
            ops: ops.into_iter().map(|o| (o, true)).collect(),
        })
    };
    for a in [
        batch(vec![
            Op::Set(k("a/b/c"), s("1")),
            Op::Set(k("l"), J::Arr(vec![s("x")])),
        ]),
        batch(vec![Op::Delete(k("a/b/c")), Op::Delete(k("l/0"))]),
    ] {
        run_action(&store, &mut model, &mut now, &a).unwrap();
    }
    let state = export(&store, now);
    assert_eq!(
        state.get("a").map(|r| &r.value),
        Some(&J::Obj(vec![("b".into(), J::Obj(vec![]))])),
        "delete does not prune an emptied nested object"
    );
    assert!(!state.contains_key("l"), "an emptied root list is removed");
    // A batch that fails halfway leaves nothing behind.
    let before = export(&store, now);
    let failing = Action::Batch(Step {
        all: true,
        ops: vec![
            (Op::Set(k("a/b/c"), s("2")), true),
            (Op::Delete(k("a")), true),
            (Op::Increment(k("a/b"), 1.0), true),
            (Op::Set(k("z"), s("never")), true),
        ],
    });
    run_action(&store, &mut model, &mut now, &failing).unwrap();
    assert_eq!(export(&store, now), before);
}

/// A batch that takes the place of an expired root (here: writes below it) removes
/// the stored entry; the feed says it expired, as a RESP write finding it would.
#[test]
fn a_batch_replacing_an_expired_root_reports_the_expiry() {
    let store = Store::new(StoreConfig {
        databases: 1,
        shard_bits: 2,
    });
    let mut feed = FeedCheck::subscribe(&store);
    let mut model = Model::new();
    let mut now = T0;
    let batch = |ops: Vec<Op>| {
        Action::Batch(Step {
            all: false,
            ops: ops.into_iter().map(|o| (o, true)).collect(),
        })
    };
    for a in [
        batch(vec![
            Op::Set(k("r/a"), s("1")),
            Op::SetDeadline(k("r"), Some(5)),
        ]),
        Action::Advance(6),
        batch(vec![Op::Set(k("r/b"), s("2"))]),
    ] {
        run_action_fed(&store, &mut model, &mut now, &a, Some(&mut feed)).unwrap();
    }
}
