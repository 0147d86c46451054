//! Snapshot -> the agent's action space: one action per interactive element, with an id the
//! agent answers with, a kind that decides what a step does, a category and a description;
//! listed viewport-first under `max_nb_actions` and a character budget, never cut silently.

use std::fmt::Write as _;

use serde::Serialize;

use crate::snapshot::{Node, Snapshot};

/// What running an id does: the id's kind decides the action (README, "How the action space is built").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Click,
    Fill,
    Check,
    SelectDropdownOption,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Click => "click",
            Kind::Fill => "fill",
            Kind::Check => "check",
            Kind::SelectDropdownOption => "select_dropdown_option",
        }
    }
}

/// A parameter an action takes (seed 002's `params`).
#[derive(Debug, Clone, Serialize)]
pub struct Param {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Action {
    pub id: String,
    pub kind: Kind,
    pub category: String,
    pub description: String,
    pub params: Vec<Param>,
    pub in_viewport: bool,
    pub disabled: bool,
    /// The value a fill/select/check would set by default (current value, first option, toggle).
    pub default_value: Option<serde_json::Value>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Actions listed at most (viewport first).
    pub max_nb_actions: usize,
    /// Actions listed at least, whatever the character budget says.
    pub min_nb_actions: usize,
    /// Character budget of `space.markdown` (and of the readable page); `None`: no budget,
    /// the count alone decides.
    pub max_chars: Option<usize>,
}

/// The budget an observe that sets neither `max_chars` nor `max_nb_actions` gets.
pub const DEFAULT_MAX_CHARS: usize = 20_000;

impl Default for Options {
    fn default() -> Self {
        Self {
            max_nb_actions: 100,
            min_nb_actions: 1,
            max_chars: Some(DEFAULT_MAX_CHARS),
        }
    }
}

/// The listed part of the space and what was left out.
#[derive(Debug, Clone)]
pub struct Space {
    /// Listed actions, in document order.
    pub actions: Vec<Action>,
    /// Every id of the page, listed or not: a step may use any of them.
    pub all_ids: Vec<String>,
    pub omitted: usize,
    pub omitted_below_fold: usize,
    pub markdown: String,
    /// (id, description) of every action described, listed or not, in document order: what
    /// the next observation's changes are computed against.
    pub described: Vec<(String, String)>,
}

pub fn kind_of(n: &Node) -> Kind {
    let ty = n.input_type.as_deref().unwrap_or("");
    match n.role.as_str() {
        "checkbox" | "radio" | "switch" => Kind::Check,
        "combobox" | "listbox" if n.tag == "select" => Kind::SelectDropdownOption,
        // An ARIA combobox that is not a text field (a div or button opening a listbox) and an
        // ARIA listbox pick an option; a bare step on them clicks (opens) them.
        "combobox" | "listbox"
            if !matches!(n.tag.as_str(), "input" | "textarea")
                && n.input_type.as_deref() != Some("contenteditable") =>
        {
            Kind::SelectDropdownOption
        }
        "textbox" | "searchbox" | "spinbutton" | "combobox" => Kind::Fill,
        "slider" if n.tag == "input" => Kind::Fill,
        _ if n.tag == "input"
            && matches!(
                ty,
                "date" | "time" | "datetime-local" | "month" | "week" | "color"
            ) =>
        {
            Kind::Fill
        }
        _ => Kind::Click,
    }
}

fn quote(s: &str, max: usize) -> String {
    let mut t: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        t.push('…');
    }
    format!("\"{t}\"")
}

