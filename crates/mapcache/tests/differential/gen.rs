//! The seeded command generator of the differential test.
//!
//! Everything here depends only on the seed: the same seed gives the same stream of
//! [`Op`]s, byte for byte, on every machine. The one thing resolved at send time is an
//! absolute Unix time (`EXPIREAT`, `SET .. EXAT`, ...): the generator emits it as an
//! offset from "now" ([`Arg::UnixSecs`] / [`Arg::UnixMs`]) and the harness turns it into
//! the same literal for both servers just before sending.

/// splitmix64: tiny, fast, good enough to drive a fuzzer, and stable forever (unlike a
/// crate whose algorithm could change between versions and silently change every seed).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (the modulo bias is irrelevant here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (self.next_u64() as u128 % span) as i128) as i64
    }

    /// True with probability `pct` percent.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

/// One argument of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Lit(Vec<u8>),
    /// Unix time in seconds: now + offset (resolved at send time).
    UnixSecs(i64),
    /// Unix time in milliseconds: now + offset (resolved at send time).
    UnixMs(i64),
}

/// How the two replies of an op are made comparable (see `normalize.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Norm {
    /// Byte-exact, including the raw encoding (`$-1` vs `*-1`).
    Exact,
    /// KEYS, HKEYS, HVALS: element order is the hash table's.
    Sorted,
    /// HGETALL: field/value pairs in the hash table's order.
    SortedPairs,
    /// TTL, PTTL, EXPIRETIME, PEXPIRETIME: equal within `tolerance` (s or ms).
    Ttl { tolerance: i64 },
    /// SCAN (`key == None`) or HSCAN: a scan from cursor 0 is iterated to completion
    /// and the sorted union compared; from any other cursor only the reply's shape.
    Scan {
        hash_key: Option<Vec<u8>>,
        /// Index of the cursor argument.
        cursor_at: usize,
    },
    /// HRANDFIELD: which fields is random; compare shape, length, membership.
    HRandField {
        key: Vec<u8>,
        count: Option<i64>,
        withvalues: bool,
    },
    /// RANDOMKEY: which key is random; compare nil-ness and that the key exists.
    RandomKey,
}

/// One generated command.
#[derive(Debug, Clone)]
pub struct Op {
    /// Statistics bucket: the upper-case command name (`SET`, `HSCAN`, ...).
    pub name: &'static str,
    pub args: Vec<Arg>,
    pub norm: Norm,
    /// Keys the command touches (deleted on both servers after a mismatch, so one
    /// divergence does not cascade into hundreds).
    pub keys: Vec<Vec<u8>>,
    /// `Some(ms)`: the command may leave a key whose deadline is past or a few ms
    /// away. Sleep `ms`, then `EXISTS` its keys on both servers (not compared): Redis
    /// reclaims an expired key lazily on access, so without this DBSIZE would depend
    /// on when Redis's active-expiry cycle happened to run.
    pub settle_ms: Option<u64>,
    /// A SELECT's target database, for the harness's bookkeeping.
    pub select: Option<i64>,
}

/// The shared keyspace: small, so types collide (WRONGTYPE) all the time. Includes the
/// empty key, binary keys with CR LF and NUL, invalid UTF-8 and glob metacharacters.
pub const KEYS: &[&[u8]] = &[
    b"k0",
    b"k1",
    b"k2",
    b"k3",
    b"k4",
    b"k5",
    b"k6",
    b"k7",
    b"k8",
    b"k9",
    b"k10",
    b"K1",
    b"",
    b"bin\r\n\0key",
    b"k\xff\xfe",
    b"{t}a",
    b"{t}b",
    b"sp ace",
    b"*",
    b"k?",
];

/// Each family's preferred keys (indices into [`KEYS`]): a typed command picks one of
/// them 85% of the time and any key otherwise, so most calls find a value of their
/// type and a steady share hit WRONGTYPE.
const STRING_KEYS: &[usize] = &[0, 1, 2, 3, 4, 12, 13, 14];
const HASH_KEYS: &[usize] = &[5, 6, 7, 8, 15, 17];
const LIST_KEYS: &[usize] = &[9, 10, 11, 16, 18, 19];

fn family_keys(cmd: &str) -> Option<&'static [usize]> {
    const STRING_CMDS: &[&str] = &[
        "GET",
        "SET",
        "INCR",
        "DECR",
        "INCRBY",
        "DECRBY",
        "MGET",
        "MSET",
        "MSETNX",
        "GETSET",
        "SETNX",
        "SETEX",
        "PSETEX",
        "STRLEN",
        "APPEND",
        "GETRANGE",
        "SETRANGE",
        "GETEX",
        "GETDEL",
        "INCRBYFLOAT",
    ];
    if cmd.starts_with('H') {
        Some(HASH_KEYS)
    } else if cmd.starts_with('L') || cmd.starts_with("RP") {
        Some(LIST_KEYS)
    } else if STRING_CMDS.contains(&cmd) {
        Some(STRING_KEYS)
    } else {
        None
    }
}

