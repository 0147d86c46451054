//! Chromium over CDP: the browser, its pool of ready pages, and the actions run on a page.
//! Nothing here knows about HTTP or which protocol asked.

pub mod actions;
mod browser;
pub mod cdp;
mod console_storm;
mod downloads;
pub mod egress;
mod error;
pub mod files;
mod launch;
pub mod page;
pub mod policy;
pub mod profile;
pub mod protocol;
pub mod tabs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{broadcast, Notify};

pub use actions::{Action, ActionOutput};
use browser::Browser;
pub use browser::BrowserDeath;
pub use error::EngineError;
use page::PageEnv;
pub use page::{ContextOptions, Page, PageGone, PageOptions};
use policy::Policy;

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub chromium: PathBuf,
    /// Contexts+pages kept ready so a session starts without waiting for a renderer.
    pub pool_size: usize,
    pub viewport: (u32, u32),
    pub allow_private_network: bool,
    pub deny_hosts: Vec<String>,
    /// Tabs one session may hold; a popup past it is closed and reported.
    pub max_tabs: usize,
    /// Static host entries for the policy and the egress proxy (`hosts`).
    pub hosts: std::collections::HashMap<String, Vec<std::net::IpAddr>>,
    /// Every upstream proxy URL a session may chain to (`proxy_server`, `fetch_proxies`).
    pub upstream_proxies: Vec<String>,
    /// Where sessions' folders of files are made (one each, removed with the session).
    pub files_root: PathBuf,
    pub file_caps: files::FileCaps,
}

/// What `/healthz` shows of the browser.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BrowserStatus {
    pub alive: bool,
    pub pid: Option<u32>,
    pub generation: u64,
    pub product: Option<String>,
    pub pooled_pages: usize,
}

#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    cfg: EngineConfig,
    env: PageEnv,
    egress: Arc<egress::Egress>,
    browser: tokio::sync::Mutex<Option<Arc<Browser>>>,
    /// Last browser seen alive, readable without awaiting the launch lock.
    current: Mutex<Option<Arc<Browser>>>,
    pool: Mutex<Vec<Page>>,
    refill: Notify,
    generation: AtomicU64,
    deaths: broadcast::Sender<BrowserDeath>,
    shutting_down: std::sync::atomic::AtomicBool,
    downloads: Arc<downloads::Downloads>,
}

impl Engine {
    /// Sends what the session's context downloads to its folder (see [`downloads`]).
    pub async fn enable_downloads(&self, tabs: &tabs::Tabs) -> Result<(), EngineError> {
        let page = tabs
            .active()
            .ok_or_else(|| EngineError::PageGone("the session has no tab".into()))?;
        self.inner
            .downloads
            .enable(&page.conn, page.generation, &page.context_id, &tabs.files)
            .await
    }

    /// A new session's folder of files (see [`files::SessionFiles`]).
    pub fn session_files(&self, session: &str) -> Result<files::SessionFiles, EngineError> {
        files::SessionFiles::create(
            &self.inner.cfg.files_root,
            session,
            self.inner.cfg.file_caps,
        )
    }

    /// Launches the browser and starts filling the pool in the background.
    pub async fn start(cfg: EngineConfig) -> Result<Self, EngineError> {
        let (deaths, _) = broadcast::channel(64);
        let policy = Arc::new(
            Policy::new(cfg.allow_private_network, cfg.deny_hosts.clone())
                .with_hosts(cfg.hosts.clone()),
        );
        let failures = Arc::new(egress::Failures::default());
        let egress = Arc::new(
            egress::Egress::start(policy.clone(), failures.clone(), &cfg.upstream_proxies).await?,
        );
        let (gone, _) = broadcast::channel(256);
        let env = PageEnv {
            policy,
            failures,
            viewport: cfg.viewport,
            gone,
        };
        let engine = Self {
            inner: Arc::new(Inner {
                cfg,
                env,
                egress,
                browser: tokio::sync::Mutex::new(None),
                current: Mutex::new(None),
                pool: Mutex::new(Vec::new()),
                refill: Notify::new(),
                generation: AtomicU64::new(0),
                deaths,
                shutting_down: false.into(),
                downloads: Default::default(),
            }),
        };
        engine.browser().await?;
        let weak = Arc::downgrade(&engine.inner);
        tokio::spawn(pool_keeper(weak));
        engine.inner.refill.notify_one();
        Ok(engine)
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.env.policy
    }

