//! The request mixes of the scenarios, as [`Workload`]s.

use std::io::Write as _;

use bytes::{Bytes, BytesMut};
use mapcache_resp::encode;

use crate::load::{Expect, Workload};

/// A key like `prefix:a:b`, formatted without allocating.
struct Key {
    buf: [u8; 64],
    len: usize,
}

impl Key {
    fn new(prefix: &str, a: u64, b: u64) -> Key {
        let mut buf = [0u8; 64];
        let len = {
            let mut w = &mut buf[..];
            let _ = write!(w, "{prefix}:{a}:{b}");
            64 - w.len()
        };
        Key { buf, len }
    }

    fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// The value stored under `key`: the key itself padded with `x` to `size` bytes, so a
/// GET can check it got this key's value and not another's.
fn value(key: &[u8], size: usize) -> Bytes {
    let mut v = Vec::with_capacity(size.max(key.len()));
    v.extend_from_slice(key);
    v.resize(size.max(key.len()), b'x');
    Bytes::from(v)
}

/// SET then GET of the same key, alternating; every GET checked. Keys are per
/// connection; with `keyspace` they repeat after that many pairs.
#[derive(Debug)]
pub struct SetGet {
    pub prefix: &'static str,
    pub keyspace: Option<u64>,
    pub value_size: usize,
}

impl Workload for SetGet {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let n = seq / 2;
        let n = self.keyspace.map_or(n, |k| n % k);
        let key = Key::new(self.prefix, conn as u64, n);
        let val = value(key.as_bytes(), self.value_size);
        if seq.is_multiple_of(2) {
            encode::command(buf, &[b"SET", key.as_bytes(), &val]);
            Expect::Ok
        } else {
            encode::command(buf, &[b"GET", key.as_bytes()]);
            Expect::Bulk(val)
        }
    }
}

/// The Go report's sustained mix: SET, GET, INCR, HSET by request number % 4.
#[derive(Debug)]
pub struct Sustained {
    pub value_size: usize,
}

impl Workload for Sustained {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let n = seq / 4;
        let c = conn as u64;
        match seq % 4 {
            0 => {
                let key = Key::new("s", c, n);
                encode::command(
                    buf,
                    &[
                        b"SET",
                        key.as_bytes(),
                        &value(key.as_bytes(), self.value_size),
                    ],
                );
                Expect::Ok
            }
            1 => {
                let key = Key::new("s", c, n);
                encode::command(buf, &[b"GET", key.as_bytes()]);
                Expect::Bulk(value(key.as_bytes(), self.value_size))
            }
            2 => {
                let key = Key::new("n", c, 0);
                encode::command(buf, &[b"INCR", key.as_bytes()]);
                Expect::Int(n as i64 + 1)
            }
            _ => {
                let key = Key::new("h", c, n);
                encode::command(
                    buf,
                    &[
                        b"HSET",
                        key.as_bytes(),
                        b"f",
                        &value(key.as_bytes(), self.value_size),
                    ],
                );
                Expect::Int(1)
            }
        }
    }
}

/// `SET t:i v PXAT deadline` for keys `0..conns*per_conn`, spread over connections.
#[derive(Debug)]
pub struct TtlKeys {
    pub conns: usize,
    pub deadline_unix_ms: u64,
    pub value_size: usize,
}

impl TtlKeys {
    pub fn key(i: u64) -> Vec<u8> {
        Key::new("t", i, 0).as_bytes().to_vec()
    }
}

impl Workload for TtlKeys {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let i = seq * self.conns as u64 + conn as u64;
        let key = Key::new("t", i, 0);
        let mut at = itoa::Buffer::new();
        let at = at.format(self.deadline_unix_ms);
        let val = value(b"", self.value_size);
        encode::command(buf, &[b"SET", key.as_bytes(), &val, b"PXAT", at.as_bytes()]);
        Expect::Ok
    }
}

/// A read-mostly mix over a shared keyspace: replies are only checked for errors (other
/// connections change the same keys).
#[derive(Debug)]
pub struct Mixed {
    pub keyspace: u64,
    pub value_size: usize,
}

