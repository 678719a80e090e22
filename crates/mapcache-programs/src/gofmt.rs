//! Values printed as Go's `fmt` prints them with `%v`, which is what map-cache puts
//! into templates (`"count: ${{n}}"`) and PRINT messages.
//!
//! - numbers are float64: `strconv.FormatFloat(f, 'g', -1, 64)`, the shortest digits
//!   that round-trip, in exponent form when the exponent is below -4 or at least 6
//!   (`1e+06`, `1.5e-05`, `123456`), with at least two exponent digits;
//! - `true`/`false`, `<nil>`, strings as their bytes;
//! - objects as `map[k:v ...]` with the keys sorted (Go sorts map keys when printing);
//! - arrays as `[a b ...]`.

use mapcache_store::{Field, Value};

/// Appends `value` as `%v` prints it.
pub fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_float(*n, out),
        Value::Str(s) => out.push_str(&String::from_utf8_lossy(s)),
        Value::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_value(&item.cow(), out);
            }
            out.push(']');
        }
        Value::Hash(hash) => {
            let mut fields: Vec<(&[u8], Field<'_>)> = hash.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push_str("map[");
            for (i, (k, v)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(&String::from_utf8_lossy(k));
                out.push(':');
                write_value(&v.cow(), out);
            }
            out.push(']');
        }
    }
}

/// `value` as `%v` prints it.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// Appends a float64 as Go's `%v` (`strconv` `'g'`, shortest) prints it.
pub fn write_float(f: f64, out: &mut String) {
    if f.is_nan() {
        out.push_str("NaN");
        return;
    }
    if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
        return;
    }
    // Rust's `{:e}` gives the shortest round-trip digits: `-1.2345e6`, `0e0`.
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        // Fixed notation; Rust's Display is the shortest round-trip text and never
        // uses an exponent.
        out.push_str(&format!("{f}"));
    } else {
        out.push_str(mantissa);
        out.push('e');
        out.push(if exp < 0 { '-' } else { '+' });
        let digits = exp.unsigned_abs();
        if digits < 10 {
            out.push('0');
        }
        out.push_str(&digits.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mapcache_store::Hash;

    fn float(f: f64) -> String {
        let mut s = String::new();
        write_float(f, &mut s);
        s
    }

    #[test]
    fn floats_print_like_go_percent_v() {
        // Expected texts are Go's `fmt.Sprintf("%v", f)`.
        let table: &[(f64, &str)] = &[
            (0.0, "0"),
            (-0.0, "-0"),
            (1.0, "1"),
            (-3.0, "-3"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (123456.0, "123456"),
            (999999.0, "999999"),
            (1e6, "1e+06"),
            (1234567.0, "1.234567e+06"),
            (123456789.0, "1.23456789e+08"),
            (1e21, "1e+21"),
            (1e100, "1e+100"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.5e-7, "1.5e-07"),
            (-2.5e-300, "-2.5e-300"),
            (0.30000000000000004, "0.30000000000000004"),
            (f64::INFINITY, "+Inf"),
            (f64::NEG_INFINITY, "-Inf"),
            (f64::NAN, "NaN"),
        ];
        for (f, expected) in table {
            assert_eq!(float(*f), *expected, "{f:?}");
        }
    }

    #[test]
    fn containers_print_like_go() {
        let mut h = Hash::new();
        h.insert(b"b", Value::List([Value::Number(1.0), Value::Null].into()));
        h.insert(b"a", Value::string(b"x y"));
        assert_eq!(to_string(&Value::hash(h)), "map[a:x y b:[1 <nil>]]");
        assert_eq!(to_string(&Value::new_list()), "[]");
        assert_eq!(to_string(&Value::new_hash()), "map[]");
        assert_eq!(to_string(&Value::Bool(true)), "true");
        assert_eq!(to_string(&Value::Null), "<nil>");
    }
}