    /// The egress proxy, for clients that fetch without the browser.
    pub fn egress(&self) -> &egress::Egress {
        &self.inner.egress
    }

    /// The navigation policy, for clients that fetch without the browser.
    pub fn policy_arc(&self) -> Arc<Policy> {
        self.inner.env.policy.clone()
    }

    /// Pages whose target went away on its own (renderer crash, detach, browser death).
    pub fn pages_gone(&self) -> broadcast::Receiver<PageGone> {
        self.inner.env.gone.subscribe()
    }

    /// The engine is closing down (a browser dying now is no crash).
    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    /// Deaths of browsers: sessions of that generation have lost their pages.
    pub fn deaths(&self) -> broadcast::Receiver<BrowserDeath> {
        self.inner.deaths.subscribe()
    }

    /// The live browser, relaunched first if the last one died.
    async fn browser(&self) -> Result<Arc<Browser>, EngineError> {
        let mut slot = self.inner.browser.lock().await;
        if let Some(b) = slot.as_ref().filter(|b| b.is_alive()) {
            return Ok(b.clone());
        }
        if self.inner.shutting_down.load(Ordering::SeqCst) {
            return Err(EngineError::Browser("server is shutting down".into()));
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::SeqCst) + 1;
        // A Chromium that starts but dies before it answers (seen when several instances
        // launch at once on a loaded 2-core machine) gets two more tries; a binary that
        // cannot start at all fails at once.
        let mut attempt: u64 = 0;
        let b = loop {
            match Browser::start(
                &self.inner.cfg.chromium,
                self.inner.cfg.viewport,
                self.inner.egress.direct(),
                generation,
                self.inner.deaths.clone(),
            )
            .await
            {
                Ok(b) => break b,
                Err(EngineError::Launch(why))
                    if attempt < 2 && why.starts_with("browser did not answer") =>
                {
                    attempt += 1;
                    tracing::warn!(%why, attempt, "browser died while starting; trying again");
                    tokio::time::sleep(Duration::from_millis(300 * attempt)).await;
                }
                Err(e) => return Err(e),
            }
        };
        crate::telemetry::browser_launched();
        *slot = Some(b.clone());
        if let Ok(mut c) = self.inner.current.lock() {
            *c = Some(b.clone());
        }
        Ok(b)
    }

    /// A page for a new session: from the pool when the context needs nothing special.
    pub async fn open(
        &self,
        ctx: &ContextOptions,
        opts: &PageOptions,
    ) -> Result<Page, EngineError> {
        let browser = self.browser().await?;
        // A session that chains to an upstream gets the egress listener that does so.
        let ctx = &ContextOptions {
            proxy_server: match &ctx.proxy_server {
                Some(up) => Some(self.inner.egress.proxy_url(Some(up))?),
                None => None,
            },
        };
        let pooled = if ctx.proxy_server.is_none() {
            self.take_pooled(browser.generation)
        } else {
            None
        };
        let page = match pooled {
            Some(p) => p,
            None => Page::create(&browser, ctx, &self.inner.env).await?,
        };
        self.inner.refill.notify_one();
        if let Err(e) = page.apply(opts, &browser.stealth_user_agent()).await {
            page.close().await;
            return Err(e);
        }
        Ok(page)
    }

    fn take_pooled(&self, generation: u64) -> Option<Page> {
        let mut pool = self.inner.pool.lock().ok()?;
        while let Some(p) = pool.pop() {
            if p.generation == generation && p.dead_reason().is_none() {
                crate::telemetry::pool_size(pool.len());
                return Some(p);
            }
        }
        crate::telemetry::pool_size(0);
        None
    }

