//! Several instances behind one address: who owns a session's browser, which instances are
//! alive, and where to reach them. Only a shared store (Redis) implements it; a single instance
//! has none and everything stays local.

use async_trait::async_trait;

use super::store::StoreError;

#[async_trait]
pub trait Cluster: Send + Sync {
    /// This instance's id (new at every start: a restarted instance owns nothing it had).
    fn instance_id(&self) -> &str;
    /// How long an instance may go without a heartbeat before it counts as dead.
    fn heartbeat_ttl(&self) -> std::time::Duration;
    /// Announces this instance (id -> internal address) for another heartbeat period.
    async fn heartbeat(&self) -> Result<(), StoreError>;
    /// The internal address of a live instance; `None` once its heartbeat expired.
    async fn address_of(&self, instance: &str) -> Result<Option<String>, StoreError>;
    /// Instances whose heartbeat expired, each with the sessions it still held.
    async fn dead_instances(&self) -> Result<Vec<(String, Vec<String>)>, StoreError>;
    /// Drops a dead instance from the registry once its sessions are settled.
    async fn forget(&self, instance: &str) -> Result<(), StoreError>;
    /// Leaves the registry (clean shutdown).
    async fn leave(&self);
}
