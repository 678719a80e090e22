//! Command programs against a reference interpreter: random programs over random
//! documents, run the way the server runs them (`Programs::run`: one `Db::batch_all`
//! of the real store), give the same answer and leave the same state as a small
//! interpreter written here from the spec (the Go server's facts in
//! shared/seed/MAPCACHE_API.md and docs/programs.md). A program that fails fails in
//! both, at the same command (the error's place chain, `command 2 (FOR): match d/a,
//! command 1 (INC)`, is compared), and leaves the store exactly as it was.
//!
//! Every command type is generated (INC, REPLACE, DELETE and GET with and without
//! `*`, RETURN of values and of strings, PRINT, NOOP, COMMANDS, IF, FOR with nested
//! loops and captures), every interpolation form (a lone placeholder, a wildcard, a
//! fallback with each kind of literal, templates, malformed fallbacks) and conditions
//! over every comparison and logical operator, `+ - *`, prefix `!` and `-`, and
//! `any()`/`all()`. Conditions are generated as trees and printed with the fewest
//! parentheses govaluate's precedence allows, so the parser's precedence is checked
//! too; the reference evaluates the tree.
//!
//! Programs are drawn from a seed by a small generator of our own (proptest's runner
//! picks the seeds and keeps failing ones); a failure prints the document and the
//! program. `PROGRAM_MODEL_CASES=30000` for a long run (default 2000, under a second).

use std::cmp::Ordering;

use mapcache_commands::programs::Programs;
use mapcache_programs::parse_request;
use mapcache_store::{json, Hash, Store, StoreConfig, Value};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------
// The reference's values and documents
// ---------------------------------------------------------------------------------

/// A JSON value; objects keep their fields in order.
#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn obj(fields: &[(&str, J)]) -> J {
    J::Obj(
        fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    )
}

fn s(text: &str) -> J {
    J::Str(text.to_string())
}

fn to_value(j: &J) -> Value {
    match j {
        J::Null => Value::Null,
        J::Bool(b) => Value::Bool(*b),
        J::Num(n) => Value::Number(*n),
        J::Str(t) => Value::string(t.as_bytes()),
        J::Arr(items) => Value::List(items.iter().map(to_value).collect()),
        J::Obj(fields) => {
            let mut h = Hash::new();
            for (k, v) in fields {
                h.insert(k.as_bytes(), to_value(v));
            }
            Value::hash(h)
        }
    }
}

