//! How much 10,000 triggers on other paths add to finding the triggers of one write.
//!
//! `cargo run -p mapcache-programs --example trigger_matching` (add `--release` for
//! optimised numbers). Prints nanoseconds per `Triggers::matching` call for a path
//! watched by two triggers, with no other triggers, with 10,000 others (half literal
//! paths, half with wildcards), and for comparison the same 10,000 checked one by
//! one as Go's `OnChange` does (every pattern compared with the path).

#![allow(clippy::print_stdout)] // an example reports on stdout

use std::hint::black_box;
use std::time::Instant;

use mapcache_programs::{Command, Triggers};

const WRITTEN: &str = "deployment/stages/3/countdown";
const ROUNDS: u32 = 200_000;

fn watched(triggers: &mut Triggers) {
    for pattern in ["deployment/stages/*/countdown", "deployment/stages/3/*"] {
        triggers.add(pattern, Command::Noop).expect("short pattern");
    }
}

fn others(triggers: &mut Triggers, patterns: &mut Vec<String>) {
    for i in 0..5_000 {
        patterns.push(format!("users/{i}/email"));
        patterns.push(format!("orders/*/items/{i}/qty"));
    }
    for p in patterns.iter() {
        triggers.add(p, Command::Noop).expect("short pattern");
    }
}

fn per_call(mut f: impl FnMut() -> usize) -> f64 {
    let start = Instant::now();
    let mut found = 0;
    for _ in 0..ROUNDS {
        found += f();
    }
    black_box(found);
    start.elapsed().as_nanos() as f64 / f64::from(ROUNDS)
}

/// The segment-by-segment comparison Go makes for every trigger on every write.
fn linear_match(pattern: &str, path: &str) -> bool {
    let (mut p, mut k) = (pattern.split('/'), path.split('/'));
    loop {
        match (p.next(), k.next()) {
            (None, None) => return true,
            (Some("*"), Some(s)) if !s.is_empty() => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

fn main() {
    let mut alone = Triggers::new();
    watched(&mut alone);

    let mut crowded = Triggers::new();
    let mut patterns = Vec::new();
    watched(&mut crowded);
    others(&mut crowded, &mut patterns);
    patterns.push("deployment/stages/*/countdown".into());
    patterns.push("deployment/stages/3/*".into());

    assert_eq!(alone.matching(WRITTEN).len(), 2);
    assert_eq!(crowded.matching(WRITTEN).len(), 2);

    let a = per_call(|| alone.matching(black_box(WRITTEN)).len());
    let b = per_call(|| crowded.matching(black_box(WRITTEN)).len());
    let unrelated = per_call(|| crowded.matching(black_box("sessions/abc/ttl")).len());
    let c = per_call(|| {
        patterns
            .iter()
            .filter(|p| linear_match(p, black_box(WRITTEN)))
            .count()
    });
    println!("triggers.matching({WRITTEN:?}), 2 matching triggers:");
    println!("  no other triggers:                  {a:>10.0} ns");
    println!("  10,000 other triggers (trie index): {b:>10.0} ns");
    println!("  a path no trigger watches:          {unrelated:>10.0} ns");
    println!("  10,000 others, linear scan:         {c:>10.0} ns");
}
