//! Commands the window may call (and nothing else: see capabilities/).
//! Errors come back as readable strings.

use pulseboard_core::{AlertAck, Command, State as CoreState};
use pulseboard_protocol::{MarkRead, Validate};
use serde::{Deserialize, Serialize};
use tauri::{AppHandle, Manager, Runtime, State};

use crate::settings::{self, DndMode, Settings, Threshold};
use crate::tray::Tray;
use crate::AppCore;

/// Settings as the window sees them: the token never leaves Rust.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UiSettings {
    /// Server URL.
    pub server: String,
    /// Whether a token is set.
    #[serde(default)]
    pub has_token: bool,
    /// A new token typed by the user (write-only; empty string clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Do not disturb.
    pub dnd: DndMode,
    /// Native notifications for notifications.
    pub notify_threshold: Threshold,
    /// Start at login.
    pub start_at_login: bool,
}

fn ui_settings(core: &AppCore) -> UiSettings {
    let s = core.settings();
    UiSettings {
        server: s.server,
        has_token: core
            .token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some(),
        token: None,
        dnd: s.dnd,
        notify_threshold: s.notify_threshold,
        start_at_login: s.start_at_login,
    }
}

/// Everything the window needs at start.
#[derive(Debug, Serialize)]
pub struct Snapshot {
    /// The core state.
    pub state: CoreState,
    /// Settings.
    pub settings: UiSettings,
    /// Now, so the window's countdowns agree with Rust's clock.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// What the window gets at start (from `get_state`, and in the page before
/// it loads: see `open_window`).
pub fn snapshot(core: &AppCore) -> Snapshot {
    Snapshot {
        state: core.store.snapshot(),
        settings: ui_settings(core),
        now: chrono::Utc::now(),
    }
}

/// The whole state, once, at window start.
#[tauri::command]
pub fn get_state(core: State<'_, AppCore>) -> Snapshot {
    snapshot(&core)
}

/// Mark notifications read (works offline: queued in the outbox).
#[tauri::command]
pub fn mark_read(core: State<'_, AppCore>, ids: Vec<String>) -> Result<(), String> {
    let req = MarkRead::Ids(ids);
    req.validate().map_err(|e| e.to_string())?;
    core.command(Command::MarkRead(req));
    Ok(())
}

/// Mark everything read.
#[tauri::command]
pub fn mark_all_read(core: State<'_, AppCore>) {
    core.command(Command::MarkRead(MarkRead::All));
}

/// Most alert ids one `acknowledge_alerts` call takes (the store keeps
/// [`pulseboard_core::store::MAX_ALERTS`]).
pub const MAX_ACK_IDS: usize = 1000;

/// Acknowledge alerts: `ids`, or every kept alert with `all: true`. The
/// acknowledged set lives in the core store (the window and the tray read it
/// from there; it is cached across restarts). Returns every acknowledged id.
#[tauri::command]
pub fn acknowledge_alerts<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    ids: Option<Vec<String>>,
    all: Option<bool>,
) -> Result<Vec<String>, String> {
    let ack = match (ids, all) {
        (_, Some(true)) => AlertAck::All,
        (Some(ids), _) if ids.len() > MAX_ACK_IDS => {
            return Err(format!(
                "too many alert ids ({}, at most {MAX_ACK_IDS})",
                ids.len()
            ))
        }
        (Some(ids), _) => AlertAck::Ids(ids),
        (None, _) => return Err("give the alert ids, or all: true".into()),
    };
    core.store.apply(|s| s.acknowledge_alerts(&ack));
    crate::bridge::refresh_tray(&app, &core);
    Ok(core
        .store
        .read(|s| s.acknowledged_alerts.iter().cloned().collect()))
}

/// How long [`diagnose`] waits for the server.
pub const DIAGNOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why a connection fails, as a user can act on it. The core's transport
/// reports failures as it sees them ("EngineIO Error"); this asks the server
/// once, over plain HTTP(S), at the Engine.IO handshake a Pulseboard server
/// answers, and says which case it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Diagnosis {
    /// `refused|dns|timeout|certificate|tls|not_pulseboard|answers|token|bad_url|error`.
    pub kind: &'static str,
    /// One sentence for people.
    pub message: String,
}

fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        src = s.source();
    }
    None
}

