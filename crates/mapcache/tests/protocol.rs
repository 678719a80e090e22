//! Protocol errors, byte for byte as Redis 7.0 answers them; each closes only the
//! offending connection.

mod support;
use std::io::Write;
use support::{read_to_close, roundtrip, Server};

/// Sends `input` on a fresh connection, expects exactly `reply` and then the close,
/// and checks that another connection is still served.
fn rejects(server: &Server, input: &[u8], reply: &str) {
    let mut bad = server.connect();
    bad.write_all(input).unwrap();
    let got = read_to_close(&mut bad);
    assert_eq!(
        String::from_utf8_lossy(&got),
        reply,
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    let mut good = server.connect();
    assert_eq!(roundtrip(&mut good, b"PING\r\n", 7), b"+PONG\r\n");
}

#[test]
fn protocol_errors_match_redis_and_close_only_that_client() {
    let server = Server::start(&[]);
    // A client connected before the bad ones must keep working throughout.
    let mut bystander = server.connect();
    assert_eq!(roundtrip(&mut bystander, b"SET k v\r\n", 5), b"+OK\r\n");

    rejects(
        &server,
        b"*abc\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    rejects(
        &server,
        b"*3000000000\r\n",
        "-ERR Protocol error: invalid multibulk length\r\n",
    );
    rejects(
        &server,
        b"*1\r\n$abc\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    rejects(
        &server,
        b"*1\r\n$-5\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    rejects(
        &server,
        b"*1\r\n$600000000\r\n",
        "-ERR Protocol error: invalid bulk length\r\n",
    );
    rejects(
        &server,
        b"*1\r\nx\r\n",
        "-ERR Protocol error: expected '$', got 'x'\r\n",
    );
    rejects(
        &server,
        b"SET \"a b\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    rejects(
        &server,
        b"SET a \"b\"c\r\n",
        "-ERR Protocol error: unbalanced quotes in request\r\n",
    );
    rejects(
        &server,
        &vec![b'a'; 70_000],
        "-ERR Protocol error: too big inline request\r\n",
    );
    let mut long_count = b"*".to_vec();
    long_count.extend(std::iter::repeat_n(b'1', 70_000));
    rejects(
        &server,
        &long_count,
        "-ERR Protocol error: too big mbulk count string\r\n",
    );

    // Replies that precede the error in the same batch are still delivered.
    rejects(
        &server,
        b"PING\r\n*abc\r\n",
        "+PONG\r\n-ERR Protocol error: invalid multibulk length\r\n",
    );

    assert_eq!(roundtrip(&mut bystander, b"GET k\r\n", 7), b"$1\r\nv\r\n");
}

#[test]
fn empty_commands_are_skipped_like_redis() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    assert_eq!(
        roundtrip(&mut c, b"*0\r\n\r\n*-1\r\nPING\r\n", 7),
        b"+PONG\r\n"
    );
}

#[test]
fn inline_commands_with_quotes() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    assert_eq!(roundtrip(&mut c, b"SET \"a b\" 'c d'\r\n", 5), b"+OK\r\n");
    assert_eq!(roundtrip(&mut c, b"GET \"a b\"\n", 9), b"$3\r\nc d\r\n");
    assert_eq!(
        roundtrip(&mut c, b"ECHO \"\\x41\\n\"\r\n", 8),
        b"$2\r\nA\n\r\n"
    );
}
