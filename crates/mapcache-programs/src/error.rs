//! The crate's three error types: a malformed program ([`ParseError`], HTTP 400), a
//! failed run ([`ExecError`], HTTP 500, or 408 for the step budget and the deadline),
//! and a refused document operation ([`DocError`], the cause inside an `ExecError`).

use std::fmt;

/// Why a program (or a trigger's command) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The request or a command is malformed: not an object, a missing or unknown
    /// `type`, a field of the wrong JSON type. Go answers 400 `invalid json payload`.
    #[error("{at}: {reason}")]
    Invalid {
        /// Where: `commands[2].if_true`, ...
        at: String,
        /// What: `unknown command type: FOO`, ...
        reason: String,
    },
    /// `{"commands": []}` (or no `commands`): Go answers 400 `validation failed`.
    #[error("at least one command is required")]
    Empty,
}

impl ParseError {
    /// The Go server's words for this kind of refusal, which both front ends put
    /// before the details: `invalid json payload` or `validation failed`.
    pub fn summary(&self) -> &'static str {
        match self {
            ParseError::Invalid { .. } => "invalid json payload",
            ParseError::Empty => "validation failed",
        }
    }

    pub(crate) fn invalid(at: &str, reason: impl Into<String>) -> ParseError {
        ParseError::Invalid {
            at: at.to_string(),
            reason: reason.into(),
        }
    }
}

/// What kind of failure stopped a run; the HTTP layer picks its status from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecErrorKind {
    /// A command failed (missing key, not a number, bad condition, a trigger failed,
    /// trigger recursion too deep, ...): Go's 500 `command execution failed`.
    Failed,
    /// More commands ran (nested ones, FOR iterations and triggers included) than
    /// [`Limits::max_steps`](crate::Limits::max_steps) allows: 408.
    StepLimit,
    /// [`Limits::deadline`](crate::Limits::deadline) passed: 408.
    Deadline,
}

impl ExecErrorKind {
    /// The words both front ends put before the details: `command execution failed`
    /// or, out of steps or time, `command timed out`.
    pub fn summary(self) -> &'static str {
        match self {
            ExecErrorKind::Failed => "command execution failed",
            ExecErrorKind::StepLimit | ExecErrorKind::Deadline => "command timed out",
        }
    }
}

/// A failed run: its kind and a message naming where it failed and why, e.g.
/// `command 2 (INC): key not found: a/b`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecError {
    kind: ExecErrorKind,
    message: String,
}

impl ExecError {
    pub(crate) fn failed(message: impl Into<String>) -> ExecError {
        ExecError {
            kind: ExecErrorKind::Failed,
            message: message.into(),
        }
    }

    pub(crate) fn new(kind: ExecErrorKind, message: impl Into<String>) -> ExecError {
        ExecError {
            kind,
            message: message.into(),
        }
    }

    /// Prefixes the message with where it happened (`command 2 (INC)`).
    pub(crate) fn within(mut self, place: impl fmt::Display) -> ExecError {
        self.message = format!("{place}: {}", self.message);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> ExecErrorKind {
        self.kind
    }

    /// The whole message, outermost place first.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ExecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExecError {}

impl From<DocError> for ExecError {
    fn from(e: DocError) -> ExecError {
        ExecError::failed(e.to_string())
    }
}

/// A document operation that was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocError {
    /// The path does not exist (for `replace`: it must).
    #[error("key not found: {0}")]
    NotFound(String),
    /// The path cannot be used (empty, crosses a scalar, an index out of range on a
    /// write, ...); the reason is the store's.
    #[error("invalid key {path}: {reason}")]
    Invalid {
        /// The path as given.
        path: String,
        /// Why it was refused.
        reason: String,
    },
}
