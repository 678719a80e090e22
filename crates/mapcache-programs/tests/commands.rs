//! Each command type through `execute` on a `MemoryDocument` (a store of its own, each
//! program one batch as on the server): answers, effects and errors (with the failing
//! command's position).

mod support;

use std::time::{Duration, Instant};

use mapcache_programs::{execute, ExecErrorKind, Limits, MemoryDocument, Triggers};
use support::{at, program, run};

const DOC: &str = r#"{"a":{"b":1,"s":"x","z":null},"n":5,"list":[1,2,3],"users":{"u1":{"name":"Ann","age":30},"u2":{"name":"Bob","age":25}}}"#;

#[test]
fn inc_adds_and_stores_a_number() {
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"INC","key":"a/b","value":2.5},{"type":"INC","key":"n","value":-5}]"#,
    );
    assert_eq!(answer.unwrap(), "[3.5,0]");
    assert_eq!(at(&doc, "a/b"), "3.5");
    assert_eq!(at(&doc, "n"), "0");
    let (answer, _) = run(DOC, r#"[{"type":"INC","key":"list/1","value":1}]"#);
    assert_eq!(answer.unwrap(), "[3]");
}

#[test]
fn inc_errors() {
    let (answer, _) = run(
        DOC,
        r#"[{"type":"NOOP"},{"type":"INC","key":"a/c","value":1}]"#,
    );
    assert_eq!(answer.unwrap_err(), "command 2 (INC): key not found: a/c");
    let (answer, _) = run(DOC, r#"[{"type":"INC","key":"a/s","value":1}]"#);
    assert_eq!(answer.unwrap_err(), "command 1 (INC): not a number");
    let (answer, _) = run(DOC, r#"[{"type":"INC","key":"a/z","value":1}]"#);
    assert_eq!(answer.unwrap_err(), "command 1 (INC): not a number");
}

#[test]
fn replace_stores_the_value_as_given() {
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"REPLACE","key":"a/b","value":{"deep":["${{n}}"]}},{"type":"REPLACE","key":"a/z","value":7}]"#,
    );
    assert_eq!(answer.unwrap(), r#"[{"deep":["${{n}}"]},7]"#);
    assert_eq!(at(&doc, "a/b"), r#"{"deep":["${{n}}"]}"#);
    assert_eq!(at(&doc, "a/z"), "7", "a stored null exists");
}

#[test]
fn replace_needs_an_existing_key() {
    let (answer, doc) = run(DOC, r#"[{"type":"REPLACE","key":"a/new","value":1}]"#);
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (REPLACE): key not found: a/new"
    );
    assert_eq!(at(&doc, "a/new"), "missing");
}

#[test]
fn delete_answers_old_values_and_never_fails_on_missing_keys() {
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"DELETE","key":"a/b"},{"type":"DELETE","key":"a/b"},{"type":"DELETE","key":"list/0"}]"#,
    );
    assert_eq!(answer.unwrap(), "[1,null,1]");
    assert_eq!(at(&doc, "a"), r#"{"s":"x","z":null}"#);
    assert_eq!(at(&doc, "list"), "[2,3]");
}

#[test]
fn delete_with_a_wildcard_removes_every_match() {
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"DELETE","key":"users/*/age"},{"type":"DELETE","key":"list/*"},{"type":"DELETE","key":"none/*"}]"#,
    );
    assert_eq!(answer.unwrap(), "[[30,25],[1,2,3],[]]");
    assert_eq!(
        at(&doc, "users"),
        r#"{"u1":{"name":"Ann"},"u2":{"name":"Bob"}}"#
    );
    // A top-level array left empty goes, as the store keeps no empty hash or list at
    // the top level.
    assert_eq!(at(&doc, "list"), "missing");
}

#[test]
fn get_answers_values_and_wildcard_objects() {
    let (answer, _) = run(
        DOC,
        r#"[{"type":"GET","key":"a"},{"type":"GET","key":"list/2"},{"type":"GET","key":"users/*/name"},{"type":"GET","key":"none/*"}]"#,
    );
    assert_eq!(
        answer.unwrap(),
        r#"[{"b":1,"s":"x","z":null},3,{"users/u1/name":"Ann","users/u2/name":"Bob"},{}]"#
    );
    let (answer, _) = run(DOC, r#"[{"type":"GET","key":"a/missing"}]"#);
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (GET): key not found: a/missing"
    );
}

