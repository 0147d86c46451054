//! Test harness: a real pagepilot server (port 0, real Chromium) and a fixture server on
//! 127.0.0.1 (port 0), plus a second "denied" fixture host on 127.0.0.2 that counts hits.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use pagepilot::config::Config;
use serde_json::{json, Value};

pub const ALICE: (&str, &str) = ("alice", "alice-secret");
pub const BOB: (&str, &str) = ("bob", "bob-secret");
/// OAuth clients of the test server (client id = tenant, as the Capture secrets above).
pub const ALICE_CLIENT: (&str, &str) = ("alice", "alice-oauth-secret");
pub const BOB_CLIENT: (&str, &str) = ("bob", "bob-oauth-secret");
/// The test server's HS256 key, so tests can mint tokens (expired, misaddressed, ...).
pub const JWT_SECRET: &str = "test-only-jwt-secret-0123456789abcdef";
/// The cluster tests' profile sealing key.
pub const PROFILE_KEY: &str = "test-only-profile-key-0123456789abcdef";

pub fn token(who: (&str, &str)) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", who.0, who.1))
}

/// Fixture pages on 127.0.0.1 and a denied host on 127.0.0.2.
pub struct Fixtures {
    pub addr: SocketAddr,
    pub denied: SocketAddr,
    pub denied_hits: Arc<AtomicUsize>,
    denied_paths: Paths,
}

type Paths = Arc<std::sync::Mutex<Vec<String>>>;

