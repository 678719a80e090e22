//! The value model: every stored value is a tree.
//!
//! Redis's types map onto JSON-like nodes: a string is [`Value::Str`], a hash is an
//! object ([`Value::Hash`], insertion ordered like Redis's small hashes and like JSON
//! documents), a list is an array ([`Value::List`]). Documents written over HTTP add
//! the JSON scalars ([`Value::Number`], [`Value::Bool`], [`Value::Null`]); in flat key
//! mode RESP commands only ever create strings, hashes of strings and lists of strings.

use std::collections::VecDeque;

use indexmap::IndexMap;

pub use crate::string::Str;

// 40 bytes, a short string included (see `Str`); the store's slot size depends on it.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Value>() == 40);

/// A hash (JSON object): field -> value, in insertion order. Field names are [`Str`]s,
/// inline up to 38 bytes like short values: a field costs no heap block of its own.
pub type Hash = IndexMap<Str, Value, hashbrown::DefaultHashBuilder>;
/// A list (JSON array).
pub type List = VecDeque<Value>;

/// Hashes up to this many fields delete in place (keeping insertion order, as Redis's
/// listpack encoding does); larger ones swap-remove in O(1), like Redis's hashtable
/// encoding whose order is unspecified anyway.
pub const SMALL_HASH_FIELDS: usize = 128;

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A Redis string: binary-safe bytes (integers are kept as their decimal text),
    /// inline up to [`Str::INLINE`] bytes.
    Str(Str),
    /// A Redis hash / JSON object. Boxed: an `IndexMap` is 56 bytes, and keeping the
    /// enum at the size of a `Bytes` saves 24 bytes in every stored entry.
    Hash(Box<Hash>),
    /// A Redis list / JSON array.
    List(List),
    /// A JSON number written over HTTP.
    Number(f64),
    /// A JSON boolean written over HTTP.
    Bool(bool),
    /// JSON null written over HTTP.
    Null,
}

/// Redis's name for a value's type, as `TYPE` answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Hash,
    List,
    /// JSON scalars (number, boolean, null; only the HTTP API writes them). `TYPE`
    /// answers `ReJSON-RL`, RedisJSON's name for a JSON value; string commands read
    /// their JSON text (`GET` of the number 41 answers `41`).
    Json,
}

impl Kind {
    /// The text `TYPE` replies with.
    pub fn redis_name(self) -> &'static str {
        match self {
            Kind::String => "string",
            Kind::Json => "ReJSON-RL",
            Kind::Hash => "hash",
            Kind::List => "list",
        }
    }
}

impl Value {
    /// A string value owning a copy of `data` (never a slice of a network buffer,
    /// which would pin the whole buffer for as long as the key lives).
    pub fn string(data: &[u8]) -> Value {
        Value::Str(Str::copy_from_slice(data))
    }

    pub fn kind(&self) -> Kind {
        match self {
            Value::Str(_) => Kind::String,
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Number(_) | Value::Bool(_) | Value::Null => Kind::Json,
        }
    }

    /// The bytes of a string value, or `None` for any other kind.
    pub fn as_str(&self) -> Option<&Str> {
        match self {
            Value::Str(b) => Some(b),
            _ => None,
        }
    }

    pub fn as_hash(&self) -> Option<&Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn as_hash_mut(&mut self) -> Option<&mut Hash> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    pub fn as_list(&self) -> Option<&List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    pub fn as_list_mut(&mut self) -> Option<&mut List> {
        match self {
            Value::List(l) => Some(l),
            _ => None,
        }
    }

    /// A rough count of heap bytes held, for INFO memory and deferred-drop decisions.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(b) => b.heap_size(),
            Value::Hash(h) => h.iter().map(|(k, v)| k.len() + v.heap_size() + 48).sum(),
            Value::List(l) => l.iter().map(|v| v.heap_size() + 40).sum(),
            Value::Number(_) | Value::Bool(_) | Value::Null => 0,
        }
    }

    /// A new empty hash.
    pub fn new_hash() -> Value {
        Value::Hash(Box::default())
    }

    /// A hash holding `hash`.
    pub fn hash(hash: Hash) -> Value {
        Value::Hash(Box::new(hash))
    }

    /// A new empty list.
    pub fn new_list() -> Value {
        Value::List(List::new())
    }
}

