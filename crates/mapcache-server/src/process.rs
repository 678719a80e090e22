//! The process's own figures from `/proc` (resident memory, CPU time, threads): for
//! `/metrics`, `/healthz`, `/debug/allocator`, and for INFO through
//! [`mapcache_commands::ProcessReport`] (the commands do no I/O).

/// INFO's view of the process: `/proc/self`, read on each call.
#[derive(Debug)]
pub(crate) struct ProcFs;

impl mapcache_commands::ProcessReport for ProcFs {
    fn rss_bytes(&self) -> u64 {
        rss_bytes()
    }

    fn cpu_seconds(&self) -> (f64, f64) {
        cpu_seconds()
    }

    fn total_memory(&self) -> u64 {
        // "MemTotal:  24683784 kB" (INFO's total_system_memory).
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))?
                    .split_whitespace()
                    .next()?
                    .parse::<u64>()
                    .ok()
            })
            .map_or(0, |kb| kb * 1024)
    }
}

/// Resident set size from /proc (0 where unavailable).
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// User and system CPU seconds of the whole process, from /proc (0 where unavailable).
/// /proc counts in clock ticks; Linux's USER_HZ is 100 on every architecture we build for.
pub(crate) fn cpu_seconds() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the command name (which may hold spaces) start at field 3, "state".
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) as f64 / 100.0;
    // utime and stime are fields 14 and 15: indexes 11 and 12 after "state".
    (ticks(11), ticks(12))
}

/// The process's OS thread count (`Threads:` of /proc/self/status; 0 where unavailable).
pub(crate) fn threads() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Threads:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        if cfg!(target_os = "linux") {
            assert!(rss_bytes() > 0);
            assert!(threads() > 0);
            let (user, sys) = cpu_seconds();
            assert!(user >= 0.0 && sys >= 0.0);
        }
    }
}
