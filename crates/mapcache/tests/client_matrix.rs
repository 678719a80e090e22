//! The client matrix: everyday use of redis-py 8.2 (sync and asyncio, RESP2 and RESP3),
//! ioredis 6.1, node-redis 6.4 and 4.7 (RESP2 and RESP3) and the `redis` crate, each
//! run against redis-server and against mapcache in the same test; the outputs must be
//! equal. The scripts are in `client_matrix/`; each prints one line per operation
//! (strings, hashes as mappings, lists, SCAN iterators, the default transactional
//! pipeline, a WATCH conflict and its retry, errors, CONFIG/OBJECT/MEMORY).
//!
//! The client libraries are installed at test time, pinned, with the registries' own
//! clients (`pip3 install --target`, `npm install`) under `CARGO_TARGET_TMPDIR`, once;
//! the programs come from Debian (`cargo xtask test` installs python3-pip, nodejs, npm).
//!
//! The lock and script helpers (redis-py's `Lock`, `register_script`, ioredis's
//! `defineCommand`, node-redis's `evalSha`) run with `--scripting`: compared with
//! redis-server once mapcache has EVALSHA; until then the test asserts that the
//! mapcache run stops at the unknown EVALSHA/EVAL.

mod support;

#[path = "differential/client.rs"]
#[allow(dead_code)]
mod client;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use client::{Conn, RedisServer};
use support::Server;

const REDIS_PY: &str = "8.2.0";
const IOREDIS: &str = "6.1.0";
const NODE_REDIS: &[&str] = &["6.4.0", "4.7.1"];

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/client_matrix")
}

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("client-matrix")
}

/// One installer at a time (pip and npm write shared caches).
static INSTALL: Mutex<()> = Mutex::new(());

