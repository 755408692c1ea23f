//! `pulseboard-server`: thin command-line wrapper around [`pulseboard_server::run`].

use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use pulseboard_server::Config;
use tracing_subscriber::EnvFilter;

/// Pulseboard Socket.IO + HTTP server (with an opt-in demo simulator).
///
/// Every flag can also be set through the environment variable shown.
#[derive(Debug, Parser)]
#[command(name = "pulseboard-server", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the log shows which).
    #[arg(long, env = "PULSEBOARD_LISTEN", default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Full-rights token (view and publish), viewer `default`.
    #[arg(long, env = "PULSEBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Viewer token NAME=TOKEN: Socket.IO and GET /api/snapshot, read state
    /// per NAME (repeatable).
    #[arg(long = "view-token", value_name = "NAME=TOKEN", env = "PULSEBOARD_VIEW_TOKENS",
          value_delimiter = ',', hide_env_values = true, value_parser = pulseboard_server::name_token)]
    view_tokens: Vec<(String, String)>,
    /// Publisher token NAME=TOKEN: the HTTP write API only (repeatable).
    #[arg(long = "publish-token", value_name = "NAME=TOKEN", env = "PULSEBOARD_PUBLISH_TOKENS",
          value_delimiter = ',', hide_env_values = true, value_parser = pulseboard_server::name_token)]
    publish_tokens: Vec<(String, String)>,
    /// File of tokens, one per line: `token T`, `view-token NAME=T`,
    /// `publish-token NAME=T` (# comments). Keeps tokens out of the process list.
    #[arg(long, value_name = "PATH", env = "PULSEBOARD_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Serve without any token on a non-loopback address (refused otherwise).
    #[arg(long, env = "PULSEBOARD_ALLOW_OPEN")]
    allow_open: bool,
    /// SQLite database file [default: $XDG_DATA_HOME/pulseboard/server.db],
    /// or a PostgreSQL URL (postgres://... or postgresql://...; the shared
    /// store of several nodes).
    #[arg(
        long = "db",
        value_name = "PATH|URL",
        env = "PULSEBOARD_DB",
        hide_env_values = true
    )]
    db: Option<PathBuf>,

    /// Redis URL of a cluster (redis://host:port or unix:///path/redis.sock):
    /// live events reach the clients of every node using it. Give every
    /// node the same --db postgres://... too.
    #[arg(
        long = "redis",
        value_name = "URL",
        env = "PULSEBOARD_REDIS",
        hide_env_values = true
    )]
    redis: Option<String>,
    /// Run the demo simulator (random KPIs, fake notifications and alerts).
    /// It does not run on a store that real data went into.
    #[arg(long, env = "PULSEBOARD_SIMULATE")]
    simulate: bool,
    /// Let --simulate run (and keep running) on a store holding real data.
    #[arg(long, env = "PULSEBOARD_SIMULATE_ON_REAL_DATA", requires = "simulate")]
    simulate_on_real_data: bool,
    /// Accepted for compatibility; the simulator is off unless --simulate.
    #[arg(long, env = "PULSEBOARD_NO_SIMULATOR", conflicts_with = "simulate")]
    no_simulator: bool,
    /// Simulator period for module KPIs, in milliseconds.
    #[arg(long, env = "PULSEBOARD_KPI_INTERVAL_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(50..))]
    kpi_interval_ms: u64,
    /// Simulator period for the dashboard, in milliseconds.
    #[arg(long, env = "PULSEBOARD_DASHBOARD_INTERVAL_MS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(50..))]
    dashboard_interval_ms: u64,
    /// Keep at most N notifications (older ones are pruned in the background).
    #[arg(long, value_name = "N", env = "PULSEBOARD_RETAIN_COUNT",
          value_parser = clap::value_parser!(u64).range(1..))]
    retain_count: Option<u64>,
    /// Keep notifications at most N days.
    #[arg(long, value_name = "N", env = "PULSEBOARD_RETAIN_DAYS",
          value_parser = clap::value_parser!(u64).range(1..))]
    retain_days: Option<u64>,
    /// Browser origin allowed to use the API and Socket.IO, e.g.
    /// https://dash.example.com (repeatable; none by default).
    #[arg(
        long = "allow-origin",
        value_name = "URL",
        env = "PULSEBOARD_ALLOW_ORIGINS",
        value_delimiter = ','
    )]
    allow_origins: Vec<String>,
    /// HTTP API requests per second per address and per token before 429.
    #[arg(long, value_name = "N", env = "PULSEBOARD_RATE_LIMIT", default_value_t = 200,
          value_parser = clap::value_parser!(u32).range(1..))]
    rate_limit: u32,
    /// Address of a reverse proxy whose X-Forwarded-For names the client for
    /// the per-address rate limit and logs (repeatable).
    #[arg(
        long = "trusted-proxy",
        value_name = "IP",
        env = "PULSEBOARD_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Socket.IO events per second per connection before `rate limited`.
    #[arg(long, value_name = "N", env = "PULSEBOARD_EVENT_RATE_LIMIT", default_value_t = 50,
          value_parser = clap::value_parser!(u32).range(1..))]
    event_rate_limit: u32,
    /// Socket.IO events per second per token and per client address, over
    /// all their connections, before `rate limited`.
    #[arg(long, value_name = "N", env = "PULSEBOARD_SHARED_EVENT_RATE_LIMIT",
          default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..))]
    shared_event_rate_limit: u32,
    /// Open connections at most (all addresses).
    #[arg(long, value_name = "N", env = "PULSEBOARD_MAX_CONNECTIONS", default_value_t = 10_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open connections at most from one IP address.
    #[arg(long, value_name = "N", env = "PULSEBOARD_MAX_CONNECTIONS_PER_ADDR",
          default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_addr: u64,
    /// Seconds a client gets to send request headers (also the idle
    /// keep-alive and TLS handshake limit).
    #[arg(long, value_name = "SECS", env = "PULSEBOARD_HEADER_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout: u64,
    /// Seconds an unauthenticated Engine.IO session may live.
    #[arg(long, value_name = "SECS", env = "PULSEBOARD_HANDSHAKE_TIMEOUT", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..))]
    handshake_timeout: u64,
    /// PEM certificate chain: serve HTTPS and WSS on the same port.
    #[arg(
        long,
        value_name = "PEM",
        env = "PULSEBOARD_TLS_CERT",
        requires = "tls_key"
    )]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "PEM",
        env = "PULSEBOARD_TLS_KEY",
        requires = "tls_cert"
    )]
    tls_key: Option<PathBuf>,
    /// Log format: text or json (one JSON object per line).
    #[arg(long, env = "PULSEBOARD_LOG_FORMAT", default_value = "text",
          value_parser = ["text", "json"])]
    log_format: String,
}

