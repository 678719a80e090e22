//! The HTTP/JSON API (docs/http-api.md): caches, keys addressed by `/` paths, backup
//! and restore, and the OpenAPI document.
//!
//! [`ROUTES`] is the whole surface: (method, pattern, handler). A pattern's `{name}`
//! (or any other `{param}`) matches one path segment, a final `{path}` one or more (a
//! key path). The dispatcher
//! ([`dispatch`]) finds every route whose pattern matches the request's path: none is
//! 404, none with the request's method is 405 (with `Allow`). It then reads the body
//! (at most `--max-body` bytes, else 413) and calls the handler. Handlers are
//! synchronous, like RESP commands: each is a short critical section on the store;
//! those marked `blocking` (backup, restore) run on tokio's blocking pool.
//!
//! Invariants:
//! - Every failure is an [`ApiError`], answered as `{"error":{"code","message"}}`.
//! - No handler panics on client input: paths, JSON and payload shapes are checked
//!   before the store is touched, and a write either applies completely or not at all.

mod admin;
mod caches;
mod error;
mod keys;
mod programs;

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ALLOW, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use mapcache_store::{CacheRef, Value, DEFAULT_CACHE};

pub(crate) use error::ApiError;

use crate::Inner;

/// A response body: whole, or streamed (backup).
pub(crate) type Body = BoxBody<Bytes, Infallible>;
pub(crate) type Resp = Response<Body>;
type Handler = fn(&Arc<Inner>, Req) -> Result<Resp, ApiError>;

/// One endpoint.
#[derive(Debug)]
pub(crate) struct Route {
    pub method: Method,
    pub pattern: &'static str,
    handler: Handler,
    /// Runs on the blocking pool (long, CPU-bound work).
    blocking: bool,
}

const fn route(method: Method, pattern: &'static str, handler: Handler) -> Route {
    Route {
        method,
        pattern,
        handler,
        blocking: false,
    }
}

const fn blocking(method: Method, pattern: &'static str, handler: Handler) -> Route {
    Route {
        method,
        pattern,
        handler,
        blocking: true,
    }
}

/// Every endpoint of the API. Literal patterns come before the `{path}` ones they
/// overlap (`POST /api/v1/keys/get` is get-many; `GET /api/v1/keys/get` reads the key
/// `get`).
pub(crate) static ROUTES: &[Route] = &[
    route(Method::GET, "/api/v1/caches", caches::list),
    route(Method::POST, "/api/v1/caches", caches::create),
    route(Method::PUT, "/api/v1/caches/{name}", caches::set_ttl),
    route(Method::DELETE, "/api/v1/caches/{name}", caches::delete),
    route(Method::POST, "/api/v1/keys", keys::create),
    route(Method::PUT, "/api/v1/keys", keys::replace_many),
    route(Method::POST, "/api/v1/keys/get", keys::get_many),
    route(Method::POST, "/api/v1/keys/delete", keys::delete_many),
    route(Method::GET, "/api/v1/keys/{path}", keys::get),
    route(Method::PUT, "/api/v1/keys/{path}", keys::put),
    route(Method::PATCH, "/api/v1/keys/{path}", keys::patch),
    route(Method::DELETE, "/api/v1/keys/{path}", keys::delete),
    route(Method::POST, "/api/v1/commands/execute", programs::execute),
    route(Method::GET, "/api/v1/triggers", programs::list),
    route(Method::POST, "/api/v1/triggers", programs::create),
    route(Method::PUT, "/api/v1/triggers/{id}", programs::replace),
    route(Method::DELETE, "/api/v1/triggers/{id}", programs::delete),
    route(Method::POST, "/admin/backup", admin::backup),
    blocking(Method::POST, "/admin/restore", admin::restore),
    route(Method::GET, "/api/v1/docs", admin::docs_page),
    route(Method::GET, "/api/v1/docs/openapi.yaml", admin::openapi),
];

/// The OpenAPI document served at `/api/v1/docs/openapi.yaml`.
pub(crate) const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

/// `(method, path template)` of every operation `openapi.yaml` describes, in its
/// order (`/api/v1/keys/{path}`): the path lines sit two spaces deep under `paths:`,
/// their operations four. Tests check it against the route table and the server.
pub fn openapi_operations() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut in_paths = false;
    let mut path = None;
    for line in OPENAPI_YAML.lines() {
        if !line.starts_with(' ') {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  /").and_then(|p| p.strip_suffix(':')) {
            path = Some(format!("/{p}"));
        } else if let (Some(p), Some(m)) = (
            &path,
            line.strip_prefix("    ").and_then(|m| m.strip_suffix(':')),
        ) {
            if ["get", "post", "put", "patch", "delete"].contains(&m) {
                out.push((m.to_uppercase(), p.clone()));
            }
        }
    }
    out
}

