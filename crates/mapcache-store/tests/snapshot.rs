//! Properties of the snapshot format: any set of entries (binary keys and strings,
//! every f64, deadlines, nested TTL paths) comes back exactly; the document is JSON,
//! written entry by entry; malformed documents answer an error, never a panic.

use std::collections::{BTreeMap, HashSet};

use bytes::Bytes;
use mapcache_store::json::{self, DEFAULT_MAX_DEPTH};
use mapcache_store::snapshot::{parse_snapshot, Snapshot, SnapshotEntry, SnapshotWriter};
use mapcache_store::{Hash, Value};
use proptest::prelude::*;

/// Exact equality: hash order matters, numbers compare bit for bit (any NaN equals any
/// NaN: payloads are not kept).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Hash(x), Value::Hash(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((k1, v1), (k2, v2))| k1 == k2 && same(&v1.cow(), &v2.cow()))
        }
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|(v1, v2)| same(&v1.cow(), &v2.cow()))
        }
        (Value::Number(x), Value::Number(y)) => {
            x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan())
        }
        _ => a == b,
    }
}

fn same_snapshot(a: &Snapshot, b: &Snapshot) -> bool {
    a.cache == b.cache
        && a.created_at_ms == b.created_at_ms
        && a.entries.len() == b.entries.len()
        && a.entries.iter().zip(&b.entries).all(|(x, y)| {
            x.key == y.key
                && x.expires_at == y.expires_at
                && x.nested == y.nested
                && same(&x.value, &y.value)
        })
}

/// Mostly UTF-8 (including text that looks like base64 or like the format's own
/// field names), sometimes arbitrary bytes.
fn bytes() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        4 => "[a-zA-Z0-9+/= \"\\\\\n\u{0}é🎉]{0,8}".prop_map(Bytes::from),
        1 => prop::sample::select(vec!["encoding", "base64", "key", "value", "NaN", "0", "1"])
            .prop_map(|s: &'static str| Bytes::from_static(s.as_bytes())),
        2 => prop::collection::vec(any::<u8>(), 0..8).prop_map(Bytes::from),
    ]
}

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        any::<i64>().prop_map(|n| n as f64),
        prop::sample::select(vec![
            0.0,
            -0.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MAX,
            f64::MIN,
            5e-324,
            1e17,
            -1.8446744073709553e18,
        ]),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        bytes().prop_map(|b| Value::Str(b.into())),
        number().prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(6, 64, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| Value::List(v.into())),
            prop::collection::vec((bytes(), inner), 0..5).prop_map(|kv| {
                let mut h = Hash::default();
                for (k, v) in kv {
                    h.insert(&k, v);
                }
                Value::hash(h)
            }),
        ]
    })
}

fn entries() -> impl Strategy<Value = Vec<SnapshotEntry>> {
    let entry = (
        bytes(),
        value(),
        prop::option::of(any::<i64>()),
        prop::collection::btree_map(prop::collection::vec(bytes(), 1..4), any::<i64>(), 0..4),
    )
        .prop_map(
            |(key, value, expires_at, nested): (_, _, _, BTreeMap<Vec<Bytes>, i64>)| {
                SnapshotEntry {
                    key,
                    value,
                    expires_at,
                    nested: nested.into_iter().collect(),
                }
            },
        );
    prop::collection::vec(entry, 0..6).prop_map(|mut entries| {
        let mut seen = HashSet::new();
        entries.retain(|e| seen.insert(e.key.clone()));
        entries
    })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (any::<String>(), any::<i64>(), entries()).prop_map(|(cache, created_at_ms, entries)| {
        Snapshot {
            cache,
            created_at_ms,
            entries,
            ..Snapshot::default()
        }
    })
}

