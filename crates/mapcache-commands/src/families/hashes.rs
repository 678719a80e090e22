//! Hash commands: HSET HMSET HSETNX HGET HMGET HGETALL HKEYS HVALS HLEN HSTRLEN
//! HEXISTS HDEL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN.
//!
//! Redis 7.0 semantics, including its order of checks (argument syntax and numbers
//! first, then the key's type, then the field's value). A hash is never left empty:
//! HDEL of the last field deletes the key.
//!
//! Field values are [`Value`] trees: RESP commands only ever store strings, but a hash
//! written over HTTP may hold JSON numbers, booleans, null, objects or arrays. RESP
//! replies show those as their JSON text ([`field_bytes`]).

use bytes::Bytes;
use mapcache_store::db::splitmix;
use mapcache_store::{glob_match, Db, Hash, KeyMut, Value};

use crate::args::{self, is};
use crate::error::{CmdError, CmdResult};
use crate::float::LongDouble;
use crate::reply::Reply;
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd(
        "hash",
        name,
        arity,
        flags,
        (1, 1, 1),
        since,
        summary,
        handler,
    )
}

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    cmd("hdel", -3, WRITE | FAST, "2.0.0", "Delete one or more hash fields", hdel),
    cmd("hexists", 3, READONLY | FAST, "2.0.0", "Determine if a hash field exists", hexists),
    cmd("hget", 3, READONLY | FAST, "2.0.0", "Get the value of a hash field", hget),
    cmd("hgetall", 2, READONLY, "2.0.0", "Get all the fields and values in a hash", hgetall),
    cmd("hincrby", 4, WRITE | DENYOOM | FAST, "2.0.0", "Increment the integer value of a hash field by the given number", hincrby),
    cmd("hincrbyfloat", 4, WRITE | DENYOOM | FAST, "2.6.0", "Increment the float value of a hash field by the given amount", hincrbyfloat),
    cmd("hkeys", 2, READONLY, "2.0.0", "Get all the fields in a hash", hkeys),
    cmd("hlen", 2, READONLY | FAST, "2.0.0", "Get the number of fields in a hash", hlen),
    cmd("hmget", -3, READONLY | FAST, "2.0.0", "Get the values of all the given hash fields", hmget),
    cmd("hmset", -4, WRITE | DENYOOM | FAST, "2.0.0", "Set multiple hash fields to multiple values", hmset),
    cmd("hrandfield", -2, READONLY, "6.2.0", "Get one or multiple random fields from a hash", hrandfield),
    cmd("hscan", -3, READONLY, "2.8.0", "Incrementally iterate hash fields and associated values", hscan),
    cmd("hset", -4, WRITE | DENYOOM | FAST, "2.0.0", "Set the string value of a hash field", hset),
    cmd("hsetnx", 4, WRITE | DENYOOM | FAST, "2.0.0", "Set the value of a hash field, only if the field does not exist", hsetnx),
    cmd("hstrlen", 3, READONLY | FAST, "3.2.0", "Get the length of the value of a hash field", hstrlen),
    cmd("hvals", 2, READONLY, "2.0.0", "Get all the values in a hash", hvals),
];

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// The selected database, borrowed for the whole command (not through `c`, so that
/// closures may write to `c.out` meanwhile).
fn db<'a>(c: &Ctx<'a>) -> &'a Db {
    c.selected()
}

use super::common::field_bytes;

/// The hash at `e`, `None` for a missing key, WRONGTYPE for another kind.
///
/// An empty hash reads as a missing key: none is ever stored at the top level, but a
/// document written over HTTP may hold one inside it (path key mode).
fn as_hash(e: Option<&mapcache_store::Entry>) -> Result<Option<&Hash>, CmdError> {
    match e.map(|e| e.value.as_hash()) {
        None => Ok(None),
        Some(Some(h)) => Ok((!h.is_empty()).then_some(h)),
        Some(None) => Err(CmdError::WrongType),
    }
}

/// Reads the hash at `key` (counting a keyspace hit or miss) under its shard lock.
fn read_hash<R>(
    c: &mut Ctx<'_>,
    key_arg: usize,
    f: impl FnOnce(Option<&Hash>, &mut Reply) -> R,
) -> Result<R, CmdError> {
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[key_arg], c.now, |e| Ok(f(as_hash(e)?, out)))
}

/// The hash of `km` for writing, created empty when the key is missing; WRONGTYPE for
/// another kind. Callers write at least one field into a hash they create.
fn hash_for_write<'k>(km: &'k mut KeyMut<'_>) -> Result<&'k mut Hash, CmdError> {
    if km.value().is_some_and(|v| v.as_hash().is_none()) {
        return Err(CmdError::WrongType);
    }
    km.value_or_insert_with(Value::new_hash)
        .as_hash_mut()
        .ok_or(CmdError::WrongType)
}