/// A path segment of a request: its decoded bytes, and whether it was a literal `*`
/// (a wildcard; `%2A` is a field named `*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Seg {
    pub bytes: Vec<u8>,
    pub wildcard: bool,
}

/// What a handler gets.
#[derive(Debug)]
pub(crate) struct Req {
    pub headers: HeaderMap,
    /// The segments the pattern's `{name}` / `{path}` matched, in order.
    pub params: Vec<Seg>,
    pub body: Vec<u8>,
}

impl Req {
    /// The key path `{path}` matched, `/`-joined, and whether it has a wildcard.
    pub fn key_path(&self) -> Result<keys::KeyPath, ApiError> {
        keys::KeyPath::from_segs(&self.params)
    }

    /// The cache the `X-Cache-Name` header names (`default` without one).
    pub fn cache_name(&self) -> Result<String, ApiError> {
        match self.headers.get("x-cache-name") {
            None => Ok(DEFAULT_CACHE.to_owned()),
            Some(v) => match std::str::from_utf8(v.as_bytes()) {
                Ok(s) if !s.is_empty() => Ok(s.to_owned()),
                _ => Err(ApiError::bad_request(
                    "X-Cache-Name must be a non-empty UTF-8 name",
                )),
            },
        }
    }

    /// The body parsed as one JSON document, at most `max_depth + envelope` levels
    /// deep (`envelope`: the levels the request's own shape adds around a value).
    pub fn json(&mut self, inner: &Inner, envelope: usize) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("a JSON body is required"));
        }
        Ok(mapcache_store::json::parse(
            &mut self.body,
            inner.config.max_depth.saturating_add(envelope),
        )?)
    }
}

/// The cache `name`, or 404.
pub(crate) fn cache<'s>(inner: &'s Inner, name: &str) -> Result<CacheRef<'s>, ApiError> {
    inner
        .shared
        .store
        .cache(name)
        .ok_or_else(|| ApiError::not_found(format!("cache '{name}' not found")))
}

pub(crate) fn full(body: impl Into<Bytes>) -> Body {
    Full::new(body.into()).boxed()
}

/// A response with a JSON body.
pub(crate) fn json_response(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

/// 204 No Content.
pub(crate) fn no_content() -> Resp {
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}

/// A value as the JSON body of a response.
pub(crate) fn value_response(status: StatusCode, value: &Value) -> Resp {
    let mut out = Vec::with_capacity(64);
    mapcache_store::json::write(value, &mut out);
    json_response(status, out)
}

/// Matches `path` against `pattern`; the captured segments (still percent-encoded) on
/// success.
fn match_pattern<'p>(pattern: &str, path: &'p str) -> Option<Vec<&'p str>> {
    let mut pat = pattern.split('/');
    let mut segs = path.split('/');
    let mut caught = Vec::new();
    loop {
        match (pat.next(), segs.next()) {
            (None, None) => return Some(caught),
            (Some("{path}"), Some(first)) => {
                caught.push(first);
                caught.extend(segs);
                return Some(caught);
            }
            // Any other `{param}` (`{name}`, `{id}`) is one non-empty segment.
            (Some(p), Some(seg)) if p.starts_with('{') && !seg.is_empty() => caught.push(seg),
            (Some(p), Some(seg)) if p == seg => {}
            _ => return None,
        }
    }
}

/// Decodes `%XX` escapes. `None` on a malformed escape.
fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = |c: u8| (c as char).to_digit(16);
            let hi = hex(*b.get(i + 1)?)?;
            let lo = hex(*b.get(i + 2)?)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Is `path` served by the API (rather than by `/healthz`, `/metrics`...)?
pub(crate) fn owns(path: &str) -> bool {
    path.starts_with("/api/") || path.starts_with("/admin/")
}

