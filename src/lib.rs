//! pagepilot: stateful headless-browser sessions for LLM agents and scripts.
//! Data flows one way: api -> sessions -> engine -> action_space (docs/architecture.md).

pub mod api;
pub mod config;
pub mod config_keys;
pub mod engine;
pub mod exchange;
pub mod fetcher;
pub mod oauth_client;
pub mod sessions;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;

use api::auth::{ApiSecrets, Auth, JwtKeys};
use config::Config;
use engine::{Engine, EngineConfig};
use sessions::profiles::store::{MemoryProfiles, ProfileStore, TenantCaps};
use sessions::profiles::{ProfileCaps, Profiles};
use sessions::redis_store::RedisStore;
use sessions::{Cluster, Limits, MemoryStore, SessionConfig, SessionStore, Sessions};

/// A running server. Dropping it does not stop it: call [`Server::shutdown`].
pub struct Server {
    pub addr: SocketAddr,
    pub sessions: Sessions,
    state: api::AppState,
    sockets: Arc<api::ws::Sockets>,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// Stops accepting, ends live sessions and kills the browser.
    pub async fn shutdown(self) {
        // Stop accepting, end the sessions (each WebSocket sends its fatal frame and closes),
        // then wait for in-flight requests and sockets before killing the browser.
        let _ = self.stop.send(());
        self.sessions.shutdown().await;
        self.sockets.drained(Duration::from_secs(2)).await;
        if tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .is_err()
        {
            tracing::warn!("connections still open after 5 s; stopping anyway");
        }
        self.sessions.engine().shutdown().await;
    }
}

impl Server {
    /// MCP tools on this server's sessions, every call made as `tenant` (`pagepilot mcp`'s
    /// embedded mode: the stdio process is its only client).
    pub fn mcp_tools(&self, tenant: &str) -> api::mcp::McpTools {
        api::mcp::McpTools::fixed(self.state.clone(), tenant)
    }

    /// Stops at once, as a crash or `kill -9` would: sessions stay active in the shared store,
    /// the heartbeat stops and the browser dies. Other instances must notice (tests use it).
    pub async fn halt(self) {
        self.sessions.halt();
        self.task.abort();
        self.sessions.engine().shutdown().await;
    }
}

/// Loads hashed secrets from config and the state dir; with none at all, generates one for
/// `local`, keeps its hash, and prints it once with `how` to use it.
fn load_hashed(
    cfg: &Config,
    configured: &[String],
    file: &str,
    what: &str,
) -> Result<ApiSecrets, String> {
    let mut set = ApiSecrets::default();
    for entry in configured {
        if let Some((id, secret)) = entry.split_once(':') {
            set.add(id, secret);
        }
    }
    let dir = &cfg.state_dir;
    let stored = set
        .load_state(dir, file)
        .map_err(|e| format!("cannot read {what} in {}: {e}", dir.display()))?;
    if set.is_empty() {
        let pair = set
            .generate(dir, file, "local")
            .map_err(|e| format!("cannot store a new {what} in {}: {e}", dir.display()))?;
        let how = if file == api::auth::API_SECRETS_FILE {
            let b64 = base64::engine::general_purpose::STANDARD.encode(&pair);
            format!("use it as      Authorization: Bearer {b64}")
        } else {
            "get a token    curl -u 'id:secret' -d grant_type=client_credentials http://HOST:PORT/oauth/token".to_string()
        };
        tracing::warn!(
            "no {what} configured: generated one for `local` (only its hash is kept in {}).\n  \
             id:secret      {pair}\n  {how}\n  It is shown only now; delete that file to make a new one.",
            dir.display()
        );
    } else if stored > 0 {
        tracing::info!(stored, dir = %dir.display(), "loaded {what} from the state dir");
    }
    Ok(set)
}

