//! String commands: GET SET SETNX SETEX PSETEX GETSET GETEX GETDEL MGET MSET MSETNX
//! APPEND STRLEN GETRANGE SUBSTR SETRANGE INCR DECR INCRBY DECRBY INCRBYFLOAT.
//!
//! Redis 7.0 semantics, including its order of checks: syntax, then argument values,
//! then the key's type, then the expire time (GETEX checks the key before the time).

use bytes::{Bytes, BytesMut};
use mapcache_expiry::UnixMillis;
use mapcache_store::{Db, KeyMut, Str, Value};

use crate::args::{self, is};
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::{float, Ctx};

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    keys: (i8, i8, i8),
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd("string", name, arity, flags, keys, since, summary, handler)
}

const ONE: (i8, i8, i8) = (1, 1, 1);

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    cmd("append", 3, WRITE | DENYOOM | FAST, ONE, "2.0.0", "Append a value to a key", append),
    cmd("decr", 2, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Decrement the integer value of a key by one", decr),
    cmd("decrby", 3, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Decrement the integer value of a key by the given number", decrby),
    cmd("get", 2, READONLY | FAST, ONE, "1.0.0", "Get the value of a key", get),
    cmd("getdel", 2, WRITE | FAST, ONE, "6.2.0", "Get the value of a key and delete the key", getdel),
    cmd("getex", -2, WRITE | FAST, ONE, "6.2.0", "Get the value of a key and optionally set its expiration", getex),
    cmd("getrange", 4, READONLY, ONE, "2.4.0", "Get a substring of the string stored at a key", getrange),
    cmd("getset", 3, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Set the string value of a key and return its old value", getset),
    cmd("incr", 2, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Increment the integer value of a key by one", incr),
    cmd("incrby", 3, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Increment the integer value of a key by the given amount", incrby),
    cmd("incrbyfloat", 3, WRITE | DENYOOM | FAST, ONE, "2.6.0", "Increment the float value of a key by the given amount", incrbyfloat),
    cmd("mget", -2, READONLY | FAST, (1, -1, 1), "1.0.0", "Get the values of all the given keys", mget),
    cmd("mset", -3, WRITE | DENYOOM, (1, -1, 2), "1.0.1", "Set multiple keys to multiple values", mset),
    cmd("msetnx", -3, WRITE | DENYOOM, (1, -1, 2), "1.0.1", "Set multiple keys to multiple values, only if none of the keys exist", msetnx),
    cmd("psetex", 4, WRITE | DENYOOM, ONE, "2.6.0", "Set the value and expiration in milliseconds of a key", psetex),
    cmd("set", -3, WRITE | DENYOOM, ONE, "1.0.0", "Set the string value of a key", set),
    cmd("setex", 4, WRITE | DENYOOM, ONE, "2.0.0", "Set the value and expiration of a key", setex),
    cmd("setnx", 3, WRITE | DENYOOM | FAST, ONE, "1.0.0", "Set the value of a key, only if the key does not exist", setnx),
    cmd("setrange", 4, WRITE | DENYOOM, ONE, "2.2.0", "Overwrite part of a string at key starting at the specified offset", setrange),
    cmd("strlen", 2, READONLY | FAST, ONE, "2.2.0", "Get the length of the value stored in a key", strlen),
    cmd("substr", 4, READONLY, ONE, "1.0.0", "Get a substring of the string stored at a key", getrange),
];

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// The selected database, borrowed for the whole command (not through `c`, so that
/// closures may write to `c.out` meanwhile).
fn db<'a>(c: &Ctx<'a>) -> &'a Db {
    c.selected()
}

use super::common::{integer_value, string_bytes};

/// The string value of an entry as an owned copy (cheap for strings: inline, or a
/// refcount).
fn string_value(v: &Value) -> Result<Str, CmdError> {
    match v {
        Value::Str(b) => Ok(b.clone()),
        other => string_bytes(other).map(|b| Str::copy_from_slice(&b)),
    }
}

/// Redis's `checkStringLength`: may a string of `size` bytes grow by `append`?
/// `max` is `proto-max-bulk-len`, read before taking the shard lock.
fn check_string_length(max: u64, size: u64, append: u64) -> Result<(), CmdError> {
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CmdError::Static(
            "ERR string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// Takes a string value out of `km` as a growable buffer, reusing its allocation when
/// nothing else holds it (so repeated APPENDs grow amortised, as Redis's sds does).
fn take_string(km: &mut KeyMut<'_>) -> Result<BytesMut, CmdError> {
    let Some(value) = km.value_mut() else {
        return Ok(BytesMut::new()); // callers check the key exists
    };
    if let Value::Str(b) = value {
        return Ok(std::mem::take(b).into_bytes_mut());
    }
    let text = string_bytes(value)?;
    Ok(BytesMut::from(&text[..]))
}

/// How an expire argument is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// EX: seconds from now.
    Ex,
    /// PX: milliseconds from now.
    Px,
    /// EXAT: Unix seconds.
    ExAt,
    /// PXAT: Unix milliseconds.
    PxAt,
}

impl ExpireKind {
    fn absolute(self) -> bool {
        matches!(self, ExpireKind::ExAt | ExpireKind::PxAt)
    }
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline of an expire argument
/// of SET, SETEX, PSETEX and GETEX. `name` is the command's name for the error text.
fn expire_deadline(
    arg: &[u8],
    kind: ExpireKind,
    now: UnixMillis,
    name: &'static str,
) -> Result<UnixMillis, CmdError> {
    let n = args::int(arg)?;
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if n <= 0 || (seconds && n > i64::MAX / 1000) {
        return Err(CmdError::InvalidExpire(name));
    }
    let ms = if seconds { n * 1000 } else { n };
    let ms = if kind.absolute() {
        Some(ms)
    } else {
        ms.checked_add(now)
    };
    match ms {
        Some(ms) if ms > 0 => Ok(ms),
        _ => Err(CmdError::InvalidExpire(name)),
    }
}

/// The options of SET (and GETEX), parsed as Redis's `parseExtendedStringArgumentsOrReply`.
#[derive(Debug, Default)]
struct SetOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Parses `args` (the options after key and value for SET, after key for GETEX).
/// Options may repeat (the last expire wins) but never conflict.
fn parse_set_options<'a>(args: &'a [Bytes], is_set: bool) -> Result<SetOptions<'a>, CmdError> {
    let mut o = SetOptions::default();
    let mut i = 0;
    while i < args.len() {
        let opt = &args[i][..];
        let next = args.get(i + 1);
        let has_expire =
            |o: &SetOptions<'_>, except: ExpireKind| o.expire.is_some_and(|(k, _)| k != except);
        if is(opt, "nx") && !o.xx && is_set {
            o.nx = true;
        } else if is(opt, "xx") && !o.nx && is_set {
            o.xx = true;
        } else if is(opt, "get") && is_set {
            o.get = true;
        } else if is(opt, "keepttl") && !o.persist && o.expire.is_none() && is_set {
            o.keepttl = true;
        } else if is(opt, "persist") && !is_set && o.expire.is_none() && !o.keepttl {
            o.persist = true;
        } else if let Some(kind) = expire_option(opt) {
            match next {
                Some(arg) if !o.keepttl && !o.persist && !has_expire(&o, kind) => {
                    o.expire = Some((kind, &arg[..]));
                    i += 1;
                }
                _ => return Err(CmdError::Syntax),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

fn expire_option(opt: &[u8]) -> Option<ExpireKind> {
    if is(opt, "ex") {
        Some(ExpireKind::Ex)
    } else if is(opt, "px") {
        Some(ExpireKind::Px)
    } else if is(opt, "exat") {
        Some(ExpireKind::ExAt)
    } else if is(opt, "pxat") {
        Some(ExpireKind::PxAt)
    } else {
        None
    }
}

/// Stores a copy of `value` at `km` with `deadline`. A deadline already past is stored
/// as is, as Redis does: the key is then simply expired (invisible).
fn store(km: &mut KeyMut<'_>, value: &[u8], deadline: Option<UnixMillis>) {
    km.insert_str(value, deadline);
}

// ---------------------------------------------------------------------------------
// GET SET and friends
// ---------------------------------------------------------------------------------

fn get(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        match e {
            None => out.null(),
            Some(e) => out.bulk(&string_bytes(&e.value)?),
        }
        Ok(())
    })
}

fn set(c: &mut Ctx<'_>) -> CmdResult {
    let o = parse_set_options(&c.args[3..], true)?;
    let now = c.now;
    let deadline = match o.expire {
        Some((kind, arg)) => Some(expire_deadline(arg, kind, now, "set")?),
        None => None,
    };
    let db = db(c);
    let (key, value) = (&c.args[1], &c.args[2]);
    let out = &mut *c.out;
    db.update(key, now, |km| {
        let old = if o.get {
            db.count_lookup(key, km.exists());
            Some(km.value().map(string_value).transpose()?)
        } else {
            None
        };
        let found = km.exists();
        let applies = !((o.nx && found) || (o.xx && !found));
        if applies {
            let deadline = match deadline {
                None if o.keepttl => km.own_deadline(),
                d => d,
            };
            store(km, value, deadline);
        }
        match old {
            Some(Some(old)) => out.bulk(&old),
            Some(None) => out.null(),
            None if applies => out.ok(),
            None => out.null(),
        }
        Ok(())
    })?
}

fn setnx(c: &mut Ctx<'_>) -> CmdResult {
    let (key, value) = (&c.args[1], &c.args[2]);
    let set = db(c).update(key, c.now, |km| {
        if km.exists() {
            false
        } else {
            km.insert(Value::string(value), None);
            true
        }
    })?;
    c.out.integer(i64::from(set));
    Ok(())
}

fn setex(c: &mut Ctx<'_>) -> CmdResult {
    setex_generic(c, ExpireKind::Ex, "setex")
}

fn psetex(c: &mut Ctx<'_>) -> CmdResult {
    setex_generic(c, ExpireKind::Px, "psetex")
}

fn setex_generic(c: &mut Ctx<'_>, kind: ExpireKind, name: &'static str) -> CmdResult {
    let now = c.now;
    let deadline = expire_deadline(&c.args[2], kind, now, name)?;
    let (key, value) = (&c.args[1], &c.args[3]);
    db(c).update(key, now, |km| store(km, value, Some(deadline)))?;
    c.out.ok();
    Ok(())
}

fn getset(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let (key, value) = (&c.args[1], &c.args[2]);
    let old = db.update(key, c.now, |km| {
        let old = km.value().map(string_value).transpose()?;
        km.insert(Value::string(value), None);
        Ok::<_, CmdError>(old)
    })?;
    let old = match old {
        Ok(old) => old,
        Err(e) => {
            db.count_lookup(key, true);
            return Err(e);
        }
    };
    db.count_lookup(key, old.is_some());
    match old {
        Some(old) => c.out.bulk(&old),
        None => c.out.null(),
    }
    Ok(())
}

fn getex(c: &mut Ctx<'_>) -> CmdResult {
    let o = parse_set_options(&c.args[2..], false)?;
    let now = c.now;
    let db = db(c);
    let key = &c.args[1];
    let out = &mut *c.out;
    db.update(key, now, |km| {
        let Some(value) = km.value() else {
            db.count_lookup(key, false);
            out.null();
            return Ok(());
        };
        db.count_lookup(key, true);
        let value = string_value(value)?;
        let deadline = match o.expire {
            Some((kind, arg)) => Some(expire_deadline(arg, kind, now, "getex")?),
            None => None,
        };
        out.bulk(&value);
        match deadline {
            Some(d) if d <= now => {
                km.delete();
            }
            Some(d) => {
                km.set_deadline(Some(d));
            }
            None if o.persist => {
                km.set_deadline(None);
            }
            None => {}
        }
        Ok(())
    })?
}

fn getdel(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let key = &c.args[1];
    let out = &mut *c.out;
    db.update(key, c.now, |km| {
        db.count_lookup(key, km.exists());
        match km.value() {
            None => out.null(),
            Some(v) => {
                out.bulk(&string_bytes(v)?);
                km.delete();
            }
        }
        Ok(())
    })?
}

fn mget(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let keys: Vec<&[u8]> = c.args[1..].iter().map(|k| &k[..]).collect();
    let out = &mut *c.out;
    out.array(keys.len());
    db.get_many(&keys, c.now, |m| {
        for i in 0..m.len() {
            match m.get(i).map(|e| string_bytes(&e.value)) {
                Some(Ok(b)) => out.bulk(&b),
                _ => out.null(),
            }
        }
    });
    Ok(())
}

fn mset(c: &mut Ctx<'_>) -> CmdResult {
    mset_generic(c, false, "mset")
}

fn msetnx(c: &mut Ctx<'_>) -> CmdResult {
    mset_generic(c, true, "msetnx")
}

fn mset_generic(c: &mut Ctx<'_>, nx: bool, name: &'static str) -> CmdResult {
    if c.args.len() % 2 == 0 {
        return Err(CmdError::WrongArity(name.into()));
    }
    let pairs: Vec<(&[u8], &[u8])> = c.args[1..]
        .chunks(2)
        .map(|p| (&p[0][..], &p[1][..]))
        .collect();
    let keys: Vec<&[u8]> = pairs.iter().map(|p| p.0).collect();
    let done = db(c).update_many(&keys, c.now, |m| {
        if nx && (0..pairs.len()).any(|i| m.with(i, |km| km.exists())) {
            return false;
        }
        for (i, (_, value)) in pairs.iter().enumerate() {
            m.with(i, |km| km.insert(Value::string(value), None));
        }
        true
    })?;
    if nx {
        c.out.integer(i64::from(done));
    } else {
        c.out.ok();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// APPEND STRLEN GETRANGE SETRANGE
// ---------------------------------------------------------------------------------

fn append(c: &mut Ctx<'_>) -> CmdResult {
    let arg = &c.args[2];
    let max = c.shared.config.read().proto_max_bulk_len;
    let len = db(c).update(&c.args[1], c.now, |km| {
        let Some(v) = km.value() else {
            km.insert(Value::string(arg), None);
            return Ok(arg.len());
        };
        let old_len = string_bytes(v)?.len();
        check_string_length(max, old_len as u64, arg.len() as u64)?;
        let mut buf = take_string(km)?;
        buf.extend_from_slice(arg);
        let len = buf.len();
        km.set_value(Value::Str(buf.freeze().into()));
        Ok::<_, CmdError>(len)
    })??;
    c.out.integer(len as i64);
    Ok(())
}

fn strlen(c: &mut Ctx<'_>) -> CmdResult {
    let len = db(c).get(&c.args[1], c.now, |e| match e {
        None => Ok(0),
        Some(e) => match &e.value {
            Value::Str(b) => Ok(b.len()),
            other => string_bytes(other).map(|b| b.len()),
        },
    })?;
    c.out.integer(len as i64);
    Ok(())
}

/// GETRANGE's index arithmetic, Redis 7.0 exactly (negative indexes count from the end;
/// both negative with start > end is empty; indexes clamp to the string).
fn range_of(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len_i = len as i64;
    let mut start = if start < 0 {
        len_i.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len_i.saturating_add(end)
    } else {
        end
    };
    start = start.max(0);
    end = end.max(0);
    if end >= len_i {
        end = len_i - 1;
    }
    if len == 0 || start > end {
        return None;
    }
    Some((start as usize, end as usize))
}

fn getrange(c: &mut Ctx<'_>) -> CmdResult {
    let start = args::int(&c.args[2])?;
    let end = args::int(&c.args[3])?;
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let Some(e) = e else {
            out.bulk(b"");
            return Ok(());
        };
        let s = string_bytes(&e.value)?;
        match range_of(s.len(), start, end) {
            Some((a, b)) => out.bulk(&s[a..=b]),
            None => out.bulk(b""),
        }
        Ok(())
    })
}

fn setrange(c: &mut Ctx<'_>) -> CmdResult {
    let offset = args::int(&c.args[2])?;
    let offset =
        usize::try_from(offset).map_err(|_| CmdError::Static("ERR offset is out of range"))?;
    let max = c.shared.config.read().proto_max_bulk_len;
    let value = &c.args[3];
    let len = db(c).update(&c.args[1], c.now, |km| {
        let old_len = match km.value() {
            None => {
                if value.is_empty() {
                    return Ok(0);
                }
                check_string_length(max, offset as u64, value.len() as u64)?;
                let mut buf = vec![0u8; offset + value.len()];
                buf[offset..].copy_from_slice(value);
                km.insert(Value::Str(buf.into()), None);
                return Ok(offset + value.len());
            }
            Some(v) => string_bytes(v)?.len(),
        };
        if value.is_empty() {
            return Ok(old_len);
        }
        check_string_length(max, offset as u64, value.len() as u64)?;
        let mut buf = take_string(km)?;
        let end = offset + value.len();
        if buf.len() < end {
            buf.resize(end, 0);
        }
        buf[offset..end].copy_from_slice(value);
        let len = buf.len();
        km.set_value(Value::Str(buf.freeze().into()));
        Ok::<_, CmdError>(len)
    })??;
    c.out.integer(len as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------
// INCR DECR INCRBY DECRBY INCRBYFLOAT
// ---------------------------------------------------------------------------------

fn incr(c: &mut Ctx<'_>) -> CmdResult {
    incr_generic(c, 1)
}

fn decr(c: &mut Ctx<'_>) -> CmdResult {
    incr_generic(c, -1)
}

fn incrby(c: &mut Ctx<'_>) -> CmdResult {
    let by = args::int(&c.args[2])?;
    incr_generic(c, by)
}

fn decrby(c: &mut Ctx<'_>) -> CmdResult {
    let by = args::int(&c.args[2])?;
    if by == i64::MIN {
        return Err(CmdError::Static("ERR decrement would overflow"));
    }
    incr_generic(c, -by)
}

fn incr_generic(c: &mut Ctx<'_>, by: i64) -> CmdResult {
    let n = db(c).update(&c.args[1], c.now, |km| {
        let current = match km.value() {
            None => 0,
            Some(v) => integer_value(v)?.ok_or(CmdError::NotInteger)?,
        };
        let n = current.checked_add(by).ok_or(CmdError::Overflow)?;
        km.set_value(Value::counter(n));
        Ok::<_, CmdError>(n)
    })??;
    c.out.integer(n);
    Ok(())
}

fn incrbyfloat(c: &mut Ctx<'_>) -> CmdResult {
    let incr = &c.args[2];
    let text = db(c).update(&c.args[1], c.now, |km| {
        let current = km.value().map(string_bytes).transpose()?;
        let text = float::incr_by_float(current.as_deref(), incr)?;
        km.set_value(Value::string(&text));
        Ok::<_, CmdError>(text)
    })??;
    c.out.bulk(&text);
    Ok(())
}
