//! The HTTP/JSON API of the real binary, driven by an HTTP client (hyper's): every
//! endpoint, status code and error of docs/http-api.md.

#[path = "support/http.rs"]
mod http;
mod support;

use http::Http;
use support::{resp_pipeline, Server};

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn wildcards_are_mapcaches_addition_to_reads_and_deletes() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"users/1":{"name":"A","age":1},"users/2":{"name":"B"},"users/3":"flat","jobs/1":{"name":"J"}}}"#,
    )
    .is(201, "");
    h.post(
        "/api/v1/keys/get",
        r#"{"keys":["users/1/name","users/2","users/*/name"]}"#,
    )
    .is(
        200,
        r#"["A",{"name":"B"},{"users/1/name":"A","users/2/name":"B"}]"#,
    );
    h.get("/api/v1/keys/users/*/name")
        .is(200, r#"{"users/1/name":"A","users/2/name":"B"}"#);
    h.get("/api/v1/keys/nothing/*").is(200, "{}");
    let all = h.get("/api/v1/keys/*/1/name");
    assert_eq!(all.status, 200);
    let text = all.text();
    assert!(
        text == r#"{"users/1/name":"A","jobs/1/name":"J"}"#
            || text == r#"{"jobs/1/name":"J","users/1/name":"A"}"#,
        "{text}"
    );
    h.post("/api/v1/keys/get", r#"{"keys":"users/1"}"#)
        .is_error(400, "'keys' must be an array");
    h.post("/api/v1/keys/get", r#"{"keys":[1]}"#)
        .is_error(400, "must be a string");
    h.post(
        "/api/v1/keys/delete",
        r#"{"keys":["users/*/name","jobs/1"]}"#,
    )
    .is(200, "");
    h.get("/api/v1/keys/users")
        .is(200, r#"{"1":{"age":1},"2":{},"3":"flat"}"#);
    h.get("/api/v1/keys/jobs").is_error(404, "key not found");
    h.delete("/api/v1/keys/users/*").is(200, "");
    h.get("/api/v1/keys/users").is_error(404, "key not found");
    // Wildcards are refused where they would write.
    h.post("/api/v1/keys", r#"{"entries":{"a/*":1}}"#)
        .is_error(400, "wildcards are not allowed");
    h.put("/api/v1/keys/x/*", r#"{"value":1}"#)
        .is_error(400, "wildcards are not allowed");
}

#[test]
fn paths_escapes_and_limits() {
    let server = Server::start(&["--max-depth", "8"]);
    let h = Http::new(server.http);
    // Percent escapes name any bytes; `%2A` is a field named `*`, not a wildcard;
    // `%2F` separates segments (the Go server's clients escape a key's `/` so).
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"odd":{"a b":"space","*":1}}}"#,
    )
    .is(201, "");
    h.get("/api/v1/keys/odd/a%20b").is(200, r#""space""#);
    h.get("/api/v1/keys/odd/%2a").is(200, "1");
    h.get("/api/v1/keys/odd%2Fa%20b").is(200, r#""space""#);
    h.get("/api/v1/keys/odd/%zz")
        .is_error(400, "malformed percent escape");
    // Paths through a non-object, overlapping entries.
    h.post("/api/v1/keys", r#"{"entries":{"s":"x"}}"#)
        .is(201, "");
    h.post("/api/v1/keys", r#"{"entries":{"fresh":1,"s/x":"y"}}"#)
        .is_error(409, "path 's/x' crosses a non-object value at 's'");
    h.get("/api/v1/keys/fresh").is_error(404, "key not found");
    h.post("/api/v1/keys", r#"{"entries":{"a":{"b":1},"a/b":2}}"#)
        .is_error(400, "overlap");
    // Depth limit: 400, never a stack overflow, also for a huge nesting.
    h.post(
        "/api/v1/keys",
        &format!(
            r#"{{"entries":{{"deep":{}{}}}}}"#,
            "[".repeat(8),
            "]".repeat(8)
        ),
    )
    .is(201, "");
    h.put(
        "/api/v1/keys/deep",
        &format!(r#"{{"value":{}{}}}"#, "[".repeat(9), "]".repeat(9)),
    )
    .is_error(400, "nested deeper than");
    h.put("/api/v1/keys/deep", &"[".repeat(999))
        .is_error(400, "invalid json payload");
    // Paths deeper than 128 segments below the root.
    let deep = format!("/api/v1/keys/r{}", "/s".repeat(129));
    h.get(&deep).is_error(400, "more than 128 segments");
    // Unparsable bodies of every endpoint with one.
    for (m, p) in [
        ("POST", "/api/v1/caches"),
        ("PUT", "/api/v1/caches/x"),
        ("POST", "/api/v1/keys"),
        ("PUT", "/api/v1/keys"),
        ("POST", "/api/v1/keys/get"),
        ("POST", "/api/v1/keys/delete"),
        ("PUT", "/api/v1/keys/k"),
        ("PATCH", "/api/v1/keys/k"),
        ("POST", "/admin/restore"),
    ] {
        h.request(m, p, &[], "{\"x\": tru")
            .is_error(400, "invalid JSON");
    }
}

#[test]
fn the_api_asks_for_the_password_when_one_is_set() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let h = Http::new(server.http);
    let r = h.get("/api/v1/caches");
    r.is_error(401, "authentication required");
    assert!(r.header("www-authenticate").is_some());
    h.post("/api/v1/keys", r#"{"entries":{"k":1}}"#)
        .is_error(401, "authentication required");
    h.post("/admin/backup", "")
        .is_error(401, "authentication required");
    h.get("/nothing").is_error(401, "authentication required");
    let ok = Http::new(server.http).with_header("Authorization", "Bearer s3cret");
    ok.post("/api/v1/keys", r#"{"entries":{"k":1}}"#)
        .is(201, "");
    // Basic: any user name, "user:s3cret" in base64.
    Http::new(server.http)
        .with_header("Authorization", "Basic dXNlcjpzM2NyZXQ=")
        .get("/api/v1/keys/k")
        .is(200, "1");
    Http::new(server.http)
        .with_header("Authorization", "Bearer wrong")
        .get("/api/v1/keys/k")
        .is_error(401, "authentication required");
    // The probes stay open.
    assert_eq!(h.get("/readyz").status, 200);
    assert_eq!(h.get("/healthz").status, 200);
}

/// The entry lines of a snapshot document, without their separators, sorted (shard
/// order differs between processes).
fn entry_lines(doc: &str) -> Vec<String> {
    let mut lines: Vec<String> = doc
        .lines()
        .filter(|l| l.starts_with("{\"key\""))
        .map(|l| l.trim_end_matches(',').to_string())
        .collect();
    lines.sort();
    lines
}

#[test]
fn backup_streams_a_snapshot_and_restore_replaces_a_cache_atomically() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"user/1":{"name":"A","n":1.5,"ok":true,"nil":null},"plain":"p"},"ttl":{"plain":600000,"user/1/name":600000}}"#,
    )
    .is(201, "");
    let r = h.post("/admin/backup", "");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let doc = r.text();
    assert!(
        doc.starts_with(
            r#"{"format":"mapcache-snapshot","version":1,"cache":"default","created_at_ms":"#
        ),
        "{doc}"
    );
    let lines = entry_lines(&doc);
    assert_eq!(lines.len(), 2, "{doc}");
    assert!(
        lines[0].starts_with(r#"{"key":"plain","value":"p","expires_at_ms":"#),
        "{lines:?}"
    );
    assert!(
        lines[1].starts_with(r#"{"key":"user","value":{"1":{"name":"A","n":1.5,"ok":true,"nil":null}},"ttls":[{"path":["1","name"],"expires_at_ms":"#),
        "{lines:?}"
    );
    Http::new(server.http)
        .with_header("X-Cache-Name", "nope")
        .post("/admin/backup", "")
        .is_error(424, "cache 'nope' not found");

    // Restore into a cache that does not exist yet: created; same data, same TTLs.
    let copy = Http::new(server.http).with_header("X-Cache-Name", "copy");
    copy.post("/admin/restore", &doc)
        .is(200, r#"{"cache":"copy","keys":2}"#);
    copy.get("/api/v1/keys/user")
        .is(200, r#"{"1":{"name":"A","n":1.5,"ok":true,"nil":null}}"#);
    let back = copy.post("/admin/backup", "").text();
    assert_eq!(entry_lines(&back), lines);
    // Restore replaces everything that was there.
    copy.post("/api/v1/keys", r#"{"entries":{"extra":1}}"#)
        .is(201, "");
    copy.post("/admin/restore", &doc)
        .is(200, r#"{"cache":"copy","keys":2}"#);
    copy.get("/api/v1/keys/extra").is_error(404, "not found");

    // A malformed or truncated document changes nothing.
    for bad in [
        &doc[..doc.len() - 10],
        r#"{"format":"other","version":1,"cache":"x","created_at_ms":0,"entries":[]}"#,
        r#"{"format":"mapcache-snapshot","version":2,"cache":"x","created_at_ms":0,"entries":[]}"#,
        r#"{"format":"mapcache-snapshot","version":1,"cache":"x","created_at_ms":0,"entries":[{"key":"a","value":1},{"key":"a","value":2}]}"#,
        "",
    ] {
        let r = copy.post("/admin/restore", bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
        assert_eq!(entry_lines(&copy.post("/admin/backup", "").text()), lines);
    }
    // Without X-Cache-Name the document's own cache is replaced; into database 1,
    // RESP sees it.
    let doc1 = doc.replacen(r#""cache":"default""#, r#""cache":"1""#, 1);
    h.post("/admin/restore", &doc1)
        .is(200, r#"{"cache":"1","keys":2}"#);
    let mut c = server.connect();
    assert_eq!(
        resp_pipeline(
            &mut c,
            &[
                cmd(&["SELECT", "1"]),
                cmd(&["GET", "plain"]),
                cmd(&["HGET", "user", "1"])
            ]
        ),
        ["+OK", "p", r#"{"name":"A","n":1.5,"ok":true,"nil":null}"#]
    );
}

#[test]
fn save_bgsave_lastsave_and_load_snapshot() {
    let dir = support::TempDir::new("save");
    let d = dir.0.to_str().unwrap();
    let server = Server::start(&["--dir", d, "--databases", "4"]);
    let h = Http::new(server.http);
    let mut c = server.connect();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let last0: i64 = resp_pipeline(&mut c, &[cmd(&["LASTSAVE"])])[0][1..]
        .parse()
        .unwrap();
    assert!(
        (before - 5..=before).contains(&last0),
        "{last0} vs {before}"
    );
    assert_eq!(
        resp_pipeline(
            &mut c,
            &[
                cmd(&["SET", "s", "v", "EX", "600"]),
                cmd(&["HSET", "h", "f", "1"]),
                cmd(&["SELECT", "2"]),
                cmd(&["RPUSH", "l", "a", "b"]),
            ]
        ),
        ["+OK", ":1", "+OK", ":2"]
    );
    assert_eq!(h.post("/api/v1/caches", r#"{"name":"named"}"#).status, 201);
    Http::new(server.http)
        .with_header("X-Cache-Name", "named")
        .post(
            "/api/v1/keys",
            r#"{"entries":{"doc":{"a":[1,{"b":null}]}}}"#,
        )
        .is(201, "");
    // A name starting with a dot is an ordinary file name too.
    assert_eq!(h.post("/api/v1/caches", r#"{"name":".dot"}"#).status, 201);
    Http::new(server.http)
        .with_header("X-Cache-Name", ".dot")
        .post("/api/v1/keys", r#"{"entries":{"k":1}}"#)
        .is(201, "");
    // A stale file of a cache that is now empty is removed by SAVE.
    std::fs::write(dir.0.join("3.snapshot.json"), "stale").unwrap();
    assert_eq!(resp_pipeline(&mut c, &[cmd(&["SAVE"])]), ["+OK"]);
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            ".dot.snapshot.json",
            "2.snapshot.json",
            "default.snapshot.json",
            "named.snapshot.json"
        ]
    );
    let saved = std::fs::read_to_string(dir.0.join("default.snapshot.json")).unwrap();
    assert!(saved.starts_with(r#"{"format":"mapcache-snapshot","version":1,"cache":"default""#));
    assert_eq!(
        resp_pipeline(&mut c, &[cmd(&["BGSAVE"])]),
        ["+Background saving started"]
    );
    assert_eq!(
        resp_pipeline(&mut c, &[cmd(&["BGSAVE", "NOW"])]),
        ["-ERR syntax error"]
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // LASTSAVE moves on, or a second BGSAVE is accepted once the first is done.
        let r = resp_pipeline(&mut c, &[cmd(&["BGSAVE"])]);
        if r[0] == "+Background saving started" {
            break;
        }
        assert_eq!(r[0], "-ERR Background save already in progress");
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let backup_default = entry_lines(&h.post("/admin/backup", "").text());

    // A new server loads the directory: every cache as saved.
    let again = Server::start(&["--load-snapshot", d, "--databases", "4"]);
    let h2 = Http::new(again.http);
    assert_eq!(
        entry_lines(&h2.post("/admin/backup", "").text()),
        backup_default
    );
    Http::new(again.http)
        .with_header("X-Cache-Name", "named")
        .get("/api/v1/keys/doc/a")
        .is(200, r#"[1,{"b":null}]"#);
    Http::new(again.http)
        .with_header("X-Cache-Name", ".dot")
        .get("/api/v1/keys/k")
        .is(200, "1");
    let mut c2 = again.connect();
    let ttl: i64 = resp_pipeline(&mut c2, &[cmd(&["TTL", "s"])])[0][1..]
        .parse()
        .unwrap();
    assert!((590..=600).contains(&ttl), "{ttl}");
    assert_eq!(
        resp_pipeline(
            &mut c2,
            &[cmd(&["SELECT", "2"]), cmd(&["LRANGE", "l", "0", "-1"])]
        )[0],
        "+OK"
    );

    // A malformed snapshot stops the start with a clear error.
    let bad = support::TempDir::new("badsnap");
    std::fs::write(bad.0.join("x.snapshot.json"), "{").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .args([
            "--port",
            "0",
            "--http-port",
            "0",
            "--load-snapshot",
            bad.0.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot load a snapshot") && err.contains("x.snapshot.json"),
        "{err}"
    );
}

#[test]
fn a_snapshot_written_on_sigterm_loads_back_to_the_same_data() {
    let dir = support::TempDir::new("shutdown");
    let d = dir.0.to_str().unwrap();
    let mut server = Server::start(&["--dir", d, "--save-on-shutdown"]);
    let h = Http::new(server.http);
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"cfg":{"x":[1,2,{"y":"z"}],"f":-0.25,"big":12345678901234},"t":"tmp"},"ttl":{"t":600000,"cfg/x":600000}}"#,
    )
    .is(201, "");
    let mut c = server.connect();
    assert_eq!(
        resp_pipeline(
            &mut c,
            &[
                cmd(&["SET", "bin", "a\u{1}b"]),
                cmd(&["LPUSH", "q", "1", "2"])
            ]
        ),
        ["+OK", ":2"]
    );
    let before = entry_lines(&h.post("/admin/backup", "").text());
    assert_eq!(before.len(), 4);
    drop(c);
    assert!(server.terminate().success());
    assert!(dir.0.join("default.snapshot.json").is_file());
    let again = Server::start(&["--load-snapshot", &format!("{d}/default.snapshot.json")]);
    let after = entry_lines(&Http::new(again.http).post("/admin/backup", "").text());
    assert_eq!(after, before);
}

#[test]
fn openapi_is_served_and_every_operation_in_it_is_answered() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    let r = h.get("/api/v1/docs/openapi.yaml");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("application/yaml")
    );
    let yaml = r.text();
    assert!(yaml.starts_with("openapi: 3."));
    assert_eq!(yaml, include_str!("../../mapcache-server/openapi.yaml"));
    // Go's path for the document.
    assert_eq!(h.get("/api/v1/openapi.yaml").text(), yaml);
    let docs = h.get("/api/v1/docs");
    assert_eq!(docs.status, 200);
    assert!(docs.text().contains("/api/v1/openapi.yaml"));
    // Every (method, path) of the document reaches a handler: whatever it answers
    // (400 for an empty body, 404 for a missing key...), it is not "no endpoint" and
    // not 405.
    let ops = mapcache_server::openapi_operations();
    for (method, template) in &ops {
        let path = template
            .replace("{name}", "c1")
            .replace("{id}", "t1")
            .replace("{file}", "swagger-ui.css")
            .replace("{path}", "a/b");
        let r = h.request(method, &path, &[], "");
        let text = r.text();
        assert_ne!(r.status, 405, "{method} {path}: {text}");
        assert_ne!(text, r#"{"message":"Not Found"}"#, "{method} {path}");
    }
    assert_eq!(ops.len(), 27, "operations found in openapi.yaml");
    // The API's routes, and /healthz, /readyz and /metrics, which http.rs serves itself.
    assert_eq!(ops.len(), mapcache_server::route_operations().len() + 3);
}

/// The scenario of shared/seed/MAPCACHE_API.md's table, end to end: a cache, nested
/// entries with TTLs, reads of leaves and branches, get-many, PUT, PATCH, DELETE with
/// a wildcard, backup, restore into another cache, and the same data over RESP.
#[test]
fn end_to_end_scenario_over_http_then_resp() {
    let server = Server::start(&["--key-mode", "path"]);
    let admin = Http::new(server.http);
    assert_eq!(
        admin
            .post("/api/v1/caches", r#"{"name":"shop","ttl":3600000}"#)
            .status,
        201
    );
    let shop = Http::new(server.http).with_header("X-Cache-Name", "shop");
    shop.post(
        "/api/v1/keys",
        r#"{"entries":{
            "users/100":{"name":"Alice","email":"a@x.io","cart":{"apple":3,"pear":1}},
            "users/101":{"name":"Bob","email":"b@x.io","cart":{"fig":2}},
            "sessions/s1":{"user":"100","token":"t1"}},
           "ttl":{"sessions/s1":600000,"users/101/cart":600000}}"#,
    )
    .is(201, "");
    shop.post("/api/v1/keys", r#"{"entries":{"users/100/name":"Eve"}}"#)
        .is_error(409, "keys already exist");
    shop.get("/api/v1/keys/users/100/name")
        .is(200, r#""Alice""#);
    shop.get("/api/v1/keys/users/100/cart")
        .is(200, r#"{"apple":3,"pear":1}"#);
    shop.get("/api/v1/keys/users/101")
        .is(200, r#"{"name":"Bob","email":"b@x.io","cart":{"fig":2}}"#);
    shop.post(
        "/api/v1/keys/get",
        r#"{"keys":["users/100/email","users/*/name"]}"#,
    )
    .is(
        200,
        r#"["a@x.io",{"users/100/name":"Alice","users/101/name":"Bob"}]"#,
    );
    shop.post("/api/v1/keys/get", r#"{"keys":["users/102"]}"#)
        .is_error(404, "key not found");
    shop.put("/api/v1/keys/users/101/email", r#"{"value":"bob@x.io"}"#)
        .is(200, "");
    shop.patch(
        "/api/v1/keys/users/100",
        r#"{"operations":[{"key":"users/100/cart/apple","type":"REPLACE","value":4},{"key":"users/100/cart/pear","type":"DELETE"},{"key":"users/100/vip","type":"CREATE","value":true}]}"#,
    )
    .is(200, r#"{"results":[{"result":null},{"result":null},{"result":null}]}"#);
    shop.get("/api/v1/keys/users/100").is(
        200,
        r#"{"name":"Alice","email":"a@x.io","cart":{"apple":4},"vip":true}"#,
    );
    shop.delete("/api/v1/keys/users/*/email").is(200, "");
    shop.get("/api/v1/keys/users")
        .is(200, r#"{"100":{"name":"Alice","cart":{"apple":4},"vip":true},"101":{"name":"Bob","cart":{"fig":2}}}"#);

    // Backup, then restore into database 1, which RESP sees with SELECT 1.
    let doc = shop.post("/admin/backup", "").text();
    assert!(doc.contains(r#""cache":"shop""#));
    Http::new(server.http)
        .with_header("X-Cache-Name", "1")
        .post("/admin/restore", &doc)
        .is(200, r#"{"cache":"1","keys":2}"#);
    let mut c = server.connect();
    let r = resp_pipeline(
        &mut c,
        &[
            cmd(&["SELECT", "1"]),
            cmd(&["GET", "users:100:name"]),
            cmd(&["HGET", "users:100:cart", "apple"]),
            cmd(&["GET", "users:100:vip"]),
            cmd(&["TYPE", "users:100:vip"]),
            cmd(&["HGET", "sessions:s1", "token"]),
            cmd(&["EXISTS", "users:101:email"]),
            cmd(&["DBSIZE"]),
        ],
    );
    assert_eq!(
        r,
        ["+OK", "Alice", "4", "true", "+ReJSON-RL", "t1", ":0", ":2"]
    );
    // The TTLs came along as deadlines.
    let ttls = resp_pipeline(
        &mut c,
        &[
            cmd(&["TTL", "sessions:s1"]),
            cmd(&["TTL", "users:101:cart"]),
            cmd(&["TTL", "users:100"]),
        ],
    );
    for t in &ttls[..2] {
        let s: i64 = t[1..].parse().unwrap();
        assert!((590..=600).contains(&s), "{ttls:?}");
    }
    assert_eq!(ttls[2], ":-1");
    // And a write over RESP is seen over HTTP.
    assert_eq!(
        resp_pipeline(&mut c, &[cmd(&["HSET", "users:100", "name", "Al"])]),
        [":0"]
    );
    Http::new(server.http)
        .with_header("X-Cache-Name", "1")
        .get("/api/v1/keys/users/100/name")
        .is(200, r#""Al""#);
}
