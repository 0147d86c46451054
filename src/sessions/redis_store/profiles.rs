//! Saved profiles in the shared store, so any instance starts a session from a profile saved
//! on another. Keys (no expiry: a profile lasts until its tenant deletes it):
//!
//! | key | type | what |
//! |---|---|---|
//! | `pp:p:<tenant>` | hash | profile name -> sealed bytes |
//! | `pp:pm:<tenant>` | hash | profile name -> its description (JSON) |

use async_trait::async_trait;
use redis::AsyncCommands;

use super::{unavailable, RedisStore, ROOT};
use crate::sessions::profiles::store::{ProfileMeta, ProfileStore, PutError, TenantCaps};
use crate::sessions::store::StoreError;

fn blobs(tenant: &str) -> String {
    format!("{ROOT}p:{tenant}")
}

fn metas(tenant: &str) -> String {
    format!("{ROOT}pm:{tenant}")
}

#[async_trait]
impl ProfileStore for RedisStore {
    async fn put(
        &self,
        tenant: &str,
        meta: &ProfileMeta,
        blob: Vec<u8>,
        caps: TenantCaps,
    ) -> Result<(), PutError> {
        let described = serde_json::to_string(meta)
            .map_err(|e| StoreError::Unavailable(format!("profile description: {e}")))?;
        let (code, n): (i64, u64) = self
            .profile_put
            .key(blobs(tenant))
            .key(metas(tenant))
            .arg(&meta.name)
            .arg(blob)
            .arg(described)
            .arg(meta.size_bytes)
            .arg(caps.max_bytes)
            .arg(caps.max_profiles)
            .invoke_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        match code {
            -1 => Err(PutError::TenantBytes {
                would: n,
                max: caps.max_bytes,
            }),
            -2 => Err(PutError::TenantCount {
                max: caps.max_profiles,
            }),
            _ => Ok(()),
        }
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.conn()
            .hget(blobs(tenant), name)
            .await
            .map_err(unavailable)
    }

    async fn list(&self, tenant: &str) -> Result<Vec<ProfileMeta>, StoreError> {
        let all: std::collections::BTreeMap<String, String> = self
            .conn()
            .hgetall(metas(tenant))
            .await
            .map_err(unavailable)?;
        // A description that does not parse (written by a newer version) is left out.
        Ok(all
            .values()
            .filter_map(|m| serde_json::from_str(m).ok())
            .collect())
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hdel(blobs(tenant), name)
            .hdel(metas(tenant), name);
        let (a, _b): (u64, u64) = pipe
            .query_async(&mut self.conn())
            .await
            .map_err(unavailable)?;
        Ok(a > 0)
    }
}
