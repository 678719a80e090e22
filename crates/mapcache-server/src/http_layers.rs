//! The HTTP middleware around the router (`http.rs`), tower-http's where it has one.
//!
//! Outside the router, for every request: trailing slashes removed before routing
//! (`NormalizePath`), then `X-Request-ID` kept or generated (12 hex digits, as the Go
//! server's) and echoed on the answer. Around each route (so the route's template is
//! known), in one middleware ([`gate`]): the access-log line and the HTTP metrics
//! ([`observe`]), the password ([`auth`]) and every error answered as `{"message":
//! ...}` ([`json_errors`]: axum's 405, tower-http's 408 and 413 come without a body of
//! ours); inside it, panics answered 500 (`CatchPanic`). On the API routes only ([`api`]): the per-request timeout
//! (`--command-timeout-ms`, 408) and the body limit (`--max-body`, 413).

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::StatusCode;
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestId, PropagateRequestIdLayer, RequestId, SetRequestId,
    SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;

use crate::api::ApiError;
use crate::Inner;

/// The whole HTTP service: the router inside its middleware.
pub(crate) type App = NormalizePath<SetRequestId<PropagateRequestId<axum::Router>, MakeId>>;

/// The API routes' own limits: the per-request timeout and the body limit.
pub(crate) fn api(router: axum::Router, inner: &Inner) -> axum::Router {
    router
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            inner.config.command_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(inner.config.max_body))
}

/// `router` inside every layer (the order is outermost first in the list above).
pub(crate) fn app(router: axum::Router, inner: &Arc<Inner>) -> App {
    let router = router
        .layer(CatchPanicLayer::custom(panicked))
        .layer(axum::middleware::from_fn_with_state(inner.clone(), gate));
    ServiceBuilder::new()
        .layer(NormalizePathLayer::trim_trailing_slash())
        .layer(SetRequestIdLayer::x_request_id(MakeId::new()))
        .layer(PropagateRequestIdLayer::x_request_id())
        .service(router)
}

/// Request ids for requests without one: 12 hex digits (48 bits) of a counter
/// scrambled from a per-process random start, so ids do not repeat within a process
/// and differ between processes.
#[derive(Debug, Clone)]
pub(crate) struct MakeId {
    seed: u64,
    next: Arc<AtomicU64>,
}

impl MakeId {
    fn new() -> MakeId {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_nanos(),
        );
        MakeId {
            seed: h.finish(),
            next: Arc::new(AtomicU64::new(0)),
        }
    }
}

/// splitmix64's finaliser: a bijection of `u64`, so distinct counters give distinct ids
/// in their top 48 bits almost always (and never the same full value).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl MakeRequestId for MakeId {
    fn make_request_id<B>(&mut self, _request: &hyper::Request<B>) -> Option<RequestId> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let x = mix(self.seed.wrapping_add(n)) >> 16;
        let mut id = [0u8; 12];
        for (i, c) in id.iter_mut().enumerate() {
            *c = HEX[((x >> (44 - 4 * i)) & 0xf) as usize];
        }
        HeaderValue::from_bytes(&id).ok().map(RequestId::new)
    }
}

/// A panic in a handler: 500, and the panic in the log.
fn panicked(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "HTTP handler panicked");
    error_response(ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
    ))
}

fn error_response(e: ApiError) -> Response {
    e.into_response().map(axum::body::Body::new)
}

/// Gives every error answer without a JSON body of its own (axum's 405, tower-http's
/// 408 and 413) Go's `{"message": <the status's reason>}`; keeps its other headers
/// (`Allow`).
fn json_errors(resp: Response) -> Response {
    let status = resp.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return resp;
    }
    let is_json = resp
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if is_json {
        return resp;
    }
    let (mut parts, _) = resp.into_parts();
    let body = ApiError::new(status, status.canonical_reason().unwrap_or("Error")).body();
    parts.headers.remove(CONTENT_LENGTH);
    parts
        .headers
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// One middleware around each route, for what needs the route's template (one layer:
/// each `from_fn` costs allocations per request): [`observe`] around the password
/// check ([`auth`]) and the route, whose error answers get JSON bodies
/// ([`json_errors`]).
async fn gate(State(inner): State<Arc<Inner>>, req: Request, next: Next) -> Response {
    observe(&inner, req, |req| async {
        match auth(&inner, &req) {
            Some(refused) => refused,
            None => json_errors(next.run(req).await),
        }
    })
    .await
}

/// The password, when one is set (the two probes stay open): `None` lets the request
/// through, else the 401.
fn auth(inner: &Inner, req: &Request) -> Option<Response> {
    let path = req.uri().path();
    if path == "/healthz" || path == "/readyz" || crate::http::authorized(inner, req.headers()) {
        return None;
    }
    let mut resp = error_response(ApiError::new(
        StatusCode::UNAUTHORIZED,
        "authentication required",
    ));
    resp.headers_mut().insert(
        WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Basic realm="mapcache""#),
    );
    Some(resp)
}

/// A route's template as the route table writes it: axum's catch-all `{*path}` is
/// the table's `{path}`.
fn route_label(matched: &str) -> &str {
    match matched {
        "/api/v1/keys/{*path}" => "/api/v1/keys/{path}",
        "/debug/{*rest}" => "/debug/{rest}",
        other => other,
    }
}

/// Counts the request in flight while `run` answers it; then records the HTTP metrics
/// by method, route template and status, and writes the access-log line (its fields
/// are gathered only when the line is enabled).
async fn observe<F: std::future::Future<Output = Response>>(
    inner: &Inner,
    req: Request,
    run: impl FnOnce(Request) -> F,
) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let logged = tracing::enabled!(target: "mapcache::http", tracing::Level::INFO);
    let seen = logged.then(|| {
        (
            req.uri().path().to_owned(),
            req.headers().get("x-request-id").cloned(),
        )
    });
    let request_size = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let http = inner.metrics.enabled.then_some(&inner.metrics.http);
    let _in_flight = http.map(|h| h.enter());
    let resp = run(req).await;
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    let route = route_label(route.as_ref().map_or("unmatched", MatchedPath::as_str));
    let response_size = axum::body::HttpBody::size_hint(resp.body()).exact();
    if let Some(h) = http {
        h.record(&method, route, status, elapsed, request_size, response_size);
    }
    if let Some((path, request_id)) = seen {
        tracing::info!(
            target: "mapcache::http",
            method = %method,
            path = %path,
            route,
            status,
            duration_us = elapsed.as_micros() as u64,
            bytes_in = request_size.unwrap_or(0),
            bytes_out = response_size.unwrap_or(0),
            request_id = request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or(""),
            "request"
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_request_ids_are_12_hex_digits_and_differ() {
        let mut make = MakeId::new();
        let req = hyper::Request::new(());
        let a = make.make_request_id(&req).unwrap();
        let b = make.make_request_id(&req).unwrap();
        let a = a.header_value().to_str().unwrap().to_string();
        let b = b.header_value().to_str().unwrap().to_string();
        assert_eq!(a.len(), 12);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
