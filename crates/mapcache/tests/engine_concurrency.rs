//! Path key mode under concurrency: a multi-key write is all or nothing, for every
//! other client, while one of its keys is blocked some of the time.
//!
//! The real binary in `--key-mode path`; over loopback, several client threads race:
//! - RESP writers each own a group of keys (`MSET a:b:c v k:v v`, one with the
//!   blocked key in the middle) and write a unique value per attempt;
//! - an HTTP writer does the same with `POST /api/v1/keys` (many entries, after one
//!   `POST /api/v1/keys/delete` of them: POST creates, and both are one batch each);
//! - a toggler keeps making `a:b` a string (`SET a:b scalar`: every write below it
//!   must fail) and removing it (`DEL a:b`, `DEL a`: writes below it succeed);
//! - readers `MGET` every group at one instant.
//!
//! Asserted: after a write answering an error none of its keys holds its value (now
//! or ever, as any reader saw); after one answering OK all of them did; a reader never
//! sees a group half written (a key below `a:b` present with a value its sibling under
//! `k` does not hold). Bounded: a fixed number of attempts per writer and a time limit.

#[path = "support/http.rs"]
mod http;
#[path = "support/resp.rs"]
mod resp;
mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::Http;
use resp::{Conn, Resp};
use support::Server;

/// Write attempts per writer.
const ATTEMPTS: usize = 2_000;
/// The whole race stops here whatever the count (a loaded CI machine).
const TIME_LIMIT: Duration = Duration::from_secs(90);

/// A group of keys written together: (RESP key, HTTP path) pairs; the first is below
/// `a:b` (blocked while `a:b` is a string), the last in root `k` (never blocked).
struct Group {
    name: &'static str,
    keys: &'static [&'static str],
}

const RESP_GROUPS: &[Group] = &[
    Group {
        name: "r1",
        keys: &["a:b:c", "k:v"],
    },
    // The blocked key in the middle: the write of k:x must be undone.
    Group {
        name: "r2",
        keys: &["k:x", "a:b:d", "k:y"],
    },
];

const HTTP_GROUP: Group = Group {
    name: "h",
    keys: &["k:z", "a:b:f", "k:w"],
};

/// What every writer reports: the values of attempts that failed (must never be
/// seen) and how many attempts succeeded and failed.
#[derive(Default)]
struct Ledger {
    failed_values: Mutex<HashSet<String>>,
    ok: AtomicUsize,
    refused: AtomicUsize,
}

fn all_groups() -> Vec<&'static Group> {
    RESP_GROUPS.iter().chain([&HTTP_GROUP]).collect()
}

/// Reads `keys` with one MGET: their values (None: nil).
fn mget(c: &mut Conn, keys: &[&str]) -> Vec<Option<String>> {
    let mut args = vec!["MGET"];
    args.extend_from_slice(keys);
    match c.cmd(&args) {
        Resp::Array(Some(items)) => items.iter().map(Resp::text).collect(),
        other => panic!("MGET {keys:?}: {other:?}"),
    }
}

/// Checks that one group read at one instant is whole: either none of its keys holds
/// a value of this group, or all hold the same one — except that the keys below `a:b`
/// may have been removed since (by SET a:b / DEL a:b) while the `k` keys kept it.
fn check_group(group: &Group, values: &[Option<String>]) -> Result<(), String> {
    let in_k: Vec<&Option<String>> = group
        .keys
        .iter()
        .zip(values)
        .filter(|(k, _)| k.starts_with("k:"))
        .map(|(_, v)| v)
        .collect();
    let first = in_k[0];
    if in_k.iter().any(|v| *v != first) {
        return Err(format!(
            "group {}: the k keys differ: {:?} = {values:?}",
            group.name, group.keys
        ));
    }
    for (k, v) in group.keys.iter().zip(values) {
        if k.starts_with("a:") && v.is_some() && v != first {
            return Err(format!(
                "group {}: {k} = {v:?} but the k keys hold {first:?} ({:?} = {values:?})",
                group.name, group.keys
            ));
        }
    }
    Ok(())
}

