//! A session's page: its own incognito browser context with one tab, the tab's CDP session,
//! and a background task that answers the page's events (policy interception, dialogs,
//! console, isolated-world bookkeeping).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::browser::Browser;
use super::cdp::{CdpError, Connection, Event};
use super::policy::Policy;
use super::EngineError;

/// The isolated world our helper scripts run in: page scripts can neither see nor alter it.
pub const WORLD: &str = "pagepilot";
/// Entries kept per log (console, errors); older ones are dropped.
const LOG_CAP: usize = 500;
/// Deadline of one CDP call made by the engine.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// What every page of an engine shares.
#[derive(Clone)]
pub struct PageEnv {
    pub policy: Arc<Policy>,
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
}

impl PageState {
    pub fn push(log: &Mutex<VecDeque<LogEntry>>, level: &str, text: String) {
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
        let mut params = json!({ "disposeOnDetach": true });
        if let Some(p) = &ctx.proxy_server {
            params["proxyServer"] = json!(p);
            // Chromium bypasses proxies for loopback by default; the operator's proxy takes
            // every request of the session (the navigation policy still applies first).
            params["proxyBypassList"] = json!("<-loopback>");
        }
        let created = conn
            .call("Target.createBrowserContext", params, CALL_TIMEOUT)
            .await?;
        let context_id = str_field(&created, "browserContextId")?;
        let result = Self::open_tab(&conn, &context_id, env, browser.generation).await;
        if result.is_err() {
            let _ = conn
                .call(
                    "Target.disposeBrowserContext",
                    json!({ "browserContextId": context_id }),
                    CALL_TIMEOUT,
                )
                .await;
        }
        result
    }

    async fn open_tab(
        conn: &Connection,
        context_id: &str,
        env: &PageEnv,
        generation: u64,
    ) -> Result<Page, EngineError> {
        let target = conn
            .call(
                "Target.createTarget",
                json!({ "url": "about:blank", "browserContextId": context_id }),
                CALL_TIMEOUT,
            )
            .await?;
        let target_id = str_field(&target, "targetId")?;
        let attached = conn
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                CALL_TIMEOUT,
            )
            .await?;
        let session = str_field(&attached, "sessionId")?;
        conn.register_target(&session, &target_id);
        let events = conn.events(&session)?;

        let state = Arc::new(PageState::default());
        let task = tokio::spawn(event_loop(
            conn.clone(),
            session.clone(),
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

        let (w, h) = env.viewport;
        let setup = futures_util::future::try_join_all([
            page.call("Page.enable", json!({})),
            page.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true })),
            page.call("Runtime.enable", json!({})),
            page.call(
                "Fetch.enable",
                json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] }),
            ),
            page.call(
                "Page.addScriptToEvaluateOnNewDocument",
                json!({ "source": "", "worldName": WORLD }),
            ),
            page.call(
                "Page.createIsolatedWorld",
                json!({ "frameId": page.target_id, "worldName": WORLD }),
            ),
            page.call(
                "Emulation.setDeviceMetricsOverride",
                json!({ "width": w, "height": h, "deviceScaleFactor": 1, "mobile": false }),
            ),
            // Cross-site iframes run in their own targets: attach them paused so the policy
            // covers their requests from the first one.
            page.call(
                "Target.setAutoAttach",
                json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
            ),
        ])
        .await;
        if let Err(e) = setup {
            page.detach();
            return Err(e);
        }
        Ok(page)
    }

    /// Applies a session's options to a (possibly pooled) page.
    pub async fn apply(&self, opts: &PageOptions, stealth_ua: &str) -> Result<(), EngineError> {
        let (w, h) = opts.viewport;
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": w, "height": h, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await?;
        if opts.stealth {
            // Documented stealth profile: no navigator.webdriver, a real-browser UA and languages.
            futures_util::future::try_join(
                self.call(
                    "Emulation.setUserAgentOverride",
                    json!({ "userAgent": stealth_ua, "acceptLanguage": "en-US,en;q=0.9", "platform": "Linux x86_64" }),
                ),
                self.call(
                    "Page.addScriptToEvaluateOnNewDocument",
                    json!({ "source": include_str!("js/stealth.js") }),
                ),
            )
            .await?;
        }
        Ok(())
    }

    /// One CDP call on this page's session with the engine's default deadline.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value, EngineError> {
        Ok(self
            .conn
            .call_on(&self.session, method, params, CALL_TIMEOUT)
            .await?)
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
                .call(
                    "Runtime.evaluate",
                    json!({
                        "expression": expression,
                        "contextId": ctx,
                        "returnByValue": true,
                        "awaitPromise": true,
                        "timeout": CALL_TIMEOUT.as_millis() as u64,
                    }),
                )
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

    async fn world_context(&self, fresh: bool) -> Result<i64, EngineError> {
        if !fresh {
            if let Some(id) = self
                .state
                .worlds
                .lock()
                .ok()
                .and_then(|w| w.get(&self.target_id).copied())
            {
                return Ok(id);
            }
        }
        let created = self
            .call(
                "Page.createIsolatedWorld",
                json!({ "frameId": self.target_id, "worldName": WORLD }),
            )
            .await?;
        let id = created["executionContextId"].as_i64().ok_or_else(|| {
            EngineError::Internal("createIsolatedWorld returned no context".into())
        })?;
        if let Ok(mut w) = self.state.worlds.lock() {
            w.insert(self.target_id.clone(), id);
        }
        Ok(id)
    }

    /// Disposes the context (and so the tab and its renderer). Safe to call on a dead page.
    pub async fn close(&self) {
        self.task.abort();
        if self.conn.closed_reason().is_none() {
            let _ = self
                .conn
                .call(
                    "Target.disposeBrowserContext",
                    json!({ "browserContextId": self.context_id }),
                    Duration::from_secs(5),
                )
                .await;
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

fn str_field(v: &Value, key: &str) -> Result<String, EngineError> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| EngineError::Internal(format!("browser answer lacks `{key}`")))
}

