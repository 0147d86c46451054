//! Where session records live. The registry talks only to [`SessionStore`], so a store shared
//! between instances (Redis) can replace the in-memory one without touching the API layer.
//! Every method that changes a record is one atomic step, so limits and credits stay exact.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::record::{SessionRecord, Status};

/// How long an ended session's record stays readable (GET, list) in the in-memory store.
const ENDED_RETENTION: chrono::Duration = chrono::Duration::hours(1);

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub per_tenant: usize,
    pub global: usize,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("tenant has {active} active sessions, the limit is {max}")]
    TenantLimit { active: usize, max: usize },
    #[error("the server has {active} active sessions, the limit is {max}")]
    GlobalLimit { active: usize, max: usize },
    #[error("session store unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts an active record if the tenant and the server are under their limits.
    async fn create(&self, rec: SessionRecord, limits: Limits) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError>;
    /// A tenant's sessions, newest first.
    async fn list(&self, tenant: &str) -> Result<Vec<SessionRecord>, StoreError>;
    async fn mark_started(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Counts one action; returns the updated record.
    async fn record_action(
        &self,
        id: &str,
        kind: &str,
        ok: bool,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Ends an active session and charges it. `Some` only for the call that ended it.
    async fn finish(
        &self,
        id: &str,
        status: Status,
        reason: &str,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError>;
    /// Started, active sessions due to end (TTL or idle timeout), with why.
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<(String, &'static str)>, StoreError>;
    async fn active_count(&self) -> Result<usize, StoreError>;
}

/// The embedded default: one instance, nothing to install.
pub struct MemoryStore {
    records: Mutex<HashMap<String, SessionRecord>>,
    /// Ended records kept at most (the oldest go first), besides the retention time.
    max_ended: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new(10_000)
    }
}

impl MemoryStore {
    pub fn new(max_ended: usize) -> Self {
        Self {
            records: Mutex::new(HashMap::new()),
            max_ended,
        }
    }

    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, SessionRecord>) -> T,
    ) -> Result<T, StoreError> {
        // Nothing run under this lock panics (checked arithmetic only); should something ever
        // do, the map is still whole (each closure changes one record), so serving goes on
        // rather than every later request answering 503.
        let mut g = self
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        Ok(f(&mut g))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    async fn create(&self, rec: SessionRecord, limits: Limits) -> Result<(), StoreError> {
        self.with(|m| {
            let active: Vec<&SessionRecord> = m.values().filter(|r| r.is_active()).collect();
            let mine = active.iter().filter(|r| r.tenant == rec.tenant).count();
            if mine >= limits.per_tenant {
                return Err(StoreError::TenantLimit {
                    active: mine,
                    max: limits.per_tenant,
                });
            }
            if active.len() >= limits.global {
                return Err(StoreError::GlobalLimit {
                    active: active.len(),
                    max: limits.global,
                });
            }
            m.insert(rec.id.clone(), rec);
            Ok(())
        })?
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        self.with(|m| m.get(id).cloned())
    }

    async fn list(&self, tenant: &str) -> Result<Vec<SessionRecord>, StoreError> {
        self.with(|m| {
            let mut v: Vec<SessionRecord> =
                m.values().filter(|r| r.tenant == tenant).cloned().collect();
            v.sort_by_key(|r| std::cmp::Reverse(r.created_at));
            v
        })
    }

    async fn mark_started(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.with(|m| {
            if let Some(r) = m.get_mut(id) {
                r.mark_started(at);
            }
        })
    }

    async fn record_action(
        &self,
        id: &str,
        kind: &str,
        ok: bool,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.with(|m| {
            m.get_mut(id).map(|r| {
                r.count_action(kind, ok);
                r.clone()
            })
        })
    }

    async fn finish(
        &self,
        id: &str,
        status: Status,
        reason: &str,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        self.with(|m| {
            let r = m.get_mut(id)?;
            r.finish(status, reason, error, at).then(|| r.clone())
        })
    }

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<(String, &'static str)>, StoreError> {
        self.with(|m| {
            m.retain(|_, r| {
                r.closed_at
                    .is_none_or(|c| now.signed_duration_since(c) < ENDED_RETENTION)
            });
            let ended = m.values().filter(|r| r.closed_at.is_some()).count();
            if ended > self.max_ended {
                let mut oldest: Vec<(DateTime<Utc>, String)> = m
                    .values()
                    .filter_map(|r| r.closed_at.map(|c| (c, r.id.clone())))
                    .collect();
                oldest.sort_unstable();
                for (_, id) in oldest.into_iter().take(ended - self.max_ended) {
                    m.remove(&id);
                }
            }
            m.values()
                .filter_map(|r| r.due(now).map(|why| (r.id.clone(), why)))
                .collect()
        })
    }

    async fn active_count(&self) -> Result<usize, StoreError> {
        self.with(|m| m.values().filter(|r| r.is_active()).count())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::record::SessionOptions;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    }

    #[test]
    fn ttl_runs_from_start_and_limits_hold() {
        rt().block_on(async {
            let store = MemoryStore::default();
            let limits = Limits {
                per_tenant: 1,
                global: 10,
            };
            let t0 = Utc::now();
            let opts = SessionOptions {
                max_ttl_seconds: 1,
                ..Default::default()
            };
            let rec = SessionRecord::new("a", opts.clone(), t0);
            let id = rec.id.clone();
            store.create(rec, limits).await.unwrap();
            let again = store
                .create(SessionRecord::new("a", opts.clone(), t0), limits)
                .await;
            assert!(matches!(
                again,
                Err(StoreError::TenantLimit { active: 1, max: 1 })
            ));
            store
                .create(SessionRecord::new("b", opts, t0), limits)
                .await
                .unwrap();

            let late = t0 + chrono::Duration::seconds(5);
            assert!(
                store.due(late).await.unwrap().is_empty(),
                "not due while still starting"
            );
            store.mark_started(&id, late).await.unwrap();
            assert!(
                store.due(late).await.unwrap().is_empty(),
                "TTL runs from the start"
            );
            let after = late + chrono::Duration::milliseconds(1001);
            assert_eq!(
                store.due(after).await.unwrap(),
                vec![(id.clone(), "expired")]
            );
            let done = store
                .finish(&id, Status::Expired, "expired", None, after)
                .await
                .unwrap();
            assert_eq!(done.map(|r| r.billed_credits), Some(1));
            assert!(store
                .finish(&id, Status::Closed, "closed", None, after)
                .await
                .unwrap()
                .is_none());
        });
    }
}
