//! The agent's browser actions (S1..S12, `action_space::browser_actions`) as engine actions.
//! One table for every protocol that steps by id (the agent API and MCP); the value an agent
//! sends is a string (a URL, a key) or a number (pixels, a tab index, milliseconds).

use serde_json::Value;

use super::{keyboard, navigate, read, Action, Empty};
use crate::engine::tabs::{NewTab, SwitchTab};
use crate::engine::EngineError;

/// Longest wait S10 (`wait`) takes when the agent names none, in milliseconds.
const DEFAULT_WAIT_MS: u64 = 1000;

/// The engine action for browser action `id` with the agent's `value`; `None` when `id` is not
/// a browser action (an element id from observe).
pub fn browser_step(id: &str, value: Option<&Value>) -> Result<Option<Action>, EngineError> {
    let Some(b) = action_space::browser_actions::by_id(id) else {
        return Ok(None);
    };
    let v = value.unwrap_or(&Value::Null);
    let text = match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let num = v
        .as_u64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()));
    let url = |what: &str| -> Result<String, EngineError> {
        if text.trim().is_empty() {
            Err(EngineError::BadInput(format!(
                "{id} ({what}) needs a URL as its value"
            )))
        } else {
            Ok(text.clone())
        }
    };
    let scroll = |direction| {
        Action::Scroll(read::Scroll {
            direction,
            // u64 -> f64 is exact up to 2^53; the scroll's own check caps the pixels.
            amount: num.map(|n| n as f64),
            selector: None,
        })
    };
    let action = match b.kind {
        "goto" => Action::Goto(navigate::Goto {
            url: url("goto")?,
            wait_until: Default::default(),
            exchange: None,
        }),
        "scrape" => Action::Scrape(read::Scrape::default()),
        "go_back" => Action::Back(navigate::History::default()),
        "go_forward" => Action::Forward(navigate::History::default()),
        "reload" => Action::Reload(navigate::History::default()),
        "press_key" => Action::Press(keyboard::Press {
            key: text,
            selector: None,
            timeout_ms: None,
        }),
        "scroll_up" => scroll(read::Direction::Up),
        "scroll_down" => scroll(read::Direction::Down),
        "wait" => Action::WaitForTimeout(read::WaitForTimeout {
            timeout_ms: num.unwrap_or(DEFAULT_WAIT_MS),
        }),
        "completion" => Action::Title(Empty {}),
        "goto_new_tab" => Action::NewTab(NewTab {
            url: url("goto_new_tab")?,
        }),
        "switch_tab" => Action::SwitchTab(SwitchTab {
            // No value: the first tab, as Notte's own server does.
            index: usize::try_from(num.unwrap_or(0)).map_err(|_| {
                EngineError::BadInput(format!("{id} (switch_tab): no tab has index {text}"))
            })?,
        }),
        other => {
            return Err(EngineError::BadInput(format!(
                "{id} ({other}) cannot be stepped on"
            )))
        }
    };
    Ok(Some(action))
}
