//! Helpers several command families share: how a stored [`Value`] reads as bytes in a
//! reply (a string command's view, a hash field's or list element's view).

use std::borrow::Cow;

use mapcache_store::{json, Value};

use crate::error::CmdError;

/// The bytes of a value as a string command sees them: a string's bytes, a JSON
/// scalar's JSON text (RESP clients see those as strings), WRONGTYPE otherwise.
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
pub(crate) fn field_bytes(v: &Value) -> Cow<'_, [u8]> {
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