/// Databases the stream uses (SELECT, COPY .. DB); the state check walks these.
pub const DBS: i64 = 3;

const FIELDS: &[&[u8]] = &[
    b"f0",
    b"f1",
    b"f2",
    b"f3",
    b"f4",
    b"",
    b"f\r\n\0x",
    b"F0",
    b"field-name-longer-than-sixty-four-bytes-so-redis-converts-to-a-hashtable-encoding",
];

/// List elements: a small pool so LREM, LPOS and LINSERT pivots actually match.
const ELEMS: &[&[u8]] = &[b"a", b"b", b"c", b"1", b"", b"x\r\n\0y", b"-2", b"A"];

const INT_EDGES: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775806",
    "-9223372036854775807",
    "4611686018427387904",
    "-4611686018427387904",
];

const BAD_INTS: &[&str] = &[
    "abc",
    "",
    "1.5",
    " 1",
    "1 ",
    "0x10",
    "9223372036854775808",
    "-9223372036854775809",
    "1e3",
    "+1",
    "--1",
    "-",
    "007",
    "-0",
    "1\0",
];

const FLOATS: &[&str] = &[
    "1.5",
    "-0.25",
    "2",
    "0.5",
    "-3",
    "1e2",
    "1.5e3",
    "10.75",
    "-100.125",
    "0",
    "3.0",
    "0.1",
    "0.2",
    "1.1",
    "-0.3",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "abc",
    "",
    "1.5 ",
    " 1.5",
    "0x10",
    ".5",
    "5.",
    "1e400",
    "-0",
    "+2.5",
    "1e-5",
    "1e",
    "9223372036854775807",
    "1.7976931348623157e308",
];

const PATTERNS: &[&[u8]] = &[
    b"*", b"k*", b"k?", b"k[0-5]", b"k[^0-5]", b"k[1-]", b"*a*", b"\\*", b"[", b"[a-", b"k[",
    b"\\", b"{t}*", b"*\r\n*", b"", b"k1", b"K?", b"?", b"??", b"*[\\]]*", b"f*", b"f?", b"*\0*",
    b"[a-z]*", b"[z-a]0",
];

/// A command generator: name (stats bucket) and weight.
type GenFn = fn(&mut Gen, &mut B);

/// Builds one op.
#[derive(Debug)]
pub struct B {
    name: &'static str,
    args: Vec<Arg>,
    keys: Vec<Vec<u8>>,
    norm: Norm,
    settle_ms: Option<u64>,
    select: Option<i64>,
    /// The generator may add, drop or truncate arguments (wrong arity).
    mutable_arity: bool,
}

impl B {
    fn lit(&mut self, b: impl AsRef<[u8]>) {
        self.args.push(Arg::Lit(b.as_ref().to_vec()));
    }
    fn settle(&mut self, ms: u64) {
        self.settle_ms = Some(self.settle_ms.unwrap_or(0).max(ms));
    }
}

/// The seeded generator.
#[derive(Debug)]
pub struct Gen {
    pub rng: Rng,
    table: Vec<(&'static str, u64, GenFn)>,
    total: u64,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        let table = table();
        let total = table.iter().map(|t| t.1).sum();
        Gen {
            rng: Rng::new(seed),
            table,
            total,
        }
    }

