//! Reading the page (content, query, title, url, screenshot, logs), scrolling and waiting.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::output::{
    Bytes, Evaluated, Logs as LogList, PageContent, PageTitle, PageUrl, QueryResult, Scraped,
    Scrolled, Structured, Waited,
};
use super::{ActionOutput, Outcome, MAX_QUERY_LIMIT, MAX_WAIT_TIMEOUT_MS};
use crate::engine::page::{LogEntry, Page};
use crate::engine::protocol::{CaptureScreenshot, Clip, GetLayoutMetrics};
use crate::engine::EngineError;

/// Longest full-page screenshot, in CSS pixels, before it is cut (and said so).
/// Longest `wait_for_selector` wait.
const MAX_SELECTOR_WAIT_MS: u64 = 30_000;
const DEFAULT_SELECTOR_WAIT_MS: u64 = 5_000;
const DEFAULT_SCROLL_PX: f64 = 600.0;
/// The largest value an action hands back (evaluate's JSON value, content): past it the action
/// answers 413 naming the cap. A fixed wire limit: answers this big do not fit an agent anyway.
pub const MAX_OUTPUT_BYTES: usize = 10 * 1024 * 1024;
/// Screenshots: each side is cut at this many CSS pixels (full page) ...
const MAX_SCREENSHOT_SIDE: f64 = 16_384.0;
/// ... the picture holds at most this many pixels (a 5000 x 5000 viewport fits) ...
const MAX_SCREENSHOT_PIXELS: f64 = 32.0 * 1024.0 * 1024.0;
/// ... and its PNG, base64-encoded, at most this many bytes.
const MAX_SCREENSHOT_BASE64: usize = 64 * 1024 * 1024;
/// The largest scroll step a client may ask for.
const MAX_SCROLL_PX: f64 = 1_000_000.0;

pub const QUERY_FIELDS: &[&str] = &[
    "text",
    "html",
    "href",
    "src",
    "alt",
    "title",
    "value",
    "name",
    "id",
    "className",
    "tag",
    "role",
    "ariaLabel",
    "visible",
    "bbox",
];

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    #[default]
    Down,
    Left,
    Right,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scroll {
    #[serde(default)]
    pub direction: Direction,
    /// Pixels (default 600).
    pub amount: Option<f64>,
    /// Scroll this element instead of the window.
    pub selector: Option<String>,
}