/// `Email address — text input, placeholder "you@example.com"`. Links to the page's own
/// origin are written as paths (`→ /cart`): the origin is in the page line already.
pub fn describe(n: &Node, origin: &str) -> String {
    let kind = kind_of(n);
    let ty = n.input_type.as_deref().unwrap_or("");
    let what = match (n.role.as_str(), n.tag.as_str()) {
        ("link", _) => "link".to_string(),
        ("checkbox", _) => "checkbox".into(),
        ("radio", _) => "radio button".into(),
        ("switch", _) => "switch".into(),
        ("tab", _) => "tab".into(),
        ("option", _) => "option".into(),
        (r, _) if r.starts_with("menuitem") => "menu item".into(),
        (_, "select") => if n.multiple {
            "multi-select"
        } else {
            "dropdown"
        }
        .into(),
        (_, "textarea") => "text area".into(),
        (_, "input") if kind == Kind::Fill => {
            format!("{} input", if ty.is_empty() { "text" } else { ty })
        }
        ("textbox", _) if ty == "contenteditable" => "editable text".into(),
        ("button", "input") if ty == "submit" => "submit button".into(),
        ("button", "button") if ty == "submit" => "submit button".into(),
        ("button", _) => "button".into(),
        ("generic", t) => format!("clickable {t}"),
        (r, _) => r.to_string(),
    };
    let name = if !n.name.is_empty() {
        n.name.clone()
    } else if let Some(p) = &n.placeholder {
        p.clone()
    } else if let Some(h) = &n.href {
        short_url(h, origin)
    } else {
        format!("unnamed {what}")
    };
    let mut d = format!("{name} — {what}");
    if let Some(near) = n.near.as_ref().filter(|c| !c.is_empty()) {
        let _ = write!(d, " ({})", quote_free(near, 60));
    }
    if let Some(h) = &n.href {
        let _ = write!(d, " → {}", short_url(h, origin));
    }
    if let Some(p) = n.placeholder.as_ref().filter(|p| **p != name) {
        let _ = write!(d, ", placeholder {}", quote(p, 60));
    }
    if let Some(v) = n
        .value
        .as_ref()
        .filter(|v| !v.is_empty() && kind == Kind::Fill)
    {
        let _ = write!(d, ", value {}", quote(v, 200));
    }
    if !n.options.is_empty() {
        let labels: Vec<String> = n
            .options
            .iter()
            .take(12)
            .map(|(_, l, _)| quote(l, 40))
            .collect();
        let _ = write!(d, ", options {}", labels.join(" "));
        let more = n.options.len().saturating_sub(12) + n.more_options.unwrap_or(0);
        if more > 0 {
            let _ = write!(d, " (+{more} more)");
        }
        let selected: Vec<&str> = n
            .options
            .iter()
            .filter(|o| o.2)
            .map(|o| o.1.as_str())
            .collect();
        if !selected.is_empty() {
            let _ = write!(d, ", selected {}", quote(&selected.join(", "), 60));
        }
    }
    if let Some(c) = n.checked {
        d.push_str(if c { ", checked" } else { ", unchecked" });
    }
    if let Some(e) = n.expanded {
        d.push_str(if e { ", expanded" } else { ", collapsed" });
    }
    if n.required {
        d.push_str(", required");
    }
    if n.readonly {
        d.push_str(", read-only");
    }
    if n.disabled {
        d.push_str(" (disabled)");
    }
    if n.frame > 0 {
        d.push_str(" (in iframe)");
    }
    if let Some(b) = &n.scroll_box {
        let _ = write!(d, " (scrolled out of view in {b})");
    }
    d
}

/// A link target, at most 80 characters.
/// `scheme://host[:port]` of a URL, or "" when it has none.
pub fn origin_of(url: &str) -> &str {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return "";
    };
    match url[start..].find(['/', '?', '#']) {
        Some(end) => &url[..start + end],
        None => url,
    }
}

fn short_url(u: &str, origin: &str) -> String {
    let u = match u.strip_prefix(origin) {
        Some(rest)
            if !origin.is_empty() && (rest.is_empty() || rest.starts_with(['/', '?', '#'])) =>
        {
            if rest.is_empty() {
                "/"
            } else {
                rest
            }
        }
        _ => u,
    };
    match u.char_indices().nth(80) {
        Some((i, _)) => format!("{}…", &u[..i]),
        None => u.to_string(),
    }
}

fn params_of(n: &Node, kind: Kind) -> (Vec<Param>, Option<serde_json::Value>) {
    match kind {
        Kind::Click => (Vec::new(), None),
        Kind::Fill => {
            let current = n
                .value
                .clone()
                .filter(|_| n.input_type.as_deref() != Some("password"));
            (
                vec![Param {
                    name: "value",
                    kind: "string",
                    default: current.clone(),
                    values: Vec::new(),
                }],
                Some(serde_json::Value::String(current.unwrap_or_default())),
            )
        }
        Kind::Check => {
            let now = n.checked.unwrap_or(false);
            (
                vec![Param {
                    name: "value",
                    kind: "bool",
                    default: Some((!now).to_string()),
                    values: Vec::new(),
                }],
                Some(serde_json::Value::Bool(!now)),
            )
        }
        Kind::SelectDropdownOption => {
            let values: Vec<String> = n.options.iter().map(|(_, l, _)| l.clone()).collect();
            let selected = n
                .options
                .iter()
                .find(|o| o.2)
                .or(n.options.first())
                .map(|o| o.1.clone());
            (
                vec![Param {
                    name: "value",
                    kind: "string",
                    default: selected.clone(),
                    values,
                }],
                Some(serde_json::Value::String(selected.unwrap_or_default())),
            )
        }
    }
}

