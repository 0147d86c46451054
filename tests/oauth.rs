//! OAuth 2.0: the built-in client_credentials token endpoint (RFC 6749 §4.4) driven by the
//! `oauth2` crate as a real client, JWT bearer tokens on both protocols, RFC 6749/6750 errors,
//! and every kind of bad token refused.

mod common;

use base64::Engine as _;
use common::{Fixtures, Pp, ALICE, ALICE_CLIENT, BOB_CLIENT, JWT_SECRET};
use jsonwebtoken::{encode, EncodingKey, Header};
use oauth2::basic::BasicClient;
use oauth2::{ClientId, ClientSecret, Scope, TokenResponse, TokenUrl};
use reqwest::Method;
use serde_json::{json, Value};

async fn token_for(pp: &Pp, client: (&str, &str)) -> String {
    let oauth = BasicClient::new(ClientId::new(client.0.into()))
        .set_client_secret(ClientSecret::new(client.1.into()))
        .set_token_uri(TokenUrl::new(format!("{}/oauth/token", pp.base)).unwrap());
    // oauth2 brings no HTTP client: a reqwest client that never follows redirects (RFC 6749 §3.1).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let answer = oauth
        .exchange_client_credentials()
        .add_scope(Scope::new("sessions".into()))
        .request_async(&http)
        .await
        .expect("client_credentials grant");
    assert_eq!(
        answer.scopes().map(|s| s[0].to_string()),
        Some("sessions".into())
    );
    assert!(answer.expires_in().is_some());
    answer.access_token().secret().clone()
}

