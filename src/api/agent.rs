//! The agent API (Notte's wire, seeds 002/003, WIRE.md): sessions, observe, step, execute,
//! scrape. A thin translation onto `sessions` and the engine's actions; the perception itself
//! is the engine's `snapshot` action, the same one the REST API answers.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

use super::agent_observation::{notte_observation, NotteObservation};
pub(super) use super::agent_wire::session_view;
use super::agent_wire::{action_error_message, step_action, ExecuteBody, StartBody};
use super::auth::Tenant;
use super::bounds;
use super::errors::{bad_query, parse_json, parse_json_or_default, ApiError, Body};
use super::profiles::ProfileAnswer;
use super::{parsed_for, ts, AppState};
use crate::engine::actions::observe::ObserveOptions;
use crate::engine::actions::{Goto, Outcome, Scrape};
use crate::engine::{Action, EngineError};
use crate::sessions::{ActionRequest, ActionResult, SessionError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sessions/start", post(start))
        .route("/sessions", get(list))
        .route("/sessions/{id}", get(status))
        .route("/sessions/{id}/stop", delete(stop))
        .route("/sessions/{id}/page/observe", post(observe))
        .route("/sessions/{id}/page/step", post(step))
        .route("/sessions/{id}/page/execute", post(execute))
        .route("/sessions/{id}/page/scrape", post(scrape))
        .route("/sessions/{id}/profiles", post(save_profile))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct SaveProfileBody {
    /// 1 to 64 of A-Z a-z 0-9 . _ - ; a profile of that name is replaced.
    name: String,
}

/// pagepilot's extension: the session's cookies and storage become your profile `name`, which
/// `POST /sessions/start {"profile": name}` (or any protocol's create) starts from.
#[utoipa::path(operation_id = "agent_save_profile", post, path = "/sessions/{id}/profiles", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = SaveProfileBody, description = "The profile's name"),
    responses((status = 200, description = "The saved profile", body = ProfileAnswer), super::openapi::SessionErrors))]
async fn save_profile(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<ProfileAnswer>, ApiError> {
    let parsed = parse_json::<SaveProfileBody>(&body, "profile request");
    let b: SaveProfileBody = parsed_for(&st, &tenant, &id, parsed, failure).await?;
    let action = Action::SaveProfile(crate::engine::profile::SaveProfile { name: b.name });
    match run(&st, &tenant, &id, action, false).await? {
        Ok(done) => match done.output.result {
            Outcome::Profile(p) => Ok(Json(ProfileAnswer {
                success: true,
                profile: p.profile,
            })),
            _ => Err(EngineError::Internal("save_profile answered no profile".into()).into()),
        },
        Err(e) => Err(e.into()),
    }
}

/// A session failure in Notte's answers: the shared mapping, plus its session object on a 409.
fn failure(e: SessionError) -> ApiError {
    let session = match &e {
        SessionError::NotActive(rec) => Some(session_view(rec)),
        _ => None,
    };
    let err = super::errors::session_failure(e);
    match session {
        Some(s) => err.with("session", s),
        None => err,
    }
}

#[utoipa::path(operation_id = "agent_start", post, path = "/sessions/start", tag = "agent", security(("bearer" = [])),
    request_body(content = Option<StartBody>, description = "Session options (the body may be omitted)"),
    responses((status = 200, description = "The new session", body = serde_json::Value), super::openapi::SessionErrors))]
async fn start(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let b: StartBody = parse_json_or_default(&body, "session options")?;
    let req = b.into_request("agent", st.sessions.config().viewport)?;
    let rec = st.sessions.create(&tenant, req).await.map_err(failure)?;
    Ok(Json(session_view(&rec)))
}

/// `GET /sessions?page=&page_size=`: Notte's paging, 1-based, `page_size` 1..500 (default 100).
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
struct ListQuery {
    page: Option<i64>,
    page_size: Option<i64>,
}

#[utoipa::path(operation_id = "agent_list", get, path = "/sessions", tag = "agent", security(("bearer" = [])), params(ListQuery),
    responses((status = 200, description = "A page of the tenant's sessions", body = serde_json::Value), super::openapi::SessionErrors))]
