//! The store's gate: exclusive sections in which one thread runs many operations
//! while no other client, HTTP request or the sweeper touches any cache.
//!
//! Every operation of a [`crate::Db`] (and each sweep of a shard) passes the gate as a
//! reader before it takes its shard locks; [`Gate::exclusive`] takes it as the writer,
//! so it waits for every operation under way and holds every other one back until it
//! ends. The thread inside an exclusive section passes the gate freely, so it can run
//! ordinary command handlers, batches and all (a write's trigger cascade; MULTI/EXEC
//! next). A thread already inside an operation also passes freely (nested operations,
//! `Store::update_two`), so no thread ever waits for itself.
//!
//! The reader side is `crossbeam_utils::sync::ShardedLock`: each thread reads its own
//! shard of the lock, so passing the gate costs one uncontended lock and no cache line
//! shared between cores; the writer takes every shard.

use std::cell::Cell;

use crossbeam_utils::sync::{ShardedLock, ShardedLockReadGuard};

/// What this thread holds of its store's gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Nothing,
    /// Inside an operation (the read side).
    Pass,
    /// Inside an exclusive section (the write side).
    Exclusive,
}

thread_local! {
    // Per thread, not per store: a thread is inside at most one store's operation at
    // a time (operations are synchronous and never call into another store).
    static HELD: Cell<Held> = const { Cell::new(Held::Nothing) };
}

/// The gate of one store (shared by its caches through their `Origin`).
#[derive(Debug, Default)]
pub struct Gate {
    lock: ShardedLock<()>,
}

/// Proof of having passed the gate, for the length of one operation.
#[derive(Debug)]
#[must_use]
pub struct Pass<'g> {
    guard: Option<ShardedLockReadGuard<'g, ()>>,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        if self.guard.take().is_some() {
            HELD.with(|h| h.set(Held::Nothing));
        }
    }
}

impl Gate {
    /// Passes the gate for one operation: waits while another thread is in an
    /// exclusive section; free inside an operation or a section of this thread.
    #[inline]
    pub fn pass(&self) -> Pass<'_> {
        if HELD.with(Cell::get) != Held::Nothing {
            return Pass { guard: None };
        }
        // The lock holds no data: a poisoned lock is as good as a clean one.
        let guard = self.lock.read().unwrap_or_else(|e| e.into_inner());
        HELD.with(|h| h.set(Held::Pass));
        Pass { guard: Some(guard) }
    }

    /// Runs `f` alone: no other thread's operation on this store runs meanwhile. `f`
    /// may run any operation itself. Called inside an exclusive section, `f` simply
    /// runs; it must not be called from inside an operation (it would wait for
    /// itself), and is then refused: `f` runs without exclusivity only in that case,
    /// which no caller reaches (debug builds assert it).
    pub fn exclusive<R>(&self, f: impl FnOnce() -> R) -> R {
        match HELD.with(Cell::get) {
            Held::Exclusive => return f(),
            Held::Pass => {
                debug_assert!(false, "an exclusive section inside an operation");
                return f();
            }
            Held::Nothing => {}
        }
        let _guard = self.lock.write().unwrap_or_else(|e| e.into_inner());
        // Reset even when `f` panics (the connection task catches panics).
        struct Leave;
        impl Drop for Leave {
            fn drop(&mut self) {
                HELD.with(|h| h.set(Held::Nothing));
            }
        }
        HELD.with(|h| h.set(Held::Exclusive));
        let _leave = Leave;
        f()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn passes_nest_and_an_exclusive_section_holds_other_threads_back() {
        let gate = Arc::new(Gate::default());
        {
            let _a = gate.pass();
            let _b = gate.pass(); // nested: free
        }
        let inside = Arc::new(AtomicBool::new(false));
        let saw_inside = Arc::new(AtomicBool::new(false));
        let g = gate.clone();
        let (i, s) = (inside.clone(), saw_inside.clone());
        gate.exclusive(|| {
            let _own = gate.pass(); // the section's own operations pass
            i.store(true, Ordering::SeqCst);
            let other = std::thread::spawn(move || {
                let _p = g.pass();
                s.store(i.load(Ordering::SeqCst), Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(50));
            inside.store(false, Ordering::SeqCst);
            other
        })
        .join()
        .unwrap();
        assert!(
            !saw_inside.load(Ordering::SeqCst),
            "the other thread passed only after the section ended"
        );
        // After the section, this thread passes normally again.
        let _p = gate.pass();
    }
}
