//! `/api/v1/keys`: entries of a cache addressed by `/` paths (the first segment is the
//! stored top-level key, the rest a path into its tree: docs/key-modes.md). The cache
//! is the one `X-Cache-Name` names (`default` without the header).

use std::sync::Arc;

use hyper::StatusCode;
use mapcache_expiry::UnixMillis;
use mapcache_store::path::{self, MAX_DEPTH};
use mapcache_store::{json, Addressing, Db, Hash, KeyMut, Value};

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
        let segs = text
            .split(|&b| b == SEP)
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

/// Every node matching `pattern` (a `*` segment matches any one field of an object),
/// with its path, read at one instant per root.
fn expand(db: &Db, now: UnixMillis, pattern: &KeyPath) -> Vec<(Vec<u8>, Value)> {
    let mut out = Vec::new();
    let (root, rest) = pattern.segs.split_first().expect("paths are non-empty");
    if root.wildcard {
        for i in 0..db.shard_count() {
            db.export_shard(i, now, |key, value, _, _| {
                walk(value, rest, key.to_vec(), &mut out)
            });
        }
    } else {
        db.peek_with(Addressing::Flat, &root.bytes, now, |e| {
            if let Some(e) = e {
                walk(&e.value, rest, root.bytes.clone(), &mut out);
            }
        });
    }
    out
}

/// Recursion depth is bounded by the pattern's segments (at most `MAX_DEPTH + 1`).
fn walk(value: &Value, segs: &[Seg], prefix: Vec<u8>, out: &mut Vec<(Vec<u8>, Value)>) {
    let Some((seg, rest)) = segs.split_first() else {
        out.push((prefix, value.clone()));
        return;
    };
    let Value::Hash(h) = value else { return };
    let child = |name: &[u8]| {
        let mut p = prefix.clone();
        p.push(SEP);
        p.extend_from_slice(name);
        p
    };
    if seg.wildcard {
        for (k, v) in h.iter() {
            walk(v, rest, child(k), out);
        }
    } else if let Some(v) = h.get(seg.bytes.as_slice()) {
        walk(v, rest, child(&seg.bytes), out);
    }
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

/// Why a write to `km` cannot go through: blocked by a non-object on its path.
fn blocked(km: &KeyMut<'_>, kp: &[u8]) -> Option<ApiError> {
    km.blocked_at().map(|n| {
        ApiError::conflict(format!(
            "path '{}' crosses a non-object value at '{}'",
            show(kp),
            show(&kp[..n.min(kp.len())])
        ))
    })
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
    let mut keys: Vec<&[u8]> = paths.iter().map(|p| p.bytes.as_slice()).collect();
    keys.extend(nested.iter().map(|(p, _)| p.bytes.as_slice()));
    let values: Vec<&Value> = entries.values().collect();
    check_nested_ttls(&paths, &values, &nested)?;
    let n = paths.len();
    let _ = path::take_fault();
    db.update_many_with(Addressing::HTTP, &keys, now, |m| {
        for (i, p) in paths.iter().enumerate() {
            let problem = m.with(i, |km| {
                if mode == Mode::Create && km.exists() {
                    return Some(ApiError::conflict(format!(
                        "key '{}' already exists",
                        p.show()
                    )));
                }
                blocked(km, &p.bytes)
            });
            if let Some(e) = problem {
                return Err(e);
            }
        }
        for (i, (&value, ms)) in values.iter().zip(&own).enumerate() {
            let deadline = ms.map(|ms| now.saturating_add(ms));
            m.with(i, |km| km.insert(value.clone(), deadline));
        }
        // Each nested TTL path is inside the value just written (check_nested_ttls).
        for (j, (_, ms)) in nested.iter().enumerate() {
            m.with(n + j, |km| km.set_deadline(Some(now.saturating_add(*ms))));
        }
        Ok(())
    })?;
    let _ = path::take_fault();
    Ok(n)
}

/// Checks that every nested TTL path exists inside the value written for its entry.
fn check_nested_ttls(
    paths: &[KeyPath],
    values: &[&Value],
    nested: &[(KeyPath, i64)],
) -> Result<(), ApiError> {
    for (kp, _) in nested {
        let i = paths
            .iter()
            .position(|p| p.covers(kp))
            .expect("nested TTLs are inside an entry");
        let below = &kp.segs[paths[i].segs.len()..];
        let mut cur = values[i];
        for seg in below {
            match cur {
                Value::Hash(h) => match h.get(seg.bytes.as_slice()) {
                    Some(v) => cur = v,
                    None => {
                        return Err(ApiError::bad_request(format!(
                            "ttl path '{}' is not in the value written",
                            kp.show()
                        )))
                    }
                },
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "ttl path '{}' is not in the value written",
                        kp.show()
                    )))
                }
            }
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
    db.update_with(Addressing::HTTP, &kp.bytes, now(inner), |km| {
        if let Some(e) = blocked(km, &kp.bytes) {
            return Err(e);
        }
        km.insert(value, None);
        Ok(())
    })?;
    let _ = path::take_fault();
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
/// itself). Applied in order, all or nothing: the commands are first tried on a copy
/// of the key under the root's lock, then applied. Answers the key's new value (204
/// when the commands removed it).
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
        if rel.split(|&b| b == SEP).any(|s| s == b"*") {
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
    let mut key_bufs = vec![base.bytes.clone()];
    for op in &ops {
        let (Op::Replace(rel, _) | Op::Delete(rel)) = op;
        let kp = KeyPath::from_text(&full(rel))?;
        key_bufs.push(kp.bytes);
    }
    let keys: Vec<&[u8]> = key_bufs.iter().map(Vec::as_slice).collect();
    let db = cache(inner, &req.cache_name()?)?;
    let result = db.update_many_with(Addressing::HTTP, &keys, now(inner), |m| {
        // Dry run on a copy of the key.
        let Some(mut sim) = m.with(0, |km| km.value().cloned()) else {
            return Err(ApiError::not_found(format!(
                "key '{}' not found",
                base.show()
            )));
        };
        let mut present = true;
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Replace(rel, v) => {
                    if !present {
                        if let Some(e) = m.with(0, |km| blocked(km, &base.bytes)) {
                            return Err(e);
                        }
                        sim = Value::new_hash();
                        present = true;
                    }
                    if rel.is_empty() {
                        sim = v.clone();
                    } else if let Err((n, _)) = path::insert(&mut sim, rel, SEP, v.clone()) {
                        let _ = n;
                        return Err(ApiError::conflict(format!(
                            "commands[{i}]: path '{}' crosses a non-object value",
                            show(&key_bufs[i + 1])
                        )));
                    }
                }
                Op::Delete(rel) => {
                    let gone = if !present {
                        true
                    } else if rel.is_empty() {
                        present = false;
                        false
                    } else {
                        path::remove(&mut sim, rel, SEP, false).is_none()
                    };
                    if gone {
                        return Err(ApiError::not_found(format!(
                            "commands[{i}]: path '{}' not found",
                            show(&key_bufs[i + 1])
                        )));
                    }
                    if present && path::is_empty_aggregate(&sim) && matches!(sim, Value::Hash(_)) {
                        present = false;
                    }
                }
            }
        }
        // Every command can apply: apply them.
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Replace(_, v) => m.with(i + 1, |km| km.insert(v.clone(), None)),
                Op::Delete(_) => {
                    m.with(i + 1, |km| km.remove());
                }
            }
        }
        Ok(m.with(0, |km| km.value().cloned()))
    });
    let _ = path::take_fault();
    match result? {
        Some(v) => Ok(value_response(StatusCode::OK, &v)),
        None => Ok(no_content()),
    }
}

