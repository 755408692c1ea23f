//! Hello-world Tauri 2 app, the baseline for the desktop benchmark: one
//! window with a static page, or no window at all with `--hidden`.
//! (Nothing else: no tray, no plugins.) Two ways to change four numbers on
//! the page, the benchmark's floors for redrawing changed numbers:
//!
//! - `--tick MS`: the page changes them every MS ms by itself (a JS timer,
//!   dist/tick.js; no IPC).
//! - `--ipc-tick MS [--payload finance|tiny|FILE]`: Rust sends one message
//!   every MS ms over a `tauri::ipc::Channel` the page gave it (the
//!   `subscribe` command, as Pulseboard's `subscribe_updates`), as
//!   `InvokeResponseBody::Json`; the page sets its four numbers from it
//!   (dist/ipc.js) and does nothing else. The default payload, `finance`, is
//!   Pulseboard's batch for one `PUT /api/kpis/finance` (fixtures/
//!   finance-batch.json, captured from the app), with new values each time;
//!   `tiny` is the four numbers alone (`[1, 2, 3, 4]`).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tauri::ipc::{Channel, InvokeResponseBody};

/// Pulseboard's update batch for one `PUT /api/kpis/finance` (one
/// `UiMessage::Module` with its view), as the app sent it to its page.
const FINANCE_BATCH: &str = include_str!("../fixtures/finance-batch.json");

/// The channel the page subscribed with.
#[derive(Default)]
struct Page(Mutex<Option<Channel>>);

/// The page gives the channel its numbers come over.
#[tauri::command]
fn subscribe(page: tauri::State<'_, Page>, channel: Channel) {
    *page.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(channel);
}

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// The payload `--payload` names: `finance` (the default), `tiny`, or a
/// JSON file.
fn payload(name: Option<&str>) -> Result<Value, String> {
    let text = match name.unwrap_or("finance") {
        "finance" => FINANCE_BATCH.to_string(),
        "tiny" => "[0, 0, 0, 0]".to_string(),
        file => std::fs::read_to_string(file).map_err(|e| format!("{file}: {e}"))?,
    };
    serde_json::from_str(&text).map_err(|e| format!("payload: {e}"))
}

/// The `n`th message: `base` with four new numbers. A batch gets them as its
/// first message's KPI values and the values its view adds to their
/// histories (as a real update does); an array of numbers is replaced.
/// Returns the JSON text sent, or None when `base` has neither shape.
fn message(base: &mut Value, n: u64) -> Option<String> {
    let value = |k: usize| 1_000_000.0 + ((n * 7919 * (k as u64 + 1)) % 100_000) as f64 / 100.0;
    match base {
        Value::Array(a) if a.iter().all(Value::is_number) => {
            for (k, v) in a.iter_mut().enumerate() {
                *v = value(k).into();
            }
        }
        Value::Array(a) => {
            let m = a.first_mut()?;
            let kpis = m.pointer_mut("/data/kpis")?.as_array_mut()?;
            let mut added = Vec::new();
            for (k, kpi) in kpis.iter_mut().enumerate() {
                kpi["value"] = value(k).into();
                added.push((kpi["key"].as_str()?.to_string(), value(k)));
            }
            if let Some(history) = m
                .pointer_mut("/view/history")
                .and_then(Value::as_object_mut)
            {
                for (key, v) in added {
                    history.insert(key, vec![v].into());
                }
            }
        }
        _ => return None,
    }
    serde_json::to_string(base).ok()
}

/// Send a message every `every` over the page's channel, once it gave one.
fn send_loop(app: tauri::AppHandle, mut base: Value, every: Duration) {
    use tauri::Manager;
    let mut next = Instant::now();
    for n in 0u64.. {
        next += every;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        let channel = app.state::<Page>().0.lock().ok().and_then(|c| c.clone());
        let (Some(channel), Some(json)) = (channel, message(&mut base, n)) else {
            continue;
        };
        if let Err(e) = channel.send(InvokeResponseBody::Json(json)) {
            eprintln!("hello-tauri: send: {e}");
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let hidden = args.iter().any(|a| a == "--hidden");
    let ms = |name| {
        arg(&args, name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0u64)
    };
    let (tick, ipc_tick) = (ms("--tick"), ms("--ipc-tick"));
    let base = match payload(arg(&args, "--payload")) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("hello-tauri: {e}");
            std::process::exit(2);
        }
    };
    tauri::Builder::default()
        .manage(Page::default())
        .invoke_handler(tauri::generate_handler![subscribe])
        .setup(move |app| {
            if !hidden {
                tauri::WebviewWindowBuilder::new(app, "main", tauri::WebviewUrl::default())
                    .title("Hello")
                    .inner_size(1180.0, 800.0)
                    .initialization_script(format!(
                        "window.__HELLO_TICK_MS = {tick}; window.__HELLO_IPC = {};",
                        ipc_tick > 0
                    ))
                    .build()?;
            }
            if ipc_tick > 0 {
                let app = app.handle().clone();
                std::thread::spawn(move || send_loop(app, base, Duration::from_millis(ipc_tick)));
            }
            Ok(())
        })
        .run(tauri::generate_context!())
        .expect("hello-tauri failed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_finance_fixture_gets_four_new_values_and_their_history() {
        let mut base = payload(None).unwrap();
        let before = serde_json::to_string(&base).unwrap();
        let a: Value = serde_json::from_str(&message(&mut base, 1).unwrap()).unwrap();
        let b: Value = serde_json::from_str(&message(&mut base, 2).unwrap()).unwrap();
        let values = |m: &Value| -> Vec<f64> {
            m[0]["data"]["kpis"]
                .as_array()
                .unwrap()
                .iter()
                .map(|k| k["value"].as_f64().unwrap())
                .collect()
        };
        assert_eq!(values(&a).len(), 4);
        assert_ne!(values(&a), values(&b), "each message has new numbers");
        for (kpi, v) in a[0]["data"]["kpis"]
            .as_array()
            .unwrap()
            .iter()
            .zip(values(&a))
        {
            let key = kpi["key"].as_str().unwrap();
            assert_eq!(a[0]["view"]["history"][key], serde_json::json!([v]));
        }
        // Same size as the captured batch, give or take the digits.
        let len = serde_json::to_string(&a).unwrap().len() as f64;
        assert!(
            (len / before.len() as f64 - 1.0).abs() < 0.1,
            "{len} vs {}",
            before.len()
        );
    }

    #[test]
    fn the_tiny_payload_is_the_four_numbers() {
        let mut base = payload(Some("tiny")).unwrap();
        let a: Vec<f64> = serde_json::from_str(&message(&mut base, 3).unwrap()).unwrap();
        assert_eq!(a.len(), 4);
        assert!(a.iter().all(|v| *v >= 1_000_000.0));
    }

    #[test]
    fn a_payload_of_another_shape_is_not_sent() {
        assert_eq!(message(&mut serde_json::json!({"a": 1}), 1), None);
        assert_eq!(message(&mut serde_json::json!([{"type": "x"}]), 1), None);
    }
}
