//! `/api/v1/caches`: the numbered databases (`default` = 0, `1` … `15`, the RESP
//! databases) and the caches created by name, with an optional cache-level TTL. The
//! shapes and statuses are the Go server's, except 409 for a duplicate and 404 for a
//! missing cache where Go answers 500.

use std::sync::Arc;

use hyper::StatusCode;
use mapcache_store::{json, Value};

use super::keys::{fields, ttl_ms};
use super::{empty, json_response, no_content, ApiError, Req, Resp};
use crate::Inner;

/// `GET /api/v1/caches`: `["default", "1", ..., "named", ...]`, the numbered caches
/// first, then the named ones in creation order.
pub(crate) fn list(inner: &Arc<Inner>, _req: Req) -> Result<Resp, ApiError> {
    let caches = inner.shared.store.caches();
    let mut out = Vec::with_capacity(16 * caches.len() + 2);
    crate::health::json_strings(caches.iter().map(|c| c.name.as_bytes()), &mut out);
    Ok(json_response(StatusCode::OK, out))
}

/// `GET /api/v1/caches/stats`: `{"caches": [{"name", "size_bytes", "ttl_ms",
/// "activity_count"}, ...]}`. `size_bytes` is the length of the cache as one JSON
/// object (Go's measure), `ttl_ms` the milliseconds left before the cache expires
/// (absent without an expiry), `activity_count` its key lookups (hits and misses).
/// Go's `last_accessed` and `long_operations` are left out (Go omits them when
/// empty; mapcache does not track them).
pub(crate) fn stats(inner: &Arc<Inner>, _req: Req) -> Result<Resp, ApiError> {
    let store = &inner.shared.store;
    let now = store.now();
    let mut out = b"{\"caches\":[".to_vec();
    let mut first = true;
    for c in store.caches() {
        let Some(db) = store.cache(&c.name) else {
            continue; // expired or deleted since the list was taken
        };
        if !first {
            out.push(b',');
        }
        first = false;
        let stats = db.stats();
        out.extend_from_slice(b"{\"name\":");
        json::write_string(c.name.as_bytes(), &mut out);
        out.extend_from_slice(b",\"size_bytes\":");
        out.extend_from_slice(itoa::Buffer::new().format(json_size(&db, now)).as_bytes());
        if let Some(d) = c.deadline {
            out.extend_from_slice(b",\"ttl_ms\":");
            out.extend_from_slice(
                itoa::Buffer::new()
                    .format(d.saturating_sub(now).max(0))
                    .as_bytes(),
            );
        }
        out.extend_from_slice(b",\"activity_count\":");
        out.extend_from_slice(
            itoa::Buffer::new()
                .format(stats.hits + stats.misses)
                .as_bytes(),
        );
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(StatusCode::OK, out))
}

/// The length of the cache written as one JSON object `{"root": value, ...}`, read
/// one shard at a time.
fn json_size(db: &mapcache_store::Db, now: mapcache_expiry::UnixMillis) -> usize {
    let mut total = 2; // {}
    let mut n = 0usize;
    let mut buf = Vec::new();
    for i in 0..db.shard_count() {
        db.export_shard(i, now, |key, value, _, _| {
            buf.clear();
            json::write_string(key, &mut buf);
            buf.push(b':');
            json::write(value, &mut buf);
            total += buf.len();
            n += 1;
        });
    }
    total + n.saturating_sub(1)
}

/// The optional `ttl` (ms) of a cache payload as a deadline.
fn deadline(inner: &Inner, ttl: Option<&Value>) -> Result<Option<i64>, ApiError> {
    match ttl {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Ok(Some(inner.shared.store.now().saturating_add(
            ttl_ms(v, "ttl").map_err(|e| ApiError::invalid_json(e.message))?,
        ))),
    }
}

/// `POST /api/v1/caches` `{"name": "c", "ttl": ms}`: 201 with an empty body; 400
/// without a name; 409 when it exists (Go: 500).
pub(crate) fn create(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    const SHAPE: &str = r#"{"name": "...", "ttl": ms}"#;
    let body = req.json(inner, 1)?;
    let f = fields(&body, &["name", "ttl"], SHAPE)?;
    let name = match f[0].as_deref() {
        Some(Value::Str(n)) => std::str::from_utf8(n)
            .map_err(|_| ApiError::invalid_json("a cache name must be UTF-8"))?
            .to_owned(),
        None => String::new(),
        Some(_) => {
            return Err(ApiError::invalid_json(format!(
                "'name' must be a string: {SHAPE}"
            )))
        }
    };
    if name.is_empty() {
        return Err(ApiError::validation("cache name is required"));
    }
    let deadline = deadline(inner, f[1].as_deref())?;
    inner
        .shared
        .store
        .create_cache(&name, deadline)
        .map_err(|e| {
            let detail = e.to_string();
            let e = ApiError::from(e);
            let message = match e.status {
                StatusCode::CONFLICT => "cache already exists",
                _ => "validation failed",
            };
            ApiError::new(e.status, message).detail(detail)
        })?;
    Ok(empty(StatusCode::CREATED))
}

fn name_param(req: &Req) -> Result<String, ApiError> {
    let seg = req
        .params
        .first()
        .map(|s| s.bytes.clone())
        .unwrap_or_default();
    String::from_utf8(seg).map_err(|_| ApiError::bad_request("a cache name must be UTF-8"))
}

/// `PUT /api/v1/caches/{name}` `{"ttl": ms}` (or `{"ttl": null}`, `{}`: no expiry):
/// 204. `default` cannot be changed (400), nor a numbered cache; a missing cache is
/// 404 (Go: 500).
pub(crate) fn set_ttl(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let name = name_param(&req)?;
    let body = req.json(inner, 1)?;
    let f = fields(&body, &["ttl"], r#"{"ttl": ms or null}"#)?;
    let deadline = deadline(inner, f[0].as_deref())?;
    if name == mapcache_store::DEFAULT_CACHE {
        return Err(ApiError::bad_request("cannot modify the default cache"));
    }
    inner
        .shared
        .store
        .set_cache_deadline(&name, deadline)
        .map_err(|e| {
            let detail = e.to_string();
            let e = ApiError::from(e);
            let message = match e.status {
                StatusCode::NOT_FOUND => "cache not found",
                _ => "failed to update cache",
            };
            ApiError::new(e.status, message).detail(detail)
        })?;
    Ok(no_content())
}

/// `DELETE /api/v1/caches/{name}`: 200 with an empty body; a numbered cache (even
/// `default`) is emptied; 404 `could not find cache` when missing.
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let name = name_param(&req)?;
    inner.shared.store.delete_cache(&name).map_err(|e| {
        ApiError::new(ApiError::from(e.clone()).status, "could not find cache")
            .detail(e.to_string())
    })?;
    // A cache's triggers go with it (a numbered database is only emptied: its
    // triggers stay, as FLUSHDB keeps them).
    if inner.shared.store.cache(&name).is_none() {
        inner.shared.programs.drop_cache(&name);
    }
    Ok(empty(StatusCode::OK))
}
