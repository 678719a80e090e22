//! [`List`]: a Redis list / JSON array, packed while it holds only short strings.
//!
//! Most lists are short queues of short strings. Such a list is *packed*: one buffer
//! of `[length][bytes][length]` entries (the trailing length lets it be read from
//! the tail, as a listpack's back-length does), sized exactly while small. It stays
//! packed while every item is a string of at most [`PACKED_MAX`] bytes, the buffer is
//! at most [`PACKED_LIST_BYTES`] (Redis's `list-max-listpack-size -2`: 8 KiB), and
//! nobody asks for a `&mut Value` inside it. Readers get a [`Field`].
//!
//! Otherwise it is a boxed `VecDeque<Value>` for good (Redis does not convert a
//! quicklist back either). A 10-item list of 9-byte strings is one 110-byte buffer,
//! against 10 × 40 bytes of `Value`s.

use std::collections::VecDeque;
use std::fmt;

pub use crate::field::Field;
use crate::hash::PACKED_MAX;
use crate::value::Value;

/// The largest packed buffer (Redis 7.0's 8 KiB listpack per quicklist node).
pub const PACKED_LIST_BYTES: usize = 8192;

/// Lists up to this many items grow by exactly what is pushed; longer ones amortise.
pub const SMALL_LIST_ITEMS: usize = 128;

type Deque = VecDeque<Value>;

/// A list (JSON array) of values.
#[derive(Clone, Default)]
pub struct List(Repr);

#[derive(Clone)]
enum Repr {
    /// `len` entries of `[n][bytes][n]`.
    Packed {
        buf: Vec<u8>,
        len: u32,
    },
    Full(Box<Deque>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed {
            buf: Vec::new(),
            len: 0,
        }
    }
}

/// The first entry of a packed window: its bytes and the rest after it.
#[inline]
fn split_front(w: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, tail) = w.split_first()?;
    let n = usize::from(n);
    Some((&tail[..n], &tail[n + 1..]))
}

/// The last entry of a packed window: its bytes and the rest before it.
#[inline]
fn split_back(w: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&n, head) = w.split_last()?;
    let start = head.len() - usize::from(n);
    Some((&head[start..], &head[..start - 1]))
}

/// The byte range of entry `i` (of `len`) in `buf`, walking from the nearer end.
fn entry_range(buf: &[u8], len: usize, i: usize) -> Option<(usize, usize)> {
    if i >= len {
        return None;
    }
    if i <= len / 2 {
        let mut at = 0;
        for _ in 0..i {
            at += 2 + usize::from(buf[at]);
        }
        Some((at, at + 2 + usize::from(buf[at])))
    } else {
        let mut end = buf.len();
        for _ in 0..len - 1 - i {
            end -= 2 + usize::from(buf[end - 1]);
        }
        Some((end - 2 - usize::from(buf[end - 1]), end))
    }
}

fn packable(v: &Value) -> Option<&[u8]> {
    match v {
        Value::Str(s) if s.len() <= PACKED_MAX => Some(s),
        _ => None,
    }
}

impl List {
    /// An empty list (allocates nothing).
    pub fn new() -> List {
        List::default()
    }

