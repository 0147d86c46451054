//! Thin Chrome DevTools Protocol transport (docs/architecture.md: "Why a thin CDP transport
//! of our own").
//!
//! One pipe pair per browser (`--remote-debugging-pipe`: no DevTools TCP port that another
//! local user could drive), NUL-delimited JSON messages. Target sessions are attached with
//! `flatten: true`, so every message carries an optional `sessionId` and all targets share the
//! pipe. Every call has a deadline. Failure is fail-fast: a closed pipe fails every pending
//! call of the browser at once; `Target.detachedFromTarget`, `Target.targetCrashed` and
//! `Inspector.detached` fail the pending calls of that target at once. Events are fanned out
//! per session through bounded broadcast channels (a slow listener loses old events, it never
//! blocks the reader).
//!
//! Hostile pages make large messages: a message of any size up to [`MAX_MESSAGE`] is read
//! (large ones are parsed off the async runtime, in order); a larger answer fails only its own
//! call, a larger event is dropped; a console event over [`MAX_EVENT`] is cut down to a short
//! entry saying so before it is parsed. No message a page can cause ends the connection.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::unix::pipe;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::protocol::Command;

/// The largest message read from the browser; past it the message is skipped (and the call it
/// answers fails). Output caps of the actions keep every legitimate answer far below.
pub const MAX_MESSAGE: usize = 256 * 1024 * 1024;
/// Events larger than this are not delivered whole: console events become a short entry.
pub const MAX_EVENT: usize = 1024 * 1024;
/// Messages from this size on are parsed on the blocking pool, not on the async runtime.
const PARSE_OFF_RUNTIME: usize = 256 * 1024;

/// Events buffered per target before a slow listener starts losing the oldest.
const EVENT_BUFFER: usize = 512;

#[derive(Debug, Clone, thiserror::Error)]
pub enum CdpError {
    #[error("browser connection closed: {0}")]
    Closed(String),
    #[error("page is gone: {0}")]
    TargetGone(String),
    #[error("CDP call {method} timed out after {ms} ms")]
    Timeout { method: String, ms: u64 },
    #[error("CDP {method} answered unexpectedly: {message}")]
    BadAnswer { method: String, message: String },
    #[error("CDP {method}: {message}")]
    TooLarge { method: String, message: String },
    #[error("CDP {method} failed: {message}")]
    Protocol {
        method: String,
        code: i64,
        message: String,
    },
}

/// One CDP event as received.
#[derive(Debug, Clone)]
pub struct Event {
    pub method: String,
    pub params: Value,
}

type Reply = oneshot::Sender<Result<Value, CdpError>>;

struct Pending {
    method: String,
    session: Option<String>,
    reply: Reply,
}

struct Target {
    target_id: String,
    events: broadcast::Sender<Event>,
    dead: Option<String>,
}

#[derive(Default)]
struct State {
    pending: HashMap<u64, Pending>,
    targets: HashMap<String, Target>,
    /// Why the whole connection is closed, once it is.
    closed: Option<String>,
}

struct Inner {
    next_id: AtomicU64,
    state: Mutex<State>,
    out: mpsc::UnboundedSender<String>,
    browser_events: broadcast::Sender<Event>,
}

