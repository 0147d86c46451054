//! The registry's background loops: the TTL reaper, browser and page deaths, and with a
//! cluster the heartbeat and the janitor that settles dead instances' sessions.

use std::sync::Arc;
use std::time::Duration;

use super::*;

/// How often the reaper looks for expired sessions (they end within a second).
const REAP_EVERY: Duration = Duration::from_millis(200);

pub(super) async fn reaper(inner: std::sync::Weak<Inner>) {
    let mut tick = tokio::time::interval(REAP_EVERY);
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if halted(&inner) {
            return;
        }
        let s = Sessions { inner };
        let due = match s.inner.store.due(Utc::now()).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(%e, "reaper cannot read the store");
                continue;
            }
        };
        for (id, why) in due {
            if let Ok(Some(done)) = s.end(&id, Status::Expired, why, None).await {
                tracing::info!(session = %id, credits = done.billed_credits, "session expired");
            }
            s.drop_live(&id).await;
        }
        if s.inner.cluster.is_some() {
            s.drop_ended_elsewhere().await;
        }
    }
}

impl Sessions {
    /// Live sessions another instance ended (it judged this one dead): release their pages.
    async fn drop_ended_elsewhere(&self) {
        let ids = self.live_ids();
        for id in ids {
            if let Ok(Some(rec)) = self.inner.store.get(&id).await {
                if !rec.is_active() {
                    tracing::warn!(session = %id, reason = ?rec.close_reason, "ended by another instance");
                    self.drop_live(&id).await;
                    // A socket held here for it gets its fatal frame.
                    let _ = self.inner.ended.send(Ended {
                        id: id.clone(),
                        status: rec.status,
                        reason: rec.close_reason.unwrap_or_default(),
                        error: rec.error,
                    });
                }
            }
        }
    }
}

/// The store was unreachable less than two heartbeat windows ago: every instance's heartbeat
/// may have lapsed meanwhile, so a missing one proves nothing yet.
pub(super) fn recovering(inner: &Inner, cluster: &dyn Cluster) -> bool {
    inner
        .heartbeat_failed
        .lock()
        .ok()
        .and_then(|f| *f)
        .is_some_and(|t| t.elapsed() < cluster.heartbeat_ttl() * 2)
}

fn halted(inner: &Inner) -> bool {
    inner.halted.load(std::sync::atomic::Ordering::SeqCst)
}

/// The registry and its cluster, while the registry lives and is not halted.
fn running_cluster(inner: &std::sync::Weak<Inner>) -> Option<(Arc<Inner>, Arc<dyn Cluster>)> {
    let strong = inner.upgrade()?;
    let cluster = strong.cluster.clone()?;
    (!halted(&strong)).then_some((strong, cluster))
}

/// Announces this instance every third of the heartbeat window.
pub(super) async fn heartbeat(inner: std::sync::Weak<Inner>) {
    loop {
        let Some((strong, cluster)) = running_cluster(&inner) else {
            return;
        };
        if let Err(e) = cluster.heartbeat().await {
            tracing::warn!(%e, "heartbeat failed");
            if let Ok(mut f) = strong.heartbeat_failed.lock() {
                *f = Some(std::time::Instant::now());
            }
        }
        drop(strong);
        tokio::time::sleep(cluster.heartbeat_ttl() / 3).await;
    }
}

/// Settles the sessions of instances whose heartbeat expired: each ends in `error`
/// (`owner_lost`) once, whichever instance gets there first, and is charged then.
pub(super) async fn janitor(inner: std::sync::Weak<Inner>) {
    loop {
        let Some((strong, cluster)) = running_cluster(&inner) else {
            return;
        };
        // After an outage of the store every heartbeat has lapsed: judge no one until all
        // instances had time to announce themselves again.
        let wait = recovering(&strong, cluster.as_ref());
        let s = Sessions { inner: strong };
        let dead = if wait {
            Ok(Vec::new())
        } else {
            cluster.dead_instances().await
        };
        match dead {
            Ok(dead) => {
                for (instance, ids) in dead {
                    let why = format!("instance {instance} stopped heartbeating");
                    let mut settled = true;
                    for id in ids {
                        let ended = s
                            .end(&id, Status::Error, reason::OWNER_LOST, Some(why.clone()))
                            .await;
                        if let Err(e) = ended {
                            tracing::warn!(%e, session = %id, "cannot settle a dead instance's session");
                            settled = false;
                        }
                    }
                    if settled {
                        tracing::warn!(%instance, "instance gone; its sessions ended");
                        let _ = cluster.forget(&instance).await;
                    }
                }
            }
            Err(e) => tracing::warn!(%e, "janitor cannot read the registry"),
        }
        drop(s);
        tokio::time::sleep(cluster.heartbeat_ttl() / 2).await;
    }
}

pub(super) async fn death_watch(
    inner: std::sync::Weak<Inner>,
    mut deaths: tokio::sync::broadcast::Receiver<crate::engine::BrowserDeath>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let death = match deaths.recv().await {
            Ok(d) => d,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        let s = Sessions { inner };
        if !s.inner.engine.is_shutting_down() {
            crate::telemetry::browser_crashed();
        }
        let ids: Vec<String> = s
            .inner
            .live
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|(_, l)| l.tabs().is_some_and(|t| t.generation == death.generation))
                    .map(|(id, _)| id.clone())
                    .collect()
            })
            .unwrap_or_default();
        for id in ids {
            s.fail(&id, reason::BROWSER_CRASHED, death.reason.clone())
                .await;
        }
    }
}

/// A session's page died on its own (its renderer crashed, or its browser died): the session
/// ends in `error` at once, without waiting for its next action.
pub(super) async fn page_watch(
    inner: std::sync::Weak<Inner>,
    mut gone: tokio::sync::broadcast::Receiver<crate::engine::PageGone>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        let ev = match gone.recv().await {
            Ok(ev) => ev,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        let Some(inner) = inner.upgrade() else { return };
        let s = Sessions { inner };
        let found = s.inner.live.lock().ok().and_then(|m| {
            m.iter()
                .find(|(_, l)| l.tabs().is_some_and(|t| t.has_session(&ev.session)))
                .and_then(|(id, l)| Some((id, l.tabs()?)))
                .map(|(id, tabs)| {
                    let down = tabs
                        .active()
                        .is_some_and(|p| p.conn.closed_reason().is_some());
                    // A tab that closed itself (window.close) just leaves the set.
                    let closed_itself =
                        !down && !ev.reason.contains("crash") && tabs.forget(&ev.session);
                    (id.clone(), down, closed_itself)
                })
        });
        // Pooled pages belong to no session: the pool drops them itself.
        let Some((id, browser_down, closed_itself)) = found else {
            continue;
        };
        if closed_itself {
            continue;
        }
        let why = if browser_down {
            reason::BROWSER_CRASHED
        } else {
            reason::PAGE_CRASHED
        };
        s.fail(&id, why, ev.reason).await;
    }
}
