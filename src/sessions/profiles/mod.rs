//! Saved profiles: a tenant's named browser states (cookies, storage per origin), sealed with
//! AES-256-GCM before they reach the store, so a Redis dump or a memory image of the store
//! holds no cookie in clear. The sealed bytes are bound to their tenant and name: a blob
//! copied under another tenant or name does not open.

pub mod store;

use std::sync::Arc;

use chrono::Utc;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use sha2::{Digest, Sha256};

use crate::engine::profile::BrowserState;
use crate::engine::EngineError;
use store::{ProfileMeta, ProfileStore, PutError, TenantCaps};

/// The longest profile name.
pub const MAX_NAME_LEN: usize = 64;
/// What sealed bytes start with (the format's version).
const MAGIC: &[u8; 4] = b"pp1\0";

#[derive(Debug, Clone, Copy)]
pub struct ProfileCaps {
    /// One profile's sealed size, at most (`max_profile_bytes`).
    pub max_profile_bytes: u64,
    pub tenant: TenantCaps,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{0}")]
    BadName(String),
    #[error("profile `{0}` not found")]
    NotFound(String),
    #[error("{0}")]
    TooLarge(String),
    /// Sealed with another key (an instance with another `profile_key`) or damaged.
    #[error("profile `{0}` cannot be opened with this server's profile_key (saved with another key, or damaged)")]
    Unreadable(String),
    #[error("{0}")]
    Store(#[from] crate::sessions::store::StoreError),
    #[error("{0}")]
    Engine(#[from] EngineError),
}

impl From<PutError> for ProfileError {
    fn from(e: PutError) -> Self {
        match e {
            PutError::Store(s) => ProfileError::Store(s),
            other => ProfileError::TooLarge(other.to_string()),
        }
    }
}

/// How a profile failure reads where an action or a session start failed: the same statuses
/// as every other engine failure (400, 404, 413, 503).
impl From<ProfileError> for EngineError {
    fn from(e: ProfileError) -> Self {
        match e {
            ProfileError::BadName(m) => EngineError::BadInput(m),
            e @ ProfileError::NotFound(_) => EngineError::NotFound(e.to_string()),
            ProfileError::TooLarge(m) => EngineError::TooLarge(m),
            // The server's key differs from the one that sealed it: the operator's to fix.
            e @ ProfileError::Unreadable(_) => EngineError::Internal(e.to_string()),
            ProfileError::Store(s) => EngineError::Unavailable(s.to_string()),
            ProfileError::Engine(e) => e,
        }
    }
}

impl From<ProfileMeta> for crate::engine::actions::output::SavedProfile {
    fn from(m: ProfileMeta) -> Self {
        Self {
            name: m.name,
            size_bytes: m.size_bytes,
            saved_at: m
                .saved_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            cookies: m.cookies,
            origins: m.origins,
        }
    }
}

/// A name is 1 to 64 of `A-Z a-z 0-9 . _ -`, not starting with a dot: the same in a URL path,
/// a Redis key and a log line.
pub fn checked_name(name: &str) -> Result<&str, ProfileError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME_LEN
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(name)
    } else {
        let shown: String = name.chars().take(80).collect();
        Err(ProfileError::BadName(format!(
            "profile name must be 1 to {MAX_NAME_LEN} characters of A-Z, a-z, 0-9, '.', '_' and '-', not starting with '.'; got `{shown}`"
        )))
    }
}

/// The sealing key, derived from the operator's `profile_key` (or the generated one).
struct Vault {
    key: LessSafeKey,
}

impl Vault {
    fn new(secret: &str) -> Result<Self, String> {
        let mut h = Sha256::new();
        h.update(b"pagepilot profile key v1\0");
        h.update(secret.as_bytes());
        let bytes = h.finalize();
        let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| "the profile key could not be made".to_string())?;
        Ok(Self {
            key: LessSafeKey::new(unbound),
        })
    }

    fn aad(tenant: &str, name: &str) -> Vec<u8> {
        format!("{tenant}\0{name}").into_bytes()
    }

    fn seal(&self, tenant: &str, name: &str, mut plain: Vec<u8>) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        // Sealing in place only fails for inputs past ~64 GB; profiles are capped far below.
        if self
            .key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(tenant, name)),
                &mut plain,
            )
            .is_err()
        {
            return Vec::new();
        }
        let mut out = Vec::with_capacity(MAGIC.len() + NONCE_LEN + plain.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&plain);
        out
    }

    fn open(&self, tenant: &str, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        let rest = sealed.strip_prefix(MAGIC.as_slice())?;
        if rest.len() < NONCE_LEN {
            return None;
        }
        let (nonce, body) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(Self::aad(tenant, name)), &mut buf)
            .ok()?;
        Some(plain.to_vec())
    }
}

#[derive(Clone)]
pub struct Profiles {
    store: Arc<dyn ProfileStore>,
    vault: Arc<Vault>,
    caps: ProfileCaps,
}

