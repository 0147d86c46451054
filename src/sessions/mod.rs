//! Who may touch which session: creation under limits, tenant-scoped lookup, serialised
//! actions with stats, closing (credits charged once), the TTL reaper and browser deaths.
//! Nothing here knows which protocol asked.

pub mod cluster;
pub mod record;
pub mod redis_store;
pub mod store;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;

use crate::engine::tabs::Tabs;
use crate::engine::{Action, ActionOutput, ContextOptions, Engine, EngineError, PageOptions};
use crate::exchange::Middleware;
use crate::fetcher::Fetcher;
pub use cluster::Cluster;
pub use record::reason;
pub use record::{SessionOptions, SessionRecord, Status};
pub use store::{Limits, MemoryStore, SessionStore, StoreError};

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

/// Where a request for a session is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// Here: this instance holds its browser, or it is not active (any instance answers).
    Local,
    /// On its owner, at this internal address.
    Owner { instance: String, address: String },
}

/// How often the reaper looks for expired sessions (they end within a second).
const REAP_EVERY: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct SessionConfig {
    pub limits: Limits,
    pub max_ttl_seconds: u64,
    pub default_ttl_seconds: u64,
    pub action_timeout: Duration,
    pub viewport: (u32, u32),
    /// The operator's upstream proxy, used by sessions that ask for `proxy: true`.
    pub proxy_server: Option<String>,
    /// Actions that may wait for their turn on one session; more answer 429.
    pub max_queued_actions: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("session not found")]
    NotFound,
    #[error("session is not active (status {:?})", .0.status)]
    NotActive(Box<SessionRecord>),
    #[error("{0}")]
    Limit(StoreError),
    /// Too many actions already waiting on this session.
    #[error("{waiting} actions are already waiting on this session, the limit is {max} (max_queued_actions); wait for their answers")]
    Busy { waiting: usize, max: usize },
    #[error("{0}")]
    BadInput(String),
    /// The action failed; the record is the session after counting it.
    #[error("{error}")]
    Action {
        error: EngineError,
        record: Box<SessionRecord>,
    },
    #[error("{0}")]
    Engine(EngineError),
    #[error("{0}")]
    Store(StoreError),
}

impl From<StoreError> for SessionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TenantLimit { .. } | StoreError::GlobalLimit { .. } => {
                SessionError::Limit(e)
            }
            other => SessionError::Store(other),
        }
    }
}

/// What a client asks for when it starts a session.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub ttl_seconds: Option<u64>,
    pub proxy: bool,
    pub bypass_bot_detection: bool,
    pub idle_timeout_seconds: Option<u64>,
    pub max_steps: Option<u64>,
    /// Overrides the configured viewport.
    pub viewport: Option<(u32, u32)>,
    pub user_agent: Option<String>,
    /// What drives the session: Chromium (default) or plain HTTP.
    pub client: Client,
    /// Request middleware for every navigation (WebSocket sessions).
    pub middleware: Vec<Middleware>,
    /// This session's action deadline instead of the configured one.
    pub action_timeout: Option<Duration>,
    /// An upstream proxy URL for this session's browser context (an operator-named proxy).
    pub proxy_url: Option<String>,
    /// Shown in the session's options (`standard`, `browser`) by the WebSocket protocol.
    pub client_label: Option<String>,
    /// The id is a bare UUID (seed 004's `session_id`) instead of `sess_<uuid>`.
    pub bare_uuid_id: bool,
    /// Which API created it (`capture`, `agent`, `websocket`, `mcp`): a label of its metrics only.
    pub api: &'static str,
}

/// What a session's actions run on.
#[derive(Debug, Clone, Default)]
pub enum Client {
    #[default]
    Browser,
    /// The WebSocket protocol's standard client: plain HTTP, no browser.
    Standard(crate::fetcher::Settings),
}

/// A session ended without its client asking (TTL, idle, crash, shutdown): protocols that hold
/// a connection for it (WebSocket) are told.
#[derive(Debug, Clone)]
pub struct Ended {
    pub id: String,
    pub status: Status,
    pub reason: String,
    pub error: Option<String>,
}

/// An action plus what any action may ask for alongside it.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    pub action: Action,
    /// Attach a PNG of the viewport to the answer.
    pub screenshot: bool,
}

/// A page of a tenant's sessions (see [`Sessions::list_page`]).
pub struct ListPage {
    pub items: Vec<SessionRecord>,
    /// Sessions the tenant has in all (active and recently ended).
    pub total: usize,
    pub active: usize,
    pub has_next: bool,
}

/// The most sessions one list answer holds.
pub const MAX_PAGE_SIZE: usize = 500;