fn json_text(v: &Value) -> String {
    let mut out = Vec::new();
    json::write(v, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// Go's `%v` for the values generated here (numbers are small integers and halves).
fn go_v(j: &J) -> String {
    match j {
        J::Null => "<nil>".into(),
        J::Bool(b) => b.to_string(),
        J::Num(n) => format!("{n}"),
        J::Str(t) => t.clone(),
        J::Arr(items) => format!("[{}]", items.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        J::Obj(fields) => {
            let mut sorted: Vec<&(String, J)> = fields.iter().collect();
            sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            let parts: Vec<String> = sorted
                .iter()
                .map(|(k, v)| format!("{k}:{}", go_v(v)))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `reflect.DeepEqual` on decoded JSON.
fn deep_equal(a: &J, b: &J) -> bool {
    match (a, b) {
        (J::Null, J::Null) => true,
        (J::Bool(x), J::Bool(y)) => x == y,
        (J::Num(x), J::Num(y)) => x == y,
        (J::Str(x), J::Str(y)) => x == y,
        (J::Arr(x), J::Arr(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| deep_equal(a, b))
        }
        (J::Obj(x), J::Obj(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.iter().any(|(k2, w)| k == k2 && deep_equal(v, w)))
        }
        _ => false,
    }
}

/// A canonical array index: decimal digits, no leading zero.
fn index(seg: &str, len: usize) -> Option<usize> {
    let canonical = !seg.is_empty()
        && seg.bytes().all(|b| b.is_ascii_digit())
        && (seg == "0" || !seg.starts_with('0'));
    if !canonical {
        return None;
    }
    seg.parse().ok().filter(|&i| i < len)
}

fn child<'a>(node: &'a J, seg: &str) -> Option<&'a J> {
    match node {
        J::Obj(fields) => fields.iter().find(|(k, _)| k == seg).map(|(_, v)| v),
        J::Arr(items) => items.get(index(seg, items.len())?),
        _ => None,
    }
}

fn child_mut<'a>(node: &'a mut J, seg: &str) -> Option<&'a mut J> {
    match node {
        J::Obj(fields) => fields.iter_mut().find(|(k, _)| k == seg).map(|(_, v)| v),
        J::Arr(items) => {
            let i = index(seg, items.len())?;
            items.get_mut(i)
        }
        _ => None,
    }
}

/// The reference's cache: top-level keys (no order among them) and their trees.
#[derive(Debug, Clone, PartialEq)]
struct Doc {
    roots: Vec<(String, J)>,
}

impl Doc {
    fn get(&self, key: &str) -> Option<&J> {
        let mut segs = key.split('/');
        let root = segs.next()?;
        let mut node = self.roots.iter().find(|(k, _)| k == root).map(|(_, v)| v)?;
        for seg in segs {
            node = child(node, seg)?;
        }
        Some(node)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut J> {
        let mut segs = key.split('/');
        let root = segs.next()?;
        let mut node = self
            .roots
            .iter_mut()
            .find(|(k, _)| k == root)
            .map(|(_, v)| v)?;
        for seg in segs {
            node = child_mut(node, seg)?;
        }
        Some(node)
    }

    fn replace(&mut self, key: &str, value: J) -> Option<J> {
        self.get_mut(key).map(|node| std::mem::replace(node, value))
    }

    fn delete(&mut self, key: &str) -> Option<J> {
        match key.rsplit_once('/') {
            None => {
                let i = self.roots.iter().position(|(k, _)| k == key)?;
                Some(self.roots.remove(i).1)
            }
            Some((parent, last)) => match self.get_mut(parent)? {
                J::Obj(fields) => {
                    let i = fields.iter().position(|(k, _)| k == last)?;
                    Some(fields.remove(i).1)
                }
                J::Arr(items) => {
                    let i = index(last, items.len())?;
                    Some(items.remove(i))
                }
                _ => None,
            },
        }
    }

    /// Every non-null node `pattern` matches, in document order: (path, captures,
    /// value). The pattern's root is a literal here (the store keeps no order among
    /// roots, so programs never range over them).
    fn matches(&self, pattern: &str) -> Vec<(String, Vec<String>, J)> {
        let segs: Vec<&str> = pattern.split('/').collect();
        let mut out = Vec::new();
        if let Some(root) = self.roots.iter().find(|(k, _)| k == segs[0]) {
            walk(&root.1, &segs[1..], root.0.clone(), Vec::new(), &mut out);
        }
        out
    }

    /// What a batch's commit does: a root left an empty object or array goes.
    fn prune(&mut self) {
        self.roots.retain(|(_, v)| {
            !matches!(v, J::Obj(f) if f.is_empty()) && !matches!(v, J::Arr(a) if a.is_empty())
        });
    }
}

fn walk(
    node: &J,
    segs: &[&str],
    path: String,
    caps: Vec<String>,
    out: &mut Vec<(String, Vec<String>, J)>,
) {
    let Some((seg, rest)) = segs.split_first() else {
        if *node != J::Null {
            out.push((path, caps, node.clone()));
        }
        return;
    };
    let mut visit = |name: String, next: &J, captured: bool| {
        let mut caps = caps.clone();
        if captured {
            caps.push(name.clone());
        }
        walk(next, rest, format!("{path}/{name}"), caps, out);
    };
    if *seg == "*" {
        match node {
            J::Obj(fields) => fields.iter().for_each(|(k, v)| visit(k.clone(), v, true)),
            J::Arr(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| visit(i.to_string(), v, true)),
            _ => {}
        }
    } else if let Some(next) = child(node, seg) {
        visit(seg.to_string(), next, false);
    }
}

// ---------------------------------------------------------------------------------
// Programs as trees
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Lit(String),
    Star,
    /// `${{n}}`: a FOR capture, substituted as text.
    Cap(usize),
}

type PathT = Vec<Seg>;

fn render_path(p: &[Seg]) -> String {
    p.iter()
        .map(|s| match s {
            Seg::Lit(t) => t.clone(),
            Seg::Star => "*".into(),
            Seg::Cap(n) => format!("${{{{{n}}}}}"),
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn has_star(p: &[Seg]) -> bool {
    p.contains(&Seg::Star)
}

fn stars(p: &[Seg]) -> usize {
    p.iter().filter(|s| **s == Seg::Star).count()
}

/// A piece of an interpolated string.
#[derive(Debug, Clone)]
enum Part {
    Lit(String),
    /// `${{path}}`, with or without spaces inside the braces.
    Ph(PathT, bool),
    /// `${{path || d1 || d2 ...}}`: one default is a fallback; more is an error.
    Fb(PathT, Vec<String>),
}

fn render_parts(parts: &[Part]) -> String {
    let mut out = String::new();
    for p in parts {
        match p {
            Part::Lit(t) => out.push_str(t),
            Part::Ph(path, spaced) => {
                let pad = if *spaced { " " } else { "" };
                out.push_str(&format!("${{{{{pad}{}{pad}}}}}", render_path(path)));
            }
            Part::Fb(path, defaults) => {
                out.push_str(&format!("${{{{{}", render_path(path)));
                for d in defaults {
                    out.push_str(" || ");
                    out.push_str(d);
                }
                out.push_str("}}");
            }
        }
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
}

impl Op {
    fn text(self) -> &'static str {
        match self {
            Op::Or => "||",
            Op::And => "&&",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
        }
    }

    /// govaluate's precedence, higher binds tighter.
    fn prec(self) -> u8 {
        match self {
            Op::Or => 1,
            Op::And => 2,
            Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => 3,
            Op::Add | Op::Sub => 6,
            Op::Mul => 7,
        }
    }
}

const COMPARISONS: [Op; 6] = [Op::Eq, Op::Ne, Op::Lt, Op::Le, Op::Gt, Op::Ge];

/// A condition.
#[derive(Debug, Clone)]
enum E {
    /// A number, string or boolean literal (strings with either quote).
    Lit(J, bool),
    Var(PathT),
    Not(Box<E>),
    Neg(Box<E>),
    Bin(Op, Box<E>, Box<E>),
    /// `any(${{pattern}} OP rhs)` / `all(...)`.
    Agg {
        all: bool,
        pattern: PathT,
        op: Op,
        rhs: J,
    },
}

const PREFIX: u8 = 9;
const ATOM: u8 = 10;

fn prec(e: &E) -> u8 {
    match e {
        E::Bin(op, ..) => op.prec(),
        E::Not(_) | E::Neg(_) => PREFIX,
        E::Lit(J::Num(n), _) if *n < 0.0 => PREFIX,
        _ => ATOM,
    }
}

fn literal_text(j: &J, double: bool) -> String {
    match j {
        J::Num(n) => format!("{n}"),
        J::Str(t) if double => format!("\"{t}\""),
        J::Str(t) => format!("'{t}'"),
        J::Bool(b) => b.to_string(),
        other => panic!("not a literal: {other:?}"),
    }
}

fn render_expr(e: &E) -> String {
    let wrap = |child: &E, paren: bool| {
        if paren {
            format!("({})", render_expr(child))
        } else {
            render_expr(child)
        }
    };
    match e {
        E::Lit(j, double) => literal_text(j, *double),
        E::Var(p) => format!("${{{{{}}}}}", render_path(p)),
        E::Not(c) => format!("!{}", wrap(c, prec(c) < PREFIX)),
        E::Neg(c) => format!("-{}", wrap(c, prec(c) < PREFIX)),
        E::Bin(op, l, r) => format!(
            "{} {} {}",
            wrap(l, prec(l) < op.prec()),
            op.text(),
            wrap(r, prec(r) <= op.prec())
        ),
        E::Agg {
            all,
            pattern,
            op,
            rhs,
        } => format!(
            "{}(${{{{{}}}}} {} {})",
            if *all { "all" } else { "any" },
            render_path(pattern),
            op.text(),
            literal_text(rhs, false)
        ),
    }
}

#[derive(Debug, Clone)]
enum C {
    Inc(PathT, f64),
    Replace(PathT, J),
    Delete(PathT),
    Get(PathT),
    ReturnValue(J),
    ReturnText(Vec<Part>),
    Print(Vec<Vec<Part>>),
    Noop,
    Commands(Vec<C>),
    If(E, Box<C>, Box<C>),
    /// The loop pattern (`None`: a loop expression without a placeholder).
    For(Option<PathT>, Vec<C>),
}

impl C {
    fn type_name(&self) -> &'static str {
        match self {
            C::Inc(..) => "INC",
            C::Replace(..) => "REPLACE",
            C::Delete(_) => "DELETE",
            C::Get(_) => "GET",
            C::ReturnValue(_) | C::ReturnText(_) => "RETURN",
            C::Print(_) => "PRINT",
            C::Noop => "NOOP",
            C::Commands(_) => "COMMANDS",
            C::If(..) => "IF",
            C::For(..) => "FOR",
        }
    }

    /// The command as the JSON the server reads.
    fn to_json(&self) -> J {
        let t = |name: &str| ("type", s(name));
        match self {
            C::Inc(p, by) => obj(&[
                t("INC"),
                ("key", s(&render_path(p))),
                ("value", J::Num(*by)),
            ]),
            C::Replace(p, v) => obj(&[
                t("REPLACE"),
                ("key", s(&render_path(p))),
                ("value", v.clone()),
            ]),
            C::Delete(p) => obj(&[t("DELETE"), ("key", s(&render_path(p)))]),
            C::Get(p) => obj(&[t("GET"), ("key", s(&render_path(p)))]),
            C::ReturnValue(v) => obj(&[t("RETURN"), ("key", v.clone())]),
            C::ReturnText(parts) => obj(&[t("RETURN"), ("key", s(&render_parts(parts)))]),
            C::Print(messages) => obj(&[
                t("PRINT"),
                (
                    "messages",
                    J::Arr(messages.iter().map(|m| s(&render_parts(m))).collect()),
                ),
            ]),
            C::Noop => obj(&[t("NOOP")]),
            C::Commands(cs) => obj(&[
                t("COMMANDS"),
                ("commands", J::Arr(cs.iter().map(C::to_json).collect())),
            ]),
            C::If(cond, a, b) => obj(&[
                t("IF"),
                ("condition", s(&render_expr(cond))),
                ("if_true", a.to_json()),
                ("if_false", b.to_json()),
            ]),
            C::For(pattern, cs) => obj(&[
                t("FOR"),
                (
                    "loop_expr",
                    s(&match pattern {
                        Some(p) => format!("${{{{{}}}}}", render_path(p)),
                        None => "every stage".into(),
                    }),
                ),
                ("commands", J::Arr(cs.iter().map(C::to_json).collect())),
            ]),
        }
    }

    /// FOR's substitution of its captures `${{1}}`..`${{k}}` into every path of the
    /// command (keys, placeholders, conditions, loop patterns; not REPLACE's value).
    fn substitute(&self, caps: &[String]) -> C {
        let path = |p: &PathT| -> PathT {
            p.iter()
                .map(|seg| match seg {
                    Seg::Cap(n) if *n <= caps.len() => Seg::Lit(caps[n - 1].clone()),
                    other => other.clone(),
                })
                .collect()
        };
        let parts = |ps: &[Part]| -> Vec<Part> {
            ps.iter()
                .map(|p| match p {
                    Part::Lit(t) => Part::Lit(t.clone()),
                    Part::Ph(q, spaced) => Part::Ph(path(q), *spaced),
                    Part::Fb(q, d) => Part::Fb(path(q), d.clone()),
                })
                .collect()
        };
        fn expr(e: &E, path: &dyn Fn(&PathT) -> PathT) -> E {
            match e {
                E::Lit(..) => e.clone(),
                E::Var(p) => E::Var(path(p)),
                E::Not(c) => E::Not(Box::new(expr(c, path))),
                E::Neg(c) => E::Neg(Box::new(expr(c, path))),
                E::Bin(op, l, r) => E::Bin(*op, Box::new(expr(l, path)), Box::new(expr(r, path))),
                E::Agg {
                    all,
                    pattern,
                    op,
                    rhs,
                } => E::Agg {
                    all: *all,
                    pattern: path(pattern),
                    op: *op,
                    rhs: rhs.clone(),
                },
            }
        }
        match self {
            C::Inc(p, by) => C::Inc(path(p), *by),
            C::Replace(p, v) => C::Replace(path(p), v.clone()),
            C::Delete(p) => C::Delete(path(p)),
            C::Get(p) => C::Get(path(p)),
            C::ReturnValue(v) => C::ReturnValue(v.clone()),
            C::ReturnText(ps) => C::ReturnText(parts(ps)),
            C::Print(ms) => C::Print(ms.iter().map(|m| parts(m)).collect()),
            C::Noop => C::Noop,
            C::Commands(cs) => C::Commands(cs.iter().map(|c| c.substitute(caps)).collect()),
            C::If(cond, a, b) => C::If(
                expr(cond, &path),
                Box::new(a.substitute(caps)),
                Box::new(b.substitute(caps)),
            ),
            C::For(p, cs) => C::For(
                p.as_ref().map(path),
                cs.iter().map(|c| c.substitute(caps)).collect(),
            ),
        }
    }
}

// ---------------------------------------------------------------------------------
// The reference interpreter, from the spec
// ---------------------------------------------------------------------------------

/// A failure: where (outermost first), as the server names it.
#[derive(Debug)]
struct Failed {
    chain: Vec<String>,
}

impl Failed {
    fn new() -> Failed {
        Failed { chain: Vec::new() }
    }

    fn within(mut self, place: String) -> Failed {
        self.chain.insert(0, place);
        self
    }
}

type R<T> = Result<T, Failed>;

fn nil_if_empty(items: Vec<J>) -> J {
    if items.is_empty() {
        J::Null
    } else {
        J::Arr(items)
    }
}

fn sequence(doc: &mut Doc, commands: &[C]) -> R<Vec<J>> {
    let mut out = Vec::new();
    for (i, c) in commands.iter().enumerate() {
        out.push(
            run(doc, c).map_err(|e| e.within(format!("command {} ({})", i + 1, c.type_name())))?,
        );
    }
    Ok(out)
}

fn run(doc: &mut Doc, c: &C) -> R<J> {
    match c {
        C::Inc(p, by) => {
            let key = render_path(p);
            let sum = match doc.get(&key) {
                Some(J::Num(n)) => n + by,
                _ => return Err(Failed::new()),
            };
            doc.replace(&key, J::Num(sum));
            Ok(J::Num(sum))
        }
        C::Replace(p, v) => match doc.replace(&render_path(p), v.clone()) {
            Some(_) => Ok(v.clone()),
            None => Err(Failed::new()),
        },
        C::Delete(p) if has_star(p) => {
            let found = doc.matches(&render_path(p));
            for (path, _, _) in found.iter().rev() {
                doc.delete(path);
            }
            Ok(J::Arr(found.into_iter().map(|m| m.2).collect()))
        }
        C::Delete(p) => Ok(doc.delete(&render_path(p)).unwrap_or(J::Null)),
        C::Get(p) if has_star(p) => {
            let mut found = doc.matches(&render_path(p));
            found.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(J::Obj(
                found.into_iter().map(|(path, _, v)| (path, v)).collect(),
            ))
        }
        C::Get(p) => doc.get(&render_path(p)).cloned().ok_or_else(Failed::new),
        C::ReturnValue(v) => Ok(v.clone()),
        C::ReturnText(parts) => interpolate(doc, parts),
        C::Print(messages) => {
            let mut out = Vec::new();
            for m in messages {
                out.push(J::Str(print(doc, m)?));
            }
            Ok(nil_if_empty(out))
        }
        C::Noop => Ok(J::Null),
        C::Commands(cs) => Ok(nil_if_empty(sequence(doc, cs)?)),
        C::If(cond, a, b) => {
            let (name, branch) = match eval(doc, cond)? {
                J::Bool(true) => ("if_true", a),
                J::Bool(false) => ("if_false", b),
                _ => return Err(Failed::new()),
            };
            run(doc, branch).map_err(|e| e.within(format!("{name} ({})", branch.type_name())))
        }
        C::For(pattern, body) => {
            let Some(pattern) = pattern.as_ref().filter(|p| has_star(p)) else {
                return Err(Failed::new());
            };
            let mut out = Vec::new();
            for (path, caps, _) in doc.matches(&render_path(pattern)) {
                for (i, c) in body.iter().enumerate() {
                    let c = c.substitute(&caps);
                    let v = run(doc, &c).map_err(|e| {
                        e.within(format!(
                            "match {path}, command {} ({})",
                            i + 1,
                            c.type_name()
                        ))
                    })?;
                    out.push(obj(&[("Error", J::Null), ("Value", v)]));
                }
            }
            Ok(nil_if_empty(out))
        }
    }
}

/// A fallback default: true, false, null/nil, an integer (printed as one), a float,
/// a quoted string, else the raw text. Answers the value and whether it is an integer.
fn literal(text: &str) -> (J, bool) {
    let t = text.trim();
    match t {
        "true" => return (J::Bool(true), false),
        "false" => return (J::Bool(false), false),
        "null" | "nil" => return (J::Null, false),
        _ => {}
    }
    let digits = t.strip_prefix(['+', '-']).unwrap_or(t);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return (J::Num(t.parse::<i64>().unwrap() as f64), true);
    }
    if let Ok(f) = t.parse::<f64>() {
        return (J::Num(f), false);
    }
    let quoted = t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')));
    if quoted {
        return (s(&t[1..t.len() - 1]), false);
    }
    (s(t), false)
}

fn fallback(doc: &Doc, p: &PathT, defaults: &[String]) -> R<(J, bool)> {
    if defaults.len() != 1 || has_star(p) {
        return Err(Failed::new());
    }
    match doc.get(&render_path(p)) {
        Some(v) => Ok((v.clone(), false)),
        None => Ok(literal(&defaults[0])),
    }
}

fn interpolate(doc: &Doc, parts: &[Part]) -> R<J> {
    match parts {
        [Part::Ph(p, _)] if has_star(p) => Ok(J::Arr(
            doc.matches(&render_path(p))
                .into_iter()
                .map(|m| m.2)
                .collect(),
        )),
        [Part::Ph(p, _)] => doc.get(&render_path(p)).cloned().ok_or_else(Failed::new),
        [Part::Fb(p, d)] => fallback(doc, p, d).map(|r| r.0),
        _ if parts.iter().all(|p| matches!(p, Part::Lit(_))) => Ok(s(&render_parts(parts))),
        _ => {
            let mut out = String::new();
            for part in parts {
                match part {
                    Part::Lit(t) => out.push_str(t),
                    Part::Ph(p, _) | Part::Fb(p, _) if has_star(p) => return Err(Failed::new()),
                    Part::Ph(p, _) => {
                        out.push_str(&go_v(doc.get(&render_path(p)).ok_or_else(Failed::new)?))
                    }
                    Part::Fb(p, d) => match fallback(doc, p, d)? {
                        (J::Num(n), true) => out.push_str(&(n as i64).to_string()),
                        (v, _) => out.push_str(&go_v(&v)),
                    },
                }
            }
            Ok(J::Str(out))
        }
    }
}

/// PRINT looks every placeholder's text up as written: no fallback, no wildcard.
fn print(doc: &Doc, parts: &[Part]) -> R<String> {
    let mut out = String::new();
    for part in parts {
        let key = match part {
            Part::Lit(t) => {
                out.push_str(t);
                continue;
            }
            Part::Ph(p, _) => render_path(p),
            Part::Fb(p, d) => std::iter::once(render_path(p))
                .chain(d.iter().cloned())
                .collect::<Vec<_>>()
                .join(" || "),
        };
        out.push_str(&go_v(doc.get(&key).ok_or_else(Failed::new)?));
    }
    Ok(out)
}

/// govaluate's rules, on the condition's tree.
fn eval(doc: &Doc, e: &E) -> R<J> {
    match e {
        E::Lit(j, _) => Ok(j.clone()),
        E::Var(p) => Ok(doc.get(&render_path(p)).cloned().unwrap_or(J::Null)),
        E::Not(c) => match eval(doc, c)? {
            J::Bool(b) => Ok(J::Bool(!b)),
            _ => Err(Failed::new()),
        },
        E::Neg(c) => match eval(doc, c)? {
            J::Num(n) => Ok(J::Num(-n)),
            _ => Err(Failed::new()),
        },
        E::Bin(op, l, r) => {
            let l = eval(doc, l)?;
            match (op, &l) {
                (Op::And, J::Bool(false)) => return Ok(l),
                (Op::Or, J::Bool(true)) => return Ok(l),
                _ => {}
            }
            binary(*op, l, eval(doc, r)?)
        }
        E::Agg {
            all,
            pattern,
            op,
            rhs,
        } => {
            let found = doc.matches(&render_path(pattern));
            if found.is_empty() {
                return Ok(J::Bool(false));
            }
            let mut acc = None;
            for (_, _, v) in found {
                match acc {
                    Some(J::Bool(b)) if b != *all => break,
                    _ => {}
                }
                let r = binary(*op, v, rhs.clone())?;
                acc = Some(match acc {
                    None => r,
                    Some(prev) => binary(if *all { Op::And } else { Op::Or }, prev, r)?,
                });
            }
            Ok(acc.unwrap_or(J::Bool(false)))
        }
    }
}

fn binary(op: Op, l: J, r: J) -> R<J> {
    Ok(match op {
        Op::And | Op::Or => match (&l, &r) {
            (J::Bool(a), J::Bool(b)) => J::Bool(if op == Op::And { *a && *b } else { *a || *b }),
            _ => return Err(Failed::new()),
        },
        Op::Eq => J::Bool(deep_equal(&l, &r)),
        Op::Ne => J::Bool(!deep_equal(&l, &r)),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ord = match (&l, &r) {
                (J::Num(a), J::Num(b)) => a.partial_cmp(b),
                (J::Str(a), J::Str(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
                _ => return Err(Failed::new()),
            };
            J::Bool(match op {
                Op::Lt => ord == Some(Ordering::Less),
                Op::Le => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                Op::Gt => ord == Some(Ordering::Greater),
                _ => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
            })
        }
        Op::Add => match (&l, &r) {
            (J::Num(a), J::Num(b)) => J::Num(a + b),
            (J::Str(_), _) | (_, J::Str(_)) => J::Str(format!("{}{}", go_v(&l), go_v(&r))),
            _ => return Err(Failed::new()),
        },
        Op::Sub | Op::Mul => match (&l, &r) {
            (J::Num(a), J::Num(b)) => J::Num(if op == Op::Sub { a - b } else { a * b }),
            _ => return Err(Failed::new()),
        },
    })
}

// ---------------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------------

/// splitmix64: the generator's whole state is the seed proptest picked (and the paths
/// of the document drawn first, so that programs mostly address nodes that exist).
struct Rng(u64, Vec<Vec<String>>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed, Vec::new())
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn percent(&mut self, p: usize) -> bool {
        self.below(100) < p
    }

    fn word(&mut self, words: &[&'static str]) -> &'static str {
        words[self.below(words.len())]
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const FIELDS: [&str; 3] = ["a", "b", "c"];
const STRINGS: [&str; 5] = ["x", "complete", "a b", "", "7"];

fn number(r: &mut Rng) -> f64 {
    let n = r.below(9) as f64 - 3.0;
    if r.percent(25) {
        n + 0.5
    } else {
        n
    }
}

fn scalar(r: &mut Rng) -> J {
    match r.below(10) {
        0 => J::Null,
        1 => J::Bool(r.percent(50)),
        2..=5 => J::Num(number(r)),
        _ => s(r.word(&STRINGS)),
    }
}

fn value(r: &mut Rng, depth: usize) -> J {
    if depth == 0 || r.percent(40) {
        return scalar(r);
    }
    if r.percent(60) {
        let mut fields: Vec<&str> = FIELDS.to_vec();
        let n = 1 + r.below(3);
        let mut out = Vec::new();
        for _ in 0..n {
            let name = fields.remove(r.below(fields.len()));
            out.push((name.to_string(), value(r, depth - 1)));
        }
        J::Obj(out)
    } else {
        J::Arr((0..r.below(4)).map(|_| value(r, depth - 1)).collect())
    }
}

/// A path: a literal root, then up to three segments; `star` allows `*`, `caps`
/// captures `${{1}}`..`${{caps}}` (the enclosing loops' numbers).
fn path(r: &mut Rng, star: bool, caps: usize) -> PathT {
    if !r.1.is_empty() && r.percent(60) {
        let i = r.below(r.1.len());
        let known = r.1[i].clone();
        let mut p = vec![Seg::Lit(known[0].clone())];
        for seg in &known[1..] {
            p.push(if star && r.percent(40) {
                Seg::Star
            } else if caps > 0 && r.percent(40) {
                Seg::Cap(1 + r.below(caps))
            } else {
                Seg::Lit(seg.clone())
            });
        }
        return p;
    }
    let root = match r.below(20) {
        0 => "zz",
        1..=3 => "e",
        _ => "d",
    };
    let mut p = vec![Seg::Lit(root.into())];
    for _ in 0..r.below(4) {
        p.push(if star && r.percent(35) {
            Seg::Star
        } else if caps > 0 && r.percent(35) {
            Seg::Cap(1 + r.below(caps))
        } else {
            Seg::Lit((*r.pick(&["a", "b", "c", "0", "1", "2", "a", "b", "zz"])).into())
        });
    }
    p
}

/// A path that may have `*` segments `percent` times in a hundred.
fn path_star(r: &mut Rng, percent: usize, caps: usize) -> PathT {
    let star = r.percent(percent);
    path(r, star, caps)
}

fn pattern(r: &mut Rng, caps: usize) -> PathT {
    let mut p = path(r, true, caps);
    if !has_star(&p) {
        p.push(Seg::Star);
    }
    p
}

const DEFAULTS: [&str; 12] = [
    "true", "false", "null", "nil", "7", "-3", "2.5", "1e3", "'q'", "\"w\"", "raw", "0",
];

fn part(r: &mut Rng, caps: usize) -> Part {
    match r.below(6) {
        0 | 1 => Part::Lit((*r.pick(&["t", " ", "x=", ": ", "-"])).into()),
        2 | 3 => Part::Ph(path_star(r, 10, caps), r.percent(30)),
        _ => {
            let n = if r.percent(8) { 2 } else { 1 };
            Part::Fb(
                path_star(r, 8, caps),
                (0..n).map(|_| r.pick(&DEFAULTS).to_string()).collect(),
            )
        }
    }
}

fn parts(r: &mut Rng, caps: usize) -> Vec<Part> {
    match r.below(4) {
        // A lone placeholder: typed, wildcard or fallback.
        0 => vec![match r.below(3) {
            0 => Part::Ph(path(r, false, caps), r.percent(30)),
            1 => Part::Ph(pattern(r, caps), false),
            _ => part(r, caps),
        }],
        1 => vec![Part::Lit((*r.pick(&["plain", "no placeholder"])).into())],
        _ => (0..2 + r.below(3)).map(|_| part(r, caps)).collect(),
    }
}

fn operand(r: &mut Rng, caps: usize, depth: usize) -> E {
    match r.below(if depth == 0 { 4 } else { 6 }) {
        0 | 1 => E::Var(path(r, false, caps)),
        2 => E::Lit(J::Num(number(r)), false),
        3 => E::Lit(s(r.word(&STRINGS)), r.percent(50)),
        4 => E::Bin(
            *r.pick(&[Op::Add, Op::Sub, Op::Mul]),
            Box::new(operand(r, caps, depth - 1)),
            Box::new(operand(r, caps, depth - 1)),
        ),
        _ => E::Neg(Box::new(operand(r, caps, depth - 1))),
    }
}

fn condition(r: &mut Rng, caps: usize, depth: usize) -> E {
    match r.below(if depth == 0 { 4 } else { 7 }) {
        0 | 1 => E::Bin(
            *r.pick(&COMPARISONS),
            Box::new(operand(r, caps, 1)),
            Box::new(operand(r, caps, 1)),
        ),
        2 => E::Agg {
            all: r.percent(50),
            pattern: pattern(r, caps),
            op: *r.pick(&COMPARISONS),
            rhs: if r.percent(60) {
                J::Num(number(r))
            } else {
                s(r.word(&["x", "complete", "7"]))
            },
        },
        3 => match r.below(4) {
            0 => E::Lit(J::Bool(r.percent(50)), false),
            // Not a boolean, or a boolean variable.
            _ => operand(r, caps, 0),
        },
        4 => E::Not(Box::new(condition(r, caps, depth - 1))),
        _ => E::Bin(
            *r.pick(&[Op::And, Op::Or]),
            Box::new(condition(r, caps, depth - 1)),
            Box::new(condition(r, caps, depth - 1)),
        ),
    }
}

fn command(r: &mut Rng, depth: usize, caps: usize) -> C {
    let kinds = if depth == 0 { 7 } else { 10 };
    match r.below(kinds) {
        0 => C::Inc(path_star(r, 5, caps), *r.pick(&[1.0, -1.0, 2.0, 0.5, -2.5])),
        1 => C::Replace(
            path_star(r, 5, caps),
            if r.percent(15) {
                s("${{1}}")
            } else {
                value(r, 2)
            },
        ),
        2 => C::Delete(path_star(r, 40, caps)),
        3 => C::Get(path_star(r, 40, caps)),
        4 => {
            if r.percent(25) {
                C::ReturnValue(match r.below(4) {
                    0 => J::Num(number(r)),
                    1 => J::Bool(true),
                    2 => J::Null,
                    _ => obj(&[("k", s("${{d/a}}"))]),
                })
            } else {
                C::ReturnText(parts(r, caps))
            }
        }
        5 => C::Print((0..r.below(3)).map(|_| parts(r, caps)).collect()),
        6 => C::Noop,
        7 => C::Commands(
            (0..r.below(4))
                .map(|_| command(r, depth - 1, caps))
                .collect(),
        ),
        8 => C::If(
            condition(r, caps, 2),
            Box::new(command(r, depth - 1, caps)),
            Box::new(command(r, depth - 1, caps)),
        ),
        _ => {
            let p = match r.below(12) {
                0 => None,
                1 => Some(path(r, false, caps)),
                _ => Some(pattern(r, caps)),
            };
            let inner = caps.max(p.as_deref().map_or(0, stars));
            C::For(
                p,
                (0..1 + r.below(3))
                    .map(|_| command(r, depth - 1, inner))
                    .collect(),
            )
        }
    }
}

fn document(r: &mut Rng) -> Doc {
    let mut d = value(r, 3);
    if !matches!(d, J::Obj(_)) {
        d = J::Obj(vec![("a".into(), d)]);
    }
    let mut doc = Doc {
        roots: vec![("d".into(), d), ("e".into(), value(r, 2))],
    };
    doc.prune();
    fn paths(node: &J, at: Vec<String>, out: &mut Vec<Vec<String>>) {
        out.push(at.clone());
        let mut visit = |name: String, v: &J| {
            let mut p = at.clone();
            p.push(name);
            paths(v, p, out);
        };
        match node {
            J::Obj(fields) => fields.iter().for_each(|(k, v)| visit(k.clone(), v)),
            J::Arr(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| visit(i.to_string(), v)),
            _ => {}
        }
    }
    for (root, v) in &doc.roots {
        paths(v, vec![root.clone()], &mut r.1);
    }
    doc
}

// ---------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------

fn stored(store: &Store, root: &str) -> Option<Value> {
    let db = store.db(0).unwrap();
    db.peek(root.as_bytes(), store.now(), |e| e.map(|e| e.value.clone()))
}

fn state_text(store: &Store) -> String {
    ["d", "e", "zz"]
        .iter()
        .map(|root| match stored(store, root) {
            Some(v) => format!("{root}={}", json_text(&v)),
            None => format!("{root}=missing"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn reference_state(doc: &Doc) -> String {
    ["d", "e", "zz"]
        .iter()
        .map(|root| match doc.roots.iter().find(|(k, _)| k == root) {
            Some((_, v)) => format!("{root}={}", json_text(&to_value(v))),
            None => format!("{root}=missing"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn check(seed: u64) -> Result<(), TestCaseError> {
    let mut r = Rng::new(seed);
    let doc = document(&mut r);
    let program: Vec<C> = (0..1 + r.below(4)).map(|_| command(&mut r, 3, 0)).collect();
    let body = obj(&[("commands", J::Arr(program.iter().map(C::to_json).collect()))]);
    let body_text = json_text(&to_value(&body));

    let store = Store::new(StoreConfig {
        databases: 1,
        shard_bits: 2,
    });
    let db = store.db(0).unwrap();
    db.batch_all(b'/', store.now(), |b| {
        for (k, v) in &doc.roots {
            b.set(k.as_bytes(), to_value(v))?;
        }
        Ok::<_, mapcache_store::doc::DocError>(())
    })
    .unwrap();
    let before = state_text(&store);
    prop_assert_eq!(&before, &reference_state(&doc), "seeding");

    let parsed = parse_request(&to_value(&body))
        .map_err(|e| TestCaseError::fail(format!("{e}: {body_text}")))?;
    let answer = Programs::default().run(db, &parsed, store.now());

    let mut model = doc.clone();
    let expected = sequence(&mut model, &program);
    let context = format!(
        "\ndocument: {before}\nprogram: {body_text}\nserver: {answer:?}\nreference: {expected:?}"
    );
    match (answer, expected) {
        (Ok(got), Ok(want)) => {
            prop_assert_eq!(
                json_text(&got),
                json_text(&to_value(&J::Arr(want))),
                "answer{}",
                context
            );
            model.prune();
            prop_assert_eq!(
                state_text(&store),
                reference_state(&model),
                "state{}",
                context
            );
        }
        (Err(e), Err(failed)) => {
            let place = failed.chain.join(": ");
            prop_assert!(
                e.message().starts_with(&format!("{place}: ")),
                "failed elsewhere: expected {:?}{}",
                place,
                context
            );
            prop_assert_eq!(
                state_text(&store),
                before,
                "a failed program left writes{}",
                context
            );
        }
        _ => prop_assert!(false, "one failed, the other not{}", context),
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROGRAM_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn programs_agree_with_the_reference_interpreter(seed in any::<u64>()) {
        check(seed)?;
    }
}

/// Both sides run, and disagree loudly on a program built by hand: guards the
/// harness itself (a reference that answered everything with errors would agree
/// with a server that did the same).
#[test]
fn the_harness_sees_successes_and_failures() {
    let mut ok = 0;
    let mut failed = 0;
    let mut for_loops = 0;
    for seed in 0..400u64 {
        let mut r = Rng::new(seed);
        let doc = document(&mut r);
        let program: Vec<C> = (0..1 + r.below(4)).map(|_| command(&mut r, 3, 0)).collect();
        let mut model = doc.clone();
        let json = json_text(&to_value(&J::Arr(program.iter().map(C::to_json).collect())));
        if json.contains(r#""Error":null"#) || json.contains("FOR") {
            for_loops += 1;
        }
        match sequence(&mut model, &program) {
            Ok(_) => ok += 1,
            Err(_) => failed += 1,
        }
        check(seed).unwrap();
    }
    eprintln!("ok {ok}, failed {failed}, with FOR {for_loops}");
    assert!(ok > 100 && failed > 50, "ok {ok}, failed {failed}");
    assert!(for_loops > 50, "{for_loops}");
}