// ---------------------------------------------------------------------------------
// Writes
// ---------------------------------------------------------------------------------

/// HSET and HMSET: field/value pairs; an odd count is an arity error.
fn set_pairs(c: &mut Ctx<'_>, name: &'static str) -> Result<i64, CmdError> {
    if c.args.len() % 2 != 0 {
        return Err(CmdError::WrongArity(name.into()));
    }
    let pairs = &c.args[2..];
    db(c).update(&c.args[1], c.now, |km| {
        let hash = hash_for_write(km)?;
        let pairs = pairs.chunks_exact(2).map(|p| (&p[0][..], &p[1][..]));
        Ok(hash.set_strs(pairs) as i64)
    })?
}

fn hset(c: &mut Ctx<'_>) -> CmdResult {
    let added = set_pairs(c, "hset")?;
    c.out.integer(added);
    Ok(())
}

fn hmset(c: &mut Ctx<'_>) -> CmdResult {
    set_pairs(c, "hmset")?;
    c.out.ok();
    Ok(())
}

fn hsetnx(c: &mut Ctx<'_>) -> CmdResult {
    let (field, value) = (&c.args[2], &c.args[3]);
    let set = db(c).update(&c.args[1], c.now, |km| {
        let hash = hash_for_write(km)?;
        if hash.contains_key(&field[..]) {
            return Ok::<_, CmdError>(false);
        }
        hash.set_str(field, value);
        Ok(true)
    })??;
    c.out.integer(i64::from(set));
    Ok(())
}

fn hdel(c: &mut Ctx<'_>) -> CmdResult {
    let fields = &c.args[2..];
    let removed = db(c).update(&c.args[1], c.now, |km| {
        let Some(v) = km.value_mut() else {
            return Ok(0);
        };
        let hash = v.as_hash_mut().ok_or(CmdError::WrongType)?;
        let mut removed = 0;
        for f in fields {
            if hash.remove(f).is_some() {
                removed += 1;
            }
            if hash.is_empty() {
                break;
            }
        }
        km.remove_if_empty();
        Ok::<_, CmdError>(removed)
    })??;
    c.out.integer(removed);
    Ok(())
}

/// The current integer value of a field for HINCRBY (0 when missing).
fn field_int(hash: &Hash, field: &[u8]) -> Result<i64, CmdError> {
    match hash.get(field) {
        None => Ok(0),
        // A nested object or array is no integer either (its JSON text is not).
        Some(v) => super::common::integer_value(v)
            .ok()
            .flatten()
            .ok_or(CmdError::Static("ERR hash value is not an integer")),
    }
}

fn hincrby(c: &mut Ctx<'_>) -> CmdResult {
    let incr = args::int(&c.args[3])?;
    let field = &c.args[2];
    let n = db(c).update(&c.args[1], c.now, |km| {
        if km.value().is_some_and(|v| v.as_hash().is_none()) {
            return Err(CmdError::WrongType);
        }
        let old = km
            .value()
            .and_then(Value::as_hash)
            .map_or(Ok(0), |h| field_int(h, field))?;
        let new = old.checked_add(incr).ok_or(CmdError::Overflow)?;
        hash_for_write(km)?.insert(field, Value::counter(new));
        Ok(new)
    })??;
    c.out.integer(n);
    Ok(())
}

fn hincrbyfloat(c: &mut Ctx<'_>) -> CmdResult {
    let incr = LongDouble::parse(&c.args[3]).ok_or(CmdError::NotFloat)?;
    if !incr.is_finite() {
        return Err(CmdError::Static("ERR value is NaN or Infinity"));
    }
    let field = &c.args[2];
    let text = db(c).update(&c.args[1], c.now, |km| {
        if km.value().is_some_and(|v| v.as_hash().is_none()) {
            return Err(CmdError::WrongType);
        }
        let old = match km
            .value()
            .and_then(Value::as_hash)
            .and_then(|h| h.get(&field[..]))
        {
            None => LongDouble::ZERO,
            Some(v) => LongDouble::parse(&field_bytes(v))
                .ok_or(CmdError::Static("ERR hash value is not a float"))?,
        };
        let sum = old.checked_add(incr).ok_or(CmdError::Static(
            "ERR increment would produce NaN or Infinity",
        ))?;
        let text = Bytes::from(sum.to_human());
        hash_for_write(km)?.insert(field, Value::Str(text.clone().into()));
        Ok(text)
    })??;
    c.out.bulk(&text);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------

fn hget(c: &mut Ctx<'_>) -> CmdResult {
    let field = c.args[2].clone();
    read_hash(c, 1, |h, out| match h.and_then(|h| h.get(&field[..])) {
        Some(v) => out.bulk(&field_bytes(v)),
        None => out.null(),
    })
}

fn hmget(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let fields = &c.args[2..];
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let h = as_hash(e)?;
        out.array(fields.len());
        for f in fields {
            match h.and_then(|h| h.get(&f[..])) {
                Some(v) => out.bulk(&field_bytes(v)),
                None => out.null(),
            }
        }
        Ok(())
    })
}

