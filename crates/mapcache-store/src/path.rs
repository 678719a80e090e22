//! Paths into a value tree: the one place that splits keys and walks trees.
//!
//! A key in path key mode (`user:100:name`, [`SEP`]) or an HTTP API path
//! (`user/100/name`, [`HTTP_SEP`]) names a stored top-level key, the *root* (`user`),
//! and a [`Path`] below it (`100:name`). Walking a path:
//! - an object ([`Value::Hash`]) has a child per field; any segment is a field name,
//!   the empty segment (`a::b`, `a:`) included;
//! - an array ([`Value::List`]) has a child per item: a segment in canonical decimal
//!   (`0`, `17`, not `+1` or `01`) is an index ([`index`]), any other segment names
//!   nothing there;
//! - any other value has no children: a path that runs into it is *blocked* there.
//!   Reads see a missing node, writes are refused ([`PathFault`]).
//! - `*` ([`WILDCARD`]) matches any one child when a path is used as a pattern
//!   ([`crate::doc::matches`]); as a plain path it is an ordinary field name.
//!
//! Writes create missing intermediate objects (never array items: an index past the
//! end is an error). The document operations built on these walks are in
//! [`crate::doc`]; [`crate::nested`] addresses nested deadlines by the same segments.

use bytes::Bytes;

use crate::field::Field;
use crate::value::Value;

/// The separator of path segments in a RESP key (`user:100:name`).
pub const SEP: u8 = b':';

/// The separator of path segments in an HTTP API path (`user/100/name`).
pub const HTTP_SEP: u8 = b'/';

/// The segment that matches any one child in a pattern.
pub const WILDCARD: &[u8] = b"*";

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

/// A path below a root: segments separated by `sep`, borrowed from the key that
/// names it. Every walk of a tree takes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'p> {
    /// The segments, `sep`-joined.
    pub bytes: &'p [u8],
    pub sep: u8,
}

impl<'p> Path<'p> {
    pub fn new(bytes: &'p [u8], sep: u8) -> Self {
        Path { bytes, sep }
    }

    /// The segments, in order (never none: the empty path is one empty segment).
    #[inline]
    pub fn segments(self) -> impl Iterator<Item = &'p [u8]> + Clone {
        self.bytes.split(move |&b| b == self.sep)
    }

    /// The number of segments.
    pub fn depth(self) -> usize {
        self.bytes.iter().filter(|&&b| b == self.sep).count() + 1
    }

    /// Does a segment read `*`?
    pub fn has_wildcard(self) -> bool {
        self.segments().any(|s| s == WILDCARD)
    }

    /// The byte length of the first `n` segments with the separators between them:
    /// `bytes[..prefix_len(n)]` names the node reached after `n` steps.
    pub fn prefix_len(self, n: usize) -> usize {
        self.segments()
            .take(n)
            .map(|s| s.len() + 1)
            .sum::<usize>()
            .saturating_sub(1)
    }
}

/// A segment read as an array index: canonical decimal (`0`, `42`; not `-1`, `+1`,
/// `01` or the empty segment), small enough for a `usize`.
#[inline]
pub fn index(seg: &[u8]) -> Option<usize> {
    if seg.is_empty() || seg.len() > 19 || (seg.len() > 1 && seg[0] == b'0') {
        return None;
    }
    seg.iter().try_fold(0usize, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.checked_mul(10)?.checked_add(usize::from(b - b'0')))
            .flatten()
    })
}

/// One step down from `node`.
#[derive(Debug, PartialEq)]
pub enum Step<T> {
    Child(T),
    /// A container without that child (a missing field, an index past the end, or
    /// a segment that is no index of an array).
    Missing,
    /// `node` has no children at all (a string, number, boolean or null).
    Leaf,
}

/// The child of `node` named `seg` (a [`Field`]: a member of a packed hash is bytes).
#[inline]
pub fn child<'v>(node: &'v Value, seg: &[u8]) -> Step<Field<'v>> {
    let found = match node {
        Value::Hash(h) => h.get(seg),
        Value::List(l) => index(seg).and_then(|i| l.get(i)),
        _ => return Step::Leaf,
    };
    found.map_or(Step::Missing, Step::Child)
}

/// The child of `node` named `seg`, for writing.
#[inline]
pub fn child_mut<'v>(node: &'v mut Value, seg: &[u8]) -> Step<&'v mut Value> {
    let found = match node {
        Value::Hash(h) => h.get_mut(seg),
        Value::List(l) => index(seg).and_then(|i| l.get_mut(i)),
        _ => return Step::Leaf,
    };
    found.map_or(Step::Missing, Step::Child)
}