async fn list(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    query: Result<axum::extract::Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let axum::extract::Query(q) = query.map_err(bad_query)?;
    let size = bounds::page_size("page_size", q.page_size).map_err(ApiError::bad_request)?;
    let page = bounds::opt_int_in("page", q.page, 1, 1_000_000_000)
        .map_err(ApiError::bad_request)?
        .unwrap_or(1);
    let offset = usize::try_from(page.saturating_sub(1))
        .unwrap_or(usize::MAX)
        .saturating_mul(size);
    let listed = st
        .sessions
        .list_page(&tenant, offset, size)
        .await
        .map_err(failure)?;
    let items: Vec<Value> = listed.items.iter().map(session_view).collect();
    Ok(Json(json!({
        "items": items, "page": page, "page_size": size,
        "has_next": listed.has_next, "has_previous": page > 1,
    })))
}

#[utoipa::path(operation_id = "agent_status", get, path = "/sessions/{id}", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "The session", body = serde_json::Value), super::openapi::SessionErrors))]
async fn status(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let rec = st.sessions.get(&tenant, &id).await.map_err(failure)?;
    Ok(Json(session_view(&rec)))
}

#[utoipa::path(operation_id = "agent_stop", delete, path = "/sessions/{id}/stop", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    responses((status = 200, description = "The stopped session (idempotent)", body = serde_json::Value), super::openapi::SessionErrors))]
async fn stop(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    // Stopping an ended session answers it as it is: stop is idempotent for agents.
    let rec = match st.sessions.close(&tenant, &id).await {
        Ok(r) => r,
        Err(SessionError::NotActive(rec)) => *rec,
        Err(e) => return Err(failure(e)),
    };
    Ok(Json(session_view(&rec)))
}

/// Runs one engine action on the session; a failure of the action itself comes back as
/// `Err(EngineError)` (the protocol answers it in its own shape), anything else as ApiError.
async fn run(
    st: &AppState,
    tenant: &str,
    id: &str,
    action: Action,
    screenshot: bool,
) -> Result<Result<ActionResult, EngineError>, ApiError> {
    let req = ActionRequest {
        screenshot,
        ..ActionRequest::new(action)
    };
    act(st, tenant, id, req).await
}

/// [`run`] for a whole request (an action with an observation after it).
async fn act(
    st: &AppState,
    tenant: &str,
    id: &str,
    req: ActionRequest,
) -> Result<Result<ActionResult, EngineError>, ApiError> {
    match st.sessions.act(tenant, id, req).await {
        Ok(done) => Ok(Ok(done)),
        Err(SessionError::Action { error, .. }) => Ok(Err(error)),
        Err(e) => Err(failure(e)),
    }
}

/// The goto observe and scrape make first when given a `url`.
fn goto(url: &str) -> Action {
    Action::Goto(Goto {
        url: url.to_string(),
        wait_until: Default::default(),
        exchange: None,
    })
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct ObserveBody {
    url: Option<String>,
    min_nb_actions: Option<usize>,
    max_nb_actions: Option<usize>,
    /// Character budget of the listing and of the readable page (see ObserveOptions).
    max_chars: Option<usize>,
    /// Answer only what changed since the last observation of this document.
    #[serde(default)]
    diff: bool,
    /// Attach a viewport screenshot (base64 PNG); off by default to keep observe fast.
    #[serde(default)]
    screenshot: bool,
    /// Also answer `space.actions` and `space.browser_actions`. Both repeat what
    /// `interaction_actions` and `markdown` already say (the SDK computes them itself from
    /// `interaction_actions`), so they are opt-in: an answer says each action once as text
    /// and once as a typed list.
    #[serde(default)]
    full_space: bool,
}

/// observe = optional goto, then the engine's snapshot, reshaped into Notte's observation.
/// The observation an observe or a step answers, made after `first` in the same turn of the
/// session (the goto of an observe's `url`, or the step): the sessions layer runs both. The
/// outer error is the session's; `Ok(Err)` an engine failure (of the observation, or of a
/// goto, after which nothing is observed). With a step, its own outcome comes alongside.
async fn observation(
    st: &AppState,
    tenant: &str,
    id: &str,
    b: &ObserveBody,
    first: Option<(Action, bool)>,
    started: DateTime<Utc>,
) -> Result<Result<(NotteObservation, Option<Result<(), EngineError>>), EngineError>, ApiError> {
    let opts = ObserveOptions {
        max_nb_actions: b.max_nb_actions,
        min_nb_actions: b.min_nb_actions,
        max_chars: b.max_chars,
        page_content: true,
        diff: b.diff,
        collector: false,
    };
    let req = ActionRequest::observation(opts, first, b.screenshot);
    let snap = match act(st, tenant, id, req).await? {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    // The record after the snapshot comes with it: no second read of the store.
    let obs = notte_observation(snap.output, &snap.record, started, b.full_space);
    Ok(Ok((obs, snap.first)))
}

#[utoipa::path(operation_id = "agent_observe", post, path = "/sessions/{id}/page/observe", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = Option<ObserveBody>, description = "What to observe (the body may be omitted)"),
    responses((status = 200, description = "The observation: metadata, space, data, changes", body = NotteObservation), super::openapi::SessionErrors))]
