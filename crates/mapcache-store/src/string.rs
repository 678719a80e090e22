//! [`Str`]: a string value, inline when short.
//!
//! Most cached strings are short (a session id, a counter, a flag, a small JSON
//! fragment). A [`Value`](crate::Value) is 40 bytes whatever it holds (a list's
//! enum's largest member sets the size), so a string of up to [`Str::INLINE`] bytes fits inside
//! it: no heap block of its own, no pointer to follow on GET. Longer strings are a
//! [`Bytes`], shared when cloned.
//!
//! Keys have their own, smaller counterpart (`key::StoredKey`, 24 bytes, 19 inline): a
//! key sits in the slot beside the value, and keys are rarely handed out whole.

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use bytes::{Bytes, BytesMut};

/// A binary-safe string: inline up to [`Str::INLINE`] bytes, else a [`Bytes`].
pub struct Str(Repr);

enum Repr {
    Inline {
        len: u8,
        bytes: [u8; Str::INLINE],
    },
    Heap(Bytes),
    /// A view of bytes stored elsewhere (a compact slot's, `db::slot`): only ever
    /// inside an entry the store lends a reader under the shard's lock, and copied by
    /// everything that could make it outlive that loan (`clone`, `to_bytes`,
    /// `into_bytes_mut`).
    Borrowed {
        ptr: *const u8,
        len: usize,
    },
}

// SAFETY: `Inline` and `Heap` are plain owned data. A `Borrowed` string points at
// bytes that nothing writes while it exists (a shard's slot, read under the shard's
// lock for as long as the loan lasts), so sharing or sending it is sharing `&[u8]`.
#[allow(unsafe_code)]
unsafe impl Send for Str {}
#[allow(unsafe_code)]
unsafe impl Sync for Str {}

/// A copy; a borrowed string's copy owns its bytes.
impl Clone for Str {
    fn clone(&self) -> Str {
        match &self.0 {
            Repr::Inline { len, bytes } => Str(Repr::Inline {
                len: *len,
                bytes: *bytes,
            }),
            Repr::Heap(b) => Str(Repr::Heap(b.clone())),
            Repr::Borrowed { .. } => Str::copy_from_slice(self.as_slice()),
        }
    }
}

// A `Value` is 40 bytes with this type inside it (`Value::Str`); the inline length is
// chosen to keep it so (checked in value.rs).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Str>() == 40);

impl Str {
    /// The longest string kept inline.
    pub const INLINE: usize = 38;

    /// A string holding a copy of `data` (never a view into the caller's buffer).
    pub fn copy_from_slice(data: &[u8]) -> Str {
        if data.len() <= Self::INLINE {
            let mut bytes = [0; Self::INLINE];
            bytes[..data.len()].copy_from_slice(data);
            Str(Repr::Inline {
                len: data.len() as u8,
                bytes,
            })
        } else {
            Str(Repr::Heap(Bytes::copy_from_slice(data)))
        }
    }

    /// A view of `data` without copying it.
    ///
    /// # Safety
    /// `data` must stay valid and unchanged for as long as the string (or a reference
    /// to it) exists; the string must not be stored (its clones are copies).
    #[allow(unsafe_code)]
    pub(crate) unsafe fn borrowed(data: &[u8]) -> Str {
        Str(Repr::Borrowed {
            ptr: data.as_ptr(),
            len: data.len(),
        })
    }

    /// Is this a view of bytes stored elsewhere ([`Str::borrowed`])?
    pub(crate) fn is_borrowed(&self) -> bool {
        matches!(self.0, Repr::Borrowed { .. })
    }

    /// The empty string.
    pub const fn new() -> Str {
        Str(Repr::Inline {
            len: 0,
            bytes: [0; Self::INLINE],
        })
    }

