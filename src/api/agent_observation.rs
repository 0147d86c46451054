//! The agent API's observation (Notte's wire, seed 002), typed: what `observe` and `step`
//! answer. It is built from the engine's [`Observation`] by moving its strings (a large page's
//! answer is ~1 MB; no JSON tree is built and copied on the way), and its types are what the
//! OpenAPI document describes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::agent_wire::session_view;
use super::stamp;
use crate::engine::actions::output::Observation;
use crate::engine::actions::{ActionOutput, Outcome};
use crate::sessions::SessionRecord;

/// An observation: the page (metadata, readable data), the action space and what changed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NotteObservation {
    /// The session after the observe (as `GET /sessions/{id}` answers it).
    #[schema(value_type = Object)]
    pub session: Value,
    pub metadata: Metadata,
    pub space: Space,
    pub data: Data,
    /// New, removed and changed actions by id and new alert/status text since the last
    /// observation of this document.
    #[schema(value_type = Object)]
    pub changes: action_space::changes::Changes,
    pub progress: Progress,
    /// The viewport as a base64 PNG when the observe asked for it (`screenshot: true`), else "".
    pub screenshot: String,
    pub started_at: String,
    pub ended_at: String,
    /// Step answers only: whether the step's action succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success: Option<bool>,
    /// Step answers only: `B1 done`, or why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    pub title: String,
    pub url: String,
    pub viewport: Viewport,
    pub tabs: Vec<TabView>,
    pub timestamp: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Viewport {
    pub scroll_x: i64,
    pub scroll_y: i64,
    pub viewport_width: i64,
    pub viewport_height: i64,
    pub total_width: i64,
    pub total_height: i64,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct TabView {
    pub tab_id: usize,
    pub title: String,
    pub url: String,
    /// Whether it is the tab actions run in (absent when the session has one tab).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// The action space: the listing as markdown and as typed actions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Space {
    /// The listing an agent reads (`* B1: Sign in — button` …), the changes and the browser
    /// actions.
    pub markdown: String,
    pub description: String,
    pub category: String,
    pub interaction_actions: Vec<InteractionAction>,
    /// Seed 002's listing form, only with `full_space: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<SpaceAction>>,
    /// The browser actions S1..S12, only with `full_space: true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub browser_actions: Option<Vec<BrowserAction>>,
}

/// One listed action as the Notte client validates it: `click` has no `value`; fill, check
/// and select carry the value they would set by default (null when none).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct InteractionAction {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub category: String,
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub value: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SpaceAction {
    pub id: String,
    pub description: String,
    pub category: String,
    #[schema(value_type = Vec<Object>)]
    pub params: Vec<action_space::space::Param>,
    /// `valid` or `disabled`.
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BrowserAction {
    pub id: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub description: &'static str,
    pub category: &'static str,
    pub params: Vec<BrowserParam>,
    pub status: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BrowserParam {
    pub name: &'static str,
    #[serde(rename = "type")]
    pub kind: &'static str,
}

/// The readable page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data {
    /// What is rendered, as markdown (hidden content never appears).
    pub markdown: String,
    #[schema(value_type = Vec<Object>)]
    pub images: Vec<action_space::Image>,
    /// Always null here (scrape answers structured data).
    #[schema(value_type = Option<Object>)]
    pub structured: Option<Value>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Progress {
    pub current_step: u64,
    pub max_steps: Option<u64>,
}

/// The engine's snapshot output, reshaped into Notte's observation. An output that is not an
/// observation (it cannot be, for the snapshot action) still answers the session.
pub fn notte_observation(
    out: ActionOutput,
    rec: &SessionRecord,
    started: DateTime<Utc>,
    full_space: bool,
) -> NotteObservation {
    let ActionOutput { result, news } = out;
    let s = match result {
        Outcome::Observation(s) => *s,
        _ => Observation::default(),
    };
    let vp = |i: usize| s.viewport.get(i).copied().unwrap_or(0);
    let viewport = Viewport {
        scroll_x: vp(0),
        scroll_y: vp(1),
        viewport_width: vp(2),
        viewport_height: vp(3),
        total_width: vp(4),
        total_height: vp(5),
    };
    let tabs = match news.tabs {
        Some(t) => t
            .into_iter()
            .map(|t| TabView {
                tab_id: t.tab_id,
                title: t.title,
                url: t.url,
                active: Some(t.active),
            })
            .collect(),
        None => vec![TabView {
            tab_id: 0,
            title: s.title.clone(),
            url: s.url.clone(),
            active: None,
        }],
    };
    let listed = full_space.then(|| {
        s.actions
            .iter()
            .map(|a| SpaceAction {
                id: a.id.clone(),
                description: a.description.clone(),
                category: a.category.clone(),
                params: a.params.clone(),
                status: if a.disabled { "disabled" } else { "valid" },
            })
            .collect()
    });
    let browser = full_space.then(|| {
        action_space::browser_actions::BROWSER_ACTIONS
            .iter()
            .map(|b| BrowserAction {
                id: b.id,
                kind: b.kind,
                description: b.description,
                category: "Special Browser Actions",
                params: b
                    .param
                    .iter()
                    .map(|&(name, kind)| BrowserParam { name, kind })
                    .collect(),
                status: "valid",
            })
            .collect()
    });
    let interaction = s
        .actions
        .into_iter()
        .map(|a| InteractionAction {
            value: (a.kind != "click").then(|| a.default_value.unwrap_or(Value::Null)),
            kind: a.kind.to_string(),
            id: a.id,
            category: a.category,
            description: a.description,
        })
        .collect();
    let mut markdown = s.markdown;
    if !s.diff {
        markdown.push_str(&action_space::browser_actions::markdown_section());
    }
    NotteObservation {
        session: session_view(rec),
        metadata: Metadata {
            title: s.title,
            url: s.url,
            viewport,
            tabs,
            timestamp: stamp(Utc::now()),
        },
        space: Space {
            markdown,
            description: s.description,
            category: s.category.to_string(),
            interaction_actions: interaction,
            actions: listed,
            browser_actions: browser,
        },
        data: Data {
            markdown: s.page_markdown.unwrap_or_default(),
            images: s.images.unwrap_or_default(),
            structured: None,
        },
        changes: s.changes,
        progress: Progress {
            current_step: rec.steps(),
            max_steps: rec.options.max_steps,
        },
        screenshot: news
            .screenshot
            .and_then(|b| b.body_base64)
            .unwrap_or_default(),
        started_at: stamp(started),
        ended_at: stamp(Utc::now()),
        success: None,
        message: None,
    }
}