fn default_db_path() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("pulseboard").join("server.db"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(%e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(%e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// File descriptors the server needs besides its connections (database,
/// log, listener, runtime).
const FDS_BESIDES_CONNECTIONS: u64 = 64;

fn is_loopback(addr: &SocketAddr) -> bool {
    addr.ip().is_loopback()
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = pulseboard_server::config_file::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    if cli.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .init();
    }

    let Some(db_path) = cli.db.clone().or_else(default_db_path) else {
        eprintln!("error: no --db given and neither XDG_DATA_HOME nor HOME is set");
        return ExitCode::from(2);
    };
    let mut config = Config::new(db_path);
    config.token = cli.token.clone().filter(|t| !t.is_empty());
    config.view_tokens = cli.view_tokens.clone();
    config.publish_tokens = cli.publish_tokens.clone();
    if let Some(path) = &cli.token_file {
        match pulseboard_server::read_token_file(path) {
            Ok(f) => {
                if let Some(t) = f.token {
                    if config.token.is_some() {
                        eprintln!(
                            "error: a full-rights token is given both by --token and in {}",
                            path.display()
                        );
                        return ExitCode::from(2);
                    }
                    config.token = Some(t);
                }
                config.view_tokens.extend(f.view);
                config.publish_tokens.extend(f.publish);
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        }
    }
    if !config.has_tokens() && !is_loopback(&cli.listen) && !cli.allow_open {
        eprintln!(
            "error: no token configured and {} is not a loopback address; \
             give --token/--view-token/--publish-token/--token-file, or --allow-open",
            cli.listen
        );
        return ExitCode::from(2);
    }
    config.simulator = cli.simulate;
    config.simulate_on_real_data = cli.simulate_on_real_data;
    config.kpi_interval = Duration::from_millis(cli.kpi_interval_ms);
    config.dashboard_interval = Duration::from_millis(cli.dashboard_interval_ms);
    config.retain_count = cli.retain_count;
    config.retain_days = cli.retain_days;
    config.allow_origins = cli.allow_origins.clone();
    config.rate_limit = cli.rate_limit;
    config.trusted_proxies = cli.trusted_proxies.clone();
    config.event_rate_limit = cli.event_rate_limit;
    config.shared_event_rate_limit = cli.shared_event_rate_limit;
    config.max_connections = usize::try_from(cli.max_connections).unwrap_or(usize::MAX);
    config.max_connections_per_addr =
        usize::try_from(cli.max_connections_per_addr).unwrap_or(usize::MAX);
    config.header_timeout = Duration::from_secs(cli.header_timeout);
    config.handshake_timeout = Duration::from_secs(cli.handshake_timeout);
    config.tls = cli.tls_cert.clone().zip(cli.tls_key.clone());
    config.redis = cli.redis.clone().filter(|u| !u.is_empty());
    if config.redis.is_some()
        && !config
            .db_path
            .to_str()
            .is_some_and(pulseboard_server::storage::is_postgres_url)
    {
        tracing::warn!(
            "--redis without a PostgreSQL --db: the nodes do not share notifications or KPIs"
        );
    }

    // Each connection is a file descriptor: make room for the caps, and say
    // so when the system does not give enough (accept would fail first).
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) if limit < cli.max_connections.saturating_add(FDS_BESIDES_CONNECTIONS) => {
            tracing::warn!(
                limit,
                max_connections = cli.max_connections,
                "the open file limit is below --max-connections: connections will be refused \
                 by the system before the cap is reached (raise LimitNOFILE / ulimit -n)"
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(%e, "could not raise the open file limit"),
    }

    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    // Fail early and clearly if the database cannot be opened.
    if let Err(e) = pulseboard_server::storage::open(&config.db_path).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let addr = listener.local_addr().unwrap_or(cli.listen);
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let db = match config.db_path.to_str() {
        // A URL may hold a password: log only which kind of store.
        Some(u) if pulseboard_server::storage::is_postgres_url(u) => "postgresql".to_owned(),
        _ => config.db_path.display().to_string(),
    };
    tracing::info!(%db, "listening on {scheme}://{addr}");
    println!("listening on {scheme}://{addr}");

    match pulseboard_server::run(listener, config, shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
