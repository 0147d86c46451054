//! Who may touch which session: creation under limits, tenant-scoped lookup, serialised
//! actions with stats, closing (credits charged once). Nothing here knows which protocol asked.
//! `types` holds what callers pass and get, `live` a session's working side on this instance,
//! `background` the reaper, the death watches and the cluster heartbeat and janitor.

mod background;
pub mod cluster;
mod live;
pub mod profiles;
pub mod record;
pub mod redis_store;
pub mod store;
mod types;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::Utc;

use crate::engine::tabs::Tabs;
use crate::engine::{Action, ContextOptions, Engine, EngineError, PageOptions};
use crate::fetcher::Fetcher;
pub use cluster::Cluster;
pub use record::reason;
pub use record::{SessionOptions, SessionRecord, Status};
pub use store::{Limits, MemoryStore, SessionStore, StoreError};
pub use types::{
    ActionRequest, ActionResult, Client, CreateRequest, Ended, ListPage, Route, SessionConfig,
    SessionError, ThenObserve, MAX_PAGE_SIZE,
};

use background::{death_watch, heartbeat, janitor, page_watch, reaper, recovering};
use live::{run_action, Body, Live, Owner};
use profiles::Profiles;

/// The metrics label of the API that created a session (`unknown` for records made before
/// it was kept).
fn api_label(rec: &SessionRecord) -> &'static str {
    match rec.api.as_deref() {
        Some("capture") => "capture",
        Some("agent") => "agent",
        Some("websocket") => "websocket",
        Some("mcp") => "mcp",
        _ => "unknown",
    }
}

#[derive(Clone)]
pub struct Sessions {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn SessionStore>,
    engine: Engine,
    cfg: SessionConfig,
    live: Mutex<HashMap<String, Arc<Live>>>,
    ended: tokio::sync::broadcast::Sender<Ended>,
    cluster: Option<Arc<dyn Cluster>>,
    profiles: Profiles,
    /// Set by `halt`: background loops stop (tests simulate a crashed instance with it).
    halted: std::sync::atomic::AtomicBool,
    /// When this instance last failed to heartbeat (the shared store was unreachable).
    heartbeat_failed: Mutex<Option<std::time::Instant>>,
}

