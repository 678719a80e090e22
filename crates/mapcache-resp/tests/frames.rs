//! Encoders (byte-exact, RESP2 downgrades), the client-side frame decoder and the codec.

use bytes::{Bytes, BytesMut};
use mapcache_resp::{
    decode_frame, encode, Frame, Limits, ProtocolError, RespCodec, Version, MAX_DEPTH,
};
use tokio_util::codec::{Decoder, Encoder};

fn out(f: impl FnOnce(&mut BytesMut)) -> Vec<u8> {
    let mut b = BytesMut::new();
    f(&mut b);
    b.to_vec()
}

fn b(s: &'static [u8]) -> Bytes {
    Bytes::from_static(s)
}

const R2: Version = Version::Resp2;
const R3: Version = Version::Resp3;

#[test]
fn scalar_encoders() {
    assert_eq!(out(|o| encode::simple(o, b"OK")), b"+OK\r\n");
    assert_eq!(out(|o| encode::simple(o, b"a\r\nb")), b"+a  b\r\n");
    assert_eq!(
        out(|o| encode::error(o, b"ERR syntax error")),
        b"-ERR syntax error\r\n"
    );
    assert_eq!(out(|o| encode::error(o, b"ERR a\r\nb\n")), b"-ERR a  b\r\n");
    assert_eq!(out(|o| encode::error(o, b"\r\n")), b"-\r\n");
    assert_eq!(out(|o| encode::integer(o, 0)), b":0\r\n");
    assert_eq!(
        out(|o| encode::integer(o, i64::MIN)),
        b":-9223372036854775808\r\n"
    );
    assert_eq!(out(|o| encode::bulk(o, b"a\r\n\0")), b"$4\r\na\r\n\0\r\n");
    assert_eq!(out(|o| encode::bulk(o, b"")), b"$0\r\n\r\n");
    assert_eq!(out(|o| encode::null(o, R2)), b"$-1\r\n");
    assert_eq!(out(|o| encode::null(o, R3)), b"_\r\n");
    assert_eq!(out(|o| encode::null_array(o, R2)), b"*-1\r\n");
    assert_eq!(out(|o| encode::null_array(o, R3)), b"_\r\n");
    assert_eq!(out(|o| encode::array_len(o, 3)), b"*3\r\n");
    assert_eq!(out(|o| encode::map_len(o, R2, 2)), b"*4\r\n");
    assert_eq!(out(|o| encode::map_len(o, R3, 2)), b"%2\r\n");
    assert_eq!(out(|o| encode::set_len(o, R2, 2)), b"*2\r\n");
    assert_eq!(out(|o| encode::set_len(o, R3, 2)), b"~2\r\n");
    assert_eq!(out(|o| encode::push_len(o, R2, 3)), b"*3\r\n");
    assert_eq!(out(|o| encode::push_len(o, R3, 3)), b">3\r\n");
    assert_eq!(out(|o| encode::boolean(o, R2, true)), b":1\r\n");
    assert_eq!(out(|o| encode::boolean(o, R2, false)), b":0\r\n");
    assert_eq!(out(|o| encode::boolean(o, R3, true)), b"#t\r\n");
    assert_eq!(out(|o| encode::boolean(o, R3, false)), b"#f\r\n");
    assert_eq!(out(|o| encode::big_number(o, R2, b"123")), b"$3\r\n123\r\n");
    assert_eq!(out(|o| encode::big_number(o, R3, b"-123")), b"(-123\r\n");
    assert_eq!(
        out(|o| encode::verbatim(o, R2, b"txt", b"hi")),
        b"$2\r\nhi\r\n"
    );
    assert_eq!(
        out(|o| encode::verbatim(o, R3, b"txt", b"hi")),
        b"=6\r\ntxt:hi\r\n"
    );
    assert_eq!(
        out(|o| encode::command(o, &[b"SET", b"k", b""])),
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"
    );
    assert_eq!(
        out(|o| encode::protocol_error(o, &ProtocolError::InvalidBulkLength)),
        b"-ERR Protocol error: invalid bulk length\r\n"
    );
}

