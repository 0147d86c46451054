//! MCP, the fourth protocol (issue 14): tools over the same sessions and engine actions as
//! the other three, served over streamable HTTP at `/mcp` (behind the same bearer tokens) and
//! over stdio by `pagepilot mcp`. Each tool translates its input (`mcp_args`) to a session
//! call or an engine action and its answer to MCP content; errors come back as tool errors
//! (`isError`) with the messages the other protocols give.
//!
//! Sessions outlive MCP connections: every tool takes an optional `session_id`; without one it
//! uses the caller's current session (started on first use). "The caller" is the MCP
//! connection where there is one (stdio, and HTTP clients of the session-keeping protocol
//! versions, by their `Mcp-Session-Id`), else the tenant: the 2026-07-28 protocol has no
//! connections, so over it agents sharing a tenant should pass `session_id`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rmcp::handler::server::common::schema_for_input;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value};

use super::agent_wire::{action_error_message, session_view, step_action, StartBody};
use super::mcp_args as args;
use super::AppState;
use crate::engine::actions::observe::ObserveOptions;
use crate::engine::actions::{ActionOutput, Goto, Outcome, Scrape, Screenshot};
use crate::engine::tabs::{CloseTab, NewTab, SwitchTab};
use crate::engine::{Action, EngineError};
use crate::sessions::{ActionRequest, ActionResult, Route, SessionError, Status};

/// The protocol label of sessions MCP starts (metrics, records).
const API: &str = "mcp";
/// An observation's default character budget (listing and page text each): with the changes
/// section it stays well inside 25,000 tokens (100,000 characters at 4 per token), the
/// tool-result limit MCP clients commonly apply.
const DEFAULT_MAX_CHARS: u64 = 20_000;
/// Sessions one `session_list` answers at most.
const LIST_LIMIT: usize = 100;
/// Longest session id a tool accepts (ours are ~40 characters).
const MAX_ID_LEN: usize = 200;
/// Longest text file `files` reads back (the rest is for HTTP).
const MAX_FILE_TEXT: usize = 100_000;
/// Callers whose current session is remembered; past it the oldest is forgotten.
const MAX_CALLERS: usize = 10_000;

/// Who calls a tool: the HTTP layer authenticates each request and puts this in its
/// extensions; stdio has one fixed caller.
#[derive(Debug, Clone)]
pub struct McpCaller {
    pub tenant: String,
    /// The bearer token, for a call forwarded to the instance holding the session.
    pub token: Option<String>,
    /// The MCP connection (`Mcp-Session-Id`), when the protocol version has one.
    pub connection: Option<String>,
    /// Set on a call another instance forwarded here: it is never forwarded again.
    pub forwarded: bool,
}

/// A caller: its tenant and MCP connection.
type CallerKey = (String, Option<String>);

/// Each caller's current session, capped at [`MAX_CALLERS`].
#[derive(Default)]
pub struct CurrentSessions {
    inner: Mutex<Remembered>,
}

#[derive(Default)]
struct Remembered {
    /// The session id and when it was set (a tick of `clock`).
    by_caller: HashMap<CallerKey, (String, u64)>,
    clock: u64,
}

impl CurrentSessions {
    fn key(c: &McpCaller) -> CallerKey {
        (c.tenant.clone(), c.connection.clone())
    }

    fn get(&self, c: &McpCaller) -> Option<String> {
        let g = self.inner.lock().ok()?;
        g.by_caller.get(&Self::key(c)).map(|(id, _)| id.clone())
    }

    fn set(&self, c: &McpCaller, id: &str) {
        let Ok(mut g) = self.inner.lock() else { return };
        g.clock = g.clock.wrapping_add(1);
        let tick = g.clock;
        let key = Self::key(c);
        if g.by_caller.len() >= MAX_CALLERS && !g.by_caller.contains_key(&key) {
            let oldest = g
                .by_caller
                .iter()
                .min_by_key(|(_, (_, t))| *t)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                g.by_caller.remove(&k);
            }
        }
        g.by_caller.insert(key, (id.to_string(), tick));
    }

    fn forget(&self, c: &McpCaller, id: &str) {
        if let Ok(mut g) = self.inner.lock() {
            let key = Self::key(c);
            if g.by_caller.get(&key).is_some_and(|(cur, _)| cur == id) {
                g.by_caller.remove(&key);
            }
        }
    }
}

