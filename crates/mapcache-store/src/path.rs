//! Path keys (`--key-mode path`): `user:100:name` is the node `100` → `name` inside
//! the stored top-level key (the *root*) `user`.
//!
//! The functions here walk one root's [`Value`] tree; [`crate::Db`] uses them when the
//! store is in path mode ([`crate::Store::set_path_keys`]), so every `Db::get`, `peek`,
//! `update`, `update_many`, `get_many`, `keys` and `scan` addresses nodes, and the
//! command handlers need no change. See docs/key-modes.md for the rules.
//!
//! - Segments are separated by [`SEP`]; an empty segment (`a::b`, `a:`) is an ordinary
//!   field name `""`.
//! - Only objects ([`Value::Hash`]) have children. A path that runs into any other value
//!   is *blocked* there: reads see a missing node, writes are refused and leave a
//!   [`PathFault`] for the command layer to answer as an error.
//! - Writes create missing intermediate objects; removals prune the objects they leave
//!   empty, up to the root (Redis never keeps empty aggregates).
//! - A nested node lives as long as its root: it has no deadline of its own.

use std::cell::Cell;

use bytes::Bytes;

use crate::value::Value;

/// The separator of path segments in a RESP key (`user:100:name`).
pub const SEP: u8 = b':';

/// The separator of path segments in an HTTP API path (`user/100/name`).
pub const HTTP_SEP: u8 = b'/';

/// The most segments a write may address below a root. Deeper writes are refused
/// ([`PathFault::TooDeep`]): tree depth stays bounded, so the recursive walks over a
/// value (drop, JSON rendering) cannot exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Splits a key into its root and the rest of the path (`None` without a separator).
#[inline]
pub fn split(key: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match key.iter().position(|&b| b == sep) {
        Some(i) => (&key[..i], Some(&key[i + 1..])),
        None => (key, None),
    }
}

/// The segments of a path rest.
pub fn segments(rest: &[u8], sep: u8) -> impl Iterator<Item = &[u8]> {
    rest.split(move |&b| b == sep)
}

/// Why a write through a path was refused. Left in a per-thread slot by the store
/// (see [`take_fault`]) because the handler's closure cannot return it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathFault {
    /// The write to `key` needs an object at `key[..at]`, which holds another value.
    Blocked { key: Bytes, at: usize },
    /// The path has more than [`MAX_DEPTH`] segments below its root.
    TooDeep { key: Bytes },
}

thread_local! {
    static FAULT: Cell<Option<PathFault>> = const { Cell::new(None) };
}

/// Records `fault` unless one is already recorded (the first refusal is the one answered).
pub(crate) fn set_fault(fault: PathFault) {
    FAULT.with(|f| {
        let old = f.take();
        f.set(Some(old.unwrap_or(fault)));
    });
}

/// Takes (and clears) the fault the last write on this thread left, if any. The command
/// layer clears it before a command and takes it after: a refused write changed nothing
/// and the command answers the fault instead of its usual reply.
pub fn take_fault() -> Option<PathFault> {
    FAULT.with(Cell::take)
}

/// What a walk down a path finds.
#[derive(Debug, PartialEq)]
pub enum Node<T> {
    Found(T),
    /// No node there (an object on the way lacks the field).
    Missing,
    /// A non-object value stops the walk: the one named by the key's first
    /// `root.len() + n` bytes (`n == 0`: the root itself). See [`blocking_prefix`].
    Blocked(usize),
}

/// The name of the node that blocks `key` (`root:rest`), given the `n` of
/// [`Node::Blocked`] or [`blocked_at`].
pub fn blocking_prefix(key: &[u8], sep: u8, n: usize) -> &[u8] {
    let (root, _) = split(key, sep);
    &key[..(root.len() + n).min(key.len())]
}

/// The node at `rest` below `root`.
pub fn resolve<'v>(root: &'v Value, rest: &[u8], sep: u8) -> Node<&'v Value> {
    let mut cur = root;
    let mut start = 0;
    for seg in segments(rest, sep) {
        let Value::Hash(h) = cur else {
            return Node::Blocked(start);
        };
        match h.get(seg) {
            Some(v) => cur = v,
            None => return Node::Missing,
        }
        start += seg.len() + 1;
    }
    Node::Found(cur)
}

