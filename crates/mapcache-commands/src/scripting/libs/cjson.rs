//! `cjson`: Lua CJSON 2.1.0 as Redis ships it (encode, decode, `cjson.null` and the
//! configuration functions at their defaults). Numbers are written with `%.14g`,
//! `/` is escaped as `\/`, an empty table is `{}`, a table whose keys are all positive
//! integers is an array unless excessively sparse, and errors use CJSON's texts.

use std::sync::Arc;

use mlua::{LightUserData, Lua, Table, Value, Variadic};
use parking_lot::Mutex;

use super::fmt_g;

/// CJSON's configuration (`cjson.encode_max_depth(n)`...): per VM, kept across
/// scripts as in Redis.
#[derive(Debug, Clone, Copy)]
struct Config {
    encode_max_depth: usize,
    decode_max_depth: usize,
    /// 0 off, 1 on, 2 null.
    encode_invalid_numbers: u8,
    decode_invalid_numbers: bool,
    encode_number_precision: usize,
    encode_keep_buffer: bool,
    sparse_convert: bool,
    sparse_ratio: usize,
    sparse_safe: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: false,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
        }
    }
}

fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

fn escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            8 => out.extend_from_slice(b"\\b"),
            9 => out.extend_from_slice(b"\\t"),
            10 => out.extend_from_slice(b"\\n"),
            12 => out.extend_from_slice(b"\\f"),
            13 => out.extend_from_slice(b"\\r"),
            0..=31 | 127 => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn number(out: &mut Vec<u8>, d: f64, cfg: &Config) -> mlua::Result<()> {
    if d.is_nan() || d.is_infinite() {
        match cfg.encode_invalid_numbers {
            0 => return Err(err("Cannot serialise number: must not be NaN or Inf")),
            1 if d.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    out.extend_from_slice(fmt_g(d, cfg.encode_number_precision).as_bytes());
    Ok(())
}

/// CJSON's `lua_array_length`: `Some(max)` for an array, `None` for an object.
fn array_length(t: &Table, cfg: &Config) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let k = match k {
            Value::Number(n) => n,
            Value::Integer(n) => n as f64,
            _ => return Ok(None),
        };
        if k.floor() == k && k >= 1.0 {
            max = max.max(k as usize);
            items += 1;
        } else {
            return Ok(None);
        }
    }
    if cfg.sparse_ratio > 0 && max > items * cfg.sparse_ratio && max > cfg.sparse_safe {
        if !cfg.sparse_convert {
            return Err(err("Cannot serialise table: excessively sparse array"));
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize, cfg: &Config) -> mlua::Result<()> {
    match v {
        Value::String(s) => escape(out, &s.as_bytes()),
        Value::Number(n) => number(out, *n, cfg)?,
        Value::Integer(n) => number(out, *n as f64, cfg)?,
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > cfg.encode_max_depth {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(t, cfg)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(out, &t.raw_get::<Value>(i)?, depth, cfg)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, v) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(out, &s.as_bytes()),
                            Value::Number(n) => {
                                out.push(b'"');
                                number(out, *n, cfg)?;
                                out.push(b'"');
                            }
                            Value::Integer(n) => {
                                out.push(b'"');
                                number(out, *n as f64, cfg)?;
                                out.push(b'"');
                            }
                            _ => {
                                return Err(err(
                                    "Cannot serialise table: table key must be a number or string",
                                ))
                            }
                        }
                        out.push(b':');
                        encode_value(out, &v, depth, cfg)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                match other {
                    Value::LightUserData(_) | Value::UserData(_) => "userdata",
                    o => o.type_name(),
                }
            )))
        }
    }
    Ok(())
}

/// The decoder: a recursive descent with CJSON's error texts.
struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    lua: &'a Lua,
    max_depth: usize,
}

/// CJSON's token names, as its errors print them.
fn token_name(s: &[u8], pos: usize) -> &'static str {
    match s.get(pos) {
        None => "T_END",
        Some(b'{') => "T_OBJ_BEGIN",
        Some(b'}') => "T_OBJ_END",
        Some(b'[') => "T_ARR_BEGIN",
        Some(b']') => "T_ARR_END",
        Some(b'"') => "T_STRING",
        Some(b'-' | b'0'..=b'9') => "T_NUMBER",
        Some(b't' | b'f') => "T_BOOLEAN",
        Some(b'n') => "T_NULL",
        Some(b':') => "T_COLON",
        Some(b',') => "T_COMMA",
        Some(_) => "invalid token",
    }
}

