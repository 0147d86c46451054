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
    /// The nodes' contexts, each once; a node names its own by index (`ctx`).
    #[serde(default)]
    pub contexts: Vec<String>,
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

impl Snapshot {
    /// Parses the collector's JSON and gives every node its context by name.
    pub fn parse(json: &str) -> Result<Snapshot, serde_json::Error> {
        let mut snap: Snapshot = serde_json::from_str(json)?;
        let contexts = std::mem::take(&mut snap.contexts);
        for n in &mut snap.nodes {
            if let Some(c) = n.ctx.and_then(|i| contexts.get(i)) {
                n.context.clone_from(c);
            }
        }
        snap.contexts = contexts;
        Ok(snap)
    }
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
/// It crosses from the page as a [`Row`].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(from = "Row")]
pub struct Node {
    pub id: String,
    pub tag: String,
    /// ARIA role, explicit or implicit; `generic` for onclick/tabindex/cursor:pointer elements.
    pub role: String,
    /// Accessible name.
    pub name: String,
    /// x, y (page coordinates), width, height in CSS pixels.
    pub bbox: [i64; 4],
    pub in_view: bool,
    /// Listed past the collector's budget with only what a step needs (no name, no context).
    pub light: bool,
    /// Nearest landmark or form, else the nearest preceding heading (filled from the row's
    /// context index by [`Snapshot::parse`]).
    pub context: String,
    /// Index of the context in [`Snapshot::contexts`].
    pub ctx: Option<usize>,
    /// 0 for the main frame, >0 inside same-origin iframes.
    pub frame: u32,
    pub disabled: bool,
    /// A link's URL; a path when it is on the page's own origin and the observe asked for
    /// paths (`linkPaths`).
    pub href: Option<String>,
    pub input_type: Option<String>,
    pub placeholder: Option<String>,
    pub required: bool,
    pub readonly: bool,
    pub value: Option<String>,
    pub autocomplete: Option<String>,
    pub checked: Option<bool>,
    pub multiple: bool,
    /// value, label, selected.
    pub options: Vec<(String, String, bool)>,
    pub more_options: Option<usize>,
    pub expanded: Option<bool>,
    /// For a name other actions share: the nearest context that tells it apart (its card's
    /// or row's heading, first cell, fieldset legend, form name).
    pub near: Option<String>,
    /// The scroll box whose visible area the element is outside of (listed off-screen).
    pub scroll_box: Option<String>,
}

/// A node as the collector writes it: `[id, tag, role, name, box, context index, flags,
/// {the rest}]` (flags: 1 in view, 2 light; the last element only when it has something).
/// Rows instead of objects naming every key take a third off the bytes that cross CDP on a
/// large page.
#[derive(Debug, Deserialize)]
struct Row(
    String,
    String,
    String,
    String,
    [i64; 4],
    Option<usize>,
    u8,
    #[serde(default)] RowRest,
);

/// The fields of a node that most nodes do not have, named.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct RowRest {
    frame: u32,
    disabled: bool,
    href: Option<String>,
    #[serde(rename = "type")]
    input_type: Option<String>,
    placeholder: Option<String>,
    required: bool,
    readonly: bool,
    value: Option<String>,
    autocomplete: Option<String>,
    checked: Option<bool>,
    multiple: bool,
    options: Vec<(String, String, bool)>,
    more_options: Option<usize>,
    expanded: Option<bool>,
    near: Option<String>,
    scroll_box: Option<String>,
}

impl From<Row> for Node {
    fn from(Row(id, tag, role, name, bbox, ctx, flags, r): Row) -> Node {
        Node {
            id,
            tag,
            role,
            name,
            bbox,
            in_view: flags & 1 != 0,
            light: flags & 2 != 0,
            context: String::new(),
            ctx,
            frame: r.frame,
            disabled: r.disabled,
            href: r.href,
            input_type: r.input_type,
            placeholder: r.placeholder,
            required: r.required,
            readonly: r.readonly,
            value: r.value,
            autocomplete: r.autocomplete,
            checked: r.checked,
            multiple: r.multiple,
            options: r.options,
            more_options: r.more_options,
            expanded: r.expanded,
            near: r.near,
            scroll_box: r.scroll_box,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_nodes_with_their_context() {
        let json = r#"{"url":"u","title":"t","viewport":[0,0,1,1,1,1],"contexts":["nav","Cart"],
            "nodes":[["L1","a","link","Home",[1,2,3,4],0,1,{"href":"http://x/"}],
                     ["B2","button","button","Add",[5,6,7,8],1,0],
                     ["I3","input","textbox","",[0,0,9,9],null,2,{"type":"text","near":"Cart"}]]}"#;
        let s = Snapshot::parse(json).expect("parses");
        assert_eq!(s.nodes.len(), 3);
        let (a, b, c) = (&s.nodes[0], &s.nodes[1], &s.nodes[2]);
        assert_eq!(
            (a.context.as_str(), a.in_view, a.href.as_deref()),
            ("nav", true, Some("http://x/"))
        );
        assert_eq!(
            (b.context.as_str(), b.in_view, b.light),
            ("Cart", false, false)
        );
        assert_eq!(
            (c.context.as_str(), c.light, c.input_type.as_deref()),
            ("", true, Some("text"))
        );
        assert_eq!(c.near.as_deref(), Some("Cart"));
        // A context index past the table is no context, not a failure.
        let bad = json.replace(",1,0]", ",7,0]");
        assert_eq!(Snapshot::parse(&bad).expect("parses").nodes[1].context, "");
    }
}