    /// An empty list for about `n` items (packed until one does not fit).
    pub fn with_capacity(n: usize) -> List {
        if n > SMALL_LIST_ITEMS {
            return List(Repr::Full(Box::new(Deque::with_capacity(n))));
        }
        List::new()
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed { len, .. } => *len as usize,
            Repr::Full(d) => d.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the items are packed in one buffer (tests and memory reports).
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed { .. })
    }

    /// The `i`-th item.
    pub fn get(&self, i: usize) -> Option<Field<'_>> {
        match &self.0 {
            Repr::Packed { buf, len } => {
                let (a, b) = entry_range(buf, *len as usize, i)?;
                Some(Field::Bytes(&buf[a + 1..b - 1]))
            }
            Repr::Full(d) => d.get(i).map(Field::Value),
        }
    }

    /// The `i`-th item, for writing (a packed list unpacks first).
    pub fn get_mut(&mut self, i: usize) -> Option<&mut Value> {
        self.full().get_mut(i)
    }

    pub fn front(&self) -> Option<Field<'_>> {
        self.iter().next()
    }

    pub fn back(&self) -> Option<Field<'_>> {
        self.iter().next_back()
    }

    /// The items, front to back (double-ended).
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Packed { buf, len } => Iter(IterRepr::Packed {
                window: buf,
                left: *len as usize,
            }),
            Repr::Full(d) => Iter(IterRepr::Full(d.iter())),
        }
    }

    /// Items `from..=to` (both in range, `from <= to`).
    pub fn range(&self, from: usize, to: usize) -> impl DoubleEndedIterator<Item = Field<'_>> {
        let mut it = self.iter();
        if from > 0 {
            it.nth(from - 1);
        }
        it.take(to + 1 - from)
    }

    /// Room for `additional` more items: exactly that many while the list stays
    /// within [`SMALL_LIST_ITEMS`], amortised beyond. A packed list reserves as it
    /// pushes (it cannot tell the bytes yet).
    pub fn reserve(&mut self, additional: usize) {
        if let Repr::Full(d) = &mut self.0 {
            if d.len() + additional <= SMALL_LIST_ITEMS {
                d.reserve_exact(additional);
            } else {
                d.reserve(additional);
            }
        }
    }

    /// Whether `n` more bytes of entry fit in the packed buffer.
    fn packed_room(&self, entry: usize) -> bool {
        match &self.0 {
            Repr::Packed { buf, len } => {
                buf.len() + entry <= PACKED_LIST_BYTES && (*len as usize) < u32::MAX as usize
            }
            Repr::Full(_) => false,
        }
    }

    /// Makes room for one entry of `n` bytes in a packed buffer.
    fn grow(buf: &mut Vec<u8>, len: u32, entry: usize) {
        if (len as usize) < SMALL_LIST_ITEMS {
            buf.reserve_exact(entry);
        } else {
            buf.reserve(entry);
        }
    }

    /// Appends the string `s` (RPUSH's path: no `Value` made while packed).
    pub fn push_back_str(&mut self, s: &[u8]) {
        if s.len() <= PACKED_MAX && self.packed_room(s.len() + 2) {
            if let Repr::Packed { buf, len } = &mut self.0 {
                Self::grow(buf, *len, s.len() + 2);
                buf.push(s.len() as u8);
                buf.extend_from_slice(s);
                buf.push(s.len() as u8);
                *len += 1;
                return;
            }
        }
        self.full().push_back(Value::string(s));
    }

    /// Prepends the string `s` (LPUSH's path).
    pub fn push_front_str(&mut self, s: &[u8]) {
        self.insert_str(0, s);
    }

    pub fn push_back(&mut self, v: Value) {
        match packable(&v) {
            Some(s) if self.is_packed() => self.push_back_str(s),
            _ => self.full().push_back(v),
        }
    }

    pub fn push_front(&mut self, v: Value) {
        self.insert(0, v);
    }

    /// Inserts the string `s` before item `i` (`i == len` appends).
    fn insert_str(&mut self, i: usize, s: &[u8]) {
        if s.len() <= PACKED_MAX && self.packed_room(s.len() + 2) {
            if let Repr::Packed { buf, len } = &mut self.0 {
                let at = if i as u32 == *len {
                    buf.len()
                } else {
                    entry_range(buf, *len as usize, i).map_or(buf.len(), |r| r.0)
                };
                Self::grow(buf, *len, s.len() + 2);
                // Open a gap at `at` and write the entry into it.
                let (old, n) = (buf.len(), s.len() + 2);
                buf.resize(old + n, 0);
                buf.copy_within(at..old, at + n);
                buf[at] = s.len() as u8;
                buf[at + 1..at + n - 1].copy_from_slice(s);
                buf[at + n - 1] = s.len() as u8;
                *len += 1;
                return;
            }
        }
        self.full().insert(i, Value::string(s));
    }

    /// Inserts `v` before item `i` (`i <= len`).
    pub fn insert(&mut self, i: usize, v: Value) {
        match packable(&v) {
            Some(s) if self.is_packed() => self.insert_str(i, s),
            _ => self.full().insert(i, v),
        }
    }

    /// Sets item `i` to `v` (LSET), answering the old one; `None` when out of range.
    pub fn set(&mut self, i: usize, v: Value) -> Option<Value> {
        if let (Some(s), Repr::Packed { buf, len }) = (packable(&v), &mut self.0) {
            let (a, b) = entry_range(buf, *len as usize, i)?;
            if buf.len() - (b - a) + s.len() + 2 <= PACKED_LIST_BYTES {
                let old = Value::string(&buf[a + 1..b - 1]);
                let n = s.len() as u8;
                let entry = std::iter::once(n)
                    .chain(s.iter().copied())
                    .chain(std::iter::once(n));
                buf.splice(a..b, entry);
                buf.shrink_to_fit();
                return Some(old);
            }
        }
        self.get_mut(i).map(|slot| std::mem::replace(slot, v))
    }

    pub fn pop_front(&mut self) -> Option<Value> {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let (item, _) = split_front(buf)?;
                let (v, n) = (Value::string(item), item.len() + 2);
                buf.drain(..n);
                *len -= 1;
                Some(v)
            }
            Repr::Full(d) => d.pop_front(),
        }
    }

    pub fn pop_back(&mut self) -> Option<Value> {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let (item, _) = split_back(buf)?;
                let (v, n) = (Value::string(item), item.len() + 2);
                buf.truncate(buf.len() - n);
                *len -= 1;
                Some(v)
            }
            Repr::Full(d) => d.pop_back(),
        }
    }

    /// Removes and answers item `i`; the items after it move up.
    pub fn remove(&mut self, i: usize) -> Option<Value> {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let (a, b) = entry_range(buf, *len as usize, i)?;
                let v = Value::string(&buf[a + 1..b - 1]);
                buf.drain(a..b);
                *len -= 1;
                Some(v)
            }
            Repr::Full(d) => d.remove(i),
        }
    }

    /// Keeps items `from..=to` only (LTRIM); `None` empties the list.
    pub fn keep_range(&mut self, range: Option<(usize, usize)>) {
        let Some((from, to)) = range else {
            self.clear();
            return;
        };
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let n = *len as usize;
                let end = entry_range(buf, n, to).map_or(buf.len(), |r| r.1);
                let start = entry_range(buf, n, from).map_or(end, |r| r.0);
                buf.truncate(end);
                buf.drain(..start);
                *len = (to.min(n - 1) + 1 - from) as u32;
            }
            Repr::Full(d) => {
                d.truncate(to + 1);
                d.drain(..from);
            }
        }
    }

    /// Keeps the items for which `keep` answers true, in order.
    pub fn retain(&mut self, mut keep: impl FnMut(Field<'_>) -> bool) {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let mut out = Vec::with_capacity(buf.len());
                let mut kept = 0;
                let mut w = &buf[..];
                while let Some((item, rest)) = split_front(w) {
                    if keep(Field::Bytes(item)) {
                        out.extend_from_slice(&w[..item.len() + 2]);
                        kept += 1;
                    }
                    w = rest;
                }
                out.shrink_to_fit();
                *buf = out;
                *len = kept;
            }
            Repr::Full(d) => d.retain(|v| keep(Field::Value(v))),
        }
    }

    pub fn clear(&mut self) {
        self.0 = Repr::default();
    }

    /// Sets the length: truncates, or pads with `fill`.
    pub fn resize(&mut self, n: usize, fill: Value) {
        if n <= self.len() {
            let keep = n.checked_sub(1).map(|last| (0, last));
            self.keep_range(keep);
        } else {
            self.full().resize(n, fill);
        }
    }

    /// Heap bytes held, roughly (INFO memory, deferred drops).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Packed { buf, .. } => buf.capacity(),
            Repr::Full(d) => {
                std::mem::size_of::<Deque>()
                    + d.capacity() * std::mem::size_of::<Value>()
                    + d.iter().map(Value::heap_size).sum::<usize>()
            }
        }
    }

    /// The full form, unpacking a packed list (for good).
    fn full(&mut self) -> &mut Deque {
        if let Repr::Packed { buf, len } = &self.0 {
            let mut d = Deque::with_capacity(*len as usize + 1);
            let mut w = &buf[..];
            while let Some((item, rest)) = split_front(w) {
                d.push_back(Value::string(item));
                w = rest;
            }
            self.0 = Repr::Full(Box::new(d));
        }
        match &mut self.0 {
            Repr::Full(d) => d,
            Repr::Packed { .. } => unreachable!("unpacked above"),
        }
    }
}

