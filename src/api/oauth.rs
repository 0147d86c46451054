//! The built-in authorization server: the client_credentials grant (RFC 6749 §4.4) at
//! `POST /oauth/token`, issuing JWT access tokens, and its metadata (RFC 8414).

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;

use super::auth::Claims;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/mcp",
            get(resource_metadata),
        )
}

#[utoipa::path(operation_id = "oauth_protected_resource", get, path = "/.well-known/oauth-protected-resource", tag = "oauth",
    responses((status = 200, description = "RFC 9728 protected resource metadata: this server, its authorization server (itself) and how tokens are sent", body = serde_json::Value)))]
async fn resource_metadata(State(st): State<AppState>) -> Json<serde_json::Value> {
    let jwt = &st.auth.jwt;
    let base = jwt.issuer.trim_end_matches('/');
    let mut servers = vec![serde_json::Value::from(base)];
    servers.extend(
        st.auth
            .externals
            .iter()
            .map(|e| serde_json::Value::from(e.cfg.issuer.clone())),
    );
    Json(json!({
        "resource": base,
        "authorization_servers": servers,
        "bearer_methods_supported": ["header"],
        "scopes_supported": [jwt.required_scope],
        "resource_name": "pagepilot",
    }))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct TokenRequest {
    grant_type: Option<String>,
    scope: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An RFC 6749 §5.2 error answer.
fn oauth_error(
    status: StatusCode,
    error: &str,
    description: &str,
    basic_challenge: bool,
) -> Response {
    let body = Json(json!({ "error": error, "error_description": description }));
    let mut resp = (status, [(header::CACHE_CONTROL, "no-store")], body).into_response();
    if basic_challenge {
        if let Ok(v) = "Basic realm=\"pagepilot\"".parse() {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// Client credentials from HTTP Basic (RFC 6749 §2.3.1, form-urlencoded parts) if present.
fn basic_credentials(headers: &HeaderMap) -> Option<Result<(String, String), ()>> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok();
    let text = decoded.and_then(|d| String::from_utf8(d).ok());
    let pair = text
        .as_deref()
        .and_then(|t| t.split_once(':'))
        .map(|(id, secret)| {
            let unescape = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
            };
            (
                unescape(id).unwrap_or_default(),
                unescape(secret).unwrap_or_default(),
            )
        });
    Some(pair.ok_or(()))
}

#[utoipa::path(operation_id = "oauth_token", post, path = "/oauth/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded",
        description = "client_credentials grant; client credentials in the form or as HTTP Basic"),
    responses(
        (status = 200, description = "An access token", body = serde_json::Value),
        (status = 400, description = "RFC 6749 error: invalid_request, unsupported_grant_type, invalid_scope", body = serde_json::Value),
        (status = 401, description = "RFC 6749 error: invalid_client", body = serde_json::Value),
        (status = 413, description = "The body is over its size limit", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not form-urlencoded", body = serde_json::Value),
    ))]
async fn token(
    State(st): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<TokenRequest>, axum::extract::rejection::FormRejection>,
) -> Response {
    let Ok(Form(req)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
            false,
        );
    };
    let basic = basic_credentials(&headers);
    let in_form = req.client_id.is_some() || req.client_secret.is_some();
    let (client_id, secret, used_basic) = match (basic, in_form) {
        (Some(_), true) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method, not two",
                false,
            )
        }
        (Some(Err(())), false) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "malformed Basic credentials",
                true,
            )
        }
        (Some(Ok((id, secret))), false) => (id, secret, true),
        (None, _) => (
            req.client_id.clone().unwrap_or_default(),
            req.client_secret.clone().unwrap_or_default(),
            false,
        ),
    };
    match req.grant_type.as_deref() {
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is required",
                false,
            )
        }
        Some("client_credentials") => {}
        Some(other) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                &format!("grant_type `{other}` is not supported: use client_credentials"),
                false,
            )
        }
    }
    if client_id.is_empty() || !st.auth.oauth_clients.check(&client_id, &secret) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
            used_basic,
        );
    }
    let jwt = &st.auth.jwt;
    let scope = match req
        .scope
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => jwt.required_scope.clone(),
        Some(s) => {
            if let Some(bad) = s.split_whitespace().find(|x| *x != jwt.required_scope) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!(
                        "scope `{bad}` is not offered; the only scope is `{}`",
                        jwt.required_scope
                    ),
                    false,
                );
            }
            s.to_string()
        }
    };
    let now = chrono::Utc::now().timestamp().max(0) as u64;
    let claims = Claims {
        iss: jwt.issuer.clone(),
        sub: client_id,
        aud: jwt.audience.clone(),
        iat: now,
        nbf: now,
        exp: now + jwt.lifetime_seconds,
        jti: uuid::Uuid::new_v4().to_string(),
        scope: scope.clone(),
    };
    match jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &jwt.encoding) {
        Ok(access_token) => (
            [
                (header::CACHE_CONTROL, "no-store"),
                (header::PRAGMA, "no-cache"),
            ],
            Json(json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": jwt.lifetime_seconds,
                "scope": scope,
            })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(%e, "cannot sign an access token");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "cannot sign the token",
                false,
            )
        }
    }
}

#[utoipa::path(operation_id = "oauth_metadata", get, path = "/.well-known/oauth-authorization-server", tag = "oauth",
    responses((status = 200, description = "RFC 8414 authorization server metadata", body = serde_json::Value)))]
async fn metadata(State(st): State<AppState>) -> Json<serde_json::Value> {
    let jwt = &st.auth.jwt;
    Json(json!({
        "issuer": jwt.issuer,
        "token_endpoint": format!("{}/oauth/token", jwt.issuer.trim_end_matches('/')),
        "grant_types_supported": ["client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": [jwt.required_scope],
        "response_types_supported": [],
    }))
}