fn hgetall(c: &mut Ctx<'_>) -> CmdResult {
    read_hash(c, 1, |h, out| {
        out.map(h.map_or(0, |h| h.len()));
        for (k, v) in h.into_iter().flatten() {
            out.bulk(k);
            out.bulk(&field_bytes(v));
        }
    })
}

fn hkeys(c: &mut Ctx<'_>) -> CmdResult {
    read_hash(c, 1, |h, out| {
        out.array(h.map_or(0, |h| h.len()));
        for k in h.into_iter().flat_map(|h| h.keys()) {
            out.bulk(k);
        }
    })
}

fn hvals(c: &mut Ctx<'_>) -> CmdResult {
    read_hash(c, 1, |h, out| {
        out.array(h.map_or(0, |h| h.len()));
        for v in h.into_iter().flat_map(|h| h.values()) {
            out.bulk(&field_bytes(v));
        }
    })
}

fn hlen(c: &mut Ctx<'_>) -> CmdResult {
    read_hash(c, 1, |h, out| out.integer(h.map_or(0, |h| h.len() as i64)))
}

fn hstrlen(c: &mut Ctx<'_>) -> CmdResult {
    let field = c.args[2].clone();
    read_hash(c, 1, |h, out| {
        let len = h
            .and_then(|h| h.get(&field[..]))
            .map_or(0, |v| field_bytes(v).len());
        out.integer(len as i64);
    })
}

fn hexists(c: &mut Ctx<'_>) -> CmdResult {
    let field = c.args[2].clone();
    read_hash(c, 1, |h, out| {
        out.integer(i64::from(h.is_some_and(|h| h.contains_key(&field[..]))));
    })
}

// ---------------------------------------------------------------------------------
// HRANDFIELD
// ---------------------------------------------------------------------------------

/// The most elements a negative HRANDFIELD count may ask for. Redis 7.0 streams any
/// count into the client's output buffer (and can exhaust its memory doing so); we
/// build the reply in memory, so a count beyond this answers `ERR value is out of range`.
pub const HRANDFIELD_MAX_REPEATS: u64 = 1 << 24;

fn hrandfield(c: &mut Ctx<'_>) -> CmdResult {
    if c.args.len() == 2 {
        let r = c.session.random();
        return read_hash(c, 1, |h, out| {
            match h.and_then(|h| h.get_index(random_index(r, h.len()))) {
                Some((k, _)) => out.bulk(k),
                None => out.null(),
            }
        });
    }
    let count = args::int(&c.args[2])?;
    if count == i64::MIN {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        ));
    }
    let with_values = match c.args.len() {
        3 => false,
        4 if is(&c.args[3], "withvalues") => true,
        _ => return Err(CmdError::Syntax),
    };
    if with_values && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Err(CmdError::Static("ERR value is out of range"));
    }
    let mut rng = c.session.random();
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let h = match as_hash(e)? {
            Some(h) if count != 0 => h,
            _ => {
                out.array(0);
                return Ok(());
            }
        };
        if count < 0 && count.unsigned_abs() > HRANDFIELD_MAX_REPEATS {
            return Err(CmdError::Static("ERR value is out of range"));
        }
        let resp3 = out.is_resp3();
        let emit = |out: &mut Reply, i: usize| {
            // Every index given is below the hash's length.
            let Some((k, v)) = h.get_index(i) else {
                out.null();
                return;
            };
            if with_values && resp3 {
                out.array(2);
            }
            out.bulk(k);
            if with_values {
                out.bulk(&field_bytes(v));
            }
        };
        let header =
            |out: &mut Reply, n: usize| out.array(if with_values && !resp3 { n * 2 } else { n });
        let len = h.len();
        if count < 0 {
            // Repeats allowed: exactly |count| picks.
            let n = count.unsigned_abs() as usize;
            header(out, n);
            for _ in 0..n {
                emit(out, random_index(splitmix(&mut rng), len));
            }
        } else if count as u64 >= len as u64 {
            // The whole hash, in order.
            header(out, len);
            for i in 0..len {
                emit(out, i);
            }
        } else {
            // Distinct fields: rejection sampling when few are asked of many (no
            // allocation proportional to the hash), else a partial Fisher-Yates shuffle.
            let n = count as usize;
            header(out, n);
            if n * 3 < len {
                let mut taken = std::collections::HashSet::with_capacity(n);
                while taken.len() < n {
                    let i = random_index(splitmix(&mut rng), len);
                    if taken.insert(i) {
                        emit(out, i);
                    }
                }
            } else {
                let mut idx: Vec<usize> = (0..len).collect();
                for i in 0..n {
                    let j = i + random_index(splitmix(&mut rng), len - i);
                    idx.swap(i, j);
                    emit(out, idx[i]);
                }
            }
        }
        Ok(())
    })
}

