//! Server-side request decoding, checked against what redis-server 7.0.15 answers.

use bytes::{Bytes, BytesMut};
use mapcache_resp::{decode_command, encode, Limits, ProtocolError};

#[derive(Debug, PartialEq)]
enum Outcome {
    /// Whole commands decoded, then `Ok(false)` with this many bytes left.
    Commands(Vec<Vec<Vec<u8>>>, usize),
    /// Whole commands decoded, then this error (`-ERR ...` wire bytes).
    Error(Vec<Vec<Vec<u8>>>, Vec<u8>),
}

fn run(input: &[u8], limits: &Limits) -> Outcome {
    let mut buf = BytesMut::from(input);
    let mut args = Vec::new();
    let mut cmds = Vec::new();
    loop {
        let before = buf.clone();
        match decode_command(&mut buf, limits, &mut args) {
            Ok(true) => {
                assert!(buf.len() < before.len());
                if !args.is_empty() {
                    cmds.push(args.iter().map(|a| a.to_vec()).collect());
                }
            }
            Ok(false) => {
                assert_eq!(buf, before, "Ok(false) must leave the buffer untouched");
                return Outcome::Commands(cmds, buf.len());
            }
            Err(e) => {
                assert_eq!(buf, before, "Err must leave the buffer untouched");
                let mut wire = BytesMut::new();
                encode::protocol_error(&mut wire, &e);
                // Display and the wire text agree for ASCII bytes.
                if !matches!(e, ProtocolError::ExpectedDollar(b) if !(0x20..0x7f).contains(&b)) {
                    assert_eq!(wire, format!("-ERR {e}\r\n").as_bytes());
                }
                return Outcome::Error(cmds, wire.to_vec());
            }
        }
    }
}

fn cmds(list: &[&[&[u8]]]) -> Vec<Vec<Vec<u8>>> {
    list.iter()
        .map(|c| c.iter().map(|a| a.to_vec()).collect())
        .collect()
}