/// Doubles as Redis 7.0 prints them (`%.17g`; `inf`/`-inf` spelled out).
#[test]
fn doubles() {
    let cases: &[(f64, &str)] = &[
        (1.0, "1"),
        (1.5, "1.5"),
        (-2.0, "-2"),
        (0.0, "0"),
        (-0.0, "-0"),
        (0.1, "0.10000000000000001"),
        (3.0000000000000004, "3.0000000000000004"),
        (1.0 / 3.0, "0.33333333333333331"),
        (100.0, "100"),
        (1e16, "10000000000000000"),
        (1e17, "1e+17"),
        (1.5e300, "1.5000000000000001e+300"),
        (0.0001, "0.0001"),
        (0.00001, "1.0000000000000001e-05"),
        (123456789.125, "123456789.125"),
        (1234567890123456.0 + 0.75, "1234567890123456.8"), // exact tie: half-even
        (f64::MAX, "1.7976931348623157e+308"),
        (5e-324, "4.9406564584124654e-324"),
        (f64::INFINITY, "inf"),
        (f64::NEG_INFINITY, "-inf"),
        (f64::NAN, "nan"),
    ];
    for &(d, repr) in cases {
        assert_eq!(
            out(|o| encode::double(o, R3, d)),
            format!(",{repr}\r\n").as_bytes(),
            "{d}"
        );
        assert_eq!(
            out(|o| encode::double(o, R2, d)),
            format!("${}\r\n{repr}\r\n", repr.len()).as_bytes(),
            "{d}"
        );
    }
}

#[test]
fn frame_downgrades() {
    let f = Frame::Map(vec![
        (Frame::Bulk(b(b"a")), Frame::Double(2.5)),
        (
            Frame::Simple(b(b"s")),
            Frame::Set(vec![Frame::Boolean(true), Frame::Null]),
        ),
    ]);
    assert_eq!(
        out(|o| encode::frame(o, R3, &f)),
        b"%2\r\n$1\r\na\r\n,2.5\r\n+s\r\n~2\r\n#t\r\n_\r\n"
    );
    assert_eq!(
        out(|o| encode::frame(o, R2, &f)),
        b"*4\r\n$1\r\na\r\n$3\r\n2.5\r\n+s\r\n*2\r\n:1\r\n$-1\r\n"
    );
    let p = Frame::Push(vec![
        Frame::BigNumber(b(b"1")),
        Frame::Verbatim {
            format: *b"mkd",
            text: b(b"# x"),
        },
    ]);
    assert_eq!(
        out(|o| encode::frame(o, R3, &p)),
        b">2\r\n(1\r\n=7\r\nmkd:# x\r\n"
    );
    assert_eq!(
        out(|o| encode::frame(o, R2, &p)),
        b"*2\r\n$1\r\n1\r\n$3\r\n# x\r\n"
    );
}

#[test]
fn attributes() {
    let attr = Frame::Attribute(vec![(Frame::Simple(b(b"ttl")), Frame::Integer(3))]);
    // Top level: RESP3 writes it, RESP2 drops it (as Redis does).
    assert_eq!(
        out(|o| encode::frame(o, R3, &attr)),
        b"|1\r\n+ttl\r\n:3\r\n"
    );
    assert_eq!(out(|o| encode::frame(o, R2, &attr)), b"");
    // In an array: not counted; a trailing one is dropped.
    let arr = Frame::Array(vec![attr.clone(), Frame::Integer(1), attr.clone()]);
    assert_eq!(
        out(|o| encode::frame(o, R3, &arr)),
        b"*1\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n"
    );
    assert_eq!(out(|o| encode::frame(o, R2, &arr)), b"*1\r\n:1\r\n");
    // Decoding keeps the leading attribute as an element.
    let mut buf = BytesMut::from(&b"*1\r\n|1\r\n+ttl\r\n:3\r\n:1\r\n"[..]);
    assert_eq!(
        decode_frame(&mut buf, &Limits::default()),
        Ok(Some(Frame::Array(vec![attr.clone(), Frame::Integer(1)])))
    );
    // In a map it is skipped.
    let mut buf = BytesMut::from(&b"%1\r\n|1\r\n+ttl\r\n:3\r\n+k\r\n|0\r\n:1\r\n"[..]);
    assert_eq!(
        decode_frame(&mut buf, &Limits::default()),
        Ok(Some(Frame::Map(vec![(
            Frame::Simple(b(b"k")),
            Frame::Integer(1)
        )])))
    );
    // Redis's DEBUG PROTOCOL attrib reply: attribute, then the reply as a new frame.
    let mut buf = BytesMut::from(
        &b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n$3\r\nabc\r\n"[..],
    );
    assert!(matches!(
        decode_frame(&mut buf, &Limits::default()),
        Ok(Some(Frame::Attribute(_)))
    ));
    assert_eq!(
        decode_frame(&mut buf, &Limits::default()),
        Ok(Some(Frame::Bulk(b(b"abc"))))
    );
}

fn dec(input: &[u8]) -> Result<Option<Frame>, ProtocolError> {
    let mut buf = BytesMut::from(input);
    let before = buf.clone();
    let r = decode_frame(&mut buf, &Limits::default());
    if !matches!(r, Ok(Some(_))) {
        assert_eq!(buf, before, "buffer must be untouched");
    }
    r
}

