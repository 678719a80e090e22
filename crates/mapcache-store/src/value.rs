//! The value model: every stored value is a tree.
//!
//! Redis's types map onto JSON-like nodes: a string is [`Value::Str`], a hash is an
//! object ([`Value::Hash`], insertion ordered like Redis's small hashes and like JSON
//! documents), a list is an array ([`Value::List`]). Documents written over HTTP add
//! the JSON scalars ([`Value::Number`], [`Value::Bool`], [`Value::Null`]); in flat key
//! mode RESP commands only ever create strings, hashes of strings and lists of strings.

pub use crate::string::Str;

// 40 bytes, a short string included (see `Str`); the store's slot size depends on it.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Value>() == 40);

pub use crate::hash::{Hash, SMALL_HASH_FIELDS};
pub use crate::list::{List, SMALL_LIST_ITEMS};

/// One stored value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A Redis string: binary-safe bytes (integers are kept as their decimal text),
    /// inline up to [`Str::INLINE`] bytes.
    Str(Str),
    /// A Redis hash / JSON object (packed while small: see [`Hash`]; 32 bytes, so it
    /// needs no box of its own to keep the enum at 40).
    Hash(Hash),
    /// A Redis list / JSON array (packed while small: see [`List`]).
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
    /// JSON booleans and null (only the HTTP API writes them). `TYPE` answers
    /// `ReJSON-RL`, RedisJSON's name for a JSON value; string commands read their JSON
    /// text (`GET` of `true` answers `true`). A JSON number is a [`Kind::String`]: it
    /// is what INCR stores, and string commands read its decimal text.
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
            Value::Str(_) | Value::Number(_) => Kind::String,
            Value::Hash(_) => Kind::Hash,
            Value::List(_) => Kind::List,
            Value::Bool(_) | Value::Null => Kind::Json,
        }
    }

    /// What INCR, INCRBY, DECR, DECRBY and HINCRBY store: the integer `n` as a JSON
    /// number (so the HTTP API, and map-cache's programs and triggers, read a number,
    /// as the Go server stores it), or as decimal text when `n` is beyond ±2^53, where
    /// an `f64` would no longer hold it exactly. Either way a RESP client reads the
    /// same decimal digits.
    pub fn counter(n: i64) -> Value {
        const EXACT: i64 = 1 << 53;
        if (-EXACT..=EXACT).contains(&n) {
            Value::Number(n as f64)
        } else {
            Value::string(itoa::Buffer::new().format(n).as_bytes())
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
            Value::Hash(h) => h.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Number(_) | Value::Bool(_) | Value::Null => 0,
        }
    }

    /// A new empty hash.
    pub fn new_hash() -> Value {
        Value::Hash(Hash::new())
    }

    /// A hash holding `hash`.
    pub fn hash(hash: Hash) -> Value {
        Value::Hash(hash)
    }

    /// A new empty list.
    pub fn new_list() -> Value {
        Value::List(List::new())
    }
}

/// Makes room for `additional` more items ([`List::reserve`]).
pub fn list_reserve(list: &mut List, additional: usize) {
    list.reserve(additional);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_redis_names_and_rejson_for_json_scalars() {
        assert_eq!(Value::string(b"x").kind().redis_name(), "string");
        assert_eq!(Value::Number(1.5).kind().redis_name(), "string");
        assert_eq!(Value::new_hash().kind().redis_name(), "hash");
        assert_eq!(Value::new_list().kind().redis_name(), "list");
        for v in [Value::Bool(true), Value::Null] {
            assert_eq!(v.kind().redis_name(), "ReJSON-RL");
        }
    }

    #[test]
    fn counters_are_numbers_while_an_f64_holds_them_exactly() {
        assert_eq!(Value::counter(41), Value::Number(41.0));
        assert_eq!(
            Value::counter(-(1 << 53)),
            Value::Number(-9007199254740992.0)
        );
        assert_eq!(
            Value::counter((1 << 53) + 1),
            Value::string(b"9007199254740993")
        );
        assert_eq!(
            Value::counter(i64::MIN),
            Value::string(b"-9223372036854775808")
        );
    }
}
