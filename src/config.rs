//! One `Config`: embedded defaults < TOML file (`--config`) < `PAGEPILOT_*` environment < flags.

use std::path::PathBuf;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    pub host: String,
    pub port: u16,
    /// The Chromium binary (`$CHROMIUM` also sets it).
    pub chromium: PathBuf,
    /// Let pages reach private and loopback addresses (link-local/metadata stay refused).
    pub allow_private_network: bool,
    /// Hosts (names or IP literals) every page is refused, on top of the built-in rules.
    #[serde(deserialize_with = "list")]
    pub deny_hosts: Vec<String>,
    /// Static host entries as `name=address` (`intranet.test=10.0.0.7`), consulted before
    /// DNS by the navigation policy and the egress proxy; the address is judged like any DNS
    /// answer.
    #[serde(deserialize_with = "list")]
    pub hosts: Vec<String>,
    /// Capture-style API secrets as `userId:secret`; stored hashed once loaded.
    #[serde(deserialize_with = "list")]
    pub api_secrets: Vec<String>,
    /// OAuth 2.0 clients of the built-in token endpoint, as `clientId:secret`; the client id is
    /// the tenant. Stored hashed once loaded.
    #[serde(deserialize_with = "list")]
    pub oauth_clients: Vec<String>,
    /// HS256 key of the access tokens (at least 32 characters); generated into the state dir
    /// when unset, so tokens survive a restart.
    pub jwt_secret: Option<String>,
    /// Key that seals saved profiles at rest (at least 32 characters); generated into the state
    /// dir when unset. Instances sharing a Redis must share it, as they share `jwt_secret`.
    pub profile_key: Option<String>,
    /// Largest saved profile (cookies and storage, sealed), in bytes.
    pub max_profile_bytes: u64,
    /// All of one tenant's saved profiles together, in bytes.
    pub max_profile_bytes_per_tenant: u64,
    /// Saved profiles one tenant may keep.
    pub max_profiles_per_tenant: usize,
    /// MCP connections (`Mcp-Session-Id`) one tenant may hold over HTTP; past it an
    /// `initialize` answers 429.
    pub max_mcp_sessions_per_tenant: usize,
    /// Lifetime of issued access tokens.
    pub token_lifetime_seconds: u64,
    /// `iss` of issued tokens and the issuer in discovery; default `http://HOST:PORT`.
    pub issuer: Option<String>,
    /// `aud` of issued tokens, required of every token.
    pub audience: String,
    /// Scope a token needs to use the API.
    pub required_scope: String,
    /// Other OAuth servers (Keycloak, Auth0, ...) whose RS256/ES256 access tokens are accepted.
    pub external_issuers: Vec<ExternalIssuer>,
    /// Where generated secrets are kept between runs.
    pub state_dir: PathBuf,
    /// Ready contexts+pages kept warm for fast session starts.
    pub pool_size: usize,
    pub max_sessions_per_tenant: usize,
    pub max_sessions: usize,
    /// Longest session TTL; larger requests are capped to it.
    pub max_ttl_seconds: u64,
    /// TTL of a session that asks for none.
    pub default_ttl_seconds: u64,
    /// Deadline of one action (a batch is one action), time waiting for its turn included.
    pub action_timeout_ms: u64,
    /// Actions that may be queued on one session (running one included); more answer 429.
    pub max_queued_actions: usize,
    /// Tabs one session may hold; popups past it are closed and reported.
    pub max_tabs_per_session: usize,
    /// Ended sessions' records kept readable (per instance, newest kept), besides the 1 h limit.
    pub max_ended_records: usize,
    pub viewport_width: u32,
    pub viewport_height: u32,
    /// Upstream proxy for sessions created with `proxy: true`, e.g. `http://proxy.internal:3128`.
    pub proxy_server: Option<String>,
    /// Largest request body accepted, in bytes (file uploads have their own cap).
    pub body_limit_bytes: usize,
    /// Largest file a session may hold (an upload, a PDF), in bytes.
    pub max_file_bytes: u64,
    /// All of one session's files together, in bytes.
    pub max_session_files_bytes: u64,
    /// Where sessions' files are kept (a folder per session, removed with it); unset, a
    /// folder in the system's temporary directory.
    pub files_dir: Option<PathBuf>,
    /// A request body must arrive within this long (slowly trickled bodies are cut off).
    pub body_read_timeout_seconds: u64,
    /// Largest WebSocket frame accepted, in bytes: a bigger one answers an error frame.
    pub ws_frame_limit_bytes: usize,
    /// A WebSocket session that sends no frame for this long ends (fatal frame, then close).
    pub ws_idle_timeout_seconds: u64,
    /// How long a new socket may take to send its open frame.
    pub ws_handshake_timeout_seconds: u64,
    /// Proxies a WebSocket open frame may name, as `name=url` (`eu=http://proxy-eu:3128`).
    #[serde(deserialize_with = "list")]
    pub fetch_proxies: Vec<String>,
    /// Shares sessions with other instances through this Redis (`redis://host:6379/0`);
    /// unset, sessions live in this process only.
    pub redis_url: Option<String>,
    /// This instance's address as the other instances reach it (default `http://HOST:PORT`
    /// as bound; set it when HOST is 0.0.0.0 or behind NAT).
    pub advertise_url: Option<String>,
    /// An instance whose heartbeat is older than this counts as dead: its sessions end.
    pub heartbeat_ttl_seconds: u64,
    /// Log filter (`info`, `pagepilot=debug`, ...); `RUST_LOG` wins when set.
    pub log: String,
    /// Bearer token that `GET /metrics` (Prometheus text) asks for, at least 16 characters;
    /// unset, metrics are not served. It is no tenant's token: give it only to the scraper.
    pub metrics_token: Option<String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8022,
            chromium: std::env::var_os("CHROMIUM")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/usr/bin/chromium".into()),
            allow_private_network: false,
            deny_hosts: Vec::new(),
            hosts: Vec::new(),
            api_secrets: Vec::new(),
            oauth_clients: Vec::new(),
            jwt_secret: None,
            profile_key: None,
            max_profile_bytes: 2 * 1024 * 1024,
            max_profile_bytes_per_tenant: 32 * 1024 * 1024,
            max_profiles_per_tenant: 100,
            max_mcp_sessions_per_tenant: 100,
            token_lifetime_seconds: 3600,
            issuer: None,
            audience: "pagepilot".into(),
            required_scope: "sessions".into(),
            external_issuers: Vec::new(),
            state_dir: default_state_dir(),
            pool_size: 2,
            max_sessions_per_tenant: 5,
            max_sessions: 50,
            max_ttl_seconds: 900,
            default_ttl_seconds: 300,
            action_timeout_ms: 30_000,
            max_queued_actions: 8,
            max_tabs_per_session: 10,
            max_ended_records: 10_000,
            viewport_width: 1280,
            viewport_height: 800,
            proxy_server: None,
            body_limit_bytes: 1024 * 1024,
            max_file_bytes: 20 * 1024 * 1024,
            max_session_files_bytes: 100 * 1024 * 1024,
            files_dir: None,
            body_read_timeout_seconds: 10,
            ws_frame_limit_bytes: 1024 * 1024,
            ws_idle_timeout_seconds: 300,
            ws_handshake_timeout_seconds: 10,
            fetch_proxies: Vec::new(),
            redis_url: None,
            advertise_url: None,
            heartbeat_ttl_seconds: 5,
            log: "info".into(),
            metrics_token: None,
        }
    }
}

fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("XDG_STATE_HOME") {
        return PathBuf::from(d).join("pagepilot");
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".local/state/pagepilot"),
        None => PathBuf::from(".pagepilot-state"),
    }
}

/// An external OAuth issuer: `[[external_issuers]]` in the TOML file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExternalIssuer {
    /// The `iss` its tokens carry.
    pub issuer: String,
    /// Where its signing keys are published (fetched, cached, refetched on an unknown `kid`).
    pub jwks_url: String,
    /// The `aud` its tokens must carry for pagepilot.
    pub audience: String,
    /// The claim naming the tenant (default `sub`).
    #[serde(default = "default_tenant_claim")]
    pub tenant_claim: String,
    /// Put before the claim to make the tenant: by default `<issuer>#`, so an external
    /// `sub=ceo` never acts as the local tenant `ceo`. Set `""` to map this issuer's subjects
    /// onto local tenants of the same name on purpose.
    #[serde(default)]
    pub tenant_prefix: Option<String>,
}

impl ExternalIssuer {
    /// The tenant a token of this issuer with tenant claim `claim` acts as.
    pub fn tenant(&self, claim: &str) -> String {
        match &self.tenant_prefix {
            Some(p) => format!("{p}{claim}"),
            None => format!("{}#{claim}", self.issuer),
        }
    }
}

