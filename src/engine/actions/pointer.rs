//! Mouse actions by selector or coordinates. Clicks are trusted input events (CDP Input
//! domain) at a point of the element that a hit test says is really the element.

use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{json, Value};

use super::output::{ElementDone, ElementReport, MouseAt, XY};
use super::{js, ActionOutput, Outcome, MAX_DRAG_POINTS};
use crate::engine::page::Page;
use crate::engine::protocol::DispatchMouseEvent;
use crate::engine::EngineError;

/// How long a selector action waits for its element to appear and become visible by default.
pub const DEFAULT_ELEMENT_TIMEOUT_MS: u64 = 5000;
const POLL: Duration = Duration::from_millis(50);
/// How long after an input a navigation must have started for the action to wait for it.
/// A link click reports its navigation before the input event is acknowledged; a form
/// submission is posted as the renderer's next task. The window covers both, and is what
/// every non-navigating click pays (see the benchmark).
const NAVIGATION_START_WINDOW: Duration = Duration::from_millis(15);
/// Longest wait for a navigation an input started before the action answers anyway.
const NAVIGATION_SETTLE_CAP: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub selector: String,
    /// How long to wait for the element (default 5000 ms).
    pub timeout_ms: Option<u64>,
    #[serde(default)]
    pub button: MouseButton,
    #[serde(default = "one")]
    pub click_count: u32,
}

fn one() -> u32 {
    1
}