pub struct ActionResult {
    pub output: ActionOutput,
    pub record: SessionRecord,
}

/// A session's working side, on this instance.
struct Live {
    body: Body,
    /// Serialises actions: one at a time per session, sessions in parallel. Owned guards, so
    /// the running action keeps the turn even if the request that started it goes away.
    turn: Arc<tokio::sync::Mutex<()>>,
    /// Actions holding or waiting for the turn.
    queued: std::sync::atomic::AtomicUsize,
    /// Set when the session ends here: actions still waiting are refused, not run.
    ended: std::sync::atomic::AtomicBool,
    action_timeout: Duration,
}

/// One place in a session's queue, given back when the action is answered.
struct QueueSlot<'a>(&'a Live);

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        self.0
            .queued
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Live {
    fn enqueue(&self, max: usize) -> Result<QueueSlot<'_>, SessionError> {
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

    fn has_ended(&self) -> bool {
        self.ended.load(std::sync::atomic::Ordering::SeqCst)
    }
}

enum Body {
    Browser(Tabs),
    Http(Box<Fetcher>),
}

impl Live {
    fn tabs(&self) -> Option<&Tabs> {
        match &self.body {
            Body::Browser(t) => Some(t),
            Body::Http(_) => None,
        }
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
    ) -> Self {
        let s = Self {
            inner: Arc::new(Inner {
                store,
                engine,
                cfg,
                live: Mutex::new(HashMap::new()),
                ended: tokio::sync::broadcast::channel(256).0,
                cluster,
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
                .map(|page| Body::Browser(Tabs::new(page))),
            Client::Standard(settings) => {
                let policy = self.inner.engine.policy_arc();
                let egress = self.inner.engine.egress();
                Fetcher::new(settings.clone(), req.middleware.clone(), policy, egress)
                    .map(|f| Body::Http(Box::new(f)))
            }
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
            left,
            turn,
        ));
        let result = match task.await {
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
        let ok = result.is_ok();
        crate::telemetry::action(kind, ok, arrived_at.elapsed());
        let counted = self.count(id, kind, ok).await?;
        match result {
            Ok(output) => Ok(ActionResult {
                output,
                record: counted.unwrap_or(rec),
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

/// Runs one action on a live session while holding its turn, within `deadline`.
async fn run_action(
    engine: Engine,
    live: Arc<Live>,
    req: ActionRequest,
    deadline: Duration,
    _turn: tokio::sync::OwnedMutexGuard<()>,
) -> Result<ActionOutput, EngineError> {
    let kind = req.action.kind();
    let mut result = match &live.body {
        Body::Browser(tabs) => engine.run_on(tabs, &req.action, deadline).await,
        Body::Http(f) => match tokio::time::timeout(deadline, f.run(&req.action)).await {
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
                    out.insert(
                        "screenshot".into(),
                        serde_json::json!({ "contentType": "image/png", "bodyBase64": png }),
                    );
                }
                Err(e) => result = Err(e),
            }
        }
    }
    result
}

async fn reaper(inner: std::sync::Weak<Inner>) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if halted(&inner) {
            return;
        }
        let s = Sessions { inner };
        let due = match s.inner.store.due(Utc::now()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(%e, "reaper cannot read the store");
                continue;
            }
        };
        for (id, why) in due {
            if let Ok(Some(done)) = s.end(&id, Status::Expired, why, None).await {
                tracing::info!(session = %id, credits = done.billed_credits, "session expired");
            }
            s.drop_live(&id).await;
        }
        if s.inner.cluster.is_some() {
            s.drop_ended_elsewhere().await;
        }
    }
}

impl Sessions {
    /// Live sessions another instance ended (it judged this one dead): release their pages.
    async fn drop_ended_elsewhere(&self) {
        let ids = self.live_ids();
        for id in ids {
            if let Ok(Some(rec)) = self.inner.store.get(&id).await {
                if !rec.is_active() {
                    tracing::warn!(session = %id, reason = ?rec.close_reason, "ended by another instance");
                    self.drop_live(&id).await;
                    // A socket held here for it gets its fatal frame.
                    let _ = self.inner.ended.send(Ended {
                        id: id.clone(),
                        status: rec.status,
                        reason: rec.close_reason.unwrap_or_default(),
                        error: rec.error,
                    });
                }
            }
        }
    }
}

/// The store was unreachable less than two heartbeat windows ago: every instance's heartbeat
/// may have lapsed meanwhile, so a missing one proves nothing yet.
fn recovering(inner: &Inner, cluster: &dyn Cluster) -> bool {
    inner
        .heartbeat_failed
        .lock()
        .ok()
        .and_then(|f| *f)
        .is_some_and(|t| t.elapsed() < cluster.heartbeat_ttl() * 2)
}

fn halted(inner: &Inner) -> bool {
    inner.halted.load(std::sync::atomic::Ordering::SeqCst)
}

/// The registry and its cluster, while the registry lives and is not halted.
fn running_cluster(inner: &std::sync::Weak<Inner>) -> Option<(Arc<Inner>, Arc<dyn Cluster>)> {
    let strong = inner.upgrade()?;
    let cluster = strong.cluster.clone()?;
    (!halted(&strong)).then_some((strong, cluster))
}

/// Announces this instance every third of the heartbeat window.
async fn heartbeat(inner: std::sync::Weak<Inner>) {
    loop {
        let Some((strong, cluster)) = running_cluster(&inner) else {
            return;
        };
        if let Err(e) = cluster.heartbeat().await {
            tracing::warn!(%e, "heartbeat failed");
            if let Ok(mut f) = strong.heartbeat_failed.lock() {
                *f = Some(std::time::Instant::now());
            }
        }
        drop(strong);
        tokio::time::sleep(cluster.heartbeat_ttl() / 3).await;
    }
}

/// Settles the sessions of instances whose heartbeat expired: each ends in `error`
/// (`owner_lost`) once, whichever instance gets there first, and is charged then.
async fn janitor(inner: std::sync::Weak<Inner>) {
    loop {
        let Some((strong, cluster)) = running_cluster(&inner) else {
            return;
        };
        // After an outage of the store every heartbeat has lapsed: judge no one until all
        // instances had time to announce themselves again.
        let wait = recovering(&strong, cluster.as_ref());
        let s = Sessions { inner: strong };
        let dead = if wait {
            Ok(Vec::new())
        } else {
            cluster.dead_instances().await
        };
        match dead {
            Ok(dead) => {
                for (instance, ids) in dead {
                    let why = format!("instance {instance} stopped heartbeating");
                    let mut settled = true;
                    for id in ids {
                        let ended = s
                            .end(&id, Status::Error, reason::OWNER_LOST, Some(why.clone()))
                            .await;
                        if let Err(e) = ended {
                            tracing::warn!(%e, session = %id, "cannot settle a dead instance's session");
                            settled = false;
                        }
                    }
                    if settled {
                        tracing::warn!(%instance, "instance gone; its sessions ended");
                        let _ = cluster.forget(&instance).await;
                    }
                }
            }
            Err(e) => tracing::warn!(%e, "janitor cannot read the registry"),
        }
        drop(s);
        tokio::time::sleep(cluster.heartbeat_ttl() / 2).await;
    }
}

async fn death_watch(
    inner: std::sync::Weak<Inner>,
    mut deaths: tokio::sync::broadcast::Receiver<crate::engine::BrowserDeath>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let death = match deaths.recv().await {
            Ok(d) => d,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        let s = Sessions { inner };
        if !s.inner.engine.is_shutting_down() {
            crate::telemetry::browser_crashed();
        }
        let ids: Vec<String> = s
            .inner
            .live
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, l)| l.tabs().is_some_and(|t| t.generation == death.generation))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            s.fail(&id, reason::BROWSER_CRASHED, death.reason.clone())
                .await;
        }
    }
}

