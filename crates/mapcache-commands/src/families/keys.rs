//! Generic key commands: DEL UNLINK EXISTS TOUCH TYPE RENAME RENAMENX COPY EXPIRE
//! PEXPIRE EXPIREAT PEXPIREAT PERSIST TTL PTTL EXPIRETIME PEXPIRETIME KEYS SCAN RANDOMKEY.
//!
//! Multi-key commands hold every shard they touch for their whole duration
//! ([`Db::update_many`], [`mapcache_store::Store::update_two`]), so they are atomic.

use bytes::Bytes;
use mapcache_expiry::UnixMillis;
use mapcache_store::{Db, Entry, KeyMut, Kind, ScanFilter};

use crate::args::{self, is};
use crate::error::{CmdError, CmdResult};
use crate::table::flags::*;
use crate::table::Command;
use crate::Ctx;

const fn cmd(
    name: &'static str,
    arity: i16,
    flags: u16,
    keys: (i8, i8, i8),
    since: &'static str,
    summary: &'static str,
    handler: crate::table::Handler,
) -> Command {
    crate::table::cmd("generic", name, arity, flags, keys, since, summary, handler)
}

const ONE: (i8, i8, i8) = (1, 1, 1);
const ALL: (i8, i8, i8) = (1, -1, 1);
const NONE: (i8, i8, i8) = (0, 0, 0);

#[rustfmt::skip]
pub(crate) const COMMANDS: &[Command] = &[
    cmd("copy", -3, WRITE | DENYOOM, (1, 2, 1), "6.2.0", "Copy a key", copy),
    cmd("del", -2, WRITE, ALL, "1.0.0", "Delete a key", del),
    cmd("exists", -2, READONLY | FAST, ALL, "1.0.0", "Determine if a key exists", exists),
    cmd("expire", -3, WRITE | FAST, ONE, "1.0.0", "Set a key's time to live in seconds", expire),
    cmd("expireat", -3, WRITE | FAST, ONE, "1.2.0", "Set the expiration for a key as a UNIX timestamp", expireat),
    cmd("expiretime", 2, READONLY | FAST, ONE, "7.0.0", "Get the expiration Unix timestamp for a key", expiretime),
    cmd("keys", 2, READONLY, NONE, "1.0.0", "Find all keys matching the given pattern", keys),
    cmd("persist", 2, WRITE | FAST, ONE, "2.2.0", "Remove the expiration from a key", persist),
    cmd("pexpire", -3, WRITE | FAST, ONE, "2.6.0", "Set a key's time to live in milliseconds", pexpire),
    cmd("pexpireat", -3, WRITE | FAST, ONE, "2.6.0", "Set the expiration for a key as a UNIX timestamp specified in milliseconds", pexpireat),
    cmd("pexpiretime", 2, READONLY | FAST, ONE, "7.0.0", "Get the expiration Unix timestamp for a key in milliseconds", pexpiretime),
    cmd("pttl", 2, READONLY | FAST, ONE, "2.6.0", "Get the time to live for a key in milliseconds", pttl),
    cmd("randomkey", 1, READONLY, NONE, "1.0.0", "Return a random key from the keyspace", randomkey),
    cmd("rename", 3, WRITE, (1, 2, 1), "1.0.0", "Rename a key", rename),
    cmd("renamenx", 3, WRITE | FAST, (1, 2, 1), "1.0.0", "Rename a key, only if the new key does not exist", renamenx),
    cmd("scan", -2, READONLY, NONE, "2.8.0", "Incrementally iterate the keys space", scan),
    cmd("touch", -2, READONLY | FAST, ALL, "3.2.1", "Alters the last access time of a key(s). Returns the number of existing keys specified.", touch),
    cmd("ttl", 2, READONLY | FAST, ONE, "1.0.0", "Get the time to live for a key in seconds", ttl),
    cmd("type", 2, READONLY | FAST, ONE, "1.0.0", "Determine the type stored at key", type_),
    cmd("unlink", -2, WRITE | FAST, ALL, "4.0.0", "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.", unlink),
];

