//! `struct`: Roberto Ierusalimschy's struct library as Redis ships it: `pack`,
//! `unpack` and `size` over the formats `<` `>` `!` `x` `b` `B` `h` `H` `l` `L` `T`
//! `i[n]` `I[n]` `f` `d` `s` `c[n]`.

use mlua::{Lua, Table, Value, Variadic};

use super::to_number;

fn err(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

struct Fmt<'a> {
    f: &'a [u8],
    i: usize,
    little: bool,
    align: usize,
}

enum Item {
    Int { size: usize, signed: bool },
    Float,
    Double,
    Pad,
    Str,
    Chars(usize),
}

impl Fmt<'_> {
    fn num(&mut self, default: usize) -> usize {
        let start = self.i;
        while self.i < self.f.len() && self.f[self.i].is_ascii_digit() {
            self.i += 1;
        }
        std::str::from_utf8(&self.f[start..self.i])
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default)
    }

    /// The next item, handling the endianness/alignment options in between.
    fn next(&mut self) -> mlua::Result<Option<Item>> {
        loop {
            let Some(&c) = self.f.get(self.i) else {
                return Ok(None);
            };
            self.i += 1;
            let item = match c {
                b' ' => continue,
                b'<' => {
                    self.little = true;
                    continue;
                }
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'=' => {
                    self.little = cfg!(target_endian = "little");
                    continue;
                }
                b'!' => {
                    self.align = self.num(8);
                    continue;
                }
                b'x' => Item::Pad,
                b'b' => Item::Int {
                    size: 1,
                    signed: true,
                },
                b'B' => Item::Int {
                    size: 1,
                    signed: false,
                },
                b'h' => Item::Int {
                    size: 2,
                    signed: true,
                },
                b'H' => Item::Int {
                    size: 2,
                    signed: false,
                },
                b'l' => Item::Int {
                    size: 8,
                    signed: true,
                },
                b'L' => Item::Int {
                    size: 8,
                    signed: false,
                },
                b'T' => Item::Int {
                    size: 8,
                    signed: false,
                },
                b'i' => Item::Int {
                    size: self.num(4),
                    signed: true,
                },
                b'I' => Item::Int {
                    size: self.num(4),
                    signed: false,
                },
                b'f' => Item::Float,
                b'd' => Item::Double,
                b's' => Item::Str,
                b'c' => Item::Chars(self.num(1)),
                other => return Err(err(format!("invalid format option '{}'", other as char))),
            };
            if let Item::Int { size, .. } = item {
                if size == 0 || size > 8 {
                    return Err(err(format!(
                        "integral size {size} is larger than limit of 8"
                    )));
                }
            }
            return Ok(Some(item));
        }
    }

    fn padding(&self, pos: usize, size: usize) -> usize {
        let a = size.min(self.align);
        if a <= 1 || !a.is_power_of_two() {
            return 0;
        }
        (a - (pos & (a - 1))) & (a - 1)
    }
}

