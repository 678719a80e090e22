//! Deadlines of nodes inside a root's tree: TTLs on nested paths.
//!
//! In path key mode (`EXPIRE user:100 10`) and over the HTTP API (a TTL on
//! `user/100`), any node of a tree can expire on its own: when its deadline passes,
//! that subtree is removed, and every object the removal leaves empty goes too, as a
//! DEL of that path would do.
//!
//! A root's [`crate::Entry`] keeps its nested deadlines in a [`NestedTtls`], addressed
//! by segments (so `:` keys and `/` paths share them); the shard indexes the earliest
//! one beside the root's own deadline. The rules, kept by [`crate::db`]:
//! - a node is gone once `now > deadline` of itself or of any ancestor (or the root);
//! - writing a node (SET, HTTP PUT) clears the deadlines at and below it, unless the
//!   write keeps its TTL (KEEPTTL); removing a node clears them too;
//! - a deadline whose node no longer exists is dropped after each write.

use bytes::Bytes;
use mapcache_expiry::UnixMillis;

use crate::path::{self, Path};
use crate::value::Value;

/// A node's path below its root, as segments.
pub type Segments = Box<[Bytes]>;

/// The nested deadlines of one root. Small: one per node given a TTL of its own.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NestedTtls {
    items: Vec<(Segments, UnixMillis)>,
}

/// Is `prefix` a prefix of (or equal to) the path `rest`?
fn is_prefix_of(prefix: &[Bytes], rest: Path<'_>) -> bool {
    let mut segs = rest.segments();
    prefix.iter().all(|p| segs.next() == Some(&p[..]))
}

/// Is `rest` a prefix of (or equal to) `segs`?
fn rest_is_prefix_of(rest: Path<'_>, segs: &[Bytes]) -> bool {
    let mut it = segs.iter();
    rest.segments()
        .all(|r| it.next().is_some_and(|s| &s[..] == r))
}

fn same(segs: &[Bytes], rest: Path<'_>) -> bool {
    rest.depth() == segs.len() && is_prefix_of(segs, rest)
}

impl NestedTtls {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Every (path, deadline), in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&[Bytes], UnixMillis)> {
        self.items.iter().map(|(p, d)| (&p[..], *d))
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<UnixMillis> {
        self.items.iter().map(|(_, d)| *d).min()
    }

    /// The node's own deadline.
    pub fn own(&self, rest: Path<'_>) -> Option<UnixMillis> {
        self.items
            .iter()
            .find(|(p, _)| same(p, rest))
            .map(|(_, d)| *d)
    }

    /// The earliest deadline of the node or any of its ancestors below the root.
    pub fn effective(&self, rest: Path<'_>) -> Option<UnixMillis> {
        self.items
            .iter()
            .filter(|(p, _)| is_prefix_of(p, rest))
            .map(|(_, d)| *d)
            .min()
    }

    /// Sets (or with `None` clears) the node's own deadline. Answers whether it had one.
    pub fn set(&mut self, rest: Path<'_>, deadline: Option<UnixMillis>) -> bool {
        let pos = self.items.iter().position(|(p, _)| same(p, rest));
        match (pos, deadline) {
            (Some(i), Some(d)) => {
                self.items[i].1 = d;
                true
            }
            (Some(i), None) => {
                self.items.swap_remove(i);
                true
            }
            (None, Some(d)) => {
                let segs = rest.segments().map(Bytes::copy_from_slice).collect();
                self.items.push((segs, d));
                false
            }
            (None, None) => false,
        }
    }

    /// Sets a deadline by segments (a restored snapshot); an empty path is ignored.
    pub fn set_segments(&mut self, segs: Segments, deadline: UnixMillis) {
        if segs.is_empty() {
            return;
        }
        match self.items.iter_mut().find(|(p, _)| *p == segs) {
            Some(item) => item.1 = deadline,
            None => self.items.push((segs, deadline)),
        }
    }

    /// Drops the deadlines of the node and of everything below it.
    pub fn clear_at_or_below(&mut self, rest: Path<'_>) {
        self.items.retain(|(p, _)| !rest_is_prefix_of(rest, p));
    }

    /// Drops the deadlines of everything strictly below the node.
    pub fn clear_below(&mut self, rest: Path<'_>) {
        let depth = rest.depth();
        self.items
            .retain(|(p, _)| p.len() == depth || !rest_is_prefix_of(rest, p));
    }

