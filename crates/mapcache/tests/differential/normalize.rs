//! Making two replies comparable, and printing them.
//!
//! The rule: replies are compared exactly — RESP type, value and the raw bytes on
//! the wire — except where Redis itself is unordered, random or time-dependent:
//!
//! * **KEYS, HKEYS, HVALS**: the array's elements are sorted (hash-table order).
//! * **HGETALL**: the flat array is cut into (field, value) pairs, pairs sorted.
//! * **SCAN, HSCAN from cursor 0**: iterated to completion on each server separately
//!   (same options, each server's own cursors); the union (duplicates removed, which
//!   SCAN allows during rehashing) is sorted and compared as `["0", [sorted...]]`.
//!   HSCAN's union is of (field, value) pairs. **From any other cursor** the cursor
//!   is meaningless across implementations, so only the shape is compared: a
//!   two-element array of a bulk cursor that parses as u64 and an array of bulks
//!   (of even length for HSCAN).
//! * **HRANDFIELD**: each server's reply is checked against that server's own hash
//!   (an `HGETALL` right after, not compared): every returned field must exist (with
//!   its value, for WITHVALUES), a positive count returns distinct fields. The
//!   canonical reply keeps the shape and length and replaces each valid element by a
//!   placeholder, so the comparison is of nil-ness, type, length and validity.
//! * **RANDOMKEY**: nil-ness, and that the returned key exists (`EXISTS` on the same
//!   server, not compared).
//! * **TTL, PTTL, EXPIRETIME, PEXPIRETIME**: two non-negative integers are equal
//!   within 2 s (2000 ms): the servers set relative deadlines a few microseconds
//!   apart, and a second boundary may fall between them. Negative replies (-1, -2)
//!   must be equal.
//!
//! Error replies are compared in two modes: exact text, and "loose" (both are errors
//! whose first word — ERR, WRONGTYPE, ... — is the same). Both counts are reported.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use mapcache_resp::Frame;

use crate::client::{Conn, Reply};
use crate::gen::Norm;

/// Canonical form of one server's reply, computed with access to that server.
pub fn canonical(
    norm: &Norm,
    args: &[Vec<u8>],
    reply: &Reply,
    conn: &mut Conn,
) -> Result<Frame, String> {
    let f = &reply.frame;
    if matches!(f, Frame::Error(_)) {
        return Ok(f.clone());
    }
    Ok(match norm {
        Norm::Exact | Norm::Ttl { .. } => f.clone(),
        Norm::Sorted => match f {
            Frame::Array(items) => {
                let mut items = items.clone();
                items.sort_by_key(enc);
                Frame::Array(items)
            }
            other => other.clone(),
        },
        Norm::SortedPairs => sort_pairs(f),
        Norm::Scan {
            hash_key,
            cursor_at,
        } => scan(f, args, *cursor_at, hash_key.is_some(), conn)?,
        Norm::HRandField {
            key,
            count,
            withvalues,
        } => hrandfield(f, key, *count, *withvalues, conn)?,
        Norm::RandomKey => match f {
            Frame::Bulk(k) => match conn.call_strs(&[b"EXISTS", k])? {
                Frame::Integer(1) => Frame::Simple(Bytes::from_static(b"<an existing key>")),
                _ => Frame::Array(vec![
                    Frame::Simple(Bytes::from_static(b"<missing key>")),
                    f.clone(),
                ]),
            },
            other => other.clone(),
        },
    })
}

/// Compares canonical replies: `(exact, loose)`.
pub fn compare(norm: &Norm, a: &Frame, b: &Frame, raw_a: &[u8], raw_b: &[u8]) -> (bool, bool) {
    let same = match (norm, a, b) {
        (Norm::Ttl { tolerance }, Frame::Integer(x), Frame::Integer(y)) if *x >= 0 && *y >= 0 => {
            (x - y).abs() <= *tolerance
        }
        (Norm::Exact, _, _) => a == b && raw_a == raw_b,
        _ => a == b,
    };
    if same {
        return (true, true);
    }
    let loose = match (a, b) {
        (Frame::Error(x), Frame::Error(y)) => first_word(x) == first_word(y),
        _ => false,
    };
    (false, loose)
}

fn first_word(s: &[u8]) -> &[u8] {
    s.split(|c| *c == b' ').next().unwrap_or(s)
}

