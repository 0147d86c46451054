//! The Capture-style REST protocol (seeds 000/001, WIRE.md): sessions plus deterministic
//! actions by CSS selector. A thin translation onto `sessions` and the engine's actions.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::auth::Tenant;
use super::bounds;
use super::capture_wire::{CreatedWith, Session, SessionAnswer, SessionList};
use super::errors::{bad_query, parse_json, parse_json_or_default, ApiError, Body};
use super::{parsed_for, AppState};
use crate::engine::Action;
use crate::sessions::{ActionRequest, CreateRequest, SessionError, SessionRecord};

/// An action request, for the OpenAPI document (parsed by `parse_action`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct ActionDoc {
    /// The action type: goto, click, fill, snapshot, step, screenshot, batch, … (README).
    r#type: String,
    /// The action's parameters (each type's are in the README).
    payload: Option<serde_json::Map<String, Value>>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create).get(list))
        .route("/v1/sessions/{id}", get(read).delete(close))
        .route("/v1/sessions/{id}/actions", post(act))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateBody {
    max_ttl_seconds: Option<i64>,
    proxy: Option<bool>,
    bypass_bot_detection: Option<bool>,
    cdp: Option<bool>,
    /// A saved profile of yours to start from (its cookies and storage).
    profile: Option<String>,
}

/// The session object of seed 000, as JSON (error answers merge it into their body).
pub fn session_view(r: &SessionRecord) -> Value {
    serde_json::to_value(Session::of(r, Utc::now())).unwrap_or(Value::Null)
}

/// A session failure in Capture's answers: the shared mapping, plus the session on a 409 and
/// `expiresInSeconds` on every answer about an existing session.
fn failure(e: SessionError) -> ApiError {
    let now = Utc::now();
    let extra = match &e {
        SessionError::NotActive(rec) => Some((0, Some(session_view(rec)))),
        SessionError::Action { record, .. } => Some((record.expires_in_seconds(now), None)),
        _ => None,
    };
    let mut err = super::errors::session_failure(e);
    if let Some((expires, session)) = extra {
        err = err.with("expiresInSeconds", Value::from(expires));
        if let Some(s) = session {
            err = err.with("session", s);
        }
    }
    err
}

#[utoipa::path(operation_id = "capture_create", post, path = "/v1/sessions", tag = "capture", security(("bearer" = [])),
    request_body(content = Option<CreateBody>, description = "Session options (the body may be omitted)"),
    responses((status = 201, description = "The new session", body = SessionAnswer), super::openapi::SessionErrors))]
