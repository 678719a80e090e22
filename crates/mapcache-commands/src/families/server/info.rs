//! INFO: the server's figures in every section and field Redis 7.0 has (server,
//! clients, memory, persistence, stats, replication, cpu, modules, commandstats,
//! errorstats, latencystats, cluster, keyspace). A field with no meaning here answers
//! what a standalone Redis with no persistence, replicas, scripts or modules answers.

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

/// Redis 7.0's sections, in its order.
const SECTIONS: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "commandstats",
    "errorstats",
    "latencystats",
    "cluster",
    "keyspace",
];

/// Sections INFO prints only when asked by name or with `all`/`everything`.
const NOT_DEFAULT: &[&str] = &["commandstats", "latencystats"];

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

/// INFO memory's `used_memory`: the allocator's figure when it has one (as Redis
/// reports its allocator's), RSS otherwise. Also moves the peak.
pub(crate) fn used_memory(sh: &crate::Shared) -> u64 {
    let used = sh
        .memory
        .get()
        .and_then(|m| m.allocated_bytes())
        .unwrap_or_else(crate::process::rss_bytes);
    sh.stats.peak_memory.fetch_max(used, Ordering::Relaxed);
    used
}

/// The highest [`used_memory`] seen (Redis samples it in its cron and per command).
pub(crate) fn peak_memory(sh: &crate::Shared) -> u64 {
    let used = used_memory(sh);
    sh.stats.peak_memory.load(Ordering::Relaxed).max(used)
}

fn unix_micros() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros())
}

