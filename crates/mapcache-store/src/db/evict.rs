//! Choosing and removing the keys eviction frees, one shard at a time.
//!
//! Redis samples a few random keys per eviction and keeps the best candidates in a
//! pool of 16. A shard table here cannot be read at a random position (hashbrown has
//! no such API), so each shard keeps its own pool instead: a refill reads the next
//! chunk of the table in its bucket order (keys in hash order: a random sample that
//! walks the whole table over successive refills) and keeps its lowest-scored eighth,
//! lowest last. An eviction pops the lowest, checks that the key is still there with a
//! score no better than when it was pooled (it was not read since), and removes it.
//! A chunk is `16 × maxmemory-samples` slots (80 by default), so an eviction reads
//! about 8 slots and holds the shard's lock for one chunk at most.

use mapcache_expiry::UnixMillis;

use super::shard::{table_hash, Shard, SlotBox};
use crate::evict::sketch::Sketch;
use crate::evict::{access, Policy};

/// A pooled candidate: the key's hash, its score (lower goes first) and its access
/// stamp when it was pooled (a different stamp at its turn: read since, skipped).
#[derive(Debug, Clone, Copy)]
pub(super) struct Candidate {
    hash: u64,
    score: u64,
    stamp: u32,
}

/// Slots a refill reads per unit of `maxmemory-samples`.
const CHUNK_PER_SAMPLE: usize = 16;
/// A refill keeps one candidate in this many.
const KEEP_ONE_IN: usize = 8;

/// A key's score under `policy` at `now`, from its access stamp, its deadline and its
/// estimated request frequency ([`Sketch::estimate`], 0 without a sketch): lower is
/// evicted first. Under the LFU policies the sketch's estimate comes first and Redis's
/// counter breaks ties: the sketch remembers keys evicted and asked for again, and
/// tells apart keys whose logarithmic counters sit at the same step.
fn score_of(
    policy: Policy,
    stamp: u32,
    deadline: Option<UnixMillis>,
    estimate: u32,
    now: UnixMillis,
) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => u64::MAX - access::lru_age(stamp, now),
        Policy::AllKeysLfu | Policy::VolatileLfu => {
            u64::from(estimate) << 8 | u64::from(access::decayed(stamp, now))
        }
        Policy::VolatileTtl => deadline.map_or(u64::MAX, |d| (d as u64) ^ (1 << 63)),
        Policy::AllKeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
    }
}

/// A slot's score ([`score_of`]); `hash` is its key's.
fn score(
    policy: Policy,
    slot: &SlotBox,
    hash: u64,
    sketch: Option<&Sketch>,
    now: UnixMillis,
) -> u64 {
    let estimate = match (policy.is_lfu(), sketch) {
        (true, Some(s)) => s.estimate(hash),
        _ => 0,
    };
    score_of(policy, slot.access().get(), slot.deadline(), estimate, now)
}

impl Shard {
    /// Could this shard give up a key under `policy`?
    pub(super) fn has_candidates(&self, policy: Policy) -> bool {
        if policy.volatile() {
            !self.expiries.is_empty()
        } else {
            !self.table.is_empty()
        }
    }

    /// Fills the pool from the next chunk of the table (volatile-ttl: from the
    /// earliest deadlines of the index).
    fn refill(&mut self, policy: Policy, now: UnixMillis, samples: usize) {
        let chunk = CHUNK_PER_SAMPLE * samples.max(1);
        let mut found: Vec<Candidate> = if policy == Policy::VolatileTtl {
            let keep = (chunk / KEEP_ONE_IN).max(1);
            self.expiries
                .iter()
                .take(keep)
                .map(|(d, &hash)| Candidate {
                    hash,
                    score: (d as u64) ^ (1 << 63),
                    stamp: 0,
                })
                .collect()
        } else {
            // A whole chunk, wrapping past the table's end (or the whole table when it
            // is smaller): a short chunk at the end would keep its few keys whatever
            // their scores, a key read a moment ago among them.
            let len = self.table.len();
            let start = self.evict_at % len.max(1);
            let take = chunk.min(len);
            self.evict_at = (start + take) % len.max(1);
            let hasher = &self.hasher;
            let sketch = self.sketch.as_deref();
            let volatile = policy.volatile();
            let mut found: Vec<Candidate> = self
                .table
                .iter()
                .skip(start)
                .chain(self.table.iter())
                .take(take)
                .filter(|s| !volatile || s.deadline().is_some())
                .map(|s| {
                    let hash = super::shard::key_hash(hasher, s.key());
                    Candidate {
                        hash,
                        score: score(policy, s, hash, sketch, now),
                        stamp: s.access().get(),
                    }
                })
                .collect();
            if !found.is_empty() {
                // The lowest-scored eighth (at least one); under the random policies
                // (all scores equal) simply the first eighth, as random as any.
                let keep = (found.len() / KEEP_ONE_IN).max(1);
                found.select_nth_unstable_by_key(keep - 1, |c| c.score);
                found.truncate(keep);
            }
            found
        };
        // Lowest score last: `pop` takes it. The pool keeps an exact allocation: a
        // chunk-sized one kept in every shard would add up to a visible share of a
        // small limit (256 shards × 1.3 KB per database).
        found.sort_unstable_by_key(|c| std::cmp::Reverse(c.score));
        found.shrink_to_fit();
        self.evict_pool = found;
    }

