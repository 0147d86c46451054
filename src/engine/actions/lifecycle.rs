//! A main-frame navigation as Chromium's events tell it: which lifecycle event a wait ends at
//! ([`WaitUntil`]), what one event says about the navigation ([`read`]), and the error for a
//! navigation that failed. `navigate` (goto, back, forward, reload) and `exchange` (the
//! WebSocket goto, which follows redirects by document) both wait through these.

use serde::Deserialize;
use serde_json::Value;

use crate::engine::cdp::Event;
use crate::engine::egress::NetError;
use crate::engine::page::Page;
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

impl WaitUntil {
    /// The `Page.lifecycleEvent` name the wait ends at; none for `commit` (the document's
    /// `Page.frameNavigated` ends it).
    fn event(self) -> Option<&'static str> {
        match self {
            WaitUntil::Commit => None,
            WaitUntil::DomContentLoaded => Some("DOMContentLoaded"),
            WaitUntil::Load => Some("load"),
        }
    }
}

/// What one event says about the main frame's navigation, for a wait until `until`.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// A document committed in the main frame: its loader and URL (with its fragment).
    /// `ready` when the wait ends at commit.
    Committed {
        loader: Option<&'a str>,
        url: String,
        ready: bool,
    },
    /// Document `loader` reached the lifecycle event the wait ends at.
    Reached { loader: &'a str },
    /// A same-document navigation (a `#fragment`): nothing loads.
    WithinDocument { url: Option<&'a str> },
    /// Nothing about the main frame's navigation.
    Other,
}

/// Reads `ev` for the main frame `main`.
pub fn read<'a>(ev: &'a Event, main: &str, until: WaitUntil) -> Step<'a> {
    let p = &ev.params;
    match ev.method.as_str() {
        "Page.frameNavigated" if p.pointer("/frame/parentId").is_none() => {
            let text = |ptr: &str| p.pointer(ptr).and_then(Value::as_str);
            Step::Committed {
                loader: text("/frame/loaderId"),
                url: format!(
                    "{}{}",
                    text("/frame/url").unwrap_or_default(),
                    text("/frame/urlFragment").unwrap_or_default()
                ),
                ready: until.event().is_none(),
            }
        }
        "Page.lifecycleEvent"
            if p["frameId"].as_str() == Some(main)
                && until.event().is_some()
                && p["name"].as_str() == until.event() =>
        {
            match p["loaderId"].as_str() {
                Some(loader) => Step::Reached { loader },
                None => Step::Other,
            }
        }
        "Page.navigatedWithinDocument" if p["frameId"].as_str() == Some(main) => {
            Step::WithinDocument {
                url: p["url"].as_str(),
            }
        }
        _ => Step::Other,
    }
}

/// The error for a navigation Chromium reported failed (`err`), told more precisely when the
/// egress proxy or the navigation policy knows why.
pub fn navigation_error(page: &Page, url: &str, err: &str) -> EngineError {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ev(method: &str, params: Value) -> Event {
        Event {
            method: method.into(),
            params,
        }
    }

    #[test]
    fn events_are_read_for_the_main_frame_only() {
        let committed = ev(
            "Page.frameNavigated",
            json!({ "frame": { "id": "M", "loaderId": "L1", "url": "http://a/b", "urlFragment": "#c" } }),
        );
        assert_eq!(
            read(&committed, "M", WaitUntil::Load),
            Step::Committed {
                loader: Some("L1"),
                url: "http://a/b#c".into(),
                ready: false
            }
        );
        let child = ev(
            "Page.frameNavigated",
            json!({ "frame": { "id": "F", "parentId": "M", "loaderId": "L2", "url": "http://x" } }),
        );
        assert_eq!(read(&child, "M", WaitUntil::Commit), Step::Other);
        let dcl = ev(
            "Page.lifecycleEvent",
            json!({ "frameId": "M", "loaderId": "L1", "name": "DOMContentLoaded" }),
        );
        assert_eq!(
            read(&dcl, "M", WaitUntil::DomContentLoaded),
            Step::Reached { loader: "L1" }
        );
        assert_eq!(read(&dcl, "M", WaitUntil::Load), Step::Other);
        assert_eq!(read(&dcl, "F", WaitUntil::DomContentLoaded), Step::Other);
    }
}
