//! The Go map-cache's environment against the real binary: started with only the Go
//! server's variables it serves both protocols as the Go server would; RESP_ENABLED
//! other than true/1 means no RESP listener; flags beat the Go variables; a value Go
//! would ignore stops the start with one line.

#[path = "support/http.rs"]
mod http;
#[path = "support/resp.rs"]
mod resp;
mod support;

use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use http::Http;
use resp::{Conn, Resp};
use support::{free_port, KillOnDrop, Server};

/// Starts the binary with exactly `args` and `env` (no test flags), waiting until its
/// HTTP port answers /healthz.
fn start(args: &[&str], env: &[(&str, String)], http_port: u16) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .args(args)
        .env_remove("RUST_LOG")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn mapcache");
    let child = KillOnDrop(child);
    let addr = SocketAddr::from(([127, 0, 0, 1], http_port));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if TcpStream::connect(addr).is_ok() && support::http_get(addr, "/healthz").0 == 200 {
            return child;
        }
        assert!(Instant::now() < deadline, "mapcache did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A `Server` value for the RESP helpers (the child is owned by the caller's guard).
fn conn(resp_port: u16) -> Conn {
    let w = TcpStream::connect(("127.0.0.1", resp_port)).expect("connect RESP");
    w.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let r = std::io::BufReader::new(w.try_clone().unwrap());
    Conn { w, r }
}

fn bulk(s: &str) -> Resp {
    Resp::Bulk(Some(s.as_bytes().to_vec()))
}

#[test]
fn only_the_go_variables_serve_both_protocols_as_go_would() {
    let (http_port, resp_port) = (free_port(), free_port());
    let env = [
        ("LISTEN_ADDRESS", format!(":{http_port}")),
        ("RESP_ENABLED", "true".to_string()),
        ("RESP_ADDRESS", format!("127.0.0.1:{resp_port}")),
        ("RESP_KEY_MODE", "translate".to_string()),
        ("RESP_DEFAULT_CACHE", "default".to_string()),
        ("RESP_MAX_CONNECTIONS", "100".to_string()),
        ("KEY_DELIMITER", "/".to_string()),
        ("LOG_FORMAT", "json".to_string()),
        ("COMMAND_TIMEOUT_MS", "5000".to_string()),
    ];
    let _server = start(&[], &env, http_port);
    let mut c = conn(resp_port);
    assert_eq!(c.cmd(&["HSET", "user:100", "name", "Alice"]), Resp::Int(1));
    assert_eq!(c.cmd(&["HSET", "user:200", "name", "Bob"]), Resp::Int(1));
    let h = Http::new(SocketAddr::from(([127, 0, 0, 1], http_port)));
    let r = h.get("/api/v1/keys/user/100/name");
    assert_eq!((r.status, r.text().as_str()), (200, "\"Alice\""));
    assert_eq!(c.cmd(&["GET", "user:100:name"]), bulk("Alice"));
    // Go's KEYS: one segment per `*`, the nodes at that depth.
    let Resp::Array(Some(keys)) = c.cmd(&["KEYS", "user:*"]) else {
        panic!("KEYS")
    };
    let mut keys: Vec<Resp> = keys;
    keys.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(keys, [bulk("user:100"), bulk("user:200")]);
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        Resp::Array(Some(vec![bulk("maxclients"), bulk("100")]))
    );
    assert_eq!(
        c.cmd(&["SELECT", "nope"]),
        Resp::Error("ERR cache not found".into())
    );
}

#[test]
fn resp_enabled_false_means_no_resp_listener() {
    let (http_port, resp_port) = (free_port(), free_port());
    let env = [
        ("LISTEN_ADDRESS", format!("127.0.0.1:{http_port}")),
        ("RESP_ENABLED", "false".to_string()),
        ("RESP_ADDRESS", format!("127.0.0.1:{resp_port}")),
    ];
    let _server = start(&[], &env, http_port);
    let h = Http::new(SocketAddr::from(([127, 0, 0, 1], http_port)));
    assert_eq!(h.get("/api/v1/caches").status, 200);
    assert!(
        TcpStream::connect(("127.0.0.1", resp_port)).is_err(),
        "nothing listens on RESP_ADDRESS"
    );
}

