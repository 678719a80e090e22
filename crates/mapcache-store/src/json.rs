//! JSON text ⇄ [`Value`] trees, for the HTTP/JSON API and the RESP replies that show
//! nested values.
//!
//! # Mapping
//!
//! | JSON | [`Value`] |
//! |---|---|
//! | object | [`Value::Hash`], in document order; a repeated key keeps the position of its first occurrence and the value of its last |
//! | array | [`Value::List`] |
//! | string | [`Value::Str`] (its UTF-8 bytes) |
//! | number | [`Value::Number`] (`f64`; integers beyond 2^53 round to the nearest `f64`, integers beyond `u64` are accepted as floats) |
//! | `true` / `false` | [`Value::Bool`] |
//! | `null` | [`Value::Null`] |
//!
//! # Parsing
//!
//! [`parse`] uses simd-json (the design's JSON crate): its tape API only, no serde. Its
//! stage 2 keeps its own nesting stack on the heap, so it does not recurse; before it
//! runs, a linear pre-scan refuses documents nested deeper than `max_depth` (so a body of
//! a million `[` answers "document nested deeper than 128 levels" at once, without
//! building a tape for it), and the tape is turned into a [`Value`] with an explicit stack.
//! Nothing here recurses on the input's shape. The pre-scan also keeps long number
//! literals away from simd-json 0.15's buggy slow paths (see `to_tape`).
//!
//! # Writing
//!
//! [`write()`] is a small hand-written writer, not value-trait's generator: the generator
//! takes `&str` only (our strings are bytes, and RESP replies must keep non-UTF-8 bytes
//! as they are, see [`write_binary_safe`]), returns an `io::Result` per call, and escapes
//! `\b` / `\f` in short form where the RESP replies have always shown `\u0008` /
//! `\u000c`. Ours copies each run of bytes that needs no escaping with one
//! `extend_from_slice`, writes straight into the caller's buffer (no allocation per node:
//! the only allocation is the explicit stack, once per call when the value has
//! containers) and walks the tree with that explicit stack rather than recursion.
//!
//! Numbers are written as [`write_number`] does: integral values below 1e17 in magnitude
//! as integers (`1`, `-3`, and `-0` as `0`), everything else in Rust's shortest
//! round-trip decimal form without exponent (`1.5`, `0.1`, `1e300` as `1` and 300 zeros).
//! Parsing that text gives back the same `f64` (except the sign of zero).

use std::io::Write as _;

use bytes::Bytes;
use simd_json::{Node, StaticNode};

use crate::field::Field;
use crate::value::{Hash, List, Str, Value};

/// The nesting limit (objects and arrays) of documents read over HTTP, unless configured
/// otherwise. RESP values are bounded to the same depth by path key mode.
pub const DEFAULT_MAX_DEPTH: usize = 128;

/// Why a JSON document was refused. The text is meant for an HTTP 400 body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    /// Not JSON: `at` is the byte offset where the parser gave up.
    #[error("invalid JSON at byte {at}: {reason}")]
    Syntax { at: usize, reason: &'static str },
    /// Objects and arrays nested deeper than the limit.
    #[error("document nested deeper than {max_depth} levels")]
    TooDeep { max_depth: usize },
}

// ---------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------

/// Parses one JSON document (surrounding whitespace allowed) into a [`Value`].
///
/// `input` is used as scratch space (simd-json unescapes strings in place): its content
/// is unspecified afterwards. Objects and arrays nested deeper than `max_depth` answer
/// [`JsonError::TooDeep`] (`max_depth` 0 admits scalars only). Never panics and never
/// recurses on the input's shape. The limit also protects what handles the value later:
/// dropping a [`Value`] (derived drop glue) and other tree walks recurse, so keep it in
/// the hundreds, not the millions.
pub fn parse(input: &mut [u8], max_depth: usize) -> Result<Value, JsonError> {
    let mut scratch = Vec::new();
    let tape = to_tape(input, max_depth, &mut scratch)?;
    let nodes = tape.0.as_slice();
    let (value, next) = read_tree(nodes, 0, max_depth, Duplicates::LastWins, |s: &str| {
        Ok(Str::copy_from_slice(s.as_bytes()))
    })
    .map_err(|e| match e {
        TreeError::TooDeep => JsonError::TooDeep { max_depth },
        _ => malformed_tape(),
    })?;
    if next != nodes.len() {
        return Err(malformed_tape());
    }
    Ok(value)
}