/// A session's page died on its own (its renderer crashed, or its browser died): the session
/// ends in `error` at once, without waiting for its next action.
async fn page_watch(
    inner: std::sync::Weak<Inner>,
    mut gone: tokio::sync::broadcast::Receiver<crate::engine::PageGone>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let ev = match gone.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        let s = Sessions { inner };
        let found = s.inner.live.lock().ok().and_then(|m| {
            m.iter()
                .find(|(_, l)| l.tabs().is_some_and(|t| t.has_session(&ev.session)))
                .and_then(|(id, l)| Some((id, l.tabs()?)))
                .map(|(id, tabs)| {
                    let down = tabs
                        .active()
                        .is_some_and(|p| p.conn.closed_reason().is_some());
                    // A tab that closed itself (window.close) just leaves the set.
                    let closed_itself =
                        !down && !ev.reason.contains("crash") && tabs.forget(&ev.session);
                    (id.clone(), down, closed_itself)
                })
        });
        // Pooled pages belong to no session: the pool drops them itself.
        let Some((id, browser_down, closed_itself)) = found else {
            continue;
        };
        if closed_itself {
            continue;
        }
        let why = if browser_down {
            reason::BROWSER_CRASHED
        } else {
            reason::PAGE_CRASHED
        };
        s.fail(&id, why, ev.reason).await;
    }
}
