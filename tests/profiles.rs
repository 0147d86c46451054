//! Saved profiles (issue 15) with real Chromium over real HTTP and WebSocket: a login on a
//! fixture site (localStorage, sessionStorage, a readable cookie and an HttpOnly session
//! cookie) saved as a profile, and new sessions of every protocol started from it signed in;
//! listing and deleting; every bad input (names, types, over the caps, unknown profiles,
//! another tenant's) refused with a clear 4xx while the session goes on.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The cookies the fixture server received, through the echo page.
async fn sent_cookies(pp: &Pp, fx: &Fixtures, id: &str) -> String {
    pp.ok(ALICE, id, "goto", json!({ "url": fx.url("/echo") }))
        .await;
    let body = pp.text(ALICE, id, "body").await;
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|_| panic!("echo: {body}"));
    v["headers"]["cookie"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_login_starts_sessions_of_every_protocol_signed_in() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let first = signed_in_session(&pp, &fx).await;

    let saved = pp
        .ok(ALICE, &first, "save_profile", json!({ "name": "work" }))
        .await;
    let p = &saved["profile"];
    assert_eq!(p["name"], "work", "{saved}");
    assert!(p["cookies"].as_u64() >= Some(2), "{saved}");
    assert_eq!(p["origins"], 1, "{saved}");
    assert!(p["sizeBytes"].as_u64() > Some(0), "{saved}");

    let (status, list) = pp
        .send(Method::GET, "/v1/profiles", Some(ALICE), None)
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["profiles"][0]["name"], "work", "{list}");
    let (status, one) = pp
        .send(Method::GET, "/v1/profiles/work", Some(ALICE), None)
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["profile"]["cookies"], p["cookies"]);

    // Capture: the new session's first page is signed in, the HttpOnly cookie goes out, and
    // the tab is left blank with nothing to go back to.
    let second = pp.session(ALICE, json!({ "profile": "work" })).await;
    assert_eq!(
        pp.ok(ALICE, &second, "url", json!({})).await["url"],
        "about:blank"
    );
    pp.ok(
        ALICE,
        &second,
        "goto",
        json!({ "url": fx.url("/capture/account.html") }),
    )
    .await;
    assert_eq!(pp.text(ALICE, &second, "#who").await, SIGNED_IN);
    let cookies = sent_cookies(&pp, &fx, &second).await;
    assert!(
        cookies.contains("sid=alice") && cookies.contains("pref=dark"),
        "{cookies}"
    );
    pp.delete(ALICE, &second).await;

    // The agent API: start from it, observe the account page; save another profile.
    let (status, started) = pp
        .send(
            Method::POST,
            "/sessions/start",
            Some(ALICE),
            Some(json!({ "profile": "work" })),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let agent = started["session_id"]
        .as_str()
        .expect("session_id")
        .to_string();
    let (status, obs) = pp
        .send(
            Method::POST,
            &format!("/sessions/{agent}/page/observe"),
            Some(ALICE),
            Some(json!({ "url": fx.url("/capture/account.html") })),
        )
        .await;
    assert_eq!(status, 200, "{obs}");
    let page =
        obs["space"]["markdown"].to_string() + &obs["metadata"].to_string() + &obs.to_string();
    assert!(page.contains(SIGNED_IN), "{obs}");
    let (status, copy) = pp
        .send(
            Method::POST,
            &format!("/sessions/{agent}/profiles"),
            Some(ALICE),
            Some(json!({ "name": "agent-copy" })),
        )
        .await;
    assert_eq!(status, 200, "{copy}");
    assert_eq!(copy["profile"]["name"], "agent-copy", "{copy}");
    let (status, err) = pp
        .send(
            Method::POST,
            &format!("/sessions/{agent}/profiles"),
            Some(ALICE),
            Some(json!({ "name": "x", "extra": 1 })),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    assert!(
        err["error"].as_str().unwrap_or_default().contains("extra"),
        "{err}"
    );

    // WebSocket: the browser client's open frame names it.
    let (mut ws, _ws_id) = Ws::open(
        &pp,
        ALICE,
        json!({ "client": "browser", "profile": "work" }),
    )
    .await;
    let got = ws
        .call(json!({ "action": "goto", "url": fx.url("/capture/account.html") }))
        .await;
    assert_eq!(got["status_code"], 200, "{got}");
    let content = ws.call(json!({ "action": "content" })).await;
    assert!(unb64(&content["content"]).contains(SIGNED_IN), "{content}");

    // Deleted: gone from the list, and no session starts from it.
    let (status, del) = pp
        .send(Method::DELETE, "/v1/profiles/agent-copy", Some(ALICE), None)
        .await;
    assert_eq!(status, 200, "{del}");
    let (status, _) = pp
        .send(Method::DELETE, "/v1/profiles/agent-copy", Some(ALICE), None)
        .await;
    assert_eq!(status, 404);
    let (status, err) = pp
        .send(
            Method::POST,
            "/v1/sessions",
            Some(ALICE),
            Some(json!({ "profile": "agent-copy" })),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let (_, list) = pp
        .send(Method::GET, "/v1/profiles", Some(ALICE), None)
        .await;
    assert_eq!(list["profiles"].as_array().map(Vec::len), Some(1), "{list}");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_profile_inputs_get_clear_4xx_and_tenants_stay_apart() {
    let fx = Fixtures::start().await;
    let mut cfg = config();
    cfg.max_profile_bytes = 4096;
    cfg.max_profiles_per_tenant = 2;
    let pp = Pp::start(cfg).await;
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/account.html") }))
        .await;

    // Names are checked, never cleaned; wrong types name the field.
    let long = "n".repeat(65);
    let huge = "n".repeat(5000);
    for bad in [
        json!({ "name": "../etc" }),
        json!({ "name": "" }),
        json!({ "name": "a b" }),
        json!({ "name": ".hidden" }),
        json!({ "name": long }),
        json!({ "name": huge }),
        json!({ "name": 5 }),
        json!({ "name": 1e300 }),
        json!({ "name": -1 }),
        json!({ "name": 9_223_372_036_854_775_807u64 }),
        json!({ "name": null }),
        json!({}),
    ] {
        let (status, err) = pp.act(ALICE, &id, "save_profile", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {err}");
        let msg = err["error"].as_str().unwrap_or_default();
        assert!(msg.contains("name"), "{bad}: {err}");
        assert!(msg.len() < 2500, "{bad}: the message quotes too much");
    }
    // Not in a batch (it is the session's, not a page's).
    let (status, err) = pp
        .act(
            ALICE,
            &id,
            "batch",
            json!({ "actions": [{ "type": "save_profile", "payload": { "name": "b" } }] }),
        )
        .await;
    assert_eq!(status, 400, "{err}");

    // The per-tenant count, then a replace (which does not count twice).
    pp.ok(ALICE, &id, "save_profile", json!({ "name": "p1" }))
        .await;
    pp.ok(ALICE, &id, "save_profile", json!({ "name": "p2" }))
        .await;
    let (status, err) = pp
        .act(ALICE, &id, "save_profile", json!({ "name": "p3" }))
        .await;
    assert_eq!(status, 413, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or_default()
            .contains("max_profiles_per_tenant"),
        "{err}"
    );
    pp.ok(ALICE, &id, "save_profile", json!({ "name": "p1" }))
        .await;

    // Over one profile's cap: 413 naming it, and the session goes on.
    pp.ok(
        ALICE,
        &id,
        "evaluate",
        json!({ "expression": "localStorage.setItem('big', 'x'.repeat(10000)); 1" }),
    )
    .await;
    let (status, err) = pp
        .act(ALICE, &id, "save_profile", json!({ "name": "p1" }))
        .await;
    assert_eq!(status, 413, "{err}");
    assert!(
        err["error"]
            .as_str()
            .unwrap_or_default()
            .contains("max_profile_bytes"),
        "{err}"
    );
    assert_eq!(
        pp.ok(ALICE, &id, "title", json!({})).await["title"],
        "Account"
    );

    // Creates: unknown, wrong type, bad name, and another tenant's.
    for (body, want) in [
        (json!({ "profile": "nope" }), 404),
        (json!({ "profile": 5 }), 400),
        (json!({ "profile": 1e300 }), 400),
        (json!({ "profile": "" }), 400),
        (json!({ "profile": huge }), 400),
        (json!({ "profile": "../p1" }), 400),
    ] {
        let (status, err) = pp
            .send(
                Method::POST,
                "/v1/sessions",
                Some(ALICE),
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, want, "{body}: {err}");
        assert!(
            err["error"]
                .as_str()
                .unwrap_or_default()
                .contains("profile"),
            "{body}: {err}"
        );
    }
    let (status, err) = pp
        .send(
            Method::POST,
            "/sessions/start",
            Some(ALICE),
            Some(json!({ "profile": "nope" })),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    let (status, err) = pp
        .send(
            Method::POST,
            "/v1/sessions",
            Some(BOB),
            Some(json!({ "profile": "p1" })),
        )
        .await;
    assert_eq!(status, 404, "{err}");
    assert_eq!(err["error"], "profile `p1` not found");
    for method in [Method::GET, Method::DELETE] {
        let (status, _) = pp.send(method, "/v1/profiles/p1", Some(BOB), None).await;
        assert_eq!(status, 404);
    }
    let (_, bobs) = pp.send(Method::GET, "/v1/profiles", Some(BOB), None).await;
    assert_eq!(bobs["profiles"], json!([]), "{bobs}");
    let (status, _) = pp
        .send(Method::GET, "/v1/profiles/..%2Fx", Some(ALICE), None)
        .await;
    assert_eq!(status, 400);
    let (status, _) = pp.send(Method::GET, "/v1/profiles", None, None).await;
    assert_eq!(status, 401);

    // WebSocket: the standard client has no browser state; an unknown profile is named.
    for (open, code) in [
        (json!({ "profile": "p1" }), 400),
        (json!({ "client": "browser", "profile": "nope" }), 404),
        (json!({ "client": "browser", "profile": 7 }), 400),
    ] {
        let mut ws = Ws::connect(&pp, ALICE).await;
        ws.send(&open).await;
        let v = ws.recv().await;
        assert_eq!(v["type"], "fatal", "{open}: {v}");
        assert_eq!(v["code"], code, "{open}: {v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap_or_default()
                .contains("profile"),
            "{open}: {v}"
        );
    }
    // Still one session of alice's, still active.
    assert_eq!(pp.get(ALICE, &id).await.1["session"]["status"], "active");
    pp.stop().await;
}
