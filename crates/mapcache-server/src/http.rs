//! The HTTP side: `/healthz`, `/readyz` (always open, for orchestrators), `/metrics`
//! (Prometheus text), the JSON API (`/api/...`, `/admin/...`: [`crate::api`]) and,
//! with `--debug-endpoints`, `/debug/pprof/profile` and `/debug/allocator`
//! (`debug.rs`). When `requirepass` is set every endpoint but the two probes asks
//! for it: HTTP Basic with any user name, or `Authorization: Bearer <password>`.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::api::{self, full, Resp};
use crate::Inner;

pub(crate) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
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
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let inner = inner.clone();
                async move { Ok::<_, Infallible>(route(&inner, req).await) }
            });
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "HTTP connection error");
            }
        });
    }
}

async fn route(inner: &Arc<Inner>, req: Request<Incoming>) -> Resp {
    let path = req.uri().path();
    match (req.method(), path) {
        (&Method::GET, "/healthz") => return json(StatusCode::OK, healthz(inner)),
        (&Method::GET, "/readyz") => {
            return if inner.ready.load(Ordering::Relaxed) {
                json(StatusCode::OK, r#"{"ready":true}"#.to_string())
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"ready":false}"#.to_string(),
                )
            }
        }
        _ => {}
    }
    if !authorized(inner, &req) {
        let mut resp = error(StatusCode::UNAUTHORIZED, "authentication required");
        resp.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static(r#"Basic realm="mapcache""#),
        );
        return resp;
    }
    if api::owns(path) {
        return api::dispatch(inner, req).await;
    }
    match (req.method(), path) {
        (&Method::GET, "/metrics") if inner.metrics.enabled => {
            let mut resp = Response::new(full(Bytes::from(inner.metrics.render(inner))));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            resp
        }
        (&Method::GET, "/metrics") => {
            error(StatusCode::NOT_FOUND, "metrics are off (--metrics off)")
        }
        (&Method::GET, "/debug/pprof/profile") if inner.config.debug_endpoints => {
            crate::debug::profile(inner, req.uri().query()).await
        }
        (&Method::GET, "/debug/allocator") if inner.config.debug_endpoints => {
            crate::debug::allocator(inner, req.uri().query())
        }
        (&Method::GET, p) if p.starts_with("/debug/") => error(
            StatusCode::NOT_FOUND,
            "debug endpoints are off (--debug-endpoints)",
        ),
        _ => error(StatusCode::NOT_FOUND, "no such endpoint"),
    }
}

/// `{"error":{"code":N,"message":"..."}}`.
pub(crate) fn error(status: StatusCode, message: &str) -> Resp {
    api::ApiError::new(status, message).into_response()
}

/// Whether the request carries the password, when one is set.
fn authorized(inner: &Inner, req: &Request<Incoming>) -> bool {
    let Some(pass) = inner.shared.config.read().requirepass.clone() else {
        return true;
    };
    let Some(header) = req.headers().get(hyper::header::AUTHORIZATION) else {
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

fn healthz(inner: &Inner) -> String {
    let shared = &inner.shared;
    let now = shared.store.now();
    let caches: Vec<String> = shared
        .store
        .dbs()
        .iter()
        .enumerate()
        .map(|(i, db)| {
            let name = if i == 0 {
                "default".to_string()
            } else {
                i.to_string()
            };
            format!(r#"{{"name":"{name}","keys":{}}}"#, db.len(now))
        })
        .collect();
    format!(
        r#"{{"status":"ok","ready":{},"uptime_seconds":{},"version":"{}","git_commit":"{}","connections":{},"tasks":{},"threads":{},"caches":[{}]}}"#,
        inner.ready.load(Ordering::Relaxed),
        shared.started.elapsed().as_secs(),
        env!("CARGO_PKG_VERSION"),
        shared.info.git_sha,
        inner.connected.load(Ordering::Relaxed),
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        crate::process::threads(),
        caches.join(",")
    )
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
