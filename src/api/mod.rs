//! HTTP surface: one router per protocol, shared auth, errors and health.

mod agent;
pub mod auth;
mod capture;
pub mod errors;
mod health;
pub mod jwks;
mod oauth;
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
    pub sessions: Sessions,
    pub auth: Arc<Auth>,
    pub ws: Arc<ws::WsConfig>,
    pub sockets: Arc<ws::Sockets>,
    pub forwarder: Arc<route::Forwarder>,
}

/// A wire timestamp: ISO 8601, UTC, milliseconds (both protocols' clients parse it).
pub(crate) fn ts(t: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    serde_json::Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
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

pub fn router(state: AppState, body_limit: usize) -> Router {
    Router::new()
        .merge(health::router())
        .merge(capture::router())
        .merge(agent::router())
        .merge(oauth::router())
        .merge(ws::router())
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
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}