    /// Every command name the generator can emit (for coverage reporting).
    pub fn names(&self) -> Vec<&'static str> {
        self.table.iter().map(|t| t.0).collect()
    }

    pub fn next_op(&mut self) -> Op {
        let mut x = self.rng.below(self.total);
        let mut idx = 0;
        for (i, t) in self.table.iter().enumerate() {
            if x < t.1 {
                idx = i;
                break;
            }
            x -= t.1;
        }
        let (name, _, f) = self.table[idx];
        let mut b = B {
            name,
            args: Vec::new(),
            keys: Vec::new(),
            norm: Norm::Exact,
            settle_ms: None,
            select: None,
            mutable_arity: true,
        };
        let cmd = self.case(name);
        b.args.push(Arg::Lit(cmd));
        f(self, &mut b);
        // Wrong arity: ~4% of ops lose arguments or gain one.
        if b.mutable_arity && self.rng.pct(4) {
            match self.rng.below(3) {
                0 => b.args.truncate(1),
                1 if b.args.len() > 1 => {
                    b.args.pop();
                }
                _ => {
                    let v = self.value();
                    b.lit(v);
                }
            }
        }
        Op {
            name: b.name,
            args: b.args,
            norm: b.norm,
            keys: b.keys,
            settle_ms: b.settle_ms,
            select: b.select,
        }
    }

    // ---- argument pools -------------------------------------------------------

    /// A command or option name in random case: upper, lower or mixed.
    pub fn case(&mut self, s: &str) -> Vec<u8> {
        match self.rng.below(10) {
            0..=4 => s.to_ascii_uppercase().into_bytes(),
            5..=6 => s.to_ascii_lowercase().into_bytes(),
            _ => s
                .bytes()
                .map(|c| {
                    if self.rng.pct(50) {
                        c.to_ascii_lowercase()
                    } else {
                        c.to_ascii_uppercase()
                    }
                })
                .collect(),
        }
    }

    /// A key for command `cmd`: usually one its family prefers.
    fn key_for(&mut self, cmd: &str) -> Vec<u8> {
        match family_keys(cmd) {
            Some(pool) if self.rng.pct(85) => KEYS[*self.rng.pick(pool)].to_vec(),
            _ => self.rng.pick(KEYS).to_vec(),
        }
    }

    fn field(&mut self) -> Vec<u8> {
        if self.rng.pct(70) {
            FIELDS[self.rng.below(4) as usize].to_vec()
        } else {
            self.rng.pick(FIELDS).to_vec()
        }
    }

    fn elem(&mut self) -> Vec<u8> {
        if self.rng.pct(85) {
            self.rng.pick(ELEMS).to_vec()
        } else {
            self.value()
        }
    }

    fn word(&mut self, min: u64, max: u64) -> Vec<u8> {
        let n = min + self.rng.below(max - min + 1);
        (0..n)
            .map(|_| b"abcdefghijklmnopqrstuvwxyz0123456789"[self.rng.below(36) as usize])
            .collect()
    }

    fn big(&mut self, n: usize) -> Vec<u8> {
        let seed = self.rng.next_u64();
        let mut r = Rng::new(seed);
        let mut v = Vec::with_capacity(n);
        while v.len() < n {
            let x = r.next_u64().to_le_bytes();
            v.extend_from_slice(&x[..(n - v.len()).min(8)]);
        }
        // Sprinkle CR LF so large values also exercise the escaping paths.
        if n > 4 {
            v[1] = b'\r';
            v[2] = b'\n';
        }
        v
    }

    /// A value: numbers (valid, edge, malformed), words, binary, empty, large.
    pub fn value(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=24 => self.rng.range(-10, 100).to_string().into_bytes(),
            25..=31 => self.rng.pick(INT_EDGES).as_bytes().to_vec(),
            32..=41 => self.rng.pick(FLOATS).as_bytes().to_vec(),
            42..=44 => self.rng.pick(BAD_INTS).as_bytes().to_vec(),
            45..=70 => self.word(1, 8),
            71..=74 => self.rng.pick(ELEMS).to_vec(),
            75..=81 => {
                let fixed: &[&[u8]] = &[b"a\r\nb", b"\0", b"\r\n", b"x\0y\r\n", b"\r", b"\n\n"];
                if self.rng.pct(50) {
                    self.rng.pick(fixed).to_vec()
                } else {
                    let n = self.rng.below(16) as usize;
                    (0..n).map(|_| self.rng.next_u64() as u8).collect()
                }
            }
            82..=88 => Vec::new(),
            89..=97 => {
                let n = 60 + self.rng.below(150) as usize;
                self.big(n)
            }
            _ => {
                if self.rng.pct(12) {
                    self.big(100 * 1024)
                } else {
                    let n = 1000 + self.rng.below(4000) as usize;
                    self.big(n)
                }
            }
        }
    }

    /// An integer argument: mostly small, some i64 edges, some malformed.
    fn int_arg(&mut self, lo: i64, hi: i64) -> Vec<u8> {
        match self.rng.below(100) {
            0..=69 => self.rng.range(lo, hi).to_string().into_bytes(),
            70..=84 => self.rng.pick(INT_EDGES).as_bytes().to_vec(),
            _ => self.rng.pick(BAD_INTS).as_bytes().to_vec(),
        }
    }

    fn float_arg(&mut self) -> Vec<u8> {
        if self.rng.pct(25) {
            self.rng.range(-50, 50).to_string().into_bytes()
        } else {
            self.rng.pick(FLOATS).as_bytes().to_vec()
        }
    }

    fn pattern(&mut self) -> Vec<u8> {
        self.rng.pick(PATTERNS).to_vec()
    }

    /// A count/index that is sometimes out of range or malformed.
    fn index(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=79 => self.rng.range(-12, 12).to_string().into_bytes(),
            80..=89 => self.rng.pick(INT_EDGES).as_bytes().to_vec(),
            _ => self.rng.pick(BAD_INTS).as_bytes().to_vec(),
        }
    }

    // ---- builders ---------------------------------------------------------------

    fn key(&mut self, b: &mut B) {
        let k = self.key_for(b.name);
        b.keys.push(k.clone());
        b.lit(k);
    }

    fn opt(&mut self, b: &mut B, s: &str) {
        let o = self.case(s);
        b.lit(o);
    }

    /// A relative expiry in seconds (`ms == false`) or milliseconds. Large values, so
    /// nothing expires during a run, plus the edges; marks `b` for settling when the
    /// key may be expired or about to expire.
    fn rel_ttl(&mut self, b: &mut B, ms: bool, allow_tiny: bool) -> Vec<u8> {
        let mul = if ms { 1000 } else { 1 };
        match self.rng.below(100) {
            0..=74 => (self.rng.range(1_000, 1_000_000) * mul)
                .to_string()
                .into_bytes(),
            75..=79 if allow_tiny && ms => {
                b.settle(4);
                self.rng.range(1, 2).to_string().into_bytes()
            }
            75..=82 => {
                b.settle(0);
                self.rng.pick(&["0", "-1", "-100"]).as_bytes().to_vec()
            }
            83..=90 => {
                b.settle(0);
                self.rng
                    .pick(&[
                        "9223372036854775807",
                        "-9223372036854775808",
                        "9223372036854775",
                        "9223372036854776",
                        "4611686018427387",
                        "-9223372036854775",
                    ])
                    .as_bytes()
                    .to_vec()
            }
            _ => self.rng.pick(BAD_INTS).as_bytes().to_vec(),
        }
    }

    /// An absolute deadline (seconds or ms): future, past, or an edge literal.
    fn abs_time(&mut self, b: &mut B, ms: bool) {
        let mul = if ms { 1000 } else { 1 };
        match self.rng.below(100) {
            0..=64 => {
                let off = self.rng.range(1_000, 1_000_000) * mul;
                b.args.push(self.abs_arg(ms, off));
            }
            65..=79 => {
                b.settle(0);
                let off = self.rng.range(-1_000_000, -1) * mul;
                b.args.push(self.abs_arg(ms, off));
            }
            80..=89 => {
                b.settle(0);
                let v = self
                    .rng
                    .pick(&["0", "1", "-1", "-5", "100"])
                    .as_bytes()
                    .to_vec();
                b.lit(v);
            }
            90..=94 => {
                b.settle(0);
                let v = self
                    .rng
                    .pick(&[
                        "9223372036854775807",
                        "-9223372036854775808",
                        "9223372036854775",
                    ])
                    .as_bytes()
                    .to_vec();
                b.lit(v);
            }
            _ => {
                let v = self.rng.pick(BAD_INTS).as_bytes().to_vec();
                b.lit(v);
            }
        }
    }

    fn abs_arg(&self, ms: bool, off: i64) -> Arg {
        if ms {
            Arg::UnixMs(off)
        } else {
            Arg::UnixSecs(off)
        }
    }

    /// One of SET's / GETEX's expiry options with its argument.
    fn expiry_opt(&mut self, b: &mut B) {
        match self.rng.below(4) {
            0 => {
                self.opt(b, "EX");
                let t = self.rel_ttl(b, false, false);
                b.lit(t);
            }
            1 => {
                self.opt(b, "PX");
                let t = self.rel_ttl(b, true, true);
                b.lit(t);
            }
            2 => {
                self.opt(b, "EXAT");
                self.abs_time(b, false);
            }
            _ => {
                self.opt(b, "PXAT");
                self.abs_time(b, true);
            }
        }
    }

    fn unknown_opt(&mut self, b: &mut B) {
        let o = *self
            .rng
            .pick(&["FOO", "NXX", "EXX", "WITHSCORES", "-1", ""]);
        self.opt(b, o);
    }
}

