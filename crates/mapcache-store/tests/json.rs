//! Properties of the JSON layer: write → parse is the identity on JSON-representable
//! values, the output matches what RESP replies have always shown, malformed input is
//! an error (never a panic), and nesting beyond the limit is refused.

use mapcache_store::json::{self, JsonError, DEFAULT_MAX_DEPTH};
use mapcache_store::{Hash, Value};
use proptest::prelude::*;

/// Order-sensitive equality (`Value`'s `PartialEq` compares hashes as maps).
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
        _ => a == b,
    }
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(any::<char>(), 0..12).prop_map(String::from_iter),
        "[a-z\"\\\\/ \t\n\u{0}-\u{1f}é🎉]{0,12}",
    ]
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |n| n.is_finite()),
        any::<i64>().prop_map(|n| n as f64),
        (-1000i32..1000).prop_map(|n| f64::from(n) / 8.0),
        Just(1e17),
        Just(-0.0),
        Just(f64::MAX),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
    ]
}

/// Values JSON can carry: UTF-8 strings, finite numbers.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        text().prop_map(|s| Value::Str(s.into())),
        finite().prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(8, 128, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| Value::List(v.into())),
            prop::collection::vec((text(), inner), 0..6).prop_map(|kv| {
                let mut h = Hash::default();
                for (k, v) in kv {
                    h.insert(k.as_bytes(), v);
                }
                Value::hash(h)
            }),
        ]
    })
}

fn written(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    json::write(v, &mut out);
    out
}

/// The string writer the command layer had before `json.rs` (hashes.rs `json_string`):
/// RESP replies must stay byte for byte the same.
fn old_json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            c if c < 0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// strings.rs `json_number` before `json.rs`.
fn old_json_number(n: f64) -> String {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e17 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// Edits applied to a valid document.
#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop_oneof![
        any::<u8>(),
        prop::sample::select(b"[]{}\":,\\0123456789-+.eEtrufalsn \x00\xff".to_vec()),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
        (any::<usize>(), 1usize..8).prop_map(|(i, n)| Edit::Delete(i, n)),
    ]
}