fn write_section(c: &Ctx<'_>, section: &str, t: &mut String) {
    let sh = c.shared;
    let uptime = sh.started.elapsed().as_secs();
    let cfg = sh.config.read().clone();
    let param = |name: &str| cfg.param(name).unwrap_or_default();
    let _ = match section {
        "server" => {
            let hz = param("hz");
            write!(
                t,
                "# Server\r\nredis_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
                 redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\n\
                 monotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\natomicvar_api:c11-builtin\r\n\
                 gcc_version:0.0.0\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\n\
                 server_time_usec:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\n\
                 lru_clock:{}\r\nexecutable:{}\r\nconfig_file:\r\nio_threads_active:0\r\n\
                 mapcache_git_sha1:{}\r\nmapcache_key_mode:{}\r\n",
                sh.info.version,
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                sh.info.run_id,
                sh.info.tcp_port,
                unix_micros(),
                uptime,
                uptime / 86_400,
                (unix_micros() / 1_000_000) as u64 & ((1 << 24) - 1),
                sh.info.executable,
                sh.info.git_sha,
                match cfg.key_mode {
                    config::KeyMode::Flat => "flat",
                    config::KeyMode::Path => "path",
                    config::KeyMode::Preserve => "preserve",
                },
            )
        }
        "clients" => write!(
            t,
            "# Clients\r\nconnected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
             client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:0\r\n\
             tracking_clients:0\r\nclients_in_timeout_table:0\r\n",
            sh.clients.len(),
            cfg.maxclients
        ),
        "memory" => {
            let rss = crate::process::rss_bytes();
            let used = used_memory(sh);
            let peak = peak_memory(sh);
            let allocator = sh.memory.get().map_or("libc", |m| m.allocator());
            let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
            let perc = |a: u64, b: u64| ratio(a, b) * 100.0;
            let total = crate::process::total_memory();
            write!(
                t,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\n\
                 used_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\n\
                 used_memory_peak_perc:{:.2}%\r\nused_memory_overhead:0\r\nused_memory_startup:0\r\n\
                 used_memory_dataset:{used}\r\nused_memory_dataset_perc:100.00%\r\n\
                 allocator_allocated:{used}\r\nallocator_active:{used}\r\nallocator_resident:{rss}\r\n\
                 total_system_memory:{total}\r\ntotal_system_memory_human:{}\r\n\
                 used_memory_lua:0\r\nused_memory_vm_eval:0\r\nused_memory_lua_human:0B\r\n\
                 used_memory_scripts_eval:0\r\nnumber_of_cached_scripts:0\r\nnumber_of_functions:0\r\n\
                 number_of_libraries:0\r\nused_memory_vm_functions:0\r\nused_memory_vm_total:0\r\n\
                 used_memory_vm_total_human:0B\r\nused_memory_functions:0\r\nused_memory_scripts:0\r\n\
                 used_memory_scripts_human:0B\r\nmaxmemory:{}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\n\
                 allocator_frag_ratio:1.00\r\nallocator_frag_bytes:0\r\nallocator_rss_ratio:{:.2}\r\n\
                 allocator_rss_bytes:{}\r\nrss_overhead_ratio:1.00\r\nrss_overhead_bytes:0\r\n\
                 mem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_not_counted_for_evict:0\r\n\
                 mem_replication_backlog:0\r\nmem_total_replication_buffers:0\r\nmem_clients_slaves:0\r\n\
                 mem_clients_normal:0\r\nmem_cluster_links:0\r\nmem_aof_buffer:0\r\nmem_allocator:{allocator}\r\n\
                 active_defrag_running:0\r\nlazyfree_pending_objects:0\r\nlazyfreed_objects:0\r\n",
                human_bytes(used),
                human_bytes(rss),
                human_bytes(peak),
                perc(used, peak),
                human_bytes(total),
                cfg.maxmemory,
                human_bytes(cfg.maxmemory),
                cfg.maxmemory_policy,
                ratio(rss, used),
                rss as i64 - used as i64,
                ratio(rss, used),
                rss as i64 - used as i64,
            )
        }
        "persistence" => {
            let last = sh.persistence.get().map_or_else(
                || (unix_micros() / 1_000_000) as i64 - uptime as i64,
                |p| p.lastsave(),
            );
            write!(
                t,
                "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\n\
                 current_cow_size_age:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\n\
                 current_save_keys_total:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n\
                 rdb_last_save_time:{last}\r\nrdb_last_bgsave_status:ok\r\nrdb_last_bgsave_time_sec:-1\r\n\
                 rdb_current_bgsave_time_sec:-1\r\nrdb_saves:0\r\nrdb_last_cow_size:0\r\n\
                 rdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:0\r\naof_enabled:0\r\n\
                 aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\naof_last_rewrite_time_sec:-1\r\n\
                 aof_current_rewrite_time_sec:-1\r\naof_last_bgrewrite_status:ok\r\naof_rewrites:0\r\n\
                 aof_rewrites_consecutive_failures:0\r\naof_last_write_status:ok\r\naof_last_cow_size:0\r\n\
                 module_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n"
            )
        }
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
                 total_net_repl_input_bytes:0\r\ntotal_net_repl_output_bytes:0\r\n\
                 instantaneous_input_kbps:{:.2}\r\ninstantaneous_output_kbps:{:.2}\r\n\
                 instantaneous_input_repl_kbps:0.00\r\ninstantaneous_output_repl_kbps:0.00\r\nrejected_connections:{}\r\n\
                 sync_full:0\r\nsync_partial_ok:0\r\nsync_partial_err:0\r\n\
                 expired_keys:{expired}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:0\r\n\
                 expire_cycle_cpu_milliseconds:0\r\nevicted_keys:{}\r\nevicted_clients:0\r\n\
                 total_eviction_exceeded_time:0\r\ncurrent_eviction_exceeded_time:0\r\n\
                 keyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\npubsub_channels:0\r\npubsub_patterns:0\r\n\
                 pubsubshard_channels:0\r\nlatest_fork_usec:0\r\ntotal_forks:0\r\nmigrate_cached_sockets:0\r\n\
                 slave_expires_tracked_keys:0\r\nactive_defrag_hits:0\r\nactive_defrag_misses:0\r\n\
                 active_defrag_key_hits:0\r\nactive_defrag_key_misses:0\r\ntotal_active_defrag_time:0\r\n\
                 current_active_defrag_time:0\r\ntracking_total_keys:0\r\ntracking_total_items:0\r\n\
                 tracking_total_prefixes:0\r\nunexpected_error_replies:0\r\ntotal_error_replies:{}\r\n\
                 dump_payload_sanitizations:0\r\ntotal_reads_processed:{}\r\ntotal_writes_processed:{}\r\n\
                 io_threaded_reads_processed:0\r\nio_threaded_writes_processed:0\r\n\
                 reply_buffer_shrinks:0\r\nreply_buffer_expands:0\r\n",
                s.connections_received.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                sh.rates.ops.rate().round() as u64,
                s.net_input_bytes.load(Ordering::Relaxed),
                s.net_output_bytes.load(Ordering::Relaxed),
                sh.rates.input_bytes.rate() / 1024.0,
                sh.rates.output_bytes.rate() / 1024.0,
                s.rejected_connections.load(Ordering::Relaxed),
                sh.store.limits().evicted_keys(),
                s.error_replies.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
                s.commands_processed.load(Ordering::Relaxed),
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
        "latencystats" => {
            let _ = write!(t, "# Latencystats\r\n");
            let wanted: Vec<f64> = param("latency-tracking-info-percentiles")
                .split(' ')
                .filter_map(|p| p.parse().ok())
                .collect();
            for cs in sh.cmdstats.iter() {
                if cs.calls() == 0 {
                    continue;
                }
                let parts: Vec<String> = wanted
                    .iter()
                    .map(|p| format!("p{p}={:.3}", percentile_usec(&cs.latency, *p)))
                    .collect();
                let _ = write!(t, "latency_percentiles_usec_{}:{}\r\n", cs.name, parts.join(","));
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
        "replication" => write!(
            t,
            "# Replication\r\nrole:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
             master_replid:{}\r\nmaster_replid2:0000000000000000000000000000000000000000\r\n\
             master_repl_offset:0\r\nsecond_repl_offset:-1\r\nrepl_backlog_active:0\r\n\
             repl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
            sh.info.run_id,
            param("repl-backlog-size"),
        ),
        "cpu" => {
            let (user, sys) = crate::process::cpu_seconds();
            write!(
                t,
                "# CPU\r\nused_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\nused_cpu_sys_children:0.000000\r\n\
                 used_cpu_user_children:0.000000\r\nused_cpu_sys_main_thread:{sys:.6}\r\n\
                 used_cpu_user_main_thread:{user:.6}\r\n"
            )
        }
        "modules" => write!(t, "# Modules\r\n"),
        "cluster" => write!(t, "# Cluster\r\ncluster_enabled:0\r\n"),
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

/// The `p`th percentile of a latency histogram (nanosecond bounds) in microseconds:
/// the upper bound of the bucket it falls in, as close as fixed buckets can say.
fn percentile_usec(h: &crate::cmdstats::Histogram, p: f64) -> f64 {
    let counts = h.counts();
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, n) in counts.iter().enumerate() {
        seen += n;
        if seen >= rank {
            let bound = h
                .bounds()
                .get(i)
                .copied()
                .unwrap_or_else(|| h.bounds().last().copied().unwrap_or(0));
            return bound as f64 / 1000.0;
        }
    }
    0.0
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.2}G", n as f64 / f64::from(1u32 << 30)),
        n if n >= 1 << 20 => format!("{:.2}M", n as f64 / f64::from(1u32 << 20)),
        n if n >= 1 << 10 => format!("{:.2}K", n as f64 / 1024.0),
        n => format!("{n}B"),
    }
}