// ---- the per-command generators ------------------------------------------------------

fn g_key1(g: &mut Gen, b: &mut B) {
    g.key(b);
}

fn g_keys(g: &mut Gen, b: &mut B) {
    let n = 1 + g.rng.below(4);
    for _ in 0..n {
        g.key(b);
    }
}

fn g_key_value(g: &mut Gen, b: &mut B) {
    g.key(b);
    let v = g.value();
    b.lit(v);
}

fn g_set(g: &mut Gen, b: &mut B) {
    g.key(b);
    let v = g.value();
    b.lit(v);
    if g.rng.pct(30) {
        return;
    }
    // Options in random order; sometimes conflicting ones (syntax error), sometimes
    // unknown ones, sometimes an option missing its argument.
    let mut opts: Vec<u8> = Vec::new();
    let n = 1 + g.rng.below(3);
    for _ in 0..n {
        let kinds = if g.rng.pct(90) { 5 } else { 7 };
        opts.push(g.rng.below(kinds) as u8);
    }
    for o in opts {
        match o {
            0 => g.expiry_opt(b),
            1 => {
                let o = *g.rng.pick(&["NX", "XX"]);
                g.opt(b, o)
            }
            2 => g.opt(b, "GET"),
            3 => g.opt(b, "KEEPTTL"),
            4 => {
                if g.rng.pct(50) {
                    g.expiry_opt(b)
                } else {
                    g.opt(b, "GET")
                }
            }
            5 => g.unknown_opt(b),
            _ => {
                // option without its argument
                let o = *g.rng.pick(&["EX", "PX", "EXAT", "PXAT"]);
                g.opt(b, o);
            }
        }
    }
}

