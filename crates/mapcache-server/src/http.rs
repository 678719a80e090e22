//! The HTTP side: health and readiness for now; metrics and the JSON API build on it.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::Inner;

pub(crate) async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut shutdown = inner.shutdown.clone();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (stream, _peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        let inner = inner.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let inner = inner.clone();
                async move { Ok::<_, Infallible>(route(&inner, req)) }
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

fn route(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => json(StatusCode::OK, healthz(inner)),
        (&Method::GET, "/readyz") => {
            if inner.ready.load(Ordering::Relaxed) {
                json(StatusCode::OK, r#"{"ready":true}"#.to_string())
            } else {
                json(
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"ready":false}"#.to_string(),
                )
            }
        }
        _ => json(
            StatusCode::NOT_FOUND,
            r#"{"error":{"code":404,"message":"no such endpoint"}}"#.to_string(),
        ),
    }
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
        r#"{{"status":"ok","uptime_seconds":{},"version":"{}","git_commit":"{}","connections":{},"tasks":{},"threads":{},"caches":[{}]}}"#,
        shared.started.elapsed().as_secs(),
        env!("CARGO_PKG_VERSION"),
        shared.info.git_sha,
        inner.connected.load(Ordering::Relaxed),
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
        process_threads(),
        caches.join(",")
    )
}

/// The process's OS thread count (`Threads:` of /proc/self/status; 0 where unavailable).
fn process_threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

fn json(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
