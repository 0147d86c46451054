//! The egress proxy: the one chokepoint every byte the browser and the standard client send
//! passes (docs/security.md). Chromium runs with `--proxy-server` pointing here and no
//! bypass list, and the standard client's HTTP client is built with it as its only proxy,
//! so popups, workers, service workers, page WebSockets and redirects all arrive here, whether
//! or not CDP interception saw them. For each request the proxy judges the host, resolves it
//! once, judges every address, and connects only to a checked address; a session that asks
//! for the operator's upstream proxy gets a listener of its own that chains to it.
//!
//! The listeners bind to 127.0.0.1 on a free port and apply the policy to whoever connects;
//! they answer HTTP/1.1 absolute-form requests and `CONNECT` (https and every WebSocket).

mod dial;
mod failures;
mod serve;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use super::policy::Policy;
use super::EngineError;
pub use dial::Upstream;
pub use failures::{Failures, NetError};
pub use serve::{NET_ERROR_HEADER, REFUSED_HEADER};

/// Connections the proxy serves at once, over all listeners; past it new ones are dropped.
/// Chromium keeps at most 32 per browser context to one proxy, so this holds ~60 sessions'
/// full fan-out before anyone waits.
pub const MAX_CONNECTIONS: usize = 2048;

/// The proxy's listeners: one direct, one per operator upstream.
pub struct Egress {
    direct: SocketAddr,
    via: HashMap<String, SocketAddr>,
    failures: Arc<Failures>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Egress {
    /// Binds the direct listener and one for each upstream proxy URL the operator named.
    pub async fn start(
        policy: Arc<Policy>,
        failures: Arc<Failures>,
        upstreams: &[String],
    ) -> Result<Self, EngineError> {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        let mut tasks = Vec::new();
        let (direct, task) = listen(
            dial::Route {
                policy: policy.clone(),
                upstream: None,
                failures: failures.clone(),
            },
            permits.clone(),
        )
        .await?;
        tasks.push(task);
        let mut via = HashMap::new();
        for raw in upstreams {
            if via.contains_key(raw) {
                continue;
            }
            let upstream = Upstream::parse(raw).map_err(EngineError::Launch)?;
            let route = dial::Route {
                policy: policy.clone(),
                upstream: Some(upstream),
                failures: failures.clone(),
            };
            let (addr, task) = listen(route, permits.clone()).await?;
            tasks.push(task);
            via.insert(raw.clone(), addr);
        }
        Ok(Self {
            direct,
            via,
            failures,
            tasks,
        })
    }

    /// The proxy URL a browser context or HTTP client uses: direct, or chained to `upstream`.
    pub fn proxy_url(&self, upstream: Option<&str>) -> Result<String, EngineError> {
        let addr = match upstream {
            None => self.direct,
            Some(u) => *self.via.get(u).ok_or_else(|| {
                EngineError::Internal(format!(
                    "`{u}` is not an upstream proxy the operator configured"
                ))
            })?,
        };
        Ok(format!("http://{addr}"))
    }

    /// The recent connection failures, to name them where a client saw only a failed tunnel.
    pub fn failures(&self) -> Arc<Failures> {
        self.failures.clone()
    }

    /// `host:port` of the direct listener, for Chromium's `--proxy-server`.
    pub fn direct(&self) -> SocketAddr {
        self.direct
    }
}

impl Drop for Egress {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

async fn listen(
    route: dial::Route,
    permits: Arc<Semaphore>,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), EngineError> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| EngineError::Launch(format!("cannot bind the egress proxy: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| EngineError::Launch(format!("egress proxy address: {e}")))?;
    let route = Arc::new(route);
    let task = tokio::spawn(async move {
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(%e, "egress proxy accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tracing::warn!(max = MAX_CONNECTIONS, "egress proxy at its connection cap");
                continue;
            };
            let route = route.clone();
            tokio::spawn(async move {
                serve::connection(stream, route).await;
                drop(permit);
            });
        }
    });
    Ok((addr, task))
}
