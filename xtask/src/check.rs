//! `cargo xtask check-report FILE...`: what CI asks of `stress` and `profile` output.
//!
//! - A stress report (`target/stress/report.json`): every scenario of the run is there
//!   (each of `scenarios::ALL` unless the command named some), and every result has
//!   operations, no error, and a server that did not die.
//! - A profile report (`target/profile/profile.json`): CPU samples, load operations
//!   with no error, and allocation figures from a run that did operations.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;

use crate::scenarios;

pub fn run(files: &[std::path::PathBuf]) -> Result<()> {
    if files.is_empty() {
        bail!("check-report: name at least one report.json or profile.json");
    }
    let mut failures = Vec::new();
    for f in files {
        match check_file(f) {
            Ok(summary) => eprintln!("check-report: {}: ok ({summary})", f.display()),
            Err(e) => failures.push(format!("{}: {e:#}", f.display())),
        }
    }
    if !failures.is_empty() {
        bail!("check-report failed:\n{}", failures.join("\n"));
    }
    Ok(())
}

fn check_file(path: &Path) -> Result<String> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value = serde_json::from_str(&text).context("not JSON")?;
    if v.get("results").is_some() {
        check_stress(&v)
    } else if v.get("cpu").is_some() {
        check_profile(&v)
    } else {
        bail!("neither a stress report (results) nor a profile (cpu)")
    }
}

