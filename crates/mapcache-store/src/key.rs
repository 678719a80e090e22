//! [`StoredKey`]: a key as a shard table keeps it, inline when short.
//!
//! Most keys are short (`user:1000`, `session:ab12cd34`): keeping up to
//! [`StoredKey::INLINE`] bytes inside the slot saves a heap block per key and, on every
//! lookup, the cache miss of following a pointer to compare the key.

use bytes::Bytes;

/// A key's bytes: inline up to [`StoredKey::INLINE`] bytes, else one exact-size heap block.
/// 24 bytes either way (the size of a `Vec`, and 8 less than a `Bytes`).
#[derive(Clone)]
pub(crate) enum StoredKey {
    Inline {
        len: u8,
        bytes: [u8; StoredKey::INLINE],
    },
    Heap(Box<[u8]>),
}

impl StoredKey {
    /// The longest key kept inline.
    pub(crate) const INLINE: usize = 22;

    pub(crate) fn new(key: &[u8]) -> Self {
        if key.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..key.len()].copy_from_slice(key);
            StoredKey::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            StoredKey::Heap(key.into())
        }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            StoredKey::Inline { len, bytes } => &bytes[..usize::from(*len)],
            StoredKey::Heap(b) => b,
        }
    }

    /// Heap bytes beyond the slot (a key longer than [`Self::INLINE`]).
    pub(crate) fn heap_size(&self) -> usize {
        match self {
            StoredKey::Inline { .. } => 0,
            StoredKey::Heap(b) => b.len(),
        }
    }

    /// A copy handed out of the store (KEYS, SCAN, RANDOMKEY).
    pub(crate) fn to_bytes(&self) -> Bytes {
        Bytes::copy_from_slice(self.as_slice())
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
        for len in [0, 1, 21, 22, 23, 100] {
            let key: Vec<u8> = (0..len).map(|i| i as u8 ^ 0xA5).collect();
            let stored = StoredKey::new(&key);
            assert_eq!(stored.as_slice(), &key[..], "len {len}");
            assert_eq!(
                matches!(stored, StoredKey::Inline { .. }),
                len <= StoredKey::INLINE,
                "len {len}"
            );
            assert!(stored == key[..]);
            assert_eq!(stored.to_bytes(), key);
        }
    }
}
