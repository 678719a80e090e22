//! Redis's `long double` arithmetic, bit for bit: INCRBYFLOAT and HINCRBYFLOAT.
//!
//! Redis on x86-64 computes these in C `long double`, the x87 80-bit extended format
//! (64-bit significand), parses with `strtold` (correctly rounded) and prints with
//! `"%.17Lf"` (exact, round half to even) before trimming trailing zeros. A result
//! therefore depends on the extra precision: `10.50 + 0.1` is `10.6`, not the
//! `10.59999999999999964` that f64 would give. [`LongDouble`] reproduces the format
//! with `rustc_apfloat`'s `X87DoubleExtended` and formats its exact value itself.

use rustc_apfloat::ieee::X87DoubleExtended;
use rustc_apfloat::{Float, Round, Status};

use crate::error::CmdError;

/// Redis's `MAX_LONG_DOUBLE_CHARS`: `string2ld` rejects inputs this long or longer.
const MAX_LONG_DOUBLE_CHARS: usize = 5 * 1024;

/// A C `long double` as Redis on x86-64 has it.
#[derive(Debug, Clone, Copy)]
pub struct LongDouble(X87DoubleExtended);

impl LongDouble {
    /// Zero: the value of a missing key or field.
    pub const ZERO: LongDouble = LongDouble(X87DoubleExtended::ZERO);

    /// Parses as Redis's `string2ld`: the whole input must be a number `strtold` reads
    /// (decimal, hexadecimal with optional `p` exponent, `inf`/`infinity` in any case,
    /// optional sign), no leading space, no NaN, no overflow to infinity and no
    /// underflow to zero. Infinity itself is accepted, as Redis does.
    pub fn parse(s: &[u8]) -> Option<LongDouble> {
        if s.is_empty() || s.len() >= MAX_LONG_DOUBLE_CHARS {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            let inf = X87DoubleExtended::INFINITY;
            return Some(LongDouble(if neg { -inf } else { inf }));
        }
        let mut text = String::with_capacity(s.len() + 3);
        if neg {
            text.push('-');
        }
        let is_hex = body.len() > 1 && body[0] == b'0' && matches!(body[1], b'x' | b'X');
        if is_hex {
            let rest = &body[2..];
            let mant_len = number_prefix(rest, |c| c.is_ascii_hexdigit())?;
            let exp_len = exponent(&rest[mant_len..], b'p')?;
            if mant_len + exp_len != rest.len() {
                return None;
            }
            text.push_str("0x");
            text.push_str(std::str::from_utf8(rest).ok()?);
            if exp_len == 0 {
                // strtold reads hexadecimal without an exponent; APFloat needs one.
                text.push_str("p0");
            }
        } else {
            let mant_len = number_prefix(body, |c| c.is_ascii_digit())?;
            let exp_len = exponent(&body[mant_len..], b'e')?;
            if mant_len + exp_len != body.len() {
                return None;
            }
            text.push_str(std::str::from_utf8(body).ok()?);
        }
        let parsed = X87DoubleExtended::from_str_r(&text, Round::NearestTiesToEven).ok()?;
        let v = parsed.value;
        // strtold sets ERANGE and Redis rejects: overflow to HUGE_VALL, underflow to zero.
        if v.is_nan()
            || v.is_infinite()
            || (v.is_zero() && parsed.status.contains(Status::UNDERFLOW))
        {
            return None;
        }
        Some(LongDouble(v))
    }

    pub fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    /// `self + other` rounded as the x87 unit does; `None` when the sum is NaN or
    /// infinite (`ERR increment would produce NaN or Infinity`).
    pub fn checked_add(self, other: LongDouble) -> Option<LongDouble> {
        let sum = self.0.add_r(other.0, Round::NearestTiesToEven).value;
        sum.is_finite().then_some(LongDouble(sum))
    }

