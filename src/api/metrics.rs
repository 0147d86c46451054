//! `GET /metrics`: the Prometheus text of `crate::telemetry`, for the operator's scraper only.
//! It asks for its own bearer token (`metrics_token`), compared in constant time; with none
//! configured the endpoint answers 404, so nothing about the server leaks by default.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::errors::ApiError;
use super::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
}

#[utoipa::path(operation_id = "metrics", get, path = "/metrics", tag = "operations", security(("bearer" = [])),
    description = "Prometheus text; the bearer is the operator's `metrics_token`, not a tenant's token.",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
        (status = 401, description = "No or a wrong metrics token", body = super::openapi::ErrorBody),
        (status = 404, description = "Metrics are not served (no metrics_token)", body = super::openapi::ErrorBody),
        (status = 503, description = "No metrics recorder", body = super::openapi::ErrorBody),
    ))]
async fn metrics(State(st): State<AppState>, headers: HeaderMap) -> Response {
    let Some(want) = st.metrics_token.as_deref() else {
        return ApiError::not_found("metrics are not served: set metrics_token to turn them on")
            .into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !same(given.as_bytes(), want.as_bytes()) {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "GET /metrics needs `Authorization: Bearer <metrics_token>`".to_string(),
        )
        .into_response();
    }
    match crate::telemetry::render() {
        Some(text) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        None => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder unavailable".to_string(),
        )
        .into_response(),
    }
}

/// Constant-time equality (a token compared byte by byte would leak its prefix by timing).
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