/// Iterator over a list's items.
#[derive(Clone, Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Clone, Debug)]
enum IterRepr<'a> {
    /// The entries not yet read, and how many they are.
    Packed {
        window: &'a [u8],
        left: usize,
    },
    Full(std::collections::vec_deque::Iter<'a, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Field<'a>;

    #[inline]
    fn next(&mut self) -> Option<Field<'a>> {
        match &mut self.0 {
            IterRepr::Packed { window, left } => {
                let (item, rest) = split_front(window)?;
                *window = rest;
                *left -= 1;
                Some(Field::Bytes(item))
            }
            IterRepr::Full(it) => it.next().map(Field::Value),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.len();
        (n, Some(n))
    }

    fn nth(&mut self, n: usize) -> Option<Field<'a>> {
        match &mut self.0 {
            IterRepr::Packed { .. } => {
                for _ in 0..n {
                    self.next()?;
                }
                self.next()
            }
            IterRepr::Full(it) => it.nth(n).map(Field::Value),
        }
    }
}

impl DoubleEndedIterator for Iter<'_> {
    #[inline]
    fn next_back(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed { window, left } => {
                let (item, rest) = split_back(window)?;
                *window = rest;
                *left -= 1;
                Some(Field::Bytes(item))
            }
            IterRepr::Full(it) => it.next_back().map(Field::Value),
        }
    }
}

