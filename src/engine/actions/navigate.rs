//! goto, back, forward, reload: each waits for its document's lifecycle event (`lifecycle`).

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast::{error::RecvError, Receiver};

pub use super::lifecycle::WaitUntil;
use super::lifecycle::{self, navigation_error, Step};
use super::output::PageUrl;
use super::{ActionOutput, Outcome};
use crate::engine::cdp::Event;
use crate::engine::page::Page;
use crate::engine::policy::Policy;
use crate::engine::protocol::{GetNavigationHistory, Navigate, NavigateToHistoryEntry, Reload};
use crate::engine::EngineError;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Goto {
    pub url: String,
    #[serde(default)]
    pub wait_until: WaitUntil,
    /// Set by the WebSocket protocol: send the client's request and report the exchange.
    #[serde(skip)]
    pub exchange: Option<Box<crate::exchange::Navigation>>,
}

impl Goto {
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.url.trim().is_empty() {
            return Err(EngineError::BadInput(
                "payload.url must not be empty".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct History {
    #[serde(default)]
    pub wait_until: WaitUntil,
}

impl History {
    pub fn validate(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

pub async fn goto(page: &Page, policy: &Policy, g: &Goto) -> Result<ActionOutput, EngineError> {
    if let Some(nav) = &g.exchange {
        return super::exchange::goto(page, policy, g.wait_until, nav).await;
    }
    let url = g.url.trim();
    policy
        .check_navigation(url)
        .await
        .map_err(EngineError::Blocked)?;
    let mut events = page.events()?;
    let nav = page
        .exec(&Navigate {
            url: url.to_string(),
            referrer: None,
        })
        .await?;
    if let Some(err) = nav.error_text.filter(|e| !e.is_empty()) {
        return Err(navigation_error(page, url, &err));
    }
    // No loaderId: a same-document navigation (fragment), already done.
    let seen = match nav.loader_id {
        Some(loader) => wait_for(page, &mut events, g.wait_until, Some(loader)).await?,
        None => None,
    };
    current_url(page, seen).await
}

/// Moves `delta` entries through the session history (back: -1, forward: +1).
pub async fn history(page: &Page, h: &History, delta: i64) -> Result<ActionOutput, EngineError> {
    let hist = page.exec(&GetNavigationHistory {}).await?;
    let target = hist.current_index + delta;
    let Some(entry) = usize::try_from(target)
        .ok()
        .and_then(|i| hist.entries.get(i))
    else {
        let which = if delta < 0 { "back" } else { "forward" };
        return Err(EngineError::BadInput(format!(
            "cannot go {which}: no such entry in this session's history"
        )));
    };
    let mut events = page.events()?;
    page.exec(&NavigateToHistoryEntry { entry_id: entry.id })
        .await?;
    let seen = wait_for(page, &mut events, h.wait_until, None).await?;
    current_url(page, seen).await
}

pub async fn reload(page: &Page, h: &History) -> Result<ActionOutput, EngineError> {
    let mut events = page.events()?;
    page.exec(&Reload {}).await?;
    let seen = wait_for(page, &mut events, h.wait_until, None).await?;
    current_url(page, seen).await
}

/// Waits for the lifecycle event `until` names, of the main frame's document `loader` (or of
/// the next document the main frame commits, when the loader is not known yet). Matching the
/// loader keeps a late event of the previous document from ending the wait early.
/// Answers the committed document's URL when the events told it (saves an evaluate that
/// would queue behind the renderer's post-load work).
pub async fn wait_for(
    page: &Page,
    events: &mut Receiver<Event>,
    until: WaitUntil,
    mut loader: Option<String>,
) -> Result<Option<String>, EngineError> {
    let main = page.target_id.as_str();
    let mut url: Option<String> = None;
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => {
                return Err(EngineError::PageGone(
                    page.dead_reason().unwrap_or_else(|| "page closed".into()),
                ))
            }
        };
        match lifecycle::read(&ev, main, until) {
            Step::Committed {
                loader: this,
                url: committed,
                ready,
            } => {
                if loader.is_none() {
                    loader = this.map(str::to_string);
                }
                if this == loader.as_deref() {
                    url = Some(committed);
                    if ready {
                        return Ok(url);
                    }
                }
            }
            Step::Reached { loader: this } if Some(this) == loader.as_deref() => return Ok(url),
            // A same-document history step (#fragment) loads nothing.
            Step::WithinDocument { url } if loader.is_none() => return Ok(url.map(str::to_string)),
            _ => {}
        }
    }
}

/// The URL of the page's current document.
pub async fn page_url(page: &Page) -> Result<String, EngineError> {
    let v = page
        .eval("function () { return location.href; }", &Value::Null)
        .await?;
    Ok(v.as_str().unwrap_or_default().to_string())
}

async fn current_url(page: &Page, seen: Option<String>) -> Result<ActionOutput, EngineError> {
    let url = match seen {
        Some(u) => u,
        None => page_url(page).await?,
    };
    Ok(Outcome::Url(PageUrl { url }).into())
}
