//! Commands the window may call (and nothing else: see capabilities/).
//! Errors come back as readable strings.

use pulseboard_core::{Command, State as CoreState};
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

/// Validate, save and apply settings. A new server or token reconnects.
#[tauri::command]
pub fn save_settings<R: Runtime>(
    app: AppHandle<R>,
    core: State<'_, AppCore>,
    settings: UiSettings,
) -> Result<UiSettings, String> {
    let server = settings.server.trim().to_string();
    settings::validate_server(&server).map_err(|e| e.to_string())?;
    let new = Settings {
        server: server.clone(),
        dnd: settings.dnd,
        notify_threshold: settings.notify_threshold,
        start_at_login: settings.start_at_login,
    };
    let old = core.settings();
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
/// absent: the saved token) and answer in one sentence. Saves nothing.
#[tauri::command]
pub async fn test_connection(
    core: State<'_, AppCore>,
    server: String,
    token: Option<String>,
) -> Result<crate::connection_test::ConnectionTest, String> {
    let token = token
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .or_else(|| core.token.lock().unwrap_or_else(|e| e.into_inner()).clone());
    Ok(crate::connection_test::test_connection(
        &server,
        token.as_deref(),
        std::time::Duration::from_secs(5),
    )
    .await)
}