/// What a walk down a path finds.
#[derive(Debug, PartialEq)]
pub enum Node<T> {
    Found(T),
    /// No node there (a container on the way lacks the child).
    Missing,
    /// A value without children stops the walk: the one reached after `n` segments
    /// (`n == 0`: the root itself; [`Path::prefix_len`] gives its name's length).
    Blocked(usize),
}

/// The node at `path` below `root`.
pub fn resolve<'v>(root: &'v Value, path: Path<'_>) -> Node<Field<'v>> {
    let mut cur = Field::Value(root);
    for (depth, seg) in path.segments().enumerate() {
        let Field::Value(v) = cur else {
            // A packed member is a string: no children.
            return Node::Blocked(depth);
        };
        match child(v, seg) {
            Step::Child(f) => cur = f,
            Step::Missing => return Node::Missing,
            Step::Leaf => return Node::Blocked(depth),
        }
    }
    Node::Found(cur)
}

/// The node at `segs` below `root` (segments given one by one: [`crate::nested`]).
pub fn resolve_segments<'v, 's>(
    root: &'v Value,
    segs: impl IntoIterator<Item = &'s [u8]>,
) -> Option<Field<'v>> {
    segs.into_iter().try_fold(Field::Value(root), |cur, seg| {
        match child(cur.as_value()?, seg) {
            Step::Child(v) => Some(v),
            _ => None,
        }
    })
}

/// The node at `path` below `root`, for writing.
pub fn resolve_mut<'v>(root: &'v mut Value, path: Path<'_>) -> Option<&'v mut Value> {
    let mut cur = root;
    for seg in path.segments() {
        match child_mut(cur, seg) {
            Step::Child(v) => cur = v,
            _ => return None,
        }
    }
    Some(cur)
}

/// Why a write through a path was refused; it changed nothing. The command layer
/// answers it as an error (`mapcache-commands`' `path_mode`), the HTTP API as 409/400.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathFault {
    /// The write to `key` needs a container at `key[..at]`, which holds a value
    /// without children (or an array, for a segment that is no index).
    Blocked { key: Bytes, at: usize },
    /// The path has more than [`MAX_DEPTH`] segments below its root.
    TooDeep { key: Bytes },
    /// The write to `key` addresses an item past the end of the array `key[..at]`.
    NoSuchIndex { key: Bytes, at: usize },
}

/// Why a write to `path` below `root` cannot go through, or `None` when it can
/// (creating whatever objects are missing).
pub fn write_blocked(root: &Value, path: Path<'_>) -> Option<WriteBlock> {
    let mut cur = root;
    let mut segs = path.segments().enumerate().peekable();
    while let Some((depth, seg)) = segs.next() {
        let last = segs.peek().is_none();
        match (cur, child(cur, seg)) {
            (Value::List(_), Step::Missing) => {
                return Some(match index(seg) {
                    Some(_) => WriteBlock::NoSuchIndex(depth + 1),
                    None => WriteBlock::Blocked(depth),
                })
            }
            (_, Step::Leaf) => return Some(WriteBlock::Blocked(depth)),
            // The last segment is the node written: whatever it holds is replaced.
            (_, Step::Child(_)) if last => return None,
            (_, Step::Child(Field::Value(v))) => cur = v,
            // A packed member is a string: the next segment finds no container.
            (_, Step::Child(Field::Bytes(_))) => return Some(WriteBlock::Blocked(depth + 1)),
            // A missing field of an object: it is created, and below it everything.
            (_, Step::Missing) => return None,
        }
    }
    None
}

/// Why a write cannot go through a path ([`write_blocked`]); the `usize` counts the
/// path's segments up to the node at fault (0: the root).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteBlock {
    /// The node has no children (or is an array, and the segment is no index).
    Blocked(usize),
    /// The node would be an array item past the array's end.
    NoSuchIndex(usize),
}

impl WriteBlock {
    /// The fault of a write to `key`, made of a root of `root_len` bytes, a
    /// separator and `path`.
    pub fn fault(self, key: &[u8], root_len: usize, path: Path<'_>) -> PathFault {
        let at = |depth: usize| match depth {
            0 => root_len,
            n => root_len + 1 + path.prefix_len(n),
        };
        let key = Bytes::copy_from_slice(key);
        match self {
            WriteBlock::Blocked(n) => PathFault::Blocked { at: at(n), key },
            WriteBlock::NoSuchIndex(n) => PathFault::NoSuchIndex {
                at: at(n.saturating_sub(1)),
                key,
            },
        }
    }
}

