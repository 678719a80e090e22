//! Server-side request decoding: multibulk and inline commands, as Redis 7.0's
//! `processMultibulkBuffer` / `processInlineBuffer` in `networking.c`.

use bytes::{Buf, Bytes, BytesMut};

use crate::{Limits, ProtocolError};

/// Redis `string2ll`: optional `-`, no `+`, no leading zeros (except `"0"`),
/// no spaces, at most 20 bytes, within `i64`.
pub(crate) fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() >= 21 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if v > (i64::MAX as u64) + 1 {
            return None;
        }
        Some((v as i64).wrapping_neg())
    } else {
        i64::try_from(v).ok()
    }
}

/// Where the header line starting at `from` ends, as Redis finds it with
/// `strchr(p, '\r')`: the first `\r`, unless a NUL comes first (the C string ends
/// there, so Redis keeps waiting). Redis then only asks for one more byte after the
/// `\r` and never checks that it is `\n`.
///
/// `Ok(Some(cr))`: complete line, `\r` at `cr`. `Ok(None)`: wait for more.
#[inline]
fn header_end(
    buf: &[u8],
    from: usize,
    max_inline_len: usize,
    too_big: ProtocolError,
) -> Result<Option<usize>, ProtocolError> {
    let rest = &buf[from..];
    match memchr::memchr2(b'\r', 0, rest) {
        Some(i) if rest[i] == b'\r' => {
            if i + 2 > rest.len() {
                Ok(None)
            } else {
                Ok(Some(from + i))
            }
        }
        _ => {
            if rest.len() > max_inline_len {
                Err(too_big)
            } else {
                Ok(None)
            }
        }
    }
}

