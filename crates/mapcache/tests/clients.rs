//! Real clients against the real binary: redis-cli and the `redis` crate (RESP2 and RESP3).

mod support;
use support::{redis_cli, redis_cli_stdin, roundtrip, Server};

#[test]
fn redis_cli_ping_set_get() {
    let server = Server::start(&[]);
    let port = server.port();
    assert_eq!(redis_cli(port, &["PING"]), "PONG\n");
    assert_eq!(redis_cli(port, &["SET", "greeting", "hello world"]), "OK\n");
    assert_eq!(redis_cli(port, &["GET", "greeting"]), "hello world\n");
    assert_eq!(redis_cli(port, &["GET", "missing"]), "\n");
    // Type information as redis-cli shows it to a person.
    assert_eq!(redis_cli(port, &["--no-raw", "GET", "missing"]), "(nil)\n");
    assert_eq!(
        redis_cli(port, &["--no-raw", "DEL", "greeting", "x"]),
        "(integer) 1\n"
    );
    assert_eq!(
        redis_cli(port, &["--no-raw", "NOSUCH"]),
        "(error) ERR unknown command 'NOSUCH', with args beginning with: \n"
    );
}

#[test]
fn redis_cli_interactive_session_and_resp3() {
    let server = Server::start(&[]);
    // redis-cli in interactive mode sends COMMAND DOCS first, then each line.
    let out = redis_cli_stdin(server.port(), &[], b"SET a 1\nGET a\nPING\n");
    assert_eq!(out, "OK\n1\nPONG\n");
    let out = redis_cli(server.port(), &["-3", "--no-raw", "HELLO", "3"]);
    assert!(out.contains("proto"), "{out}");
    assert!(out.contains("(integer) 3"), "{out}");
}

#[test]
fn inline_protocol_over_a_raw_socket() {
    let server = Server::start(&[]);
    let mut c = server.connect();
    assert_eq!(roundtrip(&mut c, b"PING\r\n", 7), b"+PONG\r\n");
    assert_eq!(roundtrip(&mut c, b"SET k v\r\n", 5), b"+OK\r\n");
    assert_eq!(roundtrip(&mut c, b"GET k\n", 7), b"$1\r\nv\r\n");
}

#[test]
fn redis_crate_resp2_and_resp3() {
    let server = Server::start(&[]);
    for url in [
        format!("redis://{}/", server.resp),
        format!("redis://{}/?protocol=resp3", server.resp),
    ] {
        let client = redis::Client::open(url.as_str()).unwrap();
        let mut con = client.get_connection().unwrap();
        let () = redis::cmd("SET")
            .arg("bin\r\n\0key")
            .arg(b"v\0\r\nalue".as_slice())
            .query(&mut con)
            .unwrap();
        let v: Vec<u8> = redis::cmd("GET")
            .arg("bin\r\n\0key")
            .query(&mut con)
            .unwrap();
        assert_eq!(v, b"v\0\r\nalue", "{url}");
        let missing: Option<String> = redis::cmd("GET").arg("nope").query(&mut con).unwrap();
        assert_eq!(missing, None, "{url}");
        let n: i64 = redis::cmd("DEL")
            .arg("bin\r\n\0key")
            .arg("nope")
            .query(&mut con)
            .unwrap();
        assert_eq!(n, 1, "{url}");
        let err = redis::cmd("GET").query::<String>(&mut con).unwrap_err();
        assert!(
            err.to_string()
                .contains("wrong number of arguments for 'get' command"),
            "{err}"
        );
    }
    // In RESP3 the HELLO reply is a map.
    let client =
        redis::Client::open(format!("redis://{}/?protocol=resp3", server.resp).as_str()).unwrap();
    let mut con = client.get_connection().unwrap();
    let hello: redis::Value = redis::cmd("HELLO").arg(3).query(&mut con).unwrap();
    assert!(matches!(hello, redis::Value::Map(_)), "{hello:?}");
}

#[test]
fn requirepass_gates_commands() {
    let server = Server::start(&["--requirepass", "s3cret"]);
    let mut c = server.connect();
    assert_eq!(
        roundtrip(&mut c, b"PING\r\n", 34),
        b"-NOAUTH Authentication required.\r\n"
    );
    assert_eq!(roundtrip(&mut c, b"AUTH s3cret\r\n", 5), b"+OK\r\n");
    assert_eq!(roundtrip(&mut c, b"PING\r\n", 7), b"+PONG\r\n");
    let client =
        redis::Client::open(format!("redis://:s3cret@{}/?protocol=resp3", server.resp).as_str())
            .unwrap();
    let mut con = client.get_connection().unwrap();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
}