/// Sorts the flat (field, value, field, value...) array by pairs.
fn sort_pairs(f: &Frame) -> Frame {
    match f {
        Frame::Array(items) if items.len() % 2 == 0 => {
            let mut pairs: Vec<(Frame, Frame)> = items
                .chunks(2)
                .map(|c| (c[0].clone(), c[1].clone()))
                .collect();
            pairs.sort_by_key(|p| (enc(&p.0), enc(&p.1)));
            Frame::Array(pairs.into_iter().flat_map(|(a, b)| [a, b]).collect())
        }
        other => other.clone(),
    }
}

fn placeholder(s: &'static str) -> Frame {
    Frame::Simple(Bytes::from_static(s.as_bytes()))
}

/// `[cursor, [items...]]` with a u64 cursor and bulk items, or `None`.
fn scan_page(f: &Frame) -> Option<(u64, &[Frame])> {
    let Frame::Array(v) = f else { return None };
    let [Frame::Bulk(c), Frame::Array(items)] = &v[..] else {
        return None;
    };
    let cursor: u64 = std::str::from_utf8(c).ok()?.parse().ok()?;
    if !items.iter().all(|i| matches!(i, Frame::Bulk(_))) {
        return None;
    }
    Some((cursor, items))
}

fn scan(
    f: &Frame,
    args: &[Vec<u8>],
    cursor_at: usize,
    pairs: bool,
    conn: &mut Conn,
) -> Result<Frame, String> {
    let Some((mut cursor, items)) = scan_page(f) else {
        return Ok(f.clone());
    };
    if pairs && items.len() % 2 != 0 {
        return Ok(f.clone());
    }
    if args[cursor_at] != b"0" {
        return Ok(placeholder("<a scan page from a non-zero cursor>"));
    }
    let mut all: Vec<Frame> = items.to_vec();
    let mut args = args.to_vec();
    let mut rounds = 0;
    while cursor != 0 {
        rounds += 1;
        if rounds > 100_000 {
            return Ok(placeholder("<scan did not finish in 100000 calls>"));
        }
        args[cursor_at] = cursor.to_string().into_bytes();
        let next = conn.call(&args)?.frame;
        let Some((c, items)) = scan_page(&next) else {
            return Ok(Frame::Array(vec![
                placeholder("<scan continuation broke>"),
                next,
            ]));
        };
        if pairs && items.len() % 2 != 0 {
            return Ok(Frame::Array(vec![
                placeholder("<odd hscan page>"),
                next.clone(),
            ]));
        }
        all.extend_from_slice(items);
        cursor = c;
    }
    let sorted: Vec<Frame> = if pairs {
        // Pairs deduplicated whole: a field returned twice with different values
        // stays twice and shows up as a difference.
        let mut out = Vec::new();
        for c in all.chunks(2) {
            out.push((enc(&c[0]), enc(&c[1]), c[0].clone(), c[1].clone()));
        }
        out.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        out.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
        out.into_iter().flat_map(|(_, _, f, v)| [f, v]).collect()
    } else {
        let mut v = all;
        v.sort_by_key(enc);
        v.dedup();
        v
    };
    Ok(Frame::Array(vec![
        Frame::Bulk(Bytes::from_static(b"0")),
        Frame::Array(sorted),
    ]))
}

fn hrandfield(
    f: &Frame,
    key: &[u8],
    count: Option<i64>,
    withvalues: bool,
    conn: &mut Conn,
) -> Result<Frame, String> {
    let hash: BTreeMap<Bytes, Bytes> = match conn.call_strs(&[b"HGETALL", key])? {
        Frame::Array(items) if items.len() % 2 == 0 => items
            .chunks(2)
            .filter_map(|c| match (&c[0], &c[1]) {
                (Frame::Bulk(k), Frame::Bulk(v)) => Some((k.clone(), v.clone())),
                _ => None,
            })
            .collect(),
        _ => return Ok(f.clone()),
    };
    Ok(match (count, f) {
        (None, Frame::Bulk(field)) if hash.contains_key(field) => {
            placeholder("<a field of the hash>")
        }
        (Some(n), Frame::Array(items)) => {
            let mut out = Vec::new();
            let mut seen = BTreeSet::new();
            let step = if withvalues { 2 } else { 1 };
            if items.len() % step != 0 {
                return Ok(f.clone());
            }
            for c in items.chunks(step) {
                let Frame::Bulk(field) = &c[0] else {
                    out.push(Frame::Array(c.to_vec()));
                    continue;
                };
                let ok_value =
                    !withvalues || matches!(&c[1], Frame::Bulk(v) if hash.get(field) == Some(v));
                let distinct_ok = n < 0 || seen.insert(field.clone());
                if hash.contains_key(field) && ok_value && distinct_ok {
                    out.push(placeholder(if withvalues {
                        "<a field,value pair>"
                    } else {
                        "<a field>"
                    }));
                } else if !distinct_ok {
                    out.push(Frame::Array(vec![placeholder("<duplicate>"), c[0].clone()]));
                } else {
                    out.push(Frame::Array(vec![
                        placeholder("<not in the hash>"),
                        Frame::Array(c.to_vec()),
                    ]));
                }
            }
            Frame::Array(out)
        }
        (_, other) => other.clone(),
    })
}

