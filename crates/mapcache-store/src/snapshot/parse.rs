//! Parsing a snapshot document: [`parse_snapshot`] checks all of it before answering.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use simd_json::{Node, StaticNode};

use super::{base64, invalid, Encoding, Snapshot, SnapshotEntry, SnapshotError, FORMAT, VERSION};
use crate::json::{self, Duplicates, JsonError, TreeError};
use crate::value::{Str, Value};

/// Objects and arrays around an entry's value: the document, `entries`, the entry.
const ENVELOPE_DEPTH: usize = 3;
/// The deepest the envelope itself goes: document, entries, entry, ttls, ttl, path.
const ENVELOPE_MAX_DEPTH: usize = 6;

/// Parses and checks a whole snapshot document. Entry values may nest `max_depth`
/// levels (as [`json::parse`] documents); `input` is used as scratch space. Any
/// malformed document answers an error; nothing panics or recurses on the input's shape.
pub fn parse_snapshot(input: &mut [u8], max_depth: usize) -> Result<Snapshot, SnapshotError> {
    let envelope = max_depth
        .saturating_add(ENVELOPE_DEPTH)
        .max(ENVELOPE_MAX_DEPTH);
    let mut scratch = Vec::new();
    let tape = json::to_tape(input, envelope, &mut scratch).map_err(|e| match e {
        JsonError::TooDeep { .. } => JsonError::TooDeep { max_depth },
        other => other,
    })?;
    let doc = Doc {
        nodes: &tape.0,
        max_depth,
    };
    let root = match doc.node(0)? {
        Node::Object { .. } => doc.object(0, "the document")?,
        _ => return Err(SnapshotError::NotASnapshot("the document is not an object")),
    };
    let mut fields = Fields::new([
        "format",
        "version",
        "cache",
        "created_at_ms",
        "entries",
        "expires_at_ms",
        "triggers",
    ]);
    for (name, at) in root {
        fields.set(name, at, "")?;
    }
    let [format, version, cache, created_at_ms, entries, cache_expires_at, triggers] = fields.found;
    match format.map(|i| doc.node(i)).transpose()? {
        Some(Node::String(s)) if *s == FORMAT => {}
        _ => {
            return Err(SnapshotError::NotASnapshot(
                "\"format\" is not \"mapcache-snapshot\"",
            ))
        }
    }
    let version = doc.required(version, "version")?;
    match doc.node(version)? {
        Node::Static(StaticNode::U64(VERSION)) => {}
        Node::Static(StaticNode::U64(n)) => {
            return Err(SnapshotError::UnsupportedVersion(n.to_string()))
        }
        Node::Static(StaticNode::I64(n)) => {
            return Err(SnapshotError::UnsupportedVersion(n.to_string()))
        }
        _ => return Err(invalid("version", "expected an integer")),
    }
    let cache = match doc.node(doc.required(cache, "cache")?)? {
        Node::String(s) => (*s).to_owned(),
        _ => return Err(invalid("cache", "expected a string")),
    };
    let created_at_ms = doc.integer(doc.required(created_at_ms, "created_at_ms")?, || {
        "created_at_ms".to_owned()
    })?;
    let entries_at = doc.required(entries, "entries")?;
    let Node::Array { len, .. } = *doc.node(entries_at)? else {
        return Err(invalid("entries", "expected an array"));
    };
    let mut entries = Vec::with_capacity(len);
    let mut seen: HashMap<Bytes, usize> = HashMap::with_capacity(len);
    for (n, at) in doc.elements(entries_at)?.enumerate() {
        let entry = doc.entry(at, n)?;
        if let Some(first) = seen.insert(entry.key.clone(), n) {
            return Err(invalid(
                format!("entries[{n}].key"),
                format!("the same key as entries[{first}]"),
            ));
        }
        entries.push(entry);
    }
    let expires_at = match cache_expires_at {
        None => None,
        Some(i) if matches!(doc.node(i)?, Node::Static(StaticNode::Null)) => None,
        Some(i) => Some(doc.integer(i, || "expires_at_ms".to_owned())?),
    };
    let triggers = match triggers {
        None => None,
        Some(at) => {
            let (value, _) = json::read_tree(
                doc.nodes,
                at,
                doc.max_depth,
                Duplicates::Refuse,
                |s: &str| Ok(Str::copy_from_slice(s.as_bytes())),
            )
            .map_err(|e| match e {
                TreeError::TooDeep => SnapshotError::Json(JsonError::TooDeep { max_depth }),
                _ => invalid("triggers", "malformed"),
            })?;
            (value != Value::Null).then_some(value)
        }
    };
    Ok(Snapshot {
        cache,
        created_at_ms,
        entries,
        expires_at,
        triggers,
    })
}

