//! [`Hash`]: a Redis hash / JSON object, in insertion order, compact while small.
//!
//! Most hashes are small records (a user, a session): a few fields with short names
//! and short string values. Such a hash is *packed*, as Redis's listpack: one buffer of
//! `[name length][value length][name][value]` entries, sized exactly; lookups scan it
//! (both lengths first, so that skipping an entry is one load).
//! It stays packed while it has at most [`SMALL_HASH_FIELDS`] fields, every name and
//! value is a string of at most [`PACKED_MAX`] bytes (Redis's
//! `hash-max-listpack-entries` / `-value`), and nobody asks for a `&mut Value` inside
//! it. Readers get a [`Field`] (packed bytes or a `&Value`).
//!
//! Past that it becomes *small*: names still packed in one buffer, values a `Vec` of
//! [`Value`] (nested documents, counters, long strings, path-mode writes in place); and
//! past [`SMALL_HASH_FIELDS`] fields or a name over [`SMALL_NAME_MAX`] bytes, an
//! `IndexMap`. A hash never goes back (neither does Redis's).
//!
//! A 10-field record of 6-byte names and 9-byte values takes one 170-byte buffer
//! packed, against 10 × 40 bytes of `Value`s plus the names when small.

use std::fmt;

use indexmap::IndexMap;

pub use crate::field::Field;
use crate::string::Str;
use crate::value::Value;

/// Hashes up to this many fields are packed or small, and delete in place (keeping
/// insertion order, as Redis's listpack encoding does); larger ones swap-remove in
/// O(1), like Redis's hashtable encoding whose order is unspecified anyway.
pub const SMALL_HASH_FIELDS: usize = 128;

/// The longest field name a small hash holds (its length is one byte).
pub const SMALL_NAME_MAX: usize = u8::MAX as usize;

/// The longest name or string value a packed hash or list holds (Redis's
/// `hash-max-listpack-value`).
pub const PACKED_MAX: usize = 64;

type Map = IndexMap<Str, Value, hashbrown::DefaultHashBuilder>;

// A `Hash` sits inside a 40-byte `Value` unboxed (checked in value.rs too).
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Hash>() == 32);

/// A hash (JSON object): field -> value, in insertion order.
#[derive(Clone, Default)]
pub struct Hash(Repr);

#[derive(Clone)]
enum Repr {
    /// `buf`: `[name length][value length][name][value]` per field; `len` fields.
    Packed {
        buf: Vec<u8>,
        len: u32,
    },
    Small(Box<SmallForm>),
    Large(Box<Map>),
}

/// A small hash: `names` holds each name as one length byte and its bytes;
/// `values[i]` belongs to the `i`-th name. (Boxed, as the map is, so that a `Hash` is
/// 32 bytes and sits inside a [`Value`] without a box of its own.)
#[derive(Clone)]
struct SmallForm {
    names: Vec<u8>,
    values: Vec<Value>,
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Packed {
            buf: Vec::new(),
            len: 0,
        }
    }
}

/// The names of a small hash, in order.
fn names(packed: &[u8]) -> Names<'_> {
    Names { rest: packed }
}

/// Iterator over a small hash's packed names.
#[derive(Clone, Debug)]
struct Names<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Names<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (&len, tail) = self.rest.split_first()?;
        let (name, tail) = tail.split_at(usize::from(len));
        self.rest = tail;
        Some(name)
    }
}

/// The position of `name` among a small hash's names, and the byte offset of its
/// entry.
fn find(packed: &[u8], name: &[u8]) -> Option<(usize, usize)> {
    let mut at = 0;
    let mut i = 0;
    while at < packed.len() {
        let len = usize::from(packed[at]);
        if packed[at + 1..at + 1 + len] == *name {
            return Some((i, at));
        }
        at += 1 + len;
        i += 1;
    }
    None
}

/// Iterator over a packed hash's `(name, value)` entries.
#[derive(Clone, Debug)]
struct Entries<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Entries<'a> {
    type Item = (&'a [u8], &'a [u8]);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let [n, v, tail @ ..] = self.rest else {
            return None;
        };
        let (name, tail) = tail.split_at(usize::from(*n));
        let (value, tail) = tail.split_at(usize::from(*v));
        self.rest = tail;
        Some((name, value))
    }
}

