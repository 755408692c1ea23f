fn main() {
    // Narrow ACL: the window may call exactly these commands (capabilities/).
    tauri_build::try_build(tauri_build::Attributes::new().app_manifest(
        tauri_build::AppManifest::new().commands(&[
            "get_state",
            "mark_read",
            "mark_all_read",
            "acknowledge_alerts",
            "diagnose_connection",
            "open_link",
            "reconnect",
            "get_settings",
            "save_settings",
            "setup_needed",
            "test_connection",
            "plain_http_warning",
            "kpi_history",
            "subscribe_updates",
        ]),
    ))
    .expect("tauri-build");
}
