//! The backup/restore document of one cache: HTTP `POST /admin/backup` and
//! `/admin/restore`, RESP `SAVE`/`BGSAVE`, `--load-snapshot`.
//!
//! One JSON object, written entry by entry ([`SnapshotWriter`]: the caller may flush
//! `out` between entries), one entry a line:
//!
//! ```text
//! {"format":"mapcache-snapshot","version":1,"cache":"default","created_at_ms":1700000000000,"entries":[
//! {"key":"user","value":{"100":{"name":"Alice","age":41,"id":"41"}},"expires_at_ms":1700000005000,"ttls":[{"path":["100","session"],"expires_at_ms":1700000001000}]},
//! {"key":"YmxvYg==","encoding":"base64","value":"/wAB","expires_at_ms":1700000009000},
//! {"key":"odd","value":{"x":null,"z":-0.0},"non_finite":[{"path":["x"],"value":"NaN"}]}
//! ]}
//! ```
//!
//! - `format` is `"mapcache-snapshot"` and `version` is `1`: anything else is refused.
//! - `cache` is the cache's name, `created_at_ms` the Unix-millisecond time the backup
//!   was taken.
//! - Each entry has the root `key` and its `value`, a [`Value`] tree written as JSON:
//!   hash → object (insertion order kept), list → array, string → JSON string,
//!   number → JSON number, bool, null. So `Str("42")` is `"42"` and `Number(42.0)` is `42`.
//! - `encoding`: absent (or `"utf8"`) when every byte string of the entry (its key, every
//!   field name and string in its value, every segment of its `ttls` and `non_finite`
//!   paths) is UTF-8: they are then plain JSON strings. Otherwise the writer sets
//!   `"encoding":"base64"` and *every* one of those byte strings is standard base64 (with
//!   `=` padding; the parser accepts canonical base64 only). The marker sits outside the
//!   data, so no string in any entry can be mistaken for it.
//! - `expires_at_ms`: the root key's deadline, in Unix milliseconds; absent (or `null`)
//!   when the key does not expire.
//! - `ttls`: deadlines of nested nodes, each `{"path":[segment, ...],"expires_at_ms":ms}`
//!   with the path's segments below the root as byte strings (at least one). They are
//!   kept as given: the parser checks their form, not that the path exists in the value.
//! - `non_finite`: JSON has no NaN or infinities, so a non-finite number is written as
//!   `null` in the value and listed here as `{"path":[...],"value":"NaN"|"Infinity"|
//!   "-Infinity"}`, its path addressing the node from the root (field names, and list
//!   positions as decimal text; `[]` is the value itself). NaN payloads are not kept.
//!   `-0.0` is written as `-0.0`, so the sign of zero survives too.
//!
//! Numbers are written as [`json::write_number`] writes them (shortest round-trip text),
//! so every `f64` comes back bit for bit (NaN payloads aside).
//!
//! [`parse_snapshot`] checks everything (format, version, every field's type, no unknown
//! or repeated field, no repeated key, no repeated nested path, canonical base64, integer
//! deadlines) before answering, so a caller can parse fully, then swap the cache's
//! content in one go. The format is described for humans in `docs/snapshot-format.md`.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use simd_json::{Node, StaticNode};

use crate::json::{self, Duplicates, JsonError, Position, Style, TreeError};
use crate::value::{Str, Value};

/// The `format` tag of a snapshot document.
pub const FORMAT: &str = "mapcache-snapshot";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// Objects and arrays around an entry's value: the document, `entries`, the entry.
const ENVELOPE_DEPTH: usize = 3;
/// The deepest the envelope itself goes: document, entries, entry, ttls, ttl, path.
const ENVELOPE_MAX_DEPTH: usize = 6;

/// A parsed snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub cache: String,
    pub created_at_ms: i64,
    pub entries: Vec<SnapshotEntry>,
}

/// One root key of a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotEntry {
    pub key: Bytes,
    pub value: Value,
    /// The root key's deadline, Unix milliseconds.
    pub expires_at: Option<i64>,
    /// Deadlines of nested nodes: the path's segments below the root, and the deadline.
    pub nested: Vec<(Vec<Bytes>, i64)>,
}

