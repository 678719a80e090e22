//! RESP2/RESP3 codec of mapcache.
//!
//! Invariants of this crate:
//!
//! * **No commands.** It knows nothing of command names, arities, stores or
//!   replies' meaning: it turns bytes into arguments or frames and back.
//! * **No I/O.** Everything works on caller-owned [`bytes::BytesMut`] buffers; the
//!   only async-adjacent item is the [`RespCodec`] adapter for `tokio_util`.
//! * **Zero-copy decoding.** [`decode_command`] first scans a whole request's
//!   headers (skipping bulk payloads by length), then splits the buffer once and
//!   hands out [`bytes::Bytes`] slices of it; inline requests are unescaped in place.
//!   No allocation per argument beyond the caller's reused `Vec`.
//! * **Redis-exact server side.** Multibulk and inline parsing, and every protocol
//!   error text, follow Redis 7.0's `networking.c` byte for byte (see the README for
//!   the one deliberate difference: the multibulk count limit).
//! * **No panics on any input**, no `unsafe` (fuzzed with `fuzz/`).
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mapcache_resp::{decode_command, encode, Limits, Version};
//!
//! let limits = Limits::default();
//! let mut input = BytesMut::from(&b"*2\r\n$4\r\nECHO\r\n$5\r\nhel"[..]);
//! let mut args: Vec<Bytes> = Vec::new();
//!
//! // Not complete yet: nothing consumed.
//! assert_eq!(decode_command(&mut input, &limits, &mut args), Ok(false));
//! input.extend_from_slice(b"lo\r\nPING\r\n");
//!
//! let mut out = BytesMut::new();
//! while decode_command(&mut input, &limits, &mut args).unwrap() {
//!     if args.is_empty() {
//!         continue; // empty command: Redis skips it
//!     }
//!     match &args[0][..] {
//!         b"ECHO" => encode::bulk(&mut out, &args[1]),
//!         b"PING" => encode::simple(&mut out, b"PONG"),
//!         _ => encode::error(&mut out, b"ERR unknown command"),
//!     }
//! }
//! assert!(input.is_empty());
//! assert_eq!(&out[..], b"$5\r\nhello\r\n+PONG\r\n");
//!
//! // RESP3-only types are downgraded for RESP2 clients.
//! let mut out = BytesMut::new();
//! encode::map_len(&mut out, Version::Resp2, 1);
//! encode::bulk(&mut out, b"score");
//! encode::double(&mut out, Version::Resp2, 1.5);
//! assert_eq!(&out[..], b"*2\r\n$5\r\nscore\r\n$3\r\n1.5\r\n");
//!
//! // A protocol error: answer "-ERR {e}" and close.
//! let mut bad = BytesMut::from(&b"*1\r\n+PING\r\n"[..]);
//! let e = decode_command(&mut bad, &limits, &mut args).unwrap_err();
//! assert_eq!(e.to_string(), "Protocol error: expected '$', got '+'");
//! ```

mod codec;
mod decode;
pub mod encode;
mod error;
mod frame;
mod frame_decode;

pub use codec::{CodecError, RespCodec};
pub use decode::decode_command;
pub use error::ProtocolError;
pub use frame::{Frame, Limits, Version, MAX_DEPTH};
pub use frame_decode::decode_frame;
