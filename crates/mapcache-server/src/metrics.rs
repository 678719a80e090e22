//! Observability: per-command accounting on the connection's hot path, the slow log
//! hook, and the Prometheus text served at `/metrics`.
//!
//! Hot path: a connection times each command with one TSC read (the end of one command
//! is the start of the next; the first starts when the read returns) and adds the
//! result to a small per-connection buffer keyed by (command slot, latency bucket); the
//! buffer is added to the shared atomics of [`mapcache_commands::cmdstats`] once per
//! batch, before the replies are written. No label is formatted, no map is searched and
//! nothing is allocated per command; the command's slot is a binary search over
//! addresses, cached for runs of the same command.
//!
//! Scrape: everything else (keys per database, expirations, connections, bytes, process
//! RSS) is read when Prometheus asks. Values computed at scrape time are fed to
//! handles of a [`PrometheusRecorder`] (one per server, not the global one) registered
//! once, and the recorder renders them. The per-command latency and pipeline-depth
//! histograms are fixed-bucket atomic histograms rendered here: the exporter's own
//! histograms keep every sample until a scrape, which at a million commands per second
//! is megabytes of buffered samples and an allocation every few dozen commands.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mapcache_commands::cmdstats::{CommandStats, Histogram, Status};
use mapcache_commands::{Outcome, Session, Shared};
use mapcache_expiry::SweepReport;
use metrics::{Counter, Gauge, Key, Label, Level, Metadata, Recorder};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use parking_lot::Mutex;

use crate::Inner;

static META: Metadata<'static> =
    Metadata::new("mapcache", Level::INFO, Some("mapcache_server::metrics"));

/// Commands per read batch: the histogram's bucket bounds.
const PIPELINE_BOUNDS: &[u64] = &[1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];

/// Sweep pass durations, seconds.
const SWEEP_BUCKETS: &[f64] = &[
    0.000_01, 0.000_05, 0.000_1, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05,
];

/// The metrics of one server.
pub(crate) struct Metrics {
    /// `--metrics off`: no per-command accounting, no `/metrics`.
    pub enabled: bool,
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pipeline: Histogram,
    sweep_passes: Counter,
    sweep_removed: Counter,
    sweep_duration: metrics::Histogram,
    scrape: Mutex<ScrapeState>,
    /// Command timing: calibrated once (it takes milliseconds), cloned per connection.
    clock: quanta::Clock,
    /// The HTTP side's requests (`http_metrics.rs`).
    pub http: crate::http_metrics::HttpMetrics,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("enabled", &self.enabled)
            .finish_non_exhaustive()
    }
}

/// A Prometheus counter fed from a counter that `CONFIG RESETSTAT` may zero: it adds
/// what grew since the last scrape, so what Prometheus sees never goes down.
struct Mono {
    counter: Counter,
    last: u64,
}

impl Mono {
    fn observe(&mut self, current: u64) {
        let delta = if current >= self.last {
            current - self.last
        } else {
            current
        };
        self.counter.increment(delta);
        self.last = current;
    }
}

