//! Every bad input answers a clear 4xx naming what was wrong, and never disturbs another
//! session: 400, 401, 404, 409, 413, 429, 501, 502, 504.

mod common;

use common::{Fixtures, Pp, ALICE, BOB};
use reqwest::Method;
use serde_json::{json, Value};

fn error_of(v: &Value) -> &str {
    assert_eq!(v["success"], false, "{v}");
    v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text: {v}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_answer_clear_errors() {
    let fx = Fixtures::start().await;
    let mut cfg = common::config();
    cfg.body_limit_bytes = 64 * 1024;
    let pp = Pp::start(cfg).await;
    // A bystander session whose state must survive everything below.
    let other = pp.session(ALICE, json!({})).await;
    pp.ok(
        ALICE,
        &other,
        "goto",
        json!({ "url": fx.url("/capture/basic.html") }),
    )
    .await;
    pp.ok(ALICE, &other, "scroll", json!({ "amount": 300 }))
        .await;

    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/interact.html") }))
        .await;

    // (type, payload, status, words the error must contain)
    let cases: Vec<(&str, Value, u16, &[&str])> = vec![
        (
            "bogus",
            json!({}),
            400,
            &["unknown action type `bogus`", "goto"],
        ),
        ("goto", json!({}), 400, &["payload", "missing field `url`"]),
        (
            "goto",
            json!({ "url": 5 }),
            400,
            &["payload.url", "invalid type"],
        ),
        (
            "goto",
            json!({ "url": "" }),
            400,
            &["payload.url must not be empty"],
        ),
        ("goto", json!({ "url": "not a url" }), 400, &["invalid url"]),
        (
            "goto",
            json!({ "url": "http://x.test/", "waitUntil": "never" }),
            400,
            &["payload.waitUntil", "unknown variant"],
        ),
        (
            "screenshot",
            json!({ "fullPage": "yes" }),
            400,
            &["payload.fullPage", "boolean"],
        ),
        ("click", json!({}), 400, &["missing field `selector`"]),
        (
            "click",
            json!({ "selector": "" }),
            400,
            &["payload.selector must not be empty"],
        ),
        (
            "click",
            json!({ "selector": "##bad((" }),
            400,
            &["not a valid CSS selector"],
        ),
        (
            "click",
            json!({ "selector": "#nope", "timeoutMs": 200 }),
            400,
            &["no element matches `#nope`"],
        ),
        (
            "click",
            json!({ "selector": "#invisible", "timeoutMs": 200 }),
            400,
            &["not visible"],
        ),
        (
            "fill",
            json!({ "selector": "#btn", "value": "x" }),
            400,
            &["cannot be filled"],
        ),
        (
            "fill",
            json!({ "selector": "#name" }),
            400,
            &["missing field `value`"],
        ),
        (
            "select",
            json!({ "selector": "#color", "value": "purple" }),
            400,
            &["no option", "purple"],
        ),
        (
            "select",
            json!({ "selector": "#color" }),
            400,
            &["payload.value"],
        ),
        (
            "select",
            json!({ "selector": "#name", "value": "x" }),
            400,
            &["not a <select>"],
        ),
        (
            "check",
            json!({ "selector": "#name" }),
            400,
            &["not a checkbox"],
        ),
        (
            "press",
            json!({ "key": "NotAKey" }),
            400,
            &["unknown key `NotAKey`"],
        ),
        (
            "press",
            json!({ "key": "Hyper+a" }),
            400,
            &["not a modifier"],
        ),
        (
            "scroll",
            json!({ "direction": "sideways" }),
            400,
            &["payload.direction"],
        ),
        ("scroll", json!({ "amount": -5 }), 400, &["payload.amount"]),
        ("move_mouse", json!({ "x": -1, "y": 3 }), 400, &["x and y"]),
        (
            "drag_mouse",
            json!({ "path": [{ "x": 1, "y": 1 }] }),
            400,
            &["2 to 100 points"],
        ),
        (
            "drag_mouse",
            json!({ "path": vec![json!({ "x": 1, "y": 1 }); 101] }),
            400,
            &["2 to 100 points"],
        ),
        (
            "query",
            json!({ "selector": "a", "fields": ["text", "colour"] }),
            400,
            &["unknown field `colour`"],
        ),
        (
            "query",
            json!({ "selector": "a", "limit": -1 }),
            400,
            &["payload.limit"],
        ),
        (
            "content",
            json!({ "format": "pdf" }),
            400,
            &["payload.format"],
        ),
        (
            "wait_for_timeout",
            json!({}),
            400,
            &["missing field `timeoutMs`"],
        ),
        ("batch", json!({ "actions": [] }), 400, &["1 to 25 actions"]),
        (
            "batch",
            json!({ "actions": vec![json!({ "type": "title" }); 26] }),
            400,
            &["1 to 25 actions"],
        ),
        (
            "batch",
            json!({ "actions": [{ "type": "batch", "payload": { "actions": [{ "type": "title" }] } }] }),
            400,
            &["cannot hold a batch"],
        ),
        (
            "batch",
            json!({ "actions": [{ "type": "goto", "payload": {} }] }),
            400,
            &["actions[0]", "missing field `url`"],
        ),
        (
            "title",
            json!({ "screenshot": "yes" }),
            400,
            &["payload.screenshot must be a boolean"],
        ),
        (
            "goto",
            json!({ "url": "file:///etc/passwd" }),
            400,
            &["scheme `file:`"],
        ),
        (
            "goto",
            json!({ "url": "chrome://version" }),
            400,
            &["scheme `chrome:`"],
        ),
        (
            "goto",
            json!({ "url": "javascript:alert(1)" }),
            400,
            &["scheme `javascript:`"],
        ),
        (
            "goto",
            json!({ "url": "view-source:http://127.0.0.1/" }),
            400,
            &["scheme `view-source:`"],
        ),
        (
            "goto",
            json!({ "url": "http://169.254.169.254/latest/meta-data" }),
            400,
            &["link-local"],
        ),
        (
            "goto",
            json!({ "url": "http://[fe80::1]/" }),
            400,
            &["link-local"],
        ),
        (
            "wait_for_selector",
            json!({ "selector": "#never", "timeoutMs": 300 }),
            504,
            &["timed out after 300 ms", "#never"],
        ),
        (
            "snapshot",
            json!({ "maxNbActions": 0 }),
            400,
            &["max_nb_actions"],
        ),
        ("step", json!({ "id": "B999" }), 400, &["observe again"]),
    ];
    for (kind, payload, status, words) in &cases {
        let (got, v) = pp.act(ALICE, &id, kind, payload.clone()).await;
        assert_eq!(got, *status, "{kind} {payload}: {v}");
        let err = error_of(&v);
        for w in *words {
            assert!(err.contains(w), "{kind} {payload}: `{err}` lacks `{w}`");
        }
        assert!(
            v["expiresInSeconds"].as_u64().is_some()
                || got == 400 && v.get("expiresInSeconds").is_none(),
            "{v}"
        );
    }
    // A selector that matched nothing says so in the diagnostics.
    let (_, v) = pp
        .act(
            ALICE,
            &id,
            "click",
            json!({ "selector": "#nope", "timeoutMs": 50 }),
        )
        .await;
    assert_eq!(v["matched"], false, "{v}");
    // A refused navigation happens before the browser moves: the page is unchanged.
    assert_eq!(
        pp.ok(ALICE, &id, "url", json!({})).await["url"],
        fx.url("/capture/interact.html")
    );

    // A page that cannot be reached is a 502 naming the network error.
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "goto",
            json!({ "url": format!("http://127.0.0.1:{closed_port}/") }),
        )
        .await;
    assert_eq!(status, 502, "{v}");
    assert!(error_of(&v).contains("ERR_CONNECTION_REFUSED"), "{v}");

    // Bodies that are not an action at all.
    let path = format!("/v1/sessions/{id}/actions");
    for (body, words) in [
        ("{not json", "invalid action"),
        ("[1,2]", "JSON object"),
        (r#"{"payload":{}}"#, "missing field `type`"),
        (r#"{"type":7}"#, "type must be a string"),
        (
            r#"{"type":"title","payload":[1]}"#,
            "payload must be a JSON object",
        ),
    ] {
        let (status, v) = pp.raw(Method::POST, &path, ALICE, body).await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(error_of(&v).contains(words), "{body}: {v}");
    }
    // A body over the limit (64 KiB here): 413 in the error shape. Sent on its own
    // connection, small enough to sit in the socket buffers whatever the server does first.
    let huge = format!(
        r#"{{"type":"goto","payload":{{"url":"http://a.b/{}"}}}}"#,
        "a".repeat(100 * 1024)
    );
    let lone = reqwest::Client::new();
    let resp = lone
        .post(format!("{}{path}", pp.base))
        .bearer_auth(common::token(ALICE))
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("oversized request answered");
    assert_eq!(resp.status().as_u16(), 413);
    let v: Value = resp.json().await.unwrap();
    assert!(error_of(&v).contains("length limit"), "{v}");

    // Create: unknown fields, bad TTLs, proxy without an upstream, cdp.
    for (body, words) in [
        (json!({ "maxTtlSeconds": 0 }), "at least 1"),
        (json!({ "maxTtlSeconds": -3 }), "at least 1"),
        (json!({ "maxTtlSeconds": "long" }), "maxTtlSeconds"),
        (json!({ "colour": "red" }), "unknown field `colour`"),
        (json!({ "proxy": true }), "upstream proxy"),
        (json!({ "cdp": true }), "cdp"),
        (
            json!({ "cdp": true, "bypassBotDetection": true }),
            "cannot be combined",
        ),
    ] {
        let (status, v) = pp
            .send(
                Method::POST,
                "/v1/sessions",
                Some(ALICE),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 400, "{body}: {v}");
        assert!(error_of(&v).contains(words), "{body}: {v}");
    }

    // 401: no token, not Bearer, unknown secret, wrong secret; with WWW-Authenticate.
    for auth in [
        None,
        Some("Basic abc"),
        Some("Bearer !!!"),
        Some("Bearer YWxpY2U6d3Jvbmc="),
    ] {
        let mut req = pp.http.get(format!("{}/v1/sessions", pp.base));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        assert_eq!(resp.headers().get("www-authenticate").unwrap(), "Bearer");
        let v: Value = resp.json().await.unwrap();
        error_of(&v);
    }
    // 404: unknown session on every route, unknown endpoint.
    let ghost = "sess_00000000-0000-0000-0000-000000000000";
    for (m, p) in [
        (Method::GET, format!("/v1/sessions/{ghost}")),
        (Method::DELETE, format!("/v1/sessions/{ghost}")),
        (Method::POST, format!("/v1/sessions/{ghost}/actions")),
        (Method::GET, "/v1/nothing-here".to_string()),
    ] {
        let (status, v) = pp
            .send(m.clone(), &p, Some(ALICE), Some(json!({ "type": "title" })))
            .await;
        assert_eq!(status, 404, "{m} {p}: {v}");
        error_of(&v);
    }

    // 409 after close, with the session in the body; a second DELETE is 409 and charges nothing more.
    let (status, closed) = pp.delete(ALICE, &id).await;
    assert_eq!(status, 200);
    let credits = closed["session"]["billedCredits"].as_u64().unwrap();
    assert!(credits >= 1);
    let (status, v) = pp.act(ALICE, &id, "title", json!({})).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["session"]["status"], "closed");
    assert_eq!(v["expiresInSeconds"], 0);
    let (status, v) = pp.delete(ALICE, &id).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["session"]["billedCredits"].as_u64(), Some(credits));

    // The bystander is untouched and the server healthy.
    assert_eq!(
        pp.ok(ALICE, &other, "url", json!({})).await["url"],
        fx.url("/capture/basic.html")
    );
    assert_eq!(
        pp.ok(ALICE, &other, "scroll", json!({ "amount": 0 })).await["scrollY"],
        300
    );
    assert_eq!(pp.health().await["status"], "ok");
    let _ = BOB;
    pp.stop().await;
}

