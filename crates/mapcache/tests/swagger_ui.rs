//! Swagger UI in a real browser: headless Chromium (Debian's `chromium`) loads
//! `/api/v1/docs` from the running binary. Every operation of openapi.yaml must be
//! listed on the page, and "Try it out" → "Execute" on `GET /api/v1/caches` must show
//! the server's own answer. The screenshot is kept under the target directory
//! (`test-artifacts/swagger.png`) and its path printed.

mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use headless_chrome::protocol::cdp::Page::CaptureScreenshotFormatOption;
use headless_chrome::{Browser, LaunchOptions, Tab};
use support::{http_get, tool, Server};

/// Each wait in the browser is bounded by this.
const WAIT: Duration = Duration::from_secs(15);

/// Evaluates `js` (an expression answering a string) in the page.
fn eval(tab: &Tab, js: &str) -> String {
    let r = tab.evaluate(js, false).expect("evaluate");
    match r.value {
        Some(v) => v
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string()),
        None => String::new(),
    }
}

/// Polls `js` every 50 ms until it answers a non-empty string; that string.
fn wait_for(tab: &Tab, what: &str, js: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let v = eval(tab, js);
        if !v.is_empty() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Where test artifacts go: `$CARGO_TARGET_DIR/test-artifacts` (the target directory
/// the test binary runs from, when the variable is not set).
fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            // .../target/debug/deps/swagger_ui-xxxx -> .../target
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        })
        .unwrap_or_else(|| PathBuf::from("target"));
    let dir = target.join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create test-artifacts");
    dir
}

/// Every `(METHOD, path)` Swagger UI lists, as `"GET /api/v1/caches"` lines.
const LISTED_OPERATIONS: &str = r#"
    [...document.querySelectorAll('.opblock')].map(o => {
        const m = o.querySelector('.opblock-summary-method');
        const p = o.querySelector('.opblock-summary-path');
        const path = p ? (p.getAttribute('data-path') || p.textContent) : '';
        return (m ? m.textContent : '?') + ' ' + path.replace(/\u200b/g, '');
    }).join('\n')
"#;

#[test]
fn swagger_ui_lists_every_operation_and_try_it_out_answers() {
    let chromium = tool("chromium", "chromium");
    let server = Server::start(&[]);
    let base = format!("http://{}", server.http);

    let browser = Browser::new(
        LaunchOptions::default_builder()
            .path(Some(PathBuf::from(&chromium)))
            .headless(true)
            // Root (CI) cannot use Chromium's sandbox.
            .sandbox(false)
            .window_size(Some((1280, 1600)))
            .idle_browser_timeout(Duration::from_secs(60))
            .build()
            .expect("launch options"),
    )
    .expect("start chromium");
    let tab = browser.new_tab().expect("tab");
    tab.set_default_timeout(WAIT);
    tab.navigate_to(&format!("{base}/api/v1/docs"))
        .expect("navigate")
        .wait_until_navigated()
        .expect("page loaded");

    // The page loaded the document and rendered every operation.
    let expected: Vec<String> = mapcache_server::openapi_operations()
        .into_iter()
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    let deadline = Instant::now() + WAIT;
    let listed = loop {
        let listed = eval(&tab, LISTED_OPERATIONS);
        let n = listed.lines().filter(|l| !l.is_empty()).count();
        if n >= expected.len() || Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let listed: Vec<&str> = listed.lines().collect();
    for op in &expected {
        assert!(
            listed.contains(&op.as_str()),
            "{op} is not listed by Swagger UI; listed: {listed:#?}"
        );
    }
    assert_eq!(
        listed.len(),
        expected.len(),
        "Swagger UI lists operations openapi.yaml does not have: {listed:#?}"
    );
    let title = eval(
        &tab,
        "document.querySelector('.info .title')?.textContent || ''",
    );
    assert!(title.contains("mapcache HTTP/JSON API"), "title: {title}");

    // "Try it out" -> "Execute" on GET /api/v1/caches, as a person would click.
    let op = "#operations-caches-listCaches";
    tab.wait_for_element(&format!("{op} .opblock-summary-control"))
        .expect("GET /api/v1/caches on the page")
        .click()
        .expect("open the operation");
    tab.wait_for_element(&format!("{op} .try-out__btn"))
        .expect("Try it out button")
        .click()
        .expect("click Try it out");
    tab.wait_for_element(&format!("{op} button.execute"))
        .expect("Execute button")
        .click()
        .expect("click Execute");
    let status = wait_for(
        &tab,
        "the live response's status",
        &format!(
            "document.querySelector('{op} .live-responses-table .response .response-col_status')?.textContent || ''"
        ),
    );
    let shown = wait_for(
        &tab,
        "the live response's body",
        &format!(
            "document.querySelector('{op} .live-responses-table .response-col_description pre')?.textContent || ''"
        ),
    );

    let png = tab
        .capture_screenshot(CaptureScreenshotFormatOption::Png, None, None, true)
        .expect("screenshot");
    let shot = artifacts_dir().join("swagger.png");
    std::fs::write(&shot, &png).expect("write screenshot");
    eprintln!("Swagger UI screenshot: {}", shot.display());
    assert!(png.starts_with(b"\x89PNG"), "a PNG");

    // What the page shows is what the server answers to the same request.
    let (code, body) = http_get(server.http, "/api/v1/caches");
    assert_eq!(code, 200, "{body}");
    assert_eq!(status.trim(), "200", "status shown: {status}");
    let squash = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    assert_eq!(squash(&shown), squash(&body), "response panel: {shown}");
    assert!(shown.contains("\"default\""), "response panel: {shown}");
}