impl Parser<'_> {
    fn ws(&mut self) {
        while matches!(self.s.get(self.pos), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn expected(&self, what: &str) -> mlua::Error {
        err(format!(
            "Expected {what} but found {} at character {}",
            token_name(self.s, self.pos),
            self.pos + 1
        ))
    }

    fn value(&mut self, depth: usize) -> mlua::Result<Value> {
        self.ws();
        match self.s.get(self.pos) {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Value::String(self.lua.create_string(self.string()?)?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') if self.s[self.pos..].starts_with(b"true") => {
                self.pos += 4;
                Ok(Value::Boolean(true))
            }
            Some(b'f') if self.s[self.pos..].starts_with(b"false") => {
                self.pos += 5;
                Ok(Value::Boolean(false))
            }
            Some(b'n') if self.s[self.pos..].starts_with(b"null") => {
                self.pos += 4;
                Ok(null())
            }
            _ => Err(self.expected("value")),
        }
    }

    fn number(&mut self) -> mlua::Result<Value> {
        let start = self.pos;
        while matches!(
            self.s.get(self.pos),
            Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
        ) {
            self.pos += 1;
        }
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => Ok(Value::Number(n)),
            Err(_) => Err(err(format!(
                "Expected value but found invalid number at character {}",
                start + 1
            ))),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    fn string(&mut self) -> mlua::Result<Vec<u8>> {
        let start = self.pos;
        self.pos += 1;
        let mut out = Vec::new();
        loop {
            let Some(&c) = self.s.get(self.pos) else {
                return Err(err(format!(
                    "Expected value but found unexpected end of string at character {}",
                    start + 1
                )));
            };
            self.pos += 1;
            match c {
                b'"' => return Ok(out),
                b'\\' => {
                    let Some(&e) = self.s.get(self.pos) else {
                        continue;
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let bad = || {
                                err(format!(
                                    "Expected value but found invalid unicode escape code at character {}",
                                    start + 1
                                ))
                            };
                            let mut cp = self.hex4(self.pos).ok_or_else(bad)?;
                            self.pos += 4;
                            if (0xD800..0xDC00).contains(&cp) {
                                if self.s.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(bad());
                                }
                                let lo = self.hex4(self.pos + 2).ok_or_else(bad)?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(bad());
                                }
                                self.pos += 6;
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Err(bad());
                            }
                            let ch = char::from_u32(cp).ok_or_else(bad)?;
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => {
                            return Err(err(format!(
                                "Expected value but found invalid escape code at character {}",
                                start + 1
                            )))
                        }
                    }
                }
                c => out.push(c),
            }
        }
    }

    fn object(&mut self, depth: usize) -> mlua::Result<Value> {
        if depth > self.max_depth {
            return Err(err(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.pos + 1
            )));
        }
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.ws();
        if self.s.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        loop {
            self.ws();
            if self.s.get(self.pos) != Some(&b'"') {
                return Err(self.expected("object key string"));
            }
            let k = self.string()?;
            self.ws();
            if self.s.get(self.pos) != Some(&b':') {
                return Err(self.expected("colon"));
            }
            self.pos += 1;
            let v = self.value(depth)?;
            t.raw_set(self.lua.create_string(&k)?, v)?;
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or object end")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> mlua::Result<Value> {
        if depth > self.max_depth {
            return Err(err(format!(
                "Found too many nested data structures ({depth}) at character {}",
                self.pos + 1
            )));
        }
        self.pos += 1;
        let t = self.lua.create_table()?;
        self.ws();
        if self.s.get(self.pos) == Some(&b']') {
            self.pos += 1;
            return Ok(Value::Table(t));
        }
        let mut i = 1;
        loop {
            let v = self.value(depth)?;
            t.raw_set(i, v)?;
            i += 1;
            self.ws();
            match self.s.get(self.pos) {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Table(t));
                }
                _ => return Err(self.expected("comma or array end")),
            }
        }
    }
}

/// An integer option: sets it when given (checked against `min..=max`), answers it.
fn int_option(
    a: &[Value],
    name: &str,
    min: usize,
    max: usize,
    slot: &mut usize,
) -> mlua::Result<f64> {
    match a.first() {
        None | Some(Value::Nil) => {}
        Some(v) => {
            let n = super::to_number(v).ok_or_else(|| super::bad_arg(1, name, "number", v))?;
            if !(min as f64..=max as f64).contains(&n) {
                return Err(err(format!(
                    "bad argument #1 to '{name}' (expected integer between {min} and {max})"
                )));
            }
            *slot = n as usize;
        }
    }
    Ok(*slot as f64)
}

