//! The trigger registry of one cache: triggers in creation order, indexed by their
//! patterns' segments so that finding the triggers of a written path does not look
//! at every trigger.
//!
//! A trigger is a key pattern and one command. A pattern's segments are `/`-separated;
//! a segment that is exactly `*` matches any one non-empty segment and captures it
//! (`${{1}}`, `${{2}}`, ... in the command); the segment count must be equal. The
//! index is a trie of segments: each node has a map of literal segments and one `*`
//! branch, so matching a path costs about its number of segments times the number of
//! `*` branches met on the way, however many triggers watch other paths.
//!
//! Ids have the shape of Go's (`uuid.New()`: a random version-4 UUID).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, RandomState};

use mapcache_store::{Hash, Value};

use crate::error::ParseError;
use crate::program::{field, parse_command, string_field, text_value, Command};

/// The most `/`-separated segments a trigger's pattern may have (far more than any
/// document is deep; it bounds the index's depth).
pub const MAX_PATTERN_SEGMENTS: usize = 1024;

fn check_pattern(key: &str) -> Result<(), TriggerError> {
    if key.split('/').count() > MAX_PATTERN_SEGMENTS {
        return Err(TriggerError::PatternTooLong);
    }
    Ok(())
}

/// One trigger.
#[derive(Debug, Clone, PartialEq)]
pub struct Trigger {
    /// Its id (a UUID text).
    pub id: String,
    /// The key pattern it watches (Go's field name: `key`).
    pub key: String,
    /// What it runs.
    pub command: Command,
}

/// A refused registry operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TriggerError {
    /// No trigger has this id (Go: 500 `trigger not found`; mapcache: 404).
    #[error("trigger not found")]
    NotFound,
    /// A restored trigger reuses an id.
    #[error("duplicate trigger id: {0}")]
    DuplicateId(String),
    /// The pattern has more than [`MAX_PATTERN_SEGMENTS`] segments.
    #[error("trigger key has more than {MAX_PATTERN_SEGMENTS} segments")]
    PatternTooLong,
    /// The backup's `triggers` value is malformed.
    #[error("invalid triggers: {0}")]
    Invalid(String),
}

/// The triggers of one cache.
#[derive(Debug, Clone, Default)]
pub struct Triggers {
    /// By creation sequence: iteration order is creation order.
    by_seq: BTreeMap<u64, Trigger>,
    seq_of: HashMap<String, u64>,
    index: Node,
    next_seq: u64,
}

/// A trie node: the triggers whose pattern ends here, and the branches below.
#[derive(Debug, Clone, Default)]
struct Node {
    ends: Vec<u64>,
    literal: HashMap<String, Node>,
    star: Option<Box<Node>>,
}

impl Node {
    fn insert(&mut self, segments: &[&str], seq: u64) {
        match segments.split_first() {
            None => self.ends.push(seq),
            Some((&"*", rest)) => self
                .star
                .get_or_insert_with(Default::default)
                .insert(rest, seq),
            Some((literal, rest)) => self
                .literal
                .entry(literal.to_string())
                .or_default()
                .insert(rest, seq),
        }
    }

    /// Removes `seq` under `segments`; answers whether this node is now empty.
    fn remove(&mut self, segments: &[&str], seq: u64) -> bool {
        match segments.split_first() {
            None => self.ends.retain(|&s| s != seq),
            Some((&"*", rest)) => {
                if self.star.as_mut().is_some_and(|n| n.remove(rest, seq)) {
                    self.star = None;
                }
            }
            Some((literal, rest)) => {
                if self
                    .literal
                    .get_mut(*literal)
                    .is_some_and(|n| n.remove(rest, seq))
                {
                    self.literal.remove(*literal);
                }
            }
        }
        self.ends.is_empty() && self.literal.is_empty() && self.star.is_none()
    }