/// A tool's failure: its text is what the agent reads.
#[derive(Debug)]
pub struct ToolError(pub String);

impl From<super::errors::ApiError> for ToolError {
    fn from(e: super::errors::ApiError) -> Self {
        ToolError(e.message)
    }
}

fn session_error(e: SessionError) -> ToolError {
    match e {
        SessionError::Action { error, .. } => ToolError(error.to_string()),
        other => ToolError::from(super::errors::session_failure(other)),
    }
}

/// How a handler learns its caller.
#[derive(Clone)]
enum Identity {
    /// From each HTTP request's extensions ([`McpCaller`], put there by `/mcp`'s auth layer).
    PerRequest,
    /// stdio: one caller for the process.
    Fixed(McpCaller),
}

/// The MCP server: one per stdio process, one per request or MCP session over HTTP.
#[derive(Clone)]
pub struct McpTools {
    st: AppState,
    identity: Identity,
    current: Arc<CurrentSessions>,
}

impl McpTools {
    /// Over HTTP: the caller comes with each request.
    pub fn http(st: AppState, current: Arc<CurrentSessions>) -> Self {
        Self {
            st,
            identity: Identity::PerRequest,
            current,
        }
    }

    /// Over stdio: every call is `tenant`'s.
    pub fn fixed(st: AppState, tenant: &str) -> Self {
        Self {
            st,
            identity: Identity::Fixed(McpCaller {
                tenant: tenant.to_string(),
                token: None,
                connection: None,
                forwarded: false,
            }),
            current: Arc::new(CurrentSessions::default()),
        }
    }

    fn caller(&self, ctx: &RequestContext<RoleServer>) -> Option<McpCaller> {
        match &self.identity {
            Identity::Fixed(c) => Some(c.clone()),
            Identity::PerRequest => ctx
                .extensions
                .get::<axum::http::request::Parts>()
                .and_then(|p| p.extensions.get::<McpCaller>())
                .cloned(),
        }
    }
}

/// Every tool's name (the metrics' labels).
const TOOL_NAMES: [&str; 10] = [
    "session_start",
    "session_list",
    "session_stop",
    "observe",
    "step",
    "act",
    "scrape",
    "screenshot",
    "tabs",
    "files",
];

