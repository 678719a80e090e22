//! IF conditions, evaluated with govaluate's rules (the library Go's map-cache uses).
//!
//! Evaluation of a condition text (after trigger/FOR captures were substituted):
//! 1. `any(${{pattern}} OP rhs)` and `all(...)` expand over the pattern's matches to
//!    `(v1 OP rhs || v2 OP rhs ...)` (`&&` for `all`); no match gives `false`. As in
//!    Go, this is a textual rewrite of what its regex matches (`rhs` runs to the first
//!    `)`), and each `vN` is bound to the match's value.
//! 2. Each remaining `${{key}}` is a variable bound to the key's value, null when the
//!    key is missing. Fallbacks (`||` inside the braces) do not apply here.
//! 3. The expression is parsed and evaluated: numbers are float64; `==`/`!=` compare
//!    type and value (`"0" != 0`, `null == null`, objects and arrays deeply);
//!    `< <= > >=` need two numbers or two strings (bytewise); `&&`, `||`, `!` need
//!    booleans (`&&`/`||` short-circuit before checking the right side, as govaluate
//!    does); the result must be a boolean.
//!
//! Supported beyond that, as in govaluate and with its precedence (lowest first):
//! `? :` and `??` (govaluate's quirk kept: `c ? x : y` gives `y` when `x` is null),
//! `||`, `&&`, comparisons, `& | ^`, `<< >>`, `+ -` (`+` concatenates when either side
//! is a string), `* / %`, `**`, prefix `- ! ~`, parentheses, number literals, string
//! literals in `"..."` or `'...'`, `true`, `false`.
//! Not supported (an `invalid expression` error): `=~`/`!~` (regular expressions), `in`
//! and `,` lists, `[escaped]` names, function calls, accessors, and govaluate's reading
//! of date-like string literals as Unix times. A bare name is an evaluation error, as an
//! unbound parameter is in Go.
//!
//! Why a small parser of our own rather than a crate such as evalexpr: evalexpr's types
//! and rules differ where map-cache's conditions depend on them (integers apart from
//! floats, no null, `==` across types, its own error texts), and binding values whose
//! names are paths needs the placeholders handled in the lexer anyway; govaluate's
//! subset that matters fits in a few hundred lines and can be tested rule by rule.

use std::cmp::Ordering;

use mapcache_store::Value;

use crate::document::Document;
use crate::error::ExecError;
use crate::gofmt;
use crate::interpolate::placeholder_at;

/// Evaluates an IF condition against `doc`.
pub fn evaluate<D: Document + ?Sized>(condition: &str, doc: &D) -> Result<bool, ExecError> {
    let pieces = expand_any_all(condition, doc)?;
    let tokens =
        tokenize(&pieces).map_err(|e| ExecError::failed(format!("invalid expression: {e}")))?;
    let expr = Parser::new(tokens)
        .parse()
        .map_err(|e| ExecError::failed(format!("invalid expression: {e}")))?;
    let value = match &expr {
        Some(expr) => {
            eval(expr, doc).map_err(|e| ExecError::failed(format!("evaluation error: {e}")))?
        }
        None => Value::Null,
    };
    match value {
        Value::Bool(b) => Ok(b),
        _ => Err(ExecError::failed("expression did not return a boolean")),
    }
}

// ---------------------------------------------------------------------------------
// Step 1: any(...) / all(...)
// ---------------------------------------------------------------------------------

/// The condition after `any`/`all` expansion: text, with bound values in between.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Bound(Value),
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// One `any(${{pattern}} OP rhs)` as Go's `AggregationPattern` reads it.
struct Aggregate<'a> {
    all: bool,
    pattern: &'a str,
    op: &'a str,
    rhs: &'a str,
    end: usize,
}

