//! [`StoredKey`]: a key as a shard table keeps it, inline when short.
//!
//! Most keys are short (`user:1000`, `session:ab12cd34`): keeping up to
//! [`StoredKey::INLINE`] bytes inside the slot saves a heap block per key and, on every
//! lookup, the cache miss of following a pointer to compare the key.

use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;

/// A key's bytes: inline up to [`StoredKey::INLINE`] bytes, else one exact-size heap block;
/// with the key's access stamp for eviction ([`Access`], 3 bytes). 24 bytes either way
/// (the size of a `Vec`, and 8 less than a `Bytes`): the stamp lives in bytes the
/// heap variant leaves unused and costs the inline variant 3 of its bytes (22 → 19).
pub(crate) enum StoredKey {
    Inline {
        access: Access,
        len: u8,
        bytes: [u8; StoredKey::INLINE],
    },
    Heap {
        access: Access,
        bytes: Box<[u8]>,
    },
}

impl Clone for StoredKey {
    fn clone(&self) -> Self {
        let k = StoredKey::new(self.as_slice());
        k.access().set(self.access().get());
        k
    }
}

impl StoredKey {
    /// The longest key kept inline.
    pub(crate) const INLINE: usize = 19;

    /// A key with a fresh access stamp ([`crate::evict::access::fresh`]).
    pub(crate) fn new(key: &[u8]) -> Self {
        let access = Access::new(crate::evict::access::fresh());
        if key.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            StoredKey::Inline {
                access,
                len: key.len() as u8,
                bytes,
            }
        } else {
            StoredKey::Heap {
                access,
                bytes: key.into(),
            }
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            StoredKey::Inline { len, bytes, .. } => &bytes[..usize::from(*len)],
            StoredKey::Heap { bytes, .. } => bytes,
        }
    }

    /// The key's access stamp (LRU clock or LFU counter, [`crate::evict::access`]).
    #[inline]
    pub(crate) fn access(&self) -> &Access {
        match self {
            StoredKey::Inline { access, .. } | StoredKey::Heap { access, .. } => access,
        }
    }
}

/// A 24-bit access stamp that readers update under a shared lock: three relaxed
/// atomic bytes (a torn update between two readers only blurs one key's age).
pub(crate) struct Access([AtomicU8; 3]);

impl Access {
    pub(crate) fn new(v: u32) -> Self {
        let a = Access(Default::default());
        a.set(v);
        a
    }

    #[inline]
    pub(crate) fn get(&self) -> u32 {
        let b = |i: usize| u32::from(self.0[i].load(Ordering::Relaxed));
        b(0) | b(1) << 8 | b(2) << 16
    }

    #[inline]
    pub(crate) fn set(&self, v: u32) {
        for (i, byte) in self.0.iter().enumerate() {
            byte.store((v >> (8 * i)) as u8, Ordering::Relaxed);
        }
    }
}

impl std::ops::Deref for StoredKey {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl PartialEq<[u8]> for StoredKey {
    #[inline]
    fn eq(&self, other: &[u8]) -> bool {
        self.as_slice() == other
    }
}

impl PartialEq<&[u8]> for StoredKey {
    #[inline]
    fn eq(&self, other: &&[u8]) -> bool {
        self.as_slice() == *other
    }
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_slice()))
    }
}

#[cfg(test)]
mod tests {
    use super::StoredKey;

    #[test]
    fn a_stored_key_is_24_bytes() {
        assert_eq!(std::mem::size_of::<StoredKey>(), 24);
    }

    #[test]
    fn keys_round_trip_inline_and_on_the_heap() {
        for len in [0, 1, 18, 19, 20, 22, 23, 100] {
            let key: Vec<u8> = (0..len).map(|i| i as u8 ^ 0xA5).collect();
            let stored = StoredKey::new(&key);
            assert_eq!(stored.as_slice(), &key[..], "len {len}");
            assert_eq!(
                matches!(stored, StoredKey::Inline { .. }),
                len <= StoredKey::INLINE,
                "len {len}"
            );
            assert!(stored == key[..]);
        }
    }
}