/// A packed entry found: its position, the byte range of the whole entry, and where
/// its value's bytes start.
struct Found {
    i: usize,
    at: usize,
    value_at: usize,
    end: usize,
}

/// Finds `name` in a packed buffer.
#[inline]
fn find_packed(buf: &[u8], name: &[u8]) -> Option<Found> {
    let mut at = 0;
    let mut i = 0;
    while at < buf.len() {
        // Both lengths lead the entry: one load finds the next entry.
        let (n, v) = (usize::from(buf[at]), usize::from(buf[at + 1]));
        let value_at = at + 2 + n;
        let end = value_at + v;
        if n == name.len() && buf[at + 2..value_at] == *name {
            return Some(Found {
                i,
                at,
                value_at,
                end,
            });
        }
        at = end;
        i += 1;
    }
    None
}

/// Whether `name` = `value` may live in a packed hash.
#[inline]
fn packable(name: &[u8], value: &Value) -> bool {
    name.len() <= PACKED_MAX && matches!(value, Value::Str(s) if s.len() <= PACKED_MAX)
}

impl Hash {
    /// An empty hash (allocates nothing).
    pub fn new() -> Hash {
        Hash::default()
    }

    /// An empty hash with room for `n` fields of names averaging `name_bytes` bytes
    /// (packed while `n` allows: the room is for names and short values).
    pub fn with_capacity(n: usize, name_bytes: usize) -> Hash {
        if n > SMALL_HASH_FIELDS {
            return Hash(Repr::Large(Box::new(Map::with_capacity_and_hasher(
                n,
                Default::default(),
            ))));
        }
        Hash(Repr::Packed {
            buf: Vec::with_capacity(n * (2 + name_bytes.min(PACKED_MAX))),
            len: 0,
        })
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Packed { len, .. } => *len as usize,
            Repr::Small(s) => s.values.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether names and values are packed in one buffer (for tests and memory
    /// reports).
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Packed { .. })
    }

    /// Whether the hash is packed or small (not yet a map).
    pub fn is_compact(&self) -> bool {
        !matches!(self.0, Repr::Large(_))
    }

