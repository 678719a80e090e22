//! Observability of the real binary: `/metrics`, `/healthz`, `/readyz`, HTTP auth, INFO
//! and SLOWLOG (the latter compared with a real `redis-server`).

mod support;

// The differential test's raw client and redis-server runner (not every item is used here).
#[allow(dead_code)]
#[path = "differential/client.rs"]
mod client;

use std::time::{Duration, Instant};

use mapcache_resp::Frame;
use support::{
    http_get, http_get_with, info_field, json_u64, pipeline_simple, prometheus_samples,
    prometheus_value, redis_cli, Server,
};

fn metrics(server: &Server) -> String {
    let (status, body) = http_get(server.http, "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

fn commands_total(text: &str, cmd: &str) -> f64 {
    prometheus_value(text, "mapcache_commands_total", &format!("cmd=\"{cmd}\""))
}

#[test]
fn metrics_count_exactly_the_commands_sent() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    let before = metrics(&server);
    // 37 SETs, 55 GETs (pipelined), 3 wrong-arity GETs (rejected), 2 WRONGTYPE failures.
    let mut cmds: Vec<String> = (0..37).map(|i| format!("SET k{i} v{i}")).collect();
    cmds.extend((0..55).map(|i| format!("GET k{}", i % 40)));
    cmds.extend((0..3).map(|_| "GET".to_string()));
    cmds.push("RPUSH list a".into());
    cmds.extend((0..2).map(|_| "GET list".to_string()));
    let replies = pipeline_simple(&mut c, &cmds);
    assert_eq!(replies[0], "+OK");
    assert!(replies[92].starts_with("-ERR wrong number of arguments"));
    assert!(replies[96].starts_with("-WRONGTYPE"));
    let after = metrics(&server);

    let delta = |name: &str, labels: &str| {
        prometheus_value(&after, name, labels) - prometheus_value(&before, name, labels)
    };
    assert_eq!(delta("mapcache_commands_total", "cmd=\"set\""), 37.0);
    assert_eq!(delta("mapcache_commands_total", "cmd=\"get\""), 57.0);
    assert_eq!(delta("mapcache_commands_total", "cmd=\"rpush\""), 1.0);
    assert_eq!(
        delta("mapcache_command_rejected_calls_total", "cmd=\"get\""),
        3.0
    );
    assert_eq!(
        delta("mapcache_command_failed_calls_total", "cmd=\"get\""),
        2.0
    );
    assert_eq!(delta("mapcache_command_errors_total", "kind=\"ERR\""), 3.0);
    assert_eq!(
        delta("mapcache_command_errors_total", "kind=\"WRONGTYPE\""),
        2.0
    );
    // The latency histogram counts the same calls.
    assert_eq!(
        prometheus_value(
            &after,
            "mapcache_command_duration_seconds_count",
            "cmd=\"get\""
        ),
        commands_total(&after, "get")
    );
    assert_eq!(
        prometheus_value(
            &after,
            "mapcache_command_duration_seconds_bucket",
            "cmd=\"get\",le=\"+Inf\""
        ),
        commands_total(&after, "get")
    );
    // 38 keys were written to db0 (37 strings and the list).
    assert_eq!(
        prometheus_value(&after, "mapcache_db_keys", "db=\"db0\""),
        38.0
    );
    assert!(prometheus_value(&after, "mapcache_keyspace_hits_total", "") >= 37.0);
    assert!(prometheus_value(&after, "mapcache_pipeline_depth_count", "") >= 1.0);
}

#[test]
fn metrics_text_is_well_formed_and_complete() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    pipeline_simple(
        &mut c,
        &["SET a 1".into(), "PEXPIRE a 100000".into(), "GET a".into()],
    );
    let text = metrics(&server);
    let mut typed = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                typed.insert(name.to_string(), kind.to_string()).is_none(),
                "TYPE twice: {line}"
            );
        }
    }
    for (name, labels, _) in prometheus_samples(&text) {
        assert!(name.starts_with("mapcache_"), "unprefixed metric {name}");
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| typed.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&name);
        let kind = typed
            .get(family)
            .unwrap_or_else(|| panic!("no TYPE for {name}"));
        if kind == "counter" {
            assert!(name.ends_with("_total"), "counter {name} without _total");
        }
        assert!(
            labels.is_empty() || labels.contains("=\""),
            "labels {labels}"
        );
    }
    for name in [
        "mapcache_build_info",
        "mapcache_uptime_seconds",
        "mapcache_process_resident_memory_bytes",
        "mapcache_process_cpu_seconds_total",
        "mapcache_commands_total",
        "mapcache_command_duration_seconds",
        "mapcache_connected_clients",
        "mapcache_connections_received_total",
        "mapcache_connections_rejected_total",
        "mapcache_net_input_bytes_total",
        "mapcache_net_output_bytes_total",
        "mapcache_pipeline_depth",
        "mapcache_db_keys",
        "mapcache_db_keys_expiring",
        "mapcache_expired_keys_total",
        "mapcache_keyspace_hits_total",
        "mapcache_sweep_passes_total",
        "mapcache_sweep_duration_seconds",
    ] {
        assert!(typed.contains_key(name), "missing {name} in\n{text}");
    }
    assert_eq!(
        prometheus_value(&text, "mapcache_db_keys_expiring", "db=\"db0\""),
        1.0
    );
    assert_eq!(
        prometheus_value(&text, "mapcache_connected_clients", ""),
        1.0
    );
    assert!(prometheus_value(&text, "mapcache_process_resident_memory_bytes", "") > 1e6);
    // The binary's allocator (jemalloc) reports its own figures.
    let allocated = prometheus_value(&text, "mapcache_allocator_allocated_bytes", "");
    let resident = prometheus_value(&text, "mapcache_allocator_resident_bytes", "");
    assert!(allocated > 1e5, "allocated {allocated}");
    assert!(
        resident >= allocated,
        "resident {resident} < allocated {allocated}"
    );
    let build = prometheus_samples(&text)
        .into_iter()
        .find(|s| s.0 == "mapcache_build_info")
        .unwrap();
    assert!(
        build.1.contains("version=\"") && build.1.contains("commit=\""),
        "{build:?}"
    );
    assert_eq!(build.2, 1.0);
}