/// The node at `rest` below `root`, for writing.
pub fn resolve_mut<'v>(root: &'v mut Value, rest: &[u8], sep: u8) -> Option<&'v mut Value> {
    let mut cur = root;
    for seg in segments(rest, sep) {
        cur = cur.as_hash_mut()?.get_mut(seg)?;
    }
    Some(cur)
}

/// Where a write to `rest` below `root` is blocked (as in [`Node::Blocked`]: the
/// blocking node is the key's first `root.len() + n` bytes), or `None` when the write
/// can go through (creating whatever objects are missing).
pub fn blocked_at(root: &Value, rest: &[u8], sep: u8) -> Option<usize> {
    let mut cur = root;
    let mut start = 0;
    let mut segs = segments(rest, sep).peekable();
    while let Some(seg) = segs.next() {
        let Value::Hash(h) = cur else {
            return Some(start);
        };
        // The last segment is the node written: whatever it holds is replaced.
        segs.peek()?;
        match h.get(seg) {
            Some(v) => cur = v,
            None => return None,
        }
        start += seg.len() + 1;
    }
    None
}

/// Stores `value` at `rest` below `root`, creating missing intermediate objects.
/// Returns the value replaced, or `Err((n, value))` (nothing changed) when blocked (as
/// in [`blocked_at`]).
/// Callers check [`blocked_at`] first if they need to know before writing; this
/// function itself never changes anything when it answers `Err`, since objects are
/// only created below the last existing node, where nothing can block.
pub fn insert(
    root: &mut Value,
    rest: &[u8],
    sep: u8,
    value: Value,
) -> Result<Option<Value>, (usize, Value)> {
    if let Some(at) = blocked_at(root, rest, sep) {
        return Err((at, value));
    }
    let mut cur = root;
    let mut segs = segments(rest, sep).peekable();
    while let Some(seg) = segs.next() {
        let Value::Hash(h) = cur else {
            unreachable!("blocked_at checked every node on the way");
        };
        if segs.peek().is_none() {
            return Ok(match h.get_mut(seg) {
                Some(slot) => Some(std::mem::replace(slot, value)),
                None => h.insert(seg, value),
            });
        }
        let idx = match h.get_index_of(seg) {
            Some(i) => i,
            None => {
                h.insert(seg, Value::new_hash());
                h.len() - 1
            }
        };
        cur = h
            .get_index_mut(idx)
            .expect("the index was just found or made");
    }
    unreachable!("split never yields an empty iterator")
}

/// Removes the node at `rest` below `root` and every object that removal leaves empty
/// on the way back up (not `root` itself: the caller removes an emptied root).
/// `only_if_empty`: remove the node only when it is an empty object or list.
pub fn remove(root: &mut Value, rest: &[u8], sep: u8, only_if_empty: bool) -> Option<Value> {
    let Value::Hash(h) = root else {
        return None;
    };
    let (seg, tail) = split(rest, sep);
    match tail {
        None => {
            if only_if_empty && !h.get(seg).is_some_and(is_empty_aggregate) {
                return None;
            }
            h.remove(seg)
        }
        Some(tail) => {
            let child = h.get_mut(seg)?;
            let removed = remove(child, tail, sep, only_if_empty)?;
            if matches!(child, Value::Hash(c) if c.is_empty()) {
                h.remove(seg);
            }
            Some(removed)
        }
    }
}

/// An empty object or list: Redis never keeps one.
pub fn is_empty_aggregate(v: &Value) -> bool {
    match v {
        Value::Hash(h) => h.is_empty(),
        Value::List(l) => l.is_empty(),
        _ => false,
    }
}

/// The number of segments of `rest`.
pub fn depth(rest: &[u8], sep: u8) -> usize {
    rest.iter().filter(|&&b| b == sep).count() + 1
}

/// Calls `f(path, leaf)` for every leaf below `root` (itself named `prefix`), in
/// insertion order: a leaf is any value but an object; an empty object has none.
/// `path` is the leaf's `:`-joined path, the root's name first.
pub fn for_each_leaf(prefix: &[u8], sep: u8, root: &Value, f: &mut dyn FnMut(&[u8], &Value)) {
    let mut path = prefix.to_vec();
    walk(&mut path, sep, root, f);
}

