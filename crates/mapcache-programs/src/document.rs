//! The seam to the store: [`Document`], the operations a program needs on one cache,
//! and [`MemoryDocument`], a document in a small store of its own for tests and
//! examples (the store reads its paths: nothing here splits them).
//!
//! Paths are `/`-separated text; the implementation parses them. A segment names an
//! object field, or indexes an array when the node is an array and the segment is a
//! decimal index. In a pattern, a segment that is exactly `*` matches any one
//! segment. The store implements this trait inside one all-or-nothing batch, so the
//! interpreter never undoes anything itself.

use std::fmt;

use mapcache_store::db::Batch;
use mapcache_store::doc::DocError as StoreError;
use mapcache_store::{Db, Hash, Store, StoreConfig, Value};

use crate::error::DocError;

/// One node found by [`Document::matches`].
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// The node's concrete path (`stages/2/status`), segments joined by `/`.
    pub path: String,
    /// The segments the pattern's `*`s matched, in order (`["2"]`).
    pub captures: Vec<String>,
    /// The node's value.
    pub value: Value,
}

/// The operations programs and triggers perform on a cache's tree.
pub trait Document {
    /// The value at `path`, or `None` when nothing is there. A stored null is
    /// `Some(Value::Null)`.
    fn get(&self, path: &str) -> Result<Option<Value>, DocError>;

    /// Every existing node `pattern` matches, in document order (object fields in
    /// their order, array items by index). Each `*` segment matches one field or
    /// index; other segments must match exactly; the segment count is equal (no
    /// ancestors, no descendants). As in Go's `WildKeys`, a null node is never
    /// matched, nor anything under it. A pattern without `*` matches its own path
    /// when that exists and is not null.
    fn matches(&self, pattern: &str) -> Result<Vec<Match>, DocError>;

    /// Overwrites the existing node at `path` and answers the old value;
    /// [`DocError::NotFound`] when there is none.
    fn replace(&mut self, path: &str, value: Value) -> Result<Value, DocError>;

    /// Removes the node at `path` (an array item: the following items move up) and
    /// answers it, or `None` when there was nothing.
    fn delete(&mut self, path: &str) -> Result<Option<Value>, DocError>;
}

/// A document kept in a small store of its own (one database of four shards): every
/// operation is one [`Db::batch_all`] through the store's [`Document`] implementation
/// for [`Batch`], so its paths are read by the store's `path.rs` and `doc.rs` exactly
/// as the server reads them, and a root left an empty object or array goes, as a
/// batch's commit removes it. For tests and examples: each operation commits on its
/// own, so a failing program leaves what it wrote before; [`MemoryDocument::batch`]
/// runs a whole program as one all-or-nothing batch, as the server does.
pub struct MemoryDocument {
    store: Store,
}

impl MemoryDocument {
    /// An empty document.
    pub fn new() -> MemoryDocument {
        MemoryDocument {
            store: Store::new(StoreConfig {
                databases: 1,
                shard_bits: 2,
            }),
        }
    }

    /// A document whose top-level keys are the fields of `value`; any other value
    /// gives an empty document.
    pub fn from_value(value: Value) -> MemoryDocument {
        let doc = MemoryDocument::new();
        if let Value::Hash(hash) = value {
            let stored: Result<(), StoreError> = doc.db().batch_all(b'/', doc.store.now(), |b| {
                for (key, value) in hash.iter() {
                    b.set(key, value.to_value())?;
                }
                Ok(())
            });
            // A top-level key may hold anything: setting a root never fails.
            debug_assert!(stored.is_ok(), "{stored:?}");
        }
        doc
    }

    /// Parses JSON text (an object) into a document.
    pub fn from_json(text: &str) -> Result<MemoryDocument, mapcache_store::JsonError> {
        let mut bytes = text.as_bytes().to_vec();
        let value = mapcache_store::json::parse(&mut bytes, 128)?;
        Ok(MemoryDocument::from_value(value))
    }

    /// The whole tree as one object, its top-level keys sorted (the store keeps no
    /// order among roots).
    pub fn to_value(&self) -> Value {
        let mut roots: Vec<(Vec<u8>, Value)> = self
            .read(|b| b.matches(b"*"))
            .unwrap_or_default()
            .into_iter()
            .map(|m| (m.key.to_vec(), m.value))
            .collect();
        roots.sort_by(|a, b| a.0.cmp(&b.0));
        let mut hash = Hash::new();
        for (key, value) in roots {
            hash.insert(&key, value);
        }
        Value::hash(hash)
    }

