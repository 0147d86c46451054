//! WebSocket sessions with the browser client: the same frames, run by Chromium. goto reports
//! the main document's exchange (server and client redirects, cookies, headers, body).

mod common;

use base64::Engine as _;
use common::*;
use serde_json::json;

#[tokio::test]
async fn browser_client_reports_exchanges_and_runs_scripts() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let (mut ws, id) = Ws::open(
        &pp,
        ALICE,
        json!({
            "client": "browser",
            "middleware": [
                { "type": "set_language", "language": "de-CH" },
                { "type": "mutate_headers", "set": [["X-Mw", "on"]] }
            ]
        }),
    )
    .await;

    // A 301 then a 302 setting a cookie, then the page.
    goto_redirect_chain(&mut ws, &fx).await;
    let landing = fx.url("/ws/landing.html");

    // POST with a body, the client's headers and user agent, the session's middleware; the
    // browser's jar sends the cookie back, and the frame's cookie too.
    let got = ws
        .call(json!({
            "action": "goto", "url": fx.url("/echo"), "method": "POST",
            "headers": [["X-Test", "yes"], ["Content-Type", "text/plain"]],
            "cookies": [{ "name": "given", "value": "2" }],
            "user_agent": "firefox",
            "body": b64("hello=world")
        }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    let e = echoed(&got);
    assert_eq!(e["method"], "POST", "{e}");
    assert_eq!(e["body"], "hello=world");
    assert_eq!(e["headers"]["x-test"], "yes");
    assert_eq!(e["headers"]["x-mw"], "on");
    assert_eq!(e["headers"]["accept-language"], "de-CH");
    assert!(e["headers"]["user-agent"]
        .as_str()
        .unwrap_or_default()
        .contains("Firefox"));
    let cookie = e["headers"]["cookie"].as_str().unwrap_or_default();
    assert!(
        cookie.contains("sid=abc") && cookie.contains("given=2"),
        "{e}"
    );
    assert!(got["headers"]
        .as_array()
        .is_some_and(|h| h.iter().any(|p| p[0] == "content-type")));

    // Client-side redirects: a meta refresh and a script.
    for page in ["/ws/meta-refresh.html", "/ws/script-redirect.html"] {
        let got = ws
            .call(json!({ "action": "goto", "url": fx.url(page) }))
            .await;
        assert_eq!(got["url"], landing.as_str(), "{page}: {got}");
        let r = got["redirects"].as_array().expect("redirects");
        assert!(
            r.iter()
                .any(|r| r["side"] == "client" && r["location"] == landing.as_str()),
            "{page}: {got}"
        );
        assert!(unb64(&got["body"]).contains("Landed"));
    }

    // Form: fill and submit with real input; the next page is the echo.
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/form.html") }))
        .await;
    let f = ws
        .call(json!({ "action": "fill", "selector": "#name", "value": "Ada" }))
        .await;
    assert_eq!(f["action"], "filled", "{f}");
    let c = ws
        .call(json!({ "action": "click", "selector": "#submit" }))
        .await;
    assert_eq!(c["action"], "clicked", "{c}");
    let content = ws.call(json!({ "action": "content" })).await;
    let page = unb64(&content["content"]);
    assert!(
        page.contains("name=Ada&amp;qty=1") || page.contains("name=Ada&qty=1"),
        "{page}"
    );

    // evaluate returns the script's JSON value; screenshot a PNG.
    let v = ws
        .call(json!({ "action": "evaluate", "script": "({sum: 1 + 2, title: document.title})" }))
        .await;
    assert_eq!(v["action"], "evaluated", "{v}");
    assert_eq!(v["result"]["sum"], 3);
    let shot = ws.call(json!({ "action": "screenshot" })).await;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["screenshot"].as_str().expect("png"))
        .expect("base64");
    assert!(png.starts_with(b"\x89PNG"));

    // Errors are frames; the session goes on.
    let err = ws
        .call(json!({ "action": "evaluate", "script": "throw new Error('boom')" }))
        .await;
    assert_eq!(err["type"], "error", "{err}");
    let err = ws
        .call(json!({ "action": "goto", "url": fx.denied_url("/") }))
        .await;
    assert_eq!(err["type"], "error", "{err}");
    assert_eq!(err["code"], 400);
    assert_eq!(fx.denied_hits(), 0);
    let ok = ws.call(json!({ "action": "goto", "url": landing })).await;
    assert_eq!(ok["status_code"], 200);

    // Method and path middleware rewrite the document request the browser sends.
    let (mut other, _) = Ws::open(
        &pp,
        ALICE,
        json!({
            "client": { "type": "browser" },
            "middleware": [
                { "type": "mutate_method", "method": "PUT" },
                { "type": "mutate_path", "path": "/echo" }
            ]
        }),
    )
    .await;
    let got = other
        .call(json!({ "action": "goto", "url": fx.url("/nowhere?q=1") }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    let e = echoed(&got);
    assert_eq!(e["method"], "PUT", "{e}");
    assert_eq!(e["path"], "/echo");

    let closed = ws.call(json!({ "action": "close" })).await;
    assert_eq!(closed["action"], "closed");
    ws.expect_closed().await;
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "closed");
    assert_eq!(rec["session"]["options"]["client"], "browser");
    pp.stop().await;
}