fn g_intby(g: &mut Gen, b: &mut B) {
    g.key(b);
    let v = g.int_arg(-1000, 1000);
    b.lit(v);
}

fn g_mset(g: &mut Gen, b: &mut B) {
    let n = 1 + g.rng.below(4);
    for _ in 0..n {
        g.key(b);
        let v = g.value();
        b.lit(v);
    }
    if g.rng.pct(5) {
        b.args.pop(); // odd count: wrong number of arguments
    }
}

fn g_setex(g: &mut Gen, b: &mut B) {
    g.key(b);
    let ms = b.name == "PSETEX";
    let t = g.rel_ttl(b, ms, true);
    b.lit(t);
    let v = g.value();
    b.lit(v);
}

fn g_getrange(g: &mut Gen, b: &mut B) {
    g.key(b);
    let s = g.index();
    b.lit(s);
    let e = g.index();
    b.lit(e);
}

fn g_setrange(g: &mut Gen, b: &mut B) {
    g.key(b);
    match g.rng.below(100) {
        0..=79 => {
            let o = g.rng.range(0, 40).to_string();
            b.lit(o);
            let v = g.value();
            b.lit(v);
        }
        80..=87 => {
            let o = g.rng.range(0, 200_000).to_string();
            b.lit(o);
            let v = g.word(0, 3);
            b.lit(v);
        }
        88..=91 => {
            // Past the 512 MiB limit: an error, never an allocation.
            let (o, v): (&str, &[u8]) = *g.rng.pick(&[
                ("536870912", b"a" as &[u8]),
                ("536870911", b"ab"),
                ("9223372036854775807", b"x"),
            ]);
            b.lit(o);
            b.lit(v);
        }
        _ => {
            let o = g
                .rng
                .pick(&["-1", "abc", "", "1.5", "-9223372036854775808"])
                .to_string();
            b.lit(o);
            let v = g.word(0, 3);
            b.lit(v);
        }
    }
}

fn g_getex(g: &mut Gen, b: &mut B) {
    g.key(b);
    match g.rng.below(10) {
        0..=1 => {}
        2..=6 => g.expiry_opt(b),
        7 => g.opt(b, "PERSIST"),
        8 => {
            // Two options, or PERSIST with an expiry: syntax error.
            g.expiry_opt(b);
            if g.rng.pct(50) {
                g.opt(b, "PERSIST")
            } else {
                g.expiry_opt(b)
            }
        }
        _ => {
            if g.rng.pct(50) {
                g.unknown_opt(b)
            } else {
                let o = *g.rng.pick(&["EX", "PX", "EXAT", "PXAT", "KEEPTTL"]);
                g.opt(b, o);
            }
        }
    }
}

fn g_incrbyfloat(g: &mut Gen, b: &mut B) {
    g.key(b);
    let v = g.float_arg();
    b.lit(v);
}

fn g_expire(g: &mut Gen, b: &mut B) {
    g.key(b);
    let ms = b.name.starts_with('P');
    if b.name.ends_with("AT") {
        g.abs_time(b, ms);
    } else {
        let t = g.rel_ttl(b, ms, true);
        b.lit(t);
    }
    match g.rng.below(10) {
        0..=3 => {}
        4..=7 => {
            let o = *g.rng.pick(&["NX", "XX", "GT", "LT"]);
            g.opt(b, o);
        }
        8 => {
            for _ in 0..2 {
                let o = *g.rng.pick(&["NX", "XX", "GT", "LT"]);
                g.opt(b, o);
            }
        }
        _ => g.unknown_opt(b),
    }
}

fn g_ttl(_g: &mut Gen, b: &mut B) {
    b.norm = Norm::Ttl {
        tolerance: if b.name.starts_with('P') { 2000 } else { 2 },
    };
}

fn g_ttl_key(g: &mut Gen, b: &mut B) {
    g.key(b);
    g_ttl(g, b);
}

fn g_keys_cmd(g: &mut Gen, b: &mut B) {
    let p = g.pattern();
    b.lit(p);
    b.norm = Norm::Sorted;
}

fn g_rename(g: &mut Gen, b: &mut B) {
    g.key(b);
    g.key(b);
}

