//! The browser client's goto (seed 004): the page navigates with the client's request (method,
//! body, headers, user agent, referrer, cookies, the session's middleware, applied by the page's
//! request interception) and the answer reports the main document's exchange from Network
//! events: status, headers, cookies set on the way, server redirects, client-side redirects
//! (meta refresh, script) and the body.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::sync::broadcast::{error::RecvError, Receiver};

use super::lifecycle::{self, navigation_error, Step, WaitUntil};
use super::ActionOutput;
use crate::engine::cdp::Event;
use crate::engine::page::{Page, PendingGoto};
use crate::engine::policy::Policy;
use crate::engine::protocol::{
    CookieParam, GetCookies, GetResponseBody, Navigate, NetworkEnable, SetCookies,
};
use crate::engine::EngineError;
use crate::exchange::cookies::SameSite;
use crate::exchange::{
    body_too_large, Cookie, Exchanged, Navigation, Redirect, RedirectKind, Side, MAX_BODY_BYTES,
};

/// Longest wait for the main document's body once its page is ready.
const BODY_WAIT: Duration = Duration::from_secs(10);
/// Longest refresh delay (`<meta http-equiv=refresh>`, `Refresh:` header) followed as a
/// client-side redirect; a longer one is a page that reloads itself later, not a redirect.
const MAX_REFRESH_DELAY: Duration = Duration::from_secs(3);
/// Slack on top of the refresh delay for the navigation to start.
const REFRESH_SLACK: Duration = Duration::from_secs(1);
/// How long a document whose body could not be read is watched for a navigation away.
const BODYLESS_GRACE: Duration = Duration::from_millis(250);
/// Longest wait for the document a client-side redirect asked for to commit.
const NEXT_DOCUMENT_WAIT: Duration = Duration::from_secs(10);

pub async fn goto(
    page: &Page,
    policy: &Policy,
    until: WaitUntil,
    nav: &Navigation,
) -> Result<ActionOutput, EngineError> {
    let req = &nav.request;
    policy
        .check_navigation(req.url.as_str())
        .await
        .map_err(EngineError::Blocked)?;
    if !page.state.network_on.swap(true, Ordering::SeqCst) {
        if let Err(e) = page.exec(&NetworkEnable {}).await {
            page.state.network_on.store(false, Ordering::SeqCst);
            return Err(e);
        }
    }
    if !req.cookies.is_empty() {
        let cookies = req
            .cookies
            .iter()
            .map(|c| cookie_param(c, &req.url))
            .collect();
        page.exec(&SetCookies { cookies }).await?;
    }
    if let Ok(mut rw) = page.state.rewrites.lock() {
        rw.pending = Some(PendingGoto {
            request: req.clone(),
            max_redirects: nav.max_redirects,
            hops: 0,
            too_many: false,
        });
    }
    let result = navigate(page, until, nav).await;
    let pending = page
        .state
        .rewrites
        .lock()
        .ok()
        .and_then(|mut rw| rw.pending.take());
    match result {
        Err(_) if pending.as_ref().is_some_and(|p| p.too_many) => {
            Err(EngineError::Navigation(format!(
                "too many redirects: more than max_redirects ({}) for {}",
                nav.max_redirects, req.url
            )))
        }
        other => other,
    }
}

