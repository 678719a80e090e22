//! Document operations: read and write a node of a value tree by [`Path`], with
//! typed errors.
//!
//! These are the operations the HTTP API, PATCH, path-mode commands and command
//! programs are made of: get, create, replace, set (create or replace), delete,
//! increment, append (to an array), resize (an array), and matching a pattern with
//! `*` segments. Each works on one root's value; [`crate::db::Batch`] applies many of
//! them over several roots, all or nothing. An operation that fails changes nothing.
//!
//! Paths follow [`crate::path`]: objects have fields, arrays have items by index,
//! other values have no children; writes create missing intermediate objects.

use std::borrow::Cow;

use bytes::Bytes;

use crate::field::Field;
use crate::path::{self, Node, Path, Step, WriteBlock, MAX_DEPTH, WILDCARD};
use crate::value::Value;

/// Why a document operation failed. `depth` counts the path's segments up to the
/// node at fault (0: the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// Nothing at the path.
    #[error("key not found")]
    Missing,
    /// A create found a node already there.
    #[error("key already exists")]
    Exists,
    /// An increment found something other than a number.
    #[error("value is not a number")]
    NotANumber,
    /// An append or resize found something other than an array.
    #[error("value is not an array")]
    NotAnArray,
    /// The path runs through a value that has no children (a string, a number...),
    /// or through an array with a segment that is no index.
    #[error("path crosses a non-object value")]
    Blocked { depth: usize },
    /// A write addresses an array item past the array's end.
    #[error("array index out of range")]
    NoSuchIndex { depth: usize },
    /// The path has more than [`MAX_DEPTH`] segments below its root.
    #[error("path has more than 128 segments below its root")]
    TooDeep,
    /// A number would leave the range JSON can carry (an increment to infinity).
    #[error("increment would produce NaN or Infinity")]
    Overflow,
    /// A batch touched a root whose shard it did not lock (a caller's mistake: the
    /// roots a batch may touch are named when it starts).
    #[error("key is outside the batch's locks")]
    Unlocked,
}

impl From<WriteBlock> for DocError {
    fn from(b: WriteBlock) -> Self {
        match b {
            WriteBlock::Blocked(depth) => DocError::Blocked { depth },
            WriteBlock::NoSuchIndex(depth) => DocError::NoSuchIndex { depth },
        }
    }
}

fn check_depth(path: Path<'_>) -> Result<(), DocError> {
    if path.depth() > MAX_DEPTH {
        return Err(DocError::TooDeep);
    }
    Ok(())
}

/// The node at `path` below `root`.
pub fn get<'v>(root: &'v Value, path: Path<'_>) -> Result<Field<'v>, DocError> {
    match path::resolve(root, path) {
        Node::Found(v) => Ok(v),
        Node::Missing | Node::Blocked(_) => Err(DocError::Missing),
    }
}

/// The node at `path` below `root`, for changing in place.
pub fn get_mut<'v>(root: &'v mut Value, path: Path<'_>) -> Result<&'v mut Value, DocError> {
    path::resolve_mut(root, path).ok_or(DocError::Missing)
}

/// Stores `value` at `path`, which must not exist yet.
pub fn create(root: &mut Value, path: Path<'_>, value: Value) -> Result<(), DocError> {
    check_depth(path)?;
    if get(root, path).is_ok() {
        return Err(DocError::Exists);
    }
    path::insert(root, path, value).map_err(|(b, _)| DocError::from(b))?;
    Ok(())
}

/// Stores `value` at `path`, which must exist; answers the value replaced.
pub fn replace(root: &mut Value, path: Path<'_>, value: Value) -> Result<Value, DocError> {
    let node = get_mut(root, path)?;
    Ok(std::mem::replace(node, value))
}

/// Stores `value` at `path`, creating it (and missing objects above it) or replacing
/// what is there; answers the value replaced.
pub fn set(root: &mut Value, path: Path<'_>, value: Value) -> Result<Option<Value>, DocError> {
    check_depth(path)?;
    path::insert(root, path, value).map_err(|(b, _)| DocError::from(b))
}

/// Removes the node at `path` (an array item: the items after it move up) and
/// answers it; `None` when there was nothing. Objects left empty stay: an empty
/// object inside a document is a value of its own.
pub fn delete(root: &mut Value, path: Path<'_>) -> Option<Value> {
    path::remove(root, path, false, false)
}