fn aggregate_at(s: &str, at: usize) -> Option<Aggregate<'_>> {
    let rest = s.get(at..)?;
    let all = if rest.starts_with("all(") {
        true
    } else if rest.starts_with("any(") {
        false
    } else {
        return None;
    };
    if s[..at].chars().next_back().is_some_and(is_word) {
        return None;
    }
    let mut pos = at + 4;
    pos += s[pos..].len() - s[pos..].trim_start().len();
    let placeholder = placeholder_at(s, pos)?;
    pos = placeholder.end;
    pos += s[pos..].len() - s[pos..].trim_start().len();
    let op_len = match s.as_bytes().get(pos..).unwrap_or_default() {
        [b'!' | b'<' | b'>' | b'=', b'=', ..] => 2,
        [b'!' | b'<' | b'>' | b'=', ..] => 1,
        _ => return None,
    };
    let op = &s[pos..pos + op_len];
    pos += op_len;
    let close = pos + s[pos..].find(')')?;
    let rhs = s[pos..close].trim();
    if rhs.is_empty() {
        return None;
    }
    Some(Aggregate {
        all,
        pattern: placeholder.key,
        op,
        rhs,
        end: close + 1,
    })
}

fn expand_any_all<D: Document + ?Sized>(s: &str, doc: &D) -> Result<Vec<Piece>, ExecError> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut last = 0;
    let mut at = 0;
    while at < s.len() {
        let Some(agg) = aggregate_at(s, at) else {
            at += s[at..].chars().next().map_or(1, char::len_utf8);
            continue;
        };
        text.push_str(&s[last..at]);
        let matches = doc.matches(agg.pattern)?;
        if matches.is_empty() {
            text.push_str("false");
        } else {
            text.push('(');
            for (i, m) in matches.into_iter().enumerate() {
                if i > 0 {
                    text.push_str(if agg.all { " && " } else { " || " });
                }
                pieces.push(Piece::Text(std::mem::take(&mut text)));
                pieces.push(Piece::Bound(m.value));
                text = format!(" {} {}", agg.op, agg.rhs);
            }
            text.push(')');
        }
        last = agg.end;
        at = agg.end;
    }
    text.push_str(&s[last..]);
    pieces.push(Piece::Text(text));
    Ok(pieces)
}

// ---------------------------------------------------------------------------------
// Step 2: tokens
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Value(Value),
    Var(String),
    Name(String),
    Op(Op),
    Open,
    Close,
}

/// Binary and prefix operators, with govaluate's spelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TernaryIf,
    TernaryElse,
    Coalesce,
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    BitOr,
    BitAnd,
    BitXor,
    Shl,
    Shr,
    Plus,
    Minus,
    Mul,
    Div,
    Mod,
    Pow,
    Not,
    BitNot,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::TernaryIf => "?",
            Op::TernaryElse => ":",
            Op::Coalesce => "??",
            Op::Or => "||",
            Op::And => "&&",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::BitOr => "|",
            Op::BitAnd => "&",
            Op::BitXor => "^",
            Op::Shl => "<<",
            Op::Shr => ">>",
            Op::Plus => "+",
            Op::Minus => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::Pow => "**",
            Op::Not => "!",
            Op::BitNot => "~",
        }
    }
}

/// Operators by spelling, longest first so that `**` wins over `*`.
const OPERATORS: &[(&str, Option<Op>)] = &[
    ("??", Some(Op::Coalesce)),
    ("||", Some(Op::Or)),
    ("&&", Some(Op::And)),
    ("==", Some(Op::Eq)),
    ("!=", Some(Op::Ne)),
    ("<=", Some(Op::Le)),
    (">=", Some(Op::Ge)),
    ("<<", Some(Op::Shl)),
    (">>", Some(Op::Shr)),
    ("**", Some(Op::Pow)),
    ("=~", None),
    ("!~", None),
    ("?", Some(Op::TernaryIf)),
    (":", Some(Op::TernaryElse)),
    ("<", Some(Op::Lt)),
    (">", Some(Op::Gt)),
    ("|", Some(Op::BitOr)),
    ("&", Some(Op::BitAnd)),
    ("^", Some(Op::BitXor)),
    ("+", Some(Op::Plus)),
    ("-", Some(Op::Minus)),
    ("*", Some(Op::Mul)),
    ("/", Some(Op::Div)),
    ("%", Some(Op::Mod)),
    ("!", Some(Op::Not)),
    ("~", Some(Op::BitNot)),
    (",", None),
];

fn tokenize(pieces: &[Piece]) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    for piece in pieces {
        match piece {
            Piece::Bound(value) => tokens.push(Token::Value(value.clone())),
            Piece::Text(text) => tokenize_text(text, &mut tokens)?,
        }
    }
    Ok(tokens)
}

