//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET LTRIM
//! LINSERT LREM LPOS.
//!
//! Redis 7.0 semantics, including its order of checks (each command's own: most parse
//! their numbers before looking at the key, LINDEX and LSET look at the key first). A
//! list is never left empty: popping, trimming or removing the last element deletes
//! the key.

use std::borrow::Cow;

use mapcache_store::{Db, Entry, Field, KeyMut, List, Value};

use super::common::field_bytes;
use crate::args::{self, is};
use crate::error::{CmdError, CmdResult};
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
        "list",
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
    cmd("lindex", 3, READONLY, "1.0.0", "Get an element from a list by its index", lindex),
    cmd("linsert", 5, WRITE | DENYOOM, "2.2.0", "Insert an element before or after another element in a list", linsert),
    cmd("llen", 2, READONLY | FAST, "1.0.0", "Get the length of a list", llen),
    cmd("lpop", -2, WRITE | FAST, "1.0.0", "Remove and get the first elements in a list", lpop),
    cmd("lpos", -3, READONLY, "6.0.6", "Return the index of matching elements on a list", lpos),
    cmd("lpush", -3, WRITE | DENYOOM | FAST, "1.0.0", "Prepend one or multiple elements to a list", lpush),
    cmd("lpushx", -3, WRITE | DENYOOM | FAST, "2.2.0", "Prepend an element to a list, only if the list exists", lpushx),
    cmd("lrange", 4, READONLY, "1.0.0", "Get a range of elements from a list", lrange),
    cmd("lrem", 4, WRITE, "1.0.0", "Remove elements from a list", lrem),
    cmd("lset", 4, WRITE | DENYOOM, "1.0.0", "Set the value of an element in a list by its index", lset),
    cmd("ltrim", 4, WRITE, "1.0.0", "Trim a list to the specified range", ltrim),
    cmd("rpop", -2, WRITE | FAST, "1.0.0", "Remove and get the last elements in a list", rpop),
    cmd("rpush", -3, WRITE | DENYOOM | FAST, "1.0.0", "Append one or multiple elements to a list", rpush),
    cmd("rpushx", -3, WRITE | DENYOOM | FAST, "2.2.0", "Append an element to a list, only if the list exists", rpushx),
];

// ---------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------

/// The selected database, borrowed for the whole command (not through `c`, so that
/// closures may write to `c.out` meanwhile).
fn db<'a>(c: &Ctx<'a>) -> &'a Db {
    c.selected()
}

/// The list at `e`, `None` for a missing key, WRONGTYPE for another kind.
///
/// An empty list reads as a missing key: none is ever stored at the top level, but a
/// document written over HTTP may hold one inside it (path key mode).
fn as_list(e: Option<&Entry>) -> Result<Option<&List>, CmdError> {
    match e.map(|e| e.value.as_list()) {
        None => Ok(None),
        Some(Some(l)) => Ok((!l.is_empty()).then_some(l)),
        Some(None) => Err(CmdError::WrongType),
    }
}

/// The list of `km` for writing, `None` for a missing key (or an empty list, as in
/// [`as_list`]), WRONGTYPE for another kind.
fn list_mut<'k>(km: &'k mut KeyMut<'_>) -> Result<Option<&'k mut List>, CmdError> {
    if km
        .value()
        .is_none_or(|v| v.as_list().is_some_and(List::is_empty))
    {
        return Ok(None);
    }
    match km.value_mut() {
        None => Ok(None),
        Some(v) => v.as_list_mut().map(Some).ok_or(CmdError::WrongType),
    }
}

/// Does list element `v` equal the argument `arg`?
fn element_eq(v: Field<'_>, arg: &[u8]) -> bool {
    match v.str_bytes() {
        Some(b) => b == arg,
        None => field_bytes(v)[..] == *arg,
    }
}

/// An element's bytes as a reply shows them.
fn element_bytes<'a>(v: impl Into<Field<'a>>) -> Cow<'a, [u8]> {
    field_bytes(v)
}

/// Redis's range normalisation (LRANGE, LTRIM): negative indices count from the end,
/// the start is clamped at 0 and the end at the last element. `None` for an empty range.
fn range_of(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let end = if end < 0 { end + len } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

/// A single index (LINDEX, LSET): negative counts from the end; `None` when outside.
fn index_of(len: usize, index: i64) -> Option<usize> {
    let len = len as i64;
    let i = if index < 0 { index + len } else { index };
    (0..len).contains(&i).then_some(i as usize)
}

// ---------------------------------------------------------------------------------
// Pushes and pops
// ---------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Head,
    Tail,
}

