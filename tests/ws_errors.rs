//! WebSocket sessions: authentication at the upgrade, every error frame (non-fatal ones leave
//! the session usable; fatal ones are the last frame), and sessions ending under a socket.

mod common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::{json, Value};

fn message(v: &Value) -> String {
    v["message"].as_str().unwrap_or_default().to_string()
}

/// Sends `open` on a fresh socket and expects a fatal frame whose message holds `needle`.
async fn refused_open(pp: &Pp, open: &str, needle: &str) {
    let mut ws = Ws::connect(pp, ALICE).await;
    ws.send_text(open.to_string()).await;
    let v = ws.recv().await;
    assert_eq!(v["type"], "fatal", "{open}: {v}");
    assert_eq!(v["code"], 400, "{v}");
    assert!(message(&v).contains(needle), "{open}: {v}");
    ws.expect_closed().await;
}

async fn session_count(pp: &Pp, who: (&str, &str)) -> usize {
    let (_, v) = pp
        .send(reqwest::Method::GET, "/v1/sessions", Some(who), None)
        .await;
    v["sessions"].as_array().map_or(0, Vec::len)
}

async fn access_token(pp: &Pp, client: (&str, &str)) -> String {
    let v: Value = pp
        .http
        .post(format!("{}/oauth/token", pp.base))
        .basic_auth(client.0, Some(client.1))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("token request")
        .json()
        .await
        .expect("token json");
    v["access_token"]
        .as_str()
        .expect("access_token")
        .to_string()
}

