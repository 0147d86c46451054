//! A session's working side on this instance: its browser tabs or HTTP client, and the queue
//! that runs its actions one at a time.

use std::sync::Arc;
use std::time::Duration;

use super::profiles::Profiles;
use super::types::{ActionRequest, SessionError};
use crate::engine::actions::output::{Bytes, ProfileSaved, SavedProfile};
use crate::engine::actions::Outcome;
use crate::engine::profile::SaveProfile;
use crate::engine::tabs::Tabs;
use crate::engine::{Action, ActionOutput, Engine, EngineError};
use crate::fetcher::Fetcher;

/// A session's working side, on this instance.
pub(super) struct Live {
    pub(super) body: Body,
    /// Serialises actions: one at a time per session, sessions in parallel. Owned guards, so
    /// the running action keeps the turn even if the request that started it goes away.
    pub(super) turn: Arc<tokio::sync::Mutex<()>>,
    /// Actions holding or waiting for the turn.
    pub(super) queued: std::sync::atomic::AtomicUsize,
    /// Set when the session ends here: actions still waiting are refused, not run.
    pub(super) ended: std::sync::atomic::AtomicBool,
    pub(super) action_timeout: Duration,
}

/// One place in a session's queue, given back when the action is answered.
pub(super) struct QueueSlot<'a>(&'a Live);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0
            .queued
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Live {
    pub(super) fn enqueue(&self, max: usize) -> Result<QueueSlot<'_>, SessionError> {
        use std::sync::atomic::Ordering;
        let before = self.queued.fetch_add(1, Ordering::SeqCst);
        let slot = QueueSlot(self);
        if before >= max {
            return Err(SessionError::Busy {
                waiting: before,
                max,
            });
        }
        Ok(slot)
    }

    pub(super) fn has_ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }
}

pub(super) enum Body {
    Browser(Tabs),
    Http(Box<Fetcher>),
}

impl Live {
    pub(super) fn tabs(&self) -> Option<&Tabs> {
        match &self.body {
            Body::Browser(t) => Some(t),
            Body::Http(_) => None,
        }
    }
}

/// Whose session an action runs on, and where that tenant's profiles are kept.
pub(super) struct Owner {
    pub(super) tenant: String,
    pub(super) profiles: Profiles,
}

/// The session's state becomes the tenant's profile (within the action's deadline).
async fn save_profile(
    engine: &Engine,
    tabs: &Tabs,
    who: &Owner,
    p: &SaveProfile,
    deadline: Duration,
) -> Result<ActionOutput, EngineError> {
    let work = async {
        let state = engine.browser_state(tabs).await?;
        let meta = who.profiles.save(&who.tenant, &p.name, state).await?;
        let saved = ProfileSaved {
            profile: SavedProfile::from(meta),
        };
        Ok::<_, EngineError>(ActionOutput::from(Outcome::Profile(saved)))
    };
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| {
            Err(EngineError::Timeout(format!(
                "save_profile timed out after {} ms",
                deadline.as_millis()
            )))
        })
}

/// Runs one action on a live session while holding its turn, within `deadline`.
pub(super) async fn run_action(
    engine: Engine,
    live: Arc<Live>,
    req: ActionRequest,
    who: Owner,
    deadline: Duration,
    _turn: tokio::sync::OwnedMutexGuard<()>,
) -> Result<ActionOutput, EngineError> {
    let kind = req.action.kind();
    let mut result = match (&live.body, &req.action) {
        (Body::Browser(tabs), Action::SaveProfile(p)) => {
            save_profile(&engine, tabs, &who, p, deadline).await
        }
        (Body::Http(_), Action::SaveProfile(_)) => Err(EngineError::BadInput(
            "profiles hold a browser's state; this session has no browser (client: standard)"
                .into(),
        )),
        (Body::Browser(tabs), _) => engine.run_on(tabs, &req.action, deadline).await,
        (Body::Http(f), _) => match tokio::time::timeout(deadline, f.run(&req.action)).await {
            Ok(r) => r,
            Err(_) => Err(EngineError::Timeout(format!(
                "action `{kind}` timed out after {} ms",
                deadline.as_millis()
            ))),
        },
    };
    if req.screenshot {
        if let (Ok(out), Some(page)) = (result.as_mut(), live.tabs().and_then(|t| t.active())) {
            match crate::engine::actions::screenshot_base64(&page, false).await {
                Ok(png) => {
                    out.news.screenshot = Some(Bytes {
                        content_type: "image/png".into(),
                        body_base64: Some(png),
                        file: None,
                    });
                }
                Err(e) => result = Err(e),
            }
        }
    }
    result
}