/// The tools, each with its input schema and a description written for a model.
pub fn tools() -> &'static [Tool] {
    static TOOLS: OnceLock<Vec<Tool>> = OnceLock::new();
    TOOLS.get_or_init(|| {
        let mut v = Vec::new();
        let mut add = |name: &'static str, description: &'static str, schema: Result<Arc<_>, String>| {
            match schema {
                Ok(s) => v.push(Tool::new(name, description, s)),
                Err(e) => tracing::error!(tool = name, %e, "tool schema not generated"),
            }
        };
        add("session_start",
            "Start a browser session (a fresh Chromium profile) and make it this connection's current one. \
             Options are optional: idle_timeout_minutes, max_duration_minutes, max_steps, viewport_width/height, user_agent, \
             profile (a saved profile's name: the session starts signed in where it was). Answers the session with its session_id.",
            schema_for_input::<StartBody>());
        add("session_list", "List this tenant's sessions (active and recently ended), newest first.",
            schema_for_input::<args::Nothing>());
        add("session_stop", "Stop a session (default: the current one) and close its browser.",
            schema_for_input::<args::SessionOnly>());
        add("observe",
            "Read the page as a person sees it: a numbered list of what can be done (links L1.., buttons B1.., inputs I1.., \
             browser actions S1..S12) and the page's text as markdown, with what changed since the last observe. \
             Give `url` to go there first. Then call `step` with an id.",
            schema_for_input::<args::Observe>());
        add("step",
            "Do one action from the last observe by its id: click a link or button, type `value` into an input, choose an \
             option, check a box, or a browser action (S1 goto URL, S3 back, S8 press key, S10 scroll down, ...). Answers the page after it.",
            schema_for_input::<args::Step>());
        add("act",
            "Run one deterministic browser action by CSS selector, as the REST API does: e.g. {type: \"goto\", payload: {url}}, \
             {type: \"click\", payload: {selector}}, {type: \"fill\", payload: {selector, value}}, \
             {type: \"wait_for_selector\", payload: {selector}}, {type: \"press\", payload: {key}}, \
             {type: \"save_profile\", payload: {name}} (keep the session's cookies and storage, e.g. after signing in, \
             for session_start's profile). Answers the action's result.",
            schema_for_input::<args::Act>());
        add("scrape", "Read the page (or one element) as markdown. Give `url` to go there first.",
            schema_for_input::<args::Scrape>());
        add("screenshot", "A PNG of the viewport (or the whole page).",
            schema_for_input::<args::Screenshot>());
        add("tabs", "List the session's tabs, or open (new + url), switch to or close one (by index).",
            schema_for_input::<args::Tabs>());
        add("files",
            "List the session's files: what it downloaded, the PDFs it printed (act pdf), what was uploaded to it. \
             Give `name` to read a text file (up to 100,000 characters), or `name` and `content_base64` to store a \
             file, then set it on a file input with act {type: \"upload\", payload: {selector, files: [name]}}.",
            schema_for_input::<args::Files>());
        v
    })
}

/// A tool's input as its type; the error names the field and the tool.
fn parse<T: DeserializeOwned>(
    tool: &str,
    input: Option<Map<String, Value>>,
) -> Result<T, ToolError> {
    let v = Value::Object(input.unwrap_or_default());
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ToolError(format!("invalid {tool} input: {inner}"))
        } else {
            ToolError(format!("invalid {tool} input: {path}: {inner}"))
        }
    })
}

/// A JSON answer as text (what a model reads) and as structured content.
fn json_answer(v: Value) -> CallToolResult {
    let text = serde_json::to_string_pretty(&v).unwrap_or_default();
    let mut r = CallToolResult::success(vec![ContentBlock::text(text)]);
    if v.is_object() {
        r.structured_content = Some(v);
    }
    r
}

