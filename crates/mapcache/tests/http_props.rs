//! Property tests of the JSON <-> value conversion through the HTTP API of the real
//! binary: any value PUT is read back as the same JSON (over HTTP, and through a
//! backup and restore), and any malformed body answers 400 and changes nothing.
//! (The conversion itself is property-tested at length in
//! crates/mapcache-store/tests/json.rs; these check the API keeps to it.)

#[path = "support/http.rs"]
mod http;
mod support;

use http::Http;
use mapcache_store::{json, Hash, Value};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use support::Server;

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        ".{0,12}".prop_map(|s: String| Value::Str(s.into())),
        (-1e6f64..1e6).prop_map(Value::Number),
        any::<i32>().prop_map(|n| Value::Number(f64::from(n))),
        prop::num::f64::NORMAL.prop_map(Value::Number),
        any::<bool>().prop_map(Value::Bool),
        Just(Value::Null),
    ];
    leaf.prop_recursive(5, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| Value::List(v.into())),
            prop::collection::vec(("[a-z/*%. ]{0,6}", inner), 0..6).prop_map(|kv| {
                let mut h = Hash::default();
                for (k, v) in kv {
                    h.insert(k.as_bytes(), v);
                }
                Value::hash(h)
            }),
        ]
    })
}

fn text(v: &Value) -> String {
    let mut out = Vec::new();
    json::write(v, &mut out);
    String::from_utf8(out).unwrap()
}

#[derive(Debug, Clone)]
enum Edit {
    Truncate(usize),
    Flip(usize, u8),
    Insert(usize, u8),
}

fn edit() -> impl Strategy<Value = Edit> {
    let byte = prop::sample::select(b"[]{}\":,\\0-.etrufalsn \x00\xff".to_vec());
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), byte.clone()).prop_map(|(i, b)| Edit::Flip(i, b)),
        (any::<usize>(), byte).prop_map(|(i, b)| Edit::Insert(i, b)),
    ]
}

/// Runs `cases` cases of `strategy` against one server started for the test (and
/// stopped by PID when it ends).
fn check<S: Strategy>(
    cases: u32,
    strategy: S,
    test: impl Fn(&Server, S::Value) -> Result<(), TestCaseError>,
) {
    let server = Server::start(&[]);
    let mut runner = TestRunner::new(Config::with_cases(cases));
    if let Err(e) = runner.run(&strategy, |v| test(&server, v)) {
        panic!("{e}");
    }
}

#[test]
fn any_value_put_reads_back_as_the_same_json() {
    check(64, value(), |server, v| {
        let h = Http::new(server.http);
        let doc = text(&v);
        // PUT replaces an existing node: create it first.
        let _ = h.post("/api/v1/keys", r#"{"entries":{"prop/rt":0}}"#);
        let put = h.put("/api/v1/keys/prop/rt", &format!(r#"{{"value":{doc}}}"#));
        prop_assert_eq!((put.status, put.text()), (200, String::new()));
        let got = h.get("/api/v1/keys/prop/rt");
        prop_assert_eq!((got.status, got.text()), (200, doc.clone()));
        // Inside an entry of a POST, then through backup and restore into another cache.
        let c = Http::new(server.http).with_header("X-Cache-Name", "props");
        let _ = h.post("/api/v1/caches", r#"{"name":"props"}"#);
        let _ = c.delete("/api/v1/keys/e");
        let body = format!(r#"{{"entries":{{"e/v":{doc}}}}}"#);
        prop_assert_eq!(c.post("/api/v1/keys", &body).status, 201);
        let backup = c.post("/admin/backup", "").text();
        let other = Http::new(server.http).with_header("X-Cache-Name", "props2");
        let r = other.post("/admin/restore", &backup);
        prop_assert_eq!(r.status, 200, "{}", r.text());
        let back = other.get("/api/v1/keys/e/v");
        prop_assert_eq!((back.status, back.text()), (200, doc));
        Ok(())
    });
}

#[test]
fn malformed_bodies_answer_400_and_change_nothing() {
    let strategy = (value(), prop::collection::vec(edit(), 1..4));
    check(64, strategy, |server, (v, edits)| {
        let h = Http::new(server.http);
        let mut doc = text(&v).into_bytes();
        for e in &edits {
            let len = doc.len();
            match *e {
                Edit::Truncate(i) => doc.truncate(i % (len + 1)),
                Edit::Flip(i, b) if len > 0 => doc[i % len] = b,
                Edit::Insert(i, b) => doc.insert(i % (len + 1), b),
                _ => {}
            }
        }
        prop_assume!(json::parse(&mut doc.clone(), 128).is_err());
        let _ = h.post("/api/v1/keys", r#"{"entries":{"prop/mal":0}}"#);
        h.put("/api/v1/keys/prop/mal", r#"{"value":"before"}"#)
            .is(200, "");
        let mut wrapped = br#"{"value":"#.to_vec();
        wrapped.extend_from_slice(&doc);
        wrapped.push(b'}');
        // An edit may leave the value invalid alone yet valid inside the envelope
        // (`1,"x":2` in `{"value":1,"x":2}`): such a case proves nothing.
        prop_assume!(json::parse(&mut wrapped.clone(), 128).is_err());
        let bad = h.request("PUT", "/api/v1/keys/prop/mal", &[], wrapped);
        prop_assert_eq!(bad.status, 400, "{}", bad.text());
        let prefix = r#"{"message":"invalid json payload""#;
        prop_assert!(bad.text().starts_with(prefix), "{}", bad.text());
        let mut entries = br#"{"entries":{"prop/mal":"#.to_vec();
        entries.extend_from_slice(&doc);
        entries.extend_from_slice(b",\"prop/new\":1}}");
        prop_assume!(json::parse(&mut entries.clone(), 128).is_err());
        prop_assert_eq!(
            h.request("PUT", "/api/v1/keys", &[], entries.clone())
                .status,
            400
        );
        prop_assert_eq!(h.request("POST", "/api/v1/keys", &[], entries).status, 400);
        h.get("/api/v1/keys/prop/mal").is(200, r#""before""#);
        prop_assert_eq!(h.get("/api/v1/keys/prop/new").status, 404);
        Ok(())
    });
}
