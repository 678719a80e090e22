//! `alloc-profile`: heap allocations per request on mapcache's request path, counted
//! with dhat (run by `cargo xtask profile`; a binary of its own because dhat must be
//! the global allocator, which would slow the load generator down).
//!
//! The path is the connection task's, in process and without sockets: requests of a
//! stress workload (the load generator's own `Sustained` or `Mixed`), RESP-encoded
//! into a read buffer per connection, `decode_command`, `execute`, replies encoded
//! into the connection's reply buffer, which is then cleared (as a write would).
//! After a warm-up (buffers sized, counters created) dhat counts `--ops` requests;
//! the output is a JSON summary: bytes and blocks per request, peak heap, and the top
//! allocation sites (the first mapcache frame of each allocating stack).

#![allow(clippy::print_stdout)]

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

#[allow(dead_code)]
#[path = "../load.rs"]
mod load;
#[path = "../symbols.rs"]
mod symbols;
#[allow(dead_code)]
#[path = "../workloads.rs"]
mod workloads;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use mapcache_commands::{execute, Reply, RuntimeConfig, ServerInfo, Session, Shared};
use mapcache_resp::{Limits, Version};
use mapcache_store::{Store, StoreConfig};
use serde::Serialize;

use crate::load::Workload;
use crate::symbols::strip_generics;

#[derive(Debug, Parser)]
struct Args {
    /// sustained (SET, GET, INCR, HSET by op % 4) or mixed.
    #[arg(long, default_value = "sustained")]
    workload: String,
    /// Requests counted (after the warm-up).
    #[arg(long, default_value_t = 200_000)]
    ops: u64,
    /// Connections (sessions) the requests are spread over, round robin.
    #[arg(long, default_value_t = 50)]
    conns: usize,
    /// Requests per read (pipeline depth).
    #[arg(long, default_value_t = 1)]
    depth: usize,
    /// Value size, bytes.
    #[arg(long, default_value_t = 32)]
    value_size: usize,
    /// Where the summary JSON goes.
    #[arg(long)]
    out: PathBuf,
}

#[derive(Debug, Default, Serialize)]
struct Site {
    site: String,
    /// The first frame below the allocator and containers (what allocated).
    via: String,
    bytes: u64,
    blocks: u64,
}

#[derive(Debug, Serialize)]
struct Summary {
    workload: String,
    ops: u64,
    conns: usize,
    depth: usize,
    value_size: usize,
    total_bytes: u64,
    total_blocks: u64,
    bytes_per_op: f64,
    blocks_per_op: f64,
    /// Live heap at the end and at its peak (what the stored keys hold).
    end_bytes: u64,
    max_bytes: u64,
    sites: Vec<Site>,
}

struct Conn {
    session: Session,
    input: BytesMut,
    reply: Reply,
    args: Vec<Bytes>,
    seq: u64,
}

fn main() -> Result<()> {
    let a = Args::parse();
    let work: Box<dyn Workload> = match a.workload.as_str() {
        "sustained" => Box::new(workloads::Sustained {
            value_size: a.value_size,
        }),
        "mixed" => Box::new(workloads::Mixed {
            keyspace: 100_000,
            value_size: a.value_size,
        }),
        other => bail!("--workload {other:?}: sustained or mixed"),
    };
    let store = Store::new(StoreConfig {
        databases: 16,
        shard_bits: 8,
    });
    let info = ServerInfo {
        version: "7.0.15",
        git_sha: "alloc-profile",
        tcp_port: 6379,
        run_id: "0".repeat(40),
        executable: "alloc-profile".into(),
    };
    let shared = Arc::new(Shared::new(store, RuntimeConfig::default(), info));
    let mut conns: Vec<Conn> = (0..a.conns.max(1))
        .map(|i| {
            let client = shared
                .clients
                .register(format!("127.0.0.1:{}", 40000 + i), "127.0.0.1:6379".into());
            Conn {
                session: Session::new(client, true),
                input: BytesMut::with_capacity(16 * 1024),
                reply: Reply::new(Version::Resp2),
                args: Vec::with_capacity(8),
                seq: 0,
            }
        })
        .collect();
    let limits = Limits::default();
    let depth = a.depth.max(1);
    // The client's side, made before counting: every batch's RESP bytes, and which
    // connection sends it.
    let plan = |conns: &mut [Conn], ops: u64| -> (Vec<u8>, Vec<(usize, usize, usize)>) {
        let mut wire = BytesMut::new();
        let mut batches = Vec::new();
        let (mut made, mut c) = (0u64, 0usize);
        while made < ops {
            let i = c % conns.len();
            c += 1;
            let start = wire.len();
            for _ in 0..depth {
                let _ = work.request(i, conns[i].seq, &mut wire);
                conns[i].seq += 1;
                made += 1;
            }
            batches.push((i, start, wire.len()));
        }
        (wire.to_vec(), batches)
    };
    let run = |conns: &mut [Conn], wire: &[u8], batches: &[(usize, usize, usize)]| -> Result<u64> {
        let mut done = 0u64;
        for &(i, start, end) in batches {
            let conn = &mut conns[i];
            // The client's requests arrive (a read)...
            conn.input.extend_from_slice(&wire[start..end]);
            // ...and the connection task's loop runs them.
            while mapcache_resp::decode_command(&mut conn.input, &limits, &mut conn.args)
                .map_err(|e| anyhow::anyhow!("decode: {e}"))?
            {
                if conn.args.is_empty() {
                    continue;
                }
                execute(&shared, &mut conn.session, &conn.args, &mut conn.reply);
                done += 1;
            }
            conn.args.clear();
            if conn.reply.buf.starts_with(b"-") {
                bail!(
                    "error reply: {}",
                    String::from_utf8_lossy(&conn.reply.buf[..conn.reply.buf.len().min(200)])
                );
            }
            conn.reply.buf.clear(); // written to the socket
        }
        Ok(done)
    };
    // Warm-up, uncounted: every connection's buffers and the first keys.
    let warm = (conns.len() * depth * 20) as u64;
    let (wire, batches) = plan(&mut conns, warm);
    run(&mut conns, &wire, &batches)?;
    let (wire, batches) = plan(&mut conns, a.ops);

    let dhat_file = a.out.with_extension("dhat.json");
    let profiler = dhat::Profiler::builder().file_name(&dhat_file).build();
    let ops = run(&mut conns, &wire, &batches)?;
    let stats = dhat::HeapStats::get();
    drop(profiler); // writes dhat_file
    let sites = top_sites(&dhat_file)?;
    let summary = Summary {
        workload: a.workload.clone(),
        ops,
        conns: conns.len(),
        depth,
        value_size: a.value_size,
        total_bytes: stats.total_bytes,
        total_blocks: stats.total_blocks,
        bytes_per_op: stats.total_bytes as f64 / ops.max(1) as f64,
        blocks_per_op: stats.total_blocks as f64 / ops.max(1) as f64,
        end_bytes: stats.curr_bytes as u64,
        max_bytes: stats.max_bytes as u64,
        sites,
    };
    std::fs::write(&a.out, serde_json::to_string_pretty(&summary)?)
        .with_context(|| format!("writing {}", a.out.display()))?;
    println!(
        "{} {}: {:.1} bytes and {:.3} allocations per request ({} requests); wrote {}",
        summary.workload,
        summary.ops,
        summary.bytes_per_op,
        summary.blocks_per_op,
        ops,
        a.out.display()
    );
    Ok(())
}

