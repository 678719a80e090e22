//! Feeds arbitrary bytes to `decode_command` and `decode_frame` with small limits,
//! whole and split in two, checking they never panic, that progress is always made
//! on `Ok(true)`/`Ok(Some)`, that `Ok(false)`/`Ok(None)` and errors leave the buffer
//! untouched, and that decoded frames re-encode and decode to themselves.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mapcache_resp::{decode_command, decode_frame, encode, Frame, Limits, Version};

const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_multibulk_len: 64,
    max_inline_len: 256,
};

fn commands(data: &[u8]) -> (Vec<Vec<Bytes>>, Option<mapcache_resp::ProtocolError>, usize) {
    let mut buf = BytesMut::from(data);
    let mut args = Vec::new();
    let mut out = Vec::new();
    loop {
        let before = buf.clone();
        match decode_command(&mut buf, &LIMITS, &mut args) {
            Ok(true) => {
                assert!(buf.len() < before.len(), "Ok(true) consumed nothing");
                let consumed = before.len() - buf.len();
                let total: usize = args.iter().map(Bytes::len).sum();
                assert!(total <= consumed, "args longer than the consumed bytes");
                out.push(args.clone());
            }
            Ok(false) => {
                assert_eq!(buf, before, "Ok(false) touched the buffer");
                return (out, None, buf.len());
            }
            Err(e) => {
                assert_eq!(buf, before, "Err touched the buffer");
                assert!(!e.to_string().is_empty());
                return (out, Some(e), buf.len());
            }
        }
    }
}

fn frames(data: &[u8]) -> (Vec<Frame>, Option<mapcache_resp::ProtocolError>) {
    let mut buf = BytesMut::from(data);
    let mut out = Vec::new();
    loop {
        let before = buf.clone();
        match decode_frame(&mut buf, &LIMITS) {
            Ok(Some(f)) => {
                assert!(buf.len() < before.len(), "Ok(Some) consumed nothing");
                out.push(f);
            }
            Ok(None) => {
                assert_eq!(buf, before);
                return (out, None);
            }
            Err(e) => {
                assert_eq!(buf, before);
                return (out, Some(e));
            }
        }
    }
}

fn contains_nan(f: &Frame) -> bool {
    match f {
        Frame::Double(d) => d.is_nan(),
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().any(contains_nan),
        Frame::Map(p) | Frame::Attribute(p) => {
            p.iter().any(|(k, v)| contains_nan(k) || contains_nan(v))
        }
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    let (whole, err, rest) = commands(data);

    // Split at one point: the commands completed before the end must be the same.
    if !data.is_empty() {
        let cut = usize::from(data[0]) % data.len();
        let mut buf = BytesMut::from(&data[..cut]);
        let mut args = Vec::new();
        let mut got = Vec::new();
        let mut fed_all = false;
        loop {
            match decode_command(&mut buf, &LIMITS, &mut args) {
                Ok(true) => got.push(args.clone()),
                Ok(false) if !fed_all => {
                    buf.extend_from_slice(&data[cut..]);
                    fed_all = true;
                }
                Ok(false) => {
                    assert!(err.is_none());
                    assert_eq!(buf.len(), rest);
                    break;
                }
                Err(e) => {
                    assert_eq!(Some(e), err, "split input gave another error");
                    break;
                }
            }
        }
        if err.is_none() {
            assert_eq!(got, whole);
        }
    }

    let (fs, _) = frames(data);
    for f in &fs {
        for v in [Version::Resp2, Version::Resp3] {
            let mut out = BytesMut::new();
            encode::frame(&mut out, v, f);
            let (again, e) = frames(&out);
            assert!(
                e.is_none(),
                "re-encoded frame does not decode: {e:?} {out:?}"
            );
            if v == Version::Resp3 && !contains_nan(f) && !has_multiline_error(f) {
                assert_eq!(again, vec![f.clone()], "RESP3 round trip");
            }
        }
    }
});

fn has_multiline_error(f: &Frame) -> bool {
    match f {
        Frame::Error(e) | Frame::Simple(e) => e.iter().any(|&c| c == b'\r' || c == b'\n'),
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => v.iter().any(has_multiline_error),
        Frame::Map(p) | Frame::Attribute(p) => p
            .iter()
            .any(|(k, v)| has_multiline_error(k) || has_multiline_error(v)),
        _ => false,
    }
}
