//! The write feed: every change to a cache, reported once it is made.
//!
//! RESP commands, HTTP writes, document batches, the expiry sweeper (and later
//! eviction) all report what they changed here: the cache, the key (its root and, for
//! a node inside a tree, the path below it) and the kind of change. Triggers, keyspace
//! notifications, `WATCH` and the HTTP watch stream are the listeners.
//!
//! A change is published while the writer still holds the key's lock, so a listener
//! sees the changes of one key in the order they were made, and it must be quick (no
//! blocking, no store access: hand the change to a queue). With no listener the feed
//! costs one relaxed atomic load per write ([`WriteFeed::is_active`]).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::path::Path;

/// What a change did to its node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeKind {
    /// The node did not exist and now does.
    Created,
    /// The node existed and was written (even with an equal value).
    Replaced,
    /// The node was removed by a command or an API call.
    Deleted,
    /// The node was removed because its deadline passed (by a writer that found it
    /// expired, or by the sweeper).
    Expired,
    /// The node was removed to free memory.
    Evicted,
    /// The whole cache was emptied or replaced (FLUSHDB, FLUSHALL, a restore): `key`
    /// is empty.
    Cleared,
}

impl ChangeKind {
    /// Is this a kind of deletion?
    pub fn is_removal(self) -> bool {
        matches!(
            self,
            ChangeKind::Deleted | ChangeKind::Expired | ChangeKind::Evicted
        )
    }
}

/// One change, as listeners see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change<'a> {
    /// The cache's name: `default`, `1` ... `15` for the numbered databases, or the
    /// name a cache was created with.
    pub cache: &'a str,
    /// The stored top-level key.
    pub root: &'a [u8],
    /// The node below the root that changed; `None` for the root itself.
    pub path: Option<Path<'a>>,
    pub kind: ChangeKind,
}

/// Something that wants to hear of every change.
pub trait WriteListener: Send + Sync + fmt::Debug {
    /// Called once per change, under the changed key's lock: be quick.
    fn on_change(&self, change: &Change<'_>);
}

/// The listeners of one store; shared by all its caches.
#[derive(Default)]
pub struct WriteFeed {
    listeners: RwLock<Vec<Arc<dyn WriteListener>>>,
    /// Is any listener subscribed? Read on every write: the only cost of the feed
    /// when nobody listens.
    active: AtomicBool,
}

impl fmt::Debug for WriteFeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteFeed")
            .field("listeners", &self.listeners.read().len())
            .finish()
    }
}

impl WriteFeed {
    /// Adds a listener; it hears every change published from now on.
    pub fn subscribe(&self, listener: Arc<dyn WriteListener>) {
        let mut ls = self.listeners.write();
        ls.push(listener);
        self.active.store(true, Ordering::Release);
    }

    /// Removes a listener (compared by pointer). Answers whether it was subscribed.
    pub fn unsubscribe(&self, listener: &Arc<dyn WriteListener>) -> bool {
        let mut ls = self.listeners.write();
        let before = ls.len();
        ls.retain(|l| !Arc::ptr_eq(l, listener));
        self.active.store(!ls.is_empty(), Ordering::Release);
        ls.len() != before
    }

    /// Does anybody listen? Writers check this before they build a [`Change`].
    #[inline]
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    /// Tells every listener of `change`.
    pub fn publish(&self, change: &Change<'_>) {
        for l in self.listeners.read().iter() {
            l.on_change(change);
        }
    }
}

/// What a database shares with its store: its cache's name, the store's write feed
/// (where its changes go) and the store's gate ([`crate::gate`], which every
/// operation passes).
#[derive(Debug, Clone)]
pub struct Origin {
    pub cache: Arc<str>,
    pub feed: Arc<WriteFeed>,
    pub gate: Arc<crate::gate::Gate>,
}

impl Origin {
    /// Publishes a change of `root` (and `path` below it) if anybody listens.
    #[inline]
    pub fn report(&self, root: &[u8], path: Option<Path<'_>>, kind: ChangeKind) {
        if self.feed.is_active() {
            self.feed.publish(&Change {
                cache: &self.cache,
                root,
                path,
                kind,
            });
        }
    }
}

/// A listener that records every change as owned data, for tests and tools.
#[derive(Debug, Default)]
pub struct Recorder {
    changes: parking_lot::Mutex<Vec<OwnedChange>>,
}

/// A [`Change`] with owned data ([`Recorder`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedChange {
    pub cache: String,
    pub root: Vec<u8>,
    /// The path below the root, its segments joined by its separator.
    pub path: Option<Vec<u8>>,
    pub kind: ChangeKind,
}

impl Recorder {
    /// Takes the changes recorded so far.
    pub fn take(&self) -> Vec<OwnedChange> {
        std::mem::take(&mut self.changes.lock())
    }
}

impl WriteListener for Recorder {
    fn on_change(&self, change: &Change<'_>) {
        self.changes.lock().push(OwnedChange {
            cache: change.cache.to_string(),
            root: change.root.to_vec(),
            path: change.path.map(|p| p.bytes.to_vec()),
            kind: change.kind,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subscribers_hear_and_unsubscribing_quiets_the_feed() {
        let feed = Arc::new(WriteFeed::default());
        let origin = Origin {
            cache: "c".into(),
            feed: feed.clone(),
            gate: Default::default(),
        };
        assert!(!feed.is_active());
        origin.report(b"k", None, ChangeKind::Created);
        let rec = Arc::new(Recorder::default());
        let listener: Arc<dyn WriteListener> = rec.clone();
        feed.subscribe(listener.clone());
        assert!(feed.is_active());
        origin.report(b"k", Some(Path::new(b"a:b", b':')), ChangeKind::Replaced);
        assert_eq!(
            rec.take(),
            [OwnedChange {
                cache: "c".into(),
                root: b"k".to_vec(),
                path: Some(b"a:b".to_vec()),
                kind: ChangeKind::Replaced
            }]
        );
        assert!(feed.unsubscribe(&listener));
        assert!(!feed.is_active());
        origin.report(b"k", None, ChangeKind::Deleted);
        assert!(rec.take().is_empty());
    }
}
