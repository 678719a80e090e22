//! MC.EXEC and MC.TRIGGER: map-cache's programs and triggers over RESP, with their
//! replies in RESP2 and RESP3 and their errors.

mod common;

use common::Harness;

#[test]
fn a_program_answers_as_resp3_and_downgrades_for_resp2() {
    let mut h = Harness::new();
    h.check("HSET s a 1", ":1\r\n");
    h.check("HINCRBY s n 41", ":41\r\n");
    let program = r#"{"commands":[{"type":"GET","key":"s"},{"type":"INC","key":"s/n","value":1},{"type":"RETURN","key":true},{"type":"NOOP"}]}"#;
    // RESP2: the object is a flat array, the number a bulk string, true is 1.
    let r = h.run(&[b"MC.EXEC", program.as_bytes()]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "*4\r\n*4\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nn\r\n$2\r\n41\r\n$2\r\n42\r\n:1\r\n$-1\r\n"
    );
    h.resp3();
    let r = h.run(&[b"MC.EXEC", program.as_bytes()]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "*4\r\n%2\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nn\r\n,42\r\n,43\r\n#t\r\n_\r\n"
    );
    h.check("HGET s n", "$2\r\n43\r\n");
}

#[test]
fn a_failing_program_writes_nothing_and_names_the_command() {
    let mut h = Harness::new();
    h.check("HSET s n 1", ":1\r\n");
    h.check("HINCRBY s n 0", ":1\r\n");
    let program = r#"{"commands":[{"type":"INC","key":"s/n","value":5},{"type":"INC","key":"s/x","value":1}]}"#;
    let r = h.run(&[b"MC.EXEC", program.as_bytes()]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        "-ERR command execution failed: command 2 (INC): key not found: s/x\r\n"
    );
    h.check("HGET s n", "$1\r\n1\r\n");
    let r = h.run(&[b"MC.EXEC", b"{not json"]);
    assert!(String::from_utf8_lossy(&r).starts_with("-ERR invalid json payload"));
    let r = h.run(&[b"MC.EXEC", br#"{"commands":[]}"#]);
    assert!(String::from_utf8_lossy(&r).starts_with("-ERR validation failed"));
    h.check(
        "MC.EXEC",
        "-ERR wrong number of arguments for 'mc.exec' command\r\n",
    );
}

#[test]
fn triggers_are_managed_per_database_over_resp() {
    let mut h = Harness::new();
    let r = h.run(&[b"MC.TRIGGER", b"ADD", b"s/*", br#"{"type":"NOOP"}"#]);
    let text = String::from_utf8_lossy(&r).into_owned();
    assert!(text.starts_with("$36\r\n"), "a UUID: {text}");
    let id = text[5..41].to_string();
    let r = h.run(&[b"MC.TRIGGER", b"LIST"]);
    assert_eq!(
        String::from_utf8_lossy(&r),
        format!("*1\r\n*6\r\n$2\r\nid\r\n$36\r\n{id}\r\n$3\r\nkey\r\n$3\r\ns/*\r\n$7\r\ncommand\r\n$15\r\n{{\"type\":\"NOOP\"}}\r\n")
    );
    let r = h.run(&[
        b"MC.TRIGGER",
        b"SET",
        id.as_bytes(),
        b"t/*",
        br#"{"type":"NOOP"}"#,
    ]);
    assert_eq!(String::from_utf8_lossy(&r), "+OK\r\n");
    let r = h.run(&[
        b"MC.TRIGGER",
        b"SET",
        b"nope",
        b"t/*",
        br#"{"type":"NOOP"}"#,
    ]);
    assert_eq!(String::from_utf8_lossy(&r), "-ERR trigger not found\r\n");
    // Another database has triggers of its own.
    h.check("SELECT 1", "+OK\r\n");
    h.check("MC.TRIGGER LIST", "*0\r\n");
    h.check("SELECT 0", "+OK\r\n");
    let r = h.run(&[b"MC.TRIGGER", b"DEL", id.as_bytes()]);
    assert_eq!(String::from_utf8_lossy(&r), ":1\r\n");
    let r = h.run(&[b"MC.TRIGGER", b"DEL", id.as_bytes()]);
    assert_eq!(String::from_utf8_lossy(&r), ":0\r\n");
    let r = h.run(&[b"MC.TRIGGER", b"ADD", b"s", b"[1]"]);
    assert!(String::from_utf8_lossy(&r).starts_with("-ERR invalid json payload"));
}