/// A byte encoding of a frame that orders frames totally (used for sorting).
pub fn enc(f: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    enc_into(f, &mut out);
    out
}

fn enc_into(f: &Frame, out: &mut Vec<u8>) {
    match f {
        Frame::Bulk(b) => {
            out.push(b'$');
            out.extend_from_slice(b);
        }
        Frame::Simple(b) => {
            out.push(b'+');
            out.extend_from_slice(b);
        }
        Frame::Error(b) => {
            out.push(b'-');
            out.extend_from_slice(b);
        }
        other => {
            out.push(b'?');
            out.extend_from_slice(show(other).as_bytes());
        }
    }
    out.push(0);
}

/// Bytes as a quoted string, escaping like redis-cli, long strings abbreviated.
pub fn quote(b: &[u8]) -> String {
    let (body, suffix) = escaped(b, 80);
    format!("\"{body}\"{suffix}")
}

/// Error and status text: escaped, unquoted, abbreviated only when very long.
fn unquoted(b: &[u8]) -> String {
    let (body, suffix) = escaped(b, 400);
    format!("{body}{suffix}")
}

/// `(escaped body, "...(N bytes)" when abbreviated)`.
fn escaped(b: &[u8], limit: usize) -> (String, String) {
    let mut s = String::new();
    let shown = if b.len() > limit { &b[..limit / 2] } else { b };
    for &c in shown {
        match c {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            b'\r' => s.push_str("\\r"),
            b'\n' => s.push_str("\\n"),
            b'\t' => s.push_str("\\t"),
            0x20..=0x7e => s.push(c as char),
            _ => s.push_str(&format!("\\x{c:02x}")),
        }
    }
    let suffix = if b.len() > limit {
        format!("...({} bytes)", b.len())
    } else {
        String::new()
    };
    (s, suffix)
}

/// A short human-readable form of a reply.
pub fn show(f: &Frame) -> String {
    match f {
        Frame::Simple(s) => format!("+{}", unquoted(s)),
        Frame::Error(s) => format!("(error) {}", unquoted(s)),
        Frame::Integer(n) => format!("(integer) {n}"),
        Frame::Bulk(b) => quote(b),
        Frame::Null => "(nil)".into(),
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => {
            let mut s = String::from("[");
            for (i, x) in v.iter().enumerate() {
                if i == 12 {
                    s.push_str(&format!(", ...{} more", v.len() - 12));
                    break;
                }
                if i > 0 {
                    s.push_str(", ");
                }
                s.push_str(&show(x));
            }
            s.push(']');
            s
        }
        Frame::Map(kv) | Frame::Attribute(kv) => {
            let items: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{} => {}", show(k), show(v)))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Frame::Double(d) => format!("(double) {d}"),
        Frame::Boolean(b) => format!("(bool) {b}"),
        Frame::BigNumber(b) => format!("(big) {}", String::from_utf8_lossy(b)),
        Frame::Verbatim { text, .. } => format!("(verbatim) {}", quote(text)),
    }
}

/// Shows a reply, noting the raw encoding when it is what differs (`$-1` vs `*-1`).
pub fn show_reply(canon: &Frame, raw: &[u8], other_canon: &Frame, other_raw: &[u8]) -> String {
    let s = show(canon);
    if canon == other_canon && raw != other_raw {
        format!("{s} raw {}", quote(raw))
    } else {
        s
    }
}

/// A command as text.
pub fn show_cmd(args: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        if i == 0 && !a.is_empty() && a.iter().all(|c| c.is_ascii_alphabetic()) {
            s.push_str(&String::from_utf8_lossy(a));
        } else {
            s.push_str(&quote(a));
        }
    }
    s
}
