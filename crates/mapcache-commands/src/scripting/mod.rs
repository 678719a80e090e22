//! Lua scripting: EVAL/EVALSHA/SCRIPT and FUNCTION/FCALL over one Lua 5.1 VM (mlua,
//! vendored), as Redis 7.0 runs them.
//!
//! - [`engine`]: the VM, compiled scripts, running a script with `redis.call` bound to
//!   the caller's connection; commands called from a script go through the same
//!   dispatch as clients' ([`crate::execute_traced`]) after Redis's script checks.
//! - [`sandbox`]: Redis's environment (read-only globals and libraries).
//! - [`convert`]: RESP ↔ Lua conversions in both protocol versions.
//! - [`busy`]: the running script as other connections see it (BUSY, SCRIPT KILL).
//! - [`libs`]: `cjson`, `bit`, `cmsgpack` and `struct`, in Rust.
//!
//! A script runs inside the store's exclusive section (`Store::exclusive`), like EXEC:
//! no other client's command, over RESP or HTTP, is seen between its commands.

pub mod busy;
pub mod convert;
pub mod engine;
pub mod functions;
pub mod libs;
mod sandbox;

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;

pub use busy::Busy;
pub use engine::{sha1_hex, Engine};

/// Script flags (shebang `flags=`, `redis.register_function{flags=...}`).
pub type ScriptFlags = u32;
pub const NO_WRITES: ScriptFlags = 1 << 0;
pub const ALLOW_OOM: ScriptFlags = 1 << 1;
pub const ALLOW_STALE: ScriptFlags = 1 << 2;
pub const NO_CLUSTER: ScriptFlags = 1 << 3;
pub const ALLOW_CROSS_SLOT: ScriptFlags = 1 << 4;
/// An EVAL script without a shebang: Redis's pre-7.0 behaviour.
pub const EVAL_COMPAT: ScriptFlags = 1 << 8;

/// Flag names, as Redis spells them.
pub const FLAG_NAMES: &[(ScriptFlags, &str)] = &[
    (NO_WRITES, "no-writes"),
    (ALLOW_OOM, "allow-oom"),
    (ALLOW_STALE, "allow-stale"),
    (NO_CLUSTER, "no-cluster"),
    (ALLOW_CROSS_SLOT, "allow-cross-slot-keys"),
];

/// Everything scripting keeps: one per server, in [`crate::Shared`].
#[derive(Debug, Default)]
pub struct Scripting {
    /// The VM, made on first use (a server that never runs a script pays nothing).
    engine: Mutex<Option<Engine>>,
    pub busy: Arc<Busy>,
    /// Libraries and functions loaded, kept outside the VM's lock for FUNCTION STATS
    /// (which answers while a function runs and holds the VM).
    counts: Mutex<(usize, usize)>,
}

impl Scripting {
    /// Runs `f` with the VM, creating it first if needed.
    pub fn with_engine<R>(
        &self,
        version: &str,
        f: impl FnOnce(&mut Engine) -> R,
    ) -> Result<R, crate::CmdError> {
        let mut guard = self.engine.lock();
        if guard.is_none() {
            let engine = Engine::new(self.busy.clone(), version).map_err(|e| {
                crate::CmdError::Owned(format!("ERR failed to start the Lua engine: {e}"))
            })?;
            *guard = Some(engine);
        }
        match guard.as_mut() {
            Some(engine) => {
                let r = f(engine);
                *self.counts.lock() = (
                    engine.libraries.libraries.len(),
                    engine.libraries.functions.len(),
                );
                Ok(r)
            }
            None => Err(crate::CmdError::Static("ERR Lua engine unavailable")),
        }
    }

    /// (libraries, functions) loaded.
    pub fn function_counts(&self) -> (usize, usize) {
        *self.counts.lock()
    }

    /// SCRIPT FLUSH: forgets every EVAL script. The VM is rebuilt (Redis resets its
    /// Lua state too), keeping the function libraries loadable again.
    pub fn flush_scripts(&self) {
        if let Some(engine) = self.engine.lock().as_mut() {
            engine.scripts.clear();
            engine.lua.gc_collect().ok();
        }
    }
}

/// Does `args`, run in `session`, run a Lua script (possibly for long): the EVAL
/// family, FCALL, or an EXEC whose queue holds one of them? The server runs such
/// commands where a long run does not hold back other connections' tasks (which has
/// a cost: `cargo xtask bench --tests evalsha,multi-incr10`, docs/PERFORMANCE.md), so
/// an EXEC of plain commands runs where it is.
pub fn may_run_script(session: &crate::Session, args: &[Bytes]) -> bool {
    match args.first() {
        Some(name) if name.eq_ignore_ascii_case(b"exec") => session
            .transaction
            .as_ref()
            .is_some_and(|t| t.queue.iter().any(|q| runs_script(q))),
        _ => runs_script(args),
    }
}

/// Is `args` a command of the EVAL family or FCALL?
fn runs_script(args: &[Bytes]) -> bool {
    let Some(name) = args.first() else {
        return false;
    };
    matches!(name.len(), 4..=10)
        && [
            "eval",
            "evalsha",
            "eval_ro",
            "evalsha_ro",
            "fcall",
            "fcall_ro",
        ]
        .iter()
        .any(|n| name.eq_ignore_ascii_case(n.as_bytes()))
}

/// Redis's `evalExtractShebangFlags`: the flags and the shebang's length (the body
/// runs from the line feed on, so line numbers stay).
pub fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    if !body.starts_with(b"#!") {
        return Ok((EVAL_COMPAT, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let parts: Vec<&str> = line.split_ascii_whitespace().collect();
    let Some(engine) = parts.first() else {
        return Err("Invalid engine in script shebang".into());
    };
    if *engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = 0;
    for part in &parts[1..] {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("Unknown lua shebang option: {part}"));
        };
        if list.is_empty() {
            continue;
        }
        for f in list.split(',') {
            match FLAG_NAMES.iter().find(|(_, n)| *n == f) {
                Some((bit, _)) => flags |= bit,
                None => return Err(format!("Unexpected flag in script shebang: {f}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_as_redis_reads_them() {
        assert_eq!(parse_shebang(b"return 1"), Ok((EVAL_COMPAT, 0)));
        assert_eq!(parse_shebang(b"#!lua\nreturn 1"), Ok((0, 5)));
        assert_eq!(
            parse_shebang(b"#!lua flags=no-writes,allow-oom\nx"),
            Ok((NO_WRITES | ALLOW_OOM, 31))
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\nx"),
            Err("Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            parse_shebang(b"#!python\nx"),
            Err("Unexpected engine in script shebang: #!python".into())
        );
        assert_eq!(
            parse_shebang(b"#!lua"),
            Err("Invalid script shebang".into())
        );
    }
}
