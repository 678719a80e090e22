//! Per-command statistics behind INFO commandstats/errorstats and `/metrics`.
//!
//! One [`CmdCounters`] per command *and* per subcommand (Redis counts `config|set`
//! apart from `config|get`), in a flat list fixed at startup. The connection task finds
//! a command's slot with [`CommandStats::index_of`] (a binary search over addresses,
//! no hashing, no allocation) and adds to it once per batch; readers (INFO, the
//! Prometheus scrape) load the atomics. Both read the same counters, so INFO and
//! `/metrics` always agree.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::table::{self, Command};

/// Upper bounds (in nanoseconds) of the command latency histogram's buckets; a last
/// `+Inf` bucket is implied. Prometheus renders them in seconds.
pub const LATENCY_BOUNDS_NS: &[u64] = &[
    1_000,
    2_500,
    5_000,
    10_000,
    25_000,
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
    1_000_000_000,
];

/// A histogram with fixed bucket bounds and atomic counts: recording is one binary
/// search over a few integers plus two relaxed atomic adds; nothing allocates.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [u64],
    /// `bounds.len() + 1` counts, not cumulative; the last one is `+Inf`.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Self {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// The bucket `value` falls in (first bound `>= value`).
    #[inline]
    pub fn bucket(&self, value: u64) -> usize {
        self.bounds.partition_point(|&b| b < value)
    }

    /// Adds `n` observations in `bucket` whose values add up to `sum`.
    #[inline]
    pub fn add(&self, bucket: usize, n: u64, sum: u64) {
        self.counts[bucket].fetch_add(n, Ordering::Relaxed);
        self.sum.fetch_add(sum, Ordering::Relaxed);
    }

    #[inline]
    pub fn record(&self, value: u64) {
        self.add(self.bucket(value), 1, value);
    }

    pub fn bounds(&self) -> &'static [u64] {
        self.bounds
    }

    /// Per-bucket counts (not cumulative), `+Inf` last.
    pub fn counts(&self) -> Vec<u64> {
        self.counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }

    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub fn sum(&self) -> u64 {
        self.sum.load(Ordering::Relaxed)
    }

    pub fn reset(&self) {
        for c in self.counts.iter() {
            c.store(0, Ordering::Relaxed);
        }
        self.sum.store(0, Ordering::Relaxed);
    }
}

/// One command's counters, as Redis's `cmdstat_<name>` reports them.
#[derive(Debug)]
pub struct CmdCounters {
    /// `get`, or `config|set` for a subcommand.
    pub name: String,
    /// Calls that ran (succeeded or failed); their durations. `calls == latency.count()`.
    pub calls: AtomicU64,
    pub latency: Histogram,
    /// Calls whose handler answered with an error.
    pub failed: AtomicU64,
    /// Calls refused before running (arity, authentication).
    pub rejected: AtomicU64,
}

impl CmdCounters {
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
    /// Total execution time in microseconds (INFO's `usec`).
    pub fn usec(&self) -> u64 {
        self.latency.sum() / 1000
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }
}

/// How a command ended, for the statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    /// The handler ran and answered with an error.
    Failed,
    /// Refused before its handler ran (wrong arity, NOAUTH, unknown subcommand): Redis
    /// counts these as `rejected_calls`, not as calls.
    Rejected,
}

/// The counters of every command and subcommand.
#[derive(Debug)]
pub struct CommandStats {
    slots: Vec<CmdCounters>,
}

/// Every command and subcommand entry, sorted by address, with its slot index.
fn address_index() -> &'static [(usize, usize)] {
    static INDEX: OnceLock<Vec<(usize, usize)>> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut v: Vec<(usize, usize)> = entries()
            .iter()
            .enumerate()
            .map(|(i, (c, _))| (*c as *const Command as usize, i))
            .collect();
        v.sort_unstable();
        v
    })
}

/// The commands in slot order: each top-level command followed by its subcommands.
fn entries() -> &'static [(&'static Command, String)] {
    static ENTRIES: OnceLock<Vec<(&'static Command, String)>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        let mut v = Vec::new();
        for c in table::all() {
            v.push((*c, c.name.to_string()));
            for s in c.subcommands {
                v.push((s, format!("{}|{}", c.name, s.name)));
            }
        }
        v
    })
}

impl Default for CommandStats {
    fn default() -> Self {
        CommandStats {
            slots: entries()
                .iter()
                .map(|(_, name)| CmdCounters {
                    name: name.clone(),
                    calls: AtomicU64::new(0),
                    latency: Histogram::new(LATENCY_BOUNDS_NS),
                    failed: AtomicU64::new(0),
                    rejected: AtomicU64::new(0),
                })
                .collect(),
        }
    }
}

