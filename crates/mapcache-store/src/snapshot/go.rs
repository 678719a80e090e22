//! The Go map-cache's backup file (what its `POST /admin/backup` writes and
//! `/admin/restore` reads), and [`parse_any`], which reads either format.
//!
//! ```text
//! {"name":"default","data":{"user":{"100":{"name":"Alice"}},"list":[1,2]},
//!  "key_expirations":{"user/100":1700000005},
//!  "triggers":{"user/*/name":[{"id":"…","key":"user/*/name","command":{"type":"NOOP"}}]},
//!  "expiration":1700000009}
//! ```
//!
//! - `data` is the cache's whole tree: each top-level field is a root key.
//! - `key_expirations` maps a `/` path (a root, or a node inside one) to its deadline in
//!   Unix **seconds**; `expiration` is the cache's own deadline, also in seconds.
//! - `triggers` is kept as a JSON value ([`Snapshot::triggers`]); the programs crate
//!   reads it.
//!
//! What the Go format cannot carry, mapcache writes as well as it can: deadlines are
//! rounded **up** to the second (a key never goes before its time), bytes that are not
//! UTF-8 become U+FFFD and non-finite numbers `null` (as [`json::write`] writes them).
//! mapcache's own format (`parse.rs`) keeps all of it.

use crate::field::Field;
use bytes::Bytes;

use super::{invalid, parse_snapshot, Snapshot, SnapshotEntry, SnapshotError};
use crate::json;
use crate::value::Value;

/// Objects around a value in a Go backup: the document, `data`.
const ENVELOPE_DEPTH: usize = 2;

/// Reads a backup of either format, told apart by its fields: `format` is mapcache's
/// snapshot (`parse_snapshot`), `data` or `name` without `format` is Go's backup.
pub fn parse_any(input: &mut [u8], max_depth: usize) -> Result<Snapshot, SnapshotError> {
    // mapcache's writer always starts with its format tag: no second parse for it.
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    if input[start..].starts_with(br#"{"format":"#) {
        return parse_snapshot(input, max_depth);
    }
    let original = input.to_vec();
    let doc = json::parse(input, max_depth.saturating_add(ENVELOPE_DEPTH).max(4))
        .map_err(SnapshotError::Json)?;
    let Value::Hash(fields) = &doc else {
        return Err(SnapshotError::NotASnapshot("the document is not an object"));
    };
    if fields.contains_key(b"format") {
        let mut original = original;
        return parse_snapshot(&mut original, max_depth);
    }
    if fields.contains_key(b"data") || fields.contains_key(b"name") {
        return go_backup(doc);
    }
    Err(SnapshotError::NotASnapshot(
        "neither a mapcache snapshot (\"format\") nor a map-cache backup (\"data\")",
    ))
}

/// Reads a Go map-cache backup file.
pub fn parse_go_backup(input: &mut [u8], max_depth: usize) -> Result<Snapshot, SnapshotError> {
    let doc = json::parse(input, max_depth.saturating_add(ENVELOPE_DEPTH).max(4))
        .map_err(SnapshotError::Json)?;
    go_backup(doc)
}

/// Unix seconds (Go) to milliseconds.
fn seconds(v: &Value, at: &str) -> Result<i64, SnapshotError> {
    match v {
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e15 => (*n as i64)
            .checked_mul(1000)
            .ok_or_else(|| invalid(at, "integer out of range")),
        _ => Err(invalid(at, "expected an integer (Unix seconds)")),
    }
}

fn go_backup(doc: Value) -> Result<Snapshot, SnapshotError> {
    let Value::Hash(mut fields) = doc else {
        return Err(SnapshotError::NotASnapshot("the document is not an object"));
    };
    let cache = match fields.get(b"name").map(Field::cow).as_deref() {
        None | Some(Value::Null) => String::new(),
        Some(Value::Str(s)) => String::from_utf8_lossy(s.as_slice()).into_owned(),
        Some(_) => return Err(invalid("name", "expected a string")),
    };
    let expires_at = match fields.get(b"expiration").map(Field::cow).as_deref() {
        None | Some(Value::Null) => None,
        Some(v) => Some(seconds(v, "expiration")?),
    };
    let triggers = match fields.remove(b"triggers") {
        None | Some(Value::Null) => None,
        Some(t @ Value::Hash(_)) => Some(t),
        Some(_) => return Err(invalid("triggers", "expected an object")),
    };
    let mut roots = match fields.remove(b"data") {
        None | Some(Value::Null) => crate::Hash::new(),
        Some(Value::Hash(h)) => h,
        Some(_) => return Err(invalid("data", "expected an object")),
    };
    let mut entries = Vec::with_capacity(roots.len());
    while let Some((key, value)) = roots.pop() {
        entries.push(SnapshotEntry {
            key: key.to_bytes(),
            value,
            expires_at: None,
            nested: Vec::new(),
        });
    }
    entries.reverse();
    match fields.get(b"key_expirations").and_then(Field::as_value) {
        None | Some(Value::Null) => {}
        Some(Value::Hash(exps)) => {
            for (path, v) in exps.iter() {
                let at = format!("key_expirations.{}", String::from_utf8_lossy(path));
                let ms = seconds(&v.cow(), &at)?;
                attach(&mut entries, path, ms);
            }
        }
        Some(_) => return Err(invalid("key_expirations", "expected an object")),
    }
    Ok(Snapshot {
        cache,
        created_at_ms: 0,
        entries,
        expires_at,
        triggers,
    })
}

