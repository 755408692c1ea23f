//! "Start at login" writes an XDG autostart entry that starts the app hidden
//! in the tray (`--hidden`), valid for desktop-file-validate; turning it off
//! removes the entry; the box in Settings (and in the first-run setup, which
//! saves through the same command) does both. Its own test binary: it points
//! XDG_CONFIG_HOME at a temporary directory for the whole process, so it holds
//! one test.

use std::path::Path;
use std::process::Command;

use serde_json::json;

mod common;
use common::mock::{invoke, mock_app};

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
    let app = mock_app(&dir.path().join("pulseboard"));
    let save = |on: bool| {
        let body = json!({"settings": {"server": "http://127.0.0.1:4000", "dnd": "off",
                          "notifyThreshold": "warning", "startAtLogin": on}});
        invoke(&app.webview, "save_settings", body).unwrap()
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
