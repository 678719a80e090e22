//! A `tokio_util::codec` for clients and tools.

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::{decode_frame, encode, Frame, Limits, ProtocolError, Version};

/// Errors of [`RespCodec`].
#[derive(thiserror::Error, Debug)]
pub enum CodecError {
    /// Malformed reply.
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    /// Transport error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Client-side codec: decodes any RESP2/RESP3 [`Frame`] with [`decode_frame`] and
/// encodes frames with [`encode::frame`] for its [`Version`].
#[derive(Debug, Clone, Copy, Default)]
pub struct RespCodec {
    version: Version,
    limits: Limits,
}

impl RespCodec {
    /// A codec speaking `version` and enforcing `limits` on what it decodes.
    pub fn new(version: Version, limits: Limits) -> Self {
        RespCodec { version, limits }
    }

    /// Switches the protocol version (after a `HELLO`).
    pub fn set_version(&mut self, v: Version) {
        self.version = v;
    }

    /// The protocol version in use.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl Decoder for RespCodec {
    type Item = Frame;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, CodecError> {
        Ok(decode_frame(src, &self.limits)?)
    }
}

impl Encoder<&Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::frame(dst, self.version, item);
        Ok(())
    }
}

impl Encoder<Frame> for RespCodec {
    type Error = CodecError;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), CodecError> {
        encode::frame(dst, self.version, &item);
        Ok(())
    }
}