impl Target {
    /// A left click (or hover) on `selector`, waiting the default time for it.
    pub fn selector(selector: impl Into<String>) -> Self {
        Self {
            selector: selector.into(),
            timeout_ms: None,
            button: MouseButton::Left,
            click_count: 1,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MouseButton {
    #[default]
    Left,
    Right,
    Middle,
}

impl MouseButton {
    fn name(self) -> &'static str {
        match self {
            MouseButton::Left => "left",
            MouseButton::Right => "right",
            MouseButton::Middle => "middle",
        }
    }
}

/// The largest mouse coordinate accepted: far past any viewport (5000 px at most), far from
/// the magnitudes that stall Chromium's input pipeline (1e308 did).
pub const MAX_COORDINATE: f64 = 100_000.0;

#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

impl Point {
    pub fn validate(&self, field: &str) -> Result<(), EngineError> {
        let ok = |v: f64| v.is_finite() && (0.0..=MAX_COORDINATE).contains(&v);
        if !ok(self.x) || !ok(self.y) {
            return Err(EngineError::BadInput(format!(
                "{field}: x and y must be between 0 and {MAX_COORDINATE} CSS pixels, got {}, {}",
                self.x, self.y
            )));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Drag {
    pub path: Vec<Point>,
}

impl Drag {
    pub fn validate(&self) -> Result<(), EngineError> {
        if self.path.len() < 2 || self.path.len() > MAX_DRAG_POINTS {
            return Err(EngineError::BadInput(format!(
                "payload.path must hold 2 to {MAX_DRAG_POINTS} points, got {}",
                self.path.len()
            )));
        }
        for (i, p) in self.path.iter().enumerate() {
            p.validate(&format!("payload.path[{i}]"))?;
        }
        Ok(())
    }
}

/// Which element an action means: a CSS selector (Capture) or an agent id (observe/step).
#[derive(Debug, Clone, Copy)]
pub enum Locator<'a> {
    Css(&'a str),
    Id(&'a str),
}

impl Locator<'_> {
    /// The helper argument naming the element, plus `extra` fields.
    pub fn arg(&self, extra: Value) -> Value {
        let mut v = match *self {
            Locator::Css(s) => json!({ "selector": s }),
            Locator::Id(id) => json!({ "id": id }),
        };
        if let (Some(obj), Value::Object(more)) = (v.as_object_mut(), extra) {
            obj.extend(more);
        }
        v
    }

    pub fn describe(&self) -> String {
        match *self {
            Locator::Css(s) => format!("`{s}`"),
            Locator::Id(id) => format!("id {id}"),
        }
    }
}

/// What the locator reported of an element that is there and visible.
pub struct Located {
    pub point: (f64, f64),
    /// What the page showed of the element (answered with the action and its failures).
    pub details: ElementReport,
    pub raw: Value,
}

impl Located {
    /// An element action's result, starting from the element.
    pub fn done(&self) -> ElementDone {
        ElementDone::of(self.details.clone())
    }

    /// A failure's details: the element as the page showed it.
    pub fn failure(&self) -> Box<ElementDone> {
        Box::new(self.done())
    }
}

/// Waits (up to `timeout_ms`) for the element to exist and be visible, scrolled into view.
/// An agent id is not waited for: it resolves now, or it is stale.
pub async fn locate(
    page: &Page,
    loc: Locator<'_>,
    timeout_ms: Option<u64>,
    focus: bool,
) -> Result<Located, EngineError> {
    if let Locator::Css(s) = loc {
        if s.trim().is_empty() {
            return Err(EngineError::BadInput(
                "payload.selector must not be empty".into(),
            ));
        }
    }
    let timeout = match loc {
        Locator::Css(_) => Duration::from_millis(timeout_ms.unwrap_or(DEFAULT_ELEMENT_TIMEOUT_MS)),
        Locator::Id(_) => Duration::ZERO,
    };
    let started = Instant::now();
    let arg = loc.arg(json!({ "scroll": true, "focus": focus }));
    loop {
        let found = page.eval(js::LOCATE, &arg).await?;
        if let Some(why) = found.get("invalid").and_then(Value::as_str) {
            return Err(EngineError::BadInput(format!(
                "payload.selector {} is not a valid CSS selector: {why}",
                loc.describe()
            )));
        }
        if found["stale"] == true {
            return Err(EngineError::Stale(format!(
                "stale action id, observe again: {} no longer matches an element of this page",
                loc.describe()
            )));
        }
        let matched = found["matched"].as_bool().unwrap_or(false);
        let visible = found["visible"].as_bool().unwrap_or(false);
        if matched && visible {
            let point = (
                found.pointer("/point/x").and_then(Value::as_f64),
                found.pointer("/point/y").and_then(Value::as_f64),
            );
            if let (Some(x), Some(y)) = point {
                return Ok(Located {
                    point: (x, y),
                    details: diagnostics(&found),
                    raw: found,
                });
            }
        }
        if started.elapsed() >= timeout {
            let message = match (matched, loc) {
                (true, Locator::Id(id)) => {
                    format!("element {id} is not visible now; observe again")
                }
                (true, _) => format!(
                    "element matching {} is not visible (waited {} ms)",
                    loc.describe(),
                    timeout.as_millis()
                ),
                (false, _) => format!(
                    "no element matches {} (waited {} ms)",
                    loc.describe(),
                    timeout.as_millis()
                ),
            };
            return Err(EngineError::NoMatch {
                message,
                details: Box::new(ElementDone::of(diagnostics(&found))),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

fn diagnostics(found: &Value) -> ElementReport {
    // What locate.js reports; a field of another shape is left out rather than failing.
    serde_json::from_value(found.clone()).unwrap_or_else(|_| ElementReport {
        matched: found["matched"] == true,
        visible: found["visible"] == true,
        ..ElementReport::default()
    })
}

pub async fn click(page: &Page, t: &Target) -> Result<ActionOutput, EngineError> {
    click_el(
        page,
        Locator::Css(&t.selector),
        t.timeout_ms,
        t.button,
        t.click_count,
    )
    .await
}

/// Clicks an element at a point a hit test says is really it, with trusted input events.
pub async fn click_el(
    page: &Page,
    loc: Locator<'_>,
    timeout_ms: Option<u64>,
    button: MouseButton,
    count: u32,
) -> Result<ActionOutput, EngineError> {
    let el = locate(page, loc, timeout_ms, false).await?;
    click_at(page, el, button, count).await
}

/// How long a click waits for a moving element's box to come to rest.
const SETTLE_LIMIT: Duration = Duration::from_millis(1000);
const SETTLE_POLL: Duration = Duration::from_millis(50);

/// The agent's click: waits while the page animates until the element's box is stable, and
/// clicks only at a point whose hit test is the element; when no such point exists it fails
/// with `obscuredBy` and clicks nothing (a covering element never receives the agent's click).
pub async fn click_el_strict(page: &Page, loc: Locator<'_>) -> Result<ActionOutput, EngineError> {
    let started = Instant::now();
    let mut el = locate(page, loc, None, false).await?;
    while el.raw["animating"] == true && started.elapsed() < SETTLE_LIMIT {
        tokio::time::sleep(SETTLE_POLL).await;
        let again = locate(page, loc, None, false).await?;
        // At rest on the page, not only in the viewport: scrolling it into view again can
        // hold a still-moving element at the same viewport spot.
        let still = again.raw["boundingBox"] == el.raw["boundingBox"]
            && again.raw["pageScroll"] == el.raw["pageScroll"];
        el = again;
        if still {
            break;
        }
    }
    if el.raw["covered"] == true {
        let by = el.raw["obscuredBy"].as_str().unwrap_or("another element");
        return Err(EngineError::NoMatch {
            message: format!(
                "{} is covered by {by}: nothing was clicked (close or scroll away what covers it, then observe again)",
                loc.describe()
            ),
            details: el.failure(),
        });
    }
    click_at(page, el, MouseButton::Left, 1).await
}

async fn click_at(
    page: &Page,
    el: Located,
    button: MouseButton,
    count: u32,
) -> Result<ActionOutput, EngineError> {
    let (x, y) = el.point;
    let events = page.events()?;
    let mut opened = page.conn.browser_events();
    mouse_click(page, x, y, button, count.clamp(1, 3)).await?;
    settle(page, events).await?;
    // A link with target=_blank (or a window.open) made a tab: say which, for the session.
    // A target=_blank link is known to open one: wait for it (a loaded machine can be slow);
    // a script's window.open is caught if it already happened.
    let expects_tab =
        el.raw.pointer("/attributes/target").and_then(Value::as_str) == Some("_blank");
    let is_new_tab = |ev: &crate::engine::cdp::Event| {
        let info = &ev.params["targetInfo"];
        (ev.method == "Target.targetCreated"
            && info["type"] == "page"
            && info["openerId"].as_str() == Some(page.target_id.as_str()))
        .then(|| info["targetId"].as_str().map(str::to_string))
        .flatten()
    };
    let mut new_tab = None;
    while let Ok(ev) = opened.try_recv() {
        new_tab = new_tab.or(is_new_tab(&ev));
    }
    if new_tab.is_none() && expects_tab {
        new_tab = tokio::time::timeout(Duration::from_secs(2), async {
            loop {
                match opened.recv().await {
                    Ok(ev) => {
                        if let Some(t) = is_new_tab(&ev) {
                            return Some(t);
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(_) => return None,
                }
            }
        })
        .await
        .ok()
        .flatten();
    }
    let mut out = el.done();
    out.clicked_point = Some(XY { x, y });
    if let Some(t) = new_tab {
        if let Ok(mut o) = page.state.opened_tab.lock() {
            *o = Some(t);
        }
    }
    out.url = Some(super::navigate::page_url(page).await?);
    Ok(element(out))
}

pub async fn hover(page: &Page, t: &Target) -> Result<ActionOutput, EngineError> {
    let el = locate(page, Locator::Css(&t.selector), t.timeout_ms, false).await?;
    let (x, y) = el.point;
    mouse(page, "mouseMoved", x, y, "none", 0).await?;
    let mut out = el.done();
    out.hovered_point = Some(XY { x, y });
    out.url = Some(super::navigate::page_url(page).await?);
    Ok(element(out))
}

pub async fn move_mouse(page: &Page, p: &Point) -> Result<ActionOutput, EngineError> {
    mouse(page, "mouseMoved", p.x, p.y, "none", 0).await?;
    Ok(cursor_position(page))
}

pub async fn drag(page: &Page, d: &Drag) -> Result<ActionOutput, EngineError> {
    let (first, last) = match (d.path.first(), d.path.last()) {
        (Some(f), Some(l)) => (*f, *l),
        _ => {
            return Err(EngineError::BadInput(
                "payload.path must not be empty".into(),
            ))
        }
    };
    mouse(page, "mouseMoved", first.x, first.y, "none", 0).await?;
    mouse(page, "mousePressed", first.x, first.y, "left", 1).await?;
    for p in &d.path[1..] {
        mouse(page, "mouseMoved", p.x, p.y, "left", 0).await?;
    }
    mouse(page, "mouseReleased", last.x, last.y, "left", 1).await?;
    Ok(mouse_at(page, Some(d.path.len())).into())
}

pub fn cursor_position(page: &Page) -> ActionOutput {
    mouse_at(page, None).into()
}

fn mouse_at(page: &Page, points: Option<usize>) -> Outcome {
    let (x, y) = page.state.mouse.lock().map(|m| *m).unwrap_or((0.0, 0.0));
    Outcome::Mouse(MouseAt { x, y, points })
}

/// An element action's answer.
pub fn element(done: ElementDone) -> ActionOutput {
    Outcome::Element(Box::new(done)).into()
}

/// A full click: move, press, release at (x, y).
pub async fn mouse_click(
    page: &Page,
    x: f64,
    y: f64,
    button: MouseButton,
    count: u32,
) -> Result<(), EngineError> {
    mouse(page, "mouseMoved", x, y, "none", 0).await?;
    for n in 1..=count {
        mouse(page, "mousePressed", x, y, button.name(), n).await?;
        mouse(page, "mouseReleased", x, y, button.name(), n).await?;
    }
    Ok(())
}

async fn mouse(
    page: &Page,
    kind: &'static str,
    x: f64,
    y: f64,
    button: &'static str,
    click_count: u32,
) -> Result<(), EngineError> {
    let buttons = if button == "none" || kind == "mouseReleased" {
        0
    } else {
        1
    };
    page.exec(&DispatchMouseEvent {
        kind,
        x,
        y,
        button,
        buttons,
        click_count,
    })
    .await?;
    if let Ok(mut m) = page.state.mouse.lock() {
        *m = (x, y);
    }
    Ok(())
}

/// After an input that may navigate: if the main frame starts a navigation right away, wait
/// for its DOMContentLoaded, so the next action sees the new page.
pub async fn settle(
    page: &Page,
    mut events: tokio::sync::broadcast::Receiver<crate::engine::cdp::Event>,
) -> Result<(), EngineError> {
    let started = tokio::time::timeout(NAVIGATION_START_WINDOW, async {
        loop {
            match events.recv().await {
                Ok(ev) => {
                    let main = ev.params["frameId"].as_str() == Some(page.target_id.as_str());
                    if main
                        && matches!(
                            ev.method.as_str(),
                            "Page.frameRequestedNavigation" | "Page.frameStartedLoading"
                        )
                    {
                        return true;
                    }
                    if main && ev.method == "Page.navigatedWithinDocument" {
                        return false;
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return false,
            }
        }
    })
    .await
    .unwrap_or(false);
    if !started {
        return Ok(());
    }
    // The navigation may end without a new document (204, download, refused): stop waiting
    // when the frame stops loading, and never longer than the cap.
    let _ = tokio::time::timeout(NAVIGATION_SETTLE_CAP, async {
        loop {
            match events.recv().await {
                Ok(ev)
                    if ev.params["frameId"].as_str() == Some(page.target_id.as_str())
                        && (ev.params["name"] == "DOMContentLoaded"
                            || ev.method == "Page.frameStoppedLoading") =>
                {
                    return
                }
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => return,
            }
        }
    })
    .await;
    match page.dead_reason() {
        Some(r) => Err(EngineError::PageGone(r)),
        None => Ok(()),
    }
}