/// Named fields of an object, each found at most once.
struct Fields<const N: usize> {
    names: [&'static str; N],
    found: [Option<usize>; N],
}

impl<const N: usize> Fields<N> {
    fn new(names: [&'static str; N]) -> Self {
        Fields {
            names,
            found: [None; N],
        }
    }

    /// Records field `name` at node `at`; `prefix` locates the object in errors.
    fn set(&mut self, name: &str, at: usize, prefix: &str) -> Result<(), SnapshotError> {
        let Some(k) = self.names.iter().position(|n| *n == name) else {
            return Err(invalid(
                format!("{prefix}{}", printable(name.as_bytes())),
                "unknown field",
            ));
        };
        if self.found[k].replace(at).is_some() {
            return Err(invalid(format!("{prefix}{name}"), "repeated field"));
        }
        Ok(())
    }
}

/// A field name or key as it may appear in an error message.
fn printable(s: &[u8]) -> String {
    let mut out = Vec::new();
    json::write_string(&s[..s.len().min(64)], &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A parsed tape, with the checks a snapshot needs.
struct Doc<'t, 'i> {
    nodes: &'t [Node<'i>],
    max_depth: usize,
}

/// The members of an object: (name, index of the value's node).
struct ObjectIter<'t, 'i> {
    nodes: &'t [Node<'i>],
    next: usize,
    remaining: usize,
}

impl<'t, 'i> Iterator for ObjectIter<'t, 'i> {
    type Item = (&'i str, usize);
    fn next(&mut self) -> Option<Self::Item> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        // The tape of a valid document (simd-json checked it) alternates keys and values.
        let Some(Node::String(name)) = self.nodes.get(self.next) else {
            self.remaining = 0;
            return None;
        };
        let value = self.next + 1;
        self.next = value + span(self.nodes, value);
        Some((name, value))
    }
}

/// The elements of an array: indexes of their nodes.
struct ArrayIter<'t, 'i> {
    nodes: &'t [Node<'i>],
    next: usize,
    remaining: usize,
}

impl Iterator for ArrayIter<'_, '_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let at = self.next;
        self.next = at + span(self.nodes, at);
        Some(at)
    }
}

