//! map-cache's command language and triggers, as a library with no I/O.
//!
//! - [`program`]: the commands (INC, REPLACE, DELETE, GET, RETURN, PRINT, NOOP,
//!   COMMANDS, IF, FOR) read from JSON values.
//! - [`interpolate`]: `${{ key }}` placeholders, fallbacks and captures; [`gofmt`]
//!   prints values as Go's `%v` does.
//! - [`condition`]: IF conditions with govaluate's rules, by a small parser and
//!   evaluator written here: no expression crate (evalexpr and the like) has
//!   govaluate's value model (float64 only, null, `==` across types) or its errors.
//! - [`run`]: the interpreter, [`execute`] and [`fire`], over the [`Document`] trait.
//! - [`triggers`]: the per-cache trigger registry, indexed by pattern segments.
//! - [`document`]: the [`Document`] trait the store implements ([`store`]: a batch of
//!   the document engine is a document), and [`MemoryDocument`] (a small store of
//!   its own) for tests.
//!
//! Entry points: [`parse_request`] and [`Command::from_value`] read programs,
//! [`execute`] runs one, [`fire`] runs the triggers of a write, [`Triggers`] keeps a
//! cache's triggers ([`parse_trigger_request`] reads the trigger endpoints' bodies).
//!
//! The semantics are the Go server's (goodblaster/map-cache, `pkg/caches`), read from
//! its code; docs/programs.md lists them with examples and the few deliberate
//! differences (mapcache runs a program all or nothing, for one).

pub mod condition;
pub mod document;
pub mod error;
pub mod gofmt;
pub mod interpolate;
pub mod program;
pub mod run;
pub mod store;
pub mod triggers;

pub use document::{Document, Match, MemoryDocument};
pub use error::{DocError, ExecError, ExecErrorKind, ParseError};
pub use program::{parse_request, Command};
pub use run::{execute, fire, Limits, MAX_TRIGGER_DEPTH};
pub use triggers::{
    parse_trigger_request, Trigger, TriggerError, TriggerRequest, Triggers, MAX_PATTERN_SEGMENTS,
};
