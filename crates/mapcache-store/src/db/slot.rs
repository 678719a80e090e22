//! What a shard table holds per key: a [`SlotBox`], one tagged pointer to either a
//! compact string block or a full [`Slot`].
//!
//! Most cached values are strings. A full slot is 80 bytes (the key inline up to 19
//! bytes, a 40-byte [`Value`], the deadline, nested deadlines) and a string longer
//! than [`crate::Str::INLINE`] adds a heap block of its own: a 12-byte key with a
//! 100-byte value took 80 + 112 bytes of jemalloc's size classes (Redis: about 180 with
//! its table). A compact block is one allocation, a 16-byte header and then the key's
//! and the value's bytes: 128 bytes for the same key, and one cache line fewer to
//! read on a GET.
//!
//! A root is stored compact when its value is a string, it has no nested deadlines,
//! and its key is at most 255 bytes ([`SlotBox::new`]). Readers see its entry through
//! an [`EntryView`], an [`Entry`] whose string borrows the block's bytes
//! ([`crate::Str`]'s `Borrowed` form) for as long as the shard's lock is held. A
//! writer that asks for `&mut` access ([`SlotBox::full_mut`]) turns the block into a
//! full slot for good; a SET replaces the whole `SlotBox` and so stores compact again.
//! The deadline is changed in place either way ([`SlotBox::set_deadline`]).

#![allow(unsafe_code)] // the tagged pointer and the compact block's layout

use std::alloc::{self, Layout};
use std::marker::PhantomData;
use std::ops::Deref;
use std::ptr::NonNull;

use mapcache_expiry::UnixMillis;

use super::entry::{Deadline, Entry};
use crate::key::{Access, StoredKey};
use crate::value::{Str, Value};

/// One key's full slot: 80 bytes, a jemalloc size class of its own. The key's hash is
/// not kept (it would make the slot 88 bytes, rounded up to 96): a table that grows or
/// shrinks, SCAN and the sweeper recompute it from the key, which is inline for keys up
/// to 19 bytes and takes a few nanoseconds to hash.
///
/// A shard table holds slots behind a pointer ([`SlotBox`]): a table runs between 44%
/// and 87% full, and an empty bucket then costs 8 bytes instead of a whole slot.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) key: StoredKey,
    pub(super) entry: Entry,
}

// The size class the layout above is chosen for (see `Slot`).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Slot>() == 80);

/// A compact block's header; the key's bytes and then the value's follow it.
#[repr(C)]
struct Header {
    deadline: Deadline,
    access: Access,
    key_len: u8,
    value_len: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();
const _: () = assert!(HEADER == 16 && std::mem::align_of::<Header>() == 8);

/// The pointer's low bit: set for a compact block (both kinds are 8-aligned).
const COMPACT: usize = 1;

/// A shard table's element: a tagged pointer to a compact block or to a boxed
/// [`Slot`] (see the module's comment). Owns what it points at.
pub(super) struct SlotBox(NonNull<u8>);

// SAFETY: a `SlotBox` owns its block as a `Box` owns its value; the block's only
// shared-mutable part is the access stamp, made of atomics.
unsafe impl Send for SlotBox {}
unsafe impl Sync for SlotBox {}

impl SlotBox {
    /// `key`'s slot holding `entry`: compact when it can be (a string value, no
    /// nested deadlines, a key of at most 255 bytes), else full. The access stamp is a
    /// fresh one ([`crate::evict::access::fresh`]).
    ///
    /// A string that borrows its bytes ([`KeyMut::insert_str`](super::KeyMut::insert_str))
    /// is copied into the block, or made to own them before a full slot keeps it.
    pub(super) fn new(key: &[u8], mut entry: Entry) -> SlotBox {
        if let (Value::Str(s), true) = (&entry.value, Self::fits_compact(key, &entry)) {
            if let Some(layout) = block_layout(key.len(), s.len()) {
                return Self::compact(layout, key, s, entry.deadline);
            }
        }
        own_bytes(&mut entry);
        Self::full(Box::new(Slot {
            key: StoredKey::new(key),
            entry,
        }))
    }