fn apply(doc: &mut Vec<u8>, edits: &[Edit]) {
    for e in edits {
        let len = doc.len();
        match *e {
            Edit::Truncate(i) => doc.truncate(i % (len + 1)),
            Edit::Flip(i, b) if len > 0 => doc[i % len] = b,
            Edit::Insert(i, b) => doc.insert(i % (len + 1), b),
            Edit::Delete(i, n) if len > 0 => {
                let at = i % len;
                doc.drain(at..(at + n).min(len));
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn write_then_parse_is_identity(v in json_value()) {
        let mut doc = written(&v);
        prop_assert!(std::str::from_utf8(&doc).is_ok());
        let back = json::parse(&mut doc, DEFAULT_MAX_DEPTH).unwrap();
        prop_assert!(same(&v, &back), "{:?}\n{:?}", v, back);
        // Writing is deterministic, and the binary-safe variant agrees on UTF-8 input.
        prop_assert_eq!(written(&back), written(&v));
        let mut binary_safe = Vec::new();
        json::write_binary_safe(&v, &mut binary_safe);
        prop_assert_eq!(binary_safe, written(&v));
    }

    #[test]
    fn strings_escape_as_the_resp_replies_did(s in prop::collection::vec(any::<u8>(), 0..40)) {
        let mut expected = Vec::new();
        old_json_string(&s, &mut expected);
        let mut got = Vec::new();
        json::write_binary_safe(&Value::Str(s.clone().into()), &mut got);
        prop_assert_eq!(&got, &expected);
        // The strict writer replaces invalid UTF-8 exactly as from_utf8_lossy does.
        let mut lossy = Vec::new();
        old_json_string(String::from_utf8_lossy(&s).as_bytes(), &mut lossy);
        let mut strict = Vec::new();
        json::write_string(&s, &mut strict);
        prop_assert_eq!(&strict, &lossy);
        prop_assert_eq!(written(&Value::Str(s.into())), lossy);
    }

    #[test]
    fn numbers_render_as_before(n in prop_oneof![any::<f64>(), finite()]) {
        let mut got = Vec::new();
        json::write_number(n, &mut got);
        prop_assert_eq!(String::from_utf8(got).unwrap(), old_json_number(n));
    }

    #[test]
    fn finite_numbers_round_trip(n in finite()) {
        let back = json::parse(&mut written(&Value::Number(n)), 0).unwrap();
        prop_assert_eq!(back, Value::Number(n));
    }

    #[test]
    fn numbers_read_exactly_anywhere_in_a_document(
        n in finite(),
        form in 0..4,
        pad in 0usize..100,
        negate in any::<bool>(),
    ) {
        let n = if negate { -n } else { n };
        let text = match form {
            0 => {
                let mut out = Vec::new();
                json::write_number(n, &mut out);
                String::from_utf8(out).unwrap()
            }
            1 => format!("{n:e}"),
            2 => format!("{n:E}"),
            _ => format!("{n:?}"),
        };
        let mut doc = format!("[\"{}\",{text}]", "x".repeat(pad)).into_bytes();
        let v = json::parse(&mut doc, 1).unwrap();
        prop_assert_eq!(v.as_list().unwrap().get(1).unwrap().to_value(), Value::Number(n), "{}", text);
    }

    #[test]
    fn unicode_escapes_read_back(s in prop::collection::vec(any::<char>(), 0..16)) {
        let mut doc = String::from("\"");
        for c in &s {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                doc.push_str(&format!("\\u{u:04x}"));
            }
        }
        doc.push('"');
        let v = json::parse(&mut doc.into_bytes(), 0).unwrap();
        prop_assert_eq!(v, Value::Str(String::from_iter(s).into()));
    }

    #[test]
    fn edited_documents_never_panic(v in json_value(), edits in prop::collection::vec(edit(), 1..4)) {
        let mut doc = written(&v);
        apply(&mut doc, &edits);
        if let Ok(parsed) = json::parse(&mut doc.clone(), DEFAULT_MAX_DEPTH) {
            // Whatever parses is a value that writes and parses back to itself.
            let mut again = written(&parsed);
            prop_assert!(same(&json::parse(&mut again, DEFAULT_MAX_DEPTH).unwrap(), &parsed));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(mut doc in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = json::parse(&mut doc, 4);
    }

    #[test]
    fn nesting_beyond_the_limit_is_refused(
        kinds in prop::collection::vec(any::<bool>(), 1..3000),
        limit in 0usize..200,
    ) {
        // A mix of arrays and objects, `kinds.len()` deep.
        let mut doc = Vec::new();
        for &array in &kinds {
            doc.extend_from_slice(if array { b"[" } else { b"{\"k\":" });
        }
        let opening = doc.len();
        doc.extend_from_slice(b"0");
        for &array in kinds.iter().rev() {
            doc.push(if array { b']' } else { b'}' });
        }
        let result = json::parse(&mut doc.clone(), limit);
        if kinds.len() > limit {
            prop_assert_eq!(result, Err(JsonError::TooDeep { max_depth: limit }));
            // Unbalanced (truncated) too.
            doc.truncate(opening);
            prop_assert_eq!(
                json::parse(&mut doc, limit),
                Err(JsonError::TooDeep { max_depth: limit })
            );
        } else {
            prop_assert!(result.is_ok());
        }
    }
}

#[test]
fn million_brackets() {
    for open in [b'[', b'{'] {
        let mut doc = vec![open; 1_000_000];
        assert_eq!(
            json::parse(&mut doc, DEFAULT_MAX_DEPTH)
                .unwrap_err()
                .to_string(),
            "document nested deeper than 128 levels"
        );
    }
    let mut balanced = [vec![b'['; 1_000_000], vec![b']'; 1_000_000]].concat();
    assert_eq!(
        json::parse(&mut balanced, DEFAULT_MAX_DEPTH),
        Err(JsonError::TooDeep { max_depth: 128 })
    );
}

#[test]
fn exact_output() {
    let mut doc =
        br#"{"s":"q\"b\\s/\u0000\u001f\b\f\n\r\t\u00e9\u2028","n":[1,1.5,-0,1e300,-2.5e-3,12345678901234567890],"e":{},"a":[],"t":true,"z":null}"#
            .to_vec();
    let v = json::parse(&mut doc, DEFAULT_MAX_DEPTH).unwrap();
    let out = String::from_utf8(written(&v)).unwrap();
    assert_eq!(
        out,
        format!(
            "{{\"s\":\"q\\\"b\\\\s/\\u0000\\u001f\\u0008\\u000c\\n\\r\\té\u{2028}\",\"n\":[1,1.5,0,1{},-0.0025,12345678901234567000],\"e\":{{}},\"a\":[],\"t\":true,\"z\":null}}",
            "0".repeat(300)
        )
    );
}