fn default_tenant_claim() -> String {
    "sub".into()
}

/// Flag values set on the command line; unset ones do not override lower layers.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chromium: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_private_network: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_secrets: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advertise_url: Option<String>,
}

impl Config {
    /// The operator's named fetch proxies (`fetch_proxies`), by name.
    pub fn named_proxies(&self) -> std::collections::HashMap<String, String> {
        self.fetch_proxies
            .iter()
            .filter_map(|p| p.split_once('='))
            .map(|(n, u)| (n.trim().to_string(), u.trim().to_string()))
            .collect()
    }

    /// The static host entries (`hosts`), by name; `check` has validated them.
    pub fn host_entries(&self) -> std::collections::HashMap<String, Vec<std::net::IpAddr>> {
        let mut map: std::collections::HashMap<String, Vec<std::net::IpAddr>> = Default::default();
        for (name, ip) in self.hosts.iter().filter_map(|h| parse_host_entry(h)) {
            map.entry(name).or_default().push(ip);
        }
        map
    }

    /// Every upstream proxy a session may chain to: `proxy_server` and the named ones.
    pub fn upstream_proxies(&self) -> Vec<String> {
        let mut all: Vec<String> = self.proxy_server.iter().cloned().collect();
        all.extend(self.named_proxies().into_values());
        all
    }

    /// The configuration as TOML with every secret masked (`pagepilot config`).
    pub fn masked_toml(&self) -> Result<String, String> {
        let mut c = self.clone();
        let mask_pair = |s: &String| match s.split_once(':') {
            Some((user, _)) => format!("{user}:****"),
            None => "****".into(),
        };
        c.api_secrets = c.api_secrets.iter().map(mask_pair).collect();
        c.oauth_clients = c.oauth_clients.iter().map(mask_pair).collect();
        c.jwt_secret = c.jwt_secret.as_ref().map(|_| "****".into());
        c.profile_key = c.profile_key.as_ref().map(|_| "****".into());
        c.metrics_token = c.metrics_token.as_ref().map(|_| "****".into());
        c.redis_url = c.redis_url.as_deref().map(mask_url);
        c.proxy_server = c.proxy_server.as_deref().map(mask_url);
        c.fetch_proxies = c
            .fetch_proxies
            .iter()
            .map(|p| match p.split_once('=') {
                Some((n, u)) => format!("{n}={}", mask_url(u)),
                None => p.clone(),
            })
            .collect();
        toml::to_string(&c).map_err(|e| format!("cannot print the configuration: {e}"))
    }