fn walk(path: &mut Vec<u8>, sep: u8, v: &Value, f: &mut dyn FnMut(&[u8], &Value)) {
    match v {
        Value::Hash(h) => {
            let len = path.len();
            for (k, child) in h.iter() {
                path.push(sep);
                path.extend_from_slice(k);
                walk(path, sep, child, f);
                path.truncate(len);
            }
        }
        leaf => f(path, leaf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_c(key: &[u8]) -> (&[u8], Option<&[u8]>) {
        split(key, SEP)
    }

    fn s(v: &str) -> Value {
        Value::string(v.as_bytes())
    }

    #[test]
    fn split_and_segments() {
        assert_eq!(split_c(b"user"), (&b"user"[..], None));
        assert_eq!(
            split_c(b"user:100:name"),
            (&b"user"[..], Some(&b"100:name"[..]))
        );
        assert_eq!(split_c(b"a:"), (&b"a"[..], Some(&b""[..])));
        let segs: Vec<&[u8]> = segments(b"x::y", SEP).collect();
        assert_eq!(segs, [&b"x"[..], b"", b"y"]);
        assert_eq!(depth(b"x::y", SEP), 3);
    }

    #[test]
    fn insert_creates_objects_resolve_finds_them() {
        let mut root = Value::new_hash();
        assert_eq!(insert(&mut root, b"100:name", SEP, s("Alice")), Ok(None));
        assert_eq!(insert(&mut root, b"100:email", SEP, s("a@x")), Ok(None));
        assert_eq!(resolve(&root, b"100:name", SEP), Node::Found(&s("Alice")));
        assert_eq!(resolve(&root, b"100:nope", SEP), Node::Missing);
        assert_eq!(resolve(&root, b"100:name:x", SEP), Node::Blocked(9));
        assert_eq!(blocked_at(&root, b"100:name:x:y", SEP), Some(9));
        assert_eq!(
            blocking_prefix(b"user:100:name:x:y", SEP, 9),
            b"user:100:name"
        );
        assert_eq!(blocked_at(&root, b"100:name", SEP), None);
        assert_eq!(
            insert(&mut root, b"100:name:x", SEP, s("y")),
            Err((9, s("y")))
        );
        insert(&mut root, b":e", SEP, s("v")).unwrap();
        assert_eq!(blocked_at(&root, b":e:f", SEP), Some(3));
        assert_eq!(blocking_prefix(b"user::e:f", SEP, 3), b"user::e");
        assert_eq!(
            insert(&mut root, b"100:name", SEP, s("Bob")),
            Ok(Some(s("Alice")))
        );
        let mut leaves = Vec::new();
        for_each_leaf(b"user", SEP, &root, &mut |p, _| {
            leaves.push(String::from_utf8_lossy(p).into_owned())
        });
        assert_eq!(leaves, ["user:100:name", "user:100:email", "user::e"]);
    }

    #[test]
    fn remove_prunes_emptied_objects() {
        let mut root = Value::new_hash();
        insert(&mut root, b"a:b:c", SEP, s("1")).unwrap();
        insert(&mut root, b"x", SEP, s("2")).unwrap();
        assert_eq!(remove(&mut root, b"a:b:c", SEP, false), Some(s("1")));
        assert_eq!(resolve(&root, b"a", SEP), Node::Missing);
        assert_eq!(remove(&mut root, b"x", SEP, true), None, "not empty: kept");
        assert_eq!(remove(&mut root, b"x", SEP, false), Some(s("2")));
        assert!(is_empty_aggregate(&root));
        assert_eq!(blocked_at(&s("str"), b"a", SEP), Some(0));
    }

    #[test]
    fn faults_keep_the_first() {
        assert_eq!(take_fault(), None);
        set_fault(PathFault::TooDeep {
            key: Bytes::from_static(b"a:b"),
        });
        set_fault(PathFault::TooDeep {
            key: Bytes::from_static(b"c:d"),
        });
        assert_eq!(
            take_fault(),
            Some(PathFault::TooDeep {
                key: Bytes::from_static(b"a:b")
            })
        );
        assert_eq!(take_fault(), None);
    }
}