    #[inline]
    #[allow(unsafe_code)]
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Repr::Heap(b) => b,
            // SAFETY: the bytes outlive the string (`Str::borrowed`'s contract).
            Repr::Borrowed { ptr, len } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }

    /// The bytes as a [`Bytes`]: shared when the string is on the heap, a copy of an
    /// inline one.
    pub fn to_bytes(&self) -> Bytes {
        match &self.0 {
            Repr::Inline { .. } | Repr::Borrowed { .. } => Bytes::copy_from_slice(self.as_slice()),
            Repr::Heap(b) => b.clone(),
        }
    }

    /// The bytes as a growable buffer, reusing a heap string's allocation when nothing
    /// else holds it (so repeated APPENDs grow amortised, as Redis's sds does).
    pub fn into_bytes_mut(self) -> BytesMut {
        match self.0 {
            Repr::Inline { len, bytes } => BytesMut::from(&bytes[..usize::from(len)]),
            Repr::Heap(b) => b
                .try_into_mut()
                .unwrap_or_else(|shared| BytesMut::from(&shared[..])),
            Repr::Borrowed { .. } => BytesMut::from(self.as_slice()),
        }
    }

    /// Heap bytes held (0 inline).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
            Repr::Borrowed { len, .. } => *len,
        }
    }
}

impl Default for Str {
    fn default() -> Self {
        Str::new()
    }
}

/// Takes `b` as it is when long (the caller makes sure it does not pin a larger
/// buffer, as with any stored `Bytes`); copies it inline when short.
impl From<Bytes> for Str {
    fn from(b: Bytes) -> Str {
        if b.len() <= Self::INLINE {
            Str::copy_from_slice(&b)
        } else {
            Str(Repr::Heap(b))
        }
    }
}

impl From<Vec<u8>> for Str {
    fn from(v: Vec<u8>) -> Str {
        if v.len() <= Self::INLINE {
            Str::copy_from_slice(&v)
        } else {
            Str(Repr::Heap(Bytes::from(v)))
        }
    }
}

impl From<String> for Str {
    fn from(s: String) -> Str {
        Str::from(s.into_bytes())
    }
}

impl From<&[u8]> for Str {
    fn from(data: &[u8]) -> Str {
        Str::copy_from_slice(data)
    }
}

impl From<&str> for Str {
    fn from(s: &str) -> Str {
        Str::copy_from_slice(s.as_bytes())
    }
}

impl Deref for Str {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for Str {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

/// Equal when the bytes are, inline or not.
impl PartialEq for Str {
    fn eq(&self, other: &Str) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Str {}

impl std::hash::Hash for Str {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

/// Shown as a [`Bytes`] is: `b"..."` with escapes.
impl fmt::Debug for Str {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&Bytes::copy_from_slice(self.as_slice()), f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_strings_are_inline_and_long_ones_on_the_heap() {
        for len in [0, 1, Str::INLINE - 1, Str::INLINE, Str::INLINE + 1, 1000] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for s in [
                Str::copy_from_slice(&data),
                Str::from(data.clone()),
                Str::from(Bytes::from(data.clone())),
            ] {
                assert_eq!(&s[..], &data[..], "len {len}");
                assert_eq!(s.to_bytes(), data, "len {len}");
                let inline = len <= Str::INLINE;
                assert_eq!(s.heap_size(), if inline { 0 } else { len }, "len {len}");
            }
        }
    }

    #[test]
    fn equality_is_by_bytes() {
        let long = vec![b'x'; Str::INLINE + 5];
        assert_eq!(Str::from(long.clone()), Str::copy_from_slice(&long));
        assert_eq!(Str::from("abc"), Str::from(Bytes::from_static(b"abc")));
        assert_ne!(Str::from("abc"), Str::from("abd"));
        assert_ne!(Str::from("ab"), Str::from("ab\0"), "trailing NUL differs");
        assert_eq!(Str::new(), Str::from(""));
    }

    #[test]
    fn a_long_bytes_is_kept_not_copied() {
        let b = Bytes::from(vec![7u8; 100]);
        let s = Str::from(b.clone());
        assert_eq!(s.to_bytes().as_ptr(), b.as_ptr());
    }
}
