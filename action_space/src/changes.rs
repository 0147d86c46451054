//! What changed since the last observation of the same document: new, removed and changed
//! actions by id, and what the page newly says (alerts, status lines, toasts). An agent sees
//! the effect of its step without rereading the page; ids stay those of the full view.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use serde::Serialize;

/// At most this many entries per list; the rest are counted in `more`.
pub const MAX_ENTRIES: usize = 100;
/// At most this many new lines of readable text in a diff.
pub const MAX_NEW_LINES: usize = 60;

/// What one observation showed, kept to compare the next one with.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The document's registry id: another value is another document.
    pub doc: String,
    /// id -> description, for every action described (listed or not).
    pub actions: HashMap<String, String>,
    /// The order the actions came in (document order), to answer in it.
    pub order: Vec<String>,
    pub said: Vec<String>,
    /// Lines of the readable page, when the observation read it.
    pub lines: Option<HashSet<String>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Entry {
    pub id: String,
    pub description: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Changed {
    pub id: String,
    pub description: String,
    /// Its description in the previous observation.
    pub was: String,
}

/// The changes section of an observe or step answer.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Changes {
    /// Another document than the last observation's (or none before): everything is new,
    /// nothing is listed here.
    pub navigated: bool,
    pub new: Vec<Entry>,
    pub removed: Vec<Entry>,
    pub changed: Vec<Changed>,
    /// Alert, status, live-region, dialog and validation text that was not shown before.
    pub said: Vec<String>,
    /// Entries left out of the lists above past [`MAX_ENTRIES`] each.
    pub more: usize,
    /// Lines of readable text not shown before (only answered by a diff).
    #[serde(skip)]
    pub new_text: Vec<String>,
}

impl Seen {
    /// `described`: (id, description) of every described action, in document order.
    pub fn new(
        doc: &str,
        described: &[(String, String)],
        said: &[String],
        readable: Option<&str>,
    ) -> Self {
        Seen {
            doc: doc.to_string(),
            actions: described.iter().cloned().collect(),
            order: described.iter().map(|(id, _)| id.clone()).collect(),
            said: said.to_vec(),
            lines: readable.map(|r| {
                r.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(str::to_string)
                    .collect()
            }),
        }
    }
}