impl McpTools {
    async fn call(
        &self,
        caller: &McpCaller,
        name: &str,
        input: Option<Map<String, Value>>,
    ) -> Result<CallToolResult, ToolError> {
        match name {
            "session_start" => {
                let rec = self.start(caller, parse(name, input)?).await?;
                Ok(json_answer(session_view(&rec)))
            }
            "session_list" => {
                let _: args::Nothing = parse(name, input)?;
                let page = self
                    .st
                    .sessions
                    .list_page(&caller.tenant, 0, LIST_LIMIT)
                    .await
                    .map_err(session_error)?;
                let items: Vec<Value> = page.items.iter().map(session_view).collect();
                Ok(json_answer(
                    json!({ "sessions": items, "total": page.total, "active": page.active }),
                ))
            }
            "session_stop" => {
                let a: args::SessionOnly = parse(name, input.clone())?;
                let Some(id) = a.session_id.or_else(|| self.current.get(caller)) else {
                    return Err(ToolError("no session to stop: give session_id".into()));
                };
                let id = checked_id(id)?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                self.current.forget(caller, &id);
                let rec = match self.st.sessions.close(&caller.tenant, &id).await {
                    Ok(r) => r,
                    // Stop is idempotent, as on the agent API.
                    Err(SessionError::NotActive(rec)) => *rec,
                    Err(e) => return Err(session_error(e)),
                };
                Ok(json_answer(session_view(&rec)))
            }
            "observe" => {
                let a: args::Observe = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                // A `url` is visited first (same turn); when that fails, its error is the answer.
                let first = a.url.clone().map(|url| (goto(url), None));
                self.observation(caller, &id, &a, first).await
            }
            "step" => {
                let a: args::Step = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                let action = step_action(&a.action_id, a.value.clone(), a.enter.unwrap_or(false))?;
                let first = Some((action, Some(a.action_id.as_str())));
                self.observation(caller, &id, &args::Observe::default(), first)
                    .await
            }
            "act" => {
                let a: args::Act = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                let action =
                    Action::from_parts(&a.kind, Value::Object(a.payload.unwrap_or_default()))
                        .map_err(|e| ToolError(format!("invalid act input: {e}")))?;
                let done = self.run(caller, &id, action, false).await?;
                Ok(output_answer(&id, &a.kind, done.output))
            }
            "scrape" => {
                let a: args::Scrape = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                if let Some(url) = a.url {
                    self.run(caller, &id, goto(url), false).await?;
                }
                let scrape = Scrape {
                    selector: a.selector,
                    only_main_content: a.only_main_content.unwrap_or(true),
                    ..Scrape::default()
                };
                let done = self.run(caller, &id, Action::Scrape(scrape), false).await?;
                let md = match &done.output.result {
                    Outcome::Scraped(s) => s.markdown.as_str(),
                    _ => "",
                };
                Ok(CallToolResult::success(vec![ContentBlock::text(format!(
                    "session_id: {id}\n\n{md}"
                ))]))
            }
            "screenshot" => {
                let a: args::Screenshot = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                let shot = Screenshot {
                    full_page: a.full_page.unwrap_or(false),
                };
                let done = self
                    .run(caller, &id, Action::Screenshot(shot), false)
                    .await?;
                Ok(output_answer(&id, "screenshot", done.output))
            }
            "tabs" => {
                let a: args::Tabs = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                let index = |what: &str| -> Result<Option<usize>, ToolError> {
                    a.index
                        .map(|i| {
                            usize::try_from(i)
                                .map_err(|_| ToolError(format!("{what}: no tab has index {i}")))
                        })
                        .transpose()
                };
                let action = match a.action.unwrap_or_default() {
                    args::TabOp::List => Action::ListTabs(Default::default()),
                    args::TabOp::New => Action::NewTab(NewTab {
                        url: a
                            .url
                            .clone()
                            .ok_or_else(|| ToolError("tabs new needs `url`".into()))?,
                    }),
                    args::TabOp::Switch => Action::SwitchTab(SwitchTab {
                        index: index("index")?
                            .ok_or_else(|| ToolError("tabs switch needs `index`".into()))?,
                    }),
                    args::TabOp::Close => Action::CloseTab(CloseTab {
                        index: index("index")?,
                    }),
                };
                let done = self.run(caller, &id, action, false).await?;
                let tabs = done.output.news.tabs.unwrap_or_default();
                Ok(json_answer(json!({ "session_id": id, "tabs": tabs })))
            }
            "files" => {
                let a: args::Files = parse(name, input.clone())?;
                let id = self.session(caller, a.session_id.clone()).await?;
                if let Some(r) = self.elsewhere(caller, &id, name, input).await {
                    return r;
                }
                let files = self
                    .st
                    .sessions
                    .files(&caller.tenant, &id)
                    .await
                    .map_err(session_error)?;
                let Some(file) = a.name else {
                    if a.content_base64.is_some() {
                        return Err(ToolError(
                            "invalid files input: content_base64 needs a `name`".into(),
                        ));
                    }
                    return Ok(json_answer(
                        json!({ "session_id": id, "files": files.list() }),
                    ));
                };
                if let Some(b64) = a.content_base64 {
                    use base64::Engine as _;
                    let bytes = base64::engine::general_purpose::STANDARD
                        .decode(b64.as_bytes())
                        .map_err(|e| {
                            ToolError(format!("invalid files input: content_base64: {e}"))
                        })?;
                    let entry = files.put(&file, bytes, "upload").await?;
                    return Ok(json_answer(json!({ "session_id": id, "file": entry })));
                }
                let (entry, bytes) = files.read(&file).await?;
                let text = match String::from_utf8(bytes) {
                    Ok(t) if entry.mime_type.starts_with("text/") || entry.mime_type == "application/json" => t,
                    _ => {
                        return Err(ToolError(format!(
                            "`{file}` is {} ({} bytes), not text: fetch it over HTTP (GET /v1/sessions/{id}/files/{file})",
                            entry.mime_type, entry.size
                        )))
                    }
                };
                if text.chars().count() > MAX_FILE_TEXT {
                    return Err(ToolError(format!(
                        "`{file}` holds more than {MAX_FILE_TEXT} characters: fetch it over HTTP (GET /v1/sessions/{id}/files/{file})"
                    )));
                }
                Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
            }
            other => Err(ToolError(format!(
                "unknown tool `{other}`; tools: {}",
                tools()
                    .iter()
                    .map(|t| t.name.as_ref())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// The session a call works on: the one it names, else the caller's current one (a new
    /// one when it has none or that one has ended).
    async fn session(
        &self,
        caller: &McpCaller,
        given: Option<String>,
    ) -> Result<String, ToolError> {
        if let Some(id) = given {
            let id = checked_id(id)?;
            self.current.set(caller, &id);
            return Ok(id);
        }
        if let Some(id) = self.current.get(caller) {
            match self.st.sessions.get(&caller.tenant, &id).await {
                Ok(rec) if rec.status == Status::Active => return Ok(id),
                _ => self.current.forget(caller, &id),
            }
        }
        Ok(self.start(caller, StartBody::default()).await?.id)
    }

    /// Starts a session with the agent API's options; it becomes the caller's current one.
    async fn start(
        &self,
        caller: &McpCaller,
        options: StartBody,
    ) -> Result<crate::sessions::SessionRecord, ToolError> {
        let req = options.into_request(API, self.st.sessions.config().viewport)?;
        let rec = self
            .st
            .sessions
            .create(&caller.tenant, req)
            .await
            .map_err(session_error)?;
        self.current.set(caller, &rec.id);
        Ok(rec)
    }

    /// When the session's browser is on another instance (several behind Redis), the call is
    /// made there, with the caller's own token, and its answer is this call's.
    async fn elsewhere(
        &self,
        caller: &McpCaller,
        id: &str,
        tool: &str,
        input: Option<Map<String, Value>>,
    ) -> Option<Result<CallToolResult, ToolError>> {
        if caller.forwarded || self.st.sessions.instance_id().is_none() {
            return None;
        }
        let address = match self.st.sessions.route(id).await {
            Ok(Route::Owner { address, .. }) => address,
            _ => return None,
        };
        let mut input = input.unwrap_or_default();
        input.insert("session_id".into(), Value::from(id));
        crate::telemetry::forwarded();
        let url = format!("{}/mcp", address.trim_end_matches('/'));
        let token = caller.token.clone().unwrap_or_default();
        Some(
            super::mcp_remote::call_once(&url, &token, true, tool, input)
                .await
                .map_err(ToolError),
        )
    }

    async fn run_action(
        &self,
        caller: &McpCaller,
        id: &str,
        req: ActionRequest,
    ) -> Result<ActionResult, SessionError> {
        self.st.sessions.act(&caller.tenant, id, req).await
    }

    async fn run(
        &self,
        caller: &McpCaller,
        id: &str,
        action: Action,
        screenshot: bool,
    ) -> Result<ActionResult, ToolError> {
        let req = ActionRequest {
            screenshot,
            ..ActionRequest::new(action)
        };
        self.run_action(caller, id, req)
            .await
            .map_err(session_error)
    }

    /// The page as an agent reads it, after `first` in the same turn of the session: the goto
    /// of an observe's `url`, or a step (with its action id: the page is observed even when
    /// the step failed, and the answer starts with how it went).
    async fn observation(
        &self,
        caller: &McpCaller,
        id: &str,
        a: &args::Observe,
        first: Option<(Action, Option<&str>)>,
    ) -> Result<CallToolResult, ToolError> {
        let max_chars = a.max_chars.unwrap_or(DEFAULT_MAX_CHARS);
        let opts = ObserveOptions {
            max_nb_actions: a
                .max_nb_actions
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
            min_nb_actions: None,
            max_chars: Some(usize::try_from(max_chars).unwrap_or(usize::MAX)),
            page_content: true,
            diff: a.diff.unwrap_or(false),
            collector: false,
        };
        let screenshot = a.screenshot.unwrap_or(false);
        let step_id = first.as_ref().and_then(|(_, step)| *step);
        let first = first.map(|(action, step)| (action, step.is_some()));
        let req = ActionRequest::observation(opts, first, screenshot);
        let snap = self
            .run_action(caller, id, req)
            .await
            .map_err(session_error)?;
        let said = step_id.map(|step| match &snap.first {
            Some(Err(e)) => Err(action_error_message(step, e)),
            _ => Ok(format!("{step} done")),
        });
        let Outcome::Observation(s) = &snap.output.result else {
            return Err(ToolError("the observation answered no page".into()));
        };
        let mut text = String::new();
        let failed = matches!(said, Some(Err(_)));
        match &said {
            Some(Ok(m)) => text.push_str(&format!("{m}\n\n")),
            Some(Err(m)) => text.push_str(&format!("failed: {m}\n\n")),
            None => {}
        }
        text.push_str(&format!("session_id: {id}\n"));
        text.push_str(&s.markdown);
        if !s.diff {
            text.push_str(&action_space::browser_actions::markdown_section());
            let page = s.page_markdown.as_deref().unwrap_or_default();
            if !page.is_empty() {
                text.push_str("\n## Page content\n");
                text.push_str(page);
            }
        }
        let mut content = vec![ContentBlock::text(text)];
        let shot = snap.output.news.screenshot.as_ref();
        if let Some(png) = shot.and_then(|b| b.body_base64.clone()) {
            content.push(ContentBlock::image(png, "image/png"));
        }
        let mut r = if failed {
            CallToolResult::error(content)
        } else {
            CallToolResult::success(content)
        };
        r.structured_content = Some(json!({
            "session_id": id, "url": s.url, "title": s.title, "changes": s.changes,
        }));
        Ok(r)
    }
}

fn goto(url: String) -> Action {
    Action::Goto(Goto {
        url,
        wait_until: Default::default(),
        exchange: None,
    })
}

fn checked_id(id: String) -> Result<String, ToolError> {
    if id.trim().is_empty() || id.len() > MAX_ID_LEN {
        return Err(ToolError(format!(
            "session_id must be 1 to {MAX_ID_LEN} characters"
        )));
    }
    Ok(id)
}

/// An action's output: an image as image content, the rest as JSON text.
fn output_answer(id: &str, kind: &str, out: ActionOutput) -> CallToolResult {
    let mut content = Vec::new();
    let mut fields = out.fields();
    if let Outcome::Bytes(b) = &out.result {
        match (&b.body_base64, b.content_type.starts_with("image/")) {
            (Some(data), true) => {
                content.push(ContentBlock::image(data.clone(), b.content_type.clone()));
                fields.remove("bodyBase64");
            }
            // Other bytes (a PDF) are no text for a model: they are a session file (`files`).
            (Some(data), false) => {
                fields.insert(
                    "bodyBase64".into(),
                    Value::from(format!(
                        "({} characters left out: the bytes are the session file named under `file`)",
                        data.len()
                    )),
                );
            }
            (None, _) => {}
        }
    }
    fields.insert("session_id".into(), Value::from(id));
    fields.insert("type".into(), Value::from(kind));
    let v = Value::Object(fields);
    content.insert(
        0,
        ContentBlock::text(serde_json::to_string_pretty(&v).unwrap_or_default()),
    );
    let mut r = CallToolResult::success(content);
    r.structured_content = Some(v);
    r
}

impl McpTools {
    /// What the server says of itself at initialize (stdio onto a remote server says the same).
    pub fn info() -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("pagepilot", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Browser sessions for agents. Call observe (with a url) to read a page and its numbered actions, \
                 then step with an action id; the answer shows the page after it and what changed. \
                 Sessions persist: pass session_id to continue one from another connection.",
            )
    }
}

impl ServerHandler for McpTools {
    fn get_info(&self) -> ServerConfig {
        Self::info()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tools().to_vec()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools().iter().find(|t| t.name == name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let Some(caller) = self.caller(&context) else {
            // The auth layer lets no request through without a caller; this is a bug if seen.
            return Ok(CallToolResult::error(vec![ContentBlock::text("not authenticated")]).into());
        };
        let started = std::time::Instant::now();
        let answer = self
            .call(&caller, request.name.as_ref(), request.arguments)
            .await;
        let tool = TOOL_NAMES
            .iter()
            .find(|n| **n == request.name.as_ref())
            .copied()
            .unwrap_or("unknown");
        crate::telemetry::mcp_call(tool, answer.is_ok(), started.elapsed());
        Ok(match answer {
            Ok(r) => r,
            Err(ToolError(m)) => CallToolResult::error(vec![ContentBlock::text(m)]),
        }
        .into())
    }
}

impl From<EngineError> for ToolError {
    fn from(e: EngineError) -> Self {
        ToolError(e.to_string())
    }
}

/// `/mcp`: streamable HTTP, each request authenticated as every other endpoint is.
pub fn router(
    st: AppState,
    body_limit: usize,
    sessions_per_tenant: usize,
) -> axum::Router<AppState> {
    use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
    use rmcp::transport::streamable_http_server::{
        StreamableHttpServerConfig, StreamableHttpService,
    };
    let current = Arc::new(CurrentSessions::default());
    let tools_state = st.clone();
    // Host checks guard unauthenticated local servers against DNS rebinding; every request
    // here carries a bearer token (a rebinding page has none), so any Host is served.
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .with_max_request_body_bytes(body_limit);
    let manager = Arc::new(LocalSessionManager::default());
    let cap = Arc::new(super::mcp_sessions::McpSessionCap::new(
        manager.clone(),
        sessions_per_tenant,
    ));
    let service: StreamableHttpService<McpTools, LocalSessionManager> = StreamableHttpService::new(
        move || Ok(McpTools::http(tools_state.clone(), current.clone())),
        manager,
        config,
    );
    // Authentication runs first (the outer layer), then the cap on the tenant's connections.
    axum::Router::new()
        .route_service("/mcp", service)
        .layer(axum::middleware::from_fn_with_state(
            cap,
            super::mcp_sessions::capped,
        ))
        .layer(axum::middleware::from_fn_with_state(st, authenticate))
}

/// Where a client learns how to get a token (RFC 9728), named in the 401's challenge.
pub fn resource_metadata_url(st: &AppState) -> String {
    format!(
        "{}/.well-known/oauth-protected-resource",
        st.auth.jwt.issuer.trim_end_matches('/')
    )
}

async fn authenticate(
    axum::extract::State(st): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, body) = req.into_parts();
    let tenant = match super::auth::Tenant::from_request_parts(&mut parts, &st).await {
        Ok(super::auth::Tenant(t)) => t,
        Err(e) => {
            let challenge = format!(
                "Bearer resource_metadata=\"{}\"",
                resource_metadata_url(&st)
            );
            return e.challenge(challenge).into_response();
        }
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let token = header("authorization").and_then(|v| {
        v.strip_prefix("Bearer ")
            .or_else(|| v.strip_prefix("bearer "))
            .map(|t| t.trim().to_string())
    });
    let caller = McpCaller {
        tenant,
        token,
        connection: header("mcp-session-id"),
        forwarded: parts.headers.contains_key(super::route::FORWARDED),
    };
    parts.extensions.insert(caller);
    next.run(axum::extract::Request::from_parts(parts, body))
        .await
}
