//! WebSocket sessions with the standard client (plain HTTP, no browser): redirects, cookies,
//! methods and bodies, retries, middleware, form fill + submit, links, and what needs a browser.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn standard_client_redirects_cookies_bodies_forms() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let (mut ws, id) = Ws::open(&pp, ALICE, json!({ "proxies": [], "timeout": "30s" })).await;

    // Listed with the other protocols' sessions.
    let (status, list) = pp
        .send(reqwest::Method::GET, "/v1/sessions", Some(ALICE), None)
        .await;
    assert_eq!(status, 200);
    let mine = list["sessions"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id.as_str()).cloned())
        .unwrap_or_else(|| panic!("ws session not listed: {list}"));
    assert_eq!(mine["options"]["client"], "standard");
    assert_eq!(mine["status"], "active");

    // A 301 then a 302 (which sets a cookie), then the page.
    goto_redirect_chain(&mut ws, &fx).await;
    let landing = fx.url("/ws/landing.html");

    // Headers, cookies of the frame, the jar's cookie, a user-agent keyword.
    let got = ws
        .call(json!({
            "action": "goto", "url": fx.url("/echo?x=1"),
            "headers": [["X-Test", "yes"]],
            "cookies": [{ "name": "given", "value": "2" }],
            "user_agent": "firefox",
            "referrer": "http://127.0.0.1/from"
        }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    assert_eq!(got["content_type"], "application/json");
    let e = echoed(&got);
    assert_eq!(e["method"], "GET");
    assert_eq!(e["headers"]["x-test"], "yes");
    let cookie = e["headers"]["cookie"].as_str().unwrap_or_default();
    assert!(
        cookie.contains("sid=abc") && cookie.contains("given=2"),
        "{e}"
    );
    assert!(e["headers"]["user-agent"]
        .as_str()
        .unwrap_or_default()
        .contains("Firefox"));
    assert_eq!(e["headers"]["referer"], "http://127.0.0.1/from");
    assert!(got["cookies"].as_array().is_some_and(|c| c
        .iter()
        .any(|c| c["name"] == "echoed" && c["http_only"] == true)));

    // The default user agent is inndx; POST carries the base64 body.
    let got = ws
        .call(json!({
            "action": "goto", "url": fx.url("/echo"), "method": "POST",
            "headers": [["Content-Type", "text/plain"]], "body": b64("hello=world")
        }))
        .await;
    let e = echoed(&got);
    assert_eq!(e["method"], "POST");
    assert_eq!(e["body"], "hello=world");
    assert!(e["headers"]["user-agent"]
        .as_str()
        .unwrap_or_default()
        .contains("inndx"));

    // Two 503s, then success: retried with backoff (max_retries 3).
    let key = uuid::Uuid::new_v4().to_string();
    let got = ws
        .call(json!({ "action": "goto", "url": fx.url(&format!("/flaky?key={key}&fail=2")) }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    assert!(unb64(&got["body"]).contains("attempt 3"));
    // More failures than retries: the last 503 is the answer.
    let key = uuid::Uuid::new_v4().to_string();
    let got = ws
        .call(json!({ "action": "goto", "url": fx.url(&format!("/flaky?key={key}&fail=9")) }))
        .await;
    assert_eq!(got["status_code"], 503, "{got}");

    // A link click follows its href (from a descendant of the link).
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/form.html") }))
        .await;
    let clicked = ws
        .call(json!({ "action": "click", "selector": "#to-landing span" }))
        .await;
    assert_eq!(clicked["action"], "clicked", "{clicked}");
    assert_eq!(clicked["url"], landing.as_str());
    assert_eq!(clicked["status_code"], 200);

    // Fill the form in the parsed document, see it in content, submit it.
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/form.html") }))
        .await;
    for (sel, value) in [
        ("#name", "Ada Lovelace"),
        ("#gift", "true"),
        ("#color", "Green"),
        ("#note", "ring twice"),
    ] {
        let f = ws
            .call(json!({ "action": "fill", "selector": sel, "value": value }))
            .await;
        assert_eq!(f, json!({ "action": "filled" }), "{sel}");
    }
    let content = ws.call(json!({ "action": "content" })).await;
    assert_eq!(content["action"], "content");
    let html = unb64(&content["content"]);
    assert!(
        html.contains("Ada Lovelace") && html.contains("ring twice"),
        "{html}"
    );
    let submitted = ws
        .call(json!({ "action": "click", "selector": "#submit" }))
        .await;
    assert_eq!(submitted["action"], "clicked", "{submitted}");
    assert_eq!(submitted["status_code"], 200);
    let e = echoed(&submitted);
    assert_eq!(e["method"], "POST");
    assert_eq!(
        e["body"],
        "name=Ada+Lovelace&qty=1&gift=yes&color=green&note=ring+twice&op=order"
    );
    assert_eq!(
        e["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    // A click on something that is neither a link nor a submit control does nothing.
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/form.html") }))
        .await;
    let nothing = ws
        .call(json!({ "action": "click", "selector": "#plain" }))
        .await;
    assert_eq!(nothing["action"], "clicked");
    assert_eq!(nothing["navigated"], false);

    // What needs a browser says so; the session stays usable.
    let err = ws
        .call(json!({ "action": "evaluate", "script": "1 + 1" }))
        .await;
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["code"], 501);
    assert!(err["message"]
        .as_str()
        .unwrap_or_default()
        .contains("browser client"));
    let shot = ws.call(json!({ "action": "screenshot" })).await;
    assert_eq!(shot, json!({ "action": "screenshot", "screenshot": null }));
    let missing = ws
        .call(json!({ "action": "click", "selector": "#nope" }))
        .await;
    assert_eq!(missing["type"], "error");
    assert_eq!(missing["code"], 400);

    let closed = ws.call(json!({ "action": "close" })).await;
    assert_eq!(closed, json!({ "action": "closed" }));
    ws.expect_closed().await;
    let (_, rec) = pp.get(ALICE, &id).await;
    let s = &rec["session"];
    assert_eq!(s["status"], "closed");
    assert_eq!(s["closeReason"], "closed");
    // 8 gotos, 4 clicks, 4 fills, content, evaluate, screenshot: counted like any protocol's.
    assert_eq!(s["actionCount"], 19, "{s}");
    assert_eq!(s["actionBreakdown"]["goto"]["total"], 8);
    assert_eq!(s["actionErrorCount"], 2, "{s}");
    assert!(s["billedCredits"].as_u64().unwrap_or(0) >= 1);
    assert_eq!(s["actionBreakdown"]["fill"]["total"], 4);
    pp.stop().await;
}

#[tokio::test]
async fn standard_client_middleware_in_order() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let (mut ws, _id) = Ws::open(
        &pp,
        ALICE,
        json!({
            "client": { "type": "standard" },
            "middleware": [
                { "type": "set_language", "language": "fr-CH" },
                { "type": "mutate_headers", "set": [["X-Mw", "on"], ["X-Order", "first"]], "remove": ["x-drop"] },
                { "type": "mutate_headers", "set": [["X-Order", "second"]] },
                { "type": "mutate_method", "method": "PUT" },
                { "type": "mutate_path", "path": "/echo" }
            ],
            "max_redirects": 2,
            "max_retries": 0
        }),
    )
    .await;
    let got = ws
        .call(json!({ "action": "goto", "url": fx.url("/nowhere?q=1"), "headers": [["X-Drop", "1"]] }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    let e = echoed(&got);
    assert_eq!(e["method"], "PUT");
    assert_eq!(e["path"], "/echo");
    assert_eq!(e["headers"]["accept-language"], "fr-CH");
    assert_eq!(e["headers"]["x-mw"], "on");
    assert_eq!(e["headers"]["x-order"], "second");
    assert!(e["headers"].get("x-drop").is_none(), "{e}");

    // max_redirects 2: a chain of three fails with a clear error, the session goes on.
    let end = fx.url("/ws/landing.html");
    let mut url = end.clone();
    for _ in 0..3 {
        url = fx.url(&format!("/redirect?to={}", enc(&url)));
    }
    let (mut ws2, _) = Ws::open(&pp, ALICE, json!({ "max_redirects": 2 })).await;
    let err = ws2.call(json!({ "action": "goto", "url": url })).await;
    assert_eq!(err["type"], "error", "{err}");
    assert!(err["message"]
        .as_str()
        .unwrap_or_default()
        .contains("too many redirects"));
    let ok = ws2.call(json!({ "action": "goto", "url": end })).await;
    assert_eq!(ok["status_code"], 200);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn named_proxies_carry_both_clients() {
    let fx = Fixtures::start().await;
    let (proxy, seen) = stand_in_proxy().await;

    let mut cfg = config();
    cfg.fetch_proxies = vec![format!("near=http://{proxy}")];
    let pp = Pp::start(cfg).await;
    let page = fx.url("/ws/landing.html");
    for client in ["standard", "browser"] {
        let (mut ws, _) =
            Ws::open(&pp, ALICE, json!({ "client": client, "proxies": ["near"] })).await;
        let got = ws.call(json!({ "action": "goto", "url": page })).await;
        assert!(unb64(&got["body"]).contains("via proxy"), "{client}: {got}");
    }
    assert!(
        seen.lock()
            .expect("seen")
            .iter()
            .filter(|u| *u == &page)
            .count()
            >= 2,
        "the proxy was asked for the absolute URL by both clients"
    );
    // Without a proxy, the page itself.
    let (mut ws, _) = Ws::open(&pp, ALICE, json!({})).await;
    let got = ws.call(json!({ "action": "goto", "url": page })).await;
    assert!(unb64(&got["body"]).contains("Landed"));
    pp.stop().await;
}
