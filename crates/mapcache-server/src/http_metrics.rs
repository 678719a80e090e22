//! The HTTP metrics (deploy/METRICS.md): requests by method, route template and
//! status; duration, request and response size histograms by method and route; the
//! requests in flight. The Go server's `http_*` families, under mapcache's prefix.
//!
//! Recording is a read lock on the route table (written once per new route), a few
//! relaxed atomic adds and one short lock for the status count: no label is formatted
//! per request. The histograms are fixed-bucket atomics
//! ([`mapcache_commands::cmdstats::Histogram`]), rendered at scrape time.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use mapcache_commands::cmdstats::Histogram;
use parking_lot::{Mutex, RwLock};

/// Request durations, nanoseconds: 50 µs to 10 s (Go's default buckets start at 5 ms,
/// above most of mapcache's answers).
const DURATION_NS: &[u64] = &[
    50_000,
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Body sizes, bytes: the Go server's buckets (100 × 10ⁿ, n = 0..6).
const SIZE_BYTES: &[u64] = &[
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The figures of one (method, route).
#[derive(Debug)]
struct RouteStats {
    statuses: Mutex<BTreeMap<u16, u64>>,
    duration: Histogram,
    request_size: Histogram,
    response_size: Histogram,
}

impl RouteStats {
    fn new() -> RouteStats {
        RouteStats {
            statuses: Mutex::new(BTreeMap::new()),
            duration: Histogram::new(DURATION_NS),
            request_size: Histogram::new(SIZE_BYTES),
            response_size: Histogram::new(SIZE_BYTES),
        }
    }
}

/// Every HTTP figure of one server.
#[derive(Debug, Default)]
pub(crate) struct HttpMetrics {
    in_flight: Arc<AtomicI64>,
    routes: RwLock<HashMap<Method, HashMap<String, Arc<RouteStats>>>>,
}

/// A request in flight; counted until dropped (also when its future is dropped).
#[derive(Debug)]
pub(crate) struct InFlight(Arc<AtomicI64>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl HttpMetrics {
    pub fn enter(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.in_flight.clone())
    }

    fn stats(&self, method: &Method, route: &str) -> Arc<RouteStats> {
        if let Some(s) = self.routes.read().get(method).and_then(|m| m.get(route)) {
            return s.clone();
        }
        self.routes
            .write()
            .entry(method.clone())
            .or_default()
            .entry(route.to_string())
            .or_insert_with(|| Arc::new(RouteStats::new()))
            .clone()
    }

    /// One finished request. Sizes are recorded when known and not zero (as Go).
    pub fn record(
        &self,
        method: &Method,
        route: &str,
        status: u16,
        elapsed: Duration,
        request_size: Option<u64>,
        response_size: Option<u64>,
    ) {
        let s = self.stats(method, route);
        *s.statuses.lock().entry(status).or_insert(0) += 1;
        s.duration
            .record(u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX));
        if let Some(n) = request_size.filter(|&n| n > 0) {
            s.request_size.record(n);
        }
        if let Some(n) = response_size.filter(|&n| n > 0) {
            s.response_size.record(n);
        }
    }

    /// The Prometheus text of every HTTP family.
    pub fn render(&self, out: &mut String) {
        let _ = write!(
            out,
            "# HELP mapcache_http_requests_in_flight HTTP requests being answered now.\n\
             # TYPE mapcache_http_requests_in_flight gauge\n\
             mapcache_http_requests_in_flight {}\n",
            self.in_flight.load(Ordering::Relaxed)
        );
        let routes = self.routes.read();
        let mut all: Vec<(&Method, &String, &Arc<RouteStats>)> = routes
            .iter()
            .flat_map(|(m, r)| r.iter().map(move |(p, s)| (m, p, s)))
            .collect();
        all.sort_by(|a, b| (a.1, a.0.as_str()).cmp(&(b.1, b.0.as_str())));
        out.push_str(
            "# HELP mapcache_http_requests_total HTTP requests answered, by method, route template and status.\n\
             # TYPE mapcache_http_requests_total counter\n",
        );
        for (m, p, s) in &all {
            for (status, n) in s.statuses.lock().iter() {
                let _ = writeln!(
                    out,
                    "mapcache_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{status}\"}} {n}",
                    crate::metrics::escape_label(p)
                );
            }
        }
        type Pick = fn(&RouteStats) -> &Histogram;
        let families: [(&str, &str, Pick, f64); 3] = [
            (
                "mapcache_http_request_duration_seconds",
                "Time to answer an HTTP request (head received to answer head ready), by method and route template.",
                |s| &s.duration,
                1e-9,
            ),
            (
                "mapcache_http_request_size_bytes",
                "Declared size (Content-Length) of HTTP request bodies, by method and route template.",
                |s| &s.request_size,
                1.0,
            ),
            (
                "mapcache_http_response_size_bytes",
                "Size of HTTP answer bodies of known length, by method and route template.",
                |s| &s.response_size,
                1.0,
            ),
        ];
        for (name, help, pick, scale) in families {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} histogram\n");
            for (m, p, s) in &all {
                let labels = format!(
                    "method=\"{m}\",route=\"{}\"",
                    crate::metrics::escape_label(p)
                );
                crate::metrics::write_histogram_labels(out, name, &labels, pick(s), scale);
            }
        }
    }
}
