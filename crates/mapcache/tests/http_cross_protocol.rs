//! One data model for both protocols: every row of the table in docs/http-api.md
//! ("One data model, two protocols"), checked from both sides against the real binary.
//! A row writes over HTTP and reads over RESP and HTTP; where RESP can write the same
//! value, it also writes over RESP and reads over HTTP and RESP.

#[path = "support/http.rs"]
mod http;
mod support;

use http::Http;
use support::Server;

/// A RESP reply as one line of text: bulk and simple strings as they are, integers as
/// `:n`, nil as `(nil)`, arrays as `[a|b|c]`, errors as `-CODE`.
fn show(r: redis::RedisResult<redis::Value>) -> String {
    use redis::Value as V;
    fn one(v: &V) -> String {
        match v {
            V::Nil => "(nil)".into(),
            V::Int(n) => format!(":{n}"),
            V::BulkString(b) => String::from_utf8_lossy(b).into_owned(),
            V::SimpleString(s) => s.clone(),
            V::Okay => "OK".into(),
            V::Array(a) | V::Set(a) => {
                format!("[{}]", a.iter().map(one).collect::<Vec<_>>().join("|"))
            }
            other => format!("{other:?}"),
        }
    }
    match r {
        Ok(v) => one(&v),
        Err(e) => format!("-{}", e.code().unwrap_or("ERR")),
    }
}

struct Side<'a> {
    http: &'a Http,
    con: &'a mut redis::Connection,
}