/// Stores `value` at `path` below `root`, creating missing intermediate objects, and
/// answers the value replaced. When the write cannot go through ([`write_blocked`])
/// nothing changes and the value comes back with the reason.
pub fn insert(
    root: &mut Value,
    path: Path<'_>,
    value: Value,
) -> Result<Option<Value>, (WriteBlock, Value)> {
    if let Some(block) = write_blocked(root, path) {
        return Err((block, value));
    }
    let mut cur = root;
    let mut segs = path.segments().peekable();
    while let Some(seg) = segs.next() {
        let last = segs.peek().is_none();
        match cur {
            Value::Hash(h) => {
                if last {
                    return Ok(match h.get_mut(seg) {
                        Some(slot) => Some(std::mem::replace(slot, value)),
                        None => h.insert(seg, value),
                    });
                }
                let i = match h.get_index_of(seg) {
                    Some(i) => i,
                    None => {
                        h.insert(seg, Value::new_hash());
                        h.len() - 1
                    }
                };
                match h.get_index_mut(i) {
                    Some(next) => cur = next,
                    None => break,
                }
            }
            Value::List(l) => {
                // write_blocked checked the index is in range.
                let Some(slot) = index(seg).and_then(|i| l.get_mut(i)) else {
                    break;
                };
                if last {
                    return Ok(Some(std::mem::replace(slot, value)));
                }
                cur = slot;
            }
            _ => break,
        }
    }
    // Unreachable: write_blocked walked the same path and found it open.
    Err((WriteBlock::Blocked(0), value))
}

/// Removes the node at `path` below `root` (an array item: the items after it move
/// up). `prune`: also remove every object that removal leaves empty on the way back
/// up (not `root` itself: the caller removes an emptied root). `only_if_empty`:
/// remove the node only when it is an empty object or array.
pub fn remove(root: &mut Value, path: Path<'_>, prune: bool, only_if_empty: bool) -> Option<Value> {
    remove_segments(root, &mut path.segments(), prune, only_if_empty)
}

/// [`remove`] with the segments given one by one ([`crate::nested`]).
pub fn remove_segments(
    root: &mut Value,
    segs: &mut dyn Iterator<Item = &[u8]>,
    prune: bool,
    only_if_empty: bool,
) -> Option<Value> {
    let seg = segs.next()?;
    let mut rest = segs.peekable();
    if rest.peek().is_none() {
        let node = match child(root, seg) {
            Step::Child(v) => v,
            _ => return None,
        };
        if only_if_empty && !node.as_value().is_some_and(is_empty_aggregate) {
            return None;
        }
        return match root {
            Value::Hash(h) => h.remove(seg),
            Value::List(l) => index(seg).and_then(|i| l.remove(i)),
            _ => None,
        };
    }
    let Step::Child(node) = child_mut(root, seg) else {
        return None;
    };
    let removed = remove_segments(node, &mut rest, prune, only_if_empty)?;
    if prune && matches!(node, Value::Hash(c) if c.is_empty()) {
        if let Value::Hash(h) = root {
            h.remove(seg);
        }
    }
    Some(removed)
}

/// An empty object or list: Redis never keeps one at the top level.
pub fn is_empty_aggregate(v: &Value) -> bool {
    match v {
        Value::Hash(h) => h.is_empty(),
        Value::List(l) => l.is_empty(),
        _ => false,
    }
}

