//! Engine errors. Each variant says what kind of failure it is, so every protocol maps it to
//! its own status code or error frame the same way.

use super::cdp::CdpError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum EngineError {
    /// The caller's input cannot be acted on (bad field, bad URL, unknown key).
    #[error("{0}")]
    BadInput(String),
    /// A selector matched nothing, or matched an element that cannot take the action;
    /// `details` carries the diagnostics (matched, visible, ...) for the answer.
    #[error("{message}")]
    NoMatch {
        message: String,
        details: Box<super::actions::output::ElementDone>,
    },
    /// A thing the caller named (a session file) does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Understood, but this server does not do it.
    #[error("{0}")]
    Unsupported(String),
    /// An agent id that no longer resolves: the agent must observe again.
    #[error("{0}")]
    Stale(String),
    /// The navigation policy refused a URL.
    #[error("{0}")]
    Blocked(String),
    /// The page could not be loaded (DNS, connection refused, TLS, ...).
    #[error("navigation failed: {0}")]
    Navigation(String),
    /// The action or a wait ran out of time.
    #[error("{0}")]
    Timeout(String),
    /// The page's renderer crashed or the tab went away.
    #[error("page is gone: {0}")]
    PageGone(String),
    /// An action's output is over its cap (evaluate value, content, screenshot, ...): the
    /// message names the cap and its setting.
    #[error("{0}")]
    TooLarge(String),
    /// The page's main thread stays busy even after its script was stopped: the session
    /// cannot go on (it ends with `page_unresponsive`).
    #[error("page stopped responding: {0}")]
    Unresponsive(String),
    /// The browser is down (crashed, killed, or could not start).
    #[error("browser unavailable: {0}")]
    Browser(String),
    #[error("cannot start chromium: {0}")]
    Launch(String),
    /// A store the action needs (saved profiles in Redis) cannot be reached; retrying may work.
    #[error("{0}")]
    Unavailable(String),
    /// Unexpected answer from the browser; a bug or an unsupported Chromium.
    #[error("browser error: {0}")]
    Internal(String),
}

impl From<CdpError> for EngineError {
    fn from(e: CdpError) -> Self {
        match e {
            CdpError::Closed(r) => EngineError::Browser(r),
            CdpError::TargetGone(r) => EngineError::PageGone(r),
            CdpError::Timeout { method, ms } => EngineError::Timeout(format!(
                "the browser did not answer {method} within {ms} ms"
            )),
            CdpError::TooLarge { message, .. } => EngineError::TooLarge(message),
            e @ (CdpError::Protocol { .. } | CdpError::BadAnswer { .. }) => {
                EngineError::Internal(e.to_string())
            }
        }
    }
}
