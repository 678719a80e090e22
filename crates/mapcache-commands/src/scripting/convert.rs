//! Redis's conversions between RESP replies and Lua values, both ways, as Redis 7.0's
//! `script_lua.c` makes them.
//!
//! A command called from a script writes its reply into a scratch buffer in the
//! script's protocol (`redis.setresp`, RESP2 by default), which is parsed back and
//! turned into Lua values ([`frame_to_lua`]); a script's return value is written into
//! the caller's reply buffer in the caller's protocol ([`lua_to_reply`]).

use mapcache_resp::{encode, Frame, Version};
use mlua::{Lua, Table, Value};

use crate::Reply;

/// C's `%.17g` of `d` (Redis formats Lua numbers passed to commands this way).
pub(crate) fn g17(d: f64) -> Vec<u8> {
    // The RESP2 encoding of a double is a bulk string of exactly this text.
    let mut tmp = bytes::BytesMut::new();
    encode::double(&mut tmp, Version::Resp2, d);
    let s = &tmp[..];
    let start = s.iter().position(|&c| c == b'\n').map_or(0, |i| i + 1);
    s[start..s.len().saturating_sub(2)].to_vec()
}

/// `luaPushErrorBuff`: `-CODE msg` or `msg` (then `ERR msg`) as a table `{err=...}`.
pub(crate) fn error_table(lua: &Lua, text: &[u8]) -> mlua::Result<Table> {
    let full: Vec<u8> = if let Some(rest) = text.strip_prefix(b"-") {
        match rest.iter().position(|&c| c == b' ') {
            Some(_) => rest.to_vec(),
            None => [b"ERR ".as_slice(), rest].concat(),
        }
    } else {
        [b"ERR ".as_slice(), text].concat()
    };
    let mut end = full.len();
    while end > 0 && matches!(full[end - 1], b'\r' | b'\n') {
        end -= 1;
    }
    let t = lua.create_table()?;
    t.raw_set("err", lua.create_string(&full[..end])?)?;
    Ok(t)
}

/// A command's reply (parsed) as the Lua value Redis gives the script.
pub(crate) fn frame_to_lua(lua: &Lua, f: Frame, resp3: bool) -> mlua::Result<Value> {
    Ok(match f {
        Frame::Simple(s) => {
            let t = lua.create_table()?;
            t.raw_set("ok", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Error(e) => {
            let t = error_table(lua, &[b"-".as_slice(), &e].concat())?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Frame::Integer(n) => Value::Number(n as f64),
        Frame::Bulk(b) => Value::String(lua.create_string(&b)?),
        Frame::Null if resp3 => Value::Nil,
        Frame::Null => Value::Boolean(false),
        Frame::Array(items) | Frame::Push(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            let mut i = 1;
            for item in items {
                if matches!(item, Frame::Attribute(_)) {
                    continue;
                }
                t.raw_set(i, frame_to_lua(lua, item, resp3)?)?;
                i += 1;
            }
            Value::Table(t)
        }
        Frame::Map(pairs) => {
            let inner = lua.create_table()?;
            for (k, v) in pairs {
                inner.raw_set(frame_to_lua(lua, k, resp3)?, frame_to_lua(lua, v, resp3)?)?;
            }
            let t = lua.create_table()?;
            t.raw_set("map", inner)?;
            Value::Table(t)
        }
        Frame::Set(items) => {
            let inner = lua.create_table()?;
            for k in items {
                inner.raw_set(frame_to_lua(lua, k, resp3)?, true)?;
            }
            let t = lua.create_table()?;
            t.raw_set("set", inner)?;
            Value::Table(t)
        }
        Frame::Double(d) => {
            let t = lua.create_table()?;
            t.raw_set("double", d)?;
            Value::Table(t)
        }
        Frame::Boolean(b) => Value::Boolean(b),
        Frame::BigNumber(s) => {
            let t = lua.create_table()?;
            t.raw_set("big_number", lua.create_string(&s)?)?;
            Value::Table(t)
        }
        Frame::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("string", lua.create_string(&text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            let t = lua.create_table()?;
            t.raw_set("verbatim_string", inner)?;
            Value::Table(t)
        }
        Frame::Attribute(_) => Value::Nil,
    })
}

/// A Lua number as Redis's `(long long)` cast gives it on x86-64 (out of range and NaN:
/// the "integer indefinite" value).
fn lua_number_to_i64(d: f64) -> i64 {
    // 2^63: the first double past i64.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-LIMIT..LIMIT).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

fn spaces(b: &[u8]) -> Vec<u8> {
    b.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

/// `luaReplyToRedisReply`: the script's value `v` into `out`. `script_resp3` is the
/// protocol the script last chose with `redis.setresp` (booleans depend on it).
pub(crate) fn lua_to_reply(v: &Value, out: &mut Reply, script_resp3: bool, depth: usize) {
    if depth > 1000 {
        out.error("ERR reached lua stack limit");
        return;
    }
    match v {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => {
            if script_resp3 {
                out.boolean(*b);
            } else if *b {
                out.integer(1);
            } else {
                out.null();
            }
        }
        Value::Integer(n) => out.integer(*n),
        Value::Number(d) => out.integer(lua_number_to_i64(*d)),
        Value::Table(t) => table_to_reply(t, out, script_resp3, depth),
        _ => out.null(),
    }
}

fn table_to_reply(t: &Table, out: &mut Reply, resp3: bool, depth: usize) {
    if let Ok(Value::String(e)) = t.raw_get::<Value>("err") {
        let msg = spaces(&e.as_bytes());
        encode::error(&mut out.buf, &msg);
        return;
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("ok") {
        out.simple(&spaces(&s.as_bytes()));
        return;
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Number(d)) => return out.double(d),
        Ok(Value::Integer(n)) => return out.double(n as f64),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        encode::big_number(&mut out.buf, out.version, &spaces(&s.as_bytes()));
        return;
    }
    if let Ok(Value::Table(vt)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(f)), Ok(Value::String(s))) =
            (vt.raw_get::<Value>("format"), vt.raw_get::<Value>("string"))
        {
            let fb = f.as_bytes();
            let mut format = [0u8; 3];
            for (d, s) in format.iter_mut().zip(fb.iter()) {
                *d = *s;
            }
            out.verbatim(&format, &s.as_bytes());
            return;
        }
    }
    // Each aggregate is counted first and converted in a second walk: holding all of
    // its values at once would exceed the Lua stack slots a C function may use (8000).
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        out.map(m.pairs::<Value, Value>().count());
        for (k, v) in m.pairs::<Value, Value>().filter_map(Result::ok) {
            lua_to_reply(&k, out, resp3, depth + 1);
            lua_to_reply(&v, out, resp3, depth + 1);
        }
        return;
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        out.set(s.pairs::<Value, Value>().count());
        for (k, _) in s.pairs::<Value, Value>().filter_map(Result::ok) {
            lua_to_reply(&k, out, resp3, depth + 1);
        }
        return;
    }
    let mut len = 0;
    while !matches!(t.raw_get::<Value>(len + 1), Ok(Value::Nil) | Err(_)) {
        len += 1;
    }
    out.array(len);
    for i in 1..=len {
        let v = t.raw_get::<Value>(i).unwrap_or(Value::Nil);
        lua_to_reply(&v, out, resp3, depth + 1);
    }
}
