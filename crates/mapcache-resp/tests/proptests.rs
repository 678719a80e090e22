//! Property tests: encode/decode round trips and chunked-input equivalence.

use bytes::{Bytes, BytesMut};
use mapcache_resp::{decode_command, decode_frame, encode, Frame, Limits, Version};
use proptest::prelude::*;

fn bytes_any() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

fn line_bytes() -> impl Strategy<Value = Bytes> {
    prop::collection::vec(
        any::<u8>().prop_filter("no CR/LF", |c| *c != b'\r' && *c != b'\n'),
        0..16,
    )
    .prop_map(Bytes::from)
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_bytes().prop_map(Frame::Simple),
        line_bytes().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        bytes_any().prop_map(Frame::Bulk),
        Just(Frame::Null),
        any::<f64>()
            .prop_filter("NaN != NaN", |d| !d.is_nan())
            .prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "-?[1-9][0-9]{0,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        (any::<[u8; 3]>(), bytes_any()).prop_map(|(format, text)| Frame::Verbatim { format, text }),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        let pairs = prop::collection::vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Array),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Set),
            prop::collection::vec(inner.clone(), 0..6).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            // An attribute in an array, before an element.
            (pairs, inner).prop_map(|(p, f)| Frame::Array(vec![Frame::Attribute(p), f])),
        ]
    })
}

/// What a RESP2 client decodes from `encode::frame(Resp2, f)`; `None` when
/// nothing is written (a top-level attribute).
fn downgrade(f: &Frame) -> Option<Frame> {
    let list = |v: &[Frame]| Frame::Array(v.iter().filter_map(downgrade).collect());
    Some(match f {
        Frame::Array(v) | Frame::Set(v) | Frame::Push(v) => list(v),
        Frame::Map(p) => Frame::Array(
            p.iter()
                .flat_map(|(k, v)| [pair_item(k), pair_item(v)])
                .collect(),
        ),
        Frame::Attribute(_) => return None,
        Frame::Double(d) => {
            let mut b = BytesMut::new();
            encode::double(&mut b, Version::Resp3, *d);
            Frame::Bulk(Bytes::copy_from_slice(&b[1..b.len() - 2]))
        }
        Frame::Boolean(b) => Frame::Integer(i64::from(*b)),
        Frame::BigNumber(d) => Frame::Bulk(d.clone()),
        Frame::Verbatim { text, .. } => Frame::Bulk(text.clone()),
        other => other.clone(),
    })
}

fn pair_item(f: &Frame) -> Frame {
    match f {
        Frame::Attribute(p) => downgrade(&Frame::Map(p.clone())).unwrap_or(Frame::Null),
        other => downgrade(other).unwrap_or(Frame::Null),
    }
}

fn decode_all(mut buf: BytesMut) -> Vec<Frame> {
    let mut out = Vec::new();
    while let Some(f) = decode_frame(&mut buf, &Limits::default()).expect("valid") {
        out.push(f);
    }
    assert!(buf.is_empty(), "left over: {buf:?}");
    out
}

/// Splits `data` at the given cut points and feeds it chunk by chunk.
fn chunks(data: &[u8], cuts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    points.push(0);
    points.push(data.len());
    points.sort_unstable();
    points.windows(2).map(|w| w[0]..w[1]).collect()
}

/// A client command, written as multibulk or (when its arguments allow) inline.
fn command() -> impl Strategy<Value = (Vec<Vec<u8>>, u8)> {
    (
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..5),
        0u8..4,
    )
}

