//! `cargo xtask bench`'s `multi-incr10`: MULTI, 10 INCRs and EXEC as one transaction.
//!
//! redis-benchmark sends the same command on every request, so it cannot run a
//! transaction; this case uses the stress load generator ([`crate::load`]) on one
//! client thread (as redis-benchmark is): `-c` connections, each sending `-P`
//! transactions (12 commands each) pipelined in one write and reading their 12 replies
//! each, every reply checked (`+OK`, ten `+QUEUED`, EXEC's array of ten integers).
//! A "request" here is a transaction: rps is transactions per second, CPU is per
//! transaction.

use std::sync::Arc;

use anyhow::{bail, Result};
use bytes::BytesMut;
use mapcache_resp::encode;

use crate::bench::Case;
use crate::load::{self, Expect, Spec, Stop, Workload};
use crate::server::{ProcStats, Server};

/// The test's name in `--tests`.
pub const NAME: &str = "multi-incr10";

/// INCRs per transaction.
const INCRS: usize = 10;
/// Commands per transaction: MULTI, the INCRs, EXEC.
const PER_TX: u64 = INCRS as u64 + 2;

/// Request `seq` of a connection: command `seq % 12` of transaction `seq / 12`;
/// each INCR on `counter:NNNNNNNNNNNN`, a key drawn from `keyspace` (redis-benchmark's
/// `-r` key shape).
#[derive(Debug)]
pub struct MultiIncr {
    pub keyspace: u64,
}

impl Workload for MultiIncr {
    fn request(&self, conn: usize, seq: u64, buf: &mut BytesMut) -> Expect {
        match seq % PER_TX {
            0 => {
                encode::command(buf, &[b"MULTI"]);
                Expect::Ok
            }
            i if i == PER_TX - 1 => {
                encode::command(buf, &[b"EXEC"]);
                Expect::IntArray(INCRS)
            }
            _ => {
                let n = mix((conn as u64) << 40 ^ seq) % self.keyspace.max(1);
                let key = format!("counter:{n:012}");
                encode::command(buf, &[b"INCR", key.as_bytes()]);
                Expect::Queued
            }
        }
    }
}

/// splitmix64's finaliser: a well-spread key number from a request number.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// One run of `transactions` transactions (split over `conns` connections) against
/// `server`, `pipeline` transactions per batch.
pub fn run_case(
    server: &Server,
    transactions: u64,
    conns: usize,
    pipeline: usize,
    round: usize,
) -> Result<Case> {
    let conns = conns.max(1);
    let per_conn = transactions.div_ceil(conns as u64).max(1);
    let total = per_conn * conns as u64;
    let spec = Spec::new(
        conns,
        pipeline.max(1) * PER_TX as usize,
        Stop::Count(per_conn * PER_TX),
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let work = Arc::new(MultiIncr { keyspace: 100_000 });
    let before = server.proc_stats();
    let cbefore = ProcStats::read("/proc/self");
    let out = rt.block_on(load::run(server.addr, spec, work));
    let after = server.proc_stats();
    let cafter = ProcStats::read("/proc/self");
    if out.errors > 0 {
        bail!(
            "{NAME} against {}: {} errors, e.g. {:?}",
            server.name(),
            out.errors,
            out.samples
        );
    }
    if out.ops != total * PER_TX {
        bail!(
            "{NAME} against {}: {} replies, expected {}",
            server.name(),
            out.ops,
            total * PER_TX
        );
    }
    let txs = total as f64;
    let q = |p: f64| Some(out.hist.value_at_quantile(p) as f64 / 1e6);
    Ok(Case {
        target: server.name().to_string(),
        test: NAME.to_string(),
        pipeline,
        round,
        rps: txs / out.elapsed.as_secs_f64().max(1e-9),
        p50_ms: q(0.5),
        p99_ms: q(0.99),
        server_cpu_us_per_req: before
            .zip(after)
            .map(|(b, a)| (a.cpu_s - b.cpu_s) * 1e6 / txs),
        client_cpu_us_per_req: cbefore
            .zip(cafter)
            .map(|(b, a)| (a.cpu_s - b.cpu_s) * 1e6 / txs),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use mapcache_resp::{decode_command, Frame, Limits};

    #[test]
    fn exec_reply_must_be_ten_integers() {
        let ints = |n: usize| Frame::Array((1..=n as i64).map(Frame::Integer).collect());
        let exec = Expect::IntArray(INCRS);
        assert!(exec.check(&ints(10)));
        assert!(!exec.check(&ints(9)));
        assert!(!exec.check(&ints(11)));
        assert!(!exec.check(&Frame::Null), "an aborted EXEC");
        let mut mixed = (1..=9).map(Frame::Integer).collect::<Vec<_>>();
        mixed.push(Frame::Error(Bytes::from_static(
            b"ERR value is not an integer or out of range",
        )));
        assert!(
            !exec.check(&Frame::Array(mixed)),
            "a runtime error inside EXEC"
        );
        assert!(!exec.check(&Frame::Error(Bytes::from_static(b"EXECABORT x"))));
        assert!(Expect::Queued.check(&Frame::Simple(Bytes::from_static(b"QUEUED"))));
        assert!(!Expect::Queued.check(&Frame::Simple(Bytes::from_static(b"OK"))));
    }

    #[test]
    fn a_transaction_is_multi_ten_incrs_exec() {
        let w = MultiIncr { keyspace: 1000 };
        let mut buf = BytesMut::new();
        let expects: Vec<Expect> = (0..2 * PER_TX).map(|s| w.request(3, s, &mut buf)).collect();
        let mut cmds = Vec::new();
        let mut args = Vec::new();
        while decode_command(&mut buf, &Limits::default(), &mut args).expect("valid RESP") {
            cmds.push(args.clone());
        }
        assert_eq!(cmds.len(), 2 * PER_TX as usize);
        for tx in 0..2 {
            let c = &cmds[tx * 12..tx * 12 + 12];
            assert_eq!(c[0], vec![Bytes::from_static(b"MULTI")]);
            assert_eq!(c[11], vec![Bytes::from_static(b"EXEC")]);
            for incr in &c[1..11] {
                assert_eq!(incr.len(), 2);
                assert_eq!(incr[0], Bytes::from_static(b"INCR"));
                let key = std::str::from_utf8(&incr[1]).expect("ascii key");
                let n: u64 = key
                    .strip_prefix("counter:")
                    .expect("prefix")
                    .parse()
                    .unwrap();
                assert!(n < 1000, "{key} outside the keyspace");
            }
            assert_eq!(expects[tx * 12], Expect::Ok);
            assert_eq!(expects[tx * 12 + 11], Expect::IntArray(10));
            assert!(expects[tx * 12 + 1..tx * 12 + 11]
                .iter()
                .all(|e| *e == Expect::Queued));
        }
        let keys: std::collections::HashSet<_> = cmds
            .iter()
            .filter(|c| c.len() == 2)
            .map(|c| c[1].clone())
            .collect();
        assert!(keys.len() > 10, "keys should spread, got {}", keys.len());
    }
}
