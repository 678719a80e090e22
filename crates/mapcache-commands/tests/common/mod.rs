//! The one `check` helper of the transcript tests: a command in, its exact reply out.
#![allow(dead_code)]

use std::sync::Arc;

use bytes::Bytes;
use mapcache_commands::{execute, Reply, RuntimeConfig, ServerInfo, Session, Shared};
use mapcache_expiry::ManualClock;
use mapcache_resp::Version;
use mapcache_store::{Store, StoreConfig};

/// Start of the manual clock: 2026-01-01T00:00:00Z in Unix ms.
pub const T0: i64 = 1_767_225_600_000;

/// One server and one client session, on a manual clock.
pub struct Harness {
    pub shared: Arc<Shared>,
    pub session: Session,
    pub clock: ManualClock,
    pub out: Reply,
}

impl Harness {
    pub fn new() -> Self {
        Self::with_config(RuntimeConfig::default())
    }

    pub fn with_config(config: RuntimeConfig) -> Self {
        let clock = ManualClock::new(T0);
        let store = Store::with_clock(
            StoreConfig {
                databases: config.databases,
                shard_bits: 4,
            },
            Arc::new(clock.clone()),
        );
        let authenticated = config.requirepass.is_none();
        let info = ServerInfo {
            version: "7.0.15",
            git_sha: "test",
            tcp_port: 6379,
            run_id: "0".repeat(40),
            executable: "mapcache".into(),
        };
        let shared = Arc::new(Shared::new(store, config, info));
        let client = shared
            .clients
            .register("127.0.0.1:50000".into(), "127.0.0.1:6379".into());
        Harness {
            session: Session::new(client, authenticated),
            shared,
            clock,
            out: Reply::new(Version::Resp2),
        }
    }

    /// Runs one command given as separate arguments; returns its raw reply.
    pub fn run(&mut self, args: &[&[u8]]) -> Vec<u8> {
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::copy_from_slice(a)).collect();
        self.out.buf.clear();
        execute(&self.shared, &mut self.session, &args, &mut self.out);
        self.out.buf.to_vec()
    }

    /// Runs `cmd` (arguments separated by single spaces; use `run` for arguments with
    /// spaces or binary data) and asserts the reply is exactly `expected` (RESP wire
    /// text, e.g. `"$1\r\n1\r\n"`).
    #[track_caller]
    pub fn check(&mut self, cmd: &str, expected: &str) {
        let args: Vec<&[u8]> = cmd.split(' ').map(str::as_bytes).collect();
        let got = self.run(&args);
        assert_eq!(String::from_utf8_lossy(&got), expected, "reply to {cmd:?}");
    }

    /// Switches the reply protocol (as HELLO 3 would).
    pub fn resp3(&mut self) {
        self.out.version = Version::Resp3;
    }

    /// Moves the manual clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.clock.advance(ms);
    }
}

/// Expected replies, shared by the transcript tests (RESP2 wire text).
pub mod replies {
    pub const NIL: &str = "$-1\r\n";
    pub const OK: &str = "+OK\r\n";
    pub const EMPTY: &str = "*0\r\n";
    pub const WRONGTYPE: &str =
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";
    pub const SYNTAX: &str = "-ERR syntax error\r\n";
    pub const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    pub const NOT_FLOAT: &str = "-ERR value is not a valid float\r\n";

    /// A bulk string reply.
    pub fn bulk(s: &str) -> String {
        format!("${}\r\n{}\r\n", s.len(), s)
    }

    /// An integer reply.
    pub fn int(n: i64) -> String {
        format!(":{n}\r\n")
    }
}
