//! The WebSocket protocol (seed 004): `/v1/sessions/ws`, an open frame, then action frames,
//! each answered by exactly one frame, in order. A thin translation onto `sessions`: the
//! frames' actions are engine actions, run by the session's client (browser or plain HTTP).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde_json::Value;
use tokio::time::Instant;

use super::auth::Tenant;
use super::errors::ApiError;
use super::ws_frames::{self, error_frame, ClientKind, Frame, Open};
use super::AppState;
use crate::fetcher;
use crate::sessions::record::reason;
use crate::sessions::{
    ActionRequest, Client, CreateRequest, Ended, SessionError, Sessions, Status,
};

/// The operator's WebSocket settings.
#[derive(Debug, Clone)]
pub struct WsConfig {
    pub frame_limit: usize,
    pub idle_timeout: Duration,
    pub handshake_timeout: Duration,
    /// Proxies an open frame may name: name -> URL.
    pub proxies: HashMap<String, String>,
}

/// Open sockets, so a shutdown can let each one send its fatal frame before the process ends.
#[derive(Debug, Default)]
pub struct Sockets {
    open: std::sync::atomic::AtomicUsize,
    drained: tokio::sync::Notify,
}

impl Sockets {
    /// Waits until every socket has finished, at most `limit`.
    pub async fn drained(&self, limit: Duration) {
        let wait = async {
            loop {
                let notified = self.drained.notified();
                if self.open.load(std::sync::atomic::Ordering::SeqCst) == 0 {
                    return;
                }
                notified.await;
            }
        };
        let _ = tokio::time::timeout(limit, wait).await;
    }

    fn enter(self: &Arc<Self>) -> SocketGuard {
        self.open.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        SocketGuard(self.clone())
    }
}

struct SocketGuard(Arc<Sockets>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0
            .open
            .fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.drained.notify_waiters();
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/v1/sessions/ws", get(upgrade))
}

/// Close codes (RFC 6455): normal, going away, policy violation, too big, server error.
const NORMAL: u16 = 1000;
const GOING_AWAY: u16 = 1001;
const POLICY: u16 = 1008;
const TOO_BIG: u16 = 1009;
const SERVER_ERROR: u16 = 1011;

#[utoipa::path(operation_id = "websocket_upgrade", get, path = "/v1/sessions/ws", tag = "websocket", security(("bearer" = [])),
    description = "Upgrades to a WebSocket: send the open frame, get `{session_id}`, then one answer frame per action frame (README).",
    responses((status = 101, description = "Switching to the WebSocket protocol"), super::openapi::SessionErrors))]
async fn upgrade(
    State(st): State<AppState>,
    Tenant(tenant): Tenant,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|e| {
        ApiError::new(
            e.status(),
            format!("this endpoint speaks WebSocket only: {}", e.body_text()),
        )
    })?;
    if let Some(claimed) = headers.get("x-tenant-id") {
        let claimed = claimed.to_str().unwrap_or_default();
        if claimed != tenant {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("X-Tenant-Id `{claimed}` does not match the tenant of the bearer token"),
            ));
        }
    }
    let cfg = st.ws.clone();
    let guard = st.sockets.enter();
    // The transport's hard limit sits above ours, so an oversized frame gets a clear,
    // non-fatal error frame rather than a dropped connection.
    let hard = cfg.frame_limit.saturating_mul(2).saturating_add(64 * 1024);
    Ok(ws
        .max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| async move {
            let _guard = guard;
            let session = Arc::new(std::sync::Mutex::new(None));
            let conn = Conn {
                socket,
                sessions: st.sessions.clone(),
                cfg,
                tenant: tenant.clone(),
                session: session.clone(),
            };
            // The socket's loop runs on its own task: should anything under it panic, its
            // session (and only its session) is ended here rather than left holding a slot.
            if let Err(e) = tokio::spawn(conn.run()).await {
                let id = session.lock().ok().and_then(|s| s.clone());
                tracing::error!(error = %e, session = ?id, "websocket task failed; ending its session");
                if let Some(id) = id {
                    let _ = st
                        .sessions
                        .close_as(&tenant, &id, Status::Error, reason::INTERNAL_ERROR)
                        .await;
                }
            }
        }))
}

struct Conn {
    socket: WebSocket,
    sessions: Sessions,
    cfg: Arc<WsConfig>,
    tenant: String,
    /// The session this socket opened, for the supervisor in `upgrade`.
    session: Arc<std::sync::Mutex<Option<String>>>,
}

