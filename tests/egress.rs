//! The egress proxy is the navigation policy's one chokepoint: every route a page has to a
//! refused host ends there, including the ones CDP interception never sees on the page's
//! own target (popups before adoption, form posts into popups, page WebSockets, shared and
//! service workers, beacons), and names that resolve to a refused address.

mod common;

use std::time::Duration;

use common::{config, enc, Fixtures, Pp, ALICE};
use serde_json::json;

/// Every path `escape.html` asks the far host for, one per route out of the page.
const ROUTES: [&str; 12] = [
    "/blank",
    "/window-open",
    "/popup-post",
    "/ghost",
    "/websocket",
    "/named-websocket",
    "/named-fetch",
    "/shared-worker",
    "/worker",
    "/service-worker",
    "/beacon",
    "/event-source",
];

/// Opens the escape page and takes every route once: the load-time ones, then each click
/// from the first tab (a click that opens a popup makes the popup the active tab).
async fn take_every_route(pp: &Pp, fx: &Fixtures) -> String {
    let id = pp.session(ALICE, json!({})).await;
    let page = fx.url(&format!(
        "/hostile/escape.html?to={}&named={}",
        enc(&fx.denied_url("")),
        enc(&format!("http://secret.test:{}", fx.denied_port()))
    ));
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": page, "waitUntil": "load" }),
    )
    .await;
    for button in ["#blank", "#open", "#post", "#ghost"] {
        pp.ok(ALICE, &id, "switch_tab", json!({ "index": 0 })).await;
        pp.ok(ALICE, &id, "click", json!({ "selector": button }))
            .await;
    }
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_out_of_a_page_passes_the_policy() {
    let fx = Fixtures::start().await;

    // Control: with nothing denied, every route reaches the far host, so the refusals
    // below are the policy's doing and not a route that never fired.
    let mut open = config();
    open.deny_hosts = vec![];
    open.hosts = vec!["secret.test=127.0.0.2".into()];
    let pp = Pp::start(open).await;
    take_every_route(&pp, &fx).await;
    let all_arrived = pp
        .eventually(Duration::from_secs(10), || async {
            let seen = fx.denied_paths();
            ROUTES.iter().all(|r| seen.iter().any(|p| p == r))
        })
        .await;
    assert!(all_arrived, "every route fires: {:?}", fx.denied_paths());
    pp.stop().await;

    // The same routes with the far host denied by address: none of its bytes may arrive,
    // by any route, by IP literal or by a name that resolves to it.
    let before = fx.denied_hits();
    let mut strict = config();
    strict.hosts = vec!["secret.test=127.0.0.2".into()];
    let pp = Pp::start(strict).await;
    let id = take_every_route(&pp, &fx).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fx.denied_hits(),
        before,
        "nothing reached the denied host: {:?}",
        &fx.denied_paths()[before..]
    );
    // The session is fine, and says what it refused.
    let errors = pp.ok(ALICE, &id, "errors", json!({})).await;
    assert!(
        errors["entries"]
            .as_array()
            .expect("entries")
            .iter()
            .any(|e| e["level"] == "blocked"),
        "{errors}"
    );
    pp.ok(ALICE, &id, "switch_tab", json!({ "index": 0 })).await;
    pp.ok(ALICE, &id, "title", json!({})).await;
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_resolving_to_a_refused_address_is_refused_for_both_clients() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.hosts = vec!["secret.test=127.0.0.2".into()];
    let pp = Pp::start(cfg).await;
    let url = format!("http://secret.test:{}/named-goto", fx.denied_port());
    let id = pp.session(ALICE, json!({})).await;
    let (status, v) = pp.act(ALICE, &id, "goto", json!({ "url": url })).await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"].as_str().unwrap_or("").contains("denied"), "{v}");
    let (mut ws, _) = common::Ws::open(&pp, ALICE, json!({ "client": "standard" })).await;
    let got = ws.call(json!({ "action": "goto", "url": url })).await;
    assert_eq!(got["type"], "error", "{got}");
    assert_eq!(fx.denied_hits(), 0);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webrtc_sends_no_udp_around_the_proxy() {
    let fx = Fixtures::start().await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.2:0")
        .await
        .expect("bind udp");
    let stun = udp.local_addr().expect("udp addr");
    let pp = Pp::default().await;
    let id = pp.session(ALICE, json!({})).await;
    let page = fx.url(&format!("/hostile/webrtc.html?stun={stun}"));
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": page, "waitUntil": "load" }),
    )
    .await;
    let mut buf = [0u8; 1500];
    let got = tokio::time::timeout(Duration::from_secs(4), udp.recv_from(&mut buf)).await;
    assert!(got.is_err(), "a STUN datagram reached {stun}: {got:?}");
    assert_ne!(pp.text(ALICE, &id, "#status").await, "pending");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_targets_keep_their_own_network_errors_behind_the_proxy() {
    let pp = Pp::default().await;
    let id = pp.session(ALICE, json!({})).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    for (url, error) in [
        (
            format!("http://127.0.0.1:{closed}/"),
            "ERR_CONNECTION_REFUSED",
        ),
        // https reaches the proxy as CONNECT: Chromium sees only a failed tunnel.
        (
            format!("https://127.0.0.1:{closed}/"),
            "ERR_CONNECTION_REFUSED",
        ),
        ("http://nowhere.invalid/".into(), "ERR_NAME_NOT_RESOLVED"),
        ("https://nowhere.invalid/".into(), "ERR_NAME_NOT_RESOLVED"),
    ] {
        let (status, v) = pp.act(ALICE, &id, "goto", json!({ "url": url })).await;
        assert_eq!(status, 502, "{url}: {v}");
        let text = v["error"].as_str().unwrap_or_default();
        assert!(text.contains(error), "{url}: {v}");
    }
    // The standard client names them the same way, after its retries.
    let (mut ws, _) = common::Ws::open(&pp, ALICE, json!({ "client": "standard" })).await;
    for scheme in ["http", "https"] {
        let url = format!("{scheme}://127.0.0.1:{closed}/");
        let got = ws.call(json!({ "action": "goto", "url": url })).await;
        assert_eq!(got["type"], "error", "{got}");
        assert!(got.to_string().contains("ERR_CONNECTION_REFUSED"), "{got}");
    }
    pp.stop().await;
}
