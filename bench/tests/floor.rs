//! The floor server (`pulseboard-floor-server`) answers the fan-out
//! benchmark's own clients: every client subscribes and receives every
//! broadcast (`pulseboard-bench server --target floor`, a small run).

use std::{
    process::{Command, Stdio},
    time::{Duration, Instant},
};

#[test]
fn floor_server_delivers_every_broadcast_to_the_benchmark_clients() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("floor.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pulseboard-bench"))
        .args(["server", "--target", "floor", "--floor-bin"])
        .arg(env!("CARGO_BIN_EXE_pulseboard-floor-server"))
        .args(["--clients", "20", "--rate", "50", "--broadcasts", "5"])
        .args(["--settle-ms", "100", "--drain-timeout-s", "30", "--out"])
        .arg(&out)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the benchmark did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "pulseboard-bench server failed: {status}");
    let text = std::fs::read_to_string(&out).unwrap();
    let r: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(r["target"], "floor");
    assert_eq!(r["connected"], 20, "every client subscribed: {r}");
    assert_eq!(r["connect_failed"], 0, "{r}");
    assert_eq!(r["broadcasts_sent"], 5, "every PUT accepted: {r}");
    assert_eq!(
        r["received"], 100,
        "every broadcast reached every client: {r}"
    );
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
}
