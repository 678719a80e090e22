//! Every error a command can answer, and its exact Redis 7.0 text.
//!
//! Handlers return a [`CmdError`]; [`CmdError::write_text`] is the one place that turns
//! it into wire text. Static variants cost nothing to build; the formatted ones exist
//! only for replies Redis formats with arguments.

use std::borrow::Cow;

/// A command failure. The reply text of each variant, prefix included, is in `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// `WRONGTYPE Operation against a key holding the wrong kind of value`
    WrongType,
    /// `ERR value is not an integer or out of range`
    NotInteger,
    /// `ERR value is not a valid float`
    NotFloat,
    /// `ERR increment or decrement would overflow`
    Overflow,
    /// `ERR syntax error`
    Syntax,
    /// `ERR no such key`
    NoSuchKey,
    /// `ERR index out of range`
    IndexOutOfRange,
    /// `ERR DB index is out of range`
    DbIndexOutOfRange,
    /// `NOAUTH Authentication required.`
    NoAuth,
    /// `ERR value is out of range, must be positive`
    NotPositive,
    /// `ERR wrong number of arguments for '<name>' command` (name as Redis spells it,
    /// e.g. `get` or `client|setname`).
    WrongArity(Cow<'static, str>),
    /// `ERR invalid expire time in '<name>' command`
    InvalidExpire(&'static str),
    /// Any other fixed text, prefix included (`ERR ...`, `WRONGPASS ...`).
    Static(&'static str),
    /// Formatted text, prefix included.
    Owned(String),
    /// Text that embeds raw argument bytes (Redis prints them with `%s`, unconverted);
    /// built with [`CmdError::raw`].
    Raw(Vec<u8>),
}

/// Redis's refusal of a command that may grow memory when the store is full.
pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

impl CmdError {
    /// The full error text, as sent after `-`.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            CmdError::WrongType => {
                "WRONGTYPE Operation against a key holding the wrong kind of value".into()
            }
            CmdError::NotInteger => "ERR value is not an integer or out of range".into(),
            CmdError::NotFloat => "ERR value is not a valid float".into(),
            CmdError::Overflow => "ERR increment or decrement would overflow".into(),
            CmdError::Syntax => "ERR syntax error".into(),
            CmdError::NoSuchKey => "ERR no such key".into(),
            CmdError::IndexOutOfRange => "ERR index out of range".into(),
            CmdError::DbIndexOutOfRange => "ERR DB index is out of range".into(),
            CmdError::NoAuth => "NOAUTH Authentication required.".into(),
            CmdError::NotPositive => "ERR value is out of range, must be positive".into(),
            CmdError::WrongArity(name) => {
                format!("ERR wrong number of arguments for '{name}' command").into()
            }
            CmdError::InvalidExpire(name) => {
                format!("ERR invalid expire time in '{name}' command").into()
            }
            CmdError::Static(s) => Cow::Borrowed(s),
            CmdError::Owned(s) => Cow::Borrowed(s.as_str()),
            CmdError::Raw(b) => String::from_utf8_lossy(b),
        }
    }

    /// The exact bytes of the reply text (raw argument bytes kept as they are).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match self {
            CmdError::Raw(b) => Cow::Borrowed(b.as_slice()),
            other => match other.text() {
                Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                Cow::Owned(s) => Cow::Owned(s.into_bytes()),
            },
        }
    }

    /// An error text made of literal pieces and raw argument bytes, concatenated.
    pub fn raw(parts: &[&[u8]]) -> CmdError {
        CmdError::Raw(parts.concat())
    }

    /// The kind Redis counts in `errorstat_<KIND>`: the first word of the text.
    pub fn kind(&self) -> &str {
        match self {
            CmdError::WrongType => "WRONGTYPE",
            CmdError::NoAuth => "NOAUTH",
            CmdError::Static(s) => s.split(' ').next().unwrap_or("ERR"),
            CmdError::Owned(s) => s.split(' ').next().unwrap_or("ERR"),
            CmdError::Raw(b) => {
                std::str::from_utf8(b.split(|&c| c == b' ').next().unwrap_or(b"ERR"))
                    .unwrap_or("ERR")
            }
            _ => "ERR",
        }
    }

    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
    pub fn unknown_subcommand(sub: &[u8], container: &str) -> CmdError {
        CmdError::raw(&[
            b"ERR unknown subcommand '",
            truncate(sub, 128),
            b"'. Try ",
            container.to_ascii_uppercase().as_bytes(),
            b" HELP.",
        ])
    }
}

/// At most the first `max` bytes of `b` (Redis's `%.128s`).
pub fn truncate(b: &[u8], max: usize) -> &[u8] {
    &b[..b.len().min(max)]
}

/// Text of at most `max` bytes of `b`, lossily decoded (Redis prints raw bytes; a
/// client sees the same for ASCII, which is what error messages carry).
pub fn truncate_lossy(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

/// The result of a command handler: the reply was written, or this error is the reply.
pub type CmdResult = Result<(), CmdError>;
