//! The standard client's HTTP: one navigation = the client's request, its redirects (each
//! recorded, each checked against the navigation policy) and retries, with the session's
//! cookie jar and middleware.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cookie_store::{CookieStore, RawCookie};

use crate::engine::egress::{Egress, Failures, NetError, NET_ERROR_HEADER, REFUSED_HEADER};
use crate::engine::policy::Policy;
use crate::engine::EngineError;
use crate::exchange::{
    body_too_large, middleware, mime_of, user_agent, Cookie, Exchanged, HttpRequest, Middleware,
    Redirect, RedirectKind, Side, MAX_BODY_BYTES,
};

/// First retry waits this long; each next one twice as long, at most `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// How a session's standard client sends requests (from the WebSocket open frame).
#[derive(Debug, Clone)]
pub struct Settings {
    pub timeout: Duration,
    pub max_redirects: usize,
    pub max_retries: usize,
    /// Upstream proxy URLs, used in turn, one per request.
    pub proxies: Vec<String>,
}

/// One HTTP client per proxy (or one direct), redirects off: we follow them ourselves.
pub struct Transport {
    clients: Vec<reqwest::Client>,
    failures: Arc<Failures>,
    next: std::sync::atomic::AtomicUsize,
}

impl Transport {
    /// Every client sends through the egress proxy: direct, or the listener chained to the
    /// session's upstream.
    pub fn new(s: &Settings, egress: &Egress) -> Result<Self, EngineError> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(s.timeout)
                .connect_timeout(s.timeout.min(Duration::from_secs(10)))
        };
        let routes: Vec<Option<&str>> = if s.proxies.is_empty() {
            vec![None]
        } else {
            s.proxies.iter().map(|p| Some(p.as_str())).collect()
        };
        let clients = routes
            .into_iter()
            .map(|up| {
                let via = egress.proxy_url(up)?;
                reqwest::Proxy::all(&via)
                    .map_err(|e| EngineError::Internal(format!("egress proxy `{via}`: {e}")))
                    .map(|proxy| base().proxy(proxy).build())
            })
            .collect::<Result<Vec<_>, _>>()?;
        let clients = clients
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EngineError::Internal(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self {
            clients,
            failures: egress.failures(),
            next: 0.into(),
        })
    }

    fn client(&self) -> &reqwest::Client {
        let i = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        &self.clients[i % self.clients.len()]
    }
}

/// Sends `req` and follows its redirects; the answer is the final response and the way there.
pub async fn navigate(
    transport: &Transport,
    settings: &Settings,
    chain: &[Middleware],
    policy: &Policy,
    jar: &Mutex<CookieStore>,
    mut req: HttpRequest,
) -> Result<Exchanged, EngineError> {
    if let Ok(mut j) = jar.lock() {
        for c in &req.cookies {
            if let Ok(raw) = RawCookie::parse(c.to_set_cookie()) {
                let _ = j.insert_raw(&raw, &req.url);
            }
        }
    }
    let mut redirects = Vec::new();
    let mut cookies = Vec::new();
    let mut first_hop = true;
    loop {
        let mut hop = req.clone();
        middleware::apply_all(chain, &mut hop, first_hop);
        policy
            .check_navigation(hop.url.as_str())
            .await
            .map_err(EngineError::Blocked)?;
        let resp = send_with_retries(transport, settings, jar, &hop).await?;
        let status = resp.status().as_u16();
        let set: Vec<String> = resp
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect();
        cookies.extend(set.iter().filter_map(|c| Cookie::from_set_cookie(c)));
        if let Ok(mut j) = jar.lock() {
            let raws = set
                .into_iter()
                .filter_map(|c| RawCookie::parse(c).ok())
                .collect::<Vec<_>>();
            j.store_response_cookies(raws.into_iter(), &hop.url);
        }
        let location = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|l| l.to_str().ok())
            .and_then(|l| hop.url.join(l).ok());
        if let (true, Some(to)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) {
            if redirects.len() >= settings.max_redirects {
                return Err(EngineError::Navigation(format!(
                    "too many redirects: more than max_redirects ({}) from {}",
                    settings.max_redirects,
                    redirects_start(&redirects, &hop)
                )));
            }
            redirects.push(Redirect {
                url: hop.url.to_string(),
                location: to.to_string(),
                side: Side::Server,
                kind: RedirectKind::of_status(status),
            });
            let cross_origin = to.origin() != hop.url.origin();
            req.url = to;
            // 303, and 301/302 after a POST, turn into a GET without a body (as browsers do).
            if status == 303 || (matches!(status, 301 | 302) && req.method == "POST") {
                req.method = "GET".into();
                req.body = None;
                req.remove_header("content-type");
            }
            if cross_origin {
                req.remove_header("authorization");
            }
            req.cookies.clear();
            first_hop = false;
            continue;
        }
        return finish(resp, redirects, cookies).await;
    }
}

fn redirects_start(redirects: &[Redirect], hop: &HttpRequest) -> String {
    redirects
        .first()
        .map(|r| r.url.clone())
        .unwrap_or_else(|| hop.url.to_string())
}

