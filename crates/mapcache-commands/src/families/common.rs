//! Helpers several command families share: how a stored [`Value`] reads as bytes in a
//! reply (a string command's view, a hash field's or list element's view).

use std::borrow::Cow;

use mapcache_store::{json, Field, Value};

use crate::error::CmdError;

/// The bytes of a value as a string command sees them: a string's bytes, a JSON
/// scalar's JSON text (RESP clients see those as strings), WRONGTYPE otherwise.
/// The integer a string value holds (INCR, HINCRBY), read without allocating: a
/// counter is stored as a JSON number (`Value::counter`), other strings as text.
/// `Ok(None)` when the value is no integer in range; WRONGTYPE for a hash or list.
pub(crate) fn integer_value<'a>(v: impl Into<Field<'a>>) -> Result<Option<i64>, CmdError> {
    // The f64 range of i64: [-2^63, 2^63).
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    let v = match v.into() {
        Field::Bytes(b) => return Ok(mapcache_store::num::parse_i64(b)),
        Field::Value(v) => v,
    };
    Ok(match v {
        Value::Number(n) if n.fract() == 0.0 && (-LIMIT..LIMIT).contains(n) => Some(*n as i64),
        Value::Str(s) => mapcache_store::num::parse_i64(s),
        other => mapcache_store::num::parse_i64(&string_bytes(other)?),
    })
}

pub(crate) fn string_bytes(v: &Value) -> Result<Cow<'_, [u8]>, CmdError> {
    match v {
        Value::Str(b) => Ok(Cow::Borrowed(b)),
        Value::Number(n) => {
            let mut text = Vec::new();
            json::write_number(*n, &mut text);
            Ok(Cow::Owned(text))
        }
        Value::Bool(true) => Ok(Cow::Borrowed(b"true")),
        Value::Bool(false) => Ok(Cow::Borrowed(b"false")),
        Value::Null => Ok(Cow::Borrowed(b"null")),
        Value::Hash(_) | Value::List(_) => Err(CmdError::WrongType),
    }
}

/// The bytes a RESP client sees for a hash field value or list element: a string's
/// bytes; the JSON text of anything written over HTTP (numbers, booleans and null as
/// string commands show them, objects and arrays JSON-encoded, bytes that are not UTF-8
/// passed through as they are: a RESP reply is binary safe anyway).
pub(crate) fn field_bytes<'a>(v: impl Into<Field<'a>>) -> Cow<'a, [u8]> {
    let v = match v.into() {
        Field::Bytes(b) => return Cow::Borrowed(b),
        Field::Value(v) => v,
    };
    match v {
        Value::Str(b) => Cow::Borrowed(b),
        Value::Hash(_) | Value::List(_) => {
            let mut out = Vec::new();
            json::write_binary_safe(v, &mut out);
            Cow::Owned(out)
        }
        scalar => string_bytes(scalar).unwrap_or(Cow::Borrowed(b"null")),
    }
}