    /// The text Redis stores and replies with (`ld2string` in `LD_STR_HUMAN` mode):
    /// `"%.17Lf"` with trailing zeros and a trailing `.` removed, `-0` printed as `0`,
    /// infinities as `inf`/`-inf`.
    pub fn to_human(self) -> Vec<u8> {
        let v = self.0;
        if v.is_infinite() {
            return if v.is_negative() {
                b"-inf".to_vec()
            } else {
                b"inf".to_vec()
            };
        }
        let bits = v.to_bits();
        let negative = (bits >> 79) & 1 == 1;
        let exp_field = ((bits >> 64) & 0x7fff) as i32;
        let sig = (bits & u128::from(u64::MAX)) as u64;
        let mut out = Vec::new();
        if negative {
            out.push(b'-');
        }
        if sig == 0 {
            out.push(b'0');
        } else {
            // value = sig * 2^e2 (a denormal's exponent field 0 means 1 - bias).
            let e2 = exp_field.max(1) - 16383 - 63;
            if e2 >= 0 {
                // An integer: no fraction digits to print (they would all be zero).
                push_big_decimal(&mut out, sig, e2 as u32);
            } else {
                // sig * 10^17 fits in 121 bits; scale down by 2^-e2 rounding half to even.
                let num = u128::from(sig) * 10u128.pow(17);
                let shift = (-e2) as u32;
                let q = if shift >= 128 {
                    0 // num < 2^121 < half of 2^shift: rounds to zero
                } else {
                    let q = num >> shift;
                    let rem = num & ((1u128 << shift) - 1);
                    let half = 1u128 << (shift - 1);
                    if rem > half || (rem == half && q & 1 == 1) {
                        q + 1
                    } else {
                        q
                    }
                };
                let digits = q.to_string();
                let digits = format!("{digits:0>18}");
                let (int_part, frac) = digits.split_at(digits.len() - 17);
                out.extend_from_slice(int_part.as_bytes());
                let frac = frac.trim_end_matches('0');
                if !frac.is_empty() {
                    out.push(b'.');
                    out.extend_from_slice(frac.as_bytes());
                }
            }
        }
        if out == b"-0" {
            out.remove(0);
        }
        out
    }
}

/// Length of the mantissa `digits* ('.' digits*)?` at the start of `s`, which must hold
/// at least one digit (`None` otherwise).
fn number_prefix(s: &[u8], digit: impl Fn(u8) -> bool) -> Option<usize> {
    let int_len = s.iter().take_while(|&&c| digit(c)).count();
    let mut len = int_len;
    let mut frac_len = 0;
    if s.get(len) == Some(&b'.') {
        frac_len = s[len + 1..].iter().take_while(|&&c| digit(c)).count();
        len += 1 + frac_len;
    }
    (int_len + frac_len > 0).then_some(len)
}

/// Length of an exponent `[marker] [+-]? digits+` at the start of `s`: 0 when there is
/// none, `None` when a marker is not followed by digits (strtold stops before it).
fn exponent(s: &[u8], marker: u8) -> Option<usize> {
    match s.first() {
        Some(c) if c.to_ascii_lowercase() == marker => {}
        _ => return Some(0),
    }
    let mut len = 1;
    if matches!(s.get(1), Some(b'+' | b'-')) {
        len += 1;
    }
    let digits = s[len..].iter().take_while(|c| c.is_ascii_digit()).count();
    (digits > 0).then_some(len + digits)
}

/// Appends the decimal digits of `sig << shift` (up to ~16400 bits).
fn push_big_decimal(out: &mut Vec<u8>, sig: u64, shift: u32) {
    // Little-endian base-2^32 limbs of sig << shift.
    let word_shift = (shift / 32) as usize;
    let bit_shift = shift % 32;
    let wide = u128::from(sig) << bit_shift;
    let mut limbs = vec![0u32; word_shift];
    limbs.extend([wide as u32, (wide >> 32) as u32, (wide >> 64) as u32]);
    while limbs.last() == Some(&0) {
        limbs.pop();
    }
    // Repeated division by 10^9 yields base-10^9 chunks, least significant first.
    let mut chunks = Vec::new();
    while !limbs.is_empty() {
        let mut rem = 0u64;
        for limb in limbs.iter_mut().rev() {
            let cur = (rem << 32) | u64::from(*limb);
            *limb = (cur / 1_000_000_000) as u32;
            rem = cur % 1_000_000_000;
        }
        chunks.push(rem as u32);
        while limbs.last() == Some(&0) {
            limbs.pop();
        }
    }
    let mut first = true;
    for chunk in chunks.iter().rev() {
        if first {
            out.extend_from_slice(chunk.to_string().as_bytes());
            first = false;
        } else {
            out.extend_from_slice(format!("{chunk:09}").as_bytes());
        }
    }
}