/// Answers one API request (authentication already checked).
pub(crate) async fn dispatch(inner: &Arc<Inner>, req: Request<Incoming>) -> Resp {
    match dispatch_inner(inner, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn dispatch_inner(inner: &Arc<Inner>, req: Request<Incoming>) -> Result<Resp, ApiError> {
    let path = req.uri().path().to_owned();
    let mut allowed: Vec<&'static str> = Vec::new();
    let mut found = None;
    for r in ROUTES {
        if let Some(caught) = match_pattern(r.pattern, &path) {
            if r.method == req.method() {
                found = Some((r, caught));
                break;
            }
            if !allowed.contains(&r.method.as_str()) {
                allowed.push(r.method.as_str());
            }
        }
    }
    let Some((route, caught)) = found else {
        if allowed.is_empty() {
            return Err(ApiError::not_found(format!("no endpoint {path}")));
        }
        let mut resp = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed on {path}", req.method()),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&allowed.join(", ")) {
            resp.headers_mut().insert(ALLOW, v);
        }
        return Ok(resp);
    };
    let params = caught
        .iter()
        .map(|s| {
            Ok(Seg {
                wildcard: *s == "*",
                bytes: percent_decode(s).ok_or_else(|| {
                    ApiError::bad_request(format!("malformed percent escape in path segment '{s}'"))
                })?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let (parts, body) = req.into_parts();
    let body = read_body(inner, &parts.headers, body).await?;
    let req = Req {
        headers: parts.headers,
        params,
        body,
    };
    // A running Lua script holds the whole store: wait for it off the worker threads,
    // at most until lua-time-limit, then answer 503 with RESP's BUSY text.
    if inner.shared.scripting.busy.is_running() {
        let i = inner.clone();
        let busy = tokio::task::spawn_blocking(move || i.shared.scripting.busy.check(|| false))
            .await
            .ok()
            .flatten();
        if let Some(text) = busy {
            return Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, text));
        }
    }
    if route.blocking {
        let inner = inner.clone();
        let handler = route.handler;
        tokio::task::spawn_blocking(move || handler(&inner, req))
            .await
            .unwrap_or_else(|e| {
                tracing::error!(error = %e, "API handler failed");
                Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                ))
            })
    } else {
        (route.handler)(inner, req)
    }
}

/// The request body, at most `--max-body` bytes (413 beyond).
async fn read_body(
    inner: &Inner,
    headers: &HeaderMap,
    body: Incoming,
) -> Result<Vec<u8>, ApiError> {
    let limit = inner.config.max_body;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body larger than {limit} bytes (--max-body)"),
        )
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match Limited::new(body, limit).collect().await {
        Ok(c) => Ok(c.to_bytes().to_vec()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(ApiError::bad_request(format!(
            "cannot read the request body: {e}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_segments_and_tails() {
        assert_eq!(
            match_pattern("/api/v1/caches", "/api/v1/caches"),
            Some(vec![])
        );
        assert_eq!(match_pattern("/api/v1/caches", "/api/v1/caches/"), None);
        assert_eq!(
            match_pattern("/api/v1/caches/{name}", "/api/v1/caches/c1"),
            Some(vec!["c1"])
        );
        assert_eq!(
            match_pattern("/api/v1/caches/{name}", "/api/v1/caches/"),
            None
        );
        assert_eq!(
            match_pattern("/api/v1/caches/{name}", "/api/v1/caches/a/b"),
            None
        );
        assert_eq!(
            match_pattern("/api/v1/keys/{path}", "/api/v1/keys/a/b/c"),
            Some(vec!["a", "b", "c"])
        );
        assert_eq!(match_pattern("/api/v1/keys/{path}", "/api/v1/keys"), None);
    }

    #[test]
    fn percent_escapes_decode_and_malformed_ones_fail() {
        assert_eq!(percent_decode("a%20b%2a").unwrap(), b"a b*");
        assert_eq!(percent_decode("%ff").unwrap(), vec![0xff]);
        assert!(percent_decode("%").is_none());
        assert!(percent_decode("%g1").is_none());
        assert!(percent_decode("%1").is_none());
    }

    #[test]
    fn openapi_describes_exactly_the_routes() {
        let ops = openapi_operations();
        for r in ROUTES {
            let op = (r.method.as_str().to_owned(), r.pattern.to_owned());
            assert!(ops.contains(&op), "{op:?} missing from openapi.yaml");
        }
        for (m, p) in &ops {
            assert!(
                ROUTES
                    .iter()
                    .any(|r| r.method.as_str() == m && r.pattern == p),
                "openapi.yaml describes {m} {p}, which no route serves"
            );
        }
        assert_eq!(ops.len(), ROUTES.len());
    }
}