/// Turns a `Runtime.evaluate` answer into the script's value or its thrown error.
pub fn script_value(res: Value) -> Result<Value, EngineError> {
    if let Some(ex) = res.get("exceptionDetails") {
        let msg = ex
            .pointer("/exception/description")
            .and_then(Value::as_str)
            .or_else(|| ex.get("text").and_then(Value::as_str))
            .unwrap_or("script threw");
        return Err(EngineError::Internal(format!(
            "script error: {}",
            msg.lines().next().unwrap_or(msg)
        )));
    }
    Ok(res.pointer("/result/value").cloned().unwrap_or(Value::Null))
}

/// Answers the page's events until the page goes away.
async fn event_loop(
    conn: Connection,
    session: String,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    state: Arc<PageState>,
    env: PageEnv,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(n, "page event loop lagged");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        handle_event(&conn, &session, ev, &state, &env.policy);
    }
    // The stream ends only when the target died (Page::close aborts this task first).
    let reason = conn
        .target_dead_reason(&session)
        .unwrap_or_else(|| "page target went away".into());
    tracing::warn!(%session, %reason, "page gone");
    let _ = env.gone.send(PageGone { session, reason });
}

fn handle_event(
    conn: &Connection,
    session: &str,
    ev: Event,
    state: &Arc<PageState>,
    policy: &Arc<Policy>,
) {
    let p = &ev.params;
    match ev.method.as_str() {
        "Fetch.requestPaused" => {
            let (conn, session, state, policy) = (
                conn.clone(),
                session.to_string(),
                state.clone(),
                policy.clone(),
            );
            let request_id = p["requestId"].as_str().unwrap_or_default().to_string();
            let url = p
                .pointer("/request/url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            tokio::spawn(async move {
                answer_paused(&conn, &session, &request_id, &url, &state, &policy).await
            });
        }
        "Runtime.consoleAPICalled" => {
            let text = p["args"]
                .as_array()
                .map(|args| {
                    args.iter()
                        .map(remote_object_text)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            PageState::push(&state.console, p["type"].as_str().unwrap_or("log"), text);
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| d["text"].as_str())
                .unwrap_or("uncaught exception")
                .to_string();
            PageState::push(&state.errors, "exception", text);
        }
        "Runtime.executionContextCreated" => {
            let c = &p["context"];
            if c["name"].as_str() == Some(WORLD) {
                if let (Some(frame), Some(id)) = (
                    c.pointer("/auxData/frameId").and_then(Value::as_str),
                    c["id"].as_i64(),
                ) {
                    if let Ok(mut w) = state.worlds.lock() {
                        w.insert(frame.to_string(), id);
                    }
                }
            }
        }
        "Runtime.executionContextDestroyed" => {
            if let (Some(id), Ok(mut w)) = (p["executionContextId"].as_i64(), state.worlds.lock()) {
                w.retain(|_, v| *v != id);
            }
        }
        "Runtime.executionContextsCleared" => {
            if let Ok(mut w) = state.worlds.lock() {
                w.clear();
            }
        }
        "Page.javascriptDialogOpening" => {
            // alert/confirm/prompt would block every script until answered: accept at once.
            let msg = format!(
                "{} dialog: {}",
                p["type"].as_str().unwrap_or("js"),
                p["message"].as_str().unwrap_or("")
            );
            PageState::push(&state.console, "dialog", msg);
            let (conn, session) = (conn.clone(), session.to_string());
            tokio::spawn(async move {
                let _ = conn
                    .call_on(
                        &session,
                        "Page.handleJavaScriptDialog",
                        json!({ "accept": true }),
                        CALL_TIMEOUT,
                    )
                    .await;
            });
        }
        "Target.attachedToTarget" => {
            let child = p["sessionId"].as_str().unwrap_or_default().to_string();
            let target = p
                .pointer("/targetInfo/targetId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (conn, state, policy) = (conn.clone(), state.clone(), policy.clone());
            tokio::spawn(async move { watch_child(conn, child, target, state, policy).await });
        }
        _ => {}
    }
}

/// A cross-site iframe or worker: enforce the policy on its requests too, then let it run.
async fn watch_child(
    conn: Connection,
    session: String,
    target: String,
    state: Arc<PageState>,
    policy: Arc<Policy>,
) {
    conn.register_target(&session, &target);
    let Ok(mut events) = conn.events(&session) else {
        return;
    };
    let enable = conn
        .call_on(
            &session,
            "Fetch.enable",
            json!({ "patterns": [{ "urlPattern": "*", "requestStage": "Request" }] }),
            CALL_TIMEOUT,
        )
        .await;
    if let Err(e) = enable {
        tracing::debug!(%e, "child target without Fetch");
    }
    let _ = conn
        .call_on(
            &session,
            "Target.setAutoAttach",
            json!({ "autoAttach": true, "waitForDebuggerOnStart": true, "flatten": true }),
            CALL_TIMEOUT,
        )
        .await;
    let _ = conn
        .call_on(
            &session,
            "Runtime.runIfWaitingForDebugger",
            json!({}),
            CALL_TIMEOUT,
        )
        .await;
    while let Ok(ev) = events.recv().await {
        if ev.method == "Fetch.requestPaused" || ev.method == "Target.attachedToTarget" {
            handle_event(&conn, &session, ev, &state, &policy);
        }
    }
    conn.unregister_target(&session);
}

async fn answer_paused(
    conn: &Connection,
    session: &str,
    request_id: &str,
    url: &str,
    state: &PageState,
    policy: &Policy,
) {
    let result = match policy.check_request(url).await {
        Ok(()) => {
            conn.call_on(
                session,
                "Fetch.continueRequest",
                json!({ "requestId": request_id }),
                CALL_TIMEOUT,
            )
            .await
        }
        Err(why) => {
            tracing::info!(%url, %why, "request refused by policy");
            if let Ok(mut b) = state.blocked.lock() {
                if b.len() >= LOG_CAP {
                    b.pop_front();
                }
                b.push_back(format!("{url}: {why}"));
            }
            PageState::push(
                &state.errors,
                "blocked",
                format!("request to {url} refused: {why}"),
            );
            conn.call_on(
                session,
                "Fetch.failRequest",
                json!({ "requestId": request_id, "errorReason": "BlockedByClient" }),
                CALL_TIMEOUT,
            )
            .await
        }
    };
    if let Err(e) = result {
        if !matches!(e, CdpError::TargetGone(_) | CdpError::Closed(_)) {
            tracing::debug!(%e, "answering a paused request failed");
        }
    }
}

fn remote_object_text(o: &Value) -> String {
    match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => o
            .get("description")
            .and_then(Value::as_str)
            .or_else(|| o.get("type").and_then(Value::as_str))
            .unwrap_or("")
            .to_string(),
    }
}
