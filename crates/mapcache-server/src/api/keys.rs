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

use super::{cache, json_response, no_content, value_response, ApiError, Req, Resp, Seg};
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
            return Err(ApiError::bad_request("empty key path"));
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

/// The fields of a request object; unknown fields are refused.
pub(crate) fn fields<'v>(
    v: &'v Value,
    known: &[&str],
    shape: &str,
) -> Result<Vec<Option<&'v Value>>, ApiError> {
    let Value::Hash(h) = v else {
        return Err(ApiError::bad_request(format!("the body must be {shape}")));
    };
    for k in h.keys() {
        if !known.iter().any(|n| n.as_bytes() == k) {
            return Err(ApiError::bad_request(format!(
                "unknown field '{}' (the body must be {shape})",
                show(k)
            )));
        }
    }
    Ok(known.iter().map(|n| h.get(n.as_bytes())).collect())
}

fn object<'v>(v: Option<&'v Value>, what: &str) -> Result<Option<&'v Hash>, ApiError> {
    match v {
        None => Ok(None),
        Some(Value::Hash(h)) => Ok(Some(h)),
        Some(_) => Err(ApiError::bad_request(format!("'{what}' must be an object"))),
    }
}

/// `{"keys": [path, ...]}`.
fn key_list(req: &mut Req, inner: &Inner) -> Result<Vec<KeyPath>, ApiError> {
    const SHAPE: &str = r#"{"keys": [path, ...]}"#;
    let body = req.json(inner, 2)?;
    let f = fields(&body, &["keys"], SHAPE)?;
    let Some(Value::List(keys)) = f[0] else {
        return Err(ApiError::bad_request(format!(
            "'keys' must be an array: {SHAPE}"
        )));
    };
    keys.iter()
        .map(|k| match k {
            Value::Str(s) => KeyPath::from_text(s),
            _ => Err(ApiError::bad_request(
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
                out.push((p, m.value.clone()));
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

/// `GET /api/v1/keys/{path}`: the value at the path (leaf or branch); with a wildcard,
/// an object of every match by path.
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
        None => Err(ApiError::not_found(format!(
            "key '{}' not found",
            kp.show()
        ))),
    })
}

/// `POST /api/v1/keys/get` `{"keys": [...]}`: the values in the same order, `null` for
/// a missing one; a wildcard path answers an object of its matches. Paths without
/// wildcards are read at one instant.
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
                    None => out.extend_from_slice(b"null"),
                }
                j += 1;
            }
        }
    });
    out.push(b']');
    Ok(json_response(StatusCode::OK, out))
}

// ---------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------

/// The answer to a document operation on `key` that failed.
fn doc_error(key: &[u8], e: DocError) -> ApiError {
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
        DocError::Missing => ApiError::not_found(format!("key '{}' not found", show(key))),
        DocError::Exists => ApiError::conflict(format!("key '{}' already exists", show(key))),
        DocError::Blocked { depth } => ApiError::conflict(format!(
            "path '{}' crosses a non-object value at '{}'",
            show(key),
            at(depth)
        )),
        DocError::NoSuchIndex { depth } => ApiError::conflict(format!(
            "path '{}' addresses an item past the end of the array at '{}'",
            show(key),
            at(depth.saturating_sub(1))
        )),
        DocError::TooDeep => ApiError::bad_request(format!(
            "path '{}' has more than {MAX_DEPTH} segments below its root",
            show(key)
        )),
        other => ApiError::conflict(format!("key '{}': {other}", show(key))),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// POST: every path must be new.
    Create,
    /// PUT: create or replace.
    Replace,
}

