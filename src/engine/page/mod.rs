//! A session's page: its own incognito browser context with one tab, the tab's CDP session,
//! its state, and how it is created, attached, configured and closed. `events` is the
//! background task that answers the page's events; `intercept` checks and rewrites its requests.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::browser::Browser;
use super::cdp::{CdpError, Connection, Event};
use super::egress::{Failures, NetError, NET_ERROR_HEADER};
use super::policy::Policy;
use super::protocol::*;
use super::EngineError;
use crate::exchange::{middleware, HttpRequest, Middleware};

mod events;
mod intercept;

use events::event_loop;

/// The isolated world our helper scripts run in: page scripts can neither see nor alter it.
pub const WORLD: &str = "pagepilot";
/// Entries kept per log (console, errors); older ones are dropped.
const LOG_CAP: usize = 500;
/// Characters kept of one log entry; the rest is cut, and the entry says by how much.
pub const LOG_ENTRY_CAP: usize = 8 * 1024;
/// Dialogs a page may open within [`DIALOG_STORM_WINDOW`] before its tab counts as hogged
/// (an alert loop; no page a person uses opens that many). A script sitting in a dialog can
/// neither be terminated nor run anything of ours, so the tab is replaced (Engine::run_on).
const DIALOG_STORM: usize = 20;
const DIALOG_STORM_WINDOW: Duration = Duration::from_secs(10);
/// Deadline of one CDP call made by the engine.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What every page of an engine shares.
#[derive(Clone)]
pub struct PageEnv {
    pub policy: Arc<Policy>,
    /// The egress proxy's recent connection failures, to name them to the agent.
    pub failures: Arc<Failures>,
    pub viewport: (u32, u32),
    /// Told when a page's target goes away without being closed on purpose.
    pub gone: tokio::sync::broadcast::Sender<PageGone>,
}

/// A page whose target went away (renderer crash, detach, browser death).
#[derive(Debug, Clone)]
pub struct PageGone {
    /// The page's CDP session id ([`Page::session`]).
    pub session: String,
    pub reason: String,
}

/// What a new context is created with.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// Upstream proxy for every request of this context, e.g. `http://proxy:3128`.
    pub proxy_server: Option<String>,
}

