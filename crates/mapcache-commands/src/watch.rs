//! WATCH: optimistic locking over the store's write feed.
//!
//! A session that watches keys holds a [`WatchFlag`]; the [`Watches`] registry maps
//! each watched (cache, root) to the flags watching it. A listener on the write feed,
//! subscribed only while some session watches (the feed costs nothing otherwise),
//! marks the flags of every changed root dirty, and all of a cache's flags when the
//! cache is emptied or replaced (FLUSHDB, FLUSHALL, a restore). EXEC of a dirty watch
//! answers a null array and runs nothing. In path key mode a key is watched by its
//! root: a change anywhere in that tree counts.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use bytes::Bytes;
use mapcache_store::{Change, ChangeKind, WriteFeed, WriteListener};
use parking_lot::Mutex;

/// One session's watch: dirty once a watched root changed.
#[derive(Debug, Default)]
pub struct WatchFlag {
    dirty: AtomicBool,
}

impl WatchFlag {
    pub fn is_dirty(&self) -> bool {
        self.dirty.load(Ordering::Acquire)
    }
}

/// By cache, then root: looked up with the change's borrowed names, so a write pays
/// no allocation while sessions watch.
type Roots = HashMap<Arc<str>, HashMap<Bytes, Vec<Weak<WatchFlag>>>>;

/// The watched roots of the whole server and the feed listener that serves them.
#[derive(Debug, Default)]
pub struct Watches(Arc<Registry>);

#[derive(Debug, Default)]
struct Registry {
    listener: Arc<WatchListener>,
    /// Sessions watching something; the listener is subscribed while non-zero.
    watching: AtomicUsize,
    subscribed: Mutex<bool>,
}

#[derive(Debug, Default)]
struct WatchListener {
    roots: Mutex<Roots>,
}

impl WriteListener for WatchListener {
    fn on_change(&self, change: &Change<'_>) {
        let mut roots = self.roots.lock();
        let mark = |flags: &mut Vec<Weak<WatchFlag>>| {
            flags.retain(|w| match w.upgrade() {
                Some(f) => {
                    f.dirty.store(true, Ordering::Release);
                    true
                }
                None => false,
            });
        };
        let Some(cache) = roots.get_mut(change.cache) else {
            return;
        };
        if change.kind == ChangeKind::Cleared {
            cache.values_mut().for_each(mark);
        } else if let Some(flags) = cache.get_mut(change.root) {
            mark(flags);
        }
        cache.retain(|_, flags| !flags.is_empty());
    }
}

/// What a session holds while it watches; dropping it (UNWATCH, EXEC, DISCARD, a
/// closed connection) ends the watch, and the listener leaves the feed when nobody
/// watches any more.
#[derive(Debug)]
pub struct SessionWatch {
    pub flag: Arc<WatchFlag>,
    registry: Arc<Registry>,
    feed: Arc<WriteFeed>,
}

impl Drop for SessionWatch {
    fn drop(&mut self) {
        let r = &self.registry;
        if r.watching.fetch_sub(1, Ordering::AcqRel) == 1 {
            let mut subscribed = r.subscribed.lock();
            if *subscribed && r.watching.load(Ordering::Acquire) == 0 {
                let listener: Arc<dyn WriteListener> = r.listener.clone();
                self.feed.unsubscribe(&listener);
                *subscribed = false;
                r.listener.roots.lock().clear();
            }
        }
    }
}

impl Watches {
    /// Watches `root` of `cache` for the session's `watch` (made on its first key).
    /// The listener is subscribed before the root is registered, so no change after
    /// this call is missed.
    pub fn watch(
        &self,
        feed: &Arc<WriteFeed>,
        session: &mut Option<SessionWatch>,
        cache: &str,
        root: &[u8],
    ) {
        let r = &self.0;
        let w = session.get_or_insert_with(|| {
            r.watching.fetch_add(1, Ordering::AcqRel);
            let mut subscribed = r.subscribed.lock();
            if !*subscribed {
                feed.subscribe(r.listener.clone());
                *subscribed = true;
            }
            SessionWatch {
                flag: Arc::new(WatchFlag::default()),
                registry: r.clone(),
                feed: feed.clone(),
            }
        });
        r.listener
            .roots
            .lock()
            .entry(Arc::from(cache))
            .or_default()
            .entry(Bytes::copy_from_slice(root))
            .or_default()
            .push(Arc::downgrade(&w.flag));
    }
}
