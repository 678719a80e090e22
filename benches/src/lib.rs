//! Shared set-up for the criterion benches: a server state and a session, on the
//! system clock, driven through `mapcache_commands::execute` exactly as a connection does.

use std::sync::Arc;

use bytes::Bytes;
use mapcache_commands::{execute, Reply, RuntimeConfig, ServerInfo, Session, Shared};
use mapcache_resp::Version;
use mapcache_store::{Store, StoreConfig};

/// One server state and one client session.
#[derive(Debug)]
pub struct Bench {
    pub shared: Arc<Shared>,
    pub session: Session,
    pub out: Reply,
}

impl Default for Bench {
    fn default() -> Self {
        let store = Store::new(StoreConfig::default());
        let info = ServerInfo {
            version: "7.0.15",
            git_sha: "bench",
            tcp_port: 0,
            run_id: "0".repeat(40),
            executable: String::new(),
        };
        let shared = Arc::new(Shared::new(store, RuntimeConfig::default(), info));
        let client = shared.clients.register("bench".into(), "bench".into());
        Bench {
            session: Session::new(client, true),
            shared,
            out: Reply::new(Version::Resp2),
        }
    }
}

impl Bench {
    /// Runs one command, discarding the reply.
    #[inline]
    pub fn run(&mut self, args: &[Bytes]) {
        self.out.buf.clear();
        execute(&self.shared, &mut self.session, args, &mut self.out);
    }
}

/// A command as `Bytes` arguments.
pub fn cmd(parts: &[&str]) -> Vec<Bytes> {
    parts
        .iter()
        .map(|p| Bytes::copy_from_slice(p.as_bytes()))
        .collect()
}