impl ExactSizeIterator for Iter<'_> {
    fn len(&self) -> usize {
        match &self.0 {
            IterRepr::Packed { left, .. } => *left,
            IterRepr::Full(it) => it.len(),
        }
    }
}

impl<'a> IntoIterator for &'a List {
    type Item = Field<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl FromIterator<Value> for List {
    fn from_iter<I: IntoIterator<Item = Value>>(items: I) -> List {
        let mut l = List::new();
        for v in items {
            l.push_back(v);
        }
        l
    }
}

impl From<Vec<Value>> for List {
    fn from(items: Vec<Value>) -> List {
        items.into_iter().collect()
    }
}

impl<const N: usize> From<[Value; N]> for List {
    fn from(items: [Value; N]) -> List {
        items.into_iter().collect()
    }
}

/// Equal when the items are, in order (packed or not).
impl PartialEq for List {
    fn eq(&self, other: &List) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for List {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Field::to_value))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(text: &str) -> Value {
        Value::string(text.as_bytes())
    }

    fn packed_bytes(l: &List) -> (usize, usize) {
        match &l.0 {
            Repr::Packed { buf, .. } => (buf.len(), buf.capacity()),
            Repr::Full(_) => panic!("not packed"),
        }
    }

    fn texts(l: &List) -> Vec<Vec<u8>> {
        l.iter().map(|f| f.str_bytes().unwrap().to_vec()).collect()
    }

