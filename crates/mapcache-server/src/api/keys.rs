//! `/api/v1/keys`: entries of a cache addressed by `/` paths (the first segment is the
//! stored top-level key, the rest a path into its tree: docs/key-modes.md). The cache
//! is the one `X-Cache-Name` names (`default` without the header).

use std::sync::Arc;

use bytes::Bytes;
use hyper::StatusCode;
use mapcache_expiry::UnixMillis;
use mapcache_store::db::Batch;
use mapcache_store::doc::{self, DocError};
use mapcache_store::path::{self, Path, MAX_DEPTH};
use mapcache_store::{json, Addressing, Db, Hash, Value};

use super::{cache, empty, json_response, value_response, ApiError, Req, Resp, Seg};
use crate::Inner;

const SEP: u8 = b'/';

/// A key path of a request: `/`-joined bytes, and its segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPath {
    pub bytes: Vec<u8>,
    pub segs: Vec<Seg>,
}

impl KeyPath {
    pub fn from_segs(segs: &[Seg]) -> Result<KeyPath, ApiError> {
        if segs.iter().any(|s| s.bytes.contains(&SEP)) {
            return Err(ApiError::bad_request(
                "a path segment cannot contain '/' (not even as %2F)",
            ));
        }
        let bytes = segs
            .iter()
            .map(|s| s.bytes.as_slice())
            .collect::<Vec<_>>()
            .join(&SEP);
        let kp = KeyPath {
            bytes,
            segs: segs.to_vec(),
        };
        kp.check()?;
        Ok(kp)
    }

    /// A path given in a JSON body: `*` segments are wildcards.
    pub fn from_text(text: &[u8]) -> Result<KeyPath, ApiError> {
        let segs = Path::new(text, SEP)
            .segments()
            .map(|s| Seg {
                bytes: s.to_vec(),
                wildcard: s == b"*",
            })
            .collect();
        let kp = KeyPath {
            bytes: text.to_vec(),
            segs,
        };
        kp.check()?;
        Ok(kp)
    }

    fn check(&self) -> Result<(), ApiError> {
        if self.bytes.is_empty() {
            return Err(ApiError::validation("key cannot be empty"));
        }
        if self.segs.len() > MAX_DEPTH + 1 {
            return Err(ApiError::bad_request(format!(
                "path '{}' has more than {MAX_DEPTH} segments below its root",
                self.show()
            )));
        }
        Ok(())
    }

    pub fn has_wildcard(&self) -> bool {
        self.segs.iter().any(|s| s.wildcard)
    }

    pub fn show(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// Is `self` an ancestor of (or the same node as) `other`?
    fn covers(&self, other: &KeyPath) -> bool {
        other.segs.len() >= self.segs.len()
            && self
                .segs
                .iter()
                .zip(&other.segs)
                .all(|(a, b)| a.bytes == b.bytes)
    }

    fn no_wildcard(self) -> Result<KeyPath, ApiError> {
        if self.has_wildcard() {
            return Err(ApiError::bad_request(format!(
                "wildcards are not allowed here ('{}')",
                self.show()
            )));
        }
        Ok(self)
    }
}

fn show(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A TTL in milliseconds: a positive integer.
pub(crate) fn ttl_ms(v: &Value, what: &str) -> Result<i64, ApiError> {
    match v {
        Value::Number(n) if n.fract() == 0.0 && *n >= 1.0 && *n <= 1e15 => Ok(*n as i64),
        _ => Err(ApiError::bad_request(format!(
            "{what} must be a positive integer number of milliseconds"
        ))),
    }
}

/// The fields of a request object. Unknown fields are ignored, as the Go server's
/// JSON binding ignores them.
pub(crate) fn fields<'v>(
    v: &'v Value,
    known: &[&str],
    shape: &str,
) -> Result<Vec<Option<std::borrow::Cow<'v, Value>>>, ApiError> {
    let Value::Hash(h) = v else {
        return Err(ApiError::invalid_json(format!("the body must be {shape}")));
    };
    Ok(known
        .iter()
        .map(|n| h.get(n.as_bytes()).map(mapcache_store::Field::cow))
        .collect())
}

