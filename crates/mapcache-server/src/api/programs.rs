//! `/api/v1/commands/execute` and `/api/v1/triggers`: map-cache's command programs and
//! triggers (docs/programs.md), on the cache `X-Cache-Name` names.
//!
//! A program runs as one all-or-nothing batch over the whole cache
//! (`mapcache_commands::programs`); Go keeps the writes made before a failing command,
//! mapcache keeps none. Status codes are Go's: 400 for a malformed program, 500 for a
//! failed one, 408 when it runs out of steps or time.

use std::sync::Arc;

use hyper::StatusCode;
use mapcache_programs::{parse_request, parse_trigger_request, ExecError, ExecErrorKind};
use mapcache_programs::{ParseError, TriggerError};
use mapcache_store::{Hash, Value};

use super::{cache, empty, json_response, no_content, value_response, ApiError, Req, Resp};
use crate::Inner;

/// The levels a program's own shape adds around the values it carries.
const PROGRAM_ENVELOPE: usize = 64;

/// The answer to a program that failed.
pub(crate) fn exec_error(e: ExecError) -> ApiError {
    let (status, message) = match e.kind() {
        ExecErrorKind::Failed => (StatusCode::INTERNAL_SERVER_ERROR, e.kind().summary()),
        ExecErrorKind::StepLimit | ExecErrorKind::Deadline => {
            (StatusCode::REQUEST_TIMEOUT, "command execution timed out")
        }
    };
    ApiError::new(status, message).detail(e.message())
}

impl From<ExecError> for ApiError {
    fn from(e: ExecError) -> Self {
        exec_error(e)
    }
}

fn parse_error(e: ParseError) -> ApiError {
    ApiError::bad_request(e.summary()).detail(e.to_string())
}

/// A trigger body that does not bind: Go's words on the triggers routes.
fn trigger_parse_error(e: ParseError) -> ApiError {
    ApiError::bad_request("invalid JSON payload").detail(e.to_string())
}

/// A trigger route's body; Go words a body that does not parse `invalid JSON payload`
/// there.
fn trigger_body(req: &mut Req, inner: &Inner) -> Result<Value, ApiError> {
    req.json(inner, PROGRAM_ENVELOPE).map_err(|e| {
        let detail = e.detail.unwrap_or(e.message);
        ApiError::bad_request("invalid JSON payload").detail(detail)
    })
}

fn trigger_error(e: TriggerError) -> ApiError {
    match e {
        TriggerError::NotFound => ApiError::not_found("trigger not found"),
        other => ApiError::bad_request("invalid trigger").detail(other.to_string()),
    }
}

/// `POST /api/v1/commands/execute` `{"commands": [...]}`: the array of the top-level
/// commands' values.
pub(crate) fn execute(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let body = req.json(inner, PROGRAM_ENVELOPE)?;
    let program = parse_request(&body).map_err(parse_error)?;
    let db = cache(inner, &req.cache_name()?)?;
    let now = inner.shared.store.now();
    let answer = inner
        .shared
        .programs
        .run(&db, &program, now)
        .map_err(exec_error)?;
    Ok(value_response(StatusCode::OK, &answer))
}

/// `GET /api/v1/triggers`: every trigger of the cache, in creation order, as
/// `[{"id", "key", "command"}, ...]` (Go has no such endpoint).
pub(crate) fn list(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let db = cache(inner, &req.cache_name()?)?;
    let triggers = inner.shared.programs.triggers(db.name());
    let list: mapcache_store::List = triggers
        .read_recursive()
        .iter()
        .map(|t| {
            let mut o = Hash::new();
            o.insert(b"id", Value::string(t.id.as_bytes()));
            o.insert(b"key", Value::string(t.key.as_bytes()));
            o.insert(b"command", t.command.to_value());
            Value::hash(o)
        })
        .collect();
    Ok(value_response(StatusCode::OK, &Value::List(list)))
}

/// `POST /api/v1/triggers` `{"key": pattern, "command": cmd}`: the new trigger's id,
/// as a JSON string.
pub(crate) fn create(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let body = trigger_body(&mut req, inner)?;
    let t = parse_trigger_request(&body).map_err(trigger_parse_error)?;
    let db = cache(inner, &req.cache_name()?)?;
    let id = inner
        .shared
        .programs
        .edit(db.name(), |reg| reg.add(&t.key, t.command))
        .map_err(trigger_error)?;
    let mut out = Vec::with_capacity(id.len() + 2);
    mapcache_store::json::write_string(id.as_bytes(), &mut out);
    Ok(json_response(StatusCode::OK, out))
}

/// `PUT /api/v1/triggers/{id}` `{"id", "key", "command"}`: 204; a body id other than
/// the path's is 400, an unknown id 404 (Go: 500).
pub(crate) fn replace(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let id = trigger_id(&req)?;
    let body = trigger_body(&mut req, inner)?;
    let t = parse_trigger_request(&body).map_err(trigger_parse_error)?;
    if t.id != id {
        return Err(ApiError::bad_request("payload id must match request id")
            .detail(format!("the body's id '{}' is not the path's '{id}'", t.id)));
    }
    let db = cache(inner, &req.cache_name()?)?;
    inner
        .shared
        .programs
        .edit(db.name(), |reg| reg.replace(&id, &t.key, t.command))
        .map_err(trigger_error)?;
    Ok(no_content())
}

/// `DELETE /api/v1/triggers/{id}`: 200 with an empty body; an unknown id 404. (Go's
/// route makes this a no-op; mapcache removes the trigger.)
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let id = trigger_id(&req)?;
    let db = cache(inner, &req.cache_name()?)?;
    inner
        .shared
        .programs
        .edit(db.name(), |reg| reg.delete(&id))
        .map_err(trigger_error)?;
    Ok(empty(StatusCode::OK))
}

fn trigger_id(req: &Req) -> Result<String, ApiError> {
    match req.params.first() {
        Some(seg) => Ok(String::from_utf8_lossy(&seg.bytes).into_owned()),
        None => Err(ApiError::bad_request("a trigger id is required")),
    }
}
