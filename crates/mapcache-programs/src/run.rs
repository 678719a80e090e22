//! The interpreter: [`execute`] runs a program, [`fire`] runs the triggers a write
//! set off. Both work on a [`Document`] the caller has opened as one all-or-nothing
//! batch: on an error the caller discards the batch, so nothing here undoes writes.
//!
//! Captures. FOR substitutes its matched segments into its body's texts before
//! running them (an inner FOR sees the outer captures already substituted). A trigger's
//! captures are substituted when each command of its body runs, into whatever
//! `${{N}}` FOR has left: the keys, messages, conditions and loop expressions.
//!
//! Every executed command (nested ones, each FOR iteration's commands and triggers'
//! commands included) costs one step of [`Limits::max_steps`], and the deadline is
//! checked at each step.

use std::time::Instant;

use mapcache_store::{Hash, Value};

use crate::condition;
use crate::document::Document;
use crate::error::{ExecError, ExecErrorKind};
use crate::interpolate::{self, placeholders, substitute_captures};
use crate::program::{text_value, Command};
use crate::triggers::Triggers;

/// How deep trigger cascades may go: a trigger's write may fire triggers whose writes
/// fire triggers ... ten times; the eleventh nested write fails.
pub const MAX_TRIGGER_DEPTH: usize = 10;

/// Bounds on one run (a program, or the triggers of one write).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most commands that may run, nested ones, FOR iterations and triggers
    /// included; exceeding it is [`ExecErrorKind::StepLimit`].
    pub max_steps: u64,
    /// When to give up ([`ExecErrorKind::Deadline`]); `None`: never.
    pub deadline: Option<Instant>,
}

impl Default for Limits {
    /// A million steps, no deadline.
    fn default() -> Limits {
        Limits {
            max_steps: 1_000_000,
            deadline: None,
        }
    }
}

/// Runs `program` and answers the array of each top-level command's value (the body
/// of Go's `POST /api/v1/commands/execute`). The first error stops the run; its
/// message starts with the failing command's position, e.g.
/// `command 2 (INC): key not found: a/b`.
pub fn execute<D: Document + ?Sized>(
    program: &[Command],
    doc: &mut D,
    triggers: &Triggers,
    limits: &Limits,
) -> Result<Value, ExecError> {
    let mut run = Run::new(doc, triggers, limits);
    let scope = Scope::top();
    let values = run.sequence(program, &scope)?;
    Ok(Value::List(values.into()))
}

/// Runs the triggers that match `replaced_path`, after a write that replaced an
/// existing node there (HTTP `PUT /keys/{path}`, PATCH REPLACE/INC, RESP writes to
/// existing keys). Their own writes fire further triggers, up to
/// [`MAX_TRIGGER_DEPTH`] levels. Any failure fails the write.
pub fn fire<D: Document + ?Sized>(
    replaced_path: &str,
    doc: &mut D,
    triggers: &Triggers,
    limits: &Limits,
) -> Result<(), ExecError> {
    Run::new(doc, triggers, limits).fire(replaced_path, 0)
}

/// Where a command runs: the trigger captures it sees and the trigger depth.
#[derive(Debug, Clone)]
struct Scope {
    captures: Vec<String>,
    /// 0 in a program; n inside the command of a trigger fired n levels deep.
    depth: usize,
}

impl Scope {
    fn top() -> Scope {
        Scope {
            captures: Vec::new(),
            depth: 0,
        }
    }

    /// `text` with this scope's trigger captures substituted.
    fn text(&self, text: &str) -> String {
        if self.captures.is_empty() {
            text.to_string()
        } else {
            substitute_captures(text, &self.captures)
        }
    }
}

struct Run<'a, D: ?Sized> {
    doc: &'a mut D,
    triggers: &'a Triggers,
    limits: &'a Limits,
    steps: u64,
}

impl<'a, D: Document + ?Sized> Run<'a, D> {
    fn new(doc: &'a mut D, triggers: &'a Triggers, limits: &'a Limits) -> Self {
        Run {
            doc,
            triggers,
            limits,
            steps: 0,
        }
    }

