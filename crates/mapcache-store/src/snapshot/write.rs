//! Writing a snapshot document: [`SnapshotWriter`], entry by entry (the format is in
//! the module doc of `snapshot/mod.rs` and docs/snapshot-format.md).

use bytes::Bytes;

use super::{base64, Encoding, Snapshot, FORMAT, VERSION};
use crate::json::{self, Position, Style};
use crate::value::Value;

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
    /// distinct and non-empty, as [`parse_snapshot`](super::parse_snapshot) refuses the
    /// document otherwise). Keys must be distinct across entries, for the same reason.
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
        self.finish_with(out, None, None);
    }

    /// Appends the document's tail with the cache's own deadline (Unix milliseconds)
    /// and its triggers (Go's backup shape, written as JSON), each when given.
    pub fn finish_with(self, out: &mut Vec<u8>, expires_at: Option<i64>, triggers: Option<&Value>) {
        out.extend_from_slice(b"\n]");
        if let Some(at) = expires_at {
            out.extend_from_slice(b",\"expires_at_ms\":");
            out.extend_from_slice(itoa::Buffer::new().format(at).as_bytes());
        }
        if let Some(t) = triggers {
            out.extend_from_slice(b",\"triggers\":");
            json::write(t, out);
        }
        out.extend_from_slice(b"}\n");
    }
}

impl Snapshot {
    /// Appends the whole snapshot as one document (as [`SnapshotWriter`] writes it).
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = SnapshotWriter::begin(&self.cache, self.created_at_ms, out);
        for e in &self.entries {
            w.entry(out, &e.key, &e.value, e.expires_at, &e.nested);
        }
        w.finish_with(out, self.expires_at, self.triggers.as_ref());
    }
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