    #[inline]
    pub fn get(&self, name: &[u8]) -> Option<Field<'_>> {
        match &self.0 {
            Repr::Packed { buf, .. } => {
                find_packed(buf, name).map(|f| Field::Bytes(&buf[f.value_at..f.end]))
            }
            Repr::Small(s) => find(&s.names, name).map(|(i, _)| Field::Value(&s.values[i])),
            Repr::Large(m) => m.get(name).map(Field::Value),
        }
    }

    /// The value of `name` for writing (a packed hash unpacks first).
    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Value> {
        self.unpack_values();
        match &mut self.0 {
            Repr::Packed { .. } => None,
            Repr::Small(s) => find(&s.names, name).map(|(i, _)| &mut s.values[i]),
            Repr::Large(m) => m.get_mut(name),
        }
    }

    pub fn contains_key(&self, name: &[u8]) -> bool {
        self.get_index_of(name).is_some()
    }

    /// The position of `name` in insertion order.
    pub fn get_index_of(&self, name: &[u8]) -> Option<usize> {
        match &self.0 {
            Repr::Packed { buf, .. } => find_packed(buf, name).map(|f| f.i),
            Repr::Small(s) => find(&s.names, name).map(|(i, _)| i),
            Repr::Large(m) => m.get_index_of(name),
        }
    }

    /// The `i`-th field in insertion order.
    pub fn get_index(&self, i: usize) -> Option<(&[u8], Field<'_>)> {
        match &self.0 {
            Repr::Packed { buf, .. } => Entries { rest: buf }
                .nth(i)
                .map(|(k, v)| (k, Field::Bytes(v))),
            Repr::Small(s) => Some((names(&s.names).nth(i)?, Field::Value(s.values.get(i)?))),
            Repr::Large(m) => m.get_index(i).map(|(k, v)| (&k[..], Field::Value(v))),
        }
    }

    /// The value of the `i`-th field, for writing (a packed hash unpacks first).
    pub fn get_index_mut(&mut self, i: usize) -> Option<&mut Value> {
        self.unpack_values();
        match &mut self.0 {
            Repr::Packed { .. } => None,
            Repr::Small(s) => s.values.get_mut(i),
            Repr::Large(m) => m.get_index_mut(i).map(|(_, v)| v),
        }
    }

    /// Sets `name` to the string `value`, answering whether the field is new (HSET's
    /// path: no `Value` made while the hash stays packed).
    #[inline]
    pub fn set_str(&mut self, name: &[u8], value: &[u8]) -> bool {
        if name.len() <= PACKED_MAX && value.len() <= PACKED_MAX {
            if let Repr::Packed { buf, len } = &mut self.0 {
                if let Some(new) = packed_set(buf, len, name, value) {
                    return new;
                }
            }
        }
        self.insert(name, Value::string(value)).is_none()
    }

    /// Sets each `(name, value)` string pair in turn (HSET's fields), answering how
    /// many fields are new; a packed hash grows once for all of them.
    pub fn set_strs<'p, I>(&mut self, pairs: I) -> usize
    where
        I: Iterator<Item = (&'p [u8], &'p [u8])> + Clone,
    {
        if let Repr::Packed { buf, .. } = &mut self.0 {
            let need: usize = pairs.clone().map(|(k, v)| 2 + k.len() + v.len()).sum();
            buf.reserve_exact(need);
        }
        let added = pairs.filter(|(k, v)| self.set_str(k, v)).count();
        if let Repr::Packed { buf, .. } = &mut self.0 {
            if buf.capacity() > buf.len() {
                buf.shrink_to_fit();
            }
        }
        added
    }

    /// Sets `name` to `value`, answering the value replaced (a replaced field keeps its
    /// position). A compact hash grows by exactly one field.
    pub fn insert(&mut self, name: &[u8], value: Value) -> Option<Value> {
        if let Repr::Packed { buf, len } = &mut self.0 {
            if packable(name, &value) {
                let old = find_packed(buf, name).map(|f| Value::string(&buf[f.value_at..f.end]));
                let s = value.as_str().map_or(&[][..], |s| &s[..]);
                if packed_set(buf, len, name, s).is_some() {
                    return old;
                }
            }
            self.unpack_values();
        }
        if let Some(v) = self.get_mut(name) {
            return Some(std::mem::replace(v, value));
        }
        if let Repr::Small(s) = &self.0 {
            if s.values.len() >= SMALL_HASH_FIELDS || name.len() > SMALL_NAME_MAX {
                self.unpack();
            }
        }
        match &mut self.0 {
            Repr::Packed { .. } => unreachable!("unpacked above"),
            Repr::Small(s) => {
                s.names.reserve_exact(1 + name.len());
                s.names.push(name.len() as u8);
                s.names.extend_from_slice(name);
                s.values.reserve_exact(1);
                s.values.push(value);
            }
            Repr::Large(m) => {
                m.insert(Str::copy_from_slice(name), value);
            }
        }
        None
    }

    /// Removes `name`: in place while compact (insertion order kept), by swapping in
    /// the last field once large.
    pub fn remove(&mut self, name: &[u8]) -> Option<Value> {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let f = find_packed(buf, name)?;
                let old = Value::string(&buf[f.value_at..f.end]);
                buf.drain(f.at..f.end);
                *len -= 1;
                Some(old)
            }
            Repr::Small(s) => {
                let (i, at) = find(&s.names, name)?;
                s.names.drain(at..at + 1 + name.len());
                Some(s.values.remove(i))
            }
            Repr::Large(m) if m.len() <= SMALL_HASH_FIELDS => m.shift_remove(name),
            Repr::Large(m) => m.swap_remove(name),
        }
    }

    /// Removes and answers the last field.
    pub fn pop(&mut self) -> Option<(Str, Value)> {
        match &mut self.0 {
            Repr::Packed { buf, len } => {
                let mut at = 0;
                let mut last = None;
                for (k, v) in (Entries { rest: buf }) {
                    last = Some((at, Str::copy_from_slice(k), Value::string(v)));
                    at += 2 + k.len() + v.len();
                }
                let (at, k, v) = last?;
                buf.truncate(at);
                *len -= 1;
                Some((k, v))
            }
            Repr::Small(s) => {
                let SmallForm {
                    names: packed,
                    values,
                } = &mut **s;
                let value = values.pop()?;
                let last = names(packed)
                    .last()
                    .map(|n| (packed.len() - n.len() - 1, n))?;
                let name = Str::copy_from_slice(last.1);
                packed.truncate(last.0);
                Some((name, value))
            }
            Repr::Large(m) => m.pop(),
        }
    }

    /// The fields in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.0 {
            Repr::Packed { buf, .. } => Iter(IterRepr::Packed(Entries { rest: buf })),
            Repr::Small(s) => Iter(IterRepr::Small(names(&s.names).zip(s.values.iter()))),
            Repr::Large(m) => Iter(IterRepr::Large(m.iter())),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = Field<'_>> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Heap bytes held, roughly (INFO memory, deferred drops).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Packed { buf, .. } => buf.capacity(),
            Repr::Small(s) => {
                std::mem::size_of::<SmallForm>()
                    + s.names.capacity()
                    + s.values.capacity() * std::mem::size_of::<Value>()
                    + s.values.iter().map(Value::heap_size).sum::<usize>()
            }
            Repr::Large(m) => m
                .iter()
                .map(|(k, v)| k.heap_size() + v.heap_size() + 96)
                .sum(),
        }
    }

    /// Turns a packed hash into a small one (names packed, values as [`Value`]s).
    fn unpack_values(&mut self) {
        let Repr::Packed { buf, len } = &self.0 else {
            return;
        };
        let name_bytes: usize = Entries { rest: buf }.map(|(k, _)| 1 + k.len()).sum();
        let mut names = Vec::with_capacity(name_bytes);
        let mut values = Vec::with_capacity(*len as usize + 1);
        for (k, v) in (Entries { rest: buf }) {
            names.push(k.len() as u8);
            names.extend_from_slice(k);
            values.push(Value::string(v));
        }
        self.0 = Repr::Small(Box::new(SmallForm { names, values }));
    }

    /// Turns a compact hash into a map (it stays one).
    fn unpack(&mut self) {
        self.unpack_values();
        let Repr::Small(small) = std::mem::take(&mut self.0) else {
            return;
        };
        let SmallForm {
            names: packed,
            values,
        } = *small;
        let mut m = Map::with_capacity_and_hasher(values.len() + 1, Default::default());
        for (name, value) in names(&packed).zip(values) {
            m.insert(Str::copy_from_slice(name), value);
        }
        self.0 = Repr::Large(Box::new(m));
    }
}