fn ok(input: &[u8], expected: &[&[&[u8]]], rest: usize) {
    assert_eq!(
        run(input, &Limits::default()),
        Outcome::Commands(cmds(expected), rest),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

fn err(input: &[u8], expected: &[&[&[u8]]], wire: &[u8]) {
    assert_eq!(
        run(input, &Limits::default()),
        Outcome::Error(cmds(expected), wire.to_vec()),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
}

const PING: &[&[u8]] = &[b"PING"];

#[test]
fn error_texts() {
    let cases: &[(ProtocolError, &str)] = &[
        (
            ProtocolError::InvalidMultibulkLength,
            "Protocol error: invalid multibulk length",
        ),
        (
            ProtocolError::TooBigMbulkCountString,
            "Protocol error: too big mbulk count string",
        ),
        (
            ProtocolError::ExpectedDollar(b'+'),
            "Protocol error: expected '$', got '+'",
        ),
        (
            ProtocolError::TooBigBulkCountString,
            "Protocol error: too big bulk count string",
        ),
        (
            ProtocolError::InvalidBulkLength,
            "Protocol error: invalid bulk length",
        ),
        (
            ProtocolError::TooBigInlineRequest,
            "Protocol error: too big inline request",
        ),
        (
            ProtocolError::UnbalancedQuotes,
            "Protocol error: unbalanced quotes in request",
        ),
    ];
    for (e, text) in cases {
        assert_eq!(e.to_string(), *text);
    }
}

#[test]
fn multibulk_count_line() {
    const INVALID: &[u8] = b"-ERR Protocol error: invalid multibulk length\r\n";
    for bad in [
        &b"*abc\r\n"[..],
        b"*\r\n",
        b"*+1\r\n",
        b"*01\r\n",
        b"* 1\r\n",
        b"*-0\r\n",
        b"*1 \r\n",
    ] {
        err(bad, &[], INVALID);
    }
    // Redis 7.0 accepts counts up to INT_MAX; we stop at max_multibulk_len (1 Mi).
    err(b"*2147483648\r\n", &[], INVALID);
    err(b"*1048577\r\n", &[], INVALID);
    ok(b"*1048576\r\n", &[], 10);
    let redis_like = Limits {
        max_multibulk_len: i32::MAX as usize,
        ..Limits::default()
    };
    assert_eq!(
        run(b"*2147483647\r\n", &redis_like),
        Outcome::Commands(vec![], 13)
    );
    assert_eq!(
        run(b"*2147483648\r\n", &redis_like),
        Outcome::Error(vec![], INVALID.to_vec())
    );
    // Not complete: no \r yet, or nothing after the \r.
    ok(b"*1", &[], 2);
    ok(b"*1\r", &[], 3);
    ok(b"*", &[], 1);
}

#[test]
fn empty_multibulk_commands_are_skipped() {
    ok(b"*0\r\nPING\r\n", &[PING], 0);
    ok(b"*-1\r\nPING\r\n", &[PING], 0);
    ok(b"*-5\r\nPING\r\n", &[PING], 0);
    let mut buf = BytesMut::from(&b"*0\r\n"[..]);
    let mut args = vec![Bytes::from_static(b"stale")];
    assert_eq!(
        decode_command(&mut buf, &Limits::default(), &mut args),
        Ok(true)
    );
    assert!(args.is_empty() && buf.is_empty());
}

#[test]
fn expected_dollar() {
    err(
        b"*1\r\n+PING\r\n",
        &[],
        b"-ERR Protocol error: expected '$', got '+'\r\n",
    );
    // Detected once the element's line is complete ('\r' plus one byte).
    ok(b"*1\r\nX", &[], 5);
    ok(b"*1\r\nX\r", &[], 6);
    err(
        b"*1\r\nX\rY",
        &[],
        b"-ERR Protocol error: expected '$', got 'X'\r\n",
    );
    // '\r' as the type byte: Redis maps it to a space in the reply.
    err(
        b"*1\r\n\r\n",
        &[],
        b"-ERR Protocol error: expected '$', got ' '\r\n",
    );
    // A raw non-ASCII byte, as Redis's %c.
    err(
        b"*1\r\n\xff\r\n",
        &[],
        b"-ERR Protocol error: expected '$', got '\xff'\r\n",
    );
    // A NUL stops Redis's strchr: it just waits.
    ok(b"*1\r\n\x00\r\n", &[], 7);
    // Second element bad, first fine: error as soon as its header is in.
    err(
        b"*2\r\n$4\r\nECHO\r\n:1\r\n",
        &[],
        b"-ERR Protocol error: expected '$', got ':'\r\n",
    );
}

#[test]
fn bulk_length() {
    const INVALID: &[u8] = b"-ERR Protocol error: invalid bulk length\r\n";
    for bad in [
        &b"*1\r\n$-1\r\n"[..],
        b"*1\r\n$abc\r\n",
        b"*1\r\n$+4\r\n",
        b"*1\r\n$04\r\n",
        b"*1\r\n$\r\n",
        b"*1\r\n$536870913\r\n",
        b"*1\r\n$4\nX\r\nPING\r\n",
    ] {
        err(bad, &[], INVALID);
    }
    // Header error detected before the payload arrives.
    err(b"*3\r\n$3\r\nSET\r\n$-2\r\n", &[], INVALID);
    // The maximum is fine and waits for its payload.
    ok(b"*1\r\n$536870912\r\n", &[], 16);
    let small = Limits {
        max_bulk_len: 3,
        ..Limits::default()
    };
    assert_eq!(
        run(b"*1\r\n$4\r\nPING\r\n", &small),
        Outcome::Error(vec![], INVALID.to_vec())
    );
}

#[test]
fn too_big_count_strings() {
    let mut big = b"*".to_vec();
    big.extend(std::iter::repeat_n(b'1', 65535)); // 65536 bytes: still waiting
    ok(&big, &[], 65536);
    big.push(b'1');
    err(
        &big,
        &[],
        b"-ERR Protocol error: too big mbulk count string\r\n",
    );

    let mut big = b"*1\r\n$".to_vec();
    big.extend(std::iter::repeat_n(b'1', 65535));
    ok(&big, &[], big.len());
    big.push(b'1');
    err(
        &big,
        &[],
        b"-ERR Protocol error: too big bulk count string\r\n",
    );

    // With a line end, a long count is just an invalid number.
    let mut long = b"*".to_vec();
    long.extend(std::iter::repeat_n(b'1', 70000));
    long.extend_from_slice(b"\r\n");
    err(
        &long,
        &[],
        b"-ERR Protocol error: invalid multibulk length\r\n",
    );
}

#[test]
fn trailing_bytes_after_payload_are_not_checked() {
    // Redis skips the two bytes after a payload without looking at them, and a
    // header line ends at '\r' plus any byte.
    ok(b"*1\r\n$4\r\nPINGXYPING\r\n", &[PING, PING], 0);
    ok(b"*1\rX$4\rXPINGxx", &[PING], 0);
}

#[test]
fn binary_payloads() {
    let input = b"*3\r\n$3\r\nSET\r\n$5\r\na\r\nb\0\r\n$6\r\n\r\n\0\0\r\n\r\n";
    ok(input, &[&[b"SET", b"a\r\nb\0", b"\r\n\0\0\r\n"]], 0);
    ok(b"*1\r\n$0\r\n\r\n", &[&[b""]], 0);
}

#[test]
fn args_are_zero_copy_slices() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nSET 'a b' c\r\n"[..]);
    let base = buf.as_ptr() as usize;
    let mut args = Vec::new();
    decode_command(&mut buf, &Limits::default(), &mut args).unwrap();
    assert_eq!(args[0].as_ptr() as usize, base + 8);
    assert_eq!(args[1].as_ptr() as usize, base + 17);
    decode_command(&mut buf, &Limits::default(), &mut args).unwrap();
    assert_eq!(args, [&b"SET"[..], b"a b", b"c"]);
    // Inline arguments are unescaped in place inside the same allocation.
    for a in &args {
        let p = a.as_ptr() as usize;
        assert!(p >= base && p < base + 40);
    }
}

#[test]
fn inline_basics() {
    ok(b"PING\n", &[PING], 0);
    ok(b"PING\r\n", &[PING], 0);
    ok(b"PING", &[], 4);
    ok(b"PING\r", &[], 5);
    ok(b"\r\n\nPING\r\n", &[PING], 0);
    ok(b"   \t \r\n", &[], 0);
    ok(b"  SET   k\tv  \r\n", &[&[b"SET", b"k", b"v"]], 0);
    // '\r' inside the line separates; '\v' does not (only a leading one is skipped).
    ok(b"ECHO a\rb\r\n", &[&[b"ECHO", b"a", b"b"]], 0);
    ok(b"ECHO a\x0bb\r\n", &[&[b"ECHO", b"a\x0bb"]], 0);
    ok(b"\x0bPING\r\n", &[PING], 0);
    // A NUL stops Redis's strchr: it waits for more.
    ok(b"PING\0\r\n", &[], 7);
    ok(b"\0PING\r\n", &[], 7);
}

#[test]
fn inline_quoting() {
    ok(b"ECHO \"a\\x41\\n\"\r\n", &[&[b"ECHO", b"aA\n"]], 0);
    ok(
        b"X \"\\n\\r\\t\\b\\a\\\\\\\"\\q\\xfF\\xg1\"\n",
        &[&[b"X", b"\n\r\t\x08\x07\\\"q\xffxg1"]],
        0,
    );
    ok(b"ECHO 'a\\'b'\r\n", &[&[b"ECHO", b"a'b"]], 0);
    ok(b"ECHO 'a\\nb\"'\r\n", &[&[b"ECHO", b"a\\nb\""]], 0);
    ok(b"ECHO \"\" ''\r\n", &[&[b"ECHO", b"", b""]], 0);
    ok(b"ECHO a\"b c\"\r\n", &[&[b"ECHO", b"ab c"]], 0);
    ok(b"ECHO \"a\"\x0bb\r\n", &[&[b"ECHO", b"a", b"b"]], 0);
    ok(b"ECHO \"a\"\tb\n", &[&[b"ECHO", b"a", b"b"]], 0);
    ok(b"ECHO \"a b\"\r\n", &[&[b"ECHO", b"a b"]], 0);
    // The final "\r" before "\n" is not part of the quoted text.
    ok(b"ECHO \"a\"\r\n", &[&[b"ECHO", b"a"]], 0);
    const UNBALANCED: &[u8] = b"-ERR Protocol error: unbalanced quotes in request\r\n";
    for bad in [
        &b"ECHO \"a\"b\r\n"[..],
        b"ECHO 'a'b\r\n",
        b"ECHO \"abc\r\n",
        b"ECHO 'abc\r\n",
        b"ECHO \"abc\\\"\r\n",
        b"ECHO \"abc\\\r\n",
        b"\"",
        b"'\n",
    ] {
        if bad == b"\"" {
            continue; // no newline yet: waiting
        }
        err(bad, &[], UNBALANCED);
    }
    // Earlier commands in the buffer still decode before the error.
    err(b"PING\r\nECHO \"x\r\n", &[PING], UNBALANCED);
}

#[test]
fn too_big_inline() {
    let big = vec![b'P'; 65536];
    ok(&big, &[], 65536);
    let big = vec![b'P'; 65537];
    err(
        &big,
        &[],
        b"-ERR Protocol error: too big inline request\r\n",
    );
    let mut nul = b"PING\0".to_vec();
    nul.extend(std::iter::repeat_n(b'P', 70000));
    nul.push(b'\n');
    err(
        &nul,
        &[],
        b"-ERR Protocol error: too big inline request\r\n",
    );
    // A long line with its newline is fine.
    let mut long = b"ECHO ".to_vec();
    long.extend(std::iter::repeat_n(b'x', 100_000));
    long.push(b'\n');
    let mut buf = BytesMut::from(&long[..]);
    let mut args = Vec::new();
    assert_eq!(
        decode_command(&mut buf, &Limits::default(), &mut args),
        Ok(true)
    );
    assert_eq!(args[1].len(), 100_000);
}

/// Feeding a stream one prefix at a time gives the same commands as feeding it
/// whole, and `Ok(false)` never touches the buffer.
#[test]
fn partial_input_at_every_byte_boundary() {
    let stream: &[u8] = b"*3\r\n$3\r\nSET\r\n$5\r\na\r\nb\0\r\n$0\r\n\r\nPING\r\n*0\r\n\
        ECHO \"x y\\x41\" 'z'\n*-1\r\n*1\r\n$4\r\nPINGxx\r\n*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n";
    let whole = match run(stream, &Limits::default()) {
        Outcome::Commands(c, 0) => c,
        other => panic!("{other:?}"),
    };
    assert_eq!(whole.len(), 5);
    for cut in 0..=stream.len() {
        let mut buf = BytesMut::new();
        let mut args = Vec::new();
        let mut got: Vec<Vec<Vec<u8>>> = Vec::new();
        let mut fed = 0;
        for step in [cut, stream.len()] {
            buf.extend_from_slice(&stream[fed..step]);
            fed = step;
            loop {
                let before = buf.clone();
                match decode_command(&mut buf, &Limits::default(), &mut args) {
                    Ok(true) => {
                        if !args.is_empty() {
                            got.push(args.iter().map(|a| a.to_vec()).collect());
                        }
                    }
                    Ok(false) => {
                        assert_eq!(buf, before);
                        break;
                    }
                    Err(e) => panic!("cut {cut}: {e}"),
                }
            }
        }
        assert_eq!(got, whole, "cut at {cut}");
        assert!(buf.is_empty());
    }
    // And one byte at a time.
    let mut buf = BytesMut::new();
    let mut args = Vec::new();
    let mut got = Vec::new();
    for &b in stream {
        buf.extend_from_slice(&[b]);
        while decode_command(&mut buf, &Limits::default(), &mut args).unwrap() {
            if !args.is_empty() {
                got.push(args.iter().map(|a| a.to_vec()).collect::<Vec<_>>());
            }
        }
    }
    assert_eq!(got, whole);
}

#[test]
fn huge_partial_bulk_waits() {
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$1000000\r\n"[..]);
    buf.extend_from_slice(&vec![b'x'; 999_999]);
    let mut args = Vec::new();
    assert_eq!(
        decode_command(&mut buf, &Limits::default(), &mut args),
        Ok(false)
    );
    buf.extend_from_slice(b"x\r\n");
    assert_eq!(
        decode_command(&mut buf, &Limits::default(), &mut args),
        Ok(true)
    );
    assert_eq!(args[1].len(), 1_000_000);
    assert!(buf.is_empty());
}