impl Scroll {
    pub fn validate(&self) -> Result<(), EngineError> {
        match self.amount {
            Some(a) if !a.is_finite() || !(0.0..=MAX_SCROLL_PX).contains(&a) => {
                Err(EngineError::BadInput(format!(
                    "payload.amount must be between 0 and {MAX_SCROLL_PX} pixels, got {a}"
                )))
            }
            _ => Ok(()),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitForSelector {
    pub selector: String,
    /// Wait until the element is visible, not only present.
    #[serde(default)]
    pub visible: bool,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitForTimeout {
    pub timeout_ms: u64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Screenshot {
    #[serde(default)]
    pub full_page: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    Text,
    Markdown,
    Html,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Content {
    #[serde(default)]
    pub format: Format,
}

impl Content {
    pub fn validate(&self) -> Result<(), EngineError> {
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Query {
    pub selector: String,
    #[serde(default = "default_fields")]
    pub fields: Vec<String>,
    #[serde(default)]
    pub attributes: Vec<String>,
    pub limit: Option<usize>,
    #[serde(default)]
    pub visible_only: bool,
}

fn default_fields() -> Vec<String> {
    vec!["text".into()]
}

impl Query {
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.selector.trim().is_empty() {
            return Err(EngineError::BadInput(
                "payload.selector must not be empty".into(),
            ));
        }
        if let Some(bad) = self
            .fields
            .iter()
            .find(|f| !QUERY_FIELDS.contains(&f.as_str()))
        {
            return Err(EngineError::BadInput(format!(
                "payload.fields: unknown field `{bad}`; known: {}",
                QUERY_FIELDS.join(", ")
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Logs {
    /// Empty the log after reading it.
    #[serde(default)]
    pub clear: bool,
}

pub async fn scroll(page: &Page, s: &Scroll) -> Result<ActionOutput, EngineError> {
    let amount = s.amount.unwrap_or(DEFAULT_SCROLL_PX);
    let (dx, dy) = match s.direction {
        Direction::Up => (0.0, -amount),
        Direction::Down => (0.0, amount),
        Direction::Left => (-amount, 0.0),
        Direction::Right => (amount, 0.0),
    };
    let res = page
        .eval(
            include_str!("../js/scroll.js"),
            &json!({ "selector": s.selector, "dx": dx, "dy": dy }),
        )
        .await?;
    if let Some(why) = res.get("invalid").and_then(Value::as_str) {
        return Err(EngineError::BadInput(format!(
            "payload.selector is not a valid CSS selector: {why}"
        )));
    }
    if res["matched"] == false {
        return Err(EngineError::NoMatch {
            message: format!(
                "no element matches `{}`",
                s.selector.as_deref().unwrap_or_default()
            ),
            details: Box::default(),
        });
    }
    let scrolled: Scrolled = serde_json::from_value(res).unwrap_or_default();
    Ok(Outcome::Scrolled(scrolled).into())
}

pub async fn wait_for_selector(
    page: &Page,
    w: &WaitForSelector,
) -> Result<ActionOutput, EngineError> {
    if w.selector.trim().is_empty() {
        return Err(EngineError::BadInput(
            "payload.selector must not be empty".into(),
        ));
    }
    let timeout = w
        .timeout_ms
        .unwrap_or(DEFAULT_SELECTOR_WAIT_MS)
        .min(MAX_SELECTOR_WAIT_MS);
    let started = Instant::now();
    let arg = json!({ "selector": w.selector });
    loop {
        let res = page.eval(super::js::EXISTS, &arg).await?;
        if let Some(why) = res.get("invalid").and_then(Value::as_str) {
            return Err(EngineError::BadInput(format!(
                "payload.selector is not a valid CSS selector: {why}"
            )));
        }
        let ready = res["matched"] == true && (!w.visible || res["visible"] == true);
        if ready {
            return Ok(Outcome::Waited(Waited {
                matched: Some(true),
                visible: res["visible"].as_bool(),
                waited_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                clamped: None,
            })
            .into());
        }
        if started.elapsed() >= Duration::from_millis(timeout) {
            let what = if w.visible {
                "a visible element"
            } else {
                "an element"
            };
            return Err(EngineError::Timeout(format!(
                "timed out after {timeout} ms waiting for {what} matching `{}`",
                w.selector
            )));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub async fn wait_for_timeout(w: &WaitForTimeout) -> Result<ActionOutput, EngineError> {
    let ms = w.timeout_ms.min(MAX_WAIT_TIMEOUT_MS);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(Outcome::Waited(Waited {
        matched: None,
        visible: None,
        waited_ms: ms,
        clamped: Some(w.timeout_ms > MAX_WAIT_TIMEOUT_MS),
    })
    .into())
}

/// A PNG of the viewport or the whole page, base64-encoded.
pub async fn screenshot_base64(page: &Page, full_page: bool) -> Result<String, EngineError> {
    let metrics = page.exec(&GetLayoutMetrics {}).await?;
    let (width, height) = if full_page {
        let size = metrics.css_content_size;
        (size.width, size.height)
    } else {
        let vp = metrics.css_layout_viewport;
        (vp.client_width, vp.client_height)
    };
    // A page reports its own size: NaN, 0 or 1e300 must not reach the capture.
    let side = |v: f64| {
        if v.is_finite() {
            v.clamp(1.0, MAX_SCREENSHOT_SIDE).ceil()
        } else {
            1.0
        }
    };
    let (w, h) = (side(width), side(height));
    if w * h > MAX_SCREENSHOT_PIXELS {
        return Err(EngineError::TooLarge(format!(
            "a screenshot of {w} x {h} CSS pixels is over the cap of {} pixels; use a viewport screenshot or a smaller viewport",
            MAX_SCREENSHOT_PIXELS
        )));
    }
    let clip = full_page.then_some(Clip {
        x: 0.0,
        y: 0.0,
        width: w,
        height: h,
        scale: 1.0,
    });
    let shot = CaptureScreenshot {
        format: "png",
        capture_beyond_viewport: full_page,
        clip,
    };
    let data = page.exec(&shot).await?.data;
    if data.len() > MAX_SCREENSHOT_BASE64 {
        return Err(EngineError::TooLarge(format!(
            "the screenshot's PNG is {} bytes in base64, over the cap of {MAX_SCREENSHOT_BASE64} bytes",
            data.len()
        )));
    }
    Ok(data)
}

/// The error for an output over [`MAX_OUTPUT_BYTES`].
fn output_too_large(what: &str, size: usize) -> EngineError {
    EngineError::TooLarge(format!(
        "{what} is {size} bytes, over the output cap of {MAX_OUTPUT_BYTES} bytes"
    ))
}

pub async fn screenshot(page: &Page, s: &Screenshot) -> Result<ActionOutput, EngineError> {
    let data = screenshot_base64(page, s.full_page).await?;
    Ok(Outcome::Bytes(Bytes {
        content_type: "image/png".into(),
        body_base64: Some(data),
        file: None,
    })
    .into())
}

pub async fn content(page: &Page, c: &Content) -> Result<ActionOutput, EngineError> {
    let name = match c.format {
        Format::Text => "text",
        Format::Markdown => "markdown",
        Format::Html => "html",
    };
    let arg = json!({ "format": name, "cap": MAX_OUTPUT_BYTES });
    let raw = page.eval(include_str!("../js/content.js"), &arg).await?;
    if let Some(n) = raw.get("tooLarge").and_then(Value::as_u64) {
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        return Err(output_too_large(&format!("the page's {name}"), n));
    }
    let raw = match raw {
        Value::String(s) => s,
        _ => String::new(),
    };
    let content = match c.format {
        Format::Html => raw,
        // html2text on megabytes of HTML is heavy: off the async runtime.
        format => tokio::task::spawn_blocking(move || match format {
            Format::Text => action_space::markdown::clean_text(&raw),
            _ => action_space::markdown::from_html(&raw),
        })
        .await
        .map_err(|e| EngineError::Internal(format!("content conversion failed: {e}")))?,
    };
    Ok(Outcome::Content(PageContent {
        format: name,
        content: Some(content),
        content_base64: None,
    })
    .into())
}

pub async fn query(page: &Page, q: &Query) -> Result<ActionOutput, EngineError> {
    let limit = q.limit.unwrap_or(MAX_QUERY_LIMIT).min(MAX_QUERY_LIMIT);
    let arg = json!({
        "selector": q.selector, "fields": q.fields, "attributes": q.attributes,
        "limit": limit, "visibleOnly": q.visible_only,
    });
    let res = page.eval(super::js::QUERY, &arg).await?;
    if let Some(why) = res.get("invalid").and_then(Value::as_str) {
        return Err(EngineError::BadInput(format!(
            "payload.selector `{}` is not a valid CSS selector: {why}",
            q.selector
        )));
    }
    let elements = res["elements"].as_array().cloned().unwrap_or_default();
    Ok(Outcome::Query(QueryResult {
        selector: q.selector.clone(),
        fields: q.fields.clone(),
        attributes: q.attributes.clone(),
        limit,
        count: elements.len(),
        total_matched: res["total"]
            .as_u64()
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(elements.len()),
        elements,
    })
    .into())
}

pub async fn title(page: &Page) -> Result<ActionOutput, EngineError> {
    let t = page
        .eval("function () { return document.title; }", &Value::Null)
        .await?;
    Ok(Outcome::Title(PageTitle {
        title: t.as_str().unwrap_or_default().to_string(),
    })
    .into())
}

pub async fn url(page: &Page) -> Result<ActionOutput, EngineError> {
    Ok(Outcome::Url(PageUrl {
        url: super::navigate::page_url(page).await?,
    })
    .into())
}

pub fn logs(log: &Mutex<VecDeque<LogEntry>>, l: &Logs) -> ActionOutput {
    let entries: Vec<LogEntry> = match log.lock() {
        Ok(mut g) if l.clear => g.drain(..).collect(),
        Ok(g) => g.iter().cloned().collect(),
        Err(_) => Vec::new(),
    };
    Outcome::Logs(LogList {
        count: entries.len(),
        entries,
    })
    .into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Evaluate {
    /// A JavaScript expression, run in the page's own world; a promise is awaited.
    #[serde(alias = "code")]
    pub expression: String,
}

/// Runs the page's own JavaScript (main world) and returns its JSON value.
pub async fn evaluate(page: &Page, e: &Evaluate) -> Result<ActionOutput, EngineError> {
    if e.expression.trim().is_empty() {
        return Err(EngineError::BadInput(
            "payload.expression must not be empty".into(),
        ));
    }
    let value = page.eval_main(&e.expression).await?;
    let size = json_size(&value);
    if size > MAX_OUTPUT_BYTES {
        return Err(output_too_large("the expression's value", size));
    }
    Ok(Outcome::Evaluated(Evaluated { value }).into())
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scrape {
    /// Scrape only this element.
    pub selector: Option<String>,
    #[serde(default = "yes", alias = "only_main_content")]
    pub only_main_content: bool,
    #[serde(default = "yes", alias = "scrape_links")]
    pub scrape_links: bool,
    #[serde(default, alias = "scrape_images")]
    pub scrape_images: bool,
}

fn yes() -> bool {
    true
}

/// What a scrape with no options reads: the main content, links kept, images left out.
impl Default for Scrape {
    fn default() -> Self {
        Self {
            selector: None,
            only_main_content: true,
            scrape_links: true,
            scrape_images: false,
        }
    }
}

/// What "only the main content" reads: the first of these the page has.
const MAIN_CONTENT: [&str; 4] = ["main, [role=main]", "article", "body", "html"];

/// The page (or an element) as markdown, plus its images and structured data.
pub async fn scrape(page: &Page, s: &Scrape) -> Result<ActionOutput, EngineError> {
    let arg = json!({
        "selector": s.selector, "onlyMainContent": s.only_main_content,
        "scrapeLinks": s.scrape_links, "scrapeImages": s.scrape_images,
    });
    let r = page.eval(include_str!("../js/scrape.js"), &arg).await?;
    if let Some(why) = r.get("invalid").and_then(Value::as_str) {
        return Err(EngineError::BadInput(format!(
            "selector is not a valid CSS selector: {why}"
        )));
    }
    if r["matched"] == false {
        return Err(EngineError::NoMatch {
            message: format!(
                "no element matches `{}`",
                s.selector.as_deref().unwrap_or_default()
            ),
            details: Box::default(),
        });
    }
    // The text is the readable page the observe answers (what is rendered; hidden content
    // never), of the selected element, the main content or the whole page.
    let root: Option<Vec<&str>> = match (&s.selector, s.only_main_content) {
        (Some(sel), _) => Some(vec![sel.as_str()]),
        (None, true) => Some(MAIN_CONTENT.to_vec()),
        (None, false) => None,
    };
    let arg = json!({
        "pageContent": true, "maxNodes": 1, "readableRoot": root,
        "readableLinks": s.scrape_links, "readableImages": s.scrape_images,
    });
    let collected = page
        .eval_kept("__ppCollect", action_space::COLLECTOR, &arg)
        .await?;
    let text = collected.as_str().unwrap_or_default().to_string();
    let markdown = tokio::task::spawn_blocking(move || {
        serde_json::from_str::<action_space::Snapshot>(&text)
            .map(|snap| action_space::markdown::collapse_blank_lines(&snap.readable))
    })
    .await
    .map_err(|e| EngineError::Internal(format!("scrape failed: {e}")))?
    .map_err(|e| EngineError::Internal(format!("collector answered an unexpected shape: {e}")))?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    Ok(Outcome::Scraped(Box::new(Scraped {
        url: text(&r["url"]),
        title: text(&r["title"]),
        markdown,
        images: r["images"].as_array().cloned().unwrap_or_default(),
        structured: Structured {
            jsonld: r["jsonld"].clone(),
            meta: r["meta"].clone(),
            tables: r["tables"].clone(),
        },
    }))
    .into())
}

/// A JSON value's serialised size in bytes, without building the text.
fn json_size(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(b.len());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    match serde_json::to_writer(&mut c, v) {
        Ok(()) => c.0,
        Err(_) => usize::MAX,
    }
}
