//! The process's own resource figures (resident memory, CPU time) for INFO, behind the
//! [`ProcessReport`] trait: reading them is I/O (`/proc` on Linux), which this crate
//! does not do, so the server implements the trait and installs it once.

use std::sync::{Arc, OnceLock};

/// Where the process's figures come from. The server implements it (reading `/proc`)
/// and installs it with [`install`]; commands read it through [`report`]. Without one,
/// INFO shows 0 for these figures.
pub trait ProcessReport: Send + Sync + std::fmt::Debug {
    /// Resident set size in bytes (0 where unavailable).
    fn rss_bytes(&self) -> u64;
    /// User and system CPU seconds of the whole process (0 where unavailable).
    fn cpu_seconds(&self) -> (f64, f64);
    /// The machine's memory in bytes (INFO's `total_system_memory`; 0 where unknown).
    fn total_memory(&self) -> u64 {
        0
    }
}

/// The figures describe the process, not one server, so there is one report per
/// process: the first installed stays.
static REPORT: OnceLock<Arc<dyn ProcessReport>> = OnceLock::new();

/// Installs the process's report; `false` when one was installed already (which stays).
pub fn install(report: Arc<dyn ProcessReport>) -> bool {
    REPORT.set(report).is_ok()
}

/// The installed report, if any.
pub fn report() -> Option<&'static dyn ProcessReport> {
    REPORT.get().map(|r| &**r)
}

/// Resident set size in bytes, 0 without a report.
pub(crate) fn rss_bytes() -> u64 {
    report().map_or(0, |r| r.rss_bytes())
}

/// The machine's memory in bytes, 0 without a report.
pub(crate) fn total_memory() -> u64 {
    report().map_or(0, |r| r.total_memory())
}

/// User and system CPU seconds, 0 without a report.
pub(crate) fn cpu_seconds() -> (f64, f64) {
    report().map_or((0.0, 0.0), |r| r.cpu_seconds())
}
