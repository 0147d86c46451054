//! Every endpoint's body and every WebSocket frame, with hostile values in every field:
//! numeric extremes, wrong types, oversized strings. Nothing may answer a server error
//! (5xx, but 501 "needs the browser client"), nothing may panic anywhere in the process, and
//! the instance still serves afterwards.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};

use common::*;
use pagepilot::engine::actions::ACTION_TYPES;
use reqwest::Method;
use serde_json::{json, Map, Value};

static PANICS: AtomicUsize = AtomicUsize::new(0);

/// Counts every panic of this process (the server runs in it), keeping the default report.
fn count_panics() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
}

fn hostile() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1e300),
        json!(9223372036854775808u64),
        json!(200_000_000_000_000i64),
        json!(4_294_967_297i64),
        json!(i64::MIN),
        json!(""),
        // Oversized for any field, yet every key at once stays under the 1 MiB body limit.
        json!("x".repeat(20_000)),
        json!(true),
        Value::Null,
        json!([]),
        json!({}),
        json!("javascript:alert(1)"),
    ]
}

/// Every payload key any action reads, each set to `v`.
fn all_keys(keys: &[&str], v: &Value) -> Value {
    Value::Object(
        keys.iter()
            .map(|k| (k.to_string(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

const CAPTURE_KEYS: &[&str] = &[
    "url",
    "waitUntil",
    "selector",
    "timeoutMs",
    "button",
    "clickCount",
    "x",
    "y",
    "path",
    "text",
    "delayMs",
    "value",
    "values",
    "label",
    "checked",
    "key",
    "direction",
    "amount",
    "visible",
    "fullPage",
    "format",
    "fields",
    "attributes",
    "limit",
    "visibleOnly",
    "clear",
    "actions",
    "stopOnError",
    "maxNbActions",
    "minNbActions",
    "pageContent",
    "collector",
    "id",
    "enter",
    "type",
    "expression",
    "index",
    "onlyMainContent",
    "scrapeLinks",
    "scrapeImages",
    "screenshot",
];

/// A server error, as the fuzz counts them.
fn server_error(status: u64) -> bool {
    status >= 500 && status != 501
}

struct Tally {
    sent: usize,
    bad: Vec<String>,
}

impl Tally {
    fn check(&mut self, what: &str, status: u64, answer: &Value) {
        self.sent += 1;
        if server_error(status) {
            let text = answer.to_string();
            self.bad
                .push(format!("{what}: {status} {}", &text[..text.len().min(300)]));
        }
    }
}

/// An active session of `who` at a fixture page, made anew when the last one ended.
async fn live_session(pp: &Pp, fx: &Fixtures, id: &mut String) {
    let (status, v) = pp.get(ALICE, id).await;
    if status != 200 || v["session"]["status"] != "active" {
        *id = pp
            .session_at(ALICE, json!({ "url": fx.url("/capture/interact.html") }))
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_in_every_field_answer_4xx_and_panic_nothing() {
    count_panics();
    let fx = Fixtures::start().await;
    let pp = Pp::start(pagepilot::config::Config {
        action_timeout_ms: 5000,
        max_sessions_per_tenant: 10,
        ..config()
    })
    .await;
    let mut t = Tally {
        sent: 0,
        bad: Vec::new(),
    };

    // Capture: create, then every action type with every key hostile, and hostile payloads.
    for v in hostile() {
        let body = all_keys(&["maxTtlSeconds", "proxy", "bypassBotDetection", "cdp"], &v);
        let (s, a) = pp
            .send(Method::POST, "/v1/sessions", Some(ALICE), Some(body))
            .await;
        t.check("create", s as u64, &a);
        if s == 201 {
            let id = a["session"]["id"].as_str().unwrap_or_default().to_string();
            pp.delete(ALICE, &id).await;
        }
    }
    let mut id = String::new();
    for kind in ACTION_TYPES {
        for v in hostile() {
            for payload in [all_keys(CAPTURE_KEYS, &v), v.clone()] {
                live_session(&pp, &fx, &mut id).await;
                let (s, a) = pp.act(ALICE, &id, kind, payload).await;
                t.check(&format!("action {kind} {v:.40}"), s as u64, &a);
            }
        }
    }
    let long = "y".repeat(20_000);
    for (m, path) in [
        (Method::GET, format!("/v1/sessions/{long}")),
        (Method::DELETE, format!("/v1/sessions/{long}")),
        (Method::POST, format!("/v1/sessions/{long}/actions")),
        (Method::GET, format!("/sessions/{long}")),
        (Method::GET, format!("/v1/sessions?limit={long}")),
    ] {
        let (s, a) = pp.send(m, &path, Some(ALICE), Some(json!({}))).await;
        t.check("long path", s as u64, &a);
    }

    // Agent API: start, observe, step, execute (every type), scrape.
    let start_keys = [
        "timeout_minutes",
        "idle_timeout_minutes",
        "max_duration_minutes",
        "max_steps",
        "viewport_width",
        "viewport_height",
        "user_agent",
        "proxies",
        "browser_type",
        "solve_captchas",
        "chrome_args",
    ];
    for v in hostile() {
        let (s, a) = pp
            .send(
                Method::POST,
                "/sessions/start",
                Some(ALICE),
                Some(all_keys(&start_keys, &v)),
            )
            .await;
        t.check(&format!("start {v:.40}"), s as u64, &a);
        if s == 200 {
            let sid = a["session_id"].as_str().unwrap_or_default();
            pp.send(
                Method::DELETE,
                &format!("/sessions/{sid}/stop"),
                Some(ALICE),
                None,
            )
            .await;
        }
    }
    let agent_keys = [
        "url",
        "min_nb_actions",
        "max_nb_actions",
        "max_chars",
        "diff",
        "full_space",
        "screenshot",
        "action_id",
        "value",
        "enter",
        "id",
        "selector",
        "key",
        "amount",
        "time_ms",
        "code",
        "press_enter",
        "only_main_content",
        "scrape_links",
        "scrape_images",
        "instructions",
        "response_format",
        "perception_type",
    ];
    let execute_types = [
        "click",
        "fill",
        "check",
        "select_dropdown_option",
        "goto",
        "go_back",
        "go_forward",
        "reload",
        "press_key",
        "scroll_up",
        "scroll_down",
        "wait",
        "evaluate_js",
        "scrape",
        "completion",
        "goto_new_tab",
        "switch_tab",
        "close_tab",
        "upload_file",
        "no_such_type",
    ];
    for v in hostile() {
        for (endpoint, body) in [
            ("observe", all_keys(&agent_keys, &v)),
            ("step", all_keys(&agent_keys, &v)),
            ("scrape", all_keys(&agent_keys, &v)),
            ("observe", v.clone()),
        ] {
            live_session(&pp, &fx, &mut id).await;
            let (s, a) = pp
                .send(
                    Method::POST,
                    &format!("/sessions/{id}/page/{endpoint}"),
                    Some(ALICE),
                    Some(body),
                )
                .await;
            t.check(&format!("{endpoint} {v:.40}"), s as u64, &a);
        }
        for kind in execute_types {
            live_session(&pp, &fx, &mut id).await;
            let mut body = all_keys(&agent_keys, &v);
            body["type"] = json!(kind);
            let (s, a) = pp
                .send(
                    Method::POST,
                    &format!("/sessions/{id}/page/execute"),
                    Some(ALICE),
                    Some(body),
                )
                .await;
            t.check(&format!("execute {kind} {v:.40}"), s as u64, &a);
        }
    }

    // WebSocket: hostile open frames, then every action frame with every field hostile.
    let open_keys = [
        "client",
        "middleware",
        "proxies",
        "timeout",
        "max_redirects",
        "max_retries",
        "ttl",
    ];
    for v in hostile() {
        let mut ws = Ws::connect(&pp, ALICE).await;
        ws.send(&all_keys(&open_keys, &v)).await;
        if let Some(f) = ws.next().await {
            let code = f["code"].as_u64().unwrap_or(0);
            t.check(&format!("ws open {v:.40}"), code, &f);
            if f["session_id"].is_string() {
                ws.send(&json!({ "action": "close" })).await;
            }
        }
    }
    let frame_keys = [
        "url",
        "method",
        "referrer",
        "user_agent",
        "headers",
        "cookies",
        "body",
        "selector",
        "value",
        "script",
    ];
    let frames = [
        "goto",
        "click",
        "fill",
        "content",
        "evaluate",
        "screenshot",
        "nope",
    ];
    for client in ["standard", "browser"] {
        for v in hostile() {
            let (mut ws, _) = Ws::open(&pp, ALICE, json!({ "client": client })).await;
            for name in frames {
                let mut frame = all_keys(&frame_keys, &v);
                frame["action"] = json!(name);
                ws.send(&frame).await;
                let Some(f) = ws.next().await else { break };
                let code = f["code"].as_u64().unwrap_or(0);
                t.check(&format!("ws {client} {name} {v:.40}"), code, &f);
            }
            ws.send(&json!({ "action": "close" })).await;
        }
    }

    assert!(t.sent > 1400, "the fuzz sent {} requests", t.sent);
    assert!(t.bad.is_empty(), "server errors:\n{}", t.bad.join("\n"));
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "panics in the process");
    // Still serving: a fresh session works.
    let fresh = pp
        .session_at(BOB, json!({ "url": fx.url("/capture/basic.html") }))
        .await;
    assert_eq!(pp.text(BOB, &fresh, "h1").await, "Fixture shop");
    assert_eq!(pp.health().await["browser"]["alive"], true);
    pp.stop().await;
}
