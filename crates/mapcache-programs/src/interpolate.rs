//! `${{ key }}` placeholders: finding them, trigger and FOR captures (`${{1}}`),
//! RETURN's interpolation (typed, wildcard, fallback, template) and PRINT's.
//!
//! A placeholder is what Go's `\${{\s*([^}]+?)\s*}}` matches: `${{`, then at least one
//! character up to the first `}`, which must start `}}`; the key is that text
//! trimmed. So a key cannot contain `}`.

use mapcache_store::Value;

use crate::document::Document;
use crate::error::ExecError;
use crate::gofmt;

/// One placeholder in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placeholder<'a> {
    /// Byte offset of `${{`.
    pub start: usize,
    /// Byte offset just after `}}`.
    pub end: usize,
    /// The key: the text between the braces, trimmed.
    pub key: &'a str,
}

/// The placeholder starting exactly at `at`, if one does.
pub(crate) fn placeholder_at(s: &str, at: usize) -> Option<Placeholder<'_>> {
    let rest = s.get(at..)?.strip_prefix("${{")?;
    let close = rest.find('}')?;
    if close == 0 || !rest[close..].starts_with("}}") {
        return None;
    }
    Some(Placeholder {
        start: at,
        end: at + 3 + close + 2,
        key: rest[..close].trim(),
    })
}

/// Every placeholder in `s`, left to right, not overlapping (as Go's regex finds them).
pub fn placeholders(s: &str) -> Vec<Placeholder<'_>> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = s.get(from..).and_then(|rest| rest.find("${{")) {
        let at = from + offset;
        match placeholder_at(s, at) {
            Some(p) => {
                from = p.end;
                found.push(p);
            }
            None => from = at + 1,
        }
    }
    found
}

/// Replaces `${{1}}`, `${{2}}`, ... (exactly so written) by the captured segments.
pub fn substitute_captures(s: &str, captures: &[String]) -> String {
    let mut out = s.to_string();
    for (i, capture) in captures.iter().enumerate() {
        if out.contains("${{") {
            out = out.replace(&format!("${{{{{}}}}}", i + 1), capture);
        }
    }
    out
}

/// A resolved placeholder: its value, and for an integer fallback literal the integer
/// (Go keeps it an `int64`, which `%v` prints without an exponent).
struct Resolved {
    value: Value,
    integer: Option<i64>,
}

impl Resolved {
    fn value(value: Value) -> Resolved {
        Resolved {
            value,
            integer: None,
        }
    }

    fn write(&self, out: &mut String) {
        match (&self.value, self.integer) {
            (_, Some(i)) => out.push_str(&i.to_string()),
            (Value::Str(s), None) => out.push_str(&String::from_utf8_lossy(s)),
            (other, None) => gofmt::write_value(other, out),
        }
    }
}

/// RETURN's interpolation of a string (Go's `evaluateInterpolations`):
/// - no placeholder: the string itself;
/// - the whole string is one placeholder: the value with its JSON type; with `*`, the
///   array of every match's value (`[]` when none); with `||`, the fallback rules;
/// - otherwise a template: each placeholder printed (`%v` for non-strings); a `*` in
///   any of them is an error.
pub fn interpolate<D: Document + ?Sized>(s: &str, doc: &D) -> Result<Value, ExecError> {
    let found = placeholders(s);
    match found.as_slice() {
        [] => Ok(Value::string(s.as_bytes())),
        [p] if p.start == 0 && p.end == s.len() => whole(p.key, doc),
        _ => template(s, &found, doc).map(|text| Value::string(text.as_bytes())),
    }
}

fn whole<D: Document + ?Sized>(key: &str, doc: &D) -> Result<Value, ExecError> {
    if key.contains("||") {
        return fallback(key, doc).map(|r| r.value);
    }
    if key.contains('*') {
        let matches = doc.matches(key).map_err(|e| wildcard_error(key, e))?;
        return Ok(Value::List(matches.into_iter().map(|m| m.value).collect()));
    }
    match doc.get(key) {
        Ok(Some(value)) => Ok(value),
        Ok(None) => Err(interpolation_error(key, &format!("key not found: {key}"))),
        Err(e) => Err(interpolation_error(key, &e.to_string())),
    }
}

