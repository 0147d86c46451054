//! The engine's action vocabulary and its dispatch. Protocols translate their requests into an
//! [`Action`]; field names follow the Capture wire form (camelCase payload keys), which is the
//! richest of the three. Unknown payload keys are ignored.

mod browser_step;
mod exchange;
pub mod files;
mod form;
mod js;
mod keyboard;
mod lifecycle;
mod navigate;
pub mod observe;
pub mod output;
mod pointer;
mod read;

pub use browser_step::browser_step;
// The action types a protocol builds itself (translating its own wire, never through JSON).
pub use form::{Check, Fill, OneOrMany, Select};
pub use keyboard::Press;
pub use navigate::History;
pub use pointer::{MouseButton, Target};
pub use read::{
    screenshot_base64, Content, Direction, Evaluate, Format, Scrape, Screenshot, Scroll,
    WaitForTimeout,
};

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::page::Page;
use super::policy::Policy;
use super::EngineError;

/// The goto a protocol may build itself (the WebSocket one adds its exchange).
pub use navigate::{Goto, WaitUntil};

pub use output::{ActionOutput, Outcome};
use output::{BatchDone, BatchItem};

/// Actions a batch may hold, at most.
pub const MAX_BATCH: usize = 25;
/// Points a drag path may hold, at most.
pub const MAX_DRAG_POINTS: usize = 100;
/// `wait_for_timeout` never waits longer than this.
pub const MAX_WAIT_TIMEOUT_MS: u64 = 2500;
/// Elements a query returns, at most.
pub const MAX_QUERY_LIMIT: usize = 500;
/// The longest wait for an element (`timeoutMs` of click, fill, wait_for_selector, ...).
pub const MAX_ELEMENT_WAIT_MS: u64 = 30_000;

/// A client's `timeoutMs`, refused past [`MAX_ELEMENT_WAIT_MS`].
fn element_wait(v: Option<u64>) -> Result<(), EngineError> {
    match v {
        Some(ms) if ms > MAX_ELEMENT_WAIT_MS => Err(EngineError::BadInput(format!(
            "payload.timeoutMs must be between 0 and {MAX_ELEMENT_WAIT_MS}, got {ms}"
        ))),
        _ => Ok(()),
    }
}

/// One table gives the enum, its wire names and its parser, so they cannot drift apart.
macro_rules! actions {
    ($($name:literal => $variant:ident($ty:ty)),* $(,)?) => {
        #[derive(Debug, Clone)]
        pub enum Action {
            $($variant($ty)),*
        }

        /// Every action type's wire name.
        pub const ACTION_TYPES: &[&str] = &[$($name),*];

        impl Action {
            /// The wire name, used for stats and messages.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(Action::$variant(_) => $name),*
                }
            }

            /// Builds an action from its type and payload; the error names the failing field.
            pub fn from_parts(kind: &str, payload: Value) -> Result<Action, String> {
                match kind {
                    $($name => Ok(Action::$variant(parse_payload(payload)?)),)*
                    other => Err(format!("type: unknown action type `{other}`; known: {}", ACTION_TYPES.join(", "))),
                }
            }
        }
    };
}

