//! The app on Tauri's mock runtime: its commands called as the webview calls
//! them, without a window system.

use std::path::Path;

use pulseboard_app::settings::{Settings, SettingsDir};
use pulseboard_app::{build_app, AppCore, BuildOptions};
use pulseboard_core::cache::demo_state;
use pulseboard_core::{Command, Store};
use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindowBuilder};
use tokio::sync::mpsc;

/// The app, its window, the commands it sends the core and its store.
pub struct MockApp {
    pub webview: tauri::WebviewWindow<tauri::test::MockRuntime>,
    pub commands: mpsc::UnboundedReceiver<Command>,
    pub store: Store,
    pub app: tauri::App<tauri::test::MockRuntime>,
}

/// The app on demo data, default settings saved under `settings_dir`, no
/// tray and no window opened by itself; its setup hook has run.
pub fn mock_app(settings_dir: &Path) -> MockApp {
    let store = Store::new(demo_state("http://127.0.0.1:4000", chrono::Utc::now()));
    let (tx, commands) = mpsc::unbounded_channel();
    let (_ui_tx, ui_rx) = mpsc::unbounded_channel();
    let core = AppCore::new(
        store.clone(),
        tx,
        SettingsDir {
            dir: settings_dir.to_path_buf(),
        },
        Settings::default(),
        None,
        pulseboard_app::render::decide(&Default::default()),
    );
    let opts = BuildOptions {
        tray: false,
        open_window: false,
    };
    let mut app = build_app(mock_builder(), core, ui_rx, opts)
        .build(mock_context(noop_assets()))
        .expect("app builds");
    // One turn of the event loop runs the setup hook (which starts the
    // bridge). Deprecated because looping on it busy-waits; one call does not.
    #[allow(deprecated)]
    app.run_iteration(|_, _| {});
    let webview = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
        .build()
        .unwrap();
    MockApp {
        webview,
        commands,
        store,
        app,
    }
}

/// Call the command `cmd` with `args` as the page does; its answer or error.
pub fn invoke(
    webview: &tauri::WebviewWindow<tauri::test::MockRuntime>,
    cmd: &str,
    args: Value,
) -> Result<Value, Value> {
    get_ipc_response(
        webview,
        InvokeRequest {
            cmd: cmd.into(),
            callback: CallbackFn(0),
            error: CallbackFn(1),
            url: "tauri://localhost".parse().unwrap(),
            body: InvokeBody::Json(args),
            headers: Default::default(),
            invoke_key: INVOKE_KEY.to_string(),
        },
    )
    .map(|b| b.deserialize::<Value>().unwrap())
}