/// The selected database, borrowed for the whole command (not through `c`, so that
/// closures may write to `c.out` meanwhile).
fn db<'a>(c: &Ctx<'a>) -> &'a Db {
    c.selected()
}

fn key_list(args: &[Bytes]) -> Vec<&[u8]> {
    args.iter().map(|k| &k[..]).collect()
}

// ---------------------------------------------------------------------------------
// DEL UNLINK EXISTS TOUCH TYPE
// ---------------------------------------------------------------------------------

fn del(c: &mut Ctx<'_>) -> CmdResult {
    let keys = key_list(&c.args[1..]);
    let removed = db(c).update_many(&keys, c.now, |m| {
        (0..keys.len())
            .filter(|&i| m.with(i, |km| km.delete()))
            .count()
    })?;
    c.out.integer(removed as i64);
    Ok(())
}

/// UNLINK: DEL whose values are freed off the shard locks (the store always does that).
fn unlink(c: &mut Ctx<'_>) -> CmdResult {
    del(c)
}

/// EXISTS: how many of the keys exist, a key named twice counting twice.
/// Each key counts as a keyspace hit or miss, as Redis's lookups do.
fn count_existing(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let now = c.now;
    // EXISTS does not touch the keys (Redis's LOOKUP_NOTOUCH); hits and misses count.
    let n = if c.args.len() == 2 {
        usize::from(db.get_no_touch(&c.args[1], now, |e| e.is_some()))
    } else {
        let keys = key_list(&c.args[1..]);
        db.get_many_no_touch(&keys, now, |m| {
            (0..m.len()).filter(|&i| m.get(i).is_some()).count()
        })
    };
    c.out.integer(n as i64);
    Ok(())
}

fn exists(c: &mut Ctx<'_>) -> CmdResult {
    count_existing(c)
}

/// TOUCH: reads each key as Redis's `lookupKeyRead` does, which updates its access
/// stamp (eviction's LRU clock or LFU counter) and counts a hit or miss.
fn touch(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let n = c.args[1..]
        .iter()
        .filter(|k| db.get(k, c.now, |e| e.is_some()))
        .count();
    c.out.integer(n as i64);
    Ok(())
}