/// Handles registered at scrape time (a command's first call, a database's first key),
/// kept for every later scrape.
#[derive(Default)]
struct ScrapeState {
    counters: HashMap<(&'static str, String), Mono>,
    gauges: HashMap<(&'static str, String), Gauge>,
}

/// (name, help, unit-free) of every metric, described once.
const DESCRIPTIONS: &[(&str, &str)] = &[
    ("mapcache_build_info", "Build information; the value is always 1."),
    ("mapcache_uptime_seconds", "Seconds since the server started."),
    ("mapcache_process_start_time_seconds", "Start time of the process, seconds since the Unix epoch."),
    ("mapcache_process_resident_memory_bytes", "Resident set size of the process."),
    ("mapcache_allocator_allocated_bytes", "Bytes the allocator has handed out and not had back (jemalloc's stats.allocated)."),
    ("mapcache_allocator_resident_bytes", "Bytes of the allocator's pages resident in memory (jemalloc's stats.resident)."),
    ("mapcache_allocator_retained_bytes", "Bytes of virtual memory the allocator keeps mapped without using (jemalloc's stats.retained)."),
    ("mapcache_process_threads", "Operating system threads of the process."),
    ("mapcache_commands_total", "Commands run (succeeded or failed), by command."),
    ("mapcache_command_failed_calls_total", "Commands that ran and answered with an error, by command."),
    ("mapcache_command_rejected_calls_total", "Commands refused before running (arity, NOAUTH), by command."),
    ("mapcache_command_errors_total", "Error replies by kind (the first word of the error: ERR, WRONGTYPE, ...)."),
    ("mapcache_connected_clients", "Client connections open now."),
    ("mapcache_connections_received_total", "Client connections accepted."),
    ("mapcache_connections_rejected_total", "Client connections refused because maxclients was reached."),
    ("mapcache_net_input_bytes_total", "Bytes read from clients."),
    ("mapcache_net_output_bytes_total", "Bytes written to clients."),
    ("mapcache_keyspace_hits_total", "Key lookups that found a key."),
    ("mapcache_keyspace_misses_total", "Key lookups that found no key."),
    ("mapcache_db_keys", "Keys in a database."),
    ("mapcache_db_keys_expiring", "Keys with a time to live in a database."),
    ("mapcache_expired_keys_total", "Keys removed because their time to live passed: on access (lazy) or by the sweeper (active)."),
    ("mapcache_evicted_keys_total", "Keys removed to stay under maxmemory (INFO evicted_keys)."),
    ("mapcache_maxmemory_bytes", "The maxmemory setting (0: no limit)."),
    ("mapcache_sweep_passes_total", "Passes of the expiry sweeper."),
    ("mapcache_sweep_removed_keys_total", "Keys the sweeper removed."),
    ("mapcache_sweep_duration_seconds", "Duration of one sweeper pass."),
    ("mapcache_slowlog_length", "Entries in the slow log."),
    ("mapcache_config_maxclients", "The maxclients setting."),
];

impl Metrics {
    pub fn new(enabled: bool) -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("mapcache_sweep_duration_seconds".into()),
                SWEEP_BUCKETS,
            )
            .expect("non-empty bucket list")
            .build_recorder();
        let handle = recorder.handle();
        for (name, help) in DESCRIPTIONS {
            recorder.describe_counter((*name).into(), None, (*help).into());
        }
        let sweep_passes =
            recorder.register_counter(&Key::from_static_name("mapcache_sweep_passes_total"), &META);
        let sweep_removed = recorder.register_counter(
            &Key::from_static_name("mapcache_sweep_removed_keys_total"),
            &META,
        );
        let sweep_duration = recorder.register_histogram(
            &Key::from_static_name("mapcache_sweep_duration_seconds"),
            &META,
        );
        Metrics {
            enabled,
            recorder,
            handle,
            pipeline: Histogram::new(PIPELINE_BOUNDS),
            sweep_passes,
            sweep_removed,
            sweep_duration,
            scrape: Mutex::new(ScrapeState::default()),
            clock: quanta::Clock::new(),
            http: crate::http_metrics::HttpMetrics::default(),
        }
    }

    /// One sweeper pass (a few per second: straight to the exporter's handles).
    pub fn sweep(&self, report: &SweepReport) {
        self.sweep_passes.increment(1);
        self.sweep_removed.increment(report.removed as u64);
        self.sweep_duration.record(report.elapsed.as_secs_f64());
    }