fn object<'v>(v: Option<&'v Value>, what: &str) -> Result<Option<&'v Hash>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(ApiError::invalid_json(format!(
            "'{what}' must be an object"
        ))),
    }
}

/// `{"keys": [path, ...]}`: at least one, none empty (Go's validation).
fn key_list(req: &mut Req, inner: &Inner) -> Result<Vec<KeyPath>, ApiError> {
    const SHAPE: &str = r#"{"keys": [path, ...]}"#;
    let body = req.json(inner, 2)?;
    let f = fields(&body, &["keys"], SHAPE)?;
    let keys = match f[0].as_deref() {
        Some(Value::List(keys)) => keys.iter().collect::<Vec<_>>(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return Err(ApiError::invalid_json(format!(
                "'keys' must be an array: {SHAPE}"
            )))
        }
    };
    if keys.is_empty() {
        return Err(ApiError::validation("at least one key is required"));
    }
    keys.into_iter()
        .map(|k| match k.str_bytes() {
            Some(s) => KeyPath::from_text(s),
            None => Err(ApiError::invalid_json(
                "every element of 'keys' must be a string",
            )),
        })
        .collect()
}

fn now(inner: &Inner) -> UnixMillis {
    inner.shared.store.now()
}

// ---------------------------------------------------------------------------------
// Wildcards
// ---------------------------------------------------------------------------------

/// Every node matching `pattern` (a `*` segment matches any one child of an object
/// or an array: `doc::matches`), with its path, read at one instant per root.
fn expand(db: &Db, now: UnixMillis, pattern: &KeyPath) -> Vec<(Vec<u8>, Value)> {
    let mut out = Vec::new();
    let (root, rest) = path::split(&pattern.bytes, SEP);
    let mut collect = |key: &[u8], value: &Value| match rest {
        None => out.push((key.to_vec(), value.clone())),
        Some(rest) => {
            for m in doc::matches(value, Path::new(rest, SEP)) {
                let mut p = key.to_vec();
                p.push(SEP);
                p.extend_from_slice(&m.path);
                out.push((p, m.value.into_owned()));
            }
        }
    };
    if root == path::WILDCARD {
        for i in 0..db.shard_count() {
            db.export_shard(i, now, |key, value, _, _| collect(key, value));
        }
    } else {
        db.peek_with(Addressing::Flat, root, now, |e| {
            if let Some(e) = e {
                collect(root, &e.value);
            }
        });
    }
    out
}

/// Matches as a JSON object: `{"path": value, ...}`.
fn matches_json(matches: &[(Vec<u8>, Value)], out: &mut Vec<u8>) {
    out.push(b'{');
    for (i, (p, v)) in matches.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        json::write_string(p, out);
        out.push(b':');
        json::write(v, out);
    }
    out.push(b'}');
}

// ---------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------

/// 404 `key not found`, naming the key in `detail`.
pub(crate) fn key_not_found(key: &[u8]) -> ApiError {
    ApiError::not_found("key not found").detail(format!("key '{}' not found", show(key)))
}

/// `GET /api/v1/keys/{path}`: the value at the path (leaf or branch, array items by
/// index); with a wildcard, an object of every match by path (mapcache's addition).
pub(crate) fn get(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?;
    let db = cache(inner, &req.cache_name()?)?;
    let now = now(inner);
    if kp.has_wildcard() {
        let mut out = Vec::new();
        matches_json(&expand(&db, now, &kp), &mut out);
        return Ok(json_response(StatusCode::OK, out));
    }
    db.get_with(Addressing::HTTP, &kp.bytes, now, |e| match e {
        Some(e) => Ok(value_response(StatusCode::OK, &e.value)),
        None => Err(key_not_found(&kp.bytes)),
    })
}