async fn navigate(
    page: &Page,
    until: WaitUntil,
    nav: &Navigation,
) -> Result<ActionOutput, EngineError> {
    let url = nav.request.url.as_str();
    let jar_before = jar(page).await;
    let mut events = page.events()?;
    let mut net = page.events()?;
    let navigated = page
        .exec(&Navigate {
            url: url.to_string(),
            referrer: nav.request.referrer.clone(),
        })
        .await?;
    if let Some(err) = navigated.error_text.filter(|e| !e.is_empty()) {
        return Err(navigation_error(page, url, &err));
    }
    let Some(mut loader) = navigated.loader_id else {
        return Err(EngineError::BadInput(format!(
            "{url} differs from the current document only by its #fragment, so no request is sent; goto it without the fragment to fetch it"
        )));
    };
    let mut log = Recorder::new(page.target_id.clone());
    let mut redirects = Vec::new();
    let mut cookies = Vec::new();
    loop {
        let settled = follow(
            &mut log,
            &mut net,
            settle(&mut events, &page.target_id, until, &loader),
        )
        .await?;
        if let Settled::Replaced {
            loader: next,
            url: to,
        } = settled
        {
            // A script replaced the document before it was ready: a client-side redirect.
            let doc = log.docs.remove(&loader).unwrap_or_default();
            redirects.extend(doc.redirects.iter().cloned());
            cookies.extend(doc.cookies());
            redirects.push(client_redirect(&doc.url, to));
            check_count(&redirects, nav)?;
            loader = next;
            continue;
        }
        // The body can be read once the document finished loading (at most BODY_WAIT).
        let finished = record_until(&mut log, &mut net, BODY_WAIT, |l| {
            l.docs.get(&loader).and_then(|d| d.finished)
        })
        .await
        .unwrap_or(false);
        // A body over the cap is not fetched from the browser at all (as the standard client
        // stops reading it): the goto fails saying so.
        let doc_url = || {
            log.docs
                .get(&loader)
                .map(|d| d.url.clone())
                .unwrap_or_default()
        };
        let received = log.docs.get(&loader).map_or(0.0, |d| d.received);
        if received > MAX_BODY_BYTES as f64 {
            return Err(body_too_large(&doc_url()));
        }
        let body = if finished {
            body_of(page, &loader).await
        } else {
            None
        };
        if body.as_ref().is_some_and(|b| b.len() > MAX_BODY_BYTES) {
            return Err(body_too_large(&doc_url()));
        }
        // A document that redirects once ready: a refresh (meta tag or header) that it
        // declares, or a navigation a script already asked for. Only a declared refresh is
        // waited for, so other gotos pay nothing.
        if log.client_redirect.is_none() {
            let headers = log.docs.get(&loader).map(|d| d.headers.as_slice());
            let declared = refresh_delay(headers.unwrap_or_default(), body.as_deref());
            let limit = match (declared, &body) {
                (Some(delay), _) => Some(delay + REFRESH_SLACK),
                // No body to read the refresh from: Chromium drops it when the document is
                // already being replaced, so look for that navigation briefly.
                (None, None) => Some(BODYLESS_GRACE),
                (None, Some(_)) => None,
            };
            if let Some(limit) = limit {
                record_until(&mut log, &mut net, limit, |l| {
                    l.client_redirect.as_ref().map(|_| ())
                })
                .await;
            }
        }
        let client = log.client_redirect.take();
        let doc = log.docs.remove(&loader).unwrap_or_default();
        redirects.extend(doc.redirects.iter().cloned());
        cookies.extend(doc.cookies());
        if let Some(to) = client {
            // The navigation may still be cancelled (a script, a refused URL): then the
            // document we have is the answer.
            let next = tokio::time::timeout(
                NEXT_DOCUMENT_WAIT,
                follow(&mut log, &mut net, next_loader(&mut events)),
            )
            .await;
            if let Ok(next) = next {
                redirects.push(client_redirect(&doc.url, to));
                check_count(&redirects, nav)?;
                loader = next?;
                continue;
            }
        }
        // Hops whose raw headers Chromium does not report still set cookies: the context's
        // jar tells which ones changed.
        if let Some(before) = &jar_before {
            for c in jar(page).await.unwrap_or_default() {
                let known =
                    before.contains(&c) || cookies.iter().any(|k: &Cookie| k.name == c.name);
                if !known {
                    cookies.push(c);
                }
            }
        }
        let out = Exchanged {
            url: doc.url,
            status_code: doc.status,
            headers: doc.headers,
            cookies,
            body,
            redirects,
            content_type: doc.mime,
        };
        return Ok(super::Outcome::Exchanged(Box::new(out)).into());
    }
}

fn client_redirect(from: &str, to: String) -> Redirect {
    Redirect {
        url: from.to_string(),
        location: to,
        side: Side::Client,
        kind: RedirectKind::Temporary,
    }
}