impl Sessions {
    /// Starts the registry with its reaper and its watcher of browser deaths; with a cluster,
    /// also its heartbeat and the janitor that settles dead instances' sessions.
    pub fn start(
        engine: Engine,
        store: Arc<dyn SessionStore>,
        cfg: SessionConfig,
        cluster: Option<Arc<dyn Cluster>>,
        profiles: Profiles,
    ) -> Self {
        let s = Self {
            inner: Arc::new(Inner {
                store,
                engine,
                cfg,
                live: Mutex::new(HashMap::new()),
                ended: tokio::sync::broadcast::channel(256).0,
                cluster,
                profiles,
                halted: false.into(),
                heartbeat_failed: Mutex::new(None),
            }),
        };
        if s.inner.cluster.is_some() {
            tokio::spawn(heartbeat(Arc::downgrade(&s.inner)));
            tokio::spawn(janitor(Arc::downgrade(&s.inner)));
        }
        tokio::spawn(reaper(Arc::downgrade(&s.inner)));
        tokio::spawn(death_watch(
            Arc::downgrade(&s.inner),
            s.inner.engine.deaths(),
        ));
        tokio::spawn(page_watch(
            Arc::downgrade(&s.inner),
            s.inner.engine.pages_gone(),
        ));
        s
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn config(&self) -> &SessionConfig {
        &self.inner.cfg
    }

    /// The tenants' saved profiles (listing and deleting; saving is the `save_profile` action).
    pub fn profiles(&self) -> &Profiles {
        &self.inner.profiles
    }

    /// Sessions ending without their client asking (see [`Ended`]).
    pub fn ended(&self) -> tokio::sync::broadcast::Receiver<Ended> {
        self.inner.ended.subscribe()
    }

    /// Ends a session in the store (once) and tells whoever listens; the answer is the final
    /// record when this call ended it.
    async fn end(
        &self,
        id: &str,
        status: Status,
        why: &str,
        error: Option<String>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let done = self
            .inner
            .store
            .finish(id, status, why, error.clone(), Utc::now())
            .await?;
        if let Some(rec) = &done {
            crate::telemetry::session_ended(api_label(rec), why, rec.status.label());
            crate::telemetry::credits_charged(rec.billed_credits);
        }
        if done.is_some() && why != reason::CLOSED {
            let _ = self.inner.ended.send(Ended {
                id: id.to_string(),
                status,
                reason: why.to_string(),
                error,
            });
        }
        Ok(done)
    }

    pub async fn create(
        &self,
        tenant: &str,
        req: CreateRequest,
    ) -> Result<SessionRecord, SessionError> {
        let cfg = &self.inner.cfg;
        let ttl = match req.ttl_seconds {
            Some(0) => {
                return Err(SessionError::BadInput(
                    "maxTtlSeconds must be at least 1".into(),
                ))
            }
            Some(t) => t.min(cfg.max_ttl_seconds),
            None => cfg.default_ttl_seconds.min(cfg.max_ttl_seconds),
        };
        let proxy_server = match (req.proxy, &cfg.proxy_server) {
            (false, _) => req.proxy_url.clone(),
            (true, Some(p)) => Some(p.clone()),
            (true, None) => {
                return Err(SessionError::BadInput(
                    "proxy: true needs an upstream proxy, and the operator has configured none (proxy_server)".into(),
                ))
            }
        };
        let viewport = req.viewport.unwrap_or(cfg.viewport);
        if viewport.0 == 0 || viewport.1 == 0 || viewport.0 > 5000 || viewport.1 > 5000 {
            return Err(SessionError::BadInput(format!(
                "viewport must be 1..5000 pixels each way, got {}x{}",
                viewport.0, viewport.1
            )));
        }
        // A profile is opened before anything is allocated: an unknown one is a 404 that
        // costs no browser.
        let restore = match &req.profile {
            None => None,
            Some(_) if !matches!(req.client, Client::Browser) => {
                return Err(SessionError::BadInput(
                    "profile: profiles hold a browser's state; a session with client: standard has no browser".into(),
                ))
            }
            Some(name) => Some(
                self.inner
                    .profiles
                    .load(tenant, name)
                    .await
                    .map_err(|e| SessionError::Engine(e.into()))?,
            ),
        };
        let options = SessionOptions {
            max_ttl_seconds: ttl,
            proxy: req.proxy,
            bypass_bot_detection: req.bypass_bot_detection,
            idle_timeout_seconds: req.idle_timeout_seconds,
            max_steps: req.max_steps,
            client: req.client_label.clone(),
        };
        let mut rec = SessionRecord::new(tenant, options, Utc::now());
        if req.bare_uuid_id {
            rec.id = uuid::Uuid::new_v4().to_string();
        }
        rec.api = (!req.api.is_empty()).then(|| req.api.to_string());
        let api = api_label(&rec);
        let id = rec.id.clone();
        self.inner.store.create(rec, cfg.limits).await?;
        crate::telemetry::session_created(api);

        let opened = match &req.client {
            Client::Browser => self
                .inner
                .engine
                .open(
                    &ContextOptions { proxy_server },
                    &PageOptions {
                        viewport,
                        stealth: req.bypass_bot_detection,
                        user_agent: req.user_agent.clone(),
                        middleware: req.middleware.clone(),
                    },
                )
                .await
                .and_then(|page| {
                    let files = self.inner.engine.session_files(&id)?;
                    Ok(Body::Browser(Tabs::new(page, files)))
                }),
            Client::Standard(settings) => {
                let policy = self.inner.engine.policy_arc();
                let egress = self.inner.engine.egress();
                Fetcher::new(settings.clone(), req.middleware.clone(), policy, egress)
                    .map(|f| Body::Http(Box::new(f)))
            }
        };
        let opened = match opened {
            Ok(Body::Browser(tabs)) => {
                // Without downloads the session still works; it only cannot keep them.
                if let Err(e) = self.inner.engine.enable_downloads(&tabs).await {
                    tracing::warn!(%e, session = %id, "downloads are off for this session");
                }
                self.restored(tabs, restore.as_ref()).await
            }
            other => other,
        };
        let body = match opened {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(%e, session = %id, "session start failed");
                self.inner
                    .store
                    .finish(
                        &id,
                        Status::Error,
                        reason::START_FAILED,
                        Some(e.to_string()),
                        Utc::now(),
                    )
                    .await?;
                return Err(SessionError::Engine(e));
            }
        };
        self.inner.store.mark_started(&id, Utc::now()).await?;
        let live = Arc::new(Live {
            body,
            turn: Arc::new(tokio::sync::Mutex::new(())),
            queued: 0.into(),
            ended: false.into(),
            action_timeout: req.action_timeout.unwrap_or(cfg.action_timeout),
        });
        if let Ok(mut m) = self.inner.live.lock() {
            m.insert(id.clone(), live.clone());
        }
        // The reaper may have ended it while the page was being made (a 1 s TTL on a cold start).
        let rec = self
            .inner
            .store
            .get(&id)
            .await?
            .ok_or(SessionError::NotFound)?;
        if !rec.is_active() {
            self.drop_live(&id).await;
            return Err(SessionError::NotActive(Box::new(rec)));
        }
        tracing::info!(session = %id, tenant, ttl, "session started");
        Ok(rec)
    }