    fn register_counter(&self, name: &'static str, label: Option<(&'static str, &str)>) -> Counter {
        let labels: Vec<Label> = label
            .map(|(k, v)| Label::new(k, v.to_string()))
            .into_iter()
            .collect();
        self.recorder
            .register_counter(&Key::from_parts(name, labels), &META)
    }

    fn register_gauge(&self, name: &'static str, labels: &[(&'static str, String)]) -> Gauge {
        let labels: Vec<Label> = labels
            .iter()
            .map(|(k, v)| Label::new(*k, v.clone()))
            .collect();
        self.recorder
            .register_gauge(&Key::from_parts(name, labels), &META)
    }

    /// The Prometheus text exposition of everything (`/metrics`).
    pub fn render(&self, inner: &Inner) -> String {
        let sh = &*inner.shared;
        {
            let mut st = self.scrape.lock();
            let mut counter =
                |name: &'static str, label: Option<(&'static str, &str)>, value: u64| {
                    let key = (name, label.map(|l| l.1.to_string()).unwrap_or_default());
                    st.counters
                        .entry(key)
                        .or_insert_with(|| Mono {
                            counter: self.register_counter(name, label),
                            last: 0,
                        })
                        .observe(value);
                };
            for cs in sh.cmdstats.iter() {
                if cs.calls() > 0 || cs.failed() > 0 || cs.rejected() > 0 {
                    counter(
                        "mapcache_commands_total",
                        Some(("cmd", &cs.name)),
                        cs.calls(),
                    );
                    counter(
                        "mapcache_command_failed_calls_total",
                        Some(("cmd", &cs.name)),
                        cs.failed(),
                    );
                    counter(
                        "mapcache_command_rejected_calls_total",
                        Some(("cmd", &cs.name)),
                        cs.rejected(),
                    );
                }
            }
            for (kind, n) in sh.errorstats.snapshot() {
                counter("mapcache_command_errors_total", Some(("kind", &kind)), n);
            }
            let s = &sh.stats;
            counter(
                "mapcache_connections_received_total",
                None,
                s.connections_received.load(Ordering::Relaxed),
            );
            counter(
                "mapcache_connections_rejected_total",
                None,
                s.rejected_connections.load(Ordering::Relaxed),
            );
            counter(
                "mapcache_net_input_bytes_total",
                None,
                s.net_input_bytes.load(Ordering::Relaxed),
            );
            counter(
                "mapcache_net_output_bytes_total",
                None,
                s.net_output_bytes.load(Ordering::Relaxed),
            );

            let (mut hits, mut misses, mut lazy, mut active) = (0, 0, 0, 0);
            let mut dbs = Vec::new();
            for (i, db) in sh.store.dbs().iter().enumerate() {
                let d = db.stats();
                hits += d.hits;
                misses += d.misses;
                lazy += d.expired_lazy;
                active += d.expired_active;
                dbs.push((i, d.keys, d.expires));
            }
            counter("mapcache_keyspace_hits_total", None, hits);
            counter("mapcache_keyspace_misses_total", None, misses);
            counter("mapcache_expired_keys_total", Some(("mode", "lazy")), lazy);
            counter(
                "mapcache_expired_keys_total",
                Some(("mode", "active")),
                active,
            );
            counter(
                "mapcache_evicted_keys_total",
                None,
                sh.store.limits().evicted_keys(),
            );

            let mut gauge = |name: &'static str,
                             labels: &[(&'static str, String)],
                             value: f64,
                             create: bool| {
                let key = (
                    name,
                    labels
                        .iter()
                        .map(|l| l.1.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                );
                if let Some(g) = st.gauges.get(&key) {
                    g.set(value);
                } else if create {
                    let g = self.register_gauge(name, labels);
                    g.set(value);
                    st.gauges.insert(key, g);
                }
            };
            for (i, keys, expires) in dbs {
                // A database appears once it has held a key, and stays (at 0 when emptied).
                let db = [("db", format!("db{i}"))];
                gauge("mapcache_db_keys", &db, keys as f64, keys > 0);
                gauge("mapcache_db_keys_expiring", &db, expires as f64, keys > 0);
            }
            gauge(
                "mapcache_maxmemory_bytes",
                &[],
                sh.store.limits().maxmemory() as f64,
                true,
            );
            gauge(
                "mapcache_connected_clients",
                &[],
                inner.connected.load(Ordering::Relaxed) as f64,
                true,
            );
            gauge(
                "mapcache_uptime_seconds",
                &[],
                sh.started.elapsed().as_secs_f64(),
                true,
            );
            gauge(
                "mapcache_process_start_time_seconds",
                &[],
                process_start_unix(sh),
                true,
            );
            gauge(
                "mapcache_process_resident_memory_bytes",
                &[],
                crate::process::rss_bytes() as f64,
                true,
            );
            // The allocator's own figures, when the binary provides them (jemalloc).
            if let Some(Ok(f)) = inner.config.allocator.as_ref().map(|a| a.figures()) {
                gauge(
                    "mapcache_allocator_allocated_bytes",
                    &[],
                    f.allocated as f64,
                    true,
                );
                gauge(
                    "mapcache_allocator_resident_bytes",
                    &[],
                    f.resident as f64,
                    true,
                );
                gauge(
                    "mapcache_allocator_retained_bytes",
                    &[],
                    f.retained as f64,
                    true,
                );
            }
            gauge(
                "mapcache_process_threads",
                &[],
                crate::process::threads() as f64,
                true,
            );
            gauge(
                "mapcache_slowlog_length",
                &[],
                sh.slowlog.len() as f64,
                true,
            );
            gauge(
                "mapcache_config_maxclients",
                &[],
                sh.config.read().maxclients as f64,
                true,
            );
            gauge(
                "mapcache_build_info",
                &[
                    ("version", env!("CARGO_PKG_VERSION").to_string()),
                    ("commit", sh.info.git_sha.to_string()),
                    ("redis_version", sh.info.version.to_string()),
                ],
                1.0,
                true,
            );
        }
        let mut text = self.handle.render();

        // Rendered here: fixed-bucket atomic histograms and a float counter.
        let (user, sys) = crate::process::cpu_seconds();
        let _ = write!(
            text,
            "# HELP mapcache_process_cpu_seconds_total User and system CPU time of the process.\n\
             # TYPE mapcache_process_cpu_seconds_total counter\n\
             mapcache_process_cpu_seconds_total {}\n",
            user + sys
        );
        text.push_str(
            "# HELP mapcache_command_duration_seconds Time to run a command (parsed arguments to reply buffered), by command.\n\
             # TYPE mapcache_command_duration_seconds histogram\n",
        );
        for cs in sh.cmdstats.iter().filter(|c| c.calls() > 0) {
            write_histogram(
                &mut text,
                "mapcache_command_duration_seconds",
                Some(("cmd", &cs.name)),
                &cs.latency,
                1e-9,
            );
        }
        write_caches(&mut text, sh);
        text.push_str(
            "# HELP mapcache_pipeline_depth Commands decoded from one read of a connection (1 = not pipelined).\n\
             # TYPE mapcache_pipeline_depth histogram\n",
        );
        write_histogram(
            &mut text,
            "mapcache_pipeline_depth",
            None,
            &self.pipeline,
            1.0,
        );
        self.http.render(&mut text);
        text
    }

    /// Periodic work: INFO's instantaneous rates (every 100 ms) and the exporter's upkeep.
    pub async fn sampler(inner: Arc<Inner>) {
        let mut shutdown = inner.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let start = Instant::now();
        let mut n = 0u64;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => return,
            }
            let sh = &inner.shared;
            let ms = start.elapsed().as_millis() as u64;
            sh.rates
                .ops
                .sample(ms, sh.stats.commands_processed.load(Ordering::Relaxed));
            sh.rates
                .input_bytes
                .sample(ms, sh.stats.net_input_bytes.load(Ordering::Relaxed));
            sh.rates
                .output_bytes
                .sample(ms, sh.stats.net_output_bytes.load(Ordering::Relaxed));
            n += 1;
            if n % 50 == 0 {
                // Folds buffered histogram samples (the sweeper's) even when nobody scrapes.
                inner.metrics.handle.run_upkeep();
            }
        }
    }
}