/// What is applied to a page when a session takes it.
#[derive(Debug, Clone)]
pub struct PageOptions {
    pub viewport: (u32, u32),
    pub stealth: bool,
    /// A user agent of the client's choosing (wins over the stealth profile's).
    pub user_agent: Option<String>,
    /// Middleware for every document request of the main frame (WebSocket sessions).
    pub middleware: Vec<Middleware>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LogEntry {
    pub level: String,
    pub text: String,
    pub timestamp: DateTime<Utc>,
}

/// State the page's event task keeps up to date.
#[derive(Default)]
pub struct PageState {
    pub console: Mutex<VecDeque<LogEntry>>,
    pub errors: Mutex<VecDeque<LogEntry>>,
    /// Requests refused by the navigation policy, newest last (also logged under `errors`).
    pub blocked: Mutex<VecDeque<String>>,
    /// Last mouse position we dispatched, in CSS pixels.
    pub mouse: Mutex<(f64, f64)>,
    /// frameId -> execution context id of our isolated world in that frame.
    worlds: Mutex<HashMap<String, i64>>,
    /// The world (execution context id) each kept function was installed in (`eval_kept`).
    kept: Mutex<HashMap<String, i64>>,
    /// What each agent id of the last observe does when stepped on.
    pub kinds: Mutex<HashMap<String, action_space::Kind>>,
    /// The role and accessible name each id had in the last observe: a step on an id whose
    /// element has since become something else is refused as stale.
    pub signatures: Mutex<HashMap<String, (String, String)>>,
    /// The target id of a tab the last click opened (`target=_blank`, `window.open`), for
    /// the tab set to adopt once the action is done.
    pub opened_tab: Mutex<Option<String>>,
    /// What the last observe showed, for the next one's `changes`.
    pub seen: Mutex<Option<action_space::changes::Seen>>,
    /// How the main frame's document requests are rewritten (WebSocket sessions).
    pub rewrites: Mutex<Rewrites>,
    /// Network events are on (only pages that report exchanges pay for them).
    pub network_on: std::sync::atomic::AtomicBool,
    /// When the last dialogs opened (at most DIALOG_STORM + 1 kept).
    dialogs: Mutex<VecDeque<std::time::Instant>>,
    /// Why this tab can no longer be used (a dialog storm): the next action replaces it first.
    pub hogged: Mutex<Option<String>>,
    /// The egress proxy's recent connection failures (shared by every page).
    pub net_failures: Arc<Failures>,
    /// How fast the page logs (a console storm is limited, then stopped).
    console_rate: super::console_storm::ConsoleRate,
}

/// Rewrites of the main frame's document requests: the session's middleware on every one, and
/// the request of the goto in flight on its first hop.
#[derive(Default)]
pub struct Rewrites {
    pub middleware: Vec<Middleware>,
    pub pending: Option<PendingGoto>,
    /// A URL answered with an empty document of ours (restoring a profile's storage).
    pub stub: Option<String>,
}

/// A goto that sends a request of the client's making (seed 004's goto frame).
pub struct PendingGoto {
    pub request: HttpRequest,
    pub max_redirects: usize,
    /// Redirect hops seen so far.
    pub hops: usize,
    /// Set when a hop past `max_redirects` was refused.
    pub too_many: bool,
}

impl PageState {
    /// Records a dialog; true when the page opened more than [`DIALOG_STORM`] of them within
    /// [`DIALOG_STORM_WINDOW`].
    fn dialog_storm(&self) -> bool {
        let Ok(mut d) = self.dialogs.lock() else {
            return false;
        };
        let now = std::time::Instant::now();
        d.push_back(now);
        while d.len() > DIALOG_STORM + 1 {
            d.pop_front();
        }
        d.len() > DIALOG_STORM
            && d.front()
                .is_some_and(|first| now.duration_since(*first) < DIALOG_STORM_WINDOW)
    }

    pub fn push(log: &Mutex<VecDeque<LogEntry>>, level: &str, mut text: String) {
        if text.len() > LOG_ENTRY_CAP {
            let mut end = LOG_ENTRY_CAP;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let cut = text.len() - end;
            text.truncate(end);
            text.push_str(&format!("… [{cut} more bytes cut]"));
        }
        if let Ok(mut l) = log.lock() {
            if l.len() >= LOG_CAP {
                l.pop_front();
            }
            l.push_back(LogEntry {
                level: level.to_string(),
                text,
                timestamp: Utc::now(),
            });
        }
    }
}

pub struct Page {
    pub conn: Connection,
    pub generation: u64,
    pub context_id: String,
    pub target_id: String,
    pub session: String,
    pub state: Arc<PageState>,
    task: tokio::task::JoinHandle<()>,
}

impl Page {
    /// Creates a fresh context with one blank tab, attached and ready for actions.
    pub async fn create(
        browser: &Browser,
        ctx: &ContextOptions,
        env: &PageEnv,
    ) -> Result<Page, EngineError> {
        let conn = browser.conn.clone();
        let create = CreateBrowserContext {
            dispose_on_detach: true,
            proxy_server: ctx.proxy_server.clone(),
            // Chromium bypasses proxies for loopback by default; the operator's proxy takes
            // every request of the session (the navigation policy still applies first).
            proxy_bypass_list: ctx.proxy_server.as_ref().map(|_| "<-loopback>".to_string()),
        };
        let context_id = conn.exec(&create, CALL_TIMEOUT).await?.browser_context_id;
        let result = Self::open_tab(&conn, &context_id, env, browser.generation).await;
        if result.is_err() {
            let dispose = DisposeBrowserContext {
                browser_context_id: context_id,
            };
            let _ = conn.exec(&dispose, CALL_TIMEOUT).await;
        }
        result
    }

    /// Opens another tab in this page's context (a session's second tab).
    pub(crate) async fn new_tab(&self, env: &PageEnv) -> Result<Page, EngineError> {
        Self::open_tab(&self.conn, &self.context_id, env, self.generation).await
    }

