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
    /// Ids of active sessions whose TTL has run out.
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError>;
    async fn active_count(&self) -> Result<usize, StoreError>;
}

/// The embedded default: one instance, nothing to install.
#[derive(Default)]
pub struct MemoryStore {
    records: Mutex<HashMap<String, SessionRecord>>,
}

impl MemoryStore {
    fn with<T>(
        &self,
        f: impl FnOnce(&mut HashMap<String, SessionRecord>) -> T,
    ) -> Result<T, StoreError> {
        let mut g = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("store lock poisoned".into()))?;
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
                r.started_at = Some(at);
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

    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<String>, StoreError> {
        self.with(|m| {
            m.retain(|_, r| r.closed_at.is_none_or(|c| now - c < ENDED_RETENTION));
            m.values()
                .filter(|r| r.is_active() && r.expires_at <= now)
                .map(|r| r.id.clone())
                .collect()
        })
    }

    async fn active_count(&self) -> Result<usize, StoreError> {
        self.with(|m| m.values().filter(|r| r.is_active()).count())
    }
}