/// `{"entries": {path: value}, "ttl": {path: ms}}` written atomically: every check
/// (paths, TTLs, conflicts with what is stored) happens under the locks of every root
/// involved, before anything is written.
fn write_entries(inner: &Inner, mut req: Req, mode: Mode) -> Result<usize, ApiError> {
    const SHAPE: &str = r#"{"entries": {path: value, ...}, "ttl": {path: ms, ...}}"#;
    let body = req.json(inner, 2)?;
    let f = fields(&body, &["entries", "ttl"], SHAPE)?;
    let Some(entries) = object(f[0], "entries")? else {
        return Err(ApiError::bad_request(format!(
            "'entries' is required: {SHAPE}"
        )));
    };
    let ttls = object(f[1], "ttl")?;
    let mut paths = Vec::with_capacity(entries.len());
    for k in entries.keys() {
        paths.push(KeyPath::from_text(k)?.no_wildcard()?);
    }
    for (i, a) in paths.iter().enumerate() {
        for b in &paths[i + 1..] {
            if a.covers(b) || b.covers(a) {
                return Err(ApiError::bad_request(format!(
                    "entries '{}' and '{}' overlap: one is inside the other",
                    a.show(),
                    b.show()
                )));
            }
        }
    }
    // TTLs: on an entry (`own[i]`) or on a node inside one (`nested`).
    let mut own: Vec<Option<i64>> = vec![None; paths.len()];
    let mut nested: Vec<(KeyPath, i64)> = Vec::new();
    for (k, v) in ttls.into_iter().flatten() {
        let kp = KeyPath::from_text(k)?.no_wildcard()?;
        let ms = ttl_ms(v, &format!("ttl of '{}'", kp.show()))?;
        match paths.iter().position(|p| p.covers(&kp)) {
            Some(i) if paths[i].segs.len() == kp.segs.len() => own[i] = Some(ms),
            Some(_) => nested.push((kp, ms)),
            None => {
                return Err(ApiError::bad_request(format!(
                    "ttl path '{}' is not one of the entries or inside one",
                    kp.show()
                )))
            }
        }
    }
    let db = cache(inner, &req.cache_name()?)?;
    let now = now(inner);
    let values: Vec<&Value> = entries.values().collect();
    check_nested_ttls(&paths, &values, &nested)?;
    let roots: Vec<&[u8]> = paths.iter().map(|p| p.bytes.as_slice()).collect();
    let n = paths.len();
    db.batch(SEP, &roots, now, |b| {
        for ((p, &value), ms) in paths.iter().zip(&values).zip(&own) {
            let written = match mode {
                Mode::Create => b.create(&p.bytes, value.clone()),
                Mode::Replace => b.set(&p.bytes, value.clone()).map(drop),
            };
            written.map_err(|e| doc_error(&p.bytes, e))?;
            let deadline = ms.map(|ms| now.saturating_add(ms));
            b.set_deadline(&p.bytes, deadline)
                .map_err(|e| doc_error(&p.bytes, e))?;
        }
        // Each nested TTL path is inside the value just written (check_nested_ttls).
        for (kp, ms) in &nested {
            b.set_deadline(&kp.bytes, Some(now.saturating_add(*ms)))
                .map_err(|e| doc_error(&kp.bytes, e))?;
        }
        Ok::<_, ApiError>(())
    })?;
    Ok(n)
}

/// Checks that every nested TTL path exists inside the value written for its entry.
fn check_nested_ttls(
    paths: &[KeyPath],
    values: &[&Value],
    nested: &[(KeyPath, i64)],
) -> Result<(), ApiError> {
    for (kp, _) in nested {
        let Some(i) = paths.iter().position(|p| p.covers(kp)) else {
            return Err(ApiError::bad_request(format!(
                "ttl path '{}' is not inside one of the entries",
                kp.show()
            )));
        };
        let below = &kp.segs[paths[i].segs.len()..];
        let inside = values.get(i).is_some_and(|&v| {
            path::resolve_segments(v, below.iter().map(|s| s.bytes.as_slice())).is_some()
        });
        if !inside {
            return Err(ApiError::bad_request(format!(
                "ttl path '{}' is not in the value written",
                kp.show()
            )));
        }
    }
    Ok(())
}