/// redis-py `REDIS_PY` in its own directory (for PYTHONPATH), installed once.
fn redis_py() -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache().join(format!("redis-py-{REDIS_PY}"));
    let marker = dir.join(format!("redis-{REDIS_PY}.dist-info"));
    if !marker.exists() {
        let pip = support::tool("pip3", "python3-pip");
        let out = Command::new(pip)
            .args(["install", "--quiet", "--no-deps", "--break-system-packages"])
            .arg("--target")
            .arg(&dir)
            .arg(format!("redis=={REDIS_PY}"))
            .output()
            .expect("run pip3");
        assert!(
            out.status.success(),
            "pip3 install redis=={REDIS_PY}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir
}

/// The npm package `name@version` in its own directory, installed once; its
/// `node_modules` (for NODE_PATH).
fn npm_package(name: &str, version: &str) -> PathBuf {
    let _guard = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = cache().join(format!("{name}-{version}"));
    let manifest = dir.join("node_modules").join(name).join("package.json");
    let installed = std::fs::read_to_string(&manifest)
        .is_ok_and(|m| m.contains(&format!("\"version\": \"{version}\"")));
    if !installed {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("package.json"), "{\"private\":true}\n").unwrap();
        let out = Command::new(support::tool("npm", "npm"))
            .args(["install", "--no-audit", "--no-fund", "--silent"])
            .arg(format!("{name}@{version}"))
            .current_dir(&dir)
            .output()
            .expect("run npm");
        assert!(
            out.status.success(),
            "npm install {name}@{version}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    dir.join("node_modules")
}

struct Pair {
    redis: RedisServer,
    _server: Server,
    mapcache_port: u16,
}

fn pair() -> Pair {
    let redis = RedisServer::start();
    let server = Server::start(&[]);
    Pair {
        mapcache_port: server.port(),
        redis,
        _server: server,
    }
}

/// Runs the command `make` builds for each server's port: Redis's output (which must
/// succeed) and mapcache's.
fn both(p: &Pair, make: &dyn Fn(u16) -> Command) -> (String, String) {
    let run = |port: u16| {
        let out = make(port).output().expect("run the client script");
        (
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
            out.status.success(),
        )
    };
    let (want, ok) = run(p.redis.addr.port());
    assert!(ok, "the script fails against redis-server itself:\n{want}");
    assert!(want.lines().count() > 20, "too little output:\n{want}");
    let (got, _) = run(p.mapcache_port);
    (want, got)
}

fn assert_same(label: &str, want: &str, got: &str) {
    for (i, (w, g)) in want.lines().zip(got.lines()).enumerate() {
        assert_eq!(g, w, "{label}: line {i} differs\nmapcache:\n{got}");
    }
    assert_eq!(got.lines().count(), want.lines().count(), "{label}:\n{got}");
}

/// Does mapcache run scripts yet? (COMMAND INFO answers a null for an unknown command.)
fn mapcache_has_scripting(port: u16) -> bool {
    let mut c = Conn::connect(std::net::SocketAddr::from(([127, 0, 0, 1], port)), "probe");
    let r = c
        .call_strs(&[b"COMMAND", b"INFO", b"EVALSHA"])
        .expect("COMMAND INFO");
    !matches!(r, mapcache_resp::Frame::Array(ref items) if matches!(items.first(), Some(mapcache_resp::Frame::Null)))
}

/// The scripting run: equal to Redis's once mapcache has scripts; until then every
/// line before the failure equals Redis's and the failure is the unknown EVAL,
/// EVALSHA or SCRIPT.
fn check_scripting(label: &str, p: &Pair, want: &str, got: &str) {
    if mapcache_has_scripting(p.mapcache_port) {
        assert_same(label, want, got);
        return;
    }
    let stops = |l: &str| {
        let l = l.to_ascii_lowercase();
        l.contains("unknown command") || l.starts_with("traceback") || l.starts_with("failed:")
    };
    let lower = got.to_ascii_lowercase();
    assert!(
        ["evalsha", "eval", "script"]
            .iter()
            .any(|c| lower.contains(&format!("unknown command '{c}'"))),
        "{label}: expected the run to stop at EVAL, EVALSHA or SCRIPT:\n{got}"
    );
    for (w, g) in want.lines().zip(got.lines()).take_while(|(_, g)| !stops(g)) {
        assert_eq!(g, w, "{label}");
    }
}

fn python(dir: &Path, port: u16, protocol: &str, mode: &str, scripting: bool) -> Command {
    let mut c = Command::new(support::tool("python3", "python3"));
    c.env("PYTHONPATH", dir)
        .arg(scripts().join("redis_py.py"))
        .args(["127.0.0.1", &port.to_string(), protocol, mode]);
    if scripting {
        c.arg("--scripting");
    }
    c
}

#[test]
fn redis_py_sync_and_asyncio_resp2_and_resp3() {
    let dir = redis_py();
    let p = pair();
    for protocol in ["2", "3"] {
        for mode in ["sync", "async"] {
            let label = format!("redis-py {mode} RESP{protocol}");
            let (want, got) = both(&p, &|port| python(&dir, port, protocol, mode, false));
            assert_same(&label, &want, &got);
            let (want, got) = both(&p, &|port| python(&dir, port, protocol, mode, true));
            check_scripting(&format!("{label} scripting"), &p, &want, &got);
        }
    }
}

fn node(modules: &Path, script: &str, port: u16, extra: &[&str], scripting: bool) -> Command {
    let mut c = Command::new(support::tool("node", "nodejs"));
    c.env("NODE_PATH", modules)
        .arg(scripts().join(script))
        .args(["127.0.0.1", &port.to_string()])
        .args(extra);
    if scripting {
        c.arg("--scripting");
    }
    c
}

#[test]
fn ioredis_everyday_use() {
    let modules = npm_package("ioredis", IOREDIS);
    let p = pair();
    let (want, got) = both(&p, &|port| node(&modules, "ioredis.js", port, &[], false));
    assert_same("ioredis", &want, &got);
    let (want, got) = both(&p, &|port| node(&modules, "ioredis.js", port, &[], true));
    check_scripting("ioredis scripting", &p, &want, &got);
}

#[test]
fn node_redis_everyday_use_resp2_and_resp3() {
    let p = pair();
    for version in NODE_REDIS {
        let modules = npm_package("redis", version);
        // node-redis 4 speaks RESP2 only.
        let protocols: &[&str] = if version.starts_with('4') {
            &["2"]
        } else {
            &["2", "3"]
        };
        for resp in protocols {
            let label = format!("node-redis {version} RESP{resp}");
            let (want, got) = both(&p, &|port| {
                node(&modules, "node_redis.js", port, &[resp], false)
            });
            assert_same(&label, &want, &got);
            let (want, got) = both(&p, &|port| {
                node(&modules, "node_redis.js", port, &[resp], true)
            });
            check_scripting(&format!("{label} scripting"), &p, &want, &got);
        }
    }
}

/// The `redis` crate: the same everyday operations through its typed API.
fn rust_client(port: u16, resp3: bool) -> Vec<String> {
    use redis::Commands as _;
    let url = format!(
        "redis://127.0.0.1:{port}/{}",
        if resp3 { "?protocol=resp3" } else { "" }
    );
    let client = redis::Client::open(url.as_str()).unwrap();
    let mut r = client.get_connection().unwrap();
    let mut other = client.get_connection().unwrap();
    let mut log = Vec::new();
    let mut show = |label: &str, v: String| log.push(format!("{label}: {v}"));
    let _: () = redis::cmd("FLUSHALL").query(&mut r).unwrap();
    let _: () = r.set("greeting", "hello").unwrap();
    show(
        "get",
        format!("{:?}", r.get::<_, Option<String>>("greeting")),
    );
    show("incr", format!("{:?}", r.incr::<_, _, i64>("counter", 5)));
    let _: () = r
        .hset_multiple("user:1", &[("name", "Ada"), ("age", "36")])
        .unwrap();
    show(
        "hgetall",
        format!(
            "{:?}",
            r.hgetall::<_, std::collections::BTreeMap<String, String>>("user:1")
        ),
    );
    show(
        "rpush",
        format!("{:?}", r.rpush::<_, _, i64>("queue", &["a", "b"])),
    );
    show(
        "lrange",
        format!("{:?}", r.lrange::<_, Vec<String>>("queue", 0, -1)),
    );
    for i in 0..100 {
        let _: () = r.set(format!("scan:{i}"), i).unwrap();
    }
    let mut keys: Vec<String> = r.scan_match::<_, String>("scan:1*").unwrap().collect();
    keys.sort();
    show("scan_match", format!("{keys:?}"));
    // The atomic pipeline: MULTI/EXEC.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("tx", 1)
        .incr("tx", 1)
        .query(&mut r)
        .unwrap();
    show("atomic pipe", format!("{a} {b}"));
    // redis::transaction retries on a WATCH conflict.
    let _: () = r.set("balance", 100).unwrap();
    let mut tries = 0;
    let (v,): (i64,) = redis::transaction(&mut r, &["balance"], |con, pipe| {
        let value: i64 = con.get("balance")?;
        tries += 1;
        if tries == 1 {
            let _: () = other.incr("balance", 5)?;
        }
        pipe.set("balance", value - 10)
            .ignore()
            .get("balance")
            .query(con)
    })
    .unwrap();
    show("transaction", format!("{v} after {tries} tries"));
    let err = r.lpush::<_, _, i64>("greeting", "x").unwrap_err();
    show(
        "wrongtype",
        format!("{:?} {}", err.kind(), err.detail().unwrap_or_default()),
    );
    show(
        "types",
        format!(
            "{:?}",
            ["greeting", "user:1", "queue", "none"]
                .iter()
                .map(|k| redis::cmd("TYPE").arg(k).query::<String>(&mut r).unwrap())
                .collect::<Vec<_>>()
        ),
    );
    log
}

#[test]
fn redis_crate_everyday_use() {
    let p = pair();
    for resp3 in [false, true] {
        let want = rust_client(p.redis.addr.port(), resp3);
        let got = rust_client(p.mapcache_port, resp3);
        assert_eq!(got, want, "resp3: {resp3}");
    }
}

/// redis-py 8.2's `with r.lock(name):` (SET NX PX, then EVALSHA with a SCRIPT LOAD
/// fallback to release and extend) and `register_script`, in RESP2 and RESP3, on
/// mapcache alone (the matrix above compares the same helpers with Redis).
#[test]
fn redis_py_lock_and_script_helpers() {
    let python = support::tool("python3", "python3");
    let server = Server::start(&[]);
    let program = r#"
import sys, redis
port = int(sys.argv[1])
for proto in (2, 3):
    r = redis.Redis(port=port, protocol=proto)
    r.delete("lk", "cnt")
    with r.lock("lk"):
        assert r.get("lk") is not None
    assert r.get("lk") is None, "the lock was released"
    lk = r.lock("lk", timeout=5)
    assert lk.acquire(blocking=False)
    assert not r.lock("lk").acquire(blocking=False), "held by the other"
    assert lk.extend(5)
    assert lk.reacquire()
    lk.release()
    s = r.register_script("return redis.call('incrby', KEYS[1], ARGV[1])")
    assert s(keys=["cnt"], args=[5]) == 5
    r.script_flush()
    assert s(keys=["cnt"], args=[2]) == 7, "reloaded after NOSCRIPT"
    print("ok", proto)
"#;
    let out = std::process::Command::new(python)
        .args(["-c", program, &server.port().to_string()])
        .env("PYTHONPATH", redis_py())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("ok 2") && stdout.contains("ok 3"),
        "redis-py (pip package redis 8.2) failed:\n{stdout}\n{stderr}"
    );
}
