//! The MCP tools' inputs: one type per tool, with the agent API's field names. Their JSON
//! Schemas (generated with `schemars`) are what `tools/list` answers; unknown fields are
//! refused, so a mistyped argument is named instead of dropped.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Map, Value};

/// Only the session.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionOnly {
    /// The session to use (from session_start or any answer). Omitted: this connection's
    /// current session, started on first use.
    pub session_id: Option<String>,
}

/// No input.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Observe {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// Go to this URL first, then observe.
    pub url: Option<String>,
    /// Actions listed at most (viewport first). Default 100.
    pub max_nb_actions: Option<u64>,
    /// Character budget of the action listing, and of the page text (each). Default 20000;
    /// 200..10000000. What does not fit is counted and can be asked for with a larger budget.
    pub max_chars: Option<u64>,
    /// Answer only what changed since the last observe (new and changed actions, new page
    /// text). Ids of earlier observations still work.
    pub diff: Option<bool>,
    /// Also answer a screenshot of the viewport.
    pub screenshot: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// An id from the last observe: an element (L3, B1, I2, ...) or a browser action (S1..S12).
    pub action_id: String,
    /// The text to type (inputs), the option (selects), true/false (checkboxes), the URL
    /// (S1, S6), a tab index (S7), the key (S8), pixels (S9, S10) or milliseconds (S11).
    pub value: Option<Value>,
    /// Press Enter after typing.
    pub enter: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Act {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// The action: goto, click, fill, select, check, press, type, hover, scroll,
    /// wait_for_selector, wait_for_timeout, content, query, evaluate, back, forward, reload,
    /// title, url, console, errors, batch, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Its fields, as the REST API's actions take them: {"url": ...} for goto,
    /// {"selector": "#q", "value": "text"} for fill, {"selector": "button"} for click, ...
    pub payload: Option<Map<String, Value>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scrape {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// Go to this URL first.
    pub url: Option<String>,
    /// Read only this element (a CSS selector).
    pub selector: Option<String>,
    /// Only the main content (main, article), not navigation and footers. Default true.
    pub only_main_content: Option<bool>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Screenshot {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// The whole page instead of the viewport.
    pub full_page: Option<bool>,
}

/// What `tabs` does.
#[derive(Debug, Default, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TabOp {
    /// List the tabs.
    #[default]
    List,
    /// Open `url` in a new tab, which becomes the active one.
    New,
    /// Make tab `index` the active one.
    Switch,
    /// Close tab `index` (default: the active one).
    Close,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tabs {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// list (default), new, switch or close.
    pub action: Option<TabOp>,
    /// The URL of a new tab.
    pub url: Option<String>,
    /// The tab to switch to or close (0-based, as listed).
    pub index: Option<u64>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Files {
    /// The session (omitted: this connection's current one).
    pub session_id: Option<String>,
    /// Read this text file instead of listing them all (or, with `content_base64`, store it).
    pub name: Option<String>,
    /// Store these bytes (base64) as the file `name`, for an `upload` action to set on a
    /// file input: `act {type: "upload", payload: {selector, files: [name]}}`.
    pub content_base64: Option<String>,
}
