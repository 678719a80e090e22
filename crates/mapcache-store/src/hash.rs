//! [`Hash`]: a Redis hash / JSON object, in insertion order, compact while small.
//!
//! Most hashes are small records (a user, a session): a few fields with short names.
//! Up to [`SMALL_HASH_FIELDS`] fields with names of up to [`SMALL_NAME_MAX`] bytes, a
//! hash keeps its names packed in one buffer (`[length][bytes]` after one another) and
//! its values in a `Vec` in the same order, both sized exactly; lookups scan the names,
//! as Redis scans its listpack. A larger hash, or one given a longer name, becomes an
//! `IndexMap` for good (Redis does not convert back either).
//!
//! A 10-field record of short names and values costs one 40-byte [`Value`] per field and
//! about 7 bytes per name, instead of an 88-byte map entry and an index slot per field.

use std::fmt;

use indexmap::IndexMap;

use crate::string::Str;
use crate::value::Value;

/// Hashes up to this many fields are packed, and delete in place (keeping insertion
/// order, as Redis's listpack encoding does); larger ones swap-remove in O(1), like
/// Redis's hashtable encoding whose order is unspecified anyway.
pub const SMALL_HASH_FIELDS: usize = 128;

/// The longest field name a packed hash holds (its length is one byte).
pub const SMALL_NAME_MAX: usize = u8::MAX as usize;

type Map = IndexMap<Str, Value, hashbrown::DefaultHashBuilder>;

/// A hash (JSON object): field -> value, in insertion order.
#[derive(Clone, Default)]
pub struct Hash(Repr);

#[derive(Clone)]
enum Repr {
    /// `names`: each name as one length byte and its bytes; `values[i]` belongs to the
    /// `i`-th name.
    Small {
        names: Vec<u8>,
        values: Vec<Value>,
    },
    Large(Box<Map>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Small {
            names: Vec::new(),
            values: Vec::new(),
        }
    }
}

/// The names of a packed hash, in order.
fn names(packed: &[u8]) -> Names<'_> {
    Names { rest: packed }
}

/// Iterator over packed names.
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

/// The position of `name` among the packed names, and the byte offset of its entry.
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

impl Hash {
    /// An empty hash (allocates nothing).
    pub fn new() -> Hash {
        Hash::default()
    }

    /// An empty hash with room for `n` fields of names averaging `name_bytes` bytes.
    pub fn with_capacity(n: usize, name_bytes: usize) -> Hash {
        if n > SMALL_HASH_FIELDS {
            return Hash(Repr::Large(Box::new(Map::with_capacity_and_hasher(
                n,
                Default::default(),
            ))));
        }
        Hash(Repr::Small {
            names: Vec::with_capacity(n * (1 + name_bytes)),
            values: Vec::with_capacity(n),
        })
    }

    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Small { values, .. } => values.len(),
            Repr::Large(m) => m.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the hash is in its packed form (for tests and memory reports).
    pub fn is_packed(&self) -> bool {
        matches!(self.0, Repr::Small { .. })
    }

    pub fn get(&self, name: &[u8]) -> Option<&Value> {
        match &self.0 {
            Repr::Small { names, values } => find(names, name).map(|(i, _)| &values[i]),
            Repr::Large(m) => m.get(name),
        }
    }

    pub fn get_mut(&mut self, name: &[u8]) -> Option<&mut Value> {
        match &mut self.0 {
            Repr::Small { names, values } => find(names, name).map(|(i, _)| &mut values[i]),
            Repr::Large(m) => m.get_mut(name),
        }
    }

    pub fn contains_key(&self, name: &[u8]) -> bool {
        self.get_index_of(name).is_some()
    }

    /// The position of `name` in insertion order.
    pub fn get_index_of(&self, name: &[u8]) -> Option<usize> {
        match &self.0 {
            Repr::Small { names, .. } => find(names, name).map(|(i, _)| i),
            Repr::Large(m) => m.get_index_of(name),
        }
    }

