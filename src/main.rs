//! The `pagepilot` command.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use pagepilot::config::{Config, Overrides};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "pagepilot",
    version,
    about = "Stateful headless-browser sessions for LLM agents and scripts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Print the effective configuration (defaults < file < environment < flags) as TOML,
    /// secrets masked, and exit; an unknown key is refused as it would be by `serve`.
    Config(ServeArgs),
    /// Serve MCP over stdio, for agent runtimes that start their tools as processes. With
    /// --url (or $PAGEPILOT_URL), onto a running server; without, on an embedded server (its
    /// own browser, loopback, an ephemeral port unless --port) whose tenant is `local`.
    Mcp(McpArgs),
    /// Get an access token from a running server (client_credentials) and print it.
    Token(TokenArgs),
    /// Manage the built-in OAuth clients kept (hashed) in the state dir.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
}

#[derive(Args)]
struct TokenArgs {
    /// The server's base URL
    #[arg(long, default_value = "http://127.0.0.1:8022")]
    server: String,
    /// OAuth client id (the tenant)
    #[arg(long)]
    client_id: String,
    /// Client secret; better given as $PAGEPILOT_CLIENT_SECRET (flags show in `ps`)
    #[arg(long)]
    client_secret: Option<String>,
    #[arg(long, default_value = "sessions")]
    scope: String,
}

#[derive(Args)]
struct McpArgs {
    /// A running pagepilot's base URL, e.g. http://127.0.0.1:8022 [env: PAGEPILOT_URL]
    #[arg(long)]
    url: Option<String>,
    /// Its access token (`pagepilot token`) or API secret; better given as $PAGEPILOT_TOKEN
    /// (flags show in `ps`)
    #[arg(long)]
    token: Option<String>,
    /// The embedded server's settings (without --url)
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Create a client; its secret is printed once and only its hash is kept.
    Add {
        /// The client id, which is also the tenant
        name: String,
        /// Directory for generated secrets [default: ~/.local/state/pagepilot]
        #[arg(long)]
        state_dir: Option<PathBuf>,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    host: Option<String>,
    /// Port to listen on [default: 8022]
    #[arg(long)]
    port: Option<u16>,
    /// Chromium binary [default: $CHROMIUM or /usr/bin/chromium]
    #[arg(long)]
    chromium: Option<PathBuf>,
    /// TOML config file
    #[arg(long)]
    config: Option<PathBuf>,
    /// Let pages reach private and loopback addresses
    #[arg(long)]
    allow_private_network: bool,
    /// API secret `userId:secret` (repeatable)
    #[arg(long = "api-secret", value_name = "USER:SECRET")]
    api_secrets: Vec<String>,
    /// Directory for generated secrets [default: ~/.local/state/pagepilot]
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Share sessions with other instances through this Redis, e.g. redis://127.0.0.1:6379/0
    #[arg(long)]
    redis_url: Option<String>,
    /// This instance's address for the other instances [default: http://HOST:PORT]
    #[arg(long)]
    advertise_url: Option<String>,
    /// Log lines as `text` or as one JSON object each (`json`)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Config(args) => print_config(args),
        Command::Mcp(args) => mcp(args),
        Command::Token(args) => token(args),
        Command::Clients {
            command: ClientsCommand::Add { name, state_dir },
        } => add_client(&name, state_dir),
    }
}

