//! Every Capture action type against real Chromium and fixture pages.

mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use common::{Fixtures, Pp, ALICE};
use serde_json::json;

fn is_png(b64: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map(|b| b.starts_with(&[0x89, b'P', b'N', b'G']))
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn navigation_and_reading() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp.session(ALICE, json!({})).await;

    let basic = fx.url("/capture/basic.html");
    for wait in ["load", "domcontentloaded", "commit"] {
        let v = pp
            .ok(
                ALICE,
                &id,
                "goto",
                json!({ "url": basic, "waitUntil": wait }),
            )
            .await;
        assert_eq!(v["url"], basic);
    }
    let v = pp.ok(ALICE, &id, "goto", json!({ "url": basic })).await;
    assert_eq!(v["url"], basic);
    assert_eq!(
        pp.ok(ALICE, &id, "title", json!({})).await["title"],
        "Basic page"
    );
    assert_eq!(pp.ok(ALICE, &id, "url", json!({})).await["url"], basic);

    // content: cleaned text by default, markdown, raw html.
    let text = pp.ok(ALICE, &id, "content", json!({})).await;
    assert_eq!(text["format"], "text");
    let t = text["content"].as_str().unwrap();
    assert!(t.contains("Welcome to the fixture shop."), "{t}");
    assert!(!t.contains("Hidden link") && !t.contains("<"), "{t}");
    let md = pp
        .ok(ALICE, &id, "content", json!({ "format": "markdown" }))
        .await;
    let m = md["content"].as_str().unwrap();
    assert!(
        m.contains("# Fixture shop")
            && m.contains("Interact page")
            && m.contains("/capture/interact.html"),
        "{m}"
    );
    let html = pp
        .ok(ALICE, &id, "content", json!({ "format": "html" }))
        .await;
    let h = html["content"].as_str().unwrap();
    assert!(
        h.starts_with("<!DOCTYPE html>") && h.contains("<h1>Fixture shop</h1>"),
        "{}",
        &h[..80]
    );

    // query: fields, attributes under each element's `attributes`, limit, visibleOnly.
    let q = pp
        .ok(ALICE, &id, "query", json!({ "selector": "a.item", "fields": ["text", "href", "tag", "visible", "bbox"], "attributes": ["data-tab", "class"] }))
        .await;
    assert_eq!(q["count"], 3);
    assert_eq!(q["elements"][0]["text"], "Interact page");
    assert_eq!(q["elements"][0]["href"], fx.url("/capture/interact.html"));
    assert_eq!(q["elements"][0]["tag"], "a");
    assert_eq!(q["elements"][0]["attributes"]["data-tab"], "one");
    assert_eq!(q["elements"][2]["visible"], false);
    assert!(q["elements"][0]["bbox"]["width"].as_f64().unwrap() > 0.0);
    let q = pp
        .ok(
            ALICE,
            &id,
            "query",
            json!({ "selector": "a.item", "visibleOnly": true, "limit": 1 }),
        )
        .await;
    assert_eq!(
        (q["count"].as_u64(), q["totalMatched"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        q["elements"][0],
        json!({ "text": "Interact page" }),
        "default field is text"
    );
    let q = pp
        .ok(
            ALICE,
            &id,
            "query",
            json!({ "selector": "img", "fields": ["src", "alt", "title"], "limit": 100000 }),
        )
        .await;
    assert_eq!(q["limit"], 500, "limit is capped at 500");
    assert_eq!(q["elements"][0]["alt"], "A pixel");

    // screenshots: viewport, full page, and attached to another action.
    let shot = pp.ok(ALICE, &id, "screenshot", json!({})).await;
    assert_eq!(shot["contentType"], "image/png");
    assert!(is_png(shot["bodyBase64"].as_str().unwrap()));
    let full = pp
        .ok(ALICE, &id, "screenshot", json!({ "fullPage": true }))
        .await;
    assert!(
        full["bodyBase64"].as_str().unwrap().len() > shot["bodyBase64"].as_str().unwrap().len() / 2
    );
    let with = pp
        .ok(ALICE, &id, "title", json!({ "screenshot": true }))
        .await;
    assert!(
        is_png(with["screenshot"]["bodyBase64"].as_str().unwrap()),
        "{with}"
    );

    // scroll the window and report the position.
    let s = pp
        .ok(
            ALICE,
            &id,
            "scroll",
            json!({ "direction": "down", "amount": 700 }),
        )
        .await;
    assert_eq!(s["scrollY"], 700);
    let s = pp
        .ok(
            ALICE,
            &id,
            "scroll",
            json!({ "direction": "up", "amount": 200 }),
        )
        .await;
    assert_eq!(s["scrollY"], 500);

    // history: click through, back, forward, reload.
    let c = pp
        .ok(ALICE, &id, "click", json!({ "selector": "a.item" }))
        .await;
    assert_eq!(
        c["url"],
        fx.url("/capture/interact.html"),
        "click on a link waits for the new page"
    );
    assert_eq!(pp.ok(ALICE, &id, "back", json!({})).await["url"], basic);
    assert_eq!(
        pp.ok(ALICE, &id, "forward", json!({ "waitUntil": "load" }))
            .await["url"],
        fx.url("/capture/interact.html")
    );
    assert_eq!(
        pp.ok(ALICE, &id, "reload", json!({})).await["url"],
        fx.url("/capture/interact.html")
    );
    let (status, v) = pp.act(ALICE, &id, "forward", json!({})).await;
    assert_eq!(status, 400, "{v}");
    assert!(
        v["error"].as_str().unwrap().contains("cannot go forward"),
        "{v}"
    );

    // console and errors logs.
    let console = pp.ok(ALICE, &id, "console", json!({})).await;
    let entries = console["entries"].as_array().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e["text"] == "interact page ready 42" && e["level"] == "log"),
        "{console}"
    );
    // The reloaded page throws from a setTimeout: wait until it has, then read and clear.
    let boom = |v: &serde_json::Value| {
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["text"].as_str().unwrap().contains("fixture boom"))
            .count()
    };
    let thrown = pp
        .eventually(Duration::from_secs(5), || async {
            boom(&pp.ok(ALICE, &id, "errors", json!({})).await) >= 1
        })
        .await;
    // Each load throws from a setTimeout(0); a load left at once (click then back, on a busy
    // machine) may go before its timer fires, so only the last load's error is certain.
    assert!(thrown, "the reloaded page's uncaught error is logged");
    // An earlier load's timer may still fire on a busy machine: clear once the log is quiet.
    let mut seen = boom(&pp.ok(ALICE, &id, "errors", json!({})).await);
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let now = boom(&pp.ok(ALICE, &id, "errors", json!({})).await);
        if now == seen {
            break;
        }
        seen = now;
    }
    let errors = pp.ok(ALICE, &id, "errors", json!({ "clear": true })).await;
    assert!(boom(&errors) >= 1, "{errors}");
    assert_eq!(
        pp.ok(ALICE, &id, "errors", json!({})).await["count"],
        0,
        "clear empties the log"
    );

    // alert() is accepted automatically and reported; the page goes on.
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": fx.url("/capture/dialog.html") }),
    )
    .await;
    pp.ok(ALICE, &id, "click", json!({ "selector": "#alert" }))
        .await;
    assert_eq!(pp.text(ALICE, &id, "#after").await, "after-alert");
    let console = pp.ok(ALICE, &id, "console", json!({})).await;
    assert!(
        console["entries"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["level"] == "dialog"),
        "{console}"
    );

    let (_, rec) = pp.get(ALICE, &id).await;
    let s = &rec["session"];
    assert!(s["actionCount"].as_u64().unwrap() >= 25);
    assert_eq!(s["actionErrorCount"], 1);
    assert_eq!(
        s["actionBreakdown"]["forward"],
        json!({ "total": 2, "success": 1, "error": 1 })
    );
    assert_eq!(s["actionBreakdown"]["goto"]["success"], 5);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointer_keyboard_and_forms() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp.session(ALICE, json!({ "maxTtlSeconds": 300 })).await;
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": fx.url("/capture/interact.html") }),
    )
    .await;

    // click: a trusted event, with Capture's diagnostics.
    let c = pp
        .ok(ALICE, &id, "click", json!({ "selector": "#btn" }))
        .await;
    assert_eq!(
        (c["matched"].as_bool(), c["visible"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(c["tagName"], "button");
    assert_eq!(c["elementText"], "Press me");
    assert_eq!(c["attributes"]["id"], "btn");
    assert!(c["boundingBox"]["width"].as_f64().unwrap() > 0.0);
    assert!(c["clickedPoint"]["x"].as_f64().is_some());
    assert_eq!(pp.text(ALICE, &id, "#clicks").await, "1");
    assert_eq!(
        pp.text(ALICE, &id, "#trusted").await,
        "true",
        "clicks are trusted input events"
    );

    // A covered element: the click lands where a person's would, and says what is on top.
    let c = pp
        .ok(ALICE, &id, "click", json!({ "selector": "#covered" }))
        .await;
    assert_eq!(c["obscuredBy"], "div#cover", "{c}");

    // hover, move_mouse, cursor_position, drag_mouse.
    let h = pp
        .ok(ALICE, &id, "hover", json!({ "selector": "#hover" }))
        .await;
    assert!(h["hoveredPoint"]["y"].as_f64().is_some());
    assert_eq!(pp.text(ALICE, &id, "#hovered").await, "yes");
    pp.ok(ALICE, &id, "move_mouse", json!({ "x": 12, "y": 34 }))
        .await;
    let p = pp.ok(ALICE, &id, "cursor_position", json!({})).await;
    assert_eq!((p["x"].as_f64(), p["y"].as_f64()), (Some(12.0), Some(34.0)));
    let b = pp
        .ok(
            ALICE,
            &id,
            "query",
            json!({ "selector": "#drag", "fields": ["bbox"] }),
        )
        .await;
    let (x, y) = (
        b["elements"][0]["bbox"]["x"].as_f64().unwrap(),
        b["elements"][0]["bbox"]["y"].as_f64().unwrap(),
    );
    let path: Vec<_> = (0..5)
        .map(|i| json!({ "x": x + 10.0 + 20.0 * i as f64, "y": y + 20.0 }))
        .collect();
    pp.ok(ALICE, &id, "drag_mouse", json!({ "path": path }))
        .await;
    assert_eq!(
        pp.text(ALICE, &id, "#drag-log").await,
        "mousedown,mousemove,mousemove,mousemove,mousemove,mouseup"
    );

    // fill replaces the value; type sends real key events; type_text inserts.
    let f = pp
        .ok(
            ALICE,
            &id,
            "fill",
            json!({ "selector": "#name", "value": "Ada Lovelace" }),
        )
        .await;
    assert_eq!(f["value"], "Ada Lovelace");
    let f = pp
        .ok(
            ALICE,
            &id,
            "fill",
            json!({ "selector": "#notes", "value": "line one" }),
        )
        .await;
    assert_eq!(f["value"], "line one");
    let f = pp
        .ok(
            ALICE,
            &id,
            "fill",
            json!({ "selector": "#date", "value": "2026-11-22" }),
        )
        .await;
    assert_eq!(f["value"], "2026-11-22");
    pp.ok(
        ALICE,
        &id,
        "type",
        json!({ "selector": "#keys", "text": "abc" }),
    )
    .await;
    assert_eq!(pp.text(ALICE, &id, "#keylog").await, "3:true");
    pp.ok(
        ALICE,
        &id,
        "type_text",
        json!({ "selector": "#keys", "text": "XYZ" }),
    )
    .await;
    let v = pp
        .ok(
            ALICE,
            &id,
            "query",
            json!({ "selector": "#keys", "fields": ["value"] }),
        )
        .await;
    assert_eq!(v["elements"][0]["value"], "abcXYZ");
    pp.ok(
        ALICE,
        &id,
        "press",
        json!({ "key": "Backspace", "selector": "#keys" }),
    )
    .await;
    pp.ok(ALICE, &id, "press", json!({ "key": "Shift+ArrowLeft" }))
        .await;
    pp.ok(ALICE, &id, "press", json!({ "key": "Backspace" }))
        .await;
    let v = pp
        .ok(
            ALICE,
            &id,
            "query",
            json!({ "selector": "#keys", "fields": ["value"] }),
        )
        .await;
    assert_eq!(v["elements"][0]["value"], "abcX");

    // select by value and by label, multiple; check and uncheck; radios.
    let s = pp
        .ok(
            ALICE,
            &id,
            "select",
            json!({ "selector": "#color", "value": "g" }),
        )
        .await;
    assert_eq!(s["selected"], json!(["g"]));
    let s = pp
        .ok(
            ALICE,
            &id,
            "select",
            json!({ "selector": "#color", "label": "Blue" }),
        )
        .await;
    assert_eq!(s["selected"], json!(["b"]));
    let s = pp
        .ok(
            ALICE,
            &id,
            "select",
            json!({ "selector": "#sizes", "values": ["s", "Large"] }),
        )
        .await;
    assert_eq!(s["selected"], json!(["s", "l"]));
    let c = pp
        .ok(ALICE, &id, "check", json!({ "selector": "#agree" }))
        .await;
    assert_eq!(
        (c["checked"].as_bool(), c["changed"].as_bool()),
        (Some(true), Some(true))
    );
    let c = pp
        .ok(
            ALICE,
            &id,
            "check",
            json!({ "selector": "#agree", "checked": true }),
        )
        .await;
    assert_eq!(c["changed"], false, "already checked: nothing to do");
    pp.ok(
        ALICE,
        &id,
        "check",
        json!({ "selector": "#agree", "checked": false }),
    )
    .await;
    pp.ok(ALICE, &id, "check", json!({ "selector": "#agree" }))
        .await;
    pp.ok(ALICE, &id, "check", json!({ "selector": "#r2" }))
        .await;
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "check",
            json!({ "selector": "#r2", "checked": false }),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("radio"), "{v}");

    // scroll an element; wait for an element that arrives later; wait_for_timeout clamps.
    let s = pp
        .ok(
            ALICE,
            &id,
            "scroll",
            json!({ "selector": "#scroller", "amount": 50 }),
        )
        .await;
    assert_eq!(s["scrollY"], 50);
    let w = pp
        .ok(
            ALICE,
            &id,
            "wait_for_selector",
            json!({ "selector": "#later", "visible": true }),
        )
        .await;
    assert_eq!(w["matched"], true);
    let t0 = Instant::now();
    let w = pp
        .ok(
            ALICE,
            &id,
            "wait_for_timeout",
            json!({ "timeoutMs": 60000 }),
        )
        .await;
    assert_eq!(
        (w["waitedMs"].as_u64(), w["clamped"].as_bool()),
        (Some(2500), Some(true))
    );
    assert!(t0.elapsed() < Duration::from_secs(10));

    // batch: several actions in one request, in order.
    let b = pp
        .ok(
            ALICE,
            &id,
            "batch",
            json!({ "actions": [
            { "type": "fill", "payload": { "selector": "#name", "value": "Grace" } },
            { "type": "title" },
            { "type": "query", "payload": { "selector": "#name", "fields": ["value"] } },
        ] }),
        )
        .await;
    assert_eq!(b["completed"], 3);
    assert_eq!(b["results"][1]["title"], "Interact");
    assert_eq!(b["results"][2]["elements"][0]["value"], "Grace");
    let b = pp
        .ok(
            ALICE,
            &id,
            "batch",
            json!({ "actions": [
            { "type": "click", "payload": { "selector": "#nope", "timeoutMs": 100 } },
            { "type": "title" },
        ] }),
        )
        .await;
    assert_eq!(
        (b["completed"].as_u64(), b["failed"].as_u64()),
        (Some(0), Some(1)),
        "stops at the first failure: {b}"
    );

    // press Enter in a field submits the form: the answer comes from the new page.
    let p = pp
        .ok(
            ALICE,
            &id,
            "press",
            json!({ "selector": "#name", "key": "Enter" }),
        )
        .await;
    assert!(
        p["url"]
            .as_str()
            .unwrap()
            .contains("/capture/submitted.html?name=Grace"),
        "{p}"
    );
    let q = pp.text(ALICE, &id, "#query").await;
    assert!(
        q.contains("color=b")
            && q.contains("sizes=s")
            && q.contains("sizes=l")
            && q.contains("agree=on")
            && q.contains("plan=pro"),
        "{q}"
    );
    assert!(
        q.contains("notes=line one") && q.contains("date=2026-11-22"),
        "{q}"
    );
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stealth_profile_and_parallel_sessions() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let plain = pp.session(ALICE, json!({})).await;
    let stealth = pp
        .session(ALICE, json!({ "bypassBotDetection": true }))
        .await;
    let url = fx.url("/capture/stealth.html");
    pp.ok(ALICE, &plain, "goto", json!({ "url": url })).await;
    pp.ok(ALICE, &stealth, "goto", json!({ "url": url })).await;
    assert_eq!(pp.text(ALICE, &plain, "#webdriver").await, "true");
    assert!(pp
        .text(ALICE, &plain, "#ua")
        .await
        .contains("HeadlessChrome"));
    assert_eq!(pp.text(ALICE, &stealth, "#webdriver").await, "undefined");
    let ua = pp.text(ALICE, &stealth, "#ua").await;
    assert!(ua.contains("Chrome/") && !ua.contains("Headless"), "{ua}");
    assert_eq!(pp.text(ALICE, &stealth, "#langs").await, "en-US,en");
    let (_, rec) = pp.get(ALICE, &stealth).await;
    assert_eq!(rec["session"]["options"]["bypassBotDetection"], true);

    // Actions on different sessions run in parallel: a short one is not held behind a long
    // wait on another session; on the same session they queue.
    let t0 = Instant::now();
    let long = pp.act(
        ALICE,
        &plain,
        "wait_for_timeout",
        json!({ "timeoutMs": 2000 }),
    );
    let short = async {
        let v = pp.act(ALICE, &stealth, "title", json!({})).await;
        (v, t0.elapsed())
    };
    let ((long_status, _), ((short_status, _), short_took)) = tokio::join!(long, short);
    assert_eq!((long_status, short_status), (200, 200));
    assert!(
        short_took < Duration::from_millis(1500),
        "other session waited {short_took:?}"
    );
    let t0 = Instant::now();
    let a = pp.act(
        ALICE,
        &plain,
        "wait_for_timeout",
        json!({ "timeoutMs": 700 }),
    );
    let b = pp.act(
        ALICE,
        &plain,
        "wait_for_timeout",
        json!({ "timeoutMs": 700 }),
    );
    let _ = tokio::join!(a, b);
    assert!(
        t0.elapsed() >= Duration::from_millis(1400),
        "same-session actions are serialised"
    );
    pp.stop().await;
}
