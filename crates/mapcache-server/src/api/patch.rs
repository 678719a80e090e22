//! `PATCH /api/v1/keys/{path}` `{"operations": [{"type", "key", "value"}, ...],
//! "flags": {}}`: the Go server's six operations (CREATE, REPLACE, DELETE, INC,
//! APPEND, RESIZE) as ONE all-or-nothing batch of the document engine, answering
//! `{"results": [{"result": v}, ...]}` (INC's result is the new number, the others'
//! null). The URL's path is not used: each operation names its absolute `key`.
//!
//! Checks, in Go's order and with its statuses: a body that does not bind is 400
//! `invalid json payload`; no operation, an empty key or type, or an unknown type is
//! 400 `validation failed`; then every operation is checked against the data as it
//! was before the request (CREATE: the key must not exist; REPLACE, INC, APPEND,
//! RESIZE: it must; INC: a number to add and a non-null node; APPEND, RESIZE: an
//! array; RESIZE: a length) and a failure is 400 `invalid operation(s)`. Then the
//! operations apply in order, each seeing the earlier ones' effects; REPLACE and INC
//! fire the cache's triggers inside the same batch. A failure there is 400 `operation
//! failed` (Go: 500, keeping the operations before it); mapcache writes nothing.
//! RESIZE takes any whole number ≥ 0 (Go refuses every JSON number there: a Go bug).

use std::sync::Arc;

use hyper::StatusCode;
use mapcache_programs::ExecError;
use mapcache_store::db::Batch;
use mapcache_store::{json, Value};

use super::keys::{doc_error, fields, KeyPath};
use super::{cache, json_response, ApiError, Req, Resp};
use crate::Inner;

const SEP: u8 = b'/';
const SHAPE: &str = r#"{"operations": [{"type": "CREATE|REPLACE|DELETE|INC|APPEND|RESIZE", "key": path, "value": v}, ...]}"#;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Create,
    Replace,
    Delete,
    Inc,
    Append,
    Resize,
}

/// One operation: its type, its key and its value (absent and `null` alike, as Go's
/// `omitempty` binding reads them).
#[derive(Debug)]
struct Op {
    kind: Kind,
    key: KeyPath,
    value: Option<Value>,
}

/// The operations of the body, bound and validated (no state read yet).
fn parse(body: &Value) -> Result<Vec<Op>, ApiError> {
    let f = fields(body, &["operations", "flags"], SHAPE)?;
    let ops = match f[0].as_deref() {
        Some(Value::List(ops)) => ops.iter().collect::<Vec<_>>(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ApiError::invalid_json(format!(
                "'operations' must be an array: {SHAPE}"
            )))
        }
    };
    if !matches!(
        f[1].as_deref(),
        None | Some(Value::Null) | Some(Value::Hash(_))
    ) {
        return Err(ApiError::invalid_json("'flags' must be an object"));
    }
    if ops.is_empty() {
        return Err(ApiError::validation("at least one operation is required"));
    }
    let mut out = Vec::with_capacity(ops.len());
    for (i, op) in ops.into_iter().enumerate() {
        let op = op.cow();
        let of = fields(&op, &["type", "key", "value"], SHAPE)?;
        let text = |v: Option<&Value>, what: &str| match v {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Str(s)) => Ok(s.to_vec()),
            Some(_) => Err(ApiError::invalid_json(format!(
                "operations[{i}].{what} must be a string"
            ))),
        };
        let (kind, key) = (
            text(of[0].as_deref(), "type")?,
            text(of[1].as_deref(), "key")?,
        );
        if key.is_empty() {
            return Err(ApiError::validation("operation key cannot be empty"));
        }
        let kind = match kind.as_slice() {
            b"" => return Err(ApiError::validation("operation type cannot be empty")),
            b"CREATE" => Kind::Create,
            b"REPLACE" => Kind::Replace,
            b"DELETE" => Kind::Delete,
            b"INC" => Kind::Inc,
            b"APPEND" => Kind::Append,
            b"RESIZE" => Kind::Resize,
            other => {
                return Err(ApiError::validation(format!(
                    "invalid operation type: {}",
                    String::from_utf8_lossy(other)
                )))
            }
        };
        let key = KeyPath::from_text(&key)?;
        if key.has_wildcard() {
            return Err(ApiError::validation(format!(
                "operations[{i}]: wildcards are not allowed in PATCH ('{}')",
                key.show()
            )));
        }
        out.push(Op {
            kind,
            key,
            value: of[2]
                .as_deref()
                .filter(|v| !matches!(v, Value::Null))
                .cloned(),
        });
    }
    Ok(out)
}

