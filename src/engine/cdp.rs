//! Thin Chrome DevTools Protocol transport (DESIGN.md: "Why a thin CDP transport of our own").
//!
//! One WebSocket per browser. Target sessions are attached with `flatten: true`, so every
//! message carries an optional `sessionId` and all targets share the socket. Every call has a
//! deadline. Failure is fail-fast: a closed socket fails every pending call of the browser at
//! once; `Target.detachedFromTarget`, `Target.targetCrashed` and `Inspector.detached` fail the
//! pending calls of that target at once. Events are fanned out per session through bounded
//! broadcast channels (a slow listener loses old events, it never blocks the reader).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_tungstenite::tungstenite::Message;

use super::protocol::Command;

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
    out: mpsc::UnboundedSender<Message>,
    browser_events: broadcast::Sender<Event>,
}

/// A cheap-to-clone handle on one browser's CDP socket.
#[derive(Clone)]
pub struct Connection {
    inner: Arc<Inner>,
}

impl Connection {
    /// Connects to a browser's DevTools WebSocket URL and starts the reader and writer tasks.
    pub async fn connect(ws_url: &str) -> Result<Self, CdpError> {
        let (socket, _) = tokio_tungstenite::connect_async(ws_url)
            .await
            .map_err(|e| CdpError::Closed(format!("cannot connect to {ws_url}: {e}")))?;
        let (mut sink, mut stream) = socket.split();
        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let (browser_events, _) = broadcast::channel(EVENT_BUFFER);
        let inner = Arc::new(Inner {
            next_id: AtomicU64::new(1),
            state: Mutex::new(State::default()),
            out,
            browser_events,
        });

        let writer_inner = Arc::downgrade(&inner);
        tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if let Err(e) = sink.send(msg).await {
                    if let Some(inner) = writer_inner.upgrade() {
                        fail_all(&inner, format!("write failed: {e}"));
                    }
                    break;
                }
            }
            let _ = sink.close().await;
        });

        let reader_inner = Arc::downgrade(&inner);
        tokio::spawn(async move {
            let reason = loop {
                match stream.next().await {
                    Some(Ok(Message::Text(text))) => {
                        let Some(inner) = reader_inner.upgrade() else {
                            return;
                        };
                        dispatch(&inner, text.as_str());
                    }
                    Some(Ok(Message::Close(_))) | None => {
                        break "socket closed by browser".to_string()
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break format!("socket error: {e}"),
                }
            };
            if let Some(inner) = reader_inner.upgrade() {
                fail_all(&inner, reason);
            }
        });

        Ok(Self { inner })
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
        let answer = self.send(session, C::METHOD, params, timeout).await?;
        serde_json::from_value(answer).map_err(|e| CdpError::BadAnswer {
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
        if self
            .inner
            .out
            .send(Message::Text(msg.to_string().into()))
            .is_err()
        {
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
                    ms: timeout.as_millis() as u64,
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

fn dispatch(inner: &Inner, text: &str) {
    let Ok(mut msg) = serde_json::from_str::<Value>(text) else {
        tracing::warn!("unparseable CDP message dropped");
        return;
    };
    if let Some(id) = msg.get("id").and_then(Value::as_u64) {
        let pending = lock(&inner.state).pending.remove(&id);
        if let Some(p) = pending {
            let result = match msg.get("error") {
                Some(err) => Err(CdpError::Protocol {
                    method: p.method,
                    code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
                    message: err
                        .get("message")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown error")
                        .to_string(),
                }),
                None => Ok(msg
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or(Value::Null)),
            };
            let _ = p.reply.send(result);
        }
        return;
    }
    let Some(method) = msg
        .get("method")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        return;
    };
    let params = msg
        .get_mut("params")
        .map(Value::take)
        .unwrap_or(Value::Null);
    let session = msg
        .get("sessionId")
        .and_then(Value::as_str)
        .map(str::to_string);

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