    /// Would [`SlotBox::new`] store `key` and `entry` compact?
    pub(super) fn fits_compact(key: &[u8], entry: &Entry) -> bool {
        matches!(&entry.value, Value::Str(s) if u32::try_from(s.len()).is_ok())
            && entry.nested.is_none()
            && key.len() <= usize::from(u8::MAX)
    }

    fn full(slot: Box<Slot>) -> SlotBox {
        SlotBox(NonNull::from(Box::leak(slot)).cast())
    }

    /// A compact block for `key` and `value` (`layout`: [`block_layout`]'s for them).
    fn compact(layout: Layout, key: &[u8], value: &[u8], deadline: Deadline) -> SlotBox {
        // SAFETY: the layout is non-zero-sized (the header); the header is written
        // whole, then the bytes after it, all inside the allocation.
        unsafe {
            let Some(block) = NonNull::new(alloc::alloc(layout)) else {
                alloc::handle_alloc_error(layout)
            };
            block.cast::<Header>().write(Header {
                deadline,
                access: Access::new(crate::evict::access::fresh()),
                key_len: key.len() as u8,
                value_len: value.len() as u32,
            });
            let bytes = block.as_ptr().add(HEADER);
            bytes.copy_from_nonoverlapping(key.as_ptr(), key.len());
            bytes
                .add(key.len())
                .copy_from_nonoverlapping(value.as_ptr(), value.len());
            SlotBox(block.map_addr(|a| a | COMPACT))
        }
    }

    #[inline]
    pub(super) fn is_compact(&self) -> bool {
        self.0.addr().get() & COMPACT != 0
    }

    /// The compact block's start (meaningful only when compact).
    #[inline]
    fn block(&self) -> NonNull<u8> {
        // SAFETY: clearing the tag bit of an 8-aligned allocation's address leaves it
        // non-zero.
        unsafe { NonNull::new_unchecked(self.0.as_ptr().map_addr(|a| a & !COMPACT)) }
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: compact: the block starts with a header written at construction.
        unsafe { self.block().cast::<Header>().as_ref() }
    }

    /// The compact block's header, for writing.
    fn header_mut(&mut self) -> &mut Header {
        // SAFETY: compact, and borrowed mutably through `&mut self`.
        unsafe { self.block().cast::<Header>().as_mut() }
    }

    /// The compact block's key and value bytes.
    #[inline]
    fn compact_bytes(&self) -> (&[u8], &[u8]) {
        let h = self.header();
        let (k, v) = (usize::from(h.key_len), h.value_len as usize);
        // SAFETY: the block holds `k + v` bytes after the header, written at
        // construction; only `&mut self` changes them (`overwrite`), so none change
        // while these borrows of `self` live.
        unsafe {
            let bytes = self.block().as_ptr().add(HEADER);
            (
                std::slice::from_raw_parts(bytes, k),
                std::slice::from_raw_parts(bytes.add(k), v),
            )
        }
    }

    /// The full slot, unless compact.
    #[inline]
    pub(super) fn as_full(&self) -> Option<&Slot> {
        // SAFETY: untagged, the pointer is a leaked `Box<Slot>` this value owns.
        (!self.is_compact()).then(|| unsafe { self.0.cast::<Slot>().as_ref() })
    }

    #[inline]
    pub(super) fn key(&self) -> &[u8] {
        match self.as_full() {
            Some(s) => s.key.as_slice(),
            None => self.compact_bytes().0,
        }
    }

    /// The key's access stamp ([`crate::evict::access`]).
    #[inline]
    pub(super) fn access(&self) -> &Access {
        match self.as_full() {
            Some(s) => s.key.access(),
            None => &self.header().access,
        }
    }