    /// Runs `f` over the whole document as one all-or-nothing batch of the store (what
    /// the server does for a program or a write with its triggers): `Ok` commits
    /// everything `f` wrote, `Err` keeps none of it.
    pub fn batch<R, E>(&mut self, f: impl FnOnce(&mut Batch<'_>) -> Result<R, E>) -> Result<R, E> {
        self.db().batch_all(b'/', self.store.now(), f)
    }

    fn db(&self) -> &Db {
        self.store.db(0).expect("a store has database 0")
    }

    fn read<R, E>(&self, f: impl FnOnce(&mut Batch<'_>) -> Result<R, E>) -> Result<R, E> {
        self.db().batch_all(b'/', self.store.now(), f)
    }
}

impl Default for MemoryDocument {
    fn default() -> MemoryDocument {
        MemoryDocument::new()
    }
}

impl Clone for MemoryDocument {
    fn clone(&self) -> MemoryDocument {
        MemoryDocument::from_value(self.to_value())
    }
}

impl PartialEq for MemoryDocument {
    fn eq(&self, other: &MemoryDocument) -> bool {
        self.to_value() == other.to_value()
    }
}

impl fmt::Debug for MemoryDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MemoryDocument")
            .field(&self.to_value())
            .finish()
    }
}

impl Document for MemoryDocument {
    fn get(&self, path: &str) -> Result<Option<Value>, DocError> {
        self.read(|b| Document::get(b, path))
    }

    fn matches(&self, pattern: &str) -> Result<Vec<Match>, DocError> {
        self.read(|b| Document::matches(b, pattern))
    }

    fn replace(&mut self, path: &str, value: Value) -> Result<Value, DocError> {
        self.batch(|b| Document::replace(b, path, value))
    }

    fn delete(&mut self, path: &str) -> Result<Option<Value>, DocError> {
        self.batch(|b| Document::delete(b, path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> MemoryDocument {
        MemoryDocument::from_json(
            r#"{"a":{"x":1,"y":null,"z":{"q":2}},"list":[10,null,{"q":3}],"s":"t"}"#,
        )
        .unwrap()
    }

    fn paths(doc: &MemoryDocument, pattern: &str) -> Vec<String> {
        doc.matches(pattern)
            .unwrap()
            .into_iter()
            .map(|m| m.path)
            .collect()
    }

    #[test]
    fn get_walks_objects_and_array_indexes() {
        let d = doc();
        assert_eq!(d.get("a/x").unwrap(), Some(Value::Number(1.0)));
        assert_eq!(d.get("a/y").unwrap(), Some(Value::Null));
        assert_eq!(d.get("list/0").unwrap(), Some(Value::Number(10.0)));
        assert_eq!(d.get("list/2/q").unwrap(), Some(Value::Number(3.0)));
        assert_eq!(d.get("list/3").unwrap(), None);
        assert_eq!(d.get("list/-1").unwrap(), None);
        assert_eq!(d.get("s/0").unwrap(), None, "a string has no children");
        assert_eq!(d.get("nope").unwrap(), None);
    }

    #[test]
    fn matches_skip_nulls_and_keep_document_order() {
        let d = doc();
        assert_eq!(paths(&d, "a/*"), ["a/x", "a/z"]);
        assert_eq!(paths(&d, "list/*"), ["list/0", "list/2"]);
        // Document order within a root; the store keeps no order among roots.
        let mut across = paths(&d, "*/*/q");
        across.sort();
        assert_eq!(across, ["a/z/q", "list/2/q"]);
        let mut roots = paths(&d, "*");
        roots.sort();
        assert_eq!(roots, ["a", "list", "s"]);
        assert_eq!(paths(&d, "a/x"), ["a/x"]);
        assert!(paths(&d, "a/y").is_empty());
        let m = d.matches("list/*/q").unwrap();
        assert_eq!(m[0].captures, ["2"]);
        assert_eq!(m[0].value, Value::Number(3.0));
        let m = d.matches("*/*/q").unwrap();
        let list = m.iter().find(|m| m.path.starts_with("list")).unwrap();
        assert_eq!(list.captures, ["list", "2"]);
    }

    #[test]
    fn replace_needs_an_existing_node() {
        let mut d = doc();
        assert_eq!(
            d.replace("a/x", Value::Bool(true)).unwrap(),
            Value::Number(1.0)
        );
        assert_eq!(d.get("a/x").unwrap(), Some(Value::Bool(true)));
        assert_eq!(
            d.replace("list/1", Value::Number(5.0)).unwrap(),
            Value::Null
        );
        assert_eq!(d.replace("s", Value::Null).unwrap(), Value::string(b"t"));
        assert_eq!(
            d.replace("a/new", Value::Null),
            Err(DocError::NotFound("a/new".into()))
        );
        assert_eq!(
            d.replace("list/9", Value::Null),
            Err(DocError::NotFound("list/9".into()))
        );
    }

    #[test]
    fn delete_answers_the_old_value() {
        let mut d = doc();
        assert_eq!(d.delete("list/0").unwrap(), Some(Value::Number(10.0)));
        assert_eq!(d.get("list/1/q").unwrap(), Some(Value::Number(3.0)));
        assert!(d.delete("a/z").unwrap().is_some());
        assert_eq!(d.delete("a/z").unwrap(), None);
        assert_eq!(d.delete("s").unwrap(), Some(Value::string(b"t")));
        assert_eq!(d.delete("x/y/z").unwrap(), None);
    }
}
