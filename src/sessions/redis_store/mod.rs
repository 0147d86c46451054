//! The shared store: session records, limits, stats and credits in Redis, plus the instance
//! registry, so several pagepilot instances serve the same sessions. Every change is one Lua
//! script or one command, so limits hold across instances and a session is charged once.
//! Keys (standalone Redis; the scripts derive keys from records, so not Redis Cluster):
//!
//! | key | type | what |
//! |---|---|---|
//! | `pp:s:<id>` | hash | the record (see `fields`), expiring with the session + retention |
//! | `pp:active` | set | active session ids (global limit) |
//! | `pp:t:<tenant>:active` | set | the tenant's active ids (tenant limit) |
//! | `pp:t:<tenant>:all` | zset | the tenant's ids by creation time (list) |
//! | `pp:i:<instance>` | string | a live instance's internal address, expiring (heartbeat) |
//! | `pp:i:<instance>:sessions` | set | the active sessions it owns |
//! | `pp:instances` | set | instances that registered (dead ones are found and forgotten) |
//!
//! Saved profiles: see `profiles`.

mod fields;
mod profiles;

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};

use super::cluster::Cluster;
use super::record::{credits, SessionRecord, Status};
use super::store::{Limits, SessionStore, StoreError};

const ROOT: &str = "pp:";
/// How long an ended session's record stays readable (as the in-memory store keeps it).
const RETENTION_SECONDS: i64 = 3600;

pub struct RedisStore {
    conn: ConnectionManager,
    instance: String,
    address: String,
    heartbeat_ttl: Duration,
    /// Ended records kept across the cluster (`max_ended_records`), on top of the hour.
    max_ended: usize,
    create: Script,
    finish: Script,
    count: Script,
    profile_put: Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    crate::telemetry::redis_error();
    StoreError::Unavailable(format!("redis: {e}"))
}

fn rec_key(id: &str) -> String {
    format!("{ROOT}s:{id}")
}

/// Attempts at the first connection, and the pause between them.
const FIRST_ATTEMPTS: u32 = 3;
const FIRST_PAUSE: Duration = Duration::from_millis(500);

/// The first connection: a Redis that is slow to answer at that moment (a loaded machine, one
/// just started) gets three tries within a few seconds; one that is not there fails the start
/// with the last error.
async fn first_connection(
    url: &str,
    client: &redis::Client,
    cfg: &ConnectionManagerConfig,
) -> Result<ConnectionManager, String> {
    let mut attempt = 1;
    loop {
        match ConnectionManager::new_with_config(client.clone(), cfg.clone()).await {
            Ok(conn) => return Ok(conn),
            Err(e) if attempt >= FIRST_ATTEMPTS => {
                return Err(format!(
                    "cannot reach redis at {url} ({FIRST_ATTEMPTS} attempts): {e}"
                ))
            }
            Err(e) => {
                tracing::warn!(%url, attempt, error = %e, "redis did not answer; trying again");
                attempt += 1;
                tokio::time::sleep(FIRST_PAUSE).await;
            }
        }
    }
}

