//! Hello-world Tauri 2 app, the baseline for the desktop benchmark: one
//! window with a static page, or no window at all with `--hidden`.
//! (Nothing else: no tray, no commands, no IPC.) With `--tick MS` four
//! numbers on the page change every MS ms (dist/tick.js): the benchmark's
//! floor for redrawing changed numbers.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hidden = args.iter().any(|a| a == "--hidden");
    let tick: u64 = args
        .iter()
        .position(|a| a == "--tick")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    tauri::Builder::default()
        .setup(move |app| {
            if !hidden {
                tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::default())
                    .title("Hello")
                    .inner_size(1180.0, 800.0)
                    .initialization_script(format!("window.__HELLO_TICK_MS = {tick};"))
                    .build()?;
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("hello-tauri failed");
}