    fn collect(
        &self,
        segments: &[&str],
        captures: &mut Vec<String>,
        out: &mut Vec<(u64, Vec<String>)>,
    ) {
        let Some((first, rest)) = segments.split_first() else {
            out.extend(self.ends.iter().map(|&seq| (seq, captures.clone())));
            return;
        };
        if let Some(next) = self.literal.get(*first) {
            next.collect(rest, captures, out);
        }
        if let Some(star) = &self.star {
            if !first.is_empty() {
                captures.push(first.to_string());
                star.collect(rest, captures, out);
                captures.pop();
            }
        }
    }
}

fn segments(pattern: &str) -> Vec<&str> {
    pattern.split('/').collect()
}

impl Triggers {
    /// No triggers.
    pub fn new() -> Triggers {
        Triggers::default()
    }

    /// How many triggers there are.
    pub fn len(&self) -> usize {
        self.by_seq.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.by_seq.is_empty()
    }

    /// Adds a trigger and answers its new id.
    pub fn add(&mut self, key: &str, command: Command) -> Result<String, TriggerError> {
        check_pattern(key)?;
        let id = loop {
            let id = new_id();
            if !self.seq_of.contains_key(&id) {
                break id;
            }
        };
        self.insert(Trigger {
            id: id.clone(),
            key: key.to_string(),
            command,
        });
        Ok(id)
    }

    fn insert(&mut self, trigger: Trigger) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.index.insert(&segments(&trigger.key), seq);
        self.seq_of.insert(trigger.id.clone(), seq);
        self.by_seq.insert(seq, trigger);
    }

    /// Replaces the trigger `id` by one watching `key` with `command`; it keeps its
    /// place in the creation order (as Go replaces it in place).
    pub fn replace(&mut self, id: &str, key: &str, command: Command) -> Result<(), TriggerError> {
        check_pattern(key)?;
        let seq = *self.seq_of.get(id).ok_or(TriggerError::NotFound)?;
        let trigger = self.by_seq.get_mut(&seq).ok_or(TriggerError::NotFound)?;
        self.index.remove(&segments(&trigger.key), seq);
        trigger.key = key.to_string();
        trigger.command = command;
        self.index.insert(&segments(key), seq);
        Ok(())
    }

    /// Removes the trigger `id` and answers it.
    pub fn delete(&mut self, id: &str) -> Result<Trigger, TriggerError> {
        let seq = self.seq_of.remove(id).ok_or(TriggerError::NotFound)?;
        let trigger = self.by_seq.remove(&seq).ok_or(TriggerError::NotFound)?;
        self.index.remove(&segments(&trigger.key), seq);
        Ok(trigger)
    }

    /// The trigger `id`.
    pub fn get(&self, id: &str) -> Option<&Trigger> {
        self.by_seq.get(self.seq_of.get(id)?)
    }

    /// Every trigger, in creation order.
    pub fn iter(&self) -> impl Iterator<Item = &Trigger> + '_ {
        self.by_seq.values()
    }

    /// The triggers whose pattern matches the concrete `path`, in creation order, each
    /// with the segments its `*`s matched.
    pub fn matching(&self, path: &str) -> Vec<(&Trigger, Vec<String>)> {
        let mut found = Vec::new();
        self.index
            .collect(&segments(path), &mut Vec::new(), &mut found);
        found.sort_unstable_by_key(|(seq, _)| *seq);
        found
            .into_iter()
            .filter_map(|(seq, captures)| Some((self.by_seq.get(&seq)?, captures)))
            .collect()
    }

    /// The triggers as Go's backup writes them: `{pattern: [{"id","key","command"}]}`,
    /// patterns in the order of their first trigger.
    pub fn to_value(&self) -> Value {
        let mut by_pattern: Vec<(&str, Vec<Value>)> = Vec::new();
        for trigger in self.iter() {
            let mut entry = Hash::new();
            entry.insert(b"id", text_value(&trigger.id));
            entry.insert(b"key", text_value(&trigger.key));
            entry.insert(b"command", trigger.command.to_value());
            match by_pattern.iter_mut().find(|(p, _)| *p == trigger.key) {
                Some((_, list)) => list.push(Value::hash(entry)),
                None => by_pattern.push((&trigger.key, vec![Value::hash(entry)])),
            }
        }
        let mut out = Hash::new();
        for (pattern, list) in by_pattern {
            out.insert(pattern.as_bytes(), Value::List(list.into()));
        }
        Value::hash(out)
    }

    /// Reads triggers from Go's backup shape (see [`Triggers::to_value`]); null is no
    /// triggers. A trigger's pattern is its `key` field (Go matches by the map's key,
    /// which is the same unless a trigger was replaced with another key).
    pub fn from_value(value: &Value) -> Result<Triggers, TriggerError> {
        let mut triggers = Triggers::new();
        let groups = match value {
            Value::Null => return Ok(triggers),
            Value::Hash(groups) => groups,
            _ => return Err(TriggerError::Invalid("expected an object".into())),
        };
        for (pattern, list) in groups.iter() {
            let pattern = String::from_utf8_lossy(pattern);
            let Some(list) = list.as_list() else {
                return Err(TriggerError::Invalid(format!(
                    "{pattern}: expected an array"
                )));
            };
            for entry in list {
                let trigger = read_trigger(&entry.cow(), &pattern)?;
                if triggers.seq_of.contains_key(&trigger.id) {
                    return Err(TriggerError::DuplicateId(trigger.id));
                }
                triggers.insert(trigger);
            }
        }
        Ok(triggers)
    }
}

