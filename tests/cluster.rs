//! Several instances sharing sessions through a real redis-server: a session created on one
//! instance is used, listed and closed through the others; limits hold across instances; a
//! dead instance's sessions end in `error`; Redis restarting mid-test is survived.

mod common;

use std::time::Duration;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn three(redis: &RedisServer) -> (Pp, Pp, Pp) {
    let (a, b, c) = tokio::join!(
        Pp::start(cluster_config(redis)),
        Pp::start(cluster_config(redis)),
        Pp::start(cluster_config(redis)),
    );
    (a, b, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_served_from_any_instance() {
    let fx = Fixtures::start().await;
    let redis = RedisServer::start().await;
    let (a, b, c) = three(&redis).await;

    let id = a.session(ALICE, json!({ "maxTtlSeconds": 120 })).await;
    // Act through B and C: routed to A, which holds the browser.
    let page = fx.url("/capture/basic.html");
    let got = b.ok(ALICE, &id, "goto", json!({ "url": page })).await;
    assert_eq!(got["url"], page.as_str());
    assert_eq!(
        c.ok(ALICE, &id, "title", json!({})).await["title"],
        "Basic page"
    );
    // The agent API too (observe through C).
    let (status, obs) = c
        .send(
            Method::POST,
            &format!("/sessions/{id}/page/observe"),
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200, "{obs}");
    assert!(obs["metadata"]["url"]
        .as_str()
        .unwrap_or_default()
        .contains("basic.html"));
    // A bad action through B: the owner's 400 comes back unchanged.
    let (status, err) = b
        .act(
            ALICE,
            &id,
            "click",
            json!({ "selector": "#does-not-exist", "timeoutMs": 100 }),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    // Another tenant, through any instance, sees an unknown session.
    let (status, _) = c.get(BOB, &id).await;
    assert_eq!(status, 404);
    let (status, _) = b.act(BOB, &id, "title", json!({})).await;
    assert_eq!(status, 404);

    // Listed from C.
    let (status, list) = c.send(Method::GET, "/v1/sessions", Some(ALICE), None).await;
    assert_eq!(status, 200);
    assert!(
        list["sessions"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["id"] == id.as_str())),
        "{list}"
    );
    assert_eq!(list["activeSessionCount"], 1);

    // Closed through B; every instance then reads the same final record.
    let (status, closed) = b.delete(ALICE, &id).await;
    assert_eq!(status, 200, "{closed}");
    for pp in [&a, &b, &c] {
        let (_, rec) = pp.get(ALICE, &id).await;
        let s = &rec["session"];
        assert_eq!(s["status"], "closed");
        assert_eq!(s["billedCredits"], 1);
        // goto, title, click (failed), snapshot (observe): counted once each.
        assert_eq!(s["actionCount"], 4, "{s}");
        assert_eq!(s["actionErrorCount"], 1);
        assert_eq!(s["actionBreakdown"]["goto"]["success"], 1);
    }
    let (status, again) = c.delete(ALICE, &id).await;
    assert_eq!(status, 409, "{again}");
    // A's browser released the context: only its pool is left.
    let engine = a.server.as_ref().expect("a").sessions.engine().clone();
    assert!(
        a.eventually(Duration::from_secs(5), || async {
            engine.context_count().await == Some(1)
        })
        .await
    );
    for pp in [a, b, c] {
        pp.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_limit_holds_across_instances() {
    let redis = RedisServer::start().await;
    let (a, b, c) = three(&redis).await;
    let instances = [&a, &b, &c];
    let creates = (0..10).map(|i| {
        let pp = instances[i % 3];
        async move {
            pp.send(Method::POST, "/v1/sessions", Some(ALICE), Some(json!({})))
                .await
        }
    });
    let answers: Vec<(u16, Value)> = futures_util::future::join_all(creates).await;
    let created = answers.iter().filter(|(s, _)| *s == 201).count();
    let refused = answers.iter().filter(|(s, _)| *s == 429).count();
    assert_eq!((created, refused), (5, 5), "{answers:?}");
    let (_, list) = b.send(Method::GET, "/v1/sessions", Some(ALICE), None).await;
    assert_eq!(list["activeSessionCount"], 5);
    for pp in [a, b, c] {
        pp.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instances_sessions_end_in_error() {
    let redis = RedisServer::start().await;
    let (mut a, b, c) = three(&redis).await;
    let one = a.session(ALICE, json!({})).await;
    let two = a.session(BOB, json!({})).await;
    b.ok(ALICE, &one, "title", json!({})).await;

    // A dies without a word: no heartbeat, no HTTP, no browser.
    a.server.take().expect("a").halt().await;
    let ended = b
        .eventually(Duration::from_secs(10), || async {
            b.get(ALICE, &one).await.1["session"]["status"] == "error"
        })
        .await;
    assert!(ended, "A's session did not end within the heartbeat window");
    let (_, rec) = c.get(ALICE, &one).await;
    let s = &rec["session"];
    assert_eq!(s["closeReason"], "owner_lost", "{s}");
    assert_eq!(s["billedCredits"], 1);
    assert_eq!(s["actionCount"], 1);
    // Requests for it answer 409 with the session, from any instance.
    let (status, v) = c.act(ALICE, &one, "title", json!({})).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["session"]["status"], "error");
    let (_, rec) = b.get(BOB, &two).await;
    assert_eq!(rec["session"]["status"], "error");
    // The tenant's slots are free again.
    let fresh = c.session(ALICE, json!({})).await;
    c.ok(ALICE, &fresh, "title", json!({})).await;
    for pp in [b, c] {
        pp.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_restart_mid_test() {
    let mut redis = RedisServer::start().await;
    let (a, b, c) = three(&redis).await;
    let id = a.session(ALICE, json!({})).await;
    b.ok(ALICE, &id, "title", json!({})).await;

    // Redis goes away: requests fail cleanly (503, no panic), on every instance.
    redis.stop();
    for pp in [&a, &b, &c] {
        let (status, v) = pp.act(ALICE, &id, "title", json!({})).await;
        assert_eq!(status, 503, "{v}");
        assert!(
            v["error"]
                .as_str()
                .unwrap_or_default()
                .contains("unavailable"),
            "{v}"
        );
        let (status, _) = pp
            .send(Method::POST, "/v1/sessions", Some(ALICE), Some(json!({})))
            .await;
        assert_eq!(status, 503);
    }
    // Longer than the heartbeat window: every heartbeat lapses meanwhile, yet nobody is judged
    // dead for it once Redis is back.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // It comes back (same data): later requests succeed, the session is intact.
    redis.restart().await;
    let back = b
        .eventually(Duration::from_secs(10), || async {
            b.act(ALICE, &id, "title", json!({})).await.0 == 200
        })
        .await;
    assert!(back, "requests did not recover after redis returned");
    let (_, rec) = c.get(ALICE, &id).await;
    assert_eq!(rec["session"]["status"], "active", "{rec}");
    // A session created on C after the outage, used through A: until C's next heartbeat
    // A answers 503 "retry shortly", then it is routed.
    let fresh = c.session(ALICE, json!({})).await;
    let routed = a
        .eventually(Duration::from_secs(10), || async {
            a.act(ALICE, &fresh, "title", json!({})).await.0 == 200
        })
        .await;
    assert!(
        routed,
        "a new session was not reachable through another instance"
    );
    for pp in [a, b, c] {
        pp.stop().await;
    }
}

#[tokio::test]
async fn an_unreachable_redis_at_start_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let mut cfg = config();
    cfg.redis_url = Some(format!("redis://127.0.0.1:{port}/0"));
    let err = pagepilot::start(cfg).await.err().expect("refused");
    assert!(err.contains("cannot reach redis"), "{err}");
    let mut cfg = config();
    cfg.redis_url = Some("http://not-redis".into());
    let err = pagepilot::start(cfg).await.err().expect("refused");
    assert!(err.contains("redis_url"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ended_records_are_capped_across_the_cluster() {
    let redis = RedisServer::start().await;
    let capped = || pagepilot::config::Config {
        max_ended_records: 3,
        ..cluster_config(&redis)
    };
    let (a, b) = tokio::join!(Pp::start(capped()), Pp::start(capped()));
    let mut ended = Vec::new();
    for i in 0..5 {
        let pp = if i % 2 == 0 { &a } else { &b };
        let id = pp.session(ALICE, json!({})).await;
        pp.delete(ALICE, &id).await;
        ended.push(id);
    }
    let (_, list) = b.send(Method::GET, "/v1/sessions", Some(ALICE), None).await;
    let listed: Vec<&str> = list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(listed, [&ended[4], &ended[3], &ended[2]], "{list}");
    // The dropped records are gone, not only unlisted.
    let (status, _) = a.get(ALICE, &ended[0]).await;
    assert_eq!(status, 404);
    for pp in [a, b] {
        pp.stop().await;
    }
}

/// An MCP tool call on an instance that does not hold the session's browser is made on the one
/// that does (with the caller's own token); another tenant still sees an unknown session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_mcp_call_on_any_instance_reaches_the_sessions_browser() {
    use rmcp::model::CallToolRequestParams;
    let fx = Fixtures::start().await;
    let redis = RedisServer::start().await;
    let (a, b) = tokio::join!(
        Pp::start(cluster_config(&redis)),
        Pp::start(cluster_config(&redis))
    );
    let id = a.session(ALICE, json!({ "maxTtlSeconds": 120 })).await;
    let page = fx.url("/agent/login.html");
    a.ok(ALICE, &id, "goto", json!({ "url": page })).await;

    let call = |who: (&'static str, &'static str), tool: &'static str, args: Value| {
        let url = format!("{}/mcp", b.base);
        async move {
            let client = pagepilot::api::mcp_remote::connect(&url, &token(who), false)
                .await
                .expect("an MCP connection to B");
            let Value::Object(args) = args else {
                panic!("arguments are an object")
            };
            let r = client
                .call_tool(CallToolRequestParams::new(tool).with_arguments(args))
                .await
                .expect("B answers");
            let _ = client.cancel().await;
            r
        }
    };
    let text = |r: &rmcp::model::CallToolResult| {
        r.content
            .iter()
            .filter_map(|c| c.as_text().map(|t| t.text.clone()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let seen = call(ALICE, "observe", json!({ "session_id": id })).await;
    assert_ne!(seen.is_error, Some(true), "{}", text(&seen));
    assert!(text(&seen).contains("Email address"), "{}", text(&seen));
    assert_eq!(
        seen.structured_content.as_ref().map(|s| s["url"].clone()),
        Some(Value::from(page.as_str()))
    );
    let stepped = call(
        ALICE,
        "step",
        json!({ "session_id": id, "action_id": "I1", "value": "ada@example.com" }),
    )
    .await;
    assert!(
        text(&stepped).contains("value \"ada@example.com\""),
        "{}",
        text(&stepped)
    );
    let refused = call(BOB, "observe", json!({ "session_id": id })).await;
    assert_eq!(refused.is_error, Some(true));
    assert!(text(&refused).contains("not found"), "{}", text(&refused));
    // The step ran on A's browser: A's own answer shows the value.
    let value = a
        .ok(
            ALICE,
            &id,
            "evaluate",
            json!({ "expression": "document.querySelector('input[name=user]').value" }),
        )
        .await;
    assert_eq!(value["value"], "ada@example.com", "{value}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_saved_on_one_instance_starts_a_session_on_another() {
    let fx = Fixtures::start().await;
    let redis = RedisServer::start().await;
    let (a, b) = tokio::join!(
        Pp::start(cluster_config(&redis)),
        Pp::start(cluster_config(&redis))
    );
    let id = signed_in_session(&a, &fx).await;
    a.ok(ALICE, &id, "save_profile", json!({ "name": "shared" }))
        .await;

    // Redis holds it sealed: neither the session cookie nor the stored user in clear.
    let client = redis::Client::open(redis.url()).expect("redis client");
    let mut conn = client
        .get_multiplexed_async_connection()
        .await
        .expect("redis connection");
    let sealed: Vec<u8> = redis::AsyncCommands::hget(&mut conn, "pp:p:alice", "shared")
        .await
        .expect("sealed profile");
    assert!(sealed.len() > 40, "{} bytes", sealed.len());
    for clear in [&b"sid"[..], b"alice", b"tab-of", b"dark"] {
        assert!(
            !sealed.windows(clear.len()).any(|w| w == clear),
            "`{}` in clear",
            String::from_utf8_lossy(clear)
        );
    }

    // B lists it and starts a session from it, signed in; Bob sees nothing of it.
    let (_, list) = b.send(Method::GET, "/v1/profiles", Some(ALICE), None).await;
    assert_eq!(list["profiles"][0]["name"], "shared", "{list}");
    let (status, created) = b
        .send(
            Method::POST,
            "/v1/sessions",
            Some(ALICE),
            Some(json!({ "profile": "shared" })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let on_b = created["session"]["id"].as_str().expect("id").to_string();
    b.ok(
        ALICE,
        &on_b,
        "goto",
        json!({ "url": fx.url("/capture/account.html") }),
    )
    .await;
    assert_eq!(b.text(ALICE, &on_b, "#who").await, SIGNED_IN);
    let (status, _) = b
        .send(
            Method::POST,
            "/v1/sessions",
            Some(BOB),
            Some(json!({ "profile": "shared" })),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = a
        .send(Method::DELETE, "/v1/profiles/shared", Some(ALICE), None)
        .await;
    assert_eq!(status, 200);
    let (_, list) = b.send(Method::GET, "/v1/profiles", Some(ALICE), None).await;
    assert_eq!(list["profiles"], json!([]), "{list}");
    a.stop().await;
    b.stop().await;
}