/// Removes every path (wildcards expanded first) at one instant; answers how many
/// nodes went.
fn delete_paths(db: &Db, now: UnixMillis, patterns: &[KeyPath]) -> usize {
    let mut concrete: Vec<Vec<u8>> = Vec::new();
    for p in patterns {
        if p.has_wildcard() {
            concrete.extend(expand(db, now, p).into_iter().map(|(path, _)| path));
        } else {
            concrete.push(p.bytes.clone());
        }
    }
    concrete.sort();
    concrete.dedup();
    let keys: Vec<&[u8]> = concrete.iter().map(Vec::as_slice).collect();
    db.update_many_with(Addressing::HTTP, &keys, now, |m| {
        (0..keys.len())
            .filter(|&i| m.with(i, |km| km.remove().is_some()))
            .count()
    })
}

/// `DELETE /api/v1/keys/{path}`: 204, or 404 when nothing matched.
pub(crate) fn delete(inner: &Arc<Inner>, req: Req) -> Result<Resp, ApiError> {
    let kp = req.key_path()?;
    let db = cache(inner, &req.cache_name()?)?;
    if delete_paths(&db, now(inner), std::slice::from_ref(&kp)) == 0 {
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
    let n = delete_paths(&db, now(inner), &keys);
    Ok(json_response(
        StatusCode::OK,
        format!(r#"{{"deleted":{n}}}"#),
    ))
}
