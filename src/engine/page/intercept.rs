//! Request interception (Fetch.requestPaused): every request a page makes is checked against the
//! navigation policy, rewritten by the session's middleware, or refused with the reason kept.

use super::*;

pub(super) async fn answer_paused(
    conn: &Connection,
    session: &str,
    request_id: &str,
    url: &str,
    rewrite: Option<Rewrite>,
    state: &PageState,
    policy: &Policy,
) {
    if matches!(rewrite, Some(Rewrite::Stub)) {
        let stub = FulfillRequest {
            request_id: request_id.to_string(),
            response_code: 200,
            response_headers: vec![HeaderEntry {
                name: "Content-Type".into(),
                value: "text/html".into(),
            }],
            body: String::new(),
        };
        if let Err(e) = conn.exec_on(session, &stub, CALL_TIMEOUT).await {
            tracing::debug!(%e, "answering a stub document failed");
        }
        return;
    }
    let checked = match &rewrite {
        Some(Rewrite::Refuse) | Some(Rewrite::Stub) => Err(()),
        Some(Rewrite::Send(r)) => policy.check_request(r.url.as_str()).await.map_err(|why| {
            refused(state, url, &why);
        }),
        None => policy.check_request(url).await.map_err(|why| {
            refused(state, url, &why);
        }),
    };
    let result = match checked {
        Ok(()) => {
            let go = match rewrite {
                Some(Rewrite::Send(r)) => continue_with(request_id, &r),
                _ => ContinueRequest::unchanged(request_id),
            };
            conn.exec_on(session, &go, CALL_TIMEOUT).await.map(|_| ())
        }
        Err(()) => {
            let refuse = FailRequest {
                request_id: request_id.to_string(),
                error_reason: "BlockedByClient",
            };
            conn.exec_on(session, &refuse, CALL_TIMEOUT)
                .await
                .map(|_| ())
        }
    };
    if let Err(e) = result {
        if !matches!(e, CdpError::TargetGone(_) | CdpError::Closed(_)) {
            tracing::debug!(%e, "answering a paused request failed");
        }
    }
}

pub(super) fn refused(state: &PageState, url: &str, why: &str) {
    tracing::info!(%url, %why, "request refused by policy");
    if let Ok(mut b) = state.blocked.lock() {
        if b.len() >= LOG_CAP {
            b.pop_front();
        }
        b.push_back(format!("{url}: {why}"));
    }
    PageState::push(
        &state.errors,
        "blocked",
        format!("request to {url} refused: {why}"),
    );
}

/// What becomes of a paused document request of the main frame.
pub(super) enum Rewrite {
    Send(Box<HttpRequest>),
    /// A redirect hop past the goto's `max_redirects`.
    Refuse,
    /// An empty document of our own at that URL (a profile's storage is written into its
    /// origin there): nothing goes to the network.
    Stub,
}

/// The main frame's document requests go out with the session's middleware and, on the first
/// hop of a goto that carries a request, that request's method, body and headers. Every other
/// request goes on unchanged (`None`).
pub(super) fn rewrite(state: &PageState, p: &Value, main_frame: &str) -> Option<Rewrite> {
    if p["resourceType"].as_str() != Some("Document") || p["frameId"].as_str() != Some(main_frame) {
        return None;
    }
    let mut rw = state.rewrites.lock().ok()?;
    if rw.stub.is_some() && rw.stub.as_deref() == p.pointer("/request/url").and_then(Value::as_str)
    {
        return Some(Rewrite::Stub);
    }
    if rw.middleware.is_empty() && rw.pending.is_none() {
        return None;
    }
    let first_hop = p.get("redirectedRequestId").is_none();
    let url = url::Url::parse(p.pointer("/request/url")?.as_str()?).ok()?;
    let mut req = HttpRequest::get(url);
    req.method = p
        .pointer("/request/method")
        .and_then(Value::as_str)
        .unwrap_or("GET")
        .to_string();
    if let Some(h) = p.pointer("/request/headers").and_then(Value::as_object) {
        for (name, value) in h {
            req.headers
                .push((name.clone(), value.as_str().unwrap_or_default().to_string()));
        }
    }
    if let Some(pending) = rw.pending.as_mut() {
        if first_hop && pending.hops == 0 {
            let want = &pending.request;
            req.method = want.method.clone();
            req.body = want.body.clone();
            for (n, v) in &want.headers {
                req.set_header(n, v);
            }
            if let Some(ua) = &want.user_agent {
                req.set_header("User-Agent", ua);
            }
        } else if !first_hop {
            pending.hops += 1;
            if pending.hops > pending.max_redirects {
                pending.too_many = true;
                return Some(Rewrite::Refuse);
            }
            // A redirect keeps the client's headers, as the standard client does.
            for (n, v) in &pending.request.headers {
                req.set_header(n, v);
            }
            if let Some(ua) = &pending.request.user_agent {
                req.set_header("User-Agent", ua);
            }
        }
    }
    middleware::apply_all(&rw.middleware, &mut req, first_hop);
    Some(Rewrite::Send(Box::new(req)))
}

pub(super) fn continue_with(request_id: &str, r: &HttpRequest) -> ContinueRequest {
    use base64::Engine as _;
    ContinueRequest {
        request_id: request_id.to_string(),
        url: Some(r.url.to_string()),
        method: Some(r.method.clone()),
        post_data: r
            .body
            .as_ref()
            .map(|b| base64::engine::general_purpose::STANDARD.encode(b)),
        headers: Some(
            r.headers
                .iter()
                .map(|(name, value)| HeaderEntry {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect(),
        ),
    }
}