/// The body of `POST /api/v1/triggers` (`{"key","command"}`) or of
/// `PUT /api/v1/triggers/{id}` (`{"id","key","command"}`).
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerRequest {
    /// The body's `id` (`""` when absent; PUT requires it to equal the path's id).
    pub id: String,
    /// The pattern (`""` when absent, as in Go).
    pub key: String,
    /// The command: required (Go accepts a body without one and fails when the trigger
    /// fires; mapcache refuses it).
    pub command: Command,
}

/// Reads a trigger request body; field names match as in programs.
pub fn parse_trigger_request(body: &Value) -> Result<TriggerRequest, ParseError> {
    let Value::Hash(fields) = body else {
        return Err(ParseError::invalid("request", "expected a JSON object"));
    };
    let command = match field(fields, "command").as_deref() {
        Some(command) => parse_command(command, "command")?,
        None => return Err(ParseError::invalid("command", "missing command")),
    };
    Ok(TriggerRequest {
        id: string_field(fields, "id", "request")?,
        key: string_field(fields, "key", "request")?,
        command,
    })
}

fn read_trigger(entry: &Value, pattern: &str) -> Result<Trigger, TriggerError> {
    let invalid = |what: &str| TriggerError::Invalid(format!("{pattern}: {what}"));
    let Value::Hash(fields) = entry else {
        return Err(invalid("expected a trigger object"));
    };
    let text = |name: &str| {
        let s = fields.get(name.as_bytes())?.str_bytes()?;
        Some(String::from_utf8_lossy(s).into_owned())
    };
    let id = text("id").ok_or_else(|| invalid("a trigger needs an id"))?;
    let key = text("key").unwrap_or_else(|| pattern.to_string());
    check_pattern(&key)?;
    let command = fields
        .get(b"command")
        .ok_or_else(|| invalid("a trigger needs a command"))?;
    let command =
        Command::from_value(&command.cow()).map_err(|e: ParseError| invalid(&e.to_string()))?;
    Ok(Trigger { id, key, command })
}

