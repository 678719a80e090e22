//! Backups against the real binary: the Go map-cache's backup files
//! (`POST /admin/backup` / `/admin/restore` with `{"cache","filename"}` inside
//! `--dir`), read back over HTTP and RESP, written and restored again; every attempt to
//! leave `--dir` refused without effect; and triggers living with their cache through
//! mapcache's own snapshots (SAVE, `--load-snapshot`, the HTTP snapshot document).
//!
//! Error bodies are read loosely (status codes and file effects are what is asserted).

#[path = "support/http.rs"]
mod http;
#[path = "support/resp.rs"]
mod resp;
mod support;

use std::path::Path;

use http::Http;
use mapcache_store::Value;
use resp::{Conn, Resp};
use support::{Server, TempDir};

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn json(text: &str) -> Value {
    mapcache_store::json::parse(&mut text.as_bytes().to_vec(), 128)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn field(v: &Value, name: &str) -> Value {
    v.as_hash()
        .and_then(|h| h.get(name.as_bytes()))
        .unwrap_or_else(|| panic!("no field {name} in {v:?}"))
        .to_value()
}

fn int(v: Value) -> i64 {
    match v {
        Value::Number(n) => n as i64,
        other => panic!("not a number: {other:?}"),
    }
}

fn bulk(s: &str) -> Resp {
    Resp::Bulk(Some(s.as_bytes().to_vec()))
}

/// A Go map-cache backup, written by hand from its format: nested data with an array,
/// key deadlines in the future and one in the past, a cache deadline, two triggers.
fn go_fixture(now: i64) -> String {
    format!(
        r#"{{"name":"default","data":{{"user":{{"100":{{"name":"Alice","age":41,"tags":["admin","ops"]}},"200":{{"name":"Bob","active":true}}}},"counter":7,"session":{{"token":"abc"}},"old":"stale","list":[1,2.5,null]}},"key_expirations":{{"session":{soon},"user/200":{soon},"old":{past}}},"triggers":{{"counter":[{{"id":"t-1","key":"counter","command":{{"type":"REPLACE","key":"user/100/name","value":"Triggered"}}}}],"user/*/name":[{{"id":"t-2","key":"user/*/name","command":{{"type":"NOOP"}}}}]}},"expiration":{later}}}"#,
        soon = now + 3600,
        past = now - 3600,
        later = now + 7200,
    )
}

fn restore(h: &Http, cache: &str, file: &str) -> http::Reply {
    h.post(
        "/admin/restore",
        &format!(r#"{{"cache":"{cache}","filename":"{file}"}}"#),
    )
}

fn backup(h: &Http, cache: &str, file: &str) -> http::Reply {
    h.post(
        "/admin/backup",
        &format!(r#"{{"cache":"{cache}","filename":"{file}"}}"#),
    )
}

#[test]
fn a_go_backup_restores_and_reads_over_http_and_resp() {
    let dir = TempDir::new("gobackup");
    let now = now_secs();
    std::fs::write(dir.0.join("fixture.json"), go_fixture(now)).unwrap();
    let server = Server::start(&["--key-mode", "path", "--dir", dir.0.to_str().unwrap()]);
    let h = Http::new(server.http);

    // Into a named cache (the Go server always restores into `default`: a bug).
    let r = restore(&h, "imported", "fixture.json");
    assert_eq!(r.status, 200, "{}", r.text());
    let imported = Http::new(server.http).with_header("X-Cache-Name", "imported");
    let r = imported.get("/api/v1/keys/user/100/tags/1");
    assert_eq!((r.status, r.text().as_str()), (200, "\"ops\""));
    let r = imported.get("/api/v1/keys/user/100/age");
    assert_eq!((r.status, r.text().as_str()), (200, "41"));
    let r = imported.get("/api/v1/keys/list");
    assert_eq!((r.status, r.text().as_str()), (200, "[1,2.5,null]"));
    // The deadline in the past: the key is gone (never observable once expired).
    assert_eq!(imported.get("/api/v1/keys/old").status, 404);
    assert_eq!(h.get("/api/v1/keys/user").status, 404, "default untouched");
    let triggers = imported.get("/api/v1/triggers").text();
    assert!(
        triggers.contains("t-1") && triggers.contains("t-2"),
        "{triggers}"
    );
    // The cache's own deadline and the key deadlines come back out of a backup of it.
    assert_eq!(backup(&h, "imported", "again.json").status, 200);
    let again = json(&std::fs::read_to_string(dir.0.join("again.json")).unwrap());
    assert_eq!(int(field(&again, "expiration")), now + 7200);
    let exps = field(&again, "key_expirations");
    assert_eq!(int(field(&exps, "session")), now + 3600);
    assert_eq!(int(field(&exps, "user/200")), now + 3600);
    assert!(exps.as_hash().unwrap().get(b"old").is_none());

    // A Go document as the body of a restore (no file) is read too.
    let inline = Http::new(server.http).with_header("X-Cache-Name", "inline");
    let r = inline.post("/admin/restore", &go_fixture(now));
    assert_eq!(r.status, 200, "{}", r.text());
    let r = inline.get("/api/v1/keys/user/200/active");
    assert_eq!((r.status, r.text().as_str()), (200, "true"));

    // Into `default`, read over RESP.
    assert_eq!(restore(&h, "default", "fixture.json").status, 200);
    let mut c = Conn::open(&server);
    assert_eq!(c.cmd(&["HGET", "user:100", "name"]), bulk("Alice"));
    assert_eq!(c.cmd(&["GET", "user:100:tags:0"]), bulk("admin"));
    assert_eq!(c.cmd(&["GET", "counter"]), bulk("7"));
    assert_eq!(c.cmd(&["EXISTS", "old"]), Resp::Int(0));
    let Resp::Int(ttl) = c.cmd(&["TTL", "session"]) else {
        panic!("TTL")
    };
    assert!((3590..=3600).contains(&ttl), "{ttl}");
    // The restored trigger fires on a write that replaces `counter`.
    assert_eq!(c.cmd(&["SET", "counter", "8"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["HGET", "user:100", "name"]), bulk("Triggered"));
}

/// Every root of `data`, every deadline, the triggers and the cache deadline.
fn same_backup(a: &Value, b: &Value) {
    for f in ["data", "key_expirations", "triggers", "expiration"] {
        assert_eq!(field(a, f), field(b, f), "{f}");
    }
}

#[test]
fn a_backup_written_in_go_format_restores_to_the_same_cache() {
    let dir = TempDir::new("goround");
    let now = now_secs();
    std::fs::write(dir.0.join("fixture.json"), go_fixture(now)).unwrap();
    let server = Server::start(&["--key-mode", "path", "--dir", dir.0.to_str().unwrap()]);
    let h = Http::new(server.http);
    assert_eq!(restore(&h, "src", "fixture.json").status, 200);
    // Data written over RESP too, of each Redis type.
    let mut c = Conn::open(&server);
    assert_eq!(
        c.cmd(&["HSET", "user:300", "name", "Carol", "city", "Oslo"]),
        Resp::Int(2)
    );
    assert_eq!(c.cmd(&["RPUSH", "queue", "a", "b"]), Resp::Int(2));
    assert_eq!(c.cmd(&["INCRBY", "hits", "41"]), Resp::Int(41));
    assert_eq!(c.cmd(&["EXPIRE", "queue", "500"]), Resp::Int(1));
    let default_trigger = h.post(
        "/api/v1/triggers",
        r#"{"key":"hits","command":{"type":"NOOP"}}"#,
    );
    assert_eq!(default_trigger.status, 200, "{}", default_trigger.text());

    for (cache, copy) in [("src", "dst"), ("default", "dst2")] {
        assert_eq!(backup(&h, cache, &format!("{cache}.json")).status, 200);
        let r = restore(&h, copy, &format!("{cache}.json"));
        assert_eq!(r.status, 200, "{}", r.text());
        assert_eq!(backup(&h, copy, &format!("{copy}.json")).status, 200);
        let first = json(&std::fs::read_to_string(dir.0.join(format!("{cache}.json"))).unwrap());
        let second = json(&std::fs::read_to_string(dir.0.join(format!("{copy}.json"))).unwrap());
        assert_eq!(field(&second, "name"), Value::string(copy.as_bytes()));
        if cache == "src" {
            same_backup(&first, &second);
        } else {
            // A numbered cache has no deadline of its own.
            for f in ["data", "key_expirations", "triggers"] {
                assert_eq!(field(&first, f), field(&second, f), "{f}");
            }
        }
    }
    let dst2 = Http::new(server.http).with_header("X-Cache-Name", "dst2");
    let r = dst2.get("/api/v1/keys/user/300/city");
    assert_eq!((r.status, r.text().as_str()), (200, "\"Oslo\""));
    let r = dst2.get("/api/v1/keys/hits");
    assert_eq!(
        (r.status, r.text().as_str()),
        (200, "41"),
        "a number stays one"
    );
    let r = dst2.get("/api/v1/keys/queue");
    assert_eq!((r.status, r.text().as_str()), (200, "[\"a\",\"b\"]"));
    let listed = dst2.get("/api/v1/triggers").text();
    assert!(listed.contains("\"hits\""), "{listed}");
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn file_names_that_leave_the_directory_are_refused_without_effect() {
    let tmp = TempDir::new("goescape");
    let inside = tmp.0.join("inside");
    let outside = tmp.0.join("outside");
    std::fs::create_dir_all(&inside).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // A valid backup outside --dir, reachable only by escaping it.
    let evil = r#"{"name":"default","data":{"evil":1},"key_expirations":{}}"#;
    std::fs::write(outside.join("x"), evil).unwrap();
    std::fs::write(tmp.0.join("x"), evil).unwrap();
    std::os::unix::fs::symlink(outside.join("x"), inside.join("link.json")).unwrap();
    std::os::unix::fs::symlink(&outside, inside.join("linkdir")).unwrap();
    let server = Server::start(&["--dir", inside.to_str().unwrap()]);
    let h = Http::new(server.http);
    let mut c = Conn::open(&server);
    assert_eq!(c.cmd(&["SET", "keep", "me"]), Resp::Simple("OK".into()));
    let abs_out = outside.join("abs.json");
    let names = [
        "../x",
        "../outside/y",
        "a/../../x",
        "..",
        "",
        "link.json",
        "linkdir/x",
        "linkdir/new.json",
        abs_out.to_str().unwrap(),
        "/etc/passwd",
    ];
    let before = (listing(&inside), listing(&outside), listing(&tmp.0));
    for name in names {
        let body = format!(r#"{{"cache":"default","filename":"{name}"}}"#);
        let r = h.post("/admin/restore", &body);
        assert_eq!(r.status, 400, "restore {name:?}: {}", r.text());
        let text = r.text();
        assert!(
            text.contains("\"message\""),
            "an error body with a message: {text}"
        );
        if name == "/etc/passwd" {
            continue; // never a backup target, even refused
        }
        let r = h.post("/admin/backup", &body);
        assert_eq!(r.status, 400, "backup {name:?}: {}", r.text());
    }
    assert_eq!(
        (listing(&inside), listing(&outside), listing(&tmp.0)),
        before,
        "nothing written"
    );
    assert_eq!(
        std::fs::read_to_string(outside.join("x")).unwrap(),
        evil,
        "the link's target is untouched"
    );
    assert_eq!(c.cmd(&["EXISTS", "evil"]), Resp::Int(0), "nothing read");
    assert_eq!(c.cmd(&["GET", "keep"]), bulk("me"));
    // A missing cache: 404 (Go: 500), and no file.
    assert_eq!(backup(&h, "nosuch", "nosuch.json").status, 404);
    // A missing file is refused too (400, as Go), and a plain name works.
    assert_eq!(restore(&h, "default", "missing.json").status, 400);
    assert_eq!(backup(&h, "default", "ok.json").status, 200);
    assert_eq!(restore(&h, "default", "ok.json").status, 200);
    assert_eq!(listing(&inside), ["link.json", "linkdir", "ok.json"]);
}

#[test]
fn the_backup_endpoints_ask_for_the_password() {
    let dir = TempDir::new("gopass");
    let server = Server::start(&["--requirepass", "s3cret", "--dir", dir.0.to_str().unwrap()]);
    let h = Http::new(server.http);
    let body = r#"{"cache":"default","filename":"b.json"}"#;
    assert_eq!(h.post("/admin/backup", body).status, 401);
    assert_eq!(h.post("/admin/restore", body).status, 401);
    assert!(listing(&dir.0).is_empty(), "nothing written");
    let authed = Http::new(server.http).with_header("Authorization", "Bearer s3cret");
    assert_eq!(authed.post("/admin/backup", body).status, 200);
    assert_eq!(listing(&dir.0), ["b.json"]);
}

#[test]
fn triggers_survive_a_snapshot_round_trip() {
    let dir = TempDir::new("snaptriggers");
    let d = dir.0.to_str().unwrap();
    let trigger = r#"{"key":"a","command":{"type":"REPLACE","key":"b","value":"fired"}}"#;
    {
        let server = Server::start(&["--key-mode", "path", "--dir", d]);
        let h = Http::new(server.http);
        let mut c = Conn::open(&server);
        assert_eq!(c.cmd(&["SET", "a", "1"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["SET", "b", "no"]), Resp::Simple("OK".into()));
        assert_eq!(h.post("/api/v1/triggers", trigger).status, 200);
        // The HTTP snapshot document carries them, into another cache.
        let doc = h.post("/admin/backup", "");
        assert_eq!(doc.status, 200);
        assert!(
            doc.text().contains("\"triggers\":{\"a\":"),
            "{}",
            doc.text()
        );
        let other = Http::new(server.http).with_header("X-Cache-Name", "other");
        assert_eq!(other.post("/admin/restore", &doc.text()).status, 200);
        assert_eq!(c.cmd(&["SELECT", "other"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["SET", "a", "2"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["GET", "b"]), bulk("fired"));
        assert_eq!(c.cmd(&["SELECT", "0"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["GET", "b"]), bulk("no"));
        assert_eq!(c.cmd(&["SAVE"]), Resp::Simple("OK".into()));
        // Deleting a named cache drops its triggers: a new cache of that name has none.
        assert_eq!(h.delete("/api/v1/caches/other").status / 100, 2);
        assert_eq!(
            h.post("/api/v1/caches", r#"{"name":"other"}"#).status / 100,
            2
        );
        assert!(!other.get("/api/v1/triggers").text().contains("\"a\""));
        assert_eq!(c.cmd(&["SELECT", "other"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["SET", "a", "3"]), Resp::Simple("OK".into()));
        assert_eq!(c.cmd(&["EXISTS", "b"]), Resp::Int(0), "no trigger fired");
    }
    // SAVE wrote them; --load-snapshot brings them back, and they fire.
    let saved = std::fs::read_to_string(dir.0.join("default.snapshot.json")).unwrap();
    assert!(saved.contains("\"triggers\":"), "{saved}");
    let server = Server::start(&["--load-snapshot", d]);
    let h = Http::new(server.http);
    assert!(h.get("/api/v1/triggers").text().contains("\"a\""));
    let mut c = Conn::open(&server);
    assert_eq!(c.cmd(&["GET", "b"]), bulk("no"));
    assert_eq!(c.cmd(&["SET", "a", "3"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("fired"));
}

#[test]
fn load_snapshot_reads_a_go_backup() {
    let dir = TempDir::new("goload");
    let file = dir.0.join("go.json");
    std::fs::write(&file, go_fixture(now_secs())).unwrap();
    let server = Server::start(&[
        "--key-mode",
        "path",
        "--load-snapshot",
        file.to_str().unwrap(),
    ]);
    let mut c = Conn::open(&server);
    assert_eq!(c.cmd(&["HGET", "user:200", "name"]), bulk("Bob"));
    assert_eq!(c.cmd(&["EXISTS", "old"]), Resp::Int(0));
    assert_eq!(c.cmd(&["SET", "counter", "1"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["HGET", "user:100", "name"]), bulk("Triggered"));
}