#[test]
fn preserve_mode_and_a_default_cache_from_the_environment() {
    let (http_port, resp_port) = (free_port(), free_port());
    let env = [
        ("LISTEN_ADDRESS", format!("127.0.0.1:{http_port}")),
        ("RESP_ENABLED", "1".to_string()),
        ("RESP_ADDRESS", format!("127.0.0.1:{resp_port}")),
        ("RESP_KEY_MODE", "preserve".to_string()),
        ("RESP_DEFAULT_CACHE", "sessions".to_string()),
    ];
    let _server = start(&[], &env, http_port);
    let mut c = conn(resp_port);
    assert_eq!(c.cmd(&["HSET", "user/1", "name", "Ann"]), Resp::Int(1));
    assert_eq!(c.cmd(&["SET", "a:b", "colon"]), Resp::Simple("OK".into()));
    let sessions = Http::new(SocketAddr::from(([127, 0, 0, 1], http_port)))
        .with_header("X-Cache-Name", "sessions");
    let r = sessions.get("/api/v1/keys/user/1/name");
    assert_eq!((r.status, r.text().as_str()), (200, "\"Ann\""));
    let r = sessions.get("/api/v1/keys/a:b");
    assert_eq!((r.status, r.text().as_str()), (200, "\"colon\""));
    // SELECT default leaves it, SELECT 0 comes back to RESP_DEFAULT_CACHE.
    assert_eq!(c.cmd(&["SELECT", "default"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["EXISTS", "user/1"]), Resp::Int(0));
    assert_eq!(c.cmd(&["SELECT", "0"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["GET", "user/1/name"]), bulk("Ann"));
}

#[test]
fn flags_beat_the_go_variables() {
    let (http_port, go_resp_port) = (free_port(), free_port());
    let env = [
        ("LISTEN_ADDRESS", format!("127.0.0.1:{http_port}")),
        ("RESP_ENABLED", "false".to_string()),
        ("RESP_ADDRESS", format!("127.0.0.1:{go_resp_port}")),
        ("RESP_KEY_MODE", "preserve".to_string()),
    ];
    let resp_port = free_port();
    let port = resp_port.to_string();
    let _server = start(
        &["--resp", "on", "--port", &port, "--key-mode", "flat"],
        &env,
        http_port,
    );
    assert!(TcpStream::connect(("127.0.0.1", go_resp_port)).is_err());
    let mut c = conn(resp_port);
    // Flat: `a/b` is one opaque key.
    assert_eq!(c.cmd(&["SET", "a/b", "1"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["TYPE", "a"]), Resp::Simple("none".into()));
}

#[test]
fn a_go_value_that_go_would_ignore_stops_the_start() {
    let out = Command::new(env!("CARGO_BIN_EXE_mapcache"))
        .args(["--port", "0", "--http-port", "0"])
        .env("RESP_KEY_MODE", "bogus")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run mapcache");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "mapcache: RESP_KEY_MODE=bogus: expected translate or preserve\n"
    );
}

/// The usual test server is unaffected: no Go variable, mapcache's defaults.
#[test]
fn without_go_variables_mapcache_defaults_apply() {
    let server = Server::start(&[]);
    let mut c = Conn::open(&server);
    assert_eq!(c.cmd(&["SET", "a:b", "1"]), Resp::Simple("OK".into()));
    assert_eq!(c.cmd(&["TYPE", "a"]), Resp::Simple("none".into()));
    assert_eq!(c.cmd(&["SELECT", "15"]), Resp::Simple("OK".into()));
}