#[test]
fn info_agrees_with_metrics() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    let cmds: Vec<String> = (0..25)
        .map(|i| format!("SET k{i} v"))
        .chain((0..10).map(|i| format!("GET k{i}")))
        .chain([
            "GET nokey".to_string(),
            "INCR k1".to_string(),
            "NOSUCHCOMMAND".to_string(),
            "GET".to_string(),
        ])
        .collect();
    pipeline_simple(&mut c, &cmds);
    let text = metrics(&server);
    let info = redis_cli(server.port(), &["INFO", "everything"]);
    let total: u64 = info_field(&info, "total_commands_processed")
        .unwrap()
        .parse()
        .unwrap();
    let sum: f64 = prometheus_samples(&text)
        .iter()
        .filter(|s| s.0 == "mapcache_commands_total")
        .map(|s| s.2)
        .sum();
    // The INFO call itself is counted after it answers; the scrape is no command.
    assert_eq!(
        total as f64, sum,
        "INFO total_commands_processed vs sum of mapcache_commands_total"
    );
    assert_eq!(
        info_field(&info, "cmdstat_set")
            .unwrap()
            .split(',')
            .next()
            .unwrap(),
        format!("calls={}", commands_total(&text, "set"))
    );
    let get = info_field(&info, "cmdstat_get").unwrap();
    assert!(get.starts_with("calls=11,usec="), "{get}");
    assert!(get.contains(",usec_per_call="), "{get}");
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    assert!(info_field(&info, "cmdstat_incr")
        .unwrap()
        .ends_with("failed_calls=1"));
    assert_eq!(info_field(&info, "errorstat_ERR").unwrap(), "count=3");
    let hits: u64 = info_field(&info, "keyspace_hits").unwrap().parse().unwrap();
    assert!(hits >= 10, "keyspace_hits {hits}");
    assert_eq!(
        hits as f64,
        prometheus_value(&text, "mapcache_keyspace_hits_total", "")
    );
    for field in [
        "instantaneous_ops_per_sec",
        "expired_keys",
        "connected_clients",
        "total_connections_received",
        "rejected_connections",
        "total_net_input_bytes",
        "total_net_output_bytes",
        "used_memory_rss",
        "total_error_replies",
        "used_cpu_user",
    ] {
        assert!(info_field(&info, field).is_some(), "INFO lacks {field}");
    }
    assert_eq!(info_field(&info, "connected_clients").unwrap(), "2");
    // used_memory is the allocator's figure, as in Redis (jemalloc's, in the binary).
    assert_eq!(
        info_field(&info, "mem_allocator").as_deref(),
        Some("jemalloc")
    );
    let used: f64 = info_field(&info, "used_memory").unwrap().parse().unwrap();
    let rss: f64 = info_field(&info, "used_memory_rss")
        .unwrap()
        .parse()
        .unwrap();
    assert!(used > 1e5 && used < rss, "used_memory {used}, rss {rss}");
    let bytes_in: f64 = info_field(&info, "total_net_input_bytes")
        .unwrap()
        .parse()
        .unwrap();
    assert!(bytes_in >= prometheus_value(&text, "mapcache_net_input_bytes_total", ""));
    assert!(info.contains("# Commandstats\r\n") && info.contains("# Errorstats\r\n"));
    // Redis leaves commandstats out of the default sections.
    let default = redis_cli(server.port(), &["INFO"]);
    assert!(!default.contains("# Commandstats") && default.contains("# Errorstats"));
}

