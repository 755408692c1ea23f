//! Hello-world Tauri 2 app, the baseline for the desktop benchmark: one
//! window with a static page, or no window at all with `--hidden`.
//! (Nothing else: no tray, no commands, no IPC.)

fn main() {
    let hidden = std::env::args().any(|a| a == "--hidden");
    tauri::Builder::default()
        .setup(move |app| {
            if !hidden {
                tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::default())
                    .title("Hello")
                    .inner_size(1180.0, 800.0)
                    .build()?;
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("hello-tauri failed");
}