    /// Merges the layers. `file` is the `--config` TOML, if any.
    pub fn load(file: Option<&std::path::Path>, flags: Overrides) -> Result<Config, String> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            if !f.exists() {
                return Err(format!("config file {} does not exist", f.display()));
            }
            let text = std::fs::read_to_string(f)
                .map_err(|e| format!("config file {}: {e}", f.display()))?;
            crate::config_keys::check_file(&text, &f.display().to_string())?;
            fig = fig.merge(Toml::file(f));
        }
        crate::config_keys::check_env(std::env::vars())?;
        fig = fig
            .merge(Env::prefixed("PAGEPILOT_"))
            .merge(Serialized::defaults(flags));
        let cfg: Config = fig
            .extract()
            .map_err(|e| format!("invalid configuration: {e}"))?;
        cfg.check()?;
        Ok(cfg)
    }

    fn check(&self) -> Result<(), String> {
        if self.max_ttl_seconds == 0 || self.max_ttl_seconds > 24 * 3600 {
            return Err("max_ttl_seconds must be 1..86400".into());
        }
        if self.max_sessions_per_tenant == 0 || self.max_sessions == 0 {
            return Err("max_sessions_per_tenant and max_sessions must be at least 1".into());
        }
        if self.viewport_width == 0
            || self.viewport_height == 0
            || self.viewport_width > 5000
            || self.viewport_height > 5000
        {
            return Err("viewport_width and viewport_height must be 1..5000".into());
        }
        if self.jwt_secret.as_ref().is_some_and(|k| k.len() < 32) {
            return Err("jwt_secret must be at least 32 characters".into());
        }
        if self.profile_key.as_ref().is_some_and(|k| k.len() < 32) {
            return Err("profile_key must be at least 32 characters".into());
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err("metrics_token must be at least 16 characters".into());
        }
        if self.ws_frame_limit_bytes < 1024 {
            return Err("ws_frame_limit_bytes must be at least 1024".into());
        }
        if self.ws_idle_timeout_seconds == 0 || self.ws_handshake_timeout_seconds == 0 {
            return Err(
                "ws_idle_timeout_seconds and ws_handshake_timeout_seconds must be at least 1"
                    .into(),
            );
        }
        for h in &self.hosts {
            if parse_host_entry(h).is_none() {
                return Err(format!(
                    "hosts entry `{h}` must look like name=address (intranet.test=10.0.0.7)"
                ));
            }
        }
        for p in self.upstream_proxies() {
            crate::engine::egress::Upstream::parse(&p)
                .map_err(|e| format!("proxy_server / fetch_proxies: {e}"))?;
        }
        for p in &self.fetch_proxies {
            match p.split_once('=') {
                Some((name, url))
                    if !name.trim().is_empty() && url::Url::parse(url.trim()).is_ok() => {}
                _ => {
                    return Err(format!(
                        "fetch_proxies entry `{p}` must look like name=http://host:port"
                    ))
                }
            }
        }
        let ranges: [(&str, u64, u64, u64); 14] = [
            (
                "max_mcp_sessions_per_tenant",
                self.max_mcp_sessions_per_tenant as u64,
                1,
                100_000,
            ),
            ("max_file_bytes", self.max_file_bytes, 1, 1 << 30),
            ("max_profile_bytes", self.max_profile_bytes, 1024, 1 << 28),
            (
                "max_profile_bytes_per_tenant",
                self.max_profile_bytes_per_tenant,
                1024,
                1 << 34,
            ),
            (
                "max_profiles_per_tenant",
                self.max_profiles_per_tenant as u64,
                1,
                100_000,
            ),
            (
                "max_session_files_bytes",
                self.max_session_files_bytes,
                1,
                1 << 34,
            ),
            (
                "body_read_timeout_seconds",
                self.body_read_timeout_seconds,
                1,
                3600,
            ),
            ("action_timeout_ms", self.action_timeout_ms, 100, 600_000),
            (
                "max_queued_actions",
                self.max_queued_actions as u64,
                1,
                1000,
            ),
            (
                "max_tabs_per_session",
                self.max_tabs_per_session as u64,
                1,
                100,
            ),
            (
                "max_ended_records",
                self.max_ended_records as u64,
                1,
                10_000_000,
            ),
            (
                "default_ttl_seconds",
                self.default_ttl_seconds,
                1,
                24 * 3600,
            ),
            (
                "token_lifetime_seconds",
                self.token_lifetime_seconds,
                1,
                366 * 24 * 3600,
            ),
            (
                "ws_idle_timeout_seconds",
                self.ws_idle_timeout_seconds,
                1,
                24 * 3600,
            ),
        ];
        for (key, v, min, max) in ranges {
            if !(min..=max).contains(&v) {
                return Err(format!("{key} must be between {min} and {max}, got {v}"));
            }
        }
        if self.heartbeat_ttl_seconds < 2 {
            return Err("heartbeat_ttl_seconds must be at least 2".into());
        }
        if let Some(u) = &self.advertise_url {
            url::Url::parse(u).map_err(|e| format!("advertise_url `{u}`: {e}"))?;
        }
        if self.token_lifetime_seconds == 0 {
            return Err("token_lifetime_seconds must be at least 1".into());
        }
        for s in self.api_secrets.iter().chain(&self.oauth_clients) {
            match s.split_once(':') {
                Some((u, p)) if !u.is_empty() && !p.is_empty() => {}
                _ => {
                    return Err(format!(
                        "api secret `{}…` must look like userId:secret",
                        s.chars().take(4).collect::<String>()
                    ))
                }
            }
        }
        Ok(())
    }
}

/// A URL with its password (if any) replaced by `****`.
fn mask_url(u: &str) -> String {
    match url::Url::parse(u) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("****"));
            parsed.to_string()
        }
        _ => u.to_string(),
    }
}

/// Accepts a list or a comma-separated string (`PAGEPILOT_API_SECRETS=a:1,b:2`).
fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Form::deserialize(d)? {
        Form::One(s) => s
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
        Form::Many(v) => v,
    })
}

