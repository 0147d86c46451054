//! fill, select and check.

use serde::Deserialize;
use serde_json::{json, Value};

use super::output::{Chosen, ElementDone, SelectOption};
use super::pointer::element;
use super::pointer::{locate, mouse_click, settle, Locator, MouseButton};
use super::{js, ActionOutput};
use crate::engine::page::Page;
use crate::engine::protocol::InsertText;
use crate::engine::EngineError;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fill {
    pub selector: String,
    pub value: String,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Select {
    pub selector: String,
    /// An option's value or label, or several for a `multiple` select.
    pub value: Option<OneOrMany>,
    pub values: Option<Vec<String>>,
    pub label: Option<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub selector: String,
    /// The state wanted (default true: checked).
    #[serde(default = "yes")]
    pub checked: bool,
    pub timeout_ms: Option<u64>,
}

fn yes() -> bool {
    true
}

fn refused(loc: Locator<'_>, why: &str, details: Box<ElementDone>) -> EngineError {
    EngineError::NoMatch {
        message: format!("cannot act on {}: {why}", loc.describe()),
        details,
    }
}

pub async fn fill(page: &Page, f: &Fill) -> Result<ActionOutput, EngineError> {
    fill_el(page, Locator::Css(&f.selector), &f.value, f.timeout_ms).await
}

/// Replaces an element's value: focus, select its content, insert the text (a real edit).
pub async fn fill_el(
    page: &Page,
    loc: Locator<'_>,
    value: &str,
    timeout_ms: Option<u64>,
) -> Result<ActionOutput, EngineError> {
    let el = locate(page, loc, timeout_ms, false).await?;
    let prep = page
        .eval(js::FILL, &loc.arg(json!({ "value": value })))
        .await?;
    if let Some(why) = prep.get("error").and_then(Value::as_str) {
        return Err(refused(loc, why, el.failure()));
    }
    if prep["mode"] == "type" {
        if value.is_empty() {
            // Deleting the selection empties the field with a real key event.
            super::keyboard::press_named(page, "Backspace").await?;
        } else {
            page.exec(&InsertText {
                text: value.to_string(),
            })
            .await?;
        }
    }
    let value = page.eval(js::READ_VALUE, &loc.arg(json!({}))).await?;
    let mut out = el.done();
    out.value = value.as_str().map(str::to_string);
    Ok(element(out))
}

pub async fn select(page: &Page, s: &Select) -> Result<ActionOutput, EngineError> {
    let values: Vec<String> = match (&s.value, &s.values, &s.label) {
        (Some(OneOrMany::One(v)), _, _) => vec![v.clone()],
        (Some(OneOrMany::Many(v)), _, _) | (None, Some(v), _) => v.clone(),
        (None, None, Some(l)) => vec![l.clone()],
        (None, None, None) => {
            return Err(EngineError::BadInput(
                "payload.value (or values, or label) is required".into(),
            ))
        }
    };
    select_el(page, Locator::Css(&s.selector), &values, s.timeout_ms).await
}

/// Selects options of a `<select>` by value or label.
pub async fn select_el(
    page: &Page,
    loc: Locator<'_>,
    values: &[String],
    timeout_ms: Option<u64>,
) -> Result<ActionOutput, EngineError> {
    let el = locate(page, loc, timeout_ms, false).await?;
    let res = page
        .eval(js::SELECT, &loc.arg(json!({ "values": values })))
        .await?;
    if let Some(why) = res.get("error").and_then(Value::as_str) {
        return Err(refused(loc, why, el.failure()));
    }
    if let Some(missing) = res.get("missing").and_then(Value::as_str) {
        let mut details = el.failure();
        details.options = serde_json::from_value::<Vec<SelectOption>>(res["options"].clone()).ok();
        return Err(EngineError::NoMatch {
            message: format!(
                "no option of {} has the value or label `{missing}`",
                loc.describe()
            ),
            details,
        });
    }
    let strings = |v: &Value| serde_json::from_value::<Vec<String>>(v.clone()).ok();
    let mut out = el.done();
    out.selected = strings(&res["selected"]).map(Chosen::Values);
    out.labels = strings(&res["labels"]);
    Ok(element(out))
}

pub async fn check(page: &Page, c: &Check) -> Result<ActionOutput, EngineError> {
    check_el(page, Locator::Css(&c.selector), c.checked, c.timeout_ms).await
}

/// Brings a checkbox, radio or aria-checked element to `checked` by clicking it if needed.
pub async fn check_el(
    page: &Page,
    loc: Locator<'_>,
    checked: bool,
    timeout_ms: Option<u64>,
) -> Result<ActionOutput, EngineError> {
    let el = locate(page, loc, timeout_ms, false).await?;
    let Some(before) = el.raw["checked"].as_bool() else {
        return Err(refused(
            loc,
            "it is not a checkbox, radio button or aria-checked element",
            el.failure(),
        ));
    };
    let mut out = el.done();
    if before != checked {
        let events = page.events()?;
        mouse_click(page, el.point.0, el.point.1, MouseButton::Left, 1).await?;
        settle(page, events).await?;
        let after = locate(page, loc, Some(0), false).await?;
        if after.raw["checked"].as_bool() != Some(checked) {
            let radio = after
                .raw
                .pointer("/attributes/type")
                .and_then(Value::as_str)
                == Some("radio");
            let why = if !checked && radio {
                "a radio button cannot be unchecked; check another one of its group"
            } else {
                "clicking it did not change its state (is it disabled or covered?)"
            };
            return Err(refused(loc, why, after.failure()));
        }
    }
    out.checked = Some(checked);
    out.changed = Some(before != checked);
    Ok(element(out))
}
