//! `/api/v1/caches`: the numbered databases (`default` = 0, `1` … `15`, the RESP
//! databases) and the caches created by name, with an optional cache-level TTL.

use std::sync::Arc;

use hyper::StatusCode;
use mapcache_store::{json, Value};

use super::keys::{fields, ttl_ms};
use super::{json_response, no_content, ApiError, Req, Resp};
use crate::Inner;

/// `GET /api/v1/caches`: `[{"name": "default", "keys": 3, "expires_at_ms": null}, ...]`,
/// the numbered caches first, then the named ones in creation order.
pub(crate) fn list(inner: &Arc<Inner>, _req: Req) -> Result<Resp, ApiError> {
    let mut out = vec![b'['];
    for (i, c) in inner.shared.store.caches().iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"name\":");
        json::write_string(c.name.as_bytes(), &mut out);
        out.extend_from_slice(b",\"keys\":");
        out.extend_from_slice(itoa::Buffer::new().format(c.keys).as_bytes());
        out.extend_from_slice(b",\"expires_at_ms\":");
        match c.deadline {
            Some(d) => out.extend_from_slice(itoa::Buffer::new().format(d).as_bytes()),
            None => out.extend_from_slice(b"null"),
        }
        out.push(b'}');
    }
    out.push(b']');
    Ok(json_response(StatusCode::OK, out))
}

/// The optional `ttl` (ms) of a cache payload as a deadline.
fn deadline(inner: &Inner, ttl: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match ttl {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(
            inner.shared.store.now().saturating_add(ttl_ms(v, "ttl")?),
        )),
    }
}

/// `POST /api/v1/caches` `{"name": "c", "ttl": ms}`: 201, 409 when it exists.
pub(crate) fn create(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    const SHAPE: &str = r#"{"name": "...", "ttl": ms}"#;
    let body = req.json(inner, 1)?;
    let f = fields(&body, &["name", "ttl"], SHAPE)?;
    let name = match f[0] {
        Some(Value::Str(n)) => std::str::from_utf8(n)
            .map_err(|_| ApiError::bad_request("a cache name must be UTF-8"))?
            .to_owned(),
        _ => {
            return Err(ApiError::bad_request(format!(
                "'name' must be a string: {SHAPE}"
            )))
        }
    };
    let deadline = deadline(inner, f[1])?;
    inner.shared.store.create_cache(&name, deadline)?;
    let mut out = b"{\"name\":".to_vec();
    json::write_string(name.as_bytes(), &mut out);
    out.extend_from_slice(b",\"expires_at_ms\":");
    match deadline {
        Some(d) => out.extend_from_slice(itoa::Buffer::new().format(d).as_bytes()),
        None => out.extend_from_slice(b"null"),
    }
    out.push(b'}');
    Ok(json_response(StatusCode::CREATED, out))
}

fn name_param(req: &Req) -> Result<String, ApiError> {
    let seg = req
        .params
        .first()
        .map(|s| s.bytes.clone())
        .unwrap_or_default();
    String::from_utf8(seg).map_err(|_| ApiError::bad_request("a cache name must be UTF-8"))
}

/// `PUT /api/v1/caches/{name}` `{"ttl": ms}` (or `{"ttl": null}`, `{}`: no expiry): 204.
pub(crate) fn set_ttl(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let name = name_param(&req)?;
    let body = req.json(inner, 1)?;
    let f = fields(&body, &["ttl"], r#"{"ttl": ms or null}"#)?;
    let deadline = deadline(inner, f[0])?;
    inner.shared.store.set_cache_deadline(&name, deadline)?;
    Ok(no_content())
}

/// `DELETE /api/v1/caches/{name}`: 204; a numbered cache is emptied; 404 when missing.
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let name = name_param(&req)?;
    inner.shared.store.delete_cache(&name)?;
    // A cache's triggers go with it (a numbered database is only emptied: its
    // triggers stay, as FLUSHDB keeps them).
    if inner.shared.store.cache(&name).is_none() {
        inner.shared.programs.drop_cache(&name);
    }
    Ok(no_content())
}