/// How a socket's loop ended.
enum End {
    /// The client sent `close`: the session is closed and `closed` was sent.
    Closed,
    /// The socket went away: the session must be ended.
    Dropped,
    /// A fatal frame was sent; end the session with this status and reason (or not, if it
    /// already ended).
    Fatal(Option<(Status, &'static str)>),
}

impl Conn {
    async fn run(mut self) {
        let Some(open) = self.handshake().await else {
            return;
        };
        let mut ended = self.sessions.ended();
        let created = self.create(&open).await;
        let id = match created {
            Ok(id) => {
                if let Ok(mut s) = self.session.lock() {
                    *s = Some(id.clone());
                }
                id
            }
            Err(e) => {
                let (msg, code) = session_error(e);
                self.fatal(&msg, code, POLICY).await;
                return;
            }
        };
        if !self.send(&serde_json::json!({ "session_id": id })).await {
            self.end_session(&id, Status::Closed, reason::DISCONNECTED)
                .await;
            return;
        }
        tracing::info!(session = %id, tenant = %self.tenant, client = open.client.name(), "websocket session open");
        match self.frames(&id, &open, &mut ended).await {
            End::Closed => {}
            End::Dropped => {
                self.end_session(&id, Status::Closed, reason::DISCONNECTED)
                    .await
            }
            End::Fatal(Some((status, why))) => self.end_session(&id, status, why).await,
            End::Fatal(None) => {}
        }
    }

    /// Reads and checks the open frame; a bad one gets a fatal frame (`None`).
    async fn handshake(&mut self) -> Option<Open> {
        let first = tokio::time::timeout(self.cfg.handshake_timeout, self.next_text()).await;
        let text = match first {
            Err(_) => {
                let msg = format!(
                    "no open frame within {} s",
                    self.cfg.handshake_timeout.as_secs()
                );
                self.fatal(&msg, 408, POLICY).await;
                return None;
            }
            Ok(Next::Gone) => return None,
            Ok(Next::Bad(msg, code)) => {
                self.fatal(&msg, code, POLICY).await;
                return None;
            }
            Ok(Next::Text(t)) => t,
        };
        match ws_frames::parse_open(&text, &self.cfg.proxies) {
            Ok(open) => Some(open),
            Err(msg) => {
                self.fatal(&msg, 400, POLICY).await;
                None
            }
        }
    }

    async fn create(&mut self, open: &Open) -> Result<String, SessionError> {
        let client = match open.client {
            ClientKind::Browser => Client::Browser,
            ClientKind::Standard => Client::Standard(fetcher::Settings {
                timeout: open.timeout,
                max_redirects: open.max_redirects,
                max_retries: open.max_retries,
                proxies: open.proxies.clone(),
            }),
        };
        let req = CreateRequest {
            api: "websocket",
            ttl_seconds: open.ttl.map(|t| t.as_secs().max(1)),
            profile: open.profile.clone(),
            client,
            middleware: open.middleware.clone(),
            // The browser's action deadline is the client's timeout; the standard client
            // applies it to each request itself, so its action deadline leaves room for
            // retries and redirects (at most 10 minutes).
            action_timeout: Some(match open.client {
                ClientKind::Browser => open.timeout,
                ClientKind::Standard => {
                    let tries =
                        u32::try_from(open.max_retries.saturating_add(1)).unwrap_or(u32::MAX);
                    let hops =
                        u32::try_from(open.max_redirects.saturating_add(1)).unwrap_or(u32::MAX);
                    open.timeout
                        .checked_mul(tries)
                        .and_then(|t| t.checked_mul(hops))
                        .unwrap_or(Duration::MAX)
                        .min(Duration::from_secs(600))
                }
            }),
            proxy_url: match open.client {
                ClientKind::Browser => open.proxies.first().cloned(),
                ClientKind::Standard => None,
            },
            client_label: Some(open.client.name().to_string()),
            bare_uuid_id: true,
            ..Default::default()
        };
        Ok(self.sessions.create(&self.tenant, req).await?.id)
    }

    async fn frames(
        &mut self,
        id: &str,
        open: &Open,
        ended: &mut tokio::sync::broadcast::Receiver<Ended>,
    ) -> End {
        let mut deadline = Instant::now() + self.cfg.idle_timeout;
        loop {
            let next = tokio::select! {
                n = self.next_text() => n,
                ev = next_end(ended, id) => {
                    let (msg, code, close) = ended_frame(&ev);
                    self.fatal(&msg, code, close).await;
                    return End::Fatal(None);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    let msg = format!(
                        "no frame for {} s: the session ends (ws_idle_timeout_seconds)",
                        self.cfg.idle_timeout.as_secs()
                    );
                    self.fatal(&msg, 408, POLICY).await;
                    return End::Fatal(Some((Status::Expired, reason::IDLE_TIMEOUT)));
                }
            };
            deadline = Instant::now() + self.cfg.idle_timeout;
            let text = match next {
                Next::Gone => return End::Dropped,
                Next::Bad(msg, code) => {
                    if code == 1009 {
                        self.fatal(&msg, 413, TOO_BIG).await;
                        return End::Fatal(Some((Status::Closed, reason::DISCONNECTED)));
                    }
                    if !self.send(&error_frame(false, &msg, code)).await {
                        return End::Dropped;
                    }
                    continue;
                }
                Next::Text(t) => t,
            };
            let frame = match ws_frames::parse_action(&text, open.max_redirects) {
                Ok(f) => f,
                Err(msg) => {
                    if !self.send(&error_frame(false, &msg, 400)).await {
                        return End::Dropped;
                    }
                    continue;
                }
            };
            let (name, action) = match frame {
                Frame::Close => {
                    return match self.sessions.close(&self.tenant, id).await {
                        Ok(_) => {
                            let closed = serde_json::json!({ "action": "closed" });
                            self.send(&closed).await;
                            self.close_socket(NORMAL, "closed").await;
                            End::Closed
                        }
                        Err(e) => {
                            let (msg, code) = session_error(e);
                            self.fatal(&msg, code, NORMAL).await;
                            End::Fatal(None)
                        }
                    };
                }
                Frame::Act { name, action } => (name, action),
            };
            let req = ActionRequest::new(action);
            let reply = match self.sessions.act(&self.tenant, id, req).await {
                Ok(done) => ws_frames::response(name, done.output),
                Err(SessionError::NotActive(rec)) => {
                    let ev = Ended {
                        id: id.to_string(),
                        status: rec.status,
                        reason: rec.close_reason.unwrap_or_default(),
                        error: rec.error,
                    };
                    let (msg, code, close) = ended_frame(&ev);
                    self.fatal(&msg, code, close).await;
                    return End::Fatal(None);
                }
                Err(e) => {
                    let (msg, code) = session_error(e);
                    error_frame(false, &msg, code)
                }
            };
            if !self.send(&reply).await {
                return End::Dropped;
            }
        }
    }

    /// The next text frame (binary frames holding UTF-8 are read as text too).
    async fn next_text(&mut self) -> Next {
        loop {
            let msg = match self.socket.recv().await {
                None => return Next::Gone,
                Some(Err(e)) => {
                    let text = e.to_string();
                    if text.contains("too long") || text.contains("Space limit") {
                        return Next::Bad(
                            format!("frame larger than the transport's limit: {text}"),
                            1009,
                        );
                    }
                    tracing::debug!(%e, "websocket read failed");
                    return Next::Gone;
                }
                Some(Ok(m)) => m,
            };
            let text = match msg {
                Message::Text(t) => t.to_string(),
                Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                    Ok(t) => t,
                    Err(_) => {
                        return Next::Bad("binary frames must hold UTF-8 JSON".into(), 400);
                    }
                },
                Message::Close(_) => return Next::Gone,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if text.len() > self.cfg.frame_limit {
                return Next::Bad(
                    format!(
                        "frame of {} bytes is larger than the limit of {} bytes (ws_frame_limit_bytes)",
                        text.len(),
                        self.cfg.frame_limit
                    ),
                    413,
                );
            }
            return Next::Text(text);
        }
    }

    async fn send(&mut self, frame: &Value) -> bool {
        self.socket
            .send(Message::Text(frame.to_string().into()))
            .await
            .is_ok()
    }

    /// A fatal frame is the last frame: then the socket closes.
    async fn fatal(&mut self, message: &str, code: u16, close: u16) {
        tracing::info!(%message, code, "websocket fatal");
        self.send(&error_frame(true, message, code)).await;
        self.close_socket(close, "").await;
    }

    async fn close_socket(&mut self, code: u16, why: &str) {
        let frame = CloseFrame {
            code,
            reason: why.into(),
        };
        let _ = self.socket.send(Message::Close(Some(frame))).await;
    }

    async fn end_session(&mut self, id: &str, status: Status, why: &str) {
        match self.sessions.close_as(&self.tenant, id, status, why).await {
            Ok(_) | Err(SessionError::NotActive(_)) => {}
            Err(e) => tracing::warn!(session = %id, %e, "could not end a websocket session"),
        }
    }
}

enum Next {
    Text(String),
    /// A frame we cannot take: message and error code.
    Bad(String, u16),
    Gone,
}

/// Waits until `id` ends without its client asking.
async fn next_end(ended: &mut tokio::sync::broadcast::Receiver<Ended>, id: &str) -> Ended {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match ended.recv().await {
            Ok(ev) if ev.id == id => return ev,
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => std::future::pending::<()>().await,
        }
    }
}

/// The fatal frame (message, code) and close code for a session that ended under the socket.
fn ended_frame(ev: &Ended) -> (String, u16, u16) {
    let detail = ev
        .error
        .as_deref()
        .map(|e| format!(": {e}"))
        .unwrap_or_default();
    match ev.reason.as_str() {
        reason::SHUTDOWN => ("the server is shutting down".into(), 503, GOING_AWAY),
        reason::BROWSER_CRASHED | reason::PAGE_CRASHED => (
            format!("the session's browser died ({}){detail}", ev.reason),
            502,
            SERVER_ERROR,
        ),
        reason::EXPIRED => (
            "the session's TTL ran out; open a new session to go on".into(),
            410,
            NORMAL,
        ),
        other => (format!("the session ended ({other}){detail}"), 410, NORMAL),
    }
}

/// A session failure as an error frame's message and code: the shared mapping's.
fn session_error(e: SessionError) -> (String, u16) {
    let err = super::errors::session_failure(e);
    (err.message, err.status.as_u16())
}
