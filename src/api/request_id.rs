//! A request id on every request: the caller's `X-Request-Id` when it is a sane token (1–128
//! characters of `A-Za-z0-9._:-`), else a new UUID. It is on every log line of the request
//! (a tracing span), echoed in the answer's `X-Request-Id`, and put into every JSON error
//! body as `request_id`, so a user's bug report names the log lines to read.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

pub const HEADER: &str = "x-request-id";

/// Largest error body rewritten to carry the id (error bodies are small; others pass as is).
const MAX_ERROR_BODY: usize = 64 * 1024;

fn sane(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let value = HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("invalid"));
    req.headers_mut().insert(HEADER, value.clone());
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = next.run(req).instrument(span).await;
    resp.headers_mut().insert(HEADER, value);
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(resp.status().is_client_error() || resp.status().is_server_error()) || !is_json {
        return resp;
    }
    // Only a body of known, small size is rewritten; any other passes untouched.
    let small = axum::body::HttpBody::size_hint(resp.body())
        .exact()
        .is_some_and(|n| n <= MAX_ERROR_BODY as u64);
    if !small {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    let out = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut m)) => {
            m.entry("request_id")
                .or_insert(serde_json::Value::String(id));
            serde_json::to_vec(&m)
                .map(axum::body::Bytes::from)
                .unwrap_or(bytes)
        }
        _ => bytes,
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}

#[cfg(test)]
mod tests {
    use super::sane;

    #[test]
    fn only_sane_ids_are_kept() {
        assert!(sane("abc-123_x.y:z"));
        assert!(sane(&"a".repeat(128)));
        assert!(!sane(&"a".repeat(129)));
        assert!(!sane(""));
        assert!(!sane("a b"));
        assert!(!sane("a\nb"));
        assert!(!sane("é"));
    }
}