    /// Runs one action on a session's tabs within `deadline`: tab actions on the set, the rest
    /// on the active tab. A tab the action opened (a `target=_blank` click) becomes active.
    pub async fn run_on(
        &self,
        tabs: &tabs::Tabs,
        action: &Action,
        deadline: Duration,
    ) -> Result<ActionOutput, EngineError> {
        let Some(mut page) = tabs.active() else {
            return Err(EngineError::PageGone("the session has no tab".into()));
        };
        // A tab an alert loop holds cannot run anything: replace it before acting.
        let hogged = page.state.hogged.lock().ok().and_then(|h| h.clone());
        if let Some(why) = &hogged {
            page = self
                .replace_tab(tabs, &page)
                .await
                .map_err(|e| EngineError::Unresponsive(format!("{why}; {e}")))?;
        }
        let mut out = match action {
            Action::NewTab(t) => {
                let max = self.inner.cfg.max_tabs;
                if tabs.count() >= max {
                    return Err(EngineError::BadInput(format!(
                        "this session already has {max} tabs, the limit (max_tabs_per_session); close one first"
                    )));
                }
                let goto = Action::Goto(actions::Goto {
                    url: t.url.clone(),
                    wait_until: Default::default(),
                    exchange: None,
                });
                goto.validate()?;
                let tab = Arc::new(page.new_tab(&self.inner.env).await?);
                let mut out = match self.run(&tab, &goto, deadline).await {
                    Ok(out) => out,
                    Err(e) => {
                        tab.close_tab().await;
                        return Err(e);
                    }
                };
                let index = tabs.push_arc(tab);
                out.news.tab = Some(index);
                out
            }
            Action::SwitchTab(t) => {
                tabs.switch(t.index)?;
                let mut out = ActionOutput::default();
                out.news.tab = Some(t.index);
                out
            }
            Action::CloseTab(t) => {
                let closed = tabs.remove(t.index)?;
                closed.close_tab().await;
                ActionOutput::default()
            }
            Action::ListTabs(_) => ActionOutput::default(),
            Action::Upload(u) => {
                within(
                    deadline,
                    "upload",
                    actions::files::upload(&page, &tabs.files, u),
                )
                .await?
            }
            Action::Pdf(p) => {
                within(deadline, "pdf", actions::files::pdf(&page, &tabs.files, p)).await?
            }
            Action::Download(d) => {
                within(
                    deadline,
                    "download",
                    actions::files::download(&page, &tabs.files, d),
                )
                .await?
            }
            other => match self.run(&page, other, deadline).await {
                Err(EngineError::Unresponsive(why)) => {
                    return Err(match self.replace_tab(tabs, &page).await {
                        Ok(_) => EngineError::Timeout(format!("{why}; {REPLACED}: goto again")),
                        Err(e) => EngineError::Unresponsive(format!("{why}; {e}")),
                    });
                }
                r => r?,
            },
        };
        if let Some(why) = hogged {
            out.news.tab_replaced = Some(format!("{why}; {REPLACED}"));
        }
        // Downloads that finished (or were refused) since the last answer: the agent learns
        // of them from the next action's.
        out.news.downloads.extend(tabs.files.take_news());
        let opened = page.state.opened_tab.lock().ok().and_then(|mut o| o.take());
        if let Some(target) = opened {
            let max = self.inner.cfg.max_tabs;
            if tabs.count() >= max {
                let close = protocol::CloseTarget { target_id: target };
                let _ = page.conn.exec(&close, Duration::from_secs(5)).await;
                out.news.tab_refused = Some(format!(
                    "the page opened a tab past the limit of {max} (max_tabs_per_session): it was closed"
                ));
                return Ok(out);
            }
            match page.adopt(&target, &self.inner.env).await {
                Ok(tab) => {
                    wait_ready(&tab).await;
                    let index = tabs.push(tab);
                    out.news.tab = Some(index);
                }
                Err(e) => tracing::warn!(%e, "could not take over the tab a click opened"),
            }
        }
        // A snapshot and the tab actions answer the tabs as they are now.
        if !matches!(
            action,
            Action::Snapshot(_)
                | Action::ListTabs(_)
                | Action::NewTab(_)
                | Action::SwitchTab(_)
                | Action::CloseTab(_)
        ) {
            return Ok(out);
        }
        out.news.tabs = Some(tabs.info().await);
        Ok(out)
    }