/// Sets `name` to `value` in a packed buffer of `len` entries (both at most
/// [`PACKED_MAX`] bytes), growing the buffer by exactly what it needs. Answers whether the field is new, or
/// `None` (nothing done) for a new field when the hash already has
/// [`SMALL_HASH_FIELDS`].
fn packed_set(buf: &mut Vec<u8>, len: &mut u32, name: &[u8], value: &[u8]) -> Option<bool> {
    if let Some(f) = find_packed(buf, name) {
        let old = f.end - f.value_at;
        if value.len() > old {
            buf.reserve_exact(value.len() - old);
        }
        buf[f.at + 1] = value.len() as u8;
        if value.len() == old {
            buf[f.value_at..f.end].copy_from_slice(value);
        } else {
            buf.splice(f.value_at..f.end, value.iter().copied());
        }
        if value.len() < old {
            buf.shrink_to_fit();
        }
        return Some(false);
    }
    if *len as usize >= SMALL_HASH_FIELDS {
        return None;
    }
    buf.reserve_exact(2 + name.len() + value.len());
    buf.push(name.len() as u8);
    buf.push(value.len() as u8);
    buf.extend_from_slice(name);
    buf.extend_from_slice(value);
    *len += 1;
    Some(true)
}

/// Iterator over a hash's fields in insertion order.
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug)]
enum IterRepr<'a> {
    Packed(Entries<'a>),
    Small(std::iter::Zip<Names<'a>, std::slice::Iter<'a, Value>>),
    Large(indexmap::map::Iter<'a, Str, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], Field<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Packed(it) => it.next().map(|(k, v)| (k, Field::Bytes(v))),
            IterRepr::Small(it) => it.next().map(|(k, v)| (k, Field::Value(v))),
            IterRepr::Large(it) => it.next().map(|(k, v)| (&k[..], Field::Value(v))),
        }
    }
}

