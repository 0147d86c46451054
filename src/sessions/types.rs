//! What callers of the session registry pass and get back: its configuration, requests,
//! answers, errors and where a session is served.

use std::time::Duration;

use super::record::{SessionRecord, Status};
use super::store::{Limits, StoreError};
use crate::engine::actions::observe::ObserveOptions;
use crate::engine::{Action, ActionOutput, EngineError};
use crate::exchange::Middleware;

/// Where a request for a session is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Here: this instance holds its browser, or it is not active (any instance answers).
    Local,
    /// On its owner, at this internal address.
    Owner { instance: String, address: String },
}

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub limits: Limits,
    pub max_ttl_seconds: u64,
    pub default_ttl_seconds: u64,
    pub action_timeout: Duration,
    pub viewport: (u32, u32),
    /// The operator's upstream proxy, used by sessions that ask for `proxy: true`.
    pub proxy_server: Option<String>,
    /// Actions that may wait for their turn on one session; more answer 429.
    pub max_queued_actions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session not found")]
    NotFound,
    #[error("session is not active (status {:?})", .0.status)]
    NotActive(Box<SessionRecord>),
    #[error("{0}")]
    Limit(StoreError),
    /// Too many actions already waiting on this session.
    #[error("{waiting} actions are already waiting on this session, the limit is {max} (max_queued_actions); wait for their answers")]
    Busy { waiting: usize, max: usize },
    #[error("{0}")]
    BadInput(String),
    /// The action failed; the record is the session after counting it.
    #[error("{error}")]
    Action {
        error: EngineError,
        record: Box<SessionRecord>,
    },
    #[error("{0}")]
    Engine(EngineError),
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TenantLimit { .. } | StoreError::GlobalLimit { .. } => {
                SessionError::Limit(e)
            }
            other => SessionError::Store(other),
        }
    }
}

/// What a client asks for when it starts a session.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub ttl_seconds: Option<u64>,
    pub proxy: bool,
    pub bypass_bot_detection: bool,
    pub idle_timeout_seconds: Option<u64>,
    pub max_steps: Option<u64>,
    /// Overrides the configured viewport.
    pub viewport: Option<(u32, u32)>,
    pub user_agent: Option<String>,
    /// What drives the session: Chromium (default) or plain HTTP.
    pub client: Client,
    /// Request middleware for every navigation (WebSocket sessions).
    pub middleware: Vec<Middleware>,
    /// This session's action deadline instead of the configured one.
    pub action_timeout: Option<Duration>,
    /// An upstream proxy URL for this session's browser context (an operator-named proxy).
    pub proxy_url: Option<String>,
    /// Shown in the session's options (`standard`, `browser`) by the WebSocket protocol.
    pub client_label: Option<String>,
    /// The id is a bare UUID (seed 004's `session_id`) instead of `sess_<uuid>`.
    pub bare_uuid_id: bool,
    /// Which API created it (`capture`, `agent`, `websocket`, `mcp`): a label of its metrics only.
    pub api: &'static str,
    /// A saved profile of the tenant's to start from (its cookies and storage).
    pub profile: Option<String>,
}

/// What a session's actions run on.
#[derive(Debug, Clone, Default)]
pub enum Client {
    #[default]
    Browser,
    /// The WebSocket protocol's standard client: plain HTTP, no browser.
    Standard(crate::fetcher::Settings),
}

/// A session ended without its client asking (TTL, idle, crash, shutdown): protocols that hold
/// a connection for it (WebSocket) are told.
#[derive(Debug, Clone)]
pub struct Ended {
    pub id: String,
    pub status: Status,
    pub reason: String,
    pub error: Option<String>,
}

/// An action plus what any action may ask for alongside it.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub action: Action,
    /// Attach a PNG of the viewport to the answer.
    pub screenshot: bool,
    /// Observe the page right after the action, in the same turn of the session (the agent
    /// API's and MCP's step, and their observe with a `url`): no other request's action comes
    /// between the two, and a failure of the action itself is answered with the observation
    /// after it (see [`ActionResult::first`]). Each is counted as its own action.
    pub then_observe: Option<ThenObserve>,
}

/// The observation a request asks for after its action.
#[derive(Debug, Clone)]
pub struct ThenObserve {
    pub options: ObserveOptions,
    /// Also when the action failed (a step: the agent sees the page its step left); otherwise
    /// only after it succeeded (the goto an observe with a `url` makes first).
    pub after_failure: bool,
}

impl ActionRequest {
    /// One action, nothing alongside it.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            screenshot: false,
            then_observe: None,
        }
    }

    /// An observation (what an observe or a step answers), after `first` in the same turn when
    /// given: the action and whether the page is observed even when it failed.
    pub fn observation(
        options: ObserveOptions,
        first: Option<(Action, bool)>,
        screenshot: bool,
    ) -> Self {
        let mut req = match first {
            Some((action, after_failure)) => Self {
                then_observe: Some(ThenObserve {
                    options,
                    after_failure,
                }),
                ..Self::new(action)
            },
            None => Self::new(Action::Snapshot(options)),
        };
        req.screenshot = screenshot;
        req
    }
}

/// A page of a tenant's sessions (see [`Sessions::list_page`]).
pub struct ListPage {
    pub items: Vec<SessionRecord>,
    /// Sessions the tenant has in all (active and recently ended).
    pub total: usize,
    pub active: usize,
    pub has_next: bool,
}

/// The most sessions one list answer holds.
pub const MAX_PAGE_SIZE: usize = 500;

pub struct ActionResult {
    /// The action's answer; with `then_observe`, the observation's (the action's news, such
    /// as a tab it opened or a download it finished, folded in).
    pub output: ActionOutput,
    pub record: SessionRecord,
    /// With `then_observe`: how the action itself went (its error, when it failed and the page
    /// could still be observed).
    pub first: Option<Result<(), EngineError>>,
}
