//! A frequency sketch, TinyLFU's: about how often each key was asked for lately,
//! counting misses too, so that a key evicted and asked for again comes back with its
//! history (a key's own 24-bit stamp leaves with it).
//!
//! A count-min sketch of 4-bit counters packed 16 to a word, as Caffeine's
//! `FrequencySketch`: a key's four counters (one per row) lie in one 64-byte block of
//! eight words, so counting a key touches one cache line. A key's estimate is the least
//! of its four counters; counting raises only the counters at that least value
//! (conservative update), and a counter stops at 15. After `10 ×` the capacity's worth
//! of counts every counter is halved, so that the sketch forgets what was hot long ago.
//!
//! Each shard keeps its own (eviction chooses within a shard), sized to its keys and
//! built only while eviction uses it ([`super::access::sketching`]). Readers count
//! under the shard's shared lock, hence the atomics: a count lost to a race is harmless
//! to an estimate, and a counter never overflows into its neighbour (a failed
//! compare-exchange skips the count).

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Words per block: a key's four counters are in one block (64 bytes, a cache line).
const BLOCK_WORDS: usize = 8;
/// Counts between two halvings, per unit of capacity (Caffeine: 10).
const SAMPLE_PER_KEY: u32 = 10;
/// The least capacity a sketch is built for.
const MIN_CAPACITY: usize = 64;

/// A count-min sketch of recent request frequencies (see the module's comment).
#[derive(Debug)]
pub struct Sketch {
    words: Box<[AtomicU64]>,
    /// Blocks less one (a power of two less one).
    block_mask: usize,
    /// The keys it is sized for.
    capacity: usize,
    /// Counts since the last halving, and the count that triggers the next.
    counted: AtomicU32,
    period: u32,
}

impl Sketch {
    /// A sketch for about `capacity` keys: half a word (eight counters) per key,
    /// rounded up to a power of two of blocks.
    pub fn new(capacity: usize) -> Sketch {
        let capacity = capacity.max(MIN_CAPACITY);
        let blocks = (capacity / 2 / BLOCK_WORDS).next_power_of_two().max(1);
        Sketch {
            words: (0..blocks * BLOCK_WORDS)
                .map(|_| AtomicU64::new(0))
                .collect(),
            block_mask: blocks - 1,
            capacity,
            counted: AtomicU32::new(0),
            period: u32::try_from(capacity)
                .unwrap_or(u32::MAX / SAMPLE_PER_KEY)
                .saturating_mul(SAMPLE_PER_KEY),
        }
    }

    /// The keys it was sized for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes it allocates.
    pub fn heap_size(&self) -> usize {
        self.words.len() * 8
    }

    /// The four (word, shift) places of a key's counters.
    #[inline]
    fn places(&self, hash: u64) -> [(usize, u32); 4] {
        // Remixed: the shard's keys share the hash's top bits, and the table uses the
        // rest; the sketch wants bits of its own.
        let h = (hash ^ (hash >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        let h = h ^ (h >> 32);
        let block = ((h >> 32) as usize & self.block_mask) * BLOCK_WORDS;
        std::array::from_fn(|row| {
            let byte = (h >> (8 * row)) as usize & 0xFF;
            let word = block + 2 * row + (byte & 1);
            let nibble = (byte >> 1) & 15;
            (word, 4 * nibble as u32)
        })
    }

    #[inline]
    fn counter(&self, (word, shift): (usize, u32)) -> u64 {
        (self.words[word].load(Ordering::Relaxed) >> shift) & 15
    }

    /// About how often the key of 64-bit hash `hash` was counted lately (0 to 15).
    #[inline]
    pub fn estimate(&self, hash: u64) -> u32 {
        self.places(hash)
            .into_iter()
            .map(|p| self.counter(p))
            .min()
            .unwrap_or(0) as u32
    }

    /// Counts one request for the key of hash `hash`.
    #[inline]
    pub fn count(&self, hash: u64) {
        let places = self.places(hash);
        let values = places.map(|p| self.counter(p));
        let least = values.into_iter().min().unwrap_or(0);
        if least < 15 {
            for ((word, shift), v) in places.into_iter().zip(values) {
                if v == least {
                    let w = &self.words[word];
                    let old = w.load(Ordering::Relaxed);
                    if (old >> shift) & 15 == least {
                        let _ = w.compare_exchange(
                            old,
                            old + (1 << shift),
                            Ordering::Relaxed,
                            Ordering::Relaxed,
                        );
                    }
                }
            }
        }
        if self.counted.fetch_add(1, Ordering::Relaxed) + 1 >= self.period {
            self.halve();
        }
    }

    /// Raises the key's counters to at least `estimate` (a sketch rebuilt larger
    /// carries its keys' estimates over).
    pub fn raise(&self, hash: u64, estimate: u32) {
        let estimate = u64::from(estimate.min(15));
        for (word, shift) in self.places(hash) {
            let w = &self.words[word];
            let old = w.load(Ordering::Relaxed);
            if (old >> shift) & 15 < estimate {
                w.store(old & !(15 << shift) | estimate << shift, Ordering::Relaxed);
            }
        }
    }

    /// Halves every counter (the sketch's aging).
    fn halve(&self) {
        self.counted.store(0, Ordering::Relaxed);
        for w in self.words.iter() {
            let v = w.load(Ordering::Relaxed);
            w.store((v >> 1) & 0x7777_7777_7777_7777, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mix(i: u64) -> u64 {
        let mut s = i;
        crate::db::splitmix(&mut s)
    }

    #[test]
    fn counts_up_to_fifteen_and_tells_hot_keys_from_cold_ones() {
        let s = Sketch::new(1000);
        assert_eq!(s.estimate(mix(1)), 0);
        for _ in 0..3 {
            s.count(mix(1));
        }
        assert_eq!(s.estimate(mix(1)), 3);
        for _ in 0..100 {
            s.count(mix(2));
        }
        assert_eq!(s.estimate(mix(2)), 15, "saturates, never overflows");
        // A thousand keys counted once each: few estimates are inflated by collisions.
        for i in 100..1100 {
            s.count(mix(i));
        }
        let over = (100..1100).filter(|&i| s.estimate(mix(i)) > 2).count();
        assert!(over < 50, "{over} of 1000 estimated above 2");
        assert!(s.estimate(mix(2)) >= 14, "the hot key stays hot");
    }

    #[test]
    fn every_counter_is_halved_after_ten_counts_per_key_of_capacity() {
        let s = Sketch::new(64);
        assert_eq!(s.period, 640);
        for _ in 0..12 {
            s.count(mix(7));
        }
        // Another key fills the period up to one count short of it.
        for _ in 0..(640 - 12 - 1) {
            s.count(mix(8));
        }
        assert_eq!((s.estimate(mix(7)), s.estimate(mix(8))), (12, 15));
        assert_eq!(s.counted.load(Ordering::Relaxed), 639);
        s.count(mix(9));
        assert_eq!(s.counted.load(Ordering::Relaxed), 0);
        assert_eq!((s.estimate(mix(7)), s.estimate(mix(8))), (6, 7));
    }
}
