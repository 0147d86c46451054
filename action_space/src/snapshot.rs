//! What the collector (`collect.js`) returns: the page as the engine saw it in one evaluate.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub url: String,
    pub title: String,
    #[serde(default)]
    pub lang: String,
    #[serde(default)]
    pub description: String,
    /// scroll_x, scroll_y, viewport_width, viewport_height, total_width, total_height.
    pub viewport: [i64; 6],
    pub nodes: Vec<Node>,
    #[serde(default)]
    pub images: Vec<Image>,
    #[serde(default)]
    pub counts: Counts,
    /// The collector stopped at its node cap.
    #[serde(default)]
    pub capped: bool,
    /// outerHTML of the main content (main, [role=main], article or body).
    #[serde(default)]
    pub main_html: String,
    #[serde(default)]
    pub main_truncated: bool,
    /// The readable page as markdown, built in the page from what is rendered (hidden content
    /// never appears); empty unless the observe asked for page content.
    #[serde(default)]
    pub readable: String,
    /// This document's registry: a new value means a new document (ids start afresh).
    #[serde(default)]
    pub doc: String,
    /// Text of the live regions, alerts, status lines, dialogs and validation messages
    /// shown now: what the page says.
    #[serde(default)]
    pub said: Vec<String>,
    /// Time the collector took inside the page, in milliseconds.
    #[serde(default)]
    pub took_ms: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Counts {
    #[serde(default)]
    pub forms: u32,
    #[serde(default)]
    pub passwords: u32,
    #[serde(default)]
    pub dialogs: u32,
    #[serde(default)]
    pub iframes: u32,
}

/// One interactive element, visible and not covered (off-screen ones are kept, flagged).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub id: String,
    pub tag: String,
    /// ARIA role, explicit or implicit; `generic` for onclick/tabindex/cursor:pointer elements.
    pub role: String,
    /// Accessible name.
    #[serde(default)]
    pub name: String,
    /// x, y (page coordinates), width, height in CSS pixels.
    #[serde(rename = "box")]
    pub bbox: [i64; 4],
    pub in_view: bool,
    /// Listed past the collector's budget with only what a step needs (no name, no context).
    #[serde(default)]
    pub light: bool,
    /// Nearest landmark or form, else the nearest preceding heading.
    #[serde(default)]
    pub context: String,
    /// 0 for the main frame, >0 inside same-origin iframes.
    #[serde(default)]
    pub frame: u32,
    #[serde(default)]
    pub disabled: bool,
    pub href: Option<String>,
    #[serde(rename = "type")]
    pub input_type: Option<String>,
    pub placeholder: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub readonly: bool,
    pub value: Option<String>,
    pub autocomplete: Option<String>,
    pub checked: Option<bool>,
    #[serde(default)]
    pub multiple: bool,
    /// value, label, selected.
    #[serde(default)]
    pub options: Vec<(String, String, bool)>,
    pub more_options: Option<usize>,
    pub expanded: Option<bool>,
    /// For a name other actions share: the nearest context that tells it apart (its card's
    /// or row's heading, first cell, fieldset legend, form name).
    #[serde(default)]
    pub near: Option<String>,
    /// The scroll box whose visible area the element is outside of (listed off-screen).
    #[serde(default)]
    pub scroll_box: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    #[serde(default)]
    pub id: Option<String>,
    pub src: String,
    #[serde(default)]
    pub alt: String,
    pub category: String,
    #[serde(default)]
    pub in_view: bool,
}