    /// Removes the best candidate for eviction (refilling the pool once when it runs
    /// dry) and answers its slot, with the key's hash; `None` when this shard has none.
    pub(super) fn evict_one(
        &mut self,
        policy: Policy,
        now: UnixMillis,
        samples: usize,
    ) -> Option<(u64, SlotBox)> {
        if !self.has_candidates(policy) {
            self.evict_pool.clear();
            return None;
        }
        let mut refilled = false;
        loop {
            let Some(pooled) = self.evict_pool.pop() else {
                if refilled {
                    return None;
                }
                self.refill(policy, now, samples);
                refilled = true;
                continue;
            };
            let (hash, hasher) = (pooled.hash, &self.hasher);
            let sketch = self.sketch.as_deref();
            let Ok(found) = self.table.find_entry(table_hash(hash), |s| {
                super::shard::key_hash(hasher, s.key()) == hash
            }) else {
                continue; // gone since it was pooled
            };
            let slot = found.get();
            // Read since it was pooled? Under LRU its stamp says so: its score moves
            // by itself (a key on probation is aged by the current eviction age, which
            // every eviction changes), and comparing scores took most of a scan's
            // candidates for read ones, a refill every few evictions. Under the other
            // policies a read raises the score (LFU: the sketch's estimate, which a
            // read need not change the stamp's counter for).
            let read = match policy {
                Policy::AllKeysLru | Policy::VolatileLru => slot.access().get() != pooled.stamp,
                _ => score(policy, slot, hash, sketch, now) > pooled.score,
            };
            if read || (policy.volatile() && slot.deadline().is_none()) {
                continue; // read (or its TTL changed) since it was pooled
            }
            // Removed through the entry found: no second lookup, no copy of the key.
            let slot = found.remove().0;
            self.unindex(hash, &slot);
            return Some((hash, slot));
        }
    }
}

impl Shard {
    /// A key of hash `hash` and access stamp `stamp` was just inserted: keeps the
    /// sketch in step with the table (built while [`access::sketching`], for twice the
    /// keys the shard holds, rebuilt when they outgrow it, dropped when off), and
    /// applies TinyLFU's admission: while this shard is evicting (its pool holds
    /// candidates), a new key asked for less often than the next victim (or as often,
    /// when that is at least once) becomes the next victim itself. A scan's keys, each asked for once, then go before the keys
    /// that are asked for again; a new key read before its turn comes is spared (its
    /// score rises above the pooled one).
    pub(super) fn admit(&mut self, hash: u64, stamp: u32) {
        if !access::sketching() {
            if self.sketch.is_some() {
                self.sketch = None;
            }
            return;
        }
        let len = self.table.len();
        let Some(sketch) = self.sketch.as_deref().filter(|s| len <= s.capacity()) else {
            // Built for twice the keys held; the keys held keep their estimates.
            let bigger = Sketch::new(2 * len);
            if let Some(old) = &self.sketch {
                for s in self.table.iter() {
                    let h = super::shard::key_hash(&self.hasher, s.key());
                    bigger.raise(h, old.estimate(h));
                }
            }
            self.sketch = Some(Box::new(bigger));
            return;
        };
        let Some(&Candidate { hash: victim, .. }) = self.evict_pool.last() else {
            return;
        };
        let estimate = sketch.estimate(hash);
        let victim = sketch.estimate(victim);
        // Ties go to the victim, as in Caffeine, unless neither was ever asked for (a
        // fill by writes alone keeps its newest keys).
        if estimate < victim || (estimate == victim && victim > 0) {
            let policy = if access::lfu() {
                Policy::AllKeysLfu
            } else {
                Policy::AllKeysLru
            };
            let pooled = score_of(policy, stamp, None, estimate, access::now());
            self.evict_pool.push(Candidate {
                hash,
                score: pooled,
                stamp,
            });
        }
    }
}

/// About how many bytes removing `slot` gives back (the figure the estimate between
/// two readings of the allocator subtracts): the slot's own bytes and its table bucket.
pub(super) fn freed_bytes(slot: &SlotBox) -> u64 {
    (slot.heap_size() + 9) as u64
}

#[cfg(test)]
mod tests {
    use hashbrown::DefaultHashBuilder;

    use super::*;
    use crate::db::entry::Entry;
    use crate::value::Value;

    /// Under LRU a key on probation is aged by the current eviction age, which every
    /// eviction moves: its score is no guide to whether it was read since it was
    /// pooled (that read the pool's keys as read, and refilled every few evictions).
    #[test]
    fn lru_candidates_stay_pooled_while_the_eviction_age_moves() {
        let _serial = crate::evict::store_tests::one_at_a_time();
        let mut shard = Shard::new(DefaultHashBuilder::default());
        let now = 1_000_000_000;
        for i in 0..400u32 {
            let key = format!("key:{i:08}").into_bytes();
            let slot = SlotBox::new(&key, Entry::new(Value::string(b"v"), None));
            // Written at various times, never read: on probation.
            slot.access().set(access::PROBATION | (i % 50));
            shard.insert_new(shard.key_hash(&key), slot);
        }
        access::note_evicted_age(1_000_000);
        let samples = 5;
        assert!(shard.evict_one(Policy::AllKeysLru, now, samples).is_some());
        let after_refill = shard.evict_at;
        let pooled = shard.evict_pool.len();
        assert!(
            pooled >= 5,
            "a refill pools a chunk's lowest eighth: {pooled}"
        );
        // The eviction age falls (young keys evicted): probation ages shrink.
        for _ in 0..pooled {
            for _ in 0..64 {
                access::note_evicted_age(0);
            }
            assert!(shard.evict_one(Policy::AllKeysLru, now, samples).is_some());
        }
        assert_eq!(
            shard.evict_at, after_refill,
            "the pooled keys, not read since, went without another refill"
        );
        let read = shard.evict_pool.len();
        assert_eq!(read, 0, "every pooled key went: {read} left");
    }
}