#[test]
fn decode_all_types() {
    let input: &[u8] = b"*15\r\n+OK\r\n-ERR x\r\n:-5\r\n$3\r\na\0b\r\n$-1\r\n*-1\r\n_\r\n\
        %1\r\n+k\r\n+v\r\n~1\r\n:1\r\n,1.5\r\n#f\r\n(-12345678901234567890\r\n\
        =8\r\ntxt:a\r\nb\r\n>1\r\n+p\r\n!5\r\nERR e\r\n";
    let expected = Frame::Array(vec![
        Frame::Simple(b(b"OK")),
        Frame::Error(b(b"ERR x")),
        Frame::Integer(-5),
        Frame::Bulk(b(b"a\0b")),
        Frame::Null,
        Frame::Null,
        Frame::Null,
        Frame::Map(vec![(Frame::Simple(b(b"k")), Frame::Simple(b(b"v")))]),
        Frame::Set(vec![Frame::Integer(1)]),
        Frame::Double(1.5),
        Frame::Boolean(false),
        Frame::BigNumber(b(b"-12345678901234567890")),
        Frame::Verbatim {
            format: *b"txt",
            text: b(b"a\r\nb"),
        },
        Frame::Push(vec![Frame::Simple(b(b"p"))]),
        Frame::Error(b(b"ERR e")),
    ]);
    assert_eq!(dec(input), Ok(Some(expected.clone())));
    // Every proper prefix is incomplete.
    for cut in 0..input.len() {
        assert_eq!(dec(&input[..cut]), Ok(None), "cut {cut}");
    }
    for (d, v) in [
        (&b",inf\r\n"[..], f64::INFINITY),
        (b",-inf\r\n", f64::NEG_INFINITY),
        (b",1e3\r\n", 1000.0),
        (b",-0\r\n", -0.0),
    ] {
        assert_eq!(dec(d), Ok(Some(Frame::Double(v))));
    }
    assert!(matches!(dec(b",nan\r\n"), Ok(Some(Frame::Double(d))) if d.is_nan()));
}

