//! The agent API's session types (Notte's wire): the start options and the session object.
//! MCP's tools take and answer the same (issue 14: its arguments use the agent API's names),
//! so both protocol files use these and neither repeats the translation. Stepping by id is
//! here too: both step the same way.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{json, Value};

use super::bounds;
use super::errors::ApiError;
use super::ts;
use crate::engine::actions::observe::Step;
use crate::engine::{Action, EngineError};
use crate::sessions::record::reason;
use crate::sessions::{CreateRequest, SessionRecord, Status};

fn minutes(seconds: u64) -> u64 {
    seconds.div_ceil(60).max(1)
}

/// The session object the Notte client validates.
pub fn session_view(r: &SessionRecord) -> Value {
    let now = Utc::now();
    let (status, close_reason) = match (r.status, r.close_reason.as_deref()) {
        (Status::Active, _) => ("active", Value::Null),
        (Status::Closed, _) => ("closed", json!("manual")),
        (Status::Expired, Some(reason::IDLE_TIMEOUT)) => ("timed_out", json!("idle_timeout")),
        (Status::Expired, _) => ("timed_out", json!("max_duration")),
        (Status::Error, _) => ("error", json!("error")),
    };
    let duration_ms = (r.closed_at.unwrap_or(now) - r.created_at)
        .num_milliseconds()
        .max(0);
    let idle = r
        .options
        .idle_timeout_seconds
        .unwrap_or(r.options.max_ttl_seconds);
    json!({
        "session_id": r.id,
        "timeout_minutes": minutes(idle),
        "idle_timeout_minutes": minutes(idle),
        "max_duration_minutes": minutes(r.options.max_ttl_seconds),
        "created_at": ts(r.created_at),
        // The client requires closed_at for every ended session.
        "closed_at": r.closed_at.map(ts),
        "last_accessed_at": ts(r.last_accessed_at),
        "duration": format!("PT{}.{:03}S", duration_ms / 1000, duration_ms % 1000),
        "status": status,
        "close_reason": close_reason,
        "error": r.error,
        "proxies": r.options.proxy,
        "browser_type": "chromium",
        "steps": [],
        "expires_at": ts(r.expires_at),
        "action_count": r.actions.total,
        "billed_credits": r.billed_credits,
    })
}

/// A session's start options (every field optional; the server's defaults fill the rest).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema, schemars::JsonSchema)]
pub struct StartBody {
    /// Minutes without an action before the session ends (alias of idle_timeout_minutes).
    pub timeout_minutes: Option<i64>,
    /// Minutes without an action before the session ends.
    pub idle_timeout_minutes: Option<i64>,
    /// Minutes the session lives at most (capped by the server's max_ttl_seconds).
    pub max_duration_minutes: Option<i64>,
    /// Actions the session may run at most.
    pub max_steps: Option<i64>,
    /// Viewport width in CSS pixels (1..5000).
    pub viewport_width: Option<i64>,
    /// Viewport height in CSS pixels (1..5000).
    pub viewport_height: Option<i64>,
    /// The User-Agent the browser sends.
    pub user_agent: Option<String>,
    /// `true`, or a list of proxy settings: either asks for the operator's proxy.
    pub proxies: Option<Value>,
    /// `chromium` (the only browser offered).
    pub browser_type: Option<String>,
    // Accepted and ignored: solve_captchas, headless, chrome_args (never passed to Chromium), ...
}

/// The most steps a session may be limited to (a bound, not a default).
const MAX_STEPS: i64 = 1_000_000;
/// Viewport sides, as the session layer accepts them.
const MAX_VIEWPORT: i64 = 5000;

fn ranged(name: &str, v: Option<i64>, max: i64) -> Result<Option<u64>, ApiError> {
    bounds::opt_int_in(name, v, 1, max).map_err(ApiError::bad_request)
}

impl StartBody {
    /// The session layer's request for protocol `api`; each bad field is named with its range.
    pub fn into_request(
        self,
        api: &'static str,
        default_viewport: (u32, u32),
    ) -> Result<CreateRequest, ApiError> {
        let b = self;
        let idle = match (b.idle_timeout_minutes, b.timeout_minutes) {
            (Some(v), _) => ranged("idle_timeout_minutes", Some(v), bounds::MAX_MINUTES)?,
            (None, v) => ranged("timeout_minutes", v, bounds::MAX_MINUTES)?,
        };
        let max_duration = ranged(
            "max_duration_minutes",
            b.max_duration_minutes,
            bounds::MAX_MINUTES,
        )?;
        let max_steps = ranged("max_steps", b.max_steps, MAX_STEPS)?;
        let width = ranged("viewport_width", b.viewport_width, MAX_VIEWPORT)?;
        let height = ranged("viewport_height", b.viewport_height, MAX_VIEWPORT)?;
        if let Some(t) = b
            .browser_type
            .as_deref()
            .filter(|t| !matches!(*t, "chromium" | "chrome"))
        {
            return Err(ApiError::bad_request(format!(
                "browser_type `{t}` is not offered: only chromium"
            )));
        }
        let proxy = match &b.proxies {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Bool(true)) => true,
            Some(Value::Array(a)) => !a.is_empty(),
            Some(_) => return Err(ApiError::bad_request("proxies must be a boolean or a list")),
        };
        let viewport = match (width, height) {
            (None, None) => None,
            (w, h) => {
                // Both are at most MAX_VIEWPORT here, so they fit.
                let side = |v: Option<u64>, dflt: u32| {
                    v.and_then(|v| u32::try_from(v).ok()).unwrap_or(dflt)
                };
                Some((side(w, default_viewport.0), side(h, default_viewport.1)))
            }
        };
        Ok(CreateRequest {
            api,
            ttl_seconds: max_duration.map(|m| m.saturating_mul(60)),
            proxy,
            bypass_bot_detection: false,
            idle_timeout_seconds: idle.map(|m| m.saturating_mul(60)),
            max_steps,
            viewport,
            user_agent: b.user_agent,
            ..Default::default()
        })
    }
}

/// What stepping on `id` runs: a browser action (S1..S12) or the element id's own action.
pub fn step_action(id: &str, value: Option<Value>, enter: bool) -> Result<Action, ApiError> {
    let browser = crate::engine::actions::browser_step(id, value.as_ref())
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(browser.unwrap_or_else(|| {
        Action::Step(Step {
            id: id.to_string(),
            value,
            enter,
            kind: None,
        })
    }))
}

pub fn action_error_message(id: &str, e: &EngineError) -> String {
    match e {
        EngineError::Stale(m) => format!("Action with id '{id}' is invalid: {m}"),
        other => other.to_string(),
    }
}