impl<'a> IntoIterator for &'a Hash {
    type Item = (&'a [u8], Field<'a>);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Equal when they hold the same fields with equal values, in any order (as
/// `IndexMap`'s equality, and as Redis compares hashes: never by order).
impl PartialEq for Hash {
    fn eq(&self, other: &Hash) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(k, v)| (bytes::Bytes::copy_from_slice(k), v.to_value())),
            )
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(n: i64) -> Value {
        Value::Number(n as f64)
    }

    #[test]
    fn a_small_record_is_packed_exactly() {
        let mut h = Hash::new();
        for i in 0..10 {
            assert_eq!(h.insert(format!("field{i}").as_bytes(), v(i)), None);
        }
        assert!(h.is_compact() && !h.is_packed(), "numbers are not packed");
        let Repr::Small(small) = &h.0 else {
            unreachable!()
        };
        let SmallForm { names, values } = &**small;
        assert_eq!(names.capacity(), names.len(), "names sized exactly");
        assert_eq!(names.len(), 10 * 7);
        assert_eq!(values.capacity(), 10, "values sized exactly");
        assert_eq!(h.get(b"field3"), Some(Field::Value(&v(3))));
        assert_eq!(h.insert(b"field3", v(33)), Some(v(3)), "replaced in place");
        assert_eq!(h.get_index(3), Some((&b"field3"[..], Field::Value(&v(33)))));
        assert_eq!(h.remove(b"field0"), Some(v(0)));
        assert_eq!(
            h.get_index(0),
            Some((&b"field1"[..], Field::Value(&v(1)))),
            "order kept"
        );
        assert_eq!(h.pop(), Some((Str::from("field9"), v(9))));
        assert_eq!(h.len(), 8);
    }

    #[test]
    fn it_unpacks_past_the_small_size_or_on_a_long_name() {
        let mut h = Hash::new();
        for i in 0..SMALL_HASH_FIELDS {
            h.insert(format!("f{i}").as_bytes(), v(i as i64));
        }
        assert!(h.is_compact());
        h.insert(b"one more", v(-1));
        assert!(!h.is_compact());
        assert_eq!(
            h.get_index(0),
            Some((&b"f0"[..], Field::Value(&v(0)))),
            "order kept"
        );
        assert_eq!(h.get(b"one more"), Some(Field::Value(&v(-1))));

        let mut h = Hash::new();
        h.insert(b"short", v(1));
        let long = vec![b'n'; SMALL_NAME_MAX + 1];
        h.insert(&long, v(2));
        assert!(!h.is_compact());
        assert_eq!(h.get(&long), Some(Field::Value(&v(2))));
        assert_eq!(h.keys().collect::<Vec<_>>(), vec![&b"short"[..], &long[..]]);
    }

    /// Random operations against a plain ordered model: every answer and the order of
    /// the fields agree, packed or not (the names cover the empty one, the longest a
    /// packed hash holds, and longer).
    #[test]
    fn agrees_with_a_model_under_random_operations() {
        let mut next = crate::test_rng(0x9E37_79B9_7F4A_7C15u64);
        for round in 0..40 {
            // Strings (packed while short) in half the rounds, numbers in the rest; one
            // round in four writes a string too long to pack now and then.
            let v = |n: i64| match round % 4 {
                0 => Value::string(format!("s{n}").as_bytes()),
                1 if n % 50 == 0 => Value::string(&[b'z'; PACKED_MAX + 1]),
                1 => Value::string(n.to_string().as_bytes()),
                _ => Value::Number(n as f64),
            };
            let mut h = Hash::new();
            let mut model: Vec<(Vec<u8>, i64)> = Vec::new();
            // Few names in some rounds (replacements), many in others (unpacking).
            let names = if round % 2 == 0 { 20 } else { 400 };
            for step in 0..2_000 {
                let r = next();
                let name: Vec<u8> = match r % 97 {
                    0 => Vec::new(),
                    1 => vec![b'x'; SMALL_NAME_MAX],
                    2 => vec![b'y'; SMALL_NAME_MAX + 1],
                    _ => format!("k{}", (r >> 8) % names).into_bytes(),
                };
                let n = (r >> 32) as i64 % 1000;
                match (r >> 16) % 6 {
                    0..=2 => {
                        let old = match model.iter_mut().find(|(k, _)| *k == name) {
                            Some(e) => Some(std::mem::replace(&mut e.1, n)),
                            None => {
                                model.push((name.clone(), n));
                                None
                            }
                        };
                        assert_eq!(h.insert(&name, v(n)), old.map(v), "step {step}");
                    }
                    3 | 4 => {
                        let at = model.iter().position(|(k, _)| *k == name);
                        let old = at.map(|i| {
                            if model.len() <= SMALL_HASH_FIELDS {
                                model.remove(i).1
                            } else {
                                model.swap_remove(i).1
                            }
                        });
                        assert_eq!(h.remove(&name), old.map(v), "step {step}");
                    }
                    _ => {
                        let got = h.pop().map(|(k, x)| (k.to_vec(), x));
                        assert_eq!(got, model.pop().map(|(k, x)| (k, v(x))), "step {step}");
                    }
                }
                assert_eq!(h.len(), model.len());
                if step % 50 == 0 {
                    let got: Vec<(Vec<u8>, Value)> =
                        h.iter().map(|(k, x)| (k.to_vec(), x.to_value())).collect();
                    let want: Vec<(Vec<u8>, Value)> =
                        model.iter().map(|(k, x)| (k.clone(), v(*x))).collect();
                    assert_eq!(got, want, "round {round} step {step}");
                    for (i, (k, x)) in model.iter().enumerate() {
                        assert_eq!(h.get_index_of(k), Some(i));
                        assert_eq!(h.get(k), Some(Field::Value(&v(*x))));
                        assert_eq!(h.get_index(i).map(|(n, _)| n), Some(&k[..]));
                    }
                    assert_eq!(h.get(b"absent name"), None);
                }
            }
        }
    }

