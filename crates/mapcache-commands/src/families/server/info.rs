//! INFO: the server's figures by section (server, clients, memory, persistence, stats,
//! replication, cpu, commandstats, errorstats, keyspace).

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use super::cmd;
use crate::error::CmdResult;
use crate::table::flags::*;
use crate::table::Command;
use crate::{config, Ctx};

pub(crate) const COMMANDS: &[Command] = &[cmd(
    "info",
    -1,
    LOADING | STALE,
    "Get information and statistics about the server",
    info,
)];

const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "commandstats",
    "errorstats",
    "keyspace",
];

/// Sections INFO prints only when asked by name or with `all`/`everything`.
const NOT_DEFAULT: &[&str] = &["commandstats"];

fn info(c: &mut Ctx<'_>) -> CmdResult {
    let wanted: Vec<String> = c.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let everything = wanted.iter().any(|w| w == "all" || w == "everything");
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut text = String::new();
    for section in SECTIONS {
        if everything
            || (default && !NOT_DEFAULT.contains(section))
            || wanted.iter().any(|w| w == section)
        {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            write_section(c, section, &mut text);
        }
    }
    c.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn write_section(c: &Ctx<'_>, section: &str, t: &mut String) {
    let sh = c.shared;
    let uptime = sh.started.elapsed().as_secs();
    let cfg = sh.config.read().clone();
    let _ = match section {
        "server" => write!(
            t,
            "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_mode:standalone\r\n\
             os:{} {}\r\narch_bits:64\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\n\
             uptime_in_seconds:{}\r\nuptime_in_days:{}\r\nexecutable:{}\r\nconfig_file:\r\n\
             mapcache_git_sha1:{}\r\nmapcache_key_mode:{}\r\n",
            sh.info.version,
            std::env::consts::OS,
            std::env::consts::ARCH,
            std::process::id(),
            sh.info.run_id,
            sh.info.tcp_port,
            uptime,
            uptime / 86_400,
            sh.info.executable,
            sh.info.git_sha,
            match cfg.key_mode {
                config::KeyMode::Flat => "flat",
                config::KeyMode::Path => "path",
                config::KeyMode::Preserve => "preserve",
            },
        ),
        "clients" => write!(
            t,
            "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\ntracking_clients:0\r\n",
            sh.clients.len(),
            cfg.maxclients
        ),
        "memory" => {
            let rss = crate::process::rss_bytes();
            // Like Redis: the allocator's figure when it has one, RSS otherwise.
            let report = sh.memory.get();
            let used = report.and_then(|m| m.allocated_bytes()).unwrap_or(rss);
            let allocator = report.map_or("libc", |m| m.allocator());
            write!(
                t,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 maxmemory:{}\r\nmaxmemory_policy:{}\r\nmem_allocator:{allocator}\r\n",
                human_bytes(used),
                cfg.maxmemory,
                cfg.maxmemory_policy
            )
        }
        "persistence" => write!(t, "# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:0\r\naof_enabled:0\r\n"),
        "stats" => {
            let s = &sh.stats;
            let (mut hits, mut misses, mut expired) = (0, 0, 0);
            for db in sh.store.dbs() {
                let st = db.stats();
                hits += st.hits;
                misses += st.misses;
                expired += st.expired_lazy + st.expired_active;
            }
            write!(
                t,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\n\
                 instantaneous_ops_per_sec:{}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\n\
                 instantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\nrejected_connections:{}\r\n\
                 expired_keys:{expired}\r\nevicted_keys:0\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\n\
                 total_error_replies:{}\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                sh.rates.ops.rate().round() as u64,
                s.net_input_bytes.load(Ordering::Relaxed),
                s.net_output_bytes.load(Ordering::Relaxed),
                sh.rates.input_bytes.rate() / 1024.0,
                sh.rates.output_bytes.rate() / 1024.0,
                s.rejected_connections.load(Ordering::Relaxed),
                s.error_replies.load(Ordering::Relaxed),
            )
        }
        "commandstats" => {
            let _ = write!(t, "# Commandstats\r\n");
            for cs in sh.cmdstats.iter() {
                let (calls, rejected, failed) = (cs.calls(), cs.rejected(), cs.failed());
                if calls == 0 && rejected == 0 && failed == 0 {
                    continue;
                }
                let usec = cs.usec();
                let per_call = if calls == 0 { 0.0 } else { usec as f64 / calls as f64 };
                let _ = write!(
                    t,
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={per_call:.2},rejected_calls={rejected},failed_calls={failed}\r\n",
                    cs.name
                );
            }
            Ok(())
        }
        "errorstats" => {
            let _ = write!(t, "# Errorstats\r\n");
            for (kind, count) in sh.errorstats.snapshot() {
                let _ = write!(t, "errorstat_{kind}:count={count}\r\n");
            }
            Ok(())
        }
        "replication" => write!(t, "# Replication\r\nrole:master\r\nconnected_slaves:0\r\n"),
        "cpu" => {
            let (user, sys) = crate::process::cpu_seconds();
            write!(t, "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n")
        }
        "keyspace" => {
            let _ = write!(t, "# Keyspace\r\n");
            for (i, db) in sh.store.dbs().iter().enumerate() {
                let st = db.stats();
                if st.keys > 0 {
                    let _ = write!(t, "db{i}:keys={},expires={},avg_ttl=0\r\n", st.keys, st.expires);
                }
            }
            Ok(())
        }
        _ => Ok(()),
    };
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2}G", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.2}M", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.2}K", n as f64 / 1024.0),
        n => format!("{n}B"),
    }
}