    #[test]
    fn a_short_list_is_one_exact_buffer_and_every_accessor_reads_it() {
        let mut l = List::new();
        for i in 0..10 {
            l.reserve(1);
            l.push_back_str(format!("v{i:08}").as_bytes());
        }
        assert!(l.is_packed());
        assert_eq!(l.len(), 10);
        assert_eq!(packed_bytes(&l), (110, 110));
        assert_eq!(l.heap_size(), 110);
        assert_eq!(l.get(0), Some(Field::Bytes(b"v00000000")));
        assert_eq!(
            l.get(7),
            Some(Field::Bytes(b"v00000007")),
            "found from the tail"
        );
        assert_eq!(l.get(10), None);
        assert_eq!(l.front().unwrap(), s("v00000000"));
        assert_eq!(l.back().unwrap(), s("v00000009"));
        let back: Vec<Value> = l.iter().rev().map(Field::to_value).collect();
        assert_eq!(back[0], s("v00000009"));
        assert_eq!(back.len(), 10);
        let mut it = l.iter();
        assert_eq!(it.len(), 10);
        assert_eq!(it.next_back().unwrap(), s("v00000009"));
        assert_eq!(it.nth(2).unwrap(), s("v00000002"));
        assert_eq!(it.len(), 6);
        let mid: Vec<Value> = l.range(3, 5).map(Field::to_value).collect();
        assert_eq!(mid, vec![s("v00000003"), s("v00000004"), s("v00000005")]);
        assert_eq!(l.range(9, 9).count(), 1);
        // Both ends, the middle, LSET, LREM-style retain, LTRIM-style keep_range.
        l.push_front_str(b"head");
        l.insert(5, s("mid"));
        assert_eq!(l.get(5).unwrap(), s("mid"));
        assert_eq!(l.pop_front(), Some(s("head")));
        assert_eq!(l.pop_back(), Some(s("v00000009")));
        assert_eq!(l.set(0, s("first")), Some(s("v00000000")));
        assert_eq!(l.set(99, s("x")), None);
        assert_eq!(l.remove(4), Some(s("mid")));
        assert_eq!(l.remove(40), None);
        assert_eq!(l.len(), 9);
        assert!(l.is_packed());
        let (len, cap) = packed_bytes(&l);
        assert_eq!(len, 9 * 11 - 9 + 5);
        assert!(cap >= len);
        l.retain(|f| f.str_bytes() != Some(b"v00000004"));
        assert_eq!(l.len(), 8);
        l.keep_range(Some((1, 3)));
        assert_eq!(
            texts(&l),
            vec![
                b"v00000001".to_vec(),
                b"v00000002".to_vec(),
                b"v00000003".to_vec()
            ]
        );
        l.resize(2, Value::Null);
        assert_eq!(l.len(), 2);
        assert!(l.is_packed());
        // Equal to the same items unpacked; shown alike.
        let mut full = l.clone();
        full.get_mut(0);
        assert!(!full.is_packed());
        assert_eq!(l, full);
        assert_eq!(format!("{l:?}"), format!("{full:?}"));
        l.keep_range(None);
        assert!(l.is_empty() && l.is_packed());
        assert_eq!(l.pop_back(), None);
        assert_eq!(l.pop_front(), None);
        l.push_back_str(b"");
        assert_eq!(l.get(0), Some(Field::Bytes(b"")));
        l.clear();
        assert!(l.is_empty());
    }

