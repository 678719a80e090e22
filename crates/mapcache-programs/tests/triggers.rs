//! Triggers driven through `fire` and through programs: the canonical deployment
//! pipeline, cascades up to the depth limit, captures, and what does not fire.

mod support;

use mapcache_programs::{execute, fire, Document, Limits, MemoryDocument, Triggers};
use mapcache_store::Value;
use support::{at, command, run_with, text};

/// What a RESP `HINCRBY path -1` does to an existing counter: replace, then fire.
fn count_down(doc: &mut MemoryDocument, triggers: &Triggers, path: &str) -> Result<f64, String> {
    let Some(Value::Number(n)) = doc.get(path).unwrap() else {
        return Err(format!("{path} is not a number"));
    };
    doc.replace(path, Value::Number(n - 1.0)).unwrap();
    fire(path, doc, triggers, &Limits::default()).map_err(|e| e.message().to_string())?;
    Ok(n - 1.0)
}

/// The Go repository's hybrid countdown example, as data plus its two triggers.
fn pipeline() -> (MemoryDocument, Triggers) {
    let doc = MemoryDocument::from_json(
        r#"{"deployment":{
            "pipeline":{"name":"Production Deploy v2.5.0","total_stages":5,"status":"pending"},
            "stages":{
                "1":{"stage_number":1,"name":"build","countdown":3,"status":"pending"},
                "2":{"stage_number":2,"name":"test","countdown":4,"status":"pending"},
                "3":{"stage_number":3,"name":"staging","countdown":3,"status":"pending"},
                "4":{"stage_number":4,"name":"approval","countdown":2,"status":"pending"},
                "5":{"stage_number":5,"name":"production","countdown":5,"status":"pending"}}}}"#,
    )
    .unwrap();
    let mut triggers = Triggers::new();
    triggers.add(
        "deployment/stages/*/countdown",
        command(
            r#"{"type":"IF","condition":"${{deployment/stages/${{1}}/countdown}} == 0",
                "if_true":{"type":"COMMANDS","commands":[
                    {"type":"REPLACE","key":"deployment/stages/${{1}}/status","value":"complete"},
                    {"type":"PRINT","messages":["Stage ${{1}} (${{deployment/stages/${{1}}/name}}) completed"]}]},
                "if_false":{"type":"NOOP"}}"#,
        ),
    ).unwrap();
    triggers
        .add(
            "deployment/stages/*/status",
            command(
                r#"{"type":"IF","condition":"all(${{deployment/stages/*/status}} == \"complete\")",
                "if_true":{"type":"REPLACE","key":"deployment/pipeline/status","value":"complete"},
                "if_false":{"type":"NOOP"}}"#,
            ),
        )
        .unwrap();
    (doc, triggers)
}

#[test]
fn pipeline_completes_stage_by_stage_and_by_cascade() {
    let (mut doc, triggers) = pipeline();
    let countdowns = [3, 4, 3, 2, 5];
    for (i, start) in countdowns.iter().enumerate() {
        let stage = i + 1;
        let path = format!("deployment/stages/{stage}/countdown");
        for left in (0..*start).rev() {
            assert_eq!(
                at(&doc, &format!("deployment/stages/{stage}/status")),
                r#""pending""#
            );
            assert_eq!(count_down(&mut doc, &triggers, &path), Ok(f64::from(left)));
        }
        // Synchronous: the status is visible right after the write that reached 0.
        assert_eq!(
            at(&doc, &format!("deployment/stages/{stage}/status")),
            r#""complete""#
        );
        let expected = if stage == 5 { "complete" } else { "pending" };
        assert_eq!(
            at(&doc, "deployment/pipeline/status"),
            format!("\"{expected}\"")
        );
    }
}