impl Fixtures {
    pub async fn start() -> Self {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
        let app = Router::new()
            .route("/redirect", get(redirect))
            .route("/status", get(status))
            .route("/echo", axum::routing::any(echo))
            .route("/flaky", get(flaky))
            .route("/header", get(with_header))
            .route("/big", get(big_body))
            .route("/download", get(download))
            .with_state(Arc::new(std::sync::Mutex::new(
                std::collections::HashMap::new(),
            )))
            .fallback_service(tower_http::services::ServeDir::new(dir));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fixtures");
        let addr = listener.local_addr().expect("fixture addr");
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });

        let denied_hits = Arc::new(AtomicUsize::new(0));
        let denied_paths: Paths = Arc::default();
        let denied_app =
            Router::new()
                .fallback(
                    |State((hits, paths)): State<(Arc<AtomicUsize>, Paths)>,
                     uri: axum::http::Uri| async move {
                        hits.fetch_add(1, Ordering::SeqCst);
                        if let Ok(mut p) = paths.lock() {
                            p.push(uri.path().to_string());
                        }
                        "SECRET-FROM-DENIED-HOST"
                    },
                )
                .with_state((denied_hits.clone(), denied_paths.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0")
            .await
            .expect("bind 127.0.0.2");
        let denied = listener.local_addr().expect("denied addr");
        tokio::spawn(async move { axum::serve(listener, denied_app).await.ok() });
        Self {
            addr,
            denied,
            denied_hits,
            denied_paths,
        }
    }

    /// The paths the denied host was asked for, in order.
    pub fn denied_paths(&self) -> Vec<String> {
        self.denied_paths
            .lock()
            .map(|p| p.clone())
            .unwrap_or_default()
    }

    /// The denied host's port (it listens on 127.0.0.2).
    pub fn denied_port(&self) -> u16 {
        self.denied.port()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn denied_url(&self, path: &str) -> String {
        format!("http://{}{}", self.denied, path)
    }

    pub fn denied_hits(&self) -> usize {
        self.denied_hits.load(Ordering::SeqCst)
    }
}

#[derive(serde::Deserialize)]
struct RedirectQuery {
    to: String,
    /// The exact status to answer (default 302).
    code: Option<u16>,
    /// A `Set-Cookie` to send along, e.g. `sid=abc; Path=/`.
    cookie: Option<String>,
}

async fn redirect(Query(q): Query<RedirectQuery>) -> Response {
    let code = StatusCode::from_u16(q.code.unwrap_or(302)).unwrap_or(StatusCode::FOUND);
    let mut resp = (code, [(header::LOCATION, q.to.clone())]).into_response();
    if let Some(c) = q
        .cookie
        .and_then(|c| header::HeaderValue::from_str(&c).ok())
    {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

/// Answers what it received: method, path, query, headers and body, as JSON.
async fn echo(
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut hs = serde_json::Map::new();
    for (n, v) in &headers {
        hs.insert(
            n.as_str().to_string(),
            Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()),
        );
    }
    let v = json!({
        "method": method.as_str(),
        "path": uri.path(),
        "query": uri.query(),
        "headers": hs,
        "body": String::from_utf8_lossy(&body),
    });
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::SET_COOKIE, "echoed=1; Path=/; HttpOnly"),
        ],
        v.to_string(),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct FlakyQuery {
    key: String,
    fail: usize,
}

type Hits = Arc<std::sync::Mutex<std::collections::HashMap<String, usize>>>;

/// Answers 503 to the first `fail` requests of each `key`, then 200 with the attempt number.
async fn flaky(State(hits): State<Hits>, Query(q): Query<FlakyQuery>) -> Response {
    let n = {
        let mut h = hits.lock().expect("hits");
        let n = h.entry(q.key).or_insert(0);
        *n += 1;
        *n
    };
    if n <= q.fail {
        return (StatusCode::SERVICE_UNAVAILABLE, "try again").into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/html")],
        format!("<title>attempt {n}</title>"),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct HeaderQuery {
    name: String,
    value: String,
}

/// A small HTML page answered with one header of the caller's choosing (hostile values too).
async fn with_header(Query(q): Query<HeaderQuery>) -> Response {
    let mut resp = (
        [(header::CONTENT_TYPE, "text/html")],
        "<title>with header</title><p>header page</p>",
    )
        .into_response();
    if let (Ok(n), Ok(v)) = (
        header::HeaderName::from_bytes(q.name.as_bytes()),
        header::HeaderValue::from_str(&q.value),
    ) {
        resp.headers_mut().append(n, v);
    }
    resp
}

#[derive(serde::Deserialize)]
struct BigQuery {
    mib: usize,
}

/// An HTML page of `mib` MiB (a body over the clients' cap).
async fn big_body(Query(q): Query<BigQuery>) -> Response {
    let mut page = String::from("<title>big</title><p>");
    page.push_str(&"b".repeat(q.mib.min(64) * 1024 * 1024));
    ([(header::CONTENT_TYPE, "text/html")], page).into_response()
}

#[derive(serde::Deserialize)]
struct DownloadQuery {
    bytes: usize,
    name: String,
}

/// The bytes `/download?bytes=N` answers: `0123456789` repeated, cut at N.
pub fn download_bytes(n: usize) -> Vec<u8> {
    b"0123456789".iter().copied().cycle().take(n).collect()
}

/// A file answered as an attachment (`Content-Disposition`), `bytes` long (at most 64 MiB).
async fn download(Query(q): Query<DownloadQuery>) -> Response {
    let disposition = format!("attachment; filename=\"{}\"", q.name.replace('"', ""));
    (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_string()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        download_bytes(q.bytes.min(64 << 20)),
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct StatusQuery {
    code: u16,
}

async fn status(Query(q): Query<StatusQuery>) -> Response {
    let code = StatusCode::from_u16(q.code).unwrap_or(StatusCode::OK);
    (
        code,
        [(header::CONTENT_TYPE, "text/html")],
        format!("<title>status {}</title>", q.code),
    )
        .into_response()
}

/// The test config: loopback allowed (fixtures), 127.0.0.2 denied, two tenants.
pub fn config() -> Config {
    let state = std::env::temp_dir().join(format!("pagepilot-test-{}", uuid::Uuid::new_v4()));
    Config {
        port: 0,
        allow_private_network: true,
        deny_hosts: vec!["127.0.0.2".into()],
        api_secrets: vec![
            format!("{}:{}", ALICE.0, ALICE.1),
            format!("{}:{}", BOB.0, BOB.1),
        ],
        oauth_clients: vec![
            format!("{}:{}", ALICE_CLIENT.0, ALICE_CLIENT.1),
            format!("{}:{}", BOB_CLIENT.0, BOB_CLIENT.1),
        ],
        jwt_secret: Some(JWT_SECRET.into()),
        state_dir: state,
        pool_size: 1,
        ..Config::default()
    }
}

/// A running server plus an HTTP client speaking to it.
pub struct Pp {
    pub server: Option<pagepilot::Server>,
    pub base: String,
    pub http: reqwest::Client,
}

impl Pp {
    pub async fn start(cfg: Config) -> Self {
        let server = pagepilot::start(cfg).await.expect("server starts");
        let base = format!("http://{}", server.addr);
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("client");
        Self {
            server: Some(server),
            base,
            http,
        }
    }

    pub async fn default() -> Self {
        Self::start(config()).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown().await;
        }
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        who: Option<(&str, &str)>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(w) = who {
            req = req.bearer_auth(token(w));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        let mut v = serde_json::from_str(&text).unwrap_or(Value::String(text));
        // Every error body names its request id, which differs per request: tests compare
        // answers without it (tests/capture_errors.rs checks it).
        if let Some(m) = v.as_object_mut() {
            m.remove("request_id");
        }
        (status, v)
    }

    pub async fn raw(
        &self,
        method: reqwest::Method,
        path: &str,
        who: (&str, &str),
        body: &str,
    ) -> (u16, Value) {
        let resp = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .bearer_auth(token(who))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// Creates a session for `who` and returns its id (panics unless 201).
    pub async fn session(&self, who: (&str, &str), body: Value) -> String {
        let (status, v) = self
            .send(reqwest::Method::POST, "/v1/sessions", Some(who), Some(body))
            .await;
        assert_eq!(status, 201, "create: {v}");
        v["session"]["id"].as_str().expect("session id").to_string()
    }

    /// Creates a session for `who` and runs a `goto` (the payload) in it; returns its id.
    pub async fn session_at(&self, who: (&str, &str), goto: Value) -> String {
        let id = self.session(who, json!({})).await;
        self.ok(who, &id, "goto", goto).await;
        id
    }

    pub async fn act(
        &self,
        who: (&str, &str),
        id: &str,
        kind: &str,
        payload: Value,
    ) -> (u16, Value) {
        self.send(
            reqwest::Method::POST,
            &format!("/v1/sessions/{id}/actions"),
            Some(who),
            Some(json!({ "type": kind, "payload": payload })),
        )
        .await
    }

    /// Runs an action that must succeed and returns its answer.
    pub async fn ok(&self, who: (&str, &str), id: &str, kind: &str, payload: Value) -> Value {
        let (status, v) = self.act(who, id, kind, payload.clone()).await;
        assert_eq!(status, 200, "{kind} {payload}: {v}");
        assert_eq!(v["success"], true, "{kind}: {v}");
        assert!(
            v["expiresInSeconds"].as_u64().is_some(),
            "{kind} lacks expiresInSeconds: {v}"
        );
        v
    }

    pub async fn get(&self, who: (&str, &str), id: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::GET,
            &format!("/v1/sessions/{id}"),
            Some(who),
            None,
        )
        .await
    }

    pub async fn delete(&self, who: (&str, &str), id: &str) -> (u16, Value) {
        self.send(
            reqwest::Method::DELETE,
            &format!("/v1/sessions/{id}"),
            Some(who),
            None,
        )
        .await
    }

    pub async fn health(&self) -> Value {
        self.send(reqwest::Method::GET, "/healthz", None, None)
            .await
            .1
    }

    /// Text of the first element matching `selector`.
    pub async fn text(&self, who: (&str, &str), id: &str, selector: &str) -> String {
        let v = self
            .ok(
                who,
                id,
                "query",
                json!({ "selector": selector, "fields": ["text"], "limit": 1 }),
            )
            .await;
        v["elements"][0]["text"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Polls until `f` holds or `timeout` passes.
    pub async fn eventually<F, Fut>(&self, timeout: Duration, mut f: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if f().await {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    }
}

/// The test venv's python (capture-sdk and notte-sdk installed by `./dev.sh test`).
pub fn venv_python() -> std::path::PathBuf {
    let venv = std::env::var_os("PAGEPILOT_TEST_VENV")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                .join(".cache/pagepilot/venv")
        });
    let python = venv.join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run the suite with ./dev.sh test, which installs the Python clients in a venv",
        python.display()
    );
    python
}

/// Runs `tests/python/<script>` with `args` in the test venv; panics with its output unless it
/// exits 0 and prints `<ok_line>`.
pub async fn run_python_flow(script: &str, args: &[&str], ok_line: &str) {
    let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/python")
        .join(script);
    let out = tokio::process::Command::new(venv_python())
        .arg(path)
        .args(args)
        .env("DISABLE_TELEMETRY", "true")
        .output()
        .await
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(ok_line), "{stdout}");
}

/// A WebSocket client of `/v1/sessions/ws` (tokio-tungstenite), one JSON frame at a time.
pub struct Ws {
    pub stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// Deadline of one frame read in the tests.
pub const FRAME_WAIT: Duration = Duration::from_secs(30);

impl Ws {
    /// Opens the socket with a bearer token and extra headers; the HTTP status on refusal.
    pub async fn connect_with(
        pp: &Pp,
        bearer: &str,
        headers: &[(&str, &str)],
    ) -> Result<Self, u16> {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let url = format!("{}/v1/sessions/ws", pp.base.replace("http://", "ws://"));
        let mut req = url.into_client_request().expect("ws request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {bearer}").parse().expect("header"),
        );
        for (n, v) in headers {
            req.headers_mut().insert(
                axum::http::HeaderName::from_bytes(n.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        match tokio_tungstenite::connect_async_with_config(req, None, true).await {
            Ok((stream, _)) => Ok(Self { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
            Err(e) => panic!("websocket connect failed: {e}"),
        }
    }

    pub async fn connect(pp: &Pp, who: (&str, &str)) -> Self {
        Self::connect_with(pp, &token(who), &[])
            .await
            .expect("websocket opens")
    }

    /// Connects and sends `open`; returns the socket and the session id.
    pub async fn open(pp: &Pp, who: (&str, &str), open: Value) -> (Self, String) {
        let mut ws = Self::connect(pp, who).await;
        ws.send(&open).await;
        let v = ws.recv().await;
        let id = v["session_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no session_id in {v}"))
            .to_string();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "not a uuid: {id}");
        (ws, id)
    }

    pub async fn send(&mut self, v: &Value) {
        self.send_text(v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: String) {
        use futures_util::SinkExt;
        self.stream
            .send(tokio_tungstenite::tungstenite::Message::Text(text.into()))
            .await
            .expect("frame sent");
    }

    /// The next JSON frame; panics on a close or after FRAME_WAIT.
    pub async fn recv(&mut self) -> Value {
        match self.next().await {
            Some(v) => v,
            None => panic!("socket closed while a frame was expected"),
        }
    }

    /// The next JSON frame, or `None` once the socket closed.
    pub async fn next(&mut self) -> Option<Value> {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        loop {
            let msg = tokio::time::timeout(FRAME_WAIT, self.stream.next())
                .await
                .expect("a frame within FRAME_WAIT");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(&t).expect("frames are JSON"))
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Sends an action frame and returns its answer.
    pub async fn call(&mut self, v: Value) -> Value {
        self.send(&v).await;
        self.recv().await
    }

    /// Asserts the socket closes next (after any frames already read).
    pub async fn expect_closed(&mut self) {
        if let Some(v) = self.next().await {
            panic!("expected the socket to close, got {v}");
        }
    }
}

pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// Decodes a base64 JSON string (a frame's `body` or `content`) as text.
pub fn unb64(v: &Value) -> String {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or_else(|| panic!("not base64 text: {v}")))
        .expect("base64");
    String::from_utf8_lossy(&raw).into_owned()
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The echo fixture's JSON, from a goto (or clicked) frame's body.
pub fn echoed(frame: &Value) -> Value {
    serde_json::from_str(&unb64(&frame["body"])).unwrap_or_else(|e| panic!("{e}: {frame}"))
}

/// A stand-in upstream proxy on loopback: answers every request itself ("via proxy") and
/// records the URLs it was asked for.
pub async fn stand_in_proxy() -> (SocketAddr, Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::extract::OriginalUri;
    type Seen = Arc<std::sync::Mutex<Vec<String>>>;
    let seen: Seen = Arc::default();
    let app = Router::new()
        .fallback(
            |State(seen): State<Seen>, OriginalUri(uri): OriginalUri| async move {
                seen.lock().expect("seen").push(uri.to_string());
                axum::response::Html("<title>via proxy</title><p>proxied</p>")
            },
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind proxy");
    let addr = listener.local_addr().expect("proxy addr");
    tokio::spawn(async move { axum::serve(listener, app).await.ok() });
    (addr, seen)
}

/// Prints the median and p90 of `ms` (benchmarks).
pub fn stats(name: &str, mut ms: Vec<f64>) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let median = ms[ms.len() / 2];
    let p90 = ms[(ms.len() * 9 / 10).min(ms.len() - 1)];
    println!(
        "{name:<34} median {median:>8.2} ms   p90 {p90:>8.2} ms   (n={})",
        ms.len()
    );
}

/// Goes through a 301 then a 302 that sets `sid=abc` to `/ws/landing.html`, and checks what
/// the goto frame reports of it (both clients report it the same way).
pub async fn goto_redirect_chain(ws: &mut Ws, fx: &Fixtures) {
    let landing = fx.url("/ws/landing.html");
    let second = fx.url(&format!(
        "/redirect?code=302&cookie={}&to={}",
        enc("sid=abc; Path=/"),
        enc(&landing)
    ));
    let first = fx.url(&format!("/redirect?code=301&to={}", enc(&second)));
    let got = ws.call(json!({ "action": "goto", "url": first })).await;
    assert_eq!(got["action"], "goto", "{got}");
    assert_eq!(got["status_code"], 200);
    assert_eq!(got["url"], landing.as_str());
    assert_eq!(got["content_type"], "text/html");
    assert!(unb64(&got["body"]).contains("Landed"), "{got}");
    let redirects = got["redirects"].as_array().expect("redirects");
    assert_eq!(redirects.len(), 2, "{got}");
    assert_eq!(redirects[0]["url"], first.as_str());
    assert_eq!(redirects[0]["location"], second.as_str());
    assert_eq!(redirects[0]["type"], "permanent");
    assert_eq!(redirects[0]["side"], "server");
    assert_eq!(redirects[1]["type"], "temporary");
    assert_eq!(redirects[1]["location"], landing.as_str());
    assert!(
        got["cookies"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| c["name"] == "sid" && c["value"] == "abc")),
        "{got}"
    );
    assert!(got["headers"]
        .as_array()
        .is_some_and(|h| h.iter().any(|p| p[0] == "content-type")));
}

/// A real `redis-server` (Debian's package) on a free loopback port, with an append-only file
/// so its data survives a restart. Killed when dropped.
pub struct RedisServer {
    pub port: u16,
    /// `always` (tests: a restart keeps every write) or `everysec` (Redis's default; benches).
    fsync: &'static str,
    dir: std::path::PathBuf,
    child: Option<std::process::Child>,
}

impl RedisServer {
    pub async fn start() -> Self {
        Self::start_with("always").await
    }

    pub async fn start_with(fsync: &'static str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let dir = std::env::temp_dir().join(format!("pagepilot-redis-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("redis dir");
        let mut r = Self {
            port,
            fsync,
            dir,
            child: None,
        };
        r.spawn().await;
        r
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn spawn(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                self.fsync,
            ])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (./dev.sh test installs it)");
        self.child = Some(child);
        let addr = format!("127.0.0.1:{}", self.port);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("redis-server did not listen on {addr}");
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills the server and starts it again on the same port with the same data.
    pub async fn restart(&mut self) {
        self.stop();
        self.spawn().await;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The test config of one of several instances sharing `redis`.
pub fn cluster_config(redis: &RedisServer) -> Config {
    let mut cfg = config();
    cfg.redis_url = Some(redis.url());
    cfg.heartbeat_ttl_seconds = 2;
    // Instances that share profiles share the key that seals them (as they share jwt_secret).
    cfg.profile_key = Some(PROFILE_KEY.into());
    cfg
}

/// The id of the agent API observation's action whose description starts with `name`.
pub fn action_id(obs: &Value, name: &str) -> String {
    obs["space"]["interaction_actions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["description"].as_str().unwrap().starts_with(name))
        .and_then(|a| a["id"].as_str())
        .unwrap_or_else(|| panic!("no {name} in {}", obs["space"]["markdown"]))
        .to_string()
}

/// What the account fixture shows once alice signed in on the login fixture.
pub const SIGNED_IN: &str = "Signed in as alice (tab-of-alice; pref=dark)";

/// Signs in as alice on the login fixture in a new Capture session (storage, a readable
/// cookie, an HttpOnly session cookie) and lands on the account page; returns the session id.
pub async fn signed_in_session(pp: &Pp, fx: &Fixtures) -> String {
    let id = pp
        .session_at(ALICE, json!({ "url": fx.url("/capture/login.html") }))
        .await;
    pp.ok(
        ALICE,
        &id,
        "fill",
        json!({ "selector": "#user", "value": "alice" }),
    )
    .await;
    pp.ok(ALICE, &id, "click", json!({ "selector": "button" }))
        .await;
    pp.ok(
        ALICE,
        &id,
        "goto",
        json!({ "url": fx.url("/capture/account.html") }),
    )
    .await;
    assert_eq!(pp.text(ALICE, &id, "#who").await, SIGNED_IN);
    id
}