/// `POST /api/v1/keys/get` `{"keys": [...]}`: the values in the same order; 404 when
/// any is missing. A wildcard path answers an object of its matches (mapcache's
/// addition). Paths without wildcards are read at one instant.
pub(crate) fn get_many(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let keys = key_list(&mut req, inner)?;
    let db = cache(inner, &req.cache_name()?)?;
    let now = now(inner);
    let literal: Vec<&[u8]> = keys
        .iter()
        .filter(|k| !k.has_wildcard())
        .map(|k| k.bytes.as_slice())
        .collect();
    let mut out = vec![b'['];
    db.get_many_with(Addressing::HTTP, &literal, now, |many| {
        let mut j = 0;
        for (i, k) in keys.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            if k.has_wildcard() {
                matches_json(&expand(&db, now, k), &mut out);
            } else {
                match many.get(j) {
                    Some(e) => json::write(&e.value, &mut out),
                    None => return Err(key_not_found(&k.bytes)),
                }
                j += 1;
            }
        }
        Ok(())
    })?;
    out.push(b']');
    Ok(json_response(StatusCode::OK, out))
}

// ---------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------

/// The answer to a document operation on `key` that failed.
pub(crate) fn doc_error(key: &[u8], e: DocError) -> ApiError {
    let at = |depth: usize| {
        let (root, rest) = path::split(key, SEP);
        match (depth, rest) {
            (0, _) | (_, None) => show(root),
            (n, Some(rest)) => format!(
                "{}/{}",
                show(root),
                show(&rest[..Path::new(rest, SEP).prefix_len(n)])
            ),
        }
    };
    match e {
        DocError::Missing => key_not_found(key),
        DocError::Exists => ApiError::conflict("keys already exist")
            .detail(format!("key '{}' already exists", show(key))),
        DocError::Blocked { depth } => ApiError::conflict("invalid path").detail(format!(
            "path '{}' crosses a non-object value at '{}'",
            show(key),
            at(depth)
        )),
        DocError::NoSuchIndex { depth } => ApiError::conflict("invalid path").detail(format!(
            "path '{}' addresses an item past the end of the array at '{}'",
            show(key),
            at(depth.saturating_sub(1))
        )),
        DocError::TooDeep => ApiError::validation(format!(
            "path '{}' has more than {MAX_DEPTH} segments below its root",
            show(key)
        )),
        other => {
            ApiError::conflict(other.to_string()).detail(format!("key '{}': {other}", show(key)))
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// POST: every path must be new.
    Create,
    /// PUT: every path must exist.
    Replace,
}

/// `{"entries": {path: value}, "ttl": {path: ms}}` written atomically: every check
/// (paths, TTLs, conflicts with what is stored) happens under the locks of every root
/// involved, before anything is written. A TTL's path must be one of the entries (or,
/// mapcache's addition, a node inside one's value); on PUT a `null` TTL removes the
/// expiry.
fn write_entries(inner: &Inner, mut req: Req, mode: Mode) -> Result<(), ApiError> {
    const SHAPE: &str = r#"{"entries": {path: value, ...}, "ttl": {path: ms, ...}}"#;
    let body = req.json(inner, 2)?;
    let f = fields(&body, &["entries", "ttl"], SHAPE)?;
    let entries = object(f[0].as_deref(), "entries")?;
    let ttls = object(f[1].as_deref(), "ttl")?;
    let Some(entries) = entries.filter(|e| !e.is_empty()) else {
        return Err(ApiError::validation("at least one entry is required"));
    };
    let mut paths = Vec::with_capacity(entries.len());
    for k in entries.keys() {
        paths.push(KeyPath::from_text(k)?.no_wildcard()?);
    }
    // In segment order a path comes right before the paths inside it (and before
    // anything between them, which is inside it too): checking neighbours finds every
    // overlap in O(n log n), where comparing all pairs would let one request of many
    // entries take minutes.
    let mut order: Vec<&KeyPath> = paths.iter().collect();
    order.sort_by(|a, b| {
        a.segs
            .iter()
            .map(|s| s.bytes.as_slice())
            .cmp(b.segs.iter().map(|s| s.bytes.as_slice()))
    });
    for pair in order.windows(2) {
        if pair[0].covers(pair[1]) {
            return Err(ApiError::validation(format!(
                "entries '{}' and '{}' overlap: one is inside the other",
                pair[0].show(),
                pair[1].show()
            )));
        }
    }
    // TTLs: on an entry (`own[i]`) or, mapcache's addition, on a node inside the
    // value written for one (`nested`). Each is unchanged (None), set (Some(Some(
    // deadline))) or removed (Some(None): a `null` TTL, PUT only).
    let now = now(inner);
    let mut own: Vec<Option<Option<i64>>> = vec![None; paths.len()];
    let mut nested: Vec<(KeyPath, Option<i64>)> = Vec::new();
    for (k, v) in ttls.into_iter().flatten() {
        let kp = KeyPath::from_text(k)?.no_wildcard()?;
        let deadline = match (&*v.cow(), mode) {
            (Value::Null, Mode::Replace) => None,
            (v, _) => Some(
                now.saturating_add(
                    ttl_ms(v, &format!("ttl of '{}'", kp.show()))
                        .map_err(|e| ApiError::invalid_json(e.message))?,
                ),
            ),
        };
        match paths.iter().position(|p| p.covers(&kp)) {
            Some(i) if paths[i].segs.len() == kp.segs.len() => own[i] = Some(deadline),
            Some(_) => nested.push((kp, deadline)),
            None => {
                return Err(ApiError::validation(format!(
                    "TTL specified for non-existent key: {}",
                    kp.show()
                )))
            }
        }
    }
    let db = cache(inner, &req.cache_name()?)?;
    let values: Vec<std::borrow::Cow<'_, Value>> = entries.values().map(|v| v.cow()).collect();
    let values: Vec<&Value> = values.iter().map(|v| &**v).collect();
    check_nested_ttls(&paths, &values, &nested)?;
    let roots: Vec<&[u8]> = paths.iter().map(|p| p.bytes.as_slice()).collect();
    db.batch(SEP, &roots, now, |b| {
        for ((p, &value), ttl) in paths.iter().zip(&values).zip(&own) {
            let written = match mode {
                Mode::Create => b.create(&p.bytes, value.clone()),
                Mode::Replace => b.replace(&p.bytes, value.clone()).map(drop),
            };
            written.map_err(|e| doc_error(&p.bytes, e))?;
            if let Some(deadline) = ttl {
                b.set_deadline(&p.bytes, *deadline)
                    .map_err(|e| doc_error(&p.bytes, e))?;
            }
        }
        // Each nested TTL path is inside the value just written (check_nested_ttls).
        for (kp, deadline) in &nested {
            b.set_deadline(&kp.bytes, *deadline)
                .map_err(|e| doc_error(&kp.bytes, e))?;
        }
        Ok::<_, ApiError>(())
    })
}

/// Checks that every nested TTL path exists inside the value written for its entry.
fn check_nested_ttls(
    paths: &[KeyPath],
    values: &[&Value],
    nested: &[(KeyPath, Option<i64>)],
) -> Result<(), ApiError> {
    for (kp, _) in nested {
        let Some(i) = paths.iter().position(|p| p.covers(kp)) else {
            return Err(ApiError::validation(format!(
                "TTL specified for non-existent key: {}",
                kp.show()
            )));
        };
        let below = &kp.segs[paths[i].segs.len()..];
        let inside = values.get(i).is_some_and(|&v| {
            path::resolve_segments(v, below.iter().map(|s| s.bytes.as_slice())).is_some()
        });
        if !inside {
            return Err(ApiError::validation(format!(
                "TTL path '{}' is not in the value written",
                kp.show()
            )));
        }
    }
    Ok(())
}

/// `POST /api/v1/keys`: creates entries; 201 with an empty body; 409 (and nothing
/// written) when any exists.
pub(crate) fn create(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    write_entries(inner, req, Mode::Create)?;
    Ok(empty(StatusCode::CREATED))
}

/// `PUT /api/v1/keys`: replaces entries, which must all exist (404, nothing written),
/// atomically; fires no triggers (as Go). 200 with an empty body.
pub(crate) fn replace_many(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    write_entries(inner, req, Mode::Replace)?;
    Ok(empty(StatusCode::OK))
}

/// `PUT /api/v1/keys/{path}` `{"value": v}`: replaces the node, which must exist (404;
/// Go: 500), keeping its TTL, and fires the cache's triggers for it. 200 with an
/// empty body. (A body without `value` stores null, as Go.)
pub(crate) fn put(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?.no_wildcard()?;
    let body = req.json(inner, 1)?;
    let f = fields(&body, &["value"], r#"{"value": v}"#)?;
    let value = f[0].as_deref().cloned().unwrap_or(Value::Null);
    let db = cache(inner, &req.cache_name()?)?;
    let replace = |b: &mut Batch<'_>| {
        b.replace(&kp.bytes, value)
            .map(|_| true)
            .map_err(|e| doc_error(&kp.bytes, e))
    };
    let programs = &inner.shared.programs;
    if programs.armed() && programs.has_triggers(db.name()) {
        // Replacing a node fires the cache's triggers, in the same batch: a failing
        // trigger leaves nothing written.
        programs.write_and_fire(&db, &kp.show(), now(inner), replace)?;
    } else {
        db.batch(SEP, &[&kp.bytes], now(inner), replace)?;
    }
    Ok(empty(StatusCode::OK))
}

/// Removes every path (wildcards expanded first) at one instant, in one batch;
/// answers how many nodes went.
fn delete_paths(db: &Db, now: UnixMillis, patterns: &[KeyPath]) -> Result<usize, ApiError> {
    let roots: Vec<&[u8]> = patterns.iter().map(|p| p.bytes.as_slice()).collect();
    let any_root = patterns
        .iter()
        .any(|p| path::split(&p.bytes, SEP).0 == path::WILDCARD);
    let run = |b: &mut Batch<'_>| {
        let mut concrete: Vec<Bytes> = Vec::new();
        for p in patterns {
            if p.has_wildcard() {
                concrete.extend(b.matches(&p.bytes)?.into_iter().map(|m| m.key));
            } else {
                concrete.push(Bytes::copy_from_slice(&p.bytes));
            }
        }
        concrete.sort();
        concrete.dedup();
        // Deepest first: an array item's removal does not shift a later one's index
        // when both are given (items go from the highest index down).
        concrete.sort_by(|a, b| b.len().cmp(&a.len()).then(b.cmp(a)));
        let mut n = 0;
        for key in &concrete {
            n += usize::from(b.delete(key)?.is_some());
        }
        Ok::<_, DocError>(n)
    };
    let n = if any_root {
        db.batch_all(SEP, now, run)
    } else {
        db.batch(SEP, &roots, now, run)
    };
    n.map_err(|e| doc_error(b"", e))
}

/// `DELETE /api/v1/keys/{path}`: 200 with an empty body, also when nothing was there;
/// a numeric last segment removes that array item.
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?;
    let db = cache(inner, &req.cache_name()?)?;
    delete_paths(&db, now(inner), std::slice::from_ref(&kp))?;
    Ok(empty(StatusCode::OK))
}

/// `POST /api/v1/keys/delete` `{"keys": [...]}`: 200 with an empty body.
pub(crate) fn delete_many(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let keys = key_list(&mut req, inner)?;
    let db = cache(inner, &req.cache_name()?)?;
    delete_paths(&db, now(inner), &keys)?;
    Ok(empty(StatusCode::OK))
}
