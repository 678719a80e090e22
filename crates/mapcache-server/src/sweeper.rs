//! The one sweeper task: removes expired keys in bounded passes over every shard.

use std::sync::Arc;
use std::time::Duration;

use mapcache_expiry::{SweepBudget, Sweeper};

use crate::Inner;

/// Longest sleep between passes when nothing is due soon.
const MAX_IDLE: Duration = Duration::from_millis(100);

pub(crate) async fn run(inner: Arc<Inner>) {
    let mut sweeper = Sweeper::new(SweepBudget::default());
    let mut shutdown = inner.shutdown.clone();
    let store = &inner.shared.store;
    loop {
        // Named caches past their own deadline go as a whole.
        store.expire_caches();
        // The shard list borrows the store; it is rebuilt each pass (a few KiB) so that
        // nothing borrowed lives across the sleep below.
        let wake = store.with_sweep_shards(|shards| {
            let now = store.now();
            let report = sweeper.pass(shards, now);
            inner.metrics.sweep(&report);
            if report.removed > 0 {
                tracing::trace!(
                    removed = report.removed,
                    elapsed_us = report.elapsed.as_micros() as u64,
                    "sweep"
                );
            }
            sweeper.next_wake(&report, shards, store.now(), MAX_IDLE)
        });
        if wake.is_zero() {
            // More is due: let client tasks run before the next bounded pass.
            tokio::task::yield_now().await;
            continue;
        }
        tokio::select! {
            _ = tokio::time::sleep(wake) => {}
            _ = shutdown.changed() => return,
        }
    }
}