/// Why a snapshot document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    /// Not JSON, or nested too deep.
    #[error("{0}")]
    Json(#[from] JsonError),
    /// JSON, but not a mapcache snapshot (no or another `format` tag).
    #[error("not a mapcache snapshot: {0}")]
    NotASnapshot(&'static str),
    /// A snapshot of a version this build cannot read.
    #[error("unsupported snapshot version {0} (this build reads version 1)")]
    UnsupportedVersion(String),
    /// A field is missing, unknown, repeated or of the wrong type; `at` names it
    /// (`entries[3].ttls[0].path`).
    #[error("invalid snapshot at {at}: {problem}")]
    Invalid { at: String, problem: String },
}

fn invalid(at: impl Into<String>, problem: impl Into<String>) -> SnapshotError {
    SnapshotError::Invalid {
        at: at.into(),
        problem: problem.into(),
    }
}

// ---------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------

/// Writes a snapshot document entry by entry into a buffer the caller owns (and may
/// drain between calls).
///
/// ```
/// # use mapcache_store::{snapshot::{parse_snapshot, SnapshotWriter}, Value};
/// let mut out = Vec::new();
/// let mut w = SnapshotWriter::begin("default", 1_700_000_000_000, &mut out);
/// w.entry(&mut out, b"greeting", &Value::string(b"hello"), None, &[]);
/// w.finish(&mut out);
/// let snapshot = parse_snapshot(&mut out, 128).unwrap();
/// assert_eq!(snapshot.entries[0].value, Value::string(b"hello"));
/// ```
#[derive(Debug)]
pub struct SnapshotWriter {
    entries: usize,
}

impl SnapshotWriter {
    /// Appends the document's head to `out`.
    pub fn begin(cache: &str, created_at_ms: i64, out: &mut Vec<u8>) -> SnapshotWriter {
        out.extend_from_slice(b"{\"format\":\"");
        out.extend_from_slice(FORMAT.as_bytes());
        out.extend_from_slice(b"\",\"version\":");
        out.extend_from_slice(itoa::Buffer::new().format(VERSION).as_bytes());
        out.extend_from_slice(b",\"cache\":");
        json::write_string(cache.as_bytes(), out);
        out.extend_from_slice(b",\"created_at_ms\":");
        out.extend_from_slice(itoa::Buffer::new().format(created_at_ms).as_bytes());
        out.extend_from_slice(b",\"entries\":[");
        SnapshotWriter { entries: 0 }
    }

    /// Appends one root key: its value, its deadline and the deadlines of nested nodes
    /// (`nested`: path segments below the root and deadline; the paths should be
    /// distinct and non-empty, as [`parse_snapshot`] refuses the document otherwise).
    /// Keys must be distinct across entries, for the same reason.
    pub fn entry(
        &mut self,
        out: &mut Vec<u8>,
        key: &[u8],
        value: &Value,
        expires_at: Option<i64>,
        nested: &[(Vec<Bytes>, i64)],
    ) {
        if self.entries > 0 {
            out.push(b',');
        }
        out.push(b'\n');
        let start = out.len();
        // Optimistically as UTF-8 (one pass); again in base64 if a byte string is not.
        if !write_entry(out, Encoding::Utf8, key, value, expires_at, nested) {
            out.truncate(start);
            let done = write_entry(out, Encoding::Base64, key, value, expires_at, nested);
            debug_assert!(done, "base64 writes any bytes");
        }
        self.entries += 1;
    }

    /// How many entries were written.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// Appends the document's tail.
    pub fn finish(self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"\n]}\n");
    }
}

impl Snapshot {
    /// Appends the whole snapshot as one document (as [`SnapshotWriter`] writes it).
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = SnapshotWriter::begin(&self.cache, self.created_at_ms, out);
        for e in &self.entries {
            w.entry(out, &e.key, &e.value, e.expires_at, &e.nested);
        }
        w.finish(out);
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Base64,
}