fn write_command(buf: &mut BytesMut, args: &[Vec<u8>], style: u8) {
    match style {
        // Inline, double-quoted with \xHH escapes for everything.
        1 if !args.is_empty() => {
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    buf.extend_from_slice(b" ");
                }
                buf.extend_from_slice(b"\"");
                for c in a {
                    buf.extend_from_slice(format!("\\x{c:02x}").as_bytes());
                }
                buf.extend_from_slice(b"\"");
            }
            buf.extend_from_slice(b"\r\n");
        }
        // Inline, single-quoted (only when no quote or backslash needs escaping).
        2 if !args.is_empty()
            && args
                .iter()
                .flatten()
                .all(|c| c.is_ascii_alphanumeric() || *c == b' ') =>
        {
            for a in args {
                buf.extend_from_slice(b" '");
                buf.extend_from_slice(a);
                buf.extend_from_slice(b"'");
            }
            buf.extend_from_slice(b"\n");
        }
        _ => {
            let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            encode::command(buf, &refs);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn resp3_round_trip(f in frame()) {
        let mut buf = BytesMut::new();
        encode::frame(&mut buf, Version::Resp3, &f);
        prop_assert_eq!(decode_all(buf), vec![f]);
    }

    #[test]
    fn resp2_round_trip_downgrades(f in frame()) {
        let mut buf = BytesMut::new();
        encode::frame(&mut buf, Version::Resp2, &f);
        prop_assert_eq!(decode_all(buf), downgrade(&f).into_iter().collect::<Vec<_>>());
    }

    #[test]
    fn top_level_attribute(p in prop::collection::vec((leaf(), leaf()), 0..3), f in frame()) {
        let attr = Frame::Attribute(p);
        let mut buf = BytesMut::new();
        encode::frame(&mut buf, Version::Resp3, &attr);
        encode::frame(&mut buf, Version::Resp3, &f);
        prop_assert_eq!(decode_all(buf), vec![attr, f]);
    }

    #[test]
    fn frames_any_split(
        frames in prop::collection::vec(frame(), 1..6),
        v in prop_oneof![Just(Version::Resp2), Just(Version::Resp3)],
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = BytesMut::new();
        for f in &frames {
            encode::frame(&mut wire, v, f);
        }
        let whole = decode_all(wire.clone());
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for r in chunks(&wire, &cuts) {
            buf.extend_from_slice(&wire[r]);
            loop {
                let before = buf.clone();
                match decode_frame(&mut buf, &Limits::default()) {
                    Ok(Some(f)) => got.push(f),
                    Ok(None) => { prop_assert_eq!(&buf, &before); break; }
                    Err(e) => prop_assert!(false, "{}", e),
                }
            }
        }
        prop_assert_eq!(got, whole);
    }

    #[test]
    fn commands_any_split(
        cmds in prop::collection::vec(command(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
    ) {
        let mut wire = BytesMut::new();
        for (args, style) in &cmds {
            write_command(&mut wire, args, *style);
        }
        let expected: Vec<Vec<Vec<u8>>> =
            cmds.iter().map(|(a, _)| a.clone()).filter(|a| !a.is_empty()).collect();
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut got = Vec::new();
        for r in chunks(&wire, &cuts) {
            buf.extend_from_slice(&wire[r]);
            loop {
                let before = buf.clone();
                match decode_command(&mut buf, &Limits::default(), &mut args) {
                    Ok(true) => if !args.is_empty() {
                        got.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
                    },
                    Ok(false) => { prop_assert_eq!(&buf, &before); break; }
                    Err(e) => prop_assert!(false, "{}", e),
                }
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(got, expected);
    }

    /// Arbitrary bytes never panic and never loop without progress.
    #[test]
    fn arbitrary_bytes_never_panic(data in prop::collection::vec(any::<u8>(), 0..256)) {
        let limits = Limits { max_bulk_len: 64, max_multibulk_len: 8, max_inline_len: 32 };
        let mut buf = BytesMut::from(&data[..]);
        let mut args = Vec::new();
        while let Ok(true) = decode_command(&mut buf, &limits, &mut args) {}
        let mut buf = BytesMut::from(&data[..]);
        while let Ok(Some(_)) = decode_frame(&mut buf, &limits) {}
    }
}