/// A server key: configured, or generated once into the state dir's `file` (mode 0600), so it
/// survives a restart (the access tokens' HS256 key, the profiles' sealing key).
fn state_key(cfg: &Config, configured: Option<&String>, file: &str) -> Result<String, String> {
    if let Some(k) = configured {
        return Ok(k.clone());
    }
    let path = cfg.state_dir.join(file);
    if let Ok(k) = std::fs::read_to_string(&path) {
        if k.trim().len() >= 32 {
            return Ok(k.trim().to_string());
        }
    }
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let key = hex::encode(bytes);
    std::fs::create_dir_all(&cfg.state_dir)
        .map_err(|e| format!("cannot create {}: {e}", cfg.state_dir.display()))?;
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).write(true).truncate(true);
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut f = opts
        .open(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    std::io::Write::write_all(&mut f, key.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

fn load_auth(cfg: &Config, addr: SocketAddr) -> Result<Auth, String> {
    let api_secrets = load_hashed(
        cfg,
        &cfg.api_secrets,
        api::auth::API_SECRETS_FILE,
        "API secrets",
    )?;
    let oauth_clients = load_hashed(
        cfg,
        &cfg.oauth_clients,
        api::auth::OAUTH_CLIENTS_FILE,
        "OAuth clients",
    )?;
    let key = state_key(cfg, cfg.jwt_secret.as_ref(), "jwt-secret")?;
    let jwt = JwtKeys {
        encoding: jsonwebtoken::EncodingKey::from_secret(key.as_bytes()),
        decoding: jsonwebtoken::DecodingKey::from_secret(key.as_bytes()),
        issuer: cfg
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{addr}")),
        audience: cfg.audience.clone(),
        lifetime_seconds: cfg.token_lifetime_seconds,
        required_scope: cfg.required_scope.clone(),
    };
    let externals = cfg
        .external_issuers
        .iter()
        .cloned()
        .map(api::jwks::External::new)
        .collect();
    Ok(Auth {
        api_secrets,
        oauth_clients,
        jwt,
        externals,
    })
}

/// Starts the browser, the session registry and the HTTP server.
pub async fn start(cfg: Config) -> Result<Server, String> {
    telemetry::install();
    let listener = tokio::net::TcpListener::bind((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", cfg.host, cfg.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let auth = load_auth(&cfg, addr)?;
    let viewport = (cfg.viewport_width, cfg.viewport_height);
    let engine = Engine::start(EngineConfig {
        chromium: cfg.chromium.clone(),
        pool_size: cfg.pool_size,
        viewport,
        allow_private_network: cfg.allow_private_network,
        deny_hosts: cfg.deny_hosts.clone(),
        max_tabs: cfg.max_tabs_per_session,
        hosts: cfg.host_entries(),
        upstream_proxies: cfg.upstream_proxies(),
        files_root: cfg.files_dir.clone().unwrap_or_else(|| {
            std::env::temp_dir().join(format!("pagepilot-files-{}", std::process::id()))
        }),
        file_caps: engine::files::FileCaps {
            max_file_bytes: cfg.max_file_bytes,
            max_total_bytes: cfg.max_session_files_bytes,
            max_files: 200,
        },
    })
    .await
    .map_err(|e| e.to_string())?;
    type Stores = (
        Arc<dyn SessionStore>,
        Option<Arc<dyn Cluster>>,
        Arc<dyn ProfileStore>,
    );
    let (store, cluster, profile_store): Stores = match &cfg.redis_url {
        None => (
            Arc::new(MemoryStore::new(cfg.max_ended_records)),
            None,
            Arc::new(MemoryProfiles::default()),
        ),
        Some(url) => {
            let instance = format!("i-{}", uuid::Uuid::new_v4().simple());
            let address = cfg
                .advertise_url
                .clone()
                .unwrap_or_else(|| format!("http://{addr}"));
            let redis = RedisStore::connect(
                url,
                instance.clone(),
                address.clone(),
                Duration::from_secs(cfg.heartbeat_ttl_seconds),
                cfg.max_ended_records,
            )
            .await;
            let redis = match redis {
                Ok(r) => Arc::new(r),
                Err(e) => {
                    engine.shutdown().await;
                    return Err(e);
                }
            };
            tracing::info!(%instance, %address, "sharing sessions through redis");
            (redis.clone(), Some(redis.clone()), redis)
        }
    };
    let profile_key = match state_key(&cfg, cfg.profile_key.as_ref(), "profile-key") {
        Ok(k) => k,
        Err(e) => {
            engine.shutdown().await;
            return Err(e);
        }
    };
    let profiles = Profiles::new(
        profile_store,
        &profile_key,
        ProfileCaps {
            max_profile_bytes: cfg.max_profile_bytes,
            tenant: TenantCaps {
                max_bytes: cfg.max_profile_bytes_per_tenant,
                max_profiles: cfg.max_profiles_per_tenant,
            },
        },
    );
    let profiles = match profiles {
        Ok(p) => p,
        Err(e) => {
            engine.shutdown().await;
            return Err(e);
        }
    };
    let sessions = Sessions::start(
        engine.clone(),
        store,
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
            max_queued_actions: cfg.max_queued_actions,
        },
        cluster,
        profiles,
    );
    let sockets = Arc::new(api::ws::Sockets::default());
    let state = api::AppState {
        metrics_token: cfg.metrics_token.clone().map(Arc::from),
        sessions: sessions.clone(),
        auth: Arc::new(auth),
        ws: Arc::new(api::ws::WsConfig {
            frame_limit: cfg.ws_frame_limit_bytes,
            idle_timeout: Duration::from_secs(cfg.ws_idle_timeout_seconds),
            handshake_timeout: Duration::from_secs(cfg.ws_handshake_timeout_seconds),
            proxies: cfg.named_proxies(),
        }),
        sockets: sockets.clone(),
        forwarder: Arc::new(api::route::Forwarder::new(
            Duration::from_millis(cfg.action_timeout_ms),
            cfg.body_limit_bytes,
        )?),
    };
    let app = api::router(
        state.clone(),
        cfg.body_limit_bytes,
        api::files::upload_body_limit(cfg.max_file_bytes),
        Duration::from_secs(cfg.body_read_timeout_seconds),
        cfg.max_mcp_sessions_per_tenant,
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Small frames and answers go out at once (Nagle + delayed ACK would add ~40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(%e, "TCP_NODELAY not set");
            }
        });
        let serve = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(%e, "server stopped");
        }
    });
    tracing::info!(
        %addr,
        "pagepilot listening; authenticate with `Authorization: Bearer <token>`: an access token from \
         POST /oauth/token (client_credentials), or a Capture API secret base64(userId:secret)"
    );
    Ok(Server {
        addr,
        sessions,
        state,
        sockets,
        stop,
        task,
    })
}
