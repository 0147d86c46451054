//! HTTP surface: one router per protocol, shared auth, errors and health.

mod agent;
mod agent_observation;
mod agent_wire;
pub mod auth;
pub mod bounds;
mod capture;
mod capture_wire;
pub mod errors;
pub mod files;
mod health;
pub mod jwks;
pub mod mcp;
mod mcp_args;
pub mod mcp_remote;
mod mcp_sessions;
mod metrics;
mod oauth;
pub mod openapi;
mod profiles;
pub mod request_id;
pub mod route;
pub mod ws;
mod ws_frames;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::sessions::Sessions;
use auth::Auth;
use errors::ApiError;

#[derive(Clone)]
pub struct AppState {
    /// The bearer `/metrics` asks for; unset, metrics are not served.
    pub metrics_token: Option<Arc<str>>,
    pub sessions: Sessions,
    pub auth: Arc<Auth>,
    pub ws: Arc<ws::WsConfig>,
    pub sockets: Arc<ws::Sockets>,
    pub forwarder: Arc<route::Forwarder>,
}

/// A wire timestamp: ISO 8601, UTC, milliseconds (both protocols' clients parse it).
pub(crate) fn ts(t: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    serde_json::Value::String(stamp(t))
}

/// A time as every answer writes it: RFC 3339, milliseconds, `Z`.
pub(crate) fn stamp(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// A session route's parsed request. An unknown session answers 404 before a bad body answers
/// 400, as on every route; the session is looked up only when the body is bad, since a valid
/// request reaches `Sessions::act`, which answers 404 itself (one store read less per action).
pub(crate) async fn parsed_for<T>(
    st: &AppState,
    tenant: &str,
    id: &str,
    parsed: Result<T, ApiError>,
    failure: fn(crate::sessions::SessionError) -> ApiError,
) -> Result<T, ApiError> {
    match parsed {
        Ok(v) => Ok(v),
        Err(bad) => {
            st.sessions.get(tenant, id).await.map_err(failure)?;
            Err(bad)
        }
    }
}

/// A request's body was not wanted (an error answer): the server will not read the rest of it,
/// so the answer says `Connection: close` and the client opens a fresh connection next time
/// instead of failing on this one.
async fn close_after_refused_body(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::header;
    let has_body = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() != "0")
        || req.headers().contains_key(header::TRANSFER_ENCODING);
    let mut resp = next.run(req).await;
    let status = resp.status();
    if has_body && (status.is_client_error() || status.is_server_error()) {
        resp.headers_mut().insert(
            header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

pub fn router(
    state: AppState,
    body_limit: usize,
    upload_limit: usize,
    body_timeout: std::time::Duration,
    mcp_sessions_per_tenant: usize,
) -> Router {
    // Session files take bodies up to the file cap; every other route the body limit.
    let uploads = files::router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            route::to_owner,
        ))
        .layer(DefaultBodyLimit::max(upload_limit))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(upload_limit))
        .layer(axum::middleware::map_response(
            errors::json_payload_too_large,
        ));
    Router::new()
        .merge(health::router())
        .merge(metrics::router())
        .merge(openapi::router())
        .merge(capture::router())
        .merge(profiles::router())
        .merge(agent::router())
        .merge(oauth::router())
        .merge(ws::router())
        .merge(mcp::router(
            state.clone(),
            body_limit,
            mcp_sessions_per_tenant,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            route::to_owner,
        ))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .layer(DefaultBodyLimit::max(body_limit))
        // Refuses an oversized Content-Length before reading the body (and keeps the
        // connection usable); the mapper gives its answer the protocol's error shape.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(body_limit))
        .layer(axum::middleware::map_response(
            errors::json_payload_too_large,
        ))
        .merge(uploads)
        // A body trickled in slowly (slowloris) is cut off: its request answers 408.
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            body_timeout,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            errors::panicked,
        ))
        .layer(axum::middleware::from_fn(close_after_refused_body))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .layer(axum::middleware::from_fn(request_id::request_id))
        .with_state(state)
}
