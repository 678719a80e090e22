//! The reply buffer of one connection: commands encode straight into it.

use bytes::BytesMut;
use mapcache_resp::{encode, Version};

/// Where a command writes its reply, in the protocol version the client chose.
#[derive(Debug)]
pub struct Reply {
    pub buf: BytesMut,
    pub version: Version,
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new(Version::Resp2)
    }
}

impl Reply {
    pub fn new(version: Version) -> Self {
        Reply {
            buf: BytesMut::with_capacity(16 * 1024),
            version,
        }
    }

    #[inline]
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }
    #[inline]
    pub fn simple(&mut self, s: &[u8]) {
        encode::simple(&mut self.buf, s);
    }
    #[inline]
    pub fn error(&mut self, text: &str) {
        encode::error(&mut self.buf, text.as_bytes());
    }
    #[inline]
    pub fn integer(&mut self, n: i64) {
        encode::integer(&mut self.buf, n);
    }
    #[inline]
    pub fn bulk(&mut self, data: &[u8]) {
        encode::bulk(&mut self.buf, data);
    }
    /// A bulk string of the decimal text of `n` (replies that are strings holding numbers).
    #[inline]
    pub fn bulk_i64(&mut self, n: i64) {
        encode::bulk(&mut self.buf, itoa::Buffer::new().format(n).as_bytes());
    }
    #[inline]
    pub fn null(&mut self) {
        encode::null(&mut self.buf, self.version);
    }
    #[inline]
    pub fn null_array(&mut self) {
        encode::null_array(&mut self.buf, self.version);
    }
    #[inline]
    pub fn array(&mut self, len: usize) {
        encode::array_len(&mut self.buf, len);
    }
    #[inline]
    pub fn map(&mut self, pairs: usize) {
        encode::map_len(&mut self.buf, self.version, pairs);
    }
    #[inline]
    pub fn set(&mut self, len: usize) {
        encode::set_len(&mut self.buf, self.version, len);
    }
    #[inline]
    pub fn double(&mut self, d: f64) {
        encode::double(&mut self.buf, self.version, d);
    }
    #[inline]
    pub fn boolean(&mut self, b: bool) {
        encode::boolean(&mut self.buf, self.version, b);
    }
    #[inline]
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        encode::verbatim(&mut self.buf, self.version, format, text);
    }
    /// An array of bulk strings.
    pub fn bulks<I, B>(&mut self, items: I)
    where
        I: IntoIterator<Item = B>,
        I::IntoIter: ExactSizeIterator,
        B: AsRef<[u8]>,
    {
        let it = items.into_iter();
        self.array(it.len());
        for b in it {
            self.bulk(b.as_ref());
        }
    }
    /// A HELP subcommand's reply: an array of status lines.
    pub fn help(&mut self, lines: &[&str]) {
        self.array(lines.len());
        for l in lines {
            self.simple(l.as_bytes());
        }
    }

    pub fn is_resp3(&self) -> bool {
        self.version == Version::Resp3
    }
}
