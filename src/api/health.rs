//! `GET /healthz`: liveness without auth, with the browser's state.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(health))
}

#[utoipa::path(operation_id = "health", get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Liveness and the browser's state (no auth)", body = serde_json::Value)))]
async fn health(State(st): State<AppState>) -> Json<Value> {
    let browser = st.sessions.engine().status();
    // With a shared store, `activeSessions` counts the whole cluster's; null if unreachable.
    let active = st.sessions.active_count().await.ok();
    let contexts = st.sessions.engine().context_count().await;
    let healthy = browser.alive && active.is_some();
    Json(json!({
        "status": if healthy { "ok" } else { "degraded" },
        "browser": browser,
        "instance": st.sessions.instance_id(),
        "activeSessions": active,
        "browserContexts": contexts,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}
