//! Typing and key presses as trusted keyboard events.

use std::time::Duration;

use serde::Deserialize;

use super::output::{Pressed, Typed};
use super::pointer::{locate, settle, Locator};
use super::{ActionOutput, Outcome};
use crate::engine::page::Page;
use crate::engine::protocol::{DispatchKeyEvent, InsertText};
use crate::engine::EngineError;

/// Longest pause between two typed characters.
const MAX_TYPE_DELAY_MS: u64 = 200;
/// Longest text `type` sends key by key (insertText has no such limit).
const MAX_TYPED_CHARS: usize = 10_000;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Type {
    /// Element to focus first; without it, keys go to whatever has focus.
    pub selector: Option<String>,
    pub text: String,
    /// Pause between characters (`type` only), at most 200 ms.
    pub delay_ms: Option<u64>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Press {
    /// A key name (`Enter`, `ArrowDown`, `a`) optionally with modifiers: `Control+a`, `Shift+Tab`.
    pub key: String,
    pub selector: Option<String>,
    pub timeout_ms: Option<u64>,
}

struct KeyDef {
    key: String,
    code: String,
    key_code: u32,
    text: Option<String>,
}

const NAMED: &[(&str, &str, u32, Option<&str>)] = &[
    ("Enter", "Enter", 13, Some("\r")),
    ("Tab", "Tab", 9, None),
    ("Escape", "Escape", 27, None),
    ("Backspace", "Backspace", 8, None),
    ("Delete", "Delete", 46, None),
    ("ArrowUp", "ArrowUp", 38, None),
    ("ArrowDown", "ArrowDown", 40, None),
    ("ArrowLeft", "ArrowLeft", 37, None),
    ("ArrowRight", "ArrowRight", 39, None),
    ("Home", "Home", 36, None),
    ("End", "End", 35, None),
    ("PageUp", "PageUp", 33, None),
    ("PageDown", "PageDown", 34, None),
    ("Insert", "Insert", 45, None),
    ("Space", "Space", 32, Some(" ")),
    ("Shift", "ShiftLeft", 16, None),
    ("Control", "ControlLeft", 17, None),
    ("Alt", "AltLeft", 18, None),
    ("Meta", "MetaLeft", 91, None),
    ("F1", "F1", 112, None),
    ("F2", "F2", 113, None),
    ("F3", "F3", 114, None),
    ("F4", "F4", 115, None),
    ("F5", "F5", 116, None),
    ("F6", "F6", 117, None),
    ("F7", "F7", 118, None),
    ("F8", "F8", 119, None),
    ("F9", "F9", 120, None),
    ("F10", "F10", 121, None),
    ("F11", "F11", 122, None),
    ("F12", "F12", 123, None),
];

fn key_def(name: &str) -> Option<KeyDef> {
    let alias = match name {
        "Esc" => "Escape",
        "Return" => "Enter",
        "Ctrl" => "Control",
        "Cmd" | "Command" => "Meta",
        " " => "Space",
        other => other,
    };
    if let Some((key, code, kc, text)) = NAMED.iter().find(|(k, ..)| k.eq_ignore_ascii_case(alias))
    {
        let key = if *key == "Space" { " " } else { key };
        return Some(KeyDef {
            key: key.to_string(),
            code: code.to_string(),
            key_code: *kc,
            text: text.map(str::to_string),
        });
    }
    let mut chars = name.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        return None;
    }
    let (code, key_code) = if c.is_ascii_alphabetic() {
        (
            format!("Key{}", c.to_ascii_uppercase()),
            c.to_ascii_uppercase() as u32,
        )
    } else if c.is_ascii_digit() {
        (format!("Digit{c}"), c as u32)
    } else {
        (String::new(), 0)
    };
    Some(KeyDef {
        key: c.to_string(),
        code,
        key_code,
        text: Some(c.to_string()),
    })
}

fn modifier_bit(name: &str) -> Option<u32> {
    match name.to_ascii_lowercase().as_str() {
        "alt" => Some(1),
        "control" | "ctrl" => Some(2),
        "meta" | "cmd" | "command" => Some(4),
        "shift" => Some(8),
        _ => None,
    }
}

async fn focus(
    page: &Page,
    selector: &Option<String>,
    timeout_ms: Option<u64>,
) -> Result<(), EngineError> {
    if let Some(sel) = selector {
        locate(page, Locator::Css(sel), timeout_ms, true).await?;
    }
    Ok(())
}

