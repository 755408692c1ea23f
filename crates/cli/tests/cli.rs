//! The CLI binary against a real server on 127.0.0.1:0.

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{ChildStdout, Command};

const BIN: &str = env!("CARGO_BIN_EXE_pulseboard-cli");
const WAIT: Duration = Duration::from_secs(15);

async fn server(dir: &tempfile::TempDir, token: &str) -> pulseboard_server::ServerHandle {
    let mut c = pulseboard_server::Config::new(dir.path().join("s.db"));
    c.simulator = false;
    c.token = Some(token.to_string());
    pulseboard_server::spawn(c).await.unwrap()
}

/// Next JSON line whose "event" is `event`.
async fn next_event(lines: &mut Lines<BufReader<ChildStdout>>, event: &str) -> Value {
    let fut = async {
        loop {
            let l = lines
                .next_line()
                .await
                .unwrap()
                .expect("tail still running");
            let v: Value = serde_json::from_str(&l).expect("each line is JSON");
            if v["event"] == event {
                return v["data"].clone();
            }
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("no {event} line"))
}

async fn run(args: &[&str]) -> (bool, Value, String) {
    let out = Command::new(BIN)
        .args(args)
        .env_remove("PULSEBOARD_TOKEN")
        .output()
        .await
        .unwrap();
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.success(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn tail_prints_states_and_events_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let url = srv.url();
    let (ok, n, _) = run(&[
        "send",
        "--server",
        &url,
        "--token",
        "tok",
        "notification",
        "--title",
        "early",
        "--severity",
        "warning",
    ])
    .await;
    assert!(ok);
    assert_eq!(n["seq"], 1);

    let mut child = Command::new(BIN)
        .args([
            "tail",
            "--server",
            &url,
            "--token",
            "tok",
            "--transport",
            "polling",
        ])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let st = next_event(&mut lines, "state").await;
    assert_eq!(st["state"], "connecting");
    let caught_up = next_event(&mut lines, "notification:new").await;
    assert_eq!(
        caught_up["title"], "early",
        "catch-up printed as notification:new"
    );
    assert_eq!(next_event(&mut lines, "state").await["state"], "live");

    let (ok, a, _) = run(&[
        "send",
        "--server",
        &url,
        "--token",
        "tok",
        "alert",
        "--title",
        "Disk full",
        "--severity",
        "critical",
    ])
    .await;
    assert!(ok);
    let got = next_event(&mut lines, "alert:system").await;
    assert_eq!(got["id"], a["id"]);
    assert_eq!(got["severity"], "critical");

    let (ok, snap, _) = run(&["snapshot", "--server", &url, "--token", "tok"]).await;
    assert!(ok);
    assert_eq!(snap["unreadCount"], 1);
    child.kill().await.unwrap();
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn tail_with_wrong_token_prints_unauthorized_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let out = tokio::time::timeout(
        WAIT,
        Command::new(BIN)
            .args(["tail", "--server", &srv.url(), "--token", "nope"])
            .output(),
    )
    .await
    .expect("tail exits by itself")
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let last: Value =
        serde_json::from_str(String::from_utf8_lossy(&out.stdout).lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "state");
    assert_eq!(last["data"]["state"], "unauthorized");
    srv.stop().await.unwrap();
}

#[tokio::test]
async fn send_reports_refusals_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let srv = server(&dir, "tok").await;
    let (ok, _, err) = run(&[
        "send",
        "--server",
        &srv.url(),
        "--token",
        "bad",
        "alert",
        "--title",
        "x",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("401"), "{err}");
    let (ok, _, err) = run(&[
        "send",
        "--server",
        &srv.url(),
        "notification",
        "--title",
        "x",
        "--severity",
        "fatal",
    ])
    .await;
    assert!(!ok);
    assert!(err.contains("fatal"), "{err}");
    srv.stop().await.unwrap();
}
