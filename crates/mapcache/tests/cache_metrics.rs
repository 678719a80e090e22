//! Per-cache metrics of the real binary (`mapcache_cache_*`, `mapcache_caches`: the Go
//! server's `cache_*` and `caches_total`, deploy/METRICS.md), and the Grafana dashboard
//! (deploy/grafana/dashboards/mapcache.json): valid JSON whose queries name only metrics
//! the binary serves.

#[path = "support/http.rs"]
mod http;
mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use http::Http;
use mapcache_store::Value;
use support::{http_get, pipeline_simple, prometheus_samples, prometheus_value, Server};

fn metrics(server: &Server) -> String {
    let (status, body) = http_get(server.http, "/metrics");
    assert_eq!(status, 200, "{body}");
    body
}

fn cache_value(text: &str, name: &str, cache: &str) -> Option<f64> {
    prometheus_samples(text)
        .into_iter()
        .find(|(n, l, _)| n == name && *l == format!("cache=\"{cache}\""))
        .map(|s| s.2)
}

#[test]
fn per_cache_series_appear_and_move_after_writes() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    let before = metrics(&server);
    let caches_before = prometheus_value(&before, "mapcache_caches", "");
    assert!(
        caches_before >= 16.0,
        "the numbered databases: {caches_before}"
    );
    // `default` is always there; an unused numbered database and an unknown cache are not.
    assert_eq!(
        cache_value(&before, "mapcache_cache_keys", "default"),
        Some(0.0)
    );
    assert_eq!(cache_value(&before, "mapcache_cache_keys", "3"), None);
    assert_eq!(cache_value(&before, "mapcache_cache_keys", "shop"), None);
    let activity0 = cache_value(&before, "mapcache_cache_activity_total", "default").unwrap();
    let bytes0 = cache_value(&before, "mapcache_cache_size_bytes", "default").unwrap();

    // 100 keys of 200-byte values in `default` over RESP.
    let mut c = server.connect();
    let value = "v".repeat(200);
    let sets: Vec<String> = (0..100).map(|i| format!("SET key:{i} {value}")).collect();
    assert!(pipeline_simple(&mut c, &sets).iter().all(|r| r == "+OK"));
    let after_sets = metrics(&server);
    assert_eq!(
        cache_value(&after_sets, "mapcache_cache_keys", "default"),
        Some(100.0)
    );
    let bytes1 = cache_value(&after_sets, "mapcache_cache_size_bytes", "default").unwrap();
    assert!(
        bytes1 >= bytes0 + 100.0 * 200.0,
        "size estimate {bytes0} -> {bytes1} after 20,000 bytes of values"
    );
    assert!(
        bytes1 < 100.0 * 200.0 * 10.0,
        "size estimate {bytes1} is far off"
    );
    let activity1 = cache_value(&after_sets, "mapcache_cache_activity_total", "default").unwrap();
    assert!(
        activity1 >= activity0 + 100.0,
        "activity {activity0} -> {activity1} after 100 SETs"
    );

    // Reads count one each, hits and misses alike; scrapes count nothing.
    let gets: Vec<String> = (0..15).map(|i| format!("GET key:{}", i * 10)).collect();
    pipeline_simple(&mut c, &gets);
    let after_gets = metrics(&server);
    let activity2 = cache_value(&after_gets, "mapcache_cache_activity_total", "default").unwrap();
    assert_eq!(activity2 - activity1, 15.0, "10 hits and 5 misses");

    // A named cache appears when created, moves with its writes, goes when deleted.
    assert_eq!(h.post("/api/v1/caches", r#"{"name":"shop"}"#).status, 201);
    let created = metrics(&server);
    assert_eq!(
        prometheus_value(&created, "mapcache_caches", ""),
        caches_before + 1.0
    );
    assert_eq!(
        cache_value(&created, "mapcache_cache_keys", "shop"),
        Some(0.0)
    );
    let shop0 = cache_value(&created, "mapcache_cache_activity_total", "shop").unwrap();
    let shop = Http::new(server.http).with_header("X-Cache-Name", "shop");
    let r = shop.post(
        "/api/v1/keys",
        r#"{"entries":{"a":1,"b":{"c":[1,2,3]},"d":"text"}}"#,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(shop.get("/api/v1/keys/b/c/1").status, 200);
    let written = metrics(&server);
    assert_eq!(
        cache_value(&written, "mapcache_cache_keys", "shop"),
        Some(3.0)
    );
    let shop1 = cache_value(&written, "mapcache_cache_activity_total", "shop").unwrap();
    assert!(shop1 >= shop0 + 2.0, "shop activity {shop0} -> {shop1}");
    assert!(cache_value(&written, "mapcache_cache_size_bytes", "shop").unwrap() > 0.0);
    // `default` did not move with the other cache's traffic.
    assert_eq!(
        cache_value(&written, "mapcache_cache_activity_total", "default"),
        Some(activity2)
    );

    assert!(h.delete("/api/v1/caches/shop").status < 300);
    let deleted = metrics(&server);
    assert_eq!(cache_value(&deleted, "mapcache_cache_keys", "shop"), None);
    assert_eq!(
        prometheus_value(&deleted, "mapcache_caches", ""),
        caches_before
    );
}

fn dashboard_text() -> String {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/dashboards/mapcache.json");
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn field(v: &Value, name: &str) -> Option<Value> {
    match v {
        Value::Hash(h) => h.get(name.as_bytes()).map(mapcache_store::Field::to_value),
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    match v {
        Value::Str(s) => Some(String::from_utf8_lossy(s.as_slice()).into_owned()),
        _ => None,
    }
}

/// Every `mapcache_...` name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("mapcache_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_string());
        rest = &tail[end..];
    }
    out
}

#[test]
fn grafana_dashboard_is_valid_and_names_only_served_metrics() {
    let mut raw = dashboard_text().into_bytes();
    let dash = mapcache_store::json::parse(&mut raw, 64).expect("the dashboard is valid JSON");
    let Some(Value::List(panels)) = field(&dash, "panels") else {
        panic!("no panels");
    };
    let mut ids = BTreeSet::new();
    let mut used = BTreeSet::new();
    for p in panels.iter().map(mapcache_store::Field::to_value) {
        let title = field(&p, "title")
            .as_ref()
            .and_then(text)
            .expect("every panel has a title");
        let Some(Value::Number(id)) = field(&p, "id") else {
            panic!("{title}: no numeric id");
        };
        assert!(ids.insert(id.to_string()), "{title}: id {id} used twice");
        assert!(field(&p, "gridPos").is_some(), "{title}: no gridPos");
        let Some(Value::List(targets)) = field(&p, "targets") else {
            continue; // a row or text panel
        };
        assert!(!targets.is_empty(), "{title}: no query");
        for t in targets.iter().map(mapcache_store::Field::to_value) {
            let expr = field(&t, "expr")
                .as_ref()
                .and_then(text)
                .expect("a target's expr");
            let names = metric_names(&expr);
            assert!(
                !names.is_empty(),
                "{title}: {expr} names no mapcache metric"
            );
            used.extend(names);
        }
    }
    // The variables' queries (templating) too.
    used.extend(metric_names(&dashboard_text()));
    for name in [
        "mapcache_cache_keys",
        "mapcache_cache_size_bytes",
        "mapcache_cache_activity_total",
        "mapcache_caches",
    ] {
        assert!(used.contains(name), "the dashboard has no panel on {name}");
    }

    // Traffic, so that every series the dashboard plots exists, then the served names.
    let server = Server::start(&[]);
    let mut c = server.connect();
    pipeline_simple(
        &mut c,
        &[
            "SET a 1".into(),
            "PEXPIRE a 1".into(),
            "GET a".into(),
            "GET b".into(),
            "NOSUCH".into(),
        ],
    );
    assert_eq!(Http::new(server.http).get("/api/v1/caches").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let scrape = metrics(&server);
        let served: BTreeSet<String> = prometheus_samples(&scrape)
            .into_iter()
            .map(|s| s.0)
            .collect();
        let missing: Vec<&String> = used.iter().filter(|n| !served.contains(*n)).collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the dashboard queries metrics the binary does not serve: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
