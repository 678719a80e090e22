//! Deadline index candidates, measured behind one API.
//!
//! Run: `cargo bench -p mapcache-expiry --bench index -- --warm-up-time 1 --measurement-time 3
//! --sample-size 10`. `MAPCACHE_EXPIRY_BENCH_N` sets the key count (default 1,000,000).
//!
//! Candidates:
//! - `crate`: `mapcache_expiry::DeadlineIndex` (whatever the crate ships).
//! - `btreeset`: `BTreeSet<(deadline, key)>`.
//! - `bucketed`: `BTreeMap<deadline, One(key) | Many(BTreeSet<key>)>`: one map entry per
//!   distinct deadline, no key clone to remove.
//! - `lazyheap`: `BinaryHeap<Reverse<(deadline, key)>>` with lazy deletion (remove is a
//!   no-op; the store would re-check popped entries). Stale entries stay until popped.
//!
//! Before the timings, memory per entry is measured in a child process per candidate
//! (VmRSS growth / live entries), so allocator reuse between candidates cannot skew it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion};
use mapcache_expiry::{DeadlineIndex, UnixMillis};

type K = Bytes;

trait Index: Default {
    const NAME: &'static str;
    fn insert(&mut self, key: K, deadline: UnixMillis);
    fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool;
    fn pop_due(&mut self, now: UnixMillis, max: usize, out: &mut Vec<(K, UnixMillis)>) -> usize;
    fn len(&self) -> usize;
}