/// Every answer carries a request id (the caller's when sane, else a new one), and every JSON
/// error body names it, on each protocol's routes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_and_error_body_carries_a_request_id() {
    let pp = Pp::default().await;
    let get = |path: &'static str, id: Option<&'static str>| {
        let mut req = pp
            .http
            .get(format!("{}{path}", pp.base))
            .bearer_auth(common::token(ALICE));
        if let Some(i) = id {
            req = req.header("x-request-id", i);
        }
        req.send()
    };
    // The caller's id, echoed and named in the error body.
    for path in [
        "/v1/sessions/sess_nope",
        "/sessions/nope",
        "/no/such/endpoint",
    ] {
        let resp = get(path, Some("trace-42.a:b_c")).await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        assert_eq!(resp.headers()["x-request-id"], "trace-42.a:b_c");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["request_id"], "trace-42.a:b_c", "{path}: {v}");
    }
    // None given, or a hostile one (too long, or with spaces): a fresh UUID instead.
    let long: &'static str = Box::leak("x".repeat(300).into_boxed_str());
    for given in [None, Some(long), Some("a b")] {
        let resp = get("/v1/sessions/sess_nope", given).await.unwrap();
        let id = resp.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["request_id"], json!(id));
    }
    // A successful answer has the header too, and its body is untouched.
    let resp = get("/v1/sessions", None).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let v: Value = resp.json().await.unwrap();
    assert!(v.get("request_id").is_none(), "{v}");
    pp.stop().await;
}
