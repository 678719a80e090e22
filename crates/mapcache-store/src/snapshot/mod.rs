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
//! - After `entries`, optionally: `expires_at_ms`, the cache's own deadline (Unix
//!   milliseconds; a named cache's TTL), and `triggers`, the cache's triggers in the
//!   shape Go's backup uses (`{pattern: [{"id","key","command"}]}`), kept as a JSON value.
//! - `non_finite`: JSON has no NaN or infinities, so a non-finite number is written as
//!   `null` in the value and listed here as `{"path":[...],"value":"NaN"|"Infinity"|
//!   "-Infinity"}`, its path addressing the node from the root (field names, and list
//!   positions as decimal text; `[]` is the value itself). NaN payloads are not kept.
//!   `-0.0` is written as `-0.0`, so the sign of zero survives too.
//!
//! Numbers are written as [`json::write_number`](crate::json::write_number) writes them (shortest round-trip text),
//! so every `f64` comes back bit for bit (NaN payloads aside).
//!
//! [`parse_snapshot`] checks everything (format, version, every field's type, no unknown
//! or repeated field, no repeated key, no repeated nested path, canonical base64, integer
//! deadlines) before answering, so a caller can parse fully, then swap the cache's
//! content in one go. The format is described for humans in `docs/snapshot-format.md`.
//!
//! The writer is `write.rs`, the parser `parse.rs`; both code byte strings with
//! `base64.rs` (the `base64` crate, canonical standard form).

mod base64;
mod go;
mod parse;
mod write;

pub use go::{parse_any, parse_go_backup, GoBackupWriter};
pub use parse::parse_snapshot;
pub use write::SnapshotWriter;

use bytes::Bytes;

use crate::json::JsonError;
use crate::value::Value;

/// The `format` tag of a snapshot document.
pub const FORMAT: &str = "mapcache-snapshot";
/// The version this build writes and reads.
pub const VERSION: u64 = 1;

/// A parsed snapshot (of either format: [`parse_any`] reads both).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    pub cache: String,
    pub created_at_ms: i64,
    pub entries: Vec<SnapshotEntry>,
    /// The cache's own deadline, Unix milliseconds (a named cache's TTL).
    pub expires_at: Option<i64>,
    /// The cache's triggers in Go's backup shape (`{pattern: [{"id","key","command"}]}`),
    /// as `mapcache_programs::Triggers::from_value` reads them; the store does not
    /// interpret them.
    pub triggers: Option<Value>,
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

/// How an entry's byte strings are written: plain JSON strings, or base64 in all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Utf8,
    Base64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

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
            s.entries[2]
                .value
                .as_list()
                .unwrap()
                .get(1)
                .unwrap()
                .to_value(),
            Value::Number(f64::NEG_INFINITY)
        );
        let Value::Number(z) = s.entries[0]
            .value
            .as_hash()
            .unwrap()
            .get(b"z")
            .unwrap()
            .to_value()
        else {
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
        let a = e
            .value
            .as_hash()
            .unwrap()
            .get(b"a")
            .unwrap()
            .as_list()
            .unwrap();
        assert!(matches!(a.get(0).unwrap().to_value(), Value::Number(n) if n.is_nan()));
        assert_eq!(
            a.get(1).unwrap().as_hash().unwrap().get(b"b").unwrap(),
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
}