    /// The root's own deadline.
    #[inline]
    pub(super) fn deadline(&self) -> Option<UnixMillis> {
        match self.as_full() {
            Some(s) => s.entry.deadline(),
            None => self.header().deadline.get(),
        }
    }

    /// Redis deems a key expired once `now > deadline`.
    #[inline]
    pub(super) fn is_expired(&self, now: UnixMillis) -> bool {
        matches!(self.deadline(), Some(d) if d < now)
    }

    /// The earliest nested deadline (never one in a compact block).
    #[inline]
    pub(super) fn nested_next(&self) -> Option<UnixMillis> {
        self.as_full().and_then(|s| s.entry.nested_next())
    }

    /// Has a nested node expired at `now`?
    #[inline]
    pub(super) fn has_nested_due(&self, now: UnixMillis) -> bool {
        self.as_full().is_some_and(|s| s.entry.has_nested_due(now))
    }

    /// The entry, for reading while the shard's lock is held.
    #[inline]
    pub(super) fn entry(&self) -> EntryView<'_> {
        match self.as_full() {
            Some(s) => EntryView::Stored(&s.entry),
            // SAFETY: the view borrows `self`, so the block outlives it, and it hands
            // out only `&Entry`.
            None => EntryView::Lent(unsafe { self.lend_compact() }, PhantomData),
        }
    }

    /// The entry a compact block lends: an owned [`Entry`] whose string borrows the
    /// block's bytes; `None` for a full slot (borrow its entry instead).
    ///
    /// # Safety
    /// The caller keeps it only while this slot lives unchanged (its shard locked, the
    /// slot not written), and hands out only references to it: its clones are copies.
    #[inline]
    pub(super) unsafe fn lend(&self) -> Option<Entry> {
        // SAFETY: the caller's contract.
        self.is_compact().then(|| unsafe { self.lend_compact() })
    }

    /// [`SlotBox::lend`] for a compact block.
    ///
    /// # Safety
    /// As [`SlotBox::lend`]'s; `self` is compact.
    #[inline]
    unsafe fn lend_compact(&self) -> Entry {
        Entry {
            // SAFETY: the caller's contract: the bytes outlive the entry.
            value: Value::Str(unsafe { Str::borrowed(self.compact_bytes().1) }),
            deadline: self.header().deadline,
            nested: None,
        }
    }

    /// The full slot, for writing: a compact block becomes a full slot (with the
    /// same stamp and deadline) and stays one.
    pub(super) fn full_mut(&mut self) -> &mut Slot {
        if self.is_compact() {
            let (key, value) = self.compact_bytes();
            let key = StoredKey::new(key);
            key.access().set(self.header().access.get());
            let entry = Entry {
                value: Value::string(value),
                deadline: self.header().deadline,
                nested: None,
            };
            *self = Self::full(Box::new(Slot { key, entry }));
        }
        // SAFETY: untagged now: a leaked `Box<Slot>` owned by `self`, borrowed
        // mutably through `&mut self`.
        unsafe { self.0.cast::<Slot>().as_mut() }
    }

    /// Overwrites a compact block's value with `value` of the same length and its
    /// deadline with `deadline`, in place (a SET over a hot key allocates nothing);
    /// answers the deadline it had, or `Err(())` and changes nothing unless the slot
    /// is compact with a value of `value`'s length.
    pub(super) fn overwrite(
        &mut self,
        value: &[u8],
        deadline: Option<UnixMillis>,
    ) -> Result<Option<UnixMillis>, ()> {
        if !self.is_compact() || self.header().value_len as usize != value.len() {
            return Err(());
        }
        let key_len = usize::from(self.header().key_len);
        // SAFETY: compact, borrowed mutably through `&mut self`; the value's bytes are
        // `value.len()` bytes at `HEADER + key_len` inside the block.
        unsafe {
            self.block()
                .as_ptr()
                .add(HEADER + key_len)
                .copy_from_nonoverlapping(value.as_ptr(), value.len());
        }
        let h = self.header_mut();
        Ok(std::mem::replace(&mut h.deadline, Deadline::new(deadline)).get())
    }

