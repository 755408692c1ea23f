//! `pulseboard-server`: thin command-line wrapper around [`pulseboard_server::run`].

use std::{io::IsTerminal, net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use clap::Parser;
use pulseboard_server::Config;
use tracing_subscriber::EnvFilter;

/// Pulseboard Socket.IO + HTTP server with a KPI simulator.
#[derive(Debug, Parser)]
#[command(name = "pulseboard-server", version, about)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the log shows which).
    #[arg(long, default_value = "127.0.0.1:4000")]
    listen: SocketAddr,
    /// Shared token clients must present. Without one the server is open.
    #[arg(long, env = "PULSEBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// SQLite database file [default: $XDG_DATA_HOME/pulseboard/server.db].
    #[arg(long = "db", value_name = "PATH")]
    db: Option<PathBuf>,
    /// Do not run the built-in KPI simulator.
    #[arg(long)]
    no_simulator: bool,
    /// Simulator period for module KPIs, in milliseconds.
    #[arg(long, default_value_t = 5000, value_parser = clap::value_parser!(u64).range(50..))]
    kpi_interval_ms: u64,
    /// Simulator period for the dashboard, in milliseconds.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(50..))]
    dashboard_interval_ms: u64,
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

#[tokio::main]
async fn main() -> ExitCode {
    let cli: Cli = pulseboard_server::config_file::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();

    let Some(db_path) = cli.db.or_else(default_db_path) else {
        eprintln!("error: no --db given and neither XDG_DATA_HOME nor HOME is set");
        return ExitCode::from(2);
    };
    let config = Config {
        token: cli.token.filter(|t| !t.is_empty()),
        db_path,
        simulator: !cli.no_simulator,
        kpi_interval: Duration::from_millis(cli.kpi_interval_ms),
        dashboard_interval: Duration::from_millis(cli.dashboard_interval_ms),
    };

    let listener = match tokio::net::TcpListener::bind(cli.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", cli.listen);
            return ExitCode::FAILURE;
        }
    };
    // Fail early and clearly if the database cannot be opened.
    if let Err(e) = pulseboard_server::storage::Store::open(&config.db_path) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let addr = listener.local_addr().unwrap_or(cli.listen);
    tracing::info!(db = %config.db_path.display(), "listening on http://{addr}");
    println!("listening on http://{addr}");

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