    /// The `i`-th field in insertion order.
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &Value)> {
        match &self.0 {
            Repr::Small {
                names: packed,
                values,
            } => Some((names(packed).nth(i)?, values.get(i)?)),
            Repr::Large(m) => m.get_index(i).map(|(k, v)| (&k[..], v)),
        }
    }

    /// The value of the `i`-th field, for writing.
    pub fn get_index_mut(&mut self, i: usize) -> Option<&mut Value> {
        match &mut self.0 {
            Repr::Small { values, .. } => values.get_mut(i),
            Repr::Large(m) => m.get_index_mut(i).map(|(_, v)| v),
        }
    }

    /// Sets `name` to `value`, answering the value replaced (a replaced field keeps its
    /// position). A packed hash grows by exactly one field.
    pub fn insert(&mut self, name: &[u8], value: Value) -> Option<Value> {
        if let Some(v) = self.get_mut(name) {
            return Some(std::mem::replace(v, value));
        }
        if let Repr::Small { values, .. } = &self.0 {
            if values.len() >= SMALL_HASH_FIELDS || name.len() > SMALL_NAME_MAX {
                self.unpack();
            }
        }
        match &mut self.0 {
            Repr::Small { names, values } => {
                names.reserve_exact(1 + name.len());
                names.push(name.len() as u8);
                names.extend_from_slice(name);
                values.reserve_exact(1);
                values.push(value);
            }
            Repr::Large(m) => {
                m.insert(Str::copy_from_slice(name), value);
            }
        }
        None
    }

    /// Removes `name`: in place while small (insertion order kept), by swapping in the
    /// last field once large.
    pub fn remove(&mut self, name: &[u8]) -> Option<Value> {
        match &mut self.0 {
            Repr::Small { names, values } => {
                let (i, at) = find(names, name)?;
                names.drain(at..at + 1 + name.len());
                Some(values.remove(i))
            }
            Repr::Large(m) if m.len() <= SMALL_HASH_FIELDS => m.shift_remove(name),
            Repr::Large(m) => m.swap_remove(name),
        }
    }

    /// Removes and answers the last field.
    pub fn pop(&mut self) -> Option<(Str, Value)> {
        match &mut self.0 {
            Repr::Small {
                names: packed,
                values,
            } => {
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
            Repr::Small {
                names: packed,
                values,
            } => Iter(IterRepr::Small(names(packed).zip(values.iter()))),
            Repr::Large(m) => Iter(IterRepr::Large(m.iter())),
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> + '_ {
        self.iter().map(|(_, v)| v)
    }

    /// Heap bytes held, roughly (INFO memory, deferred drops).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Small { names, values } => {
                names.capacity()
                    + values.capacity() * std::mem::size_of::<Value>()
                    + values.iter().map(Value::heap_size).sum::<usize>()
            }
            Repr::Large(m) => m
                .iter()
                .map(|(k, v)| k.heap_size() + v.heap_size() + 96)
                .sum(),
        }
    }

    /// Turns a packed hash into a map (it stays one).
    fn unpack(&mut self) {
        let Repr::Small {
            names: packed,
            values,
        } = std::mem::take(&mut self.0)
        else {
            return;
        };
        let mut m = Map::with_capacity_and_hasher(values.len() + 1, Default::default());
        for (name, value) in names(&packed).zip(values) {
            m.insert(Str::copy_from_slice(name), value);
        }
        self.0 = Repr::Large(Box::new(m));
    }
}

/// Iterator over a hash's fields in insertion order.
#[derive(Debug)]
pub struct Iter<'a>(IterRepr<'a>);

#[derive(Debug)]
enum IterRepr<'a> {
    Small(std::iter::Zip<Names<'a>, std::slice::Iter<'a, Value>>),
    Large(indexmap::map::Iter<'a, Str, Value>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a Value);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Small(it) => it.next(),
            IterRepr::Large(it) => it.next().map(|(k, v)| (&k[..], v)),
        }
    }
}

impl<'a> IntoIterator for &'a Hash {
    type Item = (&'a [u8], &'a Value);
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
                    .map(|(k, v)| (bytes::Bytes::copy_from_slice(k), v)),
            )
            .finish()
    }
}

impl std::ops::Index<&[u8]> for Hash {
    type Output = Value;

    fn index(&self, name: &[u8]) -> &Value {
        self.get(name).expect("no such field")
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
        assert!(h.is_packed());
        let Repr::Small { names, values } = &h.0 else {
            unreachable!()
        };
        assert_eq!(names.capacity(), names.len(), "names sized exactly");
        assert_eq!(names.len(), 10 * 7);
        assert_eq!(values.capacity(), 10, "values sized exactly");
        assert_eq!(h.get(b"field3"), Some(&v(3)));
        assert_eq!(h.insert(b"field3", v(33)), Some(v(3)), "replaced in place");
        assert_eq!(h.get_index(3), Some((&b"field3"[..], &v(33))));
        assert_eq!(h.remove(b"field0"), Some(v(0)));
        assert_eq!(h.get_index(0), Some((&b"field1"[..], &v(1))), "order kept");
        assert_eq!(h.pop(), Some((Str::from("field9"), v(9))));
        assert_eq!(h.len(), 8);
    }

    #[test]
    fn it_unpacks_past_the_small_size_or_on_a_long_name() {
        let mut h = Hash::new();
        for i in 0..SMALL_HASH_FIELDS {
            h.insert(format!("f{i}").as_bytes(), v(i as i64));
        }
        assert!(h.is_packed());
        h.insert(b"one more", v(-1));
        assert!(!h.is_packed());
        assert_eq!(h.get_index(0), Some((&b"f0"[..], &v(0))), "order kept");
        assert_eq!(h.get(b"one more"), Some(&v(-1)));

        let mut h = Hash::new();
        h.insert(b"short", v(1));
        let long = vec![b'n'; SMALL_NAME_MAX + 1];
        h.insert(&long, v(2));
        assert!(!h.is_packed());
        assert_eq!(h.get(&long), Some(&v(2)));
        assert_eq!(h.keys().collect::<Vec<_>>(), vec![&b"short"[..], &long[..]]);
    }

    /// Random operations against a plain ordered model: every answer and the order of
    /// the fields agree, packed or not (the names cover the empty one, the longest a
    /// packed hash holds, and longer).
    #[test]
    fn agrees_with_a_model_under_random_operations() {
        let mut rng = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..40 {
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
                let n = (r >> 32) as i64;
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
                        h.iter().map(|(k, x)| (k.to_vec(), x.clone())).collect();
                    let want: Vec<(Vec<u8>, Value)> =
                        model.iter().map(|(k, x)| (k.clone(), v(*x))).collect();
                    assert_eq!(got, want, "round {round} step {step}");
                    for (i, (k, x)) in model.iter().enumerate() {
                        assert_eq!(h.get_index_of(k), Some(i));
                        assert_eq!(h.get(k), Some(&v(*x)));
                    }
                    assert_eq!(h.get(b"absent name"), None);
                }
            }
        }
    }
}