actions! {
    "goto" => Goto(navigate::Goto),
    "back" => Back(navigate::History),
    "forward" => Forward(navigate::History),
    "reload" => Reload(navigate::History),
    "click" => Click(pointer::Target),
    "hover" => Hover(pointer::Target),
    "move_mouse" => MoveMouse(pointer::Point),
    "drag_mouse" => DragMouse(pointer::Drag),
    "type" => Type(keyboard::Type),
    "type_text" => TypeText(keyboard::Type),
    "fill" => Fill(form::Fill),
    "select" => Select(form::Select),
    "check" => Check(form::Check),
    "press" => Press(keyboard::Press),
    "scroll" => Scroll(read::Scroll),
    "wait_for_selector" => WaitForSelector(read::WaitForSelector),
    "wait_for_timeout" => WaitForTimeout(read::WaitForTimeout),
    "screenshot" => Screenshot(read::Screenshot),
    "content" => Content(read::Content),
    "query" => Query(read::Query),
    "title" => Title(Empty),
    "url" => Url(Empty),
    "cursor_position" => CursorPosition(Empty),
    "console" => Console(read::Logs),
    "errors" => Errors(read::Logs),
    "batch" => Batch(Batch),
    "snapshot" => Snapshot(observe::ObserveOptions),
    "step" => Step(observe::Step),
    "evaluate" => Evaluate(read::Evaluate),
    "new_tab" => NewTab(crate::engine::tabs::NewTab),
    "switch_tab" => SwitchTab(crate::engine::tabs::SwitchTab),
    "close_tab" => CloseTab(crate::engine::tabs::CloseTab),
    "tabs" => ListTabs(Empty),
    "upload" => Upload(files::Upload),
    "pdf" => Pdf(files::Pdf),
    "download" => Download(files::Download),
    "scrape" => Scrape(read::Scrape),
    "save_profile" => SaveProfile(crate::engine::profile::SaveProfile),
}

fn parse_payload<T: DeserializeOwned>(payload: Value) -> Result<T, String> {
    let payload = if payload.is_null() {
        Value::Object(Map::new())
    } else {
        payload
    };
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            format!("payload: {inner}")
        } else {
            format!("payload.{path}: {inner}")
        }
    })
}

/// `{type, payload}`, as top-level actions and batch items both come.
impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            payload: Value,
        }
        let raw = Raw::deserialize(d)?;
        Action::from_parts(&raw.kind, raw.payload).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Empty {}

#[derive(Debug, Clone, Deserialize)]
pub struct Batch {
    pub actions: Vec<Action>,
    /// Stop at the first failing action (default) or run them all.
    #[serde(default = "yes", rename = "stopOnError")]
    pub stop_on_error: bool,
}

fn yes() -> bool {
    true
}

impl Action {
    /// Checks limits that the types alone cannot express, before anything runs.
    pub fn validate(&self) -> Result<(), EngineError> {
        match self {
            Action::Batch(b) => {
                if b.actions.is_empty() || b.actions.len() > MAX_BATCH {
                    return Err(EngineError::BadInput(format!(
                        "payload.actions must hold 1 to {MAX_BATCH} actions, got {}",
                        b.actions.len()
                    )));
                }
                for (i, a) in b.actions.iter().enumerate() {
                    if matches!(a, Action::Batch(_) | Action::SaveProfile(_)) {
                        return Err(EngineError::BadInput(format!(
                            "payload.actions[{i}]: a batch cannot hold a {}",
                            a.kind()
                        )));
                    }
                    a.validate()
                        .map_err(|e| EngineError::BadInput(format!("payload.actions[{i}]: {e}")))?;
                }
                Ok(())
            }
            Action::DragMouse(d) => d.validate(),
            Action::MoveMouse(p) => p.validate("payload"),
            Action::Query(q) => q.validate(),
            Action::Content(c) => c.validate(),
            Action::Scroll(s) => s.validate(),
            Action::Goto(g) => g.validate(),
            Action::Upload(u) => u.validate(),
            Action::Pdf(p) => p.validate(),
            Action::Download(d) => d.validate(),
            Action::Snapshot(o) => o.validate(),
            Action::Back(h) | Action::Forward(h) | Action::Reload(h) => h.validate(),
            Action::Click(t) | Action::Hover(t) => element_wait(t.timeout_ms),
            Action::Fill(f) => element_wait(f.timeout_ms),
            Action::Select(f) => element_wait(f.timeout_ms),
            Action::Check(f) => element_wait(f.timeout_ms),
            Action::Type(t) | Action::TypeText(t) => element_wait(t.timeout_ms),
            Action::Press(p) => element_wait(p.timeout_ms),
            Action::WaitForSelector(w) => element_wait(w.timeout_ms),
            _ => Ok(()),
        }
    }
}