/// Scans a multibulk request at the front of `buf` (which starts with `*`).
/// Returns the total length and the argument count once all of it is buffered.
fn scan_multibulk(buf: &[u8], limits: &Limits) -> Result<Option<(usize, usize)>, ProtocolError> {
    let Some(cr) = header_end(
        buf,
        0,
        limits.max_inline_len,
        ProtocolError::TooBigMbulkCountString,
    )?
    else {
        return Ok(None);
    };
    let count = match string2ll(&buf[1..cr]) {
        Some(n) if n <= i64::from(i32::MAX) && n <= limits.max_multibulk_len as i64 => n,
        _ => return Err(ProtocolError::InvalidMultibulkLength),
    };
    let mut pos = cr + 2;
    if count <= 0 {
        return Ok(Some((pos, 0)));
    }
    let count = count as usize;
    for _ in 0..count {
        let Some(cr) = header_end(
            buf,
            pos,
            limits.max_inline_len,
            ProtocolError::TooBigBulkCountString,
        )?
        else {
            return Ok(None);
        };
        if buf[pos] != b'$' {
            return Err(ProtocolError::ExpectedDollar(buf[pos]));
        }
        let len = match string2ll(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len as u64 => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        pos = cr + 2;
        // Payload plus two bytes that Redis skips without looking at them.
        let need = len.saturating_add(2);
        if buf.len() - pos < need {
            return Ok(None);
        }
        pos += need;
    }
    Ok(Some((pos, count)))
}

/// Re-walks a validated multibulk in `frozen`, pushing zero-copy argument slices.
fn slice_multibulk(frozen: &Bytes, count: usize, args: &mut Vec<Bytes>) {
    args.reserve(count);
    let mut pos = match memchr::memchr(b'\r', frozen) {
        Some(cr) => cr + 2,
        None => return,
    };
    for _ in 0..count {
        let Some(cr) = memchr::memchr(b'\r', &frozen[pos..]).map(|i| pos + i) else {
            return;
        };
        let len = string2ll(&frozen[pos + 1..cr]).unwrap_or(0) as usize;
        pos = cr + 2;
        args.push(frozen.slice(pos..pos + len));
        pos += len + 2;
    }
}

/// C `isspace` in the C locale.
#[inline]
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[inline]
fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// One `sdssplitargs` token at the front of `line` (blanks already skipped, `line`
/// non-empty). Decodes it in place when `WRITE` (output never overtakes input).
/// Returns `(decoded_len, consumed)`.
fn inline_token<const WRITE: bool>(line: &mut [u8]) -> Result<(usize, usize), ProtocolError> {
    #[derive(PartialEq)]
    enum Q {
        None,
        Double,
        Single,
    }
    let mut q = Q::None;
    let mut r = 0;
    let mut w = 0;
    let n = line.len();
    macro_rules! out {
        ($b:expr) => {{
            let b = $b;
            if WRITE {
                line[w] = b;
            }
            w += 1;
        }};
    }
    loop {
        match q {
            Q::Double => {
                let Some(&c) = line.get(r) else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                if c == b'\\' && r + 1 < n {
                    let next = line[r + 1];
                    if next == b'x' && r + 3 < n {
                        if let (Some(h), Some(l)) = (hex_val(line[r + 2]), hex_val(line[r + 3])) {
                            out!(h * 16 + l);
                            r += 4;
                            continue;
                        }
                    }
                    out!(match next {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    r += 2;
                } else if c == b'"' {
                    if r + 1 < n && !is_space(line[r + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    return Ok((w, r + 1));
                } else {
                    out!(c);
                    r += 1;
                }
            }
            Q::Single => {
                let Some(&c) = line.get(r) else {
                    return Err(ProtocolError::UnbalancedQuotes);
                };
                if c == b'\\' && line.get(r + 1) == Some(&b'\'') {
                    out!(b'\'');
                    r += 2;
                } else if c == b'\'' {
                    if r + 1 < n && !is_space(line[r + 1]) {
                        return Err(ProtocolError::UnbalancedQuotes);
                    }
                    return Ok((w, r + 1));
                } else {
                    out!(c);
                    r += 1;
                }
            }
            Q::None => match line.get(r) {
                None | Some(b' ' | b'\n' | b'\r' | b'\t' | 0) => return Ok((w, r)),
                Some(b'"') => {
                    q = Q::Double;
                    r += 1;
                }
                Some(b'\'') => {
                    q = Q::Single;
                    r += 1;
                }
                Some(&c) => {
                    out!(c);
                    r += 1;
                }
            },
        }
    }
}

fn decode_inline(
    buf: &mut BytesMut,
    limits: &Limits,
    args: &mut Vec<Bytes>,
) -> Result<bool, ProtocolError> {
    // Redis: strchr(querybuf, '\n'), which a NUL stops.
    let nl = match memchr::memchr2(b'\n', 0, buf) {
        Some(i) if buf[i] == b'\n' => i,
        _ => {
            if buf.len() > limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(false);
        }
    };
    let line_end = if nl > 0 && buf[nl - 1] == b'\r' {
        nl - 1
    } else {
        nl
    };

    // Validate first so that an error leaves `buf` as it was.
    {
        let line = &mut buf[..line_end];
        let mut pos = 0;
        loop {
            while pos < line.len() && is_space(line[pos]) {
                pos += 1;
            }
            if pos == line.len() {
                break;
            }
            let (_, used) = inline_token::<false>(&mut line[pos..])?;
            pos += used;
        }
    }

    let mut line = buf.split_to(nl + 1);
    line.truncate(line_end);
    loop {
        let blanks = line.iter().take_while(|&&c| is_space(c)).count();
        line.advance(blanks);
        if line.is_empty() {
            break;
        }
        let (len, used) = inline_token::<true>(&mut line[..])?;
        args.push(line.split_to(len).freeze());
        line.advance(used - len);
    }
    Ok(true)
}

/// Parses one client command from the front of `buf`.
///
/// * `Ok(true)`: a whole command was consumed from `buf` and its arguments pushed
///   into `args` (cleared first) as zero-copy [`Bytes`] slices of the buffer. An
///   empty command (blank inline line, `*0`, `*-1`) gives an empty `args`: skip it.
/// * `Ok(false)`: the command is not complete yet; `buf` is untouched.
/// * `Err(e)`: protocol error; answer `-ERR {e}\r\n` and close the connection.
///   `buf` is left as it was.
///
/// Requests starting with `*` are multibulk; anything else is an inline command
/// split like Redis's `sdssplitargs`. A re-attempt on a partial request rescans
/// only the headers (bulk payloads are skipped by length).
pub fn decode_command(
    buf: &mut BytesMut,
    limits: &Limits,
    args: &mut Vec<Bytes>,
) -> Result<bool, ProtocolError> {
    args.clear();
    match buf.first() {
        None => Ok(false),
        Some(b'*') => match scan_multibulk(buf, limits)? {
            None => Ok(false),
            Some((len, count)) => {
                let frozen = buf.split_to(len).freeze();
                slice_multibulk(&frozen, count, args);
                Ok(true)
            }
        },
        Some(_) => decode_inline(buf, limits, args),
    }
}

#[cfg(test)]
mod tests {
    use super::string2ll;

    #[test]
    fn string2ll_rules() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"12"), Some(12));
        assert_eq!(string2ll(b"-12"), Some(-12));
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"1a",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"18446744073709551616",
            b"000000000000000000001",
        ] {
            assert_eq!(string2ll(bad), None, "{:?}", bad);
        }
    }
}
