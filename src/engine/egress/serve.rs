//! One client connection to the egress proxy: HTTP/1.1 absolute-form requests are forwarded
//! on a fresh connection to the checked address, `CONNECT` opens a tunnel to it. A refusal is
//! a 403 carrying `x-pagepilot-refused` with the policy's reason, so our own clients can tell
//! it from a site's 403.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Uri};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpStream;
use url::Url;

use super::dial::{DialError, Route};
use super::failures::NetError;

/// The header a refusal carries, with the policy's reason.
pub const REFUSED_HEADER: &str = "x-pagepilot-refused";
/// The header every failure answer carries: the `Fetch.failRequest` reason that makes the
/// browser report what a direct connection would have (engine/page.rs answers it).
pub const NET_ERROR_HEADER: &str = "x-pagepilot-net-error";
/// A client gets this long to send a request head (slowloris).
const HEAD_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn connection(stream: TcpStream, route: Arc<Route>) {
    let _ = stream.set_nodelay(true);
    let service = hyper::service::service_fn(move |req| {
        let route = route.clone();
        async move { Ok::<_, Infallible>(handle(req, &route).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    if let Err(e) = served {
        tracing::debug!(%e, "egress proxy connection ended");
    }
}

async fn handle(req: Request<Incoming>, route: &Route) -> Response<Body> {
    if req.method() == Method::CONNECT {
        tunnel(req, route).await
    } else {
        forward(req, route).await
    }
}

async fn tunnel(req: Request<Incoming>, route: &Route) -> Response<Body> {
    let Some(authority) = req.uri().authority().map(|a| a.as_str().to_string()) else {
        return answer(StatusCode::BAD_REQUEST, "CONNECT needs host:port");
    };
    let Ok(url) = Url::parse(&format!("https://{authority}/")) else {
        return answer(StatusCode::BAD_REQUEST, "CONNECT target is not host:port");
    };
    let dialed = match route.dial_tunnel(&url).await {
        Ok(d) => d,
        Err(e) => return failure(route, &url, e),
    };
    let mut far = dialed.stream;
    tokio::spawn(async move {
        match hyper::upgrade::on(req).await {
            Ok(upgraded) => {
                let mut near = TokioIo::new(upgraded);
                let _ = tokio::io::copy_bidirectional(&mut near, &mut far).await;
            }
            Err(e) => tracing::debug!(%e, "egress tunnel was never upgraded"),
        }
    });
    Response::new(Body::empty())
}

async fn forward(req: Request<Incoming>, route: &Route) -> Response<Body> {
    let uri = req.uri().clone();
    if uri.scheme_str() != Some("http") || uri.authority().is_none() {
        return answer(
            StatusCode::BAD_REQUEST,
            "pagepilot's egress proxy takes absolute-form http:// requests and CONNECT",
        );
    }
    let Ok(url) = Url::parse(&uri.to_string()) else {
        return answer(StatusCode::BAD_REQUEST, "unparseable request target");
    };
    let dialed = match route.dial_http(&url).await {
        Ok(d) => d,
        Err(e) => return failure(route, &url, e),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    // Direct: origin-form. Through an upstream: absolute-form naming the checked address, so
    // the upstream cannot resolve the name to somewhere else.
    let target = match &route.upstream {
        None => path,
        Some(_) => format!("http://{}{path}", dialed.addr),
    };
    let Ok(target) = target.parse::<Uri>() else {
        return answer(StatusCode::BAD_REQUEST, "unparseable request target");
    };
    let (mut parts, body) = req.into_parts();
    parts.uri = target;
    strip_hop_by_hop(&mut parts.headers);
    if let Some(auth) = route.upstream.as_ref().and_then(|u| u.auth.as_deref()) {
        if let Ok(v) = HeaderValue::from_str(auth) {
            parts.headers.insert(hyper::header::PROXY_AUTHORIZATION, v);
        }
    }
    let (mut sender, conn) =
        match hyper::client::conn::http1::handshake(TokioIo::new(dialed.stream)).await {
            Ok(pair) => pair,
            Err(e) => {
                let e = DialError::Failed(NetError::ConnectionFailed, e.to_string());
                return failure(route, &url, e);
            }
        };
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(%e, "egress origin connection ended");
        }
    });
    match sender.send_request(Request::from_parts(parts, body)).await {
        Ok(resp) => {
            let (mut parts, body) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            // Only the proxy's own failures carry these; a site cannot fake one.
            parts.headers.remove(REFUSED_HEADER);
            parts.headers.remove(NET_ERROR_HEADER);
            Response::from_parts(parts, Body::new(body))
        }
        Err(e) => answer(StatusCode::BAD_GATEWAY, &format!("{url}: {e}")),
    }
}

/// Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), and those the
/// `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(hyper::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for n in named {
        headers.remove(n);
    }
    for n in [
        "connection",
        "proxy-connection",
        "keep-alive",
        "proxy-authorization",
        "proxy-authenticate",
        "te",
        "trailer",
        "upgrade",
    ] {
        headers.remove(n);
    }
}

/// The answer to a request the proxy could not carry; also recorded for the engine, which
/// names it to the agent when the browser reports only a failed tunnel.
fn failure(route: &Route, url: &Url, e: DialError) -> Response<Body> {
    let (status, net, why, refused) = match e {
        DialError::Refused(why) => {
            tracing::info!(%url, %why, "egress refused by policy");
            (StatusCode::FORBIDDEN, NetError::BlockedByClient, why, true)
        }
        DialError::Failed(net, why) => (StatusCode::BAD_GATEWAY, net, why, false),
    };
    route.failures.record(url, net, &why);
    let text = if refused {
        format!("refused by pagepilot's navigation policy: {why}")
    } else {
        format!("{} ({why})", net.net_text())
    };
    let mut r = answer(status, &text);
    r.headers_mut()
        .insert(NET_ERROR_HEADER, HeaderValue::from_static(net.reason()));
    if refused {
        if let Ok(v) = HeaderValue::from_str(&why) {
            r.headers_mut().insert(REFUSED_HEADER, v);
        }
    }
    r
}

fn answer(status: StatusCode, text: &str) -> Response<Body> {
    let mut r = Response::new(Body::from(text.to_string()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