fn written(s: &Snapshot) -> Vec<u8> {
    let mut out = Vec::new();
    s.write(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn round_trips_exactly(s in snapshot()) {
        // Streamed: the writer's buffer is drained after every entry, as the server does.
        let mut file = Vec::new();
        let mut chunk = Vec::new();
        let mut w = SnapshotWriter::begin(&s.cache, s.created_at_ms, &mut chunk);
        for e in &s.entries {
            w.entry(&mut chunk, &e.key, &e.value, e.expires_at, &e.nested);
            file.append(&mut chunk);
        }
        prop_assert_eq!(w.entries(), s.entries.len());
        w.finish(&mut chunk);
        file.append(&mut chunk);
        prop_assert_eq!(&file, &written(&s));

        // Plain JSON, readable by any JSON reader.
        prop_assert!(std::str::from_utf8(&file).is_ok());
        prop_assert!(json::parse(&mut file.clone(), DEFAULT_MAX_DEPTH + 3).is_ok());

        let back = parse_snapshot(&mut file, DEFAULT_MAX_DEPTH).unwrap();
        prop_assert!(same_snapshot(&s, &back), "{:?}\n{:?}", s, back);
    }

    #[test]
    fn utf8_entries_stay_readable(key in "[a-z]{1,8}", text in "[a-z0-9é]{0,8}") {
        let mut h = Hash::default();
        h.insert(text.as_bytes(), Value::Str(text.clone().into()));
        let s = Snapshot {
            cache: "default".into(),
            created_at_ms: 1,
            entries: vec![SnapshotEntry {
                key: Bytes::from(key.clone()),
                value: Value::hash(h),
                expires_at: None,
                nested: vec![],
            }],
            ..Snapshot::default()
        };
        let doc = String::from_utf8(written(&s)).unwrap();
        prop_assert!(!doc.contains("encoding"));
        let line = format!(r#"{{"key":"{key}","value":{{"{text}":"{text}"}}}}"#);
        prop_assert!(doc.contains(&line), "{}", doc);
    }

    #[test]
    fn edited_documents_never_panic(
        s in snapshot(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), 0u8..3), 1..4),
    ) {
        let mut doc = written(&s);
        for (at, byte, op) in edits {
            let len = doc.len();
            match op {
                0 => doc[at % len] = byte,
                1 => doc.insert(at % (len + 1), byte),
                _ => {
                    doc.remove(at % len);
                }
            }
            if doc.is_empty() {
                break;
            }
        }
        if let Ok(parsed) = parse_snapshot(&mut doc, DEFAULT_MAX_DEPTH) {
            // Whatever is accepted writes and reads back to itself.
            let again = parse_snapshot(&mut written(&parsed), DEFAULT_MAX_DEPTH).unwrap();
            prop_assert!(same_snapshot(&parsed, &again));
        }
    }

    #[test]
    fn truncated_documents_are_refused(s in snapshot(), cut in any::<prop::sample::Index>()) {
        let doc = written(&s);
        // Everything up to the closing brace matters; only the final newline does not.
        let end = doc.len() - 1;
        let mut prefix = doc[..cut.index(end)].to_vec();
        prop_assert!(parse_snapshot(&mut prefix, DEFAULT_MAX_DEPTH).is_err());
    }
}

#[test]
fn values_as_deep_as_the_limit() {
    let mut v = Value::Number(f64::NAN);
    for i in 0..DEFAULT_MAX_DEPTH {
        v = if i % 2 == 0 {
            Value::List([Value::Null, v].into())
        } else {
            let mut h = Hash::default();
            h.insert(&b"\xff"[..], v);
            Value::hash(h)
        };
    }
    let s = Snapshot {
        cache: "c".into(),
        created_at_ms: 0,
        entries: vec![SnapshotEntry {
            key: Bytes::from_static(b"deep"),
            value: v,
            expires_at: Some(i64::MAX),
            nested: vec![(vec![Bytes::from_static(b"1")], i64::MIN)],
        }],
        ..Snapshot::default()
    };
    let mut doc = written(&s);
    let back = parse_snapshot(&mut doc.clone(), DEFAULT_MAX_DEPTH).unwrap();
    assert!(same_snapshot(&s, &back));
    assert_eq!(
        parse_snapshot(&mut doc, DEFAULT_MAX_DEPTH - 1)
            .unwrap_err()
            .to_string(),
        "document nested deeper than 127 levels"
    );
}
