//! What actions answer, as types: each action's own result ([`Outcome`]) and what happened to
//! the session meanwhile ([`News`]: tabs opened or replaced, downloads). A protocol reads the
//! fields it needs by type; the Capture wire is their serde form (field names follow
//! Capture's, as the actions' inputs do), which every protocol also uses for what it shows
//! unchanged.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::engine::files::{DownloadNote, FileEntry};
use crate::engine::page::LogEntry;
use crate::engine::tabs::TabInfo;
use crate::exchange::Exchanged;

/// One action's answer.
#[derive(Debug, Clone, Default)]
pub struct ActionOutput {
    pub result: Outcome,
    pub news: News,
}

impl From<Outcome> for ActionOutput {
    fn from(result: Outcome) -> Self {
        Self {
            result,
            news: News::default(),
        }
    }
}

impl ActionOutput {
    /// The answer's fields in the Capture form: the result's, then the news'.
    pub fn fields(&self) -> Map<String, Value> {
        let mut m = match serde_json::to_value(&self.result) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        if let Ok(Value::Object(news)) = serde_json::to_value(&self.news) {
            m.extend(news);
        }
        m
    }
}

/// What happened to the session while an action ran, besides its result.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct News {
    /// The tab now active, when the action opened or switched to one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tab: Option<usize>,
    /// The tab was replaced before the action ran (it was hung), and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tab_replaced: Option<String>,
    /// The page opened a tab past the session's limit: it was closed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tab_refused: Option<String>,
    /// The session's tabs (tab actions and snapshots answer them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tabs: Option<Vec<TabInfo>>,
    /// Downloads that finished or were refused since the last answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub downloads: Vec<DownloadNote>,
    /// A screenshot the request asked to attach.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<Bytes>,
    /// What a step asked to be told it changed (`changes: true`): since the last observation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<action_space::changes::Changes>,
}

impl News {
    /// Folds in what an earlier action of the same answer reported (an observe right after a
    /// step answers both): what this one says wins, lists keep the earlier first.
    pub fn absorb(&mut self, earlier: News) {
        self.tab = self.tab.or(earlier.tab);
        self.tab_replaced = self.tab_replaced.take().or(earlier.tab_replaced);
        self.tab_refused = self.tab_refused.take().or(earlier.tab_refused);
        self.tabs = self.tabs.take().or(earlier.tabs);
        let later = std::mem::replace(&mut self.downloads, earlier.downloads);
        self.downloads.extend(later);
        self.screenshot = self.screenshot.take().or(earlier.screenshot);
        self.changes = self.changes.take().or(earlier.changes);
    }
}

/// An action's own result.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// Nothing to say beyond success (close_tab, tabs, a standard-client fill).
    Done(Done),
    /// goto, back, forward, reload, url, new_tab: where the tab is now.
    Url(PageUrl),
    /// A goto that sent the client's own request (the WebSocket protocol's), or the
    /// standard client's navigation: the exchange (seed 004's fields).
    Exchanged(Box<Exchanged>),
    /// A standard-client click: whether it navigated, and the exchange if it did.
    FetchClick(Box<FetchClick>),
    /// click, hover, fill, select, check, an agent step: the element and what was done.
    Element(Box<ElementDone>),
    Mouse(MouseAt),
    Typed(Typed),
    Pressed(Pressed),
    Scrolled(Scrolled),
    Waited(Waited),
    /// screenshot, pdf: bytes and their type.
    Bytes(Bytes),
    Content(PageContent),
    Query(QueryResult),
    Title(PageTitle),
    Logs(Logs),
    Batch(BatchDone),
    Observation(Box<Observation>),
    Evaluated(Evaluated),
    Scraped(Box<Scraped>),
    Uploaded(Uploaded),
    Downloaded(Downloaded),
    Profile(ProfileSaved),
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome::Done(Done {})
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Done {}

