//! The HTTP/JSON API (docs/http-api.md): the Go map-cache's `/api/v1` (caches, keys
//! addressed by `/` paths, command programs, triggers), backup and restore, and the
//! OpenAPI document.
//!
//! [`ROUTES`] is the whole surface: (method, pattern, handler). A pattern's `{name}`
//! (or any other `{param}`) matches one path segment, a final `{path}` one or more (a
//! key path). [`router`] turns the table into an axum router (axum answers 405 with
//! `Allow` for a known path and another method); each route reads its request with
//! [`Req::extract`] (path parameters percent-decoded, the body at most `--max-body`
//! bytes) and calls the handler. Handlers are synchronous, like RESP commands: each is
//! a short critical section on the store; those marked `blocking` (restore) run on
//! tokio's blocking pool.
//!
//! Invariants:
//! - Every failure is an [`ApiError`], answered as `{"message": ..., "detail": ...}`.
//! - No handler panics on client input: paths, JSON and payload shapes are checked
//!   before the store is touched, and a write either applies completely or not at all.

mod admin;
mod caches;
mod docs;
mod error;
mod keys;
mod patch;
mod programs;

use std::convert::Infallible;
use std::sync::Arc;

use axum::routing::{MethodFilter, MethodRouter};
use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderMap, HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};
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

/// Every endpoint of the API. A literal pattern overlapping a `{path}` one serves the
/// `{path}` route's other methods too (`POST /api/v1/keys/get` is get-many; `GET
/// /api/v1/keys/get` reads the key `get`).
pub(crate) static ROUTES: &[Route] = &[
    route(Method::GET, "/api/v1/caches", caches::list),
    route(Method::GET, "/api/v1/caches/stats", caches::stats),
    route(Method::POST, "/api/v1/caches", caches::create),
    route(Method::PUT, "/api/v1/caches/{name}", caches::set_ttl),
    route(Method::DELETE, "/api/v1/caches/{name}", caches::delete),
    route(Method::POST, "/api/v1/keys", keys::create),
    route(Method::PUT, "/api/v1/keys", keys::replace_many),
    route(Method::POST, "/api/v1/keys/get", keys::get_many),
    route(Method::POST, "/api/v1/keys/delete", keys::delete_many),
    route(Method::GET, "/api/v1/keys/{path}", keys::get),
    route(Method::PUT, "/api/v1/keys/{path}", keys::put),
    route(Method::PATCH, "/api/v1/keys/{path}", patch::patch),
    route(Method::DELETE, "/api/v1/keys/{path}", keys::delete),
    route(Method::POST, "/api/v1/commands/execute", programs::execute),
    route(Method::GET, "/api/v1/triggers", programs::list),
    route(Method::POST, "/api/v1/triggers", programs::create),
    route(Method::PUT, "/api/v1/triggers/{id}", programs::replace),
    route(Method::DELETE, "/api/v1/triggers/{id}", programs::delete),
    blocking(Method::POST, "/admin/backup", admin::backup),
    blocking(Method::POST, "/admin/restore", admin::restore),
    route(Method::GET, "/api/v1/openapi.yaml", docs::openapi_route),
    route(Method::GET, "/api/v1/docs", docs::page_route),
    route(
        Method::GET,
        "/api/v1/docs/openapi.yaml",
        docs::openapi_route,
    ),
    route(Method::GET, "/api/v1/docs/{file}", docs::asset_route),
];

/// The OpenAPI document served at `/api/v1/openapi.yaml` (and below `/api/v1/docs`).
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

/// `(method, path template)` of every route the server answers, in table order: what
/// tests compare with [`openapi_operations`].
pub fn route_operations() -> Vec<(String, String)> {
    ROUTES
        .iter()
        .map(|r| (r.method.as_str().to_owned(), r.pattern.to_owned()))
        .collect()
}