#[derive(Default)]
struct Crate(DeadlineIndex<K>);
impl Index for Crate {
    const NAME: &'static str = "crate";
    fn insert(&mut self, key: K, deadline: UnixMillis) {
        self.0.insert(key, deadline);
    }
    fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        self.0.remove(key, deadline)
    }
    fn pop_due(&mut self, now: UnixMillis, max: usize, out: &mut Vec<(K, UnixMillis)>) -> usize {
        self.0.pop_due(now, max, out)
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

#[derive(Default)]
struct BTreeSetIndex(BTreeSet<(UnixMillis, K)>);
impl Index for BTreeSetIndex {
    const NAME: &'static str = "btreeset";
    fn insert(&mut self, key: K, deadline: UnixMillis) {
        self.0.insert((deadline, key));
    }
    fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        self.0.remove(&(deadline, key.clone()))
    }
    fn pop_due(&mut self, now: UnixMillis, max: usize, out: &mut Vec<(K, UnixMillis)>) -> usize {
        let mut n = 0;
        while n < max {
            match self.0.first() {
                Some((d, _)) if *d <= now => {}
                _ => break,
            }
            let (d, k) = self.0.pop_first().expect("checked");
            out.push((k, d));
            n += 1;
        }
        n
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

enum Bucket {
    One(K),
    Many(BTreeSet<K>),
}

#[derive(Default)]
struct Bucketed {
    map: BTreeMap<UnixMillis, Bucket>,
    len: usize,
}
impl Index for Bucketed {
    const NAME: &'static str = "bucketed";
    fn insert(&mut self, key: K, deadline: UnixMillis) {
        use std::collections::btree_map::Entry;
        match self.map.entry(deadline) {
            Entry::Vacant(v) => {
                v.insert(Bucket::One(key));
                self.len += 1;
            }
            Entry::Occupied(mut o) => {
                let b = o.get_mut();
                match b {
                    Bucket::One(k) if *k == key => {}
                    Bucket::One(_) => {
                        let Bucket::One(old) = std::mem::replace(b, Bucket::Many(BTreeSet::new()))
                        else {
                            unreachable!()
                        };
                        if let Bucket::Many(s) = b {
                            s.insert(old);
                            s.insert(key);
                        }
                        self.len += 1;
                    }
                    Bucket::Many(s) => {
                        if s.insert(key) {
                            self.len += 1;
                        }
                    }
                }
            }
        }
    }
    fn remove(&mut self, key: &K, deadline: UnixMillis) -> bool {
        use std::collections::btree_map::Entry;
        let Entry::Occupied(mut o) = self.map.entry(deadline) else {
            return false;
        };
        let (removed, empty) = match o.get_mut() {
            Bucket::One(k) => (k == key, k == key),
            Bucket::Many(s) => {
                let r = s.remove(key);
                (r, s.is_empty())
            }
        };
        if empty {
            o.remove();
        }
        if removed {
            self.len -= 1;
        }
        removed
    }
    fn pop_due(&mut self, now: UnixMillis, max: usize, out: &mut Vec<(K, UnixMillis)>) -> usize {
        let mut n = 0;
        while n < max {
            let Some(mut e) = self.map.first_entry() else {
                break;
            };
            let d = *e.key();
            if d > now {
                break;
            }
            match e.get_mut() {
                Bucket::One(_) => {
                    let Bucket::One(k) = e.remove() else {
                        unreachable!()
                    };
                    out.push((k, d));
                    n += 1;
                }
                Bucket::Many(s) => {
                    while n < max {
                        let Some(k) = s.pop_first() else { break };
                        out.push((k, d));
                        n += 1;
                    }
                    if s.is_empty() {
                        e.remove();
                    }
                }
            }
        }
        self.len -= n;
        n
    }
    fn len(&self) -> usize {
        self.len
    }
}

#[derive(Default)]
struct LazyHeap(BinaryHeap<Reverse<(UnixMillis, K)>>);
impl Index for LazyHeap {
    const NAME: &'static str = "lazyheap";
    fn insert(&mut self, key: K, deadline: UnixMillis) {
        self.0.push(Reverse((deadline, key)));
    }
    fn remove(&mut self, _key: &K, _deadline: UnixMillis) -> bool {
        // Lazy: the stale entry stays until popped and is then dropped by the store's
        // re-check. It cannot tell whether the key was there.
        true
    }
    fn pop_due(&mut self, now: UnixMillis, max: usize, out: &mut Vec<(K, UnixMillis)>) -> usize {
        let mut n = 0;
        while n < max {
            match self.0.peek() {
                Some(Reverse((d, _))) if *d <= now => {}
                _ => break,
            }
            let Reverse((d, k)) = self.0.pop().expect("peeked");
            out.push((k, d));
            n += 1;
        }
        n
    }
    fn len(&self) -> usize {
        self.0.len()
    }
}

const NOW: UnixMillis = 1_700_000_000_000;
const SPREAD_MS: u64 = 3_600_000;

fn n_keys() -> usize {
    std::env::var("MAPCACHE_EXPIRY_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Keys like the store's: `Bytes` copied from the request, already shared (so clones in
/// the timed code are reference-count increments, as in the store).
fn make_keys(n: usize) -> Vec<K> {
    let keys: Vec<K> = (0..n)
        .map(|i| Bytes::copy_from_slice(format!("user:session:{i:08}").as_bytes()))
        .collect();
    // Promote each to the shared representation.
    let _shared: Vec<K> = keys.to_vec();
    keys
}

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn random_deadlines(n: usize, seed: u64) -> Vec<UnixMillis> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| NOW + (xorshift(&mut s) % SPREAD_MS) as i64)
        .collect()
}

fn build<I: Index>(keys: &[K], deadlines: &[UnixMillis]) -> I {
    let mut ix = I::default();
    for (k, d) in keys.iter().zip(deadlines) {
        ix.insert(k.clone(), *d);
    }
    ix
}

fn bench_candidate<I: Index>(
    c: &mut Criterion,
    keys: &[K],
    same: &[UnixMillis],
    rnd: &[UnixMillis],
) {
    let n = keys.len();
    let rnd2 = random_deadlines(n, 0x9e37_79b9_7f4a_7c15);
    let mut g = c.benchmark_group(format!("index/{}", I::NAME));
    g.throughput(criterion::Throughput::Elements(n as u64));

    g.bench_function("insert_same_deadline", |b| {
        b.iter_batched(
            || keys.to_vec(),
            |keys| {
                let mut ix = I::default();
                for k in keys {
                    ix.insert(k, NOW);
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("insert_random_deadlines", |b| {
        b.iter_batched(
            || keys.to_vec(),
            |keys| {
                let mut ix = I::default();
                for (k, d) in keys.into_iter().zip(rnd) {
                    ix.insert(k, *d);
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rewrite_ttl_random", |b| {
        b.iter_batched(
            || build::<I>(keys, rnd),
            |mut ix| {
                for ((k, old), new) in keys.iter().zip(rnd).zip(&rnd2) {
                    black_box(ix.remove(k, *old));
                    ix.insert(k.clone(), *new);
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("rewrite_ttl_same_deadline", |b| {
        b.iter_batched(
            || build::<I>(keys, same),
            |mut ix| {
                for k in keys {
                    black_box(ix.remove(k, NOW));
                    ix.insert(k.clone(), NOW + 1);
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("pop_due_256_random", |b| {
        b.iter_batched(
            || (build::<I>(keys, rnd), Vec::with_capacity(256)),
            |(mut ix, mut out)| {
                while ix.pop_due(i64::MAX, 256, &mut out) > 0 {
                    black_box(&out);
                    out.clear();
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.bench_function("pop_due_256_same_deadline", |b| {
        b.iter_batched(
            || (build::<I>(keys, same), Vec::with_capacity(256)),
            |(mut ix, mut out)| {
                while ix.pop_due(NOW, 256, &mut out) > 0 {
                    black_box(&out);
                    out.clear();
                }
                ix
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// In a child process: build one candidate in one layout and report bytes per live key.
fn measure_child<I: Index>(case: &str) -> String {
    let n = n_keys();
    let keys = make_keys(n);
    let deadlines = match case {
        "same" => vec![NOW; n],
        _ => random_deadlines(n, 42),
    };
    let rnd2 = random_deadlines(n, 7);
    let before = rss_bytes();
    let mut ix = build::<I>(&keys, &deadlines);
    if case == "rewrite" {
        // Every TTL rewritten once (EXPIRE on each key again).
        for ((k, old), new) in keys.iter().zip(&deadlines).zip(&rnd2) {
            ix.remove(k, *old);
            ix.insert(k.clone(), *new);
        }
    }
    let after = rss_bytes();
    let per = (after.saturating_sub(before)) as f64 / n as f64;
    let entries = ix.len();
    black_box(&ix);
    format!(
        "{:<9} {:<8} {:>7.1} B/live key  ({} stored entries for {} live keys)",
        I::NAME,
        case,
        per,
        entries,
        n
    )
}

fn memory_report() {
    let exe = std::env::current_exe().expect("current exe");
    eprintln!("memory per entry (VmRSS growth / live keys; keys' bytes are shared, not counted):");
    for name in ["crate", "btreeset", "bucketed", "lazyheap"] {
        for case in ["same", "random", "rewrite"] {
            let out = std::process::Command::new(&exe)
                .env("MAPCACHE_EXPIRY_BENCH_MEM", format!("{name}:{case}"))
                .output()
                .expect("spawn child");
            eprint!("  {}", String::from_utf8_lossy(&out.stderr));
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var("MAPCACHE_EXPIRY_BENCH_MEM") {
        let (name, case) = spec.split_once(':').expect("name:case");
        let line = match name {
            "crate" => measure_child::<Crate>(case),
            "btreeset" => measure_child::<BTreeSetIndex>(case),
            "bucketed" => measure_child::<Bucketed>(case),
            "lazyheap" => measure_child::<LazyHeap>(case),
            other => panic!("unknown candidate {other}"),
        };
        eprintln!("{line}");
        return;
    }
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    let benching = std::env::args().any(|a| a == "--bench");
    if benching && std::env::var_os("MAPCACHE_EXPIRY_BENCH_NO_MEM").is_none() {
        memory_report();
    }
    let n = if benching { n_keys() } else { 1_000 };
    let keys = make_keys(n);
    let same = vec![NOW; n];
    let rnd = random_deadlines(n, 42);
    let mut c = Criterion::default().configure_from_args();
    bench_candidate::<Crate>(&mut c, &keys, &same, &rnd);
    bench_candidate::<BTreeSetIndex>(&mut c, &keys, &same, &rnd);
    bench_candidate::<Bucketed>(&mut c, &keys, &same, &rnd);
    bench_candidate::<LazyHeap>(&mut c, &keys, &same, &rnd);
    c.final_summary();
}