impl CommandStats {
    /// The slot of a command or subcommand entry of the table.
    #[inline]
    pub fn index_of(cmd: &'static Command) -> Option<usize> {
        let addr = cmd as *const Command as usize;
        let index = address_index();
        index
            .binary_search_by_key(&addr, |(a, _)| *a)
            .ok()
            .map(|i| index[i].1)
    }

    pub fn slot(&self, index: usize) -> &CmdCounters {
        &self.slots[index]
    }

    pub fn get(&self, cmd: &'static Command) -> Option<&CmdCounters> {
        Self::index_of(cmd).map(|i| &self.slots[i])
    }

    /// Every slot, in table order (a command, then its subcommands).
    pub fn iter(&self) -> impl Iterator<Item = &CmdCounters> {
        self.slots.iter()
    }

    /// Calls of every command (INFO's `total_commands_processed`).
    pub fn total_calls(&self) -> u64 {
        self.slots.iter().map(CmdCounters::calls).sum()
    }

    pub fn reset(&self) {
        for s in &self.slots {
            s.calls.store(0, Ordering::Relaxed);
            s.failed.store(0, Ordering::Relaxed);
            s.rejected.store(0, Ordering::Relaxed);
            s.latency.reset();
        }
    }
}

/// Error replies by kind (`ERR`, `WRONGTYPE`, ...), INFO's `errorstat_<kind>`. Like
/// Redis, at most 128 kinds are tracked; later new kinds are not counted.
#[derive(Debug, Default)]
pub struct ErrorStats {
    kinds: Mutex<Vec<(String, u64)>>,
}

const MAX_ERROR_KINDS: usize = 128;

impl ErrorStats {
    /// Counts one error reply of `kind` (error paths only: takes a lock).
    pub fn record(&self, kind: &str) {
        let mut kinds = self.kinds.lock();
        if let Some(k) = kinds.iter_mut().find(|(k, _)| k == kind) {
            k.1 += 1;
        } else if kinds.len() < MAX_ERROR_KINDS {
            kinds.push((kind.to_string(), 1));
        }
    }

    /// `(kind, count)`, sorted by kind.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let mut v = self.kinds.lock().clone();
        v.sort();
        v
    }

    pub fn reset(&self) {
        self.kinds.lock().clear();
    }
}

/// INFO's `instantaneous_*`: a ring of the last 16 samples of a counter's rate, taken
/// every 100 ms by the server (Redis's `trackInstantaneousMetric`).
#[derive(Debug, Default)]
pub struct RateSampler {
    inner: Mutex<RateRing>,
}

#[derive(Debug, Default)]
struct RateRing {
    last: Option<(u64, u64)>,
    samples: [f64; 16],
    next: usize,
}

impl RateSampler {
    /// Records the counter's value `value` at `now_ms` (milliseconds, any epoch).
    pub fn sample(&self, now_ms: u64, value: u64) {
        let mut r = self.inner.lock();
        if let Some((t, v)) = r.last {
            let dt = now_ms.saturating_sub(t);
            let rate = if dt > 0 {
                value.saturating_sub(v) as f64 * 1000.0 / dt as f64
            } else {
                0.0
            };
            let i = r.next;
            r.samples[i] = rate;
            r.next = (i + 1) % 16;
        }
        r.last = Some((now_ms, value));
    }

    /// Mean of the samples: per second.
    pub fn rate(&self) -> f64 {
        let r = self.inner.lock();
        r.samples.iter().sum::<f64>() / 16.0
    }
}

/// The instantaneous rates INFO reports.
#[derive(Debug, Default)]
pub struct Rates {
    pub ops: RateSampler,
    pub input_bytes: RateSampler,
    pub output_bytes: RateSampler,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_and_subcommand_has_a_slot() {
        let stats = CommandStats::default();
        for c in table::all() {
            assert_eq!(stats.get(c).unwrap().name, c.name);
            for s in c.subcommands {
                assert_eq!(stats.get(s).unwrap().name, format!("{}|{}", c.name, s.name));
            }
        }
    }

    #[test]
    fn histogram_buckets_are_upper_inclusive() {
        let h = Histogram::new(LATENCY_BOUNDS_NS);
        assert_eq!(h.bucket(0), 0);
        assert_eq!(h.bucket(1_000), 0);
        assert_eq!(h.bucket(1_001), 1);
        assert_eq!(h.bucket(u64::MAX), LATENCY_BOUNDS_NS.len());
        h.record(7_000);
        h.record(2_000_000_000);
        assert_eq!(h.count(), 2);
        assert_eq!(h.sum(), 2_000_007_000);
        let counts = h.counts();
        assert_eq!(counts[3], 1);
        assert_eq!(counts[LATENCY_BOUNDS_NS.len()], 1);
    }

    #[test]
    fn rate_is_the_mean_of_sixteen_samples() {
        let r = RateSampler::default();
        for i in 0..=16u64 {
            r.sample(i * 100, i * 100);
        }
        assert!((r.rate() - 1000.0).abs() < 1e-9);
    }
}