/// `type`: one keyDown/keyUp per character, like a person typing.
pub async fn type_keys(page: &Page, t: &Type) -> Result<ActionOutput, EngineError> {
    let count = t.text.chars().count();
    if count > MAX_TYPED_CHARS {
        return Err(EngineError::BadInput(format!(
            "payload.text has {count} characters; `type` sends at most {MAX_TYPED_CHARS} (use type_text or fill)"
        )));
    }
    focus(page, &t.selector, t.timeout_ms).await?;
    let delay = Duration::from_millis(t.delay_ms.unwrap_or(0).min(MAX_TYPE_DELAY_MS));
    for c in t.text.chars() {
        let def = if c == '\n' {
            key_def("Enter")
        } else {
            key_def(&c.to_string())
        };
        if let Some(def) = def {
            key_stroke(page, &def, 0).await?;
        }
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
    }
    Ok(Outcome::Typed(Typed { typed: count }).into())
}

/// `type_text`: inserts the text at once (an IME-style commit, no key events).
pub async fn insert_text(page: &Page, t: &Type) -> Result<ActionOutput, EngineError> {
    focus(page, &t.selector, t.timeout_ms).await?;
    page.exec(&InsertText {
        text: t.text.clone(),
    })
    .await?;
    Ok(Outcome::Typed(Typed {
        typed: t.text.chars().count(),
    })
    .into())
}

pub async fn press(page: &Page, p: &Press) -> Result<ActionOutput, EngineError> {
    let parts: Vec<&str> = p.key.split('+').filter(|s| !s.is_empty()).collect();
    let (last, mods) = match parts.split_last() {
        Some((last, mods)) => (*last, mods),
        None if p.key == "+" => ("+", &[][..]),
        None => {
            return Err(EngineError::BadInput(
                "payload.key must not be empty".into(),
            ))
        }
    };
    let mut modifiers = 0;
    let mut held = Vec::new();
    for m in mods {
        let bit = modifier_bit(m).ok_or_else(|| {
            EngineError::BadInput(format!(
                "payload.key: `{m}` is not a modifier (use Control, Shift, Alt or Meta)"
            ))
        })?;
        modifiers |= bit;
        held.push(key_def(m).ok_or_else(|| {
            EngineError::BadInput(format!("payload.key: unknown modifier `{m}`"))
        })?);
    }
    let def = key_def(last).ok_or_else(|| {
        EngineError::BadInput(format!(
            "payload.key: unknown key `{last}`; use one character or a key name such as Enter, Tab, Escape, Backspace, ArrowDown, PageDown, F5"
        ))
    })?;
    focus(page, &p.selector, p.timeout_ms).await?;
    let events = page.events()?;
    for m in &held {
        key_event(page, "rawKeyDown", m, modifiers, false).await?;
    }
    key_stroke(page, &def, modifiers).await?;
    for m in held.iter().rev() {
        key_event(page, "keyUp", m, 0, false).await?;
    }
    settle(page, events).await?;
    Ok(Outcome::Pressed(Pressed {
        key: p.key.clone(),
        url: super::navigate::page_url(page).await?,
    })
    .into())
}

async fn key_stroke(page: &Page, def: &KeyDef, modifiers: u32) -> Result<(), EngineError> {
    // With Control/Alt/Meta held a key produces no text (a shortcut, not typing).
    let with_text = modifiers & 0b0111 == 0;
    key_event(page, "keyDown", def, modifiers, with_text).await?;
    key_event(page, "keyUp", def, modifiers, false).await
}

/// One key press (down and up) by name, e.g. `Backspace`.
pub async fn press_named(page: &Page, name: &str) -> Result<(), EngineError> {
    let def = key_def(name).ok_or_else(|| EngineError::Internal(format!("no key `{name}`")))?;
    key_stroke(page, &def, 0).await
}

async fn key_event(
    page: &Page,
    kind: &'static str,
    def: &KeyDef,
    modifiers: u32,
    with_text: bool,
) -> Result<(), EngineError> {
    let text = if with_text { def.text.clone() } else { None };
    let kind = if kind == "keyDown" && text.is_none() {
        "rawKeyDown"
    } else {
        kind
    };
    page.exec(&DispatchKeyEvent {
        kind,
        key: def.key.clone(),
        code: def.code.clone(),
        windows_virtual_key_code: def.key_code,
        native_virtual_key_code: def.key_code,
        modifiers,
        unmodified_text: text.clone(),
        text,
    })
    .await?;
    Ok(())
}
