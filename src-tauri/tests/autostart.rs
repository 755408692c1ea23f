//! "Start at login" writes an XDG autostart entry that starts the app hidden
//! in the tray (`--hidden`), valid for desktop-file-validate; turning it off
//! removes the entry. Its own test binary: it points XDG_CONFIG_HOME at a
//! temporary directory for the whole process.

use std::path::Path;
use std::process::Command;

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
}
