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

use super::shard::{table_hash, BoxedSlot, Shard};
use crate::evict::{access, Policy};

/// A pooled candidate: the key's hash and its score (lower goes first).
pub(super) type Candidate = (u64, u64);

/// Slots a refill reads per unit of `maxmemory-samples`.
const CHUNK_PER_SAMPLE: usize = 16;
/// A refill keeps one candidate in this many.
const KEEP_ONE_IN: usize = 8;

/// A slot's score under `policy` at `now`: lower is evicted first.
fn score(policy: Policy, slot: &super::shard::Slot, now: UnixMillis) -> u64 {
    let stamp = slot.key.access().get();
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => u64::MAX - access::lru_age(stamp, now),
        Policy::AllKeysLfu | Policy::VolatileLfu => u64::from(access::decayed(stamp, now)),
        Policy::VolatileTtl => slot
            .entry
            .deadline()
            .map_or(u64::MAX, |d| (d as u64) ^ (1 << 63)),
        Policy::AllKeysRandom | Policy::VolatileRandom | Policy::NoEviction => 0,
    }
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
                .map(|(d, &h)| (h, (d as u64) ^ (1 << 63)))
                .collect()
        } else {
            if self.evict_at >= self.table.len() {
                self.evict_at = 0;
            }
            let hasher = &self.hasher;
            let volatile = policy.volatile();
            let mut found: Vec<Candidate> = self
                .table
                .iter()
                .skip(self.evict_at)
                .take(chunk)
                .filter(|s| !volatile || s.entry.deadline().is_some())
                .map(|s| {
                    (
                        super::shard::key_hash(hasher, &s.key),
                        score(policy, s, now),
                    )
                })
                .collect();
            self.evict_at += chunk;
            if found.len() > KEEP_ONE_IN {
                // The lowest-scored eighth; under the random policies (all scores
                // equal) simply the first eighth, as random as any.
                let keep = found.len() / KEEP_ONE_IN;
                found.select_nth_unstable_by_key(keep - 1, |c| c.1);
                found.truncate(keep);
            }
            found
        };
        // Lowest score last: `pop` takes it. The pool keeps an exact allocation: a
        // chunk-sized one kept in every shard would add up to a visible share of a
        // small limit (256 shards × 1.3 KB per database).
        found.sort_unstable_by_key(|c| std::cmp::Reverse(c.1));
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
    ) -> Option<(u64, BoxedSlot)> {
        if !self.has_candidates(policy) {
            self.evict_pool.clear();
            return None;
        }
        let mut refilled = false;
        loop {
            let Some((hash, pooled)) = self.evict_pool.pop() else {
                if refilled {
                    return None;
                }
                self.refill(policy, now, samples);
                refilled = true;
                continue;
            };
            let hasher = &self.hasher;
            let Some(slot) = self.table.find(table_hash(hash), |s| {
                super::shard::key_hash(hasher, &s.key) == hash
            }) else {
                continue; // gone since it was pooled
            };
            if (policy.volatile() && slot.entry.deadline().is_none())
                || score(policy, slot, now) > pooled
            {
                continue; // read (or its TTL changed) since it was pooled
            }
            let key = slot.key.to_bytes();
            return self.remove(hash, &key).map(|s| (hash, s));
        }
    }
}

/// About how many bytes removing `slot` gives back (the figure the estimate between
/// two readings of the allocator subtracts).
pub(super) fn freed_bytes(slot: &super::shard::Slot) -> u64 {
    let key = if slot.key.len() > crate::key::StoredKey::INLINE {
        slot.key.len()
    } else {
        0
    };
    // The slot's 80 bytes, its table bucket, the key's heap block and the value's.
    (80 + 9 + key + slot.entry.value.heap_size()) as u64
}