async fn observe(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<NotteObservation>, ApiError> {
    let started = Utc::now();
    let parsed = parse_json_or_default(&body, "observe request");
    let b: ObserveBody = parsed_for(&st, &tenant, &id, parsed, failure).await?;
    // A `url` is visited first; when that fails, its error is the answer.
    let first = b.url.as_deref().map(|url| (goto(url), false));
    match observation(&st, &tenant, &id, &b, first, started).await? {
        Ok((obs, _)) => Ok(Json(obs)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
struct StepBody {
    action_id: String,
    #[serde(default)]
    value: Option<Value>,
    #[serde(default)]
    enter: bool,
}

#[utoipa::path(operation_id = "agent_step", post, path = "/sessions/{id}/page/step", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = StepBody, description = "The action id to run"),
    responses((status = 200, description = "The observation after the step, with success and message", body = NotteObservation), super::openapi::SessionErrors))]
async fn step(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<NotteObservation>, ApiError> {
    let started = Utc::now();
    let parsed = (|| {
        let b: StepBody = parse_json(&body, "step request")?;
        let action = step_action(&b.action_id, b.value.clone(), b.enter)?;
        Ok((b, action))
    })();
    let (b, action) = parsed_for(&st, &tenant, &id, parsed, failure).await?;
    // The page after the step is observed even when the step failed: the agent sees why.
    let first = Some((action, true));
    let (mut obs, stepped) =
        match observation(&st, &tenant, &id, &ObserveBody::default(), first, started).await? {
            Ok(o) => o,
            Err(e) => return Err(e.into()),
        };
    let (success, message) = match &stepped {
        Some(Err(e)) => (false, action_error_message(&b.action_id, e)),
        _ => (true, format!("{} done", b.action_id)),
    };
    obs.success = Some(success);
    obs.message = Some(message);
    Ok(Json(obs))
}

/// Notte's error class for an engine failure; the client raises the class it names.
fn error_type(e: &EngineError) -> &'static str {
    match e {
        EngineError::Stale(_) | EngineError::NoMatch { .. } | EngineError::BadInput(_) => {
            "InvalidActionError"
        }
        EngineError::Blocked(_) | EngineError::Navigation(_) => "NavigationError",
        EngineError::Timeout(_) => "NotteTimeoutError",
        EngineError::Unsupported(_) => "NotImplementedError",
        _ => "NotteBaseError",
    }
}

#[utoipa::path(operation_id = "agent_execute", post, path = "/sessions/{id}/page/execute", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = ExecuteBody, description = "One typed action"),
    responses((status = 200, description = "What the action did (success or its exception)", body = serde_json::Value), super::openapi::SessionErrors))]