impl Profiles {
    pub fn new(
        store: Arc<dyn ProfileStore>,
        secret: &str,
        caps: ProfileCaps,
    ) -> Result<Self, String> {
        Ok(Self {
            store,
            vault: Arc::new(Vault::new(secret)?),
            caps,
        })
    }

    /// Seals and stores `state` as the tenant's profile `name` (replacing one of that name).
    pub async fn save(
        &self,
        tenant: &str,
        name: &str,
        state: BrowserState,
    ) -> Result<ProfileMeta, ProfileError> {
        let name = checked_name(name)?.to_string();
        let (cookies, origins) = (state.cookies.len(), state.origins.len());
        let (vault, t, n) = (self.vault.clone(), tenant.to_string(), name.clone());
        // Serialising and sealing a large state is CPU work: off the async workers.
        let sealed = tokio::task::spawn_blocking(move || {
            serde_json::to_vec(&state).map(|plain| vault.seal(&t, &n, plain))
        })
        .await
        .map_err(|e| EngineError::Internal(format!("sealing the profile failed: {e}")))?
        .map_err(|e| EngineError::Internal(format!("the profile could not be encoded: {e}")))?;
        if sealed.is_empty() {
            return Err(EngineError::Internal("the profile could not be sealed".into()).into());
        }
        let size = sealed.len() as u64;
        if size > self.caps.max_profile_bytes {
            return Err(ProfileError::TooLarge(format!(
                "the session's state takes {size} bytes, the limit of one profile is {} (max_profile_bytes)",
                self.caps.max_profile_bytes
            )));
        }
        let meta = ProfileMeta {
            name,
            size_bytes: size,
            saved_at: Utc::now(),
            cookies,
            origins,
        };
        self.store
            .put(tenant, &meta, sealed, self.caps.tenant)
            .await?;
        tracing::info!(tenant, profile = %meta.name, bytes = size, cookies, origins, "profile saved");
        Ok(meta)
    }

    /// The tenant's profile `name`, opened; another tenant's is not found, as an unknown one.
    pub async fn load(&self, tenant: &str, name: &str) -> Result<BrowserState, ProfileError> {
        let name = checked_name(name)?.to_string();
        let sealed = self
            .store
            .get(tenant, &name)
            .await?
            .ok_or_else(|| ProfileError::NotFound(name.clone()))?;
        let (vault, t, n) = (self.vault.clone(), tenant.to_string(), name.clone());
        let state = tokio::task::spawn_blocking(move || {
            let plain = vault.open(&t, &n, &sealed)?;
            serde_json::from_slice::<BrowserState>(&plain).ok()
        })
        .await
        .map_err(|e| EngineError::Internal(format!("opening the profile failed: {e}")))?;
        let state = state.ok_or(ProfileError::Unreadable(name))?;
        state.check()?;
        Ok(state)
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<ProfileMeta>, ProfileError> {
        Ok(self.store.list(tenant).await?)
    }

    pub async fn delete(&self, tenant: &str, name: &str) -> Result<(), ProfileError> {
        let name = checked_name(name)?;
        if self.store.delete(tenant, name).await? {
            tracing::info!(tenant, profile = %name, "profile deleted");
            Ok(())
        } else {
            Err(ProfileError::NotFound(name.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_bytes_open_only_for_their_tenant_name_and_key() {
        let v = Vault::new("k1-0123456789abcdef0123456789abcdef").unwrap();
        let sealed = v.seal("alice", "work", b"{\"cookies\":[]}".to_vec());
        assert!(sealed.starts_with(MAGIC));
        assert!(!sealed.windows(7).any(|w| w == b"cookies"), "no clear text");
        assert_eq!(
            v.open("alice", "work", &sealed).as_deref(),
            Some(&b"{\"cookies\":[]}"[..])
        );
        assert_eq!(v.open("bob", "work", &sealed), None);
        assert_eq!(v.open("alice", "home", &sealed), None);
        let other = Vault::new("k2-0123456789abcdef0123456789abcdef").unwrap();
        assert_eq!(other.open("alice", "work", &sealed), None);
        let mut flipped = sealed.clone();
        if let Some(b) = flipped.last_mut() {
            *b ^= 1;
        }
        assert_eq!(v.open("alice", "work", &flipped), None);
        assert_eq!(v.open("alice", "work", b"pp1\0short"), None);
        assert_eq!(v.open("alice", "work", b""), None);
    }

    #[test]
    fn names_are_checked_not_cleaned() {
        for ok in ["work", "a", "x.y_z-1", &"n".repeat(MAX_NAME_LEN)] {
            assert!(checked_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".hidden",
            "../etc",
            "a/b",
            "a b",
            "é",
            "a:b",
            &"n".repeat(MAX_NAME_LEN + 1),
        ] {
            assert!(checked_name(bad).is_err(), "{bad}");
        }
    }
}