fn type_(c: &mut Ctx<'_>) -> CmdResult {
    let name = db(c).get_no_touch(&c.args[1], c.now, |e| {
        e.map_or("none", |e| e.value.kind().redis_name())
    });
    c.out.simple(name.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------
// RENAME RENAMENX COPY
// ---------------------------------------------------------------------------------

fn rename(c: &mut Ctx<'_>) -> CmdResult {
    if rename_generic(c, false)? {
        c.out.ok();
    }
    Ok(())
}

fn renamenx(c: &mut Ctx<'_>) -> CmdResult {
    let done = rename_generic(c, true)?;
    c.out.integer(i64::from(done));
    Ok(())
}

/// Moves the value and its TTL from `args[1]` to `args[2]`. Returns false when NX and
/// the destination exists (or source and destination are the same key).
fn rename_generic(c: &mut Ctx<'_>, nx: bool) -> Result<bool, CmdError> {
    let db = db(c);
    let (src, dst) = (&c.args[1][..], &c.args[2][..]);
    if src == dst {
        let exists = db.update(src, c.now, |km| km.exists())?;
        return if exists {
            Ok(!nx)
        } else {
            Err(CmdError::NoSuchKey)
        };
    }
    db.update_many(&[src, dst], c.now, |m| {
        if !m.with(0, |km| km.exists()) {
            return Err(CmdError::NoSuchKey);
        }
        if nx && m.with(1, |km| km.exists()) {
            return Ok(false);
        }
        let entry = m.with(0, |km| km.remove()).ok_or(CmdError::NoSuchKey)?;
        m.with(1, |km| km.insert_entry(entry));
        Ok(true)
    })?
}

/// Redis's `getIntFromObjectOrReply`: an integer that fits a C int.
fn int32(arg: &[u8]) -> Result<i32, CmdError> {
    let n = args::int(arg)?;
    i32::try_from(n).map_err(|_| {
        CmdError::Static("ERR value is out of range, value must between -2147483648 and 2147483647")
    })
}

fn copy(c: &mut Ctx<'_>) -> CmdResult {
    let src_db = c.session.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut j = 3;
    while j < c.args.len() {
        let more = c.args.len() - j - 1;
        if is(&c.args[j], "replace") {
            replace = true;
        } else if is(&c.args[j], "db") && more >= 1 {
            let n = int32(&c.args[j + 1])?;
            dst_db = usize::try_from(n)
                .ok()
                .filter(|&n| n < c.shared.store.databases())
                .ok_or(CmdError::DbIndexOutOfRange)?;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    // A named cache (SELECT name) has no database number to copy across from.
    if c.named.is_some() && c.args.len() > 3 && c.args[3..].iter().any(|a| is(a, "db")) {
        return Err(CmdError::Static(
            "ERR COPY ... DB is not supported while a named cache is selected",
        ));
    }
    let (src, dst) = (&c.args[1][..], &c.args[2][..]);
    if src_db == dst_db && src == dst {
        return Err(CmdError::Static(
            "ERR source and destination objects are the same",
        ));
    }
    let db = db(c);
    let copy_into = |from: &mut KeyMut<'_>, to: &mut KeyMut<'_>| -> bool {
        let Some(entry) = from.entry() else {
            db.count_lookup(src, false);
            return false;
        };
        db.count_lookup(src, true);
        if to.exists() && !replace {
            return false;
        }
        to.insert_entry(entry.clone());
        true
    };
    let done = if src_db == dst_db {
        db.update_many(&[src, dst], c.now, |m| {
            // Two KeyMuts of one Multi cannot be live at once: copy the entry out first.
            let entry: Option<Entry> = m.with(0, |km| km.entry().cloned());
            let Some(entry) = entry else {
                db.count_lookup(src, false);
                return false;
            };
            db.count_lookup(src, true);
            m.with(1, |km| {
                if km.exists() && !replace {
                    return false;
                }
                km.insert_entry(entry);
                true
            })
        })?
    } else {
        c.shared
            .store
            .update_two((src_db, src), (dst_db, dst), copy_into)?
    };
    c.out.integer(i64::from(done));
    Ok(())
}

// ---------------------------------------------------------------------------------
// EXPIRE family, PERSIST, TTL family
// ---------------------------------------------------------------------------------

fn expire(c: &mut Ctx<'_>) -> CmdResult {
    expire_generic(c, true, true, "expire")
}

fn pexpire(c: &mut Ctx<'_>) -> CmdResult {
    expire_generic(c, true, false, "pexpire")
}

fn expireat(c: &mut Ctx<'_>) -> CmdResult {
    expire_generic(c, false, true, "expireat")
}

fn pexpireat(c: &mut Ctx<'_>) -> CmdResult {
    expire_generic(c, false, false, "pexpireat")
}

/// The NX XX GT LT options of the EXPIRE family.
#[derive(Debug, Default, Clone, Copy)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(opts: &[Bytes]) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for opt in opts {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            // Redis prints the option with %s: it ends at a NUL byte.
            let text = opt.split(|&b| b == 0).next().unwrap_or_default();
            return Err(CmdError::raw(&[b"ERR Unsupported option ", text]));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(CmdError::Static(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if f.gt && f.lt {
        return Err(CmdError::Static(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(f)
}

/// Redis's `expireGenericCommand`: `relative` adds the current time, `seconds` scales.
/// A deadline not in the future deletes the key (and answers 1).
fn expire_generic(c: &mut Ctx<'_>, relative: bool, seconds: bool, name: &'static str) -> CmdResult {
    let flags = parse_expire_flags(&c.args[3..])?;
    let mut when = args::int(&c.args[2])?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or(CmdError::InvalidExpire(name))?;
    }
    let base = if relative { c.now } else { 0 };
    let when = when
        .checked_add(base)
        .ok_or(CmdError::InvalidExpire(name))?;
    let now = c.now;
    let done = db(c).update(&c.args[1], now, |km| {
        if !km.exists() {
            return false;
        }
        let current = km.own_deadline();
        if (flags.nx && current.is_some())
            || (flags.xx && current.is_none())
            || (flags.gt && current.is_none_or(|cur| when <= cur))
            || (flags.lt && current.is_some_and(|cur| when >= cur))
        {
            return false;
        }
        if when <= now {
            km.delete();
        } else {
            km.set_deadline(Some(when));
        }
        true
    })?;
    c.out.integer(i64::from(done));
    Ok(())
}

fn persist(c: &mut Ctx<'_>) -> CmdResult {
    let done = db(c).update(&c.args[1], c.now, |km| {
        km.own_deadline().is_some() && km.set_deadline(None)
    })?;
    c.out.integer(i64::from(done));
    Ok(())
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 without a TTL, else the time
/// left (or the deadline, `absolute`) in ms or in seconds rounded to nearest.
fn ttl_generic(c: &mut Ctx<'_>, ms: bool, absolute: bool) -> CmdResult {
    let now = c.now;
    let deadline = db(c).get_no_touch(&c.args[1], now, |e| e.map(Entry::deadline));
    let n = match deadline {
        None => -2,
        Some(None) => -1,
        Some(Some(d)) => {
            let t: UnixMillis = if absolute { d } else { d - now };
            let t = t.max(0);
            if ms {
                t
            } else {
                ((i128::from(t) + 500) / 1000) as i64
            }
        }
    };
    c.out.integer(n);
    Ok(())
}

fn ttl(c: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(c, false, false)
}

fn pttl(c: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(c, true, false)
}

fn expiretime(c: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(c, false, true)
}

fn pexpiretime(c: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(c, true, true)
}

// ---------------------------------------------------------------------------------
// KEYS SCAN RANDOMKEY
// ---------------------------------------------------------------------------------

fn keys(c: &mut Ctx<'_>) -> CmdResult {
    // The map-cache key modes follow the Go server: whole segments, nodes at the
    // pattern's depth (`Db::keys_by_segment`); flat mode is Redis's glob over keys.
    let db = db(c);
    let found = if db.path_keys() {
        db.keys_by_segment(&c.args[1], c.now)
    } else {
        db.keys(&c.args[1], c.now)
    };
    c.out.bulks(found.iter());
    Ok(())
}

fn scan(c: &mut Ctx<'_>) -> CmdResult {
    let cursor = args::scan_cursor(&c.args[1])?;
    let mut count: usize = 10;
    let mut pattern: Option<&[u8]> = None;
    // None: no TYPE option; Some(None): a type no key of mapcache can have.
    let mut kind: Option<Option<Kind>> = None;
    let mut i = 2;
    while i < c.args.len() {
        let more = c.args.len() - i;
        let opt = &c.args[i];
        if is(opt, "count") && more >= 2 {
            let n = args::int(&c.args[i + 1])?;
            if n < 1 {
                return Err(CmdError::Syntax);
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
        } else if is(opt, "match") && more >= 2 {
            let p = &c.args[i + 1][..];
            pattern = (p != b"*").then_some(p);
        } else if is(opt, "type") && more >= 2 {
            let t = &c.args[i + 1];
            kind = Some(if is(t, "string") {
                Some(Kind::String)
            } else if is(t, "hash") {
                Some(Kind::Hash)
            } else if is(t, "list") {
                Some(Kind::List)
            } else if is(t, "rejson-rl") {
                Some(Kind::Json)
            } else {
                None
            });
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let filter = ScanFilter {
        pattern,
        kind: kind.flatten(),
    };
    let mut page = db(c).scan(cursor, count, filter, c.now);
    if kind == Some(None) {
        page.keys.clear();
    }
    c.out.array(2);
    c.out
        .bulk(itoa::Buffer::new().format(page.cursor).as_bytes());
    c.out.bulks(page.keys.iter());
    Ok(())
}

fn randomkey(c: &mut Ctx<'_>) -> CmdResult {
    let seed = c.session.random();
    match db(c).random_key(c.now, seed) {
        Some(k) => c.out.bulk(&k),
        None => c.out.null(),
    }
    Ok(())
}
