//! The command language over both protocols, against the real binary: every command
//! type, every interpolation form and every condition operator, each with its error
//! cases, run as `POST /api/v1/commands/execute` and as `MC.EXEC` on the same
//! document. Over HTTP the answer is compared as JSON text, errors by status and
//! message (either `{"message"}` or `{"error":{"message"}}`); over RESP (RESP2) the
//! reply is the same answer downgraded (objects as flat arrays, numbers as bulk
//! strings, true as 1, null as nil), errors `-ERR <summary>: <message>`.

#[path = "support/http.rs"]
mod http;
#[path = "support/resp.rs"]
mod resp;
mod support;

use http::Http;
use mapcache_store::Value;
use resp::{Conn, Resp};
use support::Server;

const DOC: &str = r#"{"n":5,"s":"x","f":1.5,"b":true,"z":null,"o":{"a":1,"b":"two"},"l":[1,2,3],"u":{"u1":{"age":30,"st":"ok"},"u2":{"age":25,"st":"no"}}}"#;

/// What a program must answer: the JSON answer, or an HTTP status with a part of the
/// message.
enum Want {
    Answer(&'static str),
    Error(u16, &'static str),
}

use Want::{Answer, Error};

fn parse(text: &str) -> Value {
    mapcache_store::json::parse(&mut text.as_bytes().to_vec(), 128).expect("JSON")
}

/// A value as a RESP2 client receives a program's answer.
fn resp2(v: &Value) -> Resp {
    match v {
        Value::Null => Resp::Bulk(None),
        Value::Bool(b) => Resp::Int(i64::from(*b)),
        Value::Number(n) if n.fract() == 0.0 => {
            Resp::Bulk(Some(format!("{}", *n as i64).into_bytes()))
        }
        Value::Number(n) => Resp::Bulk(Some(format!("{n}").into_bytes())),
        Value::Str(s) => Resp::Bulk(Some(s.to_vec())),
        Value::List(items) => Resp::Array(Some(items.iter().map(|v| resp2(&v.cow())).collect())),
        Value::Hash(h) => Resp::Array(Some(
            h.iter()
                .flat_map(|(k, v)| [Resp::Bulk(Some(k.to_vec())), resp2(&v.cow())])
                .collect(),
        )),
    }
}

/// The summary words RESP puts before the message, by HTTP status.
fn summary(status: u16, message_part: &str) -> &'static str {
    match status {
        400 if message_part.contains("validation") => "validation failed",
        400 => "invalid json payload",
        408 => "command timed out",
        _ => "command execution failed",
    }
}

/// An HTTP error body's words: Go's `message` (the summary, e.g. `command execution
/// failed`), then mapcache's `detail` (which command failed and why) when present.
fn error_message(body: &str) -> Option<String> {
    let Value::Hash(h) = parse(body) else {
        return None;
    };
    let text = |v: Option<mapcache_store::Field<'_>>| {
        Some(String::from_utf8_lossy(v?.str_bytes()?).into_owned())
    };
    let message = text(h.get(b"message"))?;
    Some(match text(h.get(b"detail")) {
        Some(detail) => format!("{message}: {detail}"),
        None => message,
    })
}

struct Bench {
    _server: Server,
    h: Http,
    c: Conn,
}

