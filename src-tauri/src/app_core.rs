//! [`AppCore`]: what the commands, the bridge and the tray share, managed by
//! Tauri. Its fields are private: the running settings, the token and the
//! alert policy's settings change only through [`AppCore::replace_settings`]
//! (called by [`crate::commands::apply_settings`]), so they never disagree.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use pulseboard_core::{Command, PolicySettings, Store};
use tokio::sync::{mpsc, watch};

use crate::render;
use crate::settings::{Settings, SettingsDir};

/// Everything the commands and the bridge share. Managed by Tauri.
pub struct AppCore {
    /// The state a user sees.
    store: Store,
    /// Commands to the connection supervisor.
    commands: mpsc::UnboundedSender<Command>,
    /// Where settings live.
    settings_dir: SettingsDir,
    /// Current settings.
    settings: Mutex<Settings>,
    /// Current token (never sent to the webview).
    token: Mutex<Option<String>>,
    /// Alert policy settings (DND, threshold) for the running alert task.
    policy: watch::Sender<PolicySettings>,
    /// Quit was chosen: let the app exit.
    quitting: AtomicBool,
    /// How the window is drawn (decided once at start).
    rendering: render::Decision,
}

impl AppCore {
    /// The shell's state over a running core: its `store`, the `commands` of
    /// its connection supervisor, the settings in use (as loaded from
    /// `settings_dir` and overridden by the command line), the token in use
    /// and the rendering path decided at start.
    pub fn new(
        store: Store,
        commands: mpsc::UnboundedSender<Command>,
        settings_dir: SettingsDir,
        settings: Settings,
        token: Option<String>,
        rendering: render::Decision,
    ) -> Self {
        AppCore {
            store,
            commands,
            settings_dir,
            policy: watch::channel(settings.policy()).0,
            settings: Mutex::new(settings),
            token: Mutex::new(token),
            quitting: AtomicBool::new(false),
            rendering,
        }
    }

    /// The core's store (what the window and the tray show).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Send a command to the supervisor (dropped once it has stopped).
    pub fn command(&self, c: Command) {
        let _ = self.commands.send(c);
    }

    /// Whether a critical alert is waiting to be acknowledged (the store's
    /// [`pulseboard_core::ClientState::unseen_critical`]).
    pub fn critical_unseen(&self) -> bool {
        self.store.read(|s| s.unseen_critical().is_some())
    }

    /// Current settings.
    pub fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The token in use (never for the webview).
    pub fn token(&self) -> Option<String> {
        self.token.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether a token is in use.
    pub fn has_token(&self) -> bool {
        self.token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Where settings and the token are saved.
    pub fn settings_dir(&self) -> &SettingsDir {
        &self.settings_dir
    }

    /// The alert policy's settings, following every change (for the alert
    /// task, [`pulseboard_core::spawn_alerts`]).
    pub fn policy_updates(&self) -> watch::Receiver<PolicySettings> {
        self.policy.subscribe()
    }

    /// How the window is drawn.
    pub fn rendering(&self) -> &render::Decision {
        &self.rendering
    }

    /// Quit was chosen (tray, signal): the next exit request ends the app
    /// instead of living on in the tray.
    pub fn set_quitting(&self) {
        self.quitting.store(true, Ordering::SeqCst);
    }

    /// Whether quit was chosen.
    pub fn is_quitting(&self) -> bool {
        self.quitting.load(Ordering::SeqCst)
    }

    /// Put `new` in place (and `token` when it is `Some`: `Some(None)`
    /// clears it), let the alert policy follow, and return the settings it
    /// replaced. Saves nothing and reconnects nothing: that is
    /// [`crate::commands::apply_settings`]'s, the one caller.
    pub(crate) fn replace_settings(
        &self,
        new: Settings,
        token: Option<Option<String>>,
    ) -> Settings {
        if let Some(t) = token {
            *self.token.lock().unwrap_or_else(|e| e.into_inner()) = t;
        }
        self.policy.send_replace(new.policy());
        std::mem::replace(
            &mut *self.settings.lock().unwrap_or_else(|e| e.into_inner()),
            new,
        )
    }
}
