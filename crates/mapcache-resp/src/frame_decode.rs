//! Client-side decoding of any RESP2/RESP3 reply.

use bytes::{Bytes, BytesMut};

use crate::decode::string2ll;
use crate::frame::MAX_DEPTH;
use crate::{Frame, Limits, ProtocolError};

type Step = Result<Option<(Frame, usize)>, ProtocolError>;

/// Walks one frame. With `src == None` it only validates and measures (no
/// allocation, frames are placeholders); with `Some` it builds zero-copy frames.
struct Parser<'a> {
    buf: &'a [u8],
    limits: &'a Limits,
    src: Option<&'a Bytes>,
}

impl Parser<'_> {
    #[inline]
    fn slice(&self, a: usize, b: usize) -> Bytes {
        match self.src {
            Some(s) => s.slice(a..b),
            None => Bytes::new(),
        }
    }

    /// A `\r\n`-terminated line from `pos`: `(content_end, next_pos)`.
    fn line(&self, pos: usize) -> Result<Option<(usize, usize)>, ProtocolError> {
        let rest = &self.buf[pos..];
        match memchr::memchr(b'\r', rest) {
            Some(i) => {
                if i > self.limits.max_inline_len {
                    Err(ProtocolError::LineTooLong)
                } else if i + 1 >= rest.len() {
                    Ok(None)
                } else if rest[i + 1] != b'\n' {
                    Err(ProtocolError::ExpectedCrlf)
                } else {
                    Ok(Some((pos + i, pos + i + 2)))
                }
            }
            None if rest.len() > self.limits.max_inline_len => Err(ProtocolError::LineTooLong),
            None => Ok(None),
        }
    }

    fn parse(&self, pos: usize, depth: usize) -> Step {
        let Some(&ty) = self.buf.get(pos) else {
            return Ok(None);
        };
        let start = pos + 1;
        let Some((end, next)) = self.line(start)? else {
            return Ok(None);
        };
        let content = &self.buf[start..end];
        let frame = match ty {
            b'+' => Frame::Simple(self.slice(start, end)),
            b'-' => Frame::Error(self.slice(start, end)),
            b':' => Frame::Integer(string2ll(content).ok_or(ProtocolError::InvalidInteger)?),
            b'_' if content.is_empty() => Frame::Null,
            b'_' => return Err(ProtocolError::InvalidNull),
            b'#' => match content {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(ProtocolError::InvalidBoolean),
            },
            b',' => Frame::Double(
                std::str::from_utf8(content)
                    .ok()
                    .and_then(|s| s.parse::<f64>().ok())
                    .ok_or(ProtocolError::InvalidDouble)?,
            ),
            b'(' => {
                let digits = match content.first() {
                    Some(b'-' | b'+') => &content[1..],
                    _ => content,
                };
                if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                    return Err(ProtocolError::InvalidBigNumber);
                }
                Frame::BigNumber(self.slice(start, end))
            }
            b'$' | b'!' | b'=' => return self.blob(ty, content, next),
            b'*' | b'~' | b'>' | b'%' | b'|' => return self.aggregate(ty, content, next, depth),
            other => return Err(ProtocolError::InvalidType(other)),
        };
        Ok(Some((frame, next)))
    }

    fn blob(&self, ty: u8, header: &[u8], pos: usize) -> Step {
        let len = match string2ll(header) {
            Some(-1) if ty == b'$' => return Ok(Some((Frame::Null, pos))),
            Some(n) if n >= 0 && (n as u64) <= self.limits.max_bulk_len as u64 => n as usize,
            _ => return Err(ProtocolError::InvalidBulkLength),
        };
        if self.buf.len() - pos < len.saturating_add(2) {
            return Ok(None);
        }
        let end = pos + len;
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::ExpectedCrlf);
        }
        let frame = match ty {
            b'$' => Frame::Bulk(self.slice(pos, end)),
            b'!' => Frame::Error(self.slice(pos, end)),
            _ => {
                if len < 4 || self.buf[pos + 3] != b':' {
                    return Err(ProtocolError::InvalidVerbatim);
                }
                let b = &self.buf[pos..pos + 3];
                Frame::Verbatim {
                    format: [b[0], b[1], b[2]],
                    text: self.slice(pos + 4, end),
                }
            }
        };
        Ok(Some((frame, end + 2)))
    }

    fn aggregate(&self, ty: u8, header: &[u8], mut pos: usize, depth: usize) -> Step {
        let count = match string2ll(header) {
            Some(-1) if ty == b'*' => return Ok(Some((Frame::Null, pos))),
            Some(n) if n >= 0 && (n as u64) <= self.limits.max_multibulk_len as u64 => n as usize,
            _ => return Err(ProtocolError::InvalidMultibulkLength),
        };
        if depth >= MAX_DEPTH {
            return Err(ProtocolError::TooDeep);
        }
        let build = self.src.is_some();
        if matches!(ty, b'%' | b'|') {
            let mut pairs = Vec::with_capacity(if build { count } else { 0 });
            for _ in 0..count {
                let Some((k, p)) = self.parse_skipping_attributes(pos, depth + 1)? else {
                    return Ok(None);
                };
                let Some((v, p)) = self.parse_skipping_attributes(p, depth + 1)? else {
                    return Ok(None);
                };
                pos = p;
                if build {
                    pairs.push((k, v));
                }
            }
            let frame = if ty == b'%' {
                Frame::Map(pairs)
            } else {
                Frame::Attribute(pairs)
            };
            return Ok(Some((frame, pos)));
        }
        let mut items = Vec::with_capacity(if build { count } else { 0 });
        let mut seen = 0;
        while seen < count {
            let is_attr = self.buf.get(pos) == Some(&b'|');
            let Some((f, p)) = self.parse(pos, depth + 1)? else {
                return Ok(None);
            };
            pos = p;
            if !is_attr {
                seen += 1;
            }
            if build {
                items.push(f);
            }
        }
        let frame = match ty {
            b'*' => Frame::Array(items),
            b'~' => Frame::Set(items),
            _ => Frame::Push(items),
        };
        Ok(Some((frame, pos)))
    }

    fn parse_skipping_attributes(&self, mut pos: usize, depth: usize) -> Step {
        loop {
            let is_attr = self.buf.get(pos) == Some(&b'|');
            let Some((f, p)) = self.parse(pos, depth)? else {
                return Ok(None);
            };
            if !is_attr {
                return Ok(Some((f, p)));
            }
            pos = p;
        }
    }
}

/// Decodes one RESP2/RESP3 frame from the front of `buf` (client side).
///
/// `Ok(None)` when the frame is not complete yet (`buf` untouched). On success the
/// frame's bytes are split off `buf` and its payloads are zero-copy slices of them.
/// Streamed RESP3 forms (`$?`, `*?`) are not supported. Line ends must be `\r\n`;
/// lines are limited to `max_inline_len`, bulk payloads to `max_bulk_len`,
/// aggregate counts to `max_multibulk_len` and nesting to [`crate::MAX_DEPTH`].
/// An error leaves `buf` untouched.
pub fn decode_frame(buf: &mut BytesMut, limits: &Limits) -> Result<Option<Frame>, ProtocolError> {
    let scan = Parser {
        buf,
        limits,
        src: None,
    };
    let Some((_, len)) = scan.parse(0, 0)? else {
        return Ok(None);
    };
    let frozen = buf.split_to(len).freeze();
    let build = Parser {
        buf: &frozen,
        limits,
        src: Some(&frozen),
    };
    match build.parse(0, 0)? {
        Some((frame, _)) => Ok(Some(frame)),
        None => Err(ProtocolError::ExpectedCrlf), // unreachable: validated above
    }
}