fn template<D: Document + ?Sized>(
    s: &str,
    found: &[Placeholder<'_>],
    doc: &D,
) -> Result<String, ExecError> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for p in found {
        let key = p.key;
        if key.contains('*') {
            return Err(ExecError::failed(format!(
                "wildcards not allowed in templated string: {key:?}"
            )));
        }
        out.push_str(&s[last..p.start]);
        let resolved = if key.contains("||") {
            fallback(key, doc).map_err(|e| interpolation_error(key, e.message()))?
        } else {
            match doc.get(key) {
                Ok(Some(value)) => Resolved::value(value),
                Ok(None) => return Err(interpolation_error(key, &format!("key not found: {key}"))),
                Err(e) => return Err(interpolation_error(key, &e.to_string())),
            }
        };
        resolved.write(&mut out);
        last = p.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

/// `key || default`: the key's value when it exists (a stored null counts), else the
/// default read as a literal ([`parse_literal`]). Never looks the default up.
fn fallback<D: Document + ?Sized>(expr: &str, doc: &D) -> Result<Resolved, ExecError> {
    let parts: Vec<&str> = expr.split("||").collect();
    let [key, default] = parts.as_slice() else {
        return Err(ExecError::failed(format!(
            "fallback expression must have exactly 2 parts (key || default), got {} parts in: {expr:?}",
            parts.len()
        )));
    };
    let key = key.trim();
    if key.contains('*') {
        return Err(ExecError::failed(format!(
            "wildcards not allowed with fallback operator: {key:?}"
        )));
    }
    if let Ok(Some(value)) = doc.get(key) {
        return Ok(Resolved::value(value));
    }
    Ok(parse_literal(default))
}

/// A fallback default (Go's `parseLiteral`): `true`, `false`, `null` or `nil`, an
/// integer, a float, a string in `"..."` or `'...'` (quotes removed), else the text.
fn parse_literal(text: &str) -> Resolved {
    let s = text.trim();
    match s {
        "true" => return Resolved::value(Value::Bool(true)),
        "false" => return Resolved::value(Value::Bool(false)),
        "null" | "nil" => return Resolved::value(Value::Null),
        _ => {}
    }
    if let Some(i) = parse_go_int(s) {
        return Resolved {
            value: Value::Number(i as f64),
            integer: Some(i),
        };
    }
    // Rust's float syntax is Go's decimal one; non-finite values (`inf`, `NaN`) are
    // not JSON and stay text.
    if let Some(f) = s.parse::<f64>().ok().filter(|f| f.is_finite()) {
        return Resolved::value(Value::Number(f));
    }
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')));
    if quoted {
        return Resolved::value(Value::string(&s.as_bytes()[1..s.len() - 1]));
    }
    Resolved::value(Value::string(s.as_bytes()))
}

/// Go's `strconv.ParseInt(s, 10, 64)`: an optional sign and decimal digits.
fn parse_go_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// PRINT's interpolation of one message (Go's `ExtractAndReplaceParams` + `Sprintf`):
/// each placeholder's key is looked up as written (no fallback, no wildcard) and
/// printed with `%v`; a missing key is `key not found: k`.
pub fn print_message<D: Document + ?Sized>(s: &str, doc: &D) -> Result<String, ExecError> {
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for p in placeholders(s) {
        out.push_str(&s[last..p.start]);
        match doc.get(p.key)? {
            Some(value) => Resolved::value(value).write(&mut out),
            None => return Err(ExecError::failed(format!("key not found: {}", p.key))),
        }
        last = p.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

fn interpolation_error(key: &str, cause: &str) -> ExecError {
    ExecError::failed(format!("interpolation error for key {key:?}: {cause}"))
}

fn wildcard_error(key: &str, cause: impl std::fmt::Display) -> ExecError {
    ExecError::failed(format!(
        "wildcard interpolation error for key {key:?}: {cause}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::MemoryDocument;

    fn doc() -> MemoryDocument {
        MemoryDocument::from_json(
            r#"{"n":5,"big":1000000,"f":1.5,"s":"text","t":true,"z":null,"o":{"b":2,"a":"x"},"l":[1,"two",null],"u":{"1":{"st":"ok"},"2":{"st":"no"}}}"#,
        )
        .unwrap()
    }

    fn ret(s: &str) -> Result<Value, String> {
        interpolate(s, &doc()).map_err(|e| e.message().to_string())
    }

    fn text(s: &str) -> Value {
        Value::string(s.as_bytes())
    }

    #[test]
    fn finds_placeholders_as_gos_regex_does() {
        let keys = |s: &str| -> Vec<String> {
            placeholders(s).iter().map(|p| p.key.to_string()).collect()
        };
        assert_eq!(keys("a ${{ x }} b ${{y/z}}"), ["x", "y/z"]);
        assert_eq!(keys("${{}} ${{a}"), Vec::<String>::new());
        assert_eq!(keys("${{a ${{b}}"), ["a ${{b"]);
        assert_eq!(keys("${{a}b}} ${{c}}"), ["c"]);
        assert_eq!(keys("$${{{a}}"), ["{a"]);
        let p = placeholders("x${{k}}y");
        assert_eq!((p[0].start, p[0].end), (1, 7));
    }

    #[test]
    fn captures_replace_numbered_placeholders_only() {
        let caps = vec!["7".to_string(), "b".to_string()];
        assert_eq!(
            substitute_captures("a/${{1}}/${{2}}/${{3}}/${{ 1 }}", &caps),
            "a/7/b/${{3}}/${{ 1 }}"
        );
        assert_eq!(
            substitute_captures("no placeholders", &caps),
            "no placeholders"
        );
    }

    #[test]
    fn a_lone_placeholder_keeps_the_json_type() {
        assert_eq!(ret("${{n}}"), Ok(Value::Number(5.0)));
        assert_eq!(ret("${{ t }}"), Ok(Value::Bool(true)));
        assert_eq!(ret("${{z}}"), Ok(Value::Null));
        assert_eq!(ret("${{o/a}}"), Ok(text("x")));
        assert_eq!(ret("${{l/1}}"), Ok(text("two")));
        assert_eq!(ret("plain"), Ok(text("plain")));
        assert_eq!(
            ret("${{missing}}"),
            Err(r#"interpolation error for key "missing": key not found: missing"#.into())
        );
    }

    #[test]
    fn a_lone_wildcard_is_the_array_of_matches() {
        assert_eq!(
            ret("${{u/*/st}}"),
            Ok(Value::List([text("ok"), text("no")].into()))
        );
        // Nulls are not matched.
        assert_eq!(
            ret("${{l/*}}"),
            Ok(Value::List([Value::Number(1.0), text("two")].into()))
        );
        assert_eq!(ret("${{nothing/*}}"), Ok(Value::new_list()));
    }

    #[test]
    fn templates_print_go_percent_v() {
        assert_eq!(
            ret("n=${{n}} big=${{big}} f=${{f}} t=${{t}} z=${{z}}"),
            Ok(text("n=5 big=1e+06 f=1.5 t=true z=<nil>"))
        );
        assert_eq!(
            ret("o=${{o}} l=${{l}}"),
            Ok(text("o=map[a:x b:2] l=[1 two <nil>]"))
        );
        assert_eq!(ret("${{s}}${{s}}"), Ok(text("texttext")));
        assert_eq!(
            ret("all: ${{u/*/st}}"),
            Err(r#"wildcards not allowed in templated string: "u/*/st""#.into())
        );
        assert_eq!(
            ret("x ${{missing}}"),
            Err(r#"interpolation error for key "missing": key not found: missing"#.into())
        );
    }

    #[test]
    fn fallbacks_read_the_default_as_a_literal() {
        assert_eq!(ret("${{n || 1}}"), Ok(Value::Number(5.0)));
        assert_eq!(ret("${{z || 1}}"), Ok(Value::Null), "a stored null exists");
        assert_eq!(ret("${{m || true}}"), Ok(Value::Bool(true)));
        assert_eq!(ret("${{m || false}}"), Ok(Value::Bool(false)));
        assert_eq!(ret("${{m || nil}}"), Ok(Value::Null));
        assert_eq!(ret("${{m || null}}"), Ok(Value::Null));
        assert_eq!(ret("${{m || -42}}"), Ok(Value::Number(-42.0)));
        assert_eq!(ret("${{m || 2.5}}"), Ok(Value::Number(2.5)));
        assert_eq!(ret("${{m || 'quoted'}}"), Ok(text("quoted")));
        assert_eq!(ret(r#"${{m || "dq"}}"#), Ok(text("dq")));
        assert_eq!(ret("${{m || raw text}}"), Ok(text("raw text")));
        assert_eq!(
            ret("${{m || n}}"),
            Ok(text("n")),
            "the default is never a key"
        );
        assert_eq!(ret("${{m || inf}}"), Ok(text("inf")));
        // In a template an integer default prints as an integer, a float with %v.
        assert_eq!(ret("a${{m || 1000000}}b"), Ok(text("a1000000b")));
        assert_eq!(ret("a${{m || 1e6}}b"), Ok(text("a1e+06b")));
        assert_eq!(ret("a${{m || 'q'}}b${{n||0}}"), Ok(text("aqb5")));
    }

    #[test]
    fn fallback_errors() {
        assert_eq!(
            ret("${{a || b || c}}"),
            Err(r#"fallback expression must have exactly 2 parts (key || default), got 3 parts in: "a || b || c""#.into())
        );
        assert_eq!(
            ret("${{u/* || 1}}"),
            Err(r#"wildcards not allowed with fallback operator: "u/*""#.into())
        );
        assert_eq!(
            ret("x ${{a || b || c}}"),
            Err(r#"interpolation error for key "a || b || c": fallback expression must have exactly 2 parts (key || default), got 3 parts in: "a || b || c""#.into())
        );
    }

    #[test]
    fn print_looks_keys_up_as_written() {
        let d = doc();
        assert_eq!(
            print_message("n=${{n}} o=${{o}} ${{s}}", &d).unwrap(),
            "n=5 o=map[a:x b:2] text"
        );
        assert_eq!(print_message("100% plain", &d).unwrap(), "100% plain");
        assert_eq!(
            print_message("${{missing}}", &d).unwrap_err().message(),
            "key not found: missing"
        );
        assert_eq!(
            print_message("${{m || 1}}", &d).unwrap_err().message(),
            "key not found: m || 1"
        );
    }
}
