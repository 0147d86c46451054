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
    /// A saved profile of yours to start from: its cookies and storage are in the new session.
    pub profile: Option<String>,
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
            profile: b.profile,
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
            changes: false,
        })
    }))
}

pub fn action_error_message(id: &str, e: &EngineError) -> String {
    match e {
        EngineError::Stale(m) => format!("Action with id '{id}' is invalid: {m}"),
        other => other.to_string(),
    }
}

/// Notte's selector: a CSS selector, or its selector object (`css_selector` is what is used).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum NotteSelector {
    Css(String),
    Object { css_selector: Option<String> },
}

/// An execute request (today's Notte form): the action's `type` and the fields it reads. The
/// client echoes `category` and `description` back inside actions; other keys are ignored.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ExecuteBody {
    /// click, fill, check, select_dropdown_option, goto, go_back, go_forward, reload,
    /// press_key, scroll_up, scroll_down, wait, evaluate_js, scrape, completion,
    /// goto_new_tab, switch_tab, close_tab
    #[serde(rename = "type")]
    pub kind: String,
    /// An id from observe (L3, B1, I2, ...).
    pub id: Option<String>,
    /// What to type, choose or set (fill, select_dropdown_option, check).
    pub value: Option<Value>,
    pub selector: Option<NotteSelector>,
    pub url: Option<String>,
    /// load, domcontentloaded (default) or commit.
    pub wait_until: Option<String>,
    pub key: Option<String>,
    /// Pixels to scroll.
    pub amount: Option<f64>,
    pub time_ms: Option<u64>,
    pub code: Option<String>,
    pub only_main_content: Option<bool>,
    pub tab_index: Option<u64>,
    pub press_enter: Option<bool>,
    /// completion's answer, echoed as its message.
    pub answer: Option<String>,
    /// upload_file: the name of a file uploaded to the session (POST /v1/sessions/{id}/files),
    /// never a path on the server.
    pub file_path: Option<String>,
}

impl ExecuteBody {
    fn css(&self) -> Option<&str> {
        let s = match self.selector.as_ref()? {
            NotteSelector::Css(s) => s.as_str(),
            NotteSelector::Object { css_selector } => css_selector.as_deref()?,
        };
        (!s.is_empty()).then_some(s)
    }

    /// The engine action it asks for; ids and selectors both work for element actions.
    pub fn to_action(&self) -> Result<Action, ApiError> {
        use crate::engine::actions::observe::StepKind;
        use crate::engine::actions::{
            Check, Direction, Evaluate, Fill, Goto, History, OneOrMany, Press, Scrape, Scroll,
            Select, Target, WaitForTimeout, WaitUntil,
        };
        use crate::engine::tabs::{CloseTab, NewTab, SwitchTab};
        let kind = self.kind.as_str();
        let need = |field: &str, v: Option<&String>| -> Result<String, ApiError> {
            v.cloned()
                .ok_or_else(|| ApiError::bad_request(format!("`{kind}` needs `{field}`")))
        };
        let id = self.id.as_deref().filter(|s| !s.is_empty());
        let element = |step: StepKind| -> Result<Action, ApiError> {
            let value = self.value.clone();
            match (id, self.css()) {
                (Some(id), _) => Ok(Action::Step(Step {
                    id: id.to_string(),
                    value,
                    enter: self.press_enter.unwrap_or(false),
                    kind: Some(step),
                    changes: false,
                })),
                (None, Some(sel)) => {
                    let sel = sel.to_string();
                    let text = |v: Option<Value>| match v {
                        Some(Value::String(s)) => Ok(s),
                        _ => Err(ApiError::bad_request(format!(
                            "`{kind}` by selector needs `value` as a string"
                        ))),
                    };
                    Ok(match step {
                        StepKind::Click => Action::Click(Target::selector(sel)),
                        StepKind::Fill => Action::Fill(Fill {
                            selector: sel,
                            value: text(value)?,
                            timeout_ms: None,
                        }),
                        StepKind::Check => Action::Check(Check {
                            selector: sel,
                            checked: value.as_ref().and_then(Value::as_bool).unwrap_or(true),
                            timeout_ms: None,
                        }),
                        StepKind::SelectDropdownOption => Action::Select(Select {
                            selector: sel,
                            value: Some(OneOrMany::One(text(value)?)),
                            values: None,
                            label: None,
                            timeout_ms: None,
                        }),
                    })
                }
                (None, None) => Err(ApiError::bad_request(format!(
                    "`{kind}` needs an `id` (from observe) or a selector"
                ))),
            }
        };
        let scroll = |direction| {
            Action::Scroll(Scroll {
                direction,
                amount: self.amount,
                selector: None,
            })
        };
        Ok(match kind {
            "click" => element(StepKind::Click)?,
            "fill" => element(StepKind::Fill)?,
            "check" => element(StepKind::Check)?,
            "select_dropdown_option" => element(StepKind::SelectDropdownOption)?,
            "goto" => Action::Goto(Goto {
                url: need("url", self.url.as_ref())?,
                wait_until: match self.wait_until.as_deref() {
                    None | Some("domcontentloaded") => WaitUntil::DomContentLoaded,
                    Some("load") => WaitUntil::Load,
                    Some("commit") => WaitUntil::Commit,
                    Some(other) => {
                        return Err(ApiError::bad_request(format!(
                            "wait_until must be load, domcontentloaded or commit, got `{other}`"
                        )))
                    }
                },
                exchange: None,
            }),
            "go_back" => Action::Back(History::default()),
            "go_forward" => Action::Forward(History::default()),
            "reload" => Action::Reload(History::default()),
            "wait" => Action::WaitForTimeout(WaitForTimeout {
                timeout_ms: self.time_ms.unwrap_or(1000),
            }),
            "press_key" => Action::Press(Press {
                key: need("key", self.key.as_ref())?,
                selector: None,
                timeout_ms: None,
            }),
            "scroll_up" => scroll(Direction::Up),
            "scroll_down" => scroll(Direction::Down),
            "evaluate_js" => Action::Evaluate(Evaluate {
                expression: need("code", self.code.as_ref())?,
            }),
            "scrape" => Action::Scrape(Scrape {
                selector: self.css().map(str::to_string),
                only_main_content: self.only_main_content.unwrap_or(true),
                ..Scrape::default()
            }),
            "completion" => Action::Title(Default::default()),
            "goto_new_tab" => Action::NewTab(NewTab {
                url: need("url", self.url.as_ref())?,
            }),
            "switch_tab" => Action::SwitchTab(SwitchTab {
                index: self
                    .tab_index
                    .and_then(|i| usize::try_from(i).ok())
                    .ok_or_else(|| ApiError::bad_request("`switch_tab` needs `tab_index`"))?,
            }),
            "close_tab" => Action::CloseTab(CloseTab::default()),
            "upload_file" => Action::Upload(crate::engine::actions::files::Upload {
                selector: self.css().map(str::to_string),
                id: id.map(str::to_string),
                files: vec![need("file_path", self.file_path.as_ref())?],
                timeout_ms: None,
            }),
            "download_file" => Action::Download(crate::engine::actions::files::Download {
                selector: self.css().map(str::to_string),
                id: id.map(str::to_string),
                timeout_ms: None,
            }),
            "solve_captcha" => {
                return Err(ApiError::new(
                    axum::http::StatusCode::NOT_IMPLEMENTED,
                    format!("`{kind}` is not offered (no captcha solving)"),
                ))
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown action type `{other}`"
                )))
            }
        })
    }
}