/// A uniform-enough index below `len` (> 0) from a random word.
fn random_index(r: u64, len: usize) -> usize {
    ((u128::from(r) * len as u128) >> 64) as usize
}

// ---------------------------------------------------------------------------------
// HSCAN
// ---------------------------------------------------------------------------------

/// HSCAN's cursor is a position in the hash's insertion order. Hashes of up to
/// [`mapcache_store::value::SMALL_HASH_FIELDS`] fields answer in one call with cursor
/// 0, whatever the cursor and COUNT, as Redis does for its small (listpack) hashes.
fn hscan(c: &mut Ctx<'_>) -> CmdResult {
    let cursor = args::scan_cursor(&c.args[2])?;
    let db = db(c);
    let opts = &c.args[3..];
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let Some(h) = as_hash(e)? else {
            // Redis answers a missing key before it looks at the options.
            out.array(2);
            out.bulk(b"0");
            out.array(0);
            return Ok(());
        };
        let mut count: u64 = 10;
        let mut pattern: Option<&[u8]> = None;
        let mut i = 0;
        while i < opts.len() {
            let more = opts.len() - i;
            if is(&opts[i], "count") && more >= 2 {
                let n = args::int(&opts[i + 1])?;
                if n < 1 {
                    return Err(CmdError::Syntax);
                }
                count = n as u64;
            } else if is(&opts[i], "match") && more >= 2 {
                let p = &opts[i + 1][..];
                pattern = (p != b"*").then_some(p);
            } else {
                return Err(CmdError::Syntax);
            }
            i += 2;
        }
        let (next, fields) = hscan_page(h, cursor, count as usize);
        let page = || {
            fields
                .iter()
                .filter_map(|&i| h.get_index(i))
                .filter(|(k, _)| pattern.is_none_or(|p| glob_match(p, k, false)))
        };
        out.array(2);
        out.bulk(itoa::Buffer::new().format(next).as_bytes());
        out.array(page().count() * 2);
        for (k, v) in page() {
            out.bulk(k);
            out.bulk(&field_bytes(v));
        }
        Ok(())
    })
}

/// One HSCAN page: the next cursor (0 when done) and the indexes of the fields to return.
///
/// A small hash (Redis's listpack encoding) is answered whole, with cursor 0. A large
/// one is walked in the order of a fixed hash of each field: a page holds the fields
/// whose hash is at least `cursor`, the smallest ones first, and the next cursor is one
/// past the last hash returned. Hashes never change, so a field present for the whole
/// iteration is returned exactly once however other fields come and go (insertion
/// positions would shift under deletions). Each call reads the whole hash, so a page
/// holds at least 1/64 of it: a full iteration costs at most ~64 reads of the hash,
/// whatever COUNT says (COUNT is a hint in Redis too).
fn hscan_page(h: &Hash, cursor: u64, count: usize) -> (u64, Vec<usize>) {
    if h.len() <= mapcache_store::value::SMALL_HASH_FIELDS {
        return (0, (0..h.len()).collect());
    }
    let want = count.max(h.len() / 64).max(1);
    // Cursors are hash positions >> 11 so that they fit 53 bits, as SCAN's
    // (`mapcache_store::db::CURSOR_SHIFT`: JavaScript clients read them as doubles).
    let shift = mapcache_store::db::CURSOR_SHIFT;
    let cursor = cursor
        .checked_shl(shift)
        .filter(|p| p >> shift == cursor)
        .unwrap_or(u64::MAX);
    let mut found: Vec<(u64, usize)> = h
        .keys()
        .enumerate()
        .map(|(i, k)| (field_hash(k), i))
        .filter(|&(fh, _)| fh >= cursor)
        .collect();
    if found.len() <= want {
        return (0, found.into_iter().map(|(_, i)| i).collect());
    }
    found.select_nth_unstable(want - 1);
    let cut = found[..want].iter().map(|e| e.0).max().unwrap_or(cursor) | ((1 << shift) - 1);
    let fields = found
        .into_iter()
        .filter(|e| e.0 <= cut)
        .map(|(_, i)| i)
        .collect();
    (cut.wrapping_add(1) >> shift, fields)
}

/// A hash of a field that is the same in every call of this process (HSCAN cursors).
fn field_hash(field: &[u8]) -> u64 {
    use std::hash::{Hash as _, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    field.hash(&mut h);
    h.finish()
}
