//! goto, back, forward, reload, and waiting for a navigation's lifecycle event.

use serde::Deserialize;
use serde_json::Value;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use super::{output, ActionOutput};
use crate::engine::cdp::Event;
use crate::engine::egress::NetError;
use crate::engine::page::Page;
use crate::engine::policy::Policy;
use crate::engine::protocol::{GetNavigationHistory, Navigate, NavigateToHistoryEntry, Reload};
use crate::engine::EngineError;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WaitUntil {
    Load,
    #[default]
    #[serde(rename = "domcontentloaded")]
    DomContentLoaded,
    Commit,
}

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
    let wanted = match until {
        WaitUntil::Commit => None,
        WaitUntil::DomContentLoaded => Some("DOMContentLoaded"),
        WaitUntil::Load => Some("load"),
    };
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
        let p = &ev.params;
        match ev.method.as_str() {
            "Page.frameNavigated" if p.pointer("/frame/parentId").is_none() => {
                let this = p.pointer("/frame/loaderId").and_then(Value::as_str);
                if loader.is_none() {
                    loader = this.map(str::to_string);
                }
                if this == loader.as_deref() {
                    let base = p
                        .pointer("/frame/url")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    let fragment = p
                        .pointer("/frame/urlFragment")
                        .and_then(Value::as_str)
                        .unwrap_or_default();
                    url = Some(format!("{base}{fragment}"));
                    if wanted.is_none() {
                        return Ok(url);
                    }
                }
            }
            "Page.lifecycleEvent"
                if p["frameId"].as_str() == Some(main)
                    && wanted.is_some()
                    && p["name"].as_str() == wanted
                    && p["loaderId"].as_str() == loader.as_deref() =>
            {
                return Ok(url)
            }
            // A same-document history step (#fragment) loads nothing.
            "Page.navigatedWithinDocument"
                if p["frameId"].as_str() == Some(main) && loader.is_none() =>
            {
                return Ok(p["url"].as_str().map(str::to_string))
            }
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
    Ok(output([("url", Value::from(url))]))
}

pub(super) fn navigation_error(page: &Page, url: &str, err: &str) -> EngineError {
    // Behind the egress proxy an https target that cannot be reached is only a "failed
    // tunnel" to the browser; the proxy remembers what really happened.
    let proxied = url::Url::parse(url)
        .ok()
        .and_then(|u| page.state.net_failures.recent(&u));
    if let Some((net, why)) = proxied {
        if err.contains("ERR_TUNNEL_CONNECTION_FAILED")
            || err.contains(net.net_text().trim_start_matches("net::"))
        {
            return match net {
                NetError::BlockedByClient => EngineError::Blocked(format!(
                    "navigation to {url} was refused by the navigation policy ({why})"
                )),
                _ => EngineError::Navigation(format!("{} for {url} ({why})", net.net_text())),
            };
        }
    }
    if err.contains("ERR_BLOCKED_BY_CLIENT") {
        let why = page
            .state
            .blocked
            .lock()
            .ok()
            .and_then(|b| b.back().cloned());
        return EngineError::Blocked(format!(
            "navigation to {url} was refused by the navigation policy ({})",
            why.unwrap_or_else(|| "blocked".into())
        ));
    }
    EngineError::Navigation(format!("{err} for {url}"))
}
