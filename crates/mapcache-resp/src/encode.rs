//! Reply encoders. Each function appends one reply to a [`BytesMut`], reserving
//! once and formatting numbers with `itoa` on the stack: no temporary allocation.
//!
//! Version-dependent encoders downgrade RESP3-only types for RESP2 clients the
//! way Redis 7.0 does.

use bytes::{BufMut, BytesMut};

use crate::{Frame, ProtocolError, Version};

#[inline]
fn header(buf: &mut BytesMut, prefix: u8, n: impl itoa::Integer, extra: usize) {
    let mut b = itoa::Buffer::new();
    let s = b.format(n).as_bytes();
    buf.reserve(1 + s.len() + 2 + extra);
    buf.put_u8(prefix);
    buf.extend_from_slice(s);
    buf.extend_from_slice(b"\r\n");
}

/// Appends `prefix`, `s` with every `\r`/`\n` turned into a space, and `\r\n`.
#[inline]
fn line(buf: &mut BytesMut, prefix: u8, s: &[u8]) {
    buf.reserve(s.len() + 3);
    buf.put_u8(prefix);
    let start = buf.len();
    buf.extend_from_slice(s);
    for c in &mut buf[start..] {
        if *c == b'\r' || *c == b'\n' {
            *c = b' ';
        }
    }
    buf.extend_from_slice(b"\r\n");
}

/// `+s\r\n`. Any `\r`/`\n` inside `s` becomes a space so the reply stays one line.
pub fn simple(buf: &mut BytesMut, s: &[u8]) {
    line(buf, b'+', s);
}

/// `-msg\r\n`; `msg` is the full text, e.g. `b"ERR syntax error"`.
///
/// As Redis's `addReplyErrorFormat`: `\r`/`\n` at either end are trimmed, and any
/// inside become spaces, so the reply stays one line.
pub fn error(buf: &mut BytesMut, msg: &[u8]) {
    let is_nl = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = msg.iter().position(|c| !is_nl(c)).unwrap_or(msg.len());
    let end = msg.iter().rposition(|c| !is_nl(c)).map_or(start, |i| i + 1);
    line(buf, b'-', &msg[start..end]);
}

/// `-ERR <message>\r\n` for a protocol error, byte for byte as Redis 7.0 writes it
/// (see [`ProtocolError::write_wire_message`]).
pub fn protocol_error(buf: &mut BytesMut, e: &ProtocolError) {
    buf.extend_from_slice(b"-ERR ");
    e.write_wire_message(buf);
    buf.extend_from_slice(b"\r\n");
}

/// `:n\r\n`
pub fn integer(buf: &mut BytesMut, n: i64) {
    header(buf, b':', n, 0);
}

/// `$len\r\ndata\r\n` (binary safe).
pub fn bulk(buf: &mut BytesMut, data: &[u8]) {
    header(buf, b'$', data.len(), data.len() + 2);
    buf.extend_from_slice(data);
    buf.extend_from_slice(b"\r\n");
}

/// A null reply: RESP2 `$-1\r\n` (null bulk), RESP3 `_\r\n`.
pub fn null(buf: &mut BytesMut, v: Version) {
    buf.extend_from_slice(match v {
        Version::Resp2 => b"$-1\r\n",
        Version::Resp3 => b"_\r\n",
    });
}

/// A null array: RESP2 `*-1\r\n`, RESP3 `_\r\n`.
pub fn null_array(buf: &mut BytesMut, v: Version) {
    buf.extend_from_slice(match v {
        Version::Resp2 => b"*-1\r\n",
        Version::Resp3 => b"_\r\n",
    });
}

/// `*n\r\n`
pub fn array_len(buf: &mut BytesMut, n: usize) {
    header(buf, b'*', n, 0);
}

/// RESP3 `%pairs\r\n`; RESP2 `*{2*pairs}\r\n`.
pub fn map_len(buf: &mut BytesMut, v: Version, pairs: usize) {
    match v {
        Version::Resp2 => header(buf, b'*', pairs.saturating_mul(2), 0),
        Version::Resp3 => header(buf, b'%', pairs, 0),
    }
}

/// RESP3 `~n\r\n`; RESP2 `*n\r\n`.
pub fn set_len(buf: &mut BytesMut, v: Version, n: usize) {
    match v {
        Version::Resp2 => header(buf, b'*', n, 0),
        Version::Resp3 => header(buf, b'~', n, 0),
    }
}

/// RESP3 `>n\r\n`; RESP2 `*n\r\n`.
pub fn push_len(buf: &mut BytesMut, v: Version, n: usize) {
    match v {
        Version::Resp2 => header(buf, b'*', n, 0),
        Version::Resp3 => header(buf, b'>', n, 0),
    }
}