/// simd-json's tape of `input`, after the pre-scan ([`scan`]) with depth limit
/// `max_depth`.
///
/// simd-json 0.15 (the newest release that builds on our MSRV; 0.19 fixes these) reads
/// number literals of 18 or more characters through paths with bugs: a float with 19 or
/// more digits is misread depending on its byte offset in the document, a negative
/// integer below -2^63 is refused, an exponent of ten or more digits is refused, and
/// junk right after a long literal is accepted. Short literals take its fast paths,
/// which are exact. So the pre-scan checks every literal of [`LONG_NUMBER`] characters or
/// more itself (JSON's grammar, what follows it) and, unless it is an integer simd-json
/// reads exactly (within `i64` / `u64`), the tape is made from a copy in `scratch` where
/// the literal is replaced by the same `f64` in short exponent form (`{:e}`, at most 17
/// digits), parsed here with Rust's exact `str::parse`. Error offsets still count bytes
/// of `input`.
pub(crate) fn to_tape<'a>(
    input: &'a mut [u8],
    max_depth: usize,
    scratch: &'a mut Vec<u8>,
) -> Result<simd_json::Tape<'a>, JsonError> {
    let rewrites = scan(input, max_depth)?;
    if rewrites.is_empty() {
        return simd_json::to_tape(input).map_err(syntax_error);
    }
    scratch.clear();
    scratch.reserve(input.len() + 8 * rewrites.len());
    // (offset in `scratch`, offset in `input`) at the end of each rewritten literal.
    let mut anchors = Vec::with_capacity(rewrites.len());
    let mut from = 0;
    for &(start, end, n) in &rewrites {
        scratch.extend_from_slice(&input[from..start]);
        // Writing to a Vec cannot fail.
        let _ = write!(scratch, "{n:e}");
        anchors.push((scratch.len(), end));
        from = end;
    }
    scratch.extend_from_slice(&input[from..]);
    simd_json::to_tape(scratch).map_err(|e| match syntax_error(e) {
        JsonError::Syntax { at, reason } => {
            let at = match anchors.iter().rev().find(|&&(s, _)| s <= at) {
                Some(&(s, original)) => original + (at - s),
                None => at,
            };
            JsonError::Syntax { at, reason }
        }
        other => other,
    })
}

/// Number literals this long or longer are checked by [`scan`] (see [`to_tape`]).
const LONG_NUMBER: usize = 16;