impl Encoding {
    /// Appends `s` as a JSON string in this encoding; `false` when UTF-8 was asked for
    /// and `s` is not.
    fn string(self, s: &[u8], out: &mut Vec<u8>) -> bool {
        match self {
            Encoding::Utf8 => {
                if std::str::from_utf8(s).is_err() {
                    return false;
                }
                json::write_string_bytes(s, out);
            }
            Encoding::Base64 => {
                out.push(b'"');
                base64::encode(s, out);
                out.push(b'"');
            }
        }
        true
    }

    fn path(self, path: &[Bytes], out: &mut Vec<u8>) -> bool {
        out.push(b'[');
        for (i, seg) in path.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if !self.string(seg, out) {
                return false;
            }
        }
        out.push(b']');
        true
    }
}

/// The value's style in a snapshot: strings in the entry's encoding, `-0.0` signed,
/// non-finite numbers as `null` plus their position.
struct SnapshotStyle {
    encoding: Encoding,
    /// A byte string was not UTF-8 (in [`Encoding::Utf8`]): the entry must be redone.
    not_utf8: bool,
    non_finite: Vec<(Vec<Bytes>, f64)>,
}

impl Style for SnapshotStyle {
    fn string(&mut self, s: &[u8], out: &mut Vec<u8>) {
        if !self.encoding.string(s, out) {
            self.not_utf8 = true;
        }
    }

    fn number(&mut self, n: f64, out: &mut Vec<u8>, at: Position<'_, '_>) {
        if !n.is_finite() {
            self.non_finite.push((at.path(), n));
            out.extend_from_slice(b"null");
        } else if n == 0.0 && n.is_sign_negative() {
            out.extend_from_slice(b"-0.0");
        } else {
            json::write_number(n, out);
        }
    }
}

/// Writes one entry object; `false` (with `out` half written) when `encoding` is UTF-8
/// and some byte string is not.
fn write_entry(
    out: &mut Vec<u8>,
    encoding: Encoding,
    key: &[u8],
    value: &Value,
    expires_at: Option<i64>,
    nested: &[(Vec<Bytes>, i64)],
) -> bool {
    out.extend_from_slice(b"{\"key\":");
    if !encoding.string(key, out) {
        return false;
    }
    if encoding == Encoding::Base64 {
        out.extend_from_slice(b",\"encoding\":\"base64\"");
    }
    out.extend_from_slice(b",\"value\":");
    let mut style = SnapshotStyle {
        encoding,
        not_utf8: false,
        non_finite: Vec::new(),
    };
    json::write_with(value, out, &mut style);
    if style.not_utf8 {
        return false;
    }
    if let Some(at) = expires_at {
        out.extend_from_slice(b",\"expires_at_ms\":");
        out.extend_from_slice(itoa::Buffer::new().format(at).as_bytes());
    }
    if !nested.is_empty() {
        out.extend_from_slice(b",\"ttls\":[");
        for (i, (path, at)) in nested.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"path\":");
            if !encoding.path(path, out) {
                return false;
            }
            out.extend_from_slice(b",\"expires_at_ms\":");
            out.extend_from_slice(itoa::Buffer::new().format(*at).as_bytes());
            out.push(b'}');
        }
        out.push(b']');
    }
    if !style.non_finite.is_empty() {
        out.extend_from_slice(b",\"non_finite\":[");
        for (i, (path, n)) in style.non_finite.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"path\":");
            if !encoding.path(path, out) {
                return false;
            }
            out.extend_from_slice(b",\"value\":\"");
            out.extend_from_slice(non_finite_name(*n).as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.push(b']');
    }
    out.push(b'}');
    true
}

fn non_finite_name(n: f64) -> &'static str {
    if n.is_nan() {
        "NaN"
    } else if n > 0.0 {
        "Infinity"
    } else {
        "-Infinity"
    }
}

