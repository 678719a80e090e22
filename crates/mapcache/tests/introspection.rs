//! The small commands of issue 17 against redis-server 7.0: OBJECT, MEMORY, MOVE,
//! SWAPDB, RESET, WAIT, ECHO, COMMAND GETKEYS, CLIENT KILL/PAUSE/REPLY, CONFIG GET/SET
//! of every parameter, INFO's sections and fields. A transcript of two interleaved
//! clients goes to both servers and every reply must be byte-identical; what is
//! volatile by nature (CONFIG GET *'s order, INFO's values) is compared by its shape.

mod support;

#[path = "differential/client.rs"]
#[allow(dead_code)]
mod client;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use client::{Conn, RedisServer};
use mapcache_resp::Frame;
use support::Server;

/// A step: which client (0 or 1) sends which command.
type Step = (usize, &'static [&'static str]);

const SCRIPT: &[Step] = &[
    (0, &["FLUSHALL"]),
    // OBJECT ENCODING / REFCOUNT and MEMORY USAGE over each encoding's boundaries.
    (0, &["SET", "s", "hello"]),
    (0, &["SET", "i", "12345"]),
    (0, &["SET", "neg", "-5"]),
    (0, &["SET", "lead0", "0123"]),
    (
        0,
        &["SET", "e44", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"],
    ),
    (
        0,
        &[
            "SET",
            "e45",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ],
    ),
    (0, &["SET", "shared", "100"]),
    (0, &["SET", "a-key-longer-than-thirty-two-bytes-xx", "v"]),
    (0, &["RPUSH", "l", "a", "b", "c", "1", "300", "-7", "hello"]),
    (0, &["HSET", "h", "a", "1", "b", "2", "c", "hello"]),
    (
        0,
        &[
            "HSET",
            "hbig",
            "f",
            "a-value-longer-than-sixty-four-bytes-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        ],
    ),
    (0, &["OBJECT", "ENCODING", "s"]),
    (0, &["OBJECT", "ENCODING", "i"]),
    (0, &["OBJECT", "ENCODING", "neg"]),
    (0, &["OBJECT", "ENCODING", "lead0"]),
    (0, &["OBJECT", "ENCODING", "e44"]),
    (0, &["OBJECT", "ENCODING", "e45"]),
    (0, &["OBJECT", "ENCODING", "l"]),
    (0, &["OBJECT", "ENCODING", "h"]),
    (0, &["OBJECT", "ENCODING", "hbig"]),
    (0, &["OBJECT", "ENCODING", "nokey"]),
    (0, &["OBJECT", "REFCOUNT", "shared"]),
    (0, &["OBJECT", "REFCOUNT", "s"]),
    (0, &["OBJECT", "REFCOUNT", "nokey"]),
    (0, &["OBJECT", "ENCODING"]),
    (0, &["OBJECT", "NOSUCH", "x"]),
    (0, &["OBJECT", "HELP"]),
    (0, &["MEMORY", "USAGE", "s"]),
    (0, &["MEMORY", "USAGE", "i"]),
    (0, &["MEMORY", "USAGE", "lead0"]),
    (0, &["MEMORY", "USAGE", "e44"]),
    (0, &["MEMORY", "USAGE", "e45"]),
    (
        0,
        &["MEMORY", "USAGE", "a-key-longer-than-thirty-two-bytes-xx"],
    ),
    (0, &["MEMORY", "USAGE", "l"]),
    (0, &["MEMORY", "USAGE", "h"]),
    (0, &["MEMORY", "USAGE", "hbig"]),
    (0, &["MEMORY", "USAGE", "hbig", "SAMPLES", "0"]),
    (0, &["MEMORY", "USAGE", "nokey"]),
    (0, &["MEMORY", "USAGE", "s", "SAMPLES", "-1"]),
    (0, &["MEMORY", "USAGE", "s", "SAMPLES", "x"]),
    (0, &["MEMORY", "USAGE", "s", "SAMPLES"]),
    (0, &["MEMORY", "USAGE", "s", "FOO"]),
    (0, &["MEMORY", "USAGE"]),
    (0, &["MEMORY", "NOSUCH"]),
    (0, &["MEMORY", "HELP"]),
    // MOVE and SWAPDB, with TTLs kept.
    (0, &["SET", "m", "1", "EX", "100"]),
    (0, &["MOVE", "m", "1"]),
    (0, &["MOVE", "m", "1"]),
    (0, &["MOVE", "s", "0"]),
    (0, &["MOVE", "s", "16"]),
    (0, &["MOVE", "s", "-1"]),
    (0, &["MOVE", "s", "x"]),
    (0, &["MOVE", "s", "99999999999"]),
    (0, &["SET", "m", "here"]),
    (0, &["MOVE", "m", "1"]),
    (1, &["SELECT", "1"]),
    (1, &["GET", "m"]),
    (1, &["TTL", "m"]),
    (1, &["SET", "only1", "x"]),
    (0, &["SWAPDB", "0", "1"]),
    (0, &["GET", "only1"]),
    (0, &["GET", "m"]),
    (1, &["GET", "s"]),
    (1, &["DBSIZE"]),
    (0, &["SWAPDB", "0", "16"]),
    (0, &["SWAPDB", "x", "1"]),
    (0, &["SWAPDB", "0", "x"]),
    (0, &["SWAPDB", "0", "0"]),
    (0, &["SWAPDB", "-1", "0"]),
    (0, &["SWAPDB", "99999999999", "0"]),
    (0, &["SWAPDB", "1", "0"]),
    // SWAPDB invalidates a WATCH on either database.
    (0, &["WATCH", "only1"]),
    (1, &["SWAPDB", "0", "1"]),
    (0, &["MULTI"]),
    (0, &["PING"]),
    (0, &["EXEC"]),
    (1, &["SWAPDB", "0", "1"]),
    // WAIT, ECHO, RESET.
    (0, &["WAIT", "0", "0"]),
    (0, &["WAIT", "x", "0"]),
    (0, &["WAIT", "0", "-1"]),
    (0, &["WAIT", "0", "x"]),
    (0, &["WAIT", "1", "100"]),
    (0, &["ECHO", "hi"]),
    (0, &["ECHO"]),
    (1, &["SELECT", "3"]),
    (1, &["CLIENT", "SETNAME", "before"]),
    (1, &["MULTI"]),
    (1, &["RESET"]),
    (1, &["CLIENT", "GETNAME"]),
    (1, &["EXEC"]),
    (1, &["SET", "indb0", "1"]),
    (0, &["GET", "indb0"]),
    // COMMAND GETKEYS.
    (0, &["COMMAND", "GETKEYS", "GET", "key"]),
    (0, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
    (0, &["COMMAND", "GETKEYS", "MEMORY", "USAGE", "k"]),
    (0, &["COMMAND", "GETKEYS", "OBJECT", "ENCODING", "k"]),
    (0, &["COMMAND", "GETKEYS", "CONFIG", "GET", "x"]),
    (0, &["COMMAND", "GETKEYS", "PING", "x"]),
    (0, &["COMMAND", "GETKEYS", "NOSUCH", "x"]),
    (0, &["COMMAND", "GETKEYS", "GET", "a", "b"]),
    (0, &["COMMAND", "GETKEYS", "PING"]),
    (0, &["COMMAND", "GETKEYS"]),
    // COMMAND DOCS: Redis's documentation of each command.
    (0, &["COMMAND", "DOCS", "GET"]),
    (0, &["COMMAND", "DOCS", "SET", "HSET", "NOSUCH", "LPOS"]),
    (0, &["COMMAND", "DOCS", "CLIENT|KILL"]),
    // CLIENT KILL's checks, PAUSE's checks.
    (0, &["CLIENT", "KILL"]),
    (0, &["CLIENT", "KILL", "1.2.3.4:5"]),
    (0, &["CLIENT", "KILL", "ID", "10", "extra"]),
    (0, &["CLIENT", "KILL", "ID", "str"]),
    (0, &["CLIENT", "KILL", "ID", "0"]),
    (0, &["CLIENT", "KILL", "ID", "999999"]),
    (0, &["CLIENT", "KILL", "TYPE", "wrong"]),
    (0, &["CLIENT", "KILL", "TYPE", "master"]),
    (0, &["CLIENT", "KILL", "USER", "nobody"]),
    (0, &["CLIENT", "KILL", "SKIPME", "maybe"]),
    (0, &["CLIENT", "KILL", "ADDR", "1.2.3.4:5"]),
    (0, &["CLIENT", "KILL", "LADDR", "1.2.3.4:5"]),
    (0, &["CLIENT", "PAUSE"]),
    (0, &["CLIENT", "PAUSE", "10", "SOMETIMES"]),
    (0, &["CLIENT", "PAUSE", "x"]),
    (0, &["CLIENT", "PAUSE", "-1"]),
    (0, &["CLIENT", "PAUSE", "0", "WRITE"]),
    (0, &["CLIENT", "UNPAUSE"]),
    (0, &["CLIENT", "REPLY", "MAYBE"]),
    // CONFIG SET / GET: units, ranges, enums, atomicity, errors.
    (0, &["CONFIG", "SET", "maxmemory", "100mb"]),
    (0, &["CONFIG", "GET", "maxmemory"]),
    (0, &["CONFIG", "SET", "maxmemory", "1.5mb"]),
    (0, &["CONFIG", "SET", "maxmemory", "1tb"]),
    (0, &["CONFIG", "SET", "maxmemory", "0"]),
    (0, &["CONFIG", "SET", "hz", "abc"]),
    (0, &["CONFIG", "SET", "hz", "-1"]),
    (0, &["CONFIG", "SET", "hz", "0100"]),
    (0, &["CONFIG", "SET", "maxmemory-clients", "10%"]),
    (0, &["CONFIG", "GET", "maxmemory-clients"]),
    (0, &["CONFIG", "SET", "maxmemory-clients", "200%"]),
    (0, &["CONFIG", "SET", "maxmemory-clients", "0"]),
    (0, &["CONFIG", "SET", "maxmemory-policy", "ALLKEYS-LRU"]),
    (0, &["CONFIG", "GET", "maxmemory-policy"]),
    (0, &["CONFIG", "SET", "maxmemory-policy", "sometimes"]),
    (0, &["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
    (0, &["CONFIG", "SET", "activerehashing", "maybe"]),
    (0, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
    (0, &["CONFIG", "GET", "notify-keyspace-events"]),
    (0, &["CONFIG", "SET", "notify-keyspace-events", "Q"]),
    (0, &["CONFIG", "SET", "notify-keyspace-events", ""]),
    (
        0,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 1mb 2k 0",
        ],
    ),
    (0, &["CONFIG", "GET", "client-output-buffer-limit"]),
    (
        0,
        &["CONFIG", "SET", "client-output-buffer-limit", "normal 0 0"],
    ),
    (
        0,
        &[
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "nobody 0 0 0",
        ],
    ),
    (0, &["CONFIG", "SET", "save", "1 2 3"]),
    (0, &["CONFIG", "SET", "timeout", "5", "hz", "nope"]),
    (0, &["CONFIG", "GET", "timeout"]),
    (0, &["CONFIG", "SET", "timeout", "0", "hz", "20"]),
    (0, &["CONFIG", "GET", "hz"]),
    (0, &["CONFIG", "SET", "hz", "5", "hz", "6"]),
    (0, &["CONFIG", "SET", "hz", "10"]),
    (0, &["CONFIG", "SET", "nosuch", "1"]),
    (0, &["CONFIG", "SET", "daemonize", "no"]),
    (0, &["CONFIG", "SET", "dir", "/tmp"]),
    (0, &["CONFIG", "SET", "hz"]),
    (0, &["CONFIG", "SET", "slave-read-only", "yes"]),
    (0, &["CONFIG", "GET", "slave-read-only"]),
    (0, &["CONFIG", "GET", "key-load-delay"]),
    (0, &["CONFIG", "GET", "key-load*"]),
    (0, &["CONFIG", "GET"]),
    (0, &["CONFIG", "REWRITE"]),
    (0, &["CONFIG", "HELP"]),
];

fn run(conns: &mut [Conn; 2]) -> Vec<Vec<u8>> {
    SCRIPT
        .iter()
        .map(|(who, cmd)| {
            let args: Vec<Vec<u8>> = cmd.iter().map(|a| a.as_bytes().to_vec()).collect();
            match conns[*who].call(&args) {
                Ok(r) => r.raw,
                Err(e) => format!("connection error: {e}").into_bytes(),
            }
        })
        .collect()
}

struct Pair {
    _redis: RedisServer,
    redis: SocketAddr,
    _server: Server,
    mapcache: SocketAddr,
}

fn pair() -> Pair {
    let redis = RedisServer::start();
    let server = Server::start(&[]);
    let mapcache = SocketAddr::from(([127, 0, 0, 1], server.port()));
    Pair {
        redis: redis.addr,
        _redis: redis,
        _server: server,
        mapcache,
    }
}

#[test]
fn small_commands_answer_exactly_as_redis() {
    let p = pair();
    let mut r = [
        Conn::connect(p.redis, "redis"),
        Conn::connect(p.redis, "redis"),
    ];
    let mut m = [
        Conn::connect(p.mapcache, "mapcache"),
        Conn::connect(p.mapcache, "mapcache"),
    ];
    let want = run(&mut r);
    let got = run(&mut m);
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        assert_eq!(
            String::from_utf8_lossy(g),
            String::from_utf8_lossy(w),
            "step {i}: {:?}",
            SCRIPT[i]
        );
    }
}

fn strs(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        other => format!("{other:?}"),
    }
}

/// CONFIG GET * as a map.
fn config_all(c: &mut Conn) -> BTreeMap<String, String> {
    let Frame::Array(items) = c.call(&strs(&["CONFIG", "GET", "*"])).unwrap().frame else {
        panic!("CONFIG GET * is not an array");
    };
    items
        .chunks(2)
        .map(|kv| (text(&kv[0]), text(&kv[1])))
        .collect()
}

/// Parameters whose value depends on how each server was started (port, directory,
/// snapshot policy) or that mapcache answers differently on purpose.
const STARTUP_DEPENDENT: &[&str] = &["bind", "dir", "port", "save", "pidfile", "daemonize"];

#[test]
fn config_get_star_lists_every_parameter_with_redis_defaults() {
    let p = pair();
    let want = config_all(&mut Conn::connect(p.redis, "redis"));
    let got = config_all(&mut Conn::connect(p.mapcache, "mapcache"));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "the same parameter names"
    );
    assert!(
        want.len() >= 190,
        "Redis 7.0 lists {} parameters",
        want.len()
    );
    for (name, value) in &want {
        if STARTUP_DEPENDENT.contains(&name.as_str()) {
            continue;
        }
        assert_eq!(&got[name], value, "CONFIG GET {name}");
    }
    // Every parameter set to its own value is accepted and reads back the same, as
    // Redis's own "CONFIG sanity" test does; immutable and protected ones refuse.
    let mut c = Conn::connect(p.mapcache, "mapcache");
    let mut rc = Conn::connect(p.redis, "redis");
    for (name, value) in &got {
        let set = strs(&["CONFIG", "SET", name, value]);
        let mine = c.call(&set).unwrap().raw;
        if STARTUP_DEPENDENT.contains(&name.as_str()) {
            continue;
        }
        let theirs = rc.call(&set).unwrap().raw;
        assert_eq!(
            String::from_utf8_lossy(&mine),
            String::from_utf8_lossy(&theirs),
            "CONFIG SET {name} {value}"
        );
    }
    assert_eq!(config_all(&mut c), got, "CONFIG SET of each value kept it");
}

/// INFO everything as section -> field names.
fn info_fields(c: &mut Conn) -> BTreeMap<String, BTreeSet<String>> {
    let reply = c.call(&strs(&["INFO", "everything"])).unwrap().frame;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in text(&reply).lines() {
        if let Some(name) = line.strip_prefix("# ") {
            section = name.to_string();
            out.entry(section.clone()).or_default();
        } else if let Some((field, _)) = line.split_once(':') {
            // Per-command and per-database lines depend on what ran; their shape is
            // checked below.
            if !["cmdstat_", "latency_percentiles_usec_", "errorstat_", "db"]
                .iter()
                .any(|p| field.starts_with(p))
            {
                out.entry(section.clone())
                    .or_default()
                    .insert(field.to_string());
            }
        }
    }
    out
}

#[test]
fn info_has_every_section_and_field_of_redis() {
    let p = pair();
    let mut r = Conn::connect(p.redis, "redis");
    let mut m = Conn::connect(p.mapcache, "mapcache");
    for c in [&mut r, &mut m] {
        c.call(&strs(&["SET", "k", "v"])).unwrap();
        c.call(&strs(&["GET", "k"])).unwrap();
    }
    let want = info_fields(&mut r);
    let mut got = info_fields(&mut m);
    // mapcache's own additions.
    if let Some(server) = got.get_mut("Server") {
        server.remove("mapcache_git_sha1");
        server.remove("mapcache_key_mode");
    }
    assert_eq!(got, want);
    // The per-command and keyspace lines have Redis's shape.
    let info = text(&m.call(&strs(&["INFO", "everything"])).unwrap().frame);
    assert!(info.contains("\r\ncmdstat_get:calls=1,usec="), "{info}");
    assert!(
        info.contains("\r\nlatency_percentiles_usec_get:p50="),
        "{info}"
    );
    assert!(
        info.contains("\r\ndb0:keys=1,expires=0,avg_ttl=0\r\n"),
        "{info}"
    );
    // The default set leaves commandstats and latencystats out, as Redis does.
    let default = text(&m.call(&strs(&["INFO"])).unwrap().frame);
    assert!(!default.contains("# Commandstats") && !default.contains("# Latencystats"));
    assert!(default.contains("# Modules") && default.contains("# Cluster\r\ncluster_enabled:0"));
}

/// Sends `cmds` in one write and reads `n` replies.
fn pipeline(c: &mut Conn, cmds: &[&[&str]], n: usize) -> Vec<Vec<u8>> {
    for cmd in cmds {
        c.send(&strs(cmd)).unwrap();
    }
    (0..n).map(|_| c.read().unwrap().raw).collect()
}

#[test]
fn client_reply_off_skip_on_as_redis() {
    let p = pair();
    let cmds: &[&[&str]] = &[
        &["CLIENT", "REPLY", "OFF"],
        &["SET", "a", "1"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["CLIENT", "REPLY", "SKIP"],
        &["SET", "b", "2"],
        &["GET", "b"],
        &["CLIENT", "REPLY", "SKIP"],
        &["CLIENT", "REPLY", "ON"],
        &["GET", "a"],
        &["NOSUCH"],
    ];
    let want = pipeline(&mut Conn::connect(p.redis, "redis"), cmds, 6);
    let got = pipeline(&mut Conn::connect(p.mapcache, "mapcache"), cmds, 6);
    assert_eq!(
        got.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>(),
        want.iter()
            .map(|r| String::from_utf8_lossy(r).into_owned())
            .collect::<Vec<_>>()
    );
}

/// CLIENT KILL closes the other connections (SKIPME yes), or all (SKIPME no, after
/// this reply), and they are gone from CLIENT LIST at once.
fn kill_story(addr: SocketAddr) -> Vec<String> {
    let mut me = Conn::connect(addr, "me");
    let mut others: Vec<Conn> = (0..3).map(|_| Conn::connect(addr, "other")).collect();
    for o in &mut others {
        o.call(&strs(&["PING"])).unwrap();
    }
    let mut log = Vec::new();
    let count = |me: &mut Conn| {
        let list = text(&me.call(&strs(&["CLIENT", "LIST"])).unwrap().frame);
        list.lines().count()
    };
    log.push(format!("before {}", count(&mut me)));
    log.push(format!(
        "kill {:?}",
        me.call(&strs(&["CLIENT", "KILL", "SKIPME", "yes"]))
            .unwrap()
            .frame
    ));
    log.push(format!("after {}", count(&mut me)));
    for o in &mut others {
        log.push(format!("other: {}", o.call(&strs(&["PING"])).is_err()));
    }
    let mut other = Conn::connect(addr, "other");
    let id = text(&Frame::Bulk(
        format!("{:?}", other.call(&strs(&["CLIENT", "ID"])).unwrap().frame).into(),
    ));
    log.push(format!(
        "id reply is an integer: {}",
        id.starts_with("Integer")
    ));
    log.push(format!(
        "kill all {:?}",
        me.call(&strs(&["CLIENT", "KILL", "SKIPME", "no"]))
            .unwrap()
            .frame
    ));
    log.push(format!("me closed: {}", me.call(&strs(&["PING"])).is_err()));
    log.push(format!(
        "other closed: {}",
        other.call(&strs(&["PING"])).is_err()
    ));
    log
}

#[test]
fn client_kill_closes_connections_as_redis() {
    let p = pair();
    assert_eq!(kill_story(p.mapcache), kill_story(p.redis));
}

/// Under CLIENT PAUSE WRITE a read answers at once and a write waits for the pause;
/// CLIENT UNPAUSE releases it early.
fn pause_story(addr: SocketAddr) -> Vec<String> {
    let mut admin = Conn::connect(addr, "admin");
    let mut c = Conn::connect(addr, "client");
    let mut log = Vec::new();
    admin
        .call(&strs(&["CLIENT", "PAUSE", "400", "WRITE"]))
        .unwrap();
    let t = Instant::now();
    log.push(format!("{:?}", c.call(&strs(&["GET", "p"])).unwrap().frame));
    log.push(format!(
        "read waited: {}",
        t.elapsed() >= Duration::from_millis(300)
    ));
    let t = Instant::now();
    log.push(format!(
        "{:?}",
        c.call(&strs(&["SET", "p", "1"])).unwrap().frame
    ));
    log.push(format!(
        "write waited: {}",
        t.elapsed() >= Duration::from_millis(300)
    ));
    admin
        .call(&strs(&["CLIENT", "PAUSE", "300", "ALL"]))
        .unwrap();
    let t = Instant::now();
    log.push(format!("{:?}", c.call(&strs(&["GET", "p"])).unwrap().frame));
    log.push(format!(
        "read waited under ALL: {}",
        t.elapsed() >= Duration::from_millis(200)
    ));
    // A long WRITE pause, ended early by CLIENT UNPAUSE (not a write: it runs).
    admin
        .call(&strs(&["CLIENT", "PAUSE", "20000", "WRITE"]))
        .unwrap();
    let t = Instant::now();
    c.send(&strs(&["INCR", "p"])).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    log.push(format!(
        "{:?}",
        admin.call(&strs(&["CLIENT", "UNPAUSE"])).unwrap().frame
    ));
    log.push(format!("{:?}", c.read().unwrap().frame));
    let waited = t.elapsed();
    log.push(format!(
        "released early: {}",
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(5)
    ));
    log
}

#[test]
fn client_pause_holds_writes_as_redis() {
    let p = pair();
    assert_eq!(pause_story(p.mapcache), pause_story(p.redis));
}

/// MONITOR's lines with the time and the client's address taken out.
fn monitor_story(addr: SocketAddr) -> Vec<String> {
    let mut mon = Conn::connect(addr, "monitor");
    let mut c = Conn::connect(addr, "client");
    let mut log = vec![format!(
        "{:?}",
        mon.call(&strs(&["MONITOR"])).unwrap().frame
    )];
    let cmds: &[&[&str]] = &[
        &["SET", "foo", "b\"a\tr\u{1}"],
        &["SELECT", "2"],
        &["GET", "foo"],
        &["SELECT", "0"],
        &["MULTI"],
        &["SET", "foo", "bar"],
        &["EXEC"],
        &["MULTI"],
        &["NOSUCH", "x"],
        &["EXEC"],
        &["CONFIG", "GET", "hz"], // admin: not shown
        &["GET"],                 // refused: not shown
        // Scripts show before their commands, which come from `lua`.
        &[
            "EVAL",
            "redis.call('set', KEYS[1], ARGV[1]); return redis.call('get', KEYS[1])",
            "1",
            "foo",
            "bar",
        ],
        &["EVALSHA", "abc", "0"],
        &[
            "FUNCTION",
            "LOAD",
            "REPLACE",
            "#!lua name=monlib\nredis.register_function('f', function(k, a) return redis.call('set', k[1], a[1]) end)",
        ],
        &["FCALL", "f", "1", "k", "v"],
        &["MULTI"],
        &["EVAL", "return redis.call('incr', 'n')", "0"],
        &["EXEC"],
        &["FUNCTION", "DELETE", "monlib"],
        &["ECHO", "last"],
    ];
    for cmd in cmds {
        let _ = c.call(&strs(cmd));
    }
    for _ in 0..22 {
        let line = text(&mon.read().unwrap().frame);
        // "+1700000000.123456 [0 127.0.0.1:5555] ..." -> "[0] ...", "[0 lua]" kept.
        let (_, rest) = line.split_once(" [").expect("time");
        let (db, rest) = rest.split_once(' ').expect("db");
        let (from, args) = rest.split_once("] ").expect("addr");
        let from = if from == "lua" { " lua" } else { "" };
        log.push(format!("[{db}{from}] {args}"));
    }
    assert_eq!(
        log.last().map(String::as_str),
        Some("[0] \"ECHO\" \"last\"")
    );
    log
}

#[test]
fn monitor_shows_commands_as_redis() {
    let p = pair();
    assert_eq!(monitor_story(p.mapcache), monitor_story(p.redis));
}

fn list(c: &mut Conn, args: &[&str]) -> BTreeSet<String> {
    let mut cmd = vec!["COMMAND", "LIST"];
    cmd.extend_from_slice(args);
    match c.call(&strs(&cmd)).unwrap().frame {
        Frame::Array(items) => items.iter().map(text).collect(),
        other => panic!("COMMAND LIST {args:?}: {other:?}"),
    }
}

#[test]
fn command_list_filters_as_redis_over_the_commands_mapcache_has() {
    let p = pair();
    let mut r = Conn::connect(p.redis, "redis");
    let mut m = Conn::connect(p.mapcache, "mapcache");
    let mine = list(&mut m, &[]);
    let theirs = list(&mut r, &[]);
    assert!(mine.contains("config|get") && mine.contains("client|list"));
    // Beyond Redis 7.0: mapcache's own commands and two of Redis 7.2.
    let extra: BTreeSet<String> = mine.difference(&theirs).cloned().collect();
    assert!(
        extra
            .iter()
            .all(|n| n.starts_with("mc.") || n == "client|setinfo" || n == "client|no-touch"),
        "{extra:?}"
    );
    let filters: &[&[&str]] = &[
        &["FILTERBY", "ACLCAT", "connection"],
        &["FILTERBY", "ACLCAT", "KEYSPACE"],
        &["FILTERBY", "ACLCAT", "write"],
        &["FILTERBY", "ACLCAT", "dangerous"],
        &["FILTERBY", "ACLCAT", "hash"],
        &["FILTERBY", "ACLCAT", "nosuch"],
        &["FILTERBY", "PATTERN", "config*"],
        &["FILTERBY", "PATTERN", "CL*HELP"],
        &["FILTERBY", "PATTERN", "h*"],
        &["FILTERBY", "MODULE", "x"],
    ];
    for f in filters {
        let want: BTreeSet<String> = list(&mut r, f).intersection(&mine).cloned().collect();
        let got: BTreeSet<String> = list(&mut m, f).difference(&extra).cloned().collect();
        assert_eq!(got, want, "COMMAND LIST {f:?}");
    }
    // COMMAND INFO's categories (its seventh field) for a command and a subcommand.
    for name in [
        "get",
        "hset",
        "config|get",
        "client|kill",
        "object|encoding",
    ] {
        let field = |c: &mut Conn| match c.call(&strs(&["COMMAND", "INFO", name])).unwrap().frame {
            Frame::Array(items) => match &items[0] {
                Frame::Array(info) => format!("{:?} {:?}", info[0], info[6]),
                other => format!("{other:?}"),
            },
            other => format!("{other:?}"),
        };
        assert_eq!(field(&mut m), field(&mut r), "COMMAND INFO {name}");
    }
}