fn g_copy(g: &mut Gen, b: &mut B) {
    g.key(b);
    g.key(b);
    let mut opts = Vec::new();
    if g.rng.pct(40) {
        opts.push(0);
    }
    if g.rng.pct(40) {
        opts.push(1);
    }
    if g.rng.pct(5) {
        opts.push(2);
    }
    if g.rng.pct(50) {
        opts.reverse();
    }
    for o in opts {
        match o {
            0 => {
                g.opt(b, "DB");
                let db = if g.rng.pct(85) {
                    g.rng.range(0, DBS - 1).to_string()
                } else {
                    g.rng.pick(&["16", "-1", "abc", "1.0", ""]).to_string()
                };
                b.lit(db);
            }
            1 => g.opt(b, "REPLACE"),
            _ => g.unknown_opt(b),
        }
    }
}

fn g_none(_g: &mut Gen, _b: &mut B) {}

fn g_randomkey(g: &mut Gen, b: &mut B) {
    b.norm = Norm::RandomKey;
    b.mutable_arity = false;
    if g.rng.pct(3) {
        b.lit("extra"); // wrong arity (compared exactly: an error on both sides)
        b.norm = Norm::Exact;
    }
}

fn scan_opts(g: &mut Gen, b: &mut B, allow_type: bool) {
    let n = g.rng.below(3);
    for _ in 0..n {
        match g.rng.below(if allow_type { 9 } else { 6 }) {
            0..=2 => {
                g.opt(b, "MATCH");
                let p = g.pattern();
                b.lit(p);
            }
            3..=4 => {
                g.opt(b, "COUNT");
                let c = if g.rng.pct(85) {
                    g.rng.range(1, 20).to_string()
                } else {
                    g.rng
                        .pick(&["0", "-1", "abc", "9223372036854775807"])
                        .to_string()
                };
                b.lit(c);
            }
            5 => {
                if g.rng.pct(50) {
                    g.unknown_opt(b)
                } else {
                    let o = *g.rng.pick(&["MATCH", "COUNT", "TYPE"]);
                    g.opt(b, o); // missing its argument
                }
            }
            _ => {
                g.opt(b, "TYPE");
                let t = *g
                    .rng
                    .pick(&["string", "hash", "list", "set", "zset", "none", "foo"]);
                let t = g.case(t);
                b.lit(t);
            }
        }
    }
}

fn scan_cursor(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(100) {
        0..=84 => b"0".to_vec(),
        85..=92 => g.rng.range(1, 1 << 20).to_string().into_bytes(),
        _ => g
            .rng
            .pick(&[
                "abc",
                "-1",
                "18446744073709551616",
                "1.5",
                "",
                "18446744073709551615",
            ])
            .as_bytes()
            .to_vec(),
    }
}

fn g_scan(g: &mut Gen, b: &mut B) {
    let c = scan_cursor(g);
    b.lit(c);
    scan_opts(g, b, true);
    b.norm = Norm::Scan {
        hash_key: None,
        cursor_at: 1,
    };
    b.mutable_arity = false;
}

fn g_hscan(g: &mut Gen, b: &mut B) {
    let k = g.key_for(b.name);
    b.keys.push(k.clone());
    b.lit(&k);
    let c = scan_cursor(g);
    b.lit(c);
    scan_opts(g, b, false);
    b.norm = Norm::Scan {
        hash_key: Some(k),
        cursor_at: 2,
    };
    b.mutable_arity = false;
}

fn g_key_field(g: &mut Gen, b: &mut B) {
    g.key(b);
    let f = g.field();
    b.lit(f);
}

fn g_key_fields(g: &mut Gen, b: &mut B) {
    g.key(b);
    let n = 1 + g.rng.below(4);
    for _ in 0..n {
        let f = g.field();
        b.lit(f);
    }
}

fn g_hset(g: &mut Gen, b: &mut B) {
    g.key(b);
    let n = 1 + g.rng.below(4);
    for _ in 0..n {
        let f = g.field();
        b.lit(f);
        let v = g.value();
        b.lit(v);
    }
    if g.rng.pct(5) {
        b.args.pop();
    }
}

fn g_hsetnx(g: &mut Gen, b: &mut B) {
    g.key(b);
    let f = g.field();
    b.lit(f);
    let v = g.value();
    b.lit(v);
}

fn g_hincrby(g: &mut Gen, b: &mut B) {
    g.key(b);
    let f = g.field();
    b.lit(f);
    let v = g.int_arg(-1000, 1000);
    b.lit(v);
}

fn g_hincrbyfloat(g: &mut Gen, b: &mut B) {
    g.key(b);
    let f = g.field();
    b.lit(f);
    let v = g.float_arg();
    b.lit(v);
}

fn g_sorted_key(g: &mut Gen, b: &mut B) {
    g.key(b);
    b.norm = if b.name == "HGETALL" {
        Norm::SortedPairs
    } else {
        Norm::Sorted
    };
}

