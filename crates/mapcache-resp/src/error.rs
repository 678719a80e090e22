//! Protocol errors.

/// A malformed request or reply.
///
/// `Display` is Redis's own text without the `ERR ` prefix, so a server answers a
/// protocol error with `-ERR {e}\r\n` (or [`crate::encode::protocol_error`], which is
/// byte-exact even for [`ProtocolError::ExpectedDollar`] with a non-ASCII byte) and
/// then closes the connection, as Redis does.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum ProtocolError {
    /// `*` count line that is not a number, or is above the multibulk limit.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// No line end after the `*` of a multibulk within `max_inline_len` bytes.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMbulkCountString,
    /// A multibulk element that does not start with `$`; holds the byte found.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// No line end after a `$` header within `max_inline_len` bytes.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCountString,
    /// Negative, non-numeric or too large bulk length.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An inline command with no newline within `max_inline_len` bytes.
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline command with an unterminated quote, or a closing quote not followed by a space.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,

    // ---- Client side only (decode_frame): replies from a server. ----
    /// The first byte of a reply is not a RESP2/RESP3 type byte.
    #[error("Protocol error: invalid reply type byte '{}'", char::from(*.0))]
    InvalidType(u8),
    /// A reply line (simple string, error, number...) longer than `max_inline_len`.
    #[error("Protocol error: too big reply line")]
    LineTooLong,
    /// A reply line or payload not terminated by `\r\n`.
    #[error("Protocol error: expected CRLF")]
    ExpectedCrlf,
    /// An integer reply that is not a valid 64-bit integer.
    #[error("Protocol error: invalid integer")]
    InvalidInteger,
    /// A double reply that does not parse.
    #[error("Protocol error: invalid double")]
    InvalidDouble,
    /// A boolean reply other than `#t` or `#f`.
    #[error("Protocol error: invalid boolean")]
    InvalidBoolean,
    /// A null reply with a payload.
    #[error("Protocol error: invalid null")]
    InvalidNull,
    /// A big number reply that is not an optionally signed run of digits.
    #[error("Protocol error: invalid big number")]
    InvalidBigNumber,
    /// A verbatim string shorter than 4 bytes or without `:` after its format.
    #[error("Protocol error: invalid verbatim string")]
    InvalidVerbatim,
    /// Aggregates nested deeper than [`crate::MAX_DEPTH`].
    #[error("Protocol error: reply nested too deeply")]
    TooDeep,
}

impl ProtocolError {
    /// The message as Redis puts it on the wire (after `-ERR `), byte for byte.
    ///
    /// Identical to `Display` except for [`ProtocolError::ExpectedDollar`]: Redis
    /// writes the offending byte raw (`%c`), with `\r`/`\n` turned into spaces and a
    /// NUL cutting the message short (its `sdscatvprintf` goes through a C string).
    pub fn write_wire_message(&self, buf: &mut bytes::BytesMut) {
        match *self {
            ProtocolError::ExpectedDollar(b) => {
                buf.extend_from_slice(b"Protocol error: expected '$', got '");
                match b {
                    0 => {}
                    b'\r' | b'\n' => buf.extend_from_slice(b" '"),
                    _ => buf.extend_from_slice(&[b, b'\'']),
                }
            }
            ref other => {
                use std::fmt::Write as _;
                // Infallible for BytesMut; the messages are ASCII.
                let _ = write!(buf, "{other}");
            }
        }
    }
}