    /// Drops the deadlines whose node no longer exists in `root`.
    pub fn retain_existing(&mut self, root: &Value) {
        self.items.retain(|(p, _)| resolve(root, p).is_some());
    }

    /// Removes from `root` every subtree whose deadline has passed at `now`, pruning
    /// the objects left empty; answers how many subtrees went.
    pub fn expire(&mut self, root: &mut Value, now: UnixMillis) -> usize {
        self.expire_with(root, now, &mut |_| {})
    }

    /// [`NestedTtls::expire`], calling `gone` with each removed subtree's segments.
    pub fn expire_with(
        &mut self,
        root: &mut Value,
        now: UnixMillis,
        gone: &mut dyn FnMut(&[Bytes]),
    ) -> usize {
        let mut removed = 0;
        let mut i = 0;
        while i < self.items.len() {
            if self.items[i].1 < now {
                let (p, _) = self.items.swap_remove(i);
                if remove(root, &p).is_some() {
                    gone(&p);
                    removed += 1;
                }
            } else {
                i += 1;
            }
        }
        if removed > 0 {
            self.retain_existing(root);
        }
        removed
    }
}

/// The node at `segs` below `root`.
pub fn resolve<'v>(root: &'v Value, segs: &[Bytes]) -> Option<crate::Field<'v>> {
    path::resolve_segments(root, segs.iter().map(|s| &s[..]))
}

/// Removes the node at `segs` below `root` and the objects that leaves empty (not
/// `root` itself).
fn remove(root: &mut Value, segs: &[Bytes]) -> Option<Value> {
    path::remove_segments(root, &mut segs.iter().map(|s| &s[..]), true, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rest(p: &str) -> Path<'_> {
        Path::new(p.as_bytes(), b'/')
    }

    fn tree() -> Value {
        let mut root = Value::new_hash();
        for p in ["a/b/c", "a/b/d", "a/e", "f"] {
            path::insert(&mut root, rest(p), Value::string(b"v")).unwrap();
        }
        root
    }

    #[test]
    fn own_effective_and_clearing() {
        let mut n = NestedTtls::default();
        assert!(!n.set(rest("a/b"), Some(20)));
        assert!(!n.set(rest("a"), Some(30)));
        assert!(!n.set(rest("a/b/c"), Some(10)));
        assert_eq!(n.own(rest("a/b")), Some(20));
        assert_eq!(n.own(rest("a/b/d")), None);
        assert_eq!(n.effective(rest("a/b/d")), Some(20));
        assert_eq!(n.effective(rest("a/b/c")), Some(10));
        assert_eq!(n.effective(rest("f")), None);
        assert_eq!(n.next(), Some(10));
        n.clear_below(rest("a/b"));
        assert_eq!(n.own(rest("a/b/c")), None);
        assert_eq!(n.own(rest("a/b")), Some(20));
        n.clear_at_or_below(rest("a"));
        assert!(n.is_empty());
    }

    #[test]
    fn expire_removes_subtrees_and_prunes() {
        let mut root = tree();
        let mut n = NestedTtls::default();
        n.set(rest("a/b/c"), Some(5));
        n.set(rest("a/b/d"), Some(5));
        n.set(rest("a/e"), Some(50));
        assert_eq!(
            n.expire(&mut root, 5),
            0,
            "not yet: expired once now > deadline"
        );
        assert_eq!(n.expire(&mut root, 6), 2);
        assert_eq!(path::resolve(&root, rest("a/b")), path::Node::Missing);
        assert_eq!(n.len(), 1);
        assert_eq!(n.expire(&mut root, 51), 1);
        assert_eq!(path::resolve(&root, rest("a")), path::Node::Missing);
        assert!(matches!(
            path::resolve(&root, rest("f")),
            path::Node::Found(_)
        ));
    }

    #[test]
    fn retain_existing_drops_dangling() {
        let mut root = tree();
        let mut n = NestedTtls::default();
        n.set(rest("a/e"), Some(5));
        n.set(rest("f"), Some(5));
        path::remove(&mut root, rest("a/e"), true, false);
        n.retain_existing(&root);
        assert_eq!(n.len(), 1);
        assert_eq!(n.own(rest("f")), Some(5));
    }
}