fn token(args: TokenArgs) -> std::process::ExitCode {
    let secret = match args
        .client_secret
        .or_else(|| std::env::var("PAGEPILOT_CLIENT_SECRET").ok())
    {
        Some(s) => s,
        None => {
            eprintln!(
                "pagepilot: give the client secret as $PAGEPILOT_CLIENT_SECRET or --client-secret"
            );
            return std::process::ExitCode::from(2);
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pagepilot: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match rt.block_on(pagepilot::oauth_client::client_credentials(
        &args.server,
        &args.client_id,
        &secret,
        &args.scope,
    )) {
        Ok(token) => {
            println!("{token}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pagepilot: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn add_client(name: &str, state_dir: Option<PathBuf>) -> std::process::ExitCode {
    let flags = Overrides {
        state_dir,
        ..Default::default()
    };
    let cfg = match Config::load(None, flags) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("pagepilot: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if name.is_empty() || name.contains(':') || name.chars().any(char::is_whitespace) {
        eprintln!("pagepilot: a client id must be non-empty, without `:` or spaces");
        return std::process::ExitCode::from(2);
    }
    let mut clients = pagepilot::api::auth::ApiSecrets::default();
    match clients.generate(
        &cfg.state_dir,
        pagepilot::api::auth::OAUTH_CLIENTS_FILE,
        name,
    ) {
        Ok(pair) => {
            println!("{pair}");
            eprintln!(
                "client `{name}` added (hash kept in {}); the secret above is shown only now. \
                 A running server picks it up at its next start.",
                cfg.state_dir.display()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!(
                "pagepilot: cannot store the client in {}: {e}",
                cfg.state_dir.display()
            );
            std::process::ExitCode::FAILURE
        }
    }
}

/// The configuration `serve` and `config` run with.
fn load(args: ServeArgs) -> Result<Config, String> {
    let flags = Overrides {
        host: args.host,
        port: args.port,
        chromium: args.chromium,
        allow_private_network: args.allow_private_network.then_some(true),
        api_secrets: (!args.api_secrets.is_empty()).then_some(args.api_secrets),
        state_dir: args.state_dir,
        redis_url: args.redis_url,
        advertise_url: args.advertise_url,
    };
    Config::load(args.config.as_deref(), flags)
}

fn print_config(args: ServeArgs) -> std::process::ExitCode {
    match load(args).and_then(|c| c.masked_toml()) {
        Ok(text) => {
            print!("{text}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pagepilot: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

/// The configuration, the logs and the runtime a server command runs with; the exit code to
/// stop with when one of them cannot be had (2 for a bad configuration).
fn prepare(
    args: ServeArgs,
    logs_to_stderr: bool,
) -> Result<(Config, tokio::runtime::Runtime), std::process::ExitCode> {
    let format = args.log_format;
    let cfg = load(args).map_err(|e| {
        eprintln!("pagepilot: {e}");
        std::process::ExitCode::from(2)
    })?;
    init_logs(&cfg.log, format, logs_to_stderr);
    let rt = runtime().ok_or(std::process::ExitCode::FAILURE)?;
    Ok((cfg, rt))
}

fn serve(args: ServeArgs) -> std::process::ExitCode {
    let (cfg, rt) = match prepare(args, false) {
        Ok(p) => p,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let server = match pagepilot::start(cfg).await {
            Ok(s) => s,
            Err(e) => {
                tracing::error!("{e}");
                return std::process::ExitCode::FAILURE;
            }
        };
        wait_for_stop_signal().await;
        tracing::info!("shutting down: closing sessions and the browser");
        server.shutdown().await;
        std::process::ExitCode::SUCCESS
    })
}

/// Logs to stdout, or to stderr when stdout is a protocol's (`mcp`); `RUST_LOG` wins over the
/// configured filter. Colour only for a terminal: escape codes in a log file are noise.
fn init_logs(filter: &str, format: LogFormat, to_stderr: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let ansi = if to_stderr {
        std::io::IsTerminal::is_terminal(&std::io::stderr())
    } else {
        std::io::IsTerminal::is_terminal(&std::io::stdout())
    };
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match (format, to_stderr) {
        (LogFormat::Json, true) => logs
            .with_writer(std::io::stderr)
            .json()
            .flatten_event(true)
            .init(),
        (LogFormat::Text, true) => logs.with_writer(std::io::stderr).init(),
        (LogFormat::Json, false) => logs.json().flatten_event(true).init(),
        (LogFormat::Text, false) => logs.init(),
    }
}

/// The multi-threaded runtime, or `None` (said on stderr) when it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            eprintln!("pagepilot: cannot start the runtime: {e}");
            None
        }
    }
}

/// `pagepilot mcp`: MCP on stdin/stdout; logs go to stderr (stdout is the protocol's).
fn mcp(args: McpArgs) -> std::process::ExitCode {
    let url = args.url.or_else(|| std::env::var("PAGEPILOT_URL").ok());
    let token = args
        .token
        .or_else(|| std::env::var("PAGEPILOT_TOKEN").ok())
        .unwrap_or_default();
    let mut serve_args = args.serve;
    // The embedded server is the stdio client's alone: an ephemeral port unless one is named.
    serve_args.port = Some(serve_args.port.unwrap_or(0));
    let (cfg, rt) = match prepare(serve_args, true) {
        Ok(p) => p,
        Err(code) => return code,
    };
    rt.block_on(async move {
        let done = match url {
            Some(url) => {
                let remote = match pagepilot::api::mcp_remote::Remote::start(&url, &token).await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!("{e}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                serve_stdio(remote).await
            }
            None => {
                let server = match pagepilot::start(cfg).await {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::error!("{e}");
                        return std::process::ExitCode::FAILURE;
                    }
                };
                let served = serve_stdio(server.mcp_tools("local")).await;
                server.shutdown().await;
                served
            }
        };
        match done {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("MCP over stdio ended: {e}");
                std::process::ExitCode::FAILURE
            }
        }
    })
}

/// Serves MCP on stdin/stdout until the client goes away or a stop signal comes.
async fn serve_stdio<S: rmcp::ServerHandler>(handler: S) -> Result<(), String> {
    use rmcp::ServiceExt;
    let running = handler
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|e| e.to_string())?;
    tokio::select! {
        _ = running.waiting() => {}
        _ = wait_for_stop_signal() => {}
    }
    Ok(())
}

/// Ctrl-C (SIGINT) or SIGTERM (systemd, docker stop, kill): both end in a clean shutdown that
/// closes sessions and removes the browser's profile dir.
async fn wait_for_stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