async fn create(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let body: CreateBody = parse_json_or_default(&body, "session options")?;
    let ttl = match body.max_ttl_seconds {
        Some(t) if t < 1 => {
            return Err(ApiError::bad_request(format!(
                "maxTtlSeconds must be at least 1, got {t}"
            )))
        }
        Some(t) => Some(t as u64),
        None => None,
    };
    let bypass = body.bypass_bot_detection.unwrap_or(false);
    if body.cdp == Some(true) {
        if bypass {
            return Err(ApiError::bad_request(
                "cdp and bypassBotDetection cannot be combined",
            ));
        }
        return Err(ApiError::bad_request(
            "cdp: true is not offered: a raw CDP connection would bypass the navigation policy and tenant isolation",
        ));
    }
    let rec = st
        .sessions
        .create(
            &tenant,
            CreateRequest {
                api: "capture",
                ttl_seconds: ttl,
                proxy: body.proxy.unwrap_or(false),
                bypass_bot_detection: bypass,
                profile: body.profile,
                ..Default::default()
            },
        )
        .await
        .map_err(failure)?;
    let now = Utc::now();
    let mut session = Session::of(&rec, now);
    // WIRE.md's create answer also has the options flat on the session object.
    session.created_with = Some(CreatedWith {
        max_ttl_seconds: rec.options.max_ttl_seconds,
        proxy: rec.options.proxy,
        bypass_bot_detection: rec.options.bypass_bot_detection,
        cdp: false,
    });
    let body = SessionAnswer {
        success: true,
        session,
        expires_in_seconds: rec.expires_in_seconds(now),
    };
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

#[utoipa::path(operation_id = "capture_read", get, path = "/v1/sessions/{id}", tag = "capture", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "The session", body = SessionAnswer), super::openapi::SessionErrors))]
async fn read(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<SessionAnswer>, ApiError> {
    let rec = st.sessions.get(&tenant, &id).await.map_err(failure)?;
    let now = Utc::now();
    Ok(Json(SessionAnswer {
        success: true,
        session: Session::of(&rec, now),
        expires_in_seconds: rec.expires_in_seconds(now),
    }))
}

/// `GET /v1/sessions?limit=&offset=`: newest first, `limit` 1..500 (default 100).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

#[utoipa::path(operation_id = "capture_list", get, path = "/v1/sessions", tag = "capture", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "The tenant's sessions, newest first", body = SessionList), super::openapi::SessionErrors))]
async fn list(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<SessionList>, ApiError> {
    let Query(q) = query.map_err(bad_query)?;
    let limit = bounds::page_size("limit", q.limit).map_err(ApiError::bad_request)?;
    let offset = bounds::opt_int_in("offset", q.offset, 0, i64::MAX)
        .map_err(ApiError::bad_request)?
        .map_or(0, |o| usize::try_from(o).unwrap_or(usize::MAX));
    let page = st
        .sessions
        .list_page(&tenant, offset, limit)
        .await
        .map_err(failure)?;
    let now = Utc::now();
    let sessions: Vec<Session> = page.items.iter().map(|r| Session::of(r, now)).collect();
    let next = page.has_next.then(|| offset.saturating_add(sessions.len()));
    Ok(Json(SessionList {
        success: true,
        sessions,
        active_session_count: page.active,
        max_concurrent_sessions: st.sessions.config().limits.per_tenant,
        total: page.total,
        next_offset: next,
    }))
}

#[utoipa::path(operation_id = "capture_close", delete, path = "/v1/sessions/{id}", tag = "capture", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "The closed session, its credits charged", body = SessionAnswer), super::openapi::SessionErrors))]
async fn close(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<SessionAnswer>, ApiError> {
    let rec = st.sessions.close(&tenant, &id).await.map_err(failure)?;
    Ok(Json(SessionAnswer {
        success: true,
        session: Session::of(&rec, Utc::now()),
        expires_in_seconds: 0,
    }))
}

#[utoipa::path(operation_id = "capture_act", post, path = "/v1/sessions/{id}/actions", tag = "capture", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = ActionDoc, description = "One action, or a `batch` of them"),
    responses((status = 200, description = "What the action answered", body = serde_json::Value), super::openapi::SessionErrors))]
async fn act(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let req = parsed_for(&st, &tenant, &id, parse_action(&body), failure).await?;
    let done = st.sessions.act(&tenant, &id, req).await.map_err(failure)?;
    let mut out = Map::new();
    out.insert("success".into(), Value::Bool(true));
    out.insert(
        "expiresInSeconds".into(),
        Value::from(done.record.expires_in_seconds(Utc::now())),
    );
    for (k, v) in done.output.fields() {
        out.entry(k).or_insert(v);
    }
    Ok(Json(Value::Object(out)))
}

/// `{type, payload}` -> engine action. The payload is open: unknown keys are ignored;
/// `payload.screenshot: true` attaches a screenshot to any action's answer.
fn parse_action(body: &[u8]) -> Result<ActionRequest, ApiError> {
    let v: Value = parse_json(body, "action")?;
    let Value::Object(mut obj) = v else {
        return Err(ApiError::bad_request(
            "invalid action: the body must be a JSON object {type, payload}",
        ));
    };
    let kind = match obj.remove("type") {
        Some(Value::String(s)) => s,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid action: type must be a string",
            ))
        }
        None => {
            return Err(ApiError::bad_request(
                "invalid action: missing field `type`",
            ))
        }
    };
    let mut payload = match obj.remove("payload") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid action: payload must be a JSON object",
            ))
        }
    };
    let screenshot = match (kind.as_str(), payload.get("screenshot")) {
        ("screenshot", _) | (_, None) => false,
        (_, Some(Value::Bool(b))) => {
            let b = *b;
            payload.remove("screenshot");
            b
        }
        (_, Some(_)) => {
            return Err(ApiError::bad_request(
                "invalid action: payload.screenshot must be a boolean",
            ))
        }
    };
    let action = Action::from_parts(&kind, Value::Object(payload))
        .map_err(|e| ApiError::bad_request(format!("invalid action: {e}")))?;
    Ok(ActionRequest {
        action,
        screenshot,
        then_observe: None,
    })
}
