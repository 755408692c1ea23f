//! "Start at login" writes an XDG autostart entry that starts the app hidden
//! in the tray (`--hidden`), valid for desktop-file-validate; turning it off
//! removes the entry; the box in Settings (and in the first-run setup, which
//! saves through the same command) does both. Its own test binary: it points
//! XDG_CONFIG_HOME at a temporary directory for the whole process, so it holds
//! one test.

use std::path::Path;
use std::process::Command;

use pulseboard_app::settings::{Settings, SettingsDir};
use pulseboard_app::{build_app, AppCore, BuildOptions};
use pulseboard_core::cache::demo_state;
use pulseboard_core::Store;
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{WebviewUrl, WebviewWindowBuilder};

#[test]
fn start_at_login_starts_hidden_and_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    std::env::set_var("XDG_CONFIG_HOME", dir.path());
    let entry = dir.path().join("autostart/pulseboard.desktop");

    pulseboard_app::settings::set_autostart(true, Path::new("/usr/bin/pulseboard")).unwrap();
    let text = std::fs::read_to_string(&entry).unwrap();
    let exec = text
        .lines()
        .find(|l| l.starts_with("Exec="))
        .expect("an Exec line");
    assert!(exec.contains("/usr/bin/pulseboard"), "{exec}");
    assert!(
        exec.ends_with(" --hidden"),
        "starts in the tray only: {exec}"
    );
    // Desktops skip an entry that does not validate: checked, never skipped.
    assert!(
        pulseboard_e2e::have("desktop-file-validate"),
        "desktop-file-validate is missing: run scripts/test.sh, which installs it"
    );
    let out = Command::new("desktop-file-validate")
        .arg(&entry)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.stdout.is_empty(),
        "no warnings: {}",
        String::from_utf8_lossy(&out.stdout)
    );

    pulseboard_app::settings::set_autostart(false, Path::new("/usr/bin/pulseboard")).unwrap();
    assert!(!entry.exists(), "turned off: the entry is gone");
    // Turning off twice is fine.
    pulseboard_app::settings::set_autostart(false, Path::new("/usr/bin/pulseboard")).unwrap();

    // The user's way: the "Start at login" box, saved through the window's
    // `save_settings` command, makes the entry for this program (hidden)
    // and clearing the box removes it.
    let (_app, webview) = mock_app(&dir.path().join("pulseboard"));
    let save = |on: bool| {
        let body = json!({"settings": {"server": "http://127.0.0.1:4000", "dnd": "off",
                          "notifyThreshold": "warning", "startAtLogin": on}});
        invoke(&webview, "save_settings", body).unwrap()
    };
    let saved = save(true);
    assert_eq!(saved["startAtLogin"], true, "{saved}");
    let text = std::fs::read_to_string(&entry).expect("ticking the box writes the entry");
    let exe = std::env::current_exe().unwrap();
    assert!(
        text.lines()
            .any(|l| l == format!("Exec=\"{}\" --hidden", exe.display())),
        "this program, hidden: {text}"
    );
    save(false);
    assert!(!entry.exists(), "clearing the box removes the entry");
}

/// The app's commands on Tauri's mock runtime, settings saved under `dir`.
fn mock_app(
    dir: &Path,
) -> (
    tauri::App<tauri::test::MockRuntime>,
    tauri::WebviewWindow<tauri::test::MockRuntime>,
) {
    let store = Store::new(demo_state("http://127.0.0.1:4000", chrono::Utc::now()));
    let (tx, _commands) = tokio::sync::mpsc::unbounded_channel();
    let (_ui_tx, ui_rx) = tokio::sync::mpsc::unbounded_channel();
    let core = AppCore::new(
        store,
        tx,
        SettingsDir {
            dir: dir.to_path_buf(),
        },
        Settings::default(),
        None,
        pulseboard_app::render::decide(&Default::default()),
    );
    let opts = BuildOptions {
        tray: false,
        open_window: false,
    };
    let app = build_app(mock_builder(), core, ui_rx, opts)
        .build(mock_context(noop_assets()))
        .expect("app builds");
    let webview = WebviewWindowBuilder::new(&app, "main", WebviewUrl::default())
        .build()
        .unwrap();
    (app, webview)
}

fn invoke(
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