/// Builds the listed space: viewport first, capped by count and characters, grouped by
/// category in document order, with an explicit line for what was left out.
pub fn build(snap: &Snapshot, opts: &Options, page_line: &str) -> Space {
    let origin = origin_of(&snap.url);
    let all: Vec<Action> = snap
        .nodes
        .iter()
        .map(|n| {
            let kind = kind_of(n);
            let (params, default_value) = params_of(n, kind);
            Action {
                id: n.id.clone(),
                kind,
                category: if n.context.is_empty() {
                    "page".into()
                } else {
                    n.context.clone()
                },
                description: describe(n, origin),
                params,
                in_viewport: n.in_view,
                disabled: n.disabled,
                default_value,
            }
        })
        .collect();
    let all_ids = all.iter().map(|a| a.id.clone()).collect();
    let described = all
        .iter()
        .zip(&snap.nodes)
        .filter(|(_, n)| !n.light)
        .map(|(a, _)| (a.id.clone(), a.description.clone()))
        .collect();

    // Viewport first, each part in document order.
    let mut order: Vec<usize> = (0..all.len()).filter(|&i| all[i].in_viewport).collect();
    order.extend((0..all.len()).filter(|&i| !all[i].in_viewport));
    let min = opts.min_nb_actions.min(opts.max_nb_actions);
    // The budget counts bytes (never fewer than characters), each new category's heading,
    // and room for the page line and the "more actions" line.
    let mut chosen = Vec::new();
    let mut chars = page_line.len() + OMITTED_LINE_ROOM;
    let mut headed: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for &i in &order {
        if chosen.len() >= opts.max_nb_actions {
            break;
        }
        let a = &all[i];
        let mut line = a.id.len() + a.description.len() + 20;
        if !headed.contains(a.category.as_str()) {
            line += a.category.len() + 5;
        }
        if chosen.len() >= min && opts.max_chars.is_some_and(|max| chars + line > max) {
            break;
        }
        headed.insert(a.category.as_str());
        chars += line;
        chosen.push(i);
    }
    // Categories that interleave repeat their heading: drop the least important actions
    // until the text fits (rarely more than one round).
    let mut md = render(&all, &chosen, page_line);
    while let Some(max) = opts.max_chars {
        let over = md.chars().count().saturating_sub(max);
        if over == 0 || chosen.len() <= min {
            break;
        }
        let drop = (over / 40).clamp(1, chosen.len() - min);
        chosen.truncate(chosen.len() - drop);
        md = render(&all, &chosen, page_line);
    }
    let mut listed = chosen;
    listed.sort_unstable();
    let omitted = all.len() - listed.len();
    let omitted_below_fold = all.iter().filter(|a| !a.in_viewport).count()
        - listed.iter().filter(|&&i| !all[i].in_viewport).count();
    // The listed actions are moved out, not copied (all 5,000 of a large page when asked).
    let mut slots: Vec<Option<Action>> = all.into_iter().map(Some).collect();
    let actions: Vec<Action> = listed
        .iter()
        .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
        .collect();
    Space {
        actions,
        all_ids,
        omitted,
        omitted_below_fold,
        markdown: md,
        described,
    }
}

/// Room the budget keeps for the "… N more actions not listed" line.
const OMITTED_LINE_ROOM: usize = 160;

/// The listing's text: the page line, then the chosen actions in document order, grouped
/// under their categories, then what was left out.
fn render(all: &[Action], chosen: &[usize], page_line: &str) -> String {
    let mut listed = chosen.to_vec();
    listed.sort_unstable();
    let mut md = String::with_capacity(listed.len() * 64 + 256);
    md.push_str(page_line);
    md.push('\n');
    // A run of one category whose actions are all off-screen says so once, in its heading.
    let mut k = 0;
    while k < listed.len() {
        let category = all[listed[k]].category.as_str();
        let end = listed[k..]
            .iter()
            .position(|&i| all[i].category != category)
            .map_or(listed.len(), |p| k + p);
        let run = &listed[k..end];
        let all_off = run.iter().all(|&i| !all[i].in_viewport);
        let _ = write!(
            md,
            "\n## {category}{}\n",
            if all_off { " (off-screen)" } else { "" }
        );
        for &i in run {
            let a = &all[i];
            let off = if a.in_viewport || all_off {
                ""
            } else {
                " (off-screen)"
            };
            let _ = writeln!(md, "* {}: {}{off}", a.id, a.description);
        }
        k = end;
    }
    if listed.is_empty() {
        md.push_str("\nNo interactive elements on this page.\n");
    }
    let omitted = all.len() - listed.len();
    if omitted > 0 {
        let below = all.iter().filter(|a| !a.in_viewport).count()
            - listed.iter().filter(|&&i| !all[i].in_viewport).count();
        let _ = writeln!(
            md,
            "\n… {omitted} more actions not listed ({below} off-screen): scroll, or observe with a larger max_nb_actions or max_chars"
        );
    }
    md
}

/// `s` cut to `max` characters, without quotes (a parenthesised context).
fn quote_free(s: &str, max: usize) -> String {
    let mut t: String = s.chars().take(max).collect();
    if s.chars().count() > max {
        t.push('…');
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_origin_links_are_written_as_paths() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/a/b?c"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://example.com"), "https://example.com");
        assert_eq!(origin_of("about:blank"), "");
        let o = "https://shop.example";
        assert_eq!(short_url("https://shop.example/cart", o), "/cart");
        assert_eq!(short_url("https://shop.example", o), "/");
        assert_eq!(short_url("https://shop.example?q=1", o), "?q=1");
        // Another origin, or one that only starts the same, stays whole.
        assert_eq!(
            short_url("https://shop.example.evil/x", o),
            "https://shop.example.evil/x"
        );
        assert_eq!(
            short_url("https://other.example/x", o),
            "https://other.example/x"
        );
        assert_eq!(short_url("/x", ""), "/x");
    }
}