/// Refuses `input` when its objects and arrays nest deeper than `max_depth` or when a
/// long number literal is malformed or out of range, and answers the long literals
/// simd-json must not read itself: (start, end, value), in document order (see
/// [`to_tape`]). Brackets and digits inside strings do not count; on text that is not
/// JSON the result may be off, which only decides which of two errors it gets.
fn scan(input: &[u8], max_depth: usize) -> Result<Vec<(usize, usize, f64)>, JsonError> {
    let mut rewrites = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'"' => {
                // Skip the string: to the next quote not escaped by a backslash.
                i += 1;
                while let Some(&c) = input.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max_depth {
                    return Err(JsonError::TooDeep { max_depth });
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'-' | b'0'..=b'9' => {
                let len = input[i..]
                    .iter()
                    .take_while(|c| matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
                    .count();
                if len >= LONG_NUMBER || long_exponent(&input[i..i + len]) {
                    if let Some(n) = long_number(input, i, i + len)? {
                        rewrites.push((i, i + len, n));
                    }
                }
                i += len;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(rewrites)
}

/// Does this number-like run have an exponent of 10 or more digits?
fn long_exponent(run: &[u8]) -> bool {
    run.iter()
        .position(|&c| c == b'e' || c == b'E')
        .is_some_and(|e| run.len() - e > 10)
}

/// Checks the long literal `input[start..end]` and what follows it; `None` when
/// simd-json reads it exactly (an integer within `i64` / `u64`), else its value.
fn long_number(input: &[u8], start: usize, end: usize) -> Result<Option<f64>, JsonError> {
    let bad = |at: usize| JsonError::Syntax {
        at,
        reason: "invalid number, or one out of range",
    };
    let run = &input[start..end];
    // JSON's grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
    let digits = |from: usize| {
        run[from..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let mut k = usize::from(run.first() == Some(&b'-'));
    let int_digits = digits(k);
    if int_digits == 0 || (int_digits > 1 && run[k] == b'0') {
        return Err(bad(start + k));
    }
    k += int_digits;
    let mut integer = true;
    if run.get(k) == Some(&b'.') {
        integer = false;
        let n = digits(k + 1);
        if n == 0 {
            return Err(bad(start + k + 1));
        }
        k += 1 + n;
    }
    if matches!(run.get(k), Some(b'e' | b'E')) {
        integer = false;
        k += 1;
        if matches!(run.get(k), Some(b'+' | b'-')) {
            k += 1;
        }
        let n = digits(k);
        if n == 0 {
            return Err(bad(start + k));
        }
        k += n;
    }
    if k != run.len()
        || !matches!(
            input.get(end),
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b',' | b']' | b'}')
        )
    {
        return Err(bad(start + k));
    }
    // ASCII by construction.
    let text = std::str::from_utf8(run).map_err(|_| bad(start))?;
    if integer && (text.parse::<i64>().is_ok() || text.parse::<u64>().is_ok()) {
        return Ok(None);
    }
    match text.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(bad(start)),
    }
}

/// A human reason for simd-json's error.
fn syntax_error(e: simd_json::Error) -> JsonError {
    use simd_json::ErrorType as E;
    let reason = match e.error() {
        E::Eof => "unexpected end of input",
        E::InvalidNumber | E::InvalidExponent => "invalid number, or one out of range",
        E::InvalidEscape | E::InvalidUnicodeEscape | E::InvalidUnicodeCodepoint => {
            "invalid escape in a string"
        }
        E::InvalidUtf8 => "invalid UTF-8",
        E::UnterminatedString => "unterminated string",
        E::TrailingData => "trailing characters after the document",
        E::ExpectedObjectColon => "expected ':'",
        E::ExpectedArrayComma => "expected ',' or ']'",
        E::ExpectedMapComma | E::ExpectedMapEnd => "expected ',' or '}'",
        E::ExpectedObjectKey | E::KeyMustBeAString | E::BadKeyType => "expected a string key",
        E::InputTooLarge => "document larger than 4 GiB",
        E::ExpectedNull | E::ExpectedTrue | E::ExpectedFalse => "invalid literal",
        _ => "syntax error",
    };
    JsonError::Syntax {
        at: e.index(),
        reason,
    }
}

fn malformed_tape() -> JsonError {
    JsonError::Syntax {
        at: 0,
        reason: "syntax error",
    }
}

/// What [`read_tree`] does with a key repeated in one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Duplicates {
    /// Like most JSON readers: the last value, at the first key's position.
    LastWins,
    /// Refuse the document (snapshots, which never contain any).
    Refuse,
}

/// Why [`read_tree`] refused a tape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TreeError {
    TooDeep,
    /// A key repeated in one object (with [`Duplicates::Refuse`]).
    DuplicateKey,
    /// The string decoder refused a string (snapshots: invalid base64).
    BadString,
    /// The tape is not shaped as simd-json documents it (never expected).
    Malformed,
}

/// A container being filled by [`read_tree`].
enum Building {
    Hash {
        hash: Hash,
        remaining: usize,
        key: Str,
    },
    List {
        list: List,
        remaining: usize,
    },
}

fn node<'t, 'i>(nodes: &'t [Node<'i>], i: usize) -> Result<&'t Node<'i>, TreeError> {
    nodes.get(i).ok_or(TreeError::Malformed)
}

fn key_at(
    nodes: &[Node<'_>],
    i: usize,
    decode: &mut impl FnMut(&str) -> Result<Str, ()>,
) -> Result<Str, TreeError> {
    match node(nodes, i)? {
        Node::String(s) => decode(s).map_err(|()| TreeError::BadString),
        _ => Err(TreeError::Malformed),
    }
}

/// A JSON number as a [`Value`] number.
pub(crate) fn static_number(s: &StaticNode) -> Option<f64> {
    match *s {
        StaticNode::I64(n) => Some(n as f64),
        StaticNode::U64(n) => Some(n as f64),
        StaticNode::F64(n) => Some(n),
        StaticNode::Bool(_) | StaticNode::Null => None,
    }
}

/// Turns the value whose tape starts at `nodes[start]` into a [`Value`], with an
/// explicit stack (no recursion). Strings and keys go through `decode`. Answers the
/// value and the index of the node after it.
pub(crate) fn read_tree(
    nodes: &[Node<'_>],
    start: usize,
    max_depth: usize,
    duplicates: Duplicates,
    mut decode: impl FnMut(&str) -> Result<Str, ()>,
) -> Result<(Value, usize), TreeError> {
    let mut stack: Vec<Building> = Vec::new();
    let mut i = start;
    loop {
        // Read one value at `i`; containers with members are pushed and their first
        // member read next.
        let mut value = match node(nodes, i)? {
            Node::String(s) => Value::Str(decode(s).map_err(|()| TreeError::BadString)?),
            Node::Static(StaticNode::Bool(b)) => Value::Bool(*b),
            Node::Static(StaticNode::Null) => Value::Null,
            Node::Static(n) => Value::Number(static_number(n).ok_or(TreeError::Malformed)?),
            Node::Array { len, .. } => {
                if stack.len() >= max_depth {
                    return Err(TreeError::TooDeep);
                }
                if *len > 0 {
                    stack.push(Building::List {
                        list: List::with_capacity(*len),
                        remaining: *len,
                    });
                    i += 1;
                    continue;
                }
                Value::new_list()
            }
            Node::Object { len, .. } => {
                if stack.len() >= max_depth {
                    return Err(TreeError::TooDeep);
                }
                if *len > 0 {
                    let key = key_at(nodes, i + 1, &mut decode)?;
                    stack.push(Building::Hash {
                        hash: Hash::with_capacity(*len, key.len()),
                        remaining: *len,
                        key,
                    });
                    i += 2;
                    continue;
                }
                Value::new_hash()
            }
        };
        i += 1;
        // Hand the value to its container; a container that is complete becomes the
        // value handed to its own parent.
        loop {
            match stack.last_mut() {
                None => return Ok((value, i)),
                Some(Building::List { list, remaining }) => {
                    list.push_back(value);
                    *remaining -= 1;
                    if *remaining > 0 {
                        break;
                    }
                }
                Some(Building::Hash {
                    hash,
                    remaining,
                    key,
                }) => {
                    if hash.insert(key, value).is_some() && duplicates == Duplicates::Refuse {
                        return Err(TreeError::DuplicateKey);
                    }
                    *remaining -= 1;
                    if *remaining > 0 {
                        *key = key_at(nodes, i, &mut decode)?;
                        i += 1;
                        break;
                    }
                }
            }
            value = match stack.pop() {
                Some(Building::List { list, .. }) => Value::List(list),
                Some(Building::Hash { hash, .. }) => Value::hash(hash),
                None => return Err(TreeError::Malformed),
            };
        }
    }
}

// ---------------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------------

/// Appends `value` as compact JSON.
///
/// Always valid JSON: bytes of a [`Value::Str`] (or a hash field name) that are not UTF-8
/// are replaced, each maximal invalid sequence by one U+FFFD (as
/// [`String::from_utf8_lossy`] does); non-finite numbers (which [`parse`] never
/// produces) are written as `null`. No recursion: depth costs heap, not stack.
pub fn write(value: &Value, out: &mut Vec<u8>) {
    write_with(value, out, &mut Strict);
}

/// Appends `value` as RESP replies show nested values: like [`write()`], except that bytes
/// which are not UTF-8 are copied through unchanged (a RESP reply is binary safe) and
/// non-finite numbers keep [`write_number`]'s text (`NaN`, `inf`): the result is JSON
/// whenever the value is JSON-representable.
pub fn write_binary_safe(value: &Value, out: &mut Vec<u8>) {
    write_with(value, out, &mut BinarySafe);
}

/// Appends the text of a JSON number as mapcache shows it everywhere (RESP replies to
/// `GET` of a number, JSON bodies): integral values below 1e17 in magnitude without a
/// fraction (`-0.0` as `0`), others in Rust's shortest round-trip form, which never uses
/// an exponent. Non-finite values give `NaN`, `inf`, `-inf` (not JSON; [`write()`] writes
/// `null` for them instead).
pub fn write_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e17 {
        out.extend_from_slice(itoa::Buffer::new().format(n as i64).as_bytes());
    } else {
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{n}");
    }
}

/// Appends `s` as a JSON string; bytes that are not UTF-8 become U+FFFD as in [`write()`].
pub fn write_string(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    escape(s, out, false);
    out.push(b'"');
}

/// Appends `s` quoted and escaped, bytes that are not UTF-8 copied unchanged.
pub(crate) fn write_string_bytes(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    escape(s, out, true);
    out.push(b'"');
}

/// [`ESCAPE`]'s mark for bytes of multi-byte UTF-8 sequences (0x80 and up).
const NON_ASCII: u8 = 1;

/// For each byte: 0 when it stands for itself in a JSON string, [`NON_ASCII`], or the
/// letter after the backslash of its escape (`u` for the `\u00xx` form).
static ESCAPE: [u8; 256] = {
    let mut t = [NON_ASCII; 256];
    let mut c = 0;
    while c < 0x80 {
        t[c] = if c < 0x20 { b'u' } else { 0 };
        c += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t
};

/// Does any of the 8 bytes in `x` need a look: a control character, `"`, `\`, or (with
/// `high`) a byte of 0x80 or more? Exact ("any"), branch-free.
#[inline]
fn needs_look(x: u64, high: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let control = x.wrapping_sub(ONES * 0x20) & !x & HIGH;
    let quote = zero_byte(x ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(x ^ (ONES * u64::from(b'\\')));
    let high_bits = if high { x & HIGH } else { 0 };
    control | quote | backslash | high_bits != 0
}

/// Appends the escaped content of a string (without quotes): `"` `\` `\n` `\r` `\t` in
/// short form, other control characters as `\u00xx`, everything else as it is. Runs of
/// bytes needing nothing are found 8 at a time and copied at once. Unless `bytes_ok`,
/// the text is checked to be UTF-8 (once, at its first non-ASCII byte) and, when it is
/// not, the invalid sequences become U+FFFD.
fn escape(s: &[u8], out: &mut Vec<u8>, bytes_ok: bool) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut utf8_checked = bytes_ok;
    let mut start = 0;
    let mut i = 0;
    while i < s.len() {
        if let Some(chunk) = s.get(i..i + 8) {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            if !needs_look(u64::from_le_bytes(word), !utf8_checked) {
                i += 8;
                continue;
            }
        }
        let c = s[i];
        match ESCAPE[usize::from(c)] {
            0 => {}
            NON_ASCII => {
                if !utf8_checked {
                    // Everything before `i` is ASCII: `i` starts a character.
                    if std::str::from_utf8(&s[i..]).is_err() {
                        out.extend_from_slice(&s[start..i]);
                        for chunk in s[i..].utf8_chunks() {
                            escape(chunk.valid().as_bytes(), out, true);
                            if !chunk.invalid().is_empty() {
                                out.extend_from_slice("\u{FFFD}".as_bytes());
                            }
                        }
                        return;
                    }
                    utf8_checked = true;
                }
            }
            b'u' => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(c >> 4)],
                    HEX[usize::from(c & 15)],
                ]);
                start = i + 1;
            }
            e => {
                out.extend_from_slice(&s[start..i]);
                out.extend_from_slice(&[b'\\', e]);
                start = i + 1;
            }
        }
        i += 1;
    }
    out.extend_from_slice(&s[start..]);
}