fn resp_writer(
    server: &Server,
    group: &'static Group,
    ledger: &Ledger,
    stop_at: Instant,
) -> Result<(), String> {
    let mut c = Conn::open(server);
    for i in 0..ATTEMPTS {
        if Instant::now() > stop_at {
            break;
        }
        // Help the toggler a little, so that both outcomes are frequent; it may flip
        // `a:b` again before the MSET arrives.
        match i % 3 {
            0 => c.cmd(&["SET", "a:b", "scalar"]),
            1 => c.cmd(&["DEL", "a:b"]),
            _ => Resp::Int(0),
        };
        let value = format!("{}-{i}", group.name);
        let mut args = vec!["MSET"];
        for k in group.keys {
            args.push(k);
            args.push(&value);
        }
        let reply = c.cmd(&args);
        // The k keys belong to this writer alone: they tell at once what happened.
        let k_keys: Vec<&str> = group
            .keys
            .iter()
            .copied()
            .filter(|k| k.starts_with("k:"))
            .collect();
        let now = mget(&mut c, &k_keys);
        match &reply {
            Resp::Simple(ok) if ok == "OK" => {
                ledger.ok.fetch_add(1, Ordering::Relaxed);
                if now.iter().any(|v| v.as_deref() != Some(value.as_str())) {
                    return Err(format!(
                        "MSET {args:?} answered OK, then {k_keys:?} = {now:?}"
                    ));
                }
            }
            Resp::Error(e) if e.contains("crosses a non-object value") => {
                ledger.refused.fetch_add(1, Ordering::Relaxed);
                ledger.failed_values.lock().unwrap().insert(value.clone());
                if now.iter().any(|v| v.as_deref() == Some(value.as_str())) {
                    return Err(format!(
                        "MSET {args:?} answered {e:?}, yet {k_keys:?} = {now:?}"
                    ));
                }
            }
            other => return Err(format!("MSET {args:?} answered {other:?}")),
        }
    }
    Ok(())
}

