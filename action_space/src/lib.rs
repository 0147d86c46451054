//! Page snapshot -> agent view: the action space, the readable page, its images.
//! No browser and no I/O live here; the engine runs [`COLLECTOR`] and hands its JSON over.

pub mod browser_actions;
pub mod category;
pub mod changes;
pub mod markdown;
pub mod snapshot;
pub mod space;

pub use snapshot::Snapshot;
pub use space::{Action, Kind, Options, Space};

/// The in-page collector, run in an isolated world by one evaluate per observe.
pub const COLLECTOR: &str = include_str!("collect.js");

/// An image of the page as agents get it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Image {
    pub id: Option<String>,
    pub url: String,
    pub description: String,
    pub category: String,
}

/// Everything an observe answers about the page.
#[derive(Debug, Clone)]
pub struct View {
    pub url: String,
    pub title: String,
    /// scroll_x, scroll_y, viewport_width, viewport_height, total_width, total_height.
    pub viewport: [i64; 6],
    pub space: Space,
    pub category: &'static str,
    pub description: String,
    /// The readable page as markdown, with links: what is rendered, hidden content never.
    pub markdown: String,
    pub images: Vec<Image>,
    /// The document's registry id (see [`changes::Seen`]).
    pub doc: String,
    /// What the page says now (alerts, status lines, live regions, dialogs, validation).
    pub said: Vec<String>,
}

/// Builds the agent's view of a snapshot.
pub fn view(snap: &Snapshot, opts: &Options) -> View {
    let category = category::guess(snap);
    let description = category::describe(snap, category);
    let page_line = format!("# {description}");
    let space = space::build(snap, opts, &page_line);
    // The collector builds it from the rendered DOM; snapshots saved before it did carry
    // the main content's HTML instead.
    let mut markdown = if snap.main_html.is_empty() {
        markdown::collapse_blank_lines(&snap.readable)
    } else {
        markdown::from_html(&snap.main_html)
    };
    if snap.main_truncated {
        markdown.push_str("\n\n… (page content truncated)");
    }
    if let Some(max) = opts.max_chars {
        markdown::cap(&mut markdown, max);
    }
    let images = snap
        .images
        .iter()
        .map(|i| Image {
            id: i.id.clone(),
            url: i.src.clone(),
            description: i.alt.clone(),
            category: i.category.clone(),
        })
        .collect();
    View {
        url: snap.url.clone(),
        title: snap.title.clone(),
        viewport: snap.viewport,
        space,
        category,
        description,
        markdown,
        images,
        doc: snap.doc.clone(),
        said: snap.said.clone(),
    }
}