impl Bench {
    fn new() -> Bench {
        let server = Server::start(&[]);
        let h = Http::new(server.http);
        let c = Conn::open(&server);
        let big = format!("[{}]", ["0"; 1000].join(","));
        let r = h.post("/api/v1/keys", &format!(r#"{{"entries":{{"big":{big}}}}}"#));
        assert_eq!(r.status, 201, "{}", r.text());
        Bench {
            _server: server,
            h,
            c,
        }
    }

    fn reset(&self) {
        let r = self.h.delete("/api/v1/keys/doc");
        assert_eq!(r.status, 200, "{}", r.text());
        let r = self
            .h
            .post("/api/v1/keys", &format!(r#"{{"entries":{{"doc":{DOC}}}}}"#));
        assert_eq!(r.status, 201, "{}", r.text());
    }

    /// Runs `commands` (a JSON array) over HTTP and over RESP, each on a fresh
    /// document, and checks both against `want`.
    #[track_caller]
    fn check(&mut self, commands: &str, want: Want) {
        let body = format!(r#"{{"commands":{commands}}}"#);
        self.reset();
        let r = self.h.post("/api/v1/commands/execute", &body);
        let text = r.text();
        match &want {
            Answer(answer) => assert_eq!((r.status, text.as_str()), (200, *answer), "HTTP {body}"),
            Error(status, part) => {
                assert_eq!(r.status, *status, "HTTP {body}: {text}");
                let message = error_message(&text)
                    .unwrap_or_else(|| panic!("HTTP {body}: not an error body: {text}"));
                assert!(
                    message.contains(part),
                    "HTTP {body}: {message:?} lacks {part:?}"
                );
            }
        }
        self.reset();
        let reply = self.c.cmd(&["MC.EXEC", &body]);
        match want {
            Answer(answer) => assert_eq!(reply, resp2(&parse(answer)), "RESP {body}"),
            Error(status, part) => {
                let Resp::Error(e) = &reply else {
                    panic!("RESP {body}: expected an error, got {reply:?}");
                };
                let prefix = format!("ERR {}", summary(status, part));
                assert!(
                    e.starts_with(&prefix),
                    "RESP {body}: {e:?} does not start with {prefix:?}"
                );
                assert!(e.contains(part), "RESP {body}: {e:?} lacks {part:?}");
            }
        }
    }

    /// An IF whose branches answer "yes" and "no".
    #[track_caller]
    fn condition(&mut self, condition: &str, want: Result<bool, &'static str>) {
        let condition = condition.replace('"', "\\\"");
        let program = format!(
            r#"[{{"type":"IF","condition":"{condition}","if_true":{{"type":"RETURN","key":"yes"}},"if_false":{{"type":"RETURN","key":"no"}}}}]"#
        );
        match want {
            Ok(true) => self.check(&program, Answer(r#"["yes"]"#)),
            Ok(false) => self.check(&program, Answer(r#"["no"]"#)),
            Err(part) => self.check(&program, Error(500, part)),
        }
    }
}

#[test]
fn every_command_type_over_http_and_resp() {
    let mut b = Bench::new();
    // INC
    b.check(
        r#"[{"type":"INC","key":"doc/n","value":2},{"type":"INC","key":"doc/f","value":-1}]"#,
        Answer("[7,0.5]"),
    );
    b.check(
        r#"[{"type":"INC","key":"doc/zz","value":1}]"#,
        Error(500, "command 1 (INC): key not found: doc/zz"),
    );
    b.check(
        r#"[{"type":"INC","key":"doc/s","value":1}]"#,
        Error(500, "command 1 (INC): not a number"),
    );
    b.check(
        r#"[{"type":"INC","key":"doc/n","value":"1"}]"#,
        Error(400, "field value: expected a number"),
    );
    // REPLACE: the value as given, never interpolated; the key must exist.
    b.check(
        r#"[{"type":"REPLACE","key":"doc/z","value":{"k":"${{doc/n}}"}},{"type":"GET","key":"doc/z"}]"#,
        Answer(r#"[{"k":"${{doc/n}}"},{"k":"${{doc/n}}"}]"#),
    );
    b.check(
        r#"[{"type":"REPLACE","key":"doc/new","value":1}]"#,
        Error(500, "command 1 (REPLACE): key not found: doc/new"),
    );
    // DELETE: the old value, null when none, every match with a wildcard.
    b.check(
        r#"[{"type":"DELETE","key":"doc/n"},{"type":"DELETE","key":"doc/n"},{"type":"DELETE","key":"doc/u/*/age"},{"type":"GET","key":"doc/u"}]"#,
        Answer(r#"[5,null,[30,25],{"u1":{"st":"ok"},"u2":{"st":"no"}}]"#),
    );
    b.check(
        r#"[{"type":"DELETE","key":"doc/l/*"},{"type":"GET","key":"doc/l"}]"#,
        Answer("[[1,2,3],[]]"),
    );
    // GET, with a wildcard an object of the matches by path, sorted.
    b.check(
        r#"[{"type":"GET","key":"doc/o"},{"type":"GET","key":"doc/u/*/st"},{"type":"GET","key":"doc/none/*"}]"#,
        Answer(r#"[{"a":1,"b":"two"},{"doc/u/u1/st":"ok","doc/u/u2/st":"no"},{}]"#),
    );
    b.check(
        r#"[{"type":"NOOP"},{"type":"GET","key":"doc/zz"}]"#,
        Error(500, "command 2 (GET): key not found: doc/zz"),
    );
    // RETURN of values other than strings: as given.
    b.check(r#"[{"type":"RETURN","key":5},{"type":"RETURN","key":true},{"type":"RETURN","key":null},{"type":"RETURN","key":{"a":"${{doc/n}}"}}]"#,
        Answer(r#"[5,true,null,{"a":"${{doc/n}}"}]"#));
    // PRINT: each message interpolated with %v; none is null.
    b.check(
        r#"[{"type":"PRINT","messages":["n is ${{doc/n}}","o ${{doc/o}} l ${{doc/l}} z ${{doc/z}} b ${{doc/b}}"]},{"type":"PRINT","messages":[]}]"#,
        Answer(r#"[["n is 5","o map[a:1 b:two] l [1 2 3] z <nil> b true"],null]"#),
    );
    b.check(
        r#"[{"type":"PRINT","messages":["${{doc/zz}}"]}]"#,
        Error(500, "command 1 (PRINT): key not found: doc/zz"),
    );
    b.check(
        r#"[{"type":"PRINT","messages":"x"}]"#,
        Error(400, "expected an array of strings"),
    );
    // NOOP
    b.check(r#"[{"type":"NOOP"}]"#, Answer("[null]"));
    // COMMANDS: in order, stopping at the first error; none is null.
    b.check(
        r#"[{"type":"COMMANDS","commands":[{"type":"INC","key":"doc/n","value":1},{"type":"GET","key":"doc/n"}]},{"type":"COMMANDS","commands":[]}]"#,
        Answer("[[6,6],null]"),
    );
    b.check(
        r#"[{"type":"COMMANDS","commands":[{"type":"INC","key":"doc/n","value":1},{"type":"GET","key":"doc/x"}]}]"#,
        Error(500, "command 1 (COMMANDS): command 2 (GET): key not found: doc/x"),
    );
    // IF: one branch; both are required.
    b.check(
        r#"[{"type":"IF","condition":"${{doc/n}} > 1","if_true":{"type":"INC","key":"doc/n","value":1},"if_false":{"type":"NOOP"}}]"#,
        Answer("[6]"),
    );
    b.check(
        r#"[{"type":"IF","condition":"true","if_true":{"type":"GET","key":"doc/x"},"if_false":{"type":"NOOP"}}]"#,
        Error(500, "command 1 (IF): if_true (GET): key not found: doc/x"),
    );
    b.check(
        r#"[{"type":"IF","condition":"true","if_true":{"type":"NOOP"}}]"#,
        Error(400, "missing command"),
    );
    // FOR: one result per match and command; captures; nested loops.
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{doc/u/*/age}}","commands":[{"type":"INC","key":"doc/u/${{1}}/age","value":1}]},{"type":"FOR","loop_expr":"${{doc/none/*}}","commands":[{"type":"NOOP"}]}]"#,
        Answer(r#"[[{"Error":null,"Value":31},{"Error":null,"Value":26}],null]"#),
    );
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{doc/u/*}}","commands":[{"type":"FOR","loop_expr":"${{doc/u/${{1}}/*}}","commands":[{"type":"RETURN","key":"${{1}}"}]}]}]"#,
        Answer(
            r#"[[{"Error":null,"Value":[{"Error":null,"Value":"u1"},{"Error":null,"Value":"u1"}]},{"Error":null,"Value":[{"Error":null,"Value":"u2"},{"Error":null,"Value":"u2"}]}]]"#,
        ),
    );
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{doc/n}}","commands":[{"type":"NOOP"}]}]"#,
        Error(500, "FOR expression must include a wildcard: doc/n"),
    );
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{doc/u/*}}","commands":[{"type":"INC","key":"doc/u/${{1}}/st","value":1}]}]"#,
        Error(500, "command 1 (FOR): match doc/u/u1, command 1 (INC): not a number"),
    );
    // Malformed programs, and the budget: a million steps answer 408.
    b.check("[]", Error(400, "validation"));
    b.check(
        r#"[{"type":"NOPE"}]"#,
        Error(400, "unknown command type: NOPE"),
    );
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{big/*}}","commands":[{"type":"FOR","loop_expr":"${{big/*}}","commands":[{"type":"NOOP"}]}]}]"#,
        Error(408, "step limit exceeded"),
    );
}

#[test]
fn every_interpolation_form_over_http_and_resp() {
    let mut b = Bench::new();
    let ret = |key: &str| {
        format!(
            r#"[{{"type":"RETURN","key":"{}"}}]"#,
            key.replace('"', "\\\"")
        )
    };
    // No placeholder; one placeholder keeps its JSON type; a wildcard is the array of
    // the matches' values.
    b.check(&ret("plain text"), Answer(r#"["plain text"]"#));
    b.check(&ret("${{doc/n}}"), Answer("[5]"));
    b.check(&ret("${{ doc/o }}"), Answer(r#"[{"a":1,"b":"two"}]"#));
    b.check(&ret("${{doc/z}}"), Answer("[null]"));
    b.check(&ret("${{doc/l/*}}"), Answer("[[1,2,3]]"));
    b.check(&ret("${{doc/none/*}}"), Answer("[[]]"));
    // Templates print with Go's %v.
    b.check(
        &ret("n=${{doc/n}} f=${{doc/f}} s=${{doc/s}} b=${{doc/b}} z=${{doc/z}} o=${{doc/o}} l=${{doc/l}}"),
        Answer(r#"["n=5 f=1.5 s=x b=true z=<nil> o=map[a:1 b:two] l=[1 2 3]"]"#),
    );
    // Fallbacks: the key when it exists (a stored null counts), else the literal.
    b.check(&ret("${{doc/n || 7}}"), Answer("[5]"));
    b.check(&ret("${{doc/z || 7}}"), Answer("[null]"));
    b.check(&ret("${{doc/zz || 7}}"), Answer("[7]"));
    b.check(&ret("${{doc/zz || -3}}"), Answer("[-3]"));
    b.check(&ret("${{doc/zz || 2.5}}"), Answer("[2.5]"));
    b.check(&ret("${{doc/zz || true}}"), Answer("[true]"));
    b.check(&ret("${{doc/zz || false}}"), Answer("[false]"));
    b.check(&ret("${{doc/zz || null}}"), Answer("[null]"));
    b.check(&ret("${{doc/zz || nil}}"), Answer("[null]"));
    b.check(&ret("${{doc/zz || 'quoted'}}"), Answer(r#"["quoted"]"#));
    b.check(&ret("${{doc/zz || \"dq\"}}"), Answer(r#"["dq"]"#));
    b.check(&ret("${{doc/zz || raw text}}"), Answer(r#"["raw text"]"#));
    b.check(
        &ret("v=${{doc/zz || 1000000}} w=${{doc/n || 0}}"),
        Answer(r#"["v=1000000 w=5"]"#),
    );
    // Captures are substituted before the rest.
    b.check(
        r#"[{"type":"FOR","loop_expr":"${{doc/u/*}}","commands":[{"type":"RETURN","key":"${{1}} is ${{doc/u/${{1}}/age}}"}]}]"#,
        Answer(r#"[[{"Error":null,"Value":"u1 is 30"},{"Error":null,"Value":"u2 is 25"}]]"#),
    );
    // Errors.
    b.check(
        &ret("${{doc/zz}}"),
        Error(500, "interpolation error for key"),
    );
    b.check(&ret("t ${{doc/zz}}"), Error(500, "key not found: doc/zz"));
    b.check(
        &ret("t ${{doc/l/*}}"),
        Error(500, "wildcards not allowed in templated string"),
    );
    b.check(
        &ret("${{doc/zz || 1 || 2}}"),
        Error(500, "fallback expression must have exactly 2 parts"),
    );
    b.check(
        &ret("${{doc/l/* || 1}}"),
        Error(500, "wildcards not allowed with fallback operator"),
    );
    // PRINT does not read fallbacks: the key is looked up as written.
    b.check(
        r#"[{"type":"PRINT","messages":["${{doc/zz || 1}}"]}]"#,
        Error(500, "key not found: doc/zz || 1"),
    );
}

#[test]
fn every_condition_operator_over_http_and_resp() {
    let mut b = Bench::new();
    // == and != compare type and value.
    b.condition("${{doc/n}} == 5", Ok(true));
    b.condition("${{doc/s}} == 'x'", Ok(true));
    b.condition("${{doc/n}} == '5'", Ok(false));
    b.condition("${{doc/z}} == ${{doc/missing}}", Ok(true));
    b.condition("${{doc/o}} == ${{doc/o}}", Ok(true));
    b.condition("${{doc/n}} != 5", Ok(false));
    b.condition("${{doc/n}} != '5'", Ok(true));
    // Orderings: two numbers or two strings.
    b.condition("${{doc/n}} < 6", Ok(true));
    b.condition("'a' < 'b'", Ok(true));
    b.condition("${{doc/n}} <= 5", Ok(true));
    b.condition("${{doc/f}} > 1", Ok(true));
    b.condition("${{doc/n}} >= 6", Ok(false));
    b.condition("${{doc/s}} > 1", Err("evaluation error: Value 'x' cannot be used with the comparator '>', it is not a number"));
    b.condition("${{doc/z}} < 1", Err("evaluation error"));
    // && || ! need booleans; short circuits do not look at the right side.
    b.condition("${{doc/b}} && ${{doc/n}} > 1", Ok(true));
    b.condition("false && ${{doc/s}}", Ok(false));
    b.condition("true || ${{doc/s}}", Ok(true));
    b.condition("${{doc/n}} > 9 || ${{doc/b}}", Ok(true));
    b.condition("!${{doc/b}}", Ok(false));
    b.condition("!(${{doc/n}} > 9)", Ok(true));
    b.condition("${{doc/n}} && true", Err("evaluation error"));
    b.condition("true && ${{doc/s}}", Err("evaluation error"));
    b.condition("!${{doc/n}}", Err("evaluation error"));
    // any() and all() over wildcard matches; no match is false for both.
    b.condition("any(${{doc/u/*/age}} > 29)", Ok(true));
    b.condition("all(${{doc/u/*/age}} > 29)", Ok(false));
    b.condition("all(${{doc/u/*/age}} >= 25)", Ok(true));
    b.condition("any(${{doc/u/*/st}} == \"no\")", Ok(true));
    b.condition("any(${{doc/none/*}} == 1)", Ok(false));
    b.condition("all(${{doc/none/*}} == 1)", Ok(false));
    b.condition("any(${{doc/u/*/st}} > 1)", Err("evaluation error"));
    // Arithmetic with govaluate's precedence; + concatenates strings.
    b.condition("${{doc/n}} + 1 == 6", Ok(true));
    b.condition("${{doc/s}} + 1 == 'x1'", Ok(true));
    b.condition("${{doc/n}} * 2 - 1 == 9", Ok(true));
    b.condition("(${{doc/n}} + 1) * 2 == 12", Ok(true));
    b.condition("${{doc/n}} % 2 == 1", Ok(true));
    b.condition("${{doc/n}} / 2 == 2.5", Ok(true));
    b.condition("-${{doc/n}} < 0", Ok(true));
    b.condition("${{doc/s}} - 1 == 0", Err("evaluation error"));
    // The result must be a boolean; text that does not parse is invalid.
    b.condition("${{doc/n}}", Err("expression did not return a boolean"));
    b.condition("", Err("expression did not return a boolean"));
    b.condition("1 +", Err("invalid expression"));
    b.condition("${{doc/s}} =~ 'x'", Err("invalid expression"));
    b.condition("(true", Err("invalid expression"));
    b.condition("name == 1", Err("evaluation error"));
}