    /// A tab whose main thread cannot be freed (a `while(true){}` that survived termination,
    /// an alert loop): its renderer is killed and a blank tab of the same context (cookies and
    /// storage kept) takes its place, so the session goes on. Answers the new tab.
    async fn replace_tab(&self, tabs: &tabs::Tabs, page: &Page) -> Result<Arc<Page>, EngineError> {
        // Its renderer goes first: a new tab of the same site would otherwise share it.
        page.kill_tab().await;
        let fresh = Arc::new(
            page.new_tab(&self.inner.env)
                .await
                .map_err(|e| EngineError::Unresponsive(format!("no new tab either: {e}")))?,
        );
        if !tabs.replace(&page.session, fresh.clone()) {
            fresh.close_tab().await;
            return Err(EngineError::Unresponsive(
                "the tab had left the session".into(),
            ));
        }
        tracing::warn!(session = %page.session, "replaced a hung tab");
        Ok(fresh)
    }

    /// Runs one action on a page within `deadline`.
    pub async fn run(
        &self,
        page: &Page,
        action: &Action,
        deadline: Duration,
    ) -> Result<ActionOutput, EngineError> {
        let started = Instant::now();
        let result =
            tokio::time::timeout(deadline, actions::run(page, &self.inner.env.policy, action))
                .await
                .unwrap_or_else(|_| {
                    Err(EngineError::Timeout(format!(
                        "action `{}` timed out after {} ms",
                        action.kind(),
                        started.elapsed().as_millis()
                    )))
                });
        if let Err(EngineError::Timeout(why)) = &result {
            // A page that hangs its main thread (`while(true){}`) would fail every later
            // action too: stop its script, or give the session up with a clear reason.
            return Err(match recover(page).await {
                Recovered::Responsive => EngineError::Timeout(why.clone()),
                Recovered::Stopped => EngineError::Timeout(format!(
                    "{why}; the page's script kept its main thread busy and was stopped"
                )),
                Recovered::Hung => EngineError::Unresponsive(format!(
                    "{why}; its main thread stayed busy after its script was stopped"
                )),
            });
        }
        result
    }

    pub fn status(&self) -> BrowserStatus {
        let current = self.inner.current.lock().ok().and_then(|c| c.clone());
        let pooled_pages = self.inner.pool.lock().map(|p| p.len()).unwrap_or(0);
        BrowserStatus {
            alive: current.as_ref().is_some_and(|b| b.is_alive()),
            pid: current.as_ref().map(|b| b.pid),
            generation: current.as_ref().map(|b| b.generation).unwrap_or(0),
            product: current.as_ref().map(|b| b.product.clone()),
            pooled_pages,
        }
    }

    /// Browser contexts open in the live browser (sessions plus pooled pages), as Chromium
    /// counts them: a released session shows here.
    pub async fn context_count(&self) -> Option<usize> {
        let browser = self
            .inner
            .current
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|b| b.is_alive())?;
        let all = protocol::GetBrowserContexts {};
        let v = browser.conn.exec(&all, Duration::from_secs(5)).await.ok()?;
        Some(v.browser_context_ids.len())
    }

    /// Kills the browser for good (server shutdown).
    pub async fn shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
        let pages: Vec<Page> = self
            .inner
            .pool
            .lock()
            .map(|mut p| p.drain(..).collect())
            .unwrap_or_default();
        drop(pages);
        let browser = self.inner.browser.lock().await.take();
        if let Some(b) = browser {
            b.kill_and_wait(Duration::from_secs(5)).await;
        }
    }
}

/// What an answer says when a hung tab was replaced.
const REPLACED: &str =
    "the tab was replaced by a blank one of the same session (cookies and storage kept)";

