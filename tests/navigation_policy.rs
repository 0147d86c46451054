//! The navigation policy holds for every request a page makes, not only for goto.

mod common;

use std::time::Duration;

use common::{config, Fixtures, Pp, ALICE};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_iframes_and_fetches_to_refused_hosts_are_blocked() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp.session(ALICE, json!({})).await;

    // goto straight to a denied host: refused before the browser moves.
    let (status, v) = pp
        .act(
            ALICE,
            &id,
            "goto",
            json!({ "url": fx.denied_url("/secret") }),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap().contains("denied"), "{v}");

    // A redirect (302, then 301) from an allowed page to the denied host.
    for code in [302, 301] {
        let target = fx.denied_url("/secret");
        let url = fx.url(&format!("/redirect?code={code}&to={}", urlencode(&target)));
        let (status, v) = pp.act(ALICE, &id, "goto", json!({ "url": url })).await;
        assert_eq!(status, 400, "{code}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("refused by the navigation policy"),
            "{v}"
        );
    }

    // An iframe and a fetch() to the denied host from an allowed page.
    let page = fx.url(&format!(
        "/capture/frame-denied.html?target={}",
        urlencode(&fx.denied_url("/secret"))
    ));
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": page, "waitUntil": "load" }),
    )
    .await;
    let settled = pp
        .eventually(Duration::from_secs(5), || async {
            pp.text(ALICE, &id, "#status").await != "pending"
        })
        .await;
    assert!(settled);
    assert_eq!(pp.text(ALICE, &id, "#status").await, "fetch-failed");
    let html = pp
        .ok(ALICE, &id, "content", json!({ "format": "html" }))
        .await;
    assert!(!html["content"]
        .as_str()
        .unwrap()
        .contains("SECRET-FROM-DENIED-HOST"));
    let errors = pp.ok(ALICE, &id, "errors", json!({})).await;
    let blocked = errors["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["level"] == "blocked")
        .count();
    assert!(blocked >= 2, "iframe and fetch both refused: {errors}");

    assert_eq!(
        fx.denied_hits(),
        0,
        "no request ever reached the denied host"
    );
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_network_is_refused_unless_allowed() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.allow_private_network = false;
    let pp = Pp::start(cfg).await;
    let id = pp.session(ALICE, json!({})).await;
    for url in [
        fx.url("/capture/basic.html"),
        "http://localhost:9/".to_string(),
        "http://10.0.0.1/".into(),
        "http://[::1]:9/".into(),
    ] {
        let (status, v) = pp.act(ALICE, &id, "goto", json!({ "url": url })).await;
        assert_eq!(status, 400, "{url}: {v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap()
                .contains("--allow-private-network"),
            "{v}"
        );
    }
    pp.ok(ALICE, &id, "goto", json!({ "url": "about:blank" }))
        .await;
    pp.stop().await;
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