fn http_writer(
    server: &Server,
    group: &'static Group,
    ledger: &Ledger,
    stop_at: Instant,
) -> Result<(), String> {
    let http = Http::new(server.http);
    let mut c = Conn::open(server);
    let k_keys: Vec<&str> = group
        .keys
        .iter()
        .copied()
        .filter(|k| k.starts_with("k:"))
        .collect();
    for i in 0..ATTEMPTS {
        if Instant::now() > stop_at {
            break;
        }
        let value = format!("{}-{i}", group.name);
        let entries: Vec<String> = group
            .keys
            .iter()
            .map(|k| format!(r#""{}":"{value}""#, k.replace(':', "/")))
            .collect();
        let body = format!(r#"{{"entries":{{{}}}}}"#, entries.join(","));
        let paths: Vec<String> = group
            .keys
            .iter()
            .map(|k| format!(r#""{}""#, k.replace(':', "/")))
            .collect();
        let gone = http.post(
            "/api/v1/keys/delete",
            &format!(r#"{{"keys":[{}]}}"#, paths.join(",")),
        );
        if gone.status != 200 && gone.status != 409 {
            return Err(format!("delete answered {} {}", gone.status, gone.text()));
        }
        let r = http.post("/api/v1/keys", &body);
        let now = mget(&mut c, &k_keys);
        match r.status {
            201 => {
                ledger.ok.fetch_add(1, Ordering::Relaxed);
                if now.iter().any(|v| v.as_deref() != Some(value.as_str())) {
                    return Err(format!(
                        "POST {body} answered 201, then {k_keys:?} = {now:?}"
                    ));
                }
            }
            409 => {
                ledger.refused.fetch_add(1, Ordering::Relaxed);
                ledger.failed_values.lock().unwrap().insert(value.clone());
                if now.iter().any(|v| v.as_deref() == Some(value.as_str())) {
                    return Err(format!(
                        "POST {body} answered 409 {}, yet {k_keys:?} = {now:?}",
                        r.text()
                    ));
                }
            }
            s => return Err(format!("POST {body} answered {s} {}", r.text())),
        }
    }
    Ok(())
}

#[test]
fn path_mode_multi_key_writes_are_never_half_applied() {
    let server = Server::start(&["--key-mode", "path"]);
    let stop_at = Instant::now() + TIME_LIMIT;
    let ledger = Ledger::default();
    let writers_done = AtomicBool::new(false);
    let seen: Mutex<HashSet<String>> = Mutex::new(HashSet::new());
    let reads = AtomicUsize::new(0);

    let errors: Vec<String> = std::thread::scope(|s| {
        let mut writers = Vec::new();
        for g in RESP_GROUPS {
            let (server, ledger) = (&server, &ledger);
            writers.push(s.spawn(move || resp_writer(server, g, ledger, stop_at)));
        }
        {
            let (server, ledger) = (&server, &ledger);
            writers.push(s.spawn(move || http_writer(server, &HTTP_GROUP, ledger, stop_at)));
        }
        let toggler = {
            let (server, done) = (&server, &writers_done);
            s.spawn(move || -> Result<(), String> {
                let mut c = Conn::open(server);
                let mut n = 0u64;
                while !done.load(Ordering::Relaxed) && Instant::now() < stop_at {
                    let args: &[&str] = match n % 5 {
                        0 | 2 => &["SET", "a:b", "scalar"],
                        4 => &["DEL", "a"],
                        _ => &["DEL", "a:b"],
                    };
                    match c.cmd(args) {
                        Resp::Simple(_) | Resp::Int(_) => {}
                        other => return Err(format!("{args:?} answered {other:?}")),
                    }
                    n += 1;
                }
                Ok(())
            })
        };
        let mut readers = Vec::new();
        for _ in 0..2 {
            let (server, done, seen, reads) = (&server, &writers_done, &seen, &reads);
            readers.push(s.spawn(move || -> Result<(), String> {
                let mut c = Conn::open(server);
                let groups = all_groups();
                let keys: Vec<&str> = groups.iter().flat_map(|g| g.keys.iter().copied()).collect();
                while !done.load(Ordering::Relaxed) && Instant::now() < stop_at {
                    let values = mget(&mut c, &keys);
                    let mut at = 0;
                    for g in &groups {
                        check_group(g, &values[at..at + g.keys.len()])?;
                        at += g.keys.len();
                    }
                    seen.lock().unwrap().extend(values.into_iter().flatten());
                    reads.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            }));
        }
        let mut errors: Vec<String> = writers
            .into_iter()
            .filter_map(|w| w.join().expect("writer panicked").err())
            .collect();
        writers_done.store(true, Ordering::Relaxed);
        errors.extend(toggler.join().expect("toggler panicked").err());
        errors.extend(
            readers
                .into_iter()
                .filter_map(|r| r.join().expect("reader panicked").err()),
        );
        errors
    });
    assert!(errors.is_empty(), "{}", errors.join("\n"));

    // No reader ever saw the value of a refused write.
    let failed = ledger.failed_values.lock().unwrap();
    let seen = seen.lock().unwrap();
    let leaked: Vec<&String> = seen.intersection(&failed).collect();
    assert!(
        leaked.is_empty(),
        "values of refused writes were seen: {leaked:?}"
    );

    // Both outcomes happened, many times: the race really ran.
    let (ok, refused) = (
        ledger.ok.load(Ordering::Relaxed),
        ledger.refused.load(Ordering::Relaxed),
    );
    eprintln!(
        "writes: {ok} applied, {refused} refused; {} reads",
        reads.load(Ordering::Relaxed)
    );
    assert!(ok >= 50 && refused >= 50, "{ok} applied, {refused} refused");
    assert!(reads.load(Ordering::Relaxed) > 0);

    // The server is still whole: every group reads consistently at rest.
    let mut c = Conn::open(&server);
    for g in all_groups() {
        let values = mget(&mut c, g.keys);
        check_group(g, &values).unwrap();
    }
    assert_eq!(c.cmd(&["PING"]), Resp::Simple("PONG".into()));
}