/// Frames that only move the allocation along: the allocator, dhat, std's and the
/// containers' growth paths (named by their bare, inlined names and their files).
fn plumbing(frame: &str) -> bool {
    let (name, loc) = frame.rsplit_once(" (").unwrap_or((frame, ""));
    let bare = strip_generics(name);
    let bare = bare.rsplit("::").next().unwrap_or(&bare).to_string();
    const FILES: &[&str] = &[
        "dhat-",
        "alloc/src",
        "stable/alloc",
        "src/raw/",
        "src/raw_vec",
        "src/vec/",
        "indexmap-",
        "bytes-",
        "hashbrown-",
        "smallvec-",
        "???",
        "src/boxed",
        "src/slice.rs",
    ];
    const NAMES: &[&str] = &[
        "alloc",
        "alloc_impl",
        "allocate",
        "do_alloc",
        "finish_grow",
        "grow_exact",
        "grow_amortized",
        "grow_one",
        "try_reserve_exact",
        "try_reserve",
        "reserve",
        "with_capacity",
        "new_uninitialized",
        "fallible_with_capacity",
        "prepare_resize",
        "resize_inner",
        "reserve_rehash_inner",
        "reserve_rehash",
        "push_entry",
        "insert_full",
        "copy_from_slice",
        "to_vec",
        "extend_from_slice",
        "[root]",
    ];
    FILES.iter().any(|f| loc.contains(f)) || NAMES.contains(&bare.as_str())
}

/// dhat's program points aggregated by their first mapcache frame, heaviest first.
fn top_sites(path: &std::path::Path) -> Result<Vec<Site>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_str(&text).context("dhat JSON")?;
    let ftbl: Vec<String> = v["ftbl"]
        .as_array()
        .context("dhat JSON: no ftbl")?
        .iter()
        .map(|f| {
            let s = f.as_str().unwrap_or("?");
            // "0x55d8c0a3c0a4: name (file:line:col)" -> "name (file:line)"
            let s = s.split_once(": ").map_or(s, |(_, rest)| rest);
            s.to_string()
        })
        .collect();
    let mut by_site: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
    for pp in v["pps"].as_array().context("dhat JSON: no pps")? {
        let frames: Vec<&str> = pp["fs"]
            .as_array()
            .map(|fs| {
                fs.iter()
                    .filter_map(|i| ftbl.get(i.as_u64()? as usize).map(String::as_str))
                    .collect()
            })
            .unwrap_or_default();
        // The site: the first frame that is not allocation plumbing; via: the one
        // just below it (what grew or copied).
        let first = frames.iter().position(|f| !plumbing(f));
        let site = first.map_or("?", |i| frames[i]);
        let via = match first {
            Some(i) if i > 1 => frames[i - 1],
            _ => "-",
        };
        let e = by_site.entry((short(site), short(via))).or_default();
        e.0 += pp["tb"].as_u64().unwrap_or(0);
        e.1 += pp["tbk"].as_u64().unwrap_or(0);
    }
    let mut sites: Vec<Site> = by_site
        .into_iter()
        .map(|((site, via), (bytes, blocks))| Site {
            site,
            via,
            bytes,
            blocks,
        })
        .collect();
    sites.sort_by_key(|s| std::cmp::Reverse(s.bytes));
    sites.truncate(12);
    Ok(sites)
}

/// A frame without its address, column and the directories of its file.
fn short(frame: &str) -> String {
    match frame.rsplit_once(" (") {
        Some((name, loc)) => {
            let loc = loc.trim_end_matches(')');
            let file = loc.rsplit('/').next().unwrap_or(loc);
            // file:line:col -> file:line
            let file = match file.rsplit_once(':') {
                Some((fl, col)) if col.chars().all(|c| c.is_ascii_digit()) && fl.contains(':') => {
                    fl
                }
                _ => file,
            };
            format!("{} ({file})", strip_generics(name))
        }
        None => frame.to_string(),
    }
}
