//! Properties over generated input: the trigger index agrees with a plain
//! segment-by-segment matcher, Go-style number text round-trips, and no condition,
//! template or message text makes the evaluator panic.

use mapcache_programs::condition::evaluate;
use mapcache_programs::gofmt::write_float;
use mapcache_programs::interpolate::{interpolate, print_message};
use mapcache_programs::{Command, MemoryDocument, Triggers};
use proptest::prelude::*;

fn segments(alphabet: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(alphabet), 1..5).prop_map(|s| s.join("/"))
}

/// The reference: equal segment counts, `*` matches any non-empty segment.
fn reference(pattern: &str, path: &str) -> Option<Vec<String>> {
    let p: Vec<&str> = pattern.split('/').collect();
    let k: Vec<&str> = path.split('/').collect();
    if p.len() != k.len() {
        return None;
    }
    let mut captures = Vec::new();
    for (p, k) in p.iter().zip(&k) {
        if *p == "*" && !k.is_empty() {
            captures.push(k.to_string());
        } else if p != k {
            return None;
        }
    }
    Some(captures)
}

fn doc() -> MemoryDocument {
    MemoryDocument::from_json(r#"{"n":5,"s":"x","l":[1,{"a":null}],"o":{"k":true}}"#)
        .expect("test document")
}

proptest! {
    #[test]
    fn index_agrees_with_the_reference(
        patterns in prop::collection::vec(segments(&["a", "b", "*", ""]), 0..40),
        path in segments(&["a", "b", "c", ""]),
    ) {
        let mut triggers = Triggers::new();
        let mut ids = Vec::new();
        for p in &patterns {
            ids.push(triggers.add(p, Command::Noop).expect("short pattern"));
        }
        let expected: Vec<(String, Vec<String>)> = patterns
            .iter()
            .zip(&ids)
            .filter_map(|(p, id)| reference(p, &path).map(|c| (id.clone(), c)))
            .collect();
        let found: Vec<(String, Vec<String>)> = triggers
            .matching(&path)
            .into_iter()
            .map(|(t, c)| (t.id.clone(), c))
            .collect();
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn deleting_keeps_the_index_consistent(
        patterns in prop::collection::vec(segments(&["a", "*"]), 1..20),
        remove in prop::collection::vec(any::<bool>(), 20),
        path in segments(&["a", "b"]),
    ) {
        let mut triggers = Triggers::new();
        let mut kept = Vec::new();
        for (p, gone) in patterns.iter().zip(&remove) {
            let id = triggers.add(p, Command::Noop).expect("short pattern");
            if *gone {
                triggers.delete(&id).expect("just added");
            } else {
                kept.push((id, p));
            }
        }
        let expected: Vec<String> = kept
            .iter()
            .filter(|(_, p)| reference(p, &path).is_some())
            .map(|(id, _)| id.clone())
            .collect();
        let found: Vec<String> = triggers.matching(&path).into_iter().map(|(t, _)| t.id.clone()).collect();
        prop_assert_eq!(found, expected);
    }

    #[test]
    fn go_float_text_round_trips(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        let mut text = String::new();
        write_float(f, &mut text);
        let back: f64 = text.parse().expect("Go's float text parses");
        prop_assert_eq!(back.to_bits(), f.to_bits(), "{}", text);
        let exp = if f == 0.0 { 0 } else { f.abs().log10().floor() as i32 };
        if (-3..5).contains(&exp) {
            prop_assert!(!text.contains('e'), "{}", text);
        }
        if !(-5..7).contains(&exp) {
            prop_assert!(text.contains('e'), "{}", text);
        }
    }

    #[test]
    fn conditions_never_panic(s in r#"[ -~]{0,40}"#) {
        let _ = evaluate(&s, &doc());
    }

    #[test]
    fn condition_shaped_text_never_panics(
        parts in prop::collection::vec(prop::sample::select(&[
            "${{n}}", "${{s}}", "${{l/*}}", "any(", "all(", "${{", "}}", "(", ")", "==", "!=",
            "<", ">=", "&&", "||", "!", "-", "+", "*", "**", "/", "%", "?", ":", "??", "'x'",
            "\"", "1", "0.5", "true", "false", "nil", " ", "~", "<<", "&",
        ][..]), 0..20),
    ) {
        let _ = evaluate(&parts.concat(), &doc());
    }

    #[test]
    fn templates_never_panic(s in r#"[ -~]{0,40}"#, wrap in any::<bool>()) {
        let text = if wrap { format!("${{{{{s}}}}}") } else { s };
        let _ = interpolate(&text, &doc());
        let _ = print_message(&text, &doc());
    }
}
