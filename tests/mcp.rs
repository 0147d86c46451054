//! MCP (issue 14) with the official Python SDK (`mcp` on PyPI, installed by `./dev.sh test`):
//! streamable HTTP at /mcp and stdio (`pagepilot mcp`, embedded and onto a running server),
//! against a real server and Chromium; and the OAuth 2.0 challenge of /mcp (RFC 9728).

mod common;

use common::{token, Fixtures, Pp, ALICE, BOB};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_mcp_sdk_drives_both_transports() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let fixtures = format!("http://{}", fx.addr);
    let binary = env!("CARGO_BIN_EXE_pagepilot");
    let args = [
        pp.base.as_str(),
        &token(ALICE),
        &token(BOB),
        fixtures.as_str(),
        binary,
    ];
    common::run_python_flow("mcp_flow.py", &args, "mcp flow ok").await;
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mcp_without_a_token_names_the_protected_resource_metadata() {
    let pp = Pp::default().await;
    let init = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "t", "version": "1" } }
    });
    for auth in [None, Some("Bearer not-a-token"), Some("Basic YTpi")] {
        let mut req = pp
            .http
            .post(format!("{}/mcp", pp.base))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.expect("answer");
        assert_eq!(resp.status(), 401, "{auth:?}");
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let expected = format!(
            "Bearer resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
            pp.base
        );
        assert_eq!(challenge, expected, "{auth:?}");
        let body: Value = resp.json().await.expect("a JSON error");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
    }
    let meta: Value = pp
        .http
        .get(format!("{}/.well-known/oauth-protected-resource", pp.base))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    assert_eq!(meta["resource"], pp.base.as_str(), "{meta}");
    assert_eq!(meta["authorization_servers"][0], pp.base.as_str(), "{meta}");
    assert_eq!(meta["bearer_methods_supported"][0], "header", "{meta}");
    // The authorization server it names publishes its RFC 8414 metadata, with a token endpoint.
    let auth_server: Value = pp
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            meta["authorization_servers"][0]
                .as_str()
                .unwrap_or_default()
        ))
        .send()
        .await
        .expect("metadata")
        .json()
        .await
        .expect("JSON");
    assert_eq!(
        auth_server["token_endpoint"],
        format!("{}/oauth/token", pp.base).as_str()
    );
    pp.stop().await;
}

static PANICS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Hostile values for every field of every tool (as tests/fuzz.rs sends them to the other
/// protocols): each call is answered as a tool result, an error or not, never a broken
/// connection or a JSON-RPC failure; nothing panics; a fresh observe works afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_tool_inputs_are_tool_errors_and_panic_nothing() {
    use rmcp::model::CallToolRequestParams;
    use std::sync::atomic::Ordering;
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        previous(info);
    }));
    let fx = Fixtures::start().await;
    let pp = Pp::start(pagepilot::config::Config {
        action_timeout_ms: 5000,
        max_sessions_per_tenant: 10,
        ..common::config()
    })
    .await;
    let client =
        pagepilot::api::mcp_remote::connect(&format!("{}/mcp", pp.base), &token(ALICE), false)
            .await
            .expect("an MCP connection");
    let call = |tool: String, args: serde_json::Map<String, Value>| {
        let c = &client;
        async move {
            c.call_tool(CallToolRequestParams::new(tool).with_arguments(args))
                .await
        }
    };
    let hostile = [
        json!(0),
        json!(-1),
        json!(1e300),
        json!(9223372036854775808u64),
        json!(i64::MIN),
        json!(""),
        json!("x".repeat(20_000)),
        json!(true),
        Value::Null,
        json!([]),
        json!({}),
        json!("javascript:alert(1)"),
    ];
    let page = fx.url("/agent/login.html");
    let mut live = String::new();
    let (mut sent, mut bad) = (0usize, Vec::<String>::new());
    for tool in pagepilot::api::mcp::tools() {
        let fields: Vec<String> = tool
            .input_schema
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        for v in &hostile {
            for whole_session in [false, true] {
                // A live session at the fixture, made anew when a call ended it.
                let (status, rec) = pp.get(ALICE, &live).await;
                if status != 200 || rec["session"]["status"] != "active" {
                    live = pp.session_at(ALICE, json!({ "url": page })).await;
                }
                let mut args: serde_json::Map<String, Value> =
                    fields.iter().map(|f| (f.clone(), v.clone())).collect();
                if !whole_session && args.contains_key("session_id") {
                    args.insert("session_id".into(), Value::from(live.as_str()));
                }
                sent += 1;
                match call(tool.name.to_string(), args).await {
                    Ok(r) if r.content.is_empty() => {
                        bad.push(format!("{} {v:.40}: an empty answer", tool.name))
                    }
                    Ok(_) => {}
                    Err(e) => bad.push(format!("{} {v:.40}: {e}", tool.name)),
                }
            }
        }
    }
    assert!(
        bad.is_empty(),
        "{} of {sent} calls failed:\n{}",
        bad.len(),
        bad.join("\n")
    );
    let seen = call("observe".into(), {
        let mut m = serde_json::Map::new();
        m.insert("url".into(), Value::from(page.as_str()));
        m
    })
    .await
    .expect("answers");
    assert_ne!(seen.is_error, Some(true), "{seen:?}");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0, "a panic happened");
    let _ = client.cancel().await;
    pp.stop().await;
}

