//! Several instances behind one address: a request for a session whose browser lives on
//! another instance is forwarded there with the caller's own credentials, and the owner's
//! answer is returned unchanged. One layer for every session route of every HTTP protocol
//! (WebSocket sessions stay on the instance holding the socket). A forwarded request carries
//! `X-Pagepilot-Forwarded` and is never forwarded again, so loops cannot happen.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::Tenant;
use super::errors::ApiError;
use super::AppState;
use crate::sessions::{Route, SessionError};

pub const FORWARDED: &str = "x-pagepilot-forwarded";

/// The HTTP client instances forward with.
pub struct Forwarder {
    client: reqwest::Client,
    body_limit: usize,
}

impl Forwarder {
    pub fn new(action_timeout: Duration, body_limit: usize) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(3))
            // The owner answers within its action deadline; a batch or a slow page may use it all.
            .timeout(action_timeout + Duration::from_secs(15))
            .build()
            .map_err(|e| format!("cannot build the forwarding client: {e}"))?;
        Ok(Self { client, body_limit })
    }
}

/// The session id a path names: `/v1/sessions/{id}...` (Capture) or `/sessions/{id}...` (agent).
fn session_id(path: &str) -> Option<&str> {
    let mut parts = path.trim_start_matches('/').split('/');
    let id = match (parts.next(), parts.next(), parts.next()) {
        (Some("v1"), Some("sessions"), Some(id)) if id != "ws" => id,
        (Some("sessions"), Some(id), _) if id != "start" => id,
        _ => return None,
    };
    (!id.is_empty()).then_some(id)
}

pub async fn to_owner(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if st.sessions.instance_id().is_none() || req.headers().contains_key(FORWARDED) {
        return next.run(req).await;
    }
    let Some(id) = session_id(req.uri().path()).map(str::to_string) else {
        return next.run(req).await;
    };
    // Nothing is forwarded for a caller who is not authenticated.
    let (mut parts, body) = req.into_parts();
    if let Err(e) = Tenant::from_request_parts(&mut parts, &st).await {
        return e.into_response();
    }
    let req = Request::from_parts(parts, body);
    match st.sessions.route(&id).await {
        Ok(Route::Local) => next.run(req).await,
        Ok(Route::Owner { instance, address }) => forward(&st, req, &instance, &address).await,
        Err(SessionError::Store(e)) => ApiError::from(e).into_response(),
        Err(e) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Headers that belong to one connection, not to the request (RFC 9110 §7.6.1).
fn hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "host"
            | "content-length"
    )
}

async fn forward(st: &AppState, req: Request, instance: &str, address: &str) -> Response {
    crate::telemetry::forwarded();
    let fw = &st.forwarder;
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let url = format!("{}{path}", address.trim_end_matches('/'));
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, fw.body_limit).await {
        Ok(b) => b,
        Err(_) => {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("request body larger than {} bytes", fw.body_limit),
            )
            .into_response()
        }
    };
    let mut out = fw.client.request(parts.method.clone(), &url);
    for (name, value) in parts.headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        out = out.header(name, value);
    }
    let me = st.sessions.instance_id().unwrap_or_default().to_string();
    let sent = out.header(FORWARDED, me).body(bytes).send().await;
    let resp = match sent {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!(%instance, %url, %e, "owner instance did not answer");
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the instance holding this session ({instance}) did not answer: {e}"),
            )
            .into_response();
        }
    };
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => {
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                format!("the answer of instance {instance} broke off: {e}"),
            )
            .into_response()
        }
    };
    let mut answer = Response::new(Body::from(body));
    *answer.status_mut() = status;
    for (name, value) in headers.iter().filter(|(n, _)| !hop_by_hop(n)) {
        answer.headers_mut().append(name, value.clone());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_paths() {
        assert_eq!(session_id("/v1/sessions/sess_1/actions"), Some("sess_1"));
        assert_eq!(session_id("/v1/sessions/sess_1"), Some("sess_1"));
        assert_eq!(session_id("/sessions/abc/page/observe"), Some("abc"));
        assert_eq!(session_id("/v1/sessions"), None);
        assert_eq!(session_id("/v1/sessions/ws"), None);
        assert_eq!(session_id("/sessions/start"), None);
        assert_eq!(session_id("/sessions"), None);
        assert_eq!(session_id("/healthz"), None);
    }
}