#[tokio::test]
async fn upgrade_auth_handshake_and_frame_errors() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.ws_frame_limit_bytes = 4096;
    let pp = Pp::start(cfg).await;

    // The upgrade takes the same bearer tokens as every endpoint, and X-Tenant-Id must match.
    assert_eq!(
        Ws::connect_with(&pp, "not-a-token", &[]).await.err(),
        Some(401)
    );
    assert_eq!(
        Ws::connect_with(&pp, &token(ALICE), &[("x-tenant-id", "bob")])
            .await
            .err(),
        Some(403)
    );
    // A plain GET (no upgrade) gets a JSON error saying what the endpoint speaks.
    let (status, v) = pp
        .send(reqwest::Method::GET, "/v1/sessions/ws", Some(ALICE), None)
        .await;
    assert!((400..500).contains(&status), "{status}");
    assert!(
        v["error"]
            .as_str()
            .unwrap_or_default()
            .contains("WebSocket"),
        "{v}"
    );
    let jwt = access_token(&pp, ALICE_CLIENT).await;
    assert_eq!(
        Ws::connect_with(&pp, &jwt, &[("x-tenant-id", "bob")])
            .await
            .err(),
        Some(403)
    );
    let mut ws = Ws::connect_with(&pp, &jwt, &[("x-tenant-id", "alice")])
        .await
        .expect("matching tenant opens");
    ws.send(&json!({})).await;
    let opened = ws.recv().await;
    assert!(opened["session_id"].is_string(), "{opened}");
    drop(ws);
    assert_eq!(session_count(&pp, BOB).await, 0, "bob sees none of alice's");

    // Bad open frames: a fatal frame naming the field, then a close, and no session.
    let before = session_count(&pp, ALICE).await;
    let before_handshake = json!({ "action": "goto", "url": fx.url("/") }).to_string();
    for (open, needle) in [
        (r#"{"timeout": "soon"}"#, "timeout"),
        (r#"{"client": "netscape"}"#, "client"),
        (r#"{"client": {"type": "standard", "gpu": true}}"#, "gpu"),
        (r#"{"max_redirects": "ten"}"#, "max_redirects"),
        (r#"{"proxies": ["eu"]}"#, "proxies[0]"),
        (
            r#"{"middleware": [{"type": "mutate_json_body", "set": {}}]}"#,
            "mutate_json_body",
        ),
        (
            r#"{"middleware": [{"type": "mutate_headers", "set": [["Host", "evil"]]}]}"#,
            "middleware[0].set[0]",
        ),
        ("not json", "not JSON"),
        (before_handshake.as_str(), "before the handshake"),
    ] {
        refused_open(&pp, open, needle).await;
    }
    assert_eq!(session_count(&pp, ALICE).await, before);

    // After the handshake, bad frames answer non-fatal errors and the session goes on.
    let (mut ws, id) = Ws::open(&pp, ALICE, json!({})).await;
    for (frame, needle) in [
        ("{oops".to_string(), "not JSON"),
        (
            json!({ "action": "fly" }).to_string(),
            "unknown action `fly`",
        ),
        (json!({ "action": "goto" }).to_string(), "url"),
        (
            json!({ "action": "goto", "url": "nope" }).to_string(),
            "url",
        ),
        (
            json!({ "action": "goto", "url": fx.url("/"), "method": "BREW" }).to_string(),
            "method",
        ),
        (
            json!({ "action": "goto", "url": fx.url("/"), "body": "%%%", "method": "POST" })
                .to_string(),
            "body",
        ),
        (
            json!({ "action": "fill", "selector": "#a" }).to_string(),
            "value",
        ),
        (json!({ "url": "x" }).to_string(), "action"),
        (json!({ "action": "content" }).to_string(), "goto first"),
        (
            json!({ "action": "content", "extra": 1 }).to_string(),
            "extra",
        ),
        ("x".repeat(10_000), "ws_frame_limit_bytes"),
        // Nothing listens on port 1: the connection is retried max_retries times, then fails.
        (
            json!({ "action": "goto", "url": "http://127.0.0.1:1/" }).to_string(),
            "after 4 attempts",
        ),
    ] {
        ws.send_text(frame.clone()).await;
        let v = ws.recv().await;
        assert_eq!(v["type"], "error", "{frame:.80}: {v}");
        assert!(v["code"].as_u64().is_some(), "{v}");
        assert!(message(&v).contains(needle), "{frame:.80}: {v}");
    }
    let ok = ws
        .call(json!({ "action": "goto", "url": fx.url("/ws/landing.html") }))
        .await;
    assert_eq!(ok["status_code"], 200, "{ok}");
    // The policy refuses a denied host, on the first hop and on a redirect.
    let denied = ws
        .call(json!({ "action": "goto", "url": fx.denied_url("/") }))
        .await;
    assert_eq!(denied["type"], "error");
    let via = fx.url(&format!(
        "/redirect?to={}",
        url::form_urlencoded::byte_serialize(fx.denied_url("/x").as_bytes()).collect::<String>()
    ));
    let denied = ws.call(json!({ "action": "goto", "url": via })).await;
    assert_eq!(denied["type"], "error", "{denied}");
    assert_eq!(fx.denied_hits(), 0);
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "active");

    // A dropped socket (no close frame) ends the session and releases its browser context.
    let engine = pp
        .server
        .as_ref()
        .expect("server")
        .sessions
        .engine()
        .clone();
    let baseline = engine.context_count().await.expect("contexts");
    let (ws2, id2) = Ws::open(&pp, ALICE, json!({ "client": "browser" })).await;
    assert!(
        pp.eventually(Duration::from_secs(5), || async {
            engine.context_count().await == Some(baseline + 1)
        })
        .await,
        "the pool refills after the session took a page"
    );
    let dropped = Instant::now();
    drop(ws2);
    let released = pp
        .eventually(Duration::from_secs(3), || async {
            engine.context_count().await == Some(baseline)
        })
        .await;
    assert!(released, "context not released");
    eprintln!(
        "context released {} ms after the drop",
        dropped.elapsed().as_millis()
    );
    let (_, rec) = pp.get(ALICE, &id2).await;
    assert_eq!(rec["session"]["status"], "closed");
    assert_eq!(rec["session"]["closeReason"], "client_disconnected");
    drop(ws);
    pp.stop().await;
}

#[tokio::test]
async fn sessions_ending_under_the_socket_send_fatal_frames() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.ws_idle_timeout_seconds = 3;
    cfg.max_sessions_per_tenant = 2;
    let pp = Pp::start(cfg).await;

    // The session's TTL runs out (pagepilot's `ttl` extension of the open frame).
    let (mut ws, id) = Ws::open(&pp, ALICE, json!({ "ttl": "1s" })).await;
    let v = ws.recv().await;
    assert_eq!(v["type"], "fatal", "{v}");
    assert_eq!(v["code"], 410);
    assert!(message(&v).contains("TTL"), "{v}");
    ws.expect_closed().await;
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "expired");

    // No frame for ws_idle_timeout_seconds.
    let (mut ws, id) = Ws::open(&pp, ALICE, json!({})).await;
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/landing.html") }))
        .await;
    let v = ws.recv().await;
    assert_eq!(v["type"], "fatal", "{v}");
    assert_eq!(v["code"], 408);
    ws.expect_closed().await;
    let (_, rec) = pp.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "expired");
    assert_eq!(rec["session"]["closeReason"], "idle_timeout");
    assert_eq!(rec["session"]["actionCount"], 1);

    // The tenant's limit holds for sockets as for REST sessions.
    let (_a, _) = Ws::open(&pp, ALICE, json!({})).await;
    let (_b, _) = Ws::open(&pp, ALICE, json!({})).await;
    let mut c = Ws::connect(&pp, ALICE).await;
    c.send(&json!({})).await;
    let v = c.recv().await;
    assert_eq!(v["type"], "fatal", "{v}");
    assert_eq!(v["code"], 429);
    c.expect_closed().await;

    // The browser dies: a fatal frame, then a close.
    let (mut ws, id) = Ws::open(&pp, BOB, json!({ "client": "browser" })).await;
    ws.call(json!({ "action": "goto", "url": fx.url("/ws/landing.html") }))
        .await;
    let pid = pp.health().await["browser"]["pid"]
        .as_u64()
        .expect("browser pid") as i32;
    // SAFETY: kill(2) on the test's own Chromium child.
    unsafe {
        libc::kill(pid, libc::SIGKILL);
    }
    let v = ws.recv().await;
    assert_eq!(v["type"], "fatal", "{v}");
    assert_eq!(v["code"], 502);
    ws.expect_closed().await;
    let (_, rec) = pp.get(BOB, &id).await;
    assert_eq!(rec["session"]["status"], "error");

    // Server shutdown: every socket gets a fatal frame before the process goes.
    let (mut ws, _) = Ws::open(&pp, BOB, json!({})).await;
    let stopping = tokio::spawn(pp.stop());
    let v = ws.recv().await;
    assert_eq!(v["type"], "fatal", "{v}");
    assert_eq!(v["code"], 503);
    ws.expect_closed().await;
    stopping.await.expect("stopped");
}