    #[test]
    fn packing_stops_at_64_byte_items_8_kib_and_mutable_access() {
        let at = vec![b'a'; PACKED_MAX];
        let over = vec![b'a'; PACKED_MAX + 1];
        let mut l = List::new();
        l.push_back_str(&at);
        assert!(l.is_packed());
        l.push_front_str(&over);
        assert!(!l.is_packed());
        assert_eq!(texts(&l), vec![over.clone(), at.clone()]);

        // 8 KiB of entries stay packed; one more byte does not.
        let mut l = List::new();
        let item = vec![b'x'; 62]; // 64 bytes an entry
        for _ in 0..PACKED_LIST_BYTES / 64 {
            l.push_back_str(&item);
        }
        assert!(l.is_packed());
        assert_eq!(packed_bytes(&l).0, PACKED_LIST_BYTES);
        l.push_front_str(b"");
        assert!(!l.is_packed());
        assert_eq!(l.len(), PACKED_LIST_BYTES / 64 + 1);
        assert_eq!(l.get(0), Some(Field::Value(&s(""))));

        // Anything but a short string unpacks; so do get_mut and a long LSET.
        for v in [Value::Null, Value::Number(1.0), Value::new_hash()] {
            let mut l: List = [s("a")].into();
            assert!(l.is_packed());
            l.push_back(v.clone());
            assert!(!l.is_packed());
            assert_eq!(l.get(1), Some(Field::Value(&v)));
        }
        let mut l: List = vec![s("a"), s("b")].into();
        *l.get_mut(1).unwrap() = Value::Bool(true);
        assert_eq!(l.get(1).unwrap(), Value::Bool(true));
        let mut l: List = [s("a")].into();
        assert_eq!(l.set(0, Value::string(&over)), Some(s("a")));
        assert!(!l.is_packed());
        assert!(!List::with_capacity(SMALL_LIST_ITEMS + 1).is_packed());
        assert!(List::with_capacity(3).is_packed());
        let mut l = List::new();
        l.resize(3, Value::Null);
        assert_eq!(l.len(), 3);
        assert_eq!(l.get(2).unwrap(), Value::Null);
    }

    /// Random operations against a `VecDeque` of bytes: the same answers and items,
    /// packed or not (long items and many pushes unpack some rounds).
    #[test]
    fn agrees_with_a_model_under_random_operations() {
        let mut next = crate::test_rng(0x2545_F491_4F6C_DD1Du64);
        for round in 0..30 {
            let mut l = List::new();
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..1_500 {
                let r = next();
                let item: Vec<u8> = match r % 211 {
                    0 if round % 3 == 0 => vec![b'L'; PACKED_MAX + 1],
                    _ => format!("i{}", (r >> 8) % 1000).into_bytes(),
                };
                let at = |len: usize| {
                    if len == 0 {
                        0
                    } else {
                        (r >> 40) as usize % len
                    }
                };
                match (r >> 16) % 10 {
                    0 | 1 => {
                        l.push_back_str(&item);
                        model.push_back(item);
                    }
                    2 | 3 => {
                        l.push_front_str(&item);
                        model.push_front(item);
                    }
                    4 => assert_eq!(
                        l.pop_front().map(|v| v.as_str().unwrap().to_vec()),
                        model.pop_front()
                    ),
                    5 => assert_eq!(
                        l.pop_back().map(|v| v.as_str().unwrap().to_vec()),
                        model.pop_back()
                    ),
                    6 => {
                        let i = at(model.len() + 1);
                        l.insert(i, Value::string(&item));
                        model.insert(i, item);
                    }
                    7 => {
                        let i = at(model.len());
                        let got = l.remove(i).map(|v| v.as_str().unwrap().to_vec());
                        assert_eq!(got, model.remove(i), "step {step}");
                    }
                    8 => {
                        let i = at(model.len());
                        let old = l.set(i, Value::string(&item));
                        let want = model.get_mut(i).map(|m| std::mem::replace(m, item));
                        assert_eq!(old.map(|v| v.as_str().unwrap().to_vec()), want);
                    }
                    _ => {
                        let i = at(model.len());
                        let want = model.get(i).map(|m| m.as_slice());
                        assert_eq!(l.get(i).and_then(Field::str_bytes), want);
                    }
                }
                assert_eq!(l.len(), model.len());
                if step % 100 == 0 {
                    assert_eq!(texts(&l), Vec::from(model.clone()), "round {round}");
                    let back: Vec<Vec<u8>> = l
                        .iter()
                        .rev()
                        .map(|f| f.str_bytes().unwrap().to_vec())
                        .collect();
                    assert_eq!(back, model.iter().rev().cloned().collect::<Vec<_>>());
                }
            }
        }
    }
}