async fn finish(
    mut resp: reqwest::Response,
    redirects: Vec<Redirect>,
    cookies: Vec<Cookie>,
) -> Result<Exchanged, EngineError> {
    let url = resp.url().to_string();
    let status_code = resp.status().as_u16();
    let headers: Vec<(String, String)> = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let content_type = resp
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(mime_of);
    let mut body = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len().saturating_add(chunk.len()) > MAX_BODY_BYTES {
                    return Err(body_too_large(&url));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => return Err(transport_error(&url, &e)),
        }
    }
    Ok(Exchanged {
        url,
        status_code,
        headers,
        cookies,
        body: Some(body),
        redirects,
        content_type,
    })
}

/// Sends one hop; connection failures (and 5xx of idempotent methods) are retried with backoff.
async fn send_with_retries(
    transport: &Transport,
    settings: &Settings,
    jar: &Mutex<CookieStore>,
    hop: &HttpRequest,
) -> Result<reqwest::Response, EngineError> {
    // A 5xx answer to a POST or PATCH may have done its work: sending it again could do it twice.
    let idempotent = !matches!(hop.method.as_str(), "POST" | "PATCH" | "CONNECT");
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 0;
    loop {
        let sent = build(transport.client(), jar, hop)?.send().await;
        // The egress proxy could not connect (plain http): nothing reached the origin.
        let proxy_failed = sent.as_ref().ok().and_then(|r| {
            let h = r.headers();
            let net = h
                .get(NET_ERROR_HEADER)
                .and_then(|v| v.to_str().ok())
                .and_then(NetError::from_reason)?;
            Some((net, h.get(REFUSED_HEADER).is_some()))
        });
        let retry = match (&sent, proxy_failed) {
            (_, Some((_, refused))) => !refused,
            (Ok(r), None) => r.status().is_server_error() && idempotent,
            (Err(e), None) => e.is_connect() || (e.is_request() && !e.is_timeout()),
        };
        if !retry || attempt >= settings.max_retries {
            let tries = attempt + 1;
            let failed = match sent {
                Ok(r) => match proxy_failed {
                    None => return Ok(r),
                    Some((net, refused)) => {
                        let why = r.text().await.unwrap_or_default();
                        if refused {
                            return Err(EngineError::Blocked(format!("{}: {why}", hop.url)));
                        }
                        EngineError::Navigation(format!(
                            "{} for {} ({why})",
                            net.net_text(),
                            hop.url
                        ))
                    }
                },
                Err(e) => send_error(&transport.failures, &hop.url, &e),
            };
            return Err(match failed {
                EngineError::Navigation(m) if tries > 1 => {
                    EngineError::Navigation(format!("{m} (after {tries} attempts)"))
                }
                other => other,
            });
        }
        attempt += 1;
        tracing::debug!(url = %hop.url, attempt, "retrying");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

fn build(
    client: &reqwest::Client,
    jar: &Mutex<CookieStore>,
    hop: &HttpRequest,
) -> Result<reqwest::RequestBuilder, EngineError> {
    let method = reqwest::Method::from_bytes(hop.method.as_bytes())
        .map_err(|_| EngineError::BadInput(format!("method: `{}` is not a method", hop.method)))?;
    let mut b = client.request(method, hop.url.clone());
    for (n, v) in &hop.headers {
        b = b.header(n.as_str(), v.as_str());
    }
    if hop.header("user-agent").is_none() {
        let ua = hop.user_agent.as_deref().unwrap_or(user_agent::INNDX);
        b = b.header(reqwest::header::USER_AGENT, ua);
    }
    if let Some(r) = &hop.referrer {
        b = b.header(reqwest::header::REFERER, r.as_str());
    }
    let cookie = jar
        .lock()
        .map(|j| {
            j.get_request_values(&hop.url)
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .unwrap_or_default();
    if !cookie.is_empty() && hop.header("cookie").is_none() {
        b = b.header(reqwest::header::COOKIE, cookie);
    }
    if let Some(body) = &hop.body {
        b = b.body(body.clone());
    }
    Ok(b)
}

/// A request that got no answer; named as the egress proxy saw it when it knows more.
fn send_error(failures: &Failures, url: &url::Url, e: &reqwest::Error) -> EngineError {
    if e.is_timeout() {
        return EngineError::Timeout(format!("request to {url} timed out"));
    }
    // An https target behind the egress proxy: the client saw a failed tunnel, the proxy
    // knows why.
    if let Some((net, why)) = failures.recent(url) {
        if net == NetError::BlockedByClient {
            return EngineError::Blocked(format!("{url}: {why}"));
        }
        return EngineError::Navigation(format!("{} for {url} ({why})", net.net_text()));
    }
    transport_error(url.as_str(), e)
}

fn transport_error(url: &str, e: &reqwest::Error) -> EngineError {
    if e.is_timeout() {
        return EngineError::Timeout(format!("request to {url} timed out"));
    }
    let mut msg = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{msg}: {s}");
        src = s.source();
    }
    EngineError::Navigation(format!("{msg} for {url}"))
}