/// splitmix64: a cheap, well-mixed pseudo-random number from a counter.
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Workload for Mixed {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let r = mix64(((conn as u64) << 40) ^ seq);
        let k = (r >> 8) % self.keyspace;
        match r % 100 {
            0..50 => {
                encode::command(buf, &[b"GET", Key::new("m:s", k, 0).as_bytes()]);
                Expect::BulkOrNull
            }
            50..70 => {
                let key = Key::new("m:s", k, 0);
                encode::command(
                    buf,
                    &[
                        b"SET",
                        key.as_bytes(),
                        &value(key.as_bytes(), self.value_size),
                    ],
                );
                Expect::Ok
            }
            70..80 => {
                encode::command(buf, &[b"INCR", Key::new("m:n", k % 100, 0).as_bytes()]);
                Expect::AnyInt
            }
            80..88 => {
                let key = Key::new("m:h", k % 1000, 0);
                let field = Key::new("f", r % 10, 0);
                encode::command(buf, &[b"HSET", key.as_bytes(), field.as_bytes(), b"value"]);
                Expect::AnyInt
            }
            88..93 => {
                let key = Key::new("m:h", k % 1000, 0);
                let field = Key::new("f", r % 10, 0);
                encode::command(buf, &[b"HGET", key.as_bytes(), field.as_bytes()]);
                Expect::BulkOrNull
            }
            93..97 => {
                encode::command(
                    buf,
                    &[b"LPUSH", Key::new("m:l", k % 100, 0).as_bytes(), b"item"],
                );
                Expect::AnyInt
            }
            _ => {
                encode::command(buf, &[b"RPOP", Key::new("m:l", k % 100, 0).as_bytes()]);
                Expect::BulkOrNull
            }
        }
    }
}

/// PING, for the connections scenario.
#[derive(Debug)]
pub struct Ping;

impl Workload for Ping {
    fn request(&self, _conn: usize, _seq: u64, buf: &mut BytesMut) -> Expect {
        encode::command(buf, &[b"PING"]);
        Expect::Pong
    }
}

/// What the `memory` scenario stores per key.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `SET` of a string of this many bytes.
    String(usize),
    /// `HSET` of this many fields (`field0`.., 9-byte values), like a small user record.
    Hash(usize),
    /// `RPUSH` of this many 9-byte items.
    List(usize),
}

impl Shape {
    /// The name in the report: `string-32`, `hash-10`, `list-10`.
    pub fn name(self) -> String {
        match self {
            Shape::String(n) => format!("string-{n}"),
            Shape::Hash(n) => format!("hash-{n}"),
            Shape::List(n) => format!("list-{n}"),
        }
    }
}

/// One key of `shape` per request, keys `m:<shape>:<i>` spread over connections.
#[derive(Debug)]
pub struct MemoryKeys {
    conns: usize,
    shape: Shape,
    /// `m:<shape>` and a hash's field names, made once rather than per request.
    prefix: String,
    fields: Vec<String>,
}

impl MemoryKeys {
    pub fn new(conns: usize, shape: Shape) -> Self {
        let fields = match shape {
            Shape::Hash(n) => (0..n).map(|j| format!("field{j}")).collect(),
            Shape::String(_) | Shape::List(_) => Vec::new(),
        };
        MemoryKeys {
            conns,
            shape,
            prefix: format!("m:{}", shape.name()),
            fields,
        }
    }
}

impl Workload for MemoryKeys {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        let i = seq * self.conns as u64 + conn as u64;
        let key = Key::new(&self.prefix, i, 0);
        let item = |j: usize| {
            format!(
                "v{:08}",
                (i as usize).wrapping_mul(31).wrapping_add(j) % 100_000_000
            )
        };
        match self.shape {
            Shape::String(n) => {
                let val = value(key.as_bytes(), n);
                encode::command(buf, &[b"SET", key.as_bytes(), &val]);
                Expect::Ok
            }
            Shape::Hash(n) => {
                let values: Vec<String> = (0..n).map(item).collect();
                let mut args: Vec<&[u8]> = vec![b"HSET", key.as_bytes()];
                for (f, v) in self.fields.iter().zip(&values) {
                    args.push(f.as_bytes());
                    args.push(v.as_bytes());
                }
                encode::command(buf, &args);
                Expect::Int(n as i64)
            }
            Shape::List(n) => {
                let items: Vec<String> = (0..n).map(item).collect();
                let mut args: Vec<&[u8]> = vec![b"RPUSH", key.as_bytes()];
                args.extend(items.iter().map(|s| s.as_bytes()));
                encode::command(buf, &args);
                Expect::Int(n as i64)
            }
        }
    }
}