#[test]
fn return_interpolates_strings_only() {
    let (answer, _) = run(
        DOC,
        r#"[{"type":"RETURN","key":5},{"type":"RETURN","key":{"k":"${{n}}"}},{"type":"RETURN","key":"${{n}}"},{"type":"RETURN","key":"n is ${{n}}"},{"type":"RETURN","key":"${{users/*/age}}"},{"type":"RETURN","key":"${{nope || 'dflt'}}"},{"type":"RETURN"}]"#,
    );
    assert_eq!(
        answer.unwrap(),
        r#"[5,{"k":"${{n}}"},5,"n is 5",[30,25],"dflt",null]"#
    );
    let (answer, _) = run(DOC, r#"[{"type":"RETURN","key":"${{nope}}"}]"#);
    assert_eq!(
        answer.unwrap_err(),
        r#"command 1 (RETURN): interpolation error for key "nope": key not found: nope"#
    );
}

#[test]
fn print_answers_the_texts() {
    let (answer, _) = run(
        DOC,
        r#"[{"type":"PRINT","messages":["n=${{n}}","${{a}}","${{list}}"]},{"type":"PRINT","messages":[]}]"#,
    );
    assert_eq!(
        answer.unwrap(),
        r#"[["n=5","map[b:1 s:x z:<nil>]","[1 2 3]"],null]"#
    );
    let (answer, _) = run(DOC, r#"[{"type":"PRINT","messages":["ok","${{gone}}"]}]"#);
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (PRINT): key not found: gone"
    );
}

#[test]
fn noop_answers_null() {
    let (answer, _) = run(DOC, r#"[{"type":"NOOP"},{"type":"NOOP","ignored":1}]"#);
    assert_eq!(answer.unwrap(), "[null,null]");
}

#[test]
fn commands_run_in_order_and_stop_at_the_first_error() {
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"COMMANDS","commands":[{"type":"INC","key":"n","value":1},{"type":"GET","key":"n"},{"type":"COMMANDS"}]}]"#,
    );
    assert_eq!(answer.unwrap(), "[[6,6,null]]");
    assert_eq!(at(&doc, "n"), "6");
    let (answer, doc) = run(
        DOC,
        r#"[{"type":"COMMANDS","commands":[{"type":"INC","key":"n","value":1},{"type":"GET","key":"x"},{"type":"INC","key":"n","value":1}]}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (COMMANDS): command 2 (GET): key not found: x"
    );
    // The program ran as one batch: nothing of it remains.
    assert_eq!(at(&doc, "n"), "5");
    // Outside a batch every write stays: the interpreter stopped after the error.
    let mut doc = MemoryDocument::from_json(DOC).unwrap();
    let failed = execute(
        &program(
            r#"[{"type":"COMMANDS","commands":[{"type":"INC","key":"n","value":1},{"type":"GET","key":"x"},{"type":"INC","key":"n","value":1}]}]"#,
        ),
        &mut doc,
        &Triggers::new(),
        &Limits::default(),
    );
    assert!(failed.is_err());
    assert_eq!(at(&doc, "n"), "6");
}