fn g_hrandfield(g: &mut Gen, b: &mut B) {
    let k = g.key_for(b.name);
    b.keys.push(k.clone());
    b.lit(&k);
    b.mutable_arity = false;
    let (mut count, mut withvalues) = (None, false);
    match g.rng.below(100) {
        0..=19 => {}
        20..=84 => {
            let c = if g.rng.pct(60) {
                g.rng.range(0, 12)
            } else {
                g.rng.range(-12, -1)
            };
            count = Some(c);
            b.lit(c.to_string());
            if g.rng.pct(50) {
                g.opt(b, "WITHVALUES");
                withvalues = true;
            }
        }
        _ => {
            // Invalid: exact comparison (errors on both sides), or a huge positive
            // count (returns the whole hash, order random: normalised).
            match g.rng.below(6) {
                0 => {
                    b.lit("9223372036854775807");
                    count = Some(i64::MAX);
                }
                1 => b.lit("-9223372036854775808"),
                2 => b.lit("abc"),
                3 => {
                    b.lit("3");
                    g.unknown_opt(b);
                }
                4 => {
                    b.lit("1");
                    g.opt(b, "WITHVALUES");
                    b.lit("x");
                }
                _ => b.lit("1.5"),
            }
            if count.is_none() {
                b.norm = Norm::Exact;
                return;
            }
        }
    }
    b.norm = Norm::HRandField {
        key: k,
        count,
        withvalues,
    };
}

fn g_push(g: &mut Gen, b: &mut B) {
    g.key(b);
    let n = 1 + g.rng.below(4);
    for _ in 0..n {
        let e = g.elem();
        b.lit(e);
    }
}

fn g_pop(g: &mut Gen, b: &mut B) {
    g.key(b);
    if g.rng.pct(50) {
        let c = if g.rng.pct(80) {
            g.rng.range(0, 6).to_string()
        } else {
            g.rng
                .pick(&[
                    "-1",
                    "abc",
                    "9223372036854775807",
                    "-9223372036854775808",
                    "1.5",
                ])
                .to_string()
        };
        b.lit(c);
    }
}

fn g_lrange(g: &mut Gen, b: &mut B) {
    g.key(b);
    let s = g.index();
    b.lit(s);
    let e = g.index();
    b.lit(e);
}

fn g_lindex(g: &mut Gen, b: &mut B) {
    g.key(b);
    let i = g.index();
    b.lit(i);
}

fn g_lset(g: &mut Gen, b: &mut B) {
    g.key(b);
    let i = g.index();
    b.lit(i);
    let e = g.elem();
    b.lit(e);
}

fn g_linsert(g: &mut Gen, b: &mut B) {
    g.key(b);
    let w = *g
        .rng
        .pick(&["BEFORE", "AFTER", "BEFORE", "AFTER", "MIDDLE"]);
    g.opt(b, w);
    let p = g.elem();
    b.lit(p);
    let e = g.elem();
    b.lit(e);
}

fn g_lrem(g: &mut Gen, b: &mut B) {
    g.key(b);
    let c = g.index();
    b.lit(c);
    let e = g.elem();
    b.lit(e);
}

fn g_lpos(g: &mut Gen, b: &mut B) {
    g.key(b);
    let e = g.elem();
    b.lit(e);
    let n = g.rng.below(4);
    for _ in 0..n {
        match g.rng.below(10) {
            0..=2 => {
                g.opt(b, "RANK");
                let r = if g.rng.pct(85) {
                    g.rng.range(-4, 4).to_string()
                } else {
                    g.rng
                        .pick(&["-9223372036854775808", "9223372036854775807", "abc"])
                        .to_string()
                };
                b.lit(r);
            }
            3..=5 => {
                g.opt(b, "COUNT");
                let c = if g.rng.pct(85) {
                    g.rng.range(0, 4).to_string()
                } else {
                    g.rng
                        .pick(&["-1", "abc", "9223372036854775807"])
                        .to_string()
                };
                b.lit(c);
            }
            6..=8 => {
                g.opt(b, "MAXLEN");
                let m = if g.rng.pct(85) {
                    g.rng.range(0, 6).to_string()
                } else {
                    g.rng.pick(&["-1", "abc"]).to_string()
                };
                b.lit(m);
            }
            _ => g.unknown_opt(b),
        }
    }
}

fn g_ping(g: &mut Gen, b: &mut B) {
    if g.rng.pct(50) {
        let v = g.value();
        b.lit(v);
    }
}

fn g_echo(g: &mut Gen, b: &mut B) {
    let v = g.value();
    b.lit(v);
}

fn g_select(g: &mut Gen, b: &mut B) {
    let db: String = match g.rng.below(100) {
        0..=49 => "0".into(),
        50..=74 => "1".into(),
        75..=89 => "2".into(),
        _ => g
            .rng
            .pick(&[
                "16",
                "-1",
                "abc",
                "1.0",
                "",
                "9223372036854775807",
                "01",
                " 1",
            ])
            .to_string(),
    };
    b.select = db.parse().ok();
    b.lit(db);
    b.mutable_arity = false;
}