/// The changes from `prev` to `now`; `readable` is `now`'s readable page, for the new lines.
pub fn between(prev: Option<&Seen>, now: &Seen, readable: Option<&str>) -> Changes {
    let Some(prev) = prev.filter(|p| p.doc == now.doc && !now.doc.is_empty()) else {
        return Changes {
            navigated: true,
            ..Default::default()
        };
    };
    let mut out = Changes::default();
    let mut more = 0usize;
    // Room for one more entry in a list of `len`; else it is counted in `more`.
    let push = |more: &mut usize, full: bool| {
        if full {
            *more = more.saturating_add(1);
        }
        !full
    };
    for id in &now.order {
        let Some(description) = now.actions.get(id) else {
            continue;
        };
        match prev.actions.get(id) {
            None => {
                if push(&mut more, out.new.len() >= MAX_ENTRIES) {
                    out.new.push(Entry {
                        id: id.clone(),
                        description: description.clone(),
                    });
                }
            }
            Some(was) if was != description => {
                if push(&mut more, out.changed.len() >= MAX_ENTRIES) {
                    out.changed.push(Changed {
                        id: id.clone(),
                        description: description.clone(),
                        was: was.clone(),
                    });
                }
            }
            Some(_) => {}
        }
    }
    for id in &prev.order {
        if now.actions.contains_key(id) {
            continue;
        }
        if push(&mut more, out.removed.len() >= MAX_ENTRIES) {
            out.removed.push(Entry {
                id: id.clone(),
                description: prev.actions.get(id).cloned().unwrap_or_default(),
            });
        }
    }
    let before: HashSet<&String> = prev.said.iter().collect();
    out.said = now
        .said
        .iter()
        .filter(|s| !before.contains(s))
        .take(MAX_ENTRIES)
        .cloned()
        .collect();
    out.more = more;
    if let (Some(lines), Some(text)) = (&prev.lines, readable) {
        out.new_text = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !lines.contains(*l))
            .take(MAX_NEW_LINES)
            .map(str::to_string)
            .collect();
    }
    out
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        !self.navigated
            && self.new.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.said.is_empty()
    }

    /// The section as markdown, for the agent's prompt.
    pub fn markdown(&self) -> String {
        let mut md = String::from("\n## Changes since the last observation\n");
        if self.navigated {
            md.push_str("A new page: everything above is new.\n");
            return md;
        }
        if self.is_empty() {
            md.push_str("Nothing changed.\n");
            return md;
        }
        for s in &self.said {
            let _ = writeln!(md, "! {s}");
        }
        for e in &self.new {
            let _ = writeln!(md, "+ {}: {}", e.id, e.description);
        }
        for e in &self.changed {
            let _ = writeln!(md, "~ {}: {} (was: {})", e.id, e.description, e.was);
        }
        for e in &self.removed {
            let _ = writeln!(md, "- {}: {}", e.id, e.description);
        }
        if self.more > 0 {
            let _ = writeln!(md, "… and {} more changes", self.more);
        }
        md
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(doc: &str, actions: &[(&str, &str)], said: &[&str]) -> Seen {
        let described: Vec<(String, String)> = actions
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        let said: Vec<String> = said.iter().map(|s| s.to_string()).collect();
        Seen::new(doc, &described, &said, Some("# Shop\nOne mug"))
    }

    #[test]
    fn new_removed_changed_and_said_by_id() {
        let a = seen(
            "d1",
            &[
                ("B1", "Delete — button"),
                ("B2", "Save — button"),
                ("I1", "Name — text input"),
            ],
            &[],
        );
        let b = seen(
            "d1",
            &[
                ("B2", "Save — button"),
                ("I1", "Name — text input, value \"x\""),
                ("B3", "Undo — button"),
            ],
            &["[status] Item deleted"],
        );
        let c = between(Some(&a), &b, Some("# Shop\nOne mug\nItem deleted"));
        assert!(!c.navigated);
        assert_eq!(
            c.new,
            vec![Entry {
                id: "B3".into(),
                description: "Undo — button".into()
            }]
        );
        assert_eq!(
            c.removed,
            vec![Entry {
                id: "B1".into(),
                description: "Delete — button".into()
            }]
        );
        assert_eq!(c.changed.len(), 1);
        assert_eq!(c.changed[0].was, "Name — text input");
        assert_eq!(c.said, vec!["[status] Item deleted".to_string()]);
        assert_eq!(c.new_text, vec!["Item deleted".to_string()]);
        let md = c.markdown();
        assert!(md.contains("+ B3: Undo — button"), "{md}");
        assert!(md.contains("- B1: Delete — button"), "{md}");
        assert!(md.contains("! [status] Item deleted"), "{md}");
    }

    #[test]
    fn another_document_or_none_is_a_new_document() {
        let a = seen("d1", &[("B1", "x")], &[]);
        let b = seen("d2", &[("B1", "x")], &[]);
        assert!(between(Some(&a), &b, None).navigated);
        assert!(between(None, &b, None).navigated);
        assert!(between(Some(&b), &b, None).is_empty());
    }

    #[test]
    fn lists_are_capped_and_the_rest_counted() {
        let a = seen("d", &[], &[]);
        let many: Vec<(String, String)> = (0..250)
            .map(|i| (format!("B{i}"), format!("n{i}")))
            .collect();
        let b = Seen::new("d", &many, &[], None);
        let c = between(Some(&a), &b, None);
        assert_eq!(c.new.len(), MAX_ENTRIES);
        assert_eq!(c.more, 150);
    }
}