    /// Sets the root's deadline in place; answers the one it had.
    pub(super) fn set_deadline(&mut self, deadline: Option<UnixMillis>) -> Option<UnixMillis> {
        let new = Deadline::new(deadline);
        if self.is_compact() {
            std::mem::replace(&mut self.header_mut().deadline, new).get()
        } else {
            std::mem::replace(&mut self.full_mut().entry.deadline, new).get()
        }
    }

    /// The entry, owned (a compact block's value copied out).
    pub(super) fn into_entry(mut self) -> Entry {
        if self.is_compact() {
            self.entry().clone()
        } else {
            self.take_full_entry()
        }
    }

    /// What is left to free once the shard's lock is released: a full slot's entry
    /// (a large value's free can take a while); a compact block is freed here, with
    /// `self`.
    pub(super) fn into_garbage(mut self) -> Option<Entry> {
        (!self.is_compact()).then(|| self.take_full_entry())
    }

    /// A full slot's entry, moved out (the slot, about to be dropped, keeps a null).
    fn take_full_entry(&mut self) -> Entry {
        std::mem::replace(&mut self.full_mut().entry, Entry::new(Value::Null, None))
    }

    /// About the bytes this slot holds beyond its table bucket (the block or slot, the
    /// key's and the value's heap bytes), for memory estimates.
    pub(super) fn heap_size(&self) -> usize {
        match self.as_full() {
            Some(s) => {
                let key = if s.key.len() > StoredKey::INLINE {
                    s.key.len()
                } else {
                    0
                };
                std::mem::size_of::<Slot>() + key + s.entry.value.heap_size()
            }
            None => {
                let h = self.header();
                HEADER + usize::from(h.key_len) + h.value_len as usize
            }
        }
    }
}

impl Drop for SlotBox {
    fn drop(&mut self) {
        if self.is_compact() {
            let h = self.header();
            let (key, value) = (usize::from(h.key_len), h.value_len as usize);
            // SAFETY: allocated in `compact` with `block_layout(key, value)`, which
            // was valid then and is the same now; nothing else owns the block.
            unsafe {
                let layout = Layout::from_size_align_unchecked(HEADER + key + value, 8);
                alloc::dealloc(self.block().as_ptr(), layout)
            }
        } else {
            // SAFETY: a leaked `Box<Slot>` owned by `self`.
            drop(unsafe { Box::from_raw(self.0.cast::<Slot>().as_ptr()) });
        }
    }
}

impl std::fmt::Debug for SlotBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlotBox")
            .field("compact", &self.is_compact())
            .field("key", &bytes::Bytes::copy_from_slice(self.key()))
            .field("entry", &*self.entry())
            .finish()
    }
}

/// Makes an entry's string own its bytes if it borrows them ([`crate::Str`]'s
/// `Borrowed` form): before a full slot keeps it.
pub(super) fn own_bytes(entry: &mut Entry) {
    if let Value::Str(s) = &mut entry.value {
        if s.is_borrowed() {
            *s = s.clone();
        }
    }
}

/// A compact block's layout: the header, then `key + value` bytes, 8-aligned; `None`
/// when the value's length does not fit the header's 32 bits (such a value is kept in
/// a full slot).
fn block_layout(key: usize, value: usize) -> Option<Layout> {
    u32::try_from(value).ok()?;
    Layout::from_size_align(HEADER + key + value, 8).ok()
}