/// Probe `server` (its Engine.IO handshake) and say what is wrong, or that
/// it answers like a Pulseboard server.
pub async fn diagnose(server: &str, timeout: std::time::Duration) -> Diagnosis {
    let d = |kind, message: String| Diagnosis { kind, message };
    let base = server.trim().trim_end_matches('/');
    let host = base
        .split_once("://")
        .map(|(_, rest)| rest.split(['/', '?', '#']).next().unwrap_or(rest))
        .unwrap_or(base)
        .to_string();
    let client = match reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => return d("error", format!("Could not check the server: {e}")),
    };
    let url = format!("{base}/socket.io/?EIO=4&transport=polling");
    let resp = match client.get(&url).send().await {
        Ok(r) => r,
        Err(e) if e.is_builder() => {
            return d("bad_url", format!("\"{server}\" is not a server address."))
        }
        Err(e) => {
            let text = chain_text(&e).to_lowercase();
            return if e.is_timeout() {
                d(
                    "timeout",
                    format!(
                        "{host} did not answer within {} s (timeout).",
                        timeout.as_secs()
                    ),
                )
            } else if text.contains("certificate") || text.contains("unknownissuer") {
                d(
                    "certificate",
                    format!("The certificate of {host} could not be verified: check the address, or the server's certificate."),
                )
            } else if text.contains("ssl") || text.contains("tls") || text.contains("handshake") {
                d(
                    "tls",
                    format!("{host} does not speak HTTPS (TLS failed): try http:// instead of https://."),
                )
            } else if text.contains("dns") || text.contains("lookup") || text.contains("resolve") {
                d(
                    "dns",
                    format!("{host} could not be found: check the address."),
                )
            } else if io_kind(&e) == Some(std::io::ErrorKind::ConnectionRefused)
                || text.contains("refused")
            {
                d(
                    "refused",
                    format!("Nothing listens at {host}: is the Pulseboard server running, and is the port right?"),
                )
            } else {
                d(
                    "error",
                    format!("Could not reach {host}: {}", chain_text(&e)),
                )
            };
        }
    };
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    // An Engine.IO 4 handshake: an "open" packet with a session id.
    if status.is_success() && body.trim_start().starts_with("0{") && body.contains("\"sid\"") {
        d(
            "answers",
            format!("{host} answers like a Pulseboard server."),
        )
    } else {
        d(
            "not_pulseboard",
            format!(
                "{host} answers, but is not a Pulseboard server (HTTP {} at /socket.io/): check the address and port.",
                status.as_u16()
            ),
        )
    }
}

/// Why the connection to the configured server fails, for the window (see
/// [`diagnose`]). A refused token is said from the connection state.
#[tauri::command]
pub async fn diagnose_connection(core: State<'_, AppCore>) -> Result<Diagnosis, String> {
    let server = core.settings().server;
    let refused = core.store.read(|s| {
        matches!(
            s.connection,
            pulseboard_core::ConnectionState::Unauthorized { .. }
        )
    });
    let mut d = diagnose(&server, DIAGNOSE_TIMEOUT).await;
    if refused && d.kind == "answers" {
        d = Diagnosis {
            kind: "token",
            message: "The server refused the token: enter the token you were given, then Save."
                .into(),
        };
    }
    Ok(d)
}

/// Longest link `open_link` takes.
pub const MAX_LINK_LEN: usize = 2048;

/// The link as given when it is an `http(s)://` URL with a host and no
/// spaces or control characters; anything else is refused with a reason.
pub fn web_link(url: &str) -> Result<&str, String> {
    let u = url.trim();
    let short: String = u.chars().take(80).collect();
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"))
        .ok_or_else(|| {
            format!("only web links (http:// or https://) are opened, not \"{short}\"")
        })?;
    if u.len() > MAX_LINK_LEN {
        return Err(format!("the link is longer than {MAX_LINK_LEN} characters"));
    }
    if rest.split(['/', '?', '#']).next().unwrap_or("").is_empty()
        || u.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!("\"{short}\" is not a web link"));
    }
    Ok(u)
}

/// Open a web link from a notification or alert in the default browser. The
/// window asks the user first; this checks it is a web link.
#[tauri::command]
pub async fn open_link(url: String) -> Result<(), String> {
    let u = web_link(&url)?.to_string();
    tauri::async_runtime::spawn_blocking(move || open::that(&u))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("could not open the browser: {e}"))
}

/// Reconnect now.
#[tauri::command]
pub fn reconnect(core: State<'_, AppCore>) {
    core.command(Command::Reconnect);
}

/// Current settings.
#[tauri::command]
pub fn get_settings(core: State<'_, AppCore>) -> UiSettings {
    ui_settings(&core)
}

/// The server URL as typed, with a scheme added when none was typed:
/// `http://` for this machine (a local server rarely has a certificate),
/// `https://` for anything else. Anything with a scheme is left to
/// [`settings::validate_server`].
pub fn with_scheme(typed: &str) -> String {
    let t = typed.trim();
    if t.is_empty() || t.contains("://") {
        return t.to_string();
    }
    let host = t.split(['/', '?', '#']).next().unwrap_or("");
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.split(']').next())
        .unwrap_or_else(|| host.rsplit_once(':').map_or(host, |(h, _)| h));
    let local = host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    format!("{}://{t}", if local { "http" } else { "https" })
}