/// The per-cache series (the Go server's `cache_*` and `caches_total`; deploy/METRICS.md),
/// rendered here rather than through the recorder so that a deleted cache's series go
/// with it. A numbered database appears once it has been used; `default` and the named
/// caches always do. Cost per scrape: O(shards) per cache, never O(keys).
fn write_caches(out: &mut String, sh: &Shared) {
    struct Row {
        name: String,
        keys: usize,
        bytes: usize,
        activity: u64,
    }
    let store = &sh.store;
    let all = store.caches();
    let total = all.len();
    let rows: Vec<Row> = all
        .into_iter()
        .filter_map(|info| {
            let db = store.cache(&info.name)?;
            let st = db.stats();
            let activity = st.hits + st.misses + st.writes;
            let shown = info.index.is_none_or(|i| i == 0) || info.keys > 0 || activity > 0;
            shown.then(|| Row {
                keys: info.keys,
                bytes: db.estimated_bytes(),
                activity,
                name: info.name,
            })
        })
        .collect();
    let _ = write!(
        out,
        "# HELP mapcache_caches Caches that exist: the numbered databases and the named caches.\n\
         # TYPE mapcache_caches gauge\n\
         mapcache_caches {total}\n"
    );
    type Field = fn(&Row) -> String;
    let series: [(&str, &str, &str, Field); 3] = [
        (
            "mapcache_cache_keys",
            "gauge",
            "Live top-level keys of a cache (DBSIZE).",
            |r| r.keys.to_string(),
        ),
        (
            "mapcache_cache_size_bytes",
            "gauge",
            "Estimated bytes a cache holds: its shard tables plus, per shard, the entry count times the mean size (slot, long key, value heap) of a sample of entries.",
            |r| r.bytes.to_string(),
        ),
        (
            "mapcache_cache_activity_total",
            "counter",
            "Operations on a cache: key reads (hits and misses) and writes (one per key written, one per batch).",
            |r| r.activity.to_string(),
        ),
    ];
    for (name, kind, help, field) in series {
        let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        for r in &rows {
            let _ = writeln!(
                out,
                "{name}{{cache=\"{}\"}} {}",
                escape_label(&r.name),
                field(r)
            );
        }
    }
}