/// Sets `field` to `value`, answering the value it replaces. A hash of up to
/// [`SMALL_HASH_FIELDS`] fields grows by exactly one entry, as Redis's listpack does,
/// instead of doubling: small hashes are most hashes, and doubling left up to half of
/// each one's entries unused (a 10-field hash held room for 14).
pub fn hash_insert(hash: &mut Hash, field: Str, value: Value) -> Option<Value> {
    if hash.len() < SMALL_HASH_FIELDS
        && hash.len() == hash.capacity()
        && !hash.contains_key(&*field)
    {
        hash.reserve_exact(1);
    }
    hash.insert(field, value)
}

/// Lists up to this many items grow by exactly what is pushed (see [`list_reserve`]).
pub const SMALL_LIST_ITEMS: usize = 128;

/// Makes room for `additional` more items: exactly that many while the list stays at
/// most [`SMALL_LIST_ITEMS`] long (a `VecDeque` otherwise doubles, and a 10-item list
/// held room for 16), amortised beyond.
pub fn list_reserve(list: &mut List, additional: usize) {
    if list.len() + additional <= SMALL_LIST_ITEMS {
        list.reserve_exact(additional);
    } else {
        list.reserve(additional);
    }
}

/// Removes `field` from a hash, keeping insertion order while the hash is small.
pub fn hash_remove(hash: &mut Hash, field: &[u8]) -> Option<Value> {
    if hash.len() <= SMALL_HASH_FIELDS {
        hash.shift_remove(field)
    } else {
        hash.swap_remove(field)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_hashes_grow_by_exactly_one_field() {
        let mut h = Hash::default();
        for i in 0..SMALL_HASH_FIELDS {
            let field = Str::from(format!("field{i}"));
            assert_eq!(
                hash_insert(&mut h, field.clone(), Value::string(b"v")),
                None
            );
            assert_eq!(h.capacity(), h.len(), "after {} fields", h.len());
            // Replacing a field neither grows nor reorders.
            let old = hash_insert(&mut h, field, Value::string(b"w"));
            assert_eq!(old, Some(Value::string(b"v")));
            assert_eq!(h.capacity(), h.len());
        }
        let order: Vec<String> = h
            .keys()
            .map(|k| String::from_utf8(k.to_vec()).unwrap())
            .collect();
        let want: Vec<String> = (0..SMALL_HASH_FIELDS)
            .map(|i| format!("field{i}"))
            .collect();
        assert_eq!(order, want, "insertion order kept");
        // Past the small size, growth is amortised again (no copy per insert).
        for i in SMALL_HASH_FIELDS..4 * SMALL_HASH_FIELDS {
            hash_insert(&mut h, Str::from(format!("field{i}")), Value::Null);
        }
        assert!(h.capacity() > h.len(), "a large hash keeps room to grow");
    }

    #[test]
    fn small_lists_grow_by_exactly_what_is_pushed() {
        let mut l = List::new();
        for n in 1..=SMALL_LIST_ITEMS {
            list_reserve(&mut l, 1);
            l.push_back(Value::Null);
            assert_eq!(l.capacity(), n);
        }
        list_reserve(&mut l, 1);
        l.push_back(Value::Null);
        assert!(l.capacity() > l.len(), "a large list keeps room to grow");
    }

    #[test]
    fn type_names_are_redis_names_and_rejson_for_json_scalars() {
        assert_eq!(Value::string(b"x").kind().redis_name(), "string");
        assert_eq!(Value::new_hash().kind().redis_name(), "hash");
        assert_eq!(Value::new_list().kind().redis_name(), "list");
        for v in [Value::Number(1.0), Value::Bool(true), Value::Null] {
            assert_eq!(v.kind().redis_name(), "ReJSON-RL");
        }
    }
}