fn check_count(redirects: &[Redirect], nav: &Navigation) -> Result<(), EngineError> {
    if redirects.len() > nav.max_redirects {
        return Err(EngineError::Navigation(format!(
            "too many redirects: more than max_redirects ({}) for {}",
            nav.max_redirects, nav.request.url
        )));
    }
    Ok(())
}

/// Runs `fut` while feeding the page's events to the recorder.
async fn follow<F: std::future::Future>(
    log: &mut Recorder,
    net: &mut Receiver<Event>,
    fut: F,
) -> F::Output {
    tokio::pin!(fut);
    loop {
        tokio::select! {
            biased;
            ev = net.recv() => match ev {
                Ok(ev) => log.feed(&ev),
                Err(RecvError::Lagged(n)) => tracing::debug!(n, "exchange recorder lagged"),
                Err(RecvError::Closed) => return fut.await,
            },
            out = &mut fut => return out,
        }
    }
}

enum Settled {
    /// The document reached the lifecycle event the goto waits for.
    Ready,
    /// Another document replaced it first.
    Replaced { loader: String, url: String },
}

/// Waits for `loader`'s document to reach `until`, or for another document to replace it.
async fn settle(
    events: &mut Receiver<Event>,
    main: &str,
    until: WaitUntil,
    loader: &str,
) -> Result<Settled, EngineError> {
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => {
                return Err(EngineError::PageGone("page closed during goto".into()))
            }
        };
        match lifecycle::read(&ev, main, until) {
            Step::Committed {
                loader: Some(l),
                ready: true,
                ..
            } if l == loader => return Ok(Settled::Ready),
            // This document committed; the wait goes on to its lifecycle event.
            Step::Committed {
                loader: Some(l), ..
            } if l == loader => {}
            Step::Committed {
                loader: Some(other),
                url,
                ..
            } => {
                return Ok(Settled::Replaced {
                    loader: other.to_string(),
                    url,
                })
            }
            Step::Reached { loader: l } if l == loader => return Ok(Settled::Ready),
            _ => {}
        }
    }
}

/// The delay of a refresh the document declares (a `Refresh:` header or a
/// `<meta http-equiv=refresh>`) to another URL, when short enough to be a redirect.
fn refresh_delay(headers: &[(String, String)], body: Option<&[u8]>) -> Option<Duration> {
    let from_header = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("refresh"))
        .map(|(_, v)| v.clone());
    let from_meta = || {
        let body = body?;
        let text = String::from_utf8_lossy(body);
        if !text.to_ascii_lowercase().contains("refresh") {
            return None;
        }
        let doc = scraper::Html::parse_document(&text);
        let sel = scraper::Selector::parse("meta[http-equiv][content]").ok()?;
        doc.select(&sel)
            .find(|m| {
                m.attr("http-equiv")
                    .is_some_and(|h| h.trim().eq_ignore_ascii_case("refresh"))
            })
            .and_then(|m| m.attr("content").map(str::to_string))
    };
    let content = from_header.or_else(from_meta)?;
    let (delay, target) = content.split_once([';', ',']).unwrap_or((&content, ""));
    if !target.to_ascii_lowercase().contains("url") {
        return None;
    }
    // A page's number: `inf`, `NaN`, `1e300` and negatives must not panic the session.
    let secs: f64 = delay.trim().parse().ok()?;
    let delay = Duration::try_from_secs_f64(secs.max(0.0)).ok()?;
    (delay <= MAX_REFRESH_DELAY).then_some(delay)
}

