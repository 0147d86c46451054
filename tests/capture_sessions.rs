//! Session lifecycle: TTL expiry and credits, limits, tenant isolation, browser death.

mod common;

use std::time::Duration;

use common::{config, stand_in_proxy, Fixtures, Pp, ALICE, BOB};
use reqwest::Method;
use serde_json::{json, Value};

fn kill9(pid: u64) {
    // SAFETY: sends a signal to the browser process the server reported.
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

async fn contexts(pp: &Pp) -> u64 {
    pp.health().await["browserContexts"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expiry_credits_and_release() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let health = pp.health().await;
    assert_eq!(health["status"], "ok");
    assert_eq!(health["browser"]["alive"], true);

    // Over the cap: capped, not refused.
    let (status, v) = pp
        .send(
            Method::POST,
            "/v1/sessions",
            Some(ALICE),
            Some(json!({ "maxTtlSeconds": 5000 })),
        )
        .await;
    assert_eq!(status, 201, "{v}");
    assert_eq!(v["session"]["options"]["maxTtlSeconds"], 900);
    assert_eq!(v["session"]["maxTtlSeconds"], 900);
    assert_eq!(v["session"]["status"], "active");
    assert!(v["session"]["id"].as_str().unwrap().starts_with("sess_"));
    let long = v["session"]["id"].as_str().unwrap().to_string();
    // The body may be omitted: defaults.
    let resp = pp
        .http
        .post(format!("{}/v1/sessions", pp.base))
        .bearer_auth(common::token(ALICE))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let dflt: Value = resp.json().await.unwrap();
    let dflt = dflt["session"]["id"].as_str().unwrap().to_string();

    let short = pp.session(ALICE, json!({ "maxTtlSeconds": 1 })).await;
    pp.ok(
        ALICE,
        &short,
        "goto",
        json!({ "url": fx.url("/capture/basic.html") }),
    )
    .await;
    let expired = pp
        .eventually(Duration::from_secs(4), || async {
            pp.get(ALICE, &short).await.1["session"]["status"] == "expired"
        })
        .await;
    assert!(expired, "a 1 s session expires within a second or so");
    let (_, v) = pp.get(ALICE, &short).await;
    let s = &v["session"];
    assert_eq!(s["closeReason"], "expired");
    assert_eq!(s["billedCredits"], 1);
    assert_eq!(s["actionCount"], 1);
    assert!(s["closedAt"].is_string() && s["startedAt"].is_string());
    assert_eq!(v["expiresInSeconds"], 0);
    let (status, v) = pp.act(ALICE, &short, "title", json!({})).await;
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["session"]["status"], "expired");
    let (status, _) = pp.delete(ALICE, &short).await;
    assert_eq!(status, 409, "closing an expired session");
    let (_, v) = pp.get(ALICE, &short).await;
    assert_eq!(v["session"]["billedCredits"], 1, "charged exactly once");

    // Closing releases the browser context: only the pool's remain.
    pp.delete(ALICE, &long).await;
    pp.delete(ALICE, &dflt).await;
    let released = pp
        .eventually(Duration::from_secs(5), || async {
            contexts(&pp).await == 1
        })
        .await;
    assert!(released, "contexts left: {}", contexts(&pp).await);

    let (_, list) = pp
        .send(Method::GET, "/v1/sessions", Some(ALICE), None)
        .await;
    assert_eq!(list["sessions"].as_array().unwrap().len(), 3);
    assert_eq!(list["activeSessionCount"], 0);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_and_tenant_isolation() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.max_sessions_per_tenant = 2;
    cfg.max_sessions = 3;
    let pp = Pp::start(cfg).await;

    let a1 = pp.session(ALICE, json!({})).await;
    let _a2 = pp.session(ALICE, json!({})).await;
    let (status, v) = pp
        .send(Method::POST, "/v1/sessions", Some(ALICE), Some(json!({})))
        .await;
    assert_eq!(status, 429, "{v}");
    assert_eq!(
        (
            v["activeSessionCount"].as_u64(),
            v["maxConcurrentSessions"].as_u64()
        ),
        (Some(2), Some(2))
    );
    assert_eq!(v["success"], false);

    let b1 = pp.session(BOB, json!({})).await;
    let (status, v) = pp
        .send(Method::POST, "/v1/sessions", Some(BOB), Some(json!({})))
        .await;
    assert_eq!(status, 429, "global limit: {v}");
    assert_eq!(v["maxConcurrentSessions"], 3);

    pp.ok(
        ALICE,
        &a1,
        "goto",
        json!({ "url": fx.url("/capture/interact.html") }),
    )
    .await;
    pp.ok(
        ALICE,
        &a1,
        "fill",
        json!({ "selector": "#name", "value": "alice's" }),
    )
    .await;

    // Bob on Alice's session answers exactly like an unknown id.
    let ghost = "sess_00000000-0000-0000-0000-000000000000";
    for (m, suffix, body) in [
        (Method::GET, "", None),
        (Method::DELETE, "", None),
        (
            Method::POST,
            "/actions",
            Some(json!({ "type": "goto", "payload": { "url": fx.url("/capture/basic.html") } })),
        ),
    ] {
        let theirs = pp
            .send(
                m.clone(),
                &format!("/v1/sessions/{a1}{suffix}"),
                Some(BOB),
                body.clone(),
            )
            .await;
        let unknown = pp
            .send(
                m.clone(),
                &format!("/v1/sessions/{ghost}{suffix}"),
                Some(BOB),
                body,
            )
            .await;
        assert_eq!(theirs.0, 404, "{m} {suffix}");
        assert_eq!(
            theirs, unknown,
            "{m} {suffix}: indistinguishable from an unknown id"
        );
    }
    let (_, list) = pp.send(Method::GET, "/v1/sessions", Some(BOB), None).await;
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b1.as_str()]);

    // Alice's session is untouched.
    let v = pp
        .ok(
            ALICE,
            &a1,
            "query",
            json!({ "selector": "#name", "fields": ["value"] }),
        )
        .await;
    assert_eq!(v["elements"][0]["value"], "alice's");
    let (_, rec) = pp.get(ALICE, &a1).await;
    assert_eq!(rec["session"]["status"], "active");
    assert_eq!(rec["session"]["actionCount"], 3);

    // A freed slot can be used again.
    pp.delete(ALICE, &a1).await;
    pp.session(ALICE, json!({})).await;
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_killed_mid_session() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/basic.html") }))
        .await;
    let pid = pp.health().await["browser"]["pid"].as_u64().unwrap();

    // A slow action is in flight when the browser dies: it fails at once, not at a timeout.
    let slow = pp.act(
        ALICE,
        &id,
        "wait_for_selector",
        json!({ "selector": "#never", "timeoutMs": 20000 }),
    );
    let kill = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        kill9(pid);
    };
    let started = std::time::Instant::now();
    let ((status, v), _) = tokio::join!(slow, kill);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "in-flight action failed fast: {:?}",
        started.elapsed()
    );
    assert_eq!(status, 409, "{v}");
    assert_eq!(v["session"]["status"], "error");

    let (_, v) = pp.get(ALICE, &id).await;
    assert_eq!(v["session"]["status"], "error");
    assert_eq!(v["session"]["closeReason"], "browser_crashed");
    assert!(v["session"]["error"].as_str().unwrap().len() > 3);
    assert_eq!(v["session"]["billedCredits"], 1);

    // The next session gets a relaunched browser and works.
    let next = pp.session(ALICE, json!({})).await;
    let v = pp
        .ok(
            ALICE,
            &next,
            "goto",
            json!({ "url": fx.url("/capture/basic.html") }),
        )
        .await;
    assert_eq!(v["url"], fx.url("/capture/basic.html"));
    let health = pp.health().await;
    assert_ne!(health["browser"]["pid"].as_u64().unwrap(), pid);
    assert_eq!(health["browser"]["generation"], 2);
    assert_eq!(health["status"], "ok");

    // A session idle when the browser dies is marked error too, without any request.
    let idle = pp.session(BOB, json!({})).await;
    let pid = pp.health().await["browser"]["pid"].as_u64().unwrap();
    kill9(pid);
    let errored = pp
        .eventually(Duration::from_secs(5), || async {
            pp.get(BOB, &idle).await.1["session"]["status"] == "error"
        })
        .await;
    assert!(errored);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_sessions_use_the_operators_upstream_proxy() {
    let fx = Fixtures::start().await;
    let (proxy, seen) = stand_in_proxy().await;

    let mut cfg = config();
    cfg.proxy_server = Some(format!("http://{proxy}"));
    let pp = Pp::start(cfg).await;
    let page = fx.url("/capture/basic.html");
    let direct = pp.session(ALICE, json!({})).await;
    let proxied = pp.session(ALICE, json!({ "proxy": true })).await;
    pp.ok(ALICE, &direct, "goto", json!({ "url": page })).await;
    pp.ok(ALICE, &proxied, "goto", json!({ "url": page })).await;
    assert_eq!(
        pp.ok(ALICE, &direct, "title", json!({})).await["title"],
        "Basic page"
    );
    assert_eq!(
        pp.ok(ALICE, &proxied, "title", json!({})).await["title"],
        "via proxy"
    );
    assert!(
        seen.lock().unwrap().iter().any(|u| u == &page),
        "the proxy was asked for the absolute URL"
    );
    let (_, rec) = pp.get(ALICE, &proxied).await;
    assert_eq!(rec["session"]["options"]["proxy"], true);
    pp.stop().await;
}