fn push_generic(c: &mut Ctx<'_>, end: End, only_existing: bool) -> CmdResult {
    let elements = &c.args[2..];
    let len = db(c).update(&c.args[1], c.now, |km| {
        if only_existing && km.value().is_none() {
            return Ok(0);
        }
        if km.value().is_some_and(|v| v.as_list().is_none()) {
            return Err(CmdError::WrongType);
        }
        // (In path mode a list that cannot be created is a scratch value: see KeyMut.)
        let list = km
            .value_or_insert_with(Value::new_list)
            .as_list_mut()
            .ok_or(CmdError::WrongType)?;
        list.reserve(elements.len());
        for e in elements {
            match end {
                End::Head => list.push_front_str(e),
                End::Tail => list.push_back_str(e),
            }
        }
        Ok::<_, CmdError>(list.len())
    })??;
    c.out.integer(len as i64);
    Ok(())
}

fn lpush(c: &mut Ctx<'_>) -> CmdResult {
    push_generic(c, End::Head, false)
}

fn rpush(c: &mut Ctx<'_>) -> CmdResult {
    push_generic(c, End::Tail, false)
}

fn lpushx(c: &mut Ctx<'_>) -> CmdResult {
    push_generic(c, End::Head, true)
}

fn rpushx(c: &mut Ctx<'_>) -> CmdResult {
    push_generic(c, End::Tail, true)
}

fn pop_generic(c: &mut Ctx<'_>, end: End) -> CmdResult {
    let count = match c.args.len() {
        2 => None,
        3 => {
            // Redis answers the same text for a non-integer and a negative count.
            let n = args::int(&c.args[2]).map_err(|_| CmdError::NotPositive)?;
            Some(usize::try_from(n).map_err(|_| CmdError::NotPositive)?)
        }
        _ => {
            let name = if end == End::Head { "lpop" } else { "rpop" };
            return Err(CmdError::WrongArity(name.into()));
        }
    };
    let db = db(c);
    let out = &mut *c.out;
    db.update(&c.args[1], c.now, |km| {
        let Some(list) = list_mut(km)? else {
            match count {
                None => out.null(),
                Some(_) => out.null_array(),
            }
            return Ok(());
        };
        let pop = |list: &mut List| match end {
            End::Head => list.pop_front(),
            End::Tail => list.pop_back(),
        };
        match count {
            // list_mut answers no empty list: a pop finds an element.
            None => match pop(list) {
                Some(v) => out.bulk(&element_bytes(&v)),
                None => out.null(),
            },
            Some(n) => {
                let popped: Vec<Value> = std::iter::from_fn(|| pop(list)).take(n).collect();
                out.array(popped.len());
                for v in &popped {
                    out.bulk(&element_bytes(v));
                }
            }
        }
        km.remove_if_empty();
        Ok(())
    })?
}

fn lpop(c: &mut Ctx<'_>) -> CmdResult {
    pop_generic(c, End::Head)
}

fn rpop(c: &mut Ctx<'_>) -> CmdResult {
    pop_generic(c, End::Tail)
}

// ---------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------

fn llen(c: &mut Ctx<'_>) -> CmdResult {
    let len = db(c).get(&c.args[1], c.now, |e| {
        Ok::<_, CmdError>(as_list(e)?.map_or(0, |l| l.len()))
    })?;
    c.out.integer(len as i64);
    Ok(())
}

fn lrange(c: &mut Ctx<'_>) -> CmdResult {
    let start = args::int(&c.args[2])?;
    let end = args::int(&c.args[3])?;
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let list = as_list(e)?;
        match list.and_then(|l| range_of(l.len(), start, end).map(|r| (l, r))) {
            None => out.array(0),
            Some((l, (from, to))) => {
                out.array(to - from + 1);
                for v in l.range(from, to) {
                    out.bulk(&element_bytes(v));
                }
            }
        }
        Ok(())
    })
}