    /// A new session's tabs with `state` written in (a profile it starts from); on failure its
    /// browser side is released and the error says why.
    async fn restored(
        &self,
        tabs: Tabs,
        state: Option<&crate::engine::profile::BrowserState>,
    ) -> Result<Body, EngineError> {
        let Some(state) = state else {
            return Ok(Body::Browser(tabs));
        };
        match self
            .inner
            .engine
            .restore_state(&tabs, state, self.inner.cfg.action_timeout)
            .await
        {
            Ok(()) => Ok(Body::Browser(tabs)),
            Err(e) => {
                for page in tabs.all() {
                    page.close().await;
                }
                tracing::warn!(%e, "a profile could not be restored");
                Err(e)
            }
        }
    }

    /// The files of `tenant`'s active browser session `id` (held on this instance).
    pub async fn files(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Arc<crate::engine::files::SessionFiles>, SessionError> {
        let rec = self.get(tenant, id).await?;
        if !rec.is_active() {
            return Err(SessionError::NotActive(Box::new(rec)));
        }
        let live = self
            .inner
            .live
            .lock()
            .ok()
            .and_then(|m| m.get(id).cloned())
            .ok_or(SessionError::NotFound)?;
        match live.tabs() {
            Some(tabs) => Ok(tabs.files.clone()),
            None => Err(SessionError::BadInput(
                "files belong to browser sessions; this session has no browser".into(),
            )),
        }
    }

    /// The tenant's session; another tenant's id is indistinguishable from an unknown one.
    pub async fn get(&self, tenant: &str, id: &str) -> Result<SessionRecord, SessionError> {
        match self.inner.store.get(id).await? {
            Some(r) if r.tenant == tenant => Ok(r),
            _ => Err(SessionError::NotFound),
        }
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<SessionRecord>, SessionError> {
        Ok(self.inner.store.list(tenant).await?)
    }

    /// One page of the tenant's sessions, newest first, with the totals every protocol shows.
    pub async fn list_page(
        &self,
        tenant: &str,
        offset: usize,
        limit: usize,
    ) -> Result<ListPage, SessionError> {
        let all = self.inner.store.list(tenant).await?;
        let total = all.len();
        let active = all.iter().filter(|r| r.is_active()).count();
        let items: Vec<SessionRecord> = all.into_iter().skip(offset).take(limit).collect();
        let has_next = offset.saturating_add(items.len()) < total;
        Ok(ListPage {
            items,
            total,
            active,
            has_next,
        })
    }

    pub async fn active_count(&self) -> Result<usize, SessionError> {
        Ok(self.inner.store.active_count().await?)
    }

    /// Runs one action on the tenant's session, after the previous one finished.
    pub async fn act(
        &self,
        tenant: &str,
        id: &str,
        req: ActionRequest,
    ) -> Result<ActionResult, SessionError> {
        let rec = self.get(tenant, id).await?;
        if !rec.is_active() {
            return Err(SessionError::NotActive(Box::new(rec)));
        }
        let observing = matches!(req.action, Action::Snapshot(_));
        if let Some(max) = rec
            .options
            .max_steps
            .filter(|m| !observing && rec.steps() >= *m)
        {
            return Err(SessionError::BadInput(format!(
                "this session has used its max_steps ({max}); start a new session to go on"
            )));
        }
        let kind = req.action.kind();
        let arrived_at = std::time::Instant::now();
        if let Err(e) = req.action.validate() {
            crate::telemetry::action(kind, false, arrived_at.elapsed());
            let record = self.count(id, kind, false).await?.unwrap_or(rec);
            return Err(SessionError::Action {
                error: e,
                record: Box::new(record),
            });
        }
        let live = self.inner.live.lock().ok().and_then(|m| m.get(id).cloned());
        let Some(live) = live else {
            // Active in the store but without a page here: it is ending right now.
            let rec = self.get(tenant, id).await?;
            return Err(SessionError::NotActive(Box::new(rec)));
        };
        let arrived = tokio::time::Instant::now();
        let _slot = live.enqueue(self.inner.cfg.max_queued_actions)?;
        // The deadline covers the time spent waiting for the turn.
        let turn =
            match tokio::time::timeout(live.action_timeout, live.turn.clone().lock_owned()).await {
                Ok(t) => t,
                Err(_) => {
                    let error = EngineError::Timeout(format!(
                    "action `{kind}` waited {} ms for the actions before it and ran out of time",
                    live.action_timeout.as_millis()
                ));
                    let record = self.count(id, kind, false).await?.unwrap_or(rec);
                    return Err(SessionError::Action {
                        error,
                        record: Box::new(record),
                    });
                }
            };
        if live.has_ended() {
            let rec = self.get(tenant, id).await?;
            return Err(SessionError::NotActive(Box::new(rec)));
        }
        let left = live.action_timeout.saturating_sub(arrived.elapsed());
        // The action runs on its own task: a panic anywhere under it ends this session
        // cleanly instead of unwinding through the server, and never touches another one.
        let task = tokio::spawn(run_action(
            self.inner.engine.clone(),
            live.clone(),
            req,
            Owner {
                tenant: tenant.to_string(),
                profiles: self.inner.profiles.clone(),
            },
            left,
            turn,
        ));
        let ran = match task.await {
            Ok(r) => r,
            Err(join) => {
                tracing::error!(session = %id, error = %join, "an action panicked; ending its session");
                let why = format!("an action of type `{kind}` failed inside the server");
                self.fail(id, reason::INTERNAL_ERROR, why.clone()).await;
                return Err(SessionError::Engine(EngineError::Internal(format!(
                    "{why}; the session was ended"
                ))));
            }
        };
        let took = arrived_at.elapsed();
        crate::telemetry::action(
            kind,
            ran.first.is_ok(),
            took.saturating_sub(ran.observe_took),
        );
        let mut counted = self.count(id, kind, ran.first.is_ok()).await?;
        // An observation after the action: counted as its own action; its answer is the answer,
        // and the action's failure (if any) rides along with it.
        let (result, first) = match ran.observed {
            None => (ran.first, None),
            Some(observed) => {
                let observing = Action::Snapshot(Default::default()).kind();
                crate::telemetry::action(observing, observed.is_ok(), ran.observe_took);
                counted = self
                    .count(id, observing, observed.is_ok())
                    .await?
                    .or(counted);
                match (ran.first, observed) {
                    (Ok(done), Ok(mut out)) => {
                        out.news.absorb(done.news);
                        (Ok(out), Some(Ok(())))
                    }
                    (Err(e), Ok(out)) => (Ok(out), Some(Err(e))),
                    (_, Err(e)) => (Err(e), None),
                }
            }
        };
        match result {
            Ok(output) => Ok(ActionResult {
                output,
                record: counted.unwrap_or(rec),
                first,
            }),
            Err(error) => {
                if matches!(error, EngineError::PageGone(_) | EngineError::Browser(_)) {
                    return Err(self.page_lost(id, &live, error).await);
                }
                if let EngineError::Unresponsive(why) = &error {
                    tracing::warn!(session = %id, %why, "page hung; ending its session");
                    self.fail(id, reason::PAGE_UNRESPONSIVE, why.clone()).await;
                }
                Err(SessionError::Action {
                    error,
                    record: Box::new(counted.unwrap_or(rec)),
                })
            }
        }
    }

    async fn count(
        &self,
        id: &str,
        kind: &str,
        ok: bool,
    ) -> Result<Option<SessionRecord>, SessionError> {
        Ok(self.inner.store.record_action(id, kind, ok).await?)
    }

    /// The page died under an action: closed meanwhile (409), or crashed (the session errors).
    async fn page_lost(&self, id: &str, live: &Live, error: EngineError) -> SessionError {
        let Some(page) = live.tabs().and_then(|t| t.active()) else {
            return SessionError::Engine(error);
        };
        let dead = page.dead_reason().or_else(|| page.conn.closed_reason());
        if let Some(why) = dead {
            let r = if page.conn.closed_reason().is_some() {
                reason::BROWSER_CRASHED
            } else {
                reason::PAGE_CRASHED
            };
            self.fail(id, r, why).await;
        }
        match self.inner.store.get(id).await {
            Ok(Some(rec)) if !rec.is_active() => SessionError::NotActive(Box::new(rec)),
            _ => SessionError::Engine(error),
        }
    }

    /// Closes the tenant's session; 409 (NotActive) if it had already ended.
    pub async fn close(&self, tenant: &str, id: &str) -> Result<SessionRecord, SessionError> {
        self.close_as(tenant, id, Status::Closed, reason::CLOSED)
            .await
    }

    /// Ends the tenant's session with a status and reason of the protocol's choosing (a
    /// WebSocket that went idle or dropped).
    pub async fn close_as(
        &self,
        tenant: &str,
        id: &str,
        status: Status,
        why: &str,
    ) -> Result<SessionRecord, SessionError> {
        let rec = self.get(tenant, id).await?;
        match self.end(id, status, why, None).await? {
            Some(done) => {
                self.drop_live(id).await;
                tracing::info!(session = %id, credits = done.billed_credits, "session closed");
                Ok(done)
            }
            None => Err(SessionError::NotActive(Box::new(
                self.inner.store.get(id).await?.unwrap_or(rec),
            ))),
        }
    }

    /// Where requests for session `id` are served (see [`Route`]). A session whose owner
    /// stopped heartbeating is ended here and now, and served locally (409 with the session).
    pub async fn route(&self, id: &str) -> Result<Route, SessionError> {
        let Some(cluster) = &self.inner.cluster else {
            return Ok(Route::Local);
        };
        let rec = match self.inner.store.get(id).await? {
            Some(r) if r.is_active() => r,
            _ => return Ok(Route::Local),
        };
        let Some(owner) = rec.owner.filter(|o| o != cluster.instance_id()) else {
            return Ok(Route::Local);
        };
        match cluster.address_of(&owner).await? {
            Some(address) => Ok(Route::Owner {
                instance: owner,
                address,
            }),
            None if recovering(&self.inner, cluster.as_ref()) => Err(SessionError::Store(
                StoreError::Unavailable(format!(
                    "instance {owner} has not announced itself since the session store came back; retry shortly"
                )),
            )),
            None => {
                let why = format!("instance {owner} stopped heartbeating");
                self.end(id, Status::Error, reason::OWNER_LOST, Some(why))
                    .await?;
                Ok(Route::Local)
            }
        }
    }

    /// This instance's id in the cluster, if it is in one.
    pub fn instance_id(&self) -> Option<&str> {
        self.inner.cluster.as_ref().map(|c| c.instance_id())
    }

    /// Stops at once without ending sessions or leaving the registry: what a crash leaves
    /// behind (other instances must notice). For tests of owner death.
    pub fn halt(&self) {
        self.inner
            .halted
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Ok(mut m) = self.inner.live.lock() {
            m.clear();
        }
    }

    /// Ids of the sessions whose browser side lives on this instance.
    fn live_ids(&self) -> Vec<String> {
        self.inner
            .live
            .lock()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Ends every live session (server shutdown).
    pub async fn shutdown(&self) {
        let ids = self.live_ids();
        for id in ids {
            let _ = self.end(&id, Status::Closed, reason::SHUTDOWN, None).await;
            self.drop_live(&id).await;
        }
        if let Some(c) = &self.inner.cluster {
            c.leave().await;
        }
    }

    /// Ends a session here in `error` with `why` (once: a session already ended stays as it
    /// was) and releases its browser side.
    async fn fail(&self, id: &str, reason: &str, why: String) {
        let _ = self.end(id, Status::Error, reason, Some(why)).await;
        self.drop_live(id).await;
    }

    async fn drop_live(&self, id: &str) {
        let live = self.inner.live.lock().ok().and_then(|mut m| m.remove(id));
        if let Some(l) = &live {
            l.ended.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        if let Some(Body::Browser(tabs)) = live.as_ref().map(|l| &l.body) {
            // Disposing the context (through any tab) closes every tab of the session.
            for page in tabs.all() {
                page.close().await;
            }
        }
    }
}