/// The router of the whole API: one axum route per distinct pattern of [`ROUTES`]
/// (`{path}` becomes axum's catch-all `{*path}`), each method answered by its
/// handler.
pub(crate) fn router(inner: &Arc<Inner>) -> axum::Router {
    let mut router = axum::Router::new();
    let mut done: Vec<&str> = Vec::new();
    for r in ROUTES {
        if done.contains(&r.pattern) {
            continue;
        }
        done.push(r.pattern);
        let mut methods: MethodRouter = MethodRouter::new();
        let mut taken: Vec<&Method> = Vec::new();
        // This pattern's own routes, then the methods of the `{path}` routes that
        // match it literally (axum would answer 405 there instead of falling through).
        let own = ROUTES.iter().filter(|o| o.pattern == r.pattern);
        let overlapping = ROUTES.iter().filter(|o| {
            o.pattern != r.pattern
                && !r.pattern.contains('{')
                && match_pattern(o.pattern, r.pattern).is_some()
        });
        for o in own.chain(overlapping) {
            if taken.contains(&&o.method) {
                continue;
            }
            taken.push(&o.method);
            let Ok(filter) = MethodFilter::try_from(o.method.clone()) else {
                continue;
            };
            let inner = inner.clone();
            methods = methods.on(filter, move |req: axum::extract::Request| {
                let inner = inner.clone();
                async move { call(o, inner, req).await }
            });
        }
        router = router.route(&r.pattern.replace("{path}", "{*path}"), methods);
    }
    router
}

/// Runs one route: reads the request, calls the handler (on the blocking pool when
/// the route is `blocking`), renders its error.
async fn call(
    route: &'static Route,
    inner: Arc<Inner>,
    req: axum::extract::Request,
) -> axum::response::Response {
    let answer = async {
        if may_grow(route) && !mapcache_commands::memory_ok(&inner.shared) {
            // Over maxmemory with nothing to evict: Redis's OOM refusal, as 507.
            return Err(ApiError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                mapcache_commands::error::OOM,
            ));
        }
        let req = Req::extract(route, &inner, req).await?;
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
                        "Internal Server Error",
                    ))
                })
        } else {
            (route.handler)(&inner, req)
        }
    }
    .await;
    answer
        .unwrap_or_else(ApiError::into_response)
        .map(axum::body::Body::new)
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
    /// The segments the pattern's `{name}` / `{path}` matched, in order (a `{path}`'s
    /// `%2F` separates segments too: the Go server's clients encode a key's `/` so).
    pub params: Vec<Seg>,
    pub body: Vec<u8>,
}

impl Req {
    /// The extractor of every route: the parameters of `route`'s pattern in the
    /// request's path, percent-decoded (400 on a malformed escape), and the body, at
    /// most `--max-body` bytes (413 beyond).
    pub async fn extract(
        route: &Route,
        inner: &Inner,
        req: axum::extract::Request,
    ) -> Result<Req, ApiError> {
        let (parts, body) = req.into_parts();
        let path = parts.uri.path();
        let caught =
            match_pattern(route.pattern, path).ok_or_else(|| ApiError::not_found("Not Found"))?;
        let tail = route.pattern.ends_with("{path}");
        let mut params = Vec::with_capacity(caught.len());
        for s in &caught {
            let bytes = percent_decode(s).ok_or_else(|| {
                ApiError::bad_request("malformed percent escape in the path")
                    .detail(format!("segment '{s}'"))
            })?;
            if tail && bytes.contains(&b'/') {
                params.extend(bytes.split(|&c| c == b'/').map(|b| Seg {
                    wildcard: b == b"*",
                    bytes: b.to_vec(),
                }));
            } else {
                params.push(Seg {
                    wildcard: *s == "*",
                    bytes,
                });
            }
        }
        let body = read_body(inner, &parts.headers, body).await?;
        Ok(Req {
            headers: parts.headers,
            params,
            body,
        })
    }

    /// The key path `{path}` matched, `/`-joined, and whether it has a wildcard.
    pub fn key_path(&self) -> Result<keys::KeyPath, ApiError> {
        keys::KeyPath::from_segs(&self.params)
    }

