//! Helpers shared by the integration tests: JSON in, JSON text out.

#![allow(dead_code)]

use mapcache_programs::{execute, Command, Document, ExecError, Limits, MemoryDocument, Triggers};
use mapcache_store::Value;

/// Parses JSON text (test data only).
pub fn json(text: &str) -> Value {
    let mut bytes = text.as_bytes().to_vec();
    mapcache_store::json::parse(&mut bytes, 64).expect("test JSON")
}

/// Renders a value as compact JSON text.
pub fn text(value: &Value) -> String {
    let mut out = Vec::new();
    mapcache_store::json::write(value, &mut out);
    String::from_utf8(out).expect("JSON is UTF-8")
}

/// A command from JSON text.
pub fn command(text: &str) -> Command {
    Command::from_value(&json(text)).expect("test command")
}

/// A program (a JSON array of commands).
pub fn program(text: &str) -> Vec<Command> {
    match json(text) {
        Value::List(items) => items
            .iter()
            .map(|c| Command::from_value(&c.cow()).expect("test command"))
            .collect(),
        _ => panic!("a program is an array"),
    }
}

/// Runs `program_json` over `doc` with `triggers` as one batch of the store, as the
/// server runs a program: the answer as JSON text, or the error's message (and then
/// nothing the program wrote remains).
pub fn run_with(
    doc: &mut MemoryDocument,
    triggers: &Triggers,
    program_json: &str,
) -> Result<String, String> {
    let program = program(program_json);
    doc.batch(|b| execute(&program, b, triggers, &Limits::default()))
        .map(|v| text(&v))
        .map_err(|e: ExecError| e.message().to_string())
}

/// Runs `program_json` over a fresh document made from `doc_json`, without triggers.
pub fn run(doc_json: &str, program_json: &str) -> (Result<String, String>, MemoryDocument) {
    let mut doc = MemoryDocument::from_json(doc_json).expect("test document");
    let answer = run_with(&mut doc, &Triggers::new(), program_json);
    (answer, doc)
}

/// The value at `path` as JSON text, `missing` when absent.
pub fn at(doc: &MemoryDocument, path: &str) -> String {
    match doc.get(path).expect("get") {
        Some(v) => text(&v),
        None => "missing".to_string(),
    }
}