#[test]
fn if_runs_the_chosen_branch() {
    let program = |condition: &str| {
        format!(
            r#"[{{"type":"IF","condition":"{condition}","if_true":{{"type":"RETURN","key":"yes"}},"if_false":{{"type":"INC","key":"n","value":1}}}}]"#
        )
    };
    assert_eq!(run(DOC, &program("${{n}} > 3")).0.unwrap(), r#"["yes"]"#);
    assert_eq!(run(DOC, &program("${{n}} < 3")).0.unwrap(), "[6]");
    assert_eq!(
        run(DOC, &program("${{a/s}} < 3")).0.unwrap_err(),
        "command 1 (IF): evaluation error: Value 'x' cannot be used with the comparator '<', it is not a number"
    );
    assert_eq!(
        run(DOC, &program("this is not valid")).0.unwrap_err(),
        "command 1 (IF): invalid expression: unexpected name 'is'"
    );
    assert_eq!(
        run(DOC, &program("${{n}}")).0.unwrap_err(),
        "command 1 (IF): expression did not return a boolean"
    );
    let (answer, _) = run(
        DOC,
        r#"[{"type":"IF","condition":"true","if_true":{"type":"GET","key":"x"},"if_false":{"type":"NOOP"}}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (IF): if_true (GET): key not found: x"
    );
}

#[test]
fn for_runs_each_command_per_match_with_captures() {
    // Go's TestFOR_IteratesAndRunsCommands.
    let doc = r#"{"job-1234":{"domains":{"apple":{"countdown":1,"status":"busy"},"banana":{"countdown":0,"status":"busy"}}}}"#;
    let (answer, doc) = run(
        doc,
        r#"[{"type":"FOR","loop_expr":"${{job-1234/domains/*/countdown}}","commands":[
            {"type":"IF","condition":"${{job-1234/domains/${{1}}/countdown}} == 0",
             "if_true":{"type":"REPLACE","key":"job-1234/domains/${{1}}/status","value":"complete"},
             "if_false":{"type":"INC","key":"job-1234/domains/${{1}}/countdown","value":-1}},
            {"type":"RETURN","key":"${{1}}"}]}]"#,
    );
    assert_eq!(
        answer.unwrap(),
        r#"[[{"Error":null,"Value":0},{"Error":null,"Value":"apple"},{"Error":null,"Value":"complete"},{"Error":null,"Value":"banana"}]]"#
    );
    assert_eq!(at(&doc, "job-1234/domains/apple/countdown"), "0");
    assert_eq!(at(&doc, "job-1234/domains/apple/status"), r#""busy""#);
    assert_eq!(at(&doc, "job-1234/domains/banana/status"), r#""complete""#);
}

#[test]
fn for_errors_and_empty_loops() {
    let (answer, _) = run(
        DOC,
        r#"[{"type":"FOR","loop_expr":"no placeholder","commands":[]}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (FOR): invalid FOR expression: no placeholder"
    );
    let (answer, _) = run(
        DOC,
        r#"[{"type":"FOR","loop_expr":"${{a/b}}","commands":[]}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (FOR): FOR expression must include a wildcard: a/b"
    );
    let (answer, _) = run(
        DOC,
        r#"[{"type":"FOR","loop_expr":"${{none/*}}","commands":[{"type":"NOOP"}]}]"#,
    );
    assert_eq!(answer.unwrap(), "[null]");
    let (answer, _) = run(
        DOC,
        r#"[{"type":"FOR","loop_expr":"${{users/*/age}}","commands":[{"type":"INC","key":"users/${{1}}/name","value":1}]}]"#,
    );
    assert_eq!(
        answer.unwrap_err(),
        "command 1 (FOR): match users/u1/age, command 1 (INC): not a number"
    );
}

#[test]
fn for_nested_in_for_sees_the_outer_captures() {
    // For each job, count its steps: the inner loop's commands see the outer capture
    // already substituted as ${{1}} (Go's transformCommand runs outside in).
    let doc =
        r#"{"jobs":{"j1":{"count":0,"steps":{"a":1,"b":1}},"j2":{"count":0,"steps":{"c":1}}}}"#;
    let (answer, doc) = run(
        doc,
        r#"[{"type":"FOR","loop_expr":"${{jobs/*/count}}","commands":[
            {"type":"FOR","loop_expr":"${{jobs/${{1}}/steps/*}}","commands":[
                {"type":"INC","key":"jobs/${{1}}/count","value":1}]}]}]"#,
    );
    assert_eq!(
        answer.unwrap(),
        r#"[[{"Error":null,"Value":[{"Error":null,"Value":1},{"Error":null,"Value":2}]},{"Error":null,"Value":[{"Error":null,"Value":1}]}]]"#
    );
    assert_eq!(at(&doc, "jobs/j1/count"), "2");
    assert_eq!(at(&doc, "jobs/j2/count"), "1");
    // The inner loop's second star is its ${{2}}.
    let doc = r#"{"m":{"x":{"p":1,"q":2},"y":{"r":3}}}"#;
    let (answer, _) = run(
        doc,
        r#"[{"type":"FOR","loop_expr":"${{m/*}}","commands":[
            {"type":"FOR","loop_expr":"${{m/*/*}}","commands":[{"type":"RETURN","key":"${{1}}:${{2}}"}]}]}]"#,
    );
    let answer = answer.unwrap();
    assert!(answer.contains(r#""Value":"x:p""#), "{answer}");
    assert!(answer.contains(r#""Value":"y:r""#), "{answer}");
}

#[test]
fn the_step_budget_stops_a_runaway_program() {
    let mut doc = MemoryDocument::from_json(r#"{"l":[0,0,0,0,0,0,0,0,0,0]}"#).unwrap();
    let loop_program = program(
        r#"[{"type":"FOR","loop_expr":"${{l/*}}","commands":[{"type":"INC","key":"l/${{1}}","value":1}]}]"#,
    );
    let limits = Limits {
        max_steps: 5,
        deadline: None,
    };
    let err = execute(&loop_program, &mut doc, &Triggers::new(), &limits).unwrap_err();
    assert_eq!(err.kind(), ExecErrorKind::StepLimit);
    assert!(err.message().contains("step limit exceeded"), "{err}");
    // 1 FOR + 10 INC = 11 steps.
    let limits = Limits {
        max_steps: 11,
        deadline: None,
    };
    execute(&loop_program, &mut doc, &Triggers::new(), &limits).unwrap();
}

#[test]
fn a_passed_deadline_stops_the_program() {
    let mut doc = MemoryDocument::new();
    let limits = Limits {
        max_steps: u64::MAX,
        deadline: Some(Instant::now() - Duration::from_millis(1)),
    };
    let err = execute(
        &program(r#"[{"type":"NOOP"}]"#),
        &mut doc,
        &Triggers::new(),
        &limits,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ExecErrorKind::Deadline);
    assert_eq!(err.message(), "command 1 (NOOP): deadline exceeded");
}

#[test]
fn ordinary_failures_are_kind_failed() {
    let mut doc = MemoryDocument::new();
    let err = execute(
        &program(r#"[{"type":"GET","key":"x"}]"#),
        &mut doc,
        &Triggers::new(),
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), ExecErrorKind::Failed);
}
