//! Error answers: `{"success": false, "error": "..."}` plus protocol-specific fields, and the
//! one mapping from engine and session failures to HTTP status codes.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{Map, Value};

use crate::engine::EngineError;
use crate::sessions::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    /// Extra fields merged into the body (session, expiresInSeconds, diagnostics, ...).
    pub extra: Map<String, Value>,
    /// `WWW-Authenticate` to send (401 defaults to `Bearer`).
    pub challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            extra: Map::new(),
            challenge: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn challenge(mut self, value: String) -> Self {
        self.challenge = Some(value);
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }
}

/// The status an engine failure answers with, whatever the protocol.
pub fn engine_status(e: &EngineError) -> StatusCode {
    match e {
        EngineError::BadInput(_)
        | EngineError::NoMatch { .. }
        | EngineError::Blocked(_)
        | EngineError::Stale(_) => StatusCode::BAD_REQUEST,
        EngineError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
        EngineError::NotFound(_) => StatusCode::NOT_FOUND,
        EngineError::Navigation(_) => StatusCode::BAD_GATEWAY,
        EngineError::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        EngineError::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        EngineError::Browser(_) | EngineError::Launch(_) | EngineError::Unavailable(_) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        EngineError::Unresponsive(_) => StatusCode::GATEWAY_TIMEOUT,
        EngineError::PageGone(_) | EngineError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let mut err = ApiError::new(engine_status(&e), e.to_string());
        if let EngineError::NoMatch { details, .. } = e {
            if let Ok(Value::Object(fields)) = serde_json::to_value(&details) {
                err.extra.extend(fields);
            }
        }
        err
    }
}

/// How every protocol answers a failed session request: one status and message per kind of
/// failure, the same over HTTP (Capture, Notte) and in WebSocket error frames (`code`). Each
/// protocol only adds its own extra fields (Capture: the session and `expiresInSeconds`;
/// Notte: its session object). A session that ended under an open socket is another event
/// (a fatal frame, `ws::ended_frame`), not a failed request.
pub fn session_failure(e: crate::sessions::SessionError) -> ApiError {
    use crate::sessions::SessionError;
    match e {
        SessionError::NotFound => ApiError::not_found("session not found"),
        SessionError::NotActive(rec) => ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "session is not active (status {}, reason {})",
                rec.status.label(),
                rec.close_reason.as_deref().unwrap_or("unknown")
            ),
        ),
        SessionError::Limit(s) | SessionError::Store(s) => s.into(),
        e @ SessionError::Busy { .. } => {
            ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
        }
        SessionError::BadInput(m) => ApiError::bad_request(m),
        SessionError::Action { error, .. } | SessionError::Engine(error) => error.into(),
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::TenantLimit { active, max } | StoreError::GlobalLimit { active, max } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, e.to_string())
                    .with("activeSessionCount", Value::from(active))
                    .with("maxConcurrentSessions", Value::from(max))
            }
            StoreError::Unavailable(_) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
            }
        }
    }
}

/// Longest error message answered: a message that quotes a hostile value (a 100,000-character
/// field in a parse error) is cut, saying how much.
const MAX_MESSAGE_CHARS: usize = 2000;

fn capped(message: String) -> String {
    let total = message.chars().count();
    if total <= MAX_MESSAGE_CHARS {
        return message;
    }
    let keep: String = message.chars().take(MAX_MESSAGE_CHARS).collect();
    format!("{keep}… ({} more characters)", total - MAX_MESSAGE_CHARS)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("success".into(), Value::Bool(false));
        body.insert("error".into(), Value::String(capped(self.message)));
        for (k, v) in self.extra {
            body.entry(k).or_insert(v);
        }
        let mut resp = (self.status, Json(Value::Object(body))).into_response();
        let challenge = match self.challenge {
            Some(c) => HeaderValue::from_str(&c).ok(),
            None if self.status == StatusCode::UNAUTHORIZED => {
                Some(HeaderValue::from_static("Bearer"))
            }
            None => None,
        };
        if let Some(c) = challenge {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, c);
        }
        resp
    }
}

/// A request body, read under the size limit; an oversized or broken body answers in the
/// protocol's error shape (413 `{success:false, error}`), not as plain text.
pub struct Body(pub axum::body::Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::body::Bytes::from_request(req, state).await {
            Ok(b) => Ok(Body(b)),
            Err(r) => {
                let text = r.body_text();
                if text.contains("timeout") {
                    return Err(ApiError::new(
                        StatusCode::REQUEST_TIMEOUT,
                        "request body refused: it did not arrive within body_read_timeout_seconds",
                    ));
                }
                Err(ApiError::new(
                    r.status(),
                    format!("request body refused: {text}"),
                ))
            }
        }
    }
}

/// Gives a plain-text 413 from the body-limit layer the `{success:false, error}` shape.
pub async fn json_payload_too_large(resp: Response) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE && !is_json {
        return ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body refused: length limit exceeded",
        )
        .into_response();
    }
    resp
}

/// A query string that does not parse (`limit=abc`), in the protocol's error shape.
pub fn bad_query(e: axum::extract::rejection::QueryRejection) -> ApiError {
    ApiError::bad_request(format!("query: {}", e.body_text()))
}

/// Parses a JSON body, naming the failing field (`payload.fullPage: invalid type ...`).
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], what: &str) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            ApiError::bad_request(format!("invalid {what}: {inner}"))
        } else {
            ApiError::bad_request(format!("invalid {what}: {path}: {inner}"))
        }
    })
}

/// Like [`parse_json`], but an empty (or blank) body means all defaults: clients may omit it.
pub fn parse_json_or_default<T: serde::de::DeserializeOwned + Default>(
    bytes: &[u8],
    what: &str,
) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes, what)
}

/// The answer when a request's handler panicked (a bug, logged): a JSON 500 in the protocol's
/// error shape; the connection and every other request go on.
pub fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("unknown");
    tracing::error!(panic = %detail, "request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "the server failed while answering this request; it was logged",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_messages_are_cut_and_say_so() {
        assert_eq!(capped("short".into()), "short");
        let long = capped("x".repeat(100_000));
        assert!(
            long.ends_with("… (98000 more characters)"),
            "{}",
            &long[long.len() - 40..]
        );
        assert_eq!(
            long.chars().filter(|c| *c == 'x').count(),
            MAX_MESSAGE_CHARS
        );
    }
}