    /// The cache the `X-Cache-Name` header names (`default` without one, or with an
    /// empty one, as Go).
    pub fn cache_name(&self) -> Result<String, ApiError> {
        match self.headers.get("x-cache-name") {
            None => Ok(DEFAULT_CACHE.to_owned()),
            Some(v) => match std::str::from_utf8(v.as_bytes()) {
                Ok("") => Ok(DEFAULT_CACHE.to_owned()),
                Ok(s) => Ok(s.to_owned()),
                Err(_) => Err(
                    ApiError::new(StatusCode::FAILED_DEPENDENCY, "cache not found")
                        .detail("X-Cache-Name must be UTF-8"),
                ),
            },
        }
    }

    /// The body parsed as one JSON document, at most `max_depth + envelope` levels
    /// deep (`envelope`: the levels the request's own shape adds around a value).
    pub fn json(&mut self, inner: &Inner, envelope: usize) -> Result<Value, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_json("a JSON body is required"));
        }
        Ok(mapcache_store::json::parse(
            &mut self.body,
            inner.config.max_depth.saturating_add(envelope),
        )?)
    }
}

/// The cache `name`, or the Go server's 424 `cache not found` (the keys, commands and
/// triggers routes).
pub(crate) fn cache<'s>(inner: &'s Inner, name: &str) -> Result<CacheRef<'s>, ApiError> {
    inner.shared.store.cache(name).ok_or_else(|| {
        ApiError::new(StatusCode::FAILED_DEPENDENCY, "cache not found")
            .detail(format!("cache '{name}' not found"))
    })
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

/// A status with an empty body (Go's `c.NoContent(status)`).
pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut resp = Response::new(full(Bytes::new()));
    *resp.status_mut() = status;
    resp
}

/// 204 No Content.
pub(crate) fn no_content() -> Resp {
    empty(StatusCode::NO_CONTENT)
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

/// Does this route write something that may grow memory (refused over `maxmemory`
/// when nothing can be evicted, as Redis refuses its `denyoom` commands)? Every
/// PUT, PATCH and POST but the ones that read or delete.
fn may_grow(route: &Route) -> bool {
    matches!(route.method, Method::PUT | Method::PATCH | Method::POST)
        && !matches!(
            route.pattern,
            "/api/v1/keys/get" | "/api/v1/keys/delete" | "/admin/backup"
        )
}

/// The request body, at most `--max-body` bytes (413 beyond).
async fn read_body(
    inner: &Inner,
    headers: &HeaderMap,
    body: axum::body::Body,
) -> Result<Vec<u8>, ApiError> {
    let limit = inner.config.max_body;
    let too_large = || {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "Request Entity Too Large").detail(format!(
            "request body larger than {limit} bytes (--max-body)"
        ))
    };
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(body, limit).await {
        Ok(b) => Ok(b.to_vec()),
        Err(e) if is_length_limit(&e) => Err(too_large()),
        Err(e) => Err(ApiError::bad_request("cannot read the request body").detail(e.to_string())),
    }
}

/// Did reading a body fail on its length limit (ours, or tower-http's)?
fn is_length_limit(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
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

    /// Operations openapi.yaml describes that http.rs serves outside the route table.
    const OUTSIDE_ROUTES: &[(&str, &str)] =
        &[("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics")];

    #[test]
    fn openapi_describes_exactly_the_routes() {
        let ops = openapi_operations();
        let routes = route_operations();
        for op in &routes {
            assert!(ops.contains(op), "{op:?} missing from openapi.yaml");
        }
        for (m, p) in &ops {
            let op = (m.clone(), p.clone());
            assert!(
                routes.contains(&op) || OUTSIDE_ROUTES.contains(&(m.as_str(), p.as_str())),
                "openapi.yaml describes {m} {p}, which no route serves"
            );
        }
        assert_eq!(ops.len(), routes.len() + OUTSIDE_ROUTES.len());
    }
}
