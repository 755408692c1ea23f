//! `pulseboard-cli`: tail a server through the core client, send
//! notifications and alerts, read a snapshot over the HTTP API.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
// One rule for the CLI and the app: pulseboard_core::plain_http.
use pulseboard_core::{
    plain_remote_host, Client, ClientConfig, ClientState, Store, TransportMode, Update,
};
use pulseboard_protocol::{AlertSeverity, Module, NewAlert, NewNotification, NotificationSeverity};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

#[derive(Parser)]
#[command(
    name = "pulseboard-cli",
    version,
    about = "Tail and feed a Pulseboard server"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(clap::Args)]
struct Target {
    /// Server base URL. Repeatable (or comma-separated in PULSEBOARD_SERVER):
    /// `tail` uses the first that answers and fails over to the next;
    /// `send` and `snapshot` use the first.
    #[arg(
        long,
        env = "PULSEBOARD_SERVER",
        value_delimiter = ',',
        default_value = "http://127.0.0.1:4000"
    )]
    server: Vec<String>,
    /// Token (full, view or publish, as the command needs).
    #[arg(long, env = "PULSEBOARD_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// PEM file of a private certificate authority to trust in addition to
    /// the system roots (for an https:// server).
    #[arg(long, value_name = "PEM", env = "PULSEBOARD_CA")]
    ca: Option<std::path::PathBuf>,
}

impl Target {
    /// Warn (stderr) before a token goes over plain http:// to a host that
    /// is not loopback: anyone on the path can read and reuse it.
    fn warn_if_plain_token(&self) {
        if self.token.is_none() {
            return;
        }
        for host in self.server.iter().filter_map(|s| plain_remote_host(s)) {
            eprintln!(
                "pulseboard-cli: warning: sending the token over plain http:// to {host}, \
                 which is not loopback; anyone on the network path can read it (use https://)"
            );
        }
    }
}

impl Target {
    /// The first server URL.
    fn primary(&self) -> &str {
        self.server.first().map(String::as_str).unwrap_or_default()
    }
}

#[derive(Subcommand)]
enum Cmd {
    /// Print every event as one JSON object per line: {"event", "data"}.
    Tail {
        #[command(flatten)]
        target: Target,
        /// auto (WebSocket, falling back to long-polling), websocket or polling.
        #[arg(long, default_value = "auto")]
        transport: TransportMode,
    },
    /// Send a notification or an alert through the HTTP API.
    Send {
        #[command(flatten)]
        target: Target,
        #[command(subcommand)]
        what: SendWhat,
    },
    /// Print the server's current snapshot (GET /api/snapshot).
    Snapshot {
        #[command(flatten)]
        target: Target,
    },
}

#[derive(Subcommand)]
enum SendWhat {
    /// POST /api/notifications
    Notification {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        body: String,
        /// info, success, warning or error.
        #[arg(long, default_value = "info", value_parser = parse_json_enum::<NotificationSeverity>)]
        severity: NotificationSeverity,
        /// reports, finance, hr or security.
        #[arg(long)]
        module: Option<Module>,
    },
    /// POST /api/alerts
    Alert {
        #[arg(long)]
        title: String,
        #[arg(long, default_value = "")]
        message: String,
        /// info, warning or critical.
        #[arg(long, default_value = "warning", value_parser = parse_json_enum::<AlertSeverity>)]
        severity: AlertSeverity,
    },
}

/// Parse a lowercase wire enum value (`"critical"`) with the contract's own names.
fn parse_json_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, String> {
    serde_json::from_value(Value::String(s.to_string())).map_err(|e| e.to_string())
}

fn line(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    writeln!(out, "{v}")?;
    out.flush()
}