/// Adds `by` to the number at `path`, which must exist; answers the new number.
pub fn increment(root: &mut Value, path: Path<'_>, by: f64) -> Result<f64, DocError> {
    add(get_mut(root, path)?, by)
}

/// Adds `by` to the number `node`; answers the new number.
pub fn add(node: &mut Value, by: f64) -> Result<f64, DocError> {
    match node {
        Value::Number(n) => {
            let sum = *n + by;
            if !sum.is_finite() {
                return Err(DocError::Overflow);
            }
            *n = sum;
            Ok(sum)
        }
        _ => Err(DocError::NotANumber),
    }
}

/// Appends `value` to the array at `path`, which must exist; answers its new length.
pub fn append(root: &mut Value, path: Path<'_>, value: Value) -> Result<usize, DocError> {
    push(get_mut(root, path)?, value)
}

/// Appends `value` to the array `node`; answers its new length.
pub fn push(node: &mut Value, value: Value) -> Result<usize, DocError> {
    match node {
        Value::List(l) => {
            l.push_back(value);
            Ok(l.len())
        }
        _ => Err(DocError::NotAnArray),
    }
}

/// Sets the length of the array at `path`, which must exist: truncates it, or pads
/// it with nulls.
pub fn resize(root: &mut Value, path: Path<'_>, len: usize) -> Result<(), DocError> {
    set_len(get_mut(root, path)?, len)
}

/// Sets the length of the array `node` (truncating, or padding with nulls).
pub fn set_len(node: &mut Value, len: usize) -> Result<(), DocError> {
    match node {
        Value::List(l) => {
            l.resize(len, Value::Null);
            Ok(())
        }
        _ => Err(DocError::NotAnArray),
    }
}

/// One node matching a pattern ([`matches`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Match<'v> {
    /// The node's path below the root, `sep`-joined (the pattern's separator).
    pub path: Vec<u8>,
    /// The segments the pattern's `*`s matched, in order.
    pub captures: Vec<Bytes>,
    /// The node (a copy when it is a member packed in its hash or list).
    pub value: Cow<'v, Value>,
}

/// Every node below `root` matching `pattern`, in document order: a `*` segment
/// matches any one child of an object or an array (whose items are named by their
/// index); other segments match as in [`get`]. A pattern without `*` matches at most
/// its one node. Nulls are nodes like any other (callers that skip them filter).
pub fn matches<'v>(root: &'v Value, pattern: Path<'_>) -> Vec<Match<'v>> {
    let segs: Vec<&[u8]> = pattern.segments().collect();
    let mut out = Vec::new();
    let mut at = Vec::new();
    let mut caps = Vec::new();
    walk_from(root, &segs, 0, pattern.sep, &mut at, &mut caps, &mut out);
    out
}

/// Recursion depth is bounded by the pattern's segments.
fn walk_from<'v>(
    node: &'v Value,
    segs: &[&[u8]],
    depth: usize,
    sep: u8,
    at: &mut Vec<u8>,
    caps: &mut Vec<Bytes>,
    out: &mut Vec<Match<'v>>,
) {
    let Some(&seg) = segs.get(depth) else {
        out.push(Match {
            path: at.clone(),
            captures: caps.clone(),
            value: Cow::Borrowed(node),
        });
        return;
    };
    let mut visit = |name: &[u8], child: Field<'v>, captured: bool, out: &mut Vec<Match<'v>>| {
        let len = at.len();
        if depth > 0 {
            at.push(sep);
        }
        at.extend_from_slice(name);
        if captured {
            caps.push(Bytes::copy_from_slice(name));
        }
        match child {
            Field::Value(v) => walk_from(v, segs, depth + 1, sep, at, caps, out),
            // A packed member is a string: it has no children to match below it.
            Field::Bytes(_) if depth + 1 == segs.len() => out.push(Match {
                path: at.clone(),
                captures: caps.clone(),
                value: child.cow(),
            }),
            Field::Bytes(_) => {}
        }
        if captured {
            caps.pop();
        }
        at.truncate(len);
    };
    if seg == WILDCARD {
        match node {
            Value::Hash(h) => {
                for (k, v) in h.iter() {
                    visit(k, v, true, out);
                }
            }
            Value::List(l) => {
                let mut buf = itoa::Buffer::new();
                for (i, v) in l.iter().enumerate() {
                    visit(buf.format(i).as_bytes(), v, true, out);
                }
            }
            _ => {}
        }
    } else if let Step::Child(v) = path::child(node, seg) {
        visit(seg, v, false, out);
    }
}
