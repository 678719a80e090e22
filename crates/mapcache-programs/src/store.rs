//! The store's side of [`Document`]: a [`Batch`] of the document engine is a document,
//! so a program (and the triggers it fires) runs inside one all-or-nothing batch
//! (`Db::batch_all` with the `/` separator): nothing interleaves with it, and when it
//! fails nothing it wrote remains.

use mapcache_store::db::Batch;
use mapcache_store::doc::DocError as StoreError;
use mapcache_store::Value;

use crate::document::{Document, Match};
use crate::error::DocError;

fn refused(path: &str, e: StoreError) -> DocError {
    match e {
        StoreError::Missing => DocError::NotFound(path.to_string()),
        other => DocError::Invalid {
            path: path.to_string(),
            reason: other.to_string(),
        },
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Document for Batch<'_> {
    fn get(&self, path: &str) -> Result<Option<Value>, DocError> {
        Batch::get(self, path.as_bytes()).map_err(|e| refused(path, e))
    }

    fn matches(&self, pattern: &str) -> Result<Vec<Match>, DocError> {
        let found = Batch::matches(self, pattern.as_bytes()).map_err(|e| refused(pattern, e))?;
        Ok(found
            .into_iter()
            // As Go's WildKeys: a null node is never matched (nor, having no children,
            // anything under it).
            .filter(|m| m.value != Value::Null)
            .map(|m| Match {
                path: text(&m.key),
                captures: m.captures.iter().map(|c| text(c)).collect(),
                value: m.value,
            })
            .collect())
    }

    fn replace(&mut self, path: &str, value: Value) -> Result<Value, DocError> {
        Batch::replace(self, path.as_bytes(), value).map_err(|e| refused(path, e))
    }

    fn delete(&mut self, path: &str) -> Result<Option<Value>, DocError> {
        Batch::delete(self, path.as_bytes()).map_err(|e| refused(path, e))
    }
}

#[cfg(test)]
mod tests {
    use mapcache_store::{Store, StoreConfig};

    use crate::{execute, parse_request, Limits, Triggers};

    fn json(text: &str) -> mapcache_store::Value {
        mapcache_store::json::parse(&mut text.as_bytes().to_vec(), 64).unwrap()
    }

    #[test]
    fn a_program_runs_in_one_batch_and_a_failure_keeps_nothing() {
        let store = Store::new(StoreConfig {
            databases: 1,
            shard_bits: 2,
        });
        let db = store.db(0).unwrap();
        let now = store.now();
        db.batch(b'/', &[&b"s"[..]], now, |b| {
            b.set(b"s", json(r#"{"1":{"n":2},"2":{"n":5}}"#))
        })
        .unwrap();
        let triggers = Triggers::new();
        let run = |body: &str| {
            let program = parse_request(&json(body)).unwrap();
            db.batch_all(b'/', now, |b| {
                execute(&program, b, &triggers, &Limits::default())
            })
        };
        let ok = run(
            r#"{"commands":[{"type":"FOR","loop_expr":"${{s/*/n}}","commands":[{"type":"INC","key":"s/${{1}}/n","value":-1}]}]}"#,
        );
        assert!(ok.is_ok(), "{ok:?}");
        let failed = run(
            r#"{"commands":[{"type":"INC","key":"s/1/n","value":10},{"type":"INC","key":"s/9/n","value":1}]}"#,
        );
        assert!(failed
            .unwrap_err()
            .message()
            .contains("key not found: s/9/n"));
        let doc = db.peek(b"s", now, |e| e.map(|e| e.value.clone()));
        assert_eq!(doc, Some(json(r#"{"1":{"n":1},"2":{"n":4}}"#)));
    }
}