fn process_start_unix(sh: &Shared) -> f64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (now.saturating_sub(sh.started.elapsed())).as_secs_f64()
}

/// Prometheus histogram lines (cumulative buckets, `+Inf`, `_sum`, `_count`); bounds and
/// sum are multiplied by `scale` (nanoseconds to seconds).
fn write_histogram(
    out: &mut String,
    name: &str,
    label: Option<(&str, &str)>,
    h: &Histogram,
    scale: f64,
) {
    let labels = label
        .map(|(k, v)| format!("{k}=\"{}\"", escape_label(v)))
        .unwrap_or_default();
    write_histogram_labels(out, name, &labels, h, scale);
}

/// [`write_histogram`] with its labels already written (`a="x",b="y"`, or empty).
pub(crate) fn write_histogram_labels(
    out: &mut String,
    name: &str,
    labels: &str,
    h: &Histogram,
    scale: f64,
) {
    let prefix = if labels.is_empty() {
        String::new()
    } else {
        format!("{labels},")
    };
    let counts = h.counts();
    let mut cumulative = 0;
    for (i, c) in counts.iter().enumerate() {
        cumulative += c;
        let le = match h.bounds().get(i) {
            Some(b) => format_float(*b as f64 * scale),
            None => "+Inf".to_string(),
        };
        let _ = writeln!(out, "{name}_bucket{{{prefix}le=\"{le}\"}} {cumulative}");
    }
    let labels = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(
        out,
        "{name}_sum{labels} {}",
        format_float(h.sum() as f64 * scale)
    );
    let _ = writeln!(out, "{name}_count{labels} {cumulative}");
}

fn format_float(v: f64) -> String {
    // Shortest text that round-trips, without float noise such as 2.4999999999999998e-6.
    let s = format!("{v}");
    if s.len() > 12 {
        format!("{v:e}")
    } else {
        s
    }
}

pub(crate) fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Per-connection accounting: times commands, buffers their counts per batch, logs
/// slow ones.
pub(crate) struct ConnObserver<'a> {
    shared: &'a Shared,
    metrics: &'a Metrics,
    /// Per-command accounting (metrics on).
    on: bool,
    /// Whether this batch's commands are timed: metrics on, or the slow log on.
    timed: bool,
    clock: quanta::Clock,
    /// Raw clock reading where the next command's time starts.
    mark: u64,
    /// Last command seen and its slot: pipelines repeat commands.
    last: Option<(usize, usize)>,
    pending: Vec<Pending>,
    /// Commands decoded in this read (pipeline depth).
    depth: u64,
    /// Commands that ran (not rejected) since the last flush.
    executed: u64,
}

#[derive(Clone, Copy)]
struct Pending {
    slot: u32,
    bucket: u32,
    count: u64,
    sum_ns: u64,
}

/// Pending entries kept before a flush is forced (a batch of many distinct commands).
const MAX_PENDING: usize = 16;

impl<'a> ConnObserver<'a> {
    pub fn new(inner: &'a Inner) -> Self {
        ConnObserver {
            shared: &inner.shared,
            metrics: &inner.metrics,
            on: inner.metrics.enabled,
            timed: false,
            clock: inner.metrics.clock.clone(),
            mark: 0,
            last: None,
            pending: Vec::with_capacity(MAX_PENDING),
            depth: 0,
            executed: 0,
        }
    }

