//! Tenant isolation on every session endpoint of every protocol, whatever the token kind, and
//! the OAuth command-line helpers (`pagepilot clients add`, `pagepilot token`).

mod common;

use common::{config, token, Fixtures, Pp, ALICE, BOB, BOB_CLIENT};
use reqwest::Method;
use serde_json::{json, Value};

async fn as_bearer(
    pp: &Pp,
    bearer: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = pp
        .http
        .request(method, format!("{}{path}", pp.base))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let mut v: Value = resp.json().await.unwrap_or(Value::Null);
    // The request id differs per request by design; answers are compared without it.
    if let Some(m) = v.as_object_mut() {
        m.remove("request_id");
    }
    (status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenant_cannot_touch_a_session_on_any_endpoint() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let capture = pp.session(ALICE, json!({})).await;
    pp.ok(
        ALICE,
        &capture,
        "goto",
        json!({ "url": fx.url("/agent/login.html") }),
    )
    .await;
    let (_, agent) = pp
        .send(
            Method::POST,
            "/sessions/start",
            Some(ALICE),
            Some(json!({})),
        )
        .await;
    let agent = agent["session_id"].as_str().unwrap().to_string();

    // Bob, with a Capture secret and with an OAuth access token.
    let bob_jwt = pagepilot::oauth_client::client_credentials(
        &pp.base,
        BOB_CLIENT.0,
        BOB_CLIENT.1,
        "sessions",
    )
    .await
    .unwrap();
    let bearers = [token(BOB), bob_jwt];
    let ghost = "sess_00000000-0000-0000-0000-000000000000";
    let routes: Vec<(Method, &str, Option<Value>)> = vec![
        (Method::GET, "/v1/sessions/{id}", None),
        (
            Method::POST,
            "/v1/sessions/{id}/actions",
            Some(json!({ "type": "goto", "payload": { "url": fx.url("/agent/search.html") } })),
        ),
        (Method::DELETE, "/v1/sessions/{id}", None),
        (Method::GET, "/sessions/{id}", None),
        (Method::POST, "/sessions/{id}/page/observe", Some(json!({}))),
        (
            Method::POST,
            "/sessions/{id}/page/step",
            Some(json!({ "action_id": "S5" })),
        ),
        (
            Method::POST,
            "/sessions/{id}/page/execute",
            Some(json!({ "type": "reload" })),
        ),
        (Method::POST, "/sessions/{id}/page/scrape", Some(json!({}))),
        (Method::DELETE, "/sessions/{id}/stop", None),
    ];
    for bearer in &bearers {
        for victim in [&capture, &agent] {
            for (method, path, body) in &routes {
                let theirs = as_bearer(
                    &pp,
                    bearer,
                    method.clone(),
                    &path.replace("{id}", victim),
                    body.clone(),
                )
                .await;
                let unknown = as_bearer(
                    &pp,
                    bearer,
                    method.clone(),
                    &path.replace("{id}", ghost),
                    body.clone(),
                )
                .await;
                assert_eq!(theirs.0, 404, "{method} {path} on alice's {victim}");
                assert_eq!(
                    theirs, unknown,
                    "{method} {path}: indistinguishable from an unknown id"
                );
            }
        }
        for list in ["/v1/sessions", "/sessions"] {
            let (status, v) = as_bearer(&pp, bearer, Method::GET, list, None).await;
            assert_eq!(status, 200);
            assert!(
                !v.to_string().contains(&capture) && !v.to_string().contains(&agent),
                "{list} shows only bob's"
            );
        }
    }
    // Alice's sessions are untouched: active, same page, no action counted for bob's tries.
    let (_, rec) = pp.get(ALICE, &capture).await;
    assert_eq!(
        (
            rec["session"]["status"].as_str(),
            rec["session"]["actionCount"].as_u64()
        ),
        (Some("active"), Some(1))
    );
    assert_eq!(
        pp.ok(ALICE, &capture, "url", json!({})).await["url"],
        fx.url("/agent/login.html")
    );
    let (_, a) = pp
        .send(
            Method::GET,
            &format!("/sessions/{agent}"),
            Some(ALICE),
            None,
        )
        .await;
    assert_eq!(a["status"], "active");
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_add_and_token_commands() {
    let bin = env!("CARGO_BIN_EXE_pagepilot");
    let dir = std::env::temp_dir().join(format!("pagepilot-cli-{}", uuid::Uuid::new_v4()));
    let out = std::process::Command::new(bin)
        .args(["clients", "add", "carol", "--state-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pair = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (id, secret) = pair.split_once(':').unwrap();
    assert_eq!(id, "carol");
    let stored = std::fs::read_to_string(dir.join("oauth-clients")).unwrap();
    assert!(
        stored.starts_with("carol ") && !stored.contains(secret),
        "only the hash is kept"
    );
    let bad = std::process::Command::new(bin)
        .args(["clients", "add", "a:b", "--state-dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!bad.status.success());

    let mut cfg = config();
    cfg.state_dir = dir.clone();
    let pp = Pp::start(cfg).await;
    let got = tokio::process::Command::new(bin)
        .args(["token", "--server", &pp.base, "--client-id", "carol"])
        .env("PAGEPILOT_CLIENT_SECRET", secret)
        .output()
        .await
        .unwrap();
    assert!(
        got.status.success(),
        "{}",
        String::from_utf8_lossy(&got.stderr)
    );
    let access = String::from_utf8(got.stdout).unwrap().trim().to_string();
    assert_eq!(
        as_bearer(&pp, &access, Method::POST, "/v1/sessions", Some(json!({})))
            .await
            .0,
        201
    );
    let refused = tokio::process::Command::new(bin)
        .args([
            "token",
            "--server",
            &pp.base,
            "--client-id",
            "carol",
            "--client-secret",
            "wrong",
        ])
        .output()
        .await
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("invalid_client"));
    let no_secret = tokio::process::Command::new(bin)
        .args(["token", "--server", &pp.base, "--client-id", "carol"])
        .env_remove("PAGEPILOT_CLIENT_SECRET")
        .output()
        .await
        .unwrap();
    assert_eq!(no_secret.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_secret.stderr).contains("PAGEPILOT_CLIENT_SECRET"));
    pp.stop().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A typo in the config file or the environment stops `serve` before anything starts, naming
/// the key and the nearest valid one; `config` prints the effective settings, secrets masked.
#[test]
fn unknown_config_keys_are_refused_by_name() {
    let bin = env!("CARGO_BIN_EXE_pagepilot");
    let dir = std::env::temp_dir().join(format!("pagepilot-cfg-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pp.toml");
    std::fs::write(&file, "port = 0\nmax_session_per_tenant = 3\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["serve", "--config"])
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown configuration key `max_session_per_tenant`")
            && err.contains("did you mean `max_sessions_per_tenant`?"),
        "{err}"
    );
    let out = std::process::Command::new(bin)
        .args(["serve", "--port", "0"])
        .env("PAGEPILOT_MAX_SESSION", "3")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("`PAGEPILOT_MAX_SESSION`"), "{err}");
    // The example file is every key at its default, and `config` masks secrets.
    let out = std::process::Command::new(bin)
        .args([
            "config",
            "--config",
            "pagepilot.example.toml",
            "--api-secret",
            "alice:s3cret",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(
        printed.contains("api_secrets = [\"alice:****\"]"),
        "{printed}"
    );
    assert!(!printed.contains("s3cret"));
    assert!(printed.contains("max_sessions_per_tenant = 5"), "{printed}");
    let _ = std::fs::remove_dir_all(dir);
}