/// How many tape nodes the value at `at` takes.
fn span(nodes: &[Node<'_>], at: usize) -> usize {
    match nodes.get(at) {
        Some(Node::Object { count, .. } | Node::Array { count, .. }) => count + 1,
        _ => 1,
    }
}

impl<'t, 'i> Doc<'t, 'i> {
    fn node(&self, at: usize) -> Result<&'t Node<'i>, SnapshotError> {
        self.nodes
            .get(at)
            .ok_or_else(|| invalid("the document", "malformed"))
    }

    fn required(&self, at: Option<usize>, name: &str) -> Result<usize, SnapshotError> {
        at.ok_or_else(|| invalid(name, "missing field"))
    }

    /// The members of the object at `at` (`what` names it in errors).
    fn object(&self, at: usize, what: &str) -> Result<ObjectIter<'t, 'i>, SnapshotError> {
        match self.node(at)? {
            Node::Object { len, .. } => Ok(ObjectIter {
                nodes: self.nodes,
                next: at + 1,
                remaining: *len,
            }),
            _ => Err(invalid(what, "expected an object")),
        }
    }

    fn elements(&self, at: usize) -> Result<ArrayIter<'t, 'i>, SnapshotError> {
        match self.node(at)? {
            Node::Array { len, .. } => Ok(ArrayIter {
                nodes: self.nodes,
                next: at + 1,
                remaining: *len,
            }),
            _ => Err(invalid("the document", "malformed")),
        }
    }

    /// A Unix-millisecond integer.
    fn integer(&self, at: usize, what: impl Fn() -> String) -> Result<i64, SnapshotError> {
        match self.node(at)? {
            Node::Static(StaticNode::I64(n)) => Ok(*n),
            Node::Static(StaticNode::U64(n)) => {
                i64::try_from(*n).map_err(|_| invalid(what(), "integer out of range"))
            }
            _ => Err(invalid(what(), "expected an integer (Unix milliseconds)")),
        }
    }

    /// A byte string in `encoding`.
    fn bytes(
        &self,
        at: usize,
        encoding: Encoding,
        what: impl Fn() -> String,
    ) -> Result<Bytes, SnapshotError> {
        match self.node(at)? {
            Node::String(s) => decode(encoding, s)
                .map(|s| s.to_bytes())
                .map_err(|()| invalid(what(), "invalid base64")),
            _ => Err(invalid(what(), "expected a string")),
        }
    }

    /// A path: an array of byte strings, non-empty unless `empty_ok`.
    fn path(
        &self,
        at: usize,
        encoding: Encoding,
        empty_ok: bool,
        what: &dyn Fn() -> String,
    ) -> Result<Vec<Bytes>, SnapshotError> {
        let Node::Array { len, .. } = *self.node(at)? else {
            return Err(invalid(what(), "expected an array of strings"));
        };
        if len == 0 && !empty_ok {
            return Err(invalid(
                what(),
                "empty path (the key's own deadline is expires_at_ms)",
            ));
        }
        let mut path = Vec::with_capacity(len);
        for (i, seg) in self.elements(at)?.enumerate() {
            path.push(self.bytes(seg, encoding, || format!("{}[{i}]", what()))?);
        }
        Ok(path)
    }

    /// Entry `n` of `entries`, at node `at`.
    fn entry(&self, at: usize, n: usize) -> Result<SnapshotEntry, SnapshotError> {
        let here = || format!("entries[{n}]");
        let mut fields = Fields::new([
            "key",
            "encoding",
            "value",
            "expires_at_ms",
            "ttls",
            "non_finite",
        ]);
        let prefix = format!("entries[{n}].");
        for (name, at) in self.object(at, &here())? {
            fields.set(name, at, &prefix)?;
        }
        let [key, encoding, value, expires_at, ttls, non_finite] = fields.found;
        let encoding = match encoding.map(|i| self.node(i)).transpose()? {
            None | Some(Node::String("utf8")) => Encoding::Utf8,
            Some(Node::String("base64")) => Encoding::Base64,
            Some(_) => {
                return Err(invalid(
                    format!("{prefix}encoding"),
                    "expected \"base64\" or \"utf8\"",
                ))
            }
        };
        let key = self.bytes(
            self.required(key, &format!("{prefix}key"))?,
            encoding,
            || format!("{prefix}key"),
        )?;
        let value_at = self.required(value, &format!("{prefix}value"))?;
        let (mut value, _) = json::read_tree(
            self.nodes,
            value_at,
            self.max_depth,
            Duplicates::Refuse,
            |s: &str| decode(encoding, s),
        )
        .map_err(|e| match e {
            TreeError::TooDeep => SnapshotError::Json(JsonError::TooDeep {
                max_depth: self.max_depth,
            }),
            TreeError::DuplicateKey => invalid(format!("{prefix}value"), "repeated field name"),
            TreeError::BadString => invalid(format!("{prefix}value"), "invalid base64"),
            TreeError::Malformed => invalid(format!("{prefix}value"), "malformed"),
        })?;
        let expires_at = match expires_at {
            None => None,
            Some(i) if matches!(self.node(i)?, Node::Static(StaticNode::Null)) => None,
            Some(i) => Some(self.integer(i, || format!("{prefix}expires_at_ms"))?),
        };
        let mut nested = Vec::new();
        if let Some(ttls) = ttls {
            let Node::Array { len, .. } = *self.node(ttls)? else {
                return Err(invalid(format!("{prefix}ttls"), "expected an array"));
            };
            nested.reserve_exact(len);
            let mut paths = HashSet::with_capacity(len);
            for (t, at) in self.elements(ttls)?.enumerate() {
                let here = format!("{prefix}ttls[{t}]");
                let mut f = Fields::new(["path", "expires_at_ms"]);
                for (name, at) in self.object(at, &here)? {
                    f.set(name, at, &format!("{here}."))?;
                }
                let [path, deadline] = f.found;
                let what = || format!("{here}.path");
                let path = self.path(self.required(path, &what())?, encoding, false, &what)?;
                let deadline = self.integer(
                    self.required(deadline, &format!("{here}.expires_at_ms"))?,
                    || format!("{here}.expires_at_ms"),
                )?;
                if !paths.insert(path.clone()) {
                    return Err(invalid(what(), "repeated path"));
                }
                nested.push((path, deadline));
            }
        }
        if let Some(list) = non_finite {
            if !matches!(self.node(list)?, Node::Array { .. }) {
                return Err(invalid(format!("{prefix}non_finite"), "expected an array"));
            }
            for (t, at) in self.elements(list)?.enumerate() {
                let here = format!("{prefix}non_finite[{t}]");
                let mut f = Fields::new(["path", "value"]);
                for (name, at) in self.object(at, &here)? {
                    f.set(name, at, &format!("{here}."))?;
                }
                let [path, number] = f.found;
                let what = || format!("{here}.path");
                let path = self.path(self.required(path, &what())?, encoding, true, &what)?;
                let number = match self.node(self.required(number, &format!("{here}.value"))?)? {
                    Node::String("NaN") => f64::NAN,
                    Node::String("Infinity") => f64::INFINITY,
                    Node::String("-Infinity") => f64::NEG_INFINITY,
                    _ => {
                        return Err(invalid(
                            format!("{here}.value"),
                            "expected \"NaN\", \"Infinity\" or \"-Infinity\"",
                        ))
                    }
                };
                match node_at(&mut value, &path) {
                    Some(slot @ Value::Null) => *slot = Value::Number(number),
                    _ => return Err(invalid(what(), "does not address a null in the value")),
                }
            }
        }
        Ok(SnapshotEntry {
            key,
            value,
            expires_at,
            nested,
        })
    }
}

/// The node at `path` below `value`: field names in hashes, decimal positions in lists.
fn node_at<'v>(value: &'v mut Value, path: &[Bytes]) -> Option<&'v mut Value> {
    let mut cur = value;
    for seg in path {
        cur = match cur {
            Value::Hash(h) => h.get_mut(&seg[..])?,
            Value::List(l) => l.get_mut(list_index(seg)?)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// A list position in canonical decimal (`0`, `17`; not `007` or `+1`).
fn list_index(seg: &[u8]) -> Option<usize> {
    if seg.is_empty() || (seg.len() > 1 && seg[0] == b'0') || !seg.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(seg).ok()?.parse().ok()
}

fn decode(encoding: Encoding, s: &str) -> Result<Str, ()> {
    match encoding {
        Encoding::Utf8 => Ok(Str::copy_from_slice(s.as_bytes())),
        Encoding::Base64 => base64::decode(s.as_bytes()).map(Str::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_indexes() {
        assert_eq!(list_index(b"0"), Some(0));
        assert_eq!(list_index(b"17"), Some(17));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b"-1",
            b"1a",
            b"99999999999999999999999",
        ] {
            assert_eq!(list_index(bad), None);
        }
    }
}
