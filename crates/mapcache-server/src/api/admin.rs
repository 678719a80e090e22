//! `/admin/backup`, `/admin/restore` (the snapshot document of docs/snapshot-format.md).

//! With the Go server's body `{"cache","filename"}` backup and restore write and read
//! the Go map-cache's backup files inside `--dir` instead (`persistence.rs`).

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};
use mapcache_store::{json, parse_any, Value};
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

/// The Go server's backup and restore request, `{"cache","filename"}`; `None` when the
/// body is not such a request (empty, or a backup document to restore).
fn file_request(inner: &Inner, body: &[u8]) -> Result<Option<(String, String)>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    // A request is small; a document to restore may be large: parse only what could
    // be a request.
    let head = &body[..body.len().min(4096)];
    if body.len() >= 4096 && !head.windows(10).any(|w| w == b"\"filename\"") {
        return Ok(None);
    }
    let Ok(Value::Hash(fields)) = json::parse(&mut body.to_vec(), inner.config.max_depth) else {
        return Ok(None);
    };
    if fields.contains_key(b"format") || fields.contains_key(b"data") {
        return Ok(None);
    }
    if !fields.contains_key(b"filename") && !fields.contains_key(b"cache") {
        return Ok(None);
    }
    let text = |name: &[u8]| -> Result<String, ApiError> {
        match fields.get(name).map(mapcache_store::Field::cow).as_deref() {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::Str(s)) => String::from_utf8(s.as_slice().to_vec())
                .map_err(|_| ApiError::bad_request("invalid json payload")),
            Some(_) => Err(ApiError::bad_request("invalid json payload")),
        }
    };
    let cache = text(b"cache")?;
    let cache = if cache.is_empty() {
        mapcache_store::DEFAULT_CACHE.to_owned()
    } else {
        cache
    };
    Ok(Some((cache, text(b"filename")?)))
}

fn file_error(e: persistence::FileError) -> ApiError {
    match e {
        persistence::FileError::Refused(why) => {
            ApiError::bad_request(format!("validation failed: {why}"))
        }
        persistence::FileError::Io(why) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, why),
    }
}

fn restore_error(e: persistence::RestoreError) -> ApiError {
    match e {
        persistence::RestoreError::Cache(e) => e.into(),
        persistence::RestoreError::Triggers(e) => ApiError::bad_request(e.to_string()),
    }
}

/// `POST /admin/backup`.
///
/// With the Go server's body `{"cache","filename"}`: writes the cache (data, key
/// deadlines, its own deadline, its triggers) in the Go map-cache's backup format to
/// `filename` inside `--dir` and answers 200 with an empty body. A name that is empty,
/// absolute, has `..` or leads out of `--dir` through a link answers 400 and writes
/// nothing; an unknown cache 404 (Go: 500).
///
/// Without a body: the cache `X-Cache-Name` names (default `default`) as a mapcache
/// snapshot document in the answer, streamed: each shard is read under its lock and
/// the text sent as it is produced (so the document is not held in memory whole). TTLs
/// are absolute Unix-millisecond deadlines.
pub(crate) fn backup(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    if let Some((name, filename)) = file_request(inner, &req.body)? {
        let path =
            persistence::file_in_dir(&inner.config.dir, &filename, false).map_err(file_error)?;
        // 404, not the keys routes' 424: Go answers 500 here (a client's mistake).
        let db = inner
            .shared
            .store
            .cache(&name)
            .ok_or_else(|| ApiError::not_found(format!("cache '{name}' not found")))?;
        persistence::write_file(&inner.shared, &db, &name, persistence::Format::Go, &path)
            .map_err(|e| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("backup failed: {e}"),
                )
            })?;
        return Ok(json_response(StatusCode::OK, Bytes::new()));
    }
    let name = req.cache_name()?;
    // 404 now, before the 200 head goes out.
    cache(inner, &name)?;
    let (tx, rx) = mpsc::channel::<Bytes>(4);
    let inner = inner.clone();
    tokio::task::spawn_blocking(move || {
        let Some(db) = inner.shared.store.cache(&name) else {
            return;
        };
        let format = persistence::Format::Mapcache;
        persistence::export(&inner.shared, &db, &name, format, &mut |chunk: &mut Vec<
            u8,
        >| {
            tx.blocking_send(Bytes::from(std::mem::take(chunk))).is_ok()
        });
    });
    let mut resp = Response::new(ChannelBody(rx).boxed());
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// `POST /admin/restore`.
///
/// With the Go server's body `{"cache","filename"}`: reads `filename` inside `--dir`
/// (either format) into the cache the body names (Go: always `default`), created when
/// missing, replacing its keys atomically, then its triggers and deadline; 200 with an
/// empty body. The same names as for backup answer 400 and read nothing; a malformed
/// file changes nothing (400).
///
/// Otherwise the body is the document itself (either format), restored into the cache
/// `X-Cache-Name` names, else the one the document names; answers
/// `{"cache": name, "keys": n}`.
pub(crate) fn restore(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let max_depth = inner.config.max_depth;
    if let Some((name, filename)) = file_request(inner, &req.body)? {
        let path =
            persistence::file_in_dir(&inner.config.dir, &filename, true).map_err(file_error)?;
        let mut text = std::fs::read(&path)
            .map_err(|e| ApiError::bad_request(format!("validation failed: {e}")))?;
        if text.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("validation failed: file is empty"));
        }
        let snapshot = parse_any(&mut text, max_depth)
            .map_err(|e| ApiError::bad_request(format!("restore failed: {e}")))?;
        persistence::restore(&inner.shared, &name, snapshot).map_err(restore_error)?;
        return Ok(json_response(StatusCode::OK, Bytes::new()));
    }
    let header = req.headers.contains_key("x-cache-name");
    let target = req.cache_name()?;
    if req.body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("a snapshot document is required"));
    }
    let snapshot =
        parse_any(&mut req.body, max_depth).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = if header || snapshot.cache.is_empty() {
        target
    } else {
        snapshot.cache.clone()
    };
    let n = persistence::restore(&inner.shared, &name, snapshot).map_err(restore_error)?;
    let mut out = b"{\"cache\":".to_vec();
    json::write_string(name.as_bytes(), &mut out);
    out.extend_from_slice(b",\"keys\":");
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    out.push(b'}');
    Ok(json_response(StatusCode::OK, out))
}
