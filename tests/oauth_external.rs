//! Access tokens of an external issuer: a JWKS served on 127.0.0.1, RS256 and ES256 tokens
//! minted with test keys (fixtures/oauth); the bad ones all refused, key rotation followed.

mod common;

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use common::{config, Pp, ALICE};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use pagepilot::config::ExternalIssuer;
use reqwest::Method;
use serde_json::{json, Value};

const ISSUER: &str = "https://issuer.test/realms/agents";
const AUDIENCE: &str = "pagepilot-api";
const RSA_1: &[u8] = include_bytes!("../fixtures/oauth/rsa-1.pem");
const RSA_2: &[u8] = include_bytes!("../fixtures/oauth/rsa-2.pem");
const RSA_1_PUBLIC: &[u8] = include_bytes!("../fixtures/oauth/rsa-1.pub.pem");
const EC_1: &[u8] = include_bytes!("../fixtures/oauth/ec-1.pem");

/// Serves `jwks` (changeable, for rotation) and answers its URL.
async fn jwks_server(jwks: Arc<Mutex<Value>>) -> String {
    let app = Router::new()
        .route(
            "/jwks.json",
            get(
                |State(j): State<Arc<Mutex<Value>>>| async move { Json(j.lock().unwrap().clone()) },
            ),
        )
        .with_state(jwks);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    format!("http://{addr}/jwks.json")
}

fn claims(f: impl Fn(&mut Value)) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({ "iss": ISSUER, "sub": "alice", "aud": AUDIENCE, "iat": now, "nbf": now, "exp": now + 600, "scope": "openid sessions" });
    f(&mut c);
    c
}

fn mint(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, c: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_string);
    encode(&h, c, key).unwrap()
}

async fn status_with(pp: &Pp, token: &str) -> (u16, Option<String>) {
    let resp = pp
        .http
        .get(format!("{}/v1/sessions", pp.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), challenge)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_issuer_tokens() {
    let all: Value = serde_json::from_str(include_str!("../fixtures/oauth/jwks.json")).unwrap();
    // rsa-key-2 is published later (rotation).
    let initial = json!({ "keys": all["keys"].as_array().unwrap().iter().filter(|k| k["kid"] != "rsa-key-2").cloned().collect::<Vec<_>>() });
    let jwks = Arc::new(Mutex::new(initial));
    let url = jwks_server(jwks.clone()).await;
    let mut cfg = config();
    cfg.external_issuers = vec![ExternalIssuer {
        issuer: ISSUER.into(),
        jwks_url: url,
        audience: AUDIENCE.into(),
        tenant_claim: "sub".into(),
        tenant_prefix: None,
    }];
    let pp = Pp::start(cfg).await;

    let rsa1 = EncodingKey::from_rsa_pem(RSA_1).unwrap();
    let rsa2 = EncodingKey::from_rsa_pem(RSA_2).unwrap();
    let ec1 = EncodingKey::from_ec_pem(EC_1).unwrap();

    // Accepted: RS256 and ES256; the tenant is `sub` in the issuer's own namespace.
    let rs = mint(Algorithm::RS256, Some("rsa-key-1"), &rsa1, &claims(|_| {}));
    let (status, v) = pp.send(Method::POST, "/v1/sessions", None, None).await;
    assert_eq!(status, 401, "{v}");
    let resp = pp
        .http
        .post(format!("{}/v1/sessions", pp.base))
        .bearer_auth(&rs)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let created: Value = resp.json().await.unwrap();
    let id = created["session"]["id"].as_str().unwrap();
    assert_eq!(
        pp.get(ALICE, id).await.0,
        404,
        "an external `sub=alice` is not the local tenant alice"
    );
    let mine = pp
        .http
        .get(format!("{}/v1/sessions/{id}", pp.base))
        .bearer_auth(&rs)
        .send()
        .await
        .unwrap();
    assert_eq!(
        mine.status().as_u16(),
        200,
        "the issuer's alice sees her session"
    );
    let es = mint(
        Algorithm::ES256,
        Some("ec-key-1"),
        &ec1,
        &claims(|c| {
            c.as_object_mut().unwrap().remove("scope");
            c["scp"] = json!(["sessions"]);
        }),
    );
    assert_eq!(
        status_with(&pp, &es).await.0,
        200,
        "ES256 with an `scp` list"
    );

    // Refused: 401 invalid_token.
    let mut tampered = rs.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let confusion_key = EncodingKey::from_secret(RSA_1_PUBLIC);
    let refused = [
        (
            "wrong audience",
            mint(
                Algorithm::RS256,
                Some("rsa-key-1"),
                &rsa1,
                &claims(|c| c["aud"] = json!("other-api")),
            ),
        ),
        (
            "untrusted issuer",
            mint(
                Algorithm::RS256,
                Some("rsa-key-1"),
                &rsa1,
                &claims(|c| c["iss"] = json!("https://evil.test")),
            ),
        ),
        (
            "expired",
            mint(
                Algorithm::RS256,
                Some("rsa-key-1"),
                &rsa1,
                &claims(|c| c["exp"] = json!(chrono::Utc::now().timestamp() - 3600)),
            ),
        ),
        (
            "future nbf",
            mint(
                Algorithm::RS256,
                Some("rsa-key-1"),
                &rsa1,
                &claims(|c| c["nbf"] = json!(chrono::Utc::now().timestamp() + 3600)),
            ),
        ),
        (
            "unknown kid",
            mint(
                Algorithm::RS256,
                Some("no-such-key"),
                &rsa1,
                &claims(|_| {}),
            ),
        ),
        (
            "no kid",
            mint(Algorithm::RS256, None, &rsa1, &claims(|_| {})),
        ),
        (
            "signed by another key",
            mint(Algorithm::RS256, Some("rsa-key-1"), &rsa2, &claims(|_| {})),
        ),
        ("tampered signature", tampered),
        (
            "alg none",
            format!(
                "{}.{}.",
                b64(&json!({ "alg": "none", "kid": "rsa-key-1" })),
                b64(&claims(|_| {}))
            ),
        ),
        // Key confusion: HS256 "signed" with the issuer's public key as an HMAC secret.
        (
            "HS256 with the public key",
            mint(
                Algorithm::HS256,
                Some("rsa-key-1"),
                &confusion_key,
                &claims(|_| {}),
            ),
        ),
        (
            "ES256 header on an RSA key",
            mint(Algorithm::ES256, Some("rsa-key-1"), &ec1, &claims(|_| {})),
        ),
    ];
    for (what, token) in refused {
        let (status, challenge) = status_with(&pp, &token).await;
        assert_eq!(status, 401, "{what}");
        assert!(
            challenge
                .unwrap_or_default()
                .starts_with("Bearer error=\"invalid_token\""),
            "{what}"
        );
    }
    // A valid token without the scope: 403.
    let no_scope = mint(
        Algorithm::RS256,
        Some("rsa-key-1"),
        &rsa1,
        &claims(|c| c["scope"] = json!("openid")),
    );
    assert_eq!(status_with(&pp, &no_scope).await.0, 403);

    // Key rotation: a token with a kid the JWKS does not have yet, then has.
    let rotated = mint(Algorithm::RS256, Some("rsa-key-2"), &rsa2, &claims(|_| {}));
    assert_eq!(status_with(&pp, &rotated).await.0, 401);
    *jwks.lock().unwrap() = all;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(
        status_with(&pp, &rotated).await.0,
        200,
        "refetched on an unknown kid"
    );
    pp.stop().await;
}
