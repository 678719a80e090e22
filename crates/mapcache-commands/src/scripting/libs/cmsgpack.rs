//! `cmsgpack`: lua-cmsgpack as Redis ships it: `pack(...)` (each argument in turn;
//! integers in the smallest encoding, a number that survives a round trip through a
//! float as float32, strings as str8/16/32, tables as arrays when their keys are
//! exactly 1..n, nesting past 16 as nil), `unpack(s)` (every value in `s`),
//! `unpack_one(s, offset)` and `unpack_limit(s, n, offset)`.

use mlua::{Lua, Table, Value, Variadic};

const MAX_NESTING: usize = 16;

fn err(msg: &str) -> mlua::Error {
    mlua::Error::runtime(msg.to_string())
}

fn int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn number(out: &mut Vec<u8>, d: f64) {
    // IS_INT64_EQUIVALENT: no fractional part and within int64.
    if d.is_finite() && d.fract() == 0.0 && (-9.2e18..=9.2e18).contains(&d) {
        return int(out, d as i64);
    }
    let f = d as f32;
    if f as f64 == d || (d.is_nan() && f.is_nan()) {
        out.push(0xca);
        out.extend_from_slice(&f.to_bits().to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&d.to_bits().to_be_bytes());
    }
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if len < fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::String(s) => {
            let b = s.as_bytes();
            let len = b.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&b);
        }
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Number(n) => number(out, *n),
        Value::Integer(n) => int(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            let mut count = 0usize;
            let mut max = 0f64;
            let mut array = true;
            for pair in t.pairs::<Value, Value>() {
                let (k, _) = pair?;
                let n = match k {
                    Value::Number(n) => n,
                    Value::Integer(n) => n as f64,
                    _ => {
                        array = false;
                        break;
                    }
                };
                if n <= 0.0 || n.fract() != 0.0 {
                    array = false;
                    break;
                }
                max = max.max(n);
                count += 1;
            }
            if array && max as usize == count {
                header(out, count, 0x90, 16, 0xdc, 0xdd);
                for i in 1..=count {
                    pack_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            } else {
                // Counted, then walked again: holding every pair at once would exceed
                // the Lua stack slots a C function may use (8000 in Lua 5.1).
                let mut n = 0usize;
                for pair in t.pairs::<Value, Value>() {
                    pair?;
                    n += 1;
                }
                header(out, n, 0x80, 16, 0xde, 0xdf);
                for pair in t.pairs::<Value, Value>() {
                    let (k, v) = pair?;
                    pack_value(out, &k, level + 1)?;
                    pack_value(out, &v, level + 1)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

struct Reader<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> mlua::Result<&[u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.s.len());
        let Some(end) = end else {
            return Err(err("Missing bytes in input."));
        };
        let b = &self.s[self.pos..end];
        self.pos = end;
        Ok(b)
    }
    fn be(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let t = self.be(1)? as u8;
        Ok(match t {
            0x00..=0x7f => Value::Number(t as f64),
            0xe0..=0xff => Value::Number(t as i8 as f64),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.be(1)? as f64),
            0xcd => Value::Number(self.be(2)? as f64),
            0xce => Value::Number(self.be(4)? as f64),
            0xcf => Value::Number(self.be(8)? as f64),
            0xd0 => Value::Number(self.be(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.be(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.be(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.be(8)? as i64 as f64),
            0xca => Value::Number(f32::from_bits(self.be(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.be(8)?)),
            0xa0..=0xbf => self.str(lua, (t & 0x1f) as usize)?,
            0xd9 | 0xc4 => {
                let n = self.be(1)? as usize;
                self.str(lua, n)?
            }
            0xda | 0xc5 => {
                let n = self.be(2)? as usize;
                self.str(lua, n)?
            }
            0xdb | 0xc6 => {
                let n = self.be(4)? as usize;
                self.str(lua, n)?
            }
            0x90..=0x9f => self.array(lua, (t & 0x0f) as usize)?,
            0xdc => {
                let n = self.be(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.be(4)? as usize;
                self.array(lua, n)?
            }
            0x80..=0x8f => self.map(lua, (t & 0x0f) as usize)?,
            0xde => {
                let n = self.be(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.be(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(err("Bad data format in input.")),
        })
    }
    fn str(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let b = self.take(n)?.to_vec();
        Ok(Value::String(lua.create_string(b)?))
    }
    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }
    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if k != Value::Nil {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

fn opt_int(v: Option<&Value>) -> mlua::Result<i64> {
    match v {
        None | Some(Value::Nil) => Ok(0),
        Some(v) => super::to_number(v)
            .map(|n| n as i64)
            .ok_or_else(|| err("bad argument (number expected)")),
    }
}

/// lua-cmsgpack's `mp_unpack_full`: up to `limit` values from byte `offset` (both 0:
/// every value, and no offset in the answer); otherwise the next offset (-1 at the
/// end) comes first.
fn unpack_full(lua: &Lua, a: &[Value], limit: i64, offset: i64) -> mlua::Result<Variadic<Value>> {
    let s = match a.first() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        v => {
            return Err(super::bad_arg(
                1,
                "unpack",
                "string",
                v.unwrap_or(&Value::Nil),
            ))
        }
    };
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(err(&format!(
            "Invalid request to unpack with offset of {offset} and limit of {}.",
            s.len()
        )));
    }
    if offset as usize > s.len() {
        return Err(err(&format!(
            "Start offset {offset} greater than input length {}.",
            s.len()
        )));
    }
    let limit = if decode_all { i64::MAX } else { limit };
    let mut r = Reader {
        s: &s,
        pos: offset as usize,
    };
    let mut vals = Vec::new();
    let mut n = 0;
    while r.pos < s.len() && n < limit {
        vals.push(r.value(lua)?);
        n += 1;
    }
    if !decode_all {
        let next = if r.pos >= s.len() { -1.0 } else { r.pos as f64 };
        vals.insert(0, Value::Number(next));
    }
    Ok(Variadic::from_iter(vals))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        super::func(lua, |lua, a: Variadic<Value>| {
            if a.is_empty() {
                return Err(err(
                    "bad argument #0 to 'pack' (MessagePack pack needs input.)",
                ));
            }
            let mut out = Vec::new();
            for v in a.iter() {
                pack_value(&mut out, v, 0)?;
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        super::func(lua, |lua, a: Variadic<Value>| unpack_full(lua, &a, 0, 0))?,
    )?;
    t.raw_set(
        "unpack_one",
        super::func(lua, |lua, a: Variadic<Value>| {
            let offset = opt_int(a.get(1))?;
            unpack_full(lua, &a, 1, offset)
        })?,
    )?;
    t.raw_set(
        "unpack_limit",
        super::func(lua, |lua, a: Variadic<Value>| {
            let limit = match a.get(1).and_then(super::to_number) {
                Some(n) => n as i64,
                None => {
                    return Err(super::bad_arg(
                        2,
                        "unpack_limit",
                        "number",
                        a.get(1).unwrap_or(&Value::Nil),
                    ))
                }
            };
            let offset = opt_int(a.get(2))?;
            unpack_full(lua, &a, limit, offset)
        })?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}