/// Puts the deadline of `path` on its root (the whole path is a root key) or as a
/// nested deadline below it; a path whose root is not in the data is dropped (Go sets
/// a timer that deletes nothing).
fn attach(entries: &mut [SnapshotEntry], path: &[u8], ms: i64) {
    if let Some(e) = entries.iter_mut().find(|e| &e.key[..] == path) {
        e.expires_at = Some(ms);
        return;
    }
    let mut segs = path.split(|&b| b == b'/');
    let root = segs.next().unwrap_or_default();
    let rest: Vec<Bytes> = segs.map(Bytes::copy_from_slice).collect();
    if rest.is_empty() {
        return;
    }
    if let Some(e) = entries.iter_mut().find(|e| &e.key[..] == root) {
        e.nested.retain(|(p, _)| *p != rest);
        e.nested.push((rest, ms));
    }
}

/// Writes a Go map-cache backup, root by root (the caller may drain `out` between
/// entries); the deadlines are gathered and written at the end.
#[derive(Debug, Default)]
pub struct GoBackupWriter {
    entries: usize,
    expirations: Vec<(Vec<u8>, i64)>,
}

/// Milliseconds to Unix seconds, rounded up.
fn ms_to_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

impl GoBackupWriter {
    /// Appends the document's head.
    pub fn begin(cache: &str, out: &mut Vec<u8>) -> GoBackupWriter {
        out.extend_from_slice(b"{\"name\":");
        json::write_string(cache.as_bytes(), out);
        out.extend_from_slice(b",\"data\":{");
        GoBackupWriter::default()
    }

    /// Appends one root key and remembers its deadlines (`nested`: path segments below
    /// the root).
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
        self.entries += 1;
        json::write_string(key, out);
        out.push(b':');
        json::write(value, out);
        if let Some(ms) = expires_at {
            self.expirations.push((key.to_vec(), ms));
        }
        for (path, ms) in nested {
            let mut p = key.to_vec();
            for seg in path {
                p.push(b'/');
                p.extend_from_slice(seg);
            }
            self.expirations.push((p, *ms));
        }
    }

    /// Appends the tail: key deadlines, triggers and the cache's own deadline.
    pub fn finish(self, out: &mut Vec<u8>, expires_at: Option<i64>, triggers: Option<&Value>) {
        out.extend_from_slice(b"},\"key_expirations\":{");
        for (i, (path, ms)) in self.expirations.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json::write_string(path, out);
            out.push(b':');
            out.extend_from_slice(itoa::Buffer::new().format(ms_to_seconds(*ms)).as_bytes());
        }
        out.push(b'}');
        if let Some(t) = triggers {
            out.extend_from_slice(b",\"triggers\":");
            json::write(t, out);
        }
        if let Some(ms) = expires_at {
            out.extend_from_slice(b",\"expiration\":");
            out.extend_from_slice(itoa::Buffer::new().format(ms_to_seconds(ms)).as_bytes());
        }
        out.extend_from_slice(b"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_go_backup() {
        let mut text = br#"{"name":"c","data":{"user":{"100":{"name":"Alice","tags":["a",1]}},"n":5},
            "key_expirations":{"user/100/name":1700000005,"n":1700000009,"ghost":1},
            "triggers":{"n":[{"id":"x","key":"n","command":{"type":"NOOP"}}]},"expiration":1800000000,"extra":1}"#
            .to_vec();
        let s = parse_any(&mut text, 128).unwrap();
        assert_eq!(s.cache, "c");
        assert_eq!(s.expires_at, Some(1_800_000_000_000));
        assert_eq!(s.entries.len(), 2);
        assert_eq!(&s.entries[0].key[..], b"user");
        assert_eq!(
            s.entries[0].nested,
            vec![(
                vec![Bytes::from_static(b"100"), Bytes::from_static(b"name")],
                1_700_000_005_000
            )]
        );
        assert_eq!(s.entries[1].expires_at, Some(1_700_000_009_000));
        assert!(s.triggers.is_some());
    }

    #[test]
    fn writes_what_it_reads() {
        let mut out = Vec::new();
        let mut w = GoBackupWriter::begin("c", &mut out);
        w.entry(&mut out, b"a", &Value::Number(1.0), Some(1_000_001), &[]);
        w.entry(
            &mut out,
            b"b",
            &Value::List([Value::string(b"x")].into()),
            None,
            &[(vec![Bytes::from_static(b"0")], 2_000)],
        );
        w.finish(&mut out, Some(5_000), None);
        assert_eq!(
            String::from_utf8(out.clone()).unwrap(),
            "{\"name\":\"c\",\"data\":{\"a\":1,\"b\":[\"x\"]},\"key_expirations\":{\"a\":1001,\"b/0\":2},\"expiration\":5}\n"
        );
        let s = parse_any(&mut out, 128).unwrap();
        assert_eq!(s.entries[0].expires_at, Some(1_001_000));
        assert_eq!(s.entries[1].nested[0].1, 2_000);
        assert_eq!(s.expires_at, Some(5_000));
    }

    #[test]
    fn tells_the_formats_apart() {
        let mut ours = Vec::new();
        let mut w = super::super::SnapshotWriter::begin("d", 1, &mut ours);
        w.entry(&mut ours, b"k", &Value::string(b"v"), None, &[]);
        w.finish_with(&mut ours, Some(9), Some(&Value::new_hash()));
        let s = parse_any(&mut ours, 128).unwrap();
        assert_eq!((s.cache.as_str(), s.expires_at), ("d", Some(9)));
        assert_eq!(s.triggers, Some(Value::new_hash()));
        let mut other = br#"{"x":1}"#.to_vec();
        assert!(matches!(
            parse_any(&mut other, 128),
            Err(SnapshotError::NotASnapshot(_))
        ));
        let mut bad = br#"{"data":[1]}"#.to_vec();
        assert_eq!(
            parse_any(&mut bad, 128).unwrap_err().to_string(),
            "invalid snapshot at data: expected an object"
        );
    }
}
