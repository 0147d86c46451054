//! A page's event loop: what each CDP event of the tab (and of its iframes and workers) makes
//! the engine do — dialogs, console and errors, isolated-world bookkeeping, the console-storm
//! guard, child targets put under interception.

use super::intercept::{answer_paused, rewrite};
use super::*;

/// Answers the page's events until the page goes away.
pub(super) async fn event_loop(
    conn: Connection,
    session: String,
    main_frame: String,
    mut events: tokio::sync::broadcast::Receiver<Event>,
    state: Arc<PageState>,
    env: PageEnv,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(n)) => {
                tracing::warn!(n, "page event loop lagged");
                continue;
            }
            Err(RecvError::Closed) => break,
        };
        handle_event(&conn, &session, Some(&main_frame), ev, &state, &env.policy);
    }
    // The stream ends only when the target died (Page::close aborts this task first).
    let reason = conn
        .target_dead_reason(&session)
        .unwrap_or_else(|| "page target went away".into());
    tracing::warn!(%session, %reason, "page gone");
    let _ = env.gone.send(PageGone { session, reason });
}

fn handle_event(
    conn: &Connection,
    session: &str,
    main_frame: Option<&str>,
    ev: Event,
    state: &Arc<PageState>,
    policy: &Arc<Policy>,
) {
    let p = &ev.params;
    match ev.method.as_str() {
        // A document's answer: the egress proxy's failure answer becomes the network error
        // a direct connection would have given; everything else goes on untouched.
        "Fetch.requestPaused"
            if p.get("responseStatusCode").is_some() || p.get("responseErrorReason").is_some() =>
        {
            let request_id = p["requestId"].as_str().unwrap_or_default().to_string();
            let failed = p["responseHeaders"].as_array().and_then(|hs| {
                hs.iter()
                    .find(|h| {
                        h["name"]
                            .as_str()
                            .is_some_and(|n| n.eq_ignore_ascii_case(NET_ERROR_HEADER))
                    })
                    .and_then(|h| h["value"].as_str())
                    .and_then(NetError::from_reason)
            });
            let (conn, session) = (conn.clone(), session.to_string());
            tokio::spawn(async move {
                let done = match failed {
                    Some(net) => {
                        let fail = FailRequest {
                            request_id,
                            error_reason: net.reason(),
                        };
                        conn.exec_on(&session, &fail, CALL_TIMEOUT)
                            .await
                            .map(|_| ())
                    }
                    None => conn
                        .exec_on(&session, &ContinueResponse { request_id }, CALL_TIMEOUT)
                        .await
                        .map(|_| ()),
                };
                if let Err(e) = done {
                    if !matches!(e, CdpError::TargetGone(_) | CdpError::Closed(_)) {
                        tracing::debug!(%e, "answering a paused response failed");
                    }
                }
            });
        }
        "Fetch.requestPaused" => {
            let (conn, session, state, policy) = (
                conn.clone(),
                session.to_string(),
                state.clone(),
                policy.clone(),
            );
            let request_id = p["requestId"].as_str().unwrap_or_default().to_string();
            let url = p
                .pointer("/request/url")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let rewrite = main_frame.and_then(|main| rewrite(&state, p, main));
            tokio::spawn(async move {
                answer_paused(&conn, &session, &request_id, &url, rewrite, &state, &policy).await
            });
        }
        "Runtime.consoleAPICalled" => {
            let text = p["args"]
                .as_array()
                .map(|args| {
                    args.iter()
                        .map(remote_object_text)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            PageState::push(&state.console, p["type"].as_str().unwrap_or("log"), text);
            console_storm(conn, session, p["executionContextId"].as_i64(), state);
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let text = d
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| d["text"].as_str())
                .unwrap_or("uncaught exception")
                .to_string();
            PageState::push(&state.errors, "exception", text);
        }
        "Runtime.executionContextCreated" => {
            let c = &p["context"];
            if c["name"].as_str() == Some(WORLD) {
                if let (Some(frame), Some(id)) = (
                    c.pointer("/auxData/frameId").and_then(Value::as_str),
                    c["id"].as_i64(),
                ) {
                    if let Ok(mut w) = state.worlds.lock() {
                        w.insert(frame.to_string(), id);
                    }
                }
            }
        }
        "Runtime.executionContextDestroyed" => {
            if let (Some(id), Ok(mut w)) = (p["executionContextId"].as_i64(), state.worlds.lock()) {
                w.retain(|_, v| *v != id);
            }
        }
        "Runtime.executionContextsCleared" => {
            if let Ok(mut w) = state.worlds.lock() {
                w.clear();
            }
            state.console_rate.reset();
        }
        "Page.javascriptDialogOpening" => {
            // alert/confirm/prompt would block every script until answered: accept at once.
            let msg = format!(
                "{} dialog: {}",
                p["type"].as_str().unwrap_or("js"),
                p["message"].as_str().unwrap_or("")
            );
            PageState::push(&state.console, "dialog", msg);
            if state.dialog_storm() {
                let why = format!(
                    "the page opened more than {DIALOG_STORM} dialogs within {} s",
                    DIALOG_STORM_WINDOW.as_secs()
                );
                if let Ok(mut h) = state.hogged.lock() {
                    if h.is_none() {
                        PageState::push(
                            &state.errors,
                            "dialog",
                            format!("{why}: its tab will be replaced"),
                        );
                        *h = Some(why);
                    }
                }
            }
            let (conn, session) = (conn.clone(), session.to_string());
            tokio::spawn(async move {
                let accept = HandleJavaScriptDialog { accept: true };
                let _ = conn.exec_on(&session, &accept, CALL_TIMEOUT).await;
            });
        }
        "Target.attachedToTarget" => {
            let child = p["sessionId"].as_str().unwrap_or_default().to_string();
            let target = p
                .pointer("/targetInfo/targetId")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let kind = p
                .pointer("/targetInfo/type")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let (conn, state, policy) = (conn.clone(), state.clone(), policy.clone());
            tokio::spawn(
                async move { watch_child(conn, child, target, kind, state, policy).await },
            );
        }
        _ => {}
    }
}

/// Answers a console storm (engine/console_storm.rs): limit the console in the page, then stop
/// its scripts and have the tab replaced.
fn console_storm(conn: &Connection, session: &str, context: Option<i64>, state: &Arc<PageState>) {
    use crate::engine::console_storm::{limiter, Step, BUDGET, STORM};
    match state.console_rate.line() {
        Step::Nothing => {}
        Step::Limit => {
            PageState::push(
                &state.errors,
                "console",
                format!(
                    "console storm: the page logged {STORM} lines within a second; its console is limited to {BUDGET} lines a second"
                ),
            );
            let (conn, session) = (conn.clone(), session.to_string());
            tokio::spawn(async move {
                let limit = Evaluate {
                    expression: limiter(),
                    context_id: context,
                    return_by_value: true,
                    await_promise: false,
                    timeout: 1000,
                };
                if let Err(e) = conn.exec_on(&session, &limit, CALL_TIMEOUT).await {
                    tracing::debug!(%e, "console limiter not installed");
                }
            });
        }
        Step::Stop => {
            let why = "the page kept logging more than 1000 lines a second past the console limit: its scripts were stopped".to_string();
            PageState::push(
                &state.errors,
                "console",
                format!("{why}; its tab will be replaced"),
            );
            if let Ok(mut h) = state.hogged.lock() {
                h.get_or_insert(why);
            }
            let (conn, session) = (conn.clone(), session.to_string());
            tokio::spawn(async move {
                let stop = SetScriptExecutionDisabled { value: true };
                let _ = conn.exec_on(&session, &stop, CALL_TIMEOUT).await;
            });
        }
    }
}

/// A cross-site iframe or worker: enforce the policy on its requests too, then let it run.
/// A target that cannot take interception (other than a dedicated worker, which has no
/// Fetch domain) is closed as soon as that is known. Every
/// byte still goes through the egress proxy, which is the chokepoint; this layer is what
/// makes refusals show in the session's `errors`.
async fn watch_child(
    conn: Connection,
    session: String,
    target: String,
    kind: String,
    state: Arc<PageState>,
    policy: Arc<Policy>,
) {
    conn.register_target(&session, &target);
    let Ok(mut events) = conn.events(&session) else {
        return;
    };
    // Sent back to back, not awaited in turn: CDP keeps a session's command order, so
    // interception is on before the target's first line runs. The answers are awaited on a
    // task of their own while this loop already answers the target's paused requests: a
    // service worker's own script is one of them, and it resumes only once that is loaded.
    let setup = {
        let (conn, session, target) = (conn.clone(), session.clone(), target.clone());
        tokio::spawn(async move {
            let fetch = FetchEnable::all_requests();
            // Only frames and dedicated workers start targets of their own.
            let nests = kind != "service_worker" && kind != "shared_worker";
            let auto_attach = SetAutoAttach {
                auto_attach: true,
                wait_for_debugger_on_start: true,
                flatten: true,
            };
            let (enable, _, _) = tokio::join!(
                conn.exec_on(&session, &fetch, CALL_TIMEOUT),
                async {
                    if nests {
                        let _ = conn.exec_on(&session, &auto_attach, CALL_TIMEOUT).await;
                    }
                },
                conn.exec_on(&session, &RunIfWaitingForDebugger {}, CALL_TIMEOUT),
            );
            match enable {
                Ok(_) => {}
                // Dedicated workers have no Fetch domain: their requests pass their parent's.
                Err(CdpError::Protocol { code: -32601, .. }) if kind == "worker" => {}
                Err(CdpError::TargetGone(_) | CdpError::Closed(_)) => {}
                Err(e) => {
                    tracing::warn!(%e, %kind, "interception could not be installed: closing the target");
                    let _ = conn
                        .exec(&CloseTarget { target_id: target }, CALL_TIMEOUT)
                        .await;
                }
            }
        })
    };
    while let Ok(ev) = events.recv().await {
        if ev.method == "Fetch.requestPaused" || ev.method == "Target.attachedToTarget" {
            handle_event(&conn, &session, None, ev, &state, &policy);
        }
    }
    setup.abort();
    conn.unregister_target(&session);
}

fn remote_object_text(o: &Value) -> String {
    match o.get("value") {
        Some(Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => o
            .get("description")
            .and_then(Value::as_str)
            .or_else(|| o.get("type").and_then(Value::as_str))
            .unwrap_or("")
            .to_string(),
    }
}