/// A `fmt::Write` sink over a stack buffer.
struct StackBuf {
    bytes: [u8; 40],
    len: usize,
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.bytes.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

impl StackBuf {
    fn new() -> Self {
        StackBuf {
            bytes: [0; 40],
            len: 0,
        }
    }
    fn push(&mut self, c: u8) {
        if let Some(slot) = self.bytes.get_mut(self.len) {
            *slot = c;
            self.len += 1;
        }
    }
    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// C's `printf("%.17g", d)` (glibc), as Redis 7.0's `addReplyDouble` uses.
fn format_g17(d: f64) -> StackBuf {
    use std::fmt::Write as _;
    let mut out = StackBuf::new();
    if d.is_sign_negative() {
        out.push(b'-');
    }
    if d.is_nan() {
        out.bytes[out.len..out.len + 3].copy_from_slice(b"nan");
        out.len += 3;
        return out;
    }
    if d.is_infinite() {
        out.bytes[out.len..out.len + 3].copy_from_slice(b"inf");
        out.len += 3;
        return out;
    }
    // 17 significant digits, correctly rounded (as glibc): "d.dddddddddddddddde[-]X".
    let mut sci = StackBuf::new();
    let _ = write!(sci, "{:.16e}", d.abs());
    let s = sci.as_slice();
    let e_pos = s.iter().position(|&c| c == b'e').unwrap_or(s.len());
    let mut digits = [b'0'; 17];
    digits[0] = s.first().copied().unwrap_or(b'0');
    for (dst, &src) in digits[1..].iter_mut().zip(s.get(2..e_pos).unwrap_or(&[])) {
        *dst = src;
    }
    let exp: i32 = std::str::from_utf8(s.get(e_pos + 1..).unwrap_or(b"0"))
        .ok()
        .and_then(|e| e.parse().ok())
        .unwrap_or(0);
    // %g drops trailing zeros (and the point when nothing follows it).
    let mut ndig = 17;
    while ndig > 1 && digits[ndig - 1] == b'0' {
        ndig -= 1;
    }
    if d == 0.0 {
        out.push(b'0');
    } else if !(-4..17).contains(&exp) {
        out.push(digits[0]);
        if ndig > 1 {
            out.push(b'.');
            for &c in &digits[1..ndig] {
                out.push(c);
            }
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let a = exp.unsigned_abs();
        if a < 10 {
            out.push(b'0');
        }
        let _ = write!(out, "{a}");
    } else if exp >= 0 {
        let int_digits = exp as usize + 1;
        for &c in &digits[..int_digits] {
            out.push(c);
        }
        if ndig > int_digits {
            out.push(b'.');
            for &c in &digits[int_digits..ndig] {
                out.push(c);
            }
        }
    } else {
        out.push(b'0');
        out.push(b'.');
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        for &c in &digits[..ndig] {
            out.push(c);
        }
    }
    out
}

/// RESP3 `,<repr>\r\n`; RESP2 a bulk string of the repr. The repr is exactly
/// Redis 7.0's: `inf`, `-inf`, otherwise C `%.17g` (`1`, `1.5`, `0.10000000000000001`,
/// `1e+20`, `nan`/`-nan`).
pub fn double(buf: &mut BytesMut, v: Version, d: f64) {
    let repr = format_g17(d);
    let repr = repr.as_slice();
    match v {
        Version::Resp2 => bulk(buf, repr),
        Version::Resp3 => {
            buf.reserve(repr.len() + 3);
            buf.put_u8(b',');
            buf.extend_from_slice(repr);
            buf.extend_from_slice(b"\r\n");
        }
    }
}

/// RESP3 `#t\r\n`/`#f\r\n`; RESP2 `:1\r\n`/`:0\r\n`.
pub fn boolean(buf: &mut BytesMut, v: Version, b: bool) {
    buf.extend_from_slice(match (v, b) {
        (Version::Resp2, true) => b":1\r\n",
        (Version::Resp2, false) => b":0\r\n",
        (Version::Resp3, true) => b"#t\r\n",
        (Version::Resp3, false) => b"#f\r\n",
    });
}

/// RESP3 `(digits\r\n`; RESP2 a bulk string of the digits.
pub fn big_number(buf: &mut BytesMut, v: Version, digits: &[u8]) {
    match v {
        Version::Resp2 => bulk(buf, digits),
        Version::Resp3 => line(buf, b'(', digits),
    }
}

/// RESP3 `=len\r\nfmt:text\r\n`; RESP2 a bulk string of `text`.
pub fn verbatim(buf: &mut BytesMut, v: Version, format: &[u8; 3], text: &[u8]) {
    match v {
        Version::Resp2 => bulk(buf, text),
        Version::Resp3 => {
            header(buf, b'=', text.len() + 4, text.len() + 6);
            buf.extend_from_slice(format);
            buf.put_u8(b':');
            buf.extend_from_slice(text);
            buf.extend_from_slice(b"\r\n");
        }
    }
}

#[inline]
fn is_attribute(f: &Frame) -> bool {
    matches!(f, Frame::Attribute(_))
}

/// Elements of an array, set or push. Attributes are not counted in the length;
/// RESP3 writes those that precede an element, RESP2 drops them all.
fn elements(buf: &mut BytesMut, v: Version, items: &[Frame]) {
    let last = items.iter().rposition(|f| !is_attribute(f));
    for (i, f) in items.iter().enumerate() {
        if is_attribute(f) && (v == Version::Resp2 || last.is_none_or(|l| i > l)) {
            continue;
        }
        frame(buf, v, f);
    }
}

fn counted(items: &[Frame]) -> usize {
    items.iter().filter(|f| !is_attribute(f)).count()
}

/// A key or value of a map or attribute: an attribute there is written as a map.
fn pair_item(buf: &mut BytesMut, v: Version, f: &Frame) {
    match f {
        Frame::Attribute(pairs) => pairs_body(buf, v, pairs, true),
        other => frame(buf, v, other),
    }
}

fn pairs_body(buf: &mut BytesMut, v: Version, pairs: &[(Frame, Frame)], with_len: bool) {
    if with_len {
        map_len(buf, v, pairs.len());
    }
    for (k, val) in pairs {
        pair_item(buf, v, k);
        pair_item(buf, v, val);
    }
}

/// A whole frame, downgraded for RESP2 as Redis does: `Null` → `$-1`, map → flat
/// array, set/push → array, double/big number/verbatim → bulk string, boolean →
/// `:1`/`:0`, attributes dropped.
pub fn frame(buf: &mut BytesMut, v: Version, f: &Frame) {
    match f {
        Frame::Simple(s) => simple(buf, s),
        Frame::Error(e) => error(buf, e),
        Frame::Integer(n) => integer(buf, *n),
        Frame::Bulk(b) => bulk(buf, b),
        Frame::Null => null(buf, v),
        Frame::Array(items) => {
            array_len(buf, counted(items));
            elements(buf, v, items);
        }
        Frame::Set(items) => {
            set_len(buf, v, counted(items));
            elements(buf, v, items);
        }
        Frame::Push(items) => {
            push_len(buf, v, counted(items));
            elements(buf, v, items);
        }
        Frame::Map(pairs) => pairs_body(buf, v, pairs, true),
        Frame::Attribute(pairs) => {
            if v == Version::Resp3 {
                header(buf, b'|', pairs.len(), 0);
                pairs_body(buf, v, pairs, false);
            }
        }
        Frame::Double(d) => double(buf, v, *d),
        Frame::Boolean(b) => boolean(buf, v, *b),
        Frame::BigNumber(d) => big_number(buf, v, d),
        Frame::Verbatim { format, text } => verbatim(buf, v, format, text),
    }
}

/// Client side: a command as a multibulk of bulk strings.
pub fn command(buf: &mut BytesMut, args: &[&[u8]]) {
    let payload: usize = args.iter().map(|a| a.len() + 16).sum();
    header(buf, b'*', args.len(), payload);
    for a in args {
        bulk(buf, a);
    }
}

#[cfg(test)]
mod tests {
    use super::format_g17;

    fn g(d: f64) -> String {
        String::from_utf8(format_g17(d).as_slice().to_vec()).unwrap()
    }

    #[test]
    fn g17_basics() {
        assert_eq!(g(1.0), "1");
        assert_eq!(g(1.5), "1.5");
        assert_eq!(g(0.0), "0");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(0.1), "0.10000000000000001");
        assert_eq!(g(3.0000000000000004), "3.0000000000000004");
        assert_eq!(g(1e20), "1e+20");
        assert_eq!(g(1e16), "10000000000000000");
        assert_eq!(g(1e17), "1e+17");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1.0000000000000001e-05");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(-f64::NAN), "-nan");
        assert_eq!(g(f64::MAX), "1.7976931348623157e+308");
        assert_eq!(g(f64::MIN_POSITIVE), "2.2250738585072014e-308");
        assert_eq!(g(5e-324), "4.9406564584124654e-324");
        assert_eq!(g(-123.456), "-123.456");
    }
}