fn g_flushdb(g: &mut Gen, b: &mut B) {
    match g.rng.below(10) {
        0..=5 => {}
        6 => g.opt(b, "ASYNC"),
        7 => g.opt(b, "SYNC"),
        _ => g.unknown_opt(b),
    }
    b.mutable_arity = false;
}

fn g_unknown(g: &mut Gen, b: &mut B) {
    // Replace the command name with an unknown one.
    let name = *g.rng.pick(&["NOSUCHCMD", "GETT", "HGETX", "LPUSHH"]);
    b.args[0] = Arg::Lit(g.case(name));
    let n = g.rng.below(3);
    for _ in 0..n {
        let v = g.word(0, 4);
        b.lit(v);
    }
    b.mutable_arity = false;
}

/// The command mix. Weights: state builders (SET, HSET, pushes) a bit heavier, the
/// rest equal, FLUSHDB rare; every command appears a couple of hundred times in
/// 20,000 ops.
fn table() -> Vec<(&'static str, u64, GenFn)> {
    vec![
        // strings
        ("GET", 10, g_key1),
        ("SET", 30, g_set),
        ("DEL", 6, g_keys),
        ("EXISTS", 8, g_keys),
        ("INCR", 8, g_key1),
        ("DECR", 8, g_key1),
        ("INCRBY", 10, g_intby),
        ("DECRBY", 10, g_intby),
        ("MGET", 10, g_keys),
        ("MSET", 10, g_mset),
        ("MSETNX", 10, g_mset),
        ("GETSET", 10, g_key_value),
        ("SETNX", 10, g_key_value),
        ("SETEX", 10, g_setex),
        ("PSETEX", 10, g_setex),
        ("STRLEN", 10, g_key1),
        ("APPEND", 10, g_key_value),
        ("GETRANGE", 10, g_getrange),
        ("SETRANGE", 10, g_setrange),
        ("GETEX", 10, g_getex),
        ("GETDEL", 6, g_key1),
        ("INCRBYFLOAT", 10, g_incrbyfloat),
        // keys
        ("EXPIRE", 10, g_expire),
        ("PEXPIRE", 10, g_expire),
        ("EXPIREAT", 10, g_expire),
        ("PEXPIREAT", 10, g_expire),
        ("PERSIST", 10, g_key1),
        ("TTL", 10, g_ttl_key),
        ("PTTL", 10, g_ttl_key),
        ("EXPIRETIME", 10, g_ttl_key),
        ("PEXPIRETIME", 10, g_ttl_key),
        ("KEYS", 10, g_keys_cmd),
        ("RENAME", 8, g_rename),
        ("RENAMENX", 8, g_rename),
        ("COPY", 10, g_copy),
        ("TYPE", 10, g_key1),
        ("UNLINK", 5, g_keys),
        ("TOUCH", 10, g_keys),
        ("DBSIZE", 10, g_none),
        ("RANDOMKEY", 10, g_randomkey),
        ("SCAN", 10, g_scan),
        // hashes
        ("HGET", 10, g_key_field),
        ("HSET", 30, g_hset),
        ("HGETALL", 10, g_sorted_key),
        ("HDEL", 10, g_key_fields),
        ("HEXISTS", 10, g_key_field),
        ("HLEN", 10, g_key1),
        ("HKEYS", 10, g_sorted_key),
        ("HVALS", 10, g_sorted_key),
        ("HMGET", 10, g_key_fields),
        ("HMSET", 10, g_hset),
        ("HINCRBY", 10, g_hincrby),
        ("HINCRBYFLOAT", 10, g_hincrbyfloat),
        ("HSETNX", 10, g_hsetnx),
        ("HRANDFIELD", 10, g_hrandfield),
        ("HSTRLEN", 10, g_key_field),
        ("HSCAN", 10, g_hscan),
        // lists
        ("LPUSH", 20, g_push),
        ("LPUSHX", 10, g_push),
        ("RPUSH", 20, g_push),
        ("RPUSHX", 10, g_push),
        ("LPOP", 10, g_pop),
        ("RPOP", 10, g_pop),
        ("LLEN", 10, g_key1),
        ("LRANGE", 10, g_lrange),
        ("LINDEX", 10, g_lindex),
        ("LSET", 10, g_lset),
        ("LTRIM", 10, g_lrange),
        ("LINSERT", 10, g_linsert),
        ("LREM", 10, g_lrem),
        ("LPOS", 10, g_lpos),
        // generic
        ("PING", 5, g_ping),
        ("ECHO", 5, g_echo),
        ("SELECT", 6, g_select),
        ("FLUSHDB", 1, g_flushdb),
        ("(unknown)", 2, g_unknown),
    ]
}
