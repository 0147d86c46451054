//! The browser actions S1..S12 (Notte's scheme), always available whatever the page.

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct BrowserAction {
    pub id: &'static str,
    /// The execute `type` that runs it.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    /// Its parameter, if it takes one.
    pub param: Option<(&'static str, &'static str)>,
}

pub const BROWSER_ACTIONS: [BrowserAction; 12] = [
    BrowserAction {
        id: "S1",
        kind: "goto",
        description: "Goto to a URL (in current tab)",
        param: Some(("url", "string")),
    },
    BrowserAction {
        id: "S2",
        kind: "scrape",
        description: "Scrape the current page's data as markdown",
        param: None,
    },
    BrowserAction {
        id: "S3",
        kind: "go_back",
        description: "Go back to the previous page (in current tab)",
        param: None,
    },
    BrowserAction {
        id: "S4",
        kind: "go_forward",
        description: "Go forward to the next page (in current tab)",
        param: None,
    },
    BrowserAction {
        id: "S5",
        kind: "reload",
        description: "Reload the current page",
        param: None,
    },
    BrowserAction {
        id: "S6",
        kind: "goto_new_tab",
        description: "Goto to a URL (in new tab)",
        param: Some(("url", "string")),
    },
    BrowserAction {
        id: "S7",
        kind: "switch_tab",
        description: "Switch to a tab by its index",
        param: Some(("tab_index", "int")),
    },
    BrowserAction {
        id: "S8",
        kind: "press_key",
        description: "Press a keyboard key",
        param: Some(("key", "string")),
    },
    BrowserAction {
        id: "S9",
        kind: "scroll_up",
        description: "Scroll up by an amount of pixels (default: one page)",
        param: Some(("amount", "int")),
    },
    BrowserAction {
        id: "S10",
        kind: "scroll_down",
        description: "Scroll down by an amount of pixels (default: one page)",
        param: Some(("amount", "int")),
    },
    BrowserAction {
        id: "S11",
        kind: "wait",
        description: "Wait for a given amount of time (in milliseconds)",
        param: Some(("time_ms", "int")),
    },
    BrowserAction {
        id: "S12",
        kind: "completion",
        description: "Complete the task with an answer",
        param: Some(("answer", "string")),
    },
];

/// The S-id of an execute `type`, if it is a browser action.
pub fn by_id(id: &str) -> Option<&'static BrowserAction> {
    BROWSER_ACTIONS.iter().find(|a| a.id == id)
}

/// The browser actions as one short markdown section, for an observation's text: an agent
/// that reads only `space.markdown` still learns S1..S12 and their parameters.
pub fn markdown_section() -> String {
    let items: Vec<String> = BROWSER_ACTIONS
        .iter()
        .map(|a| match a.param {
            Some((name, _)) => format!("{} {}({name})", a.id, a.kind),
            None => format!("{} {}", a.id, a.kind),
        })
        .collect();
    format!("\n## Browser actions\n{}\n", items.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_section_names_every_browser_action_once() {
        let s = markdown_section();
        for a in &BROWSER_ACTIONS {
            assert_eq!(s.matches(&format!("{} {}", a.id, a.kind)).count(), 1, "{s}");
        }
        assert!(s.contains("S1 goto(url)"), "{s}");
    }
}