/// A slot's entry as readers see it: the stored one, or one lent from a compact
/// block (its string borrows the block's bytes; see [`SlotBox::entry`]).
pub(super) enum EntryView<'a> {
    Stored(&'a Entry),
    Lent(Entry, PhantomData<&'a SlotBox>),
}

impl Deref for EntryView<'_> {
    type Target = Entry;

    #[inline]
    fn deref(&self) -> &Entry {
        match self {
            EntryView::Stored(e) => e,
            EntryView::Lent(e, _) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_of(len: usize) -> Vec<u8> {
        (0..len).map(|i| b'a' + (i % 26) as u8).collect()
    }

    #[test]
    fn strings_are_stored_compact_and_read_back() {
        for (klen, vlen) in [(0, 0), (1, 1), (12, 100), (19, 38), (255, 5000)] {
            let key = key_of(klen);
            let value = vec![b'v'; vlen];
            let slot = SlotBox::new(&key, Entry::new(Value::string(&value), Some(42)));
            assert!(slot.is_compact(), "{klen}/{vlen}");
            assert_eq!(slot.key(), &key[..]);
            assert_eq!(slot.deadline(), Some(42));
            assert_eq!(slot.entry().value, Value::string(&value));
            assert_eq!(slot.heap_size(), 16 + klen + vlen);
            let owned = slot.into_entry();
            assert_eq!(owned, Entry::new(Value::string(&value), Some(42)));
        }
    }

    #[test]
    fn other_values_and_long_keys_are_full_slots() {
        let long = key_of(256);
        assert!(!SlotBox::new(&long, Entry::new(Value::string(b"v"), None)).is_compact());
        for value in [Value::Number(1.0), Value::new_list(), Value::Null] {
            let slot = SlotBox::new(b"k", Entry::new(value.clone(), None));
            assert!(!slot.is_compact());
            assert_eq!(slot.entry().value, value);
        }
    }

    #[test]
    fn a_write_makes_a_full_slot_with_the_same_stamp_and_deadline() {
        let mut slot = SlotBox::new(b"key", Entry::new(Value::string(&[7; 60]), Some(9)));
        slot.access().set(12345);
        let full = slot.full_mut();
        assert_eq!(full.key.as_slice(), b"key");
        assert_eq!(full.entry, Entry::new(Value::string(&[7; 60]), Some(9)));
        full.entry.value = Value::string(b"changed");
        assert!(!slot.is_compact());
        assert_eq!(slot.access().get(), 12345);
        assert_eq!(slot.entry().value, Value::string(b"changed"));
    }

    #[test]
    fn deadlines_change_in_place() {
        let mut slot = SlotBox::new(b"key", Entry::new(Value::string(b"v"), None));
        assert_eq!(slot.set_deadline(Some(5)), None);
        assert!(slot.is_compact());
        assert!(slot.is_expired(6) && !slot.is_expired(5));
        assert_eq!(slot.set_deadline(None), Some(5));
        assert_eq!(slot.deadline(), None);
    }

    #[test]
    fn a_borrowed_string_is_copied_into_whichever_slot_keeps_it() {
        for key in [key_of(12), key_of(300)] {
            let mut source = vec![b'a'; 100];
            // SAFETY: `source` outlives the entry, which `SlotBox::new` consumes.
            let value = Value::Str(unsafe { Str::borrowed(&source) });
            let slot = SlotBox::new(&key, Entry::new(value, None));
            assert_eq!(slot.is_compact(), key.len() <= 255);
            source.fill(b'z');
            assert_eq!(slot.entry().value, Value::string(&[b'a'; 100]));
            drop(source);
            assert!(slot.as_full().is_none_or(|s| match &s.entry.value {
                Value::Str(s) => !s.is_borrowed(),
                _ => false,
            }));
        }
    }

    #[test]
    fn a_lent_strings_clone_owns_its_bytes() {
        let slot = SlotBox::new(b"key", Entry::new(Value::string(&[3; 100]), None));
        let copy = slot.entry().clone();
        let Value::Str(s) = &copy.value else {
            panic!("a string")
        };
        assert!(!s.is_borrowed(), "the clone still points into the block");
        drop(slot);
        assert_eq!(copy.value, Value::string(&[3; 100]));
    }
}