/// One tenant's MCP connections are capped (rmcp keeps each until it is deleted or idle for
/// 5 minutes); past the cap an initialize answers 429 naming it, other tenants go on, and a
/// deleted connection frees its place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenants_mcp_connections_are_capped() {
    let mut cfg = common::config();
    cfg.max_mcp_sessions_per_tenant = 2;
    let pp = Pp::start(cfg).await;
    let init = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "initialize",
        "params": { "protocolVersion": "2025-06-18", "capabilities": {},
                    "clientInfo": { "name": "t", "version": "1" } }
    });
    let open = |who: (&'static str, &'static str)| {
        let req = pp
            .http
            .post(format!("{}/mcp", pp.base))
            .bearer_auth(common::token(who))
            .header("accept", "application/json, text/event-stream")
            .json(&init);
        async move {
            let resp = req.send().await.expect("answer");
            let status = resp.status().as_u16();
            let id = resp
                .headers()
                .get("mcp-session-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = tokio::time::timeout(std::time::Duration::from_secs(10), resp.text())
                .await
                .ok()
                .and_then(Result::ok)
                .unwrap_or_default();
            (status, id, body)
        }
    };
    let (s1, first, _) = open(ALICE).await;
    let (s2, second, _) = open(ALICE).await;
    assert_eq!((s1, s2), (200, 200));
    assert!(first.is_some() && second.is_some() && first != second);
    let (s3, none, body) = open(ALICE).await;
    assert_eq!(s3, 429, "{body}");
    assert!(none.is_none());
    assert!(body.contains("max_mcp_sessions_per_tenant"), "{body}");
    // Another tenant has its own places.
    assert_eq!(open(BOB).await.0, 200);
    // A tools/list on an open connection is not an initialize: it passes.
    let listed = pp
        .http
        .post(format!("{}/mcp", pp.base))
        .bearer_auth(common::token(ALICE))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", first.clone().unwrap_or_default())
        .header("mcp-protocol-version", "2025-06-18")
        .json(&serde_json::json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
        .send()
        .await
        .expect("answer");
    assert!(listed.status().is_success(), "{}", listed.status());
    // Deleting one frees its place.
    let deleted = pp
        .http
        .delete(format!("{}/mcp", pp.base))
        .bearer_auth(common::token(ALICE))
        .header("mcp-session-id", first.unwrap_or_default())
        .send()
        .await
        .expect("answer");
    assert!(deleted.status().is_success(), "{}", deleted.status());
    assert_eq!(open(ALICE).await.0, 200);
    pp.stop().await;
}