async fn execute(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let started = Utc::now();
    let parsed = (|| {
        let raw: Value = parse_json(&body, "action")?;
        let Value::Object(a) = raw else {
            return Err(ApiError::bad_request(
                "the action must be a JSON object with a `type`",
            ));
        };
        let typed: ExecuteBody = parse_json(&body, "action")?;
        let action = typed.to_action()?;
        Ok((a, typed, action))
    })();
    let (a, typed, action) = parsed_for(&st, &tenant, &id, parsed, failure).await?;
    let kind = typed.kind.clone();
    // The client echoes `category` and `description` back inside actions: not ours to keep.
    let mut echo = a.clone();
    echo.remove("category");
    echo.remove("description");
    let mut answer = json!({ "action": echo, "started_at": ts(started) });
    match run(&st, &tenant, &id, action, false)
        .await?
        .map(|done| done.output)
    {
        Ok(out) => {
            answer["success"] = json!(true);
            answer["message"] = json!(match kind.as_str() {
                "completion" => typed.answer.clone().unwrap_or_else(|| "completed".into()),
                _ => format!("{kind} done"),
            });
            match kind.as_str() {
                "evaluate_js" => {
                    let v = match &out.result {
                        Outcome::Evaluated(e) => e.value.clone(),
                        _ => Value::Null,
                    };
                    let text = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    answer["data"] = json!({ "markdown": text });
                }
                "scrape" => {
                    answer["data"] = json!({ "markdown": match &out.result {
                            Outcome::Scraped(s) => s.markdown.as_str(),
                            _ => "",
                        } })
                }
                _ => {}
            }
        }
        Err(e) => {
            let id_text = typed.id.as_deref().unwrap_or_default();
            let message = action_error_message(id_text, &e);
            answer["success"] = json!(false);
            answer["message"] = json!(message);
            answer["exception"] = json!(message);
            answer["exception_detail"] = json!({
                "error_type": error_type(&e), "dev_message": message, "user_message": message, "agent_message": message,
            });
        }
    }
    answer["ended_at"] = ts(Utc::now());
    Ok(Json(answer))
}

#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
struct ScrapeBody {
    url: Option<String>,
    selector: Option<String>,
    only_main_content: Option<bool>,
    scrape_links: Option<bool>,
    scrape_images: Option<bool>,
    instructions: Option<String>,
    response_format: Option<Value>,
}

#[utoipa::path(operation_id = "agent_scrape", post, path = "/sessions/{id}/page/scrape", tag = "agent", security(("bearer" = [])), params(("id" = String, Path, description = "The session id")),
    request_body(content = Option<ScrapeBody>, description = "What to read (the body may be omitted)"),
    responses((status = 200, description = "The page as markdown, and structured data", body = serde_json::Value), super::openapi::SessionErrors))]
async fn scrape(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    Path(id): Path<String>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let parsed = parse_json_or_default(&body, "scrape request");
    let b: ScrapeBody = parsed_for(&st, &tenant, &id, parsed, failure).await?;
    if let Some(url) = &b.url {
        if let Err(e) = run(&st, &tenant, &id, goto(url), false).await? {
            return Err(e.into());
        }
    }
    let scrape = Scrape {
        selector: b.selector.clone(),
        only_main_content: b.only_main_content.unwrap_or(true),
        scrape_links: b.scrape_links.unwrap_or(true),
        scrape_images: b.scrape_images.unwrap_or(false),
    };
    let out = match run(&st, &tenant, &id, Action::Scrape(scrape), false)
        .await?
        .map(|done| done.output)
    {
        Ok(o) => o,
        Err(e) => return Err(e.into()),
    };
    let Outcome::Scraped(out) = out.result else {
        return Err(ApiError::from(EngineError::Internal(
            "scrape answered no page".into(),
        )));
    };
    let structured = if b.instructions.is_some() || b.response_format.is_some() {
        json!({
            "success": false,
            "error": "extraction with `instructions` or a `response_format` needs an LLM, which this server does not run; \
                      without them, `structured.data` holds the page's JSON-LD, meta tags and tables",
            "data": null,
        })
    } else {
        json!({ "success": true, "error": null, "data": out.structured })
    };
    let mut answer = json!({ "markdown": out.markdown, "structured": structured });
    if b.scrape_images.unwrap_or(false) {
        answer["images"] = json!(out.images);
    }
    Ok(Json(answer))
}
