//! `/admin/backup`, `/admin/restore` (the snapshot document of docs/snapshot-format.md).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use mapcache_store::{json, parse_snapshot};
use tokio::sync::mpsc;

use super::{cache, json_response, ApiError, Req, Resp};
use crate::{persistence, Inner};

/// A response body fed chunk by chunk through a channel.
#[derive(Debug)]
struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0.poll_recv(cx).map(|c| c.map(|b| Ok(Frame::data(b))))
    }
}

/// `POST /admin/backup`: the cache `X-Cache-Name` names (default `default`) as a
/// snapshot document, streamed: each shard is read under its lock and the text sent
/// as it is produced (so the document is not held in memory whole). TTLs are absolute
/// Unix-millisecond deadlines.
pub(crate) fn backup(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let name = req.cache_name()?;
    // 404 now, before the 200 head goes out.
    cache(inner, &name)?;
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || {
        let Some(db) = inner.shared.store.cache(&name) else {
            return;
        };
        let now = inner.shared.store.now();
        persistence::export(&db, &name, now, &mut |chunk: &mut Vec<u8>| {
            tx.blocking_send(Bytes::from(std::mem::take(chunk))).is_ok()
        });
    });
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// `POST /admin/restore`: replaces the content of a cache with a snapshot document,
/// atomically; a malformed document changes nothing (400). The cache is the one
/// `X-Cache-Name` names, else the document's `cache`; a named cache that does not
/// exist is created. Answers `{"cache": name, "keys": n}`.
pub(crate) fn restore(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let header = req.headers.contains_key("x-cache-name");
    let target = req.cache_name()?;
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a snapshot document is required"));
    }
    let snapshot = parse_snapshot(&mut req.body, inner.config.max_depth)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = if header {
        target
    } else {
        snapshot.cache.clone()
    };
    let n = persistence::restore(&inner.shared.store, &name, snapshot)?;
    let mut out = b"{\"cache\":".to_vec();
    json::write_string(name.as_bytes(), &mut out);
    out.extend_from_slice(b",\"keys\":");
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'}');
    Ok(json_response(StatusCode::OK, out))
}