/// How [`write_with`] renders the leaves that differ between its users.
pub(crate) trait Style {
    /// A string value or a field name, quoted.
    fn string(&mut self, s: &[u8], out: &mut Vec<u8>);
    /// A number; `at` tells where it sits in the tree.
    fn number(&mut self, n: f64, out: &mut Vec<u8>, at: Position<'_, '_>);
}

/// [`write()`]'s style.
struct Strict;

impl Style for Strict {
    fn string(&mut self, s: &[u8], out: &mut Vec<u8>) {
        write_string(s, out);
    }
    fn number(&mut self, n: f64, out: &mut Vec<u8>, _: Position<'_, '_>) {
        if n.is_finite() {
            write_number(n, out);
        } else {
            out.extend_from_slice(b"null");
        }
    }
}

/// [`write_binary_safe`]'s style.
struct BinarySafe;

impl Style for BinarySafe {
    fn string(&mut self, s: &[u8], out: &mut Vec<u8>) {
        write_string_bytes(s, out);
    }
    fn number(&mut self, n: f64, out: &mut Vec<u8>, _: Position<'_, '_>) {
        write_number(n, out);
    }
}

/// A container being written by [`write_with`], with the member being written.
pub(crate) enum Frame<'a> {
    Hash {
        iter: crate::hash::Iter<'a>,
        key: &'a [u8],
        /// No member written yet.
        first: bool,
    },
    List {
        iter: crate::list::Iter<'a>,
        index: usize,
        first: bool,
    },
}