fn int_bytes(v: u64, size: usize, little: bool) -> Vec<u8> {
    let le = v.to_le_bytes();
    let mut b = le[..size].to_vec();
    if !little {
        b.reverse();
    }
    b
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        super::func(lua, |lua, a: Variadic<Value>| {
            let Some(Value::String(f)) = a.first() else {
                return Err(super::bad_arg(
                    1,
                    "pack",
                    "string",
                    a.first().unwrap_or(&Value::Nil),
                ));
            };
            let f = f.as_bytes().to_vec();
            let mut fmt = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut out = Vec::new();
            let mut arg = 1;
            while let Some(item) = fmt.next()? {
                let v = a.get(arg).cloned().unwrap_or(Value::Nil);
                let size = match item {
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    _ => 1,
                };
                let pad = fmt.padding(out.len(), size);
                out.extend(std::iter::repeat_n(0u8, pad));
                match item {
                    Item::Pad => out.push(0),
                    Item::Int { size, .. } => {
                        let n = to_number(&v)
                            .ok_or_else(|| super::bad_arg(arg + 1, "pack", "number", &v))?;
                        let n = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                        out.extend(int_bytes(n, size, fmt.little));
                        arg += 1;
                    }
                    Item::Float => {
                        let n = to_number(&v)
                            .ok_or_else(|| super::bad_arg(arg + 1, "pack", "number", &v))?;
                        let mut b = (n as f32).to_le_bytes().to_vec();
                        if !fmt.little {
                            b.reverse();
                        }
                        out.extend(b);
                        arg += 1;
                    }
                    Item::Double => {
                        let n = to_number(&v)
                            .ok_or_else(|| super::bad_arg(arg + 1, "pack", "number", &v))?;
                        let mut b = n.to_le_bytes().to_vec();
                        if !fmt.little {
                            b.reverse();
                        }
                        out.extend(b);
                        arg += 1;
                    }
                    Item::Str | Item::Chars(_) => {
                        let s = match &v {
                            Value::String(s) => s.as_bytes().to_vec(),
                            v => lua
                                .coerce_string(v.clone())?
                                .map(|s| s.as_bytes().to_vec())
                                .ok_or_else(|| super::bad_arg(arg + 1, "pack", "string", v))?,
                        };
                        match item {
                            Item::Chars(n) if n > 0 => {
                                if s.len() < n {
                                    return Err(err(format!(
                                        "bad argument #{} to 'pack' (string too short)",
                                        arg + 1
                                    )));
                                }
                                out.extend_from_slice(&s[..n]);
                            }
                            Item::Str => {
                                out.extend_from_slice(&s);
                                out.push(0);
                            }
                            _ => out.extend_from_slice(&s),
                        }
                        arg += 1;
                    }
                }
            }
            lua.create_string(&out)
        })?,
    )?;
    t.raw_set(
        "unpack",
        super::func(lua, |lua, a: Variadic<Value>| {
            let (Some(Value::String(f)), Some(Value::String(data))) = (a.first(), a.get(1)) else {
                return Err(err("bad argument to 'unpack' (string expected)"));
            };
            let f = f.as_bytes().to_vec();
            let data = data.as_bytes().to_vec();
            let mut pos = match a.get(2).and_then(to_number) {
                Some(n) if n >= 1.0 => n as usize - 1,
                Some(_) => {
                    return Err(err(
                        "bad argument #3 to 'unpack' (offset must be 1 or greater)",
                    ))
                }
                None => 0,
            };
            let mut fmt = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut out: Vec<Value> = Vec::new();
            let short = || err("bad argument #2 to 'unpack' (data string too short)");
            while let Some(item) = fmt.next()? {
                let size = match item {
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    _ => 1,
                };
                pos += fmt.padding(pos, size);
                match item {
                    Item::Pad => pos += 1,
                    Item::Int { size, signed } => {
                        let b = data.get(pos..pos + size).ok_or_else(short)?;
                        let mut v: u64 = 0;
                        if fmt.little {
                            for &x in b.iter().rev() {
                                v = (v << 8) | x as u64;
                            }
                        } else {
                            for &x in b {
                                v = (v << 8) | x as u64;
                            }
                        }
                        let n = if signed && size < 8 && v & (1 << (size * 8 - 1)) != 0 {
                            (v as i64 - (1i64 << (size * 8))) as f64
                        } else if signed {
                            v as i64 as f64
                        } else {
                            v as f64
                        };
                        out.push(Value::Number(n));
                        pos += size;
                    }
                    Item::Float | Item::Double => {
                        let b = data.get(pos..pos + size).ok_or_else(short)?;
                        let mut b = b.to_vec();
                        if !fmt.little {
                            b.reverse();
                        }
                        let n = if size == 4 {
                            f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64
                        } else {
                            f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
                        };
                        out.push(Value::Number(n));
                        pos += size;
                    }
                    Item::Chars(n) => {
                        let n = if n == 0 {
                            match out.pop() {
                                Some(Value::Number(k)) => k as usize,
                                _ => return Err(err("format 'c0' needs a previous size")),
                            }
                        } else {
                            n
                        };
                        let b = data.get(pos..pos + n).ok_or_else(short)?;
                        out.push(Value::String(lua.create_string(b)?));
                        pos += n;
                    }
                    Item::Str => {
                        let rest = data.get(pos..).ok_or_else(short)?;
                        let end = rest
                            .iter()
                            .position(|&c| c == 0)
                            .ok_or_else(|| err("unfinished string in data"))?;
                        out.push(Value::String(lua.create_string(&rest[..end])?));
                        pos += end + 1;
                    }
                }
            }
            out.push(Value::Number((pos + 1) as f64));
            Ok(Variadic::from_iter(out))
        })?,
    )?;
    t.raw_set(
        "size",
        super::func(lua, |_, a: Variadic<Value>| {
            let Some(Value::String(f)) = a.first() else {
                return Err(err("bad argument #1 to 'size' (string expected)"));
            };
            let f = f.as_bytes().to_vec();
            let mut fmt = Fmt {
                f: &f,
                i: 0,
                little: true,
                align: 1,
            };
            let mut pos = 0usize;
            while let Some(item) = fmt.next()? {
                let size = match item {
                    Item::Int { size, .. } => size,
                    Item::Float => 4,
                    Item::Double => 8,
                    Item::Chars(n) => n,
                    Item::Pad => 1,
                    Item::Str => return Err(err("options 's' and 'c0' have undefined sizes")),
                };
                pos += fmt.padding(pos, size) + size;
            }
            Ok(pos as f64)
        })?,
    )?;
    Ok(t)
}
