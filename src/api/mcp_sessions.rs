//! A cap on the MCP connections (`Mcp-Session-Id`) each tenant holds over streamable HTTP.
//! rmcp keeps a connection until it is deleted or idle for its keep-alive (5 minutes), with no
//! count of its own: without a cap one tenant's initialize loop would grow the server's memory
//! for everyone. Past the cap an `initialize` answers 429 naming it; other requests pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use super::errors::ApiError;
use super::mcp::McpCaller;

/// Connections counted per tenant at most, across the server.
pub const MAX_TENANTS_TRACKED: usize = 100_000;

pub struct McpSessionCap {
    pub manager: Arc<LocalSessionManager>,
    pub per_tenant: usize,
    /// The connections each tenant opened (some may have expired in rmcp since).
    owned: Mutex<HashMap<String, Vec<String>>>,
}

impl McpSessionCap {
    pub fn new(manager: Arc<LocalSessionManager>, per_tenant: usize) -> Self {
        Self {
            manager,
            per_tenant,
            owned: Mutex::new(HashMap::new()),
        }
    }

    /// The tenant's connections that rmcp still holds (forgetting the others).
    async fn live_count(&self, tenant: &str) -> usize {
        let ids: Vec<String> = self
            .owned
            .lock()
            .map(|m| m.get(tenant).cloned().unwrap_or_default())
            .unwrap_or_default();
        if ids.is_empty() {
            return 0;
        }
        let live: Vec<String> = {
            let held = self.manager.sessions.read().await;
            ids.into_iter()
                .filter(|id| held.keys().any(|k| k.as_ref() == id.as_str()))
                .collect()
        };
        let n = live.len();
        if let Ok(mut m) = self.owned.lock() {
            if live.is_empty() {
                m.remove(tenant);
            } else {
                m.insert(tenant.to_string(), live);
            }
        }
        n
    }

    fn record(&self, tenant: &str, id: String) {
        if let Ok(mut m) = self.owned.lock() {
            if m.len() >= MAX_TENANTS_TRACKED && !m.contains_key(tenant) {
                return;
            }
            m.entry(tenant.to_string()).or_default().push(id);
        }
    }
}

/// Whether a JSON-RPC body (one message or a batch) holds an `initialize`.
fn initializes(body: &[u8]) -> bool {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Array(batch)) => batch.iter().any(|m| m["method"] == "initialize"),
        Ok(m) => m["method"] == "initialize",
        Err(_) => false,
    }
}

pub async fn capped(State(cap): State<Arc<McpSessionCap>>, req: Request, next: Next) -> Response {
    let tenant = req
        .extensions()
        .get::<McpCaller>()
        .map(|c| c.tenant.clone());
    let opens = req.method() == Method::POST && !req.headers().contains_key("mcp-session-id");
    let (Some(tenant), true) = (tenant, opens) else {
        return next.run(req).await;
    };
    let (parts, body) = req.into_parts();
    // The outer body limit has already bounded it.
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return ApiError::bad_request(format!("request body: {e}")).into_response(),
    };
    if initializes(&bytes) && cap.live_count(&tenant).await >= cap.per_tenant {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "this tenant already holds {} MCP connections, the limit (max_mcp_sessions_per_tenant); \
                 close one (DELETE /mcp with its Mcp-Session-Id) or wait for an idle one to expire",
                cap.per_tenant
            ),
        )
        .into_response();
    }
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    if let Some(id) = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        cap.record(&tenant, id.to_string());
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::initializes;

    #[test]
    fn only_an_initialize_opens_a_connection() {
        assert!(initializes(
            br#"{"jsonrpc":"2.0","id":1,"method":"initialize"}"#
        ));
        assert!(initializes(
            br#"[{"method":"ping"},{"method":"initialize"}]"#
        ));
        assert!(!initializes(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#
        ));
        assert!(!initializes(b"not json"));
    }
}