/// `POST /api/v1/keys`: creates entries; 409 (and nothing written) when any exists.
pub(crate) fn create(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let n = write_entries(inner, req, Mode::Create)?;
    Ok(json_response(
        StatusCode::CREATED,
        format!(r#"{{"created":{n}}}"#),
    ))
}

/// `PUT /api/v1/keys`: creates or replaces entries, atomically.
pub(crate) fn replace_many(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let n = write_entries(inner, req, Mode::Replace)?;
    Ok(json_response(
        StatusCode::OK,
        format!(r#"{{"replaced":{n}}}"#),
    ))
}

/// `PUT /api/v1/keys/{path}`: the body is the new value; answers it.
pub(crate) fn put(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?.no_wildcard()?;
    let value = req.json(inner, 0)?;
    let db = cache(inner, &req.cache_name()?)?;
    let resp = value_response(StatusCode::OK, &value);
    // The write, answering whether it replaced a node (PUT clears the node's TTL).
    let set = |b: &mut Batch<'_>| {
        let old = b.set(&kp.bytes, value)?;
        b.set_deadline(&kp.bytes, None)?;
        Ok(old.is_some())
    };
    let set = |b: &mut Batch<'_>| set(b).map_err(|e| doc_error(&kp.bytes, e));
    let programs = &inner.shared.programs;
    if programs.armed() && programs.has_triggers(db.name()) {
        // Replacing an existing node fires the cache's triggers, in the same batch:
        // a failing trigger leaves nothing written.
        programs.write_and_fire(&db, &kp.show(), now(inner), set)?;
    } else {
        db.batch(SEP, &[&kp.bytes], now(inner), set)?;
    }
    Ok(resp)
}

/// One command of a PATCH.
#[derive(Debug)]
enum Op {
    Replace(Vec<u8>, Value),
    Delete(Vec<u8>),
}

/// `PATCH /api/v1/keys/{path}` `{"commands": [{"type": "REPLACE", "path": p, "value":
/// v}, {"type": "DELETE", "path": p}]}`: paths are relative to the key (`""` is the key
/// itself). Applied in order as one batch of the document engine, all or nothing.
/// Answers the key's new value (204 when the commands removed it).
pub(crate) fn patch(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    const SHAPE: &str = r#"{"commands": [{"type": "REPLACE", "path": p, "value": v} or {"type": "DELETE", "path": p}, ...]}"#;
    let base = req.key_path()?.no_wildcard()?;
    let body = req.json(inner, 3)?;
    let f = fields(&body, &["commands"], SHAPE)?;
    let Some(Value::List(cmds)) = f[0] else {
        return Err(ApiError::bad_request(format!(
            "'commands' must be an array: {SHAPE}"
        )));
    };
    let mut ops = Vec::with_capacity(cmds.len());
    for (i, c) in cmds.iter().enumerate() {
        let cf = fields(c, &["type", "path", "value"], SHAPE)?;
        let rel = match cf[1] {
            Some(Value::Str(p)) => p.to_vec(),
            None => Vec::new(),
            Some(_) => {
                return Err(ApiError::bad_request(format!(
                    "commands[{i}].path must be a string"
                )))
            }
        };
        if Path::new(&rel, SEP).has_wildcard() {
            return Err(ApiError::bad_request(format!(
                "commands[{i}].path: wildcards are not allowed in PATCH"
            )));
        }
        let op = match (cf[0], cf[2]) {
            (Some(Value::Str(t)), Some(v)) if t.eq_ignore_ascii_case(b"REPLACE") => {
                Op::Replace(rel, v.clone())
            }
            (Some(Value::Str(t)), None) if t.eq_ignore_ascii_case(b"REPLACE") => {
                return Err(ApiError::bad_request(format!(
                    "commands[{i}]: REPLACE needs a value"
                )))
            }
            (Some(Value::Str(t)), None) if t.eq_ignore_ascii_case(b"DELETE") => Op::Delete(rel),
            (Some(Value::Str(t)), Some(_)) if t.eq_ignore_ascii_case(b"DELETE") => {
                return Err(ApiError::bad_request(format!(
                    "commands[{i}]: DELETE takes no value"
                )))
            }
            _ => {
                return Err(ApiError::bad_request(format!(
                    "commands[{i}].type must be 'REPLACE' or 'DELETE'"
                )))
            }
        };
        ops.push(op);
    }
    let full = |rel: &[u8]| {
        let mut p = base.bytes.clone();
        if !rel.is_empty() {
            p.push(SEP);
            p.extend_from_slice(rel);
        }
        p
    };
    let mut keys = vec![base.bytes.clone()];
    for op in &ops {
        let (Op::Replace(rel, _) | Op::Delete(rel)) = op;
        keys.push(KeyPath::from_text(&full(rel))?.bytes);
    }
    let roots: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let db = cache(inner, &req.cache_name()?)?;
    let answer = db.batch(SEP, &roots, now(inner), |b| {
        if !b
            .exists(&base.bytes)
            .map_err(|e| doc_error(&base.bytes, e))?
        {
            return Err(doc_error(&base.bytes, DocError::Missing));
        }
        for (i, (op, key)) in ops.iter().zip(&keys[1..]).enumerate() {
            let failed = |e| {
                let mut e = match e {
                    DocError::Missing => {
                        ApiError::not_found(format!("path '{}' not found", show(key)))
                    }
                    e => doc_error(key, e),
                };
                e.message = format!("commands[{i}]: {}", e.message);
                e
            };
            match op {
                Op::Replace(_, v) => {
                    b.set(key, v.clone()).map_err(failed)?;
                }
                Op::Delete(_) => {
                    if b.delete(key).map_err(failed)?.is_none() {
                        return Err(failed(DocError::Missing));
                    }
                }
            }
        }
        // A root left an empty hash or list goes when the batch commits.
        let gone = |v: &Value| !base.bytes.contains(&SEP) && path::is_empty_aggregate(v);
        Ok(b.get(&base.bytes)
            .map_err(|e| doc_error(&base.bytes, e))?
            .filter(|v| !gone(v)))
    })?;
    match answer {
        Some(v) => Ok(value_response(StatusCode::OK, &v)),
        None => Ok(no_content()),
    }
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

/// `DELETE /api/v1/keys/{path}`: 204, or 404 when nothing matched.
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?;
    let db = cache(inner, &req.cache_name()?)?;
    if delete_paths(&db, now(inner), std::slice::from_ref(&kp))? == 0 {
        return Err(ApiError::not_found(format!(
            "key '{}' not found",
            kp.show()
        )));
    }
    Ok(no_content())
}

/// `POST /api/v1/keys/delete` `{"keys": [...]}`: answers `{"deleted": n}`.
pub(crate) fn delete_many(inner: &Arc<Inner>, mut req: Req) -> Result<Resp, ApiError> {
    let keys = key_list(&mut req, inner)?;
    let db = cache(inner, &req.cache_name()?)?;
    let n = delete_paths(&db, now(inner), &keys)?;
    Ok(json_response(
        StatusCode::OK,
        format!(r#"{{"deleted":{n}}}"#),
    ))
}
