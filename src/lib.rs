//! pagepilot: stateful headless-browser sessions for LLM agents and scripts.
//! Data flows one way: api -> sessions -> engine -> action_space (DESIGN.md).

pub mod api;
pub mod config;
pub mod engine;
pub mod sessions;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use api::auth::ApiSecrets;
use config::Config;
use engine::{Engine, EngineConfig};
use sessions::{Limits, MemoryStore, SessionConfig, Sessions};

/// A running server. Dropping it does not stop it: call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    pub sessions: Sessions,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, ends live sessions and kills the browser.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
        self.sessions.shutdown().await;
        self.sessions.engine().shutdown().await;
    }
}

/// Loads or creates the API secrets; on a first start without any, prints how to use the new one.
fn load_secrets(cfg: &Config) -> Result<ApiSecrets, String> {
    let mut secrets = ApiSecrets::default();
    for entry in &cfg.api_secrets {
        if let Some((user, secret)) = entry.split_once(':') {
            secrets.add(user, secret);
        }
    }
    let stored = secrets
        .load_state(&cfg.state_dir)
        .map_err(|e| format!("cannot read secrets in {}: {e}", cfg.state_dir.display()))?;
    if secrets.is_empty() {
        let token = secrets.generate(&cfg.state_dir, "local").map_err(|e| {
            format!(
                "cannot store a new secret in {}: {e}",
                cfg.state_dir.display()
            )
        })?;
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&token)
            .unwrap_or_default();
        let raw = String::from_utf8_lossy(&raw);
        tracing::warn!(
            "no API secrets configured: generated one for user `local` (only its hash is kept in {}).\n  \
             userId:secret  {raw}\n  use it as      Authorization: Bearer {token}\n  \
             It is shown only now; delete that file to make a new one.",
            cfg.state_dir.display()
        );
    } else if stored > 0 {
        tracing::info!(stored, dir = %cfg.state_dir.display(), "loaded API secrets from the state dir");
    }
    Ok(secrets)
}

/// Starts the browser, the session registry and the HTTP server.
pub async fn start(cfg: Config) -> Result<Server, String> {
    let secrets = load_secrets(&cfg)?;
    let viewport = (cfg.viewport_width, cfg.viewport_height);
    let engine = Engine::start(EngineConfig {
        chromium: cfg.chromium.clone(),
        pool_size: cfg.pool_size,
        viewport,
        allow_private_network: cfg.allow_private_network,
        deny_hosts: cfg.deny_hosts.clone(),
    })
    .await
    .map_err(|e| e.to_string())?;
    let sessions = Sessions::start(
        engine.clone(),
        Arc::new(MemoryStore::default()),
        SessionConfig {
            limits: Limits {
                per_tenant: cfg.max_sessions_per_tenant,
                global: cfg.max_sessions,
            },
            max_ttl_seconds: cfg.max_ttl_seconds,
            default_ttl_seconds: cfg.default_ttl_seconds,
            action_timeout: Duration::from_millis(cfg.action_timeout_ms),
            viewport,
            proxy_server: cfg.proxy_server.clone(),
        },
    );
    let state = api::AppState {
        sessions: sessions.clone(),
        secrets: Arc::new(secrets),
    };
    let app = api::router(state, cfg.body_limit_bytes);
    let listener = match tokio::net::TcpListener::bind((cfg.host.as_str(), cfg.port)).await {
        Ok(l) => l,
        Err(e) => {
            engine.shutdown().await;
            return Err(format!("cannot listen on {}:{}: {e}", cfg.host, cfg.port));
        }
    };
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(%e, "server stopped");
        }
    });
    tracing::info!(%addr, "pagepilot listening; authenticate with `Authorization: Bearer base64(userId:secret)`");
    Ok(Server {
        addr,
        sessions,
        stop,
        task,
    })
}