/// `name=address` of the `hosts` setting.
fn parse_host_entry(entry: &str) -> Option<(String, std::net::IpAddr)> {
    let (name, ip) = entry.split_once('=')?;
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    let ip = ip
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (!name.is_empty()).then_some((name, ip))
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature, not ours
mod tests {
    use super::*;

    #[test]
    fn precedence_defaults_file_env_flags() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "pp.toml",
                "port = 9001\nhost = \"0.0.0.0\"\npool_size = 7\nmax_sessions_per_tenant = 3\napi_secrets = [\"f:1\"]",
            )?;
            jail.set_env("PAGEPILOT_PORT", "9002");
            jail.set_env("PAGEPILOT_POOL_SIZE", "4");
            jail.set_env("PAGEPILOT_API_SECRETS", "a:1,b:2");
            let flags = Overrides {
                port: Some(9003),
                ..Default::default()
            };
            let cfg = Config::load(Some(std::path::Path::new("pp.toml")), flags)
                .map_err(|e| e.to_string())?;
            assert_eq!(cfg.port, 9003, "flag beats env");
            assert_eq!(cfg.pool_size, 4, "env beats file");
            assert_eq!(cfg.host, "0.0.0.0", "file beats default");
            assert_eq!(cfg.max_sessions_per_tenant, 3);
            assert_eq!(cfg.max_ttl_seconds, 900, "default");
            assert_eq!(
                cfg.api_secrets,
                vec!["a:1".to_string(), "b:2".to_string()],
                "comma list from env"
            );
            Ok(())
        });
    }

    #[test]
    fn bad_config_is_refused_with_a_reason() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("PAGEPILOT_METRICS_TOKEN", "short");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert_eq!(err, "metrics_token must be at least 16 characters");
            jail.set_env("PAGEPILOT_METRICS_TOKEN", "0123456789abcdef");
            jail.set_env("PAGEPILOT_API_SECRETS", "nocolon");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.contains("userId:secret"), "{err}");
            jail.set_env("PAGEPILOT_API_SECRETS", "");
            jail.set_env("PAGEPILOT_PORT", "notaport");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.contains("port"), "{err}");
            jail.set_env("PAGEPILOT_PORT", "8022");
            jail.set_env("PAGEPILOT_JWT_SECRET", "short");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.contains("jwt_secret must be at least 32"), "{err}");
            jail.set_env("PAGEPILOT_JWT_SECRET", "0123456789abcdef0123456789abcdef");
            jail.set_env("PAGEPILOT_TOKEN_LIFETIME_SECONDS", "0");
            let err = Config::load(None, Overrides::default()).unwrap_err();
            assert!(err.contains("token_lifetime_seconds"), "{err}");
            jail.set_env("PAGEPILOT_TOKEN_LIFETIME_SECONDS", "3600");
            // WebSocket and multi-instance settings.
            for (key, bad, good, named) in [
                (
                    "PAGEPILOT_WS_FRAME_LIMIT_BYTES",
                    "10",
                    "4096",
                    "ws_frame_limit_bytes",
                ),
                (
                    "PAGEPILOT_WS_IDLE_TIMEOUT_SECONDS",
                    "0",
                    "60",
                    "ws_idle_timeout_seconds",
                ),
                (
                    "PAGEPILOT_FETCH_PROXIES",
                    "no-equals",
                    "eu=http://p:3128",
                    "fetch_proxies",
                ),
                (
                    "PAGEPILOT_HEARTBEAT_TTL_SECONDS",
                    "1",
                    "5",
                    "heartbeat_ttl_seconds",
                ),
                (
                    "PAGEPILOT_ADVERTISE_URL",
                    "not a url",
                    "http://10.0.0.1:8022",
                    "advertise_url",
                ),
                (
                    "PAGEPILOT_HOSTS",
                    "no-equals",
                    "intra.test=10.0.0.7",
                    "hosts",
                ),
                (
                    "PAGEPILOT_PROXY_SERVER",
                    "socks5://proxy:1080",
                    "http://proxy:3128",
                    "proxy_server",
                ),
            ] {
                jail.set_env(key, bad);
                let err = Config::load(None, Overrides::default()).unwrap_err();
                assert!(err.contains(named), "{key}: {err}");
                jail.set_env(key, good);
            }
            assert!(Config::load(None, Overrides::default()).is_ok());
            let err = Config::load(
                Some(std::path::Path::new("missing.toml")),
                Overrides::default(),
            )
            .unwrap_err();
            assert!(err.contains("does not exist"), "{err}");
            Ok(())
        });
    }
}
