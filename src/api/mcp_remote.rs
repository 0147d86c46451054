//! MCP onto a running pagepilot (rmcp's streamable HTTP client): `pagepilot mcp --url` serves
//! stdio by passing each tool call to the server's `/mcp`, and an instance passes a call to
//! the instance holding the session's browser (several behind Redis).

use std::collections::HashMap;
use std::sync::Mutex;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, ListToolsResult,
    PaginatedRequestParams, ServerConfig,
};
use rmcp::service::{RequestContext, RunningService};
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ErrorData, RoleClient, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value};

type Client = RunningService<RoleClient, ()>;
/// A call on the client connection, as [`Remote::with_client`] runs it.
type Boxed<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send + 'a>>;

/// Installs ring as rustls's provider once (rmcp's HTTP client is built without one, so no
/// second crypto backend is compiled in).
fn tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Connects an MCP client to `url` with a bearer `token`; `forwarded` marks the calls as
/// passed on by another instance (never passed on again).
pub async fn connect(url: &str, token: &str, forwarded: bool) -> Result<Client, String> {
    tls_provider();
    let mut headers = HashMap::new();
    if forwarded {
        headers.insert(
            axum::http::HeaderName::from_static(super::route::FORWARDED),
            axum::http::HeaderValue::from_static("1"),
        );
    }
    let mut config =
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).custom_headers(headers);
    if !token.is_empty() {
        config = config.auth_header(token.to_string());
    }
    let transport = StreamableHttpClientTransport::from_config(config);
    ().serve(transport)
        .await
        .map_err(|e| format!("cannot reach the MCP server at {url}: {e}"))
}

/// One tool call on a fresh connection (a call forwarded to the session's instance).
pub async fn call_once(
    url: &str,
    token: &str,
    forwarded: bool,
    tool: &str,
    input: Map<String, Value>,
) -> Result<CallToolResult, String> {
    let client = connect(url, token, forwarded).await?;
    let answer = client
        .call_tool(CallToolRequestParams::new(tool.to_string()).with_arguments(input))
        .await
        .map_err(|e| format!("the instance holding the session did not answer: {e}"));
    let _ = client.cancel().await;
    answer
}

/// Tools that never name a session (nothing to fill in).
const SESSIONLESS: [&str; 2] = ["session_start", "session_list"];

/// `pagepilot mcp --url`: the stdio server passing every call to a running pagepilot. It keeps
/// this connection's current session itself (the server's HTTP side has no connection to key
/// it by), filling `session_id` in where a call has none.
pub struct Remote {
    url: String,
    token: String,
    client: tokio::sync::Mutex<Option<Client>>,
    current: Mutex<Option<String>>,
}

impl Remote {
    pub async fn start(url: &str, token: &str) -> Result<Self, String> {
        let url = format!("{}/mcp", url.trim_end_matches('/').trim_end_matches("/mcp"));
        let client = connect(&url, token, false).await?;
        Ok(Self {
            url,
            token: token.to_string(),
            client: tokio::sync::Mutex::new(Some(client)),
            current: Mutex::new(None),
        })
    }

    /// Runs `f` on the connection, reconnecting once if it has gone (the server restarted).
    async fn with_client<T, F>(&self, f: F) -> Result<T, String>
    where
        F: for<'a> Fn(&'a Client) -> Boxed<'a, T>,
    {
        let mut guard = self.client.lock().await;
        if let Some(c) = guard.as_ref() {
            if let Ok(v) = f(c).await {
                return Ok(v);
            }
        }
        let fresh = connect(&self.url, &self.token, false).await?;
        let answer = f(&fresh).await;
        *guard = Some(fresh);
        answer
    }
}

impl ServerHandler for Remote {
    fn get_info(&self) -> ServerConfig {
        super::mcp::McpTools::info()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let tools = self
            .with_client(|c| {
                Box::pin(async move { c.list_all_tools().await.map_err(|e| e.to_string()) })
            })
            .await
            .map_err(|e| ErrorData::internal_error(e, None))?;
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let name = request.name.to_string();
        let mut input = request.arguments.unwrap_or_default();
        let named = input.get("session_id").and_then(Value::as_str).is_some();
        if !named && !SESSIONLESS.contains(&name.as_str()) {
            if let Some(id) = self.current.lock().ok().and_then(|c| c.clone()) {
                input.insert("session_id".into(), Value::from(id));
            }
        }
        let params = CallToolRequestParams::new(name.clone()).with_arguments(input);
        let answer = self
            .with_client(|c| {
                let p = params.clone();
                Box::pin(async move { c.call_tool(p).await.map_err(|e| e.to_string()) })
            })
            .await;
        let mut result = match answer {
            Ok(r) => r,
            Err(e) => CallToolResult::error(vec![ContentBlock::text(e)]),
        };
        // The server's answer, said again to this client: complete (the field a 2026-07-28
        // client requires is not kept by the client side of the SDK).
        result.result_type = Some(rmcp::model::ResultType::COMPLETE);
        let answered = result
            .structured_content
            .as_ref()
            .and_then(|s| s.get("session_id"))
            .and_then(Value::as_str)
            .map(str::to_string);
        if let (Ok(mut cur), Some(id)) = (self.current.lock(), answered) {
            *cur = (name != "session_stop" && result.is_error != Some(true)).then_some(id);
        }
        Ok(result.into())
    }
}