#[derive(Debug, Clone, Serialize)]
pub struct PageUrl {
    pub url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct XY {
    pub x: f64,
    pub y: f64,
}

/// A number as the page's script made it (an integer stays one on the wire).
pub type JsNumber = serde_json::Number;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub x: JsNumber,
    pub y: JsNumber,
    pub width: JsNumber,
    pub height: JsNumber,
}

/// What the page showed of an element (the diagnostics Capture returns with an element
/// action, and with its failure).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementReport {
    #[serde(default)]
    pub matched: bool,
    #[serde(default)]
    pub visible: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bounding_box: Option<Rect>,
    /// What a click at its point hits instead, when something covers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obscured_by: Option<String>,
}

impl ElementReport {
    pub fn unmatched() -> Self {
        Self::default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Chosen {
    Label(String),
    Values(Vec<String>),
}

/// One option of a `<select>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectOption {
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub label: String,
}

/// A field the browser's validation stopped a submit on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidField {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
}

/// An element action's result: the element, and whichever of these the action sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ElementDone {
    #[serde(flatten)]
    pub element: ElementReport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clicked_point: Option<XY>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hovered_point: Option<XY>,
    /// The tab's URL after the action.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// A field's value after a fill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The values a `<select>` has chosen, or the label of the ARIA option picked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selected: Option<Chosen>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// A `<select>`'s options, when none matched what was asked (a failure's details).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<SelectOption>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changed: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// A bare step on a field clicked it to focus it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focused: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_fields: Option<Vec<InvalidField>>,
    /// An agent step: the id stepped on and what it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
}

