//! The HTTP side: `/healthz`, `/readyz` (always open, for orchestrators), `/metrics`
//! (Prometheus text), the JSON API (`/api/...`, `/admin/...`: [`crate::api`]) and,
//! with `--debug-endpoints`, `/debug/pprof/profile` and `/debug/allocator`
//! (`debug.rs`). When `requirepass` is set every endpoint but the two probes asks
//! for it: HTTP Basic with any user name, or `Authorization: Bearer <password>`.
//!
//! One axum router serves it all, on hyper's HTTP/1 connections accepted here. The
//! middleware (`http_layers.rs`) is tower-http's where it has one: trailing slashes
//! removed before routing, `X-Request-ID` echoed or generated, panics answered 500,
//! a per-request timeout (`--command-timeout-ms`, 408) and the body limit
//! (`--max-body`, 413) on the API; then ours: the password, every error answered
//! as `{"message": ...}`, and per request one access-log line and the HTTP metrics.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

use crate::api::{self, Resp};
use crate::{http_layers, Inner};

pub(crate) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let app = http_layers::app(app(&inner), &inner);
    // The HTTP side outlives the start of shutdown: while the RESP connections drain,
    // `/readyz` answers 503 so a load balancer stops sending new clients. It closes once
    // they have all finished (or the grace period is over).
    let drained = {
        let inner = inner.clone();
        async move {
            let mut shutdown = inner.shutdown.clone();
            let _ = shutdown.wait_for(|stopping| *stopping).await;
            let _ = tokio::time::timeout(inner.config.shutdown_grace, inner.tracker.wait()).await;
        }
    };
    tokio::pin!(drained);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = &mut drained => break,
        };
        let (stream, _peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        // Answers are written as soon as they are ready (as on the RESP side): without
        // this, Nagle's algorithm holds a response's second segment for the client's ACK.
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| app.clone().oneshot(req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "HTTP connection error");
            }
        });
    }
}

/// The routes: the probes, `/metrics`, the debug endpoints and the API.
fn app(inner: &Arc<Inner>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/debug/pprof/profile", get(profile))
        .route("/debug/allocator", get(allocator))
        .route("/debug/{*rest}", get(debug_off))
        .with_state(inner.clone())
        .merge(http_layers::api(api::router(inner), inner))
        .fallback(|| async { into_axum(error(StatusCode::NOT_FOUND, "Not Found")) })
}

fn into_axum(resp: Resp) -> Response {
    resp.map(axum::body::Body::new)
}

async fn readyz(State(inner): State<Arc<Inner>>) -> Response {
    if inner.ready.load(Ordering::Relaxed) {
        into_axum(json(StatusCode::OK, r#"{"ready":true}"#.to_string()))
    } else {
        into_axum(json(
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"ready":false}"#.to_string(),
        ))
    }
}

async fn metrics(State(inner): State<Arc<Inner>>) -> Response {
    if !inner.metrics.enabled {
        return into_axum(error(
            StatusCode::NOT_FOUND,
            "metrics are off (--metrics off)",
        ));
    }
    (
        [(
            CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        inner.metrics.render(&inner),
    )
        .into_response()
}

async fn profile(State(inner): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response {
    if !inner.config.debug_endpoints {
        return debug_off().await;
    }
    into_axum(crate::debug::profile(&inner, query.as_deref()).await)
}

async fn allocator(State(inner): State<Arc<Inner>>, RawQuery(query): RawQuery) -> Response {
    if !inner.config.debug_endpoints {
        return debug_off().await;
    }
    into_axum(crate::debug::allocator(&inner, query.as_deref()))
}

async fn debug_off() -> Response {
    into_axum(error(
        StatusCode::NOT_FOUND,
        "debug endpoints are off (--debug-endpoints)",
    ))
}

/// `{"message":"..."}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Resp {
    api::ApiError::new(status, message).into_response()
}

/// Whether the request carries the password, when one is set.
pub(crate) fn authorized(inner: &Inner, headers: &HeaderMap) -> bool {
    let Some(pass) = inner.shared.config.read().requirepass.clone() else {
        return true;
    };
    let Some(header) = headers.get(hyper::header::AUTHORIZATION) else {
        return false;
    };
    let value = header.as_bytes();
    let given: Vec<u8> = if let Some(token) = strip_prefix_ci(value, b"bearer ") {
        token.trim_ascii().to_vec()
    } else if let Some(b64) = strip_prefix_ci(value, b"basic ") {
        match base64_decode(b64.trim_ascii()) {
            // "user:password"; the user name is ignored (Redis's default user).
            Some(creds) => match creds.iter().position(|&c| c == b':') {
                Some(i) => creds[i + 1..].to_vec(),
                None => return false,
            },
            None => return false,
        }
    } else {
        return false;
    };
    constant_time_eq(&given, &pass)
}

fn strip_prefix_ci<'a>(v: &'a [u8], prefix: &[u8]) -> Option<&'a [u8]> {
    (v.len() >= prefix.len() && v[..prefix.len()].eq_ignore_ascii_case(prefix))
        .then(|| &v[prefix.len()..])
}

/// Compares without an early exit, so the time taken does not tell how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// HTTP Basic credentials' base64: the standard alphabet, padding optional, stray bits
/// in the last character ignored (lenient, as the hand-written decoder it replaces).
const BASIC_BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Standard base64 (padding optional); `None` on any other character.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    BASIC_BASE64.decode(input).ok()
}

async fn healthz(State(inner): State<Arc<Inner>>) -> Response {
    into_axum(json(StatusCode::OK, crate::health::healthz(&inner)))
}

pub(crate) fn json(status: StatusCode, body: String) -> Resp {
    api::json_response(status, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_basic_credentials() {
        assert_eq!(base64_decode(b"dXNlcjpzZWNyZXQ=").unwrap(), b"user:secret");
        assert_eq!(base64_decode(b"OnM").unwrap(), b":s");
        assert_eq!(base64_decode(b"").unwrap(), b"");
        assert!(base64_decode(b"a*b").is_none());
        // Lenient where a client may differ: stray bits, padding or not.
        assert_eq!(base64_decode(b"OnN").unwrap(), b":s");
        assert_eq!(base64_decode(b"OnM=").unwrap(), b":s");
        // Not base64 (the hand-written decoder read a prefix of these).
        assert!(base64_decode(b"OnM=OnM=").is_none());
        assert!(base64_decode(b"OnM=a").is_none());
        assert!(base64_decode(b"OnMaa").is_none());
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }
}