    /// Called once per read, before its commands run.
    #[inline]
    pub fn begin_batch(&mut self) {
        self.timed = self.on || self.shared.slowlog.threshold_us() >= 0;
        self.depth = 0;
        if self.timed {
            self.mark = self.clock.raw();
        }
    }

    /// Restarts the clock after an `.await` inside a batch (a mid-batch write), so the
    /// next command's time does not include it.
    #[inline]
    pub fn resume(&mut self) {
        if self.timed {
            self.mark = self.clock.raw();
        }
    }

    /// Nanoseconds since the previous mark, and a new mark.
    #[inline]
    fn lap(&mut self) -> u64 {
        let now = self.clock.raw();
        let ns = self.clock.delta_as_nanos(self.mark, now);
        self.mark = now;
        ns
    }

    /// Accounts one command (decoding included: a few tens of nanoseconds).
    #[inline]
    pub fn finish(&mut self, outcome: &Outcome, args: &[Bytes], session: &Session) {
        self.depth += 1;
        if outcome.status == Status::Rejected {
            if self.timed {
                self.lap();
            }
            if let (true, Some(stat)) = (self.on, outcome.stat) {
                if let Some(slot) = self.slot(stat) {
                    self.shared
                        .cmdstats
                        .slot(slot)
                        .rejected
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        }
        self.executed += 1;
        if !self.timed {
            return;
        }
        let ns = self.lap();
        if self.on {
            if let Some(slot) = outcome.stat.and_then(|s| self.slot(s)) {
                let counters = self.shared.cmdstats.slot(slot);
                if outcome.status == Status::Failed {
                    counters.failed.fetch_add(1, Ordering::Relaxed);
                }
                let bucket = counters.latency.bucket(ns) as u32;
                let slot = slot as u32;
                if let Some(p) = self
                    .pending
                    .iter_mut()
                    .find(|p| p.slot == slot && p.bucket == bucket)
                {
                    p.count += 1;
                    p.sum_ns += ns;
                } else {
                    if self.pending.len() == MAX_PENDING {
                        self.flush_pending();
                    }
                    self.pending.push(Pending {
                        slot,
                        bucket,
                        count: 1,
                        sum_ns: ns,
                    });
                }
            }
        }
        // Read after the command ran, as Redis does: the CONFIG SET that lowers the
        // threshold is itself logged.
        if self.shared.slowlog.is_slow(ns / 1000) {
            self.slow(outcome, args, ns / 1000, session);
        }
    }

    #[cold]
    fn slow(&self, outcome: &Outcome, args: &[Bytes], duration_us: u64, session: &Session) {
        let (Some(cmd), Some(stat)) = (outcome.cmd, outcome.stat) else {
            return;
        };
        self.shared
            .slowlog
            .push(cmd, args, duration_us, &session.client);
        let name = if std::ptr::eq(cmd, stat) {
            cmd.name.to_string()
        } else {
            format!("{}|{}", cmd.name, stat.name)
        };
        // The command's name and how long it took; never its arguments (they are data).
        tracing::warn!(command = %name, duration_us, "slow command");
    }

    #[inline]
    fn slot(&mut self, cmd: &'static mapcache_commands::Command) -> Option<usize> {
        let addr = cmd as *const _ as usize;
        if let Some((a, slot)) = self.last {
            if a == addr {
                return Some(slot);
            }
        }
        let slot = CommandStats::index_of(cmd)?;
        self.last = Some((addr, slot));
        Some(slot)
    }

    fn flush_pending(&mut self) {
        for p in self.pending.drain(..) {
            let counters = self.shared.cmdstats.slot(p.slot as usize);
            counters.calls.fetch_add(p.count, Ordering::Relaxed);
            counters.latency.add(p.bucket as usize, p.count, p.sum_ns);
        }
    }

    /// Publishes what this connection counted; called before every write to the socket,
    /// so a client that has its reply finds the command counted.
    #[inline]
    pub fn flush(&mut self) {
        if self.executed > 0 {
            self.shared
                .stats
                .commands_processed
                .fetch_add(self.executed, Ordering::Relaxed);
            self.executed = 0;
        }
        if !self.pending.is_empty() {
            self.flush_pending();
        }
    }

    /// Called once per read, after its commands ran.
    #[inline]
    pub fn end_batch(&mut self) {
        if self.on && self.depth > 0 {
            self.metrics.pipeline.record(self.depth);
        }
    }
}
