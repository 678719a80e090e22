//! `bit`: LuaBitOp 1.0.2 as Redis ships it. Numbers are normalised to signed 32-bit
//! integers the way LuaBitOp does it (adding 2^52+2^51 and keeping the low word).

use mlua::{Lua, Table, Value, Variadic};

use super::{bad_arg, to_number};

/// LuaBitOp's `barg`: the low 32 bits of `n + 2^52 + 2^51`.
fn tobit(n: f64) -> i32 {
    let b = n + 6_755_399_441_055_744.0;
    b.to_bits() as u32 as i32
}

fn arg(a: &[Value], i: usize, f: &str) -> mlua::Result<i32> {
    let v = a.get(i).cloned().unwrap_or(Value::Nil);
    to_number(&v)
        .map(tobit)
        .ok_or_else(|| bad_arg(i + 1, f, "number", &v))
}

pub fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        super::func(lua, |_, a: Variadic<Value>| Ok(arg(&a, 0, "tobit")? as f64))?,
    )?;
    t.raw_set(
        "bnot",
        super::func(lua, |_, a: Variadic<Value>| Ok(!arg(&a, 0, "bnot")? as f64))?,
    )?;
    for (name, op) in [
        ("band", (|x, y| x & y) as fn(i32, i32) -> i32),
        ("bor", |x, y| x | y),
        ("bxor", |x, y| x ^ y),
    ] {
        t.raw_set(
            name,
            super::func(lua, move |_, a: Variadic<Value>| {
                let mut acc = arg(&a, 0, name)?;
                for i in 1..a.len() {
                    acc = op(acc, arg(&a, i, name)?);
                }
                Ok(acc as f64)
            })?,
        )?;
    }
    for (name, op) in [
        (
            "lshift",
            (|x: i32, n: u32| ((x as u32) << n) as i32) as fn(i32, u32) -> i32,
        ),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ] {
        t.raw_set(
            name,
            super::func(lua, move |_, a: Variadic<Value>| {
                let x = arg(&a, 0, name)?;
                let n = (arg(&a, 1, name)? as u32) & 31;
                Ok(op(x, n) as f64)
            })?,
        )?;
    }
    t.raw_set(
        "bswap",
        super::func(lua, |_, a: Variadic<Value>| {
            Ok(arg(&a, 0, "bswap")?.swap_bytes() as f64)
        })?,
    )?;
    t.raw_set(
        "tohex",
        super::func(lua, |_, a: Variadic<Value>| {
            let x = arg(&a, 0, "tohex")? as u32;
            let mut n = match a.get(1) {
                None | Some(Value::Nil) => 8,
                Some(_) => arg(&a, 1, "tohex")?,
            };
            let upper = n < 0;
            if upper {
                n = -n;
            }
            let n = n.clamp(0, 8) as usize;
            let s = if upper {
                format!("{x:08X}")
            } else {
                format!("{x:08x}")
            };
            Ok(s[8 - n..].to_string())
        })?,
    )?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::tobit;

    #[test]
    fn tobit_wraps_like_luabitop() {
        assert_eq!(tobit(0xffff_ffffu32 as f64), -1);
        assert_eq!(tobit(2f64.powi(32) + 1.0), 1);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(1.5), 2); // round half to even
        assert_eq!(tobit(2.5), 2);
    }
}