fn tokenize_text(s: &str, tokens: &mut Vec<Token>) -> Result<(), String> {
    let mut pos = 0;
    while let Some(c) = s[pos..].chars().next() {
        let rest = &s[pos..];
        if c.is_whitespace() {
            pos += c.len_utf8();
        } else if rest.starts_with("${{") {
            let p = placeholder_at(s, pos).ok_or("unclosed placeholder '${{'")?;
            tokens.push(Token::Var(p.key.to_string()));
            pos = p.end;
        } else if c.is_ascii_digit() || c == '.' {
            let len = rest
                .find(|c: char| !(c.is_ascii_digit() || c == '.'))
                .unwrap_or(rest.len());
            let literal = &rest[..len];
            let n: f64 = literal
                .parse()
                .map_err(|_| format!("unable to parse numeric value '{literal}'"))?;
            tokens.push(Token::Value(Value::Number(n)));
            pos += len;
        } else if c == '"' || c == '\'' {
            let (text, len) = read_string(rest, c)?;
            tokens.push(Token::Value(Value::string(text.as_bytes())));
            pos += len;
        } else if c.is_alphabetic() {
            let len = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            let name = &rest[..len];
            tokens.push(match name {
                "true" => Token::Value(Value::Bool(true)),
                "false" => Token::Value(Value::Bool(false)),
                "in" => return Err("operator 'in' is not supported".into()),
                _ => Token::Name(name.to_string()),
            });
            pos += len;
        } else if c == '(' {
            tokens.push(Token::Open);
            pos += 1;
        } else if c == ')' {
            tokens.push(Token::Close);
            pos += 1;
        } else {
            let (spelling, op) = OPERATORS
                .iter()
                .find(|(spelling, _)| rest.starts_with(spelling))
                .ok_or_else(|| format!("invalid character '{c}'"))?;
            let op = op.ok_or_else(|| format!("operator '{spelling}' is not supported"))?;
            tokens.push(Token::Op(op));
            pos += spelling.len();
        }
    }
    Ok(())
}

/// A quoted literal at the start of `s`: its text (a backslash keeps the next
/// character) and the bytes it took, quotes included.
fn read_string(s: &str, quote: char) -> Result<(String, usize), String> {
    let mut text = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        if c == '\\' {
            if let Some((_, escaped)) = chars.next() {
                text.push(escaped);
            }
        } else if c == quote {
            return Ok((text, i + c.len_utf8()));
        } else {
            text.push(c);
        }
    }
    Err("unclosed string literal".into())
}

// ---------------------------------------------------------------------------------
// Step 3: parsing
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Value(Value),
    Var(String),
    Name(String),
    Prefix(Op, Box<Expr>),
    /// `first op1 e1 op2 e2 ...`, operators of one precedence level applied left to
    /// right. A chain rather than nested pairs, so that `all()` over thousands of
    /// matches is evaluated (and dropped) without recursion.
    Chain(Box<Expr>, Vec<(Op, Expr)>),
}

/// How deeply parentheses and prefix operators may nest.
const MAX_NESTING: usize = 128;

/// Binary operators by precedence level, lowest first (govaluate's planner order).
const LEVELS: &[&[Op]] = &[
    &[Op::TernaryIf, Op::TernaryElse, Op::Coalesce],
    &[Op::Or],
    &[Op::And],
    &[Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge],
    &[Op::BitOr, Op::BitAnd, Op::BitXor],
    &[Op::Shl, Op::Shr],
    &[Op::Plus, Op::Minus],
    &[Op::Mul, Op::Div, Op::Mod],
    &[Op::Pow],
];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    nesting: usize,
}

impl Parser {
    fn new(tokens: Vec<Token>) -> Parser {
        Parser {
            tokens,
            pos: 0,
            nesting: 0,
        }
    }

    /// Counts one more level of parentheses or prefix operators.
    fn nest(&mut self) -> Result<(), String> {
        self.nesting += 1;
        if self.nesting > MAX_NESTING {
            return Err(format!("nested more than {MAX_NESTING} levels deep"));
        }
        Ok(())
    }