    fn step(&mut self) -> Result<(), ExecError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(ExecError::new(
                ExecErrorKind::StepLimit,
                format!(
                    "step limit exceeded: more than {} commands ran",
                    self.limits.max_steps
                ),
            ));
        }
        if self.limits.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(ExecError::new(ExecErrorKind::Deadline, "deadline exceeded"));
        }
        Ok(())
    }

    /// Runs `commands` in order; the first error, named by position, stops them.
    fn sequence(&mut self, commands: &[Command], scope: &Scope) -> Result<Vec<Value>, ExecError> {
        let mut values = Vec::with_capacity(commands.len());
        for (i, command) in commands.iter().enumerate() {
            let value = self.command(command, scope).map_err(|e| {
                e.within(format_args!("command {} ({})", i + 1, command.type_name()))
            })?;
            values.push(value);
        }
        Ok(values)
    }

    fn command(&mut self, command: &Command, scope: &Scope) -> Result<Value, ExecError> {
        self.step()?;
        match command {
            Command::Inc { key, value } => self.inc(&scope.text(key), *value, scope),
            Command::Replace { key, value } => {
                let key = scope.text(key);
                self.doc.replace(&key, value.clone())?;
                self.fire(&key, scope.depth)?;
                Ok(value.clone())
            }
            Command::Delete { key } => self.delete(&scope.text(key)),
            Command::Get { key } => self.get(&scope.text(key)),
            Command::Return { key: Value::Str(s) } => {
                let text = scope.text(&String::from_utf8_lossy(s));
                interpolate::interpolate(&text, &*self.doc)
            }
            Command::Return { key } => Ok(key.clone()),
            Command::Print { messages } => {
                let mut printed = Vec::with_capacity(messages.len());
                for message in messages {
                    let text = interpolate::print_message(&scope.text(message), &*self.doc)?;
                    printed.push(text_value(&text));
                }
                Ok(nil_if_empty(printed))
            }
            Command::Noop => Ok(Value::Null),
            Command::Commands { commands } => Ok(nil_if_empty(self.sequence(commands, scope)?)),
            Command::If {
                condition,
                if_true,
                if_false,
            } => {
                let (name, branch) = if condition::evaluate(&scope.text(condition), &*self.doc)? {
                    ("if_true", if_true)
                } else {
                    ("if_false", if_false)
                };
                self.command(branch, scope)
                    .map_err(|e| e.within(format_args!("{name} ({})", branch.type_name())))
            }
            Command::For {
                loop_expr,
                commands,
            } => self.for_each(&scope.text(loop_expr), commands, scope),
        }
    }

    fn inc(&mut self, key: &str, by: f64, scope: &Scope) -> Result<Value, ExecError> {
        let sum = match self.doc.get(key)? {
            None => return Err(ExecError::failed(format!("key not found: {key}"))),
            Some(Value::Number(n)) => n + by,
            Some(_) => return Err(ExecError::failed("not a number")),
        };
        self.doc.replace(key, Value::Number(sum))?;
        self.fire(key, scope.depth)?;
        Ok(Value::Number(sum))
    }

    /// With `*`: deletes every match and answers their values in document order (it
    /// deletes from the last, so that array indexes stay valid). Otherwise the old
    /// value, or null when there was none.
    fn delete(&mut self, key: &str) -> Result<Value, ExecError> {
        if !key.contains('*') {
            return Ok(self.doc.delete(key)?.unwrap_or(Value::Null));
        }
        let matches = self.doc.matches(key)?;
        for m in matches.iter().rev() {
            self.doc.delete(&m.path)?;
        }
        Ok(Value::List(matches.into_iter().map(|m| m.value).collect()))
    }

    /// With `*`: `{path: value}` for every match, keys sorted as Go's JSON encoder
    /// writes a map. Otherwise the value; a missing key is an error.
    fn get(&mut self, key: &str) -> Result<Value, ExecError> {
        if !key.contains('*') {
            return self
                .doc
                .get(key)?
                .ok_or_else(|| ExecError::failed(format!("key not found: {key}")));
        }
        let mut matches = self.doc.matches(key)?;
        matches.sort_by(|a, b| a.path.cmp(&b.path));
        let mut out = Hash::new();
        for m in matches {
            out.insert(m.path.as_bytes(), m.value);
        }
        Ok(Value::hash(out))
    }

    /// FOR: the first placeholder of `loop_expr` is the pattern (it must contain `*`);
    /// for each match, each command runs with the captures substituted. Answers one
    /// `{"Error": null, "Value": v}` per match and command (Go's `CmdResult`s).
    fn for_each(
        &mut self,
        loop_expr: &str,
        commands: &[Command],
        scope: &Scope,
    ) -> Result<Value, ExecError> {
        let Some(pattern) = placeholders(loop_expr).first().map(|p| p.key) else {
            return Err(ExecError::failed(format!(
                "invalid FOR expression: {loop_expr}"
            )));
        };
        if !pattern.contains('*') {
            return Err(ExecError::failed(format!(
                "FOR expression must include a wildcard: {pattern}"
            )));
        }
        let mut results = Vec::new();
        for m in self.doc.matches(pattern)? {
            let substitute = |text: &str| substitute_captures(text, &m.captures);
            for (i, command) in commands.iter().enumerate() {
                let command = command.map_text(&substitute);
                let value = self.command(&command, scope).map_err(|e| {
                    e.within(format_args!(
                        "match {}, command {} ({})",
                        m.path,
                        i + 1,
                        command.type_name()
                    ))
                })?;
                let mut result = Hash::new();
                result.insert(b"Error", Value::Null);
                result.insert(b"Value", value);
                results.push(Value::hash(result));
            }
        }
        Ok(nil_if_empty(results))
    }

    /// Runs every trigger matching `path` (a node just replaced), in creation order,
    /// each with its captures, one level deeper.
    fn fire(&mut self, path: &str, depth: usize) -> Result<(), ExecError> {
        if depth > MAX_TRIGGER_DEPTH {
            return Err(ExecError::failed(format!(
                "trigger recursion depth limit exceeded (max: {MAX_TRIGGER_DEPTH}) - possible infinite loop detected"
            )));
        }
        if self.triggers.is_empty() {
            return Ok(());
        }
        let triggers = self.triggers;
        let hits = triggers.matching(path);
        if hits.is_empty() {
            return Ok(());
        }
        // Go finds wildcard triggers through its `WildKeys`, which skips null nodes:
        // a wildcard trigger does not fire when the new value is null.
        let is_null = matches!(self.doc.get(path)?, Some(Value::Null));
        for (trigger, captures) in hits {
            if is_null && trigger.key.contains('*') {
                continue;
            }
            let scope = Scope {
                captures,
                depth: depth + 1,
            };
            self.command(&trigger.command, &scope).map_err(|e| {
                e.within(format_args!(
                    "trigger {} on {} ({})",
                    trigger.id,
                    trigger.key,
                    trigger.command.type_name()
                ))
            })?;
        }
        Ok(())
    }
}

/// Go answers a nil slice, JSON null, when a list of results stays empty.
fn nil_if_empty(values: Vec<Value>) -> Value {
    if values.is_empty() {
        Value::Null
    } else {
        Value::List(values.into())
    }
}