/// RESIZE's length: a whole number ≥ 0.
fn length(v: Option<&Value>) -> Option<usize> {
    match v {
        Some(Value::Number(n)) if n.fract() == 0.0 && *n >= 0.0 && *n <= 1e9 => Some(*n as usize),
        _ => None,
    }
}

/// Go's `ValidateOperations`: each operation against the data before any applies.
fn check(b: &Batch<'_>, ops: &[Op]) -> Result<(), ApiError> {
    let invalid = |detail: String| ApiError::bad_request("invalid operation(s)").detail(detail);
    for op in ops {
        let key = op.key.show();
        let stored = b
            .get(&op.key.bytes)
            .map_err(|e| doc_error(&op.key.bytes, e))?;
        match (op.kind, &stored) {
            (Kind::Delete, _) => {}
            (Kind::Create, Some(_)) => {
                return Err(invalid(format!(
                    "key already exists for create operation: {key}"
                )))
            }
            (Kind::Create, None) => {}
            (_, None) => return Err(invalid(format!("key not found: {key}"))),
            (Kind::Inc, Some(v)) => {
                if matches!(v, Value::Null) {
                    return Err(invalid(format!("no value to increment for key: {key}")));
                }
                if !matches!(op.value, Some(Value::Number(_))) {
                    return Err(invalid(format!(
                        "non-numeric value for increment operation on key: {key}"
                    )));
                }
            }
            (Kind::Append | Kind::Resize, Some(v)) => {
                if !matches!(v, Value::List(_) | Value::Null) {
                    return Err(invalid(format!(
                        "can only append or resize arrays, but found non-array value for key: {key}"
                    )));
                }
                if op.kind == Kind::Resize && length(op.value.as_ref()).is_none() {
                    return Err(invalid(format!(
                        "resize operation requires a valid numeric value for key: {key}"
                    )));
                }
            }
            (Kind::Replace, Some(_)) => {}
        }
    }
    Ok(())
}

type Fire<'f> = dyn FnMut(&mut Batch<'_>, &str) -> Result<(), ExecError> + 'f;

/// Checks, then applies every operation in order; the results.
fn apply(b: &mut Batch<'_>, ops: &[Op], fire: &mut Fire<'_>) -> Result<Vec<Value>, ApiError> {
    check(b, ops)?;
    let mut results = Vec::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        let key = &op.key.bytes;
        let failed = |e| {
            let e = doc_error(key, e);
            ApiError::bad_request("operation failed").detail(format!(
                "operations[{i}]: {}",
                e.detail.unwrap_or(e.message)
            ))
        };
        let value = || op.value.clone().unwrap_or(Value::Null);
        let result = match op.kind {
            Kind::Create => b.create(key, value()).map(|_| Value::Null),
            Kind::Replace => b.replace(key, value()).map(|_| Value::Null),
            Kind::Delete => b.delete(key).map(|_| Value::Null),
            Kind::Inc => {
                let by = match op.value {
                    Some(Value::Number(n)) => n,
                    _ => 0.0,
                };
                b.increment(key, by).map(Value::Number)
            }
            Kind::Append => match &op.value {
                Some(v) => b.append(key, v.clone()).map(|_| Value::Null),
                None => {
                    return Err(ApiError::bad_request("operation failed")
                        .detail(format!("operations[{i}]: append value cannot be nil")))
                }
            },
            Kind::Resize => match length(op.value.as_ref()) {
                Some(n) => b.resize(key, n).map(|_| Value::Null),
                None => {
                    return Err(ApiError::bad_request("operation failed").detail(format!(
                        "operations[{i}]: resize value must be a whole number"
                    )))
                }
            },
        }
        .map_err(failed)?;
        if matches!(op.kind, Kind::Replace | Kind::Inc) {
            fire(b, &op.key.show())?;
        }
        results.push(result);
    }
    Ok(results)
}

/// `PATCH /api/v1/keys/{path}`.
pub(crate) fn patch(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let body = req.json(inner, 3)?;
    let ops = parse(&body)?;
    let db = cache(inner, &req.cache_name()?)?;
    let now = inner.shared.store.now();
    let programs = &inner.shared.programs;
    let results = if programs.armed() && programs.has_triggers(db.name()) {
        programs.batch_firing(&db, now, |b, fire| apply(b, &ops, fire))?
    } else {
        let roots: Vec<&[u8]> = ops.iter().map(|o| o.key.bytes.as_slice()).collect();
        db.batch(SEP, &roots, now, |b| apply(b, &ops, &mut |_, _| Ok(())))?
    };
    let mut out = b"{\"results\":[".to_vec();
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"result\":");
        json::write(r, &mut out);
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(StatusCode::OK, out))
}