/// A boolean option (`true`/`false`, `"on"`/`"off"`).
fn bool_option(a: &[Value], name: &str, slot: &mut bool) -> mlua::Result<bool> {
    match a.first() {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *slot = *b,
        Some(Value::String(s)) if &*s.as_bytes() == b"on" => *slot = true,
        Some(Value::String(s)) if &*s.as_bytes() == b"off" => *slot = false,
        Some(v) => {
            return Err(err(format!(
                "bad argument #1 to '{name}' (invalid option '{}')",
                v.to_string().unwrap_or_default()
            )))
        }
    }
    Ok(*slot)
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let config = Arc::new(Mutex::new(Config::default()));
    let t = lua.create_table()?;
    let c = config.clone();
    t.raw_set(
        "encode",
        super::func(lua, move |lua, a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(err("bad argument #1 to 'encode' (expected 1 argument)"));
            }
            let cfg = *c.lock();
            let mut out = Vec::new();
            encode_value(&mut out, &a[0], 0, &cfg)?;
            lua.create_string(&out)
        })?,
    )?;
    let c = config.clone();
    t.raw_set(
        "decode",
        super::func(lua, move |lua, a: Variadic<Value>| {
            if a.len() != 1 {
                return Err(err("bad argument #1 to 'decode' (expected 1 argument)"));
            }
            let s = match &a[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                v @ (Value::Number(_) | Value::Integer(_)) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                v => return Err(super::bad_arg(1, "decode", "string", v)),
            };
            let mut p = Parser {
                s: &s,
                pos: 0,
                lua,
                max_depth: c.lock().decode_max_depth,
            };
            let v = p.value(0)?;
            p.ws();
            if p.pos < s.len() {
                return Err(p.expected("the end"));
            }
            Ok(v)
        })?,
    )?;
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    // The plain settings: each a Lua function that sets (with an argument) and answers
    // one field of the shared configuration.
    type IntField = fn(&mut Config) -> &mut usize;
    let ints: [(&'static str, usize, usize, IntField); 3] = [
        ("encode_max_depth", 1, i32::MAX as usize, |c| {
            &mut c.encode_max_depth
        }),
        ("decode_max_depth", 1, i32::MAX as usize, |c| {
            &mut c.decode_max_depth
        }),
        ("encode_number_precision", 1, 14, |c| {
            &mut c.encode_number_precision
        }),
    ];
    for (name, min, max, field) in ints {
        let c = config.clone();
        t.raw_set(
            name,
            super::func(lua, move |_, a: Variadic<Value>| {
                int_option(&a, name, min, max, field(&mut c.lock()))
            })?,
        )?;
    }
    type BoolField = fn(&mut Config) -> &mut bool;
    let bools: [(&'static str, BoolField); 2] = [
        ("encode_keep_buffer", |c| &mut c.encode_keep_buffer),
        ("decode_invalid_numbers", |c| &mut c.decode_invalid_numbers),
    ];
    for (name, field) in bools {
        let c = config.clone();
        t.raw_set(
            name,
            super::func(lua, move |_, a: Variadic<Value>| {
                bool_option(&a, name, field(&mut c.lock()))
            })?,
        )?;
    }
    let c = config.clone();
    t.raw_set(
        "encode_invalid_numbers",
        super::func(lua, move |lua, a: Variadic<Value>| {
            let mut cfg = c.lock();
            match a.first() {
                None | Some(Value::Nil) => {}
                Some(Value::Boolean(b)) => cfg.encode_invalid_numbers = *b as u8,
                Some(Value::String(s)) => {
                    cfg.encode_invalid_numbers = match &*s.as_bytes() {
                        b"off" => 0,
                        b"on" => 1,
                        b"null" => 2,
                        _ => {
                            return Err(err(
                                "bad argument #1 to 'encode_invalid_numbers' (invalid option)",
                            ))
                        }
                    }
                }
                Some(v) => return Err(super::bad_arg(1, "encode_invalid_numbers", "string", v)),
            }
            Ok(match cfg.encode_invalid_numbers {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                _ => Value::String(lua.create_string("null")?),
            })
        })?,
    )?;
    let c = config;
    t.raw_set(
        "encode_sparse_array",
        super::func(lua, move |_, a: Variadic<Value>| {
            let mut cfg = c.lock();
            let mut convert = cfg.sparse_convert;
            bool_option(&a, "encode_sparse_array", &mut convert)?;
            cfg.sparse_convert = convert;
            let rest: Vec<Value> = a.iter().skip(1).cloned().collect();
            int_option(
                &rest,
                "encode_sparse_array",
                0,
                i32::MAX as usize,
                &mut cfg.sparse_ratio,
            )?;
            let rest: Vec<Value> = a.iter().skip(2).cloned().collect();
            int_option(
                &rest,
                "encode_sparse_array",
                0,
                i32::MAX as usize,
                &mut cfg.sparse_safe,
            )?;
            Ok((
                cfg.sparse_convert,
                cfg.sparse_ratio as f64,
                cfg.sparse_safe as f64,
            ))
        })?,
    )?;
    Ok(t)
}