    /// The whole expression; `None` for an empty one.
    fn parse(mut self) -> Result<Option<Expr>, String> {
        if self.tokens.is_empty() {
            return Ok(None);
        }
        let expr = self.level(0)?;
        match self.tokens.get(self.pos) {
            None => Ok(Some(expr)),
            Some(Token::Close) => Err("unbalanced parenthesis".into()),
            Some(token) => Err(format!("unexpected {}", describe(token))),
        }
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    /// Left-associative binary operators of `LEVELS[level]` and above.
    fn level(&mut self, level: usize) -> Result<Expr, String> {
        let Some(ops) = LEVELS.get(level) else {
            return self.prefix();
        };
        let first = self.level(level + 1)?;
        let mut rest = Vec::new();
        while let Some(Token::Op(op)) = self.tokens.get(self.pos) {
            let op = *op;
            if !ops.contains(&op) {
                break;
            }
            self.pos += 1;
            rest.push((op, self.level(level + 1)?));
        }
        if rest.is_empty() {
            Ok(first)
        } else {
            Ok(Expr::Chain(Box::new(first), rest))
        }
    }

    fn prefix(&mut self) -> Result<Expr, String> {
        match self.next() {
            Some(Token::Op(op @ (Op::Minus | Op::Not | Op::BitNot))) => {
                self.nest()?;
                let operand = self.prefix()?;
                self.nesting -= 1;
                Ok(Expr::Prefix(op, Box::new(operand)))
            }
            Some(Token::Value(v)) => Ok(Expr::Value(v)),
            Some(Token::Var(key)) => Ok(Expr::Var(key)),
            Some(Token::Name(name)) => match self.tokens.get(self.pos) {
                Some(Token::Open) => Err(format!("function calls are not supported: '{name}'")),
                _ => Ok(Expr::Name(name)),
            },
            Some(Token::Open) => {
                self.nest()?;
                let inner = self.level(0)?;
                self.nesting -= 1;
                match self.next() {
                    Some(Token::Close) => Ok(inner),
                    _ => Err("unbalanced parenthesis".into()),
                }
            }
            Some(token) => Err(format!("unexpected {}", describe(&token))),
            None => Err("unexpected end of expression".into()),
        }
    }
}

fn describe(token: &Token) -> String {
    match token {
        Token::Value(v) => format!("value '{}'", gofmt::to_string(v)),
        Token::Var(key) => format!("placeholder '${{{{{key}}}}}'"),
        Token::Name(name) => format!("name '{name}'"),
        Token::Op(op) => format!("operator '{}'", op.symbol()),
        Token::Open => "'('".into(),
        Token::Close => "')'".into(),
    }
}

// ---------------------------------------------------------------------------------
// Step 4: evaluation
// ---------------------------------------------------------------------------------

fn eval<D: Document + ?Sized>(expr: &Expr, doc: &D) -> Result<Value, String> {
    match expr {
        Expr::Value(v) => Ok(v.clone()),
        Expr::Var(key) => Ok(doc.get(key).ok().flatten().unwrap_or(Value::Null)),
        Expr::Name(name) => Err(format!("No parameter '{name}' found.")),
        Expr::Prefix(op, operand) => prefix(*op, eval(operand, doc)?),
        Expr::Chain(first, rest) => {
            let mut acc = eval(first, doc)?;
            for (op, right) in rest {
                acc = apply(*op, acc, right, doc)?;
            }
            Ok(acc)
        }
    }
}

/// `l op right`, with govaluate's short circuits: the right side is then neither
/// evaluated nor type-checked.
fn apply<D: Document + ?Sized>(op: Op, l: Value, right: &Expr, doc: &D) -> Result<Value, String> {
    match op {
        Op::And if l == Value::Bool(false) => return Ok(l),
        Op::Or if l == Value::Bool(true) => return Ok(l),
        Op::TernaryElse | Op::Coalesce if l != Value::Null => return Ok(l),
        Op::TernaryIf if l == Value::Bool(false) => return Ok(Value::Null),
        Op::TernaryIf if !matches!(l, Value::Bool(_)) => {
            return Err(type_error(&l, op, "ternary operator", "it is not a bool"))
        }
        _ => {}
    }
    binary(op, l, eval(right, doc)?)
}

fn type_error(value: &Value, op: Op, role: &str, what: &str) -> String {
    format!(
        "Value '{}' cannot be used with the {role} '{}', {what}",
        gofmt::to_string(value),
        op.symbol()
    )
}

fn number(value: &Value, op: Op, role: &str) -> Result<f64, String> {
    match value {
        Value::Number(n) => Ok(*n),
        other => Err(type_error(other, op, role, "it is not a number")),
    }
}

fn boolean(value: &Value, op: Op) -> Result<bool, String> {
    match value {
        Value::Bool(b) => Ok(*b),
        other => Err(type_error(
            other,
            op,
            "logical operator",
            "it is not a bool",
        )),
    }
}

fn prefix(op: Op, v: Value) -> Result<Value, String> {
    let bad = |v: &Value| {
        format!(
            "Value '{}' cannot be used with the prefix '{}'",
            gofmt::to_string(v),
            op.symbol()
        )
    };
    match (op, &v) {
        (Op::Minus, Value::Number(n)) => Ok(Value::Number(-n)),
        (Op::Not, Value::Bool(b)) => Ok(Value::Bool(!b)),
        (Op::BitNot, Value::Number(n)) => Ok(Value::Number(!(*n as i64) as f64)),
        _ => Err(bad(&v)),
    }
}

fn binary(op: Op, l: Value, r: Value) -> Result<Value, String> {
    let modifier = |l: &Value, r: &Value| -> Result<(f64, f64), String> {
        Ok((number(l, op, "modifier")?, number(r, op, "modifier")?))
    };
    Ok(match op {
        Op::TernaryIf => r,                  // the condition was true (checked in `eval`)
        Op::TernaryElse | Op::Coalesce => r, // the left side was null
        Op::And => Value::Bool(boolean(&l, op)? && boolean(&r, op)?),
        Op::Or => Value::Bool(boolean(&l, op)? || boolean(&r, op)?),
        Op::Eq => Value::Bool(deep_equal(&l, &r)),
        Op::Ne => Value::Bool(!deep_equal(&l, &r)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (&l, &r) {
                (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
                (Value::Str(a), Value::Str(b)) => Some(a.as_slice().cmp(b.as_slice())),
                _ => return Err(type_error(&l, op, "comparator", "it is not a number")),
            };
            Value::Bool(match op {
                Op::Lt => ordering == Some(Ordering::Less),
                Op::Le => matches!(ordering, Some(Ordering::Less | Ordering::Equal)),
                Op::Gt => ordering == Some(Ordering::Greater),
                _ => matches!(ordering, Some(Ordering::Greater | Ordering::Equal)),
            })
        }
        Op::Plus => match (&l, &r) {
            (Value::Number(a), Value::Number(b)) => Value::Number(a + b),
            (Value::Str(_), _) | (_, Value::Str(_)) => {
                let mut s = gofmt::to_string(&l);
                gofmt::write_value(&r, &mut s);
                Value::string(s.as_bytes())
            }
            _ => return Err(type_error(&l, op, "modifier", "it is not a number")),
        },
        Op::Minus | Op::Mul | Op::Div | Op::Mod | Op::Pow => {
            let (a, b) = modifier(&l, &r)?;
            Value::Number(match op {
                Op::Minus => a - b,
                Op::Mul => a * b,
                Op::Div => a / b,
                Op::Mod => a % b,
                _ => a.powf(b),
            })
        }
        Op::BitOr | Op::BitAnd | Op::BitXor | Op::Shl | Op::Shr => {
            let (a, b) = modifier(&l, &r)?;
            Value::Number(match op {
                Op::BitOr => ((a as i64) | (b as i64)) as f64,
                Op::BitAnd => ((a as i64) & (b as i64)) as f64,
                Op::BitXor => ((a as i64) ^ (b as i64)) as f64,
                Op::Shl => (a as u64).checked_shl(b as u32).unwrap_or(0) as f64,
                _ => (a as u64).checked_shr(b as u32).unwrap_or(0) as f64,
            })
        }
        Op::Not | Op::BitNot => return Err(format!("'{}' is a prefix", op.symbol())),
    })
}

/// Go's `reflect.DeepEqual` on decoded JSON: same type and value; objects regardless
/// of field order; NaN equals nothing.
pub fn deep_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Number(x), Value::Number(y)) => x == y,
        (Value::Str(x), Value::Str(y)) => x.as_slice() == y.as_slice(),
        (Value::List(x), Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_equal(&a.cow(), &b.cow()))
        }
        (Value::Hash(x), Value::Hash(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| deep_equal(&v.cow(), &w.cow())))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::MemoryDocument;

    fn doc() -> MemoryDocument {
        MemoryDocument::from_json(
            r#"{"n":5,"zero":0,"szero":"0","s":"abc","t":true,"f":false,"z":null,"o":{"a":1,"b":[1,2]},"o2":{"b":[1,2],"a":1},"st":{"1":"done","2":"done","3":"pending"},"all":{"1":"done","2":"done"},"nums":[1,5,9]}"#,
        )
        .unwrap()
    }

    fn check(condition: &str) -> Result<bool, String> {
        evaluate(condition, &doc()).map_err(|e| e.message().to_string())
    }

    #[test]
    fn table_of_conditions() {
        let ok: &[(&str, bool)] = &[
            // placeholders are typed variables
            ("${{t}}", true),
            ("${{f}}", false),
            ("${{ n }} == 5", true),
            ("${{n}} > 3", true),
            ("${{n}} >= 5 && ${{n}} <= 5", true),
            ("${{n}} < 5", false),
            ("${{n}} != 5", false),
            ("${{zero}} == 0", true),
            // == compares type and value
            ("${{szero}} == 0", false),
            ("${{szero}} != 0", true),
            ("${{szero}} == '0'", true),
            ("${{szero}} == \"0\"", true),
            ("${{z}} == ${{missing}}", true),
            ("${{missing}} == 0", false),
            ("${{o}} == ${{o2}}", true),
            ("${{o/b}} == ${{o2/b}}", true),
            ("${{o}} == ${{o/b}}", false),
            ("true == 1", false),
            // strings order bytewise
            ("${{s}} < 'abd'", true),
            ("'b' > 'abc'", true),
            ("'' < 'a'", true),
            // logic and short circuits
            ("!${{f}}", true),
            ("!(${{n}} == 5)", false),
            ("${{t}} || ${{n}}", true),
            ("${{f}} && ${{n}}", false),
            ("true && false || true", true),
            ("false || true && false", false),
            // arithmetic
            ("${{n}} + 1 == 6", true),
            ("${{n}} - 10 == -5", true),
            ("-${{n}} == -5", true),
            ("2 * 3 + 1 == 7", true),
            ("2 * (3 + 1) == 8", true),
            ("7 / 2 == 3.5", true),
            ("7 % 4 == 3", true),
            ("-7 % 4 == -3", true),
            ("2 ** 10 == 1024", true),
            ("1 / 0 > 1000", true),
            ("${{s}} + 1 == 'abc1'", true),
            ("1 + ${{s}} == '1abc'", true),
            ("${{s}} + ${{t}} == 'abctrue'", true),
            ("(6 | 1) == 7 && (6 & 3) == 2 && (6 ^ 3) == 5", true),
            ("1 << 4 == 16 && 256 >> 4 == 16 && ~0 == -1", true),
            // bitwise binds tighter than comparisons, as in govaluate
            ("6 & 3 == 2", true),
            // ternary and coalescing
            ("${{t}} ? true : false", true),
            ("${{f}} ? true : false", false),
            ("${{z}} ?? true", true),
            ("(${{n}} ?? 1) == 5", true),
            ("${{missing}} ?? 1 == 1", true),
            // any / all
            (r#"all(${{all/*}} == "done")"#, true),
            (r#"all(${{st/*}} == "done")"#, false),
            (r#"any(${{st/*}} == "pending")"#, true),
            (r#"any(${{st/*}} == 'nope')"#, false),
            ("any(${{nums/*}} > 8)", true),
            ("all(${{nums/*}} > 0) && ${{n}} == 5", true),
            ("any(${{nothing/*}} == 1)", false),
            ("all(${{nothing/*}} == 1)", false),
            ("!all(${{nothing/*}} == 1)", true),
            ("all(${{nums/*}} >= ${{nums/0}})", true),
            ("any(${{nums/*}} == 1 + 4)", true),
        ];
        for (condition, expected) in ok {
            assert_eq!(check(condition), Ok(*expected), "{condition}");
        }
    }

    #[test]
    fn table_of_errors() {
        let bad: &[(&str, &str)] = &[
            ("${{n}}", "expression did not return a boolean"),
            ("${{n}} + 1", "expression did not return a boolean"),
            ("", "expression did not return a boolean"),
            ("${{missing}}", "expression did not return a boolean"),
            ("${{t}} ? 1 : 2", "expression did not return a boolean"),
            ("${{n}} ?? 1 == 5", "expression did not return a boolean"),
            (
                "${{s}} > 1",
                "evaluation error: Value 'abc' cannot be used with the comparator '>', it is not a number",
            ),
            (
                "${{z}} < 1",
                "evaluation error: Value '<nil>' cannot be used with the comparator '<', it is not a number",
            ),
            (
                "${{n}} && true",
                "evaluation error: Value '5' cannot be used with the logical operator '&&', it is not a bool",
            ),
            (
                "true && ${{n}}",
                "evaluation error: Value '5' cannot be used with the logical operator '&&', it is not a bool",
            ),
            (
                "false || ${{s}}",
                "evaluation error: Value 'abc' cannot be used with the logical operator '||', it is not a bool",
            ),
            (
                "!${{n}}",
                "evaluation error: Value '5' cannot be used with the prefix '!'",
            ),
            (
                "-${{s}} == 1",
                "evaluation error: Value 'abc' cannot be used with the prefix '-'",
            ),
            (
                "${{s}} - 1 == 1",
                "evaluation error: Value 'abc' cannot be used with the modifier '-', it is not a number",
            ),
            (
                "${{t}} + 1 == 1",
                "evaluation error: Value 'true' cannot be used with the modifier '+', it is not a number",
            ),
            (
                "${{n}} ? true : false",
                "evaluation error: Value '5' cannot be used with the ternary operator '?', it is not a bool",
            ),
            ("foo == 1", "evaluation error: No parameter 'foo' found."),
            ("this is not valid", "invalid expression: unexpected name 'is'"),
            ("(${{n}} == 5", "invalid expression: unbalanced parenthesis"),
            ("${{n}} == 5)", "invalid expression: unbalanced parenthesis"),
            ("${{n}} ==", "invalid expression: unexpected end of expression"),
            ("'abc == 1", "invalid expression: unclosed string literal"),
            ("1.2.3 == 1", "invalid expression: unable to parse numeric value '1.2.3'"),
            ("${{s}} =~ 'a'", "invalid expression: operator '=~' is not supported"),
            ("1 in (1, 2)", "invalid expression: operator 'in' is not supported"),
            ("max(1) == 1", "invalid expression: function calls are not supported: 'max'"),
            ("${{n}} = 5", "invalid expression: invalid character '='"),
            ("${{n == 5", "invalid expression: unclosed placeholder '${{'"),
            ("${{n}} # 5", "invalid expression: invalid character '#'"),
            // an aggregate Go's regex does not match stays text
            ("any(${{st/*}})", "invalid expression: function calls are not supported: 'any'"),
        ];
        for (condition, expected) in bad {
            assert_eq!(check(condition), Err(expected.to_string()), "{condition}");
        }
    }

    #[test]
    fn nesting_is_bounded_but_long_chains_are_not() {
        let deep = format!("{}true{}", "(".repeat(200), ")".repeat(200));
        assert_eq!(
            check(&deep),
            Err("invalid expression: nested more than 128 levels deep".into())
        );
        assert_eq!(check(&format!("{}true", "!".repeat(128))), Ok(true));
        let long = vec!["1"; 100_000].join(" + ");
        assert_eq!(check(&format!("{long} == 100000")), Ok(true));
        // all() over many matches is one long && chain.
        let fields: Vec<String> = (0..5000).map(|i| format!("\"f{i}\":\"done\"")).collect();
        let doc =
            MemoryDocument::from_json(&format!("{{\"m\":{{{}}}}}", fields.join(","))).unwrap();
        assert_eq!(evaluate("all(${{m/*}} == 'done')", &doc), Ok(true));
        assert_eq!(evaluate("any(${{m/*}} != 'done')", &doc), Ok(false));
    }

    #[test]
    fn aggregates_need_a_word_boundary() {
        // `many(` is not `any(`: the name is left alone (and is unbound).
        assert_eq!(
            check("many(${{st/*}} == 1)"),
            Err("invalid expression: function calls are not supported: 'many'".into())
        );
    }

    #[test]
    fn deep_equal_follows_go() {
        assert!(deep_equal(&Value::Null, &Value::Null));
        assert!(!deep_equal(
            &Value::Number(f64::NAN),
            &Value::Number(f64::NAN)
        ));
        assert!(!deep_equal(&Value::Number(0.0), &Value::string(b"0")));
        assert!(!deep_equal(&Value::new_list(), &Value::new_hash()));
    }
}