/// Tail: exit 0 on Ctrl-C, 2 when the token is refused, 1 on output errors.
async fn tail(target: Target, transport: TransportMode) -> ExitCode {
    target.warn_if_plain_token();
    let mut config = ClientConfig::with_servers(&target.server);
    config.token = target.token.clone();
    config.ca = target.ca.clone();
    config.transport = transport;
    let store = Store::new(ClientState::empty(target.primary()));
    let mut rx = store.subscribe();
    let mut out = std::io::stdout().lock();
    // The state before the first change: connecting.
    let first = store.read(|s| s.connection.clone());
    let _ = line(&mut out, &json!({"event": "state", "data": first}));
    let client = Client::start(config, store);
    let code = loop {
        let u = tokio::select! {
            u = rx.recv() => u,
            _ = tokio::signal::ctrl_c() => break ExitCode::SUCCESS,
        };
        let v = match u {
            Ok(Update::Connection(c)) => json!({"event": "state", "data": c}),
            Ok(Update::Event(e)) => json!({"event": e.name(), "data": e.payload()}),
            Ok(_) => continue,
            Err(RecvError::Lagged(n)) => {
                eprintln!("pulseboard-cli: output too slow, {n} updates skipped");
                continue;
            }
            Err(RecvError::Closed) => break ExitCode::FAILURE,
        };
        if line(&mut out, &v).is_err() {
            break ExitCode::FAILURE;
        }
        if v["data"]["state"] == "unauthorized" {
            eprintln!("pulseboard-cli: the server refused the token");
            break ExitCode::from(2);
        }
        if v["data"]["state"] == "certificate" {
            eprintln!(
                "pulseboard-cli: {}",
                v["data"]["message"]
                    .as_str()
                    .unwrap_or("certificate not trusted")
            );
            break ExitCode::from(2);
        }
    };
    drop(out);
    client.shutdown().await;
    code
}

async fn http(
    target: &Target,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> Result<Value, String> {
    let url = format!("{}{}", target.primary().trim_end_matches('/'), path);
    target.warn_if_plain_token();
    let mut builder = reqwest::Client::builder();
    if let Some(ca) = &target.ca {
        let pem = std::fs::read(ca).map_err(|e| format!("--ca {}: {e}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| format!("--ca {}: not a PEM certificate: {e}", ca.display()))?;
        if certs.is_empty() {
            return Err(format!("--ca {}: no PEM certificate in it", ca.display()));
        }
        for c in certs {
            builder = builder.add_root_certificate(c);
        }
    }
    let client = builder
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))?;
    let mut req = client.request(method, &url);
    if let Some(t) = &target.token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req
        .send()
        .await
        .map_err(|e| describe_send_error(&url, &e))?;
    let status = resp.status();
    let v: Value = resp
        .json()
        .await
        .map_err(|e| format!("{url}: answer is not JSON: {e}"))?;
    if status.is_success() {
        Ok(v)
    } else {
        Err(format!(
            "{url}: {status}: {}",
            v.get("error")
                .and_then(Value::as_str)
                .unwrap_or("no reason given")
        ))
    }
}

/// A send error in words; a certificate that cannot be verified says so.
fn describe_send_error(url: &str, e: &reqwest::Error) -> String {
    let mut chain = Vec::new();
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(err) = cur {
        chain.push(err.to_string());
        cur = err.source();
    }
    let detail = chain.join(": ");
    let lower = detail.to_ascii_lowercase();
    if lower.contains("certificate") || lower.contains("unknownissuer") {
        format!(
            "{url}: TLS certificate problem: the server's certificate could not be verified \
             ({}); if it comes from a private CA, pass --ca PEM",
            chain.last().map(String::as_str).unwrap_or("unknown reason")
        )
    } else {
        format!("{url}: {detail}")
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Some(code) = pulseboard_docgen::run_if_asked(<Cli as clap::CommandFactory>::command) {
        return code;
    }
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Tail { target, transport } => return tail(target, transport).await,
        Cmd::Snapshot { target } => {
            http(&target, reqwest::Method::GET, "/api/snapshot", None).await
        }
        Cmd::Send { target, what } => {
            let (path, body) = match what {
                SendWhat::Notification {
                    title,
                    body,
                    severity,
                    module,
                } => (
                    "/api/notifications",
                    serde_json::to_value(NewNotification {
                        title,
                        body,
                        severity,
                        module,
                    }),
                ),
                SendWhat::Alert {
                    title,
                    message,
                    severity,
                } => (
                    "/api/alerts",
                    serde_json::to_value(NewAlert {
                        title,
                        message,
                        severity,
                    }),
                ),
            };
            match body {
                Ok(b) => http(&target, reqwest::Method::POST, path, Some(b)).await,
                Err(e) => Err(e.to_string()),
            }
        }
    };
    match result {
        Ok(v) => {
            let _ = line(&mut std::io::stdout().lock(), &v);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("pulseboard-cli: {e}");
            ExitCode::FAILURE
        }
    }
}