impl RedisStore {
    /// Connects (failing fast when Redis is not there at start); later outages answer
    /// `Unavailable` and the connection comes back by itself.
    pub async fn connect(
        url: &str,
        instance: String,
        address: String,
        heartbeat_ttl: Duration,
        max_ended: usize,
    ) -> Result<Self, String> {
        let client = redis::Client::open(url)
            .map_err(|e| format!("redis_url `{url}` is not usable: {e}"))?;
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = first_connection(url, &client, &cfg).await?;
        Ok(Self {
            conn,
            instance,
            address,
            heartbeat_ttl,
            max_ended,
            create: Script::new(include_str!("create.lua")),
            finish: Script::new(include_str!("finish.lua")),
            count: Script::new(include_str!("count.lua")),
            profile_put: Script::new(include_str!("profile_put.lua")),
        })
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    async fn records(&self, ids: &[String]) -> Result<Vec<Option<SessionRecord>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in ids {
            pipe.hgetall(rec_key(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(hashes.iter().map(fields::from_fields).collect())
    }
}

/// Seconds the record key should live: the session's remaining TTL plus the retention.
fn key_ttl(rec: &SessionRecord, now: DateTime<Utc>) -> i64 {
    (rec.expires_at - now).num_seconds().max(0) + RETENTION_SECONDS
}

#[async_trait]
impl SessionStore for RedisStore {
    async fn create(&self, mut rec: SessionRecord, limits: Limits) -> Result<(), StoreError> {
        rec.owner = Some(self.instance.clone());
        let mut inv = self.create.prepare_invoke();
        inv.key(rec_key(&rec.id))
            .key(format!("{ROOT}t:{}:active", rec.tenant))
            .key(format!("{ROOT}active"))
            .key(format!("{ROOT}t:{}:all", rec.tenant))
            .key(format!("{ROOT}i:{}:sessions", self.instance))
            .arg(limits.per_tenant)
            .arg(limits.global)
            .arg(rec.created_at.timestamp_millis())
            .arg(key_ttl(&rec, Utc::now()))
            .arg(&rec.id)
            .arg(format!("{ROOT}s:"));
        for (k, v) in fields::to_fields(&rec) {
            inv.arg(k).arg(v);
        }
        let (code, active): (i64, usize) = inv
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        match code {
            -1 => Err(StoreError::TenantLimit {
                active,
                max: limits.per_tenant,
            }),
            -2 => Err(StoreError::GlobalLimit {
                active,
                max: limits.global,
            }),
            _ => Ok(()),
        }
    }

    async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StoreError> {
        let h: HashMap<String, String> = self
            .conn()
            .hgetall(rec_key(id))
            .await
            .map_err(unavailable)?;
        Ok(fields::from_fields(&h))
    }

    async fn list(&self, tenant: &str) -> Result<Vec<SessionRecord>, StoreError> {
        let key = format!("{ROOT}t:{tenant}:all");
        let ids: Vec<String> = self
            .conn()
            .zrevrange(&key, 0, -1)
            .await
            .map_err(unavailable)?;
        let recs = self.records(&ids).await?;
        let gone: Vec<&String> = ids
            .iter()
            .zip(&recs)
            .filter(|(_, r)| r.is_none())
            .map(|(id, _)| id)
            .collect();
        if !gone.is_empty() {
            let _: Result<(), _> = self.conn().zrem(&key, gone).await;
        }
        Ok(recs.into_iter().flatten().collect())
    }

    async fn mark_started(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        let Some(mut rec) = self.get(id).await? else {
            return Ok(());
        };
        rec.mark_started(at);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                rec_key(id),
                &[
                    ("started", at.timestamp_millis().to_string()),
                    ("last", at.timestamp_millis().to_string()),
                    ("expires", rec.expires_at.timestamp_millis().to_string()),
                ],
            )
            .expire(rec_key(id), key_ttl(&rec, Utc::now()));
        pipe.query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn record_action(
        &self,
        id: &str,
        kind: &str,
        ok: bool,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let h: Option<HashMap<String, String>> = self
            .count
            .key(rec_key(id))
            .arg(kind)
            .arg(if ok { 1 } else { 0 })
            .arg(Utc::now().timestamp_millis())
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(h.as_ref().and_then(fields::from_fields))
    }

    async fn finish(
        &self,
        id: &str,
        status: Status,
        reason: &str,
        error: Option<String>,
        at: DateTime<Utc>,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let Some(rec) = self.get(id).await? else {
            return Ok(None);
        };
        if !rec.is_active() {
            return Ok(None);
        }
        let at = at.max(rec.created_at);
        let h: Option<HashMap<String, String>> = self
            .finish
            .key(rec_key(id))
            .arg(status.label())
            .arg(reason)
            .arg(error.unwrap_or_default())
            .arg(at.timestamp_millis())
            .arg(credits(rec.created_at, at))
            .arg(RETENTION_SECONDS)
            .arg(ROOT)
            .arg(self.max_ended)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(h.as_ref().and_then(fields::from_fields))
    }

    /// This instance's sessions due to end (each instance reaps the browsers it holds).
    async fn due(&self, now: DateTime<Utc>) -> Result<Vec<(String, &'static str)>, StoreError> {
        let ids: Vec<String> = self
            .conn()
            .smembers(format!("{ROOT}i:{}:sessions", self.instance))
            .await
            .map_err(unavailable)?;
        let recs = self.records(&ids).await?;
        Ok(recs
            .into_iter()
            .flatten()
            .filter_map(|r| r.due(now).map(|why| (r.id.clone(), why)))
            .collect())
    }

    async fn active_count(&self) -> Result<usize, StoreError> {
        self.conn()
            .scard(format!("{ROOT}active"))
            .await
            .map_err(unavailable)
    }
}

#[async_trait]
impl Cluster for RedisStore {
    fn instance_id(&self) -> &str {
        &self.instance
    }

    fn heartbeat_ttl(&self) -> Duration {
        self.heartbeat_ttl
    }

    async fn heartbeat(&self) -> Result<(), StoreError> {
        let ttl = self.heartbeat_ttl.as_millis().max(1000) as u64;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(format!("{ROOT}i:{}", self.instance))
            .arg(&self.address)
            .arg("PX")
            .arg(ttl)
            .ignore()
            .sadd(format!("{ROOT}instances"), &self.instance)
            .ignore();
        pipe.query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn address_of(&self, instance: &str) -> Result<Option<String>, StoreError> {
        self.conn()
            .get(format!("{ROOT}i:{instance}"))
            .await
            .map_err(unavailable)
    }

    async fn dead_instances(&self) -> Result<Vec<(String, Vec<String>)>, StoreError> {
        let all: Vec<String> = self
            .conn()
            .smembers(format!("{ROOT}instances"))
            .await
            .map_err(unavailable)?;
        let mut dead = Vec::new();
        for i in all.into_iter().filter(|i| *i != self.instance) {
            if self.address_of(&i).await?.is_none() {
                let ids: Vec<String> = self
                    .conn()
                    .smembers(format!("{ROOT}i:{i}:sessions"))
                    .await
                    .map_err(unavailable)?;
                dead.push((i, ids));
            }
        }
        Ok(dead)
    }

    async fn forget(&self, instance: &str) -> Result<(), StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .srem(format!("{ROOT}instances"), instance)
            .ignore()
            .del(format!("{ROOT}i:{instance}:sessions"))
            .ignore();
        pipe.query_async::<()>(&mut self.conn())
            .await
            .map_err(unavailable)
    }

    async fn leave(&self) {
        let mut pipe = redis::pipe();
        pipe.del(format!("{ROOT}i:{}", self.instance))
            .ignore()
            .srem(format!("{ROOT}instances"), &self.instance)
            .ignore();
        if let Err(e) = pipe.query_async::<()>(&mut self.conn()).await {
            tracing::warn!(%e, "could not leave the instance registry");
        }
    }
}