impl Side<'_> {
    fn resp(&mut self, args: &[&str]) -> String {
        let mut c = redis::cmd(args[0]);
        for a in &args[1..] {
            c.arg(*a);
        }
        show(c.query::<redis::Value>(self.con))
    }

    fn flush(&mut self) {
        assert_eq!(self.resp(&["FLUSHALL"]), "OK");
    }

    /// Runs one row: the HTTP write, then the checks; the RESP write (if any), then the
    /// same checks.
    fn row(&mut self, row: &Row) {
        self.flush();
        let (path, body) = row.http_write;
        let entries = format!(r#"{{"entries":{{"{path}":{body}}}}}"#);
        let r = self.http.post("/api/v1/keys", &entries);
        assert_eq!(r.status, 201, "{}: HTTP write {}", row.name, r.text());
        self.check(row, "created over HTTP");
        // PUT {"value": v} over the node just created: the same data (404 where the
        // create left nothing, as for an empty aggregate at the top level).
        let r = self.http.put(
            &format!("/api/v1/keys/{path}"),
            &format!(r#"{{"value":{body}}}"#),
        );
        let exists = self.http.get(&format!("/api/v1/keys/{path}")).status == 200;
        let want = if exists { 200 } else { 404 };
        assert_eq!(r.status, want, "{}: HTTP PUT {}", row.name, r.text());
        self.check(row, "replaced over HTTP");
        if let Some(cmds) = row.resp_write {
            self.flush();
            for c in cmds {
                let r = self.resp(c);
                assert!(!r.starts_with('-'), "{}: RESP write {c:?}: {r}", row.name);
            }
            self.check(row, "written over RESP");
        }
    }

    fn check(&mut self, row: &Row, how: &str) {
        for (path, want) in row.http_reads {
            let r = self.http.get(&format!("/api/v1/keys/{path}"));
            let got = if r.status == 200 {
                r.text()
            } else {
                r.status.to_string()
            };
            assert_eq!(&got, want, "{} ({how}): HTTP GET {path}", row.name);
        }
        for (cmd, want) in row.resp_reads {
            assert_eq!(&self.resp(cmd), want, "{} ({how}): {cmd:?}", row.name);
        }
    }
}

struct Row {
    name: &'static str,
    /// POST /api/v1/keys `{"entries": {path: body}}`, then PUT /api/v1/keys/{path}
    /// `{"value": body}`.
    http_write: (&'static str, &'static str),
    /// The same value written over RESP, when RESP can express it.
    resp_write: Option<&'static [&'static [&'static str]]>,
    /// GET /api/v1/keys/{path}: the body (status 200), or the status code.
    http_reads: &'static [(&'static str, &'static str)],
    resp_reads: &'static [(&'static [&'static str], &'static str)],
}

/// The table's rows that hold in both key modes (keys without `:`).
const ROWS: &[Row] = &[
    Row {
        name: "string <-> JSON string",
        http_write: ("s", r#""hello""#),
        resp_write: Some(&[&["SET", "s", "hello"]]),
        http_reads: &[("s", r#""hello""#)],
        resp_reads: &[
            (&["GET", "s"], "hello"),
            (&["TYPE", "s"], "string"),
            (&["STRLEN", "s"], ":5"),
        ],
    },
    Row {
        name: "string of digits stays a string",
        http_write: ("d", r#""41""#),
        resp_write: Some(&[&["SET", "d", "41"]]),
        http_reads: &[("d", r#""41""#)],
        resp_reads: &[
            (&["GET", "d"], "41"),
            (&["TYPE", "d"], "string"),
            (&["INCR", "d"], ":42"),
        ],
    },
    Row {
        name: "JSON number -> decimal text",
        http_write: ("n", "41"),
        resp_write: None,
        http_reads: &[("n", "41")],
        resp_reads: &[
            (&["GET", "n"], "41"),
            (&["TYPE", "n"], "string"),
            (&["STRLEN", "n"], ":2"),
        ],
    },
    Row {
        // Go's map-cache stores counters as numbers (its triggers compare them with
        // `== 0`): INCR's result reads as a number over HTTP, byte-exact over RESP.
        name: "counter: HINCRBY -> JSON number",
        http_write: ("c", r#"{"n":41}"#),
        resp_write: Some(&[&["HINCRBY", "c", "n", "41"]]),
        http_reads: &[("c", r#"{"n":41}"#), ("c/n", "41")],
        resp_reads: &[
            (&["HGET", "c", "n"], "41"),
            (&["HINCRBY", "c", "n", "1"], ":42"),
        ],
    },
    Row {
        name: "counter: INCRBY -> JSON number",
        http_write: ("k", "41"),
        resp_write: Some(&[&["INCRBY", "k", "41"]]),
        http_reads: &[("k", "41")],
        resp_reads: &[
            (&["GET", "k"], "41"),
            (&["TYPE", "k"], "string"),
            (&["INCR", "k"], ":42"),
        ],
    },
    Row {
        name: "JSON fraction -> shortest decimal text",
        http_write: ("f", "-1.5e2"),
        resp_write: None,
        http_reads: &[("f", "-150")],
        resp_reads: &[(&["GET", "f"], "-150"), (&["TYPE", "f"], "string")],
    },
    Row {
        name: "JSON true/false/null -> their JSON text",
        http_write: ("b", r#"{"t":true,"f":false,"z":null}"#),
        resp_write: None,
        http_reads: &[("b", r#"{"t":true,"f":false,"z":null}"#)],
        resp_reads: &[
            (&["HGETALL", "b"], "[t|true|f|false|z|null]"),
            (&["HGET", "b", "z"], "null"),
        ],
    },
    Row {
        name: "hash <-> object of strings",
        http_write: ("h", r#"{"f":"v","g":"w"}"#),
        resp_write: Some(&[&["HSET", "h", "f", "v", "g", "w"]]),
        http_reads: &[("h", r#"{"f":"v","g":"w"}"#)],
        resp_reads: &[
            (&["HGETALL", "h"], "[f|v|g|w]"),
            (&["HGET", "h", "g"], "w"),
            (&["HLEN", "h"], ":2"),
            (&["TYPE", "h"], "hash"),
            (&["GET", "h"], "-WRONGTYPE"),
        ],
    },
    Row {
        name: "nested object -> hash with JSON-encoded non-string fields",
        http_write: ("doc", r#"{"a":{"b":1},"c":"x","d":[1,"y"],"e":2.5}"#),
        resp_write: None,
        http_reads: &[("doc", r#"{"a":{"b":1},"c":"x","d":[1,"y"],"e":2.5}"#)],
        resp_reads: &[
            (&["HGETALL", "doc"], r#"[a|{"b":1}|c|x|d|[1,"y"]|e|2.5]"#),
            (&["HGET", "doc", "a"], r#"{"b":1}"#),
            (&["TYPE", "doc"], "hash"),
            (&["GET", "doc"], "-WRONGTYPE"),
            (&["EXISTS", "doc"], ":1"),
        ],
    },
    Row {
        name: "list <-> array of strings",
        http_write: ("l", r#"["a","b","c"]"#),
        resp_write: Some(&[&["RPUSH", "l", "a", "b", "c"]]),
        http_reads: &[("l", r#"["a","b","c"]"#)],
        resp_reads: &[
            (&["LRANGE", "l", "0", "-1"], "[a|b|c]"),
            (&["LINDEX", "l", "1"], "b"),
            (&["TYPE", "l"], "list"),
            (&["GET", "l"], "-WRONGTYPE"),
        ],
    },
    Row {
        name: "array of other values -> list of JSON texts",
        http_write: ("m", r#"[1,{"x":"y"},null,"s"]"#),
        resp_write: None,
        http_reads: &[("m", r#"[1,{"x":"y"},null,"s"]"#)],
        resp_reads: &[
            (&["LRANGE", "m", "0", "-1"], r#"[1|{"x":"y"}|null|s]"#),
            (&["TYPE", "m"], "list"),
        ],
    },
    Row {
        // Redis never keeps an empty aggregate at the top level, whichever protocol
        // writes it: a RESP command could not tell such a key from a missing one.
        name: "empty object at the top level -> no key",
        http_write: ("e", "{}"),
        resp_write: None,
        http_reads: &[("e", "404")],
        resp_reads: &[
            (&["TYPE", "e"], "none"),
            (&["HGETALL", "e"], "[]"),
            (&["EXISTS", "e"], ":0"),
        ],
    },
    Row {
        name: "empty array at the top level -> no key",
        http_write: ("l", "[]"),
        resp_write: None,
        http_reads: &[("l", "404")],
        resp_reads: &[
            (&["TYPE", "l"], "none"),
            (&["LPOP", "l"], "(nil)"),
            (&["EXISTS", "l"], ":0"),
        ],
    },
    Row {
        name: "empty object inside a document -> stays",
        http_write: ("d", r#"{"e":{},"l":[]}"#),
        resp_write: None,
        http_reads: &[("d", r#"{"e":{},"l":[]}"#), ("d/e", "{}"), ("d/l", "[]")],
        resp_reads: &[(&["EXISTS", "d"], ":1"), (&["HLEN", "d"], ":2")],
    },
    Row {
        name: "missing key",
        http_write: ("other", "1"),
        resp_write: Some(&[&["SET", "other", "1"]]),
        http_reads: &[("gone", "404")],
        resp_reads: &[(&["GET", "gone"], "(nil)"), (&["TYPE", "gone"], "none")],
    },
];

/// Rows of path key mode (`--key-mode path`): `:` in RESP keys is `/` in HTTP paths.
const PATH_ROWS: &[Row] = &[
    Row {
        name: "path mode: SET user:100:email <-> GET /keys/user/100/email",
        http_write: ("user/100/email", r#""x""#),
        resp_write: Some(&[&["SET", "user:100:email", "x"]]),
        http_reads: &[
            ("user/100/email", r#""x""#),
            ("user/100", r#"{"email":"x"}"#),
            ("user", r#"{"100":{"email":"x"}}"#),
        ],
        resp_reads: &[
            (&["GET", "user:100:email"], "x"),
            (&["HGETALL", "user:100"], "[email|x]"),
            (&["HGETALL", "user"], r#"[100|{"email":"x"}]"#),
            (&["TYPE", "user:100"], "hash"),
            // KEYS as the Go server answers it: the nodes at the pattern's depth.
            (&["KEYS", "*"], "[user]"),
            (&["KEYS", "user:*:*"], "[user:100:email]"),
        ],
    },
    Row {
        name: "path mode: HSET user:100 fields <-> object at user/100",
        http_write: ("user/100", r#"{"name":"Alice","age":"41"}"#),
        resp_write: Some(&[&["HSET", "user:100", "name", "Alice", "age", "41"]]),
        http_reads: &[
            ("user/100/name", r#""Alice""#),
            ("user/100", r#"{"name":"Alice","age":"41"}"#),
        ],
        resp_reads: &[
            (&["GET", "user:100:name"], "Alice"),
            (&["HGET", "user:100", "age"], "41"),
            (&["DBSIZE"], ":1"),
        ],
    },
    Row {
        name: "path mode: JSON number at a path -> decimal text",
        http_write: ("user/100/age", "41"),
        resp_write: None,
        http_reads: &[("user/100/age", "41")],
        resp_reads: &[
            (&["GET", "user:100:age"], "41"),
            (&["TYPE", "user:100:age"], "string"),
            (&["HGETALL", "user:100"], "[age|41]"),
        ],
    },
    Row {
        name: "path mode: RPUSH user:100:tags <-> array at user/100/tags",
        http_write: ("user/100/tags", r#"["a","b"]"#),
        resp_write: Some(&[&["RPUSH", "user:100:tags", "a", "b"]]),
        http_reads: &[
            ("user/100/tags", r#"["a","b"]"#),
            ("user/100", r#"{"tags":["a","b"]}"#),
        ],
        resp_reads: &[
            (&["LRANGE", "user:100:tags", "0", "-1"], "[a|b]"),
            (&["HGET", "user:100", "tags"], r#"["a","b"]"#),
        ],
    },
];

/// Flat key mode: `:` is an ordinary byte of a RESP key; HTTP still splits on `/`.
const FLAT_ROWS: &[Row] = &[Row {
    name: "flat mode: SET user:100:email is the root key user:100:email",
    http_write: ("user:100:email", r#""x""#),
    resp_write: Some(&[&["SET", "user:100:email", "x"]]),
    http_reads: &[("user:100:email", r#""x""#), ("user", "404")],
    resp_reads: &[
        (&["GET", "user:100:email"], "x"),
        (&["KEYS", "*"], "[user:100:email]"),
    ],
}];

fn run(mode: &str, rows: &[&[Row]]) {
    let server = Server::start(&["--key-mode", mode]);
    let http = Http::new(server.http);
    let client = redis::Client::open(format!("redis://{}/", server.resp).as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut side = Side {
        http: &http,
        con: &mut con,
    };
    for rows in rows {
        for row in rows.iter() {
            side.row(row);
        }
    }
}

#[test]
fn every_row_of_the_table_holds_in_flat_mode() {
    run("flat", &[ROWS, FLAT_ROWS]);
}

#[test]
fn every_row_of_the_table_holds_in_path_mode() {
    run("path", &[ROWS, PATH_ROWS]);
}

#[test]
fn writes_over_resp_are_strings_over_http_and_deletes_cross_over() {
    let server = Server::start(&["--key-mode", "path"]);
    let h = Http::new(server.http);
    let client = redis::Client::open(format!("redis://{}/", server.resp).as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let mut side = Side {
        http: &h,
        con: &mut con,
    };
    // RESP writes strings only: a number written with SET reads back as a JSON string.
    side.resp(&["SET", "n", "41"]);
    h.get("/api/v1/keys/n").is(200, r#""41""#);
    // Bytes that are not UTF-8 read over HTTP with U+FFFD in their place.
    let mut c = redis::cmd("SET");
    c.arg("bin").arg(&b"a\xffb"[..]);
    let _: () = c.query(side.con).unwrap();
    h.get("/api/v1/keys/bin").is(200, "\"a\u{fffd}b\"");
    // A TTL set over HTTP on a nested path is the TTL of that RESP path, and the reverse.
    h.post(
        "/api/v1/keys",
        r#"{"entries":{"u/1":{"s":"t","k":"v"}},"ttl":{"u/1/s":100000}}"#,
    )
    .is(201, "");
    let pttl = side.resp(&["PTTL", "u:1:s"]);
    let ms: i64 = pttl[1..].parse().unwrap();
    assert!((90_000..=100_000).contains(&ms), "{pttl}");
    assert_eq!(side.resp(&["PTTL", "u:1:k"]), ":-1");
    assert_eq!(side.resp(&["PEXPIRE", "u:1:k", "150"]), ":1");
    std::thread::sleep(std::time::Duration::from_millis(250));
    h.get("/api/v1/keys/u/1").is(200, r#"{"s":"t"}"#);
    // DELETE over HTTP is DEL over RESP, and the reverse.
    h.delete("/api/v1/keys/u/1/s").is(200, "");
    h.get("/api/v1/keys/u").is(200, r#"{"1":{}}"#);
    h.delete("/api/v1/keys/u").is(200, "");
    assert_eq!(side.resp(&["EXISTS", "u"]), ":0");
    side.resp(&["SET", "gone", "x"]);
    assert_eq!(side.resp(&["DEL", "gone"]), ":1");
    h.get("/api/v1/keys/gone").is_message(404, "key not found");
}