async fn call(
    pp: &Pp,
    method: Method,
    path: &str,
    bearer: &str,
    body: Option<Value>,
) -> (u16, Value, Option<String>) {
    let mut req = pp
        .http
        .request(method, format!("{}{path}", pp.base))
        .bearer_auth(bearer);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap_or(Value::Null), challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_token_works_on_every_protocol() {
    let fx = Fixtures::start().await;
    let pp = Pp::default().await;
    let token = token_for(&pp, ALICE_CLIENT).await;

    // Capture REST.
    let (status, v, _) = call(&pp, Method::POST, "/v1/sessions", &token, Some(json!({}))).await;
    assert_eq!(status, 201, "{v}");
    let id = v["session"]["id"].as_str().unwrap().to_string();
    let goto = json!({ "type": "goto", "payload": { "url": fx.url("/capture/basic.html") } });
    let (status, v, _) = call(
        &pp,
        Method::POST,
        &format!("/v1/sessions/{id}/actions"),
        &token,
        Some(goto),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // The tenant is the client id: the same tenant as the Capture secret `alice`.
    let (_, s) = pp.get(ALICE, &id).await;
    assert_eq!(s["session"]["actionCount"], 1);
    let (status, _, _) = call(
        &pp,
        Method::DELETE,
        &format!("/v1/sessions/{id}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200);

    // Agent API.
    let (status, v, _) = call(
        &pp,
        Method::POST,
        "/sessions/start",
        &token,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let sid = v["session_id"].as_str().unwrap().to_string();
    let (status, v, _) = call(
        &pp,
        Method::POST,
        &format!("/sessions/{sid}/page/observe"),
        &token,
        Some(json!({ "url": fx.url("/agent/login.html") })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    // Another tenant's token: 404, exactly like an unknown id.
    let bob = token_for(&pp, BOB_CLIENT).await;
    let (status, _, _) = call(&pp, Method::GET, &format!("/sessions/{sid}"), &bob, None).await;
    assert_eq!(status, 404);
    let (status, v, _) = call(
        &pp,
        Method::DELETE,
        &format!("/sessions/{sid}/stop"),
        &token,
        None,
    )
    .await;
    assert_eq!((status, v["status"].as_str()), (200, Some("closed")));

    // Discovery (RFC 8414).
    let (status, meta) = pp
        .send(
            Method::GET,
            "/.well-known/oauth-authorization-server",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(meta["issuer"], pp.base);
    assert_eq!(meta["token_endpoint"], format!("{}/oauth/token", pp.base));
    assert_eq!(meta["grant_types_supported"], json!(["client_credentials"]));
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint_errors_follow_rfc_6749() {
    let pp = Pp::default().await;
    let url = format!("{}/oauth/token", pp.base);
    let basic = |id: &str, secret: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        )
    };
    let cases: Vec<(Option<String>, &str, u16, &str)> = vec![
        (
            Some(basic("alice", "wrong")),
            "grant_type=client_credentials",
            401,
            "invalid_client",
        ),
        (
            Some(basic("nobody", "x")),
            "grant_type=client_credentials",
            401,
            "invalid_client",
        ),
        (
            None,
            "grant_type=client_credentials&client_id=alice&client_secret=nope",
            401,
            "invalid_client",
        ),
        (None, "grant_type=client_credentials", 401, "invalid_client"),
        (
            Some(basic("alice", "alice-oauth-secret")),
            "grant_type=password",
            400,
            "unsupported_grant_type",
        ),
        (
            Some(basic("alice", "alice-oauth-secret")),
            "scope=sessions",
            400,
            "invalid_request",
        ),
        (
            Some(basic("alice", "alice-oauth-secret")),
            "grant_type=client_credentials&scope=admin",
            400,
            "invalid_scope",
        ),
        (
            Some(basic("alice", "alice-oauth-secret")),
            "grant_type=client_credentials&client_id=alice",
            400,
            "invalid_request",
        ),
    ];
    for (auth, body, status, error) in cases {
        let mut req = pp
            .http
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(a) = &auth {
            req = req.header("authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{body}");
        if status == 401 && auth.is_some() {
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Basic realm=\"pagepilot\""
            );
        }
        assert_eq!(resp.headers()["cache-control"], "no-store");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"], error, "{body}: {v}");
        assert!(v["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()));
    }
    // Client credentials in the form work as well as Basic.
    let resp = pp
        .http
        .post(&url)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "alice"),
            ("client_secret", "alice-oauth-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        (v["token_type"].as_str(), v["expires_in"].as_u64()),
        (Some("Bearer"), Some(3600))
    );
    // Not a form at all.
    let resp = pp
        .http
        .post(&url)
        .json(&json!({ "grant_type": "client_credentials" }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    pp.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_are_refused() {
    let pp = Pp::default().await;
    let now = chrono::Utc::now().timestamp();
    let claims = |f: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "iss": pp.base, "sub": "alice", "aud": "pagepilot", "iat": now, "nbf": now,
            "exp": now + 600, "jti": "t", "scope": "sessions",
        });
        f(&mut c);
        c
    };
    let mint = |c: &Value, key: &str| {
        encode(
            &Header::default(),
            c,
            &EncodingKey::from_secret(key.as_bytes()),
        )
        .unwrap()
    };
    let good = mint(&claims(&|_| {}), JWT_SECRET);
    let (status, v, _) = call(&pp, Method::GET, "/v1/sessions", &good, None).await;
    assert_eq!(status, 200, "a well-formed token of ours: {v}");

    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let alg_none = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "JWT" })),
        b64(&claims(&|_| {}))
    );
    let refused = [
        (
            "expired",
            mint(&claims(&|c| c["exp"] = json!(now - 3600)), JWT_SECRET),
        ),
        (
            "not yet valid",
            mint(&claims(&|c| c["nbf"] = json!(now + 3600)), JWT_SECRET),
        ),
        (
            "wrong audience",
            mint(&claims(&|c| c["aud"] = json!("someone-else")), JWT_SECRET),
        ),
        (
            "wrong issuer",
            mint(
                &claims(&|c| c["iss"] = json!("https://evil.example")),
                JWT_SECRET,
            ),
        ),
        (
            "no exp",
            mint(
                &claims(&|c| {
                    c.as_object_mut().unwrap().remove("exp");
                }),
                JWT_SECRET,
            ),
        ),
        (
            "another key",
            mint(&claims(&|_| {}), "another-key-another-key-another-key!"),
        ),
        ("tampered signature", tampered),
        ("alg none", alg_none),
        ("garbage", "a.b.c".to_string()),
    ];
    for (what, token) in refused {
        for path in ["/v1/sessions", "/sessions"] {
            let (status, v, challenge) = call(&pp, Method::GET, path, &token, None).await;
            assert_eq!(status, 401, "{what} on {path}: {v}");
            assert!(
                challenge
                    .as_deref()
                    .unwrap_or("")
                    .starts_with("Bearer error=\"invalid_token\""),
                "{what}: {challenge:?}"
            );
            assert_eq!(v["success"], false);
        }
    }
    // A valid token without the required scope: 403 insufficient_scope.
    let no_scope = mint(&claims(&|c| c["scope"] = json!("profile")), JWT_SECRET);
    let (status, v, challenge) = call(
        &pp,
        Method::POST,
        "/v1/sessions",
        &no_scope,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403, "{v}");
    assert_eq!(
        challenge.as_deref(),
        Some("Bearer error=\"insufficient_scope\", scope=\"sessions\"")
    );
    pp.stop().await;
}
