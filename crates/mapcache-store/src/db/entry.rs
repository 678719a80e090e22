//! An entry: a stored value, its deadline, and the deadlines of nodes inside it.

use std::borrow::Cow;

use bytes::Bytes;
use mapcache_expiry::UnixMillis;

use crate::nested::NestedTtls;
use crate::path::{self, Node, Path};
use crate::value::Value;

/// A stored value with its optional deadline (absolute Unix milliseconds) and the
/// deadlines of nodes inside it ([`crate::nested`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub(super) deadline: Deadline,
    /// Deadlines of nested nodes; `None` for almost every entry.
    pub(super) nested: Option<Box<NestedTtls>>,
}

impl Entry {
    /// An entry without nested deadlines.
    pub fn new(value: Value, deadline: Option<UnixMillis>) -> Self {
        Entry {
            value,
            deadline: Deadline::new(deadline),
            nested: None,
        }
    }

    /// An entry with nested deadlines: `(segments below the root, deadline)`.
    pub fn with_nested(
        value: Value,
        deadline: Option<UnixMillis>,
        nested: impl IntoIterator<Item = (Vec<Bytes>, UnixMillis)>,
    ) -> Self {
        let mut n = NestedTtls::default();
        for (segs, d) in nested {
            n.set_segments(segs.into(), d);
        }
        n.retain_existing(&value);
        Entry {
            value,
            deadline: Deadline::new(deadline),
            nested: (!n.is_empty()).then(|| Box::new(n)),
        }
    }

    /// The root's own deadline.
    pub fn deadline(&self) -> Option<UnixMillis> {
        self.deadline.get()
    }

    /// The deadlines of nested nodes: `(segments below the root, deadline)`.
    pub fn nested_deadlines(&self) -> impl Iterator<Item = (&[Bytes], UnixMillis)> {
        self.nested.iter().flat_map(|n| n.iter())
    }

    /// Redis deems a key expired once `now > deadline` (at its deadline it still exists,
    /// with PTTL 0).
    pub(super) fn is_expired(&self, now: UnixMillis) -> bool {
        matches!(self.deadline(), Some(d) if d < now)
    }

    /// The earliest nested deadline.
    pub(super) fn nested_next(&self) -> Option<UnixMillis> {
        self.nested.as_ref().and_then(|n| n.next())
    }

    /// Has some nested node expired at `now` (the sweeper has not removed it yet)?
    #[inline]
    pub(super) fn has_nested_due(&self, now: UnixMillis) -> bool {
        self.nested.is_some() && matches!(self.nested_next(), Some(d) if d < now)
    }

    /// A copy without the nested nodes expired at `now`, for readers (who cannot
    /// remove them under a shared lock); `None` when nothing is left of the root.
    pub(super) fn purged(&self, now: UnixMillis) -> Option<Entry> {
        let mut copy = self.clone();
        if let Some(n) = copy.nested.as_mut() {
            n.expire(&mut copy.value, now);
        }
        (!path::is_empty_aggregate(&copy.value)).then_some(copy)
    }

    /// What readers see at `now`: nothing once expired, else the entry itself, or a
    /// copy without its expired nested nodes (nothing when that leaves it empty).
    pub(super) fn view(&self, now: UnixMillis) -> Option<Cow<'_, Entry>> {
        if self.is_expired(now) {
            None
        } else if self.has_nested_due(now) {
            self.purged(now).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(self))
        }
    }

    /// The node at `rest` as an entry of its own: a copy, with the deadline it expires
    /// at (its own, an ancestor's or the root's, whichever comes first).
    pub(super) fn nested_entry(&self, rest: Path<'_>) -> Option<Entry> {
        match path::resolve(&self.value, rest) {
            Node::Found(v) => {
                let inner = self.nested.as_ref().and_then(|n| n.effective(rest));
                Some(Entry::new(
                    v.to_value(),
                    min_deadline(self.deadline(), inner),
                ))
            }
            Node::Missing | Node::Blocked(_) => None,
        }
    }
}

/// An optional deadline in 8 bytes (an `Option<i64>` takes 16): `i64::MIN` stands for
/// none. A key given the deadline `i64::MIN` gets `i64::MIN + 1`, which has expired at
/// every moment the other has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Deadline(UnixMillis);

impl Deadline {
    pub(super) const NONE: UnixMillis = UnixMillis::MIN;

    #[inline]
    pub(super) fn new(deadline: Option<UnixMillis>) -> Self {
        Deadline(deadline.map_or(Self::NONE, |d| d.max(Self::NONE + 1)))
    }

    #[inline]
    pub(super) fn get(self) -> Option<UnixMillis> {
        (self.0 != Self::NONE).then_some(self.0)
    }
}

/// The earlier of two optional deadlines.
pub(super) fn min_deadline(a: Option<UnixMillis>, b: Option<UnixMillis>) -> Option<UnixMillis> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A live view of `entry` at `now`: itself, or a purged copy (kept in `scratch`) when
/// a nested node has expired; `None` when the entry is gone.
#[inline]
pub(super) fn live<'e>(
    entry: Option<&'e Entry>,
    now: UnixMillis,
    scratch: &'e mut Option<Entry>,
) -> Option<&'e Entry> {
    match entry {
        Some(e) if e.is_expired(now) => None,
        Some(e) if e.has_nested_due(now) => {
            *scratch = e.purged(now);
            scratch.as_ref()
        }
        other => other,
    }
}
