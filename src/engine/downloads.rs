//! Downloads (issue 15): each session's browser context saves what it downloads into the
//! session's own folder (`allowAndName`: as its guid, in `.incoming/`), and one watcher per
//! browser follows Chromium's download events: a download past `max_file_bytes` is cancelled
//! while it runs, a finished one becomes a session file named after its suggested name. A
//! download never touches the session's pages: it cannot end or reset the session.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;

use super::cdp::Connection;
use super::files::SessionFiles;
use super::protocol::{CancelDownload, GetTargetInfo, SetDownloadBehavior};
use super::EngineError;

const CALL: Duration = Duration::from_secs(5);
/// Downloads followed at once, per browser; past it the oldest is forgotten.
const MAX_PENDING: usize = 1024;

/// A download on its way.
struct Pending {
    context: Option<String>,
    name: String,
    url: String,
    refused: bool,
}

/// The sessions whose contexts download, and what is downloading.
#[derive(Default)]
pub struct Downloads {
    sinks: Mutex<HashMap<String, Weak<SessionFiles>>>,
    pending: Mutex<HashMap<String, Pending>>,
    /// The browser generation the watcher follows.
    watching: Mutex<u64>,
    /// The per-file cap downloads are held to (`max_file_bytes`; 0 until a session enables).
    max_file_bytes: std::sync::atomic::AtomicU64,
}

impl Downloads {
    /// Sends context `context`'s downloads to `files` (and starts the browser's watcher).
    pub async fn enable(
        self: &Arc<Self>,
        conn: &Connection,
        generation: u64,
        context: &str,
        files: &Arc<SessionFiles>,
    ) -> Result<(), EngineError> {
        let dir = files.incoming_dir()?;
        conn.exec(
            &SetDownloadBehavior {
                behavior: "allowAndName",
                browser_context_id: context.to_string(),
                download_path: dir.to_string_lossy().into_owned(),
                events_enabled: true,
            },
            CALL,
        )
        .await?;
        self.max_file_bytes.store(
            files.caps().max_file_bytes,
            std::sync::atomic::Ordering::Relaxed,
        );
        if let Ok(mut s) = self.sinks.lock() {
            s.retain(|_, w| w.strong_count() > 0);
            s.insert(context.to_string(), Arc::downgrade(files));
        }
        let start = self
            .watching
            .lock()
            .map(|mut w| {
                let new = *w != generation;
                *w = generation;
                new
            })
            .unwrap_or(false);
        if start {
            tokio::spawn(watch(Arc::downgrade(self), conn.clone()));
        }
        Ok(())
    }

    fn sink(&self, context: &str) -> Option<Arc<SessionFiles>> {
        self.sinks.lock().ok()?.get(context)?.upgrade()
    }

    /// The session whose folder `path` is in (a download whose context was not known).
    fn sink_of_path(&self, path: &Path) -> Option<(String, Arc<SessionFiles>)> {
        let sinks = self.sinks.lock().ok()?;
        sinks.iter().find_map(|(ctx, w)| {
            let f = w.upgrade()?;
            f.holds_incoming(path).then(|| (ctx.clone(), f))
        })
    }

    fn contexts(&self) -> Vec<String> {
        self.sinks
            .lock()
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default()
    }
}

async fn watch(downloads: Weak<Downloads>, conn: Connection) {
    let mut events = conn.browser_events();
    loop {
        let ev = match events.recv().await {
            Ok(ev) => ev,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                tracing::warn!(n, "download watcher lagged");
                continue;
            }
            Err(_) => return,
        };
        let Some(d) = downloads.upgrade() else { return };
        let p = &ev.params;
        let text = |k: &str| p[k].as_str().unwrap_or_default().to_string();
        match ev.method.as_str() {
            "Browser.downloadWillBegin" => {
                // A main frame's id is its target's: the target names its context.
                let context = conn
                    .exec(
                        &GetTargetInfo {
                            target_id: text("frameId"),
                        },
                        CALL,
                    )
                    .await
                    .ok()
                    .and_then(|t| t.target_info.browser_context_id);
                if let Ok(mut pend) = d.pending.lock() {
                    if pend.len() >= MAX_PENDING {
                        if let Some(k) = pend.keys().next().cloned() {
                            pend.remove(&k);
                        }
                    }
                    pend.insert(
                        text("guid"),
                        Pending {
                            context,
                            name: text("suggestedFilename"),
                            url: text("url"),
                            refused: false,
                        },
                    );
                }
            }
            "Browser.downloadProgress" => progress(&d, &conn, p).await,
            _ => {}
        }
    }
}

async fn progress(d: &Arc<Downloads>, conn: &Connection, p: &Value) {
    let guid = p["guid"].as_str().unwrap_or_default().to_string();
    let state = p["state"].as_str().unwrap_or_default();
    let received = p["receivedBytes"].as_f64().unwrap_or(0.0).max(0.0) as u64;
    let total = p["totalBytes"].as_f64().unwrap_or(0.0).max(0.0) as u64;
    let (context, name, url, refused) = d
        .pending
        .lock()
        .ok()
        .and_then(|pend| {
            pend.get(&guid)
                .map(|x| (x.context.clone(), x.name.clone(), x.url.clone(), x.refused))
        })
        .unwrap_or_default();
    let sink = context.as_deref().and_then(|c| d.sink(c));
    match state {
        "inProgress" if !refused => {
            // Every session has the engine's caps: the one set at `enable`.
            let cap = d.max_file_bytes.load(std::sync::atomic::Ordering::Relaxed);
            if cap == 0 {
                return;
            }
            if received > cap || total > cap {
                // Its context when known, else every downloading context (only the right
                // one has it; the others answer an error, ignored).
                let contexts = context
                    .clone()
                    .map(|c| vec![c])
                    .unwrap_or_else(|| d.contexts());
                for c in contexts {
                    let _ = conn
                        .exec(
                            &CancelDownload {
                                guid: guid.clone(),
                                browser_context_id: c,
                            },
                            CALL,
                        )
                        .await;
                }
                if let Ok(mut pend) = d.pending.lock() {
                    if let Some(x) = pend.get_mut(&guid) {
                        x.refused = true;
                    }
                }
                let why = format!(
                    "the download of {} was refused: it is {} bytes, over the cap of {cap} bytes per file (max_file_bytes)",
                    if name.is_empty() { url.as_str() } else { name.as_str() },
                    received.max(total)
                );
                tracing::warn!(%guid, "{why}");
                // An iframe's download has no known context: the session is told only if its
                // folder is known by then (at completion, which a cancel prevents).
                if let Some(s) = &sink {
                    s.note_refused(&name, &url, why);
                }
            }
        }
        "completed" => {
            let path = p["filePath"].as_str().map(std::path::PathBuf::from);
            let owner = match (sink, &path) {
                (Some(s), _) => Some(s),
                (None, Some(path)) => d.sink_of_path(path).map(|(_, s)| s),
                _ => None,
            };
            if let Ok(mut pend) = d.pending.lock() {
                pend.remove(&guid);
            }
            let Some(files) = owner else {
                // No session holds it (it ended meanwhile): nothing to keep.
                if let Some(path) = path {
                    let _ = tokio::fs::remove_file(path).await;
                }
                return;
            };
            if let Err(e) = files.adopt_download(&guid, &name, &url).await {
                files.note_refused(&name, &url, e.to_string());
            }
        }
        "canceled" => {
            if let Ok(mut pend) = d.pending.lock() {
                pend.remove(&guid);
            }
            if let Some(s) = sink {
                s.drop_incoming(&guid).await;
            }
        }
        _ => {}
    }
}