/// Feeds the page's events to the recorder until `done` has an answer, at most `limit`
/// (`None`: out of time, or the page went away).
async fn record_until<T>(
    log: &mut Recorder,
    net: &mut Receiver<Event>,
    limit: Duration,
    done: impl Fn(&Recorder) -> Option<T>,
) -> Option<T> {
    let wait = async {
        loop {
            if let Some(answer) = done(log) {
                return Some(answer);
            }
            match net.recv().await {
                Ok(ev) => log.feed(&ev),
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    };
    tokio::time::timeout(limit, wait).await.ok().flatten()
}

/// The loader of the next document the main frame commits.
async fn next_loader(events: &mut Receiver<Event>) -> Result<String, EngineError> {
    loop {
        match events.recv().await {
            Ok(ev)
                if ev.method == "Page.frameNavigated"
                    && ev.params.pointer("/frame/parentId").is_none() =>
            {
                if let Some(l) = ev.params.pointer("/frame/loaderId").and_then(Value::as_str) {
                    return Ok(l.to_string());
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => {
                return Err(EngineError::PageGone(
                    "page closed during a redirect".into(),
                ))
            }
        }
    }
}

async fn body_of(page: &Page, loader: &str) -> Option<Vec<u8>> {
    let got = page
        .exec(&GetResponseBody {
            request_id: loader.to_string(),
        })
        .await
        .ok()?;
    if got.base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(got.body)
            .ok()
    } else {
        Some(got.body.into_bytes())
    }
}

/// The cookies of the page's browser context, in the wire shape.
async fn jar(page: &Page) -> Option<Vec<Cookie>> {
    let got = page
        .conn
        .exec(
            &GetCookies {
                browser_context_id: page.context_id.clone(),
            },
            crate::engine::page::CALL_TIMEOUT,
        )
        .await;
    let got = got.ok()?;
    Some(
        got.cookies
            .into_iter()
            .map(|c| Cookie {
                name: c.name,
                value: c.value,
                domain: Some(c.domain),
                path: Some(c.path),
                expires: (c.expires > 0.0)
                    .then(|| chrono::DateTime::<chrono::Utc>::from_timestamp(c.expires as i64, 0))
                    .flatten()
                    .map(|e| e.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
                http_only: Some(c.http_only),
                secure: Some(c.secure),
                same_site: match c.same_site.as_deref() {
                    Some("Strict") => Some(SameSite::Strict),
                    Some("Lax") => Some(SameSite::Lax),
                    Some("None") => Some(SameSite::None),
                    _ => None,
                },
            })
            .collect(),
    )
}

fn cookie_param(c: &Cookie, url: &url::Url) -> CookieParam {
    CookieParam {
        name: c.name.clone(),
        value: c.value.clone(),
        url: url.to_string(),
        domain: c.domain.clone(),
        path: c.path.clone(),
        secure: c.secure,
        http_only: c.http_only,
        same_site: c.same_site.map(|s| match s {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }),
        expires: c.expires_at().map(|e| e.timestamp() as f64),
    }
}

/// One main-frame document request, hop by hop.
#[derive(Debug, Default)]
struct Doc {
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    mime: Option<String>,
    redirects: Vec<Redirect>,
    /// Raw `Set-Cookie` values of every hop.
    set_cookies: Vec<String>,
    /// The body is complete (true) or failed (false).
    finished: Option<bool>,
    /// Bytes received for it, as Chromium counts them when it finished.
    received: f64,
}

impl Doc {
    fn cookies(&self) -> Vec<Cookie> {
        self.set_cookies
            .iter()
            .filter_map(|c| Cookie::from_set_cookie(c))
            .collect()
    }
}

/// Reads the Network and Page events of the main frame's documents.
struct Recorder {
    main: String,
    docs: HashMap<String, Doc>,
    /// Where a document sent the main frame on its own (meta refresh, script).
    client_redirect: Option<String>,
}

impl Recorder {
    fn new(main: String) -> Self {
        Self {
            main,
            docs: HashMap::new(),
            client_redirect: None,
        }
    }

    fn feed(&mut self, ev: &Event) {
        let p = &ev.params;
        let id = p["requestId"].as_str().unwrap_or_default();
        match ev.method.as_str() {
            "Network.requestWillBeSent"
                if p["type"].as_str() == Some("Document")
                    && p["frameId"].as_str() == Some(self.main.as_str()) =>
            {
                let doc = self.docs.entry(id.to_string()).or_default();
                let to = p.pointer("/request/url").and_then(Value::as_str);
                if let (Some(r), Some(to)) = (p.get("redirectResponse"), to) {
                    let status = r["status"].as_u64().unwrap_or(0) as u16;
                    doc.redirects.push(Redirect {
                        url: r["url"].as_str().unwrap_or_default().to_string(),
                        location: to.to_string(),
                        side: Side::Server,
                        kind: RedirectKind::of_status(status),
                    });
                }
                doc.url = to.unwrap_or_default().to_string();
            }
            "Network.responseReceived" if self.docs.contains_key(id) => {
                if let Some(doc) = self.docs.get_mut(id) {
                    let r = &p["response"];
                    doc.url = r["url"].as_str().unwrap_or(&doc.url).to_string();
                    doc.status = r["status"].as_u64().unwrap_or(0) as u16;
                    doc.mime = r["mimeType"].as_str().map(str::to_string);
                    if doc.headers.is_empty() {
                        doc.headers = header_pairs(&r["headers"]);
                    }
                }
            }
            // Raw headers (with Set-Cookie), one event per hop, in any order against the rest.
            "Network.responseReceivedExtraInfo" => {
                let doc = self.docs.entry(id.to_string()).or_default();
                let headers = header_pairs(&p["headers"]);
                doc.set_cookies.extend(
                    headers
                        .iter()
                        .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                        .flat_map(|(_, v)| v.split('\n').map(str::to_string)),
                );
                let status = p["statusCode"].as_u64().unwrap_or(0);
                if !(300..400).contains(&status) {
                    doc.headers = headers;
                }
            }
            "Network.loadingFinished" | "Network.loadingFailed" => {
                if let Some(doc) = self.docs.get_mut(id) {
                    doc.finished = Some(ev.method == "Network.loadingFinished");
                    doc.received = p["encodedDataLength"].as_f64().unwrap_or(0.0);
                }
            }
            // A new document: redirects asked for before it are done with (Chromium may
            // report one navigation request twice).
            "Page.frameNavigated" if p.pointer("/frame/parentId").is_none() => {
                self.client_redirect = None;
            }
            "Page.frameRequestedNavigation" | "Page.frameScheduledNavigation"
                if p["frameId"].as_str() == Some(self.main.as_str()) =>
            {
                let client_side = matches!(
                    p["reason"].as_str(),
                    Some(
                        "metaTagRefresh"
                            | "httpHeaderRefresh"
                            | "scriptInitiated"
                            | "formSubmissionGet"
                            | "formSubmissionPost"
                            | "pageBlockInterstitial"
                            | "anchorClick"
                    )
                );
                if client_side {
                    if let Some(u) = p["url"].as_str() {
                        self.client_redirect = Some(u.to_string());
                    }
                }
            }
            _ => {}
        }
    }
}

/// CDP's header object (`{name: value}`, repeated values joined by newlines) as pairs.
fn header_pairs(v: &Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|o| {
            o.iter()
                .flat_map(|(n, v)| {
                    v.as_str()
                        .unwrap_or_default()
                        .split('\n')
                        .map(|line| (n.to_ascii_lowercase(), line.to_string()))
                        .collect::<Vec<_>>()
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_refreshes() {
        let meta =
            br#"<html><head><META HTTP-EQUIV="Refresh" CONTENT="0; URL=/next"></head></html>"#;
        assert_eq!(refresh_delay(&[], Some(meta)), Some(Duration::ZERO));
        let header = vec![("refresh".to_string(), "2;url=/x".to_string())];
        assert_eq!(refresh_delay(&header, None), Some(Duration::from_secs(2)));
        // Reloading itself, or much later, is not a redirect.
        let reload = br#"<meta http-equiv="refresh" content="0">"#;
        assert_eq!(refresh_delay(&[], Some(reload)), None);
        let later = br#"<meta http-equiv="refresh" content="60; url=/x">"#;
        assert_eq!(refresh_delay(&[], Some(later)), None);
        assert_eq!(refresh_delay(&[], Some(b"<p>no refresh here</p>")), None);
    }
}
