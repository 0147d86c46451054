//! Where a tenant's sealed profiles live: in memory by default, in Redis when instances share
//! sessions (`redis_store::profiles`). A store only keeps bytes and their description; sealing,
//! names and the per-profile cap are the caller's. The per-tenant caps are checked by the
//! store in the same step that writes, so two saves at once cannot pass them together.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sessions::store::StoreError;

/// What a profile is, without its contents (also how the store keeps it, as JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileMeta {
    pub name: String,
    /// Size of the sealed blob, which the caps count.
    pub size_bytes: u64,
    pub saved_at: DateTime<Utc>,
    pub cookies: usize,
    pub origins: usize,
}

/// A tenant's caps, over all its profiles.
#[derive(Debug, Clone, Copy)]
pub struct TenantCaps {
    pub max_bytes: u64,
    pub max_profiles: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    #[error("the tenant's profiles would take {would} bytes, the limit is {max} (max_profile_bytes_per_tenant); delete some first")]
    TenantBytes { would: u64, max: u64 },
    #[error("the tenant already has {max} profiles, the limit (max_profiles_per_tenant); delete one first")]
    TenantCount { max: usize },
    #[error("{0}")]
    Store(#[from] StoreError),
}

#[async_trait]
pub trait ProfileStore: Send + Sync {
    /// Stores `blob` as `meta.name`, replacing a profile of that name, if the tenant stays
    /// within `caps` (the replaced profile does not count).
    async fn put(
        &self,
        tenant: &str,
        meta: &ProfileMeta,
        blob: Vec<u8>,
        caps: TenantCaps,
    ) -> Result<(), PutError>;
    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// The tenant's profiles by name.
    async fn list(&self, tenant: &str) -> Result<Vec<ProfileMeta>, StoreError>;
    /// Whether there was one to delete.
    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError>;
}

type Tenants = HashMap<String, BTreeMap<String, (ProfileMeta, Vec<u8>)>>;

/// The embedded default: profiles last as long as the process.
#[derive(Default)]
pub struct MemoryProfiles {
    tenants: Mutex<Tenants>,
}

impl MemoryProfiles {
    fn with<T>(&self, f: impl FnOnce(&mut Tenants) -> T) -> T {
        // Each closure changes one entry: a poisoned lock still holds a whole map.
        let mut g = self.tenants.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

#[async_trait]
impl ProfileStore for MemoryProfiles {
    async fn put(
        &self,
        tenant: &str,
        meta: &ProfileMeta,
        blob: Vec<u8>,
        caps: TenantCaps,
    ) -> Result<(), PutError> {
        self.with(|t| {
            let mine = t.entry(tenant.to_string()).or_default();
            let others = mine.iter().filter(|(n, _)| **n != meta.name);
            let (count, used) = others.fold((0usize, 0u64), |(c, b), (_, (m, _))| {
                (c.saturating_add(1), b.saturating_add(m.size_bytes))
            });
            if count >= caps.max_profiles {
                return Err(PutError::TenantCount {
                    max: caps.max_profiles,
                });
            }
            let would = used.saturating_add(meta.size_bytes);
            if would > caps.max_bytes {
                return Err(PutError::TenantBytes {
                    would,
                    max: caps.max_bytes,
                });
            }
            mine.insert(meta.name.clone(), (meta.clone(), blob));
            Ok(())
        })
    }

    async fn get(&self, tenant: &str, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with(|t| t.get(tenant)?.get(name).map(|(_, b)| b.clone())))
    }

    async fn list(&self, tenant: &str) -> Result<Vec<ProfileMeta>, StoreError> {
        Ok(self.with(|t| {
            t.get(tenant)
                .map(|m| m.values().map(|(meta, _)| meta.clone()).collect())
                .unwrap_or_default()
        }))
    }

    async fn delete(&self, tenant: &str, name: &str) -> Result<bool, StoreError> {
        Ok(self.with(|t| t.get_mut(tenant).and_then(|m| m.remove(name)).is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, size: u64) -> ProfileMeta {
        ProfileMeta {
            name: name.into(),
            size_bytes: size,
            saved_at: Utc::now(),
            cookies: 0,
            origins: 0,
        }
    }

    #[tokio::test]
    async fn caps_count_other_profiles_only_and_tenants_apart() {
        let s = MemoryProfiles::default();
        let caps = TenantCaps {
            max_bytes: 100,
            max_profiles: 2,
        };
        s.put("a", &meta("one", 60), vec![1], caps).await.unwrap();
        // Replacing `one` does not count the old `one`.
        s.put("a", &meta("one", 90), vec![2], caps).await.unwrap();
        assert!(matches!(
            s.put("a", &meta("two", 20), vec![3], caps).await,
            Err(PutError::TenantBytes { would: 110, .. })
        ));
        s.put("a", &meta("two", 10), vec![3], caps).await.unwrap();
        assert!(matches!(
            s.put("a", &meta("three", 0), vec![], caps).await,
            Err(PutError::TenantCount { max: 2 })
        ));
        // Another tenant has its own caps and sees nothing of `a`'s.
        s.put("b", &meta("one", 100), vec![9], caps).await.unwrap();
        assert_eq!(s.get("b", "two").await.unwrap(), None);
        assert_eq!(s.get("a", "one").await.unwrap(), Some(vec![2]));
        assert!(s.delete("a", "one").await.unwrap());
        assert!(!s.delete("a", "one").await.unwrap());
        assert_eq!(s.list("a").await.unwrap().len(), 1);
    }
}