#[test]
fn decode_errors() {
    use ProtocolError::*;
    let cases: &[(&[u8], ProtocolError)] = &[
        (b"?x\r\n", InvalidType(b'?')),
        (b":abc\r\n", InvalidInteger),
        (b":+1\r\n", InvalidInteger),
        (b",x\r\n", InvalidDouble),
        (b"#x\r\n", InvalidBoolean),
        (b"_x\r\n", InvalidNull),
        (b"(12a\r\n", InvalidBigNumber),
        (b"(\r\n", InvalidBigNumber),
        (b"=2\r\nab\r\n", InvalidVerbatim),
        (b"=4\r\nabcd\r\n", InvalidVerbatim),
        (b"$-2\r\n", InvalidBulkLength),
        (b"$?\r\n", InvalidBulkLength),
        (b"!-1\r\n", InvalidBulkLength),
        (b"*-2\r\n", InvalidMultibulkLength),
        (b"%-1\r\n", InvalidMultibulkLength),
        (b"*?\r\n", InvalidMultibulkLength),
        (b"+OK\rX", ExpectedCrlf),
        (b"$2\r\nabcd\r\n", ExpectedCrlf),
    ];
    for (input, e) in cases {
        assert_eq!(
            dec(input).as_ref(),
            Err(e),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
    let small = Limits {
        max_bulk_len: 2,
        max_multibulk_len: 2,
        max_inline_len: 4,
    };
    let d = |i: &[u8]| decode_frame(&mut BytesMut::from(i), &small);
    assert_eq!(d(b"$3\r\nabc\r\n"), Err(InvalidBulkLength));
    assert_eq!(d(b"*3\r\n"), Err(InvalidMultibulkLength));
    assert_eq!(d(b"+abcde\r\n"), Err(LineTooLong));
    assert_eq!(d(b"+abcde"), Err(LineTooLong));
    assert_eq!(d(b"+abcd"), Ok(None));
    // Nesting is bounded so that hostile input cannot overflow the stack.
    let ok_deep = b"*1\r\n".repeat(MAX_DEPTH - 1);
    let mut ok_deep = ok_deep.to_vec();
    ok_deep.extend_from_slice(b":1\r\n");
    assert!(matches!(dec(&ok_deep), Ok(Some(Frame::Array(_)))));
    let too_deep = b"*1\r\n".repeat(MAX_DEPTH + 1);
    assert_eq!(dec(&too_deep), Err(TooDeep));
}

#[test]
fn codec_round_trip() {
    let mut codec = RespCodec::new(Version::Resp3, Limits::default());
    let mut wire = BytesMut::new();
    let frames = vec![
        Frame::Map(vec![(Frame::Bulk(b(b"k")), Frame::Boolean(true))]),
        Frame::Double(0.5),
        Frame::Null,
    ];
    for f in &frames {
        codec.encode(f, &mut wire).unwrap();
    }
    codec.encode(Frame::Integer(7), &mut wire).unwrap();
    let mut got = Vec::new();
    while let Some(f) = codec.decode(&mut wire).unwrap() {
        got.push(f);
    }
    assert_eq!(got.len(), 4);
    assert_eq!(&got[..3], &frames[..]);
    codec.set_version(Version::Resp2);
    assert_eq!(codec.version(), Version::Resp2);
    codec.encode(&Frame::Boolean(true), &mut wire).unwrap();
    assert_eq!(&wire[..], b":1\r\n");
    let mut bad = BytesMut::from(&b"?\r\n"[..]);
    assert!(matches!(
        codec.decode(&mut bad),
        Err(mapcache_resp::CodecError::Protocol(
            ProtocolError::InvalidType(b'?')
        ))
    ));
}

/// Bytes captured from redis-server 7.0.15 `DEBUG PROTOCOL <type>` in RESP2 and
/// RESP3: our encoder writes the same, and the RESP3 ones decode.
#[test]
#[allow(clippy::approx_constant)] // Redis's DEBUG PROTOCOL double is literally 3.141
fn matches_redis_debug_protocol() {
    let map = Frame::Map(
        (0..3)
            .map(|i| (Frame::Integer(i), Frame::Boolean(i == 1)))
            .collect(),
    );
    let attr = Frame::Attribute(vec![(
        Frame::Bulk(b(b"key-popularity")),
        Frame::Array(vec![Frame::Bulk(b(b"key:123")), Frame::Integer(90)]),
    )]);
    let real = Frame::Bulk(b(b"Some real reply following the attribute"));
    let verbatim = Frame::Verbatim {
        format: *b"txt",
        text: b(b"This is a verbatim\nstring"),
    };
    let cases: Vec<(Vec<Frame>, &[u8], &[u8])> = vec![
        (
            vec![Frame::Double(3.141)],
            b"$5\r\n3.141\r\n",
            b",3.141\r\n",
        ),
        (
            vec![Frame::BigNumber(b(
                b"1234567999999999999999999999999999999",
            ))],
            b"$37\r\n1234567999999999999999999999999999999\r\n",
            b"(1234567999999999999999999999999999999\r\n",
        ),
        (vec![Frame::Boolean(true)], b":1\r\n", b"#t\r\n"),
        (vec![Frame::Boolean(false)], b":0\r\n", b"#f\r\n"),
        (vec![Frame::Null], b"$-1\r\n", b"_\r\n"),
        (
            vec![map],
            b"*6\r\n:0\r\n:0\r\n:1\r\n:1\r\n:2\r\n:0\r\n",
            b"%3\r\n:0\r\n#f\r\n:1\r\n#t\r\n:2\r\n#f\r\n",
        ),
        (
            vec![Frame::Set((0..3).map(Frame::Integer).collect())],
            b"*3\r\n:0\r\n:1\r\n:2\r\n",
            b"~3\r\n:0\r\n:1\r\n:2\r\n",
        ),
        (
            vec![attr, real],
            b"$39\r\nSome real reply following the attribute\r\n",
            b"|1\r\n$14\r\nkey-popularity\r\n*2\r\n$7\r\nkey:123\r\n:90\r\n\
              $39\r\nSome real reply following the attribute\r\n",
        ),
        (
            vec![verbatim],
            b"$25\r\nThis is a verbatim\nstring\r\n",
            b"=29\r\ntxt:This is a verbatim\nstring\r\n",
        ),
    ];
    for (frames, resp2, resp3) in cases {
        let enc = |v| {
            out(|o| {
                for f in &frames {
                    encode::frame(o, v, f);
                }
            })
        };
        assert_eq!(enc(R2), resp2, "{frames:?}");
        assert_eq!(enc(R3), resp3, "{frames:?}");
        let mut buf = BytesMut::from(resp3);
        let mut got = Vec::new();
        while let Some(f) = decode_frame(&mut buf, &Limits::default()).unwrap() {
            got.push(f);
        }
        assert_eq!(got, frames);
    }
    // RESP3 push followed by the real reply.
    let mut buf = BytesMut::from(
        &b">2\r\n$16\r\nserver-cpu-usage\r\n:42\r\n$40\r\nSome real reply following the push reply\r\n"[..],
    );
    assert_eq!(
        decode_frame(&mut buf, &Limits::default()),
        Ok(Some(Frame::Push(vec![
            Frame::Bulk(b(b"server-cpu-usage")),
            Frame::Integer(42)
        ])))
    );
}