#[test]
fn healthz_and_readyz_answer_without_auth_metrics_need_the_password() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let (status, body) = http_get(server.http, "/healthz");
    assert_eq!(status, 200);
    for field in ["uptime_seconds", "connections", "tasks", "threads"] {
        json_u64(&body, field);
    }
    for field in [
        "\"status\":\"healthy\"",
        "\"ready\":true",
        "\"version\":",
        "\"git_commit\":",
        "\"cache_keys\":[",
    ] {
        assert!(body.contains(field), "{field} missing in {body}");
    }
    assert_eq!(
        http_get(server.http, "/readyz"),
        (200, r#"{"ready":true}"#.to_string())
    );

    let (status, head, body) = http_get_with(server.http, "/metrics", &[]);
    assert_eq!(status, 401);
    assert!(
        head.to_ascii_lowercase()
            .contains("www-authenticate: basic"),
        "{head}"
    );
    assert_eq!(body, r#"{"message":"authentication required"}"#);
    // Wrong password, either scheme.
    assert_eq!(
        http_get_with(server.http, "/metrics", &["Authorization: Bearer nope"]).0,
        401
    );
    // "u:nope"
    assert_eq!(
        http_get_with(server.http, "/metrics", &["Authorization: Basic dTpub3Bl"]).0,
        401
    );
    // Unknown endpoints do not tell what exists before authentication either.
    assert_eq!(http_get_with(server.http, "/nothing", &[]).0, 401);

    let (status, _, body) =
        http_get_with(server.http, "/metrics", &["Authorization: Bearer s3cret"]);
    assert_eq!(status, 200);
    assert!(body.contains("mapcache_build_info"));
    // "anyone:s3cret"
    let (status, _, _) = http_get_with(
        server.http,
        "/metrics",
        &["Authorization: Basic YW55b25lOnMzY3JldA=="],
    );
    assert_eq!(status, 200);
    let (status, _, body) =
        http_get_with(server.http, "/nothing", &["Authorization: Bearer s3cret"]);
    assert_eq!(status, 404);
    assert_eq!(body, r#"{"message":"Not Found"}"#);
}

#[test]
fn metrics_off_serves_no_metrics() {
    let server = Server::start(&["--metrics", "off"]);
    assert_eq!(http_get(server.http, "/metrics").0, 404);
    assert_eq!(http_get(server.http, "/healthz").0, 200);
    let mut c = server.connect();
    pipeline_simple(&mut c, &["SET a b".into(), "GET a".into()]);
    let info = redis_cli(server.port(), &["INFO", "stats"]);
    assert_eq!(info_field(&info, "total_commands_processed").unwrap(), "2");
}

#[test]
fn readyz_turns_503_while_draining() {
    let mut server = Server::start(&[]);
    // A client that keeps its connection open (and never reads to the end) keeps the
    // drain going for a moment after SIGTERM.
    let mut c = server.connect();
    pipeline_simple(&mut c, &["PING".into()]);
    assert_eq!(http_get(server.http, "/readyz").0, 200);
    let pid = server.child.id().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        // The HTTP port closes once the drain is over: stop looking then.
        let Some((status, body)) = try_http_get(server.http, "/readyz") else {
            break;
        };
        seen.push(status);
        if status == 503 {
            assert_eq!(body, r#"{"ready":false}"#);
            if let Some((status, body)) = try_http_get(server.http, "/healthz") {
                assert_eq!(status, 200);
                assert!(body.contains("\"ready\":false"), "{body}");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        seen.last(),
        Some(&503),
        "statuses seen after SIGTERM: {seen:?}"
    );
    drop(c);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = server.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
}

/// GET that reports a refused or cut connection as `None` instead of panicking.
fn try_http_get(addr: std::net::SocketAddr, path: &str) -> Option<(u16, String)> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split(' ').nth(1)?.parse().ok()?;
    Some((status, raw.split_once("\r\n\r\n")?.1.to_string()))
}

#[test]
fn slowlog_records_every_command_at_threshold_zero() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    let laddr = c.local_addr().unwrap().to_string();
    let r = pipeline_simple(
        &mut c,
        &[
            "CONFIG SET slowlog-log-slower-than 0".into(),
            "CLIENT SETNAME probe".into(),
            "SET key value".into(),
            "GET".into(),
            "SLOWLOG LEN".into(),
        ],
    );
    // CONFIG SET (logged: the threshold is read after it ran), CLIENT SETNAME, SET; the
    // rejected GET is not logged; SLOWLOG LEN is logged after it answers.
    assert_eq!(r[4], ":3");
    let out = redis_cli_raw(&server, &["SLOWLOG", "GET", "2"]);
    let lines: Vec<&str> = out.lines().collect();
    // Newest first: SLOWLOG LEN, then SET.
    assert_eq!(lines[0], "3"); // id
    assert!(lines[1].parse::<u64>().unwrap() > 1_700_000_000); // unix time
    lines[2].parse::<u64>().unwrap(); // microseconds
    assert_eq!(&lines[3..5], ["SLOWLOG", "LEN"]); // as sent, like Redis
    assert_eq!(lines[5], laddr);
    assert_eq!(lines[6], "probe");
    assert_eq!(&lines[10..13], ["SET", "key", "value"]);
    assert_eq!(redis_cli(server.port(), &["SLOWLOG", "RESET"]).trim(), "OK");
    // The RESET itself is logged once it has run.
    assert_eq!(redis_cli(server.port(), &["SLOWLOG", "LEN"]).trim(), "1");
}

/// `--log-format json`: one JSON object per line; the slow-command warning names the
/// command and its duration, never its arguments.
#[test]
fn json_logs_and_slow_command_warning_without_values() {
    use std::io::{BufRead, BufReader, Write};
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .args([
            "--port",
            "0",
            "--http-port",
            "0",
            "--log-format",
            "json",
            "--log-level",
            "info",
        ])
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = support::KillOnDrop(child);
    let mut lines = BufReader::new(child.0.stderr.take().unwrap()).lines();
    let ready = lines.next().unwrap().unwrap();
    assert!(ready.starts_with('{') && ready.ends_with('}'), "{ready}");
    assert!(ready.contains("\"message\":\"mapcache ready\""), "{ready}");
    let key = "\"resp_addr\":\"";
    let at = ready.find(key).unwrap() + key.len();
    let addr: std::net::SocketAddr = ready[at..at + ready[at..].find('"').unwrap()]
        .parse()
        .unwrap();
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = pipeline_simple(
        &mut c,
        &[
            "CONFIG SET slowlog-log-slower-than 0".into(),
            "SET secretkey secretvalue".into(),
        ],
    );
    assert_eq!(r, ["+OK", "+OK"]);
    c.write_all(b"QUIT\r\n").unwrap();
    let mut found = 0;
    for line in lines.by_ref() {
        let line = line.unwrap();
        assert!(line.starts_with('{'), "{line}");
        assert!(!line.contains("secret"), "a log line shows data: {line}");
        if line.contains("slow command") {
            assert!(line.contains("\"level\":\"WARN\""), "{line}");
            assert!(line.contains("\"duration_us\":"), "{line}");
            found += 1;
            if line.contains("\"command\":\"set\"") {
                break;
            }
        }
    }
    assert!(
        found >= 2,
        "CONFIG SET and SET are both slow at threshold 0"
    );
}

fn redis_cli_raw(server: &Server, args: &[&str]) -> String {
    let out = std::process::Command::new(support::tool("redis-cli", "redis-tools"))
        .args(["-p", &server.port().to_string(), "--raw"])
        .args(args)
        .output()
        .expect("run redis-cli");
    String::from_utf8(out.stdout).unwrap()
}

/// SLOWLOG against a real redis-server 7.0: the same command sequence on both, the
/// replies compared after masking what differs by nature (ids, times, durations,
/// client ports).
#[test]
fn slowlog_answers_like_redis() {
    let redis = client::RedisServer::start();
    let server = Server::start(&[]);
    let mut a = client::Conn::connect(redis.addr, "redis");
    let mut b = client::Conn::connect(server.resp, "mapcache");
    let long = "x".repeat(140);
    let mut many: Vec<String> = vec!["RPUSH".into(), "list".into()];
    many.extend((0..40).map(|i| i.to_string()));
    let script: Vec<Vec<String>> = vec![
        vec!["SLOWLOG".into(), "RESET".into()],
        vec![
            "CONFIG".into(),
            "SET".into(),
            "slowlog-log-slower-than".into(),
            "0".into(),
        ],
        vec!["CLIENT".into(), "SETNAME".into(), "diff".into()],
        vec!["SET".into(), "k".into(), long.clone()],
        many,
        vec!["AUTH".into(), "x".into()],
        vec![
            "HELLO".into(),
            "2".into(),
            "AUTH".into(),
            "default".into(),
            "pw".into(),
        ],
        vec!["GET".into()],
        vec!["SLOWLOG".into(), "LEN".into()],
        vec!["SLOWLOG".into(), "GET".into()],
        vec!["SLOWLOG".into(), "GET".into(), "2".into()],
        vec!["SLOWLOG".into(), "GET".into(), "0".into()],
        vec!["SLOWLOG".into(), "GET".into(), "-1".into()],
        vec!["SLOWLOG".into(), "GET".into(), "-2".into()],
        vec!["SLOWLOG".into(), "GET".into(), "abc".into()],
        vec!["SLOWLOG".into(), "GET".into(), "1".into(), "2".into()],
        vec!["SLOWLOG".into(), "LEN".into(), "x".into()],
        vec!["SLOWLOG".into(), "RESET".into(), "x".into()],
        vec!["SLOWLOG".into(), "HELP".into()],
        vec!["SLOWLOG".into(), "help".into(), "x".into()],
        vec!["SLOWLOG".into(), "nope".into()],
        vec!["SLOWLOG".into()],
        vec![
            "CONFIG".into(),
            "SET".into(),
            "slowlog-max-len".into(),
            "2".into(),
        ],
        vec!["SLOWLOG".into(), "LEN".into()],
        vec!["SLOWLOG".into(), "GET".into()],
        vec![
            "CONFIG".into(),
            "SET".into(),
            "slowlog-log-slower-than".into(),
            "-1".into(),
        ],
        vec!["SLOWLOG".into(), "RESET".into()],
        vec!["SET".into(), "x".into(), "y".into()],
        vec!["SLOWLOG".into(), "LEN".into()],
    ];
    let mut mismatches = Vec::new();
    for cmd in &script {
        let args: Vec<Vec<u8>> = cmd.iter().map(|s| s.clone().into_bytes()).collect();
        let ra = mask(a.call(&args).unwrap().frame);
        let rb = mask(b.call(&args).unwrap().frame);
        if ra != rb {
            mismatches.push(format!(
                "{}:\n  redis:    {ra:?}\n  mapcache: {rb:?}",
                cmd.join(" ")
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

/// Slow log entries with their id, time, duration and client port replaced by 0/"addr";
/// HELLO's reply (it carries the connection id) by Null.
fn mask(f: Frame) -> Frame {
    let hello = |items: &Vec<Frame>| {
        items.first() == Some(&Frame::Bulk(bytes::Bytes::from_static(b"server")))
    };
    match f {
        Frame::Array(items) if hello(&items) => Frame::Null,
        Frame::Map(_) => Frame::Null,
        Frame::Array(items) => Frame::Array(
            items
                .into_iter()
                .map(|e| match e {
                    Frame::Array(mut entry)
                        if entry.len() == 6 && matches!(entry[0], Frame::Integer(_)) =>
                    {
                        entry[0] = Frame::Integer(0);
                        entry[1] = Frame::Integer(0);
                        entry[2] = Frame::Integer(0);
                        entry[4] = Frame::Bulk(bytes::Bytes::from_static(b"addr"));
                        Frame::Array(entry)
                    }
                    other => other,
                })
                .collect(),
        ),
        other => other,
    }
}

// ---- with real Prometheus and twemproxy (installed by cargo xtask test) --------------------------

use support::{free_port, resp_pipeline, tool, KillOnDrop, TempDir};

fn deploy_file(rel: &str) -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy")
        .join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// `s` with `from` replaced by `to`, which must occur (so the test notices when the
/// shipped file changes shape).
fn rewrite(s: &str, from: &str, to: &str) -> String {
    assert!(
        s.contains(from),
        "the shipped file no longer contains {from:?}"
    );
    s.replace(from, to)
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The value of an instant query's first sample, or `None` when the result is empty.
fn prom_query(prom: std::net::SocketAddr, query: &str) -> Option<f64> {
    let (status, body) = try_http_get(prom, &format!("/api/v1/query?query={}", url_encode(query)))?;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"status\":\"success\""), "{body}");
    let at = body.find("\"value\":[")?;
    let rest = &body[at..];
    let q = rest.find(",\"")? + 2;
    let end = rest[q..].find('"')?;
    rest[q..q + end].parse().ok()
}

fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn prometheus_scrapes_the_shipped_config() {
    let prometheus = tool("prometheus", "prometheus");
    let server = Server::start(&[]);
    let dir = TempDir::new("prometheus");
    let mut config = deploy_file("prometheus.yml");
    config = rewrite(
        &config,
        "scrape_interval: 15s\n    # When",
        "scrape_interval: 500ms\n    # When",
    );
    config = rewrite(&config, "scrape_interval: 15s", "scrape_interval: 500ms");
    config = rewrite(&config, "- mapcache:8080", &format!("- {}", server.http));
    let config_path = dir.0.join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let port = free_port();
    let prom_addr: std::net::SocketAddr = ([127, 0, 0, 1], port).into();
    let _prom = KillOnDrop(
        std::process::Command::new(prometheus)
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.0.join("data").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    wait_for("prometheus to be ready", Duration::from_secs(15), || {
        try_http_get(prom_addr, "/-/ready").filter(|r| r.0 == 200)
    });
    wait_for(
        "the mapcache target to be up",
        Duration::from_secs(10),
        || prom_query(prom_addr, "up{job=\"mapcache\"}").filter(|v| *v == 1.0),
    );
    // Before any traffic the series does not exist yet.
    let query = "mapcache_commands_total{job=\"mapcache\",cmd=\"set\"}";
    let before = prom_query(prom_addr, query).unwrap_or(0.0);
    const SENT: usize = 1234;
    let mut c = server.connect();
    let cmds: Vec<String> = (0..SENT).map(|i| format!("SET key:{i} {i}")).collect();
    for chunk in cmds.chunks(200) {
        assert!(pipeline_simple(&mut c, chunk).iter().all(|r| r == "+OK"));
    }
    let after = wait_for(
        "Prometheus to see the SETs",
        Duration::from_secs(10),
        || prom_query(prom_addr, query).filter(|v| *v >= before + SENT as f64),
    );
    assert_eq!(after - before, SENT as f64);
    let keys = wait_for("the keys gauge", Duration::from_secs(10), || {
        prom_query(prom_addr, "mapcache_db_keys{job=\"mapcache\",db=\"db0\"}")
            .filter(|v| *v == SENT as f64)
    });
    assert_eq!(keys, SENT as f64);
}

#[test]
fn twemproxy_shards_across_three_instances() {
    let nutcracker = tool("nutcracker", "nutcracker");
    let servers: Vec<Server> = (0..3).map(|_| Server::start(&[])).collect();
    let dir = TempDir::new("twemproxy");
    let proxy_port = free_port();
    let mut config = deploy_file("twemproxy/nutcracker.yml");
    config = rewrite(
        &config,
        "listen: 127.0.0.1:22121",
        &format!("listen: 127.0.0.1:{proxy_port}"),
    );
    for (i, shipped) in ["127.0.0.1:6379:1", "127.0.0.1:6380:1", "127.0.0.1:6381:1"]
        .iter()
        .enumerate()
    {
        config = rewrite(
            &config,
            shipped,
            &format!("127.0.0.1:{}:1", servers[i].port()),
        );
    }
    let config_path = dir.0.join("nutcracker.yml");
    std::fs::write(&config_path, config).unwrap();
    let stats_port = free_port();
    let _proxy = KillOnDrop(
        std::process::Command::new(nutcracker)
            .arg("-c")
            .arg(&config_path)
            .args(["-s", &stats_port.to_string(), "-a", "127.0.0.1"])
            .arg("-o")
            .arg(dir.0.join("nutcracker.log"))
            .arg("-p")
            .arg(dir.0.join("nutcracker.pid"))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start nutcracker"),
    );
    let proxy: std::net::SocketAddr = ([127, 0, 0, 1], proxy_port).into();
    let mut c = wait_for("nutcracker to listen", Duration::from_secs(10), || {
        std::net::TcpStream::connect(proxy).ok()
    });
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    const KEYS: usize = 10_000;
    let sets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| vec!["SET".into(), format!("user:{i}"), format!("value-{i}")])
        .collect();
    for chunk in sets.chunks(500) {
        let replies = resp_pipeline(&mut c, chunk);
        assert!(replies.iter().all(|r| r == "+OK"), "{:?}", &replies[..3]);
    }
    let gets: Vec<Vec<String>> = (0..KEYS)
        .map(|i| vec!["GET".into(), format!("user:{i}")])
        .collect();
    for (n, chunk) in gets.chunks(500).enumerate() {
        for (j, r) in resp_pipeline(&mut c, chunk).iter().enumerate() {
            assert_eq!(r, &format!("value-{}", n * 500 + j));
        }
    }
    let sizes: Vec<usize> = servers
        .iter()
        .map(|s| redis_cli(s.port(), &["DBSIZE"]).trim().parse().unwrap())
        .collect();
    assert_eq!(sizes.iter().sum::<usize>(), KEYS, "{sizes:?}");
    // ketama over three equal servers: roughly a third each.
    assert!(
        sizes.iter().all(|&n| n > KEYS / 10),
        "uneven shares {sizes:?}"
    );
    // Each instance's own metrics saw its share of the SETs.
    for (s, n) in servers.iter().zip(&sizes) {
        assert_eq!(commands_total(&metrics(s), "set"), *n as f64);
    }
}
