//! Frames, protocol versions and limits.

use bytes::Bytes;

/// The protocol a connection speaks, chosen by `HELLO`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Version {
    /// RESP2, the default for every new connection.
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// One RESP2/RESP3 value.
///
/// Payloads are [`Bytes`] slices of the receive buffer when decoded (no copy).
#[derive(Clone, Debug, PartialEq)]
pub enum Frame {
    /// `+text` (no `\r` or `\n` inside).
    Simple(Bytes),
    /// `-text` (RESP3 `!len` blob errors decode to this too).
    Error(Bytes),
    /// `:n`
    Integer(i64),
    /// `$len` bulk string.
    Bulk(Bytes),
    /// RESP2 `$-1` / `*-1` decode to this; RESP3 `_`.
    Null,
    /// `*n`
    Array(Vec<Frame>),
    /// RESP3 `%n`; RESP2 encodes it as a flat array of `2n` items.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 `~n`; RESP2 encodes it as an array.
    Set(Vec<Frame>),
    /// RESP3 `|n`: out-of-band metadata about the reply that follows it.
    ///
    /// At top level the decoder returns it as a frame of its own (the reply follows
    /// as the next frame). Inside an array, set or push it is kept as an element but
    /// is not counted in the aggregate's length on the wire; inside a map or another
    /// attribute it is skipped. RESP2 clients never see attributes (as in Redis).
    Attribute(Vec<(Frame, Frame)>),
    /// RESP3 `,d`; RESP2 encodes it as a bulk string.
    Double(f64),
    /// RESP3 `#t`/`#f`; RESP2 encodes it as `:1`/`:0`.
    Boolean(bool),
    /// RESP3 `(digits`; RESP2 encodes it as a bulk string.
    BigNumber(Bytes),
    /// RESP3 `=len\r\nfmt:text`; RESP2 encodes `text` as a bulk string.
    Verbatim {
        /// Three-byte format such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text.
        text: Bytes,
    },
    /// RESP3 `>n` out-of-band push; RESP2 encodes it as an array.
    Push(Vec<Frame>),
}

/// Size limits enforced by the decoders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string (Redis `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Largest multibulk element count (1,048,576). Redis 7.0 itself accepts up to
    /// `i32::MAX`; set this to `i32::MAX as usize` to match it exactly.
    pub max_multibulk_len: usize,
    /// Largest inline request, or count line without its line end (64 KiB,
    /// Redis `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
        }
    }
}

/// Deepest aggregate nesting [`crate::decode_frame`] accepts (deeper replies are a
/// [`crate::ProtocolError::TooDeep`] error, so hostile input cannot overflow the stack).
pub const MAX_DEPTH: usize = 256;
