//! [`Field`]: a member of a hash or list read in place, packed bytes or a `&Value`.
//!
//! Small hashes and lists of short strings keep their members packed in one byte
//! buffer (as Redis's listpack does), so a member is not always a [`Value`] in memory.
//! Readers get a `Field`: the bytes of a packed string, or a reference to a full
//! `Value`. [`Field::str_bytes`] serves the commands that only want a string's bytes;
//! [`Field::cow`] gives tree walkers a `Value` (borrowed, or a short string made on the
//! stack: a packed member is at most 64 bytes).

use std::borrow::Cow;

use crate::value::{Hash, Kind, List, Value};

/// A member of a hash or list: a packed string's bytes or a full value.
#[derive(Clone, Copy, Debug)]
pub enum Field<'a> {
    /// A string kept packed: its bytes.
    Bytes(&'a [u8]),
    /// A member kept as a full value.
    Value(&'a Value),
}

impl<'a> Field<'a> {
    /// The full value, when the member is kept as one.
    pub fn as_value(self) -> Option<&'a Value> {
        match self {
            Field::Value(v) => Some(v),
            Field::Bytes(_) => None,
        }
    }

    /// The bytes of a string member (packed or a [`Value::Str`]); `None` for any other
    /// kind.
    #[inline]
    pub fn str_bytes(self) -> Option<&'a [u8]> {
        match self {
            Field::Bytes(b) => Some(b),
            Field::Value(Value::Str(s)) => Some(s),
            Field::Value(_) => None,
        }
    }

    /// The member as a value: borrowed when it is one, made when packed.
    pub fn cow(self) -> Cow<'a, Value> {
        match self {
            Field::Bytes(b) => Cow::Owned(Value::string(b)),
            Field::Value(v) => Cow::Borrowed(v),
        }
    }

    /// The member as an owned value.
    pub fn to_value(self) -> Value {
        self.cow().into_owned()
    }

    pub fn kind(self) -> Kind {
        match self {
            Field::Bytes(_) => Kind::String,
            Field::Value(v) => v.kind(),
        }
    }

    pub fn as_hash(self) -> Option<&'a Hash> {
        self.as_value().and_then(Value::as_hash)
    }

    pub fn as_list(self) -> Option<&'a List> {
        self.as_value().and_then(Value::as_list)
    }
}

/// Equal as the values are (a packed string equals the same [`Value::Str`]).
impl PartialEq for Field<'_> {
    fn eq(&self, other: &Field<'_>) -> bool {
        match (*self, *other) {
            (Field::Value(a), Field::Value(b)) => a == b,
            (a, b) => a.str_bytes().is_some() && a.str_bytes() == b.str_bytes(),
        }
    }
}

impl PartialEq<Value> for Field<'_> {
    fn eq(&self, other: &Value) -> bool {
        *self == Field::Value(other)
    }
}

impl PartialEq<&Value> for Field<'_> {
    fn eq(&self, other: &&Value) -> bool {
        *self == Field::Value(other)
    }
}

impl<'a> From<&'a Value> for Field<'a> {
    fn from(v: &'a Value) -> Field<'a> {
        Field::Value(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_and_full_strings_compare_and_convert_alike() {
        let full = Value::string(b"abc");
        let packed = Field::Bytes(b"abc");
        assert_eq!(packed, Field::Value(&full));
        assert_eq!(packed, full);
        assert_ne!(packed, Field::Bytes(b"abd"));
        assert_ne!(packed, Value::Number(1.0));
        assert_eq!(packed.str_bytes(), Some(&b"abc"[..]));
        assert_eq!(Field::Value(&Value::Null).str_bytes(), None);
        assert_eq!(packed.to_value(), full);
        assert!(matches!(packed.cow(), Cow::Owned(_)));
        assert!(matches!(Field::Value(&full).cow(), Cow::Borrowed(_)));
        assert_eq!(packed.kind(), Kind::String);
        assert_eq!(packed.as_value(), None);
        let h = Value::new_hash();
        assert!(Field::Value(&h).as_hash().is_some());
        assert!(packed.as_hash().is_none() && packed.as_list().is_none());
        assert_eq!(Field::Value(&Value::Null), Value::Null);
    }
}