    /// Takes over a tab the page opened itself (a `target=_blank` link, `window.open`).
    pub(super) async fn adopt(&self, target_id: &str, env: &PageEnv) -> Result<Page, EngineError> {
        Self::attach(
            &self.conn,
            &self.context_id,
            target_id.to_string(),
            env,
            self.generation,
        )
        .await
    }

    /// Closes this tab only; the context and the session's other tabs live on.
    pub(super) async fn close_tab(&self) {
        self.task.abort();
        let close = CloseTarget {
            target_id: self.target_id.clone(),
        };
        let _ = self.conn.exec(&close, Duration::from_secs(5)).await;
        self.conn.unregister_target(&self.session);
    }

    /// Ends a hung tab for good: its renderer is killed (a busy main thread cannot be asked to
    /// close) and the target closed. Its death is expected, so nobody is told it crashed.
    pub(crate) async fn kill_tab(&self) {
        self.task.abort();
        // The renderer dies before it can answer; its crash event marks the target dead. Wait
        // for that (briefly), so a new tab of the same site cannot land in the dying process.
        let _ = self
            .conn
            .exec_on(&self.session, &CrashPage {}, Duration::from_millis(200))
            .await;
        for _ in 0..40 {
            if self.dead_reason().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let close = CloseTarget {
            target_id: self.target_id.clone(),
        };
        let _ = self.conn.exec(&close, Duration::from_secs(5)).await;
        self.conn.unregister_target(&self.session);
    }

    /// Title and URL as the browser knows them (no round trip to the renderer).
    pub async fn info(&self) -> (String, String) {
        let ask = GetTargetInfo {
            target_id: self.target_id.clone(),
        };
        match self.conn.exec(&ask, Duration::from_secs(5)).await {
            Ok(a) => (a.target_info.title, a.target_info.url),
            Err(_) => (String::new(), String::new()),
        }
    }

    async fn open_tab(
        conn: &Connection,
        context_id: &str,
        env: &PageEnv,
        generation: u64,
    ) -> Result<Page, EngineError> {
        let create = CreateTarget {
            url: "about:blank".into(),
            browser_context_id: context_id.to_string(),
        };
        let target_id = conn.exec(&create, CALL_TIMEOUT).await?.target_id;
        Self::attach(conn, context_id, target_id, env, generation).await
    }

    async fn attach(
        conn: &Connection,
        context_id: &str,
        target_id: String,
        env: &PageEnv,
        generation: u64,
    ) -> Result<Page, EngineError> {
        let attach = AttachToTarget {
            target_id: target_id.clone(),
            flatten: true,
        };
        let session = conn.exec(&attach, CALL_TIMEOUT).await?.session_id;
        conn.register_target(&session, &target_id);
        let events = conn.events(&session)?;

        let state = Arc::new(PageState {
            net_failures: env.failures.clone(),
            ..PageState::default()
        });
        let task = tokio::spawn(event_loop(
            conn.clone(),
            session.clone(),
            target_id.clone(),
            events,
            state.clone(),
            env.clone(),
        ));
        let page = Page {
            conn: conn.clone(),
            generation,
            context_id: context_id.to_string(),
            target_id,
            session,
            state,
            task,
        };

        let fetch = FetchEnable::all_requests();
        let world_script = AddScriptToEvaluateOnNewDocument {
            source: String::new(),
            world_name: Some(WORLD.into()),
        };
        let world = CreateIsolatedWorld {
            frame_id: page.target_id.clone(),
            world_name: WORLD.into(),
        };
        let metrics = viewport(env.viewport);
        // Cross-site iframes run in their own targets: attach them paused so the policy
        // covers their requests from the first one.
        let auto_attach = SetAutoAttach {
            auto_attach: true,
            wait_for_debugger_on_start: true,
            flatten: true,
        };
        let setup = async {
            tokio::try_join!(
                page.exec(&PageEnable {}),
                page.exec(&SetLifecycleEventsEnabled { enabled: true }),
                page.exec(&RuntimeEnable {}),
                page.exec(&fetch),
                page.exec(&world_script),
                page.exec(&world),
                page.exec(&metrics),
                page.exec(&auto_attach),
            )
        };
        if let Err(e) = setup.await {
            page.detach();
            return Err(e);
        }
        Ok(page)
    }

    /// Applies a session's options to a (possibly pooled) page.
    pub async fn apply(&self, opts: &PageOptions, stealth_ua: &str) -> Result<(), EngineError> {
        self.exec(&viewport(opts.viewport)).await?;
        if let Ok(mut r) = self.state.rewrites.lock() {
            r.middleware = opts.middleware.clone();
        }
        if let Some(ua) = opts.user_agent.as_ref().filter(|_| !opts.stealth) {
            let ua = SetUserAgentOverride {
                user_agent: ua.clone(),
                accept_language: String::new(),
                platform: String::new(),
            };
            self.exec(&ua).await?;
        }
        if opts.stealth {
            // Documented stealth profile: no navigator.webdriver, a real-browser UA and languages.
            let ua = SetUserAgentOverride {
                user_agent: opts
                    .user_agent
                    .clone()
                    .unwrap_or_else(|| stealth_ua.to_string()),
                accept_language: "en-US,en;q=0.9".into(),
                platform: "Linux x86_64".into(),
            };
            let script = AddScriptToEvaluateOnNewDocument {
                source: include_str!("../js/stealth.js").into(),
                world_name: None,
            };
            tokio::try_join!(self.exec(&ua), self.exec(&script))?;
        }
        Ok(())
    }

    /// Runs one CDP command on this page's session with the engine's default deadline.
    pub async fn exec<C: Command>(&self, cmd: &C) -> Result<C::Returns, EngineError> {
        Ok(self.conn.exec_on(&self.session, cmd, CALL_TIMEOUT).await?)
    }

    /// Why this page can no longer be used, if it cannot.
    pub fn dead_reason(&self) -> Option<String> {
        self.conn.target_dead_reason(&self.session)
    }

    /// Subscribes to this page's events (before the command whose event you await).
    pub fn events(&self) -> Result<tokio::sync::broadcast::Receiver<Event>, EngineError> {
        Ok(self.conn.events(&self.session)?)
    }

    /// Runs `function_source` (a JS function expression) with `arg` in our isolated world of the
    /// main frame and returns its JSON value. A thrown error comes back as an error.
    pub async fn eval(&self, function_source: &str, arg: &Value) -> Result<Value, EngineError> {
        let expression = format!("({function_source})({arg})");
        for attempt in 0..2 {
            let ctx = self.world_context(attempt > 0).await?;
            let res = self
                .exec(&Evaluate {
                    expression: expression.clone(),
                    context_id: Some(ctx),
                    return_by_value: true,
                    await_promise: true,
                    timeout: CALL_TIMEOUT.as_millis() as u64,
                })
                .await;
            match res {
                // The world died with its document (navigation): make a new one and retry once.
                Err(EngineError::Internal(msg)) if attempt == 0 && msg.contains("context") => {
                    continue
                }
                other => return script_value(other?),
            }
        }
        Err(EngineError::Internal("isolated world unavailable".into()))
    }

    /// Like [`Page::eval`] for a function run again and again on the same document (the
    /// collector): the function is kept in our world under `name` and called from there, so
    /// V8 runs the code it optimised on the calls before instead of a fresh closure
    /// (measured: 15-20 % off an observe of a 1,400-element page, 5 % at 14,000). The world
    /// dies with its document, and the function with it.
    ///
    /// Once installed in the current world it is called by name: its source (the collector's
    /// is ~40 KB) crosses CDP and is parsed once per document, not per call (1.4 ms of a
    /// small page's 4.5 ms observe, measured). A world that turns out not to have it (a new
    /// one made on the way) answers a marker, and the source is sent.
    pub async fn eval_kept(
        &self,
        name: &str,
        function_source: &str,
        arg: &Value,
    ) -> Result<Value, EngineError> {
        const NOT_KEPT: &str = "__pagepilot_not_kept__";
        let world = self.current_world();
        let kept_here = world.is_some()
            && self
                .state
                .kept
                .lock()
                .ok()
                .is_some_and(|k| k.get(name).copied() == world);
        if kept_here {
            let by_name = format!("(globalThis.{name} || (() => '{NOT_KEPT}'))");
            let v = self.eval(&by_name, arg).await?;
            if v != NOT_KEPT {
                return Ok(v);
            }
        }
        let kept = format!("(globalThis.{name} || (globalThis.{name} = ({function_source})))");
        let v = self.eval(&kept, arg).await?;
        if let (Some(w), Ok(mut k)) = (self.current_world(), self.state.kept.lock()) {
            k.insert(name.to_string(), w);
        }
        Ok(v)
    }

    /// Our world's execution context in the main frame, if one was made.
    fn current_world(&self) -> Option<i64> {
        self.state
            .worlds
            .lock()
            .ok()
            .and_then(|w| w.get(&self.target_id).copied())
    }

    /// Like [`Page::eval`], answering a reference to the value (an element, for a DOM
    /// command) instead of the value; `None` for null or undefined.
    pub async fn eval_ref(
        &self,
        function_source: &str,
        arg: &Value,
    ) -> Result<Option<String>, EngineError> {
        let ctx = self.world_context(false).await?;
        let res = self
            .exec(&EvaluateRef {
                expression: format!("({function_source})({arg})"),
                context_id: Some(ctx),
                timeout: CALL_TIMEOUT.as_millis() as u64,
            })
            .await?;
        if res.exception_details.is_some() {
            return Err(EngineError::Internal(
                "script error while finding the element".into(),
            ));
        }
        Ok(res.result.object_id)
    }

    /// Runs `expression` in the page's own (main) world and returns its JSON value.
    pub async fn eval_main(&self, expression: &str) -> Result<Value, EngineError> {
        let res = self
            .exec(&Evaluate {
                expression: expression.to_string(),
                context_id: None,
                return_by_value: true,
                await_promise: true,
                timeout: CALL_TIMEOUT.as_millis() as u64,
            })
            .await?;
        script_value(res).map_err(|e| match e {
            // The page's script threw: that is the caller's script, not our failure.
            EngineError::Internal(m) => EngineError::BadInput(m),
            other => other,
        })
    }

    async fn world_context(&self, fresh: bool) -> Result<i64, EngineError> {
        if !fresh {
            if let Some(id) = self.current_world() {
                return Ok(id);
            }
        }
        let world = CreateIsolatedWorld {
            frame_id: self.target_id.clone(),
            world_name: WORLD.into(),
        };
        let id = self.exec(&world).await?.execution_context_id;
        if let Ok(mut w) = self.state.worlds.lock() {
            w.insert(self.target_id.clone(), id);
        }
        Ok(id)
    }

    /// Disposes the context (and so the tab and its renderer). Safe to call on a dead page.
    pub async fn close(&self) {
        self.task.abort();
        if self.conn.closed_reason().is_none() {
            let dispose = DisposeBrowserContext {
                browser_context_id: self.context_id.clone(),
            };
            let _ = self.conn.exec(&dispose, Duration::from_secs(5)).await;
        }
        self.conn.unregister_target(&self.session);
    }

    fn detach(&self) {
        self.task.abort();
        self.conn.unregister_target(&self.session);
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn viewport((width, height): (u32, u32)) -> SetDeviceMetricsOverride {
    SetDeviceMetricsOverride {
        width,
        height,
        device_scale_factor: 1.0,
        mobile: false,
    }
}

/// Turns a `Runtime.evaluate` answer into the script's value or its thrown error.
pub fn script_value(res: Evaluated) -> Result<Value, EngineError> {
    if let Some(ex) = res.exception_details {
        let msg = ex.exception.and_then(|e| e.description).unwrap_or(ex.text);
        let first = msg.lines().next().unwrap_or("script threw");
        return Err(EngineError::Internal(format!("script error: {first}")));
    }
    Ok(res.result.value)
}