/// Runs one action on a page. The caller holds the session's lock and applies the deadline.
pub async fn run(
    page: &Page,
    policy: &Policy,
    action: &Action,
) -> Result<ActionOutput, EngineError> {
    match action {
        Action::Goto(g) => navigate::goto(page, policy, g).await,
        Action::Back(h) => navigate::history(page, h, -1).await,
        Action::Forward(h) => navigate::history(page, h, 1).await,
        Action::Reload(h) => navigate::reload(page, h).await,
        Action::Click(t) => pointer::click(page, t).await,
        Action::Hover(t) => pointer::hover(page, t).await,
        Action::MoveMouse(p) => pointer::move_mouse(page, p).await,
        Action::DragMouse(d) => pointer::drag(page, d).await,
        Action::CursorPosition(_) => Ok(pointer::cursor_position(page)),
        Action::Type(t) => keyboard::type_keys(page, t).await,
        Action::TypeText(t) => keyboard::insert_text(page, t).await,
        Action::Press(p) => keyboard::press(page, p).await,
        Action::Fill(f) => form::fill(page, f).await,
        Action::Select(s) => form::select(page, s).await,
        Action::Check(c) => form::check(page, c).await,
        Action::Scroll(s) => read::scroll(page, s).await,
        Action::WaitForSelector(w) => read::wait_for_selector(page, w).await,
        Action::WaitForTimeout(w) => read::wait_for_timeout(w).await,
        Action::Screenshot(s) => read::screenshot(page, s).await,
        Action::Content(c) => read::content(page, c).await,
        Action::Query(q) => read::query(page, q).await,
        Action::Title(_) => read::title(page).await,
        Action::Url(_) => read::url(page).await,
        Action::Console(l) => Ok(read::logs(&page.state.console, l)),
        Action::Errors(l) => Ok(read::logs(&page.state.errors, l)),
        Action::Batch(b) => Box::pin(batch(page, policy, b)).await,
        Action::Snapshot(o) => observe::snapshot(page, o).await,
        Action::Step(s) => observe::step(page, s).await,
        Action::Evaluate(e) => read::evaluate(page, e).await,
        // They act on a session's set of tabs, not on one page: Engine::run_on runs them.
        // Also the file actions, which need the session's files.
        Action::NewTab(_)
        | Action::SwitchTab(_)
        | Action::CloseTab(_)
        | Action::ListTabs(_)
        | Action::Upload(_)
        | Action::Download(_)
        | Action::Pdf(_) => Err(EngineError::Internal(
            "tab and file actions run on a session's tabs (Engine::run_on)".into(),
        )),
        // The session registry saves profiles: it knows the tenant and the profile store.
        Action::SaveProfile(_) => Err(EngineError::Internal(
            "save_profile is run by the session registry".into(),
        )),
        Action::Scrape(s) => read::scrape(page, s).await,
    }
}

async fn batch(page: &Page, policy: &Policy, b: &Batch) -> Result<ActionOutput, EngineError> {
    let mut results = Vec::with_capacity(b.actions.len());
    let mut news = output::News::default();
    let mut failed = 0usize;
    for action in &b.actions {
        let item = match run(page, policy, action).await {
            Ok(out) => {
                news.downloads.extend(out.news.downloads);
                BatchItem {
                    kind: action.kind(),
                    success: true,
                    error: None,
                    result: Some(out.result),
                }
            }
            Err(e) => {
                failed = failed.saturating_add(1);
                BatchItem {
                    kind: action.kind(),
                    success: false,
                    error: Some(e.to_string()),
                    result: None,
                }
            }
        };
        results.push(item);
        if failed > 0 && b.stop_on_error {
            break;
        }
    }
    Ok(ActionOutput {
        result: Outcome::Batch(BatchDone {
            completed: results.len().saturating_sub(failed),
            failed,
            results,
        }),
        news,
    })
}
