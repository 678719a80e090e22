//! The binary's startup failures: one line on stderr naming what failed, a non-zero
//! exit status, and no backtrace even when `RUST_BACKTRACE` asks for one.

use std::io::Read as _;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary with `args` (and `RUST_BACKTRACE=1`, which used to make anyhow print
/// a whole stack), expecting it to exit by itself within 20 s; returns its exit code
/// and stderr.
fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .env("RUST_LIB_BACKTRACE", "1")
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mapcache");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mapcache {args:?} kept running instead of failing to start");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// The single line of `stderr` (fails on none or several).
fn only_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "expected one line on stderr, got:\n{stderr}"
    );
    assert!(
        !stderr.contains("backtrace") && !stderr.contains("Caused by"),
        "{stderr}"
    );
    lines[0]
}

#[test]
fn a_resp_port_in_use_is_one_line_and_exit_status_1() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, err) = run_to_exit(&["--port", &port.to_string(), "--http-port", "0"], &[]);
    assert_eq!(code, Some(1), "{err}");
    let line = only_line(&err);
    assert!(
        line.starts_with(&format!("mapcache: cannot listen on 127.0.0.1:{port}: ")),
        "{line}"
    );
    assert!(line.contains("in use"), "{line}");
    assert!(line.ends_with("choose another port with --port"), "{line}");
}

#[test]
fn an_http_port_in_use_names_the_http_flag() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, err) = run_to_exit(&["--port", "0", "--http-port", &port.to_string()], &[]);
    assert_eq!(code, Some(1), "{err}");
    let line = only_line(&err);
    assert!(
        line.starts_with(&format!("mapcache: cannot listen on 127.0.0.1:{port}: ")),
        "{line}"
    );
    assert!(
        line.ends_with("choose another port with --http-port"),
        "{line}"
    );
}

#[test]
fn a_bad_flag_value_is_one_line_and_clap_s_exit_status_2() {
    let (code, err) = run_to_exit(&["--port", "abc"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        only_line(&err),
        "mapcache: invalid value 'abc' for '--port <PORT>': invalid digit found in string \
         (mapcache --help lists the flags)"
    );
    // The same value from the environment.
    let (code, err) = run_to_exit(&[], &[("MAPCACHE_PORT", "abc")]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        only_line(&err).starts_with("mapcache: invalid value 'abc' for '--port <PORT>'"),
        "{err}"
    );
    // A value out of range, with clap's list of choices kept on the line.
    let (code, err) = run_to_exit(&["--key-mode", "tree"], &[]);
    assert_eq!(code, Some(2), "{err}");
    let line = only_line(&err);
    assert!(
        line.starts_with("mapcache: invalid value 'tree' for '--key-mode <KEY_MODE>'")
            && line.contains("[possible values: flat, path, preserve]"),
        "{line}"
    );
}

#[test]
fn an_unknown_flag_keeps_clap_s_suggestion_on_the_one_line() {
    let (code, err) = run_to_exit(&["--prot", "7000"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert_eq!(
        only_line(&err),
        "mapcache: unexpected argument '--prot' found; \
         tip: a similar argument exists: '--port' (mapcache --help lists the flags)"
    );
}

#[test]
fn the_same_port_for_resp_and_http_is_refused_up_front() {
    let (code, err) = run_to_exit(&["--port", "7000", "--http-port", "7000"], &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        only_line(&err).starts_with("mapcache: --port and --http-port are both 7000"),
        "{err}"
    );
}

#[test]
fn a_bad_log_filter_is_one_line_with_its_cause() {
    let (code, err) = run_to_exit(
        &["--port", "0", "--http-port", "0", "--log-level", "a[b"],
        &[],
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        only_line(&err),
        "mapcache: invalid --log-level \"a[b\": invalid filter directive"
    );
}

#[test]
fn help_and_version_are_still_clap_s_own_output_with_status_0() {
    let out = Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("Usage: mapcache [OPTIONS]"), "{help}");
    assert!(help.contains("--http-port <HTTP_PORT>"), "{help}");
    assert!(out.stderr.is_empty());
    let out = Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .arg("--version")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("mapcache {}\n", env!("CARGO_PKG_VERSION"))
    );
}