impl ElementDone {
    pub fn of(element: ElementReport) -> Self {
        Self {
            element,
            ..Self::default()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FetchClick {
    pub navigated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub exchange: Option<Exchanged>,
}

/// Where the mouse is (move_mouse, drag, cursor_position).
#[derive(Debug, Clone, Serialize)]
pub struct MouseAt {
    pub x: f64,
    pub y: f64,
    /// A drag's points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub points: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Typed {
    /// Characters typed.
    pub typed: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Pressed {
    pub key: String,
    pub url: String,
}

/// What scrolled (`window`, or a scroll box's name) and where it is now.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scrolled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrolled: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_x: Option<JsNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_y: Option<JsNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_width: Option<JsNumber>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scroll_height: Option<JsNumber>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Waited {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matched: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub visible: Option<bool>,
    pub waited_ms: u64,
    /// A wait_for_timeout longer than its cap waited the cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clamped: Option<bool>,
}

/// Bytes an action made, base64 as the browser hands them over.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bytes {
    pub content_type: String,
    /// `None` where nothing can be made (a screenshot without a browser).
    pub body_base64: Option<String>,
    /// The session file they were also kept as (a PDF).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileEntry>,
}

/// The document: as text (html, text, markdown) or as its raw bytes (the standard client).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageContent {
    pub format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_base64: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryResult {
    pub selector: String,
    pub fields: Vec<String>,
    pub attributes: Vec<String>,
    pub limit: usize,
    pub count: usize,
    pub total_matched: usize,
    /// One object per element with the fields and attributes asked for (the client names
    /// them, so they stay JSON).
    pub elements: Vec<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PageTitle {
    pub title: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Logs {
    pub count: usize,
    pub entries: Vec<LogEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BatchDone {
    pub completed: usize,
    pub failed: usize,
    pub results: Vec<BatchItem>,
}

/// One action of a batch: its type, and its result or its error.
#[derive(Debug, Clone, Serialize)]
pub struct BatchItem {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub result: Option<Outcome>,
}

/// An observation: the agent's view of the page (see `observe`).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Observation {
    pub url: String,
    pub title: String,
    pub category: &'static str,
    pub description: String,
    /// The action listing (and, unless `diff`, the changes section).
    pub markdown: String,
    pub actions: Vec<ListedAction>,
    pub omitted: usize,
    pub omitted_below_fold: usize,
    /// scroll_x, scroll_y, viewport_width, viewport_height, total_width, total_height.
    pub viewport: [i64; 6],
    pub changes: action_space::changes::Changes,
    /// Only what changed was answered.
    pub diff: bool,
    /// The collector's own JSON, when asked for (fixtures use it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collector: Option<Value>,
    /// The readable page (when asked for).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub page_markdown: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<action_space::Image>>,
}

/// One listed action of an observation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ListedAction {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub category: String,
    pub description: String,
    pub params: Vec<action_space::space::Param>,
    pub in_viewport: bool,
    pub disabled: bool,
    pub default_value: Option<Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Evaluated {
    /// The expression's value, as the page made it.
    pub value: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scraped {
    pub url: String,
    pub title: String,
    pub markdown: String,
    pub images: Vec<Value>,
    pub structured: Structured,
}

/// What a page states about itself in machine form.
#[derive(Debug, Clone, Serialize)]
pub struct Structured {
    pub jsonld: Value,
    pub meta: Value,
    pub tables: Value,
}

#[derive(Debug, Clone, Serialize)]
pub struct Uploaded {
    pub uploaded: Vec<String>,
    /// `input` (set directly) or `chooser` (the click opened one, which was answered).
    pub via: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Downloaded {
    pub download: DownloadNote,
}

/// A profile that was saved (`save_profile`).
#[derive(Debug, Clone, Serialize)]
pub struct ProfileSaved {
    pub profile: SavedProfile,
}

/// A profile as every wire shows it (never its contents): the `save_profile` answer and the
/// `/v1/profiles` routes.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SavedProfile {
    pub name: String,
    /// Its sealed size, which the caps count.
    pub size_bytes: u64,
    /// RFC 3339.
    pub saved_at: String,
    pub cookies: usize,
    /// Origins whose localStorage / sessionStorage it holds.
    pub origins: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_capture_form_is_flat_camel_case_and_leaves_out_what_is_unset() {
        let mut done = ElementDone::of(ElementReport {
            matched: true,
            visible: true,
            tag_name: Some("button".into()),
            ..ElementReport::default()
        });
        done.clicked_point = Some(XY { x: 1.5, y: 2.0 });
        done.selected = Some(Chosen::Label("Banana".into()));
        let mut out = ActionOutput::from(Outcome::Element(Box::new(done)));
        out.news.tab = Some(1);
        assert_eq!(
            Value::Object(out.fields()),
            json!({
                "matched": true, "visible": true, "tagName": "button",
                "clickedPoint": { "x": 1.5, "y": 2.0 }, "selected": "Banana", "tab": 1,
            })
        );
        assert_eq!(ActionOutput::default().fields(), Map::new());
    }

    #[test]
    fn batch_items_carry_their_result_beside_type_and_success() {
        let batch = Outcome::Batch(BatchDone {
            completed: 1,
            failed: 1,
            results: vec![
                BatchItem {
                    kind: "title",
                    success: true,
                    error: None,
                    result: Some(Outcome::Title(PageTitle { title: "T".into() })),
                },
                BatchItem {
                    kind: "click",
                    success: false,
                    error: Some("no element".into()),
                    result: None,
                },
            ],
        });
        assert_eq!(
            serde_json::to_value(batch).unwrap(),
            json!({ "completed": 1, "failed": 1, "results": [
                { "type": "title", "success": true, "title": "T" },
                { "type": "click", "success": false, "error": "no element" },
            ]})
        );
    }

    #[test]
    fn an_exchange_answers_its_body_as_base64_and_js_numbers_keep_their_form() {
        let ex = Outcome::Exchanged(Box::new(Exchanged {
            url: "http://a/".into(),
            status_code: 200,
            body: Some(b"hi".to_vec()),
            ..Exchanged::default()
        }));
        let v = serde_json::to_value(ex).unwrap();
        assert_eq!(v["body"], "aGk=");
        assert_eq!(v["status_code"], 200);
        let s: Scrolled =
            serde_json::from_value(json!({ "matched": true, "scrollY": 200 })).unwrap();
        assert_eq!(serde_json::to_value(s).unwrap(), json!({ "scrollY": 200 }));
    }
}