fn u64_of(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Problems of a stress report, as text (empty: fine).
pub fn stress_problems(v: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let results = v
        .get("results")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if results.is_empty() {
        problems.push("no results".to_string());
    }
    // Which scenarios the run was asked for: the named ones, else all.
    let command = v.get("command").and_then(Value::as_str).unwrap_or("");
    let named: Vec<&str> = command
        .split_whitespace()
        .filter(|w| scenarios::ALL.contains(w))
        .collect();
    let expected: Vec<&str> = if named.is_empty() {
        scenarios::ALL.to_vec()
    } else {
        named
    };
    let targets: std::collections::BTreeSet<&str> = results
        .iter()
        .filter_map(|r| r.get("target").and_then(Value::as_str))
        .collect();
    for target in &targets {
        for s in &expected {
            let present = results.iter().any(|r| {
                r.get("target").and_then(Value::as_str) == Some(target)
                    && r.get("scenario")
                        .and_then(Value::as_str)
                        .is_some_and(|n| n == *s || n.starts_with(&format!("{s}-")))
            });
            // The self-test server does not run the four that need real semantics.
            let exempt = (*target == "selftest"
                && matches!(*s, "ttl-storm" | "connections" | "memory" | "eviction"))
                || (*target != "mapcache" && scenarios::MAPCACHE_ONLY.contains(s));
            if !present && !exempt {
                problems.push(format!("{s} on {target}: missing"));
            }
        }
    }
    for r in &results {
        let name = format!(
            "{} on {}",
            r.get("scenario").and_then(Value::as_str).unwrap_or("?"),
            r.get("target").and_then(Value::as_str).unwrap_or("?")
        );
        if u64_of(r, "ops") == 0 {
            let notes = r.get("notes").map(Value::to_string).unwrap_or_default();
            problems.push(format!("{name}: no operations {notes}"));
        }
        let errors = u64_of(r, "errors");
        if errors > 0 {
            let samples = r
                .get("error_samples")
                .map(Value::to_string)
                .unwrap_or_default();
            problems.push(format!("{name}: {errors} errors {samples}"));
        }
        if r.get("server_died").and_then(Value::as_bool) == Some(true) {
            problems.push(format!("{name}: the server died"));
        }
    }
    problems
}

fn check_stress(v: &Value) -> Result<String> {
    let problems = stress_problems(v);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    let n = v["results"].as_array().map_or(0, Vec::len);
    Ok(format!("{n} results, all with operations and no errors"))
}

/// Problems of a profile report (empty: fine).
pub fn profile_problems(v: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let samples = u64_of(&v["cpu"], "samples");
    if samples == 0 {
        problems.push("cpu: no samples".to_string());
    }
    let load = &v["load"];
    if u64_of(load, "ops") == 0 {
        problems.push("load: no operations".to_string());
    }
    let errors = u64_of(load, "errors");
    if errors > 0 {
        problems.push(format!("load: {errors} errors"));
    }
    if load.get("server_died").and_then(Value::as_bool) == Some(true) {
        problems.push("load: the server died".to_string());
    }
    if u64_of(&v["alloc"], "ops") == 0 {
        problems.push("alloc: no operations".to_string());
    }
    problems
}

fn check_profile(v: &Value) -> Result<String> {
    let problems = profile_problems(v);
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    Ok(format!(
        "{} CPU samples, {} load operations, {} allocation-profile operations",
        u64_of(&v["cpu"], "samples"),
        u64_of(&v["load"], "ops"),
        u64_of(&v["alloc"], "ops")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn result(scenario: &str, ops: u64, errors: u64) -> Value {
        json!({"scenario": scenario, "target": "mapcache", "ops": ops, "errors": errors,
               "server_died": false, "notes": [], "error_samples": []})
    }

    fn all_ok() -> Vec<Value> {
        vec![
            result("concurrent", 10, 0),
            result("sustained", 10, 0),
            result("pipeline-d1", 10, 0),
            result("pipeline-d16", 10, 0),
            result("mixed", 10, 0),
            result("ttl-storm-20k", 10, 0),
            result("connections-200", 10, 0),
            result("memory-string-32", 10, 0),
            result("memory-hash-10", 10, 0),
            result("programs-resp-wildcard", 10, 0),
            result("trigger-cost-none", 10, 0),
            result("eviction-zipf-allkeys-lru", 10, 0),
        ]
    }

    #[test]
    fn a_clean_stress_report_passes() {
        let v = json!({"command": "cargo xtask stress --quick", "results": all_ok()});
        assert!(stress_problems(&v).is_empty(), "{:?}", stress_problems(&v));
    }

    #[test]
    fn mapcache_only_scenarios_are_not_asked_of_redis() {
        let mut rs = all_ok();
        for r in all_ok() {
            let name = r["scenario"].as_str().unwrap();
            if !name.starts_with("programs") && !name.starts_with("trigger-cost") {
                let mut r = r.clone();
                r["target"] = json!("redis");
                rs.push(r);
            }
        }
        let v = json!({"command": "cargo xtask stress --quick --vs redis", "results": rs});
        assert!(stress_problems(&v).is_empty(), "{:?}", stress_problems(&v));
        // mapcache must run them.
        rs.retain(|r| r["scenario"] != "programs-resp-wildcard");
        let v = json!({"command": "cargo xtask stress --quick --vs redis", "results": rs});
        assert_eq!(stress_problems(&v), ["programs on mapcache: missing"]);
    }

    #[test]
    fn errors_empty_runs_deaths_and_missing_scenarios_fail() {
        let mut rs = all_ok();
        rs[1] = result("sustained", 10, 3);
        rs[2] = result("pipeline-d1", 0, 0);
        rs[3]["server_died"] = json!(true);
        rs.remove(5); // ttl-storm
        let v = json!({"command": "cargo xtask stress --quick", "results": rs});
        let p = stress_problems(&v).join("\n");
        assert!(p.contains("sustained on mapcache: 3 errors"), "{p}");
        assert!(p.contains("pipeline-d1 on mapcache: no operations"), "{p}");
        assert!(
            p.contains("pipeline-d16 on mapcache: the server died"),
            "{p}"
        );
        assert!(p.contains("ttl-storm on mapcache: missing"), "{p}");
        assert!(!stress_problems(&json!({"results": []})).is_empty());
    }

    #[test]
    fn named_scenarios_are_the_expected_ones() {
        let v = json!({"command": "cargo xtask stress sustained --quick",
                       "results": [result("sustained", 5, 0)]});
        assert!(stress_problems(&v).is_empty());
    }

    #[test]
    fn profile_reports_need_samples_ops_and_no_errors() {
        let good = json!({"cpu": {"samples": 100}, "load": {"ops": 5, "errors": 0},
                          "alloc": {"ops": 1000}});
        assert!(profile_problems(&good).is_empty());
        let bad = json!({"cpu": {"samples": 0}, "load": {"ops": 0, "errors": 2},
                         "alloc": {"ops": 0}});
        assert_eq!(
            profile_problems(&bad).len(),
            4,
            "{:?}",
            profile_problems(&bad)
        );
    }
}
