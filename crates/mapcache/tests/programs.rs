//! Command programs and triggers over HTTP, against the real binary in path key mode:
//! the Go map-cache's deployment pipeline counted down by a FOR program, triggers
//! completing the stages and, by cascade, the pipeline; a failing program or trigger
//! writes nothing; the trigger endpoints.

#[path = "support/http.rs"]
mod http;
mod support;

use http::Http;
use support::{resp_pipeline, Server};

fn cmd(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

const STAGE_TRIGGER: &str = r#"{"key":"deployment/stages/*/countdown","command":{"type":"IF","condition":"${{deployment/stages/${{1}}/countdown}} == 0","if_true":{"type":"REPLACE","key":"deployment/stages/${{1}}/status","value":"complete"},"if_false":{"type":"NOOP"}}}"#;
const PIPELINE_TRIGGER: &str = r#"{"key":"deployment/stages/*/status","command":{"type":"IF","condition":"all(${{deployment/stages/*/status}} == \"complete\")","if_true":{"type":"REPLACE","key":"deployment/pipeline/status","value":"complete"},"if_false":{"type":"NOOP"}}}"#;
const COUNT_DOWN: &str = r#"{"commands":[{"type":"FOR","loop_expr":"${{deployment/stages/*/countdown}}","commands":[{"type":"IF","condition":"${{deployment/stages/${{1}}/countdown}} > 0","if_true":{"type":"INC","key":"deployment/stages/${{1}}/countdown","value":-1},"if_false":{"type":"NOOP"}}]}]}"#;

#[test]
fn the_deployment_pipeline_completes_by_cascade() {
    let server = Server::start(&["--key-mode", "path"]);
    let h = Http::new(server.http);
    let mut c = server.connect();
    // The data over RESP, as the Go repository's hybrid example writes it.
    let mut setup = vec![cmd(&["HSET", "deployment:pipeline", "status", "pending"])];
    for (n, count) in [(1, "1"), (2, "2"), (3, "3")] {
        let key = format!("deployment:stages:{n}");
        setup.push(cmd(&[
            "HSET",
            &key,
            "name",
            "stage",
            "countdown",
            "0",
            "status",
            "pending",
        ]));
        // A counter written by INCRBY is a number, as the trigger's `== 0` needs.
        setup.push(cmd(&["HDEL", &key, "countdown"]));
        setup.push(cmd(&["INCRBY", &format!("{key}:countdown"), count]));
    }
    let replies = resp_pipeline(&mut c, &setup);
    assert!(replies.iter().all(|r| !r.starts_with('-')), "{replies:?}");
    // The two triggers over HTTP: ids are JSON strings.
    for body in [STAGE_TRIGGER, PIPELINE_TRIGGER] {
        let r = h.post("/api/v1/triggers", body);
        assert_eq!(r.status, 200, "{}", r.text());
        assert!(
            r.text().starts_with('"') && r.text().len() > 30,
            "{}",
            r.text()
        );
    }
    let listed = h.get("/api/v1/triggers");
    assert_eq!(listed.status, 200);
    assert_eq!(
        listed.text().matches("\"id\"").count(),
        2,
        "{}",
        listed.text()
    );
    // First round: stage 1 reaches 0 and completes; the pipeline is still pending.
    h.post("/api/v1/commands/execute", COUNT_DOWN).is(
        200,
        r#"[[{"Error":null,"Value":0},{"Error":null,"Value":1},{"Error":null,"Value":2}]]"#,
    );
    h.get("/api/v1/keys/deployment/stages/1/status")
        .is(200, r#""complete""#);
    h.get("/api/v1/keys/deployment/stages/2/status")
        .is(200, r#""pending""#);
    h.get("/api/v1/keys/deployment/pipeline/status")
        .is(200, r#""pending""#);
    // Two more rounds: every stage completes, and the pipeline by cascade.
    for _ in 0..2 {
        let r = h.post("/api/v1/commands/execute", COUNT_DOWN);
        assert_eq!(r.status, 200, "{}", r.text());
    }
    h.get("/api/v1/keys/deployment/pipeline/status")
        .is(200, r#""complete""#);
    let r = resp_pipeline(
        &mut c,
        &[
            cmd(&["HGET", "deployment:stages:3", "status"]),
            cmd(&["GET", "deployment:stages:3:countdown"]),
            cmd(&["HGET", "deployment:pipeline", "status"]),
        ],
    );
    assert_eq!(r, ["complete", "0", "complete"]);
}

#[test]
fn a_failing_program_or_trigger_writes_nothing() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    h.post("/api/v1/keys", r#"{"entries":{"acct":{"a":1,"b":"x"}}}"#)
        .is(201, "");
    // The second command fails: the first one's INC does not remain.
    h.post(
        "/api/v1/commands/execute",
        r#"{"commands":[{"type":"INC","key":"acct/a","value":5},{"type":"INC","key":"acct/b","value":1}]}"#,
    )
    .is_error(500, "command 2 (INC)");
    h.get("/api/v1/keys/acct/a").is(200, "1");
    // Malformed programs are 400.
    h.post(
        "/api/v1/commands/execute",
        r#"{"commands":[{"type":"NOPE"}]}"#,
    )
    .is_error(400, "invalid json payload");
    h.post("/api/v1/commands/execute", r#"{"commands":[]}"#)
        .is_error(400, "validation failed");
    // A trigger that fails undoes the write that fired it.
    let id = h.post(
        "/api/v1/triggers",
        r#"{"key":"acct/a","command":{"type":"INC","key":"acct/missing","value":1}}"#,
    );
    assert_eq!(id.status, 200, "{}", id.text());
    h.put("/api/v1/keys/acct/a", r#"{"value":7}"#)
        .is_error(500, "key not found: acct/missing");
    h.get("/api/v1/keys/acct/a").is(200, "1");
    // The trigger endpoints: PUT with another id is 400, unknown ids 404, DELETE removes.
    let id = id.text().trim_matches('"').to_string();
    h.put(
        &format!("/api/v1/triggers/{id}"),
        r#"{"id":"other","key":"acct/a","command":{"type":"NOOP"}}"#,
    )
    .is_error(400, "payload id must match request id");
    h.put(
        "/api/v1/triggers/nope",
        r#"{"id":"nope","key":"acct/a","command":{"type":"NOOP"}}"#,
    )
    .is_error(404, "trigger not found");
    h.put(
        &format!("/api/v1/triggers/{id}"),
        &format!(r#"{{"id":"{id}","key":"acct/a","command":{{"type":"NOOP"}}}}"#),
    )
    .is(204, "");
    h.put("/api/v1/keys/acct/a", r#"{"value":7}"#).is(200, "");
    h.delete(&format!("/api/v1/triggers/{id}")).is(200, "");
    h.delete(&format!("/api/v1/triggers/{id}"))
        .is_error(404, "trigger not found");
    h.get("/api/v1/triggers").is(200, "[]");
}

#[test]
fn cascades_go_ten_levels_deep_and_the_eleventh_fails_without_effect() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    // l/0 .. l/11: replacing l/i replaces l/(i+1), a chain of triggers.
    let zeros = ["0"; 12].join(",");
    h.post(
        "/api/v1/keys",
        &format!(r#"{{"entries":{{"l":[{zeros}]}}}}"#),
    )
    .is(201, "");
    let chain = |last: usize| {
        for i in 0..last {
            let body = format!(
                r#"{{"key":"l/{i}","command":{{"type":"REPLACE","key":"l/{}","value":1}}}}"#,
                i + 1
            );
            assert_eq!(h.post("/api/v1/triggers", &body).status, 200);
        }
    };
    // Ten nested writes (l/1 .. l/10) succeed.
    chain(10);
    h.put("/api/v1/keys/l/0", r#"{"value":1}"#).is(200, "");
    h.get("/api/v1/keys/l/10").is(200, "1");
    h.get("/api/v1/keys/l/11").is(200, "0");
    // An eleventh level fails, and the whole write with it.
    h.put(
        "/api/v1/keys",
        &format!(r#"{{"entries":{{"l":[{zeros}]}}}}"#),
    )
    .is(200, "");
    let body = r#"{"key":"l/10","command":{"type":"REPLACE","key":"l/11","value":1}}"#;
    assert_eq!(h.post("/api/v1/triggers", body).status, 200);
    h.put("/api/v1/keys/l/0", r#"{"value":1}"#)
        .is_error(500, "trigger recursion depth limit exceeded (max: 10)");
    h.get("/api/v1/keys/l").is(200, &format!("[{zeros}]"));
}

#[test]
fn hincrby_over_resp_fires_the_triggers_before_it_answers() {
    let server = Server::start(&["--key-mode", "path"]);
    let h = Http::new(server.http);
    let mut c = server.connect();
    let mut setup = vec![cmd(&["HSET", "deployment:pipeline", "status", "pending"])];
    for n in 1..=5 {
        let key = format!("deployment:stages:{n}");
        setup.push(cmd(&[
            "HSET",
            &key,
            "name",
            &format!("stage {n}"),
            "status",
            "pending",
        ]));
        setup.push(cmd(&["HINCRBY", &key, "countdown", &n.to_string()]));
    }
    let replies = resp_pipeline(&mut c, &setup);
    assert!(replies.iter().all(|r| !r.starts_with('-')), "{replies:?}");
    for body in [STAGE_TRIGGER, PIPELINE_TRIGGER] {
        assert_eq!(h.post("/api/v1/triggers", body).status, 200);
    }
    // Count every stage down over RESP; after each HINCRBY answers, the stage's status
    // is already what the trigger made it.
    for round in 1..=5 {
        for n in round..=5 {
            let key = format!("deployment:stages:{n}");
            let r = resp_pipeline(
                &mut c,
                &[
                    cmd(&["HINCRBY", &key, "countdown", "-1"]),
                    cmd(&["HGET", &key, "status"]),
                ],
            );
            let left = n - round;
            let want = if left == 0 { "complete" } else { "pending" };
            assert_eq!(
                r,
                [format!(":{left}"), want.to_string()],
                "stage {n}, round {round}"
            );
        }
        let pipeline = resp_pipeline(&mut c, &[cmd(&["HGET", "deployment:pipeline", "status"])]);
        let want = if round == 5 { "complete" } else { "pending" };
        assert_eq!(pipeline, [want], "round {round}");
    }
    // A trigger that fails undoes the RESP write that fired it.
    let bad = r#"{"key":"deployment/stages/1/name","command":{"type":"INC","key":"deployment/nope","value":1}}"#;
    assert_eq!(h.post("/api/v1/triggers", bad).status, 200);
    let r = resp_pipeline(
        &mut c,
        &[
            cmd(&["HSET", "deployment:stages:1", "name", "renamed"]),
            cmd(&["HGET", "deployment:stages:1", "name"]),
            cmd(&["PING"]),
        ],
    );
    assert!(
        r[0].starts_with("-ERR") && r[0].contains("key not found: deployment/nope"),
        "{r:?}"
    );
    assert_eq!(r[1..], ["stage 1", "+PONG"]);
}

#[test]
fn a_deleted_cache_takes_its_triggers_along() {
    let server = Server::start(&[]);
    let h = Http::new(server.http);
    h.post("/api/v1/caches", r#"{"name":"jobs"}"#);
    let jobs = Http::new(server.http).with_header("X-Cache-Name", "jobs");
    let r = jobs.post(
        "/api/v1/triggers",
        r#"{"key":"a","command":{"type":"NOOP"}}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        jobs.get("/api/v1/triggers")
            .text()
            .matches("\"id\"")
            .count(),
        1
    );
    // The default cache has none of them.
    h.get("/api/v1/triggers").is(200, "[]");
    let r = h.delete("/api/v1/caches/jobs");
    assert!(r.status < 300, "{} {}", r.status, r.text());
    h.post("/api/v1/caches", r#"{"name":"jobs"}"#);
    jobs.get("/api/v1/triggers").is(200, "[]");
}