enum Recovered {
    /// The page answers: the timeout was the action's own (a slow site, a long wait).
    Responsive,
    /// Its script hogged the main thread and was terminated; it answers again.
    Stopped,
    /// Still no answer after terminating its script.
    Hung,
}

/// Whether the page's main thread answers a trivial script within `limit`. A ping killed by
/// a termination still pending (the script it was meant for had ended) is asked again.
async fn answers(page: &Page, limit: Duration) -> bool {
    let started = Instant::now();
    loop {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            return false;
        }
        let ping = protocol::Evaluate {
            expression: "1".into(),
            context_id: None,
            return_by_value: true,
            await_promise: false,
            timeout: u64::try_from(left.as_millis()).unwrap_or(u64::MAX),
        };
        match page.conn.exec_on(&page.session, &ping, left).await {
            Ok(_) => return true,
            Err(cdp::CdpError::Protocol { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(_) => return false,
        }
    }
}

/// After a timed-out action: is the page stuck, and can it be unstuck?
async fn recover(page: &Page) -> Recovered {
    if page.dead_reason().is_some() || answers(page, Duration::from_secs(1)).await {
        return Recovered::Responsive;
    }
    // Chromium answers this once the script is terminated; it is not waited for.
    let (conn, session) = (page.conn.clone(), page.session.clone());
    tokio::spawn(async move {
        let stop = protocol::TerminateExecution {};
        let _ = conn.exec_on(&session, &stop, Duration::from_secs(5)).await;
    });
    if answers(page, Duration::from_secs(3)).await {
        tracing::warn!(session = %page.session, "stopped a page script that hung its main thread");
        Recovered::Stopped
    } else {
        Recovered::Hung
    }
}

/// `fut` within `deadline`, else a timeout naming the action.
async fn within<T>(
    deadline: Duration,
    kind: &str,
    fut: impl std::future::Future<Output = Result<T, EngineError>>,
) -> Result<T, EngineError> {
    tokio::time::timeout(deadline, fut)
        .await
        .unwrap_or_else(|_| {
            Err(EngineError::Timeout(format!(
                "action `{kind}` timed out after {} ms",
                deadline.as_millis()
            )))
        })
}

/// Waits (at most 10 s) until an adopted tab has left about:blank and parsed its document, so
/// the next action does not race the navigation that opened it.
async fn wait_ready(tab: &Page) {
    let check = "function () { return location.href !== 'about:blank' && document.readyState !== 'loading'; }";
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(serde_json::Value::Bool(true)) =
                tab.eval(check, &serde_json::Value::Null).await
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    })
    .await;
}

/// Keeps `pool_size` ready pages on the live browser; relaunches a dead browser eagerly.
async fn pool_keeper(inner: std::sync::Weak<Inner>) {
    let mut deaths = match inner.upgrade() {
        Some(i) => i.deaths.subscribe(),
        None => return,
    };
    loop {
        let Some(strong) = inner.upgrade() else {
            return;
        };
        let engine = Engine { inner: strong };
        if engine.inner.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        if let Err(e) = fill_pool(&engine).await {
            tracing::warn!(%e, "pool refill failed; retrying");
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let notified = engine.inner.clone();
        drop(engine);
        tokio::select! {
            _ = notified.refill.notified() => {}
            _ = deaths.recv() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

async fn fill_pool(engine: &Engine) -> Result<(), EngineError> {
    loop {
        let browser = engine.browser().await?;
        let have = match engine.inner.pool.lock() {
            Ok(mut pool) => {
                pool.retain(|p| p.generation == browser.generation && p.dead_reason().is_none());
                pool.len()
            }
            Err(_) => return Ok(()),
        };
        if have >= engine.inner.cfg.pool_size {
            return Ok(());
        }
        let page = Page::create(&browser, &ContextOptions::default(), &engine.inner.env).await?;
        if let Ok(mut pool) = engine.inner.pool.lock() {
            pool.push(page);
            crate::telemetry::pool_size(pool.len());
        }
    }
}