/// Where a leaf sits while [`write_with`] writes it.
#[derive(Clone, Copy)]
pub(crate) struct Position<'s, 'a>(&'s [Frame<'a>]);

impl Position<'_, '_> {
    /// The segments from the root to here: field names, and list indexes in decimal.
    pub(crate) fn path(&self) -> Vec<Bytes> {
        self.0
            .iter()
            .map(|f| match f {
                Frame::Hash { key, .. } => Bytes::copy_from_slice(key),
                Frame::List { index, .. } => {
                    Bytes::copy_from_slice(itoa::Buffer::new().format(*index).as_bytes())
                }
            })
            .collect()
    }
}

/// Writes `value` as compact JSON in `style`, depth-first with an explicit stack.
pub(crate) fn write_with<S: Style>(value: &Value, out: &mut Vec<u8>, style: &mut S) {
    let mut stack: Vec<Frame<'_>> = Vec::new();
    let mut cur = value;
    loop {
        match cur {
            Value::Str(s) => style.string(s, out),
            Value::Number(n) => style.number(*n, out, Position(&stack)),
            Value::Bool(true) => out.extend_from_slice(b"true"),
            Value::Bool(false) => out.extend_from_slice(b"false"),
            Value::Null => out.extend_from_slice(b"null"),
            Value::Hash(h) => {
                out.push(b'{');
                stack.push(Frame::Hash {
                    iter: h.iter(),
                    key: b"",
                    first: true,
                });
            }
            Value::List(l) => {
                out.push(b'[');
                stack.push(Frame::List {
                    iter: l.iter(),
                    index: 0,
                    first: true,
                });
            }
        }
        // `cur` is complete (or an opened container): move to the next member of the
        // innermost unfinished container, closing finished ones. A packed string
        // member is written right here.
        'next: loop {
            match stack.last_mut() {
                None => return,
                Some(Frame::Hash { iter, key, first }) => {
                    if let Some((k, v)) = iter.next() {
                        if !std::mem::take(first) {
                            out.push(b',');
                        }
                        style.string(k, out);
                        out.push(b':');
                        *key = k;
                        match v {
                            Field::Value(v) => {
                                cur = v;
                                break 'next;
                            }
                            Field::Bytes(b) => {
                                style.string(b, out);
                                continue 'next;
                            }
                        }
                    }
                    out.push(b'}');
                }
                Some(Frame::List { iter, index, first }) => {
                    if let Some(v) = iter.next() {
                        if !std::mem::take(first) {
                            out.push(b',');
                            *index += 1;
                        }
                        match v {
                            Field::Value(v) => {
                                cur = v;
                                break 'next;
                            }
                            Field::Bytes(b) => {
                                style.string(b, out);
                                continue 'next;
                            }
                        }
                    }
                    out.push(b']');
                }
            }
            stack.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &Value) -> String {
        let mut out = Vec::new();
        write(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn num(n: f64) -> String {
        let mut out = Vec::new();
        write_number(n, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn p(s: &str) -> Result<Value, JsonError> {
        parse(&mut s.as_bytes().to_vec(), DEFAULT_MAX_DEPTH)
    }

    fn s(x: &str) -> Value {
        Value::string(x.as_bytes())
    }

    #[test]
    fn numbers_as_before() {
        assert_eq!(num(1.0), "1");
        assert_eq!(num(1.5), "1.5");
        assert_eq!(num(-0.0), "0");
        assert_eq!(num(-3.0), "-3");
        assert_eq!(num(0.1), "0.1");
        assert_eq!(num(1e300), format!("1{}", "0".repeat(300)));
        assert_eq!(num(1e17), "100000000000000000");
        assert_eq!(num(99999999999999990.0), "99999999999999984");
        assert_eq!(num(1e-7), "0.0000001");
        assert_eq!(num(f64::NAN), "NaN");
        assert_eq!(num(f64::INFINITY), "inf");
        assert_eq!(num(f64::NEG_INFINITY), "-inf");
    }

    #[test]
    fn escapes() {
        assert_eq!(text(&s("a\"b\\c")), r#""a\"b\\c""#);
        assert_eq!(text(&s("\n\r\t")), r#""\n\r\t""#);
        assert_eq!(
            text(&s("\u{0}\u{1}\u{8}\u{c}\u{1f}\u{7f}")),
            "\"\\u0000\\u0001\\u0008\\u000c\\u001f\u{7f}\""
        );
        assert_eq!(text(&s("é日本🎉/")), "\"é日本🎉/\"");
    }

    #[test]
    fn non_utf8_strings() {
        let v = Value::Str(crate::Str::from(&b"a\xffb\xe6\x97c"[..]));
        assert_eq!(text(&v), "\"a\u{FFFD}b\u{FFFD}c\"");
        let mut out = Vec::new();
        write_binary_safe(&v, &mut out);
        assert_eq!(out, b"\"a\xffb\xe6\x97c\"");
        let mut h = Hash::default();
        h.insert(&b"\xc3"[..], Value::Null);
        assert_eq!(text(&Value::hash(h)), "{\"\u{FFFD}\":null}");
    }

    #[test]
    fn non_finite_numbers() {
        let v = Value::List([f64::NAN, f64::INFINITY, 2.0].map(Value::Number).into());
        assert_eq!(text(&v), "[null,null,2]");
        let mut out = Vec::new();
        write_binary_safe(&v, &mut out);
        assert_eq!(out, b"[NaN,inf,2]");
    }

    #[test]
    fn containers() {
        let v = p(r#" {"a":[1,{"b":[]},{}],"c":{"d":null,"e":true,"f":false},"g":"x"} "#).unwrap();
        assert_eq!(
            text(&v),
            r#"{"a":[1,{"b":[]},{}],"c":{"d":null,"e":true,"f":false},"g":"x"}"#
        );
        assert_eq!(text(&Value::new_hash()), "{}");
        assert_eq!(text(&Value::new_list()), "[]");
    }

    #[test]
    fn scalars() {
        assert_eq!(p("42").unwrap(), Value::Number(42.0));
        assert_eq!(p("-7").unwrap(), Value::Number(-7.0));
        assert_eq!(p("1.5e3").unwrap(), Value::Number(1500.0));
        assert_eq!(p("\"42\"").unwrap(), s("42"));
        assert_eq!(p("null").unwrap(), Value::Null);
        assert_eq!(p("true").unwrap(), Value::Bool(true));
        assert_eq!(p(r#""\u00e9\ud83c\udf89\n""#).unwrap(), s("é🎉\n"));
        assert_eq!(
            p("123456789012345678901234567890").unwrap(),
            Value::Number(123456789012345678901234567890.0)
        );
        assert_eq!(
            p("18446744073709551615").unwrap(),
            Value::Number(18446744073709551615.0)
        );
    }

    #[test]
    fn long_number_literals() {
        // simd-json 0.15 alone gets each of these wrong (see `to_tape`).
        for (text, n) in [
            ("-9223372036854775808", -9223372036854775808.0),
            ("-9223372036854775809", -9223372036854775809.0),
            ("-15776146152290744000", -15776146152290744000.0),
            ("-18446744073709551615", -18446744073709551615.0),
            ("-18446744073709551616", -18446744073709551616.0),
            ("18446744073709551616", 18446744073709551616.0),
            ("-1844674407370955161600", -1844674407370955161600.0),
            ("-15776146152290744000.5", -15776146152290744000.5),
            ("-15776146152290744000e1", -157761461522907440000.0),
            ("0.30000000000000004441", 0.30000000000000004),
            ("1e-99999999999", 0.0),
            ("0e99999999999", 0.0),
            ("-0.0000000000000000000", -0.0),
        ] {
            assert_eq!(p(text), Ok(Value::Number(n)), "{text}");
            // Wherever the literal sits in the document.
            for pad in 0..80 {
                let doc = format!("[\"{}\",{text}]", "x".repeat(pad));
                let v = p(&doc).unwrap();
                assert_eq!(
                    v.as_list().unwrap().get(1).unwrap(),
                    Value::Number(n),
                    "{doc}"
                );
            }
        }
        let v = p(r#"{"a":[-15776146152290744000,"-15776146152290744000",1e-000000000000000001]}"#)
            .unwrap();
        assert_eq!(
            text(&v),
            r#"{"a":[-15776146152290744000,"-15776146152290744000",0.1]}"#
        );
        // Errors after a rewritten literal count bytes of the original.
        assert_eq!(
            p("[-15776146152290744000.5,-15776146152290744000,x]"),
            Err(JsonError::Syntax {
                at: 47,
                reason: "syntax error"
            })
        );
        // Long literals that are not numbers, or out of range.
        for (bad, at) in [
            ("[12345678901234567890123x]", 24),
            ("[1234567890123456789.5x]", 22),
            ("[12345678901234567890e5 x]", 24),
            ("[012345678901234567890]", 1),
            ("[1234567890123456789.e5]", 21),
            ("[1234567890123456789e+]", 22),
            ("[--12345678901234567890]", 2),
            ("[1e99999999999]", 1),
            ("[1234567890123456789e400]", 1),
        ] {
            match p(bad) {
                Err(JsonError::Syntax { at: got, .. }) => assert_eq!(got, at, "{bad}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn duplicate_keys_last_wins_first_position() {
        let v = p(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        assert_eq!(text(&v), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn errors() {
        assert_eq!(
            p(r#"{"a":1,"b" 2}"#),
            Err(JsonError::Syntax {
                at: 11,
                reason: "expected ':'"
            })
        );
        for bad in [
            "", " ", "{", "[1,", "[1 2]", "{\"a\"}", "nul", "01", "1.", "1e400", "-", "\"abc",
            "\"\\x\"", "[1]]", "{} {}", "NaN", "inf", "'a'", "{1:2}",
        ] {
            let e = p(bad).expect_err(bad);
            assert!(
                e.to_string().starts_with("invalid JSON at byte "),
                "{bad}: {e}"
            );
        }
        let mut invalid_utf8 = b"\"\xff\"".to_vec();
        assert!(parse(&mut invalid_utf8, 8).is_err());
    }

    #[test]
    fn depth_limit() {
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(p(&nested(128)).is_ok());
        assert_eq!(
            p(&nested(129)).unwrap_err().to_string(),
            "document nested deeper than 128 levels"
        );
        assert_eq!(
            p(&"[".repeat(1_000_000)),
            Err(JsonError::TooDeep { max_depth: 128 })
        );
        let objects = format!("{}1{}", r#"{"a":"#.repeat(129), "}".repeat(129));
        assert_eq!(p(&objects), Err(JsonError::TooDeep { max_depth: 128 }));
        // Brackets inside strings do not count.
        let in_string = format!("[\"{}\\\"{}\"]", "[".repeat(500), "{".repeat(500));
        assert!(p(&in_string).is_ok());
        assert_eq!(parse(&mut b"1".to_vec(), 0), Ok(Value::Number(1.0)));
        assert!(parse(&mut b"[]".to_vec(), 0).is_err());
        assert!(parse(&mut b"[]".to_vec(), 1).is_ok());
        // The tape reader enforces the limit on its own too.
        let mut doc = nested(10).into_bytes();
        let tape = simd_json::to_tape(&mut doc).unwrap();
        let read = |max| read_tree(&tape.0, 0, max, Duplicates::LastWins, |_| Ok(Str::new()));
        assert_eq!(read(9).unwrap_err(), TreeError::TooDeep);
        assert!(read(10).is_ok());
    }

    #[test]
    fn deep_values_write_without_recursion() {
        let mut v = Value::Null;
        for i in 0..100_000 {
            v = if i % 2 == 0 {
                Value::List([v].into())
            } else {
                let mut h = Hash::default();
                h.insert(&b"k"[..], v);
                Value::hash(h)
            };
        }
        let mut out = Vec::new();
        write(&v, &mut out);
        assert_eq!(out.len(), 4 + 50_000 * 2 + 50_000 * 6);
        // Dropping a deep Value is recursive (derive(Drop)); unwind it by hand.
        let mut cur = v;
        loop {
            cur = match cur {
                Value::List(mut l) => l.pop_front().unwrap(),
                Value::Hash(mut h) => h.pop().unwrap().1,
                _ => break,
            };
        }
    }

    #[test]
    fn positions() {
        struct Paths(Vec<Vec<Bytes>>);
        impl Style for Paths {
            fn string(&mut self, s: &[u8], out: &mut Vec<u8>) {
                write_string_bytes(s, out);
            }
            fn number(&mut self, _: f64, out: &mut Vec<u8>, at: Position<'_, '_>) {
                self.0.push(at.path());
                out.push(b'0');
            }
        }
        let v = p(r#"[1,{"a":[7,{"b":2}],"c":3},4]"#).unwrap();
        let mut paths = Paths(Vec::new());
        write_with(&v, &mut Vec::new(), &mut paths);
        let as_text: Vec<Vec<&[u8]>> = paths
            .0
            .iter()
            .map(|p| p.iter().map(|s| &s[..]).collect())
            .collect();
        let expected: Vec<Vec<&[u8]>> = vec![
            vec![b"0"],
            vec![b"1", b"a", b"0"],
            vec![b"1", b"a", b"1", b"b"],
            vec![b"1", b"c"],
            vec![b"2"],
        ];
        assert_eq!(as_text, expected);
    }
}