/// A cheap-to-clone handle on one browser's CDP socket.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl Connection {
    /// Speaks CDP over a browser's debugging pipes (`--remote-debugging-pipe`): `to_browser`
    /// is the browser's fd 3, `from_browser` its fd 4. Starts the reader and writer tasks.
    pub fn over_pipes(to_browser: pipe::Sender, from_browser: pipe::Receiver) -> Self {
        let (out, mut out_rx) = mpsc::unbounded_channel::<String>();
        let (browser_events, _) = broadcast::channel(EVENT_BUFFER);
        let inner = Arc::new(Inner {
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            out,
            browser_events,
        });

        let writer_inner = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut sink = to_browser;
            while let Some(msg) = out_rx.recv().await {
                let sent = async {
                    sink.write_all(msg.as_bytes()).await?;
                    sink.write_all(&[0]).await
                };
                if let Err(e) = sent.await {
                    if let Some(inner) = writer_inner.upgrade() {
                        fail_all(&inner, format!("write failed: {e}"));
                    }
                    break;
                }
            }
        });

        let reader_inner = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let mut from = BufReader::with_capacity(1024 * 1024, from_browser);
            let reason = loop {
                match read_message(&mut from).await {
                    Ok(Some(Incoming::Message(bytes))) => {
                        let Some(inner) = reader_inner.upgrade() else {
                            return;
                        };
                        let parsed = if bytes.len() >= PARSE_OFF_RUNTIME {
                            tokio::task::spawn_blocking(move || parse(&bytes))
                                .await
                                .unwrap_or_default()
                        } else {
                            parse(&bytes)
                        };
                        if let Some(p) = parsed {
                            dispatch(&inner, p);
                        }
                    }
                    Ok(Some(Incoming::TooLarge { size, id })) => {
                        let Some(inner) = reader_inner.upgrade() else {
                            return;
                        };
                        tracing::warn!(size, ?id, "CDP message over the transport's limit dropped");
                        if let Some(id) = id {
                            fail_call(
                                &inner,
                                id,
                                format!(
                                    "the browser's answer ({size}+ bytes) is over the transport's limit of {MAX_MESSAGE} bytes"
                                ),
                            );
                        }
                    }
                    Ok(None) => break "pipe closed by browser".to_string(),
                    Err(e) => break format!("pipe read failed: {e}"),
                }
            };
            if let Some(inner) = reader_inner.upgrade() {
                fail_all(&inner, reason);
            }
        });

        Self { inner }
    }

    /// Runs a browser-level command (no target session).
    pub async fn exec<C: Command>(
        &self,
        cmd: &C,
        timeout: Duration,
    ) -> Result<C::Returns, CdpError> {
        self.run(None, cmd, timeout).await
    }

    /// Runs a command on an attached target session.
    pub async fn exec_on<C: Command>(
        &self,
        session: &str,
        cmd: &C,
        timeout: Duration,
    ) -> Result<C::Returns, CdpError> {
        self.run(Some(session), cmd, timeout).await
    }

    async fn run<C: Command>(
        &self,
        session: Option<&str>,
        cmd: &C,
        timeout: Duration,
    ) -> Result<C::Returns, CdpError> {
        let params = serde_json::to_value(cmd).map_err(|e| CdpError::BadAnswer {
            method: C::METHOD.to_string(),
            message: format!("params do not serialise: {e}"),
        })?;
        let sent = std::time::Instant::now();
        let answer = self.send(session, C::METHOD, params, timeout).await;
        crate::telemetry::cdp_call(sent.elapsed());
        serde_json::from_value(answer?).map_err(|e| CdpError::BadAnswer {
            method: C::METHOD.to_string(),
            message: e.to_string(),
        })
    }

    /// Registers an attached target session so its events are routed and its death detected.
    /// Must be called with the `sessionId` returned by `Target.attachToTarget`.
    pub fn register_target(&self, session: &str, target_id: &str) {
        let mut st = lock(&self.inner.state);
        let (events, _) = broadcast::channel(EVENT_BUFFER);
        st.targets.insert(
            session.to_string(),
            Target {
                target_id: target_id.to_string(),
                events,
                dead: None,
            },
        );
    }

    /// Forgets a target session (after it was closed on purpose).
    pub fn unregister_target(&self, session: &str) {
        lock(&self.inner.state).targets.remove(session);
    }

    /// Subscribes to a target session's events. Subscribe before issuing the command whose
    /// event you wait for, or the event may be missed.
    pub fn events(&self, session: &str) -> Result<broadcast::Receiver<Event>, CdpError> {
        let st = lock(&self.inner.state);
        if let Some(reason) = &st.closed {
            return Err(CdpError::Closed(reason.clone()));
        }
        match st.targets.get(session) {
            Some(t) => match &t.dead {
                Some(reason) => Err(CdpError::TargetGone(reason.clone())),
                None => Ok(t.events.subscribe()),
            },
            None => Err(CdpError::TargetGone(
                "target session is not attached".into(),
            )),
        }
    }

    /// Subscribes to browser-level events (`Target.*` without a session).
    pub fn browser_events(&self) -> broadcast::Receiver<Event> {
        self.inner.browser_events.subscribe()
    }

    /// Why the connection is closed, if it is.
    pub fn closed_reason(&self) -> Option<String> {
        lock(&self.inner.state).closed.clone()
    }

    /// Why a target is dead, if it is (crashed, detached, or the whole connection closed).
    pub fn target_dead_reason(&self, session: &str) -> Option<String> {
        let st = lock(&self.inner.state);
        if let Some(r) = &st.closed {
            return Some(r.clone());
        }
        match st.targets.get(session) {
            Some(t) => t.dead.clone(),
            None => Some("target session is not attached".into()),
        }
    }

    /// Fails every pending and future call, e.g. when the supervisor sees the process exit.
    pub fn close(&self, reason: &str) {
        fail_all(&self.inner, reason.to_string());
    }

    async fn send(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, CdpError> {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut st = lock(&self.inner.state);
            if let Some(reason) = &st.closed {
                return Err(CdpError::Closed(reason.clone()));
            }
            if let Some(s) = session {
                match st.targets.get(s) {
                    Some(Target {
                        dead: Some(reason), ..
                    }) => return Err(CdpError::TargetGone(reason.clone())),
                    Some(_) => {}
                    None => {
                        return Err(CdpError::TargetGone(
                            "target session is not attached".into(),
                        ))
                    }
                }
            }
            st.pending.insert(
                id,
                Pending {
                    method: method.to_string(),
                    session: session.map(str::to_string),
                    reply: tx,
                },
            );
        }
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = Value::String(s.to_string());
        }
        if self.inner.out.send(msg.to_string()).is_err() {
            lock(&self.inner.state).pending.remove(&id);
            return Err(CdpError::Closed("writer stopped".into()));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(CdpError::Closed("connection dropped".into())),
            Err(_) => {
                lock(&self.inner.state).pending.remove(&id);
                Err(CdpError::Timeout {
                    method: method.to_string(),
                    ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding this lock cannot leave State half-updated in a way that matters
    // more than refusing all further calls would; recover the guard.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One message off the pipe.
enum Incoming {
    Message(Vec<u8>),
    /// Over [`MAX_MESSAGE`]: skipped; `id` when the message began as an answer.
    TooLarge {
        size: usize,
        id: Option<u64>,
    },
}

/// Reads up to the next NUL. `None` at the end of the pipe.
async fn read_message(from: &mut BufReader<pipe::Receiver>) -> std::io::Result<Option<Incoming>> {
    let mut msg = Vec::new();
    let mut skipped = 0usize;
    loop {
        let chunk = from.fill_buf().await?;
        if chunk.is_empty() {
            return Ok(None);
        }
        let (part, done) = match chunk.iter().position(|b| *b == 0) {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        if skipped == 0 && msg.len().saturating_add(part.len()) <= MAX_MESSAGE {
            msg.extend_from_slice(part);
        } else {
            if skipped == 0 {
                skipped = msg.len();
            }
            skipped = skipped.saturating_add(part.len());
        }
        let used = done.unwrap_or(part.len());
        from.consume(used);
        if done.is_some() {
            if skipped > 0 {
                return Ok(Some(Incoming::TooLarge {
                    size: skipped,
                    id: leading_id(&msg),
                }));
            }
            return Ok(Some(Incoming::Message(msg)));
        }
    }
}

/// The `id` of a message that starts `{"id":N` (Chromium writes answers that way).
fn leading_id(head: &[u8]) -> Option<u64> {
    let rest = head.strip_prefix(b"{\"id\":")?;
    let digits: Vec<u8> = rest
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .copied()
        .collect();
    std::str::from_utf8(&digits).ok()?.parse().ok()
}

/// A large message's envelope, read without materialising its payload.
#[derive(Deserialize)]
struct Envelope<'a> {
    id: Option<u64>,
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(borrow)]
    params: Option<&'a RawValue>,
    #[serde(borrow)]
    result: Option<&'a RawValue>,
    error: Option<Value>,
}

/// A message, parsed.
struct Parsed {
    id: Option<u64>,
    method: Option<String>,
    session: Option<String>,
    params: Value,
    result: Value,
    error: Option<Value>,
}

/// A message read in one pass (everything up to [`MAX_EVENT`] bytes: nearly all of them).
#[derive(Deserialize)]
struct Whole {
    id: Option<u64>,
    method: Option<String>,
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
    #[serde(default)]
    params: Value,
    #[serde(default)]
    result: Value,
    error: Option<Value>,
}

fn parse(bytes: &[u8]) -> Option<Parsed> {
    if bytes.len() <= MAX_EVENT {
        let Ok(m) = serde_json::from_slice::<Whole>(bytes) else {
            tracing::warn!(size = bytes.len(), "unparseable CDP message dropped");
            return None;
        };
        return Some(Parsed {
            id: m.id,
            method: m.method,
            session: m.session_id,
            params: m.params,
            result: m.result,
            error: m.error,
        });
    }
    // A large message: read its envelope first, so an oversized event is never materialised.
    let Ok(env) = serde_json::from_slice::<Envelope>(bytes) else {
        tracing::warn!(size = bytes.len(), "unparseable CDP message dropped");
        return None;
    };
    let method = env.method.map(|m| m.into_owned());
    let params = match env.params {
        Some(raw) if env.id.is_none() && raw.get().len() > MAX_EVENT => {
            oversized_event(method.as_deref(), raw)?
        }
        Some(raw) => serde_json::from_str(raw.get()).unwrap_or(Value::Null),
        None => Value::Null,
    };
    let result = env
        .result
        .map(|raw| serde_json::from_str(raw.get()).unwrap_or(Value::Null))
        .unwrap_or(Value::Null);
    Some(Parsed {
        id: env.id,
        method,
        session: env.session_id,
        params,
        result,
        error: env.error,
    })
}

/// What is kept of an event over [`MAX_EVENT`]: a console call becomes one short string
/// argument saying what was dropped; any other such event is dropped (`None`).
fn oversized_event(method: Option<&str>, raw: &RawValue) -> Option<Value> {
    let size = raw.get().len();
    if method != Some("Runtime.consoleAPICalled") {
        tracing::warn!(?method, size, "CDP event over the event limit dropped");
        return None;
    }
    #[derive(Deserialize)]
    struct Console<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<std::borrow::Cow<'a, str>>,
    }
    let kind = serde_json::from_str::<Console>(raw.get())
        .ok()
        .and_then(|c| c.kind.map(|k| k.into_owned()))
        .unwrap_or_else(|| "log".into());
    Some(json!({
        "type": kind,
        "args": [{ "type": "string", "value": format!(
            "[console message of {size} bytes not kept: over the {MAX_EVENT}-byte limit]"
        ) }],
    }))
}

/// Fails one pending call (its answer could not be read).
fn fail_call(inner: &Inner, id: u64, why: String) {
    let pending = lock(&inner.state).pending.remove(&id);
    if let Some(p) = pending {
        let _ = p.reply.send(Err(CdpError::TooLarge {
            method: p.method,
            message: why,
        }));
    }
}

fn dispatch(inner: &Inner, msg: Parsed) {
    if let Some(id) = msg.id {
        let pending = lock(&inner.state).pending.remove(&id);
        if let Some(p) = pending {
            let result = match msg.error {
                Some(err) => Err(CdpError::Protocol {
                    method: p.method,
                    code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_string(),
                }),
                None => Ok(msg.result),
            };
            let _ = p.reply.send(result);
        }
        return;
    }
    let Some(method) = msg.method else {
        return;
    };
    let params = msg.params;
    let session = msg.session;

    match (method.as_str(), &session) {
        ("Target.detachedFromTarget", _) => {
            if let Some(s) = params.get("sessionId").and_then(Value::as_str) {
                fail_target(inner, |sid, _| sid == s, "page was closed or detached");
            }
        }
        ("Target.targetCrashed", None) => {
            if let Some(t) = params.get("targetId").and_then(Value::as_str) {
                let status = params
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("crashed");
                fail_target(
                    inner,
                    |_, tid| tid == t,
                    &format!("page renderer crashed ({status})"),
                );
            }
        }
        ("Inspector.detached", Some(s)) => {
            let reason = params
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("detached");
            fail_target(
                inner,
                |sid, _| sid == s,
                &format!("inspector detached: {reason}"),
            );
        }
        ("Inspector.targetCrashed", Some(s)) => {
            fail_target(inner, |sid, _| sid == s, "page renderer crashed");
        }
        _ => {}
    }

    let event = Event { method, params };
    match session {
        None => {
            let _ = inner.browser_events.send(event);
        }
        Some(s) => {
            let st = lock(&inner.state);
            if let Some(t) = st.targets.get(&s) {
                // No receivers is fine: nobody is waiting for this kind of event right now.
                let _ = t.events.send(event);
            }
        }
    }
}

/// Marks matching targets dead and fails their pending calls at once.
fn fail_target(inner: &Inner, matches: impl Fn(&str, &str) -> bool, reason: &str) {
    let mut st = lock(&inner.state);
    let mut dead_sessions = Vec::new();
    for (sid, t) in st.targets.iter_mut() {
        if matches(sid, &t.target_id) && t.dead.is_none() {
            t.dead = Some(reason.to_string());
            // Replacing the sender ends the streams of everyone listening to this target.
            t.events = broadcast::channel(1).0;
            dead_sessions.push(sid.clone());
        }
    }
    let ids: Vec<u64> = st
        .pending
        .iter()
        .filter(|(_, p)| {
            p.session
                .as_ref()
                .is_some_and(|s| dead_sessions.contains(s))
        })
        .map(|(id, _)| *id)
        .collect();
    for id in ids {
        if let Some(p) = st.pending.remove(&id) {
            let _ = p.reply.send(Err(CdpError::TargetGone(reason.to_string())));
        }
    }
}

fn fail_all(inner: &Inner, reason: String) {
    let mut st = lock(&inner.state);
    if st.closed.is_none() {
        st.closed = Some(reason.clone());
    }
    for (_, p) in st.pending.drain() {
        let _ = p.reply.send(Err(CdpError::Closed(reason.clone())));
    }
    for t in st.targets.values_mut() {
        if t.dead.is_none() {
            t.dead = Some(reason.clone());
        }
    }
    // Dropping the senders ends every listener's stream.
    st.targets.clear();
}
