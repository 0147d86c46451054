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

/// What one turn ran: the action, and the observation after it when the request asked.
pub(super) struct Ran {
    pub(super) first: Result<ActionOutput, EngineError>,
    pub(super) observed: Option<Result<ActionOutput, EngineError>>,
    /// How long the observation took (each part has its own latency in the metrics).
    pub(super) observe_took: Duration,
}

/// The least time an observation after an action gets, even when the action used up the
/// deadline: a step that timed out is still answered with the page it left.
const OBSERVE_AFTER_MIN: Duration = Duration::from_secs(10);

/// Runs one action on a live session while holding its turn, within `deadline`, then the
/// observation the request asked for after it (same turn).
pub(super) async fn run_action(
    engine: Engine,
    live: Arc<Live>,
    req: ActionRequest,
    who: Owner,
    deadline: Duration,
    _turn: tokio::sync::OwnedMutexGuard<()>,
) -> Ran {
    let started = tokio::time::Instant::now();
    let first = run_one(&engine, &live, &req.action, &who, deadline).await;
    let first_took = started.elapsed();
    let observed = match (&req.then_observe, &first) {
        (None, _) => None,
        // The page died or hangs: there is nothing to observe, the action's error says why.
        (
            Some(_),
            Err(EngineError::PageGone(_) | EngineError::Browser(_) | EngineError::Unresponsive(_)),
        ) => None,
        (Some(then), Err(_)) if !then.after_failure => None,
        (Some(then), _) => {
            let left = deadline
                .saturating_sub(started.elapsed())
                .max(OBSERVE_AFTER_MIN);
            let observe = Action::Snapshot(then.options.clone());
            Some(run_one(&engine, &live, &observe, &who, left).await)
        }
    };
    let observe_took = if observed.is_some() {
        started.elapsed().saturating_sub(first_took)
    } else {
        Duration::ZERO
    };
    let mut ran = Ran {
        first,
        observed,
        observe_took,
    };
    if req.screenshot {
        // The picture is of the page as the answer leaves it: after the observation if any.
        let last = match ran.observed.as_mut() {
            Some(o) => o,
            None => &mut ran.first,
        };
        if let (Ok(out), Some(page)) = (last.as_mut(), live.tabs().and_then(|t| t.active())) {
            match crate::engine::actions::screenshot_base64(&page, false).await {
                Ok(png) => {
                    out.news.screenshot = Some(Bytes {
                        content_type: "image/png".into(),
                        body_base64: Some(png),
                        file: None,
                    });
                }
                Err(e) => *last = Err(e),
            }
        }
    }
    ran
}

/// One action on the session's browser or HTTP client, within `deadline`.
async fn run_one(
    engine: &Engine,
    live: &Live,
    action: &Action,
    who: &Owner,
    deadline: Duration,
) -> Result<ActionOutput, EngineError> {
    let kind = action.kind();
    match (&live.body, action) {
        (Body::Browser(tabs), Action::SaveProfile(p)) => {
            save_profile(engine, tabs, who, p, deadline).await
        }
        (Body::Http(_), Action::SaveProfile(_)) => Err(EngineError::BadInput(
            "profiles hold a browser's state; this session has no browser (client: standard)"
                .into(),
        )),
        (Body::Browser(tabs), _) => engine.run_on(tabs, action, deadline).await,
        (Body::Http(f), _) => match tokio::time::timeout(deadline, f.run(action)).await {
            Ok(r) => r,
            Err(_) => Err(EngineError::Timeout(format!(
                "action `{kind}` timed out after {} ms",
                deadline.as_millis()
            ))),
        },
    }
}