/// Pids of the renderer processes of the browser whose process group is `pgid`.
fn renderers(pgid: u64) -> Vec<u64> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u64>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(2)?.parse::<u64>().ok());
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if pgrp == Some(pgid) && String::from_utf8_lossy(&cmd).contains("--type=renderer") {
            pids.push(pid);
        }
    }
    pids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renderer_crash_ends_the_session_not_the_browser() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/basic.html") }))
        .await;
    let browser = pp.health().await["browser"].clone();
    let pid = browser["pid"].as_u64().unwrap();
    let victims = renderers(pid);
    assert!(!victims.is_empty(), "no renderer found");
    for r in victims {
        kill9(r);
    }
    // The idle session ends in error on its own, without an action to notice it.
    let errored = pp
        .eventually(Duration::from_secs(5), || async {
            pp.get(ALICE, &id).await.1["session"]["status"] == "error"
        })
        .await;
    assert!(errored, "{}", pp.get(ALICE, &id).await.1);
    let (_, v) = pp.get(ALICE, &id).await;
    assert_eq!(v["session"]["closeReason"], "page_crashed", "{v}");
    let (status, v) = pp.act(ALICE, &id, "title", json!({})).await;
    assert_eq!(status, 409, "{v}");

    // The browser lived on; a new session works on it.
    let health = pp.health().await;
    assert_eq!(health["browser"]["pid"].as_u64(), Some(pid));
    assert_eq!(health["browser"]["generation"], browser["generation"]);
    let next = pp.session(ALICE, json!({})).await;
    let v = pp
        .ok(
            ALICE,
            &next,
            "goto",
            json!({ "url": fx.url("/capture/basic.html") }),
        )
        .await;
    assert_eq!(v["url"], fx.url("/capture/basic.html"));
    pp.stop().await;
}