#[test]
fn pipeline_driven_by_a_for_program() {
    let (mut doc, triggers) = pipeline();
    let program = r#"[{"type":"FOR","loop_expr":"${{deployment/stages/*/countdown}}","commands":[
        {"type":"IF","condition":"${{deployment/stages/${{1}}/countdown}} > 0",
         "if_true":{"type":"INC","key":"deployment/stages/${{1}}/countdown","value":-1},
         "if_false":{"type":"NOOP"}}]}]"#;
    for round in 1..=5 {
        run_with(&mut doc, &triggers, program).unwrap();
        let done = [3, 4, 3, 2, 5].iter().filter(|&&c| c <= round).count();
        let statuses = doc.matches("deployment/stages/*/status").unwrap();
        let complete = statuses
            .iter()
            .filter(|m| text(&m.value) == r#""complete""#)
            .count();
        assert_eq!(complete, done, "round {round}");
    }
    assert_eq!(at(&doc, "deployment/pipeline/status"), r#""complete""#);
    assert_eq!(
        text(&doc.get("deployment/stages/2/countdown").unwrap().unwrap()),
        "0"
    );
}

/// Keys k0..k11 set to 0, and a trigger on k{i} that replaces k{i+1} for each i < n.
fn chain(n: usize) -> (MemoryDocument, Triggers) {
    let fields: Vec<String> = (0..=11).map(|i| format!("\"k{i}\":0")).collect();
    let doc = MemoryDocument::from_json(&format!("{{{}}}", fields.join(","))).unwrap();
    let mut triggers = Triggers::new();
    for i in 0..n {
        triggers
            .add(
                &format!("k{i}"),
                command(&format!(
                    r#"{{"type":"REPLACE","key":"k{}","value":1}}"#,
                    i + 1
                )),
            )
            .unwrap();
    }
    (doc, triggers)
}

#[test]
fn cascades_of_ten_levels_succeed() {
    let (mut doc, triggers) = chain(10);
    doc.replace("k0", Value::Number(1.0)).unwrap();
    fire("k0", &mut doc, &triggers, &Limits::default()).unwrap();
    assert_eq!(at(&doc, "k10"), "1", "ten nested writes happened");
    assert_eq!(at(&doc, "k11"), "0");
}

#[test]
fn the_eleventh_nested_write_fails() {
    let (mut doc, triggers) = chain(11);
    let err = fire("k0", &mut doc, &triggers, &Limits::default()).unwrap_err();
    assert!(
        err.message()
            .ends_with(
                "on k10 (REPLACE): trigger recursion depth limit exceeded (max: 10) - possible infinite loop detected"
            ),
        "{err}"
    );
    assert_eq!(err.message().matches("trigger ").count(), 12, "{err}");
    // Through a program the same: the first write is the program's own.
    let (mut doc, triggers) = chain(11);
    let answer = run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"k0","value":1}]"#,
    );
    assert!(answer
        .unwrap_err()
        .contains("trigger recursion depth limit exceeded (max: 10)"),);
}