fn lindex(c: &mut Ctx<'_>) -> CmdResult {
    let db = db(c);
    let index_arg = &c.args[2];
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let Some(list) = as_list(e)? else {
            out.null();
            return Ok(());
        };
        let index = args::int(index_arg)?;
        match index_of(list.len(), index) {
            Some(i) => match list.get(i) {
                Some(v) => out.bulk(&element_bytes(v)),
                None => out.null(),
            },
            None => out.null(),
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------
// Writes in place
// ---------------------------------------------------------------------------------

fn lset(c: &mut Ctx<'_>) -> CmdResult {
    let (index_arg, value) = (&c.args[2], &c.args[3]);
    db(c).update(&c.args[1], c.now, |km| {
        let list = list_mut(km)?.ok_or(CmdError::NoSuchKey)?;
        let index = args::int(index_arg)?;
        let i = index_of(list.len(), index).ok_or(CmdError::IndexOutOfRange)?;
        list.set(i, Value::string(value));
        Ok::<_, CmdError>(())
    })??;
    c.out.ok();
    Ok(())
}

fn ltrim(c: &mut Ctx<'_>) -> CmdResult {
    let start = args::int(&c.args[2])?;
    let end = args::int(&c.args[3])?;
    db(c).update(&c.args[1], c.now, |km| {
        let Some(list) = list_mut(km)? else {
            return Ok(());
        };
        list.keep_range(range_of(list.len(), start, end));
        km.remove_if_empty();
        Ok::<_, CmdError>(())
    })??;
    c.out.ok();
    Ok(())
}

fn linsert(c: &mut Ctx<'_>) -> CmdResult {
    let after = if is(&c.args[2], "after") {
        true
    } else if is(&c.args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let (pivot, element) = (&c.args[3], &c.args[4]);
    let n = db(c).update(&c.args[1], c.now, |km| {
        let Some(list) = list_mut(km)? else {
            return Ok(0);
        };
        let Some(pos) = list.iter().position(|v| element_eq(v, pivot)) else {
            return Ok(-1);
        };
        list.reserve(1);
        list.insert(if after { pos + 1 } else { pos }, Value::string(element));
        Ok::<_, CmdError>(list.len() as i64)
    })??;
    c.out.integer(n);
    Ok(())
}

fn lrem(c: &mut Ctx<'_>) -> CmdResult {
    let count = args::int(&c.args[2])?;
    let element = &c.args[3];
    let removed = db(c).update(&c.args[1], c.now, |km| {
        let Some(list) = list_mut(km)? else {
            return Ok(0);
        };
        // At most `limit` matches go, from the head (count > 0) or the tail (count < 0).
        let limit = if count == 0 {
            u64::MAX
        } else {
            count.unsigned_abs()
        };
        let mut removed: u64 = 0;
        let mut keep = vec![true; list.len()];
        let mut mark = |i: usize, v: Field<'_>| {
            if removed < limit && element_eq(v, element) {
                keep[i] = false;
                removed += 1;
            }
        };
        if count >= 0 {
            list.iter().enumerate().for_each(|(i, v)| mark(i, v));
        } else {
            list.iter().enumerate().rev().for_each(|(i, v)| mark(i, v));
        }
        if removed > 0 {
            let mut i = 0;
            list.retain(|_: Field<'_>| {
                i += 1;
                keep[i - 1]
            });
        }
        km.remove_if_empty();
        Ok::<_, CmdError>(removed as i64)
    })??;
    c.out.integer(removed);
    Ok(())
}

// ---------------------------------------------------------------------------------
// LPOS
// ---------------------------------------------------------------------------------

fn lpos(c: &mut Ctx<'_>) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < c.args.len() {
        let more = c.args.len() - 1 - i;
        let opt = &c.args[i];
        if is(opt, "rank") && more > 0 {
            rank = args::int(&c.args[i + 1])?;
            if rank == 0 {
                return Err(CmdError::Static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... \
                     or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "count") && more > 0 {
            count = Some(non_negative(&c.args[i + 1], "ERR COUNT can't be negative")?);
        } else if is(opt, "maxlen") && more > 0 {
            maxlen = non_negative(&c.args[i + 1], "ERR MAXLEN can't be negative")?;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let element = &c.args[2];
    let db = db(c);
    let out = &mut *c.out;
    db.get(&c.args[1], c.now, |e| {
        let Some(list) = as_list(e)? else {
            match count {
                Some(_) => out.array(0),
                None => out.null(),
            }
            return Ok(());
        };
        // Redis negates the rank to search from the tail; LONG_MIN stays negative in C,
        // so it then matches from the first hit and COUNT never stops it. Reproduced
        // with wrapping arithmetic.
        let from_tail = rank < 0;
        let rank = if from_tail { rank.wrapping_neg() } else { rank };
        let len = list.len();
        let limit = if maxlen == 0 {
            len
        } else {
            len.min(maxlen as usize)
        };
        let items: Box<dyn Iterator<Item = (usize, Field<'_>)>> = if from_tail {
            Box::new(list.iter().enumerate().rev().take(limit))
        } else {
            Box::new(list.iter().enumerate().take(limit))
        };
        let mut matches: i64 = 0;
        let mut found: Vec<i64> = Vec::new();
        for (pos, item) in items {
            if !element_eq(item, element) {
                continue;
            }
            matches += 1;
            if matches >= rank {
                found.push(pos as i64);
                match count {
                    None => break,
                    Some(n) if n != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= n => break,
                    Some(_) => {}
                }
            }
        }
        match count {
            None => match found.first() {
                Some(&p) => out.integer(p),
                None => out.null(),
            },
            Some(_) => {
                out.array(found.len());
                for p in found {
                    out.integer(p);
                }
            }
        }
        Ok(())
    })
}

/// LPOS's COUNT and MAXLEN: an integer of at least 0; `msg` for anything else (Redis
/// answers the same text for a non-integer).
fn non_negative(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    match args::int(arg) {
        Ok(n) if n >= 0 => Ok(n),
        _ => Err(CmdError::Static(msg)),
    }
}
