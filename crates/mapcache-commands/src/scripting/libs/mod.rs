//! The libraries Redis links into its Lua: `cjson`, `bit`, `cmsgpack`, `struct`,
//! written in Rust over mlua with the C libraries' behaviour (and error texts) as the
//! specification. A failing call raises a plain string error, as `luaL_error` from C
//! does: prefixed with the caller's position ([`func`]).

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, Value};

/// `luaL_where(L, 1)`: `chunk:line: ` of the Lua code that called the running C
/// function (empty when that is not Lua code).
pub(crate) fn where_(lua: &Lua) -> String {
    match lua.inspect_stack(1) {
        Some(d) => {
            let line = d.curr_line();
            let src = d.source();
            match src.short_src {
                Some(s) if line > 0 => format!("{s}:{line}: "),
                _ => String::new(),
            }
        }
        None => String::new(),
    }
}

/// A library function whose runtime errors carry the caller's position, as
/// `luaL_error` from C gives them.
pub(crate) fn func<A, R, F>(lua: &Lua, f: F) -> mlua::Result<Function>
where
    A: FromLuaMulti,
    R: IntoLuaMulti,
    F: Fn(&Lua, A) -> mlua::Result<R> + Send + 'static,
{
    lua.create_function(move |lua, a: A| {
        f(lua, a).map_err(|e| match e {
            mlua::Error::RuntimeError(m) => {
                mlua::Error::RuntimeError(format!("{}{m}", where_(lua)))
            }
            other => other,
        })
    })
}

/// C's `%.<prec>g` (glibc), for `prec` 1..=17.
pub(crate) fn fmt_g(d: f64, prec: usize) -> String {
    if d.is_nan() {
        return if d.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if d.is_infinite() {
        return if d < 0.0 { "-inf" } else { "inf" }.into();
    }
    if d == 0.0 {
        return if d.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let prec = prec.clamp(1, 17);
    let sci = format!("{:.*e}", prec - 1, d);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, d)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A number argument (`luaL_checknumber`): numbers, and strings that convert.
pub(crate) fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(n) => Some(*n as f64),
        Value::String(s) => {
            let b = s.as_bytes();
            let t = std::str::from_utf8(&b).ok()?.trim();
            if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
                return u64::from_str_radix(h, 16).ok().map(|n| n as f64);
            }
            t.parse::<f64>().ok()
        }
        _ => None,
    }
}

/// `bad argument #n to 'f' (number expected, got x)`.
pub(crate) fn bad_arg(n: usize, f: &str, expected: &str, got: &Value) -> mlua::Error {
    let got = match got {
        Value::Nil => "no value",
        v => v.type_name(),
    };
    mlua::Error::runtime(format!(
        "bad argument #{n} to '{f}' ({expected} expected, got {got})"
    ))
}

#[cfg(test)]
mod tests {
    use super::fmt_g;

    #[test]
    fn g_format_matches_c() {
        assert_eq!(fmt_g(1.0, 14), "1");
        assert_eq!(fmt_g(1.5, 14), "1.5");
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1e20, 14), "1e+20");
        assert_eq!(fmt_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(-2.5, 14), "-2.5");
        assert_eq!(fmt_g(100.0, 14), "100");
    }
}