/// A random version-4 UUID text (`xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`). The bits
/// come from std's randomly keyed SipHash over a clock and a counter: unique and
/// unpredictable enough for ids, without a dependency.
fn new_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let state = RandomState::new();
    let hi = state.hash_one((n, nanos, 1u8));
    let lo = state.hash_one((n, nanos, 2u8));
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&hi.to_be_bytes());
    bytes[8..].copy_from_slice(&lo.to_be_bytes());
    bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
    bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(triggers: &Triggers, path: &str) -> Vec<(String, Vec<String>)> {
        triggers
            .matching(path)
            .into_iter()
            .map(|(t, c)| (t.key.clone(), c))
            .collect()
    }

    fn caps(c: &[&str]) -> Vec<String> {
        c.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn ids_look_like_uuid_v4() {
        let id = new_id();
        assert_eq!(id.len(), 36);
        let parts: Vec<&str> = id.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        assert!(id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()));
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn matching_follows_segments_in_creation_order() {
        let mut t = Triggers::new();
        t.add("a/*/c", Command::Noop).unwrap();
        t.add("a/b/c", Command::Noop).unwrap();
        t.add("*/*/*", Command::Noop).unwrap();
        t.add("a/*", Command::Noop).unwrap();
        t.add("a/*/c", Command::Noop).unwrap();
        assert_eq!(
            ids(&t, "a/b/c"),
            [
                ("a/*/c".to_string(), caps(&["b"])),
                ("a/b/c".to_string(), caps(&[])),
                ("*/*/*".to_string(), caps(&["a", "b", "c"])),
                ("a/*/c".to_string(), caps(&["b"])),
            ]
        );
        assert_eq!(ids(&t, "a/x"), [("a/*".to_string(), caps(&["x"]))]);
        assert!(ids(&t, "a").is_empty(), "no ancestors");
        assert!(ids(&t, "a/b/c/d").is_empty(), "no descendants");
        assert!(
            ids(&t, "a//c").is_empty(),
            "a star needs a non-empty segment"
        );
    }

    #[test]
    fn replace_keeps_the_place_and_moves_the_pattern() {
        let mut t = Triggers::new();
        let first = t.add("x/*", Command::Noop).unwrap();
        let second = t.add("y", Command::Noop).unwrap();
        t.replace(&first, "y", Command::Get { key: "k".into() })
            .unwrap();
        assert!(t.matching("x/1").is_empty());
        let hits = t.matching("y");
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].0.id, first);
        assert_eq!(hits[0].0.command, Command::Get { key: "k".into() });
        assert_eq!(hits[1].0.id, second);
        assert_eq!(
            t.replace("nope", "y", Command::Noop),
            Err(TriggerError::NotFound)
        );
    }

    #[test]
    fn delete_removes_from_the_index() {
        let mut t = Triggers::new();
        let id = t.add("a/*", Command::Noop).unwrap();
        let other = t.add("a/*", Command::Noop).unwrap();
        assert_eq!(t.delete(&id).unwrap().key, "a/*");
        assert_eq!(t.delete(&id), Err(TriggerError::NotFound));
        assert_eq!(t.matching("a/1").len(), 1);
        t.delete(&other).unwrap();
        assert!(t.matching("a/1").is_empty());
        assert!(t.is_empty());
        assert!(t.index.literal.is_empty(), "empty branches are pruned");
    }

    #[test]
    fn ten_thousand_triggers_elsewhere_do_not_match() {
        let mut t = Triggers::new();
        let first = t
            .add("deployment/stages/*/countdown", Command::Noop)
            .unwrap();
        for i in 0..5_000 {
            t.add(&format!("users/{i}/email"), Command::Noop).unwrap();
            t.add(&format!("orders/*/items/{i}/qty"), Command::Noop)
                .unwrap();
        }
        let last = t.add("deployment/*/3/countdown", Command::Noop).unwrap();
        let hits = t.matching("deployment/stages/3/countdown");
        let found: Vec<(&str, &[String])> = hits
            .iter()
            .map(|(t, c)| (t.id.as_str(), c.as_slice()))
            .collect();
        assert_eq!(
            found,
            [
                (first.as_str(), &caps(&["3"])[..]),
                (last.as_str(), &caps(&["stages"])[..])
            ]
        );
        assert_eq!(t.matching("orders/o9/items/4999/qty").len(), 1);
        assert_eq!(t.matching("users/77/email").len(), 1);
        assert!(t.matching("users/77/name").is_empty());
        assert_eq!(t.len(), 10_002);
    }

    #[test]
    fn patterns_are_bounded() {
        let mut t = Triggers::new();
        let long = vec!["a"; MAX_PATTERN_SEGMENTS + 1].join("/");
        assert_eq!(
            t.add(&long, Command::Noop),
            Err(TriggerError::PatternTooLong)
        );
        let ok = vec!["*"; MAX_PATTERN_SEGMENTS].join("/");
        t.add(&ok, Command::Noop).unwrap();
        let path = vec!["x"; MAX_PATTERN_SEGMENTS].join("/");
        assert_eq!(t.matching(&path).len(), 1);
        assert!(t.matching(&vec!["x"; 100_000].join("/")).is_empty());
    }

    #[test]
    fn reads_trigger_requests() {
        let parse = |text: &str| {
            let mut bytes = text.as_bytes().to_vec();
            parse_trigger_request(&mapcache_store::json::parse(&mut bytes, 16).unwrap())
        };
        assert_eq!(
            parse(r#"{"key":"a/*","command":{"type":"NOOP"}}"#).unwrap(),
            TriggerRequest {
                id: String::new(),
                key: "a/*".into(),
                command: Command::Noop
            }
        );
        assert_eq!(
            parse(r#"{"id":"x","key":"k","command":{"type":"NOOP"}}"#)
                .unwrap()
                .id,
            "x"
        );
        assert!(matches!(
            parse(r#"{"key":"a"}"#),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse(r#"{"key":"a","command":{"type":"BAD"}}"#),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(
            parse(r#"{"key":1,"command":{"type":"NOOP"}}"#),
            Err(ParseError::Invalid { .. })
        ));
        assert!(matches!(parse("[]"), Err(ParseError::Invalid { .. })));
    }

    #[test]
    fn backup_shape_round_trips() {
        let mut t = Triggers::new();
        let a = t.add("s/*/n", Command::Noop).unwrap();
        let b = t.add("p", Command::Get { key: "p".into() }).unwrap();
        let c = t
            .add(
                "s/*/n",
                Command::Print {
                    messages: vec!["m".into()],
                },
            )
            .unwrap();
        let value = t.to_value();
        let mut json = Vec::new();
        mapcache_store::json::write(&value, &mut json);
        let expected = format!(
            r#"{{"s/*/n":[{{"id":"{a}","key":"s/*/n","command":{{"type":"NOOP"}}}},{{"id":"{c}","key":"s/*/n","command":{{"type":"PRINT","messages":["m"]}}}}],"p":[{{"id":"{b}","key":"p","command":{{"type":"GET","key":"p"}}}}]}}"#
        );
        assert_eq!(String::from_utf8(json).unwrap(), expected);
        let back = Triggers::from_value(&value).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(
            back.get(&b).unwrap().command,
            Command::Get { key: "p".into() }
        );
        assert_eq!(back.matching("s/1/n").len(), 2);
        assert!(Triggers::from_value(&Value::Null).unwrap().is_empty());
        assert!(matches!(
            Triggers::from_value(&Value::Bool(true)),
            Err(TriggerError::Invalid(_))
        ));
    }

    #[test]
    fn restoring_rejects_duplicate_ids_and_bad_commands() {
        let mut bytes = br#"{"a":[{"id":"1","key":"a","command":{"type":"NOOP"}},{"id":"1","key":"a","command":{"type":"NOOP"}}]}"#.to_vec();
        let dup = mapcache_store::json::parse(&mut bytes, 16).unwrap();
        assert_eq!(
            Triggers::from_value(&dup).unwrap_err(),
            TriggerError::DuplicateId("1".into())
        );
        let mut bytes = br#"{"a":[{"id":"1","key":"a","command":{"type":"NOPE"}}]}"#.to_vec();
        let bad = mapcache_store::json::parse(&mut bytes, 16).unwrap();
        assert!(matches!(
            Triggers::from_value(&bad),
            Err(TriggerError::Invalid(_))
        ));
    }
}