/// Calls `f(path, leaf)` for every leaf below `root` (itself named `prefix`), in
/// document order: a leaf is any value but an object (an array is a leaf here, as a
/// RESP list is one key); an empty object has none. `path` is the leaf's
/// `sep`-joined path, the root's name first.
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
                walk(path, sep, &child.cow(), f);
                path.truncate(len);
            }
        }
        leaf => f(path, leaf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Path<'_> {
        Path::new(s.as_bytes(), SEP)
    }

    fn s(v: &str) -> Value {
        Value::string(v.as_bytes())
    }

    #[test]
    fn split_and_segments() {
        assert_eq!(split(b"user", SEP), (&b"user"[..], None));
        assert_eq!(
            split(b"user:100:name", SEP),
            (&b"user"[..], Some(&b"100:name"[..]))
        );
        assert_eq!(split(b"a:", SEP), (&b"a"[..], Some(&b""[..])));
        let segs: Vec<&[u8]> = p("x::y").segments().collect();
        assert_eq!(segs, [&b"x"[..], b"", b"y"]);
        assert_eq!(p("x::y").depth(), 3);
        assert_eq!(p("ab:c:d").prefix_len(2), 4);
        assert!(p("a:*:b").has_wildcard());
        assert!(!p("a:**").has_wildcard());
    }

    #[test]
    fn indexes_are_canonical_decimals() {
        assert_eq!(index(b"0"), Some(0));
        assert_eq!(index(b"42"), Some(42));
        for bad in [
            &b""[..],
            b"01",
            b"-1",
            b"+1",
            b"1a",
            b" 1",
            b"99999999999999999999",
        ] {
            assert_eq!(index(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn insert_creates_objects_resolve_finds_them() {
        let mut root = Value::new_hash();
        assert_eq!(insert(&mut root, p("100:name"), s("Alice")), Ok(None));
        assert_eq!(insert(&mut root, p("100:email"), s("a@x")), Ok(None));
        assert_eq!(
            resolve(&root, p("100:name")),
            Node::Found(Field::Value(&s("Alice")))
        );
        assert_eq!(resolve(&root, p("100:nope")), Node::Missing);
        assert_eq!(resolve(&root, p("100:name:x")), Node::Blocked(2));
        assert_eq!(
            write_blocked(&root, p("100:name:x:y")),
            Some(WriteBlock::Blocked(2))
        );
        assert_eq!(write_blocked(&root, p("100:name")), None);
        assert_eq!(
            insert(&mut root, p("100:name:x"), s("y")),
            Err((WriteBlock::Blocked(2), s("y")))
        );
        assert_eq!(
            WriteBlock::Blocked(2).fault(b"user:100:name:x", 4, p("100:name:x")),
            PathFault::Blocked {
                key: Bytes::from_static(b"user:100:name:x"),
                at: 13
            }
        );
        assert_eq!(
            WriteBlock::Blocked(0).fault(b"s:x", 1, p("x")),
            PathFault::Blocked {
                key: Bytes::from_static(b"s:x"),
                at: 1
            },
            "blocked at the root: the prefix is the root's name"
        );
        insert(&mut root, p(":e"), s("v")).unwrap();
        assert_eq!(
            write_blocked(&root, p(":e:f")),
            Some(WriteBlock::Blocked(2))
        );
        assert_eq!(
            WriteBlock::Blocked(2).fault(b"user::e:f", 4, p(":e:f")),
            PathFault::Blocked {
                key: Bytes::from_static(b"user::e:f"),
                at: 7
            }
        );
        assert_eq!(
            insert(&mut root, p("100:name"), s("Bob")),
            Ok(Some(s("Alice")))
        );
        let mut leaves = Vec::new();
        for_each_leaf(b"user", SEP, &root, &mut |p, _| {
            leaves.push(String::from_utf8_lossy(p).into_owned())
        });
        assert_eq!(leaves, ["user:100:name", "user:100:email", "user::e"]);
    }

    #[test]
    fn array_items_are_addressed_by_index() {
        let mut root = Value::new_hash();
        let list: Value = Value::List([s("a"), s("b")].into_iter().collect());
        insert(&mut root, p("l"), list).unwrap();
        assert_eq!(resolve(&root, p("l:1")), Node::Found(Field::Value(&s("b"))));
        assert_eq!(resolve(&root, p("l:2")), Node::Missing);
        assert_eq!(resolve(&root, p("l:x")), Node::Missing);
        assert_eq!(insert(&mut root, p("l:0"), s("A")), Ok(Some(s("a"))));
        assert_eq!(
            insert(&mut root, p("l:5"), s("z")),
            Err((WriteBlock::NoSuchIndex(2), s("z")))
        );
        assert_eq!(
            insert(&mut root, p("l:x"), s("z")),
            Err((WriteBlock::Blocked(1), s("z")))
        );
        // An object inside an array is written through.
        insert(&mut root, p("l:1"), Value::new_hash()).unwrap();
        insert(&mut root, p("l:1:k"), s("v")).unwrap();
        assert_eq!(
            resolve(&root, p("l:1:k")),
            Node::Found(Field::Value(&s("v")))
        );
        assert_eq!(remove(&mut root, p("l:0"), false, false), Some(s("A")));
        assert_eq!(
            resolve(&root, p("l:0:k")),
            Node::Found(Field::Value(&s("v"))),
            "items move up"
        );
    }

    #[test]
    fn remove_prunes_emptied_objects_only_when_asked() {
        let mut root = Value::new_hash();
        insert(&mut root, p("a:b:c"), s("1")).unwrap();
        insert(&mut root, p("x"), s("2")).unwrap();
        let mut kept = root.clone();
        assert_eq!(remove(&mut root, p("a:b:c"), true, false), Some(s("1")));
        assert_eq!(resolve(&root, p("a")), Node::Missing);
        assert_eq!(remove(&mut kept, p("a:b:c"), false, false), Some(s("1")));
        assert!(
            matches!(resolve(&kept, p("a:b")), Node::Found(v) if v.as_value().is_some_and(is_empty_aggregate))
        );
        assert_eq!(
            remove(&mut root, p("x"), true, true),
            None,
            "not empty: kept"
        );
        assert_eq!(remove(&mut root, p("x"), true, false), Some(s("2")));
        assert!(is_empty_aggregate(&root));
        assert_eq!(
            write_blocked(&s("str"), p("a")),
            Some(WriteBlock::Blocked(0))
        );
    }
}