/// INCRBYFLOAT's arithmetic in Redis's order: the current value (`None` for a missing
/// key, which counts as 0) must be a valid float, then the increment; the sum must be
/// finite. Returns the text to store and reply with.
///
/// HINCRBYFLOAT checks in another order and words (Redis's `hincrbyfloatCommand`):
/// `LongDouble::parse(incr)` (else `ERR value is not a valid float`), then
/// `is_finite()` (else `ERR value is NaN or Infinity`), then the field's value
/// (`ERR hash value is not a float`; a missing field is [`LongDouble::ZERO`]), then
/// [`LongDouble::checked_add`] and [`LongDouble::to_human`].
pub fn incr_by_float(current: Option<&[u8]>, incr: &[u8]) -> Result<Vec<u8>, CmdError> {
    let value = match current {
        Some(text) => LongDouble::parse(text).ok_or(CmdError::NotFloat)?,
        None => LongDouble::ZERO,
    };
    let incr = LongDouble::parse(incr).ok_or(CmdError::NotFloat)?;
    let sum = value.checked_add(incr).ok_or(CmdError::Static(
        "ERR increment would produce NaN or Infinity",
    ))?;
    Ok(sum.to_human())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        match incr_by_float(Some(a.as_bytes()), b.as_bytes()) {
            Ok(v) => String::from_utf8(v).unwrap(),
            Err(e) => e.text().into_owned(),
        }
    }

    /// Every case checked against redis-server 7.0.15 (`SET k a; INCRBYFLOAT k b`).
    #[test]
    fn matches_redis() {
        let cases = [
            ("10.50", "0.1", "10.6"),
            ("3.0e3", "1.5", "3001.5"),
            ("5.0e3", "0", "5000"),
            ("0", "0", "0"),
            ("1.000003814697265625", "0", "1.00000381469726562"),
            ("1.000011444091796875", "0", "1.00001144409179688"),
            ("0.1", "0.2", "0.3"),
            ("1", "-1", "0"),
            ("-1e-20", "0", "0"),
            ("1e-20", "0", "0"),
            ("1e-4950", "0", "0"),
            ("0e-99999", "1", "1"),
            ("0x10", "0", "16"),
            ("0x1p3", "0", "8"),
            ("0x1.8p1", "0", "3"),
            ("0X.8p1", "0", "1"),
            (".5", "0", "0.5"),
            ("5.", "0", "5"),
            ("+5", "0", "5"),
            (
                "123456789012345678901234567890",
                "0",
                "123456789012345678899921813504",
            ),
            ("0.1", "0.7", "0.8"),
            ("17.5", "0", "17.5"),
            ("1e20", "0.1", "100000000000000000000"),
            ("9223372036854775807", "1", "9223372036854775808"),
            ("-0.0", "0", "0"),
            ("1.0000000000000000001", "0", "1"),
            ("1.000000000000000005", "0", "1"),
            ("-2.5", "0.25", "-2.25"),
        ];
        for (a, b, want) in cases {
            assert_eq!(incr(a, b), want, "{a} + {b}");
        }
        assert_eq!(
            incr("1e308", "1e308"),
            "199999999999999999993371759311691291321120199694831134415594095989843469737676123744200253843777\
             078640893494450108026446304269499187921167194841628860392837535918200039206381557326219209014213\
             335878306791577877829121087126122536729803237260434173178506889763247582601711514636284849020905\
             456510092687857156096"
        );
        let big = incr("1e4932", "0");
        assert!(big.starts_with("1000000000000000000006018949387963891323837774254533114773785041352533019486608722407533"));
        assert!(big.ends_with("418113791886622720"));
        assert_eq!(big.len(), 4933);
    }

    #[test]
    fn rejects_what_redis_rejects() {
        let not_float = "ERR value is not a valid float";
        let nan_inf = "ERR increment would produce NaN or Infinity";
        for (a, b, want) in [
            ("1.2e4932", "0", not_float),
            ("1e-5000", "0", not_float),
            ("inf", "0", nan_inf),
            ("0", "inf", nan_inf),
            ("-inf", "1", nan_inf),
            ("infinity", "1", nan_inf),
            ("INF", "1", nan_inf),
            ("nan", "1", not_float),
            ("0x", "0", not_float),
            ("1e", "0", not_float),
            ("1e+", "0", not_float),
            (".", "0", not_float),
            (" 5", "0", not_float),
            ("5 ", "0", not_float),
            ("", "0", not_float),
            ("abc", "0", not_float),
            ("1", "abc", not_float),
            ("1", "1e", not_float),
            ("1", "", not_float),
            ("1\0abc", "1", not_float),
            ("\0", "1", not_float),
            ("0x1p", "0", not_float),
            ("1..5", "0", not_float),
            ("--1", "0", not_float),
        ] {
            assert_eq!(incr(a, b), want, "{a:?} + {b:?}");
        }
        assert_eq!(incr_by_float(None, b"2.5"), Ok(b"2.5".to_vec()));
        let long = format!("1.{}", "0".repeat(MAX_LONG_DOUBLE_CHARS - 2));
        assert!(LongDouble::parse(long.as_bytes()).is_none());
        assert_eq!(
            LongDouble::parse(&long.as_bytes()[1..]).map(LongDouble::to_human),
            Some(b"0".to_vec())
        );
        assert_eq!(
            LongDouble::parse(&long.as_bytes()[..long.len() - 1]).map(LongDouble::to_human),
            Some(b"1".to_vec())
        );
    }
}
