//! The seam to the store: [`Document`], the operations a program needs on one cache,
//! and [`MemoryDocument`], a plain in-memory implementation for tests and examples.
//!
//! Paths are `/`-separated text; the implementation parses them. A segment names an
//! object field, or indexes an array when the node is an array and the segment is a
//! decimal index. In a pattern, a segment that is exactly `*` matches any one
//! segment. The store implements this trait inside one all-or-nothing batch, so the
//! interpreter never undoes anything itself.

use std::collections::VecDeque;

use mapcache_store::{Hash, Value};

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

/// A document kept as one object of top-level keys, following the store's rules:
/// only objects and arrays have children, and a decimal segment indexes an array.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MemoryDocument {
    root: Hash,
}

impl MemoryDocument {
    /// An empty document.
    pub fn new() -> MemoryDocument {
        MemoryDocument::default()
    }

    /// A document whose top-level keys are the fields of `value`; any other value
    /// gives an empty document.
    pub fn from_value(value: Value) -> MemoryDocument {
        match value {
            Value::Hash(hash) => MemoryDocument { root: *hash },
            _ => MemoryDocument::default(),
        }
    }

    /// Parses JSON text (an object) into a document.
    pub fn from_json(text: &str) -> Result<MemoryDocument, mapcache_store::JsonError> {
        let mut bytes = text.as_bytes().to_vec();
        let value = mapcache_store::json::parse(&mut bytes, 128)?;
        Ok(MemoryDocument::from_value(value))
    }

    /// The whole tree as one object.
    pub fn to_value(&self) -> Value {
        Value::hash(self.root.clone())
    }

    fn node(&self, path: &str) -> Option<&Value> {
        let mut segments = path.split('/');
        let mut node = self.root.get(segments.next()?.as_bytes())?;
        for segment in segments {
            node = child(node, segment)?;
        }
        Some(node)
    }

    /// The container holding `path`'s last segment, and that segment.
    fn parent_mut<'a>(&mut self, path: &'a str) -> Option<(Parent<'_>, &'a str)> {
        let (parent_path, last) = match path.rsplit_once('/') {
            None => return Some((Parent::Root(&mut self.root), path)),
            Some(split) => split,
        };
        let mut segments = parent_path.split('/');
        let mut node = self.root.get_mut(segments.next()?.as_bytes())?;
        for segment in segments {
            node = child_mut(node, segment)?;
        }
        Some((Parent::Node(node), last))
    }
}

enum Parent<'a> {
    Root(&'a mut Hash),
    Node(&'a mut Value),
}

fn index(segment: &str, len: usize) -> Option<usize> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    segment.parse::<usize>().ok().filter(|&i| i < len)
}

fn child<'a>(node: &'a Value, segment: &str) -> Option<&'a Value> {
    match node {
        Value::Hash(hash) => hash.get(segment.as_bytes()),
        Value::List(list) => list.get(index(segment, list.len())?),
        _ => None,
    }
}

fn child_mut<'a>(node: &'a mut Value, segment: &str) -> Option<&'a mut Value> {
    match node {
        Value::Hash(hash) => hash.get_mut(segment.as_bytes()),
        Value::List(list) => {
            let i = index(segment, list.len())?;
            list.get_mut(i)
        }
        _ => None,
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Walks `segments` from `node`, appending every non-null match to `out`.
fn collect(
    node: &Value,
    segments: &[&str],
    path: &mut Vec<String>,
    captures: &mut Vec<String>,
    out: &mut Vec<Match>,
) {
    if matches!(node, Value::Null) {
        return;
    }
    let Some((first, rest)) = segments.split_first() else {
        out.push(Match {
            path: path.join("/"),
            captures: captures.clone(),
            value: node.clone(),
        });
        return;
    };
    let mut visit = |name: String, next: &Value, captured: bool| {
        path.push(name.clone());
        if captured {
            captures.push(name);
        }
        collect(next, rest, path, captures, out);
        if captured {
            captures.pop();
        }
        path.pop();
    };
    if *first == "*" {
        match node {
            Value::Hash(hash) => hash.iter().for_each(|(k, v)| visit(text(k), v, true)),
            Value::List(list) => list
                .iter()
                .enumerate()
                .for_each(|(i, v)| visit(i.to_string(), v, true)),
            _ => {}
        }
    } else if let Some(next) = child(node, first) {
        visit(first.to_string(), next, false);
    }
}

impl Document for MemoryDocument {
    fn get(&self, path: &str) -> Result<Option<Value>, DocError> {
        Ok(self.node(path).cloned())
    }

    fn matches(&self, pattern: &str) -> Result<Vec<Match>, DocError> {
        let segments: Vec<&str> = pattern.split('/').collect();
        let mut out = Vec::new();
        let Some((first, rest)) = segments.split_first() else {
            return Ok(out);
        };
        // The root is an object of top-level keys, walked like any other object.
        let mut visit = |name: &[u8], node: &Value, captured: bool| {
            let name = text(name);
            let mut captures = if captured {
                vec![name.clone()]
            } else {
                Vec::new()
            };
            collect(node, rest, &mut vec![name], &mut captures, &mut out);
        };
        if *first == "*" {
            self.root.iter().for_each(|(k, v)| visit(k, v, true));
        } else if let Some(node) = self.root.get(first.as_bytes()) {
            visit(first.as_bytes(), node, false);
        }
        Ok(out)
    }

    fn replace(&mut self, path: &str, value: Value) -> Result<Value, DocError> {
        let not_found = || DocError::NotFound(path.to_string());
        let (parent, last) = self.parent_mut(path).ok_or_else(not_found)?;
        let slot = match parent {
            Parent::Root(hash) => hash.get_mut(last.as_bytes()),
            Parent::Node(node) => child_mut(node, last),
        };
        let slot = slot.ok_or_else(not_found)?;
        Ok(std::mem::replace(slot, value))
    }

    fn delete(&mut self, path: &str) -> Result<Option<Value>, DocError> {
        let Some((parent, last)) = self.parent_mut(path) else {
            return Ok(None);
        };
        Ok(match parent {
            Parent::Root(hash) => hash.remove(last.as_bytes()),
            Parent::Node(Value::Hash(hash)) => hash.remove(last.as_bytes()),
            Parent::Node(Value::List(list)) => remove_item(list, last),
            Parent::Node(_) => None,
        })
    }
}

fn remove_item(list: &mut VecDeque<Value>, segment: &str) -> Option<Value> {
    let i = index(segment, list.len())?;
    list.remove(i)
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
        assert_eq!(paths(&d, "*/*/q"), ["a/z/q", "list/2/q"]);
        assert_eq!(paths(&d, "*"), ["a", "list", "s"]);
        assert_eq!(paths(&d, "a/x"), ["a/x"]);
        assert!(paths(&d, "a/y").is_empty());
        let m = d.matches("*/*/q").unwrap();
        assert_eq!(m[1].captures, ["list", "2"]);
        assert_eq!(m[1].value, Value::Number(3.0));
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