#[test]
fn a_self_triggering_loop_is_stopped() {
    let mut doc = MemoryDocument::from_json(r#"{"c":0}"#).unwrap();
    let mut triggers = Triggers::new();
    triggers
        .add("c", command(r#"{"type":"INC","key":"c","value":1}"#))
        .unwrap();
    let answer = run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"INC","key":"c","value":1}]"#,
    );
    assert!(answer
        .unwrap_err()
        .contains("trigger recursion depth limit exceeded"));
    assert_eq!(at(&doc, "c"), "0", "the batch is discarded");
    // Outside a batch every write stays: 1 + 11 nested writes before the refusal.
    let failed = execute(
        &support::program(r#"[{"type":"INC","key":"c","value":1}]"#),
        &mut doc,
        &triggers,
        &Limits::default(),
    );
    assert!(failed.is_err());
    assert_eq!(at(&doc, "c"), "12");
}

#[test]
fn captures_reach_replace_keys_print_messages_and_conditions() {
    let mut doc = MemoryDocument::from_json(
        r#"{"orders":{"o1":{"paid":false,"state":"new"},"o2":{"paid":false,"state":"new"}}}"#,
    )
    .unwrap();
    let mut triggers = Triggers::new();
    triggers
        .add(
            "orders/*/paid",
            command(
                r#"{"type":"IF","condition":"${{orders/${{1}}/paid}} == true",
                "if_true":{"type":"COMMANDS","commands":[
                    {"type":"REPLACE","key":"orders/${{1}}/state","value":"paid"},
                    {"type":"PRINT","messages":["order ${{1}} is ${{orders/${{1}}/state}}"]}]},
                "if_false":{"type":"NOOP"}}"#,
            ),
        )
        .unwrap();
    let answer = run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"orders/o2/paid","value":true}]"#,
    );
    assert_eq!(answer.unwrap(), "[true]");
    assert_eq!(at(&doc, "orders/o2/state"), r#""paid""#);
    assert_eq!(at(&doc, "orders/o1/state"), r#""new""#);
}

#[test]
fn triggers_fire_on_equal_values_but_not_on_deletes() {
    let mut doc = MemoryDocument::from_json(r#"{"v":1,"hits":0}"#).unwrap();
    let mut triggers = Triggers::new();
    triggers
        .add("v", command(r#"{"type":"INC","key":"hits","value":1}"#))
        .unwrap();
    run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"v","value":1}]"#,
    )
    .unwrap();
    assert_eq!(at(&doc, "hits"), "1", "an equal value still fires");
    run_with(&mut doc, &triggers, r#"[{"type":"DELETE","key":"v"}]"#).unwrap();
    assert_eq!(at(&doc, "hits"), "1", "deletes fire nothing");
}

#[test]
fn wildcard_triggers_skip_null_values_as_go_does() {
    let mut doc = MemoryDocument::from_json(r#"{"s":{"a":1},"hits":0}"#).unwrap();
    let mut triggers = Triggers::new();
    triggers
        .add("s/*", command(r#"{"type":"INC","key":"hits","value":1}"#))
        .unwrap();
    triggers
        .add("s/a", command(r#"{"type":"INC","key":"hits","value":10}"#))
        .unwrap();
    run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"s/a","value":null}]"#,
    )
    .unwrap();
    assert_eq!(at(&doc, "hits"), "10", "only the exact pattern fired");
    run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"s/a","value":2}]"#,
    )
    .unwrap();
    assert_eq!(at(&doc, "hits"), "21");
}

#[test]
fn a_failing_trigger_fails_the_write() {
    let mut doc = MemoryDocument::from_json(r#"{"v":1}"#).unwrap();
    let mut triggers = Triggers::new();
    let id = triggers
        .add("v", command(r#"{"type":"GET","key":"missing"}"#))
        .unwrap();
    let answer = run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"INC","key":"v","value":1}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        format!("command 1 (INC): trigger {id} on v (GET): key not found: missing")
    );
    let err = fire("v", &mut doc, &triggers, &Limits::default()).unwrap_err();
    assert_eq!(
        err.message(),
        format!("trigger {id} on v (GET): key not found: missing")
    );
}

#[test]
fn triggers_run_in_creation_order() {
    let mut doc = MemoryDocument::from_json(r#"{"x":{"y":0},"log":""}"#).unwrap();
    let mut triggers = Triggers::new();
    triggers.add("x/*", command(r#"{"type":"IF","condition":"true","if_true":{"type":"REPLACE","key":"log","value":"first"},"if_false":{"type":"NOOP"}}"#)).unwrap();
    triggers.add("x/y", command(r#"{"type":"IF","condition":"${{log}} == 'first'","if_true":{"type":"REPLACE","key":"log","value":"second"},"if_false":{"type":"NOOP"}}"#)).unwrap();
    fire("x/y", &mut doc, &triggers, &Limits::default()).unwrap();
    assert_eq!(at(&doc, "log"), r#""second""#);
}

#[test]
fn trigger_work_counts_against_the_step_budget() {
    let (mut doc, triggers) = chain(10);
    let limits = Limits {
        max_steps: 5,
        deadline: None,
    };
    let err = fire("k0", &mut doc, &triggers, &limits).unwrap_err();
    assert_eq!(err.kind(), mapcache_programs::ExecErrorKind::StepLimit);
}

#[test]
fn for_captures_shadow_trigger_captures_and_inc_keys_see_trigger_captures() {
    // Trigger on a/* (its ${{1}} is the written field). Inside the FOR, ${{1}} is the
    // FOR's own match (substituted first, as in Go); the INC outside the FOR sees the
    // trigger's capture (Go substitutes only REPLACE keys, PRINT messages and IF
    // conditions; mapcache every key).
    let mut doc =
        MemoryDocument::from_json(r#"{"a":{"x":0},"b":{"p":0,"q":0},"counts":{"x":0}}"#).unwrap();
    let mut triggers = Triggers::new();
    triggers
        .add(
            "a/*",
            command(
                r#"{"type":"COMMANDS","commands":[
                    {"type":"FOR","loop_expr":"${{b/*}}","commands":[{"type":"INC","key":"b/${{1}}","value":1}]},
                    {"type":"INC","key":"counts/${{1}}","value":1}]}"#,
            ),
        )
        .unwrap();
    run_with(
        &mut doc,
        &triggers,
        r#"[{"type":"REPLACE","key":"a/x","value":1}]"#,
    )
    .unwrap();
    assert_eq!(at(&doc, "b"), r#"{"p":1,"q":1}"#);
    assert_eq!(at(&doc, "counts/x"), "1");
}

#[test]
fn captures_inside_quoted_strings_in_conditions() {
    // Go's shopping-cart scenario: one trigger for every product, told apart by
    // comparing the capture as a string literal.
    let mut doc = MemoryDocument::from_json(
        r#"{"cart":{"u":{"total":0,"items":{"prod_1":false,"prod_2":false,"prod_3":false}}}}"#,
    )
    .unwrap();
    let mut triggers = Triggers::new();
    let price = |product: &str, amount: f64| {
        format!(
            r#"{{"type":"IF","condition":"\"${{{{1}}}}\" == \"{product}\"","if_true":{{"type":"INC","key":"cart/u/total","value":{amount}}},"if_false":{{"type":"NOOP"}}}}"#
        )
    };
    let body = format!(
        r#"{{"type":"COMMANDS","commands":[{},{},{}]}}"#,
        price("prod_1", 25.0),
        price("prod_2", 15.0),
        price("prod_3", 10.0)
    );
    triggers.add("cart/u/items/*", command(&body)).unwrap();
    for (product, total) in [("prod_1", "25"), ("prod_2", "40"), ("prod_3", "50")] {
        let path = format!("cart/u/items/{product}");
        doc.replace(&path, Value::Bool(true)).unwrap();
        fire(&path, &mut doc, &triggers, &Limits::default()).unwrap();
        assert_eq!(at(&doc, "cart/u/total"), total);
    }
}
