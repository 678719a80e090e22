//! Transcript tests of the connection commands (PING, ECHO, SELECT, AUTH, HELLO,
//! CLIENT) and of the unknown-command error.

mod common;
use common::Harness;
use mapcache_commands::RuntimeConfig;

#[test]
fn ping_echo_and_arity() {
    let mut h = Harness::new();
    h.check("PING", "+PONG\r\n");
    h.check("ping hello", "$5\r\nhello\r\n");
    h.check(
        "PING a b",
        "-ERR wrong number of arguments for 'ping' command\r\n",
    );
    h.check("ECHO hi", "$2\r\nhi\r\n");
    h.check(
        "ECHO",
        "-ERR wrong number of arguments for 'echo' command\r\n",
    );
}

#[test]
fn unknown_command_text_matches_redis() {
    let mut h = Harness::new();
    h.check(
        "FOO",
        "-ERR unknown command 'FOO', with args beginning with: \r\n",
    );
    h.check(
        "foo a b",
        "-ERR unknown command 'foo', with args beginning with: 'a' 'b' \r\n",
    );
}

#[test]
fn select_checks_its_argument() {
    let mut h = Harness::new();
    h.check("SELECT 15", "+OK\r\n");
    h.check("SELECT 16", "-ERR DB index is out of range\r\n");
    h.check("SELECT -1", "-ERR DB index is out of range\r\n");
    h.check(
        "SELECT x",
        "-ERR value is not an integer or out of range\r\n",
    );
    h.check(
        "SELECT 99999999999",
        "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n",
    );
}

#[test]
fn auth_gates_everything_but_auth_hello_quit() {
    let mut h = Harness::with_config(RuntimeConfig {
        requirepass: Some("secret".into()),
        ..RuntimeConfig::default()
    });
    h.check("PING", "-NOAUTH Authentication required.\r\n");
    h.check(
        "AUTH wrong",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    h.check(
        "AUTH default wrong",
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    h.check("AUTH secret", "+OK\r\n");
    h.check("PING", "+PONG\r\n");
}

#[test]
fn auth_without_password_configured() {
    let mut h = Harness::new();
    h.check(
        "AUTH x",
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
    );
    h.check("AUTH a b c", "-ERR syntax error\r\n");
}

#[test]
fn hello_switches_protocol() {
    let mut h = Harness::new();
    let reply = h.run(&[b"HELLO", b"3"]);
    assert!(
        reply.starts_with(b"%7\r\n$6\r\nserver\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    h.check("HELLO 4", "-NOPROTO unsupported protocol version\r\n");
    h.check(
        "HELLO x",
        "-ERR Protocol version is not an integer or out of range\r\n",
    );
    h.check("HELLO 3 FOO", "-ERR Syntax error in HELLO option 'FOO'\r\n");
    let reply = h.run(&[b"HELLO", b"2"]);
    assert!(
        reply.starts_with(b"*14\r\n$6\r\nserver\r\n"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
}

#[test]
fn client_names_and_ids() {
    let mut h = Harness::new();
    h.check("CLIENT GETNAME", "$-1\r\n");
    h.check("CLIENT SETNAME app", "+OK\r\n");
    h.check("CLIENT GETNAME", "$3\r\napp\r\n");
    h.check(
        "CLIENT SETNAME a\nb",
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    h.check("CLIENT ID", ":1\r\n");
    h.check("CLIENT SETINFO LIB-NAME redis-py", "+OK\r\n");
    h.check(
        "CLIENT NOPE",
        "-ERR unknown subcommand 'NOPE'. Try CLIENT HELP.\r\n",
    );
    h.check(
        "CLIENT SETNAME",
        "-ERR wrong number of arguments for 'client|setname' command\r\n",
    );
    h.check(
        "CLIENT",
        "-ERR wrong number of arguments for 'client' command\r\n",
    );
    let list = h.run(&[b"CLIENT", b"LIST"]);
    let text = String::from_utf8_lossy(&list);
    assert!(text.contains("id=1 addr=127.0.0.1:50000"), "{text}");
    assert!(text.contains("name=app"), "{text}");
    assert!(text.contains("lib-name=redis-py"), "{text}");
}
