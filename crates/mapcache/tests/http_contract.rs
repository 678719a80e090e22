//! The Go map-cache's HTTP contract (MAPCACHE_API.md's HTTP table), one test per row
//! and per PATCH operation, against the real binary with a real HTTP client. Request
//! bodies are the bytes the Go server's own handler tests send (Go's `json.Marshal`
//! of a map: keys sorted, no spaces; or the raw strings those tests use).

#[path = "support/http.rs"]
mod http;
mod support;

use http::Http;
use support::{resp_pipeline, Server};

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// A server with one database (Go's caches: `default` only) and a client.
fn start() -> (Server, Http) {
    let server = Server::start(&["--databases", "1"]);
    let h = Http::new(server.http);
    (server, h)
}

/// Seeds `default` with `body` (a POST /api/v1/keys body).
fn seed(h: &Http, body: &str) {
    h.post("/api/v1/keys", body).is(201, "");
}

// ---------------------------------------------------------------------------------
// /api/v1/caches
// ---------------------------------------------------------------------------------

#[test]
fn get_caches_answers_the_names() {
    let (_s, h) = start();
    h.get("/api/v1/caches").is(200, r#"["default"]"#);
    h.post("/api/v1/caches", r#"{"name":"testcache"}"#)
        .is(201, "");
    h.get("/api/v1/caches")
        .is(200, r#"["default","testcache"]"#);
    // With mapcache's default 16 databases, the numbered ones are caches too.
    let server = Server::start(&["--databases", "3"]);
    Http::new(server.http)
        .get("/api/v1/caches")
        .is(200, r#"["default","1","2"]"#);
}

#[test]
fn get_caches_stats_answers_one_object_per_cache() {
    let (_s, h) = start();
    h.post("/api/v1/caches", r#"{"name":"c","ttl":60000}"#)
        .is(201, "");
    seed(&h, r#"{"entries":{"a":1}}"#);
    h.get("/api/v1/keys/a").is(200, "1");
    let r = h.get("/api/v1/caches/stats");
    assert_eq!(r.status, 200);
    let text = r.text();
    // `default` as one JSON object is {"a":1}: 7 bytes; one lookup so far.
    assert!(
        text.starts_with(r#"{"caches":[{"name":"default","size_bytes":7,"activity_count":"#),
        "{text}"
    );
    let c = text
        .split(r#"{"name":"c","size_bytes":2,"ttl_ms":"#)
        .nth(1)
        .unwrap_or_else(|| panic!("{text}"));
    let ttl: u64 = c.split(',').next().unwrap().parse().unwrap();
    assert!((50_000..=60_000).contains(&ttl), "{text}");
    assert!(text.ends_with(r#","activity_count":0}]}"#), "{text}");
}

#[test]
fn post_caches_creates_with_an_empty_201() {
    let (_s, h) = start();
    h.post("/api/v1/caches", r#"{"name":"testcache"}"#)
        .is(201, "");
    h.post("/api/v1/caches", r#"{"name":"testcache"}"#)
        .is_message(409, "cache already exists");
    h.post("/api/v1/caches", "{}")
        .is_message(400, "validation failed");
    h.post("/api/v1/caches", "{invalid json}")
        .is_message(400, "invalid json payload");
    // A TTL in milliseconds: the cache goes when it is due.
    h.post("/api/v1/caches", r#"{"name":"short","ttl":200}"#)
        .is(201, "");
    std::thread::sleep(std::time::Duration::from_millis(350));
    h.get("/api/v1/caches")
        .is(200, r#"["default","testcache"]"#);
}

#[test]
fn put_cache_sets_or_removes_its_expiry() {
    let (_s, h) = start();
    h.post("/api/v1/caches", r#"{"name":"c"}"#).is(201, "");
    h.put("/api/v1/caches/c", r#"{"ttl": 5000}"#).is(204, "");
    assert!(h
        .get("/api/v1/caches/stats")
        .text()
        .contains(r#""ttl_ms":"#));
    h.put("/api/v1/caches/c", r#"{"ttl": null}"#).is(204, "");
    assert!(!h
        .get("/api/v1/caches/stats")
        .text()
        .contains(r#""ttl_ms":"#));
    h.put("/api/v1/caches/c", r#"{"ttl": 150}"#).is(204, "");
    std::thread::sleep(std::time::Duration::from_millis(300));
    h.get("/api/v1/caches").is(200, r#"["default"]"#);
    h.put("/api/v1/caches/default", r#"{"ttl": 1000}"#)
        .is_message(400, "cannot modify the default cache");
    // Go answers 500 for a missing cache; mapcache 404.
    h.put("/api/v1/caches/ghost", r#"{"ttl": 1000}"#)
        .is_message(404, "cache not found");
    h.put("/api/v1/caches/c", "{invalid json}")
        .is_message(400, "invalid json payload");
}

#[test]
fn delete_cache_answers_200_and_default_can_be_deleted() {
    let (_s, h) = start();
    h.post("/api/v1/caches", r#"{"name":"c"}"#).is(201, "");
    h.delete("/api/v1/caches/c").is(200, "");
    h.delete("/api/v1/caches/c")
        .is_message(404, "could not find cache");
    // `default` is a RESP database in mapcache: deleting it empties it.
    seed(&h, r#"{"entries":{"a":1}}"#);
    h.delete("/api/v1/caches/default").is(200, "");
    h.get("/api/v1/keys/a").is_message(404, "key not found");
}

// ---------------------------------------------------------------------------------
// /api/v1/keys
// ---------------------------------------------------------------------------------

#[test]
fn post_keys_creates_entries_with_ttls() {
    let (server, h) = start();
    h.post("/api/v1/keys", r#"{"entries":{"key1":"value1","key2":42}}"#)
        .is(201, "");
    h.get("/api/v1/keys/key2").is(200, "42");
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"key3":"value1"},"ttl":{"key3":5000}}"#,
    )
    .is(201, "");
    let mut c = server.connect();
    let r = resp_pipeline(&mut c, &[cmd(&["PTTL", "key3"])]);
    let pttl: i64 = r[0].trim_start_matches(':').parse().unwrap();
    assert!((1..=5000).contains(&pttl), "{r:?}");
    // 409 when any key exists, and nothing of the request is written.
    h.post("/api/v1/keys", r#"{"entries":{"fresh":1,"key1":"x"}}"#)
        .is_message(409, "keys already exist");
    h.get("/api/v1/keys/fresh").is_message(404, "key not found");
    h.get("/api/v1/keys/key1").is(200, r#""value1""#);
    // Every TTL path must be one of the entries.
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"key9":"value1"},"ttl":{"key2":5000}}"#,
    )
    .is_message(400, "validation failed");
    h.get("/api/v1/keys/key9").is_message(404, "key not found");
    h.post("/api/v1/keys", r#"{"entries":{}}"#)
        .is_message(400, "validation failed");
    h.post("/api/v1/keys", "{invalid json}")
        .is_message(400, "invalid json payload");
}

#[test]
fn get_key_reads_leaves_branches_and_array_items() {
    let (_s, h) = start();
    seed(
        &h,
        r#"{"entries":{"user":{"name":"Alice","tags":["a","b",{"c":1}]}}}"#,
    );
    h.get("/api/v1/keys/user/name").is(200, r#""Alice""#);
    h.get("/api/v1/keys/user")
        .is(200, r#"{"name":"Alice","tags":["a","b",{"c":1}]}"#);
    h.get("/api/v1/keys/user/tags/1").is(200, r#""b""#);
    h.get("/api/v1/keys/user/tags/2/c").is(200, "1");
    // A Go client escapes the key's `/` in one path segment.
    h.get("/api/v1/keys/user%2Ftags%2F0").is(200, r#""a""#);
    h.get("/api/v1/keys/user/tags/3")
        .is_message(404, "key not found");
    h.get("/api/v1/keys/nonexistent")
        .is_message(404, "key not found");
    let r = h.get("/api/v1/keys/user/name");
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
}

#[test]
fn post_keys_get_answers_values_in_order_or_404() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"user":{"age":41,"name":"Alice"}}}"#);
    h.post("/api/v1/keys/get", r#"{"keys": ["user/name", "user/age"]}"#)
        .is(200, r#"["Alice",41]"#);
    h.post("/api/v1/keys/get", r#"{"keys": ["nonexistent"]}"#)
        .is_message(404, "key not found");
    h.post(
        "/api/v1/keys/get",
        r#"{"keys": ["user/name", "nonexistent"]}"#,
    )
    .is_message(404, "key not found");
    h.post("/api/v1/keys/get", r#"{"keys": []}"#)
        .is_message(400, "validation failed");
    h.post("/api/v1/keys/get", r#"{"keys": ["valid", ""]}"#)
        .is_message(400, "validation failed");
    h.post("/api/v1/keys/get", "{invalid json}")
        .is_message(400, "invalid json payload");
}

#[test]
fn put_key_replaces_the_value_field_and_fires_triggers() {
    let (_s, h) = start();
    seed(
        &h,
        r#"{"entries":{"key1":"oldvalue","counter":0,"total":0}}"#,
    );
    h.put("/api/v1/keys/key1", r#"{"value":"newvalue"}"#)
        .is(200, "");
    // The value, not the object `{"value": ...}`.
    h.get("/api/v1/keys/key1").is(200, r#""newvalue""#);
    h.put("/api/v1/keys/key1", r#"{"value":{"deep":[1,2]}}"#)
        .is(200, "");
    h.get("/api/v1/keys/key1/deep/1").is(200, "2");
    // The key must exist (Go: 500; mapcache: 404).
    h.put("/api/v1/keys/missing", r#"{"value":"x"}"#)
        .is_message(404, "key not found");
    h.get("/api/v1/keys/missing")
        .is_message(404, "key not found");
    h.put("/api/v1/keys/key1", "{invalid json}")
        .is_message(400, "invalid json payload");
    // Triggers fire on the replaced path.
    let id = h.post(
        "/api/v1/triggers",
        r#"{"command":{"key":"total","type":"INC","value":1},"key":"counter"}"#,
    );
    assert_eq!(id.status, 200, "{}", id.text());
    h.put("/api/v1/keys/counter", r#"{"value":5}"#).is(200, "");
    h.get("/api/v1/keys/total").is(200, "1");
}

#[test]
fn put_keys_replaces_existing_entries_without_triggers() {
    let (server, h) = start();
    seed(&h, r#"{"entries":{"key1":"a","key2":"b","total":0}}"#);
    h.post(
        "/api/v1/triggers",
        r#"{"command":{"key":"total","type":"INC","value":1},"key":"key1"}"#,
    );
    h.put(
        "/api/v1/keys",
        r#"{"entries":{"key1":"new1","key2":"new2"}}"#,
    )
    .is(200, "");
    h.post("/api/v1/keys/get", r#"{"keys":["key1","key2","total"]}"#)
        .is(200, r#"["new1","new2",0]"#);
    h.put(
        "/api/v1/keys",
        r#"{"entries":{"key1":"new1","key2":"new2"},"ttl":{"key1":5000}}"#,
    )
    .is(200, "");
    let mut c = server.connect();
    let pttl = |c: &mut std::net::TcpStream| -> i64 {
        resp_pipeline(c, &[cmd(&["PTTL", "key1"])])[0]
            .trim_start_matches(':')
            .parse()
            .unwrap()
    };
    assert!((1..=5000).contains(&pttl(&mut c)));
    // A null TTL cancels the expiry.
    h.put(
        "/api/v1/keys",
        r#"{"entries":{"key1":"new1"},"ttl":{"key1":null}}"#,
    )
    .is(200, "");
    assert_eq!(pttl(&mut c), -1);
    // Every key must exist; nothing is written otherwise.
    h.put("/api/v1/keys", r#"{"entries":{"key1":"x","nope":1}}"#)
        .is_message(404, "key not found");
    h.get("/api/v1/keys/key1").is(200, r#""new1""#);
    h.get("/api/v1/keys/nope").is_message(404, "key not found");
}

#[test]
fn delete_key_answers_200_also_when_missing_and_removes_array_items() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"key1":"value","list":["a","b","c"]}}"#);
    h.delete("/api/v1/keys/key1").is(200, "");
    h.get("/api/v1/keys/key1").is_message(404, "key not found");
    h.delete("/api/v1/keys/key1").is(200, "");
    h.delete("/api/v1/keys/list/1").is(200, "");
    h.get("/api/v1/keys/list").is(200, r#"["a","c"]"#);
}

#[test]
fn post_keys_delete_removes_every_key() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"a":1,"b":{"c":2,"d":3}}}"#);
    h.post("/api/v1/keys/delete", r#"{"keys":["a","b/c","missing"]}"#)
        .is(200, "");
    h.get("/api/v1/keys/a").is_message(404, "key not found");
    h.get("/api/v1/keys/b").is(200, r#"{"d":3}"#);
    h.post("/api/v1/keys/delete", r#"{"keys":[]}"#)
        .is_message(400, "validation failed");
}

// ---------------------------------------------------------------------------------
// PATCH /api/v1/keys/{path}
// ---------------------------------------------------------------------------------

#[test]
fn patch_create() {
    let (_s, h) = start();
    h.patch(
        "/api/v1/keys/newkey",
        r#"{"operations":[{"key":"newkey","type":"CREATE","value":"newvalue"}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/newkey").is(200, r#""newvalue""#);
    // CREATE of an existing key: refused before anything applies.
    h.patch(
        "/api/v1/keys/newkey",
        r#"{"operations":[{"key":"newkey","type":"CREATE","value":"again"}]}"#,
    )
    .is_message(400, "invalid operation(s)");
    // Nested, with the objects above it created.
    h.patch(
        "/api/v1/keys/x",
        r#"{"operations":[{"key":"a/b/c","type":"CREATE","value":1}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/a").is(200, r#"{"b":{"c":1}}"#);
}

#[test]
fn patch_replace() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"key1":"oldvalue"}}"#);
    h.patch(
        "/api/v1/keys/key1",
        r#"{"operations":[{"key":"key1","type":"REPLACE","value":"newvalue"}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/key1").is(200, r#""newvalue""#);
    h.patch(
        "/api/v1/keys/key1",
        r#"{"operations":[{"key":"nope","type":"REPLACE","value":1}]}"#,
    )
    .is_message(400, "invalid operation(s)");
}

#[test]
fn patch_delete() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"key1":"value","list":[1,2,3]}}"#);
    h.patch(
        "/api/v1/keys/key1",
        r#"{"operations":[{"key":"key1","type":"DELETE"}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/key1").is_message(404, "key not found");
    // Nothing to delete is fine; an array item goes by index.
    h.patch(
        "/api/v1/keys/x",
        r#"{"operations":[{"key":"key1","type":"DELETE"},{"key":"list/0","type":"DELETE"}]}"#,
    )
    .is(200, r#"{"results":[{"result":null},{"result":null}]}"#);
    h.get("/api/v1/keys/list").is(200, "[2,3]");
}

#[test]
fn patch_inc() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"counter":10,"s":"text","n":null}}"#);
    h.patch(
        "/api/v1/keys/counter",
        r#"{"operations":[{"key":"counter","type":"INC","value":5}]}"#,
    )
    .is(200, r#"{"results":[{"result":15}]}"#);
    h.get("/api/v1/keys/counter").is(200, "15");
    h.patch(
        "/api/v1/keys/counter",
        r#"{"operations":[{"key":"counter","type":"INC","value":-0.5}]}"#,
    )
    .is(200, r#"{"results":[{"result":14.5}]}"#);
    for bad in [
        r#"{"operations":[{"key":"counter","type":"INC","value":"1"}]}"#,
        r#"{"operations":[{"key":"counter","type":"INC"}]}"#,
        r#"{"operations":[{"key":"missing","type":"INC","value":1}]}"#,
        r#"{"operations":[{"key":"n","type":"INC","value":1}]}"#,
    ] {
        h.patch("/api/v1/keys/counter", bad)
            .is_message(400, "invalid operation(s)");
    }
    // A string passes Go's checks and fails when applied (Go: 500).
    h.patch(
        "/api/v1/keys/s",
        r#"{"operations":[{"key":"s","type":"INC","value":1}]}"#,
    )
    .is_message(400, "operation failed");
    h.get("/api/v1/keys/counter").is(200, "14.5");
}

#[test]
fn patch_append() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"list":[1],"s":"x"}}"#);
    h.patch(
        "/api/v1/keys/list",
        r#"{"operations":[{"key":"list","type":"APPEND","value":{"a":2}},{"key":"list","type":"APPEND","value":3}]}"#,
    )
    .is(200, r#"{"results":[{"result":null},{"result":null}]}"#);
    h.get("/api/v1/keys/list").is(200, r#"[1,{"a":2},3]"#);
    h.patch(
        "/api/v1/keys/s",
        r#"{"operations":[{"key":"s","type":"APPEND","value":1}]}"#,
    )
    .is_message(400, "invalid operation(s)");
    h.patch(
        "/api/v1/keys/list",
        r#"{"operations":[{"key":"list","type":"APPEND"}]}"#,
    )
    .is_message(400, "operation failed");
    h.get("/api/v1/keys/list").is(200, r#"[1,{"a":2},3]"#);
}

#[test]
fn patch_resize() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"list":[1,2,3]}}"#);
    h.patch(
        "/api/v1/keys/list",
        r#"{"operations":[{"key":"list","type":"RESIZE","value":5}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/list").is(200, "[1,2,3,null,null]");
    h.patch(
        "/api/v1/keys/list",
        r#"{"operations":[{"key":"list","type":"RESIZE","value":1}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
    h.get("/api/v1/keys/list").is(200, "[1]");
    for bad in [
        r#"{"operations":[{"key":"list","type":"RESIZE","value":-1}]}"#,
        r#"{"operations":[{"key":"list","type":"RESIZE","value":1.5}]}"#,
        r#"{"operations":[{"key":"list","type":"RESIZE"}]}"#,
    ] {
        h.patch("/api/v1/keys/list", bad)
            .is_message(400, "invalid operation(s)");
    }
}

#[test]
fn patch_validates_like_go() {
    let (_s, h) = start();
    h.patch("/api/v1/keys/key1", r#"{"operations":[]}"#)
        .is_message(400, "validation failed");
    h.patch(
        "/api/v1/keys/key1",
        r#"{"operations":[{"key":"key1","type":"INVALID","value":"value"}]}"#,
    )
    .is_message(400, "validation failed");
    h.patch(
        "/api/v1/keys/key1",
        r#"{"operations":[{"key":"","type":"CREATE","value":1}]}"#,
    )
    .is_message(400, "validation failed");
    h.patch("/api/v1/keys/key1", "{invalid json}")
        .is_message(400, "invalid json payload");
    // Flags are accepted (and unused, as in Go).
    h.patch(
        "/api/v1/keys/key1",
        r#"{"flags":{"x":1},"operations":[{"key":"key1","type":"CREATE","value":1}]}"#,
    )
    .is(200, r#"{"results":[{"result":null}]}"#);
}

#[test]
fn a_failing_patch_batch_writes_nothing() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"a":1,"list":[1,2],"s":"x"}}"#);
    let before = h
        .post("/api/v1/keys/get", r#"{"keys":["a","list","s"]}"#)
        .text();
    assert_eq!(before, r#"[1,[1,2],"x"]"#);
    // Every operation passes Go's checks; the last fails when applied (INC of a
    // string). Go would keep the first four; mapcache keeps none.
    h.patch(
        "/api/v1/keys/a",
        r#"{"operations":[{"key":"a","type":"INC","value":1},{"key":"list","type":"APPEND","value":3},{"key":"new","type":"CREATE","value":true},{"key":"list/0","type":"DELETE"},{"key":"s","type":"INC","value":1}]}"#,
    )
    .is_message(400, "operation failed");
    h.post("/api/v1/keys/get", r#"{"keys":["a","list","s"]}"#)
        .is(200, &before);
    h.get("/api/v1/keys/new").is_message(404, "key not found");
    // Operations see the earlier ones' effects: CREATE then CREATE of the same key.
    h.patch(
        "/api/v1/keys/a",
        r#"{"operations":[{"key":"a","type":"REPLACE","value":2},{"key":"twice","type":"CREATE","value":1},{"key":"twice","type":"CREATE","value":2}]}"#,
    )
    .is_message(400, "operation failed");
    h.get("/api/v1/keys/a").is(200, "1");
    h.get("/api/v1/keys/twice").is_message(404, "key not found");
}

#[test]
fn patch_replace_and_inc_fire_triggers_append_does_not() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"counter":0,"total":0,"list":[0]}}"#);
    for key in ["counter", "list"] {
        let body =
            format!(r#"{{"command":{{"key":"total","type":"INC","value":1}},"key":"{key}"}}"#);
        assert_eq!(h.post("/api/v1/triggers", &body).status, 200);
    }
    h.patch(
        "/api/v1/keys/counter",
        r#"{"operations":[{"key":"counter","type":"INC","value":1},{"key":"counter","type":"REPLACE","value":7},{"key":"list","type":"APPEND","value":1},{"key":"list","type":"RESIZE","value":3}]}"#,
    )
    .is(
        200,
        r#"{"results":[{"result":1},{"result":null},{"result":null},{"result":null}]}"#,
    );
    h.get("/api/v1/keys/total").is(200, "2");
    // A failing trigger fails the batch, and nothing of it stays.
    let bad = h.post(
        "/api/v1/triggers",
        r#"{"command":{"key":"nope","type":"INC","value":1},"key":"total"}"#,
    );
    assert_eq!(bad.status, 200);
    h.patch(
        "/api/v1/keys/counter",
        r#"{"operations":[{"key":"counter","type":"REPLACE","value":9}]}"#,
    )
    .is_message(500, "command execution failed");
    h.get("/api/v1/keys/counter").is(200, "7");
    h.get("/api/v1/keys/total").is(200, "2");
}

// ---------------------------------------------------------------------------------
// Commands, triggers, the cache header
// ---------------------------------------------------------------------------------

#[test]
fn post_commands_execute_answers_each_commands_value() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"counter":0}}"#);
    h.post(
        "/api/v1/commands/execute",
        r#"{"commands":[{"key":"counter","type":"INC","value":1}]}"#,
    )
    .is(200, "[1]");
    h.post("/api/v1/commands/execute", r#"{"commands":[]}"#)
        .is_message(400, "validation failed");
    h.post("/api/v1/commands/execute", "{invalid json}")
        .is_message(400, "invalid json payload");
    h.post(
        "/api/v1/commands/execute",
        r#"{"commands":[{"key":"missing","type":"INC","value":1}]}"#,
    )
    .is_message(500, "command execution failed");
}

#[test]
fn triggers_are_created_replaced_and_deleted() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"counter":0,"total":0}}"#);
    let r = h.post(
        "/api/v1/triggers",
        r#"{"command":{"key":"total","type":"INC","value":1},"key":"counter"}"#,
    );
    assert_eq!(r.status, 200);
    let text = r.text();
    assert!(
        text.len() > 2 && text.starts_with('"') && text.ends_with('"'),
        "the id as a JSON string: {text}"
    );
    let id = text.trim_matches('"').to_string();
    h.post("/api/v1/triggers", "invalid")
        .is_message(400, "invalid JSON payload");
    // PUT: the body's id must be the path's.
    let body = format!(
        r#"{{"command":{{"key":"total","type":"INC","value":10}},"id":"{id}","key":"counter"}}"#
    );
    h.put(&format!("/api/v1/triggers/{id}"), &body).is(204, "");
    h.put("/api/v1/triggers/other", &body)
        .is_message(400, "payload id must match request id");
    let ghost = r#"{"command":{"type":"NOOP"},"id":"ghost","key":"counter"}"#;
    h.put("/api/v1/triggers/ghost", ghost)
        .is_message(404, "trigger not found");
    h.put("/api/v1/keys/counter", r#"{"value":1}"#).is(200, "");
    h.get("/api/v1/keys/total").is(200, "10");
    // DELETE removes it (a no-op in Go, by a bug of its route).
    h.delete(&format!("/api/v1/triggers/{id}")).is(200, "");
    h.put("/api/v1/keys/counter", r#"{"value":2}"#).is(200, "");
    h.get("/api/v1/keys/total").is(200, "10");
    h.delete(&format!("/api/v1/triggers/{id}"))
        .is_message(404, "trigger not found");
}

#[test]
fn an_unknown_cache_is_424_on_keys_commands_and_triggers() {
    let (_s, h) = start();
    let x = Http::new(h.addr).with_header("X-Cache-Name", "nope");
    for (m, p, body) in [
        ("GET", "/api/v1/keys/a", ""),
        ("POST", "/api/v1/keys", r#"{"entries":{"a":1}}"#),
        ("POST", "/api/v1/keys/get", r#"{"keys":["a"]}"#),
        ("PUT", "/api/v1/keys/a", r#"{"value":1}"#),
        ("PUT", "/api/v1/keys", r#"{"entries":{"a":1}}"#),
        (
            "PATCH",
            "/api/v1/keys/a",
            r#"{"operations":[{"key":"a","type":"DELETE"}]}"#,
        ),
        ("DELETE", "/api/v1/keys/a", ""),
        ("POST", "/api/v1/keys/delete", r#"{"keys":["a"]}"#),
        (
            "POST",
            "/api/v1/commands/execute",
            r#"{"commands":[{"type":"NOOP"}]}"#,
        ),
        (
            "POST",
            "/api/v1/triggers",
            r#"{"command":{"type":"NOOP"},"key":"a"}"#,
        ),
        ("DELETE", "/api/v1/triggers/x", ""),
    ] {
        x.request(m, p, &[], body.to_string())
            .is_message(424, "cache not found");
    }
    // A named cache is chosen by the header; no header (or an empty one) is default.
    h.post("/api/v1/caches", r#"{"name":"c"}"#).is(201, "");
    let c = Http::new(h.addr).with_header("X-Cache-Name", "c");
    c.post("/api/v1/keys", r#"{"entries":{"a":"in c"}}"#)
        .is(201, "");
    c.get("/api/v1/keys/a").is(200, r#""in c""#);
    h.get("/api/v1/keys/a").is_message(404, "key not found");
    h.request("GET", "/api/v1/keys/a", &[("X-Cache-Name", "")], "")
        .is_message(404, "key not found");
}

// ---------------------------------------------------------------------------------
// Middleware, health, metrics
// ---------------------------------------------------------------------------------

#[test]
fn request_ids_are_echoed_or_generated() {
    let (_s, h) = start();
    let r = h.request("GET", "/api/v1/caches", &[("X-Request-ID", "abc-123")], "");
    assert_eq!(r.header("x-request-id").as_deref(), Some("abc-123"));
    let a = h.get("/api/v1/caches").header("x-request-id").unwrap();
    let b = h.get("/nothing").header("x-request-id").unwrap();
    for id in [&a, &b] {
        assert_eq!(id.len(), 12, "{id}");
        assert!(id.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
    assert_ne!(a, b);
}

#[test]
fn trailing_slashes_are_removed_and_unknown_routes_answer_json() {
    let (_s, h) = start();
    h.get("/api/v1/caches/").is(200, r#"["default"]"#);
    seed(&h, r#"{"entries":{"a":{"b":1}}}"#);
    h.get("/api/v1/keys/a/b/").is(200, "1");
    h.get("/api/v1/nothing").is_message(404, "Not Found");
    let r = h.delete("/api/v1/caches");
    r.is_message(405, "Method Not Allowed");
    assert_eq!(r.header("allow").as_deref(), Some("GET,HEAD,POST"));
    // A key named `get` (or `delete`) is still read by GET.
    h.post("/api/v1/keys", r#"{"entries":{"get":"me"}}"#)
        .is(201, "");
    h.get("/api/v1/keys/get").is(200, r#""me""#);
}

#[test]
fn bodies_over_max_body_answer_413() {
    let server = Server::start(&["--max-body", "1000"]);
    let h = Http::new(server.http);
    let big = format!(r#"{{"entries":{{"big":"{}"}}}}"#, "x".repeat(1000));
    h.post("/api/v1/keys", &big)
        .is_message(413, "Payload Too Large");
    h.get("/api/v1/keys/big").is_message(404, "key not found");
}

#[test]
fn a_request_over_the_timeout_answers_408() {
    use std::io::{Read, Write};
    let server = Server::start(&["--command-timeout-ms", "100"]);
    // Headers promise a body that never comes: the request times out reading it.
    let mut s = std::net::TcpStream::connect(server.http).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    s.write_all(b"POST /api/v1/keys HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{")
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.ends_with(b"}") {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&got).to_string();
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.ends_with(r#"{"message":"Request Timeout"}"#), "{text}");
}

#[test]
fn every_request_writes_one_access_log_line() {
    let (server, h) = start();
    let r = h.request(
        "GET",
        "/api/v1/keys/a/b",
        &[("X-Request-ID", "trace-me")],
        "",
    );
    assert_eq!(r.status, 404);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let log = server.log.lock().unwrap().clone();
    let lines: Vec<&String> = log.iter().filter(|l| l.contains("trace-me")).collect();
    assert_eq!(lines.len(), 1, "{log:?}");
    let line = lines[0];
    for part in [
        "method=GET",
        "path=/api/v1/keys/a/b",
        r#"route="/api/v1/keys/{path}""#,
        "status=404",
        "duration_us=",
    ] {
        assert!(line.contains(part), "{part} missing in {line}");
    }
}

#[test]
fn http_metrics_count_requests_by_route_template_and_status() {
    let (_s, h) = start();
    seed(&h, r#"{"entries":{"a":{"b":1}}}"#);
    h.get("/api/v1/keys/a/b").is(200, "1");
    h.get("/api/v1/keys/a/b").is(200, "1");
    h.get("/api/v1/keys/zz").is_message(404, "key not found");
    let m = h.get("/metrics").text();
    for line in [
        r#"mapcache_http_requests_total{method="GET",route="/api/v1/keys/{path}",status="200"} 2"#,
        r#"mapcache_http_requests_total{method="GET",route="/api/v1/keys/{path}",status="404"} 1"#,
        r#"mapcache_http_requests_total{method="POST",route="/api/v1/keys",status="201"} 1"#,
        r#"mapcache_http_request_duration_seconds_count{method="GET",route="/api/v1/keys/{path}"} 3"#,
        r#"mapcache_http_request_size_bytes_count{method="POST",route="/api/v1/keys"} 1"#,
        r#"mapcache_http_response_size_bytes_count{method="GET",route="/api/v1/keys/{path}"} 3"#,
        // The scrape itself is in flight.
        "mapcache_http_requests_in_flight 1",
    ] {
        assert!(m.contains(line), "{line} missing in:\n{m}");
    }
}

#[test]
fn healthz_carries_the_go_fields_and_mapcaches() {
    let (_s, h) = start();
    h.post("/api/v1/caches", r#"{"name":"c"}"#).is(201, "");
    let r = h.get("/healthz");
    assert_eq!(r.status, 200);
    let text = r.text();
    for part in [
        r#"{"status":"healthy","timestamp":"20"#,
        r#""uptime_seconds":"#,
        r#""build":{"version":"0.1.0","commit":""#,
        r#","date":""#,
        r#""system":{"goroutines":"#,
        r#""memory_alloc_mb":"#,
        r#""memory_sys_mb":"#,
        r#""gc_count":0,"#,
        r#""caches":{"count":2,"names":["default","c"]}"#,
        r#""ready":true"#,
        r#""cache_keys":[{"name":"default","keys":0},{"name":"c","keys":0}]"#,
    ] {
        assert!(text.contains(part), "{part} missing in {text}");
    }
    // RFC 3339 in UTC, as Go's time.Time.
    let ts = text.split(r#""timestamp":""#).nth(1).unwrap();
    let ts = &ts[..ts.find('"').unwrap()];
    assert!(ts.ends_with('Z') && ts.as_bytes()[10] == b'T', "{ts}");
}

#[test]
fn a_program_over_the_command_timeout_answers_408_and_writes_nothing() {
    let server = Server::start(&["--command-timeout-ms", "20"]);
    let h = Http::new(server.http);
    let fields: Vec<String> = (0..300).map(|i| format!(r#""{i}":0"#)).collect();
    h.post(
        "/api/v1/keys",
        &format!(r#"{{"entries":{{"n":{{{}}}}}}}"#, fields.join(",")),
    )
    .is(201, "");
    // A FOR in a FOR: 90,000 INCs, far more than 20 ms of work.
    let program = r#"{"commands":[{"type":"FOR","loop_expr":"${{n/*}}","commands":[{"type":"FOR","loop_expr":"${{n/*}}","commands":[{"type":"INC","key":"n/${{1}}","value":1}]}]}]}"#;
    h.post("/api/v1/commands/execute", program)
        .is_message(408, "command execution timed out");
    h.get("/api/v1/keys/n/0").is(200, "0");
    h.get("/api/v1/keys/n/299").is(200, "0");
}
