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
#[cfg_attr(test, derive(ts_rs::TS))]
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
    /// PEM file of a private certificate authority trusted in addition to
    /// the system roots. Read: the saved one (null: none). Write: absent or
    /// null keeps it, an empty string removes it, a path sets it.
    #[serde(default)]
    pub ca: Option<String>,
    /// Read-only: the warning to show next to the server field when the
    /// saved token goes over plain http:// to a host that is not loopback
    /// ([`settings::plain_http_warning`]).
    #[serde(default, skip_deserializing)]
    pub plain_http_warning: Option<String>,
}

fn ui_settings(core: &AppCore) -> UiSettings {
    let s = core.settings();
    let has_token = core
        .token
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .is_some();
    UiSettings {
        plain_http_warning: settings::plain_http_warning(&s.server, has_token),
        server: s.server,
        has_token,
        token: None,
        dnd: s.dnd,
        notify_threshold: s.notify_threshold,
        start_at_login: s.start_at_login,
        ca: s.ca.map(|p| p.display().to_string()),
    }
}

/// Everything the window needs at start.
#[derive(Debug, Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
pub struct Snapshot {
    /// The core state.
    pub state: CoreState,
    /// Settings.
    pub settings: UiSettings,
    /// Now, so the window's relative times agree with Rust's clock.
    pub now: chrono::DateTime<chrono::Utc>,
    /// What the pill says (later changes come as `connection-view` messages).
    #[serde(rename = "connectionView")]
    pub connection_view: pulseboard_core::ConnectionView,
}

/// What the window gets at start (from `get_state`, and in the page before
/// it loads: see `open_window`).
pub fn snapshot(core: &AppCore) -> Snapshot {
    let state = core.store.snapshot();
    let now = chrono::Utc::now();
    Snapshot {
        connection_view: pulseboard_core::connection_view(&state, now),
        state,
        settings: ui_settings(core),
        now,
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

/// How long each step of [`diagnose_connection`] waits for the server.
pub const DIAGNOSE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the connection to the configured server fails, for Settings: the
/// same probe as the first-run "Test connection"
/// ([`crate::connection_test::test_connection`]) with the saved server and
/// token. The core's transport only says what it sees ("EngineIO Error").
#[tauri::command]
pub async fn diagnose_connection(
    core: State<'_, AppCore>,
) -> Result<crate::connection_test::ConnectionTest, String> {
    let s = core.settings();
    let token = core.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Ok(crate::connection_test::test_connection(
        &s.server,
        token.as_deref(),
        s.ca.as_deref(),
        DIAGNOSE_TIMEOUT,
    )
    .await)
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
    let ca = match settings.ca.as_deref().map(str::trim) {
        None => old.ca.clone(),
        Some("") => None,
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            settings::validate_ca(&p).map_err(|e| e.to_string())?;
            Some(p)
        }
    };
    let new = Settings {
        server: server.clone(),
        dnd: settings.dnd,
        notify_threshold: settings.notify_threshold,
        start_at_login: settings.start_at_login,
        // Not in the window's form: kept as it is.
        rendering: old.rendering,
        ca: ca.clone(),
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
    if ca != old.ca {
        // Reconnects with the new trust (also out of the certificate state).
        core.command(Command::SetCa(ca));
    }
    if token_changed || server != old.server {
        let token = core.token.lock().unwrap_or_else(|e| e.into_inner()).clone();
        core.command(Command::Configure { server, token });
    }
    // A server is configured now: no more first-run setup.
    if let Some(f) = app.try_state::<crate::FirstRun>() {
        f.0.store(false, std::sync::atomic::Ordering::SeqCst);
    }
    Ok(ui_settings(&core))
}

/// Whether the window should show the first-run setup (no server configured
/// yet). Rust decides; the page asks.
#[tauri::command]
pub fn setup_needed<R: Runtime>(app: AppHandle<R>) -> bool {
    app.try_state::<crate::FirstRun>()
        .is_some_and(|f| f.0.load(std::sync::atomic::Ordering::SeqCst))
}

/// "Test connection" in the setup: reach `server` with `token` (empty or
/// absent: the saved token), trusting the certificate authority `ca` (empty
/// or absent: the saved one), and answer in one sentence. Saves nothing.
#[tauri::command]
pub async fn test_connection(
    core: State<'_, AppCore>,
    server: String,
    token: Option<String>,
    ca: Option<String>,
) -> Result<crate::connection_test::ConnectionTest, String> {
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| core.token.lock().unwrap_or_else(|e| e.into_inner()).clone());
    let ca = match ca.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(c) => {
            let p = std::path::PathBuf::from(c);
            settings::validate_ca(&p).map_err(|e| e.to_string())?;
            Some(p)
        }
        None => core.settings().ca,
    };
    Ok(crate::connection_test::test_connection(
        &server,
        token.as_deref(),
        ca.as_deref(),
        std::time::Duration::from_secs(5),
    )
    .await)
}

/// The warning to show next to the server field before a token goes to
/// `server` (as typed: a scheme is added as `save_settings` would) over plain
/// http:// to a host that is not loopback; null when there is nothing to
/// warn about. Rust decides ([`settings::plain_http_warning`]); nothing is
/// sent anywhere.
#[tauri::command]
pub fn plain_http_warning(server: String, has_token: bool) -> Option<String> {
    settings::plain_http_warning(&with_scheme(&server), has_token)
}

#[cfg(test)]
mod tests {
    use super::{web_link, with_scheme};

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