/// Validate, save and apply settings. A new server or token reconnects.
#[tauri::command]
pub fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    settings: UiSettings,
) -> Result<UiSettings, String> {
    let server = with_scheme(&settings.server);
    settings::validate_server(&server).map_err(|e| e.to_string())?;
    let old = core.settings();
    let new = Settings {
        server: server.clone(),
        dnd: settings.dnd,
        notify_threshold: settings.notify_threshold,
        start_at_login: settings.start_at_login,
        // Not in the window's form: kept as it is.
        rendering: old.rendering,
    };
    core.settings_dir.save(&new).map_err(|e| e.to_string())?;
    let mut token_changed = false;
    if let Some(t) = &settings.token {
        let t = t.trim();
        core.settings_dir
            .save_token(Some(t).filter(|t| !t.is_empty()))
            .map_err(|e| e.to_string())?;
        *core.token.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(t.to_string()).filter(|t| !t.is_empty());
        token_changed = true;
    }
    if new.start_at_login != old.start_at_login {
        let exe = std::env::current_exe().map_err(|e| e.to_string())?;
        settings::set_autostart(new.start_at_login, &exe).map_err(|e| e.to_string())?;
    }
    core.policy.send_replace(crate::policy_settings(&new));
    if let Some(t) = app.try_state::<Tray<R>>() {
        t.set_dnd(new.dnd);
    }
    *core.settings.lock().unwrap_or_else(|e| e.into_inner()) = new;
    if token_changed || server != old.server {
        let token = core.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        core.command(Command::Configure { server, token });
    }
    Ok(ui_settings(&core))
}

#[cfg(test)]
mod tests {
    use super::{diagnose, web_link, with_scheme};
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A server on 127.0.0.1:0 that answers every request with `status`
    /// and `body` (None: accepts and never answers).
    async fn fake(answer: Option<(&'static str, &'static str)>) -> String {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = s.read(&mut buf).await;
                    match answer {
                        Some((status, body)) => {
                            let r = format!(
                                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                body.len()
                            );
                            let _ = s.write_all(r.as_bytes()).await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(30)).await,
                    }
                });
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn each_failure_kind_is_told_apart() {
        // Nothing listens: a port that was free a moment ago.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = diagnose(&format!("http://127.0.0.1:{port}"), Duration::from_secs(5)).await;
        assert_eq!(d.kind, "refused", "{d:?}");
        assert!(d.message.contains("Nothing listens"), "{d:?}");

        let d = diagnose(
            &fake(Some(("404 Not Found", "not here"))).await,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(d.kind, "not_pulseboard", "{d:?}");
        assert!(d.message.contains("HTTP 404"), "{d:?}");

        let d = diagnose(&fake(None).await, Duration::from_millis(300)).await;
        assert_eq!(d.kind, "timeout", "{d:?}");

        let sio = r#"0{"sid":"abc","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":100000}"#;
        let d = diagnose(&fake(Some(("200 OK", sio))).await, Duration::from_secs(5)).await;
        assert_eq!(d.kind, "answers", "{d:?}");

        // A TLS client against a plain HTTP server: the handshake fails.
        let plain = fake(Some(("404 Not Found", "not here")))
            .await
            .replace("http://", "https://");
        let d = diagnose(&plain, Duration::from_secs(5)).await;
        assert_eq!(d.kind, "tls", "{d:?}");

        let d = diagnose("http://no-such-host.invalid", Duration::from_secs(5)).await;
        assert_eq!(d.kind, "dns", "{d:?}");
        assert!(!d.message.contains('`'), "no backticks: {d:?}");
    }

    #[test]
    fn only_web_links_are_opened() {
        assert_eq!(
            web_link(" https://a.example/x?y=1 "),
            Ok("https://a.example/x?y=1")
        );
        assert!(web_link("http://10.0.0.1:8080").is_ok());
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://",
            "https:///x",
            "https://a b",
            "ftp://x",
            "",
        ] {
            assert!(web_link(bad).is_err(), "{bad} refused");
        }
        assert!(web_link(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
    }

    #[test]
    fn a_url_without_a_scheme_gets_one() {
        assert_eq!(with_scheme(" 127.0.0.1:4000 "), "http://127.0.0.1:4000");
        assert_eq!(with_scheme("localhost:4000/x"), "http://localhost:4000/x");
        assert_eq!(with_scheme("[::1]:4000"), "http://[::1]:4000");
        assert_eq!(
            with_scheme("pulse.example.com"),
            "https://pulse.example.com"
        );
        assert_eq!(with_scheme("http://10.0.0.1"), "http://10.0.0.1");
        assert_eq!(
            with_scheme("ftp://x"),
            "ftp://x",
            "left for validation to refuse"
        );
        assert_eq!(with_scheme(""), "");
    }
}