    fn s(text: &str) -> Value {
        Value::string(text.as_bytes())
    }

    fn packed_bytes(h: &Hash) -> (usize, usize) {
        match &h.0 {
            Repr::Packed { buf, .. } => (buf.len(), buf.capacity()),
            _ => panic!("not packed"),
        }
    }

    #[test]
    fn a_record_of_short_strings_is_one_exact_buffer_and_every_accessor_reads_it() {
        let mut h = Hash::new();
        let pairs: Vec<(String, String)> = (0..10)
            .map(|i| (format!("field{i}"), format!("v{i:08}")))
            .collect();
        let added = h.set_strs(pairs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
        assert_eq!(added, 10);
        assert!(h.is_packed());
        assert_eq!(packed_bytes(&h), (10 * (2 + 6 + 9), 10 * (2 + 6 + 9)));
        assert_eq!(h.heap_size(), 170);
        assert_eq!(h.len(), 10);
        assert_eq!(h.get(b"field3"), Some(Field::Bytes(b"v00000003")));
        assert_eq!(h.get(b"field3").unwrap(), s("v00000003"));
        assert_eq!(h.get(b"nope"), None);
        assert!(h.contains_key(b"field9") && !h.contains_key(b"field"));
        assert_eq!(h.get_index_of(b"field4"), Some(4));
        assert_eq!(
            h.get_index(2),
            Some((&b"field2"[..], Field::Bytes(b"v00000002")))
        );
        assert_eq!(h.get_index(10), None);
        let keys: Vec<&[u8]> = h.keys().collect();
        assert_eq!(keys.len(), 10);
        assert_eq!(keys[9], b"field9");
        let values: Vec<Value> = h.values().map(Field::to_value).collect();
        assert_eq!(values[0], s("v00000000"));
        // Replacing, longer, shorter and empty: in place, the buffer exact each time.
        assert!(!h.set_str(b"field1", b"a longer value than before"));
        assert!(!h.set_str(b"field2", b""));
        assert_eq!(h.insert(b"field3", s("x")), Some(s("v00000003")));
        let (len, cap) = packed_bytes(&h);
        assert_eq!(len, cap);
        assert_eq!(len, 170 + 17 - 9 - 8);
        assert_eq!(
            h.get(b"field1"),
            Some(Field::Bytes(b"a longer value than before"))
        );
        assert_eq!(h.get(b"field2"), Some(Field::Bytes(b"")));
        assert_eq!(h.get_index(3), Some((&b"field3"[..], Field::Bytes(b"x"))));
        // Removing keeps the order; pop takes the last field.
        assert_eq!(h.remove(b"field0"), Some(s("v00000000")));
        assert_eq!(h.remove(b"field0"), None);
        assert_eq!(h.get_index(0).unwrap().0, b"field1");
        assert_eq!(h.pop(), Some((Str::from("field9"), s("v00000009"))));
        assert_eq!(h.len(), 8);
        assert!(h.is_packed());
        // An empty name and value are fine; so are equal hashes in other forms.
        assert!(h.set_str(b"", b""));
        assert_eq!(h.get(b""), Some(Field::Bytes(b"")));
        let mut other = h.clone();
        other.get_mut(b"field1");
        assert!(!other.is_packed());
        assert_eq!(h, other);
        assert_eq!(format!("{h:?}"), format!("{other:?}"));
        while h.pop().is_some() {}
        assert!(h.is_empty() && h.is_packed());
    }

    #[test]
    fn packing_stops_at_redis_listpack_limits_and_on_mutable_access() {
        // 128 fields stay packed; the 129th makes a map, in order.
        let mut h = Hash::new();
        for i in 0..SMALL_HASH_FIELDS {
            assert!(h.set_str(format!("f{i}").as_bytes(), b"v"));
        }
        assert!(h.is_packed());
        assert!(
            !h.set_str(b"f0", b"w"),
            "a replacement at the limit stays packed"
        );
        assert!(h.is_packed());
        assert!(h.set_str(b"one more", b"v"));
        assert!(!h.is_compact());
        assert_eq!(h.get_index(0), Some((&b"f0"[..], Field::Value(&s("w")))));
        assert_eq!(h.get(b"one more"), Some(Field::Value(&s("v"))));
        assert_eq!(h.len(), SMALL_HASH_FIELDS + 1);

        // A value or name of PACKED_MAX bytes is packed, one byte more is not.
        let at = [b'a'; PACKED_MAX];
        let over = [b'a'; PACKED_MAX + 1];
        for (name, value, packed) in [
            (&b"n"[..], &at[..], true),
            (&at[..], &b"v"[..], true),
            (&b"n"[..], &over[..], false),
            (&over[..], &b"v"[..], false),
        ] {
            let mut h = Hash::new();
            h.set_str(b"first", b"1");
            h.set_str(name, value);
            assert_eq!(h.is_packed(), packed, "{} {}", name.len(), value.len());
            assert!(h.is_compact());
            assert_eq!(h.get(name).unwrap().str_bytes(), Some(value));
            assert_eq!(h.get_index(0).unwrap(), (&b"first"[..], Field::Bytes(b"1")));
        }

        // Anything but a short string unpacks: a number, a nested hash.
        for value in [Value::Number(1.0), Value::new_hash(), Value::Null] {
            let mut h = Hash::new();
            h.set_str(b"a", b"1");
            assert_eq!(h.insert(b"b", value.clone()), None);
            assert!(!h.is_packed() && h.is_compact());
            assert_eq!(h.get(b"b"), Some(Field::Value(&value)));
            assert_eq!(h.get(b"a").unwrap(), s("1"));
        }
        // So does a replacement by a long string.
        let mut h = Hash::new();
        h.set_str(b"a", b"1");
        assert_eq!(h.insert(b"a", Value::string(&over)), Some(s("1")));
        assert!(!h.is_packed());

        // `&mut` access: get_mut and get_index_mut hand out a Value after unpacking.
        let mut h = Hash::new();
        h.set_str(b"a", b"1");
        h.set_str(b"b", b"2");
        *h.get_mut(b"b").unwrap() = Value::Number(3.0);
        assert!(!h.is_packed());
        assert_eq!(h.get(b"b"), Some(Field::Value(&Value::Number(3.0))));
        let mut h = Hash::new();
        h.set_str(b"a", b"1");
        assert_eq!(h.get_mut(b"zz"), None, "absent, but unpacked all the same");
        assert!(!h.is_packed());
        let mut h = Hash::new();
        h.set_str(b"a", b"1");
        *h.get_index_mut(0).unwrap() = s("2");
        assert_eq!(h.get(b"a").unwrap(), s("2"));
        assert_eq!(h.keys().collect::<Vec<_>>(), vec![&b"a"[..]]);
        // A JSON-sized hash is packed when made with room.
        let h = Hash::with_capacity(3, 5);
        assert!(h.is_packed());
        assert!(!Hash::with_capacity(SMALL_HASH_FIELDS + 1, 5).is_compact());
    }
}