// ---------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------

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
    let mut fields = Fields::new(["format", "version", "cache", "created_at_ms", "entries"]);
    for (name, at) in root {
        fields.set(name, at, "")?;
    }
    let [format, version, cache, created_at_ms, entries] = fields.found;
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
    Ok(Snapshot {
        cache,
        created_at_ms,
        entries,
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

/// Standard base64 (RFC 4648 §4) with padding. Small enough to keep here rather than
/// take a dependency; decoding accepts the canonical form only (one text per byte string).
mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    /// Each byte's 6-bit value, or 0xff when it is not in the alphabet.
    static DECODE: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut i = 0;
        while i < 64 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };

    pub(super) fn encode(data: &[u8], out: &mut Vec<u8>) {
        out.reserve(data.len().div_ceil(3) * 4);
        let mut chunks = data.chunks_exact(3);
        for c in &mut chunks {
            let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
            out.extend_from_slice(&[
                ALPHABET[(n >> 18) as usize & 63],
                ALPHABET[(n >> 12) as usize & 63],
                ALPHABET[(n >> 6) as usize & 63],
                ALPHABET[n as usize & 63],
            ]);
        }
        match *chunks.remainder() {
            [a] => {
                let n = u32::from(a) << 16;
                out.extend_from_slice(&[
                    ALPHABET[(n >> 18) as usize & 63],
                    ALPHABET[(n >> 12) as usize & 63],
                    b'=',
                    b'=',
                ]);
            }
            [a, b] => {
                let n = u32::from(a) << 16 | u32::from(b) << 8;
                out.extend_from_slice(&[
                    ALPHABET[(n >> 18) as usize & 63],
                    ALPHABET[(n >> 12) as usize & 63],
                    ALPHABET[(n >> 6) as usize & 63],
                    b'=',
                ]);
            }
            _ => {}
        }
    }

    pub(super) fn decode(text: &[u8]) -> Result<Vec<u8>, ()> {
        if text.len() % 4 != 0 {
            return Err(());
        }
        let mut out = Vec::with_capacity(text.len() / 4 * 3);
        let groups = text.len() / 4;
        for (g, quad) in text.chunks_exact(4).enumerate() {
            let pad = if g + 1 == groups {
                quad.iter().rev().take_while(|&&c| c == b'=').count()
            } else {
                0
            };
            if pad > 2 {
                return Err(());
            }
            let mut n = 0u32;
            for &c in &quad[..4 - pad] {
                let v = DECODE[usize::from(c)];
                if v == 0xff {
                    return Err(());
                }
                n = n << 6 | u32::from(v);
            }
            n <<= 6 * pad as u32;
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            // Canonical: the bits the padding leaves over are zero.
            if bytes[3 - pad..].iter().any(|&b| b != 0) {
                return Err(());
            }
            out.extend_from_slice(&bytes[..3 - pad]);
        }
        Ok(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn enc(data: &[u8]) -> String {
            let mut out = Vec::new();
            encode(data, &mut out);
            String::from_utf8(out).unwrap()
        }

        #[test]
        fn rfc4648_vectors() {
            for (plain, coded) in [
                ("", ""),
                ("f", "Zg=="),
                ("fo", "Zm8="),
                ("foo", "Zm9v"),
                ("foob", "Zm9vYg=="),
                ("fooba", "Zm9vYmE="),
                ("foobar", "Zm9vYmFy"),
            ] {
                assert_eq!(enc(plain.as_bytes()), coded);
                assert_eq!(decode(coded.as_bytes()).unwrap(), plain.as_bytes());
            }
            assert_eq!(enc(&[0xff, 0xfe, 0x00]), "//4A");
        }

        #[test]
        fn refuses_non_canonical() {
            for bad in [
                "Zg=", "Zg", "Zh==", "Zm9=", "Z===", "====", "Zg==Zg==", "Zm9v!A==", "Zm 9",
                "=Zm9", "Zm=v",
            ] {
                assert!(decode(bad.as_bytes()).is_err(), "{bad}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Result<Snapshot, SnapshotError> {
        parse_snapshot(&mut s.as_bytes().to_vec(), json::DEFAULT_MAX_DEPTH)
    }

    const HEAD: &str =
        r#"{"format":"mapcache-snapshot","version":1,"cache":"c","created_at_ms":5,"entries":["#;

    fn with_entries(entries: &str) -> Result<Snapshot, SnapshotError> {
        doc(&format!("{HEAD}{entries}]}}"))
    }

    fn err(r: Result<Snapshot, SnapshotError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn layout() {
        let mut out = Vec::new();
        let mut w = SnapshotWriter::begin("default", 1_700_000_000_000, &mut out);
        let mut user = crate::Hash::default();
        user.insert(&b"name"[..], Value::string(b"Alice"));
        user.insert(&b"age"[..], Value::Number(41.0));
        user.insert(&b"id"[..], Value::string(b"41"));
        user.insert(&b"z"[..], Value::Number(-0.0));
        w.entry(
            &mut out,
            b"user",
            &Value::hash(user),
            Some(1_700_000_005_000),
            &[(vec![Bytes::from_static(b"name")], 1_700_000_001_000)],
        );
        w.entry(
            &mut out,
            b"blob",
            &Value::string(b"\xff\x00\x01"),
            None,
            &[],
        );
        let odd = Value::List([Value::Null, Value::Number(f64::NEG_INFINITY)].into());
        w.entry(&mut out, b"odd", &odd, None, &[]);
        assert_eq!(w.entries(), 3);
        w.finish(&mut out);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            concat!(
                r#"{"format":"mapcache-snapshot","version":1,"cache":"default","created_at_ms":1700000000000,"entries":["#,
                "\n",
                r#"{"key":"user","value":{"name":"Alice","age":41,"id":"41","z":-0.0},"expires_at_ms":1700000005000,"ttls":[{"path":["name"],"expires_at_ms":1700000001000}]},"#,
                "\n",
                r#"{"key":"YmxvYg==","encoding":"base64","value":"/wAB"},"#,
                "\n",
                r#"{"key":"odd","value":[null,null],"non_finite":[{"path":["1"],"value":"-Infinity"}]}"#,
                "\n]}\n"
            )
        );
        let s = parse_snapshot(&mut out, 128).unwrap();
        assert_eq!(s.cache, "default");
        assert_eq!(s.created_at_ms, 1_700_000_000_000);
        assert_eq!(s.entries.len(), 3);
        assert_eq!(&s.entries[1].key[..], b"blob");
        assert_eq!(s.entries[1].value, Value::string(b"\xff\x00\x01"));
        assert_eq!(
            s.entries[2].value.as_list().unwrap()[1],
            Value::Number(f64::NEG_INFINITY)
        );
        let Value::Number(z) = s.entries[0].value.as_hash().unwrap()[&b"z"[..]] else {
            panic!()
        };
        assert!(z == 0.0 && z.is_sign_negative());
    }

    /// The example of the module doc and docs/snapshot-format.md, byte for byte.
    #[test]
    fn documented_example() {
        let example = concat!(
            r#"{"format":"mapcache-snapshot","version":1,"cache":"default","created_at_ms":1700000000000,"entries":["#,
            "\n",
            r#"{"key":"user","value":{"100":{"name":"Alice","age":41,"id":"41"}},"expires_at_ms":1700000005000,"ttls":[{"path":["100","session"],"expires_at_ms":1700000001000}]},"#,
            "\n",
            r#"{"key":"YmxvYg==","encoding":"base64","value":"/wAB","expires_at_ms":1700000009000},"#,
            "\n",
            r#"{"key":"odd","value":{"x":null,"z":-0.0},"non_finite":[{"path":["x"],"value":"NaN"}]}"#,
            "\n]}\n"
        );
        let s = parse_snapshot(&mut example.as_bytes().to_vec(), 128).unwrap();
        assert_eq!(s.entries[1].value, Value::string(b"\xff\x00\x01"));
        assert_eq!(
            s.entries[0].nested,
            vec![(
                vec![Bytes::from_static(b"100"), Bytes::from_static(b"session")],
                1_700_000_001_000
            )]
        );
        let mut out = Vec::new();
        s.write(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), example);
    }

    #[test]
    fn empty_snapshot() {
        let mut out = Vec::new();
        SnapshotWriter::begin("c\"1", -1, &mut out).finish(&mut out);
        let s = parse_snapshot(&mut out, 0).unwrap();
        assert_eq!(
            (s.cache.as_str(), s.created_at_ms, s.entries.len()),
            ("c\"1", -1, 0)
        );
    }

    #[test]
    fn envelope_errors() {
        assert_eq!(
            err(doc("[]")),
            "not a mapcache snapshot: the document is not an object"
        );
        assert_eq!(
            err(doc(r#"{"format":"other","version":1}"#)),
            "not a mapcache snapshot: \"format\" is not \"mapcache-snapshot\""
        );
        assert_eq!(
            err(doc(r#"{"format":"mapcache-snapshot","version":2}"#)),
            "unsupported snapshot version 2 (this build reads version 1)"
        );
        assert_eq!(
            err(doc(r#"{"format":"mapcache-snapshot","version":"1"}"#)),
            "invalid snapshot at version: expected an integer"
        );
        assert_eq!(
            err(doc(
                r#"{"format":"mapcache-snapshot","version":1,"cache":"c","created_at_ms":1}"#
            )),
            "invalid snapshot at entries: missing field"
        );
        assert_eq!(
            err(doc(&format!("{HEAD}],\"extra\":1}}"))),
            "invalid snapshot at \"extra\": unknown field"
        );
        assert_eq!(
            err(doc(&format!("{HEAD}],\"cache\":\"d\"}}"))),
            "invalid snapshot at cache: repeated field"
        );
        assert_eq!(
            err(doc(
                r#"{"format":"mapcache-snapshot","version":1,"cache":"c","created_at_ms":1.5,"entries":[]}"#
            )),
            "invalid snapshot at created_at_ms: expected an integer (Unix milliseconds)"
        );
        assert_eq!(
            err(doc(
                r#"{"format":"mapcache-snapshot","version":1,"cache":"c","created_at_ms":9223372036854775808,"entries":[]}"#
            )),
            "invalid snapshot at created_at_ms: integer out of range"
        );
        assert!(err(doc(&HEAD[..HEAD.len() - 3])).starts_with("invalid JSON at byte"));
    }

    #[test]
    fn entry_errors() {
        let cases = [
            (r#"1"#, "invalid snapshot at entries[0]: expected an object"),
            (r#"{"value":1}"#, "invalid snapshot at entries[0].key: missing field"),
            (r#"{"key":"a"}"#, "invalid snapshot at entries[0].value: missing field"),
            (r#"{"key":1,"value":1}"#, "invalid snapshot at entries[0].key: expected a string"),
            (r#"{"key":"a","value":1,"x":1}"#, "invalid snapshot at entries[0].\"x\": unknown field"),
            (r#"{"key":"a","value":1,"value":2}"#, "invalid snapshot at entries[0].value: repeated field"),
            (r#"{"key":"a","value":1},{"key":"b","value":1},{"key":"a","value":2}"#,
                "invalid snapshot at entries[2].key: the same key as entries[0]"),
            (r#"{"key":"a","value":{"f":1,"f":2}}"#, "invalid snapshot at entries[0].value: repeated field name"),
            (r#"{"key":"a","encoding":"hex","value":1}"#,
                "invalid snapshot at entries[0].encoding: expected \"base64\" or \"utf8\""),
            (r#"{"key":"a","encoding":"base64","value":1}"#, "invalid snapshot at entries[0].key: invalid base64"),
            (r#"{"key":"YQ==","encoding":"base64","value":["YQ=","x"]}"#,
                "invalid snapshot at entries[0].value: invalid base64"),
            (r#"{"key":"a","value":1,"expires_at_ms":"1"}"#,
                "invalid snapshot at entries[0].expires_at_ms: expected an integer (Unix milliseconds)"),
            (r#"{"key":"a","value":1,"ttls":{}}"#, "invalid snapshot at entries[0].ttls: expected an array"),
            (r#"{"key":"a","value":1,"ttls":[{"path":[],"expires_at_ms":1}]}"#,
                "invalid snapshot at entries[0].ttls[0].path: empty path (the key's own deadline is expires_at_ms)"),
            (r#"{"key":"a","value":1,"ttls":[{"path":["x",1],"expires_at_ms":1}]}"#,
                "invalid snapshot at entries[0].ttls[0].path[1]: expected a string"),
            (r#"{"key":"a","value":1,"ttls":[{"path":["x"]}]}"#,
                "invalid snapshot at entries[0].ttls[0].expires_at_ms: missing field"),
            (r#"{"key":"a","value":1,"ttls":[{"path":["x"],"expires_at_ms":1},{"path":["x"],"expires_at_ms":2}]}"#,
                "invalid snapshot at entries[0].ttls[1].path: repeated path"),
            (r#"{"key":"a","value":1,"ttls":[{"path":["x"],"expires_at_ms":1,"y":0}]}"#,
                "invalid snapshot at entries[0].ttls[0].\"y\": unknown field"),
            (r#"{"key":"a","value":1,"non_finite":[{"path":[],"value":"NaN"}]}"#,
                "invalid snapshot at entries[0].non_finite[0].path: does not address a null in the value"),
            (r#"{"key":"a","value":[null],"non_finite":[{"path":["01"],"value":"NaN"}]}"#,
                "invalid snapshot at entries[0].non_finite[0].path: does not address a null in the value"),
            (r#"{"key":"a","value":null,"non_finite":[{"path":[],"value":"nan"}]}"#,
                "invalid snapshot at entries[0].non_finite[0].value: expected \"NaN\", \"Infinity\" or \"-Infinity\""),
            (r#"{"key":"a","value":null,"non_finite":[{"path":[],"value":"NaN"},{"path":[],"value":"NaN"}]}"#,
                "invalid snapshot at entries[0].non_finite[1].path: does not address a null in the value"),
        ];
        for (entries, expected) in cases {
            assert_eq!(err(with_entries(entries)), expected, "{entries}");
        }
    }

    #[test]
    fn accepted_variants() {
        let s = with_entries(
            r#" {"value":{"a":[null,{"b":null}]},"key":"k","encoding":"utf8","expires_at_ms":null,
                 "non_finite":[{"value":"Infinity","path":["a","1","b"]},{"path":["a","0"],"value":"NaN"}]} "#,
        )
        .unwrap();
        let e = &s.entries[0];
        assert_eq!(e.expires_at, None);
        let a = e.value.as_hash().unwrap()[&b"a"[..]].as_list().unwrap();
        assert!(matches!(a[0], Value::Number(n) if n.is_nan()));
        assert_eq!(
            a[1].as_hash().unwrap()[&b"b"[..]],
            Value::Number(f64::INFINITY)
        );
        // Strings that look like base64 are strings in a UTF-8 entry.
        let s = with_entries(r#"{"key":"YQ==","value":"YQ=="}"#).unwrap();
        assert_eq!(s.entries[0].value, Value::string(b"YQ=="));
        assert_eq!(&s.entries[0].key[..], b"YQ==");
    }

    #[test]
    fn depth() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let entry = |n| format!(r#"{{"key":"a","value":{}}}"#, nested(n));
        assert!(with_entries(&entry(128)).is_ok());
        assert_eq!(
            err(with_entries(&entry(129))),
            "document nested deeper than 128 levels"
        );
        assert_eq!(
            err(doc(&format!("{HEAD}{}", "[".repeat(1_000_000)))),
            "document nested deeper than 128 levels"
        );
        assert!(parse_snapshot(
            &mut format!("{HEAD}{{\"key\":\"a\",\"value\":1,\"ttls\":[{{\"path\":[\"x\"],\"expires_at_ms\":1}}]}}]}}")
                .into_bytes(),
            0
        )
        .is_ok());
    }

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
